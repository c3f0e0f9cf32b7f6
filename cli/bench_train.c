/* veil bench train: placeholder until its issue lands; replaced by the real benchmark. */
#include <stdio.h>
int bench_train(int argc, char **argv);
int bench_train(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "veil bench train: not built yet\n");
    return 1;
}
