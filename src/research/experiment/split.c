/* The paper's data protocol (Table 1): St gender-training speakers (half F, half M),
 * each split 70/30 into gender-training/evaluation; every other speaker is
 * gender-testing, and the same others form attacker groups of St speakers, each
 * speaker split 70/30 into attacker-training/evaluation. docs/protocol.md. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "veil/common.h"
#include "veil/job.h"

void veil_protocol_config_paper(veil_protocol_config *p)
{
    p->train_speakers = 20;
    snprintf(p->task, sizeof p->task, "gender");
    p->train_fraction = 0.7;
    p->attack_fraction = 0.7;
    p->attack_groups = 0;
    p->validation_group = 0;
}

/* Patches of one speaker on the training side of a fraction split: rounded to the
 * nearest, then kept inside 1..n-1 so both sides are non-empty (n >= 2 checked). */
static size_t train_count(size_t n, double fraction)
{
    size_t k = (size_t)llround(fraction * (double)n);
    if (k < 1) k = 1;
    if (k > n - 1) k = n - 1;
    return k;
}

/* Shuffle the patches of speaker s and append them: the first k (rounded fraction) to
 * a, the rest to b, with the given label. A NULL b takes everything into a. */
static void split_speaker(const veil_patch_set *p, int s, double fraction, int label,
                          veil_rng *rng, size_t *a, int *alab, size_t *na, size_t *b,
                          int *blab, size_t *nb)
{
    size_t base = p->speaker_offset[s], n = veil_speaker_patches(p, s);
    int *order = veil_malloc(n * sizeof *order);
    for (size_t i = 0; i < n; i++) order[i] = (int)i;
    size_t k = n;
    if (b) {
        veil_rng_shuffle_int(rng, order, n);
        k = train_count(n, fraction);
    }
    for (size_t i = 0; i < n; i++) {
        if (i < k) {
            a[*na] = base + (size_t)order[i];
            alab[(*na)++] = label;
        } else {
            b[*nb] = base + (size_t)order[i];
            blab[(*nb)++] = label;
        }
    }
    free(order);
}

/* Shuffle the candidate speakers, take groups runs of st, split each speaker. */
static void make_groups(const veil_patch_set *p, int *cand, int n_cand,
                        int st, int groups, double fraction, veil_rng *pick, veil_rng *divide,
                        veil_split *out)
{
    veil_rng_shuffle_int(pick, cand, (size_t)n_cand);
    out->n_groups = groups;
    out->group_speakers = veil_malloc((size_t)groups * st * sizeof(int));
    out->n_atrain = veil_calloc((size_t)groups, sizeof(size_t));
    out->n_aeval = veil_calloc((size_t)groups, sizeof(size_t));
    out->atrain = veil_calloc((size_t)groups, sizeof(size_t *));
    out->aeval = veil_calloc((size_t)groups, sizeof(size_t *));
    out->atrain_label = veil_calloc((size_t)groups, sizeof(int *));
    out->aeval_label = veil_calloc((size_t)groups, sizeof(int *));
    for (int g = 0; g < groups; g++) {
        size_t total = 0;
        for (int k = 0; k < st; k++) {
            int s = cand[g * st + k];
            out->group_speakers[g * st + k] = s;
            total += veil_speaker_patches(p, s);
        }
        out->atrain[g] = veil_malloc(total * sizeof(size_t));
        out->aeval[g] = veil_malloc(total * sizeof(size_t));
        out->atrain_label[g] = veil_malloc(total * sizeof(int));
        out->aeval_label[g] = veil_malloc(total * sizeof(int));
        for (int k = 0; k < st; k++)
            split_speaker(p, out->group_speakers[g * st + k], fraction, k, divide, out->atrain[g],
                          out->atrain_label[g], &out->n_atrain[g], out->aeval[g],
                          out->aeval_label[g], &out->n_aeval[g]);
    }
}

/* Gender and id of every speaker, so that tables and results need no corpus. */
static void record_speakers(const veil_corpus *c, veil_split *out)
{
    out->n_speakers = c->n_speakers;
    out->speaker_gender = veil_malloc((size_t)(c->n_speakers ? c->n_speakers : 1) * sizeof(int));
    out->speaker_id = veil_calloc((size_t)(c->n_speakers ? c->n_speakers : 1), sizeof(char *));
    for (int s = 0; s < c->n_speakers; s++) {
        out->speaker_gender[s] = c->speakers[s].gender == 'M';
        out->speaker_id[s] = veil_strdup(c->speakers[s].id);
    }
}

