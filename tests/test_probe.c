/* probe: the feature table helpers (utterance pooling against a hand computation,
 * standardisation, the attacker list) and every probe of the table on synthetic Gaussian
 * clusters with a known answer: well separated -> near 100 %, one distribution for every
 * class -> near chance. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "veil/common.h"
#include "veil/probe.h"
#include "research/probe/probe_internal.h"

/* k classes, rows_per_class rows each in utts_per_class utterances; class c's mean is
 * sep * e_c (a direction of its own), unit noise; every dimension scaled by scale. */
static void clusters(veil_feature_table *t, int k, int rows_per_class, int utts_per_class, int dim,
                     double sep, double scale, uint64_t seed)
{
    veil_feature_table_alloc(t, (size_t)k * (size_t)rows_per_class, dim, k);
    veil_rng r;
    veil_rng_seed(&r, seed);
    for (int c = 0; c < k; c++)
        for (int i = 0; i < rows_per_class; i++) {
            size_t row = (size_t)c * (size_t)rows_per_class + (size_t)i;
            for (int j = 0; j < dim; j++)
                t->z[row * (size_t)dim + (size_t)j] =
                    (float)(scale * ((j == c % dim ? sep : 0.0) + veil_rng_normal(&r)));
            t->label[row] = c;
            t->speaker[row] = 100 + c;
            t->gender[row] = c % 2;
            t->utterance[row] = c * utts_per_class + i % utts_per_class;
            t->file[row] = t->utterance[row];
        }
}

static void test_identification_by_hand(void)
{
    /* 2 classes, 5 rows: utterance 7 = rows 0, 2, 4 (label 0), utterance 3 = rows 1, 3 (label 1) */
    veil_feature_table t;
    veil_feature_table_alloc(&t, 5, 1, 2);
    int lab[5] = {0, 1, 0, 1, 0}, utt[5] = {7, 3, 7, 3, 7};
    for (int i = 0; i < 5; i++) t.label[i] = lab[i], t.utterance[i] = utt[i];
    float logp[10] = {
        logf(0.4f), logf(0.6f), /* wrong */
        logf(0.3f), logf(0.7f), /* right */
        logf(0.9f), logf(0.1f), /* right */
        logf(0.6f), logf(0.4f), /* wrong */
        logf(0.45f), logf(0.55f), /* wrong */
    };
    veil_probe_result r;
    veil_probe_result_clear(&r);
    veil_probe_identification(&t, logp, &r);
    CHECK_NEAR(r.acc, 2.0 / 5.0, 1e-12);
    CHECK_NEAR(r.chance, 0.5, 1e-12);
    /* utterance 7: log .4+log .9+log .45 = log .162 vs log .6+log .1+log .55 = log .033 -> 0,
     * right; utterance 3: log .7+log .4 = log .28 vs log .3+log .6 = log .18 -> 1, right.
     * Two of two although three of the five patches are wrong. */
    CHECK_NEAR(r.acc_utt, 1.0, 1e-12);
    logp[4] = logf(0.01f); /* utterance 7: log .4+log .01+log .45 = log .0018 < log .033 */
    veil_probe_identification(&t, logp, &r);
    CHECK_NEAR(r.acc_utt, 0.5, 1e-12);
    CHECK(isnan(r.eer) && isnan(r.min_dcf));
    veil_feature_table_free(&t);
}

static void test_standardised(void)
{
    veil_feature_table a, b;
    clusters(&a, 4, 50, 5, 3, 2.0, 0.004, 1);
    clusters(&b, 4, 10, 2, 3, 2.0, 0.004, 2);
    float *x = veil_probe_standardised(&a, &a);
    for (int j = 0; j < 3; j++) {
        double s = 0, s2 = 0;
        for (size_t i = 0; i < a.n; i++) s += x[i * 3 + (size_t)j], s2 += (double)x[i * 3 + (size_t)j] * x[i * 3 + (size_t)j];
        CHECK_NEAR(s / (double)a.n, 0, 1e-5);
        CHECK_NEAR(s2 / (double)a.n, 1, 1e-4);
    }
    free(x);
    /* the test table with the training table's statistics, not its own */
    x = veil_probe_standardised(&a, &b);
    double mean = 0, sd = 0;
    for (size_t i = 0; i < a.n; i++) mean += a.z[i * 3];
    mean /= (double)a.n;
    for (size_t i = 0; i < a.n; i++) sd += (a.z[i * 3] - mean) * (a.z[i * 3] - mean);
    sd = sqrt(sd / (double)a.n);
    CHECK_NEAR(x[0], (b.z[0] - mean) / sd, 1e-4);
    free(x);
    veil_feature_table_free(&a);
    veil_feature_table_free(&b);
}

