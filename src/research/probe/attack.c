/* The attackers (threat model): for each group of St speakers, one feature table of its
 * attacker-training patches and one of its attacker-evaluation patches, extracted once by
 * the frozen extractor; then every probe of the battery scores them (src/research/probe/). The
 * gender recognizer, when given, is scored on the same tables' rows (and on the
 * gender-testing patches outside every group), so no patch is extracted twice. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "veil/common.h"
#include "veil/job.h"

/* Speaker of patch i: the last s with speaker_offset[s] <= i. */
static int patch_speaker(const veil_patch_set *p, size_t i)
{
    int lo = 0, hi = p->n_speakers - 1;
    while (lo < hi) {
        int mid = (lo + hi + 1) / 2;
        if (p->speaker_offset[mid] <= i) lo = mid;
        else hi = mid - 1;
    }
    return lo;
}

/* A table of n rows of patches idx with their labels, speakers, genders and utterances
 * (features not yet written). */
static void table_rows(veil_extractor *f, const veil_patch_set *p, const veil_split *s, const size_t *idx,
                       const int *label, size_t n, int n_classes, veil_feature_table *out)
{
    veil_feature_table_alloc(out, n, veil_extractor_dim(f), n_classes);
    for (size_t i = 0; i < n; i++) {
        int spk = patch_speaker(p, idx[i]);
        out->label[i] = label ? label[i] : 0;
        out->speaker[i] = spk;
        out->gender[i] = s->speaker_gender && spk < s->n_speakers ? s->speaker_gender[spk] : -1;
        /* a corpus file is one utterance; a set without utterances: each patch its own */
        out->utterance[i] = p->patch_utt ? p->patch_utt[idx[i]] : (int)idx[i];
        out->file[i] = out->utterance[i];
    }
}

int veil_feature_table_extract(veil_extractor *f, const veil_patch_set *p, const veil_split *s,
                               const size_t *idx, const int *label, size_t n, int n_classes,
                               int batch, veil_feature_table *out)
{
    table_rows(f, p, s, idx, label, n, n_classes, out);
    if (veil_extract_features(f, p, idx, n, batch, out->z)) {
        veil_feature_table_free(out);
        return -1;
    }
    return 0;
}

void veil_attack_result_free(veil_attack_result *r)
{
    if (!r) return;
    free(r->probes);
    free(r->r);
    free(r->gender_pred);
    free(r->gender_truth);
    for (int i = 0; i < r->n_pool; i++) veil_feature_table_free(&r->pool[i]);
    free(r->pool);
    memset(r, 0, sizeof *r);
}

/* The gender recognizer on the rows of z whose patch is a gender-testing patch. */
static int gender_tally(const veil_attack_config *ac, const int *gtest, const float *z,
                        const size_t *idx, size_t n, int dim, veil_attack_result *out)
{
    size_t m = 0;
    for (size_t i = 0; i < n; i++) m += gtest[idx[i]] >= 0;
    if (!m) return 0;
    float *zz = veil_aligned_alloc(m * (size_t)dim * sizeof(float));
    int *lab = veil_malloc(m * sizeof(int));
    for (size_t i = 0, k = 0; i < n; i++)
        if (gtest[idx[i]] >= 0) {
            memcpy(zz + k * (size_t)dim, z + i * (size_t)dim, (size_t)dim * sizeof(float));
            lab[k++] = gtest[idx[i]];
        }
    int batch = ac->gender_batch;
    int cls = out->gender_classes;
    float *logits = veil_malloc((size_t)batch * (size_t)cls * sizeof(float));
    int rc = 0;
    for (size_t i = 0; i < m && rc == 0; i += (size_t)batch) {
        size_t k = m - i < (size_t)batch ? m - i : (size_t)batch;
        rc = veil_head_forward(ac->gender, zz + i * (size_t)dim, (int)k, 0, logits);
        for (size_t j = 0; j < k && rc == 0; j++) {
            /* the first of the highest logits (for gender: male only when strictly higher) */
            const float *lj = logits + j * (size_t)cls;
            int pred = 0;
            for (int c = 1; c < cls; c++)
                if (lj[c] > lj[pred]) pred = c;
            out->gender_correct += pred == lab[i + j];
            out->gender_pred[pred]++;
            out->gender_truth[lab[i + j]]++;
            out->gender_total++;
        }
    }
    free(logits);
    free(lab);
    free(zz);
    return rc;
}

