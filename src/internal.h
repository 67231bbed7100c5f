/* internal.h: what the core's files share and users do not need, with the
   internal headers by concern: net.h (network, workspaces, Adam, random
   numbers), tiles.h, kernels.h (convolutions and layers) and metrics.h. */
#ifndef CS_INTERNAL_H
#define CS_INTERNAL_H

#include "cellsight.h"
#include "kernels.h"
#include "metrics.h"
#include "net.h"
#include "tiles.h"

/* Fails with e's code and message said of `what` ("what: message"), unless
   the message names it already. err may be e. */
cs_status cs_fail_in(cs_error *err, const char *what, const cs_error *e);
/* Text escaped for XML, and an SVG's opening with a white ground (report.c). */
void cs_xml_str(FILE *f, const char *s);
void cs_svg_begin(FILE *f, int w, int h);
/* The SHA-256 of data as 64 hex digits and a 0 (sha256.c). */
void cs_sha256_hex(const void *data, size_t size, char hex[65]);
/* Frees names [n] and the array (modelfile.c); names may be NULL. */
void cs_free_names(char **names, int n);

/* What a run of cs_train did, recorded among its options (recipe.c). */
typedef struct {
    int epochs_run, best_epoch;
    int crop_bottom;    /* the rows cropped, the model's if the options said -1 */
} cs_run_record;
/* Records o and run in m's metadata, in the order model files have them. */
cs_status cs_recipe_record(cs_model *m, const cs_train_opts *o, const cs_run_record *run,
                           cs_error *err);
/* Head mode's features of a run's training crops, kept for a next run on the
   same frozen layers (cs_fit's refit): an image whose pixels equal one of
   `images`' then reuses its crops' features instead of computing new ones.
   `images` must outlive the cache; cs_head_cache_free frees the rest. */
typedef struct {
    const cs_dataset *images;
    int *first, *count;   /* [images->n]: each image's rows of features */
    int views, crop;      /* symmetries of a crop; rows cropped off each image's bottom */
    size_t insize;        /* floats of a row */
    float *features;      /* [rows][insize] */
    float *frozen;        /* [nfrozen] the layers they came through: a run on others ignores them */
    size_t nfrozen;
} cs_head_cache;
void cs_head_cache_free(cs_head_cache *c);
/* cs_train, head mode reusing `reuse`'s features where it can and keeping its
   own in `keep` (both may be NULL; other modes ignore them). */
cs_status cs_train_cached(cs_model *m, const cs_dataset *train, const cs_dataset *val,
                          const cs_train_opts *o, const cs_head_cache *reuse, cs_head_cache *keep,
                          cs_error *err);
/* data split as m's metadata val_split says: train gets the part m trained
   on, held the part it validated on; refused if m records no split. */
cs_status cs_model_split(const cs_model *m, const cs_dataset *data, cs_dataset *train, cs_dataset *held,
                         cs_error *err);
/* Records r's validation split as val_split ("images 2/2"). */
cs_status cs_recipe_record_split(cs_model *m, const cs_recipe *r, cs_error *err);

/* ---------------------------------------------------------------- images, models, data sets */

/* The size from the header alone, checked against the limits as cs_image_decode
   checks it: a huge image is refused before anything is allocated. */
cs_status cs_image_info(const void *data, size_t size, int *w, int *h, cs_error *err);
/* The intensity rule for samples deeper than 8 bits (docs/images.md), one for
   TIFF, PNG and PGM: the shift that keeps the top 8 bits of the even number of
   bits (8 at least) that holds max, and a sample by it, to 8 bits. */
int cs_intensity_shift(double max);
int cs_intensity_level(double v, int shift);
/* TIFF (tiff.c): whether the bytes start as a TIFF or BigTIFF; a page's size,
   checked as cs_image_info checks it (its strips or tiles too); and the page
   decoded by the rule of cellsight.h. *pages, if not NULL, gets the pages. */
int cs_tiff_is(const void *data, size_t size);
cs_status cs_tiff_info(const void *data, size_t size, int page, int *w, int *h, int *pages,
                       cs_error *err);
