/* planner/train_bound.c — an upper bound on what any training plan on a pool can reach, from
 * the simulator's own layer times, so that whole regions can be skipped when they cannot beat
 * the best plan found elsewhere (train_regions.c, the what-if replay).
 *
 * Why it holds. In the simulator every stage runs each of its m micro-batches through its layers
 * one after another, so the iteration time T of a pipeline is at least
 *     m * (nl_i * c_i + e_i)        for every stage i,
 * where c_i is the forward + backward time of one layer for one micro-batch on the stage's GPU
 * type and tp (tensor-parallel communication and recomputation included) and e_i the embedding
 * (first stage) or LM head + loss (last stage) time. Dividing by c_i and summing over the stages
 * (sum nl_i = L layers):
 *     L + eps_first + eps_last <= (T / m) * sum_i 1 / c_i,   eps = min over configurations of e / c.
 * A replica therefore carries at most m * mb * s tokens with m bounded as above, and summing over
 * replicas and pipelines, tokens per second <= sum over used GPUs of r(g) / L', where
 *     r(g) = max over tp, micro-batch and recomputation of mb * s / (tp * c(g, tp, mb, rc)),
 *     L'   = L + eps_first + eps_last.
 * The GPUs used are at most those rented, the rented ones fit the availability, max_gpus and
 * (instances only, egress comes on top) the budget, so a fractional knapsack over the pool's
 * cells bounds the throughput, and max r(g) / price bounds tokens per dollar. */
#include "planner/train_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define BOUND_SLACK 1e-6 /* relative margin over floating-point noise in the sums above */

/* Best per-GPU layer throughput r(g) (token-layers per second) of each GPU type in the pool, and
 * the smallest edge-to-layer time ratios. Returns 0 when there is no setting to rate (no valid
 * micro-batch size: the planner reports that error itself). */
static int layer_rates(const fl_catalog *cat, const fl_job *job, const fl_tp_pool *pool, double *rate,
                        double *eps_first, double *eps_last)
{
    int mb[16], nmb = 0;
    if (fl_tp_micro_batches(job, mb, &nmb, NULL) || nmb == 0)
        return 0;
    fl_recompute rcs[3] = {FL_RC_NONE, FL_RC_SELECTIVE, FL_RC_FULL};
    int nrc = job->recompute == FL_RC_AUTO ? 3 : 1;
    if (nrc == 1)
        rcs[0] = job->recompute;
    *eps_first = *eps_last = HUGE_VAL;
    size_t ng = fl_catalog_gpu_count(cat);
    for (size_t g = 0; g < ng; g++)
        rate[g] = 0;
    for (int c = 0; c < pool->n_cells; c++) {
        int g = pool->cells[c].gpu;
        if (rate[g] > 0)
            continue; /* type already rated */
        for (int tp = 1; tp <= 8; tp *= 2) {
            if (job->model.heads % tp != 0)
                continue;
            for (int r = 0; r < nrc; r++)
                for (int b = 0; b < nmb; b++) {
                    fl_train_setup s;
                    fl_train_setup_from_job(&s, job);
                    s.micro_batch = mb[b];
                    s.recompute = rcs[r];
                    double f, bw, ef, eb, lf, lb;
                    fl_train_layer_time(cat, &s, g, tp, &f, &bw);
                    double cost = f + bw;
                    if (!(cost > 0))
                        continue;
                    double v = (double)mb[b] * job->seq_len / (tp * cost);
                    if (v > rate[g])
                        rate[g] = v;
                    fl_train_edge_time(cat, &s, g, tp, 1, 0, &ef, &eb);
                    fl_train_edge_time(cat, &s, g, tp, 0, 1, &lf, &lb);
                    *eps_first = fmin(*eps_first, fmax(0.0, ef + eb) / cost);
                    *eps_last = fmin(*eps_last, fmax(0.0, lf + lb) / cost);
                }
        }
    }
    if (*eps_first == HUGE_VAL)
        *eps_first = 0;
    if (*eps_last == HUGE_VAL)
        *eps_last = 0;
    return 1;
}

