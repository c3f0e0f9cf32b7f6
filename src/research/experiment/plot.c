/* Figure 3 with cairo: one drawing routine, rendered to a PNG image surface and to an
 * SVG surface. Both go through veil_write_atomic (temporary file, then rename). */
#include <cairo-svg.h>
#include <cairo.h>
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "plot_svg.h"
#include "veil/common.h"
#include "veil/report.h"
#include "research/train/method.h"

#define FIG_W 900.0
#define FIG_H 560.0
/* plot area */
#define PX0 80.0
#define PX1 640.0
#define PY0 60.0
#define PY1 490.0
#define FONT "DejaVu Sans"

typedef struct rgb {
    double r, g, b;
} rgb;
static const rgb C_GENDER = {0.12, 0.40, 0.75};
static const rgb C_ATTACK = {0.84, 0.20, 0.16};
static const rgb C_CHANCE = {0.35, 0.35, 0.35};
static const rgb C_AXIS = {0.1, 0.1, 0.1};

static double x_of(double g) { return PX0 + (g - 0.5) / 5.0 * (PX1 - PX0); }
static double y_of(double pct)
{
    if (pct < 0) pct = 0;
    if (pct > 100) pct = 100;
    return PY1 - pct / 100.0 * (PY1 - PY0);
}

static void set_color(cairo_t *cr, rgb c) { cairo_set_source_rgb(cr, c.r, c.g, c.b); }

/* The three chance levels each have their own pattern (and the gender chance its colour):
 * 1/St dotted, 2/St dash-dot, the gender chance long dash-dot-dot. */
typedef enum { LINE_SOLID, LINE_DASHED, LINE_DOTTED, LINE_DASHDOT, LINE_DASHDOTDOT } line_style;
static void set_line(cairo_t *cr, line_style s, double width)
{
    static const double dash[] = {9, 5}, dot[] = {2, 4}, dashdot[] = {8, 4, 2, 4},
                        dashdotdot[] = {14, 4, 2, 4, 2, 4};
    cairo_set_line_width(cr, width);
    cairo_set_line_cap(cr, s == LINE_DOTTED ? CAIRO_LINE_CAP_ROUND : CAIRO_LINE_CAP_BUTT);
    if (s == LINE_DASHED) cairo_set_dash(cr, dash, 2, 0);
    else if (s == LINE_DOTTED) cairo_set_dash(cr, dot, 2, 0);
    else if (s == LINE_DASHDOT) cairo_set_dash(cr, dashdot, 4, 0);
    else if (s == LINE_DASHDOTDOT) cairo_set_dash(cr, dashdotdot, 6, 0);
    else cairo_set_dash(cr, NULL, 0, 0);
}

typedef enum { MARK_NONE, MARK_CIRCLE, MARK_SQUARE } marker;
static void draw_marker(cairo_t *cr, marker m, double x, double y, rgb c)
{
    if (m == MARK_NONE) return;
    set_line(cr, LINE_SOLID, 1.5);
    if (m == MARK_CIRCLE) cairo_arc(cr, x, y, 5, 0, 2 * M_PI);
    else cairo_rectangle(cr, x - 4.5, y - 4.5, 9, 9);
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_fill_preserve(cr);
    set_color(cr, c);
    cairo_stroke(cr);
}

/* align: 0 left, 0.5 centre, 1 right; valign likewise for the text's ink height */
static void text_at(cairo_t *cr, const char *s, double x, double y, double size, double align,
                    double valign, int bold)
{
    cairo_select_font_face(cr, FONT, CAIRO_FONT_SLANT_NORMAL,
                           bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, size);
    cairo_text_extents_t e;
    cairo_text_extents(cr, s, &e);
    cairo_move_to(cr, x - align * e.x_advance, y + valign * size * 0.72);
    plot_svg_note_text(cr, s, size, bold);
    cairo_show_text(cr, s);
    cairo_new_path(cr); /* show_text leaves a current point: a later line_to would draw from it */
}

static void hline(cairo_t *cr, double pct, rgb c, line_style s, double width)
{
    set_color(cr, c);
    set_line(cr, s, width);
    cairo_move_to(cr, PX0, y_of(pct));
    cairo_line_to(cr, PX1, y_of(pct));
    cairo_stroke(cr);
}

/* An error bar from lo to hi at x, capped by strokes of half-width cap. */
static void whisker(cairo_t *cr, double x, double lo, double hi, double cap)
{
    cairo_move_to(cr, x, lo);
    cairo_line_to(cr, x, hi);
    cairo_move_to(cr, x - cap, lo);
    cairo_line_to(cr, x + cap, lo);
    cairo_move_to(cr, x - cap, hi);
    cairo_line_to(cr, x + cap, hi);
    cairo_stroke(cr);
}

/* Grey lines every 10 %, labelled on the left (with tick marks if ticks). */
static void y_grid(cairo_t *cr, int ticks)
{
    for (int p = 0; p <= 100; p += 10) {
        cairo_set_source_rgb(cr, 0.9, 0.9, 0.9);
        set_line(cr, LINE_SOLID, 1);
        cairo_move_to(cr, PX0, y_of(p));
        cairo_line_to(cr, PX1, y_of(p));
        cairo_stroke(cr);
        set_color(cr, C_AXIS);
        if (ticks) {
            cairo_move_to(cr, PX0 - 5, y_of(p));
            cairo_line_to(cr, PX0, y_of(p));
            cairo_stroke(cr);
        }
        char lab[16];
        snprintf(lab, sizeof lab, "%d", p);
        text_at(cr, lab, PX0 - 9, y_of(p), 13, 1, 0.5, 0);
    }
}

static void plot_frame(cairo_t *cr)
{
    set_color(cr, C_AXIS);
    set_line(cr, LINE_SOLID, 1.2);
    cairo_rectangle(cr, PX0, PY0, PX1 - PX0, PY1 - PY0);
    cairo_stroke(cr);
}

static void y_axis_label(cairo_t *cr)
{
    cairo_save(cr);
    cairo_translate(cr, PX0 - 48, (PY0 + PY1) / 2);
    cairo_rotate(cr, -M_PI / 2);
    text_at(cr, "accuracy (%)", 0, 0, 15, 0.5, 0, 0);
    cairo_restore(cr);
}

/* What the figures call the service's task, and the chance of an attacker who knows a test
 * speaker's class (veil_plot_set_task; the report sets it before drawing its figures). */
static char task_lower[32] = "gender", task_upper[32] = "Gender";
static double task_label_chance = NAN; /* percent; NaN: gender's 2/St */

