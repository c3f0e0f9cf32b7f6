/* Summary of job results: statistics, terminal table, summary.csv and report.md. */
#include "veil/report.h"

#include <ctype.h>
#include <math.h>
#include <stddef.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "veil/common.h"
#include "research/train/method.h"

veil_stat veil_stat_of(const double *x, int n)
{
    veil_stat s = {0, 0};
    if (n <= 0) return s;
    double sum = 0;
    for (int i = 0; i < n; i++) sum += x[i];
    s.mean = sum / n;
    if (n > 1) {
        double ss = 0;
        for (int i = 0; i < n; i++) ss += (x[i] - s.mean) * (x[i] - s.mean);
        s.std = sqrt(ss / (n - 1));
    }
    return s;
}

static int same_knob(double a, double b) { return (isnan(a) && isnan(b)) || a == b; }

static int row_order(const void *a, const void *b)
{
    const veil_summary_row *x = a, *y = b;
    if (x->method != y->method) return (int)x->method - (int)y->method;
    if (x->groups != y->groups) return x->groups - y->groups;
    return (x->knob > y->knob) - (x->knob < y->knob);
}

static double knob_of(const veil_job_result *r) { return veil_method_knob(r->method, &r->settings); }

int veil_probe_scores_utterances(const char *name)
{
    return strcmp(name, "paper-mlp") && strcmp(name, "paper-mlp-std");
}

/* The mean over a job's groups of one field of an attacker (NaN: none finite). */
static double group_mean(const veil_job_attacker *a, int groups, size_t field)
{
    double sum = 0;
    int k = 0;
    for (int g = 0; g < groups; g++) {
        double v = *(const double *)((const char *)&a->group[g] + field);
        if (isfinite(v)) sum += v, k++;
    }
    return k ? sum / k : NAN;
}

/* mean ± std of the finite values of x[0..n), compacted in place (NaN: none) */
static veil_stat stat_finite(double *x, int n)
{
    int k = 0;
    for (int i = 0; i < n; i++)
        if (isfinite(x[i])) x[k++] = x[i];
    if (!k) return (veil_stat){NAN, NAN};
    return veil_stat_of(x, k);
}

/* The battery of the row that starts at job `first` (same method, G, knob). */
static void summarise_attackers(const veil_job_result *r, size_t n, size_t first, double knob, veil_summary_row *row)
{
    row->n_attackers = 0;
    row->strongest_index = row->same_gender_index = -1;
    row->strongest = row->attack;
    for (size_t j = first; j < n; j++) {
        if (r[j].method != r[first].method || r[j].groups != r[first].groups || !same_knob(knob_of(&r[j]), knob))
            continue;
        for (int k = 0; k < r[j].n_attackers && row->n_attackers < VEIL_MAX_PROBES; k++) {
            int seen = 0;
            for (int q = 0; q < row->n_attackers; q++) seen |= !strcmp(row->attackers[q].name, r[j].attackers[k].name);
            if (!seen) snprintf(row->attackers[row->n_attackers++].name, 32, "%s", r[j].attackers[k].name);
        }
    }
    double *v = veil_malloc(7 * (n ? n : 1) * sizeof *v);
    static const size_t fields[7] = {offsetof(veil_probe_result, acc), offsetof(veil_probe_result, acc_utt),
                                      offsetof(veil_probe_result, eer), offsetof(veil_probe_result, eer_lo),
                                      offsetof(veil_probe_result, eer_hi), offsetof(veil_probe_result, min_dcf),
                                      offsetof(veil_probe_result, eer_same_gender)};
    double best = -1;
    for (int q = 0; q < row->n_attackers; q++) {
        veil_row_attacker *ra = &row->attackers[q];
        int k = 0;
        for (size_t j = first; j < n; j++) {
            if (r[j].method != r[first].method || r[j].groups != r[first].groups || !same_knob(knob_of(&r[j]), knob))
                continue;
            const veil_job_attacker *a = NULL;
            for (int t = 0; t < r[j].n_attackers && !a; t++)
                if (!strcmp(r[j].attackers[t].name, ra->name)) a = &r[j].attackers[t];
            if (!a) continue;
            for (int f = 0; f < 7; f++) {
                double m = group_mean(a, r[j].n_attack_groups, fields[f]);
                v[f * n + k] = f == 5 ? m : 100.0 * m; /* minDCF stays a cost */
            }
            k++;
        }
        ra->runs = k;
        ra->acc = stat_finite(v, k);
        ra->acc_utt = veil_probe_scores_utterances(ra->name) ? stat_finite(v + n, k) : (veil_stat){NAN, NAN};
        ra->eer = stat_finite(v + 2 * n, k);
        ra->eer_lo = stat_finite(v + 3 * n, k);
        ra->eer_hi = stat_finite(v + 4 * n, k);
        ra->min_dcf = stat_finite(v + 5 * n, k);
        ra->eer_same_gender = !strcmp(ra->name, "verify-same-gender") ? ra->eer : stat_finite(v + 6 * n, k);
        if (isfinite(ra->eer_same_gender.mean) &&
            (row->same_gender_index < 0 ||
             ra->eer_same_gender.mean < row->attackers[row->same_gender_index].eer_same_gender.mean))
            row->same_gender_index = q;
        if (isfinite(ra->acc_utt.mean) && ra->acc_utt.mean > best) {
            best = ra->acc_utt.mean;
            row->strongest_index = q;
            row->strongest = ra->acc_utt;
        }
    }
    free(v);
}

void veil_summary_strongest(const veil_summary *s, veil_summary *out)
{
    out->n_rows = s->n_rows;
    out->rows = veil_malloc((size_t)(s->n_rows ? s->n_rows : 1) * sizeof *out->rows);
    memcpy(out->rows, s->rows, (size_t)s->n_rows * sizeof *out->rows);
    for (int i = 0; i < s->n_rows; i++) out->rows[i].attack = s->rows[i].strongest;
}

