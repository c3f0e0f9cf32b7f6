/* veil audit: the attacker battery on any feature set (include/veil/audit.h). The rows
 * of what is audited are laid out like a patch set (grouped by speaker), so the attacker
 * groups and 70/30 splits come from src/research/experiment/split.c exactly as for `veil attack`. */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>

#include "research/corpus/corpus_internal.h"
#include "core/base/json.h"
#include "veil/audit.h"
#include "veil/common.h"
#include "veil/job.h"
#include "veil/npy.h"

/* paper-mlp trains on the raw features, as the paper's attacker; its gradients scale with
 * them, and Adam squares them: beyond about 1e19 the squares overflow float32 (3.4e38) and
 * the loss turns NaN, whatever the precision. Refused before any attacker runs, with this
 * cause (other attackers standardise, but the battery is one). */
#define VEIL_AUDIT_MAX_FEATURE 1e18

/* ---- a string -> index map (open addressing, FNV-1a) ---- */
typedef struct strmap {
    char **key;
    int *val;
    size_t cap, n;
} strmap;

static uint64_t fnv(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h;
}

static void strmap_grow(strmap *m);
/* Index of key; when absent, inserted with value *next (then ++*next); *added set. */
static int strmap_get(strmap *m, const char *key, int *next, int *added)
{
    if (2 * (m->n + 1) > m->cap) strmap_grow(m);
    size_t i = fnv(key) & (m->cap - 1);
    while (m->key[i]) {
        if (!strcmp(m->key[i], key)) {
            if (added) *added = 0;
            return m->val[i];
        }
        i = (i + 1) & (m->cap - 1);
    }
    m->key[i] = veil_strdup(key);
    m->val[i] = (*next)++;
    m->n++;
    if (added) *added = 1;
    return m->val[i];
}

static void strmap_grow(strmap *m)
{
    strmap o = *m;
    m->cap = o.cap ? 2 * o.cap : 64;
    m->key = veil_calloc(m->cap, sizeof *m->key);
    m->val = veil_calloc(m->cap, sizeof *m->val);
    m->n = 0;
    for (size_t i = 0; i < o.cap; i++)
        if (o.key[i]) {
            size_t j = fnv(o.key[i]) & (m->cap - 1);
            while (m->key[j]) j = (j + 1) & (m->cap - 1);
            m->key[j] = o.key[i];
            m->val[j] = o.val[i];
            m->n++;
        }
    free(o.key);
    free(o.val);
}

static void strmap_free(strmap *m)
{
    for (size_t i = 0; i < m->cap; i++) free(m->key[i]);
    free(m->key);
    free(m->val);
    memset(m, 0, sizeof *m);
}

void veil_audit_data_free(veil_audit_data *d)
{
    if (!d) return;
    for (int s = 0; s < d->n_speakers; s++) free(d->speaker_id[s]);
    free(d->speaker_id), free(d->speaker_gender), free(d->speaker_offset);
    free(d->row_utterance), free(d->row_file), free(d->row_source), free(d->z);
    for (int k = 0; k < d->n_classes && d->class_names; k++) free(d->class_names[k]);
    free(d->class_names), free(d->speaker_class);
    free(d);
}

/* ---- --features X.npy --labels L.csv ---- */
typedef struct labels_ctx {
    const char *path;
    int col_spk, col_gender, col_utt, col_file, ncols, header_line;
    size_t n, cap;
    int *spk, *utt, *file, *line;
    char *gender;       /* per speaker */
    int *gender_line;   /* per speaker: line that set it */
    strmap speakers, utts, files;
    int n_spk, n_utt, n_file;
    char **spk_names;
} labels_ctx;

static int labels_row(void *vctx, const char *const *f, int n, int line)
{
    labels_ctx *c = vctx;
    if (c->col_spk < 0) { /* the header */
        c->ncols = n;
        c->header_line = line;
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < i; j++)
                if (!strcasecmp(f[i], f[j])) {
                    veil_error("%s:%d: column '%s' appears twice", c->path, line, f[i]);
                    return -1;
                }
            if (!strcasecmp(f[i], "speaker")) c->col_spk = i;
            else if (!strcasecmp(f[i], "gender")) c->col_gender = i;
            else if (!strcasecmp(f[i], "utterance")) c->col_utt = i;
            else if (!strcasecmp(f[i], "file")) c->col_file = i;
        }
        const char *missing = c->col_spk < 0      ? "speaker"
                              : c->col_gender < 0 ? "gender"
                              : c->col_utt < 0    ? "utterance"
                                                  : NULL;
        if (missing) {
            veil_error("%s:%d: missing column '%s' (the header must name speaker, gender and "
                       "utterance)", c->path, line, missing);
            c->col_spk = -1;
            return -1;
        }
        return 0;
    }
    if (n != c->ncols) {
        veil_error("%s:%d: %d field%s, the header has %d", c->path, line, n, n == 1 ? "" : "s",
                   c->ncols);
        return -1;
    }
    const char *spk = f[c->col_spk], *g = f[c->col_gender], *utt = f[c->col_utt];
    if (!*spk || !*utt) {
        veil_error("%s:%d: empty %s", c->path, line, !*spk ? "speaker" : "utterance");
        return -1;
    }
    char gender = corpus_parse_gender(g);
    if (!gender) {
        veil_error("%s:%d: gender '%s' is not F, M, female or male", c->path, line, g);
        return -1;
    }
    if (c->n == c->cap) {
        c->cap = c->cap ? 2 * c->cap : 1024;
        c->spk = veil_realloc(c->spk, c->cap * sizeof *c->spk);
        c->utt = veil_realloc(c->utt, c->cap * sizeof *c->utt);
        c->file = veil_realloc(c->file, c->cap * sizeof *c->file);
        c->line = veil_realloc(c->line, c->cap * sizeof *c->line);
    }
    int added = 0, s = strmap_get(&c->speakers, spk, &c->n_spk, &added);
    if (added) {
        c->gender = veil_realloc(c->gender, (size_t)c->n_spk * sizeof *c->gender);
        c->gender_line = veil_realloc(c->gender_line, (size_t)c->n_spk * sizeof *c->gender_line);
        c->spk_names = veil_realloc(c->spk_names, (size_t)c->n_spk * sizeof *c->spk_names);
        c->gender[s] = gender;
        c->gender_line[s] = line;
        c->spk_names[s] = veil_strdup(spk);
    } else if (c->gender[s] != gender) {
        veil_error("%s:%d: speaker '%s' has gender %c here but %c on line %d", c->path, line, spk,
                   gender, c->gender[s], c->gender_line[s]);
        return -1;
    }
    /* utterance names are per speaker (TIMIT's SA1 is read by everyone) */
    veil_strbuf key = {0};
    veil_strbuf_printf(&key, "%s\x1f%s", spk, utt);
    c->utt[c->n] = strmap_get(&c->utts, key.s, &c->n_utt, NULL);
    free(key.s);
    c->file[c->n] = c->col_file >= 0 && *f[c->col_file]
                        ? strmap_get(&c->files, f[c->col_file], &c->n_file, NULL)
                        : -1;
    c->spk[c->n] = s;
    c->line[c->n] = line;
    c->n++;
    return 0;
}

