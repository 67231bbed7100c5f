/* layers.c: the network's layers, each a forward/backward pair. Shapes are
   for a batch of B tiles, channels-last; backward overwrites its outputs. */
#include <math.h>
#include <string.h>

#include "internal.h"
#include "simd.h"

#define CS_GAP_VECTORS 4 /* sums a pass of GAP keeps */

/* ReLU's gradient: zero where the output was clamped (out == 0, as PyTorch). */
static void relu_mask(float *dout, const float *out, size_t n) {
    size_t i = 0;
#if CS_HAVE_VECTORS /* written out: for WASM, clang leaves the plain loop scalar, 3 times as slow */
    for (; i + CS_VLEN <= n; i += CS_VLEN) cs_store(dout + i, cs_where_positive(cs_load(dout + i), cs_load(out + i)));
#endif
    for (; i < n; i++)
        if (!(out[i] > 0)) dout[i] = 0;
}

/* ---------------------------------------------------------------- conv */

/* out [B][H-2][W-2][Co] = relu(in [B][H][W][Ci] (*) w [Co][Ci][3][3] + bias [Co]) */
void cs_conv_forward(float *out, const float *in, const float *w, const float *bias, const cs_conv_pack *pack,
                     int B, int H, int W, int Ci, int Co, int relu) {
    cs_conv3x3_forward(out, in, w, bias, pack, B, H, W, Ci, Co, relu);
}

/* dout [B][H-2][W-2][Co] -> din [B][H][W][Ci], dw [Co][Ci][3][3], dbias [Co] */
void cs_conv_backward(float *din, float *dw, float *dbias, float *dout, const float *out,
                      const float *in, const float *w, int B, int H, int W, int Ci, int Co,
                      int relu) {
    if (relu) relu_mask(dout, out, (size_t)B * (H - 2) * (W - 2) * Co);
    cs_conv3x3_backward(din, dw, dbias, dout, in, w, B, H, W, Ci, Co);
}

/* ---------------------------------------------------------------- max pool */

/* Offset of the largest of the 2x2 window at p (the first of equals in row-major
   order, as PyTorch); row is the stride of a row. Forward and backward share it
   so that the gradient goes where the maximum came from, without storing it. */
static size_t window_argmax(const float *p, size_t C, size_t row) {
    size_t off[4] = {0, C, row, row + C}, best = 0;
    for (int k = 1; k < 4; k++)
        if (p[off[k]] > p[best]) best = off[k];
    return best;
}

/* out [B][H/2][W/2][C] = max over 2x2 windows of in [B][H][W][C], stride 2; an
   odd last row or column is dropped (floor, as PyTorch). */
void cs_maxpool_forward(float *out, const float *in, int B, int H, int W, int C) {
    size_t row = (size_t)W * C;
    for (int b = 0; b < B; b++)
        for (int y = 0; y < H / 2; y++)
            for (int x = 0; x < W / 2; x++, out += C) {
                const float *p = in + (((size_t)b * H + 2 * y) * W + 2 * x) * C;
                int c = 0;
#if CS_HAVE_VECTORS /* window_argmax's choice, a vector of channels at once */
                for (; c + CS_VLEN <= C; c += CS_VLEN) {
                    cs_vf best = cs_load(p + c);
                    const float *next[3] = {p + c + C, p + c + row, p + c + row + C};
                    for (int k = 0; k < 3; k++) {
                        cs_vf v = cs_load(next[k]);
                        cs_vi larger = v > best;
                        best = (cs_vf)((larger & (cs_vi)v) | (~larger & (cs_vi)best));
                    }
                    cs_store(out + c, best);
                }
#endif
                for (; c < C; c++) out[c] = p[c + window_argmax(p + c, C, row)];
            }
}

/* dout [B][H/2][W/2][C], in [B][H][W][C] -> din [B][H][W][C] */
void cs_maxpool_backward(float *din, const float *dout, const float *in, int B, int H, int W,
                         int C) {
    size_t row = (size_t)W * C;
    memset(din, 0, sizeof(float) * B * H * row);
    for (int b = 0; b < B; b++)
        for (int y = 0; y < H / 2; y++)
            for (int x = 0; x < W / 2; x++) {
                size_t p = (((size_t)b * H + 2 * y) * W + 2 * x) * C;
                for (int c = 0; c < C; c++) din[p + c + window_argmax(in + p + c, C, row)] = *dout++;
            }
}

/* ---------------------------------------------------------------- global average pool */

