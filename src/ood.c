/* ood.c: is an image of any of the model's classes at all? A tile's
   out-of-distribution score is, as the model's ood_score says, the squared
   Mahalanobis distance of its pooled features (GAP's output) to the nearest
   class mean under one covariance shared by the classes (Lee et al., "A simple
   unified framework for detecting out-of-distribution samples", NeurIPS 2018),
   both estimated from the training tiles; or the maximum softmax probability's
   complement, 1 - its top (calibrated) probability (Hendrycks & Gimpel, ICLR
   2017); or the Euclidean distance of its L2-normalised penultimate features
   (the last dense layer's input) to the k-th nearest of the training tiles'
   (Sun et al., "Out-of-distribution detection with deep nearest neighbors",
   ICML 2022). An image's score is the mean over the tiles that vote;
   an image scoring above the threshold, set on the validation images at a
   share of false rejections (ood_frr), is of none of the model's classes.

   mahalanobis_penultimate is the first on the penultimate features instead.
   knn_class_penultimate is kNN to the bank tiles of the class the image is
   called only: authentication asks "is it that line?", and an image of a line
   the model never saw lies nearer to some tiles of several lines than to those
   of the line it is called (leave-lines-out, azgcb30.md).
   image_class_penultimate scores the image, not its tiles: the mean of its
   tiles' normalised penultimate features, normalised, to the nearest of the
   training images' (each the same mean over its training tiles) of the class
   it is called. Averaging first keeps what an image's tiles share and drops
   what varies from tile to tile, which a mean of the tiles' distances keeps
   (leave-lines-out, base.md).

   Stored as tensors ood.means [nclasses, dim] and ood.precision [dim, dim]
   (the covariance's inverse), or ood.bank [nbank, P] (the normalised
   penultimate features of at most CS_OOD_BANK_CAP training tiles, evenly
   spaced; for the scores by class, spaced within each class, with
   ood.bank_class [nbank] their classes; for image_class_penultimate, a row a
   training image) beside the network's; metadata ood_score, ood_threshold,
   ood_frr, ood_k. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

void cs_ood_free(cs_ood *o) {
    free(o->means);
    free(o->precision);
    free(o->bank);
    free(o->bank_class);
    *o = (cs_ood){.threshold = NAN, .kind = o->kind, .k = o->k}; /* the score chosen stays */
}

const char *cs_ood_kind_name(cs_ood_kind kind) {
    switch (kind) {
    case CS_OOD_KIND_MSP: return CS_OOD_MSP;
    case CS_OOD_KIND_KNN: return CS_OOD_KNN;
    case CS_OOD_KIND_MAHALANOBIS_PENULTIMATE: return CS_OOD_MAHALANOBIS_PENULTIMATE;
    case CS_OOD_KIND_KNN_CLASS: return CS_OOD_KNN_CLASS;
    case CS_OOD_KIND_TRUST: return CS_OOD_TRUST;
    case CS_OOD_KIND_IMAGE_CLASS: return CS_OOD_IMAGE_CLASS;
    default: return CS_OOD_MAHALANOBIS;
    }
}

int cs_ood_reads_bank(cs_ood_kind kind) { return kind == CS_OOD_KIND_KNN || cs_ood_by_class(kind); }

int cs_ood_by_class(cs_ood_kind kind) {
    return kind == CS_OOD_KIND_KNN_CLASS || kind == CS_OOD_KIND_TRUST || kind == CS_OOD_KIND_IMAGE_CLASS;
}

int cs_ood_by_image(cs_ood_kind kind) { return kind == CS_OOD_KIND_IMAGE_CLASS; }

/* The nearest bank row whose distance a score reads: the nearest image for
   the score by image, else ood_k. */
static int neighbour(const cs_ood *o) { return cs_ood_by_image(o->kind) ? 1 : o->k; }

int cs_ood_reads_means(cs_ood_kind kind) {
    return kind == CS_OOD_KIND_MAHALANOBIS || kind == CS_OOD_KIND_MAHALANOBIS_PENULTIMATE;
}

float cs_ood_msp(const float *p, int K) {
    float top = 0;
    for (int k = 0; k < K; k++) top = fmaxf(top, p[k]);
    return 1 - top;
}

int cs_ood_dim(const cs_net *net) {
    int head = cs_net_head(net);
    return head > 0 && (net->layers[head - 1].kind == CS_GAP || net->layers[head - 1].kind == CS_FGAP)
               ? net->layers[head - 1].oc : 0;
}

