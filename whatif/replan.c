/* whatif/replan.c — migration-aware replanning: given the running plan (with its placement)
 * and a freshly planned one, place the new plan with migration minimisation, estimate the move
 * and keep the running plan unless moving pays over the horizon under the job's objective. */
#include "whatif/replan.h"
#include "common/error.h"
#include "common/json_util.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

void fl_move_decide(const fl_job *job, const fl_move_eval *ev, const fl_migration *mig, double horizon_hours,
                    fl_move_decision *out)
{
    memset(out, 0, sizeof *out);
    double H = horizon_hours * 3600.0;
    double down = mig->migration_s < H ? mig->migration_s : H;
    double work_keep = ev->old_rate * H, dollars_keep = ev->old_cost_h * horizon_hours;
    double work_move = ev->new_rate * (H - down), dollars_move = ev->new_cost_h * horizon_hours + mig->migration_cost;
    out->gain_work = work_move - work_keep;
    out->gain_dollars = dollars_keep - dollars_move;
    if (!mig->changed) {
        out->move = 0;
        snprintf(out->reason, sizeof out->reason, "the new plan is the running deployment");
        return;
    }
    if (!ev->old_fits) {
        out->move = 1;
        snprintf(out->reason, sizeof out->reason, "the running plan no longer fits the availability: move forced");
        return;
    }
    fl_objective obj = job ? job->objective : FL_OBJ_MAX_THROUGHPUT;
    switch (obj) {
    case FL_OBJ_MIN_COST:
        out->move = dollars_move < dollars_keep - 1e-9 && work_move >= 0.999 * ev->old_rate * (H - down);
        snprintf(out->reason, sizeof out->reason, "%s: over %.3g h moving %s $%.2f (migration $%.2f, %.0f s)",
                 "min_cost", horizon_hours, out->move ? "saves" : "would not save", out->gain_dollars,
                 mig->migration_cost, mig->migration_s);
        break;
    case FL_OBJ_MIN_COST_PER_TOKEN: /* work per dollar, as per dollar */
    case FL_OBJ_MAX_THROUGHPUT_PER_DOLLAR: {
        double rk = dollars_keep > 0 ? work_keep / dollars_keep : 0, rm = dollars_move > 0 ? work_move / dollars_move : 0;
        out->move = rm > rk * (1 + 1e-9);
        snprintf(out->reason, sizeof out->reason,
                 "max_throughput_per_dollar: over %.3g h moving gives %.4g vs %.4g work per dollar (migration %.0f s, $%.2f)",
                 horizon_hours, rm, rk, mig->migration_s, mig->migration_cost);
        break;
    }
    default:
        out->move = work_move > work_keep * (1 + 1e-9);
        snprintf(out->reason, sizeof out->reason,
                 "max_throughput: over %.3g h moving %s %.4g work (migration %.0f s, $%.2f)", horizon_hours,
                 out->move ? "gains" : "would lose", fabs(out->gain_work), mig->migration_s, mig->migration_cost);
        break;
    }
}

/* Throughput, cost and fit of a simulated plan document. */
static void doc_figures(json_t *doc, fl_job_kind kind, double *rate, double *cost_h, int *fits)
{
    json_t *sim = json_object_get(doc, "simulation");
    *rate = json_number_value(json_object_get(sim, kind == FL_JOB_TRAINING ? "tokens_per_s" : "throughput_rps"));
    /* instances plus cross-zone egress (training plans; 0 when absent) */
    *cost_h = json_number_value(json_object_get(sim, "cost_per_hour")) +
              json_number_value(json_object_get(sim, "egress_per_hour"));
    *fits = json_is_true(json_object_get(sim, kind == FL_JOB_TRAINING ? "fits" : "meets_slo"));
}

int fl_doc_fits_availability(const fl_catalog *cat, json_t *doc, const fl_availability *av)
{
    if (!av || !fl_availability_is_limited(av))
        return 1;
    size_t nz = fl_catalog_zone_count(cat), ng = fl_catalog_gpu_count(cat);
    json_t *res = json_object_get(doc, "resources"), *r;
    size_t i;
    /* sum per (zone, gpu); rows are few, so a quadratic pass is fine */
    json_array_foreach(res, i, r) {
        int z = fl_catalog_find_zone(cat, json_string_value(json_object_get(r, "zone")), "zone", NULL);
        int g = fl_catalog_find_gpu(cat, json_string_value(json_object_get(r, "gpu")), "gpu", NULL);
        if (z < 0 || g < 0 || (size_t)z >= nz || (size_t)g >= ng)
            return 0;
        double need = 0;
        size_t j;
        json_t *q;
        json_array_foreach(res, j, q) {
            if (fl_catalog_find_zone(cat, json_string_value(json_object_get(q, "zone")), "zone", NULL) == z &&
                fl_catalog_find_gpu(cat, json_string_value(json_object_get(q, "gpu")), "gpu", NULL) == g)
                need += json_number_value(json_object_get(q, "gpus_per_instance")) *
                        json_number_value(json_object_get(q, "instances"));
        }
        int have = fl_availability_get(av, z, g);
        if (have >= 0 && need > have)
            return 0;
    }
    return 1;
}

