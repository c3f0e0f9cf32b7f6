/* The veil program: one file per subcommand, each exposing one entry point. */
#ifndef VEIL_CLI_H
#define VEIL_CLI_H

#include "veil/mfcc.h"
#include "veil/model.h"

int cmd_mfcc(int argc, char **argv);       /* cmd_mfcc.c */
int cmd_extract(int argc, char **argv);    /* cmd_extract.c */
int cmd_classify(int argc, char **argv);   /* cmd_classify.c */
int cmd_bench(int argc, char **argv);      /* cmd_bench.c: train | mfcc */
/* Usage text of veil bench (both benchmarks). */
extern const char *const cli_bench_usage;
/* The research part (VEIL_WITH_TRAINING): */
int cmd_corpus(int argc, char **argv);     /* cmd_corpus.c: info | synth | features */
int cmd_train(int argc, char **argv);      /* cmd_train.c */
int cmd_attack(int argc, char **argv);     /* cmd_attack.c */
int cmd_audit(int argc, char **argv);      /* cmd_audit.c */
/* cmd_audit_job.c: --experiment OUT --job N (the battery on one job's attacker groups) */
int audit_experiment_job(const char *model_path, const char *from, const char *job_s, const char *corpus_dir,
                         const char *cache, const char *attackers, int threads, const char *out_dir);
int cmd_experiment(int argc, char **argv); /* cmd_experiment.c */

/* Print "veil: MESSAGE" (the last library error) to stderr and return 1. */
int cli_fail(void);
/* 1 (after printing usage to stdout) when a is --help or -h, else 0. */
int cli_help(const char *a, const char *usage);
/* Print "veil CMD: " + fmt (with arg), a blank line and the usage text to stderr; return 2.
 * When arg is an option, the nearest option of the usage text is suggested. */
int cli_usage_error(const char *cmd, const char *usage, const char *fmt, const char *arg);
/* "unknown option 'ARG' (did you mean '--X'?)" or "'--X' needs a value", then usage; 2. */
int cli_unknown_option(const char *cmd, const char *usage, const char *arg);
/* The --option of usage nearest to arg into out: 1 when it is near (a typo), 2 when it is
 * arg itself, 0 when none is near. */
int cli_nearest_option(const char *usage, const char *arg, char *out, size_t n);
/* Option parsing helpers: match "--name" and take its value; errors exit with usage. */
int cli_parse_int(const char *opt, const char *value, long lo, long hi, long *out);
/* Any unsigned 64-bit integer (seeds as results.jsonl records them). */
int cli_parse_u64(const char *opt, const char *value, uint64_t *out);
int cli_parse_double(const char *opt, const char *value, double *out);
/* An MFCC configuration from a JSON file (over the values already in *c); -1 after veil_error. */
int cli_read_mfcc_config(const char *path, veil_mfcc_config *c);
/* veil_model_load, and the metadata's method must be one veil knows (veil_method_parse). */
int cli_model_load(const char *path, veil_precision precision, int max_batch, veil_model **out);


/* Audio files named on the command line, in a list file (--list FILE, "-" = standard
 * input: one path a line, blank lines and # comments skipped), or "-" (audio on stdin). */
typedef struct cli_files {
    char **path;
    size_t n;
} cli_files;
void cli_files_add(cli_files *l, const char *path);
int cli_files_read_list(cli_files *l, const char *list);
void cli_files_free(cli_files *l);
/* The files of one command: what it reads and what it writes. An output may not be an
 * input, the model or another output (compared by device and inode, so no two spellings
 * of one file slip through), and standard output takes one output. -1 after veil_error. */
typedef struct cli_io {
    const char *path;
    const char *role; /* "-o", "--index", "--model", "audio file", ... */
    int output;
} cli_io;
int cli_check_outputs(const cli_io *io, size_t n);
#ifdef VEIL_HAVE_TRAINING
#include "extract_index.h"
#include "veil/corpus.h"
/* The labels of every utterance of a corpus for an index (`veil extract --corpus`, `veil
 * corpus features -o`), so the index is a labels file of `veil audit`: speaker, gender
 * (F/M), utterance (the path after the folder all share, without extension), then the
 * corpus's own labels (dialect, subset, ...; one named like a column before is left out). */
void cli_corpus_index_labels(const veil_corpus *c, veil_index_labels *out);
#endif
/* OUT.npy -> OUT.index.csv (malloc'd) */
char *cli_default_index_path(const char *out);
/* Seconds of audio one patch needs. */
double cli_patch_seconds(const veil_mfcc_config *mc);
/* Load PATH at the model's rate, cut its whole patches and run f (evaluation mode) in
 * batches of at most batch: *z is n_patches x dim (malloc'd; NULL when none). */
int cli_file_features(veil_model *m, veil_mfcc *mf, const char *path, int batch, float **z,
                      size_t *n_patches, double *seconds);

#endif