void veil_plot_set_task(const char *task, double label_chance)
{
    snprintf(task_lower, sizeof task_lower, "%s", task && task[0] ? task : "gender");
    snprintf(task_upper, sizeof task_upper, "%s", task_lower);
    task_upper[0] = (char)toupper((unsigned char)task_upper[0]);
    task_label_chance = strcmp(task_lower, "gender") ? 100 * label_chance : NAN;
}

/* The chance of an attacker who knows the task's class: 2/St for gender (the two genders
 * of a group), else the jobs' mean of (classes in a group) / St. */
static double knowing_chance(int st) { return isfinite(task_label_chance) ? task_label_chance : 200.0 / st; }

/* Clips to the plot area (the caller's cairo_restore ends it) and draws the chance levels. */
static void clip_with_chance(cairo_t *cr, int st)
{
    cairo_save(cr);
    cairo_rectangle(cr, PX0, PY0, PX1 - PX0, PY1 - PY0);
    cairo_clip(cr);
    hline(cr, 100.0 / st, C_CHANCE, LINE_DOTTED, 1.8);
    hline(cr, knowing_chance(st), C_CHANCE, LINE_DASHDOT, 1.4);
}

static void chance_labels(int st, char chance1[64], char chance2[96])
{
    snprintf(chance1, 64, "chance 1/St = %.1f %%", 100.0 / st);
    if (!isfinite(task_label_chance)) snprintf(chance2, 96, "chance knowing %s 2/St = %.1f %%", task_lower, 200.0 / st);
    else snprintf(chance2, 96, "chance knowing %s classes/St = %.1f %%", task_lower, task_label_chance);
}

/* The long chance label wraps before its "2/St" (or "classes/St"): where, or NULL. */
static const char *chance_wrap(const char *label)
{
    const char *st = strstr(label, "/St");
    if (!st || strncmp(label, "chance knowing ", 15)) return NULL;
    while (st > label && st[-1] != ' ') st--;
    return st > label ? st - 1 : NULL;
}

/* The first line of the wrapped chance label ("chance knowing gender"). */
static void chance_first_line(const char *label, char *buf, size_t n)
{
    const char *w = chance_wrap(label);
    snprintf(buf, n, "%.*s", w ? (int)(w - label) : (int)strlen(label), label);
}

typedef enum { SERIES_GENDER, SERIES_ATTACK } series;
static veil_stat row_stat(const veil_summary_row *r, series s)
{
    return s == SERIES_GENDER ? r->gender_test : r->attack;
}

static void draw_series(cairo_t *cr, const veil_summary *s, series which, rgb c, marker m)
{
    /* error bars */
    set_color(cr, c);
    for (int g = 1; g <= 5; g++) {
        const veil_summary_row *r = veil_summary_find(s, VEIL_METHOD_SIAMESE, g);
        if (!r || r->runs < 2) continue;
        veil_stat st = row_stat(r, which);
        double x = x_of(g), lo = y_of(st.mean - st.std), hi = y_of(st.mean + st.std);
        set_line(cr, LINE_SOLID, 1.3);
        whisker(cr, x, lo, hi, 6);
    }
    /* a line through the means of the G values run, in order (the legend shows lines: a
     * grid of G = 1, 5 is joined too, as the paper joins its points) */
    set_color(cr, c);
    set_line(cr, LINE_SOLID, 2.2);
    const veil_summary_row *prev = NULL;
    int prev_g = 0;
    for (int g = 1; g <= 5; g++) {
        const veil_summary_row *r = veil_summary_find(s, VEIL_METHOD_SIAMESE, g);
        if (!r) continue;
        if (prev) {
            cairo_move_to(cr, x_of(prev_g), y_of(row_stat(prev, which).mean));
            cairo_line_to(cr, x_of(g), y_of(row_stat(r, which).mean));
        }
        prev = r;
        prev_g = g;
    }
    cairo_stroke(cr);
    for (int g = 1; g <= 5; g++) {
        const veil_summary_row *r = veil_summary_find(s, VEIL_METHOD_SIAMESE, g);
        if (!r) continue;
        double x = x_of(g), y = y_of(row_stat(r, which).mean);
        draw_marker(cr, m, x, y, c);
        if (r->collapsed) { /* a collapsed run inside this mean: say so on the figure */
            set_color(cr, C_ATTACK);
            text_at(cr, "!", x + 8, y - 6, 14, 0, 0, 1);
        }
    }
}

static double gender_chance(const veil_summary_row *const *rows, int n);

typedef struct legend_item {
    const char *label;
    rgb color;
    line_style style;
    marker mark;
} legend_item;

/* Figure 3; attacker NULL: the paper's attacker (the rows' attack), else the name of the
 * attacker the rows carry instead (veil_summary_strongest: each point its own strongest). */
