/* veil: privacy-preserving speech features (Nelus et al., Interspeech 2019). */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "veil/common.h"
#include "veil/job.h"

/* Under AddressSanitizer: fontconfig (under cairo's text, in the figures) keeps parts of
 * its parsed configuration unreachable at exit; that is the library's, not ours. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void) { return "leak:libfontconfig.so\n"; }

static const struct {
    const char *name;
    int (*fn)(int, char **);
    const char *help;
} commands[] = {
#ifdef VEIL_HAVE_TRAINING
    {"experiment", cmd_experiment, "run the paper's experiment grid (methods x G x CV iterations)"},
    {"train", cmd_train, "train one extractor (any method: reference, siamese, ...) and save it"},
#endif
    {"extract", cmd_extract, "privacy-preserving features of audio files with a trained model"},
    {"classify", cmd_classify, "gender of audio files with a trained model's recognizer g"},
#ifdef VEIL_HAVE_TRAINING
    {"attack", cmd_attack, "speaker-identification attack on a trained extractor"},
    {"audit", cmd_audit, "the attacker battery on any features (.npy + labels), a model, or raw MFCC"},
    {"corpus", cmd_corpus, "corpus info | synth | features"},
#endif
    {"mfcc", cmd_mfcc, "MFCC frames or patches of one audio file as .npy"},
    {"bench", cmd_bench, "speed of training and extraction"},
};
#define N_COMMANDS (sizeof commands / sizeof commands[0])

static void usage(FILE *f)
{
    fprintf(f, "veil %s - privacy-preserving speech features\n\nusage: veil COMMAND [options]\n\n",
            VEIL_VERSION);
    for (size_t i = 0; i < N_COMMANDS; i++) fprintf(f, "  %-11s %s\n", commands[i].name, commands[i].help);
    fprintf(f, "\nEvery command:\n"
               "  -v, --verbose   more detail on standard error (per-epoch lines while training)\n"
               "  -q, --quiet     only errors (and what the command prints to standard output)\n"
               "  -h, --help      the command's options; also 'veil help COMMAND'\n"
               "  -o -            write the output file to standard output (the commands that take -o;\n"
               "                  audit writes a folder, attack prints its numbers)\n"
               "  --version       the version\n"
               "\n'veil COMMAND --help' or 'veil help COMMAND' describes each command; man veil(1).\n");
}

/* Edit distance, to suggest the nearest option to a mistyped one. */
static size_t edit_distance(const char *a, size_t na, const char *b, size_t nb)
{
    size_t row[128];
    if (nb >= sizeof row / sizeof row[0]) return (size_t)-1;
    for (size_t j = 0; j <= nb; j++) row[j] = j;
    for (size_t i = 1; i <= na; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= nb; j++) {
            size_t up = row[j], best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best) best = up + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            diag = up;
            row[j] = best;
        }
    }
    return row[nb];
}

int cli_nearest_option(const char *usage, const char *arg, char *out, size_t n)
{
    size_t best = (size_t)-1, na = strlen(arg);
    const char *eq = strchr(arg, '=');
    if (eq) na = (size_t)(eq - arg);
    out[0] = 0;
    for (const char *p = usage; (p = strstr(p, "--")) != NULL;) {
        const char *q = p + 2;
        while (*q == '-' || (*q >= 'a' && *q <= 'z') || (*q >= '0' && *q <= '9')) q++;
        size_t len = (size_t)(q - p);
        if (len > 2) {
            size_t d = edit_distance(arg, na, p, len);
            if (d < best && len < n) {
                best = d;
                memcpy(out, p, len);
                out[len] = 0;
            }
        }
        p = q;
    }
    /* close enough to be a typo: at most a third of the option's letters */
    return out[0] && best > 0 && best <= (strlen(out) + 2) / 3 ? 1 : out[0] && best == 0 ? 2 : 0;
}

int cli_fail(void)
{
    fprintf(stderr, "veil: %s\n", veil_last_error());
    return 1;
}

int cli_help(const char *a, const char *usage)
{
    if (strcmp(a, "--help") && strcmp(a, "-h")) return 0;
    fputs(usage, stdout);
    return 1;
}

int cli_usage_error(const char *cmd, const char *usage, const char *fmt, const char *arg)
{
    fprintf(stderr, "veil %s: ", cmd);
    fprintf(stderr, fmt, arg);
    char near[64];
    int k = arg && arg[0] == '-' && arg[1] ? cli_nearest_option(usage, arg, near, sizeof near) : 0;
    if (k == 1) fprintf(stderr, " (did you mean '%s'?)", near);
    /* one line of error and one pointing to the help: the full text buries the error */
    fprintf(stderr, "\nsee 'veil %s --help'\n", cmd);
    return 2;
}

int cli_unknown_option(const char *cmd, const char *usage, const char *arg)
{
    char near[64];
    int k = arg[0] == '-' ? cli_nearest_option(usage, arg, near, sizeof near) : 0;
    return cli_usage_error(cmd, usage, k == 2 ? "'%s' needs a value" : "unknown option '%s'", arg);
}