int veil_summary_make(const veil_job_result *r, size_t n, veil_summary *out)
{
    out->n_rows = 0;
    out->rows = NULL;
    /* each job once: a second copy would count an iteration twice and move the means */
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++)
            if (r[i].method == r[j].method && r[i].groups == r[j].groups && r[i].iteration == r[j].iteration &&
                same_knob(knob_of(&r[i]), knob_of(&r[j]))) {
                veil_error("summary: %s G=%d iteration %d appears twice (results %zu and %zu)",
                           veil_method_name(r[i].method), r[i].groups, r[i].iteration, i + 1, j + 1);
                return -1;
            }
    double *buf = veil_malloc(6 * (n ? n : 1) * sizeof *buf);
    for (size_t i = 0; i < n; i++) {
        double knob = knob_of(&r[i]);
        if (veil_summary_find_knob(out, r[i].method, r[i].groups, knob)) continue;
        /* a new (method, G, knob): gather its runs */
        double *ge = buf, *gt = buf + n, *at = buf + 2 * n, *ep = buf + 3 * n, *se = buf + 4 * n, *gm = buf + 5 * n;
        int k = 0, collapsed = 0;
        for (size_t j = i; j < n; j++) {
            if (r[j].method != r[i].method || r[j].groups != r[i].groups || !same_knob(knob_of(&r[j]), knob)) continue;
            gm[k] = 100.0 * r[j].gender_test_majority;
            ge[k] = 100.0 * r[j].gender_eval_acc;
            gt[k] = 100.0 * r[j].gender_test_acc;
            at[k] = 100.0 * r[j].attack_acc_mean;
            ep[k] = r[j].epochs_run;
            se[k] = r[j].seconds;
            collapsed += r[j].collapsed != 0;
            k++;
        }
        out->rows = veil_realloc(out->rows, (size_t)(out->n_rows + 1) * sizeof *out->rows);
        veil_summary_row *row = &out->rows[out->n_rows++];
        row->method = r[i].method;
        row->groups = r[i].groups;
        row->runs = k;
        row->collapsed = collapsed;
        row->gender_eval = veil_stat_of(ge, k);
        row->gender_test = veil_stat_of(gt, k);
        row->attack = veil_stat_of(at, k);
        row->epochs = veil_stat_of(ep, k);
        row->seconds = veil_stat_of(se, k);
        row->knob = knob;
        row->gender_majority = veil_stat_of(gm, k);
        summarise_attackers(r, n, i, knob, row);
    }
    free(buf);
    if (out->n_rows) qsort(out->rows, (size_t)out->n_rows, sizeof *out->rows, row_order);
    return 0;
}

void veil_summary_free(veil_summary *s)
{
    free(s->rows);
    s->rows = NULL;
    s->n_rows = 0;
}

const veil_summary_row *veil_summary_find(const veil_summary *s, veil_method m, int groups)
{
    for (int i = 0; i < s->n_rows; i++)
        if (s->rows[i].method == m && s->rows[i].groups == groups) return &s->rows[i];
    return NULL;
}

const veil_summary_row *veil_summary_find_knob(const veil_summary *s, veil_method m, int groups, double knob)
{
    for (int i = 0; i < s->n_rows; i++)
        if (s->rows[i].method == m && s->rows[i].groups == groups && same_knob(s->rows[i].knob, knob))
            return &s->rows[i];
    return NULL;
}

int veil_select_knob(const veil_job_result *r, size_t n, veil_method m, int groups, const double *values,
                     int n_values, double *chosen, double *scores)
{
    int best = -1, complete = 1;
    double best_score = -INFINITY;
    for (int v = 0; v < n_values; v++) {
        const veil_job_result *j = NULL;
        for (size_t i = 0; i < n && !j; i++)
            if (r[i].method == m && r[i].groups == groups && r[i].iteration == 0 && knob_of(&r[i]) == values[v])
                j = &r[i];
        double score = j ? j->gender_eval_acc - j->attack_val_acc : NAN;
        if (scores) scores[v] = score;
        if (!j || (n_values > 1 && !isfinite(score))) {
            complete = 0;
            continue;
        }
        if (n_values == 1 || score > best_score) {
            best_score = score;
            best = v;
        }
    }
    if (!complete || best < 0) return -1;
    *chosen = values[best];
    return 0;
}

/* The knob values of (m, G) that iteration 0 ran, ascending; returns how many. */
static int knob_values_run(const veil_job_result *r, size_t n, veil_method m, int groups, double *values, int cap)
{
    int nv = 0;
    for (size_t i = 0; i < n; i++) {
        if (r[i].method != m || r[i].groups != groups || r[i].iteration != 0) continue;
        double k = knob_of(&r[i]);
        int seen = 0;
        for (int v = 0; v < nv; v++) seen |= values[v] == k;
        if (!seen && nv < cap && !isnan(k)) values[nv++] = k;
    }
    for (int a = 1; a < nv; a++) /* insertion sort: a handful of values */
        for (int b = a; b > 0 && values[b - 1] > values[b]; b--) {
            double t = values[b];
            values[b] = values[b - 1];
            values[b - 1] = t;
        }
    return nv;
}

int veil_figure4_rows(const veil_summary *s, const veil_job_result *r, size_t n, int sweep_groups,
                      const veil_summary_row **rows)
{
    int count, k = 0;
    const veil_train_method *const *ms = veil_train_methods(&count);
    for (int q = 0; q < count; q++) {
        const veil_train_method *m = ms[q];
        const veil_summary_row *row = NULL;
        if (m->groups == VEIL_GROUPS_ONE) continue;
        if (m->knob) {
            double v[64], chosen;
            int nv = knob_values_run(r, n, m->id, sweep_groups, v, 64);
            if (nv && veil_select_knob(r, n, m->id, sweep_groups, v, nv, &chosen, NULL) == 0)
                row = veil_summary_find_knob(s, m->id, sweep_groups, chosen);
        } else {
            row = veil_summary_find(s, m->id, sweep_groups);
            for (int i = 0; i < s->n_rows && !row; i++) /* else its largest G */
                if (s->rows[i].method == m->id && (i + 1 == s->n_rows || s->rows[i + 1].method != m->id))
                    row = &s->rows[i];
        }
        if (row) rows[k++] = row;
    }
    return k;
}

/* "mean ± std"; a single run has no spread to show, only its value */
static const char *stat_text(veil_stat s, int runs, int decimals, char *buf, size_t n)
{
    if (runs < 2) snprintf(buf, n, "%.*f", decimals, s.mean);
    else snprintf(buf, n, "%.*f ± %.*f", decimals, s.mean, decimals, s.std);
    return buf;
}

