/* test_tiles.c: the grid, standardization, background, the 8 symmetries and
   the sampled training crops. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "test.h"

static const char *data_dir;

static int load(cs_image *im, const char *name) {
    char path[1024];
    cs_error err = {0};
    snprintf(path, sizeof path, "%s/images/%s", data_dir, name);
    if (cs_image_load(im, path, &err) == CS_OK) return 1;
    fprintf(stderr, "%s\n", err.msg);
    return 0;
}

static void test_grid(void) {
    int cols, rows;
    cs_tile_grid(1408, 1040, 96, 128, &cols, &rows);
    CHECK(cols == 11 && rows == 7); /* 77 tiles of an AZGCB image */
    cs_tile_grid(1408, 1040, 0, 128, &cols, &rows);
    CHECK(cols == 11 && rows == 8);
    cs_tile_grid(1408, 1040, -5, 128, &cols, &rows); /* no crop */
    CHECK(cols == 11 && rows == 8);
    cs_tile_grid(256, 256, 0, 128, &cols, &rows);
    CHECK(cols == 2 && rows == 2);
    cs_tile_grid(255, 383, 0, 128, &cols, &rows); /* partial tiles dropped */
    CHECK(cols == 1 && rows == 2);
    cs_tile_grid(127, 500, 0, 128, &cols, &rows);
    CHECK(cols == 0);
    cs_tile_grid(500, 200, 100, 128, &cols, &rows);
    CHECK(rows == 0);
    cs_tile_grid(500, 200, 300, 128, &cols, &rows); /* crop taller than the image */
    CHECK(rows == 0);
}

static void moments(const float *t, int n, double *mean, double *std) {
    double s = 0, q = 0;
    for (int i = 0; i < n; i++) s += t[i];
    *mean = s / n;
    for (int i = 0; i < n; i++) q += (t[i] - *mean) * (t[i] - *mean);
    *std = sqrt(q / n);
}

static void test_standardize(void) {
    float a[4] = {1, 2, 3, 4}; /* mean 2.5, population std sqrt(1.25) */
    cs_standardize(a, 4);
    for (int i = 0; i < 4; i++) CHECK_NEAR(a[i], (i + 1 - 2.5) / sqrt(1.25), 1e-6);

    cs_rng rng;
    cs_rng_seed(&rng, 1);
    static float t[CS_TILE * CS_TILE];
    for (int i = 0; i < CS_TILE * CS_TILE; i++) t[i] = 0.3f + 0.2f * cs_rng_uniform(&rng);
    cs_standardize(t, CS_TILE * CS_TILE);
    double mean, std;
    moments(t, CS_TILE * CS_TILE, &mean, &std);
    CHECK_NEAR(mean, 0, 1e-6);
    CHECK_NEAR(std, 1, 1e-5);

    for (int i = 0; i < CS_TILE * CS_TILE; i++) t[i] = 0.4f;
    cs_standardize(t, CS_TILE * CS_TILE);
    int zeros = 1;
    for (int i = 0; i < CS_TILE * CS_TILE; i++) zeros &= t[i] == 0.0f;
    CHECK(zeros); /* a constant tile: zeros, not NaN */

    /* A spread under the floor is divided by the floor, not blown up. */
    float b[2] = {0.5f - 1e-5f, 0.5f + 1e-5f};
    cs_standardize(b, 2);
    CHECK_NEAR(b[0], -1e-5 / CS_STD_FLOOR, 1e-4);
    CHECK_NEAR(b[1], 1e-5 / CS_STD_FLOOR, 1e-4);
}

/* Gaussian noise by the sum of 12 uniforms: std sd around mean m. */
static void noise_tile(float *t, int tile, float m, float sd, cs_rng *rng) {
    for (int i = 0; i < tile * tile; i++) {
        float g = -6;
        for (int k = 0; k < 12; k++) g += cs_rng_uniform(rng);
        t[i] = m + sd * g;
    }
}

