/* args.c: the command line's options: parsing argv against a command's
   option lists, the values' checks (a usage error names the option), --help. */
#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int usage_error(args *a, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "cellsight %s: ", a->cmd->name);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, " (cellsight %s --help lists the options)\n", a->cmd->name);
    va_end(ap);
    a->bad = 1;
    return EXIT_USAGE;
}

static void print_help(const command *cmd) {
    printf("usage: cellsight %s %s\n\n%s\n", cmd->name, cmd->usage, cmd->about);
    for (const option_group *g = cmd->groups; g->opts; g++) {
        printf("\n%s:\n", g->title);
        for (const option *o = g->opts; o->name; o++) {
            char flag[256];
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
int parse_args(args *a, const command *cmd, int argc, char **argv) {
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

const char *get_str(const args *a, const char *name) { return a->value[find_opt(a, name)]; }

long long get_int(args *a, const char *name, long long def, long long lo, long long hi) {
    const char *s = get_str(a, name);
    if (!s) return def;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        usage_error(a, "--%s wants a whole number from %lld to %lld, not \"%s\"", name, lo, hi, s);
    return v;
}

double get_num(args *a, const char *name, double def, double lo, double hi) {
    const char *s = get_str(a, name);
    if (!s) return def;
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end || !(v >= lo && v <= hi))
        usage_error(a, "--%s wants a number from %g to %g, not \"%s\"", name, lo, hi, s);
    return v;
}

int get_switch(const args *a, const char *name, int def) {
    const char *s = get_str(a, name);
    return s ? s[0] == '1' : def;
}

/* The value if it is one of the choices the option's arg lists ("a|b|c"). */
const char *get_choice(args *a, const char *name, const char *def) {
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

const char *require(args *a, const char *name) {
    const char *s = get_str(a, name);
    if (!s) usage_error(a, "--%s %s is required", name, a->opt[find_opt(a, name)]->arg);
    return s;
}

int has_opt(const args *a, const char *name) {
    for (int k = 0; k < a->nopts; k++)
        if (strcmp(a->opt[k]->name, name) == 0) return 1;
    return 0;
}

/* 1 if an option of the list other than `except` (NULL: none) was given. */
int given_any(const args *a, const option *list, const char *except) {
    for (int k = 0; k < a->nopts; k++)
        if (a->value[k] && !(except && strcmp(a->opt[k]->name, except) == 0))
            for (const option *o = list; o->name; o++) if (a->opt[k] == o) return 1;
    return 0;
}

const option pixel_opts[] = {
    {"um-per-px", "UM", "the pixel size in micrometres of images whose files state none\n"
                        "(most JPEGs); a size a file states is kept"},
    {0}};

double get_um_per_px(args *a) {
    return get_num(a, "um-per-px", 0, CS_MIN_UM_PER_PX, CS_MAX_UM_PER_PX);
}

const option ood_opts[] = {
    {"ood-score", "mahalanobis|msp|knn_penultimate|mahalanobis_penultimate|knn_class_penultimate|trust_penultimate|image_class_penultimate",
     "how an image is told to be of none of the model's classes:\n"
     "mahalanobis, the pooled features' distance to the classes';\n"
     "msp, 1 - the tiles' top probability; knn_penultimate, the\n"
     "penultimate features' distance to the 10th nearest training tile's;\n"
     "mahalanobis_penultimate, mahalanobis on the penultimate features;\n"
     "knn_class_penultimate, knn_penultimate to the training tiles of\n"
     "the class the image is called; trust_penultimate, that over the\n"
     "same to the nearest other class's; image_class_penultimate, the\n"
     "image's mean penultimate features' distance to the nearest\n"
     "training image's of the class it is called\n"
     "(default: the base's, or mahalanobis for a new model; the model\n"
     "cards say which is better)"},
    {0}};

int set_ood_score(cs_model *m, const char *score) {
    cs_error e;
    return score && cs_model_set(m, CS_META_OOD_SCORE, score, &e) ? input_error("model", &e) : 0;
}

const option common_opts[] = {
    {"threads", "N", "worker threads (default 0: every core)"},
    {0}};
