/* modelfile.c: a model is a network and its metadata, kept in a safetensors
   file whose tensors are named as PyTorch names a module's parameters
   (conv1.weight [32,1,3,3], ..., fc2.bias), so that PyTorch reads and writes
   our models and we read its. */
#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

/* ---------------------------------------------------------------- metadata */

/* s as a whole number in [lo, hi], digits only. */
static int parse_int(const char *s, long lo, long hi, int *out) {
    char *end;
    if (*s < '0' || *s > '9') return 0;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (*end || errno || v < lo || v > hi) return 0;
    *out = (int)v;
    return 1;
}

/* s as a number in [lo, hi], and nothing after it. */
static int parse_float(const char *s, double lo, double hi, float *out) {
    char *end;
    float f = strtof(s, &end);
    if (end == s || *end || !(f >= lo && f <= hi)) return 0;
    *out = f;
    return 1;
}

/* "1:0.61,2:0.48,...": up to CS_OOD_SMALL_MAX pairs, tiles rising from 1,
   thresholds >= 0, into o->small_*. */
static int parse_thresholds_by_tiles(const char *s, cs_ood *o) {
    while (*s) {
        char *end;
        if (o->nsmall == CS_OOD_SMALL_MAX || *s < '0' || *s > '9') return 0;
        long n = strtol(s, &end, 10);
        if (*end != ':' || n < 1 || n > INT_MAX || (o->nsmall && n <= o->small_tiles[o->nsmall - 1])) return 0;
        s = end + 1;
        float th = strtof(s, &end);
        if (end == s || !(th >= 0 && th <= FLT_MAX) || (*end && *end != ',')) return 0;
        o->small_tiles[o->nsmall] = (int)n;
        o->small_threshold[o->nsmall++] = th;
        s = *end ? end + 1 : end;
        if (*end && !*s) return 0; /* a trailing comma */
    }
    return o->nsmall > 0;
}

void cs_free_names(char **names, int n) {
    for (int i = 0; i < n && names; i++) free(names[i]);
    free(names);
}

/* "a,b,c" as *n malloc'd names: at least 2, none empty, too long, repeated
   or with control characters (they become folder names and CSV columns). */
static cs_status split_classes(const char *list, char ***out, int *n, cs_error *err) {
    int k = 1;
    for (const char *p = list; *p; p++) k += *p == ',';
    if (k < 2) return cs_fail(err, CS_EINPUT, "metadata classes \"%.60s\" names one class; a model needs 2 or more", list);
    if (k > CS_MAX_CLASSES)
        return cs_fail(err, CS_ELIMIT, "metadata classes names %d classes, more than the limit of %d", k, CS_MAX_CLASSES);
    char **names = calloc((size_t)k, sizeof *names);
    if (!names) return cs_fail(err, CS_ENOMEM, "out of memory for %d class names", k);
    cs_status s = CS_OK;
    const char *p = list;
    for (int i = 0; i < k && !s; i++, p++) {
        size_t len = strcspn(p, ",");
        if (!len) {
            s = cs_fail(err, CS_EINPUT, "metadata classes \"%.60s\" has an empty class name", list);
        } else if (len > CS_MAX_CLASS_NAME) {
            s = cs_fail(err, CS_ELIMIT, "the class name \"%.40s...\" is longer than %d bytes", p, CS_MAX_CLASS_NAME);
        } else if (!(names[i] = malloc(len + 1))) {
            s = cs_fail(err, CS_ENOMEM, "out of memory for %d class names", k);
        } else {
            memcpy(names[i], p, len);
            names[i][len] = 0;
            for (size_t c = 0; c < len && !s; c++)
                if ((unsigned char)p[c] < 0x20)
                    s = cs_fail(err, CS_EINPUT, "the class name \"%s\" has a control character", names[i]);
            for (int j = 0; j < i && !s; j++)
                if (!strcmp(names[j], names[i]))
                    s = cs_fail(err, CS_EINPUT, "the class name \"%s\" appears twice in metadata classes", names[i]);
        }
        p += len;
    }
    if (s) {
        cs_free_names(names, k);
        return s;
    }
    *out = names;
    *n = k;
    return CS_OK;
}

