/* On-device extraction: libsoxr's streaming resampler -> veil_mfcc_stream -> extractor f
 * (evaluation mode, one patch at a time) -> optionally the gender recognizer g.
 * Resampling in chunks gives the samples soxr_oneshot gives for the whole signal (what
 * veil_audio_load uses), and f sees each patch alone exactly as in a batch, so the
 * features equal `veil extract`'s (tests/shell_install.sh checks it). */
#include "veil/stream.h"

#include <math.h>
#include <soxr.h>
#include <stdlib.h>
#include <string.h>

#include "veil/common.h"
#include "veil/mfcc.h"

#define CHUNK 4096 /* resampler output per call */

struct veil_stream {
    veil_model *model;
    veil_stream_options opt;
    soxr_t soxr;          /* NULL when the input is at the model's rate */
    veil_mfcc_stream *mfcc;
    float *resampled;     /* CHUNK */
    float *patch, *z, *logits, *posterior;
    size_t patches;       /* patches given out since the start */
    int dim;
};

void veil_stream_options_default(veil_stream_options *o)
{
    memset(o, 0, sizeof *o);
    o->precision = VEIL_PREC_FP32;
}

void veil_softmax(const float *logits, int n, float *p)
{
    float mx = logits[0];
    for (int i = 1; i < n; i++) mx = logits[i] > mx ? logits[i] : mx;
    double sum = 0;
    for (int i = 0; i < n; i++) sum += exp((double)logits[i] - mx);
    for (int i = 0; i < n; i++) p[i] = (float)(exp((double)logits[i] - mx) / sum);
}

static int soxr_start(veil_stream *s)
{
    if (s->opt.input_rate == s->model->mfcc.sample_rate) return 0;
    soxr_error_t err = NULL;
    /* the same specifications as veil_audio_resample */
    soxr_io_spec_t io = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I);
    soxr_quality_spec_t q = soxr_quality_spec(SOXR_HQ, 0);
    soxr_runtime_spec_t rt = soxr_runtime_spec(1);
    s->soxr = soxr_create(s->opt.input_rate, s->model->mfcc.sample_rate, 1, &err, &io, &q, &rt);
    if (err) {
        veil_error("resample %d Hz -> %d Hz: %s", s->opt.input_rate, s->model->mfcc.sample_rate,
                   soxr_strerror(err));
        return -1;
    }
    return 0;
}

veil_stream *veil_stream_open(const char *model_path, const veil_stream_options *o)
{
    veil_stream_options def;
    veil_stream_options_default(&def);
    veil_stream *s = veil_calloc(1, sizeof *s);
    s->opt = o ? *o : def;
    if (veil_model_load(model_path, s->opt.precision, 1, &s->model)) goto fail;
    const veil_mfcc_config *mc = &s->model->mfcc;
    const veil_extractor_config *ac = veil_extractor_config_of(s->model->f);
    if (ac->in_h != mc->patch_frames || ac->in_w != mc->n_mfcc) {
        veil_error("%s: extractor input %dx%d does not match its MFCC patches %dx%d", model_path,
                   ac->in_h, ac->in_w, mc->patch_frames, mc->n_mfcc);
        goto fail;
    }
    if (s->opt.posterior && !s->model->g) {
        veil_error("%s: the model has no gender recognizer g, so no posterior", model_path);
        goto fail;
    }
    if (s->opt.input_rate == 0) s->opt.input_rate = mc->sample_rate;
    if (s->opt.input_rate < 1000 || s->opt.input_rate > 1000000) {
        veil_error("stream: input rate %d Hz is out of range (1000..1000000)", s->opt.input_rate);
        goto fail;
    }
    if (soxr_start(s)) goto fail;
    s->mfcc = veil_mfcc_stream_new(mc);
    if (!s->mfcc) goto fail;
    veil_mfcc_stream_keep_frames(s->mfcc, 0);
    s->dim = veil_extractor_dim(s->model->f);
    s->resampled = veil_malloc(CHUNK * sizeof(float));
    s->patch = veil_malloc((size_t)mc->patch_frames * mc->n_mfcc * sizeof(float));
    s->z = veil_malloc((size_t)s->dim * sizeof(float));
    if (s->model->g) {
        int k = s->model->n_classes;
        s->logits = veil_malloc((size_t)k * sizeof(float));
        s->posterior = veil_malloc((size_t)k * sizeof(float));
    }
    return s;
fail:
    veil_error_prefix("stream");
    veil_stream_close(s);
    return NULL;
}