int veil_audit_load_features(const char *npy, const char *labels, veil_audit_data **out)
{
    *out = NULL;
    float *z = NULL;
    int ndim = 0, rc = -1;
    size_t shape[4] = {0};
    labels_ctx c;
    memset(&c, 0, sizeof c);
    c.path = labels;
    c.col_spk = c.col_gender = c.col_utt = c.col_file = -1;
    veil_audit_data *d = NULL;
    if (veil_npy_read_f32(npy, &z, &ndim, shape)) goto done;
    if (ndim < 2) {
        veil_error("%s: features must be an array of rows (rows x features, or rows x a x b as the MFCC "
                   "patches of `veil corpus features -o`), got %d dimension%s", npy, ndim, ndim == 1 ? "" : "s");
        goto done;
    }
    /* rows x a x b (x c): each row's values flattened in C order, as the raw MFCC patches
     * (the no-privacy baseline) */
    for (int k = 2; k < ndim; k++) {
        if (shape[k] && shape[1] > 0x7fffffff / shape[k]) shape[1] = 0x80000000u;
        else shape[1] *= shape[k];
    }
    if (shape[0] == 0 || shape[1] == 0 || shape[1] > 0x7fffffff) {
        veil_error("%s: features of %zu rows of %zu values: no rows, no features or too many", npy, shape[0],
                   shape[1]);
        goto done;
    }
    if (corpus_csv_each(labels, labels_row, &c)) goto done;
    if (c.col_spk < 0) {
        veil_error("%s: empty labels file (expected a header naming speaker, gender and utterance)",
                   labels);
        goto done;
    }
    if (c.n != shape[0]) {
        veil_error("%s has %zu label row%s but %s has %zu feature rows (one label row per feature "
                   "row, in the same order)", labels, c.n, c.n == 1 ? "" : "s", npy, shape[0]);
        goto done;
    }
    size_t dim = shape[1];
    for (size_t i = 0; i < shape[0]; i++)
        for (size_t j = 0; j < dim; j++)
            if (!isfinite(z[i * dim + j])) {
                veil_error("%s: feature row %zu (labels line %d), column %zu is %s", npy, i,
                           c.line[i], j, isnan(z[i * dim + j]) ? "NaN" : "infinite");
                goto done;
            }
    /* |z| so large that float sums of squares overflow: every attacker would see inf or
     * NaN (the MLP's loss first). Refused with that cause, not the attacker's symptom. */
    for (size_t i = 0; i < shape[0] * dim; i++)
        if (fabsf(z[i]) > VEIL_AUDIT_MAX_FEATURE) {
            veil_error("%s: feature row %zu (labels line %d), column %zu is %g; beyond %g in "
                       "magnitude, paper-mlp (trained on the raw features, as the paper's "
                       "attacker) overflows float32 in any precision: scale the features "
                       "(standardise them, or divide by a constant) before the audit", npy, i / dim,
                       c.line[i / dim], i % dim, (double)z[i], VEIL_AUDIT_MAX_FEATURE);
            goto done;
        }
    if (c.n_spk < 2) {
        veil_error("%s: only one speaker ('%s'); an attacker needs at least 2", labels, c.spk_names[0]);
        goto done;
    }
    {
        /* the 70/30 split needs a row on each side: name the speaker's one line */
        int *count = veil_calloc((size_t)c.n_spk, sizeof *count), *last = veil_calloc((size_t)c.n_spk, sizeof *last);
        int bad = -1;
        for (size_t i = 0; i < c.n; i++) count[c.spk[i]]++, last[c.spk[i]] = c.line[i];
        for (int s = 0; s < c.n_spk && bad < 0; s++)
            if (count[s] < 2) bad = s;
        if (bad >= 0)
            veil_error("%s:%d: speaker '%s' has only this row; every speaker needs at least 2 (the "
                       "70/30 split into attacker-training and -evaluation)", labels, last[bad],
                       c.spk_names[bad]);
        free(count);
        free(last);
        if (bad >= 0) goto done;
    }
    d = veil_calloc(1, sizeof *d);
    d->n_speakers = c.n_spk;
    d->speaker_id = c.spk_names;
    c.spk_names = NULL;
    d->speaker_gender = c.gender;
    c.gender = NULL;
    d->n_rows = c.n;
    d->dim = (int)dim;
    d->z = z;
    z = NULL;
    /* rows grouped by speaker, in file order within a speaker */
    d->speaker_offset = veil_calloc((size_t)c.n_spk + 1, sizeof *d->speaker_offset);
    for (size_t i = 0; i < c.n; i++) d->speaker_offset[c.spk[i] + 1]++;
    for (int s = 0; s < c.n_spk; s++) d->speaker_offset[s + 1] += d->speaker_offset[s];
    size_t *fill = veil_malloc((size_t)c.n_spk * sizeof *fill);
    memcpy(fill, d->speaker_offset, (size_t)c.n_spk * sizeof *fill);
    d->row_source = veil_malloc(c.n * sizeof *d->row_source);
    d->row_utterance = veil_malloc(c.n * sizeof *d->row_utterance);
    d->row_file = veil_malloc(c.n * sizeof *d->row_file);
    for (size_t i = 0; i < c.n; i++) {
        size_t r = fill[c.spk[i]]++;
        d->row_source[r] = i;
        d->row_utterance[r] = c.utt[i];
        d->row_file[r] = c.file[i] >= 0 ? c.file[i] : c.utt[i];
    }
    free(fill);
    *out = d;
    d = NULL;
    rc = 0;
done:
    free(z);
    veil_audit_data_free(d);
    if (c.spk_names)
        for (int s = 0; s < c.n_spk; s++) free(c.spk_names[s]);
    free(c.spk_names);
    free(c.spk);
    free(c.utt);
    free(c.file);
    free(c.line);
    free(c.gender);
    free(c.gender_line);
    strmap_free(&c.speakers);
    strmap_free(&c.utts);
    strmap_free(&c.files);
    return rc;
}

