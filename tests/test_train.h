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
    float loss = cs_net_loss(&m->net, probs, labels, NULL, n);
    cs_workspace_free(ws);
    free(x);
    free(probs);
    free(labels);
    return loss;
}

#endif
