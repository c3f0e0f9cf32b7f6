#include "extract_index.h"

#include <stdlib.h>
#include <string.h>

void veil_csv_put_field(FILE *f, const char *s)
{
    size_t n = strlen(s);
    int quote = strpbrk(s, ",\"\r\n") != NULL || (n && (s[0] == ' ' || s[0] == '\t' || s[n - 1] == ' ' ||
                                                       s[n - 1] == '\t'));
    if (!quote) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (const char *c = s; *c; c++) {
        if (*c == '"') fputc('"', f);
        fputc(*c, f);
    }
    fputc('"', f);
}

int veil_extract_index_write(FILE *f, const char *const *files, const size_t *first_row,
                             const size_t *n_rows, size_t n, double patch_seconds)
{
    return veil_extract_index_write_labelled(f, files, first_row, n_rows, n, patch_seconds, NULL);
}

int veil_extract_index_write_labelled(FILE *f, const char *const *files, const size_t *first_row,
                                      const size_t *n_rows, size_t n, double patch_seconds,
                                      const veil_index_labels *labels)
{
    int nc = labels ? labels->n_cols : 0;
    fprintf(f, "row,file,patch,start_seconds");
    for (int c = 0; c < nc; c++) {
        fputc(',', f);
        veil_csv_put_field(f, labels->names[c]);
    }
    fputc('\n', f);
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < n_rows[i]; k++) {
            fprintf(f, "%zu,", first_row[i] + k);
            veil_csv_put_field(f, files[i]);
            fprintf(f, ",%zu,%.3f", k, (double)k * patch_seconds);
            for (int c = 0; c < nc; c++) {
                fputc(',', f);
                veil_csv_put_field(f, labels->values[i * (size_t)nc + (size_t)c]);
            }
            fputc('\n', f);
        }
    return ferror(f) ? -1 : 0;
}

void veil_index_labels_free(veil_index_labels *l, size_t n_files)
{
    if (!l) return;
    for (int c = 0; c < l->n_cols; c++) free(l->names ? l->names[c] : NULL);
    for (size_t i = 0; l->values && i < n_files * (size_t)l->n_cols; i++) free(l->values[i]);
    free(l->names);
    free(l->values);
    l->names = l->values = NULL;
    l->n_cols = 0;
}
