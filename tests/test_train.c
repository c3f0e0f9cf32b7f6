/* train: Siamese pair sampling, Siamese training on a tiny separable problem, early
 * stopping keeping the best weights, collapse reported, a head on fixed features. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "veil/common.h"
#include "veil/job.h"
#include "research/train/method.h"

#define SIDE 8
#ifndef GENDER_AMP
#define GENDER_AMP 0.3
#define SPEAKER_AMP 1.0
#define NOISE_AMP 1.0
#endif

/* ns speakers of np patches each and their gender sets (testutil.h); flat: every patch
 * equal */
static void make_problem(veil_patch_set *p, test_gender_sets *s, int ns, int np, int flat, uint64_t seed)
{
    test_tiny_patches(p, ns, np, SIDE, (test_patch_amps){GENDER_AMP, SPEAKER_AMP, NOISE_AMP}, flat, seed);
    test_gender_sets_make(p, s);
}

static void problem_free(veil_patch_set *p, test_gender_sets *s)
{
    test_gender_sets_free(s);
    test_patches_free(p);
}

static veil_extractor *tiny_extractor(uint64_t seed)
{
    veil_extractor_config c;
    veil_extractor_config_paper(&c, 1);
    c.in_h = c.in_w = SIDE;
    c.filters[0] = 4;
    c.kernels[0] = 3;
    return veil_extractor_new(&c, 64, VEIL_PREC_FP32, seed);
}

/* the Siamese settings inside tc */
static veil_siamese_settings *siamese_of(veil_train_config *tc)
{
    return veil_method_settings_of(tc, VEIL_METHOD_SIAMESE);
}

static void tiny_config(veil_train_config *tc)
{
    veil_train_config_paper(tc);
    siamese_of(tc)->batch_pairs = 16;
    siamese_of(tc)->epochs = 20;
    tc->patience = 100;
    tc->extract_batch = 32;
    tc->lr = 3e-3f;
}

static void test_pairs(void)
{
    enum { N = 4000 };
    size_t *idx = malloc(N * sizeof(size_t)), *partner = malloc(N * sizeof(size_t));
    int *label = malloc(N * sizeof(int)), *speaker = malloc(N * sizeof(int)), *y = malloc(N * sizeof(int));
    for (int i = 0; i < N; i++) {
        idx[i] = (size_t)i;
        speaker[i] = i % 10;       /* 10 speakers */
        label[i] = speaker[i] >= 7; /* 7 F speakers, 3 M: unbalanced on purpose */
    }
    veil_labelled set = {N, idx, label};
    veil_rng r;
    veil_rng_seed(&r, 3);
    const double fractions[3] = {0.5, 0.2, 0.8};
    for (int t = 0; t < 3; t++) {
        CHECK(veil_pairs_draw(&set, speaker, fractions[t], &r, partner, y) == 0);
        int similar = 0, wrong = 0, same_speaker = 0;
        for (int i = 0; i < N; i++) {
            size_t j = partner[i];
            similar += y[i] == 0;
            wrong += j >= N || (y[i] == 0) != (label[j] == label[i]);
            same_speaker += y[i] == 0 && speaker[j] == speaker[i];
        }
        CHECK_NEAR((double)similar / N, fractions[t], 0.03);
        CHECK_MSG(wrong == 0, "%d pairs with a wrong label", wrong);
        CHECK_MSG(same_speaker == 0, "%d similar pairs within one speaker", same_speaker);
    }
    /* partners are spread over the other gender, not always the same patch */
    int *hit = calloc(N, sizeof(int)), distinct = 0;
    CHECK(veil_pairs_draw(&set, speaker, 0.0, &r, partner, y) == 0);
    for (int i = 0; i < N; i++) distinct += hit[partner[i]]++ == 0;
    CHECK(distinct > N / 3);
    free(hit);
    /* three classes (a task other than gender): similar = same class; a dissimilar partner
     * from either other class, each in proportion to its patches (classes of 4, 3, 3
     * speakers: from class 0 the others half each, from class 1 class 0 at 4/7) */
    for (int i = 0; i < N; i++) label[i] = speaker[i] < 4 ? 0 : speaker[i] < 7 ? 1 : 2;
    CHECK(veil_pairs_draw(&set, speaker, 0.5, &r, partner, y) == 0);
    int wrong3 = 0, from0[3] = {0, 0, 0}, from1[3] = {0, 0, 0};
    for (int i = 0; i < N; i++) {
        int lj = label[partner[i]];
        wrong3 += (y[i] == 0) != (lj == label[i]) || (y[i] == 0 && speaker[partner[i]] == speaker[i]);
        if (y[i] == 1 && label[i] == 0) from0[lj]++;
        if (y[i] == 1 && label[i] == 1) from1[lj]++;
    }
    CHECK_MSG(wrong3 == 0, "%d three-class pairs with a wrong label or speaker", wrong3);
    CHECK(from0[0] == 0 && from1[1] == 0);
    CHECK_NEAR((double)from0[1] / (from0[1] + from0[2]), 0.5, 0.06);
    CHECK_NEAR((double)from1[0] / (from1[0] + from1[2]), 4.0 / 7, 0.06);
    /* one class only: no dissimilar pair possible */
    for (int i = 0; i < N; i++) label[i] = 0;
    CHECK_FAILS_WITH(veil_pairs_draw(&set, speaker, 0.5, &r, partner, y), "one class only");
    label[0] = -1;
    CHECK_FAILS_WITH(veil_pairs_draw(&set, speaker, 0.5, &r, partner, y), "label -1 of entry 0 is negative");
    free(idx);
    free(partner);
    free(label);
    free(speaker);
    free(y);
}

