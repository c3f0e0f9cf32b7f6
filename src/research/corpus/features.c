/* Feature cache: MFCC patches of every utterance of a corpus, computed in parallel over
 * files (one veil_mfcc per thread, results stored by utterance so the order never depends
 * on the thread count) and cached in one binary file keyed by everything that shapes them. */
#include "veil/features.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "veil/audio.h"
#include "veil/common.h"

/* ---------------- hashing (FNV-1a, 64 bit) ---------------- */
#define FNV_OFFSET 0xcbf29ce484222325ULL
#define FNV_PRIME 0x100000001b3ULL

static uint64_t fnv_bytes(uint64_t h, const void *data, size_t n)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * FNV_PRIME;
    return h;
}
static uint64_t fnv_str(uint64_t h, const char *s) { return fnv_bytes(h, s, strlen(s) + 1); }
static uint64_t fnv_u64(uint64_t h, uint64_t v) { return fnv_bytes(h, &v, sizeof v); }

/* Checksum of the payload: FNV-1a over 64-bit words (8x fewer multiplies than bytes, so a
 * 120 MB cache is checked in a few tens of milliseconds), then the tail bytes. */
static uint64_t checksum_words(uint64_t h, const void *data, size_t n)
{
    const unsigned char *p = data;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        h = (h ^ w) * FNV_PRIME;
    }
    return fnv_bytes(h, p + i, n - i);
}

/* ---------------- the cache file ---------------- */
#define CACHE_MAGIC "VEILPTCH"
#define CACHE_VERSION 1u

typedef struct cache_header {
    char magic[8];
    uint32_t version;
    uint32_t header_bytes;
    uint64_t key;
    uint32_t patch_h, patch_w;
    uint32_t n_speakers, n_utts;
    uint64_t n_patches;
    uint32_t n_short_utts, reserved;
    uint64_t payload_checksum;
    uint64_t header_checksum; /* of the bytes above */
} cache_header;
_Static_assert(sizeof(cache_header) == 72, "cache header has no padding");

static uint64_t header_checksum(const cache_header *h)
{
    return fnv_bytes(FNV_OFFSET, h, offsetof(cache_header, header_checksum));
}

static uint64_t payload_checksum(const veil_patch_set *p)
{
    uint64_t h = FNV_OFFSET;
    h = checksum_words(h, p->speaker_offset, ((size_t)p->n_speakers + 1) * sizeof *p->speaker_offset);
    h = checksum_words(h, p->patch_utt, p->n_patches * sizeof *p->patch_utt);
    return checksum_words(h, p->patches, p->n_patches * (size_t)p->patch_h * (size_t)p->patch_w * sizeof(float));
}

/* speaker_offset is stored as uint64 whatever size_t is */
_Static_assert(sizeof(size_t) == sizeof(uint64_t), "64-bit size_t");

static size_t patch_floats(const veil_patch_set *p) { return (size_t)p->patch_h * (size_t)p->patch_w; }

typedef struct cache_write {
    const veil_patch_set *p;
    uint64_t key;
} cache_write;

static int write_cache(FILE *f, void *ctx)
{
    const cache_write *w = ctx;
    const veil_patch_set *p = w->p;
    cache_header h;
    memset(&h, 0, sizeof h);
    memcpy(h.magic, CACHE_MAGIC, 8);
    h.version = CACHE_VERSION;
    h.header_bytes = sizeof h;
    h.key = w->key;
    h.patch_h = (uint32_t)p->patch_h;
    h.patch_w = (uint32_t)p->patch_w;
    h.n_speakers = (uint32_t)p->n_speakers;
    h.n_utts = (uint32_t)p->n_utts;
    h.n_patches = p->n_patches;
    h.n_short_utts = (uint32_t)p->n_short_utts;
    h.payload_checksum = payload_checksum(p);
    h.header_checksum = header_checksum(&h);
    size_t no = (size_t)p->n_speakers + 1, nf = p->n_patches * patch_floats(p);
    if (fwrite(&h, sizeof h, 1, f) != 1 || fwrite(p->speaker_offset, sizeof(size_t), no, f) != no ||
        (p->n_patches && fwrite(p->patch_utt, sizeof(int32_t), p->n_patches, f) != p->n_patches) ||
        (nf && fwrite(p->patches, sizeof(float), nf, f) != nf)) {
        veil_error("write failed: %s", strerror(errno));
        return -1;
    }
    return 0;
}

