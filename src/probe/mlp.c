/* The MLP attacker shared by the paper-mlp family: a fresh veil_head trained on the
 * attacker-training rows, scored on the test rows. */
#include <math.h>
#include <stdlib.h>

#include "veil/common.h"
#include "veil/job.h"
#include "probe_internal.h"

int probe_mlp_logits(const probe_mlp *m, const float *x, const int *y, size_t n, const float *xt,
                     size_t nt, int dim, int classes, const char *name, float *logits)
{
    int max_batch = m->batch > m->eval_batch ? m->batch : m->eval_batch;
    veil_head_config hc = {dim, m->hidden, classes, m->dropout};
    veil_head *h = veil_head_new(&hc, max_batch, m->precision, m->init_seed);
    if (!h) return -1;
    int rc = veil_head_train(h, x, y, n, m->epochs, m->batch, m->lr, m->train_seed, name, NULL);
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
