/* report: summary statistics with a collapsed run, summary.csv read back, report.md rows,
 * Figure 3 as PNG (read back by cairo) and SVG, results.jsonl with a torn last line. */
#include <cairo.h>
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "veil/common.h"
#include "veil/experiment.h"
#include "veil/report.h"
#include "research/train/method.h"

/* fontconfig (under cairo's toy text API) keeps parts of its parsed configuration
 * unreachable at exit; that is the library's, not ours. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void) { return "leak:libfontconfig.so\n"; }

static veil_job_result fake(veil_method m, int g, int it, double ge, double gt, double a1, double a2,
                            int epochs, double secs, int collapsed)
{
    veil_job_result r;
    memset(&r, 0, sizeof r);
    r.method = m;
    r.groups = g;
    r.iteration = it;
    r.seed = 1000u + (unsigned)(10 * g + it);
    r.gender_eval_acc = ge;
    r.gender_test_acc = gt;
    r.n_attack_groups = 2;
    r.attack_acc = veil_malloc(2 * sizeof(double));
    r.attack_acc[0] = a1;
    r.attack_acc[1] = a2;
    r.attack_acc_mean = (a1 + a2) / 2;
    r.epochs_run = epochs;
    r.final_loss = 0.25;
    r.z_spread = collapsed ? 1e-7 : 0.5;
    r.collapsed = collapsed;
    if (collapsed) snprintf(r.collapse_reason, sizeof r.collapse_reason, "z spread 1e-07 below 1e-4");
    r.seconds = secs;
    veil_train_config tc;
    veil_train_config_paper(&tc);
    r.settings = tc.method[m];
    r.stages = (veil_job_stages){0.5 * secs, 0.1 * secs, 0.1 * secs, 0.05 * secs, 0.2 * secs, it == 0 ? 2 : 0};
    r.gender_test_majority = 0.69;
    r.attack_val_acc = NAN;
    return r;
}

/* an adversarial job at G = 5 with its lambda and the validation attacker's accuracy */
static veil_job_result fake_adv(double lambda, int it, double ge, double gt, double a, double val)
{
    veil_job_result r = fake(2, 5, it, ge, gt, a, a, 10, 30, 0);
    CHECK(veil_method_set_knob(&r.settings, 2, lambda) == 0);
    r.attack_val_acc = val;
    return r;
}

/* line with the value of "key" replaced by value (scalars only); malloc'd */
static char *set_field(const char *line, const char *key, const char *value)
{
    char pat[64];
    snprintf(pat, sizeof pat, "\"%s\":", key);
    const char *at = strstr(line, pat);
    if (!at) return veil_strdup(line);
    at += strlen(pat);
    const char *end = at + strcspn(at, ",}");
    veil_strbuf b = {0};
    veil_strbuf_printf(&b, "%.*s%s%s", (int)(at - line), line, value, end);
    return b.s;
}

/* results.jsonl: every complete line valid, each job once, or the file is refused with the
 * line number (issue 11: each of these used to be counted, silently wrong). */
static void expect_refused(const char *file_text, const veil_results_rules *rules, const char *why)
{
    char *copy = veil_strdup(file_text);
    veil_job_result *r = NULL;
    size_t n = 0;
    int torn = 0;
    CHECK_FAILS_WITH(veil_results_parse("R", copy, strlen(copy), rules, &r, &n, NULL, &torn), why);
    CHECK(r == NULL && n == 0);
    free(copy);
}

