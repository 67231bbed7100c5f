/* cmd_predict.c: cellsight predict, whole images classified: a table or CSV. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static const option predict_own_opts[] = {
    {"model", "FILE", "the model (.safetensors)"},
    {"csv", NULL, "CSV: file,predicted_class,confidence,tiles,p_<class>...,tta,\n"
                  "um_per_px,scale (tiles: the non-background tiles, whose mean\n"
                  "probabilities are the image's; tta: the averaging used, dihedral8\n"
                  "or none; um_per_px: the image's pixel size, empty if not known;\n"
                  "scale: model pixels per image pixel, 1 unless resampled)"},
    {"tiles", NULL, "one row per tile: file,x,y,background,predicted_class,confidence,\n"
                    "p_<class>...,tta,um_per_px,scale (x, y: top-left pixel)"},
    {"crop-bottom", "PX", "rows to crop off the bottom (default: the model's)"},
    {"tta", NULL, "average each tile's 8 flips and rotations; --no-tta: one pass a\n"
                  "tile, 8 times quicker (default: as the model's tta says)"},
    {"page", "N", "the page of multi-page TIFFs to classify (default 1); given,\n"
                  "rows of files of several pages are named file#N"},
    {"rescale", NULL, "resample images of a known pixel size other than the model's\n"
                      "to its size before tiling (default); --no-rescale: classify\n"
                      "them at their own"},
    {"all-pages", NULL, "every page of multi-page TIFFs, a row each, named file#1,\n"
                        "file#2, ... (files of one page keep their names)"},
    {0}};

/* The table's columns, sized for the files and classes, with its header
   row printed. tta says the averaging used, as the model file and the page's
   CSVs name it; um_per_px and scale the pixel size. Columns are only ever
   added at the end. */
static int start_table(table *t, int csv, int tiles, const cs_model *m, const file_list *files) {
    static const char *const image_cols[] = {"file", "predicted_class", "confidence", "tiles"};
    static const char *const tile_cols[] = {"file", "x", "y", "background", "predicted_class",
                                            "confidence"};
    const char *const *head = tiles ? tile_cols : image_cols;
    int K = m->net.nclasses, nhead = tiles ? 6 : 4, class_col = tiles ? 4 : 1, ncols = nhead + K + 3;
    *t = (table){csv, ncols, 0, calloc((size_t)ncols, sizeof(int))};
    if (!t->width) return 0;
    for (int i = 0; i < ncols; i++) t->width[i] = i < ncols - 2 ? 8 : 12; /* "%.6f", "0.65x0.7" */
    for (int i = 0; i < nhead; i++)
        if ((int)strlen(head[i]) > t->width[i]) t->width[i] = (int)strlen(head[i]);
    for (int i = 0; i < files->n; i++) /* and room for "#10000" */
        if ((int)strlen(files->path[i]) + 6 > t->width[0]) t->width[0] = (int)strlen(files->path[i]) + 6;
    for (int c = 0; c < K; c++) {
        int len = (int)strlen(m->classes[c]);
        if (len > t->width[class_col]) t->width[class_col] = len;
        if (len + 2 > t->width[nhead + c]) t->width[nhead + c] = len + 2;
    }
    for (int i = 0; i < nhead; i++) cell(t, head[i]);
    for (int c = 0; c < K; c++) cellf(t, "p_%s", m->classes[c]);
    cell(t, "tta");
    cell(t, "um_per_px");
    cell(t, "scale");
    return 1;
}

/* An image's row, or with tiles a row per tile. */
static void print_rows(table *t, int tiles, const cs_model *m, const char *file, const cs_result *res) {
    int K = m->net.nclasses;
    const char *tta_used = m->tta ? CS_TTA_DIHEDRAL8 : CS_TTA_NONE;
    if (!tiles) {
        cell(t, file);
        cell(t, m->classes[res->predicted]);
        cellf(t, "%.6f", res->confidence);
        cellf(t, "%d", res->nforeground);
        for (int c = 0; c < K; c++) cellf(t, "%.6f", res->probs[c]);
        cell(t, tta_used);
        cell_xy(t, res->um_x, res->um_y);
        cell_xy(t, res->scale_x, res->scale_y);
        return;
    }
    for (int k = 0; k < res->ntiles; k++) {
        const float *p = res->tile_probs + (size_t)k * K;
        cell(t, file);
        cellf(t, "%d", res->x[k]);
        cellf(t, "%d", res->y[k]);
        cellf(t, "%d", res->background[k]);
        cell(t, m->classes[res->tile_class[k]]);
        cellf(t, "%.6f", p[res->tile_class[k]]);
        for (int c = 0; c < K; c++) cellf(t, "%.6f", p[c]);
        cell(t, tta_used);
        cell_xy(t, res->um_x, res->um_y);
        cell_xy(t, res->scale_x, res->scale_y);
    }
}

