/* Audio in and out: libsndfile decodes, libsoxr resamples. */
#include "veil/audio.h"

#include <errno.h>
#include <math.h>
#include <sndfile.h>
#include <soxr.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "veil/common.h"

/* Read every frame (interleaved) in chunks: some formats report no or a wrong length. */
static int read_all(SNDFILE *sf, const char *path, int channels, float **out, size_t *frames)
{
    size_t cap = 1 << 16, n = 0;
    float *buf = veil_malloc(cap * (size_t)channels * sizeof *buf);
    for (;;) {
        if (n == cap) {
            cap *= 2;
            buf = veil_realloc(buf, cap * (size_t)channels * sizeof *buf);
        }
        sf_count_t got = sf_readf_float(sf, buf + n * (size_t)channels, (sf_count_t)(cap - n));
        if (got < 0) break;
        n += (size_t)got;
        if (got == 0) break;
    }
    if (sf_error(sf) != SF_ERR_NO_ERROR) {
        veil_error("%s: cannot decode audio: %s", path, sf_strerror(sf));
        free(buf);
        return -1;
    }
    *out = buf;
    *frames = n;
    return 0;
}

/* The one place an audio file is opened: only a regular file (or - for stdin), and a header
 * whose rate, channels and length are plausible, so that a crafted header cannot ask the
 * resampler or the decoder for gigabytes. */
/* A copy of a pipe (standard input) in an unlinked temporary file: FLAC and other
 * formats seek while decoding, and a pipe cannot seek. -1 after veil_error. */
static int spool(const char *path, int in)
{
    FILE *t = tmpfile();
    if (!t) {
        veil_error("%s: cannot make a temporary copy of the stream: %s", path, strerror(errno));
        return -1;
    }
    char buf[1 << 16];
    for (;;) {
        ssize_t n = read(in, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            veil_error("%s: read error: %s", path, strerror(errno));
            fclose(t);
            return -1;
        }
        if (n == 0) break;
        if (fwrite(buf, 1, (size_t)n, t) != (size_t)n) {
            veil_error("%s: cannot make a temporary copy of the stream: %s", path, strerror(errno));
            fclose(t);
            return -1;
        }
    }
    int fd = fflush(t) == 0 ? dup(fileno(t)) : -1;
    fclose(t);
    if (fd < 0 || lseek(fd, 0, SEEK_SET) != 0) {
        veil_error("%s: cannot make a temporary copy of the stream: %s", path, strerror(errno));
        if (fd >= 0) close(fd);
        return -1;
    }
    return fd;
}

/* The number after "key" on a line of libsndfile's log ("Sample Rate   : 0"), or -1. */
static long log_number(const char *log, const char *key, long *should_be)
{
    const char *p = strstr(log, key);
    if (!p) return -1;
    p += strlen(key);
    while (*p == ' ' || *p == ':') p++;
    char *end;
    long v = strtol(p, &end, 10);
    if (end == p) return -1;
    if (should_be) {
        *should_be = -1;
        const char *eol = strchr(end, '\n'), *sb = strstr(end, "(should be ");
        if (sb && (!eol || sb < eol)) *should_be = strtol(sb + 11, NULL, 10);
    }
    return v;
}

