/* The MLP head: Linear(in, hidden) -> ReLU -> Dropout(p) -> Linear(hidden, classes).
 * Linear layers are oneDNN inner products (ReLU fused as a post-op); the hidden
 * activations stay fp32 and plain [n][hidden] so dropout is a simple loop. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn_dnnl.h"

/* ---------------- Linear (inner product) ---------------- */
int vd_linear_build(vd_net *net, vd_tensor *in, veil_param *w, veil_param *b, int relu,
                    dnnl_data_type_t dst_type, vd_tensor *out)
{
    int64_t n = in->md.dims[0], ci = in->md.dims[1], co = w->shape[0];
    int64_t sd[2] = {n, ci}, dd[2] = {n, co}, wd[2] = {co, ci};
    dnnl_memory_desc_t src_any, w_any, dst_md, dw_any;
    vd_wlayer l = {.w = w, .b = b, .relu = relu};
    vd_md_any(&src_any, 2, sd, net->act);
    vd_md_any(&w_any, 2, wd, net->act);
    vd_md_any(&dw_any, 2, wd, dnnl_f32);
    vd_md_plain(&l.w_user, 2, wd, dnnl_f32);
    vd_md_plain(&l.b_md, 1, &co, dnnl_f32);
    vd_md_plain(&dst_md, 2, dd, dst_type);
    dnnl_inner_product_desc_t d;
    if (vd_check(dnnl_inner_product_forward_desc_init(&d, net->train ? dnnl_forward_training : dnnl_forward_inference,
                                                      &src_any, &w_any, &l.b_md, &dst_md),
                 "inner product forward"))
        return -1;
    dnnl_primitive_desc_t pd;
    dnnl_primitive_t fwd = vd_prim_relu(net, &pd, &d, relu, "inner product forward");
    if (vd_wlayer_forward(net, &l, fwd, pd, in, out)) return -1;
    if (!net->train) return 0;

    dnnl_inner_product_desc_t wdsc;
    dnnl_memory_desc_t ddst_any;
    vd_md_any(&ddst_any, 2, dd, net->act);
    if (vd_check(dnnl_inner_product_backward_weights_desc_init(&wdsc, &src_any, &dw_any, &l.b_md, &ddst_any),
                 "inner product backward weights"))
        return -1;
    dnnl_primitive_desc_t wpd;
    dnnl_primitive_t bw = vd_prim(net, &wpd, &wdsc, NULL, pd, "inner product backward weights");
    if (vd_wlayer_weights_grad(net, &l, bw, wpd, out)) return -1;

    net->dx_only = net->input_grad_optional;
    dnnl_inner_product_desc_t ddsc;
    if (vd_check(dnnl_inner_product_backward_data_desc_init(&ddsc, &src_any, &w_any, &ddst_any),
                 "inner product backward data"))
        return -1;
    dnnl_primitive_desc_t dpd;
    dnnl_primitive_t bd = vd_prim(net, &dpd, &ddsc, NULL, pd, "inner product backward data");
    if (vd_wlayer_data_grad(net, &l, bd, dpd, in, out)) return -1;
    net->dx_only = 0;
    return 0;
}

/* ---------------- Dropout (inverted scaling) ---------------- */
typedef struct drop_ctx {
    dnnl_memory_t act, dact; /* fp32 [n][hidden] */
    unsigned char *mask;     /* owned by the head: the last mask */
    size_t count;
    float p;
    veil_rng *rng;
} drop_ctx;

static void dropout_run(void *p, int list)
{
    drop_ctx *d = p;
    float *v = NULL;
    float scale = 1.0f / (1.0f - d->p);
    if (list == VD_FWD) {
        dnnl_memory_get_data_handle(d->act, (void **)&v);
        for (size_t i = 0; i < d->count; i++) {
            d->mask[i] = veil_rng_uniform(d->rng) >= d->p;
            v[i] = d->mask[i] ? v[i] * scale : 0.0f;
        }
    } else {
        dnnl_memory_get_data_handle(d->dact, (void **)&v);
        for (size_t i = 0; i < d->count; i++) v[i] = d->mask[i] ? v[i] * scale : 0.0f;
    }
}

/* ---------------- the head ---------------- */
struct veil_head {
    veil_head_config cfg;
    veil_precision precision;
    int max_batch;
    veil_param params[4];
    veil_rng rng;
    unsigned char *mask; /* max_batch x hidden */
    vd_nets nets; /* also the last training net and the weights version */
};

typedef struct head_net {
    vd_net net;
    dnnl_memory_t x, logits, dlogits, dx;
} head_net;

