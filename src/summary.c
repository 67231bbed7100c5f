/* summary.c: what a screen's predictions add up to, by folder, plate or well:
   counts per predicted class, mean probabilities, unknowns, as CSV, Markdown
   and plate maps in SVG; and the rule that finds a well in a file's name. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* A token A-P then 1-24 (one digit, or two: "B3", "B03", "P24"), as "B03". */
static int well_token(const char *t, size_t len, char well[4]) {
    if (len < 2 || len > 3 || t[0] < 'A' || t[0] > 'P') return 0;
    int col = 0;
    for (size_t i = 1; i < len; i++) {
        if (!isdigit((unsigned char)t[i])) return 0;
        col = col * 10 + (t[i] - '0');
    }
    if (col < 1 || col > 24) return 0;
    snprintf(well, 4, "%c%02d", t[0], col);
    return 1;
}

int cs_well_of(const char *file, char well[4], char *plate, size_t plate_size) {
    const char *slash = strrchr(file, '/'), *base = slash ? slash + 1 : file;
    const char *prefix_end = NULL;
    well[0] = 0;
    for (const char *t = base; *t;) {
        size_t len = 0;
        while (isalnum((unsigned char)t[len])) len++;
        char w[4];
        if (len && well_token(t, len, w)) {
            memcpy(well, w, 4);
            prefix_end = t;
        }
        t += len ? len : 1;
    }
    while (prefix_end && prefix_end > base && !isalnum((unsigned char)prefix_end[-1])) prefix_end--;
    int folder = slash ? (int)(slash - file) : 1, stem = prefix_end ? (int)(prefix_end - base) : 0;
    const char *dir = slash ? file : ".";
    if (stem) snprintf(plate, plate_size, "%.*s/%.*s", folder, dir, stem, base);
    else snprintf(plate, plate_size, "%.*s", folder, dir);
    return well[0] != 0;
}

cs_status cs_summary_init(cs_summary *s, cs_group_by by, const char *const *classes, int K,
                          int has_known, cs_error *err) {
    memset(s, 0, sizeof *s);
    s->by = by, s->nclasses = K, s->has_known = has_known;
    if (!(s->classes = calloc((size_t)K, sizeof *s->classes))) return cs_fail(err, CS_ENOMEM, "out of memory");
    for (int c = 0; c < K; c++)
        if (!(s->classes[c] = strdup(classes[c]))) {
            cs_summary_free(s);
            return cs_fail(err, CS_ENOMEM, "out of memory");
        }
    return CS_OK;
}

/* The group named key, added if new. */
static cs_group *group_of(cs_summary *s, const char *key, const char *plate, const char *well) {
    for (int i = s->ngroups - 1; i >= 0; i--) /* rows come group by group, mostly */
        if (strcmp(s->groups[i].key, key) == 0) return &s->groups[i];
    if (s->ngroups == s->cap) {
        int cap = s->cap ? 2 * s->cap : 16;
        cs_group *grown = realloc(s->groups, (size_t)cap * sizeof *grown);
        if (!grown) return NULL;
        s->groups = grown;
        s->cap = cap;
    }
    cs_group *g = &s->groups[s->ngroups];
    memset(g, 0, sizeof *g);
    snprintf(g->well, sizeof g->well, "%s", well);
    g->key = strdup(key);
    g->plate = strdup(plate);
    g->count = calloc((size_t)s->nclasses, sizeof *g->count);
    g->sum_p = calloc((size_t)s->nclasses, sizeof *g->sum_p);
    s->ngroups++; /* counted before the check, so that cs_summary_free frees it */
    return g->key && g->plate && g->count && g->sum_p ? g : NULL;
}

cs_status cs_summary_add(cs_summary *s, const char *file, int predicted, const float *probs, int known,
                         cs_error *err) {
    if (predicted < 0 || predicted >= s->nclasses)
        return cs_fail(err, CS_EINPUT, "%s: predicted class out of range", file);
    char well[4], plate[4096], key[4200];
    cs_well_of(file, well, plate, sizeof plate);
    if (s->by == CS_BY_FOLDER) {
        const char *slash = strrchr(file, '/');
        snprintf(key, sizeof key, "%.*s", slash ? (int)(slash - file) : 1, slash ? file : ".");
    } else {
        snprintf(key, sizeof key, "%s%s%s", plate, s->by == CS_BY_WELL ? "\t" : "", s->by == CS_BY_WELL ? well : "");
    }
    cs_group *g = group_of(s, key, plate, s->by == CS_BY_WELL ? well : "");
    if (!g) return cs_fail(err, CS_ENOMEM, "out of memory");
    g->images++;
    g->count[predicted]++;
    g->unknown += s->has_known && !known;
    for (int c = 0; c < s->nclasses; c++) g->sum_p[c] += probs[c];
    return CS_OK;
}

