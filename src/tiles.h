/* tiles.h: an image's grid of tiles, their standardization and the
   training crops (internal: cs_classify and cs_train tile images). */
#ifndef CS_TILES_H
#define CS_TILES_H

#include "cellsight.h"
#include "net.h"

/* Non-overlapping tiles from the top-left corner of the image less its bottom
   crop_bottom rows; partial tiles at the right and bottom are dropped. */
void cs_tile_grid(int w, int h, int crop_bottom, int tile, int *cols, int *rows);

/* Copies the tile whose top-left pixel is (x, y) into dst as gray / 255 and
   standardizes it. Returns 1 if the tile is background (almost no structure),
   judged before standardization. */
int cs_tile_read(float *dst, const cs_image *im, int x, int y, int tile);

/* In place: (x - mean) / max(std, CS_STD_FLOOR), std the population std. */
void cs_standardize(float *t, int n);

/* 1 if a tile of gray / 255 values shows almost no structure. */
int cs_is_background(const float *t, int tile);

/* One of the 8 flips and 90-degree rotations of a square tile (k = 0..7, 0 = as
   is): bit 0 flips left-right, bit 1 top-bottom, bit 2 then swaps rows and
   columns. dst and src must not overlap. */
void cs_tile_dihedral(float *dst, const float *src, int tile, int k);

/* A standardized training tile centred at (cx, cy) of the image less its bottom
   crop_bottom rows, transformed as aug says (bilinear, borders repeat the edge
   pixel as Keras's fill_mode "nearest"). Pixel (x, y) covers [x, x + 1) x
   [y, y + 1), so the grid tile at (x, y) is centred at (x + tile/2, y + tile/2)
   and, with aug NULL (a plain crop; rng unused), sampled there equals
   cs_tile_read's. */
void cs_tile_sample(float *dst, const cs_image *im, int crop_bottom, float cx, float cy,
                    int tile, const cs_augment *aug, cs_rng *rng);

/* Training crops drawn evenly over bands of cell density (density.c): a tile's
   density is the share of its CS_DENSITY_BLOCK-pixel blocks that show cells;
   nbands equal bands of [0, 1], and each crop draws one of the image's bands
   (those holding at least 2% of its tile positions) at random, then a position
   in it. */
#define CS_DENSITY_BLOCK 16
typedef struct {
    int nbands, drawn;  /* bands, and how many of them are drawn from */
    int *start;         /* [nbands + 1]: band b's positions are pos[start[b] .. start[b + 1]) */
    int *pos;           /* block-aligned tile positions (row * cols + col), by band */
    int cols, tile, maxx, maxy; /* positions a row; the tile; the largest top-left corner */
} cs_density_bands;

cs_status cs_density_bands_init(cs_density_bands *d, const cs_image *im, int crop_bottom, int tile,
                                int nbands, cs_error *err);
void cs_density_bands_free(cs_density_bands *d);
/* A crop centre, as cs_tile_sample takes it. */
void cs_density_draw(const cs_density_bands *d, cs_rng *rng, float *cx, float *cy);

#endif
