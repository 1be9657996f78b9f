/* simulator/serve_eval.h — glue between jobs/plan documents and the serving simulator: the
 * workload of one served model, and the "simulation" object of a serving plan. Used by the
 * serving planner to verify the plans it emits. */
#ifndef FL_SIMULATOR_SERVE_EVAL_H
#define FL_SIMULATOR_SERVE_EVAL_H

#include "simulator/serve_sim.h"
#include <jansson.h>

/* Workload of served model m: Poisson from rate/classes, or the trace (loaded, classified; its
 * classes and rate are filled in when the job gives none). *trace_out (owned) may be NULL. */
fl_status fl_serve_workload_from_job(const fl_job *job, int m, fl_serve_workload *wl, fl_serve_request **trace_out,
                                     fl_error *err);
/* Number of Poisson requests simulated to check a plan at `rate` requests/s. */
size_t fl_serve_default_requests(double rate);

/* Simulate served model m of the job on groups; *meets is 1 when the p90 TTFT/TPOT SLOs hold and
 * every request completed. */
fl_status fl_serve_eval(const fl_job *job, int m, const fl_serve_workload *wl, const fl_serve_group *groups,
                        int n_groups, fl_serve_stats *st, int *meets, fl_error *err);

/* Stats as the plan's "simulation" object fields (cost, meets_slo added by the caller). */
json_t *fl_serve_stats_json(const fl_serve_stats *st);

#endif
