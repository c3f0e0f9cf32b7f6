/* One job of the experiment grid: train f (Siamese with collapse restarts, or the
 * reference), train g on frozen features, score g on the testing speakers and attack
 * every group; and the job's one-line JSON result. docs/protocol.md. */
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "audits.h"
#include "core/base/json.h"

#include "research/train/method.h"
#include "veil/common.h"
#include "veil/job.h"

static void free_strings(char **v, size_t n)
{
    for (size_t i = 0; v && i < n; i++) free(v[i]);
    free(v);
}

void veil_job_result_free(veil_job_result *r)
{
    if (!r) return;
    free(r->attack_acc);
    r->attack_acc = NULL;
    for (int i = 0; i < r->n_attackers; i++) free(r->attackers[i].group);
    free(r->attackers);
    r->attackers = NULL;
    r->n_attackers = 0;
    free_strings(r->train_speakers, (size_t)r->n_train_speakers);
    free_strings(r->group_speakers, (size_t)r->n_attack_groups * (size_t)r->st);
    r->train_speakers = r->group_speakers = NULL;
    r->n_train_speakers = r->st = 0;
    r->n_attack_groups = 0;
}

/* The split's speakers by id, into the result. */
static void record_split(const veil_split *s, veil_job_result *out)
{
    if (!s->speaker_id) return;
    out->n_train_speakers = s->n_train_speakers;
    out->train_speakers = veil_calloc((size_t)(s->n_train_speakers ? s->n_train_speakers : 1), sizeof(char *));
    for (int i = 0; i < s->n_train_speakers; i++)
        out->train_speakers[i] = veil_strdup(s->speaker_id[s->train_speakers[i]]);
    out->st = s->st;
    size_t n = (size_t)s->n_groups * (size_t)s->st;
    out->group_speakers = veil_calloc(n ? n : 1, sizeof(char *));
    for (size_t i = 0; i < n; i++) out->group_speakers[i] = veil_strdup(s->speaker_id[s->group_speakers[i]]);
}

static int max_int(int a, int b) { return a > b ? a : b; }

/* Every gender-training and gender-evaluation patch's speaker as 0..St-1 (its place
 * among the split's St training speakers). */
static void speakers_of_split(const veil_patch_set *p, const veil_split *s, int **train, int **eval)
{
    int *place = veil_malloc((size_t)(p->n_speakers ? p->n_speakers : 1) * sizeof(int));
    for (int i = 0; i < p->n_speakers; i++) place[i] = -1;
    for (int i = 0; i < s->n_train_speakers; i++) place[s->train_speakers[i]] = i;
    *train = veil_malloc((s->n_gtrain ? s->n_gtrain : 1) * sizeof(int));
    *eval = veil_malloc((s->n_geval ? s->n_geval : 1) * sizeof(int));
    for (size_t i = 0; i < s->n_gtrain; i++) (*train)[i] = place[veil_patch_speaker(p, s->gtrain[i])];
    for (size_t i = 0; i < s->n_geval; i++) (*eval)[i] = place[veil_patch_speaker(p, s->geval[i])];
    free(place);
}