static veil_patch_set *new_set(const veil_corpus *c, const veil_mfcc_config *m, size_t n_patches)
{
    veil_patch_set *p = veil_calloc(1, sizeof *p);
    p->mfcc = *m;
    p->patch_h = m->patch_frames;
    p->patch_w = m->n_mfcc;
    p->n_speakers = c->n_speakers;
    p->n_utts = c->n_utts;
    p->speaker_offset = veil_calloc((size_t)c->n_speakers + 1, sizeof *p->speaker_offset);
    p->n_patches = n_patches;
    p->patch_utt = veil_malloc((n_patches ? n_patches : 1) * sizeof *p->patch_utt);
    p->patches = veil_aligned_alloc((n_patches ? n_patches : 1) * patch_floats(p) * sizeof(float));
    return p;
}

void veil_patch_set_free(veil_patch_set *p)
{
    if (!p) return;
    free(p->speaker_offset), free(p->patch_utt), free(p->patches), free(p->cache_path);
    free(p);
}

/* Offsets and utterance indices must describe the corpus: a file that passes the checksum
 * but was written for another corpus (a hash collision) must not index out of bounds. */
static int structure_ok(const veil_patch_set *p, const veil_corpus *c)
{
    if (p->speaker_offset[0] != 0 || p->speaker_offset[c->n_speakers] != p->n_patches) return 0;
    for (int s = 0; s < c->n_speakers; s++) {
        const veil_speaker *sp = &c->speakers[s];
        if (p->speaker_offset[s + 1] < p->speaker_offset[s]) return 0;
        int32_t prev = sp->first_utt;
        for (size_t i = p->speaker_offset[s]; i < p->speaker_offset[s + 1]; i++) {
            int32_t u = p->patch_utt[i];
            if (u < prev || u >= sp->first_utt + sp->n_utts) return 0;
            prev = u;
        }
    }
    return 1;
}

/* 1: loaded into *out; 0: absent or not valid (why says which, "" when absent); -1: the
 * path is there but not a regular file (a FIFO would block, a directory cannot be replaced). */
static int read_cache(const char *path, uint64_t key, const veil_corpus *c, const veil_mfcc_config *m,
                      veil_patch_set **out, char *why, size_t why_n)
{
    *out = NULL;
    why[0] = 0;
    if (!veil_path_exists(path)) return 0;
    FILE *f = veil_open_input(path);
    if (!f) {
        veil_error_prefix("patch cache");
        return -1;
    }
    struct stat st;
    cache_header h;
    veil_patch_set *p = NULL;
    const char *bad = NULL;
    if (fstat(fileno(f), &st) != 0 || fread(&h, sizeof h, 1, f) != 1) bad = "truncated header";
    else if (memcmp(h.magic, CACHE_MAGIC, 8) || h.version != CACHE_VERSION || h.header_bytes != sizeof h)
        bad = "not a veil patch cache of this version";
    else if (h.header_checksum != header_checksum(&h)) bad = "header checksum mismatch";
    else if (h.key != key) bad = "corpus files or MFCC settings changed";
    else if (h.patch_h != (uint32_t)m->patch_frames || h.patch_w != (uint32_t)m->n_mfcc ||
             h.n_speakers != (uint32_t)c->n_speakers || h.n_utts != (uint32_t)c->n_utts ||
             h.n_patches > (uint64_t)INT32_MAX * 64)
        bad = "counts do not match the corpus";
    if (!bad) {
        size_t pf = (size_t)h.patch_h * h.patch_w;
        uint64_t want = sizeof h + ((uint64_t)h.n_speakers + 1) * 8 + h.n_patches * 4 + h.n_patches * pf * 4;
        if ((uint64_t)st.st_size != want) bad = "file size does not match its header";
    }
    if (!bad) {
        p = new_set(c, m, (size_t)h.n_patches);
        p->n_short_utts = (int)h.n_short_utts;
        size_t no = (size_t)c->n_speakers + 1, nf = p->n_patches * patch_floats(p);
        if (fread(p->speaker_offset, sizeof(size_t), no, f) != no ||
            fread(p->patch_utt, sizeof(int32_t), p->n_patches, f) != p->n_patches ||
            fread(p->patches, sizeof(float), nf, f) != nf)
            bad = "read error";
        else if (payload_checksum(p) != h.payload_checksum) bad = "data checksum mismatch (corrupted)";
        else if (!structure_ok(p, c)) bad = "offsets do not match the corpus";
    }
    fclose(f);
    if (bad) {
        snprintf(why, why_n, "%s", bad);
        veil_patch_set_free(p);
        return 0;
    }
    *out = p;
    return 1;
}

