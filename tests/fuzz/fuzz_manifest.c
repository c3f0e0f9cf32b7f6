/* The manifest CSV (corpus_manifest.c) through veil_corpus_load, as a user runs it: the
 * input is the CSV; a.wav and b/c.wav exist beside it, so rows can name real audio. */
#include "fuzz_util.h"
#include "veil/corpus.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_wav("m/a.wav");
    fuzz_wav("m/b/c.wav");
    fuzz_write("m/list.csv", data, size);
    veil_corpus *c = NULL;
    if (veil_corpus_load(fuzz_path("m/list.csv"), &c) == 0) veil_corpus_free(c);
    return 0;
}
