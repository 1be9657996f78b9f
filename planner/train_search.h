/* planner/train_search.h — objective searches of the training planner (train_search.c). */
#ifndef FL_PLANNER_TRAIN_SEARCH_H
#define FL_PLANNER_TRAIN_SEARCH_H

#include "planner/train_internal.h"

typedef struct fl_tp_search_stats {
    int n_solves;
    double solve_time_s;
    int status_optimal;       /* of the last cost-minimising solve */
    double mip_gap;
    int feasible_loose;       /* a plan exists at the loosest iteration time */
    double cheapest_cost;     /* $/h of the cheapest plan (when feasible_loose) */
    double T_min;             /* smallest feasible iteration time found */
    double T_required;        /* from min_tokens_per_s / deadline, 0 = none */
    int time_limit_hits;      /* solves stopped by the wall-clock safety net */
    long nodes;               /* branch-and-bound nodes over all solves */
} fl_tp_search_stats;

/* Best solution of one setting for the job's objective; best->feasible = 0 when none (or, for
 * max_throughput with beat_value > 0, when it cannot beat beat_value tokens/s). best must be
 * allocated with fl_tp_solution_alloc for this set. */
fl_status fl_tp_search(const fl_catalog *cat, const fl_job *job, const fl_tp_pool *pool, const fl_tp_set *set,
                       const fl_tp_limits *lim, double beat_value, fl_tp_solution *best, fl_tp_search_stats *st,
                       fl_error *err);
/* Copy a solution of the same set/pool (arrays already allocated in dst). */
void fl_tp_solution_copy(fl_tp_solution *dst, const fl_tp_solution *src, const fl_tp_set *set, const fl_tp_pool *pool);
/* Iteration time of a solution per the template model (slowest replica). */
double fl_tp_solution_time(const fl_tp_set *set, const fl_tp_solution *sol);
/* Objective value of a solution per the template model (larger is better). */
double fl_tp_solution_value(const fl_job *job, const fl_tp_set *set, const fl_tp_solution *sol);

#endif