int cli_parse_int(const char *opt, const char *value, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    /* strtol skips leading blanks: ' 1' would pass where '1 ' fails */
    long v = value && !isspace((unsigned char)value[0]) ? strtol(value, &end, 10) : 0;
    if (!value || isspace((unsigned char)value[0]) || errno || *end || end == value || v < lo || v > hi) {
        veil_error("%s: expected an integer in %ld..%ld, got '%s'", opt, lo, hi, value ? value : "");
        return -1;
    }
    *out = v;
    return 0;
}

int cli_parse_u64(const char *opt, const char *value, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = value && !isspace((unsigned char)value[0]) ? strtoull(value, &end, 10) : 0;
    if (!value || isspace((unsigned char)value[0]) || errno || *end || end == value || value[0] == '-' ||
        value[0] == '+') {
        veil_error("%s: expected an integer in 0..18446744073709551615, got '%s'", opt, value ? value : "");
        return -1;
    }
    *out = (uint64_t)v;
    return 0;
}

int cli_parse_double(const char *opt, const char *value, double *out)
{
    char *end;
    errno = 0;
    double v = value && !isspace((unsigned char)value[0]) ? strtod(value, &end) : 0;
    if (!value || isspace((unsigned char)value[0]) || errno || *end || end == value) {
        veil_error("%s: expected a number, got '%s'", opt, value ? value : "");
        return -1;
    }
    *out = v;
    return 0;
}

/* OpenMP's wait policy when the user set none: passive (waiting threads sleep instead of
 * spinning). On cores shared with other processes, libgomp's default spin steals the
 * core from the thread that is being waited for and a step takes several times as long
 * (docs/experiment.md, "Sharing the machine"); on idle cores passive costs a few percent.
 * libgomp reads OMP_WAIT_POLICY and GOMP_SPINCOUNT once, when it is loaded (before
 * main), so the program runs itself again with the setting in its environment. */
static void default_wait_policy(char **argv)
{
    if (getenv("OMP_WAIT_POLICY") || getenv("GOMP_SPINCOUNT")) return;
    if (setenv("OMP_WAIT_POLICY", "PASSIVE", 1)) return;
    execv("/proc/self/exe", argv);
    /* no /proc: carry on with libgomp's default for this process */
}

/* -v/-q mean the same for every command: taken out here, before the command parses. */
static int take_verbosity(int argc, char **argv)
{
    int n = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        if (i > 0 && (!strcmp(a, "-v") || !strcmp(a, "--verbose"))) veil_verbosity = 2;
        else if (i > 0 && (!strcmp(a, "-q") || !strcmp(a, "--quiet"))) veil_verbosity = 0;
        else argv[n++] = argv[i];
    }
    argv[n] = NULL;
    return n;
}

int main(int argc, char **argv)
{
    default_wait_policy(argv);        /* re-runs itself first, with the original argv */
    argc = take_verbosity(argc, argv); /* veil -v COMMAND ... and veil COMMAND ... -v alike */
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("veil %s\n", VEIL_VERSION);
        return 0;
    }
    if (!strcmp(argv[1], "help")) {
        if (argc < 3) {
            usage(stdout);
            return 0;
        }
        for (size_t i = 0; i < N_COMMANDS; i++)
            if (!strcmp(argv[2], commands[i].name)) {
                char *help_argv[] = {argv[2], "--help", NULL};
                return commands[i].fn(2, help_argv);
            }
        fprintf(stderr, "veil help: unknown command '%s'\n\n", argv[2]);
        usage(stderr);
        return 2;
    }
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (!strcmp(argv[1], commands[i].name)) return commands[i].fn(argc - 1, argv + 1);
    size_t best = 0, best_d = (size_t)-1;
    for (size_t i = 0; i < N_COMMANDS; i++) {
        size_t d = edit_distance(argv[1], strlen(argv[1]), commands[i].name, strlen(commands[i].name));
        if (d < best_d) best_d = d, best = i;
    }
    fprintf(stderr, "veil: unknown command '%s'", argv[1]);
    if (best_d <= 2) fprintf(stderr, " (did you mean '%s'?)", commands[best].name);
    fprintf(stderr, "\n\n");
    usage(stderr);
    return 2;
}

int cli_read_mfcc_config(const char *path, veil_mfcc_config *c)
{
    char *text;
    if (veil_read_file(path, &text, NULL) != 0) return -1;
    int rc = veil_mfcc_config_from_json(text, c);
    free(text);
    if (rc != 0) {
        veil_error_prefix("%s", path);
        return -1;
    }
    return 0;
}

int cli_model_load(const char *path, veil_precision precision, int max_batch, veil_model **out)
{
    if (veil_model_load(path, precision, max_batch, out) != 0) return -1;
    veil_method m;
    if (veil_method_parse((*out)->method, &m) != 0) {
        veil_error_prefix("%s: metadata 'method'", path);
        veil_model_free(*out);
        *out = NULL;
        return -1;
    }
    return 0;
}
