/* test_calibrate.c: temperature scaling and the calibration error
   (calibrate.c): the map against its closed form, a fit that recovers a known
   temperature, ECE worked out by hand, and a model that applies its own. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "test.h"

static const char *data_dir;

static void test_temper(void) {
    /* Two classes: p1 = sigmoid(logit / T); logit(0.8) = log 4, so T = 2 gives 2/3. */
    float p[2] = {0.2f, 0.8f};
    cs_temper(p, 2, 2);
    CHECK_NEAR(p[1], 2 / 3.0, 1e-6);
    CHECK_NEAR(p[0] + p[1], 1, 1e-6);
    /* Going back with 1 / T gives the probabilities again; T = 1 changes nothing. */
    float q[4] = {0.1f, 0.6f, 0.25f, 0.05f}, r[4];
    memcpy(r, q, sizeof q);
    cs_temper(r, 4, 0.3f);
    CHECK(r[1] > q[1] && r[3] < q[3]); /* sharper */
    CHECK(r[1] > r[2] && r[2] > r[0] && r[0] > r[3]); /* the ranking kept */
    cs_temper(r, 4, 1 / 0.3f);
    CHECK(test_rel_err(r, q, 4) < 1e-5);
    cs_temper(r, 4, 1);
    CHECK(test_rel_err(r, q, 4) < 1e-5);
    /* A probability that rounded to 0 still tempers to something finite. */
    float z[2] = {0, 1};
    cs_temper(z, 2, 4);
    CHECK(isfinite(z[0]) && z[0] > 0 && z[1] <= 1);
}

/* n samples of K classes: logits z drawn at random, probs softmax(z), and
   labels drawn from softmax(z / T0): a model T0 times too confident. */
static void synthetic(float *probs, int *labels, int n, int K, float T0, cs_rng *rng) {
    for (int i = 0; i < n; i++) {
        float *p = probs + (size_t)i * K, truth[16];
        for (int k = 0; k < K; k++) p[k] = expf(6 * (cs_rng_uniform(rng) - 0.5f));
        float s = 0;
        for (int k = 0; k < K; k++) s += p[k];
        for (int k = 0; k < K; k++) truth[k] = p[k] /= s;
        cs_temper(truth, K, T0);
        float u = cs_rng_uniform(rng), c = 0;
        labels[i] = K - 1;
        for (int k = 0; k < K; k++)
            if (u < (c += truth[k])) {
                labels[i] = k;
                break;
            }
    }
}

static void test_fit(void) {
    enum { N = 20000, K = 4 };
    float *probs = malloc(sizeof(float) * N * K);
    int *labels = malloc(sizeof(int) * N);
    cs_rng rng;
    cs_rng_seed(&rng, 3);
    for (int j = 0; j < 3; j++) {
        float T0 = (float[]){0.5f, 1, 2.5f}[j];
        synthetic(probs, labels, N, K, T0, &rng);
        float T = cs_fit_temperature(probs, labels, N, K);
        printf("labels drawn at temperature %.2f: fitted %.3f\n", T0, T);
        CHECK_NEAR(T, T0, 0.08 * T0);
        /* Tempered, the probabilities are calibrated: ECE falls (to noise). */
        double before = cs_ece(probs, labels, N, K, CS_ECE_BINS, NULL);
        for (int i = 0; i < N; i++) cs_temper(probs + (size_t)i * K, K, T);
        double after = cs_ece(probs, labels, N, K, CS_ECE_BINS, NULL);
        CHECK(after < 0.02);
        if (T0 != 1) CHECK(after < before / 2);
    }
    CHECK_NEAR(cs_fit_temperature(probs, labels, 0, K), 1, 0);
    /* Twelve tiles, all right and sure: the cross-entropy falls without end as
       T falls, the prior stops it short of the range's end, at one place. */
    float sure[24];
    int right[12];
    for (int i = 0; i < 12; i++) {
        right[i] = i % 2;
        sure[2 * i + right[i]] = 0.99f + 0.0008f * i;
        sure[2 * i + !right[i]] = 1 - sure[2 * i + right[i]];
    }
    float T = cs_fit_temperature(sure, right, 12, 2);
    printf("twelve sure tiles: temperature %.4f\n", T);
    CHECK(T > CS_MIN_TEMPERATURE * 1.5 && T < 1);
    free(probs);
    free(labels);
}

static void test_ece(void) {
    /* Top probabilities 0.9, 0.9 (one right), 0.6 (right), 0.55 (wrong): bins
       of 0.9 (confidence 0.9, accuracy 0.5), 0.6 (0.6, 1) and 0.55 (0.55, 0):
       ECE = 2/4 * 0.4 + 1/4 * 0.4 + 1/4 * 0.55. */
    float p[] = {0.1f, 0.9f, 0.9f, 0.1f, 0.4f, 0.6f, 0.55f, 0.45f};
    int labels[] = {1, 1, 1, 1};
    cs_calibration_bin bins[CS_ECE_BINS];
    CHECK_NEAR(cs_ece(p, labels, 4, 2, CS_ECE_BINS, bins), 0.5 * 0.4 + 0.25 * 0.4 + 0.25 * 0.55, 1e-6);
    CHECK(bins[13].n == 2 && bins[9].n == 1 && bins[8].n == 1); /* 0.9 * 15 = 13.5, 9, 8.25 */
    CHECK_NEAR(bins[13].accuracy, 0.5, 1e-12);
    CHECK(isnan(cs_ece(p, labels, 0, 2, CS_ECE_BINS, NULL)));
    cs_metrics mt;
    cs_metrics_init(&mt, 2);
    for (int i = 0; i < 4; i++) cs_metrics_add(&mt, p + 2 * i, labels[i], 1, NULL);
    CHECK_NEAR(cs_metrics_ece(&mt, CS_ECE_BINS, NULL), 0.5 * 0.4 + 0.25 * 0.4 + 0.25 * 0.55, 1e-6);
    cs_metrics_free(&mt);
}

