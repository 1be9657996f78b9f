/* whatif/whatif_report.c — what-if reports out: JSON, a CSV timeline and a hand-written SVG
 * chart (throughput and cost per hour over time, one polyline per policy). */
#include "whatif/whatif_internal.h"
#include "common/json_util.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char *fl_whatif_report_to_json(const fl_whatif_report *r, int pretty)
{
    return r ? fl_json_dump(r->doc, pretty) : NULL;
}

/* Growable string. */
typedef struct sbuf { char *s; size_t n, cap; int oom; } sbuf;

#if defined(__GNUC__)
static void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
#endif
static void sb_printf(sbuf *b, const char *fmt, ...)
{
    if (b->oom)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int k = vsnprintf(b->s ? b->s + b->n : NULL, b->s ? b->cap - b->n : 0, fmt, ap);
        va_end(ap);
        if (k < 0) {
            b->oom = 1;
            return;
        }
        if (b->s && b->n + (size_t)k < b->cap) {
            b->n += (size_t)k;
            return;
        }
        size_t nc = (b->cap ? b->cap * 2 : 4096) + (size_t)k;
        char *ns = realloc(b->s, nc);
        if (!ns) {
            b->oom = 1;
            return;
        }
        b->s = ns;
        b->cap = nc;
    }
}

static char *sb_finish(sbuf *b)
{
    if (b->oom) {
        free(b->s);
        return NULL;
    }
    if (!b->s)
        return calloc(1, 1);
    return b->s;
}

char *fl_whatif_report_to_csv(const fl_whatif_report *r)
{
    if (!r)
        return NULL;
    sbuf b = {0};
    const char *kind = json_string_value(json_object_get(r->doc, "kind"));
    if (kind && strcmp(kind, "scenarios") == 0) {
        sb_printf(&b, "name,feasible,throughput,cost_per_hour,gpus\n");
        size_t i;
        json_t *s;
        json_array_foreach(json_object_get(r->doc, "scenarios"), i, s)
            sb_printf(&b, "%s,%d,%.6g,%.6g,%lld\n", json_string_value(json_object_get(s, "name")),
                      json_is_true(json_object_get(s, "feasible")), json_number_value(json_object_get(s, "throughput")),
                      json_number_value(json_object_get(s, "cost_per_hour")),
                      (long long)json_integer_value(json_object_get(s, "gpus")));
        return sb_finish(&b);
    }
    sb_printf(&b, "time_s,policy,throughput,cost_per_hour,gpus,migrated,migration_s,migration_cost\n");
    size_t i;
    json_t *row;
    json_array_foreach(json_object_get(r->doc, "timeline"), i, row)
        for (int k = 0; k < FL_WHATIF_POLICIES; k++) {
            json_t *p = json_object_get(row, fl_whatif_policy_names[k]);
            sb_printf(&b, "%.6g,%s,%.6g,%.6g,%lld,%d,%.6g,%.6g\n", json_number_value(json_object_get(row, "time_s")),
                      fl_whatif_policy_names[k], json_number_value(json_object_get(p, "throughput")),
                      json_number_value(json_object_get(p, "cost_per_hour")),
                      (long long)json_integer_value(json_object_get(p, "gpus")),
                      json_is_true(json_object_get(p, "migrated")), json_number_value(json_object_get(p, "migration_s")),
                      json_number_value(json_object_get(p, "migration_cost")));
        }
    return sb_finish(&b);
}

