/* cli.c: the cellsight program. It parses arguments, calls the library and
   prints: results on stdout, progress and errors on stderr. Exit codes: 0 ok,
   1 bad input (an image, a model file, a data folder), 2 usage. */
#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cellsight.h"

enum { EXIT_INPUT = 1, EXIT_USAGE = 2 };

/* ---------------------------------------------------------------- options */

typedef struct {
    const char *name; /* --name */
    const char *arg;  /* what its value is ("a|b": one of these); NULL for a switch,
                         which --no-name turns off */
    const char *help;
} option;

typedef struct {
    const char *title;
    const option *opts; /* ends with {0} */
} option_group;

typedef struct args args;

typedef struct {
    const char *name, *usage, *about;
    option_group groups[5]; /* the command's own options first; ends with {0} */
    const char *protocols;  /* comma-separated: the training defaults --help shows */
    int (*run)(args *a);
} command;

#define MAX_OPTS 64

struct args {
    const command *cmd;
    int nopts;
    const option *opt[MAX_OPTS];
    const char *value[MAX_OPTS]; /* as given; NULL if not; "1" or "0" for a switch */
    int npos;
    char **pos;                  /* the arguments that are not options */
    int bad;                     /* some value did not parse: a usage error */
};

static int usage_error(args *a, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "cellsight %s: ", a->cmd->name);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, " (cellsight %s --help lists the options)\n", a->cmd->name);
    va_end(ap);
    a->bad = 1;
    return EXIT_USAGE;
}

static void describe_opts(FILE *f, const cs_train_opts *o);

static void print_help(const command *cmd) {
    printf("usage: cellsight %s %s\n\n%s\n", cmd->name, cmd->usage, cmd->about);
    for (const option_group *g = cmd->groups; g->opts; g++) {
        printf("\n%s:\n", g->title);
        for (const option *o = g->opts; o->name; o++) {
            char flag[64];
            snprintf(flag, sizeof flag, "--%s%s%s", o->name, o->arg ? " " : "", o->arg ? o->arg : "");
            printf("  %-24s", flag);
            if (strlen(flag) > 24) printf("\n  %24s", "");
            for (const char *h = o->help; *h; h++) /* continuation lines line up */
                h[0] == '\n' ? printf("\n  %24s", "") : putchar(*h);
            putchar('\n');
        }
    }
    if (cmd->protocols) {
        printf("\nSwitches turn off with --no-NAME, e.g. --no-tta. The defaults:\n");
        char buf[64];
        snprintf(buf, sizeof buf, "%s", cmd->protocols);
        for (char *name = strtok(buf, ","); name; name = strtok(NULL, ",")) {
            cs_train_opts o;
            cs_train_defaults(&o, name);
            printf("  %s: ", name);
            describe_opts(stdout, &o);
            putchar('\n');
        }
    }
}

/* Fills a from argv (the words after the command). Returns -1 to go on, or the
   exit code: 0 after --help, 2 on a usage error. */
static int parse_args(args *a, const command *cmd, int argc, char **argv) {
    memset(a, 0, sizeof *a);
    a->cmd = cmd;
    for (const option_group *g = cmd->groups; g->opts; g++)
        for (const option *o = g->opts; o->name; o++) {
            assert(a->nopts < MAX_OPTS);
            a->opt[a->nopts++] = o;
        }
    a->pos = malloc((size_t)(argc + 1) * sizeof *a->pos);
    if (!a->pos) return EXIT_INPUT;
    int options_done = 0;
    for (int i = 0; i < argc; i++) {
        char *s = argv[i];
        if (options_done || s[0] != '-' || s[1] == 0) {
            a->pos[a->npos++] = s;
            continue;
        }
        if (strcmp(s, "--") == 0) {
            options_done = 1;
            continue;
        }
        if (strcmp(s, "--help") == 0 || strcmp(s, "-h") == 0) {
            print_help(cmd);
            return 0;
        }
        if (s[1] != '-') return usage_error(a, "unknown option %s", s);
        const char *name = s + 2, *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        int negated = 0, k = 0;
        for (; k < a->nopts; k++) {
            const option *o = a->opt[k];
            if (strlen(o->name) == len && strncmp(o->name, name, len) == 0) break;
            if (!o->arg && len == strlen(o->name) + 3 && strncmp(name, "no-", 3) == 0 &&
                strncmp(o->name, name + 3, len - 3) == 0) {
                negated = 1;
                break;
            }
        }
        if (k == a->nopts) return usage_error(a, "unknown option --%.*s", (int)len, name);
        if (!a->opt[k]->arg) {
            if (eq) return usage_error(a, "--%.*s takes no value", (int)len, name);
            a->value[k] = negated ? "0" : "1";
        } else if (eq) {
            a->value[k] = eq + 1;
        } else if (i + 1 < argc) {
            a->value[k] = argv[++i];
        } else {
            return usage_error(a, "--%s needs a value (%s)", a->opt[k]->name, a->opt[k]->arg);
        }
    }
    return -1;
}

static int find_opt(const args *a, const char *name) {
    for (int k = 0; k < a->nopts; k++)
        if (strcmp(a->opt[k]->name, name) == 0) return k;
    assert(!"the command has no such option");
    return -1;
}

static const char *get_str(const args *a, const char *name) { return a->value[find_opt(a, name)]; }

static long long get_int(args *a, const char *name, long long def, long long lo, long long hi) {
    const char *s = get_str(a, name);
    if (!s) return def;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        usage_error(a, "--%s wants a whole number from %lld to %lld, not \"%s\"", name, lo, hi, s);
    return v;
}

static double get_num(args *a, const char *name, double def, double lo, double hi) {
    const char *s = get_str(a, name);
    if (!s) return def;
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end || !(v >= lo && v <= hi))
        usage_error(a, "--%s wants a number from %g to %g, not \"%s\"", name, lo, hi, s);
    return v;
}

