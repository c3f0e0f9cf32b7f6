/* The variational-information method end to end on a tiny separable problem: it learns
 * gender, a large beta squeezes mu (the KL term acts), the same seed gives the same
 * weights, the method's entry in the table (settings, command line, JSON both ways) and
 * its train function through the seam, and an experiment that refuses to resume with
 * another beta. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "research/train/method.h"
#include "veil/common.h"
#include "veil/corpus.h"
#include "veil/experiment.h"
#include "veil/job.h"

#define SIDE 8

/* fontconfig (under cairo's toy text API, which the experiment's figures use) keeps parts
 * of its parsed configuration unreachable at exit; that is the library's, not ours. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void) { return "leak:libfontconfig.so\n"; }

static void tiny_arch(veil_extractor_config *c)
{
    veil_extractor_config_paper(c, 1);
    c->in_h = c->in_w = SIDE;
    c->filters[0] = 4;
    c->kernels[0] = 3;
}

static veil_variational_settings *vib_of(veil_train_config *tc)
{
    return veil_method_settings_of(tc, VEIL_METHOD_VARIATIONAL);
}

static void tiny_config(veil_train_config *tc)
{
    veil_train_config_paper(tc);
    vib_of(tc)->epochs = 25;
    vib_of(tc)->logvar_init = -4;
    tc->gender_batch = 32;
    tc->patience = 100;
    tc->extract_batch = 32;
    tc->head_hidden = 16;
    tc->lr = 3e-3f;
}

typedef struct run {
    veil_extractor *f;
    veil_head *g;
    veil_train_report rep;
    int rc;
} run;

static run train_once(const veil_patch_set *p, const veil_labelled *train, const veil_labelled *eval,
                      const veil_train_config *tc, uint64_t seed)
{
    veil_extractor_config c;
    tiny_arch(&c);
    int dim = veil_extractor_config_dim(&c);
    veil_head_config hc = {dim, tc->head_hidden, 2, tc->dropout};
    run r = {veil_extractor_new(&c, tc->gender_batch, VEIL_PREC_FP32, seed),
             veil_head_new(&hc, tc->gender_batch, VEIL_PREC_FP32, seed + 1), {0}, -1};
    const veil_variational_settings *vs = veil_method_settings_get(tc, VEIL_METHOD_VARIATIONAL);
    veil_logvar *v = veil_logvar_new(&c, tc->gender_batch, VEIL_PREC_FP32, seed + 2, vs->logvar_init);
    if (r.f && r.g && v)
        r.rc = veil_train_variational(r.f, v, r.g, p, train, eval, tc, vs, seed + 3, "test", &r.rep);
    CHECK_MSG(r.rc == 0, "variational training: %s", veil_last_error());
    veil_logvar_free(v);
    return r;
}

static void run_free(run *r)
{
    veil_extractor_free(r->f);
    veil_head_free(r->g);
}

static int same_params(veil_param *a, veil_param *b, int n)
{
    for (int i = 0; i < n; i++)
        if (memcmp(a[i].data, b[i].data, a[i].size * sizeof(float))) return 0;
    return 1;
}

static void test_training(void)
{
    veil_patch_set p;
    test_tiny_patches(&p, 8, 24, SIDE, (test_patch_amps){0.5, 1, 1}, 0, 5);
    test_gender_sets s;
    test_gender_sets_make(&p, &s);
    veil_train_config tc;
    tiny_config(&tc);

    /* small beta: learns gender (chance is 50 %), better than after one epoch */
    vib_of(&tc)->beta = 1e-3;
    vib_of(&tc)->epochs = 1;
    run r1 = train_once(&p, &s.train, &s.eval, &tc, 11);
    vib_of(&tc)->epochs = 25;
    run r = train_once(&p, &s.train, &s.eval, &tc, 11);
    CHECK_MSG(r.rep.best_eval_acc >= 0.85 && r.rep.best_eval_acc > r1.rep.best_eval_acc,
              "gender-eval %.3f (after one epoch %.3f)", r.rep.best_eval_acc, r1.rep.best_eval_acc);
    CHECK(r.rep.epochs_run == 25 && r.rep.best_epoch >= 1 && isfinite(r.rep.final_loss));
    CHECK(r.rep.final_loss < r1.rep.final_loss);
    CHECK(isnan(r.rep.d_similar) && r.rep.z_spread > 0);
    CHECK(r.rep.eval_seconds > 0); /* the job's stage profile */

    /* the same seed gives the same f and g */
    run rb = train_once(&p, &s.train, &s.eval, &tc, 11);
    /* the counts first: an argument list has no order of evaluation */
    int nf, ng;
    veil_param *f_first = veil_extractor_params(r.f, &nf), *g_first = veil_head_params(r.g, &ng);
    CHECK(same_params(f_first, veil_extractor_params(rb.f, &nf), nf));
    CHECK(same_params(g_first, veil_head_params(rb.g, &ng), ng));
    CHECK(rb.rep.best_eval_acc == r.rep.best_eval_acc && rb.rep.best_epoch == r.rep.best_epoch);

    /* a large beta: the KL term pulls mu towards 0, so z keeps far less spread */
    vib_of(&tc)->beta = 10;
    run big = train_once(&p, &s.train, &s.eval, &tc, 11);
    CHECK_MSG(big.rep.z_spread < 0.5 * r.rep.z_spread, "z spread %.4g at beta 10 vs %.4g at beta 1e-3",
              big.rep.z_spread, r.rep.z_spread);

    /* early stopping keeps the best epoch: patience 1 without ties stops right after it */
    tc.patience = 1;
    tc.ties_improve = 0;
    vib_of(&tc)->beta = 1e-3;
    vib_of(&tc)->epochs = 40;
    run rs = train_once(&p, &s.train, &s.eval, &tc, 11);
    if (getenv("VEIL_TEST_VERBOSE"))
        printf("gender-eval %.3f (1 epoch %.3f), z spread %.4g (beta 10: %.4g), early stop at %d\n", r.rep.best_eval_acc,
               r1.rep.best_eval_acc, r.rep.z_spread, big.rep.z_spread, rs.rep.epochs_run);
    CHECK(rs.rep.epochs_run < 40 && rs.rep.epochs_run == rs.rep.best_epoch + 1);

    /* bad input: no evaluation patches */
    veil_labelled none = {0, s.eval.idx, s.eval.label};
    veil_extractor_config c;
    tiny_arch(&c);
    veil_extractor *f = veil_extractor_new(&c, 32, VEIL_PREC_FP32, 1);
    veil_head_config hc = {veil_extractor_config_dim(&c), 16, 2, 0.5f};
    veil_head *g = veil_head_new(&hc, 32, VEIL_PREC_FP32, 2);
    veil_logvar *v = veil_logvar_new(&c, 32, VEIL_PREC_FP32, 3, -4);
    veil_train_report rep;
    CHECK_FAILS_WITH(veil_train_variational(f, v, g, &p, &s.train, &none, &tc, vib_of(&tc), 1, "test", &rep),
                     "evaluation patches");
    veil_extractor_free(f), veil_head_free(g), veil_logvar_free(v);

    /* through the seam: the method's train function on a context */
    veil_train_config_paper(&tc);
    tiny_config(&tc);
    vib_of(&tc)->epochs = 3;
    const veil_train_method *m = veil_train_method_by_name("variational");
    CHECK(m != NULL);
    if (m) {
        veil_train_context ctx = {&p, &s.train, &s.eval, s.train_speaker, s.eval_speaker, 8, &c, &tc, vib_of(&tc), VEIL_PREC_FP32, 99, "ctx", 2};
        veil_trained out;
        memset(&out, 0, sizeof out);
        CHECK_MSG(m->train(&ctx, &out) == 0, "%s", veil_last_error());
        CHECK(out.f && out.g && veil_extractor_dim(out.f) == veil_extractor_config_dim(&c));
        CHECK(out.rep.epochs_run == 3);
        veil_extractor_free(out.f);
        veil_head_free(out.g);
    }
    run_free(&r1), run_free(&r), run_free(&rb), run_free(&big), run_free(&rs);
    test_gender_sets_free(&s);
    test_patches_free(&p);
}

