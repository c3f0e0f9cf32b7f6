/* The best-response adversarial method (issue 19): the adversarial method (f, g and a
 * speaker adversary with a reversed gradient) with an adversary built like the attackers
 * that beat it:
 *   - it reads z standardised per dimension with running statistics of f's output
 *     (exponential average over batches, treated as constants): an f that only shrinks or
 *     shifts a dimension no longer hides it, since every learned attacker of the battery
 *     standardises its input the same way;
 *   - it takes br_steps Adam steps per batch on that batch's features (one with the
 *     reversal, the rest on the stored standardised features), so it stays near a best
 *     response to the current f instead of one step behind.
 * f minimises J = L_g - lambda L_a(standardised z): dJ/dz = dL_g/dz - lambda dL_a/ds / sd
 * (veil_adversarial_gradients_std, checked against finite differences in
 * tests/test_adversarial.c). Early stopping on gender-evaluation accuracy (veil_train_fg).
 * docs/protocol.md, "Best-response adversary". */
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "train/method.h"
#include "veil/common.h"

typedef struct best_response_settings {
    double lambda;   /* weight of the reversed speaker gradient: the swept knob */
    int epochs;      /* most epochs */
    int steps;       /* adversary Adam steps per batch */
    double momentum; /* weight of a new batch in the running statistics */
} best_response_settings;
_Static_assert(sizeof(best_response_settings) <= sizeof(veil_method_settings), "settings too large");

static const veil_setting settings[] = {
    {"br_lambda", VEIL_SETTING_DOUBLE, offsetof(best_response_settings, lambda), 1, 0, 1e6,
     "weight of the reversed gradient of the standardised speaker adversary (swept)"},
    {"br_epochs", VEIL_SETTING_INT, offsetof(best_response_settings, epochs), 30, 1, 100000,
     "most epochs of f, g and the adversary together"},
    {"br_steps", VEIL_SETTING_INT, offsetof(best_response_settings, steps), 5, 1, 1000,
     "adversary Adam steps per batch (1: one step, as the adversarial method)"},
    {"br_momentum", VEIL_SETTING_DOUBLE, offsetof(best_response_settings, momentum), 0.1, 1e-6, 1,
     "weight of each batch in the running mean and variance that standardise the adversary's input"},
};

typedef struct best_response_state {
    veil_extractor *f;
    veil_head *g, *a;
    veil_param *ap;
    int acount, n_speakers, steps, have_stats;
    veil_adam aadam;
    float lambda;
    double lambda_d, momentum;
    size_t dim;
    double *run_mean, *run_var;
    float *mean, *inv_sd;
    veil_adversarial_work w;
    const char *name;
} best_response_state;

/* The standardisation the next batch uses: the running statistics, updated with z's */
static void update_stats(best_response_state *s, const float *z, int k)
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

static int best_response_step(void *m, const float *x, int k, const int *gender, const int *speaker, int epoch,
                              size_t batch, double *sums)
{
    best_response_state *s = m;
    /* the first batch of a run sets the statistics from its own features first */
    if (!s->have_stats) {
        if (veil_extractor_forward(s->f, x, k, 0, s->w.z)) return -1;
        update_stats(s, s->w.z, k);
    }
    float loss_g, loss_a;
    if (veil_adversarial_gradients_std(s->f, s->g, s->a, x, k, gender, speaker, s->lambda, s->mean, s->inv_sd, &s->w,
                                       &loss_g, &loss_a))
        return -1;
    if (!veil_finite_loss(loss_g, s->name, "gender cross-entropy", epoch, batch) ||
        !veil_finite_loss(loss_a, s->name, "speaker-adversary cross-entropy", epoch, batch))
        return -1;
    veil_adam_step(&s->aadam, s->ap, s->acount);
    /* the adversary's further steps on the same standardised features (f and g wait) */
    for (int t = 1; t < s->steps; t++) {
        float l;
        if (veil_head_forward(s->a, s->w.zs, k, 1, s->w.logits_speaker)) return -1;
        l = veil_softmax_xent(s->w.logits_speaker, speaker, k, s->n_speakers, s->w.dlogits_speaker);
        if (!veil_finite_loss(l, s->name, "speaker-adversary cross-entropy", epoch, batch)) return -1;
        if (veil_head_backward(s->a, s->w.dlogits_speaker, NULL)) return -1;
        veil_adam_step(&s->aadam, s->ap, s->acount);
    }
    update_stats(s, s->w.z, k);
    sums[0] += (double)loss_g * (double)k;
    sums[1] += (double)loss_a * (double)k;
    return 0;
}

