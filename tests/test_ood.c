/* test_ood.c: out-of-distribution statistics (ood.c): the Mahalanobis score
   against its closed form, statistics fitted from tiles and their threshold,
   a model file that keeps them, and files that hold them wrong; the msp score,
   which needs no statistics; knn_penultimate against hand-made banks and a
   sort, fitted, kept in a file, and its bad files; mahalanobis_penultimate;
   knn_class_penultimate by hand, fitted, kept in a file, and its bad files;
   trust_penultimate; image_class_penultimate by hand and fitted, and its
   thresholds for images of few tiles. */
#define _GNU_SOURCE /* memmem */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "test.h"

static const char *data_dir;
static const char *CLASSES[] = {"MDAMB231", "T47D"};

/* m written to a file's bytes and read back into *back. */
static cs_status round_trip(const cs_model *m, cs_model *back, cs_error *err) {
    uint8_t *bytes;
    size_t size;
    cs_status s = cs_model_write(m, &bytes, &size, err);
    if (s) return s;
    s = cs_model_read(back, bytes, size, err);
    free(bytes);
    return s;
}

/* The 0.75 quantile of n scores, interpolated: a quarter of n - 1 above, rounded either way. */
static int quarter_above(int above, int n) {
    return above >= (int)floor(0.25 * (n - 1)) && above <= (int)ceil(0.25 * (n - 1));
}

