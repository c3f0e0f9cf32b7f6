/* Adam exactly as PyTorch's torch.optim.Adam (no weight decay, no amsgrad):
 *   m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2
 *   p -= lr / (1-b1^t) * m / (sqrt(v) / sqrt(1-b2^t) + eps)
 * which is lr * mhat / (sqrt(vhat) + eps). */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <immintrin.h>
#endif

#include "nn_dnnl.h"

void veil_adam_init(veil_adam *a, float lr)
{
    a->lr = lr;
    a->beta1 = 0.9f;
    a->beta2 = 0.999f;
    a->eps = 1e-8f;
    a->step = 0;
}

/* One parameter tensor. The update is memory-bound once vectorised (~28 bytes per
 * value); the compiler cannot vectorise sqrtf under -fmath-errno, so x86-64 gets
 * 4-wide SSE (baseline there, same IEEE operations and rounding as the scalar loop,
 * which also handles the tail and other CPUs). */
static void adam_update(float *restrict p, const float *restrict g, float *restrict m,
                        float *restrict v, size_t n, float b1, float b2, float step_size,
                        float inv_sqrt_bc2, float eps)
{
    size_t i = 0;
#ifdef __SSE2__
    const __m128 vb1 = _mm_set1_ps(b1), vb2 = _mm_set1_ps(b2), va1 = _mm_set1_ps(1.0f - b1),
                 va2 = _mm_set1_ps(1.0f - b2), vstep = _mm_set1_ps(step_size),
                 vinv = _mm_set1_ps(inv_sqrt_bc2), veps = _mm_set1_ps(eps);
    for (; i + 4 <= n; i += 4) {
        __m128 gi = _mm_loadu_ps(g + i);
        __m128 mi = _mm_add_ps(_mm_mul_ps(vb1, _mm_loadu_ps(m + i)), _mm_mul_ps(va1, gi));
        __m128 vi = _mm_add_ps(_mm_mul_ps(vb2, _mm_loadu_ps(v + i)), _mm_mul_ps(_mm_mul_ps(va2, gi), gi));
        _mm_storeu_ps(m + i, mi);
        _mm_storeu_ps(v + i, vi);
        __m128 den = _mm_add_ps(_mm_mul_ps(_mm_sqrt_ps(vi), vinv), veps);
        __m128 upd = _mm_div_ps(_mm_mul_ps(vstep, mi), den);
        _mm_storeu_ps(p + i, _mm_sub_ps(_mm_loadu_ps(p + i), upd));
    }
#endif
    for (; i < n; i++) {
        float mi = b1 * m[i] + (1.0f - b1) * g[i];
        float vi = b2 * v[i] + (1.0f - b2) * g[i] * g[i];
        m[i] = mi;
        v[i] = vi;
        p[i] -= step_size * mi / (sqrtf(vi) * inv_sqrt_bc2 + eps);
    }
}

/* Large tensors (the attacker's 16384 x 1024 first layer: 470 MB of traffic per step)
 * are split over the worker threads. Each value's update is independent and the same
 * code runs on every chunk, so the result is bit-identical for any thread count and
 * for any layout the four arrays share. vd_adam_stream goes over its arrays in the same
 * chunks on the same threads. */
enum { ADAM_CHUNK = 1 << 16 };

typedef struct adam_job {
    float *p, *m, *v;
    const float *g;
    const veil_adam *a;
    float step_size, inv_sqrt_bc2;
    void (*done)(void *ctx, size_t start, size_t count);
    void *ctx;
} adam_job;

static void over_chunks(size_t n, void (*run)(const adam_job *j, size_t start, size_t count), const adam_job *j)
{
    long chunks = (long)((n + ADAM_CHUNK - 1) / ADAM_CHUNK);
    if (chunks < 2 || veil_threads() < 2) {
        run(j, 0, n);
        return;
    }
#pragma omp parallel for schedule(static)
    for (long c = 0; c < chunks; c++) {
        size_t start = (size_t)c * ADAM_CHUNK;
        run(j, start, n - start < ADAM_CHUNK ? n - start : ADAM_CHUNK);
    }
}