/* ---- --model / --raw on a corpus ---- */
int veil_audit_from_corpus(const veil_corpus *c, const veil_patch_set *p, veil_extractor *f,
                           int extract_batch, char *const *exclude, int n_exclude,
                           veil_audit_data **out)
{
    *out = NULL;
    char *skip = veil_calloc((size_t)c->n_speakers + 1, 1);
    for (int k = 0; k < n_exclude; k++)
        for (int s = 0; s < c->n_speakers; s++)
            if (!strcmp(c->speakers[s].id, exclude[k])) skip[s] = 1;
    veil_audit_data *d = veil_calloc(1, sizeof *d);
    d->speaker_id = veil_malloc((size_t)c->n_speakers * sizeof *d->speaker_id);
    d->speaker_gender = veil_malloc((size_t)c->n_speakers * sizeof *d->speaker_gender);
    d->speaker_offset = veil_calloc((size_t)c->n_speakers + 1, sizeof *d->speaker_offset);
    for (int s = 0; s < c->n_speakers; s++) {
        if (skip[s]) continue;
        int k = d->n_speakers++;
        d->speaker_id[k] = veil_strdup(c->speakers[s].id);
        d->speaker_gender[k] = c->speakers[s].gender;
        d->speaker_offset[k + 1] = d->speaker_offset[k] + veil_speaker_patches(p, s);
    }
    d->n_rows = d->speaker_offset[d->n_speakers];
    size_t nr = d->n_rows ? d->n_rows : 1;
    d->row_source = veil_malloc(nr * sizeof *d->row_source);
    d->row_utterance = veil_malloc(nr * sizeof *d->row_utterance);
    d->row_file = veil_malloc(nr * sizeof *d->row_file);
    size_t r = 0;
    for (int s = 0; s < c->n_speakers; s++) {
        if (skip[s]) continue;
        for (size_t i = p->speaker_offset[s]; i < p->speaker_offset[s + 1]; i++, r++) {
            d->row_source[r] = i;
            d->row_utterance[r] = d->row_file[r] = p->patch_utt[i];
        }
    }
    free(skip);
    d->patches = p;
    d->f = f;
    d->extract_batch = extract_batch > 0 ? extract_batch : 256;
    d->dim = f ? veil_extractor_dim(f) : p->patch_h * p->patch_w;
    if (d->n_speakers < 2) {
        veil_error("%s: %d speaker%s left after leaving out the model's %d training speakers; an "
                   "attacker needs at least 2", c->root ? c->root : "corpus", d->n_speakers,
                   d->n_speakers == 1 ? "" : "s", n_exclude);
        veil_audit_data_free(d);
        return -1;
    }
    *out = d;
    return 0;
}

/* ---- the task: a class per speaker ---- */
/* values[s]: speaker s's class name (non-empty); classes in id order, as veil_corpus_task. */
static int audit_task_take(veil_audit_data *d, const char *task, const char *const *values, const char *where)
{
    int k;
    char **names;
    int *class_of = veil_malloc((size_t)(d->n_speakers ? d->n_speakers : 1) * sizeof(int));
    corpus_classes_of(values, d->n_speakers, &names, &k, class_of);
    if (k < 2) {
        veil_error("%s: --task %s needs at least 2 classes among the audited speakers, but every one is %s", where,
                   task, k ? names[0] : "(none)");
        for (int i = 0; i < k; i++) free(names[i]);
        free(names);
        free(class_of);
        return -1;
    }
    d->speaker_class = class_of;
    snprintf(d->task, sizeof d->task, "%s", task);
    d->n_classes = k;
    d->class_names = names;
    return 0;
}

int veil_audit_task_from_corpus(veil_audit_data *d, const veil_corpus *c, const char *task)
{
    if (!task || !strcasecmp(task, "gender")) return 0;
    veil_task_classes t;
    if (veil_corpus_task(c, task, &t)) return -1;
    const char **values = veil_malloc((size_t)(d->n_speakers ? d->n_speakers : 1) * sizeof *values);
    int rc = 0;
    for (int s = 0; s < d->n_speakers && rc == 0; s++) {
        int cs = 0;
        while (cs < c->n_speakers && strcmp(c->speakers[cs].id, d->speaker_id[s])) cs++;
        if (cs == c->n_speakers) {
            veil_error("%s: speaker %s is not in the corpus", c->root ? c->root : "corpus", d->speaker_id[s]);
            rc = -1;
        } else {
            values[s] = t.names[t.class_of[cs]];
        }
    }
    if (rc == 0) rc = audit_task_take(d, t.name, values, c->root ? c->root : "corpus");
    free(values);
    veil_task_classes_free(&t);
    return rc;
}

typedef struct task_column_ctx {
    const char *path, *task;
    int col_task, col_spk, header;
    veil_audit_data *d;
    char **value;   /* per speaker of d */
    int *line;      /* the line that set it */
} task_column_ctx;

static int task_column_row(void *vctx, const char *const *f, int n, int line)
{
    task_column_ctx *c = vctx;
    if (!c->header) {
        c->header = 1;
        for (int i = 0; i < n; i++) {
            if (!strcasecmp(f[i], "speaker")) c->col_spk = i;
            if (!strcasecmp(f[i], c->task)) c->col_task = i;
        }
        if (c->col_task < 0) {
            veil_error("%s:%d: no column '%s' for --task %s (the header names its columns)", c->path, line,
                       c->task, c->task);
            return -1;
        }
        return 0;
    }
    if (c->col_spk < 0 || n <= c->col_spk || n <= c->col_task) return 0; /* the loader names these */
    const char *v = f[c->col_task];
    int s = 0;
    while (s < c->d->n_speakers && strcmp(c->d->speaker_id[s], f[c->col_spk])) s++;
    if (s == c->d->n_speakers) return 0;
    if (!*v) {
        veil_error("%s:%d: empty %s for speaker %s (--task %s needs a class on every row)", c->path, line, c->task,
                   f[c->col_spk], c->task);
        return -1;
    }
    if (!c->value[s]) {
        c->value[s] = veil_strdup(v);
        c->line[s] = line;
    } else if (strcmp(c->value[s], v)) {
        veil_error("%s:%d: speaker %s has %s '%s' here but '%s' on line %d (one class per speaker)", c->path, line,
                   f[c->col_spk], c->task, v, c->value[s], c->line[s]);
        return -1;
    }
    return 0;
}

