/* tiff.c: decoding a TIFF page from memory to 8-bit gray with libtiff, strip by
   strip or tile by tile, within the image limits. The intensity rule for 16-bit
   and float samples is in cellsight.h and docs/images.md. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <tiffio.h>

#include "internal.h"

/* The largest single block libtiff may allocate for itself (tag arrays, codec
   state): our buffers are separate and held to CS_MAX_DECODE_BYTES. */
#define TIFF_MAX_ALLOC (256 << 20)

/* The file in memory, and the first error libtiff reported on it. */
typedef struct {
    const uint8_t *data;
    uint64_t size, pos;
    char why[256];
    int loop; /* libtiff warned of an IFD loop (and stopped there) */
} source;

static tmsize_t src_read(thandle_t h, void *buf, tmsize_t n) {
    source *s = h;
    uint64_t left = s->pos < s->size ? s->size - s->pos : 0;
    if (n < 0) return -1;
    if ((uint64_t)n > left) n = (tmsize_t)left;
    memcpy(buf, s->data + s->pos, (size_t)n);
    s->pos += (uint64_t)n;
    return n;
}

static tmsize_t src_write(thandle_t h, void *buf, tmsize_t n) { return -1; }

static toff_t src_seek(thandle_t h, toff_t off, int whence) {
    source *s = h;
    uint64_t base = whence == SEEK_CUR ? s->pos : whence == SEEK_END ? s->size : 0;
    if (off > UINT64_MAX - base) return (toff_t)-1;
    s->pos = base + off;
    return s->pos;
}

static int src_close(thandle_t h) { return 0; }

static toff_t src_size(thandle_t h) { return ((source *)h)->size; }

/* Mapped: libtiff reads uncompressed and raw strips in place, without copies. */
static int src_map(thandle_t h, void **base, toff_t *size) {
    source *s = h;
    *base = (void *)s->data;
    *size = s->size;
    return 1;
}

static void src_unmap(thandle_t h, void *base, toff_t size) {}

/* libtiff's messages go into the error, never to stderr; warnings are dropped. */
static int on_error(TIFF *tif, void *user, const char *module, const char *fmt, va_list ap) {
    source *s = user;
    if (!s->why[0]) {
        vsnprintf(s->why, sizeof s->why, fmt, ap);
        size_t n = strlen(s->why);
        while (n && (s->why[n - 1] == '.' || s->why[n - 1] == '\n')) s->why[--n] = 0;
    }
    return 1;
}

static int on_warning(TIFF *tif, void *user, const char *module, const char *fmt, va_list ap) {
    char msg[256];
    vsnprintf(msg, sizeof msg, fmt, ap);
    if (strstr(msg, "IFD loop")) ((source *)user)->loop = 1;
    return 1;
}

static cs_status damaged(cs_error *err, const source *s, const char *what) {
    if (s->loop || strstr(s->why, "IFD loop"))
        return cs_fail(err, CS_EINPUT, "the TIFF's pages form a loop (an IFD points back to an "
                       "earlier one)");
    /* A 32-bit libtiff (WebAssembly) cannot even size a strip or tile over 2 GiB. */
    if (strstr(s->why, "Integer overflow"))
        return cs_fail(err, CS_ELIMIT, "the TIFF's strips or tiles are too large to decode (over "
                       "2 GiB each)");
    return cs_fail(err, CS_EINPUT, "the TIFF is damaged or truncated (%s)",
                   s->why[0] ? s->why : what);
}

static TIFF *open_source(source *s, cs_error *err) {
    TIFFOpenOptions *opts = TIFFOpenOptionsAlloc();
    if (!opts) {
        cs_fail(err, CS_ENOMEM, "out of memory opening a TIFF");
        return NULL;
    }
    TIFFOpenOptionsSetMaxSingleMemAlloc(opts, TIFF_MAX_ALLOC);
    TIFFOpenOptionsSetErrorHandlerExtR(opts, on_error, s);
    TIFFOpenOptionsSetWarningHandlerExtR(opts, on_warning, s);
    TIFF *tif = TIFFClientOpenExt("image", "r", s, src_read, src_write, src_seek, src_close,
                                  src_size, src_map, src_unmap, opts);
    TIFFOpenOptionsFree(opts);
    if (!tif) damaged(err, s, "no first page");
    return tif;
}

