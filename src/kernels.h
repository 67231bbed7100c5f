/* kernels.h: the convolution kernels and the layers (internal). layers.c
   calls conv.c's functions, which decide direct or Winograd
   (cs_conv3x3_by_winograd) and call winograd.c; winograd.c calls neither. */
#ifndef CS_KERNELS_H
#define CS_KERNELS_H

#include <stddef.h>

#include "cellsight.h"
#include "net.h"

/* A convolution's weights and bias as its forward kernel reads them (conv.c):
   packed once, they serve every call on the same weights, such as the groups
   of tiles of one pass through the network. w NULL: nothing packed (out of
   memory, or no vector kernels); the calls then do without. */
typedef struct {
    float *w, *bias;
    int winograd;
} cs_conv_pack;
void cs_conv_pack_init(cs_conv_pack *p, const float *w, const float *bias, int Ci, int Co);
void cs_conv_pack_free(cs_conv_pack *p);

/* Valid 3x3 convolution, channels-last (conv.c).
   in [B][H][W][Ci], out [B][H-2][W-2][Co], w [Co][Ci][3][3] (PyTorch), bias [Co];
   pack: w and bias packed by cs_conv_pack_init, or NULL or empty (packed for this call).
   relu != 0 fuses max(0, .) into the output. */
void cs_conv3x3_forward(float *out, const float *in, const float *w, const float *bias, const cs_conv_pack *pack,
                        int B, int H, int W, int Ci, int Co, int relu);
/* dout [B][H-2][W-2][Co] is the gradient after the ReLU mask (the caller applies
   it). Writes (overwrites) dw [Co][Ci][3][3] and dbias [Co], summed over the batch,
   and din [B][H][W][Ci] unless din is NULL (the first layer needs none). */
void cs_conv3x3_backward(float *din, float *dw, float *dbias, const float *dout,
                         const float *in, const float *w, int B, int H, int W, int Ci, int Co);

/* The same by Winograd's F(4x4, 3x3) (winograd.c; called by conv.c's
   dispatch only), 4 times fewer multiplies, on in zero-padded by pad pixels: out [B][H+2pad-2][W+2pad-2][Co]. bias NULL:
   zeros. flip: the input gradient's convolution, with w the layer's [Ci][Co][3][3]
   turned by 180 degrees (Ci, Co here are the layer's Co, Ci). Returns 0, or -1
   when out of memory (out is then incomplete). */
int cs_conv3x3_winograd(float *out, const float *in, const float *w, const float *bias,
                        int B, int H, int W, int Ci, int Co, int pad, int flip, int relu);
/* The same forward (pad 0) averaged over each image's outputs, which are not
   stored: gap [B][Co], as cs_gap_forward of out, rounded differently. */
int cs_conv3x3_winograd_gap(float *gap, const float *in, const float *w, const float *bias,
                            int B, int H, int W, int Ci, int Co, int relu);
/* What those two do once the weights are packed: u = cs_winograd_pack(w, Ci,
   Co, flip), bp the bias padded to whole blocks (cs_conv_pad_bias); out, or
   with out NULL the means gap. */
float *cs_winograd_pack(const float *w, int ci, int co, int flip);
int cs_winograd_run(float *out, float *gap, const float *in, const float *u, const float *bp,
                    int B, int H, int W, int Ci, int Co, int pad, int relu);
/* The input channels from which cs_conv3x3_forward and _backward's input
   gradient go by Winograd: with fewer, the transforms cost more than the
   multiplies saved (measured: from 6 to 8 with AVX2 and AVX-512, 4 in WASM). */
#if defined(__wasm__)
#define CS_WINOGRAD_MIN_CI 4
#else
#define CS_WINOGRAD_MIN_CI 8
#endif
/* The dispatch's rule, for the kernels and for counting (conv.c): whether a
   3x3 convolution of ci input channels goes by Winograd (the input gradient's
   ci being the layer's Co), unless its allocation fails; and the multiplies it
   then executes for one image's oh x ow outputs (cs_net_executed_macs). */
