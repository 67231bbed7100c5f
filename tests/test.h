/* test.h: the few checks the tests share. A failed CHECK prints where and
   counts; main returns test_summary(), which prints "N passed, N failed". */
#ifndef CS_TEST_H
#define CS_TEST_H

#include <math.h>
#include <stddef.h>
#include <stdio.h>

static int test_passed, test_failed;

#define CHECK(cond)                                                                  \
    do {                                                                             \
        if (cond) test_passed++;                                                     \
        else { test_failed++; fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond); } \
    } while (0)

#define CHECK_NEAR(a, b, tol)                                                        \
    do {                                                                             \
        double a_ = (a), b_ = (b);                                                   \
        if (fabs(a_ - b_) <= (tol)) test_passed++;                                   \
        else { test_failed++; fprintf(stderr, "%s:%d: %s = %.9g, expected %.9g (tol %g)\n", \
                                      __FILE__, __LINE__, #a, a_, b_, (double)(tol)); } \
    } while (0)

/* max |a - ref| / max |ref|: the error relative to the array's scale. */
static inline double test_rel_err(const float *a, const float *ref, size_t n) {
    double err = 0, scale = 1e-30;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)a[i] - ref[i]);
        if (!(d <= err)) err = d; /* catches NaN */
        if (fabs(ref[i]) > scale) scale = fabs(ref[i]);
    }
    return err / scale;
}

static int test_summary(void) {
    printf("%d passed, %d failed\n", test_passed, test_failed);
    return test_failed ? 1 : 0;
}

#endif
