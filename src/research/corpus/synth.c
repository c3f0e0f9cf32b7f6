/* The synthetic TIMIT-like corpus: one espeak-ng voice variant per speaker, its
 * parameters drawn by gender from the seed, written as TRAIN/DRn/<F|M><id>/<utt>.WAV.
 *
 * espeak-ng's API is process-global and keeps state from one synthesis to the next (the
 * same sentence spoken twice in one process comes out with different samples), so each
 * speaker is made in a fresh child process forked from a parent that never touches
 * espeak-ng. A speaker's audio then depends only on the seed and the speaker's index,
 * never on which worker made it or what it made before: byte-identical at any worker
 * count. Children report through a pipe; the parent counts finished speakers. */
#define _XOPEN_SOURCE 700 /* nftw */
#include <cjson/cJSON.h>

#include "core/base/json.h"
#include <dirent.h>
#include <errno.h>
#include <espeak-ng/speak_lib.h>
#include <ftw.h>
#include <math.h>
#include <poll.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "synth_text.h"
#include "veil/audio.h"
#include "veil/common.h"
#include "veil/corpus.h"

#define OUT_RATE 16000
#define SECONDS_PER_UTTERANCE 3.1 /* ~10 utterances in TIMIT's ~31 s per speaker */
#define MAX_UTTERANCES 200
#define MAX_SPEAKERS 100000
#define MAX_SECONDS 600.0
#define N_FORMANTS 9
#define VARIANT_NAME "veil"
#define MARKER "synth.json"
#define PARTIAL_MARKER ".synth-partial.json"

/* Sub-streams of the seed: veil_seed_mix(seed, speaker, tag) (layout uses speaker 0). */
enum { SEED_LAYOUT = 1, SEED_VOICE = 2, SEED_PLAN = 3, SEED_UTTERANCE = 100 };

static const struct {
    const char *name;
    double weight;
} base_voices[] = {
    {"en-us", .40},          {"en-us-nyc", .15},      {"en", .12},
    {"en-gb-x-rp", .08},     {"en-gb-scotland", .08}, {"en-gb-x-gbclan", .07},
    {"en-gb-x-gbcwmd", .05}, {"en-029", .05},
};
#define N_BASE_VOICES ((int)(sizeof base_voices / sizeof base_voices[0]))
/* TIMIT's speakers per dialect region (630 in all), used as draw weights. */
static const double dialect_weights[8] = {49, 102, 102, 100, 98, 46, 100, 33};

typedef struct {
    char id[8]; /* "F" or "M", three letters, a digit */
    char gender;
    int dialect; /* 1..8 */
    int base_voice;
    double f0, range; /* target median F0 and pitch range, Hz */
    double formant_scale;
    double dev[N_FORMANTS], height[N_FORMANTS], width[N_FORMANTS];
    double tilt;
    int flutter, roughness, breath, voicing, consonants[2];
    double wpm;
    /* measured by the worker */
    int n_utts;
    double seconds;
} synth_voice;

/* What a child sends back through its pipe (one write, under PIPE_BUF). */
typedef struct {
    int ok;
    int n_utts;
    double seconds;
    char espeak_version[32];
    char message[1024];
} speaker_result;

/* snprintf for paths: fails with a message instead of truncating. */
static int path_fmt(char *buf, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int path_fmt(char *buf, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, cap, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= cap) {
        veil_error("path too long: %.200s...", buf);
        return -1;
    }
    return 0;
}

/* ---------------- drawing the speakers ---------------- */
static double clampd(double x, double lo, double hi) { return x < lo ? lo : x > hi ? hi : x; }
static double uniform(veil_rng *r, double lo, double hi) { return lo + (hi - lo) * veil_rng_uniform(r); }
/* Normal truncated to [lo, hi] by redrawing (no pile-up at the bounds). */
static double normal_in(veil_rng *r, double mean, double sd, double lo, double hi)
{
    for (int i = 0; i < 100; i++) {
        double x = mean + sd * veil_rng_normal(r);
        if (x >= lo && x <= hi) return x;
    }
    return clampd(mean, lo, hi);
}
static int weighted(veil_rng *r, const double *w, int n)
{
    double total = 0;
    for (int i = 0; i < n; i++) total += w[i];
    double u = veil_rng_uniform(r) * total;
    for (int i = 0; i < n; i++) {
        if (u < w[i]) return i;
        u -= w[i];
    }
    return n - 1;
}

