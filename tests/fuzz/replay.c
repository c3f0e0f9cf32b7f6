/* Replays fuzz inputs without libFuzzer: each file named, or each file in each folder named
 * (and its sub-folders: seeds/, crashes/), is fed once to LLVMFuzzerTestOneInput. make test
 * runs this over tests/fuzz/<harness>/ in the normal and the sanitizer build, so every
 * committed seed and every input that once crashed is checked on each build, no clang needed. */
#define _XOPEN_SOURCE 700
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz_util.h"
#include "veil/common.h"

static int by_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static long replay(const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        fprintf(stderr, "replay: %s: cannot stat\n", path);
        exit(1);
    }
    if (S_ISDIR(st.st_mode)) {
        DIR *d = opendir(path);
        if (!d) return 0;
        char **names = NULL;
        size_t n = 0;
        for (struct dirent *e; (e = readdir(d));) {
            if (e->d_name[0] == '.' || !strcmp(e->d_name, "README.md")) continue;
            names = realloc(names, (n + 1) * sizeof *names);
            names[n++] = strdup(e->d_name);
        }
        closedir(d);
        qsort(names, n, sizeof *names, by_name);
        long count = 0;
        for (size_t i = 0; i < n; i++) {
            char sub[8192];
            snprintf(sub, sizeof sub, "%s/%s", path, names[i]);
            count += replay(sub);
            free(names[i]);
        }
        free(names);
        return count;
    }
    char *data;
    size_t size;
    if (veil_read_file(path, &data, &size) != 0) {
        fprintf(stderr, "replay: %s\n", veil_last_error());
        exit(1);
    }
    LLVMFuzzerTestOneInput((const uint8_t *)data, size);
    free(data);
    return 1;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s FILE|DIR...\n", argv[0]);
        return 2;
    }
    long n = 0;
    for (int i = 1; i < argc; i++) n += replay(argv[i]);
    if (n == 0) {
        fprintf(stderr, "replay: no inputs found\n");
        return 1;
    }
    printf("replayed %ld input(s) without a crash\n", n);
    return 0;
}
