/* classify.c: a whole image's class, from the votes of its tiles. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* Tiles (with TTA: transformed tiles) per forward pass. An inference
   workspace holds one batch's inputs and each thread's tiles going through
   the convolutions, so memory does not grow with the image; 8 also holds one
   tile's 8 symmetries. */
#define BATCH 8

int cs_model_decide(const cs_model *m, const float *probs) {
    int K = m->net.nclasses;
    if (K == 2) return probs[1] >= m->threshold;
    int best = 0;
    for (int k = 1; k < K; k++)
        if (probs[k] > probs[best]) best = k;
    return best;
}

void cs_result_free(cs_result *res) {
    if (!res) return;
    free(res->x);
    free(res->y);
    free(res->background);
    free(res->tile_probs);
    free(res->tile_class);
    free(res->probs);
    free(res->tile_ood);
    memset(res, 0, sizeof *res);
}

/* Reads tiles [first, first + count) of the grid into x; with TTA each tile
   becomes its 8 symmetries, one after another. */
static void read_tiles(float *x, float *one, const cs_image *im, cs_result *res, int first,
                       int count, int tile, int tta) {
    size_t n = (size_t)tile * tile;
    for (int j = 0; j < count; j++) {
        int t = first + j;
        res->x[t] = t % res->cols * tile;
        res->y[t] = t / res->cols * tile;
        if (!tta) {
            res->background[t] = (uint8_t)cs_tile_read(x + j * n, im, res->x[t], res->y[t], tile);
            continue;
        }
        res->background[t] = (uint8_t)cs_tile_read(one, im, res->x[t], res->y[t], tile);
        for (int k = 0; k < 8; k++) cs_tile_dihedral(x + (j * 8 + k) * n, one, tile, k);
    }
}

/* Tiles [first, first + count) of the last forward pass: the features m's
   score reads (activation `layer`, W a tile, view 0) kept in features
   [ntiles][W] if asked, and scored if m scores by features and not by the
   image's class (cs_ood_by_class: ood_verdict scores them). */
static void score_features(const cs_model *m, const cs_workspace *ws, cs_result *res, int first,
                           int count, int views, int layer, int W, float *features) {
    const float *a = cs_net_activation(ws, layer);
    for (int j = 0; j < count; j++) {
        const float *f = a + (size_t)j * views * W;
        if (features) memcpy(features + (size_t)(first + j) * W, f, sizeof(float) * W);
        if (res->tile_ood && m->ood.kind != CS_OOD_KIND_MSP && !cs_ood_by_class(m->ood.kind))
            res->tile_ood[first + j] = cs_ood_tile_score(m, f, -1);
    }
}

/* The image's out-of-distribution score and verdict from its tiles', scored
   here against the image's class for the scores by class (features [ntiles][W]);
   for the score by image, from the mean of its tiles' features. */
static void ood_verdict(const cs_model *m, cs_result *res, const float *features, int W) {
    if (!res->tile_ood) return;
    if (cs_ood_by_class(m->ood.kind))
        for (int t = 0; t < res->ntiles; t++)
            res->tile_ood[t] = cs_ood_tile_score(m, features + (size_t)t * W, res->predicted);
    if (cs_ood_by_image(m->ood.kind)) {
        float u[CS_MAX_OOD_DIM];
        cs_ood_image_mean(features, res, W, u);
        res->ood_score = cs_ood_tile_score(m, u, res->predicted);
    } else {
        double sum = 0;
        for (int t = 0; t < res->ntiles; t++)
            if (cs_tile_votes(res, t)) sum += res->tile_ood[t];
        res->ood_score = (float)(sum / cs_voting_tiles(res));
    }
    if (!isnan(m->ood.threshold)) res->known = res->ood_score <= cs_ood_threshold(&m->ood, cs_voting_tiles(res));
}

