/* fuzz_image: the image path of `cellsight predict` on arbitrary bytes: the
   header (cs_image_info), decoding (cs_image_decode), tiling (cs_tile_grid,
   cs_tile_read) and classification (cs_classify) with a small network, the
   bottom crop taken from the input's size. */
#include <math.h>
#include <stdlib.h>

#include "internal.h"
#include "fuzz.h"

/* A few hundred bytes can claim 20000 x 20000 pixels, which decode (as zeros)
   within the library's limits but take seconds: the limits are tested by
   tests/cli_badinput.sh and tools/bench_memory; here we want many runs a second. */
#define FUZZ_MAX_PIXELS (512 * 512)

static cs_model model;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    cs_error err;
    cs_set_threads(1);
    if (cs_model_init(&model, "conv2,gap,dense", CS_TILE, 3, NULL, 1, &err) != CS_OK) {
        fprintf(stderr, "fuzz_image: %s\n", err.msg);
        exit(1);
    }
    return 0;
}

static void require_distribution(const float *p, int n) {
    float sum = 0;
    for (int k = 0; k < n; k++) {
        FUZZ_REQUIRE(p[k] >= 0 && p[k] <= 1);
        sum += p[k];
    }
    FUZZ_REQUIRE(fabsf(sum - 1) < 1e-3f);
}

static void tile_and_classify(const cs_image *im, int crop_bottom) {
    int cols, rows, tile = CS_TILE, K = model.net.nclasses;
    cs_tile_grid(im->w, im->h, crop_bottom, tile, &cols, &rows);
    FUZZ_REQUIRE(cols >= 0 && rows >= 0 && cols * tile <= im->w &&
                 rows * tile <= im->h - crop_bottom);
    static float t[CS_TILE * CS_TILE];
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++) {
            cs_tile_read(t, im, c * tile, r * tile, tile);
            for (int i = 0; i < tile * tile; i++) FUZZ_REQUIRE(isfinite(t[i]));
        }

    cs_result res;
    cs_error err;
    if (cs_classify(&model, im, crop_bottom, &res, NULL, NULL, &err) != CS_OK) {
        FUZZ_REQUIRE(err.msg[0]);
        return;
    }
    FUZZ_REQUIRE(res.ntiles == cols * rows && res.cols == cols && res.rows == rows);
    FUZZ_REQUIRE(res.nforeground >= 0 && res.nforeground <= res.ntiles);
    for (int i = 0; i < res.ntiles; i++) {
        FUZZ_REQUIRE(res.x[i] >= 0 && res.x[i] + tile <= im->w);
        FUZZ_REQUIRE(res.y[i] >= 0 && res.y[i] + tile <= im->h - crop_bottom);
        FUZZ_REQUIRE(res.tile_class[i] >= 0 && res.tile_class[i] < K);
        require_distribution(res.tile_probs + (size_t)i * K, K);
    }
    if (res.ntiles > 0) {
        require_distribution(res.probs, K);
        FUZZ_REQUIRE(res.predicted >= 0 && res.predicted < K);
    }
    cs_result_free(&res);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    int w, h;
    cs_status info = cs_image_info(data, size, &w, &h, NULL);
    if (info == CS_OK && (long long)w * h > FUZZ_MAX_PIXELS) return 0;

    cs_image im;
    cs_error err;
    if (cs_image_decode(&im, data, size, &err) != CS_OK) {
        FUZZ_REQUIRE(err.code != CS_OK && err.msg[0]);
        return 0;
    }
    FUZZ_REQUIRE(info == CS_OK && im.w == w && im.h == h && im.gray != NULL);
    tile_and_classify(&im, (int)((long long)im.h * (size % 5) / 4));
    cs_image_free(&im);
    return 0;
}
