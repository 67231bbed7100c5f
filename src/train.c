/* train.c: the one training loop, for new models and for fine-tuning.

   An epoch shuffles the training inputs, runs them in batches through layers
   [from, nlayers) with Adam on their parameters, then scores the validation
   tiles; the weights of the lowest validation loss are kept. from is 0, the
   network's input, except in head mode, where the inputs are the pooled
   features of a fixed set of crops, computed once, and only the layers after
   the global pooling train. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "internal.h"

void cs_train_defaults(cs_train_opts *o, const char *protocol) {
    memset(o, 0, sizeof *o);
    o->batch = 32;
    o->lr = o->lr_final = 1e-3f;
    o->seed = 1;
    o->crop_bottom = -1;
    if (protocol && strcmp(protocol, "paper") == 0) {
        /* Keras: ImageDataGenerator(horizontal_flip=True, rotation_range=5,
           width_shift_range=0.1, height_shift_range=0.1, zoom_range=0.1), Adam at
           a constant 1e-3, 8 epochs, the lowest-validation-loss checkpoint. */
        o->epochs = 8;
        o->aug = (cs_augment){.hflip = 1, .rotate_deg = 5, .shift = 0.1f, .zoom = 0.1f};
    } else if (protocol && strcmp(protocol, "head") == 0) {
        /* Features of every grid tile in its 8 symmetries: the dense layers then
           train in moments, so many epochs cost nothing. */
        o->epochs = 60;
        o->patience = 15;
        o->aug = (cs_augment){.dihedral = 1};
        o->balance = o->tta = o->auto_threshold = o->head_only = 1;
    } else {
        /* A microscope has no "up": all 8 symmetries, plus the small rotations
           and zooms of the paper; random crops anywhere in the image (no shift
           needed); a cosine decay; stop once validation stops improving. */
        int full = protocol && strcmp(protocol, "full") == 0;
        o->epochs = full ? 12 : 40;
        o->patience = full ? 4 : 8;
        o->crops_per_image = full ? 300 : 600;
        o->lr = full ? 3e-4f : 1e-3f; /* fine-tuning: do not wreck what the base learnt */
        o->lr_final = 1e-5f;
        o->cosine = 1;
        o->aug = (cs_augment){.dihedral = 1, .rotate_deg = 5, .zoom = 0.1f};
        o->balance = o->tta = o->auto_threshold = 1;
        protocol = full ? "full" : "ours";
    }
    snprintf(o->protocol, sizeof o->protocol, "%s", protocol);
}

/* ------------------------------------------------------------ the trainer */

/* One input: a grid tile (top-left x, y) or a crop (centre x, y) of an image. */
typedef struct {
    int image, label;
    float x, y;
} sample;

