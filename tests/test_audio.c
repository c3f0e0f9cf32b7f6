/* audio: decoding WAV/FLAC/NIST SPHERE/OGG, mono mix, resampling, WAV writing, errors. */
#include <math.h>
#include <sndfile.h>
#include <stdlib.h>
#include <string.h>

#include <sys/stat.h>

#include "testutil.h"
#include "veil/audio.h"
#include "veil/common.h"

static char dir[4096];

/* Write interleaved float frames with libsndfile in the given format. */
static int write_sf(const char *path, int format, int rate, int channels, const float *x, size_t frames)
{
    SF_INFO info = {.samplerate = rate, .channels = channels, .format = format};
    SNDFILE *sf = sf_open(path, SFM_WRITE, &info);
    if (!sf) return -1;
    sf_count_t w = frames ? sf_writef_float(sf, x, (sf_count_t)frames) : 0;
    sf_close(sf);
    return w == (sf_count_t)frames ? 0 : -1;
}

/* Frequency of a sine from its zero crossings over the middle of the signal (edges skipped:
 * the resampler's filter rings there). */
static double sine_freq(const float *x, size_t n, int rate)
{
    size_t a = n / 10, b = n - n / 10, first = 0, last = 0;
    int crossings = 0;
    for (size_t i = a; i + 1 < b; i++)
        if ((x[i] < 0) != (x[i + 1] < 0)) {
            if (!crossings) first = i;
            last = i;
            crossings++;
        }
    if (crossings < 2) return 0;
    return (crossings - 1) / 2.0 / ((double)(last - first) / rate);
}

static float *stereo_sine(size_t frames, int rate, double f, double amp_l, double amp_r)
{
    float *x = malloc(frames * 2 * sizeof *x);
    for (size_t i = 0; i < frames; i++) {
        double s = sin(2 * M_PI * f * (double)i / rate);
        x[2 * i] = (float)(amp_l * s);
        x[2 * i + 1] = (float)(amp_r * s + 0.1);
    }
    return x;
}

