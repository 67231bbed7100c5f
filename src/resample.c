/* resample.c: an image brought to a model's pixel size, with stb_image_resize
   (Debian's libstb-dev): a box filter (area averages) along an axis that
   shrinks, Catmull-Rom along one that grows. Compiled without floating-point
   contraction, so that every build (FMA or not) rounds to the same gray. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

#define STB_IMAGE_RESIZE_IMPLEMENTATION
#define STB_IMAGE_RESIZE_STATIC
#include <stb_image_resize.h>

int cs_rescale_needed(float um_x, float um_y, float target, float *sx, float *sy) {
    *sx = *sy = 1;
    if (!(um_x > 0) || !(um_y > 0) || !(target > 0)) return 0;
    float fx = um_x / target, fy = um_y / target;
    if (fabsf(fx - 1) <= CS_RESCALE_TOLERANCE && fabsf(fy - 1) <= CS_RESCALE_TOLERANCE) return 0;
    *sx = fx;
    *sy = fy;
    return 1;
}

int cs_rescale_factors(const cs_model *m, const cs_image *im, float *sx, float *sy) {
    if (m->no_rescale) return *sx = *sy = 1, 0;
    return cs_rescale_needed(im->um_x, im->um_y, m->um_per_px, sx, sy);
}

static stbir_filter filter_for(float scale) {
    return scale < 1 ? STBIR_FILTER_BOX : STBIR_FILTER_CATMULLROM;
}

void cs_tile_coarser(float *t, int tile, float f) {
    int small = (int)lroundf(tile / f);
    float *low = malloc(sizeof(float) * (size_t)small * small);
    if (!low || small < 1) { /* out of memory: the tile as it is */
        free(low);
        return;
    }
    stbir_resize(t, tile, tile, tile * (int)sizeof(float), low, small, small, small * (int)sizeof(float),
                 STBIR_TYPE_FLOAT, 1, STBIR_ALPHA_CHANNEL_NONE, 0, STBIR_EDGE_CLAMP, STBIR_EDGE_CLAMP,
                 filter_for(1 / f), filter_for(1 / f), STBIR_COLORSPACE_LINEAR, NULL);
    stbir_resize(low, small, small, small * (int)sizeof(float), t, tile, tile, tile * (int)sizeof(float),
                 STBIR_TYPE_FLOAT, 1, STBIR_ALPHA_CHANNEL_NONE, 0, STBIR_EDGE_CLAMP, STBIR_EDGE_CLAMP,
                 filter_for(f), filter_for(f), STBIR_COLORSPACE_LINEAR, NULL);
    free(low);
}

cs_status cs_image_resample(cs_image *out, const cs_image *im, int crop, float sx, float sy,
                            cs_error *err) {
    memset(out, 0, sizeof *out);
    if (crop < 0) crop = 0;
    int h = im->h - crop < 0 ? 0 : im->h - crop;
    double ow = round(im->w * (double)sx), oh = round(h * (double)sy);
    if (ow > CS_MAX_IMAGE_SIDE || oh + crop > CS_MAX_IMAGE_SIDE || ow * (oh + crop) > CS_MAX_IMAGE_PIXELS)
        return cs_fail(err, CS_ELIMIT, "resampled to the model's pixel size (x%.3g), the %d x %d "
                       "image would be %.0f x %.0f pixels, over the limit of %lld pixels: give a "
                       "smaller image", sx, im->w, im->h, ow, oh + crop, CS_MAX_IMAGE_PIXELS);
    if (ow < 1 || oh < 1)
        return cs_fail(err, CS_EINPUT, "resampled to the model's pixel size (x%.3g), the %d x %d "
                       "image would vanish", sx, im->w, im->h);
    size_t w = (size_t)ow;
    out->gray = calloc(w * (size_t)(oh + crop), 1);
    if (!out->gray)
        return cs_fail(err, CS_ENOMEM, "out of memory resampling a %d x %d image", im->w, im->h);
    if (!stbir_resize(im->gray, im->w, h, im->w, out->gray, (int)w, (int)oh, (int)w,
                      STBIR_TYPE_UINT8, 1, STBIR_ALPHA_CHANNEL_NONE, 0, STBIR_EDGE_CLAMP,
                      STBIR_EDGE_CLAMP, filter_for(sx), filter_for(sy), STBIR_COLORSPACE_LINEAR,
                      NULL)) {
        cs_image_free(out);
        return cs_fail(err, CS_ENOMEM, "out of memory resampling a %d x %d image", im->w, im->h);
    }
    out->w = (int)w;
    out->h = (int)oh + crop;
    out->um_x = im->um_x / sx;
    out->um_y = im->um_y / sy;
    out->um_source = im->um_source;
    return CS_OK;
}
