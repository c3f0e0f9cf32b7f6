/* Model files: exact save/load round trip, and a clear rejection (naming the file
 * and the problem) of every kind of damaged or foreign file. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "veil/common.h"
#include "veil/model.h"
#include "veil/npy.h"

static char dir[4096];
static unsigned char *good;  /* bytes of a saved model with a head */
static size_t good_size;
static unsigned char *plain; /* a saved model without a head */
static size_t plain_size;

/* The tiny model (testutil.h) with what a file must carry beyond the defaults: running
 * statistics away from their defaults and a class name that needs escaping in JSON. */
static veil_model *make_model(int with_head, uint64_t seed)
{
    veil_model *m = test_tiny_model(with_head ? "reference" : "siamese", with_head, seed);
    int count;
    veil_param *p = veil_extractor_params(m->f, &count);
    for (int i = 0; i < count; i++)
        if (p[i].is_buffer)
            for (size_t k = 0; k < p[i].size; k++) p[i].data[k] = 0.5f + 0.25f * (float)k + (float)i;
    veil_extractor_params_changed(m->f);
    if (with_head) {
        free(m->class_names[1]);
        m->class_names[1] = veil_strdup("male \"quoted\"");
    }
    return m;
}

static int params_equal(veil_param *a, int na, veil_param *b, int nb)
{
    if (na != nb) return 0;
    for (int i = 0; i < na; i++)
        if (strcmp(a[i].name, b[i].name) || a[i].size != b[i].size || a[i].is_buffer != b[i].is_buffer ||
            memcmp(a[i].data, b[i].data, sizeof(float) * a[i].size))
            return 0;
    return 1;
}

static void test_round_trip(void)
{
    char path[4200];
    for (int with_head = 1; with_head >= 0; with_head--) {
        snprintf(path, sizeof path, "%s/%s.safetensors", dir, with_head ? "head" : "plain");
        veil_model *m = make_model(with_head, 11 + with_head);
        CHECK(veil_model_save(path, m) == 0);
        veil_model *l = NULL;
        int rc = veil_model_load(path, VEIL_PREC_FP32, 4, &l);
        CHECK_MSG(rc == 0, "load: %s", veil_last_error());
        if (rc) {
            veil_model_free(m);
            continue;
        }
        int na, nb;
        veil_param *pa = veil_extractor_params(m->f, &na), *pb = veil_extractor_params(l->f, &nb);
        CHECK(params_equal(pa, na, pb, nb));
        CHECK(memcmp(&l->arch, &m->arch, sizeof m->arch) == 0);
        char *ja = veil_mfcc_config_to_json(&m->mfcc), *jb = veil_mfcc_config_to_json(&l->mfcc);
        CHECK(strcmp(ja, jb) == 0);
        free(ja), free(jb);
        CHECK(strcmp(l->method, m->method) == 0);
        CHECK(l->trained_precision == m->trained_precision);
        CHECK(l->n_classes == m->n_classes);
        for (int i = 0; i < m->n_classes && i < l->n_classes; i++)
            CHECK(strcmp(l->class_names[i], m->class_names[i]) == 0);
        CHECK((l->g != NULL) == with_head);
        /* same weights, same outputs */
        float x[4 * 64], za[4 * 24], zb[4 * 24];
        veil_rng r;
        veil_rng_seed(&r, 5);
        for (int i = 0; i < 4 * 64; i++) x[i] = (float)veil_rng_normal(&r);
        CHECK(veil_extractor_forward(m->f, x, 4, 0, za) == 0);
        CHECK(veil_extractor_forward(l->f, x, 4, 0, zb) == 0);
        CHECK(memcmp(za, zb, sizeof za) == 0);
        if (with_head && l->g) {
            pa = veil_head_params(m->g, &na), pb = veil_head_params(l->g, &nb);
            CHECK(params_equal(pa, na, pb, nb));
            CHECK(memcmp(veil_head_config_of(m->g), veil_head_config_of(l->g), sizeof(veil_head_config)) == 0);
            float la[8], lb[8];
            CHECK(veil_head_forward(m->g, za, 4, 0, la) == 0);
            CHECK(veil_head_forward(l->g, za, 4, 0, lb) == 0);
            CHECK(memcmp(la, lb, sizeof la) == 0);
        }
        /* save of the loaded model gives the same bytes */
        char again[4300];
        snprintf(again, sizeof again, "%s.again", path);
        CHECK(veil_model_save(again, l) == 0);
        char *b1, *b2;
        size_t s1, s2;
        CHECK(veil_read_file(path, &b1, &s1) == 0 && veil_read_file(again, &b2, &s2) == 0);
        CHECK(s1 == s2 && memcmp(b1, b2, s1) == 0);
        /* header: length prefix, padded to 8, data section exactly the tensors */
        uint64_t n = 0;
        for (int i = 7; i >= 0; i--) n = n << 8 | (unsigned char)b1[i];
        CHECK(n % 8 == 0 && 8 + n < s1 && b1[8] == '{');
        if (with_head) good = (unsigned char *)b1, good_size = s1;
        else plain = (unsigned char *)b1, plain_size = s1;
        free(b2);
        veil_model_free(l);
        veil_model_free(m);
    }
    /* saving refuses non-finite weights and leaves no file behind */
    veil_model *m = make_model(0, 3);
    int count;
    veil_param *p = veil_extractor_params(m->f, &count);
    m->mfcc.n_mfcc = 0;
    snprintf(path, sizeof path, "%s/mfcc.safetensors", dir);
    CHECK_FAILS_WITH(veil_model_save(path, m), "mfcc");
    CHECK(!veil_path_exists(path));
    veil_mfcc_config_default(&m->mfcc);
    p[4].data[2] = NAN;
    snprintf(path, sizeof path, "%s/nan.safetensors", dir);
    CHECK_FAILS_WITH(veil_model_save(path, m), "non-finite");
    CHECK(!veil_path_exists(path));
    veil_model_free(m);
}

