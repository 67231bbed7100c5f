/* test_dataset.c: data sets: loading from class folders, and the splits for
   validation by image and, for a class with a single image, by region. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "test.h"

static cs_image synthetic(int w, int h, int value) {
    cs_image im = {.w = w, .h = h, .gray = malloc((size_t)w * h)};
    for (int y = 0; y < h; y++)
        for (int x = 0; x < w; x++) im.gray[y * w + x] = value < 0 ? (uint8_t)y : (uint8_t)value;
    return im;
}

static void add(cs_dataset *ds, cs_image im, int label, const char *name) {
    CHECK(cs_dataset_add(ds, &im, label, name, NULL) == CS_OK);
    CHECK(im.gray == NULL);
}

/* Two images per class, two folds: each fold validates on one image of each
   class and trains on the other. */
static void test_split_by_image(void) {
    cs_dataset all = {0}, train, val;
    add(&all, synthetic(40, 40, 10), 0, "A/1");
    add(&all, synthetic(40, 40, 11), 0, "A/2");
    add(&all, synthetic(40, 40, 20), 1, "B/1");
    add(&all, synthetic(40, 40, 21), 1, "B/2");
    for (int fold = 0; fold < 2; fold++) {
        CHECK(cs_dataset_split(&all, fold, 2, 16, 0, &train, &val, NULL) == CS_OK);
        CHECK(train.n == 2 && val.n == 2);
        for (int i = 0; i < val.n && val.n == 2; i++) {
            CHECK(val.labels[i] == i);
            CHECK(val.images[i].gray[0] == 10 * (i + 1) + fold);
            CHECK(train.images[i].gray[0] == 10 * (i + 1) + 1 - fold);
            CHECK(val.images[i].gray != all.images[2 * i + fold].gray); /* a copy */
        }
        cs_dataset_free(&train);
        cs_dataset_free(&val);
    }
    cs_error err;
    CHECK(cs_dataset_split(&all, 2, 2, 16, 0, &train, &val, &err) == CS_EINPUT);
    cs_dataset_free(&all);
}

/* The rows of the source a part shows once cropped: the image's gray value is
   its row (synthetic(.., -1)), so a part's pixels say where they came from. */
static void mark_rows(const cs_image *im, int crop, int tile, int grid_only, char *seen) {
    int cols, rows, h = im->h - crop;
    cs_tile_grid(im->w, im->h, crop, tile, &cols, &rows);
    if (grid_only) h = rows * tile;
    for (int y = 0; y < h; y++) seen[im->gray[y * im->w]]++;
}

/* A class with one image is split by region: the validation band and the
   training parts never share a row, and together cover the whole grid. */
static void test_split_by_region(void) {
    enum { T = 16, CROP = 8, H = 8 * T + CROP + 5 }; /* 8 tile rows, rows < 256 */
    for (int nfolds = 2; nfolds <= 3; nfolds++)
        for (int fold = 0; fold < nfolds; fold++) {
            cs_dataset all = {0}, train, val;
            add(&all, synthetic(3 * T, H, -1), 0, "A/only");
            add(&all, synthetic(3 * T, H, 1), 1, "B/1");
            add(&all, synthetic(3 * T, H, 2), 1, "B/2");
            CHECK(cs_dataset_split(&all, fold, nfolds, T, CROP, &train, &val, NULL) == CS_OK);
            char in_val[256] = {0}, in_train[256] = {0};
            int val_rows = 0;
            for (int i = 0; i < val.n; i++)
                if (val.labels[i] == 0) {
                    mark_rows(&val.images[i], CROP, T, 1, in_val);
                    CHECK(strstr(val.names[i], "A/only (rows ") == val.names[i]);
                    int cols, rows;
                    cs_tile_grid(val.images[i].w, val.images[i].h, CROP, T, &cols, &rows);
                    val_rows += rows;
                }
            for (int i = 0; i < train.n; i++)
                if (train.labels[i] == 0) mark_rows(&train.images[i], CROP, T, 0, in_train);
            int overlap = 0, covered = 0;
            for (int y = 0; y < 256; y++) {
                overlap += in_val[y] && in_train[y];
                covered += y < 8 * T && (in_val[y] || in_train[y]);
            }
            CHECK(overlap == 0);
            CHECK(covered == 8 * T);
            CHECK(val_rows == 8 / nfolds || val_rows == 8 / nfolds + 1);
            if (fold == 0) CHECK(in_val[8 * T - 1]); /* fold 0 is the bottom band */
            if (nfolds == 2 && fold == 1)
                for (int i = 0; i < val.n; i++)
                    if (val.labels[i] == 0) CHECK(strcmp(val.names[i], "A/only (rows 0-64)") == 0);
            CHECK(val.n == 1 + (fold < 2) && train.n >= 2 - (fold < 2));
            cs_dataset_free(&train);
            cs_dataset_free(&val);
            cs_dataset_free(&all);
        }
}

/* The training part above a validation band carries the band's first
   crop_bottom rows, which the crop must hide from every training crop, however
   rotated, zoomed or shifted: rows of the band are 200, the rest 10, so a crop
   of training rows alone is flat and standardizes to exactly 0. */
