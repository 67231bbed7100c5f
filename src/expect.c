/* expect.c: the expected-lines CSV (predict --expect-csv, the page's "Expected
   lines CSV"), columns file and expected, read from its bytes; and the one
   rule by which the CLI and the page find an image's row in it.

   Spreadsheets write CSVs in many small ways, so the reader takes what any of
   them writes: a UTF-8 byte-order mark, \r\n or \r line ends, RFC 4180 quotes
   (commas, doubled quotes and line breaks inside), a last row without its line
   break, blank rows; and a ' before a formula-like text, which cs_csv_field
   writes and cs_csv_text drops. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* A cursor over the text; field holds the field read last, unquoted (it is
   never longer than the text). */
typedef struct {
    const char *at, *end;
    char *field;
} reader;

enum { FIELD_MORE, FIELD_LAST, FIELD_TORN }; /* a comma follows; the record ends; inside quotes at the end */

static int read_field(reader *rd) {
    size_t n = 0;
    int quoted = 0, ending = FIELD_LAST;
    while (rd->at < rd->end) {
        char c = *rd->at++;
        if (quoted) {
            if (c != '"') rd->field[n++] = c;
            else if (rd->at < rd->end && *rd->at == '"') rd->field[n++] = *rd->at++;
            else quoted = 0;
        } else if (c == '"') {
            quoted = 1;
        } else if (c == ',') {
            ending = FIELD_MORE;
            break;
        } else if (c == '\n' || c == '\r') {
            if (c == '\r' && rd->at < rd->end && *rd->at == '\n') rd->at++;
            break;
        } else {
            rd->field[n++] = c;
        }
    }
    rd->field[n] = 0;
    return quoted ? FIELD_TORN : ending;
}

/* The header's columns file and expected (-1: none). */
static int read_header(reader *rd, int *fc, int *ec) {
    int got, k = 0;
    *fc = *ec = -1;
    do {
        got = read_field(rd);
        const char *name = cs_csv_text(rd->field);
        if (*fc < 0 && !strcmp(name, "file")) *fc = k;
        if (*ec < 0 && !strcmp(name, "expected")) *ec = k;
        k++;
    } while (got == FIELD_MORE);
    return got;
}

/* Room for one more row: the rows' array is always as long as the next power
   of two, so that it grows only when n is one. */
static int grow(cs_expected_lines *ex) {
    if (ex->n & (ex->n - 1)) return 1;
    cs_expected_row *grown = realloc(ex->rows, sizeof *grown * (ex->n ? 2 * (size_t)ex->n : 1));
    if (!grown) return 0;
    ex->rows = grown;
    return 1;
}

/* The CSV's next record, row number `row`, kept if it names a file and a
   line; a blank one is passed over. */
static cs_status add_row(cs_expected_lines *ex, reader *rd, int fc, int ec, int row, cs_error *err) {
    char *file = NULL, *line = NULL;
    int got, n = 0, nomem = 0;
    do {
        got = read_field(rd);
        char **keep = n == fc ? &file : n == ec ? &line : NULL;
        if (keep && !(*keep = strdup(cs_csv_text(rd->field)))) nomem = 1;
        n++;
    } while (got == FIELD_MORE);
    cs_status s = CS_OK;
    if (got == FIELD_TORN) s = cs_fail(err, CS_EINPUT, "row %d opens a quote that is never closed", row);
    else if (n == 1 && !rd->field[0]) s = CS_OK; /* a blank row */
    else if (nomem) s = cs_fail(err, CS_ENOMEM, "out of memory for the expected lines");
    else if (n <= fc || n <= ec) s = cs_fail(err, CS_EINPUT, "row %d is not a whole row of file and expected", row);
    else if (*file && *line && !grow(ex)) s = cs_fail(err, CS_ENOMEM, "out of memory for the expected lines");
    else if (*file && *line) {
        ex->rows[ex->n++] = (cs_expected_row){file, line, row};
        return CS_OK;
    }
    free(file);
    free(line);
    return s;
}

static int by_file_then_row(const void *a, const void *b) {
    const cs_expected_row *x = a, *y = b;
    int c = strcmp(x->file, y->file);
    return c ? c : (x->row > y->row) - (x->row < y->row);
}

/* Sorted by file, the last row of each file kept. */
static void sort_rows(cs_expected_lines *ex) {
    if (!ex->n) return;
    qsort(ex->rows, (size_t)ex->n, sizeof *ex->rows, by_file_then_row);
    int kept = 0;
    for (int i = 0; i < ex->n; i++) {
        if (i + 1 < ex->n && !strcmp(ex->rows[i].file, ex->rows[i + 1].file)) {
            free(ex->rows[i].file);
            free(ex->rows[i].line);
        } else {
            ex->rows[kept++] = ex->rows[i];
        }
    }
    ex->n = kept;
}