/* out [B][C] = mean over H x W of in [B][H][W][C] */
void cs_gap_forward(float *out, const float *in, int B, int H, int W, int C) {
    size_t n = (size_t)H * W;
    for (int b = 0; b < B; b++, out += C, in += n * C) {
        int c = 0;
#if CS_HAVE_VECTORS /* sums in registers, a vector of channels each, in pixel order as below */
        while (c + CS_VLEN <= C) {
            cs_vf sum[CS_GAP_VECTORS] = {{0}};
            int nv = (C - c) / CS_VLEN < CS_GAP_VECTORS ? (C - c) / CS_VLEN : CS_GAP_VECTORS;
            for (size_t i = 0; i < n; i++)
                for (int k = 0; k < nv; k++) sum[k] += cs_load(in + i * C + c + k * CS_VLEN);
            for (int k = 0; k < nv; k++) cs_store(out + c + k * CS_VLEN, sum[k] / (float)n);
            c += nv * CS_VLEN;
        }
#endif
        for (; c < C; c++) {
            float sum = 0;
            for (size_t i = 0; i < n; i++) sum += in[i * C + c];
            out[c] = sum / (float)n;
        }
    }
}

void cs_conv_gap_forward(float *out, float *scratch, const float *in, const float *w, const float *bias,
                         const cs_conv_pack *pack, int B, int H, int W, int Ci, int Co, int relu) {
    if (cs_conv3x3_forward_gap(out, in, w, bias, pack, B, H, W, Ci, Co, relu) == 0) return;
    cs_conv_forward(scratch, in, w, bias, pack, B, H, W, Ci, Co, relu);
    cs_gap_forward(out, scratch, B, H - 2, W - 2, Co);
}

/* dout [B][C] -> din [B][H][W][C] */
void cs_gap_backward(float *din, const float *dout, int B, int H, int W, int C) {
    size_t n = (size_t)H * W;
    for (int b = 0; b < B; b++, dout += C)
        for (size_t i = 0; i < n; i++, din += C)
            for (int c = 0; c < C; c++) din[c] = dout[c] / (float)n;
}

/* ---------------------------------------------------------------- global average pool over foreground */

/* A block shows cells when the standard deviation of its values is more than
   this many times the quietest block's of the same tile: standardizing a tile
   leaves only its relative contrast, and within one tile empty medium's blocks
   differ little (density.c measures 0.007-0.02 gray, cells' from 0.04). */
#define FGAP_CELL_RATIO 2.0f

static float block_std(const float *x, int T, int y0, int x0, int n) {
    double sum = 0, sq = 0;
    for (int r = y0; r < y0 + n; r++)
        for (int c = x0; c < x0 + n; c++) {
            double v = x[(size_t)r * T + c];
            sum += v, sq += v * v;
        }
    double m = sum / ((double)n * n), v = sq / ((double)n * n) - m * m;
    return v > 0 ? (float)sqrt(v) : 0;
}

/* The first row (or column) of the stride-sized block centred at `centre`, within the tile. */
static int block_start(float centre, int stride, int T) {
    int s = (int)floorf(centre - 0.5f * (float)stride + 0.5f);
    return s < 0 ? 0 : s + stride > T ? T - stride : s;
}

void cs_fgap_weights(float *wt, const float *x, int T, int H, int W, float off, int stride) {
    float quiet = INFINITY;
    for (int y = 0; y + stride <= T; y += stride) /* the tile in blocks of the grid's stride */
        for (int c = 0; c + stride <= T; c += stride) quiet = fminf(quiet, block_std(x, T, y, c, stride));
    int n = 0;
    for (int r = 0; r < H; r++)
        for (int c = 0; c < W; c++) { /* the block at the centre of cell (r, c)'s receptive field */
            int y0 = block_start(off + (float)(stride * r), stride, T);
            int x0 = block_start(off + (float)(stride * c), stride, T);
            wt[r * W + c] = block_std(x, T, y0, x0, stride) > FGAP_CELL_RATIO * quiet;
            n += wt[r * W + c] > 0;
        }
    for (int i = 0; i < H * W; i++) wt[i] = n ? wt[i] / (float)n : 1.0f / (float)(H * W); /* no cells: all */
}

void cs_fgap_forward(float *out, const float *in, const float *wt, int B, int H, int W, int C) {
    size_t n = (size_t)H * W;
    for (int b = 0; b < B; b++, out += C, in += n * C, wt += n) {
        for (int c = 0; c < C; c++) out[c] = 0;
        for (size_t i = 0; i < n; i++)
            if (wt[i] > 0)
                for (int c = 0; c < C; c++) out[c] += wt[i] * in[i * C + c];
    }
}