int cs_tiff_is(const void *data, size_t size) {
    const uint8_t *p = data;
    return size >= 4 && (!memcmp(p, "II*\0", 4) || !memcmp(p, "MM\0*", 4) ||
                         !memcmp(p, "II+\0", 4) || !memcmp(p, "MM\0+", 4));
}

/* A compression's name, for the message refusing it. */
static const char *compression_name(int c) {
    switch (c) {
    case COMPRESSION_JPEG: case COMPRESSION_OJPEG: return "JPEG";
    case COMPRESSION_CCITTRLE: case COMPRESSION_CCITTRLEW: case COMPRESSION_CCITTFAX3:
    case COMPRESSION_CCITTFAX4: return "CCITT fax";
    case COMPRESSION_JBIG: return "JBIG";
    case COMPRESSION_LZMA: return "LZMA";
    case COMPRESSION_ZSTD: return "Zstandard";
    case COMPRESSION_WEBP: return "WebP";
    case COMPRESSION_JXL: return "JPEG XL";
    case 33003: case 33005: case 34712: return "JPEG 2000";
    case COMPRESSION_LERC: return "LERC";
    default: return NULL;
    }
}

/* What a page holds and how its pixels become gray. */
typedef struct {
    int w, h, spp, bps, color, inverted; /* color: 3 samples, RGB; inverted: min-is-white */
    int is_float, tiled, compressed;
    uint32_t piece_w, piece_h;          /* a strip's or tile's pixels */
    uint64_t piece_bytes, stride;       /* the buffer for one, and a row of it */
    uint32_t npieces;
    uint16_t *map[3];                   /* a palette's colours, or NULL */
    /* The intensity rule (cellsight.h): 16-bit and float integers keep their top
       8 bits; floats all within [0, 1] are scaled by 255. */
    int shift;
    int unit_float;
} tiff_page;

static cs_status unsupported(cs_error *err, const char *fmt, int a, int b) {
    char what[160];
    snprintf(what, sizeof what, fmt, a, b);
    return cs_fail(err, CS_EINPUT, "the TIFF %s, which cellsight cannot decode: save it as 8- or "
                   "16-bit gray or RGB, uncompressed, LZW or Deflate", what);
}

