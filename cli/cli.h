/* The veil program: one file per subcommand, each exposing one entry point. */
#ifndef VEIL_CLI_H
#define VEIL_CLI_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "veil/mfcc.h"
#include "veil/model.h"

int cmd_mfcc(int argc, char **argv);       /* cmd_mfcc.c */
int cmd_extract(int argc, char **argv);    /* cmd_extract.c */
int cmd_classify(int argc, char **argv);   /* cmd_classify.c */
int cmd_bench(int argc, char **argv);      /* cmd_bench.c: train | head | mfcc */
/* The options of veil bench, parsed (cmd_bench.c); each benchmark reads its own. */
typedef struct cli_bench_args {
    veil_precision precision;
    int threads, repeat, json;
    int groups;                   /* train */
    int in_dim, plain_adam, bound; /* head */
    double seconds;               /* mfcc */
    const char *audio, *save_signal;
} cli_bench_args;
int bench_train(const cli_bench_args *a); /* bench_train.c */
int bench_head(const cli_bench_args *a);  /* bench_head.c */
int bench_mfcc(const cli_bench_args *a);  /* bench_mfcc.c */
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
/* --task NAME into dst (n bytes): a label name, checked against the corpus later; -1
 * (message naming the option) when empty, too long or not printable. */
int cli_take_task(char *dst, size_t n, const char *option, const char *value);

/* ---- option tables (cli_options.c) ----
 * Each command declares its options once, as rows over a struct of its own: parsing,
 * --help, the man page (scripts/make-man.sh reads --help) and "did you mean" all come
 * from the rows. Commands that share options share rows over a shared struct
 * (cli_attacker_rows: audit and attack; cli_audio_rows: classify and extract). */
typedef enum {
    CLI_FLAG, /* no value: its int field := 1 */
    CLI_TEXT, /* const char * */
    CLI_INT,  /* int, in lo..hi */
    CLI_LONG, /* long, in lo..hi */
    CLI_U64,  /* uint64_t, any unsigned 64-bit value */
    CLI_REAL, /* double */
    CLI_CALL, /* call(base, name, value) takes the value: names, lists, settings */
    CLI_ARGS, /* not an option: each other argument (and "-") goes to call(base, NULL, arg);
               * without call, the one such argument is a const char * field (a second one
               * is a usage error) */
} cli_kind;
typedef struct cli_option {
    const char *name;  /* "--st"; CLI_ARGS: what --help shows ("AUDIO...") */
    const char *alias; /* another spelling ("-o" of "--out") or NULL */
    cli_kind kind;
    const char *value; /* the value's name in --help ("N", "DIR"); NULL for a flag */
    size_t offset;     /* offsetof(the struct the rows fill, field) */
    long lo, hi;       /* CLI_INT, CLI_LONG: the accepted range */
    int (*call)(void *base, const char *name, const char *value); /* -1 after veil_error */
    const char *help;  /* lines for --help ('\n' between); NULL: not shown */
} cli_option;
#define CLI_FLAG_ROW(name, T, field, help) {name, NULL, CLI_FLAG, NULL, offsetof(T, field), 0, 0, NULL, help}
#define CLI_TEXT_ROW(name, value, T, field, help) {name, NULL, CLI_TEXT, value, offsetof(T, field), 0, 0, NULL, help}
#define CLI_INT_ROW(name, value, T, field, lo, hi, help) \
    {name, NULL, CLI_INT, value, offsetof(T, field), lo, hi, NULL, help}
#define CLI_U64_ROW(name, value, T, field, help) {name, NULL, CLI_U64, value, offsetof(T, field), 0, 0, NULL, help}
#define CLI_ARG_ROW(name, T, field, help) {name, NULL, CLI_ARGS, NULL, offsetof(T, field), 0, 0, NULL, help}
#define CLI_CALL_ROW(name, value, fn, help) {name, NULL, CLI_CALL, value, 0, 0, 0, fn, help}

