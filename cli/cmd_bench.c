/* veil bench: speed of the MFCC front end and of the network. */
#include <stdio.h>
#include <string.h>

#include "cli.h"

int bench_mfcc(int argc, char **argv);  /* bench_mfcc.c */
int bench_train(int argc, char **argv); /* bench_train.c */

int cmd_bench(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "mfcc")) return bench_mfcc(argc - 1, argv + 1);
    if (argc >= 2 && !strcmp(argv[1], "train")) return bench_train(argc - 1, argv + 1);
    fprintf(stderr, "usage: veil bench train --groups G --precision fp32|bf16|auto [--json]\n"
                    "       veil bench mfcc [--seconds S] [--json]\n");
    return 2;
}
