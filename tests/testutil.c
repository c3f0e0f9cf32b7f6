#include "testutil.h"

#include <stdlib.h>
#include <string.h>

#include "veil/common.h"

int test_failures, test_checks;

void test_check_error_contains(const char *file, int line, const char *substring)
{
    test_checks++;
    const char *msg = veil_last_error();
    if (!strstr(msg, substring)) {
        test_failures++;
        fprintf(stderr, "%s:%d: error message '%s' does not contain '%s'\n", file, line, msg, substring);
    }
}

const char *test_tmpdir(const char *name)
{
    static char path[4096];
    const char *base = getenv("VEIL_TEST_TMP");
    if (base) snprintf(path, sizeof path, "%s/%s", base, name);
    else snprintf(path, sizeof path, "/tmp/veil-test-%s", name);
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
    if (system(cmd) != 0) fprintf(stderr, "warning: could not clear %s\n", path);
    if (veil_mkdirs(path) != 0) {
        fprintf(stderr, "cannot create %s: %s\n", path, veil_last_error());
        exit(2);
    }
    return path;
}

void test_write_file(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, n, f) != n) {
        fprintf(stderr, "cannot write fixture %s\n", path);
        exit(2);
    }
    fclose(f);
}

int test_finish(const char *name)
{
    printf("%s: %d checks, %d failed\n", name, test_checks, test_failures);
    return test_failures ? 1 : 0;
}
