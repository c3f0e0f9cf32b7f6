/* What `veil extract` and `veil classify` share: the list of audio files (arguments,
 * --list FILE, "-" for standard input) and the features z of one file's patches. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "veil/audio.h"
#include "veil/common.h"

void cli_files_add(cli_files *l, const char *path)
{
    l->path = veil_realloc(l->path, (l->n + 1) * sizeof *l->path);
    l->path[l->n++] = veil_strdup(path);
}

int cli_files_read_list(cli_files *l, const char *list)
{
    FILE *f = strcmp(list, "-") ? fopen(list, "r") : stdin;
    if (!f) {
        veil_error("%s: cannot open the file list", list);
        return -1;
    }
    const char *name = strcmp(list, "-") ? list : "the file list on standard input";
    char *line = NULL;
    size_t cap = 0, lineno = 0;
    ssize_t len;
    int bad = 0;
    while (!bad && (len = getline(&line, &cap, f)) >= 0) {
        lineno++;
        char *p = line;
        /* a UTF-8 byte order mark (an editor's) is not part of the first name */
        if (lineno == 1 && len >= 3 && !memcmp(p, "\xef\xbb\xbf", 3)) p += 3, len -= 3;
        while (len > 0 && (p[len - 1] == '\n' || p[len - 1] == '\r')) p[--len] = 0;
        if (memchr(p, 0, (size_t)len)) { /* a name cut at the NUL would be another file */
            veil_error("%s:%zu: a NUL byte in the line; a path cannot hold one", name, lineno);
            bad = 2;
            break;
        }
        if (len == 0 || p[0] == '#') continue; /* blank lines and comments */
        cli_files_add(l, p);
    }
    if (!bad && ferror(f)) bad = 1;
    free(line);
    if (f != stdin) fclose(f);
    if (bad == 1) veil_error("%s: read error in the file list", list);
    return bad ? -1 : 0;
}

void cli_files_free(cli_files *l)
{
    for (size_t i = 0; i < l->n; i++) free(l->path[i]);
    free(l->path);
    memset(l, 0, sizeof *l);
}

double cli_patch_seconds(const veil_mfcc_config *mc)
{
    return (double)((mc->patch_frames - 1) * mc->hop_length + mc->win_length) / mc->sample_rate;
}

int cli_file_features(veil_model *m, veil_mfcc *mf, const char *path, int batch, float **z,
                      size_t *n_patches, double *seconds)
{
    const veil_mfcc_config *mc = &m->mfcc;
    *z = NULL;
    *n_patches = 0;
    veil_audio a;
    if (veil_audio_load(path, mc->sample_rate, &a)) return -1;
    float *pt = NULL;
    size_t np = 0;
    int r = veil_mfcc_patches(mf, a.samples, a.n, &pt, &np);
    *seconds = (double)a.n / a.rate;
    veil_audio_free(&a);
    if (r) {
        veil_error_prefix("%s", path);
        return -1;
    }
    size_t hw = (size_t)mc->patch_frames * mc->n_mfcc, dim = (size_t)veil_extractor_dim(m->f);
    float *out = np ? veil_malloc(np * dim * sizeof(float)) : NULL;
    for (size_t i = 0; i < np; i += (size_t)batch) {
        size_t k = np - i < (size_t)batch ? np - i : (size_t)batch;
        if (veil_extractor_forward(m->f, pt + i * hw, (int)k, 0, out + i * dim) ||
            veil_extractor_check_output(m->f, out + i * dim, k, "the model's features")) {
            free(pt);
            free(out);
            veil_error_prefix("%s", path);
            return -1;
        }
    }
    free(pt);
    *z = out;
    *n_patches = np;
    return 0;
}

typedef struct {
    veil_file_id id;
    size_t i;
} io_entry;

static int io_cmp(const void *a, const void *b)
{
    const io_entry *x = a, *y = b;
    int c = veil_file_id_cmp(&x->id, &y->id);
    return c ? c : (x->i > y->i) - (x->i < y->i);
}

int cli_check_outputs(const cli_io *io, size_t n)
{
    size_t on_stdout = 0, first_stdout = 0;
    for (size_t i = 0; i < n; i++)
        if (io[i].output && !strcmp(io[i].path, "-") && on_stdout++ == 0) first_stdout = i;
        else if (io[i].output && !strcmp(io[i].path, "-")) {
            veil_error("%s - and %s - would both go to standard output, one stream; give one a file name",
                       io[first_stdout].role, io[i].role);
            return -1;
        }
    io_entry *e = veil_malloc((n ? n : 1) * sizeof *e);
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (veil_file_id_of(io[i].path, &e[m].id) != 0) continue; /* "-", or nowhere to be */
        if (io[i].output && !e[m].id.regular) continue; /* a device written through: /dev/null twice is fine */
        e[m++].i = i;
    }
    qsort(e, m, sizeof *e, io_cmp);
    int rc = 0;
    for (size_t a = 0; a < m && rc == 0; a++) {
        size_t b = a + 1;
        for (; b < m && veil_file_id_cmp(&e[a].id, &e[b].id) == 0; b++) {
            const cli_io *x = &io[e[a].i], *y = &io[e[b].i];
            if (!x->output && !y->output) continue; /* an input read twice is fine */
            const cli_io *out = y->output ? y : x, *other = y->output ? x : y;
            if (other->output)
                veil_error("%s %s and %s %s are the same file: one would overwrite the other",
                           other->role, other->path, out->role, out->path);
            else
                veil_error("%s %s is the %s %s: writing it would destroy an input", out->role,
                           out->path, other->role, other->path);
            rc = -1;
            break;
        }
        a = b - 1;
    }
    free(e);
    return rc;
}

char *cli_default_index_path(const char *out)
{
    size_t n = strlen(out);
    if (n > 4 && !strcmp(out + n - 4, ".npy")) n -= 4;
    char *p = veil_malloc(n + sizeof ".index.csv");
    memcpy(p, out, n);
    strcpy(p + n, ".index.csv");
    return p;
}
