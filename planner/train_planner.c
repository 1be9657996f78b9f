/* planner/train_planner.c — the training planner proper (issue 4): fl_train_plan_pool plans one
 * pool (fl_train_plan_job, train_regions.c, calls it once per cloud region).
 *
 * For every setting (micro-batch size dividing the global batch × recomputation choice) it
 * builds pipeline templates (train_templates.c) and searches the job's objective with GLPK
 * MILPs over integer replica counts (train_search.c, train_milp.c). The best solutions are
 * turned into plan documents and re-simulated with the simulator; only plans that fit are
 * emitted, ranked by their simulated objective. Infeasible jobs get an explanation naming the
 * binding limit. Extras: top-k alternatives, a cost/throughput frontier ("pareto") and the
 * marginal value of one more instance per (zone, GPU type) ("marginal_value"). */
#include "planner/train_internal.h"
#include "planner/train_search.h"
#include "planner/train_regions.h"
#include "common/error.h"
#include "common/plan.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_SETTINGS 24
#define MAX_FIX_RETRIES 4
#define PARETO_POINTS 8
#define MARGINAL_CELLS 32
#define FALLBACK_SLACK 0.05     /* homogeneous fallback: model may overrate mixed plans by this much */

typedef struct setting {
    fl_tp_set set;
    fl_tp_solution sol;
    fl_tp_search_stats st;
    json_t *doc;           /* simulated plan of sol, or NULL */
    double score;          /* simulated objective */
} setting;

typedef struct planner {
    const fl_catalog *cat;
    const fl_job *job;
    const fl_plan_options *opts;
    fl_tp_pool pool;
    setting s[MAX_SETTINGS];
    int n;
    fl_tp_limits lim_base;  /* total_mb filled per setting */
    double t0;
    int candidates, templates, solves;
    int time_limit_hits;    /* solves stopped by the wall-clock safety net */
    long nodes;             /* branch-and-bound nodes of all solves */
    double milp_time_s, template_time_s;
} planner;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Limits of one setting. The time limit is only GLPK's per-solve safety net (the solves are cut
 * off by node budgets, train_milp.c), so it never depends on how much time is left: the same
 * input gives the same plan however fast the machine is. */
/* The job's caps per iteration and per million tokens as one $-per-iteration cap (0 = none):
 * an iteration trains global_batch x seq_len tokens. */
static double job_cost_cap(const fl_job *job)
{
    double cap = job->max_cost_per_iteration;
    if (job->max_cost_per_million_tokens > 0) {
        double c = job->max_cost_per_million_tokens * (double)job->global_batch * job->seq_len / 1e6;
        if (cap <= 0 || c < cap)
            cap = c;
    }
    return cap;
}

static fl_tp_limits limits_for(const planner *P, const setting *S)
{
    fl_tp_limits l = P->lim_base;
    l.total_mb = P->job->global_batch / S->set.setup.micro_batch;
    l.equal_mb = P->job->target != FL_TARGET_FLOTILLA;
    l.time_limit_s = P->opts->time_limit_s > 0 ? P->opts->time_limit_s : 10.0;
    return l;
}

/* Account one search's statistics. */
static void add_stats(planner *P, const fl_tp_search_stats *st)
{
    P->solves += st->n_solves;
    P->milp_time_s += st->solve_time_s;
    P->time_limit_hits += st->time_limit_hits;
    P->nodes += st->nodes;
}

/* Micro-batch sizes to try: job "micro_batch" (a number or a list) or 8, 4, 2, 1;
 * only those dividing the global batch. */
fl_status fl_tp_micro_batches(const fl_job *job, int *mb, int *n, fl_error *err)
{
    int cand[16], nc = 0;
    json_t *v = job->raw ? json_object_get(job->raw, "micro_batch") : NULL;
    if (json_is_integer(v) && json_integer_value(v) >= 1) {
        cand[nc++] = (int)json_integer_value(v);
    } else if (json_is_array(v) && json_array_size(v) > 0) {
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e) {
            if (!json_is_integer(e) || json_integer_value(e) < 1 || json_integer_value(e) > 4096)
                return fl_fail(err, FL_EINVAL, "job.micro_batch", "job.micro_batch[%zu]: expected a whole number 1..4096", i);
            if (nc < 16)
                cand[nc++] = (int)json_integer_value(e);
        }
    } else if (v && !json_is_null(v)) {
        return fl_fail(err, FL_EINVAL, "job.micro_batch", "job.micro_batch: expected a whole number >= 1 or a list of them");
    } else {
        for (int b = 8; b >= 1; b /= 2)
            cand[nc++] = b;
    }
    *n = 0;
    char list[128] = "";
    for (int i = 0; i < nc; i++) {
        size_t L = strlen(list);
        snprintf(list + L, sizeof list - L, "%s%d", i ? ", " : "", cand[i]);
        if (cand[i] <= job->global_batch && job->global_batch % cand[i] == 0)
            mb[(*n)++] = cand[i];
    }
    if (*n == 0)
        return fl_fail(err, FL_EINVAL, "job.global_batch",
                       "job.global_batch: %d is not divisible by any micro-batch choice (%s)", job->global_batch, list);
    return FL_OK;
}

/* Upper bound of tokens per dollar of a setting: a replica carrying m micro-batches costs at
 * least its GPUs at the cheapest price for fixed + (m-1) slope seconds, and t(m)/m is monotone,
 * so the best any plan can do is the best template at m = 1 or m = M. */
static double per_dollar_bound(const planner *P, const setting *S)
{
    long M = P->job->global_batch / S->set.setup.micro_batch;
    double best = 1e300;
    for (int t = 0; t < S->set.n_tpl; t++) {
        const fl_tp_template *tp = &S->set.tpl[t];
        if (tp->disabled)
            continue;
        if (tp->price <= 0)
            return HUGE_VAL; /* owned capacity at price 0: no bound */
        double per_mb = fmin(fl_tp_template_time(tp, M) / (double)M, fl_tp_template_time(tp, 1));
        double c = tp->price * (double)M * per_mb;
        if (c < best)
            best = c;
    }
    return best < 1e299 ? (double)P->job->global_batch * P->job->seq_len / best : 0;
}

