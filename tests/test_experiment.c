/* experiment: a tiny grid end to end on a synthetic corpus (8 speakers, St = 4, a tiny
 * network): every output file, stop after one job and resume without redoing it, a torn
 * last line, a refused configuration change, and the errors that must write nothing. */
#include <cairo.h>
#include <math.h>
#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"
#include "veil/common.h"
#include "veil/corpus.h"
#include "veil/experiment.h"
#include "veil/report.h"
#include "research/train/method.h"

/* fontconfig (under cairo's toy text API) keeps parts of its parsed configuration
 * unreachable at exit; that is the library's, not ours. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void) { return "leak:libfontconfig.so\n"; }

static char *slurp(const char *dir, const char *name)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    char *s = NULL;
    if (veil_read_file(path, &s, NULL) != 0) return NULL;
    return s;
}

static int count_lines(const char *s)
{
    int n = 0;
    for (; s && *s; s++) n += *s == '\n';
    return n;
}

/* how many lines of results.jsonl are (method, G, iteration) */
static int count_job(const char *dir, veil_method m, int g, int it)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/results.jsonl", dir);
    veil_job_result *r;
    size_t n;
    if (veil_results_load(path, NULL, &r, &n, NULL, NULL) != 0) return -1;
    int k = 0;
    for (size_t i = 0; i < n; i++) k += r[i].method == m && r[i].groups == g && r[i].iteration == it;
    veil_results_free(r, n);
    return k;
}

static void tiny(veil_experiment_config *c, const char *corpus, const char *out, const char *cache)
{
    memset(c, 0, sizeof *c);
    c->corpus = corpus;
    c->out = out;
    c->cache = cache;
    veil_experiment_preset(c, "quick");
    CHECK(veil_experiment_parse_methods("reference,siamese", c) == 0);
    c->protocol.train_speakers = 4;
    c->protocol.attack_groups = 1;
    c->n_groups = 2;
    c->groups[0] = 1;
    c->groups[1] = 2;
    c->cv = 1;
    c->precision = VEIL_PREC_FP32;
    c->threads = 1;
    c->seed = 7;
    veil_train_config_set(&c->train, "siamese_epochs", "2");
    c->train.patience = 2;
    c->train.gender_epochs = 1;
    veil_train_config_set(&c->train, "reference_epochs", "2");
    c->train.attack_epochs = 2;
    c->train.head_hidden = 32;
    c->train.filter_divisor = 16;
    veil_train_config_set(&c->train, "collapse_restarts", "0");
}

