/* The experiment grid over Open MPI ranks: a coordinator (rank 0) and workers.
 * Messages (all to or from rank 0):
 *   worker -> 0  READY  its host name (first message)
 *   worker -> 0  RESULT the finished job's results.jsonl line
 *   worker -> 0  FAIL   the error message of a failed job; the worker then stops
 *   0 -> worker  JOB    the job index (-1 = stop) and its knob value (a job whose knob is
 *                       selected from iteration 0's results gets it from rank 0)
 * Jobs are handed out one at a time, so long and short jobs balance themselves. A worker
 * asking while every job left waits for a sweep still running gets no answer until a
 * result comes in. */
#include "experiment_mpi.h"

#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "veil/common.h"

enum { TAG_READY = 11, TAG_RESULT = 12, TAG_FAIL = 13, TAG_JOB = 14 };

int vx_mpi_launched(void)
{
    /* Open MPI's launcher sets OMPI_COMM_WORLD_SIZE; PMIx-based launchers PMIX_RANK */
    const char *s = getenv("OMPI_COMM_WORLD_SIZE");
    if (s) return atoi(s) > 1;
    s = getenv("PMI_SIZE");
    return s && atoi(s) > 1;
}

int vx_mpi_init(vx_mpi *m)
{
    int provided;
    memset(m, 0, sizeof *m);
    /* jobs use OpenMP and threads of their own, but only the main thread calls MPI */
    if (MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
        veil_error("MPI_Init failed");
        return -1;
    }
    MPI_Comm_rank(MPI_COMM_WORLD, &m->rank);
    MPI_Comm_size(MPI_COMM_WORLD, &m->size);
    if (gethostname(m->host, sizeof m->host - 1) != 0) snprintf(m->host, sizeof m->host, "?");
    /* workers sharing this machine split its cores between them */
    MPI_Comm node;
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, m->rank, MPI_INFO_NULL, &node);
    int worker = m->rank > 0;
    MPI_Allreduce(&worker, &m->node_workers, 1, MPI_INT, MPI_SUM, node);
    MPI_Comm_free(&node);
    return 0;
}

void vx_mpi_finalize(void) { MPI_Finalize(); }

int vx_mpi_all_ok(int ok)
{
    int all = 0;
    ok = ok ? 1 : 0;
    MPI_Allreduce(&ok, &all, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
    return all;
}

int vx_mpi_bcast_string(char **s)
{
    int rank;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    long n = rank == 0 && *s ? (long)strlen(*s) + 1 : 0;
    MPI_Bcast(&n, 1, MPI_LONG, 0, MPI_COMM_WORLD);
    if (n == 0) return -1;
    if (rank != 0) *s = veil_malloc((size_t)n);
    MPI_Bcast(*s, (int)n, MPI_CHAR, 0, MPI_COMM_WORLD);
    return 0;
}

/* One message from any worker, its text NUL-terminated. Polls with short sleeps so the
 * coordinator leaves the CPU to a worker on the same machine (a blocking MPI_Recv spins). */
static char *receive_any(int *source, int *tag)
{
    MPI_Status st;
    int flag = 0;
    for (;;) {
        MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, &flag, &st);
        if (flag) break;
        nanosleep(&(struct timespec){0, 20 * 1000 * 1000}, NULL);
    }
    int count = 0;
    MPI_Get_count(&st, MPI_CHAR, &count);
    char *text = veil_malloc((size_t)count + 1);
    MPI_Recv(text, count, MPI_CHAR, st.MPI_SOURCE, st.MPI_TAG, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    text[count] = 0;
    *source = st.MPI_SOURCE;
    *tag = st.MPI_TAG;
    return text;
}

typedef struct job_msg {
    long job;
    double knob;
} job_msg;

static void send_job(int rank, long job, double knob)
{
    job_msg m = {job, knob};
    MPI_Send(&m, (int)sizeof m, MPI_BYTE, rank, TAG_JOB, MPI_COMM_WORLD);
}

int vx_mpi_coordinate(const vx_mpi *m, const vx_coordinator *co)
{
    int workers = m->size - 1, stopped = 0, failed = 0, cannot_record = 0;
    long *holding = veil_malloc((size_t)m->size * sizeof(long));
    char *waiting = veil_calloc((size_t)m->size, 1); /* asked, told nothing yet */
    char (*hosts)[64] = veil_calloc((size_t)m->size, sizeof *hosts);
    char *first_error = NULL;
    for (int r = 0; r < m->size; r++) holding[r] = -1;
    while (stopped < workers) {
        int src, tag;
        char *text = receive_any(&src, &tag);
        long job = holding[src];
        holding[src] = -1;
        if (tag == TAG_READY) {
            snprintf(hosts[src], sizeof hosts[src], "%s", text);
        } else if (tag == TAG_RESULT) {
            /* after another worker's failure, jobs still running elsewhere are recorded;
             * after a recording failure (results.jsonl unwritable) nothing more is tried */
            if (!cannot_record && co->on_result(co->ctx, job, src, text) != 0) {
                cannot_record = 1;
                if (!failed) first_error = veil_strdup(veil_last_error());
                failed = 1;
            }
        } else if (tag == TAG_FAIL) {
            if (!failed) {
                failed = 1;
                char msg[4096];
                snprintf(msg, sizeof msg, "job %s on rank %d (%s): %s", co->job_name(co->ctx, job), src, hosts[src],
                         text);
                first_error = veil_strdup(msg);
            }
            stopped++; /* a failed worker has left its loop; those waiting are told to stop */
        }
        free(text);
        /* this worker asks; so do those waiting, now that a result may have freed a job */
        if (tag != TAG_FAIL) waiting[src] = 1;
        for (int r = 1; r < m->size; r++) {
            if (!waiting[r]) continue;
            long next = failed ? -1 : co->next_job(co->ctx);
            if (next == -2) {
                int out = 0;
                for (int q = 1; q < m->size; q++) out |= holding[q] >= 0;
                if (out) break; /* keep waiting for a result */
                next = -1;
            }
            if (next >= 0 && co->on_started && co->on_started(co->ctx, next, r, hosts[r]) != 0) next = -1;
            send_job(r, next, next >= 0 ? co->job_knob(co->ctx, next) : 0.0);
            waiting[r] = 0;
            if (next < 0) stopped++;
            else holding[r] = next;
        }
    }
    free(holding);
    free(waiting);
    free(hosts);
    if (failed) {
        veil_error("%s", first_error ? first_error : "a worker failed");
        free(first_error);
        return -1;
    }
    return 0;
}

int vx_mpi_work(const vx_mpi *m, char *(*run_job)(void *ctx, long job, double knob), void *ctx)
{
    MPI_Send(m->host, (int)strlen(m->host), MPI_CHAR, 0, TAG_READY, MPI_COMM_WORLD);
    for (;;) {
        job_msg msg;
        MPI_Recv(&msg, (int)sizeof msg, MPI_BYTE, 0, TAG_JOB, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        if (msg.job < 0) return 0;
        long job = msg.job;
        char *line = run_job(ctx, job, msg.knob);
        if (!line) {
            const char *e = veil_last_error();
            MPI_Send(e, (int)strlen(e), MPI_CHAR, 0, TAG_FAIL, MPI_COMM_WORLD);
            return -1;
        }
        MPI_Send(line, (int)strlen(line), MPI_CHAR, 0, TAG_RESULT, MPI_COMM_WORLD);
        free(line);
    }
}
