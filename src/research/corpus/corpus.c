/* Corpus index: layout detection, the common build step (group, sort, check, durations)
 * and the summaries. The layout walkers are in corpus_dirs.c and corpus_manifest.c. */
#include "veil/corpus.h"
#include "veil/audio.h"

#include <cjson/cJSON.h>

#include "core/base/json.h"
#include <ctype.h>
#include <sndfile.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "corpus_internal.h"
#include "veil/common.h"

const char *veil_layout_name(veil_layout l)
{
    switch (l) {
    case VEIL_LAYOUT_TIMIT: return "timit";
    case VEIL_LAYOUT_LIBRISPEECH: return "librispeech";
    case VEIL_LAYOUT_VCTK: return "vctk";
    case VEIL_LAYOUT_MANIFEST: return "manifest";
    }
    return "unknown";
}

/* ---------------- small helpers ---------------- */
char corpus_parse_gender(const char *s)
{
    if (!strcasecmp(s, "f") || !strcasecmp(s, "female")) return 'F';
    if (!strcasecmp(s, "m") || !strcasecmp(s, "male")) return 'M';
    return 0;
}

int corpus_all_digits(const char *s)
{
    if (!*s) return 0;
    for (; *s; s++)
        if (!isdigit((unsigned char)*s)) return 0;
    return 1;
}

int corpus_id_cmp(const char *a, const char *b)
{
    if (corpus_all_digits(a) && corpus_all_digits(b)) {
        while (*a == '0' && a[1]) a++;
        while (*b == '0' && b[1]) b++;
        size_t la = strlen(a), lb = strlen(b);
        if (la != lb) return la < lb ? -1 : 1;
    }
    return strcmp(a, b);
}

char *corpus_path_join(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    while (la > 0 && a[la - 1] == '/') la--;
    char *p = veil_malloc(la + lb + 2);
    memcpy(p, a, la);
    p[la] = '/';
    memcpy(p + la + 1, b, lb + 1);
    return p;
}

int corpus_has_suffix_ci(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !strcasecmp(s + n - m, suffix);
}

/* ---------------- the builder ---------------- */
void corpus_builder_init(corpus_builder *b, int n_label_names, const char *const *label_names)
{
    memset(b, 0, sizeof *b);
    b->n_label_names = n_label_names;
    b->label_names = veil_calloc((size_t)n_label_names + 1, sizeof *b->label_names);
    for (int i = 0; i < n_label_names; i++) b->label_names[i] = veil_strdup(label_names[i]);
}

void corpus_builder_add(corpus_builder *b, const char *path, const char *speaker, char gender,
                        const char *const *labels, const char *where)
{
    if (b->n == b->cap) {
        b->cap = b->cap ? 2 * b->cap : 256;
        b->e = veil_realloc(b->e, b->cap * sizeof *b->e);
    }
    corpus_entry *e = &b->e[b->n++];
    e->path = veil_strdup(path);
    e->speaker = veil_strdup(speaker);
    e->gender = gender;
    e->labels = veil_calloc((size_t)b->n_label_names + 1, sizeof *e->labels);
    for (int i = 0; i < b->n_label_names; i++) e->labels[i] = veil_strdup(labels && labels[i] ? labels[i] : "");
    e->where = veil_strdup(where ? where : path);
}

static void free_strings(char **s, int n)
{
    if (!s) return;
    for (int i = 0; i < n; i++) free(s[i]);
    free(s);
}

void corpus_builder_free(corpus_builder *b)
{
    for (size_t i = 0; i < b->n; i++) {
        corpus_entry *e = &b->e[i];
        free(e->path);
        free(e->speaker);
        free_strings(e->labels, b->n_label_names);
        free(e->where);
    }
    free(b->e);
    free_strings(b->label_names, b->n_label_names);
    memset(b, 0, sizeof *b);
}

static int entry_cmp(const void *x, const void *y)
{
    const corpus_entry *a = x, *b = y;
    int c = corpus_id_cmp(a->speaker, b->speaker);
    return c ? c : strcmp(a->path, b->path);
}

static int entry_ptr_path_cmp(const void *x, const void *y)
{
    const corpus_entry *a = *(const corpus_entry *const *)x, *b = *(const corpus_entry *const *)y;
    return strcmp(a->path, b->path);
}

