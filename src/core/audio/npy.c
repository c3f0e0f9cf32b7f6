/* NumPy .npy files: format 1.0 written, 1.0-3.0 read; float32 little-endian, C order only. */
#include "veil/npy.h"

#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "veil/common.h"

static const char npy_magic[6] = {'\x93', 'N', 'U', 'M', 'P', 'Y'};

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
#define VEIL_BIG_ENDIAN 1
#else
#define VEIL_BIG_ENDIAN 0
#endif

static uint32_t bswap32(uint32_t v) { return __builtin_bswap32(v); }

typedef struct {
    const char *path;
    const float *data;
    int ndim;
    const size_t *shape;
    size_t count;
} npy_job;

static int write_npy_body(FILE *f, void *ctx)
{
    const npy_job *j = ctx;
    char dict[512];
    int n = snprintf(dict, sizeof dict, "{'descr': '<f4', 'fortran_order': False, 'shape': (");
    for (int d = 0; d < j->ndim; d++)
        n += snprintf(dict + n, sizeof dict - (size_t)n, "%zu,%s", j->shape[d],
                      d + 1 < j->ndim ? " " : "");
    if (j->ndim > 1) n--; /* numpy writes (3,) for one dimension but (3, 4) for more */
    n += snprintf(dict + n, sizeof dict - (size_t)n, "), }");
    /* magic(6) + version(2) + length(2) + dict + spaces + '\n' is a multiple of 64 */
    size_t total = (10 + (size_t)n + 1 + 63) / 64 * 64;
    size_t hlen = total - 10;
    unsigned char pre[10];
    memcpy(pre, npy_magic, 6);
    pre[6] = 1;
    pre[7] = 0;
    pre[8] = (unsigned char)(hlen & 0xff);
    pre[9] = (unsigned char)(hlen >> 8);
    if (fwrite(pre, 1, 10, f) != 10 || fwrite(dict, 1, (size_t)n, f) != (size_t)n) goto fail;
    for (size_t i = (size_t)n; i + 1 < hlen; i++)
        if (fputc(' ', f) == EOF) goto fail;
    if (fputc('\n', f) == EOF) goto fail;
    if (!VEIL_BIG_ENDIAN) {
        if (j->count && fwrite(j->data, sizeof(float), j->count, f) != j->count) goto fail;
    } else {
        for (size_t i = 0; i < j->count; i++) {
            uint32_t v;
            memcpy(&v, j->data + i, 4);
            v = bswap32(v);
            if (fwrite(&v, 4, 1, f) != 1) goto fail;
        }
    }
    return 0;
fail:
    veil_error("%s: write failed", j->path);
    return -1;
}

int veil_npy_write_fn(FILE *f, void *ctx)
{
    const veil_npy_array *a = ctx;
    size_t count = 1;
    if (a->ndim < 1 || a->ndim > 4) {
        veil_error("%s: cannot write a %d-dimensional array (1..4 supported)", a->path, a->ndim);
        return -1;
    }
    for (int d = 0; d < a->ndim; d++) {
        if (a->shape[d] && count > SIZE_MAX / 4 / a->shape[d]) {
            veil_error("%s: array too large", a->path);
            return -1;
        }
        count *= a->shape[d];
    }
    npy_job j = {a->path, a->data, a->ndim, a->shape, count};
    return write_npy_body(f, &j);
}

int veil_npy_write_f32(const char *path, const float *data, int ndim, const size_t *shape)
{
    if (ndim < 1 || ndim > 4) {
        veil_error("%s: cannot write a %d-dimensional array (1..4 supported)", path, ndim);
        return -1;
    }
    size_t count = 1;
    for (int d = 0; d < ndim; d++) {
        if (shape[d] && count > SIZE_MAX / 4 / shape[d]) {
            veil_error("%s: array too large", path);
            return -1;
        }
        count *= shape[d];
    }
    npy_job j = {path, data, ndim, shape, count};
    return veil_write_atomic(path, write_npy_body, &j);
}