cs_status cs_expected_lines_read(cs_expected_lines *ex, const void *data, size_t size, cs_error *err) {
    *ex = (cs_expected_lines){0};
    char mib[32];
    if (size > CS_MAX_EXPECT_BYTES)
        return cs_fail(err, CS_ELIMIT, "it is over the limit of %s", cs_mib(mib, sizeof mib, CS_MAX_EXPECT_BYTES));
    const char *text = data;
    if (size >= 3 && !memcmp(text, "\xEF\xBB\xBF", 3)) text += 3, size -= 3; /* a spreadsheet's byte-order mark */
    if (!size) return cs_fail(err, CS_EINPUT, "it is empty");
    reader rd = {text, text + size, malloc(size + 1)};
    if (!rd.field) return cs_fail(err, CS_ENOMEM, "out of memory for the expected lines");
    int fc, ec;
    cs_status s = CS_OK;
    if (read_header(&rd, &fc, &ec) == FIELD_TORN) s = cs_fail(err, CS_EINPUT, "row 1 opens a quote that is never closed");
    else if (fc < 0 || ec < 0) s = cs_fail(err, CS_EINPUT, "it needs the columns file and expected");
    for (int row = 2; !s && rd.at < rd.end; row++) s = add_row(ex, &rd, fc, ec, row, err);
    free(rd.field);
    if (s) cs_expected_lines_free(ex);
    else sort_rows(ex);
    return s;
}

cs_status cs_expected_lines_load(cs_expected_lines *ex, const char *path, cs_error *err) {
    *ex = (cs_expected_lines){0};
    FILE *f = fopen(path, "rb");
    if (!f) return cs_fail(err, CS_EIO, "%s: %s", path, strerror(errno));
    /* Read to its end, not by its size: a pipe (--expect-csv <(...)) has none.
       One byte past the limit is enough to refuse it. */
    char *text = NULL;
    size_t size = 0, cap = 0;
    cs_status s = CS_OK;
    while (!s && size <= CS_MAX_EXPECT_BYTES && !feof(f)) {
        if (size == cap) {
            cap = cap ? 2 * cap : 1 << 16;
            char *grown = realloc(text, cap);
            if (!grown) s = cs_fail(err, CS_ENOMEM, "out of memory reading %s", path);
            else text = grown;
        }
        if (!s) size += fread(text + size, 1, cap - size, f);
        if (!s && ferror(f)) s = cs_fail(err, CS_EIO, "%s: cannot read the file", path);
    }
    fclose(f);
    cs_error e;
    if (!s && (s = cs_expected_lines_read(ex, text, size, &e))) cs_fail_in(err, path, &e);
    free(text);
    return s;
}

size_t cs_page_row_file(const char *name) {
    size_t len = strlen(name), k = len;
    while (k && name[k - 1] >= '0' && name[k - 1] <= '9') k--;
    return k < len && k && name[k - 1] == '#' ? k - 1 : len;
}

/* The row of file name[0, len), or NULL. */
static const cs_expected_row *find(const cs_expected_lines *ex, const char *name, size_t len) {
    int lo = 0, hi = ex->n;
    while (lo < hi) {
        int mid = lo + (hi - lo) / 2, c = strncmp(ex->rows[mid].file, name, len);
        if (!c) c = ex->rows[mid].file[len] != 0; /* longer: after name */
        if (!c) return &ex->rows[mid];
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return NULL;
}

/* The row of name[0, len), else of its base name. */
static const cs_expected_row *find_or_base(const cs_expected_lines *ex, const char *name, size_t len) {
    const cs_expected_row *r = find(ex, name, len);
    size_t base = len;
    while (base && name[base - 1] != '/') base--;
    return r || !base ? r : find(ex, name + base, len - base);
}

const char *cs_expected_line(const cs_expected_lines *ex, const char *name) {
    size_t len = strlen(name), file = cs_page_row_file(name);
    const cs_expected_row *r = find_or_base(ex, name, len);
    if (!r && file < len) r = find_or_base(ex, name, file);
    return r ? r->line : NULL;
}

void cs_expected_lines_free(cs_expected_lines *ex) {
    for (int i = 0; i < ex->n; i++) {
        free(ex->rows[i].file);
        free(ex->rows[i].line);
    }
    free(ex->rows);
    *ex = (cs_expected_lines){0};
}