static int check_no_duplicate_files(const corpus_builder *b)
{
    const corpus_entry **p = veil_malloc(b->n * sizeof *p);
    for (size_t i = 0; i < b->n; i++) p[i] = &b->e[i];
    qsort(p, b->n, sizeof *p, entry_ptr_path_cmp);
    int rc = 0;
    for (size_t i = 1; i < b->n && rc == 0; i++)
        if (!strcmp(p[i - 1]->path, p[i]->path)) {
            veil_error("%s: %s is listed twice (also at %s)", p[i]->where, p[i]->path, p[i - 1]->where);
            rc = -1;
        }
    free(p);
    return rc;
}

/* Entries of one speaker must agree on gender and labels (TIMIT speakers in two dialect
 * folders, manifest rows that contradict each other). */
static int check_consistent(const corpus_builder *b, const corpus_entry *first, const corpus_entry *e)
{
    if (e->gender != first->gender) {
        veil_error("%s: speaker '%s' is given gender %c, but %c at %s", e->where, e->speaker, e->gender,
                   first->gender, first->where);
        return -1;
    }
    for (int l = 0; l < b->n_label_names; l++)
        if (strcmp(e->labels[l], first->labels[l])) {
            veil_error("%s: speaker '%s' has %s '%s', but '%s' at %s (labels are per speaker)", e->where,
                       e->speaker, b->label_names[l], e->labels[l], first->labels[l], first->where);
            return -1;
        }
    return 0;
}

int corpus_build(corpus_builder *b, veil_layout layout, const char *root, veil_corpus **out)
{
    *out = NULL;
    if (b->n == 0) {
        veil_error("%s: no speakers found (%s layout, but no audio files in it)", root, veil_layout_name(layout));
        corpus_builder_free(b);
        return -1;
    }
    if (check_no_duplicate_files(b) != 0) {
        corpus_builder_free(b);
        return -1;
    }
    qsort(b->e, b->n, sizeof *b->e, entry_cmp);

    veil_corpus *c = veil_calloc(1, sizeof *c);
    c->layout = layout;
    c->root = veil_strdup(root);
    c->n_label_names = b->n_label_names;
    c->utts = veil_calloc(b->n, sizeof *c->utts);
    c->speakers = veil_calloc(b->n, sizeof *c->speakers); /* at most one per entry; trimmed below */
    for (size_t i = 0; i < b->n; i++) {
        corpus_entry *e = &b->e[i];
        if (c->n_speakers == 0 || strcmp(c->speakers[c->n_speakers - 1].id, e->speaker)) {
            veil_speaker *s = &c->speakers[c->n_speakers++];
            s->id = e->speaker;
            s->gender = e->gender;
            s->labels = e->labels;
            s->first_utt = (int)i;
            e->speaker = NULL;
            e->labels = NULL;
        } else {
            const corpus_entry *first = &b->e[c->speakers[c->n_speakers - 1].first_utt];
            /* first's speaker/labels moved to the corpus: compare against the speaker record */
            corpus_entry ref = *first;
            ref.speaker = c->speakers[c->n_speakers - 1].id;
            ref.labels = c->speakers[c->n_speakers - 1].labels;
            ref.gender = c->speakers[c->n_speakers - 1].gender;
            if (check_consistent(b, &ref, e) != 0) {
                corpus_builder_free(b);
                veil_corpus_free(c);
                return -1;
            }
        }
        veil_speaker *s = &c->speakers[c->n_speakers - 1];
        s->n_utts++;
        c->utts[i].path = e->path;
        e->path = NULL;
        c->utts[i].speaker = c->n_speakers - 1;
        c->n_utts++;
    }
    c->label_names = b->label_names;
    b->label_names = NULL;
    corpus_builder_free(b);
    c->speakers = veil_realloc(c->speakers, (size_t)c->n_speakers * sizeof *c->speakers);

    for (int i = 0; i < c->n_utts; i++) {
        if (veil_audio_duration(c->utts[i].path, &c->utts[i].seconds) != 0) {
            veil_corpus_free(c);
            return -1;
        }
        c->speakers[c->utts[i].speaker].seconds += c->utts[i].seconds;
    }
    int nf = veil_corpus_count_gender(c, 'F'), nm = veil_corpus_count_gender(c, 'M');
    if (nf == 0 || nm == 0) {
        veil_error("%s: no %s speakers (%d %s speakers found); gender recognition needs both", root,
                   nf == 0 ? "female" : "male", nf ? nf : nm, nf ? "female" : "male");
        veil_corpus_free(c);
        return -1;
    }
    *out = c;
    return 0;
}

/* ---------------- loading and freeing ---------------- */
static int looks_like_manifest(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    char buf[4096];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    int comma = 0;
    for (size_t i = 0; i < n && buf[i] != '\n'; i++) {
        if (buf[i] == 0) return 0;
        comma |= buf[i] == ',';
    }
    return comma;
}