typedef struct group_tables {
    int have;
    veil_feature_table train, test;
} group_tables;

static void group_free(group_tables *t)
{
    veil_feature_table_free(&t->train);
    veil_feature_table_free(&t->test);
    t->have = 0;
}

static int group_extract(veil_extractor *f, const veil_patch_set *p, const veil_split *s,
                         const veil_train_config *tc, const veil_attack_config *ac,
                         const int *gtest, int g, group_tables *t, veil_attack_result *out)
{
    if (t->have) return 0;
    double t0 = veil_now();
    if (veil_feature_table_extract(f, p, s, s->atrain[g], s->atrain_label[g], s->n_atrain[g], s->st,
                                   tc->extract_batch, &t->train))
        return -1;
    if (veil_feature_table_extract(f, p, s, s->aeval[g], s->aeval_label[g], s->n_aeval[g], s->st,
                                   tc->extract_batch, &t->test)) {
        veil_feature_table_free(&t->train);
        return -1;
    }
    t->have = 1;
    double t1 = veil_now();
    out->extract_seconds += t1 - t0;
    int rc = ac->gender && (gender_tally(ac, gtest, t->train.z, s->atrain[g], t->train.n, t->train.dim, out) ||
                       gender_tally(ac, gtest, t->test.z, s->aeval[g], t->test.n, t->test.dim, out));
    out->gender_seconds += veil_now() - t1;
    if (rc) {
        group_free(t);
        return -1;
    }
    return 0;
}

static uint64_t name_hash(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
    return h;
}

/* Gender-testing patches outside every group, extracted in chunks for the gender test
 * (with a gender head) and kept as the table keep (when not NULL: the pool's). */
static int rest_extract(veil_extractor *f, const veil_patch_set *p, const veil_split *s,
                        const veil_train_config *tc, const veil_attack_config *ac,
                        const int *gtest, veil_feature_table *keep, veil_attack_result *out)
{
    char *in_group = veil_calloc(p->n_patches ? p->n_patches : 1, 1);
    for (int g = 0; g < s->n_groups; g++) {
        for (size_t i = 0; i < s->n_atrain[g]; i++) in_group[s->atrain[g][i]] = 1;
        for (size_t i = 0; i < s->n_aeval[g]; i++) in_group[s->aeval[g][i]] = 1;
    }
    size_t dim = (size_t)veil_extractor_dim(f), chunk = 4096, n = 0;
    size_t *rest = veil_malloc((s->n_gtest ? s->n_gtest : 1) * sizeof(size_t));
    for (size_t i = 0; i < s->n_gtest; i++)
        if (!in_group[s->gtest[i]]) {
            in_group[s->gtest[i]] = 1; /* a patch listed twice counts once */
            rest[n++] = s->gtest[i];
        }
    free(in_group);
    if (keep) table_rows(f, p, s, rest, NULL, n, 0, keep);
    float *z = keep ? NULL : veil_aligned_alloc(chunk * dim * sizeof(float));
    int rc = 0;
    for (size_t i = 0; i < n && rc == 0; i += chunk) {
        size_t k = n - i < chunk ? n - i : chunk;
        float *zi = keep ? keep->z + i * dim : z;
        double t0 = veil_now();
        rc = veil_extract_features(f, p, rest + i, k, tc->extract_batch, zi);
        double t1 = veil_now();
        out->extract_seconds += t1 - t0;
        if (rc == 0 && ac->gender) rc = gender_tally(ac, gtest, zi, rest + i, k, (int)dim, out);
        out->gender_seconds += veil_now() - t1;
    }
    free(z);
    free(rest);
    if (rc && keep) veil_feature_table_free(keep);
    return rc;
}