/* A left-aligned cell padded to width terminal columns ("±" is two bytes, one column). */
static void sb_cell(veil_strbuf *b, const char *text, int width)
{
    int cols = 0;
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) cols += (*p & 0xc0) != 0x80;
    veil_strbuf_printf(b, "%s%*s", text, width > cols ? width - cols : 0, "");
}

/* "adv_lambda=0.1", or "" for a method without a knob */
static const char *knob_text(const veil_summary_row *r, char *buf, size_t n)
{
    const veil_train_method *m = veil_train_method_by_id(r->method);
    if (m && m->knob && !isnan(r->knob)) snprintf(buf, n, "%s=%g", m->knob, r->knob);
    else snprintf(buf, n, "%s", "");
    return buf;
}

char *veil_summary_table(const veil_summary *s)
{
    veil_strbuf b = {0};
    int mw = veil_method_name_width();
    veil_strbuf_printf(&b, "%-*s %2s %-16s %4s  %-14s %-14s %-14s %-12s %-14s %s\n", mw, "method", "G", "knob", "runs",
                       "gender eval%", "gender test%", "attacker%", "epochs", "seconds", "collapsed");
    for (int i = 0; i < s->n_rows; i++) {
        const veil_summary_row *r = &s->rows[i];
        char t[48], kt[48];
        veil_strbuf_printf(&b, "%-*s %2d %-16s %4d  ", mw, veil_method_name(r->method), r->groups,
                           knob_text(r, kt, sizeof kt), r->runs);
        sb_cell(&b, stat_text(r->gender_eval, r->runs, 1, t, sizeof t), 15);
        sb_cell(&b, stat_text(r->gender_test, r->runs, 1, t, sizeof t), 15);
        sb_cell(&b, stat_text(r->attack, r->runs, 1, t, sizeof t), 15);
        sb_cell(&b, stat_text(r->epochs, r->runs, 1, t, sizeof t), 13);
        sb_cell(&b, stat_text(r->seconds, r->runs, 1, t, sizeof t), 15);
        if (r->collapsed) veil_strbuf_printf(&b, "%d of %d COLLAPSED (!)\n", r->collapsed, r->runs);
        else veil_strbuf_printf(&b, "0\n");
    }
    return b.s;
}

static int write_text(FILE *f, void *ctx)
{
    const char *s = ctx;
    return fputs(s, f) < 0 ? -1 : 0;
}

int veil_summary_write_csv(const char *path, const veil_summary *s)
{
    veil_strbuf b = {0};
    veil_strbuf_printf(&b, "method,groups,runs,collapsed,gender_eval_pct_mean,gender_eval_pct_std,"
                           "gender_test_pct_mean,gender_test_pct_std,attack_pct_mean,attack_pct_std,"
                           "epochs_mean,epochs_std,seconds_mean,seconds_std,knob,knob_value\n");
    for (int i = 0; i < s->n_rows; i++) {
        const veil_summary_row *r = &s->rows[i];
        const veil_train_method *m = veil_train_method_by_id(r->method);
        char kv[32] = "";
        if (!isnan(r->knob)) snprintf(kv, sizeof kv, "%.17g", r->knob);
        veil_strbuf_printf(&b, "%s,%d,%d,%d,%.4f,%.4f,%.4f,%.4f,%.4f,%.4f,%.3f,%.3f,%.3f,%.3f,%s,%s\n",
                           veil_method_name(r->method), r->groups, r->runs, r->collapsed, r->gender_eval.mean,
                           r->gender_eval.std, r->gender_test.mean, r->gender_test.std, r->attack.mean,
                           r->attack.std, r->epochs.mean, r->epochs.std, r->seconds.mean, r->seconds.std,
                           m && m->knob && !isnan(r->knob) ? m->knob : "", kv);
    }
    int rc = veil_write_atomic(path, write_text, b.s);
    free(b.s);
    return rc;
}

/* The paper's numbers as stated in its text (Section 5.4); NAN where it gives none. */
static void paper_numbers(veil_method m, int groups, double *gender, double *attack)
{
    *gender = NAN;
    *attack = NAN;
    if (m == VEIL_METHOD_REFERENCE && groups == 1) {
        *gender = 95;
        *attack = 65;
    } else if (m == VEIL_METHOD_SIAMESE && groups == 1) {
        *attack = 33;
    } else if (m == VEIL_METHOD_SIAMESE && groups == 5) {
        *gender = 94;
        *attack = 11;
    }
}

static int run_order(const void *a, const void *b)
{
    const veil_job_result *x = *(const veil_job_result *const *)a, *y = *(const veil_job_result *const *)b;
    if (x->method != y->method) return (int)x->method - (int)y->method;
    if (x->groups != y->groups) return x->groups - y->groups;
    double ka = knob_of(x), kb = knob_of(y);
    if (ka != kb && !(isnan(ka) && isnan(kb))) return (ka > kb) - (ka < kb);
    return x->iteration - y->iteration;
}

static const char *num_or_dash(double x, char *buf, size_t n)
{
    if (isnan(x)) snprintf(buf, n, "–");
    else snprintf(buf, n, "%.0f", x);
    return buf;
}

/* "Where the time went": the stage profile of every job that has one, summed per method
 * and G, then over the run; other = the job's seconds outside the named stages. */
