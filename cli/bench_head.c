/* veil bench head: speed of one attacker-head epoch on random data, the same work as
 * bench/bench_head.py does in PyTorch:
 *   Linear(D, 1024) -> ReLU -> Dropout(0.5) -> Linear(1024, 20), 990 samples, batch 90
 *   (11 steps, as an attacker group of St = 20 speakers), cross-entropy, backward
 *   without the input gradient, Adam (lr 1e-3).
 * One untimed warm-up epoch first (primitive creation, Adam state). Best of --repeat
 * epochs, with the forward / backward / Adam split of the best one.
 * --bound also measures what this machine allows for one step at these shapes:
 *   - oneDNN matmul GFLOP/s of the step's two large GEMMs (forward 90 x D x 1024 and the
 *     weight gradient 1024 x 90 x D, plain layouts, the head's precision);
 *   - memory GB/s of streaming D x 1024 values the way Adam does (read weights, gradient
 *     and both moments, write weights and both moments: 28 bytes a value), no arithmetic
 *     but a few multiply-adds;
 * and prints bound = GEMM time at that speed + 28 bytes x D x 1024 / that bandwidth. */
#include <oneapi/dnnl/dnnl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "cli.h"
#include "veil/common.h"
#include "veil/nn.h"

enum { HIDDEN = 1024, CLASSES = 20, SAMPLES = 990, BATCH = 90 };

/* ---- the bound: GEMM speed at the step's shapes, memory speed of the Adam pattern ---- */
static int gemm_time(int m, int k, int n, int trans_a, int trans_b, dnnl_data_type_t dt, int reps, double *best)
{
    dnnl_engine_t eng;
    dnnl_stream_t st;
    if (dnnl_engine_create(&eng, dnnl_cpu, 0) != dnnl_success) return -1;
    dnnl_stream_create(&st, eng, dnnl_stream_default_flags);
    dnnl_memory_desc_t a, b, c;
    dnnl_dims_t ad = {m, k}, bd = {k, n}, cd = {m, n};
    dnnl_dims_t as = {trans_a ? 1 : k, trans_a ? m : 1}, bs = {trans_b ? 1 : n, trans_b ? k : 1};
    dnnl_memory_desc_init_by_strides(&a, 2, ad, dt, as);
    dnnl_memory_desc_init_by_strides(&b, 2, bd, dt, bs);
    dnnl_memory_desc_init_by_tag(&c, 2, cd, dnnl_f32, dnnl_ab);
    dnnl_matmul_desc_t d;
    dnnl_primitive_desc_t pd;
    dnnl_primitive_t p;
    int rc = -1;
    if (dnnl_matmul_desc_init(&d, &a, &b, NULL, &c) != dnnl_success ||
        dnnl_primitive_desc_create(&pd, &d, NULL, eng, NULL) != dnnl_success)
        goto out;
    if (dnnl_primitive_create(&p, pd) != dnnl_success) goto out_pd;
    dnnl_memory_t am, bm, cm;
    dnnl_memory_create(&am, &a, eng, DNNL_MEMORY_ALLOCATE);
    dnnl_memory_create(&bm, &b, eng, DNNL_MEMORY_ALLOCATE);
    dnnl_memory_create(&cm, &c, eng, DNNL_MEMORY_ALLOCATE);
    void *h;
    dnnl_memory_get_data_handle(am, &h);
    memset(h, 0, dnnl_memory_desc_get_size(&a));
    dnnl_memory_get_data_handle(bm, &h);
    memset(h, 0, dnnl_memory_desc_get_size(&b));
    dnnl_exec_arg_t args[3] = {{DNNL_ARG_SRC, am}, {DNNL_ARG_WEIGHTS, bm}, {DNNL_ARG_DST, cm}};
    *best = 1e30;
    for (int r = 0; r <= reps; r++) {
        double t0 = veil_now();
        dnnl_primitive_execute(p, st, 3, args);
        dnnl_stream_wait(st);
        double t = veil_now() - t0;
        if (r > 0 && t < *best) *best = t;
    }
    rc = 0;
    dnnl_memory_destroy(am), dnnl_memory_destroy(bm), dnnl_memory_destroy(cm);
    dnnl_primitive_destroy(p);
out_pd:
    dnnl_primitive_desc_destroy(pd);
out:
    dnnl_stream_destroy(st);
    dnnl_engine_destroy(eng);
    return rc;
}

static double cpu_seconds(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + 1e-6 * (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec);
}