int veil_audit_task_from_labels(veil_audit_data *d, const char *labels, const char *task)
{
    if (!task || !strcasecmp(task, "gender")) return 0;
    task_column_ctx c = {labels, task, -1, -1, 0, d, NULL, NULL};
    c.value = veil_calloc((size_t)d->n_speakers + 1, sizeof *c.value);
    c.line = veil_calloc((size_t)d->n_speakers + 1, sizeof *c.line);
    int rc = corpus_csv_each(labels, task_column_row, &c);
    if (rc == 0) rc = audit_task_take(d, task, (const char *const *)c.value, labels);
    for (int s = 0; s < d->n_speakers; s++) free(c.value[s]);
    free(c.value);
    free(c.line);
    return rc;
}

/* ---- running the battery ---- */
void veil_audit_config_default(veil_audit_config *c)
{
    memset(c, 0, sizeof *c);
    veil_train_config tc;
    veil_train_config_paper(&tc);
    c->st = 20;
    c->fraction = 0.7;
    c->seed = 1;
    c->precision = VEIL_PREC_AUTO;
    c->epochs = tc.attack_epochs;
    c->batch = tc.attack_batch;
    c->hidden = tc.head_hidden;
    c->lr = tc.lr;
    c->dropout = tc.dropout;
    c->eval_batch = tc.attack_batch > tc.extract_batch ? tc.attack_batch : tc.extract_batch;
}

void veil_audit_result_free(veil_audit_result *r)
{
    if (r->reason)
        for (size_t i = 0; i < (size_t)r->n_probes * r->n_groups; i++) free(r->reason[i]);
    free(r->reason);
    free(r->group_speakers);
    free(r->chance_gender);
    free(r->chance_label);
    free(r->r);
    memset(r, 0, sizeof *r);
}

/* The features of rows idx[0..n) of d into z (n x dim). */
static int audit_rows(const veil_audit_data *d, const size_t *idx, size_t n, float *z)
{
    size_t D = (size_t)d->dim;
    if (d->z) {
        for (size_t i = 0; i < n; i++) memcpy(z + i * D, d->z + d->row_source[idx[i]] * D, D * sizeof *z);
        return 0;
    }
    size_t *src = veil_malloc((n ? n : 1) * sizeof *src);
    for (size_t i = 0; i < n; i++) src[i] = d->row_source[idx[i]];
    int rc = 0;
    if (d->f) {
        rc = veil_extract_features(d->f, d->patches, src, n, d->extract_batch, z);
    } else {
        for (size_t i = 0; i < n; i++) memcpy(z + i * D, veil_patch(d->patches, src[i]), D * sizeof *z);
    }
    free(src);
    return rc;
}

static int speaker_of_row(const veil_audit_data *d, size_t row)
{
    int lo = 0, hi = d->n_speakers - 1;
    while (lo < hi) {
        int mid = (lo + hi + 1) / 2;
        if (d->speaker_offset[mid] <= row) lo = mid;
        else hi = mid - 1;
    }
    return lo;
}

static int make_table(const veil_audit_data *d, const size_t *idx, const int *label, size_t n,
                      int n_classes, veil_feature_table *t)
{
    veil_feature_table_alloc(t, n, d->dim, n_classes);
    for (size_t i = 0; i < n; i++) {
        int s = speaker_of_row(d, idx[i]);
        t->label[i] = label[i];
        t->speaker[i] = s;
        t->gender[i] = d->speaker_gender[s] == 'M';
        t->utterance[i] = d->row_utterance[idx[i]];
        t->file[i] = d->row_file[idx[i]];
    }
    if (audit_rows(d, idx, n, t->z)) {
        veil_feature_table_free(t);
        return -1;
    }
    /* an extractor's features (a --features file was checked when read) */
    for (size_t i = 0; !d->z && i < n * (size_t)d->dim; i++)
        if (fabsf(t->z[i]) > VEIL_AUDIT_MAX_FEATURE) {
            veil_error("the extractor's feature %zu of a row of speaker '%s' is %g; beyond %g in magnitude, "
                       "paper-mlp (trained on the raw features, as the paper's attacker) overflows "
                       "float32 in any precision", i % (size_t)d->dim, d->speaker_id[t->speaker[i / (size_t)d->dim]],
                       (double)t->z[i], VEIL_AUDIT_MAX_FEATURE);
            veil_feature_table_free(t);
            return -1;
        }
    return 0;
}

static uint64_t name_hash(const char *s) { return fnv(s); }

