/* Adam exactly as PyTorch's torch.optim.Adam (no weight decay, no amsgrad):
 *   m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2
 *   p -= lr / (1-b1^t) * m / (sqrt(v) / sqrt(1-b2^t) + eps)
 * which is lr * mhat / (sqrt(vhat) + eps). */
#include <math.h>
#include <stdint.h>
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