/* The task's classes into the split (it owns them from here). */
static void record_task(veil_split *out, veil_task_classes *t)
{
    snprintf(out->task, sizeof out->task, "%s", t->name);
    out->n_classes = t->k;
    out->class_names = t->names;
    out->speaker_class = t->class_of;
    t->names = NULL;
    t->class_of = NULL;
    t->k = 0;
    veil_task_classes_free(t);
}

int veil_task_quota(int st, int k, const int *avail, const char *const *names, const char *task, int *quota)
{
    long total = 0;
    for (int j = 0; j < k; j++) total += avail[j];
    if (st < k) {
        veil_error("protocol: --task %s has %d classes but St = %d training speakers; every class needs "
                   "at least one (use --st %d or more)", task, k, st, k);
        return -1;
    }
    if (total < st) {
        veil_error("protocol: St = %d training speakers, but the corpus has %ld", st, total);
        return -1;
    }
    /* every class needs a speaker to train on and one to test on */
    for (int j = 0; j < k; j++)
        if (avail[j] < 2) {
            veil_strbuf b = {0};
            for (int i = 0; i < k; i++) veil_strbuf_printf(&b, "%s%s %d", i ? ", " : "", names[i], avail[i]);
            veil_error("protocol: --task %s: class %s has %d speaker%s; every class needs at least 2 (one to "
                       "train on, one to test on). Speakers per class: %s", task, names[j], avail[j],
                       avail[j] == 1 ? "" : "s", b.s);
            free(b.s);
            return -1;
        }
    int placed = 0;
    for (int j = 0; j < k; j++) {
        quota[j] = st / k < avail[j] ? st / k : avail[j];
        placed += quota[j];
    }
    /* the rest one by one: the class with the fewest so far, then the most speakers, then
     * the lower class; deterministic and as even as the corpus allows */
    while (placed < st) {
        int best = -1;
        for (int j = 0; j < k; j++) {
            if (quota[j] >= avail[j]) continue;
            if (best < 0 || quota[j] < quota[best] || (quota[j] == quota[best] && avail[j] > avail[best]))
                best = j;
        }
        quota[best]++;
        placed++;
    }
    return 0;
}

double veil_split_label_chance(const veil_split *s, const int *group, int st)
{
    if (!s->speaker_class || st < 1) return NAN;
    int present = 0;
    for (int i = 0; i < st; i++) {
        int seen = 0;
        for (int j = 0; j < i && !seen; j++) seen = s->speaker_class[group[j]] == s->speaker_class[group[i]];
        present += !seen;
    }
    return (double)present / (double)st;
}

double veil_split_mean_label_chance(const veil_split *s)
{
    if (!s->n_groups || !s->speaker_class) return NAN;
    double sum = 0;
    for (int g = 0; g < s->n_groups; g++)
        sum += veil_split_label_chance(s, s->group_speakers + (size_t)g * (size_t)s->st, s->st);
    return sum / s->n_groups;
}

double veil_label_chance_rows(const int *class_of, const int *group, int st, const int *row_speaker, size_t n)
{
    double sum = 0;
    for (size_t i = 0; i < n; i++) {
        int x = class_of[group[row_speaker[i]]], same = 0;
        for (int k = 0; k < st; k++) same += class_of[group[k]] == x;
        sum += 1.0 / same;
    }
    return n ? sum / (double)n : NAN;
}

int veil_split_set_task(veil_split *s, const veil_corpus *c, const char *task)
{
    veil_task_classes t;
    if (veil_corpus_task(c, task && task[0] ? task : "gender", &t)) return -1;
    for (int i = 0; i < s->n_classes; i++) free(s->class_names[i]);
    free(s->class_names);
    free(s->speaker_class);
    record_task(s, &t);
    return 0;
}

static int check_speakers(const veil_corpus *c, const veil_patch_set *p)
{
    if (p->n_speakers != c->n_speakers) {
        veil_error("protocol: the patch set has %d speakers but the corpus %s has %d",
                   p->n_speakers, c->root ? c->root : "", c->n_speakers);
        return -1;
    }
    for (int s = 0; s < c->n_speakers; s++) {
        char g = c->speakers[s].gender;
        if (g != 'F' && g != 'M') {
            veil_error("protocol: speaker %s has no gender (F or M)", c->speakers[s].id);
            return -1;
        }
        size_t n = veil_speaker_patches(p, s);
        if (n < 2) {
            veil_error("protocol: speaker %s has %zu patch%s; every speaker needs at least 2 "
                       "for the 70/30 splits (remove the speaker or add audio)",
                       c->speakers[s].id, n, n == 1 ? "" : "es");
            return -1;
        }
    }
    return 0;
}

