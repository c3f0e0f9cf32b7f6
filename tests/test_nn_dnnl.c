/* nn engine on oneDNN: every layer forward and backward against the double-precision
 * reference (tests/nn_ref.c), the whole extractor and head, determinism, precision.
 * Tolerances: error / max|reference| <= 1e-4 in fp32, 2e-2 in bf16. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nn_layer_test.h"
#include "nn_ref.h"
#include "testutil.h"
#include "veil/common.h"
#include "veil/nn.h"

static veil_rng rng;

static float *rnd(size_t count, double scale)
{
    float *p = veil_malloc(count * sizeof *p);
    for (size_t i = 0; i < count; i++) p[i] = (float)((2 * veil_rng_uniform(&rng) - 1) * scale);
    return p;
}
static double *dbl(const float *p, size_t count)
{
    double *d = veil_malloc((count ? count : 1) * sizeof *d);
    for (size_t i = 0; i < count; i++) d[i] = p[i];
    return d;
}
/* max |a - b| relative to max |b| */
static double relerr(const float *a, const double *b, size_t count)
{
    double e = 0, m = 1e-6;
    size_t at = 0;
    for (size_t i = 0; i < count; i++) {
        double d = fabs(a[i] - b[i]);
        if (!(d <= e)) e = d, at = i; /* NaN counts as error */
        if (fabs(b[i]) > m) m = fabs(b[i]);
    }
    if (e / m > 1e-2 && getenv("DBG")) fprintf(stderr, "  worst [%zu] %g vs %g (max %g)\n", at, a[at], b[at], m);
    return e / m;
}
#define CHECK_REL(a, b, count, tol, what)                                                       \
    do {                                                                                        \
        double e_ = relerr(a, b, count);                                                        \
        CHECK_MSG(e_ <= (tol), "%s: relative error %.3g > %.3g", what, e_, (double)(tol));       \
    } while (0)

static void param(veil_param *p, const char *name, int ndim, int64_t a, int64_t b, int64_t c, int64_t d,
                  double scale)
{
    int64_t shape[4] = {a, b, c, d};
    vd_param_init(p, name, ndim, shape, 0);
    for (size_t i = 0; i < p->size; i++) p->data[i] = (float)((2 * veil_rng_uniform(&rng) - 1) * scale);
}

static void test_conv(veil_precision prec, int n, int cin, int cout, int h, int k, int relu, double tol)
{
    veil_param p[2];
    param(&p[0], "w", 4, cout, cin, k, k, 1.0 / sqrt(cin * k * k));
    param(&p[1], "b", 1, cout, 0, 0, 0, 0.5);
    size_t xs = (size_t)n * cin * h * h, ys = (size_t)n * cout * h * h;
    float *x = rnd(xs, 1), *dy = rnd(ys, 1), *y = veil_malloc(ys * 4), *dx = veil_malloc(xs * 4);
    vd_layer_test t = {relu ? VD_TEST_CONV_RELU : VD_TEST_CONV, prec, n, cin, h, h, 1, p};
    int rc = vd_layer_test_run(&t, x, y, dy, dx);
    CHECK_MSG(rc == 0, "conv run: %s", veil_last_error());
    double *xd = dbl(x, xs), *wd = dbl(p[0].data, p[0].size), *bd = dbl(p[1].data, p[1].size), *dyd = dbl(dy, ys);
    double *yr = veil_malloc(ys * 8), *dxr = veil_malloc(xs * 8), *dwr = veil_malloc(p[0].size * 8),
           *dbr = veil_malloc(p[1].size * 8);
    ref_conv2d_forward(xd, n, cin, h, h, wd, bd, cout, k, yr);
    if (relu) {
        /* the ReLU mask from the engine's output: in bf16 a value near 0 may flip sign */
        double *yd = dbl(y, ys);
        ref_relu_backward(rc == 0 ? yd : yr, dyd, ys, dyd);
        ref_relu_forward(yr, ys, yr);
        free(yd);
    }
    ref_conv2d_backward(xd, n, cin, h, h, wd, cout, k, dyd, dxr, dwr, dbr);
    char what[128];
    snprintf(what, sizeof what, "conv%s %s n%d %d->%d %dx%d k%d", relu ? "+relu" : "", veil_precision_name(prec), n,
             cin, cout, h, h, k);
    if (rc == 0) {
        CHECK_REL(y, yr, ys, tol, what);
        CHECK_REL(dx, dxr, xs, tol, what);
        CHECK_REL(p[0].grad, dwr, p[0].size, tol, what);
        CHECK_REL(p[1].grad, dbr, p[1].size, tol, what);
    }
    free(x), free(dy), free(y), free(dx), free(xd), free(wd), free(bd), free(dyd);
    free(yr), free(dxr), free(dwr), free(dbr);
    vd_params_free(p, 2);
}

static void test_bn(veil_precision prec, int n, int c, int h, int train, double tol)
{
    veil_param p[4];
    param(&p[0], "g", 1, c, 0, 0, 0, 1);
    param(&p[1], "b", 1, c, 0, 0, 0, 1);
    param(&p[2], "m", 1, c, 0, 0, 0, 0.3);
    param(&p[3], "v", 1, c, 0, 0, 0, 0.3);
    for (int i = 0; i < c; i++) p[3].data[i] += 1.0f;
    float rm0 = p[2].data[0], rv0 = p[3].data[0];
    size_t xs = (size_t)n * c * h * h, hw = (size_t)h * h;
    float *x = rnd(xs, 2), *dy = rnd(xs, 1), *y = veil_malloc(xs * 4), *dx = veil_malloc(xs * 4);
    for (size_t i = 0; i < xs; i++) x[i] += 0.5f;
    vd_layer_test t = {VD_TEST_BN, prec, n, c, h, h, train, p};
    int rc = vd_layer_test_run(&t, x, y, train ? dy : NULL, dx);
    CHECK_MSG(rc == 0, "bn run: %s", veil_last_error());
    double *xd = dbl(x, xs), *g = dbl(p[0].data, c), *b = dbl(p[1].data, c), *dyd = dbl(dy, xs);
    double *yr = veil_malloc(xs * 8), *dxr = veil_malloc(xs * 8), *dg = veil_malloc(c * 8), *db = veil_malloc(c * 8);
    double *mean = veil_malloc(c * 8), *var = veil_malloc(c * 8);
    char what[96];
    snprintf(what, sizeof what, "batchnorm %s %s n%d c%d %dx%d", train ? "train" : "eval",
             veil_precision_name(prec), n, c, h, h);
    if (train) {
        ref_batchnorm_forward_train(xd, n, c, (int)hw, g, b, VEIL_BN_EPS, yr, mean, var);
        ref_batchnorm_backward(xd, n, c, (int)hw, g, mean, var, VEIL_BN_EPS, dyd, dxr, dg, db);
        if (rc == 0) {
            CHECK_REL(dx, dxr, xs, tol, what);
            CHECK_REL(p[0].grad, dg, c, tol, what);
            CHECK_REL(p[1].grad, db, c, tol, what);
            /* running statistics: momentum 0.1, unbiased variance */
            double cnt = (double)n * hw;
            CHECK_NEAR(p[2].data[0], 0.9 * rm0 + 0.1 * mean[0], tol);
            CHECK_NEAR(p[3].data[0], 0.9 * rv0 + 0.1 * var[0] * cnt / (cnt - 1), tol);
        }
    } else {
        double *rm = dbl(p[2].data, c), *rv = dbl(p[3].data, c);
        ref_batchnorm_forward_eval(xd, n, c, (int)hw, g, b, rm, rv, VEIL_BN_EPS, yr);
        free(rm), free(rv);
    }
    if (rc == 0) CHECK_REL(y, yr, xs, tol, what);
    free(x), free(dy), free(y), free(dx), free(xd), free(g), free(b), free(dyd);
    free(yr), free(dxr), free(dg), free(db), free(mean), free(var);
    vd_params_free(p, 4);
}

