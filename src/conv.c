/* conv.c: the fast 3x3 convolutions, as implicit GEMMs on channels-last data.

   Forward, one output row y of one tile:
       out[x][o] = bias[o] + sum over ky < 3, k < 3 Ci of  in[y + ky][x][k] * wp[ky][k][o]
   where in[y + ky][x][k] with k = kx Ci + i is in[y + ky][x + kx][i]: in NHWC the
   3 pixels x .. x + 2 are adjacent, so each output pixel reads one contiguous
   run of 3 Ci floats per kernel row, and wp is w repacked to [ky][kx][Ci][Co].
   The micro-kernel fwd_block keeps CS_PIX pixels x CS_CB channels of sums in
   registers (simd.h).

   Input gradient: the "full" convolution of dout (zero-padded by 2) with the
   flipped, transposed weights, i.e. the same forward kernel.

   Both go to Winograd's algorithm (winograd.c) when there are enough input
   channels; the direct kernels below do the rest (the first layer's single
   channel) and the weight gradient.

   Weight gradient, for each kernel row ky:
       dwp[ky][k][o] = sum over pixels (b, y, x) of in[b][y + ky][x][k] * dout[b][y][x][o]
   a GEMM over the pixels, done by dw_block with CS_PIX rows k x CS_CB channels
   of sums in registers. The pixels are cut into chunks that depend on the
   shape only, summed separately (in parallel) and added in chunk order, so
   the result is the same for any number of threads.

   Work goes to threads by bands of output rows (forward, input gradient) and
   by chunks (weight gradient); rows are walked in strips of CS_STRIP pixels so
   that a strip's inputs and a block of weights stay in L1 cache. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "simd.h"

int cs_conv3x3_by_winograd(int ci) { return CS_HAVE_VECTORS && ci >= CS_WINOGRAD_MIN_CI; }

/* Winograd: per 4 x 4 block of outputs and channel pair, the 36 elementwise
   products of the transformed patch and weights; the transforms are additions
   and scalings by constants, not counted. Direct: 9 per output and pair. Lanes
   that pad the channels to whole vectors are not counted either. */
double cs_conv3x3_executed_macs(int ci, int co, int oh, int ow) {
    if (cs_conv3x3_by_winograd(ci)) return 36.0 * ((oh + 3) / 4) * ((ow + 3) / 4) * ci * co;
    return 9.0 * oh * ow * ci * co;
}

#if CS_HAVE_VECTORS

#define CS_BAND 16 /* output rows per task */
#define CS_STRIP 32 /* pixels: a strip of a row and one block of weights stay in L1 cache */
#define CS_DW_CHUNKS 32        /* at most, for the weight gradient */
#define CS_DW_CHUNK_PIXELS 1024 /* at least, so that zeroing and adding a chunk's sums is cheap */

/* w [Co][Ci][3][3] -> wp [Co / CS_CB][ky][kx][Ci][CS_CB], channels >= co zero.
   flip: the input gradient's weights, wp[...][i][o] = w[i][o][2 - ky][2 - kx],
   with ci = the layer's Co and co = its Ci. */
static float *pack_direct_weights(const float *w, int ci, int co, int flip) {
    int ncob = cs_ceil_div(co, CS_CB);
    float *wp = calloc((size_t)ncob * 9 * ci * CS_CB, sizeof(float));
    if (!wp) return NULL;
    for (int o = 0; o < co; o++)
        for (int i = 0; i < ci; i++)
            for (int ky = 0; ky < 3; ky++)
                for (int kx = 0; kx < 3; kx++) {
                    size_t k = (size_t)(o / CS_CB) * 9 * ci + (ky * 3 + kx) * ci + i;
                    wp[k * CS_CB + o % CS_CB] = cs_conv3x3_weight(w, ci, co, o, i, ky * 3 + kx, flip);
                }
    return wp;
}

/* ---------------------------------------------------------------- forward */

/* out[p][0 .. nc) for r pixels p = bias + sum over ky, k < 3 ci of
   rows[ky][p ci + k] * wp[ky][k][0 .. CS_CB); out's pixels are ostride apart. */
