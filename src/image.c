/* image.c: decoding images to 8-bit gray with stb_image, within the limits. */
#include <errno.h>
#include <malloc.h> /* malloc_usable_size: glibc, wasi-libc and Emscripten have it */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "internal.h"

/* Only the formats a microscope or a photo editor hands us: fewer parsers
   exposed to hostile files. */
#define STBI_NO_HDR
#define STBI_NO_PSD
#define STBI_NO_PIC
#define STBI_NO_LINEAR
#define STBI_MALLOC(size) stb_malloc(size)
#define STBI_REALLOC(p, size) stb_realloc(p, size)
#define STBI_FREE(p) stb_free(p)

/* While an image decodes, no block stb allocates may exceed alloc_limit, set
   from the image's header: a PNG whose little data inflates to gigabytes (a
   decompression bomb) fails instead of eating the machine's memory. And all
   it holds at once may not exceed alloc_budget (CS_MAX_DECODE_BYTES), whatever
   the format and its header: the allocation that would pass it fails. */
static _Thread_local size_t alloc_limit = SIZE_MAX;
static _Thread_local size_t alloc_budget = SIZE_MAX;
static _Thread_local size_t alloc_held; /* bytes of stb's blocks now */
static _Thread_local int over_limit;    /* 1: a block over alloc_limit; 2: over alloc_budget */

/* Whether stb may have a block of size bytes in place of one of freed bytes. */
static int may_hold(size_t size, size_t freed) {
    size_t held = alloc_held - (freed < alloc_held ? freed : alloc_held);
    if (size > alloc_limit) over_limit = 1;
    else if (size > alloc_budget || held > alloc_budget - size) over_limit = 2;
    else return 1;
    return 0;
}

/* Counts a block of stb's that came (p) or went (gone), while an image
   decodes: the one it returns is freed later, with free(). */
static void count(void *p, void *gone) {
    if (alloc_budget == SIZE_MAX) return;
    size_t add = p ? malloc_usable_size(p) : 0, sub = gone ? malloc_usable_size(gone) : 0;
    alloc_held = alloc_held - (sub < alloc_held ? sub : alloc_held) + add;
}

/* Zeroed: stb 2.27 leaves the pixels that a truncated TGA lacks unwritten,
   and they must be black, never stale heap contents. */
static void *stb_malloc(size_t size) {
    if (!may_hold(size, 0)) return NULL;
    void *p = calloc(1, size);
    count(p, NULL);
    return p;
}

static void *stb_realloc(void *p, size_t size) {
    size_t old = p ? malloc_usable_size(p) : 0;
    if (!may_hold(size, old)) return NULL;
    count(NULL, p); /* before realloc frees it */
    void *q = realloc(p, size);
    count(q ? q : p, NULL); /* a failed realloc keeps p */
    return q;
}

static void stb_free(void *p) {
    count(NULL, p);
    free(p);
}

#define STB_IMAGE_IMPLEMENTATION
#include <stb_image.h>

/* What a file stb cannot read looks like, so that the message can say it. */
static const char *sniff(const uint8_t *p, size_t n) {
    if (n >= 5 && !memcmp(p, "%PDF-", 5)) return "a PDF document, not an image";
    if (n >= 12 && !memcmp(p, "RIFF", 4) && !memcmp(p + 8, "WEBP", 4))
        return "a WebP image, which cellsight cannot read: save it as PNG or JPEG";
    if (n >= 12 && !memcmp(p + 4, "ftyp", 4))
        return "a HEIC/AVIF image or a video, which cellsight cannot read: save it as PNG or JPEG";
    if (n >= 4 && !memcmp(p, "8BPS", 4)) return "a Photoshop file: save it as PNG or JPEG";
    if (n >= 2 && !memcmp(p, "BM", 2))
        return "a BMP of a kind cellsight cannot read (compressed?): save it as PNG";
    if (n >= 3 && !memcmp(p, "\xff\xd8\xff", 3))
        return "a damaged JPEG, or one of a kind cellsight cannot read (12-bit, lossless)";
    return "not an image cellsight can read (JPEG, PNG, TIFF, BMP, PGM/PPM, TGA or GIF)";
}

