/* Internal: the oneDNN 2.6 plumbing shared by the extractor and the heads.
 *
 * A "net" is everything one (batch size, train/eval) shape needs: primitive
 * descriptors, primitives, memory objects and three step lists (forward,
 * backward, weight sync). Activations live in one arena owned by the model
 * (vd_arena), shared by all its nets, since they run one at a time:
 *   - kept tensors (VD_SEQ) get their own offset: forward activations of a
 *     training net, pooling workspaces, BatchNorm statistics;
 *   - slots 0/1 alternate along the layer chain (gradients of a training net,
 *     activations of an evaluation net), slots 2..VD_SLOTS-1 hold temporary
 *     copies in another layout; a slot is as large as its largest user.
 * Layers (nn_extractor.c, nn_head.c) append their forward and backward steps
 * side by side; the backward list runs layer blocks in reverse order. */
#ifndef VEIL_NN_DNNL_H
#define VEIL_NN_DNNL_H

#include <oneapi/dnnl/dnnl.h>
#include <stddef.h>

#include "veil/common.h"
#include "veil/nn.h"

dnnl_engine_t vd_engine(void); /* NULL (with veil_error) when oneDNN fails */
dnnl_stream_t vd_stream(void);
int vd_check(dnnl_status_t s, const char *what); /* 0, or -1 after veil_error */
dnnl_data_type_t vd_act_type(veil_precision p);  /* bf16 or f32 activations */

enum { VD_SEQ = -1, VD_SLOTS = 6 };
enum { VD_FWD = 0, VD_BWD = 1, VD_WSYNC = 2 };

typedef void (*vd_fn)(void *ctx, int dir);

typedef struct vd_step {
    dnnl_primitive_t prim; /* or fn(ctx) */
    vd_fn fn;
    void *ctx;
    int block, dx_only, tag, nargs;
    dnnl_exec_arg_t args[12];
} vd_step;

/* Step tags: a net skips the steps whose tag is in its skip mask (nn_head.c's fused Adam
 * keeps the first layer's weights and gradient in the primitives' layout, so their
 * layout copies are not needed). */
enum { VD_TAG_WSYNC = 1, VD_TAG_WGRAD = 2 };

/* A tensor of the layer chain: value, gradient (training nets), chain index. */
typedef struct vd_tensor {
    dnnl_memory_desc_t md;
    dnnl_memory_t mem, dmem;
    int chain;
} vd_tensor;

typedef struct vd_net {
    int n, train;
    dnnl_data_type_t act;
    vd_step *steps[3];
    int nsteps[3], capsteps[3];
    int block, dx_only;
    int tag;  /* tag of the next weight-sync / weight-gradient reorders (0: none) */
    int skip; /* steps tagged with any of these do not run */
    int input_grad_optional; /* next layer's input gradient steps run only when dx is asked */
    struct vd_bind { dnnl_memory_t mem; int slot; size_t off, size; } *binds;
    int nbinds, capbinds;
    void **owned; /* pds, prims, memories, contexts: freed with the net */
    int *owned_kind, nowned, capowned;
    size_t slot_size[VD_SLOTS], slot_off[VD_SLOTS], bytes;
    unsigned long wver; /* weights version last synced */
} vd_net;

void vd_net_init(vd_net *net, int n, int train, dnnl_data_type_t act);
void vd_net_free(vd_net *net);
/* Memory in the arena (slot VD_SEQ or 0..VD_SLOTS-1). */
dnnl_memory_t vd_mem(vd_net *net, const dnnl_memory_desc_t *md, int slot);
/* Memory on a caller's buffer (ptr NULL: set later with dnnl_memory_set_data_handle). */
dnnl_memory_t vd_user(vd_net *net, const dnnl_memory_desc_t *md, void *ptr);
dnnl_memory_t vd_owned_mem(vd_net *net, const dnnl_memory_desc_t *md); /* oneDNN allocates */
void *vd_own(vd_net *net, size_t bytes);                                 /* zeroed, freed with net */
dnnl_primitive_t vd_prim(vd_net *net, dnnl_primitive_desc_t *pd, const void *op_desc,
                         const_dnnl_primitive_attr_t attr, const_dnnl_primitive_desc_t hint,
                         const char *what);
