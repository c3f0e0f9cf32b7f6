/* MFCC front end: window -> FFTW r2c -> |X|^2 -> sparse mel filters -> log -> DCT-II.
 * Everything that does not depend on the samples is computed once per veil_mfcc. */
#include "veil/mfcc.h"

#include <cjson/cJSON.h>

#include "core/base/json.h"
#include <fftw3.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "veil/common.h"

/* ---------------- settings ---------------- */

void veil_mfcc_config_default(veil_mfcc_config *c)
{
    memset(c, 0, sizeof *c);
    c->sample_rate = 16000;
    c->win_length = 416;
    c->hop_length = 208;
    c->n_fft = 512;
    c->n_mels = 64;
    c->n_mfcc = 32;
    c->patch_frames = 32;
    c->f_min = 0.0f;
    c->f_max = 8000.0f;
    c->window = VEIL_WINDOW_HAMMING;
    c->mel_scale = VEIL_MEL_HTK;
    c->log_floor = 1e-10f;
    c->preemphasis = 0.0f;
    c->dct_ortho = 1;
}

#define BAD(...) \
    do { \
        veil_error("mfcc config: " __VA_ARGS__); \
        return -1; \
    } while (0)

int veil_mfcc_config_validate(const veil_mfcc_config *c)
{
    if (c->sample_rate < 1000 || c->sample_rate > 768000)
        BAD("sample_rate = %d must be in 1000..768000", c->sample_rate);
    if (c->n_fft < 2 || c->n_fft > 65536) BAD("n_fft = %d must be in 2..65536", c->n_fft);
    if (c->win_length < 2 || c->win_length > c->n_fft)
        BAD("win_length = %d must be in 2..n_fft (%d)", c->win_length, c->n_fft);
    if (c->hop_length < 1 || c->hop_length > 1000000)
        BAD("hop_length = %d must be in 1..1000000", c->hop_length);
    if (c->n_mels < 1 || c->n_mels > c->n_fft / 2 + 1)
        BAD("n_mels = %d must be in 1..n_fft/2+1 (%d)", c->n_mels, c->n_fft / 2 + 1);
    if (c->n_mfcc < 1 || c->n_mfcc > c->n_mels)
        BAD("n_mfcc = %d must be in 1..n_mels (%d)", c->n_mfcc, c->n_mels);
    if (c->patch_frames < 1 || c->patch_frames > 100000)
        BAD("patch_frames = %d must be in 1..100000", c->patch_frames);
    if (!isfinite(c->f_min) || c->f_min < 0) BAD("f_min = %g must be >= 0", (double)c->f_min);
    if (!isfinite(c->f_max) || c->f_max <= c->f_min || c->f_max > 0.5f * (float)c->sample_rate)
        BAD("f_max = %g must be in (f_min, sample_rate/2] = (%g, %g]", (double)c->f_max,
            (double)c->f_min, 0.5 * c->sample_rate);
    if (c->window != VEIL_WINDOW_HAMMING && c->window != VEIL_WINDOW_HANN && c->window != VEIL_WINDOW_RECT)
        BAD("window = %d is not a known window", (int)c->window);
    if (c->mel_scale != VEIL_MEL_HTK && c->mel_scale != VEIL_MEL_SLANEY)
        BAD("mel_scale = %d is not a known mel scale", (int)c->mel_scale);
    if (!isfinite(c->log_floor) || !(c->log_floor > 0))
        BAD("log_floor = %g must be a positive number", (double)c->log_floor);
    if (!isfinite(c->preemphasis) || c->preemphasis < 0 || c->preemphasis > 1)
        BAD("preemphasis = %g must be in 0..1", (double)c->preemphasis);
    if (c->dct_ortho != 0 && c->dct_ortho != 1) BAD("dct_ortho = %d must be 0 or 1", c->dct_ortho);
    return 0;
}

static const char *window_names[] = {"hamming", "hann", "rect"};
static const char *mel_names[] = {"htk", "slaney"};

/* The shortest decimal that reads back as the same float, so the JSON says 1e-10, not
 * 1.00000001335e-10 (canonical text for cache keys). */
