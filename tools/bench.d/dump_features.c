/* dump_features.c: the pooled features (GAP's output) of each image's
   foreground tiles, as the model classifies them (view 0), for trying heads
   outside the library (tools/head_probe.py). Not a test: a file for a script.

   Usage: dump_features MODEL OUT.bin IMAGE...
   OUT.bin: per image, in the order given, int32 D, int32 n, then n x D
   float32 (little-endian, as this machine writes them). */
#include <stdio.h>
#include <stdlib.h>

#include "internal.h"

int main(int argc, char **argv) {
    if (argc < 4) return fprintf(stderr, "usage: dump_features MODEL OUT.bin IMAGE...\n"), 2;
    cs_model m;
    cs_error e;
    if (cs_model_load(&m, argv[1], &e)) return fprintf(stderr, "%s\n", e.msg), 1;
    m.ood.kind = CS_OOD_KIND_MAHALANOBIS; /* the score whose features are the pooled ones */
    int D;
    cs_ood_layer(&m, &D);
    FILE *out = fopen(argv[2], "wb");
    if (!out) return fprintf(stderr, "dump_features: cannot write %s\n", argv[2]), 1;
    for (int a = 3; a < argc; a++) {
        cs_image im;
        cs_result res;
        float *f;
        if (cs_image_load(&im, argv[a], &e) || cs_classify_features(&m, &im, -1, &res, &f, &e))
            return fprintf(stderr, "%s\n", e.msg), 1;
        int n = 0;
        for (int t = 0; t < res.ntiles; t++) n += cs_tile_votes(&res, t);
        int head[2] = {D, n};
        fwrite(head, sizeof head, 1, out);
        for (int t = 0; t < res.ntiles; t++)
            if (cs_tile_votes(&res, t)) fwrite(f + (size_t)t * D, sizeof(float), D, out);
        fprintf(stderr, "%s: %d tiles of %d features\n", argv[a], n, D);
        free(f);
        cs_result_free(&res);
        cs_image_free(&im);
    }
    return fclose(out) ? 1 : 0;
}
