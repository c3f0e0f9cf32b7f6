/* veil experiment: run (or resume) the paper's grid and write its report. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "veil/common.h"
#include "veil/experiment.h"
#include "train/method.h"

/* The usage text with every training setting (malloc'd). */
static char *usage_text(void)
{
    veil_strbuf b = {0};
    veil_strbuf_printf(&b, "%s",
            "usage: veil experiment --corpus DIR --out DIR [options]\n"
            "       veil experiment --out DIR --report-only\n\n"
            "Runs methods x G x cross-validation iterations; each finished job is one line of\n"
            "OUT/results.jsonl. Running the same command again skips finished jobs. At the end:\n"
            "OUT/summary.csv, OUT/report.md, OUT/figure3.png and .svg (docs/experiment.md).\n\n"
            "  --preset quick|paper     settings to start from (default paper); options below override\n"
            "  --methods LIST           training methods, comma-separated (default: all of them; the\n"
            "                           reference runs at G = 1, methods with a knob at --sweep-groups)\n"
            "  --groups LIST            Siamese G values: 1-5, 1,3,5 (paper: 1-5, quick: 1,5)\n"
            "  --sweep-groups G         the one G of the methods with a knob (default 5)\n");
    /* every method's knob: a comma-separated list of values */
    int count;
    const veil_train_method *const *ms = veil_train_methods(&count);
    for (int k = 0; k < count; k++) {
        if (!ms[k]->knob) continue;
        char opt[64], paper[128] = "";
        snprintf(opt, sizeof opt, "--%s LIST", ms[k]->knob);
        for (char *p = opt; *p; p++)
            if (*p == '_') *p = '-';
        for (int v = 0; v < ms[k]->n_sweep; v++)
            snprintf(paper + strlen(paper), sizeof paper - strlen(paper), "%s%g", v ? "," : "", ms[k]->sweep[v]);
        veil_strbuf_printf(&b, "  %-24s %s's knob: every value runs on iteration 0, later iterations the one\n"
                   "  %-24s with the largest trade-off on non-test data (paper preset %s;\n"
                   "  %-24s quick: the setting's default)\n", opt, ms[k]->name, "", paper, "");
    }
    veil_strbuf_printf(&b, "%s",
            "  --attackers LIST|all|cheap  the attackers scored on every group (paper: all; quick:\n"
            "                           cheap = paper-mlp, logreg, verify-cosine, verify-same-gender;\n"
            "                           veil audit --help lists them)\n"
            "  --select-attacker NAME   what chooses a knob on the attacker-validation group:\n"
            "                           strongest (default: the highest accuracy per utterance of the\n"
            "                           battery) or one attacker's name\n"
            "  --save-models            also write OUT/models/<job>.safetensors for every job run\n"
            "  --cv N                   cross-validation iterations (paper 10, quick 1)\n"
            "  --st N                   training speakers St = speakers per attacker group (20)\n"
            "  --attack-groups N        attacker groups per job, 0 = as many as fit (quick: 2)\n"
            "  --precision fp32|bf16|auto   (default auto)\n"
            "  --threads N              worker threads (default: all cores)\n"
            "  --seed N                 base seed of splits and jobs (default 1)\n"
            "  --cache DIR              MFCC patch cache (default: beside the corpus)\n"
            "  --max-jobs N             stop after N new jobs (work in chunks; run again to go on)\n"
            "  --report-only            rewrite summary, report and figure from OUT alone\n"
            "  -q, --quiet              only errors and the final table\n"
            "  -v, --verbose            per-epoch lines of every job\n\n"
            "Without --preset the grid is the paper's (about a day on 2 cores): its size and an\n"
            "estimate of its time are printed first. --preset quick runs in minutes.\n\n"
            "Training settings (shared by all methods, or one method's own; the presets change\n"
            "some, docs/protocol.md says what each does):\n");
    char *settings = veil_train_settings_help();
    veil_strbuf_printf(&b, "%s", settings);
    free(settings);
    veil_strbuf_printf(&b, "%s", "\n"
            "Under mpirun (Open MPI) rank 0 owns OUT and the other ranks run jobs, e.g.\n"
            "  mpirun -H node1:4,node2:4 -n 8 veil experiment --corpus DIR --out DIR --preset paper\n"
            "(the corpus at the same path on every machine; without --threads, the workers of a\n"
            "machine share its cores).\n");
    return b.s;
}

static void usage(FILE *f)
{
    char *u = usage_text();
    fputs(u, f);
    free(u);
}