/* What predict classifies of each file: page `page` (0-based), or every page. */
typedef struct {
    const cs_model *m;
    int crop, tiles, page, all_pages;
    double um; /* --um-per-px, for files that state none */
    int paged; /* --page or --all-pages given: rows of files of several pages named file#N */
} predict_plan;

/* A file's rows: each page it classifies, decoded from one read of the file.
   Returns 0, or EXIT_INPUT after naming what failed on stderr. */
static int classify_file(table *t, const predict_plan *p, const char *file) {
    uint8_t *data;
    size_t size;
    cs_error e;
    if (cs_image_read_file(file, &data, &size, &e)) return input_error(file, &e);
    int failed = 0, pages = 1;
    for (int page = p->all_pages ? 0 : p->page;; page++) {
        cs_image im = {0};
        cs_result res;
        char name[4096];
        int bad = cs_image_decode_page(&im, data, size, page, &pages, &e) != CS_OK ||
                  cs_image_assume_pixel_size(&im, p->um, &e) != CS_OK;
        snprintf(name, sizeof name, p->paged && pages > 1 ? "%s#%d" : "%s", file, page + 1);
        if (bad || cs_classify(p->m, &im, p->crop, &res, NULL, NULL, &e)) {
            fflush(stdout);
            failed = input_error(name, &e);
        } else {
            print_rows(t, p->tiles, p->m, name, &res);
            cs_result_free(&res);
        }
        cs_image_free(&im);
        if (!p->all_pages || page + 1 >= pages) break;
    }
    free(data);
    return failed;
}

static int cmd_predict(args *a) {
    const char *path = require(a, "model");
    int csv = get_switch(a, "csv", 0), tiles = get_switch(a, "tiles", 0);
    int crop = (int)get_int(a, "crop-bottom", -1, 0, 100000), tta = get_switch(a, "tta", -1);
    int page = (int)get_int(a, "page", 1, 1, CS_MAX_PAGES), all_pages = get_switch(a, "all-pages", 0);
    double um = get_um_per_px(a);
    if (!a->bad && get_str(a, "page") && all_pages) usage_error(a, "--page and --all-pages exclude each other");
    if (!a->bad && a->npos == 0) usage_error(a, "no images to classify");
    if (a->bad) return EXIT_USAGE;
    cs_model m;
    if (load_model(&m, path)) return EXIT_INPUT;
    if (override_tta(&m, tta, path)) {
        cs_model_free(&m);
        return EXIT_INPUT;
    }
    file_list files = {0};
    int failed = list_images(&files, a->pos, a->npos);
    table t;
    if (!start_table(&t, csv, tiles, &m, &files)) {
        free_files(&files);
        cs_model_free(&m);
        return EXIT_INPUT;
    }
    m.no_rescale = !get_switch(a, "rescale", 1);
    predict_plan plan = {&m, crop, tiles, page - 1, all_pages, um, get_str(a, "page") || all_pages};
    /* Rows on a terminal show how far it got; otherwise say so on stderr. */
    int show = files.n > 1 && !isatty(1);
    progress pr;
    progress_start(&pr);
    for (int i = 0; i < files.n; i++) {
        if (show) progress_count(&pr, "classified images", i, files.n);
        if (classify_file(&t, &plan, files.path[i])) failed = EXIT_INPUT;
    }
    if (show) progress_count(&pr, "classified images", files.n, files.n);
    free(t.width);
    free_files(&files);
    cs_model_free(&m);
    return failed;
}

const command predict_command = {"predict", "--model FILE [--csv] [--tiles] [--no-tta] [--page N|--all-pages] [--um-per-px UM] [--no-rescale] IMAGE|FOLDER...",
    "Classifies whole images: each is tiled, background tiles are set aside, and the\n"
    "image's probabilities are the mean over the others. A readable table, or CSV.\n"
    "A folder stands for its image files and those of its subfolders, sorted by\n"
    "path: files named .jpg .jpeg .jfif .png .tif .tiff .bmp .gif .pgm .ppm .pnm\n"
    ".tga (and .webp .heic .heif .avif, which get an error). Other files are\n"
    "skipped with a note on stderr, hidden ones and links to folders passed over.\n"
    "An image that cannot be read is named on stderr, the others still classified,\n"
    "and the exit code is 1. Images whose pixel size is known (from the file, or\n"
    "--um-per-px) and more than 5% off the model's are resampled to it first.\n"
    "Exit codes: 0 ok, 1 bad input, 2 usage.",
    {{"options", predict_own_opts}, {"pixel size", pixel_opts}, {"common", common_opts}},
    NULL, cmd_predict};
