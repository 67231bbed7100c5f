/* test_tiff.c: every TIFF fixture (tools/make_tiff_fixtures), and the 16-bit
   PNGs and PGM beside them, decode to the pixels of its 8-bit PNG and classifies as the PNG does with the shipped model; pages;
   the intensity rule for 16-bit and float data, on files written here; the TIFF
   bombs of tests/data/bad refused. */
#include <stdlib.h>
#include <string.h>

#include <tiffio.h>

#include "internal.h"
#include "test.h"

static const char *data_dir;
static cs_model model;

static const char *path_of(const char *folder, const char *name) {
    static char path[1024];
    snprintf(path, sizeof path, "%s/%s/%s", data_dir, folder, name);
    return path;
}

static uint8_t *read_all(const char *path, size_t *size) {
    uint8_t *data;
    cs_error err;
    if (cs_image_read_file(path, &data, size, &err) != CS_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return NULL;
    }
    return data;
}

static int same_pixels(const cs_image *a, const cs_image *b) {
    return a->gray && b->gray && a->w == b->w && a->h == b->h &&
           !memcmp(a->gray, b->gray, (size_t)a->w * a->h);
}

/* im classifies as ref does, to 1e-4, tile by tile; the tiles are not all background. */
static void same_probabilities(const char *name, const cs_image *im, const cs_image *ref) {
    cs_result a, b;
    cs_error err = {0};
    if (cs_classify(&model, im, 0, &a, NULL, NULL, &err) != CS_OK ||
        cs_classify(&model, ref, 0, &b, NULL, NULL, &err) != CS_OK) {
        fprintf(stderr, "%s: %s\n", name, err.msg);
        CHECK(0);
        return;
    }
    int K = model.net.nclasses, same = a.ntiles == b.ntiles && a.nforeground == b.nforeground;
    for (int t = 0; same && t < a.ntiles * K; t++) same = fabsf(a.tile_probs[t] - b.tile_probs[t]) <= 1e-4f;
    for (int k = 0; same && k < K; k++) same = fabsf(a.probs[k] - b.probs[k]) <= 1e-4f;
    if (!same) fprintf(stderr, "%s: probabilities differ from the PNG's\n", name);
    CHECK(same);
    CHECK(a.ntiles == 2 && a.nforeground > 0);
    cs_result_free(&a);
    cs_result_free(&b);
}

/* Each fixture: the PNG's pixels, the size from the header, the PNG's probabilities. */
static void test_fixtures(const cs_image *ref) {
    const char *files[] = {"gray8.tif", "lzw.tif", "deflate.tif", "packbits.tif", "tiled.tif",
                           "bigtiff.tif", "gray16.tif", "gray12.tif", "gray12x16.tif", "float.tif",
                           "float_counts.tif", "ome.ome.tif", "pages.tif", "rgb8.tif", "rgb16.tif",
                           "palette.tif", "miniswhite.tif",
                           /* 16-bit PNG and PGM: the same rule as TIFF */
                           "gray16.png", "gray12.png", "rgb16.png", "gray12.pgm"};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        size_t size;
        uint8_t *data = read_all(path_of("tiff", files[i]), &size);
        cs_image im;
        cs_error err = {0};
        int w = 0, h = 0;
        CHECK(data && cs_image_info(data, size, &w, &h, &err) == CS_OK);
        CHECK(w == ref->w && h == ref->h);
        cs_status s = data ? cs_image_decode(&im, data, size, &err) : CS_EIO;
        if (s != CS_OK) fprintf(stderr, "%s: %s\n", files[i], err.msg);
        CHECK(s == CS_OK);
        if (s == CS_OK && !same_pixels(&im, ref)) fprintf(stderr, "%s: pixels differ\n", files[i]);
        CHECK(s == CS_OK && same_pixels(&im, ref));
        if (s == CS_OK) same_probabilities(files[i], &im, ref);
        cs_image_free(&im);
        free(data);
    }

    /* Colour: stb's gray formula, as for the PNG of the same RGBA pixels. */
    cs_image png, tif;
    cs_error err = {0};
    CHECK(cs_image_load(&png, path_of("images", "color.png"), &err) == CS_OK);
    CHECK(cs_image_load(&tif, path_of("tiff", "rgba.tif"), &err) == CS_OK);
    CHECK(same_pixels(&png, &tif));
    cs_image_free(&png);
    cs_image_free(&tif);
}

