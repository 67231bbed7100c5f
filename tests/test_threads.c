/* test_threads.c: cs_parallel_for runs every task exactly once, for any
   number of threads, also when a task calls it again (nested). */
#include <string.h>

#include "internal.h"
#include "test.h"

#define N 1000

typedef struct {
    int count[N];
    int nested[N][7];
} job;

static void nested_task(void *ctx, int i) {
    int *row = ctx;
    row[i]++;
}

static void task(void *ctx, int i) {
    job *j = ctx;
    __atomic_fetch_add(&j->count[i], 1, __ATOMIC_RELAXED);
    if (i % 100 == 0) cs_parallel_for(7, nested_task, j->nested[i]);
}

static void check_pool(int threads) {
    static job j;
    memset(&j, 0, sizeof j);
    cs_set_threads(threads);
    for (int round = 0; round < 20; round++) cs_parallel_for(N, task, &j);
    int ok = 1;
    for (int i = 0; i < N; i++) {
        ok &= j.count[i] == 20;
        for (int k = 0; k < 7; k++) ok &= j.nested[i][k] == (i % 100 == 0 ? 20 : 0);
    }
    CHECK(ok);
}

int main(void) {
    cs_set_threads(1);
    CHECK(cs_threads() == 1);
    cs_set_threads(0); /* every core */
    CHECK(cs_threads() >= 1);
    int all = cs_threads();
    for (int t = 1; t <= 4; t++) check_pool(t);
    cs_set_threads(0);
    CHECK(cs_threads() == all);
    cs_parallel_for(0, task, NULL); /* nothing to do */
    return test_summary();
}
