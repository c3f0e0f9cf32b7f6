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

#include "train/method.h"
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

void veil_adversarial_work_init(veil_adversarial_work *w, int max_n, int dim, int speakers)
{
    memset(w, 0, sizeof *w);
    w->max_n = max_n;
    w->z = veil_aligned_alloc((size_t)max_n * (size_t)dim * sizeof(float));
    w->dz = veil_aligned_alloc((size_t)max_n * (size_t)dim * sizeof(float));
    w->dz_speaker = veil_aligned_alloc((size_t)max_n * (size_t)dim * sizeof(float));
    w->logits_gender = veil_malloc((size_t)max_n * 2 * sizeof(float));
    w->dlogits_gender = veil_malloc((size_t)max_n * 2 * sizeof(float));
    w->logits_speaker = veil_malloc((size_t)max_n * (size_t)speakers * sizeof(float));
    w->dlogits_speaker = veil_malloc((size_t)max_n * (size_t)speakers * sizeof(float));
}

void veil_adversarial_work_free(veil_adversarial_work *w)
{
    free(w->z);
    free(w->dz);
    free(w->dz_speaker);
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
    size_t dim = (size_t)veil_extractor_dim(f);
    int st = veil_head_config_of(a)->classes;
    if (n > w->max_n) {
        veil_error("adversarial: batch of %d beyond the work space's %d", n, w->max_n);
        return -1;
    }
    if (veil_extractor_forward(f, x, n, 1, w->z) || veil_head_forward(g, w->z, n, 1, w->logits_gender) ||
        veil_head_forward(a, w->z, n, 1, w->logits_speaker))
        return -1;
    *loss_gender = veil_softmax_xent(w->logits_gender, gender, n, 2, w->dlogits_gender);
    *loss_speaker = veil_softmax_xent(w->logits_speaker, speaker, n, st, w->dlogits_speaker);
    if (veil_head_backward(g, w->dlogits_gender, w->dz) || veil_head_backward(a, w->dlogits_speaker, w->dz_speaker))
        return -1;
    /* the reversal: f climbs the adversary's loss, scaled by lambda */
    for (size_t i = 0; i < (size_t)n * dim; i++) w->dz[i] -= lambda * w->dz_speaker[i];
    return veil_extractor_backward(f, w->dz);
}

