/* job: a whole veil_job_run (Siamese and reference) on tiny structured patches: every
 * result field filled sanely, deterministic, JSON round trip, and the saved model gives
 * the features the job's extractor gave. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "veil/common.h"
#include "veil/job.h"
#include "research/train/method.h"

#define SIDE 8
#define NS 12
#define NP 16

typedef struct {
    veil_corpus c;
    veil_patch_set p;
    char ids[NS][16];
} fixture;

/* the tiny patch set (testutil.h) of NS speakers, 4 utterances each, as a corpus */
static void fixture_make(fixture *f)
{
    memset(f, 0, sizeof *f);
    test_tiny_patches(&f->p, NS, NP, SIDE, (test_patch_amps){1, 0.7, 0.5}, 0, 77);
    f->p.patch_utt = calloc(f->p.n_patches, sizeof(int32_t));
    for (size_t i = 0; i < f->p.n_patches; i++) f->p.patch_utt[i] = (int32_t)(i / (NP / 4));
    f->c.n_speakers = NS;
    f->c.speakers = calloc(NS, sizeof(veil_speaker));
    f->c.root = "memory";
    for (int s = 0; s < NS; s++) {
        int male = s >= NS / 2;
        snprintf(f->ids[s], sizeof f->ids[s], "%c%02d", male ? 'M' : 'F', s);
        f->c.speakers[s].id = f->ids[s];
        f->c.speakers[s].gender = male ? 'M' : 'F';
    }
}

static void tiny_config(veil_train_config *tc)
{
    veil_train_config_paper(tc);
    veil_siamese_settings *ss = veil_method_settings_of(tc, VEIL_METHOD_SIAMESE);
    ss->epochs = 4;
    ss->batch_pairs = 16;
    tc->gender_epochs = 30;
    tc->gender_batch = 10;
    CHECK(veil_train_config_set(tc, "reference_epochs", "15") == 0);
    tc->attack_epochs = 5;
    tc->attack_batch = 10;
    tc->head_hidden = 16;
    tc->extract_batch = 32;
    tc->filter_divisor = 16; /* 4 filters */
    tc->lr = 2e-3f;
}

static void check_result(const veil_job_result *r, const veil_split *s, veil_method m)
{
    CHECK(r->method == m && r->groups == 1 && r->iteration == 3 && r->seed == 0xfedcba9876543210ULL);
    CHECK(r->precision == VEIL_PREC_FP32);
    CHECK(r->gender_eval_acc >= 0 && r->gender_eval_acc <= 1);
    CHECK(r->gender_test_acc >= 0 && r->gender_test_acc <= 1);
    CHECK(r->n_attack_groups == s->n_groups && r->n_attack_groups == 2);
    double sum = 0;
    int in_range = 1;
    for (int i = 0; i < r->n_attack_groups; i++) {
        sum += r->attack_acc[i];
        in_range &= r->attack_acc[i] >= 0 && r->attack_acc[i] <= 1;
    }
    CHECK(in_range);
    CHECK_NEAR(r->attack_acc_mean, sum / r->n_attack_groups, 1e-12);
    CHECK(r->epochs_run >= 1);
    CHECK(isfinite(r->final_loss) && (m == 2 || r->final_loss >= 0)); /* adversarial: L_g - lambda L_a */
    if (m == VEIL_METHOD_SIAMESE) CHECK(r->pair_verdict_acc >= 0 && r->pair_verdict_acc <= 1);
    else CHECK(isnan(r->pair_verdict_acc));
    CHECK(r->z_spread > 0);
    CHECK(r->collapsed == 0 || strlen(r->collapse_reason) > 0);
    CHECK(r->seconds > 0);
    /* the stage profile: every stage ran, none longer than the job (io is outside it) */
    const veil_job_stages *st = &r->stages;
    double named = st->train + st->train_eval + st->extract + st->gender + st->attackers;
    CHECK(st->train > 0 && st->train_eval > 0 && st->extract > 0 && st->gender > 0 && st->attackers > 0);
    CHECK_MSG(named <= r->seconds, "stages sum to %.3f s, the job took %.3f s", named, r->seconds);
    CHECK(st->io == 0);
    /* the battery (paper-mlp alone by default): attack_acc is its per-patch accuracy; the
     * split is recorded by speaker id */
    CHECK(r->n_attackers == 1 && !strcmp(r->attackers[0].name, "paper-mlp"));
    for (int i = 0; r->n_attackers && i < r->n_attack_groups; i++) {
        const veil_probe_result *q = &r->attackers[0].group[i];
        /* per patch only: its patch split gives no whole held-out utterances */
        CHECK(q->acc == r->attack_acc[i] && isnan(q->acc_utt));
        CHECK_NEAR(q->chance, 1.0 / s->st, 1e-12);
        CHECK(isnan(q->eer) && isnan(q->min_dcf));
    }
    CHECK(r->n_train_speakers == s->n_train_speakers && r->st == s->st);
    for (int i = 0; i < s->n_train_speakers; i++)
        CHECK(!strcmp(r->train_speakers[i], s->speaker_id[s->train_speakers[i]]));
    for (int i = 0; i < s->n_groups * s->st; i++)
        CHECK(!strcmp(r->group_speakers[i], s->speaker_id[s->group_speakers[i]]));
    /* the gender patterns are easy: the recognizer must beat chance clearly */
    CHECK_MSG(r->gender_test_acc > 0.8, "gender test accuracy %.3f", r->gender_test_acc);
}

