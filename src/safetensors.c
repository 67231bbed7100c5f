/* safetensors.c: the file format of models (an 8-byte little-endian header
   length, a JSON header {name: {dtype, shape, data_offsets}, "__metadata__":
   {key: string}}, then the raw little-endian tensors), read with every length,
   shape and offset checked, because model files come from strangers. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

/* Strict: primitives are numbers, true, false, null. Parent links keep jsmn
   linear on wide objects (without them every comma scans back over all tokens). */
#define JSMN_STATIC
#define JSMN_STRICT
#define JSMN_PARENT_LINKS
#include <jsmn.h>

/* A safetensors header nests at most this deep: {name: {shape: [...]}}.
   Checked before jsmn, which would take quadratic time closing deep nests. */
#define MAX_DEPTH 3

static const struct {
    const char *name;
    int size;
} dtypes[] = {
    {"F64", 8}, {"F32", 4}, {"F16", 2}, {"BF16", 2}, {"F8_E5M2", 1}, {"F8_E4M3", 1},
    {"I64", 8}, {"I32", 4}, {"I16", 2}, {"I8", 1},
    {"U64", 8}, {"U32", 4}, {"U16", 2}, {"U8", 1}, {"BOOL", 1},
};

static int dtype_size(const char *s, int len) {
    for (size_t i = 0; i < sizeof dtypes / sizeof dtypes[0]; i++)
        if ((int)strlen(dtypes[i].name) == len && !memcmp(dtypes[i].name, s, len)) return dtypes[i].size;
    return 0;
}

static uint64_t load_le64(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

static int nesting_depth(const char *s, size_t n) {
    int depth = 0, max = 0, in_string = 0;
    for (size_t i = 0; i < n; i++) {
        if (in_string) {
            if (s[i] == '\\') i++;
            else if (s[i] == '"') in_string = 0;
        } else if (s[i] == '"') {
            in_string = 1;
        } else if (s[i] == '{' || s[i] == '[') {
            if (++depth > max) max = depth;
        } else if (s[i] == '}' || s[i] == ']') {
            depth--;
        }
    }
    return max;
}

static char *put_utf8(char *o, unsigned c) {
    if (c < 0x80) {
        *o++ = (char)c;
    } else if (c < 0x800) {
        *o++ = (char)(0xC0 | c >> 6);
        *o++ = (char)(0x80 | (c & 63));
    } else if (c < 0x10000) {
        *o++ = (char)(0xE0 | c >> 12);
        *o++ = (char)(0x80 | (c >> 6 & 63));
        *o++ = (char)(0x80 | (c & 63));
    } else {
        *o++ = (char)(0xF0 | c >> 18);
        *o++ = (char)(0x80 | (c >> 12 & 63));
        *o++ = (char)(0x80 | (c >> 6 & 63));
        *o++ = (char)(0x80 | (c & 63));
    }
    return o;
}

static int hex4(const char *s, size_t left) {
    if (left < 4) return -1;
    int v = 0;
    for (int i = 0; i < 4; i++) {
        int c = (unsigned char)s[i];
        int d = c >= '0' && c <= '9' ? c - '0' : (c | 32) >= 'a' && (c | 32) <= 'f' ? (c | 32) - 'a' + 10 : -1;
        if (d < 0) return -1;
        v = v * 16 + d;
    }
    return v;
}

/* The JSON string s[0, n) unescaped to UTF-8 in out, which has room for n + 1
   bytes (escapes only ever shrink). Returns the length, or -1 for what a C
   string cannot hold or JSON does not allow: \u0000, a lone surrogate, a raw
   control character, an unknown escape. */
static long unescape(char *out, const char *s, size_t n) {
    char *o = out;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20) return -1;
        if (c != '\\') {
            *o++ = (char)c;
            continue;
        }
        if (++i == n) return -1;
        switch (s[i]) {
        case '"': case '\\': case '/': *o++ = s[i]; break;
        case 'b': *o++ = '\b'; break;
        case 'f': *o++ = '\f'; break;
        case 'n': *o++ = '\n'; break;
        case 'r': *o++ = '\r'; break;
        case 't': *o++ = '\t'; break;
        case 'u': {
            int u = hex4(s + i + 1, n - i - 1);
            i += 4;
            if (u <= 0 || (u >= 0xDC00 && u < 0xE000)) return -1;
            unsigned cp = (unsigned)u;
            if (u >= 0xD800 && u < 0xDC00) { /* a surrogate pair: \uD83D\uDE00 */
                int lo = i + 2 < n && s[i + 1] == '\\' && s[i + 2] == 'u' ? hex4(s + i + 3, n - i - 3) : -1;
                if (lo < 0xDC00 || lo >= 0xE000) return -1;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (unsigned)(lo - 0xDC00);
                i += 6;
            }
            o = put_utf8(o, cp);
            break;
        }
        default: return -1;
        }
    }
    *o = 0;
    return (long)(o - out);
}