/* Every patch the MFCC stream has finished, through f (and g). */
static int drain_patches(veil_stream *s, veil_stream_fn fn, void *ctx)
{
    const veil_mfcc_config *mc = &s->model->mfcc;
    while (veil_mfcc_stream_pop_patch(s->mfcc, s->patch)) {
        if (veil_extractor_forward(s->model->f, s->patch, 1, 0, s->z) ||
            veil_extractor_check_output(s->model->f, s->z, 1, "stream"))
            return -1;
        veil_stream_patch p = {
            .index = s->patches,
            .start_seconds = (double)s->patches * mc->patch_frames * mc->hop_length / mc->sample_rate,
            .z = s->z,
            .dim = s->dim,
        };
        if (s->opt.posterior) {
            if (veil_head_forward(s->model->g, s->z, 1, 0, s->logits) ||
                veil_head_check_output(s->model->g, s->logits, 1, "stream"))
                return -1;
            veil_softmax(s->logits, s->model->n_classes, s->posterior);
            p.posterior = s->posterior;
            p.n_classes = s->model->n_classes;
            p.class_names = (const char *const *)s->model->class_names;
        }
        s->patches++;
        if (fn) {
            int rc = fn(&p, ctx);
            if (rc) return rc;
        }
    }
    return 0;
}

/* Resample n samples (x NULL: flush) into the MFCC stream, handing out finished patches. */
static int resample_push(veil_stream *s, const float *x, size_t n, veil_stream_fn fn, void *ctx)
{
    for (;;) {
        size_t idone = 0, odone = 0;
        soxr_error_t err = soxr_process(s->soxr, x, x ? n : 0, x ? &idone : NULL, s->resampled, CHUNK, &odone);
        if (err) {
            veil_error("stream: resampling: %s", soxr_strerror(err));
            return -1;
        }
        veil_mfcc_stream_push(s->mfcc, s->resampled, odone);
        int rc = drain_patches(s, fn, ctx);
        if (rc) return rc;
        if (x) {
            x += idone;
            n -= idone;
            if (n == 0 && odone < CHUNK) return 0;
        } else if (odone == 0) {
            return 0;
        }
    }
}

int veil_stream_push(veil_stream *s, const float *x, size_t n, veil_stream_fn fn, void *ctx)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i])) {
            veil_error("stream: sample %zu of this push is not a finite number", i);
            return -1;
        }
    if (!s->soxr) {
        veil_mfcc_stream_push(s->mfcc, x, n);
        return drain_patches(s, fn, ctx);
    }
    return n ? resample_push(s, x, n, fn, ctx) : 0;
}

int veil_stream_finish(veil_stream *s, veil_stream_fn fn, void *ctx)
{
    int rc = s->soxr ? resample_push(s, NULL, 0, fn, ctx) : 0;
    /* start over: a fresh resampler and MFCC stream for the next recording */
    if (s->soxr) {
        soxr_delete(s->soxr);
        s->soxr = NULL;
        if (soxr_start(s)) return -1;
    }
    veil_mfcc_stream_free(s->mfcc);
    s->mfcc = veil_mfcc_stream_new(&s->model->mfcc);
    if (!s->mfcc) return -1;
    veil_mfcc_stream_keep_frames(s->mfcc, 0);
    s->patches = 0;
    return rc;
}

const veil_model *veil_stream_model(const veil_stream *s) { return s->model; }
int veil_stream_dim(const veil_stream *s) { return s->dim; }

void veil_stream_close(veil_stream *s)
{
    if (!s) return;
    if (s->soxr) soxr_delete(s->soxr);
    veil_mfcc_stream_free(s->mfcc);
    veil_model_free(s->model);
    free(s->resampled), free(s->patch), free(s->z), free(s->logits), free(s->posterior);
    free(s);
}
