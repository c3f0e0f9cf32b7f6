/* The MLP head: Linear(in, hidden) -> ReLU -> Dropout(p) -> Linear(hidden, classes).
 * Linear layers are oneDNN inner products (ReLU fused as a post-op); the hidden
 * activations stay fp32 and plain [n][hidden] so dropout is a simple loop. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif

#include "nn_dnnl.h"

/* ---------------- Linear (inner product) ---------------- */
int vd_linear_build(vd_net *net, vd_tensor *in, veil_param *w, veil_param *b, int relu,
                    dnnl_data_type_t dst_type, vd_tensor *out)
{
    vd_wlayer l;
    return vd_linear_build_layer(net, in, w, b, relu, dst_type, out, &l);
}

int vd_linear_build_layer(vd_net *net, vd_tensor *in, veil_param *w, veil_param *b, int relu,
                          dnnl_data_type_t dst_type, vd_tensor *out, vd_wlayer *lp)
{
    int64_t n = in->md.dims[0], ci = in->md.dims[1], co = w->shape[0];
    int64_t sd[2] = {n, ci}, dd[2] = {n, co}, wd[2] = {co, ci};
    dnnl_memory_desc_t src_any, w_any, dst_md, dw_any;
    *lp = (vd_wlayer){.w = w, .b = b, .relu = relu};
    vd_md_any(&src_any, 2, sd, net->act);
    vd_md_any(&w_any, 2, wd, net->act);
    vd_md_any(&dw_any, 2, wd, dnnl_f32);
    vd_md_plain(&lp->w_user, 2, wd, dnnl_f32);
    vd_md_plain(&lp->b_md, 1, &co, dnnl_f32);
    vd_md_plain(&dst_md, 2, dd, dst_type);
    dnnl_inner_product_desc_t d;
    if (vd_check(dnnl_inner_product_forward_desc_init(&d, net->train ? dnnl_forward_training : dnnl_forward_inference,
                                                      &src_any, &w_any, &lp->b_md, &dst_md),
                 "inner product forward"))
        return -1;
    dnnl_primitive_desc_t pd;
    dnnl_primitive_t fwd = vd_prim_relu(net, &pd, &d, relu, "inner product forward");
    if (vd_wlayer_forward(net, lp, fwd, pd, in, out)) return -1;
    if (!net->train) return 0;

    dnnl_inner_product_desc_t wdsc;
    dnnl_memory_desc_t ddst_any;
    vd_md_any(&ddst_any, 2, dd, net->act);
    if (vd_check(dnnl_inner_product_backward_weights_desc_init(&wdsc, &src_any, &dw_any, &lp->b_md, &ddst_any),
                 "inner product backward weights"))
        return -1;
    dnnl_primitive_desc_t wpd;
    dnnl_primitive_t bw = vd_prim(net, &wpd, &wdsc, NULL, pd, "inner product backward weights");
    if (vd_wlayer_weights_grad(net, lp, bw, wpd, out)) return -1;

    net->dx_only = net->input_grad_optional;
    dnnl_inner_product_desc_t ddsc;
    if (vd_check(dnnl_inner_product_backward_data_desc_init(&ddsc, &src_any, &w_any, &ddst_any),
                 "inner product backward data"))
        return -1;
    dnnl_primitive_desc_t dpd;
    dnnl_primitive_t bd = vd_prim(net, &dpd, &ddsc, NULL, pd, "inner product backward data");
    if (vd_wlayer_data_grad(net, lp, bd, dpd, in, out)) return -1;
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
    /* veil_head_adam_step: while fused, fc1.weight and its Adam moments live here, in the
     * blocked layout the primitives use (below), and params[0]'s arrays are stale */
    int fused;
    float *w1, *m1, *v1; /* fp32, the weight gradient's layout (AB16b64a) */
    uint16_t *w1_bf16;   /* bf16 only: the forward's copy (AB16b64a2b) */
};

typedef struct head_net {
    vd_net net;
    dnnl_memory_t x, logits, dlogits, dx;
    vd_wlayer fc1;
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
    free(h->w1), free(h->m1), free(h->v1), free(h->w1_bf16);
    vd_params_free(h->params, 4);
    free(h->mask);
    free(h);
}

