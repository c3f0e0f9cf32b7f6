/* veil corpus: info | features | synth. */
#include <cjson/cJSON.h>

#include "core/base/json.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "veil/common.h"
#include "veil/corpus.h"
#include "veil/features.h"
#include "veil/npy.h"
#include <strings.h>

typedef struct corpus_args {
    const char *dir, *cache, *mfcc, *out, *index;
    int threads, json;
    veil_synth_config synth;
} corpus_args;

static int take_synth_seed(void *a, const char *name, const char *v)
{
    long seed;
    if (cli_parse_int(name, v, 0, 0x7fffffffL, &seed)) return -1;
    ((corpus_args *)a)->synth.seed = (uint64_t)seed;
    return 0;
}

static int take_synth_seconds(void *a, const char *name, const char *v)
{
    return cli_parse_double(name, v, &((corpus_args *)a)->synth.seconds);
}

static const cli_option info_rows[] = {
    CLI_ARG_ROW("DIR|MANIFEST.csv", corpus_args, dir, "the corpus: a folder or a manifest"),
    CLI_FLAG_ROW("--json", corpus_args, json, "JSON instead of text"),
};
static const cli_option features_rows[] = {
    CLI_ARG_ROW("DIR|MANIFEST.csv", corpus_args, dir, NULL),
    CLI_TEXT_ROW("--cache", "DIR", corpus_args, cache, "where MFCC patches are cached"),
    CLI_INT_ROW("--threads", "N", corpus_args, threads, 0, 1024, "worker threads (default: all cores)"),
    CLI_TEXT_ROW("--mfcc", "CONFIG.json", corpus_args, mfcc, "MFCC settings (veil mfcc --print-config gives the fields)"),
    {"--out", "-o", CLI_TEXT, "PATCHES.npy", offsetof(corpus_args, out), 0, 0, NULL,
     "also write every patch (n x 32 x 32 float32; - for standard output)\n"
     "and PATCHES.index.csv beside it: row, file, patch, start_seconds,\n"
     "speaker, gender, utterance and the corpus's labels, so it is a\n"
     "labels file of veil audit"},
    CLI_TEXT_ROW("--index", "FILE", corpus_args, index, "where that index goes (default PATCHES.index.csv)"),
    CLI_FLAG_ROW("--json", corpus_args, json, NULL),
};
static const cli_option synth_rows[] = {
    CLI_TEXT_ROW("--out", "DIR", corpus_args, out, "where the corpus is written (TIMIT layout)"),
    CLI_INT_ROW("--speakers", "N", corpus_args, synth.speakers, 2, 100000, "speakers (default 420)"),
    CLI_INT_ROW("--female", "N", corpus_args, synth.female, 1, 100000, "of them female (default 130)"),
    CLI_CALL_ROW("--seconds", "S", take_synth_seconds, "seconds of speech per speaker (default 31)"),
    CLI_CALL_ROW("--seed", "N", take_synth_seed, "the same seed gives the same files (default 1)"),
    CLI_INT_ROW("--threads", "N", corpus_args, synth.threads, 0, 1024, "worker processes (default: all cores)"),
    CLI_FLAG_ROW("--json", corpus_args, json, NULL),
};

static const char corpus_synopsis[] =
    "usage: veil corpus info DIR|MANIFEST.csv [--json]\n"
    "       veil corpus features DIR|MANIFEST.csv [--cache DIR] [--threads N] [--mfcc CONFIG.json] [--json]\n"
    "                            [-o PATCHES.npy [--index FILE]]\n"
    "       veil corpus synth --out DIR [--speakers 420] [--female 130] [--seconds 31] [--seed N]\n"
    "                         [--threads N] [--json]\n"
    "\n"
    "Layouts: a TIMIT tree (TRAIN|TEST/DRn/<F|M>id/*.WAV), LibriSpeech (SPEAKERS.TXT),\n"
    "VCTK (speaker-info.txt) or a manifest CSV 'path,speaker,gender[,labels...]'.\n"
    "features computes (or loads from the cache) the MFCC patches of every file;\n"
    "the cache lives in DIR/.veil-cache unless --cache is given. See docs/corpora.md.\n"
    "A manifest is any regular file (CSV with a header; it need not end in .csv).\n";

/* The subcommand's rows: its options, its messages "veil corpus: ...". sub: 0 info,
 * 1 features, 2 synth; -1: all three with headings (--help). */
static cli_command corpus_command(cli_table *t, corpus_args *a, int sub)
{
    cli_table all[] = {
        {info_rows, sizeof info_rows / sizeof *info_rows, a, "info:", NULL},
        {features_rows, sizeof features_rows / sizeof *features_rows, a, "features:", NULL},
        {synth_rows, sizeof synth_rows / sizeof *synth_rows, a, "synth:", NULL},
    };
    for (int k = 0; k < 3; k++) t[k] = all[k];
    return (cli_command){"corpus", corpus_synopsis, NULL, sub < 0 ? t : t + sub, sub < 0 ? 3 : 1, 0};
}

