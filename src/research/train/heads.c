/* Features of a frozen extractor and MLP heads trained on them (the gender recognizer g,
 * the attacker a). The training methods are in src/research/train/ (docs/protocol.md). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "method.h"
#include "veil/common.h"
#include "veil/job.h"

int veil_extract_features(veil_extractor *f, const veil_patch_set *p, const size_t *idx, size_t n,
                          int batch, float *z)
{
    if (veil_check_patch_shape(f, p)) return -1;
    size_t dim = (size_t)veil_extractor_dim(f), hw = (size_t)p->patch_h * p->patch_w;
    float *x = veil_aligned_alloc((size_t)batch * hw * sizeof(float));
    int rc = 0;
    /* a long extraction (the gender-testing speakers, the attacker groups) shows its
     * progress on a terminal and leaves no line behind, in a log none at all */
    veil_progress prog;
    veil_progress_begin(&prog, "extracting features", (long)n);
    prog.unit = "patches";
    prog.tty = prog.tty && n >= 4 * (size_t)batch;
    for (size_t i = 0; i < n && rc == 0; i += (size_t)batch) {
        size_t k = n - i < (size_t)batch ? n - i : (size_t)batch;
        veil_gather_patches(p, idx + i, k, x);
        rc = veil_extractor_forward(f, x, (int)k, 0, z + i * dim);
        if (rc == 0) rc = veil_extractor_check_output(f, z + i * dim, k, "extracted features");
        veil_progress_update(&prog, (long)(i + k), NULL);
    }
    if (prog.tty) fprintf(stderr, "\r\033[K");
    free(x);
    return rc;
}

/* ---------------- heads on frozen features ---------------- */
static size_t argmax(const float *v, int n)
{
    size_t best = 0;
    for (int k = 1; k < n; k++)
        if (v[k] > v[best]) best = (size_t)k;
    return best;
}

double veil_head_accuracy(veil_head *h, const float *x, const int *labels, size_t n, int batch,
                          size_t *pred_count)
{
    const veil_head_config *c = veil_head_config_of(h);
    float *logits = veil_malloc((size_t)batch * c->classes * sizeof(float));
    if (pred_count) memset(pred_count, 0, (size_t)c->classes * sizeof(size_t));
    size_t correct = 0;
    for (size_t i = 0; i < n; i += (size_t)batch) {
        size_t k = n - i < (size_t)batch ? n - i : (size_t)batch;
        if (veil_head_forward(h, x + i * c->in_dim, (int)k, 0, logits)) {
            free(logits);
            return NAN;
        }
        for (size_t j = 0; j < k; j++) {
            size_t pred = argmax(logits + j * c->classes, c->classes);
            correct += pred == (size_t)labels[i + j];
            if (pred_count) pred_count[pred]++;
        }
    }
    free(logits);
    return n ? (double)correct / (double)n : NAN;
}

int veil_head_train(veil_head *h, const float *x, const int *labels, size_t n, int epochs,
                    int batch, float lr, uint64_t seed, const char *name, double *final_loss)
{
    return veil_head_train_ex(h, x, labels, n, epochs, batch, lr, seed, name, final_loss, NULL);
}

/* The head's parameters' values, copied (the best epoch's, for early stopping). */
static float **snapshot_take(veil_head *h, float **keep)
{
    int count;
    veil_param *p = veil_head_params(h, &count);
    if (!keep) keep = veil_calloc((size_t)count, sizeof *keep);
    for (int i = 0; i < count; i++) {
        if (!keep[i]) keep[i] = veil_malloc(p[i].size * sizeof(float));
        memcpy(keep[i], p[i].data, p[i].size * sizeof(float));
    }
    return keep;
}