static const char *stb_reason(void) {
    const char *why = stbi_failure_reason();
    return why ? why : "unknown";
}

/* A PNG's size from its IHDR chunk: for the message about an image too large
   for stb even to describe. */
static int png_size(const uint8_t *p, size_t n, int *w, int *h) {
    if (n < 24 || memcmp(p, "\x89PNG\r\n\x1a\n", 8) || memcmp(p + 12, "IHDR", 4)) return 0;
    uint32_t pw = (uint32_t)p[16] << 24 | p[17] << 16 | p[18] << 8 | p[19];
    uint32_t ph = (uint32_t)p[20] << 24 | p[21] << 16 | p[22] << 8 | p[23];
    if (pw > INT32_MAX || ph > INT32_MAX) return 0;
    *w = (int)pw;
    *h = (int)ph;
    return 1;
}

/* A progressive JPEG may repeat scans that each revisit every block: a small
   file of thousands of scans keeps the decoder busy for hours. Encoders
   write about 10 (at most a few dozen). */
#define MAX_JPEG_SCANS 100

/* What cs_image_info checks of a JPEG before stb reads it. */
typedef struct {
    int scans;       /* SOS markers */
    int huge_table;  /* a Huffman table (DHT) of more than 256 codes */
    int frame;       /* the SOF marker stb decodes (0xc0-0xc2), or 0 */
    int ncomp;       /* its components, and their sampling (H << 4 | V) */
    uint8_t sampling[4];
} jpeg_facts;

/* Walks a JPEG's segments so that those of a thumbnail inside an APP segment
   do not count. A DHT of more than 256 codes overruns stb 2.27's tables (fixed
   in stb 2.28; found by tests/fuzz). */
static void jpeg_walk(const uint8_t *p, size_t n, jpeg_facts *f) {
    memset(f, 0, sizeof *f);
    for (size_t i = 2; i + 4 <= n;) {
        uint8_t m = p[i + 1];
        if (p[i] != 0xff || m == 0xff) i++;                      /* entropy-coded data, fill */
        else if (m == 0x00 || (m >= 0xd0 && m <= 0xd7)) i += 2;  /* stuffed byte, restart */
        else if (m == 0xd9) break;                               /* end of image */
        else {
            f->scans += m == 0xda;
            size_t end = i + 2 + ((size_t)p[i + 2] << 8 | p[i + 3]); /* the segment */
            for (size_t t = i + 4; m == 0xc4 && t < n && t < end;) { /* its tables */
                int codes = 0; /* stb reads the counts the file lacks as 0 */
                for (size_t k = t + 1; k <= t + 16 && k < n; k++) codes += p[k];
                f->huge_table |= codes > 256;
                t += 17 + (size_t)codes;
            }
            if (m >= 0xc0 && m <= 0xc2 && !f->frame && i + 10 <= n) { /* P, Y, X, Nf, then Nf x (C, HV, Tq) */
                f->frame = m;
                for (int c = 0; c < p[i + 9] && c < 4 && i + 12 + 3 * (size_t)c <= n; c++)
                    f->sampling[f->ncomp++] = p[i + 11 + 3 * c];
            }
            i = end;
        }
    }
}

/* What stb 2.27 allocates for a w x h image before it reads a pixel, from the
   header, with the gray image it returns (*kind: the format's name, or NULL if
   its buffers grow with the data instead, held to the budget as they do).
   A GIF: its canvas, the canvas before the frame and a byte a pixel of history
   (9 bytes a pixel), all zeroed first. A JPEG: a plane a component at its
   sampling, padded to whole blocks, and a progressive one 2 bytes a pixel of
   coefficients a component besides. */
