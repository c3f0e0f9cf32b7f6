/* The attacker (threat model): for each group of St speakers, a fresh MLP head trained
 * on the frozen extractor's features of the attacker-training patches and scored on the
 * attacker-evaluation patches. Each patch's features are extracted once. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "veil/common.h"
#include "veil/job.h"

int veil_attack_run(veil_extractor *f, const veil_patch_set *p, const veil_split *s,
                    const veil_train_config *tc, uint64_t seed, const char *name, double *acc,
                    veil_features_fn on_features, void *ctx)
{
    size_t dim = (size_t)veil_extractor_dim(f);
    int max_batch = tc->attack_batch > tc->extract_batch ? tc->attack_batch : tc->extract_batch;
    veil_head_config hc = {(int)dim, tc->head_hidden, s->st, tc->dropout};
    char label[192];
    for (int g = 0; g < s->n_groups; g++) {
        size_t ntr = s->n_atrain[g], nev = s->n_aeval[g];
        float *ztr = veil_aligned_alloc((ntr ? ntr : 1) * dim * sizeof(float));
        float *zev = veil_aligned_alloc((nev ? nev : 1) * dim * sizeof(float));
        veil_head *h = NULL;
        int rc = -1;
        if (veil_extract_features(f, p, s->atrain[g], ntr, tc->extract_batch, ztr) ||
            veil_extract_features(f, p, s->aeval[g], nev, tc->extract_batch, zev))
            goto group_done;
        if (on_features && (on_features(ztr, s->atrain[g], ntr, ctx) ||
                            on_features(zev, s->aeval[g], nev, ctx)))
            goto group_done;
        h = veil_head_new(&hc, max_batch, veil_extractor_precision(f),
                          veil_seed_mix(seed, 0x61747461636b, (uint64_t)g));
        if (!h) goto group_done;
        snprintf(label, sizeof label, "%s: attacker group %d/%d", name, g + 1, s->n_groups);
        if (veil_head_train(h, ztr, s->atrain_label[g], ntr, tc->attack_epochs, tc->attack_batch,
                            tc->lr, veil_seed_mix(seed, 0x61747461636b, (uint64_t)g + 1000000),
                            label, NULL))
            goto group_done;
        acc[g] = veil_head_accuracy(h, zev, s->aeval_label[g], nev, max_batch, NULL);
        rc = isnan(acc[g]) ? -1 : 0;
    group_done:
        veil_head_free(h);
        free(ztr);
        free(zev);
        if (rc) {
            veil_error_prefix("%s: attacker group %d", name, g + 1);
            return -1;
        }
    }
    return 0;
}
