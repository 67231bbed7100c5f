/* internal.h: what the core's files share and users do not need. */
#ifndef CS_INTERNAL_H
#define CS_INTERNAL_H

#include "cellsight.h"

/* Fails with e's code and message said of `what` ("what: message"), unless
   the message names it already. err may be e. */
cs_status cs_fail_in(cs_error *err, const char *what, const cs_error *e);

/* What a run of cs_train did, recorded among its options (recipe.c). */
typedef struct {
    int epochs_run, best_epoch;
    int crop_bottom;    /* the rows cropped, the model's if the options said -1 */
} cs_run_record;
/* Records o and run in m's metadata, in the order model files have them. */
cs_status cs_recipe_record(cs_model *m, const cs_train_opts *o, const cs_run_record *run,
                           cs_error *err);
/* Records r's validation split as val_split ("images 2/2"). */
cs_status cs_recipe_record_split(cs_model *m, const cs_recipe *r, cs_error *err);

/* Valid 3x3 convolution, channels-last (conv.c).
   in [B][H][W][Ci], out [B][H-2][W-2][Co], w [Co][Ci][3][3] (PyTorch), bias [Co].
   relu != 0 fuses max(0, .) into the output. */
void cs_conv3x3_forward(float *out, const float *in, const float *w, const float *bias,
                        int B, int H, int W, int Ci, int Co, int relu);
/* dout [B][H-2][W-2][Co] is the gradient after the ReLU mask (the caller applies
   it). Writes (overwrites) dw [Co][Ci][3][3] and dbias [Co], summed over the batch,
   and din [B][H][W][Ci] unless din is NULL (the first layer needs none). */
void cs_conv3x3_backward(float *din, float *dw, float *dbias, const float *dout,
                         const float *in, const float *w, int B, int H, int W, int Ci, int Co);

/* The same by Winograd's F(4x4, 3x3) (winograd.c), 4 times fewer multiplies,
   on in zero-padded by pad pixels: out [B][H+2pad-2][W+2pad-2][Co]. bias NULL:
   zeros. flip: the input gradient's convolution, with w the layer's [Ci][Co][3][3]
   turned by 180 degrees (Ci, Co here are the layer's Co, Ci). Returns 0, or -1
   when out of memory (out is then incomplete). */
int cs_conv3x3_winograd(float *out, const float *in, const float *w, const float *bias,
                        int B, int H, int W, int Ci, int Co, int pad, int flip, int relu);
/* The same forward (pad 0) averaged over each image's outputs, which are not
   stored: gap [B][Co], as cs_gap_forward of out, rounded differently. */
int cs_conv3x3_winograd_gap(float *gap, const float *in, const float *w, const float *bias,
                            int B, int H, int W, int Ci, int Co, int relu);
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

/* For the vector kernels of conv.c and winograd.c: */
static inline int cs_ceil_div(int a, int b) { return (a + b - 1) / b; }
/* The bias padded with zeros to whole blocks of output channels (NULL: all zeros). */
float *cs_conv_pad_bias(const float *bias, int co);
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
void cs_conv_forward(float *out, const float *in, const float *w, const float *bias,
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
                         int B, int H, int W, int Ci, int Co, int relu);
void cs_gap_backward(float *din, const float *dout, int B, int H, int W, int C);
/* rng NULL: inference, the identity (mask all 1). */
void cs_dropout_forward(float *out, float *mask, const float *in, size_t n, float p, cs_rng *rng);
void cs_dropout_backward(float *din, const float *dout, const float *mask, size_t n);
void cs_dense_forward(float *out, const float *in, const float *w, const float *bias,
                      int B, int I, int O, int relu);
void cs_dense_backward(float *din, float *dw, float *dbias, float *dout, const float *out,
                       const float *in, const float *w, int B, int I, int O, int relu);

/* Runs fn(ctx, i) for i in [0, n) on the worker threads (threads.c); returns when all are done. */
typedef void (*cs_task_fn)(void *ctx, int i);
void cs_parallel_for(int n, cs_task_fn fn, void *ctx);

/* A parsed safetensors file (safetensors.c): the tensors' places, checked
   against the data's size. Metadata strings are unescaped copies. */
typedef struct {
    char name[128];
    char dtype[8];          /* "F32", ... */
    int ndim;
    int64_t shape[8];
    size_t offset, nbytes;  /* from the start of the data section */
} cs_st_tensor;

typedef struct {
    int ntensors;
    cs_st_tensor *tensors;
    int nmeta;
    cs_meta *meta;
    const uint8_t *data;    /* the data section, inside the caller's buffer */
    size_t data_size;
} cs_safetensors;

cs_status cs_st_parse(cs_safetensors *st, const void *file, size_t size, cs_error *err);
void cs_st_free(cs_safetensors *st);
const cs_st_tensor *cs_st_find(const cs_safetensors *st, const char *name);
/* Copies an F32 tensor of exactly n elements into dst (little-endian on any host). */
cs_status cs_st_read_f32(const cs_safetensors *st, const char *name, float *dst, size_t n,
                         cs_error *err);
/* A safetensors file of F32 tensors (name, ndim and shape of each; data[i]
   holds tensor i): metadata first, then the tensors in order, the header padded
   with spaces so that the data starts 8-byte aligned. Returns malloc'd bytes. */
cs_status cs_st_write(const cs_meta *meta, int nmeta, const cs_st_tensor *tensors,
                      const float *const *data, int ntensors, uint8_t **out, size_t *size,
                      cs_error *err);
/* "[32,1,3,3]": a shape as the header writes it, for messages too. */
void cs_st_shape_str(char *buf, size_t cap, const int64_t *shape, int ndim);

#endif
