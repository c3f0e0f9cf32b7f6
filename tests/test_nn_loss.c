/* Float losses against the double reference (including extreme inputs), and Adam
 * against PyTorch's update rule computed here in double. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn_ref.h"
#include "testutil.h"
#include "veil/common.h"
#include "veil/nn.h"

static veil_rng rng;

static void fill(float *v, size_t n, double scale)
{
    for (size_t i = 0; i < n; i++) v[i] = (float)(scale * (2.0 * veil_rng_uniform(&rng) - 1.0));
}

static double *to_double(const float *v, size_t n)
{
    double *d = veil_malloc(sizeof(double) * n);
    for (size_t i = 0; i < n; i++) d[i] = v[i];
    return d;
}

/* max |a - b| relative to max |b| */
static double rel_diff(const float *a, const double *b, size_t n)
{
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        num = fmax(num, fabs(a[i] - b[i]));
        den = fmax(den, fabs(b[i]));
    }
    return den > 0 ? num / den : num;
}

static void test_xent(double scale)
{
    enum { N = 16, C = 5 };
    float logits[N * C], dl[N * C];
    int labels[N];
    fill(logits, N * C, scale);
    for (int i = 0; i < N; i++) labels[i] = (int)veil_rng_below(&rng, C);
    double *ld = to_double(logits, N * C), dref[N * C];
    double want = ref_softmax_xent(ld, labels, N, C, dref);
    float got = veil_softmax_xent(logits, labels, N, C, dl);
    CHECK_MSG(isfinite(got) && fabs(got - want) <= 1e-5 * fabs(want), "xent scale %g: %.9g vs %.9g",
              scale, got, want);
    double r = rel_diff(dl, dref, N * C);
    CHECK_MSG(r <= 1e-5, "xent gradient scale %g: rel diff %.3g", scale, r);
    /* every row of the gradient sums to 0 (softmax sums to 1) */
    double worst = 0;
    for (int i = 0; i < N; i++) {
        double s = 0;
        for (int k = 0; k < C; k++) s += dl[i * C + k];
        worst = fmax(worst, fabs(s));
    }
    CHECK_MSG(worst < 1e-7, "xent gradient row sum %.3g", worst);
    CHECK(veil_softmax_xent(logits, labels, N, C, NULL) == got);
    free(ld);
}

static void test_contrastive(void)
{
    enum { N = 24, D = 32 };
    float z1[N * D], z2[N * D], g1[N * D], g2[N * D], dist[N];
    int y[N];
    fill(z1, N * D, 0.2);
    /* distances spread across the margin, the smallest ones tiny */
    for (int b = 0; b < N; b++) {
        y[b] = b % 2;
        double target = b < 4 ? 1e-3 * (b + 1) : 0.05 * b;
        float dir[D];
        fill(dir, D, 1);
        double nrm = 0;
        for (int i = 0; i < D; i++) nrm += (double)dir[i] * dir[i];
        for (int i = 0; i < D; i++) z2[b * D + i] = z1[b * D + i] + (float)(target * dir[i] / sqrt(nrm));
    }
    double *d1 = to_double(z1, N * D), *d2 = to_double(z2, N * D), r1[N * D], r2[N * D];
    double want = ref_contrastive(d1, d2, y, N, D, 1.0, r1, r2);
    float got = veil_contrastive(z1, z2, y, N, D, 1.0f, g1, g2, dist);
    CHECK_MSG(fabs(got - want) <= 1e-5 * fabs(want), "contrastive %.9g vs %.9g", got, want);
    CHECK_MSG(rel_diff(g1, r1, N * D) <= 1e-5, "dz1 rel diff %.3g", rel_diff(g1, r1, N * D));
    CHECK_MSG(rel_diff(g2, r2, N * D) <= 1e-5, "dz2 rel diff %.3g", rel_diff(g2, r2, N * D));
    int opposite = 1, dist_ok = 1;
    for (int i = 0; i < N * D; i++) opposite &= g1[i] == -g2[i];
    for (int b = 0; b < N; b++) {
        double s = 0;
        for (int i = 0; i < D; i++) s += (d1[b * D + i] - d2[b * D + i]) * (d1[b * D + i] - d2[b * D + i]);
        dist_ok &= fabs(dist[b] - sqrt(s)) <= 1e-6 * sqrt(s);
    }
    CHECK(opposite);
    CHECK(dist_ok);
    CHECK(veil_contrastive(z1, z2, y, N, D, 1.0f, NULL, NULL, NULL) == got);

    /* collapsed outputs: exactly d = 0 gives finite (zero) gradients and loss m^2 */
    int dis = 1, sim = 0;
    float za[D], ga[D], gb[D], dd;
    fill(za, D, 1);
    CHECK(veil_contrastive(za, za, &dis, 1, D, 1.0f, ga, gb, &dd) == 1.0f);
    int finite = 1;
    for (int i = 0; i < D; i++) finite &= isfinite(ga[i]) && ga[i] == 0 && gb[i] == 0;
    CHECK(finite && dd == 0);
    CHECK(veil_contrastive(za, za, &sim, 1, D, 1.0f, ga, gb, &dd) == 0.0f);
    /* nearly collapsed (d ~ 1e-20): the push apart has its full size 2 (m - d) */
    float tiny[D] = {0}, g3[D], g4[D];
    tiny[5] = 1e-20f;
    CHECK(veil_contrastive(tiny, (float[D]){0}, &dis, 1, D, 1.0f, g3, g4, &dd) > 0.99f);
    CHECK_NEAR(g3[5], -2.0, 1e-6);
    CHECK(isfinite(g3[5]) && g4[5] == -g3[5]);
    /* huge outputs: d^2 = 4e38 overflows a float but not the double accumulator */
    float big1[4] = {5e18f, 5e18f, 5e18f, 5e18f}, big2[4] = {-5e18f, -5e18f, -5e18f, -5e18f};
    float lb = veil_contrastive(big1, big2, &dis, 1, 4, 1.0f, NULL, NULL, &dd);
    CHECK(isfinite(dd) && fabs(dd - 2e19) < 1e13);
    CHECK(lb == 0.0f);
    free(d1), free(d2);
}

