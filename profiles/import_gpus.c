/* profiles/import_gpus.c — `profiles import --gpus FILE.csv`: add or replace GPU types, and
 * `profiles import --network FILE.csv`: zone-pair network figures.
 *
 * GPU file: the columns of data/gpus.csv matched by header name (any order, case-insensitive);
 * required: name, vendor, memory_bytes, hbm_bw_bytes_per_s, fp16_flops, fp32_flops, link_type,
 * link_bw_bytes_per_s, source; the others are optional. Every figure is checked for being a
 * number inside a physical range (bytes, not GB; FLOP/s, not TFLOP/s) so that a unit slip is an
 * error rather than a GPU a million times too slow. A name already in the catalog replaces that
 * type's specs in place (UPDATE), which keeps the offerings, nodes and measured rows that refer
 * to it; columns absent from the file keep their values. Names and aliases stay unique over all
 * GPU types (checked on the catalog as it would be after the import). One transaction.
 */
#include "profiles/catalog.h"
#include "profiles/csv.h"
#include "common/error.h"
#include "common/json_util.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* One column of the gpus table: its kind and, for numbers, the accepted range. */
typedef enum col_kind { COL_TEXT, COL_NUM, COL_INT, COL_LINK } col_kind;
typedef struct gpu_col {
    const char *name;
    col_kind kind;
    int required;
    double lo, hi;      /* accepted range of numbers (inclusive) */
    const char *unit;   /* said in range errors */
} gpu_col;

static const gpu_col gpu_cols[] = {
    {"name", COL_TEXT, 1, 0, 0, NULL},
    {"vendor", COL_TEXT, 1, 0, 0, NULL},
    {"architecture", COL_TEXT, 0, 0, 0, NULL},
    {"sms", COL_INT, 0, 1, 4096, "streaming multiprocessors / compute units"},
    {"memory_bytes", COL_NUM, 1, 1e8, 1e12, "bytes (100 MB to 1 TB)"},
    {"usable_memory_bytes", COL_NUM, 0, 1e8, 1e12, "bytes (100 MB to 1 TB)"},
    {"hbm_bw_bytes_per_s", COL_NUM, 1, 1e9, 1e14, "bytes/s (1 GB/s to 100 TB/s)"},
    {"bf16_flops", COL_NUM, 0, 1e11, 1e17, "FLOP/s (0.1 TFLOP/s to 100 PFLOP/s)"},
    {"fp16_flops", COL_NUM, 1, 1e11, 1e17, "FLOP/s (0.1 TFLOP/s to 100 PFLOP/s)"},
    {"fp32_flops", COL_NUM, 1, 1e11, 1e17, "FLOP/s (0.1 TFLOP/s to 100 PFLOP/s)"},
    {"tf32_flops", COL_NUM, 0, 1e11, 1e17, "FLOP/s (0.1 TFLOP/s to 100 PFLOP/s)"},
    {"fp8_flops", COL_NUM, 0, 1e11, 1e17, "FLOP/s (0.1 TFLOP/s to 100 PFLOP/s)"},
    {"int8_ops", COL_NUM, 0, 1e11, 1e17, "ops/s (0.1 TOP/s to 100 POP/s)"},
    {"link_type", COL_LINK, 1, 0, 0, NULL},
    {"link_bw_bytes_per_s", COL_NUM, 1, 1e8, 1e14, "bytes/s (100 MB/s to 100 TB/s)"},
    {"pcie_bw_bytes_per_s", COL_NUM, 0, 1e8, 1e14, "bytes/s (100 MB/s to 100 TB/s)"},
    {"tdp_w", COL_NUM, 0, 1, 1e4, "watts (1 to 10000)"},
    {"aliases", COL_TEXT, 0, 0, 0, NULL},
    {"source", COL_TEXT, 1, 0, 0, NULL},
};
#define N_GPU_COLS (sizeof gpu_cols / sizeof gpu_cols[0])

/* Where each imported GPU came from, to name the line in a later (uniqueness) error. */
typedef struct gpu_origin { char *name; int line; } gpu_origin;

/* Parse a number field: 1 on success (*v set), 0 when not a plain finite number. */
static int parse_num(const char *s, double *v)
{
    char *end;
    while (isspace((unsigned char)*s))
        s++;
    if (!*s)
        return 0;
    *v = strtod(s, &end);
    while (isspace((unsigned char)*end))
        end++;
    return *end == '\0' && end != s && isfinite(*v);
}

