/* wasm_finetune.c: fine-tuning for the web page's WASM module (Emscripten only).

   The page's training worker collects the user's labelled images into a
   cs_dataset (decoded by stb as the CLI decodes them; canvas RGBA for what only
   the browser reads), then csw_finetune_tta trains a model loaded with
   csw_model_load (apps/wasm/wasm_api.c) exactly as `cellsight finetune` does: the
   same split by image, the same defaults per mode, cs_finetune. Progress goes to
   the "train_progress" event (Module.onEvent, see wasm_api.c) after every
   batch (a true return cancels); the outcome to "train_result". Calls that
   fail return 0 or NULL with a one-sentence message in csw_error(). */
#include <emscripten.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wasm.h"

/* ---------------------------------------------------------------- data sets */

EMSCRIPTEN_KEEPALIVE cs_dataset *csw_dataset_new(void) {
    cs_dataset *ds = calloc(1, sizeof *ds);
    if (!ds) cs_fail(&csw_last_error, CS_ENOMEM, "out of memory for a data set");
    return ds;
}

EMSCRIPTEN_KEEPALIVE void csw_dataset_free(cs_dataset *ds) {
    if (!ds) return;
    cs_dataset_free(ds);
    free(ds);
}

/* um (> 0): the pixel size of an image whose file states none, as --um-per-px. */
static int add(cs_dataset *ds, cs_image *im, int label, const char *name, double um) {
    if (cs_image_assume_pixel_size(im, um, &csw_last_error) == CS_OK &&
        cs_dataset_add(ds, im, label, name, &csw_last_error) == CS_OK)
        return 1;
    cs_image_free(im);
    return 0;
}

/* An encoded image file of class label; name says where it came from. */
EMSCRIPTEN_KEEPALIVE int csw_dataset_add_file(cs_dataset *ds, const uint8_t *data, size_t size,
                                              int label, const char *name, double um) {
    cs_image im = {0};
    if (cs_image_decode(&im, data, size, &csw_last_error) != CS_OK) return 0;
    return add(ds, &im, label, name, um);
}

/* Canvas pixels, w * h * 4 bytes. */
EMSCRIPTEN_KEEPALIVE int csw_dataset_add_rgba(cs_dataset *ds, const uint8_t *rgba, int w, int h,
                                              int label, const char *name, double um) {
    cs_image im = {0};
    if (cs_image_from_rgba(&im, rgba, w, h, &csw_last_error) != CS_OK) return 0;
    return add(ds, &im, label, name, um);
}

/* ---------------------------------------------------------------- training */

/* {"epochs": 60, "lr": 0.001, "patience": 15, "crops_per_image": 0, "batch": 32, "refit": true}:
   what cs_recipe_defaults gives mode "head" or "full", for the page's fields. */
EMSCRIPTEN_KEEPALIVE char *csw_train_defaults(const char *mode) {
    cs_recipe r;
    cs_recipe_defaults(&r, mode);
    const cs_train_opts o = r.train;
    char *json = malloc(160);
    if (!json) {
        cs_fail(&csw_last_error, CS_ENOMEM, "out of memory");
        return NULL;
    }
    snprintf(json, 160,
             "{\"epochs\":%d,\"lr\":%.9g,\"patience\":%d,\"crops_per_image\":%d,\"batch\":%d,\"refit\":%s}",
             o.epochs, o.lr, o.patience, o.crops_per_image, o.batch, r.refit ? "true" : "false");
    return json;
}

/* NaN (no validation data yet) reaches JS as NaN. */
EM_JS(int, report_train,
      (int epoch, int epochs, int step, int steps, float train_loss, float train_acc,
       float val_loss, float val_acc, float lr, int best, double seconds, double eta, int refit,
       int calibrating), {
    const cancel = Module.onEvent && Module.onEvent("train_progress", {
        epoch, epochs, step, steps, trainLoss: train_loss, trainAcc: train_acc,
        valLoss: val_loss, valAcc: val_acc, lr, best: !!best, seconds, eta, refit: !!refit,
        calibrating: !!calibrating
    });
    return cancel ? 1 : 0;
});

static int on_train(void *ctx, const cs_train_status *s) {
    (void)ctx;
    return report_train(s->epoch, s->epochs, s->step, s->steps, s->train_loss, s->train_acc,
                        s->val_loss, s->val_acc, s->lr, s->best, s->seconds, s->eta, s->refit,
                        s->calibrating);
}

EM_JS(void, emit_train_result,
      (int nclasses, const int *confusion, int ntrain, int nval, double val_accuracy), {
    if (Module.onEvent) Module.onEvent("train_result", {
        confusion: HEAP32.slice(confusion >>> 2, (confusion >>> 2) + nclasses * nclasses),
        trainImages: ntrain, valImages: nval, valTileAccuracy: val_accuracy
    });
});

/* The validation tiles as the page's classification scores them (cs_classify:
   the model's threshold, the 8 flips/rotations averaged if tta), handed to
   the "val_classified" event; training judges each epoch by one pass a tile and
   the most probable class, which is what picks the kept epoch and the
   threshold, as in `cellsight finetune`. */
EM_JS(void, emit_val_classified,
      (int nclasses, const int *confusion, int tiles, double accuracy, double loss, int tta), {
    if (Module.onEvent) Module.onEvent("val_classified", {
        confusion: HEAP32.slice(confusion >>> 2, (confusion >>> 2) + nclasses * nclasses),
        tiles, accuracy, loss, tta: !!tta
    });
});

/* Classifies the validation images with m as the page would with tta (0 or 1),
   emitting the tiles' figures; m->tta is left as it was. */