fl_status fl_replan_decide(const fl_catalog *cat, const fl_job *job, const fl_availability *av, json_t *current_doc,
                           json_t **new_doc_inout, double horizon_hours, const fl_place_options *opts,
                           fl_move_decision *decision, fl_migration *mig_out, fl_error *err)
{
    if (!cat || !job || !current_doc || !new_doc_inout || !*new_doc_inout)
        return fl_fail(err, FL_EMISUSE, "current", "fl_replan_decide: NULL argument");
    if (horizon_hours <= 0)
        horizon_hours = job->horizon_hours > 0 ? job->horizon_hours : 24.0;
    const char *kind = json_string_value(json_object_get(current_doc, "kind"));
    fl_job_kind k = kind && strcmp(kind, "serving") == 0 ? FL_JOB_SERVING : FL_JOB_TRAINING;
    if (!kind || k != job->kind)
        return fl_fail(err, FL_EINVAL, "current.kind", "current.kind: the running plan is not a %s plan",
                       job->kind == FL_JOB_TRAINING ? "training" : "serving");
    json_t *cur = json_deep_copy(current_doc);
    if (!cur)
        return fl_fail(err, FL_ENOMEM, "current", "out of memory");
    fl_status rc = FL_OK;
    if (!json_is_object(json_object_get(cur, "simulation"))) {
        rc = k == FL_JOB_TRAINING ? fl_train_plan_simulate(cat, cur, err) : fl_serve_plan_simulate(cat, cur, err);
        if (rc) {
            fl_error_prefix_field(err, "current");
            json_decref(cur);
            return rc;
        }
    }
    json_t *nd = json_deep_copy(*new_doc_inout);
    fl_migration mig;
    if (!nd) {
        json_decref(cur);
        return fl_fail(err, FL_ENOMEM, "plan", "out of memory");
    }
    if ((rc = fl_place_against(cat, nd, cur, opts, &mig, err))) {
        json_decref(cur);
        json_decref(nd);
        return rc;
    }
    fl_move_eval ev;
    doc_figures(cur, k, &ev.old_rate, &ev.old_cost_h, &ev.old_fits);
    int f2;
    doc_figures(nd, k, &ev.new_rate, &ev.new_cost_h, &f2);
    ev.old_fits = ev.old_fits && fl_doc_fits_availability(cat, cur, av);
    fl_move_decision d;
    fl_move_decide(job, &ev, &mig, horizon_hours, &d);
    json_t *out = d.move ? nd : cur;
    json_t *rp = json_pack("{s:s, s:f, s:f, s:f, s:f, s:i, s:f, s:f, s:s}", "decision", d.move ? "move" : "keep",
                           k == FL_JOB_TRAINING ? "gain_tokens" : "gain_requests", d.gain_work, "gain_dollars",
                           d.gain_dollars, "migration_s", mig.migration_s, "migration_cost", mig.migration_cost,
                           "shards_moved", mig.shards_moved, "bytes_moved", mig.bytes_moved, "horizon_hours",
                           horizon_hours, "reason", d.reason);
    json_object_set_new(out, "replan", rp);
    if (d.move)
        json_decref(cur);
    else
        json_decref(nd);
    json_decref(*new_doc_inout);
    *new_doc_inout = out;
    if (decision)
        *decision = d;
    if (mig_out)
        *mig_out = mig;
    return FL_OK;
}

fl_status fl_replan_apply(const fl_catalog *cat, const fl_job *job, const fl_availability *av,
                          const fl_plan_options *opts, json_t **doc, fl_error *err)
{
    json_t *cur;
    fl_status rc = fl_json_parse_object(opts->current_placement_json, "current", &cur, err);
    if (rc)
        return rc;
    rc = fl_replan_decide(cat, job, av, cur, doc, opts->horizon_hours, NULL, NULL, NULL, err);
    json_decref(cur);
    return rc;
}
