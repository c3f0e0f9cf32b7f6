/* Manifest CSV: a header `path,speaker,gender[,label columns...]` (columns in any order)
 * and one row per audio file; RFC 4180 quoting (fields with commas, quotes, newlines). */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "corpus_internal.h"
#include "veil/common.h"

typedef struct csv_reader {
    const char *path;
    const char *p;  /* next character */
    int line;       /* line of *p */
} csv_reader;

typedef struct csv_record {
    char **f;
    int n, cap;
    int line; /* line where the record starts */
} csv_record;

static void record_clear(csv_record *r)
{
    for (int i = 0; i < r->n; i++) free(r->f[i]);
    r->n = 0;
}

static void record_push(csv_record *r, const char *s, size_t len)
{
    if (r->n == r->cap) {
        r->cap = r->cap ? 2 * r->cap : 8;
        r->f = veil_realloc(r->f, (size_t)r->cap * sizeof *r->f);
    }
    char *v = veil_malloc(len + 1);
    memcpy(v, s, len);
    v[len] = 0;
    r->f[r->n++] = v;
}

static int is_blank_line(const char *p)
{
    while (*p == ' ' || *p == '\t' || *p == '\r') p++;
    return *p == '\n' || *p == 0;
}

/* Read the next non-blank record. Returns 1 when one was read, 0 at the end, -1 on error. */
static int csv_next(csv_reader *rd, csv_record *r)
{
    record_clear(r);
    while (*rd->p && is_blank_line(rd->p)) {
        const char *nl = strchr(rd->p, '\n');
        if (!nl) {
            rd->p += strlen(rd->p);
            break;
        }
        rd->p = nl + 1;
        rd->line++;
    }
    if (!*rd->p) return 0;
    r->line = rd->line;
    size_t cap = 64, len;
    char *buf = veil_malloc(cap);
    for (;;) {
        const char *p = rd->p;
        len = 0;
        while (*p == ' ' || *p == '\t') p++;
        if (*p == '"') {
            p++;
            for (;;) {
                if (!*p) {
                    free(buf);
                    veil_error("%s:%d: quoted field is not closed", rd->path, r->line);
                    return -1;
                }
                if (*p == '"' && p[1] == '"') p++;
                else if (*p == '"') break;
                if (*p == '\n') rd->line++;
                if (len + 1 >= cap) buf = veil_realloc(buf, cap *= 2);
                buf[len++] = *p++;
            }
            p++;
            while (*p == ' ' || *p == '\t') p++;
            if (*p != ',' && *p != '\n' && *p != '\r' && *p) {
                free(buf);
                veil_error("%s:%d: unexpected text after a closing quote", rd->path, rd->line);
                return -1;
            }
        } else {
            const char *start = p;
            while (*p && *p != ',' && *p != '\n' && *p != '\r') p++;
            const char *end = p;
            while (end > start && (end[-1] == ' ' || end[-1] == '\t')) end--;
            len = (size_t)(end - start);
            if (len + 1 >= cap) buf = veil_realloc(buf, cap = len + 1);
            memcpy(buf, start, len);
        }
        record_push(r, buf, len);
        rd->p = p;
        if (*p == ',') {
            rd->p = p + 1;
            continue;
        }
        if (*p == '\r') p++;
        if (*p == '\n') {
            p++;
            rd->line++;
        }
        rd->p = p;
        break;
    }
    free(buf);
    return 1;
}

/* 0 when path is a regular file, else -1 after veil_error (where: file:line). */
static int check_audio_path(const char *where, const char *path)
{
    struct stat st;
    if (stat(path, &st) != 0) veil_error("%s: %s: no such file", where, path);
    else if (S_ISDIR(st.st_mode)) veil_error("%s: %s: is a directory, not an audio file", where, path);
    else if (!S_ISREG(st.st_mode)) veil_error("%s: %s: not a regular file (a FIFO or device)", where, path);
    else return 0;
    return -1;
}