static void test_background(void) {
    int n = CS_TILE;
    static float t[CS_TILE * CS_TILE];
    cs_rng rng;
    cs_rng_seed(&rng, 2);

    for (int i = 0; i < n * n; i++) t[i] = 0.38f;
    CHECK(cs_is_background(t, n) == 1); /* flat */
    noise_tile(t, n, 0.38f, 0.006f, &rng);
    CHECK(cs_is_background(t, n) == 1); /* camera noise on empty medium */
    noise_tile(t, n, 0.38f, 0.03f, &rng);
    CHECK(cs_is_background(t, n) == 0); /* texture */

    /* One small cell (radius 6 px: a dark body in a bright halo) on noisy medium. */
    noise_tile(t, n, 0.38f, 0.006f, &rng);
    for (int y = 0; y < n; y++)
        for (int x = 0; x < n; x++) {
            float d = hypotf(x - 40.0f, y - 70.0f);
            if (d < 4) t[y * n + x] = 0.15f;
            else if (d < 6) t[y * n + x] = 0.8f;
        }
    CHECK(cs_is_background(t, n) == 0);

    /* Real tiles: empty medium (Mia PaCa-2) is background; one T47D cell on
       glass is not; nor is any tile of a confluent T47D crop. */
    cs_image im;
    if (load(&im, "background.png")) {
        CHECK(cs_tile_read(t, &im, 0, 0, n) == 1);
        cs_image_free(&im);
    }
    if (load(&im, "one_cell.png")) {
        CHECK(cs_tile_read(t, &im, 0, 0, n) == 0);
        cs_image_free(&im);
    }
    if (load(&im, "cells.png")) {
        int cols, rows, any = 0;
        cs_tile_grid(im.w, im.h, 0, n, &cols, &rows);
        CHECK(cols * rows == 2);
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++) any |= cs_tile_read(t, &im, c * n, r * n, n);
        CHECK(any == 0);
        cs_image_free(&im);
    }
}

static void test_tile_read(void) {
    /* A 4x3 image, tile 2 at (1, 1): the pixels standardized. */
    uint8_t px[12] = {0, 10, 20, 30, 40, 51, 60, 70, 80, 90, 100, 110};
    cs_image im = {.w = 4, .h = 3, .gray = px};
    float t[4];
    CHECK(cs_tile_read(t, &im, 1, 1, 2) == 0);
    float want[4] = {51 / 255.0f, 60 / 255.0f, 90 / 255.0f, 100 / 255.0f};
    cs_standardize(want, 4);
    for (int i = 0; i < 4; i++) CHECK(t[i] == want[i]);
}

static int equal(const float *a, const float *b, int n) { return !memcmp(a, b, sizeof(float) * n); }

static void test_dihedral(void) {
    enum { N = 5 };
    float src[N * N], d[8][N * N], tmp[N * N];
    for (int i = 0; i < N * N; i++) src[i] = (float)(i * i % 17) + 0.1f * i; /* no symmetry */
    for (int k = 0; k < 8; k++) cs_tile_dihedral(d[k], src, N, k);

    CHECK(equal(d[0], src, N * N));
    for (int a = 0; a < 8; a++)
        for (int b = a + 1; b < 8; b++) CHECK(!equal(d[a], d[b], N * N)); /* 8 distinct */

    /* What the bits mean, at one pixel (r = 1, c = 3). */
    CHECK(d[1][1 * N + 3] == src[1 * N + 1]); /* left-right */
    CHECK(d[2][1 * N + 3] == src[3 * N + 3]); /* top-bottom */
    CHECK(d[4][1 * N + 3] == src[3 * N + 1]); /* transpose */

    /* The group closes: a transform of a transform is one of the 8, and every
       transform has an inverse among them. */
    for (int a = 0; a < 8; a++) {
        int inverse = 0;
        for (int b = 0; b < 8; b++) {
            cs_tile_dihedral(tmp, d[a], N, b);
            int found = 0;
            for (int k = 0; k < 8; k++) found |= equal(tmp, d[k], N * N);
            CHECK(found);
            inverse |= equal(tmp, src, N * N);
        }
        CHECK(inverse);
    }
    /* A quarter turn four times is the identity; twice it is the half turn (3). */
    float r[N * N];
    memcpy(r, src, sizeof r);
    for (int i = 0; i < 4; i++) {
        cs_tile_dihedral(tmp, r, N, 5);
        memcpy(r, tmp, sizeof r);
        if (i == 1) CHECK(equal(r, d[3], N * N));
    }
    CHECK(equal(r, src, N * N));
}

