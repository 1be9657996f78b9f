/* planner/serve_planner.c — the serving planner: enumerate replica configurations (GPU type, tp,
 * pp) that fit, get their per-class capacity at the SLO from the simulator, pair them with the
 * offerings they can be rented in, and solve one MILP (GLPK) for integer instances/replicas and
 * continuous class shares at minimum cost (or maximum throughput within the budget). The plan is
 * re-simulated on the job's workload; when an SLO is missed the capacities of that model are
 * tightened and the MILP re-solved, so meets_slo is never claimed falsely. */
#include "planner/serve_planner.h"
#include "simulator/serve_calib.h"
#include "common/plan.h"
#include "common/error.h"

#include <glpk.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_CFGS 512
#define MAX_CANDS 4096
#define VERIFY_ROUNDS 8

typedef struct scfg {
    int model, gpu, tp, pp;
    fl_serve_cfg cfg;
    double cap[FL_MAX_CLASSES];   /* requests/s per replica, after derating */
} scfg;

typedef struct cand {
    int cfg, off, spot;
    double price;
} cand;

typedef struct splan {
    const fl_catalog *cat;
    const fl_job *job;
    const fl_availability *av;
    fl_serve_workload wl[FL_MAX_SERVE_MODELS];
    fl_serve_request *trace[FL_MAX_SERVE_MODELS];
    scfg *cfgs; int n_cfgs;
    cand *cands; int n_cands;
} splan;

typedef struct ssol {
    double *inst, *rep, *y;       /* per cand; y[k * FL_MAX_CLASSES + c] */
    double lambda, cost, gap, time_s;
    const char *status;
} ssol;

