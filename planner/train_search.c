/* planner/train_search.c — the objectives of the training planner as searches over the
 * iteration time T, each step one fixed-T MILP (train_milp.c):
 *   max_throughput            smallest T with a feasible plan (bisection on log T), then the
 *                             cheapest plan at that T;
 *   min_cost                  cheapest plan at the largest T allowed by min_tokens_per_s (or a
 *                             deadline from train_tokens), since the cost only falls as T grows;
 *   max_throughput_per_dollar parametric scan of T between the fastest and the loosest T,
 *   min_cost_per_token        minimising cost(T) * T, refined around the best grid point
 *                             (the two differ only in the simulated score they rank by).
 * Costs include cross-zone egress; the job's caps per iteration / per million tokens are a
 * budget of cap * 3600 / T at each T (train_milp.c), so min_cost also walks T down when the cap
 * rules out the loosest T. */
#include "planner/train_internal.h"
#include "planner/train_search.h"
#include "common/error.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define BISECT_TOL 0.01   /* relative precision of the smallest iteration time */
#define GRID_POINTS 10

double fl_tp_solution_time(const fl_tp_set *set, const fl_tp_solution *sol)
{
    double T = 0;
    for (int t = 0; t < set->n_tpl; t++)
        if (sol->x[t] > 0) {
            double it = fl_tp_template_time_dp(&set->tpl[t], (sol->s[t] + sol->x[t] - 1) / sol->x[t], sol->span);
            if (it > T)
                T = it;
        }
    return T;
}

double fl_tp_solution_value(const fl_job *job, const fl_tp_set *set, const fl_tp_solution *sol)
{
    if (!sol->feasible)
        return -1e300;
    double T = fl_tp_solution_time(set, sol);
    double tps = T > 0 ? (double)job->global_batch * job->seq_len / T : 0;
    switch (job->objective) {
    case FL_OBJ_MIN_COST: return -sol->cost;
    case FL_OBJ_MAX_THROUGHPUT_PER_DOLLAR:
        return sol->cost > 0 ? tps / sol->cost : tps > 0 ? FL_TP_FREE_PER_DOLLAR * tps : 0; /* owned at price 0 */
    case FL_OBJ_MIN_COST_PER_TOKEN: return sol->cost >= 0 && tps > 0 ? -sol->cost / tps : -1e300;
    default: return tps;
    }
}

/* Largest useful T: every template may carry the whole batch alone. */
static double loosest_T(const fl_tp_set *set, long M)
{
    double T = 0;
    for (int t = 0; t < set->n_tpl; t++)
        if (!set->tpl[t].disabled) {
            double it = fl_tp_template_time_dp(&set->tpl[t], M, 1);
            if (it > T)
                T = it;
        }
    return T * (1 + 1e-9);
}

static double fastest_T(const fl_tp_set *set)
{
    double T = 1e300;
    for (int t = 0; t < set->n_tpl; t++)
        if (!set->tpl[t].disabled && fl_tp_template_time_dp(&set->tpl[t], 1, 0) < T)
            T = fl_tp_template_time_dp(&set->tpl[t], 1, 0);
    return T;
}

/* Solve at T, counting solves; copies into best when feasible and better by `better`. */
static fl_status solve_at(const fl_catalog *cat, const fl_tp_pool *pool, const fl_tp_set *set, const fl_tp_limits *lim,
                          double T, int cost, fl_tp_solution *sol, fl_tp_search_stats *st, fl_error *err)
{
    fl_status rc = fl_tp_milp_solve(cat, pool, set, lim, T, cost, sol, err);
    st->n_solves++;
    st->solve_time_s += sol->time_s;
    st->time_limit_hits += sol->hit_time_limit;
    st->nodes += sol->nodes;
    if (!rc && sol->feasible && cost) {
        st->status_optimal = sol->status_optimal;
        st->mip_gap = sol->mip_gap;
    }
    return rc;
}

void fl_tp_solution_copy(fl_tp_solution *dst, const fl_tp_solution *src, const fl_tp_set *set, const fl_tp_pool *pool)
{
    int *x = dst->x, *inst = dst->inst;
    long *s = dst->s;
    memcpy(x, src->x, (size_t)set->n_tpl * sizeof *x);
    memcpy(s, src->s, (size_t)set->n_tpl * sizeof *s);
    memcpy(inst, src->inst, (size_t)pool->n_offers * sizeof *inst);
    *dst = *src;
    dst->x = x;
    dst->s = s;
    dst->inst = inst;
}

/* Smallest feasible T in (lo, hi], hi known feasible. */
static fl_status bisect(const fl_catalog *cat, const fl_tp_pool *pool, const fl_tp_set *set, const fl_tp_limits *lim,
                        double lo, double hi, fl_tp_solution *tmp, fl_tp_search_stats *st, double *T_out, fl_error *err)
{
    while (hi > lo * (1 + BISECT_TOL)) {
        double mid = sqrt(lo * hi);
        fl_status rc = solve_at(cat, pool, set, lim, mid, 0, tmp, st, err);
        if (rc)
            return rc;
        if (tmp->feasible)
            hi = fmin(mid, fmax(fl_tp_solution_time(set, tmp), lo * (1 + BISECT_TOL / 4)));
        else
            lo = mid;
    }
    *T_out = hi;
    return FL_OK;
}