veil_head *veil_head_new(const veil_head_config *c, int max_batch, veil_precision precision, uint64_t seed)
{
    veil_precision p;
    if (c->in_dim < 1 || c->hidden < 1 || c->classes < 1 || !(c->dropout >= 0 && c->dropout < 1)) {
        veil_error("head: bad config (in_dim %d, hidden %d, classes %d, dropout %g)", c->in_dim, c->hidden,
                   c->classes, c->dropout);
        return NULL;
    }
    if (max_batch < 1) {
        veil_error("head: max_batch must be >= 1, got %d", max_batch);
        return NULL;
    }
    if (veil_precision_resolve(precision, &p) || !vd_engine()) return NULL;
    veil_head *h = veil_calloc(1, sizeof *h);
    h->cfg = *c;
    h->precision = p;
    h->max_batch = max_batch;
    veil_rng rng;
    veil_rng_seed(&rng, seed);
    int64_t s1[2] = {c->hidden, c->in_dim}, b1 = c->hidden, s2[2] = {c->classes, c->hidden}, b2 = c->classes;
    double bound1 = 1.0 / sqrt((double)c->in_dim), bound2 = 1.0 / sqrt((double)c->hidden);
    vd_param_init(&h->params[0], "head.fc1.weight", 2, s1, 0);
    vd_param_uniform(&h->params[0], &rng, bound1);
    vd_param_init(&h->params[1], "head.fc1.bias", 1, &b1, 0);
    vd_param_uniform(&h->params[1], &rng, bound1);
    vd_param_init(&h->params[2], "head.fc2.weight", 2, s2, 0);
    vd_param_uniform(&h->params[2], &rng, bound2);
    vd_param_init(&h->params[3], "head.fc2.bias", 1, &b2, 0);
    vd_param_uniform(&h->params[3], &rng, bound2);
    /* the dropout stream: derived from the seed, advances with every training forward */
    veil_rng_seed(&h->rng, veil_seed_mix(seed, 0x64726f70, 0));
    h->mask = veil_calloc((size_t)max_batch * c->hidden, 1);
    return h;
}

void veil_head_free(veil_head *h)
{
    if (!h) return;
    vd_nets_free(&h->nets);
    vd_params_free(h->params, 4);
    free(h->mask);
    free(h);
}

const veil_head_config *veil_head_config_of(const veil_head *h) { return &h->cfg; }
veil_param *veil_head_params(veil_head *h, int *count)
{
    if (count) *count = 4;
    return h->params;
}
void veil_head_params_changed(veil_head *h) { h->nets.version++; }
const unsigned char *vd_head_last_mask(const veil_head *h) { return h->mask; }

static vd_net *head_build(void *model, int n, int train)
{
    veil_head *h = model;
    head_net *e = veil_calloc(1, sizeof *e);
    vd_net *net = &e->net;
    vd_net_init(net, n, train, vd_act_type(h->precision));
    const veil_head_config *c = &h->cfg;
    int64_t xd[2] = {n, c->in_dim}, ld[2] = {n, c->classes};
    dnnl_memory_desc_t xmd, lmd;
    vd_md_plain(&xmd, 2, xd, dnnl_f32);
    vd_md_plain(&lmd, 2, ld, dnnl_f32);
    vd_tensor t, u, v;
    e->x = vd_user(net, &xmd, NULL);
    if (!e->x || vd_tensor_new(net, &xmd, 0, &t) || vd_reorder_add(net, VD_FWD, e->x, t.mem)) goto fail;
    if (train) {
        /* dx: the input gradient path runs only when the caller asks for dx */
        net->dx_only = 1;
        e->dx = vd_user(net, &xmd, NULL);
        if (!e->dx || vd_reorder_add(net, VD_BWD, t.dmem, e->dx)) goto fail;
    }
    net->block++;
    net->dx_only = 0;
    net->input_grad_optional = 1;
    if (vd_linear_build(net, &t, &h->params[0], &h->params[1], 1, dnnl_f32, &u)) goto fail;
    net->input_grad_optional = 0;
    net->block++;
    if (train && c->dropout > 0) {
        drop_ctx *d = vd_own(net, sizeof *d);
        *d = (drop_ctx){u.mem, u.dmem, h->mask, (size_t)n * c->hidden, c->dropout, &h->rng};
        if (vd_fn_add(net, VD_FWD, dropout_run, d) || vd_fn_add(net, VD_BWD, dropout_run, d)) goto fail;
    }
    net->block++;
    if (vd_linear_build(net, &u, &h->params[2], &h->params[3], 0, dnnl_f32, &v)) goto fail;
    net->block++;
    e->logits = vd_user(net, &lmd, NULL);
    if (!e->logits || vd_reorder_add(net, VD_FWD, v.mem, e->logits)) goto fail;
    if (train) {
        e->dlogits = vd_user(net, &lmd, NULL);
        if (!e->dlogits || vd_reorder_add(net, VD_BWD, e->dlogits, v.dmem)) goto fail;
    }
    vd_net_finalize(net);
    return net;
fail:
    veil_error_prefix("head (%d -> %d -> %d, batch %d)", c->in_dim, c->hidden, c->classes, n);
    vd_net_free(net);
    free(e);
    return NULL;
}

int veil_head_forward(veil_head *h, const float *x, int n, int train, float *logits)
{
    head_net *e = (head_net *)vd_nets_ready(&h->nets, "head", h->max_batch, n, train, head_build, h);
    if (!e) return -1;
    dnnl_memory_set_data_handle(e->x, (void *)x);
    dnnl_memory_set_data_handle(e->logits, logits);
    return vd_nets_forward(&h->nets, &e->net, train);
}

int veil_head_backward(veil_head *h, const float *dlogits, float *dx)
{
    head_net *e = (head_net *)vd_nets_last_train(&h->nets, "head");
    if (!e) return -1;
    dnnl_memory_set_data_handle(e->dlogits, (void *)dlogits);
    if (dx) dnnl_memory_set_data_handle(e->dx, dx);
    return vd_net_run(&e->net, VD_BWD, dx != NULL);
}
