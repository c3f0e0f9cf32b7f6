/* Plain-C reference layers in double precision: direct loops that follow the
 * definitions in nn_ref.h, for the tests (finite differences, oneDNN against it).
 * Speed does not matter here; being obviously right does. */
#include "nn_ref.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "veil/common.h"

/* ---------------- convolution, stride 1, 'same' padding ----------------
 * One walk over every product the convolution sums, x[b][c][ii][jj] * wt[o][c][ki][kj]
 * into y[b][o][i][j] (ii = i + ki - pad, jj = j + kj - pad inside the map), for the
 * forward (y given: y = bias + the sum) and the backward (dy given: each product's dy
 * goes to dwt and dx, which start at 0). */
static void conv2d_walk(const double *x, int n, int cin, int h, int w, const double *wt, const double *bias,
                        int cout, int k, double *y, const double *dy, double *dx, double *dwt)
{
    int pad = (k - 1) / 2; /* top/left; bottom/right get the rest */
    for (int b = 0; b < n; b++)
        for (int o = 0; o < cout; o++)
            for (int i = 0; i < h; i++)
                for (int j = 0; j < w; j++) {
                    size_t yi = (((size_t)b * cout + o) * h + i) * w + j;
                    double s = bias ? bias[o] : 0.0, g = dy ? dy[yi] : 0.0;
                    for (int c = 0; c < cin; c++)
                        for (int ki = 0; ki < k; ki++) {
                            int ii = i + ki - pad;
                            if (ii < 0 || ii >= h) continue;
                            for (int kj = 0; kj < k; kj++) {
                                int jj = j + kj - pad;
                                if (jj < 0 || jj >= w) continue;
                                size_t xi = (((size_t)b * cin + c) * h + ii) * w + jj;
                                size_t wi = (((size_t)o * cin + c) * k + ki) * k + kj;
                                s += wt[wi] * x[xi];
                                if (dwt) dwt[wi] += g * x[xi];
                                if (dx) dx[xi] += g * wt[wi];
                            }
                        }
                    if (y) y[yi] = s;
                }
}

void ref_conv2d_forward(const double *x, int n, int cin, int h, int w, const double *wt,
                        const double *bias, int cout, int k, double *y)
{
    conv2d_walk(x, n, cin, h, w, wt, bias, cout, k, y, NULL, NULL, NULL);
}

void ref_conv2d_backward(const double *x, int n, int cin, int h, int w, const double *wt, int cout,
                         int k, const double *dy, double *dx, double *dwt, double *dbias)
{
    if (dx) memset(dx, 0, sizeof(double) * (size_t)n * cin * h * w);
    if (dwt) memset(dwt, 0, sizeof(double) * (size_t)cout * cin * k * k);
    conv2d_walk(x, n, cin, h, w, wt, NULL, cout, k, NULL, dy, dx, dwt);
    if (dbias) /* the sum of dy over each output map */
        for (int o = 0; o < cout; o++) {
            dbias[o] = 0;
            for (int b = 0; b < n; b++)
                for (size_t p = 0; p < (size_t)h * w; p++) dbias[o] += dy[((size_t)b * cout + o) * h * w + p];
        }
}

/* ---------------- ReLU ---------------- */
void ref_relu_forward(const double *x, size_t count, double *y)
{
    for (size_t i = 0; i < count; i++) y[i] = x[i] > 0 ? x[i] : 0.0;
}

void ref_relu_backward(const double *x, const double *dy, size_t count, double *dx)
{
    if (!dx) return;
    for (size_t i = 0; i < count; i++) dx[i] = x[i] > 0 ? dy[i] : 0.0;
}

/* ---------------- max-pool 2x2 stride 2 ---------------- */
/* Index (within the plane) of the first maximum of the window at output (i, j). */
static size_t pool_argmax(const double *plane, int w, int i, int j)
{
    size_t best = (size_t)(2 * i) * w + 2 * j;
    for (int di = 0; di < 2; di++)
        for (int dj = 0; dj < 2; dj++) {
            size_t idx = (size_t)(2 * i + di) * w + 2 * j + dj;
            if (plane[idx] > plane[best]) best = idx;
        }
    return best;
}

void ref_maxpool2_forward(const double *x, int n, int c, int h, int w, double *y)
{
    int oh = h / 2, ow = w / 2;
    for (size_t p = 0; p < (size_t)n * c; p++) {
        const double *plane = x + p * h * w;
        for (int i = 0; i < oh; i++)
            for (int j = 0; j < ow; j++)
                y[(p * oh + i) * ow + j] = plane[pool_argmax(plane, w, i, j)];
    }
}

