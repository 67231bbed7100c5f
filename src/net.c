/* net.c: the network as data. An arch string becomes a list of layers whose
   parameters live in one allocation; a workspace keeps the activations that
   the backward pass needs; forward and backward chain the layers of layers.c
   and end in the loss. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* Probabilities are clamped here before the log, as Keras (the paper's
   framework) does, so that a confident mistake costs 16, not infinity. */
#define CS_LOSS_FLOOR 1e-7
/* What the activations of the tiles that go together through the spatial
   layers may take: within the last-level cache (32 MB on the machine we
   measure, shared by its cores). */
#define CS_SPATIAL_GROUP_BYTES (8 << 20)

/* ---------------------------------------------------------------- architecture */

/* "N" in 1..CS_MAX_WIDTH, digits only. */
static int parse_units(const char *s, int *units) {
    char *end;
    if (*s < '0' || *s > '9') return 0;
    long n = strtol(s, &end, 10);
    if (*end || n < 1 || n > CS_MAX_WIDTH) return 0;
    *units = (int)n;
    return 1;
}

/* One token of the arch string: sets L's kind, L->p, and *units (0 for the
   output layer). Returns 0 if the token is not a layer. */
static int parse_layer(cs_layer *L, int *units, const char *tok) {
    char *end;
    *units = 0;
    if (!strcmp(tok, "pool")) return L->kind = CS_POOL, 1;
    if (!strcmp(tok, "gap")) return L->kind = CS_GAP, 1;
    if (!strcmp(tok, "fgap")) return L->kind = CS_FGAP, 1;
    if (!strcmp(tok, "dense")) return L->kind = CS_DENSE, 1;
    if (!strncmp(tok, "dense", 5)) return L->kind = CS_DENSE, parse_units(tok + 5, units);
    if (!strncmp(tok, "conv", 4)) return L->kind = CS_CONV, parse_units(tok + 4, units);
    if (strncmp(tok, "drop", 4) || !tok[4] || !strchr(".0123456789", tok[4])) return 0;
    L->kind = CS_DROPOUT;
    L->p = strtof(tok + 4, &end);
    return !*end && L->p >= 0 && L->p < 1;
}

/* Fills net->layers with kinds, names and shapes from net->arch. */
static cs_status parse_arch(cs_net *net, cs_error *err) {
    static const char *prefix[] = {[CS_CONV] = "conv", [CS_POOL] = "pool", [CS_GAP] = "gap",
                                   [CS_DROPOUT] = "drop", [CS_DENSE] = "fc", [CS_FGAP] = "fgap"};
    const char *arch = net->arch;
    char buf[sizeof net->arch];
    int h = net->tile, w = net->tile, c = 1, count[6] = {0}, output = 0;
    strcpy(buf, arch);
    for (char *tok = buf, *next; tok; tok = next) {
        if ((next = strchr(tok, ','))) *next++ = 0;
        if (output) return cs_fail(err, CS_EINPUT, "arch \"%s\": the output layer \"dense\" must be last", arch);
        if (net->nlayers == CS_MAX_LAYERS)
            return cs_fail(err, CS_ELIMIT, "arch \"%s\" has more than %d layers", arch, CS_MAX_LAYERS);
        cs_layer *L = &net->layers[net->nlayers++];
        int units;
        if (!parse_layer(L, &units, tok))
            return cs_fail(err, CS_EINPUT,
                           "arch \"%s\": \"%s\" is not a layer (convN, pool, gap, fgap, dropP, denseN or "
                           "dense, with N in 1..%d and 0 <= P < 1)", arch, tok, CS_MAX_WIDTH);
        snprintf(L->name, sizeof L->name, "%s%d", prefix[L->kind], ++count[L->kind]);
        L->h = h, L->w = w, L->c = c;
        switch (L->kind) {
        case CS_CONV: h -= 2, w -= 2, c = units; break;
        case CS_POOL: h /= 2, w /= 2; break;
        case CS_GAP: case CS_FGAP: h = w = 1; break;
        case CS_DROPOUT: break;
        case CS_DENSE:
            if (h != 1 || w != 1)
                return cs_fail(err, CS_EINPUT, "arch \"%s\": %s gets a %dx%d input, dense layers "
                               "need 1x1 (put gap before them)", arch, L->name, h, w);
            output = !units;
            c = output ? net->nout : units;
            break;
        }
        if (h < 1 || w < 1)
            return cs_fail(err, CS_EINPUT, "arch \"%s\" does not fit %dx%d tiles: %s gets a %dx%d input",
                           arch, net->tile, net->tile, L->name, L->h, L->w);
        L->oh = h, L->ow = w, L->oc = c;
        L->relu = L->kind == CS_CONV || (L->kind == CS_DENSE && !output);
        if (L->kind == CS_CONV || L->kind == CS_DENSE) {
            L->nweight = (size_t)L->oc * L->c * (L->kind == CS_CONV ? 9 : 1);
            L->nbias = L->oc;
        }
        net->nparams += L->nweight + L->nbias;
    }
    if (!output) return cs_fail(err, CS_EINPUT, "arch \"%s\" must end with the output layer \"dense\"", arch);
    if (net->nparams > CS_MAX_MODEL_BYTES / sizeof(float))
        return cs_fail(err, CS_ELIMIT, "arch \"%s\" has %zu parameters, more than a model file may hold",
                       arch, net->nparams);
    return CS_OK;
}

