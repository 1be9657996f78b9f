/* tests/fuzz/fuzz_job.c — job JSON (training and serving): parse + validate; a parsed job
 * re-serialises and parses back to the same JSON. */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fl_catalog *cat = fuzz_catalog();
    char *text = fuzz_text(data, size);
    fl_job *job = NULL;
    fl_error err;
    fl_error_clear(&err);
    fl_status rc = fl_job_from_json(cat, text, &job, &err);
    fuzz_check(rc, &err, "fl_job_from_json");
    FUZZ_ASSERT((rc == FL_OK) == (job != NULL), "job handle %p with status %d", (void *)job, rc);
    if (job) {
        char *js = fl_job_to_json(job);
        FUZZ_ASSERT(js, "fl_job_to_json returned NULL");
        fl_job *again = NULL;
        fl_error_clear(&err);
        rc = fl_job_from_json(cat, js, &again, &err);
        FUZZ_ASSERT(rc == FL_OK, "a job's own JSON does not parse back: %s\n%s", err.message, js);
        char *js2 = fl_job_to_json(again);
        FUZZ_ASSERT(js2 && strcmp(js, js2) == 0, "job JSON is not a fixed point:\n%s\n%s", js, js2);
        FUZZ_ASSERT(fl_job_get_kind(again) == fl_job_get_kind(job), "kind changed on the round trip");
        fl_free(js);
        fl_free(js2);
        fl_job_free(again);
        fl_job_free(job);
    }
    free(text);
    return 0;
}