static void test_formats(void)
{
    /* stereo float WAV at 16 kHz: mono is the exact mean, no resampling */
    size_t frames = 8000;
    float *x = stereo_sine(frames, 16000, 440, 0.5, 0.3);
    const char *p = test_file("stereo.wav");
    CHECK(write_sf(p, SF_FORMAT_WAV | SF_FORMAT_FLOAT, 16000, 2, x, frames) == 0);
    veil_audio a;
    CHECK(veil_audio_load(p, 16000, &a) == 0);
    CHECK(a.n == frames && a.rate == 16000);
    double err = 0;
    for (size_t i = 0; i < a.n && i < frames; i++) {
        double want = 0.5 * ((double)x[2 * i] + x[2 * i + 1]);
        if (fabs(a.samples[i] - want) > err) err = fabs(a.samples[i] - want);
    }
    CHECK_MSG(err < 1e-6, "mono mix error %g", err);
    veil_audio_free(&a);
    free(x);

    /* FLAC 16-bit at 44.1 kHz, 1 kHz sine: resampled length and frequency */
    frames = 22050;
    x = stereo_sine(frames, 44100, 1000, 0.6, 0.6);
    float *mono = malloc(frames * sizeof *mono);
    for (size_t i = 0; i < frames; i++) mono[i] = x[2 * i];
    p = test_file("tone44k.flac");
    CHECK(write_sf(p, SF_FORMAT_FLAC | SF_FORMAT_PCM_16, 44100, 1, mono, frames) == 0);
    CHECK(veil_audio_load(p, 16000, &a) == 0);
    CHECK_MSG(a.n >= 7999 && a.n <= 8001, "resampled length %zu, want 8000", a.n);
    CHECK(a.rate == 16000);
    CHECK_NEAR(sine_freq(a.samples, a.n, 16000), 1000.0, 5.0);
    veil_audio_free(&a);
    /* target_rate 0 keeps the file's rate */
    CHECK(veil_audio_load(p, 0, &a) == 0);
    CHECK(a.n == frames && a.rate == 44100);
    CHECK_NEAR(sine_freq(a.samples, a.n, 44100), 1000.0, 5.0);
    veil_audio_free(&a);
    free(mono);
    free(x);

    /* NIST SPHERE (TIMIT's format), stereo, 8 kHz, 500 Hz: upsampled to 16 kHz */
    frames = 4000;
    x = stereo_sine(frames, 8000, 500, 0.4, 0.2);
    p = test_file("tone8k.sph");
    CHECK(write_sf(p, SF_FORMAT_NIST | SF_FORMAT_PCM_16, 8000, 2, x, frames) == 0);
    CHECK(veil_audio_load(p, 16000, &a) == 0);
    CHECK_MSG(a.n >= 7999 && a.n <= 8001, "resampled length %zu, want 8000", a.n);
    CHECK_NEAR(sine_freq(a.samples, a.n, 16000), 500.0, 3.0);
    /* mean of 0.4 s and 0.2 s + 0.1: amplitude 0.3 around 0.05 (check at a peak) */
    double mx = -1, mn = 1;
    for (size_t i = a.n / 4; i < 3 * a.n / 4; i++) {
        if (a.samples[i] > mx) mx = a.samples[i];
        if (a.samples[i] < mn) mn = a.samples[i];
    }
    CHECK_NEAR(mx, 0.35, 0.01);
    CHECK_NEAR(mn, -0.25, 0.01);
    veil_audio_free(&a);
    free(x);

    /* OGG Vorbis, where libsndfile was built with it */
    frames = 16000;
    x = stereo_sine(frames, 16000, 700, 0.5, 0.5);
    mono = malloc(frames * sizeof *mono);
    for (size_t i = 0; i < frames; i++) mono[i] = x[2 * i];
    p = test_file("tone.ogg");
    if (write_sf(p, SF_FORMAT_OGG | SF_FORMAT_VORBIS, 16000, 1, mono, frames) == 0) {
        CHECK(veil_audio_load(p, 16000, &a) == 0);
        CHECK_MSG(a.n >= 15000 && a.n <= 17000, "ogg length %zu", a.n);
        CHECK_NEAR(sine_freq(a.samples, a.n, 16000), 700.0, 5.0);
        veil_audio_free(&a);
    } else {
        printf("note: libsndfile cannot write OGG Vorbis here; OGG not tested\n");
    }
    free(mono);
    free(x);
}

static void test_resample(void)
{
    float in[1000];
    for (int i = 0; i < 1000; i++) in[i] = (float)sin(i * 0.01);
    float *out;
    size_t n;
    CHECK(veil_audio_resample(in, 1000, 16000, 8000, &out, &n) == 0);
    CHECK(n == 500);
    free(out);
    CHECK(veil_audio_resample(in, 1000, 16000, 16000, &out, &n) == 0);
    CHECK(n == 1000 && !memcmp(out, in, sizeof in));
    free(out);
    CHECK_FAILS_WITH(veil_audio_resample(in, 1000, 0, 16000, &out, &n), "bad rates");
}

