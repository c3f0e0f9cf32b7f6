/* veil report: the summary of an experiment's job results (mean ± std per method and G),
 * written as a terminal table, summary.csv, report.md and Figure 3 (PNG + SVG, cairo).
 * Accuracies in the summary are percentages; job results hold fractions. */
#ifndef VEIL_REPORT_H
#define VEIL_REPORT_H

#include <stddef.h>
#include "veil/job.h"

/* ---- results.jsonl: one veil_job_result_to_json line per finished job ---- */
/* Read every line that parses. A line that does not (a run killed in mid-write leaves a
 * torn last line) is skipped with a warning and counted in *bad (may be NULL).
 * *good_bytes (may be NULL): length of the file up to the end of the last complete
 * line that parsed, so a writer can cut a torn tail. A missing file is zero results. */
int veil_results_load(const char *path, veil_job_result **out, size_t *n, size_t *good_bytes,
                      int *bad);
void veil_results_free(veil_job_result *r, size_t n);

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
