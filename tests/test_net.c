/* test_net.c: the arch string, the shapes and names it gives, Glorot
   initialisation, the head, the cost figure, Adam, and clear errors for
   what cannot be built. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "test.h"

static void check_paper_net(void) {
    cs_net net;
    CHECK(cs_net_init(&net, NULL, CS_TILE, 2, NULL) == CS_OK);
    CHECK(!strcmp(net.arch, CS_PAPER_ARCH));
    CHECK(net.nlayers == 8 && net.nout == 1);
    static const char *names[] = {"conv1", "conv2", "conv3", "gap1", "drop1", "fc1", "drop2", "fc2"};
    for (int i = 0; i < net.nlayers; i++) CHECK(!strcmp(net.layers[i].name, names[i]));
    const cs_layer *conv3 = &net.layers[2], *fc1 = &net.layers[5], *fc2 = &net.layers[7];
    CHECK(conv3->h == 124 && conv3->c == 32 && conv3->oh == 122 && conv3->ow == 122 && conv3->oc == 64);
    CHECK(fc1->c == 64 && fc1->oc == 32 && fc1->relu && fc1->nweight == 32 * 64);
    CHECK(fc2->c == 32 && fc2->oc == 1 && !fc2->relu);
    CHECK(net.layers[4].kind == CS_DROPOUT && net.layers[4].p == 0.5f);
    size_t nparams = (9 * 32 + 32) + (9 * 32 * 32 + 32) + (9 * 32 * 64 + 64) + (64 * 32 + 32) + (32 + 1);
    CHECK(net.nparams == nparams);
    CHECK(net.layers[0].weight == net.params && fc2->bias == net.params + nparams - 1);
    CHECK(fc2->dbias == net.grads + nparams - 1);
    CHECK(cs_net_head(&net) == 4);
    double macs = 126.0 * 126 * 32 * 9 + 124.0 * 124 * 32 * 32 * 9 + 122.0 * 122 * 64 * 32 * 9 + 64 * 32 + 32;
    CHECK_NEAR(cs_net_macs(&net), macs, 0.5);
    /* Executed multiplies (the same natively and in WASM: 32 input channels
       take Winograd's 36 products per 4 x 4 outputs either way). Inference:
         conv1 direct   126*126*9*1*32   =   4,572,288
         conv2 Winograd 31*31*36*32*32   =  35,426,304   (124 = 31 tiles of 4)
         conv3 Winograd 31*31*36*32*64   =  70,852,608   (122 -> 31 tiles)
         fc1 64*32 + fc2 32*1            =       2,080   total 110,853,280
       Training adds, for the weight gradients (direct):
         126*126*9*1*32 + 124*124*9*32*32 + 122*122*9*32*64 + 2048 + 32 = 420,621,472 (= cs_net_macs)
       and the input gradients of every layer but conv1 (Winograd over the input's size):
         conv2 32*32*36*32*32 = 37,748,736 (126 -> 32 tiles); conv3 31*31*36*64*32 = 70,852,608;
         fc1 2048; fc2 32                                               = 108,603,424
       110,853,280 + 420,621,472 + 108,603,424 = 640,078,176. */
    CHECK_NEAR(cs_net_executed_macs(&net, 0), 110853280.0, 0.5);
    CHECK_NEAR(cs_net_executed_macs(&net, 1), 640078176.0, 0.5);

    /* Glorot: the same seed, the same weights; within +-sqrt(6 / (fan_in + fan_out)); zero biases */
    cs_rng rng;
    cs_rng_seed(&rng, 42);
    cs_net_glorot(&net, &rng);
    float first = net.layers[1].weight[0], limit = sqrtf(6.0f / (9 * (32 + 32))), wmax = 0;
    for (size_t i = 0; i < net.layers[1].nweight; i++) wmax = fmaxf(wmax, fabsf(net.layers[1].weight[i]));
    CHECK(wmax <= limit && wmax > 0.95f * limit);
    CHECK(net.layers[1].bias[0] == 0 && fc2->bias[0] == 0);
    cs_rng_seed(&rng, 42);
    cs_net_glorot(&net, &rng);
    CHECK(net.layers[1].weight[0] == first);
    cs_net_free(&net);
    CHECK(net.params == NULL && net.nlayers == 0);
}

