/* common: random numbers, atomic writes, error messages. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "veil/common.h"

static int write_hello(FILE *f, void *ctx)
{
    return fputs((const char *)ctx, f) < 0 ? -1 : 0;
}
static int write_fail(FILE *f, void *ctx)
{
    (void)ctx;
    fputs("partial", f);
    veil_error("deliberate failure");
    return -1;
}

int main(void)
{
    veil_rng a, b;
    veil_rng_seed(&a, 42);
    veil_rng_seed(&b, 42);
    int same = 1;
    for (int i = 0; i < 1000; i++) same &= veil_rng_u64(&a) == veil_rng_u64(&b);
    CHECK(same);
    veil_rng_seed(&b, 43);
    CHECK(veil_rng_u64(&a) != veil_rng_u64(&b));

    /* normal: mean ~0, variance ~1 over 200k draws */
    double s = 0, s2 = 0;
    int n = 200000;
    for (int i = 0; i < n; i++) {
        double x = veil_rng_normal(&a);
        s += x;
        s2 += x * x;
    }
    CHECK_NEAR(s / n, 0.0, 0.01);
    CHECK_NEAR(s2 / n, 1.0, 0.02);
    /* below: every value in range, all hit */
    int hits[7] = {0};
    for (int i = 0; i < 7000; i++) hits[veil_rng_below(&a, 7)]++;
    for (int i = 0; i < 7; i++) CHECK(hits[i] > 800 && hits[i] < 1200);

    const char *dir = test_tmpdir("common");
    char path[4200];
    snprintf(path, sizeof path, "%s/out.txt", dir);
    CHECK(veil_write_atomic(path, write_hello, "hello") == 0);
    char *data;
    size_t size;
    CHECK(veil_read_file(path, &data, &size) == 0);
    CHECK(size == 5 && !memcmp(data, "hello", 5));
    free(data);
    /* a failing writer leaves the old file untouched and no temporary behind */
    CHECK_FAILS_WITH(veil_write_atomic(path, write_fail, NULL), "deliberate failure");
    CHECK(veil_read_file(path, &data, &size) == 0);
    CHECK(size == 5);
    free(data);
    CHECK_FAILS_WITH(veil_read_file("/nonexistent/file", &data, &size), "/nonexistent/file");
    CHECK(veil_seed_mix(1, 2, 3) != veil_seed_mix(1, 3, 2));
    return test_finish("test_common");
}
