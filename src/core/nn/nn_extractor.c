/* The extractor f: G groups of BatchNorm -> 3 x (conv 'same' + ReLU) -> max-pool 2x2.
 * Each layer's builder appends its forward steps and, for a training net, its
 * backward steps right beside them (nn_dnnl.h explains nets and the arena).
 * Layouts are oneDNN's choice (format_tag_any); reorders happen only where a
 * primitive wants another layout, at the input and at the flattened output. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn_dnnl.h"

/* ---------------- BatchNorm2d ---------------- */
typedef struct bn_ctx {
    dnnl_memory_t mean, var;
    float *run_mean, *run_var;
    int c;
    double count; /* values per channel: n*h*w */
} bn_ctx;

/* PyTorch's running statistics: unbiased batch variance, momentum VEIL_BN_MOMENTUM. */
static void bn_update_running(void *p, int list)
{
    (void)list;
    bn_ctx *b = p;
    float *mean = NULL, *var = NULL;
    dnnl_memory_get_data_handle(b->mean, (void **)&mean);
    dnnl_memory_get_data_handle(b->var, (void **)&var);
    double unbias = b->count > 1 ? b->count / (b->count - 1) : 1.0;
    for (int i = 0; i < b->c; i++) {
        b->run_mean[i] = (1 - VEIL_BN_MOMENTUM) * b->run_mean[i] + VEIL_BN_MOMENTUM * mean[i];
        b->run_var[i] = (float)((1 - VEIL_BN_MOMENTUM) * b->run_var[i] + VEIL_BN_MOMENTUM * var[i] * unbias);
    }
}

/* bn4: weight, bias, running_mean, running_var. Computes in the input's layout and type
 * (statistics and scale/shift are fp32 in every precision). */
int vd_bn_build(vd_net *net, vd_tensor *in, veil_param *bn4, vd_tensor *out)
{
    int64_t c = in->md.dims[1];
    dnnl_memory_desc_t cmd;
    vd_md_plain(&cmd, 1, &c, dnnl_f32);
    unsigned flags = dnnl_use_scale | dnnl_use_shift | (net->train ? 0 : dnnl_use_global_stats);
    dnnl_batch_normalization_desc_t d;
    if (vd_check(dnnl_batch_normalization_forward_desc_init(
                     &d, net->train ? dnnl_forward_training : dnnl_forward_inference, &in->md,
                     VEIL_BN_EPS, flags),
                 "batch norm forward"))
        return -1;
    dnnl_primitive_desc_t pd;
    dnnl_primitive_t fwd = vd_prim(net, &pd, &d, NULL, NULL, "batch norm forward");
    if (!fwd || vd_tensor_new(net, &in->md, in->chain + 1, out)) return -1;
    dnnl_memory_t scale = vd_user(net, &cmd, bn4[0].data), shift = vd_user(net, &cmd, bn4[1].data);
    dnnl_memory_t mean, var;
    if (net->train) {
        mean = vd_mem(net, &cmd, VD_SEQ);
        var = vd_mem(net, &cmd, VD_SEQ);
    } else {
        mean = vd_user(net, &cmd, bn4[2].data);
        var = vd_user(net, &cmd, bn4[3].data);
    }
    dnnl_exec_arg_t fa[] = {{DNNL_ARG_SRC, in->mem},     {DNNL_ARG_DST, out->mem},
                            {DNNL_ARG_SCALE, scale},     {DNNL_ARG_SHIFT, shift},
                            {DNNL_ARG_MEAN, mean},       {DNNL_ARG_VARIANCE, var}};
    if (vd_step_add(net, VD_FWD, fwd, 6, fa)) return -1;
    if (!net->train) return 0;

    bn_ctx *b = vd_own(net, sizeof *b);
    *b = (bn_ctx){mean, var, bn4[2].data, bn4[3].data, (int)c,
                  (double)net->n * in->md.dims[2] * in->md.dims[3]};
    if (vd_fn_add(net, VD_FWD, bn_update_running, b)) return -1;

    dnnl_batch_normalization_desc_t bd;
    if (vd_check(dnnl_batch_normalization_backward_desc_init(&bd, dnnl_backward, &in->md, &in->md,
                                                             VEIL_BN_EPS, dnnl_use_scale | dnnl_use_shift),
                 "batch norm backward"))
        return -1;
    dnnl_primitive_t bwd = vd_prim(net, NULL, &bd, NULL, pd, "batch norm backward");
    dnnl_memory_t dscale = vd_user(net, &cmd, bn4[0].grad), dshift = vd_user(net, &cmd, bn4[1].grad);
    dnnl_exec_arg_t ba[] = {{DNNL_ARG_SRC, in->mem},           {DNNL_ARG_MEAN, mean},
                            {DNNL_ARG_VARIANCE, var},          {DNNL_ARG_SCALE, scale},
                            {DNNL_ARG_SHIFT, shift},           {DNNL_ARG_DIFF_DST, out->dmem},
                            {DNNL_ARG_DIFF_SRC, in->dmem},     {DNNL_ARG_DIFF_SCALE, dscale},
                            {DNNL_ARG_DIFF_SHIFT, dshift}};
    return vd_step_add(net, VD_BWD, bwd, 9, ba);
}

