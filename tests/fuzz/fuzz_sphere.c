/* An audio file on arbitrary bytes, as TIMIT's NIST SPHERE .WAV files are read: the header
 * checks (rate, channels, length against the file size) and decoding, through
 * veil_audio_duration (corpus loading) and veil_audio_load with resampling to 16 kHz. */
#include "fuzz_util.h"
#include "veil/audio.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_write("sphere/SA1.WAV", data, size);
    const char *p = fuzz_path("sphere/SA1.WAV");
    double seconds;
    if (veil_audio_duration(p, &seconds) != 0) return 0;
    veil_audio a;
    if (veil_audio_load(p, 16000, &a) == 0) veil_audio_free(&a);
    return 0;
}
