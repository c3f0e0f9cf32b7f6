/* The "logreg" probe: multinomial logistic regression on standardised features, L2 on
 * the weights (not the bias), the weight chosen on a held-out 20 % of each speaker's
 * training rows (least held-out cross-entropy over 1e-6 .. 1), then refit on all training
 * rows. Full-batch L-BFGS (memory 10, at most 300 iterations, Armijo backtracking).
 *
 * Wide features (dim > training rows: G = 1 has 16384) are fitted in the span of the
 * training rows, which holds the L2 optimum: with the Gram matrix K = X X^T = L L^T
 * (Cholesky), row i of L is an exact isometric embedding of training row i, and a new row
 * x maps to L^{-1} (X x). The same objective then costs O(n^2 C) per iteration instead of
 * O(n dim C); the Gram matrices are the only dim-sized work (oneDNN sgemm).
 * The optimiser's GEMMs (n x p x C, milliseconds each, hundreds of them) run on one
 * thread: OpenMP's barriers cost more than they save at that size, tenfold on a busy
 * machine (measured: 13 s against 1.4 s for one G = 5 group on 2 shared cores). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <stdio.h>

#include <omp.h>

#include "linalg.h"
#include "veil/common.h"
#include "veil/probe_math.h"
#include "probe_internal.h"

const double veil_logreg_l2_grid[VEIL_LOGREG_N_L2] = {1, 1e-1, 1e-2, 1e-3, 1e-4, 1e-5, 1e-6};

enum { LBFGS_M = 10, LBFGS_ITERS = 300 };

typedef struct lr_problem {
    const float *e; /* n x p embedded rows */
    const int *y;
    size_t n;
    int p, c;
    double l2;
    float *z, *w32, *g32; /* scratch: n x c logits, c x p weights, n x c softmax - onehot */
} lr_problem;

/* Objective and gradient at theta = (W: c x p, b: c). */
static int lr_eval(lr_problem *pb, const double *theta, double *grad, double *f)
{
    size_t n = pb->n, wp = (size_t)pb->c * pb->p;
    int c = pb->c, p = pb->p;
    for (size_t i = 0; i < wp; i++) pb->w32[i] = (float)theta[i];
    if (pm_sgemm('N', 'T', n, (size_t)c, (size_t)p, 1.0f, pb->e, (size_t)p, pb->w32, (size_t)p, 0.0f,
                 pb->z, (size_t)c))
        return -1;
    const double *b = theta + wp;
    double loss = 0, *gb = grad + wp;
    for (int j = 0; j < c; j++) gb[j] = 0;
    for (size_t i = 0; i < n; i++) {
        float *zi = pb->z + i * c;
        double mx = -INFINITY, s = 0;
        for (int j = 0; j < c; j++) {
            double v = zi[j] + b[j];
            if (v > mx) mx = v;
        }
        for (int j = 0; j < c; j++) s += exp(zi[j] + b[j] - mx);
        double lse = mx + log(s);
        loss += lse - (zi[pb->y[i]] + b[pb->y[i]]);
        for (int j = 0; j < c; j++) {
            double g = (exp(zi[j] + b[j] - lse) - (j == pb->y[i])) / (double)n;
            pb->g32[i * c + j] = (float)g;
            gb[j] += g;
        }
    }
    if (pm_sgemm('T', 'N', (size_t)c, (size_t)p, n, 1.0f, pb->g32, (size_t)c, pb->e, (size_t)p, 0.0f,
                 pb->w32, (size_t)p))
        return -1;
    double reg = 0;
    for (size_t i = 0; i < wp; i++) {
        grad[i] = pb->w32[i] + pb->l2 * theta[i];
        reg += theta[i] * theta[i];
    }
    *f = loss / (double)n + 0.5 * pb->l2 * reg;
    return 0;
}

