/* planner/train_milp.c — the training planner's MILP (GLPK) at a fixed iteration time T.
 *
 * Integer variables: x_t replicas of template t and I_o instances of offer o. With T fixed,
 * a replica of t can carry at most mmax_t(T) micro-batches and still finish within T, so
 * "every replica finishes within T and the global batch is honoured" becomes the covering row
 *   sum_t mmax_t(T) x_t >= global_batch / micro_batch,   sum_t x_t <= global_batch / micro_batch,
 * and the exact micro-batch counts are assigned afterwards (each replica >= 1, <= mmax_t, total
 * exactly the global batch). Further rows: GPUs of stages with tp >= k of a cell fit in that
 * cell's instances with >= k GPUs (k = 1,2,4,8: tensor-parallel groups stay inside a node),
 * availability per cell in whole instances, max_gpus, and the budget (instances + cross-zone
 * activation egress). The objective is the hourly cost, or nothing for feasibility checks.
 *
 * Determinism: the branch-and-bound is cut off by a node budget (counted in the callback), never
 * by the clock, so the same input gives the same plan on any machine and under any load. GLPK's
 * own time limit stays only as a generous safety net; hitting it is reported (hit_time_limit).
 * Columns dominated at this T (same cells, no more GPUs at any tp level, no fewer micro-batch
 * slots, no more egress) are left out: they cannot improve any solution.
 *
 * Data-parallel all-reduce (train_dp.c): a replica's slots are counted at T minus its template's
 * exposed all-reduce tail, which is larger when the plan's DP group spans zones. When that
 * changes some template's slots, zone binaries w_z and a "spans zones" binary s (sum <= 1) gate
 * one-zone and spanning copies of the template columns, and the replica count is capped at the
 * group size the tails assumed (set->dp_n). */
#include "planner/train_internal.h"
#include "planner/train_heur.h"
#include "planner/train_regions.h"
#include "common/error.h"

#include <glpk.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void fl_train_thread_done(void)
{
    glp_free_env();
}

fl_status fl_tp_solution_alloc(fl_tp_solution *sol, const fl_tp_set *set, const fl_tp_pool *pool)
{
    memset(sol, 0, sizeof *sol);
    sol->x = calloc((size_t)set->n_tpl + 1, sizeof *sol->x);
    sol->s = calloc((size_t)set->n_tpl + 1, sizeof *sol->s);
    sol->inst = calloc((size_t)pool->n_offers + 1, sizeof *sol->inst);
    if (!sol->x || !sol->s || !sol->inst) {
        fl_tp_solution_free(sol);
        return FL_ENOMEM;
    }
    return FL_OK;
}

void fl_tp_solution_free(fl_tp_solution *sol)
{
    if (!sol)
        return;
    free(sol->x);
    free(sol->s);
    free(sol->inst);
    memset(sol, 0, sizeof *sol);
}

#define FL_TP_MIP_GAP 0.005     /* relative gap accepted for cost minimisation */
#define FEAS_NODE_LIMIT 50      /* feasibility check: unresolved after this many nodes = infeasible */
#define COST_NODE_LIMIT 100     /* cost minimisation: keep the incumbent after this many nodes */
#define SAFETY_TIME_LIMIT_S 10.0 /* default wall-clock safety net per solve (reported when hit) */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

typedef struct cb_info {
    double gap;       /* smallest relative gap GLPK reported */
    int feas_mode;    /* maximising micro-batch slots: stop once the answer is known */
    double need;      /* slots needed (global batch / micro-batch) */
    int nodes;        /* subproblems selected so far (GLP_ISELECT events) */
    int node_limit;   /* deterministic work budget */
    int budget_hit;   /* 1: stopped by the node budget */
    const fl_tp_heur *heur; /* greedy rounding at each node (GLP_IHEUR) */
    double *xf, *xi;  /* scratch: node LP point, rounded point */
    const double *root; /* rounded point found before branching, offered at the first node */
} cb_info;

/* Records the MIP gap and counts nodes; stops the search once the node budget is spent. In
 * feasibility mode (maximise micro-batch slots) it also stops as soon as an incumbent covers
 * the global batch or the best bound shows none can. */