int veil_corpus_load(const char *path, veil_corpus **out)
{
    *out = NULL;
    struct stat st;
    if (stat(path, &st) != 0) {
        veil_error("%s: no such file or directory", path);
        return -1;
    }
    /* the root as given, without trailing slashes */
    char *root = veil_strdup(path);
    for (size_t n = strlen(root); n > 1 && root[n - 1] == '/'; n--) root[n - 1] = 0;
    int rc = -2;
    char *found = NULL;
    /* a manifest is any regular text file whose first line has a comma (a .csv, or a name
     * ending in anything else); an audio file or other binary is not */
    if (S_ISREG(st.st_mode) && (corpus_has_suffix_ci(root, ".csv") || looks_like_manifest(root))) {
        rc = corpus_load_manifest(root, out);
    } else if (S_ISDIR(st.st_mode)) {
        if (corpus_looks_like_timit(root)) {
            rc = corpus_load_timit(root, out);
        } else if ((found = corpus_find_file_ci(root, "SPEAKERS.TXT"))) {
            rc = corpus_load_librispeech(root, found, 1, out);
        } else if ((found = corpus_find_file_ci(root, "speaker-info.txt"))) {
            rc = corpus_load_vctk(root, found, out);
        } else {
            char *parent = corpus_path_join(root, "..");
            if ((found = corpus_find_file_ci(parent, "SPEAKERS.TXT")))
                rc = corpus_load_librispeech(root, found, 0, out);
            free(parent);
        }
    }
    if (rc == -2) {
        veil_error("%s: unknown layout: expected a TIMIT tree (TRAIN/ or TEST/ with DRn/), LibriSpeech "
                   "(SPEAKERS.TXT), VCTK (speaker-info.txt), or a manifest file",
                   root);
        rc = -1;
    }
    free(found);
    free(root);
    return rc;
}

void veil_corpus_free(veil_corpus *c)
{
    if (!c) return;
    for (int i = 0; i < c->n_speakers; i++) {
        free(c->speakers[i].id);
        free_strings(c->speakers[i].labels, c->n_label_names);
    }
    for (int i = 0; i < c->n_utts; i++) free(c->utts[i].path);
    free_strings(c->label_names, c->n_label_names);
    free(c->speakers);
    free(c->utts);
    free(c->root);
    free(c);
}

int veil_corpus_count_gender(const veil_corpus *c, char gender)
{
    int n = 0;
    for (int i = 0; i < c->n_speakers; i++) n += c->speakers[i].gender == gender;
    return n;
}

/* ---------------- tasks: a speaker-level label as classes ---------------- */
static int label_index(const veil_corpus *c, const char *name)
{
    for (int l = 0; l < c->n_label_names; l++)
        if (!strcmp(c->label_names[l], name)) return l;
    for (int l = 0; l < c->n_label_names; l++)
        if (!strcasecmp(c->label_names[l], name)) return l;
    return -1;
}

void corpus_classes_of(const char *const *values, int n, char ***names, int *k, int *class_of)
{
    char **nm = veil_calloc((size_t)n + 1, sizeof *nm);
    int nk = 0;
    for (int i = 0; i < n; i++) {
        int j = 0;
        while (j < nk && strcmp(nm[j], values[i])) j++;
        if (j == nk) nm[nk++] = veil_strdup(values[i]);
    }
    for (int i = 1; i < nk; i++)
        for (int j = i; j > 0 && corpus_id_cmp(nm[j - 1], nm[j]) > 0; j--) {
            char *t = nm[j];
            nm[j] = nm[j - 1];
            nm[j - 1] = t;
        }
    for (int i = 0; i < n; i++) {
        int j = 0;
        while (strcmp(nm[j], values[i])) j++;
        class_of[i] = j;
    }
    *names = nm;
    *k = nk;
}

int veil_corpus_has_task(const veil_corpus *c, const char *name)
{
    return !strcasecmp(name, "gender") || label_index(c, name) >= 0;
}

void veil_task_classes_free(veil_task_classes *t)
{
    if (!t) return;
    for (int i = 0; i < t->k; i++) free(t->names[i]);
    free(t->names);
    free(t->speakers);
    free(t->class_of);
    memset(t, 0, sizeof *t);
}

