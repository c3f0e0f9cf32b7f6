/* What the probes of src/research/probe/ share besides the public helpers of veil/probe.h. */
#ifndef VEIL_PROBE_INTERNAL_H
#define VEIL_PROBE_INTERNAL_H

#include "veil/probe.h"

/* The score functions of the table (one file each). */
int veil_probe_paper_mlp_score(const veil_probe_input *in, veil_probe_result *out);
int veil_probe_paper_mlp_std_score(const veil_probe_input *in, veil_probe_result *out);
int veil_probe_mlp_utt_split_score(const veil_probe_input *in, veil_probe_result *out);
int veil_probe_strong_mlp_score(const veil_probe_input *in, veil_probe_result *out);

/* Rows of t ordered by utterance, then row: an utterance's rows are consecutive. */
size_t *probe_rows_by_utterance(const veil_feature_table *t);

/* An MLP head (veil_head: hidden ReLU units, dropout, softmax) trained with Adam on
 * fixed inputs, as the paper's attacker. */
typedef struct probe_mlp {
    int hidden, epochs, batch, eval_batch;
    float lr, dropout;
    veil_precision precision;
    uint64_t init_seed, train_seed;
    /* strong-mlp: AdamW weight decay, and early stopping on held_fraction of each class's
     * training rows (held out by pm_holdout, seeded by train_seed) with this patience;
     * 0: neither (the paper's attacker) */
    float weight_decay;
    double held_fraction;
    int patience;
} probe_mlp;
/* A fresh head trained on x (n x dim, labels y in 0..classes-1); NULL after veil_error. */
veil_head *probe_mlp_train(const probe_mlp *m, const float *x, const int *y, size_t n, int dim, int classes,
                           const char *name);
/* Train on x (n x dim, labels y in 0..classes-1), then write the eval-mode logits of xt
 * (nt x dim) into logits (nt x classes). */
int probe_mlp_logits(const probe_mlp *m, const float *x, const int *y, size_t n, const float *xt,
                     size_t nt, int dim, int classes, const char *name, float *logits);
/* acc: argmax of the logits themselves (log-softmax could round two close logits to a
 * tie); acc_utt: their log-softmax (in double) pooled over each test utterance. */
void probe_score_logits(const veil_feature_table *test, const float *logits, veil_probe_result *out);

/* The probes that fit a classifier on the standardised rows of the utterance split and
 * score its log-posteriors (logreg, knn-cosine): fit returns the hyper-parameter it chose
 * in *chosen, logged at -v as "<what> <value>". */
typedef int (*probe_fit_fn)(const float *x, const int *y, size_t n, int dim, int classes, const float *xt,
                            size_t m, uint64_t seed, float *logp, double *chosen);
int probe_fit_standardised(const veil_probe_input *in, const char *probe, const char *what, uint64_t seed,
                           probe_fit_fn fit, veil_probe_result *out);

/* Utterance embeddings (verify.c): the mean of an utterance's rows over up to two tables
 * (b may be NULL), standardised with (mu, sd) (NULL: the means as they are). */
typedef struct utt_set {
    size_t n;
    float *e;   /* n x dim: standardised utterance means */
    int *key;   /* utterance id */
    int *speaker, *gender; /* speaker: the table's label (use_label) or the corpus-wide
                            * speaker id remapped to 0..k-1 in increasing order */
} utt_set;
void probe_utterances(const veil_feature_table *a, const veil_feature_table *b, const double *mu,
                      const double *sd, int use_label, utt_set *out, int *n_speakers);
void probe_utt_set_free(utt_set *u);
/* Cosine trials between every pair of u's utterances (same_gender: pairs of one gender
 * only): EER, minDCF and the EER's bootstrap 95 % interval over n_speakers speakers into
 * out; NaN with a warning when no target or non-target trial exists. */
int probe_score_trials(const veil_probe_input *in, const utt_set *u, int dim, int n_speakers,
                       int same_gender, veil_probe_result *out);

/* semi-informed: the rows of in->pool whose speaker is none of the group's (train, test
 * and the utterance split), as one table labelled 0..N-1 by speaker (increasing
 * corpus-wide id): what the attacker learns from, disjoint from what it is tested on. */
void probe_pool_table(const veil_probe_input *in, veil_feature_table *out);

#endif
