/* veil report: the summary of an experiment's job results (mean ± std per method and G),
 * written as a terminal table, summary.csv, report.md and Figure 3 (PNG + SVG, cairo).
 * Accuracies in the summary are percentages; job results hold fractions. */
#ifndef VEIL_REPORT_H
#define VEIL_REPORT_H

#include <stddef.h>
#include <stdint.h>
#include "veil/job.h"

/* ---- results.jsonl: one veil_job_result_to_json line per finished job (src/research/experiment/results.c) ---- */
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

/* One attacker of the battery on one summary row: each field's mean over the attacker
 * groups of a job, then mean ± std over the row's runs (%, NaN where it does not apply). */
typedef struct veil_row_attacker {
    char name[32];
    veil_stat acc, acc_utt, eer, eer_lo, eer_hi, min_dcf;
    veil_stat eer_same_gender; /* verification within a gender: verify-same-gender's EER,
                                * or a probe's own beside its all-trials EER (semi-informed) */
    int runs;        /* runs with this attacker */
} veil_row_attacker;

typedef struct veil_summary_row {
    veil_method method;
    int groups;      /* G */
    int runs;        /* iterations summarised */
    int collapsed;   /* how many of them collapsed (averaged in, and flagged) */
    veil_stat gender_eval, gender_test, attack; /* % */
    veil_stat epochs, seconds;
    double knob;     /* the method's knob value (NaN: the method has none) */
    veil_stat gender_majority; /* % of gender-testing patches of the majority gender */
    int n_attackers;           /* the battery, in the order of the row's first job */
    veil_row_attacker attackers[VEIL_MAX_PROBES];
    /* The strongest identification attacker per utterance (whole held-out utterances): the
     * one with the highest mean accuracy per utterance; -1 (and strongest = attack) when no
     * attacker of the row scores per utterance (results from before the battery). */
    int strongest_index;
    veil_stat strongest;
    /* The attacker with the lowest mean same-gender EER (verify-same-gender's, or one a
     * probe gives beside its own EER); -1 when none gives one. */
    int same_gender_index;
} veil_summary_row;

typedef struct veil_summary {
    int n_rows;
    veil_summary_row *rows; /* by method id, then G, then knob value, ascending */
} veil_summary;

int veil_summary_make(const veil_job_result *r, size_t n, veil_summary *out);
void veil_summary_free(veil_summary *s);
const veil_summary_row *veil_summary_find(const veil_summary *s, veil_method m, int groups);
/* The row of (m, G, knob); knob NaN matches a row without one. */
const veil_summary_row *veil_summary_find_knob(const veil_summary *s, veil_method m, int groups, double knob);

/* ---- choosing a method's knob (docs/protocol.md, "Selecting a knob") ---- */
/* Among values (n_values >= 1), the knob value of (m, G) whose iteration-0 job has the largest
 * trade-off: gender-evaluation accuracy minus the attacker's accuracy on the validation group;
 * the first in values on a tie. A single value is chosen as is. Never reads test data.
 * 0 and *chosen when every value has its iteration-0 result (and, for two or more, a finite
 * validation accuracy); -1 otherwise. scores (optional, n_values): each value's trade-off. */
int veil_select_knob(const veil_job_result *r, size_t n, veil_method m, int groups, const double *values,
                     int n_values, double *chosen, double *scores);
/* Plain-text table for a terminal (malloc'd). */
char *veil_summary_table(const veil_summary *s);
/* method,groups,runs,collapsed,<field>_mean,<field>_std... (atomically). */
int veil_summary_write_csv(const char *path, const veil_summary *s);

typedef struct veil_report_info {
    const char *config_markdown; /* the configuration, already rendered (may be NULL) */
    int st;                      /* speakers per attacker group: chance 1/St, 2/St */
    const char *figure;          /* Figure 3 file name relative to the report, NULL: none */
    const char *figure4;         /* Figure 4 (methods at their selected points), likewise */
    const char *tradeoff;        /* the trade-off figure, likewise */
    const char *extractors;      /* the per-extractor bar chart, likewise */
    int sweep_groups;            /* the G of the methods with a knob (and of Siamese in Figure 4) */
    const char *figure3_strongest; /* Figure 3 with the strongest attacker per utterance, NULL: none */
    const char *figure4_strongest; /* Figure 4, likewise */
    const char *tradeoff_strongest;/* the trade-off figure, likewise */
    const char *attackers_figure;  /* methods x attackers, likewise */
    const char *frontier;          /* the frontier (veil_plot_frontier), likewise */
    const char *task;              /* the service's task ("gender" when NULL): the report's words */
    int n_classes;                 /* its classes */
    double label_chance;           /* chance (0..1) of an attacker knowing a test speaker's class */
    const char *audits;            /* Markdown list of the audits merged into the jobs' results, or NULL */
    int swept[VEIL_METHOD_SLOTS];  /* per method id: the values its sweep lists (config.json), 0: unknown */
} veil_report_info;