static double wall(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int avail_of(const splan *sp, int zone, int gpu)
{
    return sp->av ? fl_availability_get(sp->av, zone, gpu) : -1;
}

/* Configurations of served model m: for each allowed GPU the smallest tp (dividing the heads,
 * up to 8) that fits, and the next one; pp = 2 only when no tp fits on one node. */
static fl_status enum_cfgs(splan *sp, int m, fl_error *err)
{
    const fl_serve_model *sm = &sp->job->serve[m];
    const fl_serve_workload *wl = &sp->wl[m];
    int maxreq = 0;
    for (int c = 0; c < wl->n_classes; c++)
        if (wl->classes[c].input + wl->classes[c].output > maxreq)
            maxreq = wl->classes[c].input + wl->classes[c].output;
    for (size_t g = 0; g < fl_catalog_gpu_count(sp->cat); g++) {
        if (!fl_job_allows_gpu(sp->job, (int)g))
            continue;
        int has_off = 0, max_gpi = 0;
        for (size_t o = 0; o < fl_catalog_offering_count(sp->cat); o++) {
            const fl_offering *of = fl_catalog_offering(sp->cat, o);
            if (of->gpu_index == (int)g && fl_job_allows_zone(sp->job, of->zone_index) &&
                avail_of(sp, of->zone_index, of->gpu_index) != 0) {
                has_off = 1;
                if (of->gpus_per_instance > max_gpi) max_gpi = of->gpus_per_instance;
            }
        }
        if (!has_off)
            continue;
        int found = 0;
        fl_serve_engine eng;
        fl_serve_engine_for_job(sp->cat, sm, g, &eng);
        for (int pp = 1; pp <= 2 && found < 2; pp++) {
            for (int tp = 1; tp <= 8 && found < 2; tp *= 2) {
                if (sm->model.heads % tp || tp * pp > max_gpi)
                    continue;
                fl_serve_cfg c;
                if (fl_serve_cfg_init_engine(&c, fl_catalog_gpu(sp->cat, g), &sm->model, tp, pp, sm->weights_dtype,
                                             sm->kv_dtype, &eng, "config", NULL))
                    continue;
                if (c.kv_tokens < maxreq)
                    continue;
                if (sp->n_cfgs >= MAX_CFGS)
                    return fl_fail(err, FL_EINVAL, "job", "job: too many serving configurations");
                scfg *s = &sp->cfgs[sp->n_cfgs++];
                memset(s, 0, sizeof *s);
                s->model = m; s->gpu = (int)g; s->tp = tp; s->pp = pp; s->cfg = c;
                for (int k = 0; k < wl->n_classes; k++)
                    s->cap[k] = fl_serve_capacity(&c, &wl->classes[k], sm->ttft_p90_s, sm->tpot_p90_s);
                found++;
            }
        }
    }
    return FL_OK;
}

static int cmp_price(const void *a, const void *b)
{
    const cand *x = a, *y = b;
    return (x->price > y->price) - (x->price < y->price);
}

/* Pair each configuration with the offerings that can hold a replica inside one instance. With
 * no availability limit only the 3 cheapest offerings per (config, instance size, spot) are kept. */
static fl_status enum_cands(splan *sp, fl_error *err)
{
    cand tmp[2048];
    for (int k = 0; k < sp->n_cfgs; k++) {
        scfg *s = &sp->cfgs[k];
        int useful = 0;
        for (int c = 0; c < sp->wl[s->model].n_classes; c++)
            useful |= s->cap[c] > 0;
        if (!useful)
            continue;
        int nt = 0;
        for (size_t o = 0; o < fl_catalog_offering_count(sp->cat); o++) {
            const fl_offering *of = fl_catalog_offering(sp->cat, o);
            if (of->gpu_index != s->gpu || !fl_job_allows_zone(sp->job, of->zone_index) ||
                of->gpus_per_instance < s->tp * s->pp || avail_of(sp, of->zone_index, of->gpu_index) == 0)
                continue;
            for (int spot = 0; spot <= 1; spot++) {
                double price = spot ? of->spot_price_per_hour : of->price_per_hour;
                if (spot && !sp->job->allow_spot)
                    continue;
                if (!(price > 0) || nt >= 2048)
                    continue;
                tmp[nt++] = (cand){k, (int)o, spot, price};
            }
        }
        qsort(tmp, (size_t)nt, sizeof *tmp, cmp_price);
        int limited = sp->av && fl_availability_is_limited(sp->av);
        for (int i = 0; i < nt; i++) {
            if (!limited) {
                int same = 0;
                const fl_offering *oi = fl_catalog_offering(sp->cat, (size_t)tmp[i].off);
                for (int j = 0; j < i; j++)
                    if (tmp[j].spot == tmp[i].spot &&
                        fl_catalog_offering(sp->cat, (size_t)tmp[j].off)->gpus_per_instance == oi->gpus_per_instance)
                        same++;
                if (same >= 3)
                    continue;
            }
            if (sp->n_cands >= MAX_CANDS)
                return fl_fail(err, FL_EINVAL, "availability", "availability: too many candidate offerings");
            sp->cands[sp->n_cands++] = tmp[i];
        }
    }
    return FL_OK;
}

/* Solve the MILP. only_gpu >= 0 restricts to one GPU type (baseline). lambda_fixed > 0 fixes the
 * traffic scale (min cost); 0 maximises it (max_throughput). Returns 1 when a solution was found. */
static int solve(const splan *sp, int only_gpu, double lambda_fixed, double budget, double time_limit, ssol *out)
{
    double t0 = wall();
    int nk = sp->n_cands;
    glp_prob *lp = glp_create_prob();
    int *ia = NULL, *ja = NULL;
    double *ar = NULL;
    int ret = 0;
    /* columns: inst_k, rep_k for each cand, y_ck where cap > 0, lambda */
    int *yc = malloc(sizeof(int) * (size_t)(nk > 0 ? nk : 1) * FL_MAX_CLASSES);
    size_t cap_nz = (size_t)nk * (6 + 3 * FL_MAX_CLASSES) + 1024;
    ia = malloc(sizeof(int) * (cap_nz + 1));
    ja = malloc(sizeof(int) * (cap_nz + 1));
    ar = malloc(sizeof(double) * (cap_nz + 1));
    if (!yc || !ia || !ja || !ar)
        goto done;
    glp_set_obj_dir(lp, lambda_fixed > 0 ? GLP_MIN : GLP_MAX);
    int ncol = 0;
    glp_add_cols(lp, 2 * nk);
    for (int k = 0; k < nk; k++) {
        const cand *cd = &sp->cands[k];
        const scfg *s = &sp->cfgs[cd->cfg];
        int ok = only_gpu < 0 || s->gpu == only_gpu;
        int ci = 2 * k + 1, ri = 2 * k + 2;
        glp_set_col_kind(lp, ci, GLP_IV);
        glp_set_col_kind(lp, ri, GLP_IV);
        glp_set_col_bnds(lp, ci, ok ? GLP_LO : GLP_FX, 0, 0);
        glp_set_col_bnds(lp, ri, ok ? GLP_LO : GLP_FX, 0, 0);
        glp_set_obj_coef(lp, ci, lambda_fixed > 0 ? cd->price : -1e-6 * cd->price);
    }
    ncol = 2 * nk;
    for (int k = 0; k < nk; k++) {
        const scfg *s = &sp->cfgs[sp->cands[k].cfg];
        for (int c = 0; c < FL_MAX_CLASSES; c++) {
            yc[k * FL_MAX_CLASSES + c] = 0;
            if (c < sp->wl[s->model].n_classes && s->cap[c] > 0 && (only_gpu < 0 || s->gpu == only_gpu)) {
                glp_add_cols(lp, 1);
                yc[k * FL_MAX_CLASSES + c] = ++ncol;
                glp_set_col_bnds(lp, ncol, GLP_LO, 0, 0);
            }
        }
    }
    glp_add_cols(lp, 1);
    int lam = ++ncol;
    if (lambda_fixed > 0)
        glp_set_col_bnds(lp, lam, GLP_FX, lambda_fixed, lambda_fixed);
    else
        glp_set_col_bnds(lp, lam, GLP_DB, 0, 1e6);
    glp_set_obj_coef(lp, lam, lambda_fixed > 0 ? 0 : 1.0);
    int nz = 0, row = 0;
    /* demand rows */
    for (int m = 0; m < sp->job->n_serve_models; m++)
        for (int c = 0; c < sp->wl[m].n_classes; c++) {
            glp_add_rows(lp, 1);
            row++;
            glp_set_row_bnds(lp, row, GLP_FX, 0, 0);
            for (int k = 0; k < nk; k++)
                if (sp->cfgs[sp->cands[k].cfg].model == m && yc[k * FL_MAX_CLASSES + c]) {
                    nz++; ia[nz] = row; ja[nz] = yc[k * FL_MAX_CLASSES + c]; ar[nz] = 1;
                }
            nz++; ia[nz] = row; ja[nz] = lam; ar[nz] = -sp->wl[m].rate_rps * sp->wl[m].classes[c].share;
        }
    /* capacity and packing rows */
    for (int k = 0; k < nk; k++) {
        const cand *cd = &sp->cands[k];
        const scfg *s = &sp->cfgs[cd->cfg];
        glp_add_rows(lp, 2);
        row++;
        glp_set_row_bnds(lp, row, GLP_UP, 0, 0);
        for (int c = 0; c < FL_MAX_CLASSES; c++)
            if (yc[k * FL_MAX_CLASSES + c]) {
                nz++; ia[nz] = row; ja[nz] = yc[k * FL_MAX_CLASSES + c]; ar[nz] = 1.0 / s->cap[c];
            }
        nz++; ia[nz] = row; ja[nz] = 2 * k + 2; ar[nz] = -1;
        row++;
        glp_set_row_bnds(lp, row, GLP_UP, 0, 0);
        nz++; ia[nz] = row; ja[nz] = 2 * k + 2; ar[nz] = s->tp * s->pp;
        nz++; ia[nz] = row; ja[nz] = 2 * k + 1;
        ar[nz] = -fl_catalog_offering(sp->cat, (size_t)cd->off)->gpus_per_instance;
    }
    /* every model with traffic gets a replica: at a tiny rate the capacity rows alone would let
     * GLPK's integrality tolerance round its replica count down to zero */
    for (int m = 0; m < sp->job->n_serve_models; m++) {
        if (sp->wl[m].rate_rps <= 0)
            continue;
        glp_add_rows(lp, 1);
        row++;
        glp_set_row_bnds(lp, row, GLP_LO, 1, 0);
        for (int k = 0; k < nk; k++)
            if (sp->cfgs[sp->cands[k].cfg].model == m) {
                nz++; ia[nz] = row; ja[nz] = 2 * k + 2; ar[nz] = 1;
            }
    }
    /* availability per (zone, GPU) in GPUs */
    for (int k = 0; k < nk; k++) {
        const fl_offering *ok = fl_catalog_offering(sp->cat, (size_t)sp->cands[k].off);
        int a = avail_of(sp, ok->zone_index, ok->gpu_index);
        if (a < 0)
            continue;
        int first = 1;
        for (int j = 0; j < k; j++) {
            const fl_offering *oj = fl_catalog_offering(sp->cat, (size_t)sp->cands[j].off);
            if (oj->zone_index == ok->zone_index && oj->gpu_index == ok->gpu_index)
                first = 0;
        }
        if (!first)
            continue;
        glp_add_rows(lp, 1);
        row++;
        glp_set_row_bnds(lp, row, GLP_UP, 0, a);
        for (int j = k; j < nk; j++) {
            const fl_offering *oj = fl_catalog_offering(sp->cat, (size_t)sp->cands[j].off);
            if (oj->zone_index == ok->zone_index && oj->gpu_index == ok->gpu_index) {
                nz++; ia[nz] = row; ja[nz] = 2 * j + 1; ar[nz] = oj->gpus_per_instance;
            }
        }
        if ((size_t)nz + (size_t)nk + 8 > cap_nz)
            goto done;
    }
    if (budget > 0) {
        glp_add_rows(lp, 1);
        row++;
        glp_set_row_bnds(lp, row, GLP_UP, 0, budget);
        for (int k = 0; k < nk; k++) {
            nz++; ia[nz] = row; ja[nz] = 2 * k + 1; ar[nz] = sp->cands[k].price;
        }
    }
    glp_load_matrix(lp, nz, ia, ja, ar);
    glp_iocp parm;
    glp_init_iocp(&parm);
    parm.presolve = GLP_ON;
    parm.msg_lev = GLP_MSG_OFF;
    parm.tm_lim = time_limit > 0.001 ? (int)(time_limit * 1000) : 1;
    parm.mip_gap = 1e-4;
    parm.mir_cuts = GLP_ON;
    parm.gmi_cuts = GLP_ON;
    int rc = glp_intopt(lp, &parm);
    int st = glp_mip_status(lp);
    if ((rc == 0 || rc == GLP_ETMLIM || rc == GLP_EMIPGAP) && (st == GLP_OPT || st == GLP_FEAS)) {
        out->status = rc == GLP_ETMLIM ? "time_limit" : st == GLP_OPT ? "optimal" : "feasible";
        out->lambda = glp_mip_col_val(lp, lam);
        out->cost = 0;
        for (int k = 0; k < nk; k++) {
            out->inst[k] = round(glp_mip_col_val(lp, 2 * k + 1));
            out->rep[k] = round(glp_mip_col_val(lp, 2 * k + 2));
            out->cost += out->inst[k] * sp->cands[k].price;
            for (int c = 0; c < FL_MAX_CLASSES; c++)
                out->y[k * FL_MAX_CLASSES + c] = yc[k * FL_MAX_CLASSES + c] ? glp_mip_col_val(lp, yc[k * FL_MAX_CLASSES + c]) : 0;
        }
        double best = glp_mip_obj_val(lp);
        out->gap = st == GLP_OPT ? 0 : fabs(glp_get_obj_val(lp) - best) / (fabs(best) > 1e-9 ? fabs(best) : 1);
        ret = out->lambda > 1e-9;
    }
done:
    out->time_s = wall() - t0;
    glp_delete_prob(lp);
    free(yc);
    free(ia);
    free(ja);
    free(ar);
    return ret;
}

/* The job with every model's rate multiplied by lambda (max_throughput plans are checked there). */
static json_t *scaled_job(const fl_job *job, double lambda)
{
    json_t *j = json_deep_copy(job->raw);
    if (lambda == 1.0)
        return j;
    json_t *models = json_object_get(j, "models");
    for (int m = 0; m < job->n_serve_models; m++) {
        json_t *o = json_is_array(models) ? json_array_get(models, (size_t)m) : j;
        json_t *wl = json_object_get(o, "workload");
        if (json_is_object(wl))
            json_object_set_new(wl, "rate_rps", json_real(job->serve[m].rate_rps > 0 ? job->serve[m].rate_rps * lambda
                                                                                   : lambda));
    }
    return j;
}

static json_t *build_doc(const splan *sp, const ssol *so)
{
    const fl_job *job = sp->job;
    json_t *doc = json_object();
    if (job->n_serve_models > 1) {
        json_t *ms = json_array();
        for (int m = 0; m < job->n_serve_models; m++)
            json_array_append_new(ms, json_string(job->serve[m].model.name));
        json_object_set_new(doc, "kind", json_string("serving"));
        json_object_set_new(doc, "model", ms);
    } else {
        json_object_set_new(doc, "kind", json_string("serving"));
        json_object_set_new(doc, "model", json_string(job->serve[0].model.name));
    }
    json_object_set_new(doc, "job", scaled_job(job, sp->job->objective == FL_OBJ_MIN_COST ? 1.0 : so->lambda));
    json_t *res = json_array(), *reps = json_array();
    for (int k = 0; k < sp->n_cands; k++) {
        if (so->inst[k] < 0.5)
            continue;
        const fl_offering *o = fl_catalog_offering(sp->cat, (size_t)sp->cands[k].off);
        json_t *r = NULL;
        size_t i;
        json_t *e;
        json_array_foreach(res, i, e) {  /* merge the same offering used by several configs */
            if (!strcmp(json_string_value(json_object_get(e, "instance_type")), o->instance_type) &&
                !strcmp(json_string_value(json_object_get(e, "zone")), o->zone) &&
                json_is_true(json_object_get(e, "spot")) == (sp->cands[k].spot != 0))
                r = e;
        }
        if (r) {
            json_object_set_new(r, "instances", json_integer(json_integer_value(json_object_get(r, "instances")) +
                                                             (json_int_t)so->inst[k]));
        } else {
            json_array_append_new(res, json_pack("{s:s,s:s,s:s,s:s,s:i,s:I,s:f,s:b}", "cloud", o->cloud, "zone",
                                                 o->zone, "instance_type", o->instance_type, "gpu", o->gpu,
                                                 "gpus_per_instance", o->gpus_per_instance, "instances",
                                                 (json_int_t)so->inst[k], "price_per_hour", sp->cands[k].price,
                                                 "spot", sp->cands[k].spot));
        }
    }
    for (int k = 0; k < sp->n_cands; k++) {
        if (so->rep[k] < 0.5)
            continue;
        const scfg *s = &sp->cfgs[sp->cands[k].cfg];
        const fl_offering *o = fl_catalog_offering(sp->cat, (size_t)sp->cands[k].off);
        json_t *shares = json_array();
        const fl_serve_workload *wl = &sp->wl[s->model];
        for (int c = 0; c < wl->n_classes; c++) {
            double dem = so->lambda * wl->rate_rps * wl->classes[c].share;
            double sh = dem > 0 ? so->y[k * FL_MAX_CLASSES + c] / dem : 0;
            json_array_append_new(shares, json_real(sh < 1e-9 ? 0 : sh > 1 ? 1 : sh));
        }
        json_t *r = json_object();
        if (job->n_serve_models > 1)
            json_object_set_new(r, "model", json_string(job->serve[s->model].model.name));
        json_object_set_new(r, "gpu", json_string(o->gpu));
        json_object_set_new(r, "zone", json_string(o->zone));
        json_object_set_new(r, "tp", json_integer(s->tp));
        json_object_set_new(r, "pp", json_integer(s->pp));
        json_object_set_new(r, "count", json_integer((json_int_t)so->rep[k]));
        json_object_set_new(r, "class_shares", shares);
        json_array_append_new(reps, r);
    }
    json_object_set_new(doc, "resources", res);
    json_object_set_new(doc, "replicas", reps);
    return doc;
}

/* Which catalog GPU (any, ignoring allow-lists and availability) could meet model m's SLO. */
static const char *gpu_that_would_meet(const splan *sp, int m, int cls)
{
    const fl_serve_model *sm = &sp->job->serve[m];
    for (size_t g = 0; g < fl_catalog_gpu_count(sp->cat); g++) {
        fl_serve_engine eng;
        fl_serve_engine_for_job(sp->cat, sm, g, &eng);
        for (int tp = 1; tp <= 8; tp *= 2) {
            fl_serve_cfg c;
            if (sm->model.heads % tp ||
                fl_serve_cfg_init_engine(&c, fl_catalog_gpu(sp->cat, g), &sm->model, tp, 1, sm->weights_dtype,
                                         sm->kv_dtype, &eng, "config", NULL))
                continue;
            if (fl_serve_capacity(&c, &sp->wl[m].classes[cls], sm->ttft_p90_s, sm->tpot_p90_s) > 0)
                return fl_catalog_gpu(sp->cat, g)->name;
        }
    }
    return NULL;
}

/* Seconds left before the whole run's deadline (--time-limit). */
static double time_left(double deadline) { return deadline - fl_serve_now(); }

/* The error when the time limit is reached before any plan could be verified. */
static fl_status time_limit_error(fl_error *err, double tl, const char *stage)
{
    return fl_fail(err, FL_EINFEASIBLE, "time_limit",
                   "time_limit: the %g s time limit was reached while %s, before any plan was verified "
                   "(raise --time-limit)", tl, stage);
}

static void free_sp(splan *sp)
{
    for (int m = 0; m < FL_MAX_SERVE_MODELS; m++)
        free(sp->trace[m]);
    free(sp->cfgs);
    free(sp->cands);
}

static void free_sol(ssol *s)
{
    free(s->inst);
    free(s->rep);
    free(s->y);
}

static int alloc_sol(ssol *s, int nk)
{
    memset(s, 0, sizeof *s);
    size_t n = (size_t)(nk > 0 ? nk : 1);
    s->inst = calloc(n, sizeof(double));
    s->rep = calloc(n, sizeof(double));
    s->y = calloc(n * FL_MAX_CLASSES, sizeof(double));
    return s->inst && s->rep && s->y ? 0 : -1;
}

fl_status fl_serve_plan_job(const fl_catalog *cat, const fl_job *job, const fl_availability *av,
                            const fl_plan_options *opts, json_t **doc_out, json_t ***alts_out,
                            size_t *n_alts_out, fl_error *err)
{
    *doc_out = NULL;
    *alts_out = NULL;
    *n_alts_out = 0;
    /* owned capacity (an availability entry with its own price and node size) is planned for
     * training only: refused here rather than silently left out */
    for (size_t z = 0; av && z < fl_catalog_zone_count(cat); z++)
        for (size_t g = 0; g < fl_catalog_gpu_count(cat); g++)
            if (fl_availability_owned(av, (int)z, (int)g, NULL, NULL) && fl_availability_get(av, (int)z, (int)g) > 0) {
                char f[300];
                snprintf(f, sizeof f, "zones.%s.%s", fl_catalog_zone(cat, z)->name, fl_catalog_gpu(cat, g)->name);
                return fl_fail(err, FL_EINVAL, f, "%s: owned capacity (price_per_gpu_hour, gpus_per_node) is planned "
                               "for training jobs only; a serving plan rents the catalog's offerings", f);
            }
    splan sp;
    memset(&sp, 0, sizeof sp);
    sp.cat = cat;
    sp.job = job;
    sp.av = av;
    fl_status rc = FL_OK;
    ssol so = {0}, base = {0};
    json_t *doc = NULL;
    double tl = opts && opts->time_limit_s > 0 ? opts->time_limit_s : 10.0;
    /* a given limit bounds the whole run (simulations of this thread stop at the deadline); with
     * none (0), only each MILP gets the default 10 s */
    double deadline = opts && opts->time_limit_s > 0 ? fl_serve_now() + tl : INFINITY;
    double saved_deadline = fl_serve_get_deadline();
    int cut = 0; /* 1: part of the run (a MILP, the baseline) was cut short by the limit */
    fl_serve_set_deadline(isfinite(deadline) ? deadline : 0);
    sp.cfgs = calloc(MAX_CFGS, sizeof *sp.cfgs);
    sp.cands = calloc(MAX_CANDS, sizeof *sp.cands);
    if (!sp.cfgs || !sp.cands) {
        rc = fl_fail(err, FL_ENOMEM, "job", "out of memory");
        goto done;
    }
    for (int m = 0; m < job->n_serve_models; m++)
        if ((rc = fl_serve_workload_from_job(job, m, &sp.wl[m], &sp.trace[m], err)) ||
            (rc = enum_cfgs(&sp, m, err)))
            goto done;
    if (time_left(deadline) <= 0) {
        rc = time_limit_error(err, tl, "computing replica capacities");
        goto done;
    }
    /* every class of every model needs a configuration that meets its SLO */
    for (int m = 0; m < job->n_serve_models; m++) {
        const char *path = job->n_serve_models > 1 ? "job.models[].slo" : "job.slo";
        for (int c = 0; c < sp.wl[m].n_classes; c++) {
            int ok = 0;
            for (int k = 0; k < sp.n_cfgs; k++)
                ok |= sp.cfgs[k].model == m && sp.cfgs[k].cap[c] > 0;
            if (ok)
                continue;
            const char *g = gpu_that_would_meet(&sp, m, c);
            rc = fl_fail(err, FL_EINFEASIBLE, path,
                         "%s: no available GPU serves %s class %d (input %d, output %d) within ttft_p90 %g s / "
                         "tpot_p90 %g s%s%s%s",
                         path, job->serve[m].model.name, c, sp.wl[m].classes[c].input, sp.wl[m].classes[c].output,
                         job->serve[m].ttft_p90_s, job->serve[m].tpot_p90_s, g ? "; " : "; no GPU in the catalog does",
                         g ? g : "", g ? " in the catalog would (allow it or make it available)" : "");
            goto done;
        }
    }
    if ((rc = enum_cands(&sp, err)))
        goto done;
    if (alloc_sol(&so, sp.n_cands) || alloc_sol(&base, sp.n_cands)) {
        rc = fl_fail(err, FL_ENOMEM, "job", "out of memory");
        goto done;
    }
    double lam_fixed = job->objective == FL_OBJ_MIN_COST ? 1.0 : 0.0;
    if (lam_fixed == 0 && !(job->budget_per_hour > 0))
        lam_fixed = 1.0; /* max_throughput without a budget: serve the given rate at least cost */
    for (int round = 0; round < VERIFY_ROUNDS; round++) {
        if (time_left(deadline) <= 0) {
            rc = time_limit_error(err, tl, round ? "re-solving after a plan missed the SLO" : "solving the MILP");
            goto done;
        }
        if (!solve(&sp, -1, lam_fixed, job->budget_per_hour, fmin(tl, time_left(deadline)), &so)) {
            if (time_left(deadline) <= 0) {
                rc = time_limit_error(err, tl, "solving the MILP");
                goto done;
            }
            if (job->budget_per_hour > 0) {
                /* tell whether the budget binds */
                double b = job->budget_per_hour;
                if (solve(&sp, -1, lam_fixed > 0 ? lam_fixed : 1.0, 0, fmin(tl, time_left(deadline)), &so)) {
                    rc = fl_fail(err, FL_EINFEASIBLE, "job.budget_per_hour",
                                 "job.budget_per_hour: %g $/h is not enough; the cheapest plan meeting the SLO costs "
                                 "%.2f $/h",
                                 b, so.cost);
                    goto done;
                }
            }
            rc = fl_fail(err, FL_EINFEASIBLE, "availability",
                         "availability: not enough GPUs available to serve the workload within the SLO");
            goto done;
        }
        json_decref(doc);
        doc = build_doc(&sp, &so);
        if ((rc = fl_serve_plan_simulate(cat, doc, err))) {
            if (time_left(deadline) <= 0)
                rc = time_limit_error(err, tl, "simulating the plan on the job's workload");
            goto done;
        }
        cut |= strcmp(so.status, "time_limit") == 0;
        json_t *sim = json_object_get(doc, "simulation");
        if (json_is_true(json_object_get(sim, "meets_slo")))
            break;
        if (round == VERIFY_ROUNDS - 1) {
            rc = fl_fail(err, FL_EINFEASIBLE, "job.slo",
                         "job.slo: no plan found whose simulation meets the SLO after %d rounds (p90 TTFT %.3g s, "
                         "p90 TPOT %.3g s)",
                         VERIFY_ROUNDS, json_number_value(json_object_get(sim, "ttft_p90_s")),
                         json_number_value(json_object_get(sim, "tpot_p90_s")));
            goto done;
        }
        /* tighten the capacities of the models that missed */
        json_t *models = json_object_get(sim, "models");
        for (int m = 0; m < job->n_serve_models; m++) {
            int missed = json_is_array(models) ? !json_is_true(json_object_get(json_array_get(models, (size_t)m), "meets_slo"))
                                               : 1;
            if (!missed)
                continue;
            for (int k = 0; k < sp.n_cfgs; k++)
                if (sp.cfgs[k].model == m)
                    for (int c = 0; c < FL_MAX_CLASSES; c++)
                        sp.cfgs[k].cap[c] *= 0.85;
        }
    }
    /* solver report */
    /* baseline: best single-GPU-type plan for the same traffic (skipped when time is up) */
    {
        double best = 0;
        const char *bg = NULL;
        for (size_t g = 0; g < fl_catalog_gpu_count(cat); g++) {
            int any = 0;
            for (int k = 0; k < sp.n_cands; k++)
                any |= sp.cfgs[sp.cands[k].cfg].gpu == (int)g;
            if (!any)
                continue;
            double left = time_left(deadline);
            if (left <= 0) {
                cut = 1;
                break;
            }
            if (!solve(&sp, (int)g, so.lambda, 0, left < 1.0 ? left : 1.0, &base)) {
                cut |= strcmp(base.status ? base.status : "", "time_limit") == 0 || time_left(deadline) <= 0;
                continue;
            }
            cut |= strcmp(base.status, "time_limit") == 0;
            if (!bg || base.cost < best) {
                best = base.cost;
                bg = fl_catalog_gpu(cat, g)->name;
            }
        }
        if (bg)
            json_object_set_new(doc, "baseline", json_pack("{s:s,s:f,s:f}", "gpu", bg, "cost_per_hour", best,
                                                           "saving_fraction",
                                                           best > 0 ? (best - so.cost) / best : 0.0));
    }
    /* solver report: "time_limit" when the limit cut a solve or the baseline short (the plan
     * itself was still simulated and meets the SLO) */
    json_object_set_new(doc, "solver", json_pack("{s:s,s:s,s:f,s:f,s:i}", "name", "glpk", "status",
                                                 cut ? "time_limit" : so.status, "mip_gap", so.gap, "time_s",
                                                 so.time_s, "candidates", sp.n_cands));
    *doc_out = doc;
    doc = NULL;
done:
    fl_serve_set_deadline(saved_deadline);
    json_decref(doc);
    free_sol(&so);
    free_sol(&base);
    free_sp(&sp);
    return rc;
}