/* the method's entry: name, id, settings with defaults, the command line, JSON both ways */
static void test_entry(void)
{
    const veil_train_method *m = veil_train_method_by_name("variational");
    CHECK(m && m->id == VEIL_METHOD_VARIATIONAL && veil_train_method_by_id(VEIL_METHOD_VARIATIONAL) == m);
    if (!m) return;
    veil_train_config tc;
    veil_train_config_paper(&tc);
    veil_variational_settings *vs = vib_of(&tc);
    CHECK(vs->beta == 1e-2 && vs->epochs == 30 && vs->logvar_init == -6.0f);
    CHECK(veil_train_config_set(&tc, "--vib-beta", "0.1") == 0 && vs->beta == 0.1);
    CHECK(veil_train_config_set(&tc, "vib_logvar_init", "-3") == 0 && vs->logvar_init == -3.0f);
    CHECK_FAILS_WITH(veil_train_config_set(&tc, "vib-beta", "-1"), "vib_beta");
    CHECK_FAILS_WITH(veil_train_config_set(&tc, "vib-beta", "nan"), "vib_beta");
    CHECK_FAILS_WITH(veil_train_config_set(&tc, "vib-epochs", "2.5"), "vib_epochs must be an integer");
    test_settings_json(m, vs, "vib_beta", 0.1, "vib_beta", "vib_beta");
    char *help = veil_train_settings_help();
    CHECK(help && strstr(help, "--vib-beta N") && strstr(help, "--vib-logvar-init N"));
    free(help);
}

