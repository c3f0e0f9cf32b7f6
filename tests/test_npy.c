/* npy: round trips and every kind of malformed file, each with its own message. */
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "veil/common.h"
#include "veil/npy.h"

static char dir[4096];

/* A version 1.0 file with this header dict (padded to 64 bytes) and n_data bytes of data. */
static void write_raw(const char *path, const char *dict, size_t n_data)
{
    size_t dl = strlen(dict), total = (10 + dl + 1 + 63) / 64 * 64, hlen = total - 10;
    unsigned char *b = calloc(total + n_data + 1, 1);
    memcpy(b, "\x93NUMPY\x01\x00", 8);
    b[8] = (unsigned char)(hlen & 0xff);
    b[9] = (unsigned char)(hlen >> 8);
    memcpy(b + 10, dict, dl);
    memset(b + 10 + dl, ' ', hlen - dl - 1);
    b[total - 1] = '\n';
    for (size_t i = 0; i < n_data; i++) b[total + i] = (unsigned char)i;
    test_write_file(path, b, total + n_data);
    free(b);
}

static void round_trip(int ndim, const size_t *shape)
{
    size_t count = 1;
    for (int d = 0; d < ndim; d++) count *= shape[d];
    float *x = malloc((count + 1) * sizeof *x);
    for (size_t i = 0; i < count; i++) x[i] = (float)i * 0.25f - 3.0f;
    const char *p = test_file("rt.npy");
    CHECK(veil_npy_write_f32(p, x, ndim, shape) == 0);
    char *raw;
    size_t size;
    CHECK(veil_read_file(p, &raw, &size) == 0);
    size_t hlen = (unsigned char)raw[8] | (size_t)(unsigned char)raw[9] << 8;
    CHECK((10 + hlen) % 64 == 0 && raw[9 + hlen] == '\n');
    CHECK(size == 10 + hlen + count * 4);
    CHECK(strstr(raw + 10, "'descr': '<f4'") && strstr(raw + 10, "'fortran_order': False"));
    free(raw);
    float *y = NULL;
    int nd = 0;
    size_t sh[4];
    CHECK(veil_npy_read_f32(p, &y, &nd, sh) == 0);
    CHECK(nd == ndim);
    for (int d = 0; d < ndim && d < nd; d++) CHECK(sh[d] == shape[d]);
    CHECK(y && (count == 0 || !memcmp(x, y, count * sizeof *x)));
    free(y);
    free(x);
}