/* One probe on group g's tables (utr/ute: the utterance split), its time into r. */
static int score_group(const veil_probe *pr, const group_tables *t, const veil_feature_table *others,
                       const veil_feature_table *utr, const veil_feature_table *ute,
                       const veil_feature_table *const *pool, int n_pool, const veil_extractor *f,
                       const veil_train_config *tc, uint64_t seed, const char *name, int g, int ng,
                       int eval_batch, veil_probe_result *r)
{
    char label[256];
    snprintf(label, sizeof label, "%s: attacker group %d/%d: %s", name, g + 1, ng, pr->name);
    veil_probe_input in = {&t->train, &t->test, others,
                           veil_seed_mix(veil_seed_mix(seed, name_hash(pr->name), 0x70726f6265), (uint64_t)g, 0),
                           veil_extractor_precision(f), tc->attack_epochs, tc->attack_batch,
                           tc->head_hidden, tc->lr, tc->dropout, label, seed, g, eval_batch, utr, ute,
                           pool, n_pool};
    double t0 = veil_now();
    int rc = pr->score(&in, r);
    r->seconds = veil_now() - t0;
    /* a probe that cannot score here (no same-gender trials in a group, say) reports NaN;
     * the others' results are kept */
    if (rc == 0 && isnan(r->acc) && isnan(r->eer) && veil_verbosity >= 1)
        veil_log("%s: warning: the probe gave neither an accuracy nor an EER here (null in the results)", label);
    return rc;
}

