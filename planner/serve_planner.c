/* planner/serve_planner.c — PLACEHOLDER until the serveing planner lands (issue 5). */
#include "common/plan.h"
#include "common/error.h"

fl_status fl_serve_plan_job(const fl_catalog *cat, const fl_job *job, const fl_availability *av,
                            const fl_plan_options *opts, json_t **doc_out, json_t ***alts_out,
                            size_t *n_alts_out, fl_error *err)
{
    (void)cat; (void)job; (void)av; (void)opts; (void)doc_out; (void)alts_out; (void)n_alts_out;
    return fl_fail(err, FL_EINVAL, "job", "serveing planning is not available yet");
}
