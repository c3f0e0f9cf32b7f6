/* The numeric probes (src/research/probe/): known answers on Gaussian clusters, the EER and minDCF
 * against brute force over every threshold, the bootstrap, LDA against Fisher's
 * direction, logistic regression in the span of wide features against the same problem
 * in few dimensions. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "veil/common.h"
#include "veil/probe.h"
#include "veil/probe_math.h"

/* Speakers (classes) with a Gaussian centre each (scale sep), utterances of rows
 * (centre + unit noise); speaker k has gender k % 2. Rows of utterance u alternate between
 * train (even) and test (odd) when both are given. speaker ids start at id0. */
static void clusters(int classes, int utts, int rows, int dim, double sep, uint64_t seed, int id0,
                     veil_feature_table *train, veil_feature_table *test)
{
    veil_rng r;
    veil_rng_seed(&r, seed);
    size_t total = (size_t)classes * utts * rows;
    veil_feature_table *ts[2] = {train, test};
    for (int k = 0; k < 2; k++) {
        if (!ts[k]) continue;
        memset(ts[k], 0, sizeof *ts[k]);
        ts[k]->dim = dim;
        ts[k]->n_classes = classes;
        ts[k]->z = veil_aligned_alloc(total * dim * sizeof(float));
        ts[k]->label = malloc(total * sizeof(int));
        ts[k]->speaker = malloc(total * sizeof(int));
        ts[k]->gender = malloc(total * sizeof(int));
        ts[k]->utterance = malloc(total * sizeof(int));
        ts[k]->file = malloc(total * sizeof(int));
    }
    double *centre = malloc((size_t)dim * sizeof *centre);
    for (int c = 0; c < classes; c++) {
        for (int d = 0; d < dim; d++) centre[d] = sep * veil_rng_normal(&r);
        for (int u = 0; u < utts; u++)
            for (int i = 0; i < rows; i++) {
                veil_feature_table *t = (i % 2 && test) ? test : train;
                size_t j = t->n++;
                for (int d = 0; d < dim; d++) t->z[j * dim + d] = (float)(centre[d] + veil_rng_normal(&r));
                t->label[j] = c;
                t->speaker[j] = id0 + c;
                t->gender[j] = c % 2;
                t->utterance[j] = t->file[j] = (id0 + c) * 1000 + u;
            }
    }
    free(centre);
}

static veil_probe_result run(int (*fn)(const veil_probe_input *, veil_probe_result *),
                             const veil_feature_table *tr, const veil_feature_table *te,
                             const veil_feature_table *others)
{
    veil_probe_input in;
    memset(&in, 0, sizeof in);
    in.train = tr;
    in.test = te;
    in.others = others;
    in.seed = 7;
    in.name = "test";
    veil_probe_result r;
    memset(&r, 0, sizeof r);
    int rc = fn(&in, &r);
    CHECK_MSG(rc == 0, "%s", veil_last_error());
    return r;
}