/* JSON without the "seconds" field, to compare runs */
static char *json_without_seconds(const veil_job_result *r)
{
    veil_job_result c = *r;
    c.seconds = 0;
    memset(&c.stages, 0, sizeof c.stages);
    c.attackers = calloc((size_t)r->n_attackers + 1, sizeof *c.attackers);
    for (int i = 0; i < r->n_attackers; i++) {
        c.attackers[i] = r->attackers[i];
        c.attackers[i].seconds = 0;
    }
    char *s = veil_job_result_to_json(&c);
    free(c.attackers);
    return s;
}

static void test_json(const veil_job_result *r)
{
    char *line = veil_job_result_to_json(r);
    CHECK(line && !strchr(line, '\n'));
    const char *keys[] = {"\"method\"", "\"groups\"", "\"iteration\"", "\"seed\"", "\"precision\"",
                          "\"gender_eval_acc\"", "\"gender_test_acc\"", "\"attack_acc\"",
                          "\"attack_acc_mean\"", "\"epochs_run\"", "\"final_loss\"",
                          "\"pair_verdict_acc\"", "\"z_spread\"", "\"collapsed\"",
                          "\"collapse_reason\"", "\"seconds\"", "\"settings\"", "\"stages\"",
                          "\"train_eval\"", "\"attackers\""};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        CHECK_MSG(strstr(line, keys[i]) != NULL, "%s missing from %s", keys[i], line);
    veil_job_result back;
    CHECK(veil_job_result_from_json(line, &back) == 0);
    char *again = veil_job_result_to_json(&back);
    CHECK_MSG(!strcmp(line, again), "round trip differs:\n%s\n%s", line, again);
    CHECK(back.seed == r->seed && back.n_attack_groups == r->n_attack_groups);
    CHECK(back.gender_test_acc == r->gender_test_acc && back.attack_acc_mean == r->attack_acc_mean);
    /* cJSON prints a double with 15 digits when that reads back within its epsilon: 1 ulp */
    CHECK_NEAR(back.stages.train, r->stages.train, 1e-15 * fabs(r->stages.train));
    CHECK_NEAR(back.stages.attackers, r->stages.attackers, 1e-15 * fabs(r->stages.attackers));
    CHECK(back.n_attackers == r->n_attackers && back.n_train_speakers == r->n_train_speakers);
    CHECK(back.n_attackers && back.attackers[0].group[0].acc == r->attackers[0].group[0].acc &&
          isnan(back.attackers[0].group[0].acc_utt) == isnan(r->attackers[0].group[0].acc_utt));
    free(again);
    veil_job_result_free(&back);
    free(line);
    CHECK_FAILS_WITH(veil_job_result_from_json("{\"method\":\"nope\"}", &back), "method");
    CHECK_FAILS_WITH(veil_job_result_from_json("not json", &back), "not a JSON object");
}