static void test_pool(veil_precision prec, int n, int c, int h, double tol)
{
    size_t xs = (size_t)n * c * h * h, ys = xs / 4;
    float *x = rnd(xs, 1), *dy = rnd(ys, 1), *y = veil_malloc(ys * 4), *dx = veil_malloc(xs * 4);
    if (prec == VEIL_PREC_BF16) /* exact in bf16 and distinct within each 2x2 window */
        for (size_t i = 0; i < xs; i++)
            x[i] = (float)((int)(x[i] * 16)) / 16 + (float)((i % 2) + 2 * ((i / h) % 2)) / 64;
    vd_layer_test t = {VD_TEST_POOL, prec, n, c, h, h, 1, NULL};
    int rc = vd_layer_test_run(&t, x, y, dy, dx);
    CHECK_MSG(rc == 0, "pool run: %s", veil_last_error());
    double *xd = dbl(x, xs), *dyd = dbl(dy, ys), *yr = veil_malloc(ys * 8), *dxr = veil_malloc(xs * 8);
    ref_maxpool2_forward(xd, n, c, h, h, yr);
    ref_maxpool2_backward(xd, n, c, h, h, dyd, dxr);
    if (rc == 0) {
        CHECK_REL(y, yr, ys, tol, "maxpool forward");
        CHECK_REL(dx, dxr, xs, tol, "maxpool backward");
    }
    free(x), free(dy), free(y), free(dx), free(xd), free(dyd), free(yr), free(dxr);
}

static void test_linear(veil_precision prec, int n, int in, int out, double tol)
{
    veil_param p[2];
    param(&p[0], "w", 2, out, in, 0, 0, 1.0 / sqrt(in));
    param(&p[1], "b", 1, out, 0, 0, 0, 0.5);
    size_t xs = (size_t)n * in, ys = (size_t)n * out;
    float *x = rnd(xs, 1), *dy = rnd(ys, 1), *y = veil_malloc(ys * 4), *dx = veil_malloc(xs * 4);
    vd_layer_test t = {VD_TEST_LINEAR, prec, n, in, 1, 1, 1, p};
    int rc = vd_layer_test_run(&t, x, y, dy, dx);
    CHECK_MSG(rc == 0, "linear run: %s", veil_last_error());
    double *xd = dbl(x, xs), *wd = dbl(p[0].data, p[0].size), *bd = dbl(p[1].data, out), *dyd = dbl(dy, ys);
    double *yr = veil_malloc(ys * 8), *dxr = veil_malloc(xs * 8), *dwr = veil_malloc(p[0].size * 8),
           *dbr = veil_malloc(out * 8);
    ref_linear_forward(xd, n, in, wd, bd, out, yr);
    ref_linear_backward(xd, n, in, wd, out, dyd, dxr, dwr, dbr);
    if (rc == 0) {
        CHECK_REL(y, yr, ys, tol, "linear forward");
        CHECK_REL(dx, dxr, xs, tol, "linear dx");
        CHECK_REL(p[0].grad, dwr, p[0].size, tol, "linear dw");
        CHECK_REL(p[1].grad, dbr, out, tol, "linear db");
    }
    free(x), free(dy), free(y), free(dx), free(xd), free(wd), free(bd), free(dyd);
    free(yr), free(dxr), free(dwr), free(dbr);
    vd_params_free(p, 2);
}

static void test_layers(veil_precision prec, double tol)
{
    test_conv(prec, 2, 1, 64, 32, 5, 1, tol); /* the paper's first layer */
    test_conv(prec, 2, 3, 5, 7, 5, 0, tol);
    test_conv(prec, 2, 4, 6, 8, 3, 1, tol);
    test_conv(prec, 3, 16, 32, 4, 2, 1, tol); /* even kernel: pads right/bottom */
    test_conv(prec, 2, 32, 16, 2, 2, 0, tol);
    test_conv(prec, 1, 5, 3, 4, 2, 0, tol);
    test_bn(prec, 3, 1, 8, 1, tol);
    test_bn(prec, 2, 16, 4, 1, tol);
    test_bn(prec, 2, 16, 4, 0, tol);
    test_pool(prec, 2, 16, 8, tol);
    test_pool(prec, 3, 3, 4, tol);
    test_linear(prec, 3, 37, 11, tol);
    test_linear(prec, 5, 64, 2, tol);
}