/* One panel: step polylines of `key` for each policy. */
static void svg_panel(sbuf *b, json_t *tl, const char *key, const char *title, double y0, double t_min, double t_max,
                      double end)
{
    static const char *colors[FL_WHATIF_POLICIES] = {"#1f77b4", "#ff7f0e", "#2ca02c"};
    const double x0 = 70, w = 620, h = 180;
    double vmax = 0;
    size_t n = json_array_size(tl);
    for (size_t i = 0; i < n; i++)
        for (int k = 0; k < FL_WHATIF_POLICIES; k++) {
            double v = json_number_value(json_object_get(json_object_get(json_array_get(tl, i), fl_whatif_policy_names[k]), key));
            if (v > vmax)
                vmax = v;
        }
    if (vmax <= 0)
        vmax = 1;
    double span = t_max > t_min ? t_max - t_min : 1;
    sb_printf(b, "<text x=\"%g\" y=\"%g\" font-size=\"13\">%s</text>\n", x0, y0 - 8, title);
    sb_printf(b, "<line x1=\"%g\" y1=\"%g\" x2=\"%g\" y2=\"%g\" stroke=\"black\"/>\n", x0, y0 + h, x0 + w, y0 + h);
    sb_printf(b, "<line x1=\"%g\" y1=\"%g\" x2=\"%g\" y2=\"%g\" stroke=\"black\"/>\n", x0, y0, x0, y0 + h);
    sb_printf(b, "<text x=\"%g\" y=\"%g\" font-size=\"10\" text-anchor=\"end\">%.3g</text>\n", x0 - 4, y0 + 4, vmax);
    sb_printf(b, "<text x=\"%g\" y=\"%g\" font-size=\"10\" text-anchor=\"end\">0</text>\n", x0 - 4, y0 + h);
    sb_printf(b, "<text x=\"%g\" y=\"%g\" font-size=\"10\">%.0f s</text>\n", x0, y0 + h + 14, t_min);
    sb_printf(b, "<text x=\"%g\" y=\"%g\" font-size=\"10\" text-anchor=\"end\">%.0f s</text>\n", x0 + w, y0 + h + 14, end);
    for (int k = 0; k < FL_WHATIF_POLICIES; k++) {
        sb_printf(b, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"%d\" points=\"", colors[k], 3 - k);
        for (size_t i = 0; i < n; i++) {
            json_t *row = json_array_get(tl, i);
            double t = json_number_value(json_object_get(row, "time_s"));
            double tn = i + 1 < n ? json_number_value(json_object_get(json_array_get(tl, i + 1), "time_s")) : end;
            double v = json_number_value(json_object_get(json_object_get(row, fl_whatif_policy_names[k]), key));
            double y = y0 + h - h * v / vmax;
            sb_printf(b, "%.1f,%.1f %.1f,%.1f ", x0 + w * (t - t_min) / span, y, x0 + w * (tn - t_min) / span, y);
        }
        sb_printf(b, "\"/>\n");
    }
}

char *fl_whatif_report_to_svg(const fl_whatif_report *r)
{
    if (!r)
        return NULL;
    json_t *tl = json_object_get(r->doc, "timeline");
    double t_min = json_number_value(json_object_get(r->doc, "start_s"));
    double end = json_number_value(json_object_get(r->doc, "end_s"));
    const char *unit = json_string_value(json_object_get(r->doc, "work_unit"));
    sbuf b = {0};
    sb_printf(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                  "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"760\" height=\"520\" font-family=\"sans-serif\">\n"
                  "<rect width=\"760\" height=\"520\" fill=\"white\"/>\n");
    char title[96];
    snprintf(title, sizeof title, "throughput (%s/s)", unit && strcmp(unit, "requests") == 0 ? "requests" : "tokens");
    svg_panel(&b, tl, "throughput", title, 40, t_min, end, end);
    svg_panel(&b, tl, "cost_per_hour", "cost ($/hour)", 290, t_min, end, end);
    static const char *colors[FL_WHATIF_POLICIES] = {"#1f77b4", "#ff7f0e", "#2ca02c"};
    for (int k = 0; k < FL_WHATIF_POLICIES; k++) {
        sb_printf(&b, "<line x1=\"%d\" y1=\"500\" x2=\"%d\" y2=\"500\" stroke=\"%s\" stroke-width=\"3\"/>\n",
                  80 + 200 * k, 105 + 200 * k, colors[k]);
        sb_printf(&b, "<text x=\"%d\" y=\"504\" font-size=\"12\">%s</text>\n", 110 + 200 * k, fl_whatif_policy_names[k]);
    }
    sb_printf(&b, "</svg>\n");
    return sb_finish(&b);
}
