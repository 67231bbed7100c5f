/* cmd_eval.c: cellsight eval, a model's figures on labelled images, or those
   of cross-validation by image (--folds images). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const option eval_own_opts[] = {
    {"model", "FILE", "the model (.safetensors)"},
    {"data", "DIR", "one folder of images per class, named like the model's classes"},
    {"json", NULL, "print the figures as one JSON object"},
    {"report", "DIR", "also write DIR/eval.json, roc.svg, reliability.svg, confusion.svg,\nper_class.md"},
    {"crop-bottom", "PX", "rows to crop off the bottom (default: the model's)"},
    {"rescale", NULL, "resample images of a known pixel size other than the model's\n"
                      "to its size before tiling (default); --no-rescale: classify\n"
                      "them at their own"},
    {"folds", "images", "cross-validation by image: per fold, train a fresh model as the\n"
                        "given one was trained (or as the training options say;\n"
                        "a fine-tuned one from its base again) and test it on the\n"
                        "held-out images"},
    {"protocol", "paper|ours", "with --folds: where the training defaults come from\n"
                               "(default: the model's)"},
    {0}};

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
static int run_eval(cs_model *m, const char *path, const char *dir, double um, int json, const char *report,
                    const plan *p) {
    int K = m->net.nclasses, rc, np = 0, bad_files = 0, nfolds = 0;
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
    if ((rc = load_data(&ds, dir, present, np, um, &bad_files))) goto done;
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
    int crop = (int)get_int(a, "crop-bottom", -1, 0, 100000), rescale = get_switch(a, "rescale", 1);
    double um = get_um_per_px(a);
    const char *folds = get_choice(a, "folds", NULL);
    /* --tta / --no-tta: without --folds, over the given model's tta */
    int tta = folds ? -1 : get_switch(a, "tta", -1);
    if (!folds && (given_any(a, training_opts, "tta") || given_any(a, new_model_opts, NULL) ||
                   get_str(a, "protocol")))
        usage_error(a, "training options go with --folds images");
    if (folds && !rescale) usage_error(a, "--no-rescale goes without --folds");
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
    m.no_rescale = !rescale;
    if (!rc) rc = run_eval(&m, path, dir, um, json, report, folds ? &p : NULL);
    cs_model_free(&m);
    return rc;
}

const command eval_command = {"eval", "--model FILE --data DIR [--json] [--report DIR] [--folds images]",
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
     {"training (with --folds; default: from the model)", training_opts},
     {"pixel size", pixel_opts}, {"common", common_opts}},
    "paper,ours", cmd_eval};
