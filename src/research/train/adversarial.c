/* The adversarial method (Nelus & Martin, ITG 2018): f, the gender head g and a speaker
 * adversary a (an MLP naming the St gender-training speakers from z) trained together
 * with a gradient-reversal layer between f and a:
 *   g and a minimise their own cross-entropies L_g and L_a;
 *   f minimises J = L_g - lambda L_a, i.e. dJ/dz = dL_g/dz - lambda dL_a/dz.
 * One forward and one backward per batch, all three updated by Adam at the same step.
 * Early stopping on gender-evaluation accuracy, as the reference. docs/protocol.md. */
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "method.h"
#include "veil/common.h"

typedef struct adversarial_settings {
    double lambda; /* weight of the reversed speaker gradient: the swept knob */
    int epochs;    /* most epochs */
} adversarial_settings;
_Static_assert(sizeof(adversarial_settings) <= sizeof(veil_method_settings), "settings too large");

static const veil_setting settings[] = {
    {"adv_lambda", VEIL_SETTING_DOUBLE, offsetof(adversarial_settings, lambda), 1, 0, 1e6,
     "adversarial: weight of the reversed speaker-adversary gradient (swept)"},
    {"adv_epochs", VEIL_SETTING_INT, offsetof(adversarial_settings, epochs), 30, 1, 100000,
     "adversarial: most epochs of f, g and the adversary together"},
};

void veil_adversarial_work_init(veil_adversarial_work *w, int max_n, int dim, int classes, int speakers)
{
    memset(w, 0, sizeof *w);
    w->max_n = max_n;
    w->z = veil_aligned_alloc((size_t)max_n * (size_t)dim * sizeof(float));
    w->dz = veil_aligned_alloc((size_t)max_n * (size_t)dim * sizeof(float));
    w->dz_speaker = veil_aligned_alloc((size_t)max_n * (size_t)dim * sizeof(float));
    w->logits_gender = veil_malloc((size_t)max_n * (size_t)classes * sizeof(float));
    w->dlogits_gender = veil_malloc((size_t)max_n * (size_t)classes * sizeof(float));
    w->logits_speaker = veil_malloc((size_t)max_n * (size_t)speakers * sizeof(float));
    w->dlogits_speaker = veil_malloc((size_t)max_n * (size_t)speakers * sizeof(float));
}

void veil_adversarial_work_free(veil_adversarial_work *w)
{
    free(w->z);
    free(w->dz);
    free(w->dz_speaker);
    free(w->zs);
    free(w->logits_gender);
    free(w->dlogits_gender);
    free(w->logits_speaker);
    free(w->dlogits_speaker);
    memset(w, 0, sizeof *w);
}

int veil_adversarial_gradients(veil_extractor *f, veil_head *g, veil_head *a, const float *x, int n,
                               const int *gender, const int *speaker, float lambda,
                               veil_adversarial_work *w, float *loss_gender, float *loss_speaker)
{
    return veil_adversarial_gradients_std(f, g, a, x, n, gender, speaker, lambda, NULL, NULL, w, loss_gender,
                                          loss_speaker);
}

int veil_adversarial_gradients_std(veil_extractor *f, veil_head *g, veil_head *a, const float *x, int n,
                                   const int *gender, const int *speaker, float lambda, const float *mean,
                                   const float *inv_sd, veil_adversarial_work *w, float *loss_gender,
                                   float *loss_speaker)
{
    size_t dim = (size_t)veil_extractor_dim(f);
    int st = veil_head_config_of(a)->classes;
    if (n > w->max_n) {
        veil_error("adversarial: batch of %d beyond the work space's %d", n, w->max_n);
        return -1;
    }
    if (veil_extractor_forward(f, x, n, 1, w->z) || veil_head_forward(g, w->z, n, 1, w->logits_gender))
        return -1;
    /* the adversary's input: z, or z standardised with the given (constant) statistics */
    const float *za = w->z;
    if (mean) {
        if (!w->zs) w->zs = veil_aligned_alloc((size_t)w->max_n * dim * sizeof(float));
        for (size_t i = 0; i < (size_t)n; i++)
            for (size_t d = 0; d < dim; d++) w->zs[i * dim + d] = (w->z[i * dim + d] - mean[d]) * inv_sd[d];
        za = w->zs;
    }
    if (veil_head_forward(a, za, n, 1, w->logits_speaker)) return -1;
    *loss_gender = veil_softmax_xent(w->logits_gender, gender, n, veil_head_config_of(g)->classes, w->dlogits_gender);
    *loss_speaker = veil_softmax_xent(w->logits_speaker, speaker, n, st, w->dlogits_speaker);
    if (veil_head_backward(g, w->dlogits_gender, w->dz) || veil_head_backward(a, w->dlogits_speaker, w->dz_speaker))
        return -1;
    /* the reversal: f climbs the adversary's loss, scaled by lambda (and by 1/sd through
     * the standardisation) */
    if (mean) {
        for (size_t i = 0; i < (size_t)n; i++)
            for (size_t d = 0; d < dim; d++) w->dz[i * dim + d] -= lambda * w->dz_speaker[i * dim + d] * inv_sd[d];
    } else {
        for (size_t i = 0; i < (size_t)n * dim; i++) w->dz[i] -= lambda * w->dz_speaker[i];
    }
    return veil_extractor_backward(f, w->dz);
}

