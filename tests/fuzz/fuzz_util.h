/* Shared by the fuzz harnesses (tests/fuzz/fuzz_*.c): a private scratch folder for the
 * loaders that read files by path, and small fixtures. Every harness is built twice: with
 * replay.c by the normal build (make test replays the committed inputs), and with clang's
 * libFuzzer by make fuzz. */
#ifndef VEIL_FUZZ_UTIL_H
#define VEIL_FUZZ_UTIL_H

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
/* A folder of this process, removed at exit. */
const char *fuzz_dir(void);
/* fuzz_dir()/rel, parents created; a static buffer (one of 4 in rotation). */
const char *fuzz_path(const char *rel);
void fuzz_write(const char *rel, const void *data, size_t n);
/* A 0.1 s mono 16 kHz WAV at rel (once per process; later calls keep the file). */
void fuzz_wav(const char *rel);
/* A corpus of the layout whose table (or manifest) is the input: the two utterances wav_a
 * and wav_b exist, the input is written to table, and veil_corpus_load reads load. */
void fuzz_corpus(const char *wav_a, const char *wav_b, const char *table, const char *load, const uint8_t *data,
                 size_t size);
/* rm -rf fuzz_dir()/rel */
void fuzz_remove(const char *rel);
/* bytes as a NUL-terminated string (malloc'd) */
char *fuzz_string(const uint8_t *data, size_t size);

#endif
