/* veil job: one cell of the experiment grid (method x G x cross-validation iteration):
 * the paper's data protocol, the trainers and the attacker, with one result. */
#ifndef VEIL_JOB_H
#define VEIL_JOB_H

#include <stdint.h>
#include "veil/common.h"
#include "veil/corpus.h"
#include "veil/features.h"
#include "veil/model.h"
#include "veil/nn.h"
#include "veil/probe.h"

/* ---- the paper's Table 1 protocol ---- */
typedef struct veil_protocol_config {
    int train_speakers;      /* St = 20 (St/2 F + St/2 M; balanced across the task's classes) */
    char task[32];           /* the label the service recognises: "gender" ("" too) or a corpus
                              * label name ("accent", "dialect", a manifest column) */
    double train_fraction;   /* 0.7: gender-training vs gender-evaluation, per speaker */
    double attack_fraction;  /* 0.7: attacker-training vs attacker-evaluation, per speaker */
    int attack_groups;       /* number of attacker groups of St speakers; 0 = as many as fit */
    int validation_group;    /* 1: one more group of St others, in no attacker group, whose
                              * attacker chooses a method's knob (docs/protocol.md) */
} veil_protocol_config;
void veil_protocol_config_paper(veil_protocol_config *p);

typedef struct veil_split {
    int st;                    /* speakers per group */
    int n_train_speakers;      /* the St gender-training speakers */
    int *train_speakers;
    size_t n_gtrain, n_geval, n_gtest;  /* patch indices into the patch set */
    size_t *gtrain, *geval, *gtest;
    int *gtrain_label, *geval_label, *gtest_label; /* the task's class (gender: 0 = F, 1 = M) */
    int n_groups;              /* attacker groups, each of st speakers */
    int *group_speakers;       /* n_groups x st speaker indices */
    size_t *n_atrain, *n_aeval;      /* per group */
    size_t **atrain, **aeval;        /* per group: patch indices */
    int **atrain_label, **aeval_label; /* per group: 0..st-1 */
    /* every corpus speaker, for the feature tables and the recorded split */
    int n_speakers;
    int *speaker_gender;       /* 0 = F, 1 = M */
    char **speaker_id;         /* copies of the corpus's speaker ids */
    int has_validation;        /* 1: index n_groups of the group arrays is the attacker-
                                * validation group (protocol validation_group) */
    /* the task (protocol task): its K classes, every speaker's class, and how many of the
     * St training speakers each class has (balanced as far as the corpus allows) */
    char task[32];
    int n_classes;
    char **class_names;        /* "F", "M" for gender */
    int *speaker_class;        /* per corpus speaker */
    int *train_per_class;      /* K */
} veil_split;
/* The training speakers per class for St speakers over classes of avail[0..k) speakers:
 * St/K each, the remainder one by one to the classes with the fewest so far (then the
 * most speakers, then the lower class), never more than a class has. Gender with St/2
 * of each gives St/2 each. -1 (message) when the classes cannot hold St speakers, St < K
 * (a class would not be trained on) or a class has fewer than 2 speakers. */
int veil_task_quota(int st, int k, const int *avail, const char *const *names, const char *task, int *quota);
/* The attacker's chance knowing the task's class of a test speaker, for one group of st
 * speakers (speaker indices): (classes among them) / st, the mean of 1 / (speakers of
 * the group sharing the speaker's class). */
double veil_split_label_chance(const veil_split *s, const int *group, int st);
/* Its mean over the split's attacker groups (NaN: no groups or no classes). */
double veil_split_mean_label_chance(const veil_split *s);
/* The same chance weighted by test rows: for rows of speakers row_speaker[0..n) (places in
 * group, 0..st-1), the mean of 1 / (speakers of the group sharing the row speaker's class);
 * class_of per speaker index. NaN for no rows. (veil audit's chance_label.) */
double veil_label_chance_rows(const int *class_of, const int *group, int st, const int *row_speaker, size_t n);
/* Set the task of a split drawn without one (veil_split_make_attack: gender) for chance
 * levels: its classes from the corpus. -1 (message) when the corpus has no such task. */
