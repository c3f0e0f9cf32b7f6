/* oneDNN plumbing: engine and stream, nets (primitives + step lists), the
 * activation arena, reorders, parameter setup, and per-layer test runs.
 * oneDNN keeps its own primitive cache (DNNL_PRIMITIVE_CACHE_CAPACITY), so
 * re-creating a net for a shape seen before is cheap; we also keep the nets. */
#include "nn_dnnl.h"

#include <math.h>
#include <oneapi/dnnl/dnnl_debug.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static dnnl_engine_t g_engine;
static dnnl_stream_t g_stream;
static dnnl_status_t g_status = dnnl_success;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

static void engine_init(void)
{
    g_status = dnnl_engine_create(&g_engine, dnnl_cpu, 0);
    if (g_status == dnnl_success) g_status = dnnl_stream_create(&g_stream, g_engine, dnnl_stream_default_flags);
}

dnnl_engine_t vd_engine(void)
{
    pthread_once(&g_once, engine_init);
    if (g_status != dnnl_success) {
        vd_check(g_status, "creating the CPU engine");
        return NULL;
    }
    return g_engine;
}

dnnl_stream_t vd_stream(void)
{
    return vd_engine() ? g_stream : NULL;
}

int vd_check(dnnl_status_t s, const char *what)
{
    if (s == dnnl_success) return 0;
    veil_error("oneDNN: %s: %s", what, dnnl_status2str(s));
    return -1;
}

dnnl_data_type_t vd_act_type(veil_precision p)
{
    return p == VEIL_PREC_BF16 ? dnnl_bf16 : dnnl_f32;
}

/* ---------------- nets ---------------- */
enum { OWN_PD, OWN_PRIM, OWN_MEM, OWN_HEAP };

static void own(vd_net *net, void *p, int kind)
{
    if (net->nowned == net->capowned) {
        net->capowned = net->capowned ? 2 * net->capowned : 64;
        net->owned = veil_realloc(net->owned, net->capowned * sizeof *net->owned);
        net->owned_kind = veil_realloc(net->owned_kind, net->capowned * sizeof *net->owned_kind);
    }
    net->owned[net->nowned] = p;
    net->owned_kind[net->nowned++] = kind;
}

void vd_net_init(vd_net *net, int n, int train, dnnl_data_type_t act)
{
    memset(net, 0, sizeof *net);
    net->n = n;
    net->train = train;
    net->act = act;
    net->wver = (unsigned long)-1;
}

void vd_net_free(vd_net *net)
{
    if (!net) return;
    for (int i = net->nowned - 1; i >= 0; i--) {
        switch (net->owned_kind[i]) {
        case OWN_PD: dnnl_primitive_desc_destroy(net->owned[i]); break;
        case OWN_PRIM: dnnl_primitive_destroy(net->owned[i]); break;
        case OWN_MEM: dnnl_memory_destroy(net->owned[i]); break;
        default: free(net->owned[i]);
        }
    }
    free(net->owned);
    free(net->owned_kind);
    free(net->binds);
    for (int l = 0; l < 3; l++) free(net->steps[l]);
    memset(net, 0, sizeof *net);
}

static dnnl_memory_t new_mem(vd_net *net, const dnnl_memory_desc_t *md, void *handle)
{
    dnnl_memory_t m = NULL;
    dnnl_engine_t e = vd_engine();
    if (!e || vd_check(dnnl_memory_create(&m, md, e, handle), "creating a memory object")) return NULL;
    own(net, m, OWN_MEM);
    return m;
}

dnnl_memory_t vd_mem(vd_net *net, const dnnl_memory_desc_t *md, int slot)
{
    dnnl_memory_t m = new_mem(net, md, DNNL_MEMORY_NONE);
    if (!m) return NULL;
    if (net->nbinds == net->capbinds) {
        net->capbinds = net->capbinds ? 2 * net->capbinds : 64;
        net->binds = veil_realloc(net->binds, net->capbinds * sizeof *net->binds);
    }
    size_t size = (dnnl_memory_desc_get_size(md) + 63) & ~(size_t)63;
    net->binds[net->nbinds++] = (struct vd_bind){m, slot, 0, size};
    return m;
}

