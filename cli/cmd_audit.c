/* veil audit: the attacker battery on any feature set (docs/audit.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "veil/audit.h"
#include "veil/common.h"
#include "veil/corpus.h"
#include "veil/features.h"
#include "veil/model.h"
#include "veil/probe.h"

typedef struct audit_args {
    const char *features, *labels, *model, *corpus, *out, *attackers, *precision, *experiment, *job;
    int raw, list, batch;
} audit_args;

static const cli_option audit_rows[] = {
    CLI_TEXT_ROW("--features", "X.npy", audit_args, features,
                 "rows x features float32 (.npy from any tool, e.g. `veil extract`)"),
    CLI_TEXT_ROW("--labels", "L.csv", audit_args, labels,
                 "one row per feature row; header names speaker, gender (F/M/female/\n"
                 "male) and utterance; an optional file column is read as the\n"
                 "row's source file (default: its utterance); others are ignored"),
    CLI_TEXT_ROW("--model", "M", audit_args, model,
                 "a veil model: its extractor on --corpus, leaving out the speakers\n"
                 "it was trained on (when the model records them)"),
    CLI_FLAG_ROW("--raw", audit_args, raw, "the corpus's MFCC patches with no extractor (the baseline)"),
    CLI_TEXT_ROW("--experiment", "OUT", audit_args, experiment,
                 "with --model and --job N: the attacker groups, split, seeds and\n"
                 "attacker settings of job N of experiment OUT (`veil train --from OUT\n"
                 "--job list`): the job's own numbers for the job's model (--save-models)"),
    CLI_TEXT_ROW("--job", "N", audit_args, job, "the job of --experiment"),
    CLI_TEXT_ROW("--corpus", "DIR", audit_args, corpus,
                 "corpus for --model / --raw (any layout `veil corpus info` reads;\n"
                 "with --experiment, default: the experiment's)"),
    CLI_TEXT_ROW("--out", "DIR", audit_args, out, "output folder (created)"),
    CLI_TEXT_ROW("--attackers", "LIST", audit_args, attackers, "comma-separated attacker names, or all (default all)"),
    CLI_TEXT_ROW("--precision", "P", audit_args, precision,
                 "fp32|bf16|auto for the extractor and MLP attackers (default fp32,\n"
                 "as veil extract; recorded in audit.json)"),
    CLI_INT_ROW("--batch", "N", audit_args, batch, 1, 65536, "rows per extractor forward pass (default 256)"),
    CLI_FLAG_ROW("--list", audit_args, list, "print the attackers and exit"),
};

static const char audit_synopsis[] =
    "usage: veil audit --features X.npy --labels L.csv --out DIR [options]\n"
    "       veil audit --model MODEL.safetensors --corpus DIR --out DIR [options]\n"
    "       veil audit --raw --corpus DIR --out DIR [options]\n\n"
    "Runs the attacker battery on a feature set and writes DIR/audit.json, audit.md and\n"
    "audit.png/.svg. Groups of St speakers drawn regardless of gender (as `veil attack`),\n"
    "each speaker's rows split 70/30 into attacker-training/evaluation; deterministic for\n"
    "a seed.\n\n";

int cmd_audit(int argc, char **argv)
{
    audit_args a = {.precision = "fp32", .batch = 256};
    cli_attacker_args at = CLI_ATTACKER_DEFAULTS;
    cli_table tables[] = {CLI_TABLE(audit_rows, &a), CLI_TABLE_N(cli_attacker_rows, cli_attacker_n_rows, &at)};
    cli_command cmd = {"audit", audit_synopsis, NULL, tables, 2, 0};
    int parsed = cli_parse(&cmd, argc, argv);
    if (parsed != CLI_PARSED) return parsed;
    if (a.list) {
        int n;
        const veil_probe *p = veil_probes(&n);
        for (int k = 0; k < n; k++) printf("%-20s %s\n", p[k].name, p[k].about);
        return 0;
    }
    const char *features = a.features, *labels = a.labels, *model_path = a.model, *corpus_dir = a.corpus;
    const char *out_dir = a.out, *attackers = a.attackers ? a.attackers : "all", *cache = at.cache;
    const char *prec_s = a.precision, *experiment = a.experiment, *job_s = a.job;
    /* --task: the label whose chance an attacker knowing it has (default: the model's task) */
    const char *task = at.task;
    int raw = a.raw;
    long st = at.st, groups = at.groups, seed = at.seed, epochs = at.epochs, batch = a.batch, threads = at.threads;
    if (experiment || job_s) {
#ifdef VEIL_HAVE_TRAINING
        if (task)
            return cli_command_error(&cmd, "%s", "--task does not apply to --experiment OUT (its config.json "
                                     "names the task)");
        if (!experiment || !job_s || !model_path || !out_dir || features || labels || raw)
            return cli_command_error(&cmd, "%s", "--experiment OUT --job N needs --model M and --out DIR (and no "
                                     "--features, --labels or --raw)");
        if (veil_output_dir_check(out_dir)) return cli_fail();
        veil_set_threads((int)threads);
        return audit_experiment_job(model_path, experiment, job_s, corpus_dir, cache,
                                    a.attackers, (int)threads, out_dir)
                   ? cli_fail()
                   : 0;
#else
        return cli_command_error(&cmd, "%s", "--experiment needs a build with the research part (VEIL_WITH_TRAINING)");
#endif
    }
    int modes = (features || labels) + (model_path != NULL) + raw;
    if (modes != 1)
        return cli_command_error(&cmd, "%s", "give exactly one of --features/--labels, --model or --raw");
    if (features && !labels) return cli_command_error(&cmd, "%s", "--features needs --labels L.csv");
    if (labels && !features) return cli_command_error(&cmd, "%s", "--labels needs --features X.npy");
    if ((model_path || raw) && !corpus_dir)
        return cli_command_error(&cmd, "%s", "--model and --raw need --corpus DIR");
    if (features && corpus_dir) return cli_command_error(&cmd, "%s", "--corpus does not apply to --features");
    if (!out_dir) return cli_command_error(&cmd, "%s", "--out DIR is required");
    /* before any attacker runs: an --out that cannot be written is refused now, not after */
    if (veil_output_dir_check(out_dir)) return cli_fail();
    veil_precision prec;
    if (veil_precision_parse(prec_s, &prec) || veil_precision_resolve(prec, &prec)) return cli_fail();
    veil_set_threads((int)threads);

    int n_table = 0, n_list = 0;
    veil_probes(&n_table);
    const veil_probe **list = veil_calloc((size_t)n_table, sizeof *list);
    if (veil_probe_parse_list(attackers, list, &n_list)) {
        free(list);
        veil_error_prefix("--attackers %s", attackers);
        return cli_fail();
    }
    veil_audit_config cfg;
    veil_audit_config_default(&cfg);
    cfg.st = (int)st;
    cfg.n_groups = (int)groups;
    cfg.seed = (uint64_t)seed;
    cfg.probes = list;
    cfg.n_probes = n_list;
    cfg.precision = prec;
    cfg.epochs = (int)epochs;

    veil_model *m = NULL;
    veil_corpus *c = NULL;
    veil_patch_set *p = NULL;
    veil_audit_data *d = NULL;
    veil_audit_result res;
    memset(&res, 0, sizeof res);
    veil_strbuf source = {0}, warning = {0};
    char *const *exclude = NULL;
    int n_exclude = 0;
    int rc = 1;
    if (features) {
        veil_strbuf_printf(&source, "features %s (labels %s)", features, labels);
        if (veil_audit_out_check(out_dir, source.s)) goto done;
        if (veil_audit_load_features(features, labels, &d) || veil_audit_task_from_labels(d, labels, task)) goto done;
    } else {
        int max_batch = (int)batch > cfg.batch ? (int)batch : cfg.batch;
        if (model_path && cli_model_load(model_path, prec, max_batch, &m)) goto done;
        if (m) veil_strbuf_printf(&source, "model %s (%s) on corpus %s", model_path, m->method, corpus_dir);
        else veil_strbuf_printf(&source, "raw MFCC patches of corpus %s", corpus_dir);
        /* before the extraction: never over the audit of another model or corpus */
        if (veil_audit_out_check(out_dir, source.s)) goto done;
        veil_mfcc_config mc;
        veil_mfcc_config_default(&mc);
        if (veil_corpus_load(corpus_dir, &c) || veil_features_load(c, m ? &m->mfcc : &mc, cache, (int)threads, &p))
            goto done;
        if (m && m->n_train_speakers > 0) {
            exclude = m->train_speakers;
            n_exclude = m->n_train_speakers;
        } else if (m) {
            veil_strbuf_printf(&warning, "%s records no training speakers: every speaker of the corpus "
                               "is audited, including any the model was trained on (the attack is "
                               "then easier than on unseen speakers)", model_path);
            veil_log("veil audit: warning: %s", warning.s);
        }
        if (veil_audit_from_corpus(c, p, m ? m->f : NULL, (int)batch, exclude, n_exclude, &d) ||
            veil_audit_task_from_corpus(d, c, task ? task : m ? m->task : NULL))
            goto done;
    }
    if (veil_audit_run(d, &cfg, &res)) {
        /* the speakers come from the labels file or the corpus: name it */
        veil_error_prefix("%s", features ? labels : corpus_dir);
        goto done;
    }
    veil_audit_info info = {source.s, warning.s, exclude, n_exclude, (uint64_t)seed, cfg.fraction,
                            veil_precision_name(prec), NULL};
    if (veil_audit_write(out_dir, &info, &res)) goto done;
    if (veil_verbosity >= 1) fprintf(stderr, "veil audit: wrote %s/audit.json, audit.md, audit.png\n", out_dir);
    rc = 0;
done:
    veil_audit_result_free(&res);
    veil_audit_data_free(d);
    veil_patch_set_free(p);
    veil_corpus_free(c);
    veil_model_free(m);
    free(list);
    free(source.s);
    free(warning.s);
    return rc ? cli_fail() : 0;
}
