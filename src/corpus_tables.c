/* LibriSpeech (SPEAKERS.TXT + subset/speaker/chapter/<utt>.flac) and VCTK (speaker-info.txt
 * + wav48.../speaker/<utt>): speaker folders matched against a speaker table. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "corpus_internal.h"
#include "veil/common.h"

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
    return corpus_add_speaker_folder(b, dir, 1, id, s->gender, labels);
}

/* Speaker folders directly under DIR. */
static int libri_speakers_in(corpus_builder *b, const spk_table *t, missing_list *m, const char *dir)
{
    corpus_names l;
    if (corpus_list_dir(dir, &l) != 0) return -1;
    int rc = 0;
    for (int i = 0; i < l.n && rc == 0; i++) {
        char *p = corpus_path_join(dir, l.v[i]);
        if (veil_is_dir(p)) rc = libri_speaker(b, t, m, p, l.v[i]);
        free(p);
    }
    corpus_names_free(&l);
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
        corpus_names l;
        rc = corpus_list_dir(root, &l);
        for (int i = 0; i < l.n && rc == 0; i++) {
            char *p = corpus_path_join(root, l.v[i]);
            if (veil_is_dir(p))
                rc = corpus_all_digits(l.v[i]) ? libri_speaker(&b, &t, &m, p, l.v[i]) : libri_speakers_in(&b, &t, &m, p);
            free(p);
        }
        corpus_names_free(&l);
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
    return (id[0] == 'p' || id[0] == 'P') && corpus_all_digits(id + 1) ? id + 1 : id;
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
    corpus_names l;
    if (corpus_list_dir(root, &l) != 0) return NULL;
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
    corpus_names_free(&l);
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
    corpus_names l;
    int rc = corpus_list_dir(adir, &l);
    for (int i = 0; i < l.n && rc == 0; i++) {
        char *p = corpus_path_join(adir, l.v[i]);
        if (veil_is_dir(p)) {
            const spk_info *s = table_find(&t, vctk_key(l.v[i]));
            if (!s) {
                missing_add(&m, l.v[i]);
            } else {
                const char *labels[2] = {s->labels[0], s->labels[1]};
                rc = corpus_add_speaker_folder(&b, p, 0, l.v[i], s->gender, labels);
            }
        }
        free(p);
    }
    corpus_names_free(&l);
    if (rc == 0) rc = missing_report(&m, speaker_info);
    table_free(&t);
    free(adir);
    if (rc != 0) {
        corpus_builder_free(&b);
        return -1;
    }
    return corpus_build(&b, VEIL_LAYOUT_VCTK, root, out);
}
