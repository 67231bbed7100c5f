/* test_classify.c: whole-image classification against tile-by-tile forward
   passes done by hand, on a real crop with a small random network. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "test.h"

#define T 32 /* tile side of the test network */

static const char *data_dir;

/* probs [K] of one tile of im at (x, y), the 8 symmetries averaged if tta. */
static void by_hand(const cs_model *m, const cs_image *im, int x, int y, int tta, float *probs,
                    int *background) {
    static float tile[T * T], view[T * T];
    float p[CS_MAX_CLASSES];
    cs_workspace *ws = cs_workspace_new(&m->net, 1, NULL);
    *background = cs_tile_read(tile, im, x, y, T);
    int K = m->net.nclasses;
    for (int k = 0; k < K; k++) probs[k] = 0;
    for (int v = 0; v < (tta ? 8 : 1); v++) {
        cs_tile_dihedral(view, tile, T, v);
        cs_net_forward(&m->net, ws, 0, view, 1, 0, NULL, p);
        for (int k = 0; k < K; k++) probs[k] += p[k] / (tta ? 8 : 1);
    }
    cs_workspace_free(ws);
}

/* Every tile's place, flag and probabilities, and the image's mean over the
   tiles that are not background. */
static void check_against_hand(const cs_model *m, const cs_image *im, int crop_bottom) {
    cs_result res;
    cs_error err = {0};
    cs_status s = cs_classify(m, im, crop_bottom, &res, NULL, NULL, &err);
    if (s != CS_OK) fprintf(stderr, "cs_classify: %s\n", err.msg);
    CHECK(s == CS_OK);
    if (s != CS_OK) return;
    int K = m->net.nclasses, cols, rows;
    cs_tile_grid(im->w, im->h, crop_bottom < 0 ? m->crop_bottom : crop_bottom, T, &cols, &rows);
    CHECK(res.cols == cols && res.rows == rows && res.ntiles == cols * rows);

    double mean[CS_MAX_CLASSES] = {0};
    int fg = 0, places = 1, flags = 1, classes = 1;
    double worst = 0;
    for (int t = 0; t < res.ntiles; t++) {
        int x = t % cols * T, y = t / cols * T, background;
        float p[CS_MAX_CLASSES];
        places &= res.x[t] == x && res.y[t] == y;
        by_hand(m, im, x, y, m->tta, p, &background);
        flags &= res.background[t] == background;
        classes &= res.tile_class[t] == cs_model_decide(m, p);
        for (int k = 0; k < K; k++) {
            double d = fabs(res.tile_probs[t * K + k] - p[k]);
            worst = d > worst ? d : worst;
            if (!background) mean[k] += p[k];
        }
        fg += !background;
    }
    CHECK(places);
    CHECK(flags);
    CHECK(classes);
    CHECK_NEAR(worst, 0, 1e-6);
    CHECK(res.nforeground == fg);
    CHECK(fg > 0);
    for (int k = 0; k < K; k++) CHECK_NEAR(res.probs[k], mean[k] / fg, 1e-6);
    CHECK(res.predicted == cs_model_decide(m, res.probs));
    CHECK(res.confidence == res.probs[res.predicted]);
    cs_result_free(&res);
    CHECK(res.x == NULL && res.probs == NULL);
}

static int count_calls(void *ctx, int done, int total) {
    int *calls = ctx;
    calls[0]++;
    calls[1] = calls[1] < done ? done : -1000; /* must grow */
    calls[2] = total;
    return 0;
}

static int cancel_at_second(void *ctx, int done, int total) { return ++*(int *)ctx == 2; }

