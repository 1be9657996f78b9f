/* profiles/catalog.c — opening catalogs: schema creation, the built-in CSV seed, loading the
 * SQLite tables into the in-memory arrays, and the simple accessors. */
#include "profiles/catalog.h"
#include "profiles/storage.h"
#include "profiles/csv.h"
#include "common/error.h"

#include <jansson.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

/* ---- string pool: every string of the arrays lives here, freed at once ---- */

struct fl_strpool {
    struct fl_strpool *next;
    size_t used, cap;
    char data[];
};

static const char *pool_dup(fl_strpool **pool, const char *s)
{
    if (!s)
        s = "";
    size_t n = strlen(s) + 1;
    if (!*pool || (*pool)->used + n > (*pool)->cap) {
        size_t cap = n > 65536 ? n : 65536;
        fl_strpool *b = malloc(sizeof *b + cap);
        if (!b)
            return NULL;
        b->next = *pool;
        b->used = 0;
        b->cap = cap;
        *pool = b;
    }
    char *d = (*pool)->data + (*pool)->used;
    memcpy(d, s, n);
    (*pool)->used += n;
    return d;
}

static void pool_free(fl_strpool *p)
{
    while (p) {
        fl_strpool *n = p->next;
        free(p);
        p = n;
    }
}

/* ---- schema ---- */

/* Columns added in schema version 2: measured rows carry their model, tp, out-of-memory flag and
 * the whole row as JSON (members beyond the fixed columns are read from it); on-prem nodes carry
 * their declared network (NIC bandwidth and latency, intra-node link). */
#define MEASURED_V2_COLUMNS ", model TEXT, tp INTEGER, oom INTEGER NOT NULL DEFAULT 0, row TEXT"
#define GPUS_V2_COLUMNS ", sms INTEGER CHECK(sms IS NULL OR sms > 0), tf32_flops REAL"
#define NODES_V2_COLUMNS \
    ", nic_bw_bytes_per_s REAL, nic_latency_s REAL, link_type TEXT, link_bw_bytes_per_s REAL"

/* Owned capacity: an on-prem node's $/h per GPU (`--price-per-gpu-hour`; NULL = 0). Catalogs
 * created before it lack the column until the next `profiles import --nvidia-smi` adds it. */
#define NODES_PRICE_COLUMN ", price_per_gpu_hour REAL CHECK(price_per_gpu_hour IS NULL OR price_per_gpu_hour >= 0)"

static const char *schema_sql =
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT);"
    "CREATE TABLE gpus(name TEXT PRIMARY KEY COLLATE NOCASE, vendor TEXT NOT NULL, architecture TEXT,"
    " memory_bytes REAL NOT NULL CHECK(memory_bytes > 0), usable_memory_bytes REAL,"
    " hbm_bw_bytes_per_s REAL NOT NULL CHECK(hbm_bw_bytes_per_s > 0), bf16_flops REAL,"
    " fp16_flops REAL NOT NULL CHECK(fp16_flops > 0), fp32_flops REAL, fp8_flops REAL, int8_ops REAL,"
    " link_type TEXT NOT NULL, link_bw_bytes_per_s REAL NOT NULL CHECK(link_bw_bytes_per_s > 0),"
    " pcie_bw_bytes_per_s REAL, tdp_w REAL, aliases TEXT, source TEXT NOT NULL" GPUS_V2_COLUMNS ");"
    "CREATE TABLE models(name TEXT PRIMARY KEY COLLATE NOCASE, layers INTEGER NOT NULL CHECK(layers > 0),"
    " hidden INTEGER NOT NULL CHECK(hidden > 0), heads INTEGER NOT NULL CHECK(heads > 0),"
    " kv_heads INTEGER NOT NULL CHECK(kv_heads > 0), ffn INTEGER NOT NULL CHECK(ffn > 0),"
    " vocab INTEGER NOT NULL CHECK(vocab > 0), activation TEXT NOT NULL CHECK(activation IN ('gelu','swiglu')),"
    " tied_embeddings INTEGER NOT NULL, positional TEXT NOT NULL CHECK(positional IN ('learned','rope')),"
    " max_positions INTEGER, experts INTEGER NOT NULL DEFAULT 1, top_k INTEGER NOT NULL DEFAULT 1,"
    " aliases TEXT, source TEXT NOT NULL);"
    "CREATE TABLE zones(zone TEXT PRIMARY KEY COLLATE NOCASE, cloud TEXT NOT NULL, region TEXT NOT NULL,"
    " continent TEXT NOT NULL, source TEXT NOT NULL);"
    "CREATE TABLE network(class TEXT PRIMARY KEY CHECK(class IN ('same_zone','same_region','same_continent',"
    "'intercontinental')), bandwidth_bytes_per_s REAL NOT NULL CHECK(bandwidth_bytes_per_s > 0),"
    " latency_s REAL NOT NULL CHECK(latency_s >= 0), egress_per_gb REAL NOT NULL CHECK(egress_per_gb >= 0),"
    " source TEXT NOT NULL);"
    "CREATE TABLE network_overrides(zone_a TEXT NOT NULL REFERENCES zones(zone),"
    " zone_b TEXT NOT NULL REFERENCES zones(zone), bandwidth_bytes_per_s REAL NOT NULL CHECK(bandwidth_bytes_per_s > 0),"
    " latency_s REAL CHECK(latency_s IS NULL OR latency_s >= 0), egress_per_gb REAL NOT NULL CHECK(egress_per_gb >= 0),"
    " source TEXT NOT NULL, PRIMARY KEY(zone_a, zone_b));"
    "CREATE TABLE offerings(cloud TEXT NOT NULL, region TEXT NOT NULL, zone TEXT NOT NULL REFERENCES zones(zone),"
    " instance_type TEXT NOT NULL, gpu TEXT NOT NULL REFERENCES gpus(name),"
    " gpus_per_instance INTEGER NOT NULL CHECK(gpus_per_instance > 0), vcpus REAL, memory_gib REAL,"
    " price_per_hour REAL NOT NULL CHECK(price_per_hour > 0), spot_price_per_hour REAL CHECK(spot_price_per_hour > 0),"
    " network_bw_bytes_per_s REAL, source TEXT NOT NULL, PRIMARY KEY(zone, instance_type));"
    "CREATE TABLE measured(id INTEGER PRIMARY KEY, gpu TEXT NOT NULL REFERENCES gpus(name), kind TEXT NOT NULL,"
    " dtype TEXT, h INTEGER, a INTEGER, ffn INTEGER, s INTEGER, b INTEGER, m INTEGER, n INTEGER, k INTEGER,"
    " fwd_s REAL, fwdbwd_s REAL, act_bytes REAL, seconds REAL, bytes REAL, source TEXT NOT NULL"
    MEASURED_V2_COLUMNS ");"
    "CREATE TABLE nodes(name TEXT PRIMARY KEY, zone TEXT NOT NULL REFERENCES zones(zone),"
    " gpu TEXT NOT NULL REFERENCES gpus(name), gpu_count INTEGER NOT NULL CHECK(gpu_count > 0),"
    " memory_bytes REAL, nvlink INTEGER NOT NULL DEFAULT 0, source TEXT NOT NULL" NODES_V2_COLUMNS NODES_PRICE_COLUMN ");";