int veil_job_run(veil_method method, int groups, int iteration, const veil_split *split,
                 const veil_patch_set *patches, const veil_train_config *tc,
                 veil_precision precision, uint64_t seed, veil_job_result *out,
                 veil_model **model_out)
{
    double t0 = veil_now();
    memset(out, 0, sizeof *out);
    out->method = method;
    out->groups = groups;
    out->iteration = iteration;
    out->seed = seed;
    out->pair_verdict_acc = NAN;
    out->final_loss = NAN;
    out->attack_val_acc = NAN;
    out->gender_test_majority = NAN;
    out->label_chance = NAN;
    snprintf(out->task, sizeof out->task, "%s", split->task[0] ? split->task : "gender");
    out->n_classes = split->n_classes > 0 ? split->n_classes : 2;
    if (model_out) *model_out = NULL;
    char name[96];
    snprintf(name, sizeof name, "job %s G=%d iteration %d", veil_method_name(method), groups, iteration);
    if (veil_precision_resolve(precision, &out->precision)) {
        veil_error_prefix("%s", name);
        return -1;
    }
    if (split->n_gtrain == 0 || split->n_geval == 0) {
        veil_error("%s: the split has no gender-training or gender-evaluation patches", name);
        return -1;
    }
    veil_extractor_config arch;
    veil_extractor_config_paper(&arch, groups);
    arch.in_h = patches->patch_h;
    arch.in_w = patches->patch_w;
    int div = tc->filter_divisor > 1 ? tc->filter_divisor : 1;
    for (int j = 0; j < VEIL_MAX_GROUPS; j++) arch.filters[j] = max_int(1, arch.filters[j] / div);
    if (veil_extractor_config_validate(&arch)) {
        veil_error_prefix("%s", name);
        return -1;
    }
    int dim = veil_extractor_config_dim(&arch);
    veil_labelled train = {split->n_gtrain, split->gtrain, split->gtrain_label};
    veil_labelled eval = {split->n_geval, split->geval, split->geval_label};
    veil_head_config hc = {dim, tc->head_hidden, out->n_classes, tc->dropout};
    int head_batch = max_int(tc->gender_batch, tc->extract_batch);
    veil_extractor *f = NULL;
    veil_head *g = NULL;
    float *ztrain = NULL, *zeval = NULL;
    veil_attack_result ar;
    memset(&ar, 0, sizeof ar);
    int rc = -1;
    out->n_attack_groups = split->n_groups;
    out->attack_acc = veil_calloc((size_t)(split->n_groups ? split->n_groups : 1), sizeof(double));

    /* the training half: the method trains f (and g, or the job trains g on frozen f) */
    const veil_train_method *method_def = veil_train_method_by_id(method);
    if (!method_def) {
        veil_error("%s: no training method with id %d", name, method);
        goto fail;
    }
    memcpy(&out->settings, &tc->method[method], sizeof out->settings);
    int *train_speaker = NULL, *eval_speaker = NULL;
    speakers_of_split(patches, split, &train_speaker, &eval_speaker);
    veil_train_context ctx = {patches, &train, &eval, train_speaker, eval_speaker, split->n_train_speakers,
                              &arch, tc, veil_method_settings_get(tc, method), out->precision, seed, name,
                              out->n_classes};
    veil_trained trained;
    memset(&trained, 0, sizeof trained);
    trained.pair_verdict_acc = NAN;
    double ts = veil_now();
    int trc = method_def->train(&ctx, &trained);
    out->stages.train_eval = trained.rep.eval_seconds;
    out->stages.train = veil_now() - ts - trained.rep.eval_seconds;
    free(train_speaker);
    free(eval_speaker);
    if (trc) goto fail;
    f = trained.f;
    g = trained.g;
    /* a method may give f another output than the grid's architecture (bottleneck): the
     * features, g and the saved model follow f */
    arch = *veil_extractor_config_of(f);
    dim = veil_extractor_dim(f);
    hc.in_dim = dim;
    out->restarts = trained.restarts;
    out->pair_verdict_acc = trained.pair_verdict_acc;
    if (!g) {
        g = veil_head_new(&hc, head_batch, out->precision, veil_seed_mix(seed, 0x67656e64, 0));
        if (!g) goto fail;
        ztrain = veil_aligned_alloc(split->n_gtrain * (size_t)dim * sizeof(float));
        ts = veil_now();
        if (veil_extract_features(f, patches, split->gtrain, split->n_gtrain, tc->extract_batch, ztrain))
            goto fail;
        out->stages.extract += veil_now() - ts;
        char glabel[160];
        snprintf(glabel, sizeof glabel, "%s: g (gender)", name);
        ts = veil_now();
        if (veil_head_train(g, ztrain, split->gtrain_label, split->n_gtrain, tc->gender_epochs,
                            tc->gender_batch, tc->lr, veil_seed_mix(seed, 0x67656e64, 1), glabel, NULL))
            goto fail;
        out->stages.gender += veil_now() - ts;
        free(ztrain);
        ztrain = NULL;
    }
    const veil_train_report rep = trained.rep;
    out->epochs_run = rep.epochs_run;
    out->final_loss = rep.final_loss;
    out->z_spread = rep.z_spread;
    out->collapsed = rep.collapsed;
    memcpy(out->collapse_reason, rep.collapse_reason, sizeof out->collapse_reason);

    zeval = veil_aligned_alloc(split->n_geval * (size_t)dim * sizeof(float));
    ts = veil_now();
    if (veil_extract_features(f, patches, split->geval, split->n_geval, tc->extract_batch, zeval))
        goto fail;
    out->stages.extract += veil_now() - ts;
    ts = veil_now();
    out->gender_eval_acc = veil_head_accuracy(g, zeval, split->geval_label, split->n_geval, head_batch, NULL);
    out->stages.gender += veil_now() - ts;
    free(zeval);
    zeval = NULL;

    /* one feature table per attacker group: the probes and the gender test read it */
    veil_attack_config ac = {tc->attackers, tc->n_attackers, g, head_batch, 0, NULL, 0, 0};
    /* the validation run's pool probes learn from the tables this run extracts */
    for (int k = 0; split->has_validation && k < tc->n_attackers; k++) ac.keep_pool |= tc->attackers[k]->needs_pool;
    if (veil_attack_run(f, patches, split, tc, veil_seed_mix(seed, 0x61747461, 0), name, &ac, &ar))
        goto fail;
    out->gender_test_acc = ar.gender_total ? (double)ar.gender_correct / (double)ar.gender_total : NAN;
    out->stages.extract += ar.extract_seconds;
    out->stages.gender += ar.gender_seconds;
    out->n_attackers = ar.n_probes;
    out->attackers = veil_calloc((size_t)ar.n_probes, sizeof *out->attackers);
    for (int k = 0; k < ar.n_probes; k++) {
        veil_job_attacker *a = &out->attackers[k];
        snprintf(a->name, sizeof a->name, "%s", ar.probes[k]->name);
        veil_probe_result_clear(&a->validation);
        a->group = veil_malloc((size_t)(split->n_groups ? split->n_groups : 1) * sizeof *a->group);
        memcpy(a->group, ar.r + (size_t)k * (size_t)split->n_groups, (size_t)split->n_groups * sizeof *a->group);
        for (int i = 0; i < split->n_groups; i++) a->seconds += a->group[i].seconds;
        out->stages.attackers += a->seconds;
        if (!strcmp(a->name, "paper-mlp"))
            for (int i = 0; i < split->n_groups; i++) out->attack_acc[i] = a->group[i].acc;
    }
    record_split(split, out);
    if (split->n_gtest) {
        size_t *count = veil_calloc((size_t)out->n_classes, sizeof *count), major = 0;
        for (size_t i = 0; i < split->n_gtest; i++) count[split->gtest_label[i]]++;
        for (int c = 0; c < out->n_classes; c++) major = count[c] > major ? count[c] : major;
        out->gender_test_majority = (double)major / (double)split->n_gtest;
        free(count);
    }
    out->label_chance = veil_split_mean_label_chance(split);
    /* the attacker-validation group (choosing a knob): the paper's attacker on a group of
     * its own, outside every test group */
    if (split->has_validation) {
        veil_split val = *split;
        val.n_groups = 1;
        val.has_validation = 0;
        val.group_speakers = split->group_speakers + (size_t)split->n_groups * (size_t)split->st;
        val.n_atrain = split->n_atrain + split->n_groups;
        val.n_aeval = split->n_aeval + split->n_groups;
        val.atrain = split->atrain + split->n_groups;
        val.aeval = split->aeval + split->n_groups;
        val.atrain_label = split->atrain_label + split->n_groups;
        val.aeval_label = split->aeval_label + split->n_groups;
        char vname[128];
        snprintf(vname, sizeof vname, "%s: validation", name);
        /* the selection attacker alone, or every probe when the strongest chooses */
        const veil_probe *one = veil_probe_find(tc->select_attacker[0] ? tc->select_attacker : "paper-mlp");
        int all = !strcmp(tc->select_attacker, "strongest");
        veil_attack_config vc = {all ? tc->attackers : &one, all ? tc->n_attackers : 1, NULL, head_batch, 0,
                                 NULL, 0, 0};
        if (!all && !one) {
            veil_error("%s: unknown selection attacker '%s'", name, tc->select_attacker);
            goto fail;
        }
        const veil_feature_table **vpool = NULL;
        if (ar.n_pool) {
            vpool = veil_malloc((size_t)ar.n_pool * sizeof *vpool);
            for (int i = 0; i < ar.n_pool; i++) vpool[i] = &ar.pool[i];
            vc.pool = vpool;
            vc.n_pool = ar.n_pool;
        }
        veil_attack_result vr;
        memset(&vr, 0, sizeof vr);
        int vrc = veil_attack_run(f, patches, &val, tc, veil_seed_mix(seed, 0x76616c69, 0), vname, &vc, &vr);
        free(vpool);
        for (int k = 0; vrc == 0 && k < vr.n_probes; k++) {
            veil_job_attacker *a = NULL;
            for (int q = 0; q < out->n_attackers && !a; q++)
                if (!strcmp(out->attackers[q].name, vr.probes[k]->name)) a = &out->attackers[q];
            if (!a) { /* the selection attacker is not one of the test battery's */
                out->attackers = veil_realloc(out->attackers, (size_t)(out->n_attackers + 1) * sizeof *out->attackers);
                a = &out->attackers[out->n_attackers++];
                memset(a, 0, sizeof *a);
                snprintf(a->name, sizeof a->name, "%s", vr.probes[k]->name);
                a->group = veil_malloc((size_t)(split->n_groups ? split->n_groups : 1) * sizeof *a->group);
                for (int i = 0; i < split->n_groups; i++) veil_probe_result_clear(&a->group[i]);
            }
            a->validation = vr.r[k];
            out->stages.attackers += vr.r[k].seconds;
        }
        if (vrc == 0) out->stages.extract += vr.extract_seconds;
        if (vrc == 0) out->attack_val_acc = veil_validation_score(out->attackers, out->n_attackers, tc->select_attacker);
        veil_attack_result_free(&vr);
        if (vrc) goto fail;
    }
    double sum = 0;
    for (int i = 0; i < split->n_groups; i++) sum += out->attack_acc[i];
    out->attack_acc_mean = split->n_groups ? sum / split->n_groups : NAN;

    /* a gender head answering one class almost always, on a test set that is not itself
     * that one-sided, means the features carry no gender: report it, never silently */
    if (ar.gender_total) {
        int major = 0;
        for (int c = 1; c < ar.gender_classes; c++)
            if (ar.gender_pred[c] > ar.gender_pred[major]) major = c;
        double share = (double)ar.gender_pred[major] / (double)ar.gender_total;
        double truth_share = (double)ar.gender_truth[major] / (double)ar.gender_total;
        if (share > 0.95 && truth_share < 0.9 && !out->collapsed) {
            out->collapsed = 1;
            const char *cname = !strcmp(out->task, "gender") ? (major ? "male" : "female")
                                : split->class_names ? split->class_names[major] : "?";
            snprintf(out->collapse_reason, sizeof out->collapse_reason,
                     "%s head answers '%s' on %.1f%% of the test set (truth %.1f%%)",
                     out->task, cname, 100 * share, 100 * truth_share);
        }
    }
    if (out->collapsed) veil_log("%s: collapsed: %s", name, out->collapse_reason);

    if (model_out) {
        veil_model *m = veil_calloc(1, sizeof *m);
        m->arch = arch;
        m->mfcc = patches->mfcc;
        snprintf(m->method, sizeof m->method, "%s", veil_method_name(method));
        m->trained_precision = out->precision;
        m->f = f;
        m->g = g;
        m->n_classes = out->n_classes;
        m->class_names = veil_malloc((size_t)m->n_classes * sizeof(char *));
        int gender = !strcmp(out->task, "gender");
        for (int c = 0; c < m->n_classes; c++)
            m->class_names[c] = veil_strdup(gender ? (c ? "male" : "female")
                                            : split->class_names ? split->class_names[c] : "");
        snprintf(m->task, sizeof m->task, "%s", out->task);
        m->n_train_speakers = split->n_train_speakers;
        m->train_speakers = veil_malloc((size_t)(split->n_train_speakers ? split->n_train_speakers : 1) * sizeof(char *));
        for (int i = 0; i < split->n_train_speakers; i++)
            m->train_speakers[i] = veil_strdup(split->speaker_id ? split->speaker_id[split->train_speakers[i]] : "");
        *model_out = m;
        f = NULL;
        g = NULL;
    }
    out->seconds = veil_now() - t0;
    rc = 0;
fail:
    if (rc) veil_job_result_free(out);
    veil_extractor_free(f);
    veil_head_free(g);
    free(ztrain);
    free(zeval);
    veil_attack_result_free(&ar);
    return rc;
}