static void draw(cairo_t *cr, const veil_summary *s, int st, const char *attacker)
{
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_paint(cr);

    /* grid and ticks */
    y_grid(cr, 1);
    for (int g = 1; g <= 5; g++) {
        set_color(cr, C_AXIS);
        set_line(cr, LINE_SOLID, 1);
        cairo_move_to(cr, x_of(g), PY1);
        cairo_line_to(cr, x_of(g), PY1 + 5);
        cairo_stroke(cr);
        char lab[16];
        snprintf(lab, sizeof lab, "%d", g);
        text_at(cr, lab, x_of(g), PY1 + 20, 13, 0.5, 0, 0);
    }
    plot_frame(cr);
    text_at(cr, "number of CNN groups G", (PX0 + PX1) / 2, PY1 + 48, 15, 0.5, 0, 0);
    y_axis_label(cr);
    char title[160];
    if (attacker)
        snprintf(title, sizeof title, "Figure 3, %s: %s vs. speaker identification (St = %d)", attacker, task_lower,
                 st);
    else
        snprintf(title, sizeof title, "Figure 3: %s recognition vs. speaker identification (St = %d)", task_lower, st);
    set_color(cr, C_AXIS);
    text_at(cr, title, FIG_W / 2, 34, 18, 0.5, 0, 1);

    /* chance levels (the gender's: the majority share of the gender-testing patches), then
     * the reference, then the Siamese series on top */
    const veil_summary_row *ref = veil_summary_find(s, VEIL_METHOD_REFERENCE, 1);
    const veil_summary_row *shown[6];
    int n_shown = 0;
    if (ref) shown[n_shown++] = ref;
    for (int g = 1; g <= 5; g++)
        if (veil_summary_find(s, VEIL_METHOD_SIAMESE, g)) shown[n_shown++] = veil_summary_find(s, VEIL_METHOD_SIAMESE, g);
    double gchance = gender_chance(shown, n_shown);
    clip_with_chance(cr, st);
    if (isfinite(gchance)) hline(cr, gchance, C_GENDER, LINE_DASHDOTDOT, 1.6);
    if (ref) {
        hline(cr, ref->gender_test.mean, C_GENDER, LINE_DASHED, 2);
        hline(cr, ref->attack.mean, C_ATTACK, LINE_DASHED, 2);
    }
    draw_series(cr, s, SERIES_GENDER, C_GENDER, MARK_CIRCLE);
    draw_series(cr, s, SERIES_ATTACK, C_ATTACK, MARK_SQUARE);
    cairo_restore(cr);

    /* legend, right of the plot area */
    char chance1[64], chance2[96], gtest[48], gref[48];
    chance_labels(st, chance1, chance2);
    legend_item items[7];
    int n = 0;
    if (veil_summary_find(s, VEIL_METHOD_SIAMESE, 1) || s->n_rows > (ref ? 1 : 0)) {
        snprintf(gtest, sizeof gtest, "%s test (Siamese)", task_upper);
        items[n++] = (legend_item){gtest, C_GENDER, LINE_SOLID, MARK_CIRCLE};
        items[n++] = (legend_item){attacker ? "Strongest attacker (Siamese)" : "Attacker test (Siamese)", C_ATTACK,
                                   LINE_SOLID, MARK_SQUARE};
    }
    if (ref) {
        snprintf(gref, sizeof gref, "%s reference", task_upper);
        items[n++] = (legend_item){gref, C_GENDER, LINE_DASHED, MARK_NONE};
        items[n++] = (legend_item){attacker ? "Strongest attacker reference" : "Attacker reference", C_ATTACK,
                                   LINE_DASHED, MARK_NONE};
    }
    items[n++] = (legend_item){chance1, C_CHANCE, LINE_DOTTED, MARK_NONE};
    items[n++] = (legend_item){chance2, C_CHANCE, LINE_DASHDOT, MARK_NONE};
    char gtext[64];
    if (isfinite(gchance)) {
        snprintf(gtext, sizeof gtext, "%s chance %.1f %%", task_lower, gchance);
        items[n++] = (legend_item){gtext, C_GENDER, LINE_DASHDOTDOT, MARK_NONE};
    }
    double lx = PX1 + 18, ly = PY0 + 12, y = ly - 26;
    for (int i = 0; i < n; i++) {
        y += i > 0 && chance_wrap(items[i - 1].label) ? 42 : 26; /* a wrapped label takes two lines */
        set_color(cr, items[i].color);
        set_line(cr, items[i].style, items[i].style == LINE_SOLID ? 2.2 : 2);
        cairo_move_to(cr, lx, y);
        cairo_line_to(cr, lx + 36, y);
        cairo_stroke(cr);
        draw_marker(cr, items[i].mark, lx + 18, y, items[i].color);
        set_color(cr, C_AXIS);
        /* the long chance label wraps after its first words */
        const char *lab = items[i].label;
        const char *split = chance_wrap(lab);
        if (split) {
            char first[96];
            snprintf(first, sizeof first, "%.*s", (int)(split - lab), lab);
            text_at(cr, first, lx + 44, y, 12.5, 0, 0.5, 0);
            text_at(cr, split + 1, lx + 44, y + 16, 12.5, 0, 0.5, 0);
        } else {
            text_at(cr, lab, lx + 44, y, 12.5, 0, 0.5, 0);
        }
    }
    int runs = 0;
    for (int i = 0; i < s->n_rows; i++)
        if (s->rows[i].runs > runs) runs = s->rows[i].runs;
    char note[96];
    if (runs > 1) snprintf(note, sizeof note, "mean ± std over %d iterations", runs);
    else snprintf(note, sizeof note, "one iteration (no error bars)");
    text_at(cr, note, lx, y + 32, 12, 0, 0.5, 0);
    int collapsed = 0;
    for (int i = 0; i < s->n_rows; i++) collapsed += s->rows[i].collapsed;
    if (collapsed) {
        set_color(cr, C_ATTACK);
        text_at(cr, "! = a collapsed run is in this mean", lx, y + 52, 12, 0, 0.5, 1);
    }
}

static cairo_status_t to_file(void *closure, const unsigned char *data, unsigned int length)
{
    return fwrite(data, 1, length, (FILE *)closure) == length ? CAIRO_STATUS_SUCCESS
                                                                : CAIRO_STATUS_WRITE_ERROR;
}

typedef struct plot_ctx {
    const veil_summary *s;
    int st;
    void (*draw)(cairo_t *, const struct plot_ctx *);
    /* Figure 4 and the trade-off figure */
    const veil_summary_row *const *rows;
    int n_rows, sweep_groups;
    const char *attacker; /* the attacker's name in legends and titles (NULL: none) */
    double w, h;          /* the surface (0: FIG_W x FIG_H) */
    int frontier;         /* the frontier's panels: chance lines always in view, the goal shaded */
    int x_eer;            /* the trade-off's x: 0 the row's attacker accuracy, 1 its lowest
                           * same-gender EER over the attackers (the frontier's right panel) */
} plot_ctx;

static int cairo_result(cairo_status_t st)
{
    if (st == CAIRO_STATUS_SUCCESS) return 0;
    veil_error("cairo: %s", cairo_status_to_string(st));
    return -1;
}

static int write_png(FILE *f, void *ctx)
{
    plot_ctx *p = ctx;
    cairo_surface_t *surf = cairo_image_surface_create(CAIRO_FORMAT_RGB24, (int)(p->w > 0 ? p->w : FIG_W),
                                                        (int)(p->h > 0 ? p->h : FIG_H));
    cairo_t *cr = cairo_create(surf);
    p->draw(cr, p);
    cairo_status_t st = cairo_status(cr);
    cairo_destroy(cr);
    if (st == CAIRO_STATUS_SUCCESS) st = cairo_surface_write_to_png_stream(surf, to_file, f);
    cairo_surface_destroy(surf);
    return cairo_result(st);
}

static void draw_ctx(cairo_t *cr, const void *ctx)
{
    const plot_ctx *p = ctx;
    p->draw(cr, p);
}

static int write_svg(FILE *f, void *ctx)
{
    plot_ctx *p = ctx;
    return plot_svg_write(f, p->w > 0 ? p->w : FIG_W, p->h > 0 ? p->h : FIG_H, draw_ctx, p);
}

static int plot_files(plot_ctx *p, const char *png_path, const char *svg_path)
{
    if (png_path && veil_write_atomic(png_path, write_png, p) != 0) {
        veil_error_prefix("figure %s", png_path);
        return -1;
    }
    if (svg_path && veil_write_atomic(svg_path, write_svg, p) != 0) {
        veil_error_prefix("figure %s", svg_path);
        return -1;
    }
    return 0;
}

