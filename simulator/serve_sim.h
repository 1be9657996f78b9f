/* simulator/serve_sim.h — request-level discrete-event simulation of LLM serving: continuous
 * (iteration-level) batching with chunked prefill, KV-cache admission and recompute preemption
 * per replica, Poisson or trace arrivals routed over heterogeneous replica groups by class shares.
 * Also the trace reader (Azure LLM inference CSV). */
#ifndef FL_SIMULATOR_SERVE_SIM_H
#define FL_SIMULATOR_SERVE_SIM_H

#include "simulator/serve_model.h"
#include <stdint.h>

/* One request of a replayed trace (arrival seconds from the first row). */
typedef struct fl_serve_request {
    double arrival;
    int input, output;
    int cls;           /* request class for routing */
    long line;         /* line in the trace file (0 when not read from one) */
} fl_serve_request;

/* Replicas of one configuration and the fraction of each class's traffic they receive. */
typedef struct fl_serve_group {
    fl_serve_cfg cfg;
    int count;
    double class_share[FL_MAX_CLASSES];
} fl_serve_group;

typedef struct fl_serve_workload {
    double rate_rps;               /* Poisson arrivals (ignored with a trace) */
    int n_classes;
    fl_request_class classes[FL_MAX_CLASSES];
    const fl_serve_request *trace; /* replay when non-NULL (sorted by arrival) */
    size_t n_trace;
    size_t n_requests;             /* Poisson: how many requests to simulate */
    uint64_t seed;
    /* > 0: stop early with FL_EINFEASIBLE (field "slo") as soon as enough requests have a TTFT
     * (TPOT) above this that the p90 over all requests must exceed it (capacity search) */
    double stop_ttft, stop_tpot;
} fl_serve_workload;

typedef struct fl_serve_stats {
    double ttft_p50, ttft_p90, ttft_p99;
    double tpot_p50, tpot_p90, tpot_p99;
    double e2e_p50, e2e_p90, e2e_p99;
    double throughput_rps, tokens_per_s, duration_s;
    double queue_mean;             /* waiting requests per replica, time-averaged */
    int queue_max;
    double kv_util_mean, kv_util_max;
    int max_batch;                 /* largest batch seen on a replica */
    double kv_cache_tokens;        /* smallest replica KV capacity */
    size_t completed, rejected, preemptions, steps;
    size_t events;                 /* simulator events handled (steps when stepping every iteration) */
} fl_serve_stats;

/* Simulate. Errors: FL_EINVAL when a class has no group to go to (shares), FL_ENOMEM,
 * FL_EINFEASIBLE (field "time_limit") when the calling thread's deadline passes. Decode runs
 * between events are summed in closed form (cost grows with events, not tokens). */
fl_status fl_serve_simulate(const fl_serve_group *groups, int n_groups, const fl_serve_workload *wl,
                            fl_serve_stats *out, fl_error *err);
/* Internal reference: the same simulation stepping every engine iteration (tests, benchmarks). */
fl_status fl_serve_simulate_stepping(const fl_serve_group *groups, int n_groups, const fl_serve_workload *wl,
                                     fl_serve_stats *out, fl_error *err);
/* Wall-clock deadline for the simulations of the calling thread (CLOCK_MONOTONIC seconds as
 * returned by fl_serve_now; 0 = none). The serving planner sets it from --time-limit. */
void fl_serve_set_deadline(double deadline);
double fl_serve_get_deadline(void);
double fl_serve_now(void);

/* Read a trace CSV `TIMESTAMP,ContextTokens,GeneratedTokens` (TIMESTAMP in seconds or an ISO
 * datetime). Rows must be in time order; errors name `field` and the line. Caller frees *out. */
fl_status fl_serve_trace_load(const char *path, const char *field, fl_serve_request **out, size_t *n,
                              fl_error *err);
fl_status fl_serve_trace_parse(const char *text, const char *field, fl_serve_request **out, size_t *n,
                               fl_error *err);
/* Every request must fit the model's context: input + output <= m->max_positions (when set), as a
 * serving engine refuses longer requests. FL_EINVAL naming `field`, the line and its tokens. */
fl_status fl_serve_trace_check_context(const fl_serve_request *reqs, size_t n, const fl_model *m, const char *field,
                                       fl_error *err);
/* Assign each trace request to the nearest class (log input/output); when n_classes is 0 on entry,
 * derive up to 3 classes from input-length terciles first. Also returns the trace's mean rate. */
void fl_serve_trace_classify(fl_serve_request *reqs, size_t n, int *n_classes, fl_request_class *classes,
                             double *rate_rps);

#endif
