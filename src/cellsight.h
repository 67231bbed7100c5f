/* cellsight.h: ScaffoldNet cell-line classification of brightfield images
   (Akogo & Palmer 2019), the one public header of the C core: models, images,
   classification, data sets, training, fine-tuning, evaluation and reports.

   Usage: classify an image (build with the library, link -lm -pthread).

       #include <stdio.h>
       #include "cellsight.h"

       int main(int argc, char **argv) {
           cs_model m;
           cs_image im = {0};
           cs_result res;
           cs_error e;
           if (argc != 3 || cs_model_load(&m, argv[1], &e)) return 1;
           int ok = !cs_image_load(&im, argv[2], &e) && !cs_classify(&m, &im, -1, &res, NULL, NULL, &e);
           if (ok) {
               printf("%s %.3f\n", m.classes[res.predicted], res.confidence);
               cs_result_free(&res);
           } else {
               fprintf(stderr, "%s\n", e.msg);
           }
           cs_image_free(&im);
           cs_model_free(&m);
           return !ok;
       }

   Conventions
   - Every call that can fail returns a cs_status and fills a cs_error (which may
     be NULL) with a one-sentence message. The library never exits or aborts.
   - Images are 8-bit grayscale. Tiles are tile x tile floats, row-major.
   - Activations are channels-last: [B][H][W][C]. Parameters are stored in
     PyTorch's layout (conv [out][in][3][3], dense [out][in]), so that the model
     file is a plain copy of them. */
#ifndef CELLSIGHT_H
#define CELLSIGHT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define CS_VERSION "0.1.0"
#define CS_TILE 128
#define CS_PAPER_ARCH "conv32,conv32,conv64,gap,drop0.5,dense32,drop0.5,dense"
#define CS_MAX_LAYERS 32
#define CS_MAX_CLASSES 1000
#define CS_MAX_CLASS_NAME 127                       /* bytes, per class name, at most */
#define CS_MODEL_HASH_DIGITS 12                     /* hex digits of a model file's SHA-256 */
#define CS_MAX_IMAGE_PIXELS (400LL * 1000 * 1000)    /* e.g. 20000 x 20000 */
#define CS_MAX_IMAGE_SIDE 65535
#define CS_MAX_IMAGE_BYTES (1024LL * 1024 * 1024)
#define CS_MAX_DECODE_BYTES (2048LL * 1024 * 1024)  /* all a decoder holds at once */
#define CS_MAX_PAGES 10000                           /* pages (IFDs) of a TIFF */
#define CS_MAX_MODEL_BYTES (256LL * 1024 * 1024)
#define CS_MAX_META_BYTES (1024 * 1024)              /* the JSON header */
#define CS_STD_FLOOR 1e-3f                           /* standardization: x / max(std, floor) */

/* ---------------------------------------------------------------- errors */

typedef enum {
    CS_OK = 0,
    CS_EINPUT = 1,   /* bad input: image, model file, argument, data folder */
    CS_ENOMEM = 2,   /* out of memory */
    CS_EIO = 3,      /* cannot read or write a file */
    CS_ELIMIT = 4,   /* over a documented limit (pixels, bytes, classes) */
    CS_ECANCEL = 5   /* cancelled by the caller's progress callback */
} cs_status;

typedef struct {
    cs_status code;
    char msg[512];
} cs_error;

/* Sets err (if not NULL) and returns code. */
cs_status cs_fail(cs_error *err, cs_status code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* bytes as people read a file's size: "300 MiB", "256.1 MiB" (tenths rounded up,
   so that a size over a limit never reads as the limit), as every message of
   the library gives one. Returns buf. */
const char *cs_mib(char *buf, size_t size, long long bytes);

/* ---------------------------------------------------------------- threads */

/* Worker threads used by the convolutions (natively and in the pthread WASM
   build; 1 elsewhere). n <= 0 means every core. Results do not depend on it
   beyond float rounding. */
void cs_set_threads(int n);
int cs_threads(void);

/* ---------------------------------------------------------------- images */

typedef struct {
    int w, h;
    uint8_t *gray;         /* w * h bytes, row-major */
    float um_x, um_y;      /* the physical size of a pixel in micrometres, as the
                              file states it; 0 when it does not */
    const char *um_source; /* where it was read: one of CS_UM_*, or NULL */
} cs_image;

/* Pixel size. Decoders read it where a file states it, in this order:
   OME-XML PhysicalSizeX/Y (with their units), ImageJ's ImageDescription
   (unit=micron, nm, mm, ... over the resolution tags), TIFF X/YResolution in
   pixels per inch or centimetre, and PNG pHYs (pixels per metre). A size
   outside [CS_MIN_UM_PER_PX, CS_MAX_UM_PER_PX] is not a microscope's (image
   editors write 72, 96 or 300 dpi: 353, 265, 85 um) and counts as not stated.
   See docs/images.md. */
#define CS_UM_OME "OME-XML"
#define CS_UM_IMAGEJ "ImageJ"
#define CS_UM_TIFF "TIFF resolution"
#define CS_UM_PNG "PNG pHYs"
#define CS_UM_GIVEN "given"            /* by the user, cs_image_assume_pixel_size */
#define CS_MIN_UM_PER_PX 0.02
#define CS_MAX_UM_PER_PX 20.0
/* Images whose pixel size differs from a model's by more than this share are
   resampled to the model's before tiling. */
#define CS_RESCALE_TOLERANCE 0.05

