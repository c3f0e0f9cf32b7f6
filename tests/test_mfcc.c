/* mfcc: against an independent double-precision computation (naive DFT, own filterbank,
 * own DCT), a tone's mel band, streaming == batch, frame/patch counts, config JSON. */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "veil/common.h"
#include "veil/mfcc.h"

/* ---------------- reference, written from the definitions ---------------- */

static double ref_hz_to_mel(double f, int slaney)
{
    if (!slaney) return 2595.0 * log10(1.0 + f / 700.0);
    return f < 1000.0 ? 3.0 * f / 200.0 : 15.0 + 27.0 * log(f / 1000.0) / log(6.4);
}

static double ref_mel_to_hz(double m, int slaney)
{
    if (!slaney) return 700.0 * (pow(10.0, m / 2595.0) - 1.0);
    return m < 15.0 ? 200.0 * m / 3.0 : 1000.0 * pow(6.4, (m - 15.0) / 27.0);
}

/* Triangle j of the filterbank evaluated at f Hz. */
static double ref_tri(const veil_mfcc_config *c, int j, double f)
{
    int sl = c->mel_scale == VEIL_MEL_SLANEY;
    double lo = ref_hz_to_mel(c->f_min, sl), hi = ref_hz_to_mel(c->f_max, sl);
    double step = (hi - lo) / (c->n_mels + 1);
    double a = ref_mel_to_hz(lo + j * step, sl), b = ref_mel_to_hz(lo + (j + 1) * step, sl),
           e = ref_mel_to_hz(lo + (j + 2) * step, sl);
    if (f <= a || f >= e) return 0;
    return f <= b ? (f - a) / (b - a) : (e - f) / (e - b);
}

/* One frame -> log mel energies (n_mels) and coefficients (n_mfcc). */
static void ref_frame(const veil_mfcc_config *c, const float *x, double *logmel, double *coef)
{
    int W = c->win_length, N = c->n_fft, M = c->n_mels;
    double *buf = calloc((size_t)N, sizeof *buf), *pw = calloc((size_t)N / 2 + 1, sizeof *pw);
    for (int i = 0; i < W; i++) {
        double v = x[i];
        if (c->preemphasis > 0) v -= c->preemphasis * (i ? x[i - 1] : x[0]);
        double wn = c->window == VEIL_WINDOW_HAMMING ? 0.54 - 0.46 * cos(2 * M_PI * i / W)
                    : c->window == VEIL_WINDOW_HANN  ? 0.5 * (1 - cos(2 * M_PI * i / W))
                                                     : 1.0;
        buf[i] = v * wn;
    }
    for (int k = 0; k <= N / 2; k++) {
        double re = 0, im = 0;
        for (int t = 0; t < N; t++) {
            re += buf[t] * cos(2 * M_PI * k * t / N);
            im -= buf[t] * sin(2 * M_PI * k * t / N);
        }
        pw[k] = re * re + im * im;
    }
    for (int j = 0; j < M; j++) {
        double e = 0;
        for (int k = 0; k <= N / 2; k++) e += ref_tri(c, j, (double)k * c->sample_rate / N) * pw[k];
        logmel[j] = log(e > c->log_floor ? e : c->log_floor);
    }
    for (int i = 0; i < c->n_mfcc; i++) {
        double s = 0;
        for (int j = 0; j < M; j++) s += logmel[j] * cos(M_PI * i * (2 * j + 1) / (2.0 * M));
        coef[i] = c->dct_ortho ? s * sqrt((i ? 2.0 : 1.0) / M) : s;
    }
    free(buf);
    free(pw);
}

static float *test_signal(size_t n, uint64_t seed)
{
    veil_rng r;
    veil_rng_seed(&r, seed);
    float *x = malloc(n * sizeof *x);
    for (size_t i = 0; i < n; i++) {
        double t = (double)i / 16000;
        x[i] = (float)(0.3 * sin(2 * M_PI * 220 * t) + 0.2 * sin(2 * M_PI * 1800 * t + 0.3) +
                       0.1 * sin(2 * M_PI * 5000 * t * (1 + t)) + 0.02 * veil_rng_normal(&r));
    }
    return x;
}

