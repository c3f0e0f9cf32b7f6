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
/* Columns after row,file,patch,start_seconds with one value per file (a corpus's speaker,
 * gender, utterance, ...), so that the index is a labels file of `veil audit`. */
typedef struct veil_index_labels {
    int n_cols;
    char **names;  /* n_cols */
    char **values; /* n_files x n_cols: file i's at values[i * n_cols] */
} veil_index_labels;
void veil_index_labels_free(veil_index_labels *l, size_t n_files);
/* The same with labels (NULL: none). */
int veil_extract_index_write_labelled(FILE *f, const char *const *files, const size_t *first_row,
                                      const size_t *n_rows, size_t n, double patch_seconds,
                                      const veil_index_labels *labels);

#endif
