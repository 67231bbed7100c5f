/* big_image.c SRC SIDE OUT.jpg: writes a SIDE x SIDE JPEG (quality 90: YCbCr 4:2:0) of
   SRC repeated, every other copy mirrored so that no seam looks like an edge:
   a stitched scan, as tools/bench_memory needs. */
#include <stdio.h>
#include <stdlib.h>

#define STB_IMAGE_IMPLEMENTATION
#include "stb_image.h"
#define STB_IMAGE_WRITE_IMPLEMENTATION
#include "stb_image_write.h"

/* Index i of a row of n pixels, repeated forwards then backwards. */
static int mirror(long i, int n) {
    long k = i % (2L * n);
    return (int)(k < n ? k : 2L * n - 1 - k);
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: big_image SRC SIDE OUT.jpg\n");
        return 2;
    }
    int w, h, n, side = atoi(argv[2]);
    unsigned char *src = stbi_load(argv[1], &w, &h, &n, 1);
    unsigned char *out = malloc((size_t)side * side);
    if (!src || !out || side <= 0) {
        fprintf(stderr, "big_image: cannot read %s or make %s x %s pixels\n", argv[1], argv[2], argv[2]);
        return 1;
    }
    for (long y = 0; y < side; y++)
        for (long x = 0; x < side; x++)
            out[y * side + x] = src[mirror(y, h) * w + mirror(x, w)];
    if (!stbi_write_jpg(argv[3], side, side, 1, out, 90)) {
        fprintf(stderr, "big_image: cannot write %s\n", argv[3]);
        return 1;
    }
    return 0;
}
