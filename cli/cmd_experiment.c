/* veil experiment: placeholder until its issue lands; replaced by the real command. */
#include <stdio.h>
#include "cli.h"
int cmd_experiment(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "veil experiment: not built yet\n");
    return 1;
}
