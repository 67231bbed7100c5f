/* threads.c: the worker pool. For now serial; the pthread pool replaces it. */
#include "internal.h"

static int n_threads = 1;

void cs_set_threads(int n) { n_threads = n <= 0 ? 1 : n; }
int cs_threads(void) { return n_threads; }

void cs_parallel_for(int n, cs_task_fn fn, void *ctx) {
    for (int i = 0; i < n; i++) fn(ctx, i);
}
