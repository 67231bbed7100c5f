/* cmd_finetune.c: cellsight finetune, a model taught on your own images. */
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"

static const option finetune_own_opts[] = {
    {"model", "BASE", "the model to start from (.safetensors; default: the file\n"
                      "$CELLSIGHT_BASE names, else the base model of the source tree\n"
                      "this program was built from, " CS_DEFAULT_BASE ")"},
    {"data", "DIR", "one folder of whole images per class"},
    {"out", "FILE", "where to save the fine-tuned model (.safetensors)"},
    {"mode", "head|full", "head: train the dense layers on frozen features (seconds);\n"
                          "full: every layer, with augmentation"},
    {"classes", "A,B,...", "the class folders, in output order (default: every folder of\n"
                           "DIR, by name); other classes than the base's get a new\n"
                           "output layer"},
    {"crop-bottom", "PX", "rows to crop off the bottom (default: the base's)"},
    {0}};

/* Fine-tunes m, loaded from p's base model, on ds. */
static int finetune(cs_model *m, const cs_dataset *ds, const char *const *classes, int K, const plan *p) {
    if (!cs_model_has_classes(m, classes, K)) fprintf(stderr, "new classes: the output layer starts afresh\n");
    training_log log;
    cs_recipe r = logged(p, &log);
    cs_error e;
    if (!cs_finetune(m, ds, K, classes, &r, NULL, &e)) return 0;
    /* Before the split, an error with the classes not yet changed is the new output layer's. */
    if (!log.split && !cs_model_has_classes(m, classes, K)) return input_error(p->r.train.base_model, &e);
    return training_error(&log, &e);
}

/* The base without --model: the file $CELLSIGHT_BASE names, else the source
   tree's model/base.safetensors when there is one; NULL: neither. */
static const char *default_base(void) {
    const char *named = getenv("CELLSIGHT_BASE");
    if (named && *named) return named;
    FILE *f = fopen(CS_DEFAULT_BASE, "rb");
    if (!f) return NULL;
    fclose(f);
    return CS_DEFAULT_BASE;
}

static int cmd_finetune(args *a) {
    const char *base = get_str(a, "model"), *dir = require(a, "data"), *out = require(a, "out");
    const char *list = get_str(a, "classes"), *ood = get_choice(a, "ood-score", NULL);
    const char *mode = require(a, "mode") ? get_choice(a, "mode", NULL) : NULL;
    plan p;
    parse_plan(a, &p, mode ? mode : "head", NULL);
    if (!base && !(base = default_base()))
        usage_error(a, "no base model: give --model BASE (CELLSIGHT_BASE is not set and %s is not there)",
                    CS_DEFAULT_BASE);
    p.r.train.base_model = base;
    if (base && out && same_file(base, out))
        usage_error(a, "--out %s would replace the base model: choose another file", out);
    int K = 0, rc = 0, bad_files = 0;
    double um = get_um_per_px(a);
    char **classes = list ? parse_classes(a, list, &K) : NULL;
    if (a->npos) usage_error(a, "unexpected argument %s", a->pos[0]);
    if (a->bad) {
        free(classes);
        return EXIT_USAGE;
    }
    fprintf(stderr, "starting from %s\n", base);
    cs_model m;
    if (load_model(&m, base)) {
        free(classes);
        return EXIT_INPUT;
    }
    cs_dataset ds = {0};
    rc = load_classes(&ds, dir, &classes, &K, um, &bad_files);
    if (!rc) rc = set_ood_score(&m, ood);
    if (!rc) rc = finetune(&m, &ds, (const char *const *)classes, K, &p);
    if (!rc) rc = save_model(&m, out);
    cs_dataset_free(&ds);
    cs_model_free(&m);
    free(classes);
    return rc ? rc : bad_files ? EXIT_INPUT : 0;
}

const command finetune_command = {"finetune", "[--model BASE] --data DIR --mode head|full --out FILE.safetensors [options]",
    "Fine-tunes a model on your own images, one folder per class, validating by image.\n"
    "Without --model it starts from the base model ($CELLSIGHT_BASE, else the source\n"
    "tree's model/base.safetensors), as the page's Teach panel does; the base it\n"
    "starts from is printed on stderr.\n"
    "Exit codes: 0 ok, 1 bad input, 2 usage.",
    {{"options", finetune_own_opts}, {"training (default: from --mode)", training_opts},
     {"pixel size", pixel_opts}, {"open set", ood_opts}, {"common", common_opts}},
    "head,full", cmd_finetune};
