/* planner/train_doc.c — turn a MILP solution of the training planner into the plan document
 * of the JSON contract ("resources", "parallelism", "job", "model"), re-simulate it with the
 * simulator (fl_train_plan_simulate) and score it by the job's objective. */
#include "planner/train_internal.h"
#include "common/error.h"
#include "common/plan.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* GPUs of stages with tp >= 2^l that the solution puts on cell c. */
static long cell_need(const fl_tp_set *set, const fl_tp_solution *sol, int c, int l)
{
    long n = 0;
    for (int t = 0; t < set->n_tpl; t++) {
        if (!sol->x[t])
            continue;
        const fl_tp_template *tp = &set->tpl[t];
        for (int k = 0; k < tp->n_cells; k++)
            if (tp->cells[k] == c)
                n += (long)tp->gpus[k][l] * sol->x[t];
    }
    return n;
}

static long cell_have(const fl_tp_pool *pool, const int *inst, int c, int l)
{
    long n = 0;
    for (int o = 0; o < pool->n_offers; o++)
        if (pool->offers[o].cell == c && pool->offers[o].gpi >= (1 << l))
            n += (long)inst[o] * pool->offers[o].gpi;
    return n;
}

/* Release instances the trimmed solution no longer needs, most expensive per GPU first. */
static void trim_instances(const fl_tp_pool *pool, const fl_tp_set *set, const fl_tp_solution *sol, int *inst)
{
    for (int c = 0; c < pool->n_cells; c++) {
        int rented = 0;
        for (int o = 0; o < pool->n_offers && !rented; o++)
            rented = pool->offers[o].cell == c && inst[o] > 0;
        if (!rented)
            continue;
        long need[FL_TP_LEVELS];
        for (int l = 0; l < FL_TP_LEVELS; l++)
            need[l] = cell_need(set, sol, c, l);
        for (;;) {
            int best = -1;
            for (int o = 0; o < pool->n_offers; o++) {
                const fl_tp_offer *f = &pool->offers[o];
                if (f->cell != c || inst[o] == 0)
                    continue;
                inst[o]--;
                int ok = 1;
                for (int l = 0; l < FL_TP_LEVELS && ok; l++)
                    ok = cell_have(pool, inst, c, l) >= need[l];
                inst[o]++;
                if (ok && (best < 0 || f->price / f->gpi > pool->offers[best].price / pool->offers[best].gpi))
                    best = o;
            }
            if (best < 0)
                break;
            inst[best]--;
        }
    }
}

static json_t *job_obj(const fl_job *job, fl_recompute rc_used)
{
    json_t *j = json_object();
    json_object_set_new(j, "seq_len", json_integer(job->seq_len));
    json_object_set_new(j, "global_batch", json_integer(job->global_batch));
    json_t *pr = json_object();
    json_object_set_new(pr, "compute", json_string(fl_dtype_name(job->compute_dtype)));
    json_object_set_new(pr, "master_weights",
                        json_string(job->master_weights ? fl_dtype_name(job->master_dtype) : "none"));
    json_object_set_new(pr, "grads", json_string(fl_dtype_name(job->grad_dtype)));
    json_object_set_new(j, "precision", pr);
    json_object_set_new(j, "optimizer", json_string(job->optimizer == FL_OPT_SGD     ? "sgd"
                                                    : job->optimizer == FL_OPT_ADAMW ? "adamw"
                                                                                     : "adam"));
    json_object_set_new(j, "optimizer_impl", json_string(fl_optimizer_impl_name(job->optimizer_impl)));
    json_object_set_new(j, "framework", json_string(fl_framework_name(job->framework)));
    json_object_set_new(j, "zero_stage", json_integer(job->zero_stage));
    json_object_set_new(j, "recompute", json_string(fl_recompute_name(rc_used)));
    json_object_set_new(j, "attention", json_string(job->flash ? "flash" : "standard"));
    if (job->dropout > 0)
        json_object_set_new(j, "dropout", json_real(job->dropout));
    json_object_set_new(j, "objective", json_string(fl_objective_name(job->objective)));
    if (job->budget_per_hour > 0)
        json_object_set_new(j, "budget_per_hour", json_real(job->budget_per_hour));
    if (job->min_tokens_per_s > 0)
        json_object_set_new(j, "min_tokens_per_s", json_real(job->min_tokens_per_s));
    if (job->train_tokens > 0)
        json_object_set_new(j, "train_tokens", json_real(job->train_tokens));
    if (job->max_gpus > 0)
        json_object_set_new(j, "max_gpus", json_integer(job->max_gpus));
    if (job->max_cost_per_iteration > 0)
        json_object_set_new(j, "max_cost_per_iteration", json_real(job->max_cost_per_iteration));
    if (job->max_cost_per_million_tokens > 0)
        json_object_set_new(j, "max_cost_per_million_tokens", json_real(job->max_cost_per_million_tokens));
    static const char *const ars[] = {"auto", "ring", "tree", "hierarchical"};
    json_object_set_new(j, "overlap_grad_reduce", json_boolean(job->overlap_grad_reduce));
    json_object_set_new(j, "allreduce_algorithm", json_string(ars[job->allreduce_algorithm]));
    json_object_set_new(j, "allow_spot", json_boolean(job->allow_spot));
    return j;
}