static void draw_figure3(cairo_t *cr, const plot_ctx *p) { draw(cr, p->s, p->st, p->attacker); }

int veil_plot_figure3(const veil_summary *s, int st, const char *png_path, const char *svg_path)
{
    return veil_plot_figure3_as(s, st, NULL, png_path, svg_path);
}

int veil_plot_figure3_as(const veil_summary *s, int st, const char *attacker, const char *png_path,
                         const char *svg_path)
{
    plot_ctx p = {s, st > 0 ? st : 20, draw_figure3, NULL, 0, 0, attacker, 0, 0, 0, 0};
    return plot_files(&p, png_path, svg_path);
}

/* ---- bar charts: gender test and attacker accuracy per extractor ---- */
static void bar(cairo_t *cr, double x, double w, veil_stat v, int runs, rgb c)
{
    cairo_set_source_rgba(cr, c.r, c.g, c.b, 0.85);
    cairo_rectangle(cr, x, y_of(v.mean), w, PY1 - y_of(v.mean));
    cairo_fill(cr);
    char lab[16];
    snprintf(lab, sizeof lab, "%.1f", v.mean); /* 13.8 and 14.0 must read apart */
    set_color(cr, C_AXIS);
    text_at(cr, lab, x + w / 2, y_of(runs > 1 ? v.mean + v.std : v.mean) - 6, 10, 0.5, 0, 0);
    if (runs < 2) return;
    set_color(cr, C_AXIS);
    set_line(cr, LINE_SOLID, 1.2);
    whisker(cr, x + w / 2, y_of(v.mean - v.std), y_of(v.mean + v.std), 4);
}

/* "adversarial", "G=5", "adv_lambda=0.1": up to three lines under a bar pair */
static void row_label(const veil_summary_row *r, char lines[3][48])
{
    const veil_train_method *m = veil_train_method_by_id(r->method);
    snprintf(lines[0], 48, "%s", veil_method_name(r->method));
    lines[1][0] = lines[2][0] = 0;
    if (!m || m->groups != VEIL_GROUPS_ONE) snprintf(lines[1], 48, "G=%d", r->groups);
    if (m && m->knob && !isnan(r->knob)) snprintf(lines[2], 48, "%s=%g", m->knob, r->knob);
}

/* The gender chance level: the majority share of the gender-testing patches (mean over rows). */
static double gender_chance(const veil_summary_row *const *rows, int n)
{
    double sum = 0;
    int k = 0;
    for (int i = 0; i < n; i++)
        if (isfinite(rows[i]->gender_majority.mean) && rows[i]->gender_majority.mean > 0) {
            sum += rows[i]->gender_majority.mean;
            k++;
        }
    return k ? sum / k : NAN;
}