const char *cs_model_get(const cs_model *m, const char *key) {
    for (int i = 0; i < m->nmeta; i++)
        if (!strcmp(m->meta[i].key, key)) return m->meta[i].value;
    return NULL;
}

void cs_model_unset(cs_model *m, const char *key) {
    for (int i = 0; i < m->nmeta; i++)
        if (!strcmp(m->meta[i].key, key)) {
            free(m->meta[i].key);
            free(m->meta[i].value);
            memmove(m->meta + i, m->meta + i + 1, sizeof *m->meta * (size_t)(--m->nmeta - i));
            return;
        }
}

/* Adds key = value or replaces its value; nothing changes on failure. */
static cs_status store(cs_model *m, const char *key, const char *value, cs_error *err) {
    int i = 0;
    while (i < m->nmeta && strcmp(m->meta[i].key, key)) i++;
    char *v = malloc(strlen(value) + 1), *k = i == m->nmeta ? malloc(strlen(key) + 1) : NULL;
    cs_meta *grown = i == m->nmeta ? realloc(m->meta, (size_t)(m->nmeta + 1) * sizeof *grown) : m->meta;
    if (!v || (i == m->nmeta && (!k || !grown))) {
        free(v);
        free(k);
        return cs_fail(err, CS_ENOMEM, "out of memory for metadata %s", key);
    }
    m->meta = grown;
    strcpy(v, value);
    if (i == m->nmeta) {
        m->meta[m->nmeta++].key = strcpy(k, key);
    } else {
        free(m->meta[i].value);
    }
    m->meta[i].value = v;
    return CS_OK;
}

/* The keys with a field in cs_model are checked and fill it once stored;
   arch and tile describe the network, so they can only be what it is. */
