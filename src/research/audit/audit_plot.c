/* The figure of `veil audit` (cairo, PNG and SVG, each written atomically): left, every
 * identification attacker's mean accuracy per row and per utterance with its spread over
 * groups, chance (1/St) and chance knowing the gender as dotted lines; right, every
 * verification attacker's mean EER with the mean bootstrap interval, 50 % dotted. */
#include <cairo-svg.h>
#include <cairo.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "research/experiment/plot_svg.h"
#include "veil/audit.h"
#include "veil/common.h"

#define W 980.0
#define H 520.0
#define TOP 60.0
#define BOTTOM 400.0
#define FONT "DejaVu Sans"

typedef struct span {
    double x0, x1;
} span;

static double yv(double frac) { return BOTTOM - frac * (BOTTOM - TOP); }

static void text(cairo_t *cr, const char *s, double x, double y, double size, double align, int bold,
                 double angle)
{
    cairo_select_font_face(cr, FONT, CAIRO_FONT_SLANT_NORMAL, bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
    cairo_set_font_size(cr, size);
    cairo_text_extents_t e;
    cairo_text_extents(cr, s, &e);
    cairo_save(cr);
    cairo_translate(cr, x, y);
    cairo_rotate(cr, angle);
    cairo_move_to(cr, -align * e.x_advance, e.height / 2);
    plot_svg_note_text(cr, s, size, bold);
    cairo_show_text(cr, s);
    cairo_restore(cr);
}

static void axes(cairo_t *cr, span s, const char *title)
{
    cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
    cairo_set_line_width(cr, 1);
    for (int t = 0; t <= 10; t += 2) {
        double y = yv(t / 10.0);
        cairo_set_source_rgb(cr, 0.88, 0.88, 0.88);
        cairo_move_to(cr, s.x0, y);
        cairo_line_to(cr, s.x1, y);
        cairo_stroke(cr);
        char lab[16];
        snprintf(lab, sizeof lab, "%d", t * 10);
        cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
        text(cr, lab, s.x0 - 6, y, 11, 1, 0, 0);
    }
    cairo_move_to(cr, s.x0, TOP);
    cairo_line_to(cr, s.x0, BOTTOM);
    cairo_line_to(cr, s.x1, BOTTOM);
    cairo_stroke(cr);
    text(cr, title, (s.x0 + s.x1) / 2, TOP - 25, 14, 0.5, 1, 0);
}

/* Room at the right of each panel where no bar stands: the chance lines' labels go there,
 * so that none is drawn over a bar. */
#define LABEL_ROOM 104.0

/* A chance line across the panel, its label right-aligned in the bar-free room, above the
 * line (below when above: -1, as when another label sits just above). dashdot: the
 * second chance level's own pattern, so the two read apart. */
static void chance_line(cairo_t *cr, span s, double frac, const char *label, int dashdot, int below)
{
    static const double dot[2] = {2, 3}, dd[4] = {8, 3, 2, 3};
    cairo_set_source_rgb(cr, 0.35, 0.35, 0.35);
    cairo_set_line_width(cr, 1.2);
    cairo_set_dash(cr, dashdot ? dd : dot, dashdot ? 4 : 2, 0);
    cairo_move_to(cr, s.x0, yv(frac));
    cairo_line_to(cr, s.x1, yv(frac));
    cairo_stroke(cr);
    cairo_set_dash(cr, NULL, 0, 0);
    cairo_set_line_width(cr, 1);
    text(cr, label, s.x1 - 2, yv(frac) + (below ? 12 : -8), 10, 1, 0, 0);
}

static void bar(cairo_t *cr, double x, double w, double v, double lo, double hi, double r, double g, double b)
{
    if (isnan(v)) return;
    cairo_set_source_rgba(cr, r, g, b, 0.85);
    cairo_rectangle(cr, x, yv(v), w, BOTTOM - yv(v));
    cairo_fill(cr);
    if (!isnan(lo) && !isnan(hi) && hi > lo) {
        cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
        cairo_move_to(cr, x + w / 2, yv(fmin(1, hi)));
        cairo_line_to(cr, x + w / 2, yv(fmax(0, lo)));
        cairo_move_to(cr, x + w / 2 - 4, yv(fmin(1, hi)));
        cairo_line_to(cr, x + w / 2 + 4, yv(fmin(1, hi)));
        cairo_move_to(cr, x + w / 2 - 4, yv(fmax(0, lo)));
        cairo_line_to(cr, x + w / 2 + 4, yv(fmax(0, lo)));
        cairo_stroke(cr);
    }
}

/* mean and std over groups of field off of probe k */
static void stat(const veil_audit_result *r, int k, size_t off, double *mean, double *sd)
{
    double s = 0, q = 0;
    int n = 0;
    for (int g = 0; g < r->n_groups; g++) {
        double v = *(const double *)((const char *)&r->r[(size_t)k * r->n_groups + g] + off);
        if (isnan(v)) continue;
        s += v;
        q += v * v;
        n++;
    }
    *mean = n ? s / n : NAN;
    *sd = n > 1 ? sqrt(fmax(0, (q - s * s / n) / (n - 1))) : 0;
}

static void draw(cairo_t *cr, const veil_audit_result *r)
{
    cairo_set_source_rgb(cr, 1, 1, 1);
    cairo_paint(cr);
    int n_id = 0, n_ver = 0;
    for (int k = 0; k < r->n_probes; k++) {
        double m, sd;
        stat(r, k, offsetof(veil_probe_result, acc), &m, &sd);
        if (!isnan(m)) n_id++;
        stat(r, k, offsetof(veil_probe_result, eer), &m, &sd);
        if (!isnan(m)) n_ver++;
    }
    double split = 70 + (W - 140) * (n_id + 0.5) / (n_id + n_ver + 1.0);
    span left = {70, split - 30}, right = {split + 40, W - 20};
    axes(cr, left, "identification accuracy (%)");
    axes(cr, right, "verification EER (%)");
    double cg = 0;
    for (int g = 0; g < r->n_groups; g++) cg += r->chance_gender[g] / r->n_groups;
    int i = 0, j = 0;
    for (int k = 0; k < r->n_probes; k++) {
        double a, asd, u, usd, e, esd, lo, lsd, hi, hsd;
        stat(r, k, offsetof(veil_probe_result, acc), &a, &asd);
        stat(r, k, offsetof(veil_probe_result, acc_utt), &u, &usd);
        stat(r, k, offsetof(veil_probe_result, eer), &e, &esd);
        stat(r, k, offsetof(veil_probe_result, eer_lo), &lo, &lsd);
        stat(r, k, offsetof(veil_probe_result, eer_hi), &hi, &hsd);
        if (!isnan(a)) {
            double slot = (left.x1 - LABEL_ROOM - left.x0) / (n_id ? n_id : 1), x = left.x0 + slot * i++;
            double w = slot * 0.35;
            bar(cr, x + slot * 0.12, w, a, a - asd, a + asd, 0.84, 0.20, 0.16);
            bar(cr, x + slot * 0.12 + w, w, u, u - usd, u + usd, 0.55, 0.10, 0.45);
            cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
            text(cr, r->probes[k]->name, x + slot / 2, BOTTOM + 12, 11, 1, 0, -0.6);
        } else if (!isnan(e)) {
            double slot = (right.x1 - LABEL_ROOM - right.x0) / (n_ver ? n_ver : 1), x = right.x0 + slot * j++;
            bar(cr, x + slot * 0.2, slot * 0.6, e, lo, hi, 0.12, 0.40, 0.75);
            cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
            text(cr, r->probes[k]->name, x + slot / 2, BOTTOM + 12, 11, 1, 0, -0.6);
        }
    }
    /* chance lines over the bars, labelled where no bar stands; the lower label goes under
     * its line when the two lines are close */
    int close = fabs(yv(1.0 / r->st) - yv(cg)) < 16;
    chance_line(cr, left, 1.0 / r->st, "chance 1/St", 0, close && cg >= 1.0 / r->st);
    chance_line(cr, left, cg, "knowing the gender", 1, close && cg < 1.0 / r->st);
    chance_line(cr, right, 0.5, "chance", 0, 0);
    /* legend */
    double lx = left.x0 + 10, ly = H - 22;
    cairo_set_source_rgba(cr, 0.84, 0.20, 0.16, 0.85);
    cairo_rectangle(cr, lx, ly - 6, 12, 12);
    cairo_fill(cr);
    cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
    text(cr, "per row", lx + 16, ly, 11, 0, 0, 0);
    cairo_set_source_rgba(cr, 0.55, 0.10, 0.45, 0.85);
    cairo_rectangle(cr, lx + 90, ly - 6, 12, 12);
    cairo_fill(cr);
    cairo_set_source_rgb(cr, 0.1, 0.1, 0.1);
    text(cr, "per utterance (pooled)", lx + 106, ly, 11, 0, 0, 0);
    char note[160];
    snprintf(note, sizeof note, "mean of %d group%s of %d speakers; whiskers: std over groups (identification), "
             "bootstrap 95 %% CI (EER)", r->n_groups, r->n_groups == 1 ? "" : "s", r->st);
    text(cr, note, lx + 290, ly, 10, 0, 0, 0);
}

static cairo_status_t to_file(void *closure, const unsigned char *data, unsigned int length)
{
    return fwrite(data, 1, length, (FILE *)closure) == length ? CAIRO_STATUS_SUCCESS : CAIRO_STATUS_WRITE_ERROR;
}

static int status(cairo_status_t st)
{
    if (st == CAIRO_STATUS_SUCCESS) return 0;
    veil_error("cairo: %s", cairo_status_to_string(st));
    return -1;
}

int veil_audit_png(FILE *f, void *ctx)
{
    cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, (int)W, (int)H);
    cairo_t *cr = cairo_create(s);
    draw(cr, ctx);
    cairo_status_t st = cairo_status(cr);
    cairo_destroy(cr);
    if (st == CAIRO_STATUS_SUCCESS) st = cairo_surface_write_to_png_stream(s, to_file, f);
    cairo_surface_destroy(s);
    return status(st);
}

static void draw_result(cairo_t *cr, const void *ctx) { draw(cr, ctx); }

int veil_audit_svg(FILE *f, void *ctx)
{
    return plot_svg_write(f, W, H, draw_result, ctx);
}

int veil_audit_plot(const veil_audit_result *r, const char *png_path, const char *svg_path)
{
    void *ctx = (void *)r;
    if (png_path && veil_write_atomic(png_path, veil_audit_png, ctx)) {
        veil_error_prefix("figure %s", png_path);
        return -1;
    }
    if (svg_path && veil_write_atomic(svg_path, veil_audit_svg, ctx)) {
        veil_error_prefix("figure %s", svg_path);
        return -1;
    }
    return 0;
}
