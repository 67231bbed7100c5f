/* density.c: training crops drawn evenly over bands of local cell density, so
   that a network trained on a sparse image also sees its densest patches, and
   on a confluent one its gaps, as often as the rest (issue 15: the 30-line
   model misses most lines whose two images differ in confluence). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* A block shows cells when the standard deviation of its gray / 255 values is
   above CELL_BLOCK_STD. Measured on the 60 AZGCB images: empty medium's 16-pixel
   blocks run from 0.007 to about 0.02 (scan noise and texture differ from image
   to image, which is why the tile rule's 0.012 is too low here), blocks holding
   a cell's edge from 0.04 up. */
#define CELL_BLOCK_STD 0.03
/* A band holding less than this share of an image's positions is not drawn
   from: its few places would be seen dozens of times an epoch. */
#define MIN_BAND_SHARE 0.02

/* 1 for each CS_DENSITY_BLOCK-pixel block of the image less its bottom crop
   rows that shows cells; *bw x *bh blocks, partial blocks dropped. */
static uint8_t *cell_blocks(const cs_image *im, int crop, int *bw, int *bh) {
    const int B = CS_DENSITY_BLOCK;
    *bw = im->w / B;
    *bh = (im->h - crop) / B;
    uint8_t *map = malloc((size_t)(*bw > 0 ? *bw : 1) * (*bh > 0 ? *bh : 1));
    if (!map) return NULL;
    for (int by = 0; by < *bh; by++)
        for (int bx = 0; bx < *bw; bx++) {
            double sum = 0, sq = 0;
            for (int r = 0; r < B; r++) {
                const uint8_t *row = im->gray + (size_t)(by * B + r) * im->w + bx * B;
                for (int c = 0; c < B; c++) sum += row[c] / 255.0;
            }
            double mean = sum / (B * B);
            for (int r = 0; r < B; r++) {
                const uint8_t *row = im->gray + (size_t)(by * B + r) * im->w + bx * B;
                for (int c = 0; c < B; c++) sq += (row[c] / 255.0 - mean) * (row[c] / 255.0 - mean);
            }
            map[(size_t)by * *bw + bx] = sqrt(sq / (B * B)) > CELL_BLOCK_STD;
        }
    return map;
}

cs_status cs_density_bands_init(cs_density_bands *d, const cs_image *im, int crop, int tile, int nbands,
                                cs_error *err) {
    const int B = CS_DENSITY_BLOCK, n = tile / B; /* a tile is n x n blocks */
    memset(d, 0, sizeof *d);
    if (nbands < 1 || nbands > CS_DENSITY_BANDS_MAX)
        return cs_fail(err, CS_EINPUT, "density bands must be 1 to %d, not %d", CS_DENSITY_BANDS_MAX, nbands);
    d->nbands = nbands;
    d->tile = tile;
    d->maxx = im->w - tile;
    d->maxy = im->h - crop - tile;
    int bw, bh;
    uint8_t *map = cell_blocks(im, crop, &bw, &bh);
    int cols = bw - n + 1, rows = bh - n + 1; /* block-aligned tile positions */
    if (cols < 1 || rows < 1 || n < 1) {
        free(map);
        return cs_fail(err, CS_EINPUT, "an image of %d x %d pixels holds no %d-pixel tile to draw by density",
                       im->w, im->h - crop, tile);
    }
    /* Summed-area table of the map: a window's count in four reads. */
    int *sat = calloc((size_t)(bw + 1) * (bh + 1), sizeof *sat);
    d->pos = malloc(sizeof *d->pos * (size_t)cols * rows);
    d->start = calloc((size_t)nbands + 1, sizeof *d->start);
    int *band = malloc(sizeof *band * (size_t)cols * rows);
    if (!map || !sat || !d->pos || !d->start || !band) {
        free(map), free(sat), free(band);
        cs_density_bands_free(d);
        return cs_fail(err, CS_ENOMEM, "out of memory for the density bands of an image");
    }
    for (int y = 0; y < bh; y++)
        for (int x = 0; x < bw; x++)
            sat[(y + 1) * (bw + 1) + x + 1] = map[y * bw + x] + sat[y * (bw + 1) + x + 1] +
                                              sat[(y + 1) * (bw + 1) + x] - sat[y * (bw + 1) + x];
    for (int y = 0; y < rows; y++)
        for (int x = 0; x < cols; x++) {
            int count = sat[(y + n) * (bw + 1) + x + n] - sat[y * (bw + 1) + x + n] -
                        sat[(y + n) * (bw + 1) + x] + sat[y * (bw + 1) + x];
            int b = count * nbands / (n * n);
            band[y * cols + x] = b < nbands ? b : nbands - 1;
            d->start[band[y * cols + x] + 1]++;
        }
    for (int b = 0; b < nbands; b++) d->start[b + 1] += d->start[b];
    int *fill = calloc((size_t)nbands, sizeof *fill);
    if (!fill) {
        free(map), free(sat), free(band);
        cs_density_bands_free(d);
        return cs_fail(err, CS_ENOMEM, "out of memory for the density bands of an image");
    }
    for (int i = 0; i < cols * rows; i++) /* positions sorted by band, in raster order within */
        d->pos[d->start[band[i]] + fill[band[i]]++] = i;
    d->cols = cols;
    for (int b = 0; b < nbands; b++) /* at least one: nbands <= CS_DENSITY_BANDS_MAX */
        d->drawn += d->start[b + 1] - d->start[b] >= MIN_BAND_SHARE * cols * rows;
    free(fill), free(map), free(sat), free(band);
    return CS_OK;
}

void cs_density_bands_free(cs_density_bands *d) {
    free(d->pos);
    free(d->start);
    memset(d, 0, sizeof *d);
}

void cs_density_draw(const cs_density_bands *d, cs_rng *rng, float *cx, float *cy) {
    const int B = CS_DENSITY_BLOCK;
    int pick = cs_rng_below(rng, d->drawn), b = 0;
    for (;; b++) /* the pick-th band drawn from */
        if (d->start[b + 1] - d->start[b] >= MIN_BAND_SHARE * d->start[d->nbands] && pick-- == 0) break;
    int i = d->pos[d->start[b] + cs_rng_below(rng, d->start[b + 1] - d->start[b])];
    /* Anywhere in the position's block, where a whole tile still fits. */
    float x = (float)(i % d->cols * B) + cs_rng_uniform(rng) * B;
    float y = (float)(i / d->cols * B) + cs_rng_uniform(rng) * B;
    *cx = 0.5f * d->tile + fminf(x, (float)d->maxx);
    *cy = 0.5f * d->tile + fminf(y, (float)d->maxy);
}
