/* fit.c: a training run by recipe: the validation images split off the data,
   cs_train on the rest, the threshold imposed if the recipe says one, the
   out-of-distribution statistics of the weights it leaves; with refit, the
   weights trained again on every image. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

void cs_recipe_defaults(cs_recipe *r, const char *protocol) {
    *r = (cs_recipe){.val_folds = 2, .val_fold = 1, .threshold = NAN};
    cs_train_defaults(&r->train, protocol);
    r->refit = r->train.head_only; /* seconds more; one image a class then trains whole (docs/transfer.md) */
}

/* The images a run trains and validates on, at the model's pixel size (its
   own, or for a new model its images' median): the split's copies, or data
   itself when neither a split nor resampling needs copies (*tr says which). */
static cs_status prepare(const cs_model *m, const cs_dataset *data, const cs_recipe *r, int crop,
                         float um, cs_dataset *train, cs_dataset *held, const cs_dataset **tr,
                         cs_error *err) {
    cs_status st = CS_OK;
    *tr = data;
    if (r->val_folds) {
        st = (r->val_rows ? cs_dataset_split_rows : cs_dataset_split)(
            data, r->val_fold, r->val_folds, m->net.tile, crop, train, held, err);
        *tr = train;
    } else if (cs_dataset_off_scale(data, um)) {
        st = cs_dataset_copy(train, data, err);
        *tr = train;
    }
    if (!st && *tr == train) st = cs_dataset_rescale(train, um, crop, err);
    if (!st) st = cs_dataset_rescale(held, um, crop, err);
    return st;
}

/* What the validated run chose and measured, which a refit keeps: its
   recipe where the refit's differs (so that "train as recorded" validates
   again), the calibration, the validation figures. */
static const char *const validated_keys[] = {
    "epochs_run", "best_epoch", "patience", CS_META_TEMPERATURE, CS_META_VAL_ECE_UNCALIBRATED,
    CS_META_VAL_ECE, "val_images", "val_tiles", "val_loss", "val_tile_accuracy"};
#define NKEPT (sizeof validated_keys / sizeof *validated_keys)

typedef struct {
    cs_train_progress_fn progress;
    void *ctx;
} refit_progress;

/* The caller's progress, told that these epochs are the refit's. */
static int on_refit_step(void *ctx, const cs_train_status *st) {
    const refit_progress *p = ctx;
    cs_train_status s = *st;
    s.refit = 1;
    return p->progress(p->ctx, &s);
}

/* The open-set statistics of m over every image (tr), with the thresholds
   (ood_threshold, and the score by image's by tiles) their scores of the
   validation images (held) get against the training part's statistics
   (split): the validated run's rule, for the new weights, whose features the
   old thresholds were not set on. */
static cs_status ood_refit(cs_model *m, const cs_dataset *split, const cs_dataset *held, const cs_dataset *tr,
                           cs_error *err) {
    static const char *keys[] = {CS_META_OOD_THRESHOLD, CS_META_OOD_THRESHOLDS_BY_TILES};
    char *th[2] = {NULL, NULL};
    cs_status st = cs_ood_fit(m, split, held, CS_OOD_FRR, err);
    for (int i = 0; i < 2 && !st; i++) {
        const char *v = cs_model_get(m, keys[i]);
        if (v && !(th[i] = strdup(v))) st = cs_fail(err, CS_ENOMEM, "out of memory for the metadata");
    }
    if (!st) st = cs_ood_fit(m, tr, NULL, CS_OOD_FRR, err);
    for (int i = 0; i < 2 && !st; i++)
        if (th[i]) st = cs_model_set(m, keys[i], th[i], err);
    free(th[0]), free(th[1]);
    return st;
}

/* The refit: the weights back at start, trained on every image for the
   recipe's epochs (no validation to stop early on: a band of the same image
   says little about other images, and its best epoch transferred worse,
   docs/transfer.md), threshold 0.5; the open-set statistics of the new
   weights (ood_refit); then the validated run's keys again. Head mode reuses
   the validated run's features of the images it trained on (split). */