int main(void)
{
    snprintf(dir, sizeof dir, "%s", test_tmpdir("npy"));
    round_trip(1, (size_t[]){7});
    round_trip(2, (size_t[]){13, 32});
    round_trip(3, (size_t[]){4, 32, 32});
    round_trip(4, (size_t[]){2, 3, 4, 5});
    round_trip(2, (size_t[]){0, 32});
    /* the header text numpy itself would write */
    char *raw;
    size_t n;
    CHECK(veil_read_file(test_file("rt.npy"), &raw, &n) == 0);
    CHECK(strstr(raw + 10, "{'descr': '<f4', 'fortran_order': False, 'shape': (0, 32), }") != NULL);
    free(raw);
    CHECK(veil_npy_write_f32(test_file("one.npy"), (float[]){1.5f}, 1, (size_t[]){1}) == 0);
    CHECK(veil_read_file(test_file("one.npy"), &raw, &n) == 0);
    CHECK(strstr(raw + 10, "'shape': (1,), }") != NULL);
    free(raw);
    CHECK_FAILS_WITH(veil_npy_write_f32(test_file("five.npy"), (float[]){1}, 5, (size_t[]){1, 1, 1, 1, 1}),
                     "5-dimensional");
    CHECK_FAILS_WITH(veil_npy_write_f32(test_file("no/such/dir.npy"), (float[]){1}, 1, (size_t[]){1}),
                     "no/such/dir.npy");

    float *y;
    int nd;
    size_t sh[4];
    const char *p = test_file("bad.npy");
    const char *ok = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
    write_raw(p, ok, 24);
    CHECK(veil_npy_read_f32(p, &y, &nd, sh) == 0 && nd == 2 && sh[0] == 2 && sh[1] == 3);
    free(y);
    /* key order and quoting as other writers may produce them */
    write_raw(p, "{\"shape\": (2,3), \"fortran_order\": False, \"descr\": \"<f4\"}", 24);
    CHECK(veil_npy_read_f32(p, &y, &nd, sh) == 0 && nd == 2 && sh[1] == 3);
    free(y);

    test_write_file(p, "PK\x03\x04 not numpy at all", 22);
    CHECK_FAILS_WITH(veil_npy_read_f32(p, &y, &nd, sh), "bad.npy: not a .npy file (bad magic)");
    test_write_file(p, "\x93NU", 3);
    CHECK_FAILS_WITH(veil_npy_read_f32(p, &y, &nd, sh), "bad magic");
    write_raw(p, ok, 23);
    CHECK_FAILS_WITH(veil_npy_read_f32(p, &y, &nd, sh), "bad.npy: truncated: expected 24 bytes");
    write_raw(p, ok, 28);
    CHECK_FAILS_WITH(veil_npy_read_f32(p, &y, &nd, sh), "4 bytes after the data");
    write_raw(p, "{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }", 48);
    CHECK_FAILS_WITH(veil_npy_read_f32(p, &y, &nd, sh), "dtype '<f8' is not float32 '<f4'");
    write_raw(p, "{'descr': '>f4', 'fortran_order': False, 'shape': (2, 3), }", 24);
    CHECK_FAILS_WITH(veil_npy_read_f32(p, &y, &nd, sh), "dtype '>f4'");
    write_raw(p, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", 24);
    CHECK_FAILS_WITH(veil_npy_read_f32(p, &y, &nd, sh), "fortran_order True is not supported");
    write_raw(p, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), 'extra': 1}", 24);
    CHECK_FAILS_WITH(veil_npy_read_f32(p, &y, &nd, sh), "unexpected key 'extra'");
    write_raw(p, "{'descr': '<f4', 'shape': (2, 3), }", 24);
    CHECK_FAILS_WITH(veil_npy_read_f32(p, &y, &nd, sh), "missing 'fortran_order'");
    write_raw(p, "hello, this is garbage", 24);
    CHECK_FAILS_WITH(veil_npy_read_f32(p, &y, &nd, sh), "bad .npy header");
    write_raw(p, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, x), }", 24);
    CHECK_FAILS_WITH(veil_npy_read_f32(p, &y, &nd, sh), "bad .npy header");
    write_raw(p, "{'descr': '<f4', 'fortran_order': False, 'shape': (1, 1, 1, 1, 1), }", 4);
    CHECK_FAILS_WITH(veil_npy_read_f32(p, &y, &nd, sh), "more than 4 dimensions");
    write_raw(p, "{'descr': '<f4', 'fortran_order': False, 'shape': (), }", 4);
    CHECK_FAILS_WITH(veil_npy_read_f32(p, &y, &nd, sh), "0-dimensional");
    write_raw(p, "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999, 99999999999, 99999999999), }", 4);
    CHECK_FAILS_WITH(veil_npy_read_f32(p, &y, &nd, sh), "shape too large");
    /* header length pointing past the end of the file */
    test_write_file(p, "\x93NUMPY\x01\x00\xff\x7f{'descr'", 17);
    CHECK_FAILS_WITH(veil_npy_read_f32(p, &y, &nd, sh), "truncated .npy header");
    test_write_file(p, "\x93NUMPY\x09\x00\x10\x00", 10);
    CHECK_FAILS_WITH(veil_npy_read_f32(p, &y, &nd, sh), "unsupported .npy version 9.0");
    CHECK_FAILS_WITH(veil_npy_read_f32(test_file("missing.npy"), &y, &nd, sh), "missing.npy");
    /* numpy reads (3584) as a number, not a tuple: refused, naming where */
    write_raw(p, "{'descr': '<f4', 'fortran_order': False, 'shape': (6), }", 24);
    CHECK_FAILS_WITH(veil_npy_read_f32(p, &y, &nd, sh), "shape must be a tuple");
    write_raw(p, "{'descr': '<f4', 'fortran_order': False, 'shape': (6,), }", 24);
    CHECK(veil_npy_read_f32(p, &y, &nd, sh) == 0 && nd == 1 && sh[0] == 6);
    free(y);
    write_raw(p, "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (6,), }", 24);
    CHECK_FAILS_WITH(veil_npy_read_f32(p, &y, &nd, sh), "key 'descr' given twice");
    /* a directory is named as one, not "read error" */
    CHECK_FAILS_WITH(veil_npy_read_f32(dir, &y, &nd, sh), "is a directory");
    return test_finish("test_npy");
}