/* Migration from schema version 1: the same columns, added to existing tables. The GPU columns
 * sms and tf32_flops are added by ensure_gpu_columns (only when missing: catalogs created by an
 * early schema 2 lack them too). */
static const char *migrate_v1_sql =
    "BEGIN;"
    "ALTER TABLE measured ADD COLUMN model TEXT;"
    "ALTER TABLE measured ADD COLUMN tp INTEGER;"
    "ALTER TABLE measured ADD COLUMN oom INTEGER NOT NULL DEFAULT 0;"
    "ALTER TABLE measured ADD COLUMN row TEXT;"
    "ALTER TABLE nodes ADD COLUMN nic_bw_bytes_per_s REAL;"
    "ALTER TABLE nodes ADD COLUMN nic_latency_s REAL;"
    "ALTER TABLE nodes ADD COLUMN link_type TEXT;"
    "ALTER TABLE nodes ADD COLUMN link_bw_bytes_per_s REAL;"
    "PRAGMA user_version=2;"
    "COMMIT;";

/* Whether table `table` has column `col` (a catalog of an early schema 2 may lack some). */
int fl_catalog_has_column(sqlite3 *db, const char *table, const char *col)
{
    char sql[96];
    snprintf(sql, sizeof sql, "PRAGMA table_info(%s)", table);
    sqlite3_stmt *st;
    int found = 0;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        return 0;
    while (!found && sqlite3_step(st) == SQLITE_ROW) {
        const char *name = (const char *)sqlite3_column_text(st, 1);
        found = name && strcmp(name, col) == 0;
    }
    sqlite3_finalize(st);
    return found;
}

static const fl_builtin_file *builtin_file(const char *name);

/* GPU columns sms and tf32_flops: add them to a catalog file that predates them, and fill them
 * for the built-in GPU types from data/gpus.csv (rows a user imported keep NULL = unknown). */
static fl_status ensure_gpu_columns(fl_catalog *cat, int migrated, fl_error *err)
{
    fl_status rc = FL_OK;
    if (!fl_catalog_has_column(cat->db, "gpus", "sms")) {
        if ((rc = fl_catalog_exec(cat, "BEGIN; ALTER TABLE gpus ADD COLUMN sms INTEGER;"
                                       " ALTER TABLE gpus ADD COLUMN tf32_flops REAL; COMMIT;", err))) {
            sqlite3_exec(cat->db, "ROLLBACK", NULL, NULL, NULL);
            return rc;
        }
        migrated = 1;
    }
    const fl_builtin_file *f = builtin_file("gpus.csv");
    if (!migrated || !f)
        return FL_OK;
    fl_csv csv;
    fl_csv_init(&csv, f->text, f->len);
    int ci_name = -1, ci_sms = -1, ci_tf32 = -1;
    sqlite3_stmt *st = NULL;
    if (fl_csv_next(&csv) == 1) {
        ci_name = fl_csv_col(&csv, "name");
        ci_sms = fl_csv_col(&csv, "sms");
        ci_tf32 = fl_csv_col(&csv, "tf32_flops");
    }
    if (ci_name >= 0 && ci_sms >= 0 && ci_tf32 >= 0 &&
        sqlite3_prepare_v2(cat->db, "UPDATE gpus SET sms = ?, tf32_flops = ? WHERE name = ? AND sms IS NULL"
                           " AND tf32_flops IS NULL", -1, &st, NULL) == SQLITE_OK) {
        sqlite3_exec(cat->db, "BEGIN", NULL, NULL, NULL);
        while (fl_csv_next(&csv) == 1) {
            if (csv.n_fields <= (size_t)ci_name || csv.n_fields <= (size_t)ci_sms || csv.n_fields <= (size_t)ci_tf32)
                continue;
            sqlite3_reset(st);
            const char *sms = csv.fields[ci_sms], *tf32 = csv.fields[ci_tf32];
            if (*sms) sqlite3_bind_int(st, 1, atoi(sms)); else sqlite3_bind_null(st, 1);
            if (*tf32) sqlite3_bind_double(st, 2, strtod(tf32, NULL)); else sqlite3_bind_null(st, 2);
            sqlite3_bind_text(st, 3, csv.fields[ci_name], -1, SQLITE_TRANSIENT);
            if (sqlite3_step(st) != SQLITE_DONE) {
                rc = fl_fail(err, FL_ECATALOG, "gpus", "catalog %s: cannot fill sms/tf32_flops: %s", cat->path,
                             sqlite3_errmsg(cat->db));
                break;
            }
        }
        sqlite3_finalize(st);
        sqlite3_exec(cat->db, rc ? "ROLLBACK" : "COMMIT", NULL, NULL, NULL);
    }
    fl_csv_free(&csv);
    return rc;
}

static const struct { const char *file, *table; } builtin_tables[] = {
    {"gpus.csv", "gpus"},           {"models.csv", "models"},
    {"zones.csv", "zones"},         {"network.csv", "network"},
    {"network_overrides.csv", "network_overrides"}, {"offerings.csv", "offerings"},
};