cs_status cs_model_set(cs_model *m, const char *key, const char *value, cs_error *err) {
    if (!key || !*key) return cs_fail(err, CS_EINPUT, "a metadata key cannot be empty");
    if (!value) return cs_fail(err, CS_EINPUT, "metadata %.40s needs a value", key);
    if (strlen(key) + strlen(value) > CS_MAX_META_BYTES)
        return cs_fail(err, CS_ELIMIT, "metadata %.40s has %zu bytes, more than a model file's header may hold (%d)",
                       key, strlen(value), CS_MAX_META_BYTES);
    int n = 0, *int_field = NULL;
    float f = 0, *float_field = NULL;
    char **names = NULL;
    if (!strcmp(key, "arch")) {
        if (strcmp(value, m->net.arch))
            return cs_fail(err, CS_EINPUT, "metadata arch \"%.60s\" is not the network's \"%s\"", value, m->net.arch);
    } else if (!strcmp(key, "tile")) {
        if (!parse_int(value, 1, INT_MAX, &n) || n != m->net.tile)
            return cs_fail(err, CS_EINPUT, "metadata tile \"%.20s\" is not the network's tile side %d", value,
                           m->net.tile);
    } else if (!strcmp(key, CS_META_CLASSES)) {
        cs_status s = split_classes(value, &names, &n, err);
        if (s) return s;
        if (n != m->net.nclasses) {
            cs_free_names(names, n);
            return cs_fail(err, CS_EINPUT, "metadata classes names %d classes, but the network has %d", n,
                           m->net.nclasses);
        }
    } else if (!strcmp(key, CS_META_THRESHOLD)) {
        if (!parse_float(value, 0, 1, &f))
            return cs_fail(err, CS_EINPUT, "metadata threshold \"%.20s\" is not a number from 0 to 1", value);
        float_field = &m->threshold;
    } else if (!strcmp(key, CS_META_TTA)) {
        if (strcmp(value, CS_TTA_NONE) && strcmp(value, CS_TTA_DIHEDRAL8))
            return cs_fail(err, CS_EINPUT, "metadata tta \"%.20s\" is neither none nor dihedral8", value);
        n = !strcmp(value, CS_TTA_DIHEDRAL8);
        int_field = &m->tta;
    } else if (!strcmp(key, CS_META_CROP_BOTTOM)) {
        if (!parse_int(value, 0, CS_MAX_IMAGE_SIDE, &n))
            return cs_fail(err, CS_EINPUT, "metadata crop_bottom \"%.20s\" is not a number of rows from 0 to %d", value,
                           CS_MAX_IMAGE_SIDE);
        int_field = &m->crop_bottom;
    } else if (!strcmp(key, CS_META_UM_PER_PX)) {
        if (!parse_float(value, CS_MIN_UM_PER_PX, CS_MAX_UM_PER_PX, &f))
            return cs_fail(err, CS_EINPUT, "metadata um_per_px \"%.20s\" is not a pixel size from "
                           "%g to %g micrometres", value, CS_MIN_UM_PER_PX, CS_MAX_UM_PER_PX);
        float_field = &m->um_per_px;
    } else if (!strcmp(key, CS_META_OOD_THRESHOLD)) {
        f = NAN;
        if (strcmp(value, "none") && !parse_float(value, 0, FLT_MAX, &f))
            return cs_fail(err, CS_EINPUT, "metadata ood_threshold \"%.20s\" is neither a score (a number "
                           ">= 0) nor none", value);
        float_field = &m->ood.threshold;
    } else if (!strcmp(key, CS_META_TEMPERATURE)) {
        if (!parse_float(value, CS_MIN_TEMPERATURE, CS_MAX_TEMPERATURE, &f))
            return cs_fail(err, CS_EINPUT, "metadata temperature \"%.20s\" is not a number from %g "
                           "to %g", value, CS_MIN_TEMPERATURE, CS_MAX_TEMPERATURE);
        float_field = &m->temperature;
    } else if (!strcmp(key, CS_META_OOD_SCORE)) {
        n = CS_OOD_KIND_MAHALANOBIS;
        while (n < CS_OOD_KINDS && strcmp(value, cs_ood_kind_name(n))) n++;
        if (n == CS_OOD_KINDS) {
            char kinds[256] = "";
            for (int k = 0; k < CS_OOD_KINDS; k++)
                snprintf(kinds + strlen(kinds), sizeof kinds - strlen(kinds), "%s%s",
                         k == 0 ? "" : k + 1 < CS_OOD_KINDS ? ", " : " or ", cs_ood_kind_name(k));
            return cs_fail(err, CS_EINPUT, "metadata ood_score \"%.20s\" is not %s", value, kinds);
        }
        int_field = &m->ood.kind;
    } else if (!strcmp(key, CS_META_OOD_THRESHOLDS_BY_TILES)) {
        cs_ood small = {0};
        if (!parse_thresholds_by_tiles(value, &small))
            return cs_fail(err, CS_EINPUT, "metadata %s \"%.40s\" is not up to %d pairs TILES:THRESHOLD, the "
                           "tiles rising from 1, the thresholds numbers >= 0", key, value, CS_OOD_SMALL_MAX);
        m->ood.nsmall = small.nsmall;
        memcpy(m->ood.small_tiles, small.small_tiles, sizeof small.small_tiles);
        memcpy(m->ood.small_threshold, small.small_threshold, sizeof small.small_threshold);
    } else if (!strcmp(key, CS_META_OOD_K)) {
        if (!parse_int(value, 1, CS_MAX_OOD_K, &n))
            return cs_fail(err, CS_EINPUT, "metadata ood_k \"%.20s\" is not a number of neighbours from 1 to %d",
                           value, CS_MAX_OOD_K);
        int_field = &m->ood.k;
    } else if (!strcmp(key, CS_META_ROLE)) {
        if (strcmp(value, CS_ROLE_BASE) && strcmp(value, CS_ROLE_CLASSIFIER))
            return cs_fail(err, CS_EINPUT, "metadata role \"%.20s\" is neither base nor classifier", value);
    }
    cs_status s = store(m, key, value, err);
    if (s) {
        cs_free_names(names, n);
        return s;
    }
    if (float_field) *float_field = f;
    if (int_field) *int_field = n;
    if (names) {
        cs_free_names(m->classes, m->net.nclasses);
        m->classes = names;
    }
    return CS_OK;
}

