/* test_gradcheck.c: every layer's backward pass, and the whole network's,
   against central finite differences in double precision.

   The layers are checked through the scalar sum(r * out) for a fixed random r,
   whose gradient at the output is r. The network is checked through its loss.
   Dropout's mask is held fixed by reseeding the generator before every pass. */
#include <float.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "test.h"

static void fill(float *x, size_t n, cs_rng *rng, float scale) {
    for (size_t i = 0; i < n; i++) x[i] = (2 * cs_rng_uniform(rng) - 1) * scale;
}

/* Compares grad [n] with central differences of f(ctx) in each x [n]; counts
   one CHECK per tensor and prints the worst element if it fails.
   f is a float computation, so the step is large (float rounding would swamp
   a small one), and so it may cross a kink, a ReLU or a maximum switching
   inside the step: there the one-sided slopes disagree and the element is
   skipped (most elements must not be). Smaller kinks remain, which is why a
   whole network gets a loose tolerance (the golden test pins exact values).
   Errors are relative to the element, with floors at the tensor's scale for
   elements near zero and at float rounding. */
static void check_grad(const char *what, float *x, const float *grad, size_t n,
                       double (*f)(void *), void *ctx, double rtol) {
    const float step = 1e-3f;
    double gmax = 0, worst = 0, worst_fd = 0;
    size_t worst_i = 0, kinks = 0;
    for (size_t i = 0; i < n; i++) gmax = fmax(gmax, fabs(grad[i]));
    for (size_t i = 0; i < n; i++) {
        float x0 = x[i], hi = x0 + step, lo = x0 - step;
        double f0 = f(ctx);
        x[i] = hi;
        double fhi = f(ctx);
        x[i] = lo;
        double flo = f(ctx);
        x[i] = x0;
        double right = (fhi - f0) / ((double)hi - x0), left = (f0 - flo) / ((double)x0 - lo);
        double fd = (fhi - flo) / ((double)hi - lo);
        double noise = 2 * FLT_EPSILON * fabs(f0) / step; /* of a one-sided slope */
        double scale = fabs(fd) + 5e-2 * gmax + noise + 1e-12;
        if (fabs(right - left) > 0.1 * scale + noise) {
            kinks++;
            continue;
        }
        double e = fabs(fd - grad[i]) / scale;
        if (!(e <= worst)) worst = e, worst_i = i, worst_fd = fd; /* NaN counts as worst */
    }
    int ok = worst <= rtol && gmax > 0 && 2 * kinks < n;
    CHECK(ok);
    if (!ok)
        fprintf(stderr, "  %s: element %zu: analytic %.7g, numeric %.7g (max |grad| %.3g, %zu kinks of %zu)\n",
                what, worst_i, grad[worst_i], worst_fd, gmax, kinks, n);
}

/* ---------------------------------------------------------------- single layers */

typedef struct {
    cs_kind kind;
    int relu;
    float p;
    int B, H, W, C, O;        /* dense: I = C */
    float *in, *w, *bias, *out, *r, *mask;
    size_t nin, nout, nw;
} layer_case;

static void layer_run(layer_case *t) {
    cs_rng rng;
    cs_rng_seed(&rng, 7); /* the same dropout mask every time */
    switch (t->kind) {
    case CS_CONV: cs_conv_forward(t->out, t->in, t->w, t->bias, NULL, t->B, t->H, t->W, t->C, t->O, t->relu); break;
    case CS_POOL: cs_maxpool_forward(t->out, t->in, t->B, t->H, t->W, t->C); break;
    case CS_GAP: cs_gap_forward(t->out, t->in, t->B, t->H, t->W, t->C); break;
    case CS_FGAP: cs_fgap_forward(t->out, t->in, t->mask, t->B, t->H, t->W, t->C); break;
    case CS_DROPOUT: cs_dropout_forward(t->out, t->mask, t->in, t->nin, t->p, &rng); break;
    case CS_DENSE: cs_dense_forward(t->out, t->in, t->w, t->bias, t->B, t->C, t->O, t->relu); break;
    }
}

static double layer_objective(void *ctx) {
    layer_case *t = ctx;
    double s = 0;
    layer_run(t);
    for (size_t i = 0; i < t->nout; i++) s += (double)t->r[i] * t->out[i];
    return s;
}

