/* On-device extraction with libveil's streaming API: read an audio file, push it in
 * small chunks at its own sample rate as a microphone would, and write the features z of
 * every patch to a .npy (the same numbers as `veil extract`). With --posterior it also
 * prints the gender posterior of each patch; with --timing, the latency of each patch
 * (the push that completed it) and the real-time factor.
 *
 *   cc stream_extract.c -o stream_extract $(pkg-config --cflags --libs veil)
 *   ./stream_extract model.safetensors speech.wav z.npy [--chunk 208] [--posterior] [--timing]
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <veil/audio.h>
#include <veil/common.h>
#include <veil/npy.h>
#include <veil/stream.h>

typedef struct {
    float *z;          /* patches x dim, grown as patches arrive */
    size_t n, dim;
    int print_posterior;
} collected;

static int on_patch(const veil_stream_patch *p, void *ctx)
{
    collected *c = ctx;
    c->dim = (size_t)p->dim;
    c->z = realloc(c->z, (c->n + 1) * c->dim * sizeof(float));
    if (!c->z) return 1;
    memcpy(c->z + c->n * c->dim, p->z, c->dim * sizeof(float));
    c->n++;
    if (c->print_posterior) {
        printf("patch %zu at %.3f s:", p->index, p->start_seconds);
        for (int k = 0; k < p->n_classes; k++) printf(" P(%s)=%.4f", p->class_names[k], p->posterior[k]);
        printf("\n");
    }
    return 0;
}

static double clock_s(clockid_t id)
{
    struct timespec t;
    clock_gettime(id, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}
static double now(void) { return clock_s(CLOCK_MONOTONIC); }
/* CPU time of this thread: what the work costs, whatever else the machine runs */
static double cpu_now(void) { return clock_s(CLOCK_THREAD_CPUTIME_ID); }

static int by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: %s MODEL AUDIO OUT.npy [--chunk SAMPLES] [--posterior] [--timing]\n", argv[0]);
        return 2;
    }
    size_t chunk = 208;
    int timing = 0;
    collected c = {0};
    for (int i = 4; i < argc; i++) {
        if (!strcmp(argv[i], "--chunk") && i + 1 < argc) chunk = (size_t)strtoul(argv[++i], NULL, 10);
        else if (!strcmp(argv[i], "--posterior")) c.print_posterior = 1;
        else if (!strcmp(argv[i], "--timing")) timing = 1;
        else {
            fprintf(stderr, "unknown option '%s'\n", argv[i]);
            return 2;
        }
    }
    if (chunk == 0) chunk = 1;
    veil_set_threads(1); /* one thread, as on a small device */

    veil_audio a; /* mono, at the file's own rate: the stream resamples */
    if (veil_audio_load(argv[2], 0, &a)) {
        fprintf(stderr, "%s\n", veil_last_error());
        return 1;
    }
    veil_stream_options o;
    veil_stream_options_default(&o);
    o.input_rate = a.rate;
    o.posterior = c.print_posterior;
    veil_stream *s = veil_stream_open(argv[1], &o);
    if (!s) {
        fprintf(stderr, "%s\n", veil_last_error());
        return 1;
    }
    double *latency = malloc((a.n / chunk + 2) * sizeof(double)), busy = 0, cpu0 = cpu_now();
    size_t n_latency = 0;
    int rc = 0;
    for (size_t i = 0; i < a.n && rc == 0; i += chunk) {
        size_t k = a.n - i < chunk ? a.n - i : chunk, before = c.n;
        double t0 = now();
        rc = veil_stream_push(s, a.samples + i, k, on_patch, &c);
        double dt = now() - t0;
        busy += dt;
        if (c.n > before) latency[n_latency++] = dt;
    }
    if (rc == 0) rc = veil_stream_finish(s, on_patch, &c);
    double cpu = cpu_now() - cpu0;
    if (rc != 0) fprintf(stderr, "%s\n", veil_last_error());
    size_t shape[2] = {c.n, (size_t)veil_stream_dim(s)};
    if (rc == 0 && c.n == 0) {
        fprintf(stderr, "%s: shorter than one patch\n", argv[2]);
        rc = 1;
    }
    if (rc == 0 && veil_npy_write_f32(argv[3], c.z, 2, shape)) {
        fprintf(stderr, "%s\n", veil_last_error());
        rc = 1;
    }
    if (rc == 0 && timing && n_latency > 0) {
        double seconds = (double)a.n / a.rate;
        qsort(latency, n_latency, sizeof *latency, by_value);
        printf("%zu patches from %.2f s of audio at %d Hz in chunks of %zu samples, one thread\n",
               c.n, seconds, a.rate, chunk);
        printf("latency per patch (the push that completed it): median %.2f ms, max %.2f ms\n",
               1e3 * latency[n_latency / 2], 1e3 * latency[n_latency - 1]);
        printf("real-time factor %.4f (processing time / audio time); %.2f ms per patch\n",
               busy / seconds, 1e3 * busy / (double)c.n);
        printf("CPU time: %.2f ms per patch, real-time factor %.4f on CPU time\n",
               1e3 * cpu / (double)c.n, cpu / seconds);
    }
    free(latency);
    free(c.z);
    veil_stream_close(s);
    veil_audio_free(&a);
    return rc ? 1 : 0;
}