dnnl_memory_t vd_user(vd_net *net, const dnnl_memory_desc_t *md, void *ptr)
{
    return new_mem(net, md, ptr ? ptr : DNNL_MEMORY_NONE);
}

dnnl_memory_t vd_owned_mem(vd_net *net, const dnnl_memory_desc_t *md)
{
    return new_mem(net, md, DNNL_MEMORY_ALLOCATE);
}

void *vd_own(vd_net *net, size_t bytes)
{
    void *p = veil_calloc(1, bytes ? bytes : 1);
    own(net, p, OWN_HEAP);
    return p;
}

dnnl_primitive_t vd_prim(vd_net *net, dnnl_primitive_desc_t *pd, const void *op_desc,
                         const_dnnl_primitive_attr_t attr, const_dnnl_primitive_desc_t hint,
                         const char *what)
{
    dnnl_primitive_desc_t p = NULL;
    dnnl_primitive_t prim = NULL;
    dnnl_engine_t e = vd_engine();
    if (!e) return NULL;
    if (vd_check(dnnl_primitive_desc_create(&p, op_desc, attr, e, hint), what)) return NULL;
    own(net, p, OWN_PD);
    if (vd_check(dnnl_primitive_create(&prim, p), what)) return NULL;
    own(net, prim, OWN_PRIM);
    if (pd) *pd = p;
    return prim;
}

const dnnl_memory_desc_t *vd_pd_md(const_dnnl_primitive_desc_t pd, int arg)
{
    return dnnl_primitive_desc_query_md(pd, dnnl_query_exec_arg_md, arg);
}

const dnnl_memory_desc_t *vd_mem_md(const_dnnl_memory_t m)
{
    const dnnl_memory_desc_t *md = NULL;
    dnnl_memory_get_memory_desc(m, &md);
    return md;
}

static int step_push(vd_net *net, int list, vd_step s)
{
    if (net->nsteps[list] == net->capsteps[list]) {
        net->capsteps[list] = net->capsteps[list] ? 2 * net->capsteps[list] : 32;
        net->steps[list] = veil_realloc(net->steps[list], net->capsteps[list] * sizeof(vd_step));
    }
    s.block = net->block;
    s.dx_only = net->dx_only;
    net->steps[list][net->nsteps[list]++] = s;
    return 0;
}

int vd_step_add(vd_net *net, int list, dnnl_primitive_t prim, int nargs, const dnnl_exec_arg_t *args)
{
    if (!prim) return -1;
    vd_step s = {.prim = prim, .nargs = nargs};
    for (int i = 0; i < nargs; i++) {
        if (!args[i].memory) {
            veil_error("oneDNN: step argument %d has no memory", args[i].arg);
            return -1;
        }
        s.args[i] = args[i];
    }
    return step_push(net, list, s);
}

int vd_fn_add(vd_net *net, int list, vd_fn fn, void *ctx)
{
    return step_push(net, list, (vd_step){.fn = fn, .ctx = ctx});
}

int vd_reorder_add(vd_net *net, int list, dnnl_memory_t src, dnnl_memory_t dst)
{
    if (!src || !dst) return -1;
    dnnl_engine_t e = vd_engine();
    dnnl_primitive_desc_t pd = NULL;
    dnnl_primitive_t prim = NULL;
    if (vd_check(dnnl_reorder_primitive_desc_create(&pd, vd_mem_md(src), e, vd_mem_md(dst), e, NULL),
                 "creating a reorder"))
        return -1;
    own(net, pd, OWN_PD);
    if (vd_check(dnnl_primitive_create(&prim, pd), "creating a reorder")) return -1;
    own(net, prim, OWN_PRIM);
    dnnl_exec_arg_t a[2] = {{DNNL_ARG_FROM, src}, {DNNL_ARG_TO, dst}};
    return vd_step_add(net, list, prim, 2, a);
}

/* A reorder step carrying a tag (VD_TAG_*). */
static int reorder_tagged(vd_net *net, int list, dnnl_memory_t src, dnnl_memory_t dst, int tag)
{
    int k = net->nsteps[list];
    if (vd_reorder_add(net, list, src, dst)) return -1;
    net->steps[list][k].tag = tag;
    return 0;
}