static void best_response_describe(void *m, char *buf, size_t n, int epoch, const double *sums, double rows,
                                   double acc)
{
    (void)m, (void)acc;
    if (epoch == 0) snprintf(buf, n, ", adversary loss %.3f", sums[1] / rows);
    else snprintf(buf, n, "epoch %d gender loss %.4f adversary loss %.4f", epoch, sums[0] / rows, sums[1] / rows);
}

static void best_response_log(void *m, int epoch, const double *sums, double rows, double acc, double spread)
{
    (void)spread;
    const best_response_state *s = m;
    veil_log("%s: best-response epoch %d gender loss %.4f adversary loss %.4f (chance %.4f) gender-eval %.1f%%",
             s->name, epoch, sums[0] / rows, sums[1] / rows, log((double)s->n_speakers), 100 * acc);
}

static double best_response_final_loss(void *m, const double *sums, double rows)
{
    return sums[0] / rows - ((best_response_state *)m)->lambda_d * (sums[1] / rows);
}

static int best_response_train(const veil_train_context *ctx, veil_trained *out)
{
    const best_response_settings *bs = ctx->settings;
    const veil_train_config *tc = ctx->tc;
    if (ctx->train->n == 0 || ctx->eval->n == 0 || ctx->n_speakers < 2) {
        veil_error("%s: the best-response method needs training and evaluation patches of 2 or more speakers",
                   ctx->name);
        return -1;
    }
    int batch = tc->gender_batch, dim = veil_extractor_config_dim(ctx->arch);
    int head_batch = batch > tc->extract_batch ? batch : tc->extract_batch;
    veil_head_config gc = {dim, tc->head_hidden, 2, tc->dropout};
    veil_head_config ac = {dim, tc->head_hidden, ctx->n_speakers, tc->dropout};
    veil_extractor *f = veil_train_new_extractor(ctx, batch, veil_seed_mix(ctx->seed, 0x696e6974, 0));
    veil_head *g = veil_head_new(&gc, head_batch, ctx->precision, veil_seed_mix(ctx->seed, 0x67656e64, 0));
    veil_head *a = veil_head_new(&ac, head_batch, ctx->precision, veil_seed_mix(ctx->seed, 0x62727370, 0));
    best_response_state s;
    memset(&s, 0, sizeof s);
    int rc = -1;
    if (!f || !g || !a) goto done;
    s.f = f, s.g = g, s.a = a, s.n_speakers = ctx->n_speakers, s.lambda = (float)bs->lambda;
    s.lambda_d = bs->lambda, s.name = ctx->name, s.steps = bs->steps, s.momentum = bs->momentum;
    s.dim = (size_t)dim;
    s.run_mean = veil_calloc((size_t)dim, sizeof *s.run_mean);
    s.run_var = veil_calloc((size_t)dim, sizeof *s.run_var);
    s.mean = veil_calloc((size_t)dim, sizeof *s.mean);
    s.inv_sd = veil_calloc((size_t)dim, sizeof *s.inv_sd);
    s.ap = veil_head_params(a, &s.acount);
    veil_adam_init(&s.aadam, tc->lr);
    veil_adversarial_work_init(&s.w, batch, dim, ctx->n_speakers);
    char label[160];
    snprintf(label, sizeof label, "%s: f+g+best-response adversary (lambda %g, %d steps)", ctx->name, bs->lambda,
             bs->steps);
    veil_fg_method fm = {&s, label, bs->epochs, veil_seed_mix(ctx->seed, 0x62727300, 0), ctx->seed, 2,
                         best_response_step, NULL, best_response_describe, best_response_log,
                         best_response_final_loss};
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
    veil_extractor_free(f);
    veil_head_free(g);
    veil_head_free(a);
    return rc;
}

const veil_train_method veil_method_best_response = {
    .name = "best-response",
    .id = 4,
    .about = "adversarial, with the adversary standardising its input and taking several steps per batch "
             "(beyond the paper; opt-in)",
    .settings = settings,
    .n_settings = (int)(sizeof settings / sizeof settings[0]),
    .settings_size = sizeof(best_response_settings),
    .epochs_setting = "br_epochs",
    .knob = "br_lambda",
    .sweep = (const double[]){0.1, 0.3, 1, 3},
    .n_sweep = 4,
    .groups = VEIL_GROUPS_SWEEP,
    .opt_in = 1,
    .train = best_response_train,
};
