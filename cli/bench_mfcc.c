/* veil bench mfcc: placeholder until its issue lands; replaced by the real benchmark. */
#include <stdio.h>
int bench_mfcc(int argc, char **argv);
int bench_mfcc(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "veil bench mfcc: not built yet\n");
    return 1;
}
