/* results.jsonl and config.json as read back on resume and for the report: what a valid
 * line is, checked in one place (docs/experiment.md, "What a valid results line is").
 *
 * A line is checked in two passes: its JSON types (each field in the table below: present,
 * of its type, in its range), then the relations between fields and the run (the seed the
 * grid derives, the precision config.json resolved, attack_acc_mean against attack_acc,
 * the iteration against cv). A new field is one more row of the table. */
#include "veil/report.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/base/json.h"
#include "research/train/method.h"
#include "veil/common.h"
#include "veil/experiment.h"

typedef enum { F_STRING, F_INT, F_ACC, F_NUMBER, F_BOOL, F_ACC_ARRAY } field_kind;

typedef struct field_rule {
    const char *name;
    field_kind kind;
    int nullable;    /* null allowed (a value that could not be measured) */
    double min, max; /* F_INT, F_NUMBER: inclusive range */
} field_rule;

/* Every field veil_job_result_to_json writes today. Fields not listed are allowed (newer
 * writers add fields); listed ones must be present and valid. */
static const field_rule line_fields[] = {
    {"method", F_STRING, 0, 0, 0},
    {"groups", F_INT, 0, 1, VEIL_MAX_GROUPS},
    {"iteration", F_INT, 0, 0, 1e6},
    {"seed", F_NUMBER, 0, 0, 1.8446744073709552e19},
    {"precision", F_STRING, 0, 0, 0},
    {"gender_eval_acc", F_ACC, 1, 0, 1},
    {"gender_test_acc", F_ACC, 1, 0, 1},
    {"attack_acc", F_ACC_ARRAY, 0, 0, 1},
    {"attack_acc_mean", F_ACC, 1, 0, 1},
    {"epochs_run", F_INT, 0, 0, 1e9},
    {"final_loss", F_NUMBER, 1, -HUGE_VAL, HUGE_VAL},
    {"pair_verdict_acc", F_ACC, 1, 0, 1},
    {"z_spread", F_NUMBER, 1, 0, HUGE_VAL},
    {"collapsed", F_BOOL, 0, 0, 0},
    {"collapse_reason", F_STRING, 0, 0, 0},
    {"restarts", F_INT, 0, 0, 1e9},
    {"seconds", F_NUMBER, 1, 0, 1e9}, /* 31 years: 1e308 once made summary.csv say inf */
};

static int check_field(const cJSON *o, const field_rule *f)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, f->name);
    if (!x) {
        veil_error("\"%s\" is missing", f->name);
        return -1;
    }
    if (f->nullable && cJSON_IsNull(x)) return 0;
    switch (f->kind) {
    case F_STRING:
        if (!cJSON_IsString(x)) break;
        return 0;
    case F_BOOL:
        if (!cJSON_IsBool(x)) break;
        return 0;
    case F_INT:
    case F_NUMBER:
    case F_ACC: {
        if (!cJSON_IsNumber(x)) break;
        double v = x->valuedouble;
        if (f->kind == F_INT && v != floor(v)) {
            veil_error("\"%s\" is %.17g, not a whole number", f->name, v);
            return -1;
        }
        if (!(v >= f->min && v <= f->max)) {
            veil_error("\"%s\" is %.17g, outside %g..%g", f->name, v, f->min, f->max);
            return -1;
        }
        return 0;
    }
    case F_ACC_ARRAY: {
        if (!cJSON_IsArray(x)) break;
        int i = 0;
        const cJSON *v;
        cJSON_ArrayForEach(v, x) {
            if (!cJSON_IsNull(v) && !(cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble <= 1)) {
                char *t = cJSON_PrintUnformatted(v);
                veil_error("\"%s\"[%d] is %s, not an accuracy in 0..1 or null", f->name, i, t ? t : "?");
                free(t);
                return -1;
            }
            i++;
        }
        return 0;
    }
    }
    static const char *const kinds[] = {"a string", "a whole number", "an accuracy in 0..1", "a number", "true or false",
                                        "an array of accuracies"};
    char *t = cJSON_PrintUnformatted(x);
    veil_error("\"%s\" is %.60s, expected %s%s", f->name, t ? t : "?", kinds[f->kind], f->nullable ? " or null" : "");
    free(t);
    return -1;
}

void veil_results_rules_free(veil_results_rules *rules)
{
    if (!rules) return;
    free(rules->method_settings);
    rules->method_settings = NULL;
}

/* The line's settings (already read into r->settings, its method's defaults where it has
 * none) against config.json's entry for its method, read the same way. */