static void draw_voice(uint64_t seed, int speaker, synth_voice *v)
{
    veil_rng r;
    veil_rng_seed(&r, veil_seed_mix(seed, (uint64_t)speaker, SEED_VOICE));
    int f = v->gender == 'F';
    double w[N_BASE_VOICES];
    for (int i = 0; i < N_BASE_VOICES; i++) w[i] = base_voices[i].weight;
    v->base_voice = weighted(&r, w, N_BASE_VOICES);
    v->f0 = f ? normal_in(&r, 205, 25, 150, 270) : normal_in(&r, 118, 20, 80, 175);
    v->range = v->f0 * uniform(&r, 0.25, 0.55);
    v->formant_scale = f ? normal_in(&r, 1.15, 0.055, 1.00, 1.30) : normal_in(&r, 1.00, 0.055, 0.88, 1.14);
    for (int k = 0; k < N_FORMANTS; k++) {
        v->dev[k] = normal_in(&r, 0, 0.03, -0.08, 0.08);
        v->height[k] = normal_in(&r, 1, 0.10, 0.70, 1.30);
        v->width[k] = normal_in(&r, f ? 1.08 : 1.00, 0.12, 0.70, 1.50);
    }
    v->tilt = uniform(&r, 0.80, 1.15);
    v->flutter = (int)lround(uniform(&r, 2, 20));
    v->roughness = (int)veil_rng_below(&r, 5);
    v->breath = (int)lround(uniform(&r, 0, f ? 20 : 15));
    v->voicing = (int)lround(uniform(&r, 85, 115));
    v->consonants[0] = (int)lround(uniform(&r, 80, 120));
    v->consonants[1] = (int)lround(uniform(&r, 80, 120));
    v->wpm = normal_in(&r, 185, 15, 145, 230);
}

/* Genders, dialect regions and TIMIT-like ids for all speakers, then their voices. */
static synth_voice *draw_speakers(const veil_synth_config *c)
{
    int n = c->speakers;
    synth_voice *v = veil_calloc((size_t)n, sizeof *v);
    veil_rng r;
    veil_rng_seed(&r, veil_seed_mix(c->seed, 0, SEED_LAYOUT));
    int *order = veil_malloc((size_t)n * sizeof *order);
    for (int i = 0; i < n; i++) order[i] = i;
    veil_rng_shuffle_int(&r, order, (size_t)n);
    for (int i = 0; i < n; i++) v[order[i]].gender = i < c->female ? 'F' : 'M';
    free(order);
    /* ids are unique on letters+digit, so no two speakers share one even across genders */
    unsigned char *used = veil_calloc(26 * 26 * 26 * 10, 1);
    for (int i = 0; i < n; i++) {
        v[i].dialect = 1 + weighted(&r, dialect_weights, 8);
        for (;;) {
            int letters = (int)veil_rng_below(&r, 26 * 26 * 26), digit = 0;
            while (digit < 10 && used[letters * 10 + digit]) digit++;
            if (digit == 10) continue;
            used[letters * 10 + digit] = 1;
            snprintf(v[i].id, sizeof v[i].id, "%c%c%c%c%d", v[i].gender, 'A' + letters / 676,
                     'A' + letters / 26 % 26, 'A' + letters % 26, digit);
            break;
        }
        draw_voice(c->seed, i, &v[i]);
    }
    free(used);
    return v;
}

/* ---------------- espeak-ng data ---------------- */
static int has_espeak_data(const char *dir)
{
    char p[4096];
    static const char *const need[] = {"phontab", "phondata", "phonindex", "en_dict", "lang"};
    for (size_t i = 0; i < sizeof need / sizeof need[0]; i++) {
        if (path_fmt(p, sizeof p, "%s/%s", dir, need[i]) || !veil_path_exists(p)) return 0;
    }
    return 1;
}

/* The system's espeak-ng-data directory: $ESPEAK_DATA_PATH (espeak-ng's own variable, the
 * directory holding espeak-ng-data, or espeak-ng-data itself), else the usual places. */
static int find_espeak_data(char *out, size_t cap)
{
    const char *env = getenv("ESPEAK_DATA_PATH");
    if (env && *env) {
        if (!path_fmt(out, cap, "%s/espeak-ng-data", env) && has_espeak_data(out)) return 0;
        if (!path_fmt(out, cap, "%s", env) && has_espeak_data(out)) return 0;
        veil_error("espeak-ng data not found: ESPEAK_DATA_PATH=%s holds no espeak-ng-data with "
                   "phontab, phondata, en_dict and lang/ (unset it or point it at the directory "
                   "holding espeak-ng-data)",
                   env);
        return -1;
    }
    static const char *const places[] = {
        "/usr/lib/x86_64-linux-gnu/espeak-ng-data", "/usr/lib/aarch64-linux-gnu/espeak-ng-data",
        "/usr/share/espeak-ng-data", "/usr/local/share/espeak-ng-data", "/usr/lib/espeak-ng-data",
    };
    for (size_t i = 0; i < sizeof places / sizeof places[0]; i++)
        if (has_espeak_data(places[i])) {
            return path_fmt(out, cap, "%s", places[i]);
        }
    veil_error("espeak-ng data not found in /usr/lib/x86_64-linux-gnu/espeak-ng-data or "
               "/usr/share/espeak-ng-data (install the espeak-ng-data package, or set "
               "ESPEAK_DATA_PATH to the directory holding espeak-ng-data)");
    return -1;
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path); /* links are removed, never followed (FTW_PHYS) */
}
static void remove_tree(const char *dir) { nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS); }

/* A private data root for one worker slot: ROOT/espeak-ng-data/ links every entry of the
 * system data except voices/, and has its own voices/!v/ for the current speaker only
 * (espeak-ng cannot take a variant by path, and stops resolving languages when voices/
 * holds hundreds of files). */
