/* cmd_calibrate.c: cellsight calibrate, a model's probabilities made to mean
   what they say (temperature scaling on images it did not train on). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const option calibrate_own_opts[] = {
    {"model", "FILE", "the model (.safetensors)"},
    {"data", "DIR", "one folder of images per class, named like the model's classes"},
    {"out", "FILE", "where to save the calibrated model (.safetensors)"},
    {"images", "val|all", "val: the part of DIR the model validated on, as its metadata\n"
                          "val_split says (default); all: every image of DIR, which\n"
                          "must be images the model did not train on"},
    {0}};

static int cmd_calibrate(args *a) {
    const char *path = require(a, "model"), *dir = require(a, "data"), *out = require(a, "out");
    int all = strcmp(get_choice(a, "images", "val"), "all") == 0;
    const char *ood = get_choice(a, "ood-score", NULL);
    double um = get_um_per_px(a);
    if (same_file(path, out))
        usage_error(a, "--out %s would replace the model: choose another file", out);
    if (a->npos) usage_error(a, "unexpected argument %s", a->pos[0]);
    if (a->bad) return EXIT_USAGE;
    cs_model m;
    if (load_model(&m, path)) return EXIT_INPUT;
    if (set_ood_score(&m, ood)) {
        cs_model_free(&m);
        return EXIT_INPUT;
    }
    cs_dataset ds = {0};
    int bad_files = 0, rc = load_data(&ds, dir, (const char *const *)m.classes, m.net.nclasses, um, &bad_files);
    double ece[2];
    cs_error e;
    if (!rc && cs_calibrate(&m, &ds, !all, ece, &e)) rc = input_error(dir, &e);
    if (!rc) {
        fprintf(stderr, "temperature %s: expected calibration error of the tiles %.4f, was %.4f\n",
                cs_model_get(&m, CS_META_TEMPERATURE), ece[1], ece[0]);
        rc = save_model(&m, out);
    }
    cs_dataset_free(&ds);
    cs_model_free(&m);
    return rc ? rc : bad_files ? EXIT_INPUT : 0;
}

const command calibrate_command = {"calibrate", "--model FILE --data DIR --out FILE.safetensors [options]",
    "Fits the model's temperature so that its probabilities match how often it is right\n"
    "on images it did not train on, and saves it (weights unchanged). Training and\n"
    "fine-tuning do this themselves; this is for a model made without it.\n"
    "Exit codes: 0 ok, 1 bad input, 2 usage.",
    {{"options", calibrate_own_opts}, {"pixel size", pixel_opts}, {"open set", ood_opts}, {"common", common_opts}},
    NULL, cmd_calibrate};
