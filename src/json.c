#include "json.h"

#include <stdio.h>
#include <stdlib.h>

#include "veil/common.h"

char *veil_json_print(const cJSON *o)
{
    char *cj = cJSON_PrintUnformatted(o);
    if (!cj) {
        fprintf(stderr, "veil: out of memory printing JSON\n");
        abort();
    }
    char *s = veil_strdup(cj);
    cJSON_free(cj);
    return s;
}