static void test_sample(void) {
    cs_image im;
    if (!load(&im, "cells.png")) return;
    int n = 64;
    float *a = malloc(sizeof(float) * n * n), *b = malloc(sizeof(float) * n * n);
    float *c = malloc(sizeof(float) * n * n);

    /* No augmentation, centre on the pixel grid: exactly cs_tile_read's tile. */
    int at[][2] = {{0, 0}, {100, 37}, {300 - 64, 200 - 64}};
    for (int i = 0; i < 3; i++) {
        int x = at[i][0], y = at[i][1];
        cs_tile_read(a, &im, x, y, n);
        cs_tile_sample(b, &im, 0, x + n / 2.0f, y + n / 2.0f, n, NULL, NULL);
        CHECK(equal(a, b, n * n));
    }

    /* Beyond the edges the nearest edge pixel repeats: centred on the top-left
       corner, the whole top-left quarter is pixel (0, 0); the cropped bottom
       rows are never read. */
    cs_tile_sample(b, &im, 0, 0, 0, n, NULL, NULL);
    int flat = 1;
    for (int r = 0; r <= n / 2; r++)
        for (int q = 0; q <= n / 2; q++) flat &= b[r * n + q] == b[0];
    CHECK(flat);
    CHECK(b[n - 1] != b[0]);
    cs_tile_sample(b, &im, 150, 100, 50, n, NULL, NULL); /* rows >= 50 are cropped */
    int repeats = 1;
    for (int r = n / 2; r < n; r++) repeats &= !memcmp(b + r * n, b + (n / 2) * n, sizeof(float) * n);
    CHECK(repeats);

    /* A flip alone gives the plain crop or its mirror; the 8 symmetries one of 8. */
    cs_rng rng;
    cs_rng_seed(&rng, 3);
    cs_tile_sample(a, &im, 0, 150, 100, n, NULL, NULL);
    cs_tile_dihedral(c, a, n, 1);
    cs_augment flip = {.hflip = 1};
    int seen_plain = 0, seen_mirror = 0;
    for (int i = 0; i < 20; i++) {
        cs_tile_sample(b, &im, 0, 150, 100, n, &flip, &rng);
        seen_plain |= equal(a, b, n * n);
        seen_mirror |= equal(c, b, n * n);
        CHECK(equal(a, b, n * n) || equal(c, b, n * n));
    }
    CHECK(seen_plain && seen_mirror);
    cs_augment dihedral = {.dihedral = 1};
    unsigned seen = 0;
    for (int i = 0; i < 64; i++) {
        cs_tile_sample(b, &im, 0, 150, 100, n, &dihedral, &rng);
        for (int k = 0; k < 8; k++) {
            cs_tile_dihedral(c, a, n, k);
            if (equal(b, c, n * n)) seen |= 1u << k;
        }
    }
    CHECK(seen == 0xff);

    /* The same seed gives the same crop. */
    cs_augment paper = {.hflip = 1, .rotate_deg = 5, .shift = 0.1f, .zoom = 0.1f};
    cs_rng r1, r2;
    cs_rng_seed(&r1, 9);
    cs_rng_seed(&r2, 9);
    cs_tile_sample(b, &im, 0, 150, 100, n, &paper, &r1);
    cs_tile_sample(c, &im, 0, 150, 100, n, &paper, &r2);
    CHECK(equal(b, c, n * n));
    double mean, std;
    moments(b, n * n, &mean, &std);
    CHECK_NEAR(mean, 0, 1e-5);
    CHECK_NEAR(std, 1, 1e-4);
    free(a);
    free(b);
    free(c);
    cs_image_free(&im);

    /* Rotation, read off a ramp (gray = x): bilinear sampling keeps it linear,
       so the tile's gradient points at the rotation angle, within +-5 degrees. */
    uint8_t *ramp = malloc(256 * 256);
    for (int y = 0; y < 256; y++)
        for (int x = 0; x < 256; x++) ramp[y * 256 + x] = (uint8_t)x;
    cs_image rim = {.w = 256, .h = 256, .gray = ramp};
    cs_augment rot = {.rotate_deg = 5};
    float t[32 * 32], lo = 90, hi = -90;
    for (int i = 0; i < 20; i++) {
        cs_tile_sample(t, &rim, 0, 128, 128, 32, &rot, &rng);
        /* x = cx + cos(a) u - sin(a) v: d/du = cos(a), d/dv = -sin(a). */
        double du = t[16 * 32 + 20] - t[16 * 32 + 12], dv = t[20 * 32 + 16] - t[12 * 32 + 16];
        float deg = (float)(atan2(-dv, du) * 180 / 3.14159265358979);
        CHECK(fabsf(deg) <= 5.01f);
        lo = fminf(lo, deg);
        hi = fmaxf(hi, deg);
    }
    CHECK(hi - lo > 2); /* it does rotate, both ways */
    CHECK(lo < 0 && hi > 0);
    free(ramp);
}

