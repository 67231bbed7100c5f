/* test_train.h: what the training tests share. */
#ifndef CS_TEST_TRAIN_H
#define CS_TEST_TRAIN_H

#include <stdlib.h>

#include "cellsight.h"

/* The loss of m on the foreground grid tiles of ds, computed here from scratch. */
static float loss_on(const cs_model *m, const cs_dataset *ds) {
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
