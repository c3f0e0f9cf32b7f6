/* Scratch folder and fixtures for the fuzz harnesses (fuzz_util.h). */
#define _XOPEN_SOURCE 700
#include "fuzz_util.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "veil/audio.h"
#include "veil/common.h"
#include "veil/corpus.h"

static char dir[4096];

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    remove(path);
    return 0;
}

static void remove_dir(void)
{
    if (dir[0]) nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

const char *fuzz_dir(void)
{
    if (!dir[0]) {
        const char *t = getenv("TMPDIR");
        snprintf(dir, sizeof dir, "%s/veil-fuzz-XXXXXX", t && *t ? t : "/tmp");
        if (!mkdtemp(dir)) {
            perror("fuzz: mkdtemp");
            abort();
        }
        atexit(remove_dir);
        veil_verbosity = 0;
    }
    return dir;
}

const char *fuzz_path(const char *rel)
{
    static char buf[4][8192];
    static int k;
    char *p = buf[k++ % 4];
    snprintf(p, sizeof buf[0], "%s/%s", fuzz_dir(), rel);
    char *slash = strrchr(p, '/');
    if (slash && slash > p + strlen(dir)) {
        *slash = 0;
        veil_mkdirs(p);
        *slash = '/';
    }
    return p;
}

void fuzz_write(const char *rel, const void *data, size_t n)
{
    FILE *f = fopen(fuzz_path(rel), "wb");
    if (!f || (n && fwrite(data, 1, n, f) != n)) {
        perror("fuzz: write");
        abort();
    }
    fclose(f);
}

void fuzz_wav(const char *rel)
{
    const char *p = fuzz_path(rel);
    if (veil_path_exists(p)) return;
    float x[1600];
    for (int i = 0; i < 1600; i++) x[i] = 0.1f * (float)((i * 7919) % 200 - 100) / 100.0f;
    if (veil_audio_write_wav16(p, x, 1600, 16000) != 0) {
        fprintf(stderr, "fuzz: %s\n", veil_last_error());
        abort();
    }
}

void fuzz_remove(const char *rel)
{
    char p[8192];
    snprintf(p, sizeof p, "%s/%s", fuzz_dir(), rel);
    nftw(p, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

char *fuzz_string(const uint8_t *data, size_t size)
{
    char *s = veil_malloc(size + 1);
    if (size) memcpy(s, data, size);
    s[size] = 0;
    return s;
}

void fuzz_corpus(const char *wav_a, const char *wav_b, const char *table, const char *load, const uint8_t *data,
                 size_t size)
{
    fuzz_wav(wav_a);
    fuzz_wav(wav_b);
    fuzz_write(table, data, size);
    veil_corpus *c = NULL;
    if (veil_corpus_load(fuzz_path(load), &c) == 0) veil_corpus_free(c);
}
