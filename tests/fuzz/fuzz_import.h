/* tests/fuzz/fuzz_import.h — one harness body for the three catalog importers: the input is a
 * file; a failed import leaves the catalog's tables byte for byte as they were, a successful one
 * is undone by reopening the built-in catalog (so runs stay independent). */
#ifndef FL_FUZZ_IMPORT_H
#define FL_FUZZ_IMPORT_H
#include "fuzz_common.h"

typedef fl_status (*fuzz_importer)(fl_catalog *cat, const char *path, fl_error *err);

static fl_catalog *imp_cat;
static char *imp_before[4];
static const char *const imp_tables[4] = {"offerings", "zones", "nodes", "measured"};

static inline void fuzz_import_open(void)
{
    fl_catalog_free(imp_cat);
    imp_cat = NULL;
    if (fl_catalog_open(NULL, &imp_cat, NULL) != FL_OK)
        abort();
    for (int i = 0; i < 4; i++) {
        free(imp_before[i]);
        imp_before[i] = fuzz_table(imp_cat, imp_tables[i]);
    }
}

/* After a failed import: `table` (small, the importer's own) always, every table on every 16th
 * failure (exporting the 1,200 built-in offerings each time would cut the speed tenfold). */
static inline int fuzz_import_run(const uint8_t *data, size_t size, fuzz_importer imp, const char *call,
                                  const char *table)
{
    static unsigned failures;
    if (!imp_cat)
        fuzz_import_open();
    char path[64];
    int fd;
    fuzz_file(data, size, path, sizeof path, &fd);
    fl_error err;
    fl_error_clear(&err);
    fl_status rc = imp(imp_cat, path, &err);
    close(fd);
    fuzz_check(rc, &err, call);
    if (rc == FL_OK) {
        fuzz_import_open();
        return 0;
    }
    int all = failures++ % 16 == 0;
    for (int i = 0; i < 4; i++) {
        if (!all && !(table && strcmp(table, imp_tables[i]) == 0))
            continue;
        char *now = fuzz_table(imp_cat, imp_tables[i]);
        FUZZ_ASSERT(strcmp(now, imp_before[i]) == 0, "%s failed (%s) but changed table %s", call, err.message,
                    imp_tables[i]);
        free(now);
    }
    return 0;
}
#endif
