/* The experiment grid: configuration, resume from results.jsonl, one job after another,
 * then the summary, report and Figure 3. docs/experiment.md. */
#include "veil/experiment.h"

#include <cjson/cJSON.h>
#include <dirent.h>

#include "core/base/json.h"
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "veil/common.h"
#include "veil/corpus.h"
#include "veil/features.h"
#include "veil/model.h"
#include "veil/report.h"
#include "audits.h"
#include "experiment_mpi.h"
#include "research/train/method.h"

/* ---------------- presets and option values ---------------- */
int veil_experiment_preset(veil_experiment_config *c, const char *name)
{
    const char *corpus = c->corpus, *out = c->out, *cache = c->cache;
    memset(c, 0, sizeof *c);
    c->corpus = corpus;
    c->out = out;
    c->cache = cache;
    veil_mfcc_config_default(&c->mfcc);
    veil_protocol_config_paper(&c->protocol);
    veil_train_config_paper(&c->train);
    /* every method of the table; the methods with a knob at one G */
    int count;
    const veil_train_method *const *ms = veil_train_methods(&count);
    for (int k = 0; k < count; k++) c->with_method[ms[k]->id] = !ms[k]->opt_in;
    c->sweep_groups = VEIL_MAX_GROUPS;
    c->precision = VEIL_PREC_AUTO;
    c->seed = 1;
    /* knobs are chosen against the strongest attacker of the battery on the validation
     * group: a privacy number is only as good as the strongest attack tried */
    snprintf(c->train.select_attacker, sizeof c->train.select_attacker, "strongest");
    if (!strcmp(name, "paper")) {
        veil_probe_parse_list("all", c->train.attackers, &c->train.n_attackers);
        for (int g = 1; g <= VEIL_MAX_GROUPS; g++) c->groups[c->n_groups++] = g;
        c->cv = 10;
        /* each knob swept over the method's own list on iteration 0 */
        for (int k = 0; k < count; k++)
            for (int v = 0; v < ms[k]->n_sweep && v < VEIL_MAX_KNOB_VALUES; v++)
                c->knob_values[ms[k]->id][c->n_knob_values[ms[k]->id]++] = ms[k]->sweep[v];
        return 0;
    }
    if (!strcmp(name, "quick")) {
        /* Scaled down to about ten minutes on 2 cores (docs/experiment.md has the measured
         * time): one iteration, G = 1 and 5, fewer epochs, two attacker groups. The
         * attackers on the 16384-dimensional G = 1 features and the G = 5 Siamese
         * training take most of the time. */
        veil_probe_parse_list("cheap", c->train.attackers, &c->train.n_attackers);
        c->groups[c->n_groups++] = 1;
        c->groups[c->n_groups++] = 5;
        c->cv = 1;
        c->protocol.attack_groups = 2;
        c->train.patience = 4;
        c->train.gender_epochs = 5;
        c->train.attack_epochs = 10; /* the paper-mlp family on 16384-dimensional G = 1 features
                                      * was a third of the demo's time at 20 */
        veil_train_config_set(&c->train, "siamese_epochs", "10");
        veil_train_config_set(&c->train, "reference_epochs", "5");
        /* the methods with a knob: one value (their setting's), as short as the reference */
        for (int k = 0; k < count; k++)
            if (ms[k]->knob && ms[k]->epochs_setting) veil_train_config_set(&c->train, ms[k]->epochs_setting, "5");
        return 0;
    }
    veil_error("unknown preset '%s' (expected quick or paper)", name);
    return -1;
}

int veil_set_select_attacker(veil_train_config *t, const char *name)
{
    if (strcmp(name, "strongest") && name[0] && !veil_probe_find(name)) {
        int n;
        const veil_probe *p = veil_probes(&n);
        veil_strbuf b = {0};
        for (int i = 0; i < n; i++) veil_strbuf_printf(&b, ", %s", p[i].name);
        veil_error("unknown selection attacker '%s' (expected strongest%s)", name, b.s ? b.s : "");
        free(b.s);
        return -1;
    }
    snprintf(t->select_attacker, sizeof t->select_attacker, "%s", name);
    return 0;
}

int veil_experiment_parse_groups(const char *s, veil_experiment_config *c)
{
    int have[VEIL_MAX_GROUPS + 1] = {0};
    const char *p = s;
    while (*p) {
        char *end;
        long a = strtol(p, &end, 10), b = a;
        if (end == p) goto bad;
        p = end;
        if (*p == '-') {
            b = strtol(p + 1, &end, 10);
            if (end == p + 1) goto bad;
            p = end;
        }
        if (a < 1 || b > VEIL_MAX_GROUPS || a > b) goto bad;
        for (long g = a; g <= b; g++) have[g] = 1;
        if (*p == ',') p++;
        else if (*p) goto bad;
    }
    c->n_groups = 0;
    for (int g = 1; g <= VEIL_MAX_GROUPS; g++)
        if (have[g]) c->groups[c->n_groups++] = g;
    if (c->n_groups) return 0;
bad:
    veil_error("--groups: expected values in 1..%d like '1-5' or '1,3,5', got '%s'", VEIL_MAX_GROUPS, s);
    return -1;
}

int veil_experiment_parse_methods(const char *s, veil_experiment_config *c)
{
    int with[VEIL_METHOD_SLOTS] = {0}, any = 0;
    char *copy = veil_strdup(s), *save = NULL;
    for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        veil_method m;
        if (veil_method_parse(t, &m) != 0) {
            free(copy);
            veil_error_prefix("--methods");
            return -1;
        }
        with[m] = any = 1;
    }
    free(copy);
    if (!any) {
        veil_error("--methods: expected a comma-separated list of methods, got '%s'", s);
        return -1;
    }
    memcpy(c->with_method, with, sizeof with);
    return 0;
}

int veil_experiment_parse_knob(const char *option, const char *list, veil_experiment_config *c)
{
    int count, id = -1;
    const veil_train_method *const *ms = veil_train_methods(&count);
    for (int k = 0; k < count && id < 0; k++)
        if (veil_method_is_knob(ms[k]->id, option)) id = ms[k]->id;
    if (id < 0) return 1;
    double values[VEIL_MAX_KNOB_VALUES];
    int n = 0;
    veil_method_settings scratch = c->train.method[id];
    const char *p = list;
    while (*p) {
        char *end;
        double v = strtod(p, &end);
        if (end == p || (*end && *end != ',')) {
            veil_error("%s: expected comma-separated numbers, got '%s'", option, list);
            return -1;
        }
        if (n == VEIL_MAX_KNOB_VALUES) {
            veil_error("%s: at most %d values", option, VEIL_MAX_KNOB_VALUES);
            return -1;
        }
        for (int i = 0; i < n; i++)
            if (values[i] == v) {
                veil_error("%s: %g given twice", option, v);
                return -1;
            }
        if (veil_method_set_knob(&scratch, id, v) != 0) return -1; /* in range */
        values[n++] = v;
        p = *end ? end + 1 : end;
    }
    if (!n) {
        veil_error("%s: no value given", option);
        return -1;
    }
    memcpy(c->knob_values[id], values, (size_t)n * sizeof(double));
    c->n_knob_values[id] = n;
    return 0;
}

/* ---------------- the grid ---------------- */

/* A method's knob values in this grid: the swept list, or the setting's own value. */
static int knob_values_of(const veil_experiment_config *c, int id, double *values)
{
    return veil_experiment_knob_values(c, id, values);
}

int veil_experiment_knob_values(const veil_experiment_config *c, int id, double *values)
{
    if (c->n_knob_values[id] > 0) {
        memcpy(values, c->knob_values[id], (size_t)c->n_knob_values[id] * sizeof(double));
        return c->n_knob_values[id];
    }
    values[0] = veil_method_knob(id, &c->train.method[id]);
    return 1;
}

veil_job_id *veil_experiment_jobs(const veil_experiment_config *c, size_t *n)
{
    int count;
    const veil_train_method *const *ms = veil_train_methods(&count);
    size_t cap = 1;
    for (int k = 0; k < count; k++) cap += (size_t)(c->n_groups + VEIL_MAX_KNOB_VALUES) * (size_t)(c->cv > 0 ? c->cv : 0);
    veil_job_id *j = veil_malloc(cap * sizeof *j);
    *n = 0;
    for (int i = 0; i < c->cv; i++)
        for (int k = 0; k < count; k++) {
            int id = ms[k]->id;
            if (!c->with_method[id]) continue;
            if (ms[k]->groups == VEIL_GROUPS_ONE) {
                j[(*n)++] = (veil_job_id){id, 1, i, NAN, 0};
            } else if (ms[k]->groups == VEIL_GROUPS_LIST) {
                for (int q = 0; q < c->n_groups; q++) j[(*n)++] = (veil_job_id){id, c->groups[q], i, NAN, 0};
            } else {
                double v[VEIL_MAX_KNOB_VALUES];
                int nv = knob_values_of(c, id, v);
                if (i == 0 || nv == 1)
                    for (int q = 0; q < (i == 0 ? nv : 1); q++) j[(*n)++] = (veil_job_id){id, c->sweep_groups, i, v[q], 0};
                else
                    j[(*n)++] = (veil_job_id){id, c->sweep_groups, i, NAN, 1};
            }
        }
    return j;
}