typedef struct adversarial_state {
    veil_extractor *f;
    veil_head *g, *a;
    veil_param *ap;
    int acount, n_speakers;
    veil_adam aadam;
    float lambda;
    double lambda_d; /* the setting as given: J is reported in double */
    veil_adversarial_work w;
    const char *name, *kind; /* kind: "adversarial", "best-response" in -v lines */
    /* best response: adversary steps per batch; standardisation (momentum > 0) with the
     * running statistics of f's output */
    int steps, have_stats;
    double momentum;
    size_t dim;
    double *run_mean, *run_var;
    float *mean, *inv_sd;
} adversarial_state;

/* The standardisation the next batch uses: the running statistics, updated with z's */
static void update_stats(adversarial_state *s, const float *z, int k)
{
    size_t dim = s->dim;
    for (size_t d = 0; d < dim; d++) {
        double m = 0, v = 0;
        for (int i = 0; i < k; i++) m += z[(size_t)i * dim + d];
        m /= k;
        for (int i = 0; i < k; i++) {
            double e = z[(size_t)i * dim + d] - m;
            v += e * e;
        }
        v /= k;
        if (s->have_stats) {
            s->run_mean[d] += s->momentum * (m - s->run_mean[d]);
            s->run_var[d] += s->momentum * (v - s->run_var[d]);
        } else {
            s->run_mean[d] = m, s->run_var[d] = v;
        }
        s->mean[d] = (float)s->run_mean[d];
        s->inv_sd[d] = (float)(1 / sqrt(s->run_var[d] + 1e-12));
    }
    s->have_stats = 1;
}

/* One batch: the reversal's gradients, the adversary's own Adam step(s) (the loop steps
 * f and g) */
static int adversarial_step(void *m, const float *x, int k, const int *gender, const int *speaker, int epoch,
                            size_t batch, double *sums)
{
    adversarial_state *s = m;
    int standardise = s->momentum > 0;
    /* the first batch of a run sets the statistics from its own features first */
    if (standardise && !s->have_stats) {
        if (veil_extractor_forward(s->f, x, k, 0, s->w.z)) return -1;
        update_stats(s, s->w.z, k);
    }
    float loss_g, loss_a;
    if (veil_adversarial_gradients_std(s->f, s->g, s->a, x, k, gender, speaker, s->lambda,
                                       standardise ? s->mean : NULL, standardise ? s->inv_sd : NULL, &s->w, &loss_g,
                                       &loss_a))
        return -1;
    if (!veil_finite_loss(loss_g, s->name, "gender cross-entropy", epoch, batch) ||
        !veil_finite_loss(loss_a, s->name, "speaker-adversary cross-entropy", epoch, batch))
        return -1;
    veil_adam_step(&s->aadam, s->ap, s->acount);
    /* a best response: the adversary's further steps on the same features (f, g wait) */
    const float *za = standardise ? s->w.zs : s->w.z;
    for (int t = 1; t < s->steps; t++) {
        if (veil_head_forward(s->a, za, k, 1, s->w.logits_speaker)) return -1;
        float l = veil_softmax_xent(s->w.logits_speaker, speaker, k, s->n_speakers, s->w.dlogits_speaker);
        if (!veil_finite_loss(l, s->name, "speaker-adversary cross-entropy", epoch, batch) ||
            veil_head_backward(s->a, s->w.dlogits_speaker, NULL))
            return -1;
        veil_adam_step(&s->aadam, s->ap, s->acount);
    }
    if (standardise) update_stats(s, s->w.z, k);
    sums[0] += (double)loss_g * (double)k;
    sums[1] += (double)loss_a * (double)k;
    return 0;
}

static void adversarial_describe(void *m, char *buf, size_t n, int epoch, const double *sums, double rows, double acc)
{
    (void)m, (void)acc;
    if (epoch == 0) snprintf(buf, n, ", adversary loss %.3f", sums[1] / rows);
    else snprintf(buf, n, "epoch %d gender loss %.4f adversary loss %.4f", epoch, sums[0] / rows, sums[1] / rows);
}