static void stage_table(veil_strbuf *b, const veil_job_result *r, size_t n)
{
    enum { NCOL = 8 };
    static const char *const head[NCOL] = {"training", "training eval", "extraction", "gender head",
                                           "attackers", "I/O", "other", "total"};
    const veil_job_result **sorted = veil_malloc((n ? n : 1) * sizeof *sorted);
    size_t m = 0, missing = 0;
    for (size_t i = 0; i < n; i++) {
        if (isnan(r[i].stages.train)) missing++;
        else sorted[m++] = &r[i];
    }
    veil_strbuf_printf(b, "## Where the time went\n\n");
    if (!m) {
        veil_strbuf_printf(b, "No job has a stage profile (results from before it was recorded).\n\n");
        free(sorted);
        return;
    }
    qsort(sorted, m, sizeof *sorted, run_order);
    veil_strbuf_printf(b, "Seconds per stage, summed over the jobs of each method and G (the results lines' "
                          "\"stages\"). Training excludes its per-epoch evaluation passes; extraction is the "
                          "trained extractor's features for the gender head and the attackers; I/O is loading "
                          "the corpus and patch cache (once per process); other is the rest of the jobs' "
                          "seconds.\n\n| method | G | jobs |");
    for (int c = 0; c < NCOL; c++) veil_strbuf_printf(b, " %s |", head[c]);
    veil_strbuf_printf(b, "\n|---|---:|---:|");
    for (int c = 0; c < NCOL; c++) veil_strbuf_printf(b, "---:|");
    veil_strbuf_printf(b, "\n");
    double all[NCOL] = {0};
    for (size_t i = 0; i < m;) {
        size_t j = i;
        double sum[NCOL] = {0};
        for (; j < m && sorted[j]->method == sorted[i]->method && sorted[j]->groups == sorted[i]->groups; j++) {
            const veil_job_stages *st = &sorted[j]->stages;
            double named = st->train + st->train_eval + st->extract + st->gender + st->attackers;
            double v[NCOL] = {st->train, st->train_eval, st->extract, st->gender, st->attackers, st->io,
                              sorted[j]->seconds - named, sorted[j]->seconds + st->io};
            for (int c = 0; c < NCOL; c++) sum[c] += isfinite(v[c]) ? v[c] : 0, all[c] += isfinite(v[c]) ? v[c] : 0;
        }
        veil_strbuf_printf(b, "| %s | %d | %zu |", veil_method_name(sorted[i]->method), sorted[i]->groups, j - i);
        for (int c = 0; c < NCOL; c++) veil_strbuf_printf(b, " %.1f |", sum[c]);
        veil_strbuf_printf(b, "\n");
        i = j;
    }
    veil_strbuf_printf(b, "| all | | %zu |", m);
    for (int c = 0; c < NCOL; c++)
        veil_strbuf_printf(b, " %.1f (%.0f %%) |", all[c], all[NCOL - 1] > 0 ? 100 * all[c] / all[NCOL - 1] : 0.0);
    veil_strbuf_printf(b, "\n\n");
    if (missing) veil_strbuf_printf(b, "%zu job(s) from before the stage profile are not counted.\n\n", missing);
    free(sorted);
}

/* What each attacker costs: seconds per attacker group, mean over the jobs at each G (the
 * features' width sets the cost), and the battery against the paper's MLP alone. */
static void attacker_cost_table(veil_strbuf *b, const veil_job_result *r, size_t n)
{
    const char *names[VEIL_MAX_PROBES + 8];
    int nn = 0, has_g[VEIL_MAX_GROUPS + 1] = {0};
    for (size_t i = 0; i < n; i++)
        for (int k = 0; k < r[i].n_attackers; k++) {
            int q = 0;
            while (q < nn && strcmp(names[q], r[i].attackers[k].name)) q++;
            if (q == nn && nn < (int)(sizeof names / sizeof names[0])) names[nn++] = r[i].attackers[k].name;
            if (r[i].n_attack_groups > 0 && r[i].groups >= 0 && r[i].groups <= VEIL_MAX_GROUPS) has_g[r[i].groups] = 1;
        }
    if (nn < 2) return; /* the paper's MLP alone: the stage table says it */
    veil_strbuf_printf(b, "### What each attacker costs\n\nSeconds per attacker group (training and scoring on "
                          "one group's tables), mean over the jobs at each G (G sets the features' width: 16384 at "
                          "G = 1, 1024 at G = 5). The last column is the attacker's share of the battery's time "
                          "over every job (the attacker-validation group's runs not counted).\n\n| attacker |");
    for (int g = 0; g <= VEIL_MAX_GROUPS; g++)
        if (has_g[g]) veil_strbuf_printf(b, " G = %d |", g);
    veil_strbuf_printf(b, " share |\n|---|");
    for (int g = 0; g <= VEIL_MAX_GROUPS; g++)
        if (has_g[g]) veil_strbuf_printf(b, "---:|");
    veil_strbuf_printf(b, "---:|\n");
    double total = 0, paper = 0, *own = veil_calloc((size_t)nn, sizeof *own);
    for (size_t i = 0; i < n; i++)
        for (int k = 0; k < r[i].n_attackers; k++) {
            double sec = isfinite(r[i].attackers[k].seconds) ? r[i].attackers[k].seconds : 0;
            for (int q = 0; q < nn; q++)
                if (!strcmp(names[q], r[i].attackers[k].name)) own[q] += sec;
            total += sec;
            if (!strcmp(r[i].attackers[k].name, "paper-mlp")) paper += sec;
        }
    for (int q = 0; q < nn; q++) {
        veil_strbuf_printf(b, "| %s |", names[q]);
        for (int g = 0; g <= VEIL_MAX_GROUPS; g++) {
            if (!has_g[g]) continue;
            double sum = 0;
            int jobs = 0;
            for (size_t i = 0; i < n; i++) {
                if (r[i].groups != g || r[i].n_attack_groups < 1) continue;
                for (int k = 0; k < r[i].n_attackers; k++)
                    if (!strcmp(r[i].attackers[k].name, names[q]) && isfinite(r[i].attackers[k].seconds)) {
                        sum += r[i].attackers[k].seconds / r[i].n_attack_groups;
                        jobs++;
                    }
            }
            if (jobs) veil_strbuf_printf(b, " %.1f |", sum / jobs);
            else veil_strbuf_printf(b, " – |");
        }
        veil_strbuf_printf(b, " %.0f %% |\n", total > 0 ? 100 * own[q] / total : 0.0);
    }
    if (paper > 0)
        veil_strbuf_printf(b, "\nThe whole battery took %.1f times the paper's MLP alone (%.0f s against %.0f s over "
                              "the jobs).\n\n", total / paper, total, paper);
    else veil_strbuf_printf(b, "\n");
    free(own);
}

/* "12.3 ± 1.0", "–" for NaN */
static const char *cell(veil_stat v, int runs, char *buf, size_t n)
{
    if (!isfinite(v.mean)) snprintf(buf, n, "–");
    else stat_text(v, runs, 1, buf, n);
    return buf;
}

/* The battery per extractor: the strongest attacker by each measure, then every attacker. */
/* The task's name in the report's words: "gender" unless the run recognised another label. */
static const char *task_name(const veil_report_info *info)
{
    return info->task && info->task[0] ? info->task : "gender";
}
static int task_is_gender(const veil_report_info *info) { return !strcmp(task_name(info), "gender"); }
/* The chance of an attacker who knows a test speaker's class: 2/St for gender, else the
 * jobs' mean of (classes in a group) / St. In percent. */
