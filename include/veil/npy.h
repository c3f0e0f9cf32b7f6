/* veil npy: NumPy .npy files (format 1.0, little-endian float32, C order). */
#ifndef VEIL_NPY_H
#define VEIL_NPY_H

#include <stddef.h>
#include <stdio.h>
#include "veil/export.h"

VEIL_API_BEGIN

/* Write atomically (temporary file, then rename); "-" writes to standard output. ndim 1..4. */
int veil_npy_write_f32(const char *path, const float *data, int ndim, const size_t *shape);
/* The same as a veil_write_fn (common.h) over a veil_npy_array, for a .npy that is one of
 * a set of outputs written all or nothing (veil_write_atomic_set). */
typedef struct veil_npy_array {
    const char *path; /* for messages */
    const float *data;
    int ndim;
    const size_t *shape;
} veil_npy_array;
int veil_npy_write_fn(FILE *f, void *ctx);
/* Read a float32 .npy written by veil or numpy ('<f4', C order). Malformed files get a
 * message naming the file and the problem. *data is malloc'd. */
int veil_npy_read_f32(const char *path, float **data, int *ndim, size_t shape[4]);
/* The same rules on bytes already in memory; name is used in messages. */
int veil_npy_parse_f32(const char *name, const void *bytes, size_t size, float **data, int *ndim,
                       size_t shape[4]);

VEIL_API_END

#endif