/* The page's layout, and whether cellsight reads it. */
static cs_status read_layout(TIFF *tif, tiff_page *pg, cs_error *err) {
    uint32_t w = 0, h = 0;
    uint16_t spp = 1, bps = 1, format = SAMPLEFORMAT_UINT, photo = 0, planar = PLANARCONFIG_CONTIG,
             comp = COMPRESSION_NONE;
    TIFFGetField(tif, TIFFTAG_IMAGEWIDTH, &w);
    TIFFGetField(tif, TIFFTAG_IMAGELENGTH, &h);
    TIFFGetFieldDefaulted(tif, TIFFTAG_SAMPLESPERPIXEL, &spp);
    TIFFGetFieldDefaulted(tif, TIFFTAG_BITSPERSAMPLE, &bps);
    TIFFGetFieldDefaulted(tif, TIFFTAG_SAMPLEFORMAT, &format);
    TIFFGetFieldDefaulted(tif, TIFFTAG_PLANARCONFIG, &planar);
    TIFFGetFieldDefaulted(tif, TIFFTAG_COMPRESSION, &comp);
    if (!TIFFGetField(tif, TIFFTAG_PHOTOMETRIC, &photo))
        photo = spp >= 3 ? PHOTOMETRIC_RGB : PHOTOMETRIC_MINISBLACK;
    w = w > INT32_MAX ? INT32_MAX : w; /* over the limit all the same */
    h = h > INT32_MAX ? INT32_MAX : h;
    cs_status s = cs_image_check(-1, (int)w, (int)h, err);
    if (s != CS_OK) return s;
    if (w == 0 || h == 0) return cs_fail(err, CS_EINPUT, "the TIFF's page has %u x %u pixels", w, h);

    const char *name = compression_name(comp);
    if (name)
        return cs_fail(err, CS_EINPUT, "the TIFF uses %s compression, which cellsight cannot "
                       "decode: save it uncompressed, LZW or Deflate", name);
    if (comp != COMPRESSION_NONE && comp != COMPRESSION_LZW && comp != COMPRESSION_DEFLATE &&
        comp != COMPRESSION_ADOBE_DEFLATE && comp != COMPRESSION_PACKBITS)
        return unsupported(err, "uses compression number %d", comp, 0);
    int palette = photo == PHOTOMETRIC_PALETTE;
    *pg = (tiff_page){.w = (int)w, .h = (int)h, .spp = spp, .bps = bps,
                 .color = photo == PHOTOMETRIC_RGB, .inverted = photo == PHOTOMETRIC_MINISWHITE,
                 .is_float = format == SAMPLEFORMAT_IEEEFP, .tiled = TIFFIsTiled(tif),
                 .compressed = comp != COMPRESSION_NONE};
    if (!pg->color && !palette && photo != PHOTOMETRIC_MINISBLACK && !pg->inverted)
        return unsupported(err, "has photometric interpretation %d (not gray, RGB or a palette)",
                           photo, 0);
    if (pg->color ? spp < 3 : spp < 1)
        return unsupported(err, "has %d samples a pixel for photometric interpretation %d", spp, photo);
    if (spp > 1 && planar != PLANARCONFIG_CONTIG)
        return unsupported(err, "stores its %d samples a pixel in separate planes", spp, 0);
    int uint_ok = (format == SAMPLEFORMAT_UINT || format == SAMPLEFORMAT_VOID) &&
                  (bps == 8 || (bps == 16 && !palette));
    if (!uint_ok && !(pg->is_float && bps == 32 && !palette))
        return unsupported(err, "holds %d-bit samples of sample format %d", bps, format);
    if (palette && !TIFFGetField(tif, TIFFTAG_COLORMAP, &pg->map[0], &pg->map[1], &pg->map[2]))
        return cs_fail(err, CS_EINPUT, "the TIFF's palette image has no colour map");
    return CS_OK;
}

/* Its strips or tiles: their sizes within the budget (with the gray image), and
   each one's data inside the file. */
