/* fit.c: a training run by recipe: the validation images split off the data,
   cs_train on the rest, the threshold imposed if the recipe says one, the
   out-of-distribution statistics of the weights it leaves. */
#include <math.h>
#include <stdio.h>

#include "internal.h"

void cs_recipe_defaults(cs_recipe *r, const char *protocol) {
    *r = (cs_recipe){.val_folds = 2, .val_fold = 1, .threshold = NAN};
    cs_train_defaults(&r->train, protocol);
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

cs_status cs_fit(cs_model *m, const cs_dataset *data, const cs_recipe *r, cs_dataset *val,
                 cs_error *err) {
    cs_dataset train = {0}, held = {0};
    const cs_dataset *tr;
    int crop = r->train.crop_bottom >= 0 ? r->train.crop_bottom : m->crop_bottom;
    float um = m->um_per_px > 0 ? m->um_per_px : cs_dataset_um(data);
    cs_status st = prepare(m, data, r, crop, um, &train, &held, &tr, err);
    if (!st && r->on_split) r->on_split(r->train.ctx, tr, &held);
    if (!st) st = cs_train(m, tr, &held, &r->train, err);
    if (!st) st = cs_ood_fit(m, tr, &held, CS_OOD_FRR, err);
    /* No split: none recorded, not a base's, whose images this run may have trained on. */
    if (!st && r->record_split && r->val_folds) st = cs_recipe_record_split(m, r, err);
    if (!st && r->record_split && !r->val_folds) cs_model_unset(m, CS_META_VAL_SPLIT);
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