static void print_and_free(char *s)
{
    fputs(s, stdout);
    if (*s && s[strlen(s) - 1] != '\n') fputc('\n', stdout);
    free(s);
}

/* ---------------- info ---------------- */
static int corpus_info(const cli_command *cmd, const corpus_args *a)
{
    const char *dir = a->dir;
    int json = a->json;
    if (!dir) return cli_command_error(cmd, "%s", "info needs a corpus folder or manifest");
    veil_corpus *c;
    if (veil_corpus_load(dir, &c) != 0) return cli_fail();
    print_and_free(json ? veil_corpus_summary_json(c) : veil_corpus_summary_text(c));
    veil_corpus_free(c);
    return 0;
}

/* ---------------- the labelled index ---------------- */
void cli_corpus_index_labels(const veil_corpus *c, veil_index_labels *out)
{
    static const char *const fixed[] = {"speaker", "gender", "utterance"};
    static const char *const taken[] = {"row", "file", "patch", "start_seconds", "speaker", "gender", "utterance"};
    int keep[64], nk = 0;
    for (int l = 0; l < c->n_label_names && nk < 64; l++) {
        int clash = 0;
        for (size_t t = 0; t < sizeof taken / sizeof *taken; t++) clash |= !strcasecmp(c->label_names[l], taken[t]);
        if (!clash) keep[nk++] = l;
    }
    out->n_cols = 3 + nk;
    out->names = veil_malloc((size_t)out->n_cols * sizeof *out->names);
    for (int k = 0; k < 3; k++) out->names[k] = veil_strdup(fixed[k]);
    for (int k = 0; k < nk; k++) out->names[3 + k] = veil_strdup(c->label_names[keep[k]]);
    /* the folder all paths share: what is left names the utterance uniquely */
    size_t common = 0;
    if (c->n_utts > 0) {
        const char *first = c->utts[0].path, *slash = strrchr(first, '/');
        common = slash ? (size_t)(slash - first) + 1 : 0;
        for (int u = 1; u < c->n_utts; u++) {
            size_t k = 0;
            while (k < common && c->utts[u].path[k] == first[k]) k++;
            while (k > 0 && first[k - 1] != '/') k--;
            common = k;
        }
    }
    out->values = veil_malloc((size_t)c->n_utts * (size_t)out->n_cols * sizeof *out->values);
    for (int u = 0; u < c->n_utts; u++) {
        const veil_speaker *s = &c->speakers[c->utts[u].speaker];
        char **v = out->values + (size_t)u * (size_t)out->n_cols;
        const char *rel = c->utts[u].path + common, *base = strrchr(rel, '/'), *dot = strrchr(rel, '.');
        size_t n = dot && dot > (base ? base + 1 : rel) ? (size_t)(dot - rel) : strlen(rel);
        v[0] = veil_strdup(s->id);
        v[1] = veil_strdup(s->gender == 'M' ? "M" : "F");
        v[2] = veil_malloc(n + 1);
        memcpy(v[2], rel, n);
        v[2][n] = 0;
        for (int k = 0; k < nk; k++) v[3 + k] = veil_strdup(s->labels ? s->labels[keep[k]] : "");
    }
}

/* ---------------- features ---------------- */
static int cmp_size(const void *x, const void *y)
{
    size_t a = *(const size_t *)x, b = *(const size_t *)y;
    return (a > b) - (a < b);
}

