/* test_pixel_size.c: the pixel size read from each way a file states it
   (tools/make_tiff_fixtures: the cells crop at twice the magnification, each
   pixel 2 x 2), the plausibility rule, hostile descriptions; resampling to a
   model's pixel size, which brings those fixtures back to the crop's exact
   pixels and probabilities; the crop in the image's own rows; the limits. */
#include <stdlib.h>
#include <string.h>

#include "test_train.h"

static const char *data_dir;

static int load(cs_image *im, const char *name) {
    char path[1024];
    cs_error err;
    snprintf(path, sizeof path, "%s/tiff/%s", data_dir, name);
    if (cs_image_load(im, path, &err) == CS_OK) return 1;
    fprintf(stderr, "%s: %s\n", name, err.msg);
    return 0;
}

static void test_stated(void) {
    static const struct {
        const char *file, *source;
        float x, y;
    } cases[] = {{"um_cm.tif", CS_UM_TIFF, 0.6215f, 0.6215f},
                 {"um_inch.tif", CS_UM_TIFF, 0.6215f, 0.6215f},
                 {"um_imagej.tif", CS_UM_IMAGEJ, 0.6215f, 0.6215f},
                 {"um_ome_nm.ome.tif", CS_UM_OME, 0.6215f, 0.6215f},
                 {"ome.ome.tif", CS_UM_OME, 1.243f, 1.243f},
                 {"um_phys.png", CS_UM_PNG, 0.6215f, 0.6215f},
                 {"um_aniso.tif", CS_UM_TIFF, 0.6215f, 1.243f},
                 {"um_dpi72.tif", NULL, 0, 0}, /* 353 um: an editor's default */
                 {"cells.png", NULL, 0, 0},
                 {"gray8.tif", NULL, 0, 0}};
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        cs_image im;
        if (!load(&im, cases[i].file)) {
            CHECK(0);
            continue;
        }
        int ok = fabsf(im.um_x - cases[i].x) <= 1e-4f && fabsf(im.um_y - cases[i].y) <= 1e-4f &&
                 (cases[i].source ? im.um_source && !strcmp(im.um_source, cases[i].source)
                                  : !im.um_source);
        if (!ok) fprintf(stderr, "%s: %g x %g um from %s\n", cases[i].file, im.um_x, im.um_y,
                         im.um_source ? im.um_source : "nowhere");
        CHECK(ok);
        cs_image_free(&im);
    }
}

/* Descriptions as hostile or odd files write them: never a crash, only a
   plausible size. */
static void test_descriptions(void) {
    static const struct {
        const char *desc;
        int has_res, unit;
        double res, want;
    } cases[] = {
        {"<OME><Image><Pixels PhysicalSizeX=\"0.5\" PhysicalSizeY=\"0.5\" SizeX=\"9\">", 0, 1, 0, 0.5},
        {"<OME><Pixels PhysicalSizeXUnit=\"nm\" PhysicalSizeX = '650' PhysicalSizeY='650' "
         "PhysicalSizeYUnit='nm'/></OME>", 0, 1, 0, 0.65},
        {"<ome:OME><ome:Pixels PhysicalSizeX=\"1\" PhysicalSizeY=\"1\" PhysicalSizeXUnit=\"mm\">", 0, 1, 0, 0},
        {"<OME><Pixels PhysicalSizeXUnit=\"nm\">", 1, 3, 10000, 1},   /* no size: the tags */
        {"<OME><Pixels PhysicalSizeX=\"0.5", 0, 1, 0, 0},              /* cut short */
        {"<OME><Pixels PhysicalSizeX=\"abc\" PhysicalSizeY=\"1\">", 0, 1, 0, 0},
        {"<OME><Pixels PhysicalSizeX=\"nan\" PhysicalSizeY=\"nan\">", 0, 1, 0, 0},
        {"<OMEPixels PhysicalSizeX=\"1\" PhysicalSizeY=\"1\">", 0, 1, 0, 0},
        {"ImageJ=1.54f\nunit=micron\n", 1, 1, 2, 0.5},
        {"ImageJ=1.54f\nunit=\\u00B5m\n", 1, 1, 4, 0.25},
        {"ImageJ=1.54f\nunit=nm\n", 1, 1, 0.002, 0.5},
        {"ImageJ=1.54f\nunit=pixel\n", 1, 1, 2, 0},
        {"ImageJ=1.54f\nunit=", 1, 1, 2, 0},
        {"ImageJ=1.54f\n", 1, 2, 25400, 1},                            /* no unit: the tags */
        {"", 1, 2, 96, 0},                                             /* 96 dpi */
        {"", 1, 1, 2, 0},                                              /* no unit */
        {"", 1, 2, 1e-30, 0},
        {NULL, 1, 3, 40000, 0.25},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        cs_image im = {0};
        cs_tiff_pixel_size(&im, cases[i].desc, cases[i].has_res, cases[i].res, cases[i].res,
                           cases[i].unit);
        int ok = fabs(im.um_x - cases[i].want) <= 1e-6 * cases[i].want + 1e-9 && im.um_x == im.um_y;
        if (!ok) fprintf(stderr, "case %zu: %g um, expected %g\n", i, im.um_x, cases[i].want);
        CHECK(ok);
    }
    /* A PNG cut inside its chunks, and one whose pHYs states only an aspect ratio. */
    static const uint8_t cut[] = "\x89PNG\r\n\x1a\n\0\0\0\x09pHYs\0\0";
    static const uint8_t aspect[] = "\x89PNG\r\n\x1a\n\0\0\0\x09pHYs\0\x18\x8e\x32\0\x18\x8e\x32\0crc!";
    cs_image im = {0};
    cs_png_pixel_size(&im, cut, sizeof cut - 1);
    cs_png_pixel_size(&im, aspect, sizeof aspect - 1);
    CHECK(im.um_x == 0 && im.um_source == NULL);
}

