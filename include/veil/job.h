/* veil job: one cell of the experiment grid (method x G x cross-validation iteration):
 * the paper's data protocol, the trainers and the attacker, with one result. */
#ifndef VEIL_JOB_H
#define VEIL_JOB_H

#include <stdint.h>
#include "veil/corpus.h"
#include "veil/features.h"
#include "veil/model.h"
#include "veil/nn.h"

/* ---- the paper's Table 1 protocol ---- */
typedef struct veil_protocol_config {
    int train_speakers;      /* St = 20 (St/2 F + St/2 M) */
    double train_fraction;   /* 0.7: gender-training vs gender-evaluation, per speaker */
    double attack_fraction;  /* 0.7: attacker-training vs attacker-evaluation, per speaker */
    int attack_groups;       /* number of attacker groups of St speakers; 0 = as many as fit */
} veil_protocol_config;
void veil_protocol_config_paper(veil_protocol_config *p);

typedef struct veil_split {
    int st;                    /* speakers per group */
    int n_train_speakers;      /* the St gender-training speakers */
    int *train_speakers;
    size_t n_gtrain, n_geval, n_gtest;  /* patch indices into the patch set */
    size_t *gtrain, *geval, *gtest;
    int *gtrain_label, *geval_label, *gtest_label; /* gender: 0 = F, 1 = M */
    int n_groups;              /* attacker groups, each of st speakers */
    int *group_speakers;       /* n_groups x st speaker indices */
    size_t *n_atrain, *n_aeval;      /* per group */
    size_t **atrain, **aeval;        /* per group: patch indices */
    int **atrain_label, **aeval_label; /* per group: 0..st-1 */
} veil_split;
/* Draw a split from seed. Refuses (clear message) a corpus that cannot fill it. */
int veil_split_make(const veil_corpus *c, const veil_patch_set *p, const veil_protocol_config *pc,
                    uint64_t seed, veil_split *out);
void veil_split_free(veil_split *s);

/* ---- trainers ---- */
typedef enum { VEIL_METHOD_REFERENCE = 0, VEIL_METHOD_SIAMESE = 1 } veil_method;
int veil_method_parse(const char *s, veil_method *out);
const char *veil_method_name(veil_method m);

typedef struct veil_train_config {
    float lr;                 /* 2e-4 */
    /* Siamese */
    int siamese_epochs;       /* 75 */
    int siamese_batch_pairs;  /* 150 */
    float margin;             /* 1 */
    double similar_fraction;  /* 0.5 */
    int patience;             /* early-stopping patience in epochs */
    int ties_improve;         /* 1: an equal pair-verdict accuracy counts as improvement */
    /* gender recognizer g and reference */
    int gender_epochs;        /* 30 */
    int gender_batch;         /* 200 */
    int reference_epochs;     /* epochs of the reference (f and g together) */
    /* attacker a */
    int attack_epochs;        /* 150 */
    int attack_batch;         /* 90 */
    int head_hidden;          /* 1024 */
    float dropout;            /* 0.5 */
    int extract_batch;        /* 256 */
} veil_train_config;
void veil_train_config_paper(veil_train_config *t);

typedef struct veil_job_result {
    veil_method method;
    int groups;                 /* G */
    int iteration;              /* cross-validation iteration */
    uint64_t seed;
    veil_precision precision;   /* resolved */
    double gender_eval_acc, gender_test_acc;
    int n_attack_groups;
    double *attack_acc;         /* per group */
    double attack_acc_mean;
    int epochs_run;             /* Siamese or reference epochs */
    double final_loss;
    double pair_verdict_acc;    /* Siamese: on the gender-evaluation set, best epoch */
    double z_spread;            /* mean per-dimension std of z over the evaluation set */
    int collapsed;              /* 1 if the extractor collapsed (docs/experiment.md) */
    char collapse_reason[128];
    double seconds;
} veil_job_result;
void veil_job_result_free(veil_job_result *r);
/* One line of JSON (no newline), malloc'd. */
char *veil_job_result_to_json(const veil_job_result *r);

/* Run one job on a split: train f (Siamese or reference), train g, attack every group.
 * model_out (optional) receives the trained model. Progress goes to stderr. */
int veil_job_run(veil_method method, int groups, int iteration, const veil_split *split,
                 const veil_patch_set *patches, const veil_train_config *tc,
                 veil_precision precision, uint64_t seed, veil_job_result *out,
                 veil_model **model_out);

#endif
