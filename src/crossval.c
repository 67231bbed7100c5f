/* crossval.c: evaluation of a model on labelled images, and cross-validation
   by image, which trains a model per fold (cs_fit) and evaluates it on the
   images the fold holds out. */
#include <stdlib.h>

#include "internal.h"

/* Each image's result goes into ev and, if not NULL, pooled. */
static cs_status evaluate(const cs_model *m, const cs_dataset *ds, int fold, cs_eval *ev,
                          cs_eval *pooled, cs_progress_fn progress, void *ctx, cs_error *err) {
    if (progress && progress(ctx, 0, ds->n)) return cs_fail(err, CS_ECANCEL, "evaluation cancelled");
    for (int i = 0; i < ds->n; i++) {
        cs_result res;
        cs_error e;
        if (cs_classify(m, &ds->images[i], -1, &res, NULL, NULL, &e)) return cs_fail_in(err, ds->names[i], &e);
        cs_status st = cs_eval_add(ev, ds->names[i], ds->labels[i], fold, &res, &e);
        if (!st && pooled) st = cs_eval_add(pooled, ds->names[i], ds->labels[i], fold, &res, &e);
        cs_result_free(&res);
        if (st) return cs_fail_in(err, ds->names[i], &e);
        if (progress && progress(ctx, i + 1, ds->n)) return cs_fail(err, CS_ECANCEL, "evaluation cancelled");
    }
    return CS_OK;
}

cs_status cs_evaluate(const cs_model *m, const cs_dataset *ds, int fold, cs_eval *ev,
                      cs_progress_fn progress, void *ctx, cs_error *err) {
    return evaluate(m, ds, fold, ev, NULL, progress, ctx, err);
}

/* Where a fold starts: a fresh model like m or, when m was fine-tuned, its base. */
static cs_status fold_model(cs_model *out, const cs_model *m, const cs_cv_opts *o, cs_error *err) {
    int K = m->net.nclasses;
    const char *const *classes = (const char *const *)m->classes;
    const cs_train_opts *t = &o->recipe.train;
    if (!t->base_model) return cs_model_init(out, o->arch, o->tile, K, classes, t->seed, err);
    cs_status st = cs_model_load(out, t->base_model, err);
    if (st || cs_model_has_classes(out, classes, K)) return st;
    if ((st = cs_model_set_classes(out, K, classes, t->seed, err))) cs_model_free(out);
    return st;
}

/* A fold's training fails in its validation split or in training itself;
   the split hook tells them apart for the message. The hooks share
   recipe.train.ctx, so the caller's are called through these. */
typedef struct {
    const cs_recipe *caller;
    int split;
} fold_run;

static void on_fold_split(void *ctx, const cs_dataset *train, const cs_dataset *val) {
    fold_run *run = ctx;
    run->split = 1;
    if (run->caller->on_split) run->caller->on_split(run->caller->train.ctx, train, val);
}

static int on_fold_progress(void *ctx, const cs_train_status *st) {
    const fold_run *run = ctx;
    return run->caller->train.progress(run->caller->train.ctx, st);
}

/* Trains a model on rest and tests it on test (fold k, from 0) into ev and pooled. */
static cs_status run_fold(const cs_model *m, const cs_dataset *rest, const cs_dataset *test, int k,
                          const cs_cv_opts *o, cs_eval *ev, cs_eval *pooled, cs_error *err) {
    cs_model fresh;
    cs_error e;
    if (fold_model(&fresh, m, o, &e))
        return cs_fail_in(err, o->recipe.train.base_model ? o->recipe.train.base_model : "model", &e);
    fold_run run = {&o->recipe, 0};
    cs_recipe r = o->recipe;
    r.on_split = on_fold_split;
    r.train.ctx = &run;
    if (r.train.progress) r.train.progress = on_fold_progress;
    cs_status st = cs_fit(&fresh, rest, &r, NULL, &e);
    if (st) st = cs_fail_in(err, run.split ? "training" : "validation split", &e);
    else st = evaluate(&fresh, test, k + 1, ev, pooled, o->on_evaluated, o->ctx, err);
    cs_model_free(&fresh);
    return st;
}

/* The images of the rarest class, the number of folds: two at least. */
static cs_status count_folds(const cs_model *m, const cs_dataset *all, int *least, cs_error *err) {
    *least = all->n;
    for (int c = 0; c < m->net.nclasses; c++) {
        int count = 0;
        for (int i = 0; i < all->n; i++) count += all->labels[i] == c;
        if (count < *least) *least = count;
        if (count < 2)
            return cs_fail(err, CS_EINPUT, "cross-validation by image needs two or more images of "
                                           "every class; %s has %d", m->classes[c], count);
    }
    return CS_OK;
}

cs_status cs_cross_validate(const cs_model *m, const cs_dataset *all, const cs_cv_opts *o,
                            cs_eval *pooled, cs_eval **folds, int *nfolds, cs_error *err) {
    int n;
    *folds = NULL;
    *nfolds = 0;
    cs_status st = count_folds(m, all, &n, err);
    if (st) return st;
    cs_eval *ev = malloc((size_t)n * sizeof *ev);
    if (!ev) return cs_fail(err, CS_ENOMEM, "out of memory for %d folds", n);
    for (int k = 0; k < n; k++) cs_eval_init(&ev[k], m->net.nclasses);
    for (int k = 0; k < n && !st; k++) {
        cs_dataset rest = {0}, test = {0};
        cs_error e;
        int crop = o->recipe.train.crop_bottom;
        if (cs_dataset_split(all, k, n, o->tile, crop, &rest, &test, &e)) {
            st = cs_fail_in(err, "cross-validation split", &e);
            break;
        }
        if (o->on_fold) o->on_fold(o->ctx, k + 1, n, &test);
        st = run_fold(m, &rest, &test, k, o, &ev[k], pooled, err);
        cs_dataset_free(&rest);
        cs_dataset_free(&test);
    }
    if (st) {
        for (int k = 0; k < n; k++) cs_eval_free(&ev[k]);
        free(ev);
        return st;
    }
    *folds = ev;
    *nfolds = n;
    return CS_OK;
}
