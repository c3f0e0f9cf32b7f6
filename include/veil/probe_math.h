/* veil probe math: the numeric attackers of the battery (logistic regression, cosine
 * k-NN, verification by cosine scoring with EER / minDCF / bootstrap CI, LDA), as pure
 * functions over feature tables (include/veil/probe.h). docs/audit.md says what each does
 * and every choice. The probe entries of the table call the veil_probe_* scorers. */
#ifndef VEIL_PROBE_MATH_H
#define VEIL_PROBE_MATH_H

#include <stddef.h>
#include <stdint.h>
#include "veil/probe.h"

/* ---- the probes (score functions of the probe table) ---- */
int veil_probe_logreg(const veil_probe_input *in, veil_probe_result *out);
int veil_probe_knn_cosine(const veil_probe_input *in, veil_probe_result *out);
int veil_probe_verify_cosine(const veil_probe_input *in, veil_probe_result *out);
int veil_probe_verify_same_gender(const veil_probe_input *in, veil_probe_result *out);
int veil_probe_verify_lda(const veil_probe_input *in, veil_probe_result *out);
int veil_probe_semi_informed(const veil_probe_input *in, veil_probe_result *out);

/* ---- logistic regression (multinomial, L2 on the weights, bias free) ---- */
#define VEIL_LOGREG_N_L2 7
extern const double veil_logreg_l2_grid[VEIL_LOGREG_N_L2]; /* 1e-6 .. 1, x10 */
/* Fit on x (n x dim, standardised) and write log-posteriors of xt (m x dim) into logp
 * (m x classes). l2 < 0: chosen on a held-out 20 % of each class (least held-out
 * cross-entropy); *l2_used receives the weight (may be NULL). */
int veil_logreg_fit_predict(const float *x, const int *y, size_t n, int dim, int classes,
                            const float *xt, size_t m, double l2, uint64_t seed, float *logp,
                            double *l2_used);

/* ---- cosine k-NN ---- */
#define VEIL_KNN_N_K 7
extern const int veil_knn_k_grid[VEIL_KNN_N_K]; /* 1, 3, 5, 9, 15, 25, 51 */
/* k <= 0: chosen on a held-out 20 % of each class (best held-out accuracy, then smaller k). */
int veil_knn_fit_predict(const float *x, const int *y, size_t n, int dim, int classes,
                         const float *xt, size_t m, int k, uint64_t seed, float *logp,
                         int *k_used);

/* ---- verification metrics over trials: score s[i], target[i] = 1 same speaker ---- */
#define VEIL_DCF_P_TARGET 0.01
#define VEIL_DCF_C_MISS 1.0
#define VEIL_DCF_C_FA 1.0
/* Trials weighted by w (NULL: all 1); accept a trial when its score is above the
 * threshold. EER: where the miss and false-alarm curves cross, linearly interpolated
 * between the two thresholds around the crossing. NaN without targets or non-targets. */
double veil_eer(const float *s, const int *target, const double *w, size_t n);
/* min over thresholds of (C_miss P_tar P_miss + C_fa (1 - P_tar) P_fa) /
 * min(C_miss P_tar, C_fa (1 - P_tar)). */
double veil_min_dcf(const float *s, const int *target, const double *w, size_t n, double p_target,
                    double c_miss, double c_fa);
/* Bootstrap 95 % percentile interval of the EER, resampling speakers: trial i is between
 * speakers spk_a[i] and spk_b[i] (equal for a target trial); a replicate draws n_speakers
 * speakers with replacement (counts c) and weighs a target trial c_a, a non-target one
 * c_a c_b. reps replicates, deterministic for seed. */
int veil_eer_bootstrap(const float *s, const int *target, const int *spk_a, const int *spk_b,
                       size_t n, int n_speakers, int reps, uint64_t seed, double *lo, double *hi);

/* ---- LDA: x (n x dim) with speaker labels y (0..classes-1) -> projection W (dim x out) ---
 * Centred, PCA to at most 200 dimensions (randomised subspace iteration, seeded), then
 * Fisher's directions: generalised eigenvectors of between- vs within-class scatter
 * (within regularised by 1e-6 of its mean diagonal), largest first; out = min(classes - 1,
 * PCA dimensions). mean (dim) and W (dim x out, row-major) are malloc'd. */
int veil_lda_fit(const float *x, const int *y, size_t n, int dim, int classes, uint64_t seed,
                 float **mean, float **w, int *out_dim);

/* ---- verification trials of a set of utterance embeddings ---- */
typedef struct veil_trials {
    size_t n;
    float *score;
    int *target, *spk_a, *spk_b;
} veil_trials;
/* Every unordered pair of distinct utterances (e: n_utt x dim, speaker / gender per
 * utterance); same_gender = 1 keeps only pairs of one gender. Cosine scores. */
void veil_trials_cosine(const float *e, size_t n_utt, int dim, const int *speaker,
                        const int *gender, int same_gender, veil_trials *out);
void veil_trials_free(veil_trials *t);

#endif
