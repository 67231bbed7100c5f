/* test.h: the few checks the tests share. A failed CHECK prints where and
   counts; main returns test_summary(), which prints "N passed, N failed". */
#ifndef CS_TEST_H
#define CS_TEST_H

#include <math.h>
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

static int test_summary(void) {
    printf("%d passed, %d failed\n", test_passed, test_failed);
    return test_failed ? 1 : 0;
}

#endif
