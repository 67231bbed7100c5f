/* recipe.c: the training options a model records in its metadata, one table
   for writing them (cs_train), reading them back (cs_recipe_from_model: "train
   as recorded") and saying them in a line (cs_recipe_describe). The table is
   in the order the keys are written, which keeps model files byte for byte. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* ------------------------------------------------------------ augment */

/* The augmentations of a size: metadata "rotate5", a description "rotate 5". */
static const struct {
    const char *name;
    size_t offset; /* of the float in cs_augment */
} sizes[] = {
    {"rotate", offsetof(cs_augment, rotate_deg)},
    {"shift", offsetof(cs_augment, shift)},
    {"zoom", offsetof(cs_augment, zoom)},
    {"blur", offsetof(cs_augment, blur)},
    {"gamma", offsetof(cs_augment, gamma)},
    {"lowres", offsetof(cs_augment, lowres)},
};
#define NSIZES (sizeof sizes / sizeof *sizes)

static float size_of(const cs_augment *a, size_t i) {
    return *(const float *)((const char *)a + sizes[i].offset);
}

/* "dihedral8,rotate5,zoom0.1" (sep ',', size after the name) or, for people,
   "dihedral rotate 5 zoom 0.1" (sep ' '); "none" for no augmentation. */
static void augment_text(char *buf, size_t size, const cs_augment *a, char sep) {
    int meta = sep == ',';
    size_t n = 0;
    buf[0] = 0;
    if (a->dihedral) n += snprintf(buf + n, size - n, "%c%s", sep, meta ? CS_AUGMENT_DIHEDRAL8 : "dihedral");
    if (a->hflip) n += snprintf(buf + n, size - n, "%c%s", sep, CS_AUGMENT_HFLIP);
    for (size_t i = 0; i < NSIZES && n < size; i++)
        if (size_of(a, i) > 0)
            n += snprintf(buf + n, size - n, meta ? "%c%s%g" : "%c%s %g", sep, sizes[i].name, size_of(a, i));
    if (n == 0) snprintf(buf, size, "%c%s", sep, CS_AUGMENT_NONE);
    memmove(buf, buf + 1, strlen(buf)); /* drop the leading separator */
}

static void read_augment(cs_train_opts *o, const char *v) {
    cs_augment aug = {0};
    char buf[256];
    snprintf(buf, sizeof buf, "%s", v);
    for (char *t = strtok(buf, ","); t; t = strtok(NULL, ",")) {
        aug.dihedral |= strcmp(t, CS_AUGMENT_DIHEDRAL8) == 0;
        aug.hflip |= strcmp(t, CS_AUGMENT_HFLIP) == 0;
        for (size_t i = 0; i < NSIZES; i++) {
            size_t len = strlen(sizes[i].name);
            if (strncmp(t, sizes[i].name, len) == 0)
                sscanf(t + len, "%f", (float *)((char *)&aug + sizes[i].offset));
        }
    }
    o->aug = aug;
}

/* ------------------------------------------------------------ the table */

/* A whole number from 0 to 1000000, else the option stays as it is. */
static void read_int(int *dst, const char *v) {
    char *end;
    long x = strtol(v, &end, 10);
    if (end != v && !*end && x >= 0 && x <= 1000000) *dst = (int)x;
}

/* Formats a key's value into v; 0 leaves the key out. */
typedef int (*write_fn)(char *v, size_t n, const cs_train_opts *o);
/* Puts a recorded value back. */
typedef void (*read_fn)(cs_train_opts *o, const char *v);

