/* Directory layouts: TIMIT (TRAIN|TEST/DRn/<F|M>id/<utt>.WAV), LibriSpeech (SPEAKERS.TXT +
 * subset/speaker/chapter/<utt>.flac) and VCTK (speaker-info.txt + wav48.../speaker/<utt>). */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "corpus_internal.h"
#include "veil/common.h"

/* ---------------- directory helpers ---------------- */
typedef struct name_list {
    char **v;
    int n;
} name_list;

static void names_free(name_list *l)
{
    for (int i = 0; i < l->n; i++) free(l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

static int cmp_str(const void *x, const void *y) { return strcmp(*(char *const *)x, *(char *const *)y); }

/* Names in DIR, sorted, without hidden entries (the .veil-cache folder among them). */
static int list_dir(const char *dir, name_list *out)
{
    out->v = NULL;
    out->n = 0;
    DIR *d = opendir(dir);
    if (!d) {
        veil_error("%s: cannot read folder: %s", dir, strerror(errno));
        return -1;
    }
    int cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        if (out->n == cap) {
            cap = cap ? 2 * cap : 32;
            out->v = veil_realloc(out->v, (size_t)cap * sizeof *out->v);
        }
        out->v[out->n++] = veil_strdup(e->d_name);
    }
    closedir(d);
    if (out->n) qsort(out->v, (size_t)out->n, sizeof *out->v, cmp_str);
    return 0;
}

static int has_name(const name_list *l, const char *name)
{
    return bsearch(&name, l->v, (size_t)l->n, sizeof *l->v, cmp_str) != NULL;
}

char *corpus_find_file_ci(const char *dir, const char *name)
{
    name_list l;
    if (list_dir(dir, &l) != 0) return NULL;
    char *found = NULL;
    for (int i = 0; i < l.n && !found; i++)
        if (!strcasecmp(l.v[i], name)) {
            char *p = corpus_path_join(dir, l.v[i]);
            if (!veil_is_dir(p)) found = p;
            else free(p);
        }
    names_free(&l);
    return found;
}

static int is_audio_name(const char *name)
{
    return corpus_has_suffix_ci(name, ".wav") || corpus_has_suffix_ci(name, ".flac") ||
           corpus_has_suffix_ci(name, ".sph") || corpus_has_suffix_ci(name, ".ogg");
}

/* A second copy of a recording that is already listed: "SA1.WAV.wav" beside "SA1.WAV"
 * (TIMIT copies that ship a RIFF conversion next to the SPHERE file), and VCTK 0.92's
 * "_mic2" file beside its "_mic1" twin. */
static int is_duplicate_copy(const name_list *l, const char *name)
{
    const char *dot = strrchr(name, '.');
    size_t stem = dot ? (size_t)(dot - name) : strlen(name);
    char *s = veil_strdup(name);
    s[stem] = 0;
    int dup = is_audio_name(s) && has_name(l, s);
    if (!dup && stem >= 5 && !strncasecmp(name + stem - 5, "_mic2", 5)) {
        memcpy(s, name, strlen(name) + 1);
        s[stem - 1] = '1';
        dup = has_name(l, s);
    }
    free(s);
    return dup;
}

/* Audio files in DIR (and in its sub-folders down to `depth` more levels), sorted. */
static int collect_audio(const char *dir, int depth, name_list *files)
{
    name_list l;
    if (list_dir(dir, &l) != 0) return -1;
    int rc = 0;
    for (int i = 0; i < l.n && rc == 0; i++) {
        char *p = corpus_path_join(dir, l.v[i]);
        if (veil_is_dir(p)) {
            if (depth > 0) rc = collect_audio(p, depth - 1, files);
            free(p);
        } else if (is_audio_name(l.v[i]) && !is_duplicate_copy(&l, l.v[i])) {
            files->v = veil_realloc(files->v, (size_t)(files->n + 1) * sizeof *files->v);
            files->v[files->n++] = p;
        } else {
            free(p);
        }
    }
    names_free(&l);
    return rc;
}

/* Add every audio file of one speaker folder; an empty folder is an error. */
static int add_speaker(corpus_builder *b, const char *dir, int depth, const char *id, char gender,
                       const char *const *labels)
{
    name_list files = {0};
    if (collect_audio(dir, depth, &files) != 0) return -1;
    if (files.n == 0) {
        veil_error("%s: empty speaker (no audio files)", dir);
        return -1;
    }
    for (int i = 0; i < files.n; i++) corpus_builder_add(b, files.v[i], id, gender, labels, dir);
    names_free(&files);
    return 0;
}

static void upcase(char *s)
{
    for (; *s; s++) *s = (char)toupper((unsigned char)*s);
}

static int all_digits(const char *s)
{
    if (!*s) return 0;
    for (; *s; s++)
        if (!isdigit((unsigned char)*s)) return 0;
    return 1;
}

/* ---------------- TIMIT ---------------- */
static int is_dialect_name(const char *s)
{
    return tolower((unsigned char)s[0]) == 'd' && tolower((unsigned char)s[1]) == 'r' && all_digits(s + 2);
}
static int is_subset_name(const char *s) { return !strcasecmp(s, "train") || !strcasecmp(s, "test"); }

static int has_dialect_folder(const char *dir)
{
    name_list l;
    if (list_dir(dir, &l) != 0) return 0;
    int found = 0;
    for (int i = 0; i < l.n && !found; i++)
        if (is_dialect_name(l.v[i])) {
            char *p = corpus_path_join(dir, l.v[i]);
            found = veil_is_dir(p);
            free(p);
        }
    names_free(&l);
    return found;
}

int corpus_looks_like_timit(const char *root)
{
    name_list l;
    if (list_dir(root, &l) != 0) return 0;
    int found = 0;
    for (int i = 0; i < l.n && !found; i++)
        if (is_subset_name(l.v[i])) {
            char *p = corpus_path_join(root, l.v[i]);
            found = has_dialect_folder(p);
            free(p);
        }
    names_free(&l);
    /* ROOT may also be one subset itself (TIMIT/TRAIN) */
    return found || has_dialect_folder(root);
}

/* One subset folder: DRn/<speaker>/<utt>.WAV */
static int timit_subset(corpus_builder *b, const char *dir, const char *subset)
{
    name_list regions;
    if (list_dir(dir, &regions) != 0) return -1;
    int rc = 0;
    for (int r = 0; r < regions.n && rc == 0; r++) {
        char *rdir = corpus_path_join(dir, regions.v[r]);
        name_list spk = {0};
        if (is_dialect_name(regions.v[r]) && veil_is_dir(rdir)) rc = list_dir(rdir, &spk);
        char dialect[64];
        snprintf(dialect, sizeof dialect, "%s", regions.v[r]);
        upcase(dialect);
        for (int s = 0; s < spk.n && rc == 0; s++) {
            char *sdir = corpus_path_join(rdir, spk.v[s]);
            if (veil_is_dir(sdir)) {
                char g = (char)toupper((unsigned char)spk.v[s][0]);
                if (g != 'F' && g != 'M') {
                    veil_error("%s: speaker without gender (a TIMIT speaker folder starts with F or M)", sdir);
                    rc = -1;
                } else {
                    const char *labels[2] = {dialect, subset};
                    rc = add_speaker(b, sdir, 0, spk.v[s], g, labels);
                }
            }
            free(sdir);
        }
        names_free(&spk);
        free(rdir);
    }
    names_free(&regions);
    return rc;
}

int corpus_load_timit(const char *root, veil_corpus **out)
{
    static const char *const label_names[2] = {"dialect", "subset"};
    corpus_builder b;
    corpus_builder_init(&b, 2, label_names);
    name_list l;
    int rc = list_dir(root, &l);
    int subsets = 0;
    for (int i = 0; i < l.n && rc == 0; i++) {
        char *p = corpus_path_join(root, l.v[i]);
        if (is_subset_name(l.v[i]) && has_dialect_folder(p)) {
            char subset[8];
            snprintf(subset, sizeof subset, "%s", l.v[i]);
            upcase(subset);
            rc = timit_subset(&b, p, subset);
            subsets++;
        }
        free(p);
    }
    names_free(&l);
    if (rc == 0 && subsets == 0) {
        /* ROOT is a subset folder itself: its name (TRAIN/TEST) is the subset label */
        const char *base = strrchr(root, '/');
        base = base ? base + 1 : root;
        char subset[8] = "";
        if (is_subset_name(base)) {
            snprintf(subset, sizeof subset, "%s", base);
            upcase(subset);
        }
        rc = timit_subset(&b, root, subset);
    }
    if (rc != 0) {
        corpus_builder_free(&b);
        return -1;
    }
    return corpus_build(&b, VEIL_LAYOUT_TIMIT, root, out);
}

/* ---------------- speaker tables (SPEAKERS.TXT, speaker-info.txt) ---------------- */
typedef struct spk_info {
    char *key; /* id as matched against folder names */
    char gender;
    char *labels[2];
} spk_info;

typedef struct spk_table {
    spk_info *v;
    int n;
} spk_table;

static int spk_cmp(const void *x, const void *y)
{
    return strcmp(((const spk_info *)x)->key, ((const spk_info *)y)->key);
}

static void table_free(spk_table *t)
{
    for (int i = 0; i < t->n; i++) {
        free(t->v[i].key);
        free(t->v[i].labels[0]);
        free(t->v[i].labels[1]);
    }
    free(t->v);
}

static void table_add(spk_table *t, const char *key, char gender, const char *l0, const char *l1)
{
    t->v = veil_realloc(t->v, (size_t)(t->n + 1) * sizeof *t->v);
    spk_info *s = &t->v[t->n++];
    s->key = veil_strdup(key);
    s->gender = gender;
    s->labels[0] = veil_strdup(l0 ? l0 : "");
    s->labels[1] = veil_strdup(l1 ? l1 : "");
}

static const spk_info *table_find(const spk_table *t, const char *key)
{
    spk_info k = {.key = (char *)key};
    return t->n ? bsearch(&k, t->v, (size_t)t->n, sizeof *t->v, spk_cmp) : NULL;
}

/* Sort and refuse an id listed twice. */
static int table_finish(spk_table *t, const char *file)
{
    if (t->n) qsort(t->v, (size_t)t->n, sizeof *t->v, spk_cmp);
    for (int i = 1; i < t->n; i++)
        if (!strcmp(t->v[i].key, t->v[i - 1].key)) {
            veil_error("%s: speaker %s is listed twice", file, t->v[i].key);
            return -1;
        }
    return 0;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s)) s++;
    size_t n = strlen(s);
    while (n && isspace((unsigned char)s[n - 1])) s[--n] = 0;
    return s;
}

