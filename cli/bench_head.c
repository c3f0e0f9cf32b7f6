/* veil bench head: speed of one attacker-head epoch on random data, the same work as
 * bench/bench_head.py does in PyTorch:
 *   Linear(D, 1024) -> ReLU -> Dropout(0.5) -> Linear(1024, 20), 990 samples, batch 90
 *   (11 steps, as an attacker group of St = 20 speakers), cross-entropy, backward
 *   without the input gradient, Adam (lr 1e-3).
 * One untimed warm-up epoch first (primitive creation, Adam state). Best of --repeat
 * epochs, with the forward / backward / Adam split of the best one.
 * --bound also measures what this machine allows for one step at these shapes (a lower
 * bound: no implementation of the step can be faster, the method is in docs/network.md):
 *   - the step's two large GEMMs (forward 90 x D x 1024 and the weight gradient
 *     1024 x 90 x D, the head's precision), each the best of 10 runs of the inner product
 *     the step uses (layouts of oneDNN's choice) and of oneDNN's matmul on plain operands;
 *   - the Adam update's memory traffic (read weights, gradient and both moments, write
 *     weights and both moments: 28 bytes a parameter value) at the speed of that pattern
 *     with no arithmetic (vd_adam_stream), measured on the arrays of the step's own last
 *     fc1.weight update (same pages, layout, chunks and threads), best of 19 passes;
 * and prints bound = the two GEMM times + Adam bytes / that speed. */
#include <oneapi/dnnl/dnnl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "cli.h"
#include "core/nn/nn_dnnl.h"
#include "veil/common.h"
#include "veil/nn.h"

enum { HIDDEN = 1024, CLASSES = 20, SAMPLES = 990, BATCH = 90 };

/* ---- the bound: GEMM speed at the step's shapes, memory speed of the Adam pattern ---- */
/* Best of reps (after one untimed run) of a primitive on zeroed memories of the layouts
 * it chose, for the given arguments. */
static int time_primitive(dnnl_engine_t eng, dnnl_stream_t st, dnnl_primitive_desc_t pd, const int roles[3],
                          int reps, double *best)
{
    dnnl_primitive_t p;
    if (dnnl_primitive_create(&p, pd) != dnnl_success) return -1;
    dnnl_exec_arg_t args[3];
    for (int i = 0; i < 3; i++) {
        const dnnl_memory_desc_t *md = dnnl_primitive_desc_query_md(pd, dnnl_query_exec_arg_md, roles[i]);
        void *data;
        args[i].arg = roles[i];
        dnnl_memory_create(&args[i].memory, md, eng, DNNL_MEMORY_ALLOCATE);
        dnnl_memory_get_data_handle(args[i].memory, &data);
        memset(data, 0, dnnl_memory_desc_get_size(md));
    }
    *best = 1e30;
    for (int r = 0; r <= reps; r++) {
        double t0 = veil_now();
        dnnl_primitive_execute(p, st, 3, args);
        dnnl_stream_wait(st);
        double t = veil_now() - t0;
        if (r > 0 && t < *best) *best = t;
    }
    for (int i = 0; i < 3; i++) dnnl_memory_destroy(args[i].memory);
    dnnl_primitive_destroy(p);
    return 0;
}

static int time_desc(dnnl_engine_t eng, dnnl_stream_t st, const void *desc, const_dnnl_primitive_desc_t hint,
                     const int roles[3], int reps, double *best, dnnl_primitive_desc_t *keep)
{
    dnnl_primitive_desc_t pd;
    if (dnnl_primitive_desc_create(&pd, desc, NULL, eng, hint) != dnnl_success) return -1;
    int rc = time_primitive(eng, st, pd, roles, reps, best);
    if (keep && !rc)
        *keep = pd;
    else
        dnnl_primitive_desc_destroy(pd);
    return rc;
}

