/* tests/fuzz/fuzz_offerings.c — offerings CSV import (SkyPilot layout), cloud inferred. */
#include "fuzz_import.h"

static fl_status imp(fl_catalog *cat, const char *path, fl_error *err)
{
    return fl_catalog_import_offerings(cat, path, NULL, NULL, err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_import_run(data, size, imp, "fl_catalog_import_offerings", NULL);
}