static double short_decimal(float f)
{
    char buf[64];
    for (int p = 1; p <= 9; p++) {
        snprintf(buf, sizeof buf, "%.*g", p, (double)f);
        if (strtof(buf, NULL) == f) break;
    }
    return strtod(buf, NULL);
}

char *veil_mfcc_config_to_json(const veil_mfcc_config *c)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "sample_rate", c->sample_rate);
    cJSON_AddNumberToObject(o, "win_length", c->win_length);
    cJSON_AddNumberToObject(o, "hop_length", c->hop_length);
    cJSON_AddNumberToObject(o, "n_fft", c->n_fft);
    cJSON_AddNumberToObject(o, "n_mels", c->n_mels);
    cJSON_AddNumberToObject(o, "n_mfcc", c->n_mfcc);
    cJSON_AddNumberToObject(o, "patch_frames", c->patch_frames);
    cJSON_AddNumberToObject(o, "f_min", short_decimal(c->f_min));
    cJSON_AddNumberToObject(o, "f_max", short_decimal(c->f_max));
    int w = (int)c->window, ms = (int)c->mel_scale;
    cJSON_AddStringToObject(o, "window", w >= 0 && w < 3 ? window_names[w] : "?");
    cJSON_AddStringToObject(o, "mel_scale", ms >= 0 && ms < 2 ? mel_names[ms] : "?");
    cJSON_AddNumberToObject(o, "log_floor", short_decimal(c->log_floor));
    cJSON_AddNumberToObject(o, "preemphasis", short_decimal(c->preemphasis));
    cJSON_AddBoolToObject(o, "dct_ortho", c->dct_ortho != 0);
    char *s = veil_json_print(o);
    cJSON_Delete(o);
    return s;
}

static int json_int(const cJSON *it, int *out)
{
    if (!cJSON_IsNumber(it)) BAD("field '%s' must be an integer", it->string);
    double v = it->valuedouble;
    if (v != floor(v) || v < INT_MIN || v > INT_MAX) BAD("field '%s' must be an integer, got %g", it->string, v);
    *out = (int)v;
    return 0;
}

static int json_float(const cJSON *it, float *out)
{
    if (!cJSON_IsNumber(it) || !isfinite(it->valuedouble) || fabs(it->valuedouble) > 3e38)
        BAD("field '%s' must be a number", it->string);
    *out = (float)it->valuedouble;
    return 0;
}

static int json_name(const cJSON *it, const char **names, int count, int *out)
{
    if (cJSON_IsString(it))
        for (int i = 0; i < count; i++)
            if (!strcmp(it->valuestring, names[i])) {
                *out = i;
                return 0;
            }
    if (count == 3)
        BAD("field '%s' must be one of \"%s\", \"%s\", \"%s\"", it->string, names[0], names[1], names[2]);
    BAD("field '%s' must be one of \"%s\", \"%s\"", it->string, names[0], names[1]);
}

static int parse_field(const cJSON *it, veil_mfcc_config *c)
{
    const char *k = it->string;
    int e;
    if (!strcmp(k, "sample_rate")) return json_int(it, &c->sample_rate);
    if (!strcmp(k, "win_length")) return json_int(it, &c->win_length);
    if (!strcmp(k, "hop_length")) return json_int(it, &c->hop_length);
    if (!strcmp(k, "n_fft")) return json_int(it, &c->n_fft);
    if (!strcmp(k, "n_mels")) return json_int(it, &c->n_mels);
    if (!strcmp(k, "n_mfcc")) return json_int(it, &c->n_mfcc);
    if (!strcmp(k, "patch_frames")) return json_int(it, &c->patch_frames);
    if (!strcmp(k, "f_min")) return json_float(it, &c->f_min);
    if (!strcmp(k, "f_max")) return json_float(it, &c->f_max);
    if (!strcmp(k, "log_floor")) return json_float(it, &c->log_floor);
    if (!strcmp(k, "preemphasis")) return json_float(it, &c->preemphasis);
    if (!strcmp(k, "window")) {
        if (json_name(it, window_names, 3, &e)) return -1;
        c->window = (veil_window)e;
        return 0;
    }
    if (!strcmp(k, "mel_scale")) {
        if (json_name(it, mel_names, 2, &e)) return -1;
        c->mel_scale = (veil_mel_scale)e;
        return 0;
    }
    if (!strcmp(k, "dct_ortho")) {
        if (!cJSON_IsBool(it)) BAD("field 'dct_ortho' must be true or false");
        c->dct_ortho = cJSON_IsTrue(it) ? 1 : 0;
        return 0;
    }
    BAD("unknown field '%s'", k);
}

