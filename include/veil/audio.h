/* veil audio: decode any file libsndfile reads, mix to mono, resample (libsoxr). */
#ifndef VEIL_AUDIO_H
#define VEIL_AUDIO_H

#include <stddef.h>
#include "veil/export.h"

VEIL_API_BEGIN

typedef struct veil_audio {
    float *samples; /* mono, in [-1, 1] */
    size_t n;       /* number of samples */
    int rate;       /* sample rate of samples[] */
} veil_audio;

/* What a readable audio file may declare: outside these it is refused, named, before
 * decoding (a 1 Hz header would make 100 KB into hours to resample). Compressed formats
 * (FLAC, Ogg) hold far more samples per byte than PCM, hence the generous ratio. */
enum {
    VEIL_AUDIO_MIN_RATE = 1000,
    VEIL_AUDIO_MAX_RATE = 384000,
    VEIL_AUDIO_MAX_CHANNELS = 64,
    VEIL_AUDIO_MAX_SAMPLES_PER_BYTE = 4096,
};

/* Read PATH, mix down to mono and resample to target_rate (high quality) when the file
 * has another rate (target_rate 0 keeps the file's rate). Only a regular file, or - for
 * standard input. Fails with a message naming the file when it is unreadable, not a
 * regular file, unsupported, declares a rate or length outside the limits above, is
 * empty, or holds non-finite samples. */
int veil_audio_load(const char *path, int target_rate, veil_audio *out);
void veil_audio_free(veil_audio *a);
/* The duration the header of PATH declares, with the same checks as veil_audio_load. */
int veil_audio_duration(const char *path, double *seconds);
/* Resample a mono buffer (libsoxr, high quality). *out is malloc'd. */
int veil_audio_resample(const float *in, size_t n, double in_rate, double out_rate, float **out,
                        size_t *out_n);
/* Write mono 16-bit PCM WAV atomically (used by the synthetic corpus and tests). */
int veil_audio_write_wav16(const char *path, const float *samples, size_t n, int rate);

VEIL_API_END

#endif
