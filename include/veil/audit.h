/* veil audit: the attacker battery (include/veil/probe.h) on any feature set: a .npy with
 * a labels CSV from any tool, a veil extractor on a corpus, or the raw MFCC patches. The
 * protocol of `veil attack`: groups of St speakers drawn regardless of gender, each
 * speaker's rows split 70/30 (src/research/experiment/split.c), deterministic for a seed. docs/audit.md. */
#ifndef VEIL_AUDIT_H
#define VEIL_AUDIT_H

#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include "veil/corpus.h"
#include "veil/features.h"
#include "veil/nn.h"
#include "veil/probe.h"

/* What is audited: rows grouped by speaker (rows of speaker s are
 * [speaker_offset[s], speaker_offset[s+1])), each with an utterance and a file; features
 * either held (z) or computed on demand from patches (raw, or through an extractor). */
typedef struct veil_audit_data {
    int n_speakers;
    char **speaker_id;
    char *speaker_gender;   /* 'F' / 'M' */
    size_t *speaker_offset; /* n_speakers + 1 */
    size_t n_rows;
    int dim;
    int *row_utterance, *row_file;
    size_t *row_source;     /* row of the .npy, or patch of the patch set */
    float *z;               /* .npy: every row (source order), owned; NULL otherwise */
    const veil_patch_set *patches; /* corpus modes (not owned) */
    veil_extractor *f;      /* --model (not owned); NULL with patches: raw patches */
    int extract_batch;
    /* --task other than gender (veil_audit_task_from_*): a class per speaker, for the chance
     * of an attacker who knows it; NULL speaker_class: gender */
    char task[32];
    int n_classes;
    char **class_names;
    int *speaker_class;
} veil_audit_data;
void veil_audit_data_free(veil_audit_data *d);
/* The task's class of every speaker of d: from the corpus's label (veil_corpus_task), or from
 * the labels CSV's column of that name (one value per speaker). "gender" (or NULL): nothing
 * to do. -1 (message naming the file, the column or the speaker) otherwise. */
int veil_audit_task_from_corpus(veil_audit_data *d, const veil_corpus *c, const char *task);
int veil_audit_task_from_labels(veil_audit_data *d, const char *labels, const char *task);

/* --features X.npy --labels L.csv: the CSV has a header naming (any order, any case)
 * speaker, gender and utterance; other columns are ignored; one row per feature row.
 * Errors name the file, the line and the problem. Rows keep their order within a speaker;
 * speakers are numbered in order of first appearance. */
int veil_audit_load_features(const char *npy, const char *labels, veil_audit_data **out);
/* --model / --raw: every patch of the corpus's speakers, except the speakers named in
 * exclude (the model's training speakers; n_exclude may be 0). f NULL: raw patches. */
int veil_audit_from_corpus(const veil_corpus *c, const veil_patch_set *p, veil_extractor *f,
                           int extract_batch, char *const *exclude, int n_exclude,
                           veil_audit_data **out);

typedef struct veil_audit_config {
    int st;                 /* speakers per group (20) */
    int n_groups;           /* 0: as many as fit */
    double fraction;        /* attacker-training share of each speaker's rows (0.7) */
    uint64_t seed;          /* the split and every probe */
    const veil_probe *const *probes;
    int n_probes;
    /* paper-mlp family settings */
    veil_precision precision;
    int epochs, batch, hidden;
    float lr, dropout;
    int eval_batch;         /* rows per forward pass when an MLP scores test rows (256) */
} veil_audit_config;
void veil_audit_config_default(veil_audit_config *c); /* St 20, 0.7, seed 1, the paper's MLP */

typedef struct veil_audit_result {
    int st, n_groups, n_probes, dim;
    size_t n_rows;
    int n_speakers;
    char **group_speakers;        /* n_groups x st ids (pointers into the data, not owned) */
    double *chance_gender;        /* per group: chance knowing the gender */
    char task[32];                /* the data's task ("" or "gender": none other) */
    double *chance_label;         /* per group: chance knowing the task's class (NULL: gender) */
    const veil_probe *const *probes;
    veil_probe_result *r;         /* n_probes x n_groups */
    char **reason;                /* n_probes x n_groups: why a probe gave no result (owned), or NULL */
} veil_audit_result;
void veil_audit_result_free(veil_audit_result *r);

/* Run every probe on every group. Progress lines go to stderr (veil_log). A probe that
 * cannot score a group (its score fails) gives NaN there with its reason in r->reason;
 * the other probes' results are kept. */
int veil_audit_run(const veil_audit_data *d, const veil_audit_config *c, veil_audit_result *out);

/* An audit of one job of an experiment (veil audit --experiment OUT --job N), recorded in
 * audit.json as "experiment_job" so that the experiment's report can merge the audit's
 * attackers into that job's (docs/experiment.md, "Attackers added after the run"). */
typedef struct veil_audit_job {
    int index;                /* N in the grid the audit read */
    const char *method;       /* the job's method, G, iteration and knob (NaN: none, or */
    int groups, iteration;    /* chosen on iteration 0 after the grid was listed) */
    double knob;
    const char *model_method; /* the method the audited model was trained with */
} veil_audit_job;

typedef struct veil_audit_info {
    const char *source;     /* "features X.npy (labels L.csv)", "model M on corpus C", ... */
    const char *warning;    /* shown in the report (e.g. no training speakers recorded), or NULL */
    char *const *left_out;  /* speakers left out (the model's training speakers) */
    int n_left_out;
    uint64_t seed;
    double fraction;
    const char *precision;  /* the resolved precision of the extractor and MLP attackers */
    const veil_audit_job *job; /* NULL: not an audit of an experiment's job */
} veil_audit_info;
/* audit.json, audit.md, audit.png and audit.svg in dir (created), each written to a
 * temporary name and renamed. */
int veil_audit_write(const char *dir, const veil_audit_info *info, const veil_audit_result *r);
/* Before an audit runs: -1 (message) when dir already holds the audit of another source
 * (its audit.json's "source" differs from source, or cannot be read), so that an audit
 * never replaces one of another model or job; 0 when dir has none or one of the same
 * source (a rerun, perhaps with other attackers, replaces it). */
int veil_audit_out_check(const char *dir, const char *source);
/* The figure alone (src/research/audit/audit_plot.c): per probe, mean over groups of the identification
 * accuracy per patch and per utterance against chance, and the EER against 50 %. */
int veil_audit_plot(const veil_audit_result *r, const char *png_path, const char *svg_path);
/* The figure as veil_write_fn (ctx: the veil_audit_result), for a set of outputs. */
int veil_audit_png(FILE *f, void *ctx);
int veil_audit_svg(FILE *f, void *ctx);

#endif
