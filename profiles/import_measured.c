/* profiles/import_measured.c — measured timings, JSONL (one JSON object per line) → table `measured`.
 *
 * Kinds (the "kind" member of each line):
 *   env        sets the default GPU ("gpu") and a note (torch/cuda) for the following lines; not stored
 *   layer      h, a, ffn, s, b, dtype, fwd_s_per_layer, fwdbwd_s_per_layer, act_bytes_per_layer
 *              (the short names fwd_s, fwdbwd_s, act_bytes are accepted too)
 *   gemm       m, n, k, dtype, seconds
 *   memcpy_d2d bytes, seconds
 *   decode, prefill  model, tp (default 1), batch, seq or context, seconds, dtype. Schema v1 has no
 *              model/tp columns: the row stores the model's shape in h/a/ffn (hidden, heads, ffn),
 *              s = seq (prefill) or context (decode), b = batch, m = tp, and the model name in source.
 * The GPU of a line is its "gpu" member (name or alias, e.g. the nvidia-smi product name) or the
 * last env line's. Re-importing a file replaces the rows of the earlier import of a file with the
 * same base name (their source starts with "<basename>:"). One transaction per file.
 */
#include "profiles/catalog.h"
#include "common/error.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct meas_row {
    int gpu_index;
    const char *kind, *dtype;
    long long h, a, ffn, s, b, m, n, k;       /* 0 = NULL */
    double fwd_s, fwdbwd_s, act_bytes, seconds, bytes; /* < 0 = NULL */
} meas_row;

typedef struct meas_ctx {
    fl_catalog *cat;
    const char *path, *base;
    int line;
    int env_gpu;            /* -1: none yet */
    char env_note[160];
} meas_ctx;

/* Integer member `key` (> 0). required: missing is an error; else *out stays 0. */
static fl_status get_int(const meas_ctx *c, json_t *o, const char *key, int required, long long *out, fl_error *err)
{
    json_t *v = json_object_get(o, key);
    if (!v) {
        if (required)
            return fl_fail(err, FL_EINVAL, key, "%s line %d: missing \"%s\"", c->path, c->line, key);
        return FL_OK;
    }
    double d = json_is_integer(v) ? (double)json_integer_value(v) : json_is_real(v) ? json_real_value(v) : -1;
    if (!json_is_number(v) || d < 1 || d != floor(d) || d > 9.2e18)
        return fl_fail(err, FL_EINVAL, key, "%s line %d: \"%s\" must be a positive integer", c->path, c->line, key);
    *out = (long long)d;
    return FL_OK;
}

/* Real member: the first present of key / alt (alt may be NULL); must be > 0 (>= 0 when zero_ok). */
static fl_status get_real(const meas_ctx *c, json_t *o, const char *key, const char *alt, int required, double *out,
                          fl_error *err)
{
    json_t *v = json_object_get(o, key);
    const char *name = key;
    if (!v && alt) {
        v = json_object_get(o, alt);
        name = alt;
    }
    if (!v) {
        if (required)
            return fl_fail(err, FL_EINVAL, key, "%s line %d: missing \"%s\"", c->path, c->line, key);
        return FL_OK;
    }
    if (!json_is_number(v) || !(json_number_value(v) > 0) || !isfinite(json_number_value(v)))
        return fl_fail(err, FL_EINVAL, name, "%s line %d: \"%s\" must be a positive number", c->path, c->line, name);
    *out = json_number_value(v);
    return FL_OK;
}

/* Optional string member; wrong type is an error. */
static fl_status get_str(const meas_ctx *c, json_t *o, const char *key, const char **out, fl_error *err)
{
    json_t *v = json_object_get(o, key);
    *out = NULL;
    if (!v)
        return FL_OK;
    if (!json_is_string(v))
        return fl_fail(err, FL_EINVAL, key, "%s line %d: \"%s\" must be a string", c->path, c->line, key);
    *out = json_string_value(v);
    return FL_OK;
}