static int write_protocol(char *v, size_t n, const cs_train_opts *o) {
    return snprintf(v, n, "%s", o->protocol) >= 0;
}
static int write_created_by(char *v, size_t n, const cs_train_opts *o) {
    return snprintf(v, n, "cellsight %s %s", CS_VERSION, o->base_model ? "finetune" : "train") >= 0;
}
static int write_base_model(char *v, size_t n, const cs_train_opts *o) {
    return o->base_model && snprintf(v, n, "%s", o->base_model) >= 0;
}
static int write_mode(char *v, size_t n, const cs_train_opts *o) {
    return o->base_model && snprintf(v, n, "%s", o->head_only ? "head" : "full") >= 0;
}
static int write_lr(char *v, size_t n, const cs_train_opts *o) { return snprintf(v, n, "%g", o->lr) >= 0; }
static void read_lr(cs_train_opts *o, const char *v) {
    if (atof(v) > 0) o->lr = (float)atof(v);
}
static int write_schedule(char *v, size_t n, const cs_train_opts *o) {
    return snprintf(v, n, o->cosine ? CS_SCHEDULE_COSINE " to %g" : CS_SCHEDULE_CONSTANT, o->lr_final) >= 0;
}
static void read_schedule(cs_train_opts *o, const char *v) {
    o->cosine = sscanf(v, CS_SCHEDULE_COSINE " to %f", &o->lr_final) == 1;
}
static int write_augment(char *v, size_t n, const cs_train_opts *o) {
    augment_text(v, n, &o->aug, ',');
    return 1;
}
static int write_lowres_share(char *v, size_t n, const cs_train_opts *o) {
    return cs_augment_lowres_some(&o->aug) && snprintf(v, n, "%g", o->aug.lowres_share) >= 0;
}
static void read_lowres_share(cs_train_opts *o, const char *v) { /* after augment, which resets aug */
    double share = atof(v);
    if (share > 0 && share <= 1) o->aug.lowres_share = (float)share;
}
static int write_density_bands(char *v, size_t n, const cs_train_opts *o) {
    return o->density_bands > 0 && snprintf(v, n, "%d", o->density_bands) >= 0;
}
static void read_density_bands(cs_train_opts *o, const char *v) { read_int(&o->density_bands, v); }
static int write_label_smoothing(char *v, size_t n, const cs_train_opts *o) {
    return o->label_smoothing > 0 && snprintf(v, n, "%g", o->label_smoothing) >= 0;
}
static void read_label_smoothing(cs_train_opts *o, const char *v) {
    double e = atof(v);
    if (e > 0 && e < 1) o->label_smoothing = (float)e;
}
static int write_seed(char *v, size_t n, const cs_train_opts *o) {
    return snprintf(v, n, "%llu", (unsigned long long)o->seed) >= 0;
}
static void read_seed(cs_train_opts *o, const char *v) { o->seed = strtoull(v, NULL, 10); }
static int write_tta(char *v, size_t n, const cs_train_opts *o) {
    return snprintf(v, n, "%s", o->tta ? CS_TTA_DIHEDRAL8 : CS_TTA_NONE) >= 0;
}

enum { INT, RUN, OTHER };
static const struct {
    const char *key;
    int kind;
    size_t offset;  /* INT: of the int in cs_train_opts; RUN: in cs_run_record */
    write_fn write; /* OTHER */
    read_fn read;   /* OTHER; NULL: not read back (tta is the model's own field) */
} fields[] = {
    {CS_META_PROTOCOL, OTHER, 0, write_protocol, NULL},
    {"created_by", OTHER, 0, write_created_by, NULL},
    {CS_META_BASE_MODEL, OTHER, 0, write_base_model, NULL},
    {"mode", OTHER, 0, write_mode, NULL},
    {"epochs", INT, offsetof(cs_train_opts, epochs), NULL, NULL},
    {"epochs_run", RUN, offsetof(cs_run_record, epochs_run), NULL, NULL},
    {"best_epoch", RUN, offsetof(cs_run_record, best_epoch), NULL, NULL},
    {"patience", INT, offsetof(cs_train_opts, patience), NULL, NULL},
    {"batch", INT, offsetof(cs_train_opts, batch), NULL, NULL},
    {"crops_per_image", INT, offsetof(cs_train_opts, crops_per_image), NULL, NULL},
    {"density_bands", OTHER, 0, write_density_bands, read_density_bands},
    {"lr", OTHER, 0, write_lr, read_lr},
    {"lr_schedule", OTHER, 0, write_schedule, read_schedule},
    {"augment", OTHER, 0, write_augment, read_augment},
    {"lowres_share", OTHER, 0, write_lowres_share, read_lowres_share},
    {"balance", INT, offsetof(cs_train_opts, balance), NULL, NULL},
    {"label_smoothing", OTHER, 0, write_label_smoothing, read_label_smoothing},
    {"seed", OTHER, 0, write_seed, read_seed},
    {CS_META_TTA, OTHER, 0, write_tta, NULL},
    {CS_META_CROP_BOTTOM, RUN, offsetof(cs_run_record, crop_bottom), NULL, NULL},
};
#define NFIELDS (sizeof fields / sizeof *fields)

