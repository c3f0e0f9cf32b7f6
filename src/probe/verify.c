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
    double *norm = veil_malloc((n_utt ? n_utt : 1) * sizeof *norm);
    for (size_t i = 0; i < n_utt; i++) {
        double q = 0;
        for (size_t k = 0; k < D; k++) q += (double)e[i * D + k] * e[i * D + k];
        norm[i] = q > 0 ? sqrt(q) : 1;
    }
    out->score = veil_malloc((cap ? cap : 1) * sizeof(float));
    out->target = veil_malloc((cap ? cap : 1) * sizeof(int));
    out->spk_a = veil_malloc((cap ? cap : 1) * sizeof(int));
    out->spk_b = veil_malloc((cap ? cap : 1) * sizeof(int));
    for (size_t i = 0; i < n_utt; i++)
        for (size_t j = i + 1; j < n_utt; j++) {
            if (same_gender && gender[i] != gender[j]) continue;
            double d = 0;
            for (size_t k = 0; k < D; k++) d += (double)e[i * D + k] * e[j * D + k];
            size_t t = out->n++;
            out->score[t] = (float)(d / (norm[i] * norm[j]));
            out->target[t] = speaker[i] == speaker[j];
            out->spk_a[t] = speaker[i];
            out->spk_b[t] = speaker[j];
        }
    free(norm);
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
/* Orthonormalise the q columns of a (rows x q, row-major, double) in place (modified
 * Gram-Schmidt, twice for stability); returns the number of independent columns kept
 * at the front. */
static int orthonormalise(double *a, size_t rows, int q)
{
    int kept = 0;
    for (int j = 0; j < q; j++) {
        double n0 = 0;
        for (size_t r = 0; r < rows; r++) n0 += a[r * q + j] * a[r * q + j];
        for (int pass = 0; pass < 2; pass++)
            for (int k = 0; k < kept; k++) {
                double d = 0;
                for (size_t r = 0; r < rows; r++) d += a[r * q + k] * a[r * q + j];
                for (size_t r = 0; r < rows; r++) a[r * q + j] -= d * a[r * q + k];
            }
        double nn = 0;
        for (size_t r = 0; r < rows; r++) nn += a[r * q + j] * a[r * q + j];
        if (!(nn > 1e-20 * n0) || nn == 0) continue;
        nn = 1 / sqrt(nn);
        for (size_t r = 0; r < rows; r++) a[r * q + kept] = a[r * q + j] * nn;
        kept++;
    }
    return kept;
}

static void to_float(const double *a, float *b, size_t n)
{
    for (size_t i = 0; i < n; i++) b[i] = (float)a[i];
}

/* Principal directions of the centred rows xc (n x D): V (D x p, row-major float),
 * p <= pmax; identity when D <= pmax. Randomised subspace iteration (two power steps). */
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
    int q = pmax + 10;
    if ((size_t)q > n) q = (int)n;
    veil_rng rng;
    veil_rng_seed(&rng, seed);
    float *om = veil_malloc(D * (size_t)q * sizeof *om), *y32 = veil_malloc(n * (size_t)q * sizeof *y32);
    double *y = veil_malloc(n * (size_t)q * sizeof *y), *z = veil_malloc(D * (size_t)q * sizeof *z);
    float *b32 = veil_malloc((size_t)q * D * sizeof *b32);
    int rc = -1, k = q;
    for (size_t i = 0; i < D * (size_t)q; i++) om[i] = (float)veil_rng_normal(&rng);
    if (pm_sgemm('N', 'N', n, (size_t)q, D, 1.0f, xc, D, om, (size_t)q, 0.0f, y32, (size_t)q)) goto done;
    for (int it = 0; it <= 2; it++) {
        for (size_t i = 0; i < n * (size_t)q; i++) y[i] = y32[i];
        k = orthonormalise(y, n, q);
        for (size_t r = 0; r < n; r++)
            for (int j = 0; j < q; j++) y32[r * q + j] = j < k ? (float)y[r * q + j] : 0;
        if (it == 2) break;
        /* z = xc^T y (D x q), orthonormalised, then y = xc z */
        if (pm_sgemm('T', 'N', D, (size_t)q, n, 1.0f, xc, D, y32, (size_t)q, 0.0f, om, (size_t)q)) goto done;
        for (size_t i = 0; i < D * (size_t)q; i++) z[i] = om[i];
        int kz = orthonormalise(z, D, q);
        for (size_t r = 0; r < D; r++)
            for (int j = 0; j < q; j++) om[r * q + j] = j < kz ? (float)z[r * q + j] : 0;
        if (pm_sgemm('N', 'N', n, (size_t)q, D, 1.0f, xc, D, om, (size_t)q, 0.0f, y32, (size_t)q)) goto done;
    }
    /* B = y^T xc (q x D); eigenvectors of B B^T give the right singular vectors */
    if (pm_sgemm('T', 'N', (size_t)q, D, n, 1.0f, y32, (size_t)q, xc, D, 0.0f, b32, D)) goto done;
    {
        double *bb = veil_calloc((size_t)q * q, sizeof *bb), *ev = veil_malloc((size_t)q * sizeof *ev);
        double *u = veil_malloc((size_t)q * q * sizeof *u);
        for (int i = 0; i < k; i++)
            for (int j = 0; j <= i; j++) {
                double s = 0;
                for (size_t d = 0; d < D; d++) s += (double)b32[i * D + d] * b32[j * D + d];
                bb[i * q + j] = bb[j * q + i] = s;
            }
        pm_sym_eigen(bb, q, ev, u);
        int p = 0;
        while (p < pmax && p < q && ev[p] > 1e-10 * ev[0] && ev[p] > 0) p++;
        float *v = veil_malloc(D * (size_t)(p ? p : 1) * sizeof *v);
        for (size_t d = 0; d < D; d++)
            for (int j = 0; j < p; j++) {
                double s = 0;
                for (int i = 0; i < q; i++) s += b32[i * D + d] * u[i * q + j];
                v[d * p + j] = (float)(s / sqrt(ev[j]));
            }
        free(bb);
        free(ev);
        free(u);
        *vout = v;
        *pout = p;
    }
    rc = *pout > 0 ? 0 : -1;
    if (rc) {
        free(*vout);
        *vout = NULL;
        veil_error("LDA: the training rows do not vary (all equal)");
    }