static void test_list(void)
{
    int count, n;
    const veil_probe *t = veil_probes(&count);
    CHECK(count >= 1 && !strcmp(t[0].name, "paper-mlp"));
    for (int i = 0; i < count; i++) CHECK(veil_probe_find(t[i].name) == &t[i] && strlen(t[i].about) > 0);
    const veil_probe **list = malloc((size_t)count * sizeof *list);
    CHECK(veil_probe_parse_list("all", list, &n) == 0 && n == count);
    CHECK(veil_probe_parse_list("paper-mlp,paper-mlp", list, &n) == 0 && n == 1 && list[0] == &t[0]);
    CHECK_FAILS_WITH(veil_probe_parse_list("paper-mlp,nope", list, &n), "unknown attacker 'nope'");
    CHECK_FAILS_WITH(veil_probe_parse_list(",", list, &n), "empty attacker list");
    /* cheap: the quick preset's battery, with one per-utterance attacker and a verifier */
    CHECK(veil_probe_parse_list("cheap", list, &n) == 0 && n >= 2 && n < count);
    int has_logreg = 0, has_verify = 0;
    for (int i = 0; i < n; i++) {
        has_logreg |= !strcmp(list[i]->name, "logreg");
        has_verify |= !strncmp(list[i]->name, "verify-", 7);
    }
    CHECK(has_logreg && has_verify);
    free(list);
}

/* Every probe: separated clusters -> near 100 %; one distribution -> near chance. */
static void test_probes_on_clusters(void)
{
    int count;
    const veil_probe *t = veil_probes(&count);
    const int k = 6, dim = 12;
    for (int sep = 0; sep < 2; sep++) {
        veil_feature_table tr, te, ot;
        /* tiny scale: what the raw MLP sees on Siamese G = 5 features */
        double scale = 1.0;
        clusters(&tr, k, 60, 6, dim, sep ? 8.0 : 0.0, scale, 11);
        clusters(&te, k, 30, 3, dim, sep ? 8.0 : 0.0, scale, 12);
        for (size_t i = 0; i < te.n; i++) te.utterance[i] += 1000; /* utterances of their own */
        clusters(&ot, k, 30, 3, dim, sep ? 8.0 : 0.0, scale, 13);
        veil_feature_table utr, ute;
        veil_probe_utterance_split(&tr, &te, 0.7, 5, &utr, &ute);
        for (int p = 0; p < count; p++) {
            veil_probe_input in = {&tr, &te, &ot, 99, VEIL_PREC_FP32, 40, 30, 64, 2e-3f, 0.1f,
                                   t[p].name, 5, 0, 64, &utr, &ute, NULL, 0};
            veil_probe_result r;
            veil_probe_result_clear(&r);
            CHECK_MSG(t[p].score(&in, &r) == 0, "%s", t[p].name);
            if (!isnan(r.acc)) {
                CHECK_NEAR(r.chance, 1.0 / k, 1e-12);
                /* numbers per utterance come from whole held-out utterances only: the
                 * patch-split MLPs give none */
                int patch_split = !strcmp(t[p].name, "paper-mlp") || !strcmp(t[p].name, "paper-mlp-std");
                CHECK_MSG(patch_split ? isnan(r.acc_utt) : !isnan(r.acc_utt), "%s: acc_utt %.3f", t[p].name, r.acc_utt);
                if (sep) CHECK_MSG(r.acc > 0.95 && (patch_split || r.acc_utt > 0.95), "%s separated: %.3f / %.3f", t[p].name, r.acc, r.acc_utt);
                else CHECK_MSG(r.acc < 0.35 && !(r.acc_utt > 0.5), "%s identical: %.3f / %.3f (chance %.3f)", t[p].name, r.acc, r.acc_utt, 1.0 / k);
            }
            if (!isnan(r.eer)) {
                if (sep) CHECK_MSG(r.eer < 0.05, "%s separated: EER %.3f", t[p].name, r.eer);
                else CHECK_MSG(r.eer > 0.3, "%s identical: EER %.3f", t[p].name, r.eer);
            }
        }
        veil_feature_table_free(&tr);
        veil_feature_table_free(&te);
        veil_feature_table_free(&ot);
        veil_feature_table_free(&utr);
        veil_feature_table_free(&ute);
    }
}