/* What cs_tile_read does to a tile, said in every model's metadata. */
#define STANDARDIZATION "tile: (gray / 255 - mean) / max(std, 0.001)"

/* With m->net built: the entries in order, then the keys every tool relies
   on, where absent, as the network has them. */
static cs_status apply_metadata(cs_model *m, const cs_meta *meta, int nmeta, cs_error *err) {
    cs_status s = CS_OK;
    char num[16];
    m->threshold = 0.5f;
    m->temperature = 1;
    m->ood.threshold = NAN;
    m->ood.k = CS_OOD_K;
    for (int i = 0; i < nmeta && !s; i++) s = cs_model_set(m, meta[i].key, meta[i].value, err);
    if (!s && !cs_model_get(m, "arch")) s = cs_model_set(m, "arch", m->net.arch, err);
    if (!s && !cs_model_get(m, "classes")) {
        char *list = malloc((size_t)m->net.nclasses * 16);
        if (!list) return cs_fail(err, CS_ENOMEM, "out of memory for class names");
        for (int i = 0, at = 0; i < m->net.nclasses; i++)
            at += sprintf(list + at, "%sclass%d", i ? "," : "", i);
        s = cs_model_set(m, "classes", list, err);
        free(list);
    }
    snprintf(num, sizeof num, "%d", m->net.tile);
    if (!s && !cs_model_get(m, "tile")) s = cs_model_set(m, "tile", num, err);
    if (!s && !cs_model_get(m, "crop_bottom")) s = cs_model_set(m, "crop_bottom", "0", err);
    if (!s && !cs_model_get(m, "standardize")) s = cs_model_set(m, "standardize", STANDARDIZATION, err);
    return s;
}

/* ---------------------------------------------------------------- models */

cs_status cs_model_init(cs_model *m, const char *arch, int tile, int nclasses, const char *const *classes,
                        uint64_t seed, cs_error *err) {
    memset(m, 0, sizeof *m);
    cs_status s = cs_net_init(&m->net, arch, tile, nclasses, err);
    if (s) return s;
    cs_rng rng;
    cs_rng_seed(&rng, seed);
    cs_net_glorot(&m->net, &rng);

    cs_meta meta[2] = {{(char *)"arch", m->net.arch}, {(char *)"classes", NULL}};
    if (classes) { /* joined with commas, which the names must then not hold */
        size_t len = 0;
        for (int i = 0; i < nclasses && !s; i++) {
            if (strchr(classes[i], ','))
                s = cs_fail(err, CS_EINPUT, "the class name \"%.60s\" contains a comma", classes[i]);
            len += strlen(classes[i]) + 1;
        }
        if (!s && !(meta[1].value = malloc(len)))
            s = cs_fail(err, CS_ENOMEM, "out of memory for class names");
        for (int i = 0, at = 0; i < nclasses && !s; i++)
            at += sprintf(meta[1].value + at, "%s%s", i ? "," : "", classes[i]);
    }
    if (!s) s = apply_metadata(m, meta, classes ? 2 : 1, err);
    free(meta[1].value);
    if (s) cs_model_free(m);
    return s;
}

void cs_model_free(cs_model *m) {
    cs_free_names(m->classes, m->net.nclasses);
    for (int i = 0; i < m->nmeta; i++) {
        free(m->meta[i].key);
        free(m->meta[i].value);
    }
    free(m->meta);
    cs_net_free(&m->net);
    cs_ood_free(&m->ood);
    memset(m, 0, sizeof *m);
}

/* The tensor of a layer's weight or bias as PyTorch has it. */
static void param_tensor(const cs_layer *L, int bias, cs_st_tensor *t) {
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s.%s", L->name, bias ? "bias" : "weight");
    strcpy(t->dtype, "F32");
    int64_t shape[4] = {L->oc, L->c, 3, 3};
    t->ndim = bias ? 1 : L->kind == CS_CONV ? 4 : 2;
    memcpy(t->shape, shape, sizeof shape);
}

static const char *meta_value(const cs_safetensors *st, const char *key) {
    for (int i = 0; i < st->nmeta; i++)
        if (!strcmp(st->meta[i].key, key)) return st->meta[i].value;
    return NULL;
}

