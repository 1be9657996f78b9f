/* whatif/replan.h — migration-aware replanning, called by the plan API (planner/plan_api.c)
 * when a running placement is given, and by the what-if replay. */
#ifndef FL_MATCHING_REPLAN_H
#define FL_MATCHING_REPLAN_H

#include "matching/place_internal.h"

/* 1 when the GPUs a plan document rents fit the availability (unlimited: always). */
int fl_doc_fits_availability(const fl_catalog *cat, json_t *doc, const fl_availability *av);

/* Place *new_doc_inout against current_doc (a placed plan; simulated here when it has no
 * "simulation"), estimate the migration and decide keep/move for the job's objective over
 * horizon_hours (<= 0: the job's horizon). *new_doc_inout is replaced by the document to run (the
 * new one, placed, or a copy of the current one) carrying a "replan" object:
 * {"decision","gain_tokens"|"gain_requests","gain_dollars","migration_s","migration_cost",
 *  "shards_moved","bytes_moved","horizon_hours","reason"}. decision/mig_out may be NULL. */
fl_status fl_replan_decide(const fl_catalog *cat, const fl_job *job, const fl_availability *av, json_t *current_doc,
                           json_t **new_doc_inout, double horizon_hours, const fl_place_options *opts,
                           fl_move_decision *decision, fl_migration *mig_out, fl_error *err);

/* Entry point of the plan API hook: parse the running plan (current_json, a placed plan
 * document), then fl_replan_decide with opts->horizon_hours. On error *doc is left untouched. */
fl_status fl_replan_apply(const fl_catalog *cat, const fl_job *job, const fl_availability *av,
                          const fl_plan_options *opts, json_t **doc, fl_error *err);

#endif
