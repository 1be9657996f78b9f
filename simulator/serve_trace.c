/* simulator/serve_trace.c — Azure LLM inference trace reader (CSV with a header
 * `TIMESTAMP,ContextTokens,GeneratedTokens`) and the mapping of trace requests to request classes. */
#include "simulator/serve_sim.h"
#include "common/error.h"
#include "common/json_util.h"

#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Days since 1970-01-01 of a civil date (proleptic Gregorian). */
static long days_from_civil(long y, long m, long d)
{
    y -= m <= 2;
    long era = (y >= 0 ? y : y - 399) / 400;
    long yoe = y - era * 400;
    long doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* Parse a timestamp field: a number of seconds, or "YYYY-MM-DD[ T]HH:MM:SS[.frac][Z|+00:00]". */
static int parse_time(const char *s, size_t len, double *out)
{
    char buf[64];
    if (len == 0 || len >= sizeof buf)
        return -1;
    memcpy(buf, s, len);
    buf[len] = 0;
    char *end;
    double v = strtod(buf, &end);
    if (end != buf && *end == 0 && isfinite(v)) {
        *out = v;
        return 0;
    }
    int Y, M, D, h, mi, n = 0;
    double sec;
    if (sscanf(buf, "%4d-%2d-%2d%*1[ T]%2d:%2d:%lf%n", &Y, &M, &D, &h, &mi, &sec, &n) != 6)
        return -1;
    const char *rest = buf + n;
    if (*rest && strcmp(rest, "Z") && strcmp(rest, "+00:00"))
        return -1;
    if (M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || mi > 59 || sec < 0 || sec >= 61)
        return -1;
    *out = (double)days_from_civil(Y, M, D) * 86400.0 + h * 3600.0 + mi * 60.0 + sec;
    return 0;
}

static int parse_int_field(const char *s, size_t len, int *out)
{
    char buf[32];
    if (len == 0 || len >= sizeof buf)
        return -1;
    memcpy(buf, s, len);
    buf[len] = 0;
    char *end;
    double v = strtod(buf, &end);
    if (*end || v < 0 || v > 1e7 || v != floor(v))
        return -1;
    *out = (int)v;
    return 0;
}

fl_status fl_serve_trace_parse(const char *text, const char *field, fl_serve_request **out, size_t *n, fl_error *err)
{
    *out = NULL;
    *n = 0;
    size_t cap = 1024, cnt = 0;
    fl_serve_request *r = malloc(cap * sizeof *r);
    if (!r)
        return fl_fail(err, FL_ENOMEM, field, "out of memory");
    const char *p = text;
    long line = 0;
    double t0 = 0, prev = -INFINITY;
    int header_seen = 0;
    while (*p) {
        const char *eol = strchr(p, '\n');
        size_t len = eol ? (size_t)(eol - p) : strlen(p);
        line++;
        const char *next = eol ? eol + 1 : p + len;
        while (len && (p[len - 1] == '\r' || p[len - 1] == ' '))
            len--;
        if (len == 0) {
            p = next;
            continue;
        }
        if (!header_seen) {
            header_seen = 1;
            if (strncasecmp(p, "TIMESTAMP,", 10) == 0) {
                p = next;
                continue;
            }
        }
        const char *c1 = memchr(p, ',', len);
        const char *c2 = c1 ? memchr(c1 + 1, ',', len - (size_t)(c1 + 1 - p)) : NULL;
        double ts;
        int in, outk;
        if (!c1 || !c2 || memchr(c2 + 1, ',', len - (size_t)(c2 + 1 - p))) {
            free(r);
            return fl_fail(err, FL_EPARSE, field, "%s: line %ld: expected 3 fields TIMESTAMP,ContextTokens,GeneratedTokens",
                           field, line);
        }
        if (parse_time(p, (size_t)(c1 - p), &ts)) {
            free(r);
            return fl_fail(err, FL_EPARSE, field, "%s: line %ld: TIMESTAMP '%.*s' is not seconds or an ISO datetime",
                           field, line, (int)(c1 - p), p);
        }
        if (parse_int_field(c1 + 1, (size_t)(c2 - c1 - 1), &in) || in < 1) {
            free(r);
            return fl_fail(err, FL_EPARSE, field, "%s: line %ld: ContextTokens '%.*s' is not a positive integer", field,
                           line, (int)(c2 - c1 - 1), c1 + 1);
        }
        if (parse_int_field(c2 + 1, len - (size_t)(c2 + 1 - p), &outk) || outk < 1) {
            free(r);
            return fl_fail(err, FL_EPARSE, field, "%s: line %ld: GeneratedTokens '%.*s' is not a positive integer", field,
                           line, (int)(len - (size_t)(c2 + 1 - p)), c2 + 1);
        }
        if (ts < prev) {
            free(r);
            return fl_fail(err, FL_EPARSE, field, "%s: line %ld: TIMESTAMP goes back in time (rows must be in order)",
                           field, line);
        }
        if (cnt == 0)
            t0 = ts;
        prev = ts;
        if (cnt == cap) {
            cap *= 2;
            fl_serve_request *nr = realloc(r, cap * sizeof *r);
            if (!nr) {
                free(r);
                return fl_fail(err, FL_ENOMEM, field, "out of memory");
            }
            r = nr;
        }
        r[cnt].arrival = ts - t0;
        r[cnt].input = in;
        r[cnt].output = outk;
        r[cnt].cls = 0;
        r[cnt].line = line;
        cnt++;
        p = next;
    }
    if (cnt == 0) {
        free(r);
        return fl_fail(err, FL_EPARSE, field, "%s: the trace has no requests", field);
    }
    *out = r;
    *n = cnt;
    return FL_OK;
}

fl_status fl_serve_trace_load(const char *path, const char *field, fl_serve_request **out, size_t *n, fl_error *err)
{
    char *text = NULL;
    size_t len;
    fl_status rc = fl_read_file(path, field, &text, &len, err);
    if (rc)
        return rc;
    rc = fl_serve_trace_parse(text, field, out, n, err);
    free(text);
    return rc;
}

fl_status fl_serve_trace_check_context(const fl_serve_request *reqs, size_t n, const fl_model *m, const char *field,
                                       fl_error *err)
{
    if (m->max_positions <= 0)
        return FL_OK;
    for (size_t i = 0; i < n; i++)
        if ((long)reqs[i].input + reqs[i].output > m->max_positions)
            return fl_fail(err, FL_EINVAL, field,
                           "%s: line %ld: ContextTokens + GeneratedTokens = %ld exceeds the %d-token context of %s "
                           "(max_positions): an engine refuses this request",
                           field, reqs[i].line, (long)reqs[i].input + reqs[i].output, m->max_positions,
                           m->name ? m->name : "the model");
    return FL_OK;
}

static int cmp_int(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;
    return (x > y) - (x < y);
}

void fl_serve_trace_classify(fl_serve_request *reqs, size_t n, int *n_classes, fl_request_class *classes,
                             double *rate_rps)
{
    if (n == 0)
        return;
    double span = reqs[n - 1].arrival - reqs[0].arrival;
    *rate_rps = span > 0 ? (double)(n - 1) / span : (double)n;
    if (*n_classes == 0) {
        /* input-length terciles; each class gets the mean input/output of its rows */
        int *in = malloc(n * sizeof *in);
        int k = n >= 3 ? 3 : 1;
        double b1 = 1e18, b2 = 1e18;
        if (in && k == 3) {
            for (size_t i = 0; i < n; i++)
                in[i] = reqs[i].input;
            qsort(in, n, sizeof *in, cmp_int);
            b1 = in[n / 3];
            b2 = in[2 * n / 3];
            if (b2 <= b1)
                k = 1, b1 = b2 = 1e18;
        } else {
            k = 1;
        }
        free(in);
        double si[3] = {0}, so[3] = {0}, cnt[3] = {0};
        for (size_t i = 0; i < n; i++) {
            int c = k == 1 ? 0 : reqs[i].input < b1 ? 0 : reqs[i].input < b2 ? 1 : 2;
            si[c] += reqs[i].input;
            so[c] += reqs[i].output;
            cnt[c]++;
        }
        int m = 0;
        for (int c = 0; c < 3; c++) {
            if (cnt[c] == 0)
                continue;
            classes[m].input = (int)lround(si[c] / cnt[c]);
            classes[m].output = (int)lround(so[c] / cnt[c]);
            classes[m].share = cnt[c] / (double)n;
            m++;
        }
        *n_classes = m;
    }
    for (size_t i = 0; i < n; i++) {
        double best = INFINITY;
        for (int c = 0; c < *n_classes; c++) {
            double di = log((double)reqs[i].input / classes[c].input), d_o = log((double)reqs[i].output / classes[c].output);
            double d = di * di + d_o * d_o;
            if (d < best) {
                best = d;
                reqs[i].cls = c;
            }
        }
    }
}
