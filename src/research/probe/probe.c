/* The probe table, the feature table and the helpers every identification probe shares:
 * standardisation with the attacker's own training statistics, and accuracy per patch
 * and per utterance from log-posteriors. docs/protocol.md, "Attackers". */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "veil/common.h"
#include "veil/probe.h"
#include "probe_internal.h"
#include "veil/probe_math.h"

/* In report order. A new attacker: one file in src/research/probe/ and one line here. cheap: a few
 * seconds per group at G = 5 on 2 cores (the quick preset runs those). */
static const veil_probe probe_table[] = {
    {"paper-mlp", "the paper's attacker: MLP (1024 ReLU, dropout) on raw features, patches split 70/30",
     veil_probe_paper_mlp_score, 0, 1, 0},
    {"paper-mlp-std", "the paper's MLP on features standardised with its own training rows' statistics",
     veil_probe_paper_mlp_std_score, 0, 0, 0},
    {"mlp-utt-split", "the paper's MLP trained and scored on whole utterances split 70/30 per speaker",
     veil_probe_mlp_utt_split_score, 0, 0, 0},
    {"strong-mlp", "wider MLP (2048 ReLU), standardised, AdamW weight decay, early stopping on held-out training rows",
     veil_probe_strong_mlp_score, 0, 0, 0},
    {"logreg", "multinomial logistic regression on standardised features, L2 chosen on held-out training rows",
     veil_probe_logreg, 0, 1, 0},
    {"knn-cosine", "cosine k-nearest neighbours on standardised features, k chosen on held-out training rows",
     veil_probe_knn_cosine, 0, 0, 0},
    {"verify-cosine", "verification: cosine of utterance-mean embeddings, all trials (EER, minDCF)",
     veil_probe_verify_cosine, 0, 1, 0},
    {"verify-same-gender", "verification: cosine of utterance means, same-gender trials only",
     veil_probe_verify_same_gender, 0, 1, 0},
    {"verify-lda", "verification: cosine after LDA trained on another group's speakers",
     veil_probe_verify_lda, 1, 0, 0},
    {"semi-informed", "speaker embeddings (MLP d-vector + LDA) trained on every other speaker's protected "
                      "features; open-set verification (EER, same gender too) and identification by enrolment",
     veil_probe_semi_informed, 0, 0, 1},
};

const veil_probe *veil_probes(int *count)
{
    *count = (int)(sizeof probe_table / sizeof probe_table[0]);
    return probe_table;
}

const veil_probe *veil_probe_find(const char *name)
{
    int n;
    const veil_probe *t = veil_probes(&n);
    for (int i = 0; i < n; i++)
        if (!strcmp(t[i].name, name)) return &t[i];
    return NULL;
}

int veil_probe_parse_list(const char *s, const veil_probe **out, int *n)
{
    int count;
    const veil_probe *t = veil_probes(&count);
    char *want = veil_calloc((size_t)count, 1), *copy = veil_strdup(s), *save = NULL;
    int any = 0, rc = -1;
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        any = 1;
        if (!strcmp(tok, "all")) {
            memset(want, 1, (size_t)count);
            continue;
        }
        if (!strcmp(tok, "cheap")) {
            for (int i = 0; i < count; i++) want[i] |= (char)t[i].cheap;
            continue;
        }
        const veil_probe *p = veil_probe_find(tok);
        if (!p) {
            veil_strbuf b = {0};
            for (int i = 0; i < count; i++) veil_strbuf_printf(&b, "%s%s", i ? ", " : "", t[i].name);
            veil_error("unknown attacker '%s' (known: %s, or all, cheap)", tok, b.s ? b.s : "");
            free(b.s);
            goto done;
        }
        want[p - t] = 1;
    }
    if (!any) {
        veil_error("empty attacker list '%s' (expected names separated by commas, or all, cheap)", s);
        goto done;
    }
    *n = 0;
    for (int i = 0; i < count; i++)
        if (want[i]) out[(*n)++] = &t[i];
    rc = 0;
done:
    free(want);
    free(copy);
    return rc;
}

void veil_feature_table_alloc(veil_feature_table *t, size_t n, int dim, int n_classes)
{
    size_t rows = n ? n : 1;
    t->n = n;
    t->dim = dim;
    t->n_classes = n_classes;
    t->z = veil_aligned_alloc(rows * (size_t)dim * sizeof(float));
    t->label = veil_malloc(rows * sizeof(int));
    t->speaker = veil_malloc(rows * sizeof(int));
    t->gender = veil_malloc(rows * sizeof(int));
    t->utterance = veil_malloc(rows * sizeof(int));
    t->file = veil_malloc(rows * sizeof(int));
}

void veil_feature_table_free(veil_feature_table *t)
{
    if (!t) return;
    free(t->z), free(t->label), free(t->speaker), free(t->gender), free(t->utterance), free(t->file);
    memset(t, 0, sizeof *t);
}