/* oneDNN matmul [m x k] x [k x n] on plain (optionally transposed) operands, fp32 out. */
static int matmul_time(dnnl_engine_t eng, dnnl_stream_t st, int m, int k, int n, int trans_a, int trans_b,
                       dnnl_data_type_t dt, int reps, double *best)
{
    dnnl_memory_desc_t a, b, c;
    dnnl_dims_t ad = {m, k}, bd = {k, n}, cd = {m, n};
    dnnl_dims_t as = {trans_a ? 1 : k, trans_a ? m : 1}, bs = {trans_b ? 1 : n, trans_b ? k : 1};
    dnnl_memory_desc_init_by_strides(&a, 2, ad, dt, as);
    dnnl_memory_desc_init_by_strides(&b, 2, bd, dt, bs);
    dnnl_memory_desc_init_by_tag(&c, 2, cd, dnnl_f32, dnnl_ab);
    dnnl_matmul_desc_t d;
    static const int roles[3] = {DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_DST};
    if (dnnl_matmul_desc_init(&d, &a, &b, NULL, &c) != dnnl_success) return -1;
    return time_desc(eng, st, &d, NULL, roles, reps, best, NULL);
}

/* The inner products of the step's fc1 (nn_head.c): forward (training) and backward
 * weights, source and weights in the layouts oneDNN picks, without bias and ReLU. */
static int inner_product_times(dnnl_engine_t eng, dnnl_stream_t st, int n, int in, int out, dnnl_data_type_t dt,
                               int reps, double *fwd, double *wgrad)
{
    dnnl_memory_desc_t src, w, dw, dst, ddst;
    dnnl_dims_t sd = {n, in}, wd = {out, in}, dd = {n, out};
    dnnl_memory_desc_init_by_tag(&src, 2, sd, dt, dnnl_format_tag_any);
    dnnl_memory_desc_init_by_tag(&w, 2, wd, dt, dnnl_format_tag_any);
    dnnl_memory_desc_init_by_tag(&dw, 2, wd, dnnl_f32, dnnl_format_tag_any);
    dnnl_memory_desc_init_by_tag(&dst, 2, dd, dnnl_f32, dnnl_ab);
    dnnl_memory_desc_init_by_tag(&ddst, 2, dd, dt, dnnl_format_tag_any);
    dnnl_inner_product_desc_t fd, bd;
    static const int froles[3] = {DNNL_ARG_SRC, DNNL_ARG_WEIGHTS, DNNL_ARG_DST};
    static const int broles[3] = {DNNL_ARG_SRC, DNNL_ARG_DIFF_DST, DNNL_ARG_DIFF_WEIGHTS};
    dnnl_primitive_desc_t fpd;
    if (dnnl_inner_product_forward_desc_init(&fd, dnnl_forward_training, &src, &w, NULL, &dst) != dnnl_success ||
        dnnl_inner_product_backward_weights_desc_init(&bd, &src, &dw, NULL, &ddst) != dnnl_success ||
        time_desc(eng, st, &fd, NULL, froles, reps, fwd, &fpd))
        return -1;
    int rc = time_desc(eng, st, &bd, fpd, broles, reps, wgrad, NULL);
    dnnl_primitive_desc_destroy(fpd);
    return rc;
}

/* The step's two large GEMMs, each the faster of oneDNN's inner product (what the step
 * runs) and its matmul on plain operands: forward [n x D] x W^T with W [1024 x D], and
 * the weight gradient dY^T [1024 x n] x X [n x D]. */
static int gemm_times(int n, int d, dnnl_data_type_t dt, int reps, double *fwd, double *wgrad, int *by_matmul)
{
    dnnl_engine_t eng;
    dnnl_stream_t st;
    if (dnnl_engine_create(&eng, dnnl_cpu, 0) != dnnl_success) return -1;
    dnnl_stream_create(&st, eng, dnnl_stream_default_flags);
    double mf, mw;
    int rc = inner_product_times(eng, st, n, d, HIDDEN, dt, reps, fwd, wgrad) ||
             matmul_time(eng, st, n, d, HIDDEN, 0, 1, dt, reps, &mf) ||
             matmul_time(eng, st, HIDDEN, n, d, 1, 0, dt, reps, &mw);
    *by_matmul = (mf < *fwd) | (mw < *wgrad) << 1;
    if (mf < *fwd) *fwd = mf;
    if (mw < *wgrad) *wgrad = mw;
    dnnl_stream_destroy(st);
    dnnl_engine_destroy(eng);
    return rc ? -1 : 0;
}