int cs_ood_penultimate(const cs_net *net, int *width) {
    int last = -1;
    for (int l = 0; l < net->nlayers; l++)
        if (net->layers[l].kind == CS_DENSE) last = l;
    *width = last >= 0 && last >= cs_net_head(net) ? net->layers[last].c : 0;
    return last;
}

int cs_ood_layer(const cs_model *m, int *width) {
    if (cs_ood_reads_bank(m->ood.kind) || m->ood.kind == CS_OOD_KIND_MAHALANOBIS_PENULTIMATE)
        return cs_ood_penultimate(&m->net, width);
    *width = cs_ood_dim(&m->net);
    return cs_net_head(&m->net);
}

int cs_ood_ready(const cs_model *m) {
    const cs_ood *o = &m->ood;
    int P;
    if (o->kind == CS_OOD_KIND_MSP) return 1;
    cs_ood_layer(m, &P);
    if (cs_ood_reads_means(o->kind)) return o->means && o->dim == P;
    return o->bank && o->bank_dim == P && neighbour(o) >= 1 && neighbour(o) <= o->nbank &&
           (!cs_ood_by_class(o->kind) || o->bank_class);
}

void cs_ood_normalise(float *f, int D) {
    double s = 1e-12;
    for (int i = 0; i < D; i++) s += (double)f[i] * f[i];
    for (int i = 0; i < D; i++) f[i] = (float)(f[i] / sqrt(s));
}

/* sum [W] += tile t's features normalised. */
static void add_normalised(double *sum, const float *features, int t, int W) {
    float f[CS_MAX_OOD_DIM];
    memcpy(f, features + (size_t)t * W, sizeof(float) * W);
    cs_ood_normalise(f, W);
    for (int i = 0; i < W; i++) sum[i] += f[i];
}

static void normalised_sum(const double *sum, int W, float *u) {
    for (int i = 0; i < W; i++) u[i] = (float)sum[i];
    cs_ood_normalise(u, W);
}

void cs_ood_image_mean(const float *features, const cs_result *res, int W, float *u) {
    double sum[CS_MAX_OOD_DIM] = {0};
    for (int t = 0; t < res->ntiles; t++)
        if (cs_tile_votes(res, t)) add_normalised(sum, features, t, W);
    normalised_sum(sum, W, u);
}

float cs_ood_threshold(const cs_ood *o, int tiles) {
    int n = o->nsmall;
    if (n == 0 || tiles >= o->small_tiles[n - 1]) return o->threshold;
    if (tiles <= o->small_tiles[0]) return o->small_threshold[0];
    int i = 1;
    while (o->small_tiles[i] < tiles) i++;
    /* linear in log(tiles) between the counts either side: the mean's spread goes as 1 / sqrt(tiles) */
    double a = log(o->small_tiles[i - 1]), b = log(o->small_tiles[i]), w = (log(tiles) - a) / (b - a);
    return (float)(o->small_threshold[i - 1] + w * (o->small_threshold[i] - o->small_threshold[i - 1]));
}

/* heap [0, n) with its largest at 0, after heap[at] became smaller. */
static void sift_down(float *heap, int n, int at) {
    for (int c; (c = 2 * at + 1) < n; at = c) {
        if (c + 1 < n && heap[c + 1] > heap[c]) c++;
        if (heap[at] >= heap[c]) return;
        float t = heap[at];
        heap[at] = heap[c], heap[c] = t;
    }
}

/* The k nearest so far in a max-heap: O(n log k), no sort of all n. */
float cs_ood_knn(const float *bank, const float *cls, int c, int n, int D, int k, const float *f) {
    float u[CS_MAX_OOD_DIM], heap[CS_MAX_OOD_K];
    if (n < 1 || D < 1 || D > CS_MAX_OOD_DIM) return NAN;
    k = k < 1 ? 1 : k > n ? n : k > CS_MAX_OOD_K ? CS_MAX_OOD_K : k;
    memcpy(u, f, sizeof(float) * D);
    cs_ood_normalise(u, D);
    int h = 0;
    for (int b = 0; b < n; b++) {
        if (cls && (int)cls[b] != c) continue;
        const float *row = bank + (size_t)b * D;
        double d = 0;
        for (int i = 0; i < D; i++) d += (u[i] - row[i]) * (u[i] - row[i]);
        if (h < k) { /* sift up */
            int at = h++;
            for (; at > 0 && heap[(at - 1) / 2] < (float)d; at = (at - 1) / 2) heap[at] = heap[(at - 1) / 2];
            heap[at] = (float)d;
        } else if ((float)d < heap[0]) {
            heap[0] = (float)d;
            sift_down(heap, k, 0);
        }
    }
    return h ? sqrtf(heap[0]) : NAN; /* a class of fewer than k tiles: its farthest */
}

