/* The trainers: Siamese pairs and contrastive training of f with early stopping and
 * collapse detection, the reference (f and g together on gender), and heads on frozen
 * features. Every choice is in docs/protocol.md. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "veil/common.h"
#include "veil/job.h"

void veil_train_config_paper(veil_train_config *t)
{
    t->lr = 2e-4f;
    t->siamese_epochs = 75;
    t->siamese_batch_pairs = 150;
    t->margin = 1.0f;
    t->similar_fraction = 0.5;
    t->patience = 10;
    t->ties_improve = 1;
    t->gender_epochs = 30;
    t->gender_batch = 200;
    t->reference_epochs = 30;
    t->attack_epochs = 150;
    t->attack_batch = 90;
    t->head_hidden = 1024;
    t->dropout = 0.5f;
    t->extract_batch = 256;
    t->collapse_spread_ratio = 0.01;
    t->collapse_restarts = 2;
    t->restart_lr_factor = 0.5f;
    t->warmup_epochs = 0;
    t->bn_recalibrate = 1;
    t->z_init_distance = 1.0f;
    t->filter_divisor = 1;
}

int veil_method_parse(const char *s, veil_method *out)
{
    if (s && !strcmp(s, "siamese")) *out = VEIL_METHOD_SIAMESE;
    else if (s && !strcmp(s, "reference")) *out = VEIL_METHOD_REFERENCE;
    else {
        veil_error("unknown method '%s' (expected siamese or reference)", s ? s : "");
        return -1;
    }
    return 0;
}

const char *veil_method_name(veil_method m)
{
    return m == VEIL_METHOD_SIAMESE ? "siamese" : "reference";
}

/* ---------------- helpers ---------------- */
static int patch_speaker(const veil_patch_set *p, size_t i)
{
    int lo = 0, hi = p->n_speakers - 1;
    while (lo < hi) { /* the last speaker whose first patch is <= i */
        int mid = (lo + hi + 1) / 2;
        if (p->speaker_offset[mid] <= i) lo = mid;
        else hi = mid - 1;
    }
    return lo;
}

static void gather(const veil_patch_set *p, const size_t *idx, size_t n, float *x)
{
    size_t hw = (size_t)p->patch_h * p->patch_w;
    for (size_t i = 0; i < n; i++) memcpy(x + i * hw, veil_patch(p, idx[i]), hw * sizeof(float));
}

static int check_shape(veil_extractor *f, const veil_patch_set *p)
{
    const veil_extractor_config *c = veil_extractor_config_of(f);
    if (c->in_h != p->patch_h || c->in_w != p->patch_w) {
        veil_error("extractor input %dx%d does not match the patches (%dx%d)", c->in_h, c->in_w,
                   p->patch_h, p->patch_w);
        return -1;
    }
    return 0;
}

int veil_extract_features(veil_extractor *f, const veil_patch_set *p, const size_t *idx, size_t n,
                          int batch, float *z)
{
    if (check_shape(f, p)) return -1;
    size_t dim = (size_t)veil_extractor_dim(f), hw = (size_t)p->patch_h * p->patch_w;
    float *x = veil_aligned_alloc((size_t)batch * hw * sizeof(float));
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i += (size_t)batch) {
        size_t k = n - i < (size_t)batch ? n - i : (size_t)batch;
        gather(p, idx + i, k, x);
        rc = veil_extractor_forward(f, x, (int)k, 0, z + i * dim);
    }
    free(x);
    return rc;
}

/* Parameter values (buffers too) of the best epoch. */
typedef struct snapshot {
    int count;
    float **vals;
} snapshot;

static void snapshot_save(snapshot *s, const veil_param *params, int count)
{
    if (!s->vals) {
        s->count = count;
        s->vals = veil_calloc((size_t)count, sizeof(float *));
        for (int i = 0; i < count; i++) s->vals[i] = veil_malloc(params[i].size * sizeof(float));
    }
    for (int i = 0; i < count; i++) memcpy(s->vals[i], params[i].data, params[i].size * sizeof(float));
}

static void snapshot_restore(const snapshot *s, veil_param *params)
{
    for (int i = 0; i < s->count; i++) memcpy(params[i].data, s->vals[i], params[i].size * sizeof(float));
}