typedef struct {
    cs_model *m;
    cs_net *net;
    const cs_train_opts *o;
    const cs_dataset *train, *val;
    const cs_head_cache *reuse; /* head mode: features computed before, or NULL */
    int tile, crop, K;
    int from;             /* first layer trained */
    size_t param_from;    /* its first parameter */
    size_t insize;        /* floats of one input of layer `from` */
    cs_workspace *ws;     /* for training steps */
    cs_workspace *infer_ws; /* for the passes without a backward one: faster */
    cs_rng rng;

    int ntrain;           /* training inputs per epoch */
    sample *samples;      /* [ntrain]: centres of training crops */
    cs_density_bands *bands; /* [train->n] with o->density_bands, else NULL */
    float *features;      /* head mode: [ntrain][insize], the inputs themselves */
    int *order;           /* [ntrain] this epoch's shuffle */
    float *class_weight;  /* [K] inverse class frequency, or NULL */

    int nval;
    sample *vtiles;       /* [nval] foreground grid tiles of the validation images */
    float *vfeatures;     /* head mode: [nval][insize] */
    int *vlabels;         /* [nval] */
    float *val_weight;    /* [K] as class_weight, for the validation tiles */
    float *vprobs, *best_vprobs; /* [nval][K] this epoch's and the kept epoch's */
    float *vtta;          /* [nval][K] the kept weights' mean over 8 symmetries, with TTA */

    float *x, *probs;     /* a batch: [batch][tile][tile], [batch][K] */
    int *labels;
    float *best;          /* [nparams] the kept weights */

    double t0, phase_t0;  /* start of the run, and of its current phase */
    long done, total;     /* batches of the phase run and planned, for the time estimate */
    int epochs_run, best_epoch;
    float best_loss, best_acc;
} trainer;

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Phases (head mode's features, the epochs) differ in cost per batch, so each
   estimates its own remaining time. */
static void start_phase(trainer *t, long batches) {
    t->phase_t0 = now();
    t->done = 0;
    t->total = batches;
}

/* Calls the progress callback; nonzero means cancel. */
static int report(trainer *t, cs_train_status *s) {
    if (!t->o->progress) return 0;
    double t1 = now();
    s->seconds = t1 - t->t0;
    s->eta = t->done ? (t1 - t->phase_t0) / t->done * (t->total - t->done) : 0;
    return t->o->progress(t->o->ctx, s);
}

/* The class a probability vector votes for (ties to the later class, as
   "class 1 when p1 >= 0.5"). */
static int argmax(const float *p, int K) {
    int best = 0;
    for (int c = 1; c < K; c++)
        if (p[c] >= p[best]) best = c;
    return best;
}

/* n / (K n_c): every class weighs as much in the loss, whatever its count
   (0 for a class without samples). */
static float *inverse_frequency(const sample *s, int n, int K) {
    float *w = calloc((size_t)K, sizeof *w);
    if (!w) return NULL;
    for (int i = 0; i < n; i++) w[s[i].label] += 1;
    for (int c = 0; c < K; c++) w[c] = w[c] > 0 ? (float)n / ((float)K * w[c]) : 0;
    return w;
}

/* The foreground grid tiles of every image of ds, top-left corners. */
static cs_status grid_tiles(const cs_dataset *ds, int tile, int crop, sample **out, int *n,
                            cs_error *err) {
    *out = NULL;
    *n = 0;
    int total = 0;
    for (int i = 0; i < ds->n; i++) {
        int cols, rows;
        cs_tile_grid(ds->images[i].w, ds->images[i].h, crop, tile, &cols, &rows);
        total += cols * rows;
    }
    float *scratch = malloc(sizeof(float) * tile * tile);
    *out = malloc(sizeof(sample) * (total ? total : 1));
    if (!scratch || !*out) {
        free(scratch);
        return cs_fail(err, CS_ENOMEM, "out of memory listing tiles");
    }
    for (int i = 0; i < ds->n; i++) {
        int cols, rows;
        cs_tile_grid(ds->images[i].w, ds->images[i].h, crop, tile, &cols, &rows);
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++)
                if (!cs_tile_read(scratch, &ds->images[i], c * tile, r * tile, tile))
                    (*out)[(*n)++] = (sample){i, ds->labels[i], (float)(c * tile), (float)(r * tile)};
    }
    free(scratch);
    return CS_OK;
}

/* New random crop centres, uniform over the places a whole tile fits, or
   evenly over each image's bands of cell density. */
static void draw_crops(trainer *t) {
    for (int i = 0; i < t->ntrain; i++) {
        sample *s = &t->samples[i];
        const cs_image *im = &t->train->images[s->image];
        if (t->bands) {
            cs_density_draw(&t->bands[s->image], &t->rng, &s->x, &s->y);
            continue;
        }
        s->x = 0.5f * t->tile + cs_rng_uniform(&t->rng) * (im->w - t->tile);
        s->y = 0.5f * t->tile + cs_rng_uniform(&t->rng) * (im->h - t->crop - t->tile);
    }
}

static void free_bands(trainer *t) {
    for (int i = 0; t->bands && i < t->train->n; i++) cs_density_bands_free(&t->bands[i]);
    free(t->bands);
    t->bands = NULL;
}

/* The training inputs of an epoch: every foreground grid tile (crops_per_image
   0, as the paper) or crops_per_image random crops of each image. Background
   tiles do not vote in a prediction, so they are not trained on either. */
static cs_status list_training_crops(trainer *t, cs_error *err) {
    const cs_dataset *ds = t->train;
    for (int i = 0; i < ds->n; i++)
        if (ds->images[i].w < t->tile || ds->images[i].h - t->crop < t->tile)
            return cs_fail(err, CS_EINPUT, "%s is smaller than one %d-pixel tile once %d rows are cropped",
                           ds->names[i], t->tile, t->crop);
    if (t->o->crops_per_image <= 0 && t->o->density_bands > 0)
        return cs_fail(err, CS_EINPUT, "drawing crops by density needs random crops (crops per image above 0)");
    if (t->o->crops_per_image <= 0) {
        cs_status st = grid_tiles(ds, t->tile, t->crop, &t->samples, &t->ntrain, err);
        for (int i = 0; i < t->ntrain; i++) { /* centres, as cs_tile_sample takes them */
            t->samples[i].x += 0.5f * t->tile;
            t->samples[i].y += 0.5f * t->tile;
        }
        return st;
    }
    t->ntrain = ds->n * t->o->crops_per_image;
    t->samples = malloc(sizeof(sample) * t->ntrain);
    if (!t->samples) return cs_fail(err, CS_ENOMEM, "out of memory listing crops");
    if (t->o->density_bands > 0) {
        if (!(t->bands = calloc((size_t)ds->n, sizeof *t->bands)))
            return cs_fail(err, CS_ENOMEM, "out of memory listing crops");
        for (int i = 0; i < ds->n; i++) {
            cs_status st = cs_density_bands_init(&t->bands[i], &ds->images[i], t->crop, t->tile,
                                                 t->o->density_bands, err);
            if (st) return st;
        }
    }
    for (int i = 0; i < t->ntrain; i++) {
        int image = i / t->o->crops_per_image;
        t->samples[i] = (sample){image, ds->labels[image], 0, 0};
    }
    draw_crops(t);
    return CS_OK;
}

