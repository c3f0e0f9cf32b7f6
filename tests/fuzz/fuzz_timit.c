/* The TIMIT loader (corpus_dirs.c) reads no text file: speaker, gender and dialect region
 * come from folder names. So the input is a folder tree: one relative path per line (at
 * most 8 lines; bytes other than letters, digits, '_', '-', '.', '/' dropped; no "..";
 * empty components dropped), each created as a small WAV, then veil_corpus_load. */
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "veil/corpus.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_remove("timit");
    char *text = fuzz_string(data, size > 2048 ? 2048 : size);
    int files = 0;
    for (char *line = text, *next; line && files < 8; line = next) {
        next = strchr(line, '\n');
        if (next) *next++ = 0;
        char rel[512] = "timit/", *o = rel + 6;
        for (const char *p = line; *p && o < rel + sizeof rel - 1; p++) {
            char ch = *p;
            int ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_' ||
                     ch == '-' || ch == '.' || ch == '/';
            if (!ok || (ch == '/' && o[-1] == '/')) continue;
            if (ch == '.' && o[-1] == '/') continue; /* no "." or ".." components, no hidden names */
            *o++ = ch;
        }
        *o = 0;
        size_t n = strlen(rel);
        if (n <= 6 || rel[n - 1] == '/') continue;
        fuzz_wav(rel);
        files++;
    }
    free(text);
    veil_corpus *c = NULL;
    if (veil_corpus_load(fuzz_path("timit"), &c) == 0) veil_corpus_free(c);
    return 0;
}
