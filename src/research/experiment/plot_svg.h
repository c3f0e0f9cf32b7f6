/* SVG figures whose words stay words. cairo (1.16) writes every glyph of an SVG as an
 * outline, so a reader can neither search nor copy a figure's text. The figures' text
 * functions call plot_svg_note_text() beside cairo_show_text(); while plot_svg_write()
 * draws, it records each string with its place, and writes them as a layer of invisible
 * <text> elements (fill-opacity 0) over the drawing: the figure looks the same, and its
 * text is there to find and select. */
#ifndef VEIL_PLOT_SVG_H
#define VEIL_PLOT_SVG_H

#include <cairo.h>
#include <stdio.h>

/* Record s as drawn from the current point of cr (font size in user units, bold or not);
 * nothing when cr is not drawing for plot_svg_write. */
void plot_svg_note_text(cairo_t *cr, const char *s, double size, int bold);
/* An SVG of w x h drawn by draw(cr, ctx), with the text layer, into f. -1 after veil_error. */
int plot_svg_write(FILE *f, double w, double h, void (*draw)(cairo_t *, const void *), const void *ctx);

#endif
