/* veil classify: the service side. The gender of each audio file from a trained model's
 * recognizer g applied to the features of its patches: per file the mean of the patch
 * posteriors (and, on request, every patch), as text or JSON lines. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>
#include <math.h>

#include "cli.h"
#include "core/base/json.h"
#include "veil/common.h"
#include "veil/model.h"
#include "veil/stream.h"

/* A field of the text output: a tab or line break in a file name would shift the columns
 * or start a row, so they are written as \t, \n, \r (and the backslash as \\). */
static void put_tsv(veil_strbuf *b, const char *s)
{
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        if (*c == '\t') veil_strbuf_printf(b, "\\t");
        else if (*c == '\n') veil_strbuf_printf(b, "\\n");
        else if (*c == '\r') veil_strbuf_printf(b, "\\r");
        else if (*c == '\\') veil_strbuf_printf(b, "\\\\");
        else veil_strbuf_printf(b, "%c", *c);
    }
}

/* JSON numbers as the text output rounds them (a posterior to 6 decimals, seconds to 3) */
static double rounded(double v, double scale) { return round(v * scale) / scale; }

static int argmax(const float *p, int k)
{
    int best = 0;
    for (int i = 1; i < k; i++)
        if (p[i] > p[best]) best = i;
    return best;
}

static cJSON *posterior_json(const veil_model *m, const float *p)
{
    cJSON *o = cJSON_CreateObject();
    for (int k = 0; k < m->n_classes; k++) cJSON_AddNumberToObject(o, m->class_names[k], rounded(p[k], 1e6));
    return o;
}

static int write_text(FILE *f, void *ctx)
{
    const char *s = ctx;
    if (s) fputs(s, f);
    return ferror(f) ? -1 : 0;
}

typedef struct classify_args {
    const char *model, *out;
    const char *task;     /* --task: the model must recognise this (default: whatever it does) */
    int json, per_patch;
    cli_audio_args audio; /* the rows classify shares with extract */
} classify_args;

static const cli_option classify_rows[] = {
    CLI_TEXT_ROW("--model", "FILE", classify_args, model, "a model with a gender recognizer (veil train, veil experiment)"),
    CLI_FLAG_ROW("--per-patch", classify_args, per_patch, "also each patch (text: PATCH START_SECONDS columns, one line each)"),
    CLI_FLAG_ROW("--json", classify_args, json, "JSON lines instead of text"),
    CLI_TEXT_ROW("--task", "NAME", classify_args, task,
                 "refuse a model whose g recognises another task (its metadata\n\"task\": gender, accent, ...)"),
    {"--out", "-o", CLI_TEXT, "FILE", offsetof(classify_args, out), 0, 0, NULL,
     "write there instead of standard output (- = standard output)"},
};

static const char classify_synopsis[] =
    "usage: veil classify --model MODEL.safetensors [AUDIO...] [--list FILE] [options]\n\n"
    "The gender (or the model's task: accent, ...) of each file: the model's recognizer g on the\n"
    "features of every whole patch; a file's posterior is the mean of its patches' posteriors,\n"
    "its class the largest.\n"
    "Text: one line per file, FILE CLASS P(female) P(male) PATCHES (tab-separated, a header\n"
    "first; one P column per class of the model's task).\n"
    "JSON (--json): one object per file and line: {\"file\", \"class\", \"posterior\": {...},\n"
    "\"patches\", and with --per-patch \"per_patch\": [{\"patch\", \"start_seconds\", \"class\",\n"
    "\"posterior\"}]}.\n\n";

