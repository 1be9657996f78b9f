/* profiles/csv.c — CSV reader used by the built-in catalog loader and the importers. */
#include "profiles/csv.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

void fl_csv_init(fl_csv *c, const char *text, size_t len)
{
    memset(c, 0, sizeof *c);
    c->p = text;
    c->end = text + len;
}

static int buf_put(fl_csv *c, char ch)
{
    if (c->buf_len + 1 >= c->buf_cap) {
        size_t cap = c->buf_cap ? c->buf_cap * 2 : 1024;
        char *nb = realloc(c->buf, cap);
        if (!nb)
            return -1;
        c->buf = nb;
        c->buf_cap = cap;
    }
    c->buf[c->buf_len++] = ch;
    return 0;
}

/* Fields are stored back to back in buf, NUL-separated; offsets are fixed up at the end. */
int fl_csv_next(fl_csv *c)
{
    for (;;) {
        if (c->p >= c->end)
            return 0;
        c->line++;
        /* skip blank lines */
        if (*c->p == '\n') { c->p++; continue; }
        if (*c->p == '\r' && c->p + 1 < c->end && c->p[1] == '\n') { c->p += 2; continue; }
        break;
    }
    c->buf_len = 0;
    size_t starts[4096];
    size_t n = 0;
    starts[n++] = 0;
    int in_quotes = 0;
    while (c->p < c->end) {
        char ch = *c->p;
        if (in_quotes) {
            if (ch == '"') {
                if (c->p + 1 < c->end && c->p[1] == '"') {
                    if (buf_put(c, '"')) return -1;
                    c->p += 2;
                    continue;
                }
                in_quotes = 0;
                c->p++;
                continue;
            }
            if (ch == '\n')
                c->line++;
            if (buf_put(c, ch)) return -1;
            c->p++;
            continue;
        }
        if (ch == '"') { in_quotes = 1; c->p++; continue; }
        if (ch == ',') {
            if (buf_put(c, '\0')) return -1;
            if (n >= sizeof starts / sizeof starts[0]) return -1;
            starts[n++] = c->buf_len;
            c->p++;
            continue;
        }
        if (ch == '\r' && c->p + 1 < c->end && c->p[1] == '\n') { c->p += 2; break; }
        if (ch == '\n') { c->p++; break; }
        if (buf_put(c, ch)) return -1;
        c->p++;
    }
    if (in_quotes)
        return -1;
    if (buf_put(c, '\0')) return -1;
    if (n > c->cap_fields) {
        char **nf = realloc(c->fields, n * sizeof *nf);
        if (!nf) return -1;
        c->fields = nf;
        c->cap_fields = n;
    }
    for (size_t i = 0; i < n; i++)
        c->fields[i] = c->buf + starts[i];
    c->n_fields = n;
    return 1;
}

void fl_csv_free(fl_csv *c)
{
    free(c->fields);
    free(c->buf);
    memset(c, 0, sizeof *c);
}

int fl_csv_col(const fl_csv *header, const char *name)
{
    for (size_t i = 0; i < header->n_fields; i++)
        if (strcasecmp(header->fields[i], name) == 0)
            return (int)i;
    return -1;
}
