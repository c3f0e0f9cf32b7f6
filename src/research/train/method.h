/* veil training methods: the seam (docs/architecture.md, "Training methods").
 *
 * A method trains the extractor f (and, if it wants, the gender head g with it) on the
 * gender-training set of one split. Each method is one file in src/research/train/ defining one
 * veil_train_method: its name, a stable id, its own settings (a table of named fields
 * over its own struct: defaults, command line and JSON both ways come from that table)
 * and one train function over one context. Adding a method = one file + one line in
 * VEIL_TRAIN_METHODS below. Nothing else in the job, the grid, the report or the CLI
 * names a method. */
#ifndef VEIL_TRAIN_METHOD_H
#define VEIL_TRAIN_METHOD_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "veil/job.h"

/* Every method, in report order: X(name) names the veil_train_method
 * veil_method_<name> that src/research/train/<name>.c defines. */
#define VEIL_TRAIN_METHODS(X) X(reference) X(siamese) X(adversarial) X(variational) X(best_response) X(bottleneck) X(raw)

/* ---- settings: a table of named fields over a struct ---- */
typedef enum { VEIL_SETTING_INT, VEIL_SETTING_FLOAT, VEIL_SETTING_DOUBLE } veil_setting_type;
typedef struct veil_setting {
    const char *name;        /* JSON key; on the command line --name with '-' for '_' */
    veil_setting_type type;
    size_t offset;           /* offsetof(the method's struct, field) */
    double def, lo, hi;      /* default and accepted range */
    const char *help;        /* one line for --help */
} veil_setting;

/* ---- what a method gets ---- */
typedef struct veil_train_context {
    const veil_patch_set *patches;
    const veil_labelled *train, *eval; /* gender-training / gender-evaluation; label: the task's
                                        * class (gender: 0 F, 1 M) */
    const int *train_speaker;          /* per train entry: 0..n_speakers-1 (the St speakers) */
    const int *eval_speaker;           /* per eval entry, likewise */
    int n_speakers;                    /* St */
    const veil_extractor_config *arch; /* f's architecture (G, filters) */
    const veil_train_config *tc;       /* the settings every method shares */
    const void *settings;              /* this method's own settings struct */
    veil_precision precision;          /* resolved; threads: veil_set_threads() */
    uint64_t seed;                     /* the job's seed; derive every stream with veil_seed_mix */
    const char *name;                  /* "job siamese G=1 iteration 0": progress and messages */
    int n_classes;                     /* the task's classes K (labels 0..K-1); 0 means 2 (gender) */
} veil_train_context;
/* The task's classes of a context: K, or 2 where the context predates tasks. */
static inline int veil_train_classes(const veil_train_context *ctx) { return ctx->n_classes > 0 ? ctx->n_classes : 2; }

/* ---- what it gives back ---- */
typedef struct veil_trained {
    veil_extractor *f;        /* trained; the caller owns it */
    veil_head *g;             /* the gender head trained with f, or NULL: the job trains g on
                               * the frozen f (gender_epochs, gender_batch) */
    veil_train_report rep;    /* epochs, loss, early stopping, z spread, collapse */
    double pair_verdict_acc;  /* NaN where it does not apply */
    int restarts;             /* restarts after a collapse */
} veil_trained;

/* Which G values the experiment grid runs a method at. */
typedef enum {
    VEIL_GROUPS_ONE,   /* G = 1 only (the reference, as in the paper) */
    VEIL_GROUPS_LIST,  /* every G of --groups (the Siamese method: Figure 3) */
    VEIL_GROUPS_SWEEP, /* one G (--sweep-groups, default 5); its knob swept on iteration 0 */
} veil_groups_policy;

typedef struct veil_train_method {
    const char *name;             /* "siamese": results, command line, model files */
    int id;                       /* stable: job seeds derive from it; never reuse one */
    const char *about;            /* one line for --help and the report */
    const veil_setting *settings; /* its own settings, over a struct of settings_size bytes */
    int n_settings;
    size_t settings_size;
    const char *epochs_setting;   /* the setting `veil train --epochs` sets */
    const char *knob;             /* the setting the grid sweeps (VEIL_GROUPS_SWEEP), NULL: none */
    const double *sweep;          /* its values in the paper preset */
    int n_sweep;
    veil_groups_policy groups;
    int opt_in;                   /* 1: in a grid only when --methods names it (a method beyond
                                   * the paper's comparison, not in the presets' default grid) */
    /* Train f (and g) on ctx->train, early stopping on ctx->eval. On failure: -1 with
     * veil_error(), nothing left in out to free. */
    int (*train)(const veil_train_context *ctx, veil_trained *out);
} veil_train_method;

