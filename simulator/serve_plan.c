/* simulator/serve_plan.c — serving plan documents: structure check against the catalog,
 * re-simulation ("simulation" object) with the request-level simulator on the plan's job
 * workload, and `flotilla estimate --phase prefill|decode`. */
#include "simulator/serve_eval.h"
#include "simulator/serve_calib.h"
#include "common/plan.h"
#include "common/error.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

size_t fl_serve_default_requests(double rate)
{
    double n = rate * 600.0; /* ten minutes of traffic */
    if (n < 3000) n = 3000;
    if (n > 30000) n = 30000;
    return (size_t)n;
}

fl_status fl_serve_workload_from_job(const fl_job *job, int m, fl_serve_workload *wl, fl_serve_request **trace_out,
                                     fl_error *err)
{
    const fl_serve_model *sm = &job->serve[m];
    memset(wl, 0, sizeof *wl);
    *trace_out = NULL;
    wl->n_classes = sm->n_classes;
    memcpy(wl->classes, sm->classes, sizeof wl->classes);
    wl->rate_rps = sm->rate_rps;
    wl->seed = 0x9e3779b9ull + (uint64_t)m;
    if (sm->trace_path) {
        char field[96];
        snprintf(field, sizeof field, job->n_serve_models > 1 ? "job.models[%d].workload.trace" : "job.workload.trace", m);
        fl_serve_request *tr = NULL;
        size_t n = 0;
        fl_status rc = fl_serve_trace_load(sm->trace_path, field, &tr, &n, err);
        if (rc)
            return rc;
        double rate = 0;
        fl_serve_trace_classify(tr, n, &wl->n_classes, wl->classes, &rate);
        if (sm->rate_rps > 0 && rate > 0) {
            /* a rate given with a trace rescales its time axis */
            for (size_t i = 0; i < n; i++)
                tr[i].arrival *= rate / sm->rate_rps;
            rate = sm->rate_rps;
        }
        wl->rate_rps = rate;
        wl->trace = tr;
        wl->n_trace = n;
        *trace_out = tr;
    } else {
        wl->n_requests = fl_serve_default_requests(sm->rate_rps);
    }
    return FL_OK;
}

fl_status fl_serve_eval(const fl_job *job, int m, const fl_serve_workload *wl, const fl_serve_group *groups,
                        int n_groups, fl_serve_stats *st, int *meets, fl_error *err)
{
    fl_status rc = fl_serve_simulate(groups, n_groups, wl, st, err);
    if (rc)
        return rc;
    const fl_serve_model *sm = &job->serve[m];
    size_t n = wl->trace ? wl->n_trace : wl->n_requests;
    *meets = st->completed == n && st->rejected == 0 && (sm->ttft_p90_s <= 0 || st->ttft_p90 <= sm->ttft_p90_s) &&
             (sm->tpot_p90_s <= 0 || st->tpot_p90 <= sm->tpot_p90_s);
    return FL_OK;
}

json_t *fl_serve_stats_json(const fl_serve_stats *st)
{
    return json_pack("{s:f,s:f,s:f,s:f,s:f,s:f,s:f,s:f,s:f,s:f,s:f,s:i,s:f,s:f,s:i,s:f,s:f,s:I,s:I,s:I}",
                     "ttft_p50_s", st->ttft_p50, "ttft_p90_s", st->ttft_p90, "ttft_p99_s", st->ttft_p99,
                     "tpot_p50_s", st->tpot_p50, "tpot_p90_s", st->tpot_p90, "tpot_p99_s", st->tpot_p99,
                     "e2e_p50_s", st->e2e_p50, "e2e_p90_s", st->e2e_p90, "e2e_p99_s", st->e2e_p99,
                     "throughput_rps", st->throughput_rps, "tokens_per_s", st->tokens_per_s, "max_batch",
                     st->max_batch, "kv_cache_tokens", st->kv_cache_tokens, "queue_mean", st->queue_mean,
                     "queue_max", st->queue_max, "kv_util_mean", st->kv_util_mean, "kv_util_max", st->kv_util_max,
                     "requests", (json_int_t)st->completed, "rejected", (json_int_t)st->rejected, "preemptions",
                     (json_int_t)st->preemptions);
}

/* ---- plan documents ---- */

