/* test_image.c: decoding every format, the gray formula, and bad files. */
#include <stdlib.h>
#include <string.h>

#include <stb_image.h>

#include "internal.h"
#include "test.h"

static const char *data_dir;

static const char *fixture(const char *name) {
    static char path[1024];
    snprintf(path, sizeof path, "%s/images/%s", data_dir, name);
    return path;
}

static unsigned char *read_all(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    *size = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *p = malloc(*size + 1);
    if (p && fread(p, 1, *size, f) != *size) {
        free(p);
        p = NULL;
    }
    fclose(f);
    return p;
}

/* The same crop of a real image in every lossless format gives the same pixels. */
static void test_formats(void) {
    cs_image ref;
    cs_error err = {0};
    CHECK(cs_image_load(&ref, fixture("cells.png"), &err) == CS_OK);
    CHECK(ref.w == 300 && ref.h == 200);
    if (!ref.gray) return;

    const char *lossless[] = {"cells.bmp", "cells.gif", "cells.pgm", "cells.ppm", "cells.tga",
                              "cells16.png"};
    for (size_t i = 0; i < sizeof lossless / sizeof *lossless; i++) {
        cs_image im;
        cs_status s = cs_image_load(&im, fixture(lossless[i]), &err);
        if (s != CS_OK) fprintf(stderr, "%s: %s\n", lossless[i], err.msg);
        CHECK(s == CS_OK);
        CHECK(im.w == ref.w && im.h == ref.h);
        int same = im.gray && im.w == ref.w && im.h == ref.h &&
                   !memcmp(im.gray, ref.gray, (size_t)ref.w * ref.h);
        if (!same) fprintf(stderr, "%s: pixels differ from cells.png\n", lossless[i]);
        CHECK(same);
        cs_image_free(&im);
        CHECK(im.gray == NULL && im.w == 0);
    }

    /* JPEG is lossy: close, not equal (a mean difference of 2.4 at quality 92). */
    const char *jpegs[] = {"cells.jpg", "progressive.jpg"};
    for (int i = 0; i < 2; i++) {
        cs_image jpg;
        CHECK(cs_image_load(&jpg, fixture(jpegs[i]), &err) == CS_OK);
        CHECK(jpg.w == 300 && jpg.h == 200);
        if (jpg.gray) {
            double diff = 0;
            for (int k = 0; k < ref.w * ref.h; k++) diff += abs(jpg.gray[k] - ref.gray[k]);
            CHECK(diff / (ref.w * ref.h) < 4.0);
        }
        cs_image_free(&jpg);
    }

    /* From memory as from the file. */
    size_t size;
    unsigned char *bytes = read_all(fixture("cells.png"), &size);
    CHECK(bytes != NULL);
    cs_image mem;
    CHECK(bytes && cs_image_decode(&mem, bytes, size, &err) == CS_OK);
    CHECK(mem.gray && !memcmp(mem.gray, ref.gray, (size_t)ref.w * ref.h));
    cs_image_free(&mem);
    free(bytes);
    cs_image_free(&ref);
}

/* The page's canvas pixels and the decoder agree exactly, alpha ignored. */
static void test_rgba(void) {
    const uint8_t px[] = {255, 0, 0, 255, 0, 255, 0, 255, 0, 0, 255, 0, 255, 255, 255, 7,
                          10, 200, 30, 255, 0, 0, 0, 255};
    cs_image im;
    cs_error err = {0};
    CHECK(cs_image_from_rgba(&im, px, 3, 2, &err) == CS_OK);
    CHECK(im.w == 3 && im.h == 2);
    if (im.gray) {
        CHECK(im.gray[0] == 76);  /* (255 * 77) >> 8 */
        CHECK(im.gray[1] == 149); /* (255 * 150) >> 8 */
        CHECK(im.gray[2] == 28);  /* (255 * 29) >> 8 */
        CHECK(im.gray[3] == 255);
        CHECK(im.gray[4] == (10 * 77 + 200 * 150 + 30 * 29) >> 8);
        CHECK(im.gray[5] == 0);
    }
    cs_image_free(&im);

    size_t size;
    unsigned char *bytes = read_all(fixture("color.png"), &size);
    CHECK(bytes != NULL);
    if (!bytes) return;
    int w, h, n;
    uint8_t *rgba = stbi_load_from_memory(bytes, (int)size, &w, &h, &n, 4);
    cs_image dec, canvas;
    CHECK(rgba && cs_image_from_rgba(&canvas, rgba, w, h, &err) == CS_OK);
    CHECK(cs_image_decode(&dec, bytes, size, &err) == CS_OK);
    CHECK(dec.w == 40 && dec.h == 30 && canvas.w == 40 && canvas.h == 30);
    CHECK(dec.gray && canvas.gray && !memcmp(dec.gray, canvas.gray, 40 * 30));
    cs_image_free(&dec);
    cs_image_free(&canvas);
    stbi_image_free(rgba);
    free(bytes);

    CHECK(cs_image_from_rgba(&im, NULL, 3, 2, &err) == CS_EINPUT && im.gray == NULL);
    CHECK(cs_image_from_rgba(&im, px, 0, 2, &err) == CS_EINPUT);
    CHECK(cs_image_from_rgba(&im, px, CS_MAX_IMAGE_SIDE + 1, 1, &err) == CS_ELIMIT);
    CHECK(cs_image_from_rgba(&im, px, 30000, 30000, &err) == CS_ELIMIT);
    CHECK(strstr(err.msg, "30000 x 30000") != NULL);
}

