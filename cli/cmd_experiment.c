/* veil experiment: run (or resume) the paper's grid and write its report. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "veil/common.h"
#include "veil/experiment.h"
#include "research/train/method.h"

typedef struct experiment_args {
    veil_experiment_config c;
    const char *preset;
    int report_only;
} experiment_args;

static int take_methods(void *a, const char *name, const char *v)
{
    (void)name;
    return veil_experiment_parse_methods(v, &((experiment_args *)a)->c);
}

static int take_groups(void *a, const char *name, const char *v)
{
    (void)name;
    return veil_experiment_parse_groups(v, &((experiment_args *)a)->c);
}

static int take_knob(void *a, const char *name, const char *v)
{
    return veil_experiment_parse_knob(name, v, &((experiment_args *)a)->c);
}

static int take_attackers(void *a, const char *name, const char *v)
{
    veil_train_config *t = &((experiment_args *)a)->c.train;
    if (!veil_probe_parse_list(v, t->attackers, &t->n_attackers)) return 0;
    veil_error_prefix("%s", name);
    return -1;
}

static int take_select_attacker(void *a, const char *name, const char *v)
{
    if (!veil_set_select_attacker(&((experiment_args *)a)->c.train, v)) return 0;
    veil_error_prefix("%s", name);
    return -1;
}

static int take_task(void *a, const char *name, const char *v)
{
    veil_protocol_config *pc = &((experiment_args *)a)->c.protocol;
    return cli_take_task(pc->task, sizeof pc->task, name, v);
}

static int take_precision(void *a, const char *name, const char *v)
{
    (void)name;
    return veil_precision_parse(v, &((experiment_args *)a)->c.precision);
}

static int take_seed(void *a, const char *name, const char *v)
{
    long x;
    if (cli_parse_int(name, v, 0, 9007199254740992L, &x)) return -1; /* exact in config.json */
    ((experiment_args *)a)->c.seed = (uint64_t)x;
    return 0;
}

/* the preset is applied before the options are parsed (they override it) */
static int take_preset(void *a, const char *name, const char *v)
{
    (void)a, (void)name, (void)v;
    return 0;
}

static const cli_option experiment_rows[] = {
    CLI_TEXT_ROW("--corpus", "DIR", experiment_args, c.corpus, "the corpus (any layout `veil corpus info` reads)"),
    CLI_TEXT_ROW("--out", "DIR", experiment_args, c.out, "the results folder (created; an existing one is resumed)"),
    CLI_CALL_ROW("--preset", "quick|paper", take_preset,
                 "settings to start from (default paper); options below override"),
    CLI_CALL_ROW("--methods", "LIST", take_methods,
                 "training methods, comma-separated (default: reference, siamese,\n"
                 "adversarial, variational; best-response and the baselines bottleneck\n"
                 "and raw run only when named; the reference and raw run at G = 1,\n"
                 "methods with a knob at --sweep-groups)"),
    CLI_CALL_ROW("--groups", "LIST", take_groups, "Siamese G values: 1-5, 1,3,5 (paper: 1-5, quick: 1,5)"),
    CLI_INT_ROW("--sweep-groups", "G", experiment_args, c.sweep_groups, 1, VEIL_MAX_GROUPS,
                "the one G of the methods with a knob (default 5)"),
    CLI_CALL_ROW("--attackers", "LIST", take_attackers,
                 "the attackers scored on every group: names, all or cheap (paper:\n"
                 "all; quick: cheap = paper-mlp, logreg, verify-cosine,\n"
                 "verify-same-gender; veil audit --help lists them)"),
    CLI_CALL_ROW("--select-attacker", "NAME", take_select_attacker,
                 "what chooses a knob on the attacker-validation group:\n"
                 "strongest (default: the highest accuracy per utterance of the\n"
                 "battery) or one attacker's name"),
    CLI_FLAG_ROW("--save-models", experiment_args, c.save_models,
                 "also write OUT/models/<job>.safetensors for every job run"),
    CLI_INT_ROW("--cv", "N", experiment_args, c.cv, 1, 1000, "cross-validation iterations (paper 10, quick 1)"),
    CLI_CALL_ROW("--task", "NAME", take_task,
                 "what the service recognises: gender (default), or a label of the\n"
                 "corpus: accent, dialect, a manifest column (veil corpus info)"),
    CLI_INT_ROW("--st", "N", experiment_args, c.protocol.train_speakers, 2, 100000,
                "training speakers St = speakers per attacker group (20)"),
    CLI_INT_ROW("--attack-groups", "N", experiment_args, c.protocol.attack_groups, 0, 100000,
                "attacker groups per job, 0 = as many as fit (quick: 2)"),
    CLI_CALL_ROW("--precision", "P", take_precision, "fp32|bf16|auto (default auto)"),
    CLI_INT_ROW("--threads", "N", experiment_args, c.threads, 0, 4096, "worker threads (default: all cores)"),
    CLI_CALL_ROW("--seed", "N", take_seed, "base seed of splits and jobs (default 1)"),
    CLI_TEXT_ROW("--cache", "DIR", experiment_args, c.cache, "MFCC patch cache (default: beside the corpus)"),
    {"--max-jobs", NULL, CLI_LONG, "N", offsetof(experiment_args, c.max_jobs), 1, 1000000000L, NULL,
     "stop after N new jobs (work in chunks; run again to go on)"},
    CLI_FLAG_ROW("--report-only", experiment_args, report_only, "rewrite summary, report and figure from OUT alone"),
};