/* A file without metadata classes (as PyTorch's save_file writes it) tells
   the class count by its output layer: 1 row for two classes, else one a class. */
static cs_status count_outputs(const cs_safetensors *st, const char *arch, int tile, int *nclasses,
                               cs_error *err) {
    cs_net probe;
    cs_status s = cs_net_init(&probe, arch, tile, 2, err);
    if (s) return s;
    cs_st_tensor want;
    param_tensor(&probe.layers[probe.nlayers - 1], 0, &want);
    cs_net_free(&probe);
    const cs_st_tensor *t = cs_st_find(st, want.name);
    if (!t)
        return cs_fail(err, CS_EINPUT, "the model file has no tensor %s, the output layer of arch \"%s\"", want.name,
                       arch ? arch : CS_PAPER_ARCH);
    int64_t rows = t->ndim == 2 ? t->shape[0] : 0;
    if (rows != 1 && (rows < 3 || rows > CS_MAX_CLASSES))
        return cs_fail(err, CS_EINPUT, "the output tensor %s has %" PRId64 " rows; it needs 1 for two classes "
                       "(one sigmoid unit) or one for each of 3 to %d classes", want.name, rows, CS_MAX_CLASSES);
    *nclasses = rows == 1 ? 2 : (int)rows;
    return CS_OK;
}

static cs_status build_net(cs_model *m, const cs_safetensors *st, cs_error *err) {
    const char *arch = meta_value(st, "arch"), *tile_s = meta_value(st, "tile"), *classes = meta_value(st, "classes");
    int tile = CS_TILE, nclasses;
    if (tile_s && !parse_int(tile_s, 1, INT_MAX, &tile))
        return cs_fail(err, CS_EINPUT, "metadata tile \"%.20s\" is not a whole number of pixels", tile_s);
    cs_status s;
    if (classes) {
        char **names;
        if ((s = split_classes(classes, &names, &nclasses, err))) return s;
        cs_free_names(names, nclasses);
    } else if ((s = count_outputs(st, arch, tile, &nclasses, err))) {
        return s;
    }
    return cs_net_init(&m->net, arch, tile, nclasses, err);
}

/* Tensor want of st, which must be F32, of want's shape and finite, into dst
   [n]; what names whose shape decides it, for the message. */
static cs_status read_tensor(const cs_safetensors *st, const cs_st_tensor *want, float *dst, size_t n,
                             const char *what, cs_error *err) {
    char has[200], needs[200];
    const cs_st_tensor *t = cs_st_find(st, want->name);
    if (!t) return cs_fail(err, CS_EINPUT, "the model file has no tensor %s, which %s needs", want->name, what);
    if (strcmp(t->dtype, "F32"))
        return cs_fail(err, CS_EINPUT, "tensor %s is %s; model weights must be F32 (float32)", want->name, t->dtype);
    if (t->ndim != want->ndim || memcmp(t->shape, want->shape, sizeof *t->shape * (size_t)want->ndim)) {
        cs_st_shape_str(has, sizeof has, t->shape, t->ndim);
        cs_st_shape_str(needs, sizeof needs, want->shape, want->ndim);
        return cs_fail(err, CS_EINPUT, "tensor %s has shape %s, but %s needs %s", want->name, has, what, needs);
    }
    cs_status s = cs_st_read_f32(st, want->name, dst, n, err);
    if (s) return s;
    for (size_t k = 0; k < n; k++)
        if (!isfinite(dst[k]))
            return cs_fail(err, CS_EINPUT, "tensor %s has a non-finite value (NaN or infinity) at element %zu",
                           want->name, k);
    return CS_OK;
}

/* The out-of-distribution statistics' tensors, as m's network and classes have them. */
static void ood_tensors(const cs_model *m, int dim, cs_st_tensor t[2]) {
    t[0] = (cs_st_tensor){.name = CS_OOD_MEANS, .ndim = 2, .shape = {m->net.nclasses, dim}};
    t[1] = (cs_st_tensor){.name = CS_OOD_PRECISION, .ndim = 2, .shape = {dim, dim}};
}