static int make_data_root(const char *root, const char *sysdata)
{
    char dir[4096], link_path[4096], target[4096];
    if (path_fmt(dir, sizeof dir, "%s/espeak-ng-data/voices/!v", root) || veil_mkdirs(dir) != 0) return -1;
    DIR *d = opendir(sysdata);
    if (!d) {
        veil_error("%s: cannot read espeak-ng data: %s", sysdata, strerror(errno));
        return -1;
    }
    struct dirent *e;
    int rc = 0;
    while (rc == 0 && (e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") || !strcmp(e->d_name, "voices")) continue;
        if (path_fmt(link_path, sizeof link_path, "%s/espeak-ng-data/%s", root, e->d_name) ||
            path_fmt(target, sizeof target, "%s/%s", sysdata, e->d_name)) {
            rc = -1;
        } else if (symlink(target, link_path) != 0) {
            veil_error("%s: cannot link espeak-ng data: %s", link_path, strerror(errno));
            rc = -1;
        }
    }
    closedir(d);
    return rc;
}

/* ---------------- one speaker (runs in a child process) ---------------- */
typedef struct {
    short *s;
    size_t n, cap;
} sample_buf;

static int collect_samples(short *wav, int n, espeak_EVENT *events)
{
    if (!wav || n <= 0) return 0;
    sample_buf *b = events ? events->user_data : NULL;
    if (!b) return 1; /* cannot happen: every espeak_Synth call passes the buffer */
    if (b->n + (size_t)n > b->cap) {
        b->cap = (b->n + (size_t)n) * 2;
        b->s = veil_realloc(b->s, b->cap * sizeof *b->s);
    }
    memcpy(b->s + b->n, wav, (size_t)n * sizeof *wav);
    b->n += (size_t)n;
    return 0;
}

typedef struct {
    int pitch;                    /* espeakPITCH, 50 = the variant's own */
    int rate;                     /* espeakRATE, words per minute */
    double formant_jitter, range_jitter;
    double lead, trail;           /* seconds of silence before and after */
    double gain_db, snr_db;
} utterance_params;

static void draw_utterance(veil_rng *r, const synth_voice *v, utterance_params *u)
{
    u->pitch = (int)lround(clampd(50 + 5 * veil_rng_normal(r), 30, 70));
    u->rate = (int)lround(clampd(v->wpm * (1 + 0.08 * veil_rng_normal(r)), 100, 300));
    u->formant_jitter = 1 + clampd(0.025 * veil_rng_normal(r), -0.075, 0.075);
    u->range_jitter = 1 + clampd(0.15 * veil_rng_normal(r), -0.45, 0.45);
    u->lead = uniform(r, 0.08, 0.35);
    u->trail = uniform(r, 0.08, 0.35);
    u->gain_db = uniform(r, -6, 6);
    u->snr_db = uniform(r, 15, 35);
}

/* The speaker's variant file, with this utterance's formant and pitch-range jitter. With
 * espeak-ng 1.51 the median F0 comes out near BASE + 0.7 R - 6 for "pitch BASE BASE+R". */
static int write_variant(const char *path, const synth_voice *v, const utterance_params *u)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        veil_error("%s: cannot write voice variant: %s", path, strerror(errno));
        return -1;
    }
    double range = v->range * u->range_jitter;
    long base = lround(v->f0 - 0.7 * range + 6);
    fprintf(f, "language variant\nname %s\ngender %s\n", VARIANT_NAME, v->gender == 'F' ? "female" : "male");
    fprintf(f, "pitch %ld %ld\n", base, base + lround(range));
    for (int k = 0; k < N_FORMANTS; k++)
        fprintf(f, "formant %d %ld %ld %ld\n", k,
                lround(100 * v->formant_scale * u->formant_jitter * (1 + v->dev[k])),
                lround(100 * v->height[k]), lround(100 * v->width[k]));
    double t = v->tilt; /* espeak's default response 170/135/110, tilted per octave-ish step */
    fprintf(f, "tone 600 170 1200 %ld 2000 %ld 4000 %ld\n", lround(fmin(255, 135 * t)),
            lround(fmin(255, 110 * t * t)), lround(fmin(255, 110 * t * t * t)));
    fprintf(f, "flutter %d\nroughness %d\n", v->flutter, v->roughness);
    fprintf(f, "breath %d %d %d %d %d %d %d %d\n", v->breath, v->breath, v->breath, v->breath,
            v->breath, v->breath, v->breath, v->breath);
    fprintf(f, "voicing %d\nconsonants %d %d\n", v->voicing, v->consonants[0], v->consonants[1]);
    if (fclose(f) != 0) {
        veil_error("%s: cannot write voice variant: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

static double frame_rms(const float *x, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) s += (double)x[i] * x[i];
    return n ? sqrt(s / (double)n) : 0;
}

/* First and one-past-last sample of speech: 10 ms frames within 40 dB of the loudest,
 * widened by one frame on each side. Returns 0 when there is no speech. */
static int speech_bounds(const float *x, size_t n, size_t *start, size_t *end)
{
    const size_t fl = OUT_RATE / 100;
    size_t nf = n / fl;
    double peak = 0;
    for (size_t i = 0; i < nf; i++) peak = fmax(peak, frame_rms(x + i * fl, fl));
    if (peak <= 0) return 0;
    size_t first = nf, last = 0;
    for (size_t i = 0; i < nf; i++)
        if (frame_rms(x + i * fl, fl) >= peak * 0.01) {
            if (first == nf) first = i;
            last = i;
        }
    *start = first > 0 ? (first - 1) * fl : 0;
    *end = (last + 2) * fl < n ? (last + 2) * fl : n;
    return 1;
}

/* Active speech level: RMS over the 20 ms frames within 30 dB of the loudest one. */
static double active_level(const float *x, size_t n)
{
    const size_t fl = OUT_RATE / 50;
    size_t nf = n / fl;
    if (nf == 0) return frame_rms(x, n);
    double peak = 0, sum = 0;
    for (size_t i = 0; i < nf; i++) peak = fmax(peak, frame_rms(x + i * fl, fl));
    size_t used = 0;
    for (size_t i = 0; i < nf; i++) {
        double e = frame_rms(x + i * fl, fl);
        if (e >= peak * 0.0316) {
            sum += e * e;
            used++;
        }
    }
    return used ? sqrt(sum / (double)used) : peak;
}

typedef struct {
    const char *text;
    size_t n;
} txt_job;
static int write_txt(FILE *f, void *ctx)
{
    const txt_job *j = ctx;
    return fprintf(f, "0 %zu %s\n", j->n, j->text) < 0 ? -1 : 0;
}

/* TIMIT-style names: SA1, SA2, then five SX and the rest SI, numbers distinct. */
static void utterance_names(veil_rng *r, int n, char (*names)[16])
{
    int used[MAX_UTTERANCES];
    for (int u = 0; u < n; u++) {
        if (u < SYNTH_SHARED_SENTENCES) {
            snprintf(names[u], 16, "SA%d", u + 1);
            continue;
        }
        int sx = u < SYNTH_SHARED_SENTENCES + 5, num, dup;
        do {
            num = sx ? 3 + (int)veil_rng_below(r, 450) : 453 + (int)veil_rng_below(r, 1890);
            dup = 0;
            for (int k = SYNTH_SHARED_SENTENCES; k < u; k++) dup |= used[k] == num;
        } while (dup);
        used[u] = num;
        snprintf(names[u], 16, "%s%d", sx ? "SX" : "SI", num);
    }
}

/* One utterance from text to the finished 16 kHz samples (malloc'd in *out). */
static int speak_utterance(const char *voice_name, const char *text, const utterance_params *u,
                           int espeak_rate, sample_buf *buf, veil_rng *r, float **out, size_t *out_n,
                           double *speech_seconds)
{
    if (espeak_SetVoiceByName(voice_name) != EE_OK) {
        veil_error("espeak-ng: voice %s not found", voice_name);
        return -1;
    }
    espeak_SetParameter(espeakRATE, u->rate, 0);
    espeak_SetParameter(espeakPITCH, u->pitch, 0);
    espeak_SetParameter(espeakRANGE, 50, 0);
    espeak_SetParameter(espeakVOLUME, 100, 0);
    buf->n = 0;
    if (espeak_Synth(text, strlen(text) + 1, 0, POS_CHARACTER, 0, espeakCHARS_UTF8, NULL, buf) != EE_OK ||
        buf->n == 0) {
        veil_error("espeak-ng: synthesis of '%s' with voice %s failed", text, voice_name);
        return -1;
    }
    float *raw = veil_malloc(buf->n * sizeof *raw);
    for (size_t i = 0; i < buf->n; i++) raw[i] = (float)buf->s[i] / 32768.0f;
    float *x;
    size_t n;
    int rc = veil_audio_resample(raw, buf->n, espeak_rate, OUT_RATE, &x, &n);
    free(raw);
    if (rc != 0) return -1;
    size_t s0, s1;
    if (!speech_bounds(x, n, &s0, &s1)) {
        free(x);
        veil_error("espeak-ng: '%s' with voice %s came out silent", text, voice_name);
        return -1;
    }
    size_t speech = s1 - s0;
    double scale = pow(10, (-26 + u->gain_db) / 20) / active_level(x + s0, speech);
    double peak = 0;
    for (size_t i = s0; i < s1; i++) peak = fmax(peak, fabs(x[i]));
    if (peak * scale > 0.9) scale = 0.9 / peak; /* keep headroom for the noise */
    double sigma = active_level(x + s0, speech) * scale * pow(10, -u->snr_db / 20);
    size_t lead = (size_t)lround(u->lead * OUT_RATE), trail = (size_t)lround(u->trail * OUT_RATE);
    size_t total = lead + speech + trail;
    float *y = veil_malloc(total * sizeof *y);
    for (size_t i = 0; i < total; i++) {
        double v = i >= lead && i < lead + speech ? x[s0 + i - lead] * scale : 0.0;
        y[i] = (float)(v + sigma * veil_rng_normal(r));
    }
    free(x);
    *out = y;
    *out_n = total;
    *speech_seconds = (double)speech / OUT_RATE;
    return 0;
}

static int make_speaker(const veil_synth_config *c, const char *out_dir, const char *root, int index,
                        synth_voice *v, speaker_result *res)
{
    srand((unsigned)veil_seed_mix(c->seed, (uint64_t)index, SEED_PLAN)); /* in case espeak-ng uses rand() */
    int espeak_rate = espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 0, root, espeakINITIALIZE_DONT_EXIT);
    if (espeak_rate <= 0) {
        veil_error("espeak-ng: cannot initialise with data in %s/espeak-ng-data", root);
        return -1;
    }
    espeak_SetSynthCallback(collect_samples);
    snprintf(res->espeak_version, sizeof res->espeak_version, "%s", espeak_Info(NULL));

    char dir[4096], path[4200], variant[4200], voice_name[64];
    if (path_fmt(dir, sizeof dir, "%s/TRAIN/DR%d/%s", out_dir, v->dialect, v->id) || veil_mkdirs(dir) != 0 ||
        path_fmt(variant, sizeof variant, "%s/espeak-ng-data/voices/!v/%s", root, VARIANT_NAME))
        return -1;
    veil_remove_stale_temporaries(dir, NULL);
    snprintf(voice_name, sizeof voice_name, "%s+%s", base_voices[v->base_voice].name, VARIANT_NAME);

    int n_utts = (int)lround(c->seconds / SECONDS_PER_UTTERANCE);
    n_utts = n_utts < 1 ? 1 : n_utts > MAX_UTTERANCES ? MAX_UTTERANCES : n_utts;
    veil_rng plan;
    veil_rng_seed(&plan, veil_seed_mix(c->seed, (uint64_t)index, SEED_PLAN));
    char names[MAX_UTTERANCES][16];
    utterance_names(&plan, n_utts, names);

    /* Sentence lengths follow the time still needed; seconds per word start from the
     * speaking rate (espeak-ng speaks ~25 % faster than the nominal rate) and then use
     * what this speaker measured so far. */
    double total = 0, speech = 0, per_word = 0.8 * 60.0 / v->wpm;
    int words_spoken = 0;
    sample_buf buf = {NULL, 0, 0};
    int rc = 0;
    for (int u = 0; u < n_utts && rc == 0; u++) {
        veil_rng r;
        veil_rng_seed(&r, veil_seed_mix(c->seed, (uint64_t)index, SEED_UTTERANCE + (uint64_t)u));
        utterance_params up;
        draw_utterance(&r, v, &up);
        char text[512];
        if (u < SYNTH_SHARED_SENTENCES) {
            snprintf(text, sizeof text, "%s", synth_shared_sentence(u));
        } else {
            double want = (c->seconds - total) / (n_utts - u) - up.lead - up.trail;
            int words = (int)lround(want / per_word);
            if (synth_sentence(&r, words, text, sizeof text) < 0) {
                veil_error("sentence generator: buffer too small");
                rc = -1;
                break;
            }
        }
        float *y = NULL;
        size_t n = 0;
        double speech_s = 0;
        if (write_variant(variant, v, &up) != 0 ||
            speak_utterance(voice_name, text, &up, espeak_rate, &buf, &r, &y, &n, &speech_s) != 0) {
            rc = -1;
            break;
        }
        rc = path_fmt(path, sizeof path, "%s/%s.WAV", dir, names[u]);
        if (rc == 0) rc = veil_audio_write_wav16(path, y, n, OUT_RATE);
        free(y);
        txt_job tj = {text, n};
        if (rc == 0) rc = path_fmt(path, sizeof path, "%s/%s.TXT", dir, names[u]);
        if (rc == 0) rc = veil_write_atomic(path, write_txt, &tj);
        speech += speech_s;
        words_spoken += synth_count_words(text);
        per_word = speech / words_spoken;
        total += (double)n / OUT_RATE;
    }
    free(buf.s);
    espeak_Terminate();
    if (rc != 0) veil_error_prefix("speaker %s", v->id);
    res->n_utts = n_utts;
    res->seconds = total;
    return rc;
}

