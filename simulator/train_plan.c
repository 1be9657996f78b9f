/* simulator/train_plan.c — training plan documents: read the plan JSON (model, job settings,
 * parallelism, resources) into fl_train_* structures with errors naming the JSON path, run
 * fl_train_simulate, and write the "simulation" object; plus the `flotilla estimate --phase
 * train` entry point (fl_estimate_train). */
#include "common/plan.h"
#include "common/error.h"
#include "common/json_util.h"
#include "simulator/train_sim.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const dtype_names[] = {"fp32", "bf16", "fp16", "fp8", "int8", "int4", "tf32", NULL};
static const char *const recompute_names[] = {"none", "selective", "full", "auto", NULL};

/* A plan document read into simulator structures (owned arrays). */
typedef struct train_doc {
    fl_model model;
    char *model_name;
    fl_train_setup setup;
    int n_pipes;
    fl_train_pipeline *pipes;
    fl_train_stage *stages;
    int global_batch;      /* 0 when the plan has no job.global_batch */
    double train_tokens;   /* 0 when absent */
} train_doc;

static void doc_free(train_doc *d)
{
    free(d->model_name);
    free(d->pipes);
    free(d->stages);
    memset(d, 0, sizeof *d);
}

/* A required integer in [1, max]; errors say "must be positive" for zero and negative values. */
static fl_status req_pos_int_max(json_t *obj, const char *path, const char *key, long max, int *out, fl_error *err)
{
    json_t *v = json_object_get(obj, key);
    if (json_is_integer(v) && json_integer_value(v) <= 0) {
        char p[200];
        fl_json_path(p, sizeof p, path, key);
        return fl_fail(err, FL_EINVAL, p, "%s: must be positive (got %lld)", p, (long long)json_integer_value(v));
    }
    return fl_json_req_int(obj, path, key, 1, max, out, err);
}

/* Counts in a plan (replicas, micro-batches, tp, instances, ...) are at most the largest global
 * batch a job may have. */
#define PLAN_INT_MAX 100000000L

static fl_status req_pos_int(json_t *obj, const char *path, const char *key, int *out, fl_error *err)
{
    return req_pos_int_max(obj, path, key, PLAN_INT_MAX, out, err);
}

static fl_status opt_pos_int_max(json_t *obj, const char *path, const char *key, long max, int *out, fl_error *err)
{
    if (!json_object_get(obj, key) || json_is_null(json_object_get(obj, key)))
        return FL_OK;
    return req_pos_int_max(obj, path, key, max, out, err);
}

static fl_status opt_pos_int(json_t *obj, const char *path, const char *key, int *out, fl_error *err)
{
    return opt_pos_int_max(obj, path, key, PLAN_INT_MAX, out, err);
}

/* plan.job: seq_len, global_batch, precision, optimizer, zero_stage, recompute, attention,
 * train_tokens (defaults as in the job parser). */
