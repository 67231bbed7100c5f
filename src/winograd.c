/* winograd.c: the 3x3 convolution by Winograd's minimal filtering F(4x4, 3x3)
   (Lavin & Gray, "Fast algorithms for convolutional neural networks", 2016).

   Each 4 x 4 block of outputs ("tile") of each image comes from a 6 x 6 patch d
   of the input (the patches overlap by 2 pixels):
       Y = A^T [ sum over i of (G g[o][i] G^T) * (B^T d[i] B) ] A
   where * multiplies the 36 positions elementwise. The sum over input channels
   i is, at each of the 36 positions, a small GEMM [tiles][Ci] x [Ci][Co]: 36
   multiplies per 4 x 4 outputs and channel pair instead of 144, 4 times fewer.
   The transforms (Lavin's, from the points 0, 1, -1, 2, -2) scale by up to 8,
   which costs precision: about 1e-5 of the output's scale where the direct sum
   has 1e-6 (test_winograd.c), far below what training or a classification
   notices. F(2x2, 3x3) is 3 times as precise but saves only 2.25 times the
   multiplies, so the network runs faster with F(4x4, 3x3) (docs/speed.md).

   Tiles are numbered over the batch (image, tile row, tile column) and taken
   CS_PIX at a time: their inputs are transformed into v (small enough for the
   L2 cache), multiplied by each block of CS_CB output channels of the
   transformed weights u, with CS_PIX x CS_NV vectors of sums in registers as
   the direct kernels (simd.h), and transformed back into the output. Threads
   take tasks of CS_WINO_TASK_GROUPS such groups; each output is computed by one
   task in a fixed order, so the threads do not change the result.

   Followed by global average pooling (cs_conv3x3_winograd_gap), the outputs are
   summed instead of stored: tasks then keep to one image, each sums its tiles'
   outputs, and an image's mean adds its tasks' sums in task order, so the
   threads do not change that either. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "simd.h"

#if CS_HAVE_VECTORS

#define TM 4 /* outputs per tile side */
#define TA (TM + 2) /* its input patch's side */
#define WP (TA * TA) /* positions of a tile */
#define CS_WINO_TASK_GROUPS 8 /* groups of CS_PIX tiles per task */

/* ---------------------------------------------------------------- the transforms
   One dimension each, on p[0], p[s], p[2s], ...; 2-D: columns, then rows. */

/* B^T: 6 inputs -> 6, in place. */
CS_INLINE void bt_1d(cs_vf *p, int s) {
    cs_vf d0 = p[0], d1 = p[s], d2 = p[2 * s], d3 = p[3 * s], d4 = p[4 * s], d5 = p[5 * s];
    cs_vf a = d4 - 4 * d2, b = d3 - 4 * d1, c = d4 - d2, e = 2 * (d3 - d1);
    p[0] = 4 * d0 - 5 * d2 + d4, p[s] = a + b, p[2 * s] = a - b, p[3 * s] = c + e, p[4 * s] = c - e;
    p[5 * s] = 4 * d1 - 5 * d3 + d5;
}

/* G: 3 weights g -> 6 in o. */
CS_INLINE void g_1d(cs_vf *o, int os, const cs_vf *g, int gs) {
    cs_vf g0 = g[0], g1 = g[gs], g2 = g[2 * gs];
    o[0] = g0 / 4, o[os] = -(g0 + g1 + g2) / 6, o[2 * os] = -(g0 - g1 + g2) / 6;
    o[3 * os] = g0 / 24 + g1 / 12 + g2 / 6, o[4 * os] = g0 / 24 - g1 / 12 + g2 / 6, o[5 * os] = g2;
}

/* A^T: 6 products m -> 4 outputs in o. */
CS_INLINE void at_1d(cs_vf *o, int os, const cs_vf *m, int ms) {
    cs_vf a = m[ms] + m[2 * ms], b = m[ms] - m[2 * ms], c = m[3 * ms] + m[4 * ms], e = m[3 * ms] - m[4 * ms];
    o[0] = m[0] + a + c, o[os] = b + 2 * e, o[2 * os] = a + 4 * c, o[3 * os] = b + 8 * e + m[5 * ms];
}

