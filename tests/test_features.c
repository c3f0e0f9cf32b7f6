/* features: corpus patches equal the MFCC of each file; thread count does not change
 * them; the cache is used when valid and recomputed when stale or damaged. */
#include <math.h>
#include <sndfile.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "testutil.h"
#include "veil/audio.h"
#include "veil/common.h"
#include "veil/corpus.h"
#include "veil/features.h"

static char base[4096];

static void write_audio(const char *rel, double seconds, int rate, uint64_t seed)
{
    char path[4200], dir[4200];
    snprintf(path, sizeof path, "%s/%s", base, rel);
    snprintf(dir, sizeof dir, "%s", path);
    *strrchr(dir, '/') = 0;
    if (veil_mkdirs(dir) != 0) exit(2);
    int n = (int)lround(seconds * rate);
    float *x = malloc((size_t)n * sizeof *x);
    veil_rng r;
    veil_rng_seed(&r, seed);
    double f0 = 100 + 200 * veil_rng_uniform(&r);
    for (int i = 0; i < n; i++) x[i] = (float)(0.3 * sin(2 * M_PI * f0 * i / rate) + 0.05 * veil_rng_normal(&r));
    if (veil_audio_write_wav16(path, x, (size_t)n, rate) != 0) {
        fprintf(stderr, "%s\n", veil_last_error());
        exit(2);
    }
    free(x);
}

/* The patches of every utterance computed directly, compared with the set. */
static void check_against_direct(const veil_corpus *c, const veil_mfcc_config *m, const veil_patch_set *p)
{
    veil_mfcc *mf = veil_mfcc_new(m);
    const size_t pf = (size_t)m->patch_frames * (size_t)m->n_mfcc;
    size_t k = 0;
    int short_utts = 0;
    for (int s = 0; s < c->n_speakers; s++) {
        CHECK(p->speaker_offset[s] == k);
        for (int u = c->speakers[s].first_utt; u < c->speakers[s].first_utt + c->speakers[s].n_utts; u++) {
            veil_audio a;
            if (veil_audio_load(c->utts[u].path, m->sample_rate, &a) != 0) {
                CHECK_MSG(0, "%s", veil_last_error());
                continue;
            }
            float *pt = NULL;
            size_t np = 0;
            CHECK(veil_mfcc_patches(mf, a.samples, a.n, &pt, &np) == 0);
            short_utts += np == 0;
            int same = k + np <= p->n_patches;
            for (size_t i = 0; same && i < np; i++) same = p->patch_utt[k + i] == u;
            if (same && np) same = !memcmp(veil_patch(p, k), pt, np * pf * sizeof *pt);
            CHECK_MSG(same, "utterance %d (%s)", u, c->utts[u].path);
            k += np;
            free(pt);
            veil_audio_free(&a);
        }
    }
    CHECK(p->speaker_offset[c->n_speakers] == k && p->n_patches == k);
    CHECK(p->n_short_utts == short_utts);
    veil_mfcc_free(mf);
}

static int same_sets(const veil_patch_set *a, const veil_patch_set *b)
{
    if (a->n_patches != b->n_patches || a->n_speakers != b->n_speakers) return 0;
    size_t pf = (size_t)a->patch_h * (size_t)a->patch_w;
    return !memcmp(a->speaker_offset, b->speaker_offset, ((size_t)a->n_speakers + 1) * sizeof(size_t)) &&
           !memcmp(a->patch_utt, b->patch_utt, a->n_patches * sizeof(int32_t)) &&
           !memcmp(a->patches, b->patches, a->n_patches * pf * sizeof(float));
}

static veil_patch_set *load(const veil_corpus *c, const veil_mfcc_config *m, const char *cache, int threads)
{
    veil_patch_set *p = NULL;
    if (veil_features_load(c, m, cache, threads, &p) != 0) CHECK_MSG(0, "features: %s", veil_last_error());
    return p;
}

static void flip_byte(const char *path, long offset_from_end)
{
    FILE *f = fopen(path, "r+b");
    if (!f) exit(2);
    fseek(f, -offset_from_end, SEEK_END);
    int ch = fgetc(f);
    fseek(f, -offset_from_end, SEEK_END);
    fputc(ch ^ 0x5a, f);
    fclose(f);
}

