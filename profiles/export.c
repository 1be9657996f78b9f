/* profiles/export.c — export a catalog table as CSV (the data/ layout) or a JSON array. */
#include "profiles/catalog.h"
#include "common/error.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct { const char *name, *sql; } tables[] = {
    {"gpus", "SELECT * FROM gpus ORDER BY rowid"},
    {"models", "SELECT * FROM models ORDER BY rowid"},
    {"zones", "SELECT * FROM zones ORDER BY zone"},
    {"offerings", "SELECT * FROM offerings ORDER BY zone, gpu, gpus_per_instance, instance_type"},
    {"network", "SELECT * FROM network ORDER BY rowid"},
    {"network_overrides", "SELECT * FROM network_overrides ORDER BY zone_a, zone_b"},
    {"measured", "SELECT gpu, kind, dtype, h, a, ffn, s, b, m, n, k, fwd_s, fwdbwd_s, act_bytes, seconds, bytes,"
                 " source FROM measured ORDER BY id"},
    {"nodes", "SELECT * FROM nodes ORDER BY name"},
};

typedef struct sbuf { char *p; size_t n, cap; int oom; } sbuf;

static void sb_put(sbuf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->n + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->n + n + 1)
            cap *= 2;
        char *np = realloc(b->p, cap);
        if (!np) { b->oom = 1; return; }
        b->p = np;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
    b->p[b->n] = '\0';
}

/* CSV field: quoted when it holds a comma, quote or newline. */
static void sb_csv_field(sbuf *b, const char *s)
{
    if (!strpbrk(s, ",\"\n\r")) {
        sb_put(b, s, strlen(s));
        return;
    }
    sb_put(b, "\"", 1);
    for (const char *c = s; *c; c++) {
        if (*c == '"')
            sb_put(b, "\"", 1);
        sb_put(b, c, 1);
    }
    sb_put(b, "\"", 1);
}

fl_status fl_catalog_export(const fl_catalog *cat, const char *table, int as_json, char **out, fl_error *err)
{
    if (!cat || !table || !out)
        return fl_fail(err, FL_EMISUSE, "table", "fl_catalog_export: NULL argument");
    *out = NULL;
    const char *sql = NULL;
    for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++)
        if (strcmp(tables[i].name, table) == 0)
            sql = tables[i].sql;
    if (!sql)
        return fl_fail(err, FL_EINVAL, "table",
                       "unknown table '%s' (gpus, models, zones, offerings, network, network_overrides, measured, nodes)",
                       table);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(cat->db, sql, -1, &st, NULL) != SQLITE_OK)
        return fl_fail(err, FL_ECATALOG, "catalog", "catalog %s: %s", cat->path, sqlite3_errmsg(cat->db));
    int nc = sqlite3_column_count(st);
    sbuf b = {0};
    json_t *arr = as_json ? json_array() : NULL;
    if (!as_json)
        for (int c = 0; c < nc; c++) {
            if (c) sb_put(&b, ",", 1);
            sb_csv_field(&b, sqlite3_column_name(st, c));
        }
    if (!as_json)
        sb_put(&b, "\n", 1);
    while (sqlite3_step(st) == SQLITE_ROW) {
        json_t *row = as_json ? json_object() : NULL;
        for (int c = 0; c < nc; c++) {
            int t = sqlite3_column_type(st, c);
            if (as_json) {
                json_t *v;
                if (t == SQLITE_NULL) v = json_null();
                else if (t == SQLITE_INTEGER) v = json_integer(sqlite3_column_int64(st, c));
                else if (t == SQLITE_FLOAT) {
                    double d = sqlite3_column_double(st, c);
                    v = (d == (double)(long long)d && d < 9e15 && d > -9e15) ? json_integer((json_int_t)d) : json_real(d);
                } else v = json_string((const char *)sqlite3_column_text(st, c));
                json_object_set_new(row, sqlite3_column_name(st, c), v);
            } else {
                if (c) sb_put(&b, ",", 1);
                if (t == SQLITE_FLOAT) {
                    char num[64];
                    double d = sqlite3_column_double(st, c);
                    if (d == (double)(long long)d && d < 9e15 && d > -9e15)
                        snprintf(num, sizeof num, "%lld", (long long)d);
                    else
                        snprintf(num, sizeof num, "%.10g", d);
                    sb_put(&b, num, strlen(num));
                } else if (t != SQLITE_NULL) {
                    sb_csv_field(&b, (const char *)sqlite3_column_text(st, c));
                }
            }
        }
        if (as_json)
            json_array_append_new(arr, row);
        else
            sb_put(&b, "\n", 1);
    }
    sqlite3_finalize(st);
    if (as_json) {
        *out = json_dumps(arr, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10));
        json_decref(arr);
        if (!*out)
            return fl_fail(err, FL_ENOMEM, "table", "out of memory");
        return FL_OK;
    }
    if (b.oom || !b.p) {
        free(b.p);
        return fl_fail(err, FL_ENOMEM, "table", "out of memory");
    }
    *out = b.p;
    return FL_OK;
}
