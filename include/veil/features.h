/* veil features: the MFCC patches of a whole corpus, computed once in parallel over
 * files and cached on disk, keyed by the MFCC settings and the file list. */
#ifndef VEIL_FEATURES_H
#define VEIL_FEATURES_H

#include <stddef.h>
#include <stdint.h>
#include "veil/corpus.h"
#include "veil/mfcc.h"

typedef struct veil_patch_set {
    veil_mfcc_config mfcc;
    int patch_h, patch_w;   /* patch_frames x n_mfcc: 32 x 32 */
    int n_speakers;         /* == corpus->n_speakers, same order */
    size_t *speaker_offset; /* n_speakers + 1: patches of speaker s are [offset[s], offset[s+1]) */
    int32_t *patch_utt;     /* utterance index of each patch */
    size_t n_patches;
    float *patches;         /* n_patches x patch_h x patch_w, row-major (frames x coeffs) */
    /* how the set was obtained, for reports */
    int n_utts;             /* == corpus->n_utts */
    int n_short_utts;       /* utterances shorter than one patch (they give no patches) */
    int from_cache;         /* 1: read from the cache file; 0: computed now */
    char *cache_path;       /* cache file read or written; NULL when none could be used */
    double seconds;         /* wall time of veil_features_load */
} veil_patch_set;

/* Patch i of the set. */
static inline const float *veil_patch(const veil_patch_set *p, size_t i)
{
    return p->patches + i * (size_t)p->patch_h * (size_t)p->patch_w;
}
static inline size_t veil_speaker_patches(const veil_patch_set *p, int s)
{
    return p->speaker_offset[s + 1] - p->speaker_offset[s];
}

/* Load the cached patches of corpus C, or compute and cache them. cache_dir NULL
 * means the default (<corpus root>/.veil-cache if writable, else $XDG_CACHE_HOME/veil
 * or ~/.cache/veil). threads 0 = all cores. A stale or damaged cache is recomputed;
 * a cache that cannot be written is only a warning. See docs/corpora.md. */
int veil_features_load(const veil_corpus *c, const veil_mfcc_config *m, const char *cache_dir,
                       int threads, veil_patch_set **out);
void veil_patch_set_free(veil_patch_set *p);

#endif