/* Collects the ids of speaker folders that the table does not know, for one message. */
typedef struct missing_list {
    char msg[1024];
    int n;
} missing_list;

static void missing_add(missing_list *m, const char *id)
{
    size_t len = strlen(m->msg);
    if (m->n < 12) snprintf(m->msg + len, sizeof m->msg - len, "%s%s", m->n ? ", " : "", id);
    m->n++;
}

static int missing_report(const missing_list *m, const char *table)
{
    if (m->n == 0) return 0;
    veil_error("%s: %d speaker folder%s not listed: %s%s", table, m->n, m->n == 1 ? "" : "s", m->msg,
               m->n > 12 ? ", ..." : "");
    return -1;
}

/* ---------------- LibriSpeech ---------------- */
static int read_speakers_txt(const char *path, spk_table *t)
{
    char *data;
    if (veil_read_file(path, &data, NULL) != 0) return -1;
    int rc = 0, line = 0;
    char *save = NULL;
    for (char *ln = data, *next; ln && rc == 0; ln = next) {
        line++;
        next = strchr(ln, '\n');
        if (next) *next++ = 0;
        char *s = trim(ln);
        if (!*s || *s == ';') continue;
        char *f[4] = {0};
        int nf = 0;
        for (char *tok = strtok_r(s, "|", &save); tok && nf < 4; tok = strtok_r(NULL, "|", &save))
            f[nf++] = trim(tok);
        char g = nf >= 3 ? corpus_parse_gender(f[1]) : 0;
        if (nf < 3) {
            veil_error("%s:%d: expected 'ID | SEX | SUBSET | MINUTES | NAME'", path, line);
            rc = -1;
        } else if (!g) {
            veil_error("%s:%d: unknown gender '%s' for speaker %s (expected F or M)", path, line, f[1], f[0]);
            rc = -1;
        } else {
            table_add(t, f[0], g, f[2], NULL);
        }
    }
    free(data);
    return rc == 0 ? table_finish(t, path) : -1;
}