/* Fills the batch with training inputs order[0..B). */
static void fill_training_batch(trainer *t, const int *order, int B) {
    for (int b = 0; b < B; b++) {
        const sample *s = &t->samples[order[b]];
        float *x = t->x + b * t->insize; /* a tile, or head mode's features */
        t->labels[b] = s->label;
        if (t->features)
            memcpy(x, t->features + order[b] * t->insize, sizeof(float) * t->insize);
        else
            cs_tile_sample(x, &t->train->images[s->image], t->crop, s->x, s->y, t->tile, &t->o->aug,
                           &t->rng);
    }
}

/* Fills the batch with validation tiles [i, i + B), or their features once
   head mode has them. */
static void fill_validation_batch(trainer *t, int i, int B) {
    if (t->vfeatures) {
        memcpy(t->x, t->vfeatures + (size_t)i * t->insize, sizeof(float) * t->insize * B);
        return;
    }
    for (int b = 0; b < B; b++) {
        const sample *s = &t->vtiles[i + b];
        cs_tile_read(t->x + (size_t)b * t->tile * t->tile, &t->val->images[s->image], (int)s->x, (int)s->y,
                     t->tile);
    }
}

/* Head mode sees each training crop in every symmetry aug allows, at once:
   the 8 flips and rotations (dihedral), or as is and mirrored (hflip). They are
   cs_tile_dihedral's k = 0..views-1 (k = 1 being the mirror). */
static int head_views(const cs_augment *aug) { return aug->dihedral ? 8 : aug->hflip ? 2 : 1; }

/* Crops of one feature batch: a batch's worth of inputs, at least one crop. */
static int head_crops_per_batch(const cs_train_opts *o) {
    int n = o->batch / head_views(&o->aug);
    return n > 0 ? n : 1;
}

/* Head mode: for each training crop, the first row of t->reuse's features
   that holds its views if the cache has its image (the same pixels, as many
   crops), else -1. A cache of other frozen weights or crops is not used. */
static cs_status cached_rows(const trainer *t, int views, long **rows, cs_error *err) {
    const cs_head_cache *c = t->reuse;
    *rows = malloc(sizeof(long) * (t->ntrain + 1));
    if (!*rows) return cs_fail(err, CS_ENOMEM, "out of memory for the features of %d crops", t->ntrain);
    for (int i = 0; i < t->ntrain; i++) (*rows)[i] = -1;
    if (!c || c->views != views || c->crop != t->crop || c->insize != t->insize ||
        c->nfrozen != t->param_from || memcmp(c->frozen, t->net->params, sizeof(float) * c->nfrozen))
        return CS_OK;
    for (int i = 0; i < t->ntrain;) { /* an image's crops are adjacent */
        int j = t->samples[i].image, n = 0, match = -1;
        while (i + n < t->ntrain && t->samples[i + n].image == j) n++;
        const cs_image *im = &t->train->images[j];
        for (int k = 0; k < c->images->n && match < 0; k++) {
            const cs_image *o = &c->images->images[k];
            if (o->w == im->w && o->h == im->h && c->count[k] == n * views &&
                memcmp(o->gray, im->gray, (size_t)im->w * im->h) == 0)
                match = k;
        }
        for (int m = 0; m < n && match >= 0; m++) (*rows)[i + m] = c->first[match] + (long)m * views;
        i += n;
    }
    return CS_OK;
}

/* Head mode: the inputs of layer `from` for the training crops (in their
   views, the rest of aug drawn once; copied from t->reuse where it has them)
   and for the validation tiles, after which those become the samples. */