/* Accuracy per utterance where the probe has one, else per patch. */
static double id_accuracy(const veil_probe_result *r)
{
    return isfinite(r->acc_utt) ? r->acc_utt : r->acc;
}

double veil_validation_score(const veil_job_attacker *a, int n, const char *select)
{
    if (!select[0]) {
        for (int k = 0; k < n; k++)
            if (!strcmp(a[k].name, "paper-mlp")) return a[k].validation.acc;
        return NAN;
    }
    int all = !strcmp(select, "strongest");
    double best = NAN;
    for (int k = 0; k < n; k++) {
        if (!all && strcmp(a[k].name, select)) continue;
        double v = id_accuracy(&a[k].validation);
        if (isfinite(v) && !(v <= best)) best = v;
    }
    return best;
}

/* ---------------- JSON ---------------- */
static void add_num(cJSON *o, const char *key, double v)
{
    if (isfinite(v)) cJSON_AddNumberToObject(o, key, v);
    else cJSON_AddNullToObject(o, key);
}

/* The probes' fields, each an array over the attacker groups (null: does not apply). */
/* (Timings go to "attacker_seconds", one total per probe, beside the job's "seconds".) */
#define PROBE_FIELDS(X) X(acc) X(acc_utt) X(chance) X(eer) X(eer_lo) X(eer_hi) X(min_dcf)
/* Written only by the probes that fill them (semi-informed), so that every other probe's
 * lines read as before. */
