/* Model files: .safetensors (8-byte little-endian header length, JSON header, raw
 * data), F32 tensors named after veil_param.name, and the architecture, MFCC
 * settings, class names, method and precision as strings in "__metadata__".
 * The loader trusts nothing: every size, name, shape, offset and value is checked
 * against the architecture before a byte is copied (docs/network.md, "Model files"). */
#include "veil/model.h"

#include <cjson/cJSON.h>

#include "core/base/json.h"
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "veil/common.h"

#define MODEL_FORMAT "veil"
#define MAX_HEADER_BYTES (100u << 20) /* real headers are a few kB */
/* Bounds that keep every size computation far from overflow; real models are far below. */
#define MAX_SIDE 4096
#define MAX_CHANNELS 65536
#define MAX_HIDDEN (1 << 20)
#define MAX_CLASSES (1 << 20)

/* ---------------- little-endian helpers ---------------- */
static void put_u32le(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get_u32le(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get_u64le(const unsigned char *p)
{
    return (uint64_t)get_u32le(p) | (uint64_t)get_u32le(p + 4) << 32;
}

/* ---------------- expected tensors of an architecture ---------------- */
typedef struct {
    char name[64];
    int ndim;
    int64_t shape[4];
    uint64_t size;
    int found;
    uint64_t begin; /* byte offset in the data section, once found */
} want_tensor;

typedef struct {
    want_tensor *t;
    int count;
} want_list;

static void want_add(want_list *w, const char *name, int ndim, const int64_t *shape)
{
    want_tensor *t = &w->t[w->count++];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name);
    t->ndim = ndim;
    t->size = 1;
    for (int i = 0; i < ndim; i++) t->shape[i] = shape[i], t->size *= (uint64_t)shape[i];
}

/* The names and shapes nn.h documents for veil_extractor_params()/veil_head_params().
 * The loader checks them against the engine's own list before copying. */
static want_list want_for(const veil_extractor_config *c, const veil_head_config *h)
{
    want_list w;
    w.count = 0;
    w.t = veil_calloc((size_t)c->groups * (4 + 2 * c->convs_per_group) + 6, sizeof *w.t);
    char name[64];
    int64_t cin = 1;
    for (int j = 0; j < c->groups; j++) {
        static const char *bn[4] = {"weight", "bias", "running_mean", "running_var"};
        for (int i = 0; i < 4; i++) {
            snprintf(name, sizeof name, "f.g%d.bn.%s", j + 1, bn[i]);
            want_add(&w, name, 1, &cin);
        }
        for (int k = 0; k < c->convs_per_group; k++) {
            int64_t co = c->filters[j], s[4] = {co, k ? co : cin, c->kernels[j], c->kernels[j]};
            snprintf(name, sizeof name, "f.g%d.conv%d.weight", j + 1, k + 1);
            want_add(&w, name, 4, s);
            snprintf(name, sizeof name, "f.g%d.conv%d.bias", j + 1, k + 1);
            want_add(&w, name, 1, &co);
        }
        cin = c->filters[j];
    }
    if (c->out_dim > 0) {
        int64_t s[2] = {c->out_dim, veil_extractor_config_map_dim(c)}, d = c->out_dim;
        want_add(&w, "f.out.weight", 2, s);
        want_add(&w, "f.out.bias", 1, &d);
    }
    if (h) {
        int64_t s1[2] = {h->hidden, h->in_dim}, b1 = h->hidden, s2[2] = {h->classes, h->hidden},
                b2 = h->classes;
        want_add(&w, "head.fc1.weight", 2, s1);
        want_add(&w, "head.fc1.bias", 1, &b1);
        want_add(&w, "head.fc2.weight", 2, s2);
        want_add(&w, "head.fc2.bias", 1, &b2);
    }
    return w;
}

/* ---------------- architecture JSON ---------------- */
static void add_int_array(cJSON *o, const char *key, const int *v, int n)
{
    cJSON *a = cJSON_AddArrayToObject(o, key);
    for (int i = 0; i < n; i++) cJSON_AddItemToArray(a, cJSON_CreateNumber(v[i]));
}

static char *arch_to_json(const veil_extractor_config *c, const veil_head_config *h)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "groups", c->groups);
    cJSON_AddNumberToObject(o, "in_h", c->in_h);
    cJSON_AddNumberToObject(o, "in_w", c->in_w);
    cJSON_AddNumberToObject(o, "convs_per_group", c->convs_per_group);
    add_int_array(o, "filters", c->filters, c->groups);
    add_int_array(o, "kernels", c->kernels, c->groups);
    if (c->out_dim > 0) cJSON_AddNumberToObject(o, "out_dim", c->out_dim); /* absent: none (older files) */
    if (h) {
        cJSON *g = cJSON_AddObjectToObject(o, "head");
        cJSON_AddNumberToObject(g, "in_dim", h->in_dim);
        cJSON_AddNumberToObject(g, "hidden", h->hidden);
        cJSON_AddNumberToObject(g, "classes", h->classes);
        cJSON_AddNumberToObject(g, "dropout", h->dropout);
    }
    char *s = veil_json_print(o);
    cJSON_Delete(o);
    return s;
}