static int check_settings(const veil_job_result *r, const char *method_settings)
{
    const veil_train_method *m = veil_train_method_by_id(r->method);
    cJSON *all = cJSON_Parse(method_settings);
    const cJSON *want = m ? cJSON_GetObjectItemCaseSensitive(all, m->name) : NULL;
    int rc = 0;
    if (m && want) {
        veil_method_settings cfg;
        memset(&cfg, 0, sizeof cfg);
        veil_settings_defaults(m->settings, m->n_settings, cfg.bytes);
        if (veil_settings_from_json(m->settings, m->n_settings, want, cfg.bytes, "config.json") != 0) rc = -1;
        /* a method's knob is the job's grid coordinate (config.json's sweeps), not a setting */
        if (rc == 0 && m->knob) veil_method_set_knob(&cfg, m->id, veil_method_knob(m->id, &r->settings));
        cJSON *a = rc ? NULL : veil_settings_to_json(m->settings, m->n_settings, r->settings.bytes);
        cJSON *b = rc ? NULL : veil_settings_to_json(m->settings, m->n_settings, cfg.bytes);
        if (rc == 0 && !cJSON_Compare(a, b, 1)) {
            char *ta = cJSON_PrintUnformatted(a), *tb = cJSON_PrintUnformatted(b);
            veil_error("\"settings\" %.200s differ from config.json's method_settings.%s %.200s", ta ? ta : "?", m->name,
                       tb ? tb : "?");
            free(ta);
            free(tb);
            rc = -1;
        }
        cJSON_Delete(a);
        cJSON_Delete(b);
    }
    cJSON_Delete(all);
    return rc;
}

int veil_result_line_parse(const char *line, const veil_results_rules *rules, veil_job_result *out)
{
    memset(out, 0, sizeof *out);
    cJSON *o = cJSON_Parse(line);
    if (!o || !cJSON_IsObject(o)) {
        cJSON_Delete(o);
        veil_error("not a JSON object");
        return -1;
    }
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < sizeof line_fields / sizeof line_fields[0]; i++)
        rc = check_field(o, &line_fields[i]);
    /* a key given twice: cJSON keeps the first, a reader in another language the last */
    for (const cJSON *a = o->child; rc == 0 && a; a = a->next)
        for (const cJSON *b = a->next; b; b = b->next)
            if (a->string && b->string && !strcmp(a->string, b->string)) {
                veil_error("\"%s\" is given twice", a->string);
                rc = -1;
                break;
            }
    /* the stage profile (optional): seconds, as "seconds" is (1e308 once printed 300 digits) */
    const cJSON *stages = cJSON_GetObjectItemCaseSensitive(o, "stages"), *st;
    if (rc == 0 && stages && !cJSON_IsObject(stages)) {
        veil_error("\"stages\" is not an object");
        rc = -1;
    }
    for (st = stages ? stages->child : NULL; rc == 0 && st; st = st->next)
        if (!cJSON_IsNull(st) && !(cJSON_IsNumber(st) && st->valuedouble >= 0 && st->valuedouble <= 1e9)) {
            char *t = cJSON_PrintUnformatted(st);
            veil_error("\"stages\".\"%.40s\" is %.60s, expected seconds in 0..1e+09 or null", st->string ? st->string : "?",
                       t ? t : "?");
            free(t);
            rc = -1;
        }
    /* the seed from its text, as a 64-bit integer: a double rounds 2^64 to 2^64 - 1 */
    uint64_t seed_value = 0;
    char shown[64];
    if (rc == 0 && veil_json_member_u64(line, "seed", &seed_value, shown, sizeof shown) != 0) {
        veil_error("\"seed\" is %s, not a whole number in 0..18446744073709551615", shown);
        rc = -1;
    }
    cJSON_Delete(o);
    if (rc != 0) return -1;
    if (veil_job_result_from_json(line, out) != 0) return -1;
    out->seed = seed_value;

    /* relations between fields and with the run */
    double sum = 0;
    int any_null = 0;
    for (int i = 0; i < out->n_attack_groups; i++) {
        if (isfinite(out->attack_acc[i])) sum += out->attack_acc[i];
        else any_null = 1;
    }
    if (out->n_attack_groups == 0 || any_null) {
        if (isfinite(out->attack_acc_mean)) {
            veil_error("\"attack_acc_mean\" is %.17g, but \"attack_acc\" has %s", out->attack_acc_mean,
                       out->n_attack_groups ? "a null entry (its mean is null)" : "no entries");
            goto bad;
        }
    } else {
        double mean = sum / out->n_attack_groups;
        if (!isfinite(out->attack_acc_mean) || fabs(out->attack_acc_mean - mean) > 1e-9) {
            veil_error("\"attack_acc_mean\" is %.17g, but the mean of \"attack_acc\" is %.17g", out->attack_acc_mean,
                       mean);
            goto bad;
        }
    }
    if (rules) {
        if (rules->cv > 0 && out->iteration >= rules->cv) {
            veil_error("\"iteration\" is %d, but the grid has %d cross-validation iteration(s) (0..%d)", out->iteration,
                       rules->cv, rules->cv - 1);
            goto bad;
        }
        if (rules->have_precision && out->precision != rules->precision) {
            veil_error("\"precision\" is %s, but config.json resolved %s", veil_precision_name(out->precision),
                       veil_precision_name(rules->precision));
            goto bad;
        }
        if (rules->method_settings && check_settings(out, rules->method_settings) != 0) goto bad;
        if (rules->have_seed) {
            uint64_t want = veil_experiment_job_seed(rules->seed, out->method, out->groups, out->iteration);
            if (out->seed != want) {
                veil_error("\"seed\" is %llu, but the grid's seed %llu gives this job %llu", (unsigned long long)out->seed,
                           (unsigned long long)rules->seed, (unsigned long long)want);
                goto bad;
            }
        }
    }
    return 0;
