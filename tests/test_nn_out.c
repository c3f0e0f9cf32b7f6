/* The extractor's linear output layer (out_dim, the bottleneck baseline): its forward
 * against the pooled map of the same extractor without it, times W plus b in double; its
 * backward against central finite differences of a linear functional of z, on the
 * layer's own weights and on a convolution's; a model file with it, saved and loaded,
 * gives the same features. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "veil/common.h"
#include "veil/model.h"
#include "veil/nn.h"

#define SIDE 8
#define N 6
#define OUT 3

static veil_extractor_config config(int out_dim)
{
    veil_extractor_config c;
    veil_extractor_config_paper(&c, 1);
    c.in_h = c.in_w = SIDE;
    c.filters[0] = 4;
    c.kernels[0] = 3;
    c.out_dim = out_dim;
    return c;
}

/* sum of z * r over the batch (training mode) */
static double functional(veil_extractor *f, const float *x, const float *r, float *z)
{
    if (veil_extractor_forward(f, x, N, 1, z)) return NAN;
    double s = 0;
    for (int i = 0; i < N * OUT; i++) s += (double)z[i] * r[i];
    return s;
}

int main(void)
{
    veil_set_threads(1);
    veil_extractor_config c0 = config(0), c1 = config(OUT);
    CHECK(veil_extractor_config_dim(&c1) == OUT && veil_extractor_config_map_dim(&c1) == veil_extractor_config_dim(&c0));
    veil_extractor *plain = veil_extractor_new(&c0, N, VEIL_PREC_FP32, 7), *f = veil_extractor_new(&c1, N, VEIL_PREC_FP32, 7);
    CHECK(plain && f);
    if (!plain || !f) return test_finish("test_nn_out");
    int m = veil_extractor_dim(plain), pc, fc;
    veil_param *pp = veil_extractor_params(plain, &pc), *fp = veil_extractor_params(f, &fc);
    CHECK(fc == pc + 2 && !strcmp(fp[fc - 2].name, "f.out.weight") && fp[fc - 2].shape[0] == OUT &&
          fp[fc - 2].shape[1] == m && !strcmp(fp[fc - 1].name, "f.out.bias"));
    /* the same seed draws the same convolutions: the output layer's come after */
    for (int i = 0; i < pc; i++) CHECK(!memcmp(pp[i].data, fp[i].data, pp[i].size * sizeof(float)));

    float x[N * SIDE * SIDE], r[N * OUT];
    veil_rng rng;
    veil_rng_seed(&rng, 5);
    for (int i = 0; i < N * SIDE * SIDE; i++) x[i] = (float)veil_rng_normal(&rng);
    for (int i = 0; i < N * OUT; i++) r[i] = (float)veil_rng_normal(&rng);
    float *map = malloc((size_t)N * m * sizeof(float)), *z = malloc((size_t)N * OUT * sizeof(float));
    /* forward, evaluation mode: W map + b */
    CHECK(veil_extractor_forward(plain, x, N, 0, map) == 0 && veil_extractor_forward(f, x, N, 0, z) == 0);
    double worst = 0;
    for (int i = 0; i < N; i++)
        for (int k = 0; k < OUT; k++) {
            double want = fp[fc - 1].data[k];
            for (int j = 0; j < m; j++) want += (double)fp[fc - 2].data[(size_t)k * m + j] * map[(size_t)i * m + j];
            worst = fmax(worst, fabs(want - z[i * OUT + k]) / (1 + fabs(want)));
        }
    CHECK_MSG(worst < 1e-5, "output layer forward: worst relative error %.3g", worst);

    /* backward: dz = r, then finite differences of sum(z r) */
    CHECK(functional(f, x, r, z) == functional(f, x, r, z));
    CHECK(veil_extractor_backward(f, r) == 0);
    const int layers[3] = {fc - 2, fc - 1, 4}; /* f.out.weight, f.out.bias, f.g1.conv1.weight */
    CHECK(!strcmp(fp[4].name, "f.g1.conv1.weight"));
    double dot = 0, na = 0, nf = 0;
    int checked = 0;
    for (int l = 0; l < 3; l++) {
        veil_param *q = &fp[layers[l]];
        float *an = malloc(q->size * sizeof(float));
        memcpy(an, q->grad, q->size * sizeof(float));
        for (int t = 0; t < 6; t++) {
            size_t j = (size_t)veil_rng_below(&rng, q->size);
            float keep = q->data[j];
            const float eps = 1e-3f;
            q->data[j] = keep + eps;
            veil_extractor_params_changed(f);
            double up = functional(f, x, r, z);
            q->data[j] = keep - eps;
            veil_extractor_params_changed(f);
            double down = functional(f, x, r, z);
            q->data[j] = keep;
            veil_extractor_params_changed(f);
            double fd = (up - down) / (2 * (double)eps);
            dot += fd * an[j], na += (double)an[j] * an[j], nf += fd * fd;
            if (l < 2) CHECK_MSG(fabs(fd - an[j]) <= 2e-3 * (1 + fabs(fd)), "%s[%zu]: %.6g vs %.6g", q->name, j, an[j], fd);
            checked++;
        }
        free(an);
    }
    CHECK_MSG(checked == 18 && dot / sqrt(na * nf) > 0.999, "cosine(analytic, finite differences) %.6f",
              dot / sqrt(na * nf));

    /* a model file with the layer: saved, loaded, the same features */
    veil_model mo;
    memset(&mo, 0, sizeof mo);
    mo.arch = c1;
    veil_mfcc_config_default(&mo.mfcc);
    snprintf(mo.method, sizeof mo.method, "bottleneck");
    mo.trained_precision = VEIL_PREC_FP32;
    mo.f = f;
    char path[4200];
    snprintf(path, sizeof path, "%s/out.safetensors", test_tmpdir("nn_out"));
    CHECK(veil_model_save(path, &mo) == 0);
    veil_model *back = NULL;
    CHECK(veil_model_load(path, VEIL_PREC_FP32, N, &back) == 0);
    if (back) {
        float *z2 = malloc((size_t)N * OUT * sizeof(float));
        CHECK(back->arch.out_dim == OUT && veil_extractor_dim(back->f) == OUT);
        CHECK(veil_extractor_forward(f, x, N, 0, z) == 0 && veil_extractor_forward(back->f, x, N, 0, z2) == 0);
        CHECK(!memcmp(z, z2, (size_t)N * OUT * sizeof(float)));
        free(z2);
        veil_model_free(back);
    }
    free(map);
    free(z);
    veil_extractor_free(plain);
    veil_extractor_free(f);
    return test_finish("test_nn_out");
}