/* CPU seconds of the process (every thread): on a shared machine, what a probe costs. */
static double cpu_seconds(void)
{
    struct rusage u;
    if (getrusage(RUSAGE_SELF, &u)) return NAN;
    return (double)u.ru_utime.tv_sec + (double)u.ru_stime.tv_sec +
           1e-6 * (double)(u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

int veil_audit_run(const veil_audit_data *d, const veil_audit_config *c, veil_audit_result *out)
{
    memset(out, 0, sizeof *out);
    /* the rows as a corpus and patch set for src/research/experiment/split.c */
    veil_corpus vc;
    veil_patch_set vp;
    memset(&vc, 0, sizeof vc);
    memset(&vp, 0, sizeof vp);
    vc.root = "audit";
    vc.n_speakers = d->n_speakers;
    vc.speakers = veil_calloc((size_t)d->n_speakers, sizeof *vc.speakers);
    for (int s = 0; s < d->n_speakers; s++) {
        vc.speakers[s].id = d->speaker_id[s];
        vc.speakers[s].gender = d->speaker_gender[s];
    }
    vp.n_speakers = d->n_speakers;
    vp.speaker_offset = d->speaker_offset;
    vp.n_patches = d->n_rows;
    veil_split sp;
    int rc = veil_split_make_attack(&vc, &vp, c->st, c->n_groups, c->fraction,
                                    veil_seed_mix(c->seed, 0x61747461636b, 0), &sp);
    free(vc.speakers);
    if (rc) return -1;
    int G = sp.n_groups, P = c->n_probes;
    out->st = sp.st;
    out->n_groups = G;
    out->n_probes = P;
    out->dim = d->dim;
    out->n_rows = d->n_rows;
    out->n_speakers = d->n_speakers;
    out->probes = c->probes;
    out->group_speakers = veil_malloc((size_t)G * sp.st * sizeof *out->group_speakers);
    for (int i = 0; i < G * sp.st; i++) out->group_speakers[i] = d->speaker_id[sp.group_speakers[i]];
    out->chance_gender = veil_malloc((size_t)G * sizeof *out->chance_gender);
    if (d->speaker_class) {
        out->chance_label = veil_malloc((size_t)G * sizeof *out->chance_label);
        snprintf(out->task, sizeof out->task, "%s", d->task);
    }
    out->r = veil_calloc((size_t)P * G, sizeof *out->r);
    out->reason = veil_calloc((size_t)P * G, sizeof *out->reason);
    veil_feature_table tr, te, ot, utr, ute, all;
    memset(&all, 0, sizeof all);
    memset(&tr, 0, sizeof tr);
    memset(&te, 0, sizeof te);
    memset(&ot, 0, sizeof ot);
    memset(&utr, 0, sizeof utr);
    memset(&ute, 0, sizeof ute);
    rc = -1;
    /* the pool of the probes that need one: every row (the probe skips the group's own) */
    int need_pool = 0;
    for (int k = 0; k < P; k++) need_pool |= c->probes[k]->needs_pool;
    const veil_feature_table *pool[1] = {&all};
    if (need_pool) {
        size_t *idx = veil_malloc((d->n_rows ? d->n_rows : 1) * sizeof *idx);
        int *zero = veil_calloc(d->n_rows ? d->n_rows : 1, sizeof *zero);
        for (size_t i = 0; i < d->n_rows; i++) idx[i] = i;
        int prc = make_table(d, idx, zero, d->n_rows, 1, &all);
        free(idx);
        free(zero);
        if (prc) {
            veil_error_prefix("audit: the semi-informed attacker's pool: features");
            goto done;
        }
    }
    for (int g = 0; g < G; g++) {
        int nf = 0, nm = 0;
        for (int k = 0; k < sp.st; k++) {
            if (d->speaker_gender[sp.group_speakers[g * sp.st + k]] == 'M') nm++;
            else nf++;
        }
        /* a test row of gender x: one of that gender's speakers at random */
        double ch = 0;
        for (size_t i = 0; i < sp.n_aeval[g]; i++)
            ch += d->speaker_gender[sp.group_speakers[g * sp.st + sp.aeval_label[g][i]]] == 'M'
                      ? 1.0 / nm
                      : 1.0 / nf;
        out->chance_gender[g] = sp.n_aeval[g] ? ch / (double)sp.n_aeval[g] : NAN;
        if (d->speaker_class) /* a test row of class x: one of the group's speakers of that class at random */
            out->chance_label[g] = veil_label_chance_rows(d->speaker_class, sp.group_speakers + (size_t)g * sp.st, sp.st,
                                                          sp.aeval_label[g], sp.n_aeval[g]);
        double t0 = veil_now();
        /* others, for probes that need speakers outside the group: the next group's
         * attacker-training rows (as veil_attack_run) */
        int o = (g + 1) % G, need_others = 0;
        for (int k = 0; k < P; k++) need_others |= c->probes[k]->needs_others;
        need_others = need_others && G > 1;
        if (make_table(d, sp.atrain[g], sp.atrain_label[g], sp.n_atrain[g], sp.st, &tr) ||
            make_table(d, sp.aeval[g], sp.aeval_label[g], sp.n_aeval[g], sp.st, &te) ||
            (need_others && make_table(d, sp.atrain[o], sp.atrain_label[o], sp.n_atrain[o], sp.st, &ot))) {
            veil_error_prefix("audit group %d/%d: features", g + 1, G);
            goto done;
        }
        /* the same rows split by whole utterances: every number per utterance */
        veil_probe_utterance_split(&tr, &te, c->fraction, veil_seed_mix(c->seed, 0x7574747370, (uint64_t)g), &utr, &ute);
        if (veil_verbosity >= 1)
            veil_log("audit group %d/%d: %zu + %zu rows of %d speakers, features in %.1f s", g + 1, G,
                     tr.n, te.n, sp.st, veil_now() - t0);
        for (int k = 0; k < P; k++) {
            const veil_probe *pr = c->probes[k];
            char name[160];
            snprintf(name, sizeof name, "audit group %d/%d: %s", g + 1, G, pr->name);
            veil_probe_input in;
            memset(&in, 0, sizeof in);
            in.train = &tr;
            in.test = &te;
            in.others = need_others && pr->needs_others ? &ot : NULL;
            in.seed = veil_seed_mix(veil_seed_mix(c->seed, 0x61756469, name_hash(pr->name)), 0, (uint64_t)g);
            in.precision = c->precision;
            in.epochs = c->epochs;
            in.batch = c->batch;
            in.hidden = c->hidden;
            in.lr = c->lr;
            in.dropout = c->dropout;
            in.name = name;
            in.attack_seed = c->seed; /* paper-mlp: the seeds of `veil attack --seed` */
            in.group = g;
            in.eval_batch = c->eval_batch;
            in.utt_train = &utr;
            in.utt_test = &ute;
            in.pool = pr->needs_pool ? pool : NULL;
            in.n_pool = pr->needs_pool ? 1 : 0;
            veil_probe_result *res = &out->r[(size_t)k * G + g];
            double t1 = veil_now(), c1 = cpu_seconds();
            veil_probe_result_clear(res);
            if (pr->score(&in, res)) {
                /* this attacker cannot score this group (one utterance per speaker, constant
                 * features, ...): null with its reason; the other attackers' results stand */
                veil_probe_result_clear(res);
                const char *why = veil_last_error();
                size_t nl = strlen(name);
                if (!strncmp(why, name, nl) && !strncmp(why + nl, ": ", 2)) why += nl + 2;
                out->reason[(size_t)k * G + g] = veil_strdup(why);
                veil_log("veil audit: warning: %s: no result: %s", name, why);
                res->seconds = veil_now() - t1;
                continue;
            }
            res->seconds = veil_now() - t1;
            double cpu = cpu_seconds() - c1;
            if (veil_verbosity >= 1) {
                if (!isnan(res->acc))
                    veil_log("%s: accuracy %.1f %% per row, %.1f %% per utterance (%.1f s, CPU %.1f s)",
                             name, 100 * res->acc, 100 * res->acc_utt, res->seconds, cpu);
                else if (!isnan(res->eer))
                    veil_log("%s: EER %.1f %% [%.1f, %.1f], minDCF %.3f (%.1f s, CPU %.1f s)", name,
                             100 * res->eer, 100 * res->eer_lo, 100 * res->eer_hi, res->min_dcf,
                             res->seconds, cpu);
                else
                    veil_log("%s: does not apply here (%.1f s, CPU %.1f s)", name, res->seconds, cpu);
            }
        }
        veil_feature_table_free(&tr);
        veil_feature_table_free(&te);
        veil_feature_table_free(&ot);
        veil_feature_table_free(&utr);
        veil_feature_table_free(&ute);
    }
    {
        /* nothing scored anywhere: an error, not a report of nulls */
        size_t failed = 0;
        for (size_t i = 0; i < (size_t)P * G; i++) failed += out->reason[i] != NULL;
        if (P * G > 0 && failed == (size_t)P * G) {
            veil_error("no attacker gave a result on any group (%s: %s)", c->probes[0]->name, out->reason[0]);
            goto done;
        }
    }
    rc = 0;
done:
    veil_feature_table_free(&all);
    veil_feature_table_free(&tr);
    veil_feature_table_free(&te);
    veil_feature_table_free(&ot);
    veil_feature_table_free(&utr);
    veil_feature_table_free(&ute);
    veil_split_free(&sp);
    if (rc) veil_audit_result_free(out);
    return rc;
}

/* ---- outputs ---- */
typedef struct mean_sd {
    double mean, sd;
    int n;
} mean_sd;

static mean_sd over_groups(const veil_audit_result *r, int k, size_t field)
{
    mean_sd m = {NAN, NAN, 0};
    double s = 0, q = 0;
    for (int g = 0; g < r->n_groups; g++) {
        double v = *(const double *)((const char *)&r->r[(size_t)k * r->n_groups + g] + field);
        if (isnan(v)) continue;
        s += v;
        q += v * v;
        m.n++;
    }
    if (m.n) {
        m.mean = s / m.n;
        m.sd = m.n > 1 ? sqrt(fmax(0, (q - s * s / m.n) / (m.n - 1))) : 0;
    }
    return m;
}

#define FIELD(f) offsetof(veil_probe_result, f)

/* Strongest attackers: highest mean accuracy per row / per utterance, lowest mean EER. */
static void strongest(const veil_audit_result *r, int *acc, int *utt, int *eer)
{
    *acc = *utt = *eer = -1;
    double ba = -1, bu = -1, be = 2;
    for (int k = 0; k < r->n_probes; k++) {
        mean_sd a = over_groups(r, k, FIELD(acc)), u = over_groups(r, k, FIELD(acc_utt)),
                e = over_groups(r, k, FIELD(eer));
        if (a.n && a.mean > ba) ba = a.mean, *acc = k;
        if (u.n && u.mean > bu) bu = u.mean, *utt = k;
        if (e.n && e.mean < be) be = e.mean, *eer = k;
    }
}

static cJSON *group_array(const veil_audit_result *r, int k, size_t field)
{
    cJSON *a = cJSON_CreateArray();
    for (int g = 0; g < r->n_groups; g++) {
        double v = *(const double *)((const char *)&r->r[(size_t)k * r->n_groups + g] + field);
        cJSON_AddItemToArray(a, isfinite(v) ? cJSON_CreateNumber(v) : cJSON_CreateNull());
    }
    return a;
}

static void add_num(cJSON *o, const char *key, double v)
{
    if (isfinite(v)) cJSON_AddNumberToObject(o, key, v);
    else cJSON_AddNullToObject(o, key);
}

static char *audit_json(const veil_audit_info *info, const veil_audit_result *r)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "source", info->source ? info->source : "");
    if (info->warning) cJSON_AddStringToObject(o, "warning", info->warning);
    char seed[32];
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)info->seed);
    cJSON_AddRawToObject(o, "seed", seed);
    cJSON_AddNumberToObject(o, "fraction", info->fraction);
    if (info->job) {
        cJSON *j = cJSON_AddObjectToObject(o, "experiment_job");
        cJSON_AddNumberToObject(j, "index", info->job->index);
        cJSON_AddStringToObject(j, "method", info->job->method);
        cJSON_AddNumberToObject(j, "groups", info->job->groups);
        cJSON_AddNumberToObject(j, "iteration", info->job->iteration);
        add_num(j, "knob", info->job->knob);
        cJSON_AddStringToObject(j, "model_method", info->job->model_method);
    }
    /* the arithmetic of the extractor and the MLP attackers: their numbers depend on it */
    cJSON_AddStringToObject(o, "precision", info->precision ? info->precision : "fp32");
    cJSON_AddNumberToObject(o, "st", r->st);
    cJSON_AddNumberToObject(o, "groups", r->n_groups);
    cJSON_AddNumberToObject(o, "dim", r->dim);
    cJSON_AddNumberToObject(o, "rows", (double)r->n_rows);
    cJSON_AddNumberToObject(o, "speakers", r->n_speakers);
    cJSON *lo = cJSON_AddArrayToObject(o, "left_out_speakers");
    for (int i = 0; i < info->n_left_out; i++) cJSON_AddItemToArray(lo, cJSON_CreateString(info->left_out[i]));
    cJSON_AddNumberToObject(o, "chance", 1.0 / r->st);
    cJSON_AddItemToObject(o, "chance_gender", cJSON_CreateDoubleArray(r->chance_gender, r->n_groups));
    if (r->chance_label) {
        cJSON_AddStringToObject(o, "task", r->task);
        cJSON_AddItemToObject(o, "chance_label", cJSON_CreateDoubleArray(r->chance_label, r->n_groups));
    }
    cJSON *gs = cJSON_CreateArray();
    for (int g = 0; g < r->n_groups; g++)
        cJSON_AddItemToArray(gs, cJSON_CreateStringArray((const char *const *)r->group_speakers + (size_t)g * r->st, r->st));
    cJSON_AddItemToObject(o, "group_speakers", gs);
    cJSON_AddNumberToObject(o, "dcf_p_target", 0.01);
    cJSON_AddNumberToObject(o, "dcf_c_miss", 1);
    cJSON_AddNumberToObject(o, "dcf_c_fa", 1);
    cJSON *ps = cJSON_CreateObject();
    static const struct {
        const char *key;
        size_t off;
    } fields[] = {{"acc", FIELD(acc)},       {"acc_utt", FIELD(acc_utt)}, {"chance", FIELD(chance)},
                  {"eer", FIELD(eer)},       {"eer_lo", FIELD(eer_lo)},   {"eer_hi", FIELD(eer_hi)},
                  {"min_dcf", FIELD(min_dcf)}, {"seconds", FIELD(seconds)},
                  {"eer_same_gender", FIELD(eer_same_gender)}, {"eer_same_gender_lo", FIELD(eer_same_gender_lo)},
                  {"eer_same_gender_hi", FIELD(eer_same_gender_hi)}};
    for (int k = 0; k < r->n_probes; k++) {
        cJSON *p = cJSON_CreateObject(), *mean = cJSON_CreateObject();
        cJSON_AddStringToObject(p, "about", r->probes[k]->about);
        for (size_t f = 0; f < sizeof fields / sizeof fields[0]; f++) {
            /* the same-gender EER only where a probe reports it beside its own EER */
            if (!strncmp(fields[f].key, "eer_same_gender", 15) && !over_groups(r, k, fields[f].off).n) continue;
            cJSON_AddItemToObject(p, fields[f].key, group_array(r, k, fields[f].off));
            add_num(mean, fields[f].key, over_groups(r, k, fields[f].off).mean);
        }
        cJSON_AddItemToObject(p, "mean", mean);
        int any = 0;
        for (int g = 0; g < r->n_groups; g++) any |= r->reason && r->reason[(size_t)k * r->n_groups + g] != NULL;
        if (any) { /* per group: why this attacker gave no result there, or null */
            cJSON *why = cJSON_AddArrayToObject(p, "no_result");
            for (int g = 0; g < r->n_groups; g++) {
                const char *w = r->reason[(size_t)k * r->n_groups + g];
                cJSON_AddItemToArray(why, w ? cJSON_CreateString(w) : cJSON_CreateNull());
            }
        }
        cJSON_AddItemToObject(ps, r->probes[k]->name, p);
    }
    cJSON_AddItemToObject(o, "probes", ps);
    int a, u, e;
    strongest(r, &a, &u, &e);
    cJSON *s = cJSON_CreateObject();
    if (a >= 0) cJSON_AddStringToObject(s, "acc", r->probes[a]->name);
    else cJSON_AddNullToObject(s, "acc");
    if (u >= 0) cJSON_AddStringToObject(s, "acc_utt", r->probes[u]->name);
    else cJSON_AddNullToObject(s, "acc_utt");
    if (e >= 0) cJSON_AddStringToObject(s, "eer", r->probes[e]->name);
    else cJSON_AddNullToObject(s, "eer");
    cJSON_AddItemToObject(o, "strongest", s);
    char *text = veil_json_print_pretty(o); /* a name that is not UTF-8 stays valid JSON */
    cJSON_Delete(o);
    return text;
}

