/* tests/fuzz/fuzz_nvsmi.c — nvidia-smi -q -x XML import. */
#include "fuzz_import.h"

static fl_status imp(fl_catalog *cat, const char *path, fl_error *err)
{
    return fl_catalog_import_nvidia_smi(cat, path, NULL, NULL, err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_import_run(data, size, imp, "fl_catalog_import_nvidia_smi", "nodes");
}