int veil_mfcc_config_from_json(const char *json, veil_mfcc_config *c)
{
    if (!json) BAD("no JSON text");
    cJSON *o = cJSON_Parse(json);
    if (!o) {
        const char *at = cJSON_GetErrorPtr();
        veil_error("mfcc config: not valid JSON (near '%.20s')", at ? at : "");
        return -1;
    }
    if (!cJSON_IsObject(o)) {
        cJSON_Delete(o);
        BAD("expected a JSON object");
    }
    veil_mfcc_config tmp;
    veil_mfcc_config_default(&tmp);
    int rc = 0;
    for (const cJSON *it = o->child; it && rc == 0; it = it->next) {
        for (const cJSON *prev = o->child; prev != it; prev = prev->next)
            if (!strcmp(prev->string, it->string)) {
                veil_error("mfcc config: duplicate field '%s'", it->string);
                rc = -1;
                break;
            }
        if (rc == 0) rc = parse_field(it, &tmp);
    }
    cJSON_Delete(o);
    if (rc == 0) rc = veil_mfcc_config_validate(&tmp);
    if (rc == 0) *c = tmp;
    return rc;
}

/* ---------------- counts ---------------- */

size_t veil_mfcc_num_frames(const veil_mfcc_config *c, size_t n_samples)
{
    size_t w = (size_t)c->win_length, h = (size_t)c->hop_length;
    return n_samples < w ? 0 : 1 + (n_samples - w) / h;
}

size_t veil_mfcc_num_patches(const veil_mfcc_config *c, size_t n_samples)
{
    return veil_mfcc_num_frames(c, n_samples) / (size_t)c->patch_frames;
}

/* ---------------- the computer ---------------- */

/* 4-float SIMD vectors (SSE2 is the x86-64 baseline; GCC's vector extensions also map to
 * NEON): the per-frame loops are written so that each lane is an independent sum, which
 * -O2 cannot do on its own for float reductions. */
typedef float v4sf __attribute__((vector_size(16)));
typedef float v4sf_u __attribute__((vector_size(16), aligned(4))); /* unaligned loads */

struct veil_mfcc {
    veil_mfcc_config cfg;
    int n_freq;
    float *window;          /* win_length, aligned */
    float *fft_in;          /* n_fft, FFTW-aligned; the tail past win_length stays zero */
    float *spec;            /* n_freq complex values as re, im pairs, then zero padding */
    fftwf_plan plan;
    /* Mel filter j as weights over the interleaved spectrum (each bin's weight twice, so
     * w * (re^2 + im^2) needs no de-interleaving): floats spec[q0[j] .. q0[j]+nq[j]-1],
     * nq a multiple of 4, weights at mel_w[off[j]] (zero past the triangle). */
    int *mel_q0, *mel_nq, *mel_off;
    float *mel_w;
    float *logmel;          /* n_mels */
    int k_pad;              /* n_mfcc rounded up to 4 */
    float *dct_t;           /* n_mels x k_pad: the DCT matrix transposed, zero padded */
    float *cep;             /* k_pad, aligned scratch for the coefficients */
};

/* FFTW's planner is not thread-safe; execution of distinct plans is. */
static pthread_mutex_t fftw_planner_lock = PTHREAD_MUTEX_INITIALIZER;

