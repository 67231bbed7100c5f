/* output.c: what the commands print besides their results' contents: errors,
   progress lines on stderr, tables on stdout (CSV or padded columns). */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

/* Says what went wrong with `what` (a file, a folder, a step) on stderr. */
int input_error(const char *what, const cs_error *e) {
    if (strstr(e->msg, what)) fprintf(stderr, "cellsight: %s\n", e->msg); /* it names it already */
    else fprintf(stderr, "cellsight: %s: %s\n", what, e->msg);
    return EXIT_INPUT;
}

static double clock_seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

const char *duration(char *buf, size_t size, double s) {
    if (!isfinite(s)) snprintf(buf, size, "?");
    else if (s < 60) snprintf(buf, size, "%.0fs", s);
    else if (s < 3600) snprintf(buf, size, "%dm%02ds", (int)s / 60, (int)s % 60);
    else snprintf(buf, size, "%dh%02dm", (int)s / 3600, (int)s / 60 % 60);
    return buf;
}

void progress_start(progress *p) {
    p->start = p->last = clock_seconds();
    p->tty = isatty(2);
}

/* Returns 1 if it is time for another progress line (always for the last one). */
int progress_due(progress *p, int last) {
    double t = clock_seconds();
    if (!last && t - p->last < (p->tty ? 0.2 : 30)) return 0;
    p->last = t;
    return 1;
}

/* On a terminal a line that is not kept is overwritten by the next one. */
void progress_line(const progress *p, int keep, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    if (p->tty) fputc('\r', stderr);
    vfprintf(stderr, fmt, ap);
    if (p->tty) fputs("\033[K", stderr);
    if (keep || !p->tty) fputc('\n', stderr);
    va_end(ap);
}

void progress_count(progress *p, const char *what, int done, int total) {
    if (!progress_due(p, done == total)) return;
    char el[32], left[32];
    double spent = clock_seconds() - p->start;
    progress_line(p, done == total, "%s %d/%d, %s, about %s left", what, done, total,
                  duration(el, sizeof el, spent),
                  duration(left, sizeof left, done ? spent * (total - done) / done : NAN));
}

/* The non-empty items of a list separated by sep, as strings in one
   allocation (free the array only). */
char **split_list(const char *s, char sep, int *n) {
    size_t len = strlen(s);
    int most = 1;
    for (const char *c = s; *c; c++) most += *c == sep;
    char **v = malloc((size_t)(most + 1) * sizeof *v + len + 1);
    if (!v) return NULL;
    char *tok = memcpy((char *)(v + most + 1), s, len + 1);
    *n = 0;
    for (;;) {
        char *end = strchr(tok, sep);
        if (end) *end = 0;
        if (*tok) v[(*n)++] = tok;
        if (!end) break;
        tok = end + 1;
    }
    v[*n] = NULL;
    return v;
}

static void put_cell(table *t, const char *s, int text) {
    FILE *out = t->out ? t->out : stdout;
    if (t->col) fputs(t->csv ? "," : "  ", out);
    if (t->csv && text) {
        cs_csv_field(out, s);
    } else if (!t->csv && t->col + 1 < t->ncols) {
        fprintf(out, "%-*s", t->width[t->col], s);
    } else {
        fputs(s, out);
    }
    if (++t->col == t->ncols) {
        putc('\n', out);
        t->col = 0;
    }
}

void cell(table *t, const char *s) { put_cell(t, s, 1); }

void cellf(table *t, const char *fmt, ...) {
    char buf[64];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    put_cell(t, buf, 0);
}

void cell_xy(table *t, float x, float y) {
    char text[48];
    cs_format_xy(text, sizeof text, x, y);
    put_cell(t, text[0] || t->csv ? text : "-", 0);
}

int load_model(cs_model *m, const char *path) {
    cs_error e;
    return cs_model_load(m, path, &e) ? input_error(path, &e) : 0;
}

/* --tta / --no-tta over the model's own tta (tta < 0: not given). */
int override_tta(cs_model *m, int tta, const char *path) {
    cs_error e;
    if (tta < 0 || !cs_model_set(m, CS_META_TTA, tta ? CS_TTA_DIHEDRAL8 : CS_TTA_NONE, &e)) return 0;
    return input_error(path, &e);
}