void ref_maxpool2_backward(const double *x, int n, int c, int h, int w, const double *dy, double *dx)
{
    if (!dx) return;
    int oh = h / 2, ow = w / 2;
    memset(dx, 0, sizeof(double) * (size_t)n * c * h * w);
    for (size_t p = 0; p < (size_t)n * c; p++) {
        const double *plane = x + p * h * w;
        for (int i = 0; i < oh; i++)
            for (int j = 0; j < ow; j++)
                dx[p * h * w + pool_argmax(plane, w, i, j)] += dy[(p * oh + i) * ow + j];
    }
}

/* ---------------- batch normalisation ---------------- */
#define BN_AT(arr, b, ch, s) (arr)[((size_t)(b) * c + (ch)) * hw + (s)]

void ref_batchnorm_forward_train(const double *x, int n, int c, int hw, const double *gamma,
                                 const double *beta, double eps, double *y, double *mean,
                                 double *var)
{
    double m_count = (double)n * hw;
    for (int ch = 0; ch < c; ch++) {
        double s = 0;
        for (int b = 0; b < n; b++)
            for (int i = 0; i < hw; i++) s += BN_AT(x, b, ch, i);
        double mu = s / m_count, ss = 0;
        for (int b = 0; b < n; b++)
            for (int i = 0; i < hw; i++) {
                double d = BN_AT(x, b, ch, i) - mu;
                ss += d * d;
            }
        double v = ss / m_count; /* biased, as PyTorch normalises in training */
        double istd = 1.0 / sqrt(v + eps);
        for (int b = 0; b < n; b++)
            for (int i = 0; i < hw; i++)
                BN_AT(y, b, ch, i) = gamma[ch] * (BN_AT(x, b, ch, i) - mu) * istd + beta[ch];
        if (mean) mean[ch] = mu;
        if (var) var[ch] = v;
    }
}

void ref_batchnorm_backward(const double *x, int n, int c, int hw, const double *gamma,
                            const double *mean, const double *var, double eps, const double *dy,
                            double *dx, double *dgamma, double *dbeta)
{
    double m_count = (double)n * hw;
    for (int ch = 0; ch < c; ch++) {
        double istd = 1.0 / sqrt(var[ch] + eps);
        double sdy = 0, sdyxh = 0;
        for (int b = 0; b < n; b++)
            for (int i = 0; i < hw; i++) {
                double g = BN_AT(dy, b, ch, i);
                sdy += g;
                sdyxh += g * (BN_AT(x, b, ch, i) - mean[ch]) * istd;
            }
        if (dgamma) dgamma[ch] = sdyxh;
        if (dbeta) dbeta[ch] = sdy;
        if (!dx) continue;
        /* dx = gamma istd / M (M dy - sum dy - xhat sum(dy xhat)): the batch statistics
         * depend on x, so every value of the channel feeds every gradient. */
        for (int b = 0; b < n; b++)
            for (int i = 0; i < hw; i++) {
                double xh = (BN_AT(x, b, ch, i) - mean[ch]) * istd;
                BN_AT(dx, b, ch, i) =
                    gamma[ch] * istd / m_count * (m_count * BN_AT(dy, b, ch, i) - sdy - xh * sdyxh);
            }
    }
}

void ref_batchnorm_forward_eval(const double *x, int n, int c, int hw, const double *gamma,
                                const double *beta, const double *mean, const double *var,
                                double eps, double *y)
{
    for (int ch = 0; ch < c; ch++) {
        double istd = 1.0 / sqrt(var[ch] + eps);
        for (int b = 0; b < n; b++)
            for (int i = 0; i < hw; i++)
                BN_AT(y, b, ch, i) = gamma[ch] * (BN_AT(x, b, ch, i) - mean[ch]) * istd + beta[ch];
    }
}
#undef BN_AT

/* ---------------- linear ---------------- */
void ref_pointwise_forward(const double *x, int n, int in, int hw, const double *wt, const double *bias,
                           int out, double *y)
{
    for (int b = 0; b < n; b++)
        for (int o = 0; o < out; o++)
            for (int p = 0; p < hw; p++) {
                double s = bias ? bias[o] : 0.0;
                for (int i = 0; i < in; i++) s += wt[(size_t)o * in + i] * x[((size_t)b * in + i) * hw + p];
                y[((size_t)b * out + o) * hw + p] = s;
            }
}