/* ---------------- damaged files ---------------- */
static void write_bytes(const char *name, const void *a, size_t na, const void *b, size_t nb, char *path)
{
    snprintf(path, 4200, "%s/%s", dir, name);
    unsigned char *buf = veil_malloc(na + nb);
    memcpy(buf, a, na);
    if (nb) memcpy(buf + na, b, nb);
    test_write_file(path, buf, na + nb);
    free(buf);
}

static void expect_reject(const char *path, const char *substring)
{
    veil_model *m = (veil_model *)1;
    veil_error_clear();
    int rc = veil_model_load(path, VEIL_PREC_FP32, 4, &m);
    CHECK_MSG(rc != 0, "%s loaded but should not", path);
    if (rc == 0) {
        veil_model_free(m);
        return;
    }
    CHECK(m == NULL);
    const char *msg = veil_last_error();
    if (getenv("VEIL_TEST_VERBOSE")) printf("%s\n", msg);
    CHECK_MSG(strstr(msg, substring) != NULL, "%s: message '%s' lacks '%s'", path, msg, substring);
    CHECK_MSG(strstr(msg, path) != NULL, "message '%s' does not name the file", msg);
}

typedef struct {
    cJSON *root;
    const unsigned char *data;
    size_t data_size;
} parsed;

static parsed parse_file(const unsigned char *b, size_t size)
{
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = n << 8 | b[i];
    char *text = veil_malloc(n + 1);
    memcpy(text, b + 8, n);
    text[n] = 0;
    parsed p = {cJSON_Parse(text), b + 8 + n, size - 8 - n};
    free(text);
    return p;
}

