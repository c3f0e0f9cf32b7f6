/* Helpers the training methods share: snapshots of the best epoch, z spread, BatchNorm
 * recalibration, the extractor of a job; and the loop of the methods that train f and g
 * together (veil_train_fg). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "method.h"
#include "veil/common.h"

static int max_int(int a, int b) { return a > b ? a : b; }

veil_extractor *veil_train_new_extractor(const veil_train_context *ctx, int own_batch, uint64_t seed)
{
    const veil_train_config *tc = ctx->tc;
    int max_batch = max_int(max_int(own_batch, tc->extract_batch), tc->gender_batch);
    return veil_extractor_new(ctx->arch, max_batch, ctx->precision, seed);
}

void veil_snapshot_save(veil_snapshot *s, const veil_param *params, int count)
{
    if (!s->vals) {
        s->count = count;
        s->vals = veil_calloc((size_t)count, sizeof(float *));
        for (int i = 0; i < count; i++) s->vals[i] = veil_malloc(params[i].size * sizeof(float));
    }
    for (int i = 0; i < count; i++) memcpy(s->vals[i], params[i].data, params[i].size * sizeof(float));
}

void veil_snapshot_restore(const veil_snapshot *s, veil_param *params)
{
    for (int i = 0; i < s->count; i++) memcpy(params[i].data, s->vals[i], params[i].size * sizeof(float));
}

void veil_snapshot_free(veil_snapshot *s)
{
    for (int i = 0; i < s->count; i++) free(s->vals[i]);
    free(s->vals);
    s->vals = NULL;
    s->count = 0;
}

/* Mean over dimensions of the standard deviation of z over n rows. */
double veil_z_spread(const float *z, size_t n, size_t dim)
{
    double total = 0;
    for (size_t j = 0; j < dim; j++) {
        double s = 0, s2 = 0;
        for (size_t i = 0; i < n; i++) {
            double v = z[i * dim + j];
            s += v;
            s2 += v * v;
        }
        double mean = s / (double)n, var = s2 / (double)n - mean * mean;
        total += var > 0 ? sqrt(var) : 0.0;
    }
    return dim ? total / (double)dim : 0.0;
}

/* Running BatchNorm statistics := the exact statistics of one training-mode batch of up
 * to max_n training patches. The running statistics lag far behind the weights when an
 * epoch has few batches (momentum 0.1: 2 batches an epoch leave 81 % of the previous
 * value), so an evaluation-mode forward can map every patch to almost one point while
 * training-mode outputs are well spread (docs/protocol.md). Uses the documented update
 * rule running = (1 - m) running + m batch: from zero, one forward leaves m x batch. */
int veil_bn_recalibrate(veil_extractor *f, const veil_patch_set *p, const veil_labelled *train,
                          size_t max_n, uint64_t seed)
{
    size_t n = train->n < max_n ? train->n : max_n;
    size_t dim = (size_t)veil_extractor_dim(f), hw = (size_t)p->patch_h * p->patch_w;
    size_t *pick = veil_malloc(train->n * sizeof(size_t));
    for (size_t i = 0; i < train->n; i++) pick[i] = train->idx[i];
    veil_rng rng;
    veil_rng_seed(&rng, seed);
    for (size_t i = 0; i < n; i++) { /* partial Fisher-Yates: n distinct patches */
        size_t j = i + (size_t)veil_rng_below(&rng, train->n - i), t = pick[i];
        pick[i] = pick[j];
        pick[j] = t;
    }
    float *x = veil_aligned_alloc(n * hw * sizeof(float)), *z = veil_aligned_alloc(n * dim * sizeof(float));
    veil_gather_patches(p, pick, n, x);
    int count, rc;
    veil_param *params = veil_extractor_params(f, &count);
    for (int i = 0; i < count; i++)
        if (params[i].is_buffer) memset(params[i].data, 0, params[i].size * sizeof(float));
    rc = veil_extractor_forward(f, x, (int)n, 1, z);
    for (int i = 0; i < count; i++)
        if (params[i].is_buffer)
            for (size_t k = 0; k < params[i].size; k++) params[i].data[k] /= VEIL_BN_MOMENTUM;
    veil_extractor_params_changed(f);
    free(pick);
    free(x);
    free(z);
    return rc;
}


/* ---------------- the f+g loop (method.h) ---------------- */
/* BatchNorm recalibration and f's features of the evaluation set: one evaluation pass. */
static int eval_pass(veil_extractor *f, const veil_patch_set *p, const veil_labelled *train,
                     const veil_labelled *eval, const veil_train_config *tc, size_t batch, uint64_t bn_seed,
                     int epoch, float *zeval, veil_train_report *rep)
{
    double te = veil_now();
    if (tc->bn_recalibrate && veil_bn_recalibrate(f, p, train, batch, veil_seed_mix(bn_seed, 0x626e, (uint64_t)epoch)))
        return -1;
    if (veil_extract_features(f, p, eval->idx, eval->n, tc->extract_batch, zeval)) return -1;
    rep->eval_seconds += veil_now() - te;
    return 0;
}