static fl_status parse_job(json_t *job, train_doc *d, fl_error *err)
{
    fl_train_setup *s = &d->setup;
    s->seq_len = 2048;
    s->micro_batch = 1;
    s->compute_dtype = FL_DT_BF16;
    s->master_weights = 1;
    s->grad_dtype = FL_DT_FP32;
    s->optimizer = FL_OPT_ADAM;
    s->zero_stage = 0;
    s->recompute = FL_RC_NONE;
    s->flash = 1;
    s->interleave = 1;
    s->dp_overlap = 1;
    if (!job || json_is_null(job))
        return FL_OK;
    if (!json_is_object(job))
        return fl_fail(err, FL_EINVAL, "plan.job", "plan.job: expected an object");
    fl_status rc;
    int rcmp = FL_RC_NONE, attn = 0, opt = 0, impl = 0;
    double dropout = 0;
    static const char *const attns[] = {"flash", "standard", NULL};
    static const char *const opts[] = {"adam", "sgd", "adamw", NULL};
    static const char *const impls[] = {"fused", "foreach", "unfused", NULL};
    if ((rc = opt_pos_int_max(job, "plan.job", "seq_len", 10000000L, &s->seq_len, err)) ||
        (rc = opt_pos_int_max(job, "plan.job", "global_batch", 100000000L, &d->global_batch, err)) ||
        (rc = fl_json_int(job, "plan.job", "zero_stage", 0, 3, &s->zero_stage, err)) ||
        (rc = fl_json_enum(job, "plan.job", "recompute", recompute_names, &rcmp, err)) ||
        (rc = fl_json_enum(job, "plan.job", "attention", attns, &attn, err)) ||
        (rc = fl_json_enum(job, "plan.job", "optimizer", opts, &opt, err)) ||
        (rc = fl_json_enum(job, "plan.job", "optimizer_impl", impls, &impl, err)) ||
        (rc = fl_json_num(job, "plan.job", "train_tokens", 0, 1e20, &d->train_tokens, err)) ||
        (rc = fl_json_num(job, "plan.job", "dropout", 0, 0.99, &dropout, err)))
        return rc;
    s->dropout = dropout > 0;
    s->recompute = rcmp == FL_RC_AUTO ? FL_RC_NONE : (fl_recompute)rcmp;
    s->flash = attn == 0;
    s->optimizer = (fl_optimizer)opt;
    s->optimizer_impl = (fl_optimizer_impl)impl;
    json_t *fw = json_object_get(job, "framework");
    if (fw && !json_is_null(fw)) {
        int f = json_is_string(fw) ? fl_framework_parse(json_string_value(fw)) : -1;
        if (f < 0)
            return fl_fail(err, FL_EINVAL, "plan.job.framework", "plan.job.framework: unknown framework (known: "
                           "megatron, torch-amp)");
        s->framework = (fl_framework)f;
    }
    json_t *pr = json_object_get(job, "precision");
    if (pr && !json_is_null(pr)) {
        if (!json_is_object(pr))
            return fl_fail(err, FL_EINVAL, "plan.job.precision", "plan.job.precision: expected an object");
        int c = -1, g = -1, mw = -1;
        if ((rc = fl_json_enum(pr, "plan.job.precision", "compute", dtype_names, &c, err)))
            return rc;
        json_t *mv = json_object_get(pr, "master_weights");
        if (json_is_false(mv) || (json_is_string(mv) && strcasecmp(json_string_value(mv), "none") == 0))
            s->master_weights = 0;
        else if ((rc = fl_json_enum(pr, "plan.job.precision", "master_weights", dtype_names, &mw, err)))
            return rc;
        if ((rc = fl_json_enum(pr, "plan.job.precision", "grads", dtype_names, &g, err)))
            return rc;
        if (c >= 0) s->compute_dtype = (fl_dtype)c;
        if (g >= 0) s->grad_dtype = (fl_dtype)g;
        if (fl_dtype_is_fp32(s->compute_dtype))
            s->master_weights = 0;
        if (s->compute_dtype == FL_DT_INT8 || s->compute_dtype == FL_DT_INT4)
            return fl_fail(err, FL_EINVAL, "plan.job.precision.compute",
                           "plan.job.precision.compute: %s is not a training precision", fl_dtype_name(s->compute_dtype));
    }
    return FL_OK;
}