static double hz_to_mel(double f, veil_mel_scale s)
{
    if (s == VEIL_MEL_HTK) return 2595.0 * log10(1.0 + f / 700.0);
    /* Slaney (Auditory Toolbox): linear below 1 kHz, logarithmic above */
    const double f_sp = 200.0 / 3.0, min_log_hz = 1000.0, min_log_mel = min_log_hz / f_sp;
    const double logstep = log(6.4) / 27.0;
    return f < min_log_hz ? f / f_sp : min_log_mel + log(f / min_log_hz) / logstep;
}

static double mel_to_hz(double m, veil_mel_scale s)
{
    if (s == VEIL_MEL_HTK) return 700.0 * (pow(10.0, m / 2595.0) - 1.0);
    const double f_sp = 200.0 / 3.0, min_log_hz = 1000.0, min_log_mel = min_log_hz / f_sp;
    const double logstep = log(6.4) / 27.0;
    return m < min_log_mel ? m * f_sp : min_log_hz * exp(logstep * (m - min_log_mel));
}

static void build_window(veil_mfcc *m)
{
    const int w = m->cfg.win_length;
    for (int i = 0; i < w; i++) {
        double ph = 2.0 * M_PI * i / w; /* periodic: the DFT-even window */
        double v = m->cfg.window == VEIL_WINDOW_HAMMING ? 0.54 - 0.46 * cos(ph)
                   : m->cfg.window == VEIL_WINDOW_HANN  ? 0.5 - 0.5 * cos(ph)
                                                        : 1.0;
        m->window[i] = (float)v;
    }
}

/* Triangles in Hz with corners at n_mels+2 points equally spaced in mel, unnormalised
 * (peak 1). Only the bins where a triangle is non-zero are stored. */
static void build_mel(veil_mfcc *m)
{
    const veil_mfcc_config *c = &m->cfg;
    const int M = c->n_mels, F = m->n_freq;
    double *pts = veil_malloc((size_t)(M + 2) * sizeof *pts);
    double mlo = hz_to_mel(c->f_min, c->mel_scale), mhi = hz_to_mel(c->f_max, c->mel_scale);
    for (int i = 0; i < M + 2; i++) pts[i] = mel_to_hz(mlo + (mhi - mlo) * i / (M + 1), c->mel_scale);
    double *w = veil_malloc((size_t)F * sizeof *w);
    m->mel_w = veil_aligned_alloc(((size_t)2 * F + 4) * (size_t)M * sizeof *m->mel_w);
    int off = 0;
    for (int j = 0; j < M; j++) {
        int lo = -1, hi = -1;
        for (int k = 0; k < F; k++) {
            double f = (double)k * c->sample_rate / c->n_fft;
            double up = (f - pts[j]) / (pts[j + 1] - pts[j]);
            double down = (pts[j + 2] - f) / (pts[j + 2] - pts[j + 1]);
            double v = up < down ? up : down;
            w[k] = v > 0 ? v : 0;
            if (w[k] > 0) {
                if (lo < 0) lo = k;
                hi = k;
            }
        }
        int len = lo < 0 ? 0 : hi - lo + 1; /* an empty filter gives log(log_floor) */
        m->mel_q0[j] = lo < 0 ? 0 : 2 * lo;
        m->mel_nq[j] = (2 * len + 3) / 4 * 4;
        m->mel_off[j] = off;
        for (int q = 0; q < m->mel_nq[j]; q++) m->mel_w[off + q] = q < 2 * len ? (float)w[lo + q / 2] : 0.0f;
        off += m->mel_nq[j];
    }
    free(w);
    free(pts);
}

static void build_dct(veil_mfcc *m)
{
    const int M = m->cfg.n_mels, K = m->cfg.n_mfcc, KP = m->k_pad;
    for (int j = 0; j < M; j++)
        for (int i = 0; i < KP; i++) {
            double scale = !m->cfg.dct_ortho ? 1.0 : i == 0 ? sqrt(1.0 / M) : sqrt(2.0 / M);
            m->dct_t[(size_t)j * KP + i] = i < K ? (float)(scale * cos(M_PI / M * (j + 0.5) * i)) : 0.0f;
        }
}