/* ---------------- the parent: output folder, marker, worker pool ---------------- */
static cJSON *config_json(const veil_synth_config *c)
{
    cJSON *j = cJSON_CreateObject();
    char seed[32];
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)c->seed);
    cJSON_AddNumberToObject(j, "speakers", c->speakers);
    cJSON_AddNumberToObject(j, "female", c->female);
    cJSON_AddNumberToObject(j, "seconds", c->seconds);
    cJSON_AddStringToObject(j, "seed", seed); /* a string: JSON numbers lose 64-bit seeds */
    return j;
}

static void describe_config(const cJSON *j, char *buf, size_t cap)
{
    const cJSON *s = cJSON_GetObjectItem(j, "speakers"), *f = cJSON_GetObjectItem(j, "female"),
                *sec = cJSON_GetObjectItem(j, "seconds"), *seed = cJSON_GetObjectItem(j, "seed");
    snprintf(buf, cap, "speakers %d, female %d, seconds %g, seed %s", cJSON_IsNumber(s) ? s->valueint : -1,
             cJSON_IsNumber(f) ? f->valueint : -1, cJSON_IsNumber(sec) ? sec->valuedouble : -1,
             cJSON_IsString(seed) ? seed->valuestring : "?");
}

static int same_config(const cJSON *a, const cJSON *b)
{
    static const char *const nums[] = {"speakers", "female", "seconds"};
    for (int i = 0; i < 3; i++) {
        const cJSON *x = cJSON_GetObjectItem(a, nums[i]), *y = cJSON_GetObjectItem(b, nums[i]);
        if (!cJSON_IsNumber(x) || !cJSON_IsNumber(y) || fabs(x->valuedouble - y->valuedouble) > 1e-9) return 0;
    }
    const cJSON *x = cJSON_GetObjectItem(a, "seed"), *y = cJSON_GetObjectItem(b, "seed");
    return cJSON_IsString(x) && cJSON_IsString(y) && !strcmp(x->valuestring, y->valuestring);
}

