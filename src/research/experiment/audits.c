/* Attackers added after a run: an attacker that a run did not have (a newer one, or one
 * too costly for the whole grid) is scored afterwards on a job's saved model with
 * `veil audit --model OUT/models/M --experiment OUT --job N --out OUT/NAME`, which reruns
 * the job's attacker groups with its seeds. The report merges those audits into the jobs'
 * results in memory, every time it is written, so that the strongest attacker it names is
 * the strongest one tried. docs/experiment.md, "Attackers added after the run". */
#include "audits.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "research/train/method.h"
#include "veil/common.h"

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* Whether the n ids of mine and the JSON string array theirs are the same set. */
static int same_speakers(char *const *mine, int n, const cJSON *theirs)
{
    if (!cJSON_IsArray(theirs) || cJSON_GetArraySize(theirs) != n) return 0;
    char **a = veil_malloc((size_t)(n ? n : 1) * sizeof *a), **b = veil_malloc((size_t)(n ? n : 1) * sizeof *b);
    int ok = 1;
    for (int i = 0; i < n; i++) {
        const cJSON *s = cJSON_GetArrayItem(theirs, i);
        a[i] = mine[i];
        b[i] = cJSON_IsString(s) ? s->valuestring : NULL;
        ok &= b[i] != NULL;
    }
    if (ok) {
        qsort(a, (size_t)n, sizeof *a, cmp_str);
        qsort(b, (size_t)n, sizeof *b, cmp_str);
        for (int i = 0; i < n && ok; i++) ok = !strcmp(a[i], b[i]);
    }
    free(a);
    free(b);
    return ok;
}

/* The results line the audit's "experiment_job" names; NULL (message) when none or two. */
static veil_job_result *find_job(const cJSON *ej, const char *path, veil_job_result *r, size_t n, char *what,
                                 size_t what_size)
{
    const cJSON *method = cJSON_GetObjectItemCaseSensitive(ej, "method");
    const cJSON *groups = cJSON_GetObjectItemCaseSensitive(ej, "groups");
    const cJSON *iteration = cJSON_GetObjectItemCaseSensitive(ej, "iteration");
    const cJSON *knob = cJSON_GetObjectItemCaseSensitive(ej, "knob");
    if (!cJSON_IsString(method) || !cJSON_IsNumber(groups) || !cJSON_IsNumber(iteration) ||
        !(cJSON_IsNumber(knob) || cJSON_IsNull(knob))) {
        veil_error("%s: \"experiment_job\" needs method, groups, iteration and knob (a number or null)", path);
        return NULL;
    }
    /* knob null: none, or the value iteration 0 chose (one line per later iteration) */
    double k = cJSON_IsNumber(knob) ? knob->valuedouble : NAN;
    snprintf(what, what_size, "%s G = %d, iteration %d", method->valuestring, groups->valueint, iteration->valueint);
    veil_job_result *found = NULL;
    int count = 0;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(veil_method_name(r[i].method), method->valuestring) || r[i].groups != groups->valueint ||
            r[i].iteration != iteration->valueint)
            continue;
        if (isfinite(k) && veil_method_knob(r[i].method, &r[i].settings) != k) continue;
        found = &r[i];
        count++;
    }
    if (count != 1) {
        veil_error("%s: the audited job (%s) has %s in results.jsonl; an audit merged into a run must be of one "
                   "of its finished jobs (veil audit --experiment OUT --job N)",
                   path, what, count ? "more than one line" : "no line");
        return NULL;
    }
    /* the job's knob as the report writes it (on later iterations: the value chosen) */
    const veil_train_method *m = veil_train_method_by_id(found->method);
    double fk = veil_method_knob(found->method, &found->settings);
    if (m && m->knob && isfinite(fk)) {
        size_t len = strlen(what);
        snprintf(what + len, what_size - len, ", %s=%g", m->knob, fk);
    }
    return found;
}

/* Every rate of a merged attacker is a fraction (accuracies, EERs, chance, minDCF). */
static int rates_valid(const veil_job_attacker *a, int ng)
{
    for (int g = 0; g < ng; g++) {
        const veil_probe_result *p = &a->group[g];
        const double v[] = {p->acc, p->acc_utt, p->chance, p->eer, p->eer_lo, p->eer_hi, p->min_dcf,
                            p->eer_same_gender, p->eer_same_gender_lo, p->eer_same_gender_hi};
        for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
            if (isfinite(v[i]) && (v[i] < 0 || v[i] > 1)) return 0;
    }
    return 1;
}

