/* flotilla — what-if replay of GPU availability changes.
 *
 * A trace is CSV text with the header `time_s,zone,gpu,count`; each row sets the available count
 * of a GPU type in a zone from that time on (rows sorted by time; rows with the same time form one
 * event). At every event that changes something the job may use, the job is re-planned under the
 * new availability (plans are cached by availability signature), the new plan is placed against
 * the running placement with migration minimisation, and three policies are compared:
 *   "migration_aware": move only when the gain over the horizon pays for the migration
 *                      (the same rule as `flotilla plan --current`);
 *   "keep_first":      keep the first plan while it fits the availability, replan when forced;
 *   "replan_always":   always switch to the best plan for the new availability.
 * During a migration the job makes no progress but its GPUs are paid.
 *
 * Scenarios: {"base": AVAIL (optional), "scenarios": [{"name": "...",
 *    "availability": AVAIL | "scale": {"gpu": "A100-SXM-40GB", "factor": 0.5}
 *    | "remove_zones": ["aws:use1-az1"]}]} → the best plan's throughput and cost per scenario.
 */
#ifndef FLOTILLA_FL_WHATIF_H
#define FLOTILLA_FL_WHATIF_H

#include "fl_plan.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Layout version of fl_whatif_options (docs/api.md): fields are only appended, the version bumps when
 * they are, and the library keeps reading every older version. */
#define FL_WHATIF_OPTIONS_VERSION 1u
/* Static initialiser carrying the version: `fl_whatif_options o = FL_WHATIF_OPTIONS_INIT;` then the
 * defaults are those of fl_whatif_options_init (fields left 0 mean "default" where documented). */
#define FL_WHATIF_OPTIONS_INIT {.version = FL_WHATIF_OPTIONS_VERSION, .restart_s = 120.0}
typedef struct fl_whatif_options {
    unsigned int version;  /* FL_WHATIF_OPTIONS_VERSION (set by the init function/macro) */
    double horizon_hours;  /* gain horizon of the move decision; 0: the job's (default 24 h) */
    double restart_s;      /* fixed stop + restart time of a migration (default 120 s) */
    double end_s;          /* end of the replay; 0: last event + the mean gap between events */
    double time_limit_s;   /* planner time limit per event; 0: planner default */
    /* Optional progress callback (called from the replaying thread), may be NULL. */
    void (*progress)(void *user, size_t done, size_t total);
    void *progress_user;
    /* Planner threads of a replay: 0 (default) one per online CPU, 1 plan on the calling thread
     * only. With more than one, every plan the trace will need is computed in parallel before
     * the replay walks it (same results, see README "What-if"). */
    int threads;
} fl_whatif_options;
FL_API void fl_whatif_options_init(fl_whatif_options *opts);

/* Result of a replay or a scenario sweep (opaque). */
typedef struct fl_whatif_report fl_whatif_report;

/* Replay a trace from base_av (NULL: the catalog's offerings without limits; the first trace row
 * then switches to "only what is listed"). Errors name the trace line ("trace line 7: count
 * must be >= 0"). FL_EINFEASIBLE only when the job cannot be planned at any event. */
FL_API fl_status fl_whatif_replay(const fl_catalog *cat, const fl_job *job, const fl_availability *base_av,
                                 const char *trace_csv, const fl_whatif_options *opts,
                                 fl_whatif_report **out, fl_error *err);
/* Plan the job under each scenario. Scenarios that cannot be planned are reported as infeasible
 * with the reason, not as an error. */
FL_API fl_status fl_whatif_scenarios(const fl_catalog *cat, const fl_job *job, const char *scenarios_json,
                                    const fl_whatif_options *opts, fl_whatif_report **out, fl_error *err);

/* Totals of one policy of a replay (policy: "migration_aware", "keep_first", "replan_always"). */
typedef struct fl_whatif_totals {
    double work;        /* tokens trained (training) or requests served (serving) */
    double dollars;
    int migrations;
    double migration_s, migration_cost;
} fl_whatif_totals;
FL_API fl_status fl_whatif_report_totals(const fl_whatif_report *r, const char *policy, fl_whatif_totals *out,
                                        fl_error *err);

/* The report as JSON (replay: {"kind":"replay","events","planner_calls","timeline":[...],
 * "totals":{policy:{...}}}; scenarios: {"kind":"scenarios","scenarios":[...]}). */
FL_API char *fl_whatif_report_to_json(const fl_whatif_report *r, int pretty);
/* Replay timeline as CSV: one row per event and policy. */
FL_API char *fl_whatif_report_to_csv(const fl_whatif_report *r);
/* Replay timeline as a standalone SVG image (throughput and cost per hour, three policies). */
FL_API char *fl_whatif_report_to_svg(const fl_whatif_report *r);
FL_API void fl_whatif_report_free(fl_whatif_report *r);

#ifdef __cplusplus
}
#endif
#endif