int main(void)
{
    veil_verbosity = 0;
    const char *tmp = test_tmpdir("experiment");
    char corpus[4200], out[4200], cache[4200], path[8600];
    snprintf(corpus, sizeof corpus, "%s/corpus", tmp);
    snprintf(out, sizeof out, "%s/out", tmp);
    snprintf(cache, sizeof cache, "%s/cache", tmp);

    if (test_tiny_corpus(corpus, 8, 6)) return 1;

    /* ---- the grid and its seeds ---- */
    veil_experiment_config c;
    tiny(&c, corpus, out, cache);
    size_t nj;
    veil_job_id *jobs = veil_experiment_jobs(&c, &nj);
    CHECK(nj == 3);
    CHECK(jobs[0].method == VEIL_METHOD_REFERENCE && jobs[0].groups == 1);
    CHECK(jobs[2].method == VEIL_METHOD_SIAMESE && jobs[2].groups == 2 && jobs[2].iteration == 0);
    free(jobs);
    c.cv = 3;
    c.with_method[VEIL_METHOD_REFERENCE] = 0;
    jobs = veil_experiment_jobs(&c, &nj);
    CHECK(nj == 6 && jobs[5].iteration == 2 && jobs[5].method == VEIL_METHOD_SIAMESE);
    free(jobs);
    CHECK(veil_experiment_split_seed(7, 0) != veil_experiment_split_seed(7, 1));
    CHECK(veil_experiment_job_seed(7, VEIL_METHOD_SIAMESE, 1, 0) !=
          veil_experiment_job_seed(7, VEIL_METHOD_SIAMESE, 2, 0));
    CHECK(veil_experiment_job_seed(7, VEIL_METHOD_SIAMESE, 1, 0) !=
          veil_experiment_job_seed(7, VEIL_METHOD_REFERENCE, 1, 0));
    CHECK(veil_experiment_parse_groups("1,3-4", &c) == 0 && c.n_groups == 3 && c.groups[2] == 4);
    CHECK_FAILS_WITH(veil_experiment_parse_groups("0-6", &c), "--groups");
    CHECK_FAILS_WITH(veil_experiment_parse_groups("2,x", &c), "--groups");
    CHECK(veil_experiment_parse_methods("siamese", &c) == 0 && !c.with_method[VEIL_METHOD_REFERENCE] && c.with_method[VEIL_METHOD_SIAMESE]);
    CHECK_FAILS_WITH(veil_experiment_parse_methods("siamese,vib", &c), "--methods");
    CHECK_FAILS_WITH(veil_experiment_preset(&c, "huge"), "huge");
    CHECK(veil_experiment_preset(&c, "paper") == 0 && c.cv == 10 && c.n_groups == 5 &&
          c.protocol.train_speakers == 20 &&
          ((veil_siamese_settings *)veil_method_settings_of(&c.train, VEIL_METHOD_SIAMESE))->epochs == 75);

    /* ---- errors leave nothing behind ---- */
    tiny(&c, corpus, out, cache);
    c.corpus = "/nonexistent/corpus";
    CHECK(veil_experiment_run(&c) != 0);
    CHECK(!veil_path_exists(out));
    tiny(&c, corpus, out, cache);
    c.protocol.train_speakers = 20; /* 8 speakers cannot fill St = 20 */
    CHECK(veil_experiment_run(&c) != 0);
    CHECK(!veil_path_exists(out));
    snprintf(path, sizeof path, "%s/a-file", tmp);
    test_write_file(path, "x", 1);
    snprintf(path, sizeof path, "%s/a-file/out", tmp);
    tiny(&c, corpus, path, cache);
    CHECK_FAILS_WITH(veil_experiment_run(&c), "a-file");

    /* ---- stop after one job, then resume ---- */
    tiny(&c, corpus, out, cache);
    c.max_jobs = 1;
    CHECK_MSG(veil_experiment_run(&c) == 0, "%s", veil_last_error());
    char *first = slurp(out, "results.jsonl");
    CHECK(first && count_lines(first) == 1);
    char *config = slurp(out, "config.json");
    cJSON *cj = config ? cJSON_Parse(config) : NULL;
    CHECK(cj != NULL);
    if (cj) {
        CHECK(cJSON_GetNumberValue(cJSON_GetObjectItem(cJSON_GetObjectItem(cj, "protocol"), "train_speakers")) == 4);
        CHECK(cJSON_GetNumberValue(cJSON_GetObjectItem(cJSON_GetObjectItem(cj, "corpus"), "speakers")) == 8);
        CHECK(!strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(cj, "precision"), "resolved")), "fp32"));
        CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(cj, "groups")) == 2);
        CHECK(cJSON_GetObjectItem(cj, "mfcc") && cJSON_IsObject(cJSON_GetObjectItem(cj, "mfcc")));
    }
    cJSON_Delete(cj);
    free(config);

    c.max_jobs = 0;
    CHECK_MSG(veil_experiment_run(&c) == 0, "%s", veil_last_error());
    char *all = slurp(out, "results.jsonl");
    CHECK(all && count_lines(all) == 3);
    CHECK(first && all && !strncmp(all, first, strlen(first))); /* first line untouched */
    CHECK(count_job(out, VEIL_METHOD_REFERENCE, 1, 0) == 1);
    CHECK(count_job(out, VEIL_METHOD_SIAMESE, 1, 0) == 1);
    CHECK(count_job(out, VEIL_METHOD_SIAMESE, 2, 0) == 1);

    /* every output, with sane contents */
    snprintf(path, sizeof path, "%s/results.jsonl", out);
    veil_job_result *r;
    size_t n;
    CHECK(veil_results_load(path, NULL, &r, &n, NULL, NULL) == 0 && n == 3);
    for (size_t i = 0; i < n; i++) {
        CHECK(r[i].gender_test_acc >= 0 && r[i].gender_test_acc <= 1);
        CHECK(r[i].n_attack_groups == 1 && r[i].attack_acc_mean >= 0 && r[i].attack_acc_mean <= 1);
        CHECK(r[i].seed == veil_experiment_job_seed(7, r[i].method, r[i].groups, 0));
        CHECK(r[i].seconds > 0);
    }
    veil_results_free(r, n);
    char *csv = slurp(out, "summary.csv");
    CHECK(csv && count_lines(csv) == 4);
    CHECK(csv && strstr(csv, "\nreference,1,1,") && strstr(csv, "\nsiamese,1,1,") && strstr(csv, "\nsiamese,2,1,"));
    free(csv);
    char *md = slurp(out, "report.md");
    CHECK(md && strstr(md, "reference | 1 |  | 1 |") && strstr(md, "siamese | 2 |  | 1 |"));
    CHECK(md && strstr(md, "![](figure3.png)") && strstr(md, "St = 4 training speakers"));
    free(md);
    snprintf(path, sizeof path, "%s/figure3.png", out);
    cairo_surface_t *img = cairo_image_surface_create_from_png(path);
    CHECK(cairo_surface_status(img) == CAIRO_STATUS_SUCCESS && cairo_image_surface_get_width(img) > 0);
    cairo_surface_destroy(img);
    char *svg = slurp(out, "figure3.svg");
    CHECK(svg && !strncmp(svg, "<?xml", 5));
    free(svg);

    /* ---- a torn last line is dropped, nothing is redone ---- */
    snprintf(path, sizeof path, "%s/results.jsonl", out);
    FILE *f = fopen(path, "ab");
    fputs("{\"method\":\"siamese\",\"gro", f);
    fclose(f);
    CHECK_MSG(veil_experiment_run(&c) == 0, "%s", veil_last_error());
    char *again = slurp(out, "results.jsonl");
    CHECK(all && again && !strcmp(all, again));
    free(again);

    /* ---- another configuration is refused by name; a wider grid is not ---- */
    /* a method's own setting, and one that config.json did not record before the seam */
    CHECK(veil_train_config_set(&c.train, "siamese_epochs", "3") == 0);
    CHECK_FAILS_WITH(veil_experiment_run(&c), "method_settings.siamese.siamese_epochs (was 2, now 3)");
    CHECK(veil_train_config_set(&c.train, "siamese_epochs", "2") == 0);
    CHECK(veil_train_config_set(&c.train, "z_init_distance", "0.5") == 0);
    CHECK_FAILS_WITH(veil_experiment_run(&c), "method_settings.siamese.z_init_distance");
    CHECK(veil_train_config_set(&c.train, "z_init_distance", "1") == 0);
    c.train.bn_recalibrate = 0;
    CHECK_FAILS_WITH(veil_experiment_run(&c), "train.bn_recalibrate");
    c.train.bn_recalibrate = 1;
    c.seed = 8;
    CHECK_FAILS_WITH(veil_experiment_run(&c), "seed");
    c.seed = 7;
    c.with_method[VEIL_METHOD_SIAMESE] = 0; /* a smaller grid: nothing to do, report over every result */
    CHECK_MSG(veil_experiment_run(&c) == 0, "%s", veil_last_error());
    again = slurp(out, "results.jsonl");
    CHECK(all && again && !strcmp(all, again));
    free(again);
    again = slurp(out, "config.json"); /* still the whole run's grid */
    CHECK(again && strstr(again, "\"methods\":\t[\"reference\", \"siamese\"]") && strstr(again, "\"groups\":\t[1, 2]"));
    free(again);
    /* a method without results may change its settings (as a method new to the grid does);
     * one with results may not, even when this run leaves it out */
    CHECK(veil_train_config_set(&c.train, "adv_epochs", "9") == 0);
    CHECK_MSG(veil_experiment_run(&c) == 0, "%s", veil_last_error());
    CHECK(veil_train_config_set(&c.train, "siamese_epochs", "3") == 0);
    CHECK_FAILS_WITH(veil_experiment_run(&c), "method_settings.siamese.siamese_epochs (was 2, now 3)");
    CHECK(veil_train_config_set(&c.train, "siamese_epochs", "2") == 0);
    again = slurp(out, "results.jsonl");
    CHECK(all && again && !strcmp(all, again));
    free(again);
    CHECK(veil_experiment_report(out, 0) == 0);

    /* results whose configuration is unknown are not resumed */
    char out3[4300];
    snprintf(out3, sizeof out3, "%s/out3", tmp);
    CHECK(veil_mkdirs(out3) == 0);
    snprintf(path, sizeof path, "%s/results.jsonl", out3);
    test_write_file(path, first ? first : "x\n", first ? strlen(first) : 2);
    tiny(&c, corpus, out3, cache);
    CHECK_FAILS_WITH(veil_experiment_run(&c), "without their config.json");

    /* ---- a knob swept on iteration 0, the selected value on iteration 1 ---- */
    char out4[4300];
    snprintf(out4, sizeof out4, "%s/out4", tmp);
    tiny(&c, corpus, out4, cache);
    CHECK(veil_experiment_parse_methods("adversarial", &c) == 0);
    c.protocol.train_speakers = 2; /* 8 speakers: 2 training, one test group and the validation group */
    c.cv = 2;
    c.sweep_groups = 1;
    CHECK(veil_train_config_set(&c.train, "adv_epochs", "2") == 0);
    CHECK_FAILS_WITH(veil_experiment_parse_knob("--adv-lambda", "0,x", &c), "--adv-lambda");
    CHECK_FAILS_WITH(veil_experiment_parse_knob("--adv-lambda", "0,-1", &c), "adv_lambda");
    CHECK(veil_experiment_parse_knob("--margin", "1", &c) == 1);
    CHECK(veil_experiment_parse_knob("--adv-lambda", "0,3", &c) == 0 && c.n_knob_values[2] == 2);
    /* the whole battery; the knob chosen by the strongest of it on the validation group */
    CHECK(veil_probe_parse_list("all", c.train.attackers, &c.train.n_attackers) == 0);
    CHECK(!strcmp(c.train.select_attacker, "strongest"));
    size_t nsw;
    veil_job_id *sw = veil_experiment_jobs(&c, &nsw);
    CHECK(nsw == 3 && sw[0].knob == 0 && sw[1].knob == 3 && !sw[1].select && sw[2].select && sw[2].iteration == 1);
    CHECK(sw[0].groups == 1 && isnan(sw[2].knob));
    free(sw);
    CHECK_MSG(veil_experiment_run(&c) == 0, "%s", veil_last_error());
    snprintf(path, sizeof path, "%s/results.jsonl", out4);
    CHECK(veil_results_load(path, NULL, &r, &n, NULL, NULL) == 0 && n == 3);
    if (n == 3) {
        double values[2] = {0, 3}, chosen = -1;
        CHECK(veil_select_knob(r, n, 2, 1, values, 2, &chosen, NULL) == 0);
        for (size_t i = 0; i < n; i++) {
            CHECK(r[i].method == 2 && r[i].groups == 1 && r[i].n_attack_groups == 1);
            /* the validation attacker where a knob is chosen, never later; same seed for every value */
            CHECK(r[i].iteration == 0 ? isfinite(r[i].attack_val_acc) : isnan(r[i].attack_val_acc));
            CHECK(r[i].seed == veil_experiment_job_seed(7, 2, 1, r[i].iteration));
            CHECK(r[i].gender_test_majority >= 0.5 && r[i].gender_test_majority <= 1);
            if (r[i].iteration == 1) CHECK(veil_method_knob(2, &r[i].settings) == chosen);
            /* every attacker of the battery on the test groups; on the validation group where
             * the knob is chosen, and the selection score is the strongest of them there */
            int count, validated = 0;
            veil_probes(&count);
            CHECK(r[i].n_attackers == count);
            for (int k = 0; k < r[i].n_attackers; k++) validated += isfinite(r[i].attackers[k].validation.acc);
            CHECK(r[i].iteration == 0 ? validated >= 4 : validated == 0);
            if (r[i].iteration == 0) {
                double best = -1;
                for (int k = 0; k < r[i].n_attackers; k++) {
                    const veil_probe_result *v = &r[i].attackers[k].validation;
                    double a = isfinite(v->acc_utt) ? v->acc_utt : v->acc;
                    if (isfinite(a) && a > best) best = a;
                }
                CHECK(r[i].attack_val_acc == best);
            }
        }
    }
    veil_results_free(r, n);
    md = slurp(out4, "report.md");
    CHECK(md && strstr(md, "selected adv_lambda = ") && strstr(md, "## Figure 4") && strstr(md, "![](tradeoff.png)"));
    /* the battery's section, and Figure 4 and the trade-off under the strongest attacker */
    CHECK(md && strstr(md, "## Attackers") && strstr(md, "### Strongest attacker per extractor") &&
          strstr(md, "| strong-mlp |") && strstr(md, "![](figure4-strongest.png)") &&
          strstr(md, "![](figure3-strongest.png)") &&
          strstr(md, "![](tradeoff-strongest.png)") && strstr(md, "![](attackers.png)"));
    /* the frontier: its figure and its table with the goal */
    CHECK(md && strstr(md, "## Frontier") && strstr(md, "![](frontier.png)") && strstr(md, "| goal |"));
    free(md);
    static const char *const figs[] = {"tradeoff.png", "figure4-strongest.png", "figure4-strongest.svg",
                                       "tradeoff-strongest.png", "attackers.png", "attackers.svg",
                                       "frontier.png", "frontier.svg", "figure3-strongest.png",
                                       "figure3-strongest.svg"};
    for (int i = 0; i < 10; i++) {
        snprintf(path, sizeof path, "%s/%s", out4, figs[i]);
        CHECK_MSG(veil_path_exists(path), "%s", figs[i]);
    }
    /* resume refuses another battery or another selection attacker, by name */
    CHECK(veil_probe_parse_list("paper-mlp,logreg", c.train.attackers, &c.train.n_attackers) == 0);
    CHECK_FAILS_WITH(veil_experiment_run(&c), "attackers (was [");
    CHECK(veil_probe_parse_list("all", c.train.attackers, &c.train.n_attackers) == 0);
    CHECK(veil_set_select_attacker(&c.train, "logreg") == 0);
    CHECK_FAILS_WITH(veil_experiment_run(&c), "select_attacker (was \"strongest\", now \"logreg\")");
    CHECK_FAILS_WITH(veil_set_select_attacker(&c.train, "nope"), "unknown selection attacker 'nope'");
    CHECK(veil_set_select_attacker(&c.train, "strongest") == 0);
    /* resume refuses a changed lambda sweep and a changed setting of the method, by name */
    CHECK(veil_experiment_parse_knob("--adv-lambda", "0,2", &c) == 0);
    CHECK_FAILS_WITH(veil_experiment_run(&c), "sweeps.adversarial.adv_lambda (was [0,3], now [0,2])");
    CHECK(veil_experiment_parse_knob("--adv-lambda", "0,3", &c) == 0);
    CHECK(veil_train_config_set(&c.train, "adv_epochs", "3") == 0);
    CHECK_FAILS_WITH(veil_experiment_run(&c), "method_settings.adversarial.adv_epochs (was 2, now 3)");
    CHECK(veil_train_config_set(&c.train, "adv_epochs", "2") == 0);
    CHECK_MSG(veil_experiment_run(&c) == 0, "%s", veil_last_error()); /* the same: nothing to do */

    /* ---- a resume that runs a part of the grid ---- */
    /* a method without a knob joins the run on its split (the validation group kept, not
     * refused as a changed protocol), and config.json goes on describing the whole run */
    CHECK(veil_experiment_parse_methods("reference", &c) == 0);
    c.cv = 1;
    CHECK_MSG(veil_experiment_run(&c) == 0, "%s", veil_last_error());
    snprintf(path, sizeof path, "%s/results.jsonl", out4);
    CHECK(veil_results_load(path, NULL, &r, &n, NULL, NULL) == 0 && n == 4);
    const veil_job_result *ref = NULL, *adv = NULL;
    for (size_t i = 0; i < n; i++) {
        if (r[i].iteration != 0) continue;
        if (r[i].method == VEIL_METHOD_REFERENCE) ref = &r[i];
        else adv = &r[i];
    }
    CHECK(ref && adv);
    if (ref && adv) {
        CHECK(ref->n_attack_groups == adv->n_attack_groups && ref->st == adv->st &&
              ref->n_train_speakers == adv->n_train_speakers);
        for (int i = 0; i < ref->n_attack_groups * ref->st && ref->st == adv->st; i++)
            CHECK_MSG(!strcmp(ref->group_speakers[i], adv->group_speakers[i]), "attacker speaker %d", i);
        for (int i = 0; i < ref->n_train_speakers && ref->n_train_speakers == adv->n_train_speakers; i++)
            CHECK(!strcmp(ref->train_speakers[i], adv->train_speakers[i]));
    }
    veil_results_free(r, n);
    char *cfg = slurp(out4, "config.json");
    cJSON *co = cfg ? cJSON_Parse(cfg) : NULL;
    free(cfg);
    char *grid = co ? cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(co, "methods")) : NULL;
    char *swept = co ? cJSON_PrintUnformatted(cJSON_GetObjectItemCaseSensitive(co, "sweeps")) : NULL;
    CHECK_MSG(grid && !strcmp(grid, "[\"reference\",\"adversarial\"]"), "%s", grid ? grid : "?");
    CHECK_MSG(swept && !strcmp(swept, "{\"adversarial\":{\"adv_lambda\":[0,3]}}"), "%s", swept ? swept : "?");
    CHECK(co && cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(co, "cv")) == 2);
    free(grid);
    free(swept);
    cJSON_Delete(co);
    /* the job numbers of `train --from` and `audit --job` are the whole run's */
    veil_experiment_config back;
    char *back_corpus = NULL;
    memset(&back, 0, sizeof back);
    CHECK_MSG(veil_experiment_config_read(out4, &back, &back_corpus) == 0, "%s", veil_last_error());
    free(back_corpus);
    veil_job_id *bj = veil_experiment_jobs(&back, &nsw);
    CHECK(nsw == 5 && bj[0].method == VEIL_METHOD_REFERENCE && bj[1].method == veil_train_method_by_name("adversarial")->id &&
          bj[2].knob == 3 && bj[3].method == VEIL_METHOD_REFERENCE && bj[3].iteration == 1 && bj[4].select);
    free(bj);

    free(first);
    free(all);
    cairo_debug_reset_static_data();
    return test_finish("test_experiment");
}
