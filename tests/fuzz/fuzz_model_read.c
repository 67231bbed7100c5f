/* fuzz_model_read: the model-file loader (cs_model_read) on arbitrary bytes.
   A file it accepts must describe a usable model: finite weights, named
   classes, a network that runs, and a file that writes back and reads again. */
#include <math.h>
#include <stdlib.h>

#include "internal.h"
#include "fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    cs_set_threads(1);
    return 0;
}

static void require_usable(const cs_model *m) {
    const cs_net *net = &m->net;
    FUZZ_REQUIRE(net->nclasses >= 2 && net->nclasses <= CS_MAX_CLASSES);
    FUZZ_REQUIRE(net->nlayers >= 1 && net->nlayers <= CS_MAX_LAYERS);
    FUZZ_REQUIRE(net->tile >= 1 && m->crop_bottom >= 0);
    for (int k = 0; k < net->nclasses; k++) FUZZ_REQUIRE(m->classes[k] != NULL);
    for (size_t i = 0; i < net->nparams; i++) FUZZ_REQUIRE(isfinite(net->params[i]));

    /* Classify one tile of texture, if the network is small enough to be quick:
       the answer is probabilities or an error, never NaN. */
    if (net->tile > 64 || m->crop_bottom > 64 || cs_net_macs(net) > 5e6) return;
    cs_image im = {.w = net->tile, .h = net->tile + m->crop_bottom};
    im.gray = malloc((size_t)im.w * im.h);
    FUZZ_REQUIRE(im.gray != NULL);
    for (int i = 0; i < im.w * im.h; i++) im.gray[i] = (uint8_t)(i * 37 % 251);
    cs_result res;
    if (cs_classify(m, &im, -1, &res, NULL, NULL, NULL) == CS_OK) {
        FUZZ_REQUIRE(res.ntiles == 1);
        float sum = 0;
        for (int k = 0; k < net->nclasses; k++) {
            FUZZ_REQUIRE(res.probs[k] >= 0 && res.probs[k] <= 1);
            sum += res.probs[k];
        }
        FUZZ_REQUIRE(fabsf(sum - 1) < 1e-3f);
        cs_result_free(&res);
    }
    free(im.gray);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    cs_model m;
    cs_error err;
    if (cs_model_read(&m, data, size, &err) != CS_OK) {
        FUZZ_REQUIRE(err.code != CS_OK && err.msg[0]);
        return 0;
    }
    require_usable(&m);

    uint8_t *copy;
    size_t copy_size;
    FUZZ_REQUIRE(cs_model_write(&m, &copy, &copy_size, &err) == CS_OK);
    cs_model again;
    FUZZ_REQUIRE(cs_model_read(&again, copy, copy_size, &err) == CS_OK);
    FUZZ_REQUIRE(again.net.nparams == m.net.nparams && again.net.nclasses == m.net.nclasses);
    for (size_t i = 0; i < m.net.nparams; i++)
        FUZZ_REQUIRE(again.net.params[i] == m.net.params[i]);
    cs_model_free(&again);
    free(copy);
    cs_model_free(&m);
    return 0;
}
