/* cmd_summarize.c: cellsight summarize, a screen's predictions added up by
   folder, plate or well (src/summary.c): CSV or Markdown, and plate maps. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "cli.h"

static const option summarize_opts[] = {
    {"by", "folder|well|plate", "the groups (default folder): a well and its plate come from\n"
                                "the file's name (A01-P24, or _B3_ as Incucyte names files)"},
    {"markdown", NULL, "a Markdown table on stdout instead of CSV"},
    {"report", "DIR", "also write DIR/summary.csv, DIR/summary.md and DIR/plate-map.svg\n"
                      "(wells coloured by their majority class, numbered, with a legend)"},
    {0}};

/* The columns summarize reads, found by their names in the header. */
typedef struct {
    int file, predicted, known, K;
    int p[CS_MAX_CLASSES];
    const char *classes[CS_MAX_CLASSES];
} columns;

static int find_columns(columns *c, const csv_record *h, const char *path) {
    c->file = csv_column(h, "file"), c->predicted = csv_column(h, "predicted_class");
    c->known = csv_column(h, "known");
    c->K = 0;
    for (int k = 0; k < h->n && c->K < CS_MAX_CLASSES; k++)
        if (strncmp(csv_field(h, k), "p_", 2) == 0) {
            c->p[c->K] = k;
            c->classes[c->K++] = csv_field(h, k) + 2;
        }
    if (c->file >= 0 && c->predicted >= 0 && c->K >= 2 && csv_column(h, "background") < 0) return 0;
    fprintf(stderr, "cellsight: %s: not the CSV of predict --csv (it needs the columns file,\n"
                    "predicted_class and p_<class> for two or more classes, one row an image)\n", path);
    return EXIT_INPUT;
}

/* One row into s and the summary by well (for the plate map). */
static int add_row(cs_summary *s, cs_summary *wells, const columns *c, const csv_record *r, cs_error *e) {
    float p[CS_MAX_CLASSES];
    int predicted = -1;
    for (int k = 0; k < c->K; k++) {
        char *end;
        p[k] = strtof(csv_field(r, c->p[k]), &end);
        if (end == csv_field(r, c->p[k]) || *end) return cs_fail(e, CS_EINPUT, "%s: p_%s is not a number",
                                                                 csv_field(r, c->file), c->classes[k]);
        if (strcmp(csv_field(r, c->predicted), c->classes[k]) == 0) predicted = k;
    }
    const char *known = csv_field(r, c->known);
    int is_known = !(strcmp(known, "0") == 0 || strcasecmp(known, "false") == 0 || strcasecmp(known, "no") == 0);
    if (predicted < 0) return cs_fail(e, CS_EINPUT, "%s: predicted class %s has no p_ column",
                                      csv_field(r, c->file), csv_field(r, c->predicted));
    if (cs_summary_add(s, csv_field(r, c->file), predicted, p, is_known, e)) return CS_EINPUT;
    return wells != s ? cs_summary_add(wells, csv_field(r, c->file), predicted, p, is_known, e) : CS_OK;
}

/* Reads path's rows into s (and wells). Returns 0, or EXIT_INPUT after
   naming what was wrong (bad rows are named and left out). */
static int read_results(FILE *f, const char *path, cs_summary *s, cs_summary *wells, cs_group_by by) {
    csv_record h = {0}, r = {0};
    columns c;
    cs_error e;
    int rc = csv_read(f, &h) == 1 ? find_columns(&c, &h, path)
                                  : input_error(path, &(cs_error){CS_EINPUT, "no header line"});
    if (!rc && (cs_summary_init(s, by, c.classes, c.K, c.known >= 0, &e) ||
                (wells != s && cs_summary_init(wells, CS_BY_WELL, c.classes, c.K, c.known >= 0, &e))))
        rc = input_error(path, &e);
    int got, reading = !rc;
    while (reading && (got = csv_read(f, &r)) != 0) {
        if (got < 0) {
            rc = input_error(path, &(cs_error){CS_EINPUT, "its last row is cut short (left out)"});
            break;
        }
        if (add_row(s, wells, &c, &r, &e)) rc = input_error(path, &e);
    }
    csv_free(&h);
    csv_free(&r);
    return rc;
}

typedef void (*table_writer)(FILE *f, const cs_summary *s);

static int write_report(const char *dir, const cs_summary *s, const cs_summary *wells) {
    static const char *const names[] = {"summary.csv", "summary.md", "plate-map.svg"};
    cs_error e = {0};
    if (mkdir(dir, 0777) && errno != EEXIST)
        return input_error(dir, &(cs_error){CS_EIO, "cannot create the folder"});
    for (int i = 0; i < 3; i++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        FILE *f = fopen(path, "w");
        if (!f) return input_error(path, &(cs_error){CS_EIO, "cannot write it"});
        int bad = i == 2 ? cs_summary_plate_map(f, wells, &e) != CS_OK : 0;
        if (i == 0) cs_summary_csv(f, s);
        if (i == 1) cs_summary_markdown(f, s);
        if (fclose(f) || bad) return input_error(path, e.msg[0] ? &e : &(cs_error){CS_EIO, "write error"});
    }
    return 0;
}

static int cmd_summarize(args *a) {
    const char *by_name = get_choice(a, "by", "folder"), *report = get_str(a, "report");
    if (!a->bad && a->npos != 1) usage_error(a, "it takes one RESULTS.csv (- : stdin)");
    if (a->bad) return EXIT_USAGE;
    cs_group_by by = strcmp(by_name, "well") == 0 ? CS_BY_WELL : strcmp(by_name, "plate") == 0 ? CS_BY_PLATE : CS_BY_FOLDER;
    const char *path = a->pos[0];
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    if (!f) {
        fprintf(stderr, "cellsight: %s: %s\n", path, strerror(errno));
        return EXIT_INPUT;
    }
    cs_summary s = {0}, by_well = {0}, *wells = by == CS_BY_WELL ? &s : &by_well;
    int rc = read_results(f, path, &s, wells, by);
    if (f != stdin) fclose(f);
    if (s.classes) { /* what was read is summed up, bad rows aside */
        cs_summary_sort(&s);
        cs_summary_sort(wells);
        get_switch(a, "markdown", 0) ? cs_summary_markdown(stdout, &s) : cs_summary_csv(stdout, &s);
        if (report) rc |= write_report(report, &s, wells);
    }
    cs_summary_free(&s);
    cs_summary_free(&by_well);
    return rc;
}

const command summarize_command = {"summarize", "RESULTS.csv [--by folder|well|plate] [--markdown] [--report DIR]",
    "Adds up predict --csv's rows by folder, plate or well: the images, the\n"
    "majority class, the images predicted each class and the mean of each class's\n"
    "probability; with a `known` column (0, false or no: of no known class), the\n"
    "unknown images. Columns are found by their names. CSV on stdout.",
    {{"options", summarize_opts}, {0}},
    NULL, cmd_summarize};
