/* veil nn: the paper's fixed network family, forward and backward.
 *   extractor f: G groups; group j = BatchNorm2d -> 3 x (Conv2d F_j x F'_j x F'_j,
 *                'same', ReLU) -> MaxPool 2x2/2; output flattened (C,H,W order).
 *   head g / a:  Linear(dim,1024) -> ReLU -> Dropout(0.5) -> Linear(1024,C).
 * oneDNN does the heavy work (fp32, or bf16 compute with fp32 master weights); a
 * plain-C reference of every layer lives in tests/nn_ref.h for the tests.
 * See docs/network.md for layouts, initialisation and every choice. */
#ifndef VEIL_NN_H
#define VEIL_NN_H

#include <stddef.h>
#include <stdint.h>
#include "veil/export.h"

VEIL_API_BEGIN

#define VEIL_MAX_GROUPS 5
/* BatchNorm constants, defined once (PyTorch's defaults). Running statistics:
 * running = (1 - momentum) * running + momentum * batch (unbiased variance). */
#define VEIL_BN_EPS 1e-5f
#define VEIL_BN_MOMENTUM 0.1f

/* ---- precision ---- */
typedef enum { VEIL_PREC_FP32 = 0, VEIL_PREC_BF16 = 1, VEIL_PREC_AUTO = 2 } veil_precision;
int veil_precision_parse(const char *s, veil_precision *out); /* "fp32" | "bf16" | "auto" */
const char *veil_precision_name(veil_precision p);
/* auto -> bf16 where the CPU has native bf16 (AVX512-BF16 or AMX), else fp32; bf16 on a
 * CPU without it is an error (message says why). Also says what it picked on request. */
int veil_precision_resolve(veil_precision requested, veil_precision *resolved);
int veil_cpu_has_bf16(void);

/* ---- parameters: fp32 master values, gradients and Adam state, all in the same layout ---- */
typedef struct veil_param {
    char name[64];     /* e.g. "f.g1.conv1.weight", "head.fc1.bias" (docs/network.md) */
    int ndim;
    int64_t shape[4];  /* standard (PyTorch) shape: OIHW, [out,in], [C] */
    size_t size;       /* number of values */
    float *data;       /* master values (fp32), standard layout */
    float *grad;       /* gradient of the last backward (overwritten, not accumulated) */
    float *adam_m, *adam_v;
    int is_buffer;     /* 1 for BatchNorm running mean/var: saved, not trained */
} veil_param;

/* ---- extractor f ---- */
typedef struct veil_extractor_config {
    int groups;                      /* G = 1..5; 0: no group, the patch itself (the raw baseline) */
    int in_h, in_w;                  /* 32 x 32 */
    int convs_per_group;             /* 3 */
    int filters[VEIL_MAX_GROUPS];    /* 64, 128, 256, 512, 512 */
    int kernels[VEIL_MAX_GROUPS];    /* 5, 3, 3, 2, 2 */
    /* 0 (the paper): the output is the last group's pooled map, flattened. d > 0: that map
     * then goes through a linear layer to d values (f.out.weight [d, map], f.out.bias [d];
     * the bottleneck baseline), computed in fp32 at any precision. */
    int out_dim;
} veil_extractor_config;
void veil_extractor_config_paper(veil_extractor_config *c, int groups);
int veil_extractor_config_validate(const veil_extractor_config *c);
int veil_extractor_config_dim(const veil_extractor_config *c); /* output size (out_dim when set) */
int veil_extractor_config_map_dim(const veil_extractor_config *c); /* the last group's map, flattened */

typedef struct veil_extractor veil_extractor;
/* max_batch: the largest n passed to forward. seed: initialisation (PyTorch's defaults). */
veil_extractor *veil_extractor_new(const veil_extractor_config *c, int max_batch,
                                   veil_precision precision, uint64_t seed);
void veil_extractor_free(veil_extractor *f);
const veil_extractor_config *veil_extractor_config_of(const veil_extractor *f);
int veil_extractor_dim(const veil_extractor *f);
veil_precision veil_extractor_precision(const veil_extractor *f);
/* x: n x 1 x in_h x in_w (row-major), z: n x dim. train=1: BatchNorm uses batch
 * statistics and updates its running statistics; train=0: running statistics. */
int veil_extractor_forward(veil_extractor *f, const float *x, int n, int train, float *z);
/* After a train=1 forward of the same n: sets every parameter gradient from dz (n x dim). */
int veil_extractor_backward(veil_extractor *f, const float *dz);
/* n outputs z of the extractor: -1 (naming what, the patch and the layer with the largest
 * weight) when one is NaN or infinite, as finite but huge weights make them. */
int veil_extractor_check_output(veil_extractor *f, const float *z, size_t n, const char *what);
/* Values (grads 0) or gradients (grads 1, buffers skipped) of params: -1 naming what and
 * the layer when one is NaN or infinite. */
int veil_params_check_finite(const veil_param *params, int count, int grads, const char *what);
/* Parameters and buffers, in this fixed order, for j = 1..G:
 *   f.g{j}.bn.weight [Cin], f.g{j}.bn.bias [Cin], f.g{j}.bn.running_mean [Cin] (buffer),
 *   f.g{j}.bn.running_var [Cin] (buffer), then for k = 1..3:
 *   f.g{j}.conv{k}.weight [F_j, Cin_k, F'_j, F'_j] (OIHW), f.g{j}.conv{k}.bias [F_j]
 * where Cin is 1 for j = 1, else F_{j-1}; Cin_1 = Cin, Cin_2 = Cin_3 = F_j; then, with
 * out_dim d > 0, f.out.weight [d, map] and f.out.bias [d] (torch.nn.Linear's). */