/* JPEG, PNG, BMP, PGM/PPM, TGA, GIF (first frame) via stb_image, and TIFF
   (first page) via libtiff; colour is turned to gray as stb does
   ((77 r + 150 g + 29 b) >> 8). The size is checked from the header against
   the limits before decoding.
   16-bit and float samples (TIFF, and 16-bit PNG and PGM) keep the top 8 bits
   of their own range: v >> (b - 8), b the fewest even bits (8, 10, 12, ...)
   that hold the largest value (a TIFF's SMaxSampleValue when it states it,
   else the largest in the image), as cameras' depths are. So 8-bit data, the
   same x257 in 16 bits and 12-bit data in 16 bits give the same gray. Floats
   all within [0, 1] become round(255 v); other floats take the 16-bit rule on
   their integer part. Negative values and NaN are black; min-is-white images
   are inverted. See docs/images.md. */
cs_status cs_image_decode(cs_image *im, const void *data, size_t size, cs_error *err);
/* As cs_image_decode, of page `page` (0: the first) of a multi-page TIFF;
   other formats have one page. *pages, if not NULL, gets the file's pages. */
cs_status cs_image_decode_page(cs_image *im, const void *data, size_t size, int page, int *pages,
                               cs_error *err);
/* An image file's bytes (malloc'ed into *data), its size within
   CS_MAX_IMAGE_BYTES; errors name the path. */
cs_status cs_image_read_file(const char *path, uint8_t **data, size_t *size, cs_error *err);
/* The limits every image meets, with the one message the CLI and the page
   give: a file of `bytes` (< 0: not known) against CS_MAX_IMAGE_BYTES, and
   w x h (<= 0: not known) against CS_MAX_IMAGE_SIDE and CS_MAX_IMAGE_PIXELS.
   cs_image_info checks them from the header; the page's worker before it
   reads a file and before the browser decodes what stb cannot. */
cs_status cs_image_check(long long bytes, int w, int h, cs_error *err);
cs_status cs_image_load(cs_image *im, const char *path, cs_error *err);
/* 1 if a file's name says it is an image: the formats cs_image_decode reads
   and those it names in its error (TIFF, WebP, HEIC/HEIF, AVIF), by extension
   in any case; never a hidden file (a leading '.', e.g. macOS's "._x.jpg").
   The one rule for files met in a folder: a file it refuses is skipped (a note,
   not an error), one it accepts that does not decode is bad input. */
int cs_image_name(const char *name);
/* For an image whose file states no pixel size: um (micrometres a pixel,
   within the limits above) with source CS_UM_GIVEN. A stated size is kept;
   um = 0 changes nothing. */
cs_status cs_image_assume_pixel_size(cs_image *im, double um, cs_error *err);
/* A pixel size or scale as cellsight's CSVs write it: "%.4g" of x, "XxY" when
   y differs, "" when x is not positive (not known). */
void cs_format_xy(char *buf, size_t size, float x, float y);
/* Canvas pixels (RGBA, w * h * 4 bytes), same gray formula. */
cs_status cs_image_from_rgba(cs_image *im, const uint8_t *rgba, int w, int h, cs_error *err);
void cs_image_free(cs_image *im);

/* ---------------------------------------------------------------- augmentation */

/* What training does to each crop at random (cs_train_opts.aug). */
typedef struct {
    int hflip;        /* random horizontal flip (the paper) */
    int dihedral;     /* random one of the 8 flips/rotations (a microscope has no "up") */
    float rotate_deg; /* uniform rotation in [-r, r] (the paper: 5) */
    float shift;      /* uniform shift in [-s, s] of the tile side (the paper: 0.1) */
    float zoom;       /* uniform scale in [1 - z, 1 + z] (the paper: 0.1) */
    float blur;       /* Gaussian blur of sigma uniform in [0, b] pixels: focus varies */
    float gamma;      /* gray levels (0..1) raised to a power in [1/(1+g), 1+g]: so
                         do exposure and the medium's contrast */
    float lowres;     /* the crop as a camera of pixels 1 to 1 + r times coarser sees
                         it (area averages), brought back as cs_classify brings such
                         images (Catmull-Rom): another objective's resolution */
    float lowres_share; /* the share of crops that get lowres, in (0, 1]; 0 (unset)
                           is 1: every crop. A share keeps sharp crops in training */
} cs_augment;

/* ---------------------------------------------------------------- network */

/* The network a model holds (its functions: src/net.h). */
#define CS_MAX_TILE 1024    /* tile side */
#define CS_MAX_WIDTH 4096   /* channels of a conv layer, units of a dense layer */

typedef enum { CS_CONV, CS_POOL, CS_GAP, CS_DROPOUT, CS_DENSE, CS_FGAP } cs_kind;

typedef struct {
    cs_kind kind;
    char name[16];     /* "conv1", "fc2", ...: tensor names are name.weight, name.bias */
    int relu;          /* conv and hidden dense layers */
    float p;           /* dropout rate */
    int h, w, c;       /* input shape of one tile (dense: 1 x 1 x c) */
    int oh, ow, oc;    /* output shape of one tile */
    size_t nweight, nbias;
    float *weight, *bias;   /* into net->params: conv [oc][c][3][3], dense [oc][c] */
    float *dweight, *dbias; /* into net->grads, same shapes */
} cs_layer;

typedef struct {
    char arch[256];    /* e.g. CS_PAPER_ARCH */
    int tile;          /* input side */
    int nclasses;      /* K >= 2 */
    int nout;          /* output units: 1 (sigmoid) for K = 2, else K (softmax) */
    int nlayers;
    cs_layer layers[CS_MAX_LAYERS];
    size_t nparams;
    float *params, *grads; /* one allocation each, layers in order, weight then bias */
} cs_net;

/* ---------------------------------------------------------------- models */

typedef struct {
    char *key, *value;
} cs_meta;

