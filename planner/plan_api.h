/* planner/plan_api.h — the planner's part of the plan API, called by the top layer. */
#ifndef FL_PLANNER_PLAN_API_H
#define FL_PLANNER_PLAN_API_H

#include "common/plan.h"

/* fl_plan_job without the running-placement step (opts->current_placement_json is ignored):
 * same checks, errors and output as fl_plan_job otherwise. */
fl_status fl_plan_job_fresh(const fl_catalog *cat, const fl_job *job, const fl_availability *av,
                            const fl_plan_options *opts, fl_plan **out, fl_error *err);

#endif