static int compare_groups(const void *a, const void *b) {
    return strcmp(((const cs_group *)a)->key, ((const cs_group *)b)->key);
}

void cs_summary_sort(cs_summary *s) {
    if (s->ngroups) qsort(s->groups, (size_t)s->ngroups, sizeof *s->groups, compare_groups);
}

int cs_group_majority(const cs_summary *s, const cs_group *g) {
    int best = 0;
    for (int c = 1; c < s->nclasses; c++)
        if (g->count[c] > g->count[best] || (g->count[c] == g->count[best] && g->sum_p[c] > g->sum_p[best]))
            best = c;
    return best;
}

/* Markdown: a | would end the cell. */
static void md_cell(FILE *f, const char *s) {
    if (!*s) fputc('-', f);
    for (; *s; s++) *s == '|' ? fputs("\\|", f) : fputc(*s, f);
}

/* The group's own columns' names and values. */
static int group_cells(const cs_summary *s, const cs_group *g, const char *cells[2]) {
    static const char *const names[][2] = {{"folder"}, {"plate", "well"}, {"plate"}};
    if (!g) {
        cells[0] = names[s->by][0], cells[1] = names[s->by][1];
    } else {
        cells[0] = s->by == CS_BY_FOLDER ? g->key : g->plate;
        cells[1] = g->well;
    }
    return s->by == CS_BY_WELL ? 2 : 1;
}

/* A table, CSV (sep ",") or Markdown (sep " | ", each row between "| " and " |"). */
static void write_table(FILE *f, const cs_summary *s, int md) {
    const char *sep = md ? " | " : ",", *open = md ? "| " : "", *close = md ? " |\n" : "\n";
    const char *cells[2];
    int K = s->nclasses, ncells = group_cells(s, NULL, cells);
    fputs(open, f);
    for (int i = 0; i < ncells; i++) fprintf(f, "%s%s", cells[i], sep);
    fprintf(f, "images%smajority_class", sep);
    for (int c = 0; c < K; c++) fprintf(f, "%sn_%s", sep, s->classes[c]);
    for (int c = 0; c < K; c++) fprintf(f, "%smean_p_%s", sep, s->classes[c]);
    fprintf(f, "%s%s", s->has_known ? sep : "", s->has_known ? "unknown" : "");
    fputs(close, f);
    if (md) {
        fputs("|", f);
        for (int i = 0; i < ncells + 2 + 2 * K + s->has_known; i++) fputs(i < ncells || i == ncells + 1 ? "---|" : "---:|", f);
        fputs("\n", f);
    }
    for (int i = 0; i < s->ngroups; i++) {
        const cs_group *g = &s->groups[i];
        group_cells(s, g, cells);
        fputs(open, f);
        for (int k = 0; k < ncells; k++) {
            md ? md_cell(f, cells[k]) : cs_csv_field(f, cells[k]);
            fputs(sep, f);
        }
        fprintf(f, "%d%s", g->images, sep);
        md ? md_cell(f, s->classes[cs_group_majority(s, g)]) : cs_csv_field(f, s->classes[cs_group_majority(s, g)]);
        for (int c = 0; c < K; c++) fprintf(f, "%s%d", sep, g->count[c]);
        for (int c = 0; c < K; c++) fprintf(f, "%s%.6f", sep, g->sum_p[c] / g->images);
        if (s->has_known) fprintf(f, "%s%d", sep, g->unknown);
        fputs(close, f);
    }
}

void cs_summary_csv(FILE *f, const cs_summary *s) { write_table(f, s, 0); }
void cs_summary_markdown(FILE *f, const cs_summary *s) { write_table(f, s, 1); }

/* ---------------------------------------------------------------- plate maps */

/* Class c's colour (Tableau 10, then hues by the golden angle) and whether
   black text reads on it (else white). */
static void class_colour(int c, char *buf, size_t size, int *dark_text) {
    static const char *const tableau[] = {"#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f",
                                          "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac"};
    static const int dark[] = {0, 1, 1, 1, 0, 1, 0, 1, 0, 1};
    if (c < 10) {
        snprintf(buf, size, "%s", tableau[c]);
        *dark_text = dark[c];
    } else {
        snprintf(buf, size, "hsl(%d,55%%,65%%)", (int)(c * 137.508) % 360);
        *dark_text = 1;
    }
}

enum { MAP_LEFT = 34, MAP_TITLE = 22, MAP_HEAD = 16, MAP_GAP = 18 };

