/* veil probe: the attackers. One feature table per attacker group (every patch's features
 * extracted once), and a table of probes that score it: a new attacker is one file in
 * src/research/probe/ and one line in the table (src/research/probe/probe.c). docs/protocol.md, "Attackers". */
#ifndef VEIL_PROBE_H
#define VEIL_PROBE_H

#include <stddef.h>
#include <stdint.h>
#include "veil/nn.h"

/* One row per patch. Owns its arrays (veil_feature_table_free). */
typedef struct veil_feature_table {
    size_t n;          /* rows */
    int dim;           /* features per row */
    float *z;          /* n x dim, row-major, 64-byte aligned (veil_aligned_alloc) */
    int *label;        /* class of the row within this attacker group: 0..n_classes-1 */
    int n_classes;     /* speakers in the group (St) */
    int *speaker;      /* corpus-wide speaker index (or the labels file's speaker index) */
    int *gender;       /* 0 = female, 1 = male */
    int *utterance;    /* corpus-wide utterance index: rows of one utterance share it */
    int *file;         /* source file index (equal to utterance when a file is one utterance) */
} veil_feature_table;
/* A table of n rows of dim features with every array allocated (contents undefined). */
void veil_feature_table_alloc(veil_feature_table *t, size_t n, int dim, int n_classes);
void veil_feature_table_free(veil_feature_table *t);

/* What a probe gets. train/test: the group's attacker-training / attacker-evaluation rows
 * (same speakers), split per patch as in the paper (an utterance's patches fall on both
 * sides). utt_train/utt_test: the same rows split by whole utterances (each speaker's
 * utterances 70/30, none on both sides; veil_probe_utterance_split): what every number
 * per utterance is scored on, since a real eavesdropper meets new recordings (NULL: the
 * patch split stands in, for callers that have no utterances). others: rows of speakers disjoint from the group's (and never seen by
 * the extractor), for probes that need them (LDA of the verification probe); may be NULL
 * (a probe that needs it then reports NaN for what it cannot compute). */
typedef struct veil_probe_input {
    const veil_feature_table *train, *test, *others;
    uint64_t seed;           /* deterministic per (job, group, probe) */
    veil_precision precision;/* for probes that train an MLP on oneDNN */
    int epochs, batch, hidden; /* the paper's attacker settings (paper-mlp family) */
    float lr, dropout;
    const char *name;        /* "job ... group k/n: probe": progress and error messages */
    /* added by the seam: the job's attacker seed and the group's index (0-based), from
     * which paper-mlp draws its seeds exactly as the attacker did before probes existed,
     * so that its numbers stay bit-identical. Other probes use seed. */
    uint64_t attack_seed;
    int group;
    int eval_batch;          /* rows per forward pass when a probe scores its test rows */
    const veil_feature_table *utt_train, *utt_test;
    /* added by the seam for probes marked needs_pool: tables whose rows are patches of
     * many speakers the extractor never saw (every other attacker group, the gender-testing
     * speakers outside every group). The group's own speakers may be among them: a probe
     * skips every row of a speaker of train or test, so what it learns from is disjoint
     * from the speakers it is tested on. NULL/0 where the caller has none. */
    const veil_feature_table *const *pool;
    int n_pool;
} veil_probe_input;
/* The split a probe scoring whole held-out utterances uses: utt_train/utt_test, or the
 * patch split where the caller gave none. */
const veil_feature_table *veil_probe_utt_train(const veil_probe_input *in);
const veil_feature_table *veil_probe_utt_test(const veil_probe_input *in);

/* The rows of a and b (one group's patches, split any way) split again by whole
 * utterances: each class's utterances shuffled (seed) and the first round(fraction x
 * count) to train, at least one to each side when the class has two or more. A class
 * with a single utterance has none to hold out: its rows keep the split they came with
 * (a's to train, b's to test). Rows keep their order within each side. */
void veil_probe_utterance_split(const veil_feature_table *a, const veil_feature_table *b, double fraction,
                                uint64_t seed, veil_feature_table *train, veil_feature_table *test);

/* NaN where a field does not apply to the probe. Accuracies are fractions in [0,1]. */
typedef struct veil_probe_result {
    double acc;              /* identification accuracy per test patch */
    double acc_utt;          /* per test utterance (whole held-out utterances): patch
                              * log-posteriors summed, argmax */
    double chance;           /* chance level of acc (1 / n_classes) */
    double eer, eer_lo, eer_hi; /* verification: equal error rate, bootstrap 95 % CI */
    double min_dcf;          /* verification: minimum normalised detection cost */
    /* verification within a gender, for probes that score both kinds of trials at once
     * (semi-informed); the verify-same-gender probe reports its own in eer */
    double eer_same_gender, eer_same_gender_lo, eer_same_gender_hi;
    double seconds;
} veil_probe_result;
/* Every field NaN (seconds 0): what a probe starts from. */
void veil_probe_result_clear(veil_probe_result *r);

typedef struct veil_probe {
    const char *name;        /* stable, written in results: "paper-mlp", "logreg", ... */
    const char *about;       /* one line for --help and the report */
    int (*score)(const veil_probe_input *in, veil_probe_result *out);
    int needs_others;        /* added by the seam: 1 if score reads in->others */
    int cheap;               /* 1: seconds per group at G = 5 (the quick preset's battery) */
    int needs_pool;          /* added by the seam: 1 if score reads in->pool */
} veil_probe;

/* The table, in report order. */
const veil_probe *veil_probes(int *count);
const veil_probe *veil_probe_find(const char *name);
#define VEIL_MAX_PROBES 16
/* "all", "cheap" (the probes marked cheap) or a comma-separated list of names -> the
 * probes in table order, no repeats.
 * *n receives the count; out has room for every probe of the table. Unknown names: a
 * message listing the known ones, -1. */
int veil_probe_parse_list(const char *s, const veil_probe **out, int *n);

/* Shared helpers for identification probes:
 * acc and acc_utt from log-posteriors logp (test->n x test->n_classes). */
void veil_probe_identification(const veil_feature_table *test, const float *logp,
                               veil_probe_result *out);
/* t->z standardised with train's per-dimension mean and std (std floor 1e-12), as a new
 * aligned n x dim array the caller frees: what every learned attacker does to its inputs.
 * The tables themselves are shared by all probes and never modified. */
float *veil_probe_standardised(const veil_feature_table *train, const veil_feature_table *t);

#endif