fl_status fl_catalog_insert_csv(sqlite3 *db, const char *table, const char *what,
                                const char *text, size_t len, fl_error *err)
{
    fl_csv csv;
    fl_csv_init(&csv, text, len);
    int r = fl_csv_next(&csv);
    if (r != 1) {
        fl_csv_free(&csv);
        return fl_fail(err, FL_EPARSE, what, "%s: missing CSV header line", what);
    }
    size_t ncol = csv.n_fields;
    /* build INSERT with the header's column names */
    size_t cap = 256;
    for (size_t i = 0; i < ncol; i++)
        cap += strlen(csv.fields[i]) + 8;
    char *sql = malloc(cap);
    if (!sql) {
        fl_csv_free(&csv);
        return fl_fail(err, FL_ENOMEM, what, "out of memory");
    }
    size_t off = (size_t)snprintf(sql, cap, "INSERT INTO %s(", table);
    for (size_t i = 0; i < ncol; i++) {
        for (const char *c = csv.fields[i]; *c; c++)
            if (!(*c == '_' || (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9'))) {
                free(sql);
                fl_fail(err, FL_EPARSE, what, "%s line 1: bad column name '%s'", what, csv.fields[i]);
                fl_csv_free(&csv);
                return FL_EPARSE;
            }
        off += (size_t)snprintf(sql + off, cap - off, "%s%s", i ? "," : "", csv.fields[i]);
    }
    off += (size_t)snprintf(sql + off, cap - off, ") VALUES(");
    for (size_t i = 0; i < ncol; i++)
        off += (size_t)snprintf(sql + off, cap - off, "%s?", i ? "," : "");
    snprintf(sql + off, cap - off, ")");
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        fl_fail(err, FL_EPARSE, what, "%s: header does not match table %s: %s", what, table, sqlite3_errmsg(db));
        free(sql);
        fl_csv_free(&csv);
        return FL_EPARSE;
    }
    free(sql);
    fl_status rc = FL_OK;
    while ((r = fl_csv_next(&csv)) == 1) {
        if (csv.n_fields != ncol) {
            rc = fl_fail(err, FL_EPARSE, what, "%s line %d: %zu fields, header has %zu", what, csv.line,
                         csv.n_fields, ncol);
            break;
        }
        sqlite3_reset(st);
        for (size_t i = 0; i < ncol; i++) {
            const char *v = csv.fields[i];
            if (!*v) {
                sqlite3_bind_null(st, (int)i + 1);
                continue;
            }
            char *endp;
            double d = strtod(v, &endp);
            if (*endp == '\0' && endp != v)
                sqlite3_bind_double(st, (int)i + 1, d);
            else
                sqlite3_bind_text(st, (int)i + 1, v, -1, SQLITE_TRANSIENT);
        }
        if (sqlite3_step(st) != SQLITE_DONE) {
            rc = fl_fail(err, FL_EPARSE, what, "%s line %d: rejected by table %s: %s", what, csv.line, table,
                         sqlite3_errmsg(db));
            break;
        }
    }
    if (r == -1 && rc == FL_OK)
        rc = fl_fail(err, FL_EPARSE, what, "%s line %d: unterminated quoted field", what, csv.line);
    sqlite3_finalize(st);
    fl_csv_free(&csv);
    return rc;
}

fl_status fl_catalog_exec(fl_catalog *cat, const char *sql, fl_error *err)
{
    char *msg = NULL;
    if (sqlite3_exec(cat->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        fl_status rc = fl_catalog_fail(cat, err, FL_ECATALOG, "catalog", "catalog %s: %s", cat->path, msg ? msg : "error");
        sqlite3_free(msg);
        return rc;
    }
    return FL_OK;
}

fl_status fl_catalog_end_import(fl_catalog *cat, fl_status rc, fl_error *err)
{
    if (rc == FL_OK)
        rc = fl_catalog_exec(cat, "COMMIT", err);
    if (rc) {
        sqlite3_exec(cat->db, "ROLLBACK", NULL, NULL, NULL);
        return rc;
    }
    return fl_catalog_reload(cat, err);
}

static const fl_builtin_file *builtin_file(const char *name)
{
    for (size_t i = 0; i < fl_builtin_file_count; i++)
        if (strcmp(fl_builtin_files[i].name, name) == 0)
            return &fl_builtin_files[i];
    return NULL;
}

/* Create the schema and fill it from the embedded data/ CSV files, in one transaction. */
static fl_status seed_builtin(fl_catalog *cat, fl_error *err)
{
    fl_status rc = fl_catalog_exec(cat, "BEGIN", err);
    if (rc) return rc;
    rc = fl_catalog_exec(cat, schema_sql, err);
    for (size_t t = 0; rc == FL_OK && t < sizeof builtin_tables / sizeof builtin_tables[0]; t++) {
        const fl_builtin_file *f = NULL;
        for (size_t i = 0; i < fl_builtin_file_count; i++)
            if (strcmp(fl_builtin_files[i].name, builtin_tables[t].file) == 0)
                f = &fl_builtin_files[i];
        if (!f) {
            rc = fl_fail(err, FL_ECATALOG, builtin_tables[t].file, "built-in data file %s missing", builtin_tables[t].file);
            break;
        }
        char what[64];
        snprintf(what, sizeof what, "data/%s", f->name);
        rc = fl_catalog_insert_csv(cat->db, builtin_tables[t].table, what, f->text, f->len, err);
    }
    if (rc == FL_OK) {
        char sql[160];
        snprintf(sql, sizeof sql, "INSERT INTO meta VALUES('created_by','flotilla %s'); PRAGMA user_version=%d;",
                 fl_version(), FL_CATALOG_SCHEMA_VERSION);
        rc = fl_catalog_exec(cat, sql, err);
    }
    if (rc == FL_OK)
        rc = fl_catalog_exec(cat, "COMMIT", err);
    else
        sqlite3_exec(cat->db, "ROLLBACK", NULL, NULL, NULL);
    return rc;
}

/* ---- loading tables into arrays ---- */

static double col_d(sqlite3_stmt *st, int i)
{
    return sqlite3_column_type(st, i) == SQLITE_NULL ? 0.0 : sqlite3_column_double(st, i);
}

static const char *col_s(fl_catalog *cat, sqlite3_stmt *st, int i)
{
    return pool_dup(&cat->strings, (const char *)sqlite3_column_text(st, i));
}

/* Run `sql`, call `row` for each result into a freshly allocated array of `elem` bytes. */
static fl_status load_rows(fl_catalog *cat, const char *sql, size_t elem, void **arr, size_t *n,
                           void (*row)(fl_catalog *, sqlite3_stmt *, void *), fl_error *err)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(cat->db, sql, -1, &st, NULL) != SQLITE_OK)
        return fl_catalog_fail(cat, err, FL_ECATALOG, "catalog", "catalog %s is corrupt or not a flotilla catalog: %s",
                               cat->path, sqlite3_errmsg(cat->db));
    size_t cap = 16, cnt = 0;
    char *a = calloc(cap, elem);
    int r;
    while (a && (r = sqlite3_step(st)) == SQLITE_ROW) {
        if (cnt == cap) {
            char *na = realloc(a, cap * 2 * elem);
            if (!na) { free(a); a = NULL; break; }
            a = na;
            memset(a + cap * elem, 0, cap * elem);
            cap *= 2;
        }
        row(cat, st, a + cnt * elem);
        cnt++;
    }
    if (!a) {
        sqlite3_finalize(st);
        return fl_fail(err, FL_ENOMEM, "catalog", "out of memory loading catalog");
    }
    if (r != SQLITE_DONE) {
        sqlite3_finalize(st);
        free(a);
        return fl_fail(err, FL_ECATALOG, "catalog", "catalog %s: %s", cat->path, sqlite3_errmsg(cat->db));
    }
    sqlite3_finalize(st);
    *arr = a;
    *n = cnt;
    return FL_OK;
}