static int params_equal(veil_extractor *a, veil_extractor *b)
{
    int na, nb;
    veil_param *pa = veil_extractor_params(a, &na), *pb = veil_extractor_params(b, &nb);
    if (na != nb) return 0;
    for (int i = 0; i < na; i++)
        if (memcmp(pa[i].data, pb[i].data, pa[i].size * sizeof(float))) return 0;
    return 1;
}

static void test_siamese(void)
{
    veil_patch_set p;
    test_gender_sets s;
    make_problem(&p, &s, 6, 20, 0, 5);
    veil_train_config tc;
    tiny_config(&tc);

    /* one epoch, then the whole run from the same initialisation and seed */
    veil_train_report r1, r;
    siamese_of(&tc)->epochs = 1;
    veil_extractor *f1 = tiny_extractor(1);
    CHECK(f1 && veil_train_siamese(f1, &p, &s.train, &s.eval, &tc, siamese_of(&tc), tc.lr, 9, "test", &r1) == 0);
    siamese_of(&tc)->epochs = 20;
    veil_extractor *f = tiny_extractor(1);
    CHECK(f && veil_train_siamese(f, &p, &s.train, &s.eval, &tc, siamese_of(&tc), tc.lr, 9, "test", &r) == 0);
    CHECK_MSG(r.final_loss < 0.7 * r1.final_loss, "loss %g after 20 epochs vs %g after 1",
              r.final_loss, r1.final_loss);
    CHECK_MSG(r.best_eval_acc >= 0.75 && r.best_eval_acc > r1.best_eval_acc,
              "pair verdict accuracy %.3f (after one epoch %.3f)", r.best_eval_acc, r1.best_eval_acc);
    CHECK(!r.collapsed && r.epochs_run == 20 && r.best_epoch >= 1 && r.best_epoch <= 20);
    CHECK(r.z_spread > 0 && r.d_dissimilar > r.d_similar);

    /* the kept weights are those of the best epoch: a run stopped there has the same */
    siamese_of(&tc)->epochs = r.best_epoch;
    veil_extractor *fb = tiny_extractor(1);
    veil_train_report rb;
    CHECK(fb && veil_train_siamese(fb, &p, &s.train, &s.eval, &tc, siamese_of(&tc), tc.lr, 9, "test", &rb) == 0);
    CHECK(rb.best_epoch == r.best_epoch);
    CHECK(params_equal(f, fb));
    CHECK(rb.best_eval_acc == r.best_eval_acc);

    /* early stopping: patience 1 with ties not counting stops before the end */
    siamese_of(&tc)->epochs = 40;
    tc.patience = 1;
    tc.ties_improve = 0;
    veil_extractor *fs = tiny_extractor(1);
    veil_train_report rs;
    CHECK(fs && veil_train_siamese(fs, &p, &s.train, &s.eval, &tc, siamese_of(&tc), tc.lr, 9, "test", &rs) == 0);
    CHECK(rs.epochs_run < 40 && rs.epochs_run == rs.best_epoch + 1);

    veil_extractor_free(f1);
    veil_extractor_free(f);
    veil_extractor_free(fb);
    veil_extractor_free(fs);
    problem_free(&p, &s);
}

static void test_collapse_reported(void)
{
    /* every patch the same: z has no spread, every pair looks similar */
    veil_patch_set p;
    test_gender_sets s;
    make_problem(&p, &s, 4, 10, 1, 1);
    veil_train_config tc;
    tiny_config(&tc);
    siamese_of(&tc)->epochs = 2;
    veil_extractor *f = tiny_extractor(2);
    veil_train_report r;
    CHECK(f && veil_train_siamese(f, &p, &s.train, &s.eval, &tc, siamese_of(&tc), tc.lr, 1, "flat", &r) == 0);
    CHECK(r.collapsed && r.best_epoch == 0);
    CHECK_MSG(strlen(r.collapse_reason) > 0, "empty collapse reason");
    veil_extractor_free(f);
    problem_free(&p, &s);
}