cs_status cs_tiff_decode(cs_image *im, const void *data, size_t size, int page, int *pages,
                         cs_error *err);
/* Pixel size (pixel_size.c), set on im where the metadata states a plausible
   one: a TIFF page's description (OME-XML, ImageJ; may be NULL) and resolution
   tags (unit: TIFF's ResolutionUnit), and a PNG's pHYs chunk. */
void cs_tiff_pixel_size(cs_image *im, const char *desc, int has_res, double xres, double yres,
                        int unit);
void cs_png_pixel_size(cs_image *im, const uint8_t *data, size_t size);
/* Resampling (resample.c). The factors, model pixels per image pixel, that
   bring im to m's pixel size; 1 and 1 (returning 0) when either size is not
   known, m->no_rescale, or they agree within CS_RESCALE_TOLERANCE. */
int cs_rescale_factors(const cs_model *m, const cs_image *im, float *sx, float *sy);
int cs_rescale_needed(float um_x, float um_y, float target, float *sx, float *sy);
/* out: the top h - crop rows of im resampled by sx, sy (area averages where
   it shrinks, Catmull-Rom where it grows) above crop black rows, which the same
   crop removes again; its pixel size the target's. The new size is checked
   against the image limits. */
cs_status cs_image_resample(cs_image *out, const cs_image *im, int crop, float sx, float sy,
                            cs_error *err);
/* A tile (tile x tile floats) in place as pixels f times coarser see it, brought
   back to its size by cs_image_resample's filters (cs_augment.lowres). */
void cs_tile_coarser(float *t, int tile, float f);
/* Whether lowres goes to a share of the crops only (lowres_share in (0, 1)),
   which costs a draw a crop and is recorded in the model; else every crop. */
int cs_augment_lowres_some(const cs_augment *a);
/* Data sets at a pixel size (dataset.c): to gets copies of from's images; the
   median of the images' stated sizes (x), 0 if none states one; how many
   images have a known size other than um; and those resampled to it
   (cs_image_resample, crop rows kept). */
cs_status cs_dataset_copy(cs_dataset *to, const cs_dataset *from, cs_error *err);
float cs_dataset_um(const cs_dataset *ds);
int cs_dataset_off_scale(const cs_dataset *ds, float um);
cs_status cs_dataset_rescale(cs_dataset *ds, float um, int crop, cs_error *err);
/* The class a probability vector votes for (the threshold for two classes). */
int cs_model_decide(const cs_model *m, const float *probs);

/* calibrate.c: p [K] becomes softmax(log p / T), in place (T = 1: unchanged). */
void cs_temper(float *p, int K, float T);
/* The temperature in [CS_MIN_TEMPERATURE, CS_MAX_TEMPERATURE] that minimises
   the mean cross-entropy of the tempered probs [n][K] against labels [n],
   under a weak prior for 1 (worth one sample). */
float cs_fit_temperature(const float *probs, const int *labels, int n, int K);
/* probs [n][K] tempered in place by the temperature fitted on them, which is
   returned; ece [2] gets their calibration error before and after. */
float cs_temper_fitted(float *probs, const int *labels, int n, int K, double ece[2]);
/* cs_metrics_ece of probs [n][K] with true classes labels [n]. */
double cs_ece(const float *probs, const int *labels, int n, int K, int nbins, cs_calibration_bin *bins);
/* Records the validation tiles' calibration error before and after the
   temperature (val_ece_uncalibrated, val_ece; "none" for NaN). */
cs_status cs_record_ece(cs_model *m, double before, double after, cs_error *err);
/* Records T as m's temperature ("%g"). */
cs_status cs_model_set_temperature(cs_model *m, float T, cs_error *err);
/* Takes key out of m's metadata, if there: a key of what the model no longer has
   (a kNN bank's, once it scores otherwise). Only for keys no field mirrors. */
void cs_model_unset(cs_model *m, const char *key);

/* ood.c. The share of the mean variance the covariance is shrunk towards. */
#define CS_OOD_SHRINK 0.01
void cs_ood_free(cs_ood *o);
/* Features a tile has for statistics: the channels of the net's GAP (0: none). */
int cs_ood_dim(const cs_net *net);
/* o: the class means and the (shrunk) shared covariance's inverse of
   features [n][D] with labels [n] in [0, K). */