static double knowing_chance(const veil_report_info *info, int st)
{
    return task_is_gender(info) || !isfinite(info->label_chance) ? 200.0 / st : 100 * info->label_chance;
}

/* An attacker's name, with its runs when they are fewer than its extractor's (an attacker
 * added after the run on some of the jobs). */
static const char *attacker_label(const veil_summary_row *w, int q, char *buf, size_t n)
{
    const veil_row_attacker *a = &w->attackers[q];
    if (a->runs < w->runs) snprintf(buf, n, "%s, %d of %d runs", a->name, a->runs, w->runs);
    else snprintf(buf, n, "%s", a->name);
    return buf;
}

/* One cell of the strongest-attacker table: attacker q's stat (an offset into
 * veil_row_attacker) and its name, "–" when the row has none; then end. */
static void strongest_cell(veil_strbuf *b, const veil_summary_row *w, int q, size_t stat, const char *end)
{
    if (q < 0) {
        veil_strbuf_printf(b, "–%s", end);
        return;
    }
    const veil_row_attacker *a = &w->attackers[q];
    char v[48], l[80];
    veil_strbuf_printf(b, "%s (%s)%s", cell(*(const veil_stat *)((const char *)a + stat), a->runs, v, sizeof v),
                       attacker_label(w, q, l, sizeof l), end);
}

static void attackers_section(veil_strbuf *b, const veil_report_info *info, const veil_summary *s, int st)
{
    int any = 0;
    for (int i = 0; i < s->n_rows; i++) any |= s->rows[i].n_attackers > 0;
    if (!any) return;
    veil_strbuf_printf(b, "## Attackers\n\nEvery attacker of the battery on the same groups of St = %d unseen speakers "
                          "(docs/audit.md says what each does). Identification: accuracy per patch and per "
                          "utterance (%%; chance 1/St = %.1f %%, %.1f %% for an attacker who knows the %s). "
                          "Every number per utterance is on whole held-out utterances (each speaker's utterances "
                          "split 70/30); paper-mlp and paper-mlp-std keep the paper's patch split and score per "
                          "patch only. Verification: equal error rate (%%, chance 50 %%) with its bootstrap 95 %% "
                          "interval, and minDCF (P_target 0.01; 1 = no better than chance). A privacy number is "
                          "only as good as the strongest attack tried: the first table names it.\n\n",
                       st, 100.0 / st, knowing_chance(info, st), task_name(info));
    if (info->audits)
        veil_strbuf_printf(b, "Attackers added after the run, from audits of its saved models (`veil audit --model "
                              "OUT/models/M --experiment OUT --job N --out OUT/NAME`, the job's groups and seeds; "
                              "their numbers are in each audit.json, not in results.jsonl). An attacker scored on "
                              "fewer of an extractor's runs than the others says so beside its name.\n\n%s\n",
                           info->audits);
    veil_strbuf_printf(b, "### Strongest attacker per extractor\n\n| method | G | knob | paper-mlp per patch | "
                          "strongest per patch | strongest per utterance | lowest EER, all trials | lowest EER, same gender "
                          "|\n|---|---:|---|---:|---|---|---|---|\n");
    for (int i = 0; i < s->n_rows; i++) {
        const veil_summary_row *w = &s->rows[i];
        if (!w->n_attackers) continue;
        /* pu, ps: summarise_attackers chose them */
        int pa = -1, pu = w->strongest_index, pe = -1, ps = w->same_gender_index;
        for (int q = 0; q < w->n_attackers; q++) {
            const veil_row_attacker *a = &w->attackers[q];
            if (isfinite(a->acc.mean) && (pa < 0 || a->acc.mean > w->attackers[pa].acc.mean)) pa = q;
            int same = !strcmp(a->name, "verify-same-gender");
            if (isfinite(a->eer.mean) && !same && (pe < 0 || a->eer.mean < w->attackers[pe].eer.mean)) pe = q;
        }
        char k[48], c1[48];
        veil_strbuf_printf(b, "| %s | %d | %s | %s | ", veil_method_name(w->method), w->groups, knob_text(w, k, sizeof k),
                           cell(w->attack, w->runs, c1, sizeof c1));
        strongest_cell(b, w, pa, offsetof(veil_row_attacker, acc), " | ");
        strongest_cell(b, w, pu, offsetof(veil_row_attacker, acc_utt), " | ");
        strongest_cell(b, w, pe, offsetof(veil_row_attacker, eer), " | ");
        strongest_cell(b, w, ps, offsetof(veil_row_attacker, eer_same_gender), " |\n");
    }
    if (info->attackers_figure) veil_strbuf_printf(b, "\n![](%s)\n", info->attackers_figure);
    veil_strbuf_printf(b, "\n### Every attacker\n\nMean over the groups of a job, then mean ± std over its runs.\n\n"
                          "| method | G | knob | attacker | per patch | per utterance | EER | EER 95 %% CI | minDCF | "
                          "EER, same gender | runs |\n"
                          "|---|---:|---|---|---:|---:|---:|---|---:|---:|---:|\n");
    for (int i = 0; i < s->n_rows; i++) {
        const veil_summary_row *w = &s->rows[i];
        for (int q = 0; q < w->n_attackers; q++) {
            const veil_row_attacker *a = &w->attackers[q];
            char k[48], c1[48], c2[48], c3[48], c4[48], ci[64] = "–", dcf[32] = "–";
            if (isfinite(a->eer_lo.mean) && isfinite(a->eer_hi.mean))
                snprintf(ci, sizeof ci, "[%.1f, %.1f]", a->eer_lo.mean, a->eer_hi.mean);
            if (isfinite(a->min_dcf.mean)) snprintf(dcf, sizeof dcf, "%.3f", a->min_dcf.mean);
            veil_strbuf_printf(b, "| %s | %d | %s | %s | %s | %s | %s | %s | %s | %s | %d |\n", veil_method_name(w->method),
                               w->groups, knob_text(w, k, sizeof k), a->name, cell(a->acc, a->runs, c1, sizeof c1),
                               cell(a->acc_utt, a->runs, c2, sizeof c2), cell(a->eer, a->runs, c3, sizeof c3), ci, dcf,
                               cell(a->eer_same_gender, a->runs, c4, sizeof c4), a->runs);
        }
    }
    veil_strbuf_printf(b, "\n");
}