/* One stage object of plan.parallelism.pipelines[i].stages[j]. */
static fl_status parse_stage(const fl_catalog *cat, json_t *o, const char *path, const fl_model *m,
                             fl_train_stage *st, fl_error *err)
{
    char p[200];
    if (!json_is_object(o))
        return fl_fail(err, FL_EINVAL, path, "%s: expected an object with layers, gpu, zone, tp", path);
    json_t *ly = json_object_get(o, "layers");
    fl_json_path(p, sizeof p, path, "layers");
    if (!json_is_array(ly) || json_array_size(ly) != 2 || !json_is_integer(json_array_get(ly, 0)) ||
        !json_is_integer(json_array_get(ly, 1)))
        return fl_fail(err, FL_EINVAL, p, "%s: expected [first, last) as two integers", p);
    json_int_t a = json_integer_value(json_array_get(ly, 0)), b = json_integer_value(json_array_get(ly, 1));
    if (a < 0 || b > m->layers || b <= a)
        return fl_fail(err, FL_EINVAL, p, "%s: [%lld, %lld) is not a non-empty range inside [0, %d)", p, (long long)a,
                       (long long)b, m->layers);
    st->first_layer = (int)a;
    st->last_layer = (int)b;
    const char *gpu = NULL, *zone = NULL;
    fl_status rc;
    if ((rc = fl_json_str(o, path, "gpu", &gpu, err)) || (rc = fl_json_str(o, path, "zone", &zone, err)))
        return rc;
    fl_json_path(p, sizeof p, path, "gpu");
    if (!gpu)
        return fl_fail(err, FL_EINVAL, p, "%s: missing (required)", p);
    if ((st->gpu = fl_catalog_find_gpu(cat, gpu, p, err)) < 0)
        return FL_ENOTFOUND;
    fl_json_path(p, sizeof p, path, "zone");
    if (!zone)
        return fl_fail(err, FL_EINVAL, p, "%s: missing (required)", p);
    if ((st->zone = fl_catalog_find_zone(cat, zone, p, err)) < 0)
        return FL_ENOTFOUND;
    st->tp = 1;
    if ((rc = opt_pos_int(o, path, "tp", &st->tp, err)))
        return rc;
    fl_json_path(p, sizeof p, path, "tp");
    int node = fl_train_node_gpus(cat, st->gpu);
    if (st->tp > 8 || st->tp > node)
        return fl_fail(err, FL_EINVAL, p, "%s: %d exceeds the %d GPUs per node of %s (tensor parallelism stays in a node)",
                       p, st->tp, node < 8 ? node : 8, fl_catalog_gpu(cat, (size_t)st->gpu)->name);
    if (m->heads % st->tp)
        return fl_fail(err, FL_EINVAL, p, "%s: %d does not divide the model's %d attention heads", p, st->tp, m->heads);
    if (m->kv_heads % st->tp && st->tp % m->kv_heads)
        return fl_fail(err, FL_EINVAL, p, "%s: %d neither divides nor is a multiple of the model's %d kv_heads", p, st->tp,
                       m->kv_heads);
    return FL_OK;
}

