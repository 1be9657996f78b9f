/* profiles/catalog.h — internal layout of fl_catalog: the SQLite store plus in-memory arrays
 * loaded from it (the planner and simulator read the arrays, never SQL, on their hot paths). */
#ifndef FL_PROFILES_CATALOG_H
#define FL_PROFILES_CATALOG_H

#include "flotilla/fl_catalog.h"
#include <pthread.h>
#include <sqlite3.h>

#define FL_CATALOG_SCHEMA_VERSION 2

typedef struct fl_strpool fl_strpool;

struct fl_catalog {
    sqlite3 *db;
    char *path;                 /* ":memory:" for the built-in copy */
    fl_strpool *strings;        /* owns every string of the arrays below */
    fl_gpu *gpus; size_t n_gpus;
    fl_model *models; size_t n_models;
    fl_zone *zones; size_t n_zones;
    fl_offering *offerings; size_t n_offerings;
    fl_measured *measured; size_t n_measured;
    fl_node *nodes; size_t n_nodes;
    fl_link net_class[5];       /* by fl_net_class; SAME_NODE unused (per-GPU link) */
    fl_link *links;             /* n_zones * n_zones, class figures with overrides applied */
    int *gpu_node_gpus;         /* per GPU type: most GPUs in one instance or on-prem node (0: none) */
    /* Figures a higher layer derives from the measured rows (the training simulator's calibration,
     * simulator/train_calib.c), computed once on first use under derived_mu and dropped whenever
     * the arrays are re-read. The catalog only owns the pointer and calls derived_free on it. */
    pthread_mutex_t derived_mu;
    void *derived;
    void (*derived_free)(void *);
};

/* Run `sql` statements inside one transaction; roll back on failure. */
fl_status fl_catalog_exec(fl_catalog *cat, const char *sql, fl_error *err);
/* End an import transaction: COMMIT and re-read the arrays when rc is FL_OK, ROLLBACK (the
 * catalog unchanged) otherwise. Returns the final status. */
fl_status fl_catalog_end_import(fl_catalog *cat, fl_status rc, fl_error *err);
/* Re-read every table into the arrays (after an import). */
fl_status fl_catalog_reload(fl_catalog *cat, fl_error *err);
/* Insert the rows of a CSV text (header = column names of `table`) with the prepared-statement
 * path used by the built-in loader; `what` names the file in errors. Runs inside the caller's
 * transaction. */
fl_status fl_catalog_insert_csv(sqlite3 *db, const char *table, const char *what,
                                const char *text, size_t len, fl_error *err);

/* Step through a ';'-separated alias list: points start and len at the next alias with its spaces
 * trimmed and returns the position after it, or NULL at the end (profiles/lookup.c). */
const char *fl_next_alias(const char *p, const char **start, size_t *len);

/* Whether table `table` of db has column `col` (catalogs of an earlier layout may lack some). */
int fl_catalog_has_column(sqlite3 *db, const char *table, const char *col);

/* Derive params and active_params of a model from its shape. */
void fl_model_derive(fl_model *m);

/* Built-in CSV texts (generated at build time from data/). */
typedef struct fl_builtin_file { const char *name; const char *text; size_t len; } fl_builtin_file;
extern const fl_builtin_file fl_builtin_files[];
extern const size_t fl_builtin_file_count;

#endif