/* Re-anchor the affine time model of every template the solution uses at its operating point:
 * simulate its pipelines alone with the plan's replica and micro-batch counts and keep the
 * pipeline part; the all-reduce tail (which depends on the whole plan's DP group, train_dp.c)
 * takes the value the simulated plan showed, plan_dp_s (< 0: keep the model's). */
static void recalibrate(const planner *P, setting *S, const fl_tp_solution *sol, double plan_dp_s)
{
    for (int t = 0; t < S->set.n_tpl; t++) {
        if (!sol->x[t])
            continue;
        fl_tp_template *tp = &S->set.tpl[t];
        /* the all-reduce tail the whole plan showed (e.g. none when its small group stays
         * inside one node) replaces the modelled one in the plan's DP situation */
        if (plan_dp_s >= 0) {
            tp->dp_tail[sol->span] = plan_dp_s;
            if (tp->dp_tail[1] < tp->dp_tail[0])
                tp->dp_tail[1] = tp->dp_tail[0];
        }
        long m = (sol->s[t] + sol->x[t] - 1) / sol->x[t];
        fl_train_stage *st = calloc((size_t)tp->n_stages, sizeof *st);
        if (!st)
            return;
        for (int i = 0; i < tp->n_stages; i++) {
            const fl_tp_stage *s = &S->set.stages[tp->first_stage + i];
            st[i] = (fl_train_stage){.first_layer = s->first, .last_layer = s->last,
                                     .gpu = P->pool.cells[s->cell].gpu, .zone = P->pool.cells[s->cell].zone, .tp = s->tp};
        }
        fl_train_pipeline pipe = {.replicas = sol->x[t], .micro_batches = (int)m, .n_stages = tp->n_stages, .stages = st};
        fl_train_result r;
        memset(&r, 0, sizeof r);
        if (fl_train_simulate(P->cat, &S->set.setup, &pipe, 1, &r, NULL) == FL_OK && r.iteration_s > 0) {
            /* the pipeline part only: the DP tail of the whole plan's group is modelled apart */
            double fixed = tp->fixed + (r.iteration_s - r.dp_allreduce_s - fl_tp_template_time(tp, m));
            if (fixed > 0)
                tp->fixed = fixed;
        }
        free(st);
    }
}

/* Build templates and search one setting; re-simulate the solution with the simulator. Plans
 * that do not fit get their failing template disabled; plans whose simulated throughput misses
 * min_tokens_per_s get a tighter iteration-time bound; when the simulated iteration time differs
 * from the template model, the used templates are re-anchored and the search runs once more.
 * The best simulated plan that fits and meets the floor is kept. */
static fl_status search_setting(planner *P, setting *S, double beat, fl_tp_solution *wk, fl_error *err);

static fl_status run_setting(planner *P, setting *S, double beat, fl_error *err)
{
    double tb = now_s();
    fl_status rc = fl_tp_templates_build(P->cat, P->job, &P->pool, &S->set, err);
    P->template_time_s += now_s() - tb;
    if (rc)
        return rc;
    P->candidates += S->set.n_enumerated;
    P->templates += S->set.n_tpl;
    if (S->set.n_tpl == 0)
        return FL_OK;
    if (P->job->objective == FL_OBJ_MAX_THROUGHPUT_PER_DOLLAR && beat > 0 && per_dollar_bound(P, S) <= beat)
        return FL_OK;
    fl_tp_solution work;
    if (fl_tp_solution_alloc(&S->sol, &S->set, &P->pool) || fl_tp_solution_alloc(&work, &S->set, &P->pool)) {
        fl_tp_solution_free(&S->sol);
        return fl_fail(err, FL_ENOMEM, "planner", "out of memory");
    }
    if (P->job->target == FL_TARGET_FLOTILLA) {
        rc = search_setting(P, S, beat, &work, err);
    } else {
        /* one pipeline shape for all replicas: search each shape class alone */
        int n = S->set.n_tpl;
        char *was = malloc((size_t)n), *done = calloc((size_t)n, 1);
        if (!was || !done)
            rc = fl_fail(err, FL_ENOMEM, "planner", "out of memory");
        for (int t = 0; t < n && !rc; t++)
            was[t] = (char)S->set.tpl[t].disabled;
        for (int c = 0; c < n && !rc; c++) {
            if (done[c] || was[c])
                continue;
            for (int t = 0; t < n; t++) {
                int in = fl_tp_same_shape(&P->pool, &S->set, c, t);
                done[t] |= (char)in;
                S->set.tpl[t].disabled = (char)(was[t] || !in);
            }
            double b = P->job->objective == FL_OBJ_MAX_THROUGHPUT && S->doc && S->score > beat ? S->score : beat;
            rc = search_setting(P, S, b, &work, err);
        }
        for (int t = 0; t < n && was; t++)
            S->set.tpl[t].disabled = was[t];
        free(was);
        free(done);
    }
    fl_tp_solution_free(&work);
    if (!S->doc)
        S->sol.feasible = 0;
    return rc;
}

/* 1 when templates a and b have the same pipeline shape: GPU type, tp and layer range of every
 * stage (a framework target runs one shape for all data-parallel replicas). */
int fl_tp_same_shape(const fl_tp_pool *pool, const fl_tp_set *set, int a, int b)
{
    const fl_tp_template *x = &set->tpl[a], *y = &set->tpl[b];
    if (x->n_stages != y->n_stages)
        return 0;
    for (int i = 0; i < x->n_stages; i++) {
        const fl_tp_stage *p = &set->stages[x->first_stage + i], *q = &set->stages[y->first_stage + i];
        if (pool->cells[p->cell].gpu != pool->cells[q->cell].gpu || p->tp != q->tp || p->first != q->first ||
            p->last != q->last)
            return 0;
    }
    return 1;
}