static int check_inputs(const veil_corpus *c, const veil_patch_set *p, const veil_protocol_config *pc)
{
    int st = pc->train_speakers;
    if (st < 2) {
        veil_error("protocol: St (training speakers) must be at least 2, got %d", st);
        return -1;
    }
    if (!(pc->train_fraction > 0 && pc->train_fraction < 1) ||
        !(pc->attack_fraction > 0 && pc->attack_fraction < 1)) {
        veil_error("protocol: the training fractions must lie strictly between 0 and 1 "
                   "(gender %.3g, attacker %.3g)", pc->train_fraction, pc->attack_fraction);
        return -1;
    }
    if (pc->attack_groups < 0) {
        veil_error("protocol: attack_groups must be 0 (as many as fit) or positive, got %d",
                   pc->attack_groups);
        return -1;
    }
    if (check_speakers(c, p) != 0) return -1;
    int others = c->n_speakers - st;
    if (others < st) {
        veil_error("protocol: one attacker group needs St = %d speakers besides the %d training "
                   "speakers, but only %d remain (corpus of %d speakers)",
                   st, st, others, c->n_speakers);
        return -1;
    }
    int need = pc->attack_groups + (pc->validation_group ? 1 : 0);
    if (pc->attack_groups > 0 && (long)need * st > others) {
        veil_error("protocol: %d attacker groups%s of %d speakers need %ld speakers besides the "
                   "training speakers, but only %d remain", pc->attack_groups,
                   pc->validation_group ? " and the attacker-validation group" : "", st,
                   (long)need * st, others);
        return -1;
    }
    if (pc->validation_group && others < 2 * st) {
        veil_error("protocol: an attacker group and the attacker-validation group need %d speakers "
                   "besides the %d training speakers, but only %d remain", 2 * st, st, others);
        return -1;
    }
    return 0;
}

int veil_split_make(const veil_corpus *c, const veil_patch_set *p, const veil_protocol_config *pc,
                    uint64_t seed, veil_split *out)
{
    memset(out, 0, sizeof *out);
    if (check_inputs(c, p, pc) != 0) return -1;
    int st = pc->train_speakers, ns = c->n_speakers;
    /* independent streams: which speakers, then how their patches are divided */
    veil_rng pick, divide;
    veil_rng_seed(&pick, veil_seed_mix(seed, 0x5e1ec7, 1));
    veil_rng_seed(&divide, veil_seed_mix(seed, 0x5e1ec7, 2));

    /* the training speakers: each class's speakers shuffled (in class order: for gender F
     * then M, the draws of the paper's St/2 F + St/2 M), the first quota[class] of each */
    veil_task_classes task;
    if (veil_corpus_task(c, pc->task[0] ? pc->task : "gender", &task)) return -1;
    int k = task.k, *quota = veil_malloc((size_t)k * sizeof *quota);
    if (veil_task_quota(st, k, task.speakers, (const char *const *)task.names, task.name, quota)) {
        free(quota);
        veil_task_classes_free(&task);
        return -1;
    }
    /* a class with fewer speakers than its share: the others make up St (said, not refused) */
    for (int j = 0; j < k; j++)
        if (quota[j] < st / k) {
            veil_strbuf b = {0};
            for (int i = 0; i < k; i++)
                veil_strbuf_printf(&b, "%s%s %d of %d", i ? ", " : "", task.names[i], quota[i], task.speakers[i]);
            veil_log("warning: --task %s: the corpus does not allow St = %d balanced (%d per class); training "
                     "speakers per class: %s", task.name, st, st / k, b.s);
            free(b.s);
            break;
        }
    int *members = veil_malloc((size_t)ns * sizeof *members);
    char *is_train = veil_calloc((size_t)ns, 1);
    for (int j = 0; j < k; j++) {
        int n = 0;
        for (int s = 0; s < ns; s++)
            if (task.class_of[s] == j) members[n++] = s;
        veil_rng_shuffle_int(&pick, members, (size_t)n);
        for (int i = 0; i < quota[j]; i++) is_train[members[i]] = 1;
    }
    free(members);
    out->train_per_class = quota;
    record_task(out, &task);

    /* training speakers in corpus order: the split reads the same for a given draw */
    out->st = st;
    out->n_train_speakers = st;
    out->train_speakers = veil_malloc((size_t)st * sizeof(int));
    int *others = veil_malloc((size_t)(ns - st) * sizeof *others), no = 0, nt = 0;
    size_t train_patches = 0;
    for (int s = 0; s < ns; s++) {
        if (is_train[s]) {
            out->train_speakers[nt++] = s;
            train_patches += veil_speaker_patches(p, s);
        } else {
            others[no++] = s;
        }
    }
    free(is_train);

    out->gtrain = veil_malloc(train_patches * sizeof(size_t));
    out->geval = veil_malloc(train_patches * sizeof(size_t));
    out->gtrain_label = veil_malloc(train_patches * sizeof(int));
    out->geval_label = veil_malloc(train_patches * sizeof(int));
    for (int i = 0; i < st; i++) {
        int s = out->train_speakers[i];
        split_speaker(p, s, pc->train_fraction, out->speaker_class[s], &divide, out->gtrain,
                      out->gtrain_label, &out->n_gtrain, out->geval, out->geval_label,
                      &out->n_geval);
    }
    size_t test_patches = p->n_patches - train_patches;
    out->gtest = veil_malloc((test_patches ? test_patches : 1) * sizeof(size_t));
    out->gtest_label = veil_malloc((test_patches ? test_patches : 1) * sizeof(int));
    for (int i = 0; i < no; i++)
        split_speaker(p, others[i], 1.0, out->speaker_class[others[i]], &divide, out->gtest,
                      out->gtest_label, &out->n_gtest, NULL, NULL, NULL);

    /* attacker groups: the others shuffled, then consecutive runs of St, regardless of
     * gender (as the paper); speakers that do not fill a whole group stay out. With a
     * validation group, it is the run right after the test groups (so the test groups are
     * those of a split without it, unless every run was a test group: then one fewer) */
    int groups = pc->attack_groups > 0 ? pc->attack_groups : no / st - (pc->validation_group ? 1 : 0);
    make_groups(p, others, no, st, groups + (pc->validation_group ? 1 : 0), pc->attack_fraction, &pick,
                &divide, out);
    if (pc->validation_group) {
        out->n_groups = groups;
        out->has_validation = 1;
    }
    free(others);
    record_speakers(c, out);
    return 0;
}

