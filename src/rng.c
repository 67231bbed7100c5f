/* rng.c: xoshiro256** seeded by splitmix64, so runs repeat on every platform. */
#include "internal.h"

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

void cs_rng_seed(cs_rng *rng, uint64_t seed) {
    for (int i = 0; i < 4; i++) rng->s[i] = splitmix64(&seed);
}

uint64_t cs_rng_next(cs_rng *rng) {
    uint64_t *s = rng->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

float cs_rng_uniform(cs_rng *rng) {
    return (float)(cs_rng_next(rng) >> 40) * (1.0f / 16777216.0f); /* 24 bits: exact in float */
}

int cs_rng_below(cs_rng *rng, int n) {
    return n <= 0 ? 0 : (int)((cs_rng_next(rng) >> 33) % (uint64_t)n);
}
