/* planner/serve_planner.h — internals of the serving planner: per-replica capacities from the
 * request-level simulator, and the candidate configurations the MILP chooses from. */
#ifndef FL_PLANNER_SERVE_PLANNER_H
#define FL_PLANNER_SERVE_PLANNER_H

#include "simulator/serve_eval.h"

/* Largest Poisson rate (requests/s) one replica of c sustains for class rc with p90 TTFT <= ttft
 * and p90 TPOT <= tpot (0 = no bound); 0 when even a trickle misses the SLO or nothing fits. */
double fl_serve_capacity(const fl_serve_cfg *c, const fl_request_class *rc, double ttft, double tpot);

#endif