int main(void)
{
    veil_set_threads(1);
    fixture fx;
    fixture_make(&fx);
    veil_protocol_config pc;
    veil_protocol_config_paper(&pc);
    pc.train_speakers = 4;
    veil_split s;
    CHECK(veil_split_make(&fx.c, &fx.p, &pc, 1, &s) == 0);
    veil_train_config tc;
    tiny_config(&tc);
    const uint64_t seed = 0xfedcba9876543210ULL;

    veil_job_result a, b;
    veil_model *model = NULL;
    CHECK(veil_job_run(VEIL_METHOD_SIAMESE, 1, 3, &s, &fx.p, &tc, VEIL_PREC_FP32, seed, &a, &model) == 0);
    check_result(&a, &s, VEIL_METHOD_SIAMESE);
    test_json(&a);
    /* same seed and threads: the same result */
    CHECK(veil_job_run(VEIL_METHOD_SIAMESE, 1, 3, &s, &fx.p, &tc, VEIL_PREC_FP32, seed, &b, NULL) == 0);
    char *ja = json_without_seconds(&a), *jb = json_without_seconds(&b);
    CHECK_MSG(!strcmp(ja, jb), "two runs differ:\n%s\n%s", ja, jb);
    free(ja);
    free(jb);
    veil_job_result_free(&b);

    /* the saved model gives the job's features */
    CHECK(model && model->f && model->g && model->n_classes == 2 && !strcmp(model->method, "siamese"));
    if (model) {
        char path[4200];
        snprintf(path, sizeof path, "%s/job.safetensors", test_tmpdir("job"));
        CHECK(veil_model_save(path, model) == 0);
        veil_model *loaded = NULL;
        CHECK(veil_model_load(path, VEIL_PREC_FP32, 64, &loaded) == 0);
        if (loaded) {
            int dim = veil_extractor_dim(model->f);
            CHECK(veil_extractor_dim(loaded->f) == dim);
            size_t n = 40;
            float *z1 = malloc(n * dim * sizeof(float)), *z2 = malloc(n * dim * sizeof(float));
            CHECK(veil_extract_features(model->f, &fx.p, s.gtest, n, 32, z1) == 0);
            CHECK(veil_extract_features(loaded->f, &fx.p, s.gtest, n, 32, z2) == 0);
            CHECK(!memcmp(z1, z2, n * dim * sizeof(float)));
            CHECK(!strcmp(loaded->class_names[0], "female") && !strcmp(loaded->class_names[1], "male"));
            free(z1);
            free(z2);
            veil_model_free(loaded);
        }
        veil_model_free(model);
    }

    /* the reference */
    CHECK(veil_job_run(VEIL_METHOD_REFERENCE, 1, 3, &s, &fx.p, &tc, VEIL_PREC_FP32, seed, &b, NULL) == 0);
    check_result(&b, &s, VEIL_METHOD_REFERENCE);
    test_json(&b);
    veil_job_result_free(&b);

    /* the adversarial method: f, g and the speaker adversary together, a model like any other */
    CHECK(veil_train_config_set(&tc, "adv_epochs", "8") == 0);
    veil_model *am = NULL;
    CHECK(veil_job_run(2, 1, 3, &s, &fx.p, &tc, VEIL_PREC_FP32, seed, &b, &am) == 0);
    check_result(&b, &s, 2);
    test_json(&b);
    CHECK(veil_method_knob(2, &b.settings) == 1.0 && isnan(b.attack_val_acc));
    CHECK(b.gender_test_majority >= 0.5 && b.gender_test_majority <= 1);
    CHECK(am && am->g && !strcmp(am->method, "adversarial") && veil_extractor_dim(am->f) > 0);
    char *aj = veil_job_result_to_json(&b);
    CHECK_MSG(strstr(aj, "\"settings\":{\"adv_lambda\":1,\"adv_epochs\":8}"), "%s", aj);
    free(aj);
    veil_model_free(am);
    veil_job_result_free(&b);

    /* every patch the same: the Siamese extractor collapses, the job restarts it, then
     * reports the collapse instead of a silent number */
    veil_patch_set flat = fx.p;
    flat.patches = calloc(fx.p.n_patches * SIDE * SIDE, sizeof(float));
    veil_job_result d;
    CHECK(veil_job_run(VEIL_METHOD_SIAMESE, 1, 0, &s, &flat, &tc, VEIL_PREC_FP32, 5, &d, NULL) == 0);
    CHECK(d.collapsed == 1 && d.restarts == ((veil_siamese_settings *)veil_method_settings_of(&tc, VEIL_METHOD_SIAMESE))->collapse_restarts && strlen(d.collapse_reason) > 0);
    char *dl = veil_job_result_to_json(&d);
    CHECK_MSG(strstr(dl, "\"collapsed\":true") != NULL, "%s", dl);
    free(dl);
    veil_job_result_free(&d);
    free(flat.patches);

    /* a NaN-producing learning rate stops with a message naming the job and epoch */
    tc.lr = INFINITY;
    veil_job_result c;
    CHECK_FAILS_WITH(veil_job_run(VEIL_METHOD_REFERENCE, 1, 3, &s, &fx.p, &tc, VEIL_PREC_FP32, seed, &c, NULL),
                     "job reference G=1 iteration 3");

    veil_job_result_free(&a);
    veil_split_free(&s);
    free(fx.c.speakers);
    test_patches_free(&fx.p);
    return test_finish("test_job");
}
