/* csv.c: reading CSV records as cell() writes them by the library's rule
   (RFC 4180: quoted fields may hold commas, doubled quotes and line breaks;
   and a ' before a text a spreadsheet would take for a formula), for predict
   --resume and summarize, which find their columns by the header's names. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static int put_char(csv_record *r, char c) {
    if (r->len + 1 >= r->cap) {
        size_t cap = r->cap ? 2 * r->cap : 256;
        char *grown = realloc(r->text, cap);
        if (!grown) return 0;
        r->text = grown;
        r->cap = cap;
    }
    r->text[r->len++] = c;
    return 1;
}

/* Field k starts at offset start[k] of text; fields end with a 0 byte. */
static int end_field(csv_record *r) {
    if (!put_char(r, 0)) return 0;
    if ((size_t)r->n + 1 >= r->start_cap) {
        size_t cap = r->start_cap ? 2 * r->start_cap : 16;
        size_t *grown = realloc(r->start, cap * sizeof *grown);
        if (!grown) return 0;
        r->start = grown;
        r->start_cap = cap;
    }
    r->start[++r->n] = r->len;
    return 1;
}

/* Reads the next record of f into r. Returns 1 for a whole record (ended by a
   line break), 0 at the end of the file, -1 for a record the file ends inside
   (a half-written row) or when out of memory. \r before \n is dropped. */
int csv_read(FILE *f, csv_record *r) {
    int quoted = 0, c, any = 0;
    r->len = 0;
    r->n = 0;
    if (!r->start && !(r->start = malloc((r->start_cap = 16) * sizeof *r->start))) return -1;
    r->start[0] = 0;
    while ((c = getc(f)) != EOF) {
        any = 1;
        if (quoted) {
            if (c != '"') {
                if (!put_char(r, (char)c)) return -1;
            } else if ((c = getc(f)) == '"') {
                if (!put_char(r, '"')) return -1;
            } else {
                quoted = 0;
                if (c == EOF) break;
                ungetc(c, f);
            }
        } else if (c == '"') {
            quoted = 1;
        } else if (c == ',') {
            if (!end_field(r)) return -1;
        } else if (c == '\n') {
            if (r->len && r->text[r->len - 1] == '\r' && r->len - 1 >= r->start[r->n]) r->len--;
            return end_field(r) ? 1 : -1;
        } else if (!put_char(r, (char)c)) {
            return -1;
        }
    }
    return any ? -1 : 0;
}

/* Field k's text, as the library's rule wrote it (cs_csv_text: its ' dropped). */
const char *csv_field(const csv_record *r, int k) {
    return k >= 0 && k < r->n ? cs_csv_text(r->text + r->start[k]) : "";
}

/* The index of the header's column `name`, or -1. */
int csv_column(const csv_record *header, const char *name) {
    for (int k = 0; k < header->n; k++)
        if (strcmp(csv_field(header, k), name) == 0) return k;
    return -1;
}

void csv_free(csv_record *r) {
    free(r->text);
    free(r->start);
    memset(r, 0, sizeof *r);
}