int cs_conv3x3_by_winograd(int ci);
double cs_conv3x3_executed_macs(int ci, int co, int oh, int ow);
/* A convolution then global average pooling, gap [B][Co], by Winograd
   without storing the convolution's outputs when the rule says Winograd;
   returns -1 when it does not (or its allocation failed): then convolve and
   pool (cs_conv_gap_forward). */
int cs_conv3x3_forward_gap(float *gap, const float *in, const float *w, const float *bias, const cs_conv_pack *pack,
                           int B, int H, int W, int Ci, int Co, int relu);

/* For the vector kernels of conv.c and winograd.c (and simd.h's cs_conv_pad_bias): */
static inline int cs_ceil_div(int a, int b) { return (a + b - 1) / b; }
/* Weight k = 3 ky + kx from input channel i to output o of the convolution the
   kernels run: the layer's w [co][ci][3][3], or with flip the input gradient's,
   w [i][o] turned by 180 degrees (ci, co then being the layer's Co, Ci). */
static inline float cs_conv3x3_weight(const float *w, int ci, int co, int o, int i, int k, int flip) {
    return flip ? w[(i * co + o) * 9 + 8 - k] : w[(o * ci + i) * 9 + k];
}

/* Plain-C versions of the same, the reference the fast kernels are tested against. */
void cs_conv3x3_forward_ref(float *out, const float *in, const float *w, const float *bias,
                            int B, int H, int W, int Ci, int Co, int relu);
void cs_conv3x3_backward_ref(float *din, float *dw, float *dbias, const float *dout,
                             const float *in, const float *w, int B, int H, int W, int Ci, int Co);

/* The layers (layers.c), each a forward/backward pair on B tiles, channels-last.
   Backward passes take dout, the loss's gradient at the output, and overwrite
   the gradients of the parameters (summed over the batch) and din, the
   gradient at the input, unless din is NULL. conv and dense apply their ReLU
   mask to dout in place. */
void cs_conv_forward(float *out, const float *in, const float *w, const float *bias, const cs_conv_pack *pack,
                     int B, int H, int W, int Ci, int Co, int relu);
void cs_conv_backward(float *din, float *dw, float *dbias, float *dout, const float *out,
                      const float *in, const float *w, int B, int H, int W, int Ci, int Co,
                      int relu);
void cs_maxpool_forward(float *out, const float *in, int B, int H, int W, int C);
void cs_maxpool_backward(float *din, const float *dout, const float *in, int B, int H, int W,
                         int C);
void cs_gap_forward(float *out, const float *in, int B, int H, int W, int C);
/* A convolution then global average pooling, out [B][Co], without keeping the
   convolution's output where Winograd applies (else in scratch [B][H-2][W-2][Co]). */
void cs_conv_gap_forward(float *out, float *scratch, const float *in, const float *w, const float *bias,
                         const cs_conv_pack *pack, int B, int H, int W, int Ci, int Co, int relu);
void cs_gap_backward(float *din, const float *dout, int B, int H, int W, int C);
/* Global average pooling over the cells of the H x W grid that show cells: wt
   [H][W] (summing to 1) from the network's input tile x [T][T], whose cell
   (r, c) has its receptive field centred at pixel off + stride * (r, c). The
   cell weighs 1 / n if the stride-sized block there shows cells (n such cells),
   else 0; with none, every cell weighs the same (plain GAP). */
void cs_fgap_weights(float *wt, const float *x, int T, int H, int W, float off, int stride);
/* out [B][C] = sum over H x W of wt [B][H][W] * in [B][H][W][C] */
void cs_fgap_forward(float *out, const float *in, const float *wt, int B, int H, int W, int C);
void cs_fgap_backward(float *din, const float *dout, const float *wt, int B, int H, int W, int C);
/* rng NULL: inference, the identity (mask all 1). */
void cs_dropout_forward(float *out, float *mask, const float *in, size_t n, float p, cs_rng *rng);
void cs_dropout_backward(float *din, const float *dout, const float *mask, size_t n);
void cs_dense_forward(float *out, const float *in, const float *w, const float *bias,
                      int B, int I, int O, int relu);
void cs_dense_backward(float *din, float *dw, float *dbias, float *dout, const float *out,
                       const float *in, const float *w, int B, int I, int O, int relu);

#endif