static int adversarial_train(const veil_train_context *ctx, veil_trained *out)
{
    const adversarial_settings *as = ctx->settings;
    const veil_train_config *tc = ctx->tc;
    const veil_labelled *train = ctx->train, *eval = ctx->eval;
    const veil_patch_set *p = ctx->patches;
    veil_train_report *rep = &out->rep;
    memset(rep, 0, sizeof *rep);
    rep->d_similar = rep->d_dissimilar = NAN;
    if (train->n == 0 || eval->n == 0 || ctx->n_speakers < 2) {
        veil_error("%s: the adversarial method needs training and evaluation patches of 2 or more speakers",
                   ctx->name);
        return -1;
    }
    int batch = tc->gender_batch, dim = veil_extractor_config_dim(ctx->arch);
    int head_batch = batch > tc->extract_batch ? batch : tc->extract_batch;
    veil_head_config gc = {dim, tc->head_hidden, 2, tc->dropout};
    veil_head_config ac = {dim, tc->head_hidden, ctx->n_speakers, tc->dropout};
    veil_extractor *f = veil_train_new_extractor(ctx, batch, veil_seed_mix(ctx->seed, 0x696e6974, 0));
    veil_head *g = veil_head_new(&gc, head_batch, ctx->precision, veil_seed_mix(ctx->seed, 0x67656e64, 0));
    veil_head *a = veil_head_new(&ac, head_batch, ctx->precision, veil_seed_mix(ctx->seed, 0x61647672, 0));
    size_t hw = (size_t)p->patch_h * p->patch_w;
    float *x = veil_aligned_alloc((size_t)batch * hw * sizeof(float));
    float *zeval = veil_aligned_alloc(eval->n * (size_t)dim * sizeof(float));
    int *lg = veil_malloc((size_t)batch * sizeof(int)), *ls = veil_malloc((size_t)batch * sizeof(int));
    size_t *order = veil_malloc(train->n * sizeof(size_t)), *bidx = veil_malloc((size_t)batch * sizeof(size_t));
    veil_adversarial_work w;
    veil_adversarial_work_init(&w, batch, dim, ctx->n_speakers);
    veil_snapshot fbest = {0, NULL}, gbest = {0, NULL};
    int rc = -1, fcount = 0, gcount = 0, acount = 0;
    if (!f || !g || !a) goto done;
    veil_param *fp = veil_extractor_params(f, &fcount), *gp = veil_head_params(g, &gcount),
               *ap = veil_head_params(a, &acount);
    veil_adam fadam, gadam, aadam;
    veil_adam_init(&fadam, tc->lr);
    veil_adam_init(&gadam, tc->lr);
    veil_adam_init(&aadam, tc->lr);
    veil_rng rng;
    veil_rng_seed(&rng, veil_seed_mix(ctx->seed, 0x61647600, 0));
    double te = veil_now(); /* evaluation passes: the stage profile's train_eval */
    if (tc->bn_recalibrate && veil_bn_recalibrate(f, p, train, (size_t)batch, veil_seed_mix(ctx->seed, 0x626e, 0)))
        goto done;
    if (veil_extract_features(f, p, eval->idx, eval->n, tc->extract_batch, zeval)) goto done;
    rep->z_spread_init = veil_z_spread(zeval, eval->n, (size_t)dim);
    rep->eval_seconds += veil_now() - te;
    size_t batches = (train->n + (size_t)batch - 1) / (size_t)batch;
    char label[160], extra[160];
    snprintf(label, sizeof label, "%s: f+g+adversary (lambda %g)", ctx->name, as->lambda);
    veil_progress prog;
    veil_progress_begin(&prog, label, (long)as->epochs * (long)batches);
    double best_acc = -1, epoch_loss = NAN, last_acc = NAN, speaker_loss = NAN;
    int since_best = 0;
    for (size_t i = 0; i < train->n; i++) order[i] = i;
    for (int epoch = 1; epoch <= as->epochs; epoch++) {
        veil_shuffle_size(&rng, order, train->n);
        double sum_g = 0, sum_a = 0;
        for (size_t b = 0; b < batches; b++) {
            size_t start = b * (size_t)batch;
            size_t k = train->n - start < (size_t)batch ? train->n - start : (size_t)batch;
            for (size_t i = 0; i < k; i++) {
                bidx[i] = train->idx[order[start + i]];
                lg[i] = train->label[order[start + i]];
                ls[i] = ctx->train_speaker[order[start + i]];
            }
            veil_gather_patches(p, bidx, k, x);
            float loss_g, loss_a;
            if (veil_adversarial_gradients(f, g, a, x, (int)k, lg, ls, (float)as->lambda, &w, &loss_g, &loss_a))
                goto done;
            if (!veil_finite_loss(loss_g, ctx->name, "gender cross-entropy", epoch, b) ||
                !veil_finite_loss(loss_a, ctx->name, "speaker-adversary cross-entropy", epoch, b))
                goto done;
            veil_adam_step(&fadam, fp, fcount);
            veil_adam_step(&gadam, gp, gcount);
            veil_adam_step(&aadam, ap, acount);
            sum_g += (double)loss_g * (double)k;
            sum_a += (double)loss_a * (double)k;
            snprintf(extra, sizeof extra, "epoch %d gender loss %.4f adversary loss %.4f", epoch,
                     sum_g / (double)(start + k), sum_a / (double)(start + k));
            veil_progress_update(&prog, (long)(epoch - 1) * (long)batches + (long)b + 1, extra);
        }
        epoch_loss = sum_g / (double)train->n;
        speaker_loss = sum_a / (double)train->n;
        rep->epochs_run = epoch;
        te = veil_now();
        if (tc->bn_recalibrate &&
            veil_bn_recalibrate(f, p, train, (size_t)batch, veil_seed_mix(ctx->seed, 0x626e, (uint64_t)epoch)))
            goto done;
        if (veil_extract_features(f, p, eval->idx, eval->n, tc->extract_batch, zeval)) goto done;
        double acc = veil_head_accuracy(g, zeval, eval->label, eval->n, tc->extract_batch, NULL);
        rep->eval_seconds += veil_now() - te;
        if (isnan(acc)) goto done;
        last_acc = acc;
        if (acc > best_acc || (tc->ties_improve && acc == best_acc)) {
            best_acc = acc;
            rep->best_epoch = epoch;
            rep->best_eval_acc = acc;
            rep->z_spread = veil_z_spread(zeval, eval->n, (size_t)dim);
            veil_snapshot_save(&fbest, fp, fcount);
            veil_snapshot_save(&gbest, gp, gcount);
            since_best = 0;
        } else {
            since_best++;
        }
        if (veil_verbosity >= 2)
            veil_log("%s: adversarial epoch %d gender loss %.4f adversary loss %.4f (chance %.4f) gender-eval %.1f%%",
                     ctx->name, epoch, epoch_loss, speaker_loss, log((double)ctx->n_speakers), 100 * acc);
        if (since_best >= tc->patience) break;
    }
    (void)last_acc;
    /* final_loss: the combined objective J of the last epoch */
    rep->final_loss = epoch_loss - as->lambda * speaker_loss;
    if (rep->best_epoch > 0) {
        veil_snapshot_restore(&fbest, fp);
        veil_snapshot_restore(&gbest, gp);
        veil_extractor_params_changed(f);
        veil_head_params_changed(g);
    }
    snprintf(extra, sizeof extra, "%d epochs, best %d: gender-eval %.1f%%, adversary loss %.3f", rep->epochs_run,
             rep->best_epoch, 100 * rep->best_eval_acc, speaker_loss);
    veil_progress_end(&prog, extra);
    out->f = f;
    out->g = g;
    f = NULL;
    g = NULL;
    rc = 0;
done:
    veil_snapshot_free(&fbest);
    veil_snapshot_free(&gbest);
    veil_adversarial_work_free(&w);
    veil_extractor_free(f);
    veil_head_free(g);
    veil_head_free(a);
    free(x);
    free(zeval);
    free(lg);
    free(ls);
    free(order);
    free(bidx);
    return rc;
}

const veil_train_method veil_method_adversarial = {
    .name = "adversarial",
    .id = 2,
    .about = "f, g and a speaker adversary together; f gets the adversary's gradient reversed x lambda",
    .settings = settings,
    .n_settings = (int)(sizeof settings / sizeof settings[0]),
    .settings_size = sizeof(adversarial_settings),
    .epochs_setting = "adv_epochs",
    .knob = "adv_lambda",
    .sweep = (const double[]){0, 0.1, 1, 10},
    .n_sweep = 4,
    .groups = VEIL_GROUPS_SWEEP,
    .train = adversarial_train,
};