/* Centre of brightness of columns [c0, c1) of a tile, in tile pixels. */
static double centroid_x(const float *t, int n, int c0, int c1) {
    float lo = t[0];
    for (int i = 0; i < n * n; i++) lo = fminf(lo, t[i]);
    double sum = 0, at = 0;
    for (int r = 0; r < n; r++)
        for (int c = c0; c < c1; c++) {
            sum += t[r * n + c] - lo;
            at += (t[r * n + c] - lo) * c;
        }
    return at / sum;
}

/* Shift and zoom, read off bright dots on black: a dot moves by at most
   shift x tile, and two dots 20 px apart end 20 / scale apart. */
static void test_shift_zoom(void) {
    enum { W = 256, N = 64 };
    static uint8_t px[W * W];
    cs_image im = {.w = W, .h = W, .gray = px};
    cs_rng rng;
    cs_rng_seed(&rng, 5);
    float t[N * N];

    px[128 * W + 128] = 255; /* one dot, at the plain crop's centre */
    cs_tile_sample(t, &im, 0, 128.5f, 128.5f, N, NULL, NULL);
    double plain = centroid_x(t, N, 0, N), lo = 1e9, hi = -1e9;
    cs_augment shift = {.shift = 0.1f};
    for (int i = 0; i < 20; i++) {
        cs_tile_sample(t, &im, 0, 128.5f, 128.5f, N, &shift, &rng);
        double moved = centroid_x(t, N, 0, N) - plain;
        CHECK(fabs(moved) <= 0.1 * N + 0.01);
        lo = fmin(lo, moved);
        hi = fmax(hi, moved);
    }
    CHECK(lo < -1 && hi > 1);

    px[128 * W + 128] = 0;
    px[128 * W + 118] = px[128 * W + 138] = 255;
    cs_augment zoom = {.zoom = 0.2f};
    lo = 1e9, hi = -1e9;
    for (int i = 0; i < 20; i++) {
        cs_tile_sample(t, &im, 0, 128.5f, 128.5f, N, &zoom, &rng);
        double d = centroid_x(t, N, N / 2, N) - centroid_x(t, N, 0, N / 2);
        CHECK(d >= 20 / 1.2 - 0.01 && d <= 20 / 0.8 + 0.01);
        lo = fmin(lo, d);
        hi = fmax(hi, d);
    }
    CHECK(lo < 20 && hi > 20); /* in and out */
}