static void test_identification(void)
{
    veil_feature_table tr, te;
    /* well separated, narrow (dim 8 < rows) and wide (dim 700 > 400 training rows) */
    int dims[2] = {8, 700};
    for (int k = 0; k < 2; k++) {
        clusters(10, 5, 16, dims[k], 3.0, 11 + k, 0, &tr, &te);
        veil_probe_result a = run(veil_probe_logreg, &tr, &te, NULL);
        veil_probe_result b = run(veil_probe_knn_cosine, &tr, &te, NULL);
        CHECK_MSG(a.acc > 0.97 && a.acc_utt > 0.97, "logreg dim %d: %.3f %.3f", dims[k], a.acc, a.acc_utt);
        CHECK_MSG(b.acc > 0.97 && b.acc_utt > 0.97, "knn dim %d: %.3f %.3f", dims[k], b.acc, b.acc_utt);
        CHECK_NEAR(a.chance, 0.1, 1e-12);
        CHECK(isnan(a.eer) && isnan(b.min_dcf));
        veil_feature_table_free(&tr);
        veil_feature_table_free(&te);
        /* identical distributions: chance (0.1); 400 test rows, 50 utterances */
        clusters(10, 5, 16, dims[k], 0.0, 21 + k, 0, &tr, &te);
        a = run(veil_probe_logreg, &tr, &te, NULL);
        b = run(veil_probe_knn_cosine, &tr, &te, NULL);
        CHECK_MSG(a.acc < 0.2 && a.acc_utt < 0.3, "logreg chance dim %d: %.3f %.3f", dims[k], a.acc,
                  a.acc_utt);
        CHECK_MSG(b.acc < 0.2 && b.acc_utt < 0.3, "knn chance dim %d: %.3f %.3f", dims[k], b.acc, b.acc_utt);
        veil_feature_table_free(&tr);
        veil_feature_table_free(&te);
    }
    /* weakly separated: pooling over an utterance helps */
    clusters(10, 5, 16, 20, 0.35, 31, 0, &tr, &te);
    veil_probe_result a = run(veil_probe_logreg, &tr, &te, NULL);
    CHECK_MSG(a.acc_utt > a.acc && a.acc > 0.15, "pooling: %.3f %.3f", a.acc, a.acc_utt);
    veil_feature_table_free(&tr);
    veil_feature_table_free(&te);
}

/* The wide path (dim > rows: fitted in the span of the rows) gives the same posteriors
 * as the narrow path on the same data: x (5 dims) and x Q^T with Q 100 x 5 orthonormal
 * columns have the same inner products, so the same L2-regularised optimum. */
static void test_logreg_span(void)
{
    enum { N = 60, M = 30, D = 5, BIG = 100, C = 3 };
    veil_rng r;
    veil_rng_seed(&r, 5);
    float x[N * D], xt[M * D], *xb = malloc(N * BIG * sizeof *xb), *xtb = malloc(M * BIG * sizeof *xtb);
    int y[N];
    for (int i = 0; i < N; i++) {
        y[i] = i % C;
        for (int d = 0; d < D; d++) x[i * D + d] = (float)(veil_rng_normal(&r) + (d == y[i] ? 1.5 : 0));
    }
    for (int i = 0; i < M; i++)
        for (int d = 0; d < D; d++) xt[i * D + d] = (float)(veil_rng_normal(&r) + (d == i % C ? 1.5 : 0));
    double q[BIG * D];
    for (int i = 0; i < BIG * D; i++) q[i] = veil_rng_normal(&r);
    for (int j = 0; j < D; j++) { /* Gram-Schmidt on the columns */
        for (int k = 0; k < j; k++) {
            double dd = 0;
            for (int i = 0; i < BIG; i++) dd += q[i * D + j] * q[i * D + k];
            for (int i = 0; i < BIG; i++) q[i * D + j] -= dd * q[i * D + k];
        }
        double nn = 0;
        for (int i = 0; i < BIG; i++) nn += q[i * D + j] * q[i * D + j];
        for (int i = 0; i < BIG; i++) q[i * D + j] /= sqrt(nn);
    }
    for (int i = 0; i < N; i++)
        for (int b = 0; b < BIG; b++) {
            double s = 0;
            for (int d = 0; d < D; d++) s += q[b * D + d] * x[i * D + d];
            xb[i * BIG + b] = (float)s;
        }
    for (int i = 0; i < M; i++)
        for (int b = 0; b < BIG; b++) {
            double s = 0;
            for (int d = 0; d < D; d++) s += q[b * D + d] * xt[i * D + d];
            xtb[i * BIG + b] = (float)s;
        }
    float lp1[M * C], lp2[M * C];
    double l2a = 0, l2b = 0;
    CHECK(veil_logreg_fit_predict(x, y, N, D, C, xt, M, 1e-2, 1, lp1, &l2a) == 0);
    CHECK(veil_logreg_fit_predict(xb, y, N, BIG, C, xtb, M, 1e-2, 1, lp2, &l2b) == 0);
    double worst = 0;
    for (int i = 0; i < M * C; i++) worst = fmax(worst, fabs(lp1[i] - lp2[i]));
    CHECK_MSG(worst < 2e-3, "narrow vs span log-posteriors differ by %.3g", worst);
    CHECK(l2a == 1e-2 && l2b == 1e-2);
    /* chosen weights agree too */
    CHECK(veil_logreg_fit_predict(x, y, N, D, C, xt, M, -1, 1, lp1, &l2a) == 0);
    CHECK(veil_logreg_fit_predict(xb, y, N, BIG, C, xtb, M, -1, 1, lp2, &l2b) == 0);
    CHECK_MSG(l2a == l2b, "%g vs %g", l2a, l2b);
    /* the optimum: at fixed l2 the mean posterior of the true class beats a uniform guess */
    double mean_true = 0;
    for (int i = 0; i < M; i++) mean_true += exp(lp1[i * C + i % C]) / M;
    CHECK(mean_true > 1.0 / C);
    free(xb);
    free(xtb);
}