int veil_experiment_job_validates(const veil_experiment_config *c, veil_job_id id)
{
    double values[VEIL_MAX_KNOB_VALUES];
    return id.iteration == 0 && !id.select && !isnan(id.knob) && knob_values_of(c, id.method, values) > 1;
}

/* Does the grid sweep a knob over two or more values (and so need the validation group)? */
static int grid_sweeps(const veil_experiment_config *c)
{
    int count;
    const veil_train_method *const *ms = veil_train_methods(&count);
    for (int k = 0; k < count; k++)
        if (c->with_method[ms[k]->id] && ms[k]->groups == VEIL_GROUPS_SWEEP && c->n_knob_values[ms[k]->id] > 1)
            return 1;
    return 0;
}

/* ---------------- config.json ---------------- */
/* Every setting, written from the settings tables so that none is left out. */
static cJSON *train_json(const veil_train_config *t)
{
    int n;
    const veil_setting *common = veil_train_common_settings(&n);
    return veil_settings_to_json(common, n, t);
}

static cJSON *method_settings_json(const veil_train_config *t)
{
    cJSON *o = cJSON_CreateObject();
    int count;
    const veil_train_method *const *ms = veil_train_methods(&count);
    for (int k = 0; k < count; k++)
        cJSON_AddItemToObject(o, ms[k]->name, veil_settings_to_json(ms[k]->settings, ms[k]->n_settings,
                                                                  veil_method_settings_get(t, ms[k]->id)));
    return o;
}

/* "attackers": the battery's names in table order (paper-mlp alone when none was
 * given); "select_attacker": what chooses a knob on the validation group. */
static void attackers_json(cJSON *o, const veil_train_config *t)
{
    cJSON *a = cJSON_AddArrayToObject(o, "attackers");
    if (!t->n_attackers) cJSON_AddItemToArray(a, cJSON_CreateString("paper-mlp"));
    for (int k = 0; k < t->n_attackers; k++) cJSON_AddItemToArray(a, cJSON_CreateString(t->attackers[k]->name));
    cJSON_AddStringToObject(o, "select_attacker", t->select_attacker);
}

static cJSON *config_json(const veil_experiment_config *c, const veil_protocol_config *protocol,
                          const veil_corpus *corpus, const veil_patch_set *patches, veil_precision resolved)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "veil_version", VEIL_VERSION);
    cJSON *cj = cJSON_AddObjectToObject(o, "corpus");
    /* as given on the command line: committed results name no machine's absolute path */
    cJSON_AddStringToObject(cj, "path", c->corpus);
    cJSON_AddStringToObject(cj, "layout", veil_layout_name(corpus->layout));
    cJSON_AddNumberToObject(cj, "speakers", corpus->n_speakers);
    cJSON_AddNumberToObject(cj, "female", veil_corpus_count_gender(corpus, 'F'));
    cJSON_AddNumberToObject(cj, "male", veil_corpus_count_gender(corpus, 'M'));
    cJSON_AddNumberToObject(cj, "utterances", corpus->n_utts);
    cJSON_AddNumberToObject(cj, "patches", (double)patches->n_patches);
    char *mfcc = veil_mfcc_config_to_json(&c->mfcc);
    cJSON *mj = mfcc ? cJSON_Parse(mfcc) : NULL;
    free(mfcc);
    cJSON_AddItemToObject(o, "mfcc", mj ? mj : cJSON_CreateNull());
    cJSON *pj = cJSON_AddObjectToObject(o, "protocol");
    cJSON_AddNumberToObject(pj, "train_speakers", c->protocol.train_speakers);
    cJSON_AddNumberToObject(pj, "train_fraction", c->protocol.train_fraction);
    cJSON_AddNumberToObject(pj, "attack_fraction", c->protocol.attack_fraction);
    cJSON_AddNumberToObject(pj, "attack_groups", c->protocol.attack_groups);
    cJSON_AddNumberToObject(pj, "validation_group", protocol->validation_group);
    /* the task the service recognises; its classes as this corpus has them (for reports) */
    cJSON_AddStringToObject(o, "task", c->protocol.task[0] ? c->protocol.task : "gender");
    veil_task_classes tk;
    if (veil_corpus_task(corpus, c->protocol.task[0] ? c->protocol.task : "gender", &tk) == 0) {
        cJSON *tj = cJSON_AddObjectToObject(o, "task_classes");
        for (int j = 0; j < tk.k; j++) cJSON_AddNumberToObject(tj, tk.names[j], tk.speakers[j]);
        veil_task_classes_free(&tk);
    }
    cJSON_AddItemToObject(o, "train", train_json(&c->train));
    cJSON_AddItemToObject(o, "method_settings", method_settings_json(&c->train));
    attackers_json(o, &c->train);
    cJSON *ms = cJSON_AddArrayToObject(o, "methods");
    int count;
    const veil_train_method *const *all = veil_train_methods(&count);
    for (int k = 0; k < count; k++)
        if (c->with_method[all[k]->id]) cJSON_AddItemToArray(ms, cJSON_CreateString(all[k]->name));
    cJSON_AddItemToObject(o, "groups", cJSON_CreateIntArray(c->groups, c->n_groups));
    cJSON_AddNumberToObject(o, "sweep_groups", c->sweep_groups);
    cJSON *sw = cJSON_AddObjectToObject(o, "sweeps");
    for (int k = 0; k < count; k++) {
        if (!c->with_method[all[k]->id] || all[k]->groups != VEIL_GROUPS_SWEEP) continue;
        double v[VEIL_MAX_KNOB_VALUES];
        int nv = knob_values_of(c, all[k]->id, v);
        cJSON *mo = cJSON_AddObjectToObject(sw, all[k]->name);
        cJSON_AddItemToObject(mo, all[k]->knob, cJSON_CreateDoubleArray(v, nv));
    }
    cJSON_AddNumberToObject(o, "cv", c->cv);
    cJSON *pr = cJSON_AddObjectToObject(o, "precision");
    cJSON_AddStringToObject(pr, "requested", veil_precision_name(c->precision));
    cJSON_AddStringToObject(pr, "resolved", veil_precision_name(resolved));
    cJSON_AddNumberToObject(o, "threads", veil_threads());
    cJSON_AddNumberToObject(o, "seed", (double)c->seed); /* --seed <= 2^53: exact */
    return o;
}

/* The fields whose change changes results; the grid (methods, groups, cv), threads, the
 * requested precision and the version may change between runs of the same OUT. */
static const char *const result_fields[] = {"corpus", "mfcc", "protocol", "task", "train", "seed", "precision.resolved",
                                            "attackers", "select_attacker"};
/* Each method's own settings (method_settings.<name>) and its sweep (sweeps.<name>: the
 * values of iteration 0 choose what later iterations run) are compared too, for the
 * methods that have results (config.json records every method's settings, also those of
 * a method the grid never ran, and a method new to the grid has no results yet). */

static cJSON *get_path(const cJSON *o, const char *path)
{
    char buf[128];
    snprintf(buf, sizeof buf, "%s", path);
    char *dot = strchr(buf, '.');
    if (dot) *dot = 0;
    cJSON *x = cJSON_GetObjectItemCaseSensitive(o, buf);
    return dot && x ? cJSON_GetObjectItemCaseSensitive(x, dot + 1) : x;
}

typedef struct diffbuf {
    char text[2048];
    size_t len;
    int count;
} diffbuf;

static void diff_add(diffbuf *d, const char *name, const cJSON *was, const cJSON *now)
{
    char *a = was ? cJSON_PrintUnformatted(was) : NULL, *b = now ? cJSON_PrintUnformatted(now) : NULL;
    if (d->len < sizeof d->text)
        d->len += (size_t)snprintf(d->text + d->len, sizeof d->text - d->len, "%s%s (was %s, now %s)",
                                   d->count ? "; " : "", name, a ? a : "absent", b ? b : "absent");
    d->count++;
    free(a);
    free(b);
}

static void diff_json(diffbuf *d, const char *name, const cJSON *was, const cJSON *now)
{
    if (was && now && cJSON_IsObject(was) && cJSON_IsObject(now)) {
        const cJSON *x;
        char sub[256];
        cJSON_ArrayForEach(x, was) {
            snprintf(sub, sizeof sub, "%s.%s", name, x->string);
            diff_json(d, sub, x, cJSON_GetObjectItemCaseSensitive(now, x->string));
        }
        cJSON_ArrayForEach(x, now) {
            if (cJSON_GetObjectItemCaseSensitive(was, x->string)) continue;
            snprintf(sub, sizeof sub, "%s.%s", name, x->string);
            diff_add(d, sub, NULL, x);
        }
        return;
    }
    if (!was || !now || !cJSON_Compare(was, now, 1)) diff_add(d, name, was, now);
}

