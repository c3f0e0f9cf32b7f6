/* Option tables: parsing, --help and "did you mean" from one declaration per option. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "veil/common.h"

/* The left column of --help: options and their values line up after it. */
enum { HELP_COLUMN = 24 };

size_t cli_edit_distance(const char *a, size_t na, const char *b, size_t nb)
{
    size_t row[128];
    if (nb >= sizeof row / sizeof row[0]) return (size_t)-1;
    for (size_t j = 0; j <= nb; j++) row[j] = j;
    for (size_t i = 1; i <= na; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= nb; j++) {
            size_t up = row[j], best = diag + (a[i - 1] != b[j - 1]);
            if (up + 1 < best) best = up + 1;
            if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
            diag = up;
            row[j] = best;
        }
    }
    return row[nb];
}

static int is_option_row(const cli_option *o) { return o->kind != CLI_ARGS; }

static int spelled(const cli_option *o, const char *a)
{
    return is_option_row(o) && (!strcmp(o->name, a) || (o->alias && !strcmp(o->alias, a)));
}

/* The --option of the command nearest to arg (a typo: at most a third of its letters
 * differ); NULL when none is that near. */
static const char *nearest_option(const cli_command *c, const char *arg)
{
    size_t na = strlen(arg), best = (size_t)-1;
    const char *eq = strchr(arg, '='), *near = NULL;
    if (eq) na = (size_t)(eq - arg);
    for (size_t t = 0; t < c->n_tables; t++)
        for (size_t r = 0; r < c->tables[t].n; r++) {
            const cli_option *o = &c->tables[t].rows[r];
            if (!is_option_row(o) || strncmp(o->name, "--", 2)) continue;
            size_t d = cli_edit_distance(arg, na, o->name, strlen(o->name));
            if (d < best) best = d, near = o->name;
        }
    return near && best > 0 && best <= (strlen(near) + 2) / 3 ? near : NULL;
}

int cli_command_error(const cli_command *c, const char *fmt, const char *arg)
{
    fprintf(stderr, "veil %s: ", c->name);
    fprintf(stderr, fmt, arg);
    const char *near = arg && arg[0] == '-' && arg[1] ? nearest_option(c, arg) : NULL;
    if (near) fprintf(stderr, " (did you mean '%s'?)", near);
    /* one line of error and one pointing to the help: the full text buries the error */
    fprintf(stderr, "\nsee 'veil %s --help'\n", c->name);
    return 2;
}

/* ---- values ---- */
/* strtol and friends skip leading blanks: ' 1' would pass where '1 ' fails */
static int blank_or_missing(const char *v) { return !v || !v[0] || isspace((unsigned char)v[0]); }

int cli_parse_int(const char *opt, const char *value, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = blank_or_missing(value) ? 0 : strtol(value, &end, 10);
    if (blank_or_missing(value) || errno || *end || v < lo || v > hi) {
        veil_error("%s: expected an integer in %ld..%ld, got '%s'", opt, lo, hi, value ? value : "");
        return -1;
    }
    *out = v;
    return 0;
}

int cli_parse_u64(const char *opt, const char *value, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = blank_or_missing(value) ? 0 : strtoull(value, &end, 10);
    if (blank_or_missing(value) || errno || *end || value[0] == '-' || value[0] == '+') {
        veil_error("%s: expected an integer in 0..18446744073709551615, got '%s'", opt, value ? value : "");
        return -1;
    }
    *out = (uint64_t)v;
    return 0;
}

int cli_parse_double(const char *opt, const char *value, double *out)
{
    char *end;
    errno = 0;
    double v = blank_or_missing(value) ? 0 : strtod(value, &end);
    if (blank_or_missing(value) || errno || *end) {
        veil_error("%s: expected a number, got '%s'", opt, value ? value : "");
        return -1;
    }
    *out = v;
    return 0;
}

/* One option's value into its field; -1 after veil_error. */
static int take_value(const cli_option *o, void *base, const char *v)
{
    char *field = (char *)base + o->offset;
    long l;
    double d;
    switch (o->kind) {
    case CLI_TEXT:
        *(const char **)(void *)field = v;
        return 0;
    case CLI_INT:
        if (cli_parse_int(o->name, v, o->lo, o->hi, &l)) return -1;
        *(int *)(void *)field = (int)l;
        return 0;
    case CLI_LONG:
        return cli_parse_int(o->name, v, o->lo, o->hi, (long *)(void *)field);
    case CLI_U64:
        return cli_parse_u64(o->name, v, (uint64_t *)(void *)field);
    case CLI_REAL:
        if (cli_parse_double(o->name, v, &d)) return -1;
        *(double *)(void *)field = d;
        return 0;
    case CLI_CALL:
        return o->call(base, o->name, v);
    default:
        return 0;
    }
}

