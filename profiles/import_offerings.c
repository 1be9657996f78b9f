/* profiles/import_offerings.c — PLACEHOLDER until the importer lands. */
#include "profiles/catalog.h"
#include "common/error.h"
fl_status fl_catalog_import_offerings(fl_catalog *cat, const char *csv_path, const char *cloud,
                                      size_t *rows_out, fl_error *err)
{
    (void)cat; (void)csv_path; (void)cloud; (void)rows_out;
    return fl_fail(err, FL_EINVAL, "offerings", "not available yet");
}
