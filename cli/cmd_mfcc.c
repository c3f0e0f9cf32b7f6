/* veil mfcc AUDIO -o OUT.npy [--patches]: the paper's MFCC frames or patches of one file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "veil/audio.h"
#include "veil/common.h"
#include "veil/mfcc.h"
#include "veil/npy.h"

static const char *mfcc_usage_text =
            "usage: veil mfcc AUDIO -o OUT.npy [--patches] [options]\n"
            "\n"
            "MFCCs of one audio file (anything libsndfile reads; mixed to mono and resampled to\n"
            "the MFCC sample rate), written as float32 .npy: frames (N x n_mfcc) or, with\n"
            "--patches, non-overlapping patches (P x patch_frames x n_mfcc). Defaults are the\n"
            "paper's (docs/mfcc.md): 16 kHz, 26 ms Hamming window, 13 ms hop, 512-point FFT,\n"
            "64 HTK mel bands, natural log, orthonormal DCT-II, 32 coefficients, 32-frame patches.\n"
            "\n"
            "  -o, --output OUT.npy   where to write (atomically)\n"
            "  --patches              patches instead of frames\n"
            "  --config FILE          MFCC settings as JSON (fields of --print-config)\n"
            "  --window NAME          hamming | hann | rect\n"
            "  --mel-scale NAME       htk | slaney\n"
            "  --n-mels K             mel bands (64)\n"
            "  --n-mfcc K             coefficients kept (32)\n"
            "  --log-floor X          log(max(mel power, X)) (1e-10)\n"
            "  --preemphasis A        x[t] - A x[t-1] within each frame (0 = none)\n"
            "  --patch-frames N       frames per patch (32)\n"
            "  --print-config         print the settings as JSON and exit\n"
            "  -o -                   write to standard output\n"
            "  -v, -q                 more / less on standard error (-q: no summary line)\n";

static void usage(FILE *f) { fputs(mfcc_usage_text, f); }

static int usage_error(const char *msg)
{
    fprintf(stderr, "veil mfcc: %s\nusage: veil mfcc AUDIO -o OUT.npy [--patches] [options] "
                    "('veil mfcc --help' lists them)\n", msg);
    return 2;
}

static int parse_name(const char *opt, const char *v, const char **names, int count, int *out)
{
    for (int i = 0; i < count; i++)
        if (v && !strcmp(v, names[i])) {
            *out = i;
            return 0;
        }
    veil_error("%s: unknown value '%s'", opt, v ? v : "");
    return -1;
}

int cmd_mfcc(int argc, char **argv)
{
    static const char *windows[] = {"hamming", "hann", "rect"};
    static const char *scales[] = {"htk", "slaney"};
    const char *in = NULL, *out = NULL, *config_path = NULL;
    int patches = 0, print_config = 0;
    veil_mfcc_config c;
    veil_mfcc_config_default(&c);
    /* --config first, so that single options given with it override it */
    for (int i = 1; i + 1 < argc; i++)
        if (!strcmp(argv[i], "--config")) config_path = argv[i + 1];
    if (config_path && cli_read_mfcc_config(config_path, &c)) return cli_fail();
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        long iv;
        double dv;
        int e;
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "-o") || !strcmp(a, "--output")) {
            if (!v) return usage_error("-o needs a file name");
            out = v;
            i++;
        } else if (!strcmp(a, "--patches")) {
            patches = 1;
        } else if (!strcmp(a, "--print-config")) {
            print_config = 1;
        } else if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
            veil_verbosity = 0;
        } else if (!strcmp(a, "--config")) {
            if (!v) return usage_error("--config needs a file name");
            i++;
        } else if (!strcmp(a, "--window")) {
            if (parse_name(a, v, windows, 3, &e)) return usage_error(veil_last_error());
            c.window = (veil_window)e;
            i++;
        } else if (!strcmp(a, "--mel-scale")) {
            if (parse_name(a, v, scales, 2, &e)) return usage_error(veil_last_error());
            c.mel_scale = (veil_mel_scale)e;
            i++;
        } else if (!strcmp(a, "--n-mels") || !strcmp(a, "--n-mfcc") || !strcmp(a, "--patch-frames")) {
            if (cli_parse_int(a, v, 1, 100000, &iv)) return usage_error(veil_last_error());
            if (!strcmp(a, "--n-mels")) c.n_mels = (int)iv;
            else if (!strcmp(a, "--n-mfcc")) c.n_mfcc = (int)iv;
            else c.patch_frames = (int)iv;
            i++;
        } else if (!strcmp(a, "--log-floor") || !strcmp(a, "--preemphasis")) {
            if (cli_parse_double(a, v, &dv)) return usage_error(veil_last_error());
            if (!strcmp(a, "--log-floor")) c.log_floor = (float)dv;
            else c.preemphasis = (float)dv;
            i++;
        } else if (a[0] == '-' && a[1]) {
            return cli_unknown_option("mfcc", mfcc_usage_text, a);
        } else if (!in) {
            in = a;
        } else {
            return usage_error("more than one audio file given");
        }
    }
    if (veil_mfcc_config_validate(&c) != 0) return usage_error(veil_last_error());
    if (print_config) {
        char *js = veil_mfcc_config_to_json(&c);
        printf("%s\n", js);
        free(js);
        return 0;
    }
    if (!in) return usage_error("no audio file given");
    if (!out) return usage_error("no output file given (-o OUT.npy)");
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
