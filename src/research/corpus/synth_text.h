/* Sentences for the synthetic corpus: two fixed sentences every speaker reads (like
 * TIMIT's SA1/SA2) and random sentences of a requested length from a small grammar. */
#ifndef VEIL_SYNTH_TEXT_H
#define VEIL_SYNTH_TEXT_H

#include <stddef.h>

#include "veil/common.h"

#define SYNTH_SHARED_SENTENCES 2
#define SYNTH_MIN_WORDS 3
#define SYNTH_MAX_WORDS 24

/* The i-th shared sentence (i < SYNTH_SHARED_SENTENCES) and its number of words. */
const char *synth_shared_sentence(int i);
int synth_shared_words(int i);

/* A sentence of exactly `words` words (clamped to SYNTH_MIN_WORDS..SYNTH_MAX_WORDS), drawn
 * from rng, written NUL-terminated into buf (cap >= 512 is always enough). Returns the
 * number of words written. */
int synth_sentence(veil_rng *rng, int words, char *buf, size_t cap);

/* Number of space-separated words in s. */
int synth_count_words(const char *s);

#endif