typedef struct {
    const char *js;
    const jsmntok_t *tok;
    int i, n;     /* the next token, of n */
    cs_error *err;
} walker;

/* Past the end (a key without a value in broken JSON) comes a token of no type,
   which every check rejects. */
static const jsmntok_t *next(walker *w) {
    static const jsmntok_t none = {JSMN_UNDEFINED, 0, 0, 0, -1};
    return w->i < w->n ? &w->tok[w->i++] : &none;
}

static int tok_is(const walker *w, const jsmntok_t *t, const char *s) {
    return t->end - t->start == (int)strlen(s) && !memcmp(w->js + t->start, s, strlen(s));
}

/* A JSON non-negative integer (the header's shapes and offsets). */
static int tok_uint(const walker *w, const jsmntok_t *t, uint64_t *v) {
    if (t->type != JSMN_PRIMITIVE || t->size != 0 || t->end == t->start) return 0;
    *v = 0;
    for (int k = t->start; k < t->end; k++) {
        unsigned d = (unsigned)(w->js[k] - '0');
        if (d > 9 || *v > (UINT64_MAX - d) / 10) return 0;
        *v = *v * 10 + d;
    }
    return 1;
}

/* A key of an object: a string with one value after it. */
static int tok_key(const jsmntok_t *t) { return t->type == JSMN_STRING && t->size == 1; }

static char *tok_string(const walker *w, const jsmntok_t *t) {
    char *s = malloc((size_t)(t->end - t->start) + 1);
    if (s && unescape(s, w->js + t->start, (size_t)(t->end - t->start)) < 0) {
        free(s);
        return NULL;
    }
    return s;
}

static cs_status parse_metadata(cs_safetensors *st, walker *w) {
    const jsmntok_t *obj = next(w);
    if (obj->type != JSMN_OBJECT)
        return cs_fail(w->err, CS_EINPUT, "the model file's __metadata__ is not an object of strings");
    st->meta = calloc((size_t)obj->size + 1, sizeof *st->meta);
    if (!st->meta) return cs_fail(w->err, CS_ENOMEM, "out of memory reading the metadata");
    for (int k = 0; k < obj->size; k++) {
        const jsmntok_t *key = next(w), *val = next(w);
        if (!tok_key(key)) return cs_fail(w->err, CS_EINPUT, "the model file's __metadata__ has a key that is not a string");
        cs_meta *e = &st->meta[st->nmeta++];
        e->key = tok_string(w, key);
        if (!e->key)
            return cs_fail(w->err, CS_EINPUT, "a metadata key has a bad escape or a control character: \"%.*s\"",
                           key->end - key->start < 40 ? key->end - key->start : 40, w->js + key->start);
        if (val->type != JSMN_STRING || val->size != 0)
            return cs_fail(w->err, CS_EINPUT, "metadata %s is not a string (safetensors metadata holds only strings)",
                           e->key);
        e->value = tok_string(w, val);
        if (!e->value)
            return cs_fail(w->err, CS_EINPUT, "metadata %s has a bad escape or a control character", e->key);
    }
    return CS_OK;
}

/* One tensor's {dtype, shape, data_offsets}; sizes are checked against the
   data section by the caller. */
