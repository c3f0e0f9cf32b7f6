/* The table of training methods and the settings machinery: defaults, command line and
 * JSON both ways, all from each method's table of named fields. */
#include "method.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "veil/common.h"

#define DECLARE(name) extern const veil_train_method veil_method_##name;
VEIL_TRAIN_METHODS(DECLARE)
#undef DECLARE
#define ENTRY(name) &veil_method_##name,
static const veil_train_method *const methods[] = {VEIL_TRAIN_METHODS(ENTRY)};
#undef ENTRY
#define N_METHODS ((int)(sizeof methods / sizeof methods[0]))

const veil_train_method *const *veil_train_methods(int *count)
{
    *count = N_METHODS;
    return methods;
}

const veil_train_method *veil_train_method_by_id(int id)
{
    for (int i = 0; i < N_METHODS; i++)
        if (methods[i]->id == id) return methods[i];
    return NULL;
}

const veil_train_method *veil_train_method_by_name(const char *name)
{
    for (int i = 0; i < N_METHODS && name; i++)
        if (!strcmp(methods[i]->name, name)) return methods[i];
    return NULL;
}

int veil_method_parse(const char *s, veil_method *out)
{
    const veil_train_method *m = veil_train_method_by_name(s);
    if (m) {
        *out = m->id;
        return 0;
    }
    veil_strbuf b = {0};
    for (int i = 0; i < N_METHODS; i++) veil_strbuf_printf(&b, "%s%s", i ? ", " : "", methods[i]->name);
    veil_error("unknown method '%s' (expected one of %s)", s ? s : "", b.s);
    free(b.s);
    return -1;
}

const char *veil_method_name(veil_method id)
{
    const veil_train_method *m = veil_train_method_by_id(id);
    return m ? m->name : "unknown";
}

int veil_method_name_width(void)
{
    int w = (int)strlen("method");
    for (int i = 0; i < N_METHODS; i++)
        if ((int)strlen(methods[i]->name) > w) w = (int)strlen(methods[i]->name);
    return w;
}

/* ---------------- settings over a struct ---------------- */
static double get_field(const veil_setting *s, const void *base)
{
    const unsigned char *p = (const unsigned char *)base + s->offset;
    if (s->type == VEIL_SETTING_INT) return *(const int *)(const void *)p;
    if (s->type == VEIL_SETTING_FLOAT) return *(const float *)(const void *)p;
    return *(const double *)(const void *)p;
}

static void set_field(const veil_setting *s, void *base, double v)
{
    unsigned char *p = (unsigned char *)base + s->offset;
    if (s->type == VEIL_SETTING_INT) *(int *)(void *)p = (int)v;
    else if (s->type == VEIL_SETTING_FLOAT) *(float *)(void *)p = (float)v;
    else *(double *)(void *)p = v;
}

void veil_settings_defaults(const veil_setting *s, int n, void *base)
{
    for (int i = 0; i < n; i++) set_field(&s[i], base, s[i].def);
}

cJSON *veil_settings_to_json(const veil_setting *s, int n, const void *base)
{
    cJSON *o = cJSON_CreateObject();
    for (int i = 0; i < n; i++) cJSON_AddNumberToObject(o, s[i].name, get_field(&s[i], base));
    return o;
}

static int check_value(const veil_setting *s, double v, const char *what)
{
    if (!isfinite(v) || v < s->lo || v > s->hi || (s->type == VEIL_SETTING_INT && v != floor(v))) {
        veil_error("%s: %s must be %s in %g..%g, got %g", what, s->name,
                   s->type == VEIL_SETTING_INT ? "an integer" : "a number", s->lo, s->hi, v);
        return -1;
    }
    return 0;
}

int veil_settings_from_json(const veil_setting *s, int n, const cJSON *o, void *base, const char *what)
{
    if (!cJSON_IsObject(o)) {
        veil_error("%s: settings are not a JSON object", what);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, s[i].name);
        if (!v) continue;
        if (!cJSON_IsNumber(v)) {
            veil_error("%s: %s is not a number", what, s[i].name);
            return -1;
        }
        if (check_value(&s[i], v->valuedouble, what)) return -1;
        set_field(&s[i], base, v->valuedouble);
    }
    return 0;
}

/* "siamese-epochs", "--siamese_epochs" and "siamese_epochs" name the same setting */
static int same_name(const char *setting, const char *name)
{
    while (*name == '-') name++;
    for (; *setting && *name; setting++, name++)
        if (*setting != *name && !(*setting == '_' && *name == '-')) return 0;
    return !*setting && !*name;
}

static const veil_setting *find_setting(const veil_setting *s, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (same_name(s[i].name, name)) return &s[i];
    return NULL;
}

int veil_settings_set(const veil_setting *s, int n, void *base, const char *name, const char *value)
{
    const veil_setting *f = find_setting(s, n, name);
    if (!f) return 1;
    char *end;
    errno = 0;
    double v = strtod(value ? value : "", &end);
    if (!value || end == value || *end || errno) {
        veil_error("--%s: expected a number, got '%s'", name, value ? value : "");
        return -1;
    }
    char what[80];
    snprintf(what, sizeof what, "--%s", name);
    if (check_value(f, v, what)) return -1;
    set_field(f, base, v);
    return 0;
}

double veil_settings_value(const veil_setting *s, int n, const void *base, const char *name)
{
    const veil_setting *f = find_setting(s, n, name);
    return f ? get_field(f, base) : NAN;
}

double veil_method_knob(int id, const veil_method_settings *settings)
{
    const veil_train_method *m = veil_train_method_by_id(id);
    if (!m || !m->knob) return NAN;
    return veil_settings_value(m->settings, m->n_settings, settings->bytes, m->knob);
}