static void check_pooled_net(void) {
    cs_net net;
    CHECK(cs_net_init(&net, "conv8,pool,conv8,pool,conv16,gap,dense16,dense", 31, 5, NULL) == CS_OK);
    CHECK(net.nout == 5 && net.layers[1].oh == 14 && net.layers[3].h == 12 && net.layers[3].oh == 6);
    CHECK(!strcmp(net.layers[3].name, "pool2") && !strcmp(net.layers[7].name, "fc2"));
    CHECK(cs_net_head(&net) == 6);

    /* forward: probabilities that sum to 1; a bad call says so in NaNs */
    cs_workspace *ws = cs_workspace_new(&net, 2, NULL);
    cs_rng rng;
    cs_rng_seed(&rng, 1);
    cs_net_glorot(&net, &rng);
    float x[2 * 31 * 31], probs[3 * 5];
    for (int i = 0; i < 2 * 31 * 31; i++) x[i] = cs_rng_uniform(&rng);
    cs_net_forward(&net, ws, 0, x, 2, 0, NULL, probs);
    CHECK_NEAR(probs[0] + probs[1] + probs[2] + probs[3] + probs[4], 1, 1e-6);
    int labels[3] = {0, 4, 1}, bad_labels[2] = {0, 5};
    CHECK(!isnan(cs_net_loss(&net, probs, labels, NULL, 0, 2)));
    CHECK(isnan(cs_net_loss(&net, probs, bad_labels, NULL, 0, 2)));
    CHECK(isnan(cs_net_backward(&net, ws, 0, bad_labels, NULL, 0, 2)));
    CHECK(isnan(cs_net_backward(&net, ws, 0, labels, NULL, 0, 3)));
    cs_net_forward(&net, ws, 0, x, 3, 0, NULL, probs);
    CHECK(isnan(probs[0]));
    CHECK(isnan(cs_net_backward(&net, ws, 0, labels, NULL, 0, 2)));
    cs_workspace_free(ws);
    cs_error err = {0};
    CHECK(cs_workspace_new(&net, 0, &err) == NULL && err.code == CS_EINPUT);
    cs_net_free(&net);
}

/* Two classes: p1 = sigmoid(z), p0 = 1 - p1; a sure mistake costs -log(1e-7), not infinity. */
static void check_two_class_loss(void) {
    cs_net net;
    CHECK(cs_net_init(&net, "gap,dense", 4, 2, NULL) == CS_OK);
    cs_workspace *ws = cs_workspace_new(&net, 1, NULL);
    float x[16], probs[2];
    for (int i = 0; i < 16; i++) x[i] = 1;
    net.layers[1].weight[0] = 200;
    cs_net_forward(&net, ws, 0, x, 1, 0, NULL, probs);
    CHECK(probs[1] == 1 && probs[0] == 0);
    int label = 0;
    CHECK_NEAR(cs_net_loss(&net, probs, &label, NULL, 0, 1), -log(1e-7), 1e-4);
    CHECK_NEAR(cs_net_backward(&net, ws, 0, &label, NULL, 0, 1), 200, 1e-4); /* from the logit: exact */
    cs_workspace_free(ws);
    cs_net_free(&net);
}

/* Label smoothing: the cross-entropy against (1 - e) one-hot + e / K, for K
   outputs and for one sigmoid unit (targets 1 - e / 2 and e / 2). */
static void check_label_smoothing(void) {
    cs_net net3, net2;
    CHECK(cs_net_init(&net3, "gap,dense", 4, 3, NULL) == CS_OK && cs_net_init(&net2, "gap,dense", 4, 2, NULL) == CS_OK);
    const float p3[3] = {0.7f, 0.2f, 0.1f}, p2[2] = {0.4f, 0.6f};
    int zero = 0, one = 1;
    CHECK_NEAR(cs_net_loss(&net3, p3, &zero, NULL, 0.3f, 1), -(0.8 * log(0.7) + 0.1 * log(0.2) + 0.1 * log(0.1)), 1e-6);
    CHECK_NEAR(cs_net_loss(&net2, p2, &one, NULL, 0.2f, 1), -(0.9 * log(0.6) + 0.1 * log(0.4)), 1e-6);
    CHECK_NEAR(cs_net_loss(&net2, p2, &one, NULL, 0, 1), -log(0.6), 1e-6);
    cs_net_free(&net3);
    cs_net_free(&net2);
}

/* An inference workspace gives the probabilities of a training one, also when
   its tiles go through the spatial layers in several groups (128-pixel tiles:
   the paper's network 1 at a time; the pooled one with dropout, 8), on one
   thread or with a group for each of several: bit for bit, but for a
   convolution followed by GAP, which it sums as it goes (rounded differently).
   It refuses a backward pass and a forward pass from inside the spatial
   layers, keeps the head's features for head-mode fine-tuning, and follows
   changed weights. */