/* The bank's classes, if the file has them: [nbank] class indices. */
static cs_status read_bank_class(cs_model *m, const cs_safetensors *st, int *found, cs_error *err) {
    const cs_st_tensor *t = cs_st_find(st, CS_OOD_BANK_CLASS);
    if (!t) return CS_OK;
    (*found)++;
    int n = m->ood.nbank, K = m->net.nclasses;
    cs_st_tensor want = {.name = CS_OOD_BANK_CLASS, .ndim = 1, .shape = {n}};
    if (!(m->ood.bank_class = malloc(sizeof(float) * (size_t)n)))
        return cs_fail(err, CS_ENOMEM, "out of memory for the bank's classes");
    cs_status s = read_tensor(st, &want, m->ood.bank_class, (size_t)n, "the class of each bank tile", err);
    for (int b = 0; !s && b < n; b++) {
        float c = m->ood.bank_class[b];
        if (!(c >= 0 && c < K && c == floorf(c)))
            s = cs_fail(err, CS_EINPUT, "tensor %s holds %g at %d, which is not a class index from 0 to %d",
                        CS_OOD_BANK_CLASS, c, b, K - 1);
    }
    return s;
}

/* The kNN bank, if the file has one: [n][P] for the network's P penultimate
   features, and its classes if it has them. */
static cs_status read_bank(cs_model *m, const cs_safetensors *st, int *found, cs_error *err) {
    const cs_st_tensor *t = cs_st_find(st, CS_OOD_BANK);
    *found = t != NULL;
    if (!t && cs_st_find(st, CS_OOD_BANK_CLASS))
        return cs_fail(err, CS_EINPUT, "the model file has a tensor %s but no %s whose tiles' classes it gives",
                       CS_OOD_BANK_CLASS, CS_OOD_BANK);
    if (!t) return CS_OK;
    int P;
    cs_ood_penultimate(&m->net, &P);
    if (P < 1 || P > CS_MAX_OOD_DIM)
        return cs_fail(err, CS_EINPUT, "the model file has a tensor %s, but arch \"%s\" has no dense layer of at "
                       "most %d inputs after its pooling to go with it", CS_OOD_BANK, m->net.arch, CS_MAX_OOD_DIM);
    int64_t n = t->ndim == 2 ? t->shape[0] : 0;
    if (n < 1 || n > CS_MAX_OOD_BANK)
        return cs_fail(err, CS_EINPUT, "tensor %s must hold from 1 to %d tiles of %d penultimate features each "
                       "([tiles, %d])", CS_OOD_BANK, CS_MAX_OOD_BANK, P, P);
    cs_st_tensor want = {.name = CS_OOD_BANK, .ndim = 2, .shape = {n, P}};
    char what[64];
    snprintf(what, sizeof what, "a bank of %d penultimate features a tile", P);
    if (!(m->ood.bank = malloc(sizeof(float) * (size_t)n * P))) return cs_fail(err, CS_ENOMEM, "out of memory for the bank");
    cs_status s = read_tensor(st, &want, m->ood.bank, (size_t)n * P, what, err);
    if (!s) m->ood.nbank = (int)n, m->ood.bank_dim = P;
    return s ? s : read_bank_class(m, st, found, err);
}

/* The statistics, if the file has them: both tensors, of the network's GAP
   width or, for mahalanobis_penultimate, its penultimate width (the metadata,
   read after, must say the score that goes with the width); and the bank. */
