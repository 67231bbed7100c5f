/* test_finetune.c: fine-tuning a model. Head mode trains the dense layers only
   (the convolutions stay bit for bit) and lowers the loss; the output layer can
   be resized to new classes, keeping the rest; full mode trains everything. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "test.h"
#include "test_train.h"

typedef struct {
    float first_loss, last_loss;
    int feature_calls;
} watch;

static int on_progress(void *ctx, const cs_train_status *s) {
    watch *w = ctx;
    w->feature_calls += s->epoch == 0;
    if (s->epoch == 1 && s->step == s->steps) w->first_loss = s->train_loss;
    if (s->epoch > 0 && !s->calibrating && s->step == s->steps) w->last_loss = s->train_loss;
    return 0;
}

/* Parameters before the first parameter of layer cs_net_head: the frozen ones. */
static size_t frozen_params(const cs_net *net) {
    const cs_layer *L = &net->layers[cs_net_head(net)];
    while (!L->weight) L++;
    return (size_t)(L->weight - net->params);
}

static void head_opts(cs_train_opts *o, watch *w) {
    cs_train_defaults(o, "head");
    CHECK(o->head_only && o->aug.dihedral);
    o->epochs = 15;
    o->patience = 0;
    o->lr = 1e-2f;
    o->crop_bottom = 0;
    o->base_model = "base.safetensors";
    o->progress = on_progress;
    o->ctx = w;
}

static void test_head(cs_model *m, const cs_dataset *train, const cs_dataset *val) {
    watch w = {0};
    cs_train_opts o;
    head_opts(&o, &w);
    float *before = copy_params(&m->net);
    size_t frozen = frozen_params(&m->net);
    cs_error err;
    cs_status st = cs_train(m, train, val, &o, &err);
    CHECK(st == CS_OK);
    if (st != CS_OK) fprintf(stderr, "head mode: %s\n", err.msg);
    printf("head mode (%d classes): train loss %.3f -> %.3f, val tile accuracy %s\n", m->net.nclasses,
           w.first_loss, w.last_loss, cs_model_get(m, "val_tile_accuracy"));
    CHECK(frozen > 0 && memcmp(before, m->net.params, sizeof(float) * frozen) == 0);
    CHECK(memcmp(before + frozen, m->net.params + frozen, sizeof(float) * (m->net.nparams - frozen)) != 0);
    CHECK(w.last_loss < w.first_loss);
    CHECK(w.feature_calls > 0);
    /* The features stood for the tiles: the kept epoch's loss, from them, is
       the loss of the tiles through the whole network. */
    const char *recorded = cs_model_get(m, "val_loss");
    CHECK(recorded && fabs(atof(recorded) - loss_on(m, val)) < 1e-4);
    same_as_predicted(m, val);
    CHECK(cs_model_get(m, "mode") && strcmp(cs_model_get(m, "mode"), "head") == 0);
    CHECK(cs_model_get(m, "base_model") && strcmp(cs_model_get(m, "base_model"), "base.safetensors") == 0);
    free(before);
}

/* K from 2 to 3: every layer but the output one is kept. */
static void test_resize(cs_model *m) {
    float *before = copy_params(&m->net);
    const cs_layer *out = &m->net.layers[m->net.nlayers - 1];
    size_t kept = (size_t)(out->weight - m->net.params);
    const char *names[] = {"T47D", "MDAMB231", "NEGATIVE"};
    cs_error err;
    CHECK(cs_model_set_classes(m, 3, names, 5, &err) == CS_OK);
    CHECK(m->net.nclasses == 3 && m->net.nout == 3);
    CHECK(memcmp(before, m->net.params, sizeof(float) * kept) == 0);
    CHECK(m->net.layers[m->net.nlayers - 1].nweight == (size_t)3 * m->net.layers[m->net.nlayers - 1].c);
    CHECK(strcmp(m->classes[2], "NEGATIVE") == 0);
    CHECK(cs_model_get(m, "classes") && strcmp(cs_model_get(m, "classes"), "T47D,MDAMB231,NEGATIVE") == 0);
    const char *twice[] = {"A", "A"};
    CHECK(cs_model_set_classes(m, 2, twice, 5, &err) == CS_EINPUT && m->net.nclasses == 3);
    free(before);
}