static void mip_cb(glp_tree *tree, void *info)
{
    cb_info *ci = info;
    int r = glp_ios_reason(tree);
    glp_prob *lp = glp_ios_get_prob(tree);
    if (ci->feas_mode && glp_mip_status(lp) == GLP_FEAS && glp_mip_obj_val(lp) >= ci->need - 1e-6) {
        glp_ios_terminate(tree);
        return;
    }
    if (r == GLP_IHEUR && ci->heur) {
        if (ci->root) {
            glp_ios_heur_sol(tree, ci->root);
            ci->root = NULL;
        }
        /* every node early on, then every 8th: rounding costs about as much as a node */
        if (ci->nodes > 16 && ci->nodes % 8)
            return;
        int n = glp_get_num_cols(lp);
        for (int j = 1; j <= n; j++)
            ci->xf[j] = glp_get_col_prim(lp, j);
        if (fl_tp_heur_round(ci->heur, ci->xf, ci->xi))
            glp_ios_heur_sol(tree, ci->xi);
        return;
    }
    if (r == GLP_IBRANCH && ci->heur) {
        /* Branch on what is rented before the replicas: a fractional region/zone binary first,
         * then the most fractional instance count. Once the GPUs rented are whole, the replica
         * part is usually settled by the LP bound or the rounding heuristic; left to itself GLPK
         * spends most nodes on replica columns. Only templates left: GLPK's own rule. */
        int n = glp_get_num_cols(lp), pick = 0;
        double best = -1;
        for (int j = 1; j <= n; j++) {
            if (ci->heur->kind[j] == FL_TP_HCOL_TEMPLATE || !glp_ios_can_branch(tree, j))
                continue;
            double v = glp_get_col_prim(lp, j), f = v - floor(v);
            double score = (ci->heur->kind[j] == FL_TP_HCOL_REGION ? 2 : 0) + fmin(f, 1 - f);
            if (score > best) {
                best = score;
                pick = j;
            }
        }
        if (pick)
            glp_ios_branch_upon(tree, pick, GLP_NO_BRNCH);
        return;
    }
    if (r != GLP_IBINGO && r != GLP_ISELECT)
        return;
    if (r == GLP_ISELECT && ++ci->nodes > ci->node_limit) {
        ci->budget_hit = 1;
        glp_ios_terminate(tree);
        return;
    }
    double g = glp_ios_mip_gap(tree);
    if (g < ci->gap)
        ci->gap = g;
    if (!ci->feas_mode)
        return;
    if (r == GLP_ISELECT) {
        int best = glp_ios_best_node(tree);
        if (best && glp_ios_node_bound(tree, best) < ci->need - 1e-6)
            glp_ios_terminate(tree);
    }
}

static int cell_in_region(const fl_catalog *cat, const fl_tp_pool *pool, int c, const char *region)
{
    return !region || strcmp(fl_catalog_zone(cat, (size_t)pool->cells[c].zone)->region, region) == 0;
}

/* Templates grouped by their cell list (same cells in the same order). */
typedef struct tpl_key {
    int n_cells, cells[FL_TPL_MAX_CELLS], idx;
} tpl_key;