CS_INLINE void fwd_block(float *out, int ostride, int nc, const float *const rows[3], int ci,
                         const float *wp, const float *bias, int relu, const int r) {
    cs_vf acc[CS_PIX][CS_NV];
    CS_UNROLL for (int p = 0; p < r; p++)
        CS_UNROLL for (int v = 0; v < CS_NV; v++) acc[p][v] = cs_load(bias + v * CS_VLEN);
    int K = 3 * ci;
    for (int ky = 0; ky < 3; ky++) {
        const float *a = rows[ky];
        const float *wk = wp + (size_t)ky * K * CS_CB;
        for (int k = 0; k < K; k++, a++, wk += CS_CB) {
            cs_vf wv[CS_NV];
            CS_UNROLL for (int v = 0; v < CS_NV; v++) wv[v] = cs_load(wk + v * CS_VLEN);
            CS_UNROLL for (int p = 0; p < r; p++) {
                float x = a[p * ci];
                CS_UNROLL for (int v = 0; v < CS_NV; v++) acc[p][v] += x * wv[v];
            }
        }
    }
    CS_UNROLL for (int p = 0; p < r; p++) {
        if (relu)
            CS_UNROLL for (int v = 0; v < CS_NV; v++) acc[p][v] = cs_relu(acc[p][v]);
        if (nc == CS_CB) {
            CS_UNROLL for (int v = 0; v < CS_NV; v++) cs_store(out + p * ostride + v * CS_VLEN, acc[p][v]);
        } else { /* the last, partial block of channels */
            float tmp[CS_CB];
            CS_UNROLL for (int v = 0; v < CS_NV; v++) cs_store(tmp + v * CS_VLEN, acc[p][v]);
            memcpy(out + p * ostride, tmp, sizeof(float) * nc);
        }
    }
}

/* fwd_block for any r <= CS_PIX: one function for each r, its loops unrolled
   (separate functions, so that the compiler cannot merge them back into one
   loop over r). The paper's widths, 32 and 64 channels, get their own copies
   with the pixel stride a constant: a block's inputs are then at constant
   offsets from one address, which WASM folds into its loads. */
#define FWD_BLOCK(n)                                                                          \
    static __attribute__((noinline)) void fwd_block_##n(                                      \
        float *out, int ostride, int nc, const float *const rows[3], int ci, const float *wp,   \
        const float *bias, int relu) {                                                         \
        const int r = n <= CS_PIX ? n : CS_PIX;                                                \
        if (ci == 32) fwd_block(out, ostride, nc, rows, 32, wp, bias, relu, r);                \
        else if (ci == 64) fwd_block(out, ostride, nc, rows, 64, wp, bias, relu, r);           \
        else fwd_block(out, ostride, nc, rows, ci, wp, bias, relu, r);                         \
    }
FWD_BLOCK(1) FWD_BLOCK(2) FWD_BLOCK(3) FWD_BLOCK(4) FWD_BLOCK(5) FWD_BLOCK(6) FWD_BLOCK(7)
FWD_BLOCK(8) FWD_BLOCK(9) FWD_BLOCK(10) FWD_BLOCK(11) FWD_BLOCK(12) FWD_BLOCK(13) FWD_BLOCK(14)
FWD_BLOCK(15) FWD_BLOCK(16)
#undef FWD_BLOCK

static void fwd_block_r(int r, float *out, int ostride, int nc, const float *const rows[3], int ci,
                        const float *wp, const float *bias, int relu) {
    switch (r) {
#define CASE(n) case n: if (n <= CS_PIX) fwd_block_##n(out, ostride, nc, rows, ci, wp, bias, relu); break;
        CASE(1) CASE(2) CASE(3) CASE(4) CASE(5) CASE(6) CASE(7) CASE(8)
        CASE(9) CASE(10) CASE(11) CASE(12) CASE(13) CASE(14) CASE(15) CASE(16)
#undef CASE
    }
}

/* One output row out [ow][co] from the 3 input rows rows[ky] [ow + 2][ci].
   wp as pack_direct_weights, bias padded to whole blocks. */