static void test_assume(void) {
    cs_image im = {0};
    cs_error err;
    CHECK(cs_image_assume_pixel_size(&im, 0, &err) == CS_OK && im.um_source == NULL);
    CHECK(cs_image_assume_pixel_size(&im, 500, &err) == CS_EINPUT && strstr(err.msg, "not a microscope's"));
    CHECK(cs_image_assume_pixel_size(&im, -1, &err) == CS_EINPUT && im.um_source == NULL);
    CHECK(cs_image_assume_pixel_size(&im, 0.65, &err) == CS_OK && !strcmp(im.um_source, CS_UM_GIVEN));
    CHECK_NEAR(im.um_x, 0.65, 1e-7);
    im.um_source = CS_UM_OME; /* a stated size is kept */
    CHECK(cs_image_assume_pixel_size(&im, 2, &err) == CS_OK && im.um_x == 0.65f);
}

/* The shipped model at 1.243 um: the 2x fixtures classify exactly as the crop
   (area averages of 2 x 2 equal pixels), tiles placed in their own pixels. */
static void test_classify_at_scale(const cs_model *model) {
    cs_image ref, big, aniso;
    cs_result want, got;
    cs_error err;
    if (!load(&ref, "cells.png") || !load(&big, "um_cm.tif") || !load(&aniso, "um_aniso.tif")) {
        CHECK(0);
        return;
    }
    CHECK(cs_classify(model, &ref, 0, &want, NULL, NULL, &err) == CS_OK);
    const cs_image *scaled[] = {&big, &aniso};
    for (int i = 0; i < 2; i++) {
        CHECK(cs_classify(model, scaled[i], 0, &got, NULL, NULL, &err) == CS_OK);
        int K = model->net.nclasses, same = got.ntiles == want.ntiles;
        for (int t = 0; same && t < got.ntiles * K; t++) same = got.tile_probs[t] == want.tile_probs[t];
        CHECK(same);
        CHECK_NEAR(got.scale_x, 0.5, 1e-6);
        CHECK_NEAR(got.scale_y, i ? 1 : 0.5, 1e-6);
        CHECK(got.x[1] == 256 && got.y[1] == 0 && !strcmp(got.um_source, CS_UM_TIFF));
        cs_result_free(&got);
    }
    /* Not resampled: without the model's size, with no_rescale, within 5%. */
    cs_model as_is = *model;
    as_is.no_rescale = 1;
    CHECK(cs_classify(&as_is, &big, 0, &got, NULL, NULL, &err) == CS_OK);
    CHECK(got.ntiles == 8 && got.scale_x == 1 && got.um_x == big.um_x);
    cs_result_free(&got);
    ref.um_x = ref.um_y = 1.243f * 1.04f;
    ref.um_source = CS_UM_GIVEN;
    CHECK(cs_classify(model, &ref, 0, &got, NULL, NULL, &err) == CS_OK);
    CHECK(got.ntiles == 2 && got.scale_x == 1 && got.tile_probs[0] == want.tile_probs[0]);
    cs_result_free(&got);
    /* Grown past the limits: refused before its pixels are read (there are
       not 5000 x 5000 of them). */
    cs_image huge = big;
    huge.w = huge.h = 5000;
    huge.um_x = huge.um_y = 20;
    CHECK(cs_classify(model, &huge, 0, &got, NULL, NULL, &err) == CS_ELIMIT);
    CHECK(strstr(err.msg, "over the limit") != NULL);
    /* Shrunk below a tile: the message says why. */
    big.um_x = big.um_y = 0.05f;
    CHECK(cs_classify(model, &big, 0, &got, NULL, NULL, &err) == CS_EINPUT);
    CHECK(strstr(err.msg, "512 x 256 pixels, 512 x 256 without its bottom 0 rows, 21 x 10 at the "
                 "model's pixel size (1.243 um): smaller than one 128 x 128 tile") != NULL);
    cs_result_free(&want);
    cs_image_free(&ref);
    cs_image_free(&big);
    cs_image_free(&aniso);
}

/* The crop comes off the image's own rows; the rows above it are resampled and
   the same number of black rows stand in for it below. */
