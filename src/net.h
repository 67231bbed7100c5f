/* net.h: the network's functions, its workspaces, Adam and the random
   numbers training draws (internal: cs_train and cs_classify are the public
   way in). The types cs_net and cs_layer are in cellsight.h, as cs_model
   holds a network. */
#ifndef CS_NET_H
#define CS_NET_H

#include <stddef.h>
#include <stdint.h>

#include "cellsight.h"

/* ---------------------------------------------------------------- random */

/* xoshiro256**: the same seed gives the same weights and the same run everywhere. */
typedef struct {
    uint64_t s[4];
} cs_rng;

void cs_rng_seed(cs_rng *rng, uint64_t seed);
uint64_t cs_rng_next(cs_rng *rng);
float cs_rng_uniform(cs_rng *rng);       /* [0, 1) */
int cs_rng_below(cs_rng *rng, int n);    /* [0, n) */

/* ---------------------------------------------------------------- network */

/* arch: comma-separated layers: convN (3x3 valid + ReLU), pool (2x2 max),
   gap (global average), fgap (global average over the grid cells whose
   centre shows cells, cs_fgap_weights), dropP (dropout rate P), denseN (N units + ReLU),
   dense (the output layer, last). NULL or "" means CS_PAPER_ARCH.
   Weights start at zero; see cs_net_glorot. */
cs_status cs_net_init(cs_net *net, const char *arch, int tile, int nclasses, cs_error *err);
void cs_net_free(cs_net *net);
void cs_net_glorot(cs_net *net, cs_rng *rng); /* Glorot-uniform weights, zero biases */
/* Index of the first layer after the global pooling: the "head" that
   fine-tuning in head mode trains on precomputed features. */
int cs_net_head(const cs_net *net);
/* Multiply-adds of one tile's forward pass, as the direct convolution does them. */
double cs_net_macs(const cs_net *net);
/* Multiplies the kernels actually execute for one tile, where Winograd's
   convolutions need fewer than cs_net_macs counts: the forward pass (train 0),
   or a training step (train 1): forward, input gradients of every layer but
   the first, weight gradients (Adam's updates not counted). */
double cs_net_executed_macs(const cs_net *net, int train);

typedef struct cs_workspace cs_workspace; /* activations for up to max_batch tiles */
cs_workspace *cs_workspace_new(const cs_net *net, int max_batch, cs_error *err);
/* One for forward passes only (cs_net_backward returns NaN), faster and
   smaller: the spatial layers keep the activations of a few tiles at a time
   for each thread (cs_threads() when it is made), which then stay in the
   cache. cs_net_activation is then valid for layer `from` and from
   cs_net_head on; a pass from inside [1, cs_net_head) is refused. */
cs_workspace *cs_workspace_new_inference(const cs_net *net, int max_batch, cs_error *err);
void cs_workspace_free(cs_workspace *ws);

/* Forward pass of layers [from, nlayers) on B inputs x of layer `from` (tiles
   [B][tile][tile] for from = 0; an fgap layer weighs by the tiles, so a pass
   that reaches one starts at 0). train != 0 applies dropout drawn from rng.
   Writes probs [B][nclasses] (two classes: p0 = 1 - s, p1 = s). */
void cs_net_forward(const cs_net *net, cs_workspace *ws, int from, const float *x, int B,
                    int train, cs_rng *rng, float *probs);
/* The input of layer i [B][h][w][c] as of the last forward pass (i = nlayers: the logits). */
const float *cs_net_activation(const cs_workspace *ws, int i);
/* After cs_net_forward: mean (weighted) cross-entropy of labels [B], and the
   gradients of every parameter of layers [from, nlayers) in net->grads
   (overwritten). class_weight [nclasses] may be NULL (all 1); smoothing in
   [0, 1) softens the targets to (1 - smoothing) one-hot + smoothing / K. */
float cs_net_backward(cs_net *net, cs_workspace *ws, int from, const int *labels,
                      const float *class_weight, float smoothing, int B);
/* Loss only, no gradients (validation: smoothing 0). */
float cs_net_loss(const cs_net *net, const float *probs, const int *labels,
                  const float *class_weight, float smoothing, int B);

/* ---------------------------------------------------------------- Adam */

typedef struct {
    float lr, beta1, beta2, eps;
    long t;
    size_t n;
    float *m, *v;
} cs_adam;

/* lr 1e-3, betas (0.9, 0.999), eps 1e-8 as PyTorch. */
cs_status cs_adam_init(cs_adam *opt, size_t nparams, cs_error *err);
void cs_adam_free(cs_adam *opt);
/* One step on params [from, n) (from > 0 leaves the frozen front untouched). */
void cs_adam_step(cs_adam *opt, float *params, const float *grads, size_t from);

#endif