static double stream_time(size_t n, int reps)
{
    float *p = veil_aligned_alloc(n * sizeof(float)), *g = veil_aligned_alloc(n * sizeof(float));
    float *m = veil_aligned_alloc(n * sizeof(float)), *v = veil_aligned_alloc(n * sizeof(float));
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) p[i] = g[i] = m[i] = v[i] = 1e-3f;
    double best = 1e30;
    for (int r = 0; r <= reps; r++) {
        double t0 = veil_now();
#pragma omp parallel for schedule(static)
        for (size_t i = 0; i < n; i++) {
            float gi = g[i], mi = 0.9f * m[i] + 0.1f * gi, vi = 0.999f * v[i] + 0.001f * gi;
            m[i] = mi;
            v[i] = vi;
            p[i] -= 1e-3f * mi + 1e-3f * vi;
        }
        double t = veil_now() - t0;
        if (r > 0 && t < best) best = t;
    }
    free(p), free(g), free(m), free(v);
    return best;
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
    if (!rc && bound) {
        dnnl_data_type_t dt = prec == VEIL_PREC_BF16 ? dnnl_bf16 : dnnl_f32;
        /* forward: [90 x D] x W^T, W [1024 x D]; weight gradient: dY^T [1024 x 90] x X [90 x D] */
        if (gemm_time(BATCH, (int)d, HIDDEN, 0, 1, dt, 10, &gemm_fwd) ||
            gemm_time(HIDDEN, BATCH, (int)d, 1, 0, dt, 10, &gemm_wgt)) {
            veil_error("bench head: oneDNN matmul at the step's shapes failed");
            rc = -1;
        }
        stream = stream_time(d * HIDDEN, 10);
    }
    if (rc) {
        rc = cli_fail();
    } else {
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        double rss = ru.ru_maxrss / 1024.0, step_ms = 1e3 * best / steps;
        double flop = 2.0 * BATCH * (double)d * HIDDEN, bytes = 28.0 * (double)d * HIDDEN;
        double bound_ms = 1e3 * (gemm_fwd + gemm_wgt + stream);
        if (json) {
            printf("{\"impl\":\"veil\",\"adam\":\"%s\",\"in_dim\":%ld,\"precision\":\"%s\",\"threads\":%ld,\"epoch_s\":%.4f,"
                   "\"step_ms\":%.2f,\"cpu_ms\":%.2f,\"forward_ms\":%.2f,\"backward_ms\":%.2f,\"adam_ms\":%.2f,"
                   "\"peak_rss_mib\":%.1f,\"last_loss\":%.5g",
                   plain ? "plain" : "fused", in_dim, veil_precision_name(prec), threads, best, step_ms, 1e3 * best_cpu / steps, 1e3 * best_fwd / steps,
                   1e3 * best_bwd / steps, 1e3 * best_adam / steps, rss, loss / steps);
            if (bound)
                printf(",\"gemm_fwd_ms\":%.2f,\"gemm_wgrad_ms\":%.2f,\"gemm_gflops\":%.1f,\"stream_ms\":%.2f,"
                       "\"stream_gbs\":%.1f,\"bound_ms\":%.2f,\"of_bound\":%.3f",
                       1e3 * gemm_fwd, 1e3 * gemm_wgt, 2 * flop / (gemm_fwd + gemm_wgt) * 1e-9, 1e3 * stream,
                       bytes / stream * 1e-9, bound_ms, bound_ms / step_ms);
            printf("}\n");
        } else {
            printf("veil head (%s Adam) %ld -> %d -> %d, batch %d, %s, %ld threads: epoch (%d steps) %.3f s, "
                   "%.2f ms/step (forward %.2f, backward %.2f, Adam %.2f; CPU %.2f ms), peak RSS %.0f MiB\n",
                   plain ? "plain" : "fused", in_dim, HIDDEN, CLASSES, BATCH, veil_precision_name(prec), threads, steps, best, step_ms,
                   1e3 * best_fwd / steps, 1e3 * best_bwd / steps, 1e3 * best_adam / steps, 1e3 * best_cpu / steps, rss);
            if (bound)
                printf("bound: GEMMs %.2f + %.2f ms (%.0f GFLOP/s), Adam-pattern stream %.2f ms (%.1f GB/s): "
                       "%.2f ms/step; the step is at %.0f %% of it\n",
                       1e3 * gemm_fwd, 1e3 * gemm_wgt, 2 * flop / (gemm_fwd + gemm_wgt) * 1e-9, 1e3 * stream,
                       bytes / stream * 1e-9, bound_ms, 100 * bound_ms / step_ms);
        }
    }
    veil_head_free(h);
    free(x), free(xb);
    return rc;
}
