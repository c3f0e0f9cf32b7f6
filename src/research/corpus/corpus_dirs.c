/* Folder walking shared by the directory layouts, and the TIMIT layout
 * (TRAIN|TEST/DRn/<F|M>id/<utt>.WAV). LibriSpeech and VCTK are in corpus_tables.c. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

#include "corpus_internal.h"
#include "veil/common.h"

/* ---------------- directory helpers ---------------- */
void corpus_names_free(corpus_names *l)
{
    for (int i = 0; i < l->n; i++) free(l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

static int cmp_str(const void *x, const void *y) { return strcmp(*(char *const *)x, *(char *const *)y); }

/* Names in DIR, sorted, without hidden entries (the .veil-cache folder among them). */
int corpus_list_dir(const char *dir, corpus_names *out)
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

int corpus_each_folder(const char *dir, corpus_folder_fn fn, void *ctx)
{
    corpus_names l;
    if (corpus_list_dir(dir, &l) != 0) return -1;
    int rc = 0;
    for (int i = 0; i < l.n && rc == 0; i++) {
        char *p = corpus_path_join(dir, l.v[i]);
        if (veil_is_dir(p)) rc = fn(ctx, p, l.v[i]);
        free(p);
    }
    corpus_names_free(&l);
    return rc;
}

/* 1 if some entry of DIR has a name that name_ok accepts and a path that path_ok accepts. */
static int any_entry(const char *dir, int (*name_ok)(const char *), int (*path_ok)(const char *))
{
    corpus_names l;
    if (corpus_list_dir(dir, &l) != 0) return 0;
    int found = 0;
    for (int i = 0; i < l.n && !found; i++)
        if (name_ok(l.v[i])) {
            char *p = corpus_path_join(dir, l.v[i]);
            found = path_ok(p);
            free(p);
        }
    corpus_names_free(&l);
    return found;
}

static int has_name(const corpus_names *l, const char *name)
{
    return bsearch(&name, l->v, (size_t)l->n, sizeof *l->v, cmp_str) != NULL;
}

char *corpus_find_file_ci(const char *dir, const char *name)
{
    corpus_names l;
    if (corpus_list_dir(dir, &l) != 0) return NULL;
    char *found = NULL;
    for (int i = 0; i < l.n && !found; i++)
        if (!strcasecmp(l.v[i], name)) {
            char *p = corpus_path_join(dir, l.v[i]);
            if (!veil_is_dir(p)) found = p;
            else free(p);
        }
    corpus_names_free(&l);
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
static int is_duplicate_copy(const corpus_names *l, const char *name)
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
static int collect_audio(const char *dir, int depth, corpus_names *files)
{
    corpus_names l;
    if (corpus_list_dir(dir, &l) != 0) return -1;
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
    corpus_names_free(&l);
    return rc;
}

/* Add every audio file of one speaker folder; an empty folder is an error. */
int corpus_add_speaker_folder(corpus_builder *b, const char *dir, int depth, const char *id, char gender,
                              const char *const *labels)
{
    corpus_names files = {0};
    if (collect_audio(dir, depth, &files) != 0) return -1;
    if (files.n == 0) {
        veil_error("%s: empty speaker (no audio files)", dir);
        return -1;
    }
    for (int i = 0; i < files.n; i++) corpus_builder_add(b, files.v[i], id, gender, labels, dir);
    corpus_names_free(&files);
    return 0;
}

static void upcase(char *s)
{
    for (; *s; s++) *s = (char)toupper((unsigned char)*s);
}

/* ---------------- TIMIT ---------------- */
static int is_dialect_name(const char *s)
{
    return tolower((unsigned char)s[0]) == 'd' && tolower((unsigned char)s[1]) == 'r' && corpus_all_digits(s + 2);
}
static int is_subset_name(const char *s) { return !strcasecmp(s, "train") || !strcasecmp(s, "test"); }

static int has_dialect_folder(const char *dir) { return any_entry(dir, is_dialect_name, veil_is_dir); }

int corpus_looks_like_timit(const char *root)
{
    /* ROOT may also be one subset itself (TIMIT/TRAIN) */
    return any_entry(root, is_subset_name, has_dialect_folder) || has_dialect_folder(root);
}

/* A veil synthetic corpus (TIMIT layout with synth.json beside it): each speaker's
 * espeak-ng English variant (base_voice: en-us, en-gb-x-rp, ...), a real acoustic accent,
 * as the label "accent" (its dialect folders are drawn independently of the voice). */
typedef struct synth_accents {
    int n;
    char **id, **accent;
} synth_accents;

static void synth_accents_free(synth_accents *a)
{
    for (int i = 0; i < a->n; i++) free(a->id[i]), free(a->accent[i]);
    free(a->id);
    free(a->accent);
    memset(a, 0, sizeof *a);
}

/* 0 with a->n = 0 when root has no synth.json; -1 naming the file when it is malformed */
static int synth_accents_read(const char *root, synth_accents *a)
{
    memset(a, 0, sizeof *a);
    char *path = corpus_path_join(root, "synth.json"), *text = NULL;
    int rc = 0;
    if (!veil_path_exists(path)) goto done;
    rc = -1;
    if (veil_read_file(path, &text, NULL) != 0) goto done;
    cJSON *o = cJSON_Parse(text);
    const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(o, "format");
    const cJSON *spk = cJSON_GetObjectItemCaseSensitive(o, "speakers");
    if (!o || !cJSON_IsString(fmt) || strncmp(fmt->valuestring, "veil synthetic corpus", 21) || !cJSON_IsArray(spk)) {
        veil_error("%s: not a veil synthetic corpus description (expected JSON with \"format\": \"veil synthetic "
                   "corpus 1\" and a \"speakers\" array); move it away to read the folder as plain TIMIT", path);
        cJSON_Delete(o);
        goto done;
    }
    int n = cJSON_GetArraySize(spk), i = 0;
    a->id = veil_calloc((size_t)n + 1, sizeof *a->id);
    a->accent = veil_calloc((size_t)n + 1, sizeof *a->accent);
    const cJSON *e;
    cJSON_ArrayForEach(e, spk) {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(e, "id"), *v = cJSON_GetObjectItemCaseSensitive(e, "base_voice");
        if (!cJSON_IsString(id) || !cJSON_IsString(v) || !v->valuestring[0]) {
            veil_error("%s: speakers[%d] has no \"id\" or no \"base_voice\" string", path, i);
            cJSON_Delete(o);
            synth_accents_free(a);
            goto done;
        }
        a->id[a->n] = veil_strdup(id->valuestring);
        a->accent[a->n++] = veil_strdup(v->valuestring);
        i++;
    }
    cJSON_Delete(o);
    rc = 0;
done:
    free(text);
    free(path);
    return rc;
}

static const char *synth_accent_of(const synth_accents *a, const char *id)
{
    for (int i = 0; i < a->n; i++)
        if (!strcasecmp(a->id[i], id)) return a->accent[i];
    return "";
}

/* One subset folder: DRn/<speaker>/<utt>.WAV */
static int timit_subset(corpus_builder *b, const char *dir, const char *subset, const synth_accents *accents)
{
    corpus_names regions;
    if (corpus_list_dir(dir, &regions) != 0) return -1;
    int rc = 0;
    for (int r = 0; r < regions.n && rc == 0; r++) {
        char *rdir = corpus_path_join(dir, regions.v[r]);
        corpus_names spk = {0};
        if (is_dialect_name(regions.v[r]) && veil_is_dir(rdir)) rc = corpus_list_dir(rdir, &spk);
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
                    const char *labels[3] = {dialect, subset, synth_accent_of(accents, spk.v[s])};
                    rc = corpus_add_speaker_folder(b, sdir, 0, spk.v[s], g, labels);
                }
            }
            free(sdir);
        }
        corpus_names_free(&spk);
        free(rdir);
    }
    corpus_names_free(&regions);
    return rc;
}

