/* paper-mlp: the paper's attacker, unchanged: an MLP head (1024 ReLU, dropout 0.5) on the
 * raw features of the attacker-training patches, 150 epochs of batch 90, Adam 2e-4;
 * scored per patch (the paper's number). Its patch split leaves 2-3 patches of each
 * utterance on the test side, of utterances it trained on, so it gives no number per
 * utterance (mlp-utt-split does, on whole held-out utterances). Its seeds are those of the
 * attacker before probes existed, so its per-patch numbers are bit-identical to earlier
 * runs. */
#include <math.h>
#include <stdlib.h>

#include "veil/common.h"
#include "probe_internal.h"

int veil_probe_paper_mlp_score(const veil_probe_input *in, veil_probe_result *out)
{
    const veil_feature_table *tr = in->train, *te = in->test;
    probe_mlp m = {in->hidden, in->epochs, in->batch, in->eval_batch, in->lr, in->dropout, in->precision,
                   veil_seed_mix(in->attack_seed, 0x61747461636b, (uint64_t)in->group),
                   veil_seed_mix(in->attack_seed, 0x61747461636b, (uint64_t)in->group + 1000000), 0, 0, 0};
    float *logits = veil_malloc((te->n ? te->n : 1) * (size_t)te->n_classes * sizeof(float));
    int rc = probe_mlp_logits(&m, tr->z, tr->label, tr->n, te->z, te->n, tr->dim, tr->n_classes,
                              in->name, logits);
    if (rc == 0) probe_score_logits(te, logits, out);
    out->acc_utt = NAN;
    free(logits);
    return rc;
}