static int get_switch(const args *a, const char *name, int def) {
    const char *s = get_str(a, name);
    return s ? s[0] == '1' : def;
}

/* The value if it is one of the choices the option's arg lists ("a|b|c"). */
static const char *get_choice(args *a, const char *name, const char *def) {
    const char *s = get_str(a, name), *choices = a->opt[find_opt(a, name)]->arg;
    if (!s) return def;
    size_t len = strlen(s);
    for (const char *c = choices; c; c = strchr(c, '|')) {
        c += *c == '|';
        if (strncmp(c, s, len) == 0 && (c[len] == '|' || c[len] == 0)) return s;
    }
    usage_error(a, "--%s is one of %s, not \"%s\"", name, choices, s);
    return def;
}

static const char *require(args *a, const char *name) {
    const char *s = get_str(a, name);
    if (!s) usage_error(a, "--%s %s is required", name, a->opt[find_opt(a, name)]->arg);
    return s;
}

/* ---------------------------------------------------------------- helpers */

/* Says what went wrong with `what` (a file, a folder, a step) on stderr. */
static int input_error(const char *what, const cs_error *e) {
    if (strstr(e->msg, what)) fprintf(stderr, "cellsight: %s\n", e->msg); /* it names it already */
    else fprintf(stderr, "cellsight: %s: %s\n", what, e->msg);
    return EXIT_INPUT;
}

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static const char *duration(char *buf, size_t size, double s) {
    if (!isfinite(s)) snprintf(buf, size, "?");
    else if (s < 60) snprintf(buf, size, "%.0fs", s);
    else if (s < 3600) snprintf(buf, size, "%dm%02ds", (int)s / 60, (int)s % 60);
    else snprintf(buf, size, "%dh%02dm", (int)s / 3600, (int)s / 60 % 60);
    return buf;
}

/* Progress on stderr: rewritten in place on a terminal, a line now and then in a log. */
typedef struct {
    double start, last;
    int tty;
} progress;

static void progress_start(progress *p) {
    p->start = p->last = now();
    p->tty = isatty(2);
}

/* Returns 1 if it is time for another progress line (always for the last one). */
static int progress_due(progress *p, int last) {
    double t = now();
    if (!last && t - p->last < (p->tty ? 0.2 : 30)) return 0;
    p->last = t;
    return 1;
}

/* On a terminal a line that is not kept is overwritten by the next one. */
static void progress_line(const progress *p, int keep, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    if (p->tty) fputc('\r', stderr);
    vfprintf(stderr, fmt, ap);
    if (p->tty) fputs("\033[K", stderr);
    if (keep || !p->tty) fputc('\n', stderr);
    va_end(ap);
}

static void progress_count(progress *p, const char *what, int done, int total) {
    if (!progress_due(p, done == total)) return;
    char el[32], left[32];
    double spent = now() - p->start;
    progress_line(p, done == total, "%s %d/%d, %s, about %s left", what, done, total,
                  duration(el, sizeof el, spent),
                  duration(left, sizeof left, done ? spent * (total - done) / done : NAN));
}

/* The non-empty items of a list separated by sep, as strings in one
   allocation (free the array only). */