/* The search-and-simulate loop of run_setting over the enabled templates. */
static fl_status search_setting(planner *P, setting *S, double beat, fl_tp_solution *wk, fl_error *err)
{
    fl_status rc = FL_OK;
    fl_tp_solution work = *wk;
    double min_tps = P->job->min_tokens_per_s, floor_scale = 1.0, cap_scale = 1.0;
    json_t *dl = json_object_get(P->job->raw, "deadline_hours");
    if (json_is_number(dl) && json_number_value(dl) > 0 && P->job->train_tokens > 0)
        min_tps = fmax(min_tps, P->job->train_tokens / (json_number_value(dl) * 3600.0));
    int refined = 0;
    for (int tries = 0; tries < MAX_FIX_RETRIES + 2; tries++) {
        fl_tp_limits lim = limits_for(P, S);
        lim.floor_scale = floor_scale;
        lim.max_cost_iter *= cap_scale;
        fl_tp_search_stats st;
        memset(&st, 0, sizeof st);
        rc = fl_tp_search(P->cat, P->job, &P->pool, &S->set, &lim, P->job->objective == FL_OBJ_MAX_THROUGHPUT ? beat : 0,
                          &work, &st, err);
        add_stats(P, &st);
        if (rc || !work.feasible)
            break;
        int bad;
        json_t *doc;
        if ((rc = fl_tp_solution_doc(P->cat, P->job, &P->pool, &S->set, &work, &doc, &bad, err)))
            break;
        if (!doc) {
            if (bad < 0)
                break;
            S->set.tpl[bad].disabled = 1;
            continue;
        }
        json_t *sim = json_object_get(doc, "simulation");
        double tps = json_number_value(json_object_get(sim, "tokens_per_s"));
        double cph = json_number_value(json_object_get(sim, "cost_per_hour")) +
                     json_number_value(json_object_get(sim, "egress_per_hour"));
        double cpi = json_number_value(json_object_get(sim, "cost_per_iteration"));
        double cap = P->lim_base.max_cost_iter;
        double est = fl_tp_solution_time(&S->set, &work), got = json_number_value(json_object_get(sim, "iteration_s"));
        int ok = (min_tps <= 0 || tps >= min_tps * (1 - 1e-9)) &&
                 (P->job->budget_per_hour <= 0 || cph <= P->job->budget_per_hour * (1 + 1e-9)) &&
                 (cap <= 0 || cpi <= cap * (1 + 1e-9));
        double score = fl_tp_doc_score(P->job, doc);
        if (ok && (!S->doc || score > S->score)) {
            json_decref(S->doc);
            S->doc = doc;
            S->score = score;
            S->st = st;
            fl_tp_solution_copy(&S->sol, &work, &S->set, &P->pool);
        } else {
            json_decref(doc);
        }
        if (cap > 0 && cpi > cap * (1 + 1e-9) && cap_scale > 0.05) {
            /* the simulated cost per iteration is above the cap: tighten the cap the model sees */
            cap_scale *= fmax(0.5, cap / cpi * 0.995);
            recalibrate(P, S, &work, json_number_value(json_object_get(sim, "dp_allreduce_s")));
            continue;
        }
        if (min_tps > 0 && tps < min_tps * (1 - 1e-9)) {
            floor_scale *= fmax(0.5, tps / min_tps * 0.995);
            recalibrate(P, S, &work, json_number_value(json_object_get(sim, "dp_allreduce_s")));
            continue;
        }
        if (refined < 1 && est > 0 && fabs(got / est - 1) > 0.02) {
            refined++;
            recalibrate(P, S, &work, json_number_value(json_object_get(sim, "dp_allreduce_s")));
            continue;
        }
        break;
    }
    return rc;
}

/* Search again with only the templates of one GPU type at a time, and keep a simulated plan
 * that beats the setting's current one. The template model does not see every interaction of
 * mixed data-parallel replicas that the simulator charges (e.g. all-reduce across pipelines
 * split differently), so this keeps the result never worse than the best homogeneous plan. */
static fl_status homogeneous_fallback(planner *P, setting *S, fl_error *err)
{
    int n = S->set.n_tpl;
    if (n == 0)
        return FL_OK;
    char *was = malloc((size_t)n);
    fl_tp_solution work;
    if (!was || fl_tp_solution_alloc(&work, &S->set, &P->pool)) {
        free(was);
        return fl_fail(err, FL_ENOMEM, "planner", "out of memory");
    }
    if (!S->sol.x && fl_tp_solution_alloc(&S->sol, &S->set, &P->pool)) {
        free(was);
        fl_tp_solution_free(&work);
        return fl_fail(err, FL_ENOMEM, "planner", "out of memory");
    }
    for (int t = 0; t < n; t++)
        was[t] = (char)S->set.tpl[t].disabled;
    fl_status rc = FL_OK;
    for (int g = 0; g < (int)fl_catalog_gpu_count(P->cat) && !rc; g++) {
        int any = 0, mixed = 0;
        for (int t = 0; t < n; t++) {
            const fl_tp_template *tp = &S->set.tpl[t];
            int only = 1;
            for (int k = 0; k < tp->n_cells; k++)
                only &= P->pool.cells[tp->cells[k]].gpu == g;
            mixed |= !only;
            S->set.tpl[t].disabled = (char)(was[t] || !only);
            any |= !S->set.tpl[t].disabled;
        }
        if (!any || !mixed)
            continue; /* nothing of this type, or the setting has only this type anyway */
        fl_tp_limits lim = limits_for(P, S);
        fl_tp_search_stats st;
        memset(&st, 0, sizeof st);
        /* max_throughput: only types whose model throughput comes within FALLBACK_SLACK of the
         * setting's simulated plan can replace it; the others are ruled out by one check */
        double beat = P->job->objective == FL_OBJ_MAX_THROUGHPUT && S->doc ? S->score * (1 - FALLBACK_SLACK) : 0;
        rc = fl_tp_search(P->cat, P->job, &P->pool, &S->set, &lim, beat, &work, &st, err);
        add_stats(P, &st);
        if (rc || !work.feasible)
            continue;
        json_t *doc;
        int bad;
        if ((rc = fl_tp_solution_doc(P->cat, P->job, &P->pool, &S->set, &work, &doc, &bad, err)) || !doc)
            continue;
        json_t *sim = json_object_get(doc, "simulation");
        double tps = json_number_value(json_object_get(sim, "tokens_per_s"));
        int ok = P->job->min_tokens_per_s <= 0 || tps >= P->job->min_tokens_per_s * (1 - 1e-9);
        double score = fl_tp_doc_score(P->job, doc);
        if (ok && (!S->doc || score > S->score)) {
            json_decref(S->doc);
            S->doc = doc;
            S->score = score;
            S->st = st;
            fl_tp_solution_copy(&S->sol, &work, &S->set, &P->pool);
            S->sol.feasible = 1;
        } else {
            json_decref(doc);
        }
    }
    for (int t = 0; t < n; t++)
        S->set.tpl[t].disabled = was[t];
    free(was);
    fl_tp_solution_free(&work);
    return rc;
}