static int json_int_in(const cJSON *o, const char *key, int lo, int hi, int *out)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(o, key);
    if (!it) {
        veil_error("architecture: missing field '%s'", key);
        return -1;
    }
    double v = it->valuedouble;
    if (!cJSON_IsNumber(it) || v != floor(v) || v < lo || v > hi) {
        veil_error("architecture: field '%s' must be an integer in %d..%d", key, lo, hi);
        return -1;
    }
    *out = (int)v;
    return 0;
}

static int json_only_keys(const cJSON *o, const char *what, const char *const *keys, int n)
{
    for (const cJSON *it = o->child; it; it = it->next) {
        int known = 0;
        for (int i = 0; i < n; i++) known |= !strcmp(it->string, keys[i]);
        if (!known) {
            veil_error("%s: unknown field '%s'", what, it->string);
            return -1;
        }
    }
    return 0;
}

static int arch_from_json(const char *text, veil_extractor_config *c, veil_head_config *h,
                          int *has_head)
{
    cJSON *o = cJSON_Parse(text);
    int rc = -1;
    memset(c, 0, sizeof *c);
    memset(h, 0, sizeof *h);
    *has_head = 0;
    if (!o || !cJSON_IsObject(o)) {
        veil_error("architecture: %s", o ? "not a JSON object" : "not valid JSON");
        goto done;
    }
    static const char *const keys[] = {"groups", "in_h", "in_w", "convs_per_group", "filters",
                                       "kernels", "head", "out_dim"};
    if (json_only_keys(o, "architecture", keys, 8) ||
        json_int_in(o, "groups", 0, VEIL_MAX_GROUPS, &c->groups) ||
        json_int_in(o, "in_h", 1, MAX_SIDE, &c->in_h) || json_int_in(o, "in_w", 1, MAX_SIDE, &c->in_w) ||
        json_int_in(o, "convs_per_group", 1, 64, &c->convs_per_group))
        goto done;
    const char *arrays[2] = {"filters", "kernels"};
    int *dst[2] = {c->filters, c->kernels}, hi[2] = {MAX_CHANNELS, 64};
    for (int a = 0; a < 2; a++) {
        const cJSON *arr = cJSON_GetObjectItemCaseSensitive(o, arrays[a]);
        if (!cJSON_IsArray(arr) || cJSON_GetArraySize(arr) != c->groups) {
            veil_error("architecture: '%s' must be an array of %d integers (one per group)",
                       arrays[a], c->groups);
            goto done;
        }
        int i = 0;
        for (const cJSON *e = arr->child; e; e = e->next, i++) {
            double v = e->valuedouble;
            if (!cJSON_IsNumber(e) || v != floor(v) || v < 1 || v > hi[a]) {
                veil_error("architecture: %s[%d] must be an integer in 1..%d", arrays[a], i, hi[a]);
                goto done;
            }
            dst[a][i] = (int)v;
        }
    }
    if (cJSON_GetObjectItemCaseSensitive(o, "out_dim") && json_int_in(o, "out_dim", 1, 1 << 20, &c->out_dim))
        goto done;
    if (veil_extractor_config_validate(c)) goto done;
    const cJSON *g = cJSON_GetObjectItemCaseSensitive(o, "head");
    if (g && !cJSON_IsNull(g)) {
        static const char *const hkeys[] = {"in_dim", "hidden", "classes", "dropout"};
        if (!cJSON_IsObject(g)) {
            veil_error("architecture: 'head' must be an object");
            goto done;
        }
        if (json_only_keys(g, "architecture.head", hkeys, 4) ||
            json_int_in(g, "in_dim", 1, INT32_MAX, &h->in_dim) ||
            json_int_in(g, "hidden", 1, MAX_HIDDEN, &h->hidden) ||
            json_int_in(g, "classes", 1, MAX_CLASSES, &h->classes))
            goto done;
        const cJSON *d = cJSON_GetObjectItemCaseSensitive(g, "dropout");
        if (!cJSON_IsNumber(d) || !(d->valuedouble >= 0 && d->valuedouble < 1)) {
            veil_error("architecture: head 'dropout' must be a number in [0, 1)");
            goto done;
        }
        h->dropout = (float)d->valuedouble;
        int64_t dim = veil_extractor_config_dim(c);
        if (h->in_dim != dim) {
            veil_error("architecture: head in_dim %d does not match the extractor's output size %" PRId64,
                       h->in_dim, dim);
            goto done;
        }
        *has_head = 1;
    }
    rc = 0;
done:
    cJSON_Delete(o);
    return rc;
}

