/* ood_candidates.c: which out-of-distribution score tells images of lines a
   model has never seen from images of its own? For tools/train_models
   ood_binary and ood_lines (issue 14's comparison), not a test: it prints
   figures.

   Usage: ood_candidates MODEL DATA [--k K] [--bank-cap N] [--bands]
   DATA holds one folder per line. The model's own lines are split as its
   metadata val_split says: the part it trained on gives the statistics
   (class means and shared covariance of the pooled features, as cs_ood_fit
   computes them; the training tiles' features for kNN), the part it validated
   on is "known". Every image of every other line is "unknown". Per tile, of the
   tile as it is (no test-time averaging): MSP (1 - the top calibrated
   probability), energy (-logsumexp of the logits), Mahalanobis (cs_ood_tile_score)
   and kNN (the distance of the normalised features to the K-th nearest training
   tile's, K 10 by default; Sun et al. 2022), and the last two again on the
   penultimate features (the last dense layer's input) in place of the pooled
   ones, with their own statistics; knn_penultimate as the library scores it
   (cs_ood_knn_bank, cs_ood_tile_score), from a bank of at most N training
   tiles (CS_OOD_BANK_CAP by default; 0: all of them); knn_class_penultimate
   as the library scores it, the same distance to the K-th nearest of the bank
   tiles of the class the image is called (at most N, spaced within each class);
   trust_penultimate as the library scores it, that distance over the same to
   the nearest other class's bank tiles (the inverse of Jiang et al.'s trust
   score); knn_class_scaled, knn_class_penultimate over the called class's
   spread in the bank (class_spread), a try. An image scores the mean over its foreground tiles; image_msp is 1 -
   the image's own top probability (its tiles' mean); image_class_penultimate
   as the library scores it, the image's mean penultimate features
   (cs_ood_image_mean) to the nearest training image's of the class it is called. Prints, per candidate: ROC AUC of unknown against known
   images, and the share of unknown images above the threshold that 5% of the
   known ones exceed (--bands: of the same band of the unknown images as the
   known ones', so that both are scored over as many tiles from the same part of
   the field), and what the known images lose: those classified right
   that the threshold flags; then one line per image (known/unknown, line,
   predicted class, scores). */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "metrics.h"

enum { MSP, ENERGY, MAHALANOBIS, KNN, MAHALANOBIS_PENULT, KNN_PENULT, KNN_CLASS_PENULT, TRUST_PENULT, IMAGE_MSP,
       KNN_CLASS_SCALED, IMAGE_CLASS_PENULT, NCAND };
static const char *const cand_name[NCAND] = {"msp", "energy", "mahalanobis", "knn", "mahalanobis_penultimate",
                                             "knn_penultimate", "knn_class_penultimate", "trust_penultimate",
                                             "image_msp", "knn_class_scaled", "image_class_penultimate"};

typedef struct {
    const cs_model *m;
    cs_model pen;      /* m with the penultimate features' statistics as its ood */
    cs_model knn;      /* m scoring knn_penultimate, with its bank */
    cs_model kclass;   /* m scoring knn_class_penultimate, with its bank */
    cs_model trust;    /* m scoring trust_penultimate, with the same bank */
    cs_model image;    /* m scoring image_class_penultimate, with a bank of its own */
    cs_workspace *ws;
    int last, P;       /* the last dense layer; its input's size */
    float *bank;       /* [nbank][D] normalised training features */
    float *pbank;      /* [nbank][P] the same tiles' penultimate features, as they are */
    int *labels;       /* [nbank] their classes */
    float *ibank;      /* [nimages][P] each training image's mean penultimate features (cs_ood_image_mean) */
    int *ilabels, nimages;
    int nbank, k;
    float scale[CS_MAX_CLASSES]; /* each class's spread in the bank (class_spread) */
} scorer;