/* A name in Markdown (a table cell or a list): | would end the cell and a line break the
 * row, so they are escaped, as are the backslash and other control characters. */
static void md_text(veil_strbuf *b, const char *s)
{
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        if (*c == '|' || *c == '\\') veil_strbuf_printf(b, "\\%c", *c);
        else if (*c == '\n') veil_strbuf_printf(b, "\\n");
        else if (*c == '\r') veil_strbuf_printf(b, "\\r");
        else if (*c == '\t') veil_strbuf_printf(b, "\\t");
        else if (*c < 0x20 || *c == 0x7f) veil_strbuf_printf(b, "\\x%02x", *c);
        else veil_strbuf_printf(b, "%c", *c);
    }
}

static void pct(veil_strbuf *b, mean_sd m)
{
    if (!m.n) veil_strbuf_printf(b, " – |");
    else if (m.n > 1) veil_strbuf_printf(b, " %.1f ± %.1f |", 100 * m.mean, 100 * m.sd);
    else veil_strbuf_printf(b, " %.1f |", 100 * m.mean);
}

static char *audit_md(const veil_audit_info *info, const veil_audit_result *r, const char *figure)
{
    veil_strbuf b = {0};
    double cg = 0, cl = 0;
    for (int g = 0; g < r->n_groups; g++) cg += r->chance_gender[g] / r->n_groups;
    for (int g = 0; g < r->n_groups && r->chance_label; g++) cl += r->chance_label[g] / r->n_groups;
    /* "knowing the gender 10.0 %" and, with a task, "and knowing the accent 35.0 %" */
    char knowing[96] = "";
    if (r->chance_label) snprintf(knowing, sizeof knowing, "; knowing the %s %.1f %%", r->task, 100 * cl);
    veil_strbuf_printf(&b, "# veil audit\n\n");
    veil_strbuf_printf(&b, "Audited: ");
    md_text(&b, info->source ? info->source : "?");
    veil_strbuf_printf(&b, ". %zu rows of %d features, %d speakers; %d attacker group%s of "
                       "%d speakers, each speaker's rows split %.0f/%.0f into attacker-training and "
                       "-evaluation (seed %llu, precision %s).\n\n", r->n_rows,
                       r->dim, r->n_speakers, r->n_groups, r->n_groups == 1 ? "" : "s", r->st,
                       100 * info->fraction, 100 * (1 - info->fraction),
                       (unsigned long long)info->seed, info->precision ? info->precision : "fp32");
    if (info->warning) {
        veil_strbuf_printf(&b, "**Warning:** ");
        md_text(&b, info->warning);
        veil_strbuf_printf(&b, "\n\n");
    }
    if (info->n_left_out) {
        veil_strbuf_printf(&b, "Left out (the model's training speakers):");
        for (int i = 0; i < info->n_left_out; i++) {
            veil_strbuf_printf(&b, " ");
            md_text(&b, info->left_out[i]);
        }
        veil_strbuf_printf(&b, ".\n\n");
    }
    for (int k = 0; r->reason && k < r->n_probes; k++)
        for (int g = 0; g < r->n_groups; g++) {
            const char *w = r->reason[(size_t)k * r->n_groups + g];
            if (!w) continue;
            veil_strbuf_printf(&b, "**No result:** %s, group %d: ", r->probes[k]->name, g + 1);
            md_text(&b, w);
            veil_strbuf_printf(&b, "\n\n");
        }
    int a, u, e;
    strongest(r, &a, &u, &e);
    veil_strbuf_printf(&b, "## Strongest attackers\n\n");
    if (a >= 0)
        veil_strbuf_printf(&b, "- identification per row: **%s**, %.1f %% (chance %.1f %%, knowing the "
                           "gender %.1f %%%s)\n", r->probes[a]->name, 100 * over_groups(r, a, FIELD(acc)).mean,
                           100.0 / r->st, 100 * cg, knowing);
    if (u >= 0)
        veil_strbuf_printf(&b, "- identification per utterance: **%s**, %.1f %%\n", r->probes[u]->name,
                           100 * over_groups(r, u, FIELD(acc_utt)).mean);
    if (e >= 0)
        veil_strbuf_printf(&b, "- verification: **%s**, EER %.1f %% (chance 50 %%)\n", r->probes[e]->name,
                           100 * over_groups(r, e, FIELD(eer)).mean);
    {
        /* within a gender: verify-same-gender's EER, or a probe's same-gender EER beside its own */
        int sg = -1;
        double best = 2;
        for (int k = 0; k < r->n_probes; k++) {
            mean_sd m = !strcmp(r->probes[k]->name, "verify-same-gender") ? over_groups(r, k, FIELD(eer))
                                                                          : over_groups(r, k, FIELD(eer_same_gender));
            if (m.n && m.mean < best) best = m.mean, sg = k;
        }
        if (sg >= 0)
            veil_strbuf_printf(&b, "- verification within a gender: **%s**, EER %.1f %%\n", r->probes[sg]->name,
                               100 * best);
    }
    veil_strbuf_printf(&b, "\n## Every attacker (mean ± std over groups, %%)\n\n"
                       "Chance: %.1f %% per row (1/St), about %.1f %% knowing the gender%s; EER 50 %%. "
                       "minDCF: P_target = 0.01, C_miss = C_fa = 1 (1 = no better than rejecting "
                       "every trial).\n\n"
                       "| attacker | accuracy per row | per utterance | EER | EER 95 %% CI (mean of groups) | minDCF | seconds per group |\n"
                       "|---|---|---|---|---|---|---|\n", 100.0 / r->st, 100 * cg, knowing);
    for (int k = 0; k < r->n_probes; k++) {
        veil_strbuf_printf(&b, "| %s |", r->probes[k]->name);
        pct(&b, over_groups(r, k, FIELD(acc)));
        pct(&b, over_groups(r, k, FIELD(acc_utt)));
        pct(&b, over_groups(r, k, FIELD(eer)));
        mean_sd lo = over_groups(r, k, FIELD(eer_lo)), hi = over_groups(r, k, FIELD(eer_hi));
        if (lo.n) veil_strbuf_printf(&b, " %.1f – %.1f |", 100 * lo.mean, 100 * hi.mean);
        else veil_strbuf_printf(&b, " – |");
        mean_sd dcf = over_groups(r, k, FIELD(min_dcf));
        if (dcf.n) veil_strbuf_printf(&b, " %.3f |", dcf.mean);
        else veil_strbuf_printf(&b, " – |");
        veil_strbuf_printf(&b, " %.1f |\n", over_groups(r, k, FIELD(seconds)).mean);
    }
    veil_strbuf_printf(&b, "\n");
    for (int k = 0; k < r->n_probes; k++) veil_strbuf_printf(&b, "- **%s**: %s\n", r->probes[k]->name, r->probes[k]->about);
    if (figure) veil_strbuf_printf(&b, "\n![attackers](%s)\n", figure);
    veil_strbuf_printf(&b, "\n## Per group\n\n| group | speakers | chance knowing gender |");
    if (r->chance_label) veil_strbuf_printf(&b, " chance knowing %s |", r->task);
    for (int k = 0; k < r->n_probes; k++) veil_strbuf_printf(&b, " %s |", r->probes[k]->name);
    veil_strbuf_printf(&b, "\n|---|---|---|%s", r->chance_label ? "---|" : "");
    for (int k = 0; k < r->n_probes; k++) veil_strbuf_printf(&b, "---|");
    veil_strbuf_printf(&b, "\n");
    for (int g = 0; g < r->n_groups; g++) {
        veil_strbuf_printf(&b, "| %d |", g + 1);
        for (int s = 0; s < r->st; s++) {
            veil_strbuf_printf(&b, " ");
            md_text(&b, r->group_speakers[(size_t)g * r->st + s]);
        }
        veil_strbuf_printf(&b, " | %.1f |", 100 * r->chance_gender[g]);
        if (r->chance_label) veil_strbuf_printf(&b, " %.1f |", 100 * r->chance_label[g]);
        for (int k = 0; k < r->n_probes; k++) {
            const veil_probe_result *x = &r->r[(size_t)k * r->n_groups + g];
            if (!isnan(x->acc)) veil_strbuf_printf(&b, " %.1f / %.1f |", 100 * x->acc, 100 * x->acc_utt);
            else if (!isnan(x->eer)) veil_strbuf_printf(&b, " EER %.1f [%.1f, %.1f] |", 100 * x->eer, 100 * x->eer_lo, 100 * x->eer_hi);
            else veil_strbuf_printf(&b, " – |");
        }
        veil_strbuf_printf(&b, "\n");
    }
    veil_strbuf_printf(&b, "\nIdentification cells: accuracy per row / per utterance (%%). Verification "
                       "cells: EER (%%) with its bootstrap 95 %% interval over speakers.\n");
    return b.s;
}