/* The grid of im's tiles classified, at im's scale. */
static cs_status classify_tiles(const cs_model *m, const cs_image *im, int crop_bottom,
                                cs_result *res, cs_progress_fn progress, void *ctx, float **features,
                                cs_error *err) {
    const cs_net *net = &m->net;
    int tile = net->tile, K = net->nclasses, tta = m->tta != 0, views = tta ? 8 : 1;
    cs_tile_grid(im->w, im->h, crop_bottom, tile, &res->cols, &res->rows);
    if ((res->cols == 0 || res->rows == 0) && crop_bottom > 0)
        return cs_fail(err, CS_EINPUT, "the image is %d x %d pixels, %d x %d without its bottom %d "
                       "rows: smaller than one %d x %d tile", im->w, im->h, im->w,
                       im->h - crop_bottom, crop_bottom, tile, tile);
    if (res->cols == 0 || res->rows == 0)
        return cs_fail(err, CS_EINPUT, "the image is %d x %d pixels: smaller than one %d x %d tile",
                       im->w, im->h, tile, tile);

    int n = res->ntiles = res->cols * res->rows;
    int per_batch = BATCH / views; /* tiles */
    size_t tile_floats = (size_t)tile * tile;
    res->x = malloc(sizeof(int) * n);
    res->y = malloc(sizeof(int) * n);
    res->background = malloc(n);
    res->tile_probs = malloc(sizeof(float) * n * K);
    res->tile_class = malloc(sizeof(int) * n);
    res->probs = calloc(K, sizeof(float));
    int W, layer = cs_ood_layer(m, &W), scored = cs_ood_ready(m), msp = m->ood.kind == CS_OOD_KIND_MSP;
    if (scored) res->tile_ood = malloc(sizeof(float) * n);
    /* The scores by class score the tiles once the image's class is known. */
    int later = scored && cs_ood_by_class(m->ood.kind);
    float *own = NULL, *feat = NULL;
    if (features) feat = *features = malloc(sizeof(float) * n * (W ? W : 1));
    else if (later) feat = own = malloc(sizeof(float) * n * (W ? W : 1));
    float *x = malloc(sizeof(float) * tile_floats * BATCH);
    float *one = malloc(sizeof(float) * tile_floats);
    float *p = malloc(sizeof(float) * BATCH * K);
    cs_workspace *ws = NULL;
    cs_status s = CS_OK;
    if (!res->x || !res->y || !res->background || !res->tile_probs || !res->tile_class ||
        !res->probs || !x || !one || !p || (scored && !res->tile_ood) || ((features || later) && !feat)) {
        s = cs_fail(err, CS_ENOMEM, "out of memory for the %d tiles of a %d x %d image", n, im->w,
                    im->h);
        goto out;
    }
    if (!(ws = cs_workspace_new_inference(net, BATCH, err))) {
        s = err ? err->code : CS_ENOMEM;
        goto out;
    }

    /* Batches never straddle a tile row: the grid is read row by row. */
    for (int r = 0, done = 0; r < res->rows; r++)
        for (int c = 0; c < res->cols; c += per_batch) {
            int count = res->cols - c < per_batch ? res->cols - c : per_batch, first = r * res->cols + c;
            read_tiles(x, one, im, res, first, count, tile, tta);
            cs_net_forward(net, ws, 0, x, count * views, 0, NULL, p);
            if (W && ((scored && !msp) || feat)) score_features(m, ws, res, first, count, views, layer, W, feat);
            for (int j = 0; j < count; j++) {
                float *tp = res->tile_probs + (size_t)(first + j) * K;
                for (int k = 0; k < K; k++) {
                    float sum = 0;
                    for (int v = 0; v < views; v++) sum += p[(j * views + v) * K + k];
                    tp[k] = sum / views;
                    if (!isfinite(tp[k])) {
                        s = cs_fail(err, CS_EINPUT, "the model gives a non-finite probability "
                                    "(are its weights finite?)");
                        goto out;
                    }
                }
                cs_temper(tp, K, m->temperature);
                res->tile_class[first + j] = cs_model_decide(m, tp);
                if (msp && res->tile_ood) res->tile_ood[first + j] = cs_ood_msp(tp, K);
            }
            done += count;
            if (progress && progress(ctx, done, n)) {
                s = cs_fail(err, CS_ECANCEL, "cancelled after %d of %d tiles", done, n);
                goto out;
            }
        }

    /* The image's vote: the mean over tiles with something on them, or over
       all tiles of an image that is all background. */
    for (int t = 0; t < n; t++) res->nforeground += !res->background[t];
    for (int k = 0; k < K; k++) {
        double sum = 0;
        for (int t = 0; t < n; t++)
            if (cs_tile_votes(res, t)) sum += res->tile_probs[(size_t)t * K + k];
        res->probs[k] = (float)(sum / cs_voting_tiles(res));
    }
    res->predicted = cs_model_decide(m, res->probs);
    res->confidence = res->probs[res->predicted];
    ood_verdict(m, res, feat, W);

out:
    cs_workspace_free(ws);
    free(own);
    free(x);
    free(one);
    free(p);
    if (s != CS_OK) {
        cs_result_free(res);
        if (features) free(*features), *features = NULL;
    }
    return s;
}