int veil_method_set_knob(veil_method_settings *settings, int id, double value)
{
    const veil_train_method *m = veil_train_method_by_id(id);
    const veil_setting *f = m && m->knob ? find_setting(m->settings, m->n_settings, m->knob) : NULL;
    if (!f) {
        veil_error("method %s has no knob to set", veil_method_name(id));
        return -1;
    }
    char what[80];
    snprintf(what, sizeof what, "--%s", f->name);
    if (check_value(f, value, what)) return -1;
    set_field(f, settings->bytes, value);
    return 0;
}

int veil_method_is_knob(int id, const char *option)
{
    const veil_train_method *m = veil_train_method_by_id(id);
    return m && m->knob && same_name(m->knob, option);
}

void *veil_method_settings_of(veil_train_config *tc, int id)
{
    return id >= 0 && id < VEIL_METHOD_SLOTS ? tc->method[id].bytes : NULL;
}

const void *veil_method_settings_get(const veil_train_config *tc, int id)
{
    return id >= 0 && id < VEIL_METHOD_SLOTS ? tc->method[id].bytes : NULL;
}

/* ---------------- the settings every method shares ---------------- */
#define COMMON(field, type, def, lo, hi, help) \
    {#field, VEIL_SETTING_##type, offsetof(veil_train_config, field), def, lo, hi, help}
static const veil_setting common_settings[] = {
    COMMON(lr, FLOAT, 2e-4, 1e-12, 10, "Adam learning rate of every network"),
    COMMON(patience, INT, 10, 1, 100000, "early stopping: epochs without improvement"),
    COMMON(ties_improve, INT, 1, 0, 1, "early stopping: an equal evaluation score counts as improvement"),
    COMMON(gender_epochs, INT, 30, 1, 100000, "gender recognizer g epochs (on a frozen f)"),
    COMMON(gender_batch, INT, 200, 1, 100000, "batch of g (and of f and g trained together)"),
    COMMON(attack_epochs, INT, 150, 1, 100000, "attacker epochs"),
    COMMON(attack_batch, INT, 90, 1, 100000, "attacker batch"),
    COMMON(head_hidden, INT, 1024, 1, 1000000, "hidden units of every MLP head"),
    COMMON(dropout, FLOAT, 0.5, 0, 0.99, "dropout of every MLP head"),
    COMMON(extract_batch, INT, 256, 1, 100000, "batch of evaluation-mode feature extraction"),
    COMMON(bn_recalibrate, INT, 1, 0, 1, "BatchNorm statistics from a training batch before each evaluation"),
    COMMON(filter_divisor, INT, 1, 1, 64, "divide every group's filter count by N (smoke tests)"),
};
#undef COMMON

const veil_setting *veil_train_common_settings(int *count)
{
    *count = (int)(sizeof common_settings / sizeof common_settings[0]);
    return common_settings;
}

void veil_train_config_paper(veil_train_config *t)
{
    memset(t, 0, sizeof *t);
    int n;
    const veil_setting *c = veil_train_common_settings(&n);
    veil_settings_defaults(c, n, t);
    for (int i = 0; i < N_METHODS; i++)
        veil_settings_defaults(methods[i]->settings, methods[i]->n_settings,
                               veil_method_settings_of(t, methods[i]->id));
}

int veil_train_config_set(veil_train_config *tc, const char *name, const char *value)
{
    int n;
    const veil_setting *c = veil_train_common_settings(&n);
    int rc = veil_settings_set(c, n, tc, name, value);
    for (int i = 0; i < N_METHODS && rc == 1; i++)
        rc = veil_settings_set(methods[i]->settings, methods[i]->n_settings,
                               veil_method_settings_of(tc, methods[i]->id), name, value);
    if (rc == 1) veil_error("unknown setting '%s'", name);
    return rc ? -1 : 0;
}

/* One option per setting: --name with '-' for '_', its help prefixed by whose it is. */
static void add_options(veil_setting_option *out, int *n, const veil_setting *s, int count,
                        const veil_train_method *m)
{
    const char *who = m ? m->name : "all";
    for (int i = 0; i < count; i++) {
        veil_setting_option *o = &out[(*n)++];
        snprintf(o->option, sizeof o->option, "--%s", s[i].name);
        for (char *p = o->option; *p; p++)
            if (*p == '_') *p = '-';
        /* a help text that already names its method is not prefixed twice */
        size_t nw = strlen(who);
        const char *help = s[i].help;
        if (!strncmp(help, who, nw) && help[nw] == ':' && help[nw + 1] == ' ') help += nw + 2;
        snprintf(o->help, sizeof o->help, "%s: %s (default %g)", who, help, s[i].def);
        o->knob_of = m && m->knob && same_name(m->knob, s[i].name) ? m->id : -1;
    }
}

veil_setting_option *veil_train_setting_options(int *n)
{
    int nc, total;
    const veil_setting *c = veil_train_common_settings(&nc);
    total = nc;
    for (int i = 0; i < N_METHODS; i++) total += methods[i]->n_settings;
    veil_setting_option *out = veil_calloc((size_t)total, sizeof *out);
    *n = 0;
    add_options(out, n, c, nc, NULL);
    for (int i = 0; i < N_METHODS; i++) add_options(out, n, methods[i]->settings, methods[i]->n_settings, methods[i]);
    return out;
}

char *veil_train_settings_help(void)
{
    veil_strbuf b = {0};
    int n;
    veil_setting_option *o = veil_train_setting_options(&n);
    for (int i = 0; i < n; i++) veil_strbuf_printf(&b, "  %s N  %s\n", o[i].option, o[i].help);
    free(o);
    return b.s;
}