static json_t *solver_obj(const planner *P, const setting *S)
{
    json_t *o = json_object();
    json_object_set_new(o, "name", json_string("glpk"));
    /* "time_limit": some solve was stopped by the wall-clock safety net, so the plan may depend
     * on machine speed; otherwise the result is deterministic */
    json_object_set_new(o, "status", json_string(P->time_limit_hits ? "time_limit"
                                                 : S->st.status_optimal ? "optimal" : "feasible"));
    json_object_set_new(o, "mip_gap", json_real(S->st.mip_gap));
    json_object_set_new(o, "time_s", json_real(now_s() - P->t0));
    json_object_set_new(o, "candidates", json_integer(P->candidates));
    json_object_set_new(o, "templates", json_integer(P->templates));
    json_object_set_new(o, "milp_solves", json_integer(P->solves));
    json_object_set_new(o, "bb_nodes", json_integer(P->nodes));
    json_object_set_new(o, "settings", json_integer(P->n));
    json_object_set_new(o, "milp_time_s", json_real(P->milp_time_s));
    json_object_set_new(o, "template_time_s", json_real(P->template_time_s));
    json_object_set_new(o, "estimated_cost_per_hour", json_real(S->sol.cost));
    json_object_set_new(o, "estimated_iteration_s", json_real(fl_tp_solution_time(&S->set, &S->sol)));
    return o;
}

static json_t *summary_lines(const fl_catalog *cat, json_t *doc)
{
    json_t *a = json_array();
    json_t *sim = json_object_get(doc, "simulation"), *par = json_object_get(doc, "parallelism");
    char line[256];
    int gpus = 0;
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(doc, "resources"), i, r) {
        int g = (int)(json_integer_value(json_object_get(r, "gpus_per_instance")) *
                      json_integer_value(json_object_get(r, "instances")));
        gpus += g;
        json_array_append_new(a, json_sprintf("rent %lld x %s (%s, %d GPUs%s) in %s at $%.2f/h each",
                 (long long)json_integer_value(json_object_get(r, "instances")),
                 json_string_value(json_object_get(r, "instance_type")), json_string_value(json_object_get(r, "gpu")), g,
                 json_is_true(json_object_get(r, "spot")) ? ", spot" : "", json_string_value(json_object_get(r, "zone")),
                 json_number_value(json_object_get(r, "price_per_hour"))));
    }
    json_t *p;
    json_array_foreach(json_object_get(par, "pipelines"), i, p) {
        json_t *stages = json_object_get(p, "stages"), *s;
        size_t k;
        /* one line per pipeline however many stages it has (no fixed-size cut) */
        size_t cap = 256 + 128 * json_array_size(stages), L;
        char *pl = malloc(cap);
        if (!pl)
            continue;
        L = (size_t)snprintf(pl, cap, "pipeline %zu: %lld replica(s) x %lld micro-batches:", i,
                             (long long)json_integer_value(json_object_get(p, "replicas")),
                             (long long)json_integer_value(json_object_get(p, "micro_batches")));
        json_array_foreach(stages, k, s) {
            json_t *ly = json_object_get(s, "layers");
            const char *g = json_string_value(json_object_get(s, "gpu"));
            size_t need = L + 80 + (g ? strlen(g) : 0);
            if (need > cap) {
                char *q = realloc(pl, cap = 2 * need);
                if (!q)
                    break;
                pl = q;
            }
            L += (size_t)snprintf(pl + L, cap - L, " [%lld,%lld) %s tp%lld",
                                  (long long)json_integer_value(json_array_get(ly, 0)),
                                  (long long)json_integer_value(json_array_get(ly, 1)), g ? g : "?",
                                  (long long)json_integer_value(json_object_get(s, "tp")));
        }
        json_array_append_new(a, json_string(pl));
        free(pl);
    }
    snprintf(line, sizeof line, "%d GPUs, %.4g tokens/s, $%.2f/h, iteration %.3g s, fits: %s", gpus,
             json_number_value(json_object_get(sim, "tokens_per_s")), json_number_value(json_object_get(sim, "cost_per_hour")),
             json_number_value(json_object_get(sim, "iteration_s")), json_is_true(json_object_get(sim, "fits")) ? "yes" : "no");
    double eg = json_number_value(json_object_get(sim, "egress_per_hour"));
    if (eg > 0) { /* cross-zone traffic on top of the instances */
        json_array_append_new(a, json_string(line));
        snprintf(line, sizeof line, "egress $%.2f/h ($%.4g per iteration); $%.4g per iteration in all", eg,
                 json_number_value(json_object_get(sim, "egress_per_iteration")),
                 json_number_value(json_object_get(sim, "cost_per_iteration")));
    }
    json_array_append_new(a, json_string(line));
    (void)cat;
    return a;
}