static int write_text(FILE *f, void *ctx)
{
    const char *s = ctx;
    return fputs(s, f) < 0 ? -1 : 0;
}

int veil_audit_out_check(const char *dir, const char *source)
{
    veil_strbuf path = {0};
    veil_strbuf_printf(&path, "%s/audit.json", dir);
    int rc = 0;
    char *text = NULL;
    if (veil_path_exists(path.s)) {
        cJSON *o = veil_read_file(path.s, &text, NULL) == 0 ? cJSON_Parse(text) : NULL;
        const cJSON *was = cJSON_GetObjectItemCaseSensitive(o, "source");
        if (!cJSON_IsString(was)) {
            veil_error("%s: not an audit veil can read (no \"source\"); use another --out, or remove it to "
                       "write this audit there", path.s);
            rc = -1;
        } else if (strcmp(was->valuestring, source)) {
            veil_error("%s holds the audit of %s; this audit is of %s. Use another --out, or remove that "
                       "audit.json to replace it", path.s, was->valuestring, source);
            rc = -1;
        }
        cJSON_Delete(o);
    }
    free(text);
    free(path.s);
    return rc;
}

int veil_audit_write(const char *dir, const veil_audit_info *info, const veil_audit_result *r)
{
    if (veil_mkdirs(dir)) return -1;
    veil_strbuf pj = {0}, pm = {0}, pp = {0}, ps = {0};
    veil_strbuf_printf(&pj, "%s/audit.json", dir);
    veil_strbuf_printf(&pm, "%s/audit.md", dir);
    veil_strbuf_printf(&pp, "%s/audit.png", dir);
    veil_strbuf_printf(&ps, "%s/audit.svg", dir);
    char *json = audit_json(info, r), *md = audit_md(info, r, "audit.png");
    size_t jl = strlen(json);
    json = veil_realloc(json, jl + 2);
    json[jl] = '\n';
    json[jl + 1] = 0;
    /* all four or none: a full disk must not leave audit.json of this run beside the
     * report of an earlier one */
    veil_write_item set[4] = {{pj.s, write_text, json},
                              {pm.s, write_text, md},
                              {pp.s, veil_audit_png, (void *)r},
                              {ps.s, veil_audit_svg, (void *)r}};
    int rc = veil_write_atomic_set(set, 4);
    free(json);
    free(md);
    free(pj.s);
    free(pm.s);
    free(pp.s);
    free(ps.s);
    return rc ? -1 : 0;
}