/* Read a whole plan document. */
static fl_status parse_doc(const fl_catalog *cat, json_t *doc, train_doc *d, fl_error *err)
{
    memset(d, 0, sizeof *d);
    fl_status rc;
    json_t *job = json_object_get(doc, "job");
    json_t *mv = json_object_get(doc, "model");
    const char *mpath = "plan.model";
    if (!mv && json_is_object(job)) {
        mv = json_object_get(job, "model");
        mpath = "plan.job.model";
    }
    if (!mv)
        return fl_fail(err, FL_EINVAL, "plan.model", "plan.model: missing (a catalog name or an inline model object)");
    int idx;
    if ((rc = fl_model_from_json(cat, mv, mpath, &d->model, &d->model_name, &idx, err)))
        return rc;
    if ((rc = parse_job(job, d, err)))
        return rc;
    d->setup.model = &d->model;
    if (d->model.max_positions > 0 && d->setup.seq_len > d->model.max_positions && !d->model.rope)
        return fl_fail(err, FL_EINVAL, "plan.job.seq_len", "plan.job.seq_len: %d exceeds the model's %d learned positions",
                       d->setup.seq_len, d->model.max_positions);

    json_t *par = json_object_get(doc, "parallelism");
    if (!json_is_object(par))
        return fl_fail(err, FL_EINVAL, "plan.parallelism", "plan.parallelism: missing or not an object");
    const char *pp = "plan.parallelism";
    static const char *const scheds[] = {"1f1b", "interleaved", NULL};
    int sched = 0, rcmp = -1, zero = d->setup.zero_stage;
    if ((rc = opt_pos_int(par, pp, "micro_batch", &d->setup.micro_batch, err)) ||
        (rc = fl_json_enum(par, pp, "schedule", scheds, &sched, err)) ||
        (rc = fl_json_enum(par, pp, "recompute", recompute_names, &rcmp, err)) ||
        (rc = fl_json_int(par, pp, "zero_stage", 0, 3, &zero, err)) ||
        (rc = fl_json_bool(par, pp, "sequence_parallel", &d->setup.sequence_parallel, err)) ||
        (rc = fl_json_bool(par, pp, "dp_overlap", &d->setup.dp_overlap, err)))
        return rc;
    if (rcmp >= 0)
        d->setup.recompute = rcmp == FL_RC_AUTO ? FL_RC_NONE : (fl_recompute)rcmp;
    d->setup.zero_stage = zero;
    if (sched == 1) {
        d->setup.interleave = 2;
        if ((rc = opt_pos_int(par, pp, "chunks", &d->setup.interleave, err)))
            return rc;
    }
    json_t *pl = json_object_get(par, "pipelines");
    if (!json_is_array(pl) || json_array_size(pl) == 0)
        return fl_fail(err, FL_EINVAL, "plan.parallelism.pipelines",
                       "plan.parallelism.pipelines: expected a non-empty array of pipelines");
    size_t np = json_array_size(pl), ns = 0;
    if (np > 64)
        return fl_fail(err, FL_EINVAL, "plan.parallelism.pipelines", "plan.parallelism.pipelines: at most 64 pipelines");
    for (size_t i = 0; i < np; i++) {
        json_t *st = json_object_get(json_array_get(pl, i), "stages");
        ns += json_is_array(st) ? json_array_size(st) : 0;
    }
    d->pipes = calloc(np, sizeof *d->pipes);
    d->stages = calloc(ns ? ns : 1, sizeof *d->stages);
    if (!d->pipes || !d->stages)
        return fl_fail(err, FL_ENOMEM, "plan", "out of memory");
    d->n_pipes = (int)np;
    size_t at = 0;
    double total = 0; /* sequences per iteration; a double cannot overflow for absurd counts */
    for (size_t i = 0; i < np; i++) {
        json_t *po = json_array_get(pl, i);
        char p[128], ps[160];
        snprintf(p, sizeof p, "plan.parallelism.pipelines[%zu]", i);
        if (!json_is_object(po))
            return fl_fail(err, FL_EINVAL, p, "%s: expected an object with replicas, micro_batches, stages", p);
        fl_train_pipeline *P = &d->pipes[i];
        if ((rc = req_pos_int(po, p, "replicas", &P->replicas, err)) ||
            (rc = req_pos_int(po, p, "micro_batches", &P->micro_batches, err)))
            return rc;
        json_t *sa = json_object_get(po, "stages");
        snprintf(ps, sizeof ps, "%s.stages", p);
        if (!json_is_array(sa) || json_array_size(sa) == 0)
            return fl_fail(err, FL_EINVAL, ps, "%s: expected a non-empty array of stages", ps);
        if (json_array_size(sa) > FL_TRAIN_MAX_STAGES)
            return fl_fail(err, FL_EINVAL, ps, "%s: at most %d stages", ps, FL_TRAIN_MAX_STAGES);
        P->stages = &d->stages[at];
        P->n_stages = (int)json_array_size(sa);
        int next = 0;
        for (int j = 0; j < P->n_stages; j++) {
            char pj[200], pl2[220];
            snprintf(pj, sizeof pj, "%s[%d]", ps, j);
            fl_train_stage *st = &d->stages[at + (size_t)j];
            if ((rc = parse_stage(cat, json_array_get(sa, (size_t)j), pj, &d->model, st, err)))
                return rc;
            snprintf(pl2, sizeof pl2, "%s.layers", pj);
            if (st->first_layer > next)
                return fl_fail(err, FL_EINVAL, pl2, "%s: starts at layer %d, leaving layers [%d, %d) unassigned (gap)", pl2,
                               st->first_layer, next, st->first_layer);
            if (st->first_layer < next)
                return fl_fail(err, FL_EINVAL, pl2, "%s: starts at layer %d, overlapping the previous stage which ends at %d",
                               pl2, st->first_layer, next);
            next = st->last_layer;
            if (d->setup.interleave > st->last_layer - st->first_layer)
                return fl_fail(err, FL_EINVAL, "plan.parallelism.chunks",
                               "plan.parallelism.chunks: %d chunks per stage, but %s holds only %d layers",
                               d->setup.interleave, pj, st->last_layer - st->first_layer);
        }
        if (next != d->model.layers) {
            char pl2[220];
            snprintf(pl2, sizeof pl2, "%s[%d].layers", ps, P->n_stages - 1);
            return fl_fail(err, FL_EINVAL, pl2, "%s: the stages end at layer %d, leaving layers [%d, %d) unassigned (gap)",
                           pl2, next, next, d->model.layers);
        }
        at += (size_t)P->n_stages;
        total += (double)P->replicas * P->micro_batches * d->setup.micro_batch;
    }
    if (d->global_batch > 0 && total != (double)d->global_batch)
        return fl_fail(err, FL_EINVAL, "plan.parallelism.pipelines",
                       "plan.parallelism.pipelines: replicas x micro_batches x micro_batch sum to %.0f sequences, "
                       "job.global_batch is %d",
                       total, d->global_batch);
    return FL_OK;
}

