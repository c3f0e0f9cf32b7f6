/* Internal: the index `veil extract` writes beside its array (row,file,patch,start_seconds),
 * in the core so that its fuzz harness (tests/fuzz/fuzz_index.c) writes it with the same
 * code and reads it back with the labels reader. */
#ifndef VEIL_EXTRACT_INDEX_H
#define VEIL_EXTRACT_INDEX_H

#include <stddef.h>
#include <stdio.h>

/* One CSV field (RFC 4180): quoted when it holds a comma, a quote or a line break, or
 * begins or ends with a blank (a reader trims unquoted blanks), so it reads back as is. */
void veil_csv_put_field(FILE *f, const char *s);
/* Header and one line per row: file i has rows first_row[i] .. + n_rows[i], patch k of it
 * starting at k * patch_seconds. -1 on a write error (ferror). */
int veil_extract_index_write(FILE *f, const char *const *files, const size_t *first_row,
                             const size_t *n_rows, size_t n, double patch_seconds);

#endif
