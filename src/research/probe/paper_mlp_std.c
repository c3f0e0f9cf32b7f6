/* paper-mlp-std: the paper's attacker (same MLP, epochs, batch, rate, patch split) on
 * inputs standardised with the per-dimension mean and std of its own training rows. The
 * paper's MLP on raw features can be slowed by features of very different scales (the
 * Siamese G = 5 features span orders of magnitude); this tells whether a low paper-mlp
 * number is privacy or poor conditioning. Per patch only, as paper-mlp. */
#include <math.h>
#include <stdlib.h>

#include "veil/common.h"
#include "probe_internal.h"

int veil_probe_paper_mlp_std_score(const veil_probe_input *in, veil_probe_result *out)
{
    const veil_feature_table *tr = in->train, *te = in->test;
    probe_mlp m = {in->hidden, in->epochs, in->batch, in->eval_batch, in->lr, in->dropout, in->precision,
                   veil_seed_mix(in->seed, 0x737464, 0), veil_seed_mix(in->seed, 0x737464, 1), 0, 0, 0};
    float *x = veil_probe_standardised(tr, tr), *xt = veil_probe_standardised(tr, te);
    float *logits = veil_malloc((te->n ? te->n : 1) * (size_t)te->n_classes * sizeof(float));
    int rc = probe_mlp_logits(&m, x, tr->label, tr->n, xt, te->n, tr->dim, tr->n_classes, in->name, logits);
    if (rc == 0) probe_score_logits(te, logits, out);
    out->acc_utt = NAN;
    free(logits);
    free(x);
    free(xt);
    return rc;
}