static void test_extractor(veil_precision prec, int groups, int n, double tol)
{
    veil_extractor_config c;
    veil_extractor_config_paper(&c, groups);
    veil_extractor *f = veil_extractor_new(&c, n, prec, 7 + groups);
    CHECK_MSG(f != NULL, "%s", veil_last_error());
    if (!f) return;
    int dim = veil_extractor_dim(f), count;
    CHECK(dim == veil_extractor_config_dim(&c));
    veil_param *p = veil_extractor_params(f, &count);
    CHECK(count == groups * 10);
    CHECK(!strcmp(p[4].name, "f.g1.conv1.weight") && p[4].shape[1] == 1 && p[2].is_buffer);
    size_t xs = (size_t)n * 32 * 32, zs = (size_t)n * dim;
    float *x = rnd(xs, 3), *z = veil_malloc(zs * 4), *dz = rnd(zs, 1);
    double *xd = dbl(x, xs), *zr = veil_malloc(zs * 8);
    char what[64];
    for (int train = 1; train >= 0; train--) {
        snprintf(what, sizeof what, "extractor G=%d %s %s", groups, train ? "train" : "eval", veil_precision_name(prec));
        int rc = veil_extractor_forward(f, x, n, train, z);
        CHECK_MSG(rc == 0, "%s: %s", what, veil_last_error());
        ref_extractor_forward(&c, p, xd, n, train, zr);
        if (rc == 0) CHECK_REL(z, zr, zs, tol, what);
        if (train) {
            /* running statistics moved; backward sets every trainable gradient */
            CHECK(p[2].data[0] != 0.0f);
            for (int i = 0; i < count; i++)
                if (!p[i].is_buffer) memset(p[i].grad, 0xff, p[i].size * 4); /* NaN: must be overwritten */
            CHECK_MSG(veil_extractor_backward(f, dz) == 0, "%s", veil_last_error());
            for (int i = 0; i < count; i++) {
                if (p[i].is_buffer) continue;
                int finite = 1;
                double s = 0;
                for (size_t j = 0; j < p[i].size; j++) {
                    finite &= isfinite(p[i].grad[j]);
                    s += fabs(p[i].grad[j]);
                }
                CHECK_MSG(finite && s > 0, "%s grad", p[i].name);
            }
        }
    }
    /* a partial batch after the full one uses its own primitives */
    if (n > 1) {
        float *z1 = veil_malloc((size_t)dim * 4);
        CHECK(veil_extractor_forward(f, x, 1, 0, z1) == 0);
        CHECK(veil_extractor_forward(f, x, n, 0, z) == 0);
        CHECK_REL(z1, zr, dim, tol, "extractor batch of 1");
        free(z1);
    }
    CHECK_FAILS_WITH(veil_extractor_forward(f, x, n + 1, 0, z), "batch");
    CHECK_FAILS_WITH(veil_extractor_backward(f, dz), "backward needs");
    free(x), free(z), free(dz), free(xd), free(zr);
    veil_extractor_free(f);
}

/* extractor backward against the reference: a G=1 net with one conv per group,
 * chained by hand with the reference layers */
static void test_extractor_grad(void)
{
    veil_extractor_config c;
    veil_extractor_config_paper(&c, 1);
    c.convs_per_group = 1;
    c.filters[0] = 6;
    c.kernels[0] = 3;
    c.in_h = c.in_w = 8;
    int n = 3, count;
    veil_extractor *f = veil_extractor_new(&c, n, VEIL_PREC_FP32, 3);
    CHECK(f != NULL);
    if (!f) return;
    veil_param *p = veil_extractor_params(f, &count);
    p[0].data[0] = 1.3f, p[1].data[0] = -0.2f;
    int dim = veil_extractor_dim(f);
    size_t xs = (size_t)n * 64, ys = (size_t)n * 6 * 64, zs = (size_t)n * dim;
    float *x = rnd(xs, 2), *z = veil_malloc(zs * 4), *dz = rnd(zs, 1);
    CHECK(veil_extractor_forward(f, x, n, 1, z) == 0);
    CHECK(veil_extractor_backward(f, dz) == 0);
    double *xd = dbl(x, xs), *g = dbl(p[0].data, 1), *b = dbl(p[1].data, 1), *w = dbl(p[4].data, p[4].size),
           *bias = dbl(p[5].data, 6), *dzd = dbl(dz, zs);
    double *bn = veil_malloc(xs * 8), *y = veil_malloc(ys * 8), *dy = veil_malloc(ys * 8), *dbn = veil_malloc(xs * 8);
    double mean, var, dw[6 * 9], db[6], dg, dbeta;
    ref_batchnorm_forward_train(xd, n, 1, 64, g, b, VEIL_BN_EPS, bn, &mean, &var);
    ref_conv2d_forward(bn, n, 1, 8, 8, w, bias, 6, 3, y);
    ref_relu_forward(y, ys, y);
    ref_maxpool2_backward(y, n, 6, 8, 8, dzd, dy);
    ref_relu_backward(y, dy, ys, dy);
    ref_conv2d_backward(bn, n, 1, 8, 8, w, 6, 3, dy, dbn, dw, db);
    ref_batchnorm_backward(xd, n, 1, 64, g, &mean, &var, VEIL_BN_EPS, dbn, NULL, &dg, &dbeta);
    CHECK_REL(p[4].grad, dw, 54, 1e-4, "extractor conv dw");
    CHECK_REL(p[5].grad, db, 6, 1e-4, "extractor conv db");
    CHECK_REL(p[0].grad, &dg, 1, 1e-4, "extractor bn dgamma");
    CHECK_REL(p[1].grad, &dbeta, 1, 1e-4, "extractor bn dbeta");
    free(x), free(z), free(dz), free(xd), free(g), free(b), free(w), free(bias), free(dzd);
    free(bn), free(y), free(dy), free(dbn);
    veil_extractor_free(f);
}