void veil_probe_result_clear(veil_probe_result *r)
{
    r->acc = r->acc_utt = r->chance = NAN;
    r->eer = r->eer_lo = r->eer_hi = r->min_dcf = NAN;
    r->eer_same_gender = r->eer_same_gender_lo = r->eer_same_gender_hi = NAN;
    r->seconds = 0;
}

static size_t argmax_f(const float *v, int n)
{
    size_t best = 0;
    for (int i = 1; i < n; i++)
        if (v[i] > v[best]) best = (size_t)i;
    return best;
}

typedef struct utt_row {
    int utterance;
    size_t row;
} utt_row;

static int by_utterance(const void *a, const void *b)
{
    const utt_row *x = a, *y = b;
    if (x->utterance != y->utterance) return x->utterance < y->utterance ? -1 : 1;
    return x->row < y->row ? -1 : x->row > y->row;
}

size_t *probe_rows_by_utterance(const veil_feature_table *t)
{
    utt_row *r = veil_malloc((t->n ? t->n : 1) * sizeof *r);
    for (size_t i = 0; i < t->n; i++) r[i] = (utt_row){t->utterance[i], i};
    qsort(r, t->n, sizeof *r, by_utterance);
    size_t *order = veil_malloc((t->n ? t->n : 1) * sizeof(size_t));
    for (size_t i = 0; i < t->n; i++) order[i] = r[i].row;
    free(r);
    return order;
}

void veil_probe_identification(const veil_feature_table *test, const float *logp,
                               veil_probe_result *out)
{
    int k = test->n_classes;
    size_t correct = 0;
    for (size_t i = 0; i < test->n; i++)
        correct += argmax_f(logp + i * (size_t)k, k) == (size_t)test->label[i];
    out->acc = test->n ? (double)correct / (double)test->n : NAN;
    out->chance = k > 0 ? 1.0 / k : NAN;
    /* per utterance: the sum of its patches' log-posteriors (in double), then argmax */
    size_t *order = probe_rows_by_utterance(test);
    double *sum = veil_malloc((size_t)(k > 0 ? k : 1) * sizeof(double));
    size_t utts = 0, utt_correct = 0;
    for (size_t a = 0; a < test->n;) {
        size_t b = a;
        for (int c = 0; c < k; c++) sum[c] = 0;
        while (b < test->n && test->utterance[order[b]] == test->utterance[order[a]]) {
            const float *row = logp + order[b] * (size_t)k;
            for (int c = 0; c < k; c++) sum[c] += row[c];
            b++;
        }
        int best = 0;
        for (int c = 1; c < k; c++)
            if (sum[c] > sum[best]) best = c;
        utt_correct += best == test->label[order[a]];
        utts++;
        a = b;
    }
    out->acc_utt = utts ? (double)utt_correct / (double)utts : NAN;
    free(sum);
    free(order);
}

float *veil_probe_standardised(const veil_feature_table *train, const veil_feature_table *t)
{
    size_t dim = (size_t)train->dim;
    double *mean = veil_calloc(dim ? dim : 1, sizeof(double));
    double *inv = veil_calloc(dim ? dim : 1, sizeof(double));
    for (size_t i = 0; i < train->n; i++)
        for (size_t j = 0; j < dim; j++) mean[j] += train->z[i * dim + j];
    for (size_t j = 0; j < dim; j++) mean[j] = train->n ? mean[j] / (double)train->n : 0;
    for (size_t i = 0; i < train->n; i++)
        for (size_t j = 0; j < dim; j++) {
            double d = train->z[i * dim + j] - mean[j];
            inv[j] += d * d;
        }
    for (size_t j = 0; j < dim; j++) {
        double sd = train->n ? sqrt(inv[j] / (double)train->n) : 0;
        inv[j] = 1.0 / (sd > 1e-12 ? sd : 1e-12);
    }
    float *x = veil_aligned_alloc((t->n ? t->n : 1) * dim * sizeof(float));
    for (size_t i = 0; i < t->n; i++)
        for (size_t j = 0; j < dim; j++)
            x[i * dim + j] = (float)((t->z[i * dim + j] - mean[j]) * inv[j]);
    free(mean);
    free(inv);
    return x;
}

const veil_feature_table *veil_probe_utt_train(const veil_probe_input *in)
{
    return in->utt_train ? in->utt_train : in->train;
}

const veil_feature_table *veil_probe_utt_test(const veil_probe_input *in)
{
    return in->utt_test ? in->utt_test : in->test;
}

static int by_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