/* Resolve a GPU name through the catalog aliases; the error names file, line and the name. */
static fl_status resolve_gpu(const meas_ctx *c, const char *name, int *out, fl_error *err)
{
    fl_error lerr;
    fl_error_clear(&lerr);
    int gi = fl_catalog_find_gpu(c->cat, name, "gpu", &lerr);
    if (gi < 0)
        return fl_fail(err, lerr.code ? lerr.code : FL_ENOTFOUND, "gpu", "%s line %d: %s", c->path, c->line,
                       lerr.message);
    *out = gi;
    return FL_OK;
}

/* Fill *r from one parsed line. *store = 0 for env lines. */
static fl_status parse_line(meas_ctx *c, json_t *o, meas_row *r, int *store, char *note, size_t note_cap,
                            fl_error *err)
{
    memset(r, 0, sizeof *r);
    r->fwd_s = r->fwdbwd_s = r->act_bytes = r->seconds = r->bytes = -1;
    note[0] = '\0';
    *store = 1;
    fl_status rc;
    const char *kind, *gpu;
    if ((rc = get_str(c, o, "kind", &kind, err)) || (rc = get_str(c, o, "gpu", &gpu, err)) ||
        (rc = get_str(c, o, "dtype", &r->dtype, err)))
        return rc;
    if (!kind)
        return fl_fail(err, FL_EINVAL, "kind", "%s line %d: missing \"kind\"", c->path, c->line);
    r->kind = kind;
    if (strcmp(kind, "env") == 0) {
        *store = 0;
        if (gpu && (rc = resolve_gpu(c, gpu, &c->env_gpu, err)))
            return rc;
        const char *torch = NULL, *cuda = NULL;
        get_str(c, o, "torch", &torch, NULL);
        get_str(c, o, "cuda", &cuda, NULL);
        c->env_note[0] = '\0';
        if (torch || cuda)
            snprintf(c->env_note, sizeof c->env_note, " (torch %s, cuda %s)", torch ? torch : "?", cuda ? cuda : "?");
        return FL_OK;
    }
    if (gpu) {
        if ((rc = resolve_gpu(c, gpu, &r->gpu_index, err)))
            return rc;
    } else if (c->env_gpu >= 0) {
        r->gpu_index = c->env_gpu;
    } else {
        return fl_fail(err, FL_EINVAL, "gpu", "%s line %d: no \"gpu\" member and no earlier env line naming the GPU",
                       c->path, c->line);
    }
    if (strcmp(kind, "layer") == 0) {
        if ((rc = get_int(c, o, "h", 1, &r->h, err)) || (rc = get_int(c, o, "a", 1, &r->a, err)) ||
            (rc = get_int(c, o, "ffn", 1, &r->ffn, err)) || (rc = get_int(c, o, "s", 1, &r->s, err)) ||
            (rc = get_int(c, o, "b", 1, &r->b, err)) ||
            (rc = get_real(c, o, "fwd_s_per_layer", "fwd_s", 1, &r->fwd_s, err)) ||
            (rc = get_real(c, o, "fwdbwd_s_per_layer", "fwdbwd_s", 0, &r->fwdbwd_s, err)) ||
            (rc = get_real(c, o, "act_bytes_per_layer", "act_bytes", 0, &r->act_bytes, err)))
            return rc;
    } else if (strcmp(kind, "gemm") == 0) {
        if ((rc = get_int(c, o, "m", 1, &r->m, err)) || (rc = get_int(c, o, "n", 1, &r->n, err)) ||
            (rc = get_int(c, o, "k", 1, &r->k, err)) || (rc = get_real(c, o, "seconds", NULL, 1, &r->seconds, err)))
            return rc;
    } else if (strncmp(kind, "memcpy", 6) == 0) {
        if ((rc = get_real(c, o, "bytes", NULL, 1, &r->bytes, err)) ||
            (rc = get_real(c, o, "seconds", NULL, 1, &r->seconds, err)))
            return rc;
    } else if (strcmp(kind, "decode") == 0 || strcmp(kind, "prefill") == 0) {
        const char *model;
        if ((rc = get_str(c, o, "model", &model, err)))
            return rc;
        if (!model)
            return fl_fail(err, FL_EINVAL, "model", "%s line %d: missing \"model\"", c->path, c->line);
        fl_error lerr;
        fl_error_clear(&lerr);
        int mi = fl_catalog_find_model(c->cat, model, "model", &lerr);
        if (mi < 0)
            return fl_fail(err, FL_ENOTFOUND, "model", "%s line %d: %s", c->path, c->line, lerr.message);
        const fl_model *m = &c->cat->models[mi];
        r->h = m->hidden;
        r->a = m->heads;
        r->ffn = m->ffn;
        r->m = 1;
        const char *len_key = json_object_get(o, "seq") ? "seq" : "context";
        if ((rc = get_int(c, o, "tp", 0, &r->m, err)) || (rc = get_int(c, o, "batch", 1, &r->b, err)) ||
            (rc = get_int(c, o, len_key, 1, &r->s, err)) ||
            (rc = get_real(c, o, "seconds", NULL, 1, &r->seconds, err)))
            return rc;
        if (r->m == 0)
            r->m = 1;
        snprintf(note, note_cap, "; model %s tp %lld %s %lld", m->name, r->m, len_key, r->s);
    } else {
        return fl_fail(err, FL_EINVAL, "kind", "%s line %d: unknown kind '%s' (env, layer, gemm, memcpy_d2d, decode, "
                       "prefill)", c->path, c->line, kind);
    }
    return FL_OK;
}

