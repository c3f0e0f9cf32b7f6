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

#include "train/method.h"
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

int veil_train_variational(veil_extractor *f, veil_logvar *v, veil_head *g, const veil_patch_set *p,
                           const veil_labelled *train, const veil_labelled *eval,
                           const veil_train_config *tc, const veil_variational_settings *vs,
                           uint64_t seed, const char *name, veil_train_report *rep)
{
    memset(rep, 0, sizeof *rep);
    rep->d_similar = rep->d_dissimilar = NAN;
    if (veil_check_patch_shape(f, p)) return -1;
    if (train->n == 0 || eval->n == 0) {
        veil_error("%s: the variational method needs training and evaluation patches", name);
        return -1;
    }
    const veil_head_config *hc = veil_head_config_of(g);
    int batch = tc->gender_batch, cls = hc->classes;
    size_t dim = (size_t)veil_extractor_dim(f), hw = (size_t)p->patch_h * p->patch_w;
    if ((size_t)hc->in_dim != dim || (size_t)veil_logvar_dim(v) != dim) {
        veil_error("%s: head input %d and log-variance layer %d do not match the extractor's %zu", name,
                   hc->in_dim, veil_logvar_dim(v), dim);
        return -1;
    }
    size_t zb = (size_t)batch * dim;
    float *x = veil_aligned_alloc((size_t)batch * hw * sizeof(float));
    float *mu = veil_aligned_alloc(zb * sizeof(float)), *lv = veil_aligned_alloc(zb * sizeof(float));
    float *eps = veil_aligned_alloc(zb * sizeof(float)), *z = veil_aligned_alloc(zb * sizeof(float));
    float *dz = veil_aligned_alloc(zb * sizeof(float)), *dlv = veil_aligned_alloc(zb * sizeof(float));
    float *kmu = veil_aligned_alloc(zb * sizeof(float)), *klv = veil_aligned_alloc(zb * sizeof(float));
    float *dmu_lv = veil_aligned_alloc(zb * sizeof(float));
    float *logits = veil_malloc((size_t)batch * cls * sizeof(float));
    float *dlogits = veil_malloc((size_t)batch * cls * sizeof(float));
    float *zeval = veil_aligned_alloc(eval->n * dim * sizeof(float));
    int *lb = veil_malloc((size_t)batch * sizeof(int));
    size_t *order = veil_malloc(train->n * sizeof(size_t)), *bidx = veil_malloc((size_t)batch * sizeof(size_t));
    int fcount, vcount, gcount, rc = -1;
    veil_param *fp = veil_extractor_params(f, &fcount), *vp = veil_logvar_params(v, &vcount),
               *gp = veil_head_params(g, &gcount);
    veil_snapshot fbest = {0, NULL}, gbest = {0, NULL};
    veil_adam fadam, vadam, gadam;
    veil_adam_init(&fadam, tc->lr);
    veil_adam_init(&vadam, tc->lr);
    veil_adam_init(&gadam, tc->lr);
    veil_rng rng, noise;
    veil_rng_seed(&rng, veil_seed_mix(seed, 0x76696200, 0));
    float beta = (float)vs->beta;
    double te = veil_now(); /* the evaluation passes are timed apart (the job's stage profile) */
    if (tc->bn_recalibrate && veil_bn_recalibrate(f, p, train, (size_t)batch, veil_seed_mix(seed, 0x626e, 0)))
        goto done;
    if (veil_extract_features(f, p, eval->idx, eval->n, tc->extract_batch, zeval)) goto done;
    rep->eval_seconds += veil_now() - te;
    rep->z_spread_init = veil_z_spread(zeval, eval->n, dim);
    size_t batches = (train->n + (size_t)batch - 1) / (size_t)batch;
    char label[160], extra[200];
    snprintf(label, sizeof label, "%s: f+g (variational, beta %g)", name, vs->beta);
    veil_progress prog;
    veil_progress_begin(&prog, label, (long)vs->epochs * (long)batches);
    double best_acc = -1, epoch_loss = NAN, last_acc = NAN;
    int since_best = 0;
    for (size_t i = 0; i < train->n; i++) order[i] = i;
    for (int epoch = 1; epoch <= vs->epochs; epoch++) {
        veil_shuffle_size(&rng, order, train->n);
        veil_rng_seed(&noise, veil_seed_mix(seed, 0x6e6f6973, (uint64_t)epoch));
        double loss_sum = 0, ce_sum = 0, kl_sum = 0, sigma_sum = 0;
        for (size_t b = 0; b < batches; b++) {
            size_t start = b * (size_t)batch;
            size_t k = train->n - start < (size_t)batch ? train->n - start : (size_t)batch, kz = k * dim;
            for (size_t i = 0; i < k; i++) {
                bidx[i] = train->idx[order[start + i]];
                lb[i] = train->label[order[start + i]];
            }
            veil_gather_patches(p, bidx, k, x);
            /* forward: mu = f(x), logvar = W mu + b, z = mu + exp(logvar/2) eps, g(z) */
            if (veil_extractor_forward(f, x, (int)k, 1, mu) || veil_logvar_forward(v, mu, (int)k, 1, lv)) goto done;
            fill_normal(&noise, eps, kz);
            veil_reparam_forward(mu, lv, eps, kz, z);
            if (veil_head_forward(g, z, (int)k, 1, logits)) goto done;
            float ce = veil_softmax_xent(logits, lb, (int)k, cls, dlogits);
            float kl = veil_kl_normal(mu, lv, (int)k, (int)dim, kmu, klv);
            double loss = (double)ce + (double)beta * kl;
            if (!veil_finite_loss(loss, name, "variational (cross-entropy + beta KL)", epoch, b)) goto done;
            /* backward: g gives dL/dz; the sample passes it to mu unchanged and to logvar
             * through eps; beta KL adds to both; logvar's input gradient joins mu's */
            if (veil_head_backward(g, dlogits, dz)) goto done;
            veil_reparam_backward(dz, lv, eps, kz, dlv);
            for (size_t i = 0; i < kz; i++) {
                dlv[i] += beta * klv[i];
                dz[i] += beta * kmu[i];
            }
            if (veil_logvar_backward(v, dlv, dmu_lv)) goto done;
            for (size_t i = 0; i < kz; i++) dz[i] += dmu_lv[i];
            if (veil_extractor_backward(f, dz)) goto done;
            veil_adam_step(&fadam, fp, fcount);
            veil_adam_step(&vadam, vp, vcount);
            veil_adam_step(&gadam, gp, gcount);
            double s = 0;
            for (size_t i = 0; i < kz; i++) s += expf(0.5f * lv[i]);
            loss_sum += loss * (double)k;
            ce_sum += (double)ce * (double)k;
            kl_sum += (double)kl * (double)k;
            sigma_sum += s / (double)dim;
            snprintf(extra, sizeof extra, "epoch %d loss %.4f KL %.3g gender-eval %.1f%%", epoch,
                     loss_sum / (double)(start + k), kl_sum / (double)(start + k), 100 * last_acc);
            veil_progress_update(&prog, (long)(epoch - 1) * (long)batches + (long)b + 1, extra);
        }
        epoch_loss = loss_sum / (double)train->n;
        rep->epochs_run = epoch;
        te = veil_now();
        if (tc->bn_recalibrate &&
            veil_bn_recalibrate(f, p, train, (size_t)batch, veil_seed_mix(seed, 0x626e, (uint64_t)epoch)))
            goto done;
        if (veil_extract_features(f, p, eval->idx, eval->n, tc->extract_batch, zeval)) goto done;
        double acc = veil_head_accuracy(g, zeval, eval->label, eval->n, tc->extract_batch, NULL);
        rep->eval_seconds += veil_now() - te;
        if (isnan(acc)) goto done;
        last_acc = acc;
        double spread = veil_z_spread(zeval, eval->n, dim);
        if (acc > best_acc || (tc->ties_improve && acc == best_acc)) {
            best_acc = acc;
            rep->best_epoch = epoch;
            rep->best_eval_acc = acc;
            rep->z_spread = spread;
            veil_snapshot_save(&fbest, fp, fcount);
            veil_snapshot_save(&gbest, gp, gcount);
            since_best = 0;
        } else {
            since_best++;
        }
        if (veil_verbosity >= 2)
            veil_log("%s: variational epoch %d loss %.4f (cross-entropy %.4f, KL %.4g) mean sigma %.4g "
                     "mu spread %.4g gender-eval %.1f%%",
                     name, epoch, epoch_loss, ce_sum / (double)train->n, kl_sum / (double)train->n,
                     sigma_sum / (double)train->n, spread, 100 * acc);
        if (since_best >= tc->patience) break;
    }
    rep->final_loss = epoch_loss;
    if (rep->best_epoch > 0) {
        veil_snapshot_restore(&fbest, fp);
        veil_snapshot_restore(&gbest, gp);
        veil_extractor_params_changed(f);
        veil_head_params_changed(g);
    }
    snprintf(extra, sizeof extra, "%d epochs, best %d: gender-eval %.1f%%", rep->epochs_run, rep->best_epoch,
             100 * rep->best_eval_acc);
    veil_progress_end(&prog, extra);
    rc = 0;
done:
    veil_snapshot_free(&fbest);
    veil_snapshot_free(&gbest);
    free(x), free(mu), free(lv), free(eps), free(z), free(dz), free(dlv), free(kmu), free(klv), free(dmu_lv);
    free(logits), free(dlogits), free(zeval), free(lb), free(order), free(bidx);
    return rc;
}

static int variational_train(const veil_train_context *ctx, veil_trained *out)
{
    const veil_train_config *tc = ctx->tc;
    const veil_variational_settings *vs = ctx->settings;
    int dim = veil_extractor_config_dim(ctx->arch);
    veil_head_config hc = {dim, tc->head_hidden, 2, tc->dropout};
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
    .settings = settings,
    .n_settings = (int)(sizeof settings / sizeof settings[0]),
    .settings_size = sizeof(veil_variational_settings),
    .epochs_setting = "vib_epochs",
    .knob = "vib_beta",
    /* at G = 5, 1e-1 already leaves gender at chance (docs/protocol.md): the values
     * crowd where the trade-off happens */
    .sweep = (const double[]){1e-3, 1e-2, 3e-2, 1e-1},
    .n_sweep = 4,
    .groups = VEIL_GROUPS_SWEEP,
    .train = variational_train,
};