int veil_corpus_task(const veil_corpus *c, const char *task, veil_task_classes *out)
{
    memset(out, 0, sizeof *out);
    const char *root = c->root ? c->root : "corpus";
    int ns = c->n_speakers, label = -1;
    if (strcasecmp(task, "gender")) {
        label = label_index(c, task);
        if (label < 0) {
            veil_strbuf b = {0};
            for (int l = 0; l < c->n_label_names; l++) veil_strbuf_printf(&b, ", %s", c->label_names[l]);
            veil_error("%s: no label '%s' for --task; this corpus has: gender%s", root, task, b.s ? b.s : "");
            free(b.s);
            return -1;
        }
    }
    snprintf(out->name, sizeof out->name, "%s", label < 0 ? "gender" : c->label_names[label]);
    out->n_speakers = ns;
    out->class_of = veil_malloc((size_t)(ns ? ns : 1) * sizeof(int));
    const char **value = veil_malloc((size_t)(ns ? ns : 1) * sizeof *value);
    for (int s = 0; s < ns; s++) {
        const veil_speaker *sp = &c->speakers[s];
        value[s] = label < 0 ? (sp->gender == 'F' ? "F" : sp->gender == 'M' ? "M" : "") : sp->labels[label];
        if (!value[s][0]) {
            veil_error("%s: speaker %s has no %s, which --task %s needs (every speaker needs a class)", root,
                       sp->id, out->name, out->name);
            free(value);
            veil_task_classes_free(out);
            return -1;
        }
    }
    /* the classes: gender F then M (as the labels 0 and 1 always were); a label's values in
     * id order, so that the classes and their numbers do not depend on the speakers' order */
    if (label < 0) {
        out->names = veil_calloc(3, sizeof(char *));
        out->names[0] = veil_strdup("F");
        out->names[1] = veil_strdup("M");
        out->k = 2;
        for (int s = 0; s < ns; s++) out->class_of[s] = value[s][0] == 'M';
    } else {
        corpus_classes_of(value, ns, &out->names, &out->k, out->class_of);
    }
    out->speakers = veil_calloc((size_t)out->k, sizeof(int));
    for (int s = 0; s < ns; s++) out->speakers[out->class_of[s]]++;
    free(value);
    int present = 0;
    for (int j = 0; j < out->k; j++) present += out->speakers[j] > 0;
    if (present < 2) {
        veil_error("%s: --task %s needs at least 2 classes, but every speaker is %s%s", root, out->name,
                   out->k ? out->names[0] : "(none)", label < 0 ? "" : " (a label with one value is no task)");
        veil_task_classes_free(out);
        return -1;
    }
    return 0;
}

/* ---------------- summaries ---------------- */
typedef struct seconds_stats {
    double total, min, median, mean, max;
} seconds_stats;

static int cmp_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

static seconds_stats speaker_seconds(const veil_corpus *c)
{
    seconds_stats st = {0};
    if (c->n_speakers == 0) return st;
    double *v = veil_malloc((size_t)c->n_speakers * sizeof *v);
    for (int i = 0; i < c->n_speakers; i++) {
        v[i] = c->speakers[i].seconds;
        st.total += v[i];
    }
    qsort(v, (size_t)c->n_speakers, sizeof *v, cmp_double);
    int n = c->n_speakers;
    st.min = v[0];
    st.max = v[n - 1];
    st.median = n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
    st.mean = st.total / n;
    free(v);
    return st;
}

/* Speakers per value of label l, most frequent values first (at most 12 shown). */
static void summarize_label(const veil_corpus *c, int l, veil_strbuf *b)
{
    const char **vals = veil_calloc((size_t)c->n_speakers, sizeof *vals);
    int *counts = veil_calloc((size_t)c->n_speakers, sizeof *counts);
    int nv = 0;
    for (int i = 0; i < c->n_speakers; i++) {
        const char *v = c->speakers[i].labels[l];
        int j = 0;
        while (j < nv && strcmp(vals[j], v)) j++;
        if (j == nv) vals[nv++] = v;
        counts[j]++;
    }
    /* order by value (ids such as DR1..DR8 read best that way) */
    for (int i = 1; i < nv; i++)
        for (int j = i; j > 0 && corpus_id_cmp(vals[j - 1], vals[j]) > 0; j--) {
            const char *tv = vals[j];
            vals[j] = vals[j - 1];
            vals[j - 1] = tv;
            int tc = counts[j];
            counts[j] = counts[j - 1];
            counts[j - 1] = tc;
        }
    veil_strbuf_printf(b, "  %-12s", c->label_names[l]);
    for (int j = 0; j < nv && j < 12; j++) veil_strbuf_printf(b, "%s%s %d", j ? ", " : "", vals[j][0] ? vals[j] : "(none)", counts[j]);
    if (nv > 12) veil_strbuf_printf(b, ", ... (%d values)", nv);
    veil_strbuf_printf(b, "\n");
    free(vals);
    free(counts);
}