/* max |a - b| / max |b| over one frame */
static void check_against_reference(const veil_mfcc_config *c, const char *what)
{
    size_t n = 2500;
    float *x = test_signal(n, 7);
    veil_mfcc *m = veil_mfcc_new(c);
    CHECK_MSG(m != NULL, "%s: %s", what, veil_last_error());
    if (!m) {
        free(x);
        return;
    }
    float *fr;
    size_t nf;
    CHECK(veil_mfcc_compute(m, x, n, &fr, &nf) == 0);
    CHECK(nf == veil_mfcc_num_frames(c, n) && nf > 3);
    double worst = 0;
    double *lm = malloc((size_t)c->n_mels * sizeof *lm), *co = malloc((size_t)c->n_mfcc * sizeof *co);
    for (size_t t = 0; t < nf; t++) {
        ref_frame(c, x + t * (size_t)c->hop_length, lm, co);
        double maxabs = 0, maxerr = 0;
        for (int i = 0; i < c->n_mfcc; i++) {
            if (fabs(co[i]) > maxabs) maxabs = fabs(co[i]);
            double e = fabs(fr[t * (size_t)c->n_mfcc + (size_t)i] - co[i]);
            if (e > maxerr) maxerr = e;
        }
        if (maxerr / maxabs > worst) worst = maxerr / maxabs;
    }
    CHECK_MSG(worst <= 1e-4, "%s: relative error %.3g", what, worst);
    printf("%s: %zu frames, worst relative error %.2g\n", what, nf, worst);
    free(lm);
    free(co);
    free(fr);
    free(x);
    veil_mfcc_free(m);
}

static void test_reference(void)
{
    veil_mfcc_config c;
    veil_mfcc_config_default(&c);
    check_against_reference(&c, "paper defaults");
    c.window = VEIL_WINDOW_HANN;
    c.mel_scale = VEIL_MEL_SLANEY;
    c.preemphasis = 0.97f;
    c.n_mels = 40;
    c.n_mfcc = 13;
    c.dct_ortho = 0;
    c.f_min = 100;
    c.f_max = 7000;
    check_against_reference(&c, "hann/slaney/preemphasis/13 of 40");
    veil_mfcc_config_default(&c);
    c.window = VEIL_WINDOW_RECT;
    c.win_length = 400;
    c.hop_length = 160;
    c.n_fft = 400; /* FFTW handles any length */
    c.log_floor = 1e-3f;
    check_against_reference(&c, "rect window, n_fft 400");
}

/* A tone's energy lands in the band whose triangle is highest at its frequency. */
static void test_tone(double freq)
{
    veil_mfcc_config c;
    veil_mfcc_config_default(&c);
    c.n_mfcc = c.n_mels; /* all 64 coefficients: the orthonormal DCT can then be undone */
    int want = -1;
    double best = 0, second = 0;
    for (int j = 0; j < c.n_mels; j++) {
        double w = ref_tri(&c, j, freq);
        if (w > best) {
            second = best;
            best = w;
            want = j;
        } else if (w > second) second = w;
    }
    CHECK_MSG(best - second > 0.3, "tone %g Hz sits too close to two bands to be a test", freq);
    size_t n = 416;
    float *x = malloc(n * sizeof *x);
    for (size_t i = 0; i < n; i++) x[i] = (float)(0.5 * sin(2 * M_PI * freq * (double)i / 16000));
    veil_mfcc *m = veil_mfcc_new(&c);
    float co[64];
    veil_mfcc_frame(m, x, co);
    int got = -1;
    double top = -1e30;
    for (int j = 0; j < 64; j++) {
        double lm = 0; /* inverse of the orthonormal DCT-II (DCT-III) */
        for (int i = 0; i < 64; i++) lm += co[i] * sqrt((i ? 2.0 : 1.0) / 64) * cos(M_PI * i * (2 * j + 1) / 128.0);
        if (lm > top) {
            top = lm;
            got = j;
        }
    }
    CHECK_MSG(got == want, "tone %g Hz: loudest band %d, expected %d", freq, got, want);
    veil_mfcc_free(m);
    free(x);
}