/* What tells an image of none of the model's classes (ood.c): a tile's score
   (mahalanobis: from the class means of the features GAP pools and the inverse
   of their shared covariance, from the training tiles; msp: 1 - the tile's top
   probability; knn_penultimate: the distance of its normalised penultimate
   features to the k-th nearest of a bank of training tiles';
   mahalanobis_penultimate: mahalanobis on the penultimate features, the last
   dense layer's input; knn_class_penultimate: knn_penultimate's distance to
   the bank tiles of the class the image is called only; trust_penultimate:
   that distance over the same to the nearest other class's bank tiles;
   image_class_penultimate: an image's mean normalised penultimate features,
   normalised, to the nearest of the training images' of the class it is
   called, the bank holding one row an image), and the image
   score above which an image is unknown. Which score is a model's choice, made
   by measurement (model cards). */
typedef enum {
    CS_OOD_KIND_MAHALANOBIS,
    CS_OOD_KIND_MSP,
    CS_OOD_KIND_KNN,
    CS_OOD_KIND_MAHALANOBIS_PENULTIMATE,
    CS_OOD_KIND_KNN_CLASS,
    CS_OOD_KIND_TRUST,
    CS_OOD_KIND_IMAGE_CLASS,
    CS_OOD_KINDS
} cs_ood_kind;
#define CS_OOD_SMALL_MAX 8 /* entries of ood_thresholds_by_tiles */
typedef struct {
    int dim;            /* features a tile: GAP's channels (penultimate ones for
                           mahalanobis_penultimate); 0: no statistics */
    float *means;       /* [nclasses][dim]: tensor ood.means */
    float *precision;   /* [dim][dim]: tensor ood.precision */
    int nbank, bank_dim; /* tiles (images for image_class_penultimate) in the bank,
                           penultimate features a row; 0: no bank */
    float *bank;        /* [nbank][bank_dim], each row of length 1: tensor ood.bank */
    float *bank_class;  /* [nbank] the scores by class: each bank row's class index
                           (float32, as the file holds it: tensor ood.bank_class); else NULL */
    int k;              /* metadata ood_k: the neighbour whose distance is the score */
    float threshold;    /* metadata ood_threshold; NaN: none (no verdict) */
    int kind;           /* a cs_ood_kind: metadata ood_score */
    int nsmall;         /* metadata ood_thresholds_by_tiles, the score by image's
                           thresholds for images of few voting tiles, fewer to more:
                           small_tiles[i] tiles, small_threshold[i]; the last entry is
                           the validation images' own count (ood_threshold's). 0: none */
    int small_tiles[CS_OOD_SMALL_MAX];
    float small_threshold[CS_OOD_SMALL_MAX];
} cs_ood;

typedef struct {
    cs_net net;
    char **classes;    /* net.nclasses names, output order */
    int crop_bottom;   /* rows cropped off the bottom before tiling (overlay strip) */
    float threshold;   /* two classes: class 1 when p1 >= threshold (default 0.5) */
    int tta;           /* average the 8 flips/rotations of each tile (default 0) */
    float um_per_px;   /* the pixel size it was trained at, in micrometres; 0: not known */
    float temperature; /* tile probabilities p become softmax(log p / temperature) (1: as is) */
    cs_ood ood;        /* out-of-distribution statistics; ood.dim 0: none */
    int no_rescale;    /* set by callers: classify images at their own scale,
                          whatever their pixel size (default 0: resample) */
    char hash[CS_MODEL_HASH_DIGITS + 1]; /* the file it was read from: the first hex
                          digits of its SHA-256, as `sha256sum` prints them (the
                          CSVs' model_hash); "" for a model made in memory */
    int nmeta;
    cs_meta *meta;     /* every __metadata__ entry, kept in step with the fields above */
} cs_model;

/* Metadata keys with a meaning (every value is a string):
     arch         the layers (CS_PAPER_ARCH when absent)
     classes      the class names in output order, comma-separated (class0,... when absent)
     tile         the tile side in pixels (CS_TILE when absent)
     crop_bottom  rows cropped off the bottom of every image (0 when absent)
     threshold    two classes: class 1 when p1 >= it, 0 to 1 (0.5 when absent)
     tta          "dihedral8": average the 8 flips/rotations of each tile; "none"
     um_per_px    the pixel size of its training images in micrometres: images of
                  another known size are resampled to it (absent: never)
     temperature  calibration: each tile's probabilities p become softmax(log p / T),
                  T fitted on the validation tiles by training (1 when absent);
                  threshold applies to the calibrated probabilities
     refit_epochs the weights trained again on every image for this many epochs after
                  the validated run (cs_recipe.refit), whose temperature, ood_threshold
                  and val_* figures these are
     ood_score    how a tile's out-of-distribution score is computed: "mahalanobis",
                  from tensors ood.means and ood.precision (absent: no score),
                  "msp", 1 - its top probability (no tensors), "knn_penultimate",
                  from tensor ood.bank (absent: no score), "mahalanobis_penultimate",
                  as mahalanobis on the penultimate features (the last dense layer's
                  input), "knn_class_penultimate", knn_penultimate to the bank
                  tiles of the class the image is called (tensors ood.bank and
                  ood.bank_class), "trust_penultimate", that distance over the
                  same to the nearest other class's (the inverse of Jiang et al.'s
                  trust score, NeurIPS 2018; the same tensors), or
                  "image_class_penultimate", the image's mean features to the
                  nearest training image's of the class it is called (the same
                  tensors, a row an image; a tile scores its own distance to them)
     ood_k        the bank's tile scores: which nearest bank tile's distance is the score
                  (1 to the bank's tiles; CS_OOD_K when absent; image_class_penultimate:
                  the nearest image, always)
     ood_threshold  an image whose score (mean over its voting tiles) is above it is
                  of none of the model's classes; "none": no verdict
     ood_frr      the share of validation images above ood_threshold it was set at
     standardize  what is done to a tile before the network, for people to read
     role         "base": made to be fine-tuned from (cellsight finetune's and the
                  page's default start); "classifier" (also when absent): a model
                  to classify with. A fine-tune of a base is a classifier.
   Every model holds the first four and standardize; any other key is kept as is.
   Tensors are named as PyTorch names a module's parameters: conv1.weight
   [32,1,3,3], conv1.bias, ..., fc2.weight [K or 1, 32], fc2.bias, convN and fcN
   numbered in the order of the arch. */