static double decode_bytes(const uint8_t *p, size_t n, const jpeg_facts *jpeg, int w, int h,
                           const char **kind) {
    double pixels = (double)w * h;
    *kind = NULL;
    if (n >= 6 && !memcmp(p, "GIF8", 4)) {
        *kind = "a GIF";
        return 10 * pixels;
    }
    if (!jpeg->frame || !jpeg->ncomp) return 0;
    int hmax = 1, vmax = 1;
    for (int c = 0; c < jpeg->ncomp; c++) {
        if (jpeg->sampling[c] >> 4 > hmax) hmax = jpeg->sampling[c] >> 4;
        if ((jpeg->sampling[c] & 15) > vmax) vmax = jpeg->sampling[c] & 15;
    }
    double mcux = ceil(w / (8.0 * hmax)), mcuy = ceil(h / (8.0 * vmax)), planes = 0;
    for (int c = 0; c < jpeg->ncomp; c++)
        planes += mcux * 8 * (jpeg->sampling[c] >> 4) * mcuy * 8 * (jpeg->sampling[c] & 15);
    int progressive = jpeg->frame == 0xc2;
    *kind = progressive ? "a progressive JPEG" : "a JPEG";
    return planes * (progressive ? 3 : 1) + pixels;
}

/* stb 2.27 reads the numbers of a PGM/PPM header (width, height, maximum)
   into an int without a check (fixed in stb 2.28; found by tests/fuzz).
   Returns 0 if one would overflow it. It skips blanks and # comments as stb does. */
static int pnm_numbers_fit(const uint8_t *p, size_t n) {
    if (n < 2 || p[0] != 'P' || (p[1] != '5' && p[1] != '6')) return 1;
    size_t i = 2;
    for (int field = 0; field < 3; field++) {
        for (;;) {
            while (i < n && (p[i] == ' ' || (p[i] >= '\t' && p[i] <= '\r'))) i++;
            if (i >= n || p[i] != '#') break;
            while (i < n && p[i] != '\n' && p[i] != '\r') i++;
        }
        for (int value = 0; i < n && p[i] >= '0' && p[i] <= '9'; i++) {
            int d = p[i] - '0';
            if (value > (INT32_MAX - d) / 10) return 0;
            value = value * 10 + d;
        }
    }
    return 1;
}

cs_status cs_image_check(long long bytes, int w, int h, cs_error *err) {
    char has[32], limit[32];
    if (bytes > CS_MAX_IMAGE_BYTES)
        return cs_fail(err, CS_ELIMIT, "the image file has %s, over the limit of %s",
                       cs_mib(has, sizeof has, bytes), cs_mib(limit, sizeof limit, CS_MAX_IMAGE_BYTES));
    if (w <= 0 || h <= 0) return CS_OK;
    if (w > CS_MAX_IMAGE_SIDE || h > CS_MAX_IMAGE_SIDE)
        return cs_fail(err, CS_ELIMIT, "the image is %d x %d pixels, over the limit of %d on a side",
                       w, h, CS_MAX_IMAGE_SIDE);
    if ((long long)w * h > CS_MAX_IMAGE_PIXELS)
        return cs_fail(err, CS_ELIMIT, "the image is %d x %d = %lld pixels, over the limit of %lld",
                       w, h, (long long)w * h, CS_MAX_IMAGE_PIXELS);
    return CS_OK;
}

