/* whatif/whatif.c — what-if replay of an availability trace under three policies
 * (migration-aware, keep-first, replan-always) and scenario sweeps. Plans are cached by the
 * availability signature restricted to what the job may use, per cloud region for training jobs
 * (whatif_cache.c, which also prefetches plans on several threads); events that change nothing
 * the job may use are not replanned.
 * Every shortcut gives what planning from scratch at each event gives (tests/matching). */
#include "whatif/whatif_cache.h"
#include "whatif/replan.h"
#include "common/plan.h"
#include "common/error.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *const fl_whatif_policy_names[FL_WHATIF_POLICIES] = {"migration_aware", "keep_first", "replan_always"};

void fl_whatif_options_init(fl_whatif_options *opts)
{
    if (!opts)
        return;
    memset(opts, 0, sizeof *opts);
    opts->version = FL_WHATIF_OPTIONS_VERSION;
    opts->restart_s = 120.0;
}

void fl_whatif_report_free(fl_whatif_report *r)
{
    if (!r)
        return;
    json_decref(r->doc);
    free(r);
}

/* Online CPUs (at least 1, at most 64). */
static int online_cpus(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n < 1 ? 1 : n > 64 ? 64 : (int)n;
}

/* ---- policies ---- */

typedef struct policy {
    json_t *cur;          /* running placed plan, NULL when nothing runs */
    double rate, cost_h;
    int gpus;
    fl_whatif_totals tot;
} policy;

static void doc_rate(json_t *doc, fl_job_kind kind, double *rate, double *cost_h, int *gpus)
{
    json_t *sim = json_object_get(doc, "simulation");
    *rate = doc ? json_number_value(json_object_get(sim, kind == FL_JOB_TRAINING ? "tokens_per_s" : "throughput_rps"))
                : 0.0;
    *cost_h = doc ? json_number_value(json_object_get(sim, "cost_per_hour")) : 0.0;
    *gpus = 0;
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(doc, "resources"), i, r)
        *gpus += (int)(json_number_value(json_object_get(r, "gpus_per_instance")) *
                       json_number_value(json_object_get(r, "instances")));
}

/* Switch policy p to `best` (placed against what runs); returns the migration. */
static fl_status switch_to(const fl_catalog *cat, policy *p, json_t *best, const fl_place_options *po,
                           fl_migration *mig, fl_error *err)
{
    json_t *nd = json_deep_copy(best);
    if (!nd)
        return fl_fail(err, FL_ENOMEM, "whatif", "out of memory");
    fl_status rc = fl_place_against(cat, nd, p->cur, po, mig, err);
    if (rc) {
        json_decref(nd);
        return rc;
    }
    if (!p->cur)
        memset(mig, 0, sizeof *mig); /* first deployment: nothing to migrate */
    json_decref(p->cur);
    p->cur = nd;
    return FL_OK;
}

/* Apply one event to one policy: decide what runs next. */
static fl_status step_policy(const fl_catalog *cat, const fl_job *job, const fl_availability *av, int which,
                             policy *p, const fl_wc_ent *best, double horizon_h, const fl_place_options *po,
                             fl_migration *mig, fl_error *err)
{
    memset(mig, 0, sizeof *mig);
    int fits = p->cur && fl_doc_fits_availability(cat, p->cur, av);
    fl_status rc = FL_OK;
    if (!best->doc) {
        if (!fits) {
            json_decref(p->cur);
            p->cur = NULL;
        }
        return FL_OK;
    }
    if (!p->cur)
        return switch_to(cat, p, best->doc, po, mig, err);
    switch (which) {
    case 0: { /* migration-aware: the replanning rule */
        json_t *nd = json_deep_copy(best->doc);
        fl_move_decision d;
        if (!nd)
            return fl_fail(err, FL_ENOMEM, "whatif", "out of memory");
        rc = fl_replan_decide(cat, job, av, p->cur, &nd, horizon_h, po, &d, mig, err);
        if (rc) {
            json_decref(nd);
            return rc;
        }
        json_object_del(nd, "replan");
        if (d.move) {
            json_decref(p->cur);
            p->cur = nd;
        } else {
            json_decref(nd);
            memset(mig, 0, sizeof *mig);
        }
        return FL_OK;
    }
    case 1: /* keep the first plan while it fits */
        if (fits)
            return FL_OK;
        return switch_to(cat, p, best->doc, po, mig, err);
    default: /* always the best plan for the new availability */
        rc = switch_to(cat, p, best->doc, po, mig, err);
        if (!rc && !mig->changed)
            memset(mig, 0, sizeof *mig);
        return rc;
    }
}