/* d [TA][TA] -> B^T d B, in place */
CS_INLINE void transform_input(cs_vf d[WP]) {
    for (int c = 0; c < TA; c++) bt_1d(d + c, TA);
    for (int r = 0; r < TA; r++) bt_1d(d + TA * r, 1);
}

/* g [3][3] -> u [TA][TA] = G g G^T */
CS_INLINE void transform_weights(cs_vf u[WP], const cs_vf g[9]) {
    cs_vf t[TA * 3];
    for (int c = 0; c < 3; c++) g_1d(t + c, 3, g + c, 3);
    for (int r = 0; r < TA; r++) g_1d(u + TA * r, 1, t + 3 * r, 1);
}

/* m [TA][TA] -> y [TM][TM] = A^T m A */
CS_INLINE void transform_output(cs_vf y[TM * TM], const cs_vf m[WP]) {
    cs_vf t[TM * TA];
    for (int c = 0; c < TA; c++) at_1d(t + c, TA, m + c, TA);
    for (int r = 0; r < TM; r++) at_1d(y + TM * r, 1, t + TA * r, 1);
}

/* A vector of the n <= CS_VLEN floats at p and whatever follows them, not
   read past end (then zeros). */
CS_INLINE cs_vf load_n(const float *p, int n, const float *end) {
    if (n == CS_VLEN || p + CS_VLEN <= end) return cs_load(p);
    float t[CS_VLEN] = {0};
    memcpy(t, p, sizeof(float) * n);
    return cs_load(t);
}

/* The first n <= CS_VLEN floats of x to p. */
CS_INLINE void store_n(float *p, cs_vf x, int n) {
    if (n == CS_VLEN) {
        cs_store(p, x);
    } else if (n > 0) {
        float t[CS_VLEN];
        cs_store(t, x);
        memcpy(p, t, sizeof(float) * n);
    }
}

/* w [Co][Ci][3][3] -> u [Co / CS_CB][WP][Ci][CS_CB], channels >= co zero.
   flip: the input gradient's weights, g[o][i][ky][kx] = w[i][o][2 - ky][2 - kx],
   with ci = the layer's Co and co = its Ci. */
float *cs_winograd_pack(const float *w, int ci, int co, int flip) {
    int ncob = cs_ceil_div(co, CS_CB);
    float *u = malloc(sizeof(float) * ncob * WP * ci * CS_CB);
    if (!u) return NULL;
    for (int ob = 0; ob < ncob * CS_NV; ob++) /* a vector of output channels */
        for (int i = 0; i < ci; i++) {
            float lanes[9][CS_VLEN];
            cs_vf g[9], t[WP];
            for (int l = 0; l < CS_VLEN; l++) {
                int o = ob * CS_VLEN + l;
                for (int k = 0; k < 9; k++)
                    lanes[k][l] = o >= co ? 0 : cs_conv3x3_weight(w, ci, co, o, i, k, flip);
            }
            for (int k = 0; k < 9; k++) g[k] = cs_load(lanes[k]);
            transform_weights(t, g);
            float *dst = u + ((size_t)ob / CS_NV * WP * ci + i) * CS_CB + ob % CS_NV * CS_VLEN;
            for (int pos = 0; pos < WP; pos++) cs_store(dst + (size_t)pos * ci * CS_CB, t[pos]);
        }
    return u;
}

/* ---------------------------------------------------------------- a group of tiles */

typedef struct {
    float *out;             /* [B][OH][OW][Co], or NULL and instead */
    float *sums;            /* each task's sums of its image's outputs [tasks][Co padded] */
    const float *in, *in_end, *u, *bias; /* in [B][H][W][Ci]; bias padded to whole blocks */
    int H, W, Ci, Co, pad, relu;
    int OH, OW, ntx, tiles_per_image, ntiles, ldv;
    int tasks_per_image;    /* with sums: tasks keep to one image */
    int failed; /* a task could not get its scratch memory */
} wino_job;