/* Rows over one struct. */
typedef struct cli_table {
    const cli_option *rows;
    size_t n;
    void *base;          /* the struct the rows' offsets point into */
    const char *heading; /* a line above the rows in --help, or NULL */
    const char *given;   /* set by cli_parse: the first option of these rows given, or NULL */
} cli_table;
#define CLI_TABLE(rows, base) {rows, sizeof rows / sizeof rows[0], base, NULL, NULL}
#define CLI_TABLE_N(rows, n, base) {rows, n, base, NULL, NULL}
typedef struct cli_command {
    const char *name;     /* "audit": messages read "veil audit: ..." */
    const char *synopsis; /* the usage lines and what the command does, before the options */
    const char *epilogue; /* after the options, or NULL */
    cli_table *tables;
    size_t n_tables;
    int refused_is_usage; /* a refused value is a usage error (exit 2) */
} cli_command;
/* Parse argv[1..argc) into the tables' structs: CLI_PARSED, or the command's exit status
 * after --help (0), a usage error (2) or a refused value (1, its message printed; 2 as a
 * usage error where refused_is_usage). */
enum { CLI_PARSED = -1 };
int cli_parse(cli_command *c, int argc, char **argv);
/* "veil NAME: " + fmt (with arg) + " (did you mean '--X'?)" when arg is a near typo of an
 * option, then "see 'veil NAME --help'"; returns 2. */
int cli_command_error(const cli_command *c, const char *fmt, const char *arg);
char *cli_help_text(const cli_command *c); /* malloc'd */
void cli_print_help(const cli_command *c, FILE *f);
/* The value of the last NAME VALUE in argv (NULL: none), for an option that must be known
 * before the others (a preset, a configuration file that the others override). */
const char *cli_option_value(int argc, char **argv, const char *name);
size_t cli_edit_distance(const char *a, size_t na, const char *b, size_t nb);
/* Rows made at run time, with the names and help texts they own. */
typedef struct cli_rows {
    cli_option *row;
    size_t n;
    char **owned;
} cli_rows;
void cli_rows_add(cli_rows *r, cli_option row, char *owned_name, char *owned_help);
void cli_rows_free(cli_rows *r);

#ifdef VEIL_HAVE_TRAINING
/* Every training setting as a row over a veil_train_config (cli_settings.c); without_knobs:
 * not the settings the experiment sweeps (it takes those as lists). */
void cli_setting_rows(cli_rows *r, int without_knobs);
#endif

/* Values of the rows (and of options checked later): -1 after veil_error. */
int cli_parse_int(const char *opt, const char *value, long lo, long hi, long *out);
/* Any unsigned 64-bit integer (seeds as results.jsonl records them). */
int cli_parse_u64(const char *opt, const char *value, uint64_t *out);
int cli_parse_double(const char *opt, const char *value, double *out);

/* What audit and attack share (cli_rows.c): the attacker groups and their training. */
typedef struct cli_attacker_args {
    const char *cache;
    const char *task;   /* --task: the label whose chance an attacker knowing it has (NULL: gender) */
    int st, groups, epochs, threads;
    long seed;
} cli_attacker_args;
#define CLI_ATTACKER_DEFAULTS {NULL, NULL, 20, 0, 150, 0, 1}
extern const cli_option cli_attacker_rows[];
extern const size_t cli_attacker_n_rows;
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
/* What classify and extract share (cli_rows.c): the audio files, in the order given
 * (arguments and --list files alike), and how the network runs. */
typedef struct cli_audio_args {
    cli_files files;
    const char *precision;
    const char *lists[16]; /* the --list files, checked against the outputs */
    size_t n_lists;
    int strict, threads, batch;
} cli_audio_args;
#define CLI_AUDIO_DEFAULTS {.precision = "fp32", .batch = 256}
extern const cli_option cli_audio_rows[];
extern const size_t cli_audio_n_rows;
/* cli_parse, and the files freed when it does not return CLI_PARSED. */
int cli_audio_parse(cli_command *c, int argc, char **argv, cli_audio_args *a);
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
#include "core/model/extract_index.h"
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