static cs_status parse_tensor(cs_st_tensor *t, walker *w, size_t data_size) {
    const jsmntok_t *obj = next(w);
    if (obj->type != JSMN_OBJECT)
        return cs_fail(w->err, CS_EINPUT, "tensor %s is not an object {dtype, shape, data_offsets}", t->name);
    int dsize = 0, have_shape = 0, have_offsets = 0;
    uint64_t begin = 0, end = 0;
    for (int k = 0; k < obj->size; k++) {
        const jsmntok_t *key = next(w), *val = next(w);
        if (!tok_key(key)) return cs_fail(w->err, CS_EINPUT, "tensor %s has a field that is not a string", t->name);
        if (tok_is(w, key, "dtype") && !dsize) {
            int len = val->end - val->start;
            if (val->type != JSMN_STRING || val->size != 0 || !(dsize = dtype_size(w->js + val->start, len)))
                return cs_fail(w->err, CS_EINPUT, "tensor %s has dtype %.*s, which safetensors does not define",
                               t->name, len < 16 ? len : 16, w->js + val->start);
            memcpy(t->dtype, w->js + val->start, (size_t)len);
        } else if (tok_is(w, key, "shape") && !have_shape) {
            if (val->type != JSMN_ARRAY || val->size > 8)
                return cs_fail(w->err, CS_EINPUT, "tensor %s has a shape that is not a list of at most 8 sizes", t->name);
            t->ndim = val->size;
            for (int d = 0; d < t->ndim; d++) {
                uint64_t v;
                if (!tok_uint(w, next(w), &v) || v > INT64_MAX)
                    return cs_fail(w->err, CS_EINPUT, "tensor %s has a shape that is not a list of sizes", t->name);
                t->shape[d] = (int64_t)v;
            }
            have_shape = 1;
        } else if (tok_is(w, key, "data_offsets") && !have_offsets) {
            if (val->type != JSMN_ARRAY || val->size != 2 || !tok_uint(w, next(w), &begin) || !tok_uint(w, next(w), &end))
                return cs_fail(w->err, CS_EINPUT, "tensor %s has data_offsets that are not [begin, end]", t->name);
            have_offsets = 1;
        } else {
            return cs_fail(w->err, CS_EINPUT, "tensor %s has an unknown or repeated field \"%.*s\"", t->name,
                           key->end - key->start < 40 ? key->end - key->start : 40, w->js + key->start);
        }
    }
    if (!dsize || !have_shape || !have_offsets)
        return cs_fail(w->err, CS_EINPUT, "tensor %s lacks its %s", t->name,
                       !dsize ? "dtype" : !have_shape ? "shape" : "data_offsets");

    uint64_t count = 1;
    for (int d = 0; d < t->ndim; d++) {
        if (t->shape[d] && count > UINT64_MAX / (uint64_t)t->shape[d])
            return cs_fail(w->err, CS_EINPUT, "tensor %s has a shape whose size overflows", t->name);
        count *= (uint64_t)t->shape[d];
    }
    if (begin > end)
        return cs_fail(w->err, CS_EINPUT, "tensor %s has data_offsets [%" PRIu64 ", %" PRIu64 "] that end before they begin",
                       t->name, begin, end);
    if (end > data_size)
        return cs_fail(w->err, CS_EINPUT,
                       "tensor %s has data_offsets [%" PRIu64 ", %" PRIu64 "] outside the %zu bytes of data",
                       t->name, begin, end, data_size);
    if (count > UINT64_MAX / (uint64_t)dsize || count * (uint64_t)dsize != end - begin)
        return cs_fail(w->err, CS_EINPUT,
                       "tensor %s has data_offsets [%" PRIu64 ", %" PRIu64 "] for %" PRIu64
                       " bytes, but its dtype and shape need %" PRIu64 " values of %d bytes",
                       t->name, begin, end, end - begin, count, dsize);
    t->offset = (size_t)begin;
    t->nbytes = (size_t)(end - begin);
    return CS_OK;
}

static int by_name(const void *a, const void *b) {
    return strcmp((*(const cs_st_tensor *const *)a)->name, (*(const cs_st_tensor *const *)b)->name);
}

static int by_offset(const void *a, const void *b) {
    const cs_st_tensor *x = *(const cs_st_tensor *const *)a, *y = *(const cs_st_tensor *const *)b;
    if (x->offset != y->offset) return x->offset < y->offset ? -1 : 1;
    return (x->nbytes > y->nbytes) - (x->nbytes < y->nbytes);
}