static void fwd_row(float *out, const float *const rows[3], int ow, int ci, int co,
                    const float *wp, const float *bias, int relu) {
    int nb = cs_ceil_div(ow, CS_PIX);          /* blocks of balanced sizes <= CS_PIX */
    int strip = cs_ceil_div(CS_STRIP, CS_PIX); /* blocks */
    for (int b0 = 0; b0 < nb; b0 += strip)
        for (int cob = 0; cob * CS_CB < co; cob++) {
            int nc = co - cob * CS_CB < CS_CB ? co - cob * CS_CB : CS_CB;
            const float *wb = wp + (size_t)cob * 9 * ci * CS_CB;
            for (int blk = b0; blk < nb && blk < b0 + strip; blk++) {
                int x0 = blk * ow / nb, x1 = (blk + 1) * ow / nb;
                const float *rb[3] = {rows[0] + x0 * ci, rows[1] + x0 * ci, rows[2] + x0 * ci};
                fwd_block_r(x1 - x0, out + (size_t)x0 * co + cob * CS_CB, co, nc, rb, ci, wb,
                            bias + cob * CS_CB, relu);
            }
        }
}

typedef struct {
    float *out;
    const float *in, *wp, *bias;
    int H, W, Ci, Co, relu, nband;
} fwd_job;

static void fwd_task(void *ctx, int t) {
    const fwd_job *j = ctx;
    int b = t / j->nband, band = t % j->nband, OH = j->H - 2, OW = j->W - 2;
    int y1 = (band + 1) * CS_BAND < OH ? (band + 1) * CS_BAND : OH;
    for (int y = band * CS_BAND; y < y1; y++) {
        const float *r0 = j->in + ((size_t)b * j->H + y) * j->W * j->Ci;
        const float *rows[3] = {r0, r0 + (size_t)j->W * j->Ci, r0 + (size_t)2 * j->W * j->Ci};
        fwd_row(j->out + ((size_t)b * OH + y) * OW * j->Co, rows, OW, j->Ci, j->Co, j->wp, j->bias,
                j->relu);
    }
}

void cs_conv_pack_init(cs_conv_pack *p, const float *w, const float *bias, int Ci, int Co) {
    p->winograd = cs_conv3x3_by_winograd(Ci);
    p->w = p->winograd ? cs_winograd_pack(w, Ci, Co, 0) : pack_direct_weights(w, Ci, Co, 0);
    p->bias = cs_conv_pad_bias(bias, Co);
    if (!p->w || !p->bias) cs_conv_pack_free(p);
}

void cs_conv3x3_forward(float *out, const float *in, const float *w, const float *bias, const cs_conv_pack *pack,
                        int B, int H, int W, int Ci, int Co, int relu) {
    if (B <= 0 || H < 3 || W < 3) return;
    cs_conv_pack own = {0};
    if (!pack || !pack->w) cs_conv_pack_init(&own, w, bias, Ci, Co), pack = &own;
    int done = 0;
    if (pack->w && pack->winograd) {
        done = cs_winograd_run(out, NULL, in, pack->w, pack->bias, B, H, W, Ci, Co, 0, relu) == 0;
    } else if (pack->w) {
        fwd_job j = {out, in, pack->w, pack->bias, H, W, Ci, Co, relu, cs_ceil_div(H - 2, CS_BAND)};
        cs_parallel_for(B * j.nband, fwd_task, &j);
        done = 1;
    }
    if (!done) cs_conv3x3_forward_ref(out, in, w, bias, B, H, W, Ci, Co, relu); /* out of memory: the slow way needs none */
    cs_conv_pack_free(&own);
}

/* ---------------------------------------------------------------- backward */

/* Input gradient of output rows [band CS_BAND, ...) of tile b: the forward
   kernel on dout zero-padded by 2 pixels on each side (a copy of the rows
   needed), with the flipped weights. */
typedef struct {
    float *din;
    const float *dout, *wp, *zero_bias;
    int H, W, Ci, Co, nband;
    int failed; /* a task could not get its scratch memory */
} din_job;

