/* whatif/whatif_trace.c — availability traces for what-if replay: CSV `time_s,zone,gpu,count`
 * parsed into time-grouped events, with errors naming the line. */
#include "whatif/whatif_internal.h"
#include "common/error.h"
#include "common/utf8.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* The latest time a trace row may have (100 years in seconds). */
#define FL_TRACE_MAX_TIME 3.2e9

void fl_trace_free(fl_trace *t)
{
    if (!t)
        return;
    free(t->rows);
    free(t->event_start);
    memset(t, 0, sizeof *t);
}

/* Split a line into at most 4 comma-separated, trimmed fields (in place). */
static int split(char *line, char **f)
{
    int n = 0;
    char *p = line;
    while (n < 5) {
        while (*p == ' ' || *p == '\t')
            p++;
        f[n++] = p;
        char *c = strchr(p, ',');
        char *end = c ? c : p + strlen(p);
        while (end > p && isspace((unsigned char)end[-1]))
            end--;
        if (!c) {
            *end = 0;
            break;
        }
        *end = 0;
        p = c + 1;
    }
    return n;
}

/* The " (closest: ...)" part of a failed catalog lookup's message, or "" when absent. */
static const char *closest_part(const fl_error *e)
{
    const char *c = strstr(e->message, " (closest: ");
    return c ? c : "";
}

fl_status fl_trace_parse(const fl_catalog *cat, const char *text, fl_trace *out, fl_error *err)
{
    memset(out, 0, sizeof *out);
    if (!text)
        return fl_fail(err, FL_EMISUSE, "trace", "trace text is NULL");
    /* the trace is text: a byte that is not UTF-8 is reported with its line and column */
    fl_status urc = fl_utf8_check(text, strlen(text), "trace", 1, err);
    if (urc)
        return urc;
    char *buf = strdup(text);
    if (!buf)
        return fl_fail(err, FL_ENOMEM, "trace", "out of memory");
    size_t cap = 0;
    fl_status rc = FL_OK;
    int lineno = 0, header = 0;
    char *save = NULL;
    for (char *line = buf; line && !rc; line = save) {
        save = strchr(line, '\n');
        if (save)
            *save++ = 0;
        lineno++;
        char *f[5];
        size_t len = strlen(line);
        if (len && line[len - 1] == '\r')
            line[len - 1] = 0;
        const char *q = line;
        while (isspace((unsigned char)*q))
            q++;
        if (!*q || *q == '#')
            continue;
        int n = split(line, f);
        char field[64];
        snprintf(field, sizeof field, "trace line %d", lineno);
        if (!header) {
            if (n != 4 || strcasecmp(f[0], "time_s") || strcasecmp(f[1], "zone") || strcasecmp(f[2], "gpu") ||
                strcasecmp(f[3], "count"))
                rc = fl_fail(err, FL_EPARSE, field, "trace line %d: expected the header time_s,zone,gpu,count", lineno);
            header = 1;
            continue;
        }
        if (n != 4) {
            rc = fl_fail(err, FL_EPARSE, field, "trace line %d: expected 4 fields time_s,zone,gpu,count, got %d",
                         lineno, n);
            break;
        }
        char *end;
        errno = 0;
        double t = strtod(f[0], &end);
        if (!*f[0] || *end || errno || !isfinite(t) || t < 0) {
            rc = fl_fail(err, FL_EPARSE, field, "trace line %d: time_s '%s' is not a number >= 0", lineno, f[0]);
            break;
        }
        if (t > FL_TRACE_MAX_TIME) { /* later times overflow the replay's end-time arithmetic */
            rc = fl_fail(err, FL_EINVAL, field, "trace line %d: time_s %s is too large (at most %.0f s, 100 years)",
                         lineno, f[0], FL_TRACE_MAX_TIME);
            break;
        }
        errno = 0;
        long cnt = strtol(f[3], &end, 10);
        if (!*f[3] || *end) {
            rc = fl_fail(err, FL_EPARSE, field, "trace line %d: count '%s' is not a whole number", lineno, f[3]);
            break;
        }
        if (cnt < 0) {
            rc = fl_fail(err, FL_EINVAL, field, "trace line %d: count %ld must be >= 0", lineno, cnt);
            break;
        }
        if (errno || cnt > 10000000) {
            rc = fl_fail(err, FL_EINVAL, field, "trace line %d: count %s is absurdly large (at most 10000000)", lineno,
                         f[3]);
            break;
        }
        if (out->n && t < out->rows[out->n - 1].time) {
            rc = fl_fail(err, FL_EINVAL, field, "trace line %d: time %g is before the previous row's %g (sort by time)",
                         lineno, t, out->rows[out->n - 1].time);
            break;
        }
        fl_error le;
        fl_error_clear(&le);
        int z = fl_catalog_find_zone(cat, f[1], field, &le);
        if (z < 0) {
            rc = fl_fail(err, FL_ENOTFOUND, field, "trace line %d: zone: unknown zone '%s'%s", lineno, f[1],
                         closest_part(&le));
            break;
        }
        int g = fl_catalog_find_gpu(cat, f[2], field, &le);
        if (g < 0) {
            rc = fl_fail(err, FL_ENOTFOUND, field, "trace line %d: gpu: unknown GPU '%s'%s", lineno, f[2],
                         closest_part(&le));
            break;
        }
        if (out->n == cap) {
            size_t nc = cap ? cap * 2 : 256;
            fl_trace_row *nr = realloc(out->rows, nc * sizeof *nr);
            if (!nr) {
                rc = fl_fail(err, FL_ENOMEM, "trace", "out of memory");
                break;
            }
            out->rows = nr;
            cap = nc;
        }
        out->rows[out->n++] = (fl_trace_row){t, z, g, (int)cnt, lineno};
    }
    free(buf);
    if (!rc && !header)
        rc = fl_fail(err, FL_EPARSE, "trace", "trace: empty (expected the header time_s,zone,gpu,count)");
    if (!rc && out->n == 0)
        rc = fl_fail(err, FL_EINVAL, "trace", "trace: no rows after the header");
    if (!rc) {
        out->event_start = malloc((out->n + 1) * sizeof *out->event_start);
        if (!out->event_start)
            rc = fl_fail(err, FL_ENOMEM, "trace", "out of memory");
        else {
            for (size_t i = 0; i < out->n; i++)
                if (i == 0 || out->rows[i].time != out->rows[i - 1].time)
                    out->event_start[out->n_events++] = i;
            out->event_start[out->n_events] = out->n;
        }
    }
    if (rc)
        fl_trace_free(out);
    return rc;
}
