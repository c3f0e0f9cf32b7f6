/* veil stream: on-device extraction. Open a model, push mono audio of any length at any
 * sample rate, and receive the features z of every patch as soon as it is complete, and
 * optionally the gender recognizer's posterior. The features are exactly those of
 * `veil extract` on the same audio (docs/library.md). One stream per thread. */
#ifndef VEIL_STREAM_H
#define VEIL_STREAM_H

#include <stddef.h>
#include "veil/export.h"
#include "veil/model.h"
#include "veil/nn.h"

VEIL_API_BEGIN

typedef struct veil_stream veil_stream;

/* One finished patch, valid during the callback only. */
typedef struct veil_stream_patch {
    size_t index;            /* 0, 1, 2, ... since the stream was opened */
    double start_seconds;    /* where the patch starts in the pushed audio */
    const float *z;          /* dim features */
    int dim;
    const float *posterior;  /* n_classes probabilities of the model's gender recognizer g
                              * (class_names order, e.g. F, M); NULL unless asked for */
    int n_classes;
    const char *const *class_names;
} veil_stream_patch;
/* Return 0 to go on; anything else stops the push, which then fails with that code. */
typedef int (*veil_stream_fn)(const veil_stream_patch *p, void *ctx);

typedef struct veil_stream_options {
    int input_rate;          /* rate of the pushed samples; 0 = the model's (no resampling) */
    veil_precision precision;/* VEIL_PREC_FP32 (default), BF16 or AUTO */
    int posterior;           /* 1: run g and fill veil_stream_patch.posterior */
} veil_stream_options;
void veil_stream_options_default(veil_stream_options *o);

/* Load the model file and get ready. NULL with veil_last_error() naming the file and the
 * problem (unreadable model, no gender recognizer when a posterior is asked, bad rate). */
veil_stream *veil_stream_open(const char *model_path, const veil_stream_options *o);
/* n mono samples in [-1, 1] at the input rate; fn is called for each patch completed by
 * them, in order. Returns 0, -1 after veil_error(), or the callback's non-zero code. */
int veil_stream_push(veil_stream *s, const float *x, size_t n, veil_stream_fn fn, void *ctx);
/* End of the audio: drains the resampler, so the last whole patch comes out. The stream
 * then starts over (index 0, time 0) for the next recording. */
int veil_stream_finish(veil_stream *s, veil_stream_fn fn, void *ctx);
const veil_model *veil_stream_model(const veil_stream *s);
int veil_stream_dim(const veil_stream *s);
void veil_stream_close(veil_stream *s);

/* Softmax of n logits into p (both n values; p may be logits). */
void veil_softmax(const float *logits, int n, float *p);

VEIL_API_END

#endif
