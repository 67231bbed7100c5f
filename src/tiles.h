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

#endif