static cs_status read_ood(cs_model *m, const cs_safetensors *st, int *found, cs_error *err) {
    cs_status s = read_bank(m, st, found, err);
    if (s) return s;
    const cs_st_tensor *means = cs_st_find(st, CS_OOD_MEANS);
    int maha = (means != NULL) + (cs_st_find(st, CS_OOD_PRECISION) != NULL);
    *found += maha;
    if (!maha) return CS_OK;
    int D = cs_ood_dim(&m->net), K = m->net.nclasses, P;
    cs_ood_penultimate(&m->net, &P);
    if (means && means->ndim == 2 && means->shape[1] == P) D = P;
    if (D < 1 || D > CS_MAX_OOD_DIM)
        return cs_fail(err, CS_EINPUT, "the model file has out-of-distribution statistics, but arch \"%s\" has no "
                       "global average pooling of at most %d channels to go with them", m->net.arch, CS_MAX_OOD_DIM);
    cs_st_tensor t[2];
    ood_tensors(m, D, t);
    char what[64];
    snprintf(what, sizeof what, "%d classes of %d pooled features", K, D);
    m->ood.means = malloc(sizeof(float) * K * D);
    m->ood.precision = malloc(sizeof(float) * D * D);
    if (!m->ood.means || !m->ood.precision) return cs_fail(err, CS_ENOMEM, "out of memory for the statistics");
    s = read_tensor(st, &t[0], m->ood.means, (size_t)K * D, what, err);
    if (!s) s = read_tensor(st, &t[1], m->ood.precision, (size_t)D * D, what, err);
    if (!s) m->ood.dim = D;
    return s;
}

/* Every tensor the network has, F32, of its exact shape, finite; the
   statistics if there are; and no other. */
static cs_status read_weights(cs_model *m, const cs_safetensors *st, cs_error *err) {
    const cs_net *net = &m->net;
    int expected = 0;
    char what[160];
    snprintf(what, sizeof what, "arch \"%.100s\" with %d classes", net->arch, net->nclasses);
    for (int i = 0; i < net->nlayers; i++) {
        const cs_layer *L = &net->layers[i];
        for (int bias = 0; bias < 2 && L->nweight; bias++) {
            cs_st_tensor want;
            param_tensor(L, bias, &want);
            cs_status s = read_tensor(st, &want, bias ? L->bias : L->weight, bias ? L->nbias : L->nweight, what, err);
            if (s) return s;
            expected++;
        }
    }
    int found;
    cs_status s = read_ood(m, st, &found, err);
    if (s) return s;
    if (st->ntensors == expected + found) return CS_OK;
    for (int k = 0; k < st->ntensors; k++) { /* names are unique, so one is not the network's */
        const char *name = st->tensors[k].name;
        int known = !strcmp(name, CS_OOD_MEANS) || !strcmp(name, CS_OOD_PRECISION) || !strcmp(name, CS_OOD_BANK) ||
                    !strcmp(name, CS_OOD_BANK_CLASS);
        for (int i = 0; i < net->nlayers; i++)
            for (int bias = 0; bias < 2 && net->layers[i].nweight; bias++) {
                cs_st_tensor want;
                param_tensor(&net->layers[i], bias, &want);
                known |= !strcmp(want.name, st->tensors[k].name);
            }
        if (!known)
            return cs_fail(err, CS_EINPUT, "the model file has a tensor %s that arch \"%s\" does not have",
                           st->tensors[k].name, net->arch);
    }
    return CS_OK;
}

cs_status cs_model_read(cs_model *m, const void *data, size_t size, cs_error *err) {
    memset(m, 0, sizeof *m);
    cs_safetensors st;
    cs_status s = cs_st_parse(&st, data, size, err);
    if (s) return s;
    s = build_net(m, &st, err);
    if (!s) s = read_weights(m, &st, err);
    if (!s) s = apply_metadata(m, st.meta, st.nmeta, err);
    if (!s && m->ood.bank && !cs_ood_by_image(m->ood.kind) && m->ood.k > m->ood.nbank)
        s = cs_fail(err, CS_EINPUT, "metadata ood_k %d is more than the %d tiles of tensor %s", m->ood.k,
                    m->ood.nbank, CS_OOD_BANK);
    int width;
    cs_ood_layer(m, &width);
    if (!s && m->ood.means && cs_ood_reads_means(m->ood.kind) && m->ood.dim != width)
        s = cs_fail(err, CS_EINPUT, "tensor %s has %d features a class, but metadata ood_score %s reads %d",
                    CS_OOD_MEANS, m->ood.dim, cs_ood_kind_name(m->ood.kind), width);
    cs_st_free(&st);
    if (s) {
        cs_model_free(m);
        return s;
    }
    char hex[65];
    cs_sha256_hex(data, size, hex);
    memcpy(m->hash, hex, CS_MODEL_HASH_DIGITS);
    m->hash[CS_MODEL_HASH_DIGITS] = 0;
    return CS_OK;
}