static void row_gpu(fl_catalog *cat, sqlite3_stmt *st, void *p)
{
    fl_gpu *g = p;
    g->name = col_s(cat, st, 0);
    g->vendor = col_s(cat, st, 1);
    g->architecture = col_s(cat, st, 2);
    g->memory_bytes = col_d(st, 3);
    g->usable_memory_bytes = col_d(st, 4);
    if (g->usable_memory_bytes <= 0)
        g->usable_memory_bytes = g->memory_bytes;
    g->hbm_bw = col_d(st, 5);
    g->bf16_flops = col_d(st, 6);
    g->fp16_flops = col_d(st, 7);
    g->fp32_flops = col_d(st, 8);
    g->fp8_flops = col_d(st, 9);
    g->int8_ops = col_d(st, 10);
    g->link_type = col_s(cat, st, 11);
    g->link_bw = col_d(st, 12);
    g->pcie_bw = col_d(st, 13);
    g->tdp_w = col_d(st, 14);
    g->aliases = col_s(cat, st, 15);
    g->source = col_s(cat, st, 16);
    g->sms = sqlite3_column_int(st, 17) > 0 ? sqlite3_column_int(st, 17) : 0;
    g->tf32_flops = col_d(st, 18);
}

static void row_model(fl_catalog *cat, sqlite3_stmt *st, void *p)
{
    fl_model *m = p;
    m->name = col_s(cat, st, 0);
    m->layers = sqlite3_column_int(st, 1);
    m->hidden = sqlite3_column_int(st, 2);
    m->heads = sqlite3_column_int(st, 3);
    m->kv_heads = sqlite3_column_int(st, 4);
    m->ffn = sqlite3_column_int(st, 5);
    m->vocab = sqlite3_column_int(st, 6);
    const char *act = (const char *)sqlite3_column_text(st, 7);
    m->activation = act && strcasecmp(act, "swiglu") == 0 ? FL_ACT_SWIGLU : FL_ACT_GELU;
    m->tied_embeddings = sqlite3_column_int(st, 8);
    const char *pos = (const char *)sqlite3_column_text(st, 9);
    m->rope = pos && strcasecmp(pos, "rope") == 0;
    m->max_positions = sqlite3_column_int(st, 10);
    m->experts = sqlite3_column_int(st, 11);
    m->top_k = sqlite3_column_int(st, 12);
    if (m->experts < 1) m->experts = 1;
    if (m->top_k < 1) m->top_k = 1;
    m->aliases = col_s(cat, st, 13);
    m->source = col_s(cat, st, 14);
}

/* Parameter count from the shape: embeddings (+ learned positions), per layer attention
 * (q, o: h*h each; k, v: h*kv_dim each) with biases for gelu-style models, MLP (2 or 3 matrices
 * per expert) plus router, two norms per layer, final norm, untied LM head. */
void fl_model_derive(fl_model *m)
{
    double h = m->hidden, f = m->ffn, v = m->vocab;
    double head_dim = (double)m->hidden / m->heads;
    double kvd = head_dim * m->kv_heads;
    int gelu = m->activation == FL_ACT_GELU;
    double attn = 2 * h * h + 2 * h * kvd + (gelu ? (2 * h + 2 * kvd) : 0);
    double mlp_one = (gelu ? 2 * h * f + f + h : 3 * h * f);
    double router = m->experts > 1 ? h * m->experts : 0;
    double norms = gelu ? 4 * h : 2 * h;
    double layer = attn + mlp_one * m->experts + router + norms;
    double layer_active = attn + mlp_one * (m->experts > 1 ? m->top_k : 1) + router + norms;
    double emb = v * h + (m->rope ? 0 : (double)m->max_positions * h);
    double head = m->tied_embeddings ? 0 : v * h;
    double fin = gelu ? 2 * h : h;
    m->params = emb + m->layers * layer + fin + head;
    m->active_params = emb + m->layers * layer_active + fin + head;
}

static void row_zone(fl_catalog *cat, sqlite3_stmt *st, void *p)
{
    fl_zone *z = p;
    z->name = col_s(cat, st, 0);
    z->cloud = col_s(cat, st, 1);
    z->region = col_s(cat, st, 2);
    z->continent = col_s(cat, st, 3);
    z->source = col_s(cat, st, 4);
}