int veil_attack_run(veil_extractor *f, const veil_patch_set *p, const veil_split *s,
                    const veil_train_config *tc, uint64_t seed, const char *name,
                    const veil_attack_config *ac, veil_attack_result *out)
{
    memset(out, 0, sizeof *out);
    const veil_probe *paper = veil_probe_find("paper-mlp");
    const veil_probe *const *list = ac->n_probes ? ac->probes : &paper;
    int np = ac->n_probes ? ac->n_probes : 1, ng = s->n_groups;
    out->n_probes = np;
    out->n_groups = ng;
    out->probes = veil_malloc((size_t)np * sizeof *out->probes);
    memcpy(out->probes, list, (size_t)np * sizeof *out->probes);
    out->r = veil_malloc((size_t)(np * ng > 0 ? np * ng : 1) * sizeof *out->r);
    for (int i = 0; i < np * ng; i++) veil_probe_result_clear(&out->r[i]);

    /* others (docs/protocol.md): the next group's attacker-training table, so group g's
     * tables are extracted before group g-1 is scored and group 0's are kept to the end */
    int need_others = 0, need_pool = 0;
    for (int i = 0; i < np; i++) need_others |= list[i]->needs_others, need_pool |= list[i]->needs_pool;
    need_others = need_others && ng >= 2;
    /* the pool's probes run last, on every group's tables (kept) and the rest's */
    int own_pool = need_pool && !ac->pool;
    int *gtest = NULL;
    if (ac->gender) {
        gtest = veil_malloc((p->n_patches ? p->n_patches : 1) * sizeof *gtest);
        for (size_t i = 0; i < p->n_patches; i++) gtest[i] = -1;
        for (size_t i = 0; i < s->n_gtest; i++) gtest[s->gtest[i]] = s->gtest_label[i];
        out->gender_classes = veil_head_config_of(ac->gender)->classes;
        out->gender_pred = veil_calloc((size_t)out->gender_classes, sizeof(size_t));
        out->gender_truth = veil_calloc((size_t)out->gender_classes, sizeof(size_t));
    }
    group_tables *t = veil_calloc((size_t)(ng ? ng : 1), sizeof *t);
    veil_feature_table rest;
    memset(&rest, 0, sizeof rest);
    int eval_batch = tc->attack_batch > tc->extract_batch ? tc->attack_batch : tc->extract_batch;
    int rc = 0, g = 0;
    double utt_fraction = ac->utt_fraction > 0 ? ac->utt_fraction : 0.7;
    for (g = 0; g < ng && rc == 0; g++) {
        rc = group_extract(f, p, s, tc, ac, gtest, g, &t[g], out);
        int o = (g + 1) % (ng ? ng : 1);
        if (rc == 0 && need_others) rc = group_extract(f, p, s, tc, ac, gtest, o, &t[o], out);
        /* the same rows split by whole utterances, for every number per utterance */
        veil_feature_table utr, ute;
        memset(&utr, 0, sizeof utr);
        memset(&ute, 0, sizeof ute);
        if (rc == 0)
            veil_probe_utterance_split(&t[g].train, &t[g].test, utt_fraction,
                                       veil_seed_mix(seed, 0x7574747370, (uint64_t)g), &utr, &ute);
        for (int k = 0; k < np && rc == 0; k++)
            if (!list[k]->needs_pool)
                rc = score_group(list[k], &t[g], need_others ? &t[o].train : NULL, &utr, &ute, NULL, 0, f, tc, seed,
                                 name, g, ng, eval_batch, &out->r[k * ng + g]);
        veil_feature_table_free(&utr);
        veil_feature_table_free(&ute);
        if (!(need_others && g == 0) && !need_pool) group_free(&t[g]);
    }
    if (rc) veil_error_prefix("%s: attacker group %d", name, g);
    if (rc == 0 && (ac->gender || own_pool)) rc = rest_extract(f, p, s, tc, ac, gtest, own_pool ? &rest : NULL, out);
    /* the pool: the caller's, or every table this run extracted (a probe skips the rows of
     * the group it scores) */
    const veil_feature_table **pool = NULL;
    int n_pool = 0;
    if (rc == 0 && need_pool) {
        pool = veil_malloc((size_t)(ac->pool ? ac->n_pool + 1 : 2 * ng + 1) * sizeof *pool);
        if (ac->pool) {
            for (int i = 0; i < ac->n_pool; i++) pool[n_pool++] = ac->pool[i];
        } else {
            pool[n_pool++] = &rest;
            for (int i = 0; i < ng; i++) pool[n_pool++] = &t[i].train, pool[n_pool++] = &t[i].test;
        }
    }
    for (g = 0; g < ng && rc == 0 && need_pool; g++) {
        veil_feature_table utr, ute;
        veil_probe_utterance_split(&t[g].train, &t[g].test, utt_fraction,
                                   veil_seed_mix(seed, 0x7574747370, (uint64_t)g), &utr, &ute);
        for (int k = 0; k < np && rc == 0; k++)
            if (list[k]->needs_pool)
                rc = score_group(list[k], &t[g], NULL, &utr, &ute, pool, n_pool, f, tc, seed, name, g, ng,
                                 eval_batch, &out->r[k * ng + g]);
        veil_feature_table_free(&utr);
        veil_feature_table_free(&ute);
        if (rc) veil_error_prefix("%s: attacker group %d", name, g + 1);
    }
    free(pool);
    if (rc == 0 && own_pool && ac->keep_pool) { /* the caller's now (veil_attack_result_free) */
        out->pool = veil_malloc((size_t)(2 * ng + 1) * sizeof *out->pool);
        out->pool[out->n_pool++] = rest;
        memset(&rest, 0, sizeof rest);
        for (int i = 0; i < ng; i++) {
            out->pool[out->n_pool++] = t[i].train;
            out->pool[out->n_pool++] = t[i].test;
            memset(&t[i], 0, sizeof t[i]);
        }
    }
    veil_feature_table_free(&rest);
    for (int i = 0; i < ng; i++) group_free(&t[i]);
    free(t);
    free(gtest);
    if (rc) veil_attack_result_free(out);
    return rc;
}
