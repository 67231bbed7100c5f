/* test_ood.c: out-of-distribution statistics (ood.c): the Mahalanobis score
   against its closed form, statistics fitted from tiles and their threshold,
   a model file that keeps them, and files that hold them wrong; the msp score,
   which needs no statistics. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "test.h"

static const char *data_dir;
static const char *CLASSES[] = {"MDAMB231", "T47D"};

/* With the identity as precision the score is the squared distance to the nearest mean. */
static void test_score(void) {
    cs_model m;
    CHECK(cs_model_init(&m, "conv4,gap,dense", 32, 2, CLASSES, 1, NULL) == CS_OK);
    CHECK(cs_ood_dim(&m.net) == 4);
    float means[8] = {0, 0, 0, 0, 1, 1, 1, 1}, prec[16] = {0};
    for (int i = 0; i < 4; i++) prec[i * 5] = 1;
    m.ood = (cs_ood){4, malloc(sizeof means), malloc(sizeof prec), NAN, 0};
    memcpy(m.ood.means, means, sizeof means);
    memcpy(m.ood.precision, prec, sizeof prec);
    CHECK_NEAR(cs_ood_tile_score(&m, (float[]){0.2f, 0, 0, 0}), 0.04, 1e-6);
    CHECK_NEAR(cs_ood_tile_score(&m, (float[]){1, 1, 1, 3}), 4, 1e-6);
    m.ood.precision[15] = 4; /* the last feature counts 4 times over */
    CHECK_NEAR(cs_ood_tile_score(&m, (float[]){1, 1, 1, 3}), 16, 1e-5);
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
    /* The 0.75 quantile of the n scores, interpolated: a quarter of n - 1 above, rounded either way. */
    CHECK(above >= (int)floor(0.25 * (val->n - 1)) && above <= (int)ceil(0.25 * (val->n - 1)));
    printf("%d validation images, %d above the threshold %g\n", val->n, above, m.ood.threshold);

    /* Training tiles score low: their mean is near the dimension (chi-squared). */
    cs_result res;
    CHECK(cs_classify(&m, &train->images[0], -1, &res, NULL, NULL, &err) == CS_OK);
    CHECK(res.ood_score > 0 && res.ood_score < 4 * 8);
    cs_result_free(&res);

    /* Saved and loaded: the same statistics and verdicts. */
    uint8_t *bytes;
    size_t size;
    CHECK(cs_model_write(&m, &bytes, &size, &err) == CS_OK);
    cs_model back;
    CHECK(cs_model_read(&back, bytes, size, &err) == CS_OK);
    CHECK(back.ood.dim == 8 && back.ood.threshold == m.ood.threshold);
    CHECK(back.ood.means && !memcmp(back.ood.means, m.ood.means, sizeof(float) * 2 * 8));
    CHECK(back.ood.precision && !memcmp(back.ood.precision, m.ood.precision, sizeof(float) * 8 * 8));
    cs_model_free(&back);
    free(bytes);

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
    CHECK(cs_model_set(&m, CS_META_OOD_SCORE, CS_OOD_MSP, &err) == CS_OK && m.ood.msp);
    CHECK(cs_model_set(&m, CS_META_TEMPERATURE, "2", &err) == CS_OK);
    m.tta = 1;
    CHECK(cs_ood_fit(&m, train, val, 0.25f, &err) == CS_OK);
    CHECK(m.ood.msp && m.ood.dim == 0 && !m.ood.means && !isnan(m.ood.threshold));
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
    CHECK(above >= (int)floor(0.25 * (val->n - 1)) && above <= (int)ceil(0.25 * (val->n - 1)));

    uint8_t *bytes;
    size_t size;
    CHECK(cs_model_write(&m, &bytes, &size, &err) == CS_OK);
    cs_model back;
    CHECK(cs_model_read(&back, bytes, size, &err) == CS_OK);
    CHECK(back.ood.msp && back.ood.dim == 0 && back.ood.threshold == m.ood.threshold);
    cs_model_free(&back);
    free(bytes);
    /* Back to mahalanobis: statistics again. */
    CHECK(cs_model_set(&m, CS_META_OOD_SCORE, CS_OOD_MAHALANOBIS, &err) == CS_OK && !m.ood.msp);
    CHECK(cs_ood_fit(&m, train, val, 0.25f, &err) == CS_OK && m.ood.dim == 8);
    cs_model_free(&m);
}

/* A file with statistics that do not fit its network is refused by name. */
static void test_bad_files(void) {
    cs_model m;
    cs_error err;
    CHECK(cs_model_init(&m, "conv4,gap,dense", 32, 2, CLASSES, 1, NULL) == CS_OK);
    m.ood = (cs_ood){4, calloc(8, sizeof(float)), calloc(16, sizeof(float)), NAN, 0};
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
    cs_dataset_free(&all);
    cs_dataset_free(&train);
    cs_dataset_free(&val);
    return test_summary();
}
