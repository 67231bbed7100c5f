/* test_safetensors.c: the model file's format, read back what it writes and
   refuse with one clear sentence whatever a stranger's file gets wrong. */
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "test.h"

/* A file of the given JSON header and `data` bytes of zeros. */
static uint8_t *file_of(const char *json, size_t data, size_t *size) {
    size_t n = strlen(json);
    *size = 8 + n + data;
    uint8_t *f = calloc(1, *size);
    for (int i = 0; i < 8; i++) f[i] = (uint8_t)((uint64_t)n >> (8 * i));
    memcpy(f + 8, json, n);
    return f;
}

/* Parsing must fail with code and a message containing culprit. */
static void expect_bad_bytes(const uint8_t *f, size_t size, cs_status code, const char *culprit) {
    cs_safetensors st;
    cs_error err = {0};
    cs_status s = cs_st_parse(&st, f, size, &err);
    CHECK(s == code);
    CHECK(strstr(err.msg, culprit) != NULL);
    if (s != code || !strstr(err.msg, culprit)) fprintf(stderr, "  got %d: %s\n", s, err.msg);
    CHECK(st.tensors == NULL && st.meta == NULL);
}

static void expect_bad(const char *json, size_t data, cs_status code, const char *culprit) {
    size_t size;
    uint8_t *f = file_of(json, data, &size);
    expect_bad_bytes(f, size, code, culprit);
    free(f);
}

static void test_round_trip(void) {
    cs_meta meta[] = {{"arch", "conv4,gap,dense"},
                      {"note", "a \"quoted\" back\\slash\nnew line, tab\t, \x01, caf\xc3\xa9 \xf0\x9f\x98\x80"}};
    cs_st_tensor t[2] = {{.name = "fc1.weight", .ndim = 2, .shape = {2, 3}}, {.name = "fc1.bias", .ndim = 1, .shape = {2}}};
    float w[6] = {1, -2, 3.5f, 1e-30f, -0.0f, 7}, b[2] = {0.25f, -1};
    const float *data[2] = {w, b};
    uint8_t *f;
    size_t size;
    cs_error err = {0};
    CHECK(cs_st_write(meta, 2, t, data, 2, &f, &size, &err) == CS_OK);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = hlen << 8 | f[i];
    CHECK(hlen % 8 == 0);
    CHECK(size == 8 + hlen + 32);

    cs_safetensors st;
    CHECK(cs_st_parse(&st, f, size, &err) == CS_OK);
    CHECK(st.nmeta == 2 && st.ntensors == 2);
    if (st.nmeta == 2) {
        CHECK(!strcmp(st.meta[0].key, "arch") && !strcmp(st.meta[0].value, "conv4,gap,dense"));
        CHECK(!strcmp(st.meta[1].value, meta[1].value));
    }
    const cs_st_tensor *tw = cs_st_find(&st, "fc1.weight");
    CHECK(tw && tw->ndim == 2 && tw->shape[0] == 2 && tw->shape[1] == 3 && !strcmp(tw->dtype, "F32"));
    CHECK(tw && tw->offset == 0 && tw->nbytes == 24);
    CHECK(cs_st_find(&st, "fc2.weight") == NULL);
    float w2[6], b2[2];
    CHECK(cs_st_read_f32(&st, "fc1.weight", w2, 6, &err) == CS_OK);
    CHECK(cs_st_read_f32(&st, "fc1.bias", b2, 2, &err) == CS_OK);
    CHECK(!memcmp(w, w2, sizeof w) && !memcmp(b, b2, sizeof b));
    CHECK(cs_st_read_f32(&st, "fc1.bias", b2, 1, &err) == CS_EINPUT && strstr(err.msg, "fc1.bias"));
    CHECK(cs_st_read_f32(&st, "nope", b2, 1, &err) == CS_EINPUT && strstr(err.msg, "nope"));

    /* Writing what was read gives the same bytes. */
    uint8_t *f2;
    size_t size2;
    cs_st_tensor t2[2] = {*tw, *cs_st_find(&st, "fc1.bias")};
    const float *data2[2] = {w2, b2};
    CHECK(cs_st_write(st.meta, st.nmeta, t2, data2, 2, &f2, &size2, &err) == CS_OK);
    CHECK(size2 == size && !memcmp(f, f2, size));
    free(f2);
    cs_st_free(&st);
    free(f);
}

