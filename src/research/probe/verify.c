/* Verification probes: cosine scoring of utterance-mean embeddings of the group's
 * speakers (whom the extractor never saw), every unordered pair of distinct utterances
 * one trial (target: same speaker). Reported: EER, minDCF (P_target 0.01, C_miss = C_fa
 * = 1) and a bootstrap 95 % interval of the EER over speakers (1000 replicates).
 *   verify-cosine       all trials; features standardised with the group's attacker-
 *                       training rows' per-dimension mean and std
 *   verify-same-gender  the same, only trials between speakers of one gender
 *   verify-lda          standardised with the others' rows, projected by an LDA trained on
 *                       the others' utterance means (speakers disjoint from the group)
 * An utterance's embedding is the mean of all its rows in train and test (a patch split
 * puts one utterance on both sides; verification needs no training on the group). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "linalg.h"
#include "probe_internal.h"
#include "veil/common.h"
#include "veil/probe_math.h"

enum { BOOTSTRAP_REPS = 1000 };

/* ---- metrics ---- */
static const float *sort_scores;
static int by_score(const void *a, const void *b)
{
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    float x = sort_scores[i], y = sort_scores[j];
    if (x < y) return -1;
    if (x > y) return 1;
    return (i > j) - (i < j);
}

static size_t *score_order(const float *s, size_t n)
{
    size_t *o = veil_malloc((n ? n : 1) * sizeof *o);
    for (size_t i = 0; i < n; i++) o[i] = i;
    sort_scores = s;
    qsort(o, n, sizeof *o, by_score);
    sort_scores = NULL;
    return o;
}

/* Walk the thresholds between distinct scores in ascending order; eer and/or dcf. */
static void sweep(const size_t *o, const float *s, const int *t, const double *w, size_t n,
                  double *eer, double *dcf, double pt, double cm, double cfa)
{
    double wt = 0, wn = 0;
    for (size_t i = 0; i < n; i++) {
        double wi = w ? w[i] : 1;
        if (t[i]) wt += wi;
        else wn += wi;
    }
    if (eer) *eer = NAN;
    if (dcf) *dcf = NAN;
    if (!(wt > 0) || !(wn > 0)) return;
    double norm = fmin(cm * pt, cfa * (1 - pt));
    double miss = 0, fa = 1, rej_t = 0, rej_n = 0, best = (cm * pt * 0 + cfa * (1 - pt) * 1) / norm;
    double pm = 0, pf = 1; /* previous state */
    int found = 0;
    size_t i = 0;
    while (i < n) {
        size_t j = i;
        do {
            double wi = w ? w[o[j]] : 1;
            if (t[o[j]]) rej_t += wi;
            else rej_n += wi;
            j++;
        } while (j < n && s[o[j]] == s[o[i]]);
        i = j;
        miss = rej_t / wt;
        fa = (wn - rej_n) / wn;
        if (fa < 0) fa = 0;
        double d = (cm * pt * miss + cfa * (1 - pt) * fa) / norm;
        if (d < best) best = d;
        if (!found && miss >= fa) {
            double d1 = pf - pm, d2 = fa - miss;
            double u = d1 - d2 > 0 ? d1 / (d1 - d2) : 0;
            if (eer) *eer = pm + u * (miss - pm);
            found = 1;
        }
        pm = miss;
        pf = fa;
    }
    if (dcf) *dcf = best;
}

double veil_eer(const float *s, const int *target, const double *w, size_t n)
{
    size_t *o = score_order(s, n);
    double e;
    sweep(o, s, target, w, n, &e, NULL, 0, 0, 0);
    free(o);
    return e;
}