static SNDFILE *open_audio(const char *path, SF_INFO *info)
{
    memset(info, 0, sizeof *info);
    FILE *f = veil_open_input(path);
    if (!f) return NULL;
    struct stat st;
    int fd = dup(fileno(f));
    off_t bytes = fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode) ? st.st_size : -1;
    veil_close_input(f);
    if (fd < 0) {
        veil_error("%s: cannot open: out of file descriptors", path);
        return NULL;
    }
    if (lseek(fd, 0, SEEK_CUR) < 0) { /* a pipe: spooled, so that every format can seek */
        int copy = spool(path, fd);
        close(fd);
        if (copy < 0) return NULL;
        fd = copy;
        bytes = fstat(fd, &st) == 0 ? st.st_size : -1;
    }
    SNDFILE *sf = sf_open_fd(fd, SFM_READ, info, 1);
    if (!sf) {
        /* libsndfile refuses a header rate of 0 as "SF_INFO struct incomplete": say what it is */
        char log[4096] = "";
        sf_command(NULL, SFC_GET_LOG_INFO, log, sizeof log);
        if (log_number(log, "Sample Rate", NULL) == 0)
            veil_error("%s: cannot read audio: the header declares a sample rate of 0 Hz", path);
        else veil_error("%s: cannot read audio: %s", path, sf_strerror(NULL));
        close(fd);
        return NULL;
    }
    const char *bad = NULL;
    char why[160];
    if (info->channels < 1 || info->channels > VEIL_AUDIO_MAX_CHANNELS) bad = "channel count";
    else if (info->samplerate < VEIL_AUDIO_MIN_RATE || info->samplerate > VEIL_AUDIO_MAX_RATE) bad = "sample rate";
    if (bad) {
        snprintf(why, sizeof why, "header declares %d channel(s) at %d Hz; the %s is outside %d..%d", info->channels,
                 info->samplerate, bad, !strcmp(bad, "sample rate") ? VEIL_AUDIO_MIN_RATE : 1,
                 !strcmp(bad, "sample rate") ? VEIL_AUDIO_MAX_RATE : VEIL_AUDIO_MAX_CHANNELS);
    } else if (bytes >= 0 && info->frames > 0 &&
               (double)info->frames * info->channels > (double)VEIL_AUDIO_MAX_SAMPLES_PER_BYTE * ((double)bytes + 1)) {
        snprintf(why, sizeof why, "header declares %.0f samples, far more than %lld bytes can hold",
                 (double)info->frames * info->channels, (long long)bytes);
        bad = why;
    }
    if (bad) {
        veil_error("%s: cannot read audio: %s", path, why);
        sf_close(sf);
        return NULL;
    }
    return sf;
}

int veil_audio_duration(const char *path, double *seconds)
{
    SF_INFO info;
    SNDFILE *sf = open_audio(path, &info);
    if (!sf) return -1;
    sf_close(sf);
    *seconds = info.frames > 0 ? (double)info.frames / info.samplerate : 0.0;
    return 0;
}

int veil_audio_load(const char *path, int target_rate, veil_audio *out)
{
    memset(out, 0, sizeof *out);
    SF_INFO info;
    SNDFILE *sf = open_audio(path, &info);
    if (!sf) return -1;
    float *inter;
    size_t frames;
    /* a WAV cut short (a copy that stopped): libsndfile reads what is there and notes in
     * its log that the data chunk's length "should be" smaller; say so, once */
    char log[4096] = "";
    sf_command(sf, SFC_GET_LOG_INFO, log, sizeof log);
    long should = -1, declared = log_number(log, "\ndata", &should);
    int rc = read_all(sf, path, info.channels, &inter, &frames);
    sf_close(sf);
    /* 0xFFFFFFFF (and the like) is what a writer on a pipe puts there: "unknown", not cut */
    if (declared >= 0x7ffff000L) declared = -1;
    if (rc == 0 && declared > 0 && should >= 0 && should < declared && veil_verbosity >= 1)
        fprintf(stderr, "veil: warning: %s: truncated: the header declares %ld bytes of audio data, the file "
                "holds %ld; reading the %.3f s that are there\n", path, declared, should,
                (double)frames / info.samplerate);
    if (rc != 0) return -1;
    if (frames == 0) {
        free(inter);
        veil_error("%s: empty audio (0 samples)", path);
        return -1;
    }
    /* mono = mean of the channels, in place (the write index never passes the read index) */
    const int ch = info.channels;
    for (size_t i = 0; i < frames; i++) {
        const float *fr = inter + i * (size_t)ch;
        float s = 0;
        for (int c = 0; c < ch; c++) s += fr[c];
        if (!isfinite(s)) {
            free(inter);
            veil_error("%s: non-finite sample (NaN or infinity) at %.6f s", path,
                       (double)i / info.samplerate);
            return -1;
        }
        inter[i] = ch == 1 ? s : s / (float)ch;
    }
    if (target_rate > 0 && target_rate != info.samplerate) {
        float *res;
        size_t res_n;
        rc = veil_audio_resample(inter, frames, info.samplerate, target_rate, &res, &res_n);
        free(inter);
        if (rc != 0) {
            veil_error_prefix("%s", path);
            return -1;
        }
        if (res_n == 0) {
            free(res);
            veil_error("%s: empty audio after resampling %d Hz to %d Hz", path, info.samplerate,
                       target_rate);
            return -1;
        }
        out->samples = res;
        out->n = res_n;
        out->rate = target_rate;
        return 0;
    }
    out->samples = veil_realloc(inter, frames * sizeof *inter);
    out->n = frames;
    out->rate = info.samplerate;
    return 0;
}