/* ---------------- save ---------------- */
typedef struct {
    char *header; /* padded JSON */
    size_t header_len;
    veil_param *lists[2];
    int counts[2];
} save_ctx;

static int write_model(FILE *f, void *p)
{
    save_ctx *s = p;
    unsigned char len[8];
    uint64_t n = s->header_len;
    for (int i = 0; i < 8; i++) len[i] = (unsigned char)(n >> (8 * i));
    if (fwrite(len, 1, 8, f) != 8 || fwrite(s->header, 1, s->header_len, f) != s->header_len) {
        veil_error("write failed");
        return -1;
    }
    enum { CHUNK = 4096 };
    unsigned char buf[4 * CHUNK];
    for (int l = 0; l < 2; l++)
        for (int i = 0; i < s->counts[l]; i++) {
            const veil_param *q = &s->lists[l][i];
            for (size_t at = 0; at < q->size; at += CHUNK) {
                size_t m = q->size - at < CHUNK ? q->size - at : CHUNK;
                for (size_t k = 0; k < m; k++) {
                    uint32_t u;
                    memcpy(&u, &q->data[at + k], 4);
                    put_u32le(buf + 4 * k, u);
                }
                if (fwrite(buf, 4, m, f) != m) {
                    veil_error("write failed");
                    return -1;
                }
            }
        }
    return 0;
}

/* A list of names as the one-line JSON array stored in the metadata (a missing name: ""). */
static char *names_json(char *const *names, int n)
{
    cJSON *a = cJSON_CreateArray();
    for (int i = 0; i < n; i++) cJSON_AddItemToArray(a, cJSON_CreateString(names[i] ? names[i] : ""));
    char *text = veil_json_print(a);
    cJSON_Delete(a);
    return text;
}