static cs_status compute_features(trainer *t, cs_error *err) {
    int views = head_views(&t->o->aug), per_batch = head_crops_per_batch(t->o), nfeat = t->ntrain * views;
    cs_augment aug = t->o->aug;
    aug.dihedral = aug.hflip = 0;
    size_t T = (size_t)t->tile * t->tile, row = sizeof(float) * t->insize;
    sample *expanded = malloc(sizeof(sample) * nfeat);
    float *crop = malloc(sizeof(float) * T);
    float *features = malloc(row * nfeat);
    float *vfeatures = malloc(row * (t->nval ? t->nval : 1));
    int *batch = malloc(sizeof(int) * per_batch); /* the crops in t->x */
    long *cached = NULL;
    cs_status status = CS_OK;
    if (!expanded || !crop || !features || !vfeatures || !batch)
        status = cs_fail(err, CS_ENOMEM, "out of memory for the features of %d crops", nfeat);
    if (!status) status = cached_rows(t, views, &cached, err);
    int todo = 0;
    for (int i = 0; i < t->ntrain && !status; i++) todo += cached[i] < 0;
    int steps = (todo + per_batch - 1) / per_batch + (t->nval + t->o->batch - 1) / t->o->batch;
    start_phase(t, steps);
    cs_train_status st = {.epochs = t->o->epochs, .steps = steps, .lr = t->o->lr};
    st.train_loss = st.train_acc = st.val_loss = st.val_acc = NAN;
    for (int i = 0; i < t->ntrain && status == CS_OK;) { /* per_batch crops to compute, each in `views` symmetries */
        int B = 0;
        for (; i < t->ntrain && B < per_batch; i++) {
            const sample *s = &t->samples[i];
            for (int k = 0; k < views; k++) expanded[i * views + k] = *s;
            if (cached[i] >= 0) {
                memcpy(features + (size_t)i * views * t->insize, t->reuse->features + cached[i] * t->insize,
                       row * views);
                continue;
            }
            cs_tile_sample(crop, &t->train->images[s->image], t->crop, s->x, s->y, t->tile, &aug, &t->rng);
            for (int k = 0; k < views; k++) cs_tile_dihedral(t->x + (B * views + k) * T, crop, t->tile, k);
            batch[B++] = i;
        }
        if (!B) break;
        cs_net_forward(t->net, t->infer_ws, 0, t->x, B * views, 0, NULL, t->probs);
        const float *out = cs_net_activation(t->infer_ws, t->from);
        for (int b = 0; b < B; b++)
            memcpy(features + (size_t)batch[b] * views * t->insize, out + (size_t)b * views * t->insize, row * views);
        t->done++, st.step++;
        if (report(t, &st)) status = cs_fail(err, CS_ECANCEL, "training cancelled");
    }
    for (int v = 0; v < t->nval && status == CS_OK; st.step++) {
        int B = t->nval - v < t->o->batch ? t->nval - v : t->o->batch;
        fill_validation_batch(t, v, B);
        cs_net_forward(t->net, t->infer_ws, 0, t->x, B, 0, NULL, t->probs);
        memcpy(vfeatures + (size_t)v * t->insize, cs_net_activation(t->infer_ws, t->from), row * B);
        v += B;
        t->done++;
        if (report(t, &st)) status = cs_fail(err, CS_ECANCEL, "training cancelled");
    }
    free(crop);
    free(batch);
    free(cached);
    if (status != CS_OK) {
        free(expanded);
        free(features);
        free(vfeatures);
        return status;
    }
    free(t->samples);
    t->samples = expanded;
    t->ntrain = nfeat;
    t->features = features;
    t->vfeatures = vfeatures;
    return CS_OK;
}

/* Head mode: this run's training features handed to c (t keeps none), by
   image, with the frozen weights they came through. */
static cs_status keep_features(trainer *t, cs_head_cache *c, cs_error *err) {
    int n = t->train->n;
    *c = (cs_head_cache){.images = t->train, .views = head_views(&t->o->aug), .crop = t->crop,
                         .insize = t->insize, .nfrozen = t->param_from};
    c->first = calloc((size_t)n, sizeof(int));
    c->count = calloc((size_t)n, sizeof(int));
    c->frozen = malloc(sizeof(float) * (c->nfrozen + 1));
    if (!c->first || !c->count || !c->frozen) {
        cs_head_cache_free(c);
        return cs_fail(err, CS_ENOMEM, "out of memory keeping the features");
    }
    memcpy(c->frozen, t->net->params, sizeof(float) * c->nfrozen);
    for (int i = t->ntrain - 1; i >= 0; i--) { /* rows of an image are adjacent */
        c->first[t->samples[i].image] = i;
        c->count[t->samples[i].image]++;
    }
    c->features = t->features;
    t->features = NULL;
    return CS_OK;
}