/* The tiles [*g0, *g1) of a task. */
static void task_tiles(const wino_job *j, int task, int *g0, int *g1) {
    int n = CS_WINO_TASK_GROUPS * CS_PIX, end = j->ntiles;
    if (j->sums) {
        int b = task / j->tasks_per_image;
        *g0 = b * j->tiles_per_image + task % j->tasks_per_image * n;
        end = (b + 1) * j->tiles_per_image;
    } else {
        *g0 = task * n;
    }
    *g1 = *g0 + n < end ? *g0 + n : end;
}

/* One vector of channels [c, c + n) of one tile: the pixels px (NULL: zero
   padding, only if edge) -> v [WP] (positions vs apart). If n < CS_VLEN, the
   other lanes go to v's padding, which is not read: loading them with the
   next pixel's channels spares copying. */
CS_INLINE void input_vector(float *v, int vs, const float *const px[WP], int c, int n,
                            const float *end, const int edge) {
    cs_vf d[WP];
    for (int k = 0; k < WP; k++) d[k] = edge && !px[k] ? (cs_vf){0} : load_n(px[k] + c, n, end);
    transform_input(d);
    for (int pos = 0; pos < WP; pos++) cs_store(v + (size_t)pos * vs + c, d[pos]);
}

/* The same for a patch inside the image, its top left pixel's channel c at p,
   rows row floats apart: addresses by strides, no table of pixels. */
CS_INLINE void input_vector_inside(float *v, int vs, const float *p, size_t row, int ci) {
    cs_vf d[WP];
    for (int r = 0; r < TA; r++)
        for (int c = 0; c < TA; c++) d[TA * r + c] = cs_load(p + r * row + (size_t)c * ci);
    transform_input(d);
    for (int pos = 0; pos < WP; pos++) cs_store(v + (size_t)pos * vs, d[pos]);
}

/* Tile g's transformed input -> v [WP][..][ldv] (positions vs apart); zeros from tile end on. */
static void input_tile(float *v, int vs, const wino_job *j, int g, int end) {
    const float *px[WP];
    int edge = g >= end, ci = j->Ci;
    if (!edge) {
        int b = g / j->tiles_per_image, t = g % j->tiles_per_image;
        int y0 = t / j->ntx * TM - j->pad, x0 = t % j->ntx * TM - j->pad;
        if (y0 >= 0 && x0 >= 0 && y0 + TA <= j->H && x0 + TA <= j->W && ci % CS_VLEN == 0) {
            const float *p = j->in + (((size_t)b * j->H + y0) * j->W + x0) * ci;
            for (int c = 0; c < ci; c += CS_VLEN) input_vector_inside(v + c, vs, p + c, (size_t)j->W * ci, ci);
            return;
        }
        for (int k = 0; k < WP; k++) {
            int y = y0 + k / TA, x = x0 + k % TA;
            int inside = y >= 0 && y < j->H && x >= 0 && x < j->W;
            px[k] = inside ? j->in + (((size_t)b * j->H + y) * j->W + x) * ci : NULL;
            edge |= !inside;
        }
    } else {
        for (int k = 0; k < WP; k++) px[k] = NULL;
    }
    int c = 0;
    if (edge)
        for (; c + CS_VLEN <= ci; c += CS_VLEN) input_vector(v, vs, px, c, CS_VLEN, NULL, 1);
    else
        for (; c + CS_VLEN <= ci; c += CS_VLEN) input_vector(v, vs, px, c, CS_VLEN, NULL, 0);
    if (c < ci) input_vector(v, vs, px, c, ci - c, j->in_end, 1);
}

/* Per position, m [WP][CS_PIX][CS_CB] = v [WP][CS_PIX][ldv] (the first ci of
   each row) x u [WP][ci][CS_CB]. */
