/* Helpers the training methods share: patches, snapshots of the best epoch, z spread,
 * loss checks, BatchNorm recalibration, the extractor of a job. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "train/method.h"
#include "veil/common.h"

static int max_int(int a, int b) { return a > b ? a : b; }

veil_extractor *veil_train_new_extractor(const veil_train_context *ctx, int own_batch, uint64_t seed)
{
    const veil_train_config *tc = ctx->tc;
    int max_batch = max_int(max_int(own_batch, tc->extract_batch), tc->gender_batch);
    return veil_extractor_new(ctx->arch, max_batch, ctx->precision, seed);
}

void veil_shuffle_size(veil_rng *rng, size_t *a, size_t n)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)veil_rng_below(rng, i), t = a[i - 1];
        a[i - 1] = a[j];
        a[j] = t;
    }
}

int veil_patch_speaker(const veil_patch_set *p, size_t i)
{
    int lo = 0, hi = p->n_speakers - 1;
    while (lo < hi) { /* the last speaker whose first patch is <= i */
        int mid = (lo + hi + 1) / 2;
        if (p->speaker_offset[mid] <= i) lo = mid;
        else hi = mid - 1;
    }
    return lo;
}

void veil_gather_patches(const veil_patch_set *p, const size_t *idx, size_t n, float *x)
{
    size_t hw = (size_t)p->patch_h * p->patch_w;
    for (size_t i = 0; i < n; i++) memcpy(x + i * hw, veil_patch(p, idx[i]), hw * sizeof(float));
}

int veil_check_patch_shape(veil_extractor *f, const veil_patch_set *p)
{
    const veil_extractor_config *c = veil_extractor_config_of(f);
    if (c->in_h != p->patch_h || c->in_w != p->patch_w) {
        veil_error("extractor input %dx%d does not match the patches (%dx%d)", c->in_h, c->in_w,
                   p->patch_h, p->patch_w);
        return -1;
    }
    return 0;
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

int veil_finite_loss(double loss, const char *name, const char *what, int epoch, size_t batch)
{
    if (isfinite(loss)) return 1;
    veil_error("%s: %s loss is %s at epoch %d (batch %zu); training stopped (try a lower "
               "learning rate or --precision fp32)", name, what, isnan(loss) ? "NaN" : "infinite",
               epoch, batch + 1);
    return 0;
}

int veil_finite_grads(const veil_param *params, int count, const char *name, int epoch, size_t batch)
{
    char what[256];
    snprintf(what, sizeof what, "%s: epoch %d (batch %zu)", name, epoch, batch + 1);
    return veil_params_check_finite(params, count, 1, what) == 0;
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