/* The point Figure 4 shows per method (every method but those run at G = 1 only): a method
 * with a knob at its selected value, another (Siamese) at G = sweep_groups, else its
 * largest G. Fills rows (room for VEIL_METHOD_SLOTS) in method order; returns the count. */
int veil_figure4_rows(const veil_summary *s, const veil_job_result *r, size_t n, int sweep_groups,
                      const veil_summary_row **rows);
/* report.md: configuration, summary beside the paper's numbers, per-job and per-group
 * attacker accuracies, collapsed runs, the figure (atomically). */
int veil_report_write_md(const char *path, const veil_report_info *info, const veil_summary *s,
                         const veil_job_result *r, size_t n);

/* Whether a probe's per-utterance numbers are on whole held-out utterances: not those of
 * the patch-split MLPs (paper-mlp, paper-mlp-std), whose older results hold a number pooled
 * over patches of utterances they trained on. */
int veil_probe_scores_utterances(const char *name);
/* The rows with the strongest per-utterance attacker as their attacker (a copy the caller
 * frees with veil_summary_free): what the "-strongest" figures draw. */
void veil_summary_strongest(const veil_summary *s, veil_summary *out);

/* What the figures call the service's task ("gender", "accent", ...) and, for a task other
 * than gender, the chance (0..1) of an attacker who knows a test speaker's class (the
 * jobs' label_chance); gender keeps 2/St. Set before drawing; until then: gender. */
void veil_plot_set_task(const char *task, double label_chance);
/* Figure 3 of the paper: Siamese gender test and attacker accuracy vs G (± std), the
 * reference as dashed lines, chance 1/St and 2/St dotted. Same drawing for both files;
 * either path may be NULL. Each file is drawn to a temporary name and renamed. */
int veil_plot_figure3(const veil_summary *s, int st, const char *png_path, const char *svg_path);
/* The same with the attacker named in the title (NULL: the paper's), for rows that carry
 * another attacker's accuracy (veil_summary_strongest). */
int veil_plot_figure3_as(const veil_summary *s, int st, const char *attacker, const char *png_path,
                         const char *svg_path);
/* Gender test and attacker accuracy as bars per extractor (every summary row), chance lines. */
int veil_plot_extractors(const veil_summary *s, int st, const char *png_path, const char *svg_path);
/* The paper's Figure 4: gender test and attacker test bars (mean ± std) for the given rows
 * (veil_figure4_rows), chance lines (1/St, 2/St, and the gender majority share). */
int veil_plot_figure4(const veil_summary_row *const *rows, int n, int st, const char *png_path,
                      const char *svg_path);
/* The same with the attacker named (legend and title): "paper-mlp per patch", "strongest
 * per utterance". NULL: "Attacker test". */
int veil_plot_figure4_as(const veil_summary_row *const *rows, int n, int st, const char *attacker,
                         const char *png_path, const char *svg_path);
/* Trade-off: attacker accuracy (x) against gender test accuracy (y), one point per knob value
 * (methods with a knob, at sweep_groups) or per G (Siamese), one line per method, chance lines. */
int veil_plot_tradeoff(const veil_summary *s, int sweep_groups, int st, const char *png_path,
                       const char *svg_path);
int veil_plot_tradeoff_as(const veil_summary *s, int sweep_groups, int st, const char *attacker,
                          const char *png_path, const char *svg_path);
/* The frontier (two panels): gender test accuracy against the strongest attacker per
 * utterance (strongest: rows from veil_summary_strongest) and against the lowest
 * same-gender EER of any attacker, every method and knob value, with chance lines. */
int veil_plot_frontier(const veil_summary *strongest, int sweep_groups, int st, const char *png_path,
                       const char *svg_path);
/* Methods x attackers: one row per summary row, one column per attacker; each cell the
 * attacker's main number (accuracy per utterance, per patch for the patch-split MLPs, EER
 * for the verifiers), shaded by how much it leaks relative to chance. */
int veil_plot_attackers(const veil_summary *s, int st, const char *png_path, const char *svg_path);

#endif