/* k speakers (ids first..), rows_per rows each in utts_per utterances, speaker s's mean a
 * random direction of length sep (drawn from seed); gender alternates. */
static void random_clusters(veil_feature_table *t, int k, int first, int rows_per, int utts_per, int dim,
                            double sep, uint64_t seed)
{
    veil_feature_table_alloc(t, (size_t)k * (size_t)rows_per, dim, k);
    veil_rng r;
    veil_rng_seed(&r, seed);
    double *mean = malloc((size_t)dim * sizeof *mean);
    for (int c = 0; c < k; c++) {
        double q = 0;
        for (int j = 0; j < dim; j++) {
            mean[j] = veil_rng_normal(&r);
            q += mean[j] * mean[j];
        }
        for (int j = 0; j < dim; j++) mean[j] *= sep / sqrt(q);
        for (int i = 0; i < rows_per; i++) {
            size_t row = (size_t)c * (size_t)rows_per + (size_t)i;
            for (int j = 0; j < dim; j++) t->z[row * (size_t)dim + (size_t)j] = (float)(mean[j] + veil_rng_normal(&r));
            t->label[row] = c;
            t->speaker[row] = first + c;
            t->gender[row] = c % 2;
            t->utterance[row] = (first + c) * utts_per + i % utts_per;
            t->file[row] = t->utterance[row];
        }
    }
    free(mean);
}

/* The semi-informed attacker: an embedding learned on other speakers separates unseen
 * separable speakers (EER near 0, identification near 100 %) and not speakers of one
 * distribution (EER near 50 %); it never learns from the group's own speakers; the same
 * seed gives the same numbers. */
static void test_semi_informed(void)
{
    const veil_probe *semi = veil_probe_find("semi-informed");
    CHECK(semi && semi->needs_pool);
    if (!semi) return;
    const int k = 8, dim = 16;
    for (int sep = 0; sep < 2; sep++) {
        double d = sep ? 6.0 : 0.0;
        veil_feature_table g, others, tr, te;
        random_clusters(&g, k, 0, 40, 8, dim, d, 21);
        random_clusters(&others, 60, 1000, 40, 8, dim, d, 22);
        /* the group's rows split per patch as the experiment does: every other row to test */
        veil_feature_table_alloc(&tr, g.n - g.n / 2, dim, k);
        veil_feature_table_alloc(&te, g.n / 2, dim, k);
        for (size_t i = 0, a = 0, b = 0; i < g.n; i++) {
            veil_feature_table *t = i % 2 ? &te : &tr;
            size_t j = i % 2 ? b++ : a++;
            memcpy(t->z + j * dim, g.z + i * dim, dim * sizeof(float));
            t->label[j] = g.label[i], t->speaker[j] = g.speaker[i], t->gender[j] = g.gender[i];
            t->utterance[j] = g.utterance[i], t->file[j] = g.file[i];
        }
        veil_feature_table utr, ute;
        veil_probe_utterance_split(&tr, &te, 0.7, 5, &utr, &ute);
        /* the pool as veil_attack_run gives it: the group's own tables among the others */
        const veil_feature_table *pool[3] = {&tr, &others, &te};
        veil_probe_input in = {&tr, &te, NULL, 77, VEIL_PREC_FP32, 30, 30, 64, 2e-3f, 0.1f, "semi", 5, 0, 64,
                               &utr, &ute, pool, 3};
        veil_feature_table learn;
        probe_pool_table(&in, &learn);
        CHECK(learn.n == others.n && learn.n_classes == 60);
        int foreign = 0;
        for (size_t i = 0; i < learn.n; i++) foreign += learn.speaker[i] < 1000;
        CHECK_MSG(foreign == 0, "%d rows of the group's speakers in the pool", foreign);
        veil_feature_table_free(&learn);
        veil_probe_result r, again;
        CHECK(semi->score(&in, &r) == 0);
        CHECK(semi->score(&in, &again) == 0);
        CHECK(r.eer == again.eer && r.acc_utt == again.acc_utt && r.eer_same_gender == again.eer_same_gender);
        CHECK_NEAR(r.chance, 1.0 / k, 1e-12);
        if (sep) {
            CHECK_MSG(r.eer < 0.05 && r.eer_same_gender < 0.05, "separated: EER %.3f, same gender %.3f", r.eer,
                      r.eer_same_gender);
            CHECK_MSG(r.acc_utt > 0.95 && r.acc > 0.8, "separated: %.3f per patch, %.3f per utterance", r.acc, r.acc_utt);
        } else {
            CHECK_MSG(r.eer > 0.35 && r.eer_same_gender > 0.3, "identical: EER %.3f, same gender %.3f", r.eer,
                      r.eer_same_gender);
            CHECK_MSG(r.acc_utt < 0.45, "identical: %.3f per utterance (chance %.3f)", r.acc_utt, 1.0 / k);
        }
        CHECK(r.eer_lo <= r.eer && r.eer <= r.eer_hi);
        /* without speakers outside the group: no result, no error */
        veil_probe_input alone = in;
        const veil_feature_table *own[2] = {&tr, &te};
        alone.pool = own;
        alone.n_pool = 2;
        veil_probe_result none;
        CHECK(semi->score(&alone, &none) == 0 && isnan(none.eer) && isnan(none.acc));
        veil_feature_table_free(&g);
        veil_feature_table_free(&others);
        veil_feature_table_free(&tr);
        veil_feature_table_free(&te);
        veil_feature_table_free(&utr);
        veil_feature_table_free(&ute);
    }
}

