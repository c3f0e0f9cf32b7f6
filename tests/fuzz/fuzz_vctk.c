/* VCTK's speaker-info.txt (corpus_tables.c) through veil_corpus_load: the input is the
 * table; speaker folders p225 and p226 with one utterance each exist. */
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_corpus("vctk/wav48/p225/p225_001.wav", "vctk/wav48/p226/p226_001.wav", "vctk/speaker-info.txt", "vctk", data,
                size);
    return 0;
}