static double cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + 1e-6 * (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

/* The Adam pattern (vd_adam_stream: read w, g, m, v, write w, m, v) over the very arrays
 * the step's last Adam update of fc1.weight touched: same pages (already faulted in), same
 * layout, same chunks over the same threads. Best of 2 x reps passes, the first untimed;
 * an even number of passes leaves the arrays as they were. Seconds per pass of all the
 * head's parameter bytes (vd_head_adam_bytes) at the speed measured on fc1.weight. */
static int stream_time(veil_head *h, int reps, double *best)
{
    float *p, *g, *m, *v;
    size_t n;
    if (vd_head_adam_arrays(h, &p, &g, &m, &v, &n)) return -1;
    *best = 1e30;
    for (int r = 0; r < 2 * reps; r++) {
        double t0 = veil_now();
        vd_adam_stream(p, g, m, v, n);
        double t = veil_now() - t0;
        if (r > 0 && t < *best) *best = t;
    }
    *best *= vd_head_adam_bytes(h) / (28.0 * (double)n);
    return 0;
}

int bench_head(const cli_bench_args *a)
{
    long in_dim = a->in_dim, threads = a->threads, repeat = a->repeat;
    int json = a->json, bound = a->bound, plain = a->plain_adam;
    veil_precision prec = a->precision;
    veil_set_threads((int)threads);
    if (veil_precision_resolve(prec, &prec)) return cli_fail();

    veil_head_config hc = {.in_dim = (int)in_dim, .hidden = HIDDEN, .classes = CLASSES, .dropout = 0.5f};
    veil_head *h = veil_head_new(&hc, BATCH, prec, 1);
    if (!h) return cli_fail();
    int count;
    veil_param *params = veil_head_params(h, &count);
    size_t d = (size_t)in_dim;
    float *x = veil_aligned_alloc(SAMPLES * d * sizeof(float)), *xb = veil_aligned_alloc(BATCH * d * sizeof(float));
    float logits[BATCH * CLASSES], dlogits[BATCH * CLASSES];
    int y[SAMPLES];
    veil_rng rng;
    veil_rng_seed(&rng, 7);
    for (size_t i = 0; i < SAMPLES * d; i++) x[i] = (float)veil_rng_normal(&rng);
    for (int i = 0; i < SAMPLES; i++) y[i] = (int)veil_rng_below(&rng, CLASSES);
    veil_adam adam;
    veil_adam_init(&adam, 1e-3f);
    int steps = (SAMPLES + BATCH - 1) / BATCH, rc = 0;
    double best = 1e30, best_fwd = 0, best_bwd = 0, best_adam = 0, best_cpu = 0, loss = 0;
    for (int r = 0; r <= repeat && !rc; r++) {
        double tf = 0, tb = 0, ta = 0, t0 = veil_now(), c0 = cpu_seconds();
        loss = 0;
        for (int s = 0; s < steps && !rc; s++) {
            int k = SAMPLES - s * BATCH < BATCH ? SAMPLES - s * BATCH : BATCH;
            memcpy(xb, x + (size_t)s * BATCH * d, (size_t)k * d * sizeof(float));
            double a = veil_now();
            if (veil_head_forward(h, xb, k, 1, logits)) {
                rc = -1;
                break;
            }
            double b = veil_now();
            loss += veil_softmax_xent(logits, y + s * BATCH, k, CLASSES, dlogits);
            if (veil_head_backward(h, dlogits, NULL)) rc = -1;
            double c = veil_now();
            if (plain)
                veil_adam_step(&adam, params, count);
            else if (veil_head_adam_step(h, &adam))
                rc = -1;
            double e = veil_now();
            tf += b - a, tb += c - b, ta += e - c;
        }
        double t = veil_now() - t0, cpu = cpu_seconds() - c0;
        if (r > 0 && t < best) best = t, best_fwd = tf, best_bwd = tb, best_adam = ta, best_cpu = cpu;
    }
    double gemm_fwd = 0, gemm_wgt = 0, stream = 0;
    int by_matmul = 0;
    if (!rc && bound) {
        dnnl_data_type_t dt = prec == VEIL_PREC_BF16 ? dnnl_bf16 : dnnl_f32;
        if (gemm_times(BATCH, (int)d, dt, 10, &gemm_fwd, &gemm_wgt, &by_matmul)) {
            veil_error("bench head: oneDNN inner product or matmul at the step's shapes failed");
            rc = -1;
        } else if (stream_time(h, 10, &stream)) {
            rc = -1;
        }
    }
    if (rc) {
        rc = cli_fail();
    } else {
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        double rss = ru.ru_maxrss / 1024.0, step_ms = 1e3 * best / steps;
        double flop = 2.0 * BATCH * (double)d * HIDDEN, bytes = vd_head_adam_bytes(h);
        double bound_ms = 1e3 * (gemm_fwd + gemm_wgt + stream);
        /* the fused Adam handles the layouts oneDNN picks on AVX-512 only (nn_head.c) */
        const char *adam_kind = plain ? "plain" : vd_head_fused(h) ? "fused" : "fused-not-taken";
        if (json) {
            printf("{\"impl\":\"veil\",\"adam\":\"%s\",\"in_dim\":%ld,\"precision\":\"%s\",\"threads\":%ld,\"epoch_s\":%.4f,"
                   "\"step_ms\":%.2f,\"cpu_ms\":%.2f,\"forward_ms\":%.2f,\"backward_ms\":%.2f,\"adam_ms\":%.2f,"
                   "\"peak_rss_mib\":%.1f,\"last_loss\":%.5g",
                   adam_kind, in_dim, veil_precision_name(prec), threads, best, step_ms, 1e3 * best_cpu / steps, 1e3 * best_fwd / steps,
                   1e3 * best_bwd / steps, 1e3 * best_adam / steps, rss, loss / steps);
            if (bound)
                printf(",\"gemm_fwd_ms\":%.2f,\"gemm_fwd_by\":\"%s\",\"gemm_wgrad_ms\":%.2f,\"gemm_wgrad_by\":\"%s\","
                       "\"gemm_gflops\":%.1f,\"adam_bytes\":%.0f,\"stream_ms\":%.2f,\"stream_gbs\":%.1f,"
                       "\"bound_ms\":%.2f,\"of_bound\":%.3f",
                       1e3 * gemm_fwd, by_matmul & 1 ? "matmul" : "inner_product", 1e3 * gemm_wgt,
                       by_matmul & 2 ? "matmul" : "inner_product", 2 * flop / (gemm_fwd + gemm_wgt) * 1e-9, bytes,
                       1e3 * stream, bytes / stream * 1e-9, bound_ms, bound_ms / step_ms);
            printf("}\n");
        } else {
            printf("veil head (Adam: %s) %ld -> %d -> %d, batch %d, %s, %ld threads: epoch (%d steps) %.3f s, "
                   "%.2f ms/step (forward %.2f, backward %.2f, Adam %.2f; CPU %.2f ms), peak RSS %.0f MiB\n",
                   adam_kind, in_dim, HIDDEN, CLASSES, BATCH, veil_precision_name(prec), threads, steps, best, step_ms,
                   1e3 * best_fwd / steps, 1e3 * best_bwd / steps, 1e3 * best_adam / steps, 1e3 * best_cpu / steps, rss);
            if (bound)
                printf("bound: GEMMs %.2f (%s) + %.2f ms (%s), %.0f GFLOP/s; Adam pattern, %.1f MB on the "
                       "step's arrays, %.2f ms (%.1f GB/s): %.2f ms/step; the step is at %.0f %% of it\n",
                       1e3 * gemm_fwd, by_matmul & 1 ? "matmul" : "inner product", 1e3 * gemm_wgt,
                       by_matmul & 2 ? "matmul" : "inner product", 2 * flop / (gemm_fwd + gemm_wgt) * 1e-9,
                       bytes * 1e-6, 1e3 * stream, bytes / stream * 1e-9, bound_ms, 100 * bound_ms / step_ms);
        }
    }
    veil_head_free(h);
    free(x), free(xb);
    return rc;
}
