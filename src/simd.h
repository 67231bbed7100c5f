/* simd.h: the one vector type the convolutions are written in, and the
   register blocking that suits each target. GCC and clang lower the vector
   extensions to AVX-512, AVX2, SSE, NEON or WASM SIMD128 (and to plain scalar
   code where there is none). */
#ifndef CS_SIMD_H
#define CS_SIMD_H

#include <stdlib.h>
#include <string.h>

#if defined(__GNUC__) || defined(__clang__)
#define CS_HAVE_VECTORS 1

/* CS_VLEN floats per vector. A micro-kernel block keeps CS_PIX x CS_NV
   vectors of sums in registers: CS_PIX pixels (forward) or CS_PIX rows of the
   weight gradient (backward) times CS_NV vectors of output channels. */
#if defined(__AVX512F__)
#define CS_VLEN 16
#define CS_PIX 12   /* 24 sums of 32 registers */
#elif defined(__AVX__)
#define CS_VLEN 8
#define CS_PIX 6    /* 12 sums of 16 registers */
#else                /* SSE, NEON, WASM SIMD128, or scalar */
#define CS_VLEN 4
#define CS_PIX 4    /* 8 sums: V8 spills beyond that (it keeps 15 xmm registers, no FMA) */
#endif
#define CS_NV 2
#define CS_CB (CS_NV * CS_VLEN) /* output channels per block */

typedef float cs_vf __attribute__((vector_size(4 * CS_VLEN)));
/* The same, for loads and stores at any float boundary. */
typedef float cs_vf_u __attribute__((vector_size(4 * CS_VLEN), aligned(4), may_alias));

typedef int cs_vi __attribute__((vector_size(4 * CS_VLEN)));

static inline cs_vf cs_load(const float *p) { return *(const cs_vf_u *)p; }
static inline void cs_store(float *p, cs_vf v) { *(cs_vf_u *)p = v; }
/* x where m > 0, else 0; ReLU is x where x > 0. */
static inline cs_vf cs_where_positive(cs_vf x, cs_vf m) { return (cs_vf)((cs_vi)(m > (cs_vf){0}) & (cs_vi)x); }
static inline cs_vf cs_relu(cs_vf v) { return cs_where_positive(v, v); }

/* The bias padded with zeros to whole blocks of output channels (NULL: all
   zeros), as the micro-kernels of conv.c and winograd.c read it. */
static inline float *cs_conv_pad_bias(const float *bias, int co) {
    float *bp = calloc((size_t)((co + CS_CB - 1) / CS_CB) * CS_CB, sizeof(float));
    if (bp && bias) memcpy(bp, bias, sizeof(float) * co);
    return bp;
}

#define CS_INLINE static inline __attribute__((always_inline))
#if defined(__clang__)
#define CS_UNROLL _Pragma("clang loop unroll(full)")
#else
#define CS_UNROLL _Pragma("GCC unroll 32")
#endif
#else
#define CS_HAVE_VECTORS 0
#endif

#endif