static void din_task(void *ctx, int t) {
    din_job *j = ctx;
    int b = t / j->nband, band = t % j->nband, OH = j->H - 2, OW = j->W - 2, Co = j->Co;
    int y0 = band * CS_BAND, y1 = y0 + CS_BAND < j->H ? y0 + CS_BAND : j->H;
    int PW = j->W + 2; /* padded row: 2 zero pixels, dout row, 2 zero pixels */
    int nrows = y1 - y0 + 2;
    float *pad = calloc((size_t)nrows * PW * Co, sizeof(float));
    if (!pad) {
        __atomic_store_n(&j->failed, 1, __ATOMIC_RELAXED);
        return;
    }
    for (int r = 0; r < nrows; r++) {
        int oy = y0 + r - 2; /* the dout row in padded row y0 + r */
        if (oy >= 0 && oy < OH)
            memcpy(pad + ((size_t)r * PW + 2) * Co, j->dout + ((size_t)b * OH + oy) * OW * Co,
                   sizeof(float) * OW * Co);
    }
    for (int y = y0; y < y1; y++) {
        const float *r0 = pad + (size_t)(y - y0) * PW * Co;
        const float *rows[3] = {r0, r0 + (size_t)PW * Co, r0 + (size_t)2 * PW * Co};
        fwd_row(j->din + ((size_t)b * j->H + y) * j->W * j->Ci, rows, j->W, Co, j->Ci, j->wp,
                j->zero_bias, 0);
    }
    free(pad);
}

/* dw[kk][0 .. CS_CB) (rows ldw apart) += sum over x < n of a[x ci + kk] * d[x dstride + 0 .. CS_CB)
   for r rows kk. */
CS_INLINE void dw_block(float *dw, int ldw, const float *a, int ci, const float *d, int dstride,
                        int n, const int r) {
    cs_vf acc[CS_PIX][CS_NV];
    CS_UNROLL for (int kk = 0; kk < r; kk++)
        CS_UNROLL for (int v = 0; v < CS_NV; v++) acc[kk][v] = (cs_vf){0};
    for (int x = 0; x < n; x++, a += ci, d += dstride) {
        cs_vf dv[CS_NV];
        CS_UNROLL for (int v = 0; v < CS_NV; v++) dv[v] = cs_load(d + v * CS_VLEN);
        CS_UNROLL for (int kk = 0; kk < r; kk++) {
            float x = a[kk];
            CS_UNROLL for (int v = 0; v < CS_NV; v++) acc[kk][v] += x * dv[v];
        }
    }
    /* Added to dw only now: the sum of a strip, then the sum of strips, rounds less
       than one long sum. */
    CS_UNROLL for (int kk = 0; kk < r; kk++)
        CS_UNROLL for (int v = 0; v < CS_NV; v++) {
            float *p = dw + kk * ldw + v * CS_VLEN;
            cs_store(p, cs_load(p) + acc[kk][v]);
        }
}

/* dw_block for any r <= CS_PIX, as fwd_block_r. */
#define DW_BLOCK(n)                                                                           \
    static __attribute__((noinline)) void dw_block_##n(float *dw, int ldw, const float *a, int ci, \
                                                       const float *d, int dstride, int n_) {  \
        dw_block(dw, ldw, a, ci, d, dstride, n_, n <= CS_PIX ? n : CS_PIX);                   \
    }
DW_BLOCK(1) DW_BLOCK(2) DW_BLOCK(3) DW_BLOCK(4) DW_BLOCK(5) DW_BLOCK(6) DW_BLOCK(7) DW_BLOCK(8)
DW_BLOCK(9) DW_BLOCK(10) DW_BLOCK(11) DW_BLOCK(12) DW_BLOCK(13) DW_BLOCK(14) DW_BLOCK(15)
DW_BLOCK(16)
#undef DW_BLOCK

