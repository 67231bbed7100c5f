/* cmd_train.c: cellsight train, a new model. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const option train_own_opts[] = {
    {"data", "DIR", "one folder of whole images per class"},
    {"out", "FILE", "where to save the model (.safetensors)"},
    {"classes", "A,B,...", "the class folders, in output order (default: every folder of\n"
                           "DIR, by name)"},
    {"protocol", "paper|ours", "where the defaults come from (default paper)"},
    {"crop-bottom", "PX", "rows to crop off the bottom of every image (default 0; the\n"
                          "azgcb images need 96 for their overlay strip)"},
    {"role", "base|classifier", "base: a model to fine-tune from, which finetune and the page\n"
                                "start from by default (default classifier: metadata role\n"
                                "left out)"},
    {0}};

/* A new model of the classes, trained on ds (from dir) and saved to out. */
static int train_new(const plan *p, const cs_dataset *ds, const char *dir, const char *const *classes,
                     int K, const char *role, const char *ood, const char *out) {
    cs_error e;
    cs_model m;
    if (cs_model_init(&m, p->arch, p->tile, K, classes, p->r.train.seed, &e)) return input_error("model", &e);
    int rc = cs_model_set(&m, "data", dir, &e) ? input_error("model", &e) : 0;
    if (!rc && !strcmp(role, CS_ROLE_BASE)) rc = cs_model_set(&m, CS_META_ROLE, role, &e) ? input_error("model", &e) : 0;
    if (!rc) rc = set_ood_score(&m, ood);
    if (!rc) rc = train_model(&m, ds, p);
    if (!rc) rc = save_model(&m, out);
    cs_model_free(&m);
    return rc;
}

static int cmd_train(args *a) {
    const char *dir = require(a, "data"), *out = require(a, "out"), *names = get_str(a, "classes");
    const char *role = get_choice(a, "role", CS_ROLE_CLASSIFIER), *ood = get_choice(a, "ood-score", NULL);
    plan p;
    parse_plan(a, &p, get_choice(a, "protocol", "paper"), NULL);
    double um = get_um_per_px(a);
    int K = 0, rc = 0, bad_files = 0;
    char **classes = names ? parse_classes(a, names, &K) : NULL;
    if (a->npos) usage_error(a, "unexpected argument %s", a->pos[0]);
    if (!a->bad) check_arch(a, &p);
    if (a->bad) {
        free(classes);
        return EXIT_USAGE;
    }
    cs_dataset ds = {0};
    rc = load_classes(&ds, dir, &classes, &K, um, &bad_files);
    if (!rc) rc = train_new(&p, &ds, dir, (const char *const *)classes, K, role, ood, out);
    cs_dataset_free(&ds);
    free(classes);
    return rc ? rc : bad_files ? EXIT_INPUT : 0;
}

const command train_command = {"train", "--data DIR --out FILE.safetensors [options]",
    "Trains a new model on whole images, one folder per class. Validation goes by\n"
    "image, never by tile; the weights of the lowest validation loss are kept.\n"
    "Files not named as images (notes.txt, Thumbs.db) are skipped with a note, as\n"
    "predict does in a folder. Progress on stderr. Exit codes: 0 ok, 1 bad input\n"
    "(images that do not decode are skipped and listed, the model still saved, and\n"
    "the exit code is 1), 2 usage.",
    {{"options", train_own_opts}, {"model", new_model_opts}, {"training (default: from --protocol)", training_opts},
     {"pixel size", pixel_opts}, {"open set", ood_opts}, {"common", common_opts}},
    "paper,ours", cmd_train};