int veil_split_set_task(veil_split *s, const veil_corpus *c, const char *task);
/* Draw a split from seed. Refuses (clear message) a corpus that cannot fill it. */
int veil_split_make(const veil_corpus *c, const veil_patch_set *p, const veil_protocol_config *pc,
                    uint64_t seed, veil_split *out);
/* Attacker groups only (the `veil attack` command): n_groups groups of st speakers drawn
 * from the whole corpus regardless of gender (0 = as many as fit), each speaker split
 * fraction / 1 - fraction into attacker-training/evaluation; no gender sets. */
int veil_split_make_attack(const veil_corpus *c, const veil_patch_set *p, int st, int n_groups,
                           double fraction, uint64_t seed, veil_split *out);
void veil_split_free(veil_split *s);

/* ---- trainers ---- */
/* A training method's stable id (src/research/train/method.h has the table of methods; the ids of
 * the first two are fixed here because job seeds derive from them). */
typedef int veil_method;
enum { VEIL_METHOD_REFERENCE = 0, VEIL_METHOD_SIAMESE = 1 };
int veil_method_parse(const char *s, veil_method *out);
const char *veil_method_name(veil_method m);
int veil_method_name_width(void); /* the longest method name (or "method"): a table's first column */

/* Storage for one method's own settings (its struct, src/research/train/<method>.c), by id. */
#define VEIL_METHOD_SLOTS 8
typedef struct veil_method_settings {
    _Alignas(8) unsigned char bytes[256];
} veil_method_settings;

/* The settings every method shares; each method's own are in method[its id]. */
typedef struct veil_train_config {
    float lr;                 /* 2e-4 */
    int patience;             /* 10: epochs without improvement before early stopping */
    int ties_improve;         /* 1: an equal evaluation accuracy counts as improvement */
    /* gender recognizer g */
    int gender_epochs;        /* 30 */
    int gender_batch;         /* 200 (also the batch of methods that train f and g together) */
    /* attacker a */
    int attack_epochs;        /* 150 */
    int attack_batch;         /* 90 */
    int head_hidden;          /* 1024 */
    float dropout;            /* 0.5 */
    int extract_batch;        /* 256 */
    int bn_recalibrate;       /* 1: before each evaluation, BatchNorm running statistics :=
                               * those of one training-mode batch of training patches */
    int filter_divisor;       /* 1: the paper's filter counts; tests divide them (tiny nets) */
    veil_method_settings method[VEIL_METHOD_SLOTS];
    /* The evaluation's attackers (not settings of the table: config.json "attackers" and
     * "select_attacker"). n_attackers 0: paper-mlp alone. select_attacker: what scores a
     * knob on the attacker-validation group: a probe's name (its accuracy per utterance
     * where it has one, else per patch), "strongest" (the highest of those over every
     * probe of the list) or "" (paper-mlp per patch, as before probes existed). */
    const veil_probe *attackers[VEIL_MAX_PROBES];
    int n_attackers;
    char select_attacker[32];
} veil_train_config;
void veil_train_config_paper(veil_train_config *t);

typedef struct veil_job_attacker {
    char name[32];              /* the probe's name */
    veil_probe_result *group;   /* n_attack_groups */
    double seconds;             /* over all groups ("attacker_seconds" in JSON) */
    veil_probe_result validation; /* on the attacker-validation group (NaN: not run) */
} veil_job_attacker;

/* Where a job's time went ("stages" in results.jsonl; report.md sums them per method).
 * Filled at the stage boundaries; what is left of seconds (setup, allocation, the
 * split's bookkeeping) is the report's "other". */