static int key_cmp(const void *a, const void *b)
{
    const tpl_key *x = a, *y = b;
    if (x->n_cells != y->n_cells)
        return x->n_cells < y->n_cells ? -1 : 1;
    for (int k = 0; k < x->n_cells; k++)
        if (x->cells[k] != y->cells[k])
            return x->cells[k] < y->cells[k] ? -1 : 1;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

/* 1 when, at this T, a replica of y does everything a replica of x does with no more of
 * anything: no more GPUs of any cell at any tp level, no fewer micro-batch slots in either DP
 * situation, no more egress per replica (same cells assumed). */
static int dominates_at_T(const fl_tp_template *y, const long *my, const fl_tp_template *x, const long *mx)
{
    for (int k = 0; k < 2; k++)
        if (my[k] < mx[k] || (double)my[k] * y->egress_gb * y->egress_price > (double)mx[k] * x->egress_gb * x->egress_price)
            return 0;
    for (int k = 0; k < x->n_cells; k++)
        for (int l = 0; l < FL_TP_LEVELS; l++)
            if (y->gpus[k][l] > x->gpus[k][l])
                return 0;
    return 1;
}

/* Zero mm[2t], mm[2t+1] (no column) for templates dominated at this T by another template of
 * the same cells; of exact ties the lower index stays. Deterministic: depends only on the data. */
static fl_status drop_dominated_at_T(const fl_tp_set *set, long *mm, fl_error *err)
{
    int n = 0;
    tpl_key *keys = malloc(((size_t)set->n_tpl + 1) * sizeof *keys);
    if (!keys)
        return fl_fail(err, FL_ENOMEM, "planner", "out of memory");
    for (int t = 0; t < set->n_tpl; t++) {
        if (mm[2 * t] < 1 && mm[2 * t + 1] < 1)
            continue;
        tpl_key *k = &keys[n++];
        memset(k, 0, sizeof *k);
        k->n_cells = set->tpl[t].n_cells;
        memcpy(k->cells, set->tpl[t].cells, sizeof k->cells);
        k->idx = t;
    }
    qsort(keys, (size_t)n, sizeof *keys, key_cmp);
    for (int g0 = 0, g1; g0 < n; g0 = g1) {
        for (g1 = g0 + 1; g1 < n && keys[g1].n_cells == keys[g0].n_cells &&
                          memcmp(keys[g1].cells, keys[g0].cells, sizeof keys[g0].cells) == 0;
             g1++)
            ;
        for (int i = g0; i < g1; i++) {
            int x = keys[i].idx;
            for (int j = g0; j < g1 && (mm[2 * x] > 0 || mm[2 * x + 1] > 0); j++) {
                int y = keys[j].idx;
                if (j == i || (mm[2 * y] < 1 && mm[2 * y + 1] < 1) ||
                    !dominates_at_T(&set->tpl[y], &mm[2 * y], &set->tpl[x], &mm[2 * x]))
                    continue;
                /* exact ties: keep the lower index */
                if (!dominates_at_T(&set->tpl[x], &mm[2 * x], &set->tpl[y], &mm[2 * y]) || y < x)
                    mm[2 * x] = mm[2 * x + 1] = 0;
            }
        }
    }
    free(keys);
    return FL_OK;
}

/* Sparse matrix builder. */
typedef struct coo {
    int *ia, *ja;
    double *ar;
    int n, cap;
} coo;

static int coo_add(coo *m, int i, int j, double v)
{
    if (v == 0)
        return 0;
    if (m->n + 1 >= m->cap) {
        int nc = m->cap ? 2 * m->cap : 1024;
        int *ia = realloc(m->ia, (size_t)nc * sizeof *ia);
        if (ia) m->ia = ia;
        int *ja = realloc(m->ja, (size_t)nc * sizeof *ja);
        if (ja) m->ja = ja;
        double *ar = realloc(m->ar, (size_t)nc * sizeof *ar);
        if (ar) m->ar = ar;
        if (!ia || !ja || !ar)
            return -1;
        m->cap = nc;
    }
    m->n++;
    m->ia[m->n] = i;
    m->ja[m->n] = j;
    m->ar[m->n] = v;
    return 0;
}

/* One template column: replicas of template t carrying up to `slots` micro-batches each, in the
 * DP situation `mode` (0 one zone, 1 spanning zones, -1 either: the slots are the same). */
typedef struct tcol {
    int col, t, mode;
    long slots;
} tcol;

/* Framework targets: drop replicas (slowest per micro-batch first) until their count d divides
 * M, give each M / d micro-batches, and return instances no longer needed (while
 * every tp level of the cell keeps enough GPUs). Returns 1 when nothing is left. */
static int equal_replicas(const fl_tp_pool *pool, const fl_tp_set *set, long M, fl_tp_solution *sol)
{
    long dp = 0;
    for (int t = 0; t < set->n_tpl; t++)
        dp += sol->x[t];
    long d = dp;
    while (d > 0 && M % d)
        d--;
    if (d <= 0)
        return 1;
    for (long k = dp; k > d; k--) {
        int w = -1;
        for (int t = 0; t < set->n_tpl; t++)
            if (sol->x[t] > 0 && (w < 0 || set->tpl[t].slope > set->tpl[w].slope))
                w = t;
        sol->x[w]--;
    }
    for (int t = 0; t < set->n_tpl; t++)
        sol->s[t] = sol->x[t] * (M / d);
    for (int c = 0; c < pool->n_cells; c++) {
        long need[FL_TP_LEVELS] = {0};
        for (int t = 0; t < set->n_tpl; t++)
            for (int k = 0; k < set->tpl[t].n_cells; k++)
                if (set->tpl[t].cells[k] == c)
                    for (int l = 0; l < FL_TP_LEVELS; l++)
                        need[l] += (long)sol->x[t] * set->tpl[t].gpus[k][l];
        for (int again = 1; again;) {
            again = 0;
            for (int o = 0; o < pool->n_offers; o++) {
                const fl_tp_offer *of = &pool->offers[o];
                if (of->cell != c || sol->inst[o] <= 0)
                    continue;
                int ok = 1;
                for (int l = 0; l < FL_TP_LEVELS && ok; l++) {
                    long have = 0;
                    for (int q = 0; q < pool->n_offers; q++)
                        if (pool->offers[q].cell == c && pool->offers[q].gpi >= (1 << l))
                            have += (long)sol->inst[q] * pool->offers[q].gpi;
                    if (of->gpi >= (1 << l))
                        have -= of->gpi;
                    ok = have >= need[l];
                }
                if (ok) {
                    sol->inst[o]--;
                    again = 1;
                }
            }
        }
    }
    return 0;
}

fl_status fl_tp_milp_solve(const fl_catalog *cat, const fl_tp_pool *pool, const fl_tp_set *set,
                           const fl_tp_limits *lim, double T, int cost_objective, fl_tp_solution *sol,
                           fl_error *err)
{
    double t0 = now_s();
    sol->feasible = 0;
    sol->T = T;
    sol->cost = 0;
    sol->gpus = 0;
    sol->status_optimal = 0;
    sol->mip_gap = 0;
    sol->hit_time_limit = 0;
    sol->nodes = 0;
    sol->span = 0;
    sol->egress_dp = 0;
    memset(sol->x, 0, (size_t)set->n_tpl * sizeof *sol->x);
    memset(sol->s, 0, (size_t)set->n_tpl * sizeof *sol->s);
    memset(sol->inst, 0, (size_t)pool->n_offers * sizeof *sol->inst);

    long M = lim->total_mb;
    int nt = set->n_tpl, no = pool->n_offers, nc = pool->n_cells, nz = (int)fl_catalog_zone_count(cat);
    int *ocol = calloc((size_t)no + 1, sizeof *ocol);
    char *cell_ok = calloc((size_t)nc + 1, 1);
    int *creg = NULL, *rcol = NULL, *zcol = calloc((size_t)nz + 1, sizeof *zcol), scol = 0, ntc = 0;
    tcol *tc = calloc(2 * (size_t)nt + 1, sizeof *tc);
    long *mm = NULL;
    coo A = {0};
    fl_tp_heur H;
    memset(&H, 0, sizeof H);
    double *hx = NULL, *hf = NULL, *hr = NULL;
    const double *val = NULL;
    glp_prob *lp = NULL;
    fl_status rc = FL_OK;
    if (!ocol || !cell_ok || !zcol || !tc) {
        rc = fl_fail(err, FL_ENOMEM, "planner", "out of memory");
        goto done;
    }
    for (int c = 0; c < nc; c++)
        cell_ok[c] = (char)cell_in_region(cat, pool, c, lim->region);

    /* micro-batch slots per replica in both DP situations: mm[2t] one zone, mm[2t+1] spanning */
    mm = calloc(2 * (size_t)nt + 2, sizeof *mm);
    if (!mm) {
        rc = fl_fail(err, FL_ENOMEM, "planner", "out of memory");
        goto done;
    }
    for (int t = 0; t < nt; t++) {
        const fl_tp_template *tp = &set->tpl[t];
        int ok = !tp->disabled;
        for (int k = 0; k < tp->n_cells && ok; k++)
            ok &= cell_ok[tp->cells[k]];
        mm[2 * t] = ok && tp->zone >= 0 ? fl_tp_template_max_mb(tp, T - tp->dp_tail[0], M) : 0;
        mm[2 * t + 1] = ok ? fl_tp_template_max_mb(tp, T - tp->dp_tail[1], M) : 0;
    }
    if ((rc = drop_dominated_at_T(set, mm, err)))
        goto done;
    /* The situations differ only when some template loses slots when the plan spans zones;
     * then a binary per zone (w_z) and one for "spans zones" (s) with sum w_z + s <= 1 gate the
     * columns: one-zone columns need their zone's w_z, spanning columns need s. Otherwise
     * every template has one ungated column. */
    int modes = set->dp_span_egress > 0; /* spanning zones also bills the gradients' egress */
    for (int t = 0; t < nt && !modes; t++)
        modes = set->tpl[t].zone >= 0 && mm[2 * t] > 0 && mm[2 * t + 1] < mm[2 * t];
    /* $/h of the spanning situation's gradient egress at this T; the caps per iteration become a
     * budget at this T */
    double span_cost = set->dp_span_egress * 3600.0 / T;
    double budget = lim->budget;
    if (lim->max_cost_iter > 0 && (budget <= 0 || lim->max_cost_iter * 3600.0 / T < budget))
        budget = lim->max_cost_iter * 3600.0 / T;

    lp = glp_create_prob();
    glp_set_obj_dir(lp, GLP_MIN);
    int ncol = 0;
    for (int t = 0; t < nt; t++) {
        const fl_tp_template *tp = &set->tpl[t];
        long m0 = mm[2 * t], m1 = mm[2 * t + 1];
        if (m0 < 1 && m1 < 1)
            continue;
        /* exact replica bound: what the cells' availability and max_gpus can hold */
        double xub = (double)M;
        for (int k = 0; k < tp->n_cells; k++) {
            const fl_tp_cell *cl = &pool->cells[tp->cells[k]];
            if (cl->avail >= 0 && !lim->no_availability && tp->gpus[k][0] > 0)
                xub = fmin(xub, floor((cl->avail + (lim->extra_avail ? lim->extra_avail[tp->cells[k]] : 0)) /
                                      (double)tp->gpus[k][0]));
        }
        if (lim->max_gpus > 0 && tp->total_gpus > 0)
            xub = fmin(xub, floor((double)lim->max_gpus / tp->total_gpus));
        xub = fmin(xub, set->dp_n[0] > 0 ? set->dp_n[0] : (double)M);
        tcol cand[2];
        int nk = 0;
        if (!modes || tp->zone < 0) {
            cand[nk++] = (tcol){.t = t, .mode = -1, .slots = tp->zone < 0 ? m1 : m0};
        } else if (m1 == m0) {
            cand[nk++] = (tcol){.t = t, .mode = -1, .slots = m0};
        } else {
            cand[nk++] = (tcol){.t = t, .mode = 0, .slots = m0};
            if (m1 > 0)
                cand[nk++] = (tcol){.t = t, .mode = 1, .slots = m1};
        }
        for (int k = 0; k < nk; k++) {
            if (cand[k].slots < 1)
                continue;
            tcol *c = &tc[ntc++];
            *c = cand[k];
            c->col = ++ncol;
            glp_add_cols(lp, 1);
            glp_set_col_kind(lp, ncol, GLP_IV);
            double ub = c->mode == 1 ? fmin(xub, set->dp_n[1]) : xub;
            if (ub < 1)
                glp_set_col_bnds(lp, ncol, GLP_FX, 0, 0);
            else
                glp_set_col_bnds(lp, ncol, GLP_DB, 0, ub);
            if (cost_objective)
                glp_set_obj_coef(lp, ncol, (double)c->slots * tp->egress_gb * tp->egress_price * 3600.0 / T);
        }
    }
    for (int o = 0; o < no; o++) {
        const fl_tp_offer *f = &pool->offers[o];
        if (!cell_ok[f->cell])
            continue;
        const fl_tp_cell *cl = &pool->cells[f->cell];
        ocol[o] = ++ncol;
        glp_add_cols(lp, 1);
        glp_set_col_kind(lp, ncol, GLP_IV);
        double ub = 1e7;
        if (cl->avail >= 0 && !lim->no_availability)
            ub = (cl->avail + (lim->extra_avail ? lim->extra_avail[f->cell] : 0)) / f->gpi;
        if (lim->max_gpus > 0 && lim->max_gpus / f->gpi < ub)
            ub = lim->max_gpus / f->gpi;
        if (ub < 1)
            glp_set_col_bnds(lp, ncol, GLP_FX, 0, 0);
        else
            glp_set_col_bnds(lp, ncol, GLP_DB, 0, ub);
        if (cost_objective)
            glp_set_obj_coef(lp, ncol, f->price);
    }
    /* One region per plan: data-parallel all-reduce across regions is 4-6x slower and billed as
     * egress, so a binary u_r per region and sum_r u_r <= 1, x_t <= M u_r(t). Templates that
     * span regions are left out when the pool covers several regions. */
    int nreg = 0;
    creg = calloc((size_t)nc + 1, sizeof *creg);
    if (!creg) {
        rc = fl_fail(err, FL_ENOMEM, "planner", "out of memory");
        goto done;
    }
    for (int c = 0; c < nc; c++) {
        const char *rn = fl_catalog_zone(cat, (size_t)pool->cells[c].zone)->region;
        creg[c] = -1;
        for (int d = 0; d < c && creg[c] < 0; d++)
            if (strcmp(rn, fl_catalog_zone(cat, (size_t)pool->cells[d].zone)->region) == 0)
                creg[c] = creg[d];
        if (creg[c] < 0)
            creg[c] = nreg++;
    }
    if (nreg > 1) {
        for (int i = 0; i < ntc; i++) {
            const fl_tp_template *tp = &set->tpl[tc[i].t];
            for (int k = 1; k < tp->n_cells; k++)
                if (creg[tp->cells[k]] != creg[tp->cells[0]]) {
                    glp_set_col_bnds(lp, tc[i].col, GLP_FX, 0, 0);
                    break;
                }
        }
        rcol = calloc((size_t)nreg, sizeof *rcol);
        if (!rcol) {
            rc = fl_fail(err, FL_ENOMEM, "planner", "out of memory");
            goto done;
        }
        for (int r = 0; r < nreg; r++) {
            rcol[r] = ++ncol;
            glp_add_cols(lp, 1);
            glp_set_col_kind(lp, ncol, GLP_BV);
        }
    }
    if (modes) {
        for (int i = 0; i < ntc; i++) {
            int z = set->tpl[tc[i].t].zone;
            if (tc[i].mode != 1 && z >= 0 && !zcol[z]) {
                zcol[z] = ++ncol;
                glp_add_cols(lp, 1);
                glp_set_col_kind(lp, ncol, GLP_BV);
            }
        }
        scol = ++ncol;
        glp_add_cols(lp, 1);
        glp_set_col_kind(lp, ncol, GLP_BV);
        if (cost_objective)
            glp_set_obj_coef(lp, scol, span_cost);
    }
    if (ntc == 0 || ncol == 0)
        goto done; /* infeasible at this T: no template finishes one micro-batch in time */

    int row = 0;
#define NEWROW(type, lb, ub)                       \
    do {                                           \
        row = glp_add_rows(lp, 1);                 \
        glp_set_row_bnds(lp, row, (type), (lb), (ub)); \
    } while (0)
#define ADD(col, v)                                \
    do {                                           \
        if (coo_add(&A, row, (col), (v))) {        \
            rc = fl_fail(err, FL_ENOMEM, "planner", "out of memory"); \
            goto done;                             \
        }                                          \
    } while (0)
    /* global batch: enough micro-batch slots, no more replicas than micro-batches */
    if (cost_objective) {
        NEWROW(GLP_LO, (double)M, 0);
        for (int i = 0; i < ntc; i++)
            ADD(tc[i].col, (double)tc[i].slots);
    } else {
        /* feasibility: maximise the micro-batch slots instead (always feasible, and the bound
         * proves infeasibility early); slots beyond M are worth nothing */
        glp_set_obj_dir(lp, GLP_MAX);
        for (int i = 0; i < ntc; i++)
            glp_set_obj_coef(lp, tc[i].col, (double)tc[i].slots);
    }
    /* replicas: at most one per micro-batch and at most the DP group the tails assumed
     * (dp_n[0] in one zone, dp_n[1] spanning: sum x + (dp_n[0] - dp_n[1]) s <= dp_n[0]) */
    double n0 = fmin((double)M, set->dp_n[0] > 0 ? set->dp_n[0] : (double)M);
    NEWROW(GLP_UP, 0, n0);
    for (int i = 0; i < ntc; i++)
        ADD(tc[i].col, 1);
    if (modes && set->dp_n[1] < n0)
        ADD(scol, n0 - set->dp_n[1]);
    /* GPUs per cell and tp level, availability per cell */
    for (int c = 0; c < nc; c++) {
        if (!cell_ok[c])
            continue;
        for (int l = 0; l < FL_TP_LEVELS; l++) {
            int used = 0;
            for (int i = 0; i < ntc; i++) {
                const fl_tp_template *tp = &set->tpl[tc[i].t];
                for (int k = 0; k < tp->n_cells; k++)
                    if (tp->cells[k] == c && tp->gpus[k][l]) {
                        if (!used) {
                            NEWROW(GLP_UP, 0, 0);
                            used = 1;
                        }
                        ADD(tc[i].col, tp->gpus[k][l]);
                    }
            }
            if (!used)
                continue;
            for (int o = 0; o < no; o++)
                if (ocol[o] && pool->offers[o].cell == c && pool->offers[o].gpi >= (1 << l))
                    ADD(ocol[o], -pool->offers[o].gpi);
        }
        const fl_tp_cell *cl = &pool->cells[c];
        if (cl->avail >= 0 && !lim->no_availability) {
            double cap = cl->avail + (lim->extra_avail ? lim->extra_avail[c] : 0);
            /* with several regions the cell's capacity exists only when its region is chosen:
             * sum gpi I_o <= cap u_r (much tighter LP than the replica big-M alone) */
            if (nreg > 1) {
                NEWROW(GLP_UP, 0, 0);
                ADD(rcol[creg[c]], -cap);
            } else {
                NEWROW(GLP_UP, 0, cap);
            }
            for (int o = 0; o < no; o++)
                if (ocol[o] && pool->offers[o].cell == c)
                    ADD(ocol[o], pool->offers[o].gpi);
        } else if (nreg > 1) {
            for (int o = 0; o < no; o++)
                if (ocol[o] && pool->offers[o].cell == c) {
                    NEWROW(GLP_UP, 0, 0);
                    ADD(ocol[o], 1);
                    ADD(rcol[creg[c]], -glp_get_col_ub(lp, ocol[o]));
                }
        }
    }
    if (nreg > 1) {
        NEWROW(GLP_UP, 0, 1);
        for (int r = 0; r < nreg; r++)
            ADD(rcol[r], 1);
        for (int i = 0; i < ntc; i++) {
            NEWROW(GLP_UP, 0, 0);
            ADD(tc[i].col, 1);
            ADD(rcol[creg[set->tpl[tc[i].t].cells[0]]], -glp_get_col_ub(lp, tc[i].col));
        }
    }
    if (modes) {
        /* one zone (w_z) or spanning (s); x <= ub w_z, x <= ub s, or x <= ub (w_z + s) */
        NEWROW(GLP_UP, 0, 1);
        for (int z = 0; z < nz; z++)
            if (zcol[z])
                ADD(zcol[z], 1);
        ADD(scol, 1);
        for (int i = 0; i < ntc; i++) {
            double ub = glp_get_col_ub(lp, tc[i].col);
            int z = set->tpl[tc[i].t].zone;
            NEWROW(GLP_UP, 0, 0);
            ADD(tc[i].col, 1);
            if (tc[i].mode != 1 && z >= 0)
                ADD(zcol[z], -ub);
            if (tc[i].mode != 0)
                ADD(scol, -ub);
        }
    }
    if (lim->max_gpus > 0) {
        NEWROW(GLP_UP, 0, lim->max_gpus);
        for (int o = 0; o < no; o++)
            if (ocol[o])
                ADD(ocol[o], pool->offers[o].gpi);
    }
    if (budget > 0) {
        NEWROW(GLP_UP, 0, budget);
        if (scol && span_cost > 0)
            ADD(scol, span_cost);
        for (int o = 0; o < no; o++)
            if (ocol[o])
                ADD(ocol[o], pool->offers[o].price);
        for (int i = 0; i < ntc; i++) {
            const fl_tp_template *tp = &set->tpl[tc[i].t];
            if (tp->egress_gb > 0)
                ADD(tc[i].col, (double)tc[i].slots * tp->egress_gb * tp->egress_price * 3600.0 / T);
        }
    }
#undef NEWROW
#undef ADD
    glp_load_matrix(lp, A.n, A.ia, A.ja, A.ar);

    /* LP relaxation first: when even it cannot cover the batch (or is infeasible), no MILP */
    glp_smcp sp;
    glp_init_smcp(&sp);
    sp.msg_lev = GLP_MSG_OFF;
    int lr = glp_simplex(lp, &sp);
    if (lr != 0 || glp_get_status(lp) != GLP_OPT)
        goto done;
    if (!cost_objective && glp_get_obj_val(lp) < (double)M - 1e-6)
        goto done;
    /* greedy rounding of the LP point: settles most feasibility checks without branching */
    int nrow = glp_get_num_rows(lp);
    if (fl_tp_heur_init(&H, nrow, ncol, A.n, A.ia, A.ja, A.ar) ||
        !(hx = calloc((size_t)ncol + 1, sizeof *hx)) || !(hf = calloc((size_t)ncol + 1, sizeof *hf)) ||
        !(hr = calloc((size_t)ncol + 1, sizeof *hr))) {
        rc = fl_fail(err, FL_ENOMEM, "planner", "out of memory");
        goto done;
    }
    for (int i = 1; i <= nrow; i++) {
        int ty = glp_get_row_type(lp, i);
        H.rlb[i] = ty == GLP_LO || ty == GLP_DB || ty == GLP_FX ? glp_get_row_lb(lp, i) : -1e300;
        H.rub[i] = ty == GLP_UP || ty == GLP_DB || ty == GLP_FX ? glp_get_row_ub(lp, i) : 1e300;
    }
    for (int j = 1; j <= ncol; j++) {
        int ty = glp_get_col_type(lp, j);
        H.cub[j] = ty == GLP_FR || ty == GLP_LO ? 1e300 : glp_get_col_ub(lp, j);
        H.kind[j] = FL_TP_HCOL_REGION;
        H.group[j] = 1;
        hf[j] = glp_get_col_prim(lp, j);
    }
    for (int z = 0; z < nz; z++)
        if (zcol[z])
            H.group[zcol[z]] = 2;
    if (scol)
        H.group[scol] = 2;
    for (int i = 0; i < ntc; i++) {
        H.kind[tc[i].col] = FL_TP_HCOL_TEMPLATE;
        H.group[tc[i].col] = 0;
        H.slots[tc[i].col] = (double)tc[i].slots;
        H.price[tc[i].col] = set->tpl[tc[i].t].price;
    }
    for (int o = 0; o < no; o++)
        if (ocol[o]) {
            H.kind[ocol[o]] = FL_TP_HCOL_OFFER;
            H.group[ocol[o]] = 0;
            H.price[ocol[o]] = pool->offers[o].price;
        }
    H.need = (double)M;
    if (fl_tp_heur_index(&H)) {
        rc = fl_fail(err, FL_ENOMEM, "planner", "out of memory");
        goto done;
    }
    int root_ok = fl_tp_heur_round(&H, hf, hr);
    int r = 0, st;
    double gap = 1e300;
    glp_iocp parm;
    glp_init_iocp(&parm);
    parm.mip_gap = cost_objective ? FL_TP_MIP_GAP : 0.0;
    if (!cost_objective && root_ok) {
        val = hr; /* feasible: the rounded point covers the batch */
        st = GLP_FEAS;
    } else {
        parm.presolve = GLP_OFF; /* the LP basis above is optimal; column numbers must match */
        parm.msg_lev = GLP_MSG_OFF;
        /* Safety net only: the node budget ends the search long before this on any sane machine. */
        double tl = lim->time_limit_s > 0 ? lim->time_limit_s : SAFETY_TIME_LIMIT_S;
        parm.tm_lim = tl * 1000 > 1e9 ? 1000000000 : (int)(tl * 1000);
        if (parm.tm_lim < 1)
            parm.tm_lim = 1;
        /* a bisection step unresolved within the node budget counts as infeasible */
        cb_info ci = {.gap = 1e300, .feas_mode = !cost_objective, .need = (double)M,
                      .node_limit = cost_objective ? COST_NODE_LIMIT : FEAS_NODE_LIMIT,
                      .heur = &H, .xf = hf, .xi = hx, .root = root_ok ? hr : NULL};
        parm.cb_func = mip_cb;
        parm.cb_info = &ci;
        r = glp_intopt(lp, &parm);
        st = glp_mip_status(lp);
        gap = ci.gap;
        sol->nodes = ci.nodes;
        if (r == GLP_ETMLIM)
            sol->hit_time_limit = 1;
        if (r != 0 && r != GLP_ETMLIM && r != GLP_EMIPGAP && r != GLP_ESTOP && r != GLP_ENOPFS && r != GLP_ENODFS) {
            rc = fl_fail(err, FL_ESOLVER, "planner", "GLPK glp_intopt failed (code %d) at iteration time %.3g s", r, T);
            goto done;
        }
        if (!cost_objective && (st == GLP_OPT || st == GLP_FEAS) && glp_mip_obj_val(lp) < (double)M - 1e-6)
            goto done; /* not enough micro-batch slots: infeasible at this T */
        if (st != GLP_OPT && st != GLP_FEAS)
            goto done;
        for (int j = 1; j <= ncol; j++)
            hx[j] = glp_mip_col_val(lp, j);
        val = hx;
    }
    sol->feasible = 1;
    /* proven optimal, or within the requested relative gap (GLP_EMIPGAP) */
    sol->status_optimal = (st == GLP_OPT && r == 0) || r == GLP_EMIPGAP;
    if (r == 0 && st == GLP_OPT)
        sol->mip_gap = gap < 1e299 ? fmin(gap, parm.mip_gap) : 0.0;
    else if (r == GLP_EMIPGAP)
        sol->mip_gap = gap < 1e299 ? fmin(gap, parm.mip_gap) : parm.mip_gap;
    else
        sol->mip_gap = gap < 1e299 ? gap : 1.0;
    {
        /* replicas per template (one DP situation is active per plan) and whether they span zones */
        int zone = -2;
        for (int i = 0; i < ntc; i++) {
            int x = (int)lround(val[tc[i].col]);
            if (x <= 0)
                continue;
            int t = tc[i].t;
            sol->x[t] += x;
            sol->s[t] += (long)x * tc[i].slots;
            int z = set->tpl[t].zone;
            if (z < 0 || (zone != -2 && z != zone))
                sol->span = 1;
            zone = z;
        }
    }
    for (int o = 0; o < no; o++)
        if (ocol[o])
            sol->inst[o] = (int)lround(val[ocol[o]]);
    if (scol && val[scol] > 0.5 && sol->span)
        sol->egress_dp = span_cost;
done:
    if (sol->feasible && lim->equal_mb && equal_replicas(pool, set, M, sol))
        sol->feasible = 0;
    if (sol->feasible) {
        /* Assign exact micro-batch counts: start from every replica full, then take micro-batches
         * back from the templates whose replicas are slowest per micro-batch. */
        long total = 0;
        for (int t = 0; t < nt; t++)
            total += sol->s[t];
        while (total > M) {
            int w = -1;
            for (int t = 0; t < nt; t++)
                if (sol->s[t] > sol->x[t] &&
                    (w < 0 || set->tpl[t].slope * sol->x[w] > set->tpl[w].slope * sol->x[t]))
                    w = t;
            if (w < 0)
                break;
            long give = total - M, room = sol->s[w] - sol->x[w];
            long step = give < room ? give : room;
            /* keep replicas of one template within one micro-batch of each other */
            if (step > sol->x[w] && sol->x[w] > 0)
                step = sol->x[w];
            sol->s[w] -= step;
            total -= step;
        }
        if (total != M)
            sol->feasible = 0;
    }
    if (sol->feasible) {
        for (int o = 0; o < no; o++) {
            sol->cost += sol->inst[o] * pool->offers[o].price;
            sol->gpus += sol->inst[o] * pool->offers[o].gpi;
        }
        for (int t = 0; t < nt; t++)
            sol->cost += sol->s[t] * set->tpl[t].egress_gb * set->tpl[t].egress_price * 3600.0 / T;
        sol->cost += sol->egress_dp;
    }
    if (lp)
        glp_delete_prob(lp);
    free(A.ia);
    free(A.ja);
    free(A.ar);
    fl_tp_heur_free(&H);
    free(hx);
    free(hf);
    free(hr);
    free(tc);
    free(zcol);
    free(ocol);
    free(cell_ok);
    free(creg);
    free(rcol);
    free(mm);
    sol->time_s = now_s() - t0;
    return rc;
}