/* plan.resources: names resolve, counts and prices are sane. Returns the hourly cost. */
static fl_status check_resources(const fl_catalog *cat, json_t *doc, double *cost, fl_error *err)
{
    *cost = 0;
    json_t *res = json_object_get(doc, "resources");
    if (!res || json_is_null(res))
        return FL_OK;
    if (!json_is_array(res))
        return fl_fail(err, FL_EINVAL, "plan.resources", "plan.resources: expected an array");
    size_t i;
    json_t *r;
    json_array_foreach(res, i, r) {
        char p[64], f[96];
        snprintf(p, sizeof p, "plan.resources[%zu]", i);
        if (!json_is_object(r))
            return fl_fail(err, FL_EINVAL, p, "%s: expected an object", p);
        const char *gpu = NULL, *zone = NULL;
        fl_status rc;
        int inst = 1, gpi = 1, spot = 0;
        double price = 0, spot_price = -1;
        if ((rc = fl_json_str(r, p, "gpu", &gpu, err)) || (rc = fl_json_str(r, p, "zone", &zone, err)) ||
            (rc = fl_json_bool(r, p, "spot", &spot, err)) ||
            (rc = fl_json_num(r, p, "price_per_hour", 0, 1e9, &price, err)) ||
            (rc = fl_json_num(r, p, "spot_price_per_hour", -1, 1e9, &spot_price, err)))
            return rc;
        if ((rc = opt_pos_int(r, p, "instances", &inst, err)) || (rc = opt_pos_int(r, p, "gpus_per_instance", &gpi, err)))
            return rc;
        snprintf(f, sizeof f, "%s.gpu", p);
        if (gpu && fl_catalog_find_gpu(cat, gpu, f, err) < 0)
            return FL_ENOTFOUND;
        snprintf(f, sizeof f, "%s.zone", p);
        if (zone && fl_catalog_find_zone(cat, zone, f, err) < 0)
            return FL_ENOTFOUND;
        *cost += (spot && spot_price >= 0 ? spot_price : price) * inst;
    }
    return FL_OK;
}

/* GPUs that plan.resources rents of one GPU type in one zone, or -1 when a matching resource
 * leaves out its instance or GPU count (hand-written plans may list instance types only). */
static long rented_gpus(const fl_catalog *cat, json_t *res, int gpu_i, int zone_i)
{
    long total = 0;
    int matched = 0;
    size_t i;
    json_t *r;
    json_array_foreach(res, i, r) {
        const char *gpu = json_string_value(json_object_get(r, "gpu"));
        const char *zone = json_string_value(json_object_get(r, "zone"));
        if (!gpu || !zone || fl_catalog_find_gpu(cat, gpu, NULL, NULL) != gpu_i ||
            fl_catalog_find_zone(cat, zone, NULL, NULL) != zone_i)
            continue;
        matched = 1;
        json_t *inst = json_object_get(r, "instances"), *gpi = json_object_get(r, "gpus_per_instance");
        if (!json_is_integer(inst) || !json_is_integer(gpi))
            return -1;
        total += (long)json_integer_value(inst) * (long)json_integer_value(gpi);
    }
    return matched ? total : 0;
}

