/* fuzz_st_parse: the safetensors header parser (cs_st_parse) on arbitrary bytes.
   Whatever it accepts must be self-consistent: every tensor inside the data
   section, its size the product of its shape, findable by name and readable. */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "internal.h"

static size_t dtype_size(const char *dtype) {
    static const struct { const char *name; size_t size; } sizes[] = {
        {"F64", 8}, {"F32", 4}, {"F16", 2}, {"BF16", 2}, {"I64", 8}, {"I32", 4},
        {"I16", 2}, {"I8", 1},  {"U64", 8}, {"U32", 4},  {"U16", 2}, {"U8", 1}, {"BOOL", 1},
    };
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        if (!strcmp(dtype, sizes[i].name)) return sizes[i].size;
    return 0;
}

/* The product of the shape, or SIZE_MAX if it overflows. */
static size_t element_count(const cs_st_tensor *t) {
    size_t n = 1;
    for (int d = 0; d < t->ndim; d++) {
        FUZZ_REQUIRE(t->shape[d] >= 0);
        if (t->shape[d] == 0) return 0;
    }
    for (int d = 0; d < t->ndim; d++)
        if (__builtin_mul_overflow(n, (size_t)t->shape[d], &n)) return SIZE_MAX;
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    cs_safetensors st;
    cs_error err;
    if (cs_st_parse(&st, data, size, &err) != CS_OK) {
        FUZZ_REQUIRE(err.code != CS_OK && err.msg[0]);
        return 0;
    }
    FUZZ_REQUIRE(st.data >= data && st.data_size <= size - (size_t)(st.data - data));
    for (int i = 0; i < st.ntensors; i++) {
        const cs_st_tensor *t = &st.tensors[i];
        FUZZ_REQUIRE(t->ndim >= 0 && t->ndim <= 8);
        FUZZ_REQUIRE(t->offset <= st.data_size && t->nbytes <= st.data_size - t->offset);
        FUZZ_REQUIRE(cs_st_find(&st, t->name) != NULL);
        size_t n = element_count(t), esize = dtype_size(t->dtype);
        if (esize) { /* a known dtype: its size must have been checked */
            size_t nbytes;
            FUZZ_REQUIRE(n != SIZE_MAX && !__builtin_mul_overflow(n, esize, &nbytes) &&
                         nbytes == t->nbytes);
        }
        if (!strcmp(t->dtype, "F32")) {
            float *dst = malloc(n ? n * sizeof *dst : 1);
            FUZZ_REQUIRE(dst != NULL);
            FUZZ_REQUIRE(cs_st_read_f32(&st, t->name, dst, n, &err) == CS_OK);
            /* One element too many must be refused, not read past the tensor. */
            FUZZ_REQUIRE(cs_st_read_f32(&st, t->name, dst, n + 1, &err) != CS_OK);
            free(dst);
        }
    }
    for (int i = 0; i < st.nmeta; i++) FUZZ_REQUIRE(st.meta[i].key && st.meta[i].value);
    cs_st_free(&st);
    return 0;
}