void ref_pointwise_backward(const double *x, int n, int in, int hw, const double *wt, int out,
                            const double *dy, double *dx, double *dwt, double *dbias)
{
    if (dx)
        for (int b = 0; b < n; b++)
            for (int i = 0; i < in; i++)
                for (int p = 0; p < hw; p++) {
                    double s = 0;
                    for (int o = 0; o < out; o++) s += wt[(size_t)o * in + i] * dy[((size_t)b * out + o) * hw + p];
                    dx[((size_t)b * in + i) * hw + p] = s;
                }
    if (dwt)
        for (int o = 0; o < out; o++)
            for (int i = 0; i < in; i++) {
                double s = 0;
                for (int b = 0; b < n; b++)
                    for (int p = 0; p < hw; p++)
                        s += dy[((size_t)b * out + o) * hw + p] * x[((size_t)b * in + i) * hw + p];
                dwt[(size_t)o * in + i] = s;
            }
    if (dbias)
        for (int o = 0; o < out; o++) {
            double s = 0;
            for (int b = 0; b < n; b++)
                for (int p = 0; p < hw; p++) s += dy[((size_t)b * out + o) * hw + p];
            dbias[o] = s;
        }
}

void ref_linear_forward(const double *x, int n, int in, const double *wt, const double *bias, int out, double *y)
{
    ref_pointwise_forward(x, n, in, 1, wt, bias, out, y);
}

void ref_linear_backward(const double *x, int n, int in, const double *wt, int out, const double *dy, double *dx,
                         double *dwt, double *dbias)
{
    ref_pointwise_backward(x, n, in, 1, wt, out, dy, dx, dwt, dbias);
}

/* ---------------- dropout (inverted scaling, explicit mask) ---------------- */
void ref_dropout_forward(const double *x, const unsigned char *mask, size_t count, double p,
                         double *y)
{
    double scale = 1.0 / (1.0 - p);
    for (size_t i = 0; i < count; i++) y[i] = mask[i] ? x[i] * scale : 0.0;
}

void ref_dropout_backward(const double *dy, const unsigned char *mask, size_t count, double p,
                          double *dx)
{
    if (!dx) return;
    double scale = 1.0 / (1.0 - p);
    for (size_t i = 0; i < count; i++) dx[i] = mask[i] ? dy[i] * scale : 0.0;
}

/* ---------------- losses ---------------- */
double ref_softmax_xent(const double *logits, const int *labels, int n, int classes,
                        double *dlogits)
{
    double total = 0;
    for (int b = 0; b < n; b++) {
        const double *l = logits + (size_t)b * classes;
        double mx = l[0];
        for (int k = 1; k < classes; k++)
            if (l[k] > mx) mx = l[k];
        double s = 0;
        for (int k = 0; k < classes; k++) s += exp(l[k] - mx);
        double lse = mx + log(s);
        total += lse - l[labels[b]];
        if (dlogits)
            for (int k = 0; k < classes; k++)
                dlogits[(size_t)b * classes + k] =
                    (exp(l[k] - lse) - (k == labels[b] ? 1.0 : 0.0)) / n;
    }
    return total / n;
}

double ref_contrastive(const double *z1, const double *z2, const int *y, int n, int dim,
                       double margin, double *dz1, double *dz2)
{
    double total = 0;
    for (int b = 0; b < n; b++) {
        const double *a = z1 + (size_t)b * dim, *c = z2 + (size_t)b * dim;
        double d2 = 0;
        for (int i = 0; i < dim; i++) d2 += (a[i] - c[i]) * (a[i] - c[i]);
        double d = sqrt(d2);
        /* coefficient of (z1 - z2) in dL/dz1, before the 1/n of the mean */
        double coef;
        if (y[b] == 0) {
            total += d2;
            coef = 2.0;
        } else {
            double gap = margin - d;
            total += gap > 0 ? gap * gap : 0.0;
            coef = (gap > 0 && d > 0) ? -2.0 * gap / d : 0.0; /* d'(0) taken as 0 */
        }
        for (int i = 0; i < dim; i++) {
            double g = coef * (a[i] - c[i]) / n;
            if (dz1) dz1[(size_t)b * dim + i] = g;
            if (dz2) dz2[(size_t)b * dim + i] = -g;
        }
    }
    return total / n;
}

/* ---------------- variational information ---------------- */
void ref_logvar_forward(const double *mu, int n, int c, int hw, const double *wt, const double *bias,
                        double *y)
{
    ref_pointwise_forward(mu, n, c, hw, wt, bias, c, y);
}

void ref_logvar_backward(const double *mu, int n, int c, int hw, const double *wt, const double *dy,
                         double *dmu, double *dwt, double *dbias)
{
    ref_pointwise_backward(mu, n, c, hw, wt, c, dy, dmu, dwt, dbias);
}

