/* veil corpus: info | features | synth. */
#include <cjson/cJSON.h>

#include "json.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "veil/common.h"
#include "veil/corpus.h"
#include "veil/features.h"

static const char *usage_text =
    "usage: veil corpus info DIR|MANIFEST.csv [--json]\n"
    "       veil corpus features DIR|MANIFEST.csv [--cache DIR] [--threads N] [--mfcc CONFIG.json] [--json]\n"
    "       veil corpus synth --out DIR [--speakers 420] [--female 130] [--seconds 31] [--seed N]\n"
    "                         [--threads N] [--json]\n"
    "\n"
    "Layouts: a TIMIT tree (TRAIN|TEST/DRn/<F|M>id/*.WAV), LibriSpeech (SPEAKERS.TXT),\n"
    "VCTK (speaker-info.txt) or a manifest CSV 'path,speaker,gender[,labels...]'.\n"
    "features computes (or loads from the cache) the MFCC patches of every file;\n"
    "the cache lives in DIR/.veil-cache unless --cache is given. See docs/corpora.md.\n"
    "A manifest is any regular file (CSV with a header; it need not end in .csv).\n"
    "  --json                 JSON instead of text\n"
    "  --cache DIR            where MFCC patches are cached\n"
    "  --threads N            worker threads (default: all cores)\n"
    "  --mfcc CONFIG.json     MFCC settings (veil mfcc --print-config gives the fields)\n"
    "  --out DIR              synth: where the corpus is written (TIMIT layout)\n"
    "  --speakers N, --female N, --seconds S, --seed N   synth: the corpus drawn\n"
    "  -v, -q                 more / less on standard error\n";

static int usage_error(const char *fmt, const char *arg)
{
    return cli_usage_error("corpus", usage_text, fmt, arg);
}

static void print_and_free(char *s)
{
    fputs(s, stdout);
    if (*s && s[strlen(s) - 1] != '\n') fputc('\n', stdout);
    free(s);
}

/* ---------------- info ---------------- */
static int corpus_info(int argc, char **argv)
{
    const char *dir = NULL;
    int json = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json")) json = 1;
        else if (argv[i][0] == '-') return cli_unknown_option("corpus", usage_text, argv[i]);
        else if (!dir) dir = argv[i];
        else return usage_error("unexpected argument '%s'", argv[i]);
    }
    if (!dir) return usage_error("%s", "info needs a corpus folder or manifest");
    veil_corpus *c;
    if (veil_corpus_load(dir, &c) != 0) return cli_fail();
    print_and_free(json ? veil_corpus_summary_json(c) : veil_corpus_summary_text(c));
    veil_corpus_free(c);
    return 0;
}

/* ---------------- features ---------------- */
static int cmp_size(const void *x, const void *y)
{
    size_t a = *(const size_t *)x, b = *(const size_t *)y;
    return (a > b) - (a < b);
}

static void report_features(const veil_corpus *c, const veil_patch_set *p, int json)
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
        puts(s);
        free(s);
        cJSON_Delete(o);
    } else {
        printf("corpus        %s (%d speakers, %d utterances)\n", c->root, ns, c->n_utts);
        printf("patches       %zu of %dx%d (F %zu, M %zu)\n", p->n_patches, p->patch_h, p->patch_w, per_gender[0],
               per_gender[1]);
        printf("per speaker   min %zu, median %.1f, max %zu\n", n[0], median, n[ns - 1]);
        if (p->n_short_utts)
            printf("short files   %d utterance%s shorter than one patch (%.3f s) gave no patches\n", p->n_short_utts,
                   p->n_short_utts == 1 ? "" : "s", patch_s);
        if (empty)
            printf("no patches    %d speaker%s: %s%s (the experiment protocol refuses them)\n", empty,
                   empty == 1 ? "" : "s", empty_ids, empty > 10 ? ", ..." : "");
        printf("source        %s\n", p->from_cache ? "cache" : "computed");
        printf("cache         %s\n", p->cache_path ? p->cache_path : "(none: no writable folder)");
        printf("time          %.2f s\n", p->seconds);
    }
    free(n);
}