cs_status cs_image_info(const void *data, size_t size, int *w, int *h, cs_error *err) {
    *w = *h = 0;
    if (size == 0) return cs_fail(err, CS_EINPUT, "the file is empty");
    cs_status s = cs_image_check((long long)size, 0, 0, err);
    if (s != CS_OK) return s;
    if (cs_tiff_is(data, size)) return cs_tiff_info(data, size, 0, w, h, NULL, err);
    /* What stb 2.27 must not be given, before it reads anything. */
    const uint8_t *p = data;
    jpeg_facts jpeg = {0};
    size_t fill = 0; /* stb, as JPEG allows, takes any number of 0xff before a marker */
    while (fill < size && p[fill] == 0xff) fill++;
    if (fill >= 1 && fill < size && p[fill] == 0xd8) jpeg_walk(p + fill - 1, size - fill + 1, &jpeg);
    if (jpeg.huge_table)
        return cs_fail(err, CS_EINPUT, "the JPEG is damaged (a Huffman table of more than 256 codes)");
    if (jpeg.scans > MAX_JPEG_SCANS)
        return cs_fail(err, CS_ELIMIT, "the JPEG has %d scans, over the limit of %d", jpeg.scans,
                       MAX_JPEG_SCANS);
    if (!pnm_numbers_fit(p, size))
        return cs_fail(err, CS_EINPUT, "the PGM/PPM header has a number too large for any image");
    /* stb tries every format in turn, so its failure only says "unknown image
       type"; a PNG too large for stb to describe is told by its IHDR. */
    int channels = 0;
    if (!stbi_info_from_memory(data, (int)size, w, h, &channels) && !png_size(data, size, w, h))
        return cs_fail(err, CS_EINPUT, "%s", sniff(data, size));
    if (*w <= 0 || *h <= 0) return cs_fail(err, CS_EINPUT, "the image has %d x %d pixels", *w, *h);
    if ((s = cs_image_check(-1, *w, *h, err)) != CS_OK) return s;
    const char *kind;
    double need = decode_bytes(p, size, &jpeg, *w, *h, &kind);
    if (need > (double)CS_MAX_DECODE_BYTES)
        return cs_fail(err, CS_ELIMIT, "the image is %d x %d pixels: decoding it as %s would take "
                       "%.0f MiB, over the limit of %lld MiB: save it as PNG", *w, *h, kind,
                       need / (1 << 20), CS_MAX_DECODE_BYTES >> 20);
    /* A PGM/PPM's raw pixels must all be there (stb would accept it short). */
    if (size >= 2 && p[0] == 'P' && (p[1] == '5' || p[1] == '6')) {
        int wide = stbi_is_16_bit_from_memory(data, (int)size);
        /* stb 2.27 turns a 16-bit PPM to gray as if it were 8-bit, then reads past
           its buffer (found by tests/fuzz). */
        if (wide && p[1] == '6')
            return cs_fail(err, CS_EINPUT, "a 16-bit PPM, which cellsight cannot read: save it "
                           "as PNG or as an 8-bit PPM");
        size_t need = (size_t)*w * *h * channels * (wide ? 2 : 1);
        if (size <= need)
            return cs_fail(err, CS_EINPUT, "the image is truncated: %d x %d pixels need %zu bytes, "
                           "the file has %zu", *w, *h, need, size);
    }
    return CS_OK;
}

int cs_intensity_shift(double max) {
    /* Cameras' depths are even (8, 10, 12, 14, 16 bits): a 12-bit camera's dim
       image (all below 2048) is still 12-bit, so that empty medium stays
       background by the same rule as in 8 bits. */
    int bits = 8;
    while (bits < 64 && ldexp(1, bits) <= floor(max)) bits += 2;
    return bits - 8;
}

int cs_intensity_level(double v, int shift) {
    if (!(v > 0)) return 0; /* negative, NaN: black */
    double g = ldexp(v, -shift); /* exact; truncated below: the top 8 bits */
    return g >= 255 ? 255 : (int)g;
}

/* A 16-bit PNG or PGM to gray by the intensity rule, as a TIFF of the same
   samples: each colour to 8 bits, then stb's formula (stb's own 8-bit path
   would keep v >> 8 whatever the range: a 12-bit camera's image 16 times too
   dark). NULL as stb fails. */
