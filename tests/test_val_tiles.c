/* test_val_tiles.c: cs_train_opts.val_tiles, the kept epoch's validation tiles
   handed back (the page's confusion matrix). They are the tiles of
   val_tile_accuracy and val_tiles, scored by the weights kept and calibrated
   by the temperature fitted on them. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "test.h"
#include "test_train.h"

/* The foreground grid tiles of ds through m, in cs_train's order (image by
   image, row by row): probs [n][K]; returns n. */
static int score_grid(const cs_model *m, const cs_dataset *ds, float *probs, int *labels, int max) {
    int n = 0, K = m->net.nclasses;
    float *x = malloc(sizeof(float) * TILE * TILE);
    cs_workspace *ws = cs_workspace_new(&m->net, 1, NULL);
    for (int i = 0; i < ds->n; i++) {
        int cols, rows;
        cs_tile_grid(ds->images[i].w, ds->images[i].h, 0, TILE, &cols, &rows);
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols && n < max; c++)
                if (!cs_tile_read(x, &ds->images[i], c * TILE, r * TILE, TILE)) {
                    cs_net_forward(&m->net, ws, 0, x, 1, 0, NULL, probs + (size_t)n * K);
                    labels[n++] = ds->labels[i];
                }
    }
    cs_workspace_free(ws);
    free(x);
    return n;
}

static void run(cs_model *m, const cs_dataset *train, const cs_dataset *val, const char *mode) {
    cs_train_opts o;
    cs_train_defaults(&o, mode);
    o.epochs = 3;
    o.patience = 0;
    o.crops_per_image = strcmp(mode, "full") == 0 ? 8 : 0;
    o.crop_bottom = 0;
    o.base_model = "base.safetensors";
    cs_metrics mt;
    cs_metrics_init(&mt, 2);
    o.val_tiles = &mt;
    cs_error err;
    cs_status st = cs_train(m, train, val, &o, &err);
    CHECK(st == CS_OK);
    if (st) fprintf(stderr, "%s mode: %s\n", mode, err.msg);

    const char *count = cs_model_get(m, "val_tiles"), *acc = cs_model_get(m, "val_tile_accuracy");
    CHECK(count && mt.n == atoi(count) && mt.n > 0);
    CHECK(acc && fabs(cs_metrics_accuracy(&mt) - atof(acc)) < 1e-5);
    int confusion[4], sum = 0;
    cs_metrics_confusion(&mt, confusion);
    for (int i = 0; i < 4; i++) sum += confusion[i];
    CHECK(sum == mt.n);

    /* The kept weights give those probabilities, at the temperature fitted on them. */
    float *probs = malloc(sizeof(float) * 2 * 4096);
    int *labels = malloc(sizeof(int) * 4096);
    int n = score_grid(m, val, probs, labels, 4096);
    CHECK(n == mt.n);
    float worst = 0;
    for (int i = 0; i < n && i < mt.n; i++) {
        CHECK(labels[i] == mt.label[i]);
        cs_temper(probs + i * 2, 2, m->temperature);
        for (int k = 0; k < 2; k++) worst = fmaxf(worst, fabsf(probs[i * 2 + k] - mt.probs[i * 2 + k]));
    }
    CHECK(worst < 1e-4f);
    printf("%s mode: %d validation tiles, accuracy %s, largest difference %.2g\n", mode, mt.n, acc, worst);
    free(probs);
    free(labels);
    cs_metrics_free(&mt);
}

/* Set up for another class count: refused before anything changes. */
static void test_wrong_classes(cs_model *m, const cs_dataset *train, const cs_dataset *val) {
    cs_train_opts o;
    cs_train_defaults(&o, "head");
    o.epochs = 1;
    o.crop_bottom = 0;
    cs_metrics mt;
    cs_metrics_init(&mt, 3);
    o.val_tiles = &mt;
    float *before = copy_params(&m->net);
    cs_error err;
    CHECK(cs_train(m, train, val, &o, &err) == CS_EINPUT);
    CHECK(memcmp(before, m->net.params, sizeof(float) * m->net.nparams) == 0 && mt.n == 0);
    free(before);
}

int main(int argc, char **argv) {
    cs_dataset all, train, val;
    cs_model m;
    cs_error err;
    load_fixture(argc, argv, &all, &train, &val, NULL);
    CHECK(cs_model_init(&m, ARCH, TILE, 2, CLASSES, 3, &err) == CS_OK);
    run(&m, &train, &val, "head");
    run(&m, &train, &val, "full");
    test_wrong_classes(&m, &train, &val);
    cs_model_free(&m);
    cs_dataset_free(&train);
    cs_dataset_free(&val);
    cs_dataset_free(&all);
    return test_summary();
}
