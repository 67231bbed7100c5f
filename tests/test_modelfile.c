/* test_modelfile.c: models survive a round trip to bytes and to disk, load
   from tensors alone as PyTorch writes them, and a wrong file gets a clear
   error naming the culprit, never a crash or a leak. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "test.h"

static const char *tmp_dir(void) {
    const char *d = getenv("TMPDIR");
    return d && *d ? d : "/tmp";
}

static int same_weights(const cs_model *a, const cs_model *b) {
    return a->net.nparams == b->net.nparams && !memcmp(a->net.params, b->net.params, a->net.nparams * sizeof(float));
}

/* Reading must fail with code and a message that contains culprit. */
static void expect_bad(const uint8_t *f, size_t size, cs_status code, const char *culprit) {
    cs_model m;
    cs_error err = {0};
    cs_status s = cs_model_read(&m, f, size, &err);
    CHECK(s == code && strstr(err.msg, culprit));
    if (s != code || !strstr(err.msg, culprit)) fprintf(stderr, "  wanted %d \"%s\", got %d: %s\n", code, culprit, s, err.msg);
    CHECK(m.net.params == NULL && m.meta == NULL && m.classes == NULL);
}

/* The file with the first `from` in its header replaced by `to`. */
static uint8_t *edit_header(const uint8_t *f, size_t size, const char *from, const char *to, size_t *out_size) {
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = n << 8 | f[i];
    const char *h = (const char *)f + 8, *at = NULL;
    for (size_t i = 0; !at && i + strlen(from) <= n; i++)
        if (!memcmp(h + i, from, strlen(from))) at = h + i;
    if (!at) {
        fprintf(stderr, "  edit_header: %s not in the header\n", from);
        abort();
    }
    size_t before = (size_t)(at - h), after = n - before - strlen(from), n2 = before + strlen(to) + after;
    *out_size = size - n + n2;
    uint8_t *g = malloc(*out_size);
    for (int i = 0; i < 8; i++) g[i] = (uint8_t)((uint64_t)n2 >> (8 * i));
    memcpy(g + 8, h, before);
    memcpy(g + 8 + before, to, strlen(to));
    memcpy(g + 8 + before + strlen(to), at + strlen(from), after + (size - 8 - n));
    return g;
}

/* The model's tensors, as PyTorch's save_file writes them (no metadata),
   with tensor `drop` left out and a tensor `extra` added when not NULL. */
static uint8_t *tensors_only(const cs_model *m, int drop, const char *extra, size_t *size) {
    cs_st_tensor t[2 * CS_MAX_LAYERS + 1];
    const float *data[2 * CS_MAX_LAYERS + 1];
    int n = 0, index = 0;
    for (int i = 0; i < m->net.nlayers; i++) {
        const cs_layer *L = &m->net.layers[i];
        for (int bias = 0; bias < 2 && L->nweight; bias++) {
            if (index++ == drop) continue;
            memset(&t[n], 0, sizeof t[n]);
            snprintf(t[n].name, sizeof t[n].name, "%s.%s", L->name, bias ? "bias" : "weight");
            t[n].ndim = bias ? 1 : L->kind == CS_CONV ? 4 : 2;
            int64_t shape[4] = {L->oc, L->c, 3, 3};
            memcpy(t[n].shape, shape, sizeof shape);
            data[n++] = bias ? L->bias : L->weight;
        }
    }
    if (extra) {
        memset(&t[n], 0, sizeof t[n]);
        strcpy(t[n].name, extra);
        t[n].ndim = 1;
        t[n].shape[0] = 1;
        data[n++] = m->net.params;
    }
    uint8_t *f;
    cs_error err;
    CHECK(cs_st_write(NULL, 0, t, data, n, &f, size, &err) == CS_OK);
    return f;
}