/* Write header (printed from root) + data + extra bytes. */
static void write_variant(const char *name, cJSON *root, const void *data, size_t nd, char *path)
{
    char *json = cJSON_PrintUnformatted(root);
    size_t n = strlen(json);
    unsigned char len[8];
    for (int i = 0; i < 8; i++) len[i] = (unsigned char)((uint64_t)n >> (8 * i));
    unsigned char *head = veil_malloc(8 + n);
    memcpy(head, len, 8);
    memcpy(head + 8, json, n);
    write_bytes(name, head, 8 + n, data, nd, path);
    free(head);
    cJSON_free(json);
}

static void set_meta(cJSON *root, const char *key, const char *value)
{
    cJSON *meta = cJSON_GetObjectItemCaseSensitive(root, "__metadata__");
    cJSON_ReplaceItemInObjectCaseSensitive(meta, key, cJSON_CreateString(value));
}

static void test_rejections(void)
{
    if (!good || !plain) return;
    char path[4200];
    uint64_t n = 0;
    for (int i = 7; i >= 0; i--) n = n << 8 | good[i];

    /* truncated at several points */
    size_t cuts[] = {0, 5, 7};
    for (size_t i = 0; i < 3; i++) {
        write_bytes("cut.safetensors", good, cuts[i], NULL, 0, path);
        expect_reject(path, "too short");
    }
    size_t cuts2[] = {8, 9, 8 + n / 2, 8 + n - 1};
    for (size_t i = 0; i < 4; i++) {
        write_bytes("cut.safetensors", good, cuts2[i], NULL, 0, path);
        expect_reject(path, "larger than the file");
    }
    size_t cuts3[] = {8 + n, 8 + n + 100, good_size - 1};
    for (size_t i = 0; i < 3; i++) {
        write_bytes("cut.safetensors", good, cuts3[i], NULL, 0, path);
        expect_reject(path, "out of range");
    }

    /* header length fields */
    unsigned char *b = veil_malloc(good_size);
    memcpy(b, good, good_size);
    uint64_t big = good_size;
    for (int i = 0; i < 8; i++) b[i] = (unsigned char)(big >> (8 * i));
    write_bytes("len.safetensors", b, good_size, NULL, 0, path);
    expect_reject(path, "larger than the file");
    b[5] = 1; /* 2^40 */
    write_bytes("len.safetensors", b, good_size, NULL, 0, path);
    expect_reject(path, "absurd");

    /* corrupted JSON (same length, so nothing else moves) */
    memcpy(b, good, good_size);
    char *colon = memchr(b + 8, ':', n);
    *colon = ';';
    write_bytes("json.safetensors", b, good_size, NULL, 0, path);
    expect_reject(path, "not valid JSON");
    memcpy(b, good, good_size);
    b[8 + 3] = 0;
    write_bytes("json.safetensors", b, good_size, NULL, 0, path);
    expect_reject(path, "JSON");

    /* NaN and Inf weights, negative variance */
    parsed p = parse_file(good, good_size);
    CHECK(p.root != NULL);
    cJSON *t = cJSON_GetObjectItemCaseSensitive(p.root, "f.g2.conv1.weight");
    size_t at = (size_t)cJSON_GetArrayItem(cJSON_GetObjectItem(t, "data_offsets"), 0)->valuedouble;
    float bad[2] = {NAN, INFINITY};
    for (int i = 0; i < 2; i++) {
        memcpy(b, good, good_size);
        memcpy(b + 8 + n + at + 8, &bad[i], 4);
        write_bytes("nan.safetensors", b, good_size, NULL, 0, path);
        expect_reject(path, "corrupt model");
    }
    t = cJSON_GetObjectItemCaseSensitive(p.root, "f.g1.bn.running_var");
    at = (size_t)cJSON_GetArrayItem(cJSON_GetObjectItem(t, "data_offsets"), 0)->valuedouble;
    memcpy(b, good, good_size);
    float neg = -1.0f;
    memcpy(b + 8 + n + at, &neg, 4);
    write_bytes("var.safetensors", b, good_size, NULL, 0, path);
    expect_reject(path, "negative variance");
    free(b);

    /* the unchanged header re-written by the test's own writer still loads */
    write_variant("same.safetensors", p.root, p.data, p.data_size, path);
    veil_model *m = NULL;
    CHECK_MSG(veil_model_load(path, VEIL_PREC_FP32, 2, &m) == 0, "%s", veil_last_error());
    veil_model_free(m);
    /* trailing garbage */
    unsigned char *more = veil_malloc(p.data_size + 4);
    memcpy(more, p.data, p.data_size);
    memset(more + p.data_size, 0, 4);
    write_variant("trail.safetensors", p.root, more, p.data_size + 4, path);
    expect_reject(path, "trailing garbage");
    free(more);

    /* header edits: one fresh parse per case */
/* from, with __VA_ARGS__ done to its metadata (root), as name: refused with substring */
#define EDIT_OF(from, from_size, name, substring, ...) \
    do { \
        parsed q_ = parse_file(from, from_size); \
        cJSON *root = q_.root; \
        __VA_ARGS__; \
        write_variant(name, root, q_.data, q_.data_size, path); \
        expect_reject(path, substring); \
        cJSON_Delete(root); \
    } while (0)
#define EDIT(name, substring, ...) EDIT_OF(good, good_size, name, substring, __VA_ARGS__)
    EDIT("dtype.safetensors", "dtype F16", {
        cJSON *x = cJSON_GetObjectItemCaseSensitive(root, "f.g1.conv2.weight");
        cJSON_ReplaceItemInObjectCaseSensitive(x, "dtype", cJSON_CreateString("F16"));
    });
    EDIT("shape.safetensors", "has shape [4,4,3,2] but the architecture needs [4,4,3,3]", {
        cJSON *x = cJSON_GetObjectItemCaseSensitive(root, "f.g1.conv2.weight");
        cJSON_SetNumberValue(cJSON_GetArrayItem(cJSON_GetObjectItem(x, "shape"), 3), 2);
    });
    EDIT("rank.safetensors", "has shape", {
        cJSON *x = cJSON_GetObjectItemCaseSensitive(root, "head.fc1.bias");
        cJSON_AddItemToArray(cJSON_GetObjectItem(x, "shape"), cJSON_CreateNumber(1));
    });
    EDIT("missing.safetensors", "missing tensor 'f.g2.conv3.bias'",
         cJSON_DeleteItemFromObjectCaseSensitive(root, "f.g2.conv3.bias"));
    EDIT("unknown.safetensors", "unknown tensor 'f.g9.conv1.weight'", {
        cJSON *x = cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(root, "f.g1.conv1.bias"), 1);
        cJSON_AddItemToObject(root, "f.g9.conv1.weight", x);
    });
    EDIT("range.safetensors", "out of range", {
        cJSON *x = cJSON_GetObjectItemCaseSensitive(root, "head.fc2.bias");
        cJSON *o = cJSON_GetObjectItem(x, "data_offsets");
        cJSON_SetNumberValue(cJSON_GetArrayItem(o, 0), q_.data_size);
        cJSON_SetNumberValue(cJSON_GetArrayItem(o, 1), q_.data_size + 8);
    });
    EDIT("span.safetensors", "span", {
        cJSON *x = cJSON_GetObjectItemCaseSensitive(root, "f.g1.bn.bias");
        cJSON *o = cJSON_GetObjectItem(x, "data_offsets");
        cJSON_SetNumberValue(cJSON_GetArrayItem(o, 1), cJSON_GetArrayItem(o, 1)->valuedouble + 4);
    });
    EDIT("negative.safetensors", "data_offsets must be", {
        cJSON *x = cJSON_GetObjectItemCaseSensitive(root, "f.g1.bn.bias");
        cJSON_SetNumberValue(cJSON_GetArrayItem(cJSON_GetObjectItem(x, "data_offsets"), 0), -4);
    });
    EDIT("overlap.safetensors", "overlaps", {
        /* two 4-float tensors: point the second at the first one's bytes */
        cJSON *a = cJSON_GetObjectItemCaseSensitive(root, "f.g1.conv1.bias");
        cJSON *x = cJSON_GetObjectItemCaseSensitive(root, "f.g1.conv2.bias");
        cJSON_ReplaceItemInObjectCaseSensitive(x, "data_offsets",
                                               cJSON_Duplicate(cJSON_GetObjectItem(a, "data_offsets"), 1));
    });
    EDIT("nometa.safetensors", "no __metadata__", cJSON_DeleteItemFromObjectCaseSensitive(root, "__metadata__"));
    EDIT("format.safetensors", "not a veil model", set_meta(root, "format", "pt"));
    EDIT("arch.safetensors", "architecture", set_meta(root, "architecture", "{\"groups\":2"));
    EDIT("arch2.safetensors", "'groups' must be", set_meta(root, "architecture",
        "{\"groups\":6,\"in_h\":64,\"in_w\":64,\"convs_per_group\":3,\"filters\":[1,1,1,1,1,1],\"kernels\":[1,1,1,1,1,1]}"));
    /* groups 0 (the raw baseline) is an architecture, but not the one these tensors are */
    EDIT("arch3.safetensors", "unknown tensor 'f.g1.bn.weight'", set_meta(root, "architecture",
        "{\"groups\":0,\"in_h\":8,\"in_w\":8,\"convs_per_group\":3,\"filters\":[],\"kernels\":[]}"));
    EDIT("arch4.safetensors", "'out_dim' must be", set_meta(root, "architecture",
        "{\"groups\":1,\"in_h\":8,\"in_w\":8,\"convs_per_group\":3,\"filters\":[4],\"kernels\":[3],\"out_dim\":0}"));
    EDIT("mfcc.safetensors", "mfcc", set_meta(root, "mfcc", "{\"n_mels\":\"many\"}"));
    EDIT("classes.safetensors", "classes", set_meta(root, "classes", "[\"female\"]"));
    EDIT("precision.safetensors", "precision", set_meta(root, "precision", "fp8"));
    /* architecture says G = 3, the tensors are those of G = 2 */
    EDIT_OF(plain, plain_size, "g3.safetensors", "missing tensor 'f.g3.bn.weight'",
            set_meta(root, "architecture",
                     "{\"groups\":3,\"in_h\":8,\"in_w\":8,\"convs_per_group\":3,\"filters\":[4,6,6],"
                     "\"kernels\":[3,2,2]}"));
    /* and a head in the architecture that the tensors lack */
    EDIT_OF(plain, plain_size, "head0.safetensors", "classes",
            set_meta(root, "architecture",
                     "{\"groups\":2,\"in_h\":8,\"in_w\":8,\"convs_per_group\":3,\"filters\":[4,6],"
                     "\"kernels\":[3,2],\"head\":{\"in_dim\":24,\"hidden\":8,\"classes\":0,\"dropout\":0.5}}"));

    /* files that are not models at all */
    const char *text = "speaker,gender\nFJSP0,F\nMDAB0,M\n";
    write_bytes("notes.csv", text, strlen(text), NULL, 0, path);
    expect_reject(path, "absurd");
    const char *st = "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}";
    unsigned char len[8] = {(unsigned char)strlen(st)};
    unsigned char body[128];
    memcpy(body, st, strlen(st));
    memset(body + strlen(st), 0, 4);
    write_bytes("torch.safetensors", len, 8, body, strlen(st) + 4, path);
    expect_reject(path, "not a veil model");
    snprintf(path, sizeof path, "%s/does-not-exist.safetensors", dir);
    expect_reject(path, "cannot open");
    cJSON_Delete(p.root);

    /* issue 11: an empty or malformed method, a metadata key or __metadata__ given twice,
     * a directory given as the model */
    const char *methods[] = {"", "x y", "siamese\n"};
    for (int i = 0; i < 3; i++) {
        EDIT("method.safetensors", "metadata 'method'", set_meta(root, "method", methods[i]));
    }
    EDIT("dupkey.safetensors", "metadata key 'method' appears twice",
         cJSON_AddItemToObject(cJSON_GetObjectItemCaseSensitive(root, "__metadata__"), "method",
                               cJSON_CreateString("x")));
    EDIT("dupmeta.safetensors", "'__metadata__' twice",
         cJSON_AddItemToObject(root, "__metadata__",
                               cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(root, "__metadata__"), 1)));