int veil_model_save(const char *path, const veil_model *m)
{
    if (!m || !m->f) {
        veil_error("%s: no extractor to save", path);
        return -1;
    }
    const veil_head_config *hc = m->g ? veil_head_config_of(m->g) : NULL;
    if (hc && m->n_classes != hc->classes) {
        veil_error("%s: the head has %d classes but the model names %d", path, hc->classes,
                   m->n_classes);
        return -1;
    }
    if (veil_mfcc_config_validate(&m->mfcc)) { /* a file that would not load is no use */
        veil_error_prefix("%s: refusing to save: mfcc settings", path);
        return -1;
    }
    save_ctx s = {0};
    s.lists[0] = veil_extractor_params(m->f, &s.counts[0]);
    if (m->g) s.lists[1] = veil_head_params(m->g, &s.counts[1]);
    for (int l = 0; l < 2; l++)
        for (int i = 0; i < s.counts[l]; i++) {
            const veil_param *q = &s.lists[l][i];
            for (size_t k = 0; k < q->size; k++)
                if (!isfinite(q->data[k])) {
                    veil_error("%s: refusing to save: tensor '%s' has a non-finite value at index %zu",
                               path, q->name, k);
                    return -1;
                }
        }

    cJSON *root = cJSON_CreateObject(), *meta = cJSON_AddObjectToObject(root, "__metadata__");
    char *arch = arch_to_json(veil_extractor_config_of(m->f), hc);
    char *mfcc = veil_mfcc_config_to_json(&m->mfcc);
    char *classes = names_json(m->class_names, m->n_classes);
    cJSON_AddStringToObject(meta, "format", MODEL_FORMAT);
    cJSON_AddStringToObject(meta, "veil_version", VEIL_VERSION);
    cJSON_AddStringToObject(meta, "architecture", arch);
    cJSON_AddStringToObject(meta, "mfcc", mfcc);
    cJSON_AddStringToObject(meta, "classes", classes);
    cJSON_AddStringToObject(meta, "task", m->task[0] ? m->task : "gender");
    cJSON_AddStringToObject(meta, "method", m->method);
    cJSON_AddStringToObject(meta, "precision", veil_precision_name(m->trained_precision));
    if (m->n_train_speakers > 0) {
        char *text = names_json(m->train_speakers, m->n_train_speakers);
        cJSON_AddStringToObject(meta, "train_speakers", text);
        free(text);
    }
    free(arch), free(mfcc), free(classes);
    uint64_t offset = 0;
    for (int l = 0; l < 2; l++)
        for (int i = 0; i < s.counts[l]; i++) {
            const veil_param *q = &s.lists[l][i];
            cJSON *t = cJSON_AddObjectToObject(root, q->name);
            cJSON_AddStringToObject(t, "dtype", "F32");
            cJSON *shape = cJSON_AddArrayToObject(t, "shape");
            for (int d = 0; d < q->ndim; d++) cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)q->shape[d]));
            cJSON *off = cJSON_AddArrayToObject(t, "data_offsets");
            cJSON_AddItemToArray(off, cJSON_CreateNumber((double)offset));
            offset += 4 * (uint64_t)q->size;
            cJSON_AddItemToArray(off, cJSON_CreateNumber((double)offset));
        }
    char *json = veil_json_print(root);
    cJSON_Delete(root);
    /* pad with spaces so the data section starts 8-byte aligned */
    size_t n = strlen(json), padded = (n + 7) / 8 * 8;
    s.header = veil_malloc(padded);
    memcpy(s.header, json, n);
    memset(s.header + n, ' ', padded - n);
    s.header_len = padded;
    free(json);
    int rc = veil_write_atomic(path, write_model, &s);
    free(s.header);
    if (rc && !strstr(veil_last_error(), path)) veil_error_prefix("%s", path);
    return rc;
}

/* ---------------- load ---------------- */
static const char *meta_string(const cJSON *meta, const char *key)
{
    const cJSON *it = cJSON_GetObjectItemCaseSensitive(meta, key);
    if (!cJSON_IsString(it)) {
        veil_error("metadata field '%s' is missing or not a string", key);
        return NULL;
    }
    return it->valuestring;
}

/* A metadata value that is a JSON array of strings, as text (safetensors metadata values
 * are strings): "classes" (the head's class names) and "train_speakers" (the speaker ids
 * that trained the model). */
