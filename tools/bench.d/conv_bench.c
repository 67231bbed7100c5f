/* conv_bench.c: GFLOP/s of the fast convolutions on the network's shapes
   (forward; backward without din, as the first layer; backward with din),
   and the peak multiply-add rate (peak.c) to compare them with.
   Each figure is the best of repeated calls, so that other programs on the
   machine disturb it less.
   Usage: conv_bench [seconds per figure (1)] [threads (1)] [batch (8)] */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "internal.h"

double cs_peak_gflops(double secs);

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

static float *filled(size_t n) {
    float *a = malloc(sizeof(float) * n);
    for (size_t i = 0; i < n; i++) a[i] = (float)((i * 7919) % 1000) / 1000 - 0.5f;
    return a;
}

int main(int argc, char **argv) {
    double secs = argc > 1 ? atof(argv[1]) : 1;
    cs_set_threads(argc > 2 ? atoi(argv[2]) : 1);
    int B = argc > 3 ? atoi(argv[3]) : 8;
    static const int shapes[][4] = { /* H, W, Ci, Co */
        {128, 128, 1, 32}, {126, 126, 32, 32}, {124, 124, 32, 64}, {63, 63, 32, 64}, {31, 31, 64, 64}};
    double peak = cs_peak_gflops(secs);
    printf("threads %d, peak (1 thread) %.1f GFLOP/s\n", cs_threads(), peak);
    printf("%-22s %9s %9s %9s  (GFLOP/s)\n", "B H W Ci Co", "fwd", "bwd-dw", "bwd+din");
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
        int H = shapes[s][0], W = shapes[s][1], Ci = shapes[s][2], Co = shapes[s][3];
        size_t nin = (size_t)B * H * W * Ci, nout = (size_t)B * (H - 2) * (W - 2) * Co;
        float *in = filled(nin), *out = filled(nout), *w = filled((size_t)Co * Ci * 9), *bias = filled(Co);
        float *din = filled(nin), *dw = filled((size_t)Co * Ci * 9), *db = filled(Co);
        double flop = 2.0 * nout * Ci * 9, best[3] = {0, 0, 0};
        for (int k = 0; k < 3; k++) {
            double t0 = now();
            do {
                double t1 = now();
                if (k == 0) cs_conv3x3_forward(out, in, w, bias, NULL, B, H, W, Ci, Co, 1);
                else cs_conv3x3_backward(k == 2 ? din : NULL, dw, db, out, in, w, B, H, W, Ci, Co);
                double rate = flop * (k == 2 ? 2 : 1) / (now() - t1) / 1e9;
                if (rate > best[k]) best[k] = rate;
            } while (now() - t0 < secs);
        }
        char name[64];
        snprintf(name, sizeof name, "%d %d %d %d %d", B, H, W, Ci, Co);
        printf("%-22s %9.1f %9.1f %9.1f\n", name, best[0], best[1], best[2]);
        free(in), free(out), free(w), free(bias), free(din), free(dw), free(db);
    }
    return 0;
}
