/* dataset.c: labelled whole images, read from one folder per class, and split
   for validation by image (or, for a class with a single image, by region). */
#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "internal.h"

cs_status cs_dataset_add(cs_dataset *ds, cs_image *im, int label, const char *name, cs_error *err) {
    size_t n = (size_t)ds->n + 1;
    cs_image *images = realloc(ds->images, n * sizeof *images);
    if (images) ds->images = images;
    int *labels = realloc(ds->labels, n * sizeof *labels);
    if (labels) ds->labels = labels;
    char **names = realloc(ds->names, n * sizeof *names);
    if (names) ds->names = names;
    char *copy = strdup(name ? name : "");
    if (!images || !labels || !names || !copy) {
        free(copy);
        return cs_fail(err, CS_ENOMEM, "out of memory adding image %s to the data set", name);
    }
    ds->images[ds->n] = *im;
    ds->labels[ds->n] = label;
    ds->names[ds->n] = copy;
    ds->n++;
    memset(im, 0, sizeof *im);
    return CS_OK;
}

void cs_dataset_free(cs_dataset *ds) {
    for (int i = 0; i < ds->n; i++) {
        cs_image_free(&ds->images[i]);
        free(ds->names[i]);
    }
    free(ds->images);
    free(ds->labels);
    free(ds->names);
    memset(ds, 0, sizeof *ds);
}

/* ------------------------------------------------------------ loading */

