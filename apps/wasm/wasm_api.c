/* wasm_api.c: the C API of the web page's WASM module (Emscripten only).

   The page's worker hands over an image file's bytes, which are decoded here
   with stb exactly as the CLI decodes them, so that the page and the CLI give
   the same probabilities (browsers' JPEG decoders differ from stb's). Canvas
   RGBA pixels are the fallback for what only the browser can decode (WebP,
   pasted bitmaps).

   Every call that can fail here or in wasm_finetune.c returns 0 or NULL and
   leaves a one-sentence message in csw_error(); nothing aborts. The module
   calls JS back through one function, Module.onEvent(kind, payload) (the kinds
   are web/constants.js's EVENT). Results are not returned as structs that JS
   would have to pick apart by offset: csw_classify_*_tta hand one plain JS
   object to the "result" event (copies, so C frees everything before
   returning). The "progress" event ({done, total}) follows each batch of
   tiles; its true return stops the work (CS_ECANCEL). The tta argument
   chooses test-time averaging for one classification (the page's switch):
   tta < 0 the model's, 0 one pass a tile, 1 the 8 symmetries. */
#include <emscripten.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>

#include "wasm.h"

cs_error csw_last_error;

EMSCRIPTEN_KEEPALIVE const char *csw_error(void) { return csw_last_error.msg; }

EMSCRIPTEN_KEEPALIVE const char *csw_version(void) { return CS_VERSION; }

/* ---------------------------------------------------------------- models */

/* The models loaded and not yet freed, and the heap's bytes in use: what the
   page's tests read to see that a model loaded again or removed gives its
   memory back (a WASM heap never shrinks, but its free bytes are reused). */
static int models_live;

EMSCRIPTEN_KEEPALIVE int csw_models_live(void) { return models_live; }

EMSCRIPTEN_KEEPALIVE double csw_heap_in_use(void) { return (double)mallinfo().uordblks; }

EMSCRIPTEN_KEEPALIVE cs_model *csw_model_load(const uint8_t *data, size_t size) {
    cs_model *m = calloc(1, sizeof *m);
    if (!m) {
        cs_fail(&csw_last_error, CS_ENOMEM, "out of memory for the model");
        return NULL;
    }
    if (cs_model_read(m, data, size, &csw_last_error) != CS_OK) {
        free(m);
        return NULL;
    }
    models_live++;
    return m;
}

/* cs_model_check for the page: a model file's size before it is read (a
   double: File.size may exceed 32 bits). Returns 1 if within the limit, else
   0 with the message in csw_error(). */
EMSCRIPTEN_KEEPALIVE int csw_model_check(double bytes) {
    return cs_model_check((long long)bytes, &csw_last_error) == CS_OK;
}

EMSCRIPTEN_KEEPALIVE void csw_model_free(cs_model *m) {
    if (!m) return;
    cs_model_free(m);
    free(m);
    models_live--;
}

static void json_string(FILE *f, const char *s) {
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

/* {"classes": [...], "crop_bottom": 96, "tile": 128, "arch": "...",
    "threshold": 0.5, "tta": 0, "params": 29953, "hash": "b0fc2c71aa6e",
    "metadata": {"key": "value", ...}} (hash: cs_model.hash, the CSVs' model_hash)
   malloc'd; the caller frees it with free(). */
EMSCRIPTEN_KEEPALIVE char *csw_model_info(const cs_model *m) {
    char *json = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&json, &len);
    if (!f) {
        cs_fail(&csw_last_error, CS_ENOMEM, "out of memory for the model's description");
        return NULL;
    }
    fputs("{\"classes\":[", f);
    for (int i = 0; i < m->net.nclasses; i++) {
        if (i) fputc(',', f);
        json_string(f, m->classes[i]);
    }
    fprintf(f, "],\"crop_bottom\":%d,\"tile\":%d,\"arch\":", m->crop_bottom, m->net.tile);
    json_string(f, m->net.arch);
    fprintf(f, ",\"threshold\":%.9g,\"tta\":%d,\"params\":%zu,\"hash\":\"%s\",\"metadata\":{", m->threshold,
            m->tta, m->net.nparams, m->hash);
    for (int i = 0; i < m->nmeta; i++) {
        if (i) fputc(',', f);
        json_string(f, m->meta[i].key);
        fputc(':', f);
        json_string(f, m->meta[i].value);
    }
    fputs("}}", f);
    if (fclose(f) != 0) {
        free(json);
        cs_fail(&csw_last_error, CS_ENOMEM, "out of memory for the model's description");
        return NULL;
    }
    return json;
}

/* cs_verdict for the page: is an image of class predicted (and known, as
   its result says) the expected class? */
EMSCRIPTEN_KEEPALIVE const char *csw_verdict(const cs_model *m, int predicted, int known, const char *expected) {
    return cs_verdict(m, predicted, known, expected);
}

/* cs_csv_field for the page: s (a file, class or model name) as a cell of its
   CSVs, by the rule the CLI's follow. malloc'd; the caller frees it. */