static void draw_bar_chart(cairo_t *cr, const veil_summary_row *const *rows, int nrows, int st, const char *title,
                           const char *attacker)
{
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_paint(cr);
    y_grid(cr, 0);
    int n = nrows > 0 ? nrows : 1, runs = 0;
    double slot = (PX1 - PX0) / n, w = slot * 0.32;
    for (int i = 0; i < nrows; i++) {
        const veil_summary_row *r = rows[i];
        if (r->runs > runs) runs = r->runs;
        double x0 = PX0 + i * slot + slot / 2;
        bar(cr, x0 - w - 2, w, r->gender_test, r->runs, C_GENDER);
        bar(cr, x0 + 2, w, r->attack, r->runs, C_ATTACK);
        char lab[3][48];
        row_label(r, lab);
        set_color(cr, C_AXIS);
        /* the labels of neighbouring bars must not run into each other: the longest line
         * fits its slot ("adv_lambda=0.1" under six bars) */
        double size = nrows > 8 ? 9.5 : 12;
        cairo_select_font_face(cr, FONT, CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
        for (int l = 0; l < 3; l++) {
            cairo_text_extents_t e;
            cairo_set_font_size(cr, size);
            cairo_text_extents(cr, lab[l], &e);
            if (e.x_advance > slot - 8) size = fmax(7, size * (slot - 8) / e.x_advance);
        }
        for (int l = 0; l < 3; l++)
            if (lab[l][0]) text_at(cr, lab[l], x0, PY1 + 16 + 13 * l, size, 0.5, 0, 0);
        if (r->collapsed) {
            set_color(cr, C_ATTACK);
            text_at(cr, "! collapsed", x0, PY1 + 56, 10, 0.5, 0, 1);
        }
    }
    double gchance = gender_chance(rows, nrows);
    clip_with_chance(cr, st);
    if (isfinite(gchance)) hline(cr, gchance, C_GENDER, LINE_DASHDOTDOT, 1.6);
    cairo_restore(cr);
    plot_frame(cr);
    y_axis_label(cr);
    char full[200];
    snprintf(full, sizeof full, "%s (St = %d)", title, st);
    set_color(cr, C_AXIS);
    text_at(cr, full, FIG_W / 2, 34, 18, 0.5, 0, 1);

    char chance1[64], chance2[96];
    chance_labels(st, chance1, chance2);
    double lx = PX1 + 18, ly = PY0 + 12;
    rgb colors[2] = {C_GENDER, C_ATTACK};
    char attack_label[80];
    snprintf(attack_label, sizeof attack_label, "Attacker test%s%s%s", attacker ? " (" : "", attacker ? attacker : "",
             attacker ? ")" : "");
    char gtest[48];
    snprintf(gtest, sizeof gtest, "%s test", task_upper);
    const char *labels[2] = {gtest, attack_label};
    for (int i = 0; i < 2; i++) {
        cairo_set_source_rgba(cr, colors[i].r, colors[i].g, colors[i].b, 0.85);
        cairo_rectangle(cr, lx + 8, ly + i * 26 - 7, 20, 14);
        cairo_fill(cr);
        set_color(cr, C_AXIS);
        text_at(cr, labels[i], lx + 44, ly + i * 26, 12.5, 0, 0.5, 0);
    }
    set_color(cr, C_CHANCE);
    set_line(cr, LINE_DOTTED, 1.8);
    cairo_move_to(cr, lx, ly + 52);
    cairo_line_to(cr, lx + 36, ly + 52);
    cairo_stroke(cr);
    set_line(cr, LINE_DASHDOT, 1.4);
    cairo_move_to(cr, lx, ly + 78);
    cairo_line_to(cr, lx + 36, ly + 78);
    cairo_stroke(cr);
    set_color(cr, C_AXIS);
    text_at(cr, chance1, lx + 44, ly + 52, 12.5, 0, 0.5, 0);
    char first[96];
    chance_first_line(chance2, first, sizeof first);
    text_at(cr, first, lx + 44, ly + 78, 12.5, 0, 0.5, 0);
    text_at(cr, chance2 + strlen(first) + 1, lx + 44, ly + 94, 12.5, 0, 0.5, 0);
    double y = ly + 120;
    if (isfinite(gchance)) {
        set_color(cr, C_GENDER);
        set_line(cr, LINE_DASHDOTDOT, 1.6);
        cairo_move_to(cr, lx, y);
        cairo_line_to(cr, lx + 36, y);
        cairo_stroke(cr);
        set_color(cr, C_AXIS);
        char g[64];
        snprintf(g, sizeof g, "%s chance %.1f %%", task_lower, gchance);
        text_at(cr, g, lx + 44, y, 12.5, 0, 0.5, 0);
        text_at(cr, "(majority share)", lx + 44, y + 16, 12.5, 0, 0.5, 0);
        y += 42;
    }
    if (runs > 1) text_at(cr, "bars: mean, whiskers: ± std", lx, y, 12, 0, 0.5, 0);
    else text_at(cr, "one iteration: no spread", lx, y, 12, 0, 0.5, 0);
}

static void draw_extractors(cairo_t *cr, const plot_ctx *p)
{
    const veil_summary_row **rows = veil_malloc((size_t)(p->s->n_rows ? p->s->n_rows : 1) * sizeof *rows);
    for (int i = 0; i < p->s->n_rows; i++) rows[i] = &p->s->rows[i];
    char title[96];
    snprintf(title, sizeof title, "%s test vs. attacker test per extractor", task_upper);
    draw_bar_chart(cr, rows, p->s->n_rows, p->st, title, NULL);
    free(rows);
}

int veil_plot_extractors(const veil_summary *s, int st, const char *png_path, const char *svg_path)
{
    plot_ctx p = {s, st > 0 ? st : 20, draw_extractors, NULL, 0, 0, NULL, 0, 0, 0, 0};
    return plot_files(&p, png_path, svg_path);
}

static void draw_figure4(cairo_t *cr, const plot_ctx *p)
{
    draw_bar_chart(cr, p->rows, p->n_rows, p->st, "Figure 4: privacy methods at their selected points", p->attacker);
}

int veil_plot_figure4(const veil_summary_row *const *rows, int n, int st, const char *png_path,
                      const char *svg_path)
{
    return veil_plot_figure4_as(rows, n, st, "paper-mlp", png_path, svg_path);
}

int veil_plot_figure4_as(const veil_summary_row *const *rows, int n, int st, const char *attacker,
                         const char *png_path, const char *svg_path)
{
    plot_ctx p = {NULL, st > 0 ? st : 20, draw_figure4, rows, n, 0, attacker, 0, 0, 0, 0};
    return plot_files(&p, png_path, svg_path);
}

/* ---- the trade-off: attacker accuracy (x) vs gender test accuracy (y) ----
 * The axes fit the points with a margin (every point used to crowd one corner of a 0-100
 * square); a chance line is kept when it is near the points. Labels go where they overlap
 * no marker and no other label. */
static const rgb method_colors[] = {{0.35, 0.35, 0.35}, {0.12, 0.40, 0.75}, {0.84, 0.20, 0.16},
                                    {0.20, 0.60, 0.25}, {0.55, 0.30, 0.70}, {0.85, 0.55, 0.10}};

typedef struct axis {
    double lo, hi, step;
} axis;

/* [lo, hi] widened by 8 % of the span on each side (at least 1 point) and to a round
 * step, within 0..100. */
static axis fit_axis(double lo, double hi)
{
    double span = hi - lo;
    if (!(span > 2)) span = 2;
    lo -= 0.08 * span;
    hi += 0.08 * span;
    span = hi - lo;
    static const double steps[] = {0.5, 1, 2, 5, 10, 20};
    double step = 20;
    for (int i = 0; i < 6; i++)
        if (span / steps[i] <= 10) {
            step = steps[i];
            break;
        }
    axis a = {floor(lo / step) * step, ceil(hi / step) * step, step};
    if (a.lo < 0) a.lo = 0;
    if (a.hi > 100) a.hi = 100;
    if (a.hi <= a.lo) a.hi = a.lo + step;
    return a;
}
static double ax_x(const axis *a, double v) { return PX0 + (v - a->lo) / (a->hi - a->lo) * (PX1 - PX0); }
static double ax_y(const axis *a, double v) { return PY1 - (v - a->lo) / (a->hi - a->lo) * (PY1 - PY0); }

typedef struct box {
    double x0, y0, x1, y1;
} box;
static int boxes_overlap(box a, box b) { return a.x0 < b.x1 && b.x0 < a.x1 && a.y0 < b.y1 && b.y0 < a.y1; }

/* The trade-off's x of a row: its attacker's accuracy, or the lowest same-gender EER of
 * its attackers (NaN: none). */
static double point_x(const veil_summary_row *r, const plot_ctx *p)
{
    if (!p->x_eer) return r->attack.mean;
    return r->same_gender_index >= 0 ? r->attackers[r->same_gender_index].eer_same_gender.mean : NAN;
}

/* The points the trade-off draws: rows of methods with a knob at the sweep G, every G of
 * the others. */
static int tradeoff_point(const veil_summary_row *r, const veil_train_method *m, const plot_ctx *p)
{
    return r->method == m->id && !(m->knob && r->groups != p->sweep_groups) && isfinite(point_x(r, p)) &&
           isfinite(r->gender_test.mean);
}

static void draw_tradeoff(cairo_t *cr, const plot_ctx *p)
{
    const veil_summary *s = p->s;
    int st = p->st;
    int count;
    const veil_train_method *const *ms = veil_train_methods(&count);
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_rectangle(cr, 0, 0, FIG_W, FIG_H); /* this panel only: the frontier draws two */
    cairo_fill(cr);

    const veil_summary_row **all = veil_malloc((size_t)(s->n_rows ? s->n_rows : 1) * sizeof *all);
    for (int i = 0; i < s->n_rows; i++) all[i] = &s->rows[i];
    double gchance = gender_chance(all, s->n_rows);
    free(all);
    /* the data's extent; the chance lines join it when they lie within half its span */
    double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
    for (int q = 0; q < count; q++)
        for (int i = 0; i < s->n_rows; i++) {
            const veil_summary_row *r = &s->rows[i];
            if (!tradeoff_point(r, ms[q], p)) continue;
            x0 = fmin(x0, point_x(r, p)), x1 = fmax(x1, point_x(r, p));
            y0 = fmin(y0, r->gender_test.mean), y1 = fmax(y1, r->gender_test.mean);
        }
    if (!(x1 >= x0)) x0 = 0, x1 = 100, y0 = 0, y1 = 100;
    double xs = fmax(x1 - x0, 5), ys = fmax(y1 - y0, 5);
    /* chance: 1/St and 2/St for an identification attacker, an EER of 50 % */
    double chx[2] = {p->x_eer ? 50.0 : 100.0 / st, p->x_eer ? 50.0 : knowing_chance(st)};
    for (int i = 0; i < 2; i++)
        if (p->frontier || (chx[i] >= x0 - 0.5 * xs && chx[i] <= x1 + 0.5 * xs))
            x0 = fmin(x0, chx[i]), x1 = fmax(x1, chx[i]);
    int show_g = isfinite(gchance) && gchance >= y0 - 0.5 * ys && gchance <= y1 + 0.5 * ys;
    if (show_g) y0 = fmin(y0, gchance), y1 = fmax(y1, gchance);
    /* the frontier's goal (issue 19): gender >= 93 %, strongest per utterance <= 20 %,
     * every same-gender EER >= 40 % */
    const double goal_y = 93, goal_x = p->x_eer ? 40 : 20;
    if (p->frontier) y1 = fmax(y1, goal_y + 1), x0 = fmin(x0, goal_x), x1 = fmax(x1, goal_x);
    axis ax = fit_axis(x0, x1), ay = fit_axis(y0, y1);

    /* grid and tick labels */
    char lab[48];
    for (double v = ax.lo; v <= ax.hi + 1e-9; v += ax.step) {
        cairo_set_source_rgb(cr, 0.9, 0.9, 0.9);
        set_line(cr, LINE_SOLID, 1);
        cairo_move_to(cr, ax_x(&ax, v), PY0);
        cairo_line_to(cr, ax_x(&ax, v), PY1);
        cairo_stroke(cr);
        set_color(cr, C_AXIS);
        snprintf(lab, sizeof lab, ax.step < 1 ? "%.1f" : "%.0f", v);
        text_at(cr, lab, ax_x(&ax, v), PY1 + 20, 13, 0.5, 0, 0);
    }
    for (double v = ay.lo; v <= ay.hi + 1e-9; v += ay.step) {
        cairo_set_source_rgb(cr, 0.9, 0.9, 0.9);
        set_line(cr, LINE_SOLID, 1);
        cairo_move_to(cr, PX0, ax_y(&ay, v));
        cairo_line_to(cr, PX1, ax_y(&ay, v));
        cairo_stroke(cr);
        set_color(cr, C_AXIS);
        snprintf(lab, sizeof lab, ay.step < 1 ? "%.1f" : "%.0f", v);
        text_at(cr, lab, PX0 - 9, ax_y(&ay, v), 13, 1, 0.5, 0);
    }
    plot_frame(cr);
    set_color(cr, C_AXIS);
    char xlabel[120];
    if (p->x_eer) snprintf(xlabel, sizeof xlabel, "lowest same-gender EER of any attacker (%%)");
    else
        snprintf(xlabel, sizeof xlabel, "attacker test accuracy (%%)%s%s%s", p->attacker ? ": " : "",
                 p->attacker ? p->attacker : "", "");
    text_at(cr, xlabel, (PX0 + PX1) / 2, PY1 + 48, 15, 0.5, 0, 0);
    cairo_save(cr);
    cairo_translate(cr, PX0 - 52, (PY0 + PY1) / 2);
    cairo_rotate(cr, -M_PI / 2);
    char ylabel[64];
    snprintf(ylabel, sizeof ylabel, "%s test accuracy (%%)", task_lower);
    text_at(cr, ylabel, 0, 0, 15, 0.5, 0, 0);
    cairo_restore(cr);
    char title[160];
    if (p->x_eer) snprintf(title, sizeof title, "%s recognition vs. speaker verification within a gender", task_upper);
    else snprintf(title, sizeof title, "Trade-off: %s recognition vs. speaker identification (St = %d)", task_lower, st);
    text_at(cr, title, FIG_W / 2, 34, 17, 0.5, 0, 1);

    cairo_save(cr);
    cairo_rectangle(cr, PX0, PY0, PX1 - PX0, PY1 - PY0);
    cairo_clip(cr);
    if (p->frontier) { /* the goal region, lightly shaded under everything else */
        double gx0 = p->x_eer ? ax_x(&ax, goal_x) : PX0, gx1 = p->x_eer ? PX1 : ax_x(&ax, goal_x);
        cairo_set_source_rgba(cr, 0.2, 0.7, 0.3, 0.12);
        cairo_rectangle(cr, gx0, PY0, gx1 - gx0, ax_y(&ay, goal_y) - PY0);
        cairo_fill(cr);
        cairo_set_source_rgb(cr, 0.2, 0.5, 0.25);
        text_at(cr, "goal", p->x_eer ? gx1 - 6 : gx0 + 6, PY0 + 14, 12, p->x_eer ? 1 : 0, 0.5, 1);
    }
    set_color(cr, C_CHANCE);
    set_line(cr, LINE_DOTTED, 1.8);
    cairo_move_to(cr, ax_x(&ax, chx[0]), PY0);
    cairo_line_to(cr, ax_x(&ax, chx[0]), PY1);
    cairo_stroke(cr);
    if (!p->x_eer) {
        set_line(cr, LINE_DASHDOT, 1.4);
        cairo_move_to(cr, ax_x(&ax, chx[1]), PY0);
        cairo_line_to(cr, ax_x(&ax, chx[1]), PY1);
        cairo_stroke(cr);
    }
    if (show_g) {
        set_color(cr, C_GENDER);
        set_line(cr, LINE_DASHDOTDOT, 1.6);
        cairo_move_to(cr, PX0, ax_y(&ay, gchance));
        cairo_line_to(cr, PX1, ax_y(&ay, gchance));
        cairo_stroke(cr);
    }

    /* lines, then markers (their boxes are obstacles for every label), then labels */
    box *taken = veil_malloc((size_t)(2 * s->n_rows + 1) * sizeof *taken);
    int nt = 0;
    for (int q = 0; q < count; q++) {
        const veil_train_method *m = ms[q];
        rgb c = method_colors[q % (int)(sizeof method_colors / sizeof method_colors[0])];
        int first = 1;
        set_color(cr, c);
        set_line(cr, LINE_SOLID, 2);
        for (int i = 0; i < s->n_rows; i++) {
            const veil_summary_row *r = &s->rows[i];
            if (!tradeoff_point(r, m, p)) continue;
            double x = ax_x(&ax, point_x(r, p)), y = ax_y(&ay, r->gender_test.mean);
            if (first) cairo_move_to(cr, x, y);
            else cairo_line_to(cr, x, y);
            first = 0;
        }
        cairo_stroke(cr);
    }
    for (int q = 0; q < count; q++) {
        rgb c = method_colors[q % (int)(sizeof method_colors / sizeof method_colors[0])];
        for (int i = 0; i < s->n_rows; i++) {
            const veil_summary_row *r = &s->rows[i];
            if (!tradeoff_point(r, ms[q], p)) continue;
            double x = ax_x(&ax, point_x(r, p)), y = ax_y(&ay, r->gender_test.mean);
            draw_marker(cr, MARK_CIRCLE, x, y, c);
            taken[nt++] = (box){x - 6, y - 6, x + 6, y + 6};
        }
    }
    cairo_select_font_face(cr, FONT, CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, 10.5);
    for (int q = 0; q < count; q++) {
        const veil_train_method *m = ms[q];
        rgb c = method_colors[q % (int)(sizeof method_colors / sizeof method_colors[0])];
        for (int i = 0; i < s->n_rows; i++) {
            const veil_summary_row *r = &s->rows[i];
            if (!tradeoff_point(r, m, p)) continue;
            lab[0] = 0;
            if (m->knob && !isnan(r->knob)) snprintf(lab, sizeof lab, "%g", r->knob);
            else if (m->groups != VEIL_GROUPS_ONE) snprintf(lab, sizeof lab, "G=%d", r->groups);
            if (!lab[0]) continue;
            cairo_text_extents_t e;
            cairo_text_extents(cr, lab, &e);
            double x = ax_x(&ax, point_x(r, p)), y = ax_y(&ay, r->gender_test.mean), w = e.x_advance, h = 10;
            /* candidate places around the marker, the first free one wins (else the first) */
            const double dx[8] = {8, 8, -8 - w, -8 - w, -w / 2, -w / 2, 14, -14 - w};
            const double dy[8] = {-14, 4, -14, 4, -20, 10, -5, -5};
            int pick = 0;
            for (int k = 0; k < 8; k++) {
                box bx = {x + dx[k], y + dy[k], x + dx[k] + w, y + dy[k] + h};
                int free_here = bx.x0 >= PX0 + 2 && bx.x1 <= PX1 - 2 && bx.y0 >= PY0 + 2 && bx.y1 <= PY1 - 2;
                for (int t = 0; t < nt && free_here; t++) free_here = !boxes_overlap(bx, taken[t]);
                if (free_here) {
                    pick = k;
                    break;
                }
            }
            box bx = {x + dx[pick], y + dy[pick], x + dx[pick] + w, y + dy[pick] + h};
            taken = veil_realloc(taken, (size_t)(nt + 1) * sizeof *taken);
            taken[nt++] = bx;
            set_color(cr, c);
            text_at(cr, lab, bx.x0, bx.y1, 10.5, 0, 0, 0);
        }
    }
    free(taken);
    cairo_restore(cr);

    /* legend, right of the plot */
    double lx = PX1 + 18, ly = PY0 + 12;
    int items = 0;
    for (int q = 0; q < count; q++) {
        const veil_train_method *m = ms[q];
        int any = 0;
        for (int i = 0; i < s->n_rows && !any; i++) any = tradeoff_point(&s->rows[i], m, p);
        if (!any) continue;
        rgb c = method_colors[q % (int)(sizeof method_colors / sizeof method_colors[0])];
        double y = ly + items * 24;
        set_color(cr, c);
        set_line(cr, LINE_SOLID, 2);
        cairo_move_to(cr, lx, y);
        cairo_line_to(cr, lx + 36, y);
        cairo_stroke(cr);
        draw_marker(cr, MARK_CIRCLE, lx + 18, y, c);
        set_color(cr, C_AXIS);
        if (m->knob) snprintf(lab, sizeof lab, "%s (%s)", m->name, m->knob);
        else snprintf(lab, sizeof lab, "%s", m->name);
        text_at(cr, lab, lx + 44, y, 12.5, 0, 0.5, 0);
        items++;
    }
    double y = ly + items * 24 + 12;
    char chance1[64], chance2[96];
    chance_labels(st, chance1, chance2);
    set_color(cr, C_CHANCE);
    set_line(cr, LINE_DOTTED, 1.8);
    cairo_move_to(cr, lx, y);
    cairo_line_to(cr, lx + 36, y);
    cairo_stroke(cr);
    if (p->x_eer) {
        set_color(cr, C_AXIS);
        text_at(cr, "chance: EER 50 %", lx + 44, y, 12, 0, 0.5, 0);
    } else {
        set_line(cr, LINE_DASHDOT, 1.4);
        cairo_move_to(cr, lx, y + 26);
        cairo_line_to(cr, lx + 36, y + 26);
        cairo_stroke(cr);
        set_color(cr, C_AXIS);
        text_at(cr, chance1, lx + 44, y, 12, 0, 0.5, 0);
        char first[96];
        chance_first_line(chance2, first, sizeof first);
        text_at(cr, first, lx + 44, y + 26, 12, 0, 0.5, 0);
        text_at(cr, chance2 + strlen(first) + 1, lx + 44, y + 42, 12, 0, 0.5, 0);
    }
    if (show_g) {
        set_color(cr, C_GENDER);
        set_line(cr, LINE_DASHDOTDOT, 1.6);
        cairo_move_to(cr, lx, y + 68);
        cairo_line_to(cr, lx + 36, y + 68);
        cairo_stroke(cr);
        set_color(cr, C_AXIS);
        snprintf(lab, sizeof lab, "%s chance %.1f %%", task_lower, gchance);
        text_at(cr, lab, lx + 44, y + 68, 12, 0, 0.5, 0);
    }
    set_color(cr, C_AXIS);
    text_at(cr, "labels: knob value or G", lx, y + 100, 11.5, 0, 0.5, 0);
    if (p->frontier)
    {
        char goal[96];
        snprintf(goal, sizeof goal, p->x_eer ? "goal: %s >= 93 %%, EER >= 40 %%" : "goal: %s >= 93 %%, <= 20 %%", task_lower);
        text_at(cr, goal, lx, y + 118, 11.5, 0, 0.5, 0);
    }
    else text_at(cr, "chance lines drawn when near", lx, y + 118, 11.5, 0, 0.5, 0);
}

int veil_plot_tradeoff(const veil_summary *s, int sweep_groups, int st, const char *png_path,
                       const char *svg_path)
{
    return veil_plot_tradeoff_as(s, sweep_groups, st, "paper-mlp per patch", png_path, svg_path);
}

int veil_plot_tradeoff_as(const veil_summary *s, int sweep_groups, int st, const char *attacker,
                          const char *png_path, const char *svg_path)
{
    plot_ctx p = {s, st > 0 ? st : 20, draw_tradeoff, NULL, 0, sweep_groups, attacker, 0, 0, 0, 0};
    return plot_files(&p, png_path, svg_path);
}

/* The frontier: the trade-off under the strongest attacker per utterance (left) and under
 * the lowest same-gender EER (right), side by side. */
static void draw_frontier(cairo_t *cr, const plot_ctx *p)
{
    plot_ctx left = *p, right = *p;
    left.x_eer = 0;
    right.x_eer = 1;
    left.frontier = right.frontier = 1;
    draw_tradeoff(cr, &left);
    cairo_save(cr);
    cairo_translate(cr, FIG_W, 0);
    draw_tradeoff(cr, &right);
    cairo_restore(cr);
}

int veil_plot_frontier(const veil_summary *strongest, int sweep_groups, int st, const char *png_path,
                       const char *svg_path)
{
    plot_ctx p = {strongest, st > 0 ? st : 20, draw_frontier, NULL, 0, sweep_groups, "strongest per utterance",
                  2 * FIG_W, FIG_H, 1, 0};
    return plot_files(&p, png_path, svg_path);
}

/* ---- methods x attackers: a table of shaded cells ----
 * Each cell: the attacker's main number on that extractor (accuracy per utterance, per
 * patch for the patch-split MLPs, EER for the verifiers), shaded white (chance) to red (a
 * perfect attack): identification by (acc - 1/St) / (1 - 1/St), verification by
 * (50 - EER) / 50. */
static void draw_attackers(cairo_t *cr, const plot_ctx *p)
{
    const veil_summary *s = p->s;
    int st = p->st;
    /* the columns: every attacker name of any row, in first-seen order */
    char names[VEIL_MAX_PROBES][32];
    int nc = 0;
    for (int i = 0; i < s->n_rows; i++)
        for (int q = 0; q < s->rows[i].n_attackers; q++) {
            int seen = 0;
            for (int c = 0; c < nc; c++) seen |= !strcmp(names[c], s->rows[i].attackers[q].name);
            if (!seen && nc < VEIL_MAX_PROBES) snprintf(names[nc++], 32, "%s", s->rows[i].attackers[q].name);
        }
    double W = p->w;
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_paint(cr);
    double x0 = 190, y0 = 150, cw = 92, ch = 26;
    set_color(cr, C_AXIS);
    char title[160];
    snprintf(title, sizeof title, "Every attacker on every extractor (St = %d)", st);
    text_at(cr, title, W / 2, 30, 17, 0.5, 0, 1);
    snprintf(title, sizeof title, "accuracy per utterance %% (per patch: paper-mlp, paper-mlp-std; chance %.1f); "
                                  "verify-*: EER %% (chance 50)", 100.0 / st);
    text_at(cr, title, W / 2, 52, 11.5, 0.5, 0, 0);
    for (int c = 0; c < nc; c++) {
        cairo_save(cr);
        cairo_translate(cr, x0 + c * cw + cw / 2 - 4, y0 - 8);
        cairo_rotate(cr, -0.6); /* long names ("verify-same-gender") clear their neighbours */
        text_at(cr, names[c], 0, 0, 11, 0, 0, 1);
        cairo_restore(cr);
    }
    for (int i = 0; i < s->n_rows; i++) {
        const veil_summary_row *r = &s->rows[i];
        const veil_train_method *m = veil_train_method_by_id(r->method);
        char lab[96];
        if (m && m->knob && !isnan(r->knob)) snprintf(lab, sizeof lab, "%s G=%d %g", veil_method_name(r->method), r->groups, r->knob);
        else snprintf(lab, sizeof lab, "%s G=%d", veil_method_name(r->method), r->groups);
        double y = y0 + i * ch;
        set_color(cr, C_AXIS);
        text_at(cr, lab, x0 - 8, y + ch / 2, 11, 1, 0.5, 0);
        for (int c = 0; c < nc; c++) {
            const veil_row_attacker *a = NULL;
            for (int q = 0; q < r->n_attackers && !a; q++)
                if (!strcmp(r->attackers[q].name, names[c])) a = &r->attackers[q];
            double v = NAN, level = 0;
            if (a && isfinite(a->acc_utt.mean)) v = a->acc_utt.mean;
            else if (a && isfinite(a->acc.mean)) v = a->acc.mean;
            if (isfinite(v)) level = (v / 100 - 1.0 / st) / (1 - 1.0 / st);
            else if (a && isfinite(a->eer.mean)) {
                v = a->eer.mean;
                level = (50 - v) / 50;
            }
            level = level < 0 ? 0 : level > 1 ? 1 : level;
            double x = x0 + c * cw;
            if (isfinite(v)) cairo_set_source_rgb(cr, 1, 1 - 0.75 * level, 1 - 0.8 * level);
            else cairo_set_source_rgb(cr, 0.93, 0.93, 0.93);
            cairo_rectangle(cr, x + 1, y + 1, cw - 2, ch - 2);
            cairo_fill(cr);
            set_color(cr, C_AXIS);
            if (isfinite(v)) snprintf(lab, sizeof lab, "%.1f", v);
            else snprintf(lab, sizeof lab, "–");
            text_at(cr, lab, x + cw / 2, y + ch / 2, 11.5, 0.5, 0.5, r->strongest_index >= 0 && a == &r->attackers[r->strongest_index]);
        }
    }
    set_color(cr, C_AXIS);
    text_at(cr, "bold: the row's strongest attacker per utterance; white = chance, red = a perfect attack",
            W / 2, y0 + (s->n_rows ? s->n_rows : 1) * ch + 26, 11, 0.5, 0, 0);
}

int veil_plot_attackers(const veil_summary *s, int st, const char *png_path, const char *svg_path)
{
    int nc = 0;
    for (int i = 0; i < s->n_rows; i++) nc = s->rows[i].n_attackers > nc ? s->rows[i].n_attackers : nc;
    plot_ctx p = {s, st > 0 ? st : 20, draw_attackers, NULL, 0, 0, NULL,
                  fmax(FIG_W, 260 + 92.0 * (nc ? nc : 1)), 200 + 26.0 * (s->n_rows ? s->n_rows : 1), 0, 0};
    return plot_files(&p, png_path, svg_path);
}
