/* The veil program: one file per subcommand, each exposing one entry point. */
#ifndef VEIL_CLI_H
#define VEIL_CLI_H

#include "veil/mfcc.h"
#include "veil/model.h"

int cmd_mfcc(int argc, char **argv);       /* cmd_mfcc.c */
int cmd_corpus(int argc, char **argv);     /* cmd_corpus.c: info | synth | features */
int cmd_train(int argc, char **argv);      /* cmd_train.c */
int cmd_extract(int argc, char **argv);    /* cmd_extract.c */
int cmd_attack(int argc, char **argv);     /* cmd_attack.c */
int cmd_audit(int argc, char **argv);      /* cmd_audit.c */
int cmd_experiment(int argc, char **argv); /* cmd_experiment.c */
int cmd_bench(int argc, char **argv);      /* cmd_bench.c: train | mfcc */

/* Print "veil: MESSAGE" (the last library error) to stderr and return 1. */
int cli_fail(void);
/* 1 (after printing usage to stdout) when a is --help or -h, else 0. */
int cli_help(const char *a, const char *usage);
/* Print "veil CMD: " + fmt (with arg), a blank line and the usage text to stderr; return 2. */
int cli_usage_error(const char *cmd, const char *usage, const char *fmt, const char *arg);
/* Option parsing helpers: match "--name" and take its value; errors exit with usage. */
int cli_parse_int(const char *opt, const char *value, long lo, long hi, long *out);
int cli_parse_double(const char *opt, const char *value, double *out);
/* An MFCC configuration from a JSON file (over the values already in *c); -1 after veil_error. */
int cli_read_mfcc_config(const char *path, veil_mfcc_config *c);
/* veil_model_load, and the metadata's method must be one veil knows (veil_method_parse). */
int cli_model_load(const char *path, veil_precision precision, int max_batch, veil_model **out);

#endif
