/* veil audio: decode any file libsndfile reads, mix to mono, resample (libsoxr). */
#ifndef VEIL_AUDIO_H
#define VEIL_AUDIO_H

#include <stddef.h>

typedef struct veil_audio {
    float *samples; /* mono, in [-1, 1] */
    size_t n;       /* number of samples */
    int rate;       /* sample rate of samples[] */
} veil_audio;

/* Read PATH, mix down to mono and resample to target_rate (high quality) when the file
 * has another rate (target_rate 0 keeps the file's rate). Fails with a message naming the file when it is unreadable,
 * unsupported, empty, or holds non-finite samples. */
int veil_audio_load(const char *path, int target_rate, veil_audio *out);
void veil_audio_free(veil_audio *a);
/* Resample a mono buffer (libsoxr, high quality). *out is malloc'd. */
int veil_audio_resample(const float *in, size_t n, double in_rate, double out_rate, float **out,
                        size_t *out_n);
/* Write mono 16-bit PCM WAV atomically (used by the synthetic corpus and tests). */
int veil_audio_write_wav16(const char *path, const float *samples, size_t n, int rate);

#endif