cs_status cs_net_init(cs_net *net, const char *arch, int tile, int nclasses, cs_error *err) {
    memset(net, 0, sizeof *net);
    if (!arch || !*arch) arch = CS_PAPER_ARCH;
    if (strlen(arch) >= sizeof net->arch)
        return cs_fail(err, CS_ELIMIT, "arch is longer than %d characters", (int)sizeof net->arch - 1);
    if (tile < 1 || tile > CS_MAX_TILE)
        return cs_fail(err, CS_ELIMIT, "tile side %d is not in 1..%d", tile, CS_MAX_TILE);
    if (nclasses < 2 || nclasses > CS_MAX_CLASSES)
        return cs_fail(err, CS_ELIMIT, "%d classes: a model has 2 to %d", nclasses, CS_MAX_CLASSES);
    strcpy(net->arch, arch);
    net->tile = tile;
    net->nclasses = nclasses;
    net->nout = nclasses == 2 ? 1 : nclasses;

    cs_status st = parse_arch(net, err);
    if (!st && (!(net->params = calloc(net->nparams, sizeof(float))) ||
                !(net->grads = calloc(net->nparams, sizeof(float)))))
        st = cs_fail(err, CS_ENOMEM, "out of memory for %zu parameters", net->nparams);
    if (st) {
        cs_net_free(net);
        return st;
    }
    float *p = net->params, *g = net->grads;
    for (int i = 0; i < net->nlayers; i++) {
        cs_layer *L = &net->layers[i];
        if (!L->nweight) continue;
        L->weight = p, L->dweight = g;
        p += L->nweight, g += L->nweight;
        L->bias = p, L->dbias = g;
        p += L->nbias, g += L->nbias;
    }
    return CS_OK;
}

void cs_net_free(cs_net *net) {
    free(net->params);
    free(net->grads);
    memset(net, 0, sizeof *net);
}

void cs_net_glorot(cs_net *net, cs_rng *rng) {
    for (int i = 0; i < net->nlayers; i++) {
        cs_layer *L = &net->layers[i];
        if (!L->nweight) continue;
        int k = L->kind == CS_CONV ? 9 : 1; /* a conv kernel's fans count its 3x3 taps */
        float limit = sqrtf(6.0f / (float)(k * (L->c + L->oc)));
        for (size_t j = 0; j < L->nweight; j++) L->weight[j] = (2 * cs_rng_uniform(rng) - 1) * limit;
        memset(L->bias, 0, sizeof(float) * L->nbias);
    }
}