/* Each bad file: the expected code, a message that says what is wrong, no image. */
static void expect_bad(const char *name, cs_status code, const char *says) {
    cs_image im;
    cs_error err = {0};
    cs_status s = cs_image_load(&im, fixture(name), &err);
    if (s != code || !strstr(err.msg, says))
        fprintf(stderr, "%s: got %d \"%s\", expected %d with \"%s\"\n", name, s, err.msg, code,
                says);
    CHECK(s == code);
    CHECK(err.code == code);
    CHECK(strstr(err.msg, says) != NULL);
    CHECK(strstr(err.msg, name) != NULL); /* the message names the file */
    CHECK(im.gray == NULL && im.w == 0 && im.h == 0);
}

static void test_bad_files(void) {
    expect_bad("empty.png", CS_EINPUT, "empty");
    expect_bad("text.png", CS_EINPUT, "not an image");
    expect_bad("garbage.jpg", CS_EINPUT, "not an image");
    expect_bad("doc.pdf", CS_EINPUT, "PDF");
    expect_bad("tiny.webp", CS_EINPUT, "WebP");
    expect_bad("rle.bmp", CS_EINPUT, "BMP");
    expect_bad("truncated.jpg", CS_EINPUT, "damaged or truncated");
    expect_bad("truncated.png", CS_EINPUT, "damaged or truncated");
    expect_bad("truncated.pgm", CS_EINPUT, "truncated");
    expect_bad("huge.png", CS_ELIMIT, "100000 x 100000");
    expect_bad("huge.jpg", CS_ELIMIT, "30000 x 30000");
    expect_bad("bomb.png", CS_EINPUT, "decompression bomb");
    expect_bad("scans.jpg", CS_ELIMIT, "206 scans");
    expect_bad("no-such-file.png", CS_EIO, "No such file");
    expect_bad("", CS_EINPUT, "folder"); /* the fixture folder itself */

    /* Flipped bits in the compressed data: an image or an error, never a crash. */
    const char *flipped[] = {"bitflip.jpg", "bitflip.png"};
    for (int i = 0; i < 2; i++) {
        cs_image im;
        cs_error err = {0};
        cs_status s = cs_image_load(&im, fixture(flipped[i]), &err);
        CHECK(s == CS_OK || s == CS_EINPUT);
        CHECK(s == CS_OK ? im.w == 300 && im.h == 200 : im.gray == NULL && err.msg[0] != 0);
        cs_image_free(&im);
    }

    cs_image im;
    cs_error err = {0};
    CHECK(cs_image_decode(&im, NULL, 0, &err) == CS_EINPUT);
    CHECK(cs_image_decode(&im, "x", 1, NULL) == CS_EINPUT); /* err may be NULL */
}

/* cs_image_info on a header alone: the code it gives, and w x h when it is CS_OK. */
static cs_status info_of(const unsigned char *header, size_t size, int *w, int *h) {
    cs_error err = {0};
    cs_status s = cs_image_info(header, size, w, h, &err);
    CHECK(s == CS_OK || (err.code == s && err.msg[0]));
    return s;
}

/* A JPEG that ends after its frame header: SOFn, w x h, n components at hv. */
static size_t jpeg_header(unsigned char *p, int sof, int w, int h, int n, const int *hv) {
    size_t k = 0;
    const unsigned char start[] = {0xff, 0xd8, 0xff, (unsigned char)sof, 0, (unsigned char)(8 + 3 * n),
                                   8, (unsigned char)(h >> 8), (unsigned char)h,
                                   (unsigned char)(w >> 8), (unsigned char)w, (unsigned char)n};
    memcpy(p, start, sizeof start);
    k = sizeof start;
    for (int c = 0; c < n; c++) {
        p[k++] = (unsigned char)(c + 1);
        p[k++] = (unsigned char)hv[c];
        p[k++] = 0;
    }
    p[k++] = 0xff;
    p[k++] = 0xd9;
    return k;
}

/* Images within the pixel limit whose decoding stb would start with more than
   CS_MAX_DECODE_BYTES (a GIF zeroes 9 bytes a pixel of canvas, a progressive
   JPEG holds 3 a pixel a component) are refused from the header, and those
   just within it are not. */