/* Plan from scratch for the reference replay (no cache); e replaces *ref. */
static fl_status plan_fresh(const fl_catalog *cat, const fl_job *job, const fl_availability *av,
                            const fl_whatif_options *wo, fl_wc_ent **ref, size_t *calls, fl_error *err)
{
    fl_wc_ent *e = calloc(1, sizeof *e);
    if (!e)
        return fl_fail(err, FL_ENOMEM, "whatif", "out of memory");
    (*calls)++;
    fl_status rc = fl_wc_plan_into(cat, job, av, NULL, wo, e, err);
    if (rc) {
        fl_wc_ent_free(e);
        return rc;
    }
    fl_wc_ent_free(*ref);
    *ref = e;
    return FL_OK;
}

/* The plan as the report keeps it for comparisons: without the solver's statistics (timings). */
static json_t *plan_for_report(const fl_wc_ent *best)
{
    if (!best || !best->doc)
        return json_null();
    json_t *d = json_deep_copy(best->doc);
    if (d)
        json_object_del(d, "solver");
    return d ? d : json_null();
}

fl_status fl_whatif_replay_internal(const fl_catalog *cat, const fl_job *job, const fl_availability *base_av,
                                    const char *trace_csv, const fl_whatif_options *opts,
                                    const fl_whatif_internal *in, fl_whatif_report **out, fl_error *err)
{
    if (!out)
        return fl_fail(err, FL_EMISUSE, "out", "fl_whatif_replay: out is NULL");
    *out = NULL;
    if (!cat || !job || !trace_csv)
        return fl_fail(err, FL_EMISUSE, "whatif", "fl_whatif_replay: NULL argument");
    fl_whatif_options dflt;
    if (!opts) {
        fl_whatif_options_init(&dflt);
        opts = &dflt;
    }
    fl_status vrc = fl_check_version(opts->version, FL_WHATIF_OPTIONS_VERSION, "fl_whatif_options", err);
    if (vrc)
        return vrc;
    fl_whatif_internal no_in;
    if (!in) {
        memset(&no_in, 0, sizeof no_in);
        in = &no_in;
    }
    fl_trace t;
    fl_status rc = fl_trace_parse(cat, trace_csv, &t, err);
    if (rc)
        return rc;
    fl_availability *av = NULL;
    if (base_av)
        av = fl_availability_clone(base_av);
    else
        rc = fl_availability_new(cat, &av, err);
    if (!rc && !av)
        rc = fl_fail(err, FL_ENOMEM, "availability", "out of memory");
    fl_wc_cache cache;
    memset(&cache, 0, sizeof cache);
    if (!rc)
        rc = fl_wc_init(&cache, cat, job, av, err);
    int threads = opts->threads > 0 ? opts->threads : online_cpus();
    if (!rc && !in->reference && threads > 1)
        rc = fl_wc_prefetch(&cache, cat, job, av, &t, opts, threads, err);
    double horizon_h = opts->horizon_hours > 0 ? opts->horizon_hours : job->horizon_hours;
    fl_place_options po;
    fl_place_options_init(&po);
    po.restart_s = opts->restart_s;
    policy pol[FL_WHATIF_POLICIES];
    memset(pol, 0, sizeof pol);
    json_t *timeline = json_array(), *plans = in->keep_plans ? json_array() : NULL;
    double first = t.n ? t.rows[0].time : 0, last = t.n ? t.rows[t.n - 1].time : 0;
    double end = opts->end_s > 0 ? opts->end_s
                                 : last + (t.n_events > 1 ? (last - first) / (double)(t.n_events - 1) : 3600.0);
    if (!rc && end < last)
        rc = fl_fail(err, FL_EINVAL, "end_s", "end_s %g is before the last event at %g", end, last);
    size_t skipped = 0, infeasible_events = 0, feasible_events = 0;
    fl_wc_ent *best = NULL, *ref = NULL;
    for (size_t e = 0; e < t.n_events && !rc; e++) {
        int relevant;
        if ((rc = fl_wc_apply_rows(av, cat, &cache, &t, e, &relevant, err)))
            break;
        double t0 = t.rows[t.event_start[e]].time;
        double t1 = e + 1 < t.n_events ? t.rows[t.event_start[e + 1]].time : end;
        /* the reference replans from scratch and steps every policy at every event */
        int step = in->reference || e == 0 || relevant;
        if (in->reference) {
            if ((rc = plan_fresh(cat, job, av, opts, &ref, &cache.planner_calls, err)))
                break;
            best = ref;
        } else if (!step) {
            skipped++;
        } else if ((rc = fl_wc_best(&cache, cat, job, av, opts, &best, err))) {
            break;
        }
        if (best && best->doc)
            feasible_events++;
        else
            infeasible_events++;
        if (plans)
            json_array_append_new(plans, plan_for_report(best));
        json_t *row = json_pack("{s:f, s:b, s:b}", "time_s", t0, "replanned", e == 0 || relevant, "feasible",
                                best && best->doc != NULL);
        for (int k = 0; k < FL_WHATIF_POLICIES && !rc; k++) {
            fl_migration mig;
            memset(&mig, 0, sizeof mig);
            if (step)
                rc = step_policy(cat, job, av, k, &pol[k], best, horizon_h, &po, &mig, err);
            if (rc)
                break;
            doc_rate(pol[k].cur, job->kind, &pol[k].rate, &pol[k].cost_h, &pol[k].gpus);
            double dt = t1 - t0, down = mig.migration_s < dt ? mig.migration_s : dt;
            pol[k].tot.work += pol[k].rate * (dt - down);
            pol[k].tot.dollars += pol[k].cost_h * dt / 3600.0 + mig.migration_cost;
            if (mig.changed && mig.migration_s > 0) {
                pol[k].tot.migrations++;
                pol[k].tot.migration_s += mig.migration_s;
                pol[k].tot.migration_cost += mig.migration_cost;
            }
            json_object_set_new(row, fl_whatif_policy_names[k],
                                json_pack("{s:f, s:f, s:i, s:b, s:f, s:f}", "throughput", pol[k].rate, "cost_per_hour",
                                          pol[k].cost_h, "gpus", pol[k].gpus, "migrated",
                                          mig.changed && mig.migration_s > 0, "migration_s", mig.migration_s,
                                          "migration_cost", mig.migration_cost));
        }
        json_array_append_new(timeline, row);
        if (opts->progress)
            opts->progress(opts->progress_user, e + 1, t.n_events);
    }
    if (!rc && feasible_events == 0)
        rc = fl_fail(err, FL_EINFEASIBLE, "availability", "the job cannot be planned at any event of the trace%s%s",
                     best && best->reason[0] ? ": " : "", best ? best->reason : "");
    if (!rc) {
        json_t *tot = json_object();
        for (int k = 0; k < FL_WHATIF_POLICIES; k++)
            json_object_set_new(tot, fl_whatif_policy_names[k],
                                json_pack("{s:f, s:f, s:i, s:f, s:f}", "work", pol[k].tot.work, "dollars",
                                          pol[k].tot.dollars, "migrations", pol[k].tot.migrations, "migration_s",
                                          pol[k].tot.migration_s, "migration_cost", pol[k].tot.migration_cost));
        fl_whatif_report *r = calloc(1, sizeof *r);
        if (r)
            r->doc = json_pack("{s:s, s:s, s:s, s:f, s:f, s:i, s:i, s:i, s:i, s:i, s:i, s:f, s:O, s:o}", "kind", "replay",
                               "job_kind", job->kind == FL_JOB_TRAINING ? "training" : "serving", "work_unit",
                               job->kind == FL_JOB_TRAINING ? "tokens" : "requests", "start_s", first, "end_s", end,
                               "events", (int)t.n_events, "skipped_events", (int)skipped, "planner_calls",
                               (int)cache.planner_calls, "cache_hits", (int)cache.hits, "infeasible_events",
                               (int)infeasible_events, "regions_skipped_by_bound", (int)cache.bound_skips, "horizon_hours", horizon_h, "timeline", timeline, "totals", tot);
        if (r && r->doc && plans)
            json_object_set(r->doc, "plans", plans);
        if (!r || !r->doc) {
            free(r);
            rc = fl_fail(err, FL_ENOMEM, "whatif", "out of memory");
        } else
            *out = r;
    }
    json_decref(timeline);
    json_decref(plans);
    for (int k = 0; k < FL_WHATIF_POLICIES; k++)
        json_decref(pol[k].cur);
    fl_wc_ent_free(ref);
    fl_wc_free(&cache);
    fl_availability_free(av);
    fl_trace_free(&t);
    return rc;
}

fl_status fl_whatif_replay(const fl_catalog *cat, const fl_job *job, const fl_availability *base_av,
                           const char *trace_csv, const fl_whatif_options *opts, fl_whatif_report **out, fl_error *err)
{
    return fl_whatif_replay_internal(cat, job, base_av, trace_csv, opts, NULL, out, err);
}

fl_status fl_whatif_report_totals(const fl_whatif_report *r, const char *policy, fl_whatif_totals *out, fl_error *err)
{
    if (!r || !policy || !out)
        return fl_fail(err, FL_EMISUSE, "report", "fl_whatif_report_totals: NULL argument");
    json_t *t = json_object_get(json_object_get(r->doc, "totals"), policy);
    if (!t)
        return fl_fail(err, FL_ENOTFOUND, "policy", "no policy '%s' in the report", policy);
    out->work = json_number_value(json_object_get(t, "work"));
    out->dollars = json_number_value(json_object_get(t, "dollars"));
    out->migrations = (int)json_integer_value(json_object_get(t, "migrations"));
    out->migration_s = json_number_value(json_object_get(t, "migration_s"));
    out->migration_cost = json_number_value(json_object_get(t, "migration_cost"));
    return FL_OK;
}