static void test_head(veil_precision prec, double tol)
{
    veil_head_config c = {40, 24, 3, 0.5f};
    int n = 4, count;
    veil_head *h = veil_head_new(&c, n, prec, 11);
    CHECK_MSG(h != NULL, "%s", veil_last_error());
    if (!h) return;
    veil_param *p = veil_head_params(h, &count);
    CHECK(count == 4 && !strcmp(p[2].name, "head.fc2.weight") && p[2].shape[0] == 3);
    size_t xs = (size_t)n * c.in_dim, ls = (size_t)n * c.classes, hs = (size_t)n * c.hidden;
    float *x = rnd(xs, 1), *l = veil_malloc(ls * 4), *dl = rnd(ls, 1), *dx = veil_malloc(xs * 4);
    double *xd = dbl(x, xs), *lr = veil_malloc(ls * 8);
    CHECK(veil_head_forward(h, x, n, 0, l) == 0);
    ref_head_forward(&c, p, xd, n, NULL, lr);
    CHECK_REL(l, lr, ls, tol, "head eval");
    CHECK(veil_head_forward(h, x, n, 1, l) == 0);
    const unsigned char *mask = vd_head_last_mask(h);
    int kept = 0;
    for (size_t i = 0; i < hs; i++) kept += mask[i];
    CHECK(kept > 0 && kept < (int)hs);
    ref_head_forward(&c, p, xd, n, mask, lr);
    CHECK_REL(l, lr, ls, tol, "head train (dropout)");
    CHECK(veil_head_backward(h, dl, dx) == 0);
    /* reference backward through fc2, dropout, relu, fc1 */
    double *w1 = dbl(p[0].data, p[0].size), *b1 = dbl(p[1].data, 24), *w2 = dbl(p[2].data, p[2].size),
           *b2 = dbl(p[3].data, 3), *dld = dbl(dl, ls);
    double *a = veil_malloc(hs * 8), *d = veil_malloc(hs * 8), *dxr = veil_malloc(xs * 8);
    double *dw1 = veil_malloc(p[0].size * 8), *db1 = veil_malloc(24 * 8), *dw2 = veil_malloc(p[2].size * 8),
           db2[3];
    ref_linear_forward(xd, n, c.in_dim, w1, b1, c.hidden, a);
    ref_relu_forward(a, hs, a);
    double *ad = veil_malloc(hs * 8);
    ref_dropout_forward(a, mask, hs, c.dropout, ad);
    ref_linear_backward(ad, n, c.hidden, w2, c.classes, dld, d, dw2, db2);
    ref_dropout_backward(d, mask, hs, c.dropout, d);
    ref_relu_backward(a, d, hs, d);
    ref_linear_backward(xd, n, c.in_dim, w1, c.hidden, d, dxr, dw1, db1);
    CHECK_REL(dx, dxr, xs, tol, "head dx");
    CHECK_REL(p[0].grad, dw1, p[0].size, tol, "head fc1 dw");
    CHECK_REL(p[1].grad, db1, 24, tol, "head fc1 db");
    CHECK_REL(p[2].grad, dw2, p[2].size, tol, "head fc2 dw");
    CHECK_REL(p[3].grad, db2, 3, tol, "head fc2 db");
    /* without dx the parameter gradients are the same */
    CHECK(veil_head_forward(h, x, n, 1, l) == 0);
    CHECK(veil_head_backward(h, dl, NULL) == 0);
    /* changed parameters are picked up after params_changed */
    for (size_t i = 0; i < p[3].size; i++) p[3].data[i] += 1.0f;
    veil_head_params_changed(h);
    CHECK(veil_head_forward(h, x, n, 0, l) == 0);
    ref_head_forward(&c, p, xd, n, NULL, lr);
    CHECK_REL(l, lr, ls, tol, "head after params_changed");
    free(x), free(l), free(dl), free(dx), free(xd), free(lr), free(w1), free(b1), free(w2), free(b2), free(dld);
    free(a), free(d), free(dxr), free(dw1), free(db1), free(dw2), free(ad);
    veil_head_free(h);
}

static void test_determinism(void)
{
    veil_extractor_config c;
    veil_extractor_config_paper(&c, 2);
    veil_extractor *f1 = veil_extractor_new(&c, 3, VEIL_PREC_FP32, 99), *f2 = veil_extractor_new(&c, 3, VEIL_PREC_FP32, 99);
    CHECK(f1 && f2);
    if (!f1 || !f2) return;
    int dim = veil_extractor_dim(f1);
    float *x = rnd(3 * 1024, 1), *z1 = veil_malloc(3 * dim * 4), *z2 = veil_malloc(3 * dim * 4);
    CHECK(veil_extractor_forward(f1, x, 3, 1, z1) == 0 && veil_extractor_forward(f2, x, 3, 1, z2) == 0);
    CHECK(!memcmp(z1, z2, 3 * dim * 4));
    CHECK(veil_extractor_backward(f1, z1) == 0 && veil_extractor_backward(f2, z1) == 0);
    int count;
    veil_param *p1 = veil_extractor_params(f1, &count), *p2 = veil_extractor_params(f2, &count);
    int same = 1;
    for (int i = 0; i < count; i++) same &= !memcmp(p1[i].grad, p2[i].grad, p1[i].size * 4);
    CHECK(same);
    veil_extractor *f3 = veil_extractor_new(&c, 3, VEIL_PREC_FP32, 100);
    CHECK(f3 && memcmp(veil_extractor_params(f3, &count)[4].data, p1[4].data, p1[4].size * 4));
    free(x), free(z1), free(z2);
    veil_extractor_free(f1), veil_extractor_free(f2), veil_extractor_free(f3);
}

/* veil_head_adam_step (fc1.weight updated in the primitives' blocked layout) gives the
 * same bits as veil_adam_step on the plain parameters, through batch-size changes and
 * evaluation forwards in between, for 1 and 2 threads. Whether oneDNN picks a layout the
 * fused path handles depends on the CPU and the shape (an AMD EPYC without AMX takes it at
 * the paper's 16384 x 1024 head, not at 256 x 128): the results must match either way, so
 * the test checks results, never the choice. Returns whether the fused path ran. */
static int head_fused_adam_at(veil_precision prec, int in_dim, int hidden, int classes, int across_threads)
{
    veil_head_config c = {in_dim, hidden, classes, 0.5f};
    enum { N = 12, STEPS = 7 };
    size_t nl = (size_t)N * (size_t)classes;
    float *x = rnd((size_t)N * c.in_dim, 1.0);
    float *logits = veil_malloc(nl * sizeof(float)), *dl = veil_malloc(nl * sizeof(float));
    float *lp = veil_malloc(nl * sizeof(float));
    int y[N];
    for (int i = 0; i < N; i++) y[i] = i % classes;
    float *ref[4] = {0};
    int engaged = 0;
    for (int threads = 1; threads <= 2; threads++) {
        veil_set_threads(threads);
        veil_head *a = veil_head_new(&c, N, prec, 5), *b = veil_head_new(&c, N, prec, 5);
        CHECK(a && b);
        veil_adam aa, ab;
        veil_adam_init(&aa, 1e-3f);
        veil_adam_init(&ab, 1e-3f);
        int count;
        for (int s = 0; s < STEPS; s++) {
            int n = s == 3 ? N - 5 : N; /* a second training net in between */
            CHECK(veil_head_forward(a, x, n, 1, logits) == 0);
            veil_softmax_xent(logits, y, n, classes, dl);
            CHECK(veil_head_backward(a, dl, NULL) == 0);
            veil_param *pa = veil_head_params(a, &count);
            veil_adam_step(&aa, pa, count);
            CHECK(veil_head_forward(b, x, n, 1, lp) == 0);
            CHECK(memcmp(logits, lp, (size_t)n * (size_t)classes * sizeof(float)) == 0);
            veil_softmax_xent(lp, y, n, classes, dl);
            CHECK(veil_head_backward(b, dl, NULL) == 0);
            CHECK(veil_head_adam_step(b, &ab) == 0);
            engaged |= vd_head_fused(b);
            if (s == 5) { /* an evaluation forward leaves the fused state */
                CHECK(veil_head_forward(b, x, N, 0, lp) == 0 && !vd_head_fused(b));
                CHECK(veil_head_forward(a, x, N, 0, logits) == 0);
                CHECK(memcmp(logits, lp, nl * sizeof(float)) == 0);
            }
        }
        veil_param *pa = veil_head_params(a, &count), *pb = veil_head_params(b, &count);
        CHECK(!vd_head_fused(b));
        for (int i = 0; i < 4; i++) {
            size_t bytes = pa[i].size * sizeof(float);
            CHECK(memcmp(pa[i].data, pb[i].data, bytes) == 0);
            CHECK(memcmp(pa[i].grad, pb[i].grad, bytes) == 0);
            CHECK(memcmp(pa[i].adam_m, pb[i].adam_m, bytes) == 0 && memcmp(pa[i].adam_v, pb[i].adam_v, bytes) == 0);
            if (!across_threads) continue;
            if (threads == 1) {
                ref[i] = veil_malloc(bytes);
                memcpy(ref[i], pb[i].data, bytes);
            } else {
                CHECK(memcmp(ref[i], pb[i].data, bytes) == 0); /* same for any thread count */
                free(ref[i]);
            }
        }
        veil_head_free(a);
        veil_head_free(b);
    }
    veil_set_threads(1);
    free(x), free(logits), free(dl), free(lp);
    return engaged;
}