static void adam_chunk(const adam_job *j, size_t start, size_t k)
{
    const veil_adam *a = j->a;
    adam_update(j->p + start, j->g + start, j->m + start, j->v + start, k, a->beta1, a->beta2, j->step_size,
                j->inv_sqrt_bc2, a->eps);
    if (j->done) j->done(j->ctx, start, k);
}

void vd_adam_arrays(float *p, const float *g, float *m, float *v, size_t n, const veil_adam *a,
                    float step_size, float inv_sqrt_bc2, void (*done)(void *ctx, size_t start, size_t count),
                    void *ctx)
{
    adam_job j = {p, m, v, g, a, step_size, inv_sqrt_bc2, done, ctx};
    over_chunks(n, adam_chunk, &j);
}

/* p, m, v [cols][rows], the transpose of g [rows][cols]: tiles of up to TA rows and TB
 * columns. A tile's gradient is copied transposed into a buffer (4 x 4 SSE transposes; the
 * rows PD ahead prefetched, since the hardware does not follow g's stride; the buffer's rows
 * TA + 16 apart so that the ones being written do not share cache sets), then each of its
 * columns is one adam_update over contiguous values of p, m and v: the same per-value
 * arithmetic, so the same bits as updating the plain arrays. With TA >= rows, a tile's p, m
 * and v are one contiguous run each. At 1024 x 16384 on a loaded 2-core AMD EPYC (AVX2):
 * 36-37 ms in the head's step against 25 for the plain arrays, where the transposing copy
 * of the weights that it replaces took 35 ms (docs/network.md). */
enum { TA = 1024, TB = 64, TLD = TA + 16, PD = 16 };

static void adam_tile(const adam_job *j, float *gt, size_t rows, size_t cols, size_t a0, size_t b0)
{
    const veil_adam *a = j->a;
    size_t na = rows - a0 < TA ? rows - a0 : TA, nb = cols - b0 < TB ? cols - b0 : TB, i = 0;
#ifdef __SSE2__
    for (; nb % 4 == 0 && i + 4 <= na; i += 4) {
        for (size_t q = i + PD; q < i + PD + 4 && q < na; q++)
            for (size_t l = 0; l < nb; l += 16) __builtin_prefetch(j->g + (a0 + q) * cols + b0 + l);
        const float *r0 = j->g + (a0 + i) * cols + b0, *r1 = r0 + cols, *r2 = r1 + cols, *r3 = r2 + cols;
        for (size_t k = 0; k < nb; k += 4) {
            __m128 x0 = _mm_loadu_ps(r0 + k), x1 = _mm_loadu_ps(r1 + k), x2 = _mm_loadu_ps(r2 + k),
                   x3 = _mm_loadu_ps(r3 + k);
            _MM_TRANSPOSE4_PS(x0, x1, x2, x3);
            _mm_storeu_ps(gt + k * TLD + i, x0);
            _mm_storeu_ps(gt + (k + 1) * TLD + i, x1);
            _mm_storeu_ps(gt + (k + 2) * TLD + i, x2);
            _mm_storeu_ps(gt + (k + 3) * TLD + i, x3);
        }
    }
#endif
    for (; i < na; i++) {
        const float *row = j->g + (a0 + i) * cols + b0;
        for (size_t k = 0; k < nb; k++) gt[k * TLD + i] = row[k];
    }
    for (size_t k = 0; k < nb; k++) {
        size_t o = (b0 + k) * rows + a0;
        adam_update(j->p + o, gt + k * TLD, j->m + o, j->v + o, na, a->beta1, a->beta2, j->step_size,
                    j->inv_sqrt_bc2, a->eps);
    }
}

