/* synth: the synthetic TIMIT-like corpus (espeak-ng voices drawn by gender). A tiny corpus
 * is built several times: determinism across runs and worker counts, layout, gender counts,
 * durations, format, pitch by gender, the marker file, and refusals. */
#define _XOPEN_SOURCE 700 /* nftw */
#include <cjson/cJSON.h>
#include <ftw.h>
#include <sndfile.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "research/corpus/synth_text.h"
#include "testutil.h"
#include "veil/common.h"
#include "veil/corpus.h"

/* snprintf into an array, counting truncation as a failed check */
#define FMT(buf, ...) CHECK(snprintf(buf, sizeof buf, __VA_ARGS__) < (int)sizeof buf)

/* ---- files of a tree, relative paths, sorted ---- */
static char **tree_files;
static int tree_n;
static size_t tree_root_len;

static int collect(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    if (flag == FTW_F) {
        tree_files = realloc(tree_files, (size_t)(tree_n + 1) * sizeof *tree_files);
        tree_files[tree_n++] = strdup(path + tree_root_len);
    }
    return 0;
}
static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static char **list_tree(const char *root, int *n)
{
    tree_files = NULL;
    tree_n = 0;
    tree_root_len = strlen(root);
    nftw(root, collect, 16, FTW_PHYS);
    qsort(tree_files, (size_t)tree_n, sizeof *tree_files, cmp_str);
    *n = tree_n;
    return tree_files;
}
static void free_list(char **l, int n)
{
    for (int i = 0; i < n; i++) free(l[i]);
    free(l);
}

/* 1 when both trees hold the same files with the same bytes; `say` names the first difference. */
static int same_tree_say(const char *a, const char *b, int say)
{
    int na, nb;
    char **la = list_tree(a, &na);
    char **lb = list_tree(b, &nb);
    int same = na == nb && na > 0;
    for (int i = 0; same && i < na; i++) {
        same = !strcmp(la[i], lb[i]);
        char pa[4096], pb[4096];
        FMT(pa, "%s%s", a, la[i]);
        FMT(pb, "%s%s", b, lb[i]);
        char *da = NULL, *db = NULL;
        size_t sa = 0, sb = 0;
        if (same) same = veil_read_file(pa, &da, &sa) == 0 && veil_read_file(pb, &db, &sb) == 0 &&
                         sa == sb && !memcmp(da, db, sa);
        if (!same && say) fprintf(stderr, "trees differ at %s\n", la[i]);
        free(da);
        free(db);
    }
    free_list(la, na);
    free_list(lb, nb);
    return same;
}

static int same_tree(const char *a, const char *b) { return same_tree_say(a, b, 1); }