/* The small shape first; where the fused path did not run there, the paper's head shape,
 * where it does on the AVX-512 CPUs tried so far. Neither is required to engage it. At
 * the paper's shape oneDNN may split the 16384-long reductions by thread, so only the
 * small shape compares thread counts (docs/protocol.md, "Bit-identical"). The fallback
 * draws its inputs from a copy of the test's generator, so later tests see the same
 * numbers whichever CPU ran this one. */
static void test_head_fused_adam(veil_precision prec)
{
    const char *p = prec == VEIL_PREC_BF16 ? "bf16" : "fp32";
    if (head_fused_adam_at(prec, 256, 128, 5, 1)) return;
    veil_rng saved = rng;
    int engaged = head_fused_adam_at(prec, 16384, 1024, 20, 0);
    rng = saved;
    if (engaged) {
        printf("note: fused head-Adam path not taken at 256 x 128 (%s); checked at 16384 x 1024\n", p);
        return;
    }
    printf("note: fused head-Adam path not taken on this CPU (%s); the plain path was checked\n", p);
}

/* ---------------- variational information ---------------- */
/* A small extractor config: G = 2, filters 4 and 6, 8x8 input (z: 6 x 2 x 2). */
static void small_config(veil_extractor_config *c)
{
    veil_extractor_config_paper(c, 2);
    c->in_h = c->in_w = 8;
    c->filters[0] = 4, c->filters[1] = 6;
    c->kernels[0] = 3, c->kernels[1] = 2;
}

/* the log-variance layer (1x1 conv on oneDNN) against the reference, forward and backward */
static void test_logvar_layer(veil_precision prec, const veil_extractor_config *c, int n, double tol)
{
    veil_logvar *v = veil_logvar_new(c, n, prec, 5, -2.0f);
    CHECK_MSG(v != NULL, "%s", veil_last_error());
    if (!v) return;
    int count, ch = c->filters[c->groups - 1], side = c->in_h >> c->groups, hw = side * side;
    int dim = veil_logvar_dim(v);
    CHECK(dim == veil_extractor_config_dim(c));
    veil_param *p = veil_logvar_params(v, &count);
    CHECK(count == 2 && !strcmp(p[0].name, "vib.logvar.weight") && p[0].shape[0] == ch && p[0].shape[1] == ch &&
          p[0].shape[2] == 1 && p[1].data[0] == -2.0f);
    for (int i = 0; i < ch; i++) p[1].data[i] += (float)(0.1 * i); /* distinct biases */
    veil_logvar_params_changed(v);
    size_t zs = (size_t)n * dim;
    float *mu = rnd(zs, 1), *lv = veil_malloc(zs * 4), *dlv = rnd(zs, 1), *dmu = veil_malloc(zs * 4);
    for (size_t i = 0; i < zs; i++) mu[i] = fabsf(mu[i]); /* a pooled ReLU map is >= 0 */
    double *mud = dbl(mu, zs), *wd = dbl(p[0].data, p[0].size), *bd = dbl(p[1].data, ch), *dlvd = dbl(dlv, zs);
    double *lvr = veil_malloc(zs * 8), *dmur = veil_malloc(zs * 8), *dwr = veil_malloc(p[0].size * 8),
           *dbr = veil_malloc(ch * 8);
    ref_logvar_forward(mud, n, ch, hw, wd, bd, lvr);
    ref_logvar_backward(mud, n, ch, hw, wd, dlvd, dmur, dwr, dbr);
    char what[96];
    snprintf(what, sizeof what, "logvar %s C=%d %dx%d n%d", veil_precision_name(prec), ch, side, side, n);
    CHECK_MSG(veil_logvar_forward(v, mu, n, 0, lv) == 0, "%s", veil_last_error());
    CHECK_REL(lv, lvr, zs, tol, what);
    CHECK_MSG(veil_logvar_forward(v, mu, n, 1, lv) == 0, "%s", veil_last_error());
    CHECK_REL(lv, lvr, zs, tol, what);
    CHECK_MSG(veil_logvar_backward(v, dlv, dmu) == 0, "%s", veil_last_error());
    CHECK_REL(dmu, dmur, zs, tol, what);
    CHECK_REL(p[0].grad, dwr, p[0].size, tol, what);
    CHECK_REL(p[1].grad, dbr, ch, tol, what);
    /* without dmu the parameter gradients are the same */
    memset(p[1].grad, 0xff, ch * 4);
    CHECK(veil_logvar_forward(v, mu, n, 1, lv) == 0 && veil_logvar_backward(v, dlv, NULL) == 0);
    CHECK_REL(p[1].grad, dbr, ch, tol, what);
    CHECK_FAILS_WITH(veil_logvar_forward(v, mu, n + 1, 0, lv), "batch");
    CHECK(veil_logvar_forward(v, mu, n, 0, lv) == 0);
    CHECK_FAILS_WITH(veil_logvar_backward(v, dlv, dmu), "backward needs");
    free(mu), free(lv), free(dlv), free(dmu), free(mud), free(wd), free(bd), free(dlvd);
    free(lvr), free(dmur), free(dwr), free(dbr);
    veil_logvar_free(v);
}

