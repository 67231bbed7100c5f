/* cli.h: what the files of the cellsight program share (apps/cli only). */
#ifndef CS_CLI_H
#define CS_CLI_H

#include <stdint.h>
#include <stdio.h>
#if !defined(__wasi__)
#include <pthread.h>
#endif

#include "cellsight.h"

enum { EXIT_INPUT = 1, EXIT_USAGE = 2 };

/* ---------------------------------------------------------------- options (args.c) */

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
    option_group groups[7]; /* the command's own options first; ends with {0} */
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

/* Fills a from argv (the words after the command). Returns -1 to go on, or the
   exit code: 0 after --help, 2 on a usage error. */
int parse_args(args *a, const command *cmd, int argc, char **argv);
/* Says what is wrong on stderr and marks a as bad; returns EXIT_USAGE. */
int usage_error(args *a, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* An option's value, checked; def when it was not given. A bad value is a usage error. */
const char *get_str(const args *a, const char *name);
long long get_int(args *a, const char *name, long long def, long long lo, long long hi);
double get_num(args *a, const char *name, double def, double lo, double hi);
int get_switch(const args *a, const char *name, int def);
const char *get_choice(args *a, const char *name, const char *def);
const char *require(args *a, const char *name);
int has_opt(const args *a, const char *name);
int given_any(const args *a, const option *list, const char *except);

/* The option lists that more than one command takes. */
extern const option common_opts[], new_model_opts[], training_opts[], pixel_opts[], ood_opts[];
/* --ood-score's choice (NULL: not given) made m's, before its statistics are fitted. */
int set_ood_score(cs_model *m, const char *score);
/* --um-per-px: 0 when not given. */
double get_um_per_px(args *a);
extern const command train_command, eval_command, predict_command, info_command, finetune_command,
    list_command, summarize_command, calibrate_command;

/* ---------------------------------------------------------------- output (output.c) */

/* Progress on stderr: rewritten in place on a terminal, a line now and then in a log. */
typedef struct {
    double start, last;
    int tty;
} progress;


int input_error(const char *what, const cs_error *e);
const char *duration(char *buf, size_t size, double s);
void progress_start(progress *p);
int progress_due(progress *p, int last);
void progress_line(const progress *p, int keep, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
void progress_count(progress *p, const char *what, int done, int total);
char **split_list(const char *s, char sep, int *n);

/* Rows of cells on stdout: CSV, or columns padded to fixed widths. */
typedef struct {
    int csv, ncols, col;
    int *width;
    FILE *out;
} table;

/* A text cell (a name): in CSV by the library's rule, cs_csv_field. */
void cell(table *t, const char *s);
/* A number's cell, as printf formats it: written as it is (-0.5 is no formula). */
void cellf(table *t, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* A pixel size or scale as both CSVs write it (cs_format_xy), "-" in a table when not known. */
void cell_xy(table *t, float x, float y);
int load_model(cs_model *m, const char *path);
/* 1 if both paths name one existing file (an --out that would replace an input). */
int same_file(const char *a, const char *b);
int override_tta(cs_model *m, int tta, const char *path);

/* ---------------------------------------------------------------- files (files.c) */

/* The images predict classifies: its arguments, with folders expanded. */
typedef struct {
    char **path;
    int n, cap;
} file_list;


int list_images(file_list *l, char *const *args, int n);
extern const option selection_opts[]; /* --list, --shard */
int select_images(args *a, file_list *l);
int image_shard(const char *path, int n);
void free_files(file_list *l);
char **parse_classes(args *a, const char *s, int *n);
char **list_folders(const char *dir, int *n, cs_error *e);
int folder_classes(const char *dir, char ***classes, int *K);
int load_data(cs_dataset *ds, const char *dir, const char *const *classes, int K, double um,
              int *bad_files);
int load_classes(cs_dataset *ds, const char *dir, char ***classes, int *K, double um, int *bad_files);

/* ---------------------------------------------------------------- loader (loader.c) */

/* A page of an image file, decoded, or what went wrong. */
typedef struct {
    const char *file;
    char name[4096]; /* as the rows name it: the file, or file#N */
    cs_image im;
    int failed;      /* e says why */
    cs_error e;
    int last;        /* the file's last page */
} loaded;

/* The files' pages (first_page, 0-based, or with all_pages every page from
   it), decoded one ahead. Set the first fields, zero the rest. */
typedef struct {
    char *const *files;
    int nfiles, first_page, all_pages;
    int paged;       /* rows of files of several pages are named file#N */
    /* the file being read */
    int next_file, page, pages;
    const char *file;
    uint8_t *data;
    size_t size;
#if !defined(__wasi__)
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t changed;
    loaded slot;
    int threaded, full, done, stop;
#endif
} loader;

void loader_start(loader *ld);
int loader_next(loader *ld, loaded *out);
void loader_stop(loader *ld);

/* ---------------------------------------------------------------- CSV (csv.c) */

/* One record: field k is text + start[k], n fields. Reused from read to read. */
typedef struct {
    char *text;
    size_t len, cap;
    size_t *start, start_cap;
    int n;
} csv_record;

int csv_read(FILE *f, csv_record *r);
const char *csv_field(const csv_record *r, int k);
int csv_column(const csv_record *header, const char *name);
void csv_free(csv_record *r);

/* ---------------------------------------------------------------- resume (resume.c) */

/* The images a partial CSV has rows of, sorted. */
typedef struct {
    char **name;
    int n, cap;
} done_images;

int resume_open(const char *path, const char *header, int paged, FILE **out, done_images *d);
int done_has(const done_images *d, const char *file);
void done_free(done_images *d);

/* ---------------------------------------------------------------- training (training.c) */

/* The training a command does: the recipe, and a new model's layers. */
typedef struct {
    cs_recipe r;
    const char *arch;    /* a new model's layers (NULL: the paper's) */
    int tile;
} plan;

/* What a training run prints: the split, then the epochs; and which of the
   two an error came from. */
typedef struct {
    const cs_train_opts *o;
    progress pr;
    int split;
} training_log;

void parse_plan(args *a, plan *p, const char *protocol, const cs_model *from);
void describe_opts(FILE *f, const cs_train_opts *o);
cs_recipe logged(const plan *p, training_log *log);
int training_error(const training_log *log, const cs_error *e);
int train_model(cs_model *m, const cs_dataset *data, const plan *p);
int save_model(const cs_model *m, const char *path);
void check_arch(args *a, const plan *p);

#endif