/* has_results: 1 per method id with a line in results.jsonl; NULL compares every method
 * both configurations have. */
static int diff_results_fields(const cJSON *was, const cJSON *now, const int *has_results, diffbuf *d)
{
    d->len = 0;
    d->count = 0;
    d->text[0] = 0;
    for (size_t i = 0; i < sizeof result_fields / sizeof result_fields[0]; i++) {
        const cJSON *w = get_path(was, result_fields[i]), *x = get_path(now, result_fields[i]);
        if (!strcmp(result_fields[i], "corpus") && cJSON_IsObject(w) && cJSON_IsObject(x)) {
            /* the corpus is the same when its counts are: it may have moved (a committed
             * run resumed in another checkout), so its path is not compared */
            const cJSON *k;
            cJSON_ArrayForEach(k, w) {
                if (!strcmp(k->string, "path")) continue;
                char sub[160];
                snprintf(sub, sizeof sub, "corpus.%s", k->string);
                diff_json(d, sub, k, cJSON_GetObjectItemCaseSensitive(x, k->string));
            }
            continue;
        }
        diff_json(d, result_fields[i], w, x);
    }
    static const char *const per_method[] = {"method_settings", "sweeps"};
    for (int k = 0; k < 2; k++) {
        const cJSON *mw = cJSON_GetObjectItemCaseSensitive(was, per_method[k]);
        const cJSON *mn = cJSON_GetObjectItemCaseSensitive(now, per_method[k]);
        const cJSON *x;
        cJSON_ArrayForEach(x, mw) {
            const cJSON *y = cJSON_GetObjectItemCaseSensitive(mn, x->string);
            const veil_train_method *m = veil_train_method_by_name(x->string);
            if (has_results && (!m || !has_results[m->id])) continue;
            char name[160];
            snprintf(name, sizeof name, "%s.%s", per_method[k], x->string);
            if (y) diff_json(d, name, x, y);
        }
    }
    return d->count;
}

#ifdef VEIL_HAVE_MPI
/* A worker's configuration against rank 0's ("was" = rank 0's, "now" = this rank's). */
static int differing_fields(const cJSON *was, const cJSON *now, const char *what)
{
    diffbuf d;
    if (!diff_results_fields(was, now, NULL, &d)) return 0;
    veil_error("this rank's inputs differ from %s in %d field%s: %s. Every machine needs the same "
               "corpus and cache, and --precision fp32 or bf16 when CPUs differ",
               what, d.count, d.count == 1 ? "" : "s", d.text);
    return -1;
}
#endif

/* has_results[id] = 1 for each method with a line in RESULTS (a missing file has none).
 * Lines that do not parse are skipped here: loading the results reports them. */
static void methods_with_results(const char *results, int has_results[VEIL_METHOD_SLOTS])
{
    memset(has_results, 0, VEIL_METHOD_SLOTS * sizeof has_results[0]);
    char *text;
    if (!veil_path_exists(results) || veil_read_file(results, &text, NULL) != 0) return;
    for (char *line = text, *next; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next) *next++ = 0;
        cJSON *o = cJSON_Parse(line);
        const cJSON *name = cJSON_GetObjectItemCaseSensitive(o, "method");
        const veil_train_method *m = cJSON_IsString(name) ? veil_train_method_by_name(name->valuestring) : NULL;
        if (m) has_results[m->id] = 1;
        cJSON_Delete(o);
    }
    free(text);
}

/* 0: no config.json yet (*was NULL) or the same results-relevant fields (*was: the recorded
 * configuration, the caller's to free); -1: refused or unreadable. */
static int check_existing_config(const char *path, const char *results, const cJSON *now, cJSON **was_out)
{
    *was_out = NULL;
    if (!veil_path_exists(path)) return 0;
    char *text;
    if (veil_read_file(path, &text, NULL) != 0) return -1;
    veil_results_rules was_rules;
    if (veil_config_json_check(path, text, &was_rules) != 0) {
        free(text);
        return -1;
    }
    veil_results_rules_free(&was_rules);
    cJSON *was = cJSON_Parse(text);
    free(text);
    /* a config.json from before the battery: paper-mlp alone, chosen by paper-mlp */
    if (was && !cJSON_GetObjectItemCaseSensitive(was, "attackers")) {
        cJSON *a = cJSON_AddArrayToObject(was, "attackers");
        cJSON_AddItemToArray(a, cJSON_CreateString("paper-mlp"));
    }
    if (was && !cJSON_GetObjectItemCaseSensitive(was, "select_attacker")) cJSON_AddStringToObject(was, "select_attacker", "");
    /* one from before tasks: gender */
    if (was && !cJSON_GetObjectItemCaseSensitive(was, "task")) cJSON_AddStringToObject(was, "task", "gender");
    diffbuf d;
    int has_results[VEIL_METHOD_SLOTS];
    methods_with_results(results, has_results);
    diff_results_fields(was, now, has_results, &d);
    if (d.count) {
        cJSON_Delete(was);
        veil_error("%s: this output directory holds results of another configuration; %d field%s "
                   "differ%s: %s. Use another --out, or the same options as before",
                   path, d.count, d.count == 1 ? "" : "s", d.count == 1 ? "s" : "", d.text);
        return -1;
    }
    *was_out = was;
    return 0;
}

static int json_has_string(const cJSON *array, const char *s)
{
    const cJSON *x;
    cJSON_ArrayForEach(x, array)
        if (cJSON_IsString(x) && !strcmp(x->valuestring, s)) return 1;
    return 0;
}

/* A resume may run a part of the grid (--methods bottleneck on a run of seven methods);
 * config.json goes on describing the whole run, so that the report, `train --from DIR
 * --job N` and `audit --experiment DIR --job N` see every method and the same job numbers
 * after it: the methods and Siamese G of both grids, each method's sweep (this run's for
 * its methods, the recorded one for the others) and the larger cv. */
static void merge_recorded_grid(cJSON *now, const cJSON *was)
{
    int count;
    const veil_train_method *const *all = veil_train_methods(&count);
    const cJSON *wm = cJSON_GetObjectItemCaseSensitive(was, "methods"), *nm = cJSON_GetObjectItemCaseSensitive(now, "methods");
    cJSON *methods = cJSON_CreateArray();
    for (int k = 0; k < count; k++)
        if (json_has_string(nm, all[k]->name) || json_has_string(wm, all[k]->name))
            cJSON_AddItemToArray(methods, cJSON_CreateString(all[k]->name));
    cJSON_ReplaceItemInObjectCaseSensitive(now, "methods", methods);

    int in[VEIL_MAX_GROUPS + 1] = {0}; /* G in 1..VEIL_MAX_GROUPS */
    const cJSON *x;
    for (int w = 0; w < 2; w++)
        cJSON_ArrayForEach(x, cJSON_GetObjectItemCaseSensitive(w ? was : now, "groups"))
            if (cJSON_IsNumber(x) && x->valueint >= 1 && x->valueint <= VEIL_MAX_GROUPS) in[x->valueint] = 1;
    int groups[VEIL_MAX_GROUPS], n = 0;
    for (int g = 1; g <= VEIL_MAX_GROUPS; g++)
        if (in[g]) groups[n++] = g;
    cJSON_ReplaceItemInObjectCaseSensitive(now, "groups", cJSON_CreateIntArray(groups, n));

    const cJSON *ws = cJSON_GetObjectItemCaseSensitive(was, "sweeps"), *ns = cJSON_GetObjectItemCaseSensitive(now, "sweeps");
    cJSON *sweeps = cJSON_CreateObject();
    for (int k = 0; k < count; k++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(ns, all[k]->name);
        if (!v) v = cJSON_GetObjectItemCaseSensitive(ws, all[k]->name);
        if (v) cJSON_AddItemToObject(sweeps, all[k]->name, cJSON_Duplicate(v, 1));
    }
    cJSON_ReplaceItemInObjectCaseSensitive(now, "sweeps", sweeps);

    /* a narrower grid keeps the larger cv: results.jsonl still holds those iterations */
    const cJSON *wcv = cJSON_GetObjectItemCaseSensitive(was, "cv"), *ncv = cJSON_GetObjectItemCaseSensitive(now, "cv");
    if (cJSON_IsNumber(wcv) && cJSON_IsNumber(ncv) && wcv->valuedouble > ncv->valuedouble)
        cJSON_ReplaceItemInObjectCaseSensitive(now, "cv", cJSON_CreateNumber(wcv->valuedouble));
}

