/* Dense linear algebra for the probes: see linalg.h. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <oneapi/dnnl/dnnl.h>

#include "linalg.h"
#include "veil/common.h"

int pm_sgemm(char ta, char tb, size_t m, size_t n, size_t k, float alpha, const float *a,
             size_t lda, const float *b, size_t ldb, float beta, float *c, size_t ldc)
{
    if (m == 0 || n == 0) return 0;
    dnnl_status_t st = dnnl_sgemm(ta, tb, (dnnl_dim_t)m, (dnnl_dim_t)n, (dnnl_dim_t)k, alpha, a,
                                  (dnnl_dim_t)lda, b, (dnnl_dim_t)ldb, beta, c, (dnnl_dim_t)ldc);
    if (st != dnnl_success) {
        veil_error("probe: oneDNN sgemm %zux%zux%zu failed (status %d)", m, n, k, (int)st);
        return -1;
    }
    return 0;
}

int pm_cholesky(double *a, int n)
{
    for (int j = 0; j < n; j++) {
        double d = a[(size_t)j * n + j];
        for (int k = 0; k < j; k++) d -= a[(size_t)j * n + k] * a[(size_t)j * n + k];
        if (!(d > 0)) return -1;
        d = sqrt(d);
        a[(size_t)j * n + j] = d;
        for (int i = j + 1; i < n; i++) {
            double s = a[(size_t)i * n + j];
            const double *ri = a + (size_t)i * n, *rj = a + (size_t)j * n;
            for (int k = 0; k < j; k++) s -= ri[k] * rj[k];
            a[(size_t)i * n + j] = s / d;
        }
        for (int k = j + 1; k < n; k++) a[(size_t)j * n + k] = 0;
    }
    return 0;
}

void pm_solve_lower_rows(const double *l, int n, double *b, size_t nrhs)
{
    for (size_t r = 0; r < nrhs; r++) {
        double *x = b + r * (size_t)n;
        for (int i = 0; i < n; i++) {
            const double *li = l + (size_t)i * n;
            double s = x[i];
            for (int k = 0; k < i; k++) s -= li[k] * x[k];
            x[i] = s / li[i];
        }
    }
}

void pm_solve_upper_t_rows(const double *l, int n, double *b, size_t nrhs)
{
    for (size_t r = 0; r < nrhs; r++) {
        double *x = b + r * (size_t)n;
        for (int i = n - 1; i >= 0; i--) {
            double s = x[i];
            for (int k = i + 1; k < n; k++) s -= l[(size_t)k * n + i] * x[k];
            x[i] = s / l[(size_t)i * n + i];
        }
    }
}

void pm_sym_eigen(double *a, int n, double *eval, double *v)
{
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) v[(size_t)i * n + j] = i == j;
    double total = 0;
    for (size_t i = 0; i < (size_t)n * n; i++) total += a[i] * a[i];
    for (int sweep = 0; sweep < 100; sweep++) {
        double off = 0;
        for (int p = 0; p < n; p++)
            for (int q = p + 1; q < n; q++) off += a[(size_t)p * n + q] * a[(size_t)p * n + q];
        if (off <= 1e-30 * total || off == 0) break;
        for (int p = 0; p < n; p++)
            for (int q = p + 1; q < n; q++) {
                double apq = a[(size_t)p * n + q];
                if (fabs(apq) < 1e-300) continue;
                double app = a[(size_t)p * n + p], aqq = a[(size_t)q * n + q];
                double theta = (aqq - app) / (2 * apq);
                double t = (theta >= 0 ? 1 : -1) / (fabs(theta) + sqrt(theta * theta + 1));
                double c = 1 / sqrt(t * t + 1), s = t * c;
                for (int k = 0; k < n; k++) { /* columns p, q */
                    double akp = a[(size_t)k * n + p], akq = a[(size_t)k * n + q];
                    a[(size_t)k * n + p] = c * akp - s * akq;
                    a[(size_t)k * n + q] = s * akp + c * akq;
                }
                for (int k = 0; k < n; k++) { /* rows p, q */
                    double apk = a[(size_t)p * n + k], aqk = a[(size_t)q * n + k];
                    a[(size_t)p * n + k] = c * apk - s * aqk;
                    a[(size_t)q * n + k] = s * apk + c * aqk;
                }
                for (int k = 0; k < n; k++) {
                    double vkp = v[(size_t)k * n + p], vkq = v[(size_t)k * n + q];
                    v[(size_t)k * n + p] = c * vkp - s * vkq;
                    v[(size_t)k * n + q] = s * vkp + c * vkq;
                }
            }
    }
    for (int i = 0; i < n; i++) eval[i] = a[(size_t)i * n + i];
    /* selection sort, descending, moving eigenvector columns along */
    for (int i = 0; i < n; i++) {
        int best = i;
        for (int j = i + 1; j < n; j++)
            if (eval[j] > eval[best]) best = j;
        if (best == i) continue;
        double t = eval[i];
        eval[i] = eval[best];
        eval[best] = t;
        for (int k = 0; k < n; k++) {
            t = v[(size_t)k * n + i];
            v[(size_t)k * n + i] = v[(size_t)k * n + best];
            v[(size_t)k * n + best] = t;
        }
    }
}

void pm_holdout(const int *y, size_t n, int classes, double fraction, uint64_t seed, char *held)
{
    veil_rng rng;
    veil_rng_seed(&rng, seed);
    memset(held, 0, n);
    int *rows = veil_malloc((n ? n : 1) * sizeof *rows);
    for (int c = 0; c < classes; c++) {
        size_t k = 0;
        for (size_t i = 0; i < n; i++)
            if (y[i] == c) rows[k++] = (int)i;
        if (k < 2) continue;
        veil_rng_shuffle_int(&rng, rows, k);
        size_t h = (size_t)llround(fraction * (double)k);
        if (h < 1) h = 1;
        if (h > k - 1) h = k - 1;
        for (size_t i = 0; i < h; i++) held[rows[i]] = 1;
    }
    free(rows);
}

void pm_holdout_rows(const int *y, size_t n, int classes, double fraction, uint64_t seed, size_t *kept,
                     size_t *n_kept, size_t *held, size_t *n_held)
{
    char *is_held = veil_malloc(n ? n : 1);
    pm_holdout(y, n, classes, fraction, seed, is_held);
    *n_kept = *n_held = 0;
    for (size_t i = 0; i < n; i++) {
        if (is_held[i]) held[(*n_held)++] = i;
        else kept[(*n_kept)++] = i;
    }
    free(is_held);
}

void pm_log_softmax(double *z, size_t n, int c)
{
    for (size_t i = 0; i < n; i++) {
        double *r = z + i * (size_t)c, mx = r[0], s = 0;
        for (int j = 1; j < c; j++)
            if (r[j] > mx) mx = r[j];
        for (int j = 0; j < c; j++) s += exp(r[j] - mx);
        double lse = mx + log(s);
        for (int j = 0; j < c; j++) r[j] -= lse;
    }
}