static void report_features(FILE *out, const veil_corpus *c, const veil_patch_set *p, int json)
{
    int ns = c->n_speakers;
    size_t *n = malloc((size_t)ns * sizeof *n);
    size_t per_gender[2] = {0, 0};
    int empty = 0;
    char empty_ids[512] = "";
    for (int s = 0; s < ns; s++) {
        n[s] = veil_speaker_patches(p, s);
        per_gender[c->speakers[s].gender == 'M'] += n[s];
        if (n[s] == 0) {
            size_t len = strlen(empty_ids);
            if (empty < 10) snprintf(empty_ids + len, sizeof empty_ids - len, "%s%s", empty ? ", " : "", c->speakers[s].id);
            empty++;
        }
    }
    qsort(n, (size_t)ns, sizeof *n, cmp_size);
    double median = ns % 2 ? (double)n[ns / 2] : 0.5 * (double)(n[ns / 2 - 1] + n[ns / 2]);
    double patch_s = ((double)p->mfcc.win_length + (double)p->mfcc.hop_length * (p->mfcc.patch_frames - 1)) /
                     p->mfcc.sample_rate;
    if (json) {
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "root", c->root);
        cJSON_AddNumberToObject(o, "speakers", ns);
        cJSON_AddNumberToObject(o, "utterances", c->n_utts);
        cJSON_AddNumberToObject(o, "patches", (double)p->n_patches);
        cJSON_AddNumberToObject(o, "patches_female", (double)per_gender[0]);
        cJSON_AddNumberToObject(o, "patches_male", (double)per_gender[1]);
        cJSON *ps = cJSON_AddObjectToObject(o, "patches_per_speaker");
        cJSON_AddNumberToObject(ps, "min", (double)n[0]);
        cJSON_AddNumberToObject(ps, "median", median);
        cJSON_AddNumberToObject(ps, "max", (double)n[ns - 1]);
        cJSON_AddNumberToObject(o, "patch_frames", p->patch_h);
        cJSON_AddNumberToObject(o, "patch_coeffs", p->patch_w);
        cJSON_AddNumberToObject(o, "short_utterances", p->n_short_utts);
        cJSON_AddNumberToObject(o, "speakers_without_patches", empty);
        cJSON_AddBoolToObject(o, "from_cache", p->from_cache);
        if (p->cache_path) cJSON_AddStringToObject(o, "cache", p->cache_path);
        else cJSON_AddNullToObject(o, "cache");
        cJSON_AddNumberToObject(o, "seconds", p->seconds);
        char *s = veil_json_print(o);
        fprintf(out, "%s\n", s);
        free(s);
        cJSON_Delete(o);
    } else {
        fprintf(out, "corpus        %s (%d speakers, %d utterances)\n", c->root, ns, c->n_utts);
        fprintf(out, "patches       %zu of %dx%d (F %zu, M %zu)\n", p->n_patches, p->patch_h, p->patch_w, per_gender[0],
               per_gender[1]);
        fprintf(out, "per speaker   min %zu, median %.1f, max %zu\n", n[0], median, n[ns - 1]);
        if (p->n_short_utts)
            fprintf(out, "short files   %d utterance%s shorter than one patch (%.3f s) gave no patches\n", p->n_short_utts,
                   p->n_short_utts == 1 ? "" : "s", patch_s);
        if (empty)
            fprintf(out, "no patches    %d speaker%s: %s%s (the experiment protocol refuses them)\n", empty,
                   empty == 1 ? "" : "s", empty_ids, empty > 10 ? ", ..." : "");
        fprintf(out, "source        %s\n", p->from_cache ? "cache" : "computed");
        fprintf(out, "cache         %s\n", p->cache_path ? p->cache_path : "(none: no writable folder)");
        fprintf(out, "time          %.2f s\n", p->seconds);
    }
    free(n);
}

typedef struct {
    const veil_corpus *c;
    const size_t *first_row, *n_rows; /* per utterance */
    double patch_seconds;
    const veil_index_labels *labels;
} corpus_index_ctx;

static int write_corpus_index(FILE *f, void *p)
{
    const corpus_index_ctx *x = p;
    const char **files = veil_malloc((size_t)(x->c->n_utts ? x->c->n_utts : 1) * sizeof *files);
    for (int u = 0; u < x->c->n_utts; u++) files[u] = x->c->utts[u].path;
    int rc = veil_extract_index_write_labelled(f, files, x->first_row, x->n_rows, (size_t)x->c->n_utts,
                                               x->patch_seconds, x->labels);
    free(files);
    return rc;
}

/* -o PATCHES.npy: every patch (n x frames x coefficients float32) and its labelled index
 * (row,file,patch,start_seconds,speaker,gender,utterance,...), both or neither. */
static int write_patches(const veil_corpus *c, const veil_patch_set *p, const char *out, const char *index_path)
{
    size_t nu = (size_t)(c->n_utts ? c->n_utts : 1);
    size_t *first_row = veil_calloc(nu, sizeof *first_row), *n_rows = veil_calloc(nu, sizeof *n_rows);
    int rc = -1;
    /* the set holds each utterance's patches together, in corpus order: the index says so */
    for (size_t i = 0; i < p->n_patches; i++) {
        int u = p->patch_utt[i];
        if (u < 0 || u >= c->n_utts || (n_rows[u] && first_row[u] + n_rows[u] != i) ||
            (i > 0 && p->patch_utt[i - 1] > u)) {
            veil_error("%s: patch %zu of utterance %d is out of order in the patch set", c->root, i, u);
            goto done;
        }
        if (!n_rows[u]) first_row[u] = i;
        n_rows[u]++;
    }
    veil_index_labels labels;
    cli_corpus_index_labels(c, &labels);
    size_t shape[3] = {p->n_patches, (size_t)p->patch_h, (size_t)p->patch_w};
    veil_npy_array arr = {out, p->patches, 3, shape};
    corpus_index_ctx ix = {c, first_row, n_rows, (double)p->mfcc.patch_frames * p->mfcc.hop_length / p->mfcc.sample_rate,
                           &labels};
    /* the index renamed first: a reader that finds the array finds its index */
    veil_write_item set[2] = {{index_path, write_corpus_index, &ix}, {out, veil_npy_write_fn, &arr}};
    rc = index_path ? veil_write_atomic_set(set, 2) : veil_write_atomic_set(set + 1, 1);
    veil_index_labels_free(&labels, (size_t)c->n_utts);
done:
    free(first_row);
    free(n_rows);
    return rc;
}