cs_status cs_model_write(const cs_model *m, uint8_t **data, size_t *size, cs_error *err) {
    cs_st_tensor t[2 * CS_MAX_LAYERS + 4];
    const float *values[2 * CS_MAX_LAYERS + 4];
    int n = 0;
    if (m->ood.dim && m->ood.means && m->ood.precision) {
        ood_tensors(m, m->ood.dim, t + n);
        values[n++] = m->ood.means;
        values[n++] = m->ood.precision;
    }
    if (m->ood.nbank && m->ood.bank) {
        t[n] = (cs_st_tensor){.name = CS_OOD_BANK, .ndim = 2, .shape = {m->ood.nbank, m->ood.bank_dim}};
        values[n++] = m->ood.bank;
        if (m->ood.bank_class) {
            t[n] = (cs_st_tensor){.name = CS_OOD_BANK_CLASS, .ndim = 1, .shape = {m->ood.nbank}};
            values[n++] = m->ood.bank_class;
        }
    }
    for (int i = 0; i < m->net.nlayers; i++) {
        const cs_layer *L = &m->net.layers[i];
        if (!L->nweight) continue;
        param_tensor(L, 0, &t[n]);
        values[n++] = L->weight;
        param_tensor(L, 1, &t[n]);
        values[n++] = L->bias;
    }
    return cs_st_write(m->meta, m->nmeta, t, values, n, data, size, err);
}

/* ---------------------------------------------------------------- files */

cs_status cs_model_load(cs_model *m, const char *path, cs_error *err) {
    memset(m, 0, sizeof *m);
    struct stat sb;
    if (stat(path, &sb))
        return cs_fail(err, CS_EIO, "cannot open the model file %s: %s", path, strerror(errno));
    if (S_ISDIR(sb.st_mode)) return cs_fail(err, CS_EINPUT, "%s is a folder, not a model file", path);
    if (!S_ISREG(sb.st_mode)) return cs_fail(err, CS_EINPUT, "%s is not a regular file", path);
    cs_error e;
    if (cs_model_check((long long)sb.st_size, &e)) return cs_fail_in(err, path, &e);
    size_t size = (size_t)sb.st_size;
    uint8_t *data = malloc(size ? size : 1);
    if (!data) return cs_fail(err, CS_ENOMEM, "out of memory reading %s", path);
    FILE *f = fopen(path, "rb");
    if (!f) {
        free(data);
        return cs_fail(err, CS_EIO, "cannot open the model file %s: %s", path, strerror(errno));
    }
    size_t got = fread(data, 1, size, f);
    fclose(f);
    cs_status s;
    if (got != size) {
        s = cs_fail(err, CS_EIO, "cannot read all of the model file %s", path);
    } else if ((s = cs_model_read(m, data, size, err)) && err) { /* say which file */
        char msg[sizeof err->msg];
        if (snprintf(msg, sizeof msg, "%s: %s", path, err->msg) > 0) strcpy(err->msg, msg);
    }
    free(data);
    return s;
}

/* A file system that cannot sync (EINVAL, ENOTSUP) is no reason to fail. */
static int synced(FILE *f) { return !fsync(fileno(f)) || errno == EINVAL || errno == ENOTSUP; }

cs_status cs_model_save(const cs_model *m, const char *path, cs_error *err) {
    uint8_t *data;
    size_t size;
    cs_status s = cs_model_write(m, &data, &size, err);
    if (s) return s;
    char *tmp = malloc(strlen(path) + 5);
    if (!tmp) {
        free(data);
        return cs_fail(err, CS_ENOMEM, "out of memory saving %s", path);
    }
    sprintf(tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "wb");
    int ok = f != NULL;
    if (f) {
        ok = fwrite(data, 1, size, f) == size && !fflush(f) && synced(f); /* on disk before the rename */
        ok = !fclose(f) && ok;
    }
    if (!ok || rename(tmp, path)) {
        s = cs_fail(err, CS_EIO, "cannot save the model to %s: %s", path, strerror(errno));
        remove(tmp);
    }
    free(tmp);
    free(data);
    return s;
}