/* ---------------- Conv2d 'same' (+ fused ReLU) ---------------- */
static int bf16_bwdw_fp32_max_hw(void)
{
    const char *e = getenv("VEIL_BF16_BWDW_FP32_MAXHW");
    return e ? atoi(e) : 4;
}

int vd_conv_build(vd_net *net, vd_tensor *in, veil_param *w, veil_param *b, int relu, vd_tensor *out)
{
    int64_t n = in->md.dims[0], cin = in->md.dims[1], h = in->md.dims[2], wd = in->md.dims[3];
    int64_t cout = w->shape[0], k = w->shape[2];
    int64_t sd[4] = {n, cin, h, wd}, dd[4] = {n, cout, h, wd}, wdims[4] = {cout, cin, k, k};
    dnnl_memory_desc_t src_any, dst_any, w_any, dw_any;
    vd_wlayer l = {.w = w, .b = b, .relu = relu};
    vd_md_any(&src_any, 4, sd, net->act);
    vd_md_any(&dst_any, 4, dd, net->act);
    vd_md_any(&w_any, 4, wdims, net->act);
    vd_md_any(&dw_any, 4, wdims, dnnl_f32);
    vd_md_plain(&l.w_user, 4, wdims, dnnl_f32);
    vd_md_plain(&l.b_md, 1, &cout, dnnl_f32);
    dnnl_dims_t strides = {1, 1}, pl = {(k - 1) / 2, (k - 1) / 2}, pr = {k - 1 - pl[0], k - 1 - pl[1]};

    dnnl_convolution_desc_t d;
    if (vd_check(dnnl_convolution_forward_desc_init(
                     &d, net->train ? dnnl_forward_training : dnnl_forward_inference,
                     dnnl_convolution_direct, &src_any, &w_any, &l.b_md, &dst_any, strides, pl, pr),
                 "convolution forward"))
        return -1;
    dnnl_primitive_desc_t pd = NULL;
    dnnl_primitive_t fwd = vd_prim_relu(net, &pd, &d, relu, "convolution forward");
    /* (a training net also gets the ReLU backward, in place on the output gradient) */
    if (vd_wlayer_forward(net, &l, fwd, pd, in, out)) return -1;
    if (!net->train) return 0;

    /* weights gradient (and bias gradient), reordered to OIHW fp32 unless already so */
    dnnl_convolution_desc_t wd_;
    /* bf16 weight gradients on the tiny maps of the last groups run slowly in
     * oneDNN 2.6 (avx512_core_bf16); the fp32 kernel is faster there (docs/network.md) */
    dnnl_memory_desc_t ws_md = src_any, wdd_md = dst_any;
    if (net->act == dnnl_bf16 && h * wd <= bf16_bwdw_fp32_max_hw()) {
        vd_md_any(&ws_md, 4, sd, dnnl_f32);
        vd_md_any(&wdd_md, 4, dd, dnnl_f32);
    }
    if (vd_check(dnnl_convolution_backward_weights_desc_init(&wd_, dnnl_convolution_direct, &ws_md, &dw_any,
                                                             &l.b_md, &wdd_md, strides, pl, pr),
                 "convolution backward weights"))
        return -1;
    dnnl_primitive_desc_t wpd;
    dnnl_primitive_t bw = vd_prim(net, &wpd, &wd_, NULL, pd, "convolution backward weights");
    if (vd_wlayer_weights_grad(net, &l, bw, wpd, out)) return -1;

    /* input gradient */
    dnnl_convolution_desc_t dd_;
    if (vd_check(dnnl_convolution_backward_data_desc_init(&dd_, dnnl_convolution_direct, &src_any, &w_any,
                                                          &dst_any, strides, pl, pr),
                 "convolution backward data"))
        return -1;
    dnnl_primitive_desc_t dpd;
    dnnl_primitive_t bd = vd_prim(net, &dpd, &dd_, NULL, pd, "convolution backward data");
    if (vd_wlayer_data_grad(net, &l, bd, dpd, in, out)) return -1;
    return 0;
}