/* Check one field of column c at `line`; binds it into st at parameter `param`. */
static fl_status check_field(const char *file, int line, const gpu_col *c, const char *v, sqlite3_stmt *st,
                             int param, fl_error *err)
{
    while (isspace((unsigned char)*v))
        v++;
    if (!*v) {
        if (c->required)
            return fl_fail(err, FL_EINVAL, c->name, "%s line %d, column %s: empty; this column is required", file, line,
                           c->name);
        sqlite3_bind_null(st, param);
        return FL_OK;
    }
    double d;
    switch (c->kind) {
    case COL_TEXT:
        for (const char *p = v; *p; p++)
            if ((unsigned char)*p < 0x20)
                return fl_fail(err, FL_EINVAL, c->name, "%s line %d, column %s: control character in the text", file,
                               line, c->name);
        if (strcmp(c->name, "name") == 0 && strchr(v, ';'))
            return fl_fail(err, FL_EINVAL, c->name, "%s line %d, column name: '%s' contains ';' (the alias separator)",
                           file, line, v);
        sqlite3_bind_text(st, param, v, -1, SQLITE_TRANSIENT);
        return FL_OK;
    case COL_LINK: {
        static const char *types[] = {"NVLink", "xGMI", "PCIe"};
        for (size_t i = 0; i < sizeof types / sizeof types[0]; i++)
            if (strcasecmp(v, types[i]) == 0) {
                sqlite3_bind_text(st, param, types[i], -1, SQLITE_STATIC);
                return FL_OK;
            }
        return fl_fail(err, FL_EINVAL, c->name, "%s line %d, column link_type: '%s' is not NVLink, xGMI or PCIe", file,
                       line, v);
    }
    case COL_NUM:
    case COL_INT:
        if (!parse_num(v, &d))
            return fl_fail(err, FL_EPARSE, c->name, "%s line %d, column %s: '%s' is not a number", file, line, c->name, v);
        if (d <= 0)
            return fl_fail(err, FL_EINVAL, c->name, "%s line %d, column %s: %s must be positive (leave it empty when "
                           "unknown or not supported)", file, line, c->name, v);
        if (c->kind == COL_INT && d != floor(d))
            return fl_fail(err, FL_EINVAL, c->name, "%s line %d, column %s: %s is not a whole number", file, line,
                           c->name, v);
        if (d < c->lo || d > c->hi)
            return fl_fail(err, FL_EINVAL, c->name, "%s line %d, column %s: %s is outside %g..%g %s; check the unit",
                           file, line, c->name, v, c->lo, c->hi, c->unit);
        if (c->kind == COL_INT)
            sqlite3_bind_int(st, param, (int)d);
        else
            sqlite3_bind_double(st, param, d);
        return FL_OK;
    }
    return FL_OK;
}


/* Line of the imported row that defined `name` (0 when it is not from this file). */
static int origin_line(const gpu_origin *o, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcasecmp(o[i].name, name) == 0)
            return o[i].line;
    return 0;
}

/* One name or alias of the catalog after the import: the GPU it belongs to and whether it is the
 * canonical name. */
typedef struct gpu_token { char text[128]; char gpu[128]; int is_name; } gpu_token;

static int token_cmp(const void *a, const void *b)
{
    return strcasecmp(((const gpu_token *)a)->text, ((const gpu_token *)b)->text);
}

/* Names and aliases must be unique over all GPU types, case-insensitively (a lookup by alias
 * must find one type). Runs on the table inside the import transaction. */
