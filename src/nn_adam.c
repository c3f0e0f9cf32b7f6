/* Adam exactly as PyTorch's torch.optim.Adam (no weight decay, no amsgrad):
 *   m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2
 *   p -= lr / (1-b1^t) * m / (sqrt(v) / sqrt(1-b2^t) + eps)
 * which is lr * mhat / (sqrt(vhat) + eps). */
#include <math.h>

#include "veil/common.h"
#include "veil/nn.h"

void veil_adam_init(veil_adam *a, float lr)
{
    a->lr = lr;
    a->beta1 = 0.9f;
    a->beta2 = 0.999f;
    a->eps = 1e-8f;
    a->step = 0;
}

static void adam_update(float *restrict p, const float *restrict g, float *restrict m,
                        float *restrict v, size_t n, float b1, float b2, float step_size,
                        float inv_sqrt_bc2, float eps)
{
    for (size_t i = 0; i < n; i++) {
        float mi = b1 * m[i] + (1.0f - b1) * g[i];
        float vi = b2 * v[i] + (1.0f - b2) * g[i] * g[i];
        m[i] = mi;
        v[i] = vi;
        p[i] -= step_size * mi / (sqrtf(vi) * inv_sqrt_bc2 + eps);
    }
}

void veil_adam_step(veil_adam *a, veil_param *params, int count)
{
    a->step++;
    /* bias corrections in double: b2^t stays accurate for long runs */
    double bc1 = 1.0 - pow(a->beta1, (double)a->step);
    double bc2 = 1.0 - pow(a->beta2, (double)a->step);
    float step_size = (float)(a->lr / bc1);
    float inv_sqrt_bc2 = (float)(1.0 / sqrt(bc2));
    for (int i = 0; i < count; i++) {
        veil_param *p = &params[i];
        if (p->is_buffer || !p->grad) continue;
        if (!p->adam_m) p->adam_m = veil_calloc(p->size, sizeof(float));
        if (!p->adam_v) p->adam_v = veil_calloc(p->size, sizeof(float));
        adam_update(p->data, p->grad, p->adam_m, p->adam_v, p->size, a->beta1, a->beta2,
                    step_size, inv_sqrt_bc2, a->eps);
    }
}