/* Every method's knob: a comma-separated list of values (the method's own setting of that
 * name is left out of the settings: the list replaces it). */
static void knob_rows(cli_rows *r)
{
    int count;
    const veil_train_method *const *ms = veil_train_methods(&count);
    for (int k = 0; k < count; k++) {
        if (!ms[k]->knob) continue;
        veil_strbuf name = {0}, help = {0};
        veil_strbuf_printf(&name, "--%s", ms[k]->knob);
        for (char *p = name.s; *p; p++)
            if (*p == '_') *p = '-';
        veil_strbuf_printf(&help, "%s's knob: every value runs on iteration 0, later\n"
                                  "iterations the one with the largest trade-off on non-test\n"
                                  "data (paper preset ",
                           ms[k]->name);
        for (int v = 0; v < ms[k]->n_sweep; v++) veil_strbuf_printf(&help, "%s%g", v ? "," : "", ms[k]->sweep[v]);
        veil_strbuf_printf(&help, "; quick: the setting's default)");
        cli_rows_add(r, (cli_option)CLI_CALL_ROW(name.s, "LIST", take_knob, help.s), name.s, help.s);
    }
}

/* No --preset: the paper's grid, about a day on 2 cores. Say so before it starts. The
 * estimate is docs/experiment.md's measurement: 2.5-3 h per iteration of 6 jobs at the
 * paper's settings on 2 cores (about 25-30 minutes a job, the attacker most of it). */
static void say_grid_size(const veil_experiment_config *c)
{
    size_t n = 0;
    free(veil_experiment_jobs(c, &n));
    char lo[32], hi[32];
    veil_format_duration((double)n * 25 * 60, lo, sizeof lo);
    veil_format_duration((double)n * 30 * 60, hi, sizeof hi);
    fprintf(stderr,
            "veil experiment: no --preset, so the paper's grid: %zu jobs (%d cross-validation "
            "iteration%s of %zu), about %s-%s on 2 cores at the paper's settings (less with more "
            "cores, mpirun, or fewer epochs; finished jobs in OUT are skipped).\n"
            "For a run of minutes: --preset quick. Ctrl-C stops; the same command resumes.\n",
            n, c->cv, c->cv == 1 ? "" : "s", c->cv ? n / (size_t)c->cv : n, lo, hi);
}

int cmd_experiment(int argc, char **argv)
{
    experiment_args a;
    memset(&a, 0, sizeof a);
    const char *preset = cli_option_value(argc, argv, "--preset");
    /* the preset first, so that every option overrides it whatever the order */
    if (veil_experiment_preset(&a.c, preset ? preset : "paper") != 0) {
        int help = 0;
        for (int i = 1; i < argc; i++) help |= !strcmp(argv[i], "--help") || !strcmp(argv[i], "-h");
        if (!help) return cli_fail();
    }
    cli_rows knobs = {0}, settings = {0};
    knob_rows(&knobs);
    cli_setting_rows(&settings, 1);
    cli_table tables[] = {
        CLI_TABLE(experiment_rows, &a),
        {knobs.row, knobs.n, &a, NULL, NULL},
        {settings.row, settings.n, &a.c.train,
         "Training settings (shared by all methods, or one method's own; the presets change\n"
         "some, docs/protocol.md says what each does):", NULL},
    };
    cli_command cmd = {"experiment",
                       "usage: veil experiment --corpus DIR --out DIR [options]\n"
                       "       veil experiment --out DIR --report-only\n\n"
                       "Runs methods x G x cross-validation iterations; each finished job is one line of\n"
                       "OUT/results.jsonl. Running the same command again skips finished jobs. At the end:\n"
                       "OUT/summary.csv, OUT/report.md, OUT/figure3.png and .svg (docs/experiment.md).\n\n",
                       "Without --preset the grid is the paper's (about a day on 2 cores): its size and an\n"
                       "estimate of its time are printed first. --preset quick runs in minutes.\n\n"
                       "Under mpirun (Open MPI) rank 0 owns OUT and the other ranks run jobs, e.g.\n"
                       "  mpirun -H node1:4,node2:4 -n 8 veil experiment --corpus DIR --out DIR --preset paper\n"
                       "(the corpus at the same path on every machine; without --threads, the workers of a\n"
                       "machine share its cores).\n",
                       tables, 3, 0};
    int parsed = cli_parse(&cmd, argc, argv);
    int rc = parsed;
    if (rc < 0 && a.report_only) {
        if (!a.c.out) {
            fprintf(stderr, "veil experiment: --report-only needs --out DIR\n");
            rc = 2;
        } else {
            rc = veil_experiment_report(a.c.out, 1) == 0 ? 0 : cli_fail();
        }
    }
    if (rc < 0 && (!a.c.corpus || !a.c.out)) {
        fprintf(stderr, "veil experiment: --corpus and --out are required\n\n");
        cli_print_help(&cmd, stderr);
        rc = 2;
    }
    cli_rows_free(&knobs);
    cli_rows_free(&settings);
    if (rc >= 0) return rc;
    if (!preset) say_grid_size(&a.c);
    return veil_experiment_run(&a.c) == 0 ? 0 : cli_fail();
}