/* Spread of a tile's brightness about its centre of brightness (a variance in
   pixels^2, per axis summed): a dot is 0, a Gaussian of sigma s about 2 s^2.
   Standardization scales every weight alike, so it does not change it. */
static double spread(const float *t, int n) {
    float lo = t[0];
    for (int i = 0; i < n * n; i++) lo = fminf(lo, t[i]);
    double sum = 0, x = 0, y = 0, xx = 0, yy = 0;
    for (int r = 0; r < n; r++)
        for (int c = 0; c < n; c++) {
            double w = t[r * n + c] - lo;
            sum += w, x += w * c, y += w * r, xx += w * c * c, yy += w * r * r;
        }
    x /= sum, y /= sum;
    return xx / sum - x * x + yy / sum - y * y;
}

/* Blur and gamma: a dot spreads by at most the largest sigma, and by different
   amounts from draw to draw; a ramp bends both ways within the powers allowed
   and stays in order. Without either, the crop is the plain one. */
static void test_blur_gamma(void) {
    enum { W = 256, N = 32 };
    static uint8_t px[W * W];
    cs_image im = {.w = W, .h = W, .gray = px};
    cs_rng rng;
    cs_rng_seed(&rng, 11);
    float t[N * N], plain[N * N];

    px[128 * W + 128] = 255;
    cs_tile_sample(plain, &im, 0, 128, 128, N, NULL, NULL);
    CHECK_NEAR(spread(plain, N), 0, 1e-9);
    cs_augment none = {.blur = 0, .gamma = 0};
    cs_tile_sample(t, &im, 0, 128, 128, N, &none, &rng);
    CHECK(equal(t, plain, N * N));
    cs_augment blur = {.blur = 2};
    double lo = 1e9, hi = 0;
    for (int i = 0; i < 20; i++) {
        cs_tile_sample(t, &im, 0, 128, 128, N, &blur, &rng);
        double s = spread(t, N);
        CHECK(s <= 2 * 2 * 2 + 0.01);
        CHECK(fabs(centroid_x(t, N, 0, N) - centroid_x(plain, N, 0, N)) < 1e-3); /* it does not move */
        lo = fmin(lo, s);
        hi = fmax(hi, s);
    }
    CHECK(hi > 2 * 1.5 * 1.5 && lo < 2 * 0.5 * 0.5);

    for (int y = 0; y < W; y++)
        for (int x = 0; x < W; x++) px[y * W + x] = (uint8_t)x;
    /* Columns 0, 16 and 31 of the tile read gray 112, 128 and 143. */
    double a = 112 / 255.0, m = 128 / 255.0, b = 143 / 255.0, g = 0.5;
#define BEND(p) ((pow(m, p) - pow(a, p)) / (pow(b, p) - pow(a, p)))
    double linear = BEND(1.0), most = BEND(1 / (1 + g)), least = BEND(1 + g);
    cs_augment gamma = {.gamma = (float)g};
    lo = 1, hi = 0;
    for (int i = 0; i < 40; i++) {
        cs_tile_sample(t, &im, 0, 128, 128, N, &gamma, &rng);
        double bend = (t[16] - t[0]) / (t[31] - t[0]);
        CHECK(bend >= least - 1e-4 && bend <= most + 1e-4);
        for (int c = 1; c < N; c++) CHECK(t[c] > t[c - 1]);
        lo = fmin(lo, bend);
        hi = fmax(hi, bend);
    }
#undef BEND
    CHECK(lo < linear - 0.2 * (linear - least) && hi > linear + 0.2 * (most - linear));
}

/* Coarser pixels: a flat tile stays flat; stripes one pixel wide, finer than
   pixels twice as coarse can hold, fade; stripes 16 wide survive. */
