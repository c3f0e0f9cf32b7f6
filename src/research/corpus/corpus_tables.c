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

/* One line of a table file: 0, or -1 after veil_error naming path:line. */
typedef int (*table_line_fn)(spk_table *t, char *ln, const char *path, int line);

/* Reads a speaker table line by line, then sorts it. */
static int read_table(const char *path, spk_table *t, table_line_fn parse_line)
{
    char *data;
    if (veil_read_text_file(path, &data, NULL) != 0) return -1;
    int rc = 0, line = 0;
    for (char *ln = data, *next; ln && rc == 0; ln = next) {
        line++;
        next = strchr(ln, '\n');
        if (next) *next++ = 0;
        rc = parse_line(t, ln, path, line);
    }
    free(data);
    return rc == 0 ? table_finish(t, path) : -1;
}

/* The gender of a row of nf fields (at least 3, laid out as `format`), or 0 after veil_error. */
static char row_gender(const char *path, int line, int nf, const char *format, const char *id, const char *sex)
{
    if (nf < 3) {
        veil_error("%s:%d: expected '%s'", path, line, format);
        return 0;
    }
    char g = corpus_parse_gender(sex);
    if (!g) veil_error("%s:%d: unknown gender '%s' for speaker %s (expected F or M)", path, line, sex, id);
    return g;
}

/* What the loaders pass to the folders they visit. */
typedef struct table_load {
    corpus_builder *b;
    const spk_table *t;
    missing_list *m;
} table_load;

/* ---------------- LibriSpeech ---------------- */
static int speakers_txt_line(spk_table *t, char *ln, const char *path, int line)
{
    char *s = trim(ln), *save = NULL;
    if (!*s || *s == ';') return 0;
    char *f[4] = {0};
    int nf = 0;
    for (char *tok = strtok_r(s, "|", &save); tok && nf < 4; tok = strtok_r(NULL, "|", &save))
        f[nf++] = trim(tok);
    char g = row_gender(path, line, nf, "ID | SEX | SUBSET | MINUTES | NAME", f[0], f[1]);
    if (!g) return -1;
    table_add(t, f[0], g, f[2], NULL);
    return 0;
}

static int libri_speaker(void *ctx, const char *dir, const char *id)
{
    table_load *L = ctx;
    const spk_info *s = table_find(L->t, id);
    if (!s) {
        missing_add(L->m, id);
        return 0;
    }
    const char *labels[1] = {s->labels[0]};
    return corpus_add_speaker_folder(L->b, dir, 1, id, s->gender, labels);
}

/* Speaker folders directly under DIR (a subset folder). */
static int libri_speakers_in(void *ctx, const char *dir, const char *name)
{
    (void)name;
    return corpus_each_folder(dir, libri_speaker, ctx);
}

/* A child of the root: a subset folder (train-clean-100/) or, when numeric, a speaker. */
static int libri_root_child(void *ctx, const char *dir, const char *name)
{
    return corpus_all_digits(name) ? libri_speaker(ctx, dir, name) : libri_speakers_in(ctx, dir, name);
}

int corpus_load_librispeech(const char *root, const char *speakers_txt, int txt_in_root, veil_corpus **out)
{
    static const char *const label_names[1] = {"subset"};
    spk_table t = {0};
    if (read_table(speakers_txt, &t, speakers_txt_line) != 0) {
        table_free(&t);
        return -1;
    }
    corpus_builder b;
    corpus_builder_init(&b, 1, label_names);
    missing_list m = {.n = 0};
    table_load L = {&b, &t, &m};
    int rc = corpus_each_folder(root, txt_in_root ? libri_root_child : libri_speaker, &L);
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

static int speaker_info_line(spk_table *t, char *ln, const char *path, int line)
{
    char *f[4] = {0}, *save = NULL;
    int nf = 0;
    for (char *tok = strtok_r(ln, " \t\r", &save); tok && nf < 4; tok = strtok_r(NULL, " \t\r", &save))
        f[nf++] = tok;
    if (nf == 0 || f[0][0] == ';' || f[0][0] == '#') return 0;
    if (!strcasecmp(f[0], "ID")) return 0; /* the header line */
    char g = row_gender(path, line, nf, "ID AGE GENDER ACCENTS REGION", f[0], f[2]);
    if (!g) return -1;
    table_add(t, vctk_key(f[0]), g, f[1], nf > 3 ? f[3] : "");
    return 0;
}

static int vctk_speaker(void *ctx, const char *dir, const char *id)
{
    table_load *L = ctx;
    const spk_info *s = table_find(L->t, vctk_key(id));
    if (!s) {
        missing_add(L->m, id);
        return 0;
    }
    const char *labels[2] = {s->labels[0], s->labels[1]};
    return corpus_add_speaker_folder(L->b, dir, 0, id, s->gender, labels);
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
    if (read_table(speaker_info, &t, speaker_info_line) != 0) {
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
    table_load L = {&b, &t, &m};
    int rc = corpus_each_folder(adir, vctk_speaker, &L);
    if (rc == 0) rc = missing_report(&m, speaker_info);
    table_free(&t);
    free(adir);
    if (rc != 0) {
        corpus_builder_free(&b);
        return -1;
    }
    return corpus_build(&b, VEIL_LAYOUT_VCTK, root, out);
}
