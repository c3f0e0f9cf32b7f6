/* veil mfcc AUDIO -o OUT.npy [--patches]: the paper's MFCC frames or patches of one file. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "veil/audio.h"
#include "veil/common.h"
#include "veil/mfcc.h"
#include "veil/npy.h"

typedef struct mfcc_args {
    const char *in, *out, *config;
    int patches, print_config;
    veil_mfcc_config c;
} mfcc_args;

static int take_name(const char *opt, const char *v, const char *const *names, int count, int *out)
{
    for (int i = 0; i < count; i++)
        if (!strcmp(v, names[i])) {
            *out = i;
            return 0;
        }
    veil_error("%s: unknown value '%s'", opt, v);
    return -1;
}

static int take_window(void *a, const char *name, const char *v)
{
    static const char *const windows[] = {"hamming", "hann", "rect"};
    int e;
    if (take_name(name, v, windows, 3, &e)) return -1;
    ((mfcc_args *)a)->c.window = (veil_window)e;
    return 0;
}

static int take_mel_scale(void *a, const char *name, const char *v)
{
    static const char *const scales[] = {"htk", "slaney"};
    int e;
    if (take_name(name, v, scales, 2, &e)) return -1;
    ((mfcc_args *)a)->c.mel_scale = (veil_mel_scale)e;
    return 0;
}

static int take_float(const char *name, const char *v, float *out)
{
    double d;
    if (cli_parse_double(name, v, &d)) return -1;
    *out = (float)d;
    return 0;
}

static int take_log_floor(void *a, const char *name, const char *v)
{
    return take_float(name, v, &((mfcc_args *)a)->c.log_floor);
}

static int take_preemphasis(void *a, const char *name, const char *v)
{
    return take_float(name, v, &((mfcc_args *)a)->c.preemphasis);
}

/* --config is read before the others (they override it) */
static int take_config(void *a, const char *name, const char *v)
{
    (void)a, (void)name, (void)v;
    return 0;
}

static const cli_option mfcc_rows[] = {
    CLI_ARG_ROW("AUDIO", mfcc_args, in, NULL),
    {"--output", "-o", CLI_TEXT, "OUT.npy", offsetof(mfcc_args, out), 0, 0, NULL,
     "where to write (atomically; - = standard output)"},
    CLI_FLAG_ROW("--patches", mfcc_args, patches, "patches instead of frames"),
    CLI_CALL_ROW("--config", "FILE", take_config, "MFCC settings as JSON (fields of --print-config)"),
    CLI_CALL_ROW("--window", "NAME", take_window, "hamming | hann | rect"),
    CLI_CALL_ROW("--mel-scale", "NAME", take_mel_scale, "htk | slaney"),
    CLI_INT_ROW("--n-mels", "K", mfcc_args, c.n_mels, 1, 100000, "mel bands (64)"),
    CLI_INT_ROW("--n-mfcc", "K", mfcc_args, c.n_mfcc, 1, 100000, "coefficients kept (32)"),
    CLI_CALL_ROW("--log-floor", "X", take_log_floor, "log(max(mel power, X)) (1e-10)"),
    CLI_CALL_ROW("--preemphasis", "A", take_preemphasis, "x[t] - A x[t-1] within each frame (0 = none)"),
    CLI_INT_ROW("--patch-frames", "N", mfcc_args, c.patch_frames, 1, 100000, "frames per patch (32)"),
    CLI_FLAG_ROW("--print-config", mfcc_args, print_config, "print the settings as JSON and exit"),
};

static const char mfcc_synopsis[] =
    "usage: veil mfcc AUDIO -o OUT.npy [--patches] [options]\n"
    "\n"
    "MFCCs of one audio file (anything libsndfile reads; mixed to mono and resampled to\n"
    "the MFCC sample rate), written as float32 .npy: frames (N x n_mfcc) or, with\n"
    "--patches, non-overlapping patches (P x patch_frames x n_mfcc). Defaults are the\n"
    "paper's (docs/mfcc.md): 16 kHz, 26 ms Hamming window, 13 ms hop, 512-point FFT,\n"
    "64 HTK mel bands, natural log, orthonormal DCT-II, 32 coefficients, 32-frame patches.\n"
    "\n";

