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

static const char *usage_text =
    "usage: veil audit --features X.npy --labels L.csv --out DIR [options]\n"
    "       veil audit --model MODEL.safetensors --corpus DIR --out DIR [options]\n"
    "       veil audit --raw --corpus DIR --out DIR [options]\n\n"
    "Runs the attacker battery on a feature set and writes DIR/audit.json, audit.md and\n"
    "audit.png/.svg. Groups of St speakers drawn regardless of gender (as `veil attack`),\n"
    "each speaker's rows split 70/30 into attacker-training/evaluation; deterministic for\n"
    "a seed.\n\n"
    "  --features X.npy    rows x features float32 (.npy from any tool, e.g. `veil extract`)\n"
    "  --labels L.csv      one row per feature row; header names speaker, gender (F/M/female/\n"
    "                      male) and utterance; an optional file column is read as the\n"
    "                      row's source file (default: its utterance); others are ignored\n"
    "  --model M           a veil model: its extractor on --corpus, leaving out the speakers\n"
    "                      it was trained on (when the model records them)\n"
    "  --raw               the corpus's MFCC patches with no extractor (the baseline)\n"
    "  --experiment OUT --job N   with --model: the attacker groups, split, seeds and attacker\n"
    "                      settings of job N of experiment OUT (`veil train --from OUT --job list`):\n"
    "                      the job's own numbers for the job's model (--save-models)\n"
    "  --corpus DIR        corpus for --model / --raw (any layout `veil corpus info` reads;\n"
    "                      with --experiment, default: the experiment's)\n"
    "  --out DIR           output folder (created)\n"
    "  --attackers LIST    comma-separated attacker names, or all (default all)\n"
    "  --st N              speakers per group (default 20)\n"
    "  --groups N          number of groups (default 0: as many as fit)\n"
    "  --seed N            split and attackers (default 1)\n"
    "  --epochs N          epochs of the paper-mlp attackers (default 150)\n"
    "  --precision P       fp32|bf16|auto for the extractor and MLP attackers (default fp32,\n"
    "                      as veil extract; recorded in audit.json)\n"
    "  --batch N           rows per extractor forward pass (default 256)\n"
    "  --cache DIR         MFCC patch cache for --corpus\n"
    "  --threads N         worker threads (default: all cores)\n"
    "  -q | -v             quiet | per-attacker detail\n"
    "  --list              print the attackers and exit\n";

static int usage_error(const char *fmt, const char *arg)
{
    return cli_usage_error("audit", usage_text, fmt, arg);
}

int cmd_audit(int argc, char **argv)
{
    const char *features = NULL, *labels = NULL, *model_path = NULL, *corpus_dir = NULL;
    const char *out_dir = NULL, *attackers = "all", *cache = NULL, *prec_s = "fp32";
    const char *experiment = NULL, *job_s = NULL;
    int attackers_given = 0;
    long st = 20, groups = 0, seed = 1, epochs = 150, batch = 256, threads = 0;
    int raw = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (cli_help(a, usage_text)) return 0;
        if (!strcmp(a, "--raw")) raw = 1;
        else if (!strcmp(a, "-q")) veil_verbosity = 0;
        else if (!strcmp(a, "-v")) veil_verbosity = 2;
        else if (!strcmp(a, "--list")) {
            int n;
            const veil_probe *p = veil_probes(&n);
            for (int k = 0; k < n; k++) printf("%-20s %s\n", p[k].name, p[k].about);
            return 0;
        } else if (!v) return usage_error("unknown option or missing value '%s'", a);
        else if (!strcmp(a, "--features")) features = argv[++i];
        else if (!strcmp(a, "--labels")) labels = argv[++i];
        else if (!strcmp(a, "--model")) model_path = argv[++i];
        else if (!strcmp(a, "--corpus")) corpus_dir = argv[++i];
        else if (!strcmp(a, "--out")) out_dir = argv[++i];
        else if (!strcmp(a, "--attackers")) attackers = argv[++i], attackers_given = 1;
        else if (!strcmp(a, "--experiment")) experiment = argv[++i];
        else if (!strcmp(a, "--job")) job_s = argv[++i];
        else if (!strcmp(a, "--cache")) cache = argv[++i];
        else if (!strcmp(a, "--precision")) prec_s = argv[++i];
        else if (!strcmp(a, "--st")) {
            if (cli_parse_int(a, argv[++i], 2, 100000, &st)) return cli_fail();
        } else if (!strcmp(a, "--groups")) {
            if (cli_parse_int(a, argv[++i], 0, 100000, &groups)) return cli_fail();
        } else if (!strcmp(a, "--seed")) {
            if (cli_parse_int(a, argv[++i], 0, 0x7fffffffffffffffL, &seed)) return cli_fail();
        } else if (!strcmp(a, "--epochs")) {
            if (cli_parse_int(a, argv[++i], 1, 100000, &epochs)) return cli_fail();
        } else if (!strcmp(a, "--batch")) {
            if (cli_parse_int(a, argv[++i], 1, 65536, &batch)) return cli_fail();
        } else if (!strcmp(a, "--threads")) {
            if (cli_parse_int(a, argv[++i], 0, 4096, &threads)) return cli_fail();
        } else return usage_error("unknown option '%s'", a);
    }
    if (experiment || job_s) {
#ifdef VEIL_HAVE_TRAINING
        if (!experiment || !job_s || !model_path || !out_dir || features || labels || raw)
            return usage_error("%s", "--experiment OUT --job N needs --model M and --out DIR (and no "
                                     "--features, --labels or --raw)");
        if (veil_output_dir_check(out_dir)) return cli_fail();
        veil_set_threads((int)threads);
        return audit_experiment_job(model_path, experiment, job_s, corpus_dir, cache,
                                    attackers_given ? attackers : NULL, (int)threads, out_dir)
                   ? cli_fail()
                   : 0;
#else
        return usage_error("%s", "--experiment needs a build with the research part (VEIL_WITH_TRAINING)");
#endif
    }
    int modes = (features || labels) + (model_path != NULL) + raw;
    if (modes != 1)
        return usage_error("%s", "give exactly one of --features/--labels, --model or --raw");
    if (features && !labels) return usage_error("%s", "--features needs --labels L.csv");
    if (labels && !features) return usage_error("%s", "--labels needs --features X.npy");
    if ((model_path || raw) && !corpus_dir)
        return usage_error("%s", "--model and --raw need --corpus DIR");
    if (features && corpus_dir) return usage_error("%s", "--corpus does not apply to --features");
    if (!out_dir) return usage_error("%s", "--out DIR is required");
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
        if (veil_audit_load_features(features, labels, &d)) goto done;
        veil_strbuf_printf(&source, "features %s (labels %s)", features, labels);
    } else {
        int max_batch = (int)batch > cfg.batch ? (int)batch : cfg.batch;
        if (model_path && cli_model_load(model_path, prec, max_batch, &m)) goto done;
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
        if (veil_audit_from_corpus(c, p, m ? m->f : NULL, (int)batch, exclude, n_exclude, &d)) goto done;
        if (m) veil_strbuf_printf(&source, "model %s (%s) on corpus %s", model_path, m->method, corpus_dir);
        else veil_strbuf_printf(&source, "raw MFCC patches of corpus %s", corpus_dir);
    }
    if (veil_audit_run(d, &cfg, &res)) {
        /* the speakers come from the labels file or the corpus: name it */
        veil_error_prefix("%s", features ? labels : corpus_dir);
        goto done;
    }
    veil_audit_info info = {source.s, warning.s, exclude, n_exclude, (uint64_t)seed, cfg.fraction,
                            veil_precision_name(prec)};
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