veil_mfcc *veil_mfcc_new(const veil_mfcc_config *c)
{
    if (veil_mfcc_config_validate(c) != 0) return NULL;
    veil_mfcc *m = veil_calloc(1, sizeof *m);
    m->cfg = *c;
    m->n_freq = c->n_fft / 2 + 1;
    m->k_pad = (c->n_mfcc + 3) / 4 * 4;
    m->window = veil_aligned_alloc((size_t)c->win_length * sizeof *m->window);
    m->mel_q0 = veil_malloc((size_t)c->n_mels * sizeof *m->mel_q0);
    m->mel_nq = veil_malloc((size_t)c->n_mels * sizeof *m->mel_nq);
    m->mel_off = veil_malloc((size_t)c->n_mels * sizeof *m->mel_off);
    m->logmel = veil_aligned_alloc((size_t)c->n_mels * sizeof *m->logmel);
    m->dct_t = veil_aligned_alloc((size_t)c->n_mels * (size_t)m->k_pad * sizeof *m->dct_t);
    m->cep = veil_aligned_alloc((size_t)m->k_pad * sizeof *m->cep);
    build_window(m);
    build_mel(m);
    build_dct(m);
    /* the spectrum has 4 floats of zeros after it: the mel loops read whole vectors */
    const size_t spec_floats = 2 * (size_t)m->n_freq + 4;
    pthread_mutex_lock(&fftw_planner_lock);
    m->fft_in = fftwf_malloc((size_t)c->n_fft * sizeof *m->fft_in);
    m->spec = fftwf_malloc(spec_floats * sizeof *m->spec);
    /* ESTIMATE: the same plan, hence the same bits, in every process and on every run. */
    if (m->fft_in && m->spec)
        m->plan = fftwf_plan_dft_r2c_1d(c->n_fft, m->fft_in, (fftwf_complex *)m->spec, FFTW_ESTIMATE);
    pthread_mutex_unlock(&fftw_planner_lock);
    if (!m->plan) {
        veil_error("mfcc: cannot create an FFTW plan for n_fft = %d", c->n_fft);
        veil_mfcc_free(m);
        return NULL;
    }
    memset(m->fft_in, 0, (size_t)c->n_fft * sizeof *m->fft_in);
    memset(m->spec, 0, spec_floats * sizeof *m->spec);
    return m;
}

void veil_mfcc_free(veil_mfcc *m)
{
    if (!m) return;
    pthread_mutex_lock(&fftw_planner_lock);
    if (m->plan) fftwf_destroy_plan(m->plan);
    fftwf_free(m->fft_in);
    fftwf_free(m->spec);
    pthread_mutex_unlock(&fftw_planner_lock);
    free(m->window);
    free(m->mel_q0), free(m->mel_nq), free(m->mel_off), free(m->mel_w);
    free(m->logmel), free(m->dct_t), free(m->cep);
    free(m);
}

const veil_mfcc_config *veil_mfcc_config_of(const veil_mfcc *m) { return &m->cfg; }