/* Builds the case's buffers, runs backward with dout = r and checks din, dw, dbias. */
static void check_layer(const char *name, layer_case t, cs_rng *rng) {
    int O = t.O, OH = t.H, OW = t.W;
    switch (t.kind) {
    case CS_CONV: OH -= 2, OW -= 2, t.nw = (size_t)O * t.C * 9; break;
    case CS_POOL: OH /= 2, OW /= 2, O = t.C; break;
    case CS_GAP: case CS_FGAP: OH = OW = 1, O = t.C; break;
    case CS_DROPOUT: O = t.C; break;
    case CS_DENSE: t.nw = (size_t)O * t.C; break;
    }
    t.nin = (size_t)t.B * t.H * t.W * t.C;
    t.nout = (size_t)t.B * OH * OW * O;
    t.in = malloc(sizeof(float) * t.nin), t.mask = malloc(sizeof(float) * t.nin);
    t.out = malloc(sizeof(float) * t.nout), t.r = malloc(sizeof(float) * t.nout);
    t.w = malloc(sizeof(float) * (t.nw + 1)), t.bias = malloc(sizeof(float) * (O + 1));
    float *din = malloc(sizeof(float) * t.nin), *dout = malloc(sizeof(float) * t.nout);
    float *dw = malloc(sizeof(float) * (t.nw + 1)), *db = malloc(sizeof(float) * (O + 1));
    if (t.kind == CS_POOL) { /* distinct values 0.01 apart: no step can swap a window's maximum */
        for (size_t i = 0; i < t.nin; i++) t.in[i] = 0.01f * (float)i - 0.005f * (float)t.nin;
        for (size_t i = t.nin; i > 1; i--) {
            size_t j = (size_t)cs_rng_below(rng, (int)i);
            float s = t.in[i - 1];
            t.in[i - 1] = t.in[j], t.in[j] = s;
        }
    } else fill(t.in, t.nin, rng, 1);
    fill(t.w, t.nw, rng, 0.5f);
    fill(t.bias, O, rng, 0.1f);
    if (t.kind == CS_FGAP) /* the cells' weights, some zero */
        for (size_t i = 0; i < (size_t)t.B * t.H * t.W; i++) t.mask[i] = i % 3 ? cs_rng_uniform(rng) : 0;
    fill(t.r, t.nout, rng, 1);

    layer_run(&t);
    memcpy(dout, t.r, sizeof(float) * t.nout);
    switch (t.kind) {
    case CS_CONV: cs_conv_backward(din, dw, db, dout, t.out, t.in, t.w, t.B, t.H, t.W, t.C, t.O, t.relu); break;
    case CS_POOL: cs_maxpool_backward(din, dout, t.in, t.B, t.H, t.W, t.C); break;
    case CS_GAP: cs_gap_backward(din, dout, t.B, t.H, t.W, t.C); break;
    case CS_FGAP: cs_fgap_backward(din, dout, t.mask, t.B, t.H, t.W, t.C); break;
    case CS_DROPOUT: cs_dropout_backward(din, dout, t.mask, t.nin); break;
    case CS_DENSE: cs_dense_backward(din, dw, db, dout, t.out, t.in, t.w, t.B, t.C, t.O, t.relu); break;
    }
    char what[64];
    snprintf(what, sizeof what, "%s din", name);
    check_grad(what, t.in, din, t.nin, layer_objective, &t, 1e-2);
    if (t.nw) {
        snprintf(what, sizeof what, "%s dweight", name);
        check_grad(what, t.w, dw, t.nw, layer_objective, &t, 1e-2);
        snprintf(what, sizeof what, "%s dbias", name);
        check_grad(what, t.bias, db, O, layer_objective, &t, 1e-2);
    }
    if (t.kind == CS_DROPOUT) { /* inverted dropout: kept units scaled, the rest zero */
        int dropped = 0, scaled = 1;
        for (size_t i = 0; i < t.nin; i++) {
            dropped += t.mask[i] == 0;
            scaled &= t.mask[i] == 0 || fabsf(t.mask[i] * (1 - t.p) - 1) < 1e-6f;
        }
        CHECK(scaled && dropped > 0 && dropped < (int)t.nin);
    }
    free(t.in), free(t.mask), free(t.out), free(t.r), free(t.w), free(t.bias);
    free(din), free(dout), free(dw), free(db);
}