int vd_adapt(vd_net *net, int list, dnnl_memory_t src, const dnnl_memory_desc_t *want, int slot,
             dnnl_memory_t *out)
{
    if (!src || !want) return -1;
    if (dnnl_memory_desc_equal(vd_mem_md(src), want)) {
        *out = src;
        return 0;
    }
    *out = vd_mem(net, want, slot);
    return vd_reorder_add(net, list, src, *out);
}

int vd_tensor_new(vd_net *net, const dnnl_memory_desc_t *md, int chain, vd_tensor *t)
{
    t->md = *md;
    t->chain = chain;
    t->mem = vd_mem(net, md, net->train ? VD_SEQ : chain % 2);
    t->dmem = net->train ? vd_mem(net, md, chain % 2) : NULL;
    return t->mem && (!net->train || t->dmem) ? 0 : -1;
}

void vd_md_plain(dnnl_memory_desc_t *md, int ndims, const int64_t *dims, dnnl_data_type_t dt)
{
    static const dnnl_format_tag_t tags[5] = {dnnl_format_tag_undef, dnnl_a, dnnl_ab, dnnl_abc, dnnl_abcd};
    dnnl_dims_t d = {0};
    memcpy(d, dims, ndims * sizeof *dims);
    dnnl_memory_desc_init_by_tag(md, ndims, d, dt, tags[ndims]);
}

void vd_md_any(dnnl_memory_desc_t *md, int ndims, const int64_t *dims, dnnl_data_type_t dt)
{
    dnnl_dims_t d = {0};
    memcpy(d, dims, ndims * sizeof *dims);
    dnnl_memory_desc_init_by_tag(md, ndims, d, dt, dnnl_format_tag_any);
}

void vd_net_finalize(vd_net *net)
{
    /* backward: blocks in reverse order, steps of a block in order (stable) */
    vd_step *b = net->steps[VD_BWD];
    int nb = net->nsteps[VD_BWD];
    vd_step *sorted = veil_malloc((nb ? nb : 1) * sizeof *sorted);
    int k = 0;
    for (int blk = net->block; blk >= 0; blk--)
        for (int i = 0; i < nb; i++)
            if (b[i].block == blk) sorted[k++] = b[i];
    free(net->steps[VD_BWD]);
    net->steps[VD_BWD] = sorted;
    net->capsteps[VD_BWD] = nb ? nb : 1;

    size_t seq = 0;
    memset(net->slot_size, 0, sizeof net->slot_size);
    for (int i = 0; i < net->nbinds; i++) {
        struct vd_bind *x = &net->binds[i];
        if (x->slot == VD_SEQ) {
            x->off = seq;
            seq += x->size;
        } else if (x->size > net->slot_size[x->slot]) {
            net->slot_size[x->slot] = x->size;
        }
    }
    size_t off = seq;
    for (int s = 0; s < VD_SLOTS; s++) {
        net->slot_off[s] = off;
        off += net->slot_size[s];
    }
    for (int i = 0; i < net->nbinds; i++)
        if (net->binds[i].slot != VD_SEQ) net->binds[i].off = net->slot_off[net->binds[i].slot];
    net->bytes = off;
    if (veil_verbosity >= 2)
        veil_log("nn: net for batch %d (%s): %.1f MiB of activations (kept %.1f; slots %.1f %.1f %.1f %.1f %.1f %.1f)",
                 net->n, net->train ? "train" : "eval", off / 1048576.0, seq / 1048576.0,
                 net->slot_size[0] / 1048576.0, net->slot_size[1] / 1048576.0, net->slot_size[2] / 1048576.0,
                 net->slot_size[3] / 1048576.0, net->slot_size[4] / 1048576.0, net->slot_size[5] / 1048576.0);
}

int vd_net_output(vd_net *net, const dnnl_memory_desc_t *md, const vd_tensor *t, dnnl_memory_t *out,
                  dnnl_memory_t *dout)
{
    *out = vd_user(net, md, NULL);
    if (!*out || vd_reorder_add(net, VD_FWD, t->mem, *out)) return -1;
    if (net->train) {
        *dout = vd_user(net, md, NULL);
        if (!*dout || vd_reorder_add(net, VD_BWD, *dout, t->dmem)) return -1;
    }
    vd_net_finalize(net);
    return 0;
}

void vd_net_bind(vd_net *net, void *base)
{
    for (int i = 0; i < net->nbinds; i++)
        dnnl_memory_set_data_handle(net->binds[i].mem, (char *)base + net->binds[i].off);
}

