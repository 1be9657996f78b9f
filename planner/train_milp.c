/* planner/train_milp.c — the training planner's MILP (GLPK) at a fixed iteration time T.
 *
 * Integer variables: x_t replicas of template t, s_t micro-batches carried by those replicas
 * (split as evenly as possible, so each replica carries ceil(s_t/x_t) at most), I_o instances
 * of offer o. With T fixed, "every replica finishes within T" is linear:
 *   s_t <= mmax_t(T) x_t,   s_t >= x_t,   sum_t s_t >= global_batch / micro_batch,
 * GPUs of stages with tp >= k of a cell fit in instances of that cell with >= k GPUs
 * (k = 1,2,4,8: tensor-parallel groups stay inside a node), availability per cell in whole
 * instances, max_gpus and the budget (instances + cross-zone egress). The objective is the
 * hourly cost, or nothing when only feasibility is asked. */
#include "planner/train_internal.h"
#include "common/error.h"

#include <glpk.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Records the relative MIP gap of the search tree as GLPK reports it. */
static void gap_cb(glp_tree *tree, void *info)
{
    double *gap = info;
    int r = glp_ios_reason(tree);
    if (r == GLP_IBINGO || r == GLP_ISELECT) {
        double g = glp_ios_mip_gap(tree);
        if (g < *gap)
            *gap = g;
    }
}