static void dw_block_r(int r, float *dw, int ldw, const float *a, int ci, const float *d,
                       int dstride, int n) {
    switch (r) {
#define CASE(m) case m: if (m <= CS_PIX) dw_block_##m(dw, ldw, a, ci, d, dstride, n); break;
        CASE(1) CASE(2) CASE(3) CASE(4) CASE(5) CASE(6) CASE(7) CASE(8)
        CASE(9) CASE(10) CASE(11) CASE(12) CASE(13) CASE(14) CASE(15) CASE(16)
#undef CASE
    }
}

/* Weight and bias gradients of one chunk of output rows (flattened over tiles),
   into the chunk's own sums: dwp [3][3 Ci][CoP], dbp [CoP]. */
typedef struct {
    float *dwp, *dbp; /* nchunk sums of each */
    const float *in, *dout;
    int B, H, W, Ci, Co, CoP, nchunk;
    int failed; /* a task could not get its scratch memory */
} dw_job;

static void dw_task(void *ctx, int c) {
    dw_job *j = ctx;
    int OH = j->H - 2, OW = j->W - 2, Ci = j->Ci, Co = j->Co, CoP = j->CoP, K = 3 * Ci;
    int nrows = j->B * OH, r0 = (int)((long)c * nrows / j->nchunk),
        r1 = (int)((long)(c + 1) * nrows / j->nchunk);
    float *dwp = j->dwp + (size_t)c * 3 * K * CoP, *dbp = j->dbp + (size_t)c * CoP;
    /* dw_block reads whole blocks of channels: a partial last block needs a padded row. */
    float *drow = CoP != Co ? calloc((size_t)OW * CoP, sizeof(float)) : NULL;
    if (CoP != Co && !drow) {
        __atomic_store_n(&j->failed, 1, __ATOMIC_RELAXED);
        return;
    }
    for (int row = r0; row < r1; row++) {
        int b = row / OH, y = row % OH;
        const float *d = j->dout + (size_t)row * OW * Co;
        if (drow) {
            for (int x = 0; x < OW; x++) memcpy(drow + (size_t)x * CoP, d + (size_t)x * Co, sizeof(float) * Co);
            d = drow;
        }
        for (int o = 0; o < CoP; o += CS_VLEN) { /* the row's sum first: fewer rounding errors */
            cs_vf sum = {0};
            for (int x = 0; x < OW; x++) sum += cs_load(d + (size_t)x * CoP + o);
            cs_store(dbp + o, cs_load(dbp + o) + sum);
        }
        int ns = cs_ceil_div(OW, CS_STRIP);
        for (int s = 0; s < ns; s++) {
            int x0 = s * OW / ns, x1 = (s + 1) * OW / ns;
            for (int ky = 0; ky < 3; ky++) {
                const float *a = j->in + (((size_t)b * j->H + y + ky) * j->W + x0) * Ci;
                for (int k0 = 0; k0 < K; k0 += CS_PIX) {
                    int r = K - k0 < CS_PIX ? K - k0 : CS_PIX;
                    for (int cob = 0; cob * CS_CB < CoP; cob++)
                        dw_block_r(r, dwp + ((size_t)ky * K + k0) * CoP + cob * CS_CB, CoP, a + k0,
                                   Ci, d + (size_t)x0 * CoP + cob * CS_CB, CoP, x1 - x0);
                }
            }
        }
    }
    free(drow);
}

