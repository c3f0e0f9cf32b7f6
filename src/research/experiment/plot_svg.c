/* SVG figures with a text layer (plot_svg.h). */
#include "plot_svg.h"

#include <cairo-svg.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "veil/common.h"

static const cairo_user_data_key_t text_layer_key;

static cairo_status_t to_buffer(void *closure, const unsigned char *data, unsigned int length)
{
    veil_strbuf *b = closure;
    veil_strbuf_printf(b, "%.*s", (int)length, (const char *)data);
    return CAIRO_STATUS_SUCCESS;
}

/* s with the five XML specials escaped */
static void xml_text(veil_strbuf *b, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&': veil_strbuf_printf(b, "&amp;"); break;
        case '<': veil_strbuf_printf(b, "&lt;"); break;
        case '>': veil_strbuf_printf(b, "&gt;"); break;
        case '"': veil_strbuf_printf(b, "&quot;"); break;
        case '\'': veil_strbuf_printf(b, "&apos;"); break;
        default: veil_strbuf_printf(b, "%c", *s);
        }
    }
}

void plot_svg_note_text(cairo_t *cr, const char *s, double size, int bold)
{
    veil_strbuf *layer = cairo_get_user_data(cr, &text_layer_key);
    if (!layer || !cairo_has_current_point(cr)) return;
    double x, y;
    cairo_get_current_point(cr, &x, &y);
    cairo_user_to_device(cr, &x, &y);
    cairo_matrix_t m;
    cairo_get_matrix(cr, &m);
    double scale = sqrt(m.xx * m.xx + m.yx * m.yx), angle = atan2(m.yx, m.xx) * 180 / M_PI;
    veil_strbuf_printf(layer, "<text x=\"%.2f\" y=\"%.2f\" font-family=\"DejaVu Sans\" font-size=\"%.2f\"%s",
                       x, y, size * scale, bold ? " font-weight=\"bold\"" : "");
    if (fabs(angle) > 0.01) veil_strbuf_printf(layer, " transform=\"rotate(%.2f %.2f %.2f)\"", angle, x, y);
    veil_strbuf_printf(layer, ">");
    xml_text(layer, s);
    veil_strbuf_printf(layer, "</text>\n");
}

int plot_svg_write(FILE *f, double w, double h, void (*draw)(cairo_t *, const void *), const void *ctx)
{
    veil_strbuf doc = {0}, layer = {0};
    cairo_surface_t *surf = cairo_svg_surface_create_for_stream(to_buffer, &doc, w, h);
    cairo_t *cr = cairo_create(surf);
    cairo_set_user_data(cr, &text_layer_key, &layer, NULL);
    draw(cr, ctx);
    cairo_status_t st = cairo_status(cr);
    cairo_destroy(cr);
    cairo_surface_finish(surf); /* writes the document */
    if (st == CAIRO_STATUS_SUCCESS) st = cairo_surface_status(surf);
    cairo_surface_destroy(surf);
    int rc = 0;
    if (st != CAIRO_STATUS_SUCCESS) {
        veil_error("cairo: %s", cairo_status_to_string(st));
        rc = -1;
    }
    /* the layer goes last, inside the root element: above the drawing, where selection finds it */
    char *end = doc.s ? strstr(doc.s, "</svg>") : NULL;
    for (char *next = end; next; next = strstr(next + 1, "</svg>")) end = next;
    if (rc == 0 && !end) {
        veil_error("cairo wrote an SVG without its closing </svg>");
        rc = -1;
    }
    if (rc == 0) {
        size_t head = (size_t)(end - doc.s);
        int ok = fwrite(doc.s, 1, head, f) == head;
        ok = ok && fprintf(f, "<g fill-opacity=\"0\" stroke=\"none\" aria-label=\"text\">\n%s</g>\n",
                           layer.s ? layer.s : "") > 0;
        ok = ok && fputs(end, f) >= 0;
        if (!ok) {
            veil_error("write: %s", strerror(errno));
            rc = -1;
        }
    }
    free(doc.s);
    free(layer.s);
    return rc;
}