/* Metadata keys and values spelled in more than one place. */
#define CS_META_CLASSES "classes"
#define CS_META_CROP_BOTTOM "crop_bottom"
#define CS_META_THRESHOLD "threshold"
#define CS_META_TTA "tta"
#define CS_META_UM_PER_PX "um_per_px"
#define CS_META_TEMPERATURE "temperature"
#define CS_META_VAL_ECE "val_ece"                 /* the validation tiles' ECE at it */
#define CS_META_VAL_ECE_UNCALIBRATED "val_ece_uncalibrated" /* and at 1 */
#define CS_META_OOD_SCORE "ood_score"         /* how tiles are scored: mahalanobis, msp, knn_penultimate, mahalanobis_penultimate, knn_class_penultimate, trust_penultimate or image_class_penultimate */
#define CS_META_OOD_THRESHOLD "ood_threshold" /* images above are unknown; "none" */
#define CS_META_OOD_FRR "ood_frr"             /* the validation images' share above it */
#define CS_META_OOD_K "ood_k"                 /* knn_penultimate's neighbour */
#define CS_META_OOD_THRESHOLDS_BY_TILES "ood_thresholds_by_tiles" /* "1:0.61,2:0.48,...,22:0.26": the
                                                 score by image's threshold for an image of
                                                 that many voting tiles (fewer: higher) */
#define CS_META_ROLE "role"
#define CS_ROLE_BASE "base"
#define CS_ROLE_CLASSIFIER "classifier"
#define CS_OOD_MAHALANOBIS "mahalanobis"
#define CS_OOD_MSP "msp"
#define CS_OOD_KNN "knn_penultimate"
#define CS_OOD_MAHALANOBIS_PENULTIMATE "mahalanobis_penultimate"
#define CS_OOD_KNN_CLASS "knn_class_penultimate"
#define CS_OOD_TRUST "trust_penultimate"
#define CS_OOD_IMAGE_CLASS "image_class_penultimate"
#define CS_OOD_MEANS "ood.means"               /* the statistics' tensors */
#define CS_OOD_PRECISION "ood.precision"
#define CS_OOD_BANK "ood.bank"                 /* knn_penultimate's training tiles */
#define CS_OOD_BANK_CLASS "ood.bank_class"     /* the scores by class: the rows' classes */
#define CS_OOD_K 10                           /* ood_k's default: the k the leave-lines-out report measured */
#define CS_MAX_OOD_K 1000
/* The most tiles a bank keeps, evenly spaced over the training tiles: a bank
   of 128 features a tile costs 512 bytes a tile in the file the page caches. */
#define CS_OOD_BANK_CAP 2048
#define CS_MAX_OOD_BANK (1 << 20)              /* the most a file may hold */
#define CS_OOD_FRR 0.05                       /* the default */
#define CS_MAX_OOD_DIM 1024                   /* GAP's channels, the most statistics are kept for */
#define CS_MIN_TEMPERATURE 0.05  /* the range a fitted or stated temperature lies in */
#define CS_MAX_TEMPERATURE 20.0
#define CS_TTA_DIHEDRAL8 "dihedral8"
#define CS_TTA_NONE "none"
/* Written by training (cs_train, cs_fit) and read back by cs_recipe_from_model. */
#define CS_META_PROTOCOL "protocol"
#define CS_META_BASE_MODEL "base_model"
#define CS_META_VAL_SPLIT "val_split"     /* "images 2/2" or "rows 2/2" */
#define CS_META_REFIT_EPOCHS "refit_epochs" /* cs_recipe.refit: the epochs on every image */
#define CS_SPLIT_IMAGES "images"
#define CS_SPLIT_ROWS "rows"
#define CS_AUGMENT_DIHEDRAL8 "dihedral8"  /* in metadata augment, e.g. "dihedral8,rotate5" */
#define CS_AUGMENT_HFLIP "hflip"
#define CS_AUGMENT_NONE "none"
#define CS_SCHEDULE_COSINE "cosine"       /* lr_schedule "cosine to 1e-05" */
#define CS_SCHEDULE_CONSTANT "constant"

/* A fresh model with Glorot weights from seed; classes may be NULL (class0, ...). */
cs_status cs_model_init(cs_model *m, const char *arch, int tile, int nclasses,
                        const char *const *classes, uint64_t seed, cs_error *err);
void cs_model_free(cs_model *m);
/* safetensors: 8-byte little-endian header length, JSON header, float32 data.
   Every shape, dtype and offset is checked, and the weights must be finite; a
   file of tensors only (PyTorch's save_file) loads too, its class count taken
   from the output layer (1 row: two classes). On failure m is zeroed. */
cs_status cs_model_read(cs_model *m, const void *data, size_t size, cs_error *err);
/* A model file of `bytes` against CS_MAX_MODEL_BYTES, with the message
   cs_model_read gives: the page checks a file's size before it reads it. */
