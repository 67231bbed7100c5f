/* tiles.c: the grid of tiles, standardization, background tiles, the eight
   symmetries of a tile, and the transformed crops that training samples. */
#include <math.h>
#include <string.h>

#include "internal.h"

/* Background: a tile is empty glass or medium when the standard deviation of
   its gray / 255 values is below BACKGROUND_STD (3 gray levels). Measured on the
   4586 tiles (128 px, bottom 96 px cropped) of the 60 AZGCB images: tile stds run
   from 0.009 to 0.30. None of the 32 tiles under 0.012 has even 10 pixels 0.15
   away from its median (a cell's bright halo and dark body give dozens to
   hundreds): they are empty medium with a few specks of debris. The faintest
   tile with a small object measures 0.014, one whole T47D cell on bare glass
   0.032. Empty glass with streaks (0.016 to 0.022) is kept on purpose: a
   background tile that votes costs little, a cell tile that does not vote is
   lost evidence. Gradient energy ranks these tiles the same way as the std. */
#define BACKGROUND_STD 0.012

void cs_tile_grid(int w, int h, int crop_bottom, int tile, int *cols, int *rows) {
    int used_h = h - (crop_bottom > 0 ? crop_bottom : 0);
    *cols = tile > 0 && w > 0 ? w / tile : 0;
    *rows = tile > 0 && used_h > 0 ? used_h / tile : 0;
}

/* Mean and population standard deviation, two passes in double: a tile of
   nearly equal values must not lose its small variance to rounding. */
static void moments(const float *t, int n, double *mean, double *std) {
    double sum = 0, sq = 0;
    for (int i = 0; i < n; i++) sum += t[i];
    *mean = sum / n;
    for (int i = 0; i < n; i++) {
        double d = t[i] - *mean;
        sq += d * d;
    }
    *std = sqrt(sq / n);
}

void cs_standardize(float *t, int n) {
    if (n <= 0) return;
    double mean, std;
    moments(t, n, &mean, &std);
    double inv = 1.0 / fmax(std, CS_STD_FLOOR);
    for (int i = 0; i < n; i++) t[i] = (float)((t[i] - mean) * inv);
}

int cs_is_background(const float *t, int tile) {
    double mean, std;
    moments(t, tile * tile, &mean, &std);
    return std < BACKGROUND_STD;
}

int cs_tile_read(float *dst, const cs_image *im, int x, int y, int tile) {
    for (int r = 0; r < tile; r++) {
        const uint8_t *row = im->gray + (size_t)(y + r) * im->w + x;
        for (int c = 0; c < tile; c++) dst[r * tile + c] = row[c] / 255.0f;
    }
    int background = cs_is_background(dst, tile);
    cs_standardize(dst, tile * tile);
    return background;
}

/* k's bit 0 flips left-right, bit 1 top-bottom, bit 2 swaps rows and columns
   (after the flips): the 8 elements of the square's symmetry group. */
void cs_tile_dihedral(float *dst, const float *src, int tile, int k) {
    for (int r = 0; r < tile; r++)
        for (int c = 0; c < tile; c++) {
            int rr = k & 2 ? tile - 1 - r : r, cc = k & 1 ? tile - 1 - c : c;
            dst[r * tile + c] = k & 4 ? src[cc * tile + rr] : src[rr * tile + cc];
        }
}

/* Gray at (x, y) in pixel-index coordinates of the top h rows, bilinear.
   Clamping first repeats the edge pixels beyond the border (Keras's "nearest")
   and keeps the conversion to int defined, even for NaN. */
static float bilinear(const cs_image *im, int h, float x, float y) {
    x = fminf(fmaxf(x, 0.0f), (float)(im->w - 1));
    y = fminf(fmaxf(y, 0.0f), (float)(h - 1));
    int x0 = (int)x, y0 = (int)y;
    int x1 = x0 + (x0 < im->w - 1), y1 = y0 + (y0 < h - 1);
    float ax = x - (float)x0, ay = y - (float)y0;
    const uint8_t *r0 = im->gray + (size_t)y0 * im->w, *r1 = im->gray + (size_t)y1 * im->w;
    float top = r0[x0] + ax * (float)(r0[x1] - r0[x0]);
    float bottom = r1[x0] + ax * (float)(r1[x1] - r1[x0]);
    return top + ay * (bottom - top);
}

static float uniform_pm(cs_rng *rng, float r) { return (2.0f * cs_rng_uniform(rng) - 1.0f) * r; }

