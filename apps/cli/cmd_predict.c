/* cmd_predict.c: cellsight predict, whole images classified: a table or CSV. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static const option predict_own_opts[] = {
    {"model", "FILE", "the model (.safetensors)"},
    {"csv", NULL, "CSV: file,predicted_class,confidence,tiles,p_<class>...,tta,\n"
                  "um_per_px,scale,model,model_hash,crop_bottom (tiles: the\n"
                  "non-background tiles, whose mean probabilities are the image's;\n"
                  "tta: the averaging used, dihedral8 or none; um_per_px: the\n"
                  "image's pixel size, empty if not known; scale: model pixels per\n"
                  "image pixel, 1 unless resampled; model: the model file's name;\n"
                  "model_hash: the first 12 hex digits of its sha256sum;\n"
                  "crop_bottom: the rows cropped off). Names that start with\n"
                  "= + - @ get a ' before them: no spreadsheet runs them"},
    {"tiles", NULL, "one row per tile: file,x,y,background,predicted_class,confidence,\n"
                    "p_<class>...,tta,um_per_px,scale,model,model_hash,crop_bottom\n"
                    "(x, y: top-left pixel)"},
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
    {"expect", "LINE", "the line every image should be: adds the columns expected,verdict\n"
                       "(consistent: LINE wins and the image is of the model's lines;\n"
                       "inconsistent: another line wins; unknown: none of them)"},
    {"expect-csv", "FILE", "the line each image should be, from a CSV with the columns\n"
                           "file,expected (file as predict names it, or its base name; a\n"
                           "page's row, file#N, also by its file's): adds expected,verdict;\n"
                           "images it does not name get neither"},
    {"resume", "PARTIAL.csv", "with --csv: complete the CSV of a run that stopped, in place:\n"
                              "its rows kept (but its last image's, which are redone), the\n"
                              "images it has no rows of classified and their rows added to it,\n"
                              "not to stdout; the file is started if there is none"},
    {0}};

/* What predict classifies of each file: page `page` (0-based), or every page. */
typedef struct {
    const cs_model *m;
    int crop, tiles, page, all_pages;
    double um; /* --um-per-px, for files that state none */
    int paged; /* --page or --all-pages given: rows of files of several pages named file#N */
    const char *model_name; /* the model file's name, without its folders */
    int expect;                       /* --expect or --expect-csv given (and not empty) */
    const char *every;                /* --expect: every image's line */
    const cs_expected_lines *by_file; /* --expect-csv's */
} predict_plan;

/* The columns after the classes': tta says the averaging used, as the model
   file and the page's CSVs name it; um_per_px and scale the pixel size; model
   (the file's name), model_hash (cs_model.hash) and crop_bottom (the rows
   cropped) what made the row; ood_score and known whether the image is of the
   model's lines (tiles: each tile's score, the image's known); with an
   expected line, expected and verdict. Columns are only ever added at the end. */
static const char *const last_cols[] = {"tta", "um_per_px", "scale", "model", "model_hash", "crop_bottom",
                                        "ood_score", "known", "expected", "verdict"};
enum { NLAST_ALWAYS = 8, NLAST_EXPECT = 10 };

/* The table's columns, sized for the files and classes, with its header
   row printed. */
static int start_table(table *t, FILE *out, int csv, const predict_plan *p, const file_list *files) {
    const cs_model *m = p->m;
    int tiles = p->tiles;
    static const char *const image_cols[] = {"file", "predicted_class", "confidence", "tiles"};
    static const char *const tile_cols[] = {"file", "x", "y", "background", "predicted_class",
                                            "confidence"};
    const char *const *head = tiles ? tile_cols : image_cols;
    int K = m->net.nclasses, nhead = tiles ? 6 : 4, class_col = tiles ? 4 : 1;
    int NLAST = p->expect ? NLAST_EXPECT : NLAST_ALWAYS, ncols = nhead + K + NLAST;
    *t = (table){csv, ncols, 0, calloc((size_t)ncols, sizeof(int)), out};
    if (!t->width) return 0;
    for (int i = 0; i < ncols; i++) t->width[i] = 8; /* "%.6f" */
    for (int i = 0; i < NLAST; i++) t->width[ncols - NLAST + i] = (int)strlen(last_cols[i]);
    int last = ncols - NLAST; /* tta's column */
    t->width[last + 1] = t->width[last + 2] = 12; /* "0.65x0.7" */
    t->width[last + 3] = (int)strlen(p->model_name);
    t->width[last + 4] = CS_MODEL_HASH_DIGITS;
    if (p->expect) t->width[last + 8] = CS_MAX_CLASS_NAME < 24 ? CS_MAX_CLASS_NAME : 24;
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
    for (int c = 0; c < K; c++) {
        char name[CS_MAX_CLASS_NAME + 3];
        snprintf(name, sizeof name, "p_%s", m->classes[c]);
        cell(t, name);
    }
    for (int i = 0; i < NLAST; i++) cell(t, last_cols[i]);
    return 1;
}

