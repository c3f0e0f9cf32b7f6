/* veil train: one extractor (any method of the table) on one split of a corpus, saved as a
 * model file with its gender recognizer; prints the gender accuracies. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "veil/common.h"
#include "veil/corpus.h"
#include "veil/experiment.h"
#include "veil/features.h"
#include "veil/job.h"
#include "veil/model.h"
#include "veil/report.h"
#include "research/train/method.h"

static const char *usage_head =
    "usage: veil train --corpus DIR --method METHOD --groups G -o MODEL.safetensors\n"
    "                  [--seed N] [--iteration I] [--job-seed S] [--precision fp32|bf16|auto]\n"
    "                  [--threads N] [--epochs N] [--cache DIR] [--st 20] [--attack] [--json]\n"
    "                  [-v|-q] [--SETTING VALUE]...\n"
    "       veil train --from OUT --job N|list -o MODEL.safetensors [--corpus DIR] [--cache DIR]\n"
    "                  [--threads N] [--json] [-v|-q]\n\n"
    "Draws one split of the paper's protocol (St training speakers, half F and half M, 70/30\n"
    "into gender-training/evaluation; all others are gender-testing), trains the extractor f\n"
    "with METHOD (--epochs caps the method's epochs) and the gender recognizer g, saves both,\n"
    "and prints the gender accuracies. --attack also runs the speaker-identification\n"
    "attacker on every group of St other speakers. See docs/protocol.md.\n\n"
    "Seeds are the experiment's: --seed N is the base seed of `veil experiment --seed N`\n"
    "(any 64-bit value), the split is that of cross-validation iteration I (--iteration,\n"
    "default 0) and the job's own seed is derived as the grid derives it, unless --job-seed S\n"
    "gives it (the \"seed\" of a results.jsonl line, any 64-bit value).\n\n"
    "--from OUT --job N reruns job N of the experiment in OUT alone: its corpus (or --corpus\n"
    "if it moved), MFCC, protocol, settings, seeds and precision come from OUT/config.json,\n"
    "the attacker runs as in the grid, and the numbers are the grid's (--json prints its\n"
    "results.jsonl line). --job list prints the grid's jobs: N, method, G, iteration.\n\n"
    "Methods:\n";

typedef struct train_args {
    /* what a rerun of a grid's job (--from) takes too */
    const char *corpus, *out, *cache, *from, *job;
    int threads, json, attack;
    /* what --from takes from the grid's OUT/config.json instead */
    const char *method, *precision;
    int groups, iteration, epochs, st, have_job_seed;
    char task[32];
    uint64_t seed, job_seed;
    veil_train_config tc;
} train_args;

static int take_job_seed(void *a, const char *name, const char *v)
{
    train_args *t = a;
    t->have_job_seed = 1;
    return cli_parse_u64(name, v, &t->job_seed);
}

static int take_task(void *a, const char *name, const char *v)
{
    train_args *t = a;
    return cli_take_task(t->task, sizeof t->task, name, v);
}

static const cli_option train_rows[] = {
    CLI_TEXT_ROW("--corpus", "DIR", train_args, corpus, "the corpus (with --from: where the grid's corpus moved)"),
    {"--out", "-o", CLI_TEXT, "MODEL", offsetof(train_args, out), 0, 0, NULL, "the model file written (- = standard output)"},
    CLI_TEXT_ROW("--from", "OUT", train_args, from, "rerun a job of the experiment in OUT (with --job)"),
    CLI_TEXT_ROW("--job", "N|list", train_args, job, "the job of --from, or list: the grid's jobs"),
    CLI_TEXT_ROW("--cache", "DIR", train_args, cache, "MFCC patch cache (default: beside the corpus)"),
    CLI_INT_ROW("--threads", "N", train_args, threads, 0, 4096, "worker threads (default: all cores; --from: the grid's)"),
    CLI_FLAG_ROW("--json", train_args, json, "the results.jsonl line of the job instead of text"),
    CLI_FLAG_ROW("--attack", train_args, attack, "also the attacker on every group of St other speakers"),
};