static cs_status read_pieces(TIFF *tif, tiff_page *pg, uint64_t file_size, cs_error *err) {
    uint32_t rows = 0;
    if (pg->tiled) {
        TIFFGetField(tif, TIFFTAG_TILEWIDTH, &pg->piece_w);
        TIFFGetField(tif, TIFFTAG_TILELENGTH, &pg->piece_h);
        pg->piece_bytes = TIFFTileSize64(tif);
        pg->stride = TIFFTileRowSize64(tif);
        pg->npieces = TIFFNumberOfTiles(tif);
    } else {
        TIFFGetFieldDefaulted(tif, TIFFTAG_ROWSPERSTRIP, &rows);
        pg->piece_w = (uint32_t)pg->w;
        pg->piece_h = rows < (uint32_t)pg->h ? rows : (uint32_t)pg->h;
        pg->piece_bytes = TIFFStripSize64(tif);
        pg->stride = TIFFScanlineSize64(tif);
        pg->npieces = TIFFNumberOfStrips(tif);
    }
    const char *kind = pg->tiled ? "tile" : "strip";
    uint64_t pixel_bytes = (uint64_t)pg->spp * pg->bps / 8;
    if (pg->piece_w == 0 || pg->piece_h == 0 || pg->piece_bytes == 0 || pg->npieces == 0 ||
        pg->stride < pixel_bytes * pg->piece_w || pg->piece_bytes < pg->stride * pg->piece_h)
        return cs_fail(err, CS_EINPUT, "the TIFF is damaged (its %ss are %u x %u pixels in %llu "
                       "bytes)", kind, pg->piece_w, pg->piece_h, (unsigned long long)pg->piece_bytes);
    double need = (double)pg->w * pg->h + (double)pg->piece_bytes;
    if (need > (double)CS_MAX_DECODE_BYTES)
        return cs_fail(err, CS_ELIMIT, "the TIFF is %d x %d pixels in %ss of %.0f MiB: decoding it "
                       "would take %.0f MiB, over the limit of %lld MiB", pg->w, pg->h, kind,
                       (double)pg->piece_bytes / (1 << 20), need / (1 << 20),
                       CS_MAX_DECODE_BYTES >> 20);
    /* LZW, Deflate and PackBits never take twice the bytes they decode to: more
       is data that would inflate beyond the piece, which libtiff would cut short. */
    uint64_t most = pg->compressed ? 2 * pg->piece_bytes + 64 : UINT64_MAX;
    for (uint32_t i = 0; i < pg->npieces; i++) {
        int bad = 0;
        uint64_t off = TIFFGetStrileOffsetWithErr(tif, i, &bad);
        uint64_t n = TIFFGetStrileByteCountWithErr(tif, i, &bad);
        if (bad || n == 0 || off > file_size || n > file_size - off)
            return cs_fail(err, CS_EINPUT, "the TIFF is truncated or damaged: the data of its %s "
                           "%u of %u lies past the end of the file", kind, i + 1, pg->npieces);
        if (n > most)
            return cs_fail(err, CS_EINPUT, "the TIFF's %s %u of %u has %llu bytes of compressed "
                           "data for %llu bytes of pixels (a decompression bomb?)", kind, i + 1,
                           pg->npieces, (unsigned long long)n, (unsigned long long)pg->piece_bytes);
    }
    return CS_OK;
}

/* Sample k of a decoded piece, as a number. */
static double sample(const tiff_page *pg, const uint8_t *p, size_t k) {
    if (pg->bps == 8) return p[k];
    if (pg->bps == 16) return ((const uint16_t *)(const void *)p)[k];
    return ((const float *)(const void *)p)[k];
}

/* A sample to 8 bits by the intensity rule; negative and NaN: black. */
static int level(const tiff_page *pg, double v) {
    if (pg->unit_float) return v > 0 ? (int)(fmin(v, 1) * 255 + 0.5) : 0;
    return cs_intensity_level(v, pg->shift);
}

/* A pixel's gray: stb's formula for colour, after the palette or the rule. */
static uint8_t gray_of(const tiff_page *pg, const uint8_t *p, size_t x) {
    size_t k = x * (size_t)pg->spp;
    int g;
    if (pg->map[0]) {
        int i = p[k];
        g = ((pg->map[0][i] >> 8) * 77 + (pg->map[1][i] >> 8) * 150 + (pg->map[2][i] >> 8) * 29) >> 8;
    } else if (pg->color) {
        g = (level(pg, sample(pg, p, k)) * 77 + level(pg, sample(pg, p, k + 1)) * 150 +
             level(pg, sample(pg, p, k + 2)) * 29) >> 8;
    } else {
        g = level(pg, sample(pg, p, k));
    }
    return (uint8_t)(pg->inverted ? 255 - g : g);
}

/* What a pass over the pieces does with each decoded one: its top-left pixel,
   and its pixels that lie inside the image. */
typedef void (*piece_fn)(tiff_page *pg, const uint8_t *buf, uint32_t x0, uint32_t y0, uint32_t w,
                         uint32_t h, void *ctx);

