/* bench_net.c: cellsight's own figures for tools/bench: tiles per second of
   the paper's network (ScaffoldNet, 128 x 128 tiles, 2 classes) for inference
   on batches of 1 and 32, for training (forward, backward, Adam; batch 32,
   with dropout) and for classifying a whole 1408 x 1040 image (77 tiles), and
   the machine's peak multiply-add rate (peak.c) with the fraction of it that
   the network reaches, in two readings: "effective", counting the direct
   convolution's multiply-adds (cs_net_macs; training 3 times the forward), which
   exceeds 100% where Winograd's algorithm needs fewer; and "executed", counting
   the multiplies the kernels do (cs_net_executed_macs).
   Usage: cellsight_bench [--json] [--threads N (0: all cores; default 1)]
                          [--seconds S per figure (default 2)] [--target NAME] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef __linux__
#include <sys/resource.h>
#endif

#include "internal.h"
#include "simd.h"

double cs_peak_gflops(double secs);

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

typedef struct {
    cs_net *net;
    cs_workspace *ws, *infer_ws; /* infer_ws: forward only, as cs_classify's */
    cs_adam *opt;
    float *x, *probs;
    int *labels;
    cs_rng rng;
} bench;

static void infer(bench *b, int B) { cs_net_forward(b->net, b->infer_ws, 0, b->x, B, 0, NULL, b->probs); }

static void train(bench *b, int B) {
    cs_net_forward(b->net, b->ws, 0, b->x, B, 1, &b->rng, b->probs);
    cs_net_backward(b->net, b->ws, 0, b->labels, NULL, 0, B);
    cs_adam_step(b->opt, b->net->params, b->net->grads, 0);
}

/* Tiles per second of step(b, B): the best of repeated calls after one to warm up. */
static double tiles_per_s(void (*step)(bench *, int), bench *b, int B, double secs) {
    double best = 0, t0 = now();
    step(b, B);
    do {
        double t1 = now();
        step(b, B);
        double rate = B / (now() - t1);
        if (rate > best) best = rate;
    } while (now() - t0 < secs);
    return best;
}

/* Seconds to classify a 1408 x 1040 image of noise (the best of a few runs). */
static double image_seconds(int *ntiles, double secs) {
    cs_model m;
    cs_image im = {.w = 1408, .h = 1040, .gray = malloc(1408 * 1040)};
    cs_rng rng;
    cs_rng_seed(&rng, 2);
    for (int i = 0; i < im.w * im.h; i++) im.gray[i] = (uint8_t)cs_rng_below(&rng, 256);
    double best = 1e30, t0 = now();
    if (cs_model_init(&m, NULL, CS_TILE, 2, NULL, 1, NULL)) return 0;
    do {
        cs_result res;
        double t1 = now();
        if (cs_classify(&m, &im, 96, &res, NULL, NULL, NULL)) break;
        double t = now() - t1;
        if (t < best) best = t;
        *ntiles = res.ntiles;
        cs_result_free(&res);
    } while (now() - t0 < secs);
    cs_model_free(&m);
    free(im.gray);
    return best < 1e30 ? best : 0;
}

/* The peak of each thread, all running at once. */
typedef struct {
    double secs, gflops[256];
} peak_job;

static void peak_task(void *ctx, int i) {
    peak_job *j = ctx;
    j->gflops[i] = cs_peak_gflops(j->secs);
}