static int by_value(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* scale[c]: the median over class c's bank tiles of the distance to their
   k-th nearest other tile of the class (k + 1 counts the tile itself), so
   that a tight class's and a diffuse class's distances are put on one scale. */
static void class_spread(const cs_ood *o, int K, float *scale) {
    float *d = malloc(sizeof(float) * o->nbank);
    for (int c = 0; c < K; c++) {
        int nd = 0;
        for (int b = 0; b < o->nbank; b++)
            if ((int)o->bank_class[b] == c)
                d[nd++] = cs_ood_knn(o->bank, o->bank_class, c, o->nbank, o->bank_dim, o->k + 1,
                                     o->bank + (size_t)b * o->bank_dim);
        qsort(d, nd, sizeof(float), by_value);
        scale[c] = nd ? d[nd / 2] : NAN;
    }
    free(d);
}

/* The scores of one tile from its pooled features f and its probabilities p;
   c: the class its image is called. */
static void tile_scores(scorer *s, const float *f, const float *p, int c, float out[NCAND]) {
    const cs_model *m = s->m;
    int D = m->ood.dim, K = m->net.nclasses, head = cs_net_head(&m->net);
    out[MSP] = cs_ood_msp(p, K);
    float probs[CS_MAX_CLASSES];
    cs_net_forward(&m->net, s->ws, head, f, 1, 0, NULL, probs);
    const float *z = cs_net_activation(s->ws, m->net.nlayers);
    double mx = K == 2 ? fmax(0, z[0]) : -INFINITY, sum = 0;
    if (K == 2) sum = exp(-mx) + exp(z[0] - mx);
    else {
        for (int k = 0; k < K; k++) mx = fmax(mx, z[k]);
        for (int k = 0; k < K; k++) sum += exp(z[k] - mx);
    }
    out[ENERGY] = (float)-(mx + log(sum));
    out[MAHALANOBIS] = cs_ood_tile_score(m, f, c);
    out[KNN] = cs_ood_knn(s->bank, NULL, 0, s->nbank, D, s->k, f);
    const float *pf = cs_net_activation(s->ws, s->last);
    out[MAHALANOBIS_PENULT] = cs_ood_tile_score(&s->pen, pf, c);
    out[KNN_PENULT] = cs_ood_tile_score(&s->knn, pf, c);
    out[KNN_CLASS_PENULT] = cs_ood_tile_score(&s->kclass, pf, c);
    out[TRUST_PENULT] = cs_ood_tile_score(&s->trust, pf, c);
    out[KNN_CLASS_SCALED] = out[KNN_CLASS_PENULT] / s->scale[c];
}

/* An image's scores (the means over its foreground tiles) and its predicted class. */
static int image_scores(scorer *s, const cs_image *im, float out[NCAND], int *predicted) {
    cs_result res;
    float *f;
    cs_error e;
    if (cs_classify_features(s->m, im, -1, &res, &f, &e)) {
        fprintf(stderr, "ood_candidates: %s\n", e.msg);
        return 0;
    }
    int D = s->m->ood.dim, K = s->m->net.nclasses, n = 0;
    double sum[NCAND] = {0};
    float *pf = malloc(sizeof(float) * s->P * res.ntiles), u[CS_MAX_OOD_DIM];
    for (int t = 0; t < res.ntiles; t++) {
        if (!cs_tile_votes(&res, t)) continue;
        float one[NCAND];
        tile_scores(s, f + (size_t)t * D, res.tile_probs + (size_t)t * K, res.predicted, one);
        memcpy(pf + (size_t)t * s->P, cs_net_activation(s->ws, s->last), sizeof(float) * s->P);
        for (int c = 0; c < NCAND; c++) sum[c] += one[c];
        n++;
    }
    for (int c = 0; c < NCAND; c++) out[c] = (float)(sum[c] / n);
    out[IMAGE_MSP] = 1 - res.probs[res.predicted];
    cs_ood_image_mean(pf, &res, s->P, u);
    out[IMAGE_CLASS_PENULT] = cs_ood_tile_score(&s->image, u, res.predicted);
    free(pf);
    *predicted = res.predicted;
    free(f);
    cs_result_free(&res);
    return 1;
}

/* Every folder of dir, sorted. */
static char **folders(const char *dir, int *n) {
    DIR *d = opendir(dir);
    char **out = NULL;
    *n = 0;
    for (struct dirent *e; d && (e = readdir(d));) {
        if (e->d_name[0] == '.') continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        DIR *sub = opendir(path);
        if (!sub) continue;
        closedir(sub);
        out = realloc(out, sizeof *out * (*n + 1));
        out[(*n)++] = strdup(e->d_name);
    }
    if (d) closedir(d);
    for (int i = 1; i < *n; i++) /* few: insertion sort */
        for (int j = i; j > 0 && strcmp(out[j - 1], out[j]) > 0; j--) {
            char *t = out[j];
            out[j] = out[j - 1], out[j - 1] = t;
        }
    return out;
}

/* The training part's foreground tiles (view 0): their pooled features,
   normalised, for kNN; their penultimate ones, for statistics and kNN. */
static void bank_of(scorer *s, const cs_dataset *train) {
    int D = s->m->ood.dim, P = s->P, head = cs_net_head(&s->m->net);
    float probs[CS_MAX_CLASSES];
    s->nbank = 0;
    for (int i = 0; i < train->n; i++) {
        cs_result res;
        float *f;
        if (cs_classify_features(s->m, &train->images[i], -1, &res, &f, NULL)) continue;
        s->bank = realloc(s->bank, sizeof(float) * D * (s->nbank + res.ntiles));
        s->pbank = realloc(s->pbank, sizeof(float) * P * (s->nbank + res.ntiles));
        s->labels = realloc(s->labels, sizeof(int) * (s->nbank + res.ntiles));
        float *pf = malloc(sizeof(float) * P * res.ntiles); /* this image's, by tile */
        for (int t = 0; t < res.ntiles; t++)
            if (cs_tile_votes(&res, t)) {
                int b = s->nbank++;
                memcpy(s->bank + (size_t)b * D, f + (size_t)t * D, sizeof(float) * D);
                cs_ood_normalise(s->bank + (size_t)b * D, D);
                cs_net_forward(&s->m->net, s->ws, head, f + (size_t)t * D, 1, 0, NULL, probs);
                memcpy(s->pbank + (size_t)b * P, cs_net_activation(s->ws, s->last), sizeof(float) * P);
                memcpy(pf + (size_t)t * P, s->pbank + (size_t)b * P, sizeof(float) * P);
                s->labels[b] = train->labels[i];
            }
        s->ibank = realloc(s->ibank, sizeof(float) * P * (s->nimages + 1));
        s->ilabels = realloc(s->ilabels, sizeof(int) * (s->nimages + 1));
        cs_ood_image_mean(pf, &res, P, s->ibank + (size_t)s->nimages * P);
        s->ilabels[s->nimages++] = train->labels[i];
        free(pf);
        free(f);
        cs_result_free(&res);
    }
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: ood_candidates MODEL DATA [--k K] [--bank-cap N] [--bands]\n");
        return 2;
    }
    int knn_k = CS_OOD_K, cap = CS_OOD_BANK_CAP, bands = 0;
    for (int a = 3; a < argc; a++) {
        if (!strcmp(argv[a], "--k") && a + 1 < argc) knn_k = atoi(argv[++a]);
        else if (!strcmp(argv[a], "--bank-cap") && a + 1 < argc) cap = atoi(argv[++a]);
        else if (!strcmp(argv[a], "--bands")) bands = 1;
        else return fprintf(stderr, "ood_candidates: unknown option %s\n", argv[a]), 2;
    }
    cs_set_threads(0);
    cs_model m;
    cs_error e;
    if (cs_model_load(&m, argv[1], &e)) return fprintf(stderr, "%s\n", e.msg), 1;
    int nf, K = m.net.nclasses;
    char **names = folders(argv[2], &nf);
    cs_dataset all;
    if (cs_dataset_load(&all, argv[2], (const char *const *)names, nf, NULL, NULL, &e))
        return fprintf(stderr, "%s\n", e.msg), 1;

    /* The model's lines (labels as its classes) and the others. */
    cs_dataset known = {0}, other = {0};
    int *model_class = malloc(sizeof(int) * nf);
    for (int f = 0; f < nf; f++) {
        model_class[f] = -1;
        for (int c = 0; c < K; c++)
            if (!strcmp(names[f], m.classes[c])) model_class[f] = c;
    }
    for (int i = 0; i < all.n; i++) {
        int c = model_class[all.labels[i]];
        cs_dataset_add(c >= 0 ? &known : &other, &all.images[i], c >= 0 ? c : all.labels[i], all.names[i], NULL);
    }

    cs_dataset train, held;
    m.ood.kind = CS_OOD_KIND_MAHALANOBIS; /* the statistics, for the Mahalanobis candidate, whatever the model's own score */
    if (cs_model_split(&m, &known, &train, &held, &e) || cs_ood_fit(&m, &train, &held, CS_OOD_FRR, &e))
        return fprintf(stderr, "%s\n", e.msg), 1;
    if (bands) {
        cs_dataset rest, band;
        if (cs_model_split(&m, &other, &rest, &band, &e)) return fprintf(stderr, "%s\n", e.msg), 1;
        other = band;
    }

    scorer s = {.m = &m, .ws = cs_workspace_new(&m.net, 1, NULL), .k = knn_k};
    s.last = cs_ood_penultimate(&m.net, &s.P);
    bank_of(&s, &train);
    s.pen = s.knn = s.kclass = m;
    s.pen.ood = (cs_ood){0};
    s.knn.ood = (cs_ood){.kind = CS_OOD_KIND_KNN, .k = knn_k};
    s.kclass.ood = (cs_ood){.kind = CS_OOD_KIND_KNN_CLASS, .k = knn_k};
    if (cs_ood_estimate(&s.pen.ood, s.pbank, s.labels, s.nbank, K, s.P, &e) ||
        cs_ood_knn_bank(&s.knn.ood, s.pbank, NULL, K, s.nbank, s.P, cap > 0 ? cap : s.nbank, &e) ||
        cs_ood_knn_bank(&s.kclass.ood, s.pbank, s.labels, K, s.nbank, s.P, cap > 0 ? cap : s.nbank, &e))
        return fprintf(stderr, "%s\n", e.msg), 1;
    s.trust = s.kclass; /* sharing its bank */
    s.image = m;
    s.image.ood = (cs_ood){.kind = CS_OOD_KIND_IMAGE_CLASS, .k = knn_k};
    if (cs_ood_knn_bank(&s.image.ood, s.ibank, s.ilabels, K, s.nimages, s.P, CS_MAX_OOD_BANK, &e))
        return fprintf(stderr, "%s\n", e.msg), 1;
    class_spread(&s.kclass.ood, K, s.scale);
    s.trust.ood.kind = CS_OOD_KIND_TRUST;
    fprintf(stderr, "%d training tiles (%d in the knn_penultimate bank); %d known images (validation), %d unknown\n",
            s.nbank, s.knn.ood.nbank, held.n, other.n);

    int n = held.n + other.n;
    float *score = malloc(sizeof(float) * n * NCAND);
    uint8_t *unknown = malloc(n), *right = malloc(n);
    int *predicted = malloc(sizeof(int) * n), nright = 0;
    for (int i = 0; i < n; i++) {
        const cs_dataset *ds = i < held.n ? &held : &other;
        int j = i < held.n ? i : i - held.n;
        unknown[i] = i >= held.n;
        if (!image_scores(&s, &ds->images[j], score + (size_t)i * NCAND, &predicted[i])) return 1;
        right[i] = !unknown[i] && predicted[i] == ds->labels[j];
        nright += right[i];
    }
    printf("known images classified right: %d / %d\n\n", nright, held.n);
    printf("| score | ROC AUC (unknown vs known images) | unknown images flagged at 5%% known flagged |"
           " known images right, flagged |\n|---|---:|---:|---:|\n");
    float *col = malloc(sizeof(float) * n), *ks = malloc(sizeof(float) * n);
    for (int c = 0; c < NCAND; c++) {
        int nk = 0, flagged = 0, lost = 0;
        for (int i = 0; i < n; i++) {
            col[i] = score[(size_t)i * NCAND + c];
            if (!unknown[i]) ks[nk++] = col[i];
        }
        qsort(ks, nk, sizeof(float), by_value);
        double at = 0.95 * (nk - 1);
        int lo = (int)floor(at), hi = lo + 1 < nk ? lo + 1 : lo;
        float th = (float)(ks[lo] + (at - lo) * (ks[hi] - ks[lo]));
        for (int i = 0; i < n; i++) {
            flagged += unknown[i] && col[i] > th;
            lost += right[i] && col[i] > th;
        }
        cs_roc roc;
        cs_roc_compute(&roc, col, unknown, n, NULL);
        printf("| %s | %.4f | %d / %d | %d / %d |\n", cand_name[c], roc.auc, flagged, other.n, lost, nright);
        cs_roc_free(&roc);
    }
    printf("\n| image | set | line | predicted |");
    for (int c = 0; c < NCAND; c++) printf(" %s |", cand_name[c]);
    printf("\n|---|---|---|---|");
    for (int c = 0; c < NCAND; c++) printf("---:|");
    printf("\n");
    for (int i = 0; i < n; i++) {
        const cs_dataset *ds = i < held.n ? &held : &other;
        int j = i < held.n ? i : i - held.n;
        printf("| %s | %s | %s | %s |", ds->names[j], unknown[i] ? "unknown" : "known",
               unknown[i] ? names[ds->labels[j]] : m.classes[ds->labels[j]], m.classes[predicted[i]]);
        for (int c = 0; c < NCAND; c++) printf(" %.4g |", score[(size_t)i * NCAND + c]);
        printf("\n");
    }
    return 0;
}