/* When the plan lists resources, every stage's GPU type and zone must be rented there, and the
 * stages on one GPU type in one zone (tp x replicas, over all pipelines) may not use more GPUs
 * than the resources rent there. */
static fl_status check_coverage(const fl_catalog *cat, json_t *doc, const train_doc *d, fl_error *err)
{
    json_t *res = json_object_get(doc, "resources");
    if (!json_is_array(res))
        return FL_OK;
    for (int p = 0; p < d->n_pipes; p++)
        for (int j = 0; j < d->pipes[p].n_stages; j++) {
            const fl_train_stage *st = &d->pipes[p].stages[j];
            const char *gname = fl_catalog_gpu(cat, (size_t)st->gpu)->name;
            const char *zname = fl_catalog_zone(cat, (size_t)st->zone)->name;
            char f[96];
            snprintf(f, sizeof f, "plan.parallelism.pipelines[%d].stages[%d]", p, j);
            long rented = rented_gpus(cat, res, st->gpu, st->zone);
            if (rented == 0)
                return fl_fail(err, FL_EINVAL, f, "%s: runs on %s in %s, but plan.resources rents no %s there", f,
                               gname, zname, gname);
            if (rented < 0)
                continue;
            double used = 0;
            for (int q = 0; q < d->n_pipes; q++)
                for (int k = 0; k < d->pipes[q].n_stages; k++)
                    if (d->pipes[q].stages[k].gpu == st->gpu && d->pipes[q].stages[k].zone == st->zone)
                        used += (double)d->pipes[q].stages[k].tp * d->pipes[q].replicas;
            if (used > (double)rented)
                return fl_fail(err, FL_EINVAL, "plan.resources",
                               "plan.resources: the stages use %.0f %s in %s (tp x replicas over all pipelines), but "
                               "the resources rent %ld there", used, gname, zname, rented);
        }
    return FL_OK;
}

fl_status fl_train_plan_check(const fl_catalog *cat, json_t *doc, fl_error *err)
{
    if (!cat || !json_is_object(doc))
        return fl_fail(err, FL_EMISUSE, "plan", "fl_train_plan_check: NULL argument");
    train_doc d;
    double cost;
    fl_status rc = parse_doc(cat, doc, &d, err);
    if (!rc)
        rc = check_resources(cat, doc, &cost, err);
    if (!rc)
        rc = check_coverage(cat, doc, &d, err);
    doc_free(&d);
    return rc;
}

static json_t *real(double v) { return json_real(isfinite(v) ? v : 0.0); }