typedef struct knap_item {
    double value, cost, count; /* per GPU; count < 0: unlimited */
} knap_item;

static int by_ratio(const void *a, const void *b)
{
    const knap_item *x = a, *y = b;
    double rx = x->cost > 0 ? x->value / x->cost : HUGE_VAL, ry = y->cost > 0 ? y->value / y->cost : HUGE_VAL;
    return rx > ry ? -1 : rx < ry;
}

/* Fractional knapsack: the most value with total cost <= cap (cap <= 0: no cap) and counts;
 * HUGE_VAL when unbounded. `weight_by_cost` 0 makes each GPU weigh 1 (a GPU count cap). */
static double knapsack(knap_item *it, int n, double cap, int weight_by_cost)
{
    if (!weight_by_cost)
        for (int i = 0; i < n; i++)
            it[i].cost = 1.0;
    qsort(it, (size_t)n, sizeof *it, by_ratio);
    double v = 0, left = cap;
    for (int i = 0; i < n; i++) {
        if (it[i].value <= 0)
            continue;
        if (cap <= 0 || it[i].cost <= 0) {
            if (it[i].count < 0)
                return HUGE_VAL;
            v += it[i].value * it[i].count;
            continue;
        }
        double take = left / it[i].cost;
        if (it[i].count >= 0 && it[i].count < take)
            take = it[i].count;
        v += take * it[i].value;
        left -= take * it[i].cost;
        if (left <= 0)
            break;
    }
    return v;
}

double fl_tp_pool_bound(const fl_catalog *cat, const fl_job *job, const fl_tp_pool *pool)
{
    if (job->objective == FL_OBJ_MIN_COST || job->objective == FL_OBJ_MIN_COST_PER_TOKEN)
        return HUGE_VAL; /* costs are negative scores: no useful bound */
    if (pool->n_cells == 0)
        return 0;
    size_t ng = fl_catalog_gpu_count(cat);
    double *rate = calloc(ng + 1, sizeof *rate);
    knap_item *it = calloc((size_t)pool->n_cells + 1, sizeof *it), *it2 = calloc((size_t)pool->n_cells + 1, sizeof *it2);
    double out = HUGE_VAL;
    if (!rate || !it || !it2)
        goto done;
    double ef, el;
    if (!layer_rates(cat, job, pool, rate, &ef, &el))
        goto done;
    double layers = job->model.layers + ef + el;
    if (!(layers > 0))
        goto done;
    if (job->objective == FL_OBJ_MAX_THROUGHPUT_PER_DOLLAR) {
        double best = 0;
        for (int c = 0; c < pool->n_cells; c++)
            if (pool->cells[c].gpu_price <= 0 && rate[pool->cells[c].gpu] > 0)
                goto done; /* owned capacity at price 0: unbounded tokens per dollar */
        for (int c = 0; c < pool->n_cells; c++)
            if (pool->cells[c].gpu_price > 0 && pool->cells[c].gpu_price < 1e299)
                best = fmax(best, rate[pool->cells[c].gpu] / layers / pool->cells[c].gpu_price);
        out = best * (1 + BOUND_SLACK);
        goto done;
    }
    for (int c = 0; c < pool->n_cells; c++) {
        const fl_tp_cell *cl = &pool->cells[c];
        it[c] = (knap_item){.value = rate[cl->gpu] / layers, .cost = cl->gpu_price,
                            .count = pool->limited && cl->avail >= 0 ? cl->avail : -1};
    }
    memcpy(it2, it, (size_t)pool->n_cells * sizeof *it);
    double by_budget = knapsack(it, pool->n_cells, job->budget_per_hour > 0 ? job->budget_per_hour : 0, 1);
    double by_gpus = knapsack(it2, pool->n_cells, job->max_gpus > 0 ? job->max_gpus : 0, 0);
    double v = fmin(by_budget, by_gpus);
    out = v == HUGE_VAL ? HUGE_VAL : v * (1 + BOUND_SLACK);
done:
    free(rate);
    free(it);
    free(it2);
    return out;
}