static double dot(const double *a, const double *b, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

static int lr_minimise_threads(lr_problem *pb, double *theta);
/* L-BFGS from theta (warm start); theta receives the minimiser. */
static int lr_minimise(lr_problem *pb, double *theta)
{
    int threads = omp_get_max_threads();
    omp_set_num_threads(1);
    int rc = lr_minimise_threads(pb, theta);
    omp_set_num_threads(threads);
    return rc;
}

static int lr_minimise_threads(lr_problem *pb, double *theta)
{
    size_t np = (size_t)pb->c * pb->p + (size_t)pb->c;
    double *g = veil_malloc(np * sizeof *g), *d = veil_malloc(np * sizeof *d);
    double *tn = veil_malloc(np * sizeof *tn), *gn = veil_malloc(np * sizeof *gn);
    double *s = veil_malloc(LBFGS_M * np * sizeof *s), *yv = veil_malloc(LBFGS_M * np * sizeof *yv);
    double rho[LBFGS_M], alpha[LBFGS_M], f, fn;
    int have = 0, head = 0, rc = -1;
    pb->z = veil_malloc(pb->n * (size_t)pb->c * sizeof(float));
    pb->g32 = veil_malloc(pb->n * (size_t)pb->c * sizeof(float));
    pb->w32 = veil_malloc((size_t)pb->c * pb->p * sizeof(float));
    if (lr_eval(pb, theta, g, &f)) goto done;
    double g0 = sqrt(dot(g, g, np));
    int it = 0, evals = 1;
    for (; it < LBFGS_ITERS; it++) {
        double gnorm = sqrt(dot(g, g, np));
        if (gnorm <= 1e-6 * (g0 > 1 ? g0 : 1)) break;
        /* two-loop recursion: d = -H g */
        memcpy(d, g, np * sizeof *d);
        for (int k = 0; k < have; k++) {
            int j = (head - 1 - k + LBFGS_M) % LBFGS_M;
            alpha[j] = rho[j] * dot(s + j * np, d, np);
            for (size_t i = 0; i < np; i++) d[i] -= alpha[j] * yv[j * np + i];
        }
        double gamma = 1.0 / (gnorm > 1 ? gnorm : 1);
        if (have) {
            int j = (head - 1 + LBFGS_M) % LBFGS_M;
            gamma = dot(s + j * np, yv + j * np, np) / dot(yv + j * np, yv + j * np, np);
        }
        for (size_t i = 0; i < np; i++) d[i] *= gamma;
        for (int k = have - 1; k >= 0; k--) {
            int j = (head - 1 - k + LBFGS_M) % LBFGS_M;
            double beta = rho[j] * dot(yv + j * np, d, np);
            for (size_t i = 0; i < np; i++) d[i] += (alpha[j] - beta) * s[j * np + i];
        }
        for (size_t i = 0; i < np; i++) d[i] = -d[i];
        double slope = dot(g, d, np);
        if (!(slope < 0)) { /* not a descent direction: restart from the gradient */
            have = 0;
            for (size_t i = 0; i < np; i++) d[i] = -g[i] / (gnorm > 1 ? gnorm : 1);
            slope = dot(g, d, np);
        }
        double step = 1;
        int ok = 0;
        for (int ls = 0; ls < 40; ls++) {
            for (size_t i = 0; i < np; i++) tn[i] = theta[i] + step * d[i];
            if (lr_eval(pb, tn, gn, &fn)) goto done;
            evals++;
            if (fn <= f + 1e-4 * step * slope) {
                ok = 1;
                break;
            }
            step *= 0.5;
        }
        if (!ok) break; /* no decrease left at float precision: converged */
        double *sj = s + head * np, *yj = yv + head * np;
        for (size_t i = 0; i < np; i++) {
            sj[i] = tn[i] - theta[i];
            yj[i] = gn[i] - g[i];
        }
        double sy = dot(sj, yj, np);
        if (sy > 1e-12) {
            rho[head] = 1.0 / sy;
            head = (head + 1) % LBFGS_M;
            if (have < LBFGS_M) have++;
        }
        double df = f - fn;
        memcpy(theta, tn, np * sizeof *theta);
        memcpy(g, gn, np * sizeof *g);
        f = fn;
        if (df <= 1e-10 * (fabs(f) > 1 ? fabs(f) : 1)) break;
    }
    if (getenv("PM_DEBUG")) fprintf(stderr, "l2 %g: %d iterations, %d evaluations, f %.6g\n", pb->l2, it, evals, f);
    rc = 0;
done:
    free(pb->z);
    free(pb->g32);
    free(pb->w32);
    pb->z = pb->g32 = pb->w32 = NULL;
    free(g);
    free(d);
    free(tn);
    free(gn);
    free(s);
    free(yv);
    return rc;
}

/* log-posteriors (m x c) of embedded rows et (m x p) under theta */
static int lr_predict(const double *theta, int c, int p, const float *et, size_t m, double *out)
{
    size_t wp = (size_t)c * p;
    float *w32 = veil_malloc(wp * sizeof *w32), *z = veil_malloc((m ? m : 1) * (size_t)c * sizeof *z);
    for (size_t i = 0; i < wp; i++) w32[i] = (float)theta[i];
    int rc = pm_sgemm('N', 'T', m, (size_t)c, (size_t)p, 1.0f, et, (size_t)p, w32, (size_t)p, 0.0f, z,
                      (size_t)c);
    for (size_t i = 0; i < m; i++)
        for (int j = 0; j < c; j++) out[i * c + j] = z[i * c + j] + theta[wp + j];
    pm_log_softmax(out, m, c);
    free(w32);
    free(z);
    return rc;
}

/* Embedding in the span of training rows tr (idx into a Gram matrix kall of nall x nall):
 * e_tr (ntr x ntr) = L, and rows kx (nx x nall, Gram of other rows against all training
 * rows) mapped to e_x (nx x ntr) = L^{-1} k. */
static int span_embed(const double *kall, size_t nall, const size_t *tr, size_t ntr,
                      const float *kx, size_t nx, float *e_tr, float *e_x)
{
    int n = (int)ntr;
    double *l = veil_malloc(ntr * ntr * sizeof *l), diag = 0;
    for (size_t i = 0; i < ntr; i++) diag += kall[tr[i] * nall + tr[i]] / (double)ntr;
    int ok = 0;
    for (double jitter = 1e-6; jitter < 1e-1 && !ok; jitter *= 10) {
        for (size_t i = 0; i < ntr; i++)
            for (size_t j = 0; j < ntr; j++)
                l[i * ntr + j] = kall[tr[i] * nall + tr[j]] + (i == j ? jitter * diag : 0);
        ok = pm_cholesky(l, n) == 0;
    }
    if (!ok) {
        free(l);
        veil_error("logreg: the Gram matrix of the training rows is not positive definite "
                   "(constant or non-finite features?)");
        return -1;
    }
    for (size_t i = 0; i < ntr * ntr; i++) e_tr[i] = (float)l[i];
    double *b = veil_malloc((nx ? nx : 1) * ntr * sizeof *b);
    for (size_t r = 0; r < nx; r++)
        for (size_t j = 0; j < ntr; j++) b[r * ntr + j] = kx[r * nall + tr[j]];
    pm_solve_lower_rows(l, n, b, nx);
    for (size_t i = 0; i < nx * ntr; i++) e_x[i] = (float)b[i];
    free(b);
    free(l);
    return 0;
}

static double mean_xent(const double *logp, const int *y, size_t m, int c)
{
    double s = 0;
    for (size_t i = 0; i < m; i++) s -= logp[i * c + y[i]];
    return s / (double)(m ? m : 1);
}

int veil_logreg_fit_predict(const float *x, const int *y, size_t n, int dim, int classes,
                            const float *xt, size_t m, double l2, uint64_t seed, float *logp,
                            double *l2_used)
{
    int c = classes, rc = -1, wide = (size_t)dim > n;
    size_t D = (size_t)dim;
    if (n < 2 || c < 2) {
        veil_error("logreg: needs at least 2 training rows and 2 classes (got %zu rows, %d classes)",
                   n, c);
        return -1;
    }
    size_t *in = veil_malloc(n * sizeof *in), *ho = veil_malloc(n * sizeof *ho), nin = 0, nho = 0;
    int *yin = veil_malloc(n * sizeof *yin), *yho = veil_malloc(n * sizeof *yho);
    double *kall = NULL, *theta = NULL, *lp = NULL;
    float *k32 = NULL, *kt = NULL, *e = NULL, *ex = NULL;
    /* Gram matrices of wide features: training x training and test x training */
    if (wide) {
        k32 = veil_malloc(n * n * sizeof *k32);
        kt = veil_malloc((m ? m : 1) * n * sizeof *kt);
        if (pm_sgemm('N', 'T', n, n, D, 1.0f, x, D, x, D, 0.0f, k32, n) ||
            pm_sgemm('N', 'T', m, n, D, 1.0f, xt, D, x, D, 0.0f, kt, n))
            goto done;
        kall = veil_malloc(n * n * sizeof *kall);
        for (size_t i = 0; i < n * n; i++) kall[i] = k32[i];
    }
    double chosen = l2;
    if (l2 < 0) {
        pm_holdout_rows(y, n, c, 0.2, veil_seed_mix(seed, 0x6c6f67, 1), in, &nin, ho, &nho);
        for (size_t r = 0; r < nin; r++) yin[r] = y[in[r]];
        for (size_t r = 0; r < nho; r++) yho[r] = y[ho[r]];
        int p = wide ? (int)nin : dim;
        e = veil_malloc(nin * (size_t)p * sizeof *e);
        ex = veil_malloc((nho ? nho : 1) * (size_t)p * sizeof *ex);
        if (wide) {
            float *kho = veil_malloc((nho ? nho : 1) * n * sizeof *kho);
            for (size_t r = 0; r < nho; r++) memcpy(kho + r * n, k32 + ho[r] * n, n * sizeof *kho);
            int r = span_embed(kall, n, in, nin, kho, nho, e, ex);
            free(kho);
            if (r) goto done;
        } else {
            for (size_t r = 0; r < nin; r++) memcpy(e + r * D, x + in[r] * D, D * sizeof *e);
            for (size_t r = 0; r < nho; r++) memcpy(ex + r * D, x + ho[r] * D, D * sizeof *ex);
        }
        size_t np = (size_t)c * p + c;
        theta = veil_calloc(np, sizeof *theta);
        lp = veil_malloc((nho ? nho : 1) * (size_t)c * sizeof *lp);
        double best = INFINITY;
        /* strongest regularisation first, each fit warm-started from the previous one */
        for (int k = 0; k < VEIL_LOGREG_N_L2; k++) {
            lr_problem pb = {e, yin, nin, p, c, veil_logreg_l2_grid[k], NULL, NULL, NULL};
            if (lr_minimise(&pb, theta) || lr_predict(theta, c, p, ex, nho, lp)) goto done;
            double xe = mean_xent(lp, yho, nho, c);
            if (xe < best) {
                best = xe;
                chosen = veil_logreg_l2_grid[k];
            }
        }
        free(theta);
        free(lp);
        free(e);
        free(ex);
        theta = NULL;
        lp = NULL;
        e = ex = NULL;
    }
    /* the final fit on every training row */
    int p = wide ? (int)n : dim;
    e = veil_malloc(n * (size_t)p * sizeof *e);
    ex = veil_malloc((m ? m : 1) * (size_t)p * sizeof *ex);
    if (wide) {
        for (size_t i = 0; i < n; i++) in[i] = i;
        if (span_embed(kall, n, in, n, kt, m, e, ex)) goto done;
    } else {
        memcpy(e, x, n * D * sizeof *e);
        if (m) memcpy(ex, xt, m * D * sizeof *ex);
    }
    theta = veil_calloc((size_t)c * p + c, sizeof *theta);
    lp = veil_malloc((m ? m : 1) * (size_t)c * sizeof *lp);
    lr_problem pb = {e, y, n, p, c, chosen, NULL, NULL, NULL};
    if (lr_minimise(&pb, theta) || lr_predict(theta, c, p, ex, m, lp)) goto done;
    for (size_t i = 0; i < m * (size_t)c; i++) logp[i] = (float)lp[i];
    if (l2_used) *l2_used = chosen;
    rc = 0;
done:
    free(in), free(ho), free(yin), free(yho), free(kall), free(k32), free(kt);
    free(theta), free(lp), free(e), free(ex);
    return rc;
}

/* the L2 weight chosen on held-out training rows */
static int logreg_fit(const float *x, const int *y, size_t n, int dim, int classes, const float *xt, size_t m,
                      uint64_t seed, float *logp, double *chosen)
{
    return veil_logreg_fit_predict(x, y, n, dim, classes, xt, m, -1, seed, logp, chosen);
}

int veil_probe_logreg(const veil_probe_input *in, veil_probe_result *out)
{
    return probe_fit_standardised(in, "logreg", "L2 weight", veil_seed_mix(in->seed, 0x6c6f67, 0), logreg_fit, out);
}
