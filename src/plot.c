/* Figure 3 with cairo: one drawing routine, rendered to a PNG image surface and to an
 * SVG surface. Both go through veil_write_atomic (temporary file, then rename). */
#include <cairo-svg.h>
#include <cairo.h>
#include <math.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "veil/common.h"
#include "veil/report.h"
#include "train/method.h"

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

typedef enum { LINE_SOLID, LINE_DASHED, LINE_DOTTED, LINE_DASHDOT } line_style;
static void set_line(cairo_t *cr, line_style s, double width)
{
    static const double dash[] = {9, 5}, dot[] = {2, 4}, dashdot[] = {8, 4, 2, 4};
    cairo_set_line_width(cr, width);
    cairo_set_line_cap(cr, s == LINE_DOTTED ? CAIRO_LINE_CAP_ROUND : CAIRO_LINE_CAP_BUTT);
    if (s == LINE_DASHED) cairo_set_dash(cr, dash, 2, 0);
    else if (s == LINE_DOTTED) cairo_set_dash(cr, dot, 2, 0);
    else if (s == LINE_DASHDOT) cairo_set_dash(cr, dashdot, 4, 0);
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

/* Clips to the plot area (the caller's cairo_restore ends it) and draws the chance levels. */
static void clip_with_chance(cairo_t *cr, int st)
{
    cairo_save(cr);
    cairo_rectangle(cr, PX0, PY0, PX1 - PX0, PY1 - PY0);
    cairo_clip(cr);
    hline(cr, 100.0 / st, C_CHANCE, LINE_DOTTED, 1.8);
    hline(cr, 200.0 / st, C_CHANCE, LINE_DASHDOT, 1.4);
}

static void chance_labels(int st, char chance1[64], char chance2[64])
{
    snprintf(chance1, 64, "chance 1/St = %.1f %%", 100.0 / st);
    snprintf(chance2, 64, "chance knowing gender 2/St = %.1f %%", 200.0 / st);
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
    /* lines between the means of neighbouring G only: no line across a G that was not run */
    set_color(cr, c);
    set_line(cr, LINE_SOLID, 2.2);
    for (int g = 2; g <= 5; g++) {
        const veil_summary_row *a = veil_summary_find(s, VEIL_METHOD_SIAMESE, g - 1);
        const veil_summary_row *r = veil_summary_find(s, VEIL_METHOD_SIAMESE, g);
        if (!a || !r) continue;
        cairo_move_to(cr, x_of(g - 1), y_of(row_stat(a, which).mean));
        cairo_line_to(cr, x_of(g), y_of(row_stat(r, which).mean));
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

typedef struct legend_item {
    const char *label;
    rgb color;
    line_style style;
    marker mark;
} legend_item;

static void draw(cairo_t *cr, const veil_summary *s, int st)
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
    snprintf(title, sizeof title, "Gender recognition vs. speaker identification (St = %d)", st);
    set_color(cr, C_AXIS);
    text_at(cr, title, FIG_W / 2, 34, 18, 0.5, 0, 1);

    /* chance levels, then the reference, then the Siamese series on top */
    clip_with_chance(cr, st);
    const veil_summary_row *ref = veil_summary_find(s, VEIL_METHOD_REFERENCE, 1);
    if (ref) {
        hline(cr, ref->gender_test.mean, C_GENDER, LINE_DASHED, 2);
        hline(cr, ref->attack.mean, C_ATTACK, LINE_DASHED, 2);
    }
    draw_series(cr, s, SERIES_GENDER, C_GENDER, MARK_CIRCLE);
    draw_series(cr, s, SERIES_ATTACK, C_ATTACK, MARK_SQUARE);
    cairo_restore(cr);

    /* legend, right of the plot area */
    char chance1[64], chance2[64];
    chance_labels(st, chance1, chance2);
    legend_item items[6];
    int n = 0;
    if (veil_summary_find(s, VEIL_METHOD_SIAMESE, 1) || s->n_rows > (ref ? 1 : 0)) {
        items[n++] = (legend_item){"Gender test (Siamese)", C_GENDER, LINE_SOLID, MARK_CIRCLE};
        items[n++] = (legend_item){"Attacker test (Siamese)", C_ATTACK, LINE_SOLID, MARK_SQUARE};
    }
    if (ref) {
        items[n++] = (legend_item){"Gender reference", C_GENDER, LINE_DASHED, MARK_NONE};
        items[n++] = (legend_item){"Attacker reference", C_ATTACK, LINE_DASHED, MARK_NONE};
    }
    items[n++] = (legend_item){chance1, C_CHANCE, LINE_DOTTED, MARK_NONE};
    items[n++] = (legend_item){chance2, C_CHANCE, LINE_DASHDOT, MARK_NONE};
    double lx = PX1 + 18, ly = PY0 + 12;
    for (int i = 0; i < n; i++) {
        double y = ly + i * 26;
        set_color(cr, items[i].color);
        set_line(cr, items[i].style, items[i].style == LINE_SOLID ? 2.2 : 2);
        cairo_move_to(cr, lx, y);
        cairo_line_to(cr, lx + 36, y);
        cairo_stroke(cr);
        draw_marker(cr, items[i].mark, lx + 18, y, items[i].color);
        set_color(cr, C_AXIS);
        /* the long chance label wraps after its first words */
        const char *lab = items[i].label;
        const char *split = strstr(lab, " 2/St");
        if (split) {
            char first[64];
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
    text_at(cr, note, lx, ly + n * 26 + 26, 12, 0, 0.5, 0);
    int collapsed = 0;
    for (int i = 0; i < s->n_rows; i++) collapsed += s->rows[i].collapsed;
    if (collapsed) {
        set_color(cr, C_ATTACK);
        text_at(cr, "! = a collapsed run is in this mean", lx, ly + n * 26 + 46, 12, 0, 0.5, 1);
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
    cairo_surface_t *surf = cairo_image_surface_create(CAIRO_FORMAT_RGB24, (int)FIG_W, (int)FIG_H);
    cairo_t *cr = cairo_create(surf);
    p->draw(cr, p);
    cairo_status_t st = cairo_status(cr);
    cairo_destroy(cr);
    if (st == CAIRO_STATUS_SUCCESS) st = cairo_surface_write_to_png_stream(surf, to_file, f);
    cairo_surface_destroy(surf);
    return cairo_result(st);
}

static int write_svg(FILE *f, void *ctx)
{
    plot_ctx *p = ctx;
    cairo_surface_t *surf = cairo_svg_surface_create_for_stream(to_file, f, FIG_W, FIG_H);
    cairo_t *cr = cairo_create(surf);
    p->draw(cr, p);
    cairo_status_t st = cairo_status(cr);
    cairo_destroy(cr);
    cairo_surface_finish(surf); /* writes the document */
    if (st == CAIRO_STATUS_SUCCESS) st = cairo_surface_status(surf);
    cairo_surface_destroy(surf);
    return cairo_result(st);
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

static void draw_figure3(cairo_t *cr, const plot_ctx *p) { draw(cr, p->s, p->st); }

int veil_plot_figure3(const veil_summary *s, int st, const char *png_path, const char *svg_path)
{
    plot_ctx p = {s, st > 0 ? st : 20, draw_figure3, NULL, 0, 0};
    return plot_files(&p, png_path, svg_path);
}

/* ---- bar charts: gender test and attacker accuracy per extractor ---- */
static void bar(cairo_t *cr, double x, double w, veil_stat v, int runs, rgb c)
{
    cairo_set_source_rgba(cr, c.r, c.g, c.b, 0.85);
    cairo_rectangle(cr, x, y_of(v.mean), w, PY1 - y_of(v.mean));
    cairo_fill(cr);
    char lab[16];
    snprintf(lab, sizeof lab, "%.0f", v.mean);
    set_color(cr, C_AXIS);
    text_at(cr, lab, x + w / 2, y_of(runs > 1 ? v.mean + v.std : v.mean) - 6, 11, 0.5, 0, 0);
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

static void draw_bar_chart(cairo_t *cr, const veil_summary_row *const *rows, int nrows, int st, const char *title)
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
        double size = nrows > 8 ? 9.5 : 12;
        for (int l = 0; l < 3; l++)
            if (lab[l][0]) text_at(cr, lab[l], x0, PY1 + 16 + 13 * l, size, 0.5, 0, 0);
        if (r->collapsed) {
            set_color(cr, C_ATTACK);
            text_at(cr, "! collapsed", x0, PY1 + 56, 10, 0.5, 0, 1);
        }
    }
    double gchance = gender_chance(rows, nrows);
    clip_with_chance(cr, st);
    if (isfinite(gchance)) hline(cr, gchance, C_GENDER, LINE_DOTTED, 1.6);
    cairo_restore(cr);
    plot_frame(cr);
    y_axis_label(cr);
    char full[200];
    snprintf(full, sizeof full, "%s (St = %d)", title, st);
    set_color(cr, C_AXIS);
    text_at(cr, full, FIG_W / 2, 34, 18, 0.5, 0, 1);

    char chance1[64], chance2[64];
    chance_labels(st, chance1, chance2);
    double lx = PX1 + 18, ly = PY0 + 12;
    rgb colors[2] = {C_GENDER, C_ATTACK};
    const char *labels[2] = {"Gender test", "Attacker test"};
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
    text_at(cr, "chance knowing gender", lx + 44, ly + 78, 12.5, 0, 0.5, 0);
    text_at(cr, chance2 + strlen("chance knowing gender "), lx + 44, ly + 94, 12.5, 0, 0.5, 0);
    double y = ly + 120;
    if (isfinite(gchance)) {
        set_color(cr, C_GENDER);
        set_line(cr, LINE_DOTTED, 1.6);
        cairo_move_to(cr, lx, y);
        cairo_line_to(cr, lx + 36, y);
        cairo_stroke(cr);
        set_color(cr, C_AXIS);
        char g[64];
        snprintf(g, sizeof g, "gender chance %.1f %%", gchance);
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
    draw_bar_chart(cr, rows, p->s->n_rows, p->st, "Gender test vs. attacker test per extractor");
    free(rows);
}

int veil_plot_extractors(const veil_summary *s, int st, const char *png_path, const char *svg_path)
{
    plot_ctx p = {s, st > 0 ? st : 20, draw_extractors, NULL, 0, 0};
    return plot_files(&p, png_path, svg_path);
}

static void draw_figure4(cairo_t *cr, const plot_ctx *p)
{
    draw_bar_chart(cr, p->rows, p->n_rows, p->st, "Figure 4: privacy methods at their selected points");
}

int veil_plot_figure4(const veil_summary_row *const *rows, int n, int st, const char *png_path,
                      const char *svg_path)
{
    plot_ctx p = {NULL, st > 0 ? st : 20, draw_figure4, rows, n, 0};
    return plot_files(&p, png_path, svg_path);
}

/* ---- the trade-off: attacker accuracy (x) vs gender test accuracy (y) ---- */
static double tx_of(double pct)
{
    if (pct < 0) pct = 0;
    if (pct > 100) pct = 100;
    return PX0 + pct / 100.0 * (PX1 - PX0);
}

static const rgb method_colors[] = {{0.35, 0.35, 0.35}, {0.12, 0.40, 0.75}, {0.84, 0.20, 0.16},
                                    {0.20, 0.60, 0.25}, {0.55, 0.30, 0.70}, {0.85, 0.55, 0.10}};

static void draw_tradeoff(cairo_t *cr, const plot_ctx *p)
{
    const veil_summary *s = p->s;
    int st = p->st;
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_paint(cr);
    y_grid(cr, 1);
    for (int q = 0; q <= 100; q += 10) {
        cairo_set_source_rgb(cr, 0.9, 0.9, 0.9);
        set_line(cr, LINE_SOLID, 1);
        cairo_move_to(cr, tx_of(q), PY0);
        cairo_line_to(cr, tx_of(q), PY1);
        cairo_stroke(cr);
        set_color(cr, C_AXIS);
        char lab[16];
        snprintf(lab, sizeof lab, "%d", q);
        text_at(cr, lab, tx_of(q), PY1 + 20, 13, 0.5, 0, 0);
    }
    plot_frame(cr);
    set_color(cr, C_AXIS);
    text_at(cr, "attacker test accuracy (%)", (PX0 + PX1) / 2, PY1 + 48, 15, 0.5, 0, 0);
    cairo_save(cr);
    cairo_translate(cr, PX0 - 48, (PY0 + PY1) / 2);
    cairo_rotate(cr, -M_PI / 2);
    text_at(cr, "gender test accuracy (%)", 0, 0, 15, 0.5, 0, 0);
    cairo_restore(cr);
    char title[160];
    snprintf(title, sizeof title, "Trade-off: gender recognition vs. speaker identification (St = %d)", st);
    text_at(cr, title, FIG_W / 2, 34, 17, 0.5, 0, 1);

    /* chance: vertical 1/St and 2/St, horizontal gender majority */
    const veil_summary_row **all = veil_malloc((size_t)(s->n_rows ? s->n_rows : 1) * sizeof *all);
    for (int i = 0; i < s->n_rows; i++) all[i] = &s->rows[i];
    double gchance = gender_chance(all, s->n_rows);
    free(all);
    cairo_save(cr);
    cairo_rectangle(cr, PX0, PY0, PX1 - PX0, PY1 - PY0);
    cairo_clip(cr);
    set_color(cr, C_CHANCE);
    set_line(cr, LINE_DOTTED, 1.8);
    cairo_move_to(cr, tx_of(100.0 / st), PY0);
    cairo_line_to(cr, tx_of(100.0 / st), PY1);
    cairo_stroke(cr);
    set_line(cr, LINE_DASHDOT, 1.4);
    cairo_move_to(cr, tx_of(200.0 / st), PY0);
    cairo_line_to(cr, tx_of(200.0 / st), PY1);
    cairo_stroke(cr);
    if (isfinite(gchance)) hline(cr, gchance, C_GENDER, LINE_DOTTED, 1.6);

    /* one line per method: its rows at the sweep G by knob (or by G), in summary order */
    int count;
    const veil_train_method *const *ms = veil_train_methods(&count);
    double lx = PX1 + 18, ly = PY0 + 12;
    int items = 0;
    for (int q = 0; q < count; q++) {
        const veil_train_method *m = ms[q];
        rgb c = method_colors[q % (int)(sizeof method_colors / sizeof method_colors[0])];
        int first = 1, any = 0;
        set_color(cr, c);
        set_line(cr, LINE_SOLID, 2);
        for (int i = 0; i < s->n_rows; i++) {
            const veil_summary_row *r = &s->rows[i];
            if (r->method != m->id || (m->knob && r->groups != p->sweep_groups)) continue;
            double x = tx_of(r->attack.mean), y = y_of(r->gender_test.mean);
            if (first) cairo_move_to(cr, x, y);
            else cairo_line_to(cr, x, y);
            first = 0;
            any = 1;
        }
        cairo_stroke(cr);
        if (!any) continue;
        for (int i = 0; i < s->n_rows; i++) {
            const veil_summary_row *r = &s->rows[i];
            if (r->method != m->id || (m->knob && r->groups != p->sweep_groups)) continue;
            double x = tx_of(r->attack.mean), y = y_of(r->gender_test.mean);
            draw_marker(cr, MARK_CIRCLE, x, y, c);
            char lab[48] = "";
            if (m->knob && !isnan(r->knob)) snprintf(lab, sizeof lab, "%g", r->knob);
            else if (m->groups != VEIL_GROUPS_ONE) snprintf(lab, sizeof lab, "G=%d", r->groups);
            set_color(cr, c);
            if (lab[0]) text_at(cr, lab, x + 7, y - 8, 10.5, 0, 0, 0);
        }
        /* legend entry, outside the clip */
        cairo_save(cr);
        cairo_reset_clip(cr);
        double y = ly + items * 24;
        set_color(cr, c);
        set_line(cr, LINE_SOLID, 2);
        cairo_move_to(cr, lx, y);
        cairo_line_to(cr, lx + 36, y);
        cairo_stroke(cr);
        draw_marker(cr, MARK_CIRCLE, lx + 18, y, c);
        set_color(cr, C_AXIS);
        char lab[80];
        if (m->knob) snprintf(lab, sizeof lab, "%s (%s)", m->name, m->knob);
        else snprintf(lab, sizeof lab, "%s", m->name);
        text_at(cr, lab, lx + 44, y, 12.5, 0, 0.5, 0);
        cairo_restore(cr);
        items++;
    }
    cairo_restore(cr);
    double y = ly + items * 24 + 12;
    char chance1[64], chance2[64];
    chance_labels(st, chance1, chance2);
    set_color(cr, C_CHANCE);
    set_line(cr, LINE_DOTTED, 1.8);
    cairo_move_to(cr, lx, y);
    cairo_line_to(cr, lx + 36, y);
    cairo_stroke(cr);
    set_line(cr, LINE_DASHDOT, 1.4);
    cairo_move_to(cr, lx, y + 26);
    cairo_line_to(cr, lx + 36, y + 26);
    cairo_stroke(cr);
    set_color(cr, C_AXIS);
    text_at(cr, chance1, lx + 44, y, 12, 0, 0.5, 0);
    text_at(cr, "chance knowing gender", lx + 44, y + 26, 12, 0, 0.5, 0);
    text_at(cr, chance2 + strlen("chance knowing gender "), lx + 44, y + 42, 12, 0, 0.5, 0);
    if (isfinite(gchance)) {
        set_color(cr, C_GENDER);
        set_line(cr, LINE_DOTTED, 1.6);
        cairo_move_to(cr, lx, y + 68);
        cairo_line_to(cr, lx + 36, y + 68);
        cairo_stroke(cr);
        set_color(cr, C_AXIS);
        char g[64];
        snprintf(g, sizeof g, "gender chance %.1f %%", gchance);
        text_at(cr, g, lx + 44, y + 68, 12, 0, 0.5, 0);
    }
    set_color(cr, C_AXIS);
    text_at(cr, "labels: knob value or G", lx, y + 100, 11.5, 0, 0.5, 0);
}

int veil_plot_tradeoff(const veil_summary *s, int sweep_groups, int st, const char *png_path,
                       const char *svg_path)
{
    plot_ctx p = {s, st > 0 ? st : 20, draw_tradeoff, NULL, 0, sweep_groups};
    return plot_files(&p, png_path, svg_path);
}
