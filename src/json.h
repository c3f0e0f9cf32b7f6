/* Internal: cJSON helpers shared by the modules that write JSON. */
#ifndef VEIL_JSON_H
#define VEIL_JSON_H

#include <cjson/cJSON.h>

/* One-line JSON of o as a string the caller free()s (our allocator, whatever
 * cJSON's hooks are); aborts with a message when out of memory. */
char *veil_json_print(const cJSON *o);

#endif