static fl_status check_unique(fl_catalog *cat, const char *file, const gpu_origin *o, size_t n_o, fl_error *err)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(cat->db, "SELECT name, aliases FROM gpus", -1, &st, NULL) != SQLITE_OK)
        return fl_fail(err, FL_ECATALOG, "gpus", "catalog %s: %s", cat->path, sqlite3_errmsg(cat->db));
    size_t cap = 64, n = 0;
    gpu_token *t = malloc(cap * sizeof *t);
    fl_status rc = FL_OK;
    while (t && sqlite3_step(st) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(st, 0);
        const char *aliases = (const char *)sqlite3_column_text(st, 1);
        char buf[128];
        for (int k = 0; k < 2 && t; k++) {
            const char *p = k == 0 ? name : aliases;
            while (t && p && *p) {
                if (k == 0) {
                    snprintf(buf, sizeof buf, "%s", name);
                    p = "";
                } else {
                    const char *a;
                    size_t len;
                    if (!(p = fl_next_alias(p, &a, &len)))
                        break;
                    snprintf(buf, sizeof buf, "%.*s", (int)(len < sizeof buf ? len : sizeof buf - 1), a);
                }
                if (n == cap) {
                    gpu_token *nt = realloc(t, 2 * cap * sizeof *t);
                    if (!nt) { free(t); t = NULL; break; }
                    t = nt;
                    cap *= 2;
                }
                snprintf(t[n].text, sizeof t[n].text, "%s", buf);
                snprintf(t[n].gpu, sizeof t[n].gpu, "%s", name ? name : "");
                t[n].is_name = k == 0;
                n++;
            }
        }
    }
    sqlite3_finalize(st);
    if (!t)
        return fl_fail(err, FL_ENOMEM, "gpus", "out of memory");
    qsort(t, n, sizeof *t, token_cmp);
    for (size_t i = 1; i < n && rc == FL_OK; i++) {
        if (strcasecmp(t[i - 1].text, t[i].text) != 0)
            continue;
        if (strcasecmp(t[i - 1].gpu, t[i].gpu) == 0)
            continue; /* the same type lists a name twice (e.g. its name among its aliases): harmless */
        /* blame the imported row (if both are imported, the later line) */
        const gpu_token *a = &t[i - 1], *b = &t[i];
        int la = origin_line(o, n_o, a->gpu), lb = origin_line(o, n_o, b->gpu);
        const gpu_token *mine = lb >= la ? b : a, *other = lb >= la ? a : b;
        int line = lb >= la ? lb : la;
        rc = fl_fail(err, FL_EINVAL, mine->is_name ? "name" : "aliases",
                     "%s line %d, column %s: '%s' is already the %s of GPU type %s (names and aliases must be unique, "
                     "case-insensitively)", file, line, mine->is_name ? "name" : "aliases", mine->text,
                     other->is_name ? "name" : "alias", other->gpu);
    }
    free(t);
    return rc;
}

