/* test_winograd.c: the Winograd convolution (winograd.c) against the plain-C
   reference (conv_ref.c), as the forward pass and as the input gradient, on odd
   sizes: edge tiles in both directions, channels that leave remainders in every
   vector and block, several tiles per batch; and the same results for 1 and 2
   threads.

   Tolerance: F(4x4, 3x3)'s transforms scale by up to 8, so its error is some
   ten float roundings of the sums: up to 1e-5 of the output's scale natively
   and 2e-5 in WASM (no fused multiply-add), at 64 channels; the largest seen is
   printed. 1e-4 leaves room for that, and fails any wrong coefficient,
   position or tile, which costs a whole product term (a changed coefficient
   of any of the three transforms, or swapped output positions, gave 1e-1 and
   more). */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "test.h"

static cs_rng rng;
static double worst; /* the largest error seen */

static float *random_floats(size_t n) {
    float *a = malloc(sizeof(float) * (n ? n : 1));
    for (size_t i = 0; i < n; i++) a[i] = 2 * cs_rng_uniform(&rng) - 1;
    return a;
}

/* test_rel_err, remembering the largest. */
static double rel_err(const float *a, const float *ref, size_t n) {
    double e = test_rel_err(a, ref, n);
    if (e > worst) worst = e;
    return e;
}

static void check_shape(int B, int H, int W, int Ci, int Co) {
    int OH = H - 2, OW = W - 2;
    size_t nin = (size_t)B * H * W * Ci, nout = (size_t)B * OH * OW * Co, nw = (size_t)Co * Ci * 9;
    float *in = random_floats(nin), *w = random_floats(nw), *bias = random_floats(Co);
    float *dout = random_floats(nout);
    float *out = malloc(sizeof(float) * nout), *ref = malloc(sizeof(float) * nout);
    float *din = malloc(sizeof(float) * nin), *din_ref = malloc(sizeof(float) * nin);
    float *copy = malloc(sizeof(float) * (nin > nout ? nin : nout));
    float *dw = malloc(sizeof(float) * nw), *db = malloc(sizeof(float) * Co);
    int failed_before = test_failed;

    for (int relu = 0; relu <= 1; relu++) {
        cs_conv3x3_forward_ref(ref, in, w, bias, B, H, W, Ci, Co, relu);
        cs_set_threads(1);
        memset(out, 0xff, sizeof(float) * nout); /* NaN: everything must be written */
        CHECK(cs_conv3x3_winograd(out, in, w, bias, B, H, W, Ci, Co, 0, 0, relu) == 0);
        CHECK(rel_err(out, ref, nout) < 1e-4);
        cs_set_threads(2);
        CHECK(cs_conv3x3_winograd(copy, in, w, bias, B, H, W, Ci, Co, 0, 0, relu) == 0);
        CHECK(memcmp(out, copy, sizeof(float) * nout) == 0);

        /* Averaged over each image's outputs, which are not stored. */
        float gap[2][3 * 64], gap_ref[3 * 64];
        for (int b = 0; b < B; b++)
            for (int o = 0; o < Co; o++) {
                double sum = 0;
                for (int p = 0; p < OH * OW; p++) sum += ref[((size_t)b * OH * OW + p) * Co + o];
                gap_ref[b * Co + o] = (float)(sum / (OH * OW));
            }
        for (int t = 0; t < 2; t++) {
            cs_set_threads(t + 1);
            CHECK(cs_conv3x3_winograd_gap(gap[t], in, w, bias, B, H, W, Ci, Co, relu) == 0);
        }
        CHECK(rel_err(gap[0], gap_ref, (size_t)B * Co) < 1e-4);
        CHECK(memcmp(gap[0], gap[1], sizeof(float) * B * Co) == 0);
    }

    /* The input gradient: dout [B][OH][OW][Co] padded by 2, the turned weights. */
    cs_conv3x3_backward_ref(din_ref, dw, db, dout, in, w, B, H, W, Ci, Co);
    cs_set_threads(1);
    memset(din, 0xff, sizeof(float) * nin);
    CHECK(cs_conv3x3_winograd(din, dout, w, NULL, B, OH, OW, Co, Ci, 2, 1, 0) == 0);
    CHECK(rel_err(din, din_ref, nin) < 1e-4);
    cs_set_threads(2);
    CHECK(cs_conv3x3_winograd(copy, dout, w, NULL, B, OH, OW, Co, Ci, 2, 1, 0) == 0);
    CHECK(memcmp(din, copy, sizeof(float) * nin) == 0);

    if (test_failed != failed_before)
        fprintf(stderr, "  in shape B %d, H %d, W %d, Ci %d, Co %d\n", B, H, W, Ci, Co);
    free(in), free(w), free(bias), free(dout), free(out), free(ref), free(din), free(din_ref);
    free(copy), free(dw), free(db);
}

int main(void) {
    cs_rng_seed(&rng, 9);
    /* B, H, W: odd and even output sizes from 1 up, more tiles than one task
       (also in one image, for the averaged output);
       Ci, Co: below, at and past vector and block widths. */
    static const int sizes[][3] = {{1, 3, 3}, {2, 4, 5}, {3, 9, 13}, {1, 6, 30}, {2, 19, 17}, {2, 35, 28}, {2, 47, 43}};
    static const int cis[] = {1, 3, 8, 17, 32, 33, 64}, cos[] = {1, 5, 32, 33, 64};
    for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++)
        for (size_t i = 0; i < sizeof cis / sizeof *cis; i++)
            for (size_t o = 0; o < sizeof cos / sizeof *cos; o++)
                check_shape(sizes[s][0], sizes[s][1], sizes[s][2], cis[i], cos[o]);
    printf("largest error relative to the output's scale: %.2g\n", worst);
    cs_set_threads(1);
    return test_summary();
}