/* Reads the "config" object of a marker file; NULL (with an error) when unreadable. */
static cJSON *read_marker_config(const char *path, cJSON **doc)
{
    char *text;
    if (veil_read_file(path, &text, NULL) != 0) return NULL;
    *doc = cJSON_Parse(text);
    free(text);
    cJSON *cfg = *doc ? cJSON_GetObjectItem(*doc, "config") : NULL;
    if (!cJSON_IsObject(cfg)) {
        cJSON_Delete(*doc);
        *doc = NULL;
        veil_error("%s: not a synthetic-corpus marker (no \"config\" object)", path);
        return NULL;
    }
    return cfg;
}

static int dir_is_empty(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return 0;
    struct dirent *e;
    int empty = 1;
    while (empty && (e = readdir(d))) empty = !strcmp(e->d_name, ".") || !strcmp(e->d_name, "..");
    closedir(d);
    return empty;
}

/* 1: the same corpus is already there; 0: go ahead; -1: refuse. */
static int check_out_dir(const char *out, const cJSON *want)
{
    if (!veil_path_exists(out)) return 0;
    if (!veil_is_dir(out)) {
        veil_error("%s: exists and is not a directory", out);
        return -1;
    }
    char path[4200], have_s[256], want_s[256];
    describe_config(want, want_s, sizeof want_s);
    const char *kinds[2] = {MARKER, PARTIAL_MARKER};
    for (int k = 0; k < 2; k++) {
        if (path_fmt(path, sizeof path, "%s/%s", out, kinds[k])) return -1;
        if (!veil_path_exists(path)) continue;
        cJSON *doc;
        cJSON *have = read_marker_config(path, &doc);
        if (!have) return -1;
        int same = same_config(have, want);
        describe_config(have, have_s, sizeof have_s);
        cJSON_Delete(doc);
        if (same) return k == 0 ? 1 : 0; /* finished: nothing to do; interrupted: redo it */
        veil_error("%s: holds %s synthetic corpus of another config (%s; asked for %s); refusing to "
                   "overwrite it: choose another output directory or remove this one",
                   out, k == 0 ? "a" : "an unfinished", have_s, want_s);
        return -1;
    }
    if (!dir_is_empty(out)) {
        veil_error("%s: exists, is not empty and holds no %s; refusing to write a synthetic corpus "
                   "into it: choose a new or empty directory",
                   out, MARKER);
        return -1;
    }
    return 0;
}