cs_status cs_ood_estimate(cs_ood *o, const float *feat, const int *labels, int n, int K, int D, cs_error *err);
/* msp's score of a tile of probabilities p [K]: 1 - the top one. */
float cs_ood_msp(const float *p, int K);
/* A tile's score from the features m's score reads (cs_ood_layer): its
   pooled ones [m->ood.dim] for mahalanobis, its penultimate ones
   [m->ood.bank_dim] for the bank's scores ([m->ood.dim] for
   mahalanobis_penultimate); c: the class the tile's image is called (read by
   the scores by class only, cs_ood_by_class). */
float cs_ood_tile_score(const cs_model *m, const float *f, int c);
/* "mahalanobis", "msp", "knn_penultimate", "mahalanobis_penultimate",
   "knn_class_penultimate", "trust_penultimate" or "image_class_penultimate",
   as metadata ood_score says it. */
const char *cs_ood_kind_name(cs_ood_kind kind);
/* Whether the score is one of class means and a precision (ood.means,
   ood.precision): mahalanobis, mahalanobis_penultimate. */
int cs_ood_reads_means(cs_ood_kind kind);
/* Whether it is one of a bank (ood.bank): knn_penultimate, knn_class_penultimate,
   trust_penultimate, image_class_penultimate. */
int cs_ood_reads_bank(cs_ood_kind kind);
/* Whether it scores a tile against the class its image is called, from a bank
   with the classes of its rows (ood.bank_class): knn_class_penultimate,
   trust_penultimate, image_class_penultimate. */
int cs_ood_by_class(cs_ood_kind kind);
/* Whether an image's score is of its mean features rather than the mean of its
   tiles' scores, and the bank holds a row a training image:
   image_class_penultimate. */
int cs_ood_by_image(cs_ood_kind kind);
/* An image's features for cs_ood_by_image: the mean of its voting tiles'
   normalised features (features [ntiles][W], as cs_classify_features gives
   them), normalised, into u [W]. */
void cs_ood_image_mean(const float *features, const cs_result *res, int W, float *u);
/* The threshold for an image of `tiles` voting tiles: ood_threshold, or for
   fewer tiles than the validation images had, ood_thresholds_by_tiles',
   linear in log(tiles) between its counts. */
float cs_ood_threshold(const cs_ood *o, int tiles);
/* The last dense layer, whose input (*width of them) are the penultimate
   features; -1 (and *width 0) for a network without one after GAP. */
int cs_ood_penultimate(const cs_net *net, int *width);
/* The activation m's score reads (cs_net_activation's index) and its *width:
   the pooled features, or the penultimate ones for the bank's scores and
   mahalanobis_penultimate. */
int cs_ood_layer(const cs_model *m, int *width);
/* Whether m has what its score needs to score tiles (msp: always). */
int cs_ood_ready(const cs_model *m);
/* f [D] scaled to length 1. */
void cs_ood_normalise(float *f, int D);
/* The Euclidean distance of f [D], normalised, to the k-th nearest row of
   bank [n][D] (k at most CS_MAX_OOD_K), or of its rows of class c when cls
   [n] (their classes) is not NULL; of fewer than k rows, the farthest; NaN
   for none. */
float cs_ood_knn(const float *bank, const float *cls, int c, int n, int D, int k, const float *f);
/* o's bank: at most about cap of the features [n][P], evenly spaced (tile
   floor(i n / kept)), normalised; at least o->k of them are needed. With labels
   [n] (classes 0..K-1): each class's tiles spaced so within the class, its
   share of cap and at least o->k of them (all it has if fewer), grouped by
   class, their classes in o->bank_class. */
cs_status cs_ood_knn_bank(cs_ood *o, const float *feat, const int *labels, int K, int n, int P, int cap,
                          cs_error *err);
/* m's statistics from the foreground tiles of train (labels: m's classes) and,
   if val has images, the threshold that frr of them score above (else none);
   nothing for a network without GAP. */