fl_status fl_train_plan_simulate(const fl_catalog *cat, json_t *doc, fl_error *err)
{
    if (!cat || !json_is_object(doc))
        return fl_fail(err, FL_EMISUSE, "plan", "fl_train_plan_simulate: NULL argument");
    train_doc d;
    double cost = 0;
    fl_status rc = parse_doc(cat, doc, &d, err);
    if (!rc)
        rc = check_resources(cat, doc, &cost, err);
    if (rc) {
        doc_free(&d);
        return rc;
    }
    int n_st = 0;
    for (int i = 0; i < d.n_pipes; i++)
        n_st += d.pipes[i].n_stages;
    fl_train_result r;
    memset(&r, 0, sizeof r);
    r.stages = calloc((size_t)n_st, sizeof *r.stages);
    r.n_stage_results = n_st;
    if (!r.stages) {
        doc_free(&d);
        return fl_fail(err, FL_ENOMEM, "plan", "out of memory");
    }
    rc = fl_train_simulate(cat, &d.setup, d.pipes, d.n_pipes, &r, err);
    if (rc) {
        fl_error_prefix_field(err, "plan.parallelism");
        free(r.stages);
        doc_free(&d);
        return rc;
    }
    json_t *sim = json_object(), *stages = json_array();
    int measured_any = 0, calibrated_any = 0, k = 0;
    for (int i = 0; i < d.n_pipes; i++) {
        for (int j = 0; j < d.pipes[i].n_stages; j++, k++) {
            const fl_train_stage *st = &d.pipes[i].stages[j];
            const fl_train_stage_result *sr = &r.stages[k];
            fl_train_layer_cost c;
            fl_train_layer_cost_get(cat, &d.setup, st->gpu, st->tp, &c);
            measured_any |= c.measured;
            fl_train_gpu_perf perf;
            fl_train_gpu_perf_get(cat, st->gpu, d.setup.compute_dtype, &perf);
            calibrated_any |= perf.calibrated;
            const char *src = c.measured ? "measured" : perf.calibrated ? "calibrated" : "analytic";
            json_t *o = json_object();
            json_object_set_new(o, "pipeline", json_integer(i));
            json_object_set_new(o, "stage", json_integer(j));
            json_object_set_new(o, "gpu", json_string(fl_catalog_gpu(cat, (size_t)st->gpu)->name));
            json_object_set_new(o, "compute_s", real(sr->compute_s));
            json_object_set_new(o, "p2p_s", real(sr->p2p_s));
            json_object_set_new(o, "tp_comm_s", real(sr->tp_comm_s));
            json_object_set_new(o, "peak_memory_bytes", real(sr->peak_memory_bytes));
            json_object_set_new(o, "allocated_bytes", real(sr->allocated_bytes));
            json_object_set_new(o, "reserved_bytes", real(sr->reserved_bytes));
            json_object_set_new(o, "memory_capacity_bytes", real(sr->memory_capacity_bytes));
            json_object_set_new(o, "fwd_s", real(sr->fwd_s));
            json_object_set_new(o, "bwd_s", real(sr->bwd_s));
            json_object_set_new(o, "fits", json_boolean(sr->fits));
            json_object_set_new(o, "source", json_string(src));
            json_array_append_new(stages, o);
        }
    }
    double cpmt = r.tokens_per_s > 0 ? cost / (r.tokens_per_s * 3600.0) * 1e6 : 0;
    json_object_set_new(sim, "iteration_s", real(r.iteration_s));
    json_object_set_new(sim, "tokens_per_s", real(r.tokens_per_s));
    json_object_set_new(sim, "cost_per_hour", real(cost));
    json_object_set_new(sim, "cost_per_million_tokens", real(cpmt));
    json_object_set_new(sim, "mfu", real(r.mfu));
    json_object_set_new(sim, "fits", json_boolean(r.fits));
    if (!r.fits)
        json_object_set_new(sim, "reason", json_string(r.reason));
    json_object_set_new(sim, "stages", stages);
    json_object_set_new(sim, "dp_allreduce_s", real(r.dp_allreduce_s));
    json_object_set_new(sim, "optimizer_s", real(r.optimizer_s));
    json_object_set_new(sim, "bubble_fraction", real(r.bubble_fraction));
    json_object_set_new(sim, "bottleneck", json_string(r.bottleneck));
    json_object_set_new(sim, "time_source",
                        json_string(measured_any ? "measured" : calibrated_any ? "calibrated" : "analytic"));
    json_object_set_new(sim, "memory_source", json_string(calibrated_any ? "calibrated" : "analytic"));
    if (d.train_tokens > 0 && r.tokens_per_s > 0) {
        double tt = d.train_tokens / r.tokens_per_s;
        json_object_set_new(sim, "time_to_train_s", real(tt));
        json_object_set_new(sim, "total_cost", real(tt / 3600.0 * cost));
    }
    json_object_set_new(doc, "simulation", sim);
    free(r.stages);
    doc_free(&d);
    return FL_OK;
}