/* ---------------- cache location and key ---------------- */
static int usable_dir(const char *dir)
{
    veil_error_clear();
    return veil_mkdirs(dir) == 0 && access(dir, W_OK | X_OK) == 0;
}

static char *join(const char *a, const char *b)
{
    size_t n = strlen(a) + strlen(b) + 2;
    char *s = veil_malloc(n);
    snprintf(s, n, "%s/%s", a, b);
    return s;
}

/* The folder holding the corpus: ROOT itself, or a manifest's folder. */
static char *corpus_dir(const veil_corpus *c)
{
    if (veil_is_dir(c->root)) return veil_strdup(c->root);
    const char *slash = strrchr(c->root, '/');
    if (!slash) return veil_strdup(".");
    char *d = veil_strdup(c->root);
    d[slash == c->root ? 1 : slash - c->root] = 0;
    return d;
}

static char *default_cache_dir(const veil_corpus *c)
{
    char *base = corpus_dir(c);
    char *d = join(base, ".veil-cache");
    free(base);
    if (usable_dir(d)) return d;
    free(d);
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    if (xdg && xdg[0] == '/') d = join(xdg, "veil");
    else if (home && *home) d = join(home, ".cache/veil");
    else return NULL;
    if (usable_dir(d)) return d;
    free(d);
    return NULL;
}

/* Output of the MFCC code on a fixed signal: a change to mfcc.c that changes its numbers
 * changes the key, so a cache never outlives the code that made it. */
static uint64_t mfcc_fingerprint(veil_mfcc *mf, const veil_mfcc_config *m)
{
    size_t n = (size_t)m->win_length + (size_t)m->hop_length * ((size_t)m->patch_frames - 1);
    float *x = veil_malloc(n * sizeof *x);
    veil_rng r;
    veil_rng_seed(&r, 20190915);
    for (size_t i = 0; i < n; i++)
        x[i] = (float)(0.3 * sin(0.02 * (double)i + 1e-5 * (double)i * (double)i) + 0.05 * veil_rng_normal(&r));
    float *pt = NULL;
    size_t np = 0;
    uint64_t h = FNV_OFFSET;
    if (veil_mfcc_patches(mf, x, n, &pt, &np) == 0 && np > 0)
        h = fnv_bytes(h, pt, np * (size_t)m->patch_frames * (size_t)m->n_mfcc * sizeof *pt);
    free(pt);
    free(x);
    return h;
}

/* Key: format version, MFCC settings (JSON and exact float bits), MFCC fingerprint, the
 * speakers, and every file's path (relative to the corpus folder), size and mtime. */
static int cache_key(const veil_corpus *c, const veil_mfcc_config *m, uint64_t fingerprint, uint64_t *key)
{
    uint64_t h = fnv_str(FNV_OFFSET, "veil patches v1");
    char *json = veil_mfcc_config_to_json(m);
    h = fnv_str(h, json);
    free(json);
    float fl[4] = {m->f_min, m->f_max, m->log_floor, m->preemphasis};
    h = fnv_bytes(h, fl, sizeof fl);
    h = fnv_u64(h, fingerprint);
    h = fnv_u64(h, (uint64_t)c->n_speakers);
    for (int s = 0; s < c->n_speakers; s++) {
        h = fnv_str(h, c->speakers[s].id);
        h = fnv_u64(h, (uint64_t)c->speakers[s].first_utt);
        h = fnv_u64(h, (uint64_t)c->speakers[s].n_utts);
    }
    char *base = corpus_dir(c);
    size_t bl = strlen(base);
    for (int u = 0; u < c->n_utts; u++) {
        const char *path = c->utts[u].path;
        struct stat st;
        if (stat(path, &st) != 0) {
            veil_error("%s: cannot stat: %s", path, strerror(errno));
            free(base);
            return -1;
        }
        const char *rel = !strncmp(path, base, bl) && path[bl] == '/' ? path + bl + 1 : path;
        h = fnv_str(h, rel);
        h = fnv_u64(h, (uint64_t)c->utts[u].speaker);
        h = fnv_u64(h, (uint64_t)st.st_size);
        h = fnv_u64(h, (uint64_t)st.st_mtim.tv_sec);
        h = fnv_u64(h, (uint64_t)st.st_mtim.tv_nsec);
    }
    free(base);
    *key = h;
    return 0;
}