const veil_head_config *veil_head_config_of(const veil_head *h) { return &h->cfg; }
static void fused_leave(veil_head *h);

veil_param *veil_head_params(veil_head *h, int *count)
{
    fused_leave(h);
    if (count) *count = 4;
    return h->params;
}
void veil_head_params_changed(veil_head *h)
{
    fused_leave(h);
    h->nets.version++;
}
int vd_head_fused(const veil_head *h) { return h->fused; }
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
    net->tag = train; /* fc1's weight reorders may be skipped by the fused Adam */
    if (vd_linear_build_layer(net, &t, &h->params[0], &h->params[1], 1, dnnl_f32, &u, &e->fc1)) goto fail;
    net->tag = 0;
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
    if (vd_net_output(net, &lmd, &v, &e->logits, &e->dlogits)) goto fail;
    return net;
fail:
    veil_error_prefix("head (%d -> %d -> %d, batch %d)", c->in_dim, c->hidden, c->classes, n);
    vd_net_free(net);
    free(e);
    return NULL;
}


/* ---------------- fused Adam for fc1.weight ----------------
 * An attacker step at 16384 inputs spends as long reordering fc1.weight (plain master ->
 * the forward's blocked copy) and its gradient (blocked -> plain) as in either GEMM.
 * veil_head_adam_step keeps fc1.weight and its moments in the gradient's blocked layout
 * instead: Adam runs over four arrays in one layout (the same per-value arithmetic as
 * veil_adam_step, so the same bits), and in bf16 writes the forward's bf16 copy from each
 * chunk while it is in cache. Only the layouts oneDNN 2.6 picks on AVX-512 are handled
 * (fp32 AB16b64a weights and gradient; bf16 AB16b64a2b weights with an fp32 AB16b64a
 * gradient); anything else takes the plain path. */
static int md_is(const dnnl_memory_desc_t *md, int64_t rows, int64_t cols, dnnl_data_type_t dt,
                 dnnl_format_tag_t tag)
{
    dnnl_memory_desc_t want;
    dnnl_dims_t d = {rows, cols};
    if (rows % 64 || cols % 16 || dnnl_memory_desc_init_by_tag(&want, 2, d, dt, tag) != dnnl_success) return 0;
    return dnnl_memory_desc_equal(md, &want);
}

static int fusable(const veil_head *h, const head_net *e)
{
    const vd_wlayer *l = &e->fc1;
    int64_t rows = h->cfg.hidden, cols = h->cfg.in_dim;
    if (!e->net.train || !l->dwp || !l->wp || l->wb != l->wp) return 0;
    if (!md_is(vd_mem_md(l->dwp), rows, cols, dnnl_f32, dnnl_AB16b64a)) return 0;
    if (h->precision == VEIL_PREC_BF16) return md_is(vd_mem_md(l->wp), rows, cols, dnnl_bf16, dnnl_AB16b64a2b);
    return md_is(vd_mem_md(l->wp), rows, cols, dnnl_f32, dnnl_AB16b64a);
}

/* Value (a, b) of a [rows][cols] matrix in AB16b64a (64 x 16 blocks, a innermost) and
 * AB16b64a2b (pairs of b innermost): both use the same 1024-value blocks in the same order. */
static size_t blk_off(size_t a, size_t b, size_t cols)
{
    return ((a / 64) * (cols / 16) + b / 16) * 1024 + (b % 16) * 64 + a % 64;
}

static void to_blocked(float *dst, const float *src, size_t rows, size_t cols)
{
#pragma omp parallel for schedule(static)
    for (size_t a = 0; a < rows; a++)
        for (size_t b = 0; b < cols; b++) dst[blk_off(a, b, cols)] = src[a * cols + b];
}

static void from_blocked(float *dst, const float *src, size_t rows, size_t cols)
{
#pragma omp parallel for schedule(static)
    for (size_t a = 0; a < rows; a++)
        for (size_t b = 0; b < cols; b++) dst[a * cols + b] = src[blk_off(a, b, cols)];
}

/* fp32 -> bf16 as VCVTNEPS2BF16 (and oneDNN's reorder with it) rounds: to nearest even,
 * denormals to zero, NaN stays NaN (quiet). */