static cs_status each_piece(TIFF *tif, tiff_page *pg, source *s, uint8_t *buf, piece_fn fn, void *ctx,
                            cs_error *err) {
    uint32_t across = pg->tiled ? ((uint32_t)pg->w + pg->piece_w - 1) / pg->piece_w : 1;
    for (uint32_t i = 0; i < pg->npieces; i++) {
        uint32_t x0 = (i % across) * pg->piece_w, y0 = (i / across) * pg->piece_h;
        if (y0 >= (uint32_t)pg->h) break; /* the tiles of further planes */
        tmsize_t got = pg->tiled ? TIFFReadEncodedTile(tif, i, buf, (tmsize_t)pg->piece_bytes)
                                 : TIFFReadEncodedStrip(tif, i, buf, (tmsize_t)pg->piece_bytes);
        if (got < 0) return damaged(err, s, pg->tiled ? "a tile does not decode" : "a strip does not decode");
        uint32_t w = (uint32_t)pg->w - x0 < pg->piece_w ? (uint32_t)pg->w - x0 : pg->piece_w;
        uint32_t h = (uint32_t)pg->h - y0 < pg->piece_h ? (uint32_t)pg->h - y0 : pg->piece_h;
        /* A short strip (the last one, or truncated data) leaves the rest black. */
        if ((uint64_t)got < pg->piece_bytes) memset(buf + got, 0, (size_t)(pg->piece_bytes - (uint64_t)got));
        fn(pg, buf, x0, y0, w, h, ctx);
    }
    return CS_OK;
}

/* Pass one, for 16-bit and float samples: the largest value. */
static void find_max(tiff_page *pg, const uint8_t *buf, uint32_t x0, uint32_t y0, uint32_t w, uint32_t h,
                     void *ctx) {
    double *max = ctx;
    size_t used = pg->color ? 3 : 1;
    for (uint32_t y = 0; y < h; y++)
        for (uint32_t x = 0; x < w; x++)
            for (size_t c = 0; c < used; c++) {
                double v = sample(pg, buf + y * pg->stride, (size_t)x * pg->spp + c);
                if (v > *max) *max = v;
            }
}

static void to_gray(tiff_page *pg, const uint8_t *buf, uint32_t x0, uint32_t y0, uint32_t w, uint32_t h,
                    void *ctx) {
    uint8_t *gray = ctx;
    for (uint32_t y = 0; y < h; y++) {
        uint8_t *out = gray + (size_t)(y0 + y) * pg->w + x0;
        for (uint32_t x = 0; x < w; x++) out[x] = gray_of(pg, buf + y * pg->stride, x);
    }
}

/* The rule's shift from the largest value (SMaxSampleValue when the file states
   it); or, for floats all within [0, 1], a scale. */
static cs_status set_rule(TIFF *tif, tiff_page *pg, source *s, uint8_t *buf, cs_error *err) {
    if (pg->bps == 8) return CS_OK;
    double max = 0;
    double smax = 0; /* libtiff holds it as a double */
    if (!pg->is_float && TIFFGetField(tif, TIFFTAG_SMAXSAMPLEVALUE, &smax) && smax > 0) {
        max = smax;
    } else {
        cs_status st = each_piece(tif, pg, s, buf, find_max, &max, err);
        if (st != CS_OK) return st;
    }
    if (pg->is_float && max <= 1) {
        pg->unit_float = 1;
        return CS_OK;
    }
    pg->shift = cs_intensity_shift(max);
    return CS_OK;
}

/* Opens the file at page `index`, counting its pages. */
static cs_status open_page(source *s, int index, int *pages, TIFF **out, cs_error *err) {
    TIFF *tif = *out = open_source(s, err);
    if (!tif) return err ? err->code : CS_EINPUT;
    /* libtiff counts by following each IFD's link, and stops at a loop. */
    tdir_t n = TIFFNumberOfDirectories(tif);
    cs_status st = CS_OK;
    if (n > CS_MAX_PAGES)
        st = cs_fail(err, CS_ELIMIT, "the TIFF has %u pages, over the limit of %d", (unsigned)n,
                     CS_MAX_PAGES);
    else if (index < 0 || index >= (int)n)
        st = cs_fail(err, CS_EINPUT, "the TIFF has %u page%s, no page %d", (unsigned)n,
                     n == 1 ? "" : "s", index + 1);
    else if (!TIFFSetDirectory(tif, (tdir_t)index))
        st = damaged(err, s, "a page does not read");
    if (st != CS_OK) {
        TIFFClose(tif);
        *out = NULL;
        return st;
    }
    *pages = (int)n;
    return CS_OK;
}