static int parse_string_array(const char *text, const char *key, char ***out, int *n_out)
{
    if (!text) return -1;
    cJSON *a = cJSON_Parse(text);
    int rc = -1;
    if (!cJSON_IsArray(a)) {
        veil_error("metadata '%s' must be a JSON array of strings", key);
        goto done;
    }
    int n = cJSON_GetArraySize(a);
    *out = veil_calloc(n ? (size_t)n : 1, sizeof(char *));
    for (const cJSON *e = a->child; e; e = e->next) {
        if (!cJSON_IsString(e)) {
            veil_error("metadata '%s' must be a JSON array of strings", key);
            goto done;
        }
        for (int k = 0; k < *n_out; k++)
            if (!strcmp((*out)[k], e->valuestring)) { /* a class twice: two outputs, one JSON key */
                veil_error("metadata '%s' names '%s' twice (entries %d and %d)", key, e->valuestring, k, *n_out);
                goto done;
            }
        (*out)[(*n_out)++] = veil_strdup(e->valuestring);
    }
    rc = 0;
done:
    cJSON_Delete(a);
    return rc;
}

static int parse_metadata(const cJSON *meta, veil_model *m, veil_head_config *hc, int *has_head)
{
    if (!cJSON_IsObject(meta)) {
        veil_error("no __metadata__: not a veil model");
        return -1;
    }
    for (const cJSON *it = meta->child; it; it = it->next) {
        if (!cJSON_IsString(it)) {
            veil_error("metadata value '%s' is not a string", it->string);
            return -1;
        }
        for (const cJSON *b = it->next; b; b = b->next)
            if (!strcmp(it->string, b->string)) {
                veil_error("metadata key '%s' appears twice", it->string);
                return -1;
            }
    }
    const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(meta, "format");
    if (!cJSON_IsString(fmt) || strcmp(fmt->valuestring, MODEL_FORMAT) != 0) {
        veil_error("metadata format is %s%s%s, not \"" MODEL_FORMAT "\": not a veil model",
                   fmt ? "\"" : "", fmt ? fmt->valuestring : "missing", fmt ? "\"" : "");
        return -1;
    }
    const char *arch = meta_string(meta, "architecture"), *mfcc = meta_string(meta, "mfcc");
    const char *classes = meta_string(meta, "classes"), *method = meta_string(meta, "method");
    const char *prec = meta_string(meta, "precision");
    if (!arch || !mfcc || !classes || !method || !prec || !meta_string(meta, "veil_version")) return -1;
    if (arch_from_json(arch, &m->arch, hc, has_head)) return -1;
    if (veil_mfcc_config_from_json(mfcc, &m->mfcc) || veil_mfcc_config_validate(&m->mfcc)) {
        veil_error_prefix("metadata 'mfcc'");
        return -1;
    }
    if (strlen(method) >= sizeof m->method) {
        veil_error("metadata 'method' is longer than %zu characters", sizeof m->method - 1);
        return -1;
    }
    /* whether the name is a known method is the job layer's to say (cli_model_load) */
    if (!*method || strspn(method, "abcdefghijklmnopqrstuvwxyz0123456789_-") != strlen(method)) {
        veil_error("metadata 'method' is \"%s\": expected a method name like \"siamese\"", method);
        return -1;
    }
    snprintf(m->method, sizeof m->method, "%s", method);
    if (veil_precision_parse(prec, &m->trained_precision)) {
        veil_error_prefix("metadata 'precision'");
        return -1;
    }
    if (parse_string_array(classes, "classes", &m->class_names, &m->n_classes)) return -1;
    int has_task = cJSON_GetObjectItemCaseSensitive(meta, "task") != NULL;
    const char *task = has_task ? meta_string(meta, "task") : NULL;
    if (has_task && !task) return -1;
    if (task && (!*task || strlen(task) >= sizeof m->task)) {
        veil_error("metadata 'task' is \"%s\": expected a label name like \"gender\" or \"accent\"", task);
        return -1;
    }
    snprintf(m->task, sizeof m->task, "%s", task ? task : "gender");
    if (cJSON_GetObjectItemCaseSensitive(meta, "train_speakers") &&
        parse_string_array(meta_string(meta, "train_speakers"), "train_speakers", &m->train_speakers,
                           &m->n_train_speakers))
        return -1;
    if (*has_head && m->n_classes != hc->classes) {
        veil_error("metadata names %d classes but the head has %d", m->n_classes, hc->classes);
        return -1;
    }
    return 0;
}