/* k = 1 against a brute-force nearest neighbour by cosine */
static void test_knn_brute(void)
{
    enum { N = 50, M = 20, D = 6, C = 4 };
    veil_rng r;
    veil_rng_seed(&r, 9);
    float x[N * D], xt[M * D], lp[M * C];
    int y[N];
    for (int i = 0; i < N * D; i++) x[i] = (float)veil_rng_normal(&r);
    for (int i = 0; i < M * D; i++) xt[i] = (float)veil_rng_normal(&r);
    for (int i = 0; i < N; i++) y[i] = (int)veil_rng_below(&r, C);
    int k = 0;
    CHECK(veil_knn_fit_predict(x, y, N, D, C, xt, M, 1, 1, lp, &k) == 0);
    CHECK(k == 1);
    for (int t = 0; t < M; t++) {
        int best = -1;
        double bs = -2;
        for (int i = 0; i < N; i++) {
            double d = 0, a = 0, b = 0;
            for (int j = 0; j < D; j++) {
                d += xt[t * D + j] * x[i * D + j];
                a += xt[t * D + j] * xt[t * D + j];
                b += x[i * D + j] * x[i * D + j];
            }
            if (d / sqrt(a * b) > bs) {
                bs = d / sqrt(a * b);
                best = i;
            }
        }
        /* votes (1 + [c = y]) / (1 + C) */
        for (int c = 0; c < C; c++)
            CHECK_NEAR(lp[t * C + c], log((1.0 + (c == y[best])) / (1 + C)), 1e-6);
    }
}

/* ---- brute-force verification metrics: every threshold, accept when score > t ---- */
static void brute_rates(const float *s, const int *tg, const double *w, int n, double t,
                        double *miss, double *fa)
{
    double wt = 0, wn = 0, m = 0, f = 0;
    for (int i = 0; i < n; i++) {
        double wi = w ? w[i] : 1;
        if (tg[i]) {
            wt += wi;
            if (!(s[i] > t)) m += wi;
        } else {
            wn += wi;
            if (s[i] > t) f += wi;
        }
    }
    *miss = m / wt;
    *fa = f / wn;
}

