/* VCTK's speaker-info.txt (corpus_tables.c) through veil_corpus_load: the input is the
 * table; speaker folders p225 and p226 with one utterance each exist. */
#include "fuzz_util.h"
#include "veil/corpus.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_wav("vctk/wav48/p225/p225_001.wav");
    fuzz_wav("vctk/wav48/p226/p226_001.wav");
    fuzz_write("vctk/speaker-info.txt", data, size);
    veil_corpus *c = NULL;
    if (veil_corpus_load(fuzz_path("vctk"), &c) == 0) veil_corpus_free(c);
    return 0;
}
