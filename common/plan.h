/* common/plan.h — internal layout of fl_plan and the per-kind entry points that the generic
 * plan API (planner/plan_api.c) dispatches to. A plan is its deployment JSON document (the
 * contract of docs/json.md); each part reads it into its own C structures for fast work. */
#ifndef FL_COMMON_PLAN_H
#define FL_COMMON_PLAN_H

#include "flotilla/fl_plan.h"
#include "common/job.h"
#include <jansson.h>

struct fl_plan {
    fl_job_kind kind;
    json_t *doc;            /* owned deployment JSON */
    fl_plan **alts;         /* alternatives (owned), may be NULL */
    size_t n_alts;
};

/* Wrap a document (takes ownership of doc). NULL on out of memory (doc released). */
fl_plan *fl_plan_wrap(fl_job_kind kind, json_t *doc);

/* Training (simulator/train_plan.c): validate the structure of a training plan document and
 * (re)compute its "simulation" object in place. */
fl_status fl_train_plan_check(const fl_catalog *cat, json_t *doc, fl_error *err);
fl_status fl_train_plan_simulate(const fl_catalog *cat, json_t *doc, fl_error *err);
/* Training planner (planner/train_*.c): build the best plan document (already simulated and
 * feasible) and up to opts->top_k - 1 alternatives. */
fl_status fl_train_plan_job(const fl_catalog *cat, const fl_job *job, const fl_availability *av,
                            const fl_plan_options *opts, json_t **doc_out, json_t ***alts_out,
                            size_t *n_alts_out, fl_error *err);
fl_status fl_estimate_train(const fl_catalog *cat, const fl_estimate_query *q, fl_estimate_result *out,
                            fl_error *err);

/* Serving (simulator/serve_*.c, planner/serve_*.c): the same four entry points. */
fl_status fl_serve_plan_check(const fl_catalog *cat, json_t *doc, fl_error *err);
fl_status fl_serve_plan_simulate(const fl_catalog *cat, json_t *doc, fl_error *err);
fl_status fl_serve_plan_job(const fl_catalog *cat, const fl_job *job, const fl_availability *av,
                            const fl_plan_options *opts, json_t **doc_out, json_t ***alts_out,
                            size_t *n_alts_out, fl_error *err);
fl_status fl_estimate_serve(const fl_catalog *cat, const fl_estimate_query *q, fl_estimate_result *out,
                            fl_error *err);

#endif