int main(void)
{
    snprintf(base, sizeof base, "%s", test_tmpdir("features"));
    /* 2 F + 2 M speakers; a 22.05 kHz file (resampled); short files with no patch; and a
     * speaker whose only file is too short (0 patches: allowed here) */
    write_audio("c/TRAIN/DR1/FAAA0/SA1.WAV", 1.0, 16000, 1);
    write_audio("c/TRAIN/DR1/FAAA0/SA2.WAV", 1.4, 16000, 2);
    write_audio("c/TRAIN/DR1/FBBB0/SA1.WAV", 0.9, 22050, 3);
    write_audio("c/TRAIN/DR1/FBBB0/SX1.WAV", 0.3, 16000, 4);
    write_audio("c/TRAIN/DR2/MCCC0/SA1.WAV", 2.1, 16000, 5);
    write_audio("c/TRAIN/DR2/MDDD0/SA1.WAV", 0.8, 16000, 6);
    write_audio("c/TRAIN/DR2/MDDD0/SA2.WAV", 0.5, 16000, 7);
    write_audio("c/TEST/DR3/FEEE0/SA1.WAV", 0.2, 16000, 8);
    char root[4200], cache1[4200], cache2[4200], path[8400];
    snprintf(root, sizeof root, "%s/c", base);
    snprintf(cache1, sizeof cache1, "%s/cache1", base);
    snprintf(cache2, sizeof cache2, "%s/cache2", base);

    veil_corpus *c = NULL;
    if (veil_corpus_load(root, &c) != 0) {
        fprintf(stderr, "%s\n", veil_last_error());
        return 1;
    }
    veil_mfcc_config m;
    veil_mfcc_config_default(&m);

    veil_patch_set *p1 = load(c, &m, cache1, 1);
    if (!p1) return test_finish("test_features");
    CHECK(p1->from_cache == 0);
    CHECK(p1->cache_path && strstr(p1->cache_path, cache1) == p1->cache_path);
    check_against_direct(c, &m, p1);
    CHECK(p1->n_patches > 8);
    CHECK(p1->n_short_utts == 2);
    for (int s = 0; s < c->n_speakers; s++)
        CHECK((veil_speaker_patches(p1, s) == 0) == !strcmp(c->speakers[s].id, "FEEE0"));
    CHECK(p1->patch_h == 32 && p1->patch_w == 32 && p1->n_speakers == c->n_speakers);

    /* two threads, fresh cache folder: the same bytes */
    veil_patch_set *p2 = load(c, &m, cache2, 2);
    CHECK(p2 && !p2->from_cache && same_sets(p1, p2));
    veil_patch_set_free(p2);

    /* second load of cache1 comes from the cache */
    p2 = load(c, &m, cache1, 2);
    CHECK(p2 && p2->from_cache && same_sets(p1, p2));
    veil_patch_set_free(p2);

    /* other MFCC settings: not from this cache */
    veil_mfcc_config m2 = m;
    m2.n_mels = 48;
    p2 = load(c, &m2, cache1, 2);
    CHECK(p2 && !p2->from_cache && !same_sets(p1, p2));
    veil_patch_set_free(p2);
    p2 = load(c, &m2, cache1, 2);
    CHECK(p2 && p2->from_cache);
    veil_patch_set_free(p2);

    /* a touched file invalidates the cache */
    snprintf(path, sizeof path, "%s/TRAIN/DR2/MCCC0/SA1.WAV", root);
    struct timeval tv[2] = {{1500000000, 0}, {1500000000, 0}};
    CHECK(utimes(path, tv) == 0);
    p2 = load(c, &m, cache1, 2);
    CHECK(p2 && !p2->from_cache && same_sets(p1, p2));
    veil_patch_set_free(p2);
    p2 = load(c, &m, cache1, 2);
    CHECK(p2 && p2->from_cache);
    veil_patch_set_free(p2);

    /* one flipped byte in the patch data: detected, recomputed, rewritten */
    flip_byte(p1->cache_path, 1000);
    p2 = load(c, &m, cache1, 1);
    CHECK(p2 && !p2->from_cache && same_sets(p1, p2));
    veil_patch_set_free(p2);
    /* a flipped byte in the header (the key) */
    struct stat st;
    CHECK(stat(p1->cache_path, &st) == 0);
    flip_byte(p1->cache_path, (long)st.st_size - 20);
    p2 = load(c, &m, cache1, 1);
    CHECK(p2 && !p2->from_cache && same_sets(p1, p2));
    veil_patch_set_free(p2);
    /* a truncated file */
    CHECK(truncate(p1->cache_path, st.st_size - 4096) == 0);
    p2 = load(c, &m, cache1, 1);
    CHECK(p2 && !p2->from_cache && same_sets(p1, p2));
    veil_patch_set_free(p2);
    p2 = load(c, &m, cache1, 1);
    CHECK(p2 && p2->from_cache && same_sets(p1, p2));
    veil_patch_set_free(p2);

    /* default location: <root>/.veil-cache, which the loader then ignores */
    p2 = load(c, &m, NULL, 0);
    snprintf(path, sizeof path, "%s/.veil-cache", root);
    CHECK(p2 && !p2->from_cache && p2->cache_path && strstr(p2->cache_path, path) == p2->cache_path);
    CHECK(veil_is_dir(path));
    veil_patch_set_free(p2);
    veil_corpus *c2 = NULL;
    CHECK(veil_corpus_load(root, &c2) == 0 && c2->n_utts == c->n_utts);
    veil_corpus_free(c2);

    /* a file that cannot be decoded fails with its name */
    snprintf(path, sizeof path, "%s/TRAIN/DR2/MDDD0/SA2.WAV", root);
    test_write_file(path, "RIFF....garbage", 15);
    veil_patch_set *bad = NULL;
    CHECK_FAILS_WITH(veil_features_load(c, &m, cache1, 2, &bad), "MDDD0/SA2.WAV");
    CHECK(bad == NULL);

    veil_patch_set_free(p1);
    veil_corpus_free(c);
    return test_finish("test_features");
}
