/* Minimal test helpers: CHECK records a failure and goes on; the program's exit
 * status is the verdict ctest reads. */
#ifndef VEIL_TESTUTIL_H
#define VEIL_TESTUTIL_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>

extern int test_failures, test_checks;

#define CHECK(cond) \
    do { \
        test_checks++; \
        if (!(cond)) { \
            test_failures++; \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
        } \
    } while (0)
#define CHECK_MSG(cond, ...) \
    do { \
        test_checks++; \
        if (!(cond)) { \
            test_failures++; \
            fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__); \
            fputc('\n', stderr); \
        } \
    } while (0)
#define CHECK_NEAR(a, b, tol) \
    CHECK_MSG(fabs((double)(a) - (double)(b)) <= (tol), "%.9g vs %.9g (tol %.3g)", (double)(a), \
              (double)(b), (double)(tol))
/* The call must fail and its message must contain the substring. */
#define CHECK_FAILS_WITH(call, substring) \
    do { \
        int rc_ = (call) != 0; \
        CHECK_MSG(rc_, "expected failure of %s", #call); \
        if (rc_) test_check_error_contains(__FILE__, __LINE__, substring); \
    } while (0)

void test_check_error_contains(const char *file, int line, const char *substring);
/* A fresh empty directory for this test: $VEIL_TEST_TMP/<name> (or /tmp/veil-test-<name>). */
const char *test_tmpdir(const char *name);
/* NAME inside the folder test_tmpdir made last (one of 8 buffers, reused in turn). */
const char *test_file(const char *name);
/* Write bytes to a file (fixtures). */
void test_write_file(const char *path, const void *data, size_t n);
/* ---- fixtures ---- */
/* A tiny corpus: the synthetic one (TIMIT layout) of that many speakers, half of them
 * female, seconds of speech each, in dir; -1 (the message printed) when it cannot be made. */
int test_tiny_corpus(const char *dir, int speakers, double seconds);
/* A tiny patch set in memory: ns speakers (the first half female) of np side x side
 * patches each. A patch is a gender pattern (horizontal stripes for female, vertical for
 * male; amplitude gender_amp) + its speaker's offset pattern (normal, x speaker_amp) +
 * noise (normal, x noise_amp), drawn from seed. flat: every patch 0.25 instead. Free
 * with test_patches_free. */
typedef struct test_patch_amps {
    double gender, speaker, noise;
} test_patch_amps;
#include "veil/job.h"
void test_tiny_patches(struct veil_patch_set *p, int ns, int np, int side, test_patch_amps amp, int flat,
                       uint64_t seed);
void test_patches_free(struct veil_patch_set *p);
/* The gender problem of a patch set: each speaker's patches 70/30 (in order) into
 * training and evaluation, labelled with the speaker's gender (the second half of the
 * speakers male), with each row's speaker. Free with test_gender_sets_free. */
typedef struct test_gender_sets {
    veil_labelled train, eval;
    int *train_speaker, *eval_speaker;
} test_gender_sets;
void test_gender_sets_make(const struct veil_patch_set *p, test_gender_sets *s);
void test_gender_sets_free(test_gender_sets *s);
/* A tiny model: an extractor of G = 2 on 8x8 patches (the MFCC settings made to match)
 * with weights from seed and, with_head, a gender head (female, male) from seed + 1. */
struct veil_model;
struct veil_model *test_tiny_model(const char *method, int with_head, uint64_t seed);

/* A method's settings as JSON and back: every field written (field has value), read back
 * equal; a string in place of the number refused_field is refused with refused_message. */
struct veil_train_method;
void test_settings_json(const struct veil_train_method *m, const void *settings, const char *field, double value,
                        const char *refused_field, const char *refused_message);

/* Print "N checks, N failed" and return the exit status. */
int test_finish(const char *name);

#endif
