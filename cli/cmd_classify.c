/* veil classify: the service side. The gender of each audio file from a trained model's
 * recognizer g applied to the features of its patches: per file the mean of the patch
 * posteriors (and, on request, every patch), as text or JSON lines. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "veil/common.h"
#include "veil/model.h"
#include "veil/stream.h"

static const char *usage_text =
    "usage: veil classify --model MODEL.safetensors [AUDIO...] [--list FILE] [options]\n\n"
    "The gender of each file: the model's gender recognizer g on the features of every whole\n"
    "patch; a file's posterior is the mean of its patches' posteriors, its class the larger.\n"
    "Text: one line per file, FILE CLASS P(female) P(male) PATCHES (tab-separated, a header\n"
    "first).\n"
    "JSON (--json): one object per file and line: {\"file\", \"class\", \"posterior\": {...},\n"
    "\"patches\", and with --per-patch \"per_patch\": [{\"patch\", \"start_seconds\", \"class\",\n"
    "\"posterior\"}]}.\n\n"
    "  --model FILE           a model with a gender recognizer (veil train, veil experiment)\n"
    "  AUDIO...               audio files; - reads one from standard input\n"
    "  --list FILE            more audio files, one path a line (- = the names on standard input)\n"
    "  --per-patch            also each patch (text: PATCH START_SECONDS columns, one line each)\n"
    "  --json                 JSON lines instead of text\n"
    "  -o, --out FILE         write there instead of standard output (- = standard output)\n"
    "  --strict               a file shorter than one patch is an error (default: skipped, named\n"
    "                         in a warning)\n"
    "  --precision fp32|bf16|auto   (default fp32)\n"
    "  --threads N            worker threads (default: all cores)\n"
    "  --batch N              patches per forward pass (default 256)\n"
    "  -v, -q                 more / less on standard error\n";

static void put_json_string(veil_strbuf *b, const char *s)
{
    veil_strbuf_printf(b, "\"");
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        if (*c == '"' || *c == '\\') veil_strbuf_printf(b, "\\%c", *c);
        else if (*c < 0x20) veil_strbuf_printf(b, "\\u%04x", *c);
        else veil_strbuf_printf(b, "%c", *c);
    }
    veil_strbuf_printf(b, "\"");
}

static int argmax(const float *p, int k)
{
    int best = 0;
    for (int i = 1; i < k; i++)
        if (p[i] > p[best]) best = i;
    return best;
}

static void put_posterior_json(veil_strbuf *b, const veil_model *m, const float *p)
{
    veil_strbuf_printf(b, "{");
    for (int k = 0; k < m->n_classes; k++) {
        put_json_string(b, m->class_names[k]);
        veil_strbuf_printf(b, ":%.6f%s", p[k], k + 1 < m->n_classes ? "," : "}");
    }
}

static int write_text(FILE *f, void *ctx)
{
    const char *s = ctx;
    if (s) fputs(s, f);
    return ferror(f) ? -1 : 0;
}

int cmd_classify(int argc, char **argv)
{
    const char *model_path = NULL, *out = "-", *prec_s = "fp32";
    long threads = 0, batch = 256;
    int json = 0, per_patch = 0, strict = 0, rc = 1;
    cli_files files = {0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (cli_help(a, usage_text)) {
            cli_files_free(&files);
            return 0;
        }
        int bad = 0;
        if (a[0] != '-' || !strcmp(a, "-")) cli_files_add(&files, a);
        else if (!strcmp(a, "--json")) json = 1;
        else if (!strcmp(a, "--per-patch")) per_patch = 1;
        else if (!strcmp(a, "--strict")) strict = 1;
        else if (!v) bad = 1;
        else if (!strcmp(a, "--model")) model_path = argv[++i];
        else if (!strcmp(a, "-o") || !strcmp(a, "--out")) out = argv[++i];
        else if (!strcmp(a, "--precision")) prec_s = argv[++i];
        else if (!strcmp(a, "--list")) {
            if (cli_files_read_list(&files, argv[++i])) bad = 2;
        } else if (!strcmp(a, "--threads")) {
            if (cli_parse_int(a, argv[++i], 0, 4096, &threads)) bad = 2;
        } else if (!strcmp(a, "--batch")) {
            if (cli_parse_int(a, argv[++i], 1, 65536, &batch)) bad = 2;
        } else bad = 1;
        if (bad) {
            cli_files_free(&files);
            return bad == 2 ? cli_fail() : cli_unknown_option("classify", usage_text, a);
        }
    }
    const char *missing = !model_path ? "--model MODEL is required" : !files.n ? "no audio files given" : NULL;
    if (missing) {
        cli_files_free(&files);
        return cli_usage_error("classify", usage_text, "%s", missing);
    }
    veil_precision prec;
    veil_model *m = NULL;
    veil_mfcc *mf = NULL;
    float *logits = NULL, *post = NULL, *mean = NULL;
    veil_strbuf b = {0};
    if (veil_output_check(out) || veil_precision_parse(prec_s, &prec)) goto done;
    veil_set_threads((int)threads);
    if (veil_model_load(model_path, prec, (int)batch, &m)) goto done;
    if (!m->g) {
        veil_error("%s: the model has no gender recognizer g", model_path);
        goto done;
    }
    const veil_mfcc_config *mc = &m->mfcc;
    mf = veil_mfcc_new(mc);
    if (!mf) goto done;
    int k = m->n_classes;
    logits = veil_malloc((size_t)batch * k * sizeof(float));
    post = veil_malloc((size_t)k * sizeof(float));
    mean = veil_malloc((size_t)k * sizeof(float));
    double hop_s = (double)mc->patch_frames * mc->hop_length / mc->sample_rate;
    size_t dim = (size_t)veil_extractor_dim(m->f);
    if (!json) {
        veil_strbuf_printf(&b, "file\tclass");
        for (int c = 0; c < k; c++) veil_strbuf_printf(&b, "\tP(%s)", m->class_names[c]);
        veil_strbuf_printf(&b, "\tpatches%s\n", per_patch ? "\tpatch\tstart_seconds" : "");
    }
    for (size_t i = 0; i < files.n; i++) {
        const char *name = files.path[i];
        float *z;
        size_t np;
        double seconds;
        if (cli_file_features(m, mf, name, (int)batch, &z, &np, &seconds)) goto done;
        if (np == 0) {
            if (strict) {
                veil_error("%s: audio of %.3f s is shorter than one patch (%.3f s)", name, seconds,
                           cli_patch_seconds(mc));
                goto done;
            }
            if (veil_verbosity >= 1)
                fprintf(stderr, "veil classify: warning: %s: skipped: audio of %.3f s is shorter than one patch (%.3f s)\n",
                        name, seconds, cli_patch_seconds(mc));
            continue;
        }
        for (int c = 0; c < k; c++) mean[c] = 0;
        veil_strbuf patches = {0};
        for (size_t p0 = 0; p0 < np; p0 += (size_t)batch) {
            size_t n = np - p0 < (size_t)batch ? np - p0 : (size_t)batch;
            if (veil_head_forward(m->g, z + p0 * dim, (int)n, 0, logits)) {
                free(z);
                free(patches.s);
                goto done;
            }
            for (size_t j = 0; j < n; j++) {
                veil_softmax(logits + j * k, k, post);
                for (int c = 0; c < k; c++) mean[c] += post[c] / (float)np;
                if (!per_patch) continue;
                size_t p = p0 + j;
                if (json) {
                    veil_strbuf_printf(&patches, "%s{\"patch\":%zu,\"start_seconds\":%.3f,\"class\":",
                                       p ? "," : "", p, (double)p * hop_s);
                    put_json_string(&patches, m->class_names[argmax(post, k)]);
                    veil_strbuf_printf(&patches, ",\"posterior\":");
                    put_posterior_json(&patches, m, post);
                    veil_strbuf_printf(&patches, "}");
                } else {
                    veil_strbuf_printf(&patches, "%s\t%s", name, m->class_names[argmax(post, k)]);
                    for (int c = 0; c < k; c++) veil_strbuf_printf(&patches, "\t%.4f", post[c]);
                    veil_strbuf_printf(&patches, "\t1\t%zu\t%.3f\n", p, (double)p * hop_s);
                }
            }
        }
        free(z);
        int cls = argmax(mean, k);
        if (json) {
            veil_strbuf_printf(&b, "{\"file\":");
            put_json_string(&b, name);
            veil_strbuf_printf(&b, ",\"class\":");
            put_json_string(&b, m->class_names[cls]);
            veil_strbuf_printf(&b, ",\"posterior\":");
            put_posterior_json(&b, m, mean);
            veil_strbuf_printf(&b, ",\"patches\":%zu", np);
            if (per_patch) veil_strbuf_printf(&b, ",\"per_patch\":[%s]", patches.s ? patches.s : "");
            veil_strbuf_printf(&b, "}\n");
        } else {
            veil_strbuf_printf(&b, "%s\t%s", name, m->class_names[cls]);
            for (int c = 0; c < k; c++) veil_strbuf_printf(&b, "\t%.4f", mean[c]);
            veil_strbuf_printf(&b, "\t%zu%s\n", np, per_patch ? "\t-\t-" : "");
            if (patches.s) veil_strbuf_printf(&b, "%s", patches.s);
        }
        free(patches.s);
    }
    if (veil_write_atomic(out, write_text, b.s)) goto done; /* "-": standard output */
    rc = 0;
done:
    free(b.s);
    free(logits);
    free(post);
    free(mean);
    veil_mfcc_free(mf);
    veil_model_free(m);
    cli_files_free(&files);
    return rc ? cli_fail() : 0;
}