static int by_key(const void *a, const void *b) {
    return strcmp((*(const cs_meta *const *)a)->key, (*(const cs_meta *const *)b)->key);
}

/* Names and keys are unique, and the tensors tile the data section exactly:
   no overlap, no gap, nothing after (as the reference implementation demands). */
static cs_status check_layout(const cs_safetensors *st, cs_error *err) {
    int n = st->ntensors > st->nmeta ? st->ntensors : st->nmeta;
    const void **v = malloc(((size_t)n + 1) * sizeof *v);
    if (!v) return cs_fail(err, CS_ENOMEM, "out of memory checking the model file");
    cs_status s = CS_OK;

    for (int i = 0; i < st->nmeta; i++) v[i] = &st->meta[i];
    qsort(v, (size_t)st->nmeta, sizeof *v, by_key);
    for (int i = 1; i < st->nmeta && !s; i++)
        if (!by_key(&v[i - 1], &v[i]))
            s = cs_fail(err, CS_EINPUT, "metadata %s appears twice", ((const cs_meta *)v[i])->key);

    for (int i = 0; i < st->ntensors; i++) v[i] = &st->tensors[i];
    qsort(v, (size_t)st->ntensors, sizeof *v, by_name);
    for (int i = 1; i < st->ntensors && !s; i++)
        if (!by_name(&v[i - 1], &v[i]))
            s = cs_fail(err, CS_EINPUT, "tensor %s appears twice", ((const cs_st_tensor *)v[i])->name);

    qsort(v, (size_t)st->ntensors, sizeof *v, by_offset);
    size_t at = 0;
    for (int i = 0; i < st->ntensors && !s; i++) {
        const cs_st_tensor *t = v[i];
        if (t->offset < at)
            s = cs_fail(err, CS_EINPUT, "tensor %s overlaps tensor %s in the data", t->name,
                        ((const cs_st_tensor *)v[i - 1])->name);
        else if (t->offset > at)
            s = cs_fail(err, CS_EINPUT, "tensor %s starts at byte %zu of the data, leaving a gap after byte %zu",
                        t->name, t->offset, at);
        at = t->offset + t->nbytes;
    }
    if (!s && at != st->data_size)
        s = cs_fail(err, CS_EINPUT, "the data section has %zu bytes but the tensors fill only %zu", st->data_size, at);
    free(v);
    return s;
}

static cs_status parse_header(cs_safetensors *st, const char *js, size_t n, cs_error *err) {
    if (memchr(js, 0, n)) return cs_fail(err, CS_EINPUT, "the model file's header contains a NUL byte, so it is not JSON");
    if (nesting_depth(js, n) > MAX_DEPTH)
        return cs_fail(err, CS_EINPUT, "the model file's header nests deeper than a safetensors header does");
    jsmn_parser p;
    jsmn_init(&p);
    int ntok = jsmn_parse(&p, js, n, NULL, 0);
    if (ntok < 1) return cs_fail(err, CS_EINPUT, "the model file's header is not JSON (is this a safetensors file?)");
    jsmntok_t *tok = malloc((size_t)ntok * sizeof *tok);
    if (!tok) return cs_fail(err, CS_ENOMEM, "out of memory reading the model file's header");
    jsmn_init(&p);
    walker w = {js, tok, 0, ntok, err};
    cs_status s = CS_OK;
    if (jsmn_parse(&p, js, n, tok, (unsigned)ntok) != ntok) {
        s = cs_fail(err, CS_EINPUT, "the model file's header is not JSON (is this a safetensors file?)");
        goto done;
    }
    const jsmntok_t *top = next(&w);
    if (top->type != JSMN_OBJECT) {
        s = cs_fail(err, CS_EINPUT, "the model file's header is not a JSON object");
        goto done;
    }
    st->tensors = calloc((size_t)top->size + 1, sizeof *st->tensors);
    if (!st->tensors) {
        s = cs_fail(err, CS_ENOMEM, "out of memory reading the model file's header");
        goto done;
    }
    for (int k = 0; k < top->size && !s; k++) {
        const jsmntok_t *key = next(&w);
        long len = -1;
        char name[sizeof st->tensors->name + 1];
        if (!tok_key(key)) {
            s = cs_fail(err, CS_EINPUT, "the model file's header has an entry whose name is not a string");
        } else if (key->end - key->start > (int)sizeof name - 1 ||
                   (len = unescape(name, js + key->start, (size_t)(key->end - key->start))) >= (long)sizeof st->tensors->name) {
            s = cs_fail(err, CS_EINPUT, "the tensor name \"%.40s...\" is longer than %zu bytes", js + key->start,
                        sizeof st->tensors->name - 1);
        } else if (len < 0) {
            s = cs_fail(err, CS_EINPUT, "the tensor name \"%.*s\" has a bad escape or a control character",
                        key->end - key->start, js + key->start);
        } else if (!strcmp(name, "__metadata__")) {
            s = st->meta ? cs_fail(err, CS_EINPUT, "the model file's header has two __metadata__ entries") : parse_metadata(st, &w);
        } else {
            cs_st_tensor *t = &st->tensors[st->ntensors++];
            memcpy(t->name, name, (size_t)len + 1);
            s = parse_tensor(t, &w, st->data_size);
        }
    }
    if (!s && w.i != ntok) s = cs_fail(err, CS_EINPUT, "the model file's header has more after its JSON object");
done:
    free(tok);
    return s;
}

