/* planner/plan_api.c — the generic plan API: dispatch by job kind to the training or serving
 * planner/simulator, JSON in and out, summaries, estimates. */
#include "common/plan.h"
#include "common/error.h"
#include "common/json_util.h"
#include "planner/plan_api.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

void fl_plan_options_init(fl_plan_options *opts)
{
    if (!opts)
        return;
    memset(opts, 0, sizeof *opts);
    opts->version = FL_PLAN_OPTIONS_VERSION;
    opts->top_k = 1;
    opts->time_limit_s = 10.0;
}

size_t fl_plan_options_size(void) { return sizeof(fl_plan_options); }

fl_plan *fl_plan_wrap(fl_job_kind kind, json_t *doc)
{
    fl_plan *p = calloc(1, sizeof *p);
    if (!p) {
        json_decref(doc);
        return NULL;
    }
    p->kind = kind;
    p->doc = doc;
    return p;
}

void fl_plan_free(fl_plan *plan)
{
    if (!plan)
        return;
    for (size_t i = 0; i < plan->n_alts; i++)
        fl_plan_free(plan->alts[i]);
    free(plan->alts);
    json_decref(plan->doc);
    free(plan);
}

fl_job_kind fl_plan_get_kind(const fl_plan *plan) { return plan ? plan->kind : FL_JOB_TRAINING; }

/* The plan API's planning step without a running placement: validate, dispatch by job kind,
 * wrap the document and its alternatives. opts->current_placement_json is ignored here; the
 * public fl_plan_job (whatif/plan_current.c, a layer above matching) applies it afterwards. */
fl_status fl_plan_job_fresh(const fl_catalog *cat, const fl_job *job, const fl_availability *av,
                            const fl_plan_options *opts, fl_plan **out, fl_error *err)
{
    if (!out)
        return fl_fail(err, FL_EMISUSE, "out", "fl_plan_job: out is NULL");
    *out = NULL;
    if (!cat || !job)
        return fl_fail(err, FL_EMISUSE, !cat ? "catalog" : "job", "fl_plan_job: %s is NULL", !cat ? "catalog" : "job");
    if (job->cat != cat)
        return fl_fail(err, FL_EMISUSE, "job", "fl_plan_job: the job was parsed against another catalog");
    if (av && av->cat != cat)
        return fl_fail(err, FL_EMISUSE, "availability", "fl_plan_job: the availability belongs to another catalog");
    fl_plan_options defaults;
    if (!opts) {
        fl_plan_options_init(&defaults);
        opts = &defaults;
    }
    fl_status vrc = fl_check_version(opts->version, FL_PLAN_OPTIONS_VERSION, "fl_plan_options", err);
    if (vrc)
        return vrc;
    if (opts->top_k < 0 || opts->top_k > 100)
        return fl_fail(err, FL_EINVAL, "top_k", "top_k must be between 1 and 100 (got %d)", opts->top_k);
    json_t *doc = NULL, **alts = NULL;
    size_t n_alts = 0;
    fl_status rc = job->kind == FL_JOB_TRAINING
                       ? fl_train_plan_job(cat, job, av, opts, &doc, &alts, &n_alts, err)
                       : fl_serve_plan_job(cat, job, av, opts, &doc, &alts, &n_alts, err);
    if (rc)
        return rc;
    fl_plan *p = fl_plan_wrap(job->kind, doc);
    if (!p) {
        for (size_t i = 0; i < n_alts; i++)
            json_decref(alts[i]);
        free(alts);
        return fl_fail(err, FL_ENOMEM, "plan", "out of memory");
    }
    if (n_alts) {
        p->alts = calloc(n_alts, sizeof *p->alts);
        for (size_t i = 0; i < n_alts; i++) {
            if (p->alts)
                p->alts[p->n_alts++] = fl_plan_wrap(job->kind, alts[i]);
            else
                json_decref(alts[i]);
        }
    }
    free(alts);
    *out = p;
    return FL_OK;
}

fl_status fl_plan_from_json(const fl_catalog *cat, const char *json, fl_plan **out, fl_error *err)
{
    if (!out)
        return fl_fail(err, FL_EMISUSE, "out", "fl_plan_from_json: out is NULL");
    *out = NULL;
    if (!cat)
        return fl_fail(err, FL_EMISUSE, "catalog", "fl_plan_from_json: catalog is NULL");
    json_t *doc;
    fl_status rc = fl_json_parse_object(json, "plan", &doc, err);
    if (rc)
        return rc;
    const char *kind = json_string_value(json_object_get(doc, "kind"));
    fl_job_kind k;
    if (kind && strcasecmp(kind, "training") == 0)
        k = FL_JOB_TRAINING;
    else if (kind && strcasecmp(kind, "serving") == 0)
        k = FL_JOB_SERVING;
    else {
        json_decref(doc);
        return fl_fail(err, FL_EINVAL, "plan.kind", "plan.kind: missing or not \"training\"/\"serving\"");
    }
    rc = k == FL_JOB_TRAINING ? fl_train_plan_check(cat, doc, err) : fl_serve_plan_check(cat, doc, err);
    if (rc) {
        json_decref(doc);
        return rc;
    }
    fl_plan *p = fl_plan_wrap(k, doc);
    if (!p)
        return fl_fail(err, FL_ENOMEM, "plan", "out of memory");
    *out = p;
    return FL_OK;
}

char *fl_plan_to_json(const fl_plan *plan, int pretty)
{
    return plan ? fl_json_dump(plan->doc, pretty) : NULL;
}