/* ---------------- Adam ---------------- */
static veil_param make_param(const char *name, size_t n, int is_buffer)
{
    veil_param p;
    memset(&p, 0, sizeof p);
    snprintf(p.name, sizeof p.name, "%s", name);
    p.ndim = 1;
    p.shape[0] = (int64_t)n;
    p.size = n;
    p.data = veil_calloc(n, sizeof(float));
    p.grad = veil_calloc(n, sizeof(float));
    p.is_buffer = is_buffer;
    return p;
}

static void free_param(veil_param *p) { free(p->data), free(p->grad), free(p->adam_m), free(p->adam_v); }

static void test_adam_sequence(void)
{
    /* f(p) = 0.5 sum a_i (p_i - c_i)^2, gradient a (p - c) */
    enum { N = 6, STEPS = 8 };
    double a[N] = {1, 10, 0.1, 3, 1e-3, 100}, c[N] = {1, -2, 0.5, 0, 3, -1};
    veil_param ps[2] = {make_param("w", N, 0), make_param("bn.running_mean", 3, 1)};
    double p[N], m[N] = {0}, v[N] = {0};
    for (int i = 0; i < N; i++) ps[0].data[i] = (float)(p[i] = 0.25 * i - 0.5);
    for (int i = 0; i < 3; i++) ps[1].data[i] = ps[1].grad[i] = 7.0f + i;
    veil_adam ad;
    veil_adam_init(&ad, 0.01f);
    CHECK(ad.beta1 == 0.9f && ad.beta2 == 0.999f && ad.eps == 1e-8f && ad.step == 0);
    double worst = 0;
    for (int t = 1; t <= STEPS; t++) {
        for (int i = 0; i < N; i++) ps[0].grad[i] = (float)(a[i] * (ps[0].data[i] - c[i]));
        veil_adam_step(&ad, ps, 2);
        /* PyTorch's formula in double, fed the same (float) gradients */
        double b1 = 0.9f, b2 = 0.999f, lr = 0.01f, eps = 1e-8f;
        for (int i = 0; i < N; i++) {
            double g = ps[0].grad[i];
            m[i] = b1 * m[i] + (1 - b1) * g;
            v[i] = b2 * v[i] + (1 - b2) * g * g;
            double mhat = m[i] / (1 - pow(b1, t)), vhat = v[i] / (1 - pow(b2, t));
            p[i] -= lr * mhat / (sqrt(vhat) + eps);
            worst = fmax(worst, fabs(p[i] - ps[0].data[i]));
        }
    }
    CHECK_MSG(worst < 1e-6, "Adam vs PyTorch's formula: max diff %.3g", worst);
    CHECK(ad.step == STEPS);
    /* the first step moves every coordinate by lr (mhat / sqrt(vhat) = sign g) */
    CHECK(ps[1].adam_m == NULL && ps[1].adam_v == NULL);
    CHECK(ps[1].data[0] == 7.0f && ps[1].data[1] == 8.0f && ps[1].data[2] == 9.0f);
    /* the vector body and the scalar tail compute the same thing, bit for bit */
    veil_param same = make_param("same", 11, 0);
    veil_adam_init(&ad, 0.003f);
    for (int t = 0; t < 5; t++) {
        for (int i = 0; i < 11; i++) same.grad[i] = 0.37f * (float)(t - 2) + 0.01f;
        veil_adam_step(&ad, &same, 1);
    }
    int identical = 1;
    for (int i = 1; i < 11; i++)
        identical &= same.data[i] == same.data[0] && same.adam_v[i] == same.adam_v[0];
    CHECK(identical && same.data[0] != 0);
    free_param(&same);
    veil_param one = make_param("x", 1, 0);
    one.grad[0] = 123.0f;
    veil_adam_init(&ad, 0.5f);
    veil_adam_step(&ad, &one, 1);
    CHECK_NEAR(one.data[0], -0.5, 1e-6);
    free_param(&one);
    free_param(&ps[0]), free_param(&ps[1]);
}