/* Why each pipeline does or does not span zones, with the figures a user can check: the p2p
 * seconds per micro-batch over the zone link it crosses (or would cross to the nearest other
 * pool zone of its region) against the same transfer inside a zone, and the egress dollars per
 * iteration that costs; plus the data-parallel gradient egress when the replicas span zones. */
static json_t *placement_reasons(const fl_catalog *cat, const fl_job *job, const fl_tp_pool *pool,
                                 const fl_tp_set *set, const fl_tp_solution *sol, json_t *sim)
{
    json_t *a = json_array();
    const fl_train_setup *s = &set->setup;
    double act = (double)s->micro_batch * s->seq_len * job->model.hidden * fl_train_act_elem_bytes(s);
    char text[512];
    for (int t = 0; t < set->n_tpl; t++) {
        if (!sol->x[t])
            continue;
        const fl_tp_template *tp = &set->tpl[t];
        const fl_tp_stage *st = &set->stages[tp->first_stage];
        int z0 = pool->cells[st[0].cell].zone;
        json_t *o = json_object();
        json_object_set_new(o, "template_replicas", json_integer(sol->x[t]));
        json_object_set_new(o, "spans_zones", json_boolean(tp->zone < 0));
        double in_zone = fl_train_p2p_time(cat, pool->cells[st[0].cell].gpu, z0, z0, 0, act);
        if (tp->zone < 0) {
            /* the slowest boundary it crosses and the egress of all its crossings */
            double worst = 0, dollars = 0;
            int wa = z0, wb = z0;
            for (int j = 0; j + 1 < tp->n_stages; j++) {
                int za = pool->cells[st[j].cell].zone, zb = pool->cells[st[j + 1].cell].zone;
                if (za == zb)
                    continue;
                double p2p = fl_train_p2p_time(cat, pool->cells[st[j].cell].gpu, za, zb, 0, act);
                if (p2p > worst)
                    worst = p2p, wa = za, wb = zb;
                dollars += (double)sol->s[t] * act / 1e9 *
                           (fl_catalog_link(cat, za, zb).egress_per_gb + fl_catalog_link(cat, zb, za).egress_per_gb);
            }
            json_object_set_new(o, "p2p_s_per_micro_batch", json_real(worst));
            json_object_set_new(o, "p2p_s_in_zone", json_real(in_zone));
            json_object_set_new(o, "egress_per_iteration", json_real(dollars));
            snprintf(text, sizeof text,
                     "%d pipeline replica(s) span zones %s -> %s: %.3g s per micro-batch transfer there against %.3g s "
                     "inside a zone, $%.4g egress per iteration; chosen because no single zone gave a cheaper or faster "
                     "plan with those costs counted",
                     sol->x[t], fl_catalog_zone(cat, (size_t)wa)->name, fl_catalog_zone(cat, (size_t)wb)->name, worst,
                     in_zone, dollars);
        } else {
            /* the nearest other pool zone of its region: what spanning to it would cost */
            int alt = -1;
            double alt_p2p = 0;
            for (int c = 0; c < pool->n_cells; c++) {
                int y = pool->cells[c].zone;
                if (y == z0 || strcmp(fl_catalog_zone(cat, (size_t)y)->region, fl_catalog_zone(cat, (size_t)z0)->region) ||
                    strcmp(fl_catalog_zone(cat, (size_t)y)->cloud, fl_catalog_zone(cat, (size_t)z0)->cloud))
                    continue;
                double p2p = fl_train_p2p_time(cat, pool->cells[st[0].cell].gpu, z0, y, 0, act);
                if (alt < 0 || p2p < alt_p2p)
                    alt = y, alt_p2p = p2p;
            }
            if (alt >= 0) {
                double dollars = (double)sol->s[t] * act / 1e9 *
                                 (fl_catalog_link(cat, z0, alt).egress_per_gb + fl_catalog_link(cat, alt, z0).egress_per_gb);
                json_object_set_new(o, "p2p_s_per_micro_batch", json_real(in_zone));
                json_object_set_new(o, "p2p_s_across_zones", json_real(alt_p2p));
                json_object_set_new(o, "egress_per_iteration_if_split", json_real(dollars));
                snprintf(text, sizeof text,
                         "%d pipeline replica(s) stay in %s: splitting a pipeline to %s would make each stage boundary "
                         "transfer %.3g s per micro-batch instead of %.3g s and cost $%.4g egress per iteration per "
                         "boundary",
                         sol->x[t], fl_catalog_zone(cat, (size_t)z0)->name, fl_catalog_zone(cat, (size_t)alt)->name,
                         alt_p2p, in_zone, dollars);
            } else {
                snprintf(text, sizeof text, "%d pipeline replica(s) stay in %s: the pool has no other zone in its region",
                         sol->x[t], fl_catalog_zone(cat, (size_t)z0)->name);
            }
        }
        json_object_set_new(o, "text", json_string(text));
        json_array_append_new(a, o);
    }
    /* zones kept among several selling a GPU type at the same lowest price, when the plan uses them */
    for (int k = 0; k < pool->n_ties; k++) {
        const fl_tp_tie *tie = &pool->ties[k];
        int used = 0;
        for (int t = 0; t < set->n_tpl && !used; t++)
            for (int j = 0; sol->x[t] && j < set->tpl[t].n_stages && !used; j++) {
                const fl_tp_cell *c = &pool->cells[set->stages[set->tpl[t].first_stage + j].cell];
                used = c->gpu == tie->gpu && c->zone == tie->zone;
            }
        if (!used)
            continue;
        const char *zn = fl_catalog_zone(cat, (size_t)tie->zone)->name;
        if (tie->preferred)
            snprintf(text, sizeof text, "%s: %d zones sell it at the same lowest price; %s is in job.allow.prefer_regions",
                     fl_catalog_gpu(cat, (size_t)tie->gpu)->name, tie->n_equal, zn);
        else
            snprintf(text, sizeof text,
                     "%s: %d zones sell it at the same lowest price; %s is the first by name (name the regions you "
                     "prefer in job.allow.prefer_regions, or list zones in job.allow.zones)",
                     fl_catalog_gpu(cat, (size_t)tie->gpu)->name, tie->n_equal, zn);
        json_t *o = json_object();
        json_object_set_new(o, "zones_at_same_price", json_integer(tie->n_equal));
        json_object_set_new(o, "zone", json_string(zn));
        json_object_set_new(o, "text", json_string(text));
        json_array_append_new(a, o);
    }
    double dp = json_number_value(json_object_get(sim, "egress_dp_per_iteration"));
    if (dp > 0) {
        json_t *o = json_object();
        snprintf(text, sizeof text,
                 "data-parallel replicas span zones: the gradient all-reduce costs $%.4g egress per iteration",
                 dp);
        json_object_set_new(o, "egress_per_iteration", json_real(dp));
        json_object_set_new(o, "text", json_string(text));
        json_array_append_new(a, o);
    }
    return a;
}

