/* One layer of the engine on plain buffers: the tests compare it with the plain-C
 * reference (nn_ref.c) and check it by finite differences. */
#include <stdlib.h>

#include "nn_layer_test.h"
#include "veil/common.h"

int vd_layer_test_run(const vd_layer_test *t, const float *x, float *y, const float *dy, float *dx)
{
    vd_net net;
    vd_net_init(&net, t->n, t->kind == VD_TEST_BN ? t->train : 1, vd_act_type(t->precision));
    int rc = -1;
    void *arena = NULL;
    int linear = t->kind == VD_TEST_LINEAR;
    int64_t xd[4] = {t->n, t->c, t->h, t->w};
    int nd = linear ? 2 : 4;
    dnnl_memory_desc_t xmd, ymd, amd;
    vd_md_plain(&xmd, nd, xd, dnnl_f32);
    /* the layer's input is in the activation type (BatchNorm and pooling use it as is) */
    vd_md_plain(&amd, nd, xd, t->kind == VD_TEST_BN && t->precision != VEIL_PREC_BF16 ? dnnl_f32 : net.act);
    vd_tensor in, out;
    dnnl_memory_t xu = vd_user(&net, &xmd, (void *)x);
    if (!xu || vd_tensor_new(&net, &amd, 0, &in) || vd_reorder_add(&net, VD_FWD, xu, in.mem)) goto done;
    net.block++;
    switch (t->kind) {
    case VD_TEST_CONV:
    case VD_TEST_CONV_RELU:
        if (vd_conv_build(&net, &in, &t->params[0], &t->params[1], t->kind == VD_TEST_CONV_RELU, &out)) goto done;
        break;
    case VD_TEST_BN:
        if (vd_bn_build(&net, &in, t->params, &out)) goto done;
        break;
    case VD_TEST_POOL:
        if (vd_pool_build(&net, &in, &out)) goto done;
        break;
    case VD_TEST_LINEAR:
        if (vd_linear_build(&net, &in, &t->params[0], &t->params[1], 0, dnnl_f32, &out)) goto done;
        break;
    }
    net.block++;
    const dnnl_memory_desc_t *omd = &out.md;
    vd_md_plain(&ymd, omd->ndims, omd->dims, dnnl_f32);
    dnnl_memory_t yu = vd_user(&net, &ymd, y), dyu = vd_user(&net, &ymd, (void *)dy);
    if (vd_reorder_add(&net, VD_FWD, out.mem, yu)) goto done;
    if (net.train && vd_reorder_add(&net, VD_BWD, dyu, out.dmem)) goto done;
    net.block = 0;
    dnnl_memory_t dxu = vd_user(&net, &xmd, dx);
    if (net.train && dx && vd_reorder_add(&net, VD_BWD, in.dmem, dxu)) goto done;
    net.block = 2;
    vd_net_finalize(&net);
    arena = veil_aligned_alloc(net.bytes ? net.bytes : 64);
    vd_net_bind(&net, arena);
    if (vd_net_run(&net, VD_WSYNC, 1) || vd_net_run(&net, VD_FWD, 1)) goto done;
    if (dy && net.train && vd_net_run(&net, VD_BWD, 1)) goto done;
    rc = 0;
done:
    vd_net_free(&net);
    free(arena);
    return rc;
}