fl_status fl_plan_json_into(const fl_plan *plan, int pretty, char *buf, size_t cap, size_t *needed, fl_error *err)
{
    if (!plan)
        return fl_fail(err, FL_EMISUSE, "plan", "fl_plan_json_into: plan is NULL");
    char *s = fl_json_dump(plan->doc, pretty);
    if (!s)
        return fl_fail(err, FL_ENOMEM, "plan", "out of memory");
    size_t n = strlen(s) + 1;
    if (needed)
        *needed = n;
    if (!buf || cap < n) {
        if (buf && cap)
            buf[0] = '\0';
        free(s);
        return fl_fail(err, FL_ERANGE, "buf", "buffer of %zu bytes is too small: the plan JSON needs %zu", cap, n);
    }
    memcpy(buf, s, n);
    free(s);
    return FL_OK;
}

fl_status fl_plan_simulate(const fl_catalog *cat, fl_plan *plan, fl_error *err)
{
    if (!cat || !plan)
        return fl_fail(err, FL_EMISUSE, !cat ? "catalog" : "plan", "fl_plan_simulate: NULL argument");
    return plan->kind == FL_JOB_TRAINING ? fl_train_plan_simulate(cat, plan->doc, err)
                                         : fl_serve_plan_simulate(cat, plan->doc, err);
}

static double num(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return json_is_number(v) ? json_number_value(v) : 0.0;
}

fl_status fl_plan_get_summary(const fl_plan *plan, fl_plan_summary *out, fl_error *err)
{
    if (!plan || !out)
        return fl_fail(err, FL_EMISUSE, "plan", "fl_plan_get_summary: NULL argument");
    memset(out, 0, sizeof *out);
    out->kind = plan->kind;
    json_t *sim = json_object_get(plan->doc, "simulation");
    if (!json_is_object(sim))
        return fl_fail(err, FL_EINVAL, "plan.simulation", "plan has not been simulated (call fl_plan_simulate)");
    out->cost_per_hour = num(sim, "cost_per_hour");
    out->tokens_per_s = num(sim, "tokens_per_s");
    out->iteration_s = num(sim, "iteration_s");
    out->throughput_rps = num(sim, "throughput_rps");
    out->fits = plan->kind == FL_JOB_TRAINING ? json_is_true(json_object_get(sim, "fits"))
                                              : json_is_true(json_object_get(sim, "meets_slo"));
    json_t *res = json_object_get(plan->doc, "resources"), *r;
    size_t i;
    json_array_foreach(res, i, r)
        out->gpus += (int)(num(r, "gpus_per_instance") * num(r, "instances"));
    return FL_OK;
}

size_t fl_plan_alternative_count(const fl_plan *plan) { return plan ? plan->n_alts : 0; }
const fl_plan *fl_plan_alternative(const fl_plan *plan, size_t i)
{
    return plan && i < plan->n_alts ? plan->alts[i] : NULL;
}

void fl_estimate_query_init(fl_estimate_query *q)
{
    if (!q)
        return;
    memset(q, 0, sizeof *q);
    q->version = FL_ESTIMATE_QUERY_VERSION;
    q->phase = FL_PHASE_TRAIN;
    q->tp = 1;
    q->pp = 1;
    q->batch = 1;
    q->seq = 0;
    q->context = 1024;
    q->dtype = "bf16";
    q->recompute = "none";
    q->flash = 1;
}

fl_status fl_estimate(const fl_catalog *cat, const fl_estimate_query *q, fl_estimate_result *out, fl_error *err)
{
    if (!cat || !q || !out)
        return fl_fail(err, FL_EMISUSE, "estimate", "fl_estimate: NULL argument");
    memset(out, 0, sizeof *out);
    fl_status vrc = fl_check_version(q->version, FL_ESTIMATE_QUERY_VERSION, "fl_estimate_query", err);
    if (vrc)
        return vrc;
    if (q->tp < 1 || q->tp > 64)
        return fl_fail(err, FL_EINVAL, "tp", "tp must be between 1 and 64 (got %d)", q->tp);
    if (q->pp < 1)
        return fl_fail(err, FL_EINVAL, "pp", "pp must be >= 1 (got %d)", q->pp);
    if (q->batch < 1)
        return fl_fail(err, FL_EINVAL, "batch", "batch must be >= 1 (got %d)", q->batch);
    if (q->seq < 0)
        return fl_fail(err, FL_EINVAL, "seq", "seq must be >= 1 (got %d)", q->seq);
    if (q->context < 0)
        return fl_fail(err, FL_EINVAL, "context", "context must be >= 0 (got %d)", q->context);
    /* bounds that keep the token arithmetic (context + seq, batch * tokens) inside an int */
    if (q->phase != FL_PHASE_TRAIN && q->phase != FL_PHASE_PREFILL && q->phase != FL_PHASE_DECODE)
        return fl_fail(err, FL_EINVAL, "phase", "phase must be train, prefill or decode (got %d)", (int)q->phase);
    if (q->seq > (1 << 24) || q->context > (1 << 24))
        return fl_fail(err, FL_EINVAL, q->seq > (1 << 24) ? "seq" : "context",
                       "%s must be at most 16777216 tokens (got %d)", q->seq > (1 << 24) ? "seq" : "context",
                       q->seq > (1 << 24) ? q->seq : q->context);
    if (q->batch > (1 << 20) || q->pp > 4096)
        return fl_fail(err, FL_EINVAL, q->batch > (1 << 20) ? "batch" : "pp", "%s is too large (got %d)",
                       q->batch > (1 << 20) ? "batch" : "pp", q->batch > (1 << 20) ? q->batch : q->pp);
    return q->phase == FL_PHASE_TRAIN ? fl_estimate_train(cat, q, out, err) : fl_estimate_serve(cat, q, out, err);
}