cs_status cs_model_check(long long bytes, cs_error *err);
cs_status cs_model_load(cs_model *m, const char *path, cs_error *err);
/* Returns malloc'd bytes of the file. */
cs_status cs_model_write(const cs_model *m, uint8_t **data, size_t *size, cs_error *err);
/* Writes path.tmp and renames it, so a failed save never leaves half a file. */
cs_status cs_model_save(const cs_model *m, const char *path, cs_error *err);
const char *cs_model_get(const cs_model *m, const char *key); /* NULL if absent */
/* Adds or replaces an entry. The keys above are checked and fill their fields
   (classes: the names, as many as the network has); arch and tile can only be
   set to what the network already is. Nothing changes on an error. */
cs_status cs_model_set(cs_model *m, const char *key, const char *value, cs_error *err);

/* ---------------------------------------------------------------- classification */

typedef struct {
    int ntiles, nforeground;  /* tiles in the grid, tiles that are not background */
    int cols, rows;
    int *x, *y;               /* top-left pixel of each tile, in the cropped image */
    uint8_t *background;      /* 1 if the tile is background */
    float *tile_probs;        /* [ntiles][nclasses] */
    int *tile_class;          /* predicted class of each tile */
    float *probs;             /* [nclasses]: mean over non-background tiles
                                 (over every tile if all are background) */
    int predicted;            /* class of the image */
    float confidence;         /* probs[predicted] */
    float um_x, um_y;         /* the image's pixel size (0: not known) */
    const char *um_source;    /* and where it came from (CS_UM_*), or NULL */
    float scale_x, scale_y;   /* model pixels per image pixel it was classified at:
                                 1 unless resampled. x, y above are in the image's
                                 own pixels; a tile covers tile / scale of them */
    float *tile_ood;          /* [ntiles]: each tile's out-of-distribution score
                                 (NULL: the model has no statistics) */
    float ood_score;          /* the mean over the tiles that vote; NaN: none */
    int known;                /* 1: of the model's classes; 0: of none (ood_score
                                 above ood_threshold); -1: no verdict */
} cs_result;

/* Called after each batch of tiles; a nonzero return cancels (CS_ECANCEL). */
typedef int (*cs_progress_fn)(void *ctx, int done, int total);

/* Tiles, standardizes and classifies a whole image. crop_bottom < 0 takes the
   model's. The crop is of the image's own rows; if the image's pixel size and
   the model's are known and differ by more than CS_RESCALE_TOLERANCE (and not
   m->no_rescale), the rest is resampled to the model's pixel size before
   tiling: averaging areas where it shrinks, Catmull-Rom where it grows. The tiles go through the network a few at a time, so memory does
   not grow with the image. On failure res is left empty (nothing to free). */
cs_status cs_classify(const cs_model *m, const cs_image *im, int crop_bottom, cs_result *res,
                      cs_progress_fn progress, void *ctx, cs_error *err);
void cs_result_free(cs_result *res);
/* A result's known as the CSVs write it: "yes", "no", or "" (no verdict). */
const char *cs_known_text(int known);
/* Is the image the line its label says? "consistent": the expected line is
   the predicted class and the image is not unknown; "inconsistent": another
   class wins (an expected line the model does not know is never consistent);
   "unknown": the image looks like none of the model's classes (known 0). */
const char *cs_verdict(const cs_model *m, int predicted, int known, const char *expected);
#define CS_OOD_SCORE_FORMAT "%.4f" /* how the CSVs write a score */
#define CS_VERDICT_CONSISTENT "consistent"
#define CS_VERDICT_INCONSISTENT "inconsistent"
#define CS_VERDICT_UNKNOWN "unknown"
/* ---------------------------------------------------------------- data sets */

typedef struct {
    int n;            /* images */
    cs_image *images;
    int *labels;      /* class index of each image */
    char **names;     /* where each image came from (path or file name) */
} cs_dataset;

/* Takes ownership of im's pixels (im is zeroed). */
cs_status cs_dataset_add(cs_dataset *ds, cs_image *im, int label, const char *name, cs_error *err);
void cs_dataset_free(cs_dataset *ds);
/* dir/<class>/<image files>, the folders named by classes [nclasses] in that
   order; hidden entries are passed over. Files that are images by their name
   (cs_image_name) but do not decode are skipped and named in *bad with the
   reason (a malloc'd newline-separated list, or NULL). *skipped likewise lists
   the subfolders of dir not among classes ("C"), then the files of the class
   folders that are not images by their name ("A/notes.txt"). Either pointer
   may be NULL. Native and WASI only. */
cs_status cs_dataset_load(cs_dataset *ds, const char *dir, const char *const *classes,
                          int nclasses, char **skipped, char **bad, cs_error *err);
/* ---------------------------------------------------------------- training */

typedef struct {
    int epoch, epochs;     /* 1-based epoch just finished, of how many at most;
                              0 while head mode computes its features */
    int step, steps;       /* batches done in this epoch, of how many */
    float train_loss, train_acc;
    float val_loss, val_acc; /* NaN when there is no validation data */
    float lr;
    int best;              /* 1 if this epoch's weights are the ones kept so far */
    double seconds, eta;   /* elapsed and estimated remaining time (while head mode
                              computes its features: of that part) */
    int refit;             /* 1: the refit's run on every image (cs_recipe.refit), after
                              the validated one */
    int calibrating;       /* 1 after the epochs, with TTA: the kept weights score the
                              validation tiles in their 8 symmetries, as the model will
                              predict, for the temperature and threshold */
} cs_train_status;

/* Called after every batch (epoch figures filled at the epoch's last step);
   a nonzero return cancels the run, leaving the model as it was. */
typedef int (*cs_train_progress_fn)(void *ctx, const cs_train_status *st);

#define CS_DENSITY_BANDS_MAX 10