static void bind_int(sqlite3_stmt *st, int i, long long v)
{
    if (v > 0)
        sqlite3_bind_int64(st, i, v);
    else
        sqlite3_bind_null(st, i);
}

static void bind_real(sqlite3_stmt *st, int i, double v)
{
    if (v >= 0)
        sqlite3_bind_double(st, i, v);
    else
        sqlite3_bind_null(st, i);
}

/* Read the file line by line and insert each row, inside the caller's transaction. */
static fl_status import_file(meas_ctx *c, FILE *f, sqlite3_stmt *ins, size_t *rows, fl_error *err)
{
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    fl_status rc = FL_OK;
    while (rc == FL_OK && (len = getline(&line, &cap, f)) >= 0) {
        c->line++;
        const char *p = line;
        while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
            p++;
        if (!*p)
            continue; /* blank line */
        json_error_t jerr;
        json_t *o = json_loadb(line, (size_t)len, 0, &jerr);
        if (!o) {
            rc = fl_fail(err, FL_EPARSE, "line", "%s line %d column %d: malformed JSON: %s", c->path, c->line,
                         jerr.column, jerr.text);
            break;
        }
        if (!json_is_object(o)) {
            json_decref(o);
            rc = fl_fail(err, FL_EPARSE, "line", "%s line %d: expected one JSON object per line", c->path, c->line);
            break;
        }
        meas_row r;
        int store;
        char note[160];
        rc = parse_line(c, o, &r, &store, note, sizeof note, err);
        if (rc == FL_OK && store) {
            char src[512];
            snprintf(src, sizeof src, "%s:%d%s%s", c->base, c->line, c->env_note, note);
            sqlite3_reset(ins);
            sqlite3_clear_bindings(ins);
            sqlite3_bind_text(ins, 1, c->cat->gpus[r.gpu_index].name, -1, SQLITE_TRANSIENT);
            sqlite3_bind_text(ins, 2, r.kind, -1, SQLITE_TRANSIENT);
            if (r.dtype)
                sqlite3_bind_text(ins, 3, r.dtype, -1, SQLITE_TRANSIENT);
            bind_int(ins, 4, r.h);
            bind_int(ins, 5, r.a);
            bind_int(ins, 6, r.ffn);
            bind_int(ins, 7, r.s);
            bind_int(ins, 8, r.b);
            bind_int(ins, 9, r.m);
            bind_int(ins, 10, r.n);
            bind_int(ins, 11, r.k);
            bind_real(ins, 12, r.fwd_s);
            bind_real(ins, 13, r.fwdbwd_s);
            bind_real(ins, 14, r.act_bytes);
            bind_real(ins, 15, r.seconds);
            bind_real(ins, 16, r.bytes);
            sqlite3_bind_text(ins, 17, src, -1, SQLITE_TRANSIENT);
            if (sqlite3_step(ins) != SQLITE_DONE)
                rc = fl_fail(err, FL_ECATALOG, "measured", "%s line %d: rejected by table measured: %s", c->path,
                             c->line, sqlite3_errmsg(c->cat->db));
            else
                (*rows)++;
        }
        json_decref(o);
    }
    free(line);
    if (rc == FL_OK && ferror(f))
        rc = fl_fail(err, FL_EIO, "measured", "error reading %s", c->path);
    if (rc == FL_OK && *rows == 0)
        rc = fl_fail(err, FL_EINVAL, "measured", "%s: no measurement lines (only env or blank lines)", c->path);
    return rc;
}