void veil_mfcc_frame(veil_mfcc *m, const float *restrict x, float *restrict coeffs)
{
    const veil_mfcc_config *c = &m->cfg;
    const int W = c->win_length, M = c->n_mels, KP = m->k_pad;
    float *restrict in = m->fft_in;
    const float *restrict win = m->window;
    if (c->preemphasis == 0.0f) {
        int i = 0;
        for (; i + 4 <= W; i += 4)
            *(v4sf_u *)(in + i) = *(const v4sf_u *)(x + i) * *(const v4sf *)(win + i);
        for (; i < W; i++) in[i] = x[i] * win[i];
    } else {
        /* within the frame (the first sample is its own predecessor), so frames stay independent */
        const float a = c->preemphasis;
        in[0] = (x[0] - a * x[0]) * win[0];
        for (int i = 1; i < W; i++) in[i] = (x[i] - a * x[i - 1]) * win[i];
    }
    fftwf_execute(m->plan);

    /* mel power: sum over the filter's bins of w * (re^2 + im^2) */
    const float *restrict spec = m->spec;
    float *restrict lm = m->logmel;
    const float floor_ = c->log_floor;
    for (int j = 0; j < M; j++) {
        const v4sf *restrict wj = (const v4sf *)(m->mel_w + m->mel_off[j]);
        const float *restrict sj = spec + m->mel_q0[j];
        const int nv = m->mel_nq[j] / 4;
        v4sf acc = {0, 0, 0, 0};
        for (int v = 0; v < nv; v++) {
            v4sf s = *(const v4sf_u *)(sj + 4 * v);
            acc += wj[v] * (s * s);
        }
        float e = (acc[0] + acc[1]) + (acc[2] + acc[3]);
        lm[j] = e > floor_ ? e : floor_;
    }
    for (int j = 0; j < M; j++) lm[j] = logf(lm[j]);

    /* DCT-II: coefficient i = sum_j D[i][j] lm[j], four vectors of coefficients at a time */
    const float *restrict dt = m->dct_t;
    v4sf *restrict cep = (v4sf *)m->cep;
    const int nv = KP / 4;
    int v = 0;
    for (; v + 4 <= nv; v += 4) {
        v4sf a0 = {0, 0, 0, 0}, a1 = a0, a2 = a0, a3 = a0;
        for (int j = 0; j < M; j++) {
            const v4sf *d = (const v4sf *)(dt + (size_t)j * KP) + v;
            const float l = lm[j];
            a0 += d[0] * l;
            a1 += d[1] * l;
            a2 += d[2] * l;
            a3 += d[3] * l;
        }
        cep[v] = a0;
        cep[v + 1] = a1;
        cep[v + 2] = a2;
        cep[v + 3] = a3;
    }
    for (; v < nv; v++) {
        v4sf a0 = {0, 0, 0, 0};
        for (int j = 0; j < M; j++) a0 += ((const v4sf *)(dt + (size_t)j * KP))[v] * lm[j];
        cep[v] = a0;
    }
    memcpy(coeffs, m->cep, (size_t)c->n_mfcc * sizeof *coeffs);
}

int veil_mfcc_compute(veil_mfcc *m, const float *x, size_t n, float **frames, size_t *n_frames)
{
    const size_t nf = veil_mfcc_num_frames(&m->cfg, n), K = (size_t)m->cfg.n_mfcc;
    const size_t hop = (size_t)m->cfg.hop_length;
    float *out = nf ? veil_malloc(nf * K * sizeof *out) : NULL;
    for (size_t t = 0; t < nf; t++) veil_mfcc_frame(m, x + t * hop, out + t * K);
    *frames = out;
    *n_frames = nf;
    return 0;
}

int veil_mfcc_patches(veil_mfcc *m, const float *x, size_t n, float **patches, size_t *n_patches)
{
    /* Patches are consecutive groups of frames, so the patch array is the frame array cut short. */
    const size_t np = veil_mfcc_num_patches(&m->cfg, n), PF = (size_t)m->cfg.patch_frames;
    const size_t K = (size_t)m->cfg.n_mfcc, hop = (size_t)m->cfg.hop_length;
    float *out = np ? veil_malloc(np * PF * K * sizeof *out) : NULL;
    for (size_t t = 0; t < np * PF; t++) veil_mfcc_frame(m, x + t * hop, out + t * K);
    *patches = out;
    *n_patches = np;
    return 0;
}

/* ---------------- streaming ---------------- */

/* A FIFO of fixed-size rows; grows by doubling, compacts when the front is consumed. */
typedef struct {
    float *data;
    size_t row, cap, head, count; /* row length in floats; cap, head, count in rows */
} row_fifo;

static float *fifo_push_slot(row_fifo *q)
{
    if (q->head + q->count == q->cap) {
        if (q->head > 0) {
            memmove(q->data, q->data + q->head * q->row, q->count * q->row * sizeof *q->data);
            q->head = 0;
        } else {
            q->cap = q->cap ? 2 * q->cap : 8;
            q->data = veil_realloc(q->data, q->cap * q->row * sizeof *q->data);
        }
    }
    return q->data + (q->head + q->count++) * q->row;
}