veil_param *veil_extractor_params(veil_extractor *f, int *count);
/* Call after changing param->data from outside (loading a model, a test). */
void veil_extractor_params_changed(veil_extractor *f);

/* ---- MLP head g (gender) / a (attacker) ---- */
typedef struct veil_head_config {
    int in_dim;
    int hidden;     /* 1024 */
    int classes;    /* 2 for gender, St for the attacker */
    float dropout;  /* 0.5 */
} veil_head_config;

typedef struct veil_head veil_head;
veil_head *veil_head_new(const veil_head_config *c, int max_batch, veil_precision precision,
                         uint64_t seed);
void veil_head_free(veil_head *h);
const veil_head_config *veil_head_config_of(const veil_head *h);
/* x: n x in_dim, logits: n x classes. train=1 applies dropout (inverted scaling). */
int veil_head_forward(veil_head *h, const float *x, int n, int train, float *logits);
/* After a train=1 forward: sets parameter gradients; writes dx (n x in_dim) if not NULL. */
int veil_head_backward(veil_head *h, const float *dlogits, float *dx);
/* n rows of logits of the head: -1 (naming what, the patch and the layer with the largest
 * weight) when one is NaN or infinite, so a posterior would be NaN. */
int veil_head_check_output(veil_head *h, const float *logits, size_t n, const char *what);
/* head.fc1.weight [hidden, in_dim], head.fc1.bias [hidden],
 * head.fc2.weight [classes, hidden], head.fc2.bias [classes]. */
veil_param *veil_head_params(veil_head *h, int *count);
void veil_head_params_changed(veil_head *h);

/* ---- variational information (Nelus & Martin, ICASSP 2019; docs/network.md) ----
 * The extractor's output is the mean mu of q(z|x) (n x dim: the last group's pooled map,
 * C x s x s flattened). The log-variance comes from a 1x1 convolution C -> C of that map
 * (a per-position linear map): logvar = W mu + b at each of the s x s positions, so a
 * trained f stays the ordinary extractor. Training samples z = mu + exp(logvar/2) eps. */
typedef struct veil_logvar veil_logvar;
/* c: the extractor's architecture (C = filters[G-1], s = in_h / 2^G). Weights uniform
 * (+-1/sqrt(C), PyTorch's default for a 1x1 conv), biases all bias_init. */
veil_logvar *veil_logvar_new(const veil_extractor_config *c, int max_batch, veil_precision precision,
                             uint64_t seed, float bias_init);
void veil_logvar_free(veil_logvar *v);
int veil_logvar_dim(const veil_logvar *v); /* = the extractor's dim */
/* mu, logvar: n x dim. */
int veil_logvar_forward(veil_logvar *v, const float *mu, int n, int train, float *logvar);
/* After a train=1 forward: sets the parameter gradients from dlogvar; writes dmu (the
 * input gradient, n x dim) if not NULL. */
int veil_logvar_backward(veil_logvar *v, const float *dlogvar, float *dmu);
/* vib.logvar.weight [C, C, 1, 1] (OIHW), vib.logvar.bias [C]. */
veil_param *veil_logvar_params(veil_logvar *v, int *count);
void veil_logvar_params_changed(veil_logvar *v);

/* Reparameterisation over count values: z = mu + exp(logvar/2) eps. */
void veil_reparam_forward(const float *mu, const float *logvar, const float *eps, size_t count, float *z);
/* Its backward for the noise eps of the forward: dz/dmu is the identity (dmu = dz), and
 * dlogvar = dz eps exp(logvar/2) / 2 (written). */
void veil_reparam_backward(const float *dz, const float *logvar, const float *eps, size_t count,
                           float *dlogvar);
/* KL(N(mu, diag exp(logvar)) || N(0, I)) = 1/2 sum_k (mu^2 + exp(logvar) - logvar - 1),
 * summed over the dim values of a row, mean over the n rows (accumulated in double).
 * dmu, dlogvar (n x dim, may be NULL) receive the gradients of that mean. */
float veil_kl_normal(const float *mu, const float *logvar, int n, int dim, float *dmu, float *dlogvar);

/* ---- losses (plain C; means over the batch) ---- */
/* Softmax cross-entropy. dlogits (n x classes) may be NULL. Returns the mean loss. */
float veil_softmax_xent(const float *logits, const int *labels, int n, int classes, float *dlogits);
/* Contrastive loss of the paper: y=0 similar, y=1 dissimilar;
 * (1-y) d^2 + y max(0, m-d)^2 with d = ||z1-z2||_2. dz1, dz2, dist may be NULL.
 * The gradient of d at d = 0 is taken as 0 (the loss terms are smooth there). */
float veil_contrastive(const float *z1, const float *z2, const int *y, int n, int dim, float margin,
                       float *dz1, float *dz2, float *dist);

/* ---- Adam ---- */
typedef struct veil_adam {
    float lr, beta1, beta2, eps;
    long step;
} veil_adam;
void veil_adam_init(veil_adam *a, float lr); /* beta1 .9, beta2 .999, eps 1e-8 */
/* One update of every non-buffer parameter from its grad (allocates adam_m/v on first use). */
void veil_adam_step(veil_adam *a, veil_param *params, int count);
/* One Adam step over the head's parameters from the last train=1 forward and backward:
 * the same values as veil_adam_step(a, veil_head_params(h)), without copying fc1.weight
 * and its gradient between layouts at each step (nn_head.c). While such steps run, the
 * head keeps fc1.weight's values, gradient and moments itself; veil_head_params() (and
 * an evaluation forward) bring params[0] up to date. -1 after veil_error. */
int veil_head_adam_step(veil_head *h, veil_adam *a);

/* ---- threads: oneDNN follows veil_set_threads() (common.h) ---- */

VEIL_API_END

#endif
