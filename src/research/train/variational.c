/* Variational-information feature extraction (Nelus & Martin, ICASSP 2019): f outputs the
 * mean mu of q(z|x), a log-variance layer on f's last pooled map gives logvar; f, the
 * log-variance layer and the gender head g are trained together on
 *   cross-entropy(g(z)) + beta KL(q(z|x) || N(0, I)),   z = mu + exp(logvar/2) eps,
 * with early stopping on gender-evaluation accuracy (g on mu). The trained f is the
 * ordinary extractor: evaluation, the gender test and the attacker use mu. Choices in
 * docs/protocol.md ("Variational information"). */
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "method.h"
#include "veil/common.h"

static const veil_setting settings[] = {
    {"vib_beta", VEIL_SETTING_DOUBLE, offsetof(veil_variational_settings, beta), 1e-2, 0, 1e6,
     "budget scaling factor beta: weight of KL(q(z|x) || N(0, I)) (nats, summed over z)"},
    {"vib_epochs", VEIL_SETTING_INT, offsetof(veil_variational_settings, epochs), 30, 1, 100000,
     "most epochs of f, the log-variance layer and g together"},
    {"vib_logvar_init", VEIL_SETTING_FLOAT, offsetof(veil_variational_settings, logvar_init), -6, -30, 10,
     "initial bias of the log-variance layer (log sigma^2 of the noise at the start)"},
};
_Static_assert(sizeof(veil_variational_settings) <= sizeof(veil_method_settings), "settings too large");

/* eps ~ N(0, 1): Box-Muller, both values of each pair (the noise is most of the random
 * numbers a step draws at G = 1: 200 x 16384 per batch) */
static void fill_normal(veil_rng *rng, float *eps, size_t count)
{
    for (size_t i = 0; i < count; i += 2) {
        double u1 = veil_rng_uniform(rng), u2 = veil_rng_uniform(rng);
        if (u1 < 1e-300) u1 = 1e-300;
        double r = sqrt(-2.0 * log(u1)), a = 2.0 * M_PI * u2;
        eps[i] = (float)(r * cos(a));
        if (i + 1 < count) eps[i + 1] = (float)(r * sin(a));
    }
}

typedef struct variational_state {
    veil_extractor *f;
    veil_logvar *v;
    veil_head *g;
    veil_param *vp;
    int vcount;
    veil_adam vadam;
    veil_rng noise;
    uint64_t seed;
    float beta;
    size_t dim;
    float *mu, *lv, *eps, *z, *dz, *dlv, *kmu, *klv, *dmu_lv, *logits, *dlogits;
    const char *name;
} variational_state;

static void variational_epoch_begin(void *m, int epoch)
{
    variational_state *s = m;
    veil_rng_seed(&s->noise, veil_seed_mix(s->seed, 0x6e6f6973, (uint64_t)epoch));
}

/* sums: [0] the objective x rows, [1] cross-entropy x rows, [2] KL x rows, [3] the mean
 * sigma of each row, summed */
static int variational_step(void *m, const float *x, int k, const int *gender, const int *speaker, int epoch,
                            size_t batch, double *sums)
{
    (void)speaker;
    variational_state *s = m;
    size_t dim = s->dim, kz = (size_t)k * dim;
    int cls = veil_head_config_of(s->g)->classes;
    float beta = s->beta;
    /* forward: mu = f(x), logvar = W mu + b, z = mu + exp(logvar/2) eps, g(z) */
    if (veil_extractor_forward(s->f, x, k, 1, s->mu) || veil_logvar_forward(s->v, s->mu, k, 1, s->lv)) return -1;
    fill_normal(&s->noise, s->eps, kz);
    veil_reparam_forward(s->mu, s->lv, s->eps, kz, s->z);
    if (veil_head_forward(s->g, s->z, k, 1, s->logits)) return -1;
    float ce = veil_softmax_xent(s->logits, gender, k, cls, s->dlogits);
    float kl = veil_kl_normal(s->mu, s->lv, k, (int)dim, s->kmu, s->klv);
    double loss = (double)ce + (double)beta * kl;
    if (!veil_finite_loss(loss, s->name, "variational (cross-entropy + beta KL)", epoch, batch)) return -1;
    /* backward: g gives dL/dz; the sample passes it to mu unchanged and to logvar through
     * eps; beta KL adds to both; logvar's input gradient joins mu's */
    if (veil_head_backward(s->g, s->dlogits, s->dz)) return -1;
    veil_reparam_backward(s->dz, s->lv, s->eps, kz, s->dlv);
    for (size_t i = 0; i < kz; i++) {
        s->dlv[i] += beta * s->klv[i];
        s->dz[i] += beta * s->kmu[i];
    }
    if (veil_logvar_backward(s->v, s->dlv, s->dmu_lv)) return -1;
    for (size_t i = 0; i < kz; i++) s->dz[i] += s->dmu_lv[i];
    if (veil_extractor_backward(s->f, s->dz)) return -1;
    veil_adam_step(&s->vadam, s->vp, s->vcount);
    double sig = 0;
    for (size_t i = 0; i < kz; i++) sig += expf(0.5f * s->lv[i]);
    sums[0] += loss * (double)k;
    sums[1] += (double)ce * (double)k;
    sums[2] += (double)kl * (double)k;
    sums[3] += sig / (double)dim;
    return 0;
}