void cs_head_cache_free(cs_head_cache *c) {
    free(c->first);
    free(c->count);
    free(c->features);
    free(c->frozen);
    *c = (cs_head_cache){0};
}

/* Scores every validation tile with dropout off: probabilities in t->vprobs,
   the (class-weighted when balancing) loss and the tile accuracy. */
static float validate(trainer *t, float *acc) {
    int correct = 0;
    for (int i = 0; i < t->nval; i += t->o->batch) {
        int B = t->nval - i < t->o->batch ? t->nval - i : t->o->batch;
        fill_validation_batch(t, i, B);
        cs_net_forward(t->net, t->infer_ws, t->from, t->x, B, 0, NULL, t->vprobs + (size_t)i * t->K);
        t->done++;
    }
    for (int i = 0; i < t->nval; i++) correct += argmax(t->vprobs + (size_t)i * t->K, t->K) == t->vlabels[i];
    *acc = t->nval ? (float)correct / t->nval : NAN;
    return t->nval ? cs_net_loss(t->net, t->vprobs, t->vlabels, t->val_weight, 0, t->nval) : NAN;
}

/* With TTA the model gives a tile the mean of its 8 symmetries' probabilities,
   softer than one view's, so the temperature and threshold are set on those:
   the kept weights score the validation tiles so once, after the epochs (the
   epochs themselves are judged by one view, for speed). */
static cs_status score_as_predicted(trainer *t, cs_error *err) {
    if (!t->o->tta || !t->nval) return CS_OK;
    int K = t->K, batch = t->o->batch, steps = (t->nval + batch - 1) / batch;
    size_t T = (size_t)t->tile * t->tile;
    float *tiles = malloc(sizeof(float) * T * batch);
    t->vtta = calloc((size_t)t->nval * K, sizeof(float));
    if (!tiles || !t->vtta) {
        free(tiles);
        return cs_fail(err, CS_ENOMEM, "out of memory scoring %d validation tiles", t->nval);
    }
    start_phase(t, steps);
    cs_train_status st = {.epoch = t->epochs_run, .epochs = t->o->epochs, .steps = steps, .calibrating = 1,
                          .val_loss = t->best_loss, .val_acc = t->best_acc, .lr = NAN};
    st.train_loss = st.train_acc = NAN;
    cs_status status = CS_OK;
    for (int i = 0; i < t->nval && !status; i += batch) {
        int B = t->nval - i < batch ? t->nval - i : batch;
        for (int b = 0; b < B; b++) {
            const sample *s = &t->vtiles[i + b];
            cs_tile_read(tiles + b * T, &t->val->images[s->image], (int)s->x, (int)s->y, t->tile);
        }
        for (int k = 0; k < 8; k++) { /* summed in classify's order, then averaged as it does */
            for (int b = 0; b < B; b++) cs_tile_dihedral(t->x + b * T, tiles + b * T, t->tile, k);
            cs_net_forward(t->net, t->infer_ws, 0, t->x, B, 0, NULL, t->probs);
            for (int j = 0; j < B * K; j++) t->vtta[(size_t)i * K + j] += t->probs[j];
        }
        for (int j = 0; j < B * K; j++) t->vtta[(size_t)i * K + j] /= 8;
        t->done++, st.step++;
        if (report(t, &st)) status = cs_fail(err, CS_ECANCEL, "training cancelled");
    }
    free(tiles);
    return status;
}

/* Learning rate at global step i of n: constant, or a cosine from lr to lr_final. */
static float learning_rate(const cs_train_opts *o, long i, long n) {
    if (!o->cosine || n <= 1) return o->lr;
    return o->lr_final + 0.5f * (o->lr - o->lr_final) * (1 + cosf(3.14159265f * i / (n - 1)));
}

