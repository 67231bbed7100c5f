/* conv_ref.c: the plain-C 3x3 convolution, slow and obviously right. The fast
   kernels in conv.c are tested against it. */
#include <string.h>

#include "internal.h"

void cs_conv3x3_forward_ref(float *out, const float *in, const float *w, const float *bias,
                            int B, int H, int W, int Ci, int Co, int relu) {
    int OH = H - 2, OW = W - 2;
    for (int b = 0; b < B; b++)
        for (int y = 0; y < OH; y++)
            for (int x = 0; x < OW; x++)
                for (int o = 0; o < Co; o++) {
                    float s = bias[o];
                    for (int ky = 0; ky < 3; ky++)
                        for (int kx = 0; kx < 3; kx++) {
                            const float *px = in + (((size_t)b * H + y + ky) * W + x + kx) * Ci;
                            for (int i = 0; i < Ci; i++) s += px[i] * w[((o * Ci + i) * 3 + ky) * 3 + kx];
                        }
                    out[(((size_t)b * OH + y) * OW + x) * Co + o] = relu && s < 0 ? 0 : s;
                }
}

void cs_conv3x3_backward_ref(float *din, float *dw, float *dbias, const float *dout,
                             const float *in, const float *w, int B, int H, int W, int Ci, int Co) {
    int OH = H - 2, OW = W - 2;
    memset(dw, 0, sizeof(float) * Co * Ci * 9);
    memset(dbias, 0, sizeof(float) * Co);
    if (din) memset(din, 0, sizeof(float) * B * H * W * Ci);
    for (int b = 0; b < B; b++)
        for (int y = 0; y < OH; y++)
            for (int x = 0; x < OW; x++)
                for (int o = 0; o < Co; o++) {
                    float g = dout[(((size_t)b * OH + y) * OW + x) * Co + o];
                    if (g == 0) continue;
                    dbias[o] += g;
                    for (int ky = 0; ky < 3; ky++)
                        for (int kx = 0; kx < 3; kx++) {
                            size_t p = (((size_t)b * H + y + ky) * W + x + kx) * Ci;
                            for (int i = 0; i < Ci; i++) {
                                int k = ((o * Ci + i) * 3 + ky) * 3 + kx;
                                dw[k] += g * in[p + i];
                                if (din) din[p + i] += g * w[k];
                            }
                        }
                }
}
