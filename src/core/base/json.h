/* Internal: cJSON helpers shared by the modules that write JSON. */
#ifndef VEIL_JSON_H
#define VEIL_JSON_H

#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

/* One-line JSON of o as a string the caller free()s (our allocator, whatever
 * cJSON's hooks are); aborts with a message when out of memory. Always valid UTF-8: a
 * byte of a string that is not UTF-8 (a Latin-1 name) is written as the character of the
 * same number. */
char *veil_json_print(const cJSON *o);
/* The same, indented (config.json). */
char *veil_json_print_pretty(const cJSON *o);

/* A whole number of the top-level object of JSON text read from its text, exactly (a
 * double cannot hold every 64-bit seed): 0 with *out, 1 when key is absent, -1 when its
 * value is not digits in 0..2^64-1 (shown: the value as written, for the message). The
 * first member of that name, as cJSON takes it. */
int veil_json_member_u64(const char *text, const char *key, uint64_t *out, char *shown, size_t n);

#endif