/* The attacker-validation group of the run in OUT (0 when OUT has no config.json or it
 * records none). A resume keeps it: a method added without a sweep (raw beside swept
 * methods) runs on the split of the rest, not on one without the validation group. */
static int recorded_validation_group(const char *out)
{
    char path[4096], *text;
    snprintf(path, sizeof path, "%s/config.json", out);
    if (!veil_path_exists(path) || veil_read_file(path, &text, NULL) != 0) return 0;
    cJSON *o = cJSON_Parse(text);
    free(text);
    const cJSON *v = get_path(o, "protocol.validation_group");
    int g = cJSON_IsNumber(v) && v->valueint ? 1 : 0;
    cJSON_Delete(o);
    return g;
}

static int write_json(FILE *f, void *ctx)
{
    char *s = veil_json_print_pretty((const cJSON *)ctx);
    int rc = s && fputs(s, f) >= 0 && fputc('\n', f) != EOF ? 0 : -1;
    free(s);
    if (rc) veil_error("write failed");
    return rc;
}

/* ---------------- results.jsonl ---------------- */
static int append_line(const char *path, const char *json)
{
    size_t n = strlen(json);
    char *line = veil_malloc(n + 2);
    memcpy(line, json, n);
    line[n] = '\n';
    line[n + 1] = 0;
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        veil_error("%s: cannot open for appending: %s", path, strerror(errno));
        free(line);
        return -1;
    }
    /* one write() of the whole line: a crash leaves the line whole or torn, never mixed */
    ssize_t w = write(fd, line, n + 1);
    int rc = 0;
    if (w != (ssize_t)(n + 1)) {
        veil_error("%s: append failed: %s", path, w < 0 ? strerror(errno) : "short write");
        rc = -1;
    } else if (fsync(fd) != 0) {
        veil_error("%s: fsync failed: %s", path, strerror(errno));
        rc = -1;
    }
    close(fd);
    free(line);
    return rc;
}

/* A job is done when results.jsonl has its (method, G, iteration) and knob value; a
 * job whose knob is selected is done by any knob value of its (method, G, iteration). */
static int job_done(const veil_job_result *r, size_t n, veil_job_id id)
{
    for (size_t i = 0; i < n; i++)
        if (r[i].method == id.method && r[i].groups == id.groups && r[i].iteration == id.iteration &&
            (id.select || isnan(id.knob) || veil_method_knob(r[i].method, &r[i].settings) == id.knob))
            return 1;
    return 0;
}

/* ---------------- report from OUT ---------------- */
static int json_int(const cJSON *o, const char *path, int fallback)
{
    const cJSON *x = get_path(o, path);
    return cJSON_IsNumber(x) ? x->valueint : fallback;
}
static const char *json_str(const cJSON *o, const char *path)
{
    const cJSON *x = get_path(o, path);
    return cJSON_IsString(x) ? x->valuestring : "?";
}

static char *config_markdown(const cJSON *c)
{
    veil_strbuf b = {0};
    char *methods = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(c, "methods"));
    char *groups = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(c, "groups"));
    veil_strbuf_printf(&b, "- corpus: `%s` (%s layout, %d speakers: %d F / %d M, %d utterances, %d patches)\n",
                       json_str(c, "corpus.path"), json_str(c, "corpus.layout"), json_int(c, "corpus.speakers", 0),
                       json_int(c, "corpus.female", 0), json_int(c, "corpus.male", 0),
                       json_int(c, "corpus.utterances", 0), json_int(c, "corpus.patches", 0));
    int ag = json_int(c, "protocol.attack_groups", 0);
    char agtext[32];
    if (ag) snprintf(agtext, sizeof agtext, "%d", ag);
    else snprintf(agtext, sizeof agtext, "as many as fit");
    veil_strbuf_printf(&b, "- protocol: St = %d training speakers, attacker groups of St speakers: %s\n",
                       json_int(c, "protocol.train_speakers", 0), agtext);
    /* a task other than gender: its classes, and how the St training speakers fall on them */
    const cJSON *task = cJSON_GetObjectItemCaseSensitive(c, "task"), *tc = cJSON_GetObjectItemCaseSensitive(c, "task_classes");
    if (cJSON_IsString(task) && strcmp(task->valuestring, "gender") && cJSON_IsObject(tc)) {
        int k = cJSON_GetArraySize(tc), st = json_int(c, "protocol.train_speakers", 0), i = 0;
        int *avail = veil_calloc((size_t)(k ? k : 1), sizeof(int)), *quota = veil_calloc((size_t)(k ? k : 1), sizeof(int));
        const char **names = veil_calloc((size_t)(k ? k : 1), sizeof(char *));
        const cJSON *x;
        cJSON_ArrayForEach(x, tc) names[i] = x->string, avail[i++] = (int)cJSON_GetNumberValue(x);
        int ok = veil_task_quota(st, k, avail, names, task->valuestring, quota) == 0;
        veil_strbuf_printf(&b, "- task: %s, %d classes (speakers in the corpus%s): ", task->valuestring, k,
                           ok ? ", of them training speakers" : "");
        for (i = 0; i < k; i++) {
            veil_strbuf_printf(&b, "%s%s %d", i ? ", " : "", names[i], avail[i]);
            if (ok) veil_strbuf_printf(&b, " (%d)", quota[i]);
        }
        veil_strbuf_printf(&b, "\n");
        free(avail), free(quota), free(names);
    }
    char *sweeps = cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(c, "sweeps"));
    veil_strbuf_printf(&b, "- grid: methods %s, Siamese G %s, %d cross-validation iteration(s), seed %.0f; "
                           "methods with a knob at G = %d, swept on iteration 0: `%s`%s\n",
                       methods ? methods : "?", groups ? groups : "?", json_int(c, "cv", 0),
                       cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(c, "seed")),
                       json_int(c, "sweep_groups", VEIL_MAX_GROUPS), sweeps ? sweeps : "{}",
                       json_int(c, "protocol.validation_group", 0) ? " (with the attacker-validation group)" : "");
    free(sweeps);
    veil_strbuf_printf(&b, "- shared: %s g %d epochs (batch %d), attacker %d epochs (batch %d), early-stopping "
                           "patience %d; filter divisor %d\n", cJSON_IsString(task) ? task->valuestring : "gender",
                       json_int(c, "train.gender_epochs", 0), json_int(c, "train.gender_batch", 0),
                       json_int(c, "train.attack_epochs", 0), json_int(c, "train.attack_batch", 0),
                       json_int(c, "train.patience", 0), json_int(c, "train.filter_divisor", 1));
    /* each method's own settings, as config.json has them */
    const cJSON *ms = cJSON_GetObjectItemCaseSensitive(c, "method_settings"), *m;
    cJSON_ArrayForEach(m, ms) {
        char *s = cJSON_PrintUnformatted(m);
        veil_strbuf_printf(&b, "- %s: `%s`\n", m->string, s ? s : "?");
        free(s);
    }
    const cJSON *att = cJSON_GetObjectItemCaseSensitive(c, "attackers");
    char *atts = att ? cJSON_PrintUnformatted(att) : NULL;
    const cJSON *sel = cJSON_GetObjectItemCaseSensitive(c, "select_attacker");
    veil_strbuf_printf(&b, "- attackers: `%s`; a knob is selected by %s on the attacker-validation group\n",
                       atts ? atts : "[\"paper-mlp\"]",
                       cJSON_IsString(sel) && sel->valuestring[0]
                           ? (!strcmp(sel->valuestring, "strongest") ? "the strongest attacker per utterance"
                                                                      : sel->valuestring)
                           : "paper-mlp per patch");
    free(atts);
    veil_strbuf_printf(&b, "- precision: %s requested, %s used; %d threads; veil %s\n",
                       json_str(c, "precision.requested"), json_str(c, "precision.resolved"), json_int(c, "threads", 0),
                       json_str(c, "veil_version"));
    veil_strbuf_printf(&b, "- full configuration: `config.json`; one line per job: `results.jsonl`\n");
    free(methods);
    free(groups);
    return b.s;
}

/* config.json's list of the values method m's knob swept (sweeps.<method>.<knob>), or NULL */
static const cJSON *swept_values(const cJSON *config, const veil_train_method *m)
{
    const cJSON *mo = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(config, "sweeps"), m->name);
    return m->knob ? cJSON_GetObjectItemCaseSensitive(mo, m->knob) : NULL;
}

