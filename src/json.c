#include "json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "veil/common.h"

/* Length of the valid UTF-8 sequence at s (1..4), or 0 when it is not one. */
static size_t utf8_len(const unsigned char *s)
{
    if (s[0] < 0x80) return 1;
    size_t n = s[0] >= 0xf0 && s[0] <= 0xf4 ? 4 : s[0] >= 0xe0 ? 3 : s[0] >= 0xc2 && s[0] < 0xe0 ? 2 : 0;
    if (!n || (s[0] >= 0xe0 && n == 4 && s[0] < 0xf0)) return 0;
    for (size_t i = 1; i < n; i++)
        if ((s[i] & 0xc0) != 0x80) return 0;
    if (n == 3 && ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] >= 0xa0))) return 0; /* overlong, surrogate */
    if (n == 4 && ((s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] >= 0x90))) return 0;
    return n;
}

/* cJSON copies string bytes as they are, so a folder name or a Latin-1 manifest can put
 * bytes into the text that are not UTF-8, and the output is then not JSON. Such bytes can
 * only sit inside string literals: each becomes the character of the same number
 * (Latin-1, the usual reason), so the output is valid and the name still readable. */
static char *utf8_only(char *cj)
{
    const unsigned char *s = (const unsigned char *)cj;
    size_t n = strlen(cj), bad = 0;
    for (size_t i = 0; i < n;) {
        size_t k = utf8_len(s + i);
        if (k) i += k;
        else bad++, i++;
    }
    char *out = veil_malloc(n + bad + 1);
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        size_t k = utf8_len(s + i);
        if (k) {
            memcpy(out + o, s + i, k);
            o += k;
            i += k;
        } else {
            out[o++] = (char)(0xc0 | (s[i] >> 6));
            out[o++] = (char)(0x80 | (s[i] & 0x3f));
            i++;
        }
    }
    out[o] = 0;
    return out;
}

static char *finish(char *cj)
{
    if (!cj) {
        fprintf(stderr, "veil: out of memory printing JSON\n");
        abort();
    }
    char *s = utf8_only(cj);
    cJSON_free(cj);
    return s;
}

char *veil_json_print(const cJSON *o) { return finish(cJSON_PrintUnformatted(o)); }
char *veil_json_print_pretty(const cJSON *o) { return finish(cJSON_Print(o)); }