void cs_fgap_backward(float *din, const float *dout, const float *wt, int B, int H, int W, int C) {
    size_t n = (size_t)H * W;
    for (int b = 0; b < B; b++, dout += C)
        for (size_t i = 0; i < n; i++, din += C, wt++)
            for (int c = 0; c < C; c++) din[c] = *wt * dout[c];
}

/* ---------------------------------------------------------------- dropout */

/* out [n] = in [n] * mask [n]: mask is 0 with probability p, else 1/(1-p)
   (inverted dropout, so that inference needs no scaling). */
void cs_dropout_forward(float *out, float *mask, const float *in, size_t n, float p, cs_rng *rng) {
    float keep = 1.0f / (1.0f - p);
    for (size_t i = 0; i < n; i++) {
        mask[i] = !rng ? 1.0f : cs_rng_uniform(rng) < p ? 0.0f : keep;
        out[i] = in[i] * mask[i];
    }
}

/* dout [n] -> din [n] */
void cs_dropout_backward(float *din, const float *dout, const float *mask, size_t n) {
    for (size_t i = 0; i < n; i++) din[i] = dout[i] * mask[i];
}

/* ---------------------------------------------------------------- dense */

#if CS_HAVE_VECTORS
/* 16 partial sums of a dot product on every target (GCC and clang split the
   vector into the target's own), so that every build adds in one order; one
   accumulator would leave the loop scalar, as the compiler may not reorder. */
typedef float cs_v16 __attribute__((vector_size(64)));
typedef float cs_v16_u __attribute__((vector_size(64), aligned(4), may_alias));
#define CS_DOT_LANES 16
#endif

/* out [B][O] = in [B][I] . w [O][I]^T + bias [O], ReLU if relu. Two tiles at
   a time share each row of w. */
void cs_dense_forward(float *out, const float *in, const float *w, const float *bias,
                      int B, int I, int O, int relu) {
#if CS_HAVE_VECTORS
    int whole = I / CS_DOT_LANES * CS_DOT_LANES; /* inputs the vectors take */
#else
    int whole = 0;
#endif
    for (int b = 0; b < B; b += 2) {
        const float *x0 = in + (size_t)b * I, *x1 = b + 1 < B ? x0 + I : x0;
        for (int o = 0; o < O; o++) {
            const float *wo = w + (size_t)o * I;
            float s[2] = {0, 0};
#if CS_HAVE_VECTORS
            cs_v16 a0 = {0}, a1 = {0};
            for (int i = 0; i < whole; i += CS_DOT_LANES) {
                cs_v16 wv = *(const cs_v16_u *)(wo + i);
                a0 += wv * *(const cs_v16_u *)(x0 + i);
                a1 += wv * *(const cs_v16_u *)(x1 + i);
            }
            for (int j = 0; j < CS_DOT_LANES; j++) s[0] += a0[j], s[1] += a1[j];
#endif
            for (int i = whole; i < I; i++) s[0] += wo[i] * x0[i], s[1] += wo[i] * x1[i];
            for (int k = 0; k < 2 && b + k < B; k++) {
                float v = bias[o] + s[k];
                out[(size_t)(b + k) * O + o] = relu && v < 0 ? 0 : v;
            }
        }
    }
}

/* dout [B][O] -> din [B][I], dw [O][I], dbias [O] */
void cs_dense_backward(float *din, float *dw, float *dbias, float *dout, const float *out,
                       const float *in, const float *w, int B, int I, int O, int relu) {
    if (relu) relu_mask(dout, out, (size_t)B * O);
    memset(dw, 0, sizeof(float) * O * I);
    memset(dbias, 0, sizeof(float) * O);
    if (din) memset(din, 0, sizeof(float) * B * I);
    for (int b = 0; b < B; b++) {
        const float *x = in + (size_t)b * I, *g = dout + (size_t)b * O;
        for (int o = 0; o < O; o++) {
            float *dwo = dw + (size_t)o * I;
            const float *wo = w + (size_t)o * I;
            dbias[o] += g[o];
            for (int i = 0; i < I; i++) dwo[i] += g[o] * x[i];
            if (din)
                for (int i = 0; i < I; i++) din[(size_t)b * I + i] += g[o] * wo[i];
        }
    }
}