int cmd_mfcc(int argc, char **argv)
{
    mfcc_args a = {0};
    veil_mfcc_config_default(&a.c);
    cli_table tables[] = {CLI_TABLE(mfcc_rows, &a)};
    /* a value out of range is a usage error here, as an invalid combination below */
    cli_command cmd = {"mfcc", mfcc_synopsis, NULL, tables, 1, 1};
    /* --config first, so that single options given with it override it */
    const char *config_path = cli_option_value(argc, argv, "--config");
    if (config_path && cli_read_mfcc_config(config_path, &a.c)) return cli_fail();
    int parsed = cli_parse(&cmd, argc, argv);
    if (parsed != CLI_PARSED) return parsed;
    const char *in = a.in, *out = a.out;
    int patches = a.patches;
    veil_mfcc_config c = a.c;
    if (veil_mfcc_config_validate(&c) != 0) return cli_command_error(&cmd, "%s", veil_last_error());
    if (a.print_config) {
        char *js = veil_mfcc_config_to_json(&c);
        printf("%s\n", js);
        free(js);
        return 0;
    }
    if (!in) return cli_command_error(&cmd, "%s", "no audio file given");
    if (!out) return cli_command_error(&cmd, "%s", "no output file given (-o OUT.npy)");
    if (veil_output_check(out)) return cli_fail();
    cli_io io[2] = {{in, "audio file", 0}, {out, "-o", 1}}; /* -o X.wav must not replace X.wav */
    if (cli_check_outputs(io, 2)) return cli_fail();

    veil_audio au;
    if (veil_audio_load(in, c.sample_rate, &au) != 0) return cli_fail();
    const double secs = (double)au.n / c.sample_rate;
    size_t nf = veil_mfcc_num_frames(&c, au.n), np = veil_mfcc_num_patches(&c, au.n);
    if (patches && np == 0) {
        size_t need = (size_t)c.win_length + (size_t)(c.patch_frames - 1) * (size_t)c.hop_length;
        veil_error("%s: audio is %.3f s long, shorter than one patch (%d frames need %.3f s)", in, secs,
                   c.patch_frames, (double)need / c.sample_rate);
        veil_audio_free(&au);
        return cli_fail();
    }
    if (!patches && nf == 0) {
        veil_error("%s: audio is %.3f s long, shorter than one frame (%.3f s)", in, secs,
                   (double)c.win_length / c.sample_rate);
        veil_audio_free(&au);
        return cli_fail();
    }
    veil_mfcc *m = veil_mfcc_new(&c);
    if (!m) {
        veil_audio_free(&au);
        return cli_fail();
    }
    float *data;
    size_t count;
    int rc;
    if (patches) {
        veil_mfcc_patches(m, au.samples, au.n, &data, &count);
        size_t shape[3] = {count, (size_t)c.patch_frames, (size_t)c.n_mfcc};
        rc = veil_npy_write_f32(out, data, 3, shape);
    } else {
        veil_mfcc_compute(m, au.samples, au.n, &data, &count);
        size_t shape[2] = {count, (size_t)c.n_mfcc};
        rc = veil_npy_write_f32(out, data, 2, shape);
    }
    free(data);
    veil_mfcc_free(m);
    veil_audio_free(&au);
    if (rc != 0) return cli_fail();
    if (patches) veil_log("%s: %zu patch%s x %d x %d from %.2f s of %s", out, count, count == 1 ? "" : "es", c.patch_frames, c.n_mfcc, secs, in);
    else veil_log("%s: %zu frame%s x %d from %.2f s of %s", out, count, count == 1 ? "" : "s", c.n_mfcc, secs, in);
    return 0;
}