void veil_audio_free(veil_audio *a)
{
    if (!a) return;
    free(a->samples);
    a->samples = NULL;
    a->n = 0;
}

int veil_audio_resample(const float *in, size_t n, double in_rate, double out_rate, float **out,
                        size_t *out_n)
{
    *out = NULL;
    *out_n = 0;
    if (!(in_rate > 0) || !(out_rate > 0) || !isfinite(in_rate) || !isfinite(out_rate)) {
        veil_error("resample: bad rates %g Hz -> %g Hz", in_rate, out_rate);
        return -1;
    }
    if (in_rate == out_rate) {
        *out = veil_malloc(n * sizeof **out);
        if (n) memcpy(*out, in, n * sizeof **out);
        *out_n = n;
        return 0;
    }
    /* soxr_oneshot flushes the filter, so the output has round(n * ratio) samples. */
    size_t cap = (size_t)ceil((double)n * out_rate / in_rate) + 16;
    float *buf = veil_malloc(cap * sizeof *buf);
    soxr_io_spec_t io = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I);
    soxr_quality_spec_t q = soxr_quality_spec(SOXR_HQ, 0);
    soxr_runtime_spec_t rt = soxr_runtime_spec(1); /* one thread: same bytes every run */
    size_t done = 0;
    soxr_error_t err = soxr_oneshot(in_rate, out_rate, 1, in, n, NULL, buf, cap, &done, &io, &q, &rt);
    if (err) {
        free(buf);
        veil_error("resample %g Hz -> %g Hz: %s", in_rate, out_rate, soxr_strerror(err));
        return -1;
    }
    *out = veil_realloc(buf, (done ? done : 1) * sizeof *buf);
    *out_n = done;
    return 0;
}

typedef struct {
    const char *path;
    const float *x;
    size_t n;
    int rate;
} wav_job;

static int write_wav_body(FILE *f, void *ctx)
{
    const wav_job *j = ctx;
    SF_INFO info;
    memset(&info, 0, sizeof info);
    info.samplerate = j->rate;
    info.channels = 1;
    info.format = SF_FORMAT_WAV | SF_FORMAT_PCM_16;
    SNDFILE *sf = sf_open_fd(fileno(f), SFM_WRITE, &info, 0);
    if (!sf) {
        veil_error("%s: cannot write WAV: %s", j->path, sf_strerror(NULL));
        return -1;
    }
    /* Our own rounding and clipping, so the bytes do not depend on libsndfile's scaling. */
    short chunk[4096];
    int rc = 0;
    for (size_t i = 0; i < j->n && rc == 0; i += 4096) {
        size_t m = j->n - i < 4096 ? j->n - i : 4096;
        for (size_t k = 0; k < m; k++) {
            float v = j->x[i + k];
            v = v > 1.0f ? 1.0f : v < -1.0f ? -1.0f : v;
            chunk[k] = (short)lrintf(v * 32767.0f);
        }
        if (sf_write_short(sf, chunk, (sf_count_t)m) != (sf_count_t)m) {
            veil_error("%s: cannot write WAV: %s", j->path, sf_strerror(sf));
            rc = -1;
        }
    }
    if (sf_close(sf) != 0 && rc == 0) {
        veil_error("%s: cannot finish WAV", j->path);
        rc = -1;
    }
    return rc;
}

int veil_audio_write_wav16(const char *path, const float *samples, size_t n, int rate)
{
    if (rate < 1) {
        veil_error("%s: bad sample rate %d", path, rate);
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        if (!isfinite(samples[i])) {
            veil_error("%s: non-finite sample at index %zu", path, i);
            return -1;
        }
    wav_job j = {path, samples, n, rate};
    return veil_write_atomic(path, write_wav_body, &j);
}