static void variational_describe(void *m, char *buf, size_t n, int epoch, const double *sums, double rows, double acc)
{
    (void)m;
    if (epoch == 0) buf[0] = 0;
    else snprintf(buf, n, "epoch %d loss %.4f KL %.3g gender-eval %.1f%%", epoch, sums[0] / rows, sums[2] / rows,
                  100 * acc);
}

static void variational_log(void *m, int epoch, const double *sums, double rows, double acc, double spread)
{
    veil_log("%s: variational epoch %d loss %.4f (cross-entropy %.4f, KL %.4g) mean sigma %.4g "
             "mu spread %.4g gender-eval %.1f%%",
             ((variational_state *)m)->name, epoch, sums[0] / rows, sums[1] / rows, sums[2] / rows, sums[3] / rows,
             spread, 100 * acc);
}

static double variational_final_loss(void *m, const double *sums, double rows)
{
    (void)m;
    return sums[0] / rows;
}

int veil_train_variational(veil_extractor *f, veil_logvar *v, veil_head *g, const veil_patch_set *p,
                           const veil_labelled *train, const veil_labelled *eval,
                           const veil_train_config *tc, const veil_variational_settings *vs,
                           uint64_t seed, const char *name, veil_train_report *rep)
{
    size_t dim = (size_t)veil_extractor_dim(f);
    if ((size_t)veil_logvar_dim(v) != dim) {
        veil_error("%s: log-variance layer %d does not match the extractor's %zu", name, veil_logvar_dim(v), dim);
        return -1;
    }
    size_t zb = (size_t)tc->gender_batch * dim, lb = (size_t)tc->gender_batch * (size_t)veil_head_config_of(g)->classes;
    variational_state s;
    memset(&s, 0, sizeof s);
    s.f = f, s.v = v, s.g = g, s.seed = seed, s.beta = (float)vs->beta, s.dim = dim, s.name = name;
    s.vp = veil_logvar_params(v, &s.vcount);
    veil_adam_init(&s.vadam, tc->lr);
    float **bufs[9] = {&s.mu, &s.lv, &s.eps, &s.z, &s.dz, &s.dlv, &s.kmu, &s.klv, &s.dmu_lv};
    for (int i = 0; i < 9; i++) *bufs[i] = veil_aligned_alloc(zb * sizeof(float));
    s.logits = veil_malloc(lb * sizeof(float));
    s.dlogits = veil_malloc(lb * sizeof(float));
    char label[160];
    snprintf(label, sizeof label, "%s: f+g (variational, beta %g)", name, vs->beta);
    veil_fg_method fm = {&s, label, vs->epochs, veil_seed_mix(seed, 0x76696200, 0), seed, 4, variational_step,
                         variational_epoch_begin, variational_describe, variational_log, variational_final_loss};
    int rc = veil_train_fg(f, g, p, train, eval, NULL, tc, &fm, name, rep);
    for (int i = 0; i < 9; i++) free(*bufs[i]);
    free(s.logits), free(s.dlogits);
    return rc;
}

static int variational_train(const veil_train_context *ctx, veil_trained *out)
{
    const veil_train_config *tc = ctx->tc;
    const veil_variational_settings *vs = ctx->settings;
    int dim = veil_extractor_config_dim(ctx->arch);
    veil_head_config hc = {dim, tc->head_hidden, veil_train_classes(ctx), tc->dropout};
    int head_batch = tc->gender_batch > tc->extract_batch ? tc->gender_batch : tc->extract_batch;
    out->f = veil_train_new_extractor(ctx, tc->gender_batch, veil_seed_mix(ctx->seed, 0x696e6974, 0));
    out->g = veil_head_new(&hc, head_batch, ctx->precision, veil_seed_mix(ctx->seed, 0x67656e64, 0));
    veil_logvar *v = veil_logvar_new(ctx->arch, tc->gender_batch, ctx->precision,
                                     veil_seed_mix(ctx->seed, 0x6c6f6776, 0), vs->logvar_init);
    int rc = -1;
    if (out->f && out->g && v &&
        !veil_train_variational(out->f, v, out->g, ctx->patches, ctx->train, ctx->eval, tc, vs,
                                veil_seed_mix(ctx->seed, 0x76696200, 0), ctx->name, &out->rep))
        rc = 0;
    /* the log-variance layer only serves training: the saved model is f (the mean) and g */
    veil_logvar_free(v);
    if (rc) {
        veil_extractor_free(out->f);
        veil_head_free(out->g);
        out->f = NULL;
        out->g = NULL;
    }
    return rc;
}

const veil_train_method veil_method_variational = {
    .name = "variational",
    .id = VEIL_METHOD_VARIATIONAL,
    .about = "variational information: f, a log-variance layer and g trained on cross-entropy + beta KL",
    VEIL_METHOD_SETTINGS(settings, veil_variational_settings),
    .epochs_setting = "vib_epochs",
    /* at G = 5, 1e-1 already leaves gender at chance (docs/protocol.md): the values
     * crowd where the trade-off happens */
    VEIL_METHOD_KNOB("vib_beta", 1e-3, 1e-2, 3e-2, 1e-1),
    .groups = VEIL_GROUPS_SWEEP,
    .train = variational_train,
};
