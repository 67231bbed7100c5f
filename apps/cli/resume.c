/* resume.c: predict --resume PARTIAL.csv: the CSV of a run that may have been
   killed at any point is completed in place. Its rows are kept but those of its
   last image, which may have been cut short (a half row, or some of an image's
   tile rows), and the images it names are not classified again. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static int compare_names(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The image a row's file column names: with pages, file#N is file. */
static void row_image(char *name, int paged) {
    if (paged) name[cs_page_row_file(name)] = 0;
}

static int add_name(done_images *d, const char *name) {
    if (d->n == d->cap) {
        int cap = d->cap ? 2 * d->cap : 64;
        char **grown = realloc(d->name, (size_t)cap * sizeof *grown);
        if (!grown) return 0;
        d->name = grown;
        d->cap = cap;
    }
    return (d->name[d->n] = strdup(name)) ? (d->n++, 1) : 0;
}

/* The images of f's rows after its header, but the last's; *cut gets the
   offset where the last image's rows begin (the end of the header if none). */
static int read_rows(FILE *f, int file_col, int paged, done_images *d, long *cut) {
    csv_record r = {0};
    char *last = NULL;
    long start = *cut;
    int got, ok = 1;
    while (ok && (got = csv_read(f, &r)) == 1) {
        char *name = strdup(csv_field(&r, file_col));
        if (!name) {
            ok = 0;
            break;
        }
        row_image(name, paged);
        if (!last || strcmp(name, last) != 0) {
            ok = !last || add_name(d, last);
            free(last);
            last = name;
            *cut = start;
        } else {
            free(name);
        }
        start = ftell(f);
    }
    free(last);
    csv_free(&r);
    if (!ok || (got < 0 && !feof(f))) return 0;
    if (d->n) qsort(d->name, (size_t)d->n, sizeof *d->name, compare_names);
    return 1;
}

/* Opens path to complete it (a new file if there is none): header is the
   first line this run writes. Returns 0 with *out at the end of what is kept
   and *d the images to pass over, or EXIT_INPUT after saying why on stderr. */
int resume_open(const char *path, const char *header, int paged, FILE **out, done_images *d) {
    FILE *f = fopen(path, "r+");
    if (!f && errno == ENOENT) f = fopen(path, "w+");
    if (!f) return input_error(path, &(cs_error){CS_EIO, "cannot open it to resume"});
    size_t len = strlen(header), got;
    char *head = malloc(len + 1);
    long cut = 0;
    int rc = 0;
    memset(d, 0, sizeof *d);
    if (!head) rc = input_error(path, &(cs_error){CS_ENOMEM, "out of memory"});
    else if ((got = fread(head, 1, len, f)) == len && memcmp(head, header, len) == 0) {
        csv_record h = {0};
        rewind(f);
        int file_col = csv_read(f, &h) == 1 ? csv_column(&h, "file") : -1;
        cut = (long)len;
        if (file_col < 0 || !read_rows(f, file_col, paged, d, &cut))
            rc = input_error(path, &(cs_error){CS_EIO, "cannot read its rows"});
        csv_free(&h);
    } else if (memcmp(head, header, got) != 0) { /* not a header cut short either */
        fprintf(stderr, "cellsight: %s: its columns are not this run's (another model, or --tiles?):"
                        " not resumed\n", path);
        rc = EXIT_INPUT;
    }
    free(head);
    if (!rc && (fflush(f) || ftruncate(fileno(f), cut) || fseek(f, cut, SEEK_SET))) {
        fprintf(stderr, "cellsight: %s: %s\n", path, strerror(errno));
        rc = EXIT_INPUT;
    }
    if (!rc && cut == 0) fputs(header, f);
    if (rc) {
        fclose(f);
        done_free(d);
    }
    *out = rc ? NULL : f;
    return rc;
}

int done_has(const done_images *d, const char *file) {
    return d->n && bsearch(&file, d->name, (size_t)d->n, sizeof *d->name, compare_names);
}

void done_free(done_images *d) {
    for (int i = 0; i < d->n; i++) free(d->name[i]);
    free(d->name);
    memset(d, 0, sizeof *d);
}