void vd_adam_arrays_transposed(float *p, const float *g, float *m, float *v, size_t rows, size_t cols,
                               const veil_adam *a, float step_size, float inv_sqrt_bc2)
{
    adam_job j = {p, m, v, g, a, step_size, inv_sqrt_bc2, NULL, NULL};
    size_t tr = (rows + TA - 1) / TA, tc = (cols + TB - 1) / TB;
    long tiles = (long)(tr * tc);
    int par = veil_threads() >= 2 && tiles >= 2;
#pragma omp parallel if (par)
    {
        float *gt = veil_aligned_alloc((size_t)TB * TLD * sizeof(float));
#pragma omp for schedule(static)
        for (long t = 0; t < tiles; t++) adam_tile(&j, gt, rows, cols, (size_t)t % tr * TA, (size_t)t / tr * TB);
        free(gt);
    }
}

/* ---------------- the Adam pattern without Adam's arithmetic ----------------
 * For veil bench head --bound: what the memory allows for one Adam update. Every value
 * is read from p, g, m and v and written to m, v and p (28 bytes), as the update does,
 * with XORs of the bit patterns instead of the arithmetic:
 *   m ^= g;  v ^= g;  p ^= m ^ v   (the new m and v)
 * so two passes give back the arrays bit for bit. 4-wide SSE as adam_update (256-bit AVX
 * measured no faster: memory, not the loop, is the limit); stores stay ordinary
 * (non-temporal ones measured 1.8x slower on an AMD EPYC with AVX2, the lines being read
 * just before). */
static void stream_scalar(float *p, const float *g, float *m, float *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t pi, gi, mi, vi;
        memcpy(&pi, p + i, 4), memcpy(&gi, g + i, 4), memcpy(&mi, m + i, 4), memcpy(&vi, v + i, 4);
        mi ^= gi, vi ^= gi, pi ^= mi ^ vi;
        memcpy(p + i, &pi, 4), memcpy(m + i, &mi, 4), memcpy(v + i, &vi, 4);
    }
}

static void stream_chunk(const adam_job *j, size_t start, size_t n)
{
    float *p = j->p + start, *m = j->m + start, *v = j->v + start;
    const float *g = j->g + start;
    size_t i = 0;
#ifdef __SSE2__
    for (; i + 4 <= n; i += 4) {
        __m128 gi = _mm_loadu_ps(g + i);
        __m128 mi = _mm_xor_ps(_mm_loadu_ps(m + i), gi), vi = _mm_xor_ps(_mm_loadu_ps(v + i), gi);
        _mm_storeu_ps(m + i, mi);
        _mm_storeu_ps(v + i, vi);
        _mm_storeu_ps(p + i, _mm_xor_ps(_mm_loadu_ps(p + i), _mm_xor_ps(mi, vi)));
    }
#endif
    stream_scalar(p + i, g + i, m + i, v + i, n - i);
}

void vd_adam_stream(float *p, const float *g, float *m, float *v, size_t n)
{
    adam_job j = {.p = p, .m = m, .v = v, .g = g};
    over_chunks(n, stream_chunk, &j);
}

void vd_adam_begin(veil_adam *a, float *step_size, float *inv_sqrt_bc2)
{
    a->step++;
    /* bias corrections in double: b2^t stays accurate for long runs */
    double bc1 = 1.0 - pow(a->beta1, (double)a->step);
    double bc2 = 1.0 - pow(a->beta2, (double)a->step);
    *step_size = (float)(a->lr / bc1);
    *inv_sqrt_bc2 = (float)(1.0 / sqrt(bc2));
}

void vd_adam_param(veil_param *p, const veil_adam *a, float step_size, float inv_sqrt_bc2)
{
    if (p->is_buffer || !p->grad) return;
    if (!p->adam_m) p->adam_m = veil_calloc(p->size, sizeof(float));
    if (!p->adam_v) p->adam_v = veil_calloc(p->size, sizeof(float));
    vd_adam_arrays(p->data, p->grad, p->adam_m, p->adam_v, p->size, a, step_size, inv_sqrt_bc2, NULL, NULL);
}

void veil_adam_step(veil_adam *a, veil_param *params, int count)
{
    float step_size, inv_sqrt_bc2;
    vd_adam_begin(a, &step_size, &inv_sqrt_bc2);
    for (int i = 0; i < count; i++) vd_adam_param(&params[i], a, step_size, inv_sqrt_bc2);
}
