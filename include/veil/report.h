/* veil report: the summary of an experiment's job results (mean ± std per method and G),
 * written as a terminal table, summary.csv, report.md and Figure 3 (PNG + SVG, cairo).
 * Accuracies in the summary are percentages; job results hold fractions. */
#ifndef VEIL_REPORT_H
#define VEIL_REPORT_H

#include <stddef.h>
#include <stdint.h>
#include "veil/job.h"

/* ---- results.jsonl: one veil_job_result_to_json line per finished job (src/results.c) ---- */
/* What the run that reads the lines knows (from config.json or its own configuration). */
typedef struct veil_results_rules {
    int cv;                    /* iterations are 0..cv-1; 0: not checked */
    int have_seed;             /* each line's seed is veil_experiment_job_seed(seed, ...) */
    uint64_t seed;
    int have_precision;        /* each line's precision is this one (config.json's resolved) */
    veil_precision precision;
    char *method_settings;     /* config.json's "method_settings" as JSON text (malloc'd, may be NULL):
                                * each line's "settings" equal its method's entry */
} veil_results_rules;
void veil_results_rules_free(veil_results_rules *rules);
/* One line (without its newline): every field present with its type and range, accuracies
 * in 0..1 or null, attack_acc_mean the mean of attack_acc, no key twice, and the rules
 * (may be NULL). The message names the field, not the file: the caller adds that. */
int veil_result_line_parse(const char *line, const veil_results_rules *rules, veil_job_result *out);
/* Every line of results.jsonl. A complete line (ending in a newline) that is invalid, or a
 * second line for the same (method, G, iteration), fails with the file and line number and
 * nothing is returned. Only a last line without a newline (a run killed while writing it)
 * is left out: *torn is set (may be NULL), and *good_bytes (may be NULL) is the length up to
 * the end of the last complete line, so a writer can cut the torn tail. A missing file is
 * zero results. */
int veil_results_load(const char *path, const veil_results_rules *rules, veil_job_result **out, size_t *n,
                      size_t *good_bytes, int *torn);
/* The same on bytes in memory (modified in place: newlines become NULs); name for messages. */
int veil_results_parse(const char *name, char *data, size_t size, const veil_results_rules *rules,
                       veil_job_result **out, size_t *n, size_t *good_bytes, int *torn);
void veil_results_free(veil_job_result *r, size_t n);
/* config.json as an experiment wrote it: valid JSON with cv, seed, precision.resolved,
 * protocol.train_speakers, groups and methods of the right types and ranges; fills the
 * rules its results.jsonl is checked against (rules may be NULL). */
int veil_config_json_check(const char *name, const char *text, veil_results_rules *rules);
typedef struct veil_stat {
    double mean, std; /* std: sample standard deviation (n - 1); 0 for a single run */
} veil_stat;
veil_stat veil_stat_of(const double *x, int n);

typedef struct veil_summary_row {
    veil_method method;
    int groups;      /* G */
    int runs;        /* iterations summarised */
    int collapsed;   /* how many of them collapsed (averaged in, and flagged) */
    veil_stat gender_eval, gender_test, attack; /* % */
    veil_stat epochs, seconds;
} veil_summary_row;

typedef struct veil_summary {
    int n_rows;
    veil_summary_row *rows; /* reference first, then siamese; G ascending */
} veil_summary;

int veil_summary_make(const veil_job_result *r, size_t n, veil_summary *out);
void veil_summary_free(veil_summary *s);
const veil_summary_row *veil_summary_find(const veil_summary *s, veil_method m, int groups);
/* Plain-text table for a terminal (malloc'd). */
char *veil_summary_table(const veil_summary *s);
/* method,groups,runs,collapsed,<field>_mean,<field>_std... (atomically). */
int veil_summary_write_csv(const char *path, const veil_summary *s);

typedef struct veil_report_info {
    const char *config_markdown; /* the configuration, already rendered (may be NULL) */
    int st;                      /* speakers per attacker group: chance 1/St, 2/St */
    const char *figure;          /* Figure 3 file name relative to the report, NULL: none */
    const char *figure4;         /* the bar chart, likewise */
} veil_report_info;
/* report.md: configuration, summary beside the paper's numbers, per-job and per-group
 * attacker accuracies, collapsed runs, the figure (atomically). */
int veil_report_write_md(const char *path, const veil_report_info *info, const veil_summary *s,
                         const veil_job_result *r, size_t n);

/* Figure 3 of the paper: Siamese gender test and attacker accuracy vs G (± std), the
 * reference as dashed lines, chance 1/St and 2/St dotted. Same drawing for both files;
 * either path may be NULL. Each file is drawn to a temporary name and renamed. */
int veil_plot_figure3(const veil_summary *s, int st, const char *png_path, const char *svg_path);
/* Figure 4-like: gender test and attacker accuracy as bars per (method, G), chance lines. */
int veil_plot_figure4(const veil_summary *s, int st, const char *png_path, const char *svg_path);

#endif