static int unknown_option(const char *o)
{
    char *u = usage_text();
    int rc = cli_unknown_option("experiment", u, o);
    free(u);
    return rc;
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

static int int_opt(const char *opt, const char *v, long lo, long hi, int *out)
{
    long x;
    if (cli_parse_int(opt, v, lo, hi, &x) != 0) return -1;
    *out = (int)x;
    return 0;
}

int cmd_experiment(int argc, char **argv)
{
    veil_experiment_config c;
    memset(&c, 0, sizeof c);
    const char *preset = "paper";
    int report_only = 0, preset_given = 0;
    /* the preset first, so that every other option overrides it whatever the order */
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        }
        if (!strcmp(argv[i], "--preset") && i + 1 < argc) preset = argv[i + 1], preset_given = 1;
    }
    if (veil_experiment_preset(&c, preset) != 0) return cli_fail();
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        if (!strcmp(o, "--report-only")) {
            report_only = 1;
            continue;
        }
        if (!strcmp(o, "--quiet") || !strcmp(o, "-q")) {
            veil_verbosity = 0;
            continue;
        }
        if (!strcmp(o, "--save-models")) {
            c.save_models = 1;
            continue;
        }
        if (strncmp(o, "--", 2) != 0) {
            char *u = usage_text();
            int rc = cli_usage_error("experiment", u, "unexpected '%s'", o);
            free(u);
            return rc;
        }
        if (i + 1 >= argc) return unknown_option(o);
        const char *v = argv[++i];
        long x;
        int rc = 0;
        if (!strcmp(o, "--corpus")) c.corpus = v;
        else if (!strcmp(o, "--out")) c.out = v;
        else if (!strcmp(o, "--cache")) c.cache = v;
        else if (!strcmp(o, "--preset")) continue;
        else if (!strcmp(o, "--methods")) rc = veil_experiment_parse_methods(v, &c);
        else if (!strcmp(o, "--attackers")) {
            rc = veil_probe_parse_list(v, c.train.attackers, &c.train.n_attackers);
            if (rc) veil_error_prefix("--attackers");
        } else if (!strcmp(o, "--select-attacker")) {
            rc = veil_set_select_attacker(&c.train, v);
            if (rc) veil_error_prefix("--select-attacker");
        }
        else if (!strcmp(o, "--sweep-groups")) rc = int_opt(o, v, 1, VEIL_MAX_GROUPS, &c.sweep_groups);
        else if ((rc = veil_experiment_parse_knob(o, v, &c)) != 1) {
            if (rc == 0) continue;
        }
        else if (!strcmp(o, "--groups")) rc = veil_experiment_parse_groups(v, &c);
        else if (!strcmp(o, "--cv")) rc = int_opt(o, v, 1, 1000, &c.cv);
        else if (!strcmp(o, "--st")) rc = int_opt(o, v, 2, 100000, &c.protocol.train_speakers);
        else if (!strcmp(o, "--attack-groups")) rc = int_opt(o, v, 0, 100000, &c.protocol.attack_groups);
        else if (!strcmp(o, "--threads")) rc = int_opt(o, v, 0, 4096, &c.threads);
        else if (!strcmp(o, "--precision")) rc = veil_precision_parse(v, &c.precision);
        else if (!strcmp(o, "--seed")) {
            rc = cli_parse_int(o, v, 0, 9007199254740992L, &x); /* exact in config.json */
            c.seed = (uint64_t)x;
        } else if (!strcmp(o, "--max-jobs")) {
            rc = cli_parse_int(o, v, 1, 1000000000L, &x);
            c.max_jobs = x;
        } else if (veil_train_config_set(&c.train, o + 2, v) == 0) {
            rc = 0;
        } else if (strncmp(veil_last_error(), "unknown setting", 15) != 0) {
            rc = -1;
        } else {
            return unknown_option(o);
        }
        if (rc != 0) return cli_fail();
    }
    if (report_only) {
        if (!c.out) {
            fprintf(stderr, "veil experiment: --report-only needs --out DIR\n");
            return 2;
        }
        return veil_experiment_report(c.out, 1) == 0 ? 0 : cli_fail();
    }
    if (!c.corpus || !c.out) {
        fprintf(stderr, "veil experiment: --corpus and --out are required\n\n");
        usage(stderr);
        return 2;
    }
    if (!preset_given) say_grid_size(&c);
    return veil_experiment_run(&c) == 0 ? 0 : cli_fail();
}