/* ---------------- MaxPool 2x2 stride 2 (with workspace for backward) ---------------- */
int vd_pool_build(vd_net *net, vd_tensor *in, vd_tensor *out)
{
    int64_t dd[4] = {in->md.dims[0], in->md.dims[1], in->md.dims[2] / 2, in->md.dims[3] / 2};
    dnnl_memory_desc_t dst_any;
    vd_md_any(&dst_any, 4, dd, net->act);
    dnnl_dims_t st = {2, 2}, ker = {2, 2}, dil = {0, 0}, pad = {0, 0};
    dnnl_pooling_v2_desc_t d;
    if (vd_check(dnnl_pooling_v2_forward_desc_init(&d, net->train ? dnnl_forward_training : dnnl_forward_inference,
                                                   dnnl_pooling_max, &in->md, &dst_any, st, ker, dil, pad, pad),
                 "max pooling forward"))
        return -1;
    dnnl_primitive_desc_t pd;
    dnnl_primitive_t fwd = vd_prim(net, &pd, &d, NULL, NULL, "max pooling forward");
    if (!fwd || vd_tensor_new(net, vd_pd_md(pd, DNNL_ARG_DST), in->chain + 1, out)) return -1;
    if (!net->train) {
        dnnl_exec_arg_t fa[] = {{DNNL_ARG_SRC, in->mem}, {DNNL_ARG_DST, out->mem}};
        return vd_step_add(net, VD_FWD, fwd, 2, fa);
    }
    dnnl_memory_t ws = vd_mem(net, dnnl_primitive_desc_query_md(pd, dnnl_query_workspace_md, 0), VD_SEQ);
    dnnl_exec_arg_t fa[] = {{DNNL_ARG_SRC, in->mem}, {DNNL_ARG_DST, out->mem}, {DNNL_ARG_WORKSPACE, ws}};
    if (vd_step_add(net, VD_FWD, fwd, 3, fa)) return -1;
    dnnl_pooling_v2_desc_t bd;
    if (vd_check(dnnl_pooling_v2_backward_desc_init(&bd, dnnl_pooling_max, &in->md, &out->md, st, ker, dil, pad, pad),
                 "max pooling backward"))
        return -1;
    dnnl_primitive_t bwd = vd_prim(net, NULL, &bd, NULL, pd, "max pooling backward");
    dnnl_exec_arg_t ba[] = {{DNNL_ARG_DIFF_DST, out->dmem}, {DNNL_ARG_WORKSPACE, ws},
                            {DNNL_ARG_DIFF_SRC, in->dmem}};
    return vd_step_add(net, VD_BWD, bwd, 3, ba);
}

/* ---------------- the extractor ---------------- */
struct veil_extractor {
    veil_extractor_config cfg;
    veil_precision precision;
    int max_batch, dim;
    veil_param *params;
    int nparams;
    vd_nets nets; /* also the last training net and the weights version */
    dnnl_memory_t x_user, z_user; /* of the net in use: handles set per call */
    /* out_dim > 0: the pooled map before the linear output layer (evaluation, training)
     * and its gradient; rows of the last training forward */
    int map_dim, train_n;
    float *map[2], *dmap;
};