static void row_offering(fl_catalog *cat, sqlite3_stmt *st, void *p)
{
    fl_offering *o = p;
    o->cloud = col_s(cat, st, 0);
    o->region = col_s(cat, st, 1);
    o->zone = col_s(cat, st, 2);
    o->instance_type = col_s(cat, st, 3);
    o->gpu = col_s(cat, st, 4);
    o->gpus_per_instance = sqlite3_column_int(st, 5);
    o->vcpus = col_d(st, 6);
    o->memory_gib = col_d(st, 7);
    o->price_per_hour = col_d(st, 8);
    o->spot_price_per_hour = sqlite3_column_type(st, 9) == SQLITE_NULL ? -1.0 : col_d(st, 9);
    o->network_bw = col_d(st, 10);
    o->source = col_s(cat, st, 11);
    o->zone_index = -1;
    o->gpu_index = -1;
}

/* String member `key` of a stored row, interned in the catalog's pool (NULL when absent). */
static const char *row_str(fl_catalog *cat, json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    return json_is_string(v) ? pool_dup(&cat->strings, json_string_value(v)) : NULL;
}

/* Numeric member (first present of key / alt), 0 when absent. */
static double row_num(json_t *o, const char *key, const char *alt)
{
    json_t *v = json_object_get(o, key);
    if (!v && alt)
        v = json_object_get(o, alt);
    return json_is_number(v) ? json_number_value(v) : json_is_true(v) ? 1 : 0;
}

/* The schema-v2 members of a measured row, read from its stored JSON (written by the importer,
 * which validated them and filled inherited members in). */
static void measured_from_row(fl_catalog *cat, fl_measured *m)
{
    json_t *o = json_loads(m->json, 0, NULL);
    if (!json_is_object(o)) {
        json_decref(o);
        return;
    }
    m->framework = row_str(cat, o, "framework");
    m->engine = row_str(cat, o, "engine");
    m->attention = row_str(cat, o, "attention");
    m->optimizer = row_str(cat, o, "optimizer");
    m->impl = row_str(cat, o, "impl");
    m->activation = row_str(cat, o, "activation");
    m->positional = row_str(cat, o, "positional");
    m->layers = (int)row_num(o, "layers", NULL);
    m->vocab = (int)row_num(o, "vocab", NULL);
    m->kv_heads = (int)row_num(o, "kv_heads", NULL);
    m->positions = (int)row_num(o, "positions", NULL);
    m->grad_accum = (int)row_num(o, "grad_accum", NULL);
    m->tied_embeddings = row_num(o, "tied_embeddings", NULL) != 0;
    m->recompute = row_num(o, "recompute", NULL) != 0;
    m->gpus = (int)row_num(o, "gpus", NULL);
    m->peak_alloc_bytes = row_num(o, "peak_alloc_bytes", NULL);
    m->peak_reserved_bytes = row_num(o, "peak_reserved_bytes", NULL);
    m->params = row_num(o, "params", NULL);
    m->weight_bytes = row_num(o, "weight_bytes", NULL);
    m->kv_bytes = row_num(o, "kv_bytes", NULL);
    json_decref(o);
}

static void row_measured(fl_catalog *cat, sqlite3_stmt *st, void *p)
{
    fl_measured *m = p;
    m->gpu = col_s(cat, st, 0);
    m->kind = col_s(cat, st, 1);
    m->dtype = col_s(cat, st, 2);
    m->h = sqlite3_column_int(st, 3);
    m->a = sqlite3_column_int(st, 4);
    m->ffn = sqlite3_column_int(st, 5);
    m->s = sqlite3_column_int(st, 6);
    m->b = sqlite3_column_int(st, 7);
    m->m = sqlite3_column_int64(st, 8);
    m->n = sqlite3_column_int64(st, 9);
    m->k = sqlite3_column_int64(st, 10);
    m->fwd_s = col_d(st, 11);
    m->fwdbwd_s = col_d(st, 12);
    m->act_bytes = col_d(st, 13);
    m->seconds = col_d(st, 14);
    m->bytes = col_d(st, 15);
    m->source = col_s(cat, st, 16);
    m->gpu_index = -1;
    m->model = sqlite3_column_type(st, 17) == SQLITE_NULL ? NULL : col_s(cat, st, 17);
    m->tp = sqlite3_column_int(st, 18) > 0 ? sqlite3_column_int(st, 18) : 1;
    m->oom = sqlite3_column_int(st, 19) != 0;
    m->json = sqlite3_column_type(st, 20) == SQLITE_NULL ? NULL : col_s(cat, st, 20);
    if (m->json)
        measured_from_row(cat, m);
}

static void row_node(fl_catalog *cat, sqlite3_stmt *st, void *p)
{
    fl_node *n = p;
    n->name = col_s(cat, st, 0);
    n->zone = col_s(cat, st, 1);
    n->gpu = col_s(cat, st, 2);
    n->gpu_count = sqlite3_column_int(st, 3);
    n->memory_bytes = col_d(st, 4);
    n->nvlink = sqlite3_column_int(st, 5);
    n->source = col_s(cat, st, 6);
    n->gpu_index = -1;
    n->zone_index = -1;
    n->nic_bw = col_d(st, 7);
    n->nic_latency = sqlite3_column_type(st, 8) == SQLITE_NULL ? -1.0 : sqlite3_column_double(st, 8);
    n->link_type = sqlite3_column_type(st, 9) == SQLITE_NULL ? NULL : col_s(cat, st, 9);
    n->link_bw = col_d(st, 10);
    n->price_per_gpu_hour = col_d(st, 11);
}

static void free_arrays(fl_catalog *cat)
{
    free(cat->gpus); free(cat->models); free(cat->zones); free(cat->offerings);
    free(cat->measured); free(cat->nodes); free(cat->links); free(cat->gpu_node_gpus);
    pool_free(cat->strings);
    if (cat->derived && cat->derived_free)
        cat->derived_free(cat->derived);
    cat->derived = NULL;
    cat->gpus = NULL; cat->models = NULL; cat->zones = NULL; cat->offerings = NULL;
    cat->measured = NULL; cat->nodes = NULL; cat->links = NULL; cat->strings = NULL; cat->gpu_node_gpus = NULL;
    cat->n_gpus = cat->n_models = cat->n_zones = cat->n_offerings = cat->n_measured = cat->n_nodes = 0;
}

static int find_exact(const char *name, const void *arr, size_t n, size_t elem, size_t name_off)
{
    for (size_t i = 0; i < n; i++) {
        const char *s = *(const char *const *)((const char *)arr + i * elem + name_off);
        if (strcasecmp(s, name) == 0)
            return (int)i;
    }
    return -1;
}

