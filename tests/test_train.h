/* test_train.h: what the training tests share. */
#ifndef CS_TEST_TRAIN_H
#define CS_TEST_TRAIN_H

#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "test.h"

/* A small net on small tiles keeps training tests to seconds. */
#define ARCH "conv8,pool,conv16,gap,dense16,dense"
#define TILE 32
static const char *const CLASSES[] = {"T47D", "MDAMB231"};

/* The committed two-class fixture (argv[1]/train), split by image: the second
   image of each class validates. */
static inline void load_fixture(int argc, char **argv, cs_dataset *all, cs_dataset *train,
                                cs_dataset *val, char **skipped) {
    char dir[1024];
    cs_error err;
    snprintf(dir, sizeof dir, "%s/train", argc > 1 ? argv[1] : "tests/data");
    CHECK(cs_dataset_load(all, dir, CLASSES, 2, skipped, NULL, &err) == CS_OK);
    CHECK(cs_dataset_split(all, 1, 2, TILE, 0, train, val, &err) == CS_OK);
}

/* A malloc'd copy of the weights, to tell later whether a run changed them. */
static inline float *copy_params(const cs_net *net) {
    float *p = malloc(sizeof(float) * net->nparams);
    memcpy(p, net->params, sizeof(float) * net->nparams);
    return p;
}

/* The loss of m on the foreground grid tiles of ds, computed here from scratch. */
static inline float loss_on(const cs_model *m, const cs_dataset *ds) {
    int T = m->net.tile, n = 0;
    float *x = malloc(sizeof(float) * T * T * 4096), *probs = malloc(sizeof(float) * m->net.nclasses * 4096);
    int *labels = malloc(sizeof(int) * 4096);
    for (int i = 0; i < ds->n; i++) {
        int cols, rows;
        cs_tile_grid(ds->images[i].w, ds->images[i].h, 0, T, &cols, &rows);
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols && n < 4096; c++)
                if (!cs_tile_read(x + (size_t)n * T * T, &ds->images[i], c * T, r * T, T)) labels[n++] = ds->labels[i];
    }
    cs_workspace *ws = cs_workspace_new(&m->net, n, NULL);
    cs_net_forward(&m->net, ws, 0, x, n, 0, NULL, probs);
    float loss = cs_net_loss(&m->net, probs, labels, NULL, 0, n);
    cs_workspace_free(ws);
    free(x);
    free(probs);
    free(labels);
    return loss;
}

/* With TTA the temperature, its ECE and the threshold are those of the
   validation tiles as the model predicts them (the mean of 8 symmetries), as
   cs_evaluate scores them here, not of one view a tile. */
static inline void same_as_predicted(cs_model *m, const cs_dataset *val) {
    float T = m->temperature;
    int K = m->net.nclasses;
    cs_eval ev;
    cs_eval_init(&ev, K);
    m->temperature = 1;
    cs_error err;
    CHECK(cs_evaluate(m, val, 0, &ev, NULL, NULL, &err) == CS_OK);
    m->temperature = T;
    const cs_metrics *mt = &ev.tiles;
    float fitted = cs_fit_temperature(mt->probs, mt->label, mt->n, K);
    printf("temperature %g, fitted here on the TTA-scored validation tiles %g\n", T, fitted);
    CHECK_NEAR(T, fitted, 1e-4 * fitted);
    for (int i = 0; i < mt->n; i++) cs_temper(mt->probs + (size_t)i * K, K, T);
    CHECK_NEAR(atof(cs_model_get(m, "val_ece")), cs_ece(mt->probs, mt->label, mt->n, K, CS_ECE_BINS, NULL), 1e-4);
    if (K == 2) { /* the threshold of the best balanced accuracy on them, calibrated */
        float *p1 = malloc(sizeof(float) * mt->n);
        uint8_t *positive = malloc(mt->n);
        for (int i = 0; i < mt->n; i++) p1[i] = mt->probs[(size_t)i * 2 + 1], positive[i] = mt->label[i] == 1;
        cs_roc roc = {0};
        CHECK(cs_roc_compute(&roc, p1, positive, mt->n, NULL) == CS_OK);
        CHECK_NEAR(m->threshold, cs_roc_best_threshold(&roc), 1e-5);
        cs_roc_free(&roc);
        free(p1);
        free(positive);
    }
    cs_eval_free(&ev);
}

#endif