/* the float reparameterisation and KL against the double reference */
static void test_kl_reparam_float(void)
{
    int n = 5, dim = 7;
    size_t count = (size_t)n * dim;
    float *mu = rnd(count, 2), *lv = rnd(count, 3), *eps = veil_malloc(count * 4), *dz = rnd(count, 1);
    for (size_t i = 0; i < count; i++) eps[i] = (float)veil_rng_normal(&rng);
    float *z = veil_malloc(count * 4), *dlv = veil_malloc(count * 4), *kmu = veil_malloc(count * 4),
          *klv = veil_malloc(count * 4);
    double *mud = dbl(mu, count), *lvd = dbl(lv, count), *epsd = dbl(eps, count), *dzd = dbl(dz, count);
    double *zr = veil_malloc(count * 8), *dmur = veil_malloc(count * 8), *dlvr = veil_malloc(count * 8),
           *kmur = veil_malloc(count * 8), *klvr = veil_malloc(count * 8);
    veil_reparam_forward(mu, lv, eps, count, z);
    veil_reparam_backward(dz, lv, eps, count, dlv);
    ref_reparam_forward(mud, lvd, epsd, count, zr);
    ref_reparam_backward(dzd, lvd, epsd, count, dmur, dlvr);
    CHECK_REL(z, zr, count, 1e-6, "reparam forward");
    CHECK_REL(dlv, dlvr, count, 1e-6, "reparam dlogvar");
    float kl = veil_kl_normal(mu, lv, n, dim, kmu, klv);
    double klr = ref_kl_normal(mud, lvd, n, dim, kmur, klvr);
    CHECK_NEAR(kl, klr, 1e-6 * klr);
    CHECK_REL(kmu, kmur, count, 1e-6, "KL dmu");
    CHECK_REL(klv, klvr, count, 1e-6, "KL dlogvar");
    CHECK(veil_kl_normal(mu, lv, n, dim, NULL, NULL) == kl);
    free(mu), free(lv), free(eps), free(dz), free(z), free(dlv), free(kmu), free(klv);
    free(mud), free(lvd), free(epsd), free(dzd), free(zr), free(dmur), free(dlvr), free(kmur), free(klvr);
}

/* The whole variational objective on the oneDNN path, fp32: f -> mu, logvar layer,
 * z = mu + exp(logvar/2) eps (eps fixed), head (no dropout), cross-entropy + beta KL;
 * the trainer's composition of the backward passes against central differences of the
 * engine's own forward. */
typedef struct vib_engine {
    veil_extractor *f;
    veil_logvar *v;
    veil_head *g;
    int n, dim;
    float beta;
    float *x, *mu, *lv, *eps, *z, *logits, *dlogits, *dz, *dlv, *kmu, *klv, *dmu2;
    int *labels;
} vib_engine;

static double vib_engine_loss(vib_engine *e)
{
    size_t count = (size_t)e->n * e->dim;
    if (veil_extractor_forward(e->f, e->x, e->n, 1, e->mu) || veil_logvar_forward(e->v, e->mu, e->n, 1, e->lv))
        return NAN;
    veil_reparam_forward(e->mu, e->lv, e->eps, count, e->z);
    if (veil_head_forward(e->g, e->z, e->n, 1, e->logits)) return NAN;
    double ce = veil_softmax_xent(e->logits, e->labels, e->n, 2, e->dlogits);
    return ce + (double)e->beta * veil_kl_normal(e->mu, e->lv, e->n, e->dim, e->kmu, e->klv);
}

/* after vib_engine_loss: every parameter gradient. logvar_path 0 leaves out the log-variance
 * layer's input gradient (a wrong composition the check must catch). */
static int vib_engine_backward(vib_engine *e, int logvar_path)
{
    size_t count = (size_t)e->n * e->dim;
    if (veil_head_backward(e->g, e->dlogits, e->dz)) return -1;
    veil_reparam_backward(e->dz, e->lv, e->eps, count, e->dlv);
    for (size_t i = 0; i < count; i++) {
        e->dlv[i] += e->beta * e->klv[i];
        e->dz[i] += e->beta * e->kmu[i]; /* dz/dmu is the identity: dz becomes dmu */
    }
    if (veil_logvar_backward(e->v, e->dlv, e->dmu2)) return -1;
    if (logvar_path)
        for (size_t i = 0; i < count; i++) e->dz[i] += e->dmu2[i];
    return veil_extractor_backward(e->f, e->dz);
}

/* worst relative error of grad over entries idx of p, h a central step; the floor 2e-2
 * covers the float rounding of the loss (~1e-7 L / h) */
static double vib_engine_fd(vib_engine *e, veil_param *p, const float *grad, const size_t *idx, int m, float h)
{
    double worst = 0;
    for (int k = 0; k < m; k++) {
        size_t i = idx[k];
        float save = p->data[i];
        p->data[i] = save + h;
        veil_logvar_params_changed(e->v), veil_head_params_changed(e->g), veil_extractor_params_changed(e->f);
        double lp = vib_engine_loss(e);
        p->data[i] = save - h;
        veil_logvar_params_changed(e->v), veil_head_params_changed(e->g), veil_extractor_params_changed(e->f);
        double lm = vib_engine_loss(e);
        p->data[i] = save;
        double num = (lp - lm) / (2.0 * h), err = fabs(num - grad[i]) / fmax(fmax(fabs(num), fabs(grad[i])), 2e-2);
        if (getenv("DBG")) fprintf(stderr, "  %s[%zu] fd %.6g analytic %.6g\n", p->name, i, num, grad[i]);
        if (!(err <= worst)) worst = err;
    }
    return worst;
}