static void check_line_rules(const char *dir)
{
    veil_job_result a = fake(VEIL_METHOD_SIAMESE, 3, 1, 0.9, 0.8, 0.25, 0.35, 5, 1.5, 0);
    veil_results_rules rules = {3, 1, 7, 1, VEIL_PREC_FP32, NULL};
    a.seed = veil_experiment_job_seed(7, a.method, a.groups, a.iteration);
    a.precision = VEIL_PREC_FP32;
    char *ok = veil_job_result_to_json(&a);
    veil_strbuf text = {0};
    veil_strbuf_printf(&text, "%s\n", ok);
    veil_job_result *r = NULL;
    size_t n = 0, good = 0;
    int torn = 0;
    char *copy = veil_strdup(text.s);
    CHECK(veil_results_parse("R", copy, strlen(copy), &rules, &r, &n, &good, &torn) == 0 && n == 1 && !torn);
    veil_results_free(r, n);
    free(copy);

    veil_strbuf dup = {0};
    veil_strbuf_printf(&dup, "%s\n\n%s\n", ok, ok);
    expect_refused(dup.s, &rules, "R line 3: siamese G=3 iteration 1 is already on line 1");
    free(dup.s);

    struct { const char *key, *value, *why; } bad[] = {
        {"gender_test_acc", "5.0", "R line 1: \"gender_test_acc\" is 5, outside 0..1"},
        {"attack_acc_mean", "-3", "\"attack_acc_mean\" is -3, outside 0..1"},
        {"gender_eval_acc", "\"x\"", "\"gender_eval_acc\" is \"x\", expected an accuracy in 0..1 or null"},
        {"groups", "7", "\"groups\" is 7, outside 1..5"},
        {"iteration", "-1", "\"iteration\" is -1, outside 0.."},
        {"iteration", "1.5", "not a whole number"},
        {"seed", "12345", "but the grid's seed 7 gives this job"},
        {"precision", "\"bf16\"", "\"precision\" is bf16, but config.json resolved fp32"},
        {"attack_acc_mean", "0.5", "but the mean of \"attack_acc\" is 0.2"},
        {"method", "\"\"", "unknown \"method\""},
        {"collapsed", "1", "\"collapsed\" is 1, expected true or false"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *line = set_field(ok, bad[i].key, bad[i].value);
        veil_strbuf t = {0};
        veil_strbuf_printf(&t, "%s\n", line);
        expect_refused(t.s, &rules, bad[i].why);
        free(t.s);
        free(line);
    }
    /* the iteration outside the grid's cv, a missing field, a repeated key, not JSON */
    veil_results_rules cv1 = rules;
    cv1.cv = 1;
    cv1.have_seed = 0;
    expect_refused(text.s, &cv1, "\"iteration\" is 1, but the grid has 1 cross-validation iteration(s)");
    char *line = set_field(ok, "seed", "1,\"seed\":2");
    veil_strbuf t = {0};
    veil_strbuf_printf(&t, "%s\n", line);
    expect_refused(t.s, NULL, "\"seed\" is given twice");
    free(t.s);
    free(line);
    expect_refused("{\"method\": \"siamese\"}\n", NULL, "\"groups\" is missing");
    expect_refused("[1, 2]\n", NULL, "R line 1: not a JSON object");
    /* a complete line that does not parse stops everything, even when it is the last */
    veil_strbuf last = {0};
    veil_strbuf_printf(&last, "%s\n{\"method\": \"sia\n", ok);
    expect_refused(last.s, &rules, "R line 2: not a JSON object");
    free(last.s);
    /* ...but a last line without its newline is torn: left out, not an error */
    veil_strbuf tail = {0};
    veil_strbuf_printf(&tail, "%s\n{\"method\": \"sia", ok);
    CHECK(veil_results_parse("R", tail.s, tail.len, &rules, &r, &n, &good, &torn) == 0 && n == 1 && torn == 1);
    CHECK(good == strlen(ok) + 1);
    veil_results_free(r, n);
    free(tail.s);

    /* the line's method settings against config.json's method_settings */
    {
        cJSON *line = cJSON_Parse(ok), *all = cJSON_CreateObject();
        cJSON_AddItemToObject(all, "siamese", cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(line, "settings"), 1));
        veil_results_rules rs = rules;
        rs.method_settings = cJSON_PrintUnformatted(all);
        copy = veil_strdup(text.s);
        CHECK_MSG(veil_results_parse("R", copy, strlen(copy), &rs, &r, &n, NULL, &torn) == 0 && n == 1, "%s",
                  veil_last_error());
        veil_results_free(r, n);
        free(copy);
        cJSON *margin = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(all, "siamese"), "margin");
        CHECK(margin != NULL);
        if (margin) cJSON_SetNumberValue(margin, 2.5);
        veil_results_rules_free(&rs);
        rs.method_settings = cJSON_PrintUnformatted(all);
        expect_refused(text.s, &rs, "differ from config.json's method_settings.siamese");
        veil_results_rules_free(&rs);
        cJSON_Delete(line);
        cJSON_Delete(all);
    }

    /* the summary counts each job once */
    veil_job_result two[2] = {a, a};
    veil_summary s;
    CHECK_FAILS_WITH(veil_summary_make(two, 2, &s), "appears twice");

    /* config.json: the fields the rules come from */
    veil_results_rules got;
    CHECK(veil_config_json_check("C", "{\"cv\": 3, \"seed\": 7, \"precision\": {\"resolved\": \"bf16\"}, "
                                      "\"protocol\": {\"train_speakers\": 20}, \"groups\": [1, 5], "
                                      "\"methods\": [\"reference\", \"siamese\"]}", &got) == 0);
    CHECK(got.cv == 3 && got.seed == 7 && got.have_seed && got.precision == VEIL_PREC_BF16);
    veil_results_rules_free(&got);
    CHECK_FAILS_WITH(veil_config_json_check("C", "{\"cv\": 0}", &got), "C: \"cv\" is 0, outside 1..1000");
    CHECK_FAILS_WITH(veil_config_json_check("C", "{\"cv\": 2.5}", &got), "C: \"cv\" is 2.5, not a whole number");
    CHECK_FAILS_WITH(veil_config_json_check("C", "{\"seed\": 7}", &got), "C: \"cv\" is missing");
    /* seeds from the text, exact beyond 2^53 */
    CHECK(veil_config_json_check("C", "{\"cv\": 3, \"seed\": 9007199254740993, \"precision\": {\"resolved\": "
                                      "\"fp32\"}, \"protocol\": {\"train_speakers\": 20}, \"groups\": [1], "
                                      "\"methods\": [\"siamese\"]}", &got) == 0);
    CHECK(got.have_seed && got.seed == 9007199254740993ull);
    veil_results_rules_free(&got);
    CHECK_FAILS_WITH(veil_config_json_check("C", "{\"cv\": 3, \"seed\": 18446744073709551616}", &got),
                     "\"seed\" is 18446744073709551616, not a whole number in 0..18446744073709551615");
    CHECK_FAILS_WITH(veil_config_json_check("C", "{\"cv\": 3, \"seed\": 7, \"precision\": {\"resolved\": \"auto\"}}",
                                            &got), "not fp32 or bf16");
    CHECK_FAILS_WITH(veil_config_json_check("C", "{\"cv\": 3,", &got), "C: not valid JSON");
    (void)dir;
    free(text.s);
    free(ok);
    veil_job_result_free(&a);
}

