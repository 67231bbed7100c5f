/* test_recipe.c: recipes in the library. What cs_train records reads back as
   the same options (cs_recipe_from_model); cs_fit records its split (none
   without validation) and an imposed threshold; a refit trains again on every
   image keeping the validated run's figures; cs_finetune changes the output layer only for other
   classes; cs_cross_validate holds each image out once, pooled as per fold,
   and says why it cannot run. */
#include "test_train.h"

/* A recipe whose every recorded option differs from the defaults. */
static void odd_recipe(cs_recipe *r) {
    cs_recipe_defaults(r, "ours");
    cs_train_opts *o = &r->train;
    o->epochs = 2;
    o->patience = 5;
    o->batch = 16;
    o->crops_per_image = 6;
    o->density_bands = 3;
    o->lr = 2e-3f;
    o->lr_final = 3e-5f;
    o->aug = (cs_augment){.hflip = 1, .rotate_deg = 7.5f, .shift = 0.05f, .zoom = 0.2f, .blur = 1.5f, .gamma = 0.25f,
              .lowres = 0.5f, .lowres_share = 0.25f};
    o->balance = 0;
    o->label_smoothing = 0.15f;
    o->tta = 0;
    o->seed = 12345678901ULL;
    o->crop_bottom = 8;
    r->val_rows = 1;
    r->record_split = 1;
    r->threshold = 0.3;
}

static void test_round_trip(const cs_dataset *all) {
    cs_recipe r, back;
    odd_recipe(&r);
    cs_model m;
    cs_error err;
    CHECK(cs_model_init(&m, ARCH, TILE, 2, CLASSES, 1, &err) == CS_OK);
    CHECK(cs_fit(&m, all, &r, NULL, &err) == CS_OK);
    CHECK(cs_model_get(&m, CS_META_VAL_SPLIT) && strcmp(cs_model_get(&m, CS_META_VAL_SPLIT), "rows 2/2") == 0);
    CHECK(strcmp(cs_model_get(&m, "augment"), "hflip,rotate7.5,shift0.05,zoom0.2,blur1.5,gamma0.25,lowres0.5") == 0);
    CHECK(strcmp(cs_model_get(&m, "lowres_share"), "0.25") == 0);
    CHECK(strcmp(cs_model_get(&m, "density_bands"), "3") == 0);
    CHECK(strcmp(cs_model_get(&m, "label_smoothing"), "0.15") == 0);
    CHECK(strcmp(cs_model_get(&m, CS_META_TTA), CS_TTA_NONE) == 0);
    CHECK_NEAR(m.threshold, 0.3, 1e-6);

    cs_recipe_defaults(&back, "paper"); /* every recorded option overrides these */
    cs_recipe_from_model(&back, &m);
    const cs_train_opts *a = &r.train, *b = &back.train;
    CHECK(b->epochs == a->epochs && b->patience == a->patience && b->batch == a->batch);
    CHECK(b->crops_per_image == a->crops_per_image && b->balance == a->balance && b->tta == a->tta);
    CHECK(b->density_bands == 3 && b->label_smoothing == 0.15f);
    CHECK(b->lr == a->lr && b->cosine == a->cosine && b->lr_final == a->lr_final && b->seed == a->seed);
    CHECK(memcmp(&b->aug, &a->aug, sizeof a->aug) == 0);
    CHECK(b->crop_bottom == 8 && back.val_rows && back.val_folds == 2 && back.val_fold == 1);

    char line[512];
    cs_recipe_describe(line, sizeof line, b);
    CHECK(strstr(line, "epochs 2, batch 16, 6 crops per image in 3 density bands, patience 5, lr 0.002 cosine to 3e-05") != NULL);
    CHECK(strstr(line, "augment hflip rotate 7.5 shift 0.05 zoom 0.2 blur 1.5 gamma 0.25 lowres 0.5 (on a share 0.25 of crops),") != NULL);
    CHECK(strstr(line, "balance off, label smoothing 0.15, tta off") != NULL);

    /* Trained on again without validation: the earlier split is no longer its own. */
    r.val_folds = 0;
    r.train.epochs = 1;
    CHECK(cs_fit(&m, all, &r, NULL, &err) == CS_OK);
    CHECK(cs_model_get(&m, CS_META_VAL_SPLIT) == NULL);
    cs_model_free(&m);

    /* Every crop (share 1 or unset) and uniform crops write no key: the files of before. */
    cs_run_record run = {0};
    r.train.density_bands = 0;
    r.train.label_smoothing = 0;
    for (int i = 0; i < 2; i++) {
        r.train.aug.lowres_share = (float)i;
        CHECK(cs_model_init(&m, ARCH, TILE, 2, CLASSES, 1, &err) == CS_OK);
        CHECK(cs_recipe_record(&m, &r.train, &run, &err) == CS_OK);
        CHECK(cs_model_get(&m, "augment") && cs_model_get(&m, "lowres_share") == NULL);
        CHECK(cs_model_get(&m, "density_bands") == NULL && cs_model_get(&m, "label_smoothing") == NULL);
        cs_model_free(&m);
    }
}

