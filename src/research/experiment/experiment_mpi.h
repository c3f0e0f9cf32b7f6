/* The experiment grid over Open MPI ranks (internal to src/research/experiment/experiment.c).
 * Rank 0 coordinates: it owns OUT (lock, config.json, results.jsonl, report) and hands
 * out one job at a time to whichever worker asks; ranks 1.. run jobs and send back one
 * results.jsonl line each. docs/experiment.md, "Across machines". */
#ifndef VEIL_EXPERIMENT_MPI_H
#define VEIL_EXPERIMENT_MPI_H

#include <stddef.h>

/* Launched by mpirun/mpiexec with two or more ranks (read from the environment; MPI
 * itself is only initialised when this is true). */
int vx_mpi_launched(void);

typedef struct vx_mpi {
    int rank, size;
    int node_workers; /* worker ranks (rank > 0) on this rank's machine */
    char host[256];
} vx_mpi;

int vx_mpi_init(vx_mpi *m);
void vx_mpi_finalize(void);
/* Every rank passes its own ok flag; returns 1 when all were ok. Collective. */
int vx_mpi_all_ok(int ok);
/* Rank 0's string to every rank (*s malloc'd on the others). Collective. */
int vx_mpi_bcast_string(char **s);

/* Coordinator side. next_job: the next job index to hand out, -1 when none is left, -2
 * when the jobs left wait for results still out (the asking worker waits for a later
 * result; job_knob: the knob value to send with a job, NaN: none).
 * on_result: one worker's finished job (its results line); non-zero stops handing out
 * jobs. Returns 0 when every handed-out job came back, -1 with veil_error() naming the
 * rank, host and job of the first failure otherwise. */
typedef struct vx_coordinator {
    void *ctx;
    long (*next_job)(void *ctx);
    int (*on_started)(void *ctx, long job, int rank, const char *host);
    int (*on_result)(void *ctx, long job, int rank, const char *line);
    const char *(*job_name)(void *ctx, long job);
    double (*job_knob)(void *ctx, long job);
} vx_coordinator;
int vx_mpi_coordinate(const vx_mpi *m, const vx_coordinator *co);

/* Worker side: asks for jobs until told to stop. run_job (with the job's knob value from
 * rank 0) returns the results line
 * (malloc'd) or NULL with veil_error(); a failure is reported to rank 0 and ends the loop. */
int vx_mpi_work(const vx_mpi *m, char *(*run_job)(void *ctx, long job, double knob), void *ctx);

#endif