static int report_from(const char *out, const cJSON *config, const veil_results_rules *rules, int print_table)
{
    char path[4096], png[4096], svg[4096];
    snprintf(path, sizeof path, "%s/results.jsonl", out);
    veil_job_result *r;
    size_t n;
    if (veil_results_load(path, rules, &r, &n, NULL, NULL) != 0) return -1;
    /* attackers scored after the run on its saved models (veil audit --experiment) */
    char *audits = NULL;
    veil_summary s;
    if (veil_results_merge_audits(out, r, n, &audits) != 0 || veil_summary_make(r, n, &s) != 0) {
        free(audits);
        veil_results_free(r, n);
        return -1;
    }
    int st = json_int(config, "protocol.train_speakers", 20);
    /* the task (config.json "task"; absent: gender), its classes and the chance of an
     * attacker who knows a test speaker's class (the jobs' mean) */
    const cJSON *tj = cJSON_GetObjectItemCaseSensitive(config, "task");
    const char *task = cJSON_IsString(tj) ? tj->valuestring : "gender";
    double label_chance = 0;
    int n_chance = 0, n_classes = 2;
    for (size_t i = 0; i < n; i++) {
        if (isfinite(r[i].label_chance)) label_chance += r[i].label_chance, n_chance++;
        n_classes = r[i].n_classes;
    }
    label_chance = n_chance ? label_chance / n_chance : NAN;
#ifdef VEIL_HAVE_PLOTS
    veil_plot_set_task(task, label_chance);
#endif
    int rc = 0;
    snprintf(path, sizeof path, "%s/summary.csv", out);
    if (veil_summary_write_csv(path, &s) != 0) rc = -1;
    char *md = config_markdown(config);
    veil_report_info info = {.config_markdown = md, .st = st,
                             .sweep_groups = json_int(config, "sweep_groups", VEIL_MAX_GROUPS), .task = task,
                             .n_classes = n_classes, .label_chance = label_chance, .audits = audits};
    int count;
    const veil_train_method *const *ms = veil_train_methods(&count);
    for (int k = 0; k < count; k++) {
        const cJSON *list = swept_values(config, ms[k]);
        if (cJSON_IsArray(list)) info.swept[ms[k]->id] = cJSON_GetArraySize(list);
    }
#ifdef VEIL_HAVE_PLOTS
    /* each figure's two files, and the report's link to the PNG when it was drawn */
#define FIGURE(field, stem, call)                                                                                \
    do {                                                                                                         \
        snprintf(png, sizeof png, "%s/" stem ".png", out);                                                       \
        snprintf(svg, sizeof svg, "%s/" stem ".svg", out);                                                       \
        if (rc == 0 && (call) != 0) rc = -1;                                                                     \
        info.field = stem ".png";                                                                                \
    } while (0)
    int sweep_groups = info.sweep_groups;
    const veil_summary_row *rows[VEIL_METHOD_SLOTS];
    int nrows = veil_figure4_rows(&s, r, n, sweep_groups, rows);
    FIGURE(figure, "figure3", veil_plot_figure3(&s, st, png, svg));
    FIGURE(figure4, "figure4", veil_plot_figure4(rows, nrows, st, png, svg));
    FIGURE(tradeoff, "tradeoff", veil_plot_tradeoff(&s, sweep_groups, st, png, svg));
    FIGURE(extractors, "extractors", veil_plot_extractors(&s, st, png, svg));
    /* Figures 3 and 4 and the trade-off under the strongest attacker per utterance, and the battery */
    int battery = 0;
    for (int i = 0; i < s.n_rows; i++) battery |= s.rows[i].strongest_index >= 0;
    if (battery) {
        veil_summary strong;
        veil_summary_strongest(&s, &strong);
        const veil_summary_row *srows[VEIL_METHOD_SLOTS];
        for (int i = 0; i < nrows; i++) srows[i] = &strong.rows[rows[i] - s.rows];
        const char *as = "strongest per utterance";
        FIGURE(figure3_strongest, "figure3-strongest", veil_plot_figure3_as(&strong, st, as, png, svg));
        FIGURE(figure4_strongest, "figure4-strongest", veil_plot_figure4_as(srows, nrows, st, as, png, svg));
        FIGURE(tradeoff_strongest, "tradeoff-strongest",
               veil_plot_tradeoff_as(&strong, sweep_groups, st, as, png, svg));
        FIGURE(frontier, "frontier", veil_plot_frontier(&strong, sweep_groups, st, png, svg));
        veil_summary_free(&strong);
        FIGURE(attackers_figure, "attackers", veil_plot_attackers(&s, st, png, svg));
    }
#undef FIGURE
#else /* a build without cairo (VEIL_WITH_PLOTS=OFF): the report without figures */
    (void)png;
    (void)svg;
#endif
    snprintf(path, sizeof path, "%s/report.md", out);
    if (rc == 0 && veil_report_write_md(path, &info, &s, r, n) != 0) rc = -1;
    free(md);
    free(audits);
    if (rc == 0 && print_table) {
        char *t = veil_summary_table(&s);
        printf("\n%s", t);
        free(t);
        if (!strcmp(task, "gender"))
            printf("\nchance: 1/St = %.1f %%, knowing gender 2/St = %.1f %%\n", 100.0 / st, 200.0 / st);
        else
            printf("\ntask: %s (%d classes); chance: 1/St = %.1f %%, knowing the %s %.1f %%\n", task, n_classes,
                   100.0 / st, task, 100 * label_chance);
        printf("results: %s/results.jsonl\nsummary: %s/summary.csv\nreport:  %s/report.md\n"
               "figures: %s/figure3.png, figure4.png, tradeoff.png, extractors.png (and .svg)\n", out, out, out, out);
        fflush(stdout);
    }
    veil_summary_free(&s);
    veil_results_free(r, n);
    return rc;
}

int veil_experiment_report(const char *out_dir, int print_table)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/config.json", out_dir);
    char *text;
    if (veil_read_file(path, &text, NULL) != 0) return -1;
    veil_results_rules rules;
    if (veil_config_json_check(path, text, &rules) != 0) {
        free(text);
        return -1;
    }
    cJSON *config = cJSON_Parse(text);
    free(text);
    int rc = report_from(out_dir, config, &rules, print_table);
    veil_results_rules_free(&rules);
    cJSON_Delete(config);
    return rc;
}

/* ---------------- the run ---------------- */
static int check_config(const veil_experiment_config *c)
{
    if (!c->corpus || !c->out) {
        veil_error("experiment: both a corpus and an output directory are needed");
        return -1;
    }
    if (c->cv < 1) {
        veil_error("experiment: --cv must be at least 1 (got %d)", c->cv);
        return -1;
    }
    int count, any = 0;
    const veil_train_method *const *ms = veil_train_methods(&count);
    for (int k = 0; k < count; k++) {
        if (!c->with_method[ms[k]->id]) continue;
        any = 1;
        if (ms[k]->groups == VEIL_GROUPS_LIST && c->n_groups < 1) {
            veil_error("experiment: the %s method needs at least one G (--groups)", ms[k]->name);
            return -1;
        }
    }
    if (!any) {
        veil_error("experiment: no method selected");
        return -1;
    }
    if (c->sweep_groups < 1 || c->sweep_groups > VEIL_MAX_GROUPS) {
        veil_error("experiment: --sweep-groups %d outside 1..%d", c->sweep_groups, VEIL_MAX_GROUPS);
        return -1;
    }
    for (int i = 0; i < c->n_groups; i++)
        if (c->groups[i] < 1 || c->groups[i] > VEIL_MAX_GROUPS) {
            veil_error("experiment: G = %d outside 1..%d", c->groups[i], VEIL_MAX_GROUPS);
            return -1;
        }
    return veil_mfcc_config_validate(&c->mfcc);
}

/* OUT must be creatable and writable; checked before any long work. */
static int check_out_writable(const char *out)
{
    if (!*out) {
        veil_error("experiment: the output directory (--out) is empty");
        return -1;
    }
    if (veil_path_exists(out)) {
        if (!veil_is_dir(out)) {
            veil_error("%s: exists and is not a directory", out);
            return -1;
        }
        if (access(out, W_OK | X_OK) != 0) {
            veil_error("%s: output directory not writable: %s", out, strerror(errno));
            return -1;
        }
        return 0;
    }
    char *parent = veil_strdup(out);
    size_t n = strlen(parent);
    while (n > 1 && parent[n - 1] == '/') parent[--n] = 0;
    char *slash = strrchr(parent, '/');
    /* the nearest existing ancestor must be writable */
    if (!slash) snprintf(parent, n + 1, ".");
    else if (slash == parent) slash[1] = 0;
    else *slash = 0;
    while (!veil_path_exists(parent) && strcmp(parent, ".") && strcmp(parent, "/")) {
        slash = strrchr(parent, '/');
        if (!slash) snprintf(parent, n + 1, ".");
        else if (slash == parent) slash[1] = 0;
        else *slash = 0;
    }
    int rc = 0;
    if (access(parent, W_OK | X_OK) != 0) {
        veil_error("%s: cannot create the output directory (%s: %s)", out, parent, strerror(errno));
        rc = -1;
    }
    free(parent);
    return rc;
}

/* One line per finished job, with the grid's time left from this run's throughput so
 * far (jobs per wall second: also right when several MPI workers run at once). */