int cs_net_head(const cs_net *net) {
    int head = 0;
    for (int i = 0; i < net->nlayers; i++)
        if (net->layers[i].kind != CS_DROPOUT && net->layers[i].kind != CS_DENSE) head = i + 1;
    return head;
}

double cs_net_macs(const cs_net *net) {
    double macs = 0;
    for (int i = 0; i < net->nlayers; i++) {
        const cs_layer *L = &net->layers[i];
        if (L->nweight) macs += (double)L->oh * L->ow * L->nweight;
    }
    return macs;
}

double cs_net_executed_macs(const cs_net *net, int train) {
    double macs = 0;
    for (int i = 0; i < net->nlayers; i++) {
        const cs_layer *L = &net->layers[i];
        if (!L->nweight) continue;
        if (L->kind == CS_CONV) {
            macs += cs_conv3x3_executed_macs(L->c, L->oc, L->oh, L->ow);
            if (train) {
                macs += 9.0 * L->oh * L->ow * L->c * L->oc; /* the weight gradient: always direct */
                if (i > 0) macs += cs_conv3x3_executed_macs(L->oc, L->c, L->h, L->w); /* dout padded by 2 */
            }
        } else { /* dense: forward, weight gradient, input gradient */
            macs += (double)L->nweight * (train ? (i > 0 ? 3 : 2) : 1);
        }
    }
    return macs;
}

/* ---------------------------------------------------------------- workspace */

struct cs_workspace {
    int max_batch;
    int head;                      /* cs_net_head: the spatial layers are [0, head) */
    int group;                     /* tiles that go together through them */
    int inference;                 /* cs_workspace_new_inference: act[1..head-1] hold one group */
    int slots;                     /* ... for each of this many threads (1 for training) */
    int B, from;                   /* of the last forward pass (B = 0: none yet) */
    float *act[CS_MAX_LAYERS + 1]; /* act[i]: the input of layer i; act[nlayers]: the logits */
    float *mask[CS_MAX_LAYERS];    /* of each dropout and fgap layer, as its input (has_mask) */
    float *grad[2];                /* the gradient at act[i] lives in grad[i & 1] */
    float *mem;                    /* one allocation behind all of them */
    /* Inference: each convolution's weights packed for its kernel (conv_pack),
       and the weights and bias they were packed from, to tell when they change. */
    cs_conv_pack packs[CS_MAX_LAYERS];
    float *packed_from[CS_MAX_LAYERS];
};

/* Floats of act[i] for one tile (double: a check against size_t comes first). */
static double act_floats(const cs_net *net, int i) {
    const cs_layer *L = &net->layers[i];
    return i < net->nlayers ? (double)L->h * L->w * L->c : net->nout;
}

/* Layers that keep a mask as large as their input: dropout's, and fgap's
   weights ([tiles][h][w], in the first floats of it). */
static int has_mask(cs_kind k) { return k == CS_DROPOUT || k == CS_FGAP; }

/* Tiles that go together through the spatial layers in an inference
   workspace: as many as keep their activations within CS_SPATIAL_GROUP_BYTES,
   so that each layer reads its input from the cache the layer before wrote it
   to, and writes to memory that is still there, not to a fresh part of a batch
   (8 MB a tile for the paper's network). A training workspace keeps the whole
   batch for the backward pass and goes through it layer by layer. */
static int spatial_group(const cs_net *net, int head, int max_batch) {
    double bytes = 0;
    for (int i = 0; i <= head; i++) bytes += act_floats(net, i) * sizeof(float);
    double g = CS_SPATIAL_GROUP_BYTES / bytes;
    return g < 1 ? 1 : g > max_batch ? max_batch : (int)g;
}

/* Whether act[i] (and mask[i]) hold one group of tiles for each slot, not the batch. */
static int group_sized(const cs_workspace *ws, int i) { return ws->inference && i > 0 && i < ws->head; }

