/* The raw baseline (issue 19): no protection. The device sends the MFCC patch itself
 * (an extractor of no group: the 32 x 32 patch flattened, 1024 values); the job trains
 * g on it as on any frozen f, and the attackers read it. Every method's privacy is
 * measured against this point. docs/protocol.md, "Baselines". */
#include <stddef.h>

#include "method.h"
#include "veil/common.h"

typedef struct raw_settings {
    int unused; /* no setting: the table needs a struct */
} raw_settings;

static int raw_train(const veil_train_context *ctx, veil_trained *out)
{
    veil_extractor_config arch = *ctx->arch;
    arch.groups = 0; /* nothing to train: g is trained by the job on the patches */
    veil_train_context own = *ctx;
    own.arch = &arch;
    out->f = veil_train_new_extractor(&own, 0, veil_seed_mix(ctx->seed, 0x696e6974, 0));
    out->g = NULL;
    out->rep.epochs_run = 0;
    return out->f ? 0 : -1;
}

const veil_train_method veil_method_raw = {
    .name = "raw",
    .id = 6,
    .about = "baseline: no protection, the MFCC patch itself (1024 values; G does not apply; opt-in)",
    .settings = NULL,
    .n_settings = 0,
    .settings_size = sizeof(raw_settings),
    .epochs_setting = NULL,
    .groups = VEIL_GROUPS_ONE,
    .opt_in = 1,
    .train = raw_train,
};