cs_status cs_model_check(long long bytes, cs_error *err) {
    if (bytes <= CS_MAX_MODEL_BYTES) return CS_OK;
    char has[32], limit[32];
    return cs_fail(err, CS_ELIMIT, "the model file has %s, more than the limit of %s", cs_mib(has, sizeof has, bytes),
                   cs_mib(limit, sizeof limit, CS_MAX_MODEL_BYTES));
}

cs_status cs_st_parse(cs_safetensors *st, const void *file, size_t size, cs_error *err) {
    memset(st, 0, sizeof *st);
    const uint8_t *bytes = file;
    if (size > (size_t)CS_MAX_MODEL_BYTES) return cs_model_check((long long)size, err);
    if (size < 8)
        return cs_fail(err, CS_EINPUT, "the model file has %zu bytes, too few for a safetensors header", size);
    uint64_t n = load_le64(bytes);
    if (n > size - 8)
        return cs_fail(err, CS_EINPUT,
                       "the model file's header length (%" PRIu64 " bytes) is more than the %zu bytes after it "
                       "(a truncated file, or not safetensors)", n, size - 8);
    if (n > CS_MAX_META_BYTES)
        return cs_fail(err, CS_ELIMIT, "the model file's header has %" PRIu64 " bytes, more than the limit of %d", n,
                       CS_MAX_META_BYTES);
    st->data = bytes + 8 + n;
    st->data_size = size - 8 - (size_t)n;
    cs_status s = parse_header(st, (const char *)bytes + 8, (size_t)n, err);
    if (!s) s = check_layout(st, err);
    if (s) cs_st_free(st);
    return s;
}

void cs_st_free(cs_safetensors *st) {
    for (int i = 0; i < st->nmeta; i++) {
        free(st->meta[i].key);
        free(st->meta[i].value);
    }
    free(st->meta);
    free(st->tensors);
    memset(st, 0, sizeof *st);
}

const cs_st_tensor *cs_st_find(const cs_safetensors *st, const char *name) {
    for (int i = 0; i < st->ntensors; i++)
        if (!strcmp(st->tensors[i].name, name)) return &st->tensors[i];
    return NULL;
}

cs_status cs_st_read_f32(const cs_safetensors *st, const char *name, float *dst, size_t n, cs_error *err) {
    const cs_st_tensor *t = cs_st_find(st, name);
    if (!t) return cs_fail(err, CS_EINPUT, "the model file has no tensor %s", name);
    if (strcmp(t->dtype, "F32"))
        return cs_fail(err, CS_EINPUT, "tensor %s is %s, not F32", name, t->dtype);
    if (t->nbytes != n * 4)
        return cs_fail(err, CS_EINPUT, "tensor %s has %zu values, not %zu", name, t->nbytes / 4, n);
    const uint8_t *p = st->data + t->offset;
    for (size_t i = 0; i < n; i++, p += 4) {
        uint32_t u = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
        memcpy(&dst[i], &u, 4);
    }
    return CS_OK;
}

/* ---------------------------------------------------------------- writing */

