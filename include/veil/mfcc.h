/* veil mfcc: the paper's low-level features. 16 kHz audio -> STFT -> power ->
 * mel filterbank -> log -> DCT-II -> first K'' coefficients, grouped into
 * non-overlapping patches of patch_frames x n_mfcc. See docs/mfcc.md for every choice. */
#ifndef VEIL_MFCC_H
#define VEIL_MFCC_H

#include <stddef.h>
#include "veil/export.h"

VEIL_API_BEGIN

typedef enum { VEIL_WINDOW_HAMMING = 0, VEIL_WINDOW_HANN = 1, VEIL_WINDOW_RECT = 2 } veil_window;
typedef enum { VEIL_MEL_HTK = 0, VEIL_MEL_SLANEY = 1 } veil_mel_scale;

typedef struct veil_mfcc_config {
    int sample_rate;      /* 16000 */
    int win_length;       /* 416 samples (26 ms) */
    int hop_length;       /* 208 samples (13 ms) */
    int n_fft;            /* 512 */
    int n_mels;           /* K' = 64 */
    int n_mfcc;           /* K'' = 32 */
    int patch_frames;     /* 32 frames per patch (0.416 s) */
    float f_min, f_max;   /* mel band edges in Hz: 0 .. sample_rate/2 */
    veil_window window;   /* default Hamming */
    veil_mel_scale mel_scale; /* default HTK */
    float log_floor;      /* log(max(mel, log_floor)) */
    float preemphasis;    /* 0 = none */
    int dct_ortho;        /* 1: orthonormal DCT-II */
} veil_mfcc_config;

void veil_mfcc_config_default(veil_mfcc_config *c);
/* Check ranges; message names the bad field. */
int veil_mfcc_config_validate(const veil_mfcc_config *c);
/* Canonical one-line JSON of the settings (for model metadata, cache keys); malloc'd. */
char *veil_mfcc_config_to_json(const veil_mfcc_config *c);
/* Parse the JSON written above (missing fields keep defaults, unknown ones are an error). */
int veil_mfcc_config_from_json(const char *json, veil_mfcc_config *c);

/* Frame and patch counts for n samples: frames start at 0, hop apart, whole windows
 * only; patches are whole groups of patch_frames, a shorter tail is dropped. */
size_t veil_mfcc_num_frames(const veil_mfcc_config *c, size_t n_samples);
size_t veil_mfcc_num_patches(const veil_mfcc_config *c, size_t n_samples);

/* A computer owns FFT plans and buffers; one per thread. */
typedef struct veil_mfcc veil_mfcc;
veil_mfcc *veil_mfcc_new(const veil_mfcc_config *c);
void veil_mfcc_free(veil_mfcc *m);
const veil_mfcc_config *veil_mfcc_config_of(const veil_mfcc *m);
/* One frame of win_length samples -> n_mfcc coefficients. */
void veil_mfcc_frame(veil_mfcc *m, const float *window_samples, float *coeffs);
/* Whole signal -> frames (n_frames x n_mfcc, row-major, malloc'd). */
int veil_mfcc_compute(veil_mfcc *m, const float *x, size_t n, float **frames, size_t *n_frames);
/* Whole signal -> patches (n_patches x patch_frames x n_mfcc, malloc'd; NULL when 0). */
int veil_mfcc_patches(veil_mfcc *m, const float *x, size_t n, float **patches, size_t *n_patches);

/* Streaming, for devices: push any number of samples at a time; frames and patches
 * come out exactly as veil_mfcc_compute/veil_mfcc_patches would give them. */
typedef struct veil_mfcc_stream veil_mfcc_stream;
veil_mfcc_stream *veil_mfcc_stream_new(const veil_mfcc_config *c);
void veil_mfcc_stream_free(veil_mfcc_stream *s);
void veil_mfcc_stream_push(veil_mfcc_stream *s, const float *x, size_t n);
/* Pop the next finished frame (n_mfcc values); returns 1 if one was written, else 0. */
int veil_mfcc_stream_pop_frame(veil_mfcc_stream *s, float *coeffs);
/* Pop the next finished patch (patch_frames x n_mfcc); returns 1 if one was written.
 * Frames feed patches whether or not they were popped as frames. */
int veil_mfcc_stream_pop_patch(veil_mfcc_stream *s, float *patch);
/* Frames are kept until popped (default on); a caller that wants only patches turns this
 * off so memory stays bounded. */
void veil_mfcc_stream_keep_frames(veil_mfcc_stream *s, int keep);

VEIL_API_END

#endif
