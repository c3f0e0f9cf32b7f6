/* strong-mlp: a stronger MLP attacker than the paper's, on whole held-out utterances:
 * twice the hidden units (2048 ReLU, dropout 0.5), standardised inputs (its training rows'
 * statistics), Adam at five times the paper's rate with decoupled weight decay 0.05
 * (AdamW), and early stopping on a held-out 15 % of each speaker's training rows
 * (patience 10, at most the paper's 150 epochs; the best epoch is kept). Scored per patch
 * and per utterance on the utterance split. */
#include <stdlib.h>

#include "veil/common.h"
#include "probe_internal.h"

int veil_probe_strong_mlp_score(const veil_probe_input *in, veil_probe_result *out)
{
    const veil_feature_table *tr = veil_probe_utt_train(in), *te = veil_probe_utt_test(in);
    probe_mlp m = {2 * in->hidden, in->epochs, in->batch, in->eval_batch, 5 * in->lr, in->dropout, in->precision,
                   veil_seed_mix(in->seed, 0x7374726f6e67, 0), veil_seed_mix(in->seed, 0x7374726f6e67, 1),
                   0.05f, 0.15, 10};
    float *x = veil_probe_standardised(tr, tr), *xt = veil_probe_standardised(tr, te);
    float *logits = veil_malloc((te->n ? te->n : 1) * (size_t)te->n_classes * sizeof(float));
    int rc = probe_mlp_logits(&m, x, tr->label, tr->n, xt, te->n, tr->dim, tr->n_classes, in->name, logits);
    if (rc == 0) probe_score_logits(te, logits, out);
    free(logits);
    free(x);
    free(xt);
    return rc;
}