fl_status fl_tp_search(const fl_catalog *cat, const fl_job *job, const fl_tp_pool *pool, const fl_tp_set *set,
                       const fl_tp_limits *lim, double beat_value, fl_tp_solution *best, fl_tp_search_stats *st,
                       fl_error *err)
{
    fl_tp_solution tmp;
    best->feasible = 0;
    if (fl_tp_solution_alloc(&tmp, set, pool))
        return fl_fail(err, FL_ENOMEM, "planner", "out of memory");
    fl_status rc = FL_OK;
    long M = lim->total_mb;
    double T_hi = loosest_T(set, M), T_lo = fastest_T(set);
    st->T_required = 0;
    if (T_hi <= 0 || T_lo >= 1e299)
        goto done;
    double tokens = (double)job->global_batch * job->seq_len;
    double T_req = T_hi;
    double min_tps = lim->ignore_floor ? 0 : job->min_tokens_per_s;
    double deadline_h = 0;
    json_t *dl = job->raw ? json_object_get(job->raw, "deadline_hours") : NULL;
    if (json_is_number(dl) && !lim->ignore_floor)
        deadline_h = json_number_value(dl);
    if (deadline_h > 0 && job->train_tokens > 0 && job->train_tokens / (deadline_h * 3600.0) > min_tps)
        min_tps = job->train_tokens / (deadline_h * 3600.0);
    if (min_tps > 0) {
        T_req = tokens / min_tps * (lim->floor_scale > 0 ? lim->floor_scale : 1.0);
        st->T_required = T_req;
    }
    if (job->objective == FL_OBJ_MAX_THROUGHPUT && beat_value > 0) {
        /* Skip unless this setting beats the incumbent throughput: one feasibility check at the
         * iteration time that would beat it (feasible there implies feasible when looser). */
        double T_beat = fmin(tokens / beat_value * (1 - BISECT_TOL), fmin(T_hi, T_req));
        if (T_beat <= T_lo)
            goto done;
        if ((rc = solve_at(cat, pool, set, lim, T_beat, 0, &tmp, st, err)))
            goto done;
        if (!tmp.feasible)
            goto done;
        st->feasible_loose = 1;
        T_hi = fl_tp_solution_time(set, &tmp);
    } else {
        /* Is anything feasible at all (the loosest T)? Throughput only needs a feasibility
         * check; the other objectives start from the cheapest plan. */
        int cost = job->objective != FL_OBJ_MAX_THROUGHPUT;
        if ((rc = solve_at(cat, pool, set, lim, fmin(T_hi, T_req), cost, &tmp, st, err)))
            goto done;
        if (!tmp.feasible && lim->max_cost_iter > 0) {
            /* a cap per iteration allows more $/h as T shrinks: walk T down until a plan fits it */
            double T0 = fmin(T_hi, T_req), rr = pow(T0 / T_lo, 1.0 / GRID_POINTS);
            for (int i = 1; i <= GRID_POINTS && rr > 1.0 + 1e-6 && !tmp.feasible; i++) {
                double T = T0 / pow(rr, i);
                if ((rc = solve_at(cat, pool, set, lim, T, cost, &tmp, st, err)))
                    goto done;
                if (tmp.feasible)
                    T_hi = T;
            }
        }
        st->feasible_loose = tmp.feasible;
        if (!tmp.feasible)
            goto done;
        if (cost)
            st->cheapest_cost = tmp.cost;
        else
            T_hi = fmin(T_hi, fl_tp_solution_time(set, &tmp) * (1 + 1e-9));
        if (job->objective == FL_OBJ_MIN_COST) {
            fl_tp_solution_copy(best, &tmp, set, pool);
            goto done;
        }
    }
    if (job->objective == FL_OBJ_MAX_THROUGHPUT) {
        double T_min;
        if ((rc = bisect(cat, pool, set, lim, T_lo * (1 - 1e-9), fmin(T_hi, T_req), &tmp, st, &T_min, err)))
            goto done;
        st->T_min = T_min;
        if ((rc = solve_at(cat, pool, set, lim, T_min, 1, &tmp, st, err)))
            goto done;
        if (tmp.feasible)
            fl_tp_solution_copy(best, &tmp, set, pool);
        goto done;
    }
    /* throughput per dollar: minimise cost(T) * T over a geometric grid of T walking down from
     * the loosest T until infeasible, then refine around the best point. */
    /* beyond the cheapest plan's iteration time the cost stays minimal and cost * T grows */
    double T_max = fmin(fmin(T_hi, T_req), fl_tp_solution_time(set, &tmp) * (1 + 1e-9)), bestv = -1, bestT = T_max;
    {
        double v = fl_tp_solution_value(job, set, &tmp);
        bestv = v;
        fl_tp_solution_copy(best, &tmp, set, pool);
    }
    double r = pow(T_max / T_lo, 1.0 / GRID_POINTS);
    if (!(r > 1.0 + 1e-6))
        r = 1.0 + 1e-6;
    for (int i = 0; i <= GRID_POINTS; i++) {
        double T = T_max / pow(r, i);
        if ((rc = solve_at(cat, pool, set, lim, T, 1, &tmp, st, err)))
            goto done;
        if (!tmp.feasible)
            break;
        double v = fl_tp_solution_value(job, set, &tmp);
        if (v > bestv) {
            bestv = v;
            bestT = T;
            fl_tp_solution_copy(best, &tmp, set, pool);
        }
    }
    for (int pass = 0; pass < 2; pass++) {
        double rr = pow(r, pass == 0 ? 0.25 : 1.0 / 16);
        double center = bestT;
        for (int k = -3; k <= 3; k++) {
            double T = center * pow(rr, k);
            if (k == 0 || T > T_max || T < T_lo)
                continue;
            if ((rc = solve_at(cat, pool, set, lim, T, 1, &tmp, st, err)))
                goto done;
            double v = fl_tp_solution_value(job, set, &tmp);
            if (tmp.feasible && v > bestv) {
                bestv = v;
                bestT = T;
                fl_tp_solution_copy(best, &tmp, set, pool);
            }
        }
    }
done:
    fl_tp_solution_free(&tmp);
    return rc;
}