EMSCRIPTEN_KEEPALIVE char *csw_csv_field(const char *s) {
    char *cell = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&cell, &len);
    if (f) cs_csv_field(f, s);
    if (!f || fclose(f) != 0) {
        free(cell);
        cs_fail(&csw_last_error, CS_ENOMEM, "out of memory for a CSV cell");
        return NULL;
    }
    return cell;
}

/* ---------------------------------------------------------------- expected lines */

/* cs_expected_lines_read for the page: an expected-lines CSV's bytes, or NULL
   with the message in csw_error(). Free it with csw_expected_free. */
EMSCRIPTEN_KEEPALIVE cs_expected_lines *csw_expected_read(const uint8_t *data, size_t size) {
    cs_expected_lines *ex = calloc(1, sizeof *ex);
    if (!ex) {
        cs_fail(&csw_last_error, CS_ENOMEM, "out of memory for the expected lines");
        return NULL;
    }
    if (cs_expected_lines_read(ex, data, size, &csw_last_error) != CS_OK) {
        free(ex);
        return NULL;
    }
    return ex;
}

/* Its rows, and row i's line (the page names the lines its model does not know). */
EMSCRIPTEN_KEEPALIVE int csw_expected_rows(const cs_expected_lines *ex) { return ex->n; }

EMSCRIPTEN_KEEPALIVE const char *csw_expected_row_line(const cs_expected_lines *ex, int i) {
    return ex->rows[i].line;
}

/* cs_expected_line: an image's line by its name on the page; NULL: none. */
EMSCRIPTEN_KEEPALIVE const char *csw_expected_line(const cs_expected_lines *ex, const char *name) {
    return cs_expected_line(ex, name);
}

EMSCRIPTEN_KEEPALIVE void csw_expected_free(cs_expected_lines *ex) {
    if (!ex) return;
    cs_expected_lines_free(ex);
    free(ex);
}

/* ---------------------------------------------------------------- classification */

EM_JS(int, report_progress, (int done, int total), {
    return Module.onEvent && Module.onEvent("progress", {done, total}) ? 1 : 0;
});

static int on_progress(void *ctx, int done, int total) {
    (void)ctx;
    return report_progress(done, total);
}

/* Pointers are unsigned (the heap may pass 2 GB), hence >>> before indexing. */
EM_JS(void, emit_result,
      (int width, int height, int crop_bottom, int tile, int tta, int nclasses, int ntiles,
       int nforeground, int cols, int rows, int predicted, float confidence,
       const float *probs, const int *x, const int *y, const uint8_t *background,
       const int *tile_class, const float *tile_probs, const uint8_t *thumb, int thumb_w,
       int thumb_h, const char *um, const char *um_source, const char *scale, float scale_x,
       float scale_y, float model_um, int known, const char *known_text, const char *ood_score,
       const char *tile_ood), {
    const f32 = (p, n) => HEAPF32.slice(p >>> 2, (p >>> 2) + n);
    const i32 = (p, n) => HEAP32.slice(p >>> 2, (p >>> 2) + n);
    const u8 = (p, n) => HEAPU8.slice(p >>> 0, (p >>> 0) + n);
    if (Module.onEvent) Module.onEvent("result", {
        width, height, cropBottom: crop_bottom, tile, tta: tta !== 0, cols, rows, ntiles, nforeground,
        predicted, confidence, probs: f32(probs, nclasses),
        tiles: {
            x: i32(x, ntiles), y: i32(y, ntiles), background: u8(background, ntiles),
            predicted: i32(tile_class, ntiles), probs: f32(tile_probs, ntiles * nclasses)
        },
        thumbnail: {width: thumb_w, height: thumb_h, gray: u8(thumb, thumb_w * thumb_h)},
        pixelSize: {
            um: UTF8ToString(um), source: UTF8ToString(um_source), scale: UTF8ToString(scale),
            scaleX: scale_x, scaleY: scale_y, modelUm: model_um
        },
        ood: {known, knownText: UTF8ToString(known_text), score: UTF8ToString(ood_score),
              tiles: UTF8ToString(tile_ood).split(",")}
    });
});

/* A box-filtered copy of im whose longer side is at most side pixels. */
static uint8_t *thumbnail(const cs_image *im, int side, int *tw, int *th) {
    int step = 1;
    while (im->w / step > side || im->h / step > side) step++;
    *tw = im->w / step > 0 ? im->w / step : 1;
    *th = im->h / step > 0 ? im->h / step : 1;
    uint8_t *t = malloc((size_t)*tw * *th);
    if (!t) return NULL;
    for (int ty = 0; ty < *th; ty++)
        for (int tx = 0; tx < *tw; tx++) {
            unsigned sum = 0, n = 0;
            for (int y = ty * step; y < (ty + 1) * step && y < im->h; y++)
                for (int x = tx * step; x < (tx + 1) * step && x < im->w; x++, n++)
                    sum += im->gray[(size_t)y * im->w + x];
            t[(size_t)ty * *tw + tx] = (uint8_t)((sum + n / 2) / n);
        }
    return t;
}