/* A third class for the resized head: the T47D images in negative. */
static void add_negatives(cs_dataset *to, const cs_dataset *from) {
    memset(to, 0, sizeof *to);
    for (int i = 0; i < from->n; i++)
        for (int negative = 0; negative < 1 + (from->labels[i] == 0); negative++) {
            const cs_image *src = &from->images[i];
            cs_image im = {.w = src->w, .h = src->h, .gray = malloc((size_t)src->w * src->h)};
            for (int p = 0; p < src->w * src->h; p++) im.gray[p] = negative ? 255 - src->gray[p] : src->gray[p];
            CHECK(cs_dataset_add(to, &im, negative ? 2 : from->labels[i], from->names[i], NULL) == CS_OK);
        }
}

static void test_full(cs_model *m, const cs_dataset *train, const cs_dataset *val) {
    cs_train_opts o;
    cs_train_defaults(&o, "full");
    CHECK(!o.head_only && o.cosine);
    o.epochs = 1;
    o.crops_per_image = 16;
    o.crop_bottom = 0;
    o.base_model = "base.safetensors";
    float *before = copy_params(&m->net);
    CHECK(cs_train(m, train, val, &o, NULL) == CS_OK);
    CHECK(memcmp(before, m->net.params, sizeof(float) * m->net.layers[0].nweight) != 0);
    CHECK(cs_model_get(m, "mode") && strcmp(cs_model_get(m, "mode"), "full") == 0);
    free(before);
}

/* Head mode's kept features: a later run on more images computes only the
   new images' and trains to the same weights as a run computing them all; a
   model with other frozen weights computes them all. */
static void test_feature_cache(const cs_dataset *train, const cs_dataset *all) {
    cs_model m[4];
    cs_error err;
    cs_dataset none = {0};
    cs_head_cache kept = {0};
    watch w[4] = {0};
    cs_train_opts o[4];
    for (int i = 0; i < 4; i++) {
        CHECK(cs_model_init(&m[i], ARCH, TILE, 2, CLASSES, 3, &err) == CS_OK);
        head_opts(&o[i], &w[i]);
        o[i].epochs = 3;
    }
    CHECK(cs_train_cached(&m[0], train, &none, &o[0], NULL, &kept, &err) == CS_OK);
    CHECK(kept.images == train && kept.views == 8 && kept.features && kept.count[0] > 0);
    CHECK(kept.first[1] == kept.count[0]);
    CHECK(cs_train_cached(&m[1], all, &none, &o[1], &kept, NULL, &err) == CS_OK);
    CHECK(cs_train(&m[2], all, &none, &o[2], &err) == CS_OK);
    printf("feature batches: %d reusing %d images' features, %d computing all\n", w[1].feature_calls,
           train->n, w[2].feature_calls);
    CHECK(w[1].feature_calls > 0 && w[1].feature_calls < w[2].feature_calls);
    CHECK(memcmp(m[1].net.params, m[2].net.params, sizeof(float) * m[1].net.nparams) == 0);
    CHECK(strcmp(cs_model_get(&m[1], "train_tiles"), cs_model_get(&m[2], "train_tiles")) == 0);
    m[3].net.params[0] += 0.5f;
    CHECK(cs_train_cached(&m[3], all, &none, &o[3], &kept, NULL, &err) == CS_OK);
    CHECK(w[3].feature_calls == w[2].feature_calls);
    cs_head_cache_free(&kept);
    CHECK(!kept.features);
    for (int i = 0; i < 4; i++) cs_model_free(&m[i]);
}

int main(int argc, char **argv) {
    cs_dataset all, train, val;
    cs_model m;
    cs_error err;
    load_fixture(argc, argv, &all, &train, &val, NULL);
    CHECK(cs_model_init(&m, ARCH, TILE, 2, CLASSES, 3, &err) == CS_OK);
    test_head(&m, &train, &val);
    test_resize(&m);
    cs_dataset train3, val3;
    add_negatives(&train3, &train);
    add_negatives(&val3, &val);
    test_head(&m, &train3, &val3);
    test_full(&m, &train3, &val3);
    test_feature_cache(&train, &all);
    cs_dataset_free(&train3);
    cs_dataset_free(&val3);
    cs_model_free(&m);
    cs_dataset_free(&train);
    cs_dataset_free(&val);
    cs_dataset_free(&all);
    return test_summary();
}