typedef struct parsed_plan {
    fl_job *job;
    int n_groups;
    fl_serve_group groups[64];
    int group_model[64];
    double cost_per_hour;
} parsed_plan;

static double num_or(json_t *o, const char *k, double d)
{
    json_t *v = json_object_get(o, k);
    return json_is_number(v) ? json_number_value(v) : d;
}

/* Cheapest on-demand cost of `gpus` GPUs of gpu_index (in zone_index when >= 0) in whole instances
 * that hold a replica of `per` GPUs. 0 when the catalog has no such offering. */
static double replica_cost(const fl_catalog *cat, int gpu_index, int zone_index, int gpus, int per)
{
    double best = 0;
    for (size_t i = 0; i < fl_catalog_offering_count(cat); i++) {
        const fl_offering *o = fl_catalog_offering(cat, i);
        if (o->gpu_index != gpu_index || (zone_index >= 0 && o->zone_index != zone_index) ||
            o->gpus_per_instance < per || o->price_per_hour <= 0)
            continue;
        int per_inst = o->gpus_per_instance / per;
        int reps = gpus / per;
        double c = ceil((double)reps / per_inst) * o->price_per_hour;
        if (best == 0 || c < best)
            best = c;
    }
    return best;
}

static fl_status parse_plan(const fl_catalog *cat, json_t *doc, parsed_plan *pp_out, fl_error *err)
{
    memset(pp_out, 0, sizeof *pp_out);
    json_t *jobj = json_object_get(doc, "job");
    if (!json_is_object(jobj))
        return fl_fail(err, FL_EINVAL, "plan.job", "plan.job: missing (the serving job with workload and slo)");
    char *txt = json_dumps(jobj, 0);
    if (!txt)
        return fl_fail(err, FL_ENOMEM, "plan.job", "out of memory");
    fl_status rc = fl_job_from_json(cat, txt, &pp_out->job, err);
    free(txt);
    if (rc) {
        fl_error_prefix_field(err, "plan");
        return rc;
    }
    fl_job *job = pp_out->job;
    if (job->kind != FL_JOB_SERVING)
        return fl_fail(err, FL_EINVAL, "plan.job.kind", "plan.job.kind: a serving plan needs a serving job");
    json_t *reps = json_object_get(doc, "replicas");
    if (!json_is_array(reps) || json_array_size(reps) == 0)
        return fl_fail(err, FL_EINVAL, "plan.replicas", "plan.replicas: expected a non-empty array");
    if (json_array_size(reps) > 64)
        return fl_fail(err, FL_EINVAL, "plan.replicas", "plan.replicas: at most 64 replica groups");
    size_t i;
    json_t *r;
    double cost = 0;
    json_array_foreach(reps, i, r) {
        char p[64], f[96];
        snprintf(p, sizeof p, "plan.replicas[%zu]", i);
        if (!json_is_object(r))
            return fl_fail(err, FL_EINVAL, p, "%s: expected an object", p);
        int m = 0;
        json_t *mv = json_object_get(r, "model");
        if (json_is_string(mv)) {
            m = -1;
            int ci = fl_catalog_find_model(cat, json_string_value(mv), NULL, NULL);
            for (int k = 0; k < job->n_serve_models; k++) {
                const char *nm = job->serve[k].model.name;
                if ((nm && strcasecmp(nm, json_string_value(mv)) == 0) ||
                    (ci >= 0 && nm && strcasecmp(nm, fl_catalog_model(cat, (size_t)ci)->name) == 0))
                    m = k;
            }
            if (m < 0)
                return fl_fail(err, FL_EINVAL, "model", "%s.model: '%s' is not a model of the job", p,
                               json_string_value(mv));
        } else if (job->n_serve_models > 1) {
            return fl_fail(err, FL_EINVAL, p, "%s.model: required when the job serves several models", p);
        }
        json_t *gv = json_object_get(r, "gpu");
        snprintf(f, sizeof f, "%s.gpu", p);
        if (!json_is_string(gv))
            return fl_fail(err, FL_EINVAL, f, "%s: missing (a GPU name)", f);
        int gi = fl_catalog_find_gpu(cat, json_string_value(gv), f, err);
        if (gi < 0)
            return FL_ENOTFOUND;
        int zi = -1;
        json_t *zv = json_object_get(r, "zone");
        if (json_is_string(zv)) {
            snprintf(f, sizeof f, "%s.zone", p);
            zi = fl_catalog_find_zone(cat, json_string_value(zv), f, err);
            if (zi < 0)
                return FL_ENOTFOUND;
        }
        json_t *tv = json_object_get(r, "tp"), *pv = json_object_get(r, "pp"), *cv = json_object_get(r, "count");
        if ((tv && !json_is_integer(tv)) || (pv && !json_is_integer(pv)) || !json_is_integer(cv)) {
            snprintf(f, sizeof f, "%s.%s", p, (tv && !json_is_integer(tv)) ? "tp" : (pv && !json_is_integer(pv)) ? "pp" : "count");
            return fl_fail(err, FL_EINVAL, f, "%s: expected an integer", f);
        }
        long tp = tv ? (long)json_integer_value(tv) : 1, ppn = pv ? (long)json_integer_value(pv) : 1;
        long cnt = (long)json_integer_value(cv);
        if (tp < 1 || tp > 64 || ppn < 1 || ppn > 1024) {
            snprintf(f, sizeof f, "%s.%s", p, tp < 1 || tp > 64 ? "tp" : "pp");
            return fl_fail(err, FL_EINVAL, f, "%s: must be between 1 and %d", f, tp < 1 || tp > 64 ? 64 : 1024);
        }
        if (cnt < 1 || cnt > 100000) {
            snprintf(f, sizeof f, "%s.count", p);
            return fl_fail(err, FL_EINVAL, f, "%s: must be between 1 and 100000 (got %ld)", f, cnt);
        }
        fl_serve_group *g = &pp_out->groups[pp_out->n_groups];
        const fl_serve_model *sm = &job->serve[m];
        snprintf(f, sizeof f, "%s.tp", p);
        if (sm->model.heads % tp)
            return fl_fail(err, FL_EINVAL, f, "%s: tp %ld does not divide the %d attention heads of %s", f, tp,
                           sm->model.heads, sm->model.name);
        fl_serve_engine eng;
        fl_serve_engine_for_job(cat, sm, (size_t)gi, &eng);
        if ((rc = fl_serve_cfg_init_engine(&g->cfg, fl_catalog_gpu(cat, (size_t)gi), &sm->model, (int)tp, (int)ppn,
                                           sm->weights_dtype, sm->kv_dtype, &eng, p, err)))
            return rc;
        g->count = (int)cnt;
        json_t *cs = json_object_get(r, "class_shares");
        int ncls = sm->n_classes > 0 ? sm->n_classes : 0;
        if (cs && !json_is_null(cs)) {
            snprintf(f, sizeof f, "%s.class_shares", p);
            if (!json_is_array(cs) || (ncls && json_array_size(cs) != (size_t)ncls) ||
                json_array_size(cs) > FL_MAX_CLASSES)
                return fl_fail(err, FL_EINVAL, f, "%s: expected an array of %d shares (one per request class)", f,
                               ncls ? ncls : 1);
            for (size_t c = 0; c < json_array_size(cs); c++) {
                json_t *v = json_array_get(cs, c);
                if (!json_is_number(v) || json_number_value(v) < 0 || json_number_value(v) > 1 + 1e-6)
                    return fl_fail(err, FL_EINVAL, f, "%s[%zu]: expected a share between 0 and 1", f, c);
                g->class_share[c] = json_number_value(v);
            }
        } else {
            for (int c = 0; c < FL_MAX_CLASSES; c++)
                g->class_share[c] = (double)cnt;
        }
        pp_out->group_model[pp_out->n_groups++] = m;
        cost += replica_cost(cat, gi, zi, (int)(cnt * tp * ppn), (int)(tp * ppn));
    }
    json_t *res = json_object_get(doc, "resources");
    if (json_is_array(res) && json_array_size(res) > 0) {
        cost = 0;
        json_array_foreach(res, i, r) {
            double price = num_or(r, "price_per_hour", -1), inst = num_or(r, "instances", -1);
            if (price < 0 || inst < 0) {
                char f[96];
                snprintf(f, sizeof f, "plan.resources[%zu].%s", i, price < 0 ? "price_per_hour" : "instances");
                return fl_fail(err, FL_EINVAL, f, "%s: missing or negative", f);
            }
            cost += price * inst;
        }
    }
    pp_out->cost_per_hour = cost;
    return FL_OK;
}