/* One cache file per corpus and MFCC setting, so experiments with other settings keep
 * their own; its name hashes the corpus' real path and the settings. */
static char *cache_file_name(const veil_corpus *c, const veil_mfcc_config *m, const char *dir)
{
    char *real = realpath(c->root, NULL);
    char *json = veil_mfcc_config_to_json(m);
    uint64_t h = fnv_str(fnv_str(FNV_OFFSET, real ? real : c->root), json);
    free(real);
    free(json);
    char name[64];
    snprintf(name, sizeof name, "patches-%016llx.bin", (unsigned long long)h);
    return join(dir, name);
}

/* ---------------- computing ---------------- */
typedef struct compute_job {
    const veil_corpus *c;
    const veil_mfcc_config *m;
    float **res;
    size_t *count;
    int next, done, stop;
    pthread_mutex_t lock;
    char err[2048];
    veil_progress progress;
} compute_job;

typedef struct worker_arg {
    compute_job *job;
    veil_mfcc *mfcc;
} worker_arg;

static void *worker(void *arg)
{
    worker_arg *w = arg;
    compute_job *j = w->job;
    for (;;) {
        pthread_mutex_lock(&j->lock);
        int u = j->stop || j->next >= j->c->n_utts ? -1 : j->next++;
        pthread_mutex_unlock(&j->lock);
        if (u < 0) break;
        veil_audio a;
        int rc = veil_audio_load(j->c->utts[u].path, j->m->sample_rate, &a);
        if (rc == 0) {
            rc = veil_mfcc_patches(w->mfcc, a.samples, a.n, &j->res[u], &j->count[u]);
            if (rc != 0) veil_error_prefix("%s", j->c->utts[u].path);
            veil_audio_free(&a);
        }
        pthread_mutex_lock(&j->lock);
        if (rc != 0) {
            if (!j->err[0]) snprintf(j->err, sizeof j->err, "%s", veil_last_error());
            j->stop = 1;
        } else {
            veil_progress_update(&j->progress, ++j->done, NULL);
        }
        pthread_mutex_unlock(&j->lock);
    }
    return NULL;
}

