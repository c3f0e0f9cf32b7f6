/* veil bench mfcc: one thread, MFCC + patching speed in x real time (bench/mfcc.sh compares
 * it with torchaudio on the same audio). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "veil/audio.h"
#include "veil/common.h"
#include "veil/mfcc.h"

/* Harmonics of a gliding f0 under a syllable-rate envelope, plus a little noise. */
static float *synth_signal(size_t n, int rate)
{
    veil_rng r;
    veil_rng_seed(&r, 2019);
    float *x = veil_malloc(n * sizeof *x);
    double phase = 0;
    for (size_t i = 0; i < n; i++) {
        double t = (double)i / rate;
        double f0 = 140 + 40 * sin(2 * M_PI * 0.7 * t) + 15 * sin(2 * M_PI * 5.1 * t);
        phase += 2 * M_PI * f0 / rate;
        double v = 0;
        for (int h = 1; h <= 12; h++) v += sin(h * phase) / h;
        double env = 0.55 + 0.45 * sin(2 * M_PI * 3.3 * t);
        x[i] = (float)(0.25 * env * v + 0.01 * veil_rng_normal(&r));
    }
    return x;
}

int bench_mfcc(const cli_bench_args *a)
{
    double seconds = a->seconds;
    long repeat = a->repeat;
    const char *audio = a->audio, *save = a->save_signal;
    int json = a->json;
    veil_mfcc_config c;
    veil_mfcc_config_default(&c);
    veil_audio au = {0};
    if (audio) {
        if (veil_audio_load(audio, c.sample_rate, &au) != 0) return cli_fail();
    } else {
        au.n = (size_t)(seconds * c.sample_rate);
        au.rate = c.sample_rate;
        au.samples = synth_signal(au.n, c.sample_rate);
        if (save) {
            if (veil_audio_write_wav16(save, au.samples, au.n, au.rate) != 0) return cli_fail();
            veil_audio_free(&au);
            if (veil_audio_load(save, c.sample_rate, &au) != 0) return cli_fail();
        }
    }
    const double secs = (double)au.n / c.sample_rate;
    veil_mfcc *m = veil_mfcc_new(&c);
    veil_mfcc_stream *s = veil_mfcc_stream_new(&c);
    if (!m || !s) return cli_fail();
    veil_mfcc_stream_keep_frames(s, 0);
    float *patch = veil_malloc((size_t)c.patch_frames * (size_t)c.n_mfcc * sizeof *patch);
    double best = 1e30, best_stream = 1e30;
    size_t np = 0, np_stream = 0;
    for (long r = 0; r < repeat; r++) {
        float *p;
        double t0 = veil_now();
        veil_mfcc_patches(m, au.samples, au.n, &p, &np);
        double t = veil_now() - t0;
        free(p);
        if (t < best) best = t;
        /* streaming: a fresh stream each run, fed 10 ms at a time */
        veil_mfcc_stream_free(s);
        s = veil_mfcc_stream_new(&c);
        veil_mfcc_stream_keep_frames(s, 0);
        size_t got = 0, chunk = (size_t)c.sample_rate / 100;
        t0 = veil_now();
        for (size_t i = 0; i < au.n; i += chunk) {
            veil_mfcc_stream_push(s, au.samples + i, au.n - i < chunk ? au.n - i : chunk);
            while (veil_mfcc_stream_pop_patch(s, patch)) got++;
        }
        t = veil_now() - t0;
        np_stream = got;
        if (t < best_stream) best_stream = t;
    }
    const size_t frames = np * (size_t)c.patch_frames;
    if (json) {
        printf("{\"bench\":\"mfcc\",\"audio\":\"%s\",\"seconds\":%.3f,\"patches\":%zu,\"frames\":%zu,"
               "\"threads\":1,\"repeat\":%ld,\"best_s\":%.6f,\"x_realtime\":%.1f,\"us_per_frame\":%.3f,"
               "\"stream_best_s\":%.6f,\"stream_x_realtime\":%.1f}\n",
               audio ? audio : save ? save : "synthetic", secs, np, frames, repeat, best, secs / best,
               frames ? best / (double)frames * 1e6 : 0.0, best_stream, secs / best_stream);
    } else {
        printf("mfcc (one thread, %s, %.1f s of audio, %zu patches, best of %ld)\n",
               audio ? audio : save ? save : "synthetic", secs, np, repeat);
        printf("  whole signal: %.2f ms  = %.0fx real time  (%.3f us per frame)\n", best * 1e3, secs / best,
               frames ? best / (double)frames * 1e6 : 0.0);
        printf("  streaming:    %.2f ms  = %.0fx real time  (10 ms pushes, %zu patches)\n", best_stream * 1e3,
               secs / best_stream, np_stream);
    }
    if (np_stream != np) {
        fprintf(stderr, "veil bench mfcc: streaming gave %zu patches, whole-signal %zu\n", np_stream, np);
        return 1;
    }
    free(patch);
    veil_mfcc_stream_free(s);
    veil_mfcc_free(m);
    veil_audio_free(&au);
    return 0;
}