#define PROBE_FIELDS_OPTIONAL(X) X(eer_same_gender) X(eer_same_gender_lo) X(eer_same_gender_hi)
#define PROBE_FIELDS_ALL(X) PROBE_FIELDS(X) PROBE_FIELDS_OPTIONAL(X)

#define STAGE_FIELDS(X) X(train) X(train_eval) X(extract) X(gender) X(attackers) X(io)

static void stages_to_json(cJSON *o, const veil_job_stages *st)
{
    cJSON *s = cJSON_AddObjectToObject(o, "stages");
#define ADD_STAGE(f) add_num(s, #f, st->f);
    STAGE_FIELDS(ADD_STAGE)
#undef ADD_STAGE
}

static void attackers_to_json(cJSON *o, const veil_job_result *r)
{
    if (!r->n_attackers) return;
    cJSON *all = cJSON_AddObjectToObject(o, "attackers");
    for (int k = 0; k < r->n_attackers; k++) {
        const veil_job_attacker *a = &r->attackers[k];
        cJSON *p = cJSON_AddObjectToObject(all, a->name);
#define ADD_FIELD(f)                                                                           \
    {                                                                                          \
        cJSON *v = cJSON_AddArrayToObject(p, #f);                                              \
        for (int i = 0; i < r->n_attack_groups; i++)                                           \
            cJSON_AddItemToArray(v, isfinite(a->group[i].f) ? cJSON_CreateNumber(a->group[i].f) \
                                                            : cJSON_CreateNull());             \
    }
        PROBE_FIELDS(ADD_FIELD)
#define ADD_OPTIONAL(f)                                                       \
    {                                                                         \
        int any = 0;                                                          \
        for (int i = 0; i < r->n_attack_groups; i++) any |= isfinite(a->group[i].f); \
        if (any) ADD_FIELD(f)                                                 \
    }
        PROBE_FIELDS_OPTIONAL(ADD_OPTIONAL)
#undef ADD_OPTIONAL
#undef ADD_FIELD
        /* the attacker-validation group, where it ran (iteration 0 of a knob sweep) */
        int ran = 0;
#define ANY_FIELD(f) ran |= isfinite(a->validation.f);
        PROBE_FIELDS(ANY_FIELD)
#undef ANY_FIELD
        if (ran) {
            cJSON *v = cJSON_AddObjectToObject(p, "validation");
#define ADD_VAL(f) add_num(v, #f, a->validation.f);
            PROBE_FIELDS(ADD_VAL)
#undef ADD_VAL
#define ADD_VAL_OPTIONAL(f) \
    if (isfinite(a->validation.f)) add_num(v, #f, a->validation.f);
            PROBE_FIELDS_OPTIONAL(ADD_VAL_OPTIONAL)
#undef ADD_VAL_OPTIONAL
        }
    }
    cJSON *secs = cJSON_AddObjectToObject(o, "attacker_seconds");
    for (int k = 0; k < r->n_attackers; k++) add_num(secs, r->attackers[k].name, r->attackers[k].seconds);
}

static void split_to_json(cJSON *o, const veil_job_result *r)
{
    if (!r->train_speakers) return;
    cJSON *sp = cJSON_AddObjectToObject(o, "split");
    cJSON_AddItemToObject(sp, "train_speakers",
                          cJSON_CreateStringArray((const char *const *)r->train_speakers, r->n_train_speakers));
    cJSON *groups = cJSON_AddArrayToObject(sp, "attack_groups");
    for (int g = 0; g < r->n_attack_groups; g++)
        cJSON_AddItemToArray(groups, cJSON_CreateStringArray((const char *const *)r->group_speakers +
                                                                 (size_t)g * (size_t)r->st, r->st));
}

char *veil_job_result_to_json(const veil_job_result *r)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "method", veil_method_name(r->method));
    cJSON_AddNumberToObject(o, "groups", r->groups);
    cJSON_AddNumberToObject(o, "iteration", r->iteration);
    char seed[32];
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)r->seed); /* exact: beyond 2^53 */
    cJSON_AddRawToObject(o, "seed", seed);
    cJSON_AddStringToObject(o, "precision", veil_precision_name(r->precision));
    add_num(o, "gender_eval_acc", r->gender_eval_acc);
    add_num(o, "gender_test_acc", r->gender_test_acc);
    cJSON *a = cJSON_AddArrayToObject(o, "attack_acc");
    for (int i = 0; i < r->n_attack_groups; i++)
        cJSON_AddItemToArray(a, isfinite(r->attack_acc[i]) ? cJSON_CreateNumber(r->attack_acc[i])
                                                           : cJSON_CreateNull());
    add_num(o, "attack_acc_mean", r->attack_acc_mean);
    cJSON_AddNumberToObject(o, "epochs_run", r->epochs_run);
    add_num(o, "final_loss", r->final_loss);
    add_num(o, "pair_verdict_acc", r->pair_verdict_acc);
    add_num(o, "z_spread", r->z_spread);
    cJSON_AddBoolToObject(o, "collapsed", r->collapsed);
    cJSON_AddStringToObject(o, "collapse_reason", r->collapse_reason);
    cJSON_AddNumberToObject(o, "restarts", r->restarts);
    add_num(o, "seconds", r->seconds);
    stages_to_json(o, &r->stages);
    attackers_to_json(o, r);
    split_to_json(o, r);
    add_num(o, "gender_test_majority", r->gender_test_majority);
    add_num(o, "attack_val_acc", r->attack_val_acc);
    cJSON_AddStringToObject(o, "task", r->task[0] ? r->task : "gender");
    cJSON_AddNumberToObject(o, "classes", r->n_classes > 0 ? r->n_classes : 2);
    add_num(o, "label_chance", r->label_chance);
    /* the method's own settings, every one (src/research/train/<method>.c) */
    const veil_train_method *m = veil_train_method_by_id(r->method);
    if (m) cJSON_AddItemToObject(o, "settings", veil_settings_to_json(m->settings, m->n_settings, r->settings.bytes));
    char *s = veil_json_print(o);
    cJSON_Delete(o);
    return s;
}