int veil_train_fg(veil_extractor *f, veil_head *g, const veil_patch_set *p, const veil_labelled *train,
                  const veil_labelled *eval, const int *train_speaker, const veil_train_config *tc,
                  const veil_fg_method *fm, const char *name, veil_train_report *rep)
{
    memset(rep, 0, sizeof *rep);
    rep->d_similar = rep->d_dissimilar = NAN;
    if (veil_check_patch_shape(f, p)) return -1;
    if (train->n == 0 || eval->n == 0) {
        veil_error("%s: training f and g needs training and evaluation patches", name);
        return -1;
    }
    const veil_head_config *hc = veil_head_config_of(g);
    int batch = tc->gender_batch;
    size_t dim = (size_t)veil_extractor_dim(f), hw = (size_t)p->patch_h * p->patch_w;
    if ((size_t)hc->in_dim != dim) {
        veil_error("%s: head input %d does not match the extractor's %zu", name, hc->in_dim, dim);
        return -1;
    }
    float *x = veil_aligned_alloc((size_t)batch * hw * sizeof(float));
    float *zeval = veil_aligned_alloc(eval->n * dim * sizeof(float));
    int *lg = veil_malloc((size_t)batch * sizeof(int)), *ls = veil_malloc((size_t)batch * sizeof(int));
    size_t *order = veil_malloc(train->n * sizeof(size_t)), *bidx = veil_malloc((size_t)batch * sizeof(size_t));
    int fcount, gcount, rc = -1;
    veil_param *fp = veil_extractor_params(f, &fcount), *gp = veil_head_params(g, &gcount);
    veil_snapshot fbest = {0, NULL}, gbest = {0, NULL};
    veil_adam fadam, gadam;
    veil_adam_init(&fadam, tc->lr);
    veil_adam_init(&gadam, tc->lr);
    veil_rng rng;
    veil_rng_seed(&rng, fm->shuffle_seed);
    double sums[4] = {0, 0, 0, 0};
    int ns = fm->n_sums < 4 ? fm->n_sums : 4;
    if (eval_pass(f, p, train, eval, tc, (size_t)batch, fm->bn_seed, 0, zeval, rep)) goto done;
    rep->z_spread_init = veil_z_spread(zeval, eval->n, dim);
    size_t batches = (train->n + (size_t)batch - 1) / (size_t)batch;
    char extra[200];
    veil_progress prog;
    veil_progress_begin(&prog, fm->label, (long)fm->epochs * (long)batches);
    double best_acc = -1, last_acc = NAN;
    int since_best = 0;
    for (size_t i = 0; i < train->n; i++) order[i] = i;
    for (int epoch = 1; epoch <= fm->epochs; epoch++) {
        veil_shuffle_size(&rng, order, train->n);
        if (fm->epoch_begin) fm->epoch_begin(fm->m, epoch);
        for (int i = 0; i < ns; i++) sums[i] = 0;
        for (size_t b = 0; b < batches; b++) {
            size_t start = b * (size_t)batch;
            size_t k = train->n - start < (size_t)batch ? train->n - start : (size_t)batch;
            for (size_t i = 0; i < k; i++) {
                bidx[i] = train->idx[order[start + i]];
                lg[i] = train->label[order[start + i]];
                ls[i] = train_speaker ? train_speaker[order[start + i]] : 0;
            }
            veil_gather_patches(p, bidx, k, x);
            if (fm->step(fm->m, x, (int)k, lg, ls, epoch, b, sums)) goto done;
            if (!veil_finite_grads(fp, fcount, name, epoch, b) || !veil_finite_grads(gp, gcount, name, epoch, b))
                goto done;
            veil_adam_step(&fadam, fp, fcount);
            veil_adam_step(&gadam, gp, gcount);
            fm->describe(fm->m, extra, sizeof extra, epoch, sums, (double)(start + k), last_acc);
            veil_progress_update(&prog, (long)(epoch - 1) * (long)batches + (long)b + 1, extra);
        }
        rep->epochs_run = epoch;
        if (eval_pass(f, p, train, eval, tc, (size_t)batch, fm->bn_seed, epoch, zeval, rep)) goto done;
        double te = veil_now();
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
        if (veil_verbosity >= 2 && fm->epoch_log) fm->epoch_log(fm->m, epoch, sums, (double)train->n, acc, spread);
        if (since_best >= tc->patience) break;
    }
    rep->final_loss = fm->final_loss(fm->m, sums, (double)train->n);
    if (rep->best_epoch > 0) {
        veil_snapshot_restore(&fbest, fp);
        veil_snapshot_restore(&gbest, gp);
        veil_extractor_params_changed(f);
        veil_head_params_changed(g);
    }
    fm->describe(fm->m, extra, sizeof extra, 0, sums, (double)train->n, rep->best_eval_acc);
    char end[260];
    snprintf(end, sizeof end, "%d epoch%s, best %d: gender-eval %.1f%%%s", rep->epochs_run,
             rep->epochs_run == 1 ? "" : "s", rep->best_epoch, 100 * rep->best_eval_acc, extra);
    veil_progress_end(&prog, end);
    rc = 0;
done:
    veil_snapshot_free(&fbest);
    veil_snapshot_free(&gbest);
    free(x), free(zeval), free(lg), free(ls), free(order), free(bidx);
    return rc;
}