void cs_conv3x3_backward(float *din, float *dw, float *dbias, const float *dout,
                         const float *in, const float *w, int B, int H, int W, int Ci, int Co) {
    int OH = H - 2, CoP = cs_ceil_div(Co, CS_CB) * CS_CB, K = 3 * Ci;
    memset(dw, 0, sizeof(float) * Co * Ci * 9);
    memset(dbias, 0, sizeof(float) * Co);
    if (B <= 0 || H < 3 || W < 3) {
        if (din && B > 0 && H > 0 && W > 0) memset(din, 0, sizeof(float) * B * H * W * Ci);
        return;
    }
    /* The chunks depend on the shape only, so the sums do not depend on the threads. */
    double pixels = (double)B * OH * (W - 2);
    int nchunk = pixels / CS_DW_CHUNK_PIXELS < CS_DW_CHUNKS ? (int)(pixels / CS_DW_CHUNK_PIXELS) : CS_DW_CHUNKS;
    if (nchunk < 1) nchunk = 1;
    float *dwp = calloc((size_t)nchunk * 3 * K * CoP, sizeof(float));
    float *dbp = calloc((size_t)nchunk * CoP, sizeof(float));
    /* din by Winograd if it is faster (see the forward), else the direct kernel's weights */
    int din_direct = din && !cs_conv3x3_by_winograd(Co);
    float *wp = din_direct ? pack_direct_weights(w, Co, Ci, 1) : NULL, *zero = din_direct ? cs_conv_pad_bias(NULL, Ci) : NULL;
    int failed = !dwp || !dbp || (din_direct && (!wp || !zero));
    if (!failed) {
        dw_job dj = {dwp, dbp, in, dout, B, H, W, Ci, Co, CoP, nchunk, 0};
        cs_parallel_for(nchunk, dw_task, &dj);
        failed = dj.failed;
        for (int c = 0; c < nchunk; c++) { /* in chunk order, whatever the threads */
            const float *p = dwp + (size_t)c * 3 * K * CoP;
            for (int ky = 0; ky < 3; ky++)
                for (int kx = 0; kx < 3; kx++)
                    for (int i = 0; i < Ci; i++)
                        for (int o = 0; o < Co; o++)
                            dw[((o * Ci + i) * 3 + ky) * 3 + kx] += p[((size_t)ky * K + kx * Ci + i) * CoP + o];
            for (int o = 0; o < Co; o++) dbias[o] += dbp[(size_t)c * CoP + o];
        }
        if (din && !din_direct && !failed) {
            failed = cs_conv3x3_winograd(din, dout, w, NULL, B, OH, W - 2, Co, Ci, 2, 1, 0) != 0;
        } else if (din && !failed) {
            din_job ij = {din, dout, wp, zero, H, W, Ci, Co, cs_ceil_div(H, CS_BAND), 0};
            cs_parallel_for(B * ij.nband, din_task, &ij);
            failed = ij.failed;
        }
    }
    if (failed) /* out of memory: the slow way needs none */
        cs_conv3x3_backward_ref(din, dw, dbias, dout, in, w, B, H, W, Ci, Co);
    free(dwp);
    free(dbp);
    free(wp);
    free(zero);
}

int cs_conv3x3_forward_gap(float *gap, const float *in, const float *w, const float *bias, const cs_conv_pack *pack,
                           int B, int H, int W, int Ci, int Co, int relu) {
    if (!cs_conv3x3_by_winograd(Ci)) return -1;
    if (pack && pack->w) return cs_winograd_run(NULL, gap, in, pack->w, pack->bias, B, H, W, Ci, Co, 0, relu);
    return cs_conv3x3_winograd_gap(gap, in, w, bias, B, H, W, Ci, Co, relu);
}

#else /* no vector extensions: the reference */

void cs_conv_pack_init(cs_conv_pack *p, const float *w, const float *bias, int Ci, int Co) {
    *p = (cs_conv_pack){0};
}

int cs_conv3x3_forward_gap(float *gap, const float *in, const float *w, const float *bias, const cs_conv_pack *pack,
                           int B, int H, int W, int Ci, int Co, int relu) {
    return -1;
}

void cs_conv3x3_forward(float *out, const float *in, const float *w, const float *bias, const cs_conv_pack *pack,
                        int B, int H, int W, int Ci, int Co, int relu) {
    cs_conv3x3_forward_ref(out, in, w, bias, B, H, W, Ci, Co, relu);
}

void cs_conv3x3_backward(float *din, float *dw, float *dbias, const float *dout,
                         const float *in, const float *w, int B, int H, int W, int Ci, int Co) {
    cs_conv3x3_backward_ref(din, dw, dbias, dout, in, w, B, H, W, Ci, Co);
}

#endif

void cs_conv_pack_free(cs_conv_pack *p) {
    free(p->w);
    free(p->bias);
    p->w = p->bias = NULL;
}