void veil_extractor_config_paper(veil_extractor_config *c, int groups)
{
    static const int f[VEIL_MAX_GROUPS] = {64, 128, 256, 512, 512}, k[VEIL_MAX_GROUPS] = {5, 3, 3, 2, 2};
    memset(c, 0, sizeof *c);
    c->groups = groups;
    c->in_h = c->in_w = 32;
    c->convs_per_group = 3;
    memcpy(c->filters, f, sizeof f);
    memcpy(c->kernels, k, sizeof k);
}

int veil_extractor_config_validate(const veil_extractor_config *c)
{
    if (c->groups < 0 || c->groups > VEIL_MAX_GROUPS) {
        veil_error("extractor: groups must be 0 (the patch itself) or 1..%d, got %d", VEIL_MAX_GROUPS, c->groups);
        return -1;
    }
    if (c->convs_per_group < 1 || c->convs_per_group > 8) {
        veil_error("extractor: convs_per_group must be 1..8, got %d", c->convs_per_group);
        return -1;
    }
    if (c->out_dim < 0 || c->out_dim > (1 << 20)) {
        veil_error("extractor: out_dim must be 0 (none) or 1..%d, got %d", 1 << 20, c->out_dim);
        return -1;
    }
    if (c->in_h < 1 || c->in_w < 1 || c->in_h % (1 << c->groups) || c->in_w % (1 << c->groups)) {
        veil_error("extractor: input %dx%d must be divisible by 2^groups = %d", c->in_h, c->in_w,
                   1 << c->groups);
        return -1;
    }
    for (int j = 0; j < c->groups; j++)
        if (c->filters[j] < 1 || c->kernels[j] < 1 || c->kernels[j] > 15) {
            veil_error("extractor: group %d has filters %d, kernel %d (need filters >= 1, kernel 1..15)",
                       j + 1, c->filters[j], c->kernels[j]);
            return -1;
        }
    return 0;
}

int veil_extractor_config_map_dim(const veil_extractor_config *c)
{
    int g = c->groups;
    return (c->in_h >> g) * (c->in_w >> g) * (g > 0 ? c->filters[g - 1] : 1);
}

int veil_extractor_config_dim(const veil_extractor_config *c)
{
    return c->out_dim > 0 ? c->out_dim : veil_extractor_config_map_dim(c);
}

veil_extractor *veil_extractor_new(const veil_extractor_config *c, int max_batch, veil_precision precision,
                                   uint64_t seed)
{
    veil_precision p;
    if (veil_extractor_config_validate(c) || veil_precision_resolve(precision, &p)) return NULL;
    if (max_batch < 1) {
        veil_error("extractor: max_batch must be >= 1, got %d", max_batch);
        return NULL;
    }
    if (!vd_engine()) return NULL;
    veil_extractor *f = veil_calloc(1, sizeof *f);
    f->cfg = *c;
    f->precision = p;
    f->max_batch = max_batch;
    f->dim = veil_extractor_config_dim(c);
    f->map_dim = veil_extractor_config_map_dim(c);
    f->nparams = c->groups * (4 + 2 * c->convs_per_group) + (c->out_dim > 0 ? 2 : 0);
    f->params = veil_calloc(f->nparams, sizeof *f->params);
    veil_rng rng;
    veil_rng_seed(&rng, seed);
    veil_param *q = f->params;
    int64_t cin = 1;
    char name[64];
    for (int j = 0; j < c->groups; j++) {
        static const char *bn_names[4] = {"weight", "bias", "running_mean", "running_var"};
        for (int i = 0; i < 4; i++) {
            snprintf(name, sizeof name, "f.g%d.bn.%s", j + 1, bn_names[i]);
            vd_param_init(q, name, 1, &cin, i >= 2);
            vd_param_fill(q, i == 0 || i == 3 ? 1.0f : 0.0f);
            q++;
        }
        for (int k = 0; k < c->convs_per_group; k++) {
            int64_t ci = k == 0 ? cin : c->filters[j], co = c->filters[j], ks = c->kernels[j];
            int64_t shape[4] = {co, ci, ks, ks};
            double bound = 1.0 / sqrt((double)(ci * ks * ks)); /* kaiming_uniform(a=sqrt(5)) */
            snprintf(name, sizeof name, "f.g%d.conv%d.weight", j + 1, k + 1);
            vd_param_init(q, name, 4, shape, 0);
            vd_param_uniform(q++, &rng, bound);
            snprintf(name, sizeof name, "f.g%d.conv%d.bias", j + 1, k + 1);
            vd_param_init(q, name, 1, &co, 0);
            vd_param_uniform(q++, &rng, bound);
        }
        cin = c->filters[j];
    }
    if (c->out_dim > 0) { /* torch.nn.Linear's initialisation; drawn after f's own */
        int64_t shape[2] = {c->out_dim, f->map_dim}, od = c->out_dim;
        double bound = 1.0 / sqrt((double)f->map_dim);
        vd_param_init(q, "f.out.weight", 2, shape, 0);
        vd_param_uniform(q++, &rng, bound);
        vd_param_init(q, "f.out.bias", 1, &od, 0);
        vd_param_uniform(q++, &rng, bound);
        for (int i = 0; i < 2; i++) f->map[i] = veil_aligned_alloc((size_t)max_batch * f->map_dim * sizeof(float));
        f->dmap = veil_aligned_alloc((size_t)max_batch * f->map_dim * sizeof(float));
    }
    return f;
}