fl_status fl_serve_plan_check(const fl_catalog *cat, json_t *doc, fl_error *err)
{
    parsed_plan *pp = malloc(sizeof *pp);
    if (!pp)
        return fl_fail(err, FL_ENOMEM, "plan", "out of memory");
    fl_status rc = parse_plan(cat, doc, pp, err);
    fl_job_free(pp->job);
    free(pp);
    return rc;
}

fl_status fl_serve_plan_simulate(const fl_catalog *cat, json_t *doc, fl_error *err)
{
    parsed_plan *pp = malloc(sizeof *pp);
    if (!pp)
        return fl_fail(err, FL_ENOMEM, "plan", "out of memory");
    fl_status rc = parse_plan(cat, doc, pp, err);
    json_t *sim = NULL, *models = json_array();
    double w_ttft50 = 0, w_ttft90 = 0, w_tpot50 = 0, w_tpot90 = 0, thr = 0, kvmin = INFINITY;
    int all_meet = 1, maxb = 0;
    for (int m = 0; rc == FL_OK && m < pp->job->n_serve_models; m++) {
        fl_serve_group groups[64];
        int ng = 0;
        for (int g = 0; g < pp->n_groups; g++)
            if (pp->group_model[g] == m)
                groups[ng++] = pp->groups[g];
        if (ng == 0) {
            rc = fl_fail(err, FL_EINVAL, "plan.replicas", "plan.replicas: no replica serves model %s",
                         pp->job->serve[m].model.name);
            break;
        }
        fl_serve_workload wl;
        fl_serve_request *tr = NULL;
        if ((rc = fl_serve_workload_from_job(pp->job, m, &wl, &tr, err)))
            break;
        fl_serve_stats st;
        int meets = 0;
        rc = fl_serve_eval(pp->job, m, &wl, groups, ng, &st, &meets, err);
        free(tr);
        if (rc)
            break;
        json_t *o = fl_serve_stats_json(&st);
        json_object_set_new(o, "model", json_string(pp->job->serve[m].model.name));
        json_object_set_new(o, "meets_slo", json_boolean(meets));
        json_array_append_new(models, o);
        all_meet &= meets;
        if (m == 0 || st.ttft_p90 > w_ttft90) { w_ttft90 = st.ttft_p90; }
        if (m == 0 || st.ttft_p50 > w_ttft50) { w_ttft50 = st.ttft_p50; }
        if (m == 0 || st.tpot_p90 > w_tpot90) { w_tpot90 = st.tpot_p90; }
        if (m == 0 || st.tpot_p50 > w_tpot50) { w_tpot50 = st.tpot_p50; }
        thr += st.throughput_rps;
        if (st.max_batch > maxb) maxb = st.max_batch;
        if (st.kv_cache_tokens < kvmin) kvmin = st.kv_cache_tokens;
        if (m == 0)
            sim = json_deep_copy(o);
    }
    if (rc == FL_OK) {
        json_object_del(sim, "model");
        if (pp->job->n_serve_models > 1) {
            json_object_set_new(sim, "ttft_p50_s", json_real(w_ttft50));
            json_object_set_new(sim, "ttft_p90_s", json_real(w_ttft90));
            json_object_set_new(sim, "tpot_p50_s", json_real(w_tpot50));
            json_object_set_new(sim, "tpot_p90_s", json_real(w_tpot90));
            json_object_set_new(sim, "throughput_rps", json_real(thr));
            json_object_set_new(sim, "max_batch", json_integer(maxb));
            json_object_set_new(sim, "kv_cache_tokens", json_real(kvmin));
            static const char *const worst[] = {"ttft_p99_s", "tpot_p99_s", "e2e_p50_s", "e2e_p90_s", "e2e_p99_s",
                                                 "queue_max", "kv_util_max"};
            for (size_t w = 0; w < sizeof worst / sizeof worst[0]; w++) {
                double v = 0;
                size_t mi;
                json_t *mo;
                json_array_foreach(models, mi, mo) {
                    double x = json_number_value(json_object_get(mo, worst[w]));
                    if (x > v) v = x;
                }
                json_object_set_new(sim, worst[w], json_real(v));
            }
            json_object_set(sim, "models", models);
        }
        json_object_set_new(sim, "cost_per_hour", json_real(pp->cost_per_hour));
        json_object_set_new(sim, "meets_slo", json_boolean(all_meet));
        json_object_set_new(doc, "simulation", sim);
    } else {
        json_decref(sim);
    }
    json_decref(models);
    fl_job_free(pp->job);
    free(pp);
    return rc;
}