/* Copy row i of src to row j of dst. */
static void copy_row(const veil_feature_table *src, size_t i, veil_feature_table *dst, size_t j)
{
    memcpy(dst->z + j * (size_t)dst->dim, src->z + i * (size_t)src->dim, (size_t)src->dim * sizeof(float));
    dst->label[j] = src->label[i];
    dst->speaker[j] = src->speaker[i];
    dst->gender[j] = src->gender[i];
    dst->utterance[j] = src->utterance[i];
    dst->file[j] = src->file[i];
}

void veil_probe_utterance_split(const veil_feature_table *a, const veil_feature_table *b, double fraction,
                                uint64_t seed, veil_feature_table *train, veil_feature_table *test)
{
    const veil_feature_table *src[2] = {a, b};
    int k = a->n_classes > b->n_classes ? a->n_classes : b->n_classes;
    size_t n = a->n + b->n;
    /* per class: its distinct utterances, ascending, then shuffled */
    int **utts = veil_calloc((size_t)(k > 0 ? k : 1), sizeof *utts);
    int *nu = veil_calloc((size_t)(k > 0 ? k : 1), sizeof *nu);
    char *single = veil_calloc((size_t)(k > 0 ? k : 1), 1);
    for (int c = 0; c < k; c++) utts[c] = veil_malloc((n ? n : 1) * sizeof(int));
    for (int t = 0; t < 2; t++)
        for (size_t i = 0; i < src[t]->n; i++) {
            int c = src[t]->label[i];
            utts[c][nu[c]++] = src[t]->utterance[i];
        }
    veil_rng rng;
    veil_rng_seed(&rng, veil_seed_mix(seed, 0x7574747370, 0));
    /* utterance ids to train: a sorted list for lookup */
    int *to_train = veil_malloc((n ? n : 1) * sizeof(int));
    size_t n_to_train = 0;
    for (int c = 0; c < k; c++) {
        qsort(utts[c], (size_t)nu[c], sizeof(int), by_int);
        int m = 0;
        for (int i = 0; i < nu[c]; i++)
            if (i == 0 || utts[c][i] != utts[c][i - 1]) utts[c][m++] = utts[c][i];
        for (int i = m - 1; i > 0; i--) { /* Fisher-Yates */
            int j = (int)veil_rng_below(&rng, (uint64_t)i + 1);
            int x = utts[c][i];
            utts[c][i] = utts[c][j];
            utts[c][j] = x;
        }
        single[c] = m < 2;
        long kt = lround(fraction * m);
        if (kt < 1) kt = 1;
        if (kt > m - 1) kt = m - 1;
        for (long i = 0; m >= 2 && i < kt; i++) to_train[n_to_train++] = utts[c][i];
    }
    qsort(to_train, n_to_train, sizeof(int), by_int);
    size_t ntr = 0;
    char *side = veil_malloc(n ? n : 1);
    for (int t = 0, r = 0; t < 2; t++)
        for (size_t i = 0; i < src[t]->n; i++, r++) {
            int u = src[t]->utterance[i];
            /* a class with one utterance has none to hold out: its rows keep the split they
             * came with (a to train, b to test) */
            if (single[src[t]->label[i]]) side[r] = t == 0;
            else side[r] = bsearch(&u, to_train, n_to_train, sizeof(int), by_int) != NULL;
            ntr += (size_t)side[r];
        }
    veil_feature_table_alloc(train, ntr, a->dim, k);
    veil_feature_table_alloc(test, n - ntr, a->dim, k);
    size_t jt = 0, je = 0;
    for (int t = 0, r = 0; t < 2; t++)
        for (size_t i = 0; i < src[t]->n; i++, r++) {
            if (side[r]) copy_row(src[t], i, train, jt++);
            else copy_row(src[t], i, test, je++);
        }
    free(side);
    free(to_train);
    for (int c = 0; c < k; c++) free(utts[c]);
    free(utts);
    free(nu);
    free(single);
}

int probe_fit_standardised(const veil_probe_input *in, const char *probe, const char *what, uint64_t seed,
                           probe_fit_fn fit, veil_probe_result *out)
{
    const veil_feature_table *tr = veil_probe_utt_train(in), *te = veil_probe_utt_test(in);
    double t0 = veil_now();
    veil_probe_result_clear(out);
    float *x = veil_probe_standardised(tr, tr), *xt = veil_probe_standardised(tr, te);
    float *logp = veil_malloc((te->n ? te->n : 1) * (size_t)tr->n_classes * sizeof *logp);
    double chosen = 0;
    int rc = fit(x, tr->label, tr->n, tr->dim, tr->n_classes, xt, te->n, seed, logp, &chosen);
    if (rc == 0) {
        veil_probe_identification(te, logp, out);
        if (veil_verbosity >= 2) veil_log("%s: %s %g", in->name ? in->name : probe, what, chosen);
    } else if (in->name) {
        veil_error_prefix("%s", in->name);
    }
    out->seconds = veil_now() - t0;
    free(x);
    free(xt);
    free(logp);
    return rc;
}
