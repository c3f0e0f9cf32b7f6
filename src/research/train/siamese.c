/* The Siamese method (Nelus et al. 2019): f trained alone by the contrastive loss on
 * pairs of gender-training patches (similar = same class of the task: same gender), early stopping on the pair
 * verdict of the gender-evaluation set, collapse detection and restarts; g is then
 * trained on the frozen f by the job. Every choice is in docs/protocol.md. */
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "method.h"
#include "veil/common.h"

#define SETTING(field, key, type, def, lo, hi, help) \
    {key, VEIL_SETTING_##type, offsetof(veil_siamese_settings, field), def, lo, hi, help}
static const veil_setting settings[] = {
    SETTING(epochs, "siamese_epochs", INT, 75, 1, 100000, "most epochs of f"),
    SETTING(batch_pairs, "siamese_batch_pairs", INT, 150, 1, 100000, "pairs per batch (2x patches)"),
    SETTING(margin, "margin", FLOAT, 1, 1e-6, 1e6, "contrastive margin m"),
    SETTING(similar_fraction, "similar_fraction", DOUBLE, 0.5, 0, 1, "share of similar pairs"),
    SETTING(collapse_spread_ratio, "collapse_spread_ratio", DOUBLE, 0.01, 0, 1,
            "collapsed when the z spread falls below this x its initial value"),
    SETTING(collapse_restarts, "collapse_restarts", INT, 2, 0, 100, "restarts after a collapse"),
    SETTING(restart_lr_factor, "restart_lr_factor", FLOAT, 0.5, 1e-6, 1, "learning rate x this on a restart"),
    SETTING(warmup_epochs, "warmup_epochs", INT, 0, 0, 100000, "linear learning-rate warm-up epochs"),
    SETTING(z_init_distance, "z_init_distance", FLOAT, 1, 0, 1e6,
            "scale f's last conv so the initial mean pair distance is this x m (0 = off)"),
};
#undef SETTING
_Static_assert(sizeof(veil_siamese_settings) <= sizeof(veil_method_settings), "settings too large");

/* Scale f's last convolution (weight and bias) so that the mean distance of training
 * pairs is target at the start. ReLU and max-pooling are positively homogeneous, so z
 * scales exactly. At the default initialisation the distances of a wide z (G = 1:
 * 16384 values) are several margins, where only the similar term of the contrastive
 * loss has a gradient: training then shrinks every z towards one point before the
 * dissimilar term ever acts (docs/protocol.md). */
static int scale_initial_distance(veil_extractor *f, const veil_patch_set *p,
                                  const veil_labelled *train, const int *speaker,
                                  const veil_train_config *tc, const veil_siamese_settings *ss,
                                  size_t max_n, uint64_t seed)
{
    size_t n = train->n < max_n ? train->n : max_n, dim = (size_t)veil_extractor_dim(f);
    veil_labelled sub = {n, train->idx, train->label};
    veil_rng rng;
    veil_rng_seed(&rng, seed);
    size_t *partner = veil_malloc(n * sizeof(size_t));
    int *y = veil_malloc(n * sizeof(int)), rc = -1;
    float *z = veil_aligned_alloc(n * dim * sizeof(float));
    /* a spread-out subset: every k-th training patch */
    size_t *idx = veil_malloc(n * sizeof(size_t));
    int *lab = veil_malloc(n * sizeof(int)), *spk = veil_malloc(n * sizeof(int));
    for (size_t i = 0; i < n; i++) {
        size_t j = i * train->n / n;
        idx[i] = train->idx[j];
        lab[i] = train->label[j];
        spk[i] = speaker[j];
    }
    sub.idx = idx;
    sub.label = lab;
    if (veil_pairs_draw(&sub, spk, ss->similar_fraction, &rng, partner, y) ||
        veil_extract_features(f, p, idx, n, tc->extract_batch, z))
        goto done;
    double total = 0;
    for (size_t i = 0; i < n; i++) {
        double d2 = 0;
        for (size_t k = 0; k < dim; k++) {
            double t = (double)z[i * dim + k] - z[partner[i] * dim + k];
            d2 += t * t;
        }
        total += sqrt(d2);
    }
    double mean = total / (double)n;
    if (mean > 0 && isfinite(mean)) {
        float s = (float)(ss->z_init_distance * ss->margin / mean);
        int count;
        veil_param *params = veil_extractor_params(f, &count);
        /* the last two parameters are the last conv's weight and bias */
        for (int q = count - 2; q < count; q++)
            for (size_t k = 0; k < params[q].size; k++) params[q].data[k] *= s;
        veil_extractor_params_changed(f);
        if (veil_verbosity >= 2)
            veil_log("Siamese: initial mean pair distance %.4g, last conv scaled by %.4g", mean, (double)s);
    }
    rc = 0;
done:
    free(partner);
    free(y);
    free(z);
    free(idx);
    free(lab);
    free(spk);
    return rc;
}

/* ---------------- Siamese pairs ---------------- */
int veil_pairs_draw(const veil_labelled *set, const int *speaker, double similar_fraction,
                    veil_rng *rng, size_t *partner, int *y)
{
    size_t n = set->n;
    int k = 0;
    for (size_t i = 0; i < n; i++) {
        if (set->label[i] < 0) {
            veil_error("Siamese pairs: label %d of entry %zu is negative", set->label[i], i);
            return -1;
        }
        if (set->label[i] + 1 > k) k = set->label[i] + 1;
    }
    size_t *count = veil_calloc((size_t)(k ? k : 1), sizeof *count);
    for (size_t i = 0; i < n; i++) count[set->label[i]]++;
    int present = 0;
    for (int l = 0; l < k; l++) present += count[l] > 0;
    if (present < 2) {
        veil_error("Siamese pairs: the set has patches of %s, so no dissimilar pair can be drawn",
                   present ? "one class only" : "no class");
        free(count);
        return -1;
    }
    /* each label's positions, in label order: pos[start[l] .. start[l] + count[l]) */
    size_t *start = veil_calloc((size_t)k + 1, sizeof *start), *fill = veil_calloc((size_t)k, sizeof *fill);
    for (int l = 0; l < k; l++) start[l + 1] = start[l] + count[l];
    size_t *pos = veil_malloc((n ? n : 1) * sizeof *pos);
    /* does a label have patches of two or more speakers? */
    int *first_speaker = veil_malloc((size_t)k * sizeof(int)), *several = veil_calloc((size_t)k, sizeof(int));
    for (int l = 0; l < k; l++) first_speaker[l] = -1;
    for (size_t i = 0; i < n; i++) {
        int l = set->label[i];
        pos[start[l] + fill[l]++] = i;
        if (first_speaker[l] < 0) first_speaker[l] = speaker[i];
        else if (speaker[i] != first_speaker[l]) several[l] = 1;
    }
    for (size_t i = 0; i < n; i++) {
        int l = set->label[i];
        const size_t *same = pos + start[l];
        if (veil_rng_uniform(rng) < similar_fraction) {
            size_t j;
            if (several[l]) {
                /* rejection: another speaker of the same label exists, so this ends */
                do j = same[veil_rng_below(rng, count[l])];
                while (speaker[j] == speaker[i]);
            } else if (count[l] > 1) {
                do j = same[veil_rng_below(rng, count[l])];
                while (j == i);
            } else {
                j = i;
            }
            partner[i] = j;
            y[i] = 0;
        } else {
            /* uniform over the patches of every other label (with two labels: the other one's) */
            size_t r = veil_rng_below(rng, n - count[l]);
            partner[i] = pos[r < start[l] ? r : r + count[l]];
            y[i] = 1;
        }
    }
    free(count), free(start), free(fill), free(pos), free(first_speaker), free(several);
    return 0;
}

static int *speakers_of(const veil_patch_set *p, const veil_labelled *set)
{
    int *s = veil_malloc((set->n ? set->n : 1) * sizeof(int));
    for (size_t i = 0; i < set->n; i++) s[i] = veil_patch_speaker(p, set->idx[i]);
    return s;
}

/* ---------------- Siamese evaluation and collapse ---------------- */
typedef struct pair_eval {
    size_t correct, said_similar, n;
    double acc, spread, d_sim, d_dis;
} pair_eval;

static int siamese_eval(veil_extractor *f, const veil_patch_set *p, const veil_labelled *eval,
                        const size_t *partner, const int *y, float margin, int batch, float *z,
                        pair_eval *m)
{
    size_t dim = (size_t)veil_extractor_dim(f);
    if (veil_extract_features(f, p, eval->idx, eval->n, batch, z)) return -1;
    memset(m, 0, sizeof *m);
    m->n = eval->n;
    m->spread = veil_z_spread(z, eval->n, dim);
    size_t ns = 0, nd = 0;
    for (size_t i = 0; i < eval->n; i++) {
        const float *a = z + i * dim, *b = z + partner[i] * dim;
        double d2 = 0;
        for (size_t k = 0; k < dim; k++) {
            double t = (double)a[k] - b[k];
            d2 += t * t;
        }
        double d = sqrt(d2);
        int similar = d <= 0.5 * margin;
        m->said_similar += (size_t)similar;
        m->correct += (size_t)(similar == (y[i] == 0));
        if (y[i] == 0) {
            m->d_sim += d;
            ns++;
        } else {
            m->d_dis += d;
            nd++;
        }
    }
    m->acc = eval->n ? (double)m->correct / (double)eval->n : 0;
    m->d_sim = ns ? m->d_sim / (double)ns : NAN;
    m->d_dis = nd ? m->d_dis / (double)nd : NAN;
    return 0;
}

/* An epoch is collapsed when z has (almost) no spread left, or when every pair looks
 * similar and dissimilar pairs are no farther apart than similar ones. */
static int siamese_collapsed(const pair_eval *m, double spread_init, const veil_siamese_settings *ss,
                             char *reason, size_t size)
{
    if (!(m->spread > ss->collapse_spread_ratio * spread_init)) {
        snprintf(reason, size, "z spread %.3g fell below %.3g x its initial %.3g", m->spread,
                 ss->collapse_spread_ratio, spread_init);
        return 1;
    }
    double said = m->n ? (double)m->said_similar / (double)m->n : 0;
    if (said > 0.95 && !(m->d_dis > 1.1 * m->d_sim)) {
        snprintf(reason, size, "verdict 'similar' on %.0f%% of pairs, dissimilar d %.3g vs similar %.3g",
                 100 * said, m->d_dis, m->d_sim);
        return 1;
    }
    return 0;
}

/* ---------------- Siamese training ---------------- */
int veil_train_siamese(veil_extractor *f, const veil_patch_set *p, const veil_labelled *train,
                       const veil_labelled *eval, const veil_train_config *tc,
                       const veil_siamese_settings *ss, float lr,
                       uint64_t seed, const char *name, veil_train_report *rep)
{
    memset(rep, 0, sizeof *rep);
    if (veil_check_patch_shape(f, p)) return -1;
    if (train->n < 2 || eval->n < 2) {
        veil_error("%s: Siamese training needs at least 2 training and 2 evaluation patches "
                   "(got %zu and %zu)", name, train->n, eval->n);
        return -1;
    }
    int bp = ss->batch_pairs;
    size_t dim = (size_t)veil_extractor_dim(f), hw = (size_t)p->patch_h * p->patch_w;
    int *spk_train = speakers_of(p, train), *spk_eval = speakers_of(p, eval);
    size_t *partner = veil_malloc(train->n * sizeof(size_t)), *order = veil_malloc(train->n * sizeof(size_t));
    int *y = veil_malloc(train->n * sizeof(int)), *yb = veil_malloc((size_t)bp * sizeof(int));
    size_t *epartner = veil_malloc(eval->n * sizeof(size_t));
    int *ey = veil_malloc(eval->n * sizeof(int));
    float *x = veil_aligned_alloc(2 * (size_t)bp * hw * sizeof(float));
    float *z = veil_aligned_alloc(2 * (size_t)bp * dim * sizeof(float));
    float *dz = veil_aligned_alloc(2 * (size_t)bp * dim * sizeof(float));
    float *zeval = veil_aligned_alloc(eval->n * dim * sizeof(float));
    veil_snapshot best = {0, NULL};
    int rc = -1, count;
    veil_param *params = veil_extractor_params(f, &count);
    veil_rng rng;
    /* evaluation pairs: drawn once per job with their own seed */
    veil_rng_seed(&rng, veil_seed_mix(seed, 0x6576616c, 0));
    if (veil_pairs_draw(eval, spk_eval, ss->similar_fraction, &rng, epartner, ey)) goto done;

    pair_eval m;
    double te = veil_now();
    if (tc->bn_recalibrate && veil_bn_recalibrate(f, p, train, 2 * (size_t)bp, veil_seed_mix(seed, 0x626e, 0)))
        goto done;
    rep->eval_seconds += veil_now() - te;
    if (ss->z_init_distance > 0 &&
        scale_initial_distance(f, p, train, spk_train, tc, ss, 2 * (size_t)bp, veil_seed_mix(seed, 0x7363, 0)))
        goto done;
    te = veil_now();
    if (siamese_eval(f, p, eval, epartner, ey, ss->margin, tc->extract_batch, zeval, &m)) goto done;
    rep->eval_seconds += veil_now() - te;
    rep->z_spread_init = m.spread;
    veil_adam adam;
    veil_adam_init(&adam, lr);
    size_t batches = (train->n + (size_t)bp - 1) / (size_t)bp;
    long warm_steps = (long)ss->warmup_epochs * (long)batches;
    size_t best_correct = 0;
    int since_best = 0;
    char label[160], extra[160], last_reason[128] = "";
    snprintf(label, sizeof label, "%s: f (Siamese)", name);
    veil_progress prog;
    veil_progress_begin(&prog, label, (long)ss->epochs * (long)batches);
    double epoch_loss = NAN;
    for (int epoch = 1; epoch <= ss->epochs; epoch++) {
        veil_rng_seed(&rng, veil_seed_mix(seed, 0x70616972, (uint64_t)epoch));
        if (veil_pairs_draw(train, spk_train, ss->similar_fraction, &rng, partner, y)) goto done;
        for (size_t i = 0; i < train->n; i++) order[i] = i;
        for (size_t i = train->n; i > 1; i--) {
            size_t j = (size_t)veil_rng_below(&rng, i), t = order[i - 1];
            order[i - 1] = order[j];
            order[j] = t;
        }
        double loss_sum = 0;
        for (size_t b = 0; b < batches; b++) {
            size_t start = b * (size_t)bp, k = train->n - start < (size_t)bp ? train->n - start : (size_t)bp;
            /* x1s then x2s: one forward of 2k, batch-norm statistics over both */
            for (size_t i = 0; i < k; i++) {
                size_t a = order[start + i];
                memcpy(x + i * hw, veil_patch(p, train->idx[a]), hw * sizeof(float));
                memcpy(x + (k + i) * hw, veil_patch(p, train->idx[partner[a]]), hw * sizeof(float));
                yb[i] = y[a];
            }
            if (veil_extractor_forward(f, x, (int)(2 * k), 1, z)) goto done;
            float loss = veil_contrastive(z, z + k * dim, yb, (int)k, (int)dim, ss->margin, dz,
                                          dz + k * dim, NULL);
            if (!veil_finite_loss(loss, name, "Siamese", epoch, b)) goto done;
            if (veil_extractor_backward(f, dz)) goto done;
            if (!veil_finite_grads(params, count, name, epoch, b)) goto done;
            if (warm_steps > 0 && adam.step < warm_steps)
                adam.lr = lr * (float)(adam.step + 1) / (float)warm_steps;
            else
                adam.lr = lr;
            veil_adam_step(&adam, params, count);
            loss_sum += (double)loss * (double)k;
            snprintf(extra, sizeof extra, "epoch %d loss %.4f verdict %.1f%%", epoch,
                     loss_sum / (double)(start + k), 100 * m.acc);
            veil_progress_update(&prog, (long)(epoch - 1) * (long)batches + (long)b + 1, extra);
        }
        epoch_loss = loss_sum / (double)train->n;
        rep->epochs_run = epoch;
        te = veil_now();
        if (tc->bn_recalibrate &&
            veil_bn_recalibrate(f, p, train, 2 * (size_t)bp, veil_seed_mix(seed, 0x626e, (uint64_t)epoch)))
            goto done;
        if (siamese_eval(f, p, eval, epartner, ey, ss->margin, tc->extract_batch, zeval, &m)) goto done;
        rep->eval_seconds += veil_now() - te;
        char reason[128];
        int collapsed = siamese_collapsed(&m, rep->z_spread_init, ss, reason, sizeof reason);
        if (collapsed) memcpy(last_reason, reason, sizeof reason);
        int improved = !collapsed && (rep->best_epoch == 0 || m.correct > best_correct ||
                                      (tc->ties_improve && m.correct == best_correct));
        if (improved) {
            best_correct = m.correct;
            rep->best_epoch = epoch;
            rep->best_eval_acc = m.acc;
            rep->z_spread = m.spread;
            rep->d_similar = m.d_sim;
            rep->d_dissimilar = m.d_dis;
            veil_snapshot_save(&best, params, count);
            since_best = 0;
        } else {
            since_best++;
        }
        if (veil_verbosity >= 2)
            veil_log("%s: epoch %d loss %.4f verdict %.1f%% spread %.4g d_sim %.3f d_dis %.3f%s%s",
                     name, epoch, epoch_loss, 100 * m.acc, m.spread, m.d_sim, m.d_dis,
                     collapsed ? " collapsed: " : "", collapsed ? reason : "");
        if (since_best >= tc->patience) break;
    }
    rep->final_loss = epoch_loss;
    if (rep->best_epoch > 0) {
        veil_snapshot_restore(&best, params);
        veil_extractor_params_changed(f);
    } else {
        /* no epoch was acceptable: keep the last weights and say so */
        rep->collapsed = 1;
        snprintf(rep->collapse_reason, sizeof rep->collapse_reason, "%s",
                 last_reason[0] ? last_reason : "no epoch trained");
        rep->z_spread = m.spread;
        rep->best_eval_acc = m.acc;
        rep->d_similar = m.d_sim;
        rep->d_dissimilar = m.d_dis;
    }
    snprintf(extra, sizeof extra, "%d epoch%s, best %d: verdict %.1f%%, z spread %.3g%s", rep->epochs_run,
             rep->epochs_run == 1 ? "" : "s",
             rep->best_epoch, 100 * rep->best_eval_acc, rep->z_spread, rep->collapsed ? " (collapsed)" : "");
    veil_progress_end(&prog, extra);
    rc = 0;
done:
    veil_snapshot_free(&best);
    free(spk_train);
    free(spk_eval);
    free(partner);
    free(order);
    free(y);
    free(yb);
    free(epartner);
    free(ey);
    free(x);
    free(z);
    free(dz);
    free(zeval);
    return rc;
}

/* The method: Siamese training from a fresh initialisation; a run that ends collapsed
 * restarts with the learning rate x restart_lr_factor, at most collapse_restarts times. */
static int siamese_train(const veil_train_context *ctx, veil_trained *out)
{
    const veil_siamese_settings *ss = ctx->settings;
    float lr = ctx->tc->lr;
    double eval_seconds = 0; /* over every attempt */
    for (int attempt = 0;; attempt++) {
        out->f = veil_train_new_extractor(ctx, 2 * ss->batch_pairs, veil_seed_mix(ctx->seed, 0x696e6974, (uint64_t)attempt));
        if (!out->f) return -1;
        if (veil_train_siamese(out->f, ctx->patches, ctx->train, ctx->eval, ctx->tc, ss, lr,
                               veil_seed_mix(ctx->seed, 0x7369616d, (uint64_t)attempt), ctx->name, &out->rep)) {
            veil_extractor_free(out->f);
            out->f = NULL;
            return -1;
        }
        out->restarts = attempt;
        eval_seconds += out->rep.eval_seconds;
        out->rep.eval_seconds = eval_seconds;
        if (!out->rep.collapsed || attempt >= ss->collapse_restarts) break;
        lr *= ss->restart_lr_factor;
        veil_log("%s: the extractor collapsed (%s); restarting from a new initialisation "
                 "with learning rate %.3g", ctx->name, out->rep.collapse_reason, (double)lr);
        veil_extractor_free(out->f);
        out->f = NULL;
    }
    out->pair_verdict_acc = out->rep.best_eval_acc;
    return 0;
}

const veil_train_method veil_method_siamese = {
    .name = "siamese",
    .id = VEIL_METHOD_SIAMESE,
    .about = "f alone by the contrastive loss on same/other-class (gender) pairs; g on the frozen f",
    VEIL_METHOD_SETTINGS(settings, veil_siamese_settings),
    .epochs_setting = "siamese_epochs",
    .groups = VEIL_GROUPS_LIST,
    .train = siamese_train,
};
