/* semi-informed: the VoicePrivacy Challenge's semi-informed attacker. It knows the
 * protection: it has the protected features of many speakers (in->pool: every speaker
 * outside the group and outside the extractor's training speakers, several hundred on
 * the synthetic corpus) and learns a speaker embedding on them, then meets the group's
 * speakers, none of whom it trained on, in an open set.
 *   embedding  an MLP (256 ReLU units, dropout) with softmax over the pool's speakers,
 *              on inputs standardised with the pool's statistics; AdamW (weight decay
 *              0.05, five times the attacker's rate) with early stopping on 10 % of each
 *              pool speaker's rows (patience 5, at most the attacker's epochs). A row's
 *              embedding is the hidden layer (a d-vector), an utterance's the mean of its
 *              rows' embeddings.
 *   back end   LDA trained on the pool's utterance embeddings, then cosine scoring: the
 *              x-vector recipe without PLDA.
 *   scored     verification between the group's utterances (every pair; EER, minDCF and
 *              bootstrap CI, all trials and same-gender trials), and closed-set
 *              identification by enrolment: each speaker's model is the mean of its
 *              utterances on the utterance split's training side, a test utterance (per
 *              utterance) or a test patch (per patch) goes to the nearest model by cosine.
 * Nothing of the group is trained on: enrolment only averages embeddings. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "linalg.h"
#include "probe_internal.h"
#include "veil/common.h"
#include "veil/probe_math.h"

enum { EMBED_UNITS = 256, EMBED_BATCH = 256, EMBED_PATIENCE = 5 };

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

static int in_sorted(const int *v, size_t n, int x)
{
    return n && bsearch(&x, v, n, sizeof *v, cmp_int) != NULL;
}

/* The group's corpus-wide speakers (sorted, unique) from its tables (the utterance split
 * holds the same rows). */
static int *group_speakers(const veil_probe_input *in, size_t *n)
{
    const veil_feature_table *ts[2] = {in->train, in->test};
    size_t total = 0, k = 0;
    for (int t = 0; t < 2; t++) total += ts[t] ? ts[t]->n : 0;
    int *s = veil_malloc((total ? total : 1) * sizeof *s);
    for (int t = 0; t < 2; t++)
        for (size_t i = 0; ts[t] && i < ts[t]->n; i++) s[k++] = ts[t]->speaker[i];
    qsort(s, k, sizeof *s, cmp_int);
    size_t u = 0;
    for (size_t i = 0; i < k; i++)
        if (i == 0 || s[i] != s[u - 1]) s[u++] = s[i];
    *n = u;
    return s;
}

void probe_pool_table(const veil_probe_input *in, veil_feature_table *out)
{
    size_t ng = 0;
    int *group = group_speakers(in, &ng);
    size_t n = 0;
    int dim = in->train->dim;
    for (int t = 0; t < in->n_pool; t++)
        for (size_t i = 0; i < in->pool[t]->n; i++) n += !in_sorted(group, ng, in->pool[t]->speaker[i]);
    int *spk = veil_malloc((n ? n : 1) * sizeof *spk);
    size_t k = 0;
    for (int t = 0; t < in->n_pool; t++)
        for (size_t i = 0; i < in->pool[t]->n; i++)
            if (!in_sorted(group, ng, in->pool[t]->speaker[i])) spk[k++] = in->pool[t]->speaker[i];
    qsort(spk, n, sizeof *spk, cmp_int);
    size_t ns = 0;
    for (size_t i = 0; i < n; i++)
        if (i == 0 || spk[i] != spk[ns - 1]) spk[ns++] = spk[i];
    veil_feature_table_alloc(out, n, dim, (int)ns);
    k = 0;
    for (int t = 0; t < in->n_pool; t++) {
        const veil_feature_table *p = in->pool[t];
        for (size_t i = 0; i < p->n; i++) {
            if (in_sorted(group, ng, p->speaker[i])) continue;
            memcpy(out->z + k * (size_t)dim, p->z + i * (size_t)dim, (size_t)dim * sizeof(float));
            out->label[k] = (int)((const int *)bsearch(&p->speaker[i], spk, ns, sizeof *spk, cmp_int) - spk);
            out->speaker[k] = p->speaker[i];
            out->gender[k] = p->gender[i];
            out->utterance[k] = p->utterance[i];
            out->file[k] = p->file[i];
            k++;
        }
    }
    free(spk);
    free(group);
}

/* The hidden layer of h for the rows of x (n x dim, standardised): a table of n x units
 * with t's labels, speakers, genders and utterances. */
