/* veil attack: how well an attacker identifies speakers from a trained extractor's
 * features, on any corpus: groups of St speakers, 70/30 of each speaker's patches. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "json.h"

#include "cli.h"
#include "veil/common.h"
#include "veil/corpus.h"
#include "veil/features.h"
#include "veil/job.h"
#include "veil/model.h"

static const char *usage_text =
    "usage: veil attack --model MODEL.safetensors --corpus DIR [--st 20] [--groups N]\n"
    "                   [--epochs 150] [--seed N] [--cache DIR] [--threads N]\n"
    "                   [--precision fp32|bf16|auto] [--json] [-v|-q]\n\n"
    "Groups of St speakers drawn from the whole corpus regardless of gender (default: as\n"
    "many as fit), each speaker's patches split 70/30 into attacker-training/evaluation; a\n"
    "fresh MLP per group learns to name the speaker from the model's features. Prints each\n"
    "group's accuracy and the mean (chance: 1/St; knowing the gender: about 2/St).\n"
    "-v: per-epoch lines; -q: only errors and the result.\n";

static int usage_error(const char *fmt, const char *arg)
{
    return cli_usage_error("attack", usage_text, fmt, arg);
}

int cmd_attack(int argc, char **argv)
{
    const char *model_path = NULL, *corpus_dir = NULL, *cache = NULL, *prec_s = "auto";
    long st = 20, groups = 0, epochs = 150, seed = 1, threads = 0;
    int json = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (cli_help(a, usage_text)) return 0;
        if (!strcmp(a, "--json")) json = 1;
        else if (!strcmp(a, "-q")) veil_verbosity = 0;
        else if (!v) return cli_unknown_option("attack", usage_text, a);
        else if (!strcmp(a, "--model")) model_path = argv[++i];
        else if (!strcmp(a, "--corpus")) corpus_dir = argv[++i];
        else if (!strcmp(a, "--cache")) cache = argv[++i];
        else if (!strcmp(a, "--precision")) prec_s = argv[++i];
        else if (!strcmp(a, "--st")) {
            if (cli_parse_int(a, argv[++i], 2, 100000, &st)) return cli_fail();
        } else if (!strcmp(a, "--groups")) {
            if (cli_parse_int(a, argv[++i], 0, 100000, &groups)) return cli_fail();
        } else if (!strcmp(a, "--epochs")) {
            if (cli_parse_int(a, argv[++i], 1, 100000, &epochs)) return cli_fail();
        } else if (!strcmp(a, "--seed")) {
            if (cli_parse_int(a, argv[++i], 0, 0x7fffffffffffffffL, &seed)) return cli_fail();
        } else if (!strcmp(a, "--threads")) {
            if (cli_parse_int(a, argv[++i], 0, 4096, &threads)) return cli_fail();
        } else return cli_unknown_option("attack", usage_text, a);
    }
    if (!model_path) return usage_error("%s", "--model MODEL is required");
    if (!corpus_dir) return usage_error("%s", "--corpus DIR is required");
    veil_precision prec;
    if (veil_precision_parse(prec_s, &prec)) return cli_fail();
    veil_set_threads((int)threads);

    veil_train_config tc;
    veil_train_config_paper(&tc);
    tc.attack_epochs = (int)epochs;
    int max_batch = tc.extract_batch > tc.attack_batch ? tc.extract_batch : tc.attack_batch;
    veil_model *m = NULL;
    veil_corpus *c = NULL;
    veil_patch_set *p = NULL;
    veil_split split;
    memset(&split, 0, sizeof split);
    double *acc = NULL;
    int rc = 1;
    if (cli_model_load(model_path, prec, max_batch, &m) || veil_corpus_load(corpus_dir, &c) ||
        veil_features_load(c, &m->mfcc, cache, (int)threads, &p))
        goto done;
    if (veil_split_make_attack(c, p, (int)st, (int)groups, 0.7, veil_seed_mix((uint64_t)seed, 0x61747461636b, 0),
                               &split)) {
        veil_error_prefix("%s", corpus_dir);
        goto done;
    }
    veil_attack_config ac = {NULL, 0, NULL, 0, 0};
    veil_attack_result ar;
    if (veil_attack_run(m->f, p, &split, &tc, (uint64_t)seed, "attack", &ac, &ar)) goto done;
    acc = veil_calloc((size_t)split.n_groups, sizeof(double));
    for (int g = 0; g < split.n_groups; g++) acc[g] = ar.r[g].acc;
    veil_attack_result_free(&ar);
    double mean = 0;
    for (int g = 0; g < split.n_groups; g++) mean += acc[g] / split.n_groups;
    if (json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "model", model_path);
        cJSON_AddStringToObject(o, "method", m->method);
        cJSON_AddStringToObject(o, "corpus", corpus_dir);
        cJSON_AddNumberToObject(o, "st", (double)st);
        cJSON_AddNumberToObject(o, "groups", split.n_groups);
        cJSON_AddNumberToObject(o, "epochs", (double)epochs);
        cJSON_AddNumberToObject(o, "seed", (double)seed);
        cJSON_AddItemToObject(o, "attack_acc", cJSON_CreateDoubleArray(acc, split.n_groups));
        cJSON_AddNumberToObject(o, "attack_acc_mean", mean);
        cJSON_AddNumberToObject(o, "chance", 1.0 / (double)st);
        char *s = veil_json_print(o);
        printf("%s\n", s);
        free(s);
        cJSON_Delete(o);
    } else {
        for (int g = 0; g < split.n_groups; g++) {
            printf("group %2d:", g + 1);
            for (int k = 0; k < split.st; k++)
                printf(" %s", c->speakers[split.group_speakers[g * split.st + k]].id);
            printf("  accuracy %.1f%%\n", 100 * acc[g]);
        }
        printf("mean attacker accuracy %.1f%% over %d groups of %ld speakers (chance %.1f%%, "
               "knowing the gender about %.1f%%)\n", 100 * mean, split.n_groups, st, 100.0 / st,
               200.0 / st);
    }
    rc = 0;
done:
    free(acc);
    veil_split_free(&split);
    veil_patch_set_free(p);
    veil_corpus_free(c);
    veil_model_free(m);
    return rc ? cli_fail() : 0;
}