static void test_decode_budget(void) {
    expect_bad("../bad/huge.gif", CS_ELIMIT, "decoding it as a GIF would take 3815 MiB, over "
               "the limit of 2048 MiB");
    expect_bad("../bad/huge_progressive.jpg", CS_ELIMIT, "as a progressive JPEG would take 3815 MiB");

    int w, h;
    unsigned char gif[13] = "GIF89a";
    gif[6] = 14000 & 255, gif[7] = 14000 >> 8, gif[8] = 14000 & 255, gif[9] = 14000 >> 8;
    CHECK(info_of(gif, sizeof gif, &w, &h) == CS_OK && w == 14000 && h == 14000); /* 1869 MiB */
    gif[6] = 15000 & 255, gif[7] = 15000 >> 8;
    CHECK(info_of(gif, sizeof gif, &w, &h) == CS_OK && w == 15000); /* 15000 x 14000: 2003 MiB */
    gif[8] = 15000 & 255, gif[9] = 15000 >> 8;
    CHECK(info_of(gif, sizeof gif, &w, &h) == CS_ELIMIT); /* 2146 MiB */

    unsigned char jpeg[64];
    const int s444[] = {0x11, 0x11, 0x11}, s420[] = {0x22, 0x11, 0x11};
    /* Baseline colour: 3 planes and the gray image, 1526 MiB. */
    CHECK(info_of(jpeg, jpeg_header(jpeg, 0xc0, 20000, 20000, 3, s444), &w, &h) == CS_OK);
    CHECK(w == 20000 && h == 20000);
    /* Progressive gray: 1526 MiB; colour 4:2:0: 2098 MiB; 4:4:4: 3815 MiB. */
    CHECK(info_of(jpeg, jpeg_header(jpeg, 0xc2, 20000, 20000, 1, s444), &w, &h) == CS_OK);
    CHECK(info_of(jpeg, jpeg_header(jpeg, 0xc2, 20000, 20000, 3, s420), &w, &h) == CS_ELIMIT);
    CHECK(info_of(jpeg, jpeg_header(jpeg, 0xc2, 19000, 19000, 3, s420), &w, &h) == CS_OK);
    CHECK(info_of(jpeg, jpeg_header(jpeg, 0xc2, 20000, 20000, 3, s444), &w, &h) == CS_ELIMIT);
}

/* The one rule for files met in a folder: an image by its name, in any case,
   including the formats named in an error; never a hidden file or a name
   that merely contains an image extension. */
static void test_image_names(void) {
    const char *images[] = {"a.jpg", "B.JPEG", "c.Png", "d.bmp", "e.gif", "f.pgm", "g.ppm", "h.pnm",
                            "i.TGA", "j.jfif", "k.tif", "l.TIFF", "m.webp", "n.heic", "o.heif",
                            "p.avif", "plate 7/well.b2.png", "./x.png"};
    const char *others[] = {"notes.txt", "Thumbs.db", ".DS_Store", "._a.jpg", ".hidden.png",
                            "cells.png.bak", "png", "jpg.", "a.jpgx", "", "folder.png/notes",
                            "dir/.x.png"};
    for (size_t i = 0; i < sizeof images / sizeof *images; i++) {
        if (!cs_image_name(images[i])) fprintf(stderr, "not an image by its name: %s\n", images[i]);
        CHECK(cs_image_name(images[i]));
    }
    for (size_t i = 0; i < sizeof others / sizeof *others; i++) {
        if (cs_image_name(others[i])) fprintf(stderr, "an image by its name: %s\n", others[i]);
        CHECK(!cs_image_name(others[i]));
    }
}

/* The limits alone, as the page's worker checks them before it reads a file or
   lets the browser decode one: the messages are cs_image_info's. */
static void test_image_check(void) {
    cs_error err, header;
    CHECK(cs_image_check(CS_MAX_IMAGE_BYTES, 20000, 20000, &err) == CS_OK);
    CHECK(cs_image_check(-1, 0, 0, &err) == CS_OK);
    CHECK(cs_image_check(CS_MAX_IMAGE_BYTES + 1, 0, 0, &err) == CS_ELIMIT);
    CHECK(strcmp(err.msg, "the image file has 1024.1 MiB, over the limit of 1024 MiB") == 0);
    CHECK(cs_image_check(-1, 20001, 20000, &err) == CS_ELIMIT && strstr(err.msg, "= 400020000 pixels"));
    CHECK(cs_image_check(-1, 65536, 1, &err) == CS_ELIMIT && strstr(err.msg, "65535 on a side"));
    /* huge.png claims 100000 x 100000 in its header */
    cs_image im;
    CHECK(cs_image_load(&im, fixture("huge.png"), &header) == CS_ELIMIT);
    CHECK(cs_image_check(-1, 100000, 100000, &err) == CS_ELIMIT && strstr(header.msg, err.msg));
    uint8_t rgba[4] = {0};
    CHECK(cs_image_from_rgba(&im, rgba, 20001, 20000, &header) == CS_ELIMIT);
    CHECK(cs_image_check(-1, 20001, 20000, &err) == CS_ELIMIT && strcmp(header.msg, err.msg) == 0);
}

int main(int argc, char **argv) {
    data_dir = argc > 1 ? argv[1] : "tests/data";
    test_formats();
    test_rgba();
    test_bad_files();
    test_decode_budget();
    test_image_names();
    test_image_check();
    return test_summary();
}