static void progress_line(size_t k, size_t total, const veil_job_result *r, int rank, double elapsed)
{
    if (veil_verbosity < 1) return;
    char where[32] = "", left[48] = "";
    if (rank > 0) snprintf(where, sizeof where, " (rank %d)", rank);
    if (k < total) {
        char d[24];
        veil_format_duration(elapsed / (double)k * (double)(total - k), d, sizeof d);
        snprintf(left, sizeof left, "; about %s left", d);
    }
    const veil_train_method *m = veil_train_method_by_id(r->method);
    char knob[64] = "";
    if (m && m->knob) snprintf(knob, sizeof knob, " %s=%g", m->knob, veil_method_knob(r->method, &r->settings));
    fprintf(stderr, "job %zu/%zu %s G=%d%s iteration %d%s: gender eval %.1f %%, gender test %.1f %%, "
                    "attacker %.1f %%, %d epoch%s, %.0f s%s%s\n",
            k, total, veil_method_name(r->method), r->groups, knob, r->iteration, where, 100 * r->gender_eval_acc,
            100 * r->gender_test_acc, 100 * r->attack_acc_mean, r->epochs_run, r->epochs_run == 1 ? "" : "s", r->seconds,
            left, r->collapsed ? "  COLLAPSED" : "");
    fflush(stderr);
}

/* Everything one process of a run holds. The coordinator (or a single process) also owns
 * OUT: its lock, config.json and results.jsonl. */
typedef struct run_state {
    const veil_experiment_config *c;
    veil_protocol_config protocol; /* c's, with the validation group when the grid sweeps
                                    * or the run it resumes has one */
    int keep_validation_group;     /* 1: the run in OUT has one (rank 0's, for a worker) */
    veil_precision resolved;
    veil_corpus *corpus;
    veil_patch_set *patches;
    veil_split split;
    int have_split, split_iter;
    cJSON *config;
    veil_job_result *done;
    size_t n_done;
    veil_job_id *jobs;
    size_t n_jobs;
    char *handed;   /* per job: handed out in this run */
    int lock_fd;
    int out_was_new; /* OUT did not exist: a failure before any result removes what we made */
    veil_results_rules rules;
    char results[4096];
    /* the job loop */
    size_t next, todo, started, finished;
    long ran;
    int said_stop;
    double start; /* wall clock when the job loop began */
    double load_seconds; /* corpus and patch cache: the first job this process runs gets it as its I/O stage */
    int load_charged;
    int tty;
    char name[96];
} run_state;

static void run_state_free(run_state *s)
{
    if (s->have_split) veil_split_free(&s->split);
    free(s->jobs);
    free(s->handed);
    veil_results_free(s->done, s->n_done);
    veil_results_rules_free(&s->rules);
    cJSON_Delete(s->config);
    veil_patch_set_free(s->patches);
    veil_corpus_free(s->corpus);
    if (s->lock_fd >= 0) close(s->lock_fd);
}

/* Corpus, patches, the resolved configuration and the job list: what every process needs. */
static int load_inputs(run_state *s)
{
    const veil_experiment_config *c = s->c;
    if (veil_precision_resolve(c->precision, &s->resolved) != 0) return -1;
    double t0 = veil_now();
    s->protocol = c->protocol;
    s->protocol.validation_group = grid_sweeps(c) || s->keep_validation_group;
    if (veil_corpus_load(c->corpus, &s->corpus) != 0) return -1;
    if (veil_features_load(s->corpus, &c->mfcc, c->cache, c->threads, &s->patches) != 0) return -1;
    s->load_seconds = veil_now() - t0;
    /* the protocol must fit this corpus before anything is written */
    if (veil_split_make(s->corpus, s->patches, &s->protocol, veil_experiment_split_seed(c->seed, 0), &s->split) != 0) {
        veil_error_prefix("%s", c->corpus);
        return -1;
    }
    s->have_split = 1;
    s->split_iter = 0;
    s->config = config_json(c, &s->protocol, s->corpus, s->patches, s->resolved);
    s->jobs = veil_experiment_jobs(c, &s->n_jobs);
    s->handed = veil_calloc(s->n_jobs ? s->n_jobs : 1, 1);
    return 0;
}