/* ---------------- reading: a parser for the header's Python dict literal ---------------- */

typedef struct {
    const char *p, *end;
} cursor;

static void skip_ws(cursor *c)
{
    while (c->p < c->end && isspace((unsigned char)*c->p)) c->p++;
}

static int eat(cursor *c, char ch)
{
    skip_ws(c);
    if (c->p < c->end && *c->p == ch) {
        c->p++;
        return 1;
    }
    return 0;
}

/* 'text' or "text" into out (at most n-1 chars). */
static int parse_str(cursor *c, char *out, size_t n)
{
    skip_ws(c);
    if (c->p >= c->end || (*c->p != '\'' && *c->p != '"')) return -1;
    char q = *c->p++;
    size_t k = 0;
    while (c->p < c->end && *c->p != q) {
        if (k + 1 >= n) return -1;
        out[k++] = *c->p++;
    }
    if (c->p >= c->end) return -1;
    c->p++;
    out[k] = 0;
    return 0;
}

static int parse_word(cursor *c, const char *w)
{
    skip_ws(c);
    size_t n = strlen(w);
    if ((size_t)(c->end - c->p) >= n && !memcmp(c->p, w, n)) {
        c->p += n;
        return 1;
    }
    return 0;
}

/* (d0, d1, ...) with at most 4 dimensions; -1 on bad syntax, -2 on too many dimensions. */
static int parse_shape(cursor *c, size_t shape[4], int *ndim)
{
    if (!eat(c, '(')) return -1;
    int nd = 0;
    for (;;) {
        if (eat(c, ')')) break;
        skip_ws(c);
        if (c->p >= c->end || !isdigit((unsigned char)*c->p)) return -1;
        size_t v = 0;
        while (c->p < c->end && isdigit((unsigned char)*c->p)) {
            size_t digit = (size_t)(*c->p++ - '0');
            if (v > (SIZE_MAX - digit) / 10) return -1;
            v = v * 10 + digit;
        }
        skip_ws(c);
        if (c->p < c->end && *c->p == 'L') c->p++; /* Python 2 longs */
        if (nd == 4) return -2;
        shape[nd++] = v;
        if (eat(c, ',')) continue;
        /* (3584) is a number in Python, not a tuple: one dimension needs its comma */
        if (nd > 1 && eat(c, ')')) break;
        return -1;
    }
    *ndim = nd;
    return 0;
}

int veil_npy_read_f32(const char *path, float **data, int *ndim, size_t shape[4])
{
    *data = NULL;
    char *buf;
    size_t size;
    if (veil_read_file(path, &buf, &size) != 0) return -1;
    int rc = veil_npy_parse_f32(path, buf, size, data, ndim, shape);
    free(buf);
    return rc;
}