int vd_net_run(vd_net *net, int list, int with_dx)
{
    dnnl_stream_t st = vd_stream();
    if (!st) return -1;
    for (int i = 0; i < net->nsteps[list]; i++) {
        vd_step *s = &net->steps[list][i];
        if ((s->dx_only && !with_dx) || (s->tag & net->skip)) continue;
        if (s->fn) {
            if (vd_check(dnnl_stream_wait(st), "waiting for the stream")) return -1;
            s->fn(s->ctx, list);
        } else if (vd_check(dnnl_primitive_execute(s->prim, st, s->nargs, s->args), "executing a primitive")) {
            return -1;
        }
    }
    return vd_check(dnnl_stream_wait(st), "waiting for the stream");
}

/* ---------------- the nets of one model ---------------- */
vd_net *vd_nets_find(vd_nets *s, int n, int train)
{
    for (int i = 0; i < VD_MAX_NETS; i++)
        if (s->net[i] && s->net[i]->n == n && s->net[i]->train == train) {
            s->used[i] = ++s->clock;
            return s->net[i];
        }
    return NULL;
}

int vd_nets_add(vd_nets *s, vd_net *net)
{
    int slot = 0;
    for (int i = 0; i < VD_MAX_NETS; i++) {
        if (!s->net[i]) {
            slot = i;
            break;
        }
        if (s->used[i] < s->used[slot]) slot = i;
    }
    if (s->net[slot]) {
        vd_net_free(s->net[slot]);
        free(s->net[slot]);
    }
    s->net[slot] = net;
    s->used[slot] = ++s->clock;
    if (net->bytes > s->arena.size) {
        free(s->arena.base);
        s->arena.size = net->bytes;
        s->arena.base = veil_aligned_alloc(net->bytes);
        for (int i = 0; i < VD_MAX_NETS; i++)
            if (s->net[i]) vd_net_bind(s->net[i], s->arena.base);
    } else {
        vd_net_bind(net, s->arena.base);
    }
    return 0;
}

void vd_nets_free(vd_nets *s)
{
    for (int i = 0; i < VD_MAX_NETS; i++) {
        vd_net_free(s->net[i]);
        free(s->net[i]);
    }
    free(s->arena.base);
    memset(s, 0, sizeof *s);
}

vd_net *vd_nets_ready(vd_nets *s, const char *who, int max_batch, int n, int train, vd_build_fn build,
                      void *model)
{
    if (n < 1 || n > max_batch) {
        veil_error("%s: batch of %d outside 1..%d", who, n, max_batch);
        return NULL;
    }
    train = train ? 1 : 0;
    vd_net *net = vd_nets_find(s, n, train);
    if (!net) {
        net = build(model, n, train);
        s->last_train = NULL; /* adding may evict it */
        if (!net || vd_nets_add(s, net)) return NULL;
    }
    /* training forwards always re-read the master weights (Adam changed them) */
    if (train) s->version++;
    if (net->wver != s->version) {
        if (vd_net_run(net, VD_WSYNC, 1)) return NULL;
        net->wver = s->version;
    }
    return net;
}

int vd_nets_forward(vd_nets *s, vd_net *net, int train)
{
    if (vd_net_run(net, VD_FWD, 1)) return -1;
    s->last_train = train ? net : NULL;
    return 0;
}

vd_net *vd_nets_last_train(vd_nets *s, const char *who)
{
    /* the last forward's net must still be cached and have been a training one */
    int live = 0;
    for (int i = 0; i < VD_MAX_NETS; i++) live |= s->last_train && s->net[i] == s->last_train;
    if (!live) {
        veil_error("%s: backward needs a train=1 forward just before it", who);
        return NULL;
    }
    return s->last_train;
}

/* ---------------- parameters ---------------- */
void vd_param_init(veil_param *p, const char *name, int ndim, const int64_t *shape, int is_buffer)
{
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "%s", name);
    p->ndim = ndim;
    p->size = 1;
    for (int i = 0; i < ndim; i++) {
        p->shape[i] = shape[i];
        p->size *= (size_t)shape[i];
    }
    p->data = veil_aligned_alloc(p->size * sizeof(float));
    p->grad = veil_aligned_alloc(p->size * sizeof(float));
    memset(p->data, 0, p->size * sizeof(float));
    memset(p->grad, 0, p->size * sizeof(float));
    p->is_buffer = is_buffer;
}