/* Tiles act[i] (and mask[i]) hold. */
static size_t tiles_held(const cs_workspace *ws, int i) {
    return group_sized(ws, i) ? (size_t)ws->group * ws->slots : (size_t)ws->max_batch;
}

static cs_workspace *workspace_new(const cs_net *net, int max_batch, int inference, cs_error *err) {
    int n = net->nlayers;
    if (max_batch < 1) {
        cs_fail(err, CS_EINPUT, "a workspace needs a batch of at least 1 tile, not %d", max_batch);
        return NULL;
    }
    cs_workspace *ws = calloc(1, sizeof *ws);
    if (!ws) {
        cs_fail(err, CS_ENOMEM, "out of memory for a workspace");
        return NULL;
    }
    ws->max_batch = max_batch, ws->inference = inference;
    ws->head = cs_net_head(net), ws->group = inference ? spatial_group(net, ws->head, max_batch) : max_batch;
    ws->slots = inference ? cs_threads() : 1;
    /* Two gradient buffers, each as large as the largest activation of its
       parity, serve every layer's dout and din; the input needs none. */
    double floats = 0, grad[2] = {0, 0};
    for (int i = 0; i <= n; i++) {
        double a = act_floats(net, i) * (double)tiles_held(ws, i);
        floats += a * (1 + (i < n && has_mask(net->layers[i].kind)));
        if (i > 0 && a > grad[i & 1]) grad[i & 1] = a;
    }
    if (!inference) floats += grad[0] + grad[1];
    double bytes = floats * sizeof(float);
    if (bytes >= (double)SIZE_MAX || !(ws->mem = malloc((size_t)bytes))) {
        free(ws);
        cs_fail(err, CS_ENOMEM, "out of memory for a workspace of %d tiles (%.0f MB)", max_batch, bytes / 1e6);
        return NULL;
    }
    float *p = ws->mem;
    for (int i = 0; i <= n; i++) {
        size_t a = (size_t)act_floats(net, i) * tiles_held(ws, i);
        ws->act[i] = p, p += a;
        if (i < n && has_mask(net->layers[i].kind)) ws->mask[i] = p, p += a;
    }
    if (!inference)
        for (int k = 0; k < 2; k++) ws->grad[k] = p, p += (size_t)grad[k];
    return ws;
}

cs_workspace *cs_workspace_new(const cs_net *net, int max_batch, cs_error *err) {
    return workspace_new(net, max_batch, 0, err);
}

cs_workspace *cs_workspace_new_inference(const cs_net *net, int max_batch, cs_error *err) {
    return workspace_new(net, max_batch, 1, err);
}

void cs_workspace_free(cs_workspace *ws) {
    for (int i = 0; ws && i < CS_MAX_LAYERS; i++) {
        cs_conv_pack_free(&ws->packs[i]);
        free(ws->packed_from[i]);
    }
    if (ws) free(ws->mem);
    free(ws);
}

const float *cs_net_activation(const cs_workspace *ws, int i) { return ws->act[i]; }

/* ---------------------------------------------------------------- forward, loss, backward */

static float sigmoid(float z) { return 1 / (1 + expf(-z)); }

/* p [K] = softmax(z [K]); returns log(sum(exp(z))), both computed stably. */
static float softmax(float *p, const float *z, int K) {
    float m = z[0], s = 0;
    for (int k = 1; k < K; k++) m = fmaxf(m, z[k]);
    for (int k = 0; k < K; k++) s += p[k] = expf(z[k] - m);
    for (int k = 0; k < K; k++) p[k] /= s;
    return m + logf(s);
}

/* Where tile b0 of the batch starts in act[i] (or mask[i]), for slot's group. */
static float *tile_at(const cs_net *net, const cs_workspace *ws, float *const *bufs, int i, int b0, int slot) {
    size_t tile = group_sized(ws, i) ? (size_t)slot * ws->group : (size_t)b0;
    return bufs[i] + tile * (size_t)act_floats(net, i);
}