/* Counts the images of the split: ctx is int[2]. */
static void on_split(void *ctx, const cs_dataset *train, const cs_dataset *val) {
    int *n = ctx;
    n[0] = train->n;
    n[1] = val->n;
}

static void test_finetune(const cs_dataset *all) {
    cs_model m;
    cs_error err;
    cs_recipe r;
    int counts[2] = {0, 0};
    cs_dataset val = {0};
    CHECK(cs_model_init(&m, ARCH, TILE, 2, CLASSES, 1, &err) == CS_OK);
    cs_recipe_defaults(&r, "head");
    r.train.epochs = 1;
    r.train.base_model = "base.safetensors";
    r.train.ctx = counts;
    r.on_split = on_split;
    float *before = copy_params(&m.net);
    int head = cs_net_head(&m.net);
    while (!m.net.layers[head].weight) head++;
    size_t front = (size_t)(m.net.layers[head].weight - m.net.params); /* the frozen features */
    /* The same classes: the output layer goes on from the base's. */
    CHECK(cs_finetune(&m, all, 2, CLASSES, &r, &val, &err) == CS_OK);
    CHECK(memcmp(before, m.net.params, sizeof(float) * front) == 0); /* head mode */
    CHECK(memcmp(before, m.net.params, sizeof(float) * m.net.nparams) != 0);
    CHECK(counts[0] == 4 && counts[1] == 2 && val.n == 2);
    CHECK(cs_model_get(&m, CS_META_VAL_SPLIT) == NULL); /* record_split not asked */
    CHECK(strcmp(cs_model_get(&m, CS_META_BASE_MODEL), "base.safetensors") == 0);
    cs_dataset_free(&val);
    /* Other classes (here the same in another order): a new output layer, named so. */
    const char *const swapped[] = {"MDAMB231", "T47D"};
    CHECK(!cs_model_has_classes(&m, swapped, 2) && cs_model_has_classes(&m, CLASSES, 2));
    r.val_folds = 0;
    CHECK(cs_finetune(&m, all, 2, swapped, &r, NULL, &err) == CS_OK);
    CHECK(cs_model_has_classes(&m, swapped, 2) && counts[0] == all->n && counts[1] == 0);
    free(before);
    cs_model_free(&m);
}

/* Refit: the validated run's calibration, open-set threshold and figures; weights
   trained again from the same start on every image (so unlike the validated run's),
   threshold 0.5, no split recorded; read back as a refit recipe. */
/* Batches of head-mode features each run of a fit computed. */
static int feature_batches[2];
static int count_feature_batches(void *ctx, const cs_train_status *s) {
    feature_batches[s->refit] += s->epoch == 0;
    return 0;
}

static void test_refit(const cs_dataset *all) {
    cs_model a, b, c;
    cs_error err;
    cs_recipe r;
    cs_recipe_defaults(&r, "head");
    r.train.epochs = 3;
    r.train.base_model = "base.safetensors";
    r.record_split = 1;
    CHECK(r.refit == 1); /* head mode's default */
    r.refit = 0;
    CHECK(cs_model_init(&a, ARCH, TILE, 2, CLASSES, 1, &err) == CS_OK);
    CHECK(cs_model_init(&b, ARCH, TILE, 2, CLASSES, 1, &err) == CS_OK);
    CHECK(cs_fit(&a, all, &r, NULL, &err) == CS_OK); /* validated only */
    r.refit = 1;
    r.train.progress = count_feature_batches;
    CHECK(cs_fit(&b, all, &r, NULL, &err) == CS_OK);
    r.train.progress = NULL;
    CHECK(memcmp(a.net.params, b.net.params, sizeof(float) * a.net.nparams) != 0);
    /* The threshold too: the pooled features the default score reads are frozen in head mode. */
    const char *same[] = {CS_META_TEMPERATURE, CS_META_VAL_ECE, CS_META_OOD_THRESHOLD, "val_images", "val_tiles",
                          "val_loss", "val_tile_accuracy", "best_epoch", "epochs"};
    for (size_t i = 0; i < sizeof same / sizeof *same; i++) {
        const char *x = cs_model_get(&a, same[i]), *y = cs_model_get(&b, same[i]);
        CHECK(x && y && strcmp(x, y) == 0);
    }
    CHECK(strcmp(cs_model_get(&b, CS_META_OOD_THRESHOLD), "none") != 0);
    CHECK(strcmp(cs_model_get(&b, CS_META_REFIT_EPOCHS), "3") == 0 && !cs_model_get(&a, CS_META_REFIT_EPOCHS));
    CHECK(atoi(cs_model_get(&b, "train_tiles")) > atoi(cs_model_get(&a, "train_tiles")));
    CHECK(b.threshold == 0.5f);
    CHECK(cs_model_get(&a, CS_META_VAL_SPLIT) && !cs_model_get(&b, CS_META_VAL_SPLIT));
    cs_recipe back;
    cs_recipe_defaults(&back, "head");
    cs_recipe_from_model(&back, &b);
    CHECK(back.refit == 1);
    cs_recipe_from_model(&back, &a);
    CHECK(back.refit == 0);
    /* The refit is cs_train on every image from the start, computing only the
       validation images' features: the validated run has the others'. */
    cs_train_opts o = r.train;
    o.patience = o.auto_threshold = 0;
    o.progress = count_feature_batches;
    int refit_batches = feature_batches[1];
    feature_batches[0] = 0;
    CHECK(cs_model_init(&c, ARCH, TILE, 2, CLASSES, 1, &err) == CS_OK);
    CHECK(cs_train(&c, all, NULL, &o, &err) == CS_OK);
    CHECK(memcmp(b.net.params, c.net.params, sizeof(float) * b.net.nparams) == 0);
    CHECK(refit_batches > 0 && refit_batches < feature_batches[0]);
    cs_model_free(&c);
    /* A score of the penultimate features, which the refit changes: its
       threshold is the validated run's rule applied to the new weights. */
    cs_dataset split, val;
    CHECK(cs_model_init(&c, ARCH, TILE, 2, CLASSES, 1, &err) == CS_OK);
    CHECK(cs_model_set(&c, CS_META_OOD_SCORE, CS_OOD_KNN, &err) == CS_OK);
    CHECK(cs_fit(&c, all, &r, NULL, &err) == CS_OK);
    char *th = strdup(cs_model_get(&c, CS_META_OOD_THRESHOLD));
    CHECK(cs_dataset_split(all, r.val_fold, r.val_folds, TILE, c.crop_bottom, &split, &val, &err) == CS_OK);
    CHECK(cs_ood_fit(&c, &split, &val, CS_OOD_FRR, &err) == CS_OK);
    CHECK(strcmp(th, "none") != 0 && strcmp(th, cs_model_get(&c, CS_META_OOD_THRESHOLD)) == 0);
    free(th);
    cs_dataset_free(&split);
    cs_dataset_free(&val);
    cs_model_free(&c);
    /* A model with no split left has none to calibrate on. */
    cs_dataset tr, held;
    CHECK(cs_model_split(&b, all, &tr, &held, &err) == CS_EINPUT && strstr(err.msg, "val_split"));
    /* Trained again without refit: the key goes. */
    r.refit = 0;
    CHECK(cs_fit(&b, all, &r, NULL, &err) == CS_OK && !cs_model_get(&b, CS_META_REFIT_EPOCHS));
    cs_model_free(&a);
    cs_model_free(&b);
}