void vd_param_uniform(veil_param *p, veil_rng *rng, double bound)
{
    for (size_t i = 0; i < p->size; i++) p->data[i] = (float)((2.0 * veil_rng_uniform(rng) - 1.0) * bound);
}

void vd_param_fill(veil_param *p, float v)
{
    for (size_t i = 0; i < p->size; i++) p->data[i] = v;
}

void vd_params_free(veil_param *p, int count)
{
    for (int i = 0; p && i < count; i++) {
        free(p[i].data);
        free(p[i].grad);
        free(p[i].adam_m);
        free(p[i].adam_v);
    }
}

const char *vd_params_largest(const veil_param *p, int count, double *big)
{
    const char *layer = "?";
    *big = 0;
    for (int k = 0; k < count; k++)
        for (size_t j = 0; j < p[k].size; j++)
            if (fabs((double)p[k].data[j]) > *big) {
                *big = fabs((double)p[k].data[j]);
                layer = p[k].name;
            }
    return layer;
}

/* ---------------- pieces of the weighted layers ---------------- */
dnnl_primitive_t vd_prim_relu(vd_net *net, dnnl_primitive_desc_t *pd, const void *op_desc, int relu,
                              const char *what)
{
    dnnl_primitive_attr_t attr = NULL;
    dnnl_post_ops_t po = NULL;
    if (relu) {
        dnnl_primitive_attr_create(&attr);
        dnnl_post_ops_create(&po);
        dnnl_post_ops_append_eltwise(po, 1.0f, dnnl_eltwise_relu, 0.0f, 0.0f);
        dnnl_primitive_attr_set_post_ops(attr, po);
    }
    dnnl_primitive_t prim = vd_prim(net, pd, op_desc, attr, NULL, what);
    if (attr) dnnl_primitive_attr_destroy(attr);
    if (po) dnnl_post_ops_destroy(po);
    return prim;
}

/* *out = have if its layout is `want`, else a copy of the master weights in layout `want`
 * (outside the arena), refreshed by a weight-sync step. */
static int vd_weights_as(vd_net *net, dnnl_memory_t master, dnnl_memory_t have,
                         const dnnl_memory_desc_t *want, dnnl_memory_t *out)
{
    if (dnnl_memory_desc_equal(vd_mem_md(have), want)) {
        *out = have;
        return 0;
    }
    *out = vd_owned_mem(net, want);
    return reorder_tagged(net, VD_WSYNC, master, *out, net->tag ? VD_TAG_WSYNC : 0);
}

/* ReLU backward from the forward output, in place on out's gradient. */
static int vd_relu_backward_add(vd_net *net, vd_tensor *out)
{
    dnnl_eltwise_desc_t ef, eb;
    dnnl_primitive_desc_t ehint = NULL;
    if (vd_check(dnnl_eltwise_forward_desc_init(&ef, dnnl_forward_training, dnnl_eltwise_relu_use_dst_for_bwd,
                                                &out->md, 0, 0),
                 "relu forward") ||
        vd_check(dnnl_primitive_desc_create(&ehint, &ef, NULL, vd_engine(), NULL), "relu forward"))
        return -1;
    dnnl_primitive_t rb = NULL;
    if (!vd_check(dnnl_eltwise_backward_desc_init(&eb, dnnl_eltwise_relu_use_dst_for_bwd, &out->md, &out->md, 0, 0),
                  "relu backward"))
        rb = vd_prim(net, NULL, &eb, NULL, ehint, "relu backward");
    dnnl_primitive_desc_destroy(ehint);
    dnnl_exec_arg_t ra[] = {{DNNL_ARG_DST, out->mem}, {DNNL_ARG_DIFF_DST, out->dmem}, {DNNL_ARG_DIFF_SRC, out->dmem}};
    return vd_step_add(net, VD_BWD, rb, 3, ra);
}