void veil_extractor_free(veil_extractor *f)
{
    if (!f) return;
    vd_nets_free(&f->nets);
    vd_params_free(f->params, f->nparams);
    free(f->params);
    free(f->map[0]);
    free(f->map[1]);
    free(f->dmap);
    free(f);
}

const veil_extractor_config *veil_extractor_config_of(const veil_extractor *f) { return &f->cfg; }
int veil_extractor_dim(const veil_extractor *f) { return f->dim; }
veil_precision veil_extractor_precision(const veil_extractor *f) { return f->precision; }
veil_param *veil_extractor_params(veil_extractor *f, int *count)
{
    if (count) *count = f->nparams;
    return f->params;
}
void veil_extractor_params_changed(veil_extractor *f) { f->nets.version++; }

/* user memories are the first two memory objects a net creates: x, then z (and dz) */
typedef struct ext_net {
    vd_net net;
    dnnl_memory_t x, z, dz;
} ext_net;

static vd_net *extractor_build(void *model, int n, int train)
{
    veil_extractor *f = model;
    ext_net *e = veil_calloc(1, sizeof *e);
    vd_net *net = &e->net;
    vd_net_init(net, n, train, vd_act_type(f->precision));
    const veil_extractor_config *c = &f->cfg;
    int64_t xd[4] = {n, 1, c->in_h, c->in_w};
    dnnl_memory_desc_t xmd, zmd;
    vd_md_plain(&xmd, 4, xd, dnnl_f32);
    vd_tensor t, u;
    /* the input is copied in (fp32 NCHW): group 1's BatchNorm has one channel */
    e->x = vd_user(net, &xmd, NULL);
    if (!e->x || vd_tensor_new(net, &xmd, 0, &t) || vd_reorder_add(net, VD_FWD, e->x, t.mem)) goto fail;
    veil_param *q = f->params;
    for (int j = 0; j < c->groups; j++) {
        net->block++;
        if (vd_bn_build(net, &t, q, &u)) goto fail;
        t = u;
        q += 4;
        for (int k = 0; k < c->convs_per_group; k++, q += 2) {
            net->block++;
            if (vd_conv_build(net, &t, q, q + 1, 1, &u)) goto fail;
            t = u;
        }
        net->block++;
        if (vd_pool_build(net, &t, &u)) goto fail;
        t = u;
    }
    net->block++;
    vd_md_plain(&zmd, 4, t.md.dims, dnnl_f32); /* NCHW fp32 = torch.flatten order */
    if (vd_net_output(net, &zmd, &t, &e->z, &e->dz)) goto fail;
    return net;
fail:
    veil_error_prefix("extractor (G=%d, batch %d, %s)", c->groups, n, veil_precision_name(f->precision));
    vd_net_free(net);
    free(e);
    return NULL;
}