fl_status fl_catalog_import_measured(fl_catalog *cat, const char *jsonl_path, size_t *rows_out, fl_error *err)
{
    if (!cat || !jsonl_path)
        return fl_fail(err, FL_EMISUSE, "measured", "fl_catalog_import_measured: catalog or path is NULL");
    FILE *f = fopen(jsonl_path, "rb");
    if (!f)
        return fl_fail(err, FL_EIO, "measured", "cannot read measured JSONL %s: %s", jsonl_path, strerror(errno));
    meas_ctx c;
    memset(&c, 0, sizeof c);
    c.cat = cat;
    c.path = jsonl_path;
    const char *slash = strrchr(jsonl_path, '/');
    c.base = slash ? slash + 1 : jsonl_path;
    c.env_gpu = -1;
    fl_status rc = fl_catalog_exec(cat, "BEGIN", err);
    if (rc) {
        fclose(f);
        return rc;
    }
    sqlite3_stmt *del = NULL, *ins = NULL;
    char prefix[300];
    snprintf(prefix, sizeof prefix, "%s:", c.base);
    if (sqlite3_prepare_v2(cat->db, "DELETE FROM measured WHERE substr(source, 1, ?1) = ?2", -1, &del, NULL) != SQLITE_OK ||
        sqlite3_prepare_v2(cat->db, "INSERT INTO measured(gpu, kind, dtype, h, a, ffn, s, b, m, n, k, fwd_s, fwdbwd_s,"
                           " act_bytes, seconds, bytes, source) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                           -1, &ins, NULL) != SQLITE_OK)
        rc = fl_fail(err, FL_ECATALOG, "measured", "catalog %s: %s", cat->path, sqlite3_errmsg(cat->db));
    if (rc == FL_OK) {
        sqlite3_bind_int(del, 1, (int)strlen(prefix));
        sqlite3_bind_text(del, 2, prefix, -1, SQLITE_STATIC);
        if (sqlite3_step(del) != SQLITE_DONE)
            rc = fl_fail(err, FL_ECATALOG, "measured", "catalog %s: %s", cat->path, sqlite3_errmsg(cat->db));
    }
    size_t rows = 0;
    if (rc == FL_OK)
        rc = import_file(&c, f, ins, &rows, err);
    sqlite3_finalize(del);
    sqlite3_finalize(ins);
    fclose(f);
    if ((rc = fl_catalog_end_import(cat, rc, err)))
        return rc;
    if (rows_out)
        *rows_out = rows;
    return FL_OK;
}