int corpus_load_timit(const char *root, veil_corpus **out)
{
    static const char *const label_names[3] = {"dialect", "subset", "accent"};
    synth_accents accents;
    if (synth_accents_read(root, &accents) != 0) return -1;
    corpus_builder b;
    corpus_builder_init(&b, accents.n ? 3 : 2, label_names);
    corpus_names l;
    int rc = corpus_list_dir(root, &l);
    int subsets = 0;
    for (int i = 0; i < l.n && rc == 0; i++) {
        char *p = corpus_path_join(root, l.v[i]);
        if (is_subset_name(l.v[i]) && has_dialect_folder(p)) {
            char subset[8];
            snprintf(subset, sizeof subset, "%s", l.v[i]);
            upcase(subset);
            rc = timit_subset(&b, p, subset, &accents);
            subsets++;
        }
        free(p);
    }
    corpus_names_free(&l);
    if (rc == 0 && subsets == 0) {
        /* ROOT is a subset folder itself: its name (TRAIN/TEST) is the subset label */
        const char *base = strrchr(root, '/');
        base = base ? base + 1 : root;
        char subset[8] = "";
        if (is_subset_name(base)) {
            snprintf(subset, sizeof subset, "%s", base);
            upcase(subset);
        }
        rc = timit_subset(&b, root, subset, &accents);
    }
    synth_accents_free(&accents);
    if (rc != 0) {
        corpus_builder_free(&b);
        return -1;
    }
    return corpus_build(&b, VEIL_LAYOUT_TIMIT, root, out);
}