/* A one-job grid (variational at G = 1, tiny network) on a synthetic corpus: resuming the
 * same output folder with another beta is refused and the message names the setting. */
static void test_resume_refuses_beta(void)
{
    const char *tmp = test_tmpdir("variational");
    char corpus[4200], out[4200], cache[4200];
    snprintf(corpus, sizeof corpus, "%s/corpus", tmp);
    snprintf(out, sizeof out, "%s/out", tmp);
    snprintf(cache, sizeof cache, "%s/cache", tmp);
    CHECK(test_tiny_corpus(corpus, 8, 6) == 0);
    veil_experiment_config c;
    memset(&c, 0, sizeof c);
    c.corpus = corpus;
    c.out = out;
    c.cache = cache;
    veil_experiment_preset(&c, "quick");
    memset(c.with_method, 0, sizeof c.with_method);
    c.with_method[VEIL_METHOD_VARIATIONAL] = 1;
    c.protocol.train_speakers = 4;
    c.protocol.attack_groups = 1;
    c.n_groups = 1;
    c.groups[0] = 1;
    c.cv = 1;
    c.precision = VEIL_PREC_FP32;
    c.threads = 1;
    c.seed = 7;
    c.train.gender_epochs = 1;
    c.train.attack_epochs = 2;
    c.train.head_hidden = 32;
    c.train.filter_divisor = 16;
    CHECK(veil_train_config_set(&c.train, "vib_epochs", "2") == 0);
    CHECK(veil_train_config_set(&c.train, "vib_beta", "0.01") == 0);
    CHECK_MSG(veil_experiment_run(&c) == 0, "%s", veil_last_error());
    char path[8400], *results = NULL;
    snprintf(path, sizeof path, "%s/results.jsonl", out);
    CHECK(veil_read_file(path, &results, NULL) == 0 && results && strstr(results, "\"method\":\"variational\"") &&
          strstr(results, "\"vib_beta\":0.01"));
    free(results);
    CHECK(veil_train_config_set(&c.train, "vib_beta", "0.1") == 0);
    CHECK_FAILS_WITH(veil_experiment_run(&c), "method_settings.variational.vib_beta (was 0.01, now 0.1)");
    CHECK(veil_train_config_set(&c.train, "vib_beta", "0.01") == 0);
    CHECK_MSG(veil_experiment_run(&c) == 0, "the same beta resumes: %s", veil_last_error());
}

int main(void)
{
    veil_verbosity = 0;
    veil_set_threads(1);
    test_entry();
    test_training();
    test_resume_refuses_beta();
    return test_finish("test_variational");
}