/* The linear output layer (out_dim > 0): plain fp32 GEMMs beside the net. The weights
 * are the last two parameters. */
static int out_forward(veil_extractor *f, const float *map, int n, float *z)
{
    const veil_param *w = &f->params[f->nparams - 2], *b = &f->params[f->nparams - 1];
    int64_t d = f->cfg.out_dim, m = f->map_dim;
    if (vd_check(dnnl_sgemm('N', 'T', n, d, m, 1.0f, map, m, w->data, m, 0.0f, z, d), "extractor output layer"))
        return -1;
    for (int64_t i = 0; i < n; i++)
        for (int64_t k = 0; k < d; k++) z[i * d + k] += b->data[k];
    return 0;
}

static int out_backward(veil_extractor *f, const float *dz)
{
    veil_param *w = &f->params[f->nparams - 2], *b = &f->params[f->nparams - 1];
    int64_t d = f->cfg.out_dim, m = f->map_dim, n = f->train_n;
    /* dW = dz^T map, db = column sums of dz, dmap = dz W */
    if (vd_check(dnnl_sgemm('T', 'N', d, m, n, 1.0f, dz, d, f->map[1], m, 0.0f, w->grad, m), "extractor output layer") ||
        vd_check(dnnl_sgemm('N', 'N', n, m, d, 1.0f, dz, d, w->data, m, 0.0f, f->dmap, m), "extractor output layer"))
        return -1;
    for (int64_t k = 0; k < d; k++) {
        double s = 0;
        for (int64_t i = 0; i < n; i++) s += dz[i * d + k];
        b->grad[k] = (float)s;
    }
    return 0;
}

int veil_extractor_forward(veil_extractor *f, const float *x, int n, int train, float *z)
{
    ext_net *e = (ext_net *)vd_nets_ready(&f->nets, "extractor", f->max_batch, n, train, extractor_build, f);
    if (!e) return -1;
    dnnl_memory_set_data_handle(e->x, (void *)x);
    dnnl_memory_set_data_handle(e->z, f->cfg.out_dim > 0 ? f->map[train != 0] : z);
    if (vd_nets_forward(&f->nets, &e->net, train)) return -1;
    if (f->cfg.out_dim <= 0) return 0;
    if (train) f->train_n = n;
    return out_forward(f, f->map[train != 0], n, z);
}

int veil_extractor_backward(veil_extractor *f, const float *dz)
{
    ext_net *e = (ext_net *)vd_nets_last_train(&f->nets, "extractor");
    if (!e) return -1;
    if (f->cfg.out_dim > 0) {
        if (out_backward(f, dz)) return -1;
        dz = f->dmap;
    }
    dnnl_memory_set_data_handle(e->dz, (void *)dz);
    return vd_net_run(&e->net, VD_BWD, 1);
}

int veil_params_check_finite(const veil_param *params, int count, int grads, const char *what)
{
    for (int i = 0; i < count; i++) {
        const float *v = grads ? params[i].grad : params[i].data;
        if (!v || (grads && params[i].is_buffer)) continue;
        for (size_t k = 0; k < params[i].size; k++)
            if (!isfinite(v[k])) {
                veil_error("%s: %s of layer '%s' is %s at index %zu", what, grads ? "the gradient" : "a weight",
                           params[i].name, isnan(v[k]) ? "NaN" : "infinite", k);
                return -1;
            }
    }
    return 0;
}

int veil_extractor_check_output(veil_extractor *f, const float *z, size_t n, const char *what)
{
    size_t dim = (size_t)f->dim;
    for (size_t i = 0; i < n * dim; i++) {
        if (isfinite(z[i])) continue;
        /* the weights are finite (checked at load): name the layer most likely to overflow */
        int count;
        double big;
        veil_param *p = veil_extractor_params(f, &count);
        const char *layer = vd_params_largest(p, count, &big);
        veil_error("%s: feature %zu of patch %zu is %s after the extractor; its largest weight, %.3g, is in "
                   "layer '%s' (weights this large overflow float32)", what, i % dim, i / dim,
                   isnan(z[i]) ? "NaN" : "infinite", big, layer);
        return -1;
    }
    return 0;
}