/* Where in the tile the cells of layer i's input grid are centred: cell (r, c)
   at pixel off + stride * (r, c) (valid 3x3 convolutions move the centre by a
   cell, 2x2 pools by half a cell and double the stride). */
static void grid_centres(const cs_net *net, int i, float *off, int *stride) {
    *off = 0, *stride = 1;
    for (int l = 0; l < i; l++)
        if (net->layers[l].kind == CS_CONV) *off += (float)*stride;
        else if (net->layers[l].kind == CS_POOL) *off += 0.5f * (float)*stride, *stride *= 2;
}

/* Layer i forward on tiles [b0, b0 + B) of the batch; pack: a convolution's
   packed weights, or NULL. */
static void layer_forward(const cs_net *net, cs_workspace *ws, int i, int b0, int B, int slot, int train,
                          cs_rng *rng, const cs_conv_pack *pack) {
    const cs_layer *L = &net->layers[i];
    const float *in = tile_at(net, ws, ws->act, i, b0, slot);
    float *out = tile_at(net, ws, ws->act, i + 1, b0, slot);
    switch (L->kind) {
    case CS_CONV: cs_conv_forward(out, in, L->weight, L->bias, pack, B, L->h, L->w, L->c, L->oc, L->relu); break;
    case CS_POOL: cs_maxpool_forward(out, in, B, L->h, L->w, L->c); break;
    case CS_GAP: cs_gap_forward(out, in, B, L->h, L->w, L->c); break;
    case CS_FGAP: { /* each tile's weights [B][h][w] from the batch's tiles (act[0] holds them all) */
        float *wt = tile_at(net, ws, ws->mask, i, b0, slot), off;
        size_t hw = (size_t)L->h * L->w, T = (size_t)net->tile;
        int stride;
        grid_centres(net, i, &off, &stride);
        for (int b = 0; b < B; b++)
            cs_fgap_weights(wt + b * hw, ws->act[0] + (b0 + b) * T * T, net->tile, L->h, L->w, off, stride);
        cs_fgap_forward(out, in, wt, B, L->h, L->w, L->c);
        break;
    }
    case CS_DROPOUT:
        cs_dropout_forward(out, tile_at(net, ws, ws->mask, i, b0, slot), in, (size_t)B * L->h * L->w * L->c, L->p,
                           train ? rng : NULL);
        break;
    case CS_DENSE: cs_dense_forward(out, in, L->weight, L->bias, B, L->c, L->oc, L->relu); break;
    }
}

/* The spatial layers [from, head) on groups slot, slot + nslots, ... of the
   batch's tiles, in slot's buffers. */
typedef struct {
    const cs_net *net;
    cs_workspace *ws;
    int from, head, B, nslots, train;
    cs_rng *rng;
    const cs_conv_pack *packs; /* [nlayers]: the convolutions' packed weights (empty: none) */
} spatial_job;

static void spatial_groups(void *ctx, int slot) {
    spatial_job *j = ctx;
    const cs_net *net = j->net;
    cs_workspace *ws = j->ws;
    float *const *act = ws->act;
    for (int b0 = slot * ws->group; b0 < j->B; b0 += j->nslots * ws->group) {
        int B = j->B - b0 < ws->group ? j->B - b0 : ws->group;
        for (int i = j->from; i < j->head; i++) {
            const cs_layer *L = &net->layers[i];
            /* A convolution whose output only GAP reads (and no backward pass
               will): summed as it goes, not stored, where Winograd applies. */
            if (ws->inference && L->kind == CS_CONV && i + 1 < j->head && net->layers[i + 1].kind == CS_GAP) {
                cs_conv_gap_forward(tile_at(net, ws, act, i + 2, b0, slot), tile_at(net, ws, act, i + 1, b0, slot),
                                    tile_at(net, ws, act, i, b0, slot), L->weight, L->bias, &j->packs[i], B, L->h,
                                    L->w, L->c, L->oc, L->relu);
                i++;
            } else {
                layer_forward(net, ws, i, b0, B, slot, j->train, j->rng, &j->packs[i]);
            }
        }
    }
}

