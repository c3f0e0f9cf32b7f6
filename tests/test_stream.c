/* The streaming API against the batch path: a model saved to a file, audio pushed in
 * uneven chunks at the model's rate and at 22.05 kHz; every patch's z must equal
 * veil_audio_resample + veil_mfcc_patches + veil_extractor_forward of the whole signal
 * (with batches of 4) bit for bit, and the posterior the softmax of g on that z. Also
 * the stream starting over after finish, a stopping callback, and refused inputs. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "veil/audio.h"
#include "veil/common.h"
#include "veil/mfcc.h"
#include "veil/model.h"
#include "veil/stream.h"


typedef struct {
    float *z, *post;
    size_t n, cap;
    int dim, stop_after;
    double last_start;
    int order_ok;
} got;

static int collect(const veil_stream_patch *p, void *ctx)
{
    got *g = ctx;
    if (g->stop_after && (int)g->n == g->stop_after) return 42;
    if (p->index != g->n || (g->n && !(p->start_seconds > g->last_start))) g->order_ok = 0;
    g->last_start = p->start_seconds;
    if (g->n == g->cap) {
        g->cap = g->cap ? 2 * g->cap : 8;
        g->z = veil_realloc(g->z, g->cap * (size_t)p->dim * sizeof(float));
        g->post = veil_realloc(g->post, g->cap * 2 * sizeof(float));
    }
    g->dim = p->dim;
    memcpy(g->z + g->n * (size_t)p->dim, p->z, (size_t)p->dim * sizeof(float));
    if (p->posterior) memcpy(g->post + 2 * g->n, p->posterior, 2 * sizeof(float));
    g->n++;
    return 0;
}

/* Expected z of the whole signal x (at rate) through the batch path. */
static float *batch_features(const veil_model *m, const float *x, size_t n, int rate, size_t *np)
{
    float *r;
    size_t rn;
    if (veil_audio_resample(x, n, rate, m->mfcc.sample_rate, &r, &rn)) return NULL;
    veil_mfcc *mf = veil_mfcc_new(&m->mfcc);
    float *pt = NULL;
    veil_mfcc_patches(mf, r, rn, &pt, np);
    veil_mfcc_free(mf);
    free(r);
    int dim = veil_extractor_dim(m->f);
    float *z = veil_malloc((*np ? *np : 1) * (size_t)dim * sizeof(float));
    for (size_t i = 0; i < *np; i += 4) {
        int k = *np - i < 4 ? (int)(*np - i) : 4;
        veil_extractor_forward(m->f, pt + i * 64, k, 0, z + i * (size_t)dim);
    }
    free(pt);
    return z;
}

static float *signal(size_t n, int rate)
{
    veil_rng r;
    veil_rng_seed(&r, 5);
    float *x = veil_malloc(n * sizeof *x);
    for (size_t i = 0; i < n; i++)
        x[i] = 0.3f * (float)sin(2 * M_PI * 180.0 * (double)i / rate) + 0.05f * (float)veil_rng_normal(&r);
    return x;
}

static void push_in_chunks(veil_stream *s, const float *x, size_t n, got *g, uint64_t seed)
{
    veil_rng r;
    veil_rng_seed(&r, seed);
    for (size_t i = 0; i < n;) {
        size_t k = 1 + (size_t)veil_rng_below(&r, 3000);
        if (k > n - i) k = n - i;
        CHECK_MSG(veil_stream_push(s, x + i, k, collect, g) == 0, "%s", veil_last_error());
        i += k;
    }
    CHECK_MSG(veil_stream_finish(s, collect, g) == 0, "%s", veil_last_error());
}

int main(void)
{
    veil_set_threads(1);
    const char *dir = test_tmpdir("stream");
    char path[4096];
    snprintf(path, sizeof path, "%s/m.safetensors", dir);
    veil_model *m = test_tiny_model("siamese", 1, 7);
    CHECK(veil_model_save(path, m) == 0);
    veil_model_free(m);
    CHECK(veil_model_load(path, VEIL_PREC_FP32, 4, &m) == 0);

    int rates[2] = {16000, 22050};
    for (int t = 0; t < 2; t++) {
        int rate = rates[t];
        size_t n = (size_t)(1.3 * rate);
        float *x = signal(n, rate);
        size_t np;
        float *want = batch_features(m, x, n, rate, &np);
        CHECK(np >= 7);
        veil_stream_options o;
        veil_stream_options_default(&o);
        o.input_rate = rate;
        o.posterior = 1;
        veil_stream *s = veil_stream_open(path, &o);
        CHECK_MSG(s != NULL, "%s", veil_last_error());
        if (!s) continue;
        int dim = veil_stream_dim(s);
        for (int round = 0; round < 2; round++) { /* after finish the stream starts over */
            got g = {.order_ok = 1};
            push_in_chunks(s, x, n, &g, 11 + (uint64_t)round);
            CHECK_MSG(g.n == np, "rate %d: %zu patches streamed, %zu in batch", rate, g.n, np);
            CHECK(g.order_ok);
            CHECK_MSG(g.n == np && memcmp(g.z, want, np * (size_t)dim * sizeof(float)) == 0,
                      "rate %d round %d: streamed z differs from the batch path", rate, round);
            /* the posterior: softmax of g on each z */
            float logits[2], p[2];
            for (size_t i = 0; i < g.n && i < np; i++) {
                veil_head_forward(m->g, want + i * (size_t)dim, 1, 0, logits);
                veil_softmax(logits, 2, p);
                CHECK_NEAR(g.post[2 * i], p[0], 1e-6);
                CHECK_NEAR(g.post[2 * i] + g.post[2 * i + 1], 1.0, 1e-6);
            }
            free(g.z);
            free(g.post);
        }
        /* a callback's non-zero return stops the push and is returned */
        got g = {.stop_after = 2, .order_ok = 1};
        int rc = veil_stream_push(s, x, n, collect, &g);
        CHECK(rc == 42 && g.n == 2);
        free(g.z);
        free(g.post);
        /* a non-finite sample is refused */
        float bad[3] = {0, NAN, 0};
        CHECK_FAILS_WITH(veil_stream_push(s, bad, 3, collect, &g), "not a finite number");
        veil_stream_close(s);
        free(x);
        free(want);
    }
    veil_model_free(m);

    /* refused at open: a missing file, a bad rate, a posterior without g */
    veil_stream_options o;
    veil_stream_options_default(&o);
    char missing[4096];
    snprintf(missing, sizeof missing, "%s/none.safetensors", dir);
    CHECK(veil_stream_open(missing, &o) == NULL);
    o.input_rate = 10;
    CHECK(veil_stream_open(path, &o) == NULL);
    test_check_error_contains(__FILE__, __LINE__, "out of range");
    m = test_tiny_model("siamese", 1, 7);
    veil_head_free(m->g);
    m->g = NULL;
    free(m->class_names[0]);
    free(m->class_names[1]);
    free(m->class_names);
    m->class_names = NULL;
    m->n_classes = 0;
    char nog[4096];
    snprintf(nog, sizeof nog, "%s/nog.safetensors", dir);
    CHECK(veil_model_save(nog, m) == 0);
    veil_model_free(m);
    veil_stream_options_default(&o);
    o.posterior = 1;
    CHECK(veil_stream_open(nog, &o) == NULL);
    test_check_error_contains(__FILE__, __LINE__, "no gender recognizer");
    o.posterior = 0;
    veil_stream *s = veil_stream_open(nog, &o);
    CHECK_MSG(s != NULL, "%s", veil_last_error());
    veil_stream_close(s);
    return test_finish("test_stream");
}
