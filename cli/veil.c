/* veil: privacy-preserving speech features (Nelus et al., Interspeech 2019). */
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
    {"experiment", cmd_experiment, "run the paper's experiment grid (methods x G x CV iterations)"},
    {"train", cmd_train, "train one extractor (siamese | reference) and save it"},
    {"extract", cmd_extract, "privacy-preserving features of audio files with a trained model"},
    {"attack", cmd_attack, "speaker-identification attack on a trained extractor"},
    {"audit", cmd_audit, "the attacker battery on any features (.npy + labels), a model, or raw MFCC"},
    {"corpus", cmd_corpus, "corpus info | synth | features"},
    {"mfcc", cmd_mfcc, "MFCC frames or patches of one audio file as .npy"},
    {"bench", cmd_bench, "speed of training and extraction"},
};

static void usage(FILE *f)
{
    fprintf(f, "veil %s - privacy-preserving speech features\n\nusage: veil COMMAND [options]\n\n",
            VEIL_VERSION);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-11s %s\n", commands[i].name, commands[i].help);
    fprintf(f, "\n'veil COMMAND --help' describes each command.\n");
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
    fprintf(stderr, "\n\n%s", usage);
    return 2;
}

int cli_parse_int(const char *opt, const char *value, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = value ? strtol(value, &end, 10) : 0;
    if (!value || errno || *end || end == value || v < lo || v > hi) {
        veil_error("%s: expected an integer in %ld..%ld, got '%s'", opt, lo, hi, value ? value : "");
        return -1;
    }
    *out = v;
    return 0;
}

int cli_parse_double(const char *opt, const char *value, double *out)
{
    char *end;
    errno = 0;
    double v = value ? strtod(value, &end) : 0;
    if (!value || errno || *end || end == value) {
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

int main(int argc, char **argv)
{
    default_wait_policy(argv);
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("veil %s\n", VEIL_VERSION);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name)) return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "veil: unknown command '%s'\n\n", argv[1]);
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
