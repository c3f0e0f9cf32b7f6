/* The veil program: one file per subcommand, each exposing one entry point. */
#ifndef VEIL_CLI_H
#define VEIL_CLI_H

int cmd_mfcc(int argc, char **argv);       /* cmd_mfcc.c */
int cmd_corpus(int argc, char **argv);     /* cmd_corpus.c: info | synth | features */
int cmd_train(int argc, char **argv);      /* cmd_train.c */
int cmd_extract(int argc, char **argv);    /* cmd_extract.c */
int cmd_attack(int argc, char **argv);     /* cmd_attack.c */
int cmd_experiment(int argc, char **argv); /* cmd_experiment.c */
int cmd_bench(int argc, char **argv);      /* cmd_bench.c: train | mfcc */

/* Print "veil: MESSAGE" (the last library error) to stderr and return 1. */
int cli_fail(void);
/* Option parsing helpers: match "--name" and take its value; errors exit with usage. */
int cli_parse_int(const char *opt, const char *value, long lo, long hi, long *out);
int cli_parse_double(const char *opt, const char *value, double *out);

#endif
