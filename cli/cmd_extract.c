/* veil extract: privacy-preserving features of audio files: the model's MFCC patches of
 * each file, through its extractor in evaluation mode, into one P x dim .npy. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "veil/audio.h"
#include "veil/common.h"
#include "veil/mfcc.h"
#include "veil/model.h"
#include "veil/npy.h"

static const char *usage_text =
    "usage: veil extract --model MODEL.safetensors AUDIO... -o OUT.npy\n"
    "                    [--precision fp32|bf16|auto] [--threads N] [--batch 256]\n\n"
    "Features z of every whole patch of every file, in the order given (P x dim float32).\n"
    "Audio is resampled to the model's rate; the MFCC settings come from the model.\n";

static int usage_error(const char *fmt, const char *arg)
{
    return cli_usage_error("extract", usage_text, fmt, arg);
}

int cmd_extract(int argc, char **argv)
{
    const char *model_path = NULL, *out = NULL, *prec_s = "fp32";
    long threads = 0, batch = 256;
    const char **files = calloc((size_t)argc, sizeof(char *));
    int nfiles = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (cli_help(a, usage_text)) {
            free(files);
            return 0;
        }
        int bad = 0;
        if (a[0] != '-') files[nfiles++] = a;
        else if (!v) bad = 1;
        else if (!strcmp(a, "--model")) model_path = argv[++i];
        else if (!strcmp(a, "-o") || !strcmp(a, "--out")) out = argv[++i];
        else if (!strcmp(a, "--precision")) prec_s = argv[++i];
        else if (!strcmp(a, "--threads")) {
            if (cli_parse_int(a, argv[++i], 0, 4096, &threads)) bad = 2;
        } else if (!strcmp(a, "--batch")) {
            if (cli_parse_int(a, argv[++i], 1, 65536, &batch)) bad = 2;
        } else bad = 1;
        if (bad) {
            free(files);
            return bad == 2 ? cli_fail() : usage_error("unknown option or missing value '%s'", a);
        }
    }
    const char *missing = !model_path ? "--model MODEL is required"
                          : !out      ? "-o OUT.npy is required"
                          : !nfiles   ? "no audio files given"
                                      : NULL;
    if (missing) {
        free(files);
        return usage_error("%s", missing);
    }
    if (veil_output_check(out)) {
        free(files);
        return cli_fail();
    }
    veil_precision prec;
    if (veil_precision_parse(prec_s, &prec)) {
        free(files);
        return cli_fail();
    }
    veil_set_threads((int)threads);
    veil_model *m = NULL;
    if (cli_model_load(model_path, prec, (int)batch, &m)) {
        free(files);
        return cli_fail();
    }
    const veil_mfcc_config *mc = &m->mfcc;
    size_t hw = (size_t)mc->patch_frames * mc->n_mfcc, total = 0;
    const veil_extractor_config *ac = veil_extractor_config_of(m->f);
    int rc = 1;
    float *all = NULL, *z = NULL;
    veil_mfcc *mf = NULL;
    if ((size_t)ac->in_h * ac->in_w != hw) {
        veil_error("%s: extractor input %dx%d does not match its MFCC patches %dx%d", model_path,
                   ac->in_h, ac->in_w, mc->patch_frames, mc->n_mfcc);
        goto done;
    }
    mf = veil_mfcc_new(mc);
    if (!mf) goto done;
    for (int i = 0; i < nfiles; i++) {
        veil_audio a;
        if (veil_audio_load(files[i], mc->sample_rate, &a)) goto done;
        float *pt = NULL;
        size_t np = 0;
        int r = veil_mfcc_patches(mf, a.samples, a.n, &pt, &np);
        double seconds = (double)a.n / a.rate;
        veil_audio_free(&a);
        if (r) {
            veil_error_prefix("%s", files[i]);
            goto done;
        }
        if (np == 0) {
            veil_error("%s: audio of %.3f s is shorter than one patch (%d frames, %.3f s)", files[i],
                       seconds, mc->patch_frames,
                       (double)((mc->patch_frames - 1) * mc->hop_length + mc->win_length) / mc->sample_rate);
            free(pt);
            goto done;
        }
        all = veil_realloc(all, (total + np) * hw * sizeof(float));
        memcpy(all + total * hw, pt, np * hw * sizeof(float));
        total += np;
        free(pt);
    }
    size_t dim = (size_t)veil_extractor_dim(m->f);
    z = veil_malloc(total * dim * sizeof(float));
    for (size_t i = 0; i < total; i += (size_t)batch) {
        size_t k = total - i < (size_t)batch ? total - i : (size_t)batch;
        if (veil_extractor_forward(m->f, all + i * hw, (int)k, 0, z + i * dim)) goto done;
        if (veil_extractor_check_output(m->f, z + i * dim, k, model_path)) goto done;
    }
    size_t shape[2] = {total, dim};
    if (veil_npy_write_f32(out, z, 2, shape)) goto done;
    if (veil_verbosity >= 1)
        fprintf(stderr, "veil extract: %zu patches x %zu features from %d file%s -> %s\n", total, dim,
                nfiles, nfiles == 1 ? "" : "s", out);
    rc = 0;
done:
    veil_mfcc_free(mf);
    free(all);
    free(z);
    free(files);
    veil_model_free(m);
    return rc ? cli_fail() : 0;
}
