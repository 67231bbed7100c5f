/* adam.c: Adam as torch.optim.Adam computes it (no weight decay, no amsgrad),
   so that a step here matches a step there to float rounding. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

cs_status cs_adam_init(cs_adam *opt, size_t nparams, cs_error *err) {
    *opt = (cs_adam){.lr = 1e-3f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f, .n = nparams};
    if (!(opt->m = calloc(2 * nparams, sizeof(float))))
        return cs_fail(err, CS_ENOMEM, "out of memory for Adam's moments of %zu parameters", nparams);
    opt->v = opt->m + nparams;
    return CS_OK;
}

void cs_adam_free(cs_adam *opt) {
    free(opt->m);
    memset(opt, 0, sizeof *opt);
}

void cs_adam_step(cs_adam *opt, float *params, const float *grads, size_t from) {
    opt->t++;
    float b1 = opt->beta1, b2 = opt->beta2, eps = opt->eps;
    /* The bias corrections in double, as PyTorch computes them in Python. */
    float step = (float)(opt->lr / (1 - pow(b1, (double)opt->t)));
    float bc2_sqrt = (float)sqrt(1 - pow(b2, (double)opt->t));
    for (size_t i = from; i < opt->n; i++) {
        float g = grads[i];
        opt->m[i] = opt->m[i] * b1 + g * (1 - b1);
        opt->v[i] = opt->v[i] * b2 + g * g * (1 - b2);
        params[i] -= step * (opt->m[i] / (sqrtf(opt->v[i]) / bc2_sqrt + eps));
    }
}