typedef struct {
    char protocol[16];     /* "paper", "ours", "head" or "full": cs_train_defaults's */
    int epochs;
    int batch;
    int crops_per_image;   /* random crops per training image per epoch; 0: each
                              epoch visits the image's grid of tiles once (the paper) */
    int density_bands;     /* 1..CS_DENSITY_BANDS_MAX: each image's random crops drawn
                              evenly over this many equal bands of local cell density (the
                              share of a crop's 16-pixel blocks showing cells), over the
                              bands the image has; 0: uniform over the image */
    int patience;          /* stop after this many epochs without a lower validation loss (0: never) */
    float lr, lr_final;    /* learning rate; cosine decay to lr_final when cosine */
    int cosine;
    cs_augment aug;
    int balance;           /* weight the loss by inverse class frequency */
    float label_smoothing; /* 0..<1: the loss's targets (1 - e) one-hot + e / K, so that
                              no class is pushed to probability 1 (0: none) */
    int tta;               /* recorded in the model: predict with the 8 symmetries */
    int auto_threshold;    /* two classes: threshold of the best balanced accuracy on
                              the validation tiles (else 0.5), recorded as `threshold` */
    int head_only;         /* fine-tuning head mode: the features of layer cs_net_head
                              are computed once for a fixed set of training crops, each
                              in the symmetries aug allows (8 with dihedral, 2 with
                              hflip: that many times the cost), and only the layers
                              from there on train */
    const char *base_model; /* fine-tuning: the model started from (recorded with the
                              mode); NULL for a new model */
    uint64_t seed;
    int crop_bottom;       /* rows cropped off every image; -1: the model's */
    struct cs_metrics *val_tiles; /* if not NULL (cs_metrics_init'ed with the model's class
                              count): gets the kept epoch's validation tiles, their
                              probabilities and argmax, the figures of val_tile_accuracy
                              (a confusion matrix without scoring them again) */
    cs_train_progress_fn progress;
    void *ctx;
} cs_train_opts;

/* protocol: "paper" (Akogo & Palmer exactly), "ours" (what we train with),
   "head" or "full" (fine-tuning a loaded model); anything else is "ours". */
void cs_train_defaults(cs_train_opts *o, const char *protocol);
/* Trains m (already initialised or loaded) on train, validating on val (the
   foreground grid tiles of whole held-out images; val may be empty, and then the
   last epoch is kept), and leaves in m the weights of the lowest validation loss,
   with the run recorded in m's metadata. Deterministic for a seed and thread
   count. On an error or a cancel, m is left exactly as it was. */
cs_status cs_train(cs_model *m, const cs_dataset *train, const cs_dataset *val,
                   const cs_train_opts *o, cs_error *err);

/* A run as a recipe: the cs_train options, how validation images are split
   off the data, and a threshold to impose. */
typedef void (*cs_split_fn)(void *ctx, const cs_dataset *train, const cs_dataset *val);
typedef struct {
    cs_train_opts train;
    int val_folds;      /* validate on part val_fold (0-based) of val_folds (cs_dataset_split,
                           or cs_dataset_split_rows with val_rows); 0: no validation, the
                           last epoch kept */
    int val_fold;
    int val_rows;
    int record_split;   /* record the split as metadata val_split, which
                           cs_recipe_from_model reads back */
    double threshold;   /* NaN: as train.auto_threshold says; else recorded as `threshold` */
    cs_split_fn on_split; /* if not NULL: given the split (and train.ctx) before training */
    int refit;          /* after the validated run, the weights it started from train again on
                           every image for train.epochs, without validation, threshold 0.5;
                           the validated run's calibration and figures are kept, its open-set
                           threshold rule applied to the new weights (metadata refit_epochs;
                           val_split is not recorded: every image trained). Head mode's
                           default: one image a class then trains on all of it, not half
                           (docs/transfer.md measures it) */
} cs_recipe;

/* cs_train_defaults for the protocol, validation on the last of 2 parts, no
   imposed threshold, refit in head mode. */
void cs_recipe_defaults(cs_recipe *r, const char *protocol);
/* "Train as recorded": overlays on r the options m's metadata records (epochs,
   batch, lr, augment, seed, ...; tta and crop_bottom from m; the val_split). */
void cs_recipe_from_model(cs_recipe *r, const cs_model *m);
/* The training options in one line for people ("epochs 8, batch 32, ..."). */
void cs_recipe_describe(char *buf, size_t size, const cs_train_opts *o);
/* Splits data as r says and trains m on it (cs_train), then imposes r's
   threshold. Images train at the model's pixel size: its um_per_px, or for a
   model without one the median of the sizes its images state, recorded as
   um_per_px; images of another known size are resampled to it (cs_classify's
   rule) in the copies it trains on. val, if not NULL, gets the validation images (free it). */
cs_status cs_fit(cs_model *m, const cs_dataset *data, const cs_recipe *r, cs_dataset *val,
                 cs_error *err);

/* Fine-tuning to new classes: the output layer is resized to nclasses (names
   may be NULL: class0, ...) and re-initialised (Glorot, from seed); every other
   layer is kept. The threshold goes back to 0.5. */
cs_status cs_model_set_classes(cs_model *m, int nclasses, const char *const *names,
                               uint64_t seed, cs_error *err);
/* 1 if m's classes are names [n], in that order. */
int cs_model_has_classes(const cs_model *m, const char *const *names, int n);
/* Fine-tunes m on data, whose labels index classes [nclasses] (other classes
   than m's, or in another order, give a new output layer, from r->train.seed):
   cs_fit with r, whose train options are usually cs_train_defaults's "head" or
   "full" and whose train.base_model names the base. The result's role is
   classifier (if m had one). On failure m must be thrown away: its classes may
   have changed. */