double veil_min_dcf(const float *s, const int *target, const double *w, size_t n, double p_target,
                    double c_miss, double c_fa)
{
    size_t *o = score_order(s, n);
    double d;
    sweep(o, s, target, w, n, NULL, &d, p_target, c_miss, c_fa);
    free(o);
    return d;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double quantile(const double *sorted, int n, double q)
{
    double pos = q * (n - 1);
    int lo = (int)floor(pos);
    if (lo >= n - 1) return sorted[n - 1];
    return sorted[lo] + (pos - lo) * (sorted[lo + 1] - sorted[lo]);
}

int veil_eer_bootstrap(const float *s, const int *target, const int *spk_a, const int *spk_b,
                       size_t n, int n_speakers, int reps, uint64_t seed, double *lo, double *hi)
{
    *lo = *hi = NAN;
    if (n_speakers < 2 || reps < 1) {
        veil_error("verification bootstrap: needs at least 2 speakers and 1 replicate");
        return -1;
    }
    size_t *o = score_order(s, n);
    double *w = veil_malloc((n ? n : 1) * sizeof *w), *eers = veil_malloc((size_t)reps * sizeof *eers);
    int *count = veil_malloc((size_t)n_speakers * sizeof *count), got = 0;
    veil_rng rng;
    veil_rng_seed(&rng, seed);
    for (int r = 0; r < reps; r++) {
        memset(count, 0, (size_t)n_speakers * sizeof *count);
        for (int k = 0; k < n_speakers; k++) count[veil_rng_below(&rng, (uint64_t)n_speakers)]++;
        for (size_t i = 0; i < n; i++)
            w[i] = target[i] ? count[spk_a[i]] : (double)count[spk_a[i]] * count[spk_b[i]];
        double e;
        sweep(o, s, target, w, n, &e, NULL, 0, 0, 0);
        if (!isnan(e)) eers[got++] = e;
    }
    if (got > 0) {
        qsort(eers, (size_t)got, sizeof *eers, cmp_double);
        *lo = quantile(eers, got, 0.025);
        *hi = quantile(eers, got, 0.975);
    }
    free(o);
    free(w);
    free(eers);
    free(count);
    return 0;
}

/* ---- trials ---- */
void veil_trials_cosine(const float *e, size_t n_utt, int dim, const int *speaker,
                        const int *gender, int same_gender, veil_trials *out)
{
    size_t D = (size_t)dim, cap = n_utt * (n_utt > 0 ? n_utt - 1 : 0) / 2;
    memset(out, 0, sizeof *out);
    float *un = veil_malloc((n_utt ? n_utt : 1) * D * sizeof *un);
    float *g = veil_malloc((n_utt ? n_utt * n_utt : 1) * sizeof *g);
    for (size_t i = 0; i < n_utt; i++) {
        double q = 0;
        for (size_t k = 0; k < D; k++) q += (double)e[i * D + k] * e[i * D + k];
        float inv = q > 0 ? (float)(1 / sqrt(q)) : 0;
        for (size_t k = 0; k < D; k++) un[i * D + k] = e[i * D + k] * inv;
    }
    if (pm_sgemm('N', 'T', n_utt, n_utt, D, 1.0f, un, D, un, D, 0.0f, g, n_utt)) {
        /* sgemm cannot fail on valid sizes; fall back to plain dot products */
        for (size_t i = 0; i < n_utt; i++)
            for (size_t j = 0; j < n_utt; j++) {
                double d = 0;
                for (size_t k = 0; k < D; k++) d += (double)un[i * D + k] * un[j * D + k];
                g[i * n_utt + j] = (float)d;
            }
    }
    out->score = veil_malloc((cap ? cap : 1) * sizeof(float));
    out->target = veil_malloc((cap ? cap : 1) * sizeof(int));
    out->spk_a = veil_malloc((cap ? cap : 1) * sizeof(int));
    out->spk_b = veil_malloc((cap ? cap : 1) * sizeof(int));
    for (size_t i = 0; i < n_utt; i++)
        for (size_t j = i + 1; j < n_utt; j++) {
            if (same_gender && gender[i] != gender[j]) continue;
            size_t t = out->n++;
            out->score[t] = g[i * n_utt + j];
            out->target[t] = speaker[i] == speaker[j];
            out->spk_a[t] = speaker[i];
            out->spk_b[t] = speaker[j];
        }
    free(un);
    free(g);
}

void veil_trials_free(veil_trials *t)
{
    free(t->score);
    free(t->target);
    free(t->spk_a);
    free(t->spk_b);
    memset(t, 0, sizeof *t);
}

/* ---- LDA ---- */
/* Orthonormalise the q rows of a (q x len, row-major, double) in place (modified
 * Gram-Schmidt, twice for stability); returns the number of independent rows kept at
 * the front. */
static int orthonormalise_rows(double *a, int q, size_t len)
{
    int kept = 0;
    for (int j = 0; j < q; j++) {
        double *aj = a + (size_t)j * len, n0 = 0;
        for (size_t r = 0; r < len; r++) n0 += aj[r] * aj[r];
        for (int pass = 0; pass < 2; pass++)
            for (int k = 0; k < kept; k++) {
                const double *ak = a + (size_t)k * len;
                double d = 0;
                for (size_t r = 0; r < len; r++) d += ak[r] * aj[r];
                for (size_t r = 0; r < len; r++) aj[r] -= d * ak[r];
            }
        double nn = 0;
        for (size_t r = 0; r < len; r++) nn += aj[r] * aj[r];
        if (!(nn > 1e-20 * n0) || nn == 0) continue;
        nn = 1 / sqrt(nn);
        double *dst = a + (size_t)kept * len;
        for (size_t r = 0; r < len; r++) dst[r] = aj[r] * nn;
        kept++;
    }
    return kept;
}

static void to_float(const double *a, float *b, size_t n)
{
    for (size_t i = 0; i < n; i++) b[i] = (float)a[i];
}

static void to_double(const float *a, double *b, size_t n)
{
    for (size_t i = 0; i < n; i++) b[i] = a[i];
}

/* Principal directions of the centred rows xc (n x D) as the rows of Vt (p x D, float),
 * p <= pmax: the identity when D <= pmax; else from B (q x D), whose rows span the
 * principal subspace: the rows of xc themselves when n <= pmax + 10 (exact), otherwise
 * a randomised range finder with two power steps. The right singular vectors of B are
 * U^T B / sqrt(eig) for the eigenvectors U of B B^T. All D-sized work is GEMM. */
static int pca_basis(const float *xc, size_t n, size_t D, int pmax, uint64_t seed, float **vout,
                     int *pout)
{
    if (D <= (size_t)pmax) {
        float *v = veil_calloc(D * D, sizeof *v);
        for (size_t i = 0; i < D; i++) v[i * D + i] = 1;
        *vout = v;
        *pout = (int)D;
        return 0;
    }
    int q = pmax + 10, rc = -1;
    float *b = NULL, *om = NULL, *yt = NULL, *bb32 = NULL, *u32 = NULL, *vt = NULL;
    double *y = NULL, *bb = NULL, *ev = NULL, *u = NULL;
    if ((size_t)q >= n) {
        q = (int)n;
        b = veil_malloc(n * D * sizeof *b);
        memcpy(b, xc, n * D * sizeof *b);
    } else {
        veil_rng rng;
        veil_rng_seed(&rng, seed);
        size_t Q = (size_t)q;
        om = veil_malloc(Q * D * sizeof *om);
        yt = veil_malloc(Q * n * sizeof *yt);
        b = veil_malloc(Q * D * sizeof *b);
        y = veil_malloc(Q * (n > D ? n : D) * sizeof *y);
        for (size_t i = 0; i < Q * D; i++) om[i] = (float)veil_rng_normal(&rng);
        for (int it = 0; it < 3; it++) {
            /* yt = om xc^T (q x n), orthonormal rows; b = yt xc (q x D) */
            if (pm_sgemm('N', 'T', Q, n, D, 1.0f, om, D, xc, D, 0.0f, yt, n)) goto done;
            to_double(yt, y, Q * n);
            int k = orthonormalise_rows(y, q, n);
            memset(yt, 0, Q * n * sizeof *yt);
            to_float(y, yt, (size_t)k * n);
            if (pm_sgemm('N', 'N', Q, D, n, 1.0f, yt, n, xc, D, 0.0f, b, D)) goto done;
            if (it == 2) break;
            to_double(b, y, Q * D);
            k = orthonormalise_rows(y, q, D);
            memset(om, 0, Q * D * sizeof *om);
            to_float(y, om, (size_t)k * D);
        }
    }
    size_t Q = (size_t)q;
    bb32 = veil_malloc(Q * Q * sizeof *bb32);
    if (pm_sgemm('N', 'T', Q, Q, D, 1.0f, b, D, b, D, 0.0f, bb32, Q)) goto done;
    bb = veil_malloc(Q * Q * sizeof *bb);
    ev = veil_malloc(Q * sizeof *ev);
    u = veil_malloc(Q * Q * sizeof *u);
    for (size_t i = 0; i < Q; i++)
        for (size_t j = 0; j < Q; j++) bb[i * Q + j] = 0.5 * ((double)bb32[i * Q + j] + bb32[j * Q + i]);
    pm_sym_eigen(bb, q, ev, u);
    int p = 0;
    while (p < pmax && p < q && ev[p] > 1e-9 * ev[0] && ev[p] > 0) p++;
    if (p == 0) {
        veil_error("LDA: the training rows do not vary (all equal)");
        goto done;
    }
    /* vt = diag(1/sqrt(ev)) U^T b */
    u32 = veil_malloc((size_t)p * Q * sizeof *u32);
    for (int j = 0; j < p; j++)
        for (size_t i = 0; i < Q; i++) u32[(size_t)j * Q + i] = (float)(u[i * Q + j] / sqrt(ev[j]));
    vt = veil_malloc((size_t)p * D * sizeof *vt);
    if (pm_sgemm('N', 'N', (size_t)p, D, Q, 1.0f, u32, Q, b, D, 0.0f, vt, D)) goto done;
    *vout = vt;
    *pout = p;
    vt = NULL;
    rc = 0;
done:
    free(b);
    free(om);
    free(yt);
    free(y);
    free(bb32);
    free(bb);
    free(ev);
    free(u);
    free(u32);
    free(vt);
    return rc;
}

int veil_lda_fit(const float *x, const int *y, size_t n, int dim, int classes, uint64_t seed,
                 float **mean_out, float **w_out, int *out_dim)
{
    size_t D = (size_t)dim;
    if (classes < 2 || n < (size_t)classes + 1) {
        veil_error("LDA: needs at least 2 speakers and more rows than speakers (got %zu rows, %d "
                   "speakers)", n, classes);
        return -1;
    }
    double *mu = veil_calloc(D, sizeof *mu);
    for (size_t i = 0; i < n; i++)
        for (size_t d = 0; d < D; d++) mu[d] += x[i * D + d];
    for (size_t d = 0; d < D; d++) mu[d] /= (double)n;
    float *xc = veil_malloc(n * D * sizeof *xc);
    for (size_t i = 0; i < n; i++)
        for (size_t d = 0; d < D; d++) xc[i * D + d] = (float)(x[i * D + d] - mu[d]);
    int pmax = 200, p = 0, rc = -1;
    if ((size_t)pmax > n - 1) pmax = (int)n - 1;
    float *v = NULL, *pr = NULL, *w = NULL;
    double *sw = NULL, *sb = NULL, *cm = NULL, *m = NULL, *ev = NULL, *u = NULL;
    if (pca_basis(xc, n, D, pmax, seed, &v, &p)) goto done;
    pr = veil_malloc(n * (size_t)p * sizeof *pr);
    if (pm_sgemm('N', 'T', n, (size_t)p, D, 1.0f, xc, D, v, D, 0.0f, pr, (size_t)p)) goto done;
    size_t P = (size_t)p;
    cm = veil_calloc((size_t)classes * P, sizeof *cm);
    long *cnt = veil_calloc((size_t)classes, sizeof *cnt);
    for (size_t i = 0; i < n; i++) {
        cnt[y[i]]++;
        for (size_t a = 0; a < P; a++) cm[(size_t)y[i] * P + a] += pr[i * P + a];
    }
    for (int c = 0; c < classes; c++)
        for (size_t a = 0; a < P; a++) cm[c * P + a] /= (double)(cnt[c] ? cnt[c] : 1);
    sw = veil_calloc(P * P, sizeof *sw);
    sb = veil_calloc(P * P, sizeof *sb);
    double *r = veil_malloc(P * sizeof *r);
    for (size_t i = 0; i < n; i++) {
        for (size_t a = 0; a < P; a++) r[a] = pr[i * P + a] - cm[(size_t)y[i] * P + a];
        for (size_t a = 0; a < P; a++)
            for (size_t b = 0; b <= a; b++) sw[a * P + b] += r[a] * r[b];
    }
    for (int c = 0; c < classes; c++)
        for (size_t a = 0; a < P; a++)
            for (size_t b = 0; b <= a; b++) sb[a * P + b] += (double)cnt[c] * cm[c * P + a] * cm[c * P + b];
    free(r);
    free(cnt);
    double tr = 0;
    for (size_t a = 0; a < P; a++) {
        for (size_t b = 0; b < a; b++) {
            sw[b * P + a] = sw[a * P + b];
            sb[b * P + a] = sb[a * P + b];
        }
        tr += sw[a * P + a] / (double)P;
    }
    for (size_t a = 0; a < P; a++) sw[a * P + a] += 1e-6 * (tr > 0 ? tr : 1);
    if (pm_cholesky(sw, p)) {
        veil_error("LDA: the within-speaker scatter is singular");
        goto done;
    }
    /* M = L^-1 Sb L^-T (sb symmetric: rows are columns) */
    m = veil_malloc(P * P * sizeof *m);
    memcpy(m, sb, P * P * sizeof *m);
    pm_solve_lower_rows(sw, p, m, P); /* rows: (L^-1 Sb)^T */
    for (size_t a = 0; a < P; a++)
        for (size_t b = 0; b < a; b++) {
            double t = m[a * P + b];
            m[a * P + b] = m[b * P + a];
            m[b * P + a] = t;
        }
    pm_solve_lower_rows(sw, p, m, P);
    for (size_t a = 0; a < P; a++)
        for (size_t b = 0; b < a; b++) m[a * P + b] = m[b * P + a] = 0.5 * (m[a * P + b] + m[b * P + a]);
    ev = veil_malloc(P * sizeof *ev);
    u = veil_malloc(P * P * sizeof *u);
    pm_sym_eigen(m, p, ev, u);
    int out = classes - 1 < p ? classes - 1 : p;
    /* directions in PCA space: L^-T u_j (rows of the transposed u) */
    double *ut = veil_malloc((size_t)out * P * sizeof *ut);
    for (int j = 0; j < out; j++)
        for (size_t a = 0; a < P; a++) ut[j * P + a] = u[a * P + j];
    pm_solve_upper_t_rows(sw, p, ut, (size_t)out);
    float *ut32 = veil_malloc((size_t)out * P * sizeof *ut32);
    to_float(ut, ut32, (size_t)out * P);
    free(ut);
    w = veil_malloc(D * (size_t)out * sizeof *w);
    int g = pm_sgemm('T', 'T', D, (size_t)out, P, 1.0f, v, D, ut32, P, 0.0f, w, (size_t)out);
    free(ut32);
    if (g) goto done;
    float *mean = veil_malloc(D * sizeof *mean);
    for (size_t d = 0; d < D; d++) mean[d] = (float)mu[d];
    *mean_out = mean;
    *w_out = w;
    *out_dim = out;
    w = NULL;
    rc = 0;
done:
    free(mu);
    free(xc);
    free(v);
    free(pr);
    free(w);
    free(sw);
    free(sb);
    free(cm);
    free(m);
    free(ev);
    free(u);
    return rc;
}

/* ---- the probes ---- */
/* Per-dimension mean and std (population, floor 1e-12) of a table's rows. */
static void table_stats(const veil_feature_table *t, double *mu, double *sd)
{
    size_t D = (size_t)t->dim;
    memset(mu, 0, D * sizeof *mu);
    memset(sd, 0, D * sizeof *sd);
    for (size_t i = 0; i < t->n; i++)
        for (size_t d = 0; d < D; d++) mu[d] += t->z[i * D + d];
    for (size_t d = 0; d < D; d++) mu[d] /= (double)(t->n ? t->n : 1);
    for (size_t i = 0; i < t->n; i++)
        for (size_t d = 0; d < D; d++) {
            double v = t->z[i * D + d] - mu[d];
            sd[d] += v * v;
        }
    for (size_t d = 0; d < D; d++) {
        sd[d] = sqrt(sd[d] / (double)(t->n ? t->n : 1));
        if (sd[d] < 1e-12) sd[d] = 1e-12;
    }
}

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

void probe_utterances(const veil_feature_table *a, const veil_feature_table *b, const double *mu,
                       const double *sd, int use_label, utt_set *out, int *n_speakers)
{
    const veil_feature_table *ts[2] = {a, b};
    size_t D = (size_t)a->dim, total = 0;
    for (int k = 0; k < 2; k++) total += ts[k] ? ts[k]->n : 0;
    int *keys = veil_malloc((total ? total : 1) * sizeof *keys), *spk = veil_malloc((total ? total : 1) * sizeof *spk);
    size_t nk = 0, ns = 0;
    for (int k = 0; k < 2; k++)
        for (size_t i = 0; ts[k] && i < ts[k]->n; i++) {
            keys[nk++] = ts[k]->utterance[i];
            spk[ns++] = use_label ? ts[k]->label[i] : ts[k]->speaker[i];
        }
    qsort(keys, nk, sizeof *keys, cmp_int);
    qsort(spk, ns, sizeof *spk, cmp_int);
    size_t u = 0, sp = 0;
    for (size_t i = 0; i < nk; i++)
        if (i == 0 || keys[i] != keys[i - 1]) keys[u++] = keys[i];
    for (size_t i = 0; i < ns; i++)
        if (i == 0 || spk[i] != spk[i - 1]) spk[sp++] = spk[i];
    out->n = u;
    out->key = keys;
    out->e = veil_calloc((u ? u : 1) * D, sizeof(float));
    out->speaker = veil_malloc((u ? u : 1) * sizeof(int));
    out->gender = veil_malloc((u ? u : 1) * sizeof(int));
    double *acc = veil_calloc((u ? u : 1) * D, sizeof *acc);
    long *cnt = veil_calloc(u ? u : 1, sizeof *cnt);
    for (int k = 0; k < 2; k++)
        for (size_t i = 0; ts[k] && i < ts[k]->n; i++) {
            const int *hit = bsearch(&ts[k]->utterance[i], keys, u, sizeof *keys, cmp_int);
            size_t j = (size_t)(hit - keys);
            int s = use_label ? ts[k]->label[i] : ts[k]->speaker[i];
            out->speaker[j] = (int)((const int *)bsearch(&s, spk, sp, sizeof *spk, cmp_int) - spk);
            out->gender[j] = ts[k]->gender[i];
            cnt[j]++;
            for (size_t d = 0; d < D; d++) acc[j * D + d] += ts[k]->z[i * D + d];
        }
    for (size_t j = 0; j < u; j++)
        for (size_t d = 0; d < D; d++)
            out->e[j * D + d] = (float)(mu ? (acc[j * D + d] / (double)cnt[j] - mu[d]) / sd[d]
                                              : acc[j * D + d] / (double)cnt[j]);
    free(acc);
    free(cnt);
    free(spk);
    *n_speakers = (int)sp;
}

void probe_utt_set_free(utt_set *u)
{
    free(u->e), free(u->key), free(u->speaker), free(u->gender);
}

int probe_score_trials(const veil_probe_input *in, const utt_set *u, int dim, int n_speakers,
                        int same_gender, veil_probe_result *out)
{
    veil_trials t;
    veil_trials_cosine(u->e, u->n, dim, u->speaker, u->gender, same_gender, &t);
    out->eer = veil_eer(t.score, t.target, NULL, t.n);
    out->min_dcf = veil_min_dcf(t.score, t.target, NULL, t.n, VEIL_DCF_P_TARGET, VEIL_DCF_C_MISS,
                                VEIL_DCF_C_FA);
    int rc = 0;
    if (isnan(out->eer)) {
        /* no speaker with two utterances (or a single speaker): verification does not apply */
        out->min_dcf = NAN;
        veil_log("%s%swarning: %zu trials among %zu utterances hold no %s trial: no EER",
                 in->name ? in->name : "", in->name ? ": " : "", t.n, u->n,
                 t.n ? "target or no non-target" : "target or non-target");
    } else {
        rc = veil_eer_bootstrap(t.score, t.target, t.spk_a, t.spk_b, t.n, n_speakers, BOOTSTRAP_REPS,
                                veil_seed_mix(in->seed, 0x766572, 2), &out->eer_lo, &out->eer_hi);
    }
    veil_trials_free(&t);
    return rc;
}

static int verify(const veil_probe_input *in, veil_probe_result *out, int same_gender)
{
    double t0 = veil_now();
    veil_probe_result_clear(out);
    const veil_feature_table *tr = in->train;
    size_t D = (size_t)tr->dim;
    double *mu = veil_malloc(D * sizeof *mu), *sd = veil_malloc(D * sizeof *sd);
    table_stats(tr, mu, sd);
    utt_set u;
    int ns = 0;
    probe_utterances(tr, in->test, mu, sd, 1, &u, &ns);
    int rc = probe_score_trials(in, &u, tr->dim, ns, same_gender, out);
    probe_utt_set_free(&u);
    free(mu);
    free(sd);
    if (rc && in->name) veil_error_prefix("%s", in->name);
    out->seconds = veil_now() - t0;
    return rc;
}

int veil_probe_verify_cosine(const veil_probe_input *in, veil_probe_result *out)
{
    return verify(in, out, 0);
}

int veil_probe_verify_same_gender(const veil_probe_input *in, veil_probe_result *out)
{
    return verify(in, out, 1);
}

int veil_probe_verify_lda(const veil_probe_input *in, veil_probe_result *out)
{
    double t0 = veil_now();
    veil_probe_result_clear(out);
    const veil_feature_table *o = in->others;
    if (!o || o->n == 0) { /* a single attacker group: no speakers to learn LDA from */
        if (veil_verbosity >= 2)
            veil_log("%s%sno speakers outside the group: no LDA, no EER", in->name ? in->name : "",
                     in->name ? ": " : "");
        return 0;
    }
    size_t D = (size_t)o->dim;
    double *mu = veil_malloc(D * sizeof *mu), *sd = veil_malloc(D * sizeof *sd);
    table_stats(o, mu, sd);
    utt_set uo, ug;
    int nso = 0, nsg = 0, rc = -1, out_dim = 0;
    probe_utterances(o, NULL, mu, sd, 0, &uo, &nso);
    probe_utterances(in->train, in->test, mu, sd, 1, &ug, &nsg);
    float *lmean = NULL, *w = NULL, *proj = NULL, *centred = NULL;
    if (uo.n <= (size_t)nso) { /* LDA's rows are utterances: say so, not "rows" */
        veil_error("LDA needs more utterances than speakers in the other group's rows to learn the "
                   "within-speaker scatter (got %zu utterance%s of %d speakers)", uo.n, uo.n == 1 ? "" : "s", nso);
        goto done;
    }
    if (veil_lda_fit(uo.e, uo.speaker, uo.n, o->dim, nso, veil_seed_mix(in->seed, 0x766572, 3),
                     &lmean, &w, &out_dim))
        goto done;
    centred = veil_malloc((ug.n ? ug.n : 1) * D * sizeof *centred);
    for (size_t i = 0; i < ug.n; i++)
        for (size_t d = 0; d < D; d++) centred[i * D + d] = ug.e[i * D + d] - lmean[d];
    proj = veil_malloc((ug.n ? ug.n : 1) * (size_t)out_dim * sizeof *proj);
    if (pm_sgemm('N', 'N', ug.n, (size_t)out_dim, D, 1.0f, centred, D, w, (size_t)out_dim, 0.0f, proj,
                 (size_t)out_dim))
        goto done;
    free(ug.e);
    ug.e = proj;
    proj = NULL;
    rc = probe_score_trials(in, &ug, out_dim, nsg, 0, out);
done:
    if (rc && in->name) veil_error_prefix("%s", in->name);
    probe_utt_set_free(&uo);
    probe_utt_set_free(&ug);
    free(lmean);
    free(w);
    free(proj);
    free(centred);
    free(mu);
    free(sd);
    out->seconds = veil_now() - t0;
    return rc;
}