static int libri_speaker(corpus_builder *b, const spk_table *t, missing_list *m, const char *dir, const char *id)
{
    const spk_info *s = table_find(t, id);
    if (!s) {
        missing_add(m, id);
        return 0;
    }
    const char *labels[1] = {s->labels[0]};
    return add_speaker(b, dir, 1, id, s->gender, labels);
}

/* Speaker folders directly under DIR. */
static int libri_speakers_in(corpus_builder *b, const spk_table *t, missing_list *m, const char *dir)
{
    name_list l;
    if (list_dir(dir, &l) != 0) return -1;
    int rc = 0;
    for (int i = 0; i < l.n && rc == 0; i++) {
        char *p = corpus_path_join(dir, l.v[i]);
        if (veil_is_dir(p)) rc = libri_speaker(b, t, m, p, l.v[i]);
        free(p);
    }
    names_free(&l);
    return rc;
}

int corpus_load_librispeech(const char *root, const char *speakers_txt, int txt_in_root, veil_corpus **out)
{
    static const char *const label_names[1] = {"subset"};
    spk_table t = {0};
    if (read_speakers_txt(speakers_txt, &t) != 0) {
        table_free(&t);
        return -1;
    }
    corpus_builder b;
    corpus_builder_init(&b, 1, label_names);
    missing_list m = {.n = 0};
    int rc = 0;
    if (!txt_in_root) {
        rc = libri_speakers_in(&b, &t, &m, root);
    } else {
        /* children are subset folders (train-clean-100/) or, when numeric, speakers */
        name_list l;
        rc = list_dir(root, &l);
        for (int i = 0; i < l.n && rc == 0; i++) {
            char *p = corpus_path_join(root, l.v[i]);
            if (veil_is_dir(p))
                rc = all_digits(l.v[i]) ? libri_speaker(&b, &t, &m, p, l.v[i]) : libri_speakers_in(&b, &t, &m, p);
            free(p);
        }
        names_free(&l);
    }
    if (rc == 0) rc = missing_report(&m, speakers_txt);
    table_free(&t);
    if (rc != 0) {
        corpus_builder_free(&b);
        return -1;
    }
    return corpus_build(&b, VEIL_LAYOUT_LIBRISPEECH, root, out);
}