int main(int argc, char **argv) {
    int json = 0, threads = 1;
    double secs = 2;
    const char *target = "native";
#if defined(__EMSCRIPTEN__) || defined(__wasi__)
    target = "wasm-node";
#endif
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json")) json = 1;
        else if (!strcmp(argv[i], "--threads") && i + 1 < argc) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--seconds") && i + 1 < argc) secs = atof(argv[++i]);
        else if (!strcmp(argv[i], "--target") && i + 1 < argc) target = argv[++i];
        else {
            fprintf(stderr, "usage: %s [--json] [--threads N] [--seconds S] [--target NAME]\n", argv[0]);
            return 2;
        }
    }
    cs_set_threads(threads);
    threads = cs_threads();

    cs_error err;
    cs_net net;
    cs_adam opt;
    bench b = {.net = &net, .opt = &opt};
    if (cs_net_init(&net, NULL, CS_TILE, 2, &err) || cs_adam_init(&opt, net.nparams, &err) ||
        !(b.ws = cs_workspace_new(&net, 32, &err)) || !(b.infer_ws = cs_workspace_new_inference(&net, 32, &err))) {
        fprintf(stderr, "cellsight_bench: %s\n", err.msg);
        return 1;
    }
    cs_rng_seed(&b.rng, 1);
    cs_net_glorot(&net, &b.rng);
    size_t npix = (size_t)32 * CS_TILE * CS_TILE;
    b.x = malloc(sizeof(float) * npix);
    b.probs = malloc(sizeof(float) * 32 * 2);
    b.labels = malloc(sizeof(int) * 32);
    for (size_t i = 0; i < npix; i++) b.x[i] = 2 * cs_rng_uniform(&b.rng) - 1;
    for (int i = 0; i < 32; i++) b.labels[i] = i & 1;

    double gflop_tile = 2 * cs_net_macs(&net) / 1e9; /* forward; training is about 3 times */
    double infer1 = tiles_per_s(infer, &b, 1, secs), infer32 = tiles_per_s(infer, &b, 32, secs);
    double train32 = tiles_per_s(train, &b, 32, secs);
    int image_tiles = 0;
    double image_s = image_seconds(&image_tiles, secs);
    peak_job pj = {.secs = secs};
    cs_parallel_for(threads, peak_task, &pj);
    double peak = 0;
    for (int i = 0; i < threads; i++) peak += pj.gflops[i];
    double frac_infer = infer32 * gflop_tile / peak, frac_train = train32 * 3 * gflop_tile / peak;
    double exec_infer = 2 * cs_net_executed_macs(&net, 0) / 1e9, exec_train = 2 * cs_net_executed_macs(&net, 1) / 1e9;
    double xfrac_infer = infer32 * exec_infer / peak, xfrac_train = train32 * exec_train / peak;

    if (json) {
        static const char *task[] = {"infer1", "infer32", "train32", "image"};
        double v[] = {infer1, infer32, train32, image_s > 0 ? image_tiles / image_s : 0};
        for (int i = 0; i < 4; i++)
            printf("{\"engine\": \"cellsight\", \"target\": \"%s\", \"task\": \"%s\", \"threads\": %d, "
                   "\"tiles_per_s\": %.2f}\n", target, task[i], threads, v[i]);
        printf("{\"engine\": \"peak\", \"target\": \"%s\", \"threads\": %d, \"gflops\": %.1f, "
               "\"fraction_infer32\": %.3f, \"fraction_train32\": %.3f, "
               "\"executed_fraction_infer32\": %.3f, \"executed_fraction_train32\": %.3f, "
               "\"executed_gflop_infer\": %.4f, \"executed_gflop_train\": %.4f}\n",
               target, threads, peak, frac_infer, frac_train, xfrac_infer, xfrac_train, exec_infer, exec_train);
    } else {
        printf("cellsight %s, %d thread%s (%.2f GFLOP a tile forward as direct convolutions; "
               "executed: %.2f forward, %.2f a training step)\n", target, threads, threads > 1 ? "s" : "",
               gflop_tile, exec_infer, exec_train);
        printf("  of peak: effective (direct FLOPs) / executed multiply-adds\n");
        printf("  inference, batch 1    %8.1f tiles/s\n", infer1);
        printf("  inference, batch 32   %8.1f tiles/s  %6.1f / %6.1f GFLOP/s  %3.0f%% / %3.0f%% of peak\n",
               infer32, infer32 * gflop_tile, infer32 * exec_infer, 100 * frac_infer, 100 * xfrac_infer);
        printf("  training, batch 32    %8.1f tiles/s  %6.1f / %6.1f GFLOP/s  %3.0f%% / %3.0f%% of peak\n",
               train32, train32 * 3 * gflop_tile, train32 * exec_train, 100 * frac_train, 100 * xfrac_train);
        printf("  1408 x 1040 image     %8.3f s (%d tiles)\n", image_s, image_tiles);
        printf("  peak multiply-add     %8.1f GFLOP/s (%d lanes, %d thread%s)\n", peak,
               CS_VLEN, threads, threads > 1 ? "s" : "");
    }
#ifdef __linux__
    struct rusage ru;
    if (!json && !getrusage(RUSAGE_SELF, &ru)) printf("  peak memory           %8.0f MB\n", ru.ru_maxrss / 1024.0);
#endif
    free(b.x), free(b.probs), free(b.labels);
    cs_workspace_free(b.ws);
    cs_workspace_free(b.infer_ws);
    cs_adam_free(&opt);
    cs_net_free(&net);
    return 0;
}