static json_t *stages_arr(const fl_catalog *cat, const fl_tp_pool *pool, const fl_tp_set *set, const fl_tp_template *t)
{
    json_t *a = json_array();
    for (int i = 0; i < t->n_stages; i++) {
        const fl_tp_stage *st = &set->stages[t->first_stage + i];
        const fl_tp_cell *cl = &pool->cells[st->cell];
        json_t *s = json_object();
        json_t *ly = json_array();
        json_array_append_new(ly, json_integer(st->first));
        json_array_append_new(ly, json_integer(st->last));
        json_object_set_new(s, "layers", ly);
        json_object_set_new(s, "gpu", json_string(fl_catalog_gpu(cat, (size_t)cl->gpu)->name));
        json_object_set_new(s, "zone", json_string(fl_catalog_zone(cat, (size_t)cl->zone)->name));
        json_object_set_new(s, "tp", json_integer(st->tp));
        json_array_append_new(a, s);
    }
    return a;
}

/* Simulate the pipelines of template t alone as the plan uses them; 1 when they fit. */
static int template_fits(const fl_catalog *cat, const fl_tp_pool *pool, const fl_tp_set *set, int t, int replicas,
                         long m)
{
    const fl_tp_template *tp = &set->tpl[t];
    fl_train_stage *st = calloc((size_t)tp->n_stages, sizeof *st);
    if (!st)
        return 1;
    for (int i = 0; i < tp->n_stages; i++) {
        const fl_tp_stage *s = &set->stages[tp->first_stage + i];
        st[i] = (fl_train_stage){.first_layer = s->first, .last_layer = s->last, .gpu = pool->cells[s->cell].gpu,
                                 .zone = pool->cells[s->cell].zone, .tp = s->tp};
    }
    fl_train_pipeline p = {.replicas = replicas, .micro_batches = (int)m, .n_stages = tp->n_stages, .stages = st};
    fl_train_result r;
    memset(&r, 0, sizeof r);
    int ok = fl_train_simulate(cat, &set->setup, &p, 1, &r, NULL) == FL_OK && r.fits;
    free(st);
    return ok;
}

