/* Attackers added to a run after it ran (internal to src/research/experiment/): audits of
 * its jobs' saved models merged into the jobs' results for the report. */
#ifndef VEIL_EXPERIMENT_AUDITS_H
#define VEIL_EXPERIMENT_AUDITS_H

#include <stddef.h>

#include "veil/job.h"

struct cJSON;

/* One attacker of a results line's "attackers" object (or of an audit.json's "probes"):
 * the per-group arrays of n_groups entries and the validation group; its name from the
 * member's key. -1 when a field is not an array of that length. a->group is allocated
 * either way; a->seconds is left to the caller. src/research/experiment/job.c. */
int veil_job_attacker_from_json(const struct cJSON *p, int n_groups, veil_job_attacker *a);

/* Every OUT/<NAME>/audit.json written by `veil audit --experiment OUT --job N` (the ones
 * with "experiment_job"; other audits are left alone), in name order: its attackers are
 * added to the matching results line, checked to be that job's (method, G, iteration,
 * knob, the attacker groups' speakers and the model's training speakers). An attacker the
 * line already has keeps the run's numbers. *notes (malloc'd, NULL when nothing merged):
 * a Markdown list of what came from where. -1 with a message naming the audit file when
 * one cannot be this run's; results.jsonl itself is never changed. */
int veil_results_merge_audits(const char *out_dir, veil_job_result *r, size_t n, char **notes);

#endif