int veil_npy_parse_f32(const char *path, const void *bytes, size_t size, float **data, int *ndim, size_t shape[4])
{
    *data = NULL;
    const char *buf = bytes;
    int rc = -1;
    const unsigned char *u = (const unsigned char *)buf;
    if (size < 8 || memcmp(buf, npy_magic, 6) != 0) {
        veil_error("%s: not a .npy file (bad magic)", path);
        goto out;
    }
    size_t hlen, hstart;
    if (u[6] == 1) {
        if (size < 10) goto truncated_header;
        hlen = (size_t)u[8] | (size_t)u[9] << 8;
        hstart = 10;
    } else if (u[6] == 2 || u[6] == 3) {
        if (size < 12) goto truncated_header;
        hlen = (size_t)u[8] | (size_t)u[9] << 8 | (size_t)u[10] << 16 | (size_t)u[11] << 24;
        hstart = 12;
    } else {
        veil_error("%s: unsupported .npy version %d.%d", path, u[6], u[7]);
        goto out;
    }
    if (hlen > size - hstart) goto truncated_header;

    cursor c = {buf + hstart, buf + hstart + hlen};
    char descr[32] = "";
    int have_descr = 0, have_fortran = 0, have_shape = 0, fortran = 0, nd = 0;
    const char *key_at = c.p;
    size_t shp[4] = {0, 0, 0, 0};
    if (!eat(&c, '{')) goto bad_header;
    while (!eat(&c, '}')) {
        char key[32];
        key_at = c.p;
        if (parse_str(&c, key, sizeof key) != 0 || !eat(&c, ':')) goto bad_header;
        if ((!strcmp(key, "descr") && have_descr) || (!strcmp(key, "fortran_order") && have_fortran) ||
            (!strcmp(key, "shape") && have_shape)) {
            veil_error("%s: bad .npy header at byte %zu: key '%s' given twice", path, (size_t)(key_at - buf), key);
            goto out;
        }
        if (!strcmp(key, "descr")) {
            if (parse_str(&c, descr, sizeof descr) != 0) {
                veil_error("%s: unsupported dtype (not a simple type string; expected float32 '<f4')",
                           path);
                goto out;
            }
            have_descr = 1;
        } else if (!strcmp(key, "fortran_order")) {
            if (parse_word(&c, "True")) fortran = 1;
            else if (parse_word(&c, "False")) fortran = 0;
            else goto bad_header;
            have_fortran = 1;
        } else if (!strcmp(key, "shape")) {
            int r = parse_shape(&c, shp, &nd);
            if (r == -2) {
                veil_error("%s: more than 4 dimensions are not supported", path);
                goto out;
            }
            if (r != 0) {
                veil_error("%s: bad .npy header at byte %zu: shape must be a tuple like (3, 4) or (3584,)", path,
                           (size_t)(key_at - buf));
                goto out;
            }
            have_shape = 1;
        } else {
            veil_error("%s: bad .npy header: unexpected key '%s'", path, key);
            goto out;
        }
        if (!eat(&c, ',')) {
            if (!eat(&c, '}')) goto bad_header;
            break;
        }
    }
    skip_ws(&c);
    if (c.p != c.end) goto bad_header;
    if (!have_descr || !have_fortran || !have_shape) {
        veil_error("%s: bad .npy header: missing '%s'", path,
                   !have_descr ? "descr" : !have_fortran ? "fortran_order" : "shape");
        goto out;
    }
    if (strcmp(descr, "<f4") != 0) {
        veil_error("%s: dtype '%s' is not float32 '<f4'", path, descr);
        goto out;
    }
    if (fortran) {
        veil_error("%s: fortran_order True is not supported (C order only)", path);
        goto out;
    }
    if (nd < 1) {
        veil_error("%s: 0-dimensional arrays are not supported", path);
        goto out;
    }
    size_t count = 1;
    for (int d = 0; d < nd; d++) {
        if (shp[d] && count > SIZE_MAX / 4 / shp[d]) {
            veil_error("%s: shape too large", path);
            goto out;
        }
        count *= shp[d];
    }
    size_t have = size - hstart - hlen, want = count * 4;
    if (have < want) {
        veil_error("%s: truncated: expected %zu bytes of data, found %zu", path, want, have);
        goto out;
    }
    if (have > want) {
        veil_error("%s: %zu bytes after the data (expected %zu)", path, have - want, want);
        goto out;
    }
    float *out = veil_malloc(want ? want : 1);
    memcpy(out, buf + hstart + hlen, want);
    if (VEIL_BIG_ENDIAN)
        for (size_t i = 0; i < count; i++) {
            uint32_t v;
            memcpy(&v, out + i, 4);
            v = bswap32(v);
            memcpy(out + i, &v, 4);
        }
    *data = out;
    *ndim = nd;
    for (int d = 0; d < 4; d++) shape[d] = d < nd ? shp[d] : 0;
    rc = 0;
    goto out;
truncated_header:
    veil_error("%s: truncated .npy header", path);
    goto out;
bad_header:
    veil_error("%s: bad .npy header at byte %zu (not a dict with descr, fortran_order, shape)", path,
               (size_t)(c.p - buf));
out:
    return rc;
}