int main(int argc, char **argv) {
    data_dir = argc > 1 ? argv[1] : "tests/data";
    char path[1024];
    snprintf(path, sizeof path, "%s/images/cells.png", data_dir);
    cs_image cells;
    cs_error err = {0};
    if (cs_image_load(&cells, path, &err) != CS_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }

    /* The right half of the crop painted flat: background tiles that must not vote. */
    cs_image half = {.w = cells.w, .h = cells.h, .gray = malloc((size_t)cells.w * cells.h)};
    memcpy(half.gray, cells.gray, (size_t)cells.w * cells.h);
    for (int y = 0; y < half.h; y++) memset(half.gray + y * half.w + 5 * T, 97, half.w - 5 * T);

    cs_model m2, m3;
    const char *names[] = {"T47D", "MDAMB231"};
    CHECK(cs_model_init(&m2, "conv4,pool,conv8,gap,dense8,dense", T, 2, names, 1, &err) == CS_OK);
    CHECK(cs_model_init(&m3, "conv4,gap,dense", T, 3, NULL, 2, &err) == CS_OK);

    /* 300 x 200 in 32 px tiles: 9 columns, so batches of 8 tiles split each row. */
    check_against_hand(&m2, &cells, 0);
    check_against_hand(&m3, &cells, 0);
    check_against_hand(&m2, &half, 0);
    m2.crop_bottom = 72; /* < 0 takes the model's crop: 128 rows, 4 tile rows */
    check_against_hand(&m2, &cells, -1);
    m2.tta = 1; /* each tile averaged over its 8 symmetries */
    check_against_hand(&m2, &half, 10);
    check_against_hand(&m2, &cells, 0);
    m2.tta = 0;

    /* The flat half is background and does not vote. */
    cs_result res;
    CHECK(cs_classify(&m2, &half, 0, &res, NULL, NULL, &err) == CS_OK);
    CHECK(res.ntiles == 54 && res.nforeground == 30);
    cs_result_free(&res);

    /* All background: every tile votes. */
    memset(half.gray, 97, (size_t)half.w * half.h);
    CHECK(cs_classify(&m3, &half, 0, &res, NULL, NULL, &err) == CS_OK);
    CHECK(res.nforeground == 0);
    if (res.probs) {
        double sum = 0;
        for (int t = 0; t < res.ntiles; t++) sum += res.tile_probs[t * 3 + 1];
        CHECK_NEAR(res.probs[1], sum / res.ntiles, 1e-6);
    }
    cs_result_free(&res);

    /* The two-class threshold, and argmax for more classes. */
    m2.threshold = 0.7f;
    CHECK(cs_model_decide(&m2, (float[]){0.4f, 0.6f}) == 0);
    CHECK(cs_model_decide(&m2, (float[]){0.3f, 0.7f}) == 1);
    m2.threshold = 0.5f;
    CHECK(cs_model_decide(&m2, (float[]){0.5f, 0.5f}) == 1);
    CHECK(cs_model_decide(&m3, (float[]){0.2f, 0.5f, 0.3f}) == 1);
    CHECK(cs_model_decide(&m3, (float[]){0.2f, 0.3f, 0.5f}) == 2);

    /* Progress after each batch, up to the total; a nonzero return cancels. */
    int calls[3] = {0, 0, 0};
    CHECK(cs_classify(&m2, &cells, 0, &res, count_calls, calls, &err) == CS_OK);
    CHECK(calls[0] == 6 * 2 && calls[1] == 54 && calls[2] == 54);
    cs_result_free(&res);
    int n = 0;
    CHECK(cs_classify(&m2, &cells, 0, &res, cancel_at_second, &n, &err) == CS_ECANCEL);
    CHECK(err.code == CS_ECANCEL && res.tile_probs == NULL && res.ntiles == 0);

    /* Too small for one tile: a clear error, nothing to free. */
    cs_image small = {.w = 31, .h = 100, .gray = cells.gray};
    CHECK(cs_classify(&m2, &small, 0, &res, NULL, NULL, &err) == CS_EINPUT);
    CHECK(strstr(err.msg, "smaller than one 32 x 32 tile") != NULL);
    CHECK(strstr(err.msg, "31 x 100 pixels") != NULL);
    CHECK(cs_classify(&m2, &cells, 190, &res, NULL, NULL, &err) == CS_EINPUT);
    CHECK(strstr(err.msg, "300 x 10 without its bottom 190 rows") != NULL);
    CHECK(res.x == NULL);

    /* Non-finite weights do not become NaN probabilities. */
    m3.net.layers[m3.net.nlayers - 1].bias[0] = NAN;
    CHECK(cs_classify(&m3, &cells, 0, &res, NULL, NULL, &err) == CS_EINPUT);
    CHECK(strstr(err.msg, "non-finite") != NULL);

    cs_model_free(&m2);
    cs_model_free(&m3);
    free(half.gray);
    cs_image_free(&cells);
    return test_summary();
}
