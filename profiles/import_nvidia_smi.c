/* profiles/import_nvidia_smi.c — PLACEHOLDER until the importer lands. */
#include "profiles/catalog.h"
#include "common/error.h"
fl_status fl_catalog_import_nvidia_smi(fl_catalog *cat, const char *xml_path, const char *zone,
                                       const char *node_name, fl_error *err)
{
    (void)cat; (void)xml_path; (void)zone; (void)node_name;
    return fl_fail(err, FL_EINVAL, "nvidia-smi", "not available yet");
}