cs_status cs_finetune(cs_model *m, const cs_dataset *data, int nclasses,
                      const char *const *classes, const cs_recipe *r, cs_dataset *val,
                      cs_error *err);

/* ---------------------------------------------------------------- metrics */

/* Scored samples (tiles or images): each one's class probabilities, true class
   and predicted class. The figures below are computed from them on demand. */
typedef struct cs_metrics {
    int nclasses;
    int n, cap;
    float *probs;       /* [n][nclasses] */
    int *label;         /* true class of each sample */
    int *predicted;     /* predicted class of each sample */
} cs_metrics;

void cs_metrics_init(cs_metrics *mt, int nclasses);
void cs_metrics_free(cs_metrics *mt);
double cs_metrics_accuracy(const cs_metrics *mt);
/* Mean cross-entropy -log p[label], p clamped to 1e-7 as Keras does. */
double cs_metrics_loss(const cs_metrics *mt);
/* confusion [nclasses][nclasses]: row = true class, column = predicted class. */
void cs_metrics_confusion(const cs_metrics *mt, int *confusion);

/* A bin of a reliability diagram: samples whose top probability falls in it,
   their mean top probability and the share whose top class is the true one. */
typedef struct {
    int n;
    double confidence, accuracy;
} cs_calibration_bin;
/* Expected calibration error over nbins equal-width bins of the top
   probability (15 is usual): the bins' |accuracy - confidence|, weighted by
   their share of the samples. bins [nbins] gets the bins if not NULL. */
double cs_metrics_ece(const cs_metrics *mt, int nbins, cs_calibration_bin *bins);
#define CS_ECE_BINS 15

/* An evaluation: tile figures over the non-background tiles of every image,
   image figures over the images, and each image's result. */
typedef struct {
    char *file;
    int label, predicted;
    int tiles;          /* non-background tiles, the ones that voted */
    int fold;           /* cross-validation fold that held it out (0 if none) */
    float *probs;       /* [nclasses] */
    float ood_score;    /* as cs_result's: NaN when the model has no score */
    int known;          /* as cs_result's: 1, 0 (none of the model's classes), -1 no verdict */
} cs_eval_image;

typedef struct {
    int nclasses;
    cs_metrics tiles, images;
    int n, cap;
    cs_eval_image *image;
} cs_eval;

void cs_eval_init(cs_eval *ev, int nclasses);
/* How many of ev's images were told to be of none of the model's classes
   (known 0); -1 when none had a verdict (a model without ood_threshold). */
int cs_eval_unknown(const cs_eval *ev);
void cs_eval_free(cs_eval *ev);
cs_status cs_eval_add(cs_eval *ev, const char *file, int label, int fold, const cs_result *res,
                      cs_error *err);

/* Classifies every image of ds with m (its own crop and tta) into ev, the
   images counted as held out by fold (0: none). progress, if not NULL, is
   called with 0 first, then after each image; a nonzero return cancels. */
cs_status cs_evaluate(const cs_model *m, const cs_dataset *ds, int fold, cs_eval *ev,
                      cs_progress_fn progress, void *ctx, cs_error *err);

/* Fits m's temperature (metadata temperature) on the non-background tiles of
   data, whose labels index m's classes, as cs_evaluate scores them: with
   val_only, only the part of data m validated on (its metadata val_split;
   refused without one), else every image (which m must not have trained on).
   Two classes: the threshold is re-expressed on the new scale, so that every
   tile keeps its class. With val_only, the out-of-distribution statistics
   too, from the part m trained on, and their threshold on the validation part. ece [2], if not NULL, gets the tiles' expected
   calibration error at temperature 1 and at the new one. */
cs_status cs_calibrate(cs_model *m, const cs_dataset *data, int val_only, double ece[2],
                       cs_error *err);

/* Cross-validation by image: as many folds as the rarest class has images
   (two at least); each fold trains a model on the other images and tests it
   on its own. */
typedef struct {
    cs_recipe recipe;     /* each fold's training; with train.base_model set (a
                             fine-tuned model), each fold starts from that file
                             again, else from a fresh model of arch and tile */
    const char *arch;     /* NULL: the paper's */
    int tile;             /* <= 0: m's (recipe.train.crop_bottom < 0: m's too) */
    void (*on_fold)(void *ctx, int fold, int nfolds, const cs_dataset *test); /* fold from 1 */
    cs_progress_fn on_evaluated; /* a fold's test images classified, as cs_evaluate's */
    void *ctx;            /* for on_fold and on_evaluated */
} cs_cv_opts;

/* all's labels index m's classes; m gives the classes and, for fresh models,
   the seed's run (recipe.train.seed). pooled (cs_eval_init'ed for m's classes)
   gets every held-out image; *folds (free each with cs_eval_free, then the
   array) gets each fold's. On failure *folds is NULL and *nfolds 0. */
cs_status cs_cross_validate(const cs_model *m, const cs_dataset *all, const cs_cv_opts *o,
                            cs_eval *pooled, cs_eval **folds, int *nfolds, cs_error *err);

/* ---------------------------------------------------------------- reports */

/* What an evaluation report describes. */
typedef struct {
    const cs_model *model;      /* classes, threshold, crop_bottom, tta */
    const char *model_path;     /* for the record; may be NULL */
    const char *data;           /* the data folder; may be NULL */
    const cs_eval *eval;        /* every image evaluated (pooled over the folds) */
    int nfolds;                 /* image-level cross-validation: 0 if none */
    const cs_eval *folds;       /* [nfolds]: each fold's held-out images */
} cs_report;

/* The figures as one JSON object: the output of `cellsight eval --json`. */
cs_status cs_report_json(FILE *f, const cs_report *r, cs_error *err);
/* The figures for people: summary, per-class table, confusion, each image (and
   each fold) in Markdown. */