static void test_vib_engine_grad(void)
{
    veil_extractor_config c;
    small_config(&c);
    vib_engine e = {0};
    e.n = 6, e.beta = 0.5f;
    e.f = veil_extractor_new(&c, e.n, VEIL_PREC_FP32, 21);
    e.v = veil_logvar_new(&c, e.n, VEIL_PREC_FP32, 22, -1.0f);
    e.dim = veil_extractor_config_dim(&c);
    veil_head_config hc = {e.dim, 16, 2, 0.0f};
    e.g = veil_head_new(&hc, e.n, VEIL_PREC_FP32, 23);
    CHECK_MSG(e.f && e.v && e.g, "%s", veil_last_error());
    if (!e.f || !e.v || !e.g) return;
    size_t count = (size_t)e.n * e.dim;
    e.x = rnd((size_t)e.n * 64, 2);
    e.mu = veil_malloc(count * 4), e.lv = veil_malloc(count * 4), e.z = veil_malloc(count * 4);
    e.dz = veil_malloc(count * 4), e.dlv = veil_malloc(count * 4), e.kmu = veil_malloc(count * 4);
    e.klv = veil_malloc(count * 4), e.dmu2 = veil_malloc(count * 4), e.eps = veil_malloc(count * 4);
    for (size_t i = 0; i < count; i++) e.eps[i] = (float)veil_rng_normal(&rng);
    e.logits = veil_malloc((size_t)e.n * 8), e.dlogits = veil_malloc((size_t)e.n * 8);
    int labels[6] = {0, 1, 1, 0, 1, 0};
    e.labels = labels;
    /* a larger z so the noise and the KL term both matter */
    int fc, vc, gc;
    veil_param *fp = veil_extractor_params(e.f, &fc), *vp = veil_logvar_params(e.v, &vc), *gp = veil_head_params(e.g, &gc);
    for (size_t i = 0; i < fp[fc - 2].size; i++) fp[fc - 2].data[i] *= 3.0f;
    double loss = vib_engine_loss(&e);
    CHECK(isfinite(loss));
    CHECK(vib_engine_backward(&e, 1) == 0);
    /* copies: the FD loop's forwards leave the gradients alone, but be explicit */
    float *gw = veil_malloc(vp[0].size * 4), *gb = veil_malloc(vp[1].size * 4), *gcw = veil_malloc(fp[fc - 2].size * 4),
          *gcb = veil_malloc(fp[fc - 1].size * 4), *gbn = veil_malloc(fp[0].size * 4), *gh = veil_malloc(gp[2].size * 4);
    memcpy(gw, vp[0].grad, vp[0].size * 4), memcpy(gb, vp[1].grad, vp[1].size * 4);
    memcpy(gcw, fp[fc - 2].grad, fp[fc - 2].size * 4), memcpy(gcb, fp[fc - 1].grad, fp[fc - 1].size * 4);
    memcpy(gbn, fp[0].grad, fp[0].size * 4), memcpy(gh, gp[2].grad, gp[2].size * 4);
    size_t idx[36];
    for (int i = 0; i < 36; i++) idx[i] = (size_t)i;
    float h = 1e-3f; /* larger steps cross ReLU/max-pool kinks (seen at 2e-3 on the BatchNorm weight) */
    double tol = 2e-2;
    double w;
    w = vib_engine_fd(&e, &vp[0], gw, idx, 36, h);
    CHECK_MSG(w <= tol, "variational engine: logvar weight: worst %.3g", w);
    w = vib_engine_fd(&e, &vp[1], gb, idx, 6, h);
    CHECK_MSG(w <= tol, "variational engine: logvar bias: worst %.3g", w);
    w = vib_engine_fd(&e, &fp[fc - 2], gcw, idx, 24, h);
    CHECK_MSG(w <= tol, "variational engine: last conv weight: worst %.3g", w);
    w = vib_engine_fd(&e, &fp[fc - 1], gcb, idx, 6, h);
    CHECK_MSG(w <= tol, "variational engine: last conv bias: worst %.3g", w);
    w = vib_engine_fd(&e, &fp[0], gbn, idx, 1, h);
    CHECK_MSG(w <= tol, "variational engine: g1 bn weight: worst %.3g", w);
    w = vib_engine_fd(&e, &gp[2], gh, idx, 32, h); /* fc2: no ReLU kink downstream */
    CHECK_MSG(w <= tol, "variational engine: head fc2 weight: worst %.3g", w);
    /* the check can fail: without the log-variance layer's input gradient f's gradient is wrong */
    vib_engine_loss(&e);
    CHECK(vib_engine_backward(&e, 0) == 0);
    memcpy(gcb, fp[fc - 1].grad, fp[fc - 1].size * 4);
    w = vib_engine_fd(&e, &fp[fc - 1], gcb, idx, 6, h);
    CHECK_MSG(w > 10 * tol, "variational engine: a gradient without the logvar path must fail (worst %.3g)", w);
    /* and so does one without the KL term */
    e.beta = 0.0f;
    vib_engine_loss(&e);
    CHECK(vib_engine_backward(&e, 1) == 0);
    memcpy(gb, vp[1].grad, vp[1].size * 4);
    e.beta = 0.5f;
    w = vib_engine_fd(&e, &vp[1], gb, idx, 6, h);
    CHECK_MSG(w > 10 * tol, "variational engine: a gradient without the KL term must fail (worst %.3g)", w);
    free(gw), free(gb), free(gcw), free(gcb), free(gbn), free(gh);
    free(e.x), free(e.mu), free(e.lv), free(e.z), free(e.dz), free(e.dlv), free(e.kmu), free(e.klv), free(e.dmu2);
    free(e.eps), free(e.logits), free(e.dlogits);
    veil_extractor_free(e.f), veil_logvar_free(e.v), veil_head_free(e.g);
}

/* ---- what veil bench head --bound streams ---- */
static uint32_t bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

/* vd_adam_stream reads all four arrays and writes three (m ^= g, v ^= g, p ^= m ^ v, on the
 * bit patterns), over several chunks and a tail that fits no vector, on 1 and 2 threads;
 * a second pass gives the arrays back. */
static void test_adam_stream(void)
{
    size_t n = 2 * 65536 + 7;
    float *a[4], *orig[4]; /* p, g, m, v */
    for (int k = 0; k < 4; k++) {
        a[k] = rnd(n, 1.0);
        orig[k] = veil_malloc(n * sizeof(float));
        memcpy(orig[k], a[k], n * sizeof(float));
    }
    for (int threads = 1; threads <= 2; threads++) {
        veil_set_threads(threads);
        vd_adam_stream(a[0], a[1], a[2], a[3], n);
        size_t bad = 0;
        for (size_t i = 0; i < n; i++) {
            uint32_t g = bits(orig[1][i]), m = bits(orig[2][i]) ^ g, v = bits(orig[3][i]) ^ g;
            bad += bits(a[1][i]) != g || bits(a[2][i]) != m || bits(a[3][i]) != v ||
                   bits(a[0][i]) != (bits(orig[0][i]) ^ m ^ v);
        }
        CHECK_MSG(bad == 0, "%zu of %zu values off the Adam pattern (%d threads)", bad, n, threads);
        vd_adam_stream(a[0], a[1], a[2], a[3], n);
        for (int k = 0; k < 4; k++) CHECK(memcmp(a[k], orig[k], n * sizeof(float)) == 0);
    }
    veil_set_threads(1);
    for (int k = 0; k < 4; k++) free(a[k]), free(orig[k]);
}

