/* veil bench: speed of the MFCC front end, of the extractor and of the attacker head. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

int bench_mfcc(int argc, char **argv);  /* bench_mfcc.c */
int bench_train(int argc, char **argv); /* bench_train.c */
int bench_head(int argc, char **argv);  /* bench_head.c */

int cmd_bench(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "mfcc")) return bench_mfcc(argc - 1, argv + 1);
    if (argc >= 2 && !strcmp(argv[1], "train")) return bench_train(argc - 1, argv + 1);
    if (argc >= 2 && !strcmp(argv[1], "head")) return bench_head(argc - 1, argv + 1);
    fprintf(stderr, "usage: veil bench train --groups G --precision fp32|bf16|auto [--json]\n"
                    "       veil bench head [--in-dim D] [--precision fp32|bf16|auto] [--threads N] [--repeat R] [--bound] [--json]\n"
                    "       veil bench mfcc [--seconds S] [--json]\n");
    return 2;
}