/* Escapes as other writers (Python's json) produce them. */
static void test_escapes(void) {
    size_t size;
    uint8_t *f = file_of("{\"__metadata__\":{\"k\\u00e9y\":\"a\\\"b\\\\c\\/d\\ne\\u20ac\\ud83d\\ude00\\t\"},"
                         "\"x\\u002ey\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]}}   ",
                         2, &size);
    cs_safetensors st;
    cs_error err = {0};
    CHECK(cs_st_parse(&st, f, size, &err) == CS_OK);
    CHECK(st.nmeta == 1 && st.ntensors == 1);
    if (st.nmeta == 1) {
        CHECK(!strcmp(st.meta[0].key, "k\xc3\xa9y"));
        CHECK(!strcmp(st.meta[0].value, "a\"b\\c/d\ne\xe2\x82\xac\xf0\x9f\x98\x80\t"));
    }
    CHECK(cs_st_find(&st, "x.y") != NULL);
    float v;
    CHECK(cs_st_read_f32(&st, "x.y", &v, 1, &err) == CS_EINPUT && strstr(err.msg, "U8"));
    cs_st_free(&st);
    free(f);

    /* An empty file of no tensors is valid. */
    f = file_of("{}      ", 0, &size);
    CHECK(cs_st_parse(&st, f, size, &err) == CS_OK && st.ntensors == 0 && st.nmeta == 0);
    cs_st_free(&st);
    free(f);
}

static void test_bad_headers(void) {
    const char *ok_tensor = "{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}";
    char json[512];

    uint8_t tiny[7] = {0};
    expect_bad_bytes(tiny, sizeof tiny, CS_EINPUT, "7 bytes");
    uint8_t huge_len[16];
    memset(huge_len, 0xFF, 8);
    memcpy(huge_len + 8, "{}      ", 8);
    expect_bad_bytes(huge_len, sizeof huge_len, CS_EINPUT, "18446744073709551615");
    /* Over the size limit: rejected before a byte is read. */
    expect_bad_bytes(tiny, (size_t)CS_MAX_MODEL_BYTES + 1, CS_ELIMIT, "limit");
    /* A header over the limit, even one that fits in the file. */
    size_t big = (size_t)CS_MAX_META_BYTES + 8;
    char *long_json = malloc(big + 1);
    memset(long_json, ' ', big);
    long_json[0] = '{';
    long_json[big - 1] = '}';
    long_json[big] = 0;
    expect_bad(long_json, 0, CS_ELIMIT, "limit");
    /* 1 MB of '[' is refused at once, not parsed in quadratic time. */
    memset(long_json, '[', CS_MAX_META_BYTES);
    long_json[CS_MAX_META_BYTES] = 0;
    expect_bad(long_json, 0, CS_EINPUT, "nests");
    free(long_json);

    expect_bad("hello, world", 0, CS_EINPUT, "not JSON");
    expect_bad("{\"a\":", 0, CS_EINPUT, "not JSON");
    expect_bad("[1,2,3] ", 0, CS_EINPUT, "not a JSON object");
    expect_bad("{\"a\"}   ", 0, CS_EINPUT, "header");
    expect_bad("{} {}   ", 0, CS_EINPUT, "more after");
    expect_bad("{\"__metadata__\":{\"epochs\":8}}", 0, CS_EINPUT, "metadata epochs is not a string");
    expect_bad("{\"__metadata__\":{\"a\":\"x\",\"a\":\"y\"}}", 0, CS_EINPUT, "metadata a appears twice");
    expect_bad("{\"__metadata__\":[]}", 0, CS_EINPUT, "__metadata__");
    expect_bad("{\"__metadata__\":{\"a\":\"b\\x\"}}", 0, CS_EINPUT, "not JSON");
    expect_bad("{\"__metadata__\":{\"a\":\"b\\u0000\"}}", 0, CS_EINPUT, "metadata a has a bad escape");
    expect_bad("{\"__metadata__\":{\"a\":\"\\ud800x\"}}", 0, CS_EINPUT, "metadata a has a bad escape");
    expect_bad("{\"__metadata__\":{\"a\":\"tab\there\"}}", 0, CS_EINPUT, "control character");

    const char *t = "{\"w\":{\"dtype\":\"%s\",\"shape\":%s,\"data_offsets\":%s}}";
    snprintf(json, sizeof json, t, "F33", "[2]", "[0,8]");
    expect_bad(json, 8, CS_EINPUT, "tensor w has dtype F33");
    snprintf(json, sizeof json, t, "F32", "[-2]", "[0,8]");
    expect_bad(json, 8, CS_EINPUT, "tensor w has a shape");
    snprintf(json, sizeof json, t, "F32", "[2.0]", "[0,8]");
    expect_bad(json, 8, CS_EINPUT, "tensor w has a shape");
    snprintf(json, sizeof json, t, "F32", "[1,1,1,1,1,1,1,1,2]", "[0,8]");
    expect_bad(json, 8, CS_EINPUT, "tensor w has a shape");
    snprintf(json, sizeof json, t, "F32", "[4294967296,4294967296,16]", "[0,8]");
    expect_bad(json, 8, CS_EINPUT, "tensor w has a shape whose size overflows");
    snprintf(json, sizeof json, t, "F32", "[4611686018427387904]", "[0,8]");
    expect_bad(json, 8, CS_EINPUT, "tensor w has data_offsets");
    snprintf(json, sizeof json, t, "F32", "[2]", "[0,16]");
    expect_bad(json, 8, CS_EINPUT, "tensor w has data_offsets [0, 16] outside");
    snprintf(json, sizeof json, t, "F32", "[2]", "[8,0]");
    expect_bad(json, 8, CS_EINPUT, "tensor w has data_offsets [8, 0]");
    snprintf(json, sizeof json, t, "F32", "[2]", "[0,18446744073709551616]");
    expect_bad(json, 8, CS_EINPUT, "tensor w has data_offsets that are not");
    snprintf(json, sizeof json, t, "F32", "[3]", "[0,8]");
    expect_bad(json, 8, CS_EINPUT, "tensor w has data_offsets [0, 8] for 8 bytes");
    snprintf(json, sizeof json, t, "F32", "[2]", "[0,8]");
    expect_bad(json, 9, CS_EINPUT, "the tensors fill only 8");
    expect_bad(json, 7, CS_EINPUT, "outside the 7 bytes");

    expect_bad("{\"w\":{\"dtype\":\"F32\",\"shape\":[2]}}", 8, CS_EINPUT, "tensor w lacks its data_offsets");
    snprintf(json, sizeof json, "{\"w\":{\"dtype\":\"F32\",\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}");
    expect_bad(json, 8, CS_EINPUT, "tensor w has an unknown or repeated field \"dtype\"");
    expect_bad("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8],\"x\":1}}", 8, CS_EINPUT, "field \"x\"");
    expect_bad("{\"w\":[1,2]}", 0, CS_EINPUT, "tensor w is not an object");
    snprintf(json, sizeof json, "{\"a\":%s,\"a\":%s}", ok_tensor, ok_tensor);
    expect_bad(json, 16, CS_EINPUT, "tensor a appears twice");
    snprintf(json, sizeof json, "{\"a\":%s,\"b\":%s}", ok_tensor, ok_tensor);
    expect_bad(json, 16, CS_EINPUT, "tensor b overlaps tensor a");
    snprintf(json, sizeof json, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}");
    expect_bad(json, 16, CS_EINPUT, "tensor a starts at byte 8 of the data, leaving a gap");
    snprintf(json, sizeof json, "{\"%0130d\":%s}", 7, ok_tensor);
    expect_bad(json, 8, CS_EINPUT, "longer than 127 bytes");

    uint8_t nul[] = {4, 0, 0, 0, 0, 0, 0, 0, '{', 0, '}', ' '};
    expect_bad_bytes(nul, sizeof nul, CS_EINPUT, "NUL");
}