static int cell_in_region(const fl_catalog *cat, const fl_tp_pool *pool, int c, const char *region)
{
    return !region || strcmp(fl_catalog_zone(cat, (size_t)pool->cells[c].zone)->region, region) == 0;
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
    memset(sol->x, 0, (size_t)set->n_tpl * sizeof *sol->x);
    memset(sol->s, 0, (size_t)set->n_tpl * sizeof *sol->s);
    memset(sol->inst, 0, (size_t)pool->n_offers * sizeof *sol->inst);

    long M = lim->total_mb;
    int nt = set->n_tpl, no = pool->n_offers, nc = pool->n_cells;
    int *xcol = calloc((size_t)nt + 1, sizeof *xcol), *ocol = calloc((size_t)no + 1, sizeof *ocol);
    char *cell_ok = calloc((size_t)nc + 1, 1);
    coo A = {0};
    glp_prob *lp = NULL;
    fl_status rc = FL_OK;
    if (!xcol || !ocol || !cell_ok) {
        rc = fl_fail(err, FL_ENOMEM, "planner", "out of memory");
        goto done;
    }
    for (int c = 0; c < nc; c++)
        cell_ok[c] = (char)cell_in_region(cat, pool, c, lim->region);

    lp = glp_create_prob();
    glp_set_obj_dir(lp, GLP_MIN);
    int ncol = 0;
    /* template columns: x_t at xcol[t], s_t at xcol[t] + 1 */
    for (int t = 0; t < nt; t++) {
        const fl_tp_template *tp = &set->tpl[t];
        if (tp->disabled)
            continue;
        int ok = 1;
        for (int k = 0; k < tp->n_cells; k++)
            ok &= cell_ok[tp->cells[k]];
        long mmax = ok ? fl_tp_template_max_mb(tp, T, M) : 0;
        if (mmax < 1)
            continue;
        xcol[t] = ncol + 1;
        glp_add_cols(lp, 2);
        glp_set_col_kind(lp, ncol + 1, GLP_IV);
        glp_set_col_bnds(lp, ncol + 1, GLP_DB, 0, (double)M);
        glp_set_col_kind(lp, ncol + 2, GLP_IV);
        glp_set_col_bnds(lp, ncol + 2, GLP_DB, 0, (double)M);
        if (cost_objective)
            glp_set_obj_coef(lp, ncol + 2, tp->egress_gb * tp->egress_price * 3600.0 / T);
        ncol += 2;
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
    int have_tpl = 0;
    for (int t = 0; t < nt; t++)
        have_tpl |= xcol[t] != 0;
    if (!have_tpl || ncol == 0)
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
    /* per template: s - mmax x <= 0 ; s - x >= 0 */
    for (int t = 0; t < nt; t++) {
        if (!xcol[t])
            continue;
        long mmax = fl_tp_template_max_mb(&set->tpl[t], T, M);
        NEWROW(GLP_UP, 0, 0);
        ADD(xcol[t] + 1, 1);
        ADD(xcol[t], -(double)mmax);
        NEWROW(GLP_LO, 0, 0);
        ADD(xcol[t] + 1, 1);
        ADD(xcol[t], -1);
    }
    /* global batch */
    NEWROW(GLP_LO, (double)M, 0);
    for (int t = 0; t < nt; t++)
        if (xcol[t])
            ADD(xcol[t] + 1, 1);
    /* GPUs per cell and tp level, availability per cell */
    for (int c = 0; c < nc; c++) {
        if (!cell_ok[c])
            continue;
        for (int l = 0; l < FL_TP_LEVELS; l++) {
            int used = 0;
            for (int t = 0; t < nt; t++) {
                if (!xcol[t])
                    continue;
                const fl_tp_template *tp = &set->tpl[t];
                for (int k = 0; k < tp->n_cells; k++)
                    if (tp->cells[k] == c && tp->gpus[k][l]) {
                        if (!used) {
                            NEWROW(GLP_UP, 0, 0);
                            used = 1;
                        }
                        ADD(xcol[t], tp->gpus[k][l]);
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
            NEWROW(GLP_UP, 0, cl->avail + (lim->extra_avail ? lim->extra_avail[c] : 0));
            for (int o = 0; o < no; o++)
                if (ocol[o] && pool->offers[o].cell == c)
                    ADD(ocol[o], pool->offers[o].gpi);
        }
    }
    if (lim->max_gpus > 0) {
        NEWROW(GLP_UP, 0, lim->max_gpus);
        for (int o = 0; o < no; o++)
            if (ocol[o])
                ADD(ocol[o], pool->offers[o].gpi);
    }
    if (lim->budget > 0) {
        NEWROW(GLP_UP, 0, lim->budget);
        for (int o = 0; o < no; o++)
            if (ocol[o])
                ADD(ocol[o], pool->offers[o].price);
        for (int t = 0; t < nt; t++)
            if (xcol[t] && set->tpl[t].egress_gb > 0)
                ADD(xcol[t] + 1, set->tpl[t].egress_gb * set->tpl[t].egress_price * 3600.0 / T);
    }
#undef NEWROW
#undef ADD
    glp_load_matrix(lp, A.n, A.ia, A.ja, A.ar);

    glp_iocp parm;
    glp_init_iocp(&parm);
    parm.presolve = GLP_ON;
    parm.msg_lev = GLP_MSG_OFF;
    parm.mip_gap = cost_objective ? 1e-4 : 0.0;
    double tl = lim->time_limit_s > 0 ? lim->time_limit_s : 10.0;
    parm.tm_lim = (int)(tl * 1000);
    if (parm.tm_lim < 1)
        parm.tm_lim = 1;
    double gap = 1e300;
    parm.cb_func = gap_cb;
    parm.cb_info = &gap;
    int r = glp_intopt(lp, &parm);
    int st = glp_mip_status(lp);
    if (r != 0 && r != GLP_ETMLIM && r != GLP_EMIPGAP && r != GLP_ENOPFS && r != GLP_ENODFS) {
        rc = fl_fail(err, FL_ESOLVER, "planner", "GLPK glp_intopt failed (code %d) at iteration time %.3g s", r, T);
        goto done;
    }
    if (st != GLP_OPT && st != GLP_FEAS)
        goto done;
    sol->feasible = 1;
    sol->status_optimal = st == GLP_OPT && r == 0;
    sol->mip_gap = sol->status_optimal ? (gap < 1e299 ? fmin(gap, parm.mip_gap) : 0.0) : (gap < 1e299 ? gap : 1.0);
    for (int t = 0; t < nt; t++)
        if (xcol[t]) {
            sol->x[t] = (int)lround(glp_mip_col_val(lp, xcol[t]));
            sol->s[t] = lround(glp_mip_col_val(lp, xcol[t] + 1));
        }
    for (int o = 0; o < no; o++)
        if (ocol[o])
            sol->inst[o] = (int)lround(glp_mip_col_val(lp, ocol[o]));
done:
    if (sol->feasible) {
        /* Trim: no more micro-batches than the global batch, no idle replicas. */
        long total = 0;
        for (int t = 0; t < nt; t++) {
            if (sol->x[t] > sol->s[t])
                sol->x[t] = (int)sol->s[t];
            total += sol->s[t];
        }
        for (int t = 0; t < nt && total > M; t++) {
            while (total > M && sol->s[t] > sol->x[t]) {
                sol->s[t]--;
                total--;
            }
        }
        for (int t = 0; t < nt && total > M; t++)
            while (total > M && sol->x[t] > 0) {
                sol->x[t]--;
                sol->s[t]--;
                total--;
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
    }
    if (lp)
        glp_delete_prob(lp);
    free(A.ia);
    free(A.ja);
    free(A.ar);
    free(xcol);
    free(ocol);
    free(cell_ok);
    sol->time_s = now_s() - t0;
    return rc;
}
