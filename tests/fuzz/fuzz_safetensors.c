/* The .safetensors model loader on arbitrary bytes (veil_model_parse: header length, JSON
 * header, metadata, tensor table, data). A valid model builds small fp32 networks. */
#include <stdlib.h>

#include "fuzz_util.h"
#include "veil/common.h"
#include "veil/model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    veil_verbosity = 0;
    veil_model *m = NULL;
    if (veil_model_parse("fuzz.safetensors", data, size, VEIL_PREC_FP32, 2, &m) == 0) veil_model_free(m);
    return 0;
}