/* pages.tif: the pixels, mirrored, inverted; the count; a page too far. */
static void test_pages(const cs_image *ref) {
    size_t size, n = (size_t)ref->w * ref->h;
    uint8_t *data = read_all(path_of("tiff", "pages.tif"), &size);
    if (!data) {
        CHECK(0);
        return;
    }
    cs_image want = {.w = ref->w, .h = ref->h, .gray = malloc(n)};
    for (int page = 0; page < 3; page++) {
        for (size_t i = 0; i < n; i++) {
            size_t x = i % ref->w, row = i - x;
            uint8_t v = ref->gray[i];
            want.gray[i] = page == 0 ? v : page == 2 ? 255 - v : ref->gray[row + ref->w - 1 - x];
        }
        cs_image im;
        cs_error err = {0};
        int pages = 0;
        CHECK(cs_image_decode_page(&im, data, size, page, &pages, &err) == CS_OK);
        CHECK(pages == 3);
        CHECK(same_pixels(&im, &want));
        cs_image_free(&im);
    }
    cs_image im;
    cs_error err = {0};
    CHECK(cs_image_decode_page(&im, data, size, 3, NULL, &err) == CS_EINPUT);
    CHECK(strstr(err.msg, "has 3 pages, no page 4") && im.gray == NULL);
    CHECK(cs_image_decode_page(&im, data, size, -1, NULL, &err) == CS_EINPUT);
    free(data);
    free(want.gray);

    /* Other formats have one page. */
    data = read_all(path_of("tiff", "cells.png"), &size);
    int pages = 0;
    CHECK(data && cs_image_decode_page(&im, data, size, 0, &pages, &err) == CS_OK && pages == 1);
    cs_image_free(&im);
    CHECK(data && cs_image_decode_page(&im, data, size, 1, &pages, &err) == CS_EINPUT);
    CHECK(strstr(err.msg, "1 page, no page 2") != NULL);
    free(data);
}

/* A growing file in memory, for libtiff to write to. */
typedef struct {
    uint8_t *data;
    uint64_t size, pos, cap;
} sink;

static tmsize_t sink_write(thandle_t h, void *buf, tmsize_t n) {
    sink *k = h;
    if (k->pos + (uint64_t)n > k->cap) {
        uint64_t cap = 2 * (k->pos + (uint64_t)n);
        uint8_t *p = realloc(k->data, (size_t)cap);
        if (!p) return -1;
        memset(p + k->cap, 0, (size_t)(cap - k->cap));
        k->data = p, k->cap = cap;
    }
    memcpy(k->data + k->pos, buf, (size_t)n);
    k->pos += (uint64_t)n;
    if (k->pos > k->size) k->size = k->pos;
    return n;
}

static tmsize_t sink_read(thandle_t h, void *buf, tmsize_t n) {
    sink *k = h;
    tmsize_t got = k->pos >= k->size ? 0 : (tmsize_t)(k->size - k->pos) < n ? (tmsize_t)(k->size - k->pos) : n;
    memcpy(buf, k->data + k->pos, (size_t)got);
    k->pos += (uint64_t)got;
    return got;
}

static toff_t sink_seek(thandle_t h, toff_t off, int whence) {
    sink *k = h;
    k->pos = (whence == SEEK_CUR ? k->pos : whence == SEEK_END ? k->size : 0) + off;
    return k->pos;
}

static int sink_close(thandle_t h) { return 0; }
static toff_t sink_size(thandle_t h) { return ((sink *)h)->size; }

/* A one-page gray TIFF of w x h samples of `bits` (16: uint16, 32: float) in
   memory, with SMaxSampleValue if smax > 0. */