/* One data row of summary.csv for (method, G): the numeric fields after the method. */
/* v: groups, runs, collapsed, then mean/std pairs */
static int csv_row(const char *csv, const char *method, int groups, double v[13])
{
    const char *line = csv;
    while (line && *line) {
        char m[32];
        int g;
        if (sscanf(line, "%31[^,],%d,", m, &g) == 2 && !strcmp(m, method) && g == groups) {
            const char *p = strchr(line, ',') + 1;
            for (int i = 0; i < 13; i++) {
                char *end;
                v[i] = strtod(p, &end);
                if (end == p) return -1;
                p = end + (*end == ',');
            }
            return 0;
        }
        line = strchr(line, '\n');
        if (line) line++;
    }
    return -1;
}

int main(void)
{
    const char *dir = test_tmpdir("report");
    char path[4200];

    /* ---- statistics ---- */
    double xs[] = {1, 2, 3, 4};
    veil_stat st = veil_stat_of(xs, 4);
    CHECK_NEAR(st.mean, 2.5, 1e-12);
    CHECK_NEAR(st.std, sqrt(5.0 / 3.0), 1e-12); /* sample std, n - 1 */
    st = veil_stat_of(xs, 1);
    CHECK(st.mean == 1 && st.std == 0);

    veil_job_result r[12];
    int n = 0;
    r[n++] = fake(VEIL_METHOD_SIAMESE, 3, 0, 0.90, 0.92, 0.20, 0.30, 20, 100, 0);
    r[n++] = fake(VEIL_METHOD_REFERENCE, 1, 0, 0.96, 0.95, 0.60, 0.70, 30, 50, 0);
    r[n++] = fake(VEIL_METHOD_SIAMESE, 1, 0, 0.94, 0.93, 0.30, 0.40, 10, 60, 0);
    r[n++] = fake(VEIL_METHOD_SIAMESE, 3, 1, 0.30, 0.30, 0.05, 0.05, 6, 40, 1);
    r[n++] = fake(VEIL_METHOD_REFERENCE, 1, 1, 0.94, 0.93, 0.62, 0.66, 30, 52, 0);
    r[n++] = fake(VEIL_METHOD_SIAMESE, 1, 1, 0.96, 0.95, 0.34, 0.36, 12, 64, 0);
    r[n++] = fake(VEIL_METHOD_SIAMESE, 3, 2, 0.92, 0.94, 0.10, 0.12, 22, 110, 0);
    int n_old = n;
    /* a sweep on iteration 0 (lambda 0, 1, 10), then the selected lambda = 1 on iteration 1:
     * trade-offs 0.97-0.60 = 0.37, 0.95-0.20 = 0.75, 0.55-0.05 = 0.50. The test accuracies
     * would favour lambda = 10 (attacker 4 %): they must not choose. */
    r[n++] = fake_adv(0, 0, 0.97, 0.96, 0.65, 0.60);
    r[n++] = fake_adv(1, 0, 0.95, 0.94, 0.25, 0.20);
    r[n++] = fake_adv(10, 0, 0.55, 0.90, 0.04, 0.05);
    r[n++] = fake_adv(1, 1, 0.93, 0.92, 0.21, NAN);

    double values[3] = {0, 1, 10}, chosen = -1, scores[3];
    CHECK(veil_select_knob(r, (size_t)n, 2, 5, values, 3, &chosen, scores) == 0 && chosen == 1);
    CHECK_NEAR(scores[0], 0.37, 1e-12);
    CHECK_NEAR(scores[2], 0.50, 1e-12);
    double more[4] = {0, 1, 10, 100}; /* a value without its result: no choice yet */
    CHECK(veil_select_knob(r, (size_t)n, 2, 5, more, 4, &chosen, NULL) == -1);
    CHECK(veil_select_knob(r, (size_t)n, 2, 5, values + 2, 1, &chosen, NULL) == 0 && chosen == 10);

    veil_summary s;
    CHECK(veil_summary_make(r, (size_t)n_old, &s) == 0);
    CHECK(s.n_rows == 3);
    CHECK(s.rows[0].method == VEIL_METHOD_REFERENCE && s.rows[0].groups == 1);
    CHECK(s.rows[1].method == VEIL_METHOD_SIAMESE && s.rows[1].groups == 1);
    CHECK(s.rows[2].method == VEIL_METHOD_SIAMESE && s.rows[2].groups == 3);
    const veil_summary_row *s3 = veil_summary_find(&s, VEIL_METHOD_SIAMESE, 3);
    CHECK(s3 && s3->runs == 3 && s3->collapsed == 1);
    if (s3) {
        /* the collapsed run is averaged in (and flagged): gender test 92, 30, 94 */
        CHECK_NEAR(s3->gender_test.mean, 72.0, 1e-9);
        double d[] = {92, 30, 94};
        CHECK_NEAR(s3->gender_test.std, veil_stat_of(d, 3).std, 1e-9);
        CHECK_NEAR(s3->attack.mean, (25.0 + 5.0 + 11.0) / 3, 1e-9);
        CHECK_NEAR(s3->epochs.mean, 16.0, 1e-9);
    }
    const veil_summary_row *ref = veil_summary_find(&s, VEIL_METHOD_REFERENCE, 1);
    CHECK(ref && ref->runs == 2 && ref->collapsed == 0);
    if (ref) {
        CHECK_NEAR(ref->gender_eval.mean, 95.0, 1e-9);
        CHECK_NEAR(ref->attack.mean, 64.5, 1e-9);
        CHECK_NEAR(ref->attack.std, sqrt(2 * 0.5 * 0.5), 1e-9);
        CHECK_NEAR(ref->seconds.mean, 51.0, 1e-9);
    }
    CHECK(veil_summary_find(&s, VEIL_METHOD_SIAMESE, 5) == NULL);

    char *table = veil_summary_table(&s);
    CHECK(strstr(table, "reference") && strstr(table, "1 of 3 COLLAPSED"));
    free(table);

    /* ---- summary.csv read back ---- */
    snprintf(path, sizeof path, "%s/summary.csv", dir);
    CHECK(veil_summary_write_csv(path, &s) == 0);
    char *csv;
    CHECK(veil_read_file(path, &csv, NULL) == 0);
    CHECK(!strncmp(csv, "method,groups,runs,collapsed,gender_eval_pct_mean", 49));
    double v[13];
    CHECK(csv_row(csv, "siamese", 3, v) == 0);
    CHECK(v[1] == 3 && v[2] == 1);             /* runs, collapsed */
    CHECK_NEAR(v[5], 72.0, 1e-3);              /* gender test mean */
    CHECK_NEAR(v[7], 41.0 / 3, 1e-3);          /* attacker mean */
    CHECK(csv_row(csv, "reference", 1, v) == 0);
    CHECK(v[1] == 2 && v[2] == 0);
    CHECK_NEAR(v[3], 95.0, 1e-3);              /* gender eval mean */
    CHECK_NEAR(v[8], sqrt(0.5), 1e-3);         /* attacker std: runs at 65 and 64 */
    CHECK(csv_row(csv, "siamese", 5, v) != 0);
    free(csv);

    /* ---- report.md ---- */
    snprintf(path, sizeof path, "%s/report.md", dir);
    veil_report_info info = {.config_markdown = "- corpus: fake\n", .st = 20, .figure = "figure3.png",
                             .figure4 = "figure4.png", .tradeoff = "tradeoff.png", .extractors = "extractors.png",
                             .sweep_groups = 5, .n_classes = 2, .label_chance = NAN};
    CHECK(veil_report_write_md(path, &info, &s, r, (size_t)n_old) == 0);
    char *md;
    CHECK(veil_read_file(path, &md, NULL) == 0);
    CHECK(strstr(md, "| reference | 1 |  | 2 | 95.0 ± 1.4 | 94.0 ± 1.4 | 95 | 64.5 ± 0.7 | 65 |"));
    CHECK(strstr(md, "| siamese | 1 |  | 2 |"));
    CHECK(strstr(md, "| ⚠ siamese | 3 |  | 3 |"));
    CHECK(strstr(md, "Gender chance: 69.0 %"));
    CHECK(!strstr(md, "50 %"));
    CHECK(strstr(md, "**1 of 3 COLLAPSED**"));
    CHECK(strstr(md, "- siamese G=3 iteration 1: z spread 1e-07 below 1e-4"));
    CHECK(strstr(md, "![](figure3.png)") && strstr(md, "![](figure4.png)") && strstr(md, "![](extractors.png)"));
    CHECK(strstr(md, "1/St = 5.0 %") && strstr(md, "2/St = 10.0 %"));
    CHECK(strstr(md, "| 30.0 40.0 |")); /* per-group attacker accuracies of a run */
    /* the stage profile: reference G=1 is jobs of 50 and 52 s, I/O 2 s charged to iteration 0 */
    CHECK(strstr(md, "## Where the time went"));
    CHECK(strstr(md, "| reference | 1 | 2 | 51.0 | 10.2 | 10.2 | 5.1 | 20.4 | 2.0 | 5.1 | 104.0 |"));
    CHECK(strstr(md, "| all | | 7 | 238.0 (49 %) |"));
    free(md);

    /* ---- Figure 3 ---- */
    char png[4200], svg[4200];
    snprintf(png, sizeof png, "%s/figure3.png", dir);
    snprintf(svg, sizeof svg, "%s/figure3.svg", dir);
    CHECK(veil_plot_figure3(&s, 20, png, svg) == 0);
    cairo_surface_t *img = cairo_image_surface_create_from_png(png);
    CHECK(cairo_surface_status(img) == CAIRO_STATUS_SUCCESS);
    CHECK(cairo_image_surface_get_width(img) == 900 && cairo_image_surface_get_height(img) == 560);
    cairo_surface_destroy(img);
    char *svgtext;
    CHECK(veil_read_file(svg, &svgtext, NULL) == 0);
    CHECK(!strncmp(svgtext, "<?xml", 5) && strstr(svgtext, "<svg"));
    /* its words are text a reader can search and copy (cairo draws them as outlines): the
     * title and the axis label, rotated, in the invisible text layer before </svg> */
    char *layer = strstr(svgtext, "aria-label=\"text\"");
    CHECK(layer && strstr(layer, ">Figure 3") && strstr(layer, "transform=\"rotate(-90") &&
          strstr(layer, "</svg>") && !strstr(strstr(layer, "</svg>") + 6, "<"));
    free(svgtext);
    /* Figure 3 joins the means of the G values run (here 1 and 3: no G = 2) and draws the
     * gender chance (the majority share of the gender-testing patches): blue pixels on
     * the gender series' line half-way from G = 1 to G = 3 and on the chance line's height */
    {
        img = cairo_image_surface_create_from_png(png);
        const unsigned char *px = cairo_image_surface_get_data(img);
        int stride = cairo_image_surface_get_stride(img);
        const veil_summary_row *g1 = veil_summary_find(&s, VEIL_METHOD_SIAMESE, 1),
                               *g3 = veil_summary_find(&s, VEIL_METHOD_SIAMESE, 3),
                               *rf = veil_summary_find(&s, VEIL_METHOD_REFERENCE, 1);
        CHECK(g1 && g3 && rf && !veil_summary_find(&s, VEIL_METHOD_SIAMESE, 2));
        /* the plot's mapping (src/research/experiment/plot.c): x of G, y of a percentage */
#define FIG3_X(g) (80.0 + ((g) - 0.5) / 5.0 * 560.0)
#define FIG3_Y(p) (490.0 - (p) / 100.0 * 430.0)
        double gc = 0;
        int ngc = 0;
        const veil_summary_row *shown[3] = {rf, g1, g3};
        for (int i = 0; i < 3; i++)
            if (shown[i]->gender_majority.mean > 0) gc += shown[i]->gender_majority.mean, ngc++;
        CHECK(ngc > 0);
        gc /= ngc;
        /* blue: the gender colour (0.12, 0.40, 0.75), anti-aliased */
#define BLUE_AT(x, y) (px[(y) * stride + 4 * (x)] > px[(y) * stride + 4 * (x) + 2] + 60) /* B > R (BGRA) */
        int mid_x = (int)FIG3_X(2.0), mid_y = (int)((FIG3_Y(g1->gender_test.mean) + FIG3_Y(g3->gender_test.mean)) / 2);
        int line = 0, chance = 0;
        for (int dy = -3; dy <= 3; dy++) line |= BLUE_AT(mid_x, mid_y + dy);
        CHECK_MSG(line, "no gender line between G = 1 and G = 3 at (%d, %d)", mid_x, mid_y);
        int cy = (int)FIG3_Y(gc); /* gender_majority is a percentage */
        for (int x = 85; x < 140; x++)
            for (int dy = -2; dy <= 2; dy++) chance |= BLUE_AT(x, cy + dy);
        CHECK_MSG(chance, "no gender chance line at y %d (%.1f)", cy, gc);
        cairo_surface_destroy(img);
    }
    snprintf(png, sizeof png, "%s/extractors.png", dir);
    snprintf(svg, sizeof svg, "%s/extractors.svg", dir);
    CHECK(veil_plot_extractors(&s, 20, png, svg) == 0);
    img = cairo_image_surface_create_from_png(png);
    CHECK(cairo_surface_status(img) == CAIRO_STATUS_SUCCESS && cairo_image_surface_get_width(img) == 900);
    cairo_surface_destroy(img);
    CHECK(veil_path_exists(svg));

    /* ---- with the adversarial sweep: selection in the report, Figure 4, trade-off ---- */
    veil_summary sa;
    CHECK(veil_summary_make(r, (size_t)n, &sa) == 0);
    CHECK(sa.n_rows == 6);
    const veil_summary_row *l1 = veil_summary_find_knob(&sa, 2, 5, 1.0);
    CHECK(l1 && l1->runs == 2 && veil_summary_find_knob(&sa, 2, 5, 10.0)->runs == 1);
    CHECK(isnan(veil_summary_find(&sa, VEIL_METHOD_SIAMESE, 1)->knob));
    const veil_summary_row *rows[VEIL_METHOD_SLOTS];
    int nr = veil_figure4_rows(&sa, r, (size_t)n, 5, rows);
    /* Siamese (no G = 5 here: its largest G, 3) and adversarial at the selected lambda = 1 */
    CHECK(nr == 2 && rows[0]->method == VEIL_METHOD_SIAMESE && rows[0]->groups == 3 && rows[1] == l1);
    snprintf(png, sizeof png, "%s/figure4.png", dir);
    CHECK(veil_plot_figure4(rows, nr, 20, png, NULL) == 0);
    snprintf(png, sizeof png, "%s/tradeoff.png", dir);
    snprintf(svg, sizeof svg, "%s/tradeoff.svg", dir);
    CHECK(veil_plot_tradeoff(&sa, 5, 20, png, svg) == 0 && veil_path_exists(png) && veil_path_exists(svg));
    /* every extractor of the sweep (six bars): no row label runs into its neighbour's, so
     * the column between two slots is blank under the plot */
    snprintf(png, sizeof png, "%s/extractors-sweep.png", dir);
    CHECK(veil_plot_extractors(&sa, 20, png, NULL) == 0);
    {
        img = cairo_image_surface_create_from_png(png);
        const unsigned char *px = cairo_image_surface_get_data(img);
        int stride = cairo_image_surface_get_stride(img), ink = 0;
        double slot = (640.0 - 80.0) / sa.n_rows;
        for (int i = 1; i < sa.n_rows; i++)
            for (int y = 498; y < 540; y++) {
                const unsigned char *q = px + y * stride + 4 * (int)(80.0 + i * slot);
                ink += q[0] < 160 && q[1] < 160 && q[2] < 160;
            }
        CHECK_MSG(ink == 0, "%d dark pixels between the row labels", ink);
        cairo_surface_destroy(img);
    }
    snprintf(path, sizeof path, "%s/report-sweep.md", dir);
    CHECK(veil_report_write_md(path, &info, &sa, r, (size_t)n) == 0);
    CHECK(veil_read_file(path, &md, NULL) == 0);
    CHECK_MSG(strstr(md, "selected adv_lambda = 1\n"), "%s", md);
    CHECK(strstr(md, "| **1** | 95.0 | 20.0 | 75.0 |"));
    CHECK(strstr(md, "| adversarial | 5 | adv_lambda=1 | 2 | 93.0 ± 1.4 | 23.0 ± 2.8 |"));
    free(md);
    /* the same results under a sweep of 4 values: the best so far, not a selection */
    info.swept[2] = 4; /* the adversarial method (id 2, as fake_adv) */
    CHECK(veil_report_write_md(path, &info, &sa, r, (size_t)n) == 0);
    CHECK(veil_read_file(path, &md, NULL) == 0);
    CHECK_MSG(strstr(md, "best so far adv_lambda = 1 (3 of the 4 swept values run;"), "%s", md);
    CHECK(!strstr(md, "selected adv_lambda"));
    free(md);
    info.swept[2] = 0;
    char *csv2 = NULL;
    snprintf(path, sizeof path, "%s/summary-sweep.csv", dir);
    CHECK(veil_summary_write_csv(path, &sa) == 0 && veil_read_file(path, &csv2, NULL) == 0);
    CHECK(strstr(csv2, ",adv_lambda,10\n"));
    free(csv2);
    veil_summary_free(&sa);
    /* an unwritable destination fails with its name and leaves nothing behind */
    CHECK_FAILS_WITH(veil_plot_figure3(&s, 20, "/nonexistent-dir/f.png", NULL), "/nonexistent-dir/f.png");

    /* ---- results.jsonl: complete lines read back, a torn last line is skipped ---- */
    snprintf(path, sizeof path, "%s/results.jsonl", dir);
    FILE *f = fopen(path, "wb");
    for (int i = 0; i < 3; i++) {
        char *line = veil_job_result_to_json(&r[i]);
        fprintf(f, "%s\n", line);
        free(line);
    }
    char *last = veil_job_result_to_json(&r[3]);
    fwrite(last, 1, strlen(last) / 2, f); /* killed in the middle of a write */
    free(last);
    fclose(f);
    veil_job_result *back = NULL;
    size_t nback = 0, good_bytes = 0;
    int bad = 0;
    CHECK(veil_results_load(path, NULL, &back, &nback, &good_bytes, &bad) == 0);
    CHECK(nback == 3 && bad == 1);
    char *whole;
    size_t whole_size;
    CHECK(veil_read_file(path, &whole, &whole_size) == 0);
    CHECK(good_bytes < whole_size && whole[good_bytes - 1] == '\n');
    free(whole);
    for (size_t i = 0; i < nback && i < 3; i++) {
        CHECK(back[i].method == r[i].method && back[i].groups == r[i].groups);
        CHECK(back[i].iteration == r[i].iteration && back[i].seed == r[i].seed);
        CHECK_NEAR(back[i].gender_test_acc, r[i].gender_test_acc, 1e-9);
        CHECK(back[i].n_attack_groups == 2);
        if (back[i].n_attack_groups == 2) CHECK_NEAR(back[i].attack_acc[1], r[i].attack_acc[1], 1e-9);
    }
    veil_results_free(back, nback);
    /* a missing file is an empty result list */
    snprintf(path, sizeof path, "%s/none.jsonl", dir);
    CHECK(veil_results_load(path, NULL, &back, &nback, &good_bytes, &bad) == 0 && nback == 0);
    veil_results_free(back, nback);
    check_line_rules(dir);

    veil_summary_free(&s);
    for (int i = 0; i < n; i++) veil_job_result_free(&r[i]);
    cairo_debug_reset_static_data();
    return test_finish("test_report");
}