static uint16_t bf16_of(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    if ((u & 0x7f800000u) == 0) return (uint16_t)((u >> 16) & 0x8000u);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40u);
    return (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

/* One block of 1024 values: f32 AB16b64a -> bf16 AB16b64a2b (columns 2k, 2k+1 interleaved). */
static void block_to_bf16_c(uint16_t *dst, const float *src)
{
    for (int k = 0; k < 8; k++)
        for (int i = 0; i < 64; i++) {
            dst[k * 128 + 2 * i] = bf16_of(src[(2 * k) * 64 + i]);
            dst[k * 128 + 2 * i + 1] = bf16_of(src[(2 * k + 1) * 64 + i]);
        }
}

#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target("avx512f,avx512bw,avx512bf16"))) static void block_to_bf16_avx512(uint16_t *dst,
                                                                                     const float *src)
{
    /* cvtne2ps gives [16 of column 2k+1 | 16 of column 2k] as bf16 (low half: the second
     * operand); the permutation interleaves them. */
    const __m512i idx = _mm512_set_epi16(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8, 23, 7, 22,
                                         6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
    for (int k = 0; k < 8; k++)
        for (int i = 0; i < 64; i += 16) {
            __m512 even = _mm512_loadu_ps(src + (2 * k) * 64 + i), odd = _mm512_loadu_ps(src + (2 * k + 1) * 64 + i);
            __m512i both = (__m512i)_mm512_cvtne2ps_pbh(odd, even);
            _mm512_storeu_si512(dst + k * 128 + 2 * i, _mm512_permutexvar_epi16(idx, both));
        }
}
#endif

static void chunk_to_bf16(void *ctx, size_t start, size_t count)
{
    veil_head *h = ctx;
#if defined(__x86_64__) && defined(__GNUC__)
    int fast = __builtin_cpu_supports("avx512bf16") && __builtin_cpu_supports("avx512bw");
#else
    int fast = 0;
#endif
    for (size_t o = start; o < start + count; o += 1024) {
#if defined(__x86_64__) && defined(__GNUC__)
        if (fast) {
            block_to_bf16_avx512(h->w1_bf16 + o, h->w1 + o);
            continue;
        }
#endif
        (void)fast;
        block_to_bf16_c(h->w1_bf16 + o, h->w1 + o);
    }
}

/* The net reads the fused state: fc1's forward weights are the head's, their sync and
 * the gradient's copy to the plain layout are skipped. */
static void fused_attach(veil_head *h, head_net *e)
{
    dnnl_memory_set_data_handle(e->fc1.wp, h->precision == VEIL_PREC_BF16 ? (void *)h->w1_bf16 : (void *)h->w1);
    e->net.skip = VD_TAG_WSYNC | VD_TAG_WGRAD;
}

/* The moments live in one place at a time (the plain arrays or the head's blocked ones):
 * 134 MB less at 16384 inputs. The blocked weights stay allocated, nets point at them. */
static void fused_enter(veil_head *h)
{
    veil_param *p = &h->params[0];
    size_t rows = (size_t)h->cfg.hidden, cols = (size_t)h->cfg.in_dim, bytes = p->size * sizeof(float);
    if (!h->w1) {
        h->w1 = veil_aligned_alloc(bytes);
        if (h->precision == VEIL_PREC_BF16) h->w1_bf16 = veil_aligned_alloc(p->size * sizeof(uint16_t));
    }
    h->m1 = veil_aligned_alloc(bytes);
    h->v1 = veil_aligned_alloc(bytes);
    to_blocked(h->w1, p->data, rows, cols);
    if (p->adam_m) to_blocked(h->m1, p->adam_m, rows, cols);
    else memset(h->m1, 0, bytes);
    if (p->adam_v) to_blocked(h->v1, p->adam_v, rows, cols);
    else memset(h->v1, 0, bytes);
    free(p->adam_m), free(p->adam_v);
    p->adam_m = p->adam_v = NULL;
    h->fused = 1;
}

/* Back to the plain master: weights, moments and the last gradient; every net resyncs. */
static void fused_leave(veil_head *h)
{
    if (!h->fused) return;
    veil_param *p = &h->params[0];
    size_t rows = (size_t)h->cfg.hidden, cols = (size_t)h->cfg.in_dim;
    from_blocked(p->data, h->w1, rows, cols);
    p->adam_m = veil_malloc(p->size * sizeof(float));
    from_blocked(p->adam_m, h->m1, rows, cols);
    free(h->m1);
    p->adam_v = veil_malloc(p->size * sizeof(float));
    from_blocked(p->adam_v, h->v1, rows, cols);
    free(h->v1);
    h->m1 = h->v1 = NULL;
    head_net *last = (head_net *)h->nets.last_train;
    int live = 0;
    for (int i = 0; i < VD_MAX_NETS; i++) {
        live |= last && h->nets.net[i] == &last->net;
        if (h->nets.net[i]) h->nets.net[i]->skip = 0;
    }
    if (live) {
        float *g = NULL;
        dnnl_memory_get_data_handle(last->fc1.dwp, (void **)&g);
        from_blocked(p->grad, g, rows, cols);
    }
    h->nets.version++;
    h->fused = 0;
}

int veil_head_adam_step(veil_head *h, veil_adam *a)
{
    head_net *e = (head_net *)vd_nets_last_train(&h->nets, "head");
    if (!e) return -1;
    float step_size, inv_sqrt_bc2;
    vd_adam_begin(a, &step_size, &inv_sqrt_bc2);
    veil_param *p = &h->params[0];
    if (!h->fused && fusable(h, e)) fused_enter(h);
    if (h->fused) {
        float *g = NULL;
        dnnl_memory_get_data_handle(e->fc1.dwp, (void **)&g);
        vd_adam_arrays(h->w1, g, h->m1, h->v1, p->size, a, step_size, inv_sqrt_bc2,
                       h->precision == VEIL_PREC_BF16 ? chunk_to_bf16 : NULL, h);
        fused_attach(h, e);
    } else {
        vd_adam_param(p, a, step_size, inv_sqrt_bc2);
    }
    for (int i = 1; i < 4; i++) vd_adam_param(&h->params[i], a, step_size, inv_sqrt_bc2);
    return 0;
}

int vd_head_adam_arrays(veil_head *h, float **p, float **g, float **m, float **v, size_t *n)
{
    veil_param *w = &h->params[0];
    *n = w->size;
    if (h->fused) {
        head_net *e = (head_net *)vd_nets_last_train(&h->nets, "head");
        if (!e) return -1;
        dnnl_memory_get_data_handle(e->fc1.dwp, (void **)g);
        *p = h->w1, *m = h->m1, *v = h->v1;
        return 0;
    }
    if (!w->grad || !w->adam_m || !w->adam_v) {
        veil_error("head: no Adam step yet");
        return -1;
    }
    *p = w->data, *g = w->grad, *m = w->adam_m, *v = w->adam_v;
    return 0;
}

double vd_head_adam_bytes(const veil_head *h)
{
    double values = 0;
    for (int i = 0; i < 4; i++) values += (double)h->params[i].size;
    return 28 * values;
}

int veil_head_forward(veil_head *h, const float *x, int n, int train, float *logits)
{
    if (h->fused) {
        /* training nets that can use the fused state read it; anything else needs the master */
        head_net *c = train ? (head_net *)vd_nets_find(&h->nets, n, 1) : NULL;
        if (c && fusable(h, c))
            fused_attach(h, c);
        else
            fused_leave(h);
    }
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

int veil_head_check_output(veil_head *h, const float *logits, size_t n, const char *what)
{
    size_t k = (size_t)h->cfg.classes;
    for (size_t i = 0; i < n * k; i++) {
        if (isfinite(logits[i])) continue;
        /* the weights are finite (checked at load): name the layer most likely to overflow */
        int count;
        double big;
        veil_param *p = veil_head_params(h, &count);
        const char *layer = vd_params_largest(p, count, &big);
        veil_error("%s: the posterior of class %zu of patch %zu is undefined (its logit is %s); the "
                   "head's largest weight, %.3g, is in layer '%s' (weights this large overflow float32)",
                   what, i % k, i / k, isnan(logits[i]) ? "NaN" : "infinite", big, layer);
        return -1;
    }
    return 0;
}