/* The bound's Adam bytes are 28 per parameter value of the head, and vd_head_adam_arrays
 * hands out the very arrays veil_head_adam_step updates for fc1.weight (the fused blocked
 * ones or the plain ones; either is checked through the plain parameters): one stream
 * pass on head b gives a's weights and moments XOR-ed as the pattern says, two leave b
 * stepping on exactly as a. */
static void test_head_adam_arrays(veil_precision prec, int in_dim, int hidden)
{
    veil_head_config c = {in_dim, hidden, 5, 0.5f};
    enum { N = 12 };
    float *x = rnd((size_t)N * in_dim, 1.0), logits[N * 5], dl[N * 5];
    int y[N];
    for (int i = 0; i < N; i++) y[i] = i % 5;
    veil_head *h[2] = {veil_head_new(&c, N, prec, 3), veil_head_new(&c, N, prec, 3)};
    CHECK(h[0] && h[1]);
    float *p, *g, *m, *v;
    size_t n;
    CHECK_FAILS_WITH(vd_head_adam_arrays(h[1], &p, &g, &m, &v, &n), "no Adam step");
    veil_adam adam[2];
    for (int step = 0; step < 3; step++)
        for (int k = 0; k < 2; k++) {
            if (step == 0) veil_adam_init(&adam[k], 1e-3f);
            CHECK(veil_head_forward(h[k], x, N, 1, logits) == 0);
            veil_softmax_xent(logits, y, N, 5, dl);
            CHECK(veil_head_backward(h[k], dl, NULL) == 0);
            CHECK(veil_head_adam_step(h[k], &adam[k]) == 0);
            if (k == 1 && step < 2) { /* a pass and its undoing, then stepping on */
                CHECK(vd_head_adam_arrays(h[1], &p, &g, &m, &v, &n) == 0 && n == (size_t)in_dim * hidden);
                vd_adam_stream(p, g, m, v, n);
                vd_adam_stream(p, g, m, v, n);
            }
        }
    CHECK(vd_head_adam_arrays(h[1], &p, &g, &m, &v, &n) == 0);
    vd_adam_stream(p, g, m, v, n);
    int count;
    veil_param *pa = veil_head_params(h[0], &count), *pb = veil_head_params(h[1], &count);
    double values = 0;
    for (int i = 0; i < count; i++) values += (double)pa[i].size;
    CHECK(count == 4 && values == (double)in_dim * hidden + hidden + 5.0 * hidden + 5);
    CHECK(vd_head_adam_bytes(h[0]) == 28 * values && vd_head_adam_bytes(h[1]) == 28 * values);
    size_t bad = 0;
    for (size_t i = 0; i < pa[0].size; i++) {
        uint32_t gi = bits(pa[0].grad[i]), mi = bits(pa[0].adam_m[i]) ^ gi, vi = bits(pa[0].adam_v[i]) ^ gi;
        bad += bits(pb[0].grad[i]) != gi || bits(pb[0].adam_m[i]) != mi || bits(pb[0].adam_v[i]) != vi ||
               bits(pb[0].data[i]) != (bits(pa[0].data[i]) ^ mi ^ vi);
    }
    CHECK_MSG(bad == 0, "%zu of %zu fc1.weight values are not the stream's result", bad, pa[0].size);
    for (int i = 1; i < count; i++)
        CHECK(memcmp(pa[i].data, pb[i].data, pa[i].size * sizeof(float)) == 0 &&
              memcmp(pa[i].adam_m, pb[i].adam_m, pa[i].size * sizeof(float)) == 0);
    veil_head_free(h[0]), veil_head_free(h[1]);
    free(x);
}

int main(void)
{
    veil_rng_seed(&rng, 2019);
    veil_precision p;
    CHECK(veil_precision_parse("bf16", &p) == 0 && p == VEIL_PREC_BF16);
    CHECK_FAILS_WITH(veil_precision_parse("fp16", &p), "fp16");
    CHECK(!strcmp(veil_precision_name(VEIL_PREC_AUTO), "auto"));
    CHECK(veil_precision_resolve(VEIL_PREC_AUTO, &p) == 0 && p == (veil_cpu_has_bf16() ? VEIL_PREC_BF16 : VEIL_PREC_FP32));
    if (!veil_cpu_has_bf16()) CHECK_FAILS_WITH(veil_precision_resolve(VEIL_PREC_BF16, &p), "no native bf16");

    test_layers(VEIL_PREC_FP32, 1e-4);
    for (int g = 1; g <= 5; g++) test_extractor(VEIL_PREC_FP32, g, g == 5 ? 2 : 1, 1e-4);
    test_extractor_grad();
    test_head(VEIL_PREC_FP32, 1e-4);
    test_head_fused_adam(VEIL_PREC_FP32);
    test_determinism();
    if (veil_cpu_has_bf16()) {
        test_layers(VEIL_PREC_BF16, 2e-2);
        test_extractor(VEIL_PREC_BF16, 2, 2, 5e-2);
        test_head(VEIL_PREC_BF16, 2e-2);
        test_head_fused_adam(VEIL_PREC_BF16);
    } else {
        printf("bf16 tests skipped: no native bf16 on this CPU\n");
    }
    /* variational information (after the others, so their random data stay the same) */
    veil_extractor_config small;
    small_config(&small);
    test_logvar_layer(VEIL_PREC_FP32, &small, 3, 1e-4);
    for (int g = 1; g <= 5; g += 4) {
        veil_extractor_config paper;
        veil_extractor_config_paper(&paper, g);
        test_logvar_layer(VEIL_PREC_FP32, &paper, 2, 1e-4); /* 64 x 16 x 16 and 512 x 1 x 1 */
    }
    if (veil_cpu_has_bf16()) test_logvar_layer(VEIL_PREC_BF16, &small, 3, 2e-2);
    test_kl_reparam_float();
    test_vib_engine_grad();
    test_adam_stream();
    test_head_adam_arrays(VEIL_PREC_FP32, 256, 128);
    if (veil_cpu_has_bf16()) test_head_adam_arrays(VEIL_PREC_BF16, 256, 128);
    return test_finish("nn_dnnl");
}