static void test_head(void)
{
    /* two Gaussian blobs in 8 dimensions */
    enum { N = 200, D = 8 };
    float x[N * D];
    int lab[N];
    veil_rng r;
    veil_rng_seed(&r, 4);
    for (int i = 0; i < N; i++) {
        lab[i] = i % 2;
        for (int k = 0; k < D; k++) x[i * D + k] = (float)((lab[i] ? 1.0 : -1.0) * (k < 2) + 0.5 * veil_rng_normal(&r));
    }
    veil_head_config hc = {D, 16, 2, 0.5f};
    veil_head *h = veil_head_new(&hc, 64, VEIL_PREC_FP32, 1);
    double before = veil_head_accuracy(h, x, lab, N, 64, NULL), loss;
    CHECK(veil_head_train(h, x, lab, N, 30, 20, 1e-2f, 2, "head", &loss) == 0);
    size_t pred[2];
    double after = veil_head_accuracy(h, x, lab, N, 64, pred);
    CHECK_MSG(after > 0.9 && after > before, "accuracy %.3f (before %.3f)", after, before);
    CHECK(pred[0] + pred[1] == N);
    veil_head_free(h);
}

/* The table of methods and the settings machinery: stable ids, defaults, JSON both
 * ways with every field, the command-line setter and its refusals. */
static void test_methods(void)
{
    int count;
    const veil_train_method *const *ms = veil_train_methods(&count);
    CHECK(count >= 2);
    CHECK(veil_train_method_by_name("reference")->id == 0 && veil_train_method_by_name("siamese")->id == 1);
    CHECK(veil_train_method_by_name("nope") == NULL && veil_train_method_by_id(VEIL_METHOD_SLOTS) == NULL);
    for (int i = 0; i < count; i++) {
        CHECK(ms[i]->id >= 0 && ms[i]->id < VEIL_METHOD_SLOTS && ms[i]->train && ms[i]->name);
        CHECK(ms[i]->settings_size <= sizeof(veil_method_settings));
        CHECK(veil_train_method_by_id(ms[i]->id) == ms[i]); /* ids unique */
        veil_method m;
        CHECK(veil_method_parse(ms[i]->name, &m) == 0 && m == ms[i]->id);
    }
    CHECK_FAILS_WITH(veil_method_parse("vib", &(veil_method){0}), "expected one of reference, siamese");

    veil_train_config tc;
    veil_train_config_paper(&tc);
    const veil_siamese_settings *ss = veil_method_settings_get(&tc, VEIL_METHOD_SIAMESE);
    CHECK(ss->epochs == 75 && ss->batch_pairs == 150 && ss->margin == 1.0f && ss->similar_fraction == 0.5);
    CHECK(ss->z_init_distance == 1.0f && ss->collapse_restarts == 2 && ss->restart_lr_factor == 0.5f);
    CHECK(tc.lr == 2e-4f && tc.bn_recalibrate == 1 && tc.dropout == 0.5f && tc.patience == 10);
    CHECK(((const veil_reference_settings *)veil_method_settings_get(&tc, VEIL_METHOD_REFERENCE))->epochs == 30);

    /* the setter: names with '-' or '_', a leading "--"; refusals name the setting */
    CHECK(veil_train_config_set(&tc, "--siamese-epochs", "12") == 0 && ss->epochs == 12);
    CHECK(veil_train_config_set(&tc, "z_init_distance", "0.25") == 0 && ss->z_init_distance == 0.25f);
    CHECK(veil_train_config_set(&tc, "gender-epochs", "7") == 0 && tc.gender_epochs == 7);
    CHECK_FAILS_WITH(veil_train_config_set(&tc, "siamese-epochs", "1.5"), "siamese_epochs must be an integer");
    CHECK_FAILS_WITH(veil_train_config_set(&tc, "similar-fraction", "2"), "similar_fraction");
    CHECK_FAILS_WITH(veil_train_config_set(&tc, "margin", "x"), "expected a number");
    CHECK_FAILS_WITH(veil_train_config_set(&tc, "no-such", "1"), "unknown setting 'no-such'");

    /* JSON both ways: every field written, read back equal, wrong types refused */
    const veil_train_method *sm = veil_train_method_by_id(VEIL_METHOD_SIAMESE);
    test_settings_json(sm, ss, "z_init_distance", 0.25, "margin", "margin is not a number");
    int nc;
    const veil_setting *common = veil_train_common_settings(&nc);
    cJSON *o = veil_settings_to_json(common, nc, &tc);
    CHECK(cJSON_GetObjectItem(o, "bn_recalibrate") && cJSON_GetObjectItem(o, "lr"));
    cJSON_Delete(o);
    char *help = veil_train_settings_help();
    CHECK(help && strstr(help, "--z-init-distance N") && strstr(help, "--reference-epochs N"));
    free(help);
}

int main(void)
{
    veil_set_threads(1);
    test_methods();
    test_pairs();
    test_siamese();
    test_collapse_reported();
    test_head();
    return test_finish("test_train");
}