void veil_split_free(veil_split *s)
{
    if (!s) return;
    free(s->train_speakers);
    free(s->gtrain), free(s->geval), free(s->gtest);
    free(s->gtrain_label), free(s->geval_label), free(s->gtest_label);
    for (int g = 0; g < s->n_groups + s->has_validation; g++) {
        if (s->atrain) free(s->atrain[g]);
        if (s->aeval) free(s->aeval[g]);
        if (s->atrain_label) free(s->atrain_label[g]);
        if (s->aeval_label) free(s->aeval_label[g]);
    }
    free(s->group_speakers), free(s->n_atrain), free(s->n_aeval);
    free(s->atrain), free(s->aeval), free(s->atrain_label), free(s->aeval_label);
    for (int i = 0; i < s->n_speakers && s->speaker_id; i++) free(s->speaker_id[i]);
    free(s->speaker_id);
    free(s->speaker_gender);
    for (int i = 0; i < s->n_classes && s->class_names; i++) free(s->class_names[i]);
    free(s->class_names);
    free(s->speaker_class);
    free(s->train_per_class);
    memset(s, 0, sizeof *s);
}

int veil_split_make_attack(const veil_corpus *c, const veil_patch_set *p, int st, int n_groups,
                           double fraction, uint64_t seed, veil_split *out)
{
    memset(out, 0, sizeof *out);
    if (st < 2) {
        veil_error("attack: groups need at least 2 speakers, got St = %d", st);
        return -1;
    }
    if (!(fraction > 0 && fraction < 1)) {
        veil_error("attack: the training fraction must lie strictly between 0 and 1, got %.3g",
                   fraction);
        return -1;
    }
    if (check_speakers(c, p) != 0) return -1;
    int ns = c->n_speakers, groups = n_groups > 0 ? n_groups : ns / st;
    if (groups < 1 || (long)groups * st > ns) {
        /* the caller names the file or corpus; the hint names the options of every command
         * that draws these groups (veil attack, veil audit) */
        veil_error("%d group%s of St = %d speakers need%s %ld speakers, and there %s %d: use a smaller --st "
                   "(at most %d)%s",
                   groups < 1 ? 1 : groups, groups > 1 ? "s" : "", st, groups > 1 ? "" : "s",
                   (long)(groups < 1 ? 1 : groups) * st, ns == 1 ? "is" : "are", ns,
                   n_groups > 1 ? ns / n_groups : ns, n_groups > 1 ? " or fewer --groups" : "");
        return -1;
    }
    veil_rng pick, divide;
    veil_rng_seed(&pick, veil_seed_mix(seed, 0xa77ac4, 1));
    veil_rng_seed(&divide, veil_seed_mix(seed, 0xa77ac4, 2));
    int *cand = veil_malloc((size_t)ns * sizeof *cand);
    for (int s = 0; s < ns; s++) cand[s] = s;
    out->st = st;
    make_groups(p, cand, ns, st, groups, fraction, &pick, &divide, out);
    free(cand);
    record_speakers(c, out);
    return veil_split_set_task(out, c, "gender");
}