static void adversarial_log(void *m, int epoch, const double *sums, double rows, double acc, double spread)
{
    (void)spread;
    const adversarial_state *s = m;
    veil_log("%s: %s epoch %d gender loss %.4f adversary loss %.4f (chance %.4f) gender-eval %.1f%%", s->name,
             s->kind, epoch, sums[0] / rows, sums[1] / rows, log((double)s->n_speakers), 100 * acc);
}

/* the combined objective J = L_gender - lambda L_speaker of the last epoch */
static double adversarial_final_loss(void *m, const double *sums, double rows)
{
    return sums[0] / rows - ((adversarial_state *)m)->lambda_d * (sums[1] / rows);
}

int veil_train_adversarial_with(const veil_train_context *ctx, const veil_adversarial_options *o, veil_trained *out)
{
    const veil_train_config *tc = ctx->tc;
    if (ctx->train->n == 0 || ctx->eval->n == 0 || ctx->n_speakers < 2) {
        veil_error("%s: the %s method needs training and evaluation patches of 2 or more speakers", ctx->name,
                   o->kind);
        return -1;
    }
    int batch = tc->gender_batch, dim = veil_extractor_config_dim(ctx->arch);
    int head_batch = batch > tc->extract_batch ? batch : tc->extract_batch;
    veil_head_config gc = {dim, tc->head_hidden, veil_train_classes(ctx), tc->dropout};
    veil_head_config ac = {dim, tc->head_hidden, ctx->n_speakers, tc->dropout};
    veil_extractor *f = veil_train_new_extractor(ctx, batch, veil_seed_mix(ctx->seed, 0x696e6974, 0));
    veil_head *g = veil_head_new(&gc, head_batch, ctx->precision, veil_seed_mix(ctx->seed, 0x67656e64, 0));
    veil_head *a = veil_head_new(&ac, head_batch, ctx->precision, veil_seed_mix(ctx->seed, o->adversary_salt, 0));
    adversarial_state s;
    memset(&s, 0, sizeof s);
    int rc = -1;
    if (!f || !g || !a) goto done;
    s.f = f, s.g = g, s.a = a, s.n_speakers = ctx->n_speakers, s.lambda = (float)o->lambda;
    s.lambda_d = o->lambda, s.name = ctx->name, s.kind = o->kind;
    s.steps = o->steps > 1 ? o->steps : 1, s.momentum = o->momentum, s.dim = (size_t)dim;
    if (o->momentum > 0) {
        s.run_mean = veil_calloc((size_t)dim, sizeof *s.run_mean);
        s.run_var = veil_calloc((size_t)dim, sizeof *s.run_var);
        s.mean = veil_calloc((size_t)dim, sizeof *s.mean);
        s.inv_sd = veil_calloc((size_t)dim, sizeof *s.inv_sd);
    }
    s.ap = veil_head_params(a, &s.acount);
    veil_adam_init(&s.aadam, tc->lr);
    veil_adversarial_work_init(&s.w, batch, dim, veil_train_classes(ctx), ctx->n_speakers);
    char label[160];
    if (s.steps > 1 || o->momentum > 0)
        snprintf(label, sizeof label, "%s: f+g+%s adversary (lambda %g, %d steps)", ctx->name, o->kind, o->lambda,
                 s.steps);
    else snprintf(label, sizeof label, "%s: f+g+adversary (lambda %g)", ctx->name, o->lambda);
    veil_fg_method fm = {&s, label, o->epochs, veil_seed_mix(ctx->seed, o->shuffle_salt, 0), ctx->seed, 2,
                         adversarial_step, NULL, adversarial_describe, adversarial_log, adversarial_final_loss};
    if (veil_train_fg(f, g, ctx->patches, ctx->train, ctx->eval, ctx->train_speaker, tc, &fm, ctx->name, &out->rep))
        goto done;
    out->f = f;
    out->g = g;
    f = NULL;
    g = NULL;
    rc = 0;
done:
    veil_adversarial_work_free(&s.w);
    free(s.run_mean), free(s.run_var), free(s.mean), free(s.inv_sd);
    veil_extractor_free(f), veil_head_free(g), veil_head_free(a);
    return rc;
}

static int adversarial_train(const veil_train_context *ctx, veil_trained *out)
{
    const adversarial_settings *as = ctx->settings;
    veil_adversarial_options o = {"adversarial", as->lambda, as->epochs, 1, 0, 0x61647672, 0x61647600};
    return veil_train_adversarial_with(ctx, &o, out);
}

const veil_train_method veil_method_adversarial = {
    .name = "adversarial",
    .id = 2,
    .about = "f, g and a speaker adversary together; f gets the adversary's gradient reversed x lambda",
    VEIL_METHOD_SETTINGS(settings, adversarial_settings),
    .epochs_setting = "adv_epochs",
    VEIL_METHOD_KNOB("adv_lambda", 0, 0.1, 1, 10),
    .groups = VEIL_GROUPS_SWEEP,
    .train = adversarial_train,
};
