/* files.c: the images and data folders the commands read: predict's files and
   folders walked as the page walks a dropped folder, and the class folders of
   train, finetune and eval, with what was skipped said on stderr. */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"

static int add_file(file_list *l, const char *path) {
    if (l->n == l->cap) {
        int cap = l->cap ? 2 * l->cap : 16;
        char **grown = realloc(l->path, (size_t)cap * sizeof *grown);
        if (!grown) return 0;
        l->path = grown;
        l->cap = cap;
    }
    if (!(l->path[l->n] = strdup(path))) return 0;
    l->n++;
    return 1;
}

void free_files(file_list *l) {
    for (int i = 0; i < l->n; i++) free(l->path[i]);
    free(l->path);
    memset(l, 0, sizeof *l);
}

static int compare_paths(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Adds the image files of dir and of its subfolders, as the page walks a
   dropped folder: hidden entries are passed over, links to folders are not
   followed (no loops), and files that are not images by their name
   (cs_image_name) are named on stderr as skipped.
   Returns 0, or EXIT_INPUT if a folder could not be read (said on stderr). */
static int add_folder(file_list *l, const char *dir) {
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "cellsight: %s: %s\n", dir, strerror(errno));
        return EXIT_INPUT;
    }
    int rc = 0;
    size_t len = strlen(dir);
    const char *sep = len && dir[len - 1] == '/' ? "" : "/";
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        size_t size = len + strlen(e->d_name) + 2;
        char *path = malloc(size);
        if (!path) {
            rc = input_error(dir, &(cs_error){CS_ENOMEM, "out of memory"});
            break;
        }
        snprintf(path, size, "%s%s%s", dir, sep, e->d_name);
        struct stat st, link;
        if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
            if (lstat(path, &link) == 0 && S_ISLNK(link.st_mode))
                fprintf(stderr, "cellsight: skipped %s: a link to a folder (not followed)\n", path);
            else
                rc |= add_folder(l, path);
        } else if (!cs_image_name(e->d_name)) {
            fprintf(stderr, "cellsight: skipped %s: not an image file (by its name)\n", path);
        } else if (!add_file(l, path)) {
            rc = input_error(path, &(cs_error){CS_ENOMEM, "out of memory"});
            free(path);
            break;
        }
        free(path);
    }
    closedir(d);
    return rc;
}

/* The images named by predict's arguments, in their order; a folder gives its
   image files (see add_folder), sorted by path. A file named as such is tried
   whatever its name. Returns 0, or EXIT_INPUT if something was not read. */
int list_images(file_list *l, char *const *args, int n) {
    int rc = 0;
    for (int i = 0; i < n; i++) {
        struct stat st;
        if (stat(args[i], &st) != 0 || !S_ISDIR(st.st_mode)) {
            if (!add_file(l, args[i])) return input_error(args[i], &(cs_error){CS_ENOMEM, "out of memory"});
            continue;
        }
        int first = l->n;
        rc |= add_folder(l, args[i]);
        if (l->n > first)
            qsort(l->path + first, (size_t)(l->n - first), sizeof *l->path, compare_paths);
        else {
            fprintf(stderr, "cellsight: %s has no image files\n", args[i]);
            rc = EXIT_INPUT;
        }
    }
    return rc;
}

/* The share of the images that --shard I/N takes: FNV-1a (64 bits) of the
   path as the CSV's file column names it, modulo N; 0-based. It depends on
   the path alone, so the shards are disjoint and together complete whatever
   the order or number of the other images, and an image added to a folder
   changes one shard only. */
int image_shard(const char *path, int n) {
    uint64_t h = 14695981039346656037ull;
    for (const unsigned char *c = (const unsigned char *)path; *c; c++) h = (h ^ *c) * 1099511628211ull;
    return (int)(h % (uint64_t)n);
}

/* --list FILE: its lines are arguments as the command line's are (files or
   folders); "-" reads stdin. Empty lines are passed over, a \r before the
   line break dropped. */
static int add_list(file_list *l, const char *list) {
    FILE *f = strcmp(list, "-") == 0 ? stdin : fopen(list, "r");
    if (!f) {
        fprintf(stderr, "cellsight: %s: %s\n", list, strerror(errno));
        return EXIT_INPUT;
    }
    int rc = 0;
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    while ((len = getline(&line, &cap, f)) > 0) {
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = 0;
        if (len) rc |= list_images(l, &line, 1);
    }
    if (ferror(f)) rc = input_error(list, &(cs_error){CS_EIO, "read error"});
    free(line);
    if (f != stdin) fclose(f);
    return rc;
}

/* --shard I/N (1 <= I <= N): *i gets I - 1; *n 1 when not given. */
static void parse_shard(args *a, int *i, int *n) {
    const char *s = get_str(a, "shard");
    char end;
    *i = 0, *n = 1;
    if (s && (sscanf(s, "%d/%d%c", i, n, &end) != 2 || *n < 1 || *n > 1000000 || *i < 1 || *i > *n))
        usage_error(a, "--shard wants I/N, 1 <= I <= N <= 1000000, not \"%s\"", s);
    else if (s)
        --*i;
}

const option selection_opts[] = {
    {"list", "FILE", "more images or folders, one a line (- : stdin), after the\n"
                     "arguments'"},
    {"shard", "I/N", "only shard I of N (1 <= I <= N): the images whose path's\n"
                     "FNV-1a hash is I - 1 modulo N; shards are disjoint and complete"},
    {0}};