static int by_value(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

/* The score 1 - frr of the n scores exceed, interpolated as documented. */
static float frr_quantile(const float *scores, int n, float frr) {
    float *s = malloc(sizeof(float) * n);
    memcpy(s, scores, sizeof(float) * n);
    qsort(s, n, sizeof *s, by_value);
    double at = (1 - frr) * (n - 1);
    int lo = (int)floor(at), hi = lo + 1 < n ? lo + 1 : lo;
    float q = (float)(s[lo] + (at - lo) * (s[hi] - s[lo]));
    free(s);
    return q;
}

/* With the identity as precision the score is the squared distance to the nearest mean. */
static void test_score(void) {
    cs_model m;
    CHECK(cs_model_init(&m, "conv4,gap,dense", 32, 2, CLASSES, 1, NULL) == CS_OK);
    CHECK(cs_ood_dim(&m.net) == 4);
    float means[8] = {0, 0, 0, 0, 1, 1, 1, 1}, prec[16] = {0};
    for (int i = 0; i < 4; i++) prec[i * 5] = 1;
    m.ood = (cs_ood){.dim = 4, .means = malloc(sizeof means), .precision = malloc(sizeof prec), .threshold = NAN};
    memcpy(m.ood.means, means, sizeof means);
    memcpy(m.ood.precision, prec, sizeof prec);
    CHECK_NEAR(cs_ood_tile_score(&m, (float[]){0.2f, 0, 0, 0}, -1), 0.04, 1e-6);
    CHECK_NEAR(cs_ood_tile_score(&m, (float[]){1, 1, 1, 3}, -1), 4, 1e-6);
    m.ood.precision[15] = 4; /* the last feature counts 4 times over */
    CHECK_NEAR(cs_ood_tile_score(&m, (float[]){1, 1, 1, 3}, -1), 16, 1e-5);
    cs_model_free(&m);
}

/* Fitted on the training fixture: finite statistics, a precision that undoes
   the covariance, tile and image scores as documented, and the threshold
   leaves frr of the validation images above it. */
static void test_fit(const cs_dataset *train, const cs_dataset *val) {
    cs_model m;
    cs_error err;
    CHECK(cs_model_init(&m, "conv4,pool,conv8,gap,dense", 32, 2, CLASSES, 3, &err) == CS_OK);
    CHECK(cs_ood_fit(&m, train, val, 0.25f, &err) == CS_OK);
    CHECK(m.ood.dim == 8 && m.ood.means && m.ood.precision);
    int finite = 1;
    for (int i = 0; i < 8 * 8 && m.ood.precision; i++) finite &= isfinite(m.ood.precision[i]);
    CHECK(finite);
    CHECK(cs_model_get(&m, CS_META_OOD_SCORE) && !strcmp(cs_model_get(&m, CS_META_OOD_SCORE), "mahalanobis"));
    CHECK(!isnan(m.ood.threshold));
    int above = 0;
    for (int i = 0; i < val->n; i++) {
        cs_result res;
        CHECK(cs_classify(&m, &val->images[i], -1, &res, NULL, NULL, &err) == CS_OK);
        double sum = 0;
        for (int t = 0; t < res.ntiles; t++) sum += res.background[t] ? 0 : res.tile_ood[t];
        CHECK_NEAR(res.ood_score, sum / res.nforeground, 1e-3 * (1 + fabs(res.ood_score)));
        CHECK(res.known == (res.ood_score <= m.ood.threshold));
        above += !res.known;
        cs_result_free(&res);
    }
    CHECK(quarter_above(above, val->n));
    printf("%d validation images, %d above the threshold %g\n", val->n, above, m.ood.threshold);

    /* Training tiles score low: their mean is near the dimension (chi-squared). */
    cs_result res;
    CHECK(cs_classify(&m, &train->images[0], -1, &res, NULL, NULL, &err) == CS_OK);
    CHECK(res.ood_score > 0 && res.ood_score < 4 * 8);
    cs_result_free(&res);

    /* Saved and loaded: the same statistics and verdicts. */
    cs_model back;
    CHECK(round_trip(&m, &back, &err) == CS_OK);
    CHECK(back.ood.dim == 8 && back.ood.threshold == m.ood.threshold);
    CHECK(back.ood.means && !memcmp(back.ood.means, m.ood.means, sizeof(float) * 2 * 8));
    CHECK(back.ood.precision && !memcmp(back.ood.precision, m.ood.precision, sizeof(float) * 8 * 8));
    cs_model_free(&back);

    /* New classes: the old ones' statistics go. */
    const char *three[] = {"a", "b", "c"};
    CHECK(cs_model_set_classes(&m, 3, three, 1, &err) == CS_OK);
    CHECK(m.ood.dim == 0 && !m.ood.means && isnan(m.ood.threshold));
    cs_model_free(&m);
}

/* ood_score msp: a tile scores 1 - its top probability (as classified: test-time
   averaged, tempered), fitted without statistics; the choice survives a file,
   new statistics and a bad value. */
static void test_msp(const cs_dataset *train, const cs_dataset *val) {
    cs_model m;
    cs_error err;
    CHECK(cs_model_init(&m, "conv4,pool,conv8,gap,dense", 32, 2, CLASSES, 3, &err) == CS_OK);
    CHECK(cs_model_set(&m, CS_META_OOD_SCORE, "energy", &err) == CS_EINPUT && strstr(err.msg, "ood_score"));
    CHECK(cs_model_set(&m, CS_META_OOD_SCORE, CS_OOD_MSP, &err) == CS_OK && m.ood.kind == CS_OOD_KIND_MSP);
    CHECK(cs_model_set(&m, CS_META_TEMPERATURE, "2", &err) == CS_OK);
    m.tta = 1;
    CHECK(cs_ood_fit(&m, train, val, 0.25f, &err) == CS_OK);
    CHECK(m.ood.kind == CS_OOD_KIND_MSP && m.ood.dim == 0 && !m.ood.means && !isnan(m.ood.threshold));
    CHECK(!strcmp(cs_model_get(&m, CS_META_OOD_SCORE), CS_OOD_MSP));
    int above = 0;
    for (int i = 0; i < val->n; i++) {
        cs_result res;
        CHECK(cs_classify(&m, &val->images[i], -1, &res, NULL, NULL, &err) == CS_OK);
        double sum = 0;
        for (int t = 0; t < res.ntiles; t++) {
            const float *p = res.tile_probs + (size_t)t * 2;
            CHECK_NEAR(res.tile_ood[t], 1 - fmaxf(p[0], p[1]), 1e-6);
            sum += res.background[t] ? 0 : res.tile_ood[t];
        }
        CHECK_NEAR(res.ood_score, sum / res.nforeground, 1e-5);
        CHECK(res.known == (res.ood_score <= m.ood.threshold));
        above += !res.known;
        cs_result_free(&res);
    }
    CHECK(quarter_above(above, val->n));

    cs_model back;
    CHECK(round_trip(&m, &back, &err) == CS_OK);
    CHECK(back.ood.kind == CS_OOD_KIND_MSP && back.ood.dim == 0 && back.ood.threshold == m.ood.threshold);
    cs_model_free(&back);
    /* Back to mahalanobis: statistics again. */
    CHECK(cs_model_set(&m, CS_META_OOD_SCORE, CS_OOD_MAHALANOBIS, &err) == CS_OK && m.ood.kind == CS_OOD_KIND_MAHALANOBIS);
    CHECK(cs_ood_fit(&m, train, val, 0.25f, &err) == CS_OK && m.ood.dim == 8);
    cs_model_free(&m);
}

/* A file with statistics that do not fit its network is refused by name. */
static void test_bad_files(void) {
    cs_model m;
    cs_error err;
    CHECK(cs_model_init(&m, "conv4,gap,dense", 32, 2, CLASSES, 1, NULL) == CS_OK);
    m.ood = (cs_ood){.dim = 4, .means = calloc(8, sizeof(float)), .precision = calloc(16, sizeof(float)),
                     .threshold = NAN};
    uint8_t *bytes;
    size_t size;
    /* One tensor without the other; a non-finite value. */
    float *prec = m.ood.precision;
    CHECK(cs_model_write(&m, &bytes, &size, &err) == CS_OK);
    cs_model back;
    CHECK(cs_model_read(&back, bytes, size, &err) == CS_OK && back.ood.dim == 4);
    cs_model_free(&back);
    free(bytes);
    m.ood.precision[5] = NAN;
    CHECK(cs_model_write(&m, &bytes, &size, &err) == CS_OK);
    CHECK(cs_model_read(&back, bytes, size, &err) == CS_EINPUT && strstr(err.msg, "ood.precision"));
    free(bytes);
    m.ood.precision = NULL; /* written without it: means alone */
    CHECK(cs_model_write(&m, &bytes, &size, &err) == CS_OK);
    CHECK(cs_model_read(&back, bytes, size, &err) == CS_OK && back.ood.dim == 0);
    cs_model_free(&back);
    free(bytes);
    m.ood.precision = prec;
    CHECK(cs_model_set(&m, CS_META_OOD_THRESHOLD, "-1", &err) == CS_EINPUT);
    CHECK(cs_model_set(&m, CS_META_OOD_THRESHOLD, "none", &err) == CS_OK && isnan(m.ood.threshold));
    CHECK(cs_model_set(&m, CS_META_OOD_THRESHOLD, "12.5", &err) == CS_OK && m.ood.threshold == 12.5f);
    cs_model_free(&m);
    /* A network without GAP (pooled down to 1 x 1) has no features to go by: nothing is fitted. */
    CHECK(cs_model_init(&m, "conv2,pool,dense", 4, 2, CLASSES, 1, NULL) == CS_OK);
    CHECK(cs_ood_dim(&m.net) == 0);
    CHECK(cs_ood_fit(&m, NULL, NULL, 0.05f, NULL) == CS_OK && m.ood.dim == 0);
    cs_model_free(&m);
}

/* kNN on a hand-made bank of unit vectors: the k-th nearest's distance, by
   hand; then on a pseudo-random bank against a full sort, for every k. */
static void test_knn_score(void) {
    float bank[5][2] = {{1, 0}, {0, 1}, {-1, 0}, {0, -1}, {0.6f, 0.8f}}, f[2] = {3, 0}; /* f normalised: (1, 0) */
    const double want[6] = {0, sqrt(0.8), sqrt(2), sqrt(2), 2, 2}; /* k = 1..5, and 6: more than the bank (5) */
    for (int k = 1; k <= 6; k++) CHECK_NEAR(cs_ood_knn(&bank[0][0], NULL, 0, 5, 2, k, f), want[k - 1], 1e-6);

    cs_model m;
    CHECK(cs_model_init(&m, "conv4,gap,dense2,dense", 32, 2, CLASSES, 1, NULL) == CS_OK);
    m.ood = (cs_ood){.kind = CS_OOD_KIND_KNN, .k = 2, .threshold = NAN, .nbank = 5, .bank_dim = 2,
                     .bank = malloc(sizeof bank)};
    memcpy(m.ood.bank, bank, sizeof bank);
    CHECK(cs_ood_ready(&m));
    /* (0, -1): itself, then (1, 0) and (-1, 0) at sqrt(2), (0.6, 0.8) at sqrt(3.6), (0, 1) at 2. */
    CHECK_NEAR(cs_ood_tile_score(&m, (float[]){0, -0.5f}, -1), sqrt(2), 1e-6);
    m.ood.k = 4;
    CHECK_NEAR(cs_ood_tile_score(&m, (float[]){0, -0.5f}, -1), sqrt(3.6), 1e-6);
    cs_model_free(&m);

    enum { N = 300, D = 16 };
    float *rows = malloc(sizeof(float) * N * D), q[D], d[N];
    uint32_t x = 12345;
    for (int i = 0; i < N * D; i++) rows[i] = (float)((x = x * 1664525u + 1013904223u) >> 8) / (1 << 24) - 0.5f;
    for (int i = 0; i < D; i++) q[i] = rows[7 * D + i] + 0.01f * (float)i;
    for (int b = 0; b < N; b++) cs_ood_normalise(rows + b * D, D);
    float u[D];
    memcpy(u, q, sizeof q);
    cs_ood_normalise(u, D);
    for (int b = 0; b < N; b++) {
        double s = 0;
        for (int i = 0; i < D; i++) s += (u[i] - rows[b * D + i]) * (u[i] - rows[b * D + i]);
        d[b] = (float)s;
    }
    qsort(d, N, sizeof *d, by_value);
    int same = 1;
    for (int k = 1; k <= N; k++) same &= fabsf(cs_ood_knn(rows, NULL, 0, N, D, k, q) - sqrtf(d[k - 1])) <= 1e-6f;
    CHECK(same);

    /* A bank capped: evenly spaced rows (tile floor(i n / kept)), normalised; too few tiles for k refused. */
    float feat[10][2];
    for (int i = 0; i < 10; i++) feat[i][0] = (float)i + 1, feat[i][1] = 0;
    cs_ood o = {.kind = CS_OOD_KIND_KNN, .k = 3};
    cs_error err;
    CHECK(cs_ood_knn_bank(&o, &feat[0][0], NULL, 2, 10, 2, 4, &err) == CS_OK && o.nbank == 4 && o.bank_dim == 2);
    CHECK(o.kind == CS_OOD_KIND_KNN && o.k == 3);
    cs_ood_free(&o);
    o.k = 11;
    CHECK(cs_ood_knn_bank(&o, &feat[0][0], NULL, 2, 10, 2, 4, &err) == CS_EINPUT && strstr(err.msg, "ood_k (11)"));
    for (int i = 0; i < 10; i++) feat[i][1] = (float)i; /* (i + 1, i): which rows were kept shows */
    o.k = 3;
    CHECK(cs_ood_knn_bank(&o, &feat[0][0], NULL, 2, 10, 2, 4, &err) == CS_OK && !o.bank_class);
    const int kept[4] = {0, 2, 5, 7};
    for (int b = 0; b < 4 && o.bank; b++) {
        double len = hypot(kept[b] + 1, kept[b]);
        CHECK_NEAR(o.bank[2 * b], (kept[b] + 1) / len, 1e-6);
        CHECK_NEAR(o.bank[2 * b + 1], kept[b] / len, 1e-6);
    }
    cs_ood_free(&o);
    free(rows);
}

/* The scores of every image of ds under m. */
static void image_scores(const cs_model *m, const cs_dataset *ds, float *out) {
    for (int i = 0; i < ds->n; i++) {
        cs_result res;
        out[i] = NAN;
        if (cs_classify(m, &ds->images[i], -1, &res, NULL, NULL, NULL) == CS_OK) out[i] = res.ood_score;
        cs_result_free(&res);
    }
}

/* n single-tile images cut from ds's images, row by row. */
static void tiles_as_images(const cs_dataset *ds, int tile, int n, cs_dataset *out) {
    memset(out, 0, sizeof *out);
    for (int i = 0; i < ds->n && out->n < n; i++) {
        const cs_image *im = &ds->images[i];
        for (int y = 0; y + tile <= im->h && out->n < n; y += tile)
            for (int x = 0; x + tile <= im->w && out->n < n; x += tile) {
                cs_image one = {.w = tile, .h = tile, .gray = malloc((size_t)tile * tile)};
                for (int r = 0; r < tile; r++) memcpy(one.gray + r * tile, im->gray + (size_t)(y + r) * im->w + x, tile);
                CHECK(cs_dataset_add(out, &one, ds->labels[i], ds->names[i], NULL) == CS_OK);
                free(one.gray);
            }
    }
}

/* With test-time averaging an image can be called another class than its
   first view calls it: knn_class_penultimate's threshold is set on the
   scores predict gives, each image scored against the class predict calls it.
   The two-class threshold at the median of the images' first-view p1 puts
   many on the edge. */
static void threshold_as_predicted(cs_model *m, const cs_dataset *val) {
    cs_dataset small;
    tiles_as_images(val, 32, 60, &small);
    cs_model one_view = *m;
    one_view.tta = 0;
    float *p1 = malloc(sizeof(float) * small.n), *scores = malloc(sizeof(float) * small.n);
    for (int i = 0; i < small.n; i++) {
        cs_result r;
        CHECK(cs_classify(&one_view, &small.images[i], 0, &r, NULL, NULL, NULL) == CS_OK);
        p1[i] = r.probs[1];
        cs_result_free(&r);
    }
    char v[32];
    snprintf(v, sizeof v, "%.9g", frr_quantile(p1, small.n, 0.5f));
    cs_error err;
    CHECK(cs_model_set(m, CS_META_THRESHOLD, v, &err) == CS_OK);
    CHECK(cs_ood_fit(m, val, &small, 0.25f, &err) == CS_OK);
    image_scores(m, &small, scores);
    int differ = 0;
    one_view = *m; /* the fit freed the bank the first copy pointed to */
    one_view.tta = 0;
    for (int i = 0; i < small.n; i++) {
        cs_result a, b;
        CHECK(cs_classify(m, &small.images[i], 0, &a, NULL, NULL, NULL) == CS_OK);
        CHECK(cs_classify(&one_view, &small.images[i], 0, &b, NULL, NULL, NULL) == CS_OK);
        differ += a.predicted != b.predicted;
        cs_result_free(&a);
        cs_result_free(&b);
    }
    printf("%d single-tile images, %d called otherwise by their first view\n", small.n, differ);
    CHECK(differ > 0); /* else this cannot tell */
    CHECK_NEAR(m->ood.threshold, frr_quantile(scores, small.n, 0.25f), 1e-5 * m->ood.threshold); /* "%.6g" in the metadata */
    free(p1);
    free(scores);
    cs_dataset_free(&small);
}

/* ood_score knn_penultimate fitted on the training fixture: a bank of the
   training tiles' penultimate features (dense6's input: 6 wide, not GAP's 8),
   tiles scored from the tile as it is whatever the test-time averaging (a
   training tile's nearest is itself), the threshold at frr, and a file that
   gives the same scores. */
static void test_knn_fit(const cs_dataset *train, const cs_dataset *val) {
    cs_model m;
    cs_error err;
    CHECK(cs_model_init(&m, "conv4,pool,conv8,gap,dense6,dense", 32, 2, CLASSES, 3, &err) == CS_OK);
    CHECK(cs_model_set(&m, CS_META_OOD_SCORE, CS_OOD_KNN, &err) == CS_OK && m.ood.kind == CS_OOD_KIND_KNN);
    CHECK(m.ood.k == CS_OOD_K);
    m.tta = 1;
    CHECK(cs_ood_fit(&m, train, val, 0.25f, &err) == CS_OK);
    CHECK(m.ood.bank && m.ood.bank_dim == 6 && m.ood.nbank >= CS_OOD_K && m.ood.nbank <= CS_OOD_BANK_CAP);
    CHECK(!m.ood.means && m.ood.dim == 0 && !isnan(m.ood.threshold));
    CHECK(!strcmp(cs_model_get(&m, CS_META_OOD_SCORE), CS_OOD_KNN) && !strcmp(cs_model_get(&m, CS_META_OOD_K), "10"));
    CHECK(atoi(cs_model_get(&m, "ood_bank_tiles")) == m.ood.nbank && atoi(cs_model_get(&m, "ood_tiles")) == m.ood.nbank);
    double worst = 0;
    for (int b = 0; b < m.ood.nbank && m.ood.bank; b++) {
        double len = 0;
        for (int i = 0; i < 6; i++) len += m.ood.bank[b * 6 + i] * m.ood.bank[b * 6 + i];
        worst = fmax(worst, fabs(len - 1));
    }
    CHECK(worst < 1e-5);

    /* Tile scores are kNN distances of the penultimate features, as cs_classify_features gives them. */
    cs_result res;
    float *f = NULL;
    CHECK(cs_classify_features(&m, &val->images[0], -1, &res, &f, &err) == CS_OK);
    int same = f != NULL;
    for (int t = 0; same && t < res.ntiles; t++)
        same &= fabsf(res.tile_ood[t] - cs_ood_knn(m.ood.bank, NULL, 0, m.ood.nbank, 6, 10, f + t * 6)) <= 1e-6f;
    CHECK(same);
    free(f);
    cs_result_free(&res);
    m.ood.k = 1; /* a training tile is in the bank (all are): it is its own nearest */
    CHECK(cs_classify(&m, &train->images[0], -1, &res, NULL, NULL, &err) == CS_OK);
    float most = 0;
    for (int t = 0; t < res.ntiles; t++) most = res.background[t] ? most : fmaxf(most, res.tile_ood[t]);
    CHECK(res.nforeground > 0 && most < 1e-3f);
    cs_result_free(&res);
    m.ood.k = 10;

    float *before = malloc(sizeof(float) * val->n), *after = malloc(sizeof(float) * val->n);
    image_scores(&m, val, before);
    int above = 0;
    for (int i = 0; i < val->n; i++) above += before[i] > m.ood.threshold;
    CHECK(quarter_above(above, val->n));

    cs_model back;
    CHECK(round_trip(&m, &back, &err) == CS_OK);
    CHECK(back.ood.kind == CS_OOD_KIND_KNN && back.ood.k == 10 && back.ood.nbank == m.ood.nbank);
    CHECK(back.ood.bank && !memcmp(back.ood.bank, m.ood.bank, sizeof(float) * 6 * m.ood.nbank));
    image_scores(&back, val, after);
    CHECK(!memcmp(before, after, sizeof(float) * val->n) && !isnan(after[0]));
    cs_model_free(&back);
    free(before);
    free(after);
    cs_model_free(&m);
}

/* ood_score mahalanobis_penultimate: the statistics of the penultimate
   features (dense6's input: 6 wide, not GAP's 8), tile scores as the
   Mahalanobis score of those features, a file that gives the same scores, and
   a file whose statistics are of the other width for its score, refused. */
static void test_mahalanobis_penultimate(const cs_dataset *train, const cs_dataset *val) {
    cs_model m, mp, back;
    cs_error err;
    CHECK(cs_model_init(&m, "conv4,pool,conv8,gap,dense6,dense", 32, 2, CLASSES, 3, &err) == CS_OK);
    CHECK(cs_model_set(&m, CS_META_OOD_SCORE, CS_OOD_MAHALANOBIS_PENULTIMATE, &err) == CS_OK);
    CHECK(m.ood.kind == CS_OOD_KIND_MAHALANOBIS_PENULTIMATE);
    CHECK(cs_ood_fit(&m, train, val, 0.25f, &err) == CS_OK);
    CHECK(m.ood.dim == 6 && m.ood.means && m.ood.precision && !m.ood.bank && !isnan(m.ood.threshold));
    CHECK(!strcmp(cs_model_get(&m, CS_META_OOD_SCORE), CS_OOD_MAHALANOBIS_PENULTIMATE));

    /* The same statistics scored as plain mahalanobis of the penultimate features. */
    cs_result res;
    float *f = NULL;
    CHECK(cs_classify_features(&m, &val->images[0], -1, &res, &f, &err) == CS_OK);
    mp = m;
    mp.ood.kind = CS_OOD_KIND_MAHALANOBIS;
    int same = f != NULL && res.tile_ood != NULL;
    for (int t = 0; same && t < res.ntiles; t++)
        same &= fabsf(res.tile_ood[t] - cs_ood_tile_score(&mp, f + t * 6, -1)) <= 1e-5f * (1 + res.tile_ood[t]);
    CHECK(same);
    free(f);
    cs_result_free(&res);

    float *before = malloc(sizeof(float) * val->n), *after = malloc(sizeof(float) * val->n);
    image_scores(&m, val, before);
    int above = 0;
    for (int i = 0; i < val->n; i++) above += before[i] > m.ood.threshold;
    CHECK(quarter_above(above, val->n));
    CHECK(round_trip(&m, &back, &err) == CS_OK);
    CHECK(back.ood.kind == CS_OOD_KIND_MAHALANOBIS_PENULTIMATE && back.ood.dim == 6);
    image_scores(&back, val, after);
    CHECK(!memcmp(before, after, sizeof(float) * val->n) && !isnan(after[0]));
    cs_model_free(&back);
    free(before);
    free(after);

    /* Penultimate statistics under a file that says mahalanobis (pooled, 8 wide). */
    CHECK(cs_model_set(&m, CS_META_OOD_SCORE, CS_OOD_MAHALANOBIS, &err) == CS_OK);
    CHECK(round_trip(&m, &back, &err) == CS_EINPUT && strstr(err.msg, "ood.means has 6 features"));
    cs_model_free(&m);
}

/* Files whose bank does not fit: the wrong width, a NaN, ood_k 0 or more than
   the bank's tiles; each refused by name. */
static void test_knn_bad_files(void) {
    cs_model m, back;
    cs_error err;
    uint8_t *bytes;
    size_t size;
    CHECK(cs_model_init(&m, "conv4,gap,dense6,dense", 32, 2, CLASSES, 1, NULL) == CS_OK);
    CHECK(cs_model_set(&m, CS_META_OOD_SCORE, CS_OOD_KNN, &err) == CS_OK);
    CHECK(cs_model_set(&m, CS_META_OOD_K, "3", &err) == CS_OK);
    m.ood.bank = calloc(3 * 6, sizeof(float)), m.ood.nbank = 3, m.ood.bank_dim = 6;
    CHECK(cs_model_write(&m, &bytes, &size, &err) == CS_OK);
    CHECK(cs_model_read(&back, bytes, size, &err) == CS_OK && back.ood.nbank == 3 && cs_ood_ready(&back));
    cs_model_free(&back);
    free(bytes);

    m.ood.bank_dim = 4; /* GAP's width, not dense6's input */
    CHECK(cs_model_write(&m, &bytes, &size, &err) == CS_OK);
    CHECK(cs_model_read(&back, bytes, size, &err) == CS_EINPUT && strstr(err.msg, "ood.bank") && strstr(err.msg, "[3,6]"));
    printf("%s\n", err.msg);
    free(bytes);
    m.ood.bank_dim = 6;
    m.ood.bank[7] = NAN;
    CHECK(cs_model_write(&m, &bytes, &size, &err) == CS_OK);
    CHECK(cs_model_read(&back, bytes, size, &err) == CS_EINPUT && strstr(err.msg, "ood.bank") && strstr(err.msg, "non-finite"));
    free(bytes);
    m.ood.bank[7] = 0;
    CHECK(cs_model_set(&m, CS_META_OOD_K, "0", &err) == CS_EINPUT && strstr(err.msg, "ood_k"));
    CHECK(cs_model_set(&m, CS_META_OOD_K, "4", &err) == CS_OK);
    CHECK(cs_model_write(&m, &bytes, &size, &err) == CS_OK);
    CHECK(cs_model_read(&back, bytes, size, &err) == CS_EINPUT && strstr(err.msg, "ood_k 4") && strstr(err.msg, "3 tiles"));
    printf("%s\n", err.msg);
    free(bytes);
    cs_model_free(&m);
}

/* knn_class_penultimate by hand: the distance to the k-th nearest bank row of
   the class asked only (of fewer, the farthest; of none, NaN); a bank built by
   class, spaced within each class, grouped, at least k a class. */
static void test_knn_class_score(void) {
    float bank[5][2] = {{1, 0}, {0, 1}, {-1, 0}, {0, -1}, {0.6f, 0.8f}}, cls[5] = {0, 1, 0, 1, 1};
    float f[2] = {3, 0}; /* (1, 0): class 0's rows at 0 and 2, class 1's at sqrt(2), sqrt(2), sqrt(0.8) */
    CHECK_NEAR(cs_ood_knn(&bank[0][0], cls, 0, 5, 2, 1, f), 0, 1e-6);
    CHECK_NEAR(cs_ood_knn(&bank[0][0], cls, 0, 5, 2, 2, f), 2, 1e-6);
    CHECK_NEAR(cs_ood_knn(&bank[0][0], cls, 0, 5, 2, 3, f), 2, 1e-6); /* 2 rows: the farthest */
    CHECK_NEAR(cs_ood_knn(&bank[0][0], cls, 1, 5, 2, 1, f), sqrt(0.8), 1e-6);
    CHECK_NEAR(cs_ood_knn(&bank[0][0], cls, 1, 5, 2, 2, f), sqrt(2), 1e-6);
    CHECK(isnan(cs_ood_knn(&bank[0][0], cls, 2, 5, 2, 1, f)));

    cs_model m;
    CHECK(cs_model_init(&m, "conv4,gap,dense2,dense", 32, 2, CLASSES, 1, NULL) == CS_OK);
    m.ood = (cs_ood){.kind = CS_OOD_KIND_KNN_CLASS, .k = 1, .threshold = NAN, .nbank = 5, .bank_dim = 2,
                     .bank = malloc(sizeof bank)};
    memcpy(m.ood.bank, bank, sizeof bank);
    CHECK(!cs_ood_ready(&m)); /* no classes for its bank: no score */
    m.ood.bank_class = malloc(sizeof cls);
    memcpy(m.ood.bank_class, cls, sizeof cls);
    CHECK(cs_ood_ready(&m));
    CHECK_NEAR(cs_ood_tile_score(&m, f, 1), sqrt(0.8), 1e-6);
    CHECK_NEAR(cs_ood_tile_score(&m, f, 0), 0, 1e-6);
    cs_model_free(&m);

    /* 12 tiles: 9 of class 1 (rows 0-8), 3 of class 0 (rows 9-11); a cap of 6, k 2. */
    float feat[12][2];
    int labels[12];
    for (int i = 0; i < 12; i++) feat[i][0] = (float)i + 1, feat[i][1] = (float)i, labels[i] = i < 9;
    cs_ood o = {.kind = CS_OOD_KIND_KNN_CLASS, .k = 2};
    cs_error err;
    CHECK(cs_ood_knn_bank(&o, &feat[0][0], labels, 2, 12, 2, 6, &err) == CS_OK);
    /* Class 0: 6 * 3 / 12 = 1, raised to k = 2: rows 9 and 10; class 1: 6 * 9 / 12 = 4: rows 0, 2, 4, 6. */
    const int kept[6] = {9, 10, 0, 2, 4, 6};
    CHECK(o.nbank == 6 && o.bank_class);
    for (int b = 0; b < 6 && o.nbank == 6 && o.bank_class; b++) {
        double len = hypot(kept[b] + 1, kept[b]);
        CHECK_NEAR(o.bank[2 * b], (kept[b] + 1) / len, 1e-6);
        CHECK(o.bank_class[b] == (float)labels[kept[b]]);
    }
    cs_ood_free(&o);
    for (int i = 9; i < 12; i++) labels[i] = 1; /* a class without tiles */
    CHECK(cs_ood_knn_bank(&o, &feat[0][0], labels, 2, 12, 2, 6, &err) == CS_EINPUT && strstr(err.msg, "class 0"));
}

/* *m, a model of K classes scoring by kind from a hand-made bank of n rows of
   2 features, with their classes. */
static void hand_bank(cs_model *m, cs_ood_kind kind, int k, int K, const float *bank, const float *cls, int n) {
    const char *names[] = {"A", "B", "C"};
    CHECK(cs_model_init(m, "conv4,gap,dense2,dense", 32, K, names, 1, NULL) == CS_OK);
    m->ood = (cs_ood){.kind = kind, .k = k, .threshold = NAN, .nbank = n, .bank_dim = 2,
                      .bank = malloc(sizeof(float) * 2 * n), .bank_class = malloc(sizeof(float) * n)};
    memcpy(m->ood.bank, bank, sizeof(float) * 2 * n);
    memcpy(m->ood.bank_class, cls, sizeof(float) * n);
}

/* trust_penultimate on a hand-made bank of three classes: the k-th nearest
   of the image's class over the nearest other class's. */
static void test_trust_score(void) {
    float bank[5][2] = {{1, 0}, {0, 1}, {-1, 0}, {0, -1}, {0.6f, 0.8f}}, cls[5] = {0, 1, 0, 1, 2};
    float f[2] = {0.8f, 0.6f}; /* class 0 at sqrt(0.4), sqrt(3.6); class 1 at sqrt(0.8), sqrt(3.2); class 2 at sqrt(0.08) */
    cs_model m;
    hand_bank(&m, CS_OOD_KIND_TRUST, 1, 3, &bank[0][0], cls, 5);
    CHECK(cs_ood_ready(&m) && cs_ood_by_class(m.ood.kind) && cs_ood_reads_bank(m.ood.kind));
    CHECK_NEAR(cs_ood_tile_score(&m, f, 0), sqrt(5), 1e-5);
    CHECK_NEAR(cs_ood_tile_score(&m, f, 1), sqrt(10), 1e-5);
    CHECK_NEAR(cs_ood_tile_score(&m, f, 2), sqrt(0.2), 1e-5);
    m.ood.k = 2; /* class 2 has one row: its farthest */
    CHECK_NEAR(cs_ood_tile_score(&m, f, 2), sqrt(0.08 / 3.2), 1e-5);
    CHECK_NEAR(cs_ood_tile_score(&m, f, 0), sqrt(3.6 / 0.08), 1e-4); /* the nearest other: class 2 */
    cs_model_free(&m);
}

/* trust_penultimate fitted on the training fixture: a bank with classes,
   each tile's score its class's distance over the other's, a threshold as
   frr says, and a file that gives the same scores. */
static void test_trust_fit(const cs_dataset *train, const cs_dataset *val) {
    cs_model m, back;
    cs_error err;
    CHECK(cs_model_init(&m, "conv4,pool,conv8,gap,dense6,dense", 32, 2, CLASSES, 3, &err) == CS_OK);
    CHECK(cs_model_set(&m, CS_META_OOD_SCORE, CS_OOD_TRUST, &err) == CS_OK && m.ood.kind == CS_OOD_KIND_TRUST);
    CHECK(cs_ood_fit(&m, train, val, 0.25f, &err) == CS_OK);
    CHECK(m.ood.bank && m.ood.bank_class && m.ood.bank_dim == 6 && !isnan(m.ood.threshold));
    cs_result res;
    float *f = NULL;
    CHECK(cs_classify_features(&m, &val->images[0], -1, &res, &f, &err) == CS_OK);
    int same = f != NULL && res.tile_ood != NULL;
    for (int t = 0; same && t < res.ntiles; t++) {
        int c = res.predicted;
        float own = cs_ood_knn(m.ood.bank, m.ood.bank_class, c, m.ood.nbank, 6, 10, f + t * 6);
        float other = fmaxf(cs_ood_knn(m.ood.bank, m.ood.bank_class, 1 - c, m.ood.nbank, 6, 10, f + t * 6), 1e-6f);
        same &= fabsf(res.tile_ood[t] - own / other) <= 1e-5f * own / other; /* 0 / 0: as a bank tile */
    }
    CHECK(same);
    free(f);
    cs_result_free(&res);
    float *before = malloc(sizeof(float) * val->n), *after = malloc(sizeof(float) * val->n);
    image_scores(&m, val, before);
    CHECK_NEAR(m.ood.threshold, frr_quantile(before, val->n, 0.25f), 1e-5 * m.ood.threshold); /* "%.6g" in the metadata */
    CHECK(round_trip(&m, &back, &err) == CS_OK && back.ood.kind == CS_OOD_KIND_TRUST);
    image_scores(&back, val, after);
    CHECK(!memcmp(before, after, sizeof(float) * val->n) && !isnan(after[0]));
    free(before);
    free(after);
    cs_model_free(&back);
    cs_model_free(&m);
}

/* image_class_penultimate by hand: an image's mean of its voting tiles'
   normalised features, normalised, and its distance to the nearest bank image
   of its class, whatever ood_k. */
static void test_image_class_score(void) {
    /* Three tiles: (3, 4) and (0, 2) vote, (5, 0) is background. Normalised:
       (0.6, 0.8) + (0, 1) = (0.6, 1.8), normalised (1, 3) / sqrt(10). */
    float feat[3][2] = {{3, 4}, {5, 0}, {0, 2}}, u[2];
    uint8_t background[3] = {0, 1, 0};
    cs_result res = {.ntiles = 3, .nforeground = 2, .background = background};
    cs_ood_image_mean(&feat[0][0], &res, 2, u);
    CHECK_NEAR(u[0], 1 / sqrt(10), 1e-6);
    CHECK_NEAR(u[1], 3 / sqrt(10), 1e-6);
    res.nforeground = 0, background[1] = 1; /* all background: every tile votes */
    background[0] = background[2] = 1;
    cs_ood_image_mean(&feat[0][0], &res, 2, u); /* (1.6, 1.8) */
    CHECK_NEAR(u[0], 1.6 / hypot(1.6, 1.8), 1e-6);

    float bank[3][2] = {{1, 0}, {0, 1}, {0.6f, 0.8f}}, cls[3] = {0, 0, 1};
    cs_model m;
    hand_bank(&m, CS_OOD_KIND_IMAGE_CLASS, 10, 2, &bank[0][0], cls, 3);
    CHECK(cs_ood_ready(&m) && cs_ood_by_class(m.ood.kind) && cs_ood_by_image(m.ood.kind)); /* k 10 > 3 rows */
    float f[2] = {0.8f, 0.6f}; /* class 0: sqrt(0.4) to (1, 0); class 1: sqrt(0.08) */
    CHECK_NEAR(cs_ood_tile_score(&m, f, 0), sqrt(0.4), 1e-5);
    CHECK_NEAR(cs_ood_tile_score(&m, f, 1), sqrt(0.08), 1e-5);
    cs_model_free(&m);
}

/* image_class_penultimate fitted on the training fixture: a bank row a
   training image with its class, each image scored as its own mean's
   distance to the nearest of its class's rows (not the mean of its tiles'),
   a threshold as frr says, metadata that says images, not ood_k, and a file
   that gives the same scores; fitted on fewer images than ood_k. */
static void test_image_class_fit(const cs_dataset *train, const cs_dataset *val) {
    cs_model m, back;
    cs_error err;
    CHECK(cs_model_init(&m, "conv4,pool,conv8,gap,dense6,dense", 32, 2, CLASSES, 3, &err) == CS_OK);
    CHECK(cs_model_set(&m, CS_META_OOD_SCORE, CS_OOD_IMAGE_CLASS, &err) == CS_OK &&
          m.ood.kind == CS_OOD_KIND_IMAGE_CLASS);
    CHECK(cs_ood_fit(&m, train, val, 0.25f, &err) == CS_OK);
    CHECK(m.ood.nbank == train->n && m.ood.bank_class && m.ood.bank_dim == 6 && !isnan(m.ood.threshold));
    CHECK(!cs_model_get(&m, CS_META_OOD_K) && cs_model_get(&m, "ood_bank_images") &&
          atoi(cs_model_get(&m, "ood_bank_images")) == train->n && !cs_model_get(&m, "ood_bank_tiles"));
    for (int b = 0; b < m.ood.nbank && m.ood.bank_class; b++) CHECK(m.ood.bank_class[b] == (float)train->labels[b]);

    cs_result res;
    float *f = NULL;
    CHECK(cs_classify_features(&m, &val->images[0], -1, &res, &f, &err) == CS_OK);
    if (f && res.tile_ood) {
        double u[6] = {0}, len = 0, d = INFINITY, tiles = 0;
        for (int t = 0; t < res.ntiles; t++) {
            double n = 0;
            for (int i = 0; i < 6; i++) n += (double)f[t * 6 + i] * f[t * 6 + i];
            for (int i = 0; i < 6 && cs_tile_votes(&res, t); i++) u[i] += f[t * 6 + i] / sqrt(n);
            tiles += res.tile_ood[t];
        }
        for (int i = 0; i < 6; i++) len += u[i] * u[i];
        for (int b = 0; b < m.ood.nbank; b++) {
            double s = 0;
            for (int i = 0; i < 6; i++) s += pow(u[i] / sqrt(len) - m.ood.bank[b * 6 + i], 2);
            if ((int)m.ood.bank_class[b] == res.predicted) d = fmin(d, sqrt(s));
        }
        CHECK_NEAR(res.ood_score, d, 1e-5);
        CHECK(fabs(res.ood_score - tiles / res.ntiles) > 1e-3); /* not the tiles' mean */
        CHECK_NEAR(res.tile_ood[0], cs_ood_knn(m.ood.bank, m.ood.bank_class, res.predicted, m.ood.nbank, 6, 1, f), 1e-6);
    }
    free(f);
    cs_result_free(&res);
    float *before = malloc(sizeof(float) * val->n), *after = malloc(sizeof(float) * val->n);
    image_scores(&m, val, before);
    CHECK_NEAR(m.ood.threshold, frr_quantile(before, val->n, 0.25f), 1e-5 * m.ood.threshold);
    CHECK(round_trip(&m, &back, &err) == CS_OK && back.ood.kind == CS_OOD_KIND_IMAGE_CLASS &&
          back.ood.nbank == train->n);
    image_scores(&back, val, after);
    CHECK(!memcmp(before, after, sizeof(float) * val->n) && !isnan(after[0]));
    free(before);
    free(after);
    cs_model_free(&back);
    /* Two images, one a class: a bank of 2 rows, fewer than ood_k's 10. */
    cs_dataset two = {0};
    for (int c = 0; c < 2; c++)
        for (int i = 0; i < train->n; i++)
            if (train->labels[i] == c) {
                cs_image copy = {.w = train->images[i].w, .h = train->images[i].h,
                                 .gray = malloc((size_t)train->images[i].w * train->images[i].h)};
                memcpy(copy.gray, train->images[i].gray, (size_t)copy.w * copy.h);
                CHECK(cs_dataset_add(&two, &copy, c, train->names[i], &err) == CS_OK);
                free(copy.gray);
                break;
            }
    CHECK(cs_ood_fit(&m, &two, val, 0.25f, &err) == CS_OK && m.ood.nbank == 2 && cs_ood_ready(&m));
    CHECK(round_trip(&m, &back, &err) == CS_OK && cs_ood_ready(&back));
    cs_model_free(&back);
    cs_dataset_free(&two);
    cs_model_free(&m);
}

/* The score by image's thresholds for images of few tiles: cs_ood_threshold by
   hand (linear in log(tiles) between the counts, ood_threshold from the last
   on); fitted (counts rising from 1 to the validation images' own, thresholds
   never lower for fewer tiles, the last ood_threshold), kept in a file, gone
   with another score; the verdict of a small image read from them; bad
   metadata refused. */
static void test_thresholds_by_tiles(const cs_dataset *train, const cs_dataset *val) {
    cs_ood o = {.threshold = 0.2f, .nsmall = 3, .small_tiles = {1, 4, 16}, .small_threshold = {0.6f, 0.4f, 0.2f}};
    CHECK_NEAR(cs_ood_threshold(&o, 1), 0.6, 1e-6);
    CHECK_NEAR(cs_ood_threshold(&o, 2), 0.5, 1e-6);
    CHECK_NEAR(cs_ood_threshold(&o, 8), 0.3, 1e-6);
    CHECK_NEAR(cs_ood_threshold(&o, 16), 0.2, 1e-6);
    CHECK_NEAR(cs_ood_threshold(&o, 500), 0.2, 1e-6);
    o.nsmall = 0;
    CHECK_NEAR(cs_ood_threshold(&o, 1), 0.2, 1e-6);

    cs_model m, back;
    cs_error err;
    CHECK(cs_model_init(&m, "conv4,pool,conv8,gap,dense6,dense", 32, 2, CLASSES, 3, &err) == CS_OK);
    CHECK(cs_model_set(&m, CS_META_OOD_SCORE, CS_OOD_IMAGE_CLASS, &err) == CS_OK);
    CHECK(cs_ood_fit(&m, train, val, 0.25f, &err) == CS_OK);
    const cs_ood *f = &m.ood;
    CHECK(f->nsmall >= 2 && f->small_tiles[0] == 1 && cs_model_get(&m, CS_META_OOD_THRESHOLDS_BY_TILES));
    for (int i = 1; i < f->nsmall; i++)
        CHECK(f->small_tiles[i] > f->small_tiles[i - 1] && f->small_threshold[i] <= f->small_threshold[i - 1]);
    int *tiles = malloc(sizeof(int) * val->n);
    for (int i = 0; i < val->n; i++) {
        cs_result res;
        CHECK(cs_classify(&m, &val->images[i], -1, &res, NULL, NULL, &err) == CS_OK);
        tiles[i] = cs_voting_tiles(&res);
        cs_result_free(&res);
    }
    int below = 0, above = 0, last = f->small_tiles[f->nsmall - 1];
    for (int i = 0; i < val->n; i++) below += tiles[i] < last, above += tiles[i] > last;
    CHECK(below <= val->n / 2 && above <= val->n / 2); /* the median count */
    CHECK(f->small_threshold[f->nsmall - 1] == f->threshold && f->small_threshold[0] > f->threshold);
    CHECK(round_trip(&m, &back, &err) == CS_OK && back.ood.nsmall == f->nsmall &&
          !memcmp(back.ood.small_tiles, f->small_tiles, sizeof f->small_tiles));
    for (int i = 0; i < f->nsmall; i++) CHECK_NEAR(back.ood.small_threshold[i], f->small_threshold[i], 1e-6 * f->small_threshold[i]);
    cs_model_free(&back);

    /* A threshold every whole image is above, and none of a few tiles: the small one is known. */
    CHECK(cs_model_set(&m, CS_META_OOD_THRESHOLD, "0", &err) == CS_OK);
    CHECK(cs_model_set(&m, CS_META_OOD_THRESHOLDS_BY_TILES, "1:100,2:100,3:0", &err) == CS_OK && m.ood.nsmall == 3);
    const cs_image *im = &val->images[0];
    cs_image small = {.w = 64, .h = 32, .gray = malloc(64 * 32)};
    for (int y = 0; y < 32; y++) memcpy(small.gray + y * 64, im->gray + (size_t)y * im->w, 64);
    cs_result whole, part;
    CHECK(cs_classify(&m, im, -1, &whole, NULL, NULL, &err) == CS_OK && whole.known == 0);
    CHECK(cs_classify(&m, &small, -1, &part, NULL, NULL, &err) == CS_OK);
    CHECK(cs_voting_tiles(&part) <= 2 && part.known == 1);
    cs_result_free(&whole);
    cs_result_free(&part);
    free(small.gray);

    const char *bad[] = {"", "0:0.5", "2:0.5,1:0.4", "1:0.5,1:0.4", "1:-1", "1:0.5,", "1:0.5;2:0.3", "a:1", "1",
                         "1:2,2:2,3:2,4:2,5:2,6:2,7:2,8:2,9:2"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        CHECK(cs_model_set(&m, CS_META_OOD_THRESHOLDS_BY_TILES, bad[i], &err) == CS_EINPUT &&
              strstr(err.msg, CS_META_OOD_THRESHOLDS_BY_TILES));
        CHECK(m.ood.nsmall == 3); /* as it was */
    }
    /* Another score has no such thresholds. */
    CHECK(cs_model_set(&m, CS_META_OOD_SCORE, CS_OOD_TRUST, &err) == CS_OK);
    CHECK(cs_ood_fit(&m, train, val, 0.25f, &err) == CS_OK && m.ood.nsmall == 0 &&
          !cs_model_get(&m, CS_META_OOD_THRESHOLDS_BY_TILES));
    free(tiles);
    cs_model_free(&m);
}

/* ood_score knn_class_penultimate fitted on the training fixture: the bank's
   classes, tile scores as the kNN distance to the bank rows of the image's
   class, a file that gives the same scores, and files whose classes are bad
   or without a bank, refused. */
static void test_knn_class_fit(const cs_dataset *train, const cs_dataset *val) {
    cs_model m, back;
    cs_error err;
    CHECK(cs_model_init(&m, "conv4,pool,conv8,gap,dense6,dense", 32, 2, CLASSES, 3, &err) == CS_OK);
    CHECK(cs_model_set(&m, CS_META_OOD_SCORE, CS_OOD_KNN_CLASS, &err) == CS_OK && m.ood.kind == CS_OOD_KIND_KNN_CLASS);
    /* With test-time averaging, which can call an image another class than its first view does. */
    CHECK(cs_model_set(&m, CS_META_TTA, CS_TTA_DIHEDRAL8, &err) == CS_OK && m.tta);
    CHECK(cs_ood_fit(&m, train, val, 0.25f, &err) == CS_OK);
    CHECK(m.ood.bank && m.ood.bank_class && m.ood.bank_dim == 6 && !isnan(m.ood.threshold));
    CHECK(!strcmp(cs_model_get(&m, CS_META_OOD_K), "10"));
    int per[2] = {0, 0};
    for (int b = 0; b < m.ood.nbank && m.ood.bank_class; b++) per[(int)m.ood.bank_class[b]]++;
    CHECK(per[0] >= 10 && per[1] >= 10 && per[0] + per[1] == m.ood.nbank);

    cs_result res;
    float *f = NULL;
    CHECK(cs_classify_features(&m, &val->images[0], -1, &res, &f, &err) == CS_OK);
    int same = f != NULL && res.tile_ood != NULL, other = 0;
    for (int t = 0; same && t < res.ntiles; t++) {
        float mine = cs_ood_knn(m.ood.bank, m.ood.bank_class, res.predicted, m.ood.nbank, 6, 10, f + t * 6);
        same &= fabsf(res.tile_ood[t] - mine) <= 1e-6f;
        other |= fabsf(mine - cs_ood_knn(m.ood.bank, NULL, 0, m.ood.nbank, 6, 10, f + t * 6)) > 1e-6f;
    }
    CHECK(same);
    CHECK(other); /* not the distance to the whole bank */
    free(f);
    cs_result_free(&res);

    float *before = malloc(sizeof(float) * val->n), *after = malloc(sizeof(float) * val->n);
    image_scores(&m, val, before);
    int above = 0;
    for (int i = 0; i < val->n; i++) above += before[i] > m.ood.threshold;
    CHECK(quarter_above(above, val->n));
    CHECK(round_trip(&m, &back, &err) == CS_OK);
    CHECK(back.ood.kind == CS_OOD_KIND_KNN_CLASS && back.ood.bank_class &&
          !memcmp(back.ood.bank_class, m.ood.bank_class, sizeof(float) * m.ood.nbank));
    image_scores(&back, val, after);
    CHECK(!memcmp(before, after, sizeof(float) * val->n) && !isnan(after[0]));
    cs_model_free(&back);

    m.ood.bank_class[0] = 2; /* no such class */
    CHECK(round_trip(&m, &back, &err) == CS_EINPUT && strstr(err.msg, "ood.bank_class"));
    m.ood.bank_class[0] = 0.5f;
    CHECK(round_trip(&m, &back, &err) == CS_EINPUT && strstr(err.msg, "not a class index"));
    m.ood.bank_class[0] = 0;
    uint8_t *bytes;
    size_t size;
    CHECK(cs_model_write(&m, &bytes, &size, &err) == CS_OK);
    uint8_t *at = memmem(bytes, size, "\"ood.bank\":", 11);
    CHECK(at != NULL);
    if (at) at[6] = 'X'; /* "ood.bXnk": the classes of no bank */
    CHECK(cs_model_read(&back, bytes, size, &err) == CS_EINPUT && strstr(err.msg, "no ood.bank"));
    free(bytes);
    free(before);
    free(after);
    threshold_as_predicted(&m, val);
    cs_model_free(&m);
}

int main(int argc, char **argv) {
    data_dir = argc > 1 ? argv[1] : "tests/data";
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/train", data_dir);
    cs_dataset all, train, val;
    cs_error err;
    if (cs_dataset_load(&all, dir, CLASSES, 2, NULL, NULL, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    CHECK(cs_dataset_split_rows(&all, 1, 2, 32, 0, &train, &val, &err) == CS_OK);
    test_score();
    test_fit(&train, &val);
    test_msp(&train, &val);
    test_bad_files();
    test_knn_score();
    test_knn_fit(&train, &val);
    test_knn_bad_files();
    test_mahalanobis_penultimate(&train, &val);
    test_knn_class_score();
    test_trust_score();
    test_knn_class_fit(&train, &val);
    test_trust_fit(&train, &val);
    test_image_class_score();
    test_image_class_fit(&train, &val);
    test_thresholds_by_tiles(&train, &val);
    cs_dataset_free(&all);
    cs_dataset_free(&train);
    cs_dataset_free(&val);
    return test_summary();
}