static void test_region_crops_stay_out(void) {
    enum { T = 16, CROP = 8, H = 8 * T + CROP + 5 };
    cs_dataset all = {0}, train, val;
    cs_image im = synthetic(3 * T, H, 10);
    memset(im.gray + 4 * T * im.w, 200, (size_t)(H - 4 * T) * im.w);
    add(&all, im, 0, "A/only");
    CHECK(cs_dataset_split(&all, 0, 2, T, CROP, &train, &val, NULL) == CS_OK);
    CHECK(train.n == 1 && strcmp(train.names[0], "A/only (rows 0-64)") == 0);
    cs_augment aug = {.dihedral = 1, .rotate_deg = 45, .shift = 0.3f, .zoom = 0.3f};
    cs_rng rng;
    cs_rng_seed(&rng, 1);
    float tile[T * T];
    int leaks = 0;
    for (int i = 0; i < 200 && train.n == 1; i++) {
        float cx = T / 2 + cs_rng_uniform(&rng) * 2 * T, cy = 4 * T - T / 2 + cs_rng_uniform(&rng) * 4;
        cs_tile_sample(tile, &train.images[0], CROP, cx, cy, T, &aug, &rng);
        for (int p = 0; p < T * T; p++) leaks += tile[p] != 0;
    }
    CHECK(leaks == 0);
    cs_dataset_free(&train);
    cs_dataset_free(&val);
    cs_dataset_free(&all);
}

/* cs_dataset_split_rows splits every image by region, even with two images per
   class: validation gets the same band of each, training the rest of each, and
   no row is in both. */
static void test_split_rows_of_every_image(void) {
    enum { T = 16, CROP = 8, H = 8 * T + CROP + 5 };
    cs_dataset all = {0}, train, val;
    add(&all, synthetic(3 * T, H, -1), 0, "A/1");
    add(&all, synthetic(3 * T, H, -1), 0, "A/2");
    add(&all, synthetic(3 * T, H, -1), 1, "B/1");
    add(&all, synthetic(3 * T, H, -1), 1, "B/2");
    CHECK(cs_dataset_split_rows(&all, 3, 4, T, CROP, &train, &val, NULL) == CS_OK);
    CHECK(val.n == 4 && train.n == 4); /* the top band: nothing above it */
    for (int i = 0; i < val.n && i < train.n; i++) {
        char in_val[256] = {0}, in_train[256] = {0};
        mark_rows(&val.images[i], CROP, T, 1, in_val);
        mark_rows(&train.images[i], CROP, T, 0, in_train);
        int overlap = 0, nval = 0, ntrain = 0;
        for (int y = 0; y < 256; y++) {
            overlap += in_val[y] && in_train[y];
            nval += in_val[y] > 0;
            ntrain += y < 8 * T && in_train[y];
        }
        CHECK(overlap == 0 && nval == 2 * T && ntrain == 6 * T);
        CHECK(in_val[0] && strstr(val.names[i], " (rows 0-") != NULL);
        CHECK(val.labels[i] == all.labels[i] && train.labels[i] == all.labels[i]);
    }
    cs_dataset_free(&train);
    cs_dataset_free(&val);
    cs_error err;
    CHECK(cs_dataset_split_rows(&all, 0, 9, T, CROP, &train, &val, &err) == CS_EINPUT);
    cs_dataset_free(&all);
}

/* Loading the fixture tests/data/dataset: A holds a.pgm, b.pgm, notes.txt,
   Thumbs.db and a hidden ._a.pgm (not an image: macOS's companion file); B
   x.pgm, y.PGM and broken.pgm (cut short); C and E a note each. Files come
   sorted; files that are not images by their name are skipped and listed with
   the unnamed folders, hidden ones passed over; images that do not decode are
   bad, named with the reason; a missing or empty class folder is an error
   naming it. */
static void test_load(const char *data) {
    char dir[1024];
    snprintf(dir, sizeof dir, "%s/dataset", data);
    cs_dataset ds;
    char *skipped, *bad;
    cs_error err;
    const char *ab[] = {"A", "B"};
    CHECK(cs_dataset_load(&ds, dir, ab, 2, &skipped, &bad, &err) == CS_OK);
    CHECK(ds.n == 4);
    if (ds.n == 4) {
        CHECK(strcmp(ds.names[0], "A/a.pgm") == 0 && ds.images[0].gray[0] == 1);
        CHECK(strcmp(ds.names[1], "A/b.pgm") == 0 && ds.labels[1] == 0);
        CHECK(strcmp(ds.names[2], "B/x.pgm") == 0 && ds.labels[2] == 1);
        CHECK(strcmp(ds.names[3], "B/y.PGM") == 0 && ds.images[3].gray[0] == 7);
    }
    CHECK(skipped && strcmp(skipped, "C\nE\nA/Thumbs.db\nA/notes.txt\n") == 0);
    CHECK(bad && strstr(bad, "B/broken.pgm: ") && strchr(bad, '\n') == bad + strlen(bad) - 1);
    free(skipped);
    free(bad);
    cs_dataset_free(&ds);

    const char *missing[] = {"A", "D"}, *empty[] = {"A", "C"};
    CHECK(cs_dataset_load(&ds, dir, missing, 2, NULL, NULL, &err) == CS_EINPUT);
    CHECK(strstr(err.msg, "/D") != NULL);
    CHECK(ds.n == 0 && ds.images == NULL);
    CHECK(cs_dataset_load(&ds, dir, empty, 2, NULL, NULL, &err) == CS_EINPUT);
    CHECK(strstr(err.msg, "/C") != NULL);
}

int main(int argc, char **argv) {
    test_split_by_image();
    test_split_by_region();
    test_region_crops_stay_out();
    test_split_rows_of_every_image();
    test_load(argc > 1 ? argv[1] : "tests/data");
    return test_summary();
}
