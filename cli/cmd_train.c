/* veil train: one extractor (Siamese or reference) on one split of a corpus, saved as a
 * model file with its gender recognizer; prints the gender accuracies. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "veil/common.h"
#include "veil/corpus.h"
#include "veil/features.h"
#include "veil/job.h"
#include "veil/model.h"
#include "train/method.h"

static const char *usage_head =
    "usage: veil train --corpus DIR --method METHOD --groups G -o MODEL.safetensors\n"
    "                  [--seed N] [--precision fp32|bf16|auto] [--threads N] [--epochs N]\n"
    "                  [--cache DIR] [--st 20] [--attack] [--json] [-v|-q] [--SETTING VALUE]...\n\n"
    "Draws one split of the paper's protocol (iteration 0: St training speakers, half F and\n"
    "half M, 70/30 into gender-training/evaluation; all others are gender-testing), trains\n"
    "the extractor f with METHOD (--epochs caps the method's epochs) and the gender\n"
    "recognizer g, saves both, and prints the gender accuracies. --attack also runs the\n"
    "speaker-identification attacker on every group of St other speakers.\n"
    "See docs/protocol.md.\n\nMethods:\n";

/* the usage text with the table of methods and every training setting */
static char *usage_text(void)
{
    veil_strbuf b = {0};
    veil_strbuf_printf(&b, "%s", usage_head);
    int count;
    const veil_train_method *const *ms = veil_train_methods(&count);
    for (int k = 0; k < count; k++) veil_strbuf_printf(&b, "  %-12s %s\n", ms[k]->name, ms[k]->about);
    char *settings = veil_train_settings_help();
    veil_strbuf_printf(&b, "\nTraining settings (--SETTING VALUE):\n%s", settings);
    free(settings);
    return b.s;
}

static int usage_error(const char *fmt, const char *arg)
{
    char *u = usage_text();
    int rc = cli_usage_error("train", u, fmt, arg);
    free(u);
    return rc;
}

int cmd_train(int argc, char **argv)
{
    const char *corpus_dir = NULL, *out = NULL, *cache = NULL, *method_s = NULL, *prec_s = "auto";
    long groups = 0, seed = 1, threads = 0, epochs = 0, st = 20;
    int json = 0, attack = 0;
    veil_train_config tc;
    veil_train_config_paper(&tc);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            char *u = usage_text();
            int rc = cli_help(a, u);
            free(u);
            if (rc) return 0;
        }
        if (!strcmp(a, "--json")) json = 1;
        else if (!strcmp(a, "--attack")) attack = 1;
        else if (!strcmp(a, "-v")) veil_verbosity = 2;
        else if (!strcmp(a, "-q")) veil_verbosity = 0;
        else if (!v) {
            char *u = usage_text();
            int rc = cli_unknown_option("train", u, a);
            free(u);
            return rc;
        }
        else if (!strcmp(a, "--corpus")) corpus_dir = argv[++i];
        else if (!strcmp(a, "-o") || !strcmp(a, "--out")) out = argv[++i];
        else if (!strcmp(a, "--cache")) cache = argv[++i];
        else if (!strcmp(a, "--method")) method_s = argv[++i];
        else if (!strcmp(a, "--precision")) prec_s = argv[++i];
        else if (!strcmp(a, "--groups")) {
            if (cli_parse_int(a, argv[++i], 1, VEIL_MAX_GROUPS, &groups)) return cli_fail();
        } else if (!strcmp(a, "--seed")) {
            if (cli_parse_int(a, argv[++i], 0, 0x7fffffffffffffffL, &seed)) return cli_fail();
        } else if (!strcmp(a, "--threads")) {
            if (cli_parse_int(a, argv[++i], 0, 4096, &threads)) return cli_fail();
        } else if (!strcmp(a, "--epochs")) {
            if (cli_parse_int(a, argv[++i], 1, 100000, &epochs)) return cli_fail();
        } else if (!strcmp(a, "--st")) {
            if (cli_parse_int(a, argv[++i], 2, 100000, &st)) return cli_fail();
        } else if (!strncmp(a, "--", 2) && veil_train_config_set(&tc, a + 2, argv[i + 1]) == 0) {
            i++;
        } else if (!strncmp(a, "--", 2) && strncmp(veil_last_error(), "unknown setting", 15) != 0) {
            return cli_fail();
        } else {
            char *u = usage_text();
            int rc = cli_unknown_option("train", u, a);
            free(u);
            return rc;
        }
    }
    if (!corpus_dir) return usage_error("%s", "--corpus DIR is required");
    if (!out) return usage_error("%s", "-o MODEL.safetensors is required");
    if (!method_s) return usage_error("%s", "--method siamese|reference is required");
    if (!groups) return usage_error("%s", "--groups G (1..5) is required");
    if (veil_output_check(out)) return cli_fail(); /* before the training, not after */
    veil_method method;
    veil_precision prec;
    if (veil_method_parse(method_s, &method) || veil_precision_parse(prec_s, &prec)) return cli_fail();
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
    /* the same seeds as the experiment's iteration 0 */
    if (veil_split_make(c, p, &pc, veil_seed_mix((uint64_t)seed, 0x73706c6974, 0), &split)) {
        veil_error_prefix("%s", corpus_dir);
        goto done_corpus;
    }
    veil_split view = split;
    if (!attack) view.n_groups = 0; /* the attacker is `veil attack` or --attack */
    if (veil_job_run(method, (int)groups, 0, &view, p, &tc, prec, (uint64_t)seed, &r, &model))
        goto done_split;
    if (veil_model_save(out, model)) goto done_result;
    if (json) {
        char *line = veil_job_result_to_json(&r);
        printf("%s\n", line);
        free(line);
    } else {
        printf("%s G=%d (%s): gender-evaluation %.1f%%, gender-testing %.1f%% (%zu patches of %d "
               "speakers)\n", veil_method_name(method), (int)groups, veil_precision_name(r.precision),
               100 * r.gender_eval_acc, 100 * r.gender_test_acc, split.n_gtest,
               c->n_speakers - split.n_train_speakers);
        if (!isnan(r.pair_verdict_acc))
            printf("pair verdict accuracy %.1f%%, z spread %.4g, %d epochs\n", 100 * r.pair_verdict_acc,
                   r.z_spread, r.epochs_run);
        if (attack && r.n_attack_groups)
            printf("attacker: %.1f%% mean over %d groups of %d speakers (chance %.1f%%)\n",
                   100 * r.attack_acc_mean, r.n_attack_groups, split.st, 100.0 / split.st);
        if (r.collapsed) printf("warning: collapsed: %s\n", r.collapse_reason);
        printf("saved %s\n", out);
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