static cs_status refit(cs_model *m, const cs_dataset *data, const cs_recipe *r, const float *start, int crop,
                       float um, const cs_dataset *split, const cs_dataset *held,
                       const cs_head_cache *features, cs_error *err) {
    char *kept[NKEPT] = {0};
    cs_status st = CS_OK;
    for (size_t i = 0; i < NKEPT && !st; i++) {
        const char *v = cs_model_get(m, validated_keys[i]);
        if (v && !(kept[i] = strdup(v))) st = cs_fail(err, CS_ENOMEM, "out of memory for the metadata");
    }
    cs_recipe all = *r;
    all.val_folds = 0;
    all.train.patience = 0;
    all.train.auto_threshold = 0; /* the validated run's was chosen for other weights */
    all.train.val_tiles = NULL; /* the validated run's */
    refit_progress tell = {r->train.progress, r->train.ctx};
    if (tell.progress) all.train.progress = on_refit_step, all.train.ctx = &tell;
    cs_dataset train = {0}, none = {0};
    const cs_dataset *tr;
    if (!st) st = prepare(m, data, &all, crop, um, &train, &none, &tr, err);
    if (!st) {
        memcpy(m->net.params, start, sizeof(float) * m->net.nparams);
        st = cs_train_cached(m, tr, &none, &all.train, features, NULL, err);
    }
    if (!st) st = ood_refit(m, split, held, tr, err);
    for (size_t i = 0; i < NKEPT && !st; i++)
        if (kept[i]) st = cs_model_set(m, validated_keys[i], kept[i], err);
    char v[32];
    snprintf(v, sizeof v, "%d", all.train.epochs);
    if (!st) st = cs_model_set(m, CS_META_REFIT_EPOCHS, v, err);
    for (size_t i = 0; i < NKEPT; i++) free(kept[i]);
    cs_dataset_free(&train);
    cs_dataset_free(&none);
    return st;
}

cs_status cs_fit(cs_model *m, const cs_dataset *data, const cs_recipe *r, cs_dataset *val,
                 cs_error *err) {
    cs_dataset train = {0}, held = {0};
    const cs_dataset *tr;
    int crop = r->train.crop_bottom >= 0 ? r->train.crop_bottom : m->crop_bottom;
    float um = m->um_per_px > 0 ? m->um_per_px : cs_dataset_um(data);
    float *start = NULL;
    cs_head_cache features = {0};
    cs_status st = prepare(m, data, r, crop, um, &train, &held, &tr, err);
    if (!st && r->refit && held.n && !(start = malloc(sizeof(float) * m->net.nparams)))
        st = cs_fail(err, CS_ENOMEM, "out of memory for a copy of the weights");
    if (start) memcpy(start, m->net.params, sizeof(float) * m->net.nparams);
    if (!st && r->on_split) r->on_split(r->train.ctx, tr, &held);
    int refitted = start != NULL;
    if (!st) st = cs_train_cached(m, tr, &held, &r->train, NULL, refitted ? &features : NULL, err);
    /* A refit's open-set statistics are its own weights' (ood_refit). */
    if (!st && !refitted) st = cs_ood_fit(m, tr, &held, CS_OOD_FRR, err);
    cs_model_unset(m, CS_META_REFIT_EPOCHS);
    if (!st && refitted) st = refit(m, data, r, start, crop, um, tr, &held, &features, err);
    free(start);
    cs_head_cache_free(&features);
    /* No split, or a refit that trained on it too: none recorded, not a base's,
       whose images this run may have trained on. */
    if (!st && r->record_split && r->val_folds && !refitted) st = cs_recipe_record_split(m, r, err);
    if (!st && r->record_split && (!r->val_folds || refitted)) cs_model_unset(m, CS_META_VAL_SPLIT);
    if (!st && !isnan(r->threshold)) {
        char v[32];
        snprintf(v, sizeof v, "%g", r->threshold);
        st = cs_model_set(m, CS_META_THRESHOLD, v, err);
    }
    if (!st && um > 0 && m->um_per_px != um) {
        char v[32];
        snprintf(v, sizeof v, "%g", um);
        st = cs_model_set(m, CS_META_UM_PER_PX, v, err);
    }
    cs_dataset_free(&train);
    if (val && !st) *val = held;
    else cs_dataset_free(&held);
    return st;
}
