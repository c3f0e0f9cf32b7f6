/* mlp-utt-split: the paper's attacker (raw features, same MLP and training) trained on
 * whole utterances and scored on whole held-out ones (each speaker's utterances split
 * 70/30, veil_probe_utterance_split): per patch and per utterance, what an eavesdropper
 * who meets new recordings of the group's speakers achieves with the paper's model. */
#include <stdlib.h>

#include "veil/common.h"
#include "probe_internal.h"

int veil_probe_mlp_utt_split_score(const veil_probe_input *in, veil_probe_result *out)
{
    const veil_feature_table *tr = veil_probe_utt_train(in), *te = veil_probe_utt_test(in);
    probe_mlp m = {in->hidden, in->epochs, in->batch, in->eval_batch, in->lr, in->dropout, in->precision,
                   veil_seed_mix(in->seed, 0x757474, 0), veil_seed_mix(in->seed, 0x757474, 1), 0, 0, 0};
    float *logits = veil_malloc((te->n ? te->n : 1) * (size_t)te->n_classes * sizeof(float));
    int rc = probe_mlp_logits(&m, tr->z, tr->label, tr->n, te->z, te->n, tr->dim, tr->n_classes, in->name, logits);
    if (rc == 0) probe_score_logits(te, logits, out);
    free(logits);
    return rc;
}
