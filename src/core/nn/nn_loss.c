/* Losses in float (means over the batch), written to survive extreme inputs:
 * log-sum-exp with the maximum subtracted, distances accumulated in double. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "veil/nn.h"

/* Precondition: 0 <= labels[i] < classes. A label outside is a programming error
 * (the corpus layer maps names to indices), so it stops the program with a message
 * instead of reading out of bounds; the check costs nothing next to the network. */
static void check_label(int label, int i, int classes)
{
    if (label < 0 || label >= classes) {
        fprintf(stderr, "veil_softmax_xent: label %d of sample %d outside 0..%d\n", label, i,
                classes - 1);
        abort();
    }
}

float veil_softmax_xent(const float *logits, const int *labels, int n, int classes, float *dlogits)
{
    double total = 0;
    for (int b = 0; b < n; b++) {
        const float *l = logits + (size_t)b * classes;
        check_label(labels[b], b, classes);
        float mx = l[0];
        for (int k = 1; k < classes; k++)
            if (l[k] > mx) mx = l[k];
        double s = 0;
        for (int k = 0; k < classes; k++) s += exp((double)l[k] - mx);
        double lse = mx + log(s);
        total += lse - l[labels[b]];
        if (dlogits) {
            float *d = dlogits + (size_t)b * classes;
            for (int k = 0; k < classes; k++)
                d[k] = (float)((exp((double)l[k] - lse) - (k == labels[b])) / n);
        }
    }
    return n > 0 ? (float)(total / n) : 0.0f;
}

/* Gradient of a dissimilar pair with d < m: -2 (m - d) (z1 - z2) / (d n). Its size
 * tends to 2 (m - d) / n as d -> 0 but its direction (z1 - z2) / d is undefined at
 * d = 0 exactly; there we take d'(0) = 0 (the subgradient PyTorch's norm uses), so the
 * result is deterministic and finite. Pairs that are merely close (d = 1e-20) still
 * get the full push apart, since (z1 - z2) / d is computed in double. */
float veil_contrastive(const float *z1, const float *z2, const int *y, int n, int dim, float margin,
                       float *dz1, float *dz2, float *dist)
{
    double total = 0;
    for (int b = 0; b < n; b++) {
        const float *a = z1 + (size_t)b * dim, *c = z2 + (size_t)b * dim;
        double d2 = 0;
        for (int i = 0; i < dim; i++) {
            double diff = (double)a[i] - c[i];
            d2 += diff * diff;
        }
        double d = sqrt(d2), coef;
        if (y[b] == 0) {
            total += d2;
            coef = 2.0;
        } else {
            double gap = margin - d;
            total += gap > 0 ? gap * gap : 0.0;
            coef = (gap > 0 && d > 0) ? -2.0 * gap / d : 0.0;
        }
        if (dist) dist[b] = (float)d;
        if (dz1 || dz2) {
            coef /= n;
            for (int i = 0; i < dim; i++) {
                float g = (float)(coef * ((double)a[i] - c[i]));
                if (dz1) dz1[(size_t)b * dim + i] = g;
                if (dz2) dz2[(size_t)b * dim + i] = -g;
            }
        }
    }
    return n > 0 ? (float)(total / n) : 0.0f;
}

/* KL(N(mu, exp(logvar)) || N(0, 1)) per value is (mu^2 + exp(logvar) - logvar - 1) / 2:
 * the rows' sums averaged over the batch, so the gradients carry a 1/n. */
float veil_kl_normal(const float *mu, const float *logvar, int n, int dim, float *dmu, float *dlogvar)
{
    double total = 0;
    size_t count = (size_t)n * (size_t)dim;
    for (size_t i = 0; i < count; i++) {
        double m = mu[i], lv = logvar[i], var = exp(lv);
        total += 0.5 * (m * m + var - lv - 1.0);
        if (dmu) dmu[i] = (float)(m / n);
        if (dlogvar) dlogvar[i] = (float)(0.5 * (var - 1.0) / n);
    }
    return n > 0 ? (float)(total / n) : 0.0f;
}