bad:
    veil_job_result_free(out);
    memset(out, 0, sizeof *out);
    return -1;
}

static int same_job(const veil_job_result *a, const veil_job_result *b)
{
    double ka = veil_method_knob(a->method, &a->settings), kb = veil_method_knob(b->method, &b->settings);
    return a->method == b->method && a->groups == b->groups && a->iteration == b->iteration &&
           (ka == kb || (isnan(ka) && isnan(kb)));
}

int veil_results_parse(const char *name, char *data, size_t size, const veil_results_rules *rules,
                       veil_job_result **out, size_t *n, size_t *good_bytes, int *torn)
{
    *out = NULL;
    *n = 0;
    if (good_bytes) *good_bytes = 0;
    if (torn) *torn = 0;
    size_t cap = 0, lineno = 0, *line_of = NULL;
    for (char *line = data; line < data + size;) {
        char *nl = memchr(line, '\n', (size_t)(data + size - line));
        lineno++;
        if (!nl) {
            /* no newline: a run killed while writing its last line; the writer cuts it */
            if (torn) *torn = 1;
            break;
        }
        *nl = 0;
        int blank = strspn(line, " \t\r") == (size_t)(nl - line);
        if (!blank) {
            veil_job_result r;
            if (memchr(line, 0, (size_t)(nl - line))) {
                veil_error("%s line %zu: a NUL byte inside the line", name, lineno);
                goto fail;
            }
            if (veil_result_line_parse(line, rules, &r) != 0) {
                veil_error_prefix("%s line %zu", name, lineno);
                goto fail;
            }
            for (size_t i = 0; i < *n; i++)
                if (same_job(&(*out)[i], &r)) {
                    veil_error("%s line %zu: %s G=%d iteration %d is already on line %zu; each job appears once", name,
                               lineno, veil_method_name(r.method), r.groups, r.iteration, line_of[i]);
                    veil_job_result_free(&r);
                    goto fail;
                }
            if (*n == cap) {
                cap = cap ? 2 * cap : 16;
                *out = veil_realloc(*out, cap * sizeof **out);
                line_of = veil_realloc(line_of, cap * sizeof *line_of);
            }
            line_of[*n] = lineno;
            (*out)[(*n)++] = r;
        }
        if (good_bytes) *good_bytes = (size_t)(nl + 1 - data);
        line = nl + 1;
    }
    free(line_of);
    return 0;
fail:
    free(line_of);
    veil_results_free(*out, *n);
    *out = NULL;
    *n = 0;
    return -1;
}

int veil_results_load(const char *path, const veil_results_rules *rules, veil_job_result **out, size_t *n,
                      size_t *good_bytes, int *torn)
{
    *out = NULL;
    *n = 0;
    if (good_bytes) *good_bytes = 0;
    if (torn) *torn = 0;
    if (!veil_path_exists(path)) return 0;
    char *data;
    size_t size;
    if (veil_read_file(path, &data, &size) != 0) return -1;
    int rc = veil_results_parse(path, data, size, rules, out, n, good_bytes, torn);
    free(data);
    return rc;
}

void veil_results_free(veil_job_result *r, size_t n)
{
    for (size_t i = 0; i < n; i++) veil_job_result_free(&r[i]);
    free(r);
}

/* ---------------- config.json ---------------- */
static const cJSON *member(const cJSON *o, const char *a, const char *b)
{
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, a);
    return b && x ? cJSON_GetObjectItemCaseSensitive(x, b) : x;
}

