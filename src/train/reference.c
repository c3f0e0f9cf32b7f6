/* The reference (no privacy; the paper's Section 5.3): f at G = 1 and the gender head g
 * trained together by cross-entropy, early stopping on gender-evaluation accuracy. */
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "train/method.h"
#include "veil/common.h"

static const veil_setting settings[] = {
    {"reference_epochs", VEIL_SETTING_INT, offsetof(veil_reference_settings, epochs), 30, 1, 100000,
     "most epochs of f and g together"},
};
_Static_assert(sizeof(veil_reference_settings) <= sizeof(veil_method_settings), "settings too large");

/* ---------------- the reference: f and g together ---------------- */
int veil_train_reference(veil_extractor *f, veil_head *g, const veil_patch_set *p,
                         const veil_labelled *train, const veil_labelled *eval,
                         const veil_train_config *tc, const veil_reference_settings *rs,
                         uint64_t seed, const char *name, veil_train_report *rep)
{
    memset(rep, 0, sizeof *rep);
    rep->d_similar = rep->d_dissimilar = NAN;
    if (veil_check_patch_shape(f, p)) return -1;
    if (train->n == 0 || eval->n == 0) {
        veil_error("%s: the reference needs training and evaluation patches", name);
        return -1;
    }
    const veil_head_config *hc = veil_head_config_of(g);
    int batch = tc->gender_batch, cls = hc->classes;
    size_t dim = (size_t)veil_extractor_dim(f), hw = (size_t)p->patch_h * p->patch_w;
    if ((size_t)hc->in_dim != dim) {
        veil_error("%s: head input %d does not match the extractor's %zu", name, hc->in_dim, dim);
        return -1;
    }
    float *x = veil_aligned_alloc((size_t)batch * hw * sizeof(float));
    float *z = veil_aligned_alloc((size_t)batch * dim * sizeof(float));
    float *dz = veil_aligned_alloc((size_t)batch * dim * sizeof(float));
    float *logits = veil_malloc((size_t)batch * cls * sizeof(float));
    float *dlogits = veil_malloc((size_t)batch * cls * sizeof(float));
    float *zeval = veil_aligned_alloc(eval->n * dim * sizeof(float));
    int *lb = veil_malloc((size_t)batch * sizeof(int));
    size_t *order = veil_malloc(train->n * sizeof(size_t)), *bidx = veil_malloc((size_t)batch * sizeof(size_t));
    int fcount, gcount, rc = -1;
    veil_param *fp = veil_extractor_params(f, &fcount), *gp = veil_head_params(g, &gcount);
    veil_snapshot fbest = {0, NULL}, gbest = {0, NULL};
    veil_adam fadam, gadam;
    veil_adam_init(&fadam, tc->lr);
    veil_adam_init(&gadam, tc->lr);
    veil_rng rng;
    veil_rng_seed(&rng, veil_seed_mix(seed, 0x72656600, 0));
    double te = veil_now();
    if (tc->bn_recalibrate && veil_bn_recalibrate(f, p, train, (size_t)batch, veil_seed_mix(seed, 0x626e, 0)))
        goto done;
    if (veil_extract_features(f, p, eval->idx, eval->n, tc->extract_batch, zeval)) goto done;
    rep->eval_seconds += veil_now() - te;
    rep->z_spread_init = veil_z_spread(zeval, eval->n, dim);
    size_t batches = (train->n + (size_t)batch - 1) / (size_t)batch;
    char label[160], extra[160];
    snprintf(label, sizeof label, "%s: f+g (reference)", name);
    veil_progress prog;
    veil_progress_begin(&prog, label, (long)rs->epochs * (long)batches);
    double best_acc = -1, epoch_loss = NAN, last_acc = NAN;
    int since_best = 0;
    for (size_t i = 0; i < train->n; i++) order[i] = i;
    for (int epoch = 1; epoch <= rs->epochs; epoch++) {
        veil_shuffle_size(&rng, order, train->n);
        double loss_sum = 0;
        for (size_t b = 0; b < batches; b++) {
            size_t start = b * (size_t)batch;
            size_t k = train->n - start < (size_t)batch ? train->n - start : (size_t)batch;
            for (size_t i = 0; i < k; i++) {
                bidx[i] = train->idx[order[start + i]];
                lb[i] = train->label[order[start + i]];
            }
            veil_gather_patches(p, bidx, k, x);
            if (veil_extractor_forward(f, x, (int)k, 1, z) || veil_head_forward(g, z, (int)k, 1, logits))
                goto done;
            float loss = veil_softmax_xent(logits, lb, (int)k, cls, dlogits);
            if (!veil_finite_loss(loss, name, "reference cross-entropy", epoch, b)) goto done;
            if (veil_head_backward(g, dlogits, dz) || veil_extractor_backward(f, dz)) goto done;
            if (!veil_finite_grads(fp, fcount, name, epoch, b) || !veil_finite_grads(gp, gcount, name, epoch, b)) goto done;
            veil_adam_step(&fadam, fp, fcount);
            veil_adam_step(&gadam, gp, gcount);
            loss_sum += (double)loss * (double)k;
            /* the gender-evaluation accuracy exists from the end of epoch 1 on */
            if (isnan(last_acc))
                snprintf(extra, sizeof extra, "epoch %d loss %.4f", epoch, loss_sum / (double)(start + k));
            else
                snprintf(extra, sizeof extra, "epoch %d loss %.4f gender-eval %.1f%%", epoch,
                         loss_sum / (double)(start + k), 100 * last_acc);
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
        if (acc > best_acc || (tc->ties_improve && acc == best_acc)) {
            best_acc = acc;
            rep->best_epoch = epoch;
            rep->best_eval_acc = acc;
            rep->z_spread = veil_z_spread(zeval, eval->n, dim);
            veil_snapshot_save(&fbest, fp, fcount);
            veil_snapshot_save(&gbest, gp, gcount);
            since_best = 0;
        } else {
            since_best++;
        }
        if (veil_verbosity >= 2)
            veil_log("%s: reference epoch %d loss %.4f gender-eval %.1f%%", name, epoch, epoch_loss,
                     100 * acc);
        if (since_best >= tc->patience) break;
    }
    rep->final_loss = epoch_loss;
    if (rep->best_epoch > 0) {
        veil_snapshot_restore(&fbest, fp);
        veil_snapshot_restore(&gbest, gp);
        veil_extractor_params_changed(f);
        veil_head_params_changed(g);
    }
    snprintf(extra, sizeof extra, "%d epochs, best %d: gender-eval %.1f%%", rep->epochs_run,
             rep->best_epoch, 100 * rep->best_eval_acc);
    veil_progress_end(&prog, extra);
    rc = 0;
done:
    veil_snapshot_free(&fbest);
    veil_snapshot_free(&gbest);
    free(x);
    free(z);
    free(dz);
    free(logits);
    free(dlogits);
    free(zeval);
    free(lb);
    free(order);
    free(bidx);
    return rc;
}


static int reference_train(const veil_train_context *ctx, veil_trained *out)
{
    const veil_train_config *tc = ctx->tc;
    int dim = veil_extractor_config_dim(ctx->arch);
    veil_head_config hc = {dim, tc->head_hidden, 2, tc->dropout};
    int head_batch = tc->gender_batch > tc->extract_batch ? tc->gender_batch : tc->extract_batch;
    out->f = veil_train_new_extractor(ctx, 0, veil_seed_mix(ctx->seed, 0x696e6974, 0));
    out->g = veil_head_new(&hc, head_batch, ctx->precision, veil_seed_mix(ctx->seed, 0x67656e64, 0));
    if (!out->f || !out->g ||
        veil_train_reference(out->f, out->g, ctx->patches, ctx->train, ctx->eval, tc, ctx->settings,
                             veil_seed_mix(ctx->seed, 0x72656600, 0), ctx->name, &out->rep)) {
        veil_extractor_free(out->f);
        veil_head_free(out->g);
        out->f = NULL;
        out->g = NULL;
        return -1;
    }
    return 0;
}

const veil_train_method veil_method_reference = {
    .name = "reference",
    .id = VEIL_METHOD_REFERENCE,
    .about = "no privacy: f (G = 1) and g trained together on gender",
    .settings = settings,
    .n_settings = (int)(sizeof settings / sizeof settings[0]),
    .settings_size = sizeof(veil_reference_settings),
    .epochs_setting = "reference_epochs",
    .groups = VEIL_GROUPS_ONE,
    .train = reference_train,
};
