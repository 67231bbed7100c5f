/* conv_bench.c: GFLOP/s of the fast convolutions on the network's shapes
   (forward, backward with and without din), one line per shape.
   Usage: conv_bench [seconds per figure, default 1] */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "internal.h"

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
    int threads = argc > 2 ? atoi(argv[2]) : 1;
    cs_set_threads(threads);
    static const int shapes[][5] = { /* B, H, W, Ci, Co */
        {32, 128, 128, 1, 32}, {32, 126, 126, 32, 32}, {32, 124, 124, 32, 64},
        {32, 63, 63, 32, 64}, {32, 31, 31, 64, 64}};
    printf("threads %d\n%-26s %9s %9s %9s\n", cs_threads(), "shape B H W Ci Co", "fwd", "bwd-dw", "bwd+din");
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
        int B = shapes[s][0], H = shapes[s][1], W = shapes[s][2], Ci = shapes[s][3], Co = shapes[s][4];
        size_t nin = (size_t)B * H * W * Ci, nout = (size_t)B * (H - 2) * (W - 2) * Co;
        float *in = filled(nin), *out = filled(nout), *w = filled((size_t)Co * Ci * 9), *bias = filled(Co);
        float *din = filled(nin), *dw = filled((size_t)Co * Ci * 9), *db = filled(Co);
        double flop = 2.0 * nout * Ci * 9, gf[3];
        for (int k = 0; k < 3; k++) {
            int n = 0;
            double t0 = now(), t;
            do {
                if (k == 0) cs_conv3x3_forward(out, in, w, bias, B, H, W, Ci, Co, 1);
                else cs_conv3x3_backward(k == 2 ? din : NULL, dw, db, out, in, w, B, H, W, Ci, Co);
                n++;
            } while ((t = now() - t0) < secs);
            gf[k] = flop * n * (k == 2 ? 2 : 1) / t / 1e9;
        }
        char name[64];
        snprintf(name, sizeof name, "%d %d %d %d %d", B, H, W, Ci, Co);
        printf("%-26s %9.1f %9.1f %9.1f\n", name, gf[0], gf[1], gf[2]);
        free(in), free(out), free(w), free(bias), free(din), free(dw), free(db);
    }
    return 0;
}