static const cli_option train_grid_rows[] = {
    CLI_TEXT_ROW("--method", "METHOD", train_args, method, "the training method (above)"),
    CLI_INT_ROW("--groups", "G", train_args, groups, 1, VEIL_MAX_GROUPS, "the extractor's G (1..5)"),
    CLI_TEXT_ROW("--precision", "P", train_args, precision, "fp32|bf16|auto (default auto)"),
    CLI_U64_ROW("--seed", "N", train_args, seed, "the experiment's base seed (default 1)"),
    CLI_INT_ROW("--iteration", "I", train_args, iteration, 0, 1000000, "the cross-validation iteration's split (default 0)"),
    CLI_CALL_ROW("--job-seed", "S", take_job_seed, "the job's own seed (default: derived as the grid derives it)"),
    CLI_INT_ROW("--epochs", "N", train_args, epochs, 1, 100000, "caps the method's epochs"),
    CLI_INT_ROW("--st", "N", train_args, st, 2, 100000, "training speakers St (default 20)"),
    CLI_CALL_ROW("--task", "NAME", take_task,
                 "what g recognises: gender (default), or a label of the corpus:\n"
                 "accent, dialect, a manifest column (veil corpus info)"),
};

/* The synopsis with the table of methods (malloc'd). */
static char *synopsis(void)
{
    veil_strbuf b = {0};
    veil_strbuf_printf(&b, "%s", usage_head);
    int count;
    const veil_train_method *const *ms = veil_train_methods(&count);
    for (int k = 0; k < count; k++)
        veil_strbuf_printf(&b, "  %-*s %s\n", veil_method_name_width(), ms[k]->name, ms[k]->about);
    veil_strbuf_printf(&b, "\n");
    return b.s;
}

/* "reference|siamese|..." from the table of methods (malloc'd). */
static char *method_names(void)
{
    veil_strbuf b = {0};
    int count;
    const veil_train_method *const *ms = veil_train_methods(&count);
    for (int k = 0; k < count; k++) veil_strbuf_printf(&b, "%s%s", k ? "|" : "", ms[k]->name);
    return b.s;
}

static void print_json_line(const veil_job_result *r)
{
    char *line = veil_job_result_to_json(r);
    printf("%s\n", line);
    free(line);
}

/* The knob value of a job whose knob iteration 0 selected (OUT/results.jsonl, as the grid
 * selects it); 0 and *value, or -1 with a message while the sweep is not finished. */
static int selected_knob_of(const char *from, const veil_experiment_config *ec, veil_job_id id, double *value)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/results.jsonl", from);
    veil_job_result *r = NULL;
    size_t n = 0;
    if (veil_results_load(path, NULL, &r, &n, NULL, NULL) != 0) return -1;
    double v[VEIL_MAX_KNOB_VALUES];
    int nv = veil_experiment_knob_values(ec, id.method, v);
    int rc = veil_select_knob(r, n, id.method, id.groups, v, nv, value, NULL);
    veil_results_free(r, n);
    if (rc != 0)
        veil_error("%s: %s G=%d iteration %d runs the %s that iteration 0 selects, and iteration 0's sweep "
                   "is not finished", path, veil_method_name(id.method), id.groups, id.iteration,
                   veil_train_method_by_id(id.method)->knob);
    return rc;
}

/* --job list: one line per job under a header; a knob job shows its value (a job whose
 * value iteration 0 selects: the selected one, once the sweep is in results.jsonl) */
static void print_job_list(const char *from, const veil_experiment_config *ec, const veil_job_id *jobs, size_t n)
{
    int mw = veil_method_name_width();
    printf("%-4s %-*s %2s %9s  %s\n", "job", mw, "method", "G", "iteration", "knob (value)");
    for (size_t i = 0; i < n; i++) {
        const veil_train_method *m = veil_train_method_by_id(jobs[i].method);
        char knob[128] = "";
        double v;
        if (jobs[i].select && selected_knob_of(from, ec, jobs[i], &v) == 0)
            snprintf(knob, sizeof knob, "%s=%g (selected on iteration 0)", m->knob, v);
        else if (jobs[i].select)
            snprintf(knob, sizeof knob, "%s selected on iteration 0 (sweep not finished)", m->knob);
        else if (!isnan(jobs[i].knob) && m && m->knob)
            snprintf(knob, sizeof knob, "%s=%g", m->knob, jobs[i].knob);
        printf("%-4zu %-*s %2d %9d%s%s\n", i, mw, m ? m->name : "?", jobs[i].groups, jobs[i].iteration,
               knob[0] ? "  " : "", knob);
    }
    veil_error_clear();
}