cs_status cs_ood_knn_bank(cs_ood *o, const float *feat, const int *labels, int K, int n, int P, int cap,
                          cs_error *err) {
    int k = neighbour(o);
    if (n < k)
        return cs_fail(err, CS_EINPUT, "%s needs at least ood_k (%d) training tiles with cells on them; there are %d",
                       cs_ood_kind_name(o->kind), k, n);
    int keep = n < cap ? n : cap < k ? k : cap, nrows = 0;
    int *rows = malloc(sizeof(int) * (size_t)n), *mine = malloc(sizeof(int) * (size_t)n);
    if (!rows || !mine) {
        free(rows), free(mine);
        return cs_fail(err, CS_ENOMEM, "out of memory for a bank of %d tiles", keep);
    }
    /* Tile floor(b n / keep): the same tiles every time; by class, the same
       within each class's, as many as its share and at least k of them. */
    for (int c = 0; c < (labels ? K : 1); c++) {
        int nc = 0;
        for (int i = 0; i < n; i++)
            if (!labels || labels[i] == c) mine[nc++] = i;
        if (nc == 0) {
            free(rows), free(mine);
            return cs_fail(err, CS_EINPUT, "%s needs training %s of every class; class %d has none",
                           cs_ood_kind_name(o->kind), cs_ood_by_image(o->kind) ? "images" : "tiles", c);
        }
        int kc = !labels ? keep : keep == n ? nc : (int)((long long)keep * nc / n);
        if (labels && kc < k) kc = nc < k ? nc : k;
        for (int b = 0; b < kc; b++) rows[nrows++] = mine[(long long)b * nc / kc];
    }
    float *bank = malloc(sizeof(float) * (size_t)nrows * P);
    float *cls = labels ? malloc(sizeof(float) * (size_t)nrows) : NULL;
    if (!bank || (labels && !cls)) {
        free(rows), free(mine), free(bank), free(cls);
        return cs_fail(err, CS_ENOMEM, "out of memory for a bank of %d tiles", nrows);
    }
    for (int b = 0; b < nrows; b++) {
        memcpy(bank + (size_t)b * P, feat + (size_t)rows[b] * P, sizeof(float) * P);
        cs_ood_normalise(bank + (size_t)b * P, P);
        if (cls) cls[b] = (float)labels[rows[b]];
    }
    free(rows), free(mine);
    cs_ood_free(o);
    o->bank = bank, o->bank_class = cls, o->nbank = nrows, o->bank_dim = P;
    return CS_OK;
}

/* The squared Mahalanobis distance of features f to the nearest class mean. */
static float mahalanobis(const cs_model *m, const float *f) {
    const cs_ood *o = &m->ood;
    int D = o->dim;
    double best = INFINITY, d[CS_MAX_OOD_DIM];
    for (int c = 0; c < m->net.nclasses; c++) {
        const float *mu = o->means + (size_t)c * D;
        for (int i = 0; i < D; i++) d[i] = f[i] - mu[i];
        double s = 0;
        for (int i = 0; i < D; i++) {
            const float *row = o->precision + (size_t)i * D;
            double r = 0;
            for (int j = 0; j < D; j++) r += row[j] * d[j];
            s += d[i] * r;
        }
        if (s < best) best = s;
    }
    return (float)best;
}

/* The k-th nearest bank tile of class c's distance over the nearest other
   class's: each tile's distance is computed once, in the pass of its class. */
static float trust(const cs_model *m, const float *f, int c) {
    const cs_ood *o = &m->ood;
    float own = NAN, other = INFINITY;
    for (int k = 0; k < m->net.nclasses; k++) {
        float d = cs_ood_knn(o->bank, o->bank_class, k, o->nbank, o->bank_dim, o->k, f);
        if (k == c) own = d;
        else other = fminf(other, d); /* NaN (a class without tiles) is passed over */
    }
    return own / fmaxf(other, 1e-6f);
}