static int write_json(FILE *f, void *ctx)
{
    char *s = veil_json_print_pretty((const cJSON *)ctx);
    int rc = fputs(s, f) < 0 || fputc('\n', f) == EOF ? -1 : 0;
    free(s);
    return rc;
}

static cJSON *numbers(const double *x, int n)
{
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; i < n; i++) cJSON_AddItemToArray(a, cJSON_CreateNumber(round(x[i] * 1e4) / 1e4));
    return a;
}

static int write_marker(const char *out, const veil_synth_config *c, const synth_voice *v,
                        const char *espeak_version)
{
    cJSON *doc = cJSON_CreateObject();
    cJSON_AddStringToObject(doc, "format", "veil synthetic corpus 1");
    cJSON_AddStringToObject(doc, "veil_version", VEIL_VERSION);
    cJSON_AddStringToObject(doc, "espeak_ng_version", espeak_version);
    cJSON_AddItemToObject(doc, "config", config_json(c));
    double total = 0;
    cJSON *list = cJSON_CreateArray();
    for (int i = 0; i < c->speakers; i++) {
        const synth_voice *s = &v[i];
        cJSON *o = cJSON_CreateObject();
        char dr[8];
        snprintf(dr, sizeof dr, "DR%d", s->dialect);
        cJSON_AddStringToObject(o, "id", s->id);
        cJSON_AddStringToObject(o, "gender", s->gender == 'F' ? "F" : "M");
        cJSON_AddStringToObject(o, "dialect", dr);
        cJSON_AddStringToObject(o, "base_voice", base_voices[s->base_voice].name);
        cJSON_AddNumberToObject(o, "f0_hz", round(s->f0 * 10) / 10);
        cJSON_AddNumberToObject(o, "pitch_range_hz", round(s->range * 10) / 10);
        cJSON_AddNumberToObject(o, "formant_scale", round(s->formant_scale * 1e4) / 1e4);
        cJSON_AddItemToObject(o, "formant_dev", numbers(s->dev, N_FORMANTS));
        cJSON_AddItemToObject(o, "formant_height", numbers(s->height, N_FORMANTS));
        cJSON_AddItemToObject(o, "formant_width", numbers(s->width, N_FORMANTS));
        cJSON_AddNumberToObject(o, "tone_tilt", round(s->tilt * 1e4) / 1e4);
        cJSON_AddNumberToObject(o, "flutter", s->flutter);
        cJSON_AddNumberToObject(o, "roughness", s->roughness);
        cJSON_AddNumberToObject(o, "breath", s->breath);
        cJSON_AddNumberToObject(o, "voicing", s->voicing);
        double cons[2] = {s->consonants[0], s->consonants[1]};
        cJSON_AddItemToObject(o, "consonants", numbers(cons, 2));
        cJSON_AddNumberToObject(o, "rate_wpm", round(s->wpm * 10) / 10);
        cJSON_AddNumberToObject(o, "utterances", s->n_utts);
        cJSON_AddNumberToObject(o, "seconds", round(s->seconds * 1000) / 1000);
        cJSON_AddItemToArray(list, o);
        total += s->seconds;
    }
    cJSON_AddNumberToObject(doc, "total_seconds", round(total * 10) / 10);
    cJSON_AddItemToObject(doc, "speakers", list);
    char path[4200];
    int rc = path_fmt(path, sizeof path, "%s/%s", out, MARKER) ? -1 : veil_write_atomic(path, write_json, doc);
    cJSON_Delete(doc);
    return rc;
}

