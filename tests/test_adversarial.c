/* adversarial: the gradient that reaches f through the gradient-reversal layer, against
 * central finite differences of the combined objective J = L_gender - lambda L_speaker
 * (and of the best-response method's, whose adversary reads standardised features);
 * its sign and scale in lambda; the heads' own gradients unchanged by lambda. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "research/train/method.h"
#include "veil/common.h"
#include "veil/nn.h"

#define SIDE 8
#define N 12
#define SPEAKERS 4

typedef struct net {
    veil_extractor *f;
    veil_head *g, *a;
} net;

static net make_net(void)
{
    veil_extractor_config c;
    veil_extractor_config_paper(&c, 1);
    c.in_h = c.in_w = SIDE;
    c.filters[0] = 4;
    c.kernels[0] = 3;
    net n;
    n.f = veil_extractor_new(&c, N, VEIL_PREC_FP32, 3);
    int dim = veil_extractor_config_dim(&c);
    veil_head_config gc = {dim, 8, 2, 0.0f}, ac = {dim, 8, SPEAKERS, 0.0f}; /* no dropout: deterministic */
    n.g = veil_head_new(&gc, N, VEIL_PREC_FP32, 4);
    n.a = veil_head_new(&ac, N, VEIL_PREC_FP32, 5);
    return n;
}

/* the adversary's input standardisation of the best-response method (NULL: none) */
static const float *std_mean, *std_inv_sd;

/* J at the current parameters: training-mode forward (batch statistics), no backward */
static double objective(net *n, const float *x, const int *gender, const int *speaker, double lambda, float *z)
{
    float lg[N * 2], la[N * SPEAKERS];
    if (veil_extractor_forward(n->f, x, N, 1, z) || veil_head_forward(n->g, z, N, 1, lg)) return NAN;
    int dim = veil_extractor_dim(n->f);
    float *zs = malloc((size_t)N * dim * sizeof(float));
    for (int i = 0; i < N * dim; i++) zs[i] = std_mean ? (z[i] - std_mean[i % dim]) * std_inv_sd[i % dim] : z[i];
    int bad = veil_head_forward(n->a, zs, N, 1, la);
    free(zs);
    if (bad) return NAN;
    return (double)veil_softmax_xent(lg, gender, N, 2, NULL) -
           lambda * (double)veil_softmax_xent(la, speaker, N, SPEAKERS, NULL);
}

/* every trainable gradient of f (or of a head), concatenated */
static float *grads_of(veil_param *p, int count, size_t *total)
{
    size_t n = 0;
    for (int i = 0; i < count; i++)
        if (!p[i].is_buffer) n += p[i].size;
    float *g = malloc(n * sizeof(float));
    size_t k = 0;
    for (int i = 0; i < count; i++)
        if (!p[i].is_buffer) {
            memcpy(g + k, p[i].grad, p[i].size * sizeof(float));
            k += p[i].size;
        }
    *total = n;
    return g;
}