static int refused(const cli_command *c)
{
    return c->refused_is_usage ? cli_command_error(c, "%s", veil_last_error()) : cli_fail();
}

int cli_parse(cli_command *c, int argc, char **argv)
{
    for (size_t t = 0; t < c->n_tables; t++) c->tables[t].given = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            cli_print_help(c, stdout);
            return 0;
        }
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const cli_option *o = NULL, *args_row = NULL;
        cli_table *in = NULL, *args_table = NULL;
        for (size_t t = 0; t < c->n_tables && !o; t++)
            for (size_t r = 0; r < c->tables[t].n && !o; r++) {
                const cli_option *row = &c->tables[t].rows[r];
                if (spelled(row, a)) o = row, in = &c->tables[t];
                if (row->kind == CLI_ARGS && !args_row) args_row = row, args_table = &c->tables[t];
            }
        if (!o && (a[0] != '-' || !strcmp(a, "-"))) {
            if (!args_row) {
                return cli_command_error(c, "unexpected argument '%s'", a);
            }
            if (args_row->call) {
                if (args_row->call(args_table->base, NULL, a)) return refused(c);
                continue;
            }
            const char **one = (const char **)(void *)((char *)args_table->base + args_row->offset);
            if (*one) {
                return cli_command_error(c, "unexpected argument '%s'", a);
            }
            *one = a;
            continue;
        }
        if (!o) return cli_command_error(c, "unknown option '%s'", a);
        if (!in->given) in->given = o->name;
        if (o->kind == CLI_FLAG) {
            *(int *)(void *)((char *)in->base + o->offset) = 1;
            continue;
        }
        if (i + 1 >= argc) return cli_command_error(c, "'%s' needs a value", a);
        if (take_value(o, in->base, argv[++i])) return refused(c);
    }
    return CLI_PARSED;
}

const char *cli_option_value(int argc, char **argv, const char *name)
{
    const char *v = NULL;
    for (int i = 1; i + 1 < argc; i++)
        if (!strcmp(argv[i], name)) v = argv[++i];
    return v;
}

/* ---- --help ---- */
static void help_row(veil_strbuf *b, const cli_option *o)
{
    char left[128];
    if (o->alias) snprintf(left, sizeof left, "%s, %s%s%s", o->alias, o->name, o->value ? " " : "", o->value ? o->value : "");
    else snprintf(left, sizeof left, "%s%s%s", o->name, o->value ? " " : "", o->value ? o->value : "");
    /* a long left column gets the help on a line of its own */
    if (strlen(left) > HELP_COLUMN) veil_strbuf_printf(b, "  %s\n  %-*s", left, HELP_COLUMN, "");
    else veil_strbuf_printf(b, "  %-*s", HELP_COLUMN, left);
    for (const char *h = o->help; *h;) {
        const char *nl = strchr(h, '\n');
        size_t n = nl ? (size_t)(nl - h) : strlen(h);
        veil_strbuf_printf(b, " %.*s\n", (int)n, h);
        h += n;
        if (*h == '\n' && *++h) veil_strbuf_printf(b, "  %-*s", HELP_COLUMN, "");
    }
}

char *cli_help_text(const cli_command *c)
{
    veil_strbuf b = {0};
    veil_strbuf_printf(&b, "%s", c->synopsis);
    for (size_t t = 0; t < c->n_tables; t++) {
        const cli_table *tb = &c->tables[t];
        if (tb->heading) veil_strbuf_printf(&b, "\n%s\n", tb->heading);
        for (size_t r = 0; r < tb->n; r++)
            if (tb->rows[r].help) help_row(&b, &tb->rows[r]);
    }
    veil_strbuf_printf(&b, "  %-*s %s\n", HELP_COLUMN, "-v, -q", "more / less on standard error");
    if (c->epilogue) veil_strbuf_printf(&b, "\n%s", c->epilogue);
    return b.s;
}

void cli_print_help(const cli_command *c, FILE *f)
{
    char *s = cli_help_text(c);
    fputs(s, f);
    free(s);
}

/* ---- rows made at run time (training settings, knobs) ---- */
void cli_rows_add(cli_rows *r, cli_option row, char *owned_name, char *owned_help)
{
    r->row = veil_realloc(r->row, (r->n + 1) * sizeof *r->row);
    r->owned = veil_realloc(r->owned, (2 * r->n + 2) * sizeof *r->owned);
    r->row[r->n] = row;
    r->owned[2 * r->n] = owned_name;
    r->owned[2 * r->n + 1] = owned_help;
    r->n++;
}

void cli_rows_free(cli_rows *r)
{
    for (size_t i = 0; i < 2 * r->n; i++) free(r->owned[i]);
    free(r->owned);
    free(r->row);
    memset(r, 0, sizeof *r);
}
