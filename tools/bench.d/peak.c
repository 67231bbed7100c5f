/* peak.c: the machine's peak multiply-add rate for the vector width the
   convolutions are built with (simd.h): independent chains of a += b * c. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "simd.h"

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

#define CHAINS (2 * CS_PIX) /* as many as the convolutions keep */

/* GFLOP/s of one thread over about `secs` seconds. */
double cs_peak_gflops(double secs) {
    cs_vf acc[CHAINS], m = {0}, c = {0};
    for (int v = 0; v < CS_VLEN; v++) m[v] = 0.999999f, c[v] = 1e-7f;
    for (int i = 0; i < CHAINS; i++) acc[i] = m * (float)i;
    long n = 0, step = 1 << 16;
    double t0 = now(), t;
    do {
        for (long k = 0; k < step; k++) {
            CS_UNROLL for (int i = 0; i < CHAINS; i++) acc[i] = acc[i] * m + c;
            __asm__ volatile("" : "+x"(m)); /* keeps the loop from being folded */
        }
        n += step;
    } while ((t = now() - t0) < secs);
    float sink = 0;
    for (int i = 0; i < CHAINS; i++) sink += acc[i][0];
    if (sink == 12345) printf(" ");
    return 2.0 * CS_VLEN * CHAINS * n / t / 1e9;
}

#ifdef PEAK_MAIN
int main(void) { printf("peak %.1f GFLOP/s (%d lanes)\n", cs_peak_gflops(1), CS_VLEN); return 0; }
#endif