static int corpus_features(const cli_command *cmd, const corpus_args *a)
{
    const char *dir = a->dir, *cache = a->cache, *mfcc_file = a->mfcc, *out = a->out, *index_arg = a->index;
    long threads = a->threads;
    int json = a->json;
    if (!dir) return cli_command_error(cmd, "%s", "features needs a corpus folder or manifest");
    if (index_arg && !out) return cli_command_error(cmd, "%s", "--index goes with -o PATCHES.npy");
    char *index_path = !out ? NULL : index_arg ? veil_strdup(index_arg) : strcmp(out, "-") ? cli_default_index_path(out) : NULL;
    /* outputs that cannot be written, or that are the manifest, are refused before any work */
    if (out) {
        cli_io io[3] = {{dir, "corpus", 0}, {out, "-o", 1}, {index_path, index_arg ? "--index" : "the index", 1}};
        if (veil_output_check(out) || (index_path && veil_output_check(index_path)) ||
            cli_check_outputs(io, index_path ? 3 : 2)) {
            free(index_path);
            return cli_fail();
        }
    }
    veil_mfcc_config m;
    veil_mfcc_config_default(&m);
    veil_corpus *c = NULL;
    veil_patch_set *p = NULL;
    int rc = 1;
    if (mfcc_file && cli_read_mfcc_config(mfcc_file, &m)) goto done;
    if (veil_corpus_load(dir, &c) != 0) goto done;
    if (veil_features_load(c, &m, cache, (int)threads, &p) != 0) goto done;
    if (out && p->n_patches == 0) {
        veil_error("%s: no utterance gave a whole patch", dir);
        goto done;
    }
    if (out && write_patches(c, p, out, index_path)) goto done;
    /* the report on standard output, unless the patches go there */
    report_features(out && !strcmp(out, "-") ? stderr : stdout, c, p, json);
    rc = 0;
done:
    free(index_path);
    veil_patch_set_free(p);
    veil_corpus_free(c);
    return rc ? cli_fail() : 0;
}

/* ---------------- synth ---------------- */
#ifdef VEIL_HAVE_SYNTH
static int corpus_synth(const cli_command *cmd, const corpus_args *a)
{
    const char *out = a->out;
    int json = a->json;
    if (!out) return cli_command_error(cmd, "%s", "synth needs --out DIR");
    if (veil_synth_corpus(&a->synth, out) != 0) return cli_fail();
    veil_corpus *c;
    if (veil_corpus_load(out, &c) != 0) return cli_fail();
    print_and_free(json ? veil_corpus_summary_json(c) : veil_corpus_summary_text(c));
    veil_corpus_free(c);
    return 0;
}
#else
static int corpus_synth(const cli_command *cmd, const corpus_args *a)
{
    (void)cmd;
    (void)a;
    fprintf(stderr, "veil corpus synth: this veil was built without espeak-ng (VEIL_WITH_SYNTH=OFF)\n");
    return 1;
}
#endif

int cmd_corpus(int argc, char **argv)
{
    corpus_args a = {0};
    cli_table t[3];
    cli_command all = corpus_command(t, &a, -1);
    int help = argc < 2;
    for (int i = 1; i < argc; i++) help |= !strcmp(argv[i], "--help") || !strcmp(argv[i], "-h");
    if (help) {
        cli_print_help(&all, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    static const struct {
        const char *name;
        int (*run)(const cli_command *cmd, const corpus_args *a);
    } subs[] = {{"info", corpus_info}, {"features", corpus_features}, {"synth", corpus_synth}};
    for (int k = 0; k < 3; k++) {
        if (strcmp(argv[1], subs[k].name)) continue;
#ifdef VEIL_HAVE_SYNTH
        veil_synth_config_default(&a.synth);
#endif
        cli_command cmd = corpus_command(t, &a, k);
        int parsed = cli_parse(&cmd, argc - 1, argv + 1);
        return parsed != CLI_PARSED ? parsed : subs[k].run(&cmd, &a);
    }
    return cli_command_error(&all, "unknown subcommand '%s'", argv[1]);
}
