/* test_metrics.c: the figures of metrics.c against values worked out by hand. */
#include <math.h>
#include <stdlib.h>

#include "internal.h"
#include "test.h"

static double auc_of(const float *score, const uint8_t *positive, int n) {
    cs_roc roc;
    cs_roc_compute(&roc, score, positive, n, NULL);
    double auc = roc.auc;
    cs_roc_free(&roc);
    return auc;
}

static void test_roc(void) {
    /* Positives 0.9 0.8 0.5 0.3, negatives 0.7 0.5 0.2: of the 12 pairs 8 are
       ordered right and one (0.5, 0.5) is tied: AUC = 8.5 / 12. */
    float score[] = {0.9f, 0.7f, 0.8f, 0.5f, 0.5f, 0.3f, 0.2f};
    uint8_t pos[] = {1, 0, 1, 1, 0, 1, 0};
    cs_roc roc;
    CHECK(cs_roc_compute(&roc, score, pos, 7, NULL) == CS_OK);
    CHECK_NEAR(roc.auc, 8.5 / 12, 1e-12);
    /* One point per distinct score: (0,0) then 0.9 0.8 0.7 0.5 0.3 0.2. */
    CHECK(roc.n == 7);
    float fpr[] = {0, 0, 0, 1 / 3.f, 2 / 3.f, 2 / 3.f, 1};
    float tpr[] = {0, .25f, .5f, .5f, .75f, 1, 1};
    for (int i = 0; i < 7 && i < roc.n; i++) {
        CHECK_NEAR(roc.fpr[i], fpr[i], 1e-6);
        CHECK_NEAR(roc.tpr[i], tpr[i], 1e-6);
    }
    CHECK_NEAR(roc.threshold[4], 0.5, 0);
    /* Youden's J peaks at 0.5 (threshold 0.8); halfway down to 0.7. */
    CHECK_NEAR(cs_roc_best_threshold(&roc), 0.75, 1e-6);
    cs_roc_free(&roc);

    float sep[] = {0.1f, 0.2f, 0.8f, 0.9f};
    uint8_t up[] = {0, 0, 1, 1}, down[] = {1, 1, 0, 0}, none[] = {0, 0, 0, 0};
    CHECK_NEAR(auc_of(sep, up, 4), 1, 0);
    CHECK_NEAR(auc_of(sep, down, 4), 0, 0);
    CHECK(isnan(auc_of(sep, none, 4)));
    float tied[] = {0.5f, 0.5f, 0.5f, 0.5f};
    CHECK_NEAR(auc_of(tied, up, 4), 0.5, 0);
    cs_roc_compute(&roc, tied, up, 4, NULL);
    CHECK(roc.n == 2);
    CHECK_NEAR(cs_roc_best_threshold(&roc), 0.5, 0); /* no better than chance */
    cs_roc_free(&roc);
}

static void test_confusion(void) {
    /* 3 classes, (true, predicted): rows of the confusion matrix are
       [2 1 0] [0 1 1] [1 0 2]. */
    int pairs[][2] = {{0, 0}, {0, 0}, {0, 1}, {1, 1}, {1, 2}, {2, 2}, {2, 2}, {2, 0}};
    cs_metrics mt;
    cs_metrics_init(&mt, 3);
    for (int i = 0; i < 8; i++) {
        float p[3] = {0.1f, 0.1f, 0.1f};
        p[pairs[i][1]] = 0.8f;
        CHECK(cs_metrics_add(&mt, p, pairs[i][0], pairs[i][1], NULL) == CS_OK);
    }
    CHECK(cs_metrics_add(&mt, (float[3]){1, 0, 0}, 3, 0, NULL) == CS_EINPUT);
    CHECK(mt.n == 8);
    int conf[9], want[9] = {2, 1, 0, 0, 1, 1, 1, 0, 2};
    cs_metrics_confusion(&mt, conf);
    for (int i = 0; i < 9; i++) CHECK(conf[i] == want[i]);
    CHECK_NEAR(cs_metrics_accuracy(&mt), 5 / 8.0, 1e-12);
    /* 5 samples have p[true] = 0.8, 3 have 0.1. */
    CHECK_NEAR(cs_metrics_loss(&mt), -(5 * log(0.8f) + 3 * log(0.1f)) / 8, 1e-6);

    cs_class_figures f0 = cs_metrics_class(&mt, 0), f1 = cs_metrics_class(&mt, 1),
                     f2 = cs_metrics_class(&mt, 2);
    CHECK_NEAR(f0.precision, 2 / 3.0, 1e-12);
    CHECK_NEAR(f0.recall, 2 / 3.0, 1e-12);
    CHECK_NEAR(f0.f1, 2 / 3.0, 1e-12);
    CHECK(f0.support == 3 && f0.correct == 2);
    CHECK_NEAR(f1.precision, 0.5, 1e-12);
    CHECK_NEAR(f1.recall, 0.5, 1e-12);
    CHECK(f1.support == 2);
    CHECK_NEAR(f2.precision, 2 / 3.0, 1e-12);
    CHECK(f2.support == 3);

    /* Micro-averaged one-vs-rest ROC: two samples whose true class is the most
       probable rank both positives above all four negatives. */
    cs_metrics two;
    cs_metrics_init(&two, 3);
    cs_metrics_add(&two, (float[3]){0.6f, 0.3f, 0.1f}, 0, 0, NULL);
    cs_metrics_add(&two, (float[3]){0.2f, 0.3f, 0.5f}, 2, 2, NULL);
    cs_roc roc;
    CHECK(cs_metrics_roc(&two, &roc, NULL) == CS_OK);
    CHECK_NEAR(roc.auc, 1, 0);
    cs_roc_free(&roc);
    cs_metrics_free(&two);

    /* A class never predicted and never present has all figures 0, not NaN. */
    cs_metrics_free(&mt);
    cs_metrics_init(&mt, 3);
    cs_metrics_add(&mt, (float[3]){1, 0, 0}, 0, 0, NULL);
    cs_class_figures empty = cs_metrics_class(&mt, 2);
    CHECK(empty.precision == 0 && empty.recall == 0 && empty.f1 == 0 && empty.support == 0);
    cs_metrics_free(&mt);
}