int corpus_load_manifest(const char *csv, veil_corpus **out)
{
    char *data;
    if (veil_read_text_file(csv, &data, NULL) != 0) return -1;
    csv_reader rd = {.path = csv, .p = data, .line = 1};
    if (!strncmp(rd.p, "\xEF\xBB\xBF", 3)) rd.p += 3; /* UTF-8 byte order mark */
    /* paths are relative to the manifest's folder */
    const char *slash = strrchr(csv, '/');
    char *base = slash ? veil_strdup(csv) : NULL;
    if (base) base[slash - csv + (slash == csv)] = 0;

    csv_record r = {0};
    corpus_builder b;
    memset(&b, 0, sizeof b);
    int have_builder = 0, rc = csv_next(&rd, &r);
    int col_path = -1, col_spk = -1, col_gender = -1, ncols = r.n;
    int *label_col = NULL;
    if (rc == 0) {
        veil_error("%s: empty manifest (expected a header 'path,speaker,gender')", csv);
        rc = -1;
    } else if (rc == 1) {
        rc = 0;
        int nl = 0;
        label_col = veil_calloc((size_t)ncols + 1, sizeof *label_col);
        const char **label_names = veil_calloc((size_t)ncols + 1, sizeof *label_names);
        for (int i = 0; i < ncols && rc == 0; i++) {
            const char *name = r.f[i];
            for (int j = 0; j < i; j++)
                if (!strcasecmp(r.f[j], name)) {
                    veil_error("%s:%d: column '%s' appears twice", csv, r.line, name);
                    rc = -1;
                }
            if (!*name) {
                veil_error("%s:%d: column %d has no name", csv, r.line, i + 1);
                rc = -1;
            }
            if (!strcasecmp(name, "path")) col_path = i;
            else if (!strcasecmp(name, "speaker")) col_spk = i;
            else if (!strcasecmp(name, "gender")) col_gender = i;
            else {
                label_col[nl] = i;
                label_names[nl++] = name;
            }
        }
        const char *missing = col_path < 0 ? "path" : col_spk < 0 ? "speaker" : col_gender < 0 ? "gender" : NULL;
        if (rc == 0 && missing) {
            veil_error("%s:%d: missing column '%s' (the header must name path, speaker and gender)", csv,
                       r.line, missing);
            rc = -1;
        }
        if (rc == 0) {
            corpus_builder_init(&b, nl, label_names);
            have_builder = 1;
        }
        free(label_names);
    }
    const char **labels = veil_calloc((size_t)ncols + 1, sizeof *labels);
    while (rc == 0) {
        int got = csv_next(&rd, &r);
        if (got <= 0) {
            rc = got;
            break;
        }
        char where[4200];
        snprintf(where, sizeof where, "%s:%d", csv, r.line);
        if (r.n != ncols) {
            veil_error("%s: expected %d fields as in the header, found %d", where, ncols, r.n);
            rc = -1;
            break;
        }
        const char *path = r.f[col_path], *spk = r.f[col_spk], *gs = r.f[col_gender];
        char g = corpus_parse_gender(gs);
        if (!*path) veil_error("%s: empty path", where);
        else if (!*spk) veil_error("%s: empty speaker", where);
        else if (!g) veil_error("%s: unknown gender '%s' (expected F, M, female or male)", where, gs);
        if (!*path || !*spk || !g) {
            rc = -1;
            break;
        }
        char *full = path[0] == '/' || !base ? veil_strdup(path) : corpus_path_join(base, path);
        if (check_audio_path(where, full) != 0) {
            free(full);
            rc = -1;
            break;
        }
        for (int l = 0; l < b.n_label_names; l++) labels[l] = r.f[label_col[l]];
        corpus_builder_add(&b, full, spk, g, labels, where);
        free(full);
    }
    free(labels);
    record_clear(&r);
    free(r.f);
    free(label_col);
    free(base);
    free(data);
    if (rc != 0) {
        if (have_builder) corpus_builder_free(&b);
        return -1;
    }
    return corpus_build(&b, VEIL_LAYOUT_MANIFEST, csv, out);
}

/* The same RFC 4180 reader for other CSV inputs (the labels of `veil audit`). */
int corpus_csv_each(const char *path, corpus_csv_fn fn, void *ctx)
{
    char *data;
    if (veil_read_file(path, &data, NULL) != 0) return -1;
    csv_reader rd = {.path = path, .p = data, .line = 1};
    if (!strncmp(rd.p, "\xEF\xBB\xBF", 3)) rd.p += 3;
    csv_record r = {0};
    int rc;
    while ((rc = csv_next(&rd, &r)) == 1)
        if (fn(ctx, (const char *const *)r.f, r.n, r.line)) {
            rc = -1;
            break;
        }
    record_clear(&r);
    free(r.f);
    free(data);
    return rc < 0 ? -1 : 0;
}