/* Every extractor against the strongest attacks: the frontier figure and its table, with
 * the goal of issue 19 (gender >= 93 %, strongest per utterance <= 20 %, every
 * same-gender EER >= 40 %). */
static void frontier_section(veil_strbuf *b, const veil_report_info *info, const veil_summary *s)
{
    int any = 0;
    for (int i = 0; i < s->n_rows; i++) any |= s->rows[i].strongest_index >= 0;
    if (!any) return;
    veil_strbuf_printf(b, "## Frontier\n\nWhat each extractor keeps (%s test accuracy) against what the strongest "
                          "attacks still find: the strongest identification attacker per utterance (whole held-out "
                          "utterances) and the lowest same-gender verification EER of any attacker (chance 50 %%). "
                          "Every method and knob value (methods with a knob at G = %d). The goal: %s test "
                          "≥ 93 %%, strongest per utterance ≤ 20 %%, every same-gender EER ≥ 40 %%.\n\n",
                       task_name(info), info->sweep_groups, task_name(info));
    if (info->frontier) veil_strbuf_printf(b, "![](%s)\n\n", info->frontier);
    veil_strbuf_printf(b, "| method | G | knob | runs | %s test | strongest per utterance | lowest same-gender EER "
                          "| goal |\n|---|---:|---|---:|---:|---|---|---|\n", task_name(info));
    for (int i = 0; i < s->n_rows; i++) {
        const veil_summary_row *w = &s->rows[i];
        const veil_train_method *m = veil_train_method_by_id(w->method);
        if (w->strongest_index < 0 || (m && m->knob && w->groups != info->sweep_groups)) continue;
        int e = w->same_gender_index;
        char k[48], c[48], d[48], f[48], l[80];
        const veil_row_attacker *su = &w->attackers[w->strongest_index];
        int met = w->gender_test.mean >= 93 && su->acc_utt.mean <= 20 && e >= 0 &&
                  w->attackers[e].eer_same_gender.mean >= 40;
        veil_strbuf_printf(b, "| %s | %d | %s | %d | %s | %s (%s) | ", veil_method_name(w->method), w->groups,
                           knob_text(w, k, sizeof k), w->runs, stat_text(w->gender_test, w->runs, 1, c, sizeof c),
                           stat_text(su->acc_utt, su->runs, 1, d, sizeof d),
                           attacker_label(w, w->strongest_index, l, sizeof l));
        if (e >= 0)
            veil_strbuf_printf(b, "%s (%s) | ", stat_text(w->attackers[e].eer_same_gender, w->attackers[e].runs, 1, f, sizeof f),
                               attacker_label(w, e, l, sizeof l));
        else veil_strbuf_printf(b, "– | ");
        veil_strbuf_printf(b, "%s |\n", met ? "**met**" : "no");
    }
    veil_strbuf_printf(b, "\n");
}