const dnnl_memory_desc_t *vd_pd_md(const_dnnl_primitive_desc_t pd, int arg);
const dnnl_memory_desc_t *vd_mem_md(const_dnnl_memory_t m);
int vd_step_add(vd_net *net, int list, dnnl_primitive_t prim, int nargs, const dnnl_exec_arg_t *args);
int vd_fn_add(vd_net *net, int list, vd_fn fn, void *ctx);
int vd_reorder_add(vd_net *net, int list, dnnl_memory_t src, dnnl_memory_t dst);
/* out = src if it has layout `want`, else a copy in `slot` made by a reorder step. */
int vd_adapt(vd_net *net, int list, dnnl_memory_t src, const dnnl_memory_desc_t *want, int slot,
             dnnl_memory_t *out);
/* A chain tensor: value in the arena (kept if training, else slot chain%2), gradient in slot chain%2. */
int vd_tensor_new(vd_net *net, const dnnl_memory_desc_t *md, int chain, vd_tensor *t);
void vd_md_plain(dnnl_memory_desc_t *md, int ndims, const int64_t *dims, dnnl_data_type_t dt);
void vd_md_any(dnnl_memory_desc_t *md, int ndims, const int64_t *dims, dnnl_data_type_t dt);
/* Sort the backward list into reverse block order, lay out the slots. */
void vd_net_finalize(vd_net *net);
/* A net's end: its output *out, a memory of md on the caller's buffer that t is reordered
 * into, in training also *dout, the caller's gradient reordered into t's; then
 * vd_net_finalize. 0, or -1. */
int vd_net_output(vd_net *net, const dnnl_memory_desc_t *md, const vd_tensor *t, dnnl_memory_t *out,
                  dnnl_memory_t *dout);
void vd_net_bind(vd_net *net, void *base);
int vd_net_run(vd_net *net, int list, int with_dx);

/* The arena and the per-shape nets of one model. */
typedef struct vd_arena {
    void *base;
    size_t size;
} vd_arena;
enum { VD_MAX_NETS = 6 };
typedef struct vd_nets {
    vd_net *net[VD_MAX_NETS];
    unsigned long used[VD_MAX_NETS], clock;
    vd_arena arena;
    vd_net *last_train;    /* net of the last train=1 forward (for backward) */
    unsigned long version; /* bumped when the master weights may have changed */
} vd_nets;
/* The cached net for (n, train), or NULL. */
vd_net *vd_nets_find(vd_nets *s, int n, int train);
/* Adopt a finalized net (evicting the least recently used one), grow the arena. */
int vd_nets_add(vd_nets *s, vd_net *net);
void vd_nets_free(vd_nets *s);
/* A model's forward, first half: the cached net for (n, train), built by build(model, n, train)
 * on a miss, with the master weights synced. `who` names the model in errors. NULL after veil_error.
 * The caller then sets its data handles and calls vd_nets_forward. */
typedef vd_net *(*vd_build_fn)(void *model, int n, int train);
vd_net *vd_nets_ready(vd_nets *s, const char *who, int max_batch, int n, int train, vd_build_fn build,
                      void *model);
/* Runs net's forward list and remembers it for backward if train. */
int vd_nets_forward(vd_nets *s, vd_net *net, int train);
/* The net of the last forward if that was a train=1 one still cached, else NULL after veil_error. */
vd_net *vd_nets_last_train(vd_nets *s, const char *who);

/* Standard parameter setup (PyTorch defaults). */
void vd_param_init(veil_param *p, const char *name, int ndim, const int64_t *shape, int is_buffer);
void vd_param_uniform(veil_param *p, veil_rng *rng, double bound);
void vd_param_fill(veil_param *p, float v);
void vd_params_free(veil_param *p, int count);
/* The name of the tensor that holds the largest |value| of the list, *big that value (the
 * layer most likely to overflow, for the non-finite output messages); "?" if all are 0. */
const char *vd_params_largest(const veil_param *p, int count, double *big);

/* Pieces of the weighted layers (conv, inner product). */
/* A forward primitive from op_desc, with ReLU fused as a post-op if relu; *pd: its descriptor. */
dnnl_primitive_t vd_prim_relu(vd_net *net, dnnl_primitive_desc_t *pd, const void *op_desc, int relu,
                              const char *what);