/* veil train --from OUT --job N: job N of OUT's grid, alone, with the grid's settings,
 * seeds, knob value, attacker groups, precision and threads, so its numbers are the grid's
 * (docs/protocol.md, "Rerunning one job"). threads: --threads (0: not given). */
static int train_from(const cli_command *cmd, const char *from, const char *job_s, const char *grid_option,
                      const char *corpus_dir, const char *cache, const char *out, int threads, int json)
{
    if (grid_option)
        return cli_command_error(cmd, "%s: --from takes the method, G, seeds and settings from OUT/config.json",
                           grid_option);
    if (!job_s) return cli_command_error(cmd, "%s", "--from OUT needs --job N (or --job list)");
    veil_experiment_config ec;
    char *config_corpus = NULL;
    if (veil_experiment_config_read(from, &ec, &config_corpus)) return cli_fail();
    size_t n_jobs = 0;
    veil_job_id *jobs = veil_experiment_jobs(&ec, &n_jobs);
    int rc = 1;
    veil_corpus *c = NULL;
    veil_patch_set *p = NULL;
    veil_split split;
    int have_split = 0;
    veil_job_result r;
    int have_result = 0;
    veil_model *model = NULL;
    if (!strcmp(job_s, "list")) {
        print_job_list(from, &ec, jobs, n_jobs);
        rc = 0;
        goto done;
    }
    long job;
    if (cli_parse_int("--job", job_s, 0, n_jobs ? (long)n_jobs - 1 : 0, &job) || n_jobs == 0) {
        if (n_jobs == 0) veil_error("%s: the grid has no jobs", from);
        goto done;
    }
    if (!out) {
        free(jobs);
        free(config_corpus);
        return cli_command_error(cmd, "%s", "-o MODEL.safetensors is required");
    }
    if (json && !strcmp(out, "-")) {
        free(jobs);
        free(config_corpus);
        return cli_command_error(cmd, "%s", "--json and -o - would both write to standard output");
    }
    veil_job_id id = jobs[job];
    /* the grid's precision: a CPU without it cannot give the grid's numbers */
    veil_precision resolved;
    if (veil_precision_resolve(ec.precision, &resolved)) {
        veil_error_prefix("%s/config.json: the grid ran in %s", from, veil_precision_name(ec.precision));
        goto done;
    }
    /* the grid's threads: oneDNN and the heads split their sums by thread, so another
     * count gives other numbers in the last digits (docs/protocol.md) */
    if (threads > 0 && ec.threads > 0 && threads != ec.threads)
        fprintf(stderr,
                "veil train: warning: %s ran its jobs on %d threads and this rerun on %d: its numbers will "
                "differ from results.jsonl in the last digits (leave --threads out to use the grid's)\n",
                from, ec.threads, threads);
    if (threads <= 0) threads = ec.threads;
    /* the knob value the grid ran: its own, or the one iteration 0 selected */
    if (id.select && selected_knob_of(from, &ec, id, &id.knob)) goto done;
    if (!isnan(id.knob) && veil_method_set_knob(&ec.train.method[id.method], id.method, id.knob)) goto done;
    if (!corpus_dir) corpus_dir = config_corpus;
    veil_set_threads(threads);
    if (veil_corpus_load(corpus_dir, &c)) goto done;
    if (veil_features_load(c, &ec.mfcc, cache, threads, &p)) goto done;
    if (veil_split_make(c, p, &ec.protocol, veil_experiment_split_seed(ec.seed, id.iteration), &split)) {
        veil_error_prefix("%s", corpus_dir);
        goto done;
    }
    have_split = 1;
    /* the attacker-validation group only where the grid scored it */
    veil_split view = split;
    view.has_validation = split.has_validation && veil_experiment_job_validates(&ec, id);
    uint64_t seed = veil_experiment_job_seed(ec.seed, id.method, id.groups, id.iteration);
    const veil_train_method *m = veil_train_method_by_id(id.method);
    char knob[64] = "";
    if (!isnan(id.knob) && m && m->knob) snprintf(knob, sizeof knob, " %s=%g", m->knob, id.knob);
    if (veil_verbosity >= 1)
        fprintf(stderr, "train: job %ld of %s: %s G=%d%s iteration %d, seed %llu, %s, %d thread%s\n", job, from,
                veil_method_name(id.method), id.groups, knob, id.iteration, (unsigned long long)seed,
                veil_precision_name(resolved), veil_threads(), veil_threads() == 1 ? "" : "s");
    if (veil_job_run(id.method, id.groups, id.iteration, &view, p, &ec.train, resolved, seed, &r, &model))
        goto done;
    have_result = 1;
    if (veil_model_save(out, model)) goto done;
    /* the model on standard output (-o -): the report goes to standard error */
    FILE *rep = strcmp(out, "-") ? stdout : stderr;
    if (json) {
        print_json_line(&r);
    } else {
        fprintf(rep, "%s G=%d%s iteration %d (%s): gender-evaluation %.1f%%, gender-testing %.1f%%\n",
               veil_method_name(id.method), id.groups, knob, id.iteration, veil_precision_name(r.precision),
               100 * r.gender_eval_acc, 100 * r.gender_test_acc);
        if (r.n_attack_groups)
            fprintf(rep, "attacker: %.1f%% mean over %d group%s of %d speakers\n", 100 * r.attack_acc_mean,
                   r.n_attack_groups, r.n_attack_groups == 1 ? "" : "s", split.st);
        if (r.collapsed) fprintf(rep, "warning: collapsed: %s\n", r.collapse_reason);
        fprintf(rep, "saved %s\n", out);
    }
    rc = 0;
done:
    if (have_result) veil_job_result_free(&r);
    veil_model_free(model);
    if (have_split) veil_split_free(&split);
    veil_patch_set_free(p);
    veil_corpus_free(c);
    free(jobs);
    free(config_corpus);
    return rc ? cli_fail() : 0;
}