/* What made a row, after its pixel size: model, model_hash, crop_bottom;
   then whether the image is of the model's lines (score: the image's or the
   tile's) and, if one is expected, the verdict. */
static void provenance(table *t, const predict_plan *p, const char *file, const cs_result *res, float score) {
    cell(t, p->model_name);
    cell(t, p->m->hash);
    cellf(t, "%d", p->crop >= 0 ? p->crop : p->m->crop_bottom);
    if (isnan(score)) cell(t, "");
    else cellf(t, CS_OOD_SCORE_FORMAT, score);
    cell(t, cs_known_text(res->known));
    if (!p->expect) return;
    const char *expected = p->every ? p->every : cs_expected_line(p->by_file, file);
    cell(t, expected ? expected : "");
    cell(t, expected ? cs_verdict(p->m, res->predicted, res->known, expected) : "");
}

/* An image's row, or with tiles a row per tile. */
static void print_rows(table *t, const predict_plan *pl, const char *file, const cs_result *res) {
    const cs_model *m = pl->m;
    int K = m->net.nclasses;
    const char *tta_used = m->tta ? CS_TTA_DIHEDRAL8 : CS_TTA_NONE;
    if (!pl->tiles) {
        cell(t, file);
        cell(t, m->classes[res->predicted]);
        cellf(t, "%.6f", res->confidence);
        cellf(t, "%d", res->nforeground);
        for (int c = 0; c < K; c++) cellf(t, "%.6f", res->probs[c]);
        cell(t, tta_used);
        cell_xy(t, res->um_x, res->um_y);
        cell_xy(t, res->scale_x, res->scale_y);
        provenance(t, pl, file, res, res->ood_score);
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
        provenance(t, pl, file, res, res->tile_ood ? res->tile_ood[k] : NAN);
    }
}

/* Every page the loader gives, classified, its rows written and flushed as
   each image is done, so that a run stopped at any point loses no image
   finished. Returns 0, or EXIT_INPUT after naming what failed on stderr. */
static int classify_all(table *t, const predict_plan *p, const file_list *files) {
    loader ld = {.files = files->path, .nfiles = files->n, .first_page = p->page,
                 .all_pages = p->all_pages, .paged = p->paged};
    /* Rows on a terminal show how far it got; otherwise say so on stderr. */
    int failed = 0, done = 0, show = files->n > 1 && (t->out != stdout || !isatty(1));
    progress pr;
    loaded it;
    progress_start(&pr);
    loader_start(&ld);
    while (loader_next(&ld, &it)) {
        cs_result res;
        if (it.failed || cs_image_assume_pixel_size(&it.im, p->um, &it.e) ||
            cs_classify(p->m, &it.im, p->crop, &res, NULL, NULL, &it.e)) {
            fflush(t->out);
            failed = input_error(it.name, &it.e);
        } else {
            print_rows(t, p, it.name, &res);
            cs_result_free(&res);
        }
        cs_image_free(&it.im);
        if (!it.last) continue;
        fflush(t->out);
        if (show) progress_count(&pr, "classified images", ++done, files->n);
    }
    loader_stop(&ld);
    return failed;
}

/* The table on stdout, or with --resume on the partial CSV, past its rows;
   the images it has rows of are taken out of files. */
