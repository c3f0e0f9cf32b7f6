/* veil bench: speed of the MFCC front end, of the extractor and of the attacker head.
 * The options of the three benchmarks are declared here; each benchmark gets them parsed. */
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "veil/common.h"

static int take_precision(void *a, const char *name, const char *v)
{
    (void)name;
    return veil_precision_parse(v, &((cli_bench_args *)a)->precision);
}

static int take_seconds(void *a, const char *name, const char *v)
{
    double *s = &((cli_bench_args *)a)->seconds;
    if (!cli_parse_double(name, v, s) && *s >= 1 && *s <= 36000) return 0;
    veil_error("%s must be in 1..36000", name);
    return -1;
}

/* what the train and head benchmarks share */
static const cli_option network_rows[] = {
    CLI_CALL_ROW("--precision", "P", take_precision, "fp32 (default), bf16 or auto"),
    CLI_INT_ROW("--threads", "N", cli_bench_args, threads, 1, 1024, "worker threads (default 2)"),
    CLI_FLAG_ROW("--json", cli_bench_args, json, "one JSON line instead of text"),
};
static const cli_option train_rows[] = {
    CLI_INT_ROW("--groups", "G", cli_bench_args, groups, 1, VEIL_MAX_GROUPS, "G = 1..5 (default 5)"),
    CLI_INT_ROW("--repeat", "R", cli_bench_args, repeat, 1, 100, "best of R runs (default 1)"),
};
static const cli_option head_rows[] = {
    CLI_INT_ROW("--in-dim", "D", cli_bench_args, in_dim, 1, 1 << 20,
                "input features (default 16384: G = 1; 4096: G = 2..3; 1024: G = 4..5)"),
    CLI_INT_ROW("--repeat", "R", cli_bench_args, repeat, 1, 100, "timed epochs, the best is reported (default 3)"),
    CLI_FLAG_ROW("--plain-adam", cli_bench_args, plain_adam,
                 "veil_adam_step on the plain parameters (the layout copies at every\n"
                 "step) instead of veil_head_adam_step (what training uses)"),
    CLI_FLAG_ROW("--bound", cli_bench_args, bound,
                 "also a lower bound for one step on this machine: the step's GEMMs at\n"
                 "oneDNN's best, Adam's bytes at the speed of its access pattern on the\n"
                 "step's own arrays (docs/network.md)"),
};
static const cli_option mfcc_rows[] = {
    CLI_CALL_ROW("--seconds", "S", take_seconds, "length of the synthetic signal (1..36000, default 60)"),
    CLI_TEXT_ROW("--audio", "FILE", cli_bench_args, audio, "time this audio file instead"),
    CLI_INT_ROW("--repeat", "R", cli_bench_args, repeat, 1, 1000, "best of R runs (default 5)"),
    CLI_TEXT_ROW("--save-signal", "OUT.wav", cli_bench_args, save_signal,
                 "also write the synthetic signal (16-bit WAV) and time\n"
                 "the 16-bit version, as bench/mfcc.sh feeds it to torchaudio"),
    CLI_FLAG_ROW("--json", cli_bench_args, json, "one JSON line instead of text"),
};
#define ROWS(r) r, sizeof r / sizeof r[0]

static const char synopsis[] =
    "usage: veil bench train [--groups G] [--precision fp32|bf16|auto] [--threads N] [--repeat R] [--json]\n"
    "       veil bench head [--in-dim D] [--precision fp32|bf16|auto] [--threads N] [--repeat R]\n"
    "                       [--plain-adam] [--bound] [--json]\n"
    "       veil bench mfcc [--seconds S] [--audio FILE] [--repeat R] [--save-signal OUT.wav] [--json]\n";

int cmd_bench(int argc, char **argv)
{
    cli_bench_args a = {.precision = VEIL_PREC_FP32, .threads = 2, .groups = 5, .in_dim = 16384, .seconds = 60};
    cli_table all[] = {
        {ROWS(train_rows), &a,
         "train: one Siamese training epoch of the paper's network (1040 pairs, batches of 150\n"
         "pairs) and extraction speed, on random patches.", NULL},
        {ROWS(network_rows), &a, NULL, NULL},
        {ROWS(head_rows), &a, "head: one epoch of the attacker head (MLP) on random features.", NULL},
        {ROWS(network_rows), &a, NULL, NULL},
        {ROWS(mfcc_rows), &a,
         "mfcc: speed of the paper's MFCC front end (frames -> 32x32 patches), one thread, in\n"
         "times real time: whole-signal (veil_mfcc_patches) and streaming (10 ms pushes).\n"
         "The signal is a deterministic synthetic voice-like mix (S seconds, default 60)\n"
         "or the given audio file; best of R runs (default 5).", NULL},
    };
    cli_command bench = {"bench", synopsis,
                         "Timings are of this machine as it is: other work running beside them slows them.\n", all, 5, 0};
    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        cli_print_help(&bench, stdout);
        return 0;
    }
    if (argc < 2) return cli_command_error(&bench, "%s", "train, head or mfcc?");
    /* the benchmark's own rows and, for train and head, the network's; --help: all */
    struct {
        const char *name;
        size_t first, n;
        int repeat;
        int (*run)(const cli_bench_args *a);
    } const benches[] = {{"train", 0, 2, 1, bench_train}, {"head", 2, 2, 3, bench_head}, {"mfcc", 4, 1, 5, bench_mfcc}};
    for (size_t k = 0; k < sizeof benches / sizeof benches[0]; k++) {
        if (strcmp(argv[1], benches[k].name)) continue;
        char name[32];
        snprintf(name, sizeof name, "bench %s", benches[k].name);
        /* a value the MFCC benchmark refuses is a usage error (as it always was) */
        cli_command one = {name, synopsis, NULL, all + benches[k].first, benches[k].n, k == 2};
        a.repeat = benches[k].repeat;
        for (int i = 2; i < argc; i++)
            if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
                cli_print_help(&bench, stdout);
                return 0;
            }
        int parsed = cli_parse(&one, argc - 1, argv + 1);
        return parsed == CLI_PARSED ? benches[k].run(&a) : parsed;
    }
    return cli_command_error(&bench, "unknown benchmark '%s' (train, head or mfcc)", argv[1]);
}