float cs_ood_tile_score(const cs_model *m, const float *f, int c) {
    const cs_ood *o = &m->ood;
    if (o->kind == CS_OOD_KIND_KNN_CLASS || cs_ood_by_image(o->kind))
        return cs_ood_knn(o->bank, o->bank_class, c, o->nbank, o->bank_dim, neighbour(o), f);
    if (o->kind == CS_OOD_KIND_TRUST) return trust(m, f, c);
    return o->kind == CS_OOD_KIND_KNN ? cs_ood_knn(o->bank, NULL, 0, o->nbank, o->bank_dim, o->k, f) : mahalanobis(m, f);
}

/* a [n][n] (symmetric positive definite) becomes its inverse, through its
   Cholesky factor; 0 if it is not positive definite. */
static int invert_spd(double *a, int n) {
    double *L = calloc((size_t)n * n, sizeof *L), *inv = calloc((size_t)n * n, sizeof *inv);
    int ok = L && inv;
    for (int j = 0; ok && j < n; j++) {
        double s = a[(size_t)j * n + j];
        for (int k = 0; k < j; k++) s -= L[(size_t)j * n + k] * L[(size_t)j * n + k];
        if (!(s > 0)) ok = 0;
        else L[(size_t)j * n + j] = sqrt(s);
        for (int i = j + 1; ok && i < n; i++) {
            double t = a[(size_t)i * n + j];
            for (int k = 0; k < j; k++) t -= L[(size_t)i * n + k] * L[(size_t)j * n + k];
            L[(size_t)i * n + j] = t / L[(size_t)j * n + j];
        }
    }
    /* inv = L^-T L^-1, a column of the identity at a time. */
    double *y = ok ? calloc((size_t)n, sizeof *y) : NULL;
    ok = ok && y;
    for (int c = 0; ok && c < n; c++) {
        for (int i = 0; i < n; i++) { /* L y = e_c */
            double t = i == c;
            for (int k = 0; k < i; k++) t -= L[(size_t)i * n + k] * y[k];
            y[i] = t / L[(size_t)i * n + i];
        }
        for (int i = n - 1; i >= 0; i--) { /* L^T x = y */
            double t = y[i];
            for (int k = i + 1; k < n; k++) t -= L[(size_t)k * n + i] * inv[(size_t)k * n + c];
            inv[(size_t)i * n + c] = t / L[(size_t)i * n + i];
        }
    }
    if (ok) memcpy(a, inv, sizeof *a * (size_t)n * n);
    free(L);
    free(inv);
    free(y);
    return ok;
}

cs_status cs_ood_estimate(cs_ood *o, const float *feat, const int *labels, int n, int K, int D,
                           cs_error *err) {
    double *mean = calloc((size_t)K * D, sizeof *mean), *cov = calloc((size_t)D * D, sizeof *cov);
    int *count = calloc((size_t)K, sizeof *count);
    cs_status st = CS_OK;
    if (!mean || !cov || !count) st = cs_fail(err, CS_ENOMEM, "out of memory for feature statistics");
    for (int t = 0; !st && t < n; t++) {
        count[labels[t]]++;
        for (int i = 0; i < D; i++) mean[(size_t)labels[t] * D + i] += feat[(size_t)t * D + i];
    }
    for (int c = 0; !st && c < K; c++) {
        if (!count[c]) st = cs_fail(err, CS_EINPUT, "class %d has no training tile with cells on it", c);
        for (int i = 0; !st && i < D; i++) mean[(size_t)c * D + i] /= count[c];
    }
    for (int t = 0; !st && t < n; t++) {
        double d[CS_MAX_OOD_DIM];
        for (int i = 0; i < D; i++) d[i] = feat[(size_t)t * D + i] - mean[(size_t)labels[t] * D + i];
        for (int i = 0; i < D; i++)
            for (int j = 0; j <= i; j++) cov[(size_t)i * D + j] += d[i] * d[j];
    }
    /* Shrunk towards its mean variance: channels ReLU left dead have none. */
    double trace = 0;
    for (int i = 0; i < D; i++) trace += cov[(size_t)i * D + i] / n;
    for (int i = 0; !st && i < D; i++)
        for (int j = 0; j <= i; j++) {
            double v = cov[(size_t)i * D + j] / n * (1 - CS_OOD_SHRINK) + (i == j) * CS_OOD_SHRINK * (trace / D + 1e-12);
            cov[(size_t)i * D + j] = cov[(size_t)j * D + i] = v;
        }
    if (!st && !invert_spd(cov, D)) st = cs_fail(err, CS_EINPUT, "the training features' covariance cannot be inverted");
    float *means = st ? NULL : malloc(sizeof(float) * K * D), *prec = st ? NULL : malloc(sizeof(float) * D * D);
    if (!st && (!means || !prec)) st = cs_fail(err, CS_ENOMEM, "out of memory for feature statistics");
    if (!st) {
        for (size_t i = 0; i < (size_t)K * D; i++) means[i] = (float)mean[i];
        for (size_t i = 0; i < (size_t)D * D; i++) prec[i] = (float)cov[i];
        cs_ood_free(o);
        o->dim = D, o->means = means, o->precision = prec;
    } else {
        free(means);
        free(prec);
    }
    free(mean);
    free(cov);
    free(count);
    return st;
}