fl_status fl_catalog_import_gpus(fl_catalog *cat, const char *csv_path, size_t *rows_out, fl_error *err)
{
    if (!cat || !csv_path)
        return fl_fail(err, FL_EMISUSE, "gpus", "fl_catalog_import_gpus: catalog or path is NULL");
    if (rows_out)
        *rows_out = 0;
    size_t len = 0;
    char *text = NULL;
    fl_status rd = fl_read_file(csv_path, "gpus", &text, &len, err);
    if (rd)
        return rd;
    fl_csv csv;
    fl_csv_init(&csv, text, len);
    int where[N_GPU_COLS];     /* file column of each table column, -1 when absent */
    size_t ncol = 0;
    fl_status rc = FL_OK;
    char *sql = NULL;
    sqlite3_stmt *st = NULL;
    gpu_origin *origin = NULL;
    size_t n_rows = 0;
    int r = fl_csv_next(&csv);
    if (r != 1) {
        rc = fl_fail(err, FL_EPARSE, "gpus", "%s: %s", csv_path, r == 0 ? "empty file (expected a header line with the "
                     "columns of data/gpus.csv)" : "line 1: unterminated quoted field");
        goto out;
    }
    ncol = csv.n_fields;
    for (size_t c = 0; c < N_GPU_COLS; c++)
        where[c] = -1;
    for (size_t f = 0; f < ncol; f++) {
        char h[64];
        snprintf(h, sizeof h, "%s", csv.fields[f]);
        size_t k;
        for (k = 0; k < N_GPU_COLS; k++)
            if (strcasecmp(h, gpu_cols[k].name) == 0)
                break;
        if (k == N_GPU_COLS) {
            rc = fl_fail(err, FL_EPARSE, h, "%s line 1, column %zu: unknown column '%s' (the columns of data/gpus.csv: "
                         "name, vendor, architecture, sms, memory_bytes, usable_memory_bytes, hbm_bw_bytes_per_s, "
                         "bf16_flops, fp16_flops, fp32_flops, tf32_flops, fp8_flops, int8_ops, link_type, "
                         "link_bw_bytes_per_s, pcie_bw_bytes_per_s, tdp_w, aliases, source)", csv_path, f + 1, h);
            goto out;
        }
        if (where[k] >= 0) {
            rc = fl_fail(err, FL_EPARSE, gpu_cols[k].name, "%s line 1: column %s appears twice (columns %d and %zu)",
                         csv_path, gpu_cols[k].name, where[k] + 1, f + 1);
            goto out;
        }
        where[k] = (int)f;
    }
    for (size_t k = 0; k < N_GPU_COLS; k++)
        if (gpu_cols[k].required && where[k] < 0) {
            rc = fl_fail(err, FL_EPARSE, gpu_cols[k].name, "%s line 1: required column %s is missing (required: name, "
                         "vendor, memory_bytes, hbm_bw_bytes_per_s, fp16_flops, fp32_flops, link_type, "
                         "link_bw_bytes_per_s, source)", csv_path, gpu_cols[k].name);
            goto out;
        }
    /* INSERT ... ON CONFLICT(name) DO UPDATE: an existing type keeps its row (and what refers to it) */
    size_t cap = 512;
    sql = malloc(cap * 3);
    if (!sql) {
        rc = fl_fail(err, FL_ENOMEM, "gpus", "out of memory");
        goto out;
    }
    size_t off = (size_t)snprintf(sql, cap * 3, "INSERT INTO gpus(");
    int np = 0;
    for (size_t k = 0; k < N_GPU_COLS; k++)
        if (where[k] >= 0)
            off += (size_t)snprintf(sql + off, cap * 3 - off, "%s%s", np++ ? "," : "", gpu_cols[k].name);
    off += (size_t)snprintf(sql + off, cap * 3 - off, ") VALUES(");
    for (int i = 0; i < np; i++)
        off += (size_t)snprintf(sql + off, cap * 3 - off, "%s?", i ? "," : "");
    off += (size_t)snprintf(sql + off, cap * 3 - off, ") ON CONFLICT(name) DO UPDATE SET ");
    np = 0;
    for (size_t k = 1; k < N_GPU_COLS; k++) /* every present column but the name */
        if (where[k] >= 0) {
            off += (size_t)snprintf(sql + off, cap * 3 - off, "%s%s=excluded.%s", np++ ? "," : "", gpu_cols[k].name,
                                    gpu_cols[k].name);
        }
    if ((rc = fl_catalog_exec(cat, "BEGIN", err)))
        goto out;
    if (sqlite3_prepare_v2(cat->db, sql, -1, &st, NULL) != SQLITE_OK) {
        rc = fl_fail(err, FL_ECATALOG, "gpus", "catalog %s: %s", cat->path, sqlite3_errmsg(cat->db));
        goto end;
    }
    size_t ocap = 16;
    origin = calloc(ocap, sizeof *origin);
    if (!origin) {
        rc = fl_fail(err, FL_ENOMEM, "gpus", "out of memory");
        goto end;
    }
    while ((r = fl_csv_next(&csv)) == 1) {
        if (csv.n_fields != ncol) {
            rc = fl_fail(err, FL_EPARSE, "gpus", "%s line %d: %zu fields, the header has %zu", csv_path, csv.line,
                         csv.n_fields, ncol);
            goto end;
        }
        sqlite3_reset(st);
        sqlite3_clear_bindings(st);
        int param = 1;
        double mem = 0, usable = 0;
        for (size_t k = 0; k < N_GPU_COLS; k++) {
            if (where[k] < 0)
                continue;
            const char *v = csv.fields[where[k]];
            if ((rc = check_field(csv_path, csv.line, &gpu_cols[k], v, st, param++, err)))
                goto end;
            if (strcmp(gpu_cols[k].name, "memory_bytes") == 0)
                parse_num(v, &mem);
            if (strcmp(gpu_cols[k].name, "usable_memory_bytes") == 0 && !parse_num(v, &usable))
                usable = 0;
        }
        if (usable > mem) {
            rc = fl_fail(err, FL_EINVAL, "usable_memory_bytes", "%s line %d, column usable_memory_bytes: %g exceeds "
                         "memory_bytes %g", csv_path, csv.line, usable, mem);
            goto end;
        }
        const char *name = csv.fields[where[0]];
        while (isspace((unsigned char)*name))
            name++;
        int dup = origin_line(origin, n_rows, name);
        if (dup) {
            rc = fl_fail(err, FL_EINVAL, "name", "%s line %d, column name: GPU type '%s' is already on line %d", csv_path,
                         csv.line, name, dup);
            goto end;
        }
        if (sqlite3_step(st) != SQLITE_DONE) {
            rc = fl_fail(err, FL_EINVAL, "gpus", "%s line %d: rejected by the catalog: %s", csv_path, csv.line,
                         sqlite3_errmsg(cat->db));
            goto end;
        }
        if (n_rows == ocap) {
            gpu_origin *no = realloc(origin, 2 * ocap * sizeof *origin);
            if (!no) {
                rc = fl_fail(err, FL_ENOMEM, "gpus", "out of memory");
                goto end;
            }
            origin = no;
            ocap *= 2;
        }
        origin[n_rows].name = strdup(name);
        origin[n_rows].line = csv.line;
        if (!origin[n_rows].name) {
            rc = fl_fail(err, FL_ENOMEM, "gpus", "out of memory");
            goto end;
        }
        n_rows++;
    }
    if (r == -1) {
        rc = fl_fail(err, FL_EPARSE, "gpus", "%s line %d: unterminated quoted field", csv_path, csv.line);
        goto end;
    }
    if (n_rows == 0) {
        rc = fl_fail(err, FL_EPARSE, "gpus", "%s: no GPU rows after the header", csv_path);
        goto end;
    }
    rc = check_unique(cat, csv_path, origin, n_rows, err);
end:
    sqlite3_finalize(st);
    st = NULL;
    rc = fl_catalog_end_import(cat, rc, err);
    if (rc == FL_OK && rows_out)
        *rows_out = n_rows;
out:
    sqlite3_finalize(st);
    for (size_t i = 0; origin && i < n_rows; i++)
        free(origin[i].name);
    free(origin);
    free(sql);
    fl_csv_free(&csv);
    free(text);
    return rc;
}

