/* The "knn-cosine" probe: cosine k-nearest neighbours on standardised features (each row
 * standardised with the training rows' per-dimension mean and std, then scaled to unit
 * length). k is chosen on a held-out 20 % of each speaker's training rows from
 * 1, 3, 5, 9, 15, 25, 51 (best held-out accuracy, the smaller k on a tie), then the
 * neighbours are searched among all training rows. Posteriors are the neighbours' votes
 * with add-one smoothing, (votes_c + 1) / (k + C), so their logs are finite and summing
 * them over an utterance pools the evidence. Ties in the argmax go to the lower class. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "linalg.h"
#include "veil/common.h"
#include "veil/probe_math.h"
#include "probe_internal.h"

const int veil_knn_k_grid[VEIL_KNN_N_K] = {1, 3, 5, 9, 15, 25, 51};

static void unit_rows(float *x, size_t n, int dim)
{
    for (size_t i = 0; i < n; i++) {
        float *r = x + i * (size_t)dim;
        double s = 0;
        for (int j = 0; j < dim; j++) s += (double)r[j] * r[j];
        float inv = s > 0 ? (float)(1 / sqrt(s)) : 0;
        for (int j = 0; j < dim; j++) r[j] *= inv;
    }
}

/* The kmax most similar candidates of a row: sim over cand (ncand entries, indices into
 * sim), written in order of decreasing similarity (ties: lower index first). */
static int top_k(const float *sim, const size_t *cand, size_t ncand, int kmax, size_t *best)
{
    int have = 0;
    for (size_t t = 0; t < ncand; t++) {
        size_t j = cand ? cand[t] : t;
        float v = sim[j];
        if (have == kmax && !(v > sim[best[have - 1]])) continue;
        int pos = have < kmax ? have++ : kmax - 1;
        while (pos > 0 && v > sim[best[pos - 1]]) {
            best[pos] = best[pos - 1];
            pos--;
        }
        best[pos] = j;
    }
    return have;
}

static void votes_logp(const size_t *nb, int k, const int *y, int c, float *logp)
{
    for (int j = 0; j < c; j++) logp[j] = 1;
    for (int i = 0; i < k; i++) logp[y[nb[i]]] += 1;
    for (int j = 0; j < c; j++) logp[j] = (float)log(logp[j] / (double)(k + c));
}

static int argmax(const float *v, int c)
{
    int b = 0;
    for (int j = 1; j < c; j++)
        if (v[j] > v[b]) b = j;
    return b;
}

int veil_knn_fit_predict(const float *x, const int *y, size_t n, int dim, int classes,
                         const float *xt, size_t m, int k, uint64_t seed, float *logp,
                         int *k_used)
{
    int c = classes, rc = -1;
    size_t D = (size_t)dim;
    if (n < 2 || c < 2) {
        veil_error("knn: needs at least 2 training rows and 2 classes (got %zu rows, %d classes)", n, c);
        return -1;
    }
    float *xn = veil_malloc(n * D * sizeof *xn), *tn = veil_malloc((m ? m : 1) * D * sizeof *tn);
    memcpy(xn, x, n * D * sizeof *xn);
    if (m) memcpy(tn, xt, m * D * sizeof *tn);
    unit_rows(xn, n, dim);
    unit_rows(tn, m, dim);
    int kmax = veil_knn_k_grid[VEIL_KNN_N_K - 1];
    size_t *best = veil_malloc((size_t)kmax * sizeof *best);
    float *sim = NULL, *lp = veil_malloc((size_t)c * sizeof *lp);
    size_t *cand = NULL, *held = NULL;
    if (k <= 0) {
        /* the candidates of a held-out row are the rows kept */
        cand = veil_malloc(n * sizeof *cand);
        held = veil_malloc(n * sizeof *held);
        size_t ncand, nho;
        pm_holdout_rows(y, n, c, 0.2, veil_seed_mix(seed, 0x6b6e6e, 1), cand, &ncand, held, &nho);
        sim = veil_malloc(n * n * sizeof *sim);
        if (pm_sgemm('N', 'T', n, n, D, 1.0f, xn, D, xn, D, 0.0f, sim, n)) goto done;
        long correct[VEIL_KNN_N_K] = {0};
        for (size_t h = 0; h < nho; h++) {
            size_t i = held[h];
            int have = top_k(sim + i * n, cand, ncand, kmax, best);
            for (int g = 0; g < VEIL_KNN_N_K; g++) {
                int kk = veil_knn_k_grid[g] < have ? veil_knn_k_grid[g] : have;
                votes_logp(best, kk, y, c, lp);
                correct[g] += argmax(lp, c) == y[i];
            }
        }
        k = veil_knn_k_grid[0];
        long top = correct[0];
        for (int g = 1; g < VEIL_KNN_N_K; g++)
            if (correct[g] > top) {
                top = correct[g];
                k = veil_knn_k_grid[g];
            }
        free(sim);
        sim = NULL;
    }
    if (k > (int)n) k = (int)n;
    size_t *nb = veil_malloc((size_t)k * sizeof *nb);
    /* test rows against all training rows, a block of rows at a time */
    size_t block = 256;
    sim = veil_malloc(block * n * sizeof *sim);
    for (size_t r0 = 0; r0 < m; r0 += block) {
        size_t rows = m - r0 < block ? m - r0 : block;
        if (pm_sgemm('N', 'T', rows, n, D, 1.0f, tn + r0 * D, D, xn, D, 0.0f, sim, n)) {
            free(nb);
            goto done;
        }
        for (size_t r = 0; r < rows; r++) {
            int have = top_k(sim + r * n, NULL, n, k, nb);
            votes_logp(nb, have, y, c, logp + (r0 + r) * (size_t)c);
        }
    }
    free(nb);
    if (k_used) *k_used = k;
    rc = 0;
done:
    free(xn), free(tn), free(best), free(sim), free(lp), free(held), free(cand);
    return rc;
}

/* k chosen on held-out training rows */
static int knn_fit(const float *x, const int *y, size_t n, int dim, int classes, const float *xt, size_t m,
                   uint64_t seed, float *logp, double *chosen)
{
    int k = 0;
    int rc = veil_knn_fit_predict(x, y, n, dim, classes, xt, m, 0, seed, logp, &k);
    *chosen = k;
    return rc;
}

int veil_probe_knn_cosine(const veil_probe_input *in, veil_probe_result *out)
{
    return probe_fit_standardised(in, "knn-cosine", "k =", veil_seed_mix(in->seed, 0x6b6e6e, 0), knn_fit, out);
}
