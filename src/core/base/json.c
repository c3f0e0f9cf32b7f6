#include "json.h"

#include <errno.h>
#include <stdint.h>
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

/* ---- one member of the top-level object, as text ---- */
static const char *skip_ws(const char *p)
{
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r') p++;
    return p;
}

/* Past a JSON string starting at p (at its quote); NULL when unterminated. */
static const char *skip_string(const char *p)
{
    for (p++; *p; p++) {
        if (*p == '\\') {
            if (!*++p) return NULL;
        } else if (*p == '"') return p + 1;
    }
    return NULL;
}

/* Past one JSON value at p (not checked for validity: cJSON has parsed it already). */
static const char *skip_value(const char *p)
{
    if (*p == '"') return skip_string(p);
    if (*p == '{' || *p == '[') {
        int depth = 0;
        for (; *p; p++) {
            if (*p == '"') {
                p = skip_string(p);
                if (!p) return NULL;
                p--;
            } else if (*p == '{' || *p == '[') depth++;
            else if (*p == '}' || *p == ']') {
                if (--depth == 0) return p + 1;
            }
        }
        return NULL;
    }
    while (*p && *p != ',' && *p != '}' && *p != ']' && *p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') p++;
    return p;
}

int veil_json_member_u64(const char *text, const char *key, uint64_t *out, char *shown, size_t n)
{
    if (shown && n) shown[0] = 0;
    const char *p = skip_ws(text);
    if (*p != '{') return 1;
    p = skip_ws(p + 1);
    size_t klen = strlen(key);
    while (*p == '"') {
        const char *k = p + 1, *end = skip_string(p);
        if (!end) return 1;
        int match = (size_t)(end - 1 - k) == klen && !memcmp(k, key, klen);
        p = skip_ws(end);
        if (*p != ':') return 1;
        p = skip_ws(p + 1);
        const char *v = p;
        p = skip_value(p);
        if (!p) return 1;
        if (match) {
            size_t len = (size_t)(p - v);
            if (shown && n) snprintf(shown, n, "%.*s", (int)(len < 60 ? len : 60), v);
            /* digits only: no sign, fraction or exponent, and no more than 2^64 - 1 */
            if (len == 0 || len > 20 || strspn(v, "0123456789") != len || (len > 1 && v[0] == '0')) return -1;
            char buf[24];
            memcpy(buf, v, len);
            buf[len] = 0;
            errno = 0;
            unsigned long long x = strtoull(buf, NULL, 10);
            if (errno == ERANGE) return -1;
            *out = (uint64_t)x;
            return 0;
        }
        p = skip_ws(p);
        if (*p != ',') return 1;
        p = skip_ws(p + 1);
    }
    return 1;
}