/* Explain why no setting produced a plan, naming the binding limit. */
static fl_status explain_infeasible(planner *P, fl_error *err)
{
    const fl_job *job = P->job;
    const fl_catalog *cat = P->cat;
    /* The setting with the smallest template (fewest GPUs). */
    int bs = -1, bt = -1;
    for (int i = 0; i < P->n; i++)
        for (int t = 0; t < P->s[i].set.n_tpl; t++)
            if (bt < 0 || P->s[i].set.tpl[t].total_gpus < P->s[bs].set.tpl[bt].total_gpus) {
                bs = i;
                bt = t;
            }
    if (bs < 0) {
        int g = -1;
        for (int c = 0; c < P->pool.n_cells; c++)
            if (g < 0 || fl_train_memory_capacity(cat, P->pool.cells[c].gpu) > fl_train_memory_capacity(cat, g))
                g = P->pool.cells[c].gpu;
        return fl_fail(err, FL_EINFEASIBLE, "job.model",
                       "%s (%.3g parameters) does not fit on any allowed GPU: even %s (%.1f GB usable) with one layer per "
                       "pipeline stage, the largest tensor parallelism in a node and %s recomputation runs out of memory",
                       job->model.name, job->model.params, fl_catalog_gpu(cat, (size_t)g)->name,
                       fl_train_memory_capacity(cat, g) / 1e9,
                       job->recompute == FL_RC_AUTO ? "full" : fl_recompute_name(job->recompute));
    }
    setting *S = &P->s[bs];
    fl_tp_solution sol;
    if (fl_tp_solution_alloc(&sol, &S->set, &P->pool))
        return fl_fail(err, FL_ENOMEM, "planner", "out of memory");
    fl_job jc = *job;
    jc.objective = FL_OBJ_MIN_COST;
    fl_tp_limits lim = limits_for(P, S);
    lim.budget = 0;
    lim.max_gpus = 0;
    lim.max_cost_iter = 0;
    lim.ignore_floor = 1;
    fl_tp_search_stats st;
    memset(&st, 0, sizeof st);
    fl_status rc = fl_tp_search(cat, &jc, &P->pool, &S->set, &lim, 0, &sol, &st, err);
    if (rc)
        goto out;
    if (!sol.feasible) {
        /* availability binds: smallest replica per GPU type vs what is available */
        const fl_tp_template *t = &S->set.tpl[bt];
        int gpu = P->pool.cells[t->cells[0]].gpu;
        long have = 0, best_zone = 0;
        for (int c = 0; c < P->pool.n_cells; c++)
            if (P->pool.cells[c].gpu == gpu) {
                have += P->pool.cells[c].avail;
                if (P->pool.cells[c].avail > best_zone)
                    best_zone = P->pool.cells[c].avail;
            }
        rc = fl_fail(err, FL_EINFEASIBLE, "availability",
                     "%s needs >= %d %s%s to hold its states (smallest pipeline that fits in memory); %ld available "
                     "(at most %ld in one zone)",
                     job->model.name, t->total_gpus, fl_catalog_gpu(cat, (size_t)gpu)->name,
                     t->n_cells > 1 ? " (with other GPU types)" : "", have, best_zone);
        goto out;
    }
    int smallest = sol.gpus;
    double cheapest = sol.cost;
    if (job->max_gpus > 0) {
        lim.max_gpus = job->max_gpus;
        rc = fl_tp_search(cat, &jc, &P->pool, &S->set, &lim, 0, &sol, &st, err);
        if (rc)
            goto out;
        if (!sol.feasible) {
            rc = fl_fail(err, FL_EINFEASIBLE, "job.max_gpus",
                         "job.max_gpus %d is below the %d GPUs the smallest feasible plan needs", job->max_gpus, smallest);
            goto out;
        }
        cheapest = sol.cost;
    }
    if (job->budget_per_hour > 0) {
        lim.budget = job->budget_per_hour;
        rc = fl_tp_search(cat, &jc, &P->pool, &S->set, &lim, 0, &sol, &st, err);
        if (rc)
            goto out;
        if (!sol.feasible) {
            rc = fl_fail(err, FL_EINFEASIBLE, "job.budget_per_hour",
                         "job.budget_per_hour $%.2f/h is below the cheapest feasible plan $%.2f/h", job->budget_per_hour,
                         cheapest);
            goto out;
        }
    }
    double cap = job_cost_cap(job);
    if (cap > 0) {
        /* the cheapest cost per iteration within the other limits (least $ per token) */
        fl_job jt = jc;
        jt.objective = FL_OBJ_MIN_COST_PER_TOKEN;
        rc = fl_tp_search(cat, &jt, &P->pool, &S->set, &lim, 0, &sol, &st, err);
        if (rc)
            goto out;
        double least = sol.feasible ? sol.cost * fl_tp_solution_time(&S->set, &sol) / 3600.0 : 0;
        lim.max_cost_iter = cap;
        rc = fl_tp_search(cat, &jt, &P->pool, &S->set, &lim, 0, &sol, &st, err);
        if (rc)
            goto out;
        if (!sol.feasible) {
            const char *f = job->max_cost_per_iteration > 0 && job->max_cost_per_iteration <= cap * (1 + 1e-12)
                                ? "job.max_cost_per_iteration" : "job.max_cost_per_million_tokens";
            rc = fl_fail(err, FL_EINFEASIBLE, f,
                         "%s: $%.4g per iteration (instances and egress) is below the cheapest feasible plan's "
                         "$%.4g per iteration", f, cap, least);
            goto out;
        }
    }
    /* throughput floor binds: report the fastest plan within the other limits */
    jc.objective = FL_OBJ_MAX_THROUGHPUT;
    double best_tps = 0;
    for (int i = 0; i < P->n; i++) {
        setting *Si = &P->s[i];
        if (!Si->set.n_tpl)
            continue;
        fl_tp_solution s2;
        if (fl_tp_solution_alloc(&s2, &Si->set, &P->pool))
            break;
        fl_tp_limits l2 = limits_for(P, Si);
        l2.ignore_floor = 1;
        if (!fl_tp_search(cat, &jc, &P->pool, &Si->set, &l2, 0, &s2, &st, NULL) && s2.feasible) {
            double v = fl_tp_solution_value(&jc, &Si->set, &s2);
            if (v > best_tps)
                best_tps = v;
        }
        fl_tp_solution_free(&s2);
    }
    if (job->min_tokens_per_s > 0 || json_is_number(json_object_get(job->raw, "deadline_hours")))
        rc = fl_fail(err, FL_EINFEASIBLE, job->min_tokens_per_s > 0 ? "job.min_tokens_per_s" : "job.deadline_hours",
                     "the required %.4g tokens/s exceeds the fastest feasible plan (about %.4g tokens/s within the "
                     "budget, max_gpus and availability)",
                     st.T_required > 0 ? (double)job->global_batch * job->seq_len / st.T_required : job->min_tokens_per_s,
                     best_tps);
    else
        rc = fl_fail(err, FL_EINFEASIBLE, "job",
                     "no plan passed the simulator's check (every candidate ran out of memory when simulated)");
out:
    fl_tp_solution_free(&sol);
    return rc;
}