static void test_errors(void)
{
    veil_audio a;
    const char *p = test_file("missing.wav");
    CHECK_FAILS_WITH(veil_audio_load(p, 16000, &a), p);
    CHECK_FAILS_WITH(veil_audio_load(p, 16000, &a), "cannot open");

    /* a header declaring 1 Hz (100 KB would be 14 hours to resample) is refused */
    {
        float z[4000] = {0};
        p = test_file("onehz.wav");
        CHECK(veil_audio_write_wav16(p, z, 4000, 16000) == 0);
        FILE *f = fopen(p, "r+b");
        unsigned char rate[8] = {1, 0, 0, 0, 2, 0, 0, 0}; /* sample rate 1, byte rate 2 */
        CHECK(f && fseek(f, 24, SEEK_SET) == 0 && fwrite(rate, 1, 8, f) == 8);
        if (f) fclose(f);
        CHECK_FAILS_WITH(veil_audio_load(p, 16000, &a), "1 Hz; the sample rate is outside 1000..384000");
        double secs;
        CHECK_FAILS_WITH(veil_audio_duration(p, &secs), "sample rate is outside");
        /* a FIFO where a WAV is expected is refused at once instead of blocking */
        p = test_file("fifo.wav");
        CHECK(mkfifo(p, 0644) == 0);
        CHECK_FAILS_WITH(veil_audio_load(p, 16000, &a), "a FIFO, not a regular file");
        CHECK_FAILS_WITH(veil_audio_duration(p, &secs), "a FIFO");
    }

    p = test_file("text.wav");
    const char *text = "this is not a WAV file, just some text\n";
    test_write_file(p, text, strlen(text));
    CHECK_FAILS_WITH(veil_audio_load(p, 16000, &a), p);
    CHECK_FAILS_WITH(veil_audio_load(p, 16000, &a), "cannot read audio");

    p = test_file("empty.wav");
    CHECK(write_sf(p, SF_FORMAT_WAV | SF_FORMAT_PCM_16, 16000, 1, NULL, 0) == 0);
    CHECK_FAILS_WITH(veil_audio_load(p, 16000, &a), p);
    CHECK_FAILS_WITH(veil_audio_load(p, 16000, &a), "empty audio");

    p = test_file("nan.wav");
    float x[100];
    for (int i = 0; i < 100; i++) x[i] = 0.1f;
    x[50] = NAN;
    CHECK(write_sf(p, SF_FORMAT_WAV | SF_FORMAT_FLOAT, 16000, 1, x, 100) == 0);
    CHECK_FAILS_WITH(veil_audio_load(p, 16000, &a), p);
    CHECK_FAILS_WITH(veil_audio_load(p, 16000, &a), "non-finite");
    x[50] = INFINITY;
    CHECK(write_sf(p, SF_FORMAT_WAV | SF_FORMAT_FLOAT, 16000, 1, x, 100) == 0);
    CHECK_FAILS_WITH(veil_audio_load(p, 16000, &a), "non-finite");
}

static void test_write(void)
{
    float x[1000];
    for (int i = 0; i < 1000; i++) x[i] = (float)(0.8 * sin(i * 0.05));
    x[10] = 1.5f;  /* clipped to +1 */
    x[11] = -2.0f; /* clipped to -1 */
    const char *p1 = test_file("w1.wav"), *p2 = test_file("w2.wav");
    CHECK(veil_audio_write_wav16(p1, x, 1000, 16000) == 0);
    CHECK(veil_audio_write_wav16(p2, x, 1000, 16000) == 0);
    char *b1 = NULL, *b2 = NULL;
    size_t n1 = 0, n2 = 0;
    CHECK(veil_read_file(p1, &b1, &n1) == 0 && veil_read_file(p2, &b2, &n2) == 0);
    CHECK(n1 == n2 && n1 == 44 + 2000 && !memcmp(b1, b2, n1)); /* plain 44-byte header */
    free(b1);
    free(b2);
    veil_audio a;
    CHECK(veil_audio_load(p1, 16000, &a) == 0);
    CHECK(a.n == 1000);
    if (a.n == 1000) {
        CHECK_NEAR(a.samples[10], 32767.0 / 32768.0, 1e-6);
        CHECK_NEAR(a.samples[11], -32767.0 / 32768.0, 1e-6);
        double err = 0;
        for (int i = 20; i < 1000; i++)
            if (fabs(a.samples[i] - x[i]) > err) err = fabs(a.samples[i] - x[i]);
        CHECK_MSG(err < 1.0 / 16384, "16-bit round trip error %g", err);
    }
    veil_audio_free(&a);
    /* no temporary file left behind */
    char cmd[4400];
    snprintf(cmd, sizeof cmd, "ls '%s' | grep -q tmp", dir);
    CHECK(system(cmd) != 0);
    x[5] = NAN;
    CHECK_FAILS_WITH(veil_audio_write_wav16(test_file("w3.wav"), x, 1000, 16000), "non-finite");
    CHECK(!veil_path_exists(test_file("w3.wav")));
    x[5] = 0;
    CHECK_FAILS_WITH(veil_audio_write_wav16(test_file("nodir/w.wav"), x, 3, 16000), "nodir/w.wav");
}

int main(void)
{
    snprintf(dir, sizeof dir, "%s", test_tmpdir("audio"));
    test_formats();
    test_resample();
    test_errors();
    test_write();
    return test_finish("test_audio");
}