static char **split_list(const char *s, char sep, int *n) {
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

/* ---------------------------------------------------------------- image files */

/* The images predict classifies: its arguments, with folders expanded. */
typedef struct {
    char **path;
    int n, cap;
} file_list;

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

static void free_files(file_list *l) {
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
static int list_images(file_list *l, char *const *args, int n) {
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

/* ---------------------------------------------------------------- data */

/* --classes A,B,...: two or more distinct names. */
static char **parse_classes(args *a, const char *s, int *n) {
    char **v = split_list(s, ',', n);
    int commas = 0;
    for (const char *c = s; *c; c++) commas += *c == ',';
    if (!v) usage_error(a, "out of memory");
    else if (*n != commas + 1) usage_error(a, "--classes has an empty name: \"%s\"", s);
    else if (*n < 2 || *n > CS_MAX_CLASSES)
        usage_error(a, "--classes needs 2 to %d names, not %d", CS_MAX_CLASSES, *n);
    for (int i = 0; v && !a->bad && i < *n; i++) {
        if (strlen(v[i]) >= CS_MAX_CLASS_NAME)
            usage_error(a, "class name longer than %d bytes: %s", CS_MAX_CLASS_NAME - 1, v[i]);
        for (int j = 0; j < i; j++)
            if (strcmp(v[i], v[j]) == 0) usage_error(a, "--classes names %s twice", v[i]);
    }
    return v;
}

/* The folders of dir in name order (free the array only). */
static char **list_folders(const char *dir, int *n, cs_error *e) {
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
static int folder_classes(const char *dir, char ***classes, int *K) {
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

/* Loads dir/<class>/ for each class, saying on stderr which folders and which
   files (not images by their name) it skipped, and which images did not
   decode (*bad_files is then set). */
static int load_data(cs_dataset *ds, const char *dir, const char *const *classes, int K,
                     int *bad_files) {
    char *skipped = NULL, *bad = NULL;
    cs_error e;
    if (cs_dataset_load(ds, dir, classes, K, &skipped, &bad, &e))
        return input_error(dir, &e);
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

/* ---------------------------------------------------------------- training */

typedef struct {
    cs_recipe r;
    const char *arch;    /* a new model's layers (NULL: the paper's) */
    int tile;
} plan;

static int has_opt(const args *a, const char *name) {
    for (int k = 0; k < a->nopts; k++)
        if (strcmp(a->opt[k]->name, name) == 0) return 1;
    return 0;
}

/* The training options: the protocol's defaults, what `from` recorded (if not
   NULL), then the command line. */
static void parse_plan(args *a, plan *p, const char *protocol, const cs_model *from) {
    cs_train_opts *o = &p->r.train;
    cs_recipe_defaults(&p->r, protocol);
    p->r.record_split = 1;
    if (from) cs_recipe_from_model(&p->r, from);
    o->crop_bottom = (int)get_int(a, "crop-bottom", o->crop_bottom, 0, 100000); /* -1: the model's */
    o->epochs = (int)get_int(a, "epochs", o->epochs, 1, 1000000);
    o->seed = (uint64_t)get_int(a, "seed", (long long)o->seed, 0, INT64_MAX);
    o->batch = (int)get_int(a, "batch", o->batch, 1, 4096);
    o->crops_per_image = (int)get_int(a, "crops", o->crops_per_image, 0, 1000000);
    o->patience = (int)get_int(a, "patience", o->patience, 0, 1000000);
    o->lr = (float)get_num(a, "lr", o->lr, 1e-9, 10);
    o->cosine = strcmp(get_choice(a, "schedule", o->cosine ? "cosine" : "constant"), "cosine") == 0;
    o->lr_final = (float)get_num(a, "lr-final", o->lr_final, 0, 10);
    o->aug.dihedral = get_switch(a, "dihedral", o->aug.dihedral);
    o->aug.hflip = get_switch(a, "hflip", o->aug.hflip);
    o->aug.rotate_deg = (float)get_num(a, "rotate", o->aug.rotate_deg, 0, 180);
    o->aug.shift = (float)get_num(a, "shift", o->aug.shift, 0, 1);
    o->aug.zoom = (float)get_num(a, "zoom", o->aug.zoom, 0, 0.9);
    o->aug.blur = (float)get_num(a, "blur", o->aug.blur, 0, 5);
    o->aug.gamma = (float)get_num(a, "gamma", o->aug.gamma, 0, 4);
    o->balance = get_switch(a, "balance", o->balance);
    o->tta = get_switch(a, "tta", o->tta);
    const char *t = get_str(a, "threshold");
    if (t && strcmp(t, "auto") == 0) {
        o->auto_threshold = 1;
    } else if (t) {
        o->auto_threshold = 0;
        p->r.threshold = get_num(a, "threshold", 0.5, 0, 1);
    }
    int folds = p->r.val_folds, fold = p->r.val_fold + 1; /* as `from` was validated, if it recorded that */
    p->r.val_folds = (int)get_int(a, "val-folds", folds, 0, 1000);
    if (p->r.val_folds == 1) usage_error(a, "--val-folds is 0 (no validation) or at least 2");
    if (p->r.val_folds != folds) fold = p->r.val_folds;
    p->r.val_fold = (int)get_int(a, "val-fold", fold, 1, p->r.val_folds > 1 ? p->r.val_folds : 1) - 1;
    p->r.val_rows = strcmp(get_choice(a, "val-split", p->r.val_rows ? CS_SPLIT_ROWS : CS_SPLIT_IMAGES),
                           CS_SPLIT_ROWS) == 0;
    p->arch = has_opt(a, "arch") ? get_str(a, "arch") : NULL;
    if (!p->arch && from) p->arch = from->net.arch;
    p->tile = has_opt(a, "tile") ? (int)get_int(a, "tile", from ? from->net.tile : CS_TILE, 1, 4096)
                                 : CS_TILE;
}

/* One line of what a run will do, for --help and for the log. */
static void describe_opts(FILE *f, const cs_train_opts *o) {
    char line[512];
    cs_recipe_describe(line, sizeof line, o);
    fputs(line, f);
}

/* What a training run prints: the split, then the epochs; and which of the
   two an error came from. */
typedef struct {
    const cs_train_opts *o;
    progress pr;
    int split;
} training_log;

static void on_split(void *ctx, const cs_dataset *train, const cs_dataset *val) {
    training_log *log = ctx;
    log->split = 1;
    fprintf(stderr, "training on %d images, validating on %d", train->n, val->n);
    for (int i = 0; i < val->n; i++) fprintf(stderr, "%s %s", i ? "," : ":", val->names[i]);
    fprintf(stderr, "\n%s: ", log->o->protocol);
    describe_opts(stderr, log->o);
    fputc('\n', stderr);
    progress_start(&log->pr);
}

static int on_train_step(void *ctx, const cs_train_status *st) {
    progress *p = &((training_log *)ctx)->pr;
    int end = st->step == st->steps;
    char el[32], left[32];
    duration(el, sizeof el, st->seconds);
    duration(left, sizeof left, st->eta);
    if (st->epoch == 0) { /* head mode: the frozen layers' features, once */
        if (progress_due(p, end))
            progress_line(p, end, "features %d/%d, %s, about %s left", st->step, st->steps, el, left);
    } else if (end) {
        char val[80] = "";
        if (!isnan(st->val_loss))
            snprintf(val, sizeof val, "  validation loss %.4f accuracy %.4f%s", st->val_loss,
                     st->val_acc, st->best ? " (best)" : "");
        progress_line(p, 1, "epoch %d/%d  loss %.4f accuracy %.4f%s  lr %.3g  %s, about %s left",
                      st->epoch, st->epochs, st->train_loss, st->train_acc, val, st->lr, el, left);
    } else if (p->tty && progress_due(p, 0)) {
        progress_line(p, 0, "epoch %d/%d  step %d/%d  loss %.4f  %s, about %s left", st->epoch,
                      st->epochs, st->step, st->steps, st->train_loss, el, left);
    }
    return 0;
}

/* The plan's recipe with the training log's hooks. */
static cs_recipe logged(const plan *p, training_log *log) {
    cs_recipe r = p->r;
    *log = (training_log){.o = &p->r.train};
    r.on_split = on_split;
    r.train.progress = on_train_step;
    r.train.ctx = log;
    return r;
}

static int training_error(const training_log *log, const cs_error *e) {
    return input_error(log->split ? "training" : "validation split", e);
}

/* Splits validation images off data as p says and trains m on the rest. */
static int train_model(cs_model *m, const cs_dataset *data, const plan *p) {
    training_log log;
    cs_recipe r = logged(p, &log);
    cs_error e;
    return cs_fit(m, data, &r, NULL, &e) ? training_error(&log, &e) : 0;
}

/* Saves m and says on stdout how the run went. */
static int save_model(const cs_model *m, const char *path) {
    cs_error e;
    if (cs_model_save(m, path, &e)) return input_error(path, &e);
    printf("saved %s\n", path);
    static const char *const keys[] = {"classes", "epochs_run", "best_epoch", "val_loss",
                                       "val_tile_accuracy", "threshold"};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
        const char *v = cs_model_get(m, keys[i]);
        if (v) printf("  %-18s %s\n", keys[i], v);
    }
    return 0;
}

/* ---------------------------------------------------------------- tables */

/* Rows of cells on stdout: CSV, or columns padded to fixed widths. */
typedef struct {
    int csv, ncols, col;
    int *width;
} table;

static void cell(table *t, const char *s) {
    if (t->col) fputs(t->csv ? "," : "  ", stdout);
    if (t->csv && strpbrk(s, ",\"\r\n")) { /* RFC 4180: quote, double the quotes */
        putchar('"');
        for (; *s; s++) *s == '"' ? fputs("\"\"", stdout) : putchar(*s);
        putchar('"');
    } else if (!t->csv && t->col + 1 < t->ncols) {
        printf("%-*s", t->width[t->col], s);
    } else {
        fputs(s, stdout);
    }
    if (++t->col == t->ncols) {
        putchar('\n');
        t->col = 0;
    }
}

static void cellf(table *t, const char *fmt, ...) {
    char buf[CS_MAX_CLASS_NAME + 32];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    cell(t, buf);
}

/* ---------------------------------------------------------------- option lists */

static const option common_opts[] = {
    {"threads", "N", "worker threads (default 0: every core)"},
    {0}};

static const option new_model_opts[] = {
    {"arch", "LAYERS", "the layers, e.g. conv32,pool,conv64,gap,dense32,dense (default\n"
                       "the paper's: " CS_PAPER_ARCH ")"},
    {"tile", "PX", "tile side in pixels (default 128)"},
    {0}};

static const option training_opts[] = {
    {"epochs", "N", "epochs at most"},
    {"seed", "S", "random seed: the same seed, data and threads give the same model"},
    {"batch", "N", "tiles per step"},
    {"crops", "N", "random crops per training image and epoch; 0: each grid tile once"},
    {"patience", "N", "stop after N epochs without a lower validation loss (0: never)"},
    {"lr", "X", "learning rate (Adam)"},
    {"schedule", "constant|cosine", "the learning rate over the run"},
    {"lr-final", "X", "the last learning rate of the cosine schedule"},
    {"dihedral", NULL, "augment with all 8 flips and 90-degree rotations"},
    {"hflip", NULL, "augment with random horizontal flips"},
    {"rotate", "DEG", "augment with rotations in [-DEG, DEG]"},
    {"shift", "F", "augment with shifts of up to F times the tile side"},
    {"zoom", "F", "augment with zooms in [1 - F, 1 + F]"},
    {"blur", "S", "augment with Gaussian blurs of sigma in [0, S] pixels (focus)"},
    {"gamma", "G", "augment with gray levels raised to powers in [1/(1+G), 1+G]\n"
                   "(exposure, contrast)"},
    {"balance", NULL, "weight the loss by inverse class frequency"},
    {"tta", NULL, "predict with the mean over each tile's 8 flips and rotations\n"
                  "(recorded in the model)"},
    {"threshold", "auto|P", "two classes: the second when its probability >= P; auto: the\n"
                            "best balanced accuracy on the validation tiles"},
    {"val-folds", "N", "validate on 1/N of each class's images, or on a band of rows when\n"
                       "a class has one image; 0: no validation, keep the last epoch\n"
                       "(default 2)"},
    {"val-fold", "I", "which of the N parts validates, 1 to N (default N, the smallest)"},
    {"val-split", "images|rows", "images: as --val-folds says; rows: a band of rows of every\n"
                                 "image (band I of N, the top one by default), so that training\n"
                                 "sees every image (default images)"},
    {0}};

static const option train_own_opts[] = {
    {"data", "DIR", "one folder of whole images per class"},
    {"out", "FILE", "where to save the model (.safetensors)"},
    {"classes", "A,B,...", "the class folders, in output order (default: every folder of\n"
                           "DIR, by name)"},
    {"protocol", "paper|ours", "where the defaults come from (default paper)"},
    {"crop-bottom", "PX", "rows to crop off the bottom of every image (default 0; the\n"
                          "azgcb images need 96 for their overlay strip)"},
    {0}};

static const option eval_own_opts[] = {
    {"model", "FILE", "the model (.safetensors)"},
    {"data", "DIR", "one folder of images per class, named like the model's classes"},
    {"json", NULL, "print the figures as one JSON object"},
    {"report", "DIR", "also write DIR/eval.json, roc.svg, confusion.svg, per_class.md"},
    {"crop-bottom", "PX", "rows to crop off the bottom (default: the model's)"},
    {"folds", "images", "cross-validation by image: per fold, train a fresh model as the\n"
                        "given one was trained (or as the training options say;\n"
                        "a fine-tuned one from its base again) and test it on the\n"
                        "held-out images"},
    {"protocol", "paper|ours", "with --folds: where the training defaults come from\n"
                               "(default: the model's)"},
    {0}};

static const option predict_own_opts[] = {
    {"model", "FILE", "the model (.safetensors)"},
    {"csv", NULL, "CSV: file,predicted_class,confidence,tiles,p_<class>...,tta\n"
                  "(tiles: the non-background tiles, whose mean probabilities are the\n"
                  "image's; tta: the averaging used, dihedral8 or none)"},
    {"tiles", NULL, "one row per tile: file,x,y,background,predicted_class,confidence,\n"
                    "p_<class>...,tta (x, y: top-left pixel)"},
    {"crop-bottom", "PX", "rows to crop off the bottom (default: the model's)"},
    {"tta", NULL, "average each tile's 8 flips and rotations; --no-tta: one pass a\n"
                  "tile, 8 times quicker (default: as the model's tta says)"},
    {0}};

static const option finetune_own_opts[] = {
    {"model", "BASE", "the model to start from (.safetensors)"},
    {"data", "DIR", "one folder of whole images per class"},
    {"out", "FILE", "where to save the fine-tuned model (.safetensors)"},
    {"mode", "head|full", "head: train the dense layers on frozen features (seconds);\n"
                          "full: every layer, with augmentation"},
    {"classes", "A,B,...", "the class folders, in output order (default: every folder of\n"
                           "DIR, by name); other classes than the base's get a new\n"
                           "output layer"},
    {"crop-bottom", "PX", "rows to crop off the bottom (default: the base's)"},
    {0}};

/* ---------------------------------------------------------------- commands */

static int load_model(cs_model *m, const char *path) {
    cs_error e;
    return cs_model_load(m, path, &e) ? input_error(path, &e) : 0;
}

/* --tta / --no-tta over the model's own tta (tta < 0: not given). */
static int override_tta(cs_model *m, int tta, const char *path) {
    cs_error e;
    if (tta < 0 || !cs_model_set(m, CS_META_TTA, tta ? CS_TTA_DIHEDRAL8 : CS_TTA_NONE, &e)) return 0;
    return input_error(path, &e);
}

static int cmd_predict(args *a) {
    const char *path = require(a, "model");
    int csv = get_switch(a, "csv", 0), tiles = get_switch(a, "tiles", 0);
    int crop = (int)get_int(a, "crop-bottom", -1, 0, 100000), tta = get_switch(a, "tta", -1);
    if (!a->bad && a->npos == 0) usage_error(a, "no images to classify");
    if (a->bad) return EXIT_USAGE;
    cs_model m;
    if (load_model(&m, path)) return EXIT_INPUT;
    if (override_tta(&m, tta, path)) {
        cs_model_free(&m);
        return EXIT_INPUT;
    }
    int K = m.net.nclasses;
    file_list files = {0};
    int failed = list_images(&files, a->pos, a->npos);

    static const char *const image_cols[] = {"file", "predicted_class", "confidence", "tiles"};
    static const char *const tile_cols[] = {"file", "x", "y", "background", "predicted_class",
                                            "confidence"};
    const char *const *head = tiles ? tile_cols : image_cols;
    int nhead = tiles ? 6 : 4, class_col = tiles ? 4 : 1, ncols = nhead + K + 1;
    /* The last column, tta, says the averaging used, as the model file and the
       page's CSVs name it; columns are only ever added at the end. */
    const char *tta_used = m.tta ? CS_TTA_DIHEDRAL8 : CS_TTA_NONE;
    table t = {csv, ncols, 0, calloc((size_t)ncols, sizeof(int))};
    if (!t.width) {
        free_files(&files);
        cs_model_free(&m);
        return EXIT_INPUT;
    }
    for (int i = 0; i < ncols; i++) t.width[i] = 8; /* "%.6f" */
    for (int i = 0; i < nhead; i++)
        if ((int)strlen(head[i]) > t.width[i]) t.width[i] = (int)strlen(head[i]);
    for (int i = 0; i < files.n; i++)
        if ((int)strlen(files.path[i]) > t.width[0]) t.width[0] = (int)strlen(files.path[i]);
    for (int c = 0; c < K; c++) {
        int len = (int)strlen(m.classes[c]);
        if (len > t.width[class_col]) t.width[class_col] = len;
        if (len + 2 > t.width[nhead + c]) t.width[nhead + c] = len + 2;
    }
    for (int i = 0; i < nhead; i++) cell(&t, head[i]);
    for (int c = 0; c < K; c++) cellf(&t, "p_%s", m.classes[c]);
    cell(&t, "tta");

    /* Rows on a terminal show how far it got; otherwise say so on stderr. */
    int show = files.n > 1 && !isatty(1);
    progress pr;
    progress_start(&pr);
    for (int i = 0; i < files.n; i++) {
        const char *file = files.path[i];
        if (show) progress_count(&pr, "classified images", i, files.n);
        cs_image im = {0};
        cs_result res;
        cs_error e;
        if (cs_image_load(&im, file, &e) || cs_classify(&m, &im, crop, &res, NULL, NULL, &e)) {
            fflush(stdout);
            failed = input_error(file, &e);
            cs_image_free(&im);
            continue;
        }
        if (tiles) {
            for (int k = 0; k < res.ntiles; k++) {
                const float *p = res.tile_probs + (size_t)k * K;
                cell(&t, file);
                cellf(&t, "%d", res.x[k]);
                cellf(&t, "%d", res.y[k]);
                cellf(&t, "%d", res.background[k]);
                cell(&t, m.classes[res.tile_class[k]]);
                cellf(&t, "%.6f", p[res.tile_class[k]]);
                for (int c = 0; c < K; c++) cellf(&t, "%.6f", p[c]);
                cell(&t, tta_used);
            }
        } else {
            cell(&t, file);
            cell(&t, m.classes[res.predicted]);
            cellf(&t, "%.6f", res.confidence);
            cellf(&t, "%d", res.nforeground);
            for (int c = 0; c < K; c++) cellf(&t, "%.6f", res.probs[c]);
            cell(&t, tta_used);
        }
        cs_result_free(&res);
        cs_image_free(&im);
    }
    if (show) progress_count(&pr, "classified images", files.n, files.n);
    free(t.width);
    free_files(&files);
    cs_model_free(&m);
    return failed;
}

static const char *layer_kind(const cs_layer *l, char *buf, size_t size) {
    switch (l->kind) {
    case CS_CONV: return "conv 3x3 + ReLU";
    case CS_POOL: return "max pool 2x2";
    case CS_GAP: return "global average pool";
    case CS_DROPOUT: snprintf(buf, size, "dropout %g", l->p); return buf;
    case CS_DENSE: return l->relu ? "dense + ReLU" : "dense (output)";
    }
    return "?";
}

static int cmd_info(args *a) {
    if (a->npos != 1) return usage_error(a, "give one model file");
    cs_model m;
    if (load_model(&m, a->pos[0])) return EXIT_INPUT;
    const cs_net *n = &m.net;
    printf("%-14s %s\n%-14s %s\n%-14s %d:", "file", a->pos[0], "arch", n->arch, "classes",
           n->nclasses);
    for (int c = 0; c < n->nclasses; c++) printf("%s%s", c ? ", " : " ", m.classes[c]);
    printf("\n%-14s %d\n%-14s %d\n", "tile", n->tile, "crop_bottom", m.crop_bottom);
    if (n->nclasses == 2) printf("%-14s %g\n", "threshold", m.threshold);
    printf("%-14s %s\n%-14s %zu\n%-14s %.0f (%.1f M)\n\nlayers:\n", "tta",
           m.tta ? CS_TTA_DIHEDRAL8 " (mean over the 8 flips and rotations)" : CS_TTA_NONE, "parameters",
           n->nparams, "MACs per tile", cs_net_macs(n), cs_net_macs(n) / 1e6);
    for (int i = 0; i < n->nlayers; i++) {
        const cs_layer *l = &n->layers[i];
        char buf[32], shape[64];
        snprintf(shape, sizeof shape, "%dx%dx%d -> %dx%dx%d", l->h, l->w, l->c, l->oh, l->ow, l->oc);
        printf("  %-6s %-20s %-26s %zu parameters\n", l->name[0] ? l->name : "-",
               layer_kind(l, buf, sizeof buf), shape, l->nweight + l->nbias);
    }
    printf("\nmetadata:\n");
    for (int i = 0; i < m.nmeta; i++) printf("  %s: %s\n", m.meta[i].key, m.meta[i].value);
    cs_model_free(&m);
    return 0;
}

/* A progress line as each image is evaluated (done 0: a new run starts). */
static int on_evaluated(void *ctx, int done, int total) {
    progress *p = ctx;
    if (done == 0) progress_start(p);
    else progress_count(p, "evaluated images", done, total);
    return 0;
}

static void on_fold(void *ctx, int fold, int nfolds, const cs_dataset *test) {
    fprintf(stderr, "fold %d/%d: testing on", fold, nfolds);
    for (int i = 0; i < test->n; i++) fprintf(stderr, " %s", test->names[i]);
    fputc('\n', stderr);
}

/* Image-level cross-validation (cs_cross_validate), saying how it goes on stderr. */
static int cross_validate(const cs_model *m, const cs_dataset *all, const plan *p,
                          cs_eval *pooled, cs_eval **folds, int *nfolds) {
    progress pr;
    training_log log;
    cs_cv_opts o = {logged(p, &log), p->arch, p->tile, on_fold, on_evaluated, &pr};
    cs_error e;
    if (!cs_cross_validate(m, all, &o, pooled, folds, nfolds, &e)) return 0;
    fprintf(stderr, "cellsight: %s\n", e.msg);
    return EXIT_INPUT;
}

/* 1 if an option of the list other than `except` (NULL: none) was given. */
static int given_any(const args *a, const option *list, const char *except) {
    for (int k = 0; k < a->nopts; k++)
        if (a->value[k] && !(except && strcmp(a->opt[k]->name, except) == 0))
            for (const option *o = list; o->name; o++) if (a->opt[k] == o) return 1;
    return 0;
}

/* The model's classes that dir has a folder for (*np of them), and their
   indices in the model. */
static int present_classes(const cs_model *m, const char *dir, const char **present, int *index,
                           int *np) {
    cs_error e;
    int nf;
    char **folders = list_folders(dir, &nf, &e);
    if (!folders) return input_error(dir, &e);
    *np = 0;
    for (int c = 0; c < m->net.nclasses; c++) {
        int found = 0;
        for (int f = 0; f < nf; f++) found |= strcmp(folders[f], m->classes[c]) == 0;
        if (found) {
            present[*np] = m->classes[c];
            index[(*np)++] = c;
        } else {
            fprintf(stderr, "cellsight: %s has no folder %s: that class is not evaluated\n", dir,
                    m->classes[c]);
        }
    }
    free(folders);
    if (*np > 0) return 0;
    fprintf(stderr, "cellsight: %s: no folder is named like a class of the model\n", dir);
    return EXIT_INPUT;
}

/* eval once the arguments are known to be good; p is NULL without --folds. */
static int run_eval(cs_model *m, const char *path, const char *dir, int json, const char *report,
                    const plan *p) {
    int K = m->net.nclasses, rc, np, bad_files = 0, nfolds = 0;
    const char **present = malloc((size_t)K * sizeof *present);
    int *index = malloc((size_t)K * sizeof *index);
    cs_dataset ds = {0};
    cs_eval ev, *folds = NULL;
    cs_eval_init(&ev, K);
    cs_error e;
    if (!present || !index) {
        rc = input_error(dir, &(cs_error){CS_ENOMEM, "out of memory"});
        goto done;
    }
    if ((rc = present_classes(m, dir, present, index, &np))) goto done;
    if (p && np < K) {
        fprintf(stderr, "cellsight: cross-validation needs a folder for every class\n");
        rc = EXIT_INPUT;
        goto done;
    }
    if ((rc = load_data(&ds, dir, present, np, &bad_files))) goto done;
    for (int i = 0; i < ds.n; i++) ds.labels[i] = index[ds.labels[i]];
    if (p) {
        rc = cross_validate(m, &ds, p, &ev, &folds, &nfolds);
    } else {
        progress pr;
        if (cs_evaluate(m, &ds, 0, &ev, on_evaluated, &pr, &e)) {
            fprintf(stderr, "cellsight: %s\n", e.msg);
            rc = EXIT_INPUT;
        }
    }
    if (rc) goto done;

    cs_report r = {m, path, dir, &ev, nfolds, folds};
    if ((json ? cs_report_json : cs_report_markdown)(stdout, &r, &e)) rc = input_error("report", &e);
    else if (report && cs_report_write(report, &r, &e)) rc = input_error(report, &e);
    else if (report) fprintf(stderr, "report written to %s\n", report);
done:
    for (int k = 0; k < nfolds; k++) cs_eval_free(&folds[k]);
    free(folds);
    cs_eval_free(&ev);
    cs_dataset_free(&ds);
    free(present);
    free(index);
    return rc ? rc : bad_files ? EXIT_INPUT : 0;
}

static int cmd_eval(args *a) {
    const char *path = require(a, "model"), *dir = require(a, "data"), *report = get_str(a, "report");
    int json = get_switch(a, "json", 0);
    int crop = (int)get_int(a, "crop-bottom", -1, 0, 100000);
    const char *folds = get_choice(a, "folds", NULL);
    /* --tta / --no-tta: without --folds, over the given model's tta */
    int tta = folds ? -1 : get_switch(a, "tta", -1);
    if (!folds && (given_any(a, training_opts, "tta") || given_any(a, new_model_opts, NULL) ||
                   get_str(a, "protocol")))
        usage_error(a, "training options go with --folds images");
    if (a->npos) usage_error(a, "unexpected argument %s", a->pos[0]);
    if (a->bad) return EXIT_USAGE;
    cs_model m;
    if (load_model(&m, path)) return EXIT_INPUT;
    plan p;
    if (folds) { /* train as the model was trained, unless told otherwise */
        const char *protocol = cs_model_get(&m, CS_META_PROTOCOL);
        parse_plan(a, &p, get_choice(a, "protocol", protocol ? protocol : "paper"), &m);
        if (p.r.train.head_only || strcmp(p.r.train.protocol, "full") == 0) { /* fine-tuned: again from its base */
            p.r.train.base_model = cs_model_get(&m, CS_META_BASE_MODEL);
            if (!p.r.train.base_model) usage_error(a, "%s was fine-tuned, but does not name its base model", path);
        }
    }
    int rc = a->bad ? EXIT_USAGE : 0;
    cs_error e;
    if (!rc && crop >= 0) {
        char text[16];
        snprintf(text, sizeof text, "%d", crop);
        if (cs_model_set(&m, CS_META_CROP_BOTTOM, text, &e)) rc = input_error(path, &e);
    }
    if (!rc) rc = override_tta(&m, tta, path);
    if (!rc) rc = run_eval(&m, path, dir, json, report, folds ? &p : NULL);
    cs_model_free(&m);
    return rc;
}

/* Checks --arch and --tile before any image is read. */
static void check_arch(args *a, const plan *p) {
    cs_net net;
    cs_error e;
    if (cs_net_init(&net, p->arch, p->tile, 2, &e)) usage_error(a, "%s", e.msg);
    else cs_net_free(&net);
}

static int cmd_train(args *a) {
    const char *dir = require(a, "data"), *out = require(a, "out"), *names = get_str(a, "classes");
    plan p;
    parse_plan(a, &p, get_choice(a, "protocol", "paper"), NULL);
    int K = 0, rc = 0, bad_files = 0;
    char **classes = names ? parse_classes(a, names, &K) : NULL;
    if (a->npos) usage_error(a, "unexpected argument %s", a->pos[0]);
    if (!a->bad) check_arch(a, &p);
    if (a->bad) {
        free(classes);
        return EXIT_USAGE;
    }
    cs_error e;
    cs_dataset ds = {0};
    cs_model m;
    if (!(rc = folder_classes(dir, &classes, &K)) &&
        !(rc = load_data(&ds, dir, (const char *const *)classes, K, &bad_files))) {
        if (cs_model_init(&m, p.arch, p.tile, K, (const char *const *)classes, p.r.train.seed, &e)) {
            rc = input_error("model", &e);
        } else {
            if (cs_model_set(&m, "data", dir, &e)) rc = input_error("model", &e);
            if (!rc) rc = train_model(&m, &ds, &p);
            if (!rc) rc = save_model(&m, out);
            cs_model_free(&m);
        }
    }
    cs_dataset_free(&ds);
    free(classes);
    return rc ? rc : bad_files ? EXIT_INPUT : 0;
}

static int cmd_finetune(args *a) {
    const char *base = require(a, "model"), *dir = require(a, "data"), *out = require(a, "out");
    const char *list = get_str(a, "classes");
    const char *mode = require(a, "mode") ? get_choice(a, "mode", NULL) : NULL;
    plan p;
    parse_plan(a, &p, mode ? mode : "head", NULL);
    p.r.train.base_model = base;
    struct stat sb, so;
    if (stat(base, &sb) == 0 && stat(out, &so) == 0 && sb.st_dev == so.st_dev && sb.st_ino == so.st_ino)
        usage_error(a, "--out %s would replace the base model: choose another file", out);
    int K = 0, rc = 0, bad_files = 0;
    char **classes = list ? parse_classes(a, list, &K) : NULL;
    if (a->npos) usage_error(a, "unexpected argument %s", a->pos[0]);
    if (a->bad) {
        free(classes);
        return EXIT_USAGE;
    }
    cs_error e;
    cs_model m;
    if (load_model(&m, base)) {
        free(classes);
        return EXIT_INPUT;
    }
    rc = folder_classes(dir, &classes, &K);
    cs_dataset ds = {0};
    if (!rc) rc = load_data(&ds, dir, (const char *const *)classes, K, &bad_files);
    const char *const *names = (const char *const *)classes;
    if (!rc && !cs_model_has_classes(&m, names, K))
        fprintf(stderr, "new classes: the output layer starts afresh\n");
    training_log log;
    cs_recipe r = logged(&p, &log);
    /* Before the split, an error with the classes not yet changed is the new output layer's. */
    if (!rc && cs_finetune(&m, &ds, K, names, &r, NULL, &e))
        rc = !log.split && !cs_model_has_classes(&m, names, K) ? input_error(base, &e)
                                                               : training_error(&log, &e);
    if (!rc) rc = save_model(&m, out);
    cs_dataset_free(&ds);
    cs_model_free(&m);
    free(classes);
    return rc ? rc : bad_files ? EXIT_INPUT : 0;
}

/* ---------------------------------------------------------------- the commands */

static const command commands[] = {
    {"train", "--data DIR --out FILE.safetensors [options]",
     "Trains a new model on whole images, one folder per class. Validation goes by\n"
     "image, never by tile; the weights of the lowest validation loss are kept.\n"
     "Files not named as images (notes.txt, Thumbs.db) are skipped with a note, as\n"
     "predict does in a folder. Progress on stderr. Exit codes: 0 ok, 1 bad input\n"
     "(images that do not decode are skipped and listed, the model still saved, and\n"
     "the exit code is 1), 2 usage.",
     {{"options", train_own_opts}, {"model", new_model_opts}, {"training (default: from --protocol)", training_opts},
      {"common", common_opts}},
     "paper,ours", cmd_train},
    {"eval", "--model FILE --data DIR [--json] [--report DIR] [--folds images]",
     "Figures of a model on labelled images: tile accuracy and loss over the\n"
     "non-background tiles, ROC AUC (two classes), top-5 (more than five), image\n"
     "accuracy (an image's class is the mean of its tiles), per-class precision,\n"
     "recall and f1, and the confusion matrix (rows: true class). Folders that name\n"
     "no class of the model, and files not named as images, are skipped and listed\n"
     "on stderr. --tta or --no-tta\n"
     "without --folds: predict with or without the 8 flips and rotations, whatever\n"
     "the model's tta says.\n"
     "Exit codes: 0 ok, 1 bad input (bad files are listed, the rest evaluated), 2 usage.",
     {{"options", eval_own_opts}, {"model (with --folds; default: the given model's)", new_model_opts},
      {"training (with --folds; default: from the model)", training_opts}, {"common", common_opts}},
     "paper,ours", cmd_eval},
    {"predict", "--model FILE [--csv] [--tiles] [--no-tta] IMAGE|FOLDER...",
     "Classifies whole images: each is tiled, background tiles are set aside, and the\n"
     "image's probabilities are the mean over the others. A readable table, or CSV.\n"
     "A folder stands for its image files and those of its subfolders, sorted by\n"
     "path: files named .jpg .jpeg .jfif .png .bmp .gif .pgm .ppm .pnm .tga (and\n"
     ".tif .tiff .webp .heic .heif .avif, which get an error). Other files are\n"
     "skipped with a note on stderr, hidden ones and links to folders passed over.\n"
     "An image that cannot be read is named on stderr, the others still classified,\n"
     "and the exit code is 1. Exit codes: 0 ok, 1 bad input, 2 usage.",
     {{"options", predict_own_opts}, {"common", common_opts}},
     NULL, cmd_predict},
    {"info", "FILE", "What a model file holds: layers, classes, tile, crop, threshold,\n"
                     "parameters, multiply-adds per tile, and every metadata entry.",
     {{0}},
     NULL, cmd_info},
    {"finetune", "--model BASE --data DIR --mode head|full --out FILE.safetensors [options]",
     "Fine-tunes a model on your own images, one folder per class, validating by image.\n"
     "Exit codes: 0 ok, 1 bad input, 2 usage.",
     {{"options", finetune_own_opts}, {"training (default: from --mode)", training_opts},
      {"common", common_opts}},
     "head,full", cmd_finetune},
};

static void print_usage(FILE *f) {
    fprintf(f, "usage: cellsight COMMAND [options]   (cellsight COMMAND --help for more)\n\n"
               "Cell-line classification of brightfield images (ScaffoldNet, Akogo & Palmer 2019).\n\n");
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        fprintf(f, "  cellsight %s %s\n", commands[i].name, commands[i].usage);
    fprintf(f, "\nResults go to stdout, progress and errors to stderr.\n"
               "Exit codes: 0 ok, 1 bad input (an image, a model file, a data folder), 2 usage.\n");
}

int main(int argc, char **argv) {
#ifdef __wasi__
    /* WASI has no current folder; relative paths mean the caller's (tools/wasi-run.mjs passes PWD). */
    const char *pwd = getenv("PWD");
    if (pwd) chdir(pwd);
#endif
    if (argc < 2) {
        print_usage(stderr);
        return EXIT_USAGE;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
        print_usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("cellsight %s\n", CS_VERSION);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++) {
        if (strcmp(argv[1], commands[i].name) != 0) continue;
        args a;
        int rc = parse_args(&a, &commands[i], argc - 2, argv + 2);
        if (rc < 0) {
            /* Every core unless told otherwise: the library's own default is 1. */
            cs_set_threads(has_opt(&a, "threads") ? (int)get_int(&a, "threads", 0, 0, 1024) : 0);
            rc = a.bad ? EXIT_USAGE : commands[i].run(&a);
        }
        free(a.pos);
        return rc;
    }
    fprintf(stderr, "cellsight: unknown command %s\n", argv[1]);
    print_usage(stderr);
    return EXIT_USAGE;
}