fl_status fl_tp_solution_doc(const fl_catalog *cat, const fl_job *job, const fl_tp_pool *pool, const fl_tp_set *set,
                             const fl_tp_solution *sol, json_t **doc_out, int *bad_template, fl_error *err)
{
    *doc_out = NULL;
    *bad_template = -1;
    int *inst = malloc(((size_t)pool->n_offers + 1) * sizeof *inst);
    if (!inst)
        return fl_fail(err, FL_ENOMEM, "planner", "out of memory");
    memcpy(inst, sol->inst, (size_t)pool->n_offers * sizeof *inst);
    trim_instances(pool, set, sol, inst);

    json_t *doc = json_object();
    json_object_set_new(doc, "kind", json_string("training"));
    json_object_set_new(doc, "model", fl_model_to_json_obj(&job->model));
    json_object_set_new(doc, "job", job_obj(job, set->setup.recompute));
    json_t *res = json_array();
    for (int o = 0; o < pool->n_offers; o++) {
        if (!inst[o])
            continue;
        const fl_tp_offer *f = &pool->offers[o];
        const fl_offering *of = f->of;
        json_t *r = json_object();
        json_object_set_new(r, "cloud", json_string(of->cloud));
        json_object_set_new(r, "zone", json_string(of->zone));
        json_object_set_new(r, "instance_type", json_string(of->instance_type));
        json_object_set_new(r, "gpu", json_string(of->gpu));
        json_object_set_new(r, "gpus_per_instance", json_integer(f->gpi));
        json_object_set_new(r, "instances", json_integer(inst[o]));
        json_object_set_new(r, "price_per_hour", json_real(f->price));
        json_object_set_new(r, "spot", json_boolean(f->spot));
        if (f->offering < 0)
            json_object_set_new(r, "owned", json_true());
        json_array_append_new(res, r);
    }
    json_object_set_new(doc, "resources", res);
    free(inst);

    json_t *par = json_object();
    json_object_set_new(par, "micro_batch", json_integer(set->setup.micro_batch));
    json_object_set_new(par, "schedule", json_string("1f1b"));
    json_object_set_new(par, "recompute", json_string(fl_recompute_name(set->setup.recompute)));
    json_object_set_new(par, "zero_stage", json_integer(set->setup.zero_stage));
    json_t *pipes = json_array();
    for (int t = 0; t < set->n_tpl; t++) {
        if (!sol->x[t])
            continue;
        long q = sol->s[t] / sol->x[t], r = sol->s[t] % sol->x[t];
        for (int k = 0; k < 2; k++) {
            long reps = k == 0 ? r : sol->x[t] - r, mb = k == 0 ? q + 1 : q;
            if (reps <= 0 || mb <= 0)
                continue;
            json_t *p = json_object();
            json_object_set_new(p, "replicas", json_integer(reps));
            json_object_set_new(p, "micro_batches", json_integer(mb));
            json_object_set_new(p, "stages", stages_arr(cat, pool, set, &set->tpl[t]));
            json_array_append_new(pipes, p);
        }
    }
    json_object_set_new(par, "pipelines", pipes);
    json_object_set_new(doc, "parallelism", par);

    fl_error serr;
    fl_error_clear(&serr);
    fl_status rc = fl_train_plan_simulate(cat, doc, &serr);
    json_t *sim = json_object_get(doc, "simulation");
    if (rc || !json_is_true(json_object_get(sim, "fits"))) {
        for (int t = 0; t < set->n_tpl && *bad_template < 0; t++)
            if (sol->x[t] && !template_fits(cat, pool, set, t, sol->x[t], (sol->s[t] + sol->x[t] - 1) / sol->x[t]))
                *bad_template = t;
        json_decref(doc);
        if (rc && rc != FL_EINVAL && rc != FL_EINFEASIBLE) {
            if (err)
                *err = serr;
            return rc;
        }
        return FL_OK;
    }
    double tps = json_number_value(json_object_get(sim, "tokens_per_s"));
    double cph = json_number_value(json_object_get(sim, "cost_per_hour")) +
                 json_number_value(json_object_get(sim, "egress_per_hour"));
    json_object_set_new(doc, "placement_reasons", placement_reasons(cat, job, pool, set, sol, sim));
    if (job->train_tokens > 0 && tps > 0) {
        double secs = job->train_tokens / tps;
        if (!json_object_get(sim, "time_to_train_s"))
            json_object_set_new(sim, "time_to_train_s", json_real(secs));
        if (!json_object_get(sim, "total_cost"))
            json_object_set_new(sim, "total_cost", json_real(cph * secs / 3600.0));
    }
    *doc_out = doc;
    return FL_OK;
}

double fl_tp_doc_score(const fl_job *job, json_t *doc)
{
    json_t *sim = json_object_get(doc, "simulation");
    double tps = json_number_value(json_object_get(sim, "tokens_per_s"));
    /* what the user pays: instances plus cross-zone egress */
    double cph = json_number_value(json_object_get(sim, "cost_per_hour")) +
                 json_number_value(json_object_get(sim, "egress_per_hour"));
    switch (job->objective) {
    /* owned capacity at price 0 makes free plans: the cheapest possible (per dollar: beyond any
     * priced plan, the faster first) */
    case FL_OBJ_MIN_COST: return cph >= 0 && tps > 0 ? -cph : -1e300;
    case FL_OBJ_MAX_THROUGHPUT_PER_DOLLAR: return cph > 0 ? tps / cph : tps > 0 ? FL_TP_FREE_PER_DOLLAR * tps : 0;
    case FL_OBJ_MIN_COST_PER_TOKEN: return cph >= 0 && tps > 0 ? -cph / tps : -1e300;
    default: return tps;
    }
}
