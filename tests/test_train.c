/* test_train.c: the training loop (loss falls, best weights kept, determinism,
   cancel). Trains a small network on small tiles of the committed fixture
   tests/data/train, and takes one step of the paper's network. */
#include <stdlib.h>
#include <string.h>

#include "cellsight.h"
#include "test.h"
#include "test_train.h"

/* ------------------------------------------------------------ training */

typedef struct {
    int epochs, steps_seen, best_epoch;
    float first_loss, last_loss, first_acc, last_acc, best_val_loss;
    int cancel_at; /* cancel at this call (0: never) */
    int calibrating; /* calls after the epochs that scored the validation tiles for the temperature */
} watch;

static int on_progress(void *ctx, const cs_train_status *s) {
    watch *w = ctx;
    w->steps_seen++;
    w->calibrating += s->calibrating;
    if (s->epoch > 0 && !s->calibrating && s->step == s->steps) {
        if (s->epoch == 1) w->first_loss = s->train_loss, w->first_acc = s->train_acc;
        w->last_loss = s->train_loss;
        w->last_acc = s->train_acc;
        w->epochs = s->epoch;
        if (s->best) w->best_epoch = s->epoch, w->best_val_loss = s->val_loss;
    }
    return w->cancel_at && w->steps_seen >= w->cancel_at;
}

static void small_opts(cs_train_opts *o, watch *w) {
    cs_train_defaults(o, "ours");
    o->epochs = 12;
    o->patience = 0;
    o->crops_per_image = 64;
    o->batch = 16;
    o->lr = 1e-2f;
    o->balance = 0;
    o->crop_bottom = 0;
    o->progress = on_progress;
    o->ctx = w;
}

static void test_training(const cs_dataset *train, const cs_dataset *val) {
    cs_model m, again;
    cs_train_opts o;
    watch w = {0};
    small_opts(&o, &w);
    cs_error err;
    CHECK(cs_model_init(&m, ARCH, TILE, 2, CLASSES, 7, &err) == CS_OK);
    cs_status st = cs_train(&m, train, val, &o, &err);
    CHECK(st == CS_OK);
    if (st != CS_OK) fprintf(stderr, "cs_train: %s\n", err.msg);
    printf("train loss %.3f -> %.3f, acc %.3f -> %.3f, best epoch %d val loss %.4f\n", w.first_loss,
           w.last_loss, w.first_acc, w.last_acc, w.best_epoch, w.best_val_loss);
    CHECK(w.epochs == 12);
    CHECK(w.last_loss < w.first_loss);
    CHECK(w.last_acc > w.first_acc);

    /* The weights kept are the best epoch's: their validation loss, measured
       afresh, is the one reported for that epoch and recorded. */
    CHECK_NEAR(loss_on(&m, val), w.best_val_loss, 1e-5);
    const char *recorded = cs_model_get(&m, "val_loss");
    CHECK(recorded && fabs(atof(recorded) - w.best_val_loss) < 1e-4);
    CHECK(cs_model_get(&m, "best_epoch") && atoi(cs_model_get(&m, "best_epoch")) == w.best_epoch);
    CHECK(cs_model_get(&m, "protocol") && strcmp(cs_model_get(&m, "protocol"), "ours") == 0);
    CHECK(cs_model_get(&m, "tta") && strcmp(cs_model_get(&m, "tta"), "dihedral8") == 0);
    CHECK(cs_model_get(&m, "lr_schedule") && strncmp(cs_model_get(&m, "lr_schedule"), "cosine", 6) == 0);
    CHECK(cs_model_get(&m, "threshold") != NULL);
    CHECK(m.threshold > 0 && m.threshold < 1);
    /* Calibrated on the same validation tiles: a temperature and the errors it leaves. */
    CHECK(m.temperature >= CS_MIN_TEMPERATURE && m.temperature <= CS_MAX_TEMPERATURE);
    CHECK(cs_model_get(&m, "temperature") && cs_model_get(&m, "val_ece") &&
          cs_model_get(&m, "val_ece_uncalibrated"));
    CHECK(atof(cs_model_get(&m, "val_ece")) <= atof(cs_model_get(&m, "val_ece_uncalibrated")) + 0.05);
    same_as_predicted(&m, val);
    CHECK((w.calibrating > 0) == (val->n > 0));
    /* Out-of-distribution statistics of the kept weights (cs_train alone fits none: cs_fit does). */
    CHECK(m.ood.dim == 0);

    /* Determinism: the same seed gives the same weights, bit for bit. */
    watch w2 = {0};
    o.ctx = &w2;
    CHECK(cs_model_init(&again, ARCH, TILE, 2, CLASSES, 7, NULL) == CS_OK);
    CHECK(cs_train(&again, train, val, &o, NULL) == CS_OK);
    CHECK(memcmp(m.net.params, again.net.params, sizeof(float) * m.net.nparams) == 0);
    cs_model_free(&again);

    /* Cancel in the middle of epoch 2: the model is exactly as it was. */
    watch w3 = {.cancel_at = 20};
    o.ctx = &w3;
    float *before = copy_params(&m.net);
    int nmeta = m.nmeta;
    float threshold = m.threshold;
    CHECK(cs_train(&m, train, val, &o, &err) == CS_ECANCEL);
    CHECK(memcmp(before, m.net.params, sizeof(float) * m.net.nparams) == 0);
    CHECK(m.nmeta == nmeta && m.threshold == threshold);
    CHECK(w3.steps_seen == 20);
    free(before);
    cs_model_free(&m);
}

/* The paper's network at 128 pixels: one step of the paper's protocol runs
   and moves the weights. */
static void test_paper_step(const cs_dataset *train) {
    cs_model m;
    cs_train_opts o;
    cs_train_defaults(&o, "paper");
    CHECK(o.epochs == 8 && o.batch == 32 && o.crops_per_image == 0 && !o.cosine && !o.tta && !o.balance);
    o.epochs = 1;
    o.crops_per_image = 2;
    o.batch = 2 * train->n;
    o.crop_bottom = 0;
    CHECK(cs_model_init(&m, NULL, CS_TILE, 2, CLASSES, 1, NULL) == CS_OK);
    float *before = copy_params(&m.net);
    cs_error err;
    CHECK(cs_train(&m, train, NULL, &o, &err) == CS_OK);
    CHECK(memcmp(before, m.net.params, sizeof(float) * m.net.nparams) != 0);
    CHECK(cs_model_get(&m, "val_loss") && strcmp(cs_model_get(&m, "val_loss"), "none") == 0);
    CHECK(cs_model_get(&m, "epochs_run") && atoi(cs_model_get(&m, "epochs_run")) == 1);
    free(before);
    cs_model_free(&m);
}

int main(int argc, char **argv) {
    cs_dataset all, train, val;
    char *skipped = NULL;
    load_fixture(argc, argv, &all, &train, &val, &skipped);
    CHECK(skipped == NULL);
    free(skipped);
    test_training(&train, &val);
    test_paper_step(&train);
    cs_dataset_free(&train);
    cs_dataset_free(&val);
    cs_dataset_free(&all);
    return test_summary();
}
