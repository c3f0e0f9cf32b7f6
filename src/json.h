/* Internal: cJSON helpers shared by the modules that write JSON. */
#ifndef VEIL_JSON_H
#define VEIL_JSON_H

#include <cjson/cJSON.h>

/* One-line JSON of o as a string the caller free()s (our allocator, whatever
 * cJSON's hooks are); aborts with a message when out of memory. Always valid UTF-8: a
 * byte of a string that is not UTF-8 (a Latin-1 name) is written as the character of the
 * same number. */
char *veil_json_print(const cJSON *o);
/* The same, indented (config.json). */
char *veil_json_print_pretty(const cJSON *o);

#endif
