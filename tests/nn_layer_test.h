/* One layer of the engine on plain buffers, for the tests (tests/nn_layer_test.c). */
#ifndef VEIL_NN_LAYER_TEST_H
#define VEIL_NN_LAYER_TEST_H

#include "core/nn/nn_dnnl.h"

/* Plain NCHW / [n][in] float buffers. */
typedef enum { VD_TEST_CONV, VD_TEST_CONV_RELU, VD_TEST_BN, VD_TEST_POOL, VD_TEST_LINEAR } vd_test_kind;
typedef struct vd_layer_test {
    vd_test_kind kind;
    veil_precision precision;
    int n, c, h, w;     /* input shape (linear: c = in features, h = w = 1) */
    int train;          /* BatchNorm: batch statistics (1) or running ones (0) */
    veil_param *params; /* conv/linear: weight, bias; BatchNorm: weight, bias, mean, var */
} vd_layer_test;
/* y: forward output; with dy, backward: dx (may be NULL) and the params' grads. */
int vd_layer_test_run(const vd_layer_test *t, const float *x, float *y, const float *dy, float *dx);

#endif