#undef EDIT
#undef EDIT_OF
    expect_reject(dir, "is a directory");
}

/* Finite but huge weights (3e38) overflow float32 in the forward pass: the features are
 * refused naming the layer, not written as inf/NaN (issue 11). */
static void test_huge_weights(void)
{
    veil_model *m = make_model(0, 5);
    int count;
    veil_param *p = veil_extractor_params(m->f, &count);
    for (int i = 0; i < count; i++)
        if (!p[i].is_buffer && strstr(p[i].name, "conv") && strstr(p[i].name, "weight"))
            for (size_t k = 0; k < p[i].size; k++) p[i].data[k] = strstr(p[i].name, "g2.conv3") ? 3e38f : 1.0f;
    veil_extractor_params_changed(m->f);
    float x[2 * 64], z[2 * 1024];
    for (int i = 0; i < 2 * 64; i++) x[i] = (float)(i % 7) - 3.0f;
    CHECK(veil_extractor_forward(m->f, x, 2, 0, z) == 0);
    CHECK_FAILS_WITH(veil_extractor_check_output(m->f, z, 2, "m.safetensors"), "in layer 'f.g2.conv3.weight'");
    /* a NaN gradient names its layer */
    p[0].grad[0] = NAN;
    CHECK_FAILS_WITH(veil_params_check_finite(p, count, 1, "job x: epoch 3"), "job x: epoch 3: the gradient of layer");
    p[0].grad[0] = 0;
    veil_model_free(m);
}