static int merge_one(const char *path, const char *dir_name, veil_job_result *r, size_t n, veil_strbuf *notes)
{
    char *text = NULL;
    size_t size = 0;
    if (veil_read_file(path, &text, &size)) return -1;
    cJSON *o = cJSON_ParseWithLength(text, size);
    free(text);
    int rc = -1;
    if (!cJSON_IsObject(o)) {
        veil_error("%s: not a JSON object (an audit.json that veil audit wrote?)", path);
        goto done;
    }
    const cJSON *ej = cJSON_GetObjectItemCaseSensitive(o, "experiment_job");
    if (!ej) { /* an audit of something else: not this run's to merge */
        rc = 0;
        goto done;
    }
    char what[160];
    veil_job_result *job = find_job(ej, path, r, n, what, sizeof what);
    if (!job) goto done;
    const cJSON *mm = cJSON_GetObjectItemCaseSensitive(ej, "model_method");
    if (!cJSON_IsString(mm) || strcmp(mm->valuestring, veil_method_name(job->method))) {
        veil_error("%s: the audited model was trained with %s, the job (%s) with %s: its attackers are not that "
                   "job's", path, cJSON_IsString(mm) ? mm->valuestring : "an unnamed method", what,
                   veil_method_name(job->method));
        goto done;
    }
    /* the job's attacker groups and the model's training speakers: the audit read the
     * job's split, and the model is one that job trained */
    const cJSON *gs = cJSON_GetObjectItemCaseSensitive(o, "group_speakers");
    int ng = job->n_attack_groups, st = job->st, ok = job->group_speakers && cJSON_IsArray(gs) &&
                                                       cJSON_GetArraySize(gs) == ng;
    for (int g = 0; ok && g < ng; g++)
        ok = same_speakers(job->group_speakers + (size_t)g * (size_t)st, st, cJSON_GetArrayItem(gs, g));
    if (!ok) {
        veil_error("%s: its attacker groups are not the speakers of the job's (%s) in results.jsonl", path, what);
        goto done;
    }
    if (!job->train_speakers ||
        !same_speakers(job->train_speakers, job->n_train_speakers,
                       cJSON_GetObjectItemCaseSensitive(o, "left_out_speakers"))) {
        veil_error("%s: the audited model's training speakers are not the job's (%s): it is not that job's model",
                   path, what);
        goto done;
    }
    const cJSON *probes = cJSON_GetObjectItemCaseSensitive(o, "probes"), *p;
    if (!cJSON_IsObject(probes)) {
        veil_error("%s: \"probes\" is missing or not an object", path);
        goto done;
    }
    veil_strbuf added = {0}, kept = {0};
    cJSON_ArrayForEach(p, probes) {
        veil_job_attacker a;
        memset(&a, 0, sizeof a);
        if (veil_job_attacker_from_json(p, ng, &a) || !rates_valid(&a, ng) || strlen(p->string) >= sizeof a.name) {
            veil_error("%s: attacker \"%.40s\": every field must be an array of %d rates in 0..1 or null", path,
                       p->string, ng);
            free(a.group);
            free(added.s);
            free(kept.s);
            goto done;
        }
        int have = 0;
        for (int k = 0; k < job->n_attackers; k++) have |= !strcmp(job->attackers[k].name, p->string);
        if (have) {
            veil_strbuf_printf(&kept, "%s%s", kept.s ? ", " : "", p->string);
            free(a.group);
            continue;
        }
        const cJSON *secs = cJSON_GetObjectItemCaseSensitive(p, "seconds"), *x;
        cJSON_ArrayForEach(x, secs) if (cJSON_IsNumber(x)) a.seconds += x->valuedouble;
        job->attackers = veil_realloc(job->attackers, (size_t)(job->n_attackers + 1) * sizeof *job->attackers);
        job->attackers[job->n_attackers++] = a;
        veil_strbuf_printf(&added, "%s%s", added.s ? ", " : "", p->string);
    }
    veil_strbuf_printf(notes, "- `%s/`: %s on %s", dir_name, added.s ? added.s : "nothing new", what);
    if (kept.s) veil_strbuf_printf(notes, " (%s: the run's own numbers kept)", kept.s);
    veil_strbuf_printf(notes, "\n");
    free(added.s);
    free(kept.s);
    rc = 0;
done:
    cJSON_Delete(o);
    return rc;
}

int veil_results_merge_audits(const char *out_dir, veil_job_result *r, size_t n, char **notes)
{
    *notes = NULL;
    struct dirent **ents = NULL;
    int ne = scandir(out_dir, &ents, NULL, alphasort), rc = 0;
    veil_strbuf b = {0};
    for (int i = 0; i < ne; i++) {
        const char *name = ents[i]->d_name;
        char path[4096];
        struct stat sb;
        if (rc == 0 && name[0] != '.' &&
            snprintf(path, sizeof path, "%s/%s/audit.json", out_dir, name) < (int)sizeof path &&
            stat(path, &sb) == 0 && S_ISREG(sb.st_mode) && merge_one(path, name, r, n, &b))
            rc = -1;
        free(ents[i]);
    }
    free(ents);
    if (rc) free(b.s);
    else *notes = b.s;
    return rc;
}