/* Convolution i's weights as its kernel reads them, packed again only when
   they changed since the last pass: an inference workspace serves many passes
   (an image's tiles, a training run's validation), each of several groups,
   and packing the weights costs as much as convolving a few tiles. */
static void conv_pack(const cs_net *net, cs_workspace *ws, int i) {
    const cs_layer *L = &net->layers[i];
    size_t nw = L->nweight, nb = L->bias ? (size_t)L->oc : 0;
    float *of = ws->packed_from[i];
    if (ws->packs[i].w && !memcmp(of, L->weight, sizeof(float) * nw) &&
        (!nb || !memcmp(of + nw, L->bias, sizeof(float) * nb)))
        return;
    cs_conv_pack_free(&ws->packs[i]);
    if (!of && !(of = ws->packed_from[i] = malloc(sizeof(float) * (nw + nb)))) return; /* the kernels pack for each call */
    cs_conv_pack_init(&ws->packs[i], L->weight, L->bias, L->c, L->oc);
    memcpy(of, L->weight, sizeof(float) * nw);
    if (nb) memcpy(of + nw, L->bias, sizeof(float) * nb);
}

/* Whether a pass from layer `from` reaches an fgap layer without the tiles it weighs by. */
static int lacks_tiles(const cs_net *net, int from) {
    for (int i = from; i < net->nlayers && from > 0; i++)
        if (net->layers[i].kind == CS_FGAP) return 1;
    return 0;
}

void cs_net_forward(const cs_net *net, cs_workspace *ws, int from, const float *x, int B,
                    int train, cs_rng *rng, float *probs) {
    int n = net->nlayers, K = net->nclasses;
    if (from < 0 || from >= n || B < 1 || B > ws->max_batch || group_sized(ws, from) ||
        lacks_tiles(net, from)) { /* a caller's bug: say so in the output */
        ws->B = 0;
        if (probs)
            for (int i = 0; i < B * K; i++) probs[i] = NAN;
        return;
    }
    ws->B = B, ws->from = from;
    memmove(ws->act[from], x, sizeof(float) * B * (size_t)act_floats(net, from));
    /* Every layer treats tiles independently, so going by groups (an inference
       workspace) changes nothing in the result but the rounding of a
       convolution summed into GAP. With a group for each thread, the threads
       take whole groups through the spatial layers, which is faster than
       sharing each layer of one group; dropout's draws keep to one thread. */
    int head = ws->head > from ? ws->head : from, groups = cs_ceil_div(B, ws->group);
    int per_thread = ws->slots > 1 && groups >= ws->slots && !(train && rng);
    for (int i = from; i < head && ws->inference; i++) /* a training workspace's pass is one group */
        if (net->layers[i].kind == CS_CONV) conv_pack(net, ws, i);
    spatial_job job = {net, ws, from, head, B, per_thread ? ws->slots : 1, train, rng, ws->packs};
    if (per_thread) cs_parallel_for(ws->slots, spatial_groups, &job);
    else spatial_groups(&job, 0);
    for (int i = head; i < n; i++) layer_forward(net, ws, i, 0, B, 0, train, rng, NULL);
    if (!probs) return;
    const float *z = ws->act[n];
    for (int b = 0; b < B; b++, probs += K)
        if (K == 2) probs[1] = sigmoid(z[b]), probs[0] = 1 - probs[1];
        else softmax(probs, z + (size_t)b * K, K);
}

static float weight_of(const float *class_weight, int y) { return class_weight ? class_weight[y] : 1; }

