/* common: random numbers, atomic writes, error messages. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <sys/stat.h>
#include <unistd.h>

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

    /* outputs: a symbolic link writes its target and stays a link */
    char link[4300], target[4300];
    snprintf(target, sizeof target, "%s/target.txt", dir);
    snprintf(link, sizeof link, "%s/link.txt", dir);
    CHECK(symlink("target.txt", link) == 0);
    CHECK(veil_write_atomic(link, write_hello, "via link") == 0);
    struct stat st;
    CHECK(lstat(link, &st) == 0 && S_ISLNK(st.st_mode));
    CHECK(veil_read_file(target, &data, &size) == 0);
    CHECK(size == 8 && !memcmp(data, "via link", 8));
    free(data);
    /* a device is written through, never replaced */
    CHECK(veil_write_atomic("/dev/null", write_hello, "x") == 0);
    CHECK(stat("/dev/null", &st) == 0 && S_ISCHR(st.st_mode));
    /* a directory or an empty name is refused, before and at writing */
    CHECK_FAILS_WITH(veil_write_atomic(dir, write_hello, "x"), "is a directory");
    CHECK_FAILS_WITH(veil_output_check(dir), "is a directory");
    CHECK_FAILS_WITH(veil_output_check(""), "empty");
    CHECK_FAILS_WITH(veil_write_atomic("", write_hello, "x"), "empty");
    CHECK_FAILS_WITH(veil_output_check("/nonexistent-dir/x.npy"), "does not exist");
    CHECK(veil_output_check(path) == 0);

    /* inputs: only regular files; a FIFO is refused at once instead of blocking */
    char fifo[4300];
    snprintf(fifo, sizeof fifo, "%s/fifo", dir);
    CHECK(mkfifo(fifo, 0644) == 0);
    CHECK_FAILS_WITH(veil_read_file(fifo, &data, &size), "a FIFO, not a regular file");
    CHECK_FAILS_WITH(veil_read_file(dir, &data, &size), "is a directory");
    CHECK(veil_open_input(fifo) == NULL);

    /* a long path does not push the reason out of the message */
    char longpath[4000];
    memset(longpath, 'a', sizeof longpath - 1);
    longpath[0] = '/';
    longpath[sizeof longpath - 1] = 0;
    CHECK_FAILS_WITH(veil_read_file(longpath, &data, &size), "cannot open");
    veil_error("%s: cannot open: x", longpath);
    veil_error_prefix("%s", longpath);
    CHECK(strstr(veil_last_error(), "cannot open: x") != NULL);
    return test_finish("test_common");
}