/* ---------------------------------------------------------------- whole networks */

typedef struct {
    cs_net *net;
    cs_workspace *ws;
    const float *x;
    const int *labels;
    const float *class_weight;
    float smoothing;
    float *probs;
    int B, train;
} net_case;

/* Forward pass; with dropout on, the mask is fixed by the seed. */
static void net_run(net_case *t) {
    cs_rng rng;
    cs_rng_seed(&rng, 11);
    cs_net_forward(t->net, t->ws, 0, t->x, t->B, t->train, &rng, t->probs);
}

static double net_objective(void *ctx) {
    net_case *t = ctx;
    net_run(t);
    return cs_net_loss(t->net, t->probs, t->labels, t->class_weight, t->smoothing, t->B);
}

/* Every parameter's gradient of a small network in training. Then (without
   dropout, whose masks would differ in a pass that starts later) backward
   from each later layer must leave the frozen layers' gradients as they were
   and give the others unchanged, also after a forward pass that starts there. */
static void check_net(const char *arch, int tile, int K, const float *class_weight, float smoothing) {
    enum { B = 3 };
    cs_net net;
    cs_error err;
    cs_rng rng;
    CHECK(cs_net_init(&net, arch, tile, K, &err) == CS_OK);
    cs_workspace *ws = cs_workspace_new(&net, B, &err);
    CHECK(ws != NULL);
    if (!ws) return;
    cs_rng_seed(&rng, 5);
    cs_net_glorot(&net, &rng);
    for (size_t j = 0; j < net.nparams; j++) /* gradients well above float rounding */
        net.params[j] *= 1.5f;
    for (int i = 0; i < net.nlayers; i++) /* positive biases: fewer dead units */
        for (size_t j = 0; j < net.layers[i].nbias; j++) net.layers[i].bias[j] = 0.1f * cs_rng_uniform(&rng);
    float x[B * 24 * 24], probs[B * 8];
    int labels[B] = {1, 0, K - 1};
    fill(x, (size_t)B * tile * tile, &rng, 1);
    int fgap = -1; /* its layer; the tiles' top half then shows "cells", the rest is quiet */
    for (int i = 0; i < net.nlayers; i++)
        if (net.layers[i].kind == CS_FGAP) fgap = i;
    for (int i = 0; i < B * tile * tile && fgap >= 0; i++)
        if (i % (tile * tile) >= tile * tile / 2) x[i] *= 0.05f;
    net_case t = {&net, ws, x, labels, class_weight, smoothing, probs, B, 1};

    net_run(&t);
    float loss = cs_net_backward(&net, ws, 0, labels, class_weight, smoothing, B);
    CHECK_NEAR(loss, cs_net_loss(&net, probs, labels, class_weight, smoothing, B), 1e-5);
    for (int i = 0; i < net.nlayers; i++) {
        cs_layer *L = &net.layers[i];
        if (!L->nweight) continue;
        char what[96];
        snprintf(what, sizeof what, "%s: %s.weight", arch, L->name);
        check_grad(what, L->weight, L->dweight, L->nweight, net_objective, &t, 0.15);
        snprintf(what, sizeof what, "%s: %s.bias", arch, L->name);
        check_grad(what, L->bias, L->dbias, L->nbias, net_objective, &t, 0.15);
    }

    t.train = 0;
    net_run(&t);
    loss = cs_net_backward(&net, ws, 0, labels, class_weight, smoothing, B);
    float *full = malloc(sizeof(float) * net.nparams);
    memcpy(full, net.grads, sizeof(float) * net.nparams);
    for (int from = 1; from < net.nlayers; from++) {
        size_t frozen = 0; /* parameters of the layers below `from` */
        for (int i = 0; i < from; i++) frozen += net.layers[i].nweight + net.layers[i].nbias;
        for (int pass = 0; pass < 2; pass++) {
            for (size_t i = 0; i < net.nparams; i++) net.grads[i] = 1234;
            if (pass == 0) net_run(&t);
            else if (from <= fgap) { /* fgap weighs by the tiles: a pass from inside is refused */
                cs_net_forward(&net, ws, from, cs_net_activation(ws, from), B, 0, NULL, probs);
                CHECK(isnan(probs[0]));
                break;
            } else { /* from the activations of layer `from`, as head-mode fine-tuning does */
                size_t n = (size_t)B * net.layers[from].h * net.layers[from].w * net.layers[from].c;
                float *feat = malloc(sizeof(float) * n);
                memcpy(feat, cs_net_activation(ws, from), sizeof(float) * n);
                cs_net_forward(&net, ws, from, feat, B, 0, NULL, probs);
                CHECK(isnan(cs_net_backward(&net, ws, from - 1, labels, class_weight, smoothing, B)));
                free(feat);
            }
            CHECK_NEAR(cs_net_backward(&net, ws, from, labels, class_weight, smoothing, B), loss, 1e-6);
            int same = 1;
            for (size_t i = 0; i < net.nparams; i++)
                same &= i < frozen ? net.grads[i] == 1234 : fabsf(net.grads[i] - full[i]) <= 1e-6f * (1 + fabsf(full[i]));
            CHECK(same);
        }
    }
    free(full);
    cs_workspace_free(ws);
    cs_net_free(&net);
}

