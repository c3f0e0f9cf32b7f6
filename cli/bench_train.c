/* veil bench train: speed of the extractor on random data, the same work as
 * bench/bench_train.py does in PyTorch:
 *   - one Siamese training epoch: 1040 pairs, batch 150 pairs (300 patches through f
 *     per step): forward (train), contrastive loss (margin 1), backward, Adam (lr 2e-4);
 *   - extraction: evaluation forward in batches of 256 patches.
 * One untimed warm-up step/batch first (primitive creation). Best of --repeat runs. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "cli.h"
#include "veil/common.h"
#include "veil/nn.h"

enum { PAIRS = 1040, BATCH_PAIRS = 150, EXTRACT_BATCH = 256, EXTRACT_PATCHES = 2048 };

int bench_train(const cli_bench_args *a)
{
    long groups = a->groups, threads = a->threads, repeat = a->repeat;
    int json = a->json;
    veil_precision prec = a->precision;
    veil_set_threads((int)threads);
    if (veil_precision_resolve(prec, &prec)) return cli_fail();

    veil_extractor_config cfg;
    veil_extractor_config_paper(&cfg, (int)groups);
    veil_extractor *f = veil_extractor_new(&cfg, 2 * BATCH_PAIRS, prec, 1);
    if (!f) return cli_fail();
    int dim = veil_extractor_dim(f), count;
    veil_param *params = veil_extractor_params(f, &count);
    size_t patch = 32 * 32, npatch = 2 * PAIRS;
    float *x = veil_malloc(npatch * patch * sizeof(float));
    float *batch = veil_malloc(2 * BATCH_PAIRS * patch * sizeof(float));
    float *z = veil_malloc((size_t)2 * BATCH_PAIRS * dim * sizeof(float));
    float *dz = veil_malloc((size_t)2 * BATCH_PAIRS * dim * sizeof(float));
    int *y = veil_malloc(BATCH_PAIRS * sizeof(int));
    veil_rng rng;
    veil_rng_seed(&rng, 7);
    for (size_t i = 0; i < npatch * patch; i++) x[i] = (float)veil_rng_normal(&rng);
    veil_adam adam;
    veil_adam_init(&adam, 2e-4f);
    double best_epoch = 1e30, best_extract = 1e30, loss_sum = 0;
    int rc = 0;
    /* pairs: patch 2p and 2p+1; one step = first members then second members */
    for (int r = 0; r <= repeat && !rc; r++) {
        double t0 = veil_now();
        int steps = r == 0 ? 1 : (PAIRS + BATCH_PAIRS - 1) / BATCH_PAIRS;
        loss_sum = 0;
        for (int s = 0; s < steps && !rc; s++) {
            int b = PAIRS - s * BATCH_PAIRS < BATCH_PAIRS ? PAIRS - s * BATCH_PAIRS : BATCH_PAIRS;
            for (int i = 0; i < b; i++) {
                size_t p = (size_t)(s * BATCH_PAIRS + i);
                memcpy(batch + (size_t)i * patch, x + 2 * p * patch, patch * sizeof(float));
                memcpy(batch + (size_t)(b + i) * patch, x + (2 * p + 1) * patch, patch * sizeof(float));
                y[i] = (int)(p & 1);
            }
            if (veil_extractor_forward(f, batch, 2 * b, 1, z)) rc = -1;
            if (!rc) {
                loss_sum += veil_contrastive(z, z + (size_t)b * dim, y, b, dim, 1.0f, dz, dz + (size_t)b * dim, NULL);
                if (veil_extractor_backward(f, dz)) rc = -1;
                veil_adam_step(&adam, params, count);
            }
        }
        double t = veil_now() - t0;
        if (r > 0 && t < best_epoch) best_epoch = t;
    }
    for (int r = 0; r <= repeat && !rc; r++) {
        double t0 = veil_now();
        int batches = r == 0 ? 1 : EXTRACT_PATCHES / EXTRACT_BATCH;
        for (int s = 0; s < batches && !rc; s++)
            if (veil_extractor_forward(f, x + (size_t)s * EXTRACT_BATCH * patch, EXTRACT_BATCH, 0, z)) rc = -1;
        double t = veil_now() - t0;
        if (r > 0 && t < best_extract) best_extract = t;
    }
    if (rc) {
        rc = cli_fail();
    } else {
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        double rss_mib = ru.ru_maxrss / 1024.0, rate = EXTRACT_PATCHES / best_extract;
        if (json)
            printf("{\"impl\":\"veil\",\"groups\":%ld,\"precision\":\"%s\",\"threads\":%ld,\"epoch_s\":%.3f,"
                   "\"extract_patches_per_s\":%.1f,\"peak_rss_mib\":%.1f,\"last_loss\":%.5g}\n",
                   groups, veil_precision_name(prec), threads, best_epoch, rate, rss_mib,
                   loss_sum / ((PAIRS + BATCH_PAIRS - 1) / BATCH_PAIRS));
        else
            printf("veil G=%ld %s, %ld threads: epoch (%d pairs, batch %d) %.2f s, extraction %.0f patches/s, "
                   "peak RSS %.0f MiB\n",
                   groups, veil_precision_name(prec), threads, PAIRS, BATCH_PAIRS, best_epoch, rate, rss_mib);
    }
    veil_extractor_free(f);
    free(x), free(batch), free(z), free(dz), free(y);
    return rc;
}
