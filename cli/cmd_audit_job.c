/* veil audit --model M --experiment OUT --job N: the battery on the attacker groups of one
 * job of an experiment, with the job's split, seeds and attacker settings, so that the
 * numbers are the job's (results.jsonl) when M is that job's model (--save-models). The
 * experiment's own attacker code runs (veil_attack_run); only the outputs are the audit's. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "veil/audit.h"
#include "veil/common.h"
#include "veil/experiment.h"
#include "veil/features.h"
#include "veil/job.h"
#include "veil/model.h"

int audit_experiment_job(const char *model_path, const char *from, const char *job_s, const char *corpus_dir,
                         const char *cache, const char *attackers, int threads, const char *out_dir)
{
    veil_experiment_config ec;
    char *config_corpus = NULL;
    if (veil_experiment_config_read(from, &ec, &config_corpus)) return -1;
    size_t n_jobs = 0;
    veil_job_id *jobs = veil_experiment_jobs(&ec, &n_jobs);
    veil_model *m = NULL;
    veil_corpus *c = NULL;
    veil_patch_set *p = NULL;
    veil_split split;
    int have_split = 0, rc = -1;
    veil_attack_result ar;
    memset(&ar, 0, sizeof ar);
    veil_audit_result res;
    memset(&res, 0, sizeof res);
    veil_strbuf source = {0};
    long job;
    if (n_jobs == 0 || cli_parse_int("--job", job_s, 0, (long)n_jobs - 1, &job)) {
        if (n_jobs == 0) veil_error("%s: the grid has no jobs", from);
        goto done;
    }
    /* the battery: --attackers when given, else the experiment's */
    const veil_probe *list[VEIL_MAX_PROBES];
    int n_list = 0;
    if (attackers) {
        if (veil_probe_parse_list(attackers, list, &n_list)) {
            veil_error_prefix("--attackers %s", attackers);
            goto done;
        }
    } else {
        n_list = ec.train.n_attackers;
        memcpy(list, ec.train.attackers, (size_t)n_list * sizeof *list);
    }
    veil_job_id id = jobs[job];
    int max_batch = ec.train.attack_batch > ec.train.extract_batch ? ec.train.attack_batch : ec.train.extract_batch;
    /* the job's precision, so that the features are the job's */
    if (cli_model_load(model_path, ec.precision, max_batch, &m)) goto done;
    if (!corpus_dir) corpus_dir = config_corpus;
    veil_strbuf_printf(&source, "model %s (%s) on corpus %s, the attacker groups of job %ld of %s (%s G=%d iteration %d)",
                       model_path, m->method, corpus_dir, job, from, veil_method_name(id.method), id.groups,
                       id.iteration);
    /* before minutes of work: never over the audit of another model or job */
    if (veil_audit_out_check(out_dir, source.s)) goto done;
    if (veil_corpus_load(corpus_dir, &c) || veil_features_load(c, &m->mfcc, cache, threads, &p)) goto done;
    if (veil_split_make(c, p, &ec.protocol, veil_experiment_split_seed(ec.seed, id.iteration), &split)) {
        veil_error_prefix("%s", corpus_dir);
        goto done;
    }
    have_split = 1;
    veil_split view = split;
    view.has_validation = 0; /* the test groups */
    uint64_t seed = veil_experiment_job_seed(ec.seed, id.method, id.groups, id.iteration);
    char name[160];
    snprintf(name, sizeof name, "audit of job %ld (%s G=%d iteration %d)", job, veil_method_name(id.method),
             id.groups, id.iteration);
    veil_attack_config ac = {n_list ? list : NULL, n_list, NULL, max_batch, ec.protocol.attack_fraction, NULL, 0, 0};
    if (veil_attack_run(m->f, p, &view, &ec.train, veil_seed_mix(seed, 0x61747461, 0), name, &ac, &ar)) goto done;

    /* as an audit result: groups, chance knowing the gender, every probe per group */
    int G = ar.n_groups, P = ar.n_probes, st = split.st;
    res.st = st;
    res.n_groups = G;
    res.n_probes = P;
    res.dim = veil_extractor_dim(m->f);
    res.n_rows = p->n_patches;
    res.n_speakers = split.n_speakers;
    res.probes = ar.probes;
    res.group_speakers = veil_malloc((size_t)(G * st > 0 ? G * st : 1) * sizeof *res.group_speakers);
    for (int i = 0; i < G * st; i++) res.group_speakers[i] = split.speaker_id[split.group_speakers[i]];
    res.chance_gender = veil_malloc((size_t)(G ? G : 1) * sizeof *res.chance_gender);
    for (int g = 0; g < G; g++) {
        int nm = 0;
        for (int k = 0; k < st; k++) nm += split.speaker_gender[split.group_speakers[g * st + k]] == 1;
        double ch = 0;
        for (size_t i = 0; i < split.n_aeval[g]; i++) {
            int male = split.speaker_gender[split.group_speakers[g * st + split.aeval_label[g][i]]] == 1;
            ch += male ? 1.0 / (nm ? nm : 1) : 1.0 / (st - nm ? st - nm : 1);
        }
        res.chance_gender[g] = split.n_aeval[g] ? ch / (double)split.n_aeval[g] : NAN;
    }
    /* a task other than gender: the chance knowing its class, likewise */
    if (split.speaker_class && strcmp(split.task, "gender")) {
        snprintf(res.task, sizeof res.task, "%s", split.task);
        res.chance_label = veil_malloc((size_t)(G ? G : 1) * sizeof *res.chance_label);
        for (int g = 0; g < G; g++)
            res.chance_label[g] = veil_label_chance_rows(split.speaker_class, split.group_speakers + (size_t)g * st, st,
                                                         split.aeval_label[g], split.n_aeval[g]);
    }
    res.r = veil_malloc((size_t)(P * G > 0 ? P * G : 1) * sizeof *res.r);
    memcpy(res.r, ar.r, (size_t)P * G * sizeof *res.r);
    veil_audit_job aj = {(int)job, veil_method_name(id.method), id.groups, id.iteration, id.knob, m->method};
    veil_audit_info info = {source.s, NULL, m->train_speakers, m->n_train_speakers, seed,
                            ec.protocol.attack_fraction, veil_precision_name(ec.precision), &aj};
    if (veil_audit_write(out_dir, &info, &res)) goto done;
    if (veil_verbosity >= 1) fprintf(stderr, "veil audit: wrote %s/audit.json, audit.md, audit.png\n", out_dir);
    rc = 0;
done:
    res.probes = NULL;
    veil_audit_result_free(&res);
    veil_attack_result_free(&ar);
    if (have_split) veil_split_free(&split);
    veil_patch_set_free(p);
    veil_corpus_free(c);
    veil_model_free(m);
    free(jobs);
    free(config_corpus);
    free(source.s);
    return rc;
}