/* Declared on-prem NICs (nodes.nic_bw_bytes_per_s): within a zone whose nodes declare one, node
 * to node transfers run at the slowest declared NIC with the largest declared latency (unless a
 * network override gives that zone's own pair); a transfer leaving or entering such a zone is
 * also capped by its NIC. */
static void apply_declared_nics(fl_catalog *cat, const char *pair_set)
{
    size_t nz = cat->n_zones;
    for (size_t z = 0; z < nz; z++) {
        double bw = 0, lat = -1;
        for (size_t i = 0; i < cat->n_nodes; i++) {
            const fl_node *n = &cat->nodes[i];
            if (n->zone_index != (int)z || n->nic_bw <= 0)
                continue;
            bw = bw <= 0 || n->nic_bw < bw ? n->nic_bw : bw;
            lat = n->nic_latency > lat ? n->nic_latency : lat;
        }
        if (bw <= 0)
            continue;
        fl_link *self = &cat->links[z * nz + z];
        if (!pair_set[z]) {
            self->bandwidth = bw;
            if (lat >= 0)
                self->latency = lat;
        }
        for (size_t y = 0; y < nz; y++) {
            if (y == z)
                continue;
            fl_link *ab = &cat->links[z * nz + y], *ba = &cat->links[y * nz + z];
            if (ab->bandwidth > bw)
                ab->bandwidth = ba->bandwidth = bw;
            if (lat > ab->latency)
                ab->latency = ba->latency = lat;
        }
    }
}

static fl_status load_network(fl_catalog *cat, fl_error *err)
{
    static const char *names[] = {"", "same_zone", "same_region", "same_continent", "intercontinental"};
    for (int c = 0; c < 5; c++) {
        cat->net_class[c].cls = (fl_net_class)c;
        cat->net_class[c].bandwidth = 0;
    }
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(cat->db, "SELECT class, bandwidth_bytes_per_s, latency_s, egress_per_gb FROM network",
                           -1, &st, NULL) != SQLITE_OK)
        return fl_fail(err, FL_ECATALOG, "catalog", "catalog %s: %s", cat->path, sqlite3_errmsg(cat->db));
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *cls = (const char *)sqlite3_column_text(st, 0);
        for (int c = 1; c < 5; c++)
            if (cls && strcmp(cls, names[c]) == 0) {
                cat->net_class[c].bandwidth = sqlite3_column_double(st, 1);
                cat->net_class[c].latency = sqlite3_column_double(st, 2);
                cat->net_class[c].egress_per_gb = sqlite3_column_double(st, 3);
            }
    }
    sqlite3_finalize(st);
    for (int c = 1; c < 5; c++)
        if (cat->net_class[c].bandwidth <= 0)
            return fl_fail(err, FL_ECATALOG, "network", "catalog %s: network class %s missing", cat->path, names[c]);
    size_t nz = cat->n_zones;
    cat->links = malloc((nz ? nz * nz : 1) * sizeof *cat->links);
    if (!cat->links)
        return fl_fail(err, FL_ENOMEM, "catalog", "out of memory");
    char *pair_set = calloc(nz + 1, 1); /* per zone: its same-zone figure comes from an override */
    if (!pair_set)
        return fl_fail(err, FL_ENOMEM, "catalog", "out of memory");
    for (size_t a = 0; a < nz; a++)
        for (size_t b = 0; b < nz; b++) {
            const fl_zone *za = &cat->zones[a], *zb = &cat->zones[b];
            fl_net_class c;
            if (a == b) c = FL_NET_SAME_ZONE;
            else if (strcmp(za->cloud, zb->cloud) == 0 && strcmp(za->region, zb->region) == 0) c = FL_NET_SAME_REGION;
            else if (strcmp(za->continent, zb->continent) == 0) c = FL_NET_SAME_CONTINENT;
            else c = FL_NET_INTERCONTINENTAL;
            cat->links[a * nz + b] = cat->net_class[c];
        }
    if (sqlite3_prepare_v2(cat->db, "SELECT zone_a, zone_b, bandwidth_bytes_per_s, latency_s, egress_per_gb"
                           " FROM network_overrides", -1, &st, NULL) != SQLITE_OK) {
        free(pair_set);
        return fl_fail(err, FL_ECATALOG, "catalog", "catalog %s: %s", cat->path, sqlite3_errmsg(cat->db));
    }
    while (sqlite3_step(st) == SQLITE_ROW) {
        int a = find_exact((const char *)sqlite3_column_text(st, 0), cat->zones, nz, sizeof(fl_zone), 0);
        int b = find_exact((const char *)sqlite3_column_text(st, 1), cat->zones, nz, sizeof(fl_zone), 0);
        if (a < 0 || b < 0)
            continue;
        fl_link l = cat->links[(size_t)a * nz + (size_t)b];
        l.bandwidth = sqlite3_column_double(st, 2);
        if (sqlite3_column_type(st, 3) != SQLITE_NULL) /* else keep the class latency */
            l.latency = sqlite3_column_double(st, 3);
        l.egress_per_gb = sqlite3_column_double(st, 4);
        cat->links[(size_t)a * nz + (size_t)b] = l;
        cat->links[(size_t)b * nz + (size_t)a] = l;
        if (a == b)
            pair_set[a] = 1;
    }
    sqlite3_finalize(st);
    apply_declared_nics(cat, pair_set);
    free(pair_set);
    return FL_OK;
}