static int open_table(table *t, const char *resume, int csv, const predict_plan *p, file_list *files) {
    if (!resume) return start_table(t, stdout, csv, p, files) ? 0 : EXIT_INPUT;
    char *header = NULL;
    size_t len;
    FILE *f, *mem = open_memstream(&header, &len);
    done_images done;
    int ok = mem && start_table(t, mem, csv, p, files);
    if (mem) fclose(mem);
    t->out = NULL;
    if (!ok) {
        free(header);
        return input_error(resume, &(cs_error){CS_ENOMEM, "out of memory"});
    }
    int rc = resume_open(resume, header, p->paged, &f, &done);
    free(header);
    if (rc) return rc;
    t->out = f;
    int kept = 0;
    for (int k = 0; k < files->n; k++) {
        if (done_has(&done, files->path[k])) free(files->path[k]);
        else files->path[kept++] = files->path[k];
    }
    fprintf(stderr, "%s: %d images done, %d to go\n", resume, files->n - kept, kept);
    files->n = kept;
    done_free(&done);
    return 0;
}

static int cmd_predict(args *a) {
    const char *path = require(a, "model"), *resume = get_str(a, "resume");
    int csv = get_switch(a, "csv", 0), tiles = get_switch(a, "tiles", 0);
    int crop = (int)get_int(a, "crop-bottom", -1, 0, 100000), tta = get_switch(a, "tta", -1);
    int page = (int)get_int(a, "page", 1, 1, CS_MAX_PAGES), all_pages = get_switch(a, "all-pages", 0);
    double um = get_um_per_px(a);
    if (!a->bad && get_str(a, "page") && all_pages) usage_error(a, "--page and --all-pages exclude each other");
    if (!a->bad && resume && !csv) usage_error(a, "--resume completes a CSV: it needs --csv");
    if (!a->bad && get_str(a, "expect") && get_str(a, "expect-csv")) usage_error(a, "--expect and --expect-csv exclude each other");
    file_list files = {0};
    int failed = select_images(a, &files);
    cs_model m;
    if (a->bad || load_model(&m, path)) {
        free_files(&files);
        return a->bad ? EXIT_USAGE : EXIT_INPUT;
    }
    m.no_rescale = !get_switch(a, "rescale", 1);
    const char *slash = strrchr(path, '/');
    const char *every = get_str(a, "expect"), *csv_path = get_str(a, "expect-csv");
    cs_expected_lines by_file = {0};
    cs_error e;
    int rc = csv_path && cs_expected_lines_load(&by_file, csv_path, &e) ? input_error(csv_path, &e) : 0;
    predict_plan plan = {&m, crop, tiles, page - 1, all_pages, um, get_str(a, "page") || all_pages,
                         slash ? slash + 1 : path, every || by_file.n, every, &by_file};
    table t = {0};
    if (!rc) rc = override_tta(&m, tta, path);
    if (!rc) rc = open_table(&t, resume, csv, &plan, &files);
    if (!rc) rc = classify_all(&t, &plan, &files);
    if (t.out && t.out != stdout && fclose(t.out)) rc = input_error(resume, &(cs_error){CS_EIO, "write error"});
    free(t.width);
    free_files(&files);
    cs_expected_lines_free(&by_file);
    cs_model_free(&m);
    return rc ? rc : failed;
}

const command predict_command = {"predict", "--model FILE [--csv] [--tiles] [--no-tta] [--page N|--all-pages] [--list FILE]"
    " [--shard I/N] [--resume PARTIAL.csv] [--um-per-px UM] [--no-rescale] IMAGE|FOLDER...",
    "Classifies whole images: each is tiled, background tiles are set aside, and the\n"
    "image's probabilities are the mean over the others. A readable table, or CSV.\n"
    "A folder stands for its image files and those of its subfolders, sorted by\n"
    "path: files named .jpg .jpeg .jfif .png .tif .tiff .bmp .gif .pgm .ppm .pnm\n"
    ".tga (and .webp .heic .heif .avif, which get an error). Other files are\n"
    "skipped with a note on stderr, hidden ones and links to folders passed over.\n"
    "An image that cannot be read is named on stderr, the others still classified,\n"
    "and the exit code is 1. Images whose pixel size is known (from the file, or\n"
    "--um-per-px) and more than 5% off the model's are resampled to it first.\n"
    "Exit codes: 0 ok, 1 bad input, 2 usage.\n"
    "Rows are written as each image is done; the next image is decoded while\n"
    "this one is classified.",
    {{"options", predict_own_opts}, {"images", selection_opts}, {"pixel size", pixel_opts},
     {"common", common_opts}},
    NULL, cmd_predict};