static int json_u64(const cJSON *e, uint64_t *out)
{
    if (!cJSON_IsNumber(e) || e->valuedouble < 0 || e->valuedouble != floor(e->valuedouble) ||
        e->valuedouble > 9007199254740992.0)
        return -1;
    *out = (uint64_t)e->valuedouble;
    return 0;
}

static void shape_str(char *buf, size_t n, const int64_t *shape, int ndim)
{
    size_t at = (size_t)snprintf(buf, n, "[");
    for (int i = 0; i < ndim && at < n; i++)
        at += (size_t)snprintf(buf + at, n - at, "%s%" PRId64, i ? "," : "", shape[i]);
    if (at < n) snprintf(buf + at, n - at, "]");
}

/* The shape as the file wrote it (-1, 2^62, 1.5 included), for messages: what was read
 * into int64 would show an invalid entry as 0. */
static void json_shape_str(char *buf, size_t n, const cJSON *sh)
{
    size_t at = (size_t)snprintf(buf, n, "[");
    int i = 0;
    for (const cJSON *e = sh->child; e && at < n; e = e->next, i++) {
        if (i == 8) {
            at += (size_t)snprintf(buf + at, n - at, ",...");
            break;
        }
        if (cJSON_IsNumber(e) && e->valuedouble == floor(e->valuedouble) && fabs(e->valuedouble) < 1e21)
            at += (size_t)snprintf(buf + at, n - at, "%s%.0f", i ? "," : "", e->valuedouble);
        else if (cJSON_IsNumber(e))
            at += (size_t)snprintf(buf + at, n - at, "%s%g", i ? "," : "", e->valuedouble);
        else {
            char *t = cJSON_PrintUnformatted(e);
            at += (size_t)snprintf(buf + at, n - at, "%s%.20s", i ? "," : "", t ? t : "?");
            cJSON_free(t);
        }
    }
    if (at < n) snprintf(buf + at, n - at, "]");
}

/* Check one header entry against the expected tensor list. */
static int check_tensor(const cJSON *t, want_list *w, uint64_t data_size)
{
    want_tensor *x = NULL;
    for (int i = 0; i < w->count && !x; i++)
        if (!strcmp(w->t[i].name, t->string)) x = &w->t[i];
    if (!x) {
        veil_error("unknown tensor '%s' (not part of the architecture in the metadata)", t->string);
        return -1;
    }
    if (x->found) {
        veil_error("tensor '%s' appears twice", t->string);
        return -1;
    }
    x->found = 1;
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(t, "dtype");
    const cJSON *sh = cJSON_GetObjectItemCaseSensitive(t, "shape");
    const cJSON *of = cJSON_GetObjectItemCaseSensitive(t, "data_offsets");
    if (!cJSON_IsObject(t) || !cJSON_IsString(dt) || !cJSON_IsArray(sh) || !cJSON_IsArray(of)) {
        veil_error("tensor '%s': needs dtype, shape and data_offsets", t->string);
        return -1;
    }
    if (strcmp(dt->valuestring, "F32") != 0) {
        veil_error("tensor '%s' has dtype %s; veil models hold F32 only", t->string, dt->valuestring);
        return -1;
    }
    int64_t shape[4] = {0};
    int ndim = cJSON_GetArraySize(sh), ok = ndim == x->ndim;
    int i = 0;
    for (const cJSON *e = sh->child; e && i < 4; e = e->next, i++) {
        uint64_t v;
        if (json_u64(e, &v)) {
            ok = 0;
            break;
        }
        shape[i] = (int64_t)v;
        ok &= i < x->ndim && shape[i] == x->shape[i];
    }
    if (!ok) {
        char got[256], want[128];
        json_shape_str(got, sizeof got, sh);
        shape_str(want, sizeof want, x->shape, x->ndim);
        veil_error("tensor '%s' has shape %s but the architecture needs %s", t->string, got, want);
        return -1;
    }
    uint64_t b, e;
    if (cJSON_GetArraySize(of) != 2 || json_u64(of->child, &b) || json_u64(of->child->next, &e) || e < b) {
        veil_error("tensor '%s': data_offsets must be two integers [begin, end] with begin <= end",
                   t->string);
        return -1;
    }
    if (e > data_size) {
        veil_error("tensor '%s': data_offsets [%" PRIu64 ", %" PRIu64 "] out of range (data section "
                   "holds %" PRIu64 " bytes; truncated file?)",
                   t->string, b, e, data_size);
        return -1;
    }
    if (e - b != 4 * x->size) {
        char want[128];
        shape_str(want, sizeof want, x->shape, x->ndim);
        veil_error("tensor '%s': data_offsets span %" PRIu64 " bytes but F32 %s needs %" PRIu64,
                   t->string, e - b, want, 4 * x->size);
        return -1;
    }
    x->begin = b;
    return 0;
}