static void test_binary_roc(void) {
    /* Two classes: the ROC scores p1 against class 1. */
    cs_metrics mt;
    cs_metrics_init(&mt, 2);
    float p1[] = {0.9f, 0.4f, 0.6f, 0.2f};
    int label[] = {1, 1, 0, 0};
    for (int i = 0; i < 4; i++)
        cs_metrics_add(&mt, (float[2]){1 - p1[i], p1[i]}, label[i], p1[i] >= 0.5f, NULL);
    cs_roc roc;
    CHECK(cs_metrics_roc(&mt, &roc, NULL) == CS_OK);
    CHECK_NEAR(roc.auc, 0.75, 1e-12); /* 0.4 < 0.6 is the one pair out of order */
    cs_roc_free(&roc);
    cs_metrics_free(&mt);
}

static void test_top5(void) {
    /* Seven classes; the true class 0 ranks 5th, 6th, and tied for 5th. */
    float fifth[7] = {0.10f, 0.30f, 0.20f, 0.15f, 0.12f, 0.08f, 0.05f};
    float sixth[7] = {0.08f, 0.30f, 0.20f, 0.15f, 0.12f, 0.10f, 0.05f};
    float tied[7] = {0.10f, 0.30f, 0.20f, 0.15f, 0.12f, 0.10f, 0.03f};
    cs_metrics mt;
    cs_metrics_init(&mt, 7);
    cs_metrics_add(&mt, fifth, 0, 1, NULL);
    CHECK_NEAR(cs_metrics_top5(&mt), 1, 0);
    cs_metrics_add(&mt, sixth, 0, 1, NULL);
    CHECK_NEAR(cs_metrics_top5(&mt), 0.5, 0);
    cs_metrics_add(&mt, tied, 0, 1, NULL);
    CHECK_NEAR(cs_metrics_top5(&mt), 2 / 3.0, 1e-12);
    cs_metrics_free(&mt);
}

static void test_eval(void) {
    /* One image of three tiles, the middle one background: it must not count. */
    float tile_probs[] = {0.2f, 0.8f, 0.5f, 0.5f, 0.6f, 0.4f};
    float probs[] = {0.4f, 0.6f};
    int x[] = {0, 128, 256}, y[] = {0, 0, 0}, tile_class[] = {1, 0, 0};
    uint8_t background[] = {0, 1, 0};
    cs_result res = {.ntiles = 3, .nforeground = 2, .cols = 3, .rows = 1, .x = x, .y = y,
                     .background = background, .tile_probs = tile_probs,
                     .tile_class = tile_class, .probs = probs, .predicted = 1,
                     .confidence = 0.6f, .ood_score = NAN, .known = -1};
    cs_eval ev;
    cs_eval_init(&ev, 2);
    CHECK(cs_eval_add(&ev, "a.jpg", 1, 0, &res, NULL) == CS_OK);
    CHECK(ev.tiles.n == 2);
    CHECK_NEAR(cs_metrics_accuracy(&ev.tiles), 0.5, 0);
    CHECK(ev.images.n == 1 && ev.n == 1);
    CHECK(ev.image[0].tiles == 2 && ev.image[0].predicted == 1);
    CHECK_NEAR(ev.image[0].probs[1], 0.6, 1e-7);
    CHECK(cs_eval_unknown(&ev) == -1); /* no verdict: a model without ood_threshold */
    cs_eval_free(&ev);

    /* With verdicts: each image's score and verdict kept, the unknown ones counted. */
    cs_eval_init(&ev, 2);
    float score[] = {0.2f, 0.9f, 0.7f};
    int known[] = {1, 0, 0};
    for (int i = 0; i < 3; i++) {
        res.ood_score = score[i], res.known = known[i];
        CHECK(cs_eval_add(&ev, "b.jpg", 0, 0, &res, NULL) == CS_OK);
    }
    CHECK(cs_eval_unknown(&ev) == 2);
    CHECK(ev.image[1].known == 0 && ev.image[2].ood_score == 0.7f);
    cs_eval_free(&ev);
}

int main(void) {
    test_roc();
    test_confusion();
    test_binary_roc();
    test_top5();
    test_eval();
    return test_summary();
}