static void snapshot_free(snapshot *s)
{
    for (int i = 0; i < s->count; i++) free(s->vals[i]);
    free(s->vals);
    s->vals = NULL;
    s->count = 0;
}

/* Mean over dimensions of the standard deviation of z over n rows. */
static double z_spread(const float *z, size_t n, size_t dim)
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

static int finite_loss(double loss, const char *name, const char *what, int epoch, size_t batch)
{
    if (isfinite(loss)) return 1;
    veil_error("%s: %s loss is %s at epoch %d (batch %zu); training stopped (try a lower "
               "learning rate or --precision fp32)", name, what, isnan(loss) ? "NaN" : "infinite",
               epoch, batch + 1);
    return 0;
}

/* Running BatchNorm statistics := the exact statistics of one training-mode batch of up
 * to max_n training patches. The running statistics lag far behind the weights when an
 * epoch has few batches (momentum 0.1: 2 batches an epoch leave 81 % of the previous
 * value), so an evaluation-mode forward can map every patch to almost one point while
 * training-mode outputs are well spread (docs/protocol.md). Uses the documented update
 * rule running = (1 - m) running + m batch: from zero, one forward leaves m x batch. */
static int bn_recalibrate(veil_extractor *f, const veil_patch_set *p, const veil_labelled *train,
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
    gather(p, pick, n, x);
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

/* Scale f's last convolution (weight and bias) so that the mean distance of training
 * pairs is target at the start. ReLU and max-pooling are positively homogeneous, so z
 * scales exactly. At the default initialisation the distances of a wide z (G = 1:
 * 16384 values) are several margins, where only the similar term of the contrastive
 * loss has a gradient: training then shrinks every z towards one point before the
 * dissimilar term ever acts (docs/protocol.md). */
static int scale_initial_distance(veil_extractor *f, const veil_patch_set *p,
                                  const veil_labelled *train, const int *speaker,
                                  const veil_train_config *tc, size_t max_n, uint64_t seed)
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
    if (veil_pairs_draw(&sub, spk, tc->similar_fraction, &rng, partner, y) ||
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
        float s = (float)(tc->z_init_distance * tc->margin / mean);
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
    size_t n = set->n, count[2] = {0, 0};
    for (size_t i = 0; i < n; i++) {
        if (set->label[i] != 0 && set->label[i] != 1) {
            veil_error("Siamese pairs: label %d of entry %zu is not 0 or 1", set->label[i], i);
            return -1;
        }
        count[set->label[i]]++;
    }
    if (count[0] == 0 || count[1] == 0) {
        veil_error("Siamese pairs: the set has no %s patches, so no dissimilar pair can be drawn",
                   count[0] == 0 ? "female (label 0)" : "male (label 1)");
        return -1;
    }
    size_t *pos[2];
    pos[0] = veil_malloc(count[0] * sizeof(size_t));
    pos[1] = veil_malloc(count[1] * sizeof(size_t));
    size_t fill[2] = {0, 0};
    /* does a label have patches of two or more speakers? */
    int first_speaker[2] = {-1, -1}, several[2] = {0, 0};
    for (size_t i = 0; i < n; i++) {
        int l = set->label[i];
        pos[l][fill[l]++] = i;
        if (first_speaker[l] < 0) first_speaker[l] = speaker[i];
        else if (speaker[i] != first_speaker[l]) several[l] = 1;
    }
    for (size_t i = 0; i < n; i++) {
        int l = set->label[i];
        if (veil_rng_uniform(rng) < similar_fraction) {
            size_t j;
            if (several[l]) {
                /* rejection: another speaker of the same label exists, so this ends */
                do j = pos[l][veil_rng_below(rng, count[l])];
                while (speaker[j] == speaker[i]);
            } else if (count[l] > 1) {
                do j = pos[l][veil_rng_below(rng, count[l])];
                while (j == i);
            } else {
                j = i;
            }
            partner[i] = j;
            y[i] = 0;
        } else {
            partner[i] = pos[1 - l][veil_rng_below(rng, count[1 - l])];
            y[i] = 1;
        }
    }
    free(pos[0]);
    free(pos[1]);
    return 0;
}

static int *speakers_of(const veil_patch_set *p, const veil_labelled *set)
{
    int *s = veil_malloc((set->n ? set->n : 1) * sizeof(int));
    for (size_t i = 0; i < set->n; i++) s[i] = patch_speaker(p, set->idx[i]);
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
    m->spread = z_spread(z, eval->n, dim);
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
static int siamese_collapsed(const pair_eval *m, double spread_init, const veil_train_config *tc,
                             char *reason, size_t size)
{
    if (!(m->spread > tc->collapse_spread_ratio * spread_init)) {
        snprintf(reason, size, "z spread %.3g fell below %.3g x its initial %.3g", m->spread,
                 tc->collapse_spread_ratio, spread_init);
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
                       const veil_labelled *eval, const veil_train_config *tc, float lr,
                       uint64_t seed, const char *name, veil_train_report *rep)
{
    memset(rep, 0, sizeof *rep);
    if (check_shape(f, p)) return -1;
    if (train->n < 2 || eval->n < 2) {
        veil_error("%s: Siamese training needs at least 2 training and 2 evaluation patches "
                   "(got %zu and %zu)", name, train->n, eval->n);
        return -1;
    }
    int bp = tc->siamese_batch_pairs;
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
    snapshot best = {0, NULL};
    int rc = -1, count;
    veil_param *params = veil_extractor_params(f, &count);
    veil_rng rng;
    /* evaluation pairs: drawn once per job with their own seed */
    veil_rng_seed(&rng, veil_seed_mix(seed, 0x6576616c, 0));
    if (veil_pairs_draw(eval, spk_eval, tc->similar_fraction, &rng, epartner, ey)) goto done;

    pair_eval m;
    if (tc->bn_recalibrate && bn_recalibrate(f, p, train, 2 * (size_t)bp, veil_seed_mix(seed, 0x626e, 0)))
        goto done;
    if (tc->z_init_distance > 0 &&
        scale_initial_distance(f, p, train, spk_train, tc, 2 * (size_t)bp, veil_seed_mix(seed, 0x7363, 0)))
        goto done;
    if (siamese_eval(f, p, eval, epartner, ey, tc->margin, tc->extract_batch, zeval, &m)) goto done;
    rep->z_spread_init = m.spread;
    veil_adam adam;
    veil_adam_init(&adam, lr);
    size_t batches = (train->n + (size_t)bp - 1) / (size_t)bp;
    long warm_steps = (long)tc->warmup_epochs * (long)batches;
    size_t best_correct = 0;
    int since_best = 0;
    char label[160], extra[160], last_reason[128] = "";
    snprintf(label, sizeof label, "%s: f (Siamese)", name);
    veil_progress prog;
    veil_progress_begin(&prog, label, (long)tc->siamese_epochs * (long)batches);
    double epoch_loss = NAN;
    for (int epoch = 1; epoch <= tc->siamese_epochs; epoch++) {
        veil_rng_seed(&rng, veil_seed_mix(seed, 0x70616972, (uint64_t)epoch));
        if (veil_pairs_draw(train, spk_train, tc->similar_fraction, &rng, partner, y)) goto done;
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
            float loss = veil_contrastive(z, z + k * dim, yb, (int)k, (int)dim, tc->margin, dz,
                                          dz + k * dim, NULL);
            if (!finite_loss(loss, name, "Siamese", epoch, b)) goto done;
            if (veil_extractor_backward(f, dz)) goto done;
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
        if (tc->bn_recalibrate &&
            bn_recalibrate(f, p, train, 2 * (size_t)bp, veil_seed_mix(seed, 0x626e, (uint64_t)epoch)))
            goto done;
        if (siamese_eval(f, p, eval, epartner, ey, tc->margin, tc->extract_batch, zeval, &m)) goto done;
        char reason[128];
        int collapsed = siamese_collapsed(&m, rep->z_spread_init, tc, reason, sizeof reason);
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
            snapshot_save(&best, params, count);
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
        snapshot_restore(&best, params);
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
    snprintf(extra, sizeof extra, "%d epochs, best %d: verdict %.1f%%, z spread %.3g%s", rep->epochs_run,
             rep->best_epoch, 100 * rep->best_eval_acc, rep->z_spread, rep->collapsed ? " (collapsed)" : "");
    veil_progress_end(&prog, extra);
    rc = 0;
done:
    snapshot_free(&best);
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

/* ---------------- heads on frozen features ---------------- */
static size_t argmax(const float *v, int n)
{
    size_t best = 0;
    for (int k = 1; k < n; k++)
        if (v[k] > v[best]) best = (size_t)k;
    return best;
}

double veil_head_accuracy(veil_head *h, const float *x, const int *labels, size_t n, int batch,
                          size_t *pred_count)
{
    const veil_head_config *c = veil_head_config_of(h);
    float *logits = veil_malloc((size_t)batch * c->classes * sizeof(float));
    if (pred_count) memset(pred_count, 0, (size_t)c->classes * sizeof(size_t));
    size_t correct = 0;
    for (size_t i = 0; i < n; i += (size_t)batch) {
        size_t k = n - i < (size_t)batch ? n - i : (size_t)batch;
        if (veil_head_forward(h, x + i * c->in_dim, (int)k, 0, logits)) {
            free(logits);
            return NAN;
        }
        for (size_t j = 0; j < k; j++) {
            size_t pred = argmax(logits + j * c->classes, c->classes);
            correct += pred == (size_t)labels[i + j];
            if (pred_count) pred_count[pred]++;
        }
    }
    free(logits);
    return n ? (double)correct / (double)n : NAN;
}

static void shuffle_size(veil_rng *rng, size_t *a, size_t n)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)veil_rng_below(rng, i), t = a[i - 1];
        a[i - 1] = a[j];
        a[j] = t;
    }
}

int veil_head_train(veil_head *h, const float *x, const int *labels, size_t n, int epochs,
                    int batch, float lr, uint64_t seed, const char *name, double *final_loss)
{
    const veil_head_config *c = veil_head_config_of(h);
    size_t in = (size_t)c->in_dim, cls = (size_t)c->classes;
    if (n == 0) {
        veil_error("%s: no training samples", name);
        return -1;
    }
    float *xb = veil_aligned_alloc((size_t)batch * in * sizeof(float));
    float *logits = veil_malloc((size_t)batch * cls * sizeof(float));
    float *dlogits = veil_malloc((size_t)batch * cls * sizeof(float));
    int *lb = veil_malloc((size_t)batch * sizeof(int));
    size_t *order = veil_malloc(n * sizeof(size_t));
    int pcount, rc = -1;
    veil_param *params = veil_head_params(h, &pcount);
    veil_adam adam;
    veil_adam_init(&adam, lr);
    veil_rng rng;
    veil_rng_seed(&rng, veil_seed_mix(seed, 0x68656164, 0));
    size_t batches = (n + (size_t)batch - 1) / (size_t)batch;
    veil_progress prog;
    veil_progress_begin(&prog, name, (long)epochs * (long)batches);
    char extra[96];
    double epoch_loss = NAN;
    for (size_t i = 0; i < n; i++) order[i] = i;
    for (int epoch = 1; epoch <= epochs; epoch++) {
        shuffle_size(&rng, order, n);
        double loss_sum = 0;
        for (size_t b = 0; b < batches; b++) {
            size_t start = b * (size_t)batch, k = n - start < (size_t)batch ? n - start : (size_t)batch;
            for (size_t i = 0; i < k; i++) {
                memcpy(xb + i * in, x + order[start + i] * in, in * sizeof(float));
                lb[i] = labels[order[start + i]];
            }
            if (veil_head_forward(h, xb, (int)k, 1, logits)) goto done;
            float loss = veil_softmax_xent(logits, lb, (int)k, (int)cls, dlogits);
            if (!finite_loss(loss, name, "cross-entropy", epoch, b)) goto done;
            if (veil_head_backward(h, dlogits, NULL)) goto done;
            veil_adam_step(&adam, params, pcount);
            loss_sum += (double)loss * (double)k;
        }
        epoch_loss = loss_sum / (double)n;
        snprintf(extra, sizeof extra, "epoch %d loss %.4f", epoch, epoch_loss);
        veil_progress_update(&prog, (long)epoch * (long)batches, extra);
    }
    snprintf(extra, sizeof extra, "%d epochs, loss %.4f", epochs, epoch_loss);
    veil_progress_end(&prog, extra);
    if (final_loss) *final_loss = epoch_loss;
    rc = 0;
done:
    free(xb);
    free(logits);
    free(dlogits);
    free(lb);
    free(order);
    return rc;
}

/* ---------------- the reference: f and g together ---------------- */
int veil_train_reference(veil_extractor *f, veil_head *g, const veil_patch_set *p,
                         const veil_labelled *train, const veil_labelled *eval,
                         const veil_train_config *tc, uint64_t seed, const char *name,
                         veil_train_report *rep)
{
    memset(rep, 0, sizeof *rep);
    rep->d_similar = rep->d_dissimilar = NAN;
    if (check_shape(f, p)) return -1;
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
    snapshot fbest = {0, NULL}, gbest = {0, NULL};
    veil_adam fadam, gadam;
    veil_adam_init(&fadam, tc->lr);
    veil_adam_init(&gadam, tc->lr);
    veil_rng rng;
    veil_rng_seed(&rng, veil_seed_mix(seed, 0x72656600, 0));
    if (tc->bn_recalibrate && bn_recalibrate(f, p, train, (size_t)batch, veil_seed_mix(seed, 0x626e, 0)))
        goto done;
    if (veil_extract_features(f, p, eval->idx, eval->n, tc->extract_batch, zeval)) goto done;
    rep->z_spread_init = z_spread(zeval, eval->n, dim);
    size_t batches = (train->n + (size_t)batch - 1) / (size_t)batch;
    char label[160], extra[160];
    snprintf(label, sizeof label, "%s: f+g (reference)", name);
    veil_progress prog;
    veil_progress_begin(&prog, label, (long)tc->reference_epochs * (long)batches);
    double best_acc = -1, epoch_loss = NAN, last_acc = NAN;
    int since_best = 0;
    for (size_t i = 0; i < train->n; i++) order[i] = i;
    for (int epoch = 1; epoch <= tc->reference_epochs; epoch++) {
        shuffle_size(&rng, order, train->n);
        double loss_sum = 0;
        for (size_t b = 0; b < batches; b++) {
            size_t start = b * (size_t)batch;
            size_t k = train->n - start < (size_t)batch ? train->n - start : (size_t)batch;
            for (size_t i = 0; i < k; i++) {
                bidx[i] = train->idx[order[start + i]];
                lb[i] = train->label[order[start + i]];
            }
            gather(p, bidx, k, x);
            if (veil_extractor_forward(f, x, (int)k, 1, z) || veil_head_forward(g, z, (int)k, 1, logits))
                goto done;
            float loss = veil_softmax_xent(logits, lb, (int)k, cls, dlogits);
            if (!finite_loss(loss, name, "reference cross-entropy", epoch, b)) goto done;
            if (veil_head_backward(g, dlogits, dz) || veil_extractor_backward(f, dz)) goto done;
            veil_adam_step(&fadam, fp, fcount);
            veil_adam_step(&gadam, gp, gcount);
            loss_sum += (double)loss * (double)k;
            snprintf(extra, sizeof extra, "epoch %d loss %.4f gender-eval %.1f%%", epoch,
                     loss_sum / (double)(start + k), 100 * last_acc);
            veil_progress_update(&prog, (long)(epoch - 1) * (long)batches + (long)b + 1, extra);
        }
        epoch_loss = loss_sum / (double)train->n;
        rep->epochs_run = epoch;
        if (tc->bn_recalibrate &&
            bn_recalibrate(f, p, train, (size_t)batch, veil_seed_mix(seed, 0x626e, (uint64_t)epoch)))
            goto done;
        if (veil_extract_features(f, p, eval->idx, eval->n, tc->extract_batch, zeval)) goto done;
        double acc = veil_head_accuracy(g, zeval, eval->label, eval->n, tc->extract_batch, NULL);
        if (isnan(acc)) goto done;
        last_acc = acc;
        if (acc > best_acc || (tc->ties_improve && acc == best_acc)) {
            best_acc = acc;
            rep->best_epoch = epoch;
            rep->best_eval_acc = acc;
            rep->z_spread = z_spread(zeval, eval->n, dim);
            snapshot_save(&fbest, fp, fcount);
            snapshot_save(&gbest, gp, gcount);
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
        snapshot_restore(&fbest, fp);
        snapshot_restore(&gbest, gp);
        veil_extractor_params_changed(f);
        veil_head_params_changed(g);
    }
    snprintf(extra, sizeof extra, "%d epochs, best %d: gender-eval %.1f%%", rep->epochs_run,
             rep->best_epoch, 100 * rep->best_eval_acc);
    veil_progress_end(&prog, extra);
    rc = 0;
done:
    snapshot_free(&fbest);
    snapshot_free(&gbest);
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