static uint8_t *decode_16(const uint8_t *data, size_t size, int *w, int *h) {
    int n = 0;
    uint16_t *px = stbi_load_16_from_memory(data, (int)size, w, h, &n, 0);
    if (!px) return NULL;
    size_t count = (size_t)*w * *h, used = n >= 3 ? 3 : 1;
    if (data[0] == 'P') /* stb 2.27 leaves a PGM's big-endian samples as they are */
        for (size_t i = 0; i < count * n; i++) px[i] = (uint16_t)(px[i] >> 8 | px[i] << 8);
    double max = 0;
    for (size_t i = 0; i < count; i++)
        for (size_t c = 0; c < used; c++)
            if (px[i * n + c] > max) max = px[i * n + c];
    int shift = cs_intensity_shift(max);
    uint8_t *gray = stb_malloc(count ? count : 1);
    for (size_t i = 0; gray && i < count; i++) {
        const uint16_t *p = px + i * n;
        gray[i] = (uint8_t)(used == 1 ? cs_intensity_level(p[0], shift)
                                      : (cs_intensity_level(p[0], shift) * 77 +
                                         cs_intensity_level(p[1], shift) * 150 +
                                         cs_intensity_level(p[2], shift) * 29) >> 8);
    }
    stb_free(px);
    return gray;
}

cs_status cs_image_decode(cs_image *im, const void *data, size_t size, cs_error *err) {
    return cs_image_decode_page(im, data, size, 0, NULL, err);
}

cs_status cs_image_decode_page(cs_image *im, const void *data, size_t size, int page, int *pages,
                               cs_error *err) {
    memset(im, 0, sizeof *im);
    if (cs_tiff_is(data, size)) {
        cs_status s = cs_image_check((long long)size, 0, 0, err);
        return s != CS_OK ? s : cs_tiff_decode(im, data, size, page, pages, err);
    }
    if (page != 0) return cs_fail(err, CS_EINPUT, "the image has 1 page, no page %d", page + 1);
    if (pages) *pages = 1;
    /* The header alone first, so that a hostile size is refused before any allocation. */
    int w, h, channels;
    cs_status s = cs_image_info(data, size, &w, &h, err);
    if (s != CS_OK) return s;
    /* The largest block a decoder needs: the pixels, padded to JPEG's 32-pixel
       blocks, at 4 channels of 16 bits, and 1 MB for stb's own structures. */
    double limit = 8.0 * (w + 32) * (h + 32) + (1 << 20);
    alloc_limit = limit < (double)SIZE_MAX ? (size_t)limit : SIZE_MAX;
    alloc_budget = CS_MAX_DECODE_BYTES < SIZE_MAX ? (size_t)CS_MAX_DECODE_BYTES : SIZE_MAX;
    alloc_held = 0;
    over_limit = 0;
    /* One channel: stb's own gray, (77 r + 150 g + 29 b) >> 8 (a JPEG's luma). */
    int got_w, got_h;
    uint8_t *gray = stbi_is_16_bit_from_memory(data, (int)size)
                        ? decode_16(data, size, &got_w, &got_h)
                        : stbi_load_from_memory(data, (int)size, &got_w, &got_h, &channels, 1);
    alloc_limit = alloc_budget = SIZE_MAX;
    if (!gray) {
        const char *why = stb_reason();
        if (over_limit == 1)
            return cs_fail(err, CS_EINPUT, "the image's data inflates far beyond its %d x %d "
                           "pixels (a decompression bomb?)", w, h);
        if (over_limit == 2)
            return cs_fail(err, CS_ELIMIT, "the image is %d x %d pixels, and decoding it would "
                           "take more than the limit of %lld MiB: save it as 8-bit gray PNG or "
                           "in smaller parts", w, h, CS_MAX_DECODE_BYTES >> 20);
        if (!strcmp(why, "outofmem"))
            return cs_fail(err, CS_ENOMEM, "out of memory decoding a %d x %d image", w, h);
        if (!strcmp(why, "too large")) /* stb's buffers count bytes in an int */
            return cs_fail(err, CS_ELIMIT, "the image is %d x %d pixels, too large to decode in "
                           "its colour depth: save it as 8-bit gray or in smaller parts", w, h);
        return cs_fail(err, CS_EINPUT, "the image is damaged or truncated (%s)", why);
    }
    im->w = got_w;
    im->h = got_h;
    im->gray = gray;
    cs_png_pixel_size(im, data, size);
    return CS_OK;
}

