/* The pieces of every training loop, the methods' and the heads' alike (heads.c): shuffled
 * orders, patches gathered into a batch, each patch's speaker, shape and finiteness checks.
 * They use nothing else of src/research/train/, so the heads and the methods' loop
 * (common.c) both build on them. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "method.h"
#include "veil/common.h"

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

int veil_finite_loss(double loss, const char *name, const char *what, int epoch, size_t batch)
{
    if (isfinite(loss)) return 1;
    veil_error("%s: %s loss is %s at epoch %d (batch %zu); training stopped (try a lower "
               "learning rate, and --precision fp32 if it ran in bf16)", name, what,
               isnan(loss) ? "NaN" : "infinite",
               epoch, batch + 1);
    return 0;
}

int veil_finite_grads(const veil_param *params, int count, const char *name, int epoch, size_t batch)
{
    char what[256];
    snprintf(what, sizeof what, "%s: epoch %d (batch %zu)", name, epoch, batch + 1);
    return veil_params_check_finite(params, count, 1, what) == 0;
}