static int by_begin(const void *a, const void *b)
{
    const want_tensor *x = *(want_tensor *const *)a, *y = *(want_tensor *const *)b;
    return x->begin < y->begin ? -1 : x->begin > y->begin;
}

/* Every expected tensor present; spans tile the data section exactly. */
static int check_layout(want_list *w, uint64_t data_size)
{
    for (int i = 0; i < w->count; i++)
        if (!w->t[i].found) {
            veil_error("missing tensor '%s' (the architecture in the metadata needs %d tensors)",
                       w->t[i].name, w->count);
            return -1;
        }
    want_tensor **order = veil_malloc(sizeof *order * (size_t)w->count);
    for (int i = 0; i < w->count; i++) order[i] = &w->t[i];
    qsort(order, (size_t)w->count, sizeof *order, by_begin);
    uint64_t at = 0;
    int rc = 0;
    for (int i = 0; i < w->count && rc == 0; i++) {
        want_tensor *x = order[i];
        if (x->begin < at) {
            veil_error("tensor '%s' overlaps tensor '%s' in the data section", x->name, order[i - 1]->name);
            rc = -1;
        } else if (x->begin > at) {
            veil_error("unused bytes %" PRIu64 "..%" PRIu64 " before tensor '%s'", at, x->begin, x->name);
            rc = -1;
        }
        at = x->begin + 4 * x->size;
    }
    if (rc == 0 && at != data_size) {
        veil_error("trailing garbage: %" PRIu64 " bytes after the last tensor", data_size - at);
        rc = -1;
    }
    free(order);
    return rc;
}

/* Copy checked data into the engine's parameters (names must match the expected list). */
static int fill_params(veil_param *p, int count, const want_list *w, const unsigned char *data)
{
    for (int i = 0; i < count; i++) {
        const want_tensor *x = NULL;
        for (int k = 0; k < w->count && !x; k++)
            if (!strcmp(w->t[k].name, p[i].name)) x = &w->t[k];
        if (!x || x->size != p[i].size) {
            veil_error("internal: engine parameter '%s' does not match the documented layout", p[i].name);
            return -1;
        }
        int is_var = strstr(p[i].name, "running_var") != NULL;
        for (size_t k = 0; k < p[i].size; k++) {
            uint32_t u = get_u32le(data + x->begin + 4 * k);
            float v;
            memcpy(&v, &u, 4);
            if (!isfinite(v) || (is_var && v < 0)) {
                veil_error("corrupt model: tensor '%s' has %s value %g at index %zu", p[i].name,
                           isfinite(v) ? "a negative variance" : "a non-finite", (double)v, k);
                return -1;
            }
            p[i].data[k] = v;
        }
    }
    return 0;
}

