#include "testutil.h"

#include <stdlib.h>
#include <string.h>

#include "veil/common.h"
#include "veil/corpus.h"
#include "veil/features.h"
#include "veil/model.h"
#include "research/train/method.h"

int test_failures, test_checks;

void test_check_error_contains(const char *file, int line, const char *substring)
{
    test_checks++;
    const char *msg = veil_last_error();
    if (!strstr(msg, substring)) {
        test_failures++;
        fprintf(stderr, "%s:%d: error message '%s' does not contain '%s'\n", file, line, msg, substring);
    }
}

static char tmpdir_path[4096];

const char *test_tmpdir(const char *name)
{
    char *path = tmpdir_path;
    const size_t path_size = sizeof tmpdir_path;
    const char *base = getenv("VEIL_TEST_TMP");
    if (base) snprintf(path, path_size, "%s/%s", base, name);
    else snprintf(path, path_size, "/tmp/veil-test-%s", name);
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
    if (system(cmd) != 0) fprintf(stderr, "warning: could not clear %s\n", path);
    if (veil_mkdirs(path) != 0) {
        fprintf(stderr, "cannot create %s: %s\n", path, veil_last_error());
        exit(2);
    }
    return path;
}

const char *test_file(const char *name)
{
    static char path[8][4300];
    static int next;
    char *p = path[next++ % 8];
    snprintf(p, sizeof path[0], "%s/%s", tmpdir_path, name);
    return p;
}

void test_write_file(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, n, f) != n) {
        fprintf(stderr, "cannot write fixture %s\n", path);
        exit(2);
    }
    fclose(f);
}

int test_finish(const char *name)
{
    printf("%s: %d checks, %d failed\n", name, test_checks, test_failures);
    return test_failures ? 1 : 0;
}

int test_tiny_corpus(const char *dir, int speakers, double seconds)
{
    veil_synth_config sc;
    veil_synth_config_default(&sc);
    sc.speakers = speakers;
    sc.female = speakers / 2;
    sc.seconds = seconds;
    sc.threads = 1;
    if (veil_synth_corpus(&sc, dir) == 0) return 0;
    fprintf(stderr, "synth: %s\n", veil_last_error());
    return -1;
}

void test_tiny_patches(veil_patch_set *p, int ns, int np, int side, test_patch_amps amp, int flat, uint64_t seed)
{
    memset(p, 0, sizeof *p);
    veil_mfcc_config_default(&p->mfcc);
    p->mfcc.patch_frames = p->mfcc.n_mfcc = side;
    p->patch_h = p->patch_w = side;
    p->n_speakers = ns;
    p->n_patches = (size_t)ns * (size_t)np;
    p->speaker_offset = calloc((size_t)ns + 1, sizeof(size_t));
    p->patches = calloc(p->n_patches * (size_t)(side * side), sizeof(float));
    float *offset = malloc((size_t)(side * side) * sizeof(float));
    veil_rng r;
    veil_rng_seed(&r, seed);
    for (int s = 0; s < ns; s++) {
        p->speaker_offset[s + 1] = p->speaker_offset[s] + (size_t)np;
        for (int k = 0; k < side * side; k++) offset[k] = (float)(amp.speaker * veil_rng_normal(&r));
        int male = s >= ns / 2;
        for (int i = 0; i < np; i++) {
            float *x = p->patches + ((size_t)s * (size_t)np + (size_t)i) * (size_t)(side * side);
            for (int a = 0; a < side; a++)
                for (int b = 0; b < side; b++)
                    x[a * side + b] = flat ? 0.25f
                                           : (float)(amp.gender * ((male ? (b % 2) : (a % 2)) * 2.0 - 1.0)) +
                                                 offset[a * side + b] + (float)(amp.noise * veil_rng_normal(&r));
        }
    }
    free(offset);
}

void test_patches_free(veil_patch_set *p)
{
    free(p->patches);
    free(p->speaker_offset);
    free(p->patch_utt);
    memset(p, 0, sizeof *p);
}