/* Stream in random-size chunks, popping frames and patches as they come: bit-identical. */
static void test_stream(const veil_mfcc_config *c, size_t n, int keep_frames, uint64_t seed)
{
    float *x = test_signal(n, seed);
    veil_mfcc *m = veil_mfcc_new(c);
    float *fr, *pa;
    size_t nf, np;
    veil_mfcc_compute(m, x, n, &fr, &nf);
    veil_mfcc_patches(m, x, n, &pa, &np);
    const size_t K = (size_t)c->n_mfcc, PS = (size_t)c->patch_frames * K;
    veil_mfcc_stream *s = veil_mfcc_stream_new(c);
    if (!keep_frames) veil_mfcc_stream_keep_frames(s, 0);
    float *sf = malloc((nf + 1) * K * sizeof *sf), *sp = malloc((np + 1) * PS * sizeof *sp);
    size_t gf = 0, gp = 0, pos = 0;
    veil_rng r;
    veil_rng_seed(&r, seed);
    while (pos < n) {
        size_t chunk = (size_t)veil_rng_below(&r, 1500);
        if (chunk > n - pos) chunk = n - pos;
        veil_mfcc_stream_push(s, x + pos, chunk);
        pos += chunk;
        while (gf <= nf && veil_mfcc_stream_pop_frame(s, sf + gf * K)) gf++;
        if (veil_rng_below(&r, 2))
            while (gp <= np && veil_mfcc_stream_pop_patch(s, sp + gp * PS)) gp++;
    }
    while (gp <= np && veil_mfcc_stream_pop_patch(s, sp + gp * PS)) gp++;
    CHECK_MSG(gf == (keep_frames ? nf : 0), "stream frames %zu, batch %zu", gf, nf);
    CHECK_MSG(gp == np, "stream patches %zu, batch %zu", gp, np);
    if (keep_frames && gf == nf) CHECK(nf == 0 || !memcmp(sf, fr, nf * K * sizeof *fr));
    if (gp == np) CHECK(np == 0 || !memcmp(sp, pa, np * PS * sizeof *pa));
    /* patches are the frames, grouped */
    CHECK(np == 0 || !memcmp(pa, fr, np * PS * sizeof *pa));
    free(sf);
    free(sp);
    free(fr);
    free(pa);
    free(x);
    veil_mfcc_stream_free(s);
    veil_mfcc_free(m);
}

static void test_counts(void)
{
    veil_mfcc_config c;
    veil_mfcc_config_default(&c);
    const size_t one_patch = 416 + 31 * 208; /* 6864 samples: 32 whole frames */
    struct {
        size_t n, frames, patches;
    } cases[] = {{0, 0, 0},       {415, 0, 0},  {416, 1, 0}, {417, 1, 0},
                 {623, 1, 0},     {624, 2, 0},  {one_patch - 1, 31, 0},
                 {one_patch, 32, 1}, {one_patch + 207, 32, 1}, {416 + 63 * 208, 64, 2},
                 {416 + 63 * 208 - 1, 63, 1}};
    veil_mfcc *m = veil_mfcc_new(&c);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t n = cases[i].n;
        CHECK_MSG(veil_mfcc_num_frames(&c, n) == cases[i].frames, "n=%zu frames %zu", n,
                  veil_mfcc_num_frames(&c, n));
        CHECK_MSG(veil_mfcc_num_patches(&c, n) == cases[i].patches, "n=%zu patches %zu", n,
                  veil_mfcc_num_patches(&c, n));
        float *x = calloc(n + 1, sizeof *x), *out = (float *)1;
        size_t got = 99;
        CHECK(veil_mfcc_compute(m, x, n, &out, &got) == 0);
        CHECK(got == cases[i].frames && (got > 0) == (out != NULL));
        free(out);
        CHECK(veil_mfcc_patches(m, x, n, &out, &got) == 0);
        CHECK(got == cases[i].patches && (got > 0) == (out != NULL));
        /* silence: every mel band sits at the floor, so c0 = sqrt(64) * log(1e-10) */
        if (got) CHECK_NEAR(out[0], 8.0 * log(1e-10), 1e-3);
        free(out);
        free(x);
    }
    veil_mfcc_free(m);
}