/* The page opened, its layout read and checked. Our checks come before libtiff's
   complaints, so that every build refuses a file with the same words: a 32-bit
   libtiff (WebAssembly) complains of an integer overflow where ours finds the
   size over the limit, and one without JPEG of an unconfigured codec where ours
   names the compression. */
static cs_status open_checked(source *s, int index, int *pages, TIFF **tif, tiff_page *pg,
                              cs_error *err) {
    int n = 0;
    cs_status st = open_page(s, index, &n, tif, err);
    if (st == CS_OK && (st = read_layout(*tif, pg, err)) == CS_OK &&
        (st = read_pieces(*tif, pg, s->size, err)) == CS_OK && (s->why[0] || s->loop))
        st = damaged(err, s, "");
    if (st == CS_OK && pages) *pages = n;
    if (st != CS_OK && *tif) {
        TIFFClose(*tif);
        *tif = NULL;
    }
    return st;
}

cs_status cs_tiff_info(const void *data, size_t size, int index, int *w, int *h, int *pages,
                       cs_error *err) {
    source s = {.data = data, .size = size};
    TIFF *tif;
    tiff_page pg;
    cs_status st = open_checked(&s, index, pages, &tif, &pg, err);
    if (st != CS_OK) return st;
    *w = pg.w;
    *h = pg.h;
    TIFFClose(tif);
    return CS_OK;
}

/* The pixel size the file states for the open page: its resolution tags, and
   the description, which OME and ImageJ write on the first page alone. Last,
   as it may move to the first page. */
static void read_pixel_size(TIFF *tif, int index, cs_image *im) {
    float xres = 0, yres = 0;
    uint16_t unit = RESUNIT_INCH;
    char *desc = NULL;
    int has_res = TIFFGetField(tif, TIFFTAG_XRESOLUTION, &xres) &&
                  TIFFGetField(tif, TIFFTAG_YRESOLUTION, &yres);
    TIFFGetFieldDefaulted(tif, TIFFTAG_RESOLUTIONUNIT, &unit);
    if (!TIFFGetField(tif, TIFFTAG_IMAGEDESCRIPTION, &desc) && index > 0 && TIFFSetDirectory(tif, 0))
        TIFFGetField(tif, TIFFTAG_IMAGEDESCRIPTION, &desc);
    cs_tiff_pixel_size(im, desc, has_res, xres, yres, unit);
}

cs_status cs_tiff_decode(cs_image *im, const void *data, size_t size, int index, int *pages,
                         cs_error *err) {
    memset(im, 0, sizeof *im);
    source s = {.data = data, .size = size};
    TIFF *tif;
    tiff_page pg;
    cs_status st = open_checked(&s, index, pages, &tif, &pg, err);
    if (st != CS_OK) return st;
    uint8_t *buf = malloc((size_t)pg.piece_bytes);
    uint8_t *gray = calloc((size_t)pg.w * pg.h, 1);
    if (!buf || !gray)
        st = cs_fail(err, CS_ENOMEM, "out of memory decoding a %d x %d TIFF", pg.w, pg.h);
    if (st == CS_OK) st = set_rule(tif, &pg, &s, buf, err);
    if (st == CS_OK) st = each_piece(tif, &pg, &s, buf, to_gray, gray, err);
    if (st == CS_OK) read_pixel_size(tif, index, im);
    TIFFClose(tif);
    free(buf);
    if (st != CS_OK) {
        free(gray);
        return st;
    }
    im->w = pg.w;
    im->h = pg.h;
    im->gray = gray;
    return CS_OK;
}
