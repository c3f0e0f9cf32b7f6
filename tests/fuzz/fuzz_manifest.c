/* The manifest CSV (corpus_manifest.c) through veil_corpus_load, as a user runs it: the
 * input is the CSV; a.wav and b/c.wav exist beside it, so rows can name real audio. */
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_corpus("m/a.wav", "m/b/c.wav", "m/list.csv", "m/list.csv", data, size);
    return 0;
}