static int corpus_features(int argc, char **argv)
{
    const char *dir = NULL, *cache = NULL, *mfcc_file = NULL;
    long threads = 0;
    int json = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--json")) json = 1;
        else if (!strcmp(a, "--cache") && i + 1 < argc) cache = argv[++i];
        else if (!strcmp(a, "--mfcc") && i + 1 < argc) mfcc_file = argv[++i];
        else if (!strcmp(a, "--threads")) {
            if (cli_parse_int(a, i + 1 < argc ? argv[++i] : NULL, 0, 1024, &threads) != 0) return cli_fail();
        } else if (a[0] == '-') return cli_unknown_option("corpus", usage_text, a);
        else if (!dir) dir = a;
        else return usage_error("unexpected argument '%s'", a);
    }
    if (!dir) return usage_error("%s", "features needs a corpus folder or manifest");
    veil_mfcc_config m;
    veil_mfcc_config_default(&m);
    if (mfcc_file && cli_read_mfcc_config(mfcc_file, &m)) return cli_fail();
    veil_corpus *c;
    if (veil_corpus_load(dir, &c) != 0) return cli_fail();
    veil_patch_set *p;
    if (veil_features_load(c, &m, cache, (int)threads, &p) != 0) {
        veil_corpus_free(c);
        return cli_fail();
    }
    report_features(c, p, json);
    veil_patch_set_free(p);
    veil_corpus_free(c);
    return 0;
}

/* ---------------- synth ---------------- */
#ifdef VEIL_HAVE_SYNTH
static int corpus_synth(int argc, char **argv)
{
    veil_synth_config sc;
    veil_synth_config_default(&sc);
    const char *out = NULL;
    int json = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        long n;
        double d;
        if (!strcmp(a, "--json")) {
            json = 1;
            continue;
        }
        if (!strcmp(a, "--out") && v) out = v;
        else if (!strcmp(a, "--speakers")) {
            if (cli_parse_int(a, v, 2, 100000, &n) != 0) return cli_fail();
            sc.speakers = (int)n;
        } else if (!strcmp(a, "--female")) {
            if (cli_parse_int(a, v, 1, 100000, &n) != 0) return cli_fail();
            sc.female = (int)n;
        } else if (!strcmp(a, "--seconds")) {
            if (cli_parse_double(a, v, &d) != 0) return cli_fail();
            sc.seconds = d;
        } else if (!strcmp(a, "--seed")) {
            if (cli_parse_int(a, v, 0, 0x7fffffffL, &n) != 0) return cli_fail();
            sc.seed = (uint64_t)n;
        } else if (!strcmp(a, "--threads")) {
            if (cli_parse_int(a, v, 0, 1024, &n) != 0) return cli_fail();
            sc.threads = (int)n;
        } else return cli_unknown_option("corpus", usage_text, a);
        i++;
    }
    if (!out) return usage_error("%s", "synth needs --out DIR");
    if (veil_synth_corpus(&sc, out) != 0) return cli_fail();
    veil_corpus *c;
    if (veil_corpus_load(out, &c) != 0) return cli_fail();
    print_and_free(json ? veil_corpus_summary_json(c) : veil_corpus_summary_text(c));
    veil_corpus_free(c);
    return 0;
}
#else
static int corpus_synth(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "veil corpus synth: this veil was built without espeak-ng (VEIL_WITH_SYNTH=OFF)\n");
    return 1;
}
#endif

int cmd_corpus(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        fputs(usage_text, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    for (int i = 2; i < argc; i++)
        if (cli_help(argv[i], usage_text)) return 0;
    if (!strcmp(argv[1], "info")) return corpus_info(argc - 1, argv + 1);
    if (!strcmp(argv[1], "features")) return corpus_features(argc - 1, argv + 1);
    if (!strcmp(argv[1], "synth")) return corpus_synth(argc - 1, argv + 1);
    return usage_error("unknown subcommand '%s'", argv[1]);
}