static uint8_t *write_tiff(const void *samples, int w, int h, int bits, double smax, size_t *size) {
    sink k = {0};
    TIFF *t = TIFFClientOpen("written", "w", &k, sink_read, sink_write, sink_seek, sink_close,
                             sink_size, NULL, NULL);
    if (!t) return NULL;
    TIFFSetField(t, TIFFTAG_IMAGEWIDTH, w);
    TIFFSetField(t, TIFFTAG_IMAGELENGTH, h);
    TIFFSetField(t, TIFFTAG_BITSPERSAMPLE, bits);
    TIFFSetField(t, TIFFTAG_SAMPLESPERPIXEL, 1);
    TIFFSetField(t, TIFFTAG_SAMPLEFORMAT, bits == 32 ? SAMPLEFORMAT_IEEEFP : SAMPLEFORMAT_UINT);
    TIFFSetField(t, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_MINISBLACK);
    TIFFSetField(t, TIFFTAG_ROWSPERSTRIP, 16);
    TIFFSetField(t, TIFFTAG_COMPRESSION, COMPRESSION_ADOBE_DEFLATE);
    if (smax > 0) TIFFSetField(t, TIFFTAG_SMAXSAMPLEVALUE, smax);
    for (int y = 0; y < h; y++)
        TIFFWriteScanline(t, (uint8_t *)samples + (size_t)y * w * bits / 8, (uint32_t)y, 0);
    TIFFClose(t);
    *size = (size_t)k.size;
    return k.data;
}

static cs_status decode_written(cs_image *im, const void *samples, int w, int h, int bits, double smax) {
    size_t size;
    uint8_t *data = write_tiff(samples, w, h, bits, smax, &size);
    cs_error err = {0};
    cs_status s = data ? cs_image_decode(im, data, size, &err) : CS_EIO;
    if (s != CS_OK) fprintf(stderr, "a written TIFF: %s\n", err.msg);
    free(data);
    return s;
}

/* The intensity rule: v >> (even bits of the range - 8); floats within [0, 1] x 255. */
static void test_rule(void) {
    uint16_t v16[4] = {0, 100, 1000, 1500}; /* 11 bits: 12, >> 4 */
    cs_image im;
    CHECK(decode_written(&im, v16, 4, 1, 16, 0) == CS_OK);
    CHECK(im.gray && im.gray[0] == 0 && im.gray[1] == 6 && im.gray[2] == 62 && im.gray[3] == 93);
    cs_image_free(&im);
    uint16_t v10[2] = {100, 1000}; /* 10 bits: >> 2 */
    CHECK(decode_written(&im, v10, 2, 1, 16, 0) == CS_OK);
    CHECK(im.gray && im.gray[0] == 25 && im.gray[1] == 250);
    cs_image_free(&im);
    /* The file states 16 bits: >> 8, whatever the data's own range. */
    CHECK(decode_written(&im, v16, 4, 1, 16, 65535) == CS_OK);
    CHECK(im.gray && im.gray[2] == 3 && im.gray[3] == 5);
    cs_image_free(&im);
    /* Dim data within 8 bits stays as it is. */
    uint16_t dim[2] = {3, 200};
    CHECK(decode_written(&im, dim, 2, 1, 16, 0) == CS_OK);
    CHECK(im.gray && im.gray[0] == 3 && im.gray[1] == 200);
    cs_image_free(&im);
    /* Floats: [0, 1] rounded to 255ths; negatives and NaN black; counts as 16-bit. */
    float f[4] = {-0.5f, 0.5f, 1.0f, NAN};
    CHECK(decode_written(&im, f, 4, 1, 32, 0) == CS_OK);
    CHECK(im.gray && im.gray[0] == 0 && im.gray[1] == 128 && im.gray[2] == 255 && im.gray[3] == 0);
    cs_image_free(&im);
    float counts[4] = {0, 100.7f, 1000, 1500};
    CHECK(decode_written(&im, counts, 4, 1, 32, 0) == CS_OK);
    CHECK(im.gray && im.gray[1] == 6 && im.gray[2] == 62 && im.gray[3] == 93);
    cs_image_free(&im);
}

/* The background rule on 12-bit data: empty medium is background and one cell
   is not, as in the 8-bit PNGs. */
static void test_background_12bit(void) {
    const char *names[] = {"background.png", "one_cell.png"};
    for (int i = 0; i < 2; i++) {
        cs_image png, tif;
        cs_error err = {0};
        CHECK(cs_image_load(&png, path_of("images", names[i]), &err) == CS_OK);
        if (!png.gray) continue;
        size_t n = (size_t)png.w * png.h;
        uint16_t *v = malloc(n * sizeof *v);
        for (size_t k = 0; k < n; k++) v[k] = (uint16_t)(png.gray[k] * 16);
        CHECK(decode_written(&tif, v, png.w, png.h, 16, 0) == CS_OK);
        CHECK(same_pixels(&png, &tif));
        cs_result a, b;
        CHECK(cs_classify(&model, &png, 0, &a, NULL, NULL, &err) == CS_OK);
        CHECK(cs_classify(&model, &tif, 0, &b, NULL, NULL, &err) == CS_OK);
        CHECK(a.ntiles == 1 && b.ntiles == 1 && a.background[0] == (i == 0));
        CHECK(b.background[0] == a.background[0]);
        cs_result_free(&a);
        cs_result_free(&b);
        cs_image_free(&png);
        cs_image_free(&tif);
        free(v);
    }
}