static cs_status classify(const cs_model *m, const cs_image *im, int crop_bottom, cs_result *res,
                          cs_progress_fn progress, void *ctx, float **features, cs_error *err) {
    memset(res, 0, sizeof *res);
    res->ood_score = NAN;
    res->known = -1;
    if (!im || !im->gray || im->w <= 0 || im->h <= 0)
        return cs_fail(err, CS_EINPUT, "no image to classify");
    if (crop_bottom < 0) crop_bottom = m->crop_bottom;
    float sx, sy;
    cs_status s;
    if (!cs_rescale_factors(m, im, &sx, &sy)) {
        s = classify_tiles(m, im, crop_bottom, res, progress, ctx, features, err);
    } else {
        cs_image scaled;
        int cols, rows;
        if ((s = cs_image_resample(&scaled, im, crop_bottom, sx, sy, err)) != CS_OK) return s;
        cs_tile_grid(scaled.w, scaled.h, crop_bottom, m->net.tile, &cols, &rows);
        if (cols == 0 || rows == 0)
            s = cs_fail(err, CS_EINPUT, "the image is %d x %d pixels, %d x %d without its bottom %d "
                        "rows, %d x %d at the model's pixel size (%g um): smaller than one %d x %d "
                        "tile", im->w, im->h, im->w, im->h - crop_bottom, crop_bottom, scaled.w,
                        scaled.h - crop_bottom, m->um_per_px, m->net.tile, m->net.tile);
        else
            s = classify_tiles(m, &scaled, crop_bottom, res, progress, ctx, features, err);
        /* Tiles placed in the image's own pixels. */
        double fx = (double)im->w / scaled.w, fy = (double)(im->h - crop_bottom) / (scaled.h - crop_bottom);
        for (int t = 0; s == CS_OK && t < res->ntiles; t++) {
            res->x[t] = (int)lround(res->x[t] * fx);
            res->y[t] = (int)lround(res->y[t] * fy);
        }
        cs_image_free(&scaled);
    }
    if (s != CS_OK) return s;
    res->um_x = im->um_x;
    res->um_y = im->um_y;
    res->um_source = im->um_source;
    res->scale_x = sx;
    res->scale_y = sy;
    return CS_OK;
}

cs_status cs_classify(const cs_model *m, const cs_image *im, int crop_bottom, cs_result *res,
                      cs_progress_fn progress, void *ctx, cs_error *err) {
    return classify(m, im, crop_bottom, res, progress, ctx, NULL, err);
}

cs_status cs_classify_features(const cs_model *m, const cs_image *im, int crop_bottom, cs_result *res,
                               float **features, cs_error *err) {
    *features = NULL;
    return classify(m, im, crop_bottom, res, NULL, NULL, features, err);
}