fl_status fl_catalog_reload(fl_catalog *cat, fl_error *err)
{
    free_arrays(cat);
    fl_status rc;
    void *a = NULL;
    if ((rc = load_rows(cat, "SELECT name, vendor, architecture, memory_bytes, usable_memory_bytes,"
                        " hbm_bw_bytes_per_s, bf16_flops, fp16_flops, fp32_flops, fp8_flops, int8_ops, link_type,"
                        " link_bw_bytes_per_s, pcie_bw_bytes_per_s, tdp_w, aliases, source, sms, tf32_flops FROM gpus ORDER BY rowid",
                        sizeof(fl_gpu), &a, &cat->n_gpus, row_gpu, err)))
        return rc;
    cat->gpus = a;
    if ((rc = load_rows(cat, "SELECT name, layers, hidden, heads, kv_heads, ffn, vocab, activation, tied_embeddings,"
                        " positional, max_positions, experts, top_k, aliases, source FROM models ORDER BY rowid",
                        sizeof(fl_model), &a, &cat->n_models, row_model, err)))
        return rc;
    cat->models = a;
    for (size_t i = 0; i < cat->n_models; i++)
        fl_model_derive(&cat->models[i]);
    if ((rc = load_rows(cat, "SELECT zone, cloud, region, continent, source FROM zones ORDER BY zone",
                        sizeof(fl_zone), &a, &cat->n_zones, row_zone, err)))
        return rc;
    cat->zones = a;
    if ((rc = load_rows(cat, "SELECT cloud, region, zone, instance_type, gpu, gpus_per_instance, vcpus, memory_gib,"
                        " price_per_hour, spot_price_per_hour, network_bw_bytes_per_s, source FROM offerings"
                        " ORDER BY zone, gpu, gpus_per_instance, instance_type",
                        sizeof(fl_offering), &a, &cat->n_offerings, row_offering, err)))
        return rc;
    cat->offerings = a;
    if ((rc = load_rows(cat, "SELECT gpu, kind, dtype, h, a, ffn, s, b, m, n, k, fwd_s, fwdbwd_s, act_bytes,"
                        " seconds, bytes, source, model, tp, oom, row FROM measured ORDER BY id",
                        sizeof(fl_measured), &a, &cat->n_measured, row_measured, err)))
        return rc;
    cat->measured = a;
    if ((rc = load_rows(cat, fl_catalog_has_column(cat->db, "nodes", "price_per_gpu_hour") ?
                        "SELECT name, zone, gpu, gpu_count, memory_bytes, nvlink, source, nic_bw_bytes_per_s, nic_latency_s,"
                        " link_type, link_bw_bytes_per_s, price_per_gpu_hour FROM nodes ORDER BY name" :
                        "SELECT name, zone, gpu, gpu_count, memory_bytes, nvlink, source, nic_bw_bytes_per_s, nic_latency_s,"
                        " link_type, link_bw_bytes_per_s, NULL FROM nodes ORDER BY name",
                        sizeof(fl_node), &a, &cat->n_nodes, row_node, err)))
        return rc;
    cat->nodes = a;
    if (!cat->strings && (cat->n_gpus || cat->n_zones))
        return fl_fail(err, FL_ENOMEM, "catalog", "out of memory");
    /* resolve indexes (foreign keys guarantee existence; case may differ) */
    for (size_t i = 0; i < cat->n_offerings; i++) {
        fl_offering *o = &cat->offerings[i];
        o->gpu_index = find_exact(o->gpu, cat->gpus, cat->n_gpus, sizeof(fl_gpu), 0);
        o->zone_index = find_exact(o->zone, cat->zones, cat->n_zones, sizeof(fl_zone), 0);
        if (o->gpu_index < 0 || o->zone_index < 0)
            return fl_fail(err, FL_ECATALOG, "offerings", "catalog %s: offering %s in %s refers to unknown %s",
                           cat->path, o->instance_type, o->zone, o->gpu_index < 0 ? "GPU" : "zone");
    }
    for (size_t i = 0; i < cat->n_measured; i++)
        cat->measured[i].gpu_index = find_exact(cat->measured[i].gpu, cat->gpus, cat->n_gpus, sizeof(fl_gpu), 0);
    for (size_t i = 0; i < cat->n_nodes; i++) {
        cat->nodes[i].gpu_index = find_exact(cat->nodes[i].gpu, cat->gpus, cat->n_gpus, sizeof(fl_gpu), 0);
        cat->nodes[i].zone_index = find_exact(cat->nodes[i].zone, cat->zones, cat->n_zones, sizeof(fl_zone), 0);
    }
    cat->gpu_node_gpus = calloc(cat->n_gpus + 1, sizeof *cat->gpu_node_gpus);
    if (!cat->gpu_node_gpus)
        return fl_fail(err, FL_ENOMEM, "catalog", "out of memory");
    for (size_t i = 0; i < cat->n_offerings; i++) {
        const fl_offering *o = &cat->offerings[i];
        if (o->gpus_per_instance > cat->gpu_node_gpus[o->gpu_index])
            cat->gpu_node_gpus[o->gpu_index] = o->gpus_per_instance;
    }
    for (size_t i = 0; i < cat->n_nodes; i++) {
        const fl_node *n = &cat->nodes[i];
        if (n->gpu_index >= 0 && n->gpu_count > cat->gpu_node_gpus[n->gpu_index])
            cat->gpu_node_gpus[n->gpu_index] = n->gpu_count;
    }
    if (cat->n_gpus == 0 || cat->n_models == 0)
        return fl_fail(err, FL_ECATALOG, "catalog", "catalog %s has no GPUs or no models", cat->path);
    return load_network(cat, err);
}