/* The images a command works on: its arguments', then --list's, in order,
   folders expanded (list_images), then --shard's share of them. Returns 0,
   EXIT_INPUT if something was not read, or EXIT_USAGE. */
int select_images(args *a, file_list *l) {
    int shard, nshards, rc;
    const char *list = get_str(a, "list");
    parse_shard(a, &shard, &nshards);
    if (!a->bad && a->npos == 0 && !list) usage_error(a, "no images (arguments or --list)");
    if (a->bad) return EXIT_USAGE;
    rc = list_images(l, a->pos, a->npos);
    if (list) rc |= add_list(l, list);
    int kept = 0;
    for (int k = 0; k < l->n; k++) {
        if (image_shard(l->path[k], nshards) == shard) l->path[kept++] = l->path[k];
        else free(l->path[k]);
    }
    l->n = kept;
    return rc;
}

/* --classes A,B,...: two or more distinct names. */
char **parse_classes(args *a, const char *s, int *n) {
    char **v = split_list(s, ',', n);
    int commas = 0;
    for (const char *c = s; *c; c++) commas += *c == ',';
    if (!v) usage_error(a, "out of memory");
    else if (*n != commas + 1) usage_error(a, "--classes has an empty name: \"%s\"", s);
    else if (*n < 2 || *n > CS_MAX_CLASSES)
        usage_error(a, "--classes needs 2 to %d names, not %d", CS_MAX_CLASSES, *n);
    for (int i = 0; v && !a->bad && i < *n; i++) {
        if (strlen(v[i]) > CS_MAX_CLASS_NAME)
            usage_error(a, "class name longer than %d bytes: %s", CS_MAX_CLASS_NAME, v[i]);
        for (int j = 0; j < i; j++)
            if (strcmp(v[i], v[j]) == 0) usage_error(a, "--classes names %s twice", v[i]);
    }
    return v;
}

/* The folders of dir in name order (free the array only). */
char **list_folders(const char *dir, int *n, cs_error *e) {
    cs_dataset none;
    char *folders = NULL;
    /* Asked for no classes, the loader names every folder as one it skipped. */
    if (cs_dataset_load(&none, dir, NULL, 0, &folders, NULL, e)) return NULL;
    char **v = split_list(folders ? folders : "", '\n', n);
    free(folders);
    cs_dataset_free(&none);
    if (!v) cs_fail(e, CS_ENOMEM, "out of memory listing %s", dir);
    return v;
}

/* Without --classes, the classes are the folders of dir (two or more). */
int folder_classes(const char *dir, char ***classes, int *K) {
    cs_error e;
    if (!*classes && !(*classes = list_folders(dir, K, &e))) return input_error(dir, &e);
    if (*K >= 2) return 0;
    fprintf(stderr, "cellsight: %s has %d class folder%s; it takes two or more\n", dir, *K,
            *K == 1 ? "" : "s");
    return EXIT_INPUT;
}

/* One line on stderr naming the entries of cs_dataset_load's *skipped that
   are files of class folders ("A/notes.txt") or, not files, folders ("C"). */
static void note_skipped(char *const *list, int n, int files, const char *dir) {
    int count = 0;
    for (int i = 0; i < n; i++) count += (strchr(list[i], '/') != NULL) == files;
    if (!count) return;
    int one = count == 1;
    if (files)
        fprintf(stderr, "cellsight: skipped %d file%s of %s that %s (by %s name):", count,
                one ? "" : "s", dir, one ? "is not an image" : "are not images", one ? "its" : "their");
    else
        fprintf(stderr, "cellsight: skipped %d folder%s of %s that %s no class:", count,
                one ? "" : "s", dir, one ? "names" : "name");
    for (int i = 0; i < n; i++)
        if ((strchr(list[i], '/') != NULL) == files) fprintf(stderr, " %s", list[i]);
    fputc('\n', stderr);
}

/* The data of dir: the class folders *classes (NULL: every folder of dir), loaded. */
int load_classes(cs_dataset *ds, const char *dir, char ***classes, int *K, double um, int *bad_files) {
    int rc = folder_classes(dir, classes, K);
    return rc ? rc : load_data(ds, dir, (const char *const *)*classes, *K, um, bad_files);
}

/* Loads dir/<class>/ for each class, saying on stderr which folders and which
   files (not images by their name) it skipped, and which images did not
   decode (*bad_files is then set). Images whose files state no pixel size
   take um (--um-per-px; 0: none). */
int load_data(cs_dataset *ds, const char *dir, const char *const *classes, int K, double um,
              int *bad_files) {
    char *skipped = NULL, *bad = NULL;
    cs_error e;
    if (cs_dataset_load(ds, dir, classes, K, &skipped, &bad, &e))
        return input_error(dir, &e);
    for (int i = 0; i < ds->n; i++)
        if (cs_image_assume_pixel_size(&ds->images[i], um, &e)) return input_error("--um-per-px", &e);
    int n;
    char **list;
    if (skipped && (list = split_list(skipped, '\n', &n))) {
        note_skipped(list, n, 0, dir);
        note_skipped(list, n, 1, dir);
        free(list);
    }
    if (bad && (list = split_list(bad, '\n', &n))) {
        for (int i = 0; i < n; i++) fprintf(stderr, "cellsight: skipped %s\n", list[i]);
        *bad_files = 1;
        free(list);
    }
    free(skipped);
    free(bad);
    fprintf(stderr, "%s: %d images of %d classes\n", dir, ds->n, K);
    return 0;
}

int same_file(const char *a, const char *b) {
    struct stat sa, sb;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}