/* Every prefix and every single-bit flip of a good file: an error or a file
   whose tensors lie inside it, never a crash (ASan and UBSan watch). */
static void test_mutations(void) {
    cs_meta meta[] = {{"classes", "a,b"}, {"tile", "8"}};
    cs_st_tensor t[2] = {{.name = "w", .ndim = 2, .shape = {1, 3}}, {.name = "b", .ndim = 1, .shape = {1}}};
    float w[3] = {1, 2, 3}, b[1] = {4};
    const float *data[2] = {w, b};
    uint8_t *f;
    size_t size;
    cs_error err;
    CHECK(cs_st_write(meta, 2, t, data, 2, &f, &size, &err) == CS_OK);
    int prefixes_refused = 0, flips_ok = 0, flips = 0;
    cs_safetensors st;
    for (size_t n = 0; n < size; n++) {
        uint8_t *copy = malloc(n ? n : 1); /* exactly n bytes, so ASan sees any read past them */
        memcpy(copy, f, n);
        prefixes_refused += cs_st_parse(&st, copy, n, &err) == CS_EINPUT;
        cs_st_free(&st);
        free(copy);
    }
    CHECK(prefixes_refused == (int)size);
    for (size_t i = 0; i < size; i++)
        for (int bit = 0; bit < 8; bit++) {
            f[i] ^= (uint8_t)(1 << bit);
            if (cs_st_parse(&st, f, size, &err) == CS_OK) {
                flips_ok++;
                for (int k = 0; k < st.ntensors; k++)
                    CHECK(st.tensors[k].offset + st.tensors[k].nbytes <= st.data_size);
            }
            cs_st_free(&st);
            flips++;
            f[i] ^= (uint8_t)(1 << bit);
        }
    CHECK(flips_ok > 0 && flips_ok < flips); /* flips in metadata text are harmless, most others not */
    free(f);
}

int main(void) {
    test_round_trip();
    test_escapes();
    test_bad_headers();
    test_mutations();
    return test_summary();
}