/* A model applies its temperature to each tile, and its metadata checks it. */
static void test_model(void) {
    char path[1024];
    snprintf(path, sizeof path, "%s/images/cells.png", data_dir);
    cs_image im;
    cs_error err;
    CHECK(cs_image_load(&im, path, &err) == CS_OK);
    cs_model m;
    CHECK(cs_model_init(&m, "conv4,gap,dense", 32, 3, NULL, 5, &err) == CS_OK);
    CHECK(m.temperature == 1);
    cs_result plain, warm;
    CHECK(cs_classify(&m, &im, 0, &plain, NULL, NULL, &err) == CS_OK);
    CHECK(cs_model_set(&m, CS_META_TEMPERATURE, "2.5", &err) == CS_OK && m.temperature == 2.5f);
    CHECK(cs_classify(&m, &im, 0, &warm, NULL, NULL, &err) == CS_OK);
    double worst = 0;
    for (int t = 0; t < plain.ntiles; t++) {
        float *p = plain.tile_probs + (size_t)t * 3;
        cs_temper(p, 3, 2.5f);
        worst = fmax(worst, test_rel_err(warm.tile_probs + (size_t)t * 3, p, 3));
        CHECK(warm.tile_class[t] == plain.tile_class[t]);
    }
    CHECK(worst < 1e-5);
    cs_result_free(&plain);
    cs_result_free(&warm);
    for (int i = 0; i < 4; i++) {
        const char *bad = (const char *[]){"0", "abc", "100", "-1"}[i];
        CHECK(cs_model_set(&m, CS_META_TEMPERATURE, bad, &err) == CS_EINPUT);
        CHECK(strstr(err.msg, "temperature") != NULL);
    }
    CHECK(m.temperature == 2.5f);
    cs_model_free(&m);
    cs_image_free(&im);
}

/* cs_calibrate: the temperature recorded, and a two-class threshold moved
   with it so that no tile changes its class. */
static void test_calibrate_model(void) {
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/train", data_dir);
    const char *classes[] = {"MDAMB231", "T47D"};
    cs_dataset ds;
    cs_error err;
    CHECK(cs_dataset_load(&ds, dir, classes, 2, NULL, NULL, &err) == CS_OK);
    cs_model m;
    CHECK(cs_model_init(&m, "conv4,gap,dense", 32, 2, classes, 9, &err) == CS_OK);
    CHECK(cs_model_set(&m, CS_META_THRESHOLD, "0.45", &err) == CS_OK);
    cs_eval ev0, ev1;
    cs_eval_init(&ev0, 2);
    cs_eval_init(&ev1, 2);
    CHECK(cs_evaluate(&m, &ds, 0, &ev0, NULL, NULL, &err) == CS_OK);
    /* A model with no validation split is calibrated on all the images, or refused. */
    CHECK(cs_calibrate(&m, &ds, 1, NULL, &err) == CS_EINPUT && strstr(err.msg, "val_split"));
    double ece[2];
    CHECK(cs_calibrate(&m, &ds, 0, ece, &err) == CS_OK);
    printf("random model: temperature %g, threshold %g, ECE %.4f -> %.4f\n", m.temperature,
           m.threshold, ece[0], ece[1]);
    CHECK(m.temperature >= CS_MIN_TEMPERATURE && m.temperature <= CS_MAX_TEMPERATURE);
    CHECK(m.temperature != 1);
    CHECK(cs_model_get(&m, CS_META_TEMPERATURE) != NULL);
    CHECK(ece[1] <= ece[0] + 0.02);
    CHECK(cs_evaluate(&m, &ds, 0, &ev1, NULL, NULL, &err) == CS_OK);
    CHECK(ev0.tiles.n == ev1.tiles.n);
    int same = 1;
    for (int i = 0; i < ev0.tiles.n && i < ev1.tiles.n; i++) same &= ev0.tiles.predicted[i] == ev1.tiles.predicted[i];
    CHECK(same);
    CHECK_NEAR(cs_metrics_ece(&ev1.tiles, CS_ECE_BINS, NULL), ece[1], 1e-4);
    cs_eval_free(&ev0);
    cs_eval_free(&ev1);
    cs_model_free(&m);
    cs_dataset_free(&ds);
}

int main(int argc, char **argv) {
    data_dir = argc > 1 ? argv[1] : "tests/data";
    test_temper();
    test_fit();
    test_ece();
    test_model();
    test_calibrate_model();
    return test_summary();
}