/* The bombs: the code and words of each refusal, from the header as from decoding. */
static void test_bombs(void) {
    const struct {
        const char *file;
        cs_status code;
        const char *says;
    } bad[] = {{"tiff_huge.tif", CS_ELIMIT, "60000 x 60000"},
               {"tiff_strip.tif", CS_ELIMIT, "65535 on a side"},
               {"tiff_loop.tif", CS_EINPUT, "pages form a loop"},
               {"tiff_offsets.tif", CS_EINPUT, "lies past the end of the file"},
               {"tiff_lzw_bomb.tif", CS_EINPUT, "a decompression bomb"},
               {"tiff_jpeg.tif", CS_EINPUT, "uses JPEG compression, which cellsight cannot decode"},
               {"tiff_truncated.tif", CS_EINPUT, "damaged or truncated"}};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        size_t size;
        uint8_t *data = read_all(path_of("bad", bad[i].file), &size);
        cs_image im;
        cs_error err = {0}, info = {0};
        int w, h;
        cs_status s = data ? cs_image_decode(&im, data, size, &err) : CS_EIO;
        if (s != bad[i].code || !strstr(err.msg, bad[i].says))
            fprintf(stderr, "%s: got %d \"%s\"\n", bad[i].file, s, err.msg);
        CHECK(s == bad[i].code && strstr(err.msg, bad[i].says) && im.gray == NULL);
        CHECK(data && cs_image_info(data, size, &w, &h, &info) == s && !strcmp(info.msg, err.msg));
        free(data);
    }
}

/* A decoded strip needing more than the budget with the gray image is refused
   before anything is allocated: one LZW strip of 20000 x 20000 RGBA 16-bit
   (libtiff would cut an uncompressed one into small strips). */
static void test_budget(void) {
    uint8_t head[512] = "II*\0";
    size_t k = 8;
    const uint32_t e[][3] = {{256, 4, 20000}, {257, 4, 20000}, {258, 3, 16}, {259, 3, 5},
                             {262, 3, 2}, {273, 4, 8}, {277, 3, 4}, {278, 4, 20000}, {279, 4, 1}};
    head[4] = 8;
    head[k++] = 9;
    head[k++] = 0;
    for (int i = 0; i < 9; i++, k += 12) {
        head[k] = (uint8_t)e[i][0], head[k + 1] = (uint8_t)(e[i][0] >> 8), head[k + 2] = (uint8_t)e[i][1];
        head[k + 4] = 1;
        memcpy(head + k + 8, &e[i][2], 4); /* little-endian hosts: the tests' */
    }
    k += 4;
    cs_image im;
    cs_error err = {0};
    CHECK(cs_image_decode(&im, head, k, &err) == CS_ELIMIT);
    if (err.code != CS_ELIMIT) fprintf(stderr, "budget: %s\n", err.msg);
    /* A 32-bit libtiff (WebAssembly) cannot size the strip: refused before we can. */
    CHECK(strstr(err.msg, sizeof(tmsize_t) > 4 ? "over the limit of 2048 MiB"
                                               : "too large to decode (over 2 GiB each)") != NULL);
}

int main(int argc, char **argv) {
    data_dir = argc > 1 ? argv[1] : "tests/data";
    char path[1024];
    snprintf(path, sizeof path, "%s/../../model/t47d-vs-mdamb231.safetensors", data_dir);
    cs_error err = {0};
    cs_image ref;
    if (cs_model_load(&model, path, &err) != CS_OK || cs_image_load(&ref, path_of("tiff", "cells.png"), &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    test_fixtures(&ref);
    test_pages(&ref);
    test_rule();
    test_background_12bit();
    test_bombs();
    test_budget();
    cs_image_free(&ref);
    cs_model_free(&model);
    return test_summary();
}