/* ---------------- VCTK ---------------- */
/* "p225" and "225" name the same speaker (VCTK 0.80 lists ids without the prefix). */
static const char *vctk_key(const char *id)
{
    return (id[0] == 'p' || id[0] == 'P') && all_digits(id + 1) ? id + 1 : id;
}

static int read_speaker_info(const char *path, spk_table *t)
{
    char *data;
    if (veil_read_file(path, &data, NULL) != 0) return -1;
    int rc = 0, line = 0;
    char *save = NULL;
    for (char *ln = data, *next; ln && rc == 0; ln = next) {
        line++;
        next = strchr(ln, '\n');
        if (next) *next++ = 0;
        char *f[4] = {0};
        int nf = 0;
        for (char *tok = strtok_r(ln, " \t\r", &save); tok && nf < 4; tok = strtok_r(NULL, " \t\r", &save))
            f[nf++] = tok;
        if (nf == 0 || f[0][0] == ';' || f[0][0] == '#') continue;
        if (!strcasecmp(f[0], "ID")) continue; /* the header line */
        char g = nf >= 3 ? corpus_parse_gender(f[2]) : 0;
        if (nf < 3) {
            veil_error("%s:%d: expected 'ID AGE GENDER ACCENTS REGION'", path, line);
            rc = -1;
        } else if (!g) {
            veil_error("%s:%d: unknown gender '%s' for speaker %s (expected F or M)", path, line, f[2], f[0]);
            rc = -1;
        } else {
            table_add(t, vctk_key(f[0]), g, f[1], nf > 3 ? f[3] : "");
        }
    }
    free(data);
    return rc == 0 ? table_finish(t, path) : -1;
}

/* The audio folder: wav48_silence_trimmed (VCTK 0.92), else wav48 (0.80), else the first
 * other folder whose name starts with "wav" (a user's resampled copy, e.g. wav16). */
static char *vctk_audio_dir(const char *root)
{
    name_list l;
    if (list_dir(root, &l) != 0) return NULL;
    const char *best = NULL;
    int best_rank = 99;
    for (int i = 0; i < l.n; i++) {
        char *p = corpus_path_join(root, l.v[i]);
        int is_dir = veil_is_dir(p);
        free(p);
        if (!is_dir || strncasecmp(l.v[i], "wav", 3)) continue;
        int rank = !strcasecmp(l.v[i], "wav48_silence_trimmed") ? 0 : !strcasecmp(l.v[i], "wav48") ? 1 : 2;
        if (rank < best_rank) {
            best_rank = rank;
            best = l.v[i];
        }
    }
    char *dir = best ? corpus_path_join(root, best) : NULL;
    names_free(&l);
    if (!dir) veil_error("%s: VCTK layout (speaker-info.txt) but no wav48*/ audio folder", root);
    return dir;
}

int corpus_load_vctk(const char *root, const char *speaker_info, veil_corpus **out)
{
    static const char *const label_names[2] = {"age", "accent"};
    spk_table t = {0};
    if (read_speaker_info(speaker_info, &t) != 0) {
        table_free(&t);
        return -1;
    }
    char *adir = vctk_audio_dir(root);
    if (!adir) {
        table_free(&t);
        return -1;
    }
    corpus_builder b;
    corpus_builder_init(&b, 2, label_names);
    missing_list m = {.n = 0};
    name_list l;
    int rc = list_dir(adir, &l);
    for (int i = 0; i < l.n && rc == 0; i++) {
        char *p = corpus_path_join(adir, l.v[i]);
        if (veil_is_dir(p)) {
            const spk_info *s = table_find(&t, vctk_key(l.v[i]));
            if (!s) {
                missing_add(&m, l.v[i]);
            } else {
                const char *labels[2] = {s->labels[0], s->labels[1]};
                rc = add_speaker(&b, p, 0, l.v[i], s->gender, labels);
            }
        }
        free(p);
    }
    names_free(&l);
    if (rc == 0) rc = missing_report(&m, speaker_info);
    table_free(&t);
    free(adir);
    if (rc != 0) {
        corpus_builder_free(&b);
        return -1;
    }
    return corpus_build(&b, VEIL_LAYOUT_VCTK, root, out);
}