fl_status fl_estimate_train(const fl_catalog *cat, const fl_estimate_query *q, fl_estimate_result *out, fl_error *err)
{
    int gpu = fl_catalog_find_gpu(cat, q->gpu, "gpu", err);
    if (gpu < 0)
        return FL_ENOTFOUND;
    int mi = fl_catalog_find_model(cat, q->model, "model", err);
    if (mi < 0)
        return FL_ENOTFOUND;
    const fl_model *m = fl_catalog_model(cat, (size_t)mi);
    fl_train_setup s;
    memset(&s, 0, sizeof s);
    s.model = m;
    s.seq_len = q->seq > 0 ? q->seq : 2048;
    s.micro_batch = q->batch > 0 ? q->batch : 1;
    int dt = fl_dtype_parse(q->dtype ? q->dtype : "bf16");
    if (dt < 0 || dt == FL_DT_INT8 || dt == FL_DT_INT4)
        return fl_fail(err, FL_EINVAL, "dtype", "dtype: '%s' is not a training precision (bf16, fp16, fp32, fp8)",
                       q->dtype ? q->dtype : "");
    s.compute_dtype = (fl_dtype)dt;
    s.master_weights = !fl_dtype_is_fp32((fl_dtype)dt);
    s.grad_dtype = FL_DT_FP32;
    s.optimizer = FL_OPT_ADAM;
    int rc = fl_recompute_parse(q->recompute ? q->recompute : "none");
    if (rc < 0 || rc == FL_RC_AUTO)
        return fl_fail(err, FL_EINVAL, "recompute", "recompute: '%s' is not one of none, selective, full",
                       q->recompute ? q->recompute : "");
    s.recompute = (fl_recompute)rc;
    s.flash = q->flash;
    s.interleave = 1;
    s.dp_overlap = 1;
    if (q->framework) {
        int fw = fl_framework_parse(q->framework);
        if (fw < 0)
            return fl_fail(err, FL_EINVAL, "framework", "framework: unknown '%s' (known: megatron, torch-amp)",
                           q->framework);
        s.framework = (fl_framework)fw;
    }
    if (q->tp < 1 || m->heads % q->tp)
        return fl_fail(err, FL_EINVAL, "tp", "tp: %d does not divide the %d attention heads of %s", q->tp, m->heads,
                       m->name);
    if (!m->rope && m->max_positions > 0 && s.seq_len > m->max_positions)
        return fl_fail(err, FL_EINVAL, "seq", "seq: %d exceeds the %d learned positions of %s", s.seq_len,
                       m->max_positions, m->name);
    fl_train_layer_cost c;
    fl_train_layer_cost_get(cat, &s, gpu, q->tp, &c);
    double ef, eb;
    fl_train_edge_time(cat, &s, gpu, q->tp, 1, 1, &ef, &eb);
    out->fwd_s = m->layers * (c.fwd_compute_s + c.fwd_comm_s) + ef;
    out->bwd_s = m->layers * (c.bwd_compute_s + c.bwd_comm_s) + eb;
    out->seconds = out->fwd_s + out->bwd_s;
    out->flops = 3.0 * fl_train_model_fwd_flops(&s);
    out->achieved_flops = out->flops / out->seconds / q->tp;
    out->memory_bytes = fl_train_stage_memory(cat, &s, gpu, q->tp, m->layers, 1, 1, 1, 1);
    out->fits = out->memory_bytes <= fl_train_memory_capacity(cat, gpu);
    /* compute-bound when the GEMMs' arithmetic intensity (~ tokens per micro-batch) is above the
     * GPU's ridge point (peak FLOP/s / HBM bytes/s) */
    fl_train_gpu_perf p;
    fl_train_gpu_perf_get(cat, gpu, s.compute_dtype, &p);
    snprintf(out->source, sizeof out->source, "%s", c.measured ? "measured" : p.calibrated ? "calibrated" : "analytic");
    double tokens = (double)s.micro_batch * s.seq_len;
    snprintf(out->bound, sizeof out->bound, "%s", tokens > p.peak_flops / p.hbm_bw ? "compute" : "memory");
    return FL_OK;
}
