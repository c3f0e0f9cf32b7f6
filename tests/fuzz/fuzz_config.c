/* config.json as resume and --report-only read it (veil_config_json_check in
 * src/results.c): JSON, then the fields the results are checked against. */
#include <stdlib.h>

#include "fuzz_util.h"
#include "veil/report.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_string(data, size);
    veil_results_rules rules;
    if (veil_config_json_check("fuzz/config.json", text, &rules) == 0) {
        if (rules.cv < 1 || rules.precision == VEIL_PREC_AUTO) abort(); /* accepted but unusable */
        veil_results_rules_free(&rules);
    }
    free(text);
    return 0;
}