CS_INLINE void multiply(float *m, const float *v, const float *u, int ci, int ldv) {
    for (int pos = 0; pos < WP; pos++, v += CS_PIX * ldv, u += (size_t)ci * CS_CB, m += CS_PIX * CS_CB) {
        cs_vf acc[CS_PIX][CS_NV];
        CS_UNROLL for (int p = 0; p < CS_PIX; p++)
            CS_UNROLL for (int k = 0; k < CS_NV; k++) acc[p][k] = (cs_vf){0};
        const float *a = v, *wk = u;
        for (int i = 0; i < ci; i++, a++, wk += CS_CB) {
            cs_vf wv[CS_NV];
            CS_UNROLL for (int k = 0; k < CS_NV; k++) wv[k] = cs_load(wk + k * CS_VLEN);
            CS_UNROLL for (int p = 0; p < CS_PIX; p++) {
                float x = a[p * ldv];
                CS_UNROLL for (int k = 0; k < CS_NV; k++) acc[p][k] += x * wv[k];
            }
        }
        CS_UNROLL for (int p = 0; p < CS_PIX; p++)
            CS_UNROLL for (int k = 0; k < CS_NV; k++) cs_store(m + p * CS_CB + k * CS_VLEN, acc[p][k]);
    }
}

/* The paper's widths get their own copies with the row stride a constant, as
   the direct kernels: WASM then folds the offsets into its loads. */
static __attribute__((noinline)) void multiply_any(float *m, const float *v, const float *u, int ci, int ldv) {
    if (ci == 32 && ldv == 32) multiply(m, v, u, 32, 32);
    else if (ci == 64 && ldv == 64) multiply(m, v, u, 64, 64);
    else multiply(m, v, u, ci, ldv);
}

/* The 16 outputs of one vector of channels from its products m [WP] (ms
   apart): A^T m A + bias, ReLU'd if relu. The bias goes in at position (1, 1),
   which A^T's column of ones carries to every output once: one add, not 16. */
CS_INLINE void tile_outputs(cs_vf y[TM * TM], const float *m, int ms, cs_vf bias, int relu) {
    cs_vf mv[WP];
    for (int pos = 0; pos < WP; pos++) mv[pos] = cs_load(m + (size_t)pos * ms);
    mv[TA + 1] += bias;
    transform_output(y, mv);
    if (relu)
        for (int q = 0; q < TM * TM; q++) y[q] = cs_relu(y[q]);
}

/* Output channels [cob CS_CB, ...) of tile g from its products m [WP][..][CS_CB]
   (positions ms apart), stored, or added to sums. */
static void output_tile(const wino_job *j, int g, const float *m, int ms, int cob, float *sums) {
    int b = g / j->tiles_per_image, t = g % j->tiles_per_image;
    int y0 = t / j->ntx * TM, x0 = t % j->ntx * TM, o0 = cob * CS_CB;
    int rows = j->OH - y0 < TM ? j->OH - y0 : TM, cols = j->OW - x0 < TM ? j->OW - x0 : TM; /* fewer at the edges */
    float *p = j->out ? j->out + (((size_t)b * j->OH + y0) * j->OW + x0) * j->Co + o0 : NULL;
    size_t row = (size_t)j->OW * j->Co;
    for (int k = 0; k < CS_NV; k++) {
        int n = j->Co - o0 - k * CS_VLEN;
        cs_vf y[TM * TM];
        tile_outputs(y, m + k * CS_VLEN, ms, cs_load(j->bias + o0 + k * CS_VLEN), j->relu);
        if (sums) {
            cs_vf sum = cs_load(sums + o0 + k * CS_VLEN);
            for (int r = 0; r < rows; r++)
                for (int c = 0; c < cols; c++) sum += y[TM * r + c];
            cs_store(sums + o0 + k * CS_VLEN, sum);
            continue;
        }
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++)
                store_n(p + r * row + (size_t)c * j->Co + k * CS_VLEN, y[TM * r + c], n < CS_VLEN ? n : CS_VLEN);
    }
}