void ref_reparam_forward(const double *mu, const double *logvar, const double *eps, size_t count,
                         double *z)
{
    for (size_t i = 0; i < count; i++) z[i] = mu[i] + exp(0.5 * logvar[i]) * eps[i];
}

void ref_reparam_backward(const double *dz, const double *logvar, const double *eps, size_t count,
                          double *dmu, double *dlogvar)
{
    for (size_t i = 0; i < count; i++) {
        double g = dz[i]; /* read first: dmu may be dz */
        if (dlogvar) dlogvar[i] = g * eps[i] * 0.5 * exp(0.5 * logvar[i]);
        if (dmu) dmu[i] = g;
    }
}

double ref_kl_normal(const double *mu, const double *logvar, int n, int dim, double *dmu,
                     double *dlogvar)
{
    double total = 0;
    for (size_t i = 0; i < (size_t)n * dim; i++) {
        total += 0.5 * (mu[i] * mu[i] + exp(logvar[i]) - logvar[i] - 1.0);
        if (dmu) dmu[i] = mu[i] / n;
        if (dlogvar) dlogvar[i] = 0.5 * (exp(logvar[i]) - 1.0) / n;
    }
    return total / n;
}

/* ---------------- whole networks ---------------- */
static double *param_to_double(const veil_param *p)
{
    double *d = veil_malloc(sizeof(double) * p->size);
    for (size_t i = 0; i < p->size; i++) d[i] = p->data[i];
    return d;
}

void ref_extractor_forward(const veil_extractor_config *c, const veil_param *params, const double *x,
                           int n, int train, double *z)
{
    int h = c->in_h, w = c->in_w, cin = 1;
    double *cur = veil_malloc(sizeof(double) * (size_t)n * h * w);
    memcpy(cur, x, sizeof(double) * (size_t)n * h * w);
    const veil_param *p = params;
    for (int g = 0; g < c->groups; g++) {
        int f = c->filters[g], k = c->kernels[g];
        size_t hw = (size_t)h * w;
        double *gamma = param_to_double(&p[0]), *beta = param_to_double(&p[1]);
        double *rm = param_to_double(&p[2]), *rv = param_to_double(&p[3]);
        p += 4;
        double *bn = veil_malloc(sizeof(double) * (size_t)n * cin * hw);
        if (train)
            ref_batchnorm_forward_train(cur, n, cin, (int)hw, gamma, beta, VEIL_BN_EPS, bn, NULL,
                                        NULL);
        else
            ref_batchnorm_forward_eval(cur, n, cin, (int)hw, gamma, beta, rm, rv, VEIL_BN_EPS, bn);
        free(gamma), free(beta), free(rm), free(rv), free(cur);
        cur = bn;
        for (int k_i = 0; k_i < c->convs_per_group; k_i++) {
            double *wt = param_to_double(&p[0]), *bias = param_to_double(&p[1]);
            p += 2;
            double *y = veil_malloc(sizeof(double) * (size_t)n * f * hw);
            ref_conv2d_forward(cur, n, cin, h, w, wt, bias, f, k, y);
            ref_relu_forward(y, (size_t)n * f * hw, y);
            free(wt), free(bias), free(cur);
            cur = y;
            cin = f;
        }
        double *pooled = veil_malloc(sizeof(double) * (size_t)n * f * (h / 2) * (w / 2));
        ref_maxpool2_forward(cur, n, f, h, w, pooled);
        free(cur);
        cur = pooled;
        h /= 2;
        w /= 2;
    }
    memcpy(z, cur, sizeof(double) * (size_t)n * cin * h * w);
    free(cur);
}

void ref_head_forward(const veil_head_config *c, const veil_param *params, const double *x, int n,
                      const unsigned char *dropout_mask, double *logits)
{
    double *w1 = param_to_double(&params[0]), *b1 = param_to_double(&params[1]);
    double *w2 = param_to_double(&params[2]), *b2 = param_to_double(&params[3]);
    size_t hn = (size_t)n * c->hidden;
    double *hid = veil_malloc(sizeof(double) * hn);
    ref_linear_forward(x, n, c->in_dim, w1, b1, c->hidden, hid);
    ref_relu_forward(hid, hn, hid);
    if (dropout_mask) ref_dropout_forward(hid, dropout_mask, hn, c->dropout, hid);
    ref_linear_forward(hid, n, c->hidden, w2, b2, c->classes, logits);
    free(hid), free(w1), free(b1), free(w2), free(b2);
}
