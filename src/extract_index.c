#include "extract_index.h"

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
    fprintf(f, "row,file,patch,start_seconds\n");
    for (size_t i = 0; i < n; i++)
        for (size_t k = 0; k < n_rows[i]; k++) {
            fprintf(f, "%zu,", first_row[i] + k);
            veil_csv_put_field(f, files[i]);
            fprintf(f, ",%zu,%.3f\n", k, (double)k * patch_seconds);
        }
    return ferror(f) ? -1 : 0;
}