/* ---- audio ---- */
static float *read_wav(const char *path, SF_INFO *info)
{
    memset(info, 0, sizeof *info);
    SNDFILE *sf = sf_open(path, SFM_READ, info);
    if (!sf) return NULL;
    float *x = malloc((size_t)info->frames * (size_t)info->channels * sizeof *x);
    sf_readf_float(sf, x, info->frames);
    sf_close(sf);
    return x;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median F0 of the clearly voiced 40 ms frames (normalised autocorrelation peak). */
static double median_f0(const float *x, size_t n, int rate)
{
    const size_t fl = (size_t)rate / 25, hop = fl / 2;
    const size_t lo = (size_t)rate / 400, hi = (size_t)rate / 60;
    double peak = 0;
    for (size_t s = 0; s + fl <= n; s += hop) {
        double e = 0;
        for (size_t i = 0; i < fl; i++) e += (double)x[s + i] * x[s + i];
        if (e > peak) peak = e;
    }
    double *f0 = malloc((n / hop + 1) * sizeof *f0);
    size_t nf = 0;
    for (size_t s = 0; s + fl + hi <= n; s += hop) {
        double e = 0;
        for (size_t i = 0; i < fl; i++) e += (double)x[s + i] * x[s + i];
        if (e < 0.05 * peak) continue;
        double best = 0;
        size_t lag = 0;
        for (size_t k = lo; k <= hi; k++) {
            double c = 0;
            for (size_t i = 0; i < fl; i++) c += (double)x[s + i] * x[s + i + k];
            if (c > best) {
                best = c;
                lag = k;
            }
        }
        if (lag && best > 0.5 * e) f0[nf++] = (double)rate / (double)lag;
    }
    qsort(f0, nf, sizeof *f0, cmp_double);
    double m = nf ? f0[nf / 2] : 0;
    free(f0);
    return m;
}

/* ---- the corpus checks ---- */
static void check_corpus(const char *dir, const veil_synth_config *c)
{
    char path[4096];
    FMT(path, "%s/synth.json", dir);
    char *text = NULL;
    CHECK(veil_read_file(path, &text, NULL) == 0);
    cJSON *doc = text ? cJSON_Parse(text) : NULL;
    free(text);
    CHECK(doc != NULL);
    cJSON *cfg = cJSON_GetObjectItem(doc, "config");
    CHECK(cJSON_GetObjectItem(cfg, "speakers") && cJSON_GetObjectItem(cfg, "speakers")->valueint == c->speakers);
    CHECK(cJSON_GetObjectItem(cfg, "female") && cJSON_GetObjectItem(cfg, "female")->valueint == c->female);
    cJSON *speakers = cJSON_GetObjectItem(doc, "speakers");
    CHECK(cJSON_GetArraySize(speakers) == c->speakers);

    int n_female = 0, n_male = 0;
    double f0_sum[2] = {0, 0};
    cJSON *s;
    cJSON_ArrayForEach(s, speakers)
    {
        const char *id = cJSON_GetObjectItem(s, "id")->valuestring;
        const char *dr = cJSON_GetObjectItem(s, "dialect")->valuestring;
        double f0_target = cJSON_GetObjectItem(s, "f0_hz")->valuedouble;
        CHECK_MSG(strlen(id) == 5 && (id[0] == 'F' || id[0] == 'M') && id[4] >= '0' && id[4] <= '9',
                  "speaker id %s", id);
        CHECK(!strncmp(dr, "DR", 2) && dr[2] >= '1' && dr[2] <= '8');
        n_female += id[0] == 'F';
        n_male += id[0] == 'M';
        /* every utterance: 16 kHz mono 16-bit; the total near the requested seconds */
        char spk_dir[4096];
        FMT(spk_dir, "%s/TRAIN/%s/%s", dir, dr, id);
        CHECK_MSG(veil_is_dir(spk_dir), "%s", spk_dir);
        int nf;
        char **files = list_tree(spk_dir, &nf);
        double total = 0;
        int n_wav = 0, has_sa1 = 0, has_sa2 = 0;
        for (int i = 0; i < nf; i++) {
            if (!strstr(files[i], ".WAV")) continue;
            n_wav++;
            has_sa1 |= !strcmp(files[i], "/SA1.WAV");
            has_sa2 |= !strcmp(files[i], "/SA2.WAV");
            CHECK_MSG(!strncmp(files[i], "/SA", 3) || !strncmp(files[i], "/SX", 3) || !strncmp(files[i], "/SI", 3),
                      "utterance name %s", files[i]);
            FMT(path, "%s%s", spk_dir, files[i]);
            SF_INFO info;
            float *x = read_wav(path, &info);
            CHECK_MSG(x != NULL, "%s unreadable", path);
            if (!x) continue;
            CHECK(info.samplerate == 16000 && info.channels == 1);
            CHECK((info.format & SF_FORMAT_TYPEMASK) == SF_FORMAT_WAV &&
                  (info.format & SF_FORMAT_SUBMASK) == SF_FORMAT_PCM_16);
            total += (double)info.frames / info.samplerate;
            if (!strcmp(files[i], "/SA1.WAV")) {
                double f0 = median_f0(x, (size_t)info.frames, info.samplerate);
                CHECK_MSG(fabs(f0 - f0_target) < 0.2 * f0_target, "%s: median F0 %.1f Hz, drawn %.1f Hz", id,
                          f0, f0_target);
                f0_sum[id[0] == 'F'] += f0;
            }
            free(x);
        }
        free_list(files, nf);
        CHECK(has_sa1 && has_sa2 && n_wav >= 3);
        CHECK_MSG(fabs(total - c->seconds) < 0.2 * c->seconds, "%s: %.2f s for %.2f s asked", id, total,
                  c->seconds);
        CHECK_NEAR(cJSON_GetObjectItem(s, "seconds")->valuedouble, total, 0.01);
    }
    CHECK(n_female == c->female && n_male == c->speakers - c->female);
    /* voices drawn by gender: female speakers are higher on average */
    if (n_female && n_male) CHECK(f0_sum[1] / n_female > f0_sum[0] / n_male + 40);
    cJSON_Delete(doc);
}

static void check_sentences(void)
{
    veil_rng r;
    veil_rng_seed(&r, 5);
    char buf[512];
    int exact = 1;
    for (int words = SYNTH_MIN_WORDS; words <= SYNTH_MAX_WORDS; words++)
        for (int k = 0; k < 200; k++) exact &= synth_sentence(&r, words, buf, sizeof buf) == words &&
                                          synth_count_words(buf) == words && buf[strlen(buf) - 1] == '.';
    CHECK(exact);
    CHECK(synth_sentence(&r, 1, buf, sizeof buf) == SYNTH_MIN_WORDS);
    CHECK(synth_shared_words(0) > 5 && synth_shared_words(1) > 5);
}

int main(void)
{
    check_sentences();
    const char *tmp = test_tmpdir("synth");
    char a[4096], b[4096], d1[4096], d2[4096], path[4200];
    FMT(a, "%s/a", tmp);
    FMT(b, "%s/b", tmp);
    FMT(d1, "%s/one-worker", tmp);
    FMT(d2, "%s/seed2", tmp);

    veil_synth_config c;
    veil_synth_config_default(&c);
    CHECK(c.speakers == 420 && c.female == 130 && c.seconds > 30 && c.seconds < 32);
    c.speakers = 4;
    c.female = 2;
    c.seconds = 10;
    c.seed = 11;
    c.threads = 2;
    veil_verbosity = 0;
    CHECK(veil_synth_corpus(&c, a) == 0);
    check_corpus(a, &c);
    CHECK(veil_synth_corpus(&c, b) == 0);
    CHECK_MSG(same_tree(a, b), "same seed, different bytes");
    c.threads = 1;
    CHECK(veil_synth_corpus(&c, d1) == 0);
    CHECK_MSG(same_tree(a, d1), "1 worker and 2 workers differ");
    veil_synth_config c2 = c;
    c2.seed = 12;
    CHECK(veil_synth_corpus(&c2, d2) == 0);
    CHECK_MSG(!same_tree_say(a, d2, 0), "another seed gave the same corpus");

    /* a rerun with the same config does nothing (a removed file stays removed) */
    FMT(path, "%s/synth.json", b);
    cJSON *doc = NULL;
    {
        char *text = NULL;
        veil_read_file(path, &text, NULL);
        doc = cJSON_Parse(text);
        free(text);
    }
    cJSON *first = cJSON_GetArrayItem(cJSON_GetObjectItem(doc, "speakers"), 0);
    char sa1[4200];
    FMT(sa1, "%s/TRAIN/%s/%s/SA1.WAV", b, cJSON_GetObjectItem(first, "dialect")->valuestring,
             cJSON_GetObjectItem(first, "id")->valuestring);
    cJSON_Delete(doc);
    CHECK(unlink(sa1) == 0);
    CHECK(veil_synth_corpus(&c, b) == 0);
    CHECK(!veil_path_exists(sa1));
    /* an unfinished build of the same config (marker not yet written) is redone */
    char partial[4200];
    FMT(partial, "%s/.synth-partial.json", b);
    CHECK(rename(path, partial) == 0);
    CHECK(veil_synth_corpus(&c, b) == 0);
    CHECK(veil_path_exists(sa1) && veil_path_exists(path) && !veil_path_exists(partial));
    CHECK_MSG(same_tree(a, b), "redone corpus differs");

    /* refusals: another config, a foreign non-empty folder, a file, an impossible folder */
    CHECK_FAILS_WITH(veil_synth_corpus(&c2, a), "another config");
    CHECK(veil_path_exists(a) && same_tree(a, d1));
    char foreign[4200], file[4200], under_file[4300];
    FMT(foreign, "%s/foreign", tmp);
    veil_mkdirs(foreign);
    FMT(file, "%s/notes.txt", foreign);
    test_write_file(file, "mine", 4);
    CHECK_FAILS_WITH(veil_synth_corpus(&c, foreign), "not empty");
    CHECK(veil_path_exists(file));
    CHECK_FAILS_WITH(veil_synth_corpus(&c, file), "not a directory");
    FMT(under_file, "%s/sub", file);
    CHECK_FAILS_WITH(veil_synth_corpus(&c, under_file), "cannot create");
    /* an empty existing folder is fine */
    char empty[4200];
    FMT(empty, "%s/empty", tmp);
    veil_mkdirs(empty);
    CHECK(veil_synth_corpus(&c, empty) == 0 && same_tree(a, empty));

    /* bad configs and missing espeak-ng data */
    veil_synth_config bad = c;
    bad.female = 5;
    CHECK_FAILS_WITH(veil_synth_corpus(&bad, d2), "female");
    bad = c;
    bad.female = 0;
    CHECK_FAILS_WITH(veil_synth_corpus(&bad, d2), "both genders");
    bad = c;
    bad.speakers = 1;
    bad.female = 1;
    CHECK_FAILS_WITH(veil_synth_corpus(&bad, d2), "speakers must be");
    bad = c;
    bad.seconds = 0;
    CHECK_FAILS_WITH(veil_synth_corpus(&bad, d2), "seconds");
    setenv("ESPEAK_DATA_PATH", "/nonexistent-espeak", 1);
    CHECK_FAILS_WITH(veil_synth_corpus(&c, d2), "espeak-ng data not found");
    unsetenv("ESPEAK_DATA_PATH");
    return test_finish("test_synth");
}