int veil_head_train_ex(veil_head *h, const float *x, const int *labels, size_t n, int epochs,
                       int batch, float lr, uint64_t seed, const char *name, double *final_loss,
                       veil_head_train_options *opt)
{
    const veil_head_config *c = veil_head_config_of(h);
    size_t in = (size_t)c->in_dim, cls = (size_t)c->classes;
    if (n == 0) {
        veil_error("%s: no training samples", name);
        return -1;
    }
    float wd = opt ? opt->weight_decay : 0.0f;
    int early = opt && opt->n_held > 0 && opt->patience > 0;
    float *xb = veil_aligned_alloc((size_t)batch * in * sizeof(float));
    float *logits = veil_malloc((size_t)batch * cls * sizeof(float));
    float *dlogits = veil_malloc((size_t)batch * cls * sizeof(float));
    int *lb = veil_malloc((size_t)batch * sizeof(int));
    size_t *order = veil_malloc(n * sizeof(size_t));
    float **best = NULL;
    double best_acc = -1;
    int best_epoch = 0, since = 0;
    int pcount, rc = -1;
    veil_param *params = veil_head_params(h, &pcount); /* before training: nothing fused yet */
    veil_adam adam;
    veil_adam_init(&adam, lr);
    veil_rng rng;
    veil_rng_seed(&rng, veil_seed_mix(seed, 0x68656164, 0));
    size_t batches = (n + (size_t)batch - 1) / (size_t)batch;
    veil_progress prog;
    veil_progress_begin(&prog, name, (long)epochs * (long)batches);
    char extra[96];
    double epoch_loss = NAN;
    int epoch = 0;
    for (size_t i = 0; i < n; i++) order[i] = i;
    for (epoch = 1; epoch <= epochs; epoch++) {
        veil_shuffle_size(&rng, order, n);
        double loss_sum = 0;
        for (size_t b = 0; b < batches; b++) {
            size_t start = b * (size_t)batch, k = n - start < (size_t)batch ? n - start : (size_t)batch;
            for (size_t i = 0; i < k; i++) {
                memcpy(xb + i * in, x + order[start + i] * in, in * sizeof(float));
                lb[i] = labels[order[start + i]];
            }
            if (veil_head_forward(h, xb, (int)k, 1, logits)) goto done;
            float loss = veil_softmax_xent(logits, lb, (int)k, (int)cls, dlogits);
            if (!veil_finite_loss(loss, name, "cross-entropy", epoch, b)) goto done;
            if (veil_head_backward(h, dlogits, NULL)) goto done;
            /* fc1.weight (params[0], 16.8 M values at G = 1) is not scanned every step: its
             * gradient stays in oneDNN's layout (veil_head_adam_step), and a non-finite one
             * makes the next loss non-finite, which is caught above */
            if (!veil_finite_grads(params + 1, pcount - 1, name, epoch, b)) goto done;
            if (wd > 0) {
                /* decoupled weight decay (AdamW) on the weights, not the biases: the plain
                 * parameters, since the fused step keeps fc1.weight in oneDNN's layout */
                veil_param *p = veil_head_params(h, NULL);
                veil_adam_step(&adam, p, pcount);
                float keep = 1.0f - lr * wd;
                for (int q = 0; q < pcount; q += 2)
                    for (size_t i = 0; i < p[q].size; i++) p[q].data[i] *= keep;
                veil_head_params_changed(h);
            } else if (veil_head_adam_step(h, &adam)) {
                goto done;
            }
            loss_sum += (double)loss * (double)k;
        }
        epoch_loss = loss_sum / (double)n;
        if (early) {
            double acc = veil_head_accuracy(h, opt->x_held, opt->y_held, opt->n_held,
                                            opt->eval_batch > 0 ? opt->eval_batch : batch, NULL);
            if (isnan(acc)) goto done;
            if (acc > best_acc) {
                best_acc = acc;
                best_epoch = epoch;
                since = 0;
                best = snapshot_take(h, best);
            } else if (++since >= opt->patience) {
                snprintf(extra, sizeof extra, "epoch %d loss %.4f held-out %.1f %%", epoch, epoch_loss, 100 * acc);
                veil_progress_update(&prog, (long)epochs * (long)batches, extra);
                break;
            }
            snprintf(extra, sizeof extra, "epoch %d loss %.4f held-out %.1f %%", epoch, epoch_loss, 100 * acc);
        } else {
            snprintf(extra, sizeof extra, "epoch %d loss %.4f", epoch, epoch_loss);
        }
        veil_progress_update(&prog, (long)epoch * (long)batches, extra);
    }
    if (epoch > epochs) epoch = epochs;
    if (best) { /* back to the best epoch's values */
        veil_param *p = veil_head_params(h, NULL);
        for (int i = 0; i < pcount; i++) memcpy(p[i].data, best[i], p[i].size * sizeof(float));
        veil_head_params_changed(h);
    }
    if (opt) {
        opt->epochs_run = epoch;
        opt->best_epoch = best_epoch;
        opt->best_held_acc = best_acc;
    }
    snprintf(extra, sizeof extra, "%d epoch%s, loss %.4f", epoch, epoch == 1 ? "" : "s", epoch_loss);
    veil_progress_end(&prog, extra);
    if (final_loss) *final_loss = epoch_loss;
    rc = 0;
done:
    veil_head_params(h, NULL); /* fc1.weight back in the plain master (veil_head_adam_step) */
    for (int i = 0; best && i < pcount; i++) free(best[i]);
    free(best);
    free(xb);
    free(logits);
    free(dlogits);
    free(lb);
    free(order);
    return rc;
}
