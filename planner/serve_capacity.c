/* planner/serve_capacity.c — per-replica capacity of a serving configuration for one request
 * class: the largest Poisson rate one replica sustains with p90 TTFT and TPOT within the SLO,
 * found by bisection with the request-level simulator between 0 and an analytic upper bound. */
#include "planner/serve_planner.h"

#include <math.h>
#include <string.h>

#define CAP_REQUESTS 700
#define CAP_TOKENS 2e7          /* at most this many prompt + output tokens per capacity run ... */
#define CAP_MIN_REQUESTS 20     /* ... but at least this many requests (classes above 28,571 tokens) */
#define CAP_ITERS 9

/* Requests per capacity run: 700, fewer for very long classes (the plan is re-simulated on the
 * job's own workload afterwards, so a coarser capacity never makes it claim the SLO falsely). */
static size_t cap_requests(const fl_request_class *rc)
{
    double n = floor(CAP_TOKENS / ((double)rc->input + rc->output));
    return n >= CAP_REQUESTS ? CAP_REQUESTS : n <= CAP_MIN_REQUESTS ? CAP_MIN_REQUESTS : (size_t)n;
}

/* Analytic saturation throughput (requests/s): a full batch decoding plus the prefills. */
static double upper_bound(const fl_serve_cfg *c, const fl_request_class *rc)
{
    double per = rc->input + rc->output;
    double b = floor(c->kv_tokens / per);
    if (b > c->max_batch) b = c->max_batch;
    if (b < 1) return 0;
    double ctx = rc->input + rc->output / 2.0;
    double dec = fl_serve_step_time(c, b, b, 0, b * ctx, NULL, NULL);
    double pre = fl_serve_prefill_time(c, 1, rc->input, NULL, NULL);
    return b / (rc->output * dec + b * pre);
}

static int meets(const fl_serve_cfg *c, const fl_request_class *rc, double rate, double ttft, double tpot,
                 uint64_t seed)
{
    fl_serve_group g;
    memset(&g, 0, sizeof g);
    g.cfg = *c;
    g.count = 1;
    g.class_share[0] = 1;
    fl_serve_workload wl;
    memset(&wl, 0, sizeof wl);
    wl.rate_rps = rate;
    wl.n_classes = 1;
    wl.classes[0] = *rc;
    wl.classes[0].share = 1;
    wl.n_requests = cap_requests(rc);
    wl.seed = seed;
    wl.stop_ttft = ttft; /* stop as soon as the p90 is bound to miss (the outcome is then known) */
    wl.stop_tpot = tpot;
    fl_serve_stats st;
    if (fl_serve_simulate(&g, 1, &wl, &st, NULL))
        return 0;
    return st.completed == wl.n_requests && (ttft <= 0 || st.ttft_p90 <= ttft) && (tpot <= 0 || st.tpot_p90 <= tpot);
}

double fl_serve_capacity(const fl_serve_cfg *c, const fl_request_class *rc, double ttft, double tpot)
{
    if (!c->fits || rc->input + rc->output > c->kv_tokens)
        return 0;
    if (fl_serve_get_deadline() > 0 && fl_serve_now() > fl_serve_get_deadline())
        return 0; /* past the run's time limit: the caller reports it */
    double ub = upper_bound(c, rc);
    if (!(ub > 0))
        return 0;
    uint64_t seed = 0xC0FFEEull + (uint64_t)rc->input * 131u + (uint64_t)rc->output;
    double lo = 0, hi = ub * 1.1;
    if (!meets(c, rc, ub * 0.01, ttft, tpot, seed))
        return 0;
    lo = ub * 0.01;
    for (int i = 0; i < CAP_ITERS; i++) {
        double mid = 0.5 * (lo + hi);
        if (meets(c, rc, mid, ttft, tpot, seed))
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}