/* The weighted mean's denominator, or NaN if a label is out of range. */
static double weight_sum(const float *class_weight, const int *labels, int B, int K) {
    double sum = 0;
    for (int b = 0; b < B; b++) {
        if (labels[b] < 0 || labels[b] >= K) return NAN;
        sum += weight_of(class_weight, labels[b]);
    }
    return sum;
}

/* The target of class k for label y: one-hot, or with label smoothing e,
   (1 - e) one-hot + e / K (Szegedy et al. 2016); for one sigmoid unit, the
   second class's target y (1 - e) + e / 2. */
static float target(int k, int y, int K, float smoothing) { return (k == y) * (1 - smoothing) + smoothing / K; }

float cs_net_loss(const cs_net *net, const float *probs, const int *labels,
                  const float *class_weight, float smoothing, int B) {
    int K = net->nclasses;
    double wsum = weight_sum(class_weight, labels, B, K), loss = 0;
    if (isnan(wsum)) return NAN;
    for (int b = 0; b < B; b++)
        for (int k = 0; k < K; k++) {
            float t = target(k, labels[b], K, smoothing);
            if (t > 0) loss -= weight_of(class_weight, labels[b]) * t * log(fmax(probs[b * K + k], CS_LOSS_FLOOR));
        }
    return (float)(loss / wsum);
}

float cs_net_backward(cs_net *net, cs_workspace *ws, int from, const int *labels,
                      const float *class_weight, float smoothing, int B) {
    int n = net->nlayers, nout = net->nout;
    double wsum = weight_sum(class_weight, labels, B, net->nclasses), loss = 0;
    if (B < 1 || B != ws->B || from < ws->from || from >= n || ws->inference || isnan(wsum)) return NAN;

    /* The loss from the logits, stable where the probabilities round to 0 or 1:
       binary cross-entropy with logits for one unit, log-softmax for K. */
    const float *z = ws->act[n];
    float *dz = ws->grad[n & 1];
    for (int b = 0; b < B; b++, z += nout, dz += nout) {
        int y = labels[b];
        float wy = weight_of(class_weight, y), scale = (float)(wy / wsum);
        if (nout == 1) {
            float t = target(1, y, 2, smoothing);
            loss += wy * (fmaxf(z[0], 0) - z[0] * t + log1pf(expf(-fabsf(z[0]))));
            dz[0] = (sigmoid(z[0]) - t) * scale;
        } else { /* loss: logsumexp(z) - sum_k t_k z_k; dz = p - t */
            float lse = softmax(dz, z, nout);
            for (int k = 0; k < nout; k++) {
                float t = target(k, y, nout, smoothing);
                loss += wy * t * (lse - z[k]);
                dz[k] = (dz[k] - t) * scale;
            }
        }
    }

    for (int i = n - 1; i >= from; i--) {
        cs_layer *L = &net->layers[i];
        const float *in = ws->act[i], *out = ws->act[i + 1];
        float *dout = ws->grad[(i + 1) & 1], *din = i > from ? ws->grad[i & 1] : NULL;
        switch (L->kind) {
        case CS_CONV:
            cs_conv_backward(din, L->dweight, L->dbias, dout, out, in, L->weight, B, L->h, L->w, L->c, L->oc, L->relu);
            break;
        case CS_POOL: if (din) cs_maxpool_backward(din, dout, in, B, L->h, L->w, L->c); break;
        case CS_GAP: if (din) cs_gap_backward(din, dout, B, L->h, L->w, L->c); break;
        case CS_FGAP: if (din) cs_fgap_backward(din, dout, ws->mask[i], B, L->h, L->w, L->c); break;
        case CS_DROPOUT: if (din) cs_dropout_backward(din, dout, ws->mask[i], (size_t)B * L->h * L->w * L->c); break;
        case CS_DENSE:
            cs_dense_backward(din, L->dweight, L->dbias, dout, out, in, L->weight, B, L->c, L->oc, L->relu);
            break;
        }
    }
    return (float)(loss / wsum);
}
