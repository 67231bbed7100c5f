/* test_conv.c: the fast convolutions (conv.c) against the plain-C reference
   (conv_ref.c) on odd sizes that leave remainders in every blocking, and the
   same results for 1 and 2 threads. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "simd.h"
#include "test.h"

static cs_rng rng;

static float *random_floats(size_t n, float zero_fraction) {
    float *a = malloc(sizeof(float) * (n ? n : 1));
    for (size_t i = 0; i < n; i++)
        a[i] = cs_rng_uniform(&rng) < zero_fraction ? 0 : 2 * cs_rng_uniform(&rng) - 1;
    return a;
}

/* The forward pass and the input gradient go by Winograd's algorithm when
   cs_conv3x3_by_winograd says so; its error is larger (test_winograd.c). */
#define WINOGRAD_TOL 1e-4

static int same(const float *a, const float *b, size_t n) { return memcmp(a, b, sizeof(float) * n) == 0; }

static void check_shape(int B, int H, int W, int Ci, int Co) {
    int OH = H - 2, OW = W - 2;
    size_t nin = (size_t)B * H * W * Ci, nout = (size_t)B * OH * OW * Co, nw = (size_t)Co * Ci * 9;
    float *in = random_floats(nin, 0.1f), *w = random_floats(nw, 0), *bias = random_floats(Co, 0);
    float *dout = random_floats(nout, 0.3f); /* zeros as after a ReLU mask */
    float *out = malloc(sizeof(float) * nout), *out_ref = malloc(sizeof(float) * nout);
    float *out2 = malloc(sizeof(float) * nout);
    float *din = malloc(sizeof(float) * nin), *din_ref = malloc(sizeof(float) * nin);
    float *din2 = malloc(sizeof(float) * nin);
    float *dw = malloc(sizeof(float) * nw), *dw_ref = malloc(sizeof(float) * nw), *dw2 = malloc(sizeof(float) * nw);
    float *db = malloc(sizeof(float) * Co), *db_ref = malloc(sizeof(float) * Co), *db2 = malloc(sizeof(float) * Co);
    int failed_before = test_failed;

    for (int relu = 0; relu <= 1; relu++) {
        cs_set_threads(1);
        cs_conv3x3_forward_ref(out_ref, in, w, bias, B, H, W, Ci, Co, relu);
        cs_conv3x3_forward(out, in, w, bias, NULL, B, H, W, Ci, Co, relu);
        CHECK(test_rel_err(out, out_ref, nout) < (cs_conv3x3_by_winograd(Ci) ? WINOGRAD_TOL : 1e-5));
        cs_set_threads(2);
        cs_conv3x3_forward(out2, in, w, bias, NULL, B, H, W, Ci, Co, relu);
        CHECK(same(out, out2, nout));
        cs_conv_pack pack; /* packed once, as a pass through the network packs for its groups */
        cs_conv_pack_init(&pack, w, bias, Ci, Co);
        CHECK(!CS_HAVE_VECTORS || pack.w);
        memset(out2, 0, sizeof(float) * nout);
        cs_conv3x3_forward(out2, in, w, bias, &pack, B, H, W, Ci, Co, relu);
        CHECK(same(out, out2, nout));
        cs_conv_pack_free(&pack);
    }

    cs_conv3x3_backward_ref(din_ref, dw_ref, db_ref, dout, in, w, B, H, W, Ci, Co);
    for (int with_din = 0; with_din <= 1; with_din++) {
        cs_set_threads(1);
        memset(dw, 0xff, sizeof(float) * nw); /* NaN: everything must be overwritten */
        memset(din, 0xff, sizeof(float) * nin);
        cs_conv3x3_backward(with_din ? din : NULL, dw, db, dout, in, w, B, H, W, Ci, Co);
        CHECK(test_rel_err(dw, dw_ref, nw) < 1e-5);
        CHECK(test_rel_err(db, db_ref, Co) < 1e-5);
        if (with_din) CHECK(test_rel_err(din, din_ref, nin) < (cs_conv3x3_by_winograd(Co) ? WINOGRAD_TOL : 1e-5));
        else CHECK(din[0] != din[0]); /* untouched */
        cs_set_threads(2);
        cs_conv3x3_backward(with_din ? din2 : NULL, dw2, db2, dout, in, w, B, H, W, Ci, Co);
        CHECK(same(dw, dw2, nw));
        CHECK(same(db, db2, Co));
        if (with_din) CHECK(same(din, din2, nin));
    }
    if (test_failed != failed_before)
        fprintf(stderr, "  in shape B %d, H %d, W %d, Ci %d, Co %d\n", B, H, W, Ci, Co);

    free(in), free(w), free(bias), free(dout), free(out), free(out_ref), free(out2);
    free(din), free(din_ref), free(din2), free(dw), free(dw_ref), free(dw2), free(db), free(db_ref), free(db2);
}

int main(void) {
    cs_rng_seed(&rng, 6);
    /* B, H, W: output rows and pixels from 1 to beyond a few pixel blocks and
       row bands; Ci, Co: remainders of every channel block. */
    static const int sizes[][3] = {{1, 3, 3}, {1, 5, 7}, {2, 9, 13}, {3, 17, 6}, {1, 4, 30}, {2, 19, 17}};
    static const int cis[] = {1, 3, 32, 33}, cos[] = {1, 5, 32, 64, 65};
    for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++)
        for (size_t i = 0; i < sizeof cis / sizeof *cis; i++)
            for (size_t o = 0; o < sizeof cos / sizeof *cos; o++)
                check_shape(sizes[s][0], sizes[s][1], sizes[s][2], cis[i], cos[o]);
    /* Several weight-gradient chunks (of at least 1024 output pixels), the
       network's channel counts and remainders. */
    check_shape(3, 36, 29, 32, 64);
    check_shape(2, 40, 30, 33, 65);
    cs_set_threads(1);
    return test_summary();
}
