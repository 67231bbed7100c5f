/* conv.c: the 3x3 convolutions the network runs. For now the reference;
   the fast kernels replace these bodies. */
#include "internal.h"

void cs_conv3x3_forward(float *out, const float *in, const float *w, const float *bias,
                        int B, int H, int W, int Ci, int Co, int relu) {
    cs_conv3x3_forward_ref(out, in, w, bias, B, H, W, Ci, Co, relu);
}

void cs_conv3x3_backward(float *din, float *dw, float *dbias, const float *dout,
                         const float *in, const float *w, int B, int H, int W, int Ci, int Co) {
    cs_conv3x3_backward_ref(din, dw, dbias, dout, in, w, B, H, W, Ci, Co);
}
