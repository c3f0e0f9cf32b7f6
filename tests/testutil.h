/* Minimal test helpers: CHECK records a failure and goes on; the program's exit
 * status is the verdict ctest reads. */
#ifndef VEIL_TESTUTIL_H
#define VEIL_TESTUTIL_H

#include <math.h>
#include <stdio.h>

extern int test_failures, test_checks;

#define CHECK(cond) \
    do { \
        test_checks++; \
        if (!(cond)) { \
            test_failures++; \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
        } \
    } while (0)
#define CHECK_MSG(cond, ...) \
    do { \
        test_checks++; \
        if (!(cond)) { \
            test_failures++; \
            fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__); \
            fputc('\n', stderr); \
        } \
    } while (0)
#define CHECK_NEAR(a, b, tol) \
    CHECK_MSG(fabs((double)(a) - (double)(b)) <= (tol), "%.9g vs %.9g (tol %.3g)", (double)(a), \
              (double)(b), (double)(tol))
/* The call must fail and its message must contain the substring. */
#define CHECK_FAILS_WITH(call, substring) \
    do { \
        int rc_ = (call) != 0; \
        CHECK_MSG(rc_, "expected failure of %s", #call); \
        if (rc_) test_check_error_contains(__FILE__, __LINE__, substring); \
    } while (0)

void test_check_error_contains(const char *file, int line, const char *substring);
/* A fresh empty directory for this test: $VEIL_TEST_TMP/<name> (or /tmp/veil-test-<name>). */
const char *test_tmpdir(const char *name);
/* Write bytes to a file (fixtures). */
void test_write_file(const char *path, const void *data, size_t n);
/* Print "N checks, N failed" and return the exit status. */
int test_finish(const char *name);

#endif
