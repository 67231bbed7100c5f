/* test_pytorch_model.c: models made and saved by PyTorch (tools/check_torch_interop.py)
   load with cs_model_load and give PyTorch's probabilities within 1e-4. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "test.h"

static void check_fixture(const char *data, const char *name, int nclasses, const char *class_last) {
    char path[1024];
    cs_model m;
    cs_error err = {0};
    snprintf(path, sizeof path, "%s/models/%s.safetensors", data, name);
    CHECK(cs_model_load(&m, path, &err) == CS_OK);
    if (err.code) {
        fprintf(stderr, "  %s\n", err.msg);
        return;
    }
    CHECK(m.net.nclasses == nclasses && m.net.tile == 16 && !strcmp(m.classes[nclasses - 1], class_last));

    /* The tiles and PyTorch's probabilities, in a safetensors file too. */
    snprintf(path, sizeof path, "%s/models/%s_tiles.safetensors", data, name);
    FILE *f = fopen(path, "rb");
    static uint8_t bytes[1 << 16];
    size_t size = f ? fread(bytes, 1, sizeof bytes, f) : 0;
    if (f) fclose(f);
    cs_safetensors st;
    CHECK(cs_st_parse(&st, bytes, size, &err) == CS_OK);
    const cs_st_tensor *tt = cs_st_find(&st, "tiles"), *tp = cs_st_find(&st, "probs");
    CHECK(tt && tp && tt->ndim == 3 && tt->shape[1] == 16 && tp->ndim == 2 && tp->shape[1] == nclasses);
    if (tt && tp && tt->shape[0] == tp->shape[0]) {
        int B = (int)tt->shape[0];
        float *tiles = malloc(sizeof(float) * B * 16 * 16), *want = malloc(sizeof(float) * B * nclasses),
              *probs = malloc(sizeof(float) * B * nclasses);
        CHECK(cs_st_read_f32(&st, "tiles", tiles, (size_t)B * 16 * 16, &err) == CS_OK);
        CHECK(cs_st_read_f32(&st, "probs", want, (size_t)B * nclasses, &err) == CS_OK);
        cs_workspace *ws = cs_workspace_new(&m.net, B, &err);
        CHECK(ws != NULL);
        if (ws) {
            cs_net_forward(&m.net, ws, 0, tiles, B, 0, NULL, probs);
            for (int i = 0; i < B * nclasses; i++) CHECK_NEAR(probs[i], want[i], 1e-4);
            cs_workspace_free(ws);
        }
        free(tiles);
        free(want);
        free(probs);
    }
    cs_st_free(&st);
    cs_model_free(&m);
}

int main(int argc, char **argv) {
    const char *data = argc > 1 ? argv[1] : "tests/data";
    check_fixture(data, "good_pytorch", 2, "class1");   /* the paper's network, metadata: tile only */
    check_fixture(data, "good_pytorch_k3", 3, "class2"); /* pooling and a softmax over 3 classes */
    return test_summary();
}
