/* simulator/serve_plan.c — PLACEHOLDER until the serveing simulator lands (issue 5). */
#include "common/plan.h"
#include "common/error.h"

fl_status fl_serve_plan_check(const fl_catalog *cat, json_t *doc, fl_error *err)
{
    (void)cat; (void)doc;
    return fl_fail(err, FL_EINVAL, "plan", "serveing simulation is not available yet");
}
fl_status fl_serve_plan_simulate(const fl_catalog *cat, json_t *doc, fl_error *err)
{
    (void)cat; (void)doc;
    return fl_fail(err, FL_EINVAL, "plan", "serveing simulation is not available yet");
}
fl_status fl_estimate_serve(const fl_catalog *cat, const fl_estimate_query *q, fl_estimate_result *out, fl_error *err)
{
    (void)cat; (void)q; (void)out;
    return fl_fail(err, FL_EINVAL, "phase", "serveing estimates are not available yet");
}
