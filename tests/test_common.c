/* common: random numbers, atomic writes, error messages. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <sys/stat.h>
#include <unistd.h>

#include <signal.h>
#include <sys/wait.h>

#include "core/base/json.h"
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

    /* a set of outputs is all or nothing: one failing writer leaves none of the new files,
     * and the files of before stay whole (issue 18: audit.json alone on a full disk) */
    char a1[4300], a2[4300], a3[4300];
    snprintf(a1, sizeof a1, "%s/set1.txt", dir);
    snprintf(a2, sizeof a2, "%s/set2.txt", dir);
    snprintf(a3, sizeof a3, "%s/set3.txt", dir);
    CHECK(veil_write_atomic(a2, write_hello, "old") == 0);
    veil_write_item set[3] = {{a1, write_hello, "one"}, {a2, write_hello, "two"}, {a3, write_fail, NULL}};
    CHECK_FAILS_WITH(veil_write_atomic_set(set, 3), "deliberate failure");
    CHECK(!veil_path_exists(a1) && !veil_path_exists(a3));
    data = NULL;
    CHECK(veil_read_file(a2, &data, &size) == 0 && size == 3 && !memcmp(data, "old", 3));
    free(data);
    set[2].fn = write_hello;
    set[2].ctx = "three";
    CHECK(veil_write_atomic_set(set, 3) == 0);
    data = NULL;
    CHECK(veil_read_file(a2, &data, &size) == 0 && size == 3 && !memcmp(data, "two", 3));
    free(data);

    /* veil's temporaries: only NAME.veil-tmp.PID of a process that is gone */
    pid_t child = fork();
    if (child == 0) _exit(0);
    waitpid(child, NULL, 0);
    char name[128];
    snprintf(name, sizeof name, "report.md" VEIL_TMP_MARK "%ld", (long)child);
    CHECK(veil_is_stale_temporary(name));
    snprintf(name, sizeof name, "report.md" VEIL_TMP_MARK "%ld", (long)getppid());
    CHECK(!veil_is_stale_temporary(name)); /* alive */
    CHECK(!veil_is_stale_temporary("notes.tmp.42"));
    CHECK(!veil_is_stale_temporary("results.jsonl.tmp.1"));
    CHECK(!veil_is_stale_temporary(VEIL_TMP_MARK "12"));
    CHECK(!veil_is_stale_temporary("x" VEIL_TMP_MARK "12a"));

    /* one file, two spellings: the same identity; a new name: its folder and name */
    veil_file_id i1, i2;
    char dotted[4400];
    snprintf(dotted, sizeof dotted, "%s/./set1.txt", dir);
    CHECK(veil_file_id_of(a1, &i1) == 0 && veil_file_id_of(dotted, &i2) == 0 && veil_file_id_cmp(&i1, &i2) == 0);
    CHECK(veil_file_id_of(a2, &i2) == 0 && veil_file_id_cmp(&i1, &i2) != 0);
    snprintf(dotted, sizeof dotted, "%s/./new.txt", dir);
    snprintf(a3, sizeof a3, "%s/new.txt", dir);
    CHECK(veil_file_id_of(dotted, &i1) == 0 && veil_file_id_of(a3, &i2) == 0 && veil_file_id_cmp(&i1, &i2) == 0);
    CHECK(veil_file_id_of("-", &i1) != 0);

    /* 64-bit whole numbers from the JSON text: the top-level member, exactly */
    uint64_t u = 0;
    char shown[64];
    CHECK(veil_json_member_u64("{\"settings\":{\"seed\":5},\"seed\":18446744073709551615}", "seed", &u, shown,
                               sizeof shown) == 0 && u == UINT64_MAX);
    CHECK(veil_json_member_u64("{\"seed\": 9007199254740993}", "seed", &u, NULL, 0) == 0 && u == 9007199254740993ull);
    CHECK(veil_json_member_u64("{\"seed\":18446744073709551616}", "seed", &u, shown, sizeof shown) == -1 &&
          !strcmp(shown, "18446744073709551616"));
    CHECK(veil_json_member_u64("{\"seed\":1e3}", "seed", &u, NULL, 0) == -1);
    CHECK(veil_json_member_u64("{\"seed\":-1}", "seed", &u, NULL, 0) == -1);
    CHECK(veil_json_member_u64("{\"a\":\"\\\"seed\\\":1\"}", "seed", &u, NULL, 0) == 1);
    return test_finish("test_common");
}