/* One plate's wells, groups [from, to), drawn at y. */
static void draw_plate(FILE *f, const cs_summary *s, int from, int to, int y, int rows, int cols, int cell) {
    fprintf(f, "<text x=\"4\" y=\"%d\" font-weight=\"bold\">", y + 15);
    cs_xml_str(f, s->groups[from].plate);
    fputs("</text>\n", f);
    y += MAP_TITLE;
    for (int c = 0; c < cols; c++)
        fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" font-size=\"10\">%d</text>\n",
                MAP_LEFT + c * cell + cell / 2, y + 11, c + 1);
    y += MAP_HEAD;
    for (int r = 0; r < rows; r++) {
        fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" font-size=\"10\">%c</text>\n",
                MAP_LEFT / 2, y + r * cell + cell / 2 + 4, 'A' + r);
        for (int c = 0; c < cols; c++)
            fprintf(f, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"#f4f4f4\" stroke=\"#ccc\"/>\n",
                    MAP_LEFT + c * cell + 1, y + r * cell + 1, cell - 2, cell - 2);
    }
    for (int i = from; i < to; i++) {
        const cs_group *g = &s->groups[i];
        if (!g->well[0]) continue;
        int r = g->well[0] - 'A', c = atoi(g->well + 1) - 1, major = cs_group_majority(s, g), dark;
        int x = MAP_LEFT + c * cell, wy = y + r * cell;
        char colour[32];
        class_colour(major, colour, sizeof colour, &dark);
        fprintf(f, "<g><title>%s: ", g->well);
        cs_xml_str(f, s->classes[major]);
        fprintf(f, ", %d of %d images", g->count[major], g->images);
        if (s->has_known) fprintf(f, ", %d unknown", g->unknown);
        fprintf(f, "</title><rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"%s\" stroke=\"#333\"/>"
                   "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" font-size=\"%d\" fill=\"%s\">%d</text></g>\n",
                x + 1, wy + 1, cell - 2, cell - 2, colour, x + cell / 2, wy + cell / 2 + 4, cell > 30 ? 12 : 9,
                dark ? "black" : "white", major + 1);
    }
}

cs_status cs_summary_plate_map(FILE *f, const cs_summary *s, cs_error *err) {
    if (s->by != CS_BY_WELL) return cs_fail(err, CS_EINPUT, "a plate map needs a summary by well");
    int wells = 0, big = 0, nplates = 0;
    for (int i = 0; i < s->ngroups; i++) {
        const cs_group *g = &s->groups[i];
        if (!g->well[0]) continue;
        wells++;
        big |= g->well[0] > 'H' || atoi(g->well + 1) > 12;
        nplates += i == 0 || strcmp(g->plate, s->groups[i - 1].plate) != 0 || !s->groups[i - 1].well[0];
    }
    int rows = big ? 16 : 8, cols = big ? 24 : 12, cell = big ? 24 : 36;
    int plate_h = MAP_TITLE + MAP_HEAD + rows * cell + MAP_GAP, legend_h = 20 * (s->nclasses + 1) + 10;
    int W = MAP_LEFT + cols * cell + 10, H = wells ? nplates * plate_h + legend_h : 40;
    if (W < 320) W = 320;
    cs_svg_begin(f, W, H);
    if (!wells) {
        fputs("<text x=\"8\" y=\"24\">No well IDs (A01-P24, _B3_) in the file names: no plate map.</text>\n</svg>\n", f);
        return CS_OK;
    }
    int y = 0;
    for (int from = 0; from < s->ngroups;) {
        int to = from + 1;
        while (to < s->ngroups && strcmp(s->groups[to].plate, s->groups[from].plate) == 0) to++;
        int any = 0;
        for (int i = from; i < to; i++) any |= s->groups[i].well[0] != 0;
        if (any) {
            draw_plate(f, s, from, to, y, rows, cols, cell);
            y += plate_h;
        }
        from = to;
    }
    fprintf(f, "<text x=\"4\" y=\"%d\">Wells: the class most of their images are predicted (number, colour):</text>\n", y + 14);
    for (int c = 0; c < s->nclasses; c++) {
        char colour[32];
        int dark;
        class_colour(c, colour, sizeof colour, &dark);
        fprintf(f, "<rect x=\"8\" y=\"%d\" width=\"16\" height=\"16\" fill=\"%s\" stroke=\"#333\"/>"
                   "<text x=\"32\" y=\"%d\">%d ", y + 22 + 20 * c, colour, y + 35 + 20 * c, c + 1);
        cs_xml_str(f, s->classes[c]);
        fputs("</text>\n", f);
    }
    fputs("</svg>\n", f);
    return CS_OK;
}

void cs_summary_free(cs_summary *s) {
    for (int i = 0; i < s->ngroups; i++) {
        free(s->groups[i].key);
        free(s->groups[i].plate);
        free(s->groups[i].count);
        free(s->groups[i].sum_p);
    }
    free(s->groups);
    cs_free_names(s->classes, s->nclasses);
    memset(s, 0, sizeof *s);
}
