/* results.jsonl as resume and the report read it (src/results.c): every line validated,
 * duplicates refused, a torn tail reported; the rules are a grid with cv 3, seed 3 and fp32,
 * so that valid seeds can be reached (the committed seeds carry them). */
#include <stdlib.h>

#include "fuzz_util.h"
#include "veil/common.h"
#include "veil/report.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    veil_verbosity = 0;
    char *text = fuzz_string(data, size);
    veil_results_rules rules = {3, 1, 3, 1, VEIL_PREC_FP32, NULL};
    veil_job_result *r = NULL;
    size_t n = 0, good = 0;
    int torn = 0;
    if (veil_results_parse("fuzz.jsonl", text, size, (size & 1) ? &rules : NULL, &r, &n, &good, &torn) == 0) {
        if (good > size) abort(); /* the writer would cut past the end */
        veil_summary s;
        if (veil_summary_make(r, n, &s) == 0) {
            char *t = veil_summary_table(&s);
            free(t);
            veil_summary_free(&s);
        }
        veil_results_free(r, n);
    }
    free(text);
    return 0;
}