static int whole_in(const cJSON *x, double lo, double hi)
{
    return cJSON_IsNumber(x) && x->valuedouble == floor(x->valuedouble) && x->valuedouble >= lo && x->valuedouble <= hi;
}

/* NULL when x is a whole number in lo..hi, else what is wrong with it, in detail */
static const char *whole_why(const cJSON *x, const char *name, double lo, double hi, char *detail, size_t n)
{
    if (whole_in(x, lo, hi)) return NULL;
    if (!x) snprintf(detail, n, "\"%s\" is missing", name);
    else if (!cJSON_IsNumber(x)) snprintf(detail, n, "\"%s\" is not a number", name);
    else if (x->valuedouble != floor(x->valuedouble)) snprintf(detail, n, "\"%s\" is %.17g, not a whole number", name, x->valuedouble);
    else snprintf(detail, n, "\"%s\" is %.17g, outside %.17g..%.17g", name, x->valuedouble, lo, hi);
    return detail;
}

int veil_config_json_check(const char *name, const char *text, veil_results_rules *rules)
{
    cJSON *o = cJSON_Parse(text);
    const char *why = NULL;
    char detail[160] = "";
    if (!o || !cJSON_IsObject(o)) {
        const char *at = cJSON_GetErrorPtr();
        size_t off = at && at >= text && at <= text + strlen(text) ? (size_t)(at - text) : 0;
        veil_error("%s: not valid JSON (near byte %zu); move it away (and results.jsonl with it) to start afresh", name,
                   off);
        cJSON_Delete(o);
        return -1;
    }
    const cJSON *cv = member(o, "cv", NULL), *seed = member(o, "seed", NULL);
    const cJSON *prec = member(o, "precision", "resolved"), *st = member(o, "protocol", "train_speakers");
    const cJSON *groups = member(o, "groups", NULL), *methods = member(o, "methods", NULL);
    veil_precision p = VEIL_PREC_AUTO;
    uint64_t seed_value = 0;
    char shown[64];
    /* cv: the limit of --cv */
    if ((why = whole_why(cv, "cv", 1, 1000, detail, sizeof detail))) {
    } else if (!seed) why = "\"seed\" is missing";
    else if (veil_json_member_u64(text, "seed", &seed_value, shown, sizeof shown) != 0) {
        snprintf(detail, sizeof detail, "\"seed\" is %s, not a whole number in 0..18446744073709551615", shown);
        why = detail;
    }
    else if (!cJSON_IsString(prec) || veil_precision_parse(prec->valuestring, &p) || p == VEIL_PREC_AUTO)
        why = "\"precision\".\"resolved\" is missing or not fp32 or bf16";
    else if (!whole_in(st, 2, 1e6)) why = "\"protocol\".\"train_speakers\" is missing or not a whole number >= 2";
    else if (!cJSON_IsArray(groups)) why = "\"groups\" is missing or not an array";
    else if (!cJSON_IsArray(methods) || cJSON_GetArraySize(methods) < 1) why = "\"methods\" is missing or empty";
    if (!why) {
        const cJSON *x;
        int i = 0;
        cJSON_ArrayForEach(x, groups) {
            if (!whole_in(x, 1, VEIL_MAX_GROUPS)) {
                snprintf(detail, sizeof detail, "\"groups\"[%d] is not a G in 1..%d", i, VEIL_MAX_GROUPS);
                why = detail;
                break;
            }
            i++;
        }
        i = 0;
        cJSON_ArrayForEach(x, methods) {
            veil_method m;
            if (why) break;
            if (!cJSON_IsString(x) || veil_method_parse(x->valuestring, &m) != 0) {
                snprintf(detail, sizeof detail, "\"methods\"[%d] is not a known method", i);
                why = detail;
            }
            i++;
        }
    }
    if (why) {
        veil_error("%s: %s", name, why);
        cJSON_Delete(o);
        return -1;
    }
    if (rules) {
        memset(rules, 0, sizeof *rules);
        const cJSON *ms = member(o, "method_settings", NULL);
        if (cJSON_IsObject(ms)) rules->method_settings = cJSON_PrintUnformatted(ms);
        rules->cv = (int)cv->valuedouble;
        /* read from the text, exact at any size (a double is exact to 2^53 only, and a
         * larger seed once went unchecked: --report-only took another seed's results) */
        rules->seed = seed_value;
        rules->have_seed = 1;
        rules->precision = p;
        rules->have_precision = 1;
    }
    cJSON_Delete(o);
    return 0;
}