static cs_status run_epochs(trainer *t, cs_error *err) {
    const cs_train_opts *o = t->o;
    cs_net *net = t->net;
    cs_adam opt;
    if (cs_adam_init(&opt, net->nparams, err) != CS_OK) return CS_ENOMEM;
    int steps = (t->ntrain + o->batch - 1) / o->batch;
    start_phase(t, (long)o->epochs * (steps + (t->nval + o->batch - 1) / o->batch));
    cs_status status = CS_OK;
    t->best_loss = INFINITY;
    t->best_acc = NAN;
    for (int epoch = 1; epoch <= o->epochs && status == CS_OK; epoch++) {
        cs_train_status st = {.epoch = epoch, .epochs = o->epochs, .steps = steps};
        st.val_loss = st.val_acc = NAN;
        if (o->crops_per_image > 0 && !t->features) draw_crops(t);
        for (int i = t->ntrain - 1; i > 0; i--) { /* Fisher-Yates */
            int j = cs_rng_below(&t->rng, i + 1), tmp = t->order[i];
            t->order[i] = t->order[j];
            t->order[j] = tmp;
        }
        double loss_sum = 0;
        int correct = 0, seen = 0;
        for (int s = 0; s < steps; s++) {
            int B = t->ntrain - s * o->batch < o->batch ? t->ntrain - s * o->batch : o->batch;
            fill_training_batch(t, t->order + s * o->batch, B);
            cs_net_forward(net, t->ws, t->from, t->x, B, 1, &t->rng, t->probs);
            float loss = cs_net_backward(net, t->ws, t->from, t->labels, t->class_weight, o->label_smoothing, B);
            opt.lr = learning_rate(o, (long)(epoch - 1) * steps + s, (long)o->epochs * steps);
            cs_adam_step(&opt, net->params, net->grads, t->param_from);
            loss_sum += (double)loss * B;
            for (int b = 0; b < B; b++) correct += argmax(t->probs + b * t->K, t->K) == t->labels[b];
            seen += B;
            t->done++;
            st.step = s + 1;
            st.train_loss = (float)(loss_sum / seen);
            st.train_acc = (float)correct / seen;
            st.lr = opt.lr;
            if (s + 1 < steps && report(t, &st)) status = cs_fail(err, CS_ECANCEL, "training cancelled");
            if (status != CS_OK) break;
        }
        if (status != CS_OK) break;
        st.val_loss = validate(t, &st.val_acc);
        /* Without validation data the last epoch is the one kept. */
        st.best = t->nval == 0 || st.val_loss < t->best_loss;
        if (st.best) {
            t->best_epoch = epoch;
            t->best_loss = st.val_loss;
            t->best_acc = st.val_acc;
            memcpy(t->best, net->params, sizeof(float) * net->nparams);
            memcpy(t->best_vprobs, t->vprobs, sizeof(float) * t->nval * t->K);
        }
        t->epochs_run = epoch;
        if (report(t, &st)) status = cs_fail(err, CS_ECANCEL, "training cancelled");
        if (o->patience > 0 && epoch - t->best_epoch >= o->patience) break;
    }
    cs_adam_free(&opt);
    memcpy(net->params, t->best, sizeof(float) * net->nparams);
    return status;
}

/* Two classes: the threshold on p1 of the best balanced accuracy (Youden's J)
   on the validation tiles as calibrate left them; 0.5 when that cannot be told. */
static float choose_threshold(const trainer *t) {
    float *p1 = malloc(sizeof(float) * (t->nval + 1));
    uint8_t *positive = malloc((size_t)t->nval + 1);
    cs_roc roc = {0};
    float th = 0.5f;
    const float *scored = t->vtta ? t->vtta : t->best_vprobs;
    if (p1 && positive) {
        for (int i = 0; i < t->nval; i++) {
            p1[i] = scored[(size_t)i * 2 + 1];
            positive[i] = t->vlabels[i] == 1;
        }
        if (cs_roc_compute(&roc, p1, positive, t->nval, NULL) == CS_OK && !isnan(roc.auc))
            th = cs_roc_best_threshold(&roc);
    }
    cs_roc_free(&roc);
    free(p1);
    free(positive);
    return th;
}

/* ------------------------------------------------------------ metadata */

