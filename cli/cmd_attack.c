/* veil attack: how well an attacker identifies speakers from a trained extractor's
 * features, on any corpus: groups of St speakers, 70/30 of each speaker's patches. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "core/base/json.h"

#include "cli.h"
#include "veil/common.h"
#include "veil/corpus.h"
#include "veil/features.h"
#include "veil/job.h"
#include "veil/model.h"

typedef struct attack_args {
    const char *model, *corpus, *precision;
    int json;
} attack_args;

static const cli_option attack_rows[] = {
    CLI_TEXT_ROW("--model", "M", attack_args, model, "the trained model (veil train, veil experiment): its extractor f"),
    CLI_TEXT_ROW("--corpus", "DIR", attack_args, corpus, "the speakers attacked (any layout `veil corpus info` reads)"),
    CLI_TEXT_ROW("--precision", "P", attack_args, precision, "fp32|bf16|auto for the extractor and the attacker (default auto)"),
    CLI_FLAG_ROW("--json", attack_args, json, "one JSON object instead of text"),
};

static const char attack_synopsis[] =
    "usage: veil attack --model MODEL.safetensors --corpus DIR [options]\n\n"
    "Groups of St speakers drawn from the whole corpus regardless of gender (default: as\n"
    "many as fit), each speaker's patches split 70/30 into attacker-training/evaluation; a\n"
    "fresh MLP per group learns to name the speaker from the model's features. Prints each\n"
    "group's accuracy and the mean (chance: 1/St; knowing the gender: about 2/St; --task\n"
    "names another label whose chance to report, default the model's task).\n\n";

int cmd_attack(int argc, char **argv)
{
    attack_args a = {NULL, NULL, "auto", 0};
    cli_attacker_args at = CLI_ATTACKER_DEFAULTS;
    cli_table tables[] = {CLI_TABLE(attack_rows, &a), CLI_TABLE_N(cli_attacker_rows, cli_attacker_n_rows, &at)};
    cli_command cmd = {"attack", attack_synopsis, NULL, tables, 2, 0};
    int parsed = cli_parse(&cmd, argc, argv);
    if (parsed != CLI_PARSED) return parsed;
    if (!a.model) return cli_command_error(&cmd, "%s", "--model MODEL is required");
    if (!a.corpus) return cli_command_error(&cmd, "%s", "--corpus DIR is required");
    veil_precision prec;
    if (veil_precision_parse(a.precision, &prec)) return cli_fail();
    veil_set_threads(at.threads);

    veil_train_config tc;
    veil_train_config_paper(&tc);
    tc.attack_epochs = at.epochs;
    int max_batch = tc.extract_batch > tc.attack_batch ? tc.extract_batch : tc.attack_batch;
    veil_model *m = NULL;
    veil_corpus *c = NULL;
    veil_patch_set *p = NULL;
    veil_split split;
    memset(&split, 0, sizeof split);
    double *acc = NULL;
    int rc = 1;
    if (cli_model_load(a.model, prec, max_batch, &m) || veil_corpus_load(a.corpus, &c) ||
        veil_features_load(c, &m->mfcc, at.cache, at.threads, &p))
        goto done;
    if (veil_split_make_attack(c, p, at.st, at.groups, 0.7, veil_seed_mix((uint64_t)at.seed, 0x61747461636b, 0), &split)) {
        veil_error_prefix("%s", a.corpus);
        goto done;
    }
    /* the task whose chance an attacker knowing it has: --task, else the model's */
    const char *task = at.task ? at.task : m->task[0] ? m->task : "gender";
    if (veil_split_set_task(&split, c, task)) goto done; /* the message names the corpus */
    double label_chance = veil_split_mean_label_chance(&split);
    veil_attack_config ac = {NULL, 0, NULL, 0, 0, NULL, 0, 0};
    veil_attack_result ar;
    if (veil_attack_run(m->f, p, &split, &tc, (uint64_t)at.seed, "attack", &ac, &ar)) goto done;
    acc = veil_calloc((size_t)split.n_groups, sizeof(double));
    for (int g = 0; g < split.n_groups; g++) acc[g] = ar.r[g].acc;
    veil_attack_result_free(&ar);
    double mean = 0;
    for (int g = 0; g < split.n_groups; g++) mean += acc[g] / split.n_groups;
    if (a.json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "model", a.model);
        cJSON_AddStringToObject(o, "method", m->method);
        cJSON_AddStringToObject(o, "corpus", a.corpus);
        cJSON_AddNumberToObject(o, "st", (double)at.st);
        cJSON_AddNumberToObject(o, "groups", split.n_groups);
        cJSON_AddNumberToObject(o, "epochs", (double)at.epochs);
        cJSON_AddNumberToObject(o, "seed", (double)at.seed);
        cJSON_AddItemToObject(o, "attack_acc", cJSON_CreateDoubleArray(acc, split.n_groups));
        cJSON_AddNumberToObject(o, "attack_acc_mean", mean);
        cJSON_AddNumberToObject(o, "chance", 1.0 / (double)at.st);
        cJSON_AddStringToObject(o, "task", split.task);
        cJSON_AddNumberToObject(o, "chance_knowing_task", label_chance);
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
        if (!strcmp(split.task, "gender"))
            printf("mean attacker accuracy %.1f%% over %d groups of %d speakers (chance %.1f%%, "
                   "knowing the gender about %.1f%%)\n", 100 * mean, split.n_groups, at.st, 100.0 / at.st,
                   200.0 / at.st);
        else
            printf("mean attacker accuracy %.1f%% over %d groups of %d speakers (chance %.1f%%, "
                   "knowing the %s %.1f%%)\n", 100 * mean, split.n_groups, at.st, 100.0 / at.st, split.task,
                   100 * label_chance);
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