static double get_num(const cJSON *o, const char *key)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsNumber(it) ? it->valuedouble : NAN;
}

/* A string array of exactly n entries, copied; -1 otherwise. */
static int strings_from_json(const cJSON *a, int n, char **out)
{
    if (!cJSON_IsArray(a) || cJSON_GetArraySize(a) != n) return -1;
    for (int i = 0; i < n; i++) {
        const cJSON *v = cJSON_GetArrayItem(a, i);
        if (!cJSON_IsString(v)) return -1;
        out[i] = veil_strdup(v->valuestring);
    }
    return 0;
}

int veil_job_attacker_from_json(const cJSON *p, int ng, veil_job_attacker *a)
{
    snprintf(a->name, sizeof a->name, "%s", p->string ? p->string : "");
    a->group = veil_malloc((size_t)(ng ? ng : 1) * sizeof *a->group);
    for (int i = 0; i < ng; i++) veil_probe_result_clear(&a->group[i]);
    veil_probe_result_clear(&a->validation);
    if (!cJSON_IsObject(p)) return -1;
#define GET_FIELD(f)                                                               \
    {                                                                              \
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(p, #f);                  \
        if (v && (!cJSON_IsArray(v) || cJSON_GetArraySize(v) != ng)) return -1;    \
        for (int i = 0; v && i < ng; i++) {                                        \
            const cJSON *x = cJSON_GetArrayItem(v, i);                             \
            a->group[i].f = cJSON_IsNumber(x) ? x->valuedouble : NAN;              \
        }                                                                          \
    }
    PROBE_FIELDS_ALL(GET_FIELD)
#undef GET_FIELD
    const cJSON *val = cJSON_GetObjectItemCaseSensitive(p, "validation");
    if (val && !cJSON_IsObject(val)) return -1;
#define GET_VAL(f) a->validation.f = get_num(val, #f);
    if (val) PROBE_FIELDS_ALL(GET_VAL)
#undef GET_VAL
    return 0;
}

static int attackers_from_json(const cJSON *o, veil_job_result *out)
{
    const cJSON *all = cJSON_GetObjectItemCaseSensitive(o, "attackers"), *p;
    if (!all) return 0; /* a line from before the probes */
    if (!cJSON_IsObject(all)) return -1;
    int n = cJSON_GetArraySize(all), ng = out->n_attack_groups;
    out->attackers = veil_calloc((size_t)(n ? n : 1), sizeof *out->attackers);
    const cJSON *secs = cJSON_GetObjectItemCaseSensitive(o, "attacker_seconds");
    cJSON_ArrayForEach(p, all) {
        veil_job_attacker *a = &out->attackers[out->n_attackers++];
        if (veil_job_attacker_from_json(p, ng, a)) return -1;
        a->seconds = get_num(secs, a->name);
    }
    return 0;
}

static int split_from_json(const cJSON *o, veil_job_result *out)
{
    const cJSON *sp = cJSON_GetObjectItemCaseSensitive(o, "split");
    if (!sp) return 0;
    const cJSON *tr = cJSON_GetObjectItemCaseSensitive(sp, "train_speakers");
    const cJSON *groups = cJSON_GetObjectItemCaseSensitive(sp, "attack_groups");
    if (!cJSON_IsArray(tr) || !cJSON_IsArray(groups) || cJSON_GetArraySize(groups) != out->n_attack_groups)
        return -1;
    out->n_train_speakers = cJSON_GetArraySize(tr);
    out->train_speakers = veil_calloc((size_t)(out->n_train_speakers ? out->n_train_speakers : 1), sizeof(char *));
    if (strings_from_json(tr, out->n_train_speakers, out->train_speakers)) return -1;
    const cJSON *first = cJSON_GetArrayItem(groups, 0);
    out->st = first && cJSON_IsArray(first) ? cJSON_GetArraySize(first) : 0;
    size_t n = (size_t)out->n_attack_groups * (size_t)out->st;
    out->group_speakers = veil_calloc(n ? n : 1, sizeof(char *));
    for (int g = 0; g < out->n_attack_groups; g++)
        if (strings_from_json(cJSON_GetArrayItem(groups, g), out->st, out->group_speakers + (size_t)g * (size_t)out->st))
            return -1;
    return 0;
}

static void stages_from_json(const cJSON *o, veil_job_stages *st)
{
    const cJSON *s = cJSON_GetObjectItemCaseSensitive(o, "stages");
#define GET_STAGE(f) st->f = cJSON_IsObject(s) ? get_num(s, #f) : NAN;
    STAGE_FIELDS(GET_STAGE) /* NaN: a line from before the stage profile */
#undef GET_STAGE
}

int veil_job_result_from_json(const char *line, veil_job_result *out)
{
    memset(out, 0, sizeof *out);
    cJSON *o = cJSON_Parse(line);
    if (!o || !cJSON_IsObject(o)) {
        cJSON_Delete(o);
        veil_error("job result: not a JSON object: %.80s", line);
        return -1;
    }
    int rc = -1;
    const cJSON *method = cJSON_GetObjectItemCaseSensitive(o, "method");
    const cJSON *prec = cJSON_GetObjectItemCaseSensitive(o, "precision");
    const cJSON *acc = cJSON_GetObjectItemCaseSensitive(o, "attack_acc");
    const cJSON *seed = cJSON_GetObjectItemCaseSensitive(o, "seed");
    if (!cJSON_IsString(method) || veil_method_parse(method->valuestring, &out->method)) {
        veil_error("job result: missing or unknown \"method\": %.80s", line);
        goto done;
    }
    if (!cJSON_IsString(prec) || veil_precision_parse(prec->valuestring, &out->precision)) {
        veil_error("job result: missing or unknown \"precision\": %.80s", line);
        goto done;
    }
    if (!cJSON_IsNumber(seed) || !cJSON_IsArray(acc)) {
        veil_error("job result: \"seed\" or \"attack_acc\" missing: %.80s", line);
        goto done;
    }
    /* the seed is read from the text itself: a double cannot hold every 64-bit value (the
     * top-level member: a "seed" inside another object is not it) */
    if (veil_json_member_u64(line, "seed", &out->seed, NULL, 0) != 0) {
        veil_error("job result: \"seed\" is not a whole number in 0..18446744073709551615: %.80s", line);
        goto done;
    }
    out->groups = (int)get_num(o, "groups");
    out->iteration = (int)get_num(o, "iteration");
    out->gender_eval_acc = get_num(o, "gender_eval_acc");
    out->gender_test_acc = get_num(o, "gender_test_acc");
    out->n_attack_groups = cJSON_GetArraySize(acc);
    out->attack_acc = veil_calloc((size_t)(out->n_attack_groups ? out->n_attack_groups : 1), sizeof(double));
    for (int i = 0; i < out->n_attack_groups; i++) {
        const cJSON *v = cJSON_GetArrayItem(acc, i);
        out->attack_acc[i] = cJSON_IsNumber(v) ? v->valuedouble : NAN;
    }
    out->attack_acc_mean = get_num(o, "attack_acc_mean");
    double e = get_num(o, "epochs_run");
    out->epochs_run = isfinite(e) ? (int)e : 0;
    out->final_loss = get_num(o, "final_loss");
    out->pair_verdict_acc = get_num(o, "pair_verdict_acc");
    out->z_spread = get_num(o, "z_spread");
    out->collapsed = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "collapsed"));
    const cJSON *reason = cJSON_GetObjectItemCaseSensitive(o, "collapse_reason");
    if (cJSON_IsString(reason))
        snprintf(out->collapse_reason, sizeof out->collapse_reason, "%s", reason->valuestring);
    double rs = get_num(o, "restarts");
    out->restarts = isfinite(rs) ? (int)rs : 0;
    out->seconds = get_num(o, "seconds");
    stages_from_json(o, &out->stages);
    if (attackers_from_json(o, out) || split_from_json(o, out)) {
        veil_error("job result: malformed \"attackers\" or \"split\": %.80s", line);
        veil_job_result_free(out);
        goto done;
    }
    out->gender_test_majority = get_num(o, "gender_test_majority");
    out->attack_val_acc = get_num(o, "attack_val_acc");
    /* the task: lines older than tasks are gender's */
    const cJSON *task = cJSON_GetObjectItemCaseSensitive(o, "task");
    snprintf(out->task, sizeof out->task, "%s", cJSON_IsString(task) ? task->valuestring : "gender");
    double classes = get_num(o, "classes");
    out->n_classes = isfinite(classes) && classes >= 2 ? (int)classes : 2;
    out->label_chance = get_num(o, "label_chance");
    /* the method's settings: its defaults where a line (an older one) has none */
    const veil_train_method *m = veil_train_method_by_id(out->method);
    veil_settings_defaults(m->settings, m->n_settings, out->settings.bytes);
    const cJSON *settings = cJSON_GetObjectItemCaseSensitive(o, "settings");
    if (settings && veil_settings_from_json(m->settings, m->n_settings, settings, out->settings.bytes,
                                            "job result")) {
        veil_job_result_free(out);
        goto done;
    }
    rc = 0;
done:
    cJSON_Delete(o);
    return rc;
}

/* ---------------- a job's seeds in the grid ----------------
 * Here, beside the job, so that results.jsonl (results.c) checks a line's seed without
 * calling up into the grid (experiment.c). */
enum { TAG_SPLIT = 0x5350u, TAG_JOB = 0x4a42u };

uint64_t veil_experiment_split_seed(uint64_t seed, int iteration)
{
    return veil_seed_mix(seed, (uint64_t)iteration, TAG_SPLIT);
}

uint64_t veil_experiment_job_seed(uint64_t seed, veil_method m, int groups, int iteration)
{
    return veil_seed_mix(veil_seed_mix(seed, TAG_JOB, (uint64_t)m * 16 + (uint64_t)groups),
                         (uint64_t)iteration, TAG_JOB);
}
