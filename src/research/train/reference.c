/* The reference (no privacy; the paper's Section 5.3): f at G = 1 and the gender head g
 * trained together by cross-entropy, early stopping on gender-evaluation accuracy. */
#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "method.h"
#include "veil/common.h"

static const veil_setting settings[] = {
    {"reference_epochs", VEIL_SETTING_INT, offsetof(veil_reference_settings, epochs), 30, 1, 100000,
     "most epochs of f and g together"},
};
_Static_assert(sizeof(veil_reference_settings) <= sizeof(veil_method_settings), "settings too large");

/* ---------------- the reference: f and g together, on cross-entropy ---------------- */
typedef struct reference_state {
    veil_extractor *f;
    veil_head *g;
    float *z, *dz, *logits, *dlogits;
    const char *name;
} reference_state;

static int reference_step(void *m, const float *x, int k, const int *gender, const int *speaker, int epoch,
                          size_t batch, double *sums)
{
    (void)speaker;
    reference_state *r = m;
    int cls = veil_head_config_of(r->g)->classes;
    if (veil_extractor_forward(r->f, x, k, 1, r->z) || veil_head_forward(r->g, r->z, k, 1, r->logits)) return -1;
    float loss = veil_softmax_xent(r->logits, gender, k, cls, r->dlogits);
    if (!veil_finite_loss(loss, r->name, "reference cross-entropy", epoch, batch)) return -1;
    if (veil_head_backward(r->g, r->dlogits, r->dz) || veil_extractor_backward(r->f, r->dz)) return -1;
    sums[0] += (double)loss * (double)k;
    return 0;
}

static void reference_describe(void *m, char *buf, size_t n, int epoch, const double *sums, double rows, double acc)
{
    (void)m;
    if (epoch == 0) buf[0] = 0; /* the loop's end line says it all */
    else if (isnan(acc)) snprintf(buf, n, "epoch %d loss %.4f", epoch, sums[0] / rows);
    else snprintf(buf, n, "epoch %d loss %.4f gender-eval %.1f%%", epoch, sums[0] / rows, 100 * acc);
}

static void reference_log(void *m, int epoch, const double *sums, double rows, double acc, double spread)
{
    (void)spread;
    veil_log("%s: reference epoch %d loss %.4f gender-eval %.1f%%", ((reference_state *)m)->name, epoch,
             sums[0] / rows, 100 * acc);
}

static double reference_final_loss(void *m, const double *sums, double rows)
{
    (void)m;
    return sums[0] / rows;
}

int veil_train_reference(veil_extractor *f, veil_head *g, const veil_patch_set *p,
                         const veil_labelled *train, const veil_labelled *eval,
                         const veil_train_config *tc, const veil_reference_settings *rs,
                         uint64_t seed, const char *name, veil_train_report *rep)
{
    size_t zb = (size_t)tc->gender_batch * (size_t)veil_extractor_dim(f);
    size_t lb = (size_t)tc->gender_batch * (size_t)veil_head_config_of(g)->classes;
    reference_state r = {f, g, veil_aligned_alloc(zb * sizeof(float)), veil_aligned_alloc(zb * sizeof(float)),
                         veil_malloc(lb * sizeof(float)), veil_malloc(lb * sizeof(float)), name};
    char label[160];
    snprintf(label, sizeof label, "%s: f+g (reference)", name);
    veil_fg_method fm = {&r, label, rs->epochs, veil_seed_mix(seed, 0x72656600, 0), seed, 1, reference_step, NULL,
                         reference_describe, reference_log, reference_final_loss};
    int rc = veil_train_fg(f, g, p, train, eval, NULL, tc, &fm, name, rep);
    free(r.z), free(r.dz), free(r.logits), free(r.dlogits);
    return rc;
}


int veil_train_reference_arch(const veil_train_context *ctx, const veil_extractor_config *arch,
                              const veil_reference_settings *rs, uint64_t salt, veil_trained *out)
{
    const veil_train_config *tc = ctx->tc;
    veil_train_context own = *ctx;
    own.arch = arch;
    veil_head_config hc = {veil_extractor_config_dim(arch), tc->head_hidden, veil_train_classes(ctx), tc->dropout};
    int head_batch = tc->gender_batch > tc->extract_batch ? tc->gender_batch : tc->extract_batch;
    out->f = veil_train_new_extractor(&own, 0, veil_seed_mix(ctx->seed, 0x696e6974, 0));
    out->g = veil_head_new(&hc, head_batch, ctx->precision, veil_seed_mix(ctx->seed, 0x67656e64, 0));
    if (!out->f || !out->g ||
        veil_train_reference(out->f, out->g, ctx->patches, ctx->train, ctx->eval, tc, rs,
                             veil_seed_mix(ctx->seed, salt, 0), ctx->name, &out->rep)) {
        veil_extractor_free(out->f);
        veil_head_free(out->g);
        out->f = NULL;
        out->g = NULL;
        return -1;
    }
    return 0;
}

static int reference_train(const veil_train_context *ctx, veil_trained *out)
{
    return veil_train_reference_arch(ctx, ctx->arch, ctx->settings, 0x72656600, out);
}

const veil_train_method veil_method_reference = {
    .name = "reference",
    .id = VEIL_METHOD_REFERENCE,
    .about = "no privacy: f (G = 1) and g trained together on gender",
    VEIL_METHOD_SETTINGS(settings, veil_reference_settings),
    .epochs_setting = "reference_epochs",
    .groups = VEIL_GROUPS_ONE,
    .train = reference_train,
};