static int embed(veil_head *h, const float *x, const veil_feature_table *t, veil_feature_table *out)
{
    int count = 0;
    veil_param *p = veil_head_params(h, &count); /* [0] fc1.weight [units, dim], [1] fc1.bias */
    size_t units = (size_t)p[0].shape[0], dim = (size_t)p[0].shape[1];
    veil_feature_table_alloc(out, t->n, (int)units, t->n_classes);
    memcpy(out->label, t->label, t->n * sizeof(int));
    memcpy(out->speaker, t->speaker, t->n * sizeof(int));
    memcpy(out->gender, t->gender, t->n * sizeof(int));
    memcpy(out->utterance, t->utterance, t->n * sizeof(int));
    memcpy(out->file, t->file, t->n * sizeof(int));
    if (t->n && pm_sgemm('N', 'T', t->n, units, dim, 1.0f, x, dim, p[0].data, dim, 0.0f, out->z, units)) {
        veil_feature_table_free(out);
        return -1;
    }
    for (size_t i = 0; i < t->n; i++)
        for (size_t u = 0; u < units; u++) {
            float v = out->z[i * units + u] + p[1].data[u];
            out->z[i * units + u] = v > 0 ? v : 0;
        }
    return 0;
}

/* Rows of e (n x D) minus mean, times w (D x q): n x q (malloc'd), NULL after veil_error. */
static float *project(const float *e, size_t n, size_t D, const float *mean, const float *w, int q)
{
    float *c = veil_malloc((n ? n : 1) * D * sizeof *c), *o = veil_malloc((n ? n : 1) * (size_t)q * sizeof *o);
    for (size_t i = 0; i < n; i++)
        for (size_t d = 0; d < D; d++) c[i * D + d] = e[i * D + d] - mean[d];
    int rc = n ? pm_sgemm('N', 'N', n, (size_t)q, D, 1.0f, c, D, w, (size_t)q, 0.0f, o, (size_t)q) : 0;
    free(c);
    if (rc) {
        free(o);
        return NULL;
    }
    return o;
}

static void normalise_rows(float *e, size_t n, int q)
{
    for (size_t i = 0; i < n; i++) {
        double s = 0;
        for (int k = 0; k < q; k++) s += (double)e[i * q + k] * e[i * q + k];
        float inv = s > 0 ? (float)(1 / sqrt(s)) : 0;
        for (int k = 0; k < q; k++) e[i * q + k] *= inv;
    }
}

/* Index of the model (rows of m, n_models x q, unit length) nearest to v by cosine. */
static int nearest(const float *m, int n_models, const float *v, int q)
{
    int best = 0;
    double bs = -INFINITY;
    for (int c = 0; c < n_models; c++) {
        double s = 0;
        for (int k = 0; k < q; k++) s += (double)m[c * q + k] * v[k];
        if (s > bs) bs = s, best = c;
    }
    return best;
}

/* Identification by enrolment: speaker models from the utterance split's training side,
 * scored per test utterance and per test patch (embeddings of et: rows of the test side). */
/* The labels present in t, increasing: probe_utterances numbers an utterance's speaker by
 * its place among them (label_of[k] is the label numbered k). */
static int *present_labels(const veil_feature_table *t)
{
    int *label_of = veil_malloc((size_t)(t->n_classes ? t->n_classes : 1) * sizeof *label_of);
    char *seen = veil_calloc((size_t)(t->n_classes ? t->n_classes : 1), 1);
    for (size_t i = 0; i < t->n; i++) seen[t->label[i]] = 1;
    for (int c = 0, k = 0; c < t->n_classes; c++)
        if (seen[c]) label_of[k++] = c;
    free(seen);
    return label_of;
}

static int identify(const veil_feature_table *etr, const veil_feature_table *ete,
                    const float *lmean, const float *w, int q, veil_probe_result *out)
{
    int classes = etr->n_classes, rc = -1;
    size_t D = (size_t)etr->dim;
    utt_set ut, uq;
    int nst = 0, nsq = 0;
    probe_utterances(etr, NULL, NULL, NULL, 1, &ut, &nst);
    probe_utterances(ete, NULL, NULL, NULL, 1, &uq, &nsq);
    int *train_label = present_labels(etr), *test_label = present_labels(ete);
    float *pt = project(ut.e, ut.n, D, lmean, w, q), *pq = project(uq.e, uq.n, D, lmean, w, q);
    float *pr = project(ete->z, ete->n, D, lmean, w, q);
    float *model = veil_calloc((size_t)classes * (size_t)q, sizeof *model);
    if (!pt || !pq || !pr) goto done;
    normalise_rows(pt, ut.n, q);
    normalise_rows(pq, uq.n, q);
    normalise_rows(pr, ete->n, q);
    for (size_t i = 0; i < ut.n; i++) {
        int c = train_label[ut.speaker[i]];
        for (int k = 0; k < q; k++) model[(size_t)c * q + k] += pt[i * q + k];
    }
    normalise_rows(model, (size_t)classes, q);
    size_t correct_utt = 0, correct = 0;
    for (size_t i = 0; i < uq.n; i++)
        correct_utt += nearest(model, classes, pq + i * q, q) == test_label[uq.speaker[i]];
    for (size_t r = 0; r < ete->n; r++) correct += nearest(model, classes, pr + r * q, q) == ete->label[r];
    out->acc_utt = uq.n ? (double)correct_utt / (double)uq.n : NAN;
    out->acc = ete->n ? (double)correct / (double)ete->n : NAN;
    out->chance = classes ? 1.0 / classes : NAN;
    rc = 0;
done:
    probe_utt_set_free(&ut), probe_utt_set_free(&uq);
    free(pt), free(pq), free(pr), free(model), free(train_label), free(test_label);
    return rc;
}

