/* fit.c: a training run by recipe: the validation images split off the data,
   cs_train on the rest, the threshold imposed if the recipe says one. */
#include <math.h>
#include <stdio.h>

#include "internal.h"

void cs_recipe_defaults(cs_recipe *r, const char *protocol) {
    *r = (cs_recipe){.val_folds = 2, .val_fold = 1, .threshold = NAN};
    cs_train_defaults(&r->train, protocol);
}

cs_status cs_fit(cs_model *m, const cs_dataset *data, const cs_recipe *r, cs_dataset *val,
                 cs_error *err) {
    cs_dataset train = {0}, held = {0};
    int crop = r->train.crop_bottom >= 0 ? r->train.crop_bottom : m->crop_bottom;
    cs_status st = CS_OK;
    if (r->val_folds)
        st = (r->val_rows ? cs_dataset_split_rows : cs_dataset_split)(
            data, r->val_fold, r->val_folds, m->net.tile, crop, &train, &held, err);
    const cs_dataset *tr = r->val_folds ? &train : data;
    if (!st && r->on_split) r->on_split(r->train.ctx, tr, &held);
    if (!st) st = cs_train(m, tr, &held, &r->train, err);
    if (!st && r->val_folds && r->record_split) st = cs_recipe_record_split(m, r, err);
    if (!st && !isnan(r->threshold)) {
        char v[32];
        snprintf(v, sizeof v, "%g", r->threshold);
        st = cs_model_set(m, CS_META_THRESHOLD, v, err);
    }
    cs_dataset_free(&train);
    if (val && !st) *val = held;
    else cs_dataset_free(&held);
    return st;
}
