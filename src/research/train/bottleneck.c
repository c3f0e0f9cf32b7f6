/* The bottleneck baseline (issue 19): f followed by a linear layer to d values
 * (veil_extractor_config.out_dim), trained with g on gender alone as the reference is
 * (veil_train_reference: cross-entropy, early stopping on gender-evaluation accuracy).
 * It asks how much a feature that serves the task leaks when it is merely small: any
 * method claiming privacy must beat the points its d draw. d = 1 is the task-posterior
 * feature, one number per patch trained to carry gender (the least that any feature
 * serving the task can carry). No privacy objective. docs/protocol.md, "Baselines". */
#include <stddef.h>

#include "method.h"
#include "veil/common.h"

typedef struct bottleneck_settings {
    int dim;    /* d: the swept knob */
    int epochs; /* most epochs */
} bottleneck_settings;
_Static_assert(sizeof(bottleneck_settings) <= sizeof(veil_method_settings), "settings too large");

static const veil_setting settings[] = {
    {"bn_dim", VEIL_SETTING_INT, offsetof(bottleneck_settings, dim), 8, 1, 1 << 20,
     "values the device sends per patch: f's pooled map through a linear layer to bn_dim (swept; 1: the "
     "task-posterior feature)"},
    {"bn_epochs", VEIL_SETTING_INT, offsetof(bottleneck_settings, epochs), 30, 1, 100000,
     "most epochs of f, the linear layer and g together"},
};

static int bottleneck_train(const veil_train_context *ctx, veil_trained *out)
{
    const bottleneck_settings *bs = ctx->settings;
    veil_extractor_config arch = *ctx->arch;
    arch.out_dim = bs->dim;
    veil_reference_settings rs = {bs->epochs};
    return veil_train_reference_arch(ctx, &arch, &rs, 0x626e6b00, out);
}

const veil_train_method veil_method_bottleneck = {
    .name = "bottleneck",
    .id = 5,
    .about = "baseline: f then a linear layer to bn_dim values, trained with g on gender only (1: the "
             "task posterior; opt-in)",
    VEIL_METHOD_SETTINGS(settings, bottleneck_settings),
    .epochs_setting = "bn_epochs",
    VEIL_METHOD_KNOB("bn_dim", 1, 2, 8, 32, 128),
    .groups = VEIL_GROUPS_SWEEP,
    .opt_in = 1,
    .train = bottleneck_train,
};
