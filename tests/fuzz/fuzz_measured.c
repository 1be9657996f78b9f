/* tests/fuzz/fuzz_measured.c — measured rows JSONL import (v2 format). */
#include "fuzz_import.h"

static fl_status imp(fl_catalog *cat, const char *path, fl_error *err)
{
    return fl_catalog_import_measured(cat, path, NULL, err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_import_run(data, size, imp, "fl_catalog_import_measured", "measured");
}