/* Classifies im (and frees it), emitting the result and a thumbnail whose
   longer side is at most thumb_side. Returns 1 on success. */
static int classify(const cs_model *model, cs_image *im, int crop_bottom, int thumb_side, int tta) {
    /* A shallow copy with the tta asked for: cs_classify only reads the model. */
    cs_model view = *model, *m = &view;
    if (tta >= 0) view.tta = tta != 0;
    cs_result r = {0};
    int tw = 0, th = 0;
    uint8_t *thumb = NULL;
    int ok = cs_classify(m, im, crop_bottom, &r, on_progress, NULL, &csw_last_error) == CS_OK;
    if (ok && !(thumb = thumbnail(im, thumb_side > 0 ? thumb_side : 1, &tw, &th))) {
        cs_fail(&csw_last_error, CS_ENOMEM, "out of memory for the thumbnail");
        ok = 0;
    }
    /* The CSVs' texts, formatted as the CLI formats them: the tiles'
       out-of-distribution scores comma-separated ("" without statistics). */
    char um[48], scale[48], score[32] = "", *tile_ood = ok ? calloc((size_t)r.ntiles + 1, 16) : NULL;
    if (ok && !tile_ood) {
        cs_fail(&csw_last_error, CS_ENOMEM, "out of memory for the scores");
        ok = 0;
    }
    if (ok) {
        cs_format_xy(um, sizeof um, r.um_x, r.um_y);
        cs_format_xy(scale, sizeof scale, r.scale_x, r.scale_y);
        if (r.tile_ood) {
            snprintf(score, sizeof score, CS_OOD_SCORE_FORMAT, r.ood_score);
            for (int t = 0, at = 0; t < r.ntiles; t++)
                at += snprintf(tile_ood + at, 16, t ? "," CS_OOD_SCORE_FORMAT : CS_OOD_SCORE_FORMAT, r.tile_ood[t]);
        }
        emit_result(im->w, im->h, crop_bottom >= 0 ? crop_bottom : m->crop_bottom, m->net.tile,
                    m->tta, m->net.nclasses, r.ntiles, r.nforeground, r.cols, r.rows, r.predicted,
                    r.confidence, r.probs, r.x, r.y, r.background, r.tile_class, r.tile_probs,
                    thumb, tw, th, um, r.um_source ? r.um_source : "", scale, r.scale_x, r.scale_y,
                    m->um_per_px, r.known, cs_known_text(r.known), score, tile_ood);
    }
    free(tile_ood);
    free(thumb);
    cs_result_free(&r);
    cs_image_free(im);
    return ok;
}

/* An encoded image file (JPEG, PNG, TIFF, ...), decoded as the CLI decodes it.
   crop_bottom < 0 takes the model's, and so does tta < 0; um (> 0) is the
   pixel size of a file that states none, as --um-per-px. */
EMSCRIPTEN_KEEPALIVE int csw_classify_file_tta(const cs_model *m, const uint8_t *data, size_t size,
                                               int crop_bottom, int thumb_side, int tta, double um) {
    cs_image im = {0};
    if (cs_image_decode(&im, data, size, &csw_last_error) != CS_OK) return 0;
    if (cs_image_assume_pixel_size(&im, um, &csw_last_error) != CS_OK) {
        cs_image_free(&im);
        return 0;
    }
    return classify(m, &im, crop_bottom, thumb_side, tta);
}

/* cs_image_check for the worker: a file's size before it is read (w = h = 0)
   and the size of an image only the browser decodes, before it does. bytes
   is a double: JS's File.size may exceed 32 bits. Returns 1 if within the
   limits, else 0 with the message in csw_error(). */
EMSCRIPTEN_KEEPALIVE int csw_image_check(double bytes, int w, int h) {
    return cs_image_check((long long)bytes, w, h, &csw_last_error) == CS_OK;
}

/* cs_mib for the page's own messages, so that they give sizes as the core's do. */
EMSCRIPTEN_KEEPALIVE const char *csw_mib(double bytes) {
    static _Thread_local char mib[32];
    return cs_mib(mib, sizeof mib, (long long)bytes);
}

/* cs_image_name for the page: whether a file met in a folder (the page's
   folder walk, the Teach panel's bins) is an image by its name, by the rule
   the CLI's folder walk and data sets follow. */
EMSCRIPTEN_KEEPALIVE int csw_image_name(const char *name) { return cs_image_name(name); }

/* Canvas pixels, w * h * 4 bytes. */
EMSCRIPTEN_KEEPALIVE int csw_classify_rgba_tta(const cs_model *m, const uint8_t *rgba, int w, int h,
                                               int crop_bottom, int thumb_side, int tta, double um) {
    cs_image im = {0};
    if (cs_image_from_rgba(&im, rgba, w, h, &csw_last_error) != CS_OK) return 0;
    if (cs_image_assume_pixel_size(&im, um, &csw_last_error) != CS_OK) {
        cs_image_free(&im);
        return 0;
    }
    return classify(m, &im, crop_bottom, thumb_side, tta);
}
