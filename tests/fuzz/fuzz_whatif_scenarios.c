/* tests/fuzz/fuzz_whatif_scenarios.c — what-if scenarios JSON (base availability, scale,
 * remove_zones, explicit availability), planned for a small training job. */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static fl_job *job;
    fl_catalog *cat = fuzz_catalog();
    if (!job) {
        char *j = fuzz_fixture("whatif/job_small.json");
        if (fl_job_from_json(cat, j, &job, NULL) != FL_OK)
            abort();
        free(j);
    }
    char *text = fuzz_text(data, size);
    fl_whatif_options o;
    fl_whatif_options_init(&o);
    o.threads = 1;
    o.time_limit_s = 1;
    fl_whatif_report *r = NULL;
    fl_error err;
    fl_error_clear(&err);
    fl_status rc = fl_whatif_scenarios(cat, job, text, &o, &r, &err);
    fuzz_check(rc, &err, "fl_whatif_scenarios");
    FUZZ_ASSERT((rc == FL_OK) == (r != NULL), "report %p with status %d", (void *)r, rc);
    if (r) {
        char *js = fl_whatif_report_to_json(r, 0);
        FUZZ_ASSERT(js, "report JSON");
        fl_free(js);
        fl_whatif_report_free(r);
    }
    free(text);
    return 0;
}
