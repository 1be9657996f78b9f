/* whatif/whatif_internal.h — what-if replay internals: parsed traces and the report layout. */
#ifndef FL_SIMULATOR_WHATIF_INTERNAL_H
#define FL_SIMULATOR_WHATIF_INTERNAL_H

#include "flotilla/fl_whatif.h"
#include <jansson.h>
#include <stddef.h>

typedef struct fl_trace_row {
    double time;
    int zone, gpu, count;
    int line;
} fl_trace_row;

typedef struct fl_trace {
    fl_trace_row *rows;
    size_t n;
    size_t *event_start;   /* rows of event e: [event_start[e], event_start[e+1]) */
    size_t n_events;
} fl_trace;

/* Parse `time_s,zone,gpu,count` CSV (header required; '#' comments and blank lines skipped). */
fl_status fl_trace_parse(const fl_catalog *cat, const char *text, fl_trace *out, fl_error *err);
void fl_trace_free(fl_trace *t);

struct fl_whatif_report {
    json_t *doc;
};

/* Internal replay switches (tests, benchmarks). */
typedef struct fl_whatif_internal {
    int reference;   /* 1: plan from scratch (fl_plan_job) and step every policy at every event:
                      * no cache, no skipped event; the slow reference of the tests */
    int keep_plans;  /* 1: the report gets "plans", each event's best plan without "solver"
                      * (null when infeasible) */
} fl_whatif_internal;

/* fl_whatif_replay with internal switches (in may be NULL: the normal replay). */
fl_status fl_whatif_replay_internal(const fl_catalog *cat, const fl_job *job, const fl_availability *base_av,
                                    const char *trace_csv, const fl_whatif_options *opts,
                                    const fl_whatif_internal *in, fl_whatif_report **out, fl_error *err);

#define FL_WHATIF_POLICIES 3
extern const char *const fl_whatif_policy_names[FL_WHATIF_POLICIES];

#endif