/* Alternatives: best plans of the other settings, and re-solves of the winner with its
 * largest template excluded. */
static fl_status alternatives(planner *P, int win, json_t ***alts_out, size_t *n_out, fl_error *err)
{
    int k = P->opts->top_k - 1;
    *alts_out = NULL;
    *n_out = 0;
    if (k <= 0)
        return FL_OK;
    json_t **cand = calloc((size_t)(P->n + k + 1), sizeof *cand);
    double *score = calloc((size_t)(P->n + k + 1), sizeof *score);
    int nc = 0;
    fl_status rc = FL_OK;
    if (!cand || !score) {
        free(cand);
        free(score);
        return fl_fail(err, FL_ENOMEM, "planner", "out of memory");
    }
    for (int i = 0; i < P->n; i++)
        if (i != win && P->s[i].doc) {
            cand[nc] = json_incref(P->s[i].doc);
            score[nc++] = P->s[i].score;
        }
    setting *W = &P->s[win];
    fl_tp_solution sol;
    if (fl_tp_solution_alloc(&sol, &W->set, &P->pool)) {
        rc = fl_fail(err, FL_ENOMEM, "planner", "out of memory");
        goto out;
    }
    const fl_tp_solution *last = &W->sol;
    int *disabled = calloc((size_t)W->set.n_tpl + 1, sizeof *disabled);
    int nd = 0;
    for (int a = 0; a < k && disabled; a++) {
        int big = -1;
        for (int t = 0; t < W->set.n_tpl; t++)
            if (last->x[t] && (big < 0 || last->x[t] * W->set.tpl[t].total_gpus > last->x[big] * W->set.tpl[big].total_gpus))
                big = t;
        if (big < 0)
            break;
        W->set.tpl[big].disabled = 1;
        disabled[nd++] = big;
        fl_tp_limits lim = limits_for(P, W);
        fl_tp_search_stats st;
        memset(&st, 0, sizeof st);
        if ((rc = fl_tp_search(P->cat, P->job, &P->pool, &W->set, &lim, 0, &sol, &st, err)))
            break;
        add_stats(P, &st);
        if (!sol.feasible)
            break;
        json_t *doc;
        int bad;
        if ((rc = fl_tp_solution_doc(P->cat, P->job, &P->pool, &W->set, &sol, &doc, &bad, err)))
            break;
        if (doc) {
            json_object_set_new(doc, "solver", solver_obj(P, &(setting){.set = W->set, .sol = sol, .st = st}));
            cand[nc] = doc;
            score[nc++] = fl_tp_doc_score(P->job, doc);
        }
        last = &sol;
    }
    for (int i = 0; i < nd; i++)
        W->set.tpl[disabled[i]].disabled = 0;
    free(disabled);
    fl_tp_solution_free(&sol);
    if (rc)
        goto out;
    /* sort by score, drop duplicates of the winner or of each other */
    for (int i = 0; i < nc; i++)
        for (int j = i + 1; j < nc; j++)
            if (score[j] > score[i]) {
                json_t *d = cand[i]; cand[i] = cand[j]; cand[j] = d;
                double s = score[i]; score[i] = score[j]; score[j] = s;
            }
    json_t **out = calloc((size_t)k + 1, sizeof *out);
    if (!out) {
        rc = fl_fail(err, FL_ENOMEM, "planner", "out of memory");
        goto out;
    }
    json_t *wp = json_object_get(W->doc, "parallelism"), *wr = json_object_get(W->doc, "resources");
    for (int i = 0; i < nc && (int)*n_out < k; i++) {
        json_t *p = json_object_get(cand[i], "parallelism"), *r = json_object_get(cand[i], "resources");
        int dup = json_equal(p, wp) && json_equal(r, wr);
        for (size_t j = 0; j < *n_out && !dup; j++)
            dup = json_equal(p, json_object_get(out[j], "parallelism")) && json_equal(r, json_object_get(out[j], "resources"));
        if (dup)
            continue;
        out[(*n_out)++] = cand[i];
        cand[i] = NULL;
    }
    *alts_out = out;
out:
    for (int i = 0; i < nc; i++)
        json_decref(cand[i]);
    free(cand);
    free(score);
    return rc;
}

/* Cost/throughput frontier of the winning setting: the cheapest plan at several iteration
 * times (each a MILP under the job's budget: no point above it), simulated; dominated points dropped. */