/* m as the passes that score need it: a tile's features are those of the tile
   as it is (view 0), so the bank's pass needs no test-time averaging (the
   other 7 views would be computed for nothing); an image's score reads its
   tiles' probabilities (msp) or the class it is called (cs_ood_by_class)
   as predict gives them, with the model's averaging. A shallow copy:
   classifying only reads the model. */
static cs_model scoring_view(const cs_model *m, int image_scores) {
    cs_model view = *m;
    int by_prediction = m->ood.kind == CS_OOD_KIND_MSP || cs_ood_by_class(m->ood.kind);
    view.tta = m->tta && image_scores && by_prediction;
    return view;
}

/* The features m's score reads of every image of ds, *n rows: each voting
   tile's, or for the score by image each image's mean (cs_ood_image_mean);
   *tiles: the tiles they are of. */
static cs_status features_of(const cs_model *m, const cs_dataset *ds, int D, float **feat, int **labels,
                             int *n, int *tiles, cs_error *err) {
    int cap = 0, by_image = cs_ood_by_image(m->ood.kind);
    cs_model view = scoring_view(m, 0);
    *feat = NULL, *labels = NULL, *n = 0, *tiles = 0;
    for (int i = 0; i < ds->n; i++) {
        cs_result res;
        float *f = NULL;
        cs_status st = cs_classify_features(&view, &ds->images[i], -1, &res, &f, err);
        if (st) return st;
        *tiles += cs_voting_tiles(&res);
        if (*n + res.ntiles > cap) {
            cap = 2 * (*n + res.ntiles);
            float *g = realloc(*feat, sizeof(float) * D * cap);
            int *l = realloc(*labels, sizeof(int) * cap);
            if (g) *feat = g;
            if (l) *labels = l;
            if (!g || !l) st = cs_fail(err, CS_ENOMEM, "out of memory for tile features");
        }
        if (!st && by_image) {
            cs_ood_image_mean(f, &res, D, *feat + (size_t)*n * D);
            (*labels)[(*n)++] = ds->labels[i];
        }
        for (int t = 0; !st && !by_image && t < res.ntiles; t++)
            if (cs_tile_votes(&res, t)) {
                memcpy(*feat + (size_t)*n * D, f + (size_t)t * D, sizeof(float) * D);
                (*labels)[(*n)++] = ds->labels[i];
            }
        free(f);
        cs_result_free(&res);
        if (st) return st;
    }
    return CS_OK;
}