cs_status cs_ood_fit(cs_model *m, const cs_dataset *train, const cs_dataset *val, float frr, cs_error *err);
/* Whether tile t of res votes for the image's class and score: a tile with
   something on it, or any tile of an image that is all background. */
static inline int cs_tile_votes(const cs_result *res, int t) { return !res->background[t] || !res->nforeground; }
/* How many tiles of res vote. */
static inline int cs_voting_tiles(const cs_result *res) { return res->nforeground ? res->nforeground : res->ntiles; }

/* cs_classify, also giving each tile's features that m's score reads
   (cs_ood_layer: pooled, or penultimate for the bank's scores and
   mahalanobis_penultimate), *features
   [ntiles][width] (malloc'd), from the tile as it is (view 0 of test-time averaging). */
cs_status cs_classify_features(const cs_model *m, const cs_image *im, int crop_bottom, cs_result *res,
                               float **features, cs_error *err);

/* Validation by image: for each class, its images of rank i % nfolds == fold
   (in data-set order) go to val, the rest to train; with two images per class
   and two folds, fold 0 and 1 train on one image of each class and validate on
   the other. A class with a single image is split by region instead: its tile
   rows are cut into nfolds bands (fold 0 the bottom one); val gets the band,
   train the parts above and below, each named "<name> (rows y0-y1)" for the
   rows it shows once cropped. Train with the same tile and crop_bottom: each
   part keeps crop_bottom rows of what lies below it, which that crop removes,
   so no training crop reads a validation pixel. train and val get copies of
   the pixels: free all three data sets. */
cs_status cs_dataset_split(const cs_dataset *all, int fold, int nfolds, int tile, int crop_bottom,
                           cs_dataset *train, cs_dataset *val, cs_error *err);
/* As cs_dataset_split, but every image is split by region, whatever its class
   holds: validation gets band `fold` of the tile rows of each image, so that a
   model trains on every image (all the wells and times) yet validates on
   pixels it never sees. */
cs_status cs_dataset_split_rows(const cs_dataset *all, int fold, int nfolds, int tile,
                                int crop_bottom, cs_dataset *train, cs_dataset *val, cs_error *err);

/* ---------------------------------------------------------------- threads */

/* Runs fn(ctx, i) for i in [0, n) on the worker threads (threads.c); returns when all are done. */
typedef void (*cs_task_fn)(void *ctx, int i);
void cs_parallel_for(int n, cs_task_fn fn, void *ctx);

/* A parsed safetensors file (safetensors.c): the tensors' places, checked
   against the data's size. Metadata strings are unescaped copies. */
typedef struct {
    char name[128];
    char dtype[8];          /* "F32", ... */
    int ndim;
    int64_t shape[8];
    size_t offset, nbytes;  /* from the start of the data section */
} cs_st_tensor;

typedef struct {
    int ntensors;
    cs_st_tensor *tensors;
    int nmeta;
    cs_meta *meta;
    const uint8_t *data;    /* the data section, inside the caller's buffer */
    size_t data_size;
} cs_safetensors;

cs_status cs_st_parse(cs_safetensors *st, const void *file, size_t size, cs_error *err);
void cs_st_free(cs_safetensors *st);
const cs_st_tensor *cs_st_find(const cs_safetensors *st, const char *name);
/* Copies an F32 tensor of exactly n elements into dst (little-endian on any host). */
cs_status cs_st_read_f32(const cs_safetensors *st, const char *name, float *dst, size_t n,
                         cs_error *err);
/* A safetensors file of F32 tensors (name, ndim and shape of each; data[i]
   holds tensor i): metadata first, then the tensors in order, the header padded
   with spaces so that the data starts 8-byte aligned. Returns malloc'd bytes. */
cs_status cs_st_write(const cs_meta *meta, int nmeta, const cs_st_tensor *tensors,
                      const float *const *data, int ntensors, uint8_t **out, size_t *size,
                      cs_error *err);
/* "[32,1,3,3]": a shape as the header writes it, for messages too. */
void cs_st_shape_str(char *buf, size_t cap, const int64_t *shape, int ndim);

#endif