/* One extractor as the arguments say; grid_option: the first option given that --from
 * takes from the grid instead. */
static int train(const cli_command *cmd, const train_args *a, const char *grid_option)
{
    const char *corpus_dir = a->corpus, *out = a->out, *cache = a->cache, *method_s = a->method;
    int json = a->json, attack = a->attack;
    long groups = a->groups, threads = a->threads, epochs = a->epochs, st = a->st, iteration = a->iteration;
    uint64_t seed = a->seed, job_seed = a->job_seed;
    veil_train_config tc = a->tc;
    if (a->from) return train_from(cmd, a->from, a->job, grid_option, corpus_dir, cache, out, (int)threads, json);
    if (a->job) return cli_command_error(cmd, "%s", "--job N goes with --from OUT");
    if (!corpus_dir) return cli_command_error(cmd, "%s", "--corpus DIR is required");
    if (!out) return cli_command_error(cmd, "%s", "-o MODEL.safetensors is required");
    if (json && !strcmp(out, "-")) return cli_command_error(cmd, "%s", "--json and -o - would both write to standard output");
    if (!method_s) {
        char *names = method_names();
        cli_command_error(cmd, "--method %s is required", names);
        free(names);
        return 2;
    }
    if (!groups) return cli_command_error(cmd, "%s", "--groups G (1..5) is required");
    if (veil_output_check(out)) return cli_fail(); /* before the training, not after */
    veil_method method;
    veil_precision prec;
    if (veil_method_parse(method_s, &method) || veil_precision_parse(a->precision, &prec)) return cli_fail();
    veil_set_threads((int)threads);

    veil_corpus *c = NULL;
    veil_patch_set *p = NULL;
    veil_mfcc_config mfcc;
    veil_mfcc_config_default(&mfcc);
    if (veil_corpus_load(corpus_dir, &c)) return cli_fail();
    if (veil_features_load(c, &mfcc, cache, (int)threads, &p)) {
        veil_corpus_free(c);
        return cli_fail();
    }
    veil_protocol_config pc;
    veil_protocol_config_paper(&pc);
    pc.train_speakers = (int)st;
    if (a->task[0]) snprintf(pc.task, sizeof pc.task, "%s", a->task);
    const veil_train_method *md = veil_train_method_by_id(method);
    if (epochs && md->epochs_setting) {
        char text[32];
        snprintf(text, sizeof text, "%ld", epochs);
        if (veil_train_config_set(&tc, md->epochs_setting, text)) return cli_fail();
    }
    veil_split split;
    veil_job_result r;
    veil_model *model = NULL;
    int rc = 1;
    /* the experiment's seeds: iteration I's split of base seed N, the job's seed from both */
    if (!a->have_job_seed) job_seed = veil_experiment_job_seed(seed, method, (int)groups, (int)iteration);
    if (veil_split_make(c, p, &pc, veil_experiment_split_seed(seed, (int)iteration), &split)) {
        veil_error_prefix("%s", corpus_dir);
        goto done_corpus;
    }
    veil_split view = split;
    if (!attack) view.n_groups = 0; /* the attacker is `veil attack` or --attack */
    if (veil_job_run(method, (int)groups, (int)iteration, &view, p, &tc, prec, job_seed, &r, &model))
        goto done_split;
    if (veil_model_save(out, model)) goto done_result;
    /* the model on standard output (-o -): the report goes to standard error */
    FILE *rep = strcmp(out, "-") ? stdout : stderr;
    if (json) {
        print_json_line(&r);
    } else {
        fprintf(rep, "%s G=%d (%s): gender-evaluation %.1f%%, gender-testing %.1f%% (%zu patch%s of %d "
               "speakers)\n", veil_method_name(method), (int)groups, veil_precision_name(r.precision),
               100 * r.gender_eval_acc, 100 * r.gender_test_acc, split.n_gtest, split.n_gtest == 1 ? "" : "es",
               c->n_speakers - split.n_train_speakers);
        if (!isnan(r.pair_verdict_acc))
            fprintf(rep, "pair verdict accuracy %.1f%%, z spread %.4g, %d epoch%s\n", 100 * r.pair_verdict_acc,
                   r.z_spread, r.epochs_run, r.epochs_run == 1 ? "" : "s");
        if (attack && r.n_attack_groups)
            fprintf(rep, "attacker: %.1f%% mean over %d groups of %d speakers (chance %.1f%%)\n",
                   100 * r.attack_acc_mean, r.n_attack_groups, split.st, 100.0 / split.st);
        if (r.collapsed) fprintf(rep, "warning: collapsed: %s\n", r.collapse_reason);
        fprintf(rep, "saved %s\n", out);
    }
    rc = 0;
done_result:
    veil_job_result_free(&r);
    veil_model_free(model);
done_split:
    veil_split_free(&split);
done_corpus:
    veil_patch_set_free(p);
    veil_corpus_free(c);
    return rc ? cli_fail() : 0;
}

int cmd_train(int argc, char **argv)
{
    train_args a = {.precision = "auto", .st = 20, .seed = 1};
    veil_train_config_paper(&a.tc);
    cli_rows settings = {0};
    cli_setting_rows(&settings, 0);
    cli_table tables[] = {
        CLI_TABLE(train_rows, &a),
        CLI_TABLE(train_grid_rows, &a),
        {settings.row, settings.n, &a.tc, "Training settings (--SETTING VALUE):", NULL},
    };
    char *head = synopsis();
    cli_command cmd = {"train", head, NULL, tables, 3, 0};
    int parsed = cli_parse(&cmd, argc, argv);
    int rc = parsed != CLI_PARSED ? parsed : train(&cmd, &a, tables[1].given ? tables[1].given : tables[2].given);
    cli_rows_free(&settings);
    free(head);
    return rc;
}