static int by_value(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

static int by_count(const void *a, const void *b) {
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

/* The (1 - frr) quantile of n scores (sorted in place), linearly interpolated. */
static float quantile(float *s, int n, float frr) {
    qsort(s, n, sizeof *s, by_value);
    double at = (1 - frr) * (n - 1);
    int lo = (int)floor(at), hi = lo + 1 < n ? lo + 1 : lo;
    return (float)(s[lo] + (at - lo) * (s[hi] - s[lo]));
}

/* The score by image of images with few voting tiles: the mean of fewer
   tiles' features strays further from the training images' means, so one
   threshold for all would call a small image of a known line unknown far
   more often than frr says (azgcb30.md, "Images of few tiles"). Each
   validation image scores SMALL_DRAWS random subsets of n of its voting tiles
   for n = 1, 2, 4, ... below its count (SMALL_LEVELS counts at most: the
   last entry is the images' own count), and each n gets the same quantile. */
#define SMALL_DRAWS 16
#define SMALL_LEVELS (CS_OOD_SMALL_MAX - 1)

/* The validation image's subset scores (SMALL_DRAWS a count, counts 1, 2,
   4, ... below its voting tiles) appended to small[level]. */
static cs_status subset_scores(const cs_model *m, const cs_result *res, const float *f, int W, cs_rng *rng,
                               float **small, int *nsmall, cs_error *err) {
    int *votes = malloc(sizeof(int) * (res->ntiles + 1)), nv = 0, K = m->net.nclasses;
    float *probs = malloc(sizeof(float) * K);
    if (!votes || !probs) {
        free(votes), free(probs);
        return cs_fail(err, CS_ENOMEM, "out of memory for image scores");
    }
    for (int t = 0; t < res->ntiles; t++)
        if (cs_tile_votes(res, t)) votes[nv++] = t;
    for (int level = 0, n = 1; level < SMALL_LEVELS && n < nv; level++, n *= 2)
        for (int d = 0; d < SMALL_DRAWS; d++) {
            double sum[CS_MAX_OOD_DIM] = {0};
            for (int c = 0; c < K; c++) probs[c] = 0;
            for (int j = 0; j < n; j++) { /* a partial Fisher-Yates shuffle picks n */
                int k = j + cs_rng_below(rng, nv - j), t = votes[k];
                votes[k] = votes[j], votes[j] = t;
                add_normalised(sum, f, t, W);
                for (int c = 0; c < K; c++) probs[c] += res->tile_probs[(size_t)t * K + c] / n;
            }
            float u[CS_MAX_OOD_DIM];
            normalised_sum(sum, W, u);
            /* scored against the class these tiles alone would be called, as a small image is */
            small[level][nsmall[level]++] = cs_ood_tile_score(m, u, cs_model_decide(m, probs));
        }
    free(votes);
    free(probs);
    return CS_OK;
}

/* The threshold: the (1 - frr) quantile of the validation images' scores; for
   the score by image, also those of images of fewer tiles (o->small_*). */
static cs_status threshold_on(const cs_model *m, const cs_dataset *val, float frr, cs_ood *o, cs_error *err) {
    int by_image = cs_ood_by_image(m->ood.kind), W, nsmall[SMALL_LEVELS] = {0};
    cs_ood_layer(m, &W);
    float *s = malloc(sizeof(float) * (val->n + 1)), *small[SMALL_LEVELS] = {0};
    int *tiles = malloc(sizeof(int) * (val->n + 1));
    cs_status st = s && tiles ? CS_OK : cs_fail(err, CS_ENOMEM, "out of memory for image scores");
    for (int l = 0; by_image && l < SMALL_LEVELS && !st; l++)
        if (!(small[l] = malloc(sizeof(float) * SMALL_DRAWS * (val->n + 1))))
            st = cs_fail(err, CS_ENOMEM, "out of memory for image scores");
    cs_model view = scoring_view(m, 1);
    cs_rng rng;
    cs_rng_seed(&rng, 1);
    for (int i = 0; i < val->n && !st; i++) {
        cs_result res;
        float *f = NULL; /* the tiles' features, for the subsets of the score by image */
        st = by_image ? cs_classify_features(&view, &val->images[i], -1, &res, &f, err)
                      : cs_classify(&view, &val->images[i], -1, &res, NULL, NULL, err);
        if (!st) {
            s[i] = res.ood_score;
            tiles[i] = cs_voting_tiles(&res);
            if (by_image) st = subset_scores(m, &res, f, W, &rng, small, nsmall, err);
        }
        free(f);
        cs_result_free(&res);
    }
    if (!st) {
        o->threshold = quantile(s, val->n, frr);
        qsort(tiles, val->n, sizeof *tiles, by_count);
        int full = tiles[val->n / 2]; /* the validation images' own count (median) */
        /* Counts most validation images have more tiles than, then their own. */
        for (int l = 0, n = 1; by_image && l < SMALL_LEVELS && n < full &&
                               nsmall[l] * 2 >= SMALL_DRAWS * val->n; l++, n *= 2) {
            o->small_tiles[o->nsmall] = n;
            o->small_threshold[o->nsmall++] = quantile(small[l], nsmall[l], frr);
        }
        if (o->nsmall) {
            o->small_tiles[o->nsmall] = full;
            o->small_threshold[o->nsmall++] = o->threshold;
        }
        for (int i = o->nsmall - 2; i >= 0; i--) /* fewer tiles never a lower threshold */
            if (o->small_threshold[i] < o->small_threshold[i + 1]) o->small_threshold[i] = o->small_threshold[i + 1];
    }
    free(s);
    free(tiles);
    for (int l = 0; l < SMALL_LEVELS; l++) free(small[l]);
    return st;
}

/* What the bank is, in the metadata: its k and how many tiles it kept, or for
   the score by image how many images (nothing for another score: a bank's
   keys from before go). */
static cs_status record_bank(cs_model *m, cs_error *err) {
    int bank = cs_ood_reads_bank(m->ood.kind), by_image = cs_ood_by_image(m->ood.kind);
    cs_model_unset(m, CS_META_OOD_K);
    cs_model_unset(m, "ood_bank_tiles");
    cs_model_unset(m, "ood_bank_images");
    if (!bank) return CS_OK;
    char v[32];
    snprintf(v, sizeof v, "%d", m->ood.k);
    cs_status st = by_image ? CS_OK : cs_model_set(m, CS_META_OOD_K, v, err);
    snprintf(v, sizeof v, "%d", m->ood.nbank);
    return st ? st : cs_model_set(m, by_image ? "ood_bank_images" : "ood_bank_tiles", v, err);
}

cs_status cs_ood_fit(cs_model *m, const cs_dataset *train, const cs_dataset *val, float frr, cs_error *err) {
    int D, kind = m->ood.kind, msp = kind == CS_OOD_KIND_MSP;
    cs_ood_layer(m, &D);
    if (!msp && (D < 1 || D > CS_MAX_OOD_DIM)) return CS_OK; /* no features to go by */
    if (!(frr > 0 && frr < 1)) return cs_fail(err, CS_EINPUT, "a false-rejection rate of %g is not between 0 and 1", frr);
    cs_ood_free(&m->ood); /* the statistics of other weights */
    float *feat = NULL;
    int *labels = NULL, n = 0, tiles = 0;
    cs_status st = msp ? CS_OK : features_of(m, train, D, &feat, &labels, &n, &tiles, err);
    if (!st && cs_ood_reads_means(kind)) st = cs_ood_estimate(&m->ood, feat, labels, n, m->net.nclasses, D, err);
    if (!st && cs_ood_reads_bank(kind))
        st = cs_ood_knn_bank(&m->ood, feat, cs_ood_by_class(kind) ? labels : NULL, m->net.nclasses, n, D,
                             CS_OOD_BANK_CAP, err);
    free(feat);
    free(labels);
    if (!st && val && val->n) st = threshold_on(m, val, frr, &m->ood, err);
    float th = m->ood.threshold;
    char v[32 + CS_OOD_SMALL_MAX * 24];
    if (!st) st = cs_model_set(m, CS_META_OOD_SCORE, cs_ood_kind_name(kind), err);
    snprintf(v, sizeof v, "%g", frr);
    if (!st) st = cs_model_set(m, CS_META_OOD_FRR, v, err);
    snprintf(v, sizeof v, isnan(th) ? "none" : "%.6g", th);
    if (!st) st = cs_model_set(m, CS_META_OOD_THRESHOLD, v, err);
    snprintf(v, sizeof v, "%d", tiles);
    if (!st) st = cs_model_set(m, "ood_tiles", v, err);
    if (!st) st = record_bank(m, err);
    cs_model_unset(m, CS_META_OOD_THRESHOLDS_BY_TILES);
    if (!st && m->ood.nsmall) {
        size_t at = 0;
        for (int i = 0; i < m->ood.nsmall; i++)
            at += snprintf(v + at, sizeof v - at, "%s%d:%.6g", i ? "," : "", m->ood.small_tiles[i],
                           m->ood.small_threshold[i]);
        st = cs_model_set(m, CS_META_OOD_THRESHOLDS_BY_TILES, v, err);
    }
    if (st) cs_ood_free(&m->ood);
    return st;
}

const char *cs_known_text(int known) { return known > 0 ? "yes" : known == 0 ? "no" : ""; }

const char *cs_verdict(const cs_model *m, int predicted, int known, const char *expected) {
    if (known == 0) return CS_VERDICT_UNKNOWN;
    return !strcmp(m->classes[predicted], expected) ? CS_VERDICT_CONSISTENT : CS_VERDICT_INCONSISTENT;
}
