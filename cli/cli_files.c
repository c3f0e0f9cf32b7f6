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
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    while ((len = getline(&line, &cap, f)) >= 0) {
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) line[--len] = 0;
        if (len == 0 || line[0] == '#') continue; /* blank lines and comments */
        cli_files_add(l, line);
    }
    int bad = ferror(f);
    free(line);
    if (f != stdin) fclose(f);
    if (bad) {
        veil_error("%s: read error in the file list", list);
        return -1;
    }
    return 0;
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