fl_status fl_catalog_open(const char *path, fl_catalog **out, fl_error *err)
{
    if (!out)
        return fl_fail(err, FL_EMISUSE, "out", "fl_catalog_open: out is NULL");
    *out = NULL;
    if (path && !*path)
        return fl_fail(err, FL_EINVAL, "catalog", "catalog path is empty (pass NULL for the built-in catalog)");
    fl_catalog *cat = calloc(1, sizeof *cat);
    if (!cat)
        return fl_fail(err, FL_ENOMEM, "catalog", "out of memory");
    pthread_mutex_init(&cat->derived_mu, NULL);
    int exists = 0;
    if (path) {
        struct stat sb;
        exists = stat(path, &sb) == 0;
        if (exists && !S_ISREG(sb.st_mode)) {
            pthread_mutex_destroy(&cat->derived_mu);
            free(cat);
            return fl_fail(err, FL_EIO, "catalog", "catalog %s is not a regular file", path);
        }
    }
    cat->path = strdup(path ? path : ":memory:");
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
    fl_status rc = FL_OK;
    if (!cat->path) {
        pthread_mutex_destroy(&cat->derived_mu);
        free(cat);
        return fl_fail(err, FL_ENOMEM, "catalog", "out of memory");
    }
    if (sqlite3_open_v2(cat->path, &cat->db, flags, NULL) != SQLITE_OK) {
        rc = fl_fail(err, FL_EIO, "catalog", "cannot open catalog %s: %s", cat->path,
                     cat->db ? sqlite3_errmsg(cat->db) : "out of memory");
        goto fail;
    }
    sqlite3_busy_timeout(cat->db, 2000);
    if ((rc = fl_catalog_exec(cat, "PRAGMA foreign_keys=ON", err)))
        goto fail;
    if (!exists) {
        if ((rc = seed_builtin(cat, err)))
            goto fail;
    } else {
        sqlite3_stmt *st;
        int ver = -1;
        char why[160] = "";
        int busy = 0; /* locked by another process: "busy, try again", never "corrupt" */
        if (sqlite3_prepare_v2(cat->db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK) {
            int sr = sqlite3_step(st);
            if (sr == SQLITE_ROW)
                ver = sqlite3_column_int(st, 0);
            else
                snprintf(why, sizeof why, "%s", sqlite3_errmsg(cat->db));
            busy = sr == SQLITE_BUSY || sr == SQLITE_LOCKED;
            sqlite3_finalize(st);
        } else {
            snprintf(why, sizeof why, "%s", sqlite3_errmsg(cat->db));
            busy = (sqlite3_errcode(cat->db) & 0xff) == SQLITE_BUSY;
        }
        if (busy) {
            rc = fl_fail(err, FL_EBUSY, "catalog", "catalog %s is busy (another process is writing it); try again", path);
            goto fail;
        }
        if (ver == 0) {
            int tables = 0;
            if (sqlite3_prepare_v2(cat->db, "SELECT count(*) FROM sqlite_master", -1, &st, NULL) == SQLITE_OK) {
                if (sqlite3_step(st) == SQLITE_ROW)
                    tables = sqlite3_column_int(st, 0);
                sqlite3_finalize(st);
            }
            if (tables == 0)
                rc = fl_fail(err, FL_ECATALOG, "catalog", "%s is not a flotilla catalog: an empty or truncated file "
                             "(give a path that does not exist to create a catalog)", path);
            else
                rc = fl_fail(err, FL_ECATALOG, "catalog", "%s is not a flotilla catalog: an SQLite database of "
                             "something else (%d schema objects, no flotilla schema version)", path, tables);
            goto fail;
        }
        if (ver < 0) {
            rc = fl_fail(err, FL_ECATALOG, "catalog", "%s is not a flotilla catalog (corrupt or not SQLite: %s)", path,
                         why[0] ? why : "unreadable");
            goto fail;
        }
        if (ver > FL_CATALOG_SCHEMA_VERSION) {
            rc = fl_fail(err, FL_ECATALOG, "catalog", "catalog %s has schema version %d; this flotilla reads up to %d",
                         path, ver, FL_CATALOG_SCHEMA_VERSION);
            goto fail;
        }
        if (ver == 1 && (rc = fl_catalog_exec(cat, migrate_v1_sql, err))) {
            sqlite3_exec(cat->db, "ROLLBACK", NULL, NULL, NULL);
            goto fail;
        }
        if ((rc = ensure_gpu_columns(cat, ver == 1, err)))
            goto fail;
    }
    if ((rc = fl_catalog_reload(cat, err)))
        goto fail;
    *out = cat;
    return FL_OK;
fail:
    fl_catalog_free(cat);
    if (path && !exists)
        remove(path); /* a catalog file this call created but could not fill */
    return rc;
}

void fl_catalog_free(fl_catalog *cat)
{
    if (!cat)
        return;
    free_arrays(cat);
    if (cat->db)
        sqlite3_close(cat->db);
    free(cat->path);
    pthread_mutex_destroy(&cat->derived_mu);
    free(cat);
}

const char *fl_catalog_path(const fl_catalog *cat) { return cat ? cat->path : NULL; }
int fl_catalog_schema_version(const fl_catalog *cat) { return cat ? FL_CATALOG_SCHEMA_VERSION : 0; }

#define ACCESSORS(kind, type, arr, n)                                              \
    size_t fl_catalog_##kind##_count(const fl_catalog *cat) { return cat ? cat->n : 0; } \
    const type *fl_catalog_##kind(const fl_catalog *cat, size_t i)                 \
    {                                                                              \
        return cat && i < cat->n ? &cat->arr[i] : NULL;                            \
    }
ACCESSORS(gpu, fl_gpu, gpus, n_gpus)
ACCESSORS(model, fl_model, models, n_models)
ACCESSORS(zone, fl_zone, zones, n_zones)
ACCESSORS(offering, fl_offering, offerings, n_offerings)
ACCESSORS(measured, fl_measured, measured, n_measured)
ACCESSORS(node, fl_node, nodes, n_nodes)

fl_link fl_catalog_link(const fl_catalog *cat, int zone_a, int zone_b)
{
    if (!cat || zone_a < 0 || zone_b < 0 || (size_t)zone_a >= cat->n_zones || (size_t)zone_b >= cat->n_zones)
        return cat ? cat->net_class[FL_NET_INTERCONTINENTAL] : (fl_link){FL_NET_INTERCONTINENTAL, 1e8, 0.1, 0.05};
    return cat->links[(size_t)zone_a * cat->n_zones + (size_t)zone_b];
}

fl_gpu_link fl_catalog_gpu_link(const fl_catalog *cat, int zone, int gpu)
{
    fl_gpu_link l = {"PCIe", 1e10, 0};
    if (!cat || gpu < 0 || (size_t)gpu >= cat->n_gpus)
        return l;
    const fl_gpu *g = &cat->gpus[gpu];
    l.type = g->link_type;
    l.bandwidth = g->link_bw;
    if (zone < 0)
        return l;
    for (size_t i = 0; i < cat->n_nodes; i++) {
        const fl_node *n = &cat->nodes[i];
        if (n->zone_index != zone || n->gpu_index != gpu || !n->link_type || n->link_bw <= 0)
            continue;
        if (!l.declared || n->link_bw < l.bandwidth) {
            l.type = n->link_type;
            l.bandwidth = n->link_bw;
            l.declared = 1;
        }
    }
    return l;
}