int vd_wlayer_forward(vd_net *net, vd_wlayer *l, dnnl_primitive_t fwd, const_dnnl_primitive_desc_t pd,
                      vd_tensor *in, vd_tensor *out)
{
    if (!fwd) return -1;
    l->wu = vd_user(net, &l->w_user, l->w->data);
    dnnl_memory_t bias = vd_user(net, &l->b_md, l->b->data);
    if (vd_adapt(net, VD_FWD, in->mem, vd_pd_md(pd, DNNL_ARG_SRC), net->train ? VD_SEQ : 2, &l->src)) return -1;
    /* weights in the primitive's layout: a copy of the master outside the arena */
    if (vd_weights_as(net, l->wu, l->wu, vd_pd_md(pd, DNNL_ARG_WEIGHTS), &l->wp)) return -1;
    if (vd_tensor_new(net, vd_pd_md(pd, DNNL_ARG_DST), in->chain + 1, out)) return -1;
    dnnl_exec_arg_t fa[] = {{DNNL_ARG_SRC, l->src}, {DNNL_ARG_WEIGHTS, l->wp}, {DNNL_ARG_BIAS, bias},
                            {DNNL_ARG_DST, out->mem}};
    if (vd_step_add(net, VD_FWD, fwd, 4, fa)) return -1;
    return net->train && l->relu ? vd_relu_backward_add(net, out) : 0;
}

int vd_wlayer_weights_grad(vd_net *net, vd_wlayer *l, dnnl_primitive_t bw, const_dnnl_primitive_desc_t wpd,
                           vd_tensor *out)
{
    if (!bw) return -1;
    dnnl_memory_t wsrc, dwp, dwu = vd_user(net, &l->w_user, l->w->grad), dbias = vd_user(net, &l->b_md, l->b->grad);
    if (vd_adapt(net, VD_BWD, l->src, vd_pd_md(wpd, DNNL_ARG_SRC), 3, &wsrc) ||
        vd_adapt(net, VD_BWD, out->dmem, vd_pd_md(wpd, DNNL_ARG_DIFF_DST), 2, &l->wdiff))
        return -1;
    const dnnl_memory_desc_t *dwmd = vd_pd_md(wpd, DNNL_ARG_DIFF_WEIGHTS);
    dwp = l->dwp = dnnl_memory_desc_equal(dwmd, &l->w_user) ? dwu : vd_mem(net, dwmd, 4);
    dnnl_exec_arg_t wa[] = {{DNNL_ARG_SRC, wsrc}, {DNNL_ARG_DIFF_DST, l->wdiff},
                            {DNNL_ARG_DIFF_WEIGHTS, dwp}, {DNNL_ARG_DIFF_BIAS, dbias}};
    if (vd_step_add(net, VD_BWD, bw, 4, wa)) return -1;
    if (dwp != dwu && reorder_tagged(net, VD_BWD, dwp, dwu, net->tag ? VD_TAG_WGRAD : 0)) return -1;
    return 0;
}

int vd_wlayer_data_grad(vd_net *net, vd_wlayer *l, dnnl_primitive_t bd, const_dnnl_primitive_desc_t dpd,
                        vd_tensor *in, vd_tensor *out)
{
    if (!bd) return -1;
    dnnl_memory_t ddst, wb, dsrc;
    const dnnl_memory_desc_t *want = vd_pd_md(dpd, DNNL_ARG_DIFF_DST);
    if (dnnl_memory_desc_equal(vd_mem_md(l->wdiff), want))
        ddst = l->wdiff;
    else if (vd_adapt(net, VD_BWD, out->dmem, want, 5, &ddst))
        return -1;
    if (vd_weights_as(net, l->wu, l->wp, vd_pd_md(dpd, DNNL_ARG_WEIGHTS), &wb)) return -1;
    l->wb = wb;
    want = vd_pd_md(dpd, DNNL_ARG_DIFF_SRC);
    dsrc = dnnl_memory_desc_equal(want, &in->md) ? in->dmem : vd_mem(net, want, 3);
    dnnl_exec_arg_t da[] = {{DNNL_ARG_DIFF_DST, ddst}, {DNNL_ARG_WEIGHTS, wb}, {DNNL_ARG_DIFF_SRC, dsrc}};
    if (vd_step_add(net, VD_BWD, bd, 3, da)) return -1;
    if (dsrc != in->dmem && vd_reorder_add(net, VD_BWD, dsrc, in->dmem)) return -1;
    return 0;
}