static void check_inference_workspace(const char *arch, int B, int threads) {
    cs_set_threads(threads);
    cs_net net;
    cs_rng rng;
    CHECK(cs_net_init(&net, arch, 128, 3, NULL) == CS_OK);
    cs_rng_seed(&rng, 3);
    cs_net_glorot(&net, &rng);
    for (size_t j = 0; j < net.nparams; j++) net.params[j] += 0.01f; /* live units */
    cs_workspace *train_ws = cs_workspace_new(&net, B, NULL), *ws = cs_workspace_new_inference(&net, B, NULL);
    size_t nx = (size_t)B * 128 * 128;
    float *x = malloc(sizeof(float) * nx), want[3 * 32], got[3 * 32];
    CHECK(train_ws && ws && x && B <= 32);
    if (!train_ws || !ws || !x) return;
    for (size_t i = 0; i < nx; i++) x[i] = 2 * cs_rng_uniform(&rng) - 1;
    cs_net_forward(&net, train_ws, 0, x, B, 0, NULL, want);
    cs_net_forward(&net, ws, 0, x, B, 0, NULL, got);
    int head = cs_net_head(&net), labels[32] = {0}, fused = net.layers[head - 1].kind == CS_GAP &&
                                                             net.layers[head - 2].kind == CS_CONV;
    size_t nfeat = (size_t)B * net.layers[head].c;
    double feat_err = test_rel_err(cs_net_activation(ws, head), cs_net_activation(train_ws, head), nfeat);
    CHECK(fused ? feat_err < 1e-5 : feat_err == 0);
    CHECK(fused ? test_rel_err(got, want, 3 * B) < 1e-5 : memcmp(want, got, sizeof(float) * 3 * B) == 0);
    CHECK(isnan(cs_net_backward(&net, ws, 0, labels, NULL, 0, B)));
    CHECK(!isnan(cs_net_backward(&net, train_ws, 0, labels, NULL, 0, B)));
    cs_net_forward(&net, ws, 1, x, B, 0, NULL, got);
    CHECK(isnan(got[0]));
    cs_net_forward(&net, ws, head, cs_net_activation(train_ws, head), B, 0, NULL, got);
    CHECK(memcmp(want, got, sizeof(float) * 3 * B) == 0);
    /* The workspace keeps the convolutions' packed weights from pass to pass:
       new weights, then a convolution's bias alone, are packed again. */
    for (int step = 0; step < 2; step++) {
        if (step == 0)
            for (size_t j = 0; j < net.nparams; j++) net.params[j] *= 1.25f;
        else
            net.layers[0].bias[0] += 0.5f;
        cs_net_forward(&net, train_ws, 0, x, B, 0, NULL, want);
        cs_net_forward(&net, ws, 0, x, B, 0, NULL, got);
        CHECK(fused ? test_rel_err(got, want, 3 * B) < 1e-5 : memcmp(want, got, sizeof(float) * 3 * B) == 0);
    }
    free(x);
    cs_workspace_free(ws);
    cs_workspace_free(train_ws);
    cs_net_free(&net);
    cs_set_threads(1);
}

/* fgap's weights: the grid cells whose block shows cells, each alike; none
   or all: every cell (plain GAP). A 32-pixel tile, a 2 x 2 grid of 16-pixel
   blocks centred at 8 and 24. */
static void check_fgap_weights(void) {
    enum { T = 32 };
    float x[T * T], wt[4];
    cs_rng rng;
    cs_rng_seed(&rng, 9);
    for (int scene = 0; scene < 4; scene++) { /* quiet; top right busy; top row busy; all busy */
        for (int r = 0; r < T; r++)
            for (int c = 0; c < T; c++) {
                int busy = scene == 3 || (scene == 1 && r < 16 && c >= 16) || (scene == 2 && r < 16);
                x[r * T + c] = (2 * cs_rng_uniform(&rng) - 1) * (busy ? 1.0f : 0.1f);
            }
        cs_fgap_weights(wt, x, T, 2, 2, 8, 16);
        static const float want[4][4] = {
            {0.25f, 0.25f, 0.25f, 0.25f}, {0, 1, 0, 0}, {0.5f, 0.5f, 0, 0}, {0.25f, 0.25f, 0.25f, 0.25f}};
        CHECK(memcmp(wt, want[scene], sizeof wt) == 0);
    }
    /* A grid centred off the blocks' lattice reads the block around each centre, within the tile. */
    for (int i = 0; i < T * T; i++) x[i] = (2 * cs_rng_uniform(&rng) - 1) * (i / T >= 20 && i % T < 12 ? 1.0f : 0.1f);
    cs_fgap_weights(wt, x, T, 2, 2, 6.5f, 20); /* blocks [0,20) and [12,32) of rows and columns */
    CHECK(wt[0] == 0 && wt[1] == 0 && wt[2] == 1 && wt[3] == 0);
}

static void check_bad_arch(const char *arch, int tile, int nclasses, cs_status code, const char *says) {
    cs_net net;
    cs_error err = {0};
    CHECK(cs_net_init(&net, arch, tile, nclasses, &err) == code);
    CHECK(err.code == code && strstr(err.msg, says));
    if (!strstr(err.msg, says)) fprintf(stderr, "  message: %s\n", err.msg);
    CHECK(net.params == NULL && net.nlayers == 0);
}

