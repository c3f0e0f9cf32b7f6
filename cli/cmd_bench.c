/* veil bench: speed of the MFCC front end, of the extractor and of the attacker head. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

int bench_mfcc(int argc, char **argv);  /* bench_mfcc.c */
int bench_train(int argc, char **argv); /* bench_train.c */
int bench_head(int argc, char **argv);  /* bench_head.c */

const char *const cli_bench_usage =
    "usage: veil bench train [--groups G] [--precision fp32|bf16|auto] [--threads N] [--repeat R] [--json]\n"
    "       veil bench head [--in-dim D] [--precision fp32|bf16|auto] [--threads N] [--repeat R]\n"
    "                       [--plain-adam] [--bound] [--json]\n"
    "       veil bench mfcc [--seconds S] [--audio FILE] [--repeat R] [--save-signal OUT.wav] [--json]\n"
    "\n"
    "train: one Siamese training epoch of the paper's network (1040 pairs, batches of 150\n"
    "pairs) and extraction speed, on random patches.\n"
    "  --groups G             G = 1..5 (default 5)\n"
    "  --precision P          fp32 (default), bf16 or auto\n"
    "  --threads N            worker threads (default 2)\n"
    "  --repeat R             best of R runs (default 1)\n"
    "  --json                 one JSON line instead of text\n"
    "\n"
    "head: one epoch of the attacker head (MLP) on random features.\n"
    "  --in-dim D             input features (default 16384: G = 1; 4096: G = 2..3; 1024: G = 4..5)\n"
    "  --precision P          fp32 (default), bf16 or auto\n"
    "  --threads N            worker threads (default 2)\n"
    "  --repeat R             timed epochs, the best is reported (default 3)\n"
    "  --plain-adam           veil_adam_step on the plain parameters instead of veil_head_adam_step\n"
    "  --bound                also measure the GEMM GFLOP/s and Adam-pattern GB/s of this machine\n"
    "  --json                 one JSON line instead of a sentence\n"
    "\n"
    "mfcc: speed of the paper's MFCC front end (frames -> 32x32 patches), one thread, in\n"
    "times real time: whole-signal (veil_mfcc_patches) and streaming (10 ms pushes).\n"
    "The signal is a deterministic synthetic voice-like mix (S seconds, default 60)\n"
    "or the given audio file; best of R runs (default 5).\n"
    "  --seconds S            length of the synthetic signal (1..36000, default 60)\n"
    "  --audio FILE           time this audio file instead\n"
    "  --repeat R             best of R runs (default 5)\n"
    "  --save-signal OUT.wav  also write the synthetic signal (16-bit WAV) and time\n"
    "                         the 16-bit version, as bench/mfcc.sh feeds it to torchaudio\n"
    "  --json                 one JSON line instead of text\n"
    "\n"
    "  -v, -q                 more / less on standard error\n"
    "Timings are of this machine as it is: other work running beside them slows them.\n";

int cmd_bench(int argc, char **argv)
{
    if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
        fputs(cli_bench_usage, stdout);
        return 0;
    }
    if (argc >= 2 && !strcmp(argv[1], "mfcc")) return bench_mfcc(argc - 1, argv + 1);
    if (argc >= 2 && !strcmp(argv[1], "train")) return bench_train(argc - 1, argv + 1);
    if (argc >= 2 && !strcmp(argv[1], "head")) return bench_head(argc - 1, argv + 1);
    if (argc < 2) return cli_usage_error("bench", cli_bench_usage, "%s", "train, head or mfcc?");
    return cli_usage_error("bench", cli_bench_usage, "unknown benchmark '%s' (train, head or mfcc)", argv[1]);
}