/* OUT: lock, config.json (checked against an existing one), resume from results.jsonl. */
static int open_out(run_state *s)
{
    const veil_experiment_config *c = s->c;
    char path[4096];
    s->out_was_new = !veil_path_exists(c->out);
    if (veil_mkdirs(c->out) != 0) return -1;
    snprintf(path, sizeof path, "%s/.lock", c->out);
    s->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (s->lock_fd < 0) {
        veil_error("%s: cannot create: %s", path, strerror(errno));
        return -1;
    }
    if (flock(s->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        veil_error("%s: another veil experiment is writing to this directory", c->out);
        return -1;
    }
    /* temporaries of a run killed while writing its report (veil_write_atomic: only veil's
     * own, NAME.veil-tmp.PID of a process that is gone; a user's notes.tmp.42 stays) */
    veil_remove_stale_temporaries(c->out, "experiment");
    snprintf(path, sizeof path, "%s/config.json", c->out);
    snprintf(s->results, sizeof s->results, "%s/results.jsonl", c->out);
    if (!veil_path_exists(path) && veil_path_exists(s->results)) {
        veil_error("%s: results without their config.json; cannot tell which configuration made "
                   "them. Use another --out", s->results);
        return -1;
    }
    cJSON *was;
    if (check_existing_config(path, s->results, s->config, &was) != 0) return -1;
    if (was) merge_recorded_grid(s->config, was);
    cJSON_Delete(was);
    if (veil_write_atomic(path, write_json, s->config) != 0) return -1;

    /* resume: what is done already. A complete line that is invalid stops the run (nothing
     * is deleted); only a torn last line (no newline) is cut so the next line starts clean. */
    s->rules.cv = json_int(s->config, "cv", c->cv); /* the larger of the two grids' */
    s->rules.have_seed = 1;
    s->rules.seed = c->seed;
    s->rules.have_precision = 1;
    s->rules.precision = s->resolved;
    const cJSON *ms = cJSON_GetObjectItemCaseSensitive(s->config, "method_settings");
    if (ms) s->rules.method_settings = cJSON_PrintUnformatted(ms);
    size_t good = 0;
    int torn = 0;
    if (veil_results_load(s->results, &s->rules, &s->done, &s->n_done, &good, &torn) != 0) {
        char *why = veil_strdup(veil_last_error());
        veil_error("%s; nothing was changed: fix or remove that line (or use another --out), then run again", why);
        free(why);
        return -1;
    }
    struct stat st;
    if (torn && stat(s->results, &st) == 0) {
        size_t size = (size_t)st.st_size;
        if (good < size) {
            fprintf(stderr, "veil: warning: %s: cutting %zu bytes of a torn last line (no newline: a run "
                            "killed while writing it)\n", s->results, size - good);
            if (truncate(s->results, (off_t)good) != 0) {
                veil_error("%s: cannot cut the torn last line: %s", s->results, strerror(errno));
                return -1;
            }
        }
    }
    for (size_t i = 0; i < s->n_jobs; i++) s->todo += !job_done(s->done, s->n_done, s->jobs[i]);
    if (veil_verbosity >= 1) {
        if (s->todo)
            fprintf(stderr, "experiment: %zu jobs, %zu done, %zu to run; results in %s\n", s->n_jobs,
                    s->n_jobs - s->todo, s->todo, s->results);
        else fprintf(stderr, "experiment: all %zu jobs done already; results in %s\n", s->n_jobs, s->results);
    }
    s->tty = isatty(fileno(stderr));
    s->start = veil_now();
    return 0;
}

/* open_out; on a failure in an OUT this run created (a full disk, say), leave no .lock or
 * empty directory behind. */
static int open_out_or_clean(run_state *s)
{
    if (open_out(s) == 0) return 0;
    if (s->out_was_new) {
        char path[4096];
        snprintf(path, sizeof path, "%s/.lock", s->c->out);
        if (s->lock_fd >= 0) close(s->lock_fd);
        s->lock_fd = -1;
        unlink(path);
        rmdir(s->c->out);
    }
    return -1;
}

/* The knob value iteration 0 selected for a job (docs/protocol.md, "Selecting a knob"):
 * 1 and *value when every swept value's result is in, 0 while one is missing. */
static int selected_knob(const run_state *s, veil_job_id id, double *value)
{
    double v[VEIL_MAX_KNOB_VALUES];
    int nv = knob_values_of(s->c, id.method, v);
    return veil_select_knob(s->done, s->n_done, id.method, id.groups, v, nv, value, NULL) == 0;
}

/* The next job to run (index into jobs); -1: none left, or --max-jobs reached; -2: the
 * jobs left wait for the results of a sweep still running (MPI: ask again later). */
static long next_job(void *ctx)
{
    run_state *s = ctx;
    if (s->c->max_jobs > 0 && s->ran >= s->c->max_jobs) {
        int left = 0;
        for (size_t k = 0; k < s->n_jobs && !left; k++) left = !s->handed[k] && !job_done(s->done, s->n_done, s->jobs[k]);
        if (left && veil_verbosity >= 1 && !s->said_stop)
            fprintf(stderr, "experiment: stopping after %ld job(s) (--max-jobs); run again to go on\n", s->ran);
        s->said_stop = 1; /* every MPI worker asks once more */
        return -1;
    }
    int waiting = 0;
    for (size_t k = 0; k < s->n_jobs; k++) {
        if (s->handed[k] || job_done(s->done, s->n_done, s->jobs[k])) continue;
        if (s->jobs[k].select && !selected_knob(s, s->jobs[k], &s->jobs[k].knob)) {
            waiting = 1;
            continue;
        }
        s->handed[k] = 1;
        s->ran++;
        return (long)k;
    }
    /* waiting is only worth it while the sweep's jobs are still out */
    return waiting && s->started > s->finished ? -2 : -1;
}

static const char *job_name(void *ctx, long job)
{
    run_state *s = ctx;
    if (job < 0 || (size_t)job >= s->n_jobs) return "(none)";
    veil_job_id id = s->jobs[job];
    const veil_train_method *m = veil_train_method_by_id(id.method);
    if (!isnan(id.knob) && m && m->knob)
        snprintf(s->name, sizeof s->name, "%s G=%d %s=%g%s iteration %d", m->name, id.groups, m->knob, id.knob,
                 id.select ? " (selected)" : "", id.iteration);
    else
        snprintf(s->name, sizeof s->name, "%s G=%d iteration %d", veil_method_name(id.method), id.groups, id.iteration);
    return s->name;
}

static int job_started(void *ctx, long job, int rank, const char *host)
{
    run_state *s = ctx;
    s->started++;
    if (s->tty && veil_verbosity >= 1) {
        if (rank > 0) fprintf(stderr, "[job %zu/%zu] %s on rank %d (%s)\n", s->started, s->todo, job_name(s, job), rank, host);
        else fprintf(stderr, "[job %zu/%zu] %s\n", s->started, s->todo, job_name(s, job));
    }
    return 0;
}

/* Runs one job of the grid with its knob value (NaN: none); its results.jsonl line
 * (malloc'd) or NULL. */
static char *run_job(void *ctx, long job, double knob)
{
    run_state *s = ctx;
    const veil_experiment_config *c = s->c;
    veil_job_id id = s->jobs[job];
    if (s->split_iter != id.iteration) {
        if (s->have_split) veil_split_free(&s->split);
        s->have_split = 0;
        if (veil_split_make(s->corpus, s->patches, &s->protocol, veil_experiment_split_seed(c->seed, id.iteration),
                            &s->split) != 0)
            return NULL;
        s->have_split = 1;
        s->split_iter = id.iteration;
    }
    veil_train_config tc = c->train;
    if (!isnan(knob) && veil_method_set_knob(&tc.method[id.method], id.method, knob) != 0) return NULL;
    /* the validation group's attacker only where a knob is being chosen: iteration 0 of a sweep */
    veil_split view = s->split;
    view.has_validation = s->split.has_validation && veil_experiment_job_validates(c, id);
    veil_job_result r;
    uint64_t seed = veil_experiment_job_seed(c->seed, id.method, id.groups, id.iteration);
    veil_model *model = NULL;
    if (veil_job_run(id.method, id.groups, id.iteration, &view, s->patches, &tc, s->resolved, seed, &r,
                     c->save_models ? &model : NULL) != 0) {
        veil_error_prefix("job %s", job_name(s, job));
        return NULL;
    }
    if (model) {
        /* OUT/models/<method>-G<G>[-<knob><value>]-i<iteration>.safetensors */
        char dir[4200], path[4400], knobtext[64] = "";
        const veil_train_method *m = veil_train_method_by_id(id.method);
        if (!isnan(knob) && m && m->knob) snprintf(knobtext, sizeof knobtext, "-%s%g", m->knob, knob);
        snprintf(dir, sizeof dir, "%s/models", c->out);
        snprintf(path, sizeof path, "%s/%s-G%d%s-i%d.safetensors", dir, veil_method_name(id.method), id.groups,
                 knobtext, id.iteration);
        int bad = veil_mkdirs(dir) != 0 || veil_model_save(path, model) != 0;
        veil_model_free(model);
        if (bad) {
            veil_error_prefix("job %s: --save-models", job_name(s, job));
            veil_job_result_free(&r);
            return NULL;
        }
    }
    if (!s->load_charged) r.stages.io = s->load_seconds;
    s->load_charged = 1;
    char *line = veil_job_result_to_json(&r);
    veil_job_result_free(&r);
    if (!line) veil_error("job %s: cannot encode its result", job_name(s, job));
    return line;
}

/* A finished job: one fsynced line of results.jsonl, then its progress line. */
static int job_finished(void *ctx, long job, int rank, const char *line)
{
    run_state *s = ctx;
    veil_job_result r;
    if (veil_job_result_from_json(line, &r) != 0) {
        veil_error_prefix("job %s from rank %d: unreadable result", job_name(s, job), rank);
        return -1;
    }
    int rc = append_line(s->results, line);
    if (rc == 0) progress_line(++s->finished, s->todo, &r, rank, veil_now() - s->start);
    /* kept: later jobs select their knob from these results */
    s->done = veil_realloc(s->done, (s->n_done + 1) * sizeof *s->done);
    s->done[s->n_done++] = r;
    return rc;
}

static double job_knob(void *ctx, long job)
{
    run_state *s = ctx;
    return s->jobs[job].knob;
}

static int run_serial(run_state *s)
{
    for (long job; (job = next_job(s)) >= 0;) {
        job_started(s, job, 0, NULL);
        char *line = run_job(s, job, s->jobs[job].knob);
        if (!line) return -1;
        int rc = job_finished(s, job, 0, line);
        free(line);
        if (rc) return -1;
    }
    return report_from(s->c->out, s->config, &s->rules, 1);
}

#ifdef VEIL_HAVE_MPI
/* The grid over MPI ranks: rank 0 owns OUT, ranks 1.. run jobs. Every rank checks its
 * inputs; a worker whose corpus, settings or resolved precision differ from rank 0's
 * (another machine, another CPU) is refused by name before any job runs. */
static int run_mpi(run_state *s)
{
    vx_mpi m;
    if (vx_mpi_init(&m) != 0) return -1;
    int ok = 1;
    if (m.rank == 0) {
        s->keep_validation_group = recorded_validation_group(s->c->out);
        ok = load_inputs(s) == 0 && open_out_or_clean(s) == 0;
        if (ok && veil_verbosity >= 1)
            fprintf(stderr, "experiment: %d worker rank(s) under MPI; rank 0 (%s) coordinates\n", m.size - 1, m.host);
    }
    /* workers load after rank 0 so that a missing patch cache is computed once */
    if (!vx_mpi_all_ok(ok)) goto refused;
    char *reference = NULL;
    if (m.rank == 0) reference = cJSON_PrintUnformatted(s->config);
    if (vx_mpi_bcast_string(&reference) != 0) ok = 0;
    if (m.rank > 0 && ok) {
        veil_verbosity = veil_verbosity > 0 ? 0 : veil_verbosity; /* rank 0 reports progress */
        if (s->c->threads <= 0) {
            int per = veil_threads() / (m.node_workers > 0 ? m.node_workers : 1);
            veil_set_threads(per > 0 ? per : 1);
        }
        cJSON *want = cJSON_Parse(reference);
        const cJSON *vg = get_path(want, "protocol.validation_group");
        s->keep_validation_group = cJSON_IsNumber(vg) && vg->valueint;
        ok = load_inputs(s) == 0;
        if (ok && (!want || differing_fields(want, s->config, "rank 0's configuration") != 0)) {
            veil_error_prefix("rank %d (%s)", m.rank, m.host);
            ok = 0;
        }
        cJSON_Delete(want);
        if (!ok) fprintf(stderr, "veil: %s\n", veil_last_error());
    }
    free(reference);
    if (!vx_mpi_all_ok(ok)) goto refused;

    int rc;
    if (m.rank == 0) {
        vx_coordinator co = {s, next_job, job_started, job_finished, job_name, job_knob};
        rc = vx_mpi_coordinate(&m, &co);
        if (rc == 0) rc = report_from(s->c->out, s->config, &s->rules, 1);
    } else {
        rc = vx_mpi_work(&m, run_job, s);
    }
    vx_mpi_finalize();
    return rc;
refused:
    if (m.rank == 0 && ok) veil_error("experiment: a worker rank could not start (its message is above)");
    else if (m.rank > 0 && ok) veil_error("experiment: rank 0 could not start (its message is above)");
    vx_mpi_finalize();
    return -1;
}
#endif

int veil_experiment_run(const veil_experiment_config *c)
{
    if (check_config(c) != 0 || check_out_writable(c->out) != 0) return -1;
    if (c->threads > 0) veil_set_threads(c->threads);
    run_state s;
    memset(&s, 0, sizeof s);
    s.c = c;
    s.lock_fd = -1;
    s.split_iter = -1;
    int rc;
#ifdef VEIL_HAVE_MPI
    if (vx_mpi_launched()) rc = run_mpi(&s);
    else
#endif
    {
        s.keep_validation_group = recorded_validation_group(c->out);
        rc = load_inputs(&s) == 0 && open_out_or_clean(&s) == 0 ? run_serial(&s) : -1;
    }
    run_state_free(&s);
    return rc;
}

/* ---------------- reading config.json back: one job rerun alone ---------------- */
static int json_get_int(const cJSON *o, const char *path, const char *file, int *out)
{
    const cJSON *x = get_path(o, path);
    if (!cJSON_IsNumber(x) || x->valuedouble != floor(x->valuedouble)) {
        veil_error("%s: \"%s\" is missing or not an integer", file, path);
        return -1;
    }
    *out = (int)x->valuedouble;
    return 0;
}

static int json_get_double(const cJSON *o, const char *path, const char *file, double *out)
{
    const cJSON *x = get_path(o, path);
    if (!cJSON_IsNumber(x)) {
        veil_error("%s: \"%s\" is missing or not a number", file, path);
        return -1;
    }
    *out = x->valuedouble;
    return 0;
}

int veil_experiment_config_read(const char *out_dir, veil_experiment_config *c, char **corpus)
{
    memset(c, 0, sizeof *c);
    *corpus = NULL;
    char path[4096];
    snprintf(path, sizeof path, "%s/config.json", out_dir);
    char *text;
    if (veil_read_file(path, &text, NULL) != 0) return -1;
    cJSON *o = cJSON_Parse(text);
    uint64_t seed_value = 0;
    char shown[64];
    int seed_bad = o ? veil_json_member_u64(text, "seed", &seed_value, shown, sizeof shown) : 0;
    free(text);
    if (!o) {
        veil_error("%s: not valid JSON", path);
        return -1;
    }
    int rc = -1;
    if (seed_bad) {
        veil_error("%s: \"seed\" is %s", path, seed_bad > 0 ? "missing" : shown);
        goto done;
    }
    const cJSON *cp = get_path(o, "corpus.path"), *mfcc = get_path(o, "mfcc");
    if (!cJSON_IsString(cp) || !cJSON_IsObject(mfcc)) {
        veil_error("%s: \"corpus.path\" or \"mfcc\" is missing", path);
        goto done;
    }
    *corpus = veil_strdup(cp->valuestring);
    c->corpus = *corpus;
    veil_mfcc_config_default(&c->mfcc);
    char *m = cJSON_PrintUnformatted(mfcc);
    int bad = veil_mfcc_config_from_json(m, &c->mfcc);
    free(m);
    if (bad) {
        veil_error_prefix("%s: mfcc", path);
        goto done;
    }
    if (json_get_int(o, "protocol.train_speakers", path, &c->protocol.train_speakers) ||
        json_get_double(o, "protocol.train_fraction", path, &c->protocol.train_fraction) ||
        json_get_double(o, "protocol.attack_fraction", path, &c->protocol.attack_fraction) ||
        json_get_int(o, "protocol.attack_groups", path, &c->protocol.attack_groups) ||
        json_get_int(o, "cv", path, &c->cv))
        goto done;
    c->seed = seed_value; /* from the text: exact at any size */
    /* the attacker-validation group (absent before knob sweeps: none) */
    c->protocol.validation_group = json_int(o, "protocol.validation_group", 0);
    /* the task (absent before tasks: gender) */
    const cJSON *task = cJSON_GetObjectItemCaseSensitive(o, "task");
    if (task && (!cJSON_IsString(task) || !task->valuestring[0] || strlen(task->valuestring) >= sizeof c->protocol.task)) {
        veil_error("%s: \"task\" must be a label name such as \"gender\"", path);
        goto done;
    }
    snprintf(c->protocol.task, sizeof c->protocol.task, "%s", task ? task->valuestring : "gender");
    veil_train_config_paper(&c->train);
    int n;
    const veil_setting *common = veil_train_common_settings(&n);
    if (veil_settings_from_json(common, n, get_path(o, "train"), &c->train, "train") != 0) {
        veil_error_prefix("%s", path);
        goto done;
    }
    const cJSON *ms = cJSON_GetObjectItemCaseSensitive(o, "method_settings");
    int count;
    const veil_train_method *const *all = veil_train_methods(&count);
    for (int k = 0; k < count; k++) {
        const cJSON *s = ms ? cJSON_GetObjectItemCaseSensitive(ms, all[k]->name) : NULL;
        if (s && veil_settings_from_json(all[k]->settings, all[k]->n_settings, s,
                                         veil_method_settings_of(&c->train, all[k]->id), all[k]->name) != 0) {
            veil_error_prefix("%s", path);
            goto done;
        }
    }
    const cJSON *x, *methods = cJSON_GetObjectItemCaseSensitive(o, "methods"),
                    *groups = cJSON_GetObjectItemCaseSensitive(o, "groups");
    cJSON_ArrayForEach(x, methods) {
        const veil_train_method *md = cJSON_IsString(x) ? veil_train_method_by_name(x->valuestring) : NULL;
        if (!md) {
            veil_error("%s: unknown method in \"methods\"", path);
            goto done;
        }
        c->with_method[md->id] = 1;
    }
    cJSON_ArrayForEach(x, groups) {
        if (!cJSON_IsNumber(x) || c->n_groups >= VEIL_MAX_GROUPS) {
            veil_error("%s: \"groups\" is not a list of up to %d numbers", path, VEIL_MAX_GROUPS);
            goto done;
        }
        c->groups[c->n_groups++] = (int)x->valuedouble;
    }
    /* the battery (absent before it existed: paper-mlp alone, chosen by paper-mlp) */
    const cJSON *att = cJSON_GetObjectItemCaseSensitive(o, "attackers");
    cJSON_ArrayForEach(x, att) {
        const veil_probe *pb = cJSON_IsString(x) ? veil_probe_find(x->valuestring) : NULL;
        if (!pb || c->train.n_attackers >= VEIL_MAX_PROBES) {
            veil_error("%s: unknown attacker in \"attackers\"", path);
            goto done;
        }
        c->train.attackers[c->train.n_attackers++] = pb;
    }
    const cJSON *sel = cJSON_GetObjectItemCaseSensitive(o, "select_attacker");
    if (sel && (!cJSON_IsString(sel) || veil_set_select_attacker(&c->train, sel->valuestring) != 0)) {
        veil_error_prefix("%s: \"select_attacker\"", path);
        goto done;
    }
    const cJSON *pr = get_path(o, "precision.resolved");
    if (!cJSON_IsString(pr) || veil_precision_parse(pr->valuestring, &c->precision) != 0) {
        veil_error("%s: \"precision.resolved\" is missing or unknown", path);
        goto done;
    }
    /* the methods with a knob: their G and the values the grid ran (absent before sweeps:
     * G 5 and the setting's own value), so the job list is the grid's */
    c->sweep_groups = json_int(o, "sweep_groups", 5);
    if (c->sweep_groups < 1 || c->sweep_groups > 5) {
        veil_error("%s: \"sweep_groups\" is %d, not 1..5", path, c->sweep_groups);
        goto done;
    }
    for (int k = 0; k < count; k++) {
        const cJSON *list = swept_values(o, all[k]);
        if (!list) continue;
        int nv = cJSON_GetArraySize(list);
        if (!cJSON_IsArray(list) || nv < 1 || nv > VEIL_MAX_KNOB_VALUES) {
            veil_error("%s: \"sweeps.%s.%s\" is not a list of 1 to %d numbers", path, all[k]->name, all[k]->knob,
                       VEIL_MAX_KNOB_VALUES);
            goto done;
        }
        int q = 0;
        cJSON_ArrayForEach(x, list) {
            if (!cJSON_IsNumber(x)) {
                veil_error("%s: \"sweeps.%s.%s\" holds a value that is not a number", path, all[k]->name,
                           all[k]->knob);
                goto done;
            }
            c->knob_values[all[k]->id][q++] = x->valuedouble;
        }
        c->n_knob_values[all[k]->id] = nv;
    }
    /* the threads the grid's jobs ran on (0: not recorded) */
    c->threads = json_int(o, "threads", 0);
    rc = 0;
done:
    cJSON_Delete(o);
    if (rc) {
        free(*corpus);
        *corpus = NULL;
    }
    return rc;
}