typedef struct {
    char *s;
    size_t n, cap;
    int oom;
} text;

static void put(text *b, const char *s, size_t n) {
    if (b->oom) return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = (b->n + n + 1) * 2;
        char *p = realloc(b->s, cap);
        if (!p) {
            b->oom = 1;
            return;
        }
        b->s = p;
        b->cap = cap;
    }
    memcpy(b->s + b->n, s, n);
    b->n += n;
    b->s[b->n] = 0;
}

static void putf(text *b, const char *fmt, ...) {
    char tmp[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    put(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

static void put_string(text *b, const char *s) {
    put(b, "\"", 1);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            char esc[2] = {'\\', (char)c};
            put(b, esc, 2);
        } else if (c < 0x20) {
            putf(b, "\\u%04x", c);
        } else {
            put(b, s, 1);
        }
    }
    put(b, "\"", 1);
}

void cs_st_shape_str(char *buf, size_t cap, const int64_t *shape, int ndim) {
    size_t n = (size_t)snprintf(buf, cap, "[");
    for (int d = 0; d < ndim && n < cap; d++)
        n += (size_t)snprintf(buf + n, cap - n, "%s%" PRId64, d ? "," : "", shape[d]);
    if (n < cap) snprintf(buf + n, cap - n, "]");
}

static size_t numel(const cs_st_tensor *t) {
    size_t n = 1;
    for (int d = 0; d < t->ndim; d++) n *= (size_t)t->shape[d];
    return n;
}

cs_status cs_st_write(const cs_meta *meta, int nmeta, const cs_st_tensor *tensors, const float *const *data,
                      int ntensors, uint8_t **out, size_t *size, cs_error *err) {
    *out = NULL;
    *size = 0;
    text h = {0};
    put(&h, "{", 1);
    if (nmeta) {
        put(&h, "\"__metadata__\":{", 16);
        for (int i = 0; i < nmeta; i++) {
            if (i) put(&h, ",", 1);
            put_string(&h, meta[i].key);
            put(&h, ":", 1);
            put_string(&h, meta[i].value);
        }
        put(&h, "}", 1);
    }
    size_t at = 0;
    for (int i = 0; i < ntensors; i++) {
        const cs_st_tensor *t = &tensors[i];
        size_t count = numel(t);
        char shape[8 * 21 + 3];
        cs_st_shape_str(shape, sizeof shape, t->shape, t->ndim);
        if (nmeta || i) put(&h, ",", 1);
        put_string(&h, t->name);
        putf(&h, ":{\"dtype\":\"F32\",\"shape\":%s,\"data_offsets\":[%zu,%zu]}", shape, at, at + 4 * count);
        at += 4 * count;
    }
    put(&h, "}", 1);
    while (h.n % 8) put(&h, " ", 1); /* the data then starts 8-byte aligned */
    if (h.oom) {
        free(h.s);
        return cs_fail(err, CS_ENOMEM, "out of memory writing the model file");
    }
    if (h.n > CS_MAX_META_BYTES || 8 + h.n + at > (size_t)CS_MAX_MODEL_BYTES) {
        free(h.s);
        return cs_fail(err, CS_ELIMIT, "the model file would have a %zu-byte header and %zu bytes of weights, more "
                       "than a model file may have (%d and %lld)", h.n, at, CS_MAX_META_BYTES,
                       (long long)CS_MAX_MODEL_BYTES);
    }
    uint8_t *p = malloc(8 + h.n + at);
    if (!p) {
        free(h.s);
        return cs_fail(err, CS_ENOMEM, "out of memory writing the model file");
    }
    *out = p;
    *size = 8 + h.n + at;
    for (int i = 0; i < 8; i++) *p++ = (uint8_t)((uint64_t)h.n >> (8 * i));
    memcpy(p, h.s, h.n);
    p += h.n;
    free(h.s);
    for (int i = 0; i < ntensors; i++) {
        for (size_t k = 0, count = numel(&tensors[i]); k < count; k++) { /* little-endian on any host */
            uint32_t u;
            memcpy(&u, &data[i][k], 4);
            for (int b = 0; b < 4; b++) *p++ = (uint8_t)(u >> (8 * b));
        }
    }
    return CS_OK;
}
