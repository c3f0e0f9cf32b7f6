/* The best-response adversarial method (issue 19): the adversarial method (f, g and a
 * speaker adversary with a reversed gradient) with an adversary built like the attackers
 * that beat it:
 *   - it reads z standardised per dimension with running statistics of f's output
 *     (each batch folded in with weight br_momentum; constants of the step): an f that
 *     only shrinks or shifts a dimension no longer hides it, since every learned attacker
 *     of the battery standardises its input the same way;
 *   - it takes br_steps Adam steps per batch (one with the reversal, the rest on the same
 *     standardised features), so it stays near a best response to the current f instead
 *     of one step behind.
 * f minimises J = L_g - lambda L_a(standardised z): dJ/dz = dL_g/dz - lambda dL_a/ds / sd
 * (veil_adversarial_gradients_std, checked against finite differences in
 * tests/test_adversarial.c). The training itself is the adversarial method's
 * (veil_train_adversarial_with). docs/protocol.md, "The best-response adversary". */
#include <stddef.h>

#include "method.h"
#include "veil/common.h"

typedef struct best_response_settings {
    double lambda;   /* weight of the reversed speaker gradient: the swept knob */
    int epochs;      /* most epochs */
    int steps;       /* adversary Adam steps per batch */
    double momentum; /* weight of a new batch in the running statistics */
} best_response_settings;
_Static_assert(sizeof(best_response_settings) <= sizeof(veil_method_settings), "settings too large");

static const veil_setting settings[] = {
    {"br_lambda", VEIL_SETTING_DOUBLE, offsetof(best_response_settings, lambda), 1, 0, 1e6,
     "weight of the reversed gradient of the standardised speaker adversary (swept)"},
    {"br_epochs", VEIL_SETTING_INT, offsetof(best_response_settings, epochs), 30, 1, 100000,
     "most epochs of f, g and the adversary together"},
    {"br_steps", VEIL_SETTING_INT, offsetof(best_response_settings, steps), 5, 1, 1000,
     "adversary Adam steps per batch (1: one step, as the adversarial method)"},
    {"br_momentum", VEIL_SETTING_DOUBLE, offsetof(best_response_settings, momentum), 0.1, 1e-6, 1,
     "weight of each batch in the running mean and variance that standardise the adversary's input"},
};

static int best_response_train(const veil_train_context *ctx, veil_trained *out)
{
    const best_response_settings *bs = ctx->settings;
    veil_adversarial_options o = {"best-response", bs->lambda, bs->epochs, bs->steps, bs->momentum, 0x62727370,
                                  0x62727300};
    return veil_train_adversarial_with(ctx, &o, out);
}

const veil_train_method veil_method_best_response = {
    .name = "best-response",
    .id = 4,
    .about = "adversarial, with the adversary standardising its input and taking several steps per batch "
             "(beyond the paper; opt-in)",
    VEIL_METHOD_SETTINGS(settings, best_response_settings),
    .epochs_setting = "br_epochs",
    VEIL_METHOD_KNOB("br_lambda", 0.1, 0.3, 1, 3),
    .groups = VEIL_GROUPS_SWEEP,
    .opt_in = 1,
    .train = best_response_train,
};
