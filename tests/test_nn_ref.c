/* Reference layers: every backward against central finite differences in double,
 * whole small networks end to end, and a few forward values worked out by hand. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "nn_ref.h"
#include "testutil.h"
#include "veil/common.h"
#include "veil/nn.h"

/* central-difference step; the contrastive check near d = 1e-3 uses a smaller one */
static double fd_h = 1e-6;
#define FD_TOL 1e-6

static veil_rng rng;

static double *randv(size_t n, double scale)
{
    double *v = veil_malloc(sizeof(double) * (n ? n : 1));
    for (size_t i = 0; i < n; i++) v[i] = scale * (2.0 * veil_rng_uniform(&rng) - 1.0);
    return v;
}

static double dot(const double *a, const double *b, size_t n)
{
    double s = 0;
    for (size_t i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

typedef double (*loss_fn)(void *ctx);

/* Worst error of an analytic gradient against central differences, relative to the
 * larger magnitude with a floor of 1e-2 (so exact zeros compare absolutely). */
static double fd_worst(double *v, size_t count, const double *grad, loss_fn f, void *ctx)
{
    double worst = 0;
    for (size_t i = 0; i < count; i++) {
        double save = v[i];
        v[i] = save + fd_h;
        double lp = f(ctx);
        v[i] = save - fd_h;
        double lm = f(ctx);
        v[i] = save;
        double num = (lp - lm) / (2 * fd_h);
        double scale = fmax(fmax(fabs(num), fabs(grad[i])), 1e-2);
        double err = fabs(num - grad[i]) / scale;
        if (err > worst) worst = err;
    }
    return worst;
}

#define CHECK_GRAD(what, v, count, grad, f, ctx) \
    do { \
        double w_ = fd_worst(v, count, grad, f, ctx); \
        CHECK_MSG(w_ <= FD_TOL, "%s: worst relative error %.3g", what, w_); \
        if (getenv("VEIL_TEST_VERBOSE")) printf("%-40s worst %.3g\n", what, w_); \
    } while (0)

/* ---------------- convolution ---------------- */
typedef struct {
    int n, cin, h, w, cout, k;
    double *x, *wt, *b, *r, *y;
} conv_ctx;

static double conv_loss(void *p)
{
    conv_ctx *c = p;
    ref_conv2d_forward(c->x, c->n, c->cin, c->h, c->w, c->wt, c->b, c->cout, c->k, c->y);
    return dot(c->y, c->r, (size_t)c->n * c->cout * c->h * c->w);
}

static void test_conv_grad(int n, int cin, int h, int w, int cout, int k)
{
    conv_ctx c = {n, cin, h, w, cout, k, NULL, NULL, NULL, NULL, NULL};
    size_t nx = (size_t)n * cin * h * w, ny = (size_t)n * cout * h * w,
           nw = (size_t)cout * cin * k * k;
    c.x = randv(nx, 1), c.wt = randv(nw, 0.5), c.b = randv(cout, 0.5), c.r = randv(ny, 1);
    c.y = randv(ny, 0);
    double *dx = randv(nx, 9), *dw = randv(nw, 9), *db = randv(cout, 9);
    ref_conv2d_backward(c.x, n, cin, h, w, c.wt, cout, k, c.r, dx, dw, db);
    char what[96];
    snprintf(what, sizeof what, "conv k=%d %dx%d cin %d cout %d", k, h, w, cin, cout);
    CHECK_GRAD(what, c.x, nx, dx, conv_loss, &c);
    CHECK_GRAD(what, c.wt, nw, dw, conv_loss, &c);
    CHECK_GRAD(what, c.b, (size_t)cout, db, conv_loss, &c);
    /* NULL outputs are allowed and leave the others alone */
    double *dw2 = randv(nw, 0);
    ref_conv2d_backward(c.x, n, cin, h, w, c.wt, cout, k, c.r, NULL, dw2, NULL);
    CHECK(memcmp(dw, dw2, sizeof(double) * nw) == 0);
    free(c.x), free(c.wt), free(c.b), free(c.r), free(c.y), free(dx), free(dw), free(db), free(dw2);
}

static void test_conv_hand(void)
{
    /* a delta at (r, s) of a 6x6 map: y(i, j) = w(r - i + pad, s - j + pad) */
    for (int k = 2; k <= 5; k++) {
        int h = 6, r = 2, s = 3, pad = (k - 1) / 2;
        double x[36] = {0}, y[36], wt[25];
        x[r * h + s] = 1;
        for (int i = 0; i < k * k; i++) wt[i] = i + 1;
        double bias = 0.25;
        ref_conv2d_forward(x, 1, 1, h, h, wt, &bias, 1, k, y);
        int ok = 1;
        for (int i = 0; i < h; i++)
            for (int j = 0; j < h; j++) {
                int ki = r - i + pad, kj = s - j + pad;
                double want = bias + ((ki >= 0 && ki < k && kj >= 0 && kj < k) ? wt[ki * k + kj] : 0);
                ok &= y[i * h + j] == want;
            }
        CHECK_MSG(ok, "conv of a delta, k=%d", k);
    }
    /* even kernel pads right/bottom only: a 2x2 all-ones kernel on a 2x2 map */
    double x[4] = {1, 2, 3, 4}, wt[4] = {1, 1, 1, 1}, y[4];
    ref_conv2d_forward(x, 1, 1, 2, 2, wt, NULL, 1, 2, y);
    CHECK(y[0] == 10 && y[1] == 6 && y[2] == 7 && y[3] == 4);
    /* 3x3 kernel, zero padding on all sides: corner sees a 2x2 window */
    double x3[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9}, w3[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1}, y3[9];
    ref_conv2d_forward(x3, 1, 1, 3, 3, w3, NULL, 1, 3, y3);
    CHECK(y3[0] == 12 && y3[4] == 45 && y3[8] == 28);
}

/* ---------------- ReLU, max-pool, dropout, linear ---------------- */
typedef struct {
    size_t count;
    double *x, *r, *y;
} ew_ctx;

static double relu_loss(void *p)
{
    ew_ctx *c = p;
    ref_relu_forward(c->x, c->count, c->y);
    return dot(c->y, c->r, c->count);
}

static void test_relu(void)
{
    ew_ctx c = {50, randv(50, 1), randv(50, 1), randv(50, 0)};
    for (size_t i = 0; i < c.count; i++) /* keep away from the kink */
        if (fabs(c.x[i]) < 1e-2) c.x[i] = 0.1;
    double *dx = randv(50, 9);
    ref_relu_backward(c.x, c.r, c.count, dx);
    CHECK_GRAD("relu", c.x, c.count, dx, relu_loss, &c);
    double x[3] = {-1, 0, 2}, y[3];
    ref_relu_forward(x, 3, y);
    CHECK(y[0] == 0 && y[1] == 0 && y[2] == 2);
    free(c.x), free(c.r), free(c.y), free(dx);
}

typedef struct {
    int n, c, h, w;
    double *x, *r, *y;
} pool_ctx;

static double pool_loss(void *p)
{
    pool_ctx *c = p;
    ref_maxpool2_forward(c->x, c->n, c->c, c->h, c->w, c->y);
    return dot(c->y, c->r, (size_t)c->n * c->c * (c->h / 2) * (c->w / 2));
}

static void test_maxpool(void)
{
    pool_ctx c = {2, 3, 4, 6, NULL, NULL, NULL};
    size_t nx = 2 * 3 * 4 * 6, ny = nx / 4;
    c.x = randv(nx, 1), c.r = randv(ny, 1), c.y = randv(ny, 0);
    double *dx = randv(nx, 9);
    ref_maxpool2_backward(c.x, c.n, c.c, c.h, c.w, c.r, dx);
    CHECK_GRAD("maxpool", c.x, nx, dx, pool_loss, &c);
    /* by hand: ties go to the first maximum in row-major order */
    double x[16] = {1, 5, 0, 0, 5, 2, 0, -1, 3, 3, 7, 1, 3, 3, 2, 7}, y[4], dy[4] = {1, 2, 3, 4},
           g[16];
    ref_maxpool2_forward(x, 1, 1, 4, 4, y);
    CHECK(y[0] == 5 && y[1] == 0 && y[2] == 3 && y[3] == 7);
    ref_maxpool2_backward(x, 1, 1, 4, 4, dy, g);
    double want[16] = {0, 1, 2, 0, 0, 0, 0, 0, 3, 0, 4, 0, 0, 0, 0, 0};
    CHECK(memcmp(g, want, sizeof want) == 0);
    free(c.x), free(c.r), free(c.y), free(dx);
}

typedef struct {
    size_t count;
    double p;
    unsigned char *mask;
    double *x, *r, *y;
} drop_ctx;

static double drop_loss(void *p)
{
    drop_ctx *c = p;
    ref_dropout_forward(c->x, c->mask, c->count, c->p, c->y);
    return dot(c->y, c->r, c->count);
}

static void test_dropout(void)
{
    drop_ctx c = {40, 0.5, veil_malloc(40), randv(40, 1), randv(40, 1), randv(40, 0)};
    for (int i = 0; i < 40; i++) c.mask[i] = veil_rng_uniform(&rng) < 0.5;
    double *dx = randv(40, 9);
    ref_dropout_backward(c.r, c.mask, c.count, c.p, dx);
    CHECK_GRAD("dropout", c.x, c.count, dx, drop_loss, &c);
    drop_loss(&c);
    int ok = 1;
    for (int i = 0; i < 40; i++) ok &= c.y[i] == (c.mask[i] ? 2 * c.x[i] : 0);
    CHECK_MSG(ok, "dropout p=0.5 doubles kept values, zeroes the rest");
    free(c.mask), free(c.x), free(c.r), free(c.y), free(dx);
}

/* J = <r, y> for the pointwise map: the linear layer (hw = 1) and the log-variance layer */
typedef struct {
    int n, in, out, hw;
    double *x, *wt, *b, *r, *y;
} pw_ctx;

static double pw_loss(void *p)
{
    pw_ctx *c = p;
    ref_pointwise_forward(c->x, c->n, c->in, c->hw, c->wt, c->b, c->out, c->y);
    return dot(c->y, c->r, (size_t)c->n * c->out * c->hw);
}

static void test_linear(void)
{
    pw_ctx c = {3, 4, 5, 1, randv(12, 1), randv(20, 1), randv(5, 1), randv(15, 1), randv(15, 0)};
    double *dx = randv(12, 9), *dw = randv(20, 9), *db = randv(5, 9);
    ref_linear_backward(c.x, c.n, c.in, c.wt, c.out, c.r, dx, dw, db);
    CHECK_GRAD("linear dx", c.x, 12, dx, pw_loss, &c);
    CHECK_GRAD("linear dW", c.wt, 20, dw, pw_loss, &c);
    CHECK_GRAD("linear db", c.b, 5, db, pw_loss, &c);
    double x[2] = {1, 2}, w[4] = {1, 2, 3, 4}, b[2] = {10, 20}, y[2];
    ref_linear_forward(x, 1, 2, w, b, 2, y);
    CHECK(y[0] == 15 && y[1] == 31);
    free(c.x), free(c.wt), free(c.b), free(c.r), free(c.y), free(dx), free(dw), free(db);
}

/* ---------------- batch normalisation ---------------- */
typedef struct {
    int n, c, hw;
    double *x, *gamma, *beta, *r, *y, *mean, *var;
} bn_ctx;

static double bn_loss(void *p)
{
    bn_ctx *c = p;
    ref_batchnorm_forward_train(c->x, c->n, c->c, c->hw, c->gamma, c->beta, VEIL_BN_EPS, c->y,
                                c->mean, c->var);
    return dot(c->y, c->r, (size_t)c->n * c->c * c->hw);
}

static void test_batchnorm(void)
{
    bn_ctx c = {3, 2, 5, NULL, NULL, NULL, NULL, NULL, NULL, NULL};
    size_t nx = 30;
    c.x = randv(nx, 2), c.gamma = randv(2, 1), c.beta = randv(2, 1), c.r = randv(nx, 1);
    c.y = randv(nx, 0), c.mean = randv(2, 0), c.var = randv(2, 0);
    bn_loss(&c);
    double *dx = randv(nx, 9), *dg = randv(2, 9), *dbeta = randv(2, 9);
    ref_batchnorm_backward(c.x, c.n, c.c, c.hw, c.gamma, c.mean, c.var, VEIL_BN_EPS, c.r, dx, dg,
                           dbeta);
    CHECK_GRAD("batchnorm dx", c.x, nx, dx, bn_loss, &c);
    CHECK_GRAD("batchnorm dgamma", c.gamma, 2, dg, bn_loss, &c);
    CHECK_GRAD("batchnorm dbeta", c.beta, 2, dbeta, bn_loss, &c);

    /* gamma 1, beta 0: each channel comes out with mean 0 and variance v / (v + eps) */
    double one[2] = {1, 1}, zero[2] = {0, 0};
    ref_batchnorm_forward_train(c.x, c.n, c.c, c.hw, one, zero, VEIL_BN_EPS, c.y, c.mean, c.var);
    for (int ch = 0; ch < 2; ch++) {
        double s = 0, s2 = 0;
        for (int b = 0; b < c.n; b++)
            for (int i = 0; i < c.hw; i++) {
                double v = c.y[(b * 2 + ch) * c.hw + i];
                s += v;
                s2 += v * v;
            }
        CHECK_NEAR(s / 15, 0, 1e-12);
        CHECK_NEAR(s2 / 15, c.var[ch] / (c.var[ch] + VEIL_BN_EPS), 1e-12);
    }
    /* by hand: values 1, 3 -> mean 2, biased variance 1 */
    double x2[2] = {1, 3}, y2[2], m, v, g = 2, be = 0.5;
    ref_batchnorm_forward_train(x2, 2, 1, 1, &g, &be, 0.0, y2, &m, &v);
    CHECK(m == 2 && v == 1 && y2[0] == -1.5 && y2[1] == 2.5);
    double rm = 1, rv = 4;
    ref_batchnorm_forward_eval(x2, 2, 1, 1, &g, &be, &rm, &rv, 0.0, y2);
    CHECK(y2[0] == 0.5 && y2[1] == 2.5);
    free(c.x), free(c.gamma), free(c.beta), free(c.r), free(c.y), free(c.mean), free(c.var);
    free(dx), free(dg), free(dbeta);
}

/* ---------------- losses ---------------- */
typedef struct {
    int n, classes;
    double *logits;
    int *labels;
    double *z1, *z2, margin;
    int *y;
    int dim;
} loss_ctx;

static double xent_loss(void *p)
{
    loss_ctx *c = p;
    return ref_softmax_xent(c->logits, c->labels, c->n, c->classes, NULL);
}

static double contr_loss(void *p)
{
    loss_ctx *c = p;
    return ref_contrastive(c->z1, c->z2, c->y, c->n, c->dim, c->margin, NULL, NULL);
}

static void test_losses(void)
{
    loss_ctx c = {0};
    c.n = 4, c.classes = 3, c.logits = randv(12, 3);
    int labels[4] = {0, 2, 1, 2};
    c.labels = labels;
    double *dl = randv(12, 9);
    ref_softmax_xent(c.logits, labels, 4, 3, dl);
    CHECK_GRAD("softmax xent", c.logits, 12, dl, xent_loss, &c);
    double eq[6] = {7, 7, 7, 1000, 0, -1000};
    int l2[2] = {1, 0};
    double d2[6];
    /* equal logits: log C; huge logits: no overflow, loss ~0 for the right class */
    CHECK_NEAR(ref_softmax_xent(eq, l2, 2, 3, d2), log(3.0) / 2, 1e-12);
    CHECK_NEAR(d2[0], 1.0 / 6, 1e-12);
    CHECK_NEAR(d2[1], (1.0 / 3 - 1) / 2, 1e-12);
    CHECK(d2[3] == 0 && d2[4] == 0 && d2[5] == 0);

    /* contrastive, margin 1: pairs placed at chosen distances along random directions */
    double dists[] = {1e-3, 0.3, 0.97, 0.999, 1.001, 1.03, 1.5, 1e-3, 0.5, 1.2};
    int ys[] = {1, 1, 1, 1, 1, 1, 1, 0, 0, 0};
    int np = (int)(sizeof dists / sizeof dists[0]), dim = 5;
    c.n = np, c.dim = dim, c.margin = 1.0, c.y = ys;
    c.z1 = randv((size_t)np * dim, 1), c.z2 = randv((size_t)np * dim, 0);
    for (int b = 0; b < np; b++) {
        double dir[5], nrm = 0;
        for (int i = 0; i < dim; i++) dir[i] = veil_rng_normal(&rng), nrm += dir[i] * dir[i];
        for (int i = 0; i < dim; i++) c.z2[b * dim + i] = c.z1[b * dim + i] + dists[b] * dir[i] / sqrt(nrm);
    }
    double *dz1 = randv((size_t)np * dim, 9), *dz2 = randv((size_t)np * dim, 9);
    double loss = ref_contrastive(c.z1, c.z2, ys, np, dim, 1.0, dz1, dz2);
    double want = 0;
    for (int b = 0; b < np; b++)
        want += ys[b] ? pow(fmax(0, 1 - dists[b]), 2) : dists[b] * dists[b];
    CHECK_NEAR(loss, want / np, 1e-12);
    /* d = 1e-3 curves the loss at scale 1/d: a smaller step keeps truncation low */
    fd_h = 1e-7;
    CHECK_GRAD("contrastive dz1", c.z1, (size_t)np * dim, dz1, contr_loss, &c);
    CHECK_GRAD("contrastive dz2", c.z2, (size_t)np * dim, dz2, contr_loss, &c);
    fd_h = 1e-6;
    int opposite = 1;
    for (int i = 0; i < np * dim; i++) opposite &= dz1[i] == -dz2[i];
    CHECK(opposite);
    /* exactly d = 0: loss m^2 (dissimilar) or 0 (similar), gradient 0 by definition */
    double za[2] = {0.5, -0.25}, g1[2], g2[2];
    int one = 1, zero = 0;
    CHECK(ref_contrastive(za, za, &one, 1, 2, 1.0, g1, g2) == 1.0);
    CHECK(g1[0] == 0 && g1[1] == 0 && g2[0] == 0 && g2[1] == 0);
    CHECK(ref_contrastive(za, za, &zero, 1, 2, 1.0, g1, g2) == 0.0);
    free(c.logits), free(dl), free(c.z1), free(c.z2), free(dz1), free(dz2);
}

/* ---------------- variational information ---------------- */
static void test_logvar(void)
{
    pw_ctx c = {3, 4, 4, 5, NULL, NULL, NULL, NULL, NULL};
    size_t nm = 60, nw = 16;
    c.x = randv(nm, 1), c.wt = randv(nw, 0.5), c.b = randv(4, 1), c.r = randv(nm, 1), c.y = randv(nm, 0);
    double *dmu = randv(nm, 9), *dw = randv(nw, 9), *db = randv(4, 9);
    ref_logvar_backward(c.x, c.n, c.in, c.hw, c.wt, c.r, dmu, dw, db);
    CHECK_GRAD("logvar dmu", c.x, nm, dmu, pw_loss, &c);
    CHECK_GRAD("logvar dW", c.wt, nw, dw, pw_loss, &c);
    CHECK_GRAD("logvar db", c.b, 4, db, pw_loss, &c);
    /* it is a 1x1 convolution: the same values as the reference conv with k = 1 */
    double *yc = randv(nm, 0);
    ref_logvar_forward(c.x, c.n, c.in, c.hw, c.wt, c.b, c.y);
    ref_conv2d_forward(c.x, c.n, c.in, 1, c.hw, c.wt, c.b, c.out, 1, yc);
    double worst = 0;
    for (size_t i = 0; i < nm; i++) worst = fmax(worst, fabs(yc[i] - c.y[i]));
    CHECK_MSG(worst < 1e-12, "logvar vs 1x1 conv: %.3g", worst);
    /* the checker notices a wrong gradient */
    dw[5] *= 1.001;
    CHECK(fd_worst(c.wt, nw, dw, pw_loss, &c) > FD_TOL);
    free(c.x), free(c.wt), free(c.b), free(c.r), free(c.y), free(dmu), free(dw), free(db), free(yc);
}

/* J(mu, logvar) = <r, z(mu, logvar; eps)> + beta KL(mu, logvar), the noise eps fixed */
typedef struct {
    int n, dim;
    double beta, *mu, *lv, *eps, *r, *z;
} vib_ctx;

static double vib_loss(void *p)
{
    vib_ctx *c = p;
    size_t count = (size_t)c->n * c->dim;
    ref_reparam_forward(c->mu, c->lv, c->eps, count, c->z);
    return dot(c->z, c->r, count) + c->beta * ref_kl_normal(c->mu, c->lv, c->n, c->dim, NULL, NULL);
}

static double kl_only(void *p)
{
    vib_ctx *c = p;
    return ref_kl_normal(c->mu, c->lv, c->n, c->dim, NULL, NULL);
}

static void test_kl_reparam(void)
{
    vib_ctx c = {4, 6, 0.7, NULL, NULL, NULL, NULL, NULL};
    size_t count = 24;
    c.mu = randv(count, 1.5), c.lv = randv(count, 2), c.r = randv(count, 1), c.z = randv(count, 0);
    c.eps = randv(count, 0);
    for (size_t i = 0; i < count; i++) c.eps[i] = veil_rng_normal(&rng);
    /* the KL term alone */
    double *dmu = randv(count, 9), *dlv = randv(count, 9);
    ref_kl_normal(c.mu, c.lv, c.n, c.dim, dmu, dlv);
    CHECK_GRAD("KL dmu", c.mu, count, dmu, kl_only, &c);
    CHECK_GRAD("KL dlogvar", c.lv, count, dlv, kl_only, &c);
    /* reparameterisation + beta KL: the gradients the trainer composes */
    double *gmu = randv(count, 9), *glv = randv(count, 9), *kmu = randv(count, 0), *klv = randv(count, 0);
    ref_reparam_backward(c.r, c.lv, c.eps, count, gmu, glv);
    ref_kl_normal(c.mu, c.lv, c.n, c.dim, kmu, klv);
    for (size_t i = 0; i < count; i++) gmu[i] += c.beta * kmu[i], glv[i] += c.beta * klv[i];
    CHECK_GRAD("reparam + beta KL: dmu", c.mu, count, gmu, vib_loss, &c);
    CHECK_GRAD("reparam + beta KL: dlogvar", c.lv, count, glv, vib_loss, &c);
    glv[7] *= 1.001;
    CHECK(fd_worst(c.lv, count, glv, vib_loss, &c) > FD_TOL);
    /* by hand: N(0, 1) has KL 0; mu = 1 adds 1/2; variance 2 adds (2 - ln 2 - 1)/2 */
    double m0[2] = {0, 0}, l0[2] = {0, 0}, m1[2] = {1, 0}, l1[2] = {0, log(2.0)};
    CHECK(ref_kl_normal(m0, l0, 1, 2, NULL, NULL) == 0.0);
    CHECK_NEAR(ref_kl_normal(m1, l0, 1, 2, NULL, NULL), 0.5, 1e-15);
    CHECK_NEAR(ref_kl_normal(m0, l1, 1, 2, NULL, NULL), 0.5 * (1 - log(2.0)), 1e-15);
    CHECK_NEAR(ref_kl_normal(m1, l1, 2, 1, NULL, NULL), (0.5 + 0.5 * (1 - log(2.0))) / 2, 1e-15);
    /* z by hand: mu 1, logvar ln 4 (sigma 2), eps -0.5 -> 0 */
    double zm = 1, zl = log(4.0), ze = -0.5, zz;
    ref_reparam_forward(&zm, &zl, &ze, 1, &zz);
    CHECK_NEAR(zz, 0.0, 1e-15);
    free(c.mu), free(c.lv), free(c.eps), free(c.r), free(c.z);
    free(dmu), free(dlv), free(gmu), free(glv), free(kmu), free(klv);
}

/* ---------------- whole small networks ---------------- */
#define NG 2
#define NC 3
typedef struct {
    int n, h0, filt[NG], kern[NG], dim;
    double *x;
    double *gamma[NG], *beta[NG], *w[NG][NC], *b[NG][NC];
    size_t wsize[NG][NC];
    int cin[NG][NC], chan_in[NG];
    /* caches of the last forward */
    double *in[NG + 1], *bnout[NG], *mean[NG], *var[NG], *pre[NG][NC], *post[NG][NC];
    /* loss: 0 contrastive on (first half, second half), 1 head + xent, 2 variational:
     * log-variance layer on z, sample with fixed noise, head + xent + beta KL */
    int mode;
    int *y;
    double margin;
    int hidden, classes, *labels;
    double p;
    unsigned char *mask;
    double *w1, *b1, *w2, *b2, *hpre, *hpost, *hdrop, *logits;
    double *lvw, *lvb, *lv, *eps, *zs, kl_beta;
} net;

static int side(const net *t, int g) { return t->h0 >> g; }

static void net_init(net *t, int mode)
{
    memset(t, 0, sizeof *t);
    t->n = 4, t->h0 = 8, t->mode = mode;
    t->filt[0] = 4, t->filt[1] = 6, t->kern[0] = 3, t->kern[1] = 2;
    t->x = randv((size_t)t->n * t->h0 * t->h0, 1);
    t->in[0] = t->x;
    for (int g = 0; g < NG; g++) {
        int c = g ? t->filt[g - 1] : 1, hh = side(t, g), f = t->filt[g], k = t->kern[g];
        size_t map = (size_t)t->n * hh * hh;
        t->chan_in[g] = c;
        t->gamma[g] = randv(c, 0.5), t->beta[g] = randv(c, 0.5);
        for (int i = 0; i < c; i++) t->gamma[g][i] += 1.0;
        t->bnout[g] = randv(map * c, 0), t->mean[g] = randv(c, 0), t->var[g] = randv(c, 0);
        for (int j = 0; j < NC; j++) {
            t->cin[g][j] = j ? f : c;
            t->wsize[g][j] = (size_t)f * t->cin[g][j] * k * k;
            t->w[g][j] = randv(t->wsize[g][j], 1.0 / sqrt(t->cin[g][j] * k * k));
            t->b[g][j] = randv(f, 0.1);
            t->pre[g][j] = randv(map * f, 0), t->post[g][j] = randv(map * f, 0);
        }
        t->in[g + 1] = randv(map * f / 4, 0);
    }
    t->dim = t->filt[NG - 1] * side(t, NG) * side(t, NG);
    static int ys[2] = {1, 0};
    t->y = ys;
    t->margin = 1.0;
    t->hidden = 8, t->classes = 3, t->p = 0.5;
    static int labels[4] = {2, 0, 1, 1};
    t->labels = labels;
    t->w1 = randv((size_t)t->hidden * t->dim, 0.3), t->b1 = randv(t->hidden, 0.3);
    t->w2 = randv((size_t)t->classes * t->hidden, 0.5), t->b2 = randv(t->classes, 0.3);
    size_t nh = (size_t)t->n * t->hidden;
    t->mask = veil_malloc(nh);
    for (size_t i = 0; i < nh; i++) t->mask[i] = veil_rng_uniform(&rng) < 0.5;
    t->hpre = randv(nh, 0), t->hpost = randv(nh, 0), t->hdrop = randv(nh, 0);
    t->logits = randv((size_t)t->n * t->classes, 0);
    int ch = t->filt[NG - 1];
    size_t nz = (size_t)t->n * t->dim;
    t->lvw = randv((size_t)ch * ch, 0.5), t->lvb = randv(ch, 0.5);
    for (int i = 0; i < ch; i++) t->lvb[i] -= 1.0;
    t->lv = randv(nz, 0), t->zs = randv(nz, 0), t->eps = randv(nz, 0);
    for (size_t i = 0; i < nz; i++) t->eps[i] = veil_rng_normal(&rng);
    t->kl_beta = 0.3;
}

static void net_free(net *t)
{
    free(t->x);
    for (int g = 0; g < NG; g++) {
        free(t->gamma[g]), free(t->beta[g]), free(t->bnout[g]), free(t->mean[g]), free(t->var[g]);
        for (int j = 0; j < NC; j++) free(t->w[g][j]), free(t->b[g][j]), free(t->pre[g][j]), free(t->post[g][j]);
        free(t->in[g + 1]);
    }
    free(t->w1), free(t->b1), free(t->w2), free(t->b2), free(t->mask);
    free(t->hpre), free(t->hpost), free(t->hdrop), free(t->logits);
    free(t->lvw), free(t->lvb), free(t->lv), free(t->zs), free(t->eps);
}

static double net_loss(void *p)
{
    net *t = p;
    for (int g = 0; g < NG; g++) {
        int c = t->chan_in[g], hh = side(t, g), f = t->filt[g];
        ref_batchnorm_forward_train(t->in[g], t->n, c, hh * hh, t->gamma[g], t->beta[g],
                                    VEIL_BN_EPS, t->bnout[g], t->mean[g], t->var[g]);
        const double *cur = t->bnout[g];
        for (int j = 0; j < NC; j++) {
            ref_conv2d_forward(cur, t->n, t->cin[g][j], hh, hh, t->w[g][j], t->b[g][j], f,
                               t->kern[g], t->pre[g][j]);
            ref_relu_forward(t->pre[g][j], (size_t)t->n * f * hh * hh, t->post[g][j]);
            cur = t->post[g][j];
        }
        ref_maxpool2_forward(cur, t->n, f, hh, hh, t->in[g + 1]);
    }
    const double *z = t->in[NG];
    int half = t->n / 2;
    if (t->mode == 0)
        return ref_contrastive(z, z + (size_t)half * t->dim, t->y, half, t->dim, t->margin, NULL, NULL);
    size_t nh = (size_t)t->n * t->hidden;
    double kl = 0;
    if (t->mode == 2) {
        int ch = t->filt[NG - 1], hw = side(t, NG) * side(t, NG);
        ref_logvar_forward(z, t->n, ch, hw, t->lvw, t->lvb, t->lv);
        ref_reparam_forward(z, t->lv, t->eps, (size_t)t->n * t->dim, t->zs);
        kl = ref_kl_normal(z, t->lv, t->n, t->dim, NULL, NULL);
        z = t->zs;
    }
    ref_linear_forward(z, t->n, t->dim, t->w1, t->b1, t->hidden, t->hpre);
    ref_relu_forward(t->hpre, nh, t->hpost);
    ref_dropout_forward(t->hpost, t->mask, nh, t->p, t->hdrop);
    ref_linear_forward(t->hdrop, t->n, t->hidden, t->w2, t->b2, t->classes, t->logits);
    return ref_softmax_xent(t->logits, t->labels, t->n, t->classes, NULL) + t->kl_beta * kl;
}

typedef struct {
    double *dx, *dgamma[NG], *dbeta[NG], *dw[NG][NC], *db[NG][NC];
    double *dw1, *db1, *dw2, *db2;
    double *dlvw, *dlvb;
} net_grads;

/* Backward through the caches of the last net_loss(), composed from the ref layers. */
static void net_backward(net *t, net_grads *gr)
{
    int half = t->n / 2;
    size_t nz = (size_t)t->n * t->dim;
    double *dcur = randv(nz, 0);
    if (t->mode == 0) {
        ref_contrastive(t->in[NG], t->in[NG] + (size_t)half * t->dim, t->y, half, t->dim, t->margin, dcur,
                        dcur + (size_t)half * t->dim);
    } else {
        size_t nh = (size_t)t->n * t->hidden;
        double *dlog = randv((size_t)t->n * t->classes, 0), *dh = randv(nh, 0);
        ref_softmax_xent(t->logits, t->labels, t->n, t->classes, dlog);
        gr->dw2 = randv((size_t)t->classes * t->hidden, 0), gr->db2 = randv(t->classes, 0);
        gr->dw1 = randv((size_t)t->hidden * t->dim, 0), gr->db1 = randv(t->hidden, 0);
        ref_linear_backward(t->hdrop, t->n, t->hidden, t->w2, t->classes, dlog, dh, gr->dw2, gr->db2);
        ref_dropout_backward(dh, t->mask, nh, t->p, dh);
        ref_relu_backward(t->hpre, dh, nh, dh);
        const double *hin = t->mode == 2 ? t->zs : t->in[NG];
        ref_linear_backward(hin, t->n, t->dim, t->w1, t->hidden, dh, dcur, gr->dw1, gr->db1);
        free(dlog), free(dh);
        if (t->mode == 2) {
            /* dcur is dL/dz: through the sample to mu and logvar, plus beta KL, then the
             * log-variance layer's input gradient joins mu's */
            int ch = t->filt[NG - 1], hw = side(t, NG) * side(t, NG);
            double *dlv = randv(nz, 0), *kmu = randv(nz, 0), *klv = randv(nz, 0), *dmu2 = randv(nz, 0);
            ref_reparam_backward(dcur, t->lv, t->eps, nz, dcur, dlv);
            ref_kl_normal(t->in[NG], t->lv, t->n, t->dim, kmu, klv);
            for (size_t i = 0; i < nz; i++) dlv[i] += t->kl_beta * klv[i], dcur[i] += t->kl_beta * kmu[i];
            gr->dlvw = randv((size_t)ch * ch, 0), gr->dlvb = randv(ch, 0);
            ref_logvar_backward(t->in[NG], t->n, ch, hw, t->lvw, dlv, dmu2, gr->dlvw, gr->dlvb);
            for (size_t i = 0; i < nz; i++) dcur[i] += dmu2[i];
            free(dlv), free(kmu), free(klv), free(dmu2);
        }
    }
    for (int g = NG - 1; g >= 0; g--) {
        int c = t->chan_in[g], hh = side(t, g), f = t->filt[g];
        size_t map = (size_t)t->n * hh * hh;
        double *d = randv(map * f, 0);
        ref_maxpool2_backward(t->post[g][NC - 1], t->n, f, hh, hh, dcur, d);
        free(dcur);
        for (int j = NC - 1; j >= 0; j--) {
            ref_relu_backward(t->pre[g][j], d, map * f, d);
            const double *xin = j ? t->post[g][j - 1] : t->bnout[g];
            double *dxin = randv(map * t->cin[g][j], 0);
            gr->dw[g][j] = randv(t->wsize[g][j], 0), gr->db[g][j] = randv(f, 0);
            ref_conv2d_backward(xin, t->n, t->cin[g][j], hh, hh, t->w[g][j], f, t->kern[g], d, dxin,
                                gr->dw[g][j], gr->db[g][j]);
            free(d);
            d = dxin;
        }
        double *din = randv(map * c, 0);
        gr->dgamma[g] = randv(c, 0), gr->dbeta[g] = randv(c, 0);
        ref_batchnorm_backward(t->in[g], t->n, c, hh * hh, t->gamma[g], t->mean[g], t->var[g],
                               VEIL_BN_EPS, d, din, gr->dgamma[g], gr->dbeta[g]);
        free(d);
        dcur = din;
    }
    gr->dx = dcur;
}

static void net_grads_free(net_grads *gr)
{
    free(gr->dx), free(gr->dw1), free(gr->db1), free(gr->dw2), free(gr->db2);
    free(gr->dlvw), free(gr->dlvb);
    for (int g = 0; g < NG; g++) {
        free(gr->dgamma[g]), free(gr->dbeta[g]);
        for (int j = 0; j < NC; j++) free(gr->dw[g][j]), free(gr->db[g][j]);
    }
}

static void check_net(int mode)
{
    net t;
    net_init(&t, mode);
    double loss = net_loss(&t);
    CHECK(isfinite(loss) && loss > 0);
    if (mode == 0) {
        /* put the dissimilar pair (sample 0 vs 2) inside the margin so its term is active */
        double d2 = 0;
        for (int i = 0; i < t.dim; i++) d2 += pow(t.in[NG][i] - t.in[NG][2 * t.dim + i], 2);
        CHECK(d2 > 0);
        t.margin = 1.5 * sqrt(d2);
        net_loss(&t);
    }
    net_grads gr = {0};
    net_backward(&t, &gr);
    const char *m = mode == 2 ? "extractor+logvar+sample+head+xent+KL"
                    : mode ? "extractor+head+xent" : "extractor+contrastive";
    char what[128];
    snprintf(what, sizeof what, "%s: input", m);
    CHECK_GRAD(what, t.x, (size_t)t.n * t.h0 * t.h0, gr.dx, net_loss, &t);
    for (int g = 0; g < NG; g++) {
        snprintf(what, sizeof what, "%s: g%d bn", m, g + 1);
        CHECK_GRAD(what, t.gamma[g], (size_t)t.chan_in[g], gr.dgamma[g], net_loss, &t);
        CHECK_GRAD(what, t.beta[g], (size_t)t.chan_in[g], gr.dbeta[g], net_loss, &t);
        for (int j = 0; j < NC; j++) {
            snprintf(what, sizeof what, "%s: g%d conv%d", m, g + 1, j + 1);
            CHECK_GRAD(what, t.w[g][j], t.wsize[g][j], gr.dw[g][j], net_loss, &t);
            CHECK_GRAD(what, t.b[g][j], (size_t)t.filt[g], gr.db[g][j], net_loss, &t);
        }
    }
    if (mode == 2) {
        int ch = t.filt[NG - 1];
        CHECK_GRAD("variational: logvar weight", t.lvw, (size_t)ch * ch, gr.dlvw, net_loss, &t);
        CHECK_GRAD("variational: logvar bias", t.lvb, (size_t)ch, gr.dlvb, net_loss, &t);
        /* the same net without the KL term or the noise gives other gradients: both count */
        double beta = t.kl_beta;
        t.kl_beta = 0;
        CHECK(fd_worst(t.lvb, (size_t)ch, gr.dlvb, net_loss, &t) > FD_TOL);
        t.kl_beta = beta;
    }
    if (mode >= 1) {
        CHECK_GRAD("head fc1.weight", t.w1, (size_t)t.hidden * t.dim, gr.dw1, net_loss, &t);
        CHECK_GRAD("head fc1.bias", t.b1, (size_t)t.hidden, gr.db1, net_loss, &t);
        CHECK_GRAD("head fc2.weight", t.w2, (size_t)t.classes * t.hidden, gr.dw2, net_loss, &t);
        CHECK_GRAD("head fc2.bias", t.b2, (size_t)t.classes, gr.db2, net_loss, &t);
    }
    /* the checker itself must notice a wrong gradient */
    gr.dw[0][0][3] *= 1.001;
    CHECK(fd_worst(t.w[0][0], t.wsize[0][0], gr.dw[0][0], net_loss, &t) > FD_TOL);
    net_grads_free(&gr);
    net_free(&t);
}

/* ref_extractor_forward/ref_head_forward against the composition above, with the
 * parameters laid out as veil_extractor_params()/veil_head_params() give them. */
static void fill_param(veil_param *p, const char *name, int ndim, const int64_t *shape, double *v)
{
    memset(p, 0, sizeof *p);
    snprintf(p->name, sizeof p->name, "%s", name);
    p->ndim = ndim;
    p->size = 1;
    for (int i = 0; i < ndim; i++) p->shape[i] = shape[i], p->size *= (size_t)shape[i];
    p->data = veil_malloc(sizeof(float) * p->size);
    for (size_t i = 0; i < p->size; i++) {
        p->data[i] = (float)v[i];
        v[i] = p->data[i]; /* both sides use the same (float) values */
    }
}

static void test_whole_forward(void)
{
    net t;
    net_init(&t, 1);
    veil_extractor_config c = {0};
    c.groups = NG, c.in_h = c.in_w = t.h0, c.convs_per_group = NC;
    veil_param ps[NG * (4 + 2 * NC)];
    int np = 0;
    double *rm[NG], *rv[NG];
    for (int g = 0; g < NG; g++) {
        c.filters[g] = t.filt[g], c.kernels[g] = t.kern[g];
        int64_t sc[1] = {t.chan_in[g]};
        char name[64];
        rm[g] = randv(sc[0], 0.3), rv[g] = randv(sc[0], 0.3);
        for (int i = 0; i < sc[0]; i++) rv[g][i] += 1.0;
        snprintf(name, sizeof name, "f.g%d.bn.weight", g + 1);
        fill_param(&ps[np++], name, 1, sc, t.gamma[g]);
        snprintf(name, sizeof name, "f.g%d.bn.bias", g + 1);
        fill_param(&ps[np++], name, 1, sc, t.beta[g]);
        snprintf(name, sizeof name, "f.g%d.bn.running_mean", g + 1);
        fill_param(&ps[np++], name, 1, sc, rm[g]);
        snprintf(name, sizeof name, "f.g%d.bn.running_var", g + 1);
        fill_param(&ps[np++], name, 1, sc, rv[g]);
        for (int j = 0; j < NC; j++) {
            int64_t sw[4] = {t.filt[g], t.cin[g][j], t.kern[g], t.kern[g]}, sb[1] = {t.filt[g]};
            snprintf(name, sizeof name, "f.g%d.conv%d.weight", g + 1, j + 1);
            fill_param(&ps[np++], name, 4, sw, t.w[g][j]);
            snprintf(name, sizeof name, "f.g%d.conv%d.bias", g + 1, j + 1);
            fill_param(&ps[np++], name, 1, sb, t.b[g][j]);
        }
    }
    veil_param hp[4];
    int64_t s1[2] = {t.hidden, t.dim}, s2[1] = {t.hidden}, s3[2] = {t.classes, t.hidden},
            s4[1] = {t.classes};
    fill_param(&hp[0], "head.fc1.weight", 2, s1, t.w1);
    fill_param(&hp[1], "head.fc1.bias", 1, s2, t.b1);
    fill_param(&hp[2], "head.fc2.weight", 2, s3, t.w2);
    fill_param(&hp[3], "head.fc2.bias", 1, s4, t.b2);
    veil_head_config hc = {t.dim, t.hidden, t.classes, (float)t.p};

    net_loss(&t); /* training-mode composition */
    size_t nz = (size_t)t.n * t.dim;
    double *z = randv(nz, 0), *logits = randv((size_t)t.n * t.classes, 0);
    ref_extractor_forward(&c, ps, t.x, t.n, 1, z);
    double worst = 0;
    for (size_t i = 0; i < nz; i++) worst = fmax(worst, fabs(z[i] - t.in[NG][i]));
    CHECK_MSG(worst < 1e-12, "ref_extractor_forward train: max diff %.3g", worst);
    ref_head_forward(&hc, hp, t.in[NG], t.n, t.mask, logits);
    worst = 0;
    for (int i = 0; i < t.n * t.classes; i++) worst = fmax(worst, fabs(logits[i] - t.logits[i]));
    CHECK_MSG(worst < 1e-12, "ref_head_forward: max diff %.3g", worst);

    /* evaluation mode: the running statistics replace the batch ones */
    for (int g = 0; g < NG; g++) {
        memcpy(t.mean[g], rm[g], sizeof(double) * t.chan_in[g]);
        memcpy(t.var[g], rv[g], sizeof(double) * t.chan_in[g]);
    }
    const double *cur = t.x;
    double *bufs[NG * (NC + 2)];
    int nb = 0;
    for (int g = 0; g < NG; g++) {
        int ch = t.chan_in[g], hh = side(&t, g), f = t.filt[g];
        size_t map = (size_t)t.n * hh * hh;
        double *bn = bufs[nb++] = randv(map * ch, 0);
        ref_batchnorm_forward_eval(cur, t.n, ch, hh * hh, t.gamma[g], t.beta[g], rm[g], rv[g],
                                   VEIL_BN_EPS, bn);
        cur = bn;
        for (int j = 0; j < NC; j++) {
            double *y = bufs[nb++] = randv(map * f, 0);
            ref_conv2d_forward(cur, t.n, t.cin[g][j], hh, hh, t.w[g][j], t.b[g][j], f, t.kern[g], y);
            ref_relu_forward(y, map * f, y);
            cur = y;
        }
        double *pooled = bufs[nb++] = randv(map * f / 4, 0);
        ref_maxpool2_forward(cur, t.n, f, hh, hh, pooled);
        cur = pooled;
    }
    ref_extractor_forward(&c, ps, t.x, t.n, 0, z);
    worst = 0;
    for (size_t i = 0; i < nz; i++) worst = fmax(worst, fabs(z[i] - cur[i]));
    CHECK_MSG(worst < 1e-12, "ref_extractor_forward eval: max diff %.3g", worst);
    for (int i = 0; i < nb; i++) free(bufs[i]);
    for (int i = 0; i < np; i++) free(ps[i].data);
    for (int i = 0; i < 4; i++) free(hp[i].data);
    for (int g = 0; g < NG; g++) free(rm[g]), free(rv[g]);
    free(z), free(logits);
    net_free(&t);
}

int main(void)
{
    veil_rng_seed(&rng, 20190915);
    test_conv_hand();
    int shapes[][5] = {/* cin, h, w, cout, k */
                       {1, 6, 6, 3, 5}, {3, 5, 7, 4, 5}, {2, 4, 4, 2, 3}, {3, 6, 5, 4, 3},
                       {1, 4, 4, 3, 2}, {3, 5, 6, 2, 2}, {4, 2, 2, 4, 2}, {2, 3, 3, 2, 5}};
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++)
        test_conv_grad(2, shapes[i][0], shapes[i][1], shapes[i][2], shapes[i][3], shapes[i][4]);
    test_relu();
    test_maxpool();
    test_dropout();
    test_linear();
    test_batchnorm();
    test_losses();
    check_net(0);
    check_net(1);
    test_logvar();
    test_kl_reparam();
    check_net(2);
    test_whole_forward();
    return test_finish("test_nn_ref");
}