done:
    free(om);
    free(y32);
    free(y);
    free(z);
    free(b32);
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
    if (pm_sgemm('N', 'N', n, (size_t)p, D, 1.0f, xc, D, v, (size_t)p, 0.0f, pr, (size_t)p)) goto done;
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
    int g = pm_sgemm('N', 'T', D, (size_t)out, P, 1.0f, v, P, ut32, P, 0.0f, w, (size_t)out);
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

typedef struct utt_set {
    size_t n;
    float *e;   /* n x dim: standardised utterance means */
    int *key;   /* utterance id */
    int *speaker, *gender; /* speaker: the table's label (group) or a 0.. index (others) */
} utt_set;

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

/* Utterance means over the rows of up to two tables, standardised with (mu, sd). The
 * speaker of an utterance: label (use_label) or the corpus-wide speaker id remapped to
 * 0..k-1 in increasing order. */
static void utterances(const veil_feature_table *a, const veil_feature_table *b, const double *mu,
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
            out->e[j * D + d] = (float)((acc[j * D + d] / (double)cnt[j] - mu[d]) / sd[d]);
    free(acc);
    free(cnt);
    free(spk);
    *n_speakers = (int)sp;
}

static void utt_set_free(utt_set *u)
{
    free(u->e);
    free(u->key);
    free(u->speaker);
    free(u->gender);
}

static int score_trials(const veil_probe_input *in, const utt_set *u, int dim, int n_speakers,
                        int same_gender, veil_probe_result *out)
{
    veil_trials t;
    veil_trials_cosine(u->e, u->n, dim, u->speaker, u->gender, same_gender, &t);
    out->eer = veil_eer(t.score, t.target, NULL, t.n);
    out->min_dcf = veil_min_dcf(t.score, t.target, NULL, t.n, VEIL_DCF_P_TARGET, VEIL_DCF_C_MISS,
                                VEIL_DCF_C_FA);
    int rc = 0;
    if (isnan(out->eer)) {
        veil_error("verification: %zu trials among %zu utterances hold no %s trial", t.n, u->n,
                   t.n ? "target or no non-target" : "");
        rc = -1;
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
    pm_result_clear(out);
    const veil_feature_table *tr = in->train;
    size_t D = (size_t)tr->dim;
    double *mu = veil_malloc(D * sizeof *mu), *sd = veil_malloc(D * sizeof *sd);
    table_stats(tr, mu, sd);
    utt_set u;
    int ns = 0;
    utterances(tr, in->test, mu, sd, 1, &u, &ns);
    int rc = score_trials(in, &u, tr->dim, ns, same_gender, out);
    utt_set_free(&u);
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
    pm_result_clear(out);
    const veil_feature_table *o = in->others;
    if (!o || o->n == 0) {
        veil_error("%s%sverify-lda needs rows of speakers disjoint from the group (none given)",
                   in->name ? in->name : "", in->name ? ": " : "");
        return -1;
    }
    size_t D = (size_t)o->dim;
    double *mu = veil_malloc(D * sizeof *mu), *sd = veil_malloc(D * sizeof *sd);
    table_stats(o, mu, sd);
    utt_set uo, ug;
    int nso = 0, nsg = 0, rc = -1, out_dim = 0;
    utterances(o, NULL, mu, sd, 0, &uo, &nso);
    utterances(in->train, in->test, mu, sd, 1, &ug, &nsg);
    float *lmean = NULL, *w = NULL, *proj = NULL, *centred = NULL;
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
    rc = score_trials(in, &ug, out_dim, nsg, 0, out);
done:
    if (rc && in->name) veil_error_prefix("%s", in->name);
    utt_set_free(&uo);
    utt_set_free(&ug);
    free(lmean);
    free(w);
    free(proj);
    free(centred);
    free(mu);
    free(sd);
    out->seconds = veil_now() - t0;
    return rc;
}