int veil_report_write_md(const char *path, const veil_report_info *info, const veil_summary *s,
                         const veil_job_result *r, size_t n)
{
    veil_strbuf b = {0};
    int st = info->st > 0 ? info->st : 20;
    char task_upper[32];
    snprintf(task_upper, sizeof task_upper, "%s", task_name(info));
    task_upper[0] = (char)toupper((unsigned char)task_upper[0]);
    veil_strbuf_printf(&b, "# veil experiment report\n\n");
    veil_strbuf_printf(&b, "Reproduction of Nelus et al., \"Privacy-preserving Siamese feature extraction for "
                           "gender recognition versus speaker identification\" (Interspeech 2019), "
                           "Figures 3 and 4. veil %s.\n\n", VEIL_VERSION);
    if (!task_is_gender(info))
        veil_strbuf_printf(&b, "**Task: %s** (%d classes) in place of the paper's gender: the service recognises "
                               "the speaker's %s, and every \"%s\" column below is that task's accuracy "
                               "(docs/protocol.md, \"Tasks\"). The paper's numbers are for gender and are not "
                               "shown.\n\n", task_name(info), info->n_classes, task_name(info), task_name(info));
    if (info->config_markdown) veil_strbuf_printf(&b, "## Configuration\n\n%s\n", info->config_markdown);

    int total_collapsed = 0;
    for (size_t i = 0; i < n; i++) total_collapsed += r[i].collapsed != 0;
    int max_runs = 0;
    for (int i = 0; i < s->n_rows; i++)
        if (s->rows[i].runs > max_runs) max_runs = s->rows[i].runs;
    if (max_runs > 1)
        veil_strbuf_printf(&b, "## Summary\n\nMean ± standard deviation over the cross-validation iterations "
                               "(\"runs\"; a row of one run shows its value alone). ");
    else
        veil_strbuf_printf(&b, "## Summary\n\nOne cross-validation iteration: each cell is that run's value "
                               "(no spread to show). ");
    veil_strbuf_printf(&b, "Accuracies in %%; \"paper\" columns are the numbers stated in the "
                           "paper's text (– where it gives a number only in its figure). \"knob\" is the "
                           "setting a method sweeps (every value is a row).\n\n");
    if (total_collapsed)
        veil_strbuf_printf(&b, "**WARNING: %d run(s) collapsed** (the extractor mapped every input to nearly "
                               "the same point). They are averaged into their rows, which are marked "
                               "⚠ below; see \"Collapsed runs\".\n\n", total_collapsed);
    veil_strbuf_printf(&b, "| method | G | knob | runs | %s eval | %s test | paper %s | attacker | "
                           "paper attacker | epochs | seconds | collapsed |\n", task_name(info), task_name(info),
                       task_name(info));
    veil_strbuf_printf(&b, "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---|\n");
    for (int i = 0; i < s->n_rows; i++) {
        const veil_summary_row *w = &s->rows[i];
        double pg, pa;
        paper_numbers(w->method, w->groups, &pg, &pa);
        if (!task_is_gender(info)) pg = pa = NAN; /* the paper's numbers are gender's */
        char a[48], c[48], d[48], e[48], f[48], g[16], h[16], k[48];
        veil_strbuf_printf(&b, "| %s%s | %d | %s | %d | %s | %s | %s | %s | %s | %s | %s | %s",
                           w->collapsed ? "⚠ " : "", veil_method_name(w->method), w->groups,
                           knob_text(w, k, sizeof k), w->runs,
                           stat_text(w->gender_eval, w->runs, 1, a, sizeof a), stat_text(w->gender_test, w->runs, 1, c, sizeof c),
                           num_or_dash(pg, g, sizeof g), stat_text(w->attack, w->runs, 1, d, sizeof d),
                           num_or_dash(pa, h, sizeof h), stat_text(w->epochs, w->runs, 1, e, sizeof e),
                           stat_text(w->seconds, w->runs, 1, f, sizeof f), w->collapsed ? "" : "0 |\n");
        if (w->collapsed) veil_strbuf_printf(&b, "**%d of %d COLLAPSED** |\n", w->collapsed, w->runs);
    }
    /* gender chance: the majority share of the gender-testing patches, as the jobs recorded it */
    double gm = 0;
    int ngm = 0;
    for (size_t i = 0; i < n; i++)
        if (isfinite(r[i].gender_test_majority)) {
            gm += r[i].gender_test_majority;
            ngm++;
        }
    char gchance[160];
    if (ngm) snprintf(gchance, sizeof gchance, "%.1f %% (the majority %s's share of the %s-testing patches)",
                      100 * gm / ngm, task_name(info), task_name(info));
    else snprintf(gchance, sizeof gchance, "the majority %s's share of the %s-testing patches (not recorded)",
                  task_name(info), task_name(info));
    if (task_is_gender(info))
        veil_strbuf_printf(&b, "\nChance levels with St = %d speakers per attacker group: an attacker guessing "
                               "at random scores 1/St = %.1f %%; one who knows the gender and guesses among "
                               "that gender's St/2 speakers, 2/St = %.1f %%. Gender chance: %s. The paper "
                               "reports the reference at 95 %% gender / 65 %% attacker, the "
                               "Siamese extractor at G = 1 with a 33 %% attacker, and at G = 5 with 94 %% "
                               "gender / 11 %% attacker (TIMIT, St = 20).\n\n",
                           st, 100.0 / st, 200.0 / st, gchance);
    else
        veil_strbuf_printf(&b, "\nChance levels with St = %d speakers per attacker group: an attacker guessing "
                               "at random scores 1/St = %.1f %%; one who knows the %s and guesses among "
                               "the group's speakers of that %s, %.1f %% (the mean over the groups of "
                               "(%s classes in the group) / St). %s chance (a recogniser that always answers "
                               "the most common class): %s.\n\n",
                           st, 100.0 / st, task_name(info), task_name(info), knowing_chance(info, st),
                           task_name(info), task_upper, gchance);

    frontier_section(&b, info, s);

    /* each method's knob: every value of iteration 0 with its trade-off on non-test data */
    int count;
    const veil_train_method *const *ms = veil_train_methods(&count);
    int any_knob = 0;
    for (int q = 0; q < count; q++) {
        const veil_train_method *m = ms[q];
        double v[64], scores[64], chosen;
        int nv = m->knob ? knob_values_run(r, n, m->id, info->sweep_groups, v, 64) : 0;
        if (!nv) continue;
        if (!any_knob)
            veil_strbuf_printf(&b, "## Selected knob per method\n\nEach method with a knob runs every value on "
                                   "iteration 0 (G = %d) and the selected one on later iterations. Selected: the "
                                   "largest trade-off = %s-evaluation accuracy − the attacker's accuracy on "
                                   "the attacker-validation group (St speakers outside every test group), both "
                                   "on iteration 0; test data never chooses (docs/protocol.md).\n\n",
                               info->sweep_groups, task_name(info));
        any_knob = 1;
        int ok = veil_select_knob(r, n, m->id, info->sweep_groups, v, nv, &chosen, scores) == 0;
        veil_strbuf_printf(&b, "**%s** (%s): ", m->name, m->knob);
        /* a sweep still running has a best value so far, not a selection: the later
         * iterations wait for the rest */
        if (ok && info->swept[m->id] > nv)
            veil_strbuf_printf(&b, "best so far %s = %g (%d of the %d swept values run; the selection waits for "
                                   "the rest)\n\n", m->knob, chosen, nv, info->swept[m->id]);
        else if (ok) veil_strbuf_printf(&b, "selected %s = %g%s\n\n", m->knob, chosen,
                                        nv == 1 ? " (the only value run)" : "");
        else veil_strbuf_printf(&b, "no selection yet (a value's iteration-0 result is missing)\n\n");
        veil_strbuf_printf(&b, "| %s | %s eval (it. 0) | attacker validation (it. 0) | trade-off | %s test "
                               "| attacker test | runs |\n|---:|---:|---:|---:|---:|---:|---:|\n", m->knob,
                           task_name(info), task_name(info));
        for (int q2 = 0; q2 < nv; q2++) {
            const veil_job_result *j = NULL;
            for (size_t i = 0; i < n && !j; i++)
                if (r[i].method == m->id && r[i].groups == info->sweep_groups && r[i].iteration == 0 &&
                    knob_of(&r[i]) == v[q2])
                    j = &r[i];
            const veil_summary_row *w = veil_summary_find_knob(s, m->id, info->sweep_groups, v[q2]);
            char c[48], d[48], sc[32], av[32];
            if (isfinite(scores[q2])) snprintf(sc, sizeof sc, "%.1f", 100 * scores[q2]);
            else snprintf(sc, sizeof sc, "–");
            if (j && isfinite(j->attack_val_acc)) snprintf(av, sizeof av, "%.1f", 100 * j->attack_val_acc);
            else snprintf(av, sizeof av, "–");
            veil_strbuf_printf(&b, "| %s%g%s | %.1f | %s | %s | %s | %s | %d |\n", ok && v[q2] == chosen ? "**" : "",
                               v[q2], ok && v[q2] == chosen ? "**" : "", j ? 100 * j->gender_eval_acc : NAN, av, sc,
                               w ? stat_text(w->gender_test, w->runs, 1, c, sizeof c) : "–",
                               w ? stat_text(w->attack, w->runs, 1, d, sizeof d) : "–", w ? w->runs : 0);
        }
        veil_strbuf_printf(&b, "\n");
    }

    if (info->figure4) {
        const veil_summary_row *rows[VEIL_METHOD_SLOTS];
        int nr = veil_figure4_rows(s, r, n, info->sweep_groups, rows);
        veil_strbuf_printf(&b, "## Figure 4\n\nAs the paper's Figure 4: %s test and attacker test accuracy of "
                               "each privacy method at its selected point (a method with a knob at the value "
                               "selected above, the Siamese extractor at G = %d, or at its largest G when that did "
                               "not run)%s. Twice: with the paper's attacker (paper-mlp, per patch), as the paper "
                               "did, and with the strongest attacker per utterance of the battery (whole held-out "
                               "utterances; named per row).\n\n"
                               "| method | G | knob | runs | %s test | paper-mlp (per patch) | strongest per "
                               "utterance |\n|---|---:|---|---:|---:|---:|---|\n",
                           task_name(info), info->sweep_groups, max_runs > 1 ? ", mean ± std over iterations" : "",
                           task_name(info));
        for (int i = 0; i < nr; i++) {
            char c[48], d[48], k[48], e[48];
            const veil_summary_row *w = rows[i];
            veil_strbuf_printf(&b, "| %s | %d | %s | %d | %s | %s | ", veil_method_name(w->method), w->groups,
                               knob_text(w, k, sizeof k), w->runs, stat_text(w->gender_test, w->runs, 1, c, sizeof c),
                               stat_text(w->attack, w->runs, 1, d, sizeof d));
            if (w->strongest_index >= 0)
                veil_strbuf_printf(&b, "%s (%s) |\n", stat_text(w->strongest, w->runs, 1, e, sizeof e),
                                   w->attackers[w->strongest_index].name);
            else veil_strbuf_printf(&b, "– |\n");
        }
        veil_strbuf_printf(&b, "\nWith the paper's attacker:\n\n![](%s)\n\n", info->figure4);
        if (info->figure4_strongest)
            veil_strbuf_printf(&b, "With the strongest attacker per utterance:\n\n![](%s)\n\n", info->figure4_strongest);
    }
    if (info->tradeoff)
        veil_strbuf_printf(&b, "## Trade-off\n\nAttacker test accuracy (x) against %s test accuracy (y): one "
                               "point per knob value (methods with a knob, G = %d), per G (Siamese), the "
                               "reference alone; up and left is better. With the paper's attacker per patch:"
                               "\n\n![](%s)\n\n",
                           task_name(info), info->sweep_groups, info->tradeoff);
    if (info->tradeoff_strongest)
        veil_strbuf_printf(&b, "With the strongest attacker per utterance (each point its own strongest):\n\n![](%s)\n\n",
                           info->tradeoff_strongest);
    attackers_section(&b, info, s, st);
    if (info->figure)
        veil_strbuf_printf(&b, "## Figure 3\n\n%s test and attacker accuracy vs. the number of CNN groups "
                               "G for the Siamese extractor%s, the reference (G = 1, no Siamese "
                               "training) as dashed lines, chance levels dotted.\n\n![](%s)\n\n",
                           task_upper, max_runs > 1 ? " (± std)" : "", info->figure);
    if (info->figure && info->figure3_strongest)
        veil_strbuf_printf(&b, "With the strongest attacker per utterance of the battery (each point its own "
                               "strongest, whole held-out utterances), where the paper's attacker scores single "
                               "patches:\n\n![](%s)\n\n",
                           info->figure3_strongest);
    if (info->extractors)
        veil_strbuf_printf(&b, "## %s vs. attacker per extractor\n\nFor each extractor of the grid (every "
                               "method, G and knob value), the %s test and attacker accuracy side by "
                               "side.\n\n![](%s)\n\n", task_upper, task_name(info), info->extractors);

    veil_strbuf_printf(&b, "## Runs\n\nOne row per job; \"attacker per group\" lists the attacker's accuracy "
                           "on each group of St speakers (the attacker column is their mean).\n\n");
    veil_strbuf_printf(&b, "| method | G | knob | iteration | %s eval | %s test | attacker | attacker per "
                           "group | epochs | final loss | z spread | seconds | collapsed |\n", task_name(info),
                       task_name(info));
    veil_strbuf_printf(&b, "|---|---:|---|---:|---:|---:|---:|---|---:|---:|---:|---:|---|\n");
    const veil_job_result **sorted = veil_malloc((n ? n : 1) * sizeof *sorted);
    for (size_t i = 0; i < n; i++) sorted[i] = &r[i];
    qsort(sorted, n, sizeof *sorted, run_order);
    for (size_t i = 0; i < n; i++) {
        const veil_job_result *j = sorted[i];
        char kt[48] = "";
        const veil_train_method *jm = veil_train_method_by_id(j->method);
        if (jm && jm->knob) snprintf(kt, sizeof kt, "%s=%g", jm->knob, knob_of(j));
        veil_strbuf_printf(&b, "| %s%s | %d | %s | %d | %.1f | %.1f | %.1f | ", j->collapsed ? "⚠ " : "",
                           veil_method_name(j->method), j->groups, kt, j->iteration, 100 * j->gender_eval_acc,
                           100 * j->gender_test_acc, 100 * j->attack_acc_mean);
        for (int k = 0; k < j->n_attack_groups; k++)
            veil_strbuf_printf(&b, "%s%.1f", k ? " " : "", 100 * j->attack_acc[k]);
        veil_strbuf_printf(&b, " | %d | %.4g | %.4g | %.1f | %s |\n", j->epochs_run, j->final_loss, j->z_spread,
                           j->seconds, j->collapsed ? "**COLLAPSED**" : "");
    }
    free(sorted);
    veil_strbuf_printf(&b, "\n");
    stage_table(&b, r, n);
    attacker_cost_table(&b, r, n);
    veil_strbuf_printf(&b, "## Collapsed runs\n\n");
    if (!total_collapsed) veil_strbuf_printf(&b, "None.\n");
    for (size_t i = 0; i < n; i++)
        if (r[i].collapsed)
            veil_strbuf_printf(&b, "- %s G=%d iteration %d: %s (%s test %.1f %%, attacker %.1f %%)\n",
                               veil_method_name(r[i].method), r[i].groups, r[i].iteration,
                               r[i].collapse_reason[0] ? r[i].collapse_reason : "no reason recorded",
                               task_name(info), 100 * r[i].gender_test_acc, 100 * r[i].attack_acc_mean);
    int rc = veil_write_atomic(path, write_text, b.s);
    free(b.s);
    return rc;
}
