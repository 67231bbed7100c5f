/* training.c: the training options of train, finetune and eval --folds: their
   lists, the plan (a cs_recipe) they make, and a run's log on stderr. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "net.h"

const option new_model_opts[] = {
    {"arch", "LAYERS", "the layers, e.g. conv32,pool,conv64,gap,dense32,dense (default\n"
                       "the paper's: " CS_PAPER_ARCH ")"},
    {"tile", "PX", "tile side in pixels (default 128)"},
    {0}};

const option training_opts[] = {
    {"epochs", "N", "epochs at most"},
    {"seed", "S", "random seed: the same seed, data and threads give the same model"},
    {"batch", "N", "tiles per step"},
    {"crops", "N", "random crops per training image and epoch; 0: each grid tile once"},
    {"density-bands", "N", "draw each image's random crops evenly over N bands of cell density\n"
                           "(the share of a crop's 16-pixel blocks showing cells), 1 to 10;\n"
                           "0: uniform over the image (default)"},
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
    {"lowres", "R", "augment with crops seen through pixels 1 to 1 + R times coarser,\n"
                    "brought back as predict resamples such images (another objective)"},
    {"lowres-share", "P", "the share of training crops that --lowres degrades, 0 < P <= 1\n"
                          "(default 1: every crop); the rest stay sharp"},
    {"gamma", "G", "augment with gray levels raised to powers in [1/(1+G), 1+G]\n"
                   "(exposure, contrast)"},
    {"balance", NULL, "weight the loss by inverse class frequency"},
    {"label-smoothing", "E", "train towards (1 - E) for the true class and E / K for each of\n"
                             "the K classes, 0 <= E < 1 (default 0)"},
    {"tta", NULL, "predict with the mean over each tile's 8 flips and rotations\n"
                  "(recorded in the model)"},
    {"threshold", "auto|P", "two classes: the second when its probability >= P; auto: the\n"
                            "best balanced accuracy on the validation tiles"},
    {"val-folds", "N", "validate on 1/N of each class's images, or on a band of rows when\n"
                       "a class has one image; 0: no validation, keep the last epoch\n"
                       "(default 2)"},
    {"val-fold", "I", "which of the N parts validates, 1 to N (default N, the smallest)"},
    {"refit", "yes|no", "yes: after the validated run, train again from the start on every\n"
                        "image, as many epochs, no validation, threshold 0.5 (unless given);\n"
                        "its calibration and open-set threshold are kept (default: yes in\n"
                        "head mode)"},
    {"val-split", "images|rows", "images: as --val-folds says; rows: a band of rows of every\n"
                                 "image (band I of N, the top one by default), so that training\n"
                                 "sees every image (default images)"},
    {0}};

/* The training options: the protocol's defaults, what `from` recorded (if not
   NULL), then the command line. */
void parse_plan(args *a, plan *p, const char *protocol, const cs_model *from) {
    cs_train_opts *o = &p->r.train;
    cs_recipe_defaults(&p->r, protocol);
    p->r.record_split = 1;
    if (from) cs_recipe_from_model(&p->r, from);
    o->crop_bottom = (int)get_int(a, "crop-bottom", o->crop_bottom, 0, 100000); /* -1: the model's */
    o->epochs = (int)get_int(a, "epochs", o->epochs, 1, 1000000);
    o->seed = (uint64_t)get_int(a, "seed", (long long)o->seed, 0, INT64_MAX);
    o->batch = (int)get_int(a, "batch", o->batch, 1, 4096);
    o->crops_per_image = (int)get_int(a, "crops", o->crops_per_image, 0, 1000000);
    o->density_bands = (int)get_int(a, "density-bands", o->density_bands, 0, CS_DENSITY_BANDS_MAX);
    if (o->density_bands && !o->crops_per_image)
        usage_error(a, "--density-bands draws random crops: give --crops N too");
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
    o->aug.lowres = (float)get_num(a, "lowres", o->aug.lowres, 0, 3);
    o->aug.lowres_share = (float)get_num(a, "lowres-share", o->aug.lowres_share, 0.001, 1);
    if (get_str(a, "lowres-share") && o->aug.lowres == 0)
        usage_error(a, "--lowres-share is the share of crops that --lowres degrades: give --lowres too");
    o->balance = get_switch(a, "balance", o->balance);
    o->label_smoothing = (float)get_num(a, "label-smoothing", o->label_smoothing, 0, 0.999);
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
    p->r.refit = strcmp(get_choice(a, "refit", p->r.refit ? "yes" : "no"), "yes") == 0;
    p->arch = has_opt(a, "arch") ? get_str(a, "arch") : NULL;
    if (!p->arch && from) p->arch = from->net.arch;
    p->tile = has_opt(a, "tile") ? (int)get_int(a, "tile", from ? from->net.tile : CS_TILE, 1, 4096)
                                 : CS_TILE;
}

/* One line of what a run will do, for --help and for the log. */
void describe_opts(FILE *f, const cs_train_opts *o) {
    char line[512];
    cs_recipe_describe(line, sizeof line, o);
    fputs(line, f);
}

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
    const char *all = st->refit ? "every image: " : ""; /* the refit's run */
    if (st->epoch == 0) { /* head mode: the frozen layers' features, once a run */
        if (progress_due(p, end))
            progress_line(p, end, "%sfeatures %d/%d, %s, about %s left", all, st->step, st->steps, el, left);
    } else if (st->calibrating) {
        if (progress_due(p, end))
            progress_line(p, end, "%scalibrating on the validation tiles in 8 symmetries %d/%d, %s, about %s left",
                          all, st->step, st->steps, el, left);
    } else if (end) {
        char val[80] = "";
        if (!isnan(st->val_loss))
            snprintf(val, sizeof val, "  validation loss %.4f accuracy %.4f%s", st->val_loss,
                     st->val_acc, st->best ? " (best)" : "");
        progress_line(p, 1, "%sepoch %d/%d  loss %.4f accuracy %.4f%s  lr %.3g  %s, about %s left",
                      all, st->epoch, st->epochs, st->train_loss, st->train_acc, val, st->lr, el, left);
    } else if (p->tty && progress_due(p, 0)) {
        progress_line(p, 0, "%sepoch %d/%d  step %d/%d  loss %.4f  %s, about %s left", all, st->epoch,
                      st->epochs, st->step, st->steps, st->train_loss, el, left);
    }
    return 0;
}

/* The plan's recipe with the training log's hooks. */
cs_recipe logged(const plan *p, training_log *log) {
    cs_recipe r = p->r;
    *log = (training_log){.o = &p->r.train};
    r.on_split = on_split;
    r.train.progress = on_train_step;
    r.train.ctx = log;
    return r;
}

int training_error(const training_log *log, const cs_error *e) {
    return input_error(log->split ? "training" : "validation split", e);
}

/* Splits validation images off data as p says and trains m on the rest. */
int train_model(cs_model *m, const cs_dataset *data, const plan *p) {
    training_log log;
    cs_recipe r = logged(p, &log);
    cs_error e;
    return cs_fit(m, data, &r, NULL, &e) ? training_error(&log, &e) : 0;
}

/* Saves m and says on stdout how the run went. */
int save_model(const cs_model *m, const char *path) {
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

/* Checks --arch and --tile before any image is read. */
void check_arch(args *a, const plan *p) {
    cs_net net;
    cs_error e;
    if (cs_net_init(&net, p->arch, p->tile, 2, &e)) usage_error(a, "%s", e.msg);
    else cs_net_free(&net);
}