int veil_probe_semi_informed(const veil_probe_input *in, veil_probe_result *out)
{
    double t0 = veil_now();
    veil_probe_result_clear(out);
    const veil_feature_table *tr = veil_probe_utt_train(in), *te = veil_probe_utt_test(in);
    veil_feature_table pool, ep, eg_tr, eg_te;
    memset(&pool, 0, sizeof pool), memset(&ep, 0, sizeof ep);
    memset(&eg_tr, 0, sizeof eg_tr), memset(&eg_te, 0, sizeof eg_te);
    probe_pool_table(in, &pool);
    int rc = 0;
    if (pool.n_classes < 2) { /* a single attacker group and no gender-testing speakers */
        if (veil_verbosity >= 1)
            veil_log("%s%sno speakers outside the group to train an embedding on: no result",
                     in->name ? in->name : "", in->name ? ": " : "");
        veil_feature_table_free(&pool);
        out->seconds = veil_now() - t0;
        return 0;
    }
    veil_head *h = NULL;
    float *xp = veil_probe_standardised(&pool, &pool);
    float *xtr = veil_probe_standardised(&pool, tr), *xte = veil_probe_standardised(&pool, te);
    float *lmean = NULL, *w = NULL;
    utt_set uo, ug;
    memset(&uo, 0, sizeof uo), memset(&ug, 0, sizeof ug);
    probe_mlp m = {EMBED_UNITS, in->epochs, EMBED_BATCH, in->eval_batch, 5 * in->lr, in->dropout, in->precision,
                   veil_seed_mix(in->seed, 0x73656d69, 0), veil_seed_mix(in->seed, 0x73656d69, 1),
                   0.05f, 0.10, EMBED_PATIENCE};
    if (veil_verbosity >= 2)
        veil_log("%s: embedding trained on %zu rows of %d speakers outside the group", in->name ? in->name : "",
                 pool.n, pool.n_classes);
    h = probe_mlp_train(&m, xp, pool.label, pool.n, pool.dim, pool.n_classes, in->name);
    rc = h ? 0 : -1;
    if (rc == 0) rc = embed(h, xp, &pool, &ep);
    free(xp);
    xp = NULL;
    if (rc == 0) rc = embed(h, xtr, tr, &eg_tr) || embed(h, xte, te, &eg_te);
    if (rc) goto done;
    size_t D = EMBED_UNITS;
    int nso = 0, nsg = 0, q = 0;
    /* verification: every utterance of the group (both sides of the utterance split) */
    probe_utterances(&ep, NULL, NULL, NULL, 0, &uo, &nso);
    probe_utterances(&eg_tr, &eg_te, NULL, NULL, 1, &ug, &nsg);
    if (uo.n <= (size_t)nso) {
        veil_error("the pool's LDA needs more utterances than speakers (got %zu of %d speakers)", uo.n, nso);
        rc = -1;
        goto done;
    }
    rc = veil_lda_fit(uo.e, uo.speaker, uo.n, (int)D, nso, veil_seed_mix(in->seed, 0x73656d69, 2), &lmean, &w, &q);
    if (rc) goto done;
    float *pg = project(ug.e, ug.n, D, lmean, w, q);
    if (!pg) {
        rc = -1;
        goto done;
    }
    free(ug.e);
    ug.e = pg;
    rc = probe_score_trials(in, &ug, q, nsg, 0, out);
    if (rc == 0) {
        veil_probe_result sg;
        veil_probe_result_clear(&sg);
        rc = probe_score_trials(in, &ug, q, nsg, 1, &sg);
        out->eer_same_gender = sg.eer;
        out->eer_same_gender_lo = sg.eer_lo;
        out->eer_same_gender_hi = sg.eer_hi;
    }
    if (rc == 0) rc = identify(&eg_tr, &eg_te, lmean, w, q, out);
done:
    if (rc && in->name) veil_error_prefix("%s", in->name);
    veil_head_free(h);
    probe_utt_set_free(&uo), probe_utt_set_free(&ug);
    veil_feature_table_free(&pool), veil_feature_table_free(&ep);
    veil_feature_table_free(&eg_tr), veil_feature_table_free(&eg_te);
    free(xp), free(xtr), free(xte), free(lmean), free(w);
    out->seconds = veil_now() - t0;
    return rc;
}