static cs_status set_meta(cs_model *m, cs_error *err, const char *key, const char *fmt, ...) {
    char value[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(value, sizeof value, fmt, ap);
    va_end(ap);
    return cs_model_set(m, key, value, err);
}

/* The names of a data set's images (which may be NULL), comma-separated. */
static cs_status set_names(cs_model *m, const char *key, const cs_dataset *ds, cs_error *err) {
    int n = ds ? ds->n : 0;
    size_t len = 1;
    for (int i = 0; i < n; i++) len += strlen(ds->names[i]) + 1;
    char *list = malloc(len), *p = list;
    if (!list) return cs_fail(err, CS_ENOMEM, "out of memory recording the images");
    *p = 0;
    for (int i = 0; i < n; i++) p += sprintf(p, "%s%s", i ? "," : "", ds->names[i]);
    cs_status st = cs_model_set(m, key, list, err);
    free(list);
    return st;
}

static cs_status record(trainer *t, cs_error *err) {
    const cs_train_opts *o = t->o;
    cs_model *m = t->m;
    cs_run_record run = {t->epochs_run, t->best_epoch, t->crop};
    cs_status st = cs_recipe_record(m, o, &run, err);
    if (!st && t->K == 2)
        st = set_meta(m, err, CS_META_THRESHOLD, "%g", o->auto_threshold ? choose_threshold(t) : 0.5f);
    if (!st) st = set_names(m, "train_images", t->train, err);
    if (!st) st = set_names(m, "val_images", t->val, err);
    if (!st) st = set_meta(m, err, "train_tiles", "%d", t->ntrain);
    if (!st) st = set_meta(m, err, "val_tiles", "%d", t->nval);
    /* "none" rather than nothing, so that a base model's figures do not linger. */
    if (!st) st = set_meta(m, err, "val_loss", t->nval ? "%.6g" : "none", t->best_loss);
    if (!st) st = set_meta(m, err, "val_tile_accuracy", t->nval ? "%.6g" : "none", t->best_acc);
    return st;
}

/* The temperature that calibrates the validation tiles as the model scores
   them (score_as_predicted; 1 without any), recorded with their calibration
   error before and after; the tiles' probabilities become the calibrated ones
   the model will give, the kept epoch's one-view ones tempered alike. */
static cs_status calibrate(trainer *t, cs_error *err) {
    double ece[2];
    float *scored = t->vtta ? t->vtta : t->best_vprobs;
    float T = cs_temper_fitted(scored, t->vlabels, t->nval, t->K, ece);
    for (int i = 0; t->vtta && i < t->nval; i++) cs_temper(t->best_vprobs + (size_t)i * t->K, t->K, T);
    cs_status st = cs_model_set_temperature(t->m, T, err);
    return st ? st : cs_record_ece(t->m, ece[0], ece[1], err);
}

/* The kept epoch's validation tiles, scored as val_tile_accuracy scores them. */
static cs_status keep_val_tiles(const trainer *t, cs_error *err) {
    cs_metrics *mt = t->o->val_tiles;
    cs_status st = CS_OK;
    for (int i = 0; i < t->nval && !st; i++) {
        const float *p = t->best_vprobs + (size_t)i * t->K;
        st = cs_metrics_add(mt, p, t->vlabels[i], argmax(p, t->K), err);
    }
    return st;
}

/* ------------------------------------------------------------ cs_train */

static cs_status check_labels(const cs_dataset *ds, int K, cs_error *err) {
    for (int i = 0; ds && i < ds->n; i++)
        if (ds->labels[i] < 0 || ds->labels[i] >= K)
            return cs_fail(err, CS_EINPUT, "%s has label %d, not a class of the model (0..%d)",
                           ds->names[i], ds->labels[i], K - 1);
    return CS_OK;
}

static cs_status setup(trainer *t, cs_error *err) {
    const cs_train_opts *o = t->o;
    cs_net *net = t->net;
    if (o->epochs < 1 || o->batch < 1)
        return cs_fail(err, CS_EINPUT, "epochs (%d) and batch (%d) must be at least 1", o->epochs, o->batch);
    if (!(o->label_smoothing >= 0 && o->label_smoothing < 1))
        return cs_fail(err, CS_EINPUT, "label smoothing (%g) must be at least 0 and below 1", o->label_smoothing);
    if (!t->train || t->train->n == 0) return cs_fail(err, CS_EINPUT, "no training images");
    if (o->val_tiles && o->val_tiles->nclasses != t->K)
        return cs_fail(err, CS_EINPUT, "val_tiles is set up for %d classes, the model has %d",
                       o->val_tiles->nclasses, t->K);
    cs_status st = check_labels(t->train, t->K, err);
    if (!st) st = check_labels(t->val, t->K, err);
    if (st) return st;
    if (o->head_only) {
        if (o->batch < head_views(&o->aug))
            return cs_fail(err, CS_EINPUT, "head mode with %d symmetries needs a batch of at least %d",
                           head_views(&o->aug), head_views(&o->aug));
        t->from = cs_net_head(net);
        if (t->from <= 0 || t->from >= net->nlayers)
            return cs_fail(err, CS_EINPUT, "head mode needs convolutions before the dense layers (%s)",
                           net->arch);
    }
    const cs_layer *first = &net->layers[t->from];
    t->insize = (size_t)first->h * first->w * first->c;
    t->param_from = net->nparams;
    for (int i = net->nlayers - 1; i >= t->from; i--)
        if (net->layers[i].weight) t->param_from = (size_t)(net->layers[i].weight - net->params);

    if ((st = list_training_crops(t, err))) return st;
    if (t->val && (st = grid_tiles(t->val, t->tile, t->crop, &t->vtiles, &t->nval, err))) return st;
    size_t T = (size_t)t->tile * t->tile, K = (size_t)t->K, B = (size_t)o->batch;
    t->vlabels = malloc(sizeof(int) * (t->nval + 1));
    t->vprobs = malloc(sizeof(float) * K * (t->nval + 1));
    t->best_vprobs = malloc(sizeof(float) * K * (t->nval + 1));
    t->x = malloc(sizeof(float) * B * T);
    t->probs = malloc(sizeof(float) * B * K);
    t->labels = malloc(sizeof(int) * B);
    t->best = malloc(sizeof(float) * net->nparams);
    if (!t->vlabels || !t->vprobs || !t->best_vprobs || !t->x || !t->probs || !t->labels || !t->best)
        return cs_fail(err, CS_ENOMEM, "out of memory for training buffers");
    for (int i = 0; i < t->nval; i++) t->vlabels[i] = t->vtiles[i].label;
    memcpy(t->best, net->params, sizeof(float) * net->nparams);
    if (!(t->ws = cs_workspace_new(net, o->batch, err)) || !(t->infer_ws = cs_workspace_new_inference(net, o->batch, err)))
        return err ? err->code : CS_ENOMEM;

    /* Every class needs training tiles, whose weights balance the loss if asked. */
    t->class_weight = inverse_frequency(t->samples, t->ntrain, t->K);
    t->val_weight = inverse_frequency(t->vtiles, t->nval, t->K);
    if (!t->class_weight || !t->val_weight) return cs_fail(err, CS_ENOMEM, "out of memory for training buffers");
    for (int c = 0; c < t->K; c++)
        if (t->class_weight[c] == 0) return cs_fail(err, CS_EINPUT, "class %s has no training tiles", t->m->classes[c]);
    if (!o->balance) {
        free(t->class_weight);
        free(t->val_weight);
        t->class_weight = t->val_weight = NULL;
    }

    if (o->head_only && (st = compute_features(t, err))) return st;
    t->order = malloc(sizeof(int) * t->ntrain);
    if (!t->order) return cs_fail(err, CS_ENOMEM, "out of memory for training buffers");
    for (int i = 0; i < t->ntrain; i++) t->order[i] = i;
    return CS_OK;
}

static void trainer_free(trainer *t) {
    cs_workspace_free(t->ws);
    cs_workspace_free(t->infer_ws);
    free(t->samples);
    free_bands(t);
    free(t->features);
    free(t->order);
    free(t->class_weight);
    free(t->vtiles);
    free(t->vfeatures);
    free(t->vlabels);
    free(t->val_weight);
    free(t->vprobs);
    free(t->best_vprobs);
    free(t->vtta);
    free(t->x);
    free(t->probs);
    free(t->labels);
    free(t->best);
}

cs_status cs_train(cs_model *m, const cs_dataset *train, const cs_dataset *val,
                   const cs_train_opts *o, cs_error *err) {
    return cs_train_cached(m, train, val, o, NULL, NULL, err);
}

cs_status cs_train_cached(cs_model *m, const cs_dataset *train, const cs_dataset *val,
                          const cs_train_opts *o, const cs_head_cache *reuse, cs_head_cache *keep,
                          cs_error *err) {
    cs_net *net = &m->net;
    trainer t = {.m = m, .net = net, .o = o, .train = train, .val = val, .reuse = reuse, .tile = net->tile,
                 .crop = o->crop_bottom >= 0 ? o->crop_bottom : m->crop_bottom, .K = net->nclasses,
                 .t0 = now()};
    cs_rng_seed(&t.rng, o->seed);
    /* A cancel or an error must leave the user's model as it was. */
    float *entry = malloc(sizeof(float) * net->nparams);
    if (!entry) return cs_fail(err, CS_ENOMEM, "out of memory copying the model");
    memcpy(entry, net->params, sizeof(float) * net->nparams);
    cs_status st = setup(&t, err);
    if (!st) st = run_epochs(&t, err);
    if (!st) st = score_as_predicted(&t, err);
    if (!st) st = calibrate(&t, err);
    if (!st && o->val_tiles) st = keep_val_tiles(&t, err);
    if (!st) st = record(&t, err);
    if (!st && keep && t.features) st = keep_features(&t, keep, err);
    if (st) memcpy(net->params, entry, sizeof(float) * net->nparams);
    free(entry);
    trainer_free(&t);
    return st;
}