/* A weighted layer while its builder runs: the caller sets w, b, relu, w_user, b_md; the steps
 * below fill in the memories the later ones read. */
typedef struct vd_wlayer {
    veil_param *w, *b;
    int relu;
    dnnl_memory_desc_t w_user, b_md;  /* master weights (plain fp32) and bias */
    dnnl_memory_t src, wu, wp, wdiff; /* input and weights as the primitives read them */
    dnnl_memory_t dwp, wb;            /* weight gradient as written, weights as backward-data reads them */
} vd_wlayer;
/* The forward step fwd (of pd): reads in (a copy where the layout differs), the weights (a synced
 * copy where the layout differs) and the bias; writes out, a new chain tensor. A training net
 * also gets the ReLU's backward step. */
int vd_wlayer_forward(vd_net *net, vd_wlayer *l, dnnl_primitive_t fwd, const_dnnl_primitive_desc_t pd,
                      vd_tensor *in, vd_tensor *out);
/* The weights-gradient step bw (of wpd): writes w->grad (through a reorder unless the layout is
 * w_user's) and b->grad. */
int vd_wlayer_weights_grad(vd_net *net, vd_wlayer *l, dnnl_primitive_t bw, const_dnnl_primitive_desc_t wpd,
                           vd_tensor *out);
/* The input-gradient step bd (of dpd): writes in's gradient. */
int vd_wlayer_data_grad(vd_net *net, vd_wlayer *l, dnnl_primitive_t bd, const_dnnl_primitive_desc_t dpd,
                        vd_tensor *in, vd_tensor *out);

/* Layer builders shared by the models and the tests. */
int vd_bn_build(vd_net *net, vd_tensor *in, veil_param *bn4, vd_tensor *out);
int vd_conv_build(vd_net *net, vd_tensor *in, veil_param *w, veil_param *b, int relu, vd_tensor *out);
int vd_pool_build(vd_net *net, vd_tensor *in, vd_tensor *out);
int vd_linear_build(vd_net *net, vd_tensor *in, veil_param *w, veil_param *b, int relu,
                    dnnl_data_type_t dst_type, vd_tensor *out);
/* The same, keeping the layer's memories in *l (tagging its weight reorders with net->tag). */
int vd_linear_build_layer(vd_net *net, vd_tensor *in, veil_param *w, veil_param *b, int relu,
                          dnnl_data_type_t dst_type, vd_tensor *out, vd_wlayer *l);

/* Adam pieces (nn_adam.c) for models that update a tensor in their own layout. */
void vd_adam_begin(veil_adam *a, float *step_size, float *inv_sqrt_bc2); /* a->step++, bias corrections */
void vd_adam_param(veil_param *p, const veil_adam *a, float step_size, float inv_sqrt_bc2);
/* p, g, m, v: n values in any one layout; after each chunk's update, if done is given,
 * done(ctx, start, count) runs on it (same thread, the chunk still in cache). */
void vd_adam_arrays(float *p, const float *g, float *m, float *v, size_t n, const veil_adam *a,
                    float step_size, float inv_sqrt_bc2, void (*done)(void *ctx, size_t start, size_t count),
                    void *ctx);

/* The Adam pattern over p, g, m, v in vd_adam_arrays' chunks and threads, with XORs for
 * arithmetic (m ^= g, v ^= g, p ^= m ^ v): 28 bytes a value; a second pass undoes it. */
void vd_adam_stream(float *p, const float *g, float *m, float *v, size_t n);

/* The arrays veil_head_adam_step updated last for fc1.weight (the step's largest: the
 * fused blocked state, or the plain parameter's), *n values each; -1 before a step. */
int vd_head_adam_arrays(veil_head *h, float **p, float **g, float **m, float **v, size_t *n);
/* Bytes one veil_head_adam_step must at least move: 28 per parameter value (read the
 * value, its gradient and both moments; write the value and both moments). */
double vd_head_adam_bytes(const veil_head *h);

/* The dropout mask of the head's last training forward (n x hidden, 1 keep). */
const unsigned char *vd_head_last_mask(const veil_head *h);
/* 1 while veil_head_adam_step keeps fc1.weight in the primitives' layout (tests). */
int vd_head_fused(const veil_head *h);

#endif
