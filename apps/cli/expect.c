/* expect.c: the line each image should be, for predict's verdicts: one for
   every image (--expect LINE), or per image from a CSV (--expect-csv FILE,
   columns file and expected), looked up by the file as predict names it, or
   by its base name. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static int by_file(const void *a, const void *b) {
    return strcmp(((const expectation *)a)->file, ((const expectation *)b)->file);
}

static int add(expectations *ex, const char *file, const char *line) {
    expectation *grown = realloc(ex->list, sizeof *grown * (ex->n + 1));
    if (!grown) return 0;
    ex->list = grown;
    grown[ex->n].file = strdup(file);
    grown[ex->n].line = strdup(line);
    return grown[ex->n].file && grown[ex->n++].line;
}

/* The rows of path's CSV, sorted by file. */
static int read_csv(expectations *ex, const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return input_error(path, &(cs_error){CS_EIO, "cannot open it"});
    csv_record header = {0}, row = {0};
    int rc = csv_read(f, &header) == 1 ? 0 : input_error(path, &(cs_error){CS_EINPUT, "no header row"});
    int fc = rc ? -1 : csv_column(&header, "file"), ec = rc ? -1 : csv_column(&header, "expected");
    if (!rc && (fc < 0 || ec < 0))
        rc = input_error(path, &(cs_error){CS_EINPUT, "it needs the columns file and expected"});
    for (int got, line = 2; !rc && (got = csv_read(f, &row)); line++) {
        if (got < 0 || row.n <= fc || row.n <= ec) {
            cs_error e = {CS_EINPUT, ""};
            snprintf(e.msg, sizeof e.msg, "row %d is not a whole row of file and expected", line);
            rc = input_error(path, &e);
        } else if (*csv_field(&row, fc) && !add(ex, csv_field(&row, fc), csv_field(&row, ec))) {
            rc = input_error(path, &(cs_error){CS_ENOMEM, "out of memory"});
        }
    }
    csv_free(&header);
    csv_free(&row);
    fclose(f);
    if (!rc) qsort(ex->list, ex->n, sizeof *ex->list, by_file);
    return rc;
}

int read_expectations(expectations *ex, const char *every, const char *csv_path) {
    *ex = (expectations){.every = every};
    return csv_path ? read_csv(ex, csv_path) : 0;
}

static const char *find(const expectations *ex, const char *file) {
    expectation key = {(char *)file, NULL};
    const expectation *hit = bsearch(&key, ex->list, ex->n, sizeof *ex->list, by_file);
    return hit ? hit->line : NULL;
}

const char *expected_line(const expectations *ex, const char *file) {
    if (ex->every) return ex->every;
    const char *line = find(ex, file), *slash = strrchr(file, '/');
    return line || !slash ? line : find(ex, slash + 1);
}

void free_expectations(expectations *ex) {
    for (int i = 0; i < ex->n; i++) {
        free(ex->list[i].file);
        free(ex->list[i].line);
    }
    free(ex->list);
    *ex = (expectations){0};
}