int cmd_classify(int argc, char **argv)
{
    classify_args ca = {.out = "-", .audio = CLI_AUDIO_DEFAULTS};
    cli_audio_args *au = &ca.audio;
    cli_table tables[] = {CLI_TABLE(classify_rows, &ca), CLI_TABLE_N(cli_audio_rows, cli_audio_n_rows, au)};
    cli_command cmd = {"classify", classify_synopsis, NULL, tables, 2, 0};
    int parsed = cli_audio_parse(&cmd, argc, argv, au);
    if (parsed != CLI_PARSED) return parsed;
    cli_files files = au->files; /* this function's from here on */
    const char *model_path = ca.model, *out = ca.out, *prec_s = au->precision;
    long threads = au->threads, batch = au->batch;
    int json = ca.json, per_patch = ca.per_patch, strict = au->strict, rc = 1;
    const char *missing = !model_path ? "--model MODEL is required" : !files.n ? "no audio files given" : NULL;
    if (missing) {
        cli_files_free(&files);
        return cli_command_error(&cmd, "%s", missing);
    }
    veil_precision prec;
    veil_model *m = NULL;
    veil_mfcc *mf = NULL;
    float *logits = NULL, *post = NULL, *mean = NULL;
    veil_strbuf b = {0};
    if (veil_output_check(out) || veil_precision_parse(prec_s, &prec)) goto done;
    {
        /* -o may not be an input or the model (compared by device and inode) */
        cli_io *io = veil_malloc((files.n + 2) * sizeof *io);
        size_t n_io = 0;
        io[n_io++] = (cli_io){model_path, "model (--model)", 0};
        for (size_t i = 0; i < files.n; i++) io[n_io++] = (cli_io){files.path[i], "audio file", 0};
        io[n_io++] = (cli_io){out, "-o", 1};
        int clash = cli_check_outputs(io, n_io);
        free(io);
        if (clash) goto done;
    }
    veil_set_threads((int)threads);
    /* the one loader rule of every command: a method veil does not know is refused */
    if (cli_model_load(model_path, prec, (int)batch, &m)) goto done;
    if (!m->g) {
        veil_error("%s: the model has no recognizer g (of gender or another task)", model_path);
        goto done;
    }
    if (ca.task && strcasecmp(ca.task, m->task)) {
        veil_error("%s: the model's g recognises %s, not %s (--task)", model_path, m->task, ca.task);
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
        for (int c = 0; c < k; c++) {
            veil_strbuf_printf(&b, "\tP(");
            put_tsv(&b, m->class_names[c]);
            veil_strbuf_printf(&b, ")");
        }
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
        cJSON *pp = json && per_patch ? cJSON_CreateArray() : NULL;
        for (size_t p0 = 0; p0 < np; p0 += (size_t)batch) {
            size_t n = np - p0 < (size_t)batch ? np - p0 : (size_t)batch;
            if (veil_head_forward(m->g, z + p0 * dim, (int)n, 0, logits) ||
                veil_head_check_output(m->g, logits, n, "the model's gender recognizer g")) {
                veil_error_prefix("%s", name);
                free(z);
                free(patches.s);
                cJSON_Delete(pp);
                goto done;
            }
            for (size_t j = 0; j < n; j++) {
                veil_softmax(logits + j * k, k, post);
                for (int c = 0; c < k; c++) mean[c] += post[c] / (float)np;
                if (!per_patch) continue;
                size_t p = p0 + j;
                if (json) {
                    cJSON *o = cJSON_CreateObject();
                    cJSON_AddNumberToObject(o, "patch", (double)p);
                    cJSON_AddNumberToObject(o, "start_seconds", rounded((double)p * hop_s, 1e3));
                    cJSON_AddStringToObject(o, "class", m->class_names[argmax(post, k)]);
                    cJSON_AddItemToObject(o, "posterior", posterior_json(m, post));
                    cJSON_AddItemToArray(pp, o);
                } else {
                    put_tsv(&patches, name);
                    veil_strbuf_printf(&patches, "\t");
                    put_tsv(&patches, m->class_names[argmax(post, k)]);
                    for (int c = 0; c < k; c++) veil_strbuf_printf(&patches, "\t%.4f", post[c]);
                    veil_strbuf_printf(&patches, "\t1\t%zu\t%.3f\n", p, (double)p * hop_s);
                }
            }
        }
        free(z);
        int cls = argmax(mean, k);
        if (json) {
            /* through the one JSON writer (veil_json_print): a file name that is not UTF-8
             * still gives valid JSON */
            cJSON *o = cJSON_CreateObject();
            cJSON_AddStringToObject(o, "file", name);
            cJSON_AddStringToObject(o, "class", m->class_names[cls]);
            cJSON_AddItemToObject(o, "posterior", posterior_json(m, mean));
            cJSON_AddNumberToObject(o, "patches", (double)np);
            if (pp) cJSON_AddItemToObject(o, "per_patch", pp);
            pp = NULL;
            char *line = veil_json_print(o);
            cJSON_Delete(o);
            veil_strbuf_printf(&b, "%s\n", line);
            free(line);
        } else {
            put_tsv(&b, name);
            veil_strbuf_printf(&b, "\t");
            put_tsv(&b, m->class_names[cls]);
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