static void wino_task(void *ctx, int task) {
    wino_job *j = ctx;
    int vs = CS_PIX * j->ldv, ms = CS_PIX * CS_CB;
    float *v = malloc(sizeof(float) * ((size_t)WP * vs + WP * ms)), *m = v + (size_t)WP * vs;
    if (!v) {
        __atomic_store_n(&j->failed, 1, __ATOMIC_RELAXED);
        return;
    }
    int first, end, cop = cs_ceil_div(j->Co, CS_CB) * CS_CB;
    float *sums = j->sums ? j->sums + (size_t)task * cop : NULL;
    if (sums) memset(sums, 0, sizeof(float) * cop);
    task_tiles(j, task, &first, &end);
    for (int g0 = first; g0 < end; g0 += CS_PIX) {
        for (int p = 0; p < CS_PIX; p++) input_tile(v + p * j->ldv, vs, j, g0 + p, end);
        for (int cob = 0; cob * CS_CB < j->Co; cob++) {
            multiply_any(m, v, j->u + (size_t)cob * WP * j->Ci * CS_CB, j->Ci, j->ldv);
            for (int p = 0; p < CS_PIX && g0 + p < end; p++) output_tile(j, g0 + p, m + p * CS_CB, ms, cob, sums);
        }
    }
    free(v);
}

int cs_winograd_run(float *out, float *gap, const float *in, const float *u, const float *bp,
                    int B, int H, int W, int Ci, int Co, int pad, int relu) {
    int OH = H + 2 * pad - 2, OW = W + 2 * pad - 2;
    if (B <= 0 || OH <= 0 || OW <= 0 || Ci <= 0 || Co <= 0) return 0;
    int ntx = cs_ceil_div(OW, TM), tiles_per_image = cs_ceil_div(OH, TM) * ntx, cop = cs_ceil_div(Co, CS_CB) * CS_CB;
    int per_image = cs_ceil_div(tiles_per_image, CS_PIX * CS_WINO_TASK_GROUPS);
    int ntasks = gap ? B * per_image : cs_ceil_div(B * tiles_per_image, CS_PIX * CS_WINO_TASK_GROUPS);
    float *sums = gap ? malloc(sizeof(float) * ntasks * cop) : NULL;
    int failed = gap && !sums;
    if (!failed) {
        wino_job j = {out, sums, in, in + (size_t)B * H * W * Ci, u, bp, H, W, Ci, Co, pad, relu, OH, OW, ntx,
                      tiles_per_image, B * tiles_per_image, cs_ceil_div(Ci, CS_VLEN) * CS_VLEN, per_image, 0};
        cs_parallel_for(ntasks, wino_task, &j);
        failed = j.failed;
    }
    for (int b = 0; gap && !failed && b < B; b++)
        for (int c = 0; c < Co; c++) {
            float sum = 0;
            for (int t = 0; t < per_image; t++) sum += sums[(size_t)(b * per_image + t) * cop + c];
            gap[(size_t)b * Co + c] = sum / ((float)OH * OW);
        }
    free(sums);
    return failed ? -1 : 0;
}

/* cs_winograd_run with the weights packed for this call. */
static int winograd(float *out, float *gap, const float *in, const float *w, const float *bias,
                    int B, int H, int W, int Ci, int Co, int pad, int flip, int relu) {
    float *u = cs_winograd_pack(w, Ci, Co, flip), *bp = cs_conv_pad_bias(bias, Co);
    int failed = !u || !bp || cs_winograd_run(out, gap, in, u, bp, B, H, W, Ci, Co, pad, relu);
    free(u);
    free(bp);
    return failed ? -1 : 0;
}

int cs_conv3x3_winograd(float *out, const float *in, const float *w, const float *bias,
                        int B, int H, int W, int Ci, int Co, int pad, int flip, int relu) {
    return winograd(out, NULL, in, w, bias, B, H, W, Ci, Co, pad, flip, relu);
}

int cs_conv3x3_winograd_gap(float *gap, const float *in, const float *w, const float *bias,
                            int B, int H, int W, int Ci, int Co, int relu) {
    return winograd(NULL, gap, in, w, bias, B, H, W, Ci, Co, 0, 0, relu);
}

#endif
