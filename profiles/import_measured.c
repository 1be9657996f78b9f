/* profiles/import_measured.c — PLACEHOLDER until the importer lands. */
#include "profiles/catalog.h"
#include "common/error.h"
fl_status fl_catalog_import_measured(fl_catalog *cat, const char *jsonl_path, size_t *rows_out, fl_error *err)
{
    (void)cat; (void)jsonl_path; (void)rows_out;
    return fl_fail(err, FL_EINVAL, "measured", "not available yet");
}