int main(void)
{
    veil_set_threads(1);
    net n = make_net();
    CHECK(n.f && n.g && n.a);
    int dim = veil_extractor_dim(n.f);
    float x[N * SIDE * SIDE];
    int gender[N], speaker[N];
    veil_rng rng;
    veil_rng_seed(&rng, 11);
    for (int i = 0; i < N * SIDE * SIDE; i++) x[i] = (float)veil_rng_normal(&rng);
    for (int i = 0; i < N; i++) {
        speaker[i] = i % SPEAKERS;
        gender[i] = speaker[i] >= SPEAKERS / 2;
    }
    veil_adversarial_work w;
    veil_adversarial_work_init(&w, N, dim, 2, SPEAKERS);
    int fc, gc, ac;
    veil_param *fp = veil_extractor_params(n.f, &fc), *gp = veil_head_params(n.g, &gc), *ap = veil_head_params(n.a, &ac);

    /* gradients at lambda = 0, 1, 2.5 from the same parameters */
    const double lambdas[3] = {0, 1, 2.5};
    float *fgrad[3], *ggrad[3], *agrad[3];
    size_t nf = 0, ng = 0, na = 0;
    float lgv, lav;
    for (int k = 0; k < 3; k++) {
        CHECK(veil_adversarial_gradients(n.f, n.g, n.a, x, N, gender, speaker, (float)lambdas[k], &w, &lgv, &lav) == 0);
        fgrad[k] = grads_of(fp, fc, &nf);
        ggrad[k] = grads_of(gp, gc, &ng);
        agrad[k] = grads_of(ap, ac, &na);
    }
    CHECK(isfinite(lgv) && isfinite(lav) && lav > 0.5); /* ln 4 = 1.39 at the start */
    /* the heads minimise their own losses: lambda never touches their gradients */
    CHECK(!memcmp(ggrad[0], ggrad[2], ng * sizeof(float)) && !memcmp(agrad[0], agrad[2], na * sizeof(float)));
    /* f's gradient is linear in lambda: g(2.5) - g(0) = 2.5 (g(1) - g(0)), and not zero */
    double worst = 0, scale = 0;
    for (size_t i = 0; i < nf; i++) {
        double d1 = (double)fgrad[1][i] - fgrad[0][i], d25 = (double)fgrad[2][i] - fgrad[0][i];
        worst = fmax(worst, fabs(d25 - 2.5 * d1));
        scale = fmax(scale, fabs(d1));
    }
    CHECK_MSG(scale > 1e-4 && worst <= 1e-3 * scale, "linearity in lambda: worst %.3g, scale %.3g", worst, scale);

    /* finite differences of J on coordinates of every parameter of f (lambda = 1.5 and 0),
     * then with the best-response method's standardised adversary (lambda 1.5): constant
     * per-dimension statistics, far from 0 and 1 so that a missing 1/sd would show */
    float *z = veil_aligned_alloc((size_t)N * dim * sizeof(float));
    float *mean = malloc((size_t)dim * sizeof(float)), *inv_sd = malloc((size_t)dim * sizeof(float));
    for (int d = 0; d < dim; d++) {
        mean[d] = (float)(0.3 * veil_rng_normal(&rng));
        inv_sd[d] = (float)(0.5 + 3 * veil_rng_uniform(&rng));
    }
    for (int li = 0; li < 3; li++) {
        double lambda = li == 1 ? 0 : 1.5;
        std_mean = li == 2 ? mean : NULL;
        std_inv_sd = li == 2 ? inv_sd : NULL;
        CHECK(veil_adversarial_gradients_std(n.f, n.g, n.a, x, N, gender, speaker, (float)lambda, std_mean, std_inv_sd,
                                             &w, &lgv, &lav) == 0);
        size_t total;
        float *an = grads_of(fp, fc, &total);
        double dot = 0, nn_an = 0, nn_fd = 0, err = 0, big = 0;
        int checked = 0;
        size_t offset = 0;
        for (int q = 0; q < fc; q++) {
            if (fp[q].is_buffer) continue;
            for (int t = 0; t < 4; t++) {
                size_t j = (size_t)veil_rng_below(&rng, fp[q].size);
                float keep = fp[q].data[j];
                const float eps = 1e-3f;
                fp[q].data[j] = keep + eps;
                veil_extractor_params_changed(n.f);
                double jp = objective(&n, x, gender, speaker, lambda, z);
                fp[q].data[j] = keep - eps;
                veil_extractor_params_changed(n.f);
                double jm = objective(&n, x, gender, speaker, lambda, z);
                fp[q].data[j] = keep;
                veil_extractor_params_changed(n.f);
                double fd = (jp - jm) / (2 * (double)eps), a = an[offset + j];
                dot += fd * a;
                nn_an += a * a;
                nn_fd += fd * fd;
                err = fmax(err, fabs(fd - a));
                big = fmax(big, fabs(a));
                checked++;
            }
            offset += fp[q].size;
        }
        double cosine = dot / sqrt(nn_an * nn_fd);
        CHECK_MSG(checked >= 20 && cosine > 0.999, "lambda %.1f%s: cosine(analytic, finite differences) %.6f over %d",
                  lambda, std_mean ? " standardised" : "", cosine, checked);
        /* a ReLU or max-pool switching inside +-eps bends a coordinate or two; the cosine above
         * is the tight check, this one catches a wrong scale on any coordinate */
        CHECK_MSG(err <= 0.1 * big, "lambda %.1f: worst |fd - analytic| %.3g, largest gradient %.3g", lambda,
                  err, big);
        free(an);
    }
    std_mean = std_inv_sd = NULL;
    /* the plain call is the standardised one without statistics, to the bit */
    CHECK(veil_adversarial_gradients(n.f, n.g, n.a, x, N, gender, speaker, 1.5f, &w, &lgv, &lav) == 0);
    size_t t1, t2;
    float *plain = grads_of(fp, fc, &t1);
    CHECK(veil_adversarial_gradients_std(n.f, n.g, n.a, x, N, gender, speaker, 1.5f, NULL, NULL, &w, &lgv, &lav) == 0);
    float *nostd = grads_of(fp, fc, &t2);
    CHECK(t1 == t2 && !memcmp(plain, nostd, t1 * sizeof(float)));
    free(plain);
    free(nostd);
    free(mean);
    free(inv_sd);
    /* the reversal's sign: a small step of f alone along -dJ/df with a large lambda raises
     * the adversary's loss (f works against it) */
    CHECK(veil_adversarial_gradients(n.f, n.g, n.a, x, N, gender, speaker, 10.0f, &w, &lgv, &lav) == 0);
    double before = -objective(&n, x, gender, speaker, 1, z) + objective(&n, x, gender, speaker, 0, z);
    double gmax = 0;
    for (int q = 0; q < fc; q++)
        for (size_t j = 0; j < fp[q].size && !fp[q].is_buffer; j++) gmax = fmax(gmax, fabs(fp[q].grad[j]));
    for (int q = 0; q < fc; q++)
        for (size_t j = 0; j < fp[q].size && !fp[q].is_buffer; j++) fp[q].data[j] -= (float)(1e-3 / gmax) * fp[q].grad[j];
    veil_extractor_params_changed(n.f);
    double after = -objective(&n, x, gender, speaker, 1, z) + objective(&n, x, gender, speaker, 0, z);
    CHECK_MSG(after > before, "adversary loss %.6f -> %.6f after f's step", before, after);
    free(z);
    for (int k = 0; k < 3; k++) {
        free(fgrad[k]);
        free(ggrad[k]);
        free(agrad[k]);
    }
    veil_adversarial_work_free(&w);
    veil_extractor_free(n.f);
    veil_head_free(n.g);
    veil_head_free(n.a);
    return test_finish("test_adversarial");
}