typedef struct veil_job_stages {
    double train;      /* training f (the reference: f and g together), evaluation passes excluded */
    double train_eval; /* the training's per-epoch evaluation passes (early stopping) */
    double extract;    /* features of the trained f: g's training and evaluation sets, the
                        * attacker tables, the gender-testing patches outside them */
    double gender;     /* the gender head on frozen features: training, evaluation, test */
    double attackers;  /* the probes on the attacker tables (training and scoring) */
    double io;         /* loading the corpus and patch cache: charged to the first job a
                        * process runs (outside seconds), 0 for the others */
} veil_job_stages;

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
    int collapsed;              /* 1 if the extractor collapsed (docs/protocol.md) */
    char collapse_reason[128];
    double seconds;
    veil_job_stages stages;
    int restarts;               /* Siamese restarts after a collapse (0 normally) */
    veil_method_settings settings; /* the method's own settings this job ran with */
    /* added with the probes: every attacker's result per group (attack_acc above is
     * paper-mlp's acc), and the split: the training speakers and each group's speakers */
    int n_attackers;
    veil_job_attacker *attackers;
    int n_train_speakers, st;   /* st: speakers per attacker group */
    char **train_speakers;      /* speaker ids */
    char **group_speakers;      /* n_attack_groups x st speaker ids */
    double gender_test_majority;   /* share of the gender-testing patches of their majority
                                    * gender: the gender chance level */
    double attack_val_acc;         /* the selection attacker's accuracy on the validation group
                                    * (veil_train_config.select_attacker; NaN: not run) */
    /* the task (protocol task): gender_* above are its accuracies, gender_test_majority its
     * majority share; label_chance the attacker's chance knowing the class of a test
     * speaker, mean over the groups (veil_split_label_chance; NaN: older lines) */
    char task[32];
    int n_classes;
    double label_chance;
} veil_job_result;
void veil_job_result_free(veil_job_result *r);
/* One line of JSON (no newline), malloc'd. Values that do not apply (the pair verdict of
 * the reference) are written as null. */
char *veil_job_result_to_json(const veil_job_result *r);
/* The inverse: parse one such line (fields missing from older lines keep zero/NaN). */
int veil_job_result_from_json(const char *line, veil_job_result *out);

/* ---- building blocks (src/research/train/heads.c, src/research/probe/attack.c), usable on their own ---- */
typedef struct veil_labelled {  /* patches of a patch set with a label each */
    size_t n;
    const size_t *idx;
    const int *label;
} veil_labelled;
/* Siamese partners for every x1 = set[i]: partner[i] (a position in the set) and y[i]
 * (0 similar = same label, 1 dissimilar). Similar with probability similar_fraction;
 * partners are uniform over the patches of the wanted label, for similar pairs from
 * another speaker (speaker[i]) when the label has one. Fails if a label is missing. */
int veil_pairs_draw(const veil_labelled *set, const int *speaker, double similar_fraction,
                    veil_rng *rng, size_t *partner, int *y);

typedef struct veil_train_report {
    int epochs_run, best_epoch;   /* best_epoch 0: no epoch was acceptable */
    double final_loss;            /* mean training loss of the last epoch */
    double best_eval_acc;         /* pair verdict (Siamese) / gender accuracy (reference) */
    double z_spread_init, z_spread;  /* evaluation set, before training / best epoch */
    double d_similar, d_dissimilar;  /* mean distance of evaluation pairs, best epoch */
    int collapsed;
    char collapse_reason[128];
    double eval_seconds;          /* in the evaluation passes (BatchNorm recalibration included) */
} veil_train_report;
/* Eval-mode features of patches idx[0..n) into z (n x dim), batch at a time. */
int veil_extract_features(veil_extractor *f, const veil_patch_set *p, const size_t *idx, size_t n,
                          int batch, float *z);
/* A head on fixed features x (n x in_dim): epochs of shuffled batches, Adam(lr). */
int veil_head_train(veil_head *h, const float *x, const int *labels, size_t n, int epochs,
                    int batch, float lr, uint64_t seed, const char *name, double *final_loss);
/* What a head's training may add (veil_head_train_ex): decoupled weight decay and early
 * stopping on held-out rows (the best epoch's values are kept). Zero: neither. */