static int load_inner(const unsigned char *buf, size_t size, veil_precision precision, int max_batch,
                      veil_model *m)
{
    if (size < 8) {
        veil_error("file is %zu bytes, too short for a model (truncated or not a model)", size);
        return -1;
    }
    uint64_t n = get_u64le(buf);
    if (n > MAX_HEADER_BYTES) {
        veil_error("header length %" PRIu64 " is absurd (limit %u bytes): not a veil model", n,
                   MAX_HEADER_BYTES);
        return -1;
    }
    if (n > size - 8) {
        veil_error("header length %" PRIu64 " is larger than the file (%zu bytes): truncated?", n, size);
        return -1;
    }
    char *text = veil_malloc(n + 1);
    memcpy(text, buf + 8, n);
    text[n] = 0;
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithOpts(text, &end, 1);
    int rc = -1;
    want_list w = {0};
    veil_head_config hc;
    int has_head = 0;
    if (!root || strlen(text) != n) {
        veil_error("header is not valid JSON%s", strlen(text) != n ? " (contains a NUL byte)" : "");
        goto done;
    }
    if (!cJSON_IsObject(root)) {
        veil_error("header is not a JSON object");
        goto done;
    }
    for (const cJSON *a = root->child; a; a = a->next)
        if (!strcmp(a->string, "__metadata__") && a != cJSON_GetObjectItemCaseSensitive(root, "__metadata__")) {
            veil_error("header has '__metadata__' twice");
            goto done;
        }
    if (parse_metadata(cJSON_GetObjectItemCaseSensitive(root, "__metadata__"), m, &hc, &has_head))
        goto done;
    w = want_for(&m->arch, has_head ? &hc : NULL);
    uint64_t data_size = size - 8 - n;
    for (const cJSON *t = root->child; t; t = t->next)
        if (strcmp(t->string, "__metadata__") != 0 && check_tensor(t, &w, data_size)) goto done;
    if (check_layout(&w, data_size)) goto done;
    /* everything is consistent: build the networks and copy the weights */
    const unsigned char *data = buf + 8 + n;
    m->f = veil_extractor_new(&m->arch, max_batch, precision, 0);
    if (!m->f) goto done;
    int count;
    veil_param *p = veil_extractor_params(m->f, &count);
    if (fill_params(p, count, &w, data)) goto done;
    veil_extractor_params_changed(m->f);
    if (has_head) {
        m->g = veil_head_new(&hc, max_batch, precision, 0);
        if (!m->g) goto done;
        p = veil_head_params(m->g, &count);
        if (fill_params(p, count, &w, data)) goto done;
        veil_head_params_changed(m->g);
    }
    rc = 0;
done:
    free(w.t);
    cJSON_Delete(root);
    free(text);
    return rc;
}

int veil_model_parse(const char *name, const void *bytes, size_t size, veil_precision precision, int max_batch,
                     veil_model **out)
{
    *out = NULL;
    veil_model *m = veil_calloc(1, sizeof *m);
    if (load_inner(bytes, size, precision, max_batch, m)) {
        veil_error_prefix("%s", name);
        veil_model_free(m);
        return -1;
    }
    *out = m;
    return 0;
}

int veil_model_load(const char *path, veil_precision precision, int max_batch, veil_model **out)
{
    *out = NULL;
    char *buf;
    size_t size;
    if (veil_read_file(path, &buf, &size)) return -1;
    int rc = veil_model_parse(path, buf, size, precision, max_batch, out);
    free(buf);
    return rc;
}

void veil_model_free(veil_model *m)
{
    if (!m) return;
    veil_extractor_free(m->f);
    veil_head_free(m->g);
    for (int i = 0; i < m->n_classes; i++) free(m->class_names[i]);
    free(m->class_names);
    for (int i = 0; i < m->n_train_speakers; i++) free(m->train_speakers[i]);
    free(m->train_speakers);
    free(m);
}
