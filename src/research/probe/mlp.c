/* The MLP attacker shared by the paper-mlp family: a fresh veil_head trained on the
 * attacker-training rows, scored on the test rows. */
#include <math.h>
#include <stdlib.h>

#include <string.h>

#include "veil/common.h"
#include "veil/job.h"
#include "linalg.h"
#include "probe_internal.h"

/* Training with early stopping: fit on the rows not held out, stop on the held-out ones. */
static int train_held_out(const probe_mlp *m, veil_head *h, const float *x, const int *y, size_t n, int dim,
                          int classes, const char *name)
{
    size_t *kept = veil_malloc((n ? n : 1) * sizeof *kept), *held = veil_malloc((n ? n : 1) * sizeof *held), nk, nh;
    pm_holdout_rows(y, n, classes, m->held_fraction, veil_seed_mix(m->train_seed, 0x68656c64, 0), kept, &nk, held,
                    &nh);
    float *xf = veil_aligned_alloc((nk ? nk : 1) * (size_t)dim * sizeof(float));
    float *xh = veil_aligned_alloc((nh ? nh : 1) * (size_t)dim * sizeof(float));
    int *yf = veil_malloc((nk ? nk : 1) * sizeof(int)), *yh = veil_malloc((nh ? nh : 1) * sizeof(int));
    for (size_t r = 0; r < nk; r++) {
        memcpy(xf + r * (size_t)dim, x + kept[r] * (size_t)dim, (size_t)dim * sizeof(float));
        yf[r] = y[kept[r]];
    }
    for (size_t r = 0; r < nh; r++) {
        memcpy(xh + r * (size_t)dim, x + held[r] * (size_t)dim, (size_t)dim * sizeof(float));
        yh[r] = y[held[r]];
    }
    veil_head_train_options o = {m->weight_decay, xh, yh, nh, m->patience, m->eval_batch, 0, 0, 0};
    int rc = veil_head_train_ex(h, xf, yf, nk, m->epochs, m->batch, m->lr, m->train_seed, name, NULL, &o);
    if (rc == 0 && veil_verbosity >= 2)
        veil_log("%s: best epoch %d of %d (held-out %.1f %% on %zu rows)", name, o.best_epoch, o.epochs_run,
                 100 * o.best_held_acc, nh);
    free(kept), free(held), free(xf), free(xh), free(yf), free(yh);
    return rc;
}

veil_head *probe_mlp_train(const probe_mlp *m, const float *x, const int *y, size_t n, int dim, int classes,
                           const char *name)
{
    int max_batch = m->batch > m->eval_batch ? m->batch : m->eval_batch;
    veil_head_config hc = {dim, m->hidden, classes, m->dropout};
    veil_head *h = veil_head_new(&hc, max_batch, m->precision, m->init_seed);
    if (!h) return NULL;
    int rc;
    if (m->held_fraction > 0) rc = train_held_out(m, h, x, y, n, dim, classes, name);
    else if (m->weight_decay > 0) {
        veil_head_train_options o = {m->weight_decay, NULL, NULL, 0, 0, 0, 0, 0, 0};
        rc = veil_head_train_ex(h, x, y, n, m->epochs, m->batch, m->lr, m->train_seed, name, NULL, &o);
    } else rc = veil_head_train(h, x, y, n, m->epochs, m->batch, m->lr, m->train_seed, name, NULL);
    if (rc) {
        veil_head_free(h);
        return NULL;
    }
    return h;
}

int probe_mlp_logits(const probe_mlp *m, const float *x, const int *y, size_t n, const float *xt,
                     size_t nt, int dim, int classes, const char *name, float *logits)
{
    veil_head *h = probe_mlp_train(m, x, y, n, dim, classes, name);
    int rc = h ? 0 : -1;
    for (size_t i = 0; i < nt && rc == 0; i += (size_t)m->eval_batch) {
        size_t k = nt - i < (size_t)m->eval_batch ? nt - i : (size_t)m->eval_batch;
        rc = veil_head_forward(h, xt + i * (size_t)dim, (int)k, 0, logits + i * (size_t)classes);
    }
    veil_head_free(h);
    return rc;
}

void probe_score_logits(const veil_feature_table *test, const float *logits, veil_probe_result *out)
{
    size_t k = (size_t)test->n_classes, correct = 0;
    float *logp = veil_malloc((test->n ? test->n : 1) * k * sizeof(float));
    for (size_t i = 0; i < test->n; i++) {
        const float *l = logits + i * k;
        size_t best = 0;
        double mx = l[0], s = 0;
        for (size_t c = 1; c < k; c++) {
            if (l[c] > l[best]) best = c;
            if (l[c] > mx) mx = l[c];
        }
        correct += best == (size_t)test->label[i];
        for (size_t c = 0; c < k; c++) s += exp((double)l[c] - mx);
        double lse = mx + log(s);
        for (size_t c = 0; c < k; c++) logp[i * k + c] = (float)((double)l[c] - lse);
    }
    veil_probe_identification(test, logp, out);
    out->acc = test->n ? (double)correct / (double)test->n : NAN;
    free(logp);
}
