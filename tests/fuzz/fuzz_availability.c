/* tests/fuzz/fuzz_availability.c — availability JSON: parse; to_json → from_json gives the same
 * counts, the same owned capacity (price and node size) and the same JSON. */
#include "fuzz_common.h"
#include "common/job.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fl_catalog *cat = fuzz_catalog();
    char *text = fuzz_text(data, size);
    fl_availability *av = NULL, *back = NULL;
    fl_error err;
    fl_error_clear(&err);
    fl_status rc = fl_availability_from_json(cat, text, &av, &err);
    fuzz_check(rc, &err, "fl_availability_from_json");
    if (av) {
        char *js = fl_availability_to_json(av);
        FUZZ_ASSERT(js, "fl_availability_to_json returned NULL");
        fl_error_clear(&err);
        rc = fl_availability_from_json(cat, js, &back, &err);
        FUZZ_ASSERT(rc == FL_OK, "availability's own JSON does not parse back: %s\n%s", err.message, js);
        for (int z = 0; z < (int)fl_catalog_zone_count(cat); z++)
            for (int g = 0; g < (int)fl_catalog_gpu_count(cat); g++)
                FUZZ_ASSERT(fl_availability_get(av, z, g) == fl_availability_get(back, z, g) ||
                                (fl_availability_get(av, z, g) <= 0 && fl_availability_get(back, z, g) <= 0),
                            "count of zone %d gpu %d changed on the round trip", z, g);
        for (int z = 0; z < (int)fl_catalog_zone_count(cat); z++)
            for (int g = 0; g < (int)fl_catalog_gpu_count(cat); g++) {
                double p1 = -1, p2 = -1;
                int n1 = 0, n2 = 0;
                if (fl_availability_get(av, z, g) <= 0)
                    continue; /* an owned cell with no GPUs is written as a plain 0 */
                int o1 = fl_availability_owned(av, z, g, &p1, &n1), o2 = fl_availability_owned(back, z, g, &p2, &n2);
                FUZZ_ASSERT(o1 == o2 && p1 == p2 && n1 == n2,
                            "owned capacity of zone %d gpu %d changed on the round trip", z, g);
            }
        char *js2 = fl_availability_to_json(back);
        FUZZ_ASSERT(js2 && strcmp(js, js2) == 0, "availability JSON is not a fixed point");
        fl_free(js);
        fl_free(js2);
        fl_availability_free(back);
        fl_availability_free(av);
    }
    free(text);
    return 0;
}
