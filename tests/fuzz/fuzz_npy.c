/* The .npy reader on arbitrary bytes (veil_npy_parse_f32: magic, version, header dict,
 * shape, data length). */
#include <stdlib.h>

#include "fuzz_util.h"
#include "veil/npy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    float *x = NULL;
    int nd;
    size_t shape[4];
    if (veil_npy_parse_f32("fuzz.npy", data, size, &x, &nd, shape) == 0) free(x);
    return 0;
}