static int cmpf(const void *a, const void *b)
{
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

static void brute(const float *s, const int *tg, const double *w, int n, double *eer, double *dcf)
{
    float *t = malloc((size_t)(n + 1) * sizeof *t);
    t[0] = -INFINITY;
    memcpy(t + 1, s, (size_t)n * sizeof *t);
    qsort(t + 1, (size_t)n, sizeof *t, cmpf);
    double pm = 0, pf = 1, best = INFINITY, pt = VEIL_DCF_P_TARGET;
    *eer = NAN;
    for (int i = 0; i <= n; i++) {
        if (i > 1 && t[i] == t[i - 1]) continue;
        double m, f;
        brute_rates(s, tg, w, n, t[i], &m, &f);
        double d = (pt * m + (1 - pt) * f) / fmin(pt, 1 - pt);
        if (d < best) best = d;
        if (i > 0 && isnan(*eer) && m >= f) {
            double d1 = pf - pm, d2 = f - m;
            *eer = pm + d1 / (d1 - d2) * (m - pm);
        }
        pm = m;
        pf = f;
    }
    *dcf = best;
    free(t);
}

static void test_metrics(void)
{
    enum { N = 400 };
    veil_rng r;
    veil_rng_seed(&r, 3);
    float s[N];
    int tg[N];
    double w[N];
    for (int rep = 0; rep < 20; rep++) {
        int n = 5 + (int)veil_rng_below(&r, N - 5);
        double shift = veil_rng_uniform(&r) * 3;
        int round_ties = rep % 2;
        for (int i = 0; i < n; i++) {
            tg[i] = veil_rng_uniform(&r) < 0.3;
            double v = veil_rng_normal(&r) + (tg[i] ? shift : 0);
            s[i] = (float)(round_ties ? round(v * 4) / 4 : v);
            w[i] = (double)veil_rng_below(&r, 4);
        }
        tg[0] = 1;
        tg[1] = 0;
        w[0] = w[1] = 1;
        double e1 = veil_eer(s, tg, NULL, (size_t)n), d1 = veil_min_dcf(s, tg, NULL, (size_t)n,
                                                                       VEIL_DCF_P_TARGET, 1, 1);
        double e2, d2;
        brute(s, tg, NULL, n, &e2, &d2);
        CHECK_NEAR(e1, e2, 1e-9);
        CHECK_NEAR(d1, d2, 1e-9);
        e1 = veil_eer(s, tg, w, (size_t)n);
        d1 = veil_min_dcf(s, tg, w, (size_t)n, VEIL_DCF_P_TARGET, 1, 1);
        brute(s, tg, w, n, &e2, &d2);
        CHECK_NEAR(e1, e2, 1e-9);
        CHECK_NEAR(d1, d2, 1e-9);
    }
    /* known answers */
    float sep[4] = {0.1f, 0.2f, 0.8f, 0.9f};
    int t4[4] = {0, 0, 1, 1};
    CHECK_NEAR(veil_eer(sep, t4, NULL, 4), 0, 1e-12);
    CHECK_NEAR(veil_min_dcf(sep, t4, NULL, 4, 0.01, 1, 1), 0, 1e-12);
    int inv[4] = {1, 1, 0, 0};
    CHECK_NEAR(veil_eer(sep, inv, NULL, 4), 1, 1e-12);
    CHECK_NEAR(veil_min_dcf(sep, inv, NULL, 4, 0.01, 1, 1), 1, 1e-12); /* reject all */
    float same[4] = {0.5f, 0.5f, 0.5f, 0.5f};
    CHECK_NEAR(veil_eer(same, t4, NULL, 4), 0.5, 1e-12);
    int only[2] = {1, 1};
    CHECK(isnan(veil_eer(sep, only, NULL, 2)));
}

static void test_bootstrap(void)
{
    enum { S = 12, U = 4 };
    veil_rng r;
    veil_rng_seed(&r, 4);
    float e[S * U * 3];
    int spk[S * U], gen[S * U];
    for (int s = 0; s < S; s++) {
        double c[3] = {veil_rng_normal(&r), veil_rng_normal(&r), veil_rng_normal(&r)};
        for (int u = 0; u < U; u++) {
            for (int d = 0; d < 3; d++) e[(s * U + u) * 3 + d] = (float)(c[d] + 0.6 * veil_rng_normal(&r));
            spk[s * U + u] = s;
            gen[s * U + u] = s % 2;
        }
    }
    veil_trials t, tg;
    veil_trials_cosine(e, S * U, 3, spk, gen, 0, &t);
    veil_trials_cosine(e, S * U, 3, spk, gen, 1, &tg);
    CHECK(t.n == (size_t)(S * U) * (S * U - 1) / 2);
    /* same gender: two sets of 24 utterances */
    CHECK(tg.n == 2 * (size_t)(24 * 23 / 2));
    size_t targets = 0;
    for (size_t i = 0; i < t.n; i++) targets += t.target[i];
    CHECK(targets == (size_t)S * U * (U - 1) / 2);
    double eer = veil_eer(t.score, t.target, NULL, t.n), lo1, hi1, lo2, hi2, lo3, hi3;
    CHECK(veil_eer_bootstrap(t.score, t.target, t.spk_a, t.spk_b, t.n, S, 500, 99, &lo1, &hi1) == 0);
    CHECK(veil_eer_bootstrap(t.score, t.target, t.spk_a, t.spk_b, t.n, S, 500, 99, &lo2, &hi2) == 0);
    CHECK(veil_eer_bootstrap(t.score, t.target, t.spk_a, t.spk_b, t.n, S, 500, 100, &lo3, &hi3) == 0);
    CHECK(lo1 == lo2 && hi1 == hi2);
    CHECK(lo1 != lo3 || hi1 != hi3);
    CHECK_MSG(lo1 <= eer && eer <= hi1 && lo1 < hi1, "%.4f in [%.4f, %.4f]", eer, lo1, hi1);
    CHECK(eer > 0.02 && eer < 0.45);
    veil_trials_free(&t);
    veil_trials_free(&tg);
}

/* LDA of two classes: the one direction is Fisher's, S_w^{-1} (m1 - m0) */
static void test_lda(void)
{
    enum { N = 80, D = 3 };
    veil_rng r;
    veil_rng_seed(&r, 8);
    float x[N * D];
    int y[N];
    double a[D][D] = {{1, 0.5, 0}, {0, 1, 0.3}, {0.2, 0, 0.4}};
    for (int i = 0; i < N; i++) {
        y[i] = i % 2;
        double g[D] = {veil_rng_normal(&r), veil_rng_normal(&r), veil_rng_normal(&r)};
        for (int d = 0; d < D; d++) {
            double v = y[i] ? (d == 0 ? 1.0 : -0.5) : 0;
            for (int k = 0; k < D; k++) v += a[d][k] * g[k];
            x[i * D + d] = (float)v;
        }
    }
    float *mean = NULL, *w = NULL;
    int out = 0;
    CHECK(veil_lda_fit(x, y, N, D, 2, 1, &mean, &w, &out) == 0);
    CHECK(out == 1);
    /* independent: class means, within scatter, solve by Cramer's rule */
    double m[2][D] = {{0}}, sw[D][D] = {{0}};
    int cnt[2] = {0, 0};
    for (int i = 0; i < N; i++) {
        cnt[y[i]]++;
        for (int d = 0; d < D; d++) m[y[i]][d] += x[i * D + d];
    }
    for (int c = 0; c < 2; c++)
        for (int d = 0; d < D; d++) m[c][d] /= cnt[c];
    for (int i = 0; i < N; i++)
        for (int p = 0; p < D; p++)
            for (int q = 0; q < D; q++)
                sw[p][q] += (x[i * D + p] - m[y[i]][p]) * (x[i * D + q] - m[y[i]][q]);
    double b[D] = {m[1][0] - m[0][0], m[1][1] - m[0][1], m[1][2] - m[0][2]};
#define DET3(M) (M[0][0] * (M[1][1] * M[2][2] - M[1][2] * M[2][1]) - M[0][1] * (M[1][0] * M[2][2] - M[1][2] * M[2][0]) + M[0][2] * (M[1][0] * M[2][1] - M[1][1] * M[2][0]))
    double det = DET3(sw), f[D];
    for (int k = 0; k < D; k++) {
        double mk[D][D];
        memcpy(mk, sw, sizeof mk);
        for (int p = 0; p < D; p++) mk[p][k] = b[p];
        f[k] = DET3(mk) / det;
    }
    double dot = 0, nf = 0, nw = 0;
    for (int d = 0; d < D; d++) {
        dot += f[d] * w[d];
        nf += f[d] * f[d];
        nw += (double)w[d] * w[d];
        CHECK_NEAR(mean[d], (m[0][d] + m[1][d]) / 2, 1e-4);
    }
    CHECK_MSG(fabs(dot) / sqrt(nf * nw) > 1 - 1e-6, "cos %.9f", fabs(dot) / sqrt(nf * nw));
    free(mean);
    free(w);
    /* too few rows */
    CHECK_FAILS_WITH(veil_lda_fit(x, y, 2, D, 2, 1, &mean, &w, &out), "more rows than speakers");
}

static void test_verification(void)
{
    veil_feature_table tr, te, ot, tr0, te0, ot0;
    /* 300 > 200: LDA through the PCA step, exact with 180 utterances of others, randomised
     * with 300 */
    int dims[3] = {16, 300, 300}, n_others[3] = {30, 30, 50};
    for (int k = 0; k < 3; k++) {
        clusters(10, 6, 6, dims[k], 1.0, 41 + k, 0, &tr, &te);
        clusters(n_others[k], 6, 4, dims[k], 1.0, 51 + k, 100, &ot, NULL);
        veil_probe_result a = run(veil_probe_verify_cosine, &tr, &te, NULL);
        veil_probe_result g = run(veil_probe_verify_same_gender, &tr, &te, NULL);
        veil_probe_result l = run(veil_probe_verify_lda, &tr, &te, &ot);
        CHECK_MSG(a.eer < 0.02 && g.eer < 0.02 && l.eer < 0.05, "separated dim %d: %.3f %.3f %.3f",
                  dims[k], a.eer, g.eer, l.eer);
        CHECK(a.eer_lo <= a.eer && a.eer <= a.eer_hi && a.min_dcf <= 1 && a.min_dcf >= 0);
        CHECK(isnan(a.acc) && isnan(l.acc_utt));
        clusters(10, 6, 6, dims[k], 0.0, 61 + k, 0, &tr0, &te0);
        clusters(n_others[k], 6, 4, dims[k], 0.0, 71 + k, 100, &ot0, NULL);
        a = run(veil_probe_verify_cosine, &tr0, &te0, NULL);
        g = run(veil_probe_verify_same_gender, &tr0, &te0, NULL);
        l = run(veil_probe_verify_lda, &tr0, &te0, &ot0);
        CHECK_MSG(a.eer > 0.38 && a.eer < 0.62 && g.eer > 0.35 && g.eer < 0.65 && l.eer > 0.35 &&
                      l.eer < 0.65,
                  "identical dim %d: %.3f %.3f %.3f", dims[k], a.eer, g.eer, l.eer);
        CHECK(a.min_dcf > 0.8);
        CHECK(a.eer_lo <= a.eer && a.eer <= a.eer_hi);
        veil_feature_table *all[6] = {&tr, &te, &ot, &tr0, &te0, &ot0};
        for (int i = 0; i < 6; i++) veil_feature_table_free(all[i]);
    }
    /* no others (a single attacker group): nothing to learn LDA from, NaN */
    clusters(4, 3, 4, 8, 1.0, 81, 0, &tr, &te);
    veil_probe_input in;
    memset(&in, 0, sizeof in);
    in.train = &tr;
    in.test = &te;
    in.name = "group 1";
    veil_probe_result r;
    CHECK(veil_probe_verify_lda(&in, &r) == 0);
    CHECK(isnan(r.eer) && isnan(r.eer_lo) && isnan(r.min_dcf) && isnan(r.acc));
    veil_feature_table_free(&tr);
    veil_feature_table_free(&te);
}

int main(void)
{
    veil_set_threads(1);
    test_metrics();
    test_bootstrap();
    test_lda();
    test_knn_brute();
    test_logreg_span();
    test_identification();
    test_verification();
    return test_finish("probe_math");
}