/* For tests/shell_model_torch.sh: a model with a head (kernels 3 and 2, so the even
 * 'same' padding is covered), a fixed input and veil's evaluation outputs. */
static int export_for_torch(const char *out)
{
    char path[4200];
    veil_model *m = make_model(1, 99);
    float x[4 * 64], z[4 * 24], logits[4 * 2];
    veil_rng r;
    veil_rng_seed(&r, 6);
    for (int i = 0; i < 4 * 64; i++) x[i] = (float)veil_rng_normal(&r);
    int rc = veil_extractor_forward(m->f, x, 4, 0, z) || veil_head_forward(m->g, z, 4, 0, logits);
    size_t sx[4] = {4, 1, 8, 8}, sz[2] = {4, 24}, sl[2] = {4, 2};
    snprintf(path, sizeof path, "%s/model.safetensors", out);
    rc = rc || veil_model_save(path, m);
    snprintf(path, sizeof path, "%s/x.npy", out);
    rc = rc || veil_npy_write_f32(path, x, 4, sx);
    snprintf(path, sizeof path, "%s/z.npy", out);
    rc = rc || veil_npy_write_f32(path, z, 2, sz);
    snprintf(path, sizeof path, "%s/logits.npy", out);
    rc = rc || veil_npy_write_f32(path, logits, 2, sl);
    if (rc) fprintf(stderr, "export failed: %s\n", veil_last_error());
    veil_model_free(m);
    return rc ? 1 : 0;
}

int main(int argc, char **argv)
{
    if (argc == 3 && !strcmp(argv[1], "--export")) return export_for_torch(argv[2]);
    snprintf(dir, sizeof dir, "%s", test_tmpdir("model"));
    test_round_trip();
    test_rejections();
    test_huge_weights();
    free(good), free(plain);
    return test_finish("test_model");
}