/* One pass of a Gaussian blur along n values at p[0], p[step], ..., taps
   renormalised at the ends (the edge does not darken). */
static void blur_line(float *p, int n, int step, const float *w, int radius) {
    float line[CS_MAX_TILE];
    for (int i = 0; i < n; i++) line[i] = p[i * step];
    for (int i = 0; i < n; i++) {
        float sum = 0, norm = 0;
        for (int j = -radius; j <= radius; j++)
            if (i + j >= 0 && i + j < n) {
                sum += w[j < 0 ? -j : j] * line[i + j];
                norm += w[j < 0 ? -j : j];
            }
        p[i * step] = sum / norm;
    }
}

/* A separable Gaussian blur of a tile, in place. */
static void blur_tile(float *t, int tile, float sigma) {
    enum { MAX_RADIUS = 16 };
    float w[MAX_RADIUS + 1];
    int radius = (int)ceilf(3 * sigma);
    if (radius < 1) return;
    if (radius > MAX_RADIUS) radius = MAX_RADIUS;
    for (int j = 0; j <= radius; j++) w[j] = expf(-0.5f * j * j / (sigma * sigma));
    for (int r = 0; r < tile; r++) blur_line(t + r * tile, tile, 1, w, radius);
    for (int c = 0; c < tile; c++) blur_line(t + c, tile, tile, w, radius);
}

int cs_augment_lowres_some(const cs_augment *a) {
    return a->lowres > 0 && a->lowres_share > 0 && a->lowres_share < 1;
}

void cs_tile_sample(float *dst, const cs_image *im, int crop_bottom, float cx, float cy,
                    int tile, const cs_augment *aug, cs_rng *rng) {
    int h = im->h - (crop_bottom > 0 ? crop_bottom : 0);
    if (im->w <= 0 || h <= 0) {
        memset(dst, 0, sizeof(float) * tile * tile);
        return;
    }
    int k = 0;
    float angle = 0, scale = 1, shift_x = 0, shift_y = 0, power = 1, sigma = 0, coarser = 1;
    if (aug) {
        if (aug->dihedral) k = cs_rng_below(rng, 8);
        if (aug->hflip && cs_rng_below(rng, 2)) k ^= 1;
        if (aug->rotate_deg > 0) angle = uniform_pm(rng, aug->rotate_deg) * (3.14159265f / 180);
        if (aug->shift > 0) {
            shift_x = uniform_pm(rng, aug->shift) * tile;
            shift_y = uniform_pm(rng, aug->shift) * tile;
        }
        if (aug->zoom > 0) scale = 1 + uniform_pm(rng, aug->zoom);
        if (aug->gamma > 0) power = expf(uniform_pm(rng, logf(1 + aug->gamma)));
        if (aug->blur > 0) sigma = cs_rng_uniform(rng) * aug->blur;
        int low = aug->lowres > 0 && (!cs_augment_lowres_some(aug) || cs_rng_uniform(rng) < aug->lowres_share);
        if (low) coarser = 1 + cs_rng_uniform(rng) * aug->lowres;
    }
    float cosa = cosf(angle) * scale, sina = sinf(angle) * scale;
    /* Pixel p covers [p, p + 1) and its value sits at p + 0.5: a centre on whole
       numbers with no transform lands every sample exactly on a pixel. */
    float ox = cx + shift_x - 0.5f, oy = cy + shift_y - 0.5f, half = 0.5f * tile;
    for (int r = 0; r < tile; r++)
        for (int c = 0; c < tile; c++) {
            /* Offsets from the tile's centre, mapped as cs_tile_dihedral maps indices. */
            float u = c + 0.5f - half, v = r + 0.5f - half;
            if (k & 1) u = -u;
            if (k & 2) v = -v;
            if (k & 4) {
                float t = u;
                u = v;
                v = t;
            }
            float x = ox + cosa * u - sina * v, y = oy + sina * u + cosa * v;
            dst[r * tile + c] = bilinear(im, h, x, y) / 255.0f;
        }
    if (coarser > 1) cs_tile_coarser(dst, tile, coarser);
    if (power != 1) /* coarser's Catmull-Rom overshoots below black at edges: powf of that is NaN */
        for (int i = 0; i < tile * tile; i++) dst[i] = powf(fmaxf(dst[i], 0), power);
    if (sigma > 0) blur_tile(dst, tile, sigma);
    cs_standardize(dst, tile * tile);
}