fl_status fl_estimate_serve(const fl_catalog *cat, const fl_estimate_query *q, fl_estimate_result *out, fl_error *err)
{
    int gi = fl_catalog_find_gpu(cat, q->gpu ? q->gpu : "", "gpu", err);
    if (gi < 0)
        return FL_ENOTFOUND;
    int mi = fl_catalog_find_model(cat, q->model ? q->model : "", "model", err);
    if (mi < 0)
        return FL_ENOTFOUND;
    int dt = fl_dtype_parse(q->dtype ? q->dtype : "bf16");
    if (dt < 0)
        return fl_fail(err, FL_EINVAL, "dtype", "dtype: '%s' is not bf16, fp16, fp8, int8, int4 or fp32", q->dtype);
    fl_dtype kv = dt == FL_DT_FP32 ? FL_DT_FP32 : dt == FL_DT_FP16 ? FL_DT_FP16 : FL_DT_BF16;
    const fl_model *m = fl_catalog_model(cat, (size_t)mi);
    if (q->pp > m->layers)
        return fl_fail(err, FL_EINVAL, "pp", "pp: %d exceeds the %d layers of %s", q->pp, m->layers, m->name);
    fl_serve_engine eng;
    int nrows = 0;
    /* no engine named: the one the catalog's rows of this phase were measured with, else vllm */
    const char *ename = q->engine ? q->engine
                                  : fl_serve_measured_engine(cat, q->phase == FL_PHASE_PREFILL ? 'p' : 'd', gi);
    fl_status rc = fl_serve_engine_calibrated(cat, ename, fl_catalog_gpu(cat, (size_t)gi)->name, "engine", &eng,
                                              &nrows, err);
    if (rc)
        return rc;
    fl_serve_cfg c;
    fl_error e2;
    fl_error_clear(&e2);
    rc = fl_serve_cfg_init_engine(&c, fl_catalog_gpu(cat, (size_t)gi), fl_catalog_model(cat, (size_t)mi), q->tp,
                                  q->pp, (fl_dtype)dt, kv, &eng, "tp", &e2);
    if (rc && c.peak_flops <= 0) {
        if (err)
            *err = e2;
        return rc;
    }
    if (rc && c.weights_per_gpu <= 0) {
        if (err)
            *err = e2;
        return rc;
    }
    double flops = 0;
    int bound = 0;
    int b = q->batch > 0 ? q->batch : 1;
    int len = q->phase == FL_PHASE_PREFILL ? (q->seq > 0 ? q->seq : 512) : q->context;
    if (q->phase == FL_PHASE_PREFILL)
        out->seconds = fl_serve_prefill_time(&c, b, len, &flops, &bound);
    else
        out->seconds = fl_serve_decode_time(&c, b, len, &flops, &bound);
    double need = q->phase == FL_PHASE_PREFILL ? (double)b * len : (double)b * (len + 1.0);
    out->fits = c.fits && need <= c.kv_tokens;
    snprintf(out->source, sizeof out->source, "%s", nrows > 0 ? "calibrated" : "analytic");
    double ms = 0;
    int moom = 0;
    if (q->pp == 1 && fl_serve_measured_point(cat, q->phase == FL_PHASE_PREFILL ? 'p' : 'd', gi, mi, eng.name, q->tp,
                                              b, len, &ms, &moom)) {
        snprintf(out->source, sizeof out->source, "measured");
        if (moom)
            out->fits = 0; /* measured out of memory: a fact, whatever the model says */
        else
            out->seconds = ms;
    }
    out->flops = flops;
    out->achieved_flops = out->seconds > 0 ? flops / out->seconds / (q->tp * q->pp) : 0;
    out->memory_bytes = c.weights_per_gpu;
    out->kv_cache_tokens = c.kv_tokens;
    snprintf(out->engine, sizeof out->engine, "%s", eng.name);
    snprintf(out->bound, sizeof out->bound, "%s", bound ? "compute" : "memory");
    return FL_OK;
}