static int fifo_pop(row_fifo *q, float *out)
{
    if (q->count == 0) return 0;
    memcpy(out, q->data + q->head * q->row, q->row * sizeof *out);
    q->head++;
    if (--q->count == 0) q->head = 0;
    return 1;
}

struct veil_mfcc_stream {
    veil_mfcc *m;
    float *buf;     /* samples not yet consumed: buf[0] is the start of the next frame */
    size_t len, cap;
    size_t skip;    /* samples to drop before the next frame (hop > win_length) */
    float *patch;   /* the patch being filled */
    size_t patch_rows;
    int keep_frames;
    row_fifo frames, patches;
};

veil_mfcc_stream *veil_mfcc_stream_new(const veil_mfcc_config *c)
{
    veil_mfcc *m = veil_mfcc_new(c);
    if (!m) return NULL;
    veil_mfcc_stream *s = veil_calloc(1, sizeof *s);
    s->m = m;
    /* room for 64 hops of new samples per pass (a hop longer than the window is skipped) */
    size_t step = (size_t)(c->hop_length < c->win_length ? c->hop_length : c->win_length);
    s->cap = (size_t)c->win_length + 64 * step;
    s->buf = veil_malloc(s->cap * sizeof *s->buf);
    s->patch = veil_malloc((size_t)c->patch_frames * (size_t)c->n_mfcc * sizeof *s->patch);
    s->keep_frames = 1;
    s->frames.row = (size_t)c->n_mfcc;
    s->patches.row = (size_t)c->patch_frames * (size_t)c->n_mfcc;
    return s;
}

void veil_mfcc_stream_free(veil_mfcc_stream *s)
{
    if (!s) return;
    veil_mfcc_free(s->m);
    free(s->buf);
    free(s->patch);
    free(s->frames.data);
    free(s->patches.data);
    free(s);
}

void veil_mfcc_stream_keep_frames(veil_mfcc_stream *s, int keep) { s->keep_frames = keep != 0; }

/* Compute every whole frame in buf, then keep only the samples the next frame needs. */
static void stream_drain(veil_mfcc_stream *s)
{
    const veil_mfcc_config *c = &s->m->cfg;
    const size_t W = (size_t)c->win_length, H = (size_t)c->hop_length, K = (size_t)c->n_mfcc;
    size_t pos = 0;
    while (pos + W <= s->len) {
        float *row = s->patch + s->patch_rows * K;
        veil_mfcc_frame(s->m, s->buf + pos, row); /* the same code path as whole-signal work */
        if (s->keep_frames) memcpy(fifo_push_slot(&s->frames), row, K * sizeof *row);
        if (++s->patch_rows == (size_t)c->patch_frames) {
            memcpy(fifo_push_slot(&s->patches), s->patch, s->patches.row * sizeof *s->patch);
            s->patch_rows = 0;
        }
        pos += H;
    }
    if (pos > s->len) {
        s->skip = pos - s->len;
        pos = s->len;
    }
    memmove(s->buf, s->buf + pos, (s->len - pos) * sizeof *s->buf);
    s->len -= pos;
}

void veil_mfcc_stream_push(veil_mfcc_stream *s, const float *x, size_t n)
{
    while (n > 0) {
        if (s->skip) {
            size_t d = s->skip < n ? s->skip : n;
            s->skip -= d;
            x += d;
            n -= d;
            continue;
        }
        size_t take = s->cap - s->len < n ? s->cap - s->len : n;
        memcpy(s->buf + s->len, x, take * sizeof *x);
        s->len += take;
        x += take;
        n -= take;
        stream_drain(s);
    }
}

int veil_mfcc_stream_pop_frame(veil_mfcc_stream *s, float *coeffs) { return fifo_pop(&s->frames, coeffs); }

int veil_mfcc_stream_pop_patch(veil_mfcc_stream *s, float *patch) { return fifo_pop(&s->patches, patch); }