/* A tensor large enough to be split over threads ends bit-identical to one thread's. */
static void test_adam_threads(void)
{
    enum { N = 3 * 65536 + 77, STEPS = 3 };
    veil_param one = make_param("one", N, 0), two = make_param("two", N, 0);
    veil_adam a1, a2;
    veil_adam_init(&a1, 0.01f);
    veil_adam_init(&a2, 0.01f);
    for (int t = 0; t < STEPS; t++) {
        for (size_t i = 0; i < N; i++)
            one.grad[i] = two.grad[i] = (float)veil_rng_normal(&rng) * (float)(1 + (i % 5));
        veil_set_threads(1);
        veil_adam_step(&a1, &one, 1);
        veil_set_threads(2);
        veil_adam_step(&a2, &two, 1);
    }
    veil_set_threads(1);
    CHECK(memcmp(one.data, two.data, N * sizeof(float)) == 0);
    CHECK(memcmp(one.adam_v, two.adam_v, N * sizeof(float)) == 0);
    CHECK(one.data[N - 1] != 0 && one.data[65536] != 0);
    free_param(&one), free_param(&two);
}

static void test_adam_least_squares(void)
{
    /* minimise 0.5/R ||A x + b0 - y||^2 over x (5) and b0 (1); compare with the exact
     * solution of the normal equations */
    enum { R = 40, K = 5 };
    double A[R][K], yv[R];
    for (int r = 0; r < R; r++) {
        yv[r] = 0.5;
        for (int k = 0; k < K; k++) {
            A[r][k] = veil_rng_normal(&rng);
            yv[r] += (k + 1) * 0.3 * A[r][k];
        }
        yv[r] += 0.05 * veil_rng_normal(&rng);
    }
    /* exact: augment with a column of ones, solve (M^T M) s = M^T y by Gauss-Jordan */
    double M[K + 1][K + 2] = {{0}};
    for (int i = 0; i <= K; i++) {
        for (int j = 0; j <= K; j++)
            for (int r = 0; r < R; r++) M[i][j] += (i < K ? A[r][i] : 1) * (j < K ? A[r][j] : 1);
        for (int r = 0; r < R; r++) M[i][K + 1] += (i < K ? A[r][i] : 1) * yv[r];
    }
    for (int col = 0; col <= K; col++) {
        for (int i = 0; i <= K; i++) {
            if (i == col) continue;
            double f = M[i][col] / M[col][col];
            for (int j = col; j <= K + 1; j++) M[i][j] -= f * M[col][j];
        }
    }
    double exact[K + 1];
    for (int i = 0; i <= K; i++) exact[i] = M[i][K + 1] / M[i][i];

    veil_param ps[2] = {make_param("w", K, 0), make_param("b", 1, 0)};
    veil_adam ad;
    veil_adam_init(&ad, 0.05f);
    for (int it = 0; it < 3000; it++) {
        if (it == 1000) ad.lr = 0.005f;
        if (it == 2000) ad.lr = 0.0005f;
        memset(ps[0].grad, 0, sizeof(float) * K);
        ps[1].grad[0] = 0;
        for (int r = 0; r < R; r++) {
            double e = ps[1].data[0] - yv[r];
            for (int k = 0; k < K; k++) e += A[r][k] * ps[0].data[k];
            for (int k = 0; k < K; k++) ps[0].grad[k] += (float)(e * A[r][k] / R);
            ps[1].grad[0] += (float)(e / R);
        }
        veil_adam_step(&ad, ps, 2);
    }
    double worst = fabs(ps[1].data[0] - exact[K]);
    for (int k = 0; k < K; k++) worst = fmax(worst, fabs(ps[0].data[k] - exact[k]));
    CHECK_MSG(worst < 1e-3, "Adam least squares: max distance to the solution %.3g", worst);
    free_param(&ps[0]), free_param(&ps[1]);
}

int main(void)
{
    veil_rng_seed(&rng, 7);
    test_xent(3.0);
    test_xent(1e4); /* exp(1e4) overflows without the max subtraction */
    test_contrastive();
    test_adam_sequence();
    test_adam_least_squares();
    test_adam_threads();
    return test_finish("test_nn_loss");
}
