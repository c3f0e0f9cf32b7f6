/* veil experiment: run (or resume) the paper's grid and write its report. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "veil/common.h"
#include "veil/experiment.h"
#include "train/method.h"

static void usage(FILE *f)
{
    fprintf(f,
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
        fprintf(f, "  %-24s %s's knob: every value runs on iteration 0, later iterations the one\n"
                   "  %-24s with the largest trade-off on non-test data (paper preset %s;\n"
                   "  %-24s quick: the setting's default)\n", opt, ms[k]->name, "", paper, "");
    }
    fprintf(f,
            "  --cv N                   cross-validation iterations (paper 10, quick 1)\n"
            "  --st N                   training speakers St = speakers per attacker group (20)\n"
            "  --attack-groups N        attacker groups per job, 0 = as many as fit (quick: 2)\n"
            "  --precision fp32|bf16|auto   (default auto)\n"
            "  --threads N              worker threads (default: all cores)\n"
            "  --seed N                 base seed of splits and jobs (default 1)\n"
            "  --cache DIR              MFCC patch cache (default: beside the corpus)\n"
            "  --max-jobs N             stop after N new jobs (work in chunks; run again to go on)\n"
            "  --report-only            rewrite summary, report and figure from OUT alone\n"
            "  --quiet                  only errors and the final table\n\n"
            "Training settings (shared by all methods, or one method's own; the presets change\n"
            "some, docs/protocol.md says what each does):\n");
    char *settings = veil_train_settings_help();
    fputs(settings, f);
    free(settings);
    fprintf(f, "\n"
            "Under mpirun (Open MPI) rank 0 owns OUT and the other ranks run jobs, e.g.\n"
            "  mpirun -H node1:4,node2:4 -n 8 veil experiment --corpus DIR --out DIR --preset paper\n"
            "(the corpus at the same path on every machine; without --threads, the workers of a\n"
            "machine share its cores).\n");
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
    int report_only = 0;
    /* the preset first, so that every other option overrides it whatever the order */
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            usage(stdout);
            return 0;
        }
        if (!strcmp(argv[i], "--preset") && i + 1 < argc) preset = argv[i + 1];
    }
    if (veil_experiment_preset(&c, preset) != 0) return cli_fail();
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        if (!strcmp(o, "--report-only")) {
            report_only = 1;
            continue;
        }
        if (!strcmp(o, "--quiet")) {
            veil_verbosity = 0;
            continue;
        }
        if (strncmp(o, "--", 2) != 0 || i + 1 >= argc) {
            fprintf(stderr, "veil experiment: unexpected '%s'%s\n\n", o,
                    strncmp(o, "--", 2) ? "" : " (missing its value)");
            usage(stderr);
            return 2;
        }
        const char *v = argv[++i];
        long x;
        int rc = 0;
        if (!strcmp(o, "--corpus")) c.corpus = v;
        else if (!strcmp(o, "--out")) c.out = v;
        else if (!strcmp(o, "--cache")) c.cache = v;
        else if (!strcmp(o, "--preset")) continue;
        else if (!strcmp(o, "--methods")) rc = veil_experiment_parse_methods(v, &c);
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
            fprintf(stderr, "veil experiment: unknown option '%s'\n\n", o);
            usage(stderr);
            return 2;
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
    return veil_experiment_run(&c) == 0 ? 0 : cli_fail();
}