static void test_lowres(void) {
    enum { W = 256, N = 64 };
    static uint8_t px[W * W];
    cs_image im = {.w = W, .h = W, .gray = px};
    cs_rng rng;
    cs_rng_seed(&rng, 5);
    float t[N * N], plain[N * N], contrast[2];
    cs_augment low = {.lowres = 1};
    for (int i = 0; i < N * N; i++) t[i] = 0.25f;
    cs_tile_coarser(t, N, 2);
    CHECK(fabsf(t[0] - 0.25f) < 1e-6f && fabsf(t[N * N / 2 + 7] - 0.25f) < 1e-6f);
    for (int period = 1, k = 0; k < 2; period = 16, k++) {
        for (int y = 0; y < W; y++)
            for (int x = 0; x < W; x++) px[y * W + x] = (uint8_t)((x / period) % 2 ? 200 : 50);
        cs_tile_sample(plain, &im, 0, 128, 128, N, NULL, NULL);
        memcpy(t, plain, sizeof t);
        cs_tile_coarser(t, N, 2);
        double a = 0, b = 0;
        for (int i = 0; i < N * N; i++) a += fabs(t[i]), b += fabs(plain[i]);
        contrast[k] = (float)(a / b);
    }
    CHECK(contrast[0] < 0.2f && contrast[1] > 0.8f);
    cs_tile_sample(t, &im, 0, 128, 128, N, &low, &rng); /* drawn from [1, 2]: runs */
    CHECK(isfinite(t[0]));
    /* Catmull-Rom overshoots below black at sharp edges; a gamma after it stays finite. */
    for (int y = 0; y < W; y++)
        for (int x = 0; x < W; x++) px[y * W + x] = (uint8_t)((x / 3) % 2 ? 255 : 0);
    low.gamma = 0.3f;
    int finite = 1;
    for (int i = 0; i < 20; i++) {
        cs_tile_sample(t, &im, 0, 128, 128, N, &low, &rng);
        for (int j = 0; j < N * N; j++) finite &= isfinite(t[j]) != 0;
    }
    CHECK(finite);
}

/* lowres on a share of the crops: about that share of crops differs from the
   plain crop; share 1 is the unset share (every crop, the same tiles from the
   same draws), and a share without lowres draws nothing. */
static void test_lowres_share(void) {
    enum { N = 64, DRAWS = 1000 };
    cs_image im;
    if (!load(&im, "cells.png")) return;
    float plain[N * N], t[N * N], u[N * N];
    cs_tile_sample(plain, &im, 0, 150, 100, N, NULL, NULL);
    cs_rng a, b;
    const float shares[] = {0.3f, 0.7f};
    for (int k = 0; k < 2; k++) {
        cs_augment some = {.lowres = 1, .lowres_share = shares[k]};
        cs_rng_seed(&a, 11);
        int changed = 0;
        for (int i = 0; i < DRAWS; i++) {
            cs_tile_sample(t, &im, 0, 150, 100, N, &some, &a);
            changed += memcmp(t, plain, sizeof t) != 0;
        }
        CHECK_NEAR((double)changed / DRAWS, shares[k], 0.05);
    }
    cs_augment every = {.lowres = 1}, one = {.lowres = 1, .lowres_share = 1};
    cs_rng_seed(&a, 12);
    cs_rng_seed(&b, 12);
    int same = 1, changed = 0;
    for (int i = 0; i < 50; i++) {
        cs_tile_sample(t, &im, 0, 150, 100, N, &every, &a);
        cs_tile_sample(u, &im, 0, 150, 100, N, &one, &b);
        same &= memcmp(t, u, sizeof t) == 0;
        changed += memcmp(t, plain, sizeof t) != 0;
    }
    CHECK(same && cs_rng_next(&a) == cs_rng_next(&b));
    CHECK(changed >= 45); /* a factor that rounds the tile to its own size leaves it as it is */
    cs_rng_seed(&b, 12);
    cs_rng_uniform(&b); /* every crop: the factor is its one draw */
    cs_rng_seed(&a, 12);
    cs_tile_sample(t, &im, 0, 150, 100, N, &every, &a);
    CHECK(cs_rng_next(&a) == cs_rng_next(&b));
    cs_augment none = {.lowres_share = 0.5f};
    cs_rng_seed(&a, 12);
    cs_rng_seed(&b, 12);
    cs_tile_sample(t, &im, 0, 150, 100, N, &none, &a);
    CHECK(memcmp(t, plain, sizeof t) == 0 && cs_rng_next(&a) == cs_rng_next(&b));
    cs_image_free(&im);
}