/* Appends one line to a malloc'd newline-separated list; returns 0 when out of memory. */
static int list_append(char **list, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    size_t len = *list ? strlen(*list) : 0;
    char *grown = realloc(*list, len + (size_t)n + 2);
    if (!grown) return 0;
    va_start(ap, fmt);
    vsnprintf(grown + len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    strcpy(grown + len + n, "\n");
    *list = grown;
    return 1;
}

static int compare_names(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The visible entries of folder `dir` of the given type (S_IFREG or S_IFDIR),
   sorted by name so that every run sees the images in the same order. */
static cs_status list_folder(const char *dir, int type, char ***names, int *n, cs_error *err) {
    *names = NULL;
    *n = 0;
    DIR *d = opendir(dir);
    if (!d) return cs_fail(err, CS_EINPUT, "cannot open folder %s", dir);
    cs_status st = CS_OK;
    struct dirent *e;
    while (st == CS_OK && (e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        char path[4096];
        struct stat sb;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (stat(path, &sb) != 0 || (sb.st_mode & S_IFMT) != (mode_t)type) continue;
        char **grown = realloc(*names, (size_t)(*n + 1) * sizeof *grown);
        char *copy = strdup(e->d_name);
        if (grown) *names = grown;
        if (!grown || !copy) {
            free(copy);
            st = cs_fail(err, CS_ENOMEM, "out of memory listing %s", dir);
        } else {
            (*names)[(*n)++] = copy;
        }
    }
    closedir(d);
    if (st != CS_OK) {
        cs_free_names(*names, *n);
        *names = NULL;
        *n = 0;
        return st;
    }
    qsort(*names, (size_t)*n, sizeof **names, compare_names);
    return CS_OK;
}

/* Loads every image of dir/<class> with label c; files that are not images by
   their name go to *skipped, those that do not decode to *bad. */
static cs_status load_class(cs_dataset *ds, const char *dir, const char *cls, int c,
                            char **skipped, char **bad, cs_error *err) {
    char folder[4096];
    snprintf(folder, sizeof folder, "%s/%s", dir, cls);
    char **files;
    int nfiles, loaded = 0;
    cs_status st = list_folder(folder, S_IFREG, &files, &nfiles, err);
    if (st == CS_EINPUT) return cs_fail(err, CS_EINPUT, "class folder %s is missing", folder);
    if (st != CS_OK) return st;
    for (int i = 0; i < nfiles && st == CS_OK; i++) {
        char path[4096 + 256], name[512];
        snprintf(path, sizeof path, "%s/%s", folder, files[i]);
        snprintf(name, sizeof name, "%s/%s", cls, files[i]);
        if (!cs_image_name(files[i])) {
            if (skipped && !list_append(skipped, "%s", name))
                st = cs_fail(err, CS_ENOMEM, "out of memory listing skipped files");
            continue;
        }
        cs_image im = {0};
        cs_error why = {0};
        if (cs_image_load(&im, path, &why) != CS_OK) {
            if (bad && !list_append(bad, "%s", why.msg)) /* the message names the file */
                st = cs_fail(err, CS_ENOMEM, "out of memory listing bad images");
            continue;
        }
        st = cs_dataset_add(ds, &im, c, name, err);
        cs_image_free(&im);
        loaded += st == CS_OK;
    }
    cs_free_names(files, nfiles);
    if (st == CS_OK && loaded == 0)
        st = cs_fail(err, CS_EINPUT, "class folder %s has no images that decode", folder);
    return st;
}

cs_status cs_dataset_load(cs_dataset *ds, const char *dir, const char *const *classes,
                          int nclasses, char **skipped, char **bad, cs_error *err) {
    memset(ds, 0, sizeof *ds);
    if (skipped) *skipped = NULL;
    if (bad) *bad = NULL;
    char **folders;
    int nfolders;
    cs_status st = list_folder(dir, S_IFDIR, &folders, &nfolders, err);
    if (st != CS_OK) return st;
    for (int f = 0; f < nfolders && st == CS_OK && skipped; f++) {
        int named = 0;
        for (int c = 0; c < nclasses; c++) named |= strcmp(folders[f], classes[c]) == 0;
        if (!named && !list_append(skipped, "%s", folders[f]))
            st = cs_fail(err, CS_ENOMEM, "out of memory listing skipped folders");
    }
    cs_free_names(folders, nfolders);
    for (int c = 0; c < nclasses && st == CS_OK; c++) st = load_class(ds, dir, classes[c], c, skipped, bad, err);
    if (st != CS_OK) {
        cs_dataset_free(ds);
        if (skipped) free(*skipped), *skipped = NULL;
        if (bad) free(*bad), *bad = NULL;
    }
    return st;
}

/* ------------------------------------------------------------ splitting */

/* Adds a copy of rows [y0, y1) of image i of `all` to ds; a region (crop >= 0)
   is named with the rows left once crop rows are cut off its bottom. */
static cs_status add_rows(cs_dataset *ds, const cs_dataset *all, int i, int y0, int y1, int crop,
                          cs_error *err) {
    const cs_image *src = &all->images[i];
    cs_image im = *src; /* its pixel size too */
    im.h = y1 - y0;
    im.gray = malloc((size_t)src->w * (size_t)(y1 - y0));
    if (!im.gray) return cs_fail(err, CS_ENOMEM, "out of memory splitting %s", all->names[i]);
    memcpy(im.gray, src->gray + (size_t)y0 * src->w, (size_t)src->w * (size_t)(y1 - y0));
    char name[1024];
    if (crop >= 0)
        snprintf(name, sizeof name, "%s (rows %d-%d)", all->names[i], y0, y1 - crop);
    else
        snprintf(name, sizeof name, "%s", all->names[i]);
    cs_status st = cs_dataset_add(ds, &im, all->labels[i], name, err);
    cs_image_free(&im);
    return st;
}

cs_status cs_dataset_copy(cs_dataset *to, const cs_dataset *from, cs_error *err) {
    cs_status st = CS_OK;
    for (int i = 0; i < from->n && !st; i++) st = add_rows(to, from, i, 0, from->images[i].h, -1, err);
    return st;
}

float cs_dataset_um(const cs_dataset *ds) {
    int n = 0;
    float *um = malloc(sizeof(float) * (size_t)(ds->n ? ds->n : 1)), median = 0;
    if (!um) return 0;
    for (int i = 0; i < ds->n; i++)
        if (ds->images[i].um_x > 0) um[n++] = ds->images[i].um_x;
    for (int i = 1; i < n; i++) /* a few images: insertion sort */
        for (int j = i; j > 0 && um[j - 1] > um[j]; j--) {
            float t = um[j];
            um[j] = um[j - 1];
            um[j - 1] = t;
        }
    if (n) median = n % 2 ? um[n / 2] : (um[n / 2 - 1] + um[n / 2]) / 2;
    free(um);
    return median;
}

int cs_dataset_off_scale(const cs_dataset *ds, float um) {
    int count = 0;
    float sx, sy;
    for (int i = 0; i < ds->n; i++)
        count += cs_rescale_needed(ds->images[i].um_x, ds->images[i].um_y, um, &sx, &sy);
    return count;
}

cs_status cs_dataset_rescale(cs_dataset *ds, float um, int crop, cs_error *err) {
    for (int i = 0; i < ds->n; i++) {
        float sx, sy;
        cs_image out;
        cs_error e;
        if (!cs_rescale_needed(ds->images[i].um_x, ds->images[i].um_y, um, &sx, &sy)) continue;
        if (cs_image_resample(&out, &ds->images[i], crop, sx, sy, &e)) return cs_fail_in(err, ds->names[i], &e);
        cs_image_free(&ds->images[i]);
        ds->images[i] = out;
    }
    return CS_OK;
}

/* A class with a single image is split by region: its grid's tile rows are cut
   into nfolds bands, fold 0 the bottom one; validation gets the band, training
   the parts above and below it. Each part keeps crop_bottom rows of what lies
   below it, so that cropping it as every image is cropped leaves exactly its
   own rows: no training crop, however augmented, reads a validation pixel. */
static cs_status split_region(const cs_dataset *all, int i, int fold, int nfolds, int tile,
                              int crop_bottom, cs_dataset *train, cs_dataset *val, cs_error *err) {
    const cs_image *im = &all->images[i];
    int cols, rows;
    cs_tile_grid(im->w, im->h, crop_bottom, tile, &cols, &rows);
    if (rows < nfolds || cols < 1)
        return cs_fail(err, CS_EINPUT,
                       "%s is the only image of its class and has %d rows of %d-pixel tiles: "
                       "too few to split by region into %d folds", all->names[i], rows, tile, nfolds);
    int a = rows - rows * (fold + 1) / nfolds, b = rows - rows * fold / nfolds; /* tile rows [a, b) */
    int below = b == rows ? im->h : b * tile + crop_bottom;
    cs_status st = add_rows(val, all, i, a * tile, below, crop_bottom, err);
    if (st == CS_OK && a > 0) st = add_rows(train, all, i, 0, a * tile + crop_bottom, crop_bottom, err);
    if (st == CS_OK && b < rows) st = add_rows(train, all, i, b * tile, im->h, crop_bottom, err);
    return st;
}

/* by_rows: every image is split by region, not only a class's single image. */
static cs_status split(const cs_dataset *all, int fold, int nfolds, int tile, int crop_bottom,
                       int by_rows, cs_dataset *train, cs_dataset *val, cs_error *err) {
    memset(train, 0, sizeof *train);
    memset(val, 0, sizeof *val);
    if (nfolds < 2 || fold < 0 || fold >= nfolds)
        return cs_fail(err, CS_EINPUT, "fold %d of %d: need 0 <= fold < folds and folds >= 2", fold, nfolds);
    cs_status st = CS_OK;
    for (int i = 0; i < all->n && st == CS_OK; i++) {
        int rank = 0, count = 0; /* image i is the rank-th of count images of its class */
        for (int j = 0; j < all->n; j++)
            if (all->labels[j] == all->labels[i]) {
                rank += j < i;
                count++;
            }
        if (count == 1 || by_rows)
            st = split_region(all, i, fold, nfolds, tile, crop_bottom, train, val, err);
        else
            st = add_rows(rank % nfolds == fold ? val : train, all, i, 0, all->images[i].h, -1, err);
    }
    if (st != CS_OK) {
        cs_dataset_free(train);
        cs_dataset_free(val);
    }
    return st;
}

cs_status cs_dataset_split(const cs_dataset *all, int fold, int nfolds, int tile, int crop_bottom,
                           cs_dataset *train, cs_dataset *val, cs_error *err) {
    return split(all, fold, nfolds, tile, crop_bottom, 0, train, val, err);
}

cs_status cs_dataset_split_rows(const cs_dataset *all, int fold, int nfolds, int tile,
                                int crop_bottom, cs_dataset *train, cs_dataset *val, cs_error *err) {
    return split(all, fold, nfolds, tile, crop_bottom, 1, train, val, err);
}