int cs_image_name(const char *name) {
    /* What cs_image_decode reads, and what a camera or microscope may write
       that it does not but names in its error (TIFF, WebP, HEIC/HEIF, AVIF). */
    static const char *const exts[] = {"jpg", "jpeg", "jfif", "png", "bmp", "gif", "pgm",
                                       "ppm", "pnm", "tga", "tif", "tiff", "webp", "heic", "heif",
                                       "avif"};
    const char *base = strrchr(name, '/');
    base = base ? base + 1 : name;
    const char *dot = strrchr(base, '.');
    if (base[0] == '.' || !dot) return 0;
    for (size_t i = 0; i < sizeof exts / sizeof *exts; i++)
        if (strcasecmp(dot + 1, exts[i]) == 0) return 1;
    return 0;
}

cs_status cs_image_read_file(const char *path, uint8_t **data, size_t *size, cs_error *err) {
    *data = NULL;
    *size = 0;
    struct stat st;
    if (stat(path, &st) != 0)
        return cs_fail(err, CS_EIO, "%s: %s", path, strerror(errno));
    if (S_ISDIR(st.st_mode)) return cs_fail(err, CS_EINPUT, "%s is a folder, not an image", path);
    cs_error why;
    if (cs_image_check((long long)st.st_size, 0, 0, &why) != CS_OK)
        return cs_fail(err, why.code, "%s: %s", path, why.msg); /* the page's words, before reading */

    FILE *f = fopen(path, "rb");
    if (!f) return cs_fail(err, CS_EIO, "%s: %s", path, strerror(errno));
    size_t n = (size_t)st.st_size;
    uint8_t *bytes = malloc(n ? n : 1);
    if (!bytes) {
        fclose(f);
        return cs_fail(err, CS_ENOMEM, "%s: out of memory reading %zu bytes", path, n);
    }
    size_t got = fread(bytes, 1, n, f);
    int failed = ferror(f);
    fclose(f);
    cs_status s = CS_OK;
    if (failed) s = cs_fail(err, CS_EIO, "%s: cannot read the file", path);
    else if (got != n) s = cs_fail(err, CS_EIO, "%s: the file changed while being read", path);
    if (s != CS_OK) {
        free(bytes);
        return s;
    }
    *data = bytes;
    *size = n;
    return CS_OK;
}

cs_status cs_image_load(cs_image *im, const char *path, cs_error *err) {
    memset(im, 0, sizeof *im);
    uint8_t *data;
    size_t size;
    cs_status s = cs_image_read_file(path, &data, &size, err);
    if (s != CS_OK) return s;
    if ((s = cs_image_decode(im, data, size, err)) != CS_OK && err) {
        char why[sizeof err->msg];
        memcpy(why, err->msg, sizeof why);
        cs_fail(err, s, "%s: %s", path, why);
    }
    free(data);
    return s;
}

cs_status cs_image_from_rgba(cs_image *im, const uint8_t *rgba, int w, int h, cs_error *err) {
    memset(im, 0, sizeof *im);
    if (!rgba || w <= 0 || h <= 0)
        return cs_fail(err, CS_EINPUT, "no pixels (%d x %d)", w, h);
    cs_status s = cs_image_check(-1, w, h, err);
    if (s != CS_OK) return s;
    size_t n = (size_t)w * h;
    im->gray = malloc(n);
    if (!im->gray) return cs_fail(err, CS_ENOMEM, "out of memory for a %d x %d image", w, h);
    /* Exactly stb's formula, so the page's canvas and the CLI see the same gray. */
    for (size_t i = 0; i < n; i++) {
        const uint8_t *p = rgba + 4 * i;
        im->gray[i] = (uint8_t)((p[0] * 77 + p[1] * 150 + p[2] * 29) >> 8);
    }
    im->w = w;
    im->h = h;
    return CS_OK;
}

void cs_image_free(cs_image *im) {
    if (!im) return;
    free(im->gray); /* stb allocates with malloc */
    memset(im, 0, sizeof *im);
}