/* Crops drawn by density: an image of flat medium (gray 128 +- 1) but for
   its right quarter, full of cells (random gray levels); 128-pixel tiles in 4
   bands. Uniform crops would put 71% of tiles on medium alone; by band, each
   band gets a quarter, which the share of each crop's width over the cells
   shows (its bands: under 1/4, ..., 3/4 and over). */
static void test_density_draw(void) {
    enum { W = 1024, H = 256 + 40, CROP = 40, T = 128 };
    cs_image im = {.w = W, .h = H, .gray = malloc(W * H)};
    cs_rng rng;
    cs_rng_seed(&rng, 7);
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++)
            im.gray[y * W + x] = (uint8_t)(x >= 768 ? cs_rng_below(&rng, 256) : 127 + cs_rng_below(&rng, 3));
    cs_density_bands d;
    cs_error err = {0};
    CHECK(cs_density_bands_init(&d, &im, CROP, T, 4, &err) == CS_OK);
    CHECK(d.drawn == 4);
    int n = 4000, low = 0, high = 0, inside = 1;
    for (int i = 0; i < n; i++) {
        float cx, cy;
        cs_density_draw(&d, &rng, &cx, &cy);
        inside &= cx >= T / 2 && cx <= W - T / 2 && cy >= T / 2 && cy <= H - CROP - T / 2;
        float cells = fmaxf(0, cx + T / 2 - 768) / T;
        low += cells < 0.25f;
        high += cells >= 0.75f;
    }
    CHECK(inside);
    CHECK_NEAR((double)low / n, 0.25, 0.03);
    CHECK_NEAR((double)high / n, 0.25, 0.03);
    cs_density_bands_free(&d);

    memset(im.gray, 128, W * H); /* no cells anywhere: one band, still every place */
    CHECK(cs_density_bands_init(&d, &im, CROP, T, 4, &err) == CS_OK);
    CHECK(d.drawn == 1);
    float lo = W, hi = 0;
    for (int i = 0; i < 1000; i++) {
        float cx, cy;
        cs_density_draw(&d, &rng, &cx, &cy);
        lo = fminf(lo, cx), hi = fmaxf(hi, cx);
    }
    CHECK(lo < T / 2 + 32 && hi > W - T / 2 - 32);
    cs_density_bands_free(&d);

    CHECK(cs_density_bands_init(&d, &im, CROP, T, 0, &err) == CS_EINPUT); /* bad input, no crash */
    CHECK(cs_density_bands_init(&d, &im, CROP, T, CS_DENSITY_BANDS_MAX + 1, &err) == CS_EINPUT);
    CHECK(cs_density_bands_init(&d, &im, H - 100, T, 4, &err) == CS_EINPUT && strstr(err.msg, "no 128-pixel tile"));
    free(im.gray);
}

int main(int argc, char **argv) {
    data_dir = argc > 1 ? argv[1] : "tests/data";
    test_grid();
    test_standardize();
    test_background();
    test_tile_read();
    test_dihedral();
    test_sample();
    test_shift_zoom();
    test_lowres();
    test_lowres_share();
    test_blur_gamma();
    test_density_draw();
    return test_summary();
}