static void test_init(void) {
    cs_model a, b, c;
    cs_error err = {0};
    CHECK(cs_model_init(&a, NULL, 16, 2, NULL, 7, &err) == CS_OK);
    CHECK(!strcmp(a.net.arch, CS_PAPER_ARCH) && a.net.nout == 1);
    CHECK(!strcmp(a.classes[0], "class0") && !strcmp(a.classes[1], "class1"));
    CHECK(!strcmp(cs_model_get(&a, "arch"), CS_PAPER_ARCH));
    CHECK(!strcmp(cs_model_get(&a, "classes"), "class0,class1"));
    CHECK(!strcmp(cs_model_get(&a, "tile"), "16"));
    CHECK(!strcmp(cs_model_get(&a, "crop_bottom"), "0") && a.crop_bottom == 0);
    CHECK(strstr(cs_model_get(&a, "standardize"), "max(std, 0.001)") != NULL);
    CHECK(a.threshold == 0.5f && a.tta == 0 && !cs_model_get(&a, "threshold") && !cs_model_get(&a, "tta"));
    CHECK(cs_model_init(&b, NULL, 16, 2, NULL, 7, &err) == CS_OK);
    CHECK(cs_model_init(&c, NULL, 16, 2, NULL, 8, &err) == CS_OK);
    CHECK(same_weights(&a, &b) && !same_weights(&a, &c));
    float absmax = 0;
    for (size_t i = 0; i < a.net.nparams; i++) absmax = fmaxf(absmax, fabsf(a.net.params[i]));
    CHECK(absmax > 0 && absmax < 1);

    /* cs_model_set keeps the fields and the metadata in step. */
    CHECK(cs_model_set(&a, "threshold", "0.3", &err) == CS_OK && a.threshold == 0.3f);
    CHECK(cs_model_set(&a, "tta", "dihedral8", &err) == CS_OK && a.tta == 1);
    CHECK(cs_model_set(&a, "tta", "none", &err) == CS_OK && a.tta == 0 && !strcmp(cs_model_get(&a, "tta"), "none"));
    CHECK(cs_model_set(&a, "crop_bottom", "96", &err) == CS_OK && a.crop_bottom == 96);
    CHECK(cs_model_set(&a, "classes", "T47D,MDAMB231", &err) == CS_OK && !strcmp(a.classes[1], "MDAMB231"));
    CHECK(cs_model_set(&a, "tile", "16", &err) == CS_OK);
    CHECK(cs_model_set(&a, "epochs", "8", &err) == CS_OK && !strcmp(cs_model_get(&a, "epochs"), "8"));
    CHECK(cs_model_set(&a, "epochs", "9", &err) == CS_OK && !strcmp(cs_model_get(&a, "epochs"), "9"));
    CHECK(cs_model_set(&a, "role", "base", &err) == CS_OK && !strcmp(cs_model_get(&a, "role"), "base"));

    struct { const char *key, *value, *culprit; cs_status code; } bad[] = {
        {"threshold", "abc", "threshold", CS_EINPUT}, {"threshold", "1.5", "threshold", CS_EINPUT},
        {"threshold", "nan", "threshold", CS_EINPUT}, {"tta", "maybe", "tta", CS_EINPUT},
        {"role", "basis", "role", CS_EINPUT},
        {"crop_bottom", "-3", "crop_bottom", CS_EINPUT}, {"crop_bottom", "9x", "crop_bottom", CS_EINPUT},
        {"classes", "a,b,c", "3 classes", CS_EINPUT}, {"classes", "a,", "empty", CS_EINPUT},
        {"classes", "a,a", "\"a\" appears twice", CS_EINPUT}, {"classes", "solo", "one class", CS_EINPUT},
        {"classes", "a,b\nc", "control character", CS_EINPUT}, {"tile", "32", "tile", CS_EINPUT},
        {"arch", "conv8,gap,dense", "arch", CS_EINPUT}, {"", "x", "empty", CS_EINPUT},
        {"note", NULL, "note needs a value", CS_EINPUT}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK(cs_model_set(&a, bad[i].key, bad[i].value, &err) == bad[i].code && strstr(err.msg, bad[i].culprit));
        if (!strstr(err.msg, bad[i].culprit)) fprintf(stderr, "  set %s: %s\n", bad[i].key, err.msg);
    }
    CHECK(a.threshold == 0.3f && a.crop_bottom == 96 && !strcmp(cs_model_get(&a, "classes"), "T47D,MDAMB231"));
    char long_name[CS_MAX_CLASS_NAME + 8];
    memset(long_name, 'x', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = 0;
    memcpy(long_name + sizeof long_name - 3, ",b", 2);
    CHECK(cs_model_set(&a, "classes", long_name, &err) == CS_ELIMIT && strstr(err.msg, "longer than"));
    /* The limit as the docs give it: 127 bytes load, 128 do not. */
    char edge[CS_MAX_CLASS_NAME + 4];
    memset(edge, 'x', CS_MAX_CLASS_NAME);
    strcpy(edge + CS_MAX_CLASS_NAME, ",b");
    CHECK(CS_MAX_CLASS_NAME == 127 && cs_model_set(&a, "classes", edge, &err) == CS_OK);
    memset(edge, 'x', CS_MAX_CLASS_NAME + 1);
    strcpy(edge + CS_MAX_CLASS_NAME + 1, ",b");
    CHECK(cs_model_set(&a, "classes", edge, &err) == CS_ELIMIT && strstr(err.msg, "longer than 127 bytes"));
    CHECK(cs_model_set(&a, "classes", "T47D,MDAMB231", &err) == CS_OK);
    char *huge = malloc(CS_MAX_META_BYTES + 2);
    memset(huge, 'y', CS_MAX_META_BYTES + 1);
    huge[CS_MAX_META_BYTES + 1] = 0;
    CHECK(cs_model_set(&a, "note", huge, &err) == CS_ELIMIT && strstr(err.msg, "note"));
    free(huge);
    cs_model_free(&a);
    cs_model_free(&b);
    cs_model_free(&c);

    const char *names[] = {"a", "b,c"};
    CHECK(cs_model_init(&a, NULL, 16, 2, names, 1, &err) == CS_EINPUT && strstr(err.msg, "b,c") && !a.net.params);
    CHECK(cs_model_init(&a, "conv8,nonsense,dense", 16, 2, NULL, 1, &err) == CS_EINPUT && strstr(err.msg, "nonsense"));
}

static void test_round_trip(void) {
    const char *names[] = {"T47D", "MDAMB231", "MCF7"};
    cs_model a, b;
    cs_error err = {0};
    CHECK(cs_model_init(&a, "conv8,pool,conv8,gap,drop0.5,dense16,dense", 20, 3, names, 3, &err) == CS_OK);
    CHECK(cs_model_set(&a, "crop_bottom", "96", &err) == CS_OK);
    CHECK(cs_model_set(&a, "tta", "dihedral8", &err) == CS_OK);
    CHECK(cs_model_set(&a, "note", "\"quoted\", back\\slash, new\nline, caf\xc3\xa9", &err) == CS_OK);
    uint8_t *f, *g;
    size_t size, size2;
    CHECK(cs_model_write(&a, &f, &size, &err) == CS_OK);
    CHECK(f[0] % 8 == 0 && size % 4 == 0);
    CHECK(cs_model_read(&b, f, size, &err) == CS_OK);
    CHECK(same_weights(&a, &b) && !strcmp(b.net.arch, a.net.arch) && b.net.tile == 20 && b.net.nclasses == 3);
    CHECK(b.crop_bottom == 96 && b.tta == 1 && b.threshold == 0.5f && !strcmp(b.classes[2], "MCF7"));
    CHECK(b.nmeta == a.nmeta);
    for (int i = 0; i < a.nmeta && i < b.nmeta; i++)
        CHECK(!strcmp(a.meta[i].key, b.meta[i].key) && !strcmp(a.meta[i].value, b.meta[i].value));
    CHECK(cs_model_write(&b, &g, &size2, &err) == CS_OK);
    CHECK(size2 == size && !memcmp(f, g, size));
    free(g);

    /* Through a file: saving over an old model leaves the new one and no .tmp. */
    char path[512], tmp[520];
    struct stat sb;
    snprintf(path, sizeof path, "%s/cs_test_modelfile_%d.safetensors", tmp_dir(), (int)size);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    cs_model c;
    CHECK(cs_model_save(&b, path, &err) == CS_OK);
    cs_model_free(&b);
    CHECK(cs_model_set(&a, "note", "second", &err) == CS_OK);
    CHECK(cs_model_save(&a, path, &err) == CS_OK);
    CHECK(stat(tmp, &sb) != 0);
    CHECK(cs_model_load(&c, path, &err) == CS_OK);
    CHECK(same_weights(&a, &c) && !strcmp(cs_model_get(&c, "note"), "second"));
    cs_model_free(&c);
    remove(path);

    CHECK(cs_model_load(&c, path, &err) == CS_EIO && strstr(err.msg, path));
    CHECK(cs_model_load(&c, tmp_dir(), &err) == CS_EINPUT && strstr(err.msg, "folder"));
    /* Too large: refused from its size, before a byte is read (a sparse file). */
    FILE *big = fopen(path, "wb");
    CHECK(big && ftruncate(fileno(big), (off_t)CS_MAX_MODEL_BYTES + 1) == 0);
    if (big) fclose(big);
    CHECK(cs_model_load(&c, path, &err) == CS_ELIMIT && strstr(err.msg, "has 256.1 MiB, more than the limit of 256 MiB"));
    /* The page's check of a file's size before reading it: cs_model_read's words. */
    cs_error read_err;
    CHECK(cs_model_check(CS_MAX_MODEL_BYTES, &err) == CS_OK);
    CHECK(cs_model_check(CS_MAX_MODEL_BYTES + 1, &err) == CS_ELIMIT);
    CHECK(cs_model_read(&c, f, (size_t)CS_MAX_MODEL_BYTES + 1, &read_err) == CS_ELIMIT);
    CHECK(!strcmp(err.msg, read_err.msg) && strstr(err.msg, "has 256.1 MiB, more than the limit of 256 MiB"));
    remove(path);
    snprintf(path, sizeof path, "%s/cs_no_such_folder/m.safetensors", tmp_dir());
    CHECK(cs_model_save(&a, path, &err) == CS_EIO && strstr(err.msg, path));
    free(f);
    cs_model_free(&a);
}

/* SHA-256 against FIPS 180-4's examples (one block, two, a million bytes), and
   the short hash of a model read from bytes: theirs, as sha256sum prints it. */
static void test_hash(void) {
    static const struct {
        const char *text;
        const char *hex;
    } golden[] = {
        {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
        {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
        {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
    };
    char hex[65];
    for (size_t i = 0; i < sizeof golden / sizeof golden[0]; i++) {
        cs_sha256_hex(golden[i].text, strlen(golden[i].text), hex);
        CHECK(strcmp(hex, golden[i].hex) == 0);
    }
    char *million = malloc(1000000);
    memset(million, 'a', 1000000);
    cs_sha256_hex(million, 1000000, hex);
    CHECK(strcmp(hex, "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0") == 0);
    free(million);

    cs_model a, b;
    cs_error err;
    uint8_t *f;
    size_t size;
    CHECK(cs_model_init(&a, "conv8,gap,dense", 16, 2, NULL, 1, &err) == CS_OK);
    CHECK(a.hash[0] == 0); /* made in memory: no file to name */
    CHECK(cs_model_write(&a, &f, &size, &err) == CS_OK);
    CHECK(cs_model_read(&b, f, size, &err) == CS_OK);
    cs_sha256_hex(f, size, hex);
    CHECK(strlen(b.hash) == CS_MODEL_HASH_DIGITS && strncmp(b.hash, hex, CS_MODEL_HASH_DIGITS) == 0);
    free(f);
    cs_model_free(&a);
    cs_model_free(&b);
}

/* As PyTorch's save_file writes a state_dict: no metadata at all. */
static void test_tensors_only(void) {
    cs_model a, b;
    cs_error err = {0};
    size_t size;
    for (int k = 2; k <= 5; k += 3) {
        CHECK(cs_model_init(&a, NULL, 16, k, NULL, 11, &err) == CS_OK);
        uint8_t *f = tensors_only(&a, -1, NULL, &size);
        CHECK(cs_model_read(&b, f, size, &err) == CS_OK);
        CHECK(b.net.nclasses == k && b.net.tile == CS_TILE && same_weights(&a, &b));
        CHECK(!strcmp(b.classes[k - 1], k == 2 ? "class1" : "class4"));
        CHECK(!strcmp(cs_model_get(&b, "arch"), CS_PAPER_ARCH) && !strcmp(cs_model_get(&b, "tile"), "128"));
        CHECK(b.threshold == 0.5f && b.tta == 0 && b.crop_bottom == 0);
        cs_model_free(&b);
        free(f);
        cs_model_free(&a);
    }
}

static void test_bad_files(void) {
    cs_model a;
    cs_error err = {0};
    uint8_t *f, *g;
    size_t size, size2;
    CHECK(cs_model_init(&a, NULL, 16, 2, NULL, 5, &err) == CS_OK);
    CHECK(cs_model_write(&a, &f, &size, &err) == CS_OK);

    expect_bad(f, 5, CS_EINPUT, "5 bytes");
    expect_bad(f, size - 1, CS_EINPUT, "fc2.bias");
    g = malloc(size);
    memcpy(g, f, size);
    memset(g, 0xFF, 8);
    expect_bad(g, size, CS_EINPUT, "header length (18446744073709551615 bytes)");
    memcpy(g, f, size);
    memcpy(g + 8, "not json", 8);
    expect_bad(g, size, CS_EINPUT, "not JSON");
    /* A NaN weight, written as is and refused on reading. */
    a.net.layers[1].weight[5] = NAN;
    free(g);
    CHECK(cs_model_write(&a, &g, &size2, &err) == CS_OK);
    expect_bad(g, size2, CS_EINPUT, "tensor conv2.weight has a non-finite value (NaN or infinity) at element 5");
    a.net.layers[1].weight[5] = INFINITY;
    free(g);
    CHECK(cs_model_write(&a, &g, &size2, &err) == CS_OK);
    expect_bad(g, size2, CS_EINPUT, "conv2.weight has a non-finite");
    a.net.layers[1].weight[5] = 0;
    free(g);

    struct { const char *from, *to, *culprit; cs_status code; } edits[] = {
        {"\"F32\"", "\"I32\"", "tensor conv1.weight is I32", CS_EINPUT},
        {"\"F32\",\"shape\":[32,1,3,3]", "\"F16\",\"shape\":[32,1,3,3,2]", "tensor conv1.weight is F16", CS_EINPUT},
        {"[32,64]", "[64,32]", "tensor fc1.weight has shape [64,32]", CS_EINPUT},
        {"[32,1,3,3]", "[32,9]", "tensor conv1.weight has shape [32,9]", CS_EINPUT},
        {"[0,1152]", "[0,99999999]", "tensor conv1.weight has data_offsets [0, 99999999] outside", CS_EINPUT},
        {"\"classes\":\"class0,class1\"", "\"classes\":\"a,b,c\"", "tensor fc2.weight has shape [1,32], but", CS_EINPUT},
        {"\"classes\":\"class0,class1\"", "\"classes\":\"a,,b\"", "empty class name", CS_EINPUT},
        {"\"tile\":\"16\"", "\"tile\":\"sixteen\"", "metadata tile", CS_EINPUT},
        {"\"tile\":\"16\"", "\"tile\":\"4\"", "does not fit", CS_EINPUT},
        {"\"arch\":\"conv32", "\"arch\":\"conv32,bogus", "bogus", CS_EINPUT},
        {"\"crop_bottom\":\"0\"", "\"crop_bottom\":\"-1\"", "crop_bottom", CS_EINPUT},
        {"\"crop_bottom\":\"0\"", "\"crop_bottom\":0", "metadata crop_bottom is not a string", CS_EINPUT},
        {"\"crop_bottom\":\"0\"", "\"crop_bottom\":\"0\",\"threshold\":\"2\"", "threshold", CS_EINPUT},
        {"\"crop_bottom\":\"0\"", "\"crop_bottom\":\"0\",\"tta\":\"yes\"", "tta", CS_EINPUT},
    };
    for (size_t i = 0; i < sizeof edits / sizeof edits[0]; i++) {
        g = edit_header(f, size, edits[i].from, edits[i].to, &size2);
        expect_bad(g, size2, edits[i].code, edits[i].culprit);
        free(g);
    }

    /* A header of 2 MB: over the limit, refused before it is parsed. */
    size_t big = 2u << 20;
    g = malloc(big + 8);
    for (int i = 0; i < 8; i++) g[i] = (uint8_t)((uint64_t)big >> (8 * i));
    memset(g + 8, 'z', big);
    memcpy(g + 8, "{\"__metadata__\":{\"note\":\"", 25);
    memcpy(g + 8 + big - 3, "\"}}", 3);
    expect_bad(g, big + 8, CS_ELIMIT, "header has 2097152 bytes");
    free(g);

    g = tensors_only(&a, 3, NULL, &size2); /* conv2.bias */
    expect_bad(g, size2, CS_EINPUT, "no tensor conv2.bias");
    free(g);
    g = tensors_only(&a, 8, NULL, &size2); /* fc2.weight, the output */
    expect_bad(g, size2, CS_EINPUT, "no tensor fc2.weight");
    free(g);
    g = tensors_only(&a, -1, "fc3.weight", &size2);
    expect_bad(g, size2, CS_EINPUT, "tensor fc3.weight that arch");
    free(g);
    g = tensors_only(&a, -1, "conv1.weight.extra", &size2);
    expect_bad(g, size2, CS_EINPUT, "conv1.weight.extra");
    free(g);
    free(f);
    cs_model_free(&a);

    /* Two output rows: a softmax pair, which two classes do not use. */
    float w[36] = {0};
    const float *data[4] = {w, w, w, w};
    cs_st_tensor t[4] = {{.name = "conv1.weight", .ndim = 4, .shape = {4, 1, 3, 3}},
                         {.name = "conv1.bias", .ndim = 1, .shape = {4}},
                         {.name = "fc1.weight", .ndim = 2, .shape = {2, 4}},
                         {.name = "fc1.bias", .ndim = 1, .shape = {2}}};
    cs_meta meta[] = {{"arch", "conv4,gap,dense"}, {"tile", "8"}};
    CHECK(cs_st_write(meta, 2, t, data, 4, &f, &size, &err) == CS_OK);
    expect_bad(f, size, CS_EINPUT, "output tensor fc1.weight has 2 rows");
    free(f);
}

/* The committed corpus that the CLI, the page and the fuzzers share
   (tests/data/models/README.md says what each file is). */
static void test_corpus(const char *data) {
    struct { const char *file, *culprit; cs_status code; } cases[] = {
        {"good_tiny.safetensors", NULL, CS_OK},
        {"good_pytorch.safetensors", NULL, CS_OK},
        {"bad_empty.safetensors", "0 bytes", CS_EINPUT},
        {"bad_not_json.safetensors", "not JSON", CS_EINPUT},
        {"bad_header_length.safetensors", "18446744073709551615", CS_EINPUT},
        {"bad_truncated.safetensors", "fc1.bias", CS_EINPUT},
        {"bad_offsets.safetensors", "conv1.bias has data_offsets", CS_EINPUT},
        {"bad_dtype.safetensors", "conv1.weight is F64", CS_EINPUT},
        {"bad_shape.safetensors", "conv1.weight has shape [4,9]", CS_EINPUT},
        {"bad_missing_tensor.safetensors", "no tensor fc1.bias", CS_EINPUT},
        {"bad_extra_tensor.safetensors", "tensor fc2.weight that arch", CS_EINPUT},
        {"bad_class_count.safetensors", "fc1.weight has shape [1,4], but", CS_EINPUT},
        {"bad_metadata_type.safetensors", "metadata tile is not a string", CS_EINPUT},
        {"bad_class_name.safetensors", "longer than 127 bytes", CS_ELIMIT},
        {"bad_nan.safetensors", "conv1.weight has a non-finite", CS_EINPUT},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char path[1024];
        cs_model m;
        cs_error err = {0};
        snprintf(path, sizeof path, "%s/models/%s", data, cases[i].file);
        cs_status s = cs_model_load(&m, path, &err);
        int ok = s == cases[i].code && (!cases[i].culprit || (strstr(err.msg, cases[i].culprit) && strstr(err.msg, path)));
        CHECK(ok);
        if (!ok) fprintf(stderr, "  %s: %d %s\n", cases[i].file, s, err.msg);
        if (!s && !strcmp(cases[i].file, "good_tiny.safetensors")) { /* Python's bytes are ours too */
            FILE *f = fopen(path, "rb");
            uint8_t theirs[1024], *ours;
            size_t n = f ? fread(theirs, 1, sizeof theirs, f) : 0, size;
            if (f) fclose(f);
            CHECK(cs_model_write(&m, &ours, &size, &err) == CS_OK);
            CHECK(size == n && !memcmp(ours, theirs, n));
            free(ours);
        }
        cs_model_free(&m);
    }
}

int main(int argc, char **argv) {
    test_init();
    test_round_trip();
    test_tensors_only();
    test_hash();
    test_bad_files();
    if (argc > 1) test_corpus(argv[1]);
    return test_summary();
}