/* In a method's entry: its own settings table and the struct of settings it fills. */
#define VEIL_METHOD_SETTINGS(table, type) \
    .settings = table, .n_settings = (int)(sizeof table / sizeof table[0]), .settings_size = sizeof(type)
/* In a method's entry: the setting a grid sweeps and its values in the paper preset. */
#define VEIL_METHOD_KNOB(setting, ...)                                 \
    .knob = setting, .sweep = (const double[]){__VA_ARGS__},          \
    .n_sweep = (int)(sizeof((const double[]){__VA_ARGS__}) / sizeof(double))

/* ---- the table ---- */
const veil_train_method *const *veil_train_methods(int *count);
const veil_train_method *veil_train_method_by_id(int id);       /* NULL if none */
const veil_train_method *veil_train_method_by_name(const char *name); /* NULL if none */

/* A method's settings inside a veil_train_config, and their defaults. */
void *veil_method_settings_of(veil_train_config *tc, int id);
const void *veil_method_settings_get(const veil_train_config *tc, int id);
void veil_settings_defaults(const veil_setting *s, int n, void *base);
/* Every field as a JSON object ({"name": value, ...}); the inverse fills fields present
 * (others keep their value) and refuses a value of the wrong type or out of range. */
cJSON *veil_settings_to_json(const veil_setting *s, int n, const void *base);
int veil_settings_from_json(const veil_setting *s, int n, const cJSON *o, void *base, const char *what);
/* One setting from text, by name; 1 if name is not in s, 0 if set, -1 if refused. */
int veil_settings_set(const veil_setting *s, int n, void *base, const char *name, const char *value);
double veil_settings_value(const veil_setting *s, int n, const void *base, const char *name);
/* The knob of method id: its value in settings (NaN: no knob), and set it (refused out of range). */
double veil_method_knob(int id, const veil_method_settings *settings);
int veil_method_set_knob(veil_method_settings *settings, int id, double value);
/* 1 if option ("--adv-lambda", "adv_lambda") names the knob of method id. */
int veil_method_is_knob(int id, const char *option);

/* The settings every method shares (veil_train_config's own fields). */
const veil_setting *veil_train_common_settings(int *count);
/* Any setting, common or a method's, by name (a command-line option without "--",
 * '-' or '_'): 0 set, -1 refused or unknown (message names it). */
int veil_train_config_set(veil_train_config *tc, const char *name, const char *value);
/* Every setting as a command-line option: "--adv-lambda", its help line with whose it is
 * and its default ("adversarial: weight of ... (default 1)") and the method whose knob it
 * is (-1: none). All of them, the common ones first (malloc'd; *n of them). */
typedef struct veil_setting_option {
    char option[64];
    char help[256];
    int knob_of;
} veil_setting_option;
veil_setting_option *veil_train_setting_options(int *n);
/* The same as text, one setting a line ("  --adv-lambda N  adversarial: ...") (malloc'd). */
char *veil_train_settings_help(void);

/* ---- helpers the methods share (src/research/train/common.c) ---- */
/* A new extractor for ctx's architecture, with room for batches of own_batch and for the
 * job's evaluation batches. */
veil_extractor *veil_train_new_extractor(const veil_train_context *ctx, int own_batch, uint64_t seed);
/* Parameter values (buffers too) of the best epoch. */
typedef struct veil_snapshot {
    int count;
    float **vals;
} veil_snapshot;
void veil_snapshot_save(veil_snapshot *s, const veil_param *params, int count);
void veil_snapshot_restore(const veil_snapshot *s, veil_param *params);
void veil_snapshot_free(veil_snapshot *s);
/* Mean over dimensions of the standard deviation of z over n rows. */
double veil_z_spread(const float *z, size_t n, size_t dim);
/* Running BatchNorm statistics := those of one training-mode batch of up to max_n
 * training patches (docs/protocol.md). */
