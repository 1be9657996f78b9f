/* tests/fuzz/fuzz_whatif_trace.c — what-if availability trace CSV: parse (rows sorted by time,
 * events grouping equal times, every index inside the catalog); a short trace is replayed. */
#include "fuzz_common.h"
#include "whatif/whatif_internal.h"

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
    fl_trace t;
    fl_error err;
    fl_error_clear(&err);
    fl_status rc = fl_trace_parse(cat, text, &t, &err);
    fuzz_check(rc, &err, "fl_trace_parse");
    if (rc == FL_OK) {
        FUZZ_ASSERT(t.n > 0 && t.n_events > 0 && t.event_start[t.n_events] == t.n, "empty parse result");
        for (size_t i = 0; i < t.n; i++) {
            FUZZ_ASSERT(t.rows[i].zone >= 0 && (size_t)t.rows[i].zone < fl_catalog_zone_count(cat), "zone index");
            FUZZ_ASSERT(t.rows[i].gpu >= 0 && (size_t)t.rows[i].gpu < fl_catalog_gpu_count(cat), "gpu index");
            FUZZ_ASSERT(i == 0 || t.rows[i].time >= t.rows[i - 1].time, "rows out of order");
        }
        size_t events = t.n_events;
        fl_trace_free(&t);
        if (events <= 2) { /* replaying plans the job at each event: only short traces */
            fl_whatif_options o;
            fl_whatif_options_init(&o);
            o.threads = 1;
            o.time_limit_s = 1;
            fl_whatif_report *r = NULL;
            fl_error_clear(&err);
            rc = fl_whatif_replay(cat, job, NULL, text, &o, &r, &err);
            fuzz_check(rc, &err, "fl_whatif_replay");
            if (r) {
                char *js = fl_whatif_report_to_json(r, 0);
                FUZZ_ASSERT(js, "report JSON");
                fl_free(js);
                fl_whatif_report_free(r);
            }
        }
    }
    free(text);
    return 0;
}