/* The utterance split: every row once, no utterance on both sides, about 70/30 of each
 * speaker's utterances, the same for the same seed, another for another seed. */
static void test_utterance_split(void)
{
    veil_feature_table a, b, tr, te, tr2, te2;
    clusters(&a, 5, 70, 10, 4, 1.0, 1.0, 3);
    clusters(&b, 5, 30, 10, 4, 1.0, 1.0, 4); /* the same utterances: a patch split's two sides */
    veil_probe_utterance_split(&a, &b, 0.7, 9, &tr, &te);
    CHECK(tr.n + te.n == a.n + b.n && tr.n_classes == 5 && tr.dim == 4);
    for (size_t i = 0; i < tr.n; i++)
        for (size_t j = 0; j < te.n; j++) CHECK(tr.utterance[i] != te.utterance[j] || tr.label[i] != te.label[j]);
    for (int c = 0; c < 5; c++) {
        int ut[4096] = {0}, ue[4096] = {0}, nt = 0, ne = 0;
        for (size_t i = 0; i < tr.n; i++)
            if (tr.label[i] == c && !ut[tr.utterance[i]]++) nt++;
        for (size_t i = 0; i < te.n; i++)
            if (te.label[i] == c && !ue[te.utterance[i]]++) ne++;
        CHECK_MSG(nt == 7 && ne == 3, "class %d: %d train / %d test utterances", c, nt, ne);
    }
    veil_probe_utterance_split(&a, &b, 0.7, 9, &tr2, &te2);
    CHECK(tr2.n == tr.n && !memcmp(tr2.utterance, tr.utterance, tr.n * sizeof(int)) &&
          !memcmp(tr2.z, tr.z, tr.n * 4 * sizeof(float)));
    veil_feature_table_free(&tr2);
    veil_feature_table_free(&te2);
    veil_probe_utterance_split(&a, &b, 0.7, 10, &tr2, &te2);
    CHECK(tr2.n != tr.n || memcmp(tr2.utterance, tr.utterance, tr.n * sizeof(int)));
    veil_feature_table_free(&tr2);
    veil_feature_table_free(&te2);
    veil_feature_table_free(&tr);
    veil_feature_table_free(&te);
    /* a class with one utterance keeps the split its rows came with */
    for (size_t i = 0; i < a.n; i++)
        if (a.label[i] == 2) a.utterance[i] = 999;
    for (size_t i = 0; i < b.n; i++)
        if (b.label[i] == 2) b.utterance[i] = 999;
    veil_probe_utterance_split(&a, &b, 0.7, 9, &tr, &te);
    size_t n2t = 0, n2e = 0;
    for (size_t i = 0; i < tr.n; i++) n2t += tr.label[i] == 2;
    for (size_t i = 0; i < te.n; i++) n2e += te.label[i] == 2;
    CHECK(n2t == 70 && n2e == 30 && tr.n + te.n == a.n + b.n);
    veil_feature_table_free(&tr);
    veil_feature_table_free(&te);
    veil_feature_table_free(&a);
    veil_feature_table_free(&b);
}

int main(void)
{
    veil_set_threads(1);
    test_identification_by_hand();
    test_standardised();
    test_list();
    test_probes_on_clusters();
    test_utterance_split();
    test_semi_informed();
    return test_finish("probe");
}