static int classify_val(cs_model *m, const cs_dataset *val, int crop_bottom, int tta, int *confusion) {
    int K = m->net.nclasses, recorded = m->tta, ok = 1;
    cs_eval ev;
    cs_eval_init(&ev, K);
    m->tta = tta;
    for (int i = 0; i < val->n && ok; i++) {
        cs_result res;
        if (cs_classify(m, &val->images[i], crop_bottom, &res, NULL, NULL, &csw_last_error) != CS_OK) {
            ok = 0;
            break;
        }
        ok = cs_eval_add(&ev, val->names[i], val->labels[i], 0, &res, &csw_last_error) == CS_OK;
        cs_result_free(&res);
    }
    m->tta = recorded;
    if (ok) {
        cs_metrics_confusion(&ev.tiles, confusion);
        emit_val_classified(K, confusion, ev.tiles.n, cs_metrics_accuracy(&ev.tiles),
                            cs_metrics_loss(&ev.tiles), tta);
    }
    cs_eval_free(&ev);
    return ok;
}

/* The names of a comma-separated list, pointing into the (modified) list. */
static int split_names(char *list, const char **names, int max) {
    int n = 0;
    for (char *p = list; n < max;) {
        names[n++] = p;
        if (!(p = strchr(p, ','))) break;
        *p++ = 0;
    }
    return n;
}

static void count_training(void *ctx, const cs_dataset *train, const cs_dataset *val) {
    *(int *)ctx = train->n;
}

/* Fine-tunes m (the training worker's own copy of the base model) on ds, whose
   labels index classes ("A,B,..." in output order; other classes than m's give
   a new output layer). mode "head" or "full"; epochs and lr <= 0 take the
   mode's defaults; crop_bottom < 0 the model's. With validate, as `cellsight
   finetune`: per class, half the images validate (a class of one image: a
   band of its rows); without, every image trains and the last epoch is kept
   (`--val-folds 0`). base_model names the base in the metadata. With tta 0 or
   1 (the page's box), the validation images are then classified as the page
   classifies (the "val_classified" event), and the model records that averaging,
   the one its figures were measured with; tta < 0 skips that. On failure (or a
   cancel) m must be thrown away: its classes may have changed. refit 0 or 1
   (with validate): then train again on every image (cs_recipe.refit; the
   validation images are not classified then, they trained); < 0: the mode's
   default. Returns 1 on success, after the "train_result" event has had the
   validation figures. */
EMSCRIPTEN_KEEPALIVE int csw_finetune_tta(cs_model *m, const cs_dataset *ds, const char *classes,
                                          const char *mode, int epochs, float lr, int crop_bottom,
                                          int validate, double seed, const char *base_model,
                                          int tta, int refit) {
    if (strcmp(mode, "head") != 0 && strcmp(mode, "full") != 0) {
        cs_fail(&csw_last_error, CS_EINPUT, "mode \"%.20s\" is neither head nor full", mode);
        return 0;
    }
    char *list = strdup(classes);
    const char **names = malloc(sizeof *names * CS_MAX_CLASSES);
    cs_dataset val = {0};
    cs_metrics tiles;
    cs_metrics_init(&tiles, 0);
    int *confusion = NULL, ok = 0, ntrain = 0;
    if (!list || !names) {
        cs_fail(&csw_last_error, CS_ENOMEM, "out of memory for the class names");
        goto done;
    }
    int K = split_names(list, names, CS_MAX_CLASSES);
    cs_recipe r;
    cs_recipe_defaults(&r, mode);
    cs_train_opts *o = &r.train;
    if (epochs > 0) o->epochs = epochs;
    if (lr > 0) o->lr = lr;
    if (o->lr_final > o->lr) o->lr_final = o->lr;
    o->crop_bottom = crop_bottom >= 0 ? crop_bottom : -1;
    o->seed = (uint64_t)seed;
    o->base_model = base_model;
    if (tta >= 0) o->tta = tta != 0;
    o->progress = on_train;
    o->ctx = &ntrain;
    cs_metrics_init(&tiles, K);
    o->val_tiles = &tiles;
    r.val_folds = validate ? 2 : 0;
    if (refit >= 0) r.refit = refit != 0;
    r.record_split = 1; /* as the CLI's, so that calibrate and "train as recorded" find it */
    r.on_split = count_training;
    if (cs_finetune(m, ds, K, names, &r, &val, &csw_last_error) != CS_OK) goto done;
    if (!(confusion = malloc(sizeof(int) * K * K))) {
        cs_fail(&csw_last_error, CS_ENOMEM, "out of memory for the confusion matrix");
        goto done;
    }
    cs_metrics_confusion(&tiles, confusion);
    emit_train_result(K, confusion, ntrain, val.n, cs_metrics_accuracy(&tiles));
    /* After a refit the weights trained on val too: its figures are the validated run's. */
    ok = tta < 0 || val.n == 0 || r.refit || classify_val(m, &val, m->crop_bottom, tta != 0, confusion);
done:
    free(confusion);
    cs_metrics_free(&tiles);
    cs_dataset_free(&val);
    free(names);
    free(list);
    return ok;
}

/* The model as a .safetensors file, handed to the "model_bytes" event (a Uint8Array). */
EM_JS(void, emit_bytes, (const uint8_t *data, size_t size), {
    if (Module.onEvent) Module.onEvent("model_bytes", HEAPU8.slice(data >>> 0, (data >>> 0) + size));
});

EMSCRIPTEN_KEEPALIVE int csw_model_bytes(const cs_model *m) {
    uint8_t *data = NULL;
    size_t size = 0;
    if (cs_model_write(m, &data, &size, &csw_last_error) != CS_OK) return 0;
    emit_bytes(data, size);
    free(data);
    return 1;
}