void test_gender_sets_make(const veil_patch_set *p, test_gender_sets *s)
{
    size_t n_all = p->n_patches ? p->n_patches : 1, nt = 0, ne = 0;
    size_t *ti = calloc(n_all, sizeof *ti), *ei = calloc(n_all, sizeof *ei);
    int *tl = calloc(n_all, sizeof *tl), *el = calloc(n_all, sizeof *el);
    s->train_speaker = calloc(n_all, sizeof(int));
    s->eval_speaker = calloc(n_all, sizeof(int));
    for (int k = 0; k < p->n_speakers; k++) {
        size_t n = veil_speaker_patches(p, k), cut = (size_t)(0.7 * (double)n + 0.5);
        int male = k >= p->n_speakers / 2;
        for (size_t i = 0; i < n; i++) {
            size_t q = p->speaker_offset[k] + i;
            if (i < cut) s->train_speaker[nt] = k, ti[nt] = q, tl[nt++] = male;
            else s->eval_speaker[ne] = k, ei[ne] = q, el[ne++] = male;
        }
    }
    s->train = (veil_labelled){nt, ti, tl};
    s->eval = (veil_labelled){ne, ei, el};
}

void test_gender_sets_free(test_gender_sets *s)
{
    free((void *)s->train.idx);
    free((void *)s->train.label);
    free((void *)s->eval.idx);
    free((void *)s->eval.label);
    free(s->train_speaker);
    free(s->eval_speaker);
}

veil_model *test_tiny_model(const char *method, int with_head, uint64_t seed)
{
    veil_model *m = veil_calloc(1, sizeof *m);
    m->arch.groups = 2, m->arch.in_h = m->arch.in_w = 8, m->arch.convs_per_group = 3;
    m->arch.filters[0] = 4, m->arch.filters[1] = 6, m->arch.kernels[0] = 3, m->arch.kernels[1] = 2;
    veil_mfcc_config_default(&m->mfcc);
    m->mfcc.n_mfcc = 8, m->mfcc.patch_frames = 8; /* 8x8 patches, 0.157 s each */
    snprintf(m->method, sizeof m->method, "%s", method);
    m->trained_precision = VEIL_PREC_FP32;
    m->f = veil_extractor_new(&m->arch, 4, VEIL_PREC_FP32, seed);
    if (!m->f) {
        fprintf(stderr, "cannot build extractor: %s\n", veil_last_error());
        exit(2);
    }
    if (with_head) {
        veil_head_config hc = {veil_extractor_dim(m->f), 8, 2, 0.5f};
        m->g = veil_head_new(&hc, 4, VEIL_PREC_FP32, seed + 1);
        if (!m->g) {
            fprintf(stderr, "cannot build head: %s\n", veil_last_error());
            exit(2);
        }
        m->n_classes = 2;
        m->class_names = veil_calloc(2, sizeof(char *));
        m->class_names[0] = veil_strdup("female");
        m->class_names[1] = veil_strdup("male");
    }
    return m;
}

void test_settings_json(const veil_train_method *m, const void *settings, const char *field, double value,
                        const char *refused_field, const char *refused_message)
{
    cJSON *o = veil_settings_to_json(m->settings, m->n_settings, settings);
    CHECK(cJSON_GetArraySize(o) == m->n_settings);
    CHECK(cJSON_GetNumberValue(cJSON_GetObjectItem(o, field)) == value);
    void *back = veil_calloc(1, m->settings_size);
    CHECK(veil_settings_from_json(m->settings, m->n_settings, o, back, "test") == 0);
    CHECK(!memcmp(back, settings, m->settings_size));
    cJSON_ReplaceItemInObject(o, refused_field, cJSON_CreateString("1"));
    CHECK_FAILS_WITH(veil_settings_from_json(m->settings, m->n_settings, o, back, "test"), refused_message);
    free(back);
    cJSON_Delete(o);
}