static void test_resample_crop(void) {
    cs_image im = {.w = 4, .h = 6, .gray = malloc(24)}, out;
    cs_error err;
    for (int i = 0; i < 24; i++) im.gray[i] = i < 16 ? (uint8_t)(10 * (i / 8 + 1)) : 255;
    im.um_x = im.um_y = 1;
    CHECK(cs_image_resample(&out, &im, 2, 0.5f, 0.5f, &err) == CS_OK);
    CHECK(out.w == 2 && out.h == 4 && out.um_x == 2);
    CHECK(out.gray[0] == 10 && out.gray[1] == 10 && out.gray[2] == 20 && out.gray[3] == 20);
    CHECK(out.gray[4] == 0 && out.gray[7] == 0);
    cs_image_free(&out);
    CHECK(cs_image_resample(&out, &im, 2, 0.01f, 0.5f, &err) == CS_EINPUT && out.gray == NULL);
    cs_image_free(&im);
}

/* ds's images, each pixel made 2 x 2, at half of um's pixel size. */
static void doubled(cs_dataset *to, const cs_dataset *from, float um) {
    cs_error err;
    for (int i = 0; i < from->n; i++) {
        const cs_image *src = &from->images[i];
        cs_image im = {.w = 2 * src->w, .h = 2 * src->h, .gray = malloc(4 * (size_t)src->w * src->h),
                       .um_x = um / 2, .um_y = um / 2, .um_source = CS_UM_GIVEN};
        for (int y = 0; y < im.h; y++)
            for (int x = 0; x < im.w; x++) im.gray[(size_t)y * im.w + x] = src->gray[(size_t)(y / 2) * src->w + x / 2];
        CHECK(cs_dataset_add(to, &im, from->labels[i], from->names[i], &err) == CS_OK);
    }
}

/* Training at the model's pixel size: a base of 1.243 um trains on the
   fixture's images at twice the magnification exactly as on the images
   themselves; a new model takes its images' median size and records it. */
static void test_train_at_scale(int argc, char **argv) {
    cs_dataset all = {0}, train = {0}, val = {0}, big = {0};
    cs_model a, b, fresh;
    cs_recipe r;
    cs_error err;
    load_fixture(argc, argv, &all, &train, &val, NULL);
    doubled(&big, &all, 1.243f);
    cs_recipe_defaults(&r, "ours");
    r.train.epochs = 1;
    r.train.crops_per_image = 4;
    CHECK(cs_model_init(&a, ARCH, TILE, 2, CLASSES, 7, &err) == CS_OK);
    CHECK(cs_model_set(&a, CS_META_UM_PER_PX, "1.243", &err) == CS_OK);
    CHECK(cs_model_init(&b, ARCH, TILE, 2, CLASSES, 7, &err) == CS_OK);
    CHECK(cs_model_set(&b, CS_META_UM_PER_PX, "1.243", &err) == CS_OK);
    CHECK(cs_fit(&a, &all, &r, NULL, &err) == CS_OK);
    CHECK(cs_fit(&b, &big, &r, NULL, &err) == CS_OK);
    CHECK(!memcmp(a.net.params, b.net.params, sizeof(float) * a.net.nparams));
    CHECK(big.images[0].w == 2 * all.images[0].w); /* the caller's images untouched */
    r.val_folds = 0;
    CHECK(cs_fit(&a, &all, &r, NULL, &err) == CS_OK);
    CHECK(cs_fit(&b, &big, &r, NULL, &err) == CS_OK);
    CHECK(!memcmp(a.net.params, b.net.params, sizeof(float) * a.net.nparams));

    CHECK(cs_model_init(&fresh, ARCH, TILE, 2, CLASSES, 7, &err) == CS_OK);
    all.images[0].um_x = all.images[0].um_y = 0.9f;
    for (int i = 1; i < all.n; i++) all.images[i].um_x = all.images[i].um_y = 1.5f;
    CHECK(cs_fit(&fresh, &all, &r, NULL, &err) == CS_OK);
    CHECK_NEAR(fresh.um_per_px, 1.5, 1e-6);
    CHECK(cs_model_get(&fresh, CS_META_UM_PER_PX) && !strcmp(cs_model_get(&fresh, CS_META_UM_PER_PX), "1.5"));
    cs_model_free(&a);
    cs_model_free(&b);
    cs_model_free(&fresh);
    cs_dataset_free(&all);
    cs_dataset_free(&train);
    cs_dataset_free(&val);
    cs_dataset_free(&big);
}

int main(int argc, char **argv) {
    data_dir = argc > 1 ? argv[1] : "tests/data";
    char path[1024];
    cs_model model;
    cs_error err;
    snprintf(path, sizeof path, "%s/../../model/t47d-vs-mdamb231.safetensors", data_dir);
    if (cs_model_load(&model, path, &err) != CS_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    test_stated();
    test_descriptions();
    test_assume();
    CHECK_NEAR(model.um_per_px, 1.243, 1e-6);
    test_classify_at_scale(&model);
    test_resample_crop();
    test_train_at_scale(argc, argv);
    cs_model_free(&model);
    return test_summary();
}
