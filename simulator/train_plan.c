/* simulator/train_plan.c — PLACEHOLDER until the training simulator lands (issue 3). */
#include "common/plan.h"
#include "common/error.h"

fl_status fl_train_plan_check(const fl_catalog *cat, json_t *doc, fl_error *err)
{
    (void)cat; (void)doc;
    return fl_fail(err, FL_EINVAL, "plan", "training simulation is not available yet");
}
fl_status fl_train_plan_simulate(const fl_catalog *cat, json_t *doc, fl_error *err)
{
    (void)cat; (void)doc;
    return fl_fail(err, FL_EINVAL, "plan", "training simulation is not available yet");
}
fl_status fl_estimate_train(const fl_catalog *cat, const fl_estimate_query *q, fl_estimate_result *out, fl_error *err)
{
    (void)cat; (void)q; (void)out;
    return fl_fail(err, FL_EINVAL, "phase", "training estimates are not available yet");
}
