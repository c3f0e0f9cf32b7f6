/* veil experiment: the paper's grid (methods x G x cross-validation iteration) over one
 * corpus, resumable. OUT/config.json (the resolved configuration), OUT/results.jsonl (one
 * line per finished job, appended and fsynced), then OUT/summary.csv, OUT/report.md and
 * OUT/figure3.png|svg. See docs/experiment.md. */
#ifndef VEIL_EXPERIMENT_H
#define VEIL_EXPERIMENT_H

#include <stdint.h>
#include "veil/job.h"
#include "veil/mfcc.h"
#include "veil/nn.h"

#define VEIL_MAX_KNOB_VALUES 16

typedef struct veil_experiment_config {
    const char *corpus;          /* corpus directory or manifest */
    const char *out;             /* results directory */
    const char *cache;           /* patch cache directory, NULL = default */
    veil_mfcc_config mfcc;
    veil_protocol_config protocol;
    veil_train_config train;
    int with_method[VEIL_METHOD_SLOTS]; /* 1 for each method id in the grid (src/research/train/method.h) */
    /* methods with a knob (adversarial lambda, ...): the values swept on iteration 0; 0 values =
     * the setting's own value. Later iterations run the value selected on iteration 0. */
    double knob_values[VEIL_METHOD_SLOTS][VEIL_MAX_KNOB_VALUES];
    int n_knob_values[VEIL_METHOD_SLOTS];
    int sweep_groups;            /* the one G of methods that sweep a knob (default 5) */
    int groups[VEIL_MAX_GROUPS]; /* Siamese G values, ascending, no repeats */
    int n_groups;
    int cv;                      /* cross-validation iterations */
    veil_precision precision;    /* requested */
    int threads;                 /* 0 = all cores */
    uint64_t seed;
    long max_jobs;               /* stop after this many new jobs (0 = all): work in chunks */
    int save_models;             /* 1: OUT/models/<job>.safetensors for every job run */
} veil_experiment_config;

/* "paper" (the paper's numbers) or "quick" (scaled down, minutes on 2 cores). */
int veil_experiment_preset(veil_experiment_config *c, const char *name);
/* --select-attacker: "strongest", "" (paper-mlp as before probes) or a probe's name. */
int veil_set_select_attacker(veil_train_config *t, const char *name);
/* "1-5", "1,3,5" -> groups (validated, sorted, unique). */
int veil_experiment_parse_groups(const char *s, veil_experiment_config *c);
/* "reference,siamese": any of the training methods' names. */
int veil_experiment_parse_methods(const char *s, veil_experiment_config *c);
/* "--adv-lambda", "0,0.1,1,10": the values of a method's knob. 1: option is no method's
 * knob; 0: set; -1: refused (message). */
int veil_experiment_parse_knob(const char *option, const char *list, veil_experiment_config *c);

/* Jobs of the grid, in the order they run: iteration, then the methods in their table's
 * order (each at G = 1 or at every G of the grid, as the method says), G ascending. */
typedef struct veil_job_id {
    veil_method method;
    int groups, iteration;
    double knob;   /* the knob's value (NaN: the method has none) */
    int select;    /* 1: the knob is the one selected on iteration 0 (set when the job is handed out) */
} veil_job_id;
/* malloc'd list; *n receives its length. */
veil_job_id *veil_experiment_jobs(const veil_experiment_config *c, size_t *n);
/* A method's knob values in this grid (values: VEIL_MAX_KNOB_VALUES): the swept list, or
 * the setting's own value; the count. */
int veil_experiment_knob_values(const veil_experiment_config *c, int method, double *values);
/* 1 when job id scores the attacker-validation group: iteration 0 of a knob swept over two
 * or more values (where a knob is being chosen), as the grid runs it. */
int veil_experiment_job_validates(const veil_experiment_config *c, veil_job_id id);

/* Run (or resume) the grid, then write the summary, report and figure. Refuses an OUT
 * whose config.json differs in a field that changes results (the message names them). */
int veil_experiment_run(const veil_experiment_config *c);
/* Summary, report and figure from OUT's config.json and results.jsonl alone. */
int veil_experiment_report(const char *out_dir, int print_table);
/* OUT's configuration read back from OUT/config.json: corpus, MFCC, protocol, every
 * training setting, methods, G values, the knob values and their G, cv, seed, the
 * resolved precision as c->precision and the threads the jobs ran on; so veil_experiment_jobs(c) lists OUT's grid and one job can be rerun
 * alone with the grid's seeds (`veil train --from OUT --job N`). c->corpus points to
 * *corpus (malloc'd; free it). */
int veil_experiment_config_read(const char *out_dir, veil_experiment_config *c, char **corpus);

#endif
