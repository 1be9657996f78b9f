/* whatif/plan_current.c — the public fl_plan_job: plan with the planner (planner/plan_api.c),
 * then, when the options carry a running placement, decide keep/move against it
 * (whatif/replan.c). Lives in the top layer so planner/ never calls matching/. */
#include "planner/plan_api.h"
#include "whatif/replan.h"

fl_status fl_plan_job(const fl_catalog *cat, const fl_job *job, const fl_availability *av,
                      const fl_plan_options *opts, fl_plan **out, fl_error *err)
{
    fl_status rc = fl_plan_job_fresh(cat, job, av, opts, out, err);
    if (rc || !opts || !opts->current_placement_json)
        return rc;
    /* migration-aware replanning; on error the plan is dropped (as before the split) */
    rc = fl_replan_apply(cat, job, av, opts, &(*out)->doc, err);
    if (rc) {
        fl_plan_free(*out);
        *out = NULL;
    }
    return rc;
}