cs_status cs_recipe_record(cs_model *m, const cs_train_opts *o, const cs_run_record *run,
                           cs_error *err) {
    cs_status st = CS_OK;
    for (size_t i = 0; i < NFIELDS && !st; i++) {
        char v[256];
        int keep = 1;
        if (fields[i].kind == OTHER) keep = fields[i].write(v, sizeof v, o);
        else if (fields[i].kind == INT) snprintf(v, sizeof v, "%d", *(const int *)((const char *)o + fields[i].offset));
        else snprintf(v, sizeof v, "%d", *(const int *)((const char *)run + fields[i].offset));
        if (keep) st = cs_model_set(m, fields[i].key, v, err);
    }
    return st;
}

/* "images 2/2": validation on part 2 of 2 of the images ("rows": of every image's rows). */
static void read_val_split(cs_recipe *r, const char *v) {
    int folds, fold;
    char kind[8];
    if (!v || sscanf(v, "%7s %d/%d", kind, &fold, &folds) != 3 || folds < 2 || fold < 1 || fold > folds)
        return;
    r->val_folds = folds;
    r->val_fold = fold - 1;
    r->val_rows = strcmp(kind, CS_SPLIT_ROWS) == 0;
}

void cs_recipe_from_model(cs_recipe *r, const cs_model *m) {
    cs_train_opts *o = &r->train;
    for (size_t i = 0; i < NFIELDS; i++) {
        const char *v = cs_model_get(m, fields[i].key);
        if (!v) continue;
        if (fields[i].kind == INT) read_int((int *)((char *)o + fields[i].offset), v);
        else if (fields[i].kind == OTHER && fields[i].read) fields[i].read(o, v);
    }
    if (o->batch < 1) o->batch = 1;
    o->tta = m->tta;
    o->crop_bottom = m->crop_bottom;
    read_val_split(r, cs_model_get(m, CS_META_VAL_SPLIT));
    /* A model of our training records its protocol; a refit, its epochs. */
    if (cs_model_get(m, CS_META_PROTOCOL)) r->refit = cs_model_get(m, CS_META_REFIT_EPOCHS) != NULL;
}

cs_status cs_model_split(const cs_model *m, const cs_dataset *data, cs_dataset *train, cs_dataset *held,
                         cs_error *err) {
    cs_recipe r;
    cs_recipe_defaults(&r, NULL);
    r.val_folds = 0;
    cs_recipe_from_model(&r, m);
    if (!r.val_folds)
        return cs_fail(err, CS_EINPUT, "the model records no validation split (metadata %s)", CS_META_VAL_SPLIT);
    return (r.val_rows ? cs_dataset_split_rows : cs_dataset_split)(data, r.val_fold, r.val_folds, m->net.tile,
                                                                   m->crop_bottom, train, held, err);
}

cs_status cs_recipe_record_split(cs_model *m, const cs_recipe *r, cs_error *err) {
    char v[64];
    snprintf(v, sizeof v, "%s %d/%d", r->val_rows ? CS_SPLIT_ROWS : CS_SPLIT_IMAGES, r->val_fold + 1,
             r->val_folds);
    return cs_model_set(m, CS_META_VAL_SPLIT, v, err);
}

/* ------------------------------------------------------------ for people */

void cs_recipe_describe(char *buf, size_t size, const cs_train_opts *o) {
    char aug[160], crops[64] = "grid tiles", schedule[32] = "", smoothing[40] = "";
    augment_text(aug, sizeof aug, &o->aug, ' ');
    if (cs_augment_lowres_some(&o->aug))
        snprintf(aug + strlen(aug), sizeof aug - strlen(aug), " (on a share %g of crops)", o->aug.lowres_share);
    if (o->crops_per_image) snprintf(crops, sizeof crops, "%d crops per image", o->crops_per_image);
    if (o->crops_per_image && o->density_bands)
        snprintf(crops + strlen(crops), sizeof crops - strlen(crops), " in %d density bands", o->density_bands);
    if (o->cosine) snprintf(schedule, sizeof schedule, " cosine to %g", o->lr_final);
    if (o->label_smoothing > 0) snprintf(smoothing, sizeof smoothing, ", label smoothing %g", o->label_smoothing);
    snprintf(buf, size, "epochs %d, batch %d, %s, patience %d, lr %g%s, augment %s, balance %s%s, tta %s, threshold %s",
             o->epochs, o->batch, crops, o->patience, o->lr, schedule, aug, o->balance ? "on" : "off", smoothing,
             o->tta ? "on" : "off", o->auto_threshold ? "auto" : "0.5");
}