typedef struct {
    pid_t pid;
    int fd;      /* read end of the child's pipe; -1 when the slot is free */
    int speaker;
} worker_slot;

static int start_child(const veil_synth_config *c, const char *out, const char *root, int index,
                       synth_voice *voices, worker_slot *w)
{
    int p[2];
    if (pipe(p) != 0) {
        veil_error("synth: cannot create a pipe: %s", strerror(errno));
        return -1;
    }
    fflush(NULL); /* nothing buffered twice */
    pid_t pid = fork();
    if (pid < 0) {
        close(p[0]);
        close(p[1]);
        veil_error("synth: cannot start a worker process: %s", strerror(errno));
        return -1;
    }
    if (pid == 0) {
        close(p[0]);
        speaker_result res;
        memset(&res, 0, sizeof res);
        int rc = make_speaker(c, out, root, index, &voices[index], &res);
        res.ok = rc == 0;
        if (rc != 0) snprintf(res.message, sizeof res.message, "%s", veil_last_error());
        ssize_t wr = write(p[1], &res, sizeof res);
        _exit(rc == 0 && wr == (ssize_t)sizeof res ? 0 : 1);
    }
    close(p[1]);
    w->pid = pid;
    w->fd = p[0];
    w->speaker = index;
    return 0;
}

/* Collects a finished child: its result and exit status. */
static int finish_child(worker_slot *w, synth_voice *voices, char *espeak_version, size_t cap)
{
    speaker_result res;
    memset(&res, 0, sizeof res);
    size_t got = 0;
    while (got < sizeof res) {
        ssize_t k = read(w->fd, (char *)&res + got, sizeof res - got);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) break;
        got += (size_t)k;
    }
    close(w->fd);
    w->fd = -1;
    int status = 0;
    while (waitpid(w->pid, &status, 0) < 0 && errno == EINTR) {}
    synth_voice *v = &voices[w->speaker];
    if (got == sizeof res && !res.ok) {
        res.message[sizeof res.message - 1] = 0;
        veil_error("%s", res.message);
        return -1;
    }
    if (got != sizeof res || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        if (WIFSIGNALED(status))
            veil_error("speaker %s: worker process %ld killed by signal %d", v->id, (long)w->pid,
                       WTERMSIG(status));
        else
            veil_error("speaker %s: worker process %ld failed (exit status %d)", v->id, (long)w->pid,
                       WIFEXITED(status) ? WEXITSTATUS(status) : -1);
        return -1;
    }
    v->n_utts = res.n_utts;
    v->seconds = res.seconds;
    res.espeak_version[sizeof res.espeak_version - 1] = 0;
    snprintf(espeak_version, cap, "%s", res.espeak_version);
    return 0;
}