static fl_status pareto(planner *P, int win, json_t *doc, fl_error *err)
{
    setting *W = &P->s[win];
    fl_tp_solution sol;
    if (fl_tp_solution_alloc(&sol, &W->set, &P->pool))
        return fl_fail(err, FL_ENOMEM, "planner", "out of memory");
    fl_tp_limits lim = limits_for(P, W);
    lim.ignore_floor = 1; /* the job's budget stays: no point above it is offered */
    fl_job jc = *P->job;
    jc.objective = FL_OBJ_MAX_THROUGHPUT;
    fl_tp_search_stats st;
    memset(&st, 0, sizeof st);
    fl_status rc = fl_tp_search(P->cat, &jc, &P->pool, &W->set, &lim, 0, &sol, &st, err);
    double pts[PARETO_POINTS][4]; /* $/h (instances + egress), tokens/s, GPUs, egress $/h */
    int np = 0;
    if (!rc && sol.feasible) {
        double Tmin = fl_tp_solution_time(&W->set, &sol), Tmax = 0;
        for (int t = 0; t < W->set.n_tpl; t++)
            if (!W->set.tpl[t].disabled && fl_tp_template_time_dp(&W->set.tpl[t], lim.total_mb, 1) > Tmax)
                Tmax = fl_tp_template_time_dp(&W->set.tpl[t], lim.total_mb, 1);
        double r = PARETO_POINTS > 1 && Tmax > Tmin ? pow(Tmax / Tmin, 1.0 / (PARETO_POINTS - 1)) : 1;
        for (int i = 0; i < PARETO_POINTS && !rc; i++) {
            double T = Tmin * pow(r, i) * (1 + 1e-9);
            rc = fl_tp_milp_solve(P->cat, &P->pool, &W->set, &lim, T, 1, &sol, err);
            P->solves++;
            P->milp_time_s += sol.time_s;
            P->time_limit_hits += sol.hit_time_limit;
            P->nodes += sol.nodes;
            if (rc || !sol.feasible)
                continue;
            json_t *d;
            int bad;
            if ((rc = fl_tp_solution_doc(P->cat, P->job, &P->pool, &W->set, &sol, &d, &bad, err)) || !d)
                continue;
            json_t *sim = json_object_get(d, "simulation");
            pts[np][3] = json_number_value(json_object_get(sim, "egress_per_hour"));
            pts[np][0] = json_number_value(json_object_get(sim, "cost_per_hour")) + pts[np][3];
            pts[np][1] = json_number_value(json_object_get(sim, "tokens_per_s"));
            pts[np][2] = sol.gpus;
            if (P->job->budget_per_hour <= 0 || pts[np][0] <= P->job->budget_per_hour * (1 + 1e-9))
                np++;
            json_decref(d);
            if (r == 1)
                break;
        }
    }
    fl_tp_solution_free(&sol);
    if (rc)
        return rc;
    json_t *arr = json_array();
    for (int i = 0; i < np; i++) {
        int dom = 0;
        for (int j = 0; j < np && !dom; j++)
            dom = j != i && pts[j][0] <= pts[i][0] && pts[j][1] >= pts[i][1] &&
                  (pts[j][0] < pts[i][0] || pts[j][1] > pts[i][1] || j < i);
        if (dom)
            continue;
        json_t *o = json_object();
        json_object_set_new(o, "cost_per_hour", json_real(pts[i][0] - pts[i][3]));
        json_object_set_new(o, "egress_per_hour", json_real(pts[i][3]));
        json_object_set_new(o, "tokens_per_s", json_real(pts[i][1]));
        json_object_set_new(o, "gpus", json_integer((json_int_t)pts[i][2]));
        /* insert sorted by cost */
        size_t at = json_array_size(arr);
        for (size_t k = 0; k < json_array_size(arr); k++)
            if (json_number_value(json_object_get(json_array_get(arr, k), "cost_per_hour")) +
                    json_number_value(json_object_get(json_array_get(arr, k), "egress_per_hour")) >
                pts[i][0]) {
                at = k;
                break;
            }
        json_array_insert_new(arr, at, o);
    }
    json_object_set_new(doc, "pareto", arr);
    return FL_OK;
}

/* Marginal value: objective gain from one more (largest) instance per (zone, GPU type). */
static fl_status marginal(planner *P, int win, json_t *doc, fl_error *err)
{
    setting *W = &P->s[win];
    json_t *arr = json_array();
    json_object_set_new(doc, "marginal_value", arr);
    double base = fl_tp_solution_value(P->job, &W->set, &W->sol);
    int *extra = calloc((size_t)P->pool.n_cells + 1, sizeof *extra);
    fl_tp_solution sol;
    if (!extra || fl_tp_solution_alloc(&sol, &W->set, &P->pool)) {
        free(extra);
        return fl_fail(err, FL_ENOMEM, "planner", "out of memory");
    }
    fl_status rc = FL_OK;
    for (int c = 0; c < P->pool.n_cells && c < MARGINAL_CELLS && !rc; c++) {
        const fl_tp_cell *cl = &P->pool.cells[c];
        json_t *o = json_object();
        json_object_set_new(o, "zone", json_string(fl_catalog_zone(P->cat, (size_t)cl->zone)->name));
        json_object_set_new(o, "gpu", json_string(fl_catalog_gpu(P->cat, (size_t)cl->gpu)->name));
        if (cl->avail < 0) {
            json_object_set_new(o, "extra_gpus", json_integer(0));
            json_object_set_new(o, "gain", json_real(0));
            json_object_set_new(o, "note", json_string("unlimited availability"));
            json_array_append_new(arr, o);
            continue;
        }
        extra[c] = cl->node;
        fl_tp_limits lim = limits_for(P, W);
        lim.extra_avail = extra;
        fl_tp_search_stats st;
        memset(&st, 0, sizeof st);
        rc = fl_tp_search(P->cat, P->job, &P->pool, &W->set, &lim, 0, &sol, &st, err);
        add_stats(P, &st);
        extra[c] = 0;
        double v = sol.feasible ? fl_tp_solution_value(P->job, &W->set, &sol) : base;
        json_object_set_new(o, "extra_gpus", json_integer(cl->node));
        json_object_set_new(o, "objective", json_real(v));
        json_object_set_new(o, "gain", json_real(v > base ? v - base : 0.0));
        json_array_append_new(arr, o);
    }
    json_object_set_new(doc, "marginal_objective", json_string(fl_objective_name(P->job->objective)));
    fl_tp_solution_free(&sol);
    free(extra);
    return rc;
}