static void test_json(void)
{
    veil_mfcc_config a, b;
    veil_mfcc_config_default(&a);
    char *js = veil_mfcc_config_to_json(&a);
    CHECK(strstr(js, "\"log_floor\":1e-10") && strstr(js, "\"window\":\"hamming\""));
    memset(&b, 0x55, sizeof b);
    CHECK(veil_mfcc_config_from_json(js, &b) == 0);
    char *js2 = veil_mfcc_config_to_json(&b);
    CHECK(!strcmp(js, js2));
    free(js);
    free(js2);

    a.window = VEIL_WINDOW_HANN;
    a.mel_scale = VEIL_MEL_SLANEY;
    a.preemphasis = 0.97f;
    a.log_floor = 1e-6f;
    a.n_mels = 40;
    a.n_mfcc = 13;
    a.f_min = 20.5f;
    a.dct_ortho = 0;
    js = veil_mfcc_config_to_json(&a);
    CHECK(veil_mfcc_config_from_json(js, &b) == 0);
    CHECK(b.window == a.window && b.mel_scale == a.mel_scale && b.preemphasis == a.preemphasis &&
          b.log_floor == a.log_floor && b.n_mels == 40 && b.n_mfcc == 13 && b.f_min == a.f_min &&
          b.dct_ortho == 0 && b.sample_rate == a.sample_rate && b.hop_length == a.hop_length);
    free(js);

    /* missing fields keep the defaults */
    CHECK(veil_mfcc_config_from_json("{\"n_mfcc\": 20}", &b) == 0);
    CHECK(b.n_mfcc == 20 && b.n_mels == 64 && b.win_length == 416);

    veil_mfcc_config_default(&b);
    CHECK_FAILS_WITH(veil_mfcc_config_from_json("{\"n_mfcc\": 20, \"colour\": 1}", &b), "unknown field 'colour'");
    CHECK(b.n_mfcc == 32); /* untouched on failure */
    CHECK_FAILS_WITH(veil_mfcc_config_from_json("{\"n_mfcc\": ", &b), "not valid JSON");
    CHECK_FAILS_WITH(veil_mfcc_config_from_json("[1, 2]", &b), "expected a JSON object");
    CHECK_FAILS_WITH(veil_mfcc_config_from_json("{\"n_mfcc\": 65}", &b), "n_mfcc");
    CHECK_FAILS_WITH(veil_mfcc_config_from_json("{\"n_fft\": 512.5}", &b), "n_fft");
    CHECK_FAILS_WITH(veil_mfcc_config_from_json("{\"n_fft\": \"512\"}", &b), "n_fft");
    CHECK_FAILS_WITH(veil_mfcc_config_from_json("{\"window\": \"blackman\"}", &b), "window");
    CHECK_FAILS_WITH(veil_mfcc_config_from_json("{\"log_floor\": 0}", &b), "log_floor");
    CHECK_FAILS_WITH(veil_mfcc_config_from_json("{\"f_max\": 9000}", &b), "f_max");
    CHECK_FAILS_WITH(veil_mfcc_config_from_json("{\"dct_ortho\": 1}", &b), "dct_ortho");
    CHECK_FAILS_WITH(veil_mfcc_config_from_json("{\"hop_length\": 0}", &b), "hop_length");
    CHECK_FAILS_WITH(veil_mfcc_config_from_json("{\"n_mels\": 8, \"n_mels\": 9}", &b), "duplicate field 'n_mels'");

    veil_mfcc_config_default(&a);
    a.win_length = 600; /* longer than n_fft */
    CHECK(veil_mfcc_new(&a) == NULL);
    test_check_error_contains(__FILE__, __LINE__, "win_length");
    CHECK(veil_mfcc_stream_new(&a) == NULL);
}

/* Several threads each build their own computer (FFTW planning is serialised inside). */
static float thread_out[4][32];
static void *thread_main(void *arg)
{
    int id = (int)(intptr_t)arg;
    veil_mfcc_config c;
    veil_mfcc_config_default(&c);
    float *x = test_signal(416, 3);
    for (int rep = 0; rep < 20; rep++) {
        veil_mfcc *m = veil_mfcc_new(&c);
        veil_mfcc_frame(m, x, thread_out[id]);
        veil_mfcc_free(m);
    }
    free(x);
    return NULL;
}

static void test_threads(void)
{
    pthread_t th[4];
    for (int i = 0; i < 4; i++) pthread_create(&th[i], NULL, thread_main, (void *)(intptr_t)i);
    for (int i = 0; i < 4; i++) pthread_join(th[i], NULL);
    for (int i = 1; i < 4; i++) CHECK(!memcmp(thread_out[0], thread_out[i], sizeof thread_out[0]));
}

int main(void)
{
    test_reference();
    test_tone(1000.0);
    test_tone(3000.0);
    test_tone(250.0);
    veil_mfcc_config c;
    veil_mfcc_config_default(&c);
    test_stream(&c, 416 + 100 * 208 + 77, 1, 11);
    test_stream(&c, 416 + 100 * 208 + 77, 0, 12);
    test_stream(&c, 300, 1, 13);
    c.win_length = 256; /* hop longer than the window: samples between frames are skipped */
    c.hop_length = 300;
    c.patch_frames = 5;
    test_stream(&c, 40000, 1, 14);
    veil_mfcc_config_default(&c);
    c.preemphasis = 0.97f;
    test_stream(&c, 20000, 1, 15);
    test_counts();
    test_json();
    test_threads();
    return test_finish("test_mfcc");
}