char *veil_corpus_summary_text(const veil_corpus *c)
{
    veil_strbuf b = {0};
    seconds_stats st = speaker_seconds(c);
    veil_strbuf_printf(&b, "layout        %s\n", veil_layout_name(c->layout));
    veil_strbuf_printf(&b, "root          %s\n", c->root);
    veil_strbuf_printf(&b, "speakers      %d (%d F / %d M)\n", c->n_speakers, veil_corpus_count_gender(c, 'F'),
                       veil_corpus_count_gender(c, 'M'));
    veil_strbuf_printf(&b, "utterances    %d\n", c->n_utts);
    veil_strbuf_printf(&b, "total         %.2f h (%.0f s)\n", st.total / 3600.0, st.total);
    veil_strbuf_printf(&b, "per speaker   min %.1f s, median %.1f s, mean %.1f s, max %.1f s\n", st.min, st.median,
                       st.mean, st.max);
    if (c->n_label_names > 0) veil_strbuf_printf(&b, "speakers by label:\n");
    for (int l = 0; l < c->n_label_names; l++) summarize_label(c, l, &b);
    /* what --task accepts here: gender and every label with 2 or more classes on every speaker */
    veil_strbuf_printf(&b, "tasks         gender (2 classes)");
    for (int l = 0; l < c->n_label_names; l++) {
        veil_task_classes t;
        if (veil_corpus_task(c, c->label_names[l], &t) == 0) {
            veil_strbuf_printf(&b, ", %s (%d classes)", t.name, t.k);
            veil_task_classes_free(&t);
        }
    }
    veil_strbuf_printf(&b, "\n");
    return b.s ? b.s : veil_strdup("");
}

char *veil_corpus_summary_json(const veil_corpus *c)
{
    seconds_stats st = speaker_seconds(c);
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "layout", veil_layout_name(c->layout));
    cJSON_AddStringToObject(o, "root", c->root);
    cJSON_AddNumberToObject(o, "speakers", c->n_speakers);
    cJSON_AddNumberToObject(o, "female", veil_corpus_count_gender(c, 'F'));
    cJSON_AddNumberToObject(o, "male", veil_corpus_count_gender(c, 'M'));
    cJSON_AddNumberToObject(o, "utterances", c->n_utts);
    cJSON_AddNumberToObject(o, "hours", st.total / 3600.0);
    cJSON *sec = cJSON_AddObjectToObject(o, "speaker_seconds");
    cJSON_AddNumberToObject(sec, "min", st.min);
    cJSON_AddNumberToObject(sec, "median", st.median);
    cJSON_AddNumberToObject(sec, "mean", st.mean);
    cJSON_AddNumberToObject(sec, "max", st.max);
    cJSON *names = cJSON_AddArrayToObject(o, "label_names");
    for (int l = 0; l < c->n_label_names; l++) cJSON_AddItemToArray(names, cJSON_CreateString(c->label_names[l]));
    /* the tasks --task accepts, each class with its speaker count */
    cJSON *tasks = cJSON_AddObjectToObject(o, "tasks");
    for (int l = -1; l < c->n_label_names; l++) {
        veil_task_classes t;
        if (veil_corpus_task(c, l < 0 ? "gender" : c->label_names[l], &t)) continue;
        cJSON *to = cJSON_AddObjectToObject(tasks, t.name);
        for (int j = 0; j < t.k; j++) cJSON_AddNumberToObject(to, t.names[j], t.speakers[j]);
        veil_task_classes_free(&t);
    }
    cJSON *list = cJSON_AddArrayToObject(o, "speaker_list");
    for (int i = 0; i < c->n_speakers; i++) {
        const veil_speaker *s = &c->speakers[i];
        cJSON *so = cJSON_CreateObject();
        char g[2] = {s->gender, 0};
        cJSON_AddStringToObject(so, "id", s->id);
        cJSON_AddStringToObject(so, "gender", g);
        cJSON *labels = cJSON_AddObjectToObject(so, "labels");
        for (int l = 0; l < c->n_label_names; l++) cJSON_AddStringToObject(labels, c->label_names[l], s->labels[l]);
        cJSON_AddNumberToObject(so, "utterances", s->n_utts);
        cJSON_AddNumberToObject(so, "seconds", s->seconds);
        cJSON_AddItemToArray(list, so);
    }
    char *res = veil_json_print(o);
    cJSON_Delete(o);
    return res;
}
