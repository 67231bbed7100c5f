/* peak.c: the machine's peak multiply-add rate for the vector width the
   convolutions are built with (simd.h): independent chains of a = a * b + c,
   enough to hide the latency of a multiply and an add (WASM has no fused
   multiply-add) and few enough to stay in registers. */
#include <stdio.h>
#include <time.h>

#include "simd.h"

#define CHAINS (2 * CS_PIX < 12 ? 12 : 2 * CS_PIX)
#define STEPS 4096

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

/* Short calls, many times: V8 optimizes a WASM function only between calls. */
static __attribute__((noinline)) void chains(cs_vf *acc, cs_vf m, cs_vf c) {
    cs_vf a[CHAINS];
    CS_UNROLL for (int i = 0; i < CHAINS; i++) a[i] = acc[i];
    for (int k = 0; k < STEPS; k++)
        CS_UNROLL for (int i = 0; i < CHAINS; i++) a[i] = a[i] * m + c;
    CS_UNROLL for (int i = 0; i < CHAINS; i++) acc[i] = a[i];
}

/* GFLOP/s of one thread, measured for about `secs` seconds. */
double cs_peak_gflops(double secs) {
    cs_vf acc[CHAINS], m, c;
    for (int v = 0; v < CS_VLEN; v++) m[v] = 0.999999f, c[v] = 1e-7f;
    for (int i = 0; i < CHAINS; i++) acc[i] = m * (float)i;
    double best = 0, t0 = now();
    do { /* the best of short runs: other programs on the machine disturb it less */
        double t1 = now();
        for (int r = 0; r < 16; r++) chains(acc, m, c);
        double rate = 2.0 * CS_VLEN * CHAINS * STEPS * 16 / (now() - t1) / 1e9;
        if (rate > best) best = rate;
    } while (now() - t0 < secs);
    float sink = 0;
    for (int i = 0; i < CHAINS; i++) sink += acc[i][0];
    if (sink == 12345) printf(" ");
    return best;
}

#ifdef PEAK_MAIN
int main(void) { printf("peak %.1f GFLOP/s (%d lanes)\n", cs_peak_gflops(1), CS_VLEN); return 0; }
#endif