/* One Adam step moves every unfrozen parameter by lr against its gradient's
   sign (the bias correction makes m / sqrt(v) = g / |g| at t = 1). */
static void check_adam(void) {
    cs_adam opt;
    float p[4] = {1, 1, 1, 1}, g[4] = {0.5f, -2, 1e-3f, 3};
    CHECK(cs_adam_init(&opt, 4, NULL) == CS_OK);
    cs_adam_step(&opt, p, g, 1);
    CHECK(p[0] == 1);
    CHECK_NEAR(p[1], 1.001, 1e-7);
    CHECK_NEAR(p[2], 0.999, 1e-7);
    CHECK_NEAR(p[3], 0.999, 1e-7);
    CHECK(opt.t == 1);
    cs_adam_free(&opt);
}

/* 6 input channels: direct natively, Winograd in WASM (CS_WINOGRAD_MIN_CI 8 and 4).
   conv1 1 -> 6 on 18 x 18: 16*16*9*6 = 13,824; conv2 6 -> 6 on 16 x 16: direct 14*14*9*36
   = 63,504, Winograd 4*4*36*36 = 20,736 (14 -> 4 tiles); its input gradient: direct
   16*16*9*36 = 82,944, Winograd 4*4*36*36 = 20,736; dense 6 -> 1: 6.
   Native: 13,824 + 63,504 + 6 = 77,334 inference;
     + 13,824 + 63,504 + 6 (weight gradients) + 82,944 + 6 (input gradients) = 237,618 training.
   WASM: 13,824 + 20,736 + 6 = 34,566; + 13,824 + 63,504 + 6 + 20,736 + 6 = 132,642. */
static void check_executed_macs_rule(void) {
    cs_net net;
    CHECK(cs_net_init(&net, "conv6,conv6,gap,dense", 18, 2, NULL) == CS_OK);
#if defined(__wasm__)
    CHECK_NEAR(cs_net_executed_macs(&net, 0), 34566.0, 0.5);
    CHECK_NEAR(cs_net_executed_macs(&net, 1), 132642.0, 0.5);
#else
    CHECK_NEAR(cs_net_executed_macs(&net, 0), 77334.0, 0.5);
    CHECK_NEAR(cs_net_executed_macs(&net, 1), 237618.0, 0.5);
#endif
    cs_net_free(&net);
}

int main(void) {
    check_paper_net();
    check_executed_macs_rule();
    check_pooled_net();
    check_two_class_loss();
    check_label_smoothing();
    check_adam();
    check_inference_workspace(CS_PAPER_ARCH, 3, 1);
    check_inference_workspace(CS_PAPER_ARCH, 3, 2);
    check_inference_workspace("conv8,pool,conv8,drop0.5,gap,dense", 10, 1);
    check_inference_workspace("conv8,pool,conv8,drop0.5,gap,dense", 20, 2);
    check_inference_workspace("conv8,pool,conv8,pool,conv8,fgap,dense", 20, 2);
    check_fgap_weights();
    check_bad_arch("conv32,gap,dense", 128, 1, CS_ELIMIT, "1 classes");
    check_bad_arch("conv32,gap,dense", 2000, 2, CS_ELIMIT, "tile side 2000");
    check_bad_arch("conv32,gap,dense32", 128, 2, CS_EINPUT, "must end with the output layer");
    check_bad_arch("conv32,gap,dense,dense", 128, 2, CS_EINPUT, "must be last");
    check_bad_arch("conv32,gap,,dense", 128, 2, CS_EINPUT, "\"\" is not a layer");
    check_bad_arch("conv0,gap,dense", 128, 2, CS_EINPUT, "\"conv0\" is not a layer");
    check_bad_arch("conv32x,gap,dense", 128, 2, CS_EINPUT, "\"conv32x\" is not a layer");
    check_bad_arch("conv32,gap,drop1,dense", 128, 2, CS_EINPUT, "\"drop1\" is not a layer");
    check_bad_arch("conv32,gap,drop-0.1,dense", 128, 2, CS_EINPUT, "\"drop-0.1\" is not a layer");
    check_bad_arch("conv32,maxpool,gap,dense", 128, 2, CS_EINPUT, "\"maxpool\" is not a layer");
    check_bad_arch("conv32,dense", 128, 2, CS_EINPUT, "fc1 gets a 126x126 input");
    check_bad_arch("conv8,conv8,gap,dense", 4, 2, CS_EINPUT, "does not fit 4x4 tiles: conv2 gets a 2x2 input");
    check_bad_arch("conv8,pool,pool,gap,dense", 4, 2, CS_EINPUT, "pool2 gets a 1x1 input");
    check_bad_arch("conv4096,conv4096,gap,dense", 128, 2, CS_ELIMIT, "parameters");
    return test_summary();
}