typedef struct veil_head_train_options {
    float weight_decay;      /* AdamW: after each step, weights *= 1 - lr weight_decay */
    const float *x_held;     /* n_held rows: accuracy after every epoch */
    const int *y_held;
    size_t n_held;
    int patience;            /* epochs without a better held-out accuracy before stopping */
    int eval_batch;
    int epochs_run, best_epoch; /* out */
    double best_held_acc;       /* out */
} veil_head_train_options;
int veil_head_train_ex(veil_head *h, const float *x, const int *labels, size_t n, int epochs,
                       int batch, float lr, uint64_t seed, const char *name, double *final_loss,
                       veil_head_train_options *opt);
/* Eval-mode accuracy; pred_count (classes entries, optional) receives predictions per class. */
double veil_head_accuracy(veil_head *h, const float *x, const int *labels, size_t n, int batch,
                          size_t *pred_count);
/* ---- the attackers (src/research/probe/attack.c): feature tables, then the probes of veil/probe.h ---- */
/* Features of patches idx[0..n) by f (eval mode, batch at a time) as a table: labels
 * label[i] (NULL: 0) of n_classes classes, speaker, gender (from s), utterance, file. */
int veil_feature_table_extract(veil_extractor *f, const veil_patch_set *p, const veil_split *s,
                               const size_t *idx, const int *label, size_t n, int n_classes,
                               int batch, veil_feature_table *out);
typedef struct veil_attack_config {
    const veil_probe *const *probes; /* the battery, in order; NULL/0: paper-mlp alone */
    int n_probes;
    veil_head *gender;    /* optional: the gender recognizer, scored on every gender-testing
                           * patch (the groups' table rows and the patches outside them) */
    int gender_batch;     /* rows per forward pass of the gender recognizer */
    double utt_fraction;  /* the utterance split's training share per speaker (0: 0.7) */
    /* For probes that need a pool (veil_probe.needs_pool): tables of other speakers given
     * by the caller (the job's validation run reuses its test run's); NULL: the run makes
     * its own from every group's tables and the gender-testing patches outside the groups. */
    const veil_feature_table *const *pool;
    int n_pool;
    int keep_pool;        /* 1: hand the pool this run made to the caller (result.pool) */
} veil_attack_config;
typedef struct veil_attack_result {
    int n_probes, n_groups;
    const veil_probe **probes;
    veil_probe_result *r;   /* n_probes x n_groups: r[probe * n_groups + group] */
    size_t gender_total, gender_correct; /* with a gender head (the task's recognizer) */
    int gender_classes;                  /* its classes K */
    size_t *gender_pred, *gender_truth;  /* K: predictions and true classes over the test */
    double extract_seconds, gender_seconds; /* feature tables; the gender head's passes */
    veil_feature_table *pool; /* keep_pool: the pool's tables (freed with the result) */
    int n_pool;
} veil_attack_result;
void veil_attack_result_free(veil_attack_result *r);
/* For each group of s: its attacker-training and attacker-evaluation tables, extracted
 * once; then every probe scores them (others: the next group's attacker-training table,
 * for probes that need speakers outside the group). Probes that need a pool run last,
 * when every patch of a speaker outside the extractor's training speakers is extracted. */
int veil_attack_run(veil_extractor *f, const veil_patch_set *p, const veil_split *s,
                    const veil_train_config *tc, uint64_t seed, const char *name,
                    const veil_attack_config *ac, veil_attack_result *out);

/* The selection score of a job's validation results (veil_train_config.select_attacker):
 * NaN when the named probe did not run there. */
double veil_validation_score(const veil_job_attacker *a, int n, const char *select);

/* Run one job on a split: train f (Siamese or reference), train g, attack every group.
 * model_out (optional) receives the trained model. Progress goes to stderr. */
int veil_job_run(veil_method method, int groups, int iteration, const veil_split *split,
                 const veil_patch_set *patches, const veil_train_config *tc,
                 veil_precision precision, uint64_t seed, veil_job_result *out,
                 veil_model **model_out);
/* A job's seeds in the experiment's grid of base seed `seed`: iteration i's split (shared
 * by every method) and the job's own seed (veil train derives them as the grid does). */
uint64_t veil_experiment_split_seed(uint64_t seed, int iteration);
uint64_t veil_experiment_job_seed(uint64_t seed, veil_method m, int groups, int iteration);

#endif