static int run_workers(const veil_synth_config *c, const char *out, char (*roots)[4096], int n_workers,
                       synth_voice *voices, char *espeak_version, size_t cap)
{
    worker_slot *slots = veil_malloc((size_t)n_workers * sizeof *slots);
    for (int k = 0; k < n_workers; k++) slots[k].fd = -1;
    struct pollfd *pfd = veil_malloc((size_t)n_workers * sizeof *pfd);
    int *slot_of = veil_malloc((size_t)n_workers * sizeof *slot_of);
    veil_progress prog;
    veil_progress_begin(&prog, "synth", c->speakers);
    prog.unit = "speakers";
    int next = 0, done = 0, active = 0, failed = 0;
    char first_error[2048] = "";
    while (active > 0 || (!failed && next < c->speakers)) {
        for (int k = 0; k < n_workers && !failed && next < c->speakers; k++)
            if (slots[k].fd < 0) {
                if (start_child(c, out, roots[k], next, voices, &slots[k]) != 0) {
                    failed = 1;
                    snprintf(first_error, sizeof first_error, "%s", veil_last_error());
                    break;
                }
                next++;
                active++;
            }
        if (active == 0) break;
        int m = 0;
        for (int k = 0; k < n_workers; k++)
            if (slots[k].fd >= 0) {
                pfd[m] = (struct pollfd){slots[k].fd, POLLIN, 0};
                slot_of[m++] = k;
            }
        int pr = poll(pfd, (nfds_t)m, -1);
        if (pr < 0 && errno == EINTR) continue;
        if (pr < 0 && !failed) { /* not expected; collect every child with blocking reads */
            veil_error("synth: poll failed: %s", strerror(errno));
            failed = 1;
            snprintf(first_error, sizeof first_error, "%s", veil_last_error());
        }
        for (int i = 0; i < m; i++) {
            if (pr >= 0 && !(pfd[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
            worker_slot *w = &slots[slot_of[i]];
            if (finish_child(w, voices, espeak_version, cap) != 0 && !failed) {
                failed = 1;
                snprintf(first_error, sizeof first_error, "%s", veil_last_error());
            }
            active--;
            done++;
            veil_progress_update(&prog, done, voices[w->speaker].id);
        }
    }
    free(slots);
    free(pfd);
    free(slot_of);
    if (failed) {
        veil_error("%s", first_error);
        if (prog.tty) fputs("\r\033[K", stderr);
        return -1;
    }
    char summary[256];
    snprintf(summary, sizeof summary, "%d speakers (%d F, %d M) in %s", c->speakers, c->female,
             c->speakers - c->female, out);
    veil_progress_end(&prog, summary);
    return 0;
}

void veil_synth_config_default(veil_synth_config *c)
{
    c->speakers = 420;
    c->female = 130;
    c->seconds = 31.0;
    c->seed = 1;
    c->threads = 0;
}

static int check_config(const veil_synth_config *c)
{
    if (c->speakers < 2 || c->speakers > MAX_SPEAKERS) {
        veil_error("synthetic corpus: speakers must be in 2..%d (got %d)", MAX_SPEAKERS, c->speakers);
        return -1;
    }
    if (c->female < 1 || c->female > c->speakers - 1) {
        veil_error("synthetic corpus: female speakers must be in 1..%d, the speakers minus one, so that "
                   "both genders are present (got %d of %d)",
                   c->speakers - 1, c->female, c->speakers);
        return -1;
    }
    if (!(c->seconds > 0) || c->seconds > MAX_SECONDS) {
        veil_error("synthetic corpus: seconds per speaker must be in (0, %g] (got %g)", MAX_SECONDS, c->seconds);
        return -1;
    }
    if (c->threads < 0) {
        veil_error("synthetic corpus: threads must be >= 0 (0 = all cores; got %d)", c->threads);
        return -1;
    }
    return 0;
}

int veil_synth_corpus(const veil_synth_config *c, const char *out_dir)
{
    if (check_config(c) != 0) return -1;
    char sysdata[4096];
    if (find_espeak_data(sysdata, sizeof sysdata) != 0) return -1;
    cJSON *want = config_json(c);
    int state = check_out_dir(out_dir, want);
    if (state != 0) {
        cJSON_Delete(want);
        if (state == 1)
            veil_log("synth: %s already holds this synthetic corpus (%s); nothing to do", out_dir, MARKER);
        return state == 1 ? 0 : -1;
    }
    char path[4200];
    if (path_fmt(path, sizeof path, "%s/%s", out_dir, PARTIAL_MARKER)) {
        cJSON_Delete(want);
        return -1;
    }
    cJSON *partial = cJSON_CreateObject();
    cJSON_AddStringToObject(partial, "format", "veil synthetic corpus 1 (unfinished)");
    cJSON_AddItemToObject(partial, "config", want);
    int rc = veil_mkdirs(out_dir) == 0 ? veil_write_atomic(path, write_json, partial) : -1;
    cJSON_Delete(partial);
    if (rc != 0) return -1;

    int n_workers = c->threads > 0 ? c->threads : veil_threads();
    if (n_workers > c->speakers) n_workers = c->speakers;
    synth_voice *voices = draw_speakers(c);
    const char *tmp = getenv("TMPDIR");
    char base[4096];
    if (path_fmt(base, sizeof base, "%s/veil-espeak-XXXXXX", tmp && *tmp ? tmp : "/tmp") || !mkdtemp(base)) {
        veil_error("%s: cannot create a temporary directory for espeak-ng data: %s", base, strerror(errno));
        free(voices);
        return -1;
    }
    char(*roots)[4096] = veil_malloc((size_t)n_workers * sizeof *roots);
    for (int k = 0; k < n_workers && rc == 0; k++) {
        rc = path_fmt(roots[k], sizeof roots[k], "%s/w%d", base, k) ? -1 : make_data_root(roots[k], sysdata);
    }
    char espeak_version[32] = "";
    if (rc == 0) rc = run_workers(c, out_dir, roots, n_workers, voices, espeak_version, sizeof espeak_version);
    remove_tree(base);
    free(roots);
    if (rc == 0) rc = write_marker(out_dir, c, voices, espeak_version);
    if (rc == 0) unlink(path);
    free(voices);
    return rc;
}