int veil_bn_recalibrate(veil_extractor *f, const veil_patch_set *p, const veil_labelled *train,
                        size_t max_n, uint64_t seed);

/* ---- the pieces of every training loop (src/research/train/batches.c) ---- */
/* 1 if finite; else a message naming the job, the loss and the epoch, and 0. */
int veil_finite_loss(double loss, const char *name, const char *what, int epoch, size_t batch);
/* 1 if every gradient of params (after a backward pass) is finite; else a message naming
 * the job, the epoch, the batch and the layer, and 0. */
int veil_finite_grads(const veil_param *params, int count, const char *name, int epoch, size_t batch);
void veil_gather_patches(const veil_patch_set *p, const size_t *idx, size_t n, float *x);
int veil_check_patch_shape(veil_extractor *f, const veil_patch_set *p);
int veil_patch_speaker(const veil_patch_set *p, size_t i);
void veil_shuffle_size(veil_rng *rng, size_t *a, size_t n);

/* ---- the loop of every method that trains f and g together (src/research/train/common.c) ----
 * Epochs of shuffled batches of gender-training patches; after each epoch BatchNorm
 * recalibration (tc->bn_recalibrate), the gender-evaluation accuracy of g on f's features,
 * the best f and g kept (ties count when tc->ties_improve), early stopping after
 * tc->patience epochs without a better one; progress, finite checks, the evaluation
 * passes timed apart (rep->eval_seconds). A method gives its objective as one step per
 * batch: forward and backward through f, g and its own parts, its own parts' Adam steps;
 * the loop checks f's and g's gradients and steps them. A new method of this kind is a
 * step, its settings and a table line. */
typedef struct veil_fg_method {
    void *m;                 /* the method's own state, passed to every callback */
    const char *label;       /* the progress line's label */
    int epochs;
    uint64_t shuffle_seed;   /* the batches' order */
    uint64_t bn_seed;        /* BatchNorm recalibration: epoch e draws from (bn_seed, e) */
    int n_sums;              /* the step's running sums (at most 4), e.g. its losses x rows */
    /* One batch of k patches x with their task labels (gender: 0 F, 1 M) and their speakers
     * (0..St-1 among the St training speakers); adds to sums[0..n_sums). */
    int (*step)(void *m, const float *x, int k, const int *gender, const int *speaker, int epoch, size_t batch,
                double *sums);
    void (*epoch_begin)(void *m, int epoch);  /* may be NULL */
    /* The progress text: during an epoch (rows so far, gender_eval NaN before the first
     * evaluation) and at the end (epoch 0, rows = all, the last epoch's sums). */
    void (*describe)(void *m, char *buf, size_t n, int epoch, const double *sums, double rows, double gender_eval);
    /* -v: one line per epoch (may be NULL) */
    void (*epoch_log)(void *m, int epoch, const double *sums, double rows, double gender_eval, double spread);
    double (*final_loss)(void *m, const double *sums, double rows); /* the last epoch's objective */
} veil_fg_method;
int veil_train_fg(veil_extractor *f, veil_head *g, const veil_patch_set *p, const veil_labelled *train,
                  const veil_labelled *eval, const int *train_speaker, const veil_train_config *tc,
                  const veil_fg_method *fm, const char *name, veil_train_report *rep);

/* ---- the two original trainers, as building blocks (tests use them directly) ---- */
typedef struct veil_siamese_settings {
    int epochs;                   /* 75 */
    int batch_pairs;              /* 150 */
    float margin;                 /* 1 */
    double similar_fraction;      /* 0.5 */
    double collapse_spread_ratio; /* 0.01 */
    int collapse_restarts;        /* 2 */
    float restart_lr_factor;      /* 0.5 */
    int warmup_epochs;            /* 0 */
    float z_init_distance;        /* 1 (margins); 0 = off */
} veil_siamese_settings;
/* Siamese training of f on train, early stopping on eval (keeps the best weights). */
int veil_train_siamese(veil_extractor *f, const veil_patch_set *p, const veil_labelled *train,
                       const veil_labelled *eval, const veil_train_config *tc,
                       const veil_siamese_settings *ss, float lr, uint64_t seed, const char *name,
                       veil_train_report *rep);