fl_status fl_train_plan_pool(const fl_catalog *cat, const fl_job *job, const fl_availability *av,
                             const fl_plan_options *opts, json_t **doc_out, json_t ***alts_out,
                             size_t *n_alts_out, double *score_out, fl_error *err)
{
    *doc_out = NULL;
    *alts_out = NULL;
    *n_alts_out = 0;
    if (score_out)
        *score_out = 0;
    if (job->kind != FL_JOB_TRAINING)
        return fl_fail(err, FL_EMISUSE, "job.kind", "fl_train_plan_job: not a training job");
    planner *P = calloc(1, sizeof *P);
    if (!P)
        return fl_fail(err, FL_ENOMEM, "planner", "out of memory");
    P->cat = cat;
    P->job = job;
    P->opts = opts;
    P->t0 = now_s();
    P->lim_base.budget = job->budget_per_hour;
    P->lim_base.max_gpus = job->max_gpus;
    P->lim_base.max_cost_iter = job_cost_cap(job);
    int mb[16], nmb;
    fl_status rc = fl_tp_micro_batches(job, mb, &nmb, err);
    if (rc)
        goto out;
    if ((rc = fl_tp_pool_build(cat, job, av, &P->pool, err)))
        goto out;
    fl_recompute rcs[3];
    int nrc = 0;
    if (job->recompute == FL_RC_AUTO) {
        rcs[nrc++] = FL_RC_NONE;
        rcs[nrc++] = FL_RC_SELECTIVE;
        rcs[nrc++] = FL_RC_FULL;
    } else {
        rcs[nrc++] = job->recompute;
    }
    double beat = 0;
    for (int r = 0; r < nrc && !rc; r++)
        for (int b = 0; b < nmb && !rc && P->n < MAX_SETTINGS; b++) {
            setting *S = &P->s[P->n++];
            fl_train_setup_from_job(&S->set.setup, job);
            S->set.setup.micro_batch = mb[b];
            S->set.setup.recompute = rcs[r];
            rc = run_setting(P, S, job->objective == FL_OBJ_MIN_COST ? 0 : beat, err);
            if (!rc && S->doc && job->objective != FL_OBJ_MIN_COST) {
                double v = fl_tp_solution_value(job, &S->set, &S->sol);
                if (v > beat)
                    beat = v;
            }
        }
    if (rc)
        goto out;
    {
        int types = 0;
        for (int g = 0; g < (int)fl_catalog_gpu_count(cat); g++)
            for (int c = 0; c < P->pool.n_cells; c++)
                if (P->pool.cells[c].gpu == g) {
                    types++;
                    break;
                }
        int lead = -1;
        for (int i = 0; i < P->n; i++)
            if (P->s[i].doc && (lead < 0 || P->s[i].score > P->s[lead].score))
                lead = i;
        /* the leading setting and, with few GPU types, the next two best */
        int second = -1, third = -1;
        for (int i = 0; i < P->n; i++) {
            if (!P->s[i].doc || i == lead)
                continue;
            if (second < 0 || P->s[i].score > P->s[second].score) {
                third = second;
                second = i;
            } else if (third < 0 || P->s[i].score > P->s[third].score) {
                third = i;
            }
        }
        for (int i = 0; i < P->n && !rc && types > 1 && job->target == FL_TARGET_FLOTILLA; i++)
            if (i == lead || (types <= 3 && (i == second || i == third)))
                rc = homogeneous_fallback(P, &P->s[i], err);
    }
    if (rc)
        goto out;
    int win = -1;
    for (int i = 0; i < P->n; i++)
        if (P->s[i].doc && (win < 0 || P->s[i].score > P->s[win].score))
            win = i;
    if (win < 0) {
        rc = explain_infeasible(P, err);
        goto out;
    }
    setting *W = &P->s[win];
    json_t *doc = W->doc;
    if (job->target != FL_TARGET_FLOTILLA) {
        /* alternatives, Pareto points and marginal values stay within the winning shape */
        int used = -1;
        for (int t = 0; t < W->set.n_tpl && used < 0; t++)
            if (W->sol.x[t] > 0)
                used = t;
        for (int t = 0; t < W->set.n_tpl && used >= 0; t++)
            if (!fl_tp_same_shape(&P->pool, &W->set, used, t))
                W->set.tpl[t].disabled = 1;
    }
    if (opts->top_k > 1 && (rc = alternatives(P, win, alts_out, n_alts_out, err)))
        goto out;
    if (opts->pareto && (rc = pareto(P, win, doc, err)))
        goto out;
    if (opts->marginal && (rc = marginal(P, win, doc, err)))
        goto out;
    json_object_set_new(doc, "solver", solver_obj(P, W));
    json_object_set_new(doc, "summary", summary_lines(cat, doc));
    for (size_t i = 0; i < *n_alts_out; i++) {
        json_t *a = (*alts_out)[i];
        if (!json_object_get(a, "solver"))
            json_object_set_new(a, "solver", solver_obj(P, W));
        json_object_set_new(a, "summary", summary_lines(cat, a));
    }
    W->doc = NULL;
    *doc_out = doc;
    if (score_out)
        *score_out = W->score;
out:
    if (rc) {
        for (size_t i = 0; i < *n_alts_out; i++)
            json_decref((*alts_out)[i]);
        free(*alts_out);
        *alts_out = NULL;
        *n_alts_out = 0;
    }
    for (int i = 0; i < P->n; i++) {
        json_decref(P->s[i].doc);
        fl_tp_solution_free(&P->s[i].sol);
        fl_tp_set_free(&P->s[i].set);
    }
    fl_tp_pool_free(&P->pool);
    free(P);
    return rc;
}