/* ---- zone-pair network figures ---- */

fl_status fl_catalog_import_network(fl_catalog *cat, const char *csv_path, size_t *rows_out, fl_error *err)
{
    if (!cat || !csv_path)
        return fl_fail(err, FL_EMISUSE, "network", "fl_catalog_import_network: catalog or path is NULL");
    if (rows_out)
        *rows_out = 0;
    size_t len = 0;
    char *text = NULL;
    fl_status rd = fl_read_file(csv_path, "network", &text, &len, err);
    if (rd)
        return rd;
    static const char *cols[] = {"zone_a", "zone_b", "bandwidth_bytes_per_s", "latency_s", "egress_per_gb", "source"};
    static const int required[] = {1, 1, 1, 0, 0, 1};
    enum { NC = 6 };
    int where[NC] = {-1, -1, -1, -1, -1, -1};
    fl_csv csv;
    fl_csv_init(&csv, text, len);
    fl_status rc = FL_OK;
    size_t n_rows = 0, ncol = 0;
    sqlite3_stmt *del = NULL, *ins = NULL;
    int r = fl_csv_next(&csv), began = 0;
    if (r != 1) {
        rc = fl_fail(err, FL_EPARSE, "network", "%s: %s", csv_path, r == 0 ? "empty file (expected the header zone_a,"
                     "zone_b,bandwidth_bytes_per_s,latency_s,egress_per_gb,source)" : "line 1: unterminated quoted field");
        goto out;
    }
    ncol = csv.n_fields;
    for (size_t f = 0; f < ncol; f++) {
        int k;
        for (k = 0; k < NC; k++)
            if (strcasecmp(csv.fields[f], cols[k]) == 0)
                break;
        if (k == NC) {
            rc = fl_fail(err, FL_EPARSE, "network", "%s line 1, column %zu: unknown column '%s' (zone_a, zone_b, "
                         "bandwidth_bytes_per_s, latency_s, egress_per_gb, source)", csv_path, f + 1, csv.fields[f]);
            goto out;
        }
        if (where[k] >= 0) {
            rc = fl_fail(err, FL_EPARSE, cols[k], "%s line 1: column %s appears twice", csv_path, cols[k]);
            goto out;
        }
        where[k] = (int)f;
    }
    for (int k = 0; k < NC; k++)
        if (required[k] && where[k] < 0) {
            rc = fl_fail(err, FL_EPARSE, cols[k], "%s line 1: required column %s is missing", csv_path, cols[k]);
            goto out;
        }
    if ((rc = fl_catalog_exec(cat, "BEGIN", err)))
        goto out;
    began = 1;
    if (sqlite3_prepare_v2(cat->db, "DELETE FROM network_overrides WHERE (zone_a = ?1 AND zone_b = ?2) OR "
                           "(zone_a = ?2 AND zone_b = ?1)", -1, &del, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(cat->db, "INSERT INTO network_overrides(zone_a, zone_b, bandwidth_bytes_per_s, latency_s,"
                           " egress_per_gb, source) VALUES(?,?,?,?,?,?)", -1, &ins, NULL) != SQLITE_OK) {
        rc = fl_fail(err, FL_ECATALOG, "network", "catalog %s: %s", cat->path, sqlite3_errmsg(cat->db));
        goto out;
    }
    while ((r = fl_csv_next(&csv)) == 1) {
        if (csv.n_fields != ncol) {
            rc = fl_fail(err, FL_EPARSE, "network", "%s line %d: %zu fields, the header has %zu", csv_path, csv.line,
                         csv.n_fields, ncol);
            goto out;
        }
        const char *zn[2];
        for (int k = 0; k < 2; k++) {
            fl_error lerr;
            fl_error_clear(&lerr);
            int zi = fl_catalog_find_zone(cat, csv.fields[where[k]], cols[k], &lerr);
            if (zi < 0) {
                const char *close = strstr(lerr.message, "(closest: ");
                rc = fl_fail(err, FL_ENOTFOUND, cols[k], "%s line %d, column %s: zone '%s' is not in the catalog "
                             "(import its nodes first) %s", csv_path, csv.line, cols[k], csv.fields[where[k]],
                             close ? close : "");
                goto out;
            }
            zn[k] = fl_catalog_zone(cat, (size_t)zi)->name;
        }
        double v[3] = {0, -1, 0}; /* bandwidth, latency, egress */
        static const double hi[3] = {1.25e13, 10.0, 10.0};
        for (int k = 2; k < 5; k++) {
            if (where[k] < 0)
                continue;
            const char *s = csv.fields[where[k]];
            if (!*s && k != 2)
                continue;
            double d;
            if (!parse_num(s, &d)) {
                rc = fl_fail(err, FL_EPARSE, cols[k], "%s line %d, column %s: '%s' is not a number", csv_path, csv.line,
                             cols[k], s);
                goto out;
            }
            if ((k == 2 ? d <= 0 : d < 0) || d > hi[k - 2]) {
                rc = fl_fail(err, FL_EINVAL, cols[k], "%s line %d, column %s: %s is outside %s..%g", csv_path, csv.line,
                             cols[k], s, k == 2 ? "(0" : "0", hi[k - 2]);
                goto out;
            }
            v[k - 2] = d;
        }
        const char *src = csv.fields[where[5]];
        if (!*src) {
            rc = fl_fail(err, FL_EINVAL, "source", "%s line %d, column source: empty (say where the figures come from)",
                         csv_path, csv.line);
            goto out;
        }
        sqlite3_reset(del);
        sqlite3_bind_text(del, 1, zn[0], -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(del, 2, zn[1], -1, SQLITE_TRANSIENT);
        sqlite3_reset(ins);
        sqlite3_bind_text(ins, 1, zn[0], -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(ins, 2, zn[1], -1, SQLITE_TRANSIENT);
        sqlite3_bind_double(ins, 3, v[0]);
        if (v[1] >= 0) sqlite3_bind_double(ins, 4, v[1]); else sqlite3_bind_null(ins, 4);
        sqlite3_bind_double(ins, 5, v[2]);
        sqlite3_bind_text(ins, 6, src, -1, SQLITE_TRANSIENT);
        if (sqlite3_step(del) != SQLITE_DONE || sqlite3_step(ins) != SQLITE_DONE) {
            rc = fl_fail(err, FL_EINVAL, "network", "%s line %d: rejected by the catalog: %s", csv_path, csv.line,
                         sqlite3_errmsg(cat->db));
            goto out;
        }
        n_rows++;
    }
    if (r == -1)
        rc = fl_fail(err, FL_EPARSE, "network", "%s line %d: unterminated quoted field", csv_path, csv.line);
    else if (n_rows == 0)
        rc = fl_fail(err, FL_EPARSE, "network", "%s: no rows after the header", csv_path);
out:
    sqlite3_finalize(del);
    sqlite3_finalize(ins);
    if (began) {
        rc = fl_catalog_end_import(cat, rc, err);
        if (rc == FL_OK && rows_out)
            *rows_out = n_rows;
    }
    fl_csv_free(&csv);
    free(text);
    return rc;
}
