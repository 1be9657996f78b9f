/* tests/fuzz/fuzz_serve_trace.c — serving workload trace (TIMESTAMP,input,output CSV): parse,
 * classify, and load through a serving job that names the trace file. */
#include "fuzz_common.h"
#include "simulator/serve_sim.h"

#include <math.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fl_catalog *cat = fuzz_catalog();
    char *text = fuzz_text(data, size);
    fl_serve_request *reqs = NULL;
    size_t n = 0;
    fl_error err;
    fl_error_clear(&err);
    fl_status rc = fl_serve_trace_parse(text, "trace", &reqs, &n, &err);
    fuzz_check(rc, &err, "fl_serve_trace_parse");
    if (rc == FL_OK && n) {
        for (size_t i = 0; i < n; i++)
            FUZZ_ASSERT(isfinite(reqs[i].arrival) && reqs[i].input >= 0 && reqs[i].output >= 0, "request %zu", i);
        int n_classes = 0;
        fl_request_class classes[FL_MAX_CLASSES];
        double rate = 0;
        fl_serve_trace_classify(reqs, n, &n_classes, classes, &rate);
        FUZZ_ASSERT(n_classes >= 1 && n_classes <= FL_MAX_CLASSES && isfinite(rate) && rate > 0, "classes %d rate %g",
                    n_classes, rate);
    }
    free(reqs);
    /* the same bytes as a trace file named by a serving job */
    char path[64], job_json[256];
    int fd;
    fuzz_file(data, size, path, sizeof path, &fd);
    snprintf(job_json, sizeof job_json,
             "{\"kind\":\"serving\",\"model\":\"llama3-8b\",\"workload\":{\"trace\":\"%s\"}}", path);
    fl_job *job = NULL;
    fl_error_clear(&err);
    rc = fl_job_from_json(cat, job_json, &job, &err);
    fuzz_check(rc, &err, "fl_job_from_json (serving trace)");
    fl_job_free(job);
    close(fd);
    free(text);
    return 0;
}
