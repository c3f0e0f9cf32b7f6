/* veil: privacy-preserving speech features (Nelus et al., Interspeech 2019). */
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

int cli_fail(void)
{
    fprintf(stderr, "veil: %s\n", veil_last_error());
    return 1;
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
        size_t d = cli_edit_distance(argv[1], strlen(argv[1]), commands[i].name, strlen(commands[i].name));
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