static int compute(const veil_corpus *c, const veil_mfcc_config *m, int threads, veil_patch_set **out)
{
    *out = NULL;
    compute_job j;
    memset(&j, 0, sizeof j);
    j.c = c;
    j.m = m;
    j.res = veil_calloc((size_t)c->n_utts, sizeof *j.res);
    j.count = veil_calloc((size_t)c->n_utts, sizeof *j.count);
    pthread_mutex_init(&j.lock, NULL);
    if (threads <= 0) threads = veil_threads();
    if (threads > c->n_utts) threads = c->n_utts;
    if (threads < 1) threads = 1;
    pthread_t *tid = veil_calloc((size_t)threads, sizeof *tid);
    worker_arg *args = veil_calloc((size_t)threads, sizeof *args);
    veil_progress_begin(&j.progress, "MFCC patches", c->n_utts);
    j.progress.unit = "files";
    int started = 0;
    for (int t = 0; t < threads; t++) {
        args[t].job = &j;
        args[t].mfcc = veil_mfcc_new(m);
        if (!args[t].mfcc) {
            snprintf(j.err, sizeof j.err, "%s", veil_last_error());
            break;
        }
    }
    for (int t = 0; t < threads && !j.err[0]; t++) {
        if (pthread_create(&tid[t], NULL, worker, &args[t]) != 0) {
            pthread_mutex_lock(&j.lock);
            snprintf(j.err, sizeof j.err, "cannot start a worker thread: %s", strerror(errno));
            j.stop = 1;
            pthread_mutex_unlock(&j.lock);
            break;
        }
        started++;
    }
    for (int t = 0; t < started; t++) pthread_join(tid[t], NULL);
    for (int t = 0; t < threads; t++) veil_mfcc_free(args[t].mfcc);
    free(tid);
    free(args);
    pthread_mutex_destroy(&j.lock);

    int rc = 0;
    if (j.err[0]) {
        veil_progress_end(&j.progress, "failed");
        veil_error("%s", j.err);
        rc = -1;
    } else {
        size_t total = 0;
        for (int u = 0; u < c->n_utts; u++) total += j.count[u];
        veil_patch_set *p = new_set(c, m, total);
        const size_t pf = patch_floats(p);
        size_t k = 0;
        for (int s = 0; s < c->n_speakers; s++) {
            const veil_speaker *sp = &c->speakers[s];
            p->speaker_offset[s] = k;
            for (int u = sp->first_utt; u < sp->first_utt + sp->n_utts; u++) {
                if (j.count[u] == 0) p->n_short_utts++;
                if (j.count[u]) memcpy(p->patches + k * pf, j.res[u], j.count[u] * pf * sizeof(float));
                for (size_t i = 0; i < j.count[u]; i++) p->patch_utt[k + i] = u;
                k += j.count[u];
                free(j.res[u]);
                j.res[u] = NULL;
            }
        }
        p->speaker_offset[c->n_speakers] = k;
        char summary[128];
        snprintf(summary, sizeof summary, "%zu patch%s from %d file%s", total, total == 1 ? "" : "es", c->n_utts,
                 c->n_utts == 1 ? "" : "s");
        veil_progress_end(&j.progress, summary);
        *out = p;
    }
    for (int u = 0; u < c->n_utts; u++) free(j.res[u]);
    free(j.res);
    free(j.count);
    return rc;
}

/* ---------------- the entry point ---------------- */
int veil_features_load(const veil_corpus *c, const veil_mfcc_config *m, const char *cache_dir, int threads,
                       veil_patch_set **out)
{
    *out = NULL;
    double t0 = veil_now();
    if (veil_mfcc_config_validate(m) != 0) return -1;
    if (c->n_utts <= 0) {
        veil_error("%s: corpus has no utterances", c->root);
        return -1;
    }
    veil_mfcc *mf = veil_mfcc_new(m);
    if (!mf) return -1;
    uint64_t fingerprint = mfcc_fingerprint(mf, m);
    veil_mfcc_free(mf);
    uint64_t key;
    if (cache_key(c, m, fingerprint, &key) != 0) return -1;

    char *dir = cache_dir ? (usable_dir(cache_dir) ? veil_strdup(cache_dir) : NULL) : default_cache_dir(c);
    if (!dir) veil_log("veil: no writable cache folder (%s); patches are not cached",
                       cache_dir ? cache_dir : "corpus folder, $XDG_CACHE_HOME or ~/.cache");
    char *path = dir ? cache_file_name(c, m, dir) : NULL;
    free(dir);

    veil_patch_set *p = NULL;
    if (path) {
        char why[128];
        int got = read_cache(path, key, c, m, &p, why, sizeof why);
        if (got < 0) {
            free(path);
            return -1;
        }
        if (got) {
            p->from_cache = 1;
        } else if (why[0]) {
            veil_log("%s: %s; recomputing", path, why);
        }
    }
    if (!p) {
        if (compute(c, m, threads, &p) != 0) {
            free(path);
            return -1;
        }
        if (p->n_patches == 0) {
            veil_error("%s: no utterance is long enough for one patch (%d frames, %.3f s)", c->root,
                       m->patch_frames,
                       ((double)m->win_length + (double)m->hop_length * (m->patch_frames - 1)) / m->sample_rate);
            veil_patch_set_free(p);
            free(path);
            return -1;
        }
        cache_write w = {p, key};
        if (path && veil_write_atomic(path, write_cache, &w) != 0) {
            veil_log("veil: cannot write the patch cache: %s", veil_last_error());
            free(path);
            path = NULL;
        }
    }
    p->cache_path = path;
    p->seconds = veil_now() - t0;
    *out = p;
    return 0;
}
