/* LibriSpeech's SPEAKERS.TXT (corpus_tables.c) through veil_corpus_load: the input is the
 * table; speaker folders 19 and 26 with one chapter and one utterance each exist. */
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_corpus("ls/train-clean-100/19/198/19-198-0001.wav", "ls/train-clean-100/26/495/26-495-0001.wav",
                "ls/SPEAKERS.TXT", "ls", data, size);
    return 0;
}