int main(void) {
    cs_rng rng;
    cs_rng_seed(&rng, 3);
    check_layer("conv+relu", (layer_case){.kind = CS_CONV, .relu = 1, .B = 2, .H = 6, .W = 5, .C = 3, .O = 4}, &rng);
    check_layer("conv", (layer_case){.kind = CS_CONV, .B = 2, .H = 5, .W = 5, .C = 2, .O = 3}, &rng);
    check_layer("maxpool", (layer_case){.kind = CS_POOL, .B = 2, .H = 7, .W = 6, .C = 3}, &rng);
    check_layer("maxpool, vectors and a tail", (layer_case){.kind = CS_POOL, .B = 2, .H = 5, .W = 4, .C = 37}, &rng);
    check_layer("gap", (layer_case){.kind = CS_GAP, .B = 2, .H = 4, .W = 3, .C = 5}, &rng);
    check_layer("gap, vectors and a tail", (layer_case){.kind = CS_GAP, .B = 2, .H = 4, .W = 3, .C = 37}, &rng);
    check_layer("fgap", (layer_case){.kind = CS_FGAP, .B = 2, .H = 4, .W = 3, .C = 5}, &rng);
    check_layer("dropout", (layer_case){.kind = CS_DROPOUT, .p = 0.4f, .B = 2, .H = 3, .W = 3, .C = 4}, &rng);
    check_layer("dense+relu", (layer_case){.kind = CS_DENSE, .relu = 1, .B = 3, .H = 1, .W = 1, .C = 6, .O = 5}, &rng);
    check_layer("dense", (layer_case){.kind = CS_DENSE, .B = 3, .H = 1, .W = 1, .C = 6, .O = 4}, &rng);
    check_layer("dense, vectors and a tail", (layer_case){.kind = CS_DENSE, .B = 3, .H = 1, .W = 1, .C = 37, .O = 4}, &rng);

    static const float weights2[] = {0.7f, 1.6f}, weights3[] = {1.0f, 2.0f, 0.5f};
    check_net("conv3,conv4,gap,drop0.3,dense5,drop0.2,dense", 10, 2, NULL, 0);
    check_net("conv3,conv4,gap,drop0.3,dense5,drop0.2,dense", 10, 3, NULL, 0);
    check_net("conv3,pool,conv4,gap,dense5,dense", 11, 2, weights2, 0);
    check_net("conv3,pool,conv4,gap,dense5,dense", 11, 3, weights3, 0);
    /* Label smoothing, with and without class weights. */
    check_net("conv3,pool,conv4,gap,dense5,dense", 11, 2, NULL, 0.2f);
    check_net("conv3,pool,conv4,gap,dense5,dense", 11, 3, weights3, 0.1f);
    /* Pooling over the cells of the tiles' top half (a 2 x 2 grid, cells 4 pixels apart). */
    check_net("conv3,pool,conv3,pool,conv4,fgap,drop0.2,dense5,dense", 22, 3, NULL, 0);
    return test_summary();
}