cs_status cs_report_markdown(FILE *f, const cs_report *r, cs_error *err);
/* Creates dir and writes eval.json (as above), roc.svg, reliability.svg, confusion.svg and per_class.md
   (the Markdown). */
cs_status cs_report_write(const char *dir, const cs_report *r, cs_error *err);

/* ---------------------------------------------------------------- CSV (csv.c) */

/* A text cell of a CSV (a file or class name; not a number), the one rule for
   every CSV cellsight writes, the CLI's and the page's: OWASP's guidance on CSV
   injection, a ' before a cell that starts with = + - @, a tab, a carriage
   return (or '), so that no spreadsheet takes it for a formula; then RFC 4180,
   quoted (quotes doubled) if it holds , ; " a tab or a line break. */
void cs_csv_field(FILE *f, const char *s);
/* The text a field cs_csv_field wrote holds, once unquoted: its ' dropped. */
const char *cs_csv_text(const char *field);

/* ---------------------------------------------------------------- expected lines (expect.c) */

/* The line each image should be, for its verdict (cs_verdict), from an
   expected-lines CSV: predict --expect-csv's file, the page's "Expected lines
   CSV". Its header row names the columns file and expected (others are passed
   over); each row after it an image and its line. Whatever a spreadsheet
   writes is read: a UTF-8 byte-order mark, \r\n or \r line ends, RFC 4180
   quotes, a last row without its line break, blank rows, and a ' before a
   formula-like text (cs_csv_text). Rows without a file or a line are passed
   over; of rows of one file, the last counts. */
typedef struct {
    char *file, *line;
    int row;                  /* its row in the CSV (the header's is 1) */
} cs_expected_row;

typedef struct {
    int n;
    cs_expected_row *rows;    /* [n], sorted by file (strcmp), one a file */
} cs_expected_lines;

#define CS_MAX_EXPECT_BYTES (64LL * 1024 * 1024)

/* The rows of a CSV's bytes. An error says what is wrong in a sentence about
   "it" that names the row ("row 3 is not a whole row of file and expected");
   ex is then empty. */
cs_status cs_expected_lines_read(cs_expected_lines *ex, const void *data, size_t size, cs_error *err);
/* The same of a file (or a pipe); errors name it. */
cs_status cs_expected_lines_load(cs_expected_lines *ex, const char *path, cs_error *err);
/* The line of an image by its name as the CLI or the page gives it: the row of
   that name, else of its base name (after the last /); for a row of a page of
   a multi-page file ("run/a.tif#2", predict --page/--all-pages), then the same
   of the file's ("run/a.tif", "a.tif"). NULL: the CSV names it nowhere. */
const char *cs_expected_line(const cs_expected_lines *ex, const char *name);
void cs_expected_lines_free(cs_expected_lines *ex);
/* The length of the file's part of a row's name: without "#N", the page of a
   multi-page file, if it ends so ("a.tif#2": 5); else all of it. */
size_t cs_page_row_file(const char *name);

/* ---------------------------------------------------------------- summaries of a screen */

/* The well a file's name gives, if any: the last token of its base name (split
   at anything but letters and digits) that is a well of a plate of up to 384,
   A-P and 1-24, as "A01", "P24" or Incucyte's "B3" (in "VID12_B3_1_00d04h00m").
   well gets it as letter and two digits ("B03"), plate what names its plate:
   the file's folder and the part of its base name before the well ("run/VID12";
   the folder alone if that part is empty; "." for no folder). Returns 0 (well
   empty, plate the folder) if the name gives no well. */
int cs_well_of(const char *file, char well[4], char *plate, size_t plate_size);

typedef enum { CS_BY_FOLDER, CS_BY_WELL, CS_BY_PLATE } cs_group_by;

/* The images of a group: counts per predicted class, summed probabilities. */
typedef struct {
    char *plate, *key;  /* plate; the group's name (folder, plate, or plate and well) */
    char well[4];       /* by well: its well ("" for files whose names give none) */
    int images, unknown;
    int *count;         /* [nclasses] */
    double *sum_p;      /* [nclasses] */
} cs_group;

typedef struct {
    cs_group_by by;
    int nclasses, has_known; /* has_known: rows say whether they are of a known class */
    char **classes;
    int ngroups, cap;
    cs_group *groups;
} cs_summary;

cs_status cs_summary_init(cs_summary *s, cs_group_by by, const char *const *classes, int K,
                          int has_known, cs_error *err);
/* One image's row: its predicted class, probabilities [K], and (has_known) 0 if
   it was found of no known class. */
cs_status cs_summary_add(cs_summary *s, const char *file, int predicted, const float *probs, int known,
                         cs_error *err);
/* The groups sorted by name (wells in plate order). */
void cs_summary_sort(cs_summary *s);
/* The class most images of g are predicted (ties: the higher mean probability). */
int cs_group_majority(const cs_summary *s, const cs_group *g);
/* As CSV: the group's columns (folder | plate | plate,well), then
   images,majority_class,n_<class>...,mean_p_<class>... and, has_known, unknown. */
void cs_summary_csv(FILE *f, const cs_summary *s);
/* The same as a Markdown table. */
void cs_summary_markdown(FILE *f, const cs_summary *s);
/* A summary by well as plate maps (96 or 384 wells, a map a plate) in SVG: each
   well coloured by its majority class and labelled with the class's number,
   which a legend names; a tooltip gives its counts. */
cs_status cs_summary_plate_map(FILE *f, const cs_summary *s, cs_error *err);
void cs_summary_free(cs_summary *s);

#ifdef __cplusplus
}
#endif
#endif
