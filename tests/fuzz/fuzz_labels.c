/* The labels CSV of `veil audit --features` (veil_audit_load_features, src/audit.c): the
 * input is the CSV; beside it a .npy with one row per non-blank line after the first, so
 * that most inputs reach the row checks (speakers, genders, one-row speakers). */
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "veil/audit.h"
#include "veil/npy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t rows = 0, at = 0;
    int first = 1;
    for (size_t i = 0; i <= size; i++)
        if (i == size || data[i] == '\n') {
            int blank = 1;
            for (size_t k = at; k < i; k++) blank &= data[k] == ' ' || data[k] == '\t' || data[k] == '\r';
            if (!blank && !first) rows++;
            if (!blank) first = 0;
            at = i + 1;
        }
    if (rows == 0) rows = 1;
    if (rows > 4096) rows = 4096;
    size_t shape[2] = {rows, 3};
    float *z = malloc(rows * 3 * sizeof *z);
    for (size_t i = 0; i < rows * 3; i++) z[i] = (float)(i % 7) - 3.0f;
    if (veil_npy_write_f32(fuzz_path("l/x.npy"), z, 2, shape) != 0) abort();
    free(z);
    fuzz_write("l/labels.csv", data, size);
    veil_audit_data *d = NULL;
    if (veil_audit_load_features(fuzz_path("l/x.npy"), fuzz_path("l/labels.csv"), &d) == 0) {
        /* what the loader promises: rows grouped by speaker, every speaker at least 2 */
        if (d->n_speakers < 2 || d->speaker_offset[d->n_speakers] != d->n_rows) abort();
        for (int s = 0; s < d->n_speakers; s++)
            if (d->speaker_offset[s + 1] - d->speaker_offset[s] < 2) abort();
        veil_audit_data_free(d);
    }
    return 0;
}