static int evaluated;
static int on_evaluated(void *ctx, int done, int total) {
    evaluated += done > 0;
    return 0;
}

static void test_cross_validate(const cs_dataset *all) {
    cs_model m;
    cs_error err;
    CHECK(cs_model_init(&m, ARCH, TILE, 2, CLASSES, 1, &err) == CS_OK);
    cs_cv_opts o = {.arch = ARCH, .on_evaluated = on_evaluated};
    cs_recipe_defaults(&o.recipe, "paper");
    o.recipe.train.epochs = 1;
    cs_eval pooled, *folds;
    int nfolds;
    cs_eval_init(&pooled, 2);
    CHECK(cs_cross_validate(&m, all, &o, &pooled, &folds, &nfolds, &err) == CS_OK);
    CHECK(nfolds == 3 && pooled.n == all->n && evaluated == all->n); /* 3 images a class */
    int held = 0;
    for (int k = 0; k < nfolds; k++) {
        held += folds[k].n;
        for (int i = 0; i < folds[k].n; i++) CHECK(folds[k].image[i].fold == k + 1);
        cs_eval_free(&folds[k]);
    }
    free(folds);
    CHECK(held == all->n);
    cs_eval_free(&pooled);

    /* One image of a class cannot be held out and trained on. */
    cs_dataset one = {0};
    cs_image im = {0};
    for (int i = 0; i < all->n; i++) {
        if (all->labels[i] == 1 && one.n > 0 && one.labels[one.n - 1] == 1) continue;
        im = (cs_image){.w = all->images[i].w, .h = all->images[i].h,
                        .gray = malloc((size_t)all->images[i].w * all->images[i].h)};
        memcpy(im.gray, all->images[i].gray, (size_t)im.w * im.h);
        CHECK(cs_dataset_add(&one, &im, all->labels[i], all->names[i], &err) == CS_OK);
    }
    cs_eval_init(&pooled, 2);
    CHECK(cs_cross_validate(&m, &one, &o, &pooled, &folds, &nfolds, &err) == CS_EINPUT);
    CHECK(folds == NULL && nfolds == 0 && strstr(err.msg, "MDAMB231 has 1") != NULL);
    cs_eval_free(&pooled);
    cs_dataset_free(&one);
    cs_model_free(&m);
}

int main(int argc, char **argv) {
    cs_dataset all = {0}, train = {0}, val = {0};
    load_fixture(argc, argv, &all, &train, &val, NULL);
    test_round_trip(&all);
    test_finetune(&all);
    test_refit(&all);
    test_cross_validate(&all);
    cs_dataset_free(&all);
    cs_dataset_free(&train);
    cs_dataset_free(&val);
    return test_summary();
}
