/* The index `veil extract` writes (row,file,patch,start_seconds; src/extract_index.c) read
 * back by the CSV reader of the labels and manifests (corpus_csv_each): the input's
 * NUL-separated byte strings are file names (any byte but NUL, as a path can hold); each
 * must come back as written, on its rows, whatever it holds (commas, quotes, line breaks,
 * blanks at either end). A mismatch aborts. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "research/corpus/corpus_internal.h"
#include "core/model/extract_index.h"
#include "fuzz_util.h"

typedef struct {
    char **names;
    size_t n, row, file, patch;
    int header;
} check_ctx;

static int check_row(void *vctx, const char *const *f, int n, int line)
{
    check_ctx *c = vctx;
    (void)line;
    if (!c->header) {
        if (n != 4 || strcmp(f[0], "row") || strcmp(f[1], "file")) abort();
        c->header = 1;
        return 0;
    }
    if (n != 4 || c->file >= c->n) abort();
    char want[32];
    snprintf(want, sizeof want, "%zu", c->row);
    if (strcmp(f[0], want) || strcmp(f[1], c->names[c->file])) {
        fprintf(stderr, "index row %zu: file '%s', written '%s'\n", c->row, f[1], c->names[c->file]);
        abort();
    }
    c->row++;
    /* file i has 1 + i % 3 rows */
    if (++c->patch == 1 + c->file % 3) c->patch = 0, c->file++;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_ctx c = {0};
    c.names = calloc(size + 1, sizeof *c.names);
    for (size_t i = 0, at = 0; i <= size && c.n < 256; i++)
        if (i == size || data[i] == 0) {
            if (i > at) { /* an empty name is no path */
                c.names[c.n] = malloc(i - at + 1);
                memcpy(c.names[c.n], data + at, i - at);
                c.names[c.n++][i - at] = 0;
            }
            at = i + 1;
        }
    size_t *first = calloc(c.n + 1, sizeof *first), *rows = calloc(c.n + 1, sizeof *rows), total = 0;
    for (size_t i = 0; i < c.n; i++) first[i] = total, rows[i] = 1 + i % 3, total += rows[i];
    FILE *f = fopen(fuzz_path("i/x.index.csv"), "wb");
    if (!f || veil_extract_index_write(f, (const char *const *)c.names, first, rows, c.n, 0.416) != 0) abort();
    fclose(f);
    if (corpus_csv_each(fuzz_path("i/x.index.csv"), check_row, &c) != 0 || c.file != c.n) {
        fprintf(stderr, "index of %zu files: read back %zu\n", c.n, c.file);
        abort();
    }
    for (size_t i = 0; i < c.n; i++) free(c.names[i]);
    free(c.names);
    free(first);
    free(rows);
    return 0;
}