typedef struct veil_reference_settings {
    int epochs; /* 30 */
} veil_reference_settings;
/* f and g trained together on the labels by cross-entropy (the reference). */
int veil_train_reference(veil_extractor *f, veil_head *g, const veil_patch_set *p,
                         const veil_labelled *train, const veil_labelled *eval,
                         const veil_train_config *tc, const veil_reference_settings *rs,
                         uint64_t seed, const char *name, veil_train_report *rep);
/* The reference method on another architecture (the bottleneck's): f for arch and g
 * trained by veil_train_reference, seeded from the job's seed and salt. */
int veil_train_reference_arch(const veil_train_context *ctx, const veil_extractor_config *arch,
                              const veil_reference_settings *rs, uint64_t salt, veil_trained *out);

/* ---- the adversarial method's one step, as a building block (tests check it) ---- */
typedef struct veil_adversarial_work {
    int max_n;
    float *z, *dz, *dz_speaker, *logits_gender, *dlogits_gender, *logits_speaker, *dlogits_speaker;
    float *zs; /* the adversary's standardised input (veil_adversarial_gradients_std) */
} veil_adversarial_work;
void veil_adversarial_work_init(veil_adversarial_work *w, int max_n, int dim, int classes, int speakers);
void veil_adversarial_work_free(veil_adversarial_work *w);
/* One batch: training-mode forward of f, g and the adversary a; every gradient set, no
 * update: g's and a's from their own cross-entropies, f's from dJ/dz with
 * J = L_gender - lambda L_speaker (the gradient-reversal layer). */
int veil_adversarial_gradients(veil_extractor *f, veil_head *g, veil_head *a, const float *x, int n,
                               const int *gender, const int *speaker, float lambda,
                               veil_adversarial_work *w, float *loss_gender, float *loss_speaker);
/* The same with the adversary on standardised features s = (z - mean) inv_sd (per
 * dimension; constants, no gradient through them): f's gradient is dL_g/dz - lambda
 * dL_a/ds inv_sd. mean NULL: the adversary on z (veil_adversarial_gradients). w->zs then
 * holds s. */
int veil_adversarial_gradients_std(veil_extractor *f, veil_head *g, veil_head *a, const float *x, int n,
                                   const int *gender, const int *speaker, float lambda, const float *mean,
                                   const float *inv_sd, veil_adversarial_work *w, float *loss_gender,
                                   float *loss_speaker);

/* The adversarial training of f, g and a speaker adversary (src/research/train/adversarial.c),
 * shared by the adversarial method (one adversary step per batch, on z) and the
 * best-response method (several steps, on standardised z). */
typedef struct veil_adversarial_options {
    const char *kind;        /* the method's name, in messages */
    double lambda;           /* weight of the reversed speaker gradient */
    int epochs;              /* most epochs */
    int steps;               /* adversary Adam steps per batch (1: one, with the reversal) */
    double momentum;         /* > 0: the adversary reads z standardised with running statistics
                              * of f's output, each batch folded in with this weight */
    uint64_t adversary_salt, shuffle_salt; /* the adversary's initialisation and the batches' order */
} veil_adversarial_options;
int veil_train_adversarial_with(const veil_train_context *ctx, const veil_adversarial_options *o,
                                veil_trained *out);

/* ---- variational information (src/research/train/variational.c; docs/protocol.md) ---- */
enum { VEIL_METHOD_VARIATIONAL = 3 };
typedef struct veil_variational_settings {
    double beta;       /* 1e-2: weight of KL(q(z|x) || N(0, I)), the "budget scaling factor" */
    int epochs;        /* 30 */
    float logvar_init; /* -6: initial bias of the log-variance layer */
} veil_variational_settings;
/* f, the log-variance layer v and g trained together on cross-entropy(g(z)) + beta KL with
 * z = mu + exp(logvar/2) eps, early stopping on the gender-evaluation accuracy of g on mu
 * (keeps the best f and g). */
int veil_train_variational(veil_extractor *f, veil_logvar *v, veil_head *g, const veil_patch_set *p,
                           const veil_labelled *train, const veil_labelled *eval,
                           const veil_train_config *tc, const veil_variational_settings *vs,
                           uint64_t seed, const char *name, veil_train_report *rep);

#endif
