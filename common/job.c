/* common/job.c — parsing and validating jobs (training, serving) and availability from JSON. */
#include "common/job.h"
#include "common/error.h"
#include "common/json_util.h"
#include "simulator/serve_model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const char *const dtype_names[] = {"fp32", "bf16", "fp16", "fp8", "int8", "int4", "tf32", NULL};
static const char *const framework_names[] = {"megatron", "torch-amp", NULL};
static const char *const target_names[] = {"flotilla", "megatron", "deepspeed", "torchtitan", NULL};
static const char *const optimizer_impl_names[] = {"fused", "foreach", "unfused", NULL};
static const char *const recompute_names[] = {"none", "selective", "full", "auto", NULL};
static const char *const objective_names[] = {"max_throughput", "min_cost", "max_throughput_per_dollar",
                                              "min_cost_per_token", NULL};

double fl_dtype_bytes(fl_dtype d)
{
    static const double b[] = {4, 2, 2, 1, 1, 0.5, 4};
    return (unsigned)d < 7 ? b[d] : 2;
}
const char *fl_dtype_name(fl_dtype d) { return (unsigned)d < 7 ? dtype_names[d] : "bf16"; }
const char *fl_target_name(fl_target t) { return (unsigned)t < 4 ? target_names[t] : "flotilla"; }
const char *fl_framework_name(fl_framework f) { return (unsigned)f < 2 ? framework_names[f] : "megatron"; }
int fl_framework_parse(const char *s)
{
    for (int i = 0; s && framework_names[i]; i++)
        if (strcasecmp(s, framework_names[i]) == 0)
            return i;
    if (s && (strcasecmp(s, "torch_amp") == 0 || strcasecmp(s, "hf") == 0 || strcasecmp(s, "accelerate") == 0))
        return FL_FW_TORCH_AMP;
    return -1;
}
const char *fl_optimizer_impl_name(fl_optimizer_impl i)
{
    return (unsigned)i < 3 ? optimizer_impl_names[i] : "fused";
}
int fl_dtype_parse(const char *s)
{
    for (int i = 0; s && dtype_names[i]; i++)
        if (strcasecmp(s, dtype_names[i]) == 0)
            return i;
    return -1;
}
const char *fl_recompute_name(fl_recompute r) { return (unsigned)r < 4 ? recompute_names[r] : "none"; }
int fl_recompute_parse(const char *s)
{
    for (int i = 0; s && recompute_names[i]; i++)
        if (strcasecmp(s, recompute_names[i]) == 0)
            return i;
    return -1;
}
const char *fl_objective_name(fl_objective o) { return (unsigned)o < 4 ? objective_names[o] : "max_throughput"; }

int fl_job_allows_gpu(const fl_job *job, int gpu_index)
{
    if (job->n_allowed_gpus == 0)
        return 1;
    for (int i = 0; i < job->n_allowed_gpus; i++)
        if (job->allowed_gpus[i] == gpu_index)
            return 1;
    return 0;
}

int fl_job_allows_zone(const fl_job *job, int zone_index)
{
    if (job->n_allowed_zones == 0)
        return 1;
    for (int i = 0; i < job->n_allowed_zones; i++)
        if (job->allowed_zones[i] == zone_index)
            return 1;
    return 0;
}

int fl_job_prefers_zone(const fl_job *job, int zone_index)
{
    return job->preferred_zones && zone_index >= 0 && job->preferred_zones[zone_index];
}

/* 1 when `want` names zone z: its zone name, "cloud:region", region or continent (case-insensitive). */
static int names_zone(const fl_zone *z, const char *want)
{
    char cr[256];
    snprintf(cr, sizeof cr, "%s:%s", z->cloud, z->region);
    return !strcasecmp(want, z->name) || !strcasecmp(want, cr) || !strcasecmp(want, z->region) ||
           (z->continent && !strcasecmp(want, z->continent));
}

/* "allow": {"prefer_regions": ["us-east-1", "aws:us-east-1", "na", ...]}: zones the planner picks
 * among equally priced ones. Each entry must name at least one catalog zone. */
static fl_status parse_prefer_regions(fl_job *job, json_t *allow, fl_error *err)
{
    json_t *arr = json_object_get(allow, "prefer_regions");
    if (!arr || json_is_null(arr))
        return FL_OK;
    const char *p = "job.allow.prefer_regions";
    if (!json_is_array(arr) || json_array_size(arr) == 0)
        return fl_fail(err, FL_EINVAL, p, "%s: expected a non-empty array of region, cloud:region, continent or zone names", p);
    size_t nz = fl_catalog_zone_count(job->cat);
    job->preferred_zones = calloc(nz + 1, 1);
    if (!job->preferred_zones)
        return fl_fail(err, FL_ENOMEM, p, "out of memory");
    for (size_t i = 0; i < json_array_size(arr); i++) {
        json_t *e = json_array_get(arr, i);
        char pe[96];
        snprintf(pe, sizeof pe, "%s[%zu]", p, i);
        if (!json_is_string(e))
            return fl_fail(err, FL_EINVAL, pe, "%s: expected a name", pe);
        int hits = 0;
        for (size_t z = 0; z < nz; z++)
            if (names_zone(fl_catalog_zone(job->cat, z), json_string_value(e)))
                job->preferred_zones[z] = 1, hits++;
        if (!hits)
            return fl_fail(err, FL_ENOTFOUND, pe,
                           "%s: \"%s\" names no zone, region, cloud:region or continent of the catalog", pe,
                           json_string_value(e));
    }
    return FL_OK;
}

fl_status fl_model_from_json(const fl_catalog *cat, json_t *v, const char *path, fl_model *out,
                             char **name_out, int *index_out, fl_error *err)
{
    *name_out = NULL;
    *index_out = -1;
    if (json_is_string(v)) {
        int i = fl_catalog_find_model(cat, json_string_value(v), path, err);
        if (i < 0)
            return fl_err_code(err, FL_ENOTFOUND);
        *out = *fl_catalog_model(cat, (size_t)i);
        *name_out = strdup(out->name);
        *index_out = i;
        if (!*name_out)
            return fl_fail(err, FL_ENOMEM, path, "out of memory");
        out->name = *name_out;
        out->aliases = "";
        out->source = "catalog";
        return FL_OK;
    }
    if (!json_is_object(v))
        return fl_fail(err, FL_EINVAL, path, "%s: expected a catalog model name or an object with the model's shape", path);
    fl_model m;
    memset(&m, 0, sizeof m);
    const char *name = "custom";
    fl_status rc;
    int act = 0, pos = 0;
    static const char *const acts[] = {"gelu", "swiglu", NULL};
    static const char *const poss[] = {"learned", "rope", NULL};
    m.experts = 1;
    m.top_k = 1;
    m.max_positions = 2048;
    if ((rc = fl_json_str(v, path, "name", &name, err)) ||
        (rc = fl_json_req_int(v, path, "layers", 1, 100000, &m.layers, err)) ||
        (rc = fl_json_req_int(v, path, "hidden", 1, 1 << 20, &m.hidden, err)) ||
        (rc = fl_json_req_int(v, path, "heads", 1, 1 << 14, &m.heads, err)) ||
        (rc = fl_json_req_int(v, path, "vocab", 1, 1 << 24, &m.vocab, err)))
        return rc;
    m.kv_heads = m.heads;
    m.ffn = 4 * m.hidden;
    if ((rc = fl_json_int(v, path, "kv_heads", 1, 1 << 14, &m.kv_heads, err)) ||
        (rc = fl_json_int(v, path, "ffn", 1, 1 << 24, &m.ffn, err)) ||
        (rc = fl_json_enum(v, path, "activation", acts, &act, err)) ||
        (rc = fl_json_bool(v, path, "tied_embeddings", &m.tied_embeddings, err)) ||
        (rc = fl_json_enum(v, path, "positional", poss, &pos, err)) ||
        (rc = fl_json_int(v, path, "max_positions", 1, 1 << 24, &m.max_positions, err)) ||
        (rc = fl_json_int(v, path, "experts", 1, 1024, &m.experts, err)) ||
        (rc = fl_json_int(v, path, "top_k", 1, 1024, &m.top_k, err)))
        return rc;
    char p[128];
    if (m.hidden % m.heads)
        return fl_fail(err, FL_EINVAL, fl_json_path(p, sizeof p, path, "heads"),
                       "%s: %d heads do not divide hidden %d", p, m.heads, m.hidden);
    if (m.heads % m.kv_heads)
        return fl_fail(err, FL_EINVAL, fl_json_path(p, sizeof p, path, "kv_heads"),
                       "%s: %d kv_heads do not divide %d heads", p, m.kv_heads, m.heads);
    if (m.top_k > m.experts)
        return fl_fail(err, FL_EINVAL, fl_json_path(p, sizeof p, path, "top_k"), "%s: top_k %d exceeds experts %d", p,
                       m.top_k, m.experts);
    m.activation = act ? FL_ACT_SWIGLU : FL_ACT_GELU;
    m.rope = pos;
    *name_out = strdup(name);
    if (!*name_out)
        return fl_fail(err, FL_ENOMEM, path, "out of memory");
    m.name = *name_out;
    m.aliases = "";
    m.source = "inline";
    fl_model_derive(&m);
    *out = m;
    return FL_OK;
}

json_t *fl_model_to_json_obj(const fl_model *m)
{
    json_t *o = json_object();
    json_object_set_new(o, "name", json_string(m->name));
    json_object_set_new(o, "layers", json_integer(m->layers));
    json_object_set_new(o, "hidden", json_integer(m->hidden));
    json_object_set_new(o, "heads", json_integer(m->heads));
    json_object_set_new(o, "kv_heads", json_integer(m->kv_heads));
    json_object_set_new(o, "ffn", json_integer(m->ffn));
    json_object_set_new(o, "vocab", json_integer(m->vocab));
    json_object_set_new(o, "activation", json_string(m->activation == FL_ACT_SWIGLU ? "swiglu" : "gelu"));
    json_object_set_new(o, "tied_embeddings", json_boolean(m->tied_embeddings));
    json_object_set_new(o, "positional", json_string(m->rope ? "rope" : "learned"));
    json_object_set_new(o, "max_positions", json_integer(m->max_positions));
    json_object_set_new(o, "experts", json_integer(m->experts));
    json_object_set_new(o, "top_k", json_integer(m->top_k));
    json_object_set_new(o, "params", json_real(m->params));
    return o;
}

/* "allow": {"gpus": [...], "zones": [...], "spot": bool} */
static fl_status parse_allow(fl_job *job, json_t *root, fl_error *err)
{
    json_t *allow = json_object_get(root, "allow");
    if (!allow || json_is_null(allow))
        return FL_OK;
    if (!json_is_object(allow))
        return fl_fail(err, FL_EINVAL, "job.allow", "job.allow: expected an object");
    fl_status rc = fl_json_bool(allow, "job.allow", "spot", &job->allow_spot, err);
    if (!rc)
        rc = parse_prefer_regions(job, allow, err);
    if (rc)
        return rc;
    const char *keys[2] = {"gpus", "zones"};
    for (int k = 0; k < 2; k++) {
        json_t *arr = json_object_get(allow, keys[k]);
        if (!arr || json_is_null(arr))
            continue;
        char p[128];
        snprintf(p, sizeof p, "job.allow.%s", keys[k]);
        if (!json_is_array(arr))
            return fl_fail(err, FL_EINVAL, p, "%s: expected an array of names", p);
        size_t n = json_array_size(arr);
        if (n == 0)
            return fl_fail(err, FL_EINVAL, p, "%s: empty list allows nothing; omit it to allow all", p);
        int *idx = calloc(n, sizeof *idx);
        if (!idx)
            return fl_fail(err, FL_ENOMEM, p, "out of memory");
        for (size_t i = 0; i < n; i++) {
            json_t *e = json_array_get(arr, i);
            char pe[160];
            snprintf(pe, sizeof pe, "%s[%zu]", p, i);
            if (!json_is_string(e)) {
                free(idx);
                return fl_fail(err, FL_EINVAL, pe, "%s: expected a name", pe);
            }
            int j = k == 0 ? fl_catalog_find_gpu(job->cat, json_string_value(e), pe, err)
                           : fl_catalog_find_zone(job->cat, json_string_value(e), pe, err);
            if (j < 0) {
                free(idx);
                return fl_err_code(err, FL_ENOTFOUND);
            }
            idx[i] = j;
        }
        if (k == 0) { job->allowed_gpus = idx; job->n_allowed_gpus = (int)n; }
        else { job->allowed_zones = idx; job->n_allowed_zones = (int)n; }
    }
    return FL_OK;
}

static fl_status parse_precision(fl_job *job, json_t *root, fl_error *err)
{
    json_t *pr = json_object_get(root, "precision");
    job->compute_dtype = FL_DT_BF16;
    job->master_dtype = FL_DT_FP32;
    job->grad_dtype = FL_DT_FP32;
    job->master_weights = 1;
    if (!pr || json_is_null(pr))
        return FL_OK;
    if (!json_is_object(pr))
        return fl_fail(err, FL_EINVAL, "job.precision", "job.precision: expected an object");
    int c = -1, m = -1, g = -1;
    fl_status rc;
    if ((rc = fl_json_enum(pr, "job.precision", "compute", dtype_names, &c, err)))
        return rc;
    json_t *mw = json_object_get(pr, "master_weights");
    if (json_is_false(mw) || (json_is_string(mw) && strcasecmp(json_string_value(mw), "none") == 0)) {
        job->master_weights = 0;
    } else if ((rc = fl_json_enum(pr, "job.precision", "master_weights", dtype_names, &m, err))) {
        return rc;
    }
    if ((rc = fl_json_enum(pr, "job.precision", "grads", dtype_names, &g, err)))
        return rc;
    if (c >= 0) job->compute_dtype = (fl_dtype)c;
    if (m >= 0) job->master_dtype = (fl_dtype)m;
    if (g >= 0) job->grad_dtype = (fl_dtype)g;
    if (fl_dtype_is_fp32(job->compute_dtype))
        job->master_weights = 0;
    return FL_OK;
}

/* job.framework: a known recipe name (aliases accepted), megatron when absent. */
static fl_status parse_framework(json_t *root, int *fw, fl_error *err)
{
    json_t *v = json_object_get(root, "framework");
    if (!v)
        return FL_OK;
    if (json_is_string(v) && (*fw = fl_framework_parse(json_string_value(v))) >= 0)
        return FL_OK;
    return fl_fail(err, FL_EINVAL, "job.framework", "job.framework: unknown framework %s%s%s (known: megatron, "
                   "torch-amp)", json_is_string(v) ? "'" : "", json_is_string(v) ? json_string_value(v) : "(not a string)",
                   json_is_string(v) ? "'" : "");
}

static fl_status parse_training(fl_job *job, json_t *root, fl_error *err)
{
    fl_status rc;
    int rcmp = FL_RC_NONE, attn = 0, opt = 0, fw = 0, impl = 0, ar = 0, tgt = 0;
    static const char *const attns[] = {"flash", "standard", NULL};
    static const char *const ars[] = {"auto", "ring", "tree", "hierarchical", NULL};
    static const char *const opts[] = {"adam", "sgd", "adamw", NULL};
    job->seq_len = 2048;
    job->zero_stage = 0;
    if ((rc = fl_json_req_int(root, "job", "global_batch", 1, 100000000, &job->global_batch, err)) ||
        (rc = fl_json_int(root, "job", "seq_len", 1, 10000000, &job->seq_len, err)) ||
        (rc = fl_json_int(root, "job", "zero_stage", 0, 3, &job->zero_stage, err)) ||
        (rc = fl_json_enum(root, "job", "recompute", recompute_names, &rcmp, err)) ||
        (rc = fl_json_enum(root, "job", "attention", attns, &attn, err)) ||
        (rc = fl_json_enum(root, "job", "optimizer", opts, &opt, err)) ||
        (rc = fl_json_enum(root, "job", "optimizer_impl", optimizer_impl_names, &impl, err)) ||
        (rc = parse_framework(root, &fw, err)) ||
        (rc = fl_json_enum(root, "job", "target", target_names, &tgt, err)) ||
        (rc = fl_json_num(root, "job", "min_tokens_per_s", 0, 1e18, &job->min_tokens_per_s, err)) ||
        (rc = fl_json_num(root, "job", "train_tokens", 0, 1e20, &job->train_tokens, err)) ||
        (rc = fl_json_num(root, "job", "dropout", 0, 0.99, &job->dropout, err)) ||
        (rc = fl_json_int(root, "job", "max_gpus", 1, 10000000, &job->max_gpus, err)) ||
        (rc = fl_json_bool(root, "job", "overlap_grad_reduce", &job->overlap_grad_reduce, err)) ||
        (rc = fl_json_enum(root, "job", "allreduce_algorithm", ars, &ar, err)))
        return rc;
    /* cost caps: positive numbers when given (they include cross-zone egress) */
    static const char *const caps[] = {"job.max_cost_per_iteration", "job.max_cost_per_million_tokens"};
    double *capv[] = {&job->max_cost_per_iteration, &job->max_cost_per_million_tokens};
    for (int i = 0; i < 2; i++) {
        json_t *v = json_object_get(root, caps[i] + 4);
        if (v && (!json_is_number(v) || !(json_number_value(v) > 0) || !isfinite(json_number_value(v))))
            return fl_fail(err, FL_EINVAL, caps[i], "%s: must be a positive number of dollars", caps[i]);
        if (v)
            *capv[i] = json_number_value(v);
    }
    job->allreduce_algorithm = (fl_allreduce_algo)ar;
    job->target = (fl_target)tgt;
    if (job->target == FL_TARGET_TORCHTITAN && job->zero_stage == 1)
        return fl_fail(err, FL_EINVAL, "job.target", "job.target: torchtitan has no ZeRO stage 1 (FSDP shards as stage 3, "
                       "data_parallel_replicate_degree replicates as stage 0); use zero_stage 0, 2 or 3");
    job->recompute = (fl_recompute)rcmp;
    job->flash = attn == 0;
    job->optimizer = (fl_optimizer)opt;
    job->optimizer_impl = (fl_optimizer_impl)impl;
    job->framework = (fl_framework)fw;
    if (job->model.max_positions > 0 && job->seq_len > job->model.max_positions && !job->model.rope)
        return fl_fail(err, FL_EINVAL, "job.seq_len", "job.seq_len: %d exceeds the model's %d learned positions",
                       job->seq_len, job->model.max_positions);
    return FL_OK;
}

/* Parse one served model's workload and SLO. `obj` holds model/precision/workload/slo. */
static fl_status check_serve_keys(json_t *obj, const char *path, fl_error *err);

static fl_status parse_serve_model(fl_job *job, json_t *obj, const char *path, fl_serve_model *sm, fl_error *err)
{
    fl_status rc;
    char p[160];
    if ((rc = check_serve_keys(obj, path, err)))
        return rc;
    /* engine: this entry's, else the job's, else the default; a name must be a known engine */
    json_t *root = job->raw;
    json_t *ev = json_object_get(obj, "engine");
    const char *epath = path;
    if (!ev && obj != root) {
        ev = json_object_get(root, "engine");
        epath = "job";
    }
    snprintf(p, sizeof p, "%s.engine", epath);
    if (ev && !json_is_string(ev))
        return fl_fail(err, FL_EINVAL, p, "%s: expected an engine name (a string)", p);
    const fl_serve_engine *eng = NULL;
    if ((rc = fl_serve_engine_find(ev ? json_string_value(ev) : NULL, p, &eng, err)))
        return rc;
    sm->engine = eng->name;
    sm->weights_dtype = job->compute_dtype;
    json_t *pr = json_object_get(obj, "precision");
    if (json_is_object(pr)) {
        int w = -1, kv = -1;
        snprintf(p, sizeof p, "%s.precision", path);
        if ((rc = fl_json_enum(pr, p, "compute", dtype_names, &w, err)) ||
            (rc = fl_json_enum(pr, p, "weights", dtype_names, &w, err)) ||
            (rc = fl_json_enum(pr, p, "kv_cache", dtype_names, &kv, err)))
            return rc;
        if (w == FL_DT_TF32 || kv == FL_DT_TF32) {
            strncat(p, w == FL_DT_TF32 ? ".compute" : ".kv_cache", sizeof p - strlen(p) - 1);
            return fl_fail(err, FL_EINVAL, p, "%s: tf32 is a training precision (matmul mode); serving takes fp32, "
                           "bf16, fp16, fp8, int8 or int4", p);
        }
        if (w >= 0) sm->weights_dtype = (fl_dtype)w;
        sm->kv_dtype = kv >= 0 ? (fl_dtype)kv : FL_DT_BF16;
    } else {
        sm->kv_dtype = FL_DT_BF16;
    }
    if (sm->weights_dtype == FL_DT_TF32)
        return fl_fail(err, FL_EINVAL, "job.precision.compute", "job.precision.compute: tf32 is a training precision "
                       "(matmul mode); serving takes fp32, bf16, fp16, fp8, int8 or int4");
    if (sm->weights_dtype == FL_DT_FP32)
        sm->kv_dtype = FL_DT_FP32;
    json_t *wl = json_object_get(obj, "workload");
    snprintf(p, sizeof p, "%s.workload", path);
    if (!json_is_object(wl))
        return fl_fail(err, FL_EINVAL, p, "%s: missing (an object with rate_rps and classes, or a trace)", p);
    const char *trace = NULL;
    if ((rc = fl_json_str(wl, p, "trace", &trace, err)))
        return rc;
    if (trace) {
        sm->trace_path = strdup(trace);
        if (!sm->trace_path)
            return fl_fail(err, FL_ENOMEM, p, "out of memory");
    }
    if ((rc = trace ? fl_json_num(wl, p, "rate_rps", 1e-9, 1e9, &sm->rate_rps, err)
                    : fl_json_req_num(wl, p, "rate_rps", 1e-9, 1e9, &sm->rate_rps, err))) {
        if (err && json_is_number(json_object_get(wl, "rate_rps")) && json_number_value(json_object_get(wl, "rate_rps")) <= 0)
            snprintf(err->message, sizeof err->message, "%s.rate_rps: must be positive (got %g)", p,
                     json_number_value(json_object_get(wl, "rate_rps")));
        return rc;
    }
    json_t *classes = json_object_get(wl, "classes");
    char pc[200];
    snprintf(pc, sizeof pc, "%s.classes", p);
    if (!classes && trace)
        goto slo; /* classes come from the trace; the SLO still applies */
    if (!json_is_array(classes) || json_array_size(classes) == 0)
        return fl_fail(err, FL_EINVAL, pc, "%s: expected a non-empty array of {input, output, share}", pc);
    if (json_array_size(classes) > FL_MAX_CLASSES)
        return fl_fail(err, FL_EINVAL, pc, "%s: at most %d request classes", pc, FL_MAX_CLASSES);
    double sum = 0;
    for (size_t i = 0; i < json_array_size(classes); i++) {
        json_t *c = json_array_get(classes, i);
        char pi[220];
        snprintf(pi, sizeof pi, "%s[%zu]", pc, i);
        if (!json_is_object(c))
            return fl_fail(err, FL_EINVAL, pi, "%s: expected an object", pi);
        fl_request_class *rq = &sm->classes[i];
        rq->share = 1.0;
        if ((rc = fl_json_req_int(c, pi, "input", 1, 10000000, &rq->input, err)) ||
            (rc = fl_json_req_int(c, pi, "output", 1, 10000000, &rq->output, err)) ||
            (rc = fl_json_num(c, pi, "share", 0, 1, &rq->share, err)))
            return rc;
        if (json_array_size(classes) > 1 && !json_object_get(c, "share"))
            return fl_fail(err, FL_EINVAL, pi, "%s.share: missing (required with several classes)", pi);
        if (sm->model.max_positions > 0 && rq->input + rq->output > sm->model.max_positions && !sm->model.rope)
            return fl_fail(err, FL_EINVAL, pi, "%s: input+output %d exceeds the model's %d positions", pi,
                           rq->input + rq->output, sm->model.max_positions);
        sum += rq->share;
    }
    sm->n_classes = (int)json_array_size(classes);
    if (fabs(sum - 1.0) > 1e-6)
        return fl_fail(err, FL_EINVAL, pc, "%s: shares sum to %g, they must sum to 1", pc, sum);
slo:;
    json_t *slo = json_object_get(obj, "slo");
    snprintf(p, sizeof p, "%s.slo", path);
    if (slo && !json_is_null(slo)) {
        if (!json_is_object(slo))
            return fl_fail(err, FL_EINVAL, p, "%s: expected an object", p);
        if ((rc = fl_json_num(slo, p, "ttft_p90_s", 1e-6, 1e6, &sm->ttft_p90_s, err)) ||
            (rc = fl_json_num(slo, p, "tpot_p90_s", 1e-6, 1e6, &sm->tpot_p90_s, err)))
            return rc;
    }
    return FL_OK;
}

static fl_status parse_serving(fl_job *job, json_t *root, fl_error *err)
{
    json_t *models = json_object_get(root, "models");
    fl_status rc;
    if (json_is_array(models)) {
        size_t n = json_array_size(models);
        if (n == 0 || n > FL_MAX_SERVE_MODELS)
            return fl_fail(err, FL_EINVAL, "job.models", "job.models: expected 1 to %d models", FL_MAX_SERVE_MODELS);
        for (size_t i = 0; i < n; i++) {
            json_t *o = json_array_get(models, i);
            char p[64];
            snprintf(p, sizeof p, "job.models[%zu]", i);
            if (!json_is_object(o))
                return fl_fail(err, FL_EINVAL, p, "%s: expected an object with model, workload, slo", p);
            fl_serve_model *sm = &job->serve[i];
            int idx;
            char pm[80];
            snprintf(pm, sizeof pm, "%s.model", p);
            json_t *mv = json_object_get(o, "model");
            if (!mv)
                return fl_fail(err, FL_EINVAL, pm, "%s: missing (required)", pm);
            job->n_serve_models = (int)i + 1;
            if ((rc = fl_model_from_json(job->cat, mv, pm, &sm->model, &sm->name_owned, &idx, err)) ||
                (rc = parse_serve_model(job, o, p, sm, err)))
                return rc;
        }
        job->model = job->serve[0].model;
        return FL_OK;
    }
    job->n_serve_models = 1;
    job->serve[0].model = job->model;
    return parse_serve_model(job, root, "job", &job->serve[0], err);
}

/* Unknown fields are errors (a misspelt "budget_per_hr" would otherwise plan without a budget);
 * the nested objects of a job are checked too. Keys starting with '_' are the user's. */
static fl_status check_job_keys(json_t *root, fl_job_kind kind, fl_error *err)
{
    static const char *const training[] = {"kind", "model", "name", "description", "objective", "budget_per_hour",
                                           "horizon_hours", "allow", "precision", "global_batch", "seq_len",
                                           "optimizer", "zero_stage", "recompute", "attention", "min_tokens_per_s",
                                           "train_tokens", "deadline_hours", "max_gpus", "micro_batch", "dropout",
                                           "framework", "optimizer_impl", "max_cost_per_iteration",
                                           "max_cost_per_million_tokens", "overlap_grad_reduce",
                                           "allreduce_algorithm", "target", NULL};
    static const char *const serving[] = {"kind", "model", "models", "name", "description", "objective",
                                          "budget_per_hour", "horizon_hours", "allow", "precision", "workload",
                                          "slo", "engine", NULL};
    static const char *const allow[] = {"gpus", "zones", "spot", "prefer_regions", NULL};
    static const char *const train_prec[] = {"compute", "master_weights", "grads", NULL};
    fl_status rc;
    if ((rc = fl_json_check_keys(root, "job", kind == FL_JOB_TRAINING ? training : serving, err)) ||
        (rc = fl_json_check_keys(json_object_get(root, "allow"), "job.allow", allow, err)))
        return rc;
    if (kind == FL_JOB_TRAINING)
        return fl_json_check_keys(json_object_get(root, "precision"), "job.precision", train_prec, err);
    return FL_OK;
}

/* The serving part of a job or of one entry of "models": precision, workload, classes, slo. */
static fl_status check_serve_keys(json_t *obj, const char *path, fl_error *err)
{
    static const char *const entry[] = {"model", "precision", "workload", "slo", "name", "engine", NULL};
    static const char *const prec[] = {"compute", "weights", "kv_cache", NULL};
    static const char *const wl[] = {"rate_rps", "classes", "trace", NULL};
    static const char *const cls[] = {"input", "output", "share", "name", NULL};
    static const char *const slo[] = {"ttft_p90_s", "tpot_p90_s", NULL};
    char p[160];
    fl_status rc;
    if (strcmp(path, "job") != 0 && (rc = fl_json_check_keys(obj, path, entry, err)))
        return rc;
    if ((rc = fl_json_check_keys(json_object_get(obj, "precision"), fl_json_path(p, sizeof p, path, "precision"),
                                 prec, err)) ||
        (rc = fl_json_check_keys(json_object_get(obj, "slo"), fl_json_path(p, sizeof p, path, "slo"), slo, err)))
        return rc;
    json_t *w = json_object_get(obj, "workload");
    if ((rc = fl_json_check_keys(w, fl_json_path(p, sizeof p, path, "workload"), wl, err)))
        return rc;
    json_t *classes = json_object_get(w, "classes"), *c;
    size_t i;
    json_array_foreach(classes, i, c) {
        char pc[200];
        snprintf(pc, sizeof pc, "%s.workload.classes[%zu]", path, i);
        if ((rc = fl_json_check_keys(c, pc, cls, err)))
            return rc;
    }
    return FL_OK;
}

fl_status fl_job_from_json(const fl_catalog *cat, const char *json, fl_job **out, fl_error *err)
{
    if (!out)
        return fl_fail(err, FL_EMISUSE, "out", "fl_job_from_json: out is NULL");
    *out = NULL;
    if (!cat)
        return fl_fail(err, FL_EMISUSE, "catalog", "fl_job_from_json: catalog is NULL");
    json_t *root;
    fl_status rc = fl_json_parse_object(json, "job", &root, err);
    if (rc)
        return rc;
    fl_job *job = calloc(1, sizeof *job);
    if (!job) {
        json_decref(root);
        return fl_fail(err, FL_ENOMEM, "job", "out of memory");
    }
    job->cat = cat;
    job->raw = root;
    job->model_index = -1;
    job->horizon_hours = 24;
    int kind = -1, obj = 0;
    static const char *const kinds[] = {"training", "serving", NULL};
    if (!json_object_get(root, "kind")) {
        rc = fl_fail(err, FL_EINVAL, "job.kind", "job.kind: missing (\"training\" or \"serving\")");
        goto fail;
    }
    if ((rc = fl_json_enum(root, "job", "kind", kinds, &kind, err)))
        goto fail;
    job->kind = (fl_job_kind)kind;
    if ((rc = check_job_keys(root, job->kind, err)))
        goto fail;
    job->objective = job->kind == FL_JOB_SERVING ? FL_OBJ_MIN_COST : FL_OBJ_MAX_THROUGHPUT;
    obj = (int)job->objective;
    json_t *mv = json_object_get(root, "model");
    if (!mv && job->kind == FL_JOB_SERVING && json_is_array(json_object_get(root, "models")))
        mv = json_object_get(json_array_get(json_object_get(root, "models"), 0), "model");
    if (!mv) {
        rc = fl_fail(err, FL_EINVAL, "job.model", "job.model: missing (a catalog name or an inline model object)");
        goto fail;
    }
    if ((rc = fl_model_from_json(cat, mv, "job.model", &job->model, &job->model_name, &job->model_index, err)))
        goto fail;
    if ((rc = parse_precision(job, root, err)) ||
        (rc = fl_json_enum(root, "job", "objective", objective_names, &obj, err)) ||
        (rc = fl_json_num(root, "job", "budget_per_hour", 0, 1e9, &job->budget_per_hour, err)) ||
        (rc = fl_json_num(root, "job", "horizon_hours", 0, 1e6, &job->horizon_hours, err)) ||
        (rc = parse_allow(job, root, err)))
        goto fail;
    job->objective = (fl_objective)obj;
    if (json_is_number(json_object_get(root, "budget_per_hour")) && job->budget_per_hour <= 0) {
        rc = fl_fail(err, FL_EINVAL, "job.budget_per_hour", "job.budget_per_hour: must be positive");
        goto fail;
    }
    if (job->kind == FL_JOB_SERVING && job->objective == FL_OBJ_MIN_COST_PER_TOKEN) {
        rc = fl_fail(err, FL_EINVAL, "job.objective", "job.objective: min_cost_per_token is a training objective "
                     "(serving: min_cost or max_throughput)");
        goto fail;
    }
    rc = job->kind == FL_JOB_TRAINING ? parse_training(job, root, err) : parse_serving(job, root, err);
    if (rc)
        goto fail;
    *out = job;
    return FL_OK;
fail:
    fl_job_free(job);
    return rc;
}

void fl_job_free(fl_job *job)
{
    if (!job)
        return;
    for (int i = 0; i < job->n_serve_models; i++) {
        free(job->serve[i].trace_path);
        free(job->serve[i].name_owned);
    }
    free(job->allowed_gpus);
    free(job->allowed_zones);
    free(job->preferred_zones);
    free(job->model_name);
    json_decref(job->raw);
    free(job);
}

fl_job_kind fl_job_get_kind(const fl_job *job) { return job ? job->kind : FL_JOB_TRAINING; }

char *fl_job_to_json(const fl_job *job)
{
    if (!job)
        return NULL;
    json_t *o = json_deep_copy(job->raw);
    if (!o)
        return NULL;
    json_object_set_new(o, "model", fl_model_to_json_obj(&job->model));
    char *s = fl_json_dump(o, 1);
    json_decref(o);
    return s;
}

/* ---- building jobs in code ---- */

/* Parse `doc` (consumed) into a fresh job. */
static fl_status job_from_doc(const fl_catalog *cat, json_t *doc, fl_job **out, fl_error *err)
{
    char *text = doc ? fl_json_dump(doc, 0) : NULL;
    json_decref(doc);
    if (!text)
        return fl_fail(err, FL_ENOMEM, "job", "out of memory");
    fl_status rc = fl_job_from_json(cat, text, out, err);
    free(text);
    return rc;
}

fl_status fl_job_new_training(const fl_catalog *cat, const char *model, int global_batch, int seq_len, fl_job **out,
                              fl_error *err)
{
    if (!out || !model)
        return fl_fail(err, FL_EMISUSE, !out ? "out" : "model", "fl_job_new_training: NULL argument");
    *out = NULL;
    return job_from_doc(cat, json_pack("{s:s,s:s,s:i,s:i}", "kind", "training", "model", model, "global_batch",
                                       global_batch, "seq_len", seq_len), out, err);
}

fl_status fl_job_new_serving(const fl_catalog *cat, const char *model, double rate_rps, int input_tokens,
                             int output_tokens, fl_job **out, fl_error *err)
{
    if (!out || !model)
        return fl_fail(err, FL_EMISUSE, !out ? "out" : "model", "fl_job_new_serving: NULL argument");
    *out = NULL;
    return job_from_doc(cat, json_pack("{s:s,s:s,s:{s:f,s:[{s:i,s:i,s:f}]}}", "kind", "serving", "model", model,
                                       "workload", "rate_rps", rate_rps, "classes", "input", input_tokens, "output",
                                       output_tokens, "share", 1.0), out, err);
}

fl_status fl_job_set(fl_job *job, const char *path, const char *json_value, fl_error *err)
{
    if (!job || !path || !*path || !json_value)
        return fl_fail(err, FL_EMISUSE, "path", "fl_job_set: NULL argument");
    json_error_t je;
    json_t *val = json_loads(json_value, JSON_DECODE_ANY, &je);
    char field[160];
    snprintf(field, sizeof field, "job.%s", path);
    if (!val)
        return fl_fail(err, FL_EPARSE, field, "%s: value is not JSON: %s", field, je.text);
    json_t *doc = json_deep_copy(job->raw), *at = doc;
    char key[128];
    const char *p = path;
    /* walk the dotted path, creating objects on the way */
    for (;;) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        if (n == 0 || n >= sizeof key) {
            json_decref(val);
            json_decref(doc);
            return fl_fail(err, FL_EINVAL, field, "%s: malformed path", field);
        }
        memcpy(key, p, n);
        key[n] = '\0';
        if (!dot)
            break;
        json_t *next = json_object_get(at, key);
        if (!json_is_object(next)) {
            next = json_object();
            json_object_set_new(at, key, next);
        }
        at = next;
        p = dot + 1;
    }
    json_object_set_new(at, key, val);
    fl_job *fresh = NULL;
    fl_status rc = job_from_doc(job->cat, doc, &fresh, err);
    if (rc)
        return rc;
    fl_job old = *job; /* swap contents so the caller's handle stays valid */
    *job = *fresh;
    *fresh = old;
    fl_job_free(fresh);
    return FL_OK;
}

/* ---- availability ---- */

fl_status fl_availability_new(const fl_catalog *cat, fl_availability **out, fl_error *err)
{
    if (!out || !cat)
        return fl_fail(err, FL_EMISUSE, "availability", "fl_availability_new: NULL argument");
    fl_availability *av = calloc(1, sizeof *av);
    if (!av)
        return fl_fail(err, FL_ENOMEM, "availability", "out of memory");
    av->cat = cat;
    av->n_zones = fl_catalog_zone_count(cat);
    av->n_gpus = fl_catalog_gpu_count(cat);
    size_t cells = av->n_zones * av->n_gpus + 1;
    av->count = malloc(cells * sizeof *av->count);
    av->owned_price = calloc(cells, sizeof *av->owned_price);
    av->owned_gpn = calloc(cells, sizeof *av->owned_gpn);
    if (!av->count || !av->owned_price || !av->owned_gpn) {
        fl_availability_free(av);
        return fl_fail(err, FL_ENOMEM, "availability", "out of memory");
    }
    for (size_t i = 0; i < av->n_zones * av->n_gpus; i++)
        av->count[i] = -1;
    *out = av;
    return FL_OK;
}

void fl_availability_free(fl_availability *av)
{
    if (!av)
        return;
    free(av->count);
    free(av->owned_price);
    free(av->owned_gpn);
    free(av);
}

fl_availability *fl_availability_clone(const fl_availability *av)
{
    if (!av)
        return NULL;
    fl_availability *c = NULL;
    if (fl_availability_new(av->cat, &c, NULL))
        return NULL;
    c->limited = av->limited;
    memcpy(c->count, av->count, av->n_zones * av->n_gpus * sizeof *c->count);
    memcpy(c->owned_price, av->owned_price, av->n_zones * av->n_gpus * sizeof *c->owned_price);
    memcpy(c->owned_gpn, av->owned_gpn, av->n_zones * av->n_gpus * sizeof *c->owned_gpn);
    return c;
}

static void make_limited(fl_availability *av)
{
    if (av->limited)
        return;
    av->limited = 1;
    for (size_t i = 0; i < av->n_zones * av->n_gpus; i++)
        av->count[i] = 0;
}

fl_status fl_availability_set(fl_availability *av, const char *zone, const char *gpu, int count, fl_error *err)
{
    if (!av)
        return fl_fail(err, FL_EMISUSE, "availability", "availability is NULL");
    char field[200];
    snprintf(field, sizeof field, "zones.%s", zone ? zone : "(null)");
    int z = fl_catalog_find_zone(av->cat, zone, field, err);
    if (z < 0)
        return fl_err_code(err, FL_ENOTFOUND);
    snprintf(field, sizeof field, "zones.%s.%s", zone, gpu ? gpu : "(null)");
    int g = fl_catalog_find_gpu(av->cat, gpu, field, err);
    if (g < 0)
        return fl_err_code(err, FL_ENOTFOUND);
    if (count < 0)
        return fl_fail(err, FL_EINVAL, field, "%s: count must be >= 0 (got %d)", field, count);
    make_limited(av);
    av->count[(size_t)z * av->n_gpus + (size_t)g] = count;
    return FL_OK;
}

int fl_availability_get(const fl_availability *av, int zone_index, int gpu_index)
{
    if (!av || zone_index < 0 || gpu_index < 0 || (size_t)zone_index >= av->n_zones || (size_t)gpu_index >= av->n_gpus)
        return 0;
    return av->count[(size_t)zone_index * av->n_gpus + (size_t)gpu_index];
}

int fl_availability_is_limited(const fl_availability *av) { return av ? av->limited : 0; }

/* Largest accepted owned price, $/h per GPU (a typo guard far above any rental price). */
#define FL_OWNED_MAX_PRICE 1e4
#define FL_OWNED_MAX_GPN 16

fl_status fl_availability_set_owned(fl_availability *av, const char *zone, const char *gpu, int count,
                                    double price_per_gpu_hour, int gpus_per_node, fl_error *err)
{
    if (!av)
        return fl_fail(err, FL_EMISUSE, "availability", "availability is NULL");
    char field[260];
    snprintf(field, sizeof field, "zones.%s.%s", zone ? zone : "(null)", gpu ? gpu : "(null)");
    int z = zone ? fl_catalog_find_zone(av->cat, zone, NULL, NULL) : -1;
    int g = gpu ? fl_catalog_find_gpu(av->cat, gpu, NULL, NULL) : -1;
    char f2[300];
    if (!isfinite(price_per_gpu_hour) || price_per_gpu_hour < 0 || price_per_gpu_hour > FL_OWNED_MAX_PRICE)
        return fl_fail(err, FL_EINVAL, fl_json_path(f2, sizeof f2, field, "price_per_gpu_hour"),
                       "%s.price_per_gpu_hour: give the $/h per GPU of owned capacity, 0 to %g (0 for fully owned "
                       "hardware; got %g)", field, FL_OWNED_MAX_PRICE, price_per_gpu_hour);
    if (gpus_per_node < 1 || gpus_per_node > FL_OWNED_MAX_GPN)
        return fl_fail(err, FL_EINVAL, fl_json_path(f2, sizeof f2, field, "gpus_per_node"),
                       "%s.gpus_per_node: GPUs per node of owned capacity must be 1 to %d (got %d)", field,
                       FL_OWNED_MAX_GPN, gpus_per_node);
    if (count >= 0 && count % gpus_per_node)
        return fl_fail(err, FL_EINVAL, fl_json_path(f2, sizeof f2, field, "count"),
                       "%s.count: %d GPUs is not a whole number of %d-GPU nodes", field, count, gpus_per_node);
    fl_status rc = fl_availability_set(av, zone, gpu, count, err);
    if (rc)
        return rc;
    size_t c = (size_t)z * av->n_gpus + (size_t)g;
    av->owned_price[c] = price_per_gpu_hour;
    av->owned_gpn[c] = gpus_per_node;
    return FL_OK;
}

int fl_availability_owned(const fl_availability *av, int zone_index, int gpu_index, double *price_per_gpu_hour,
                          int *gpus_per_node)
{
    if (!av || zone_index < 0 || gpu_index < 0 || (size_t)zone_index >= av->n_zones || (size_t)gpu_index >= av->n_gpus)
        return 0;
    size_t c = (size_t)zone_index * av->n_gpus + (size_t)gpu_index;
    if (av->owned_gpn[c] < 1)
        return 0;
    if (price_per_gpu_hour)
        *price_per_gpu_hour = av->owned_price[c];
    if (gpus_per_node)
        *gpus_per_node = av->owned_gpn[c];
    return 1;
}

int fl_catalog_has_nodes(const fl_catalog *cat, int zone_index, int gpu_index)
{
    for (size_t i = 0; i < fl_catalog_node_count(cat); i++) {
        const fl_node *n = fl_catalog_node(cat, i);
        if (n->zone_index == zone_index && n->gpu_index == gpu_index && n->gpu_count > 0)
            return 1;
    }
    return 0;
}

/* Which (zone, GPU) cells the catalog can supply without an owned entry: a cloud offering or an
 * on-prem node. n_zones * n_gpus bytes (caller frees); NULL when out of memory. */
static char *supplied_cells(const fl_catalog *cat, size_t nz, size_t ng)
{
    char *s = calloc(nz * ng + 1, 1);
    if (!s)
        return NULL;
    for (size_t i = 0; i < fl_catalog_offering_count(cat); i++) {
        const fl_offering *o = fl_catalog_offering(cat, i);
        if (o->zone_index >= 0 && o->gpu_index >= 0)
            s[(size_t)o->zone_index * ng + (size_t)o->gpu_index] = 1;
    }
    for (size_t i = 0; i < fl_catalog_node_count(cat); i++) {
        const fl_node *n = fl_catalog_node(cat, i);
        if (n->zone_index >= 0 && n->gpu_index >= 0 && n->gpu_count > 0)
            s[(size_t)n->zone_index * ng + (size_t)n->gpu_index] = 1;
    }
    return s;
}

/* One availability entry given as an object: {"count": N} with, for owned capacity, both
 * "price_per_gpu_hour" and "gpus_per_node". *owned is 1 when the owned fields are given. */
static fl_status owned_entry(json_t *gv, const char *pg, json_t **count, double *price, int *gpn, int *owned,
                             fl_error *err)
{
    char f[320];
    const char *k;
    json_t *v;
    json_object_foreach(gv, k, v) {
        if (strcmp(k, "count") && strcmp(k, "price_per_gpu_hour") && strcmp(k, "gpus_per_node"))
            return fl_fail(err, FL_EINVAL, fl_json_path(f, sizeof f, pg, k),
                           "%s.%s: unknown field (an entry is a count or {\"count\", \"price_per_gpu_hour\", "
                           "\"gpus_per_node\"})", pg, k);
    }
    *count = json_object_get(gv, "count");
    if (!*count)
        return fl_fail(err, FL_EINVAL, fl_json_path(f, sizeof f, pg, "count"), "%s.count: missing (number of GPUs)", pg);
    json_t *p = json_object_get(gv, "price_per_gpu_hour"), *n = json_object_get(gv, "gpus_per_node");
    *owned = p || n;
    if (!*owned)
        return FL_OK;
    if (!p)
        return fl_fail(err, FL_EINVAL, fl_json_path(f, sizeof f, pg, "price_per_gpu_hour"),
                       "%s.price_per_gpu_hour: missing; owned capacity needs both price_per_gpu_hour ($/h per GPU, "
                       ">= 0) and gpus_per_node", pg);
    if (!n)
        return fl_fail(err, FL_EINVAL, fl_json_path(f, sizeof f, pg, "gpus_per_node"),
                       "%s.gpus_per_node: missing; owned capacity needs both price_per_gpu_hour and gpus_per_node "
                       "(1 to %d)", pg, FL_OWNED_MAX_GPN);
    if (!json_is_number(p))
        return fl_fail(err, FL_EINVAL, fl_json_path(f, sizeof f, pg, "price_per_gpu_hour"),
                       "%s.price_per_gpu_hour: expected a number ($/h per GPU, >= 0)", pg);
    if (!json_is_integer(n))
        return fl_fail(err, FL_EINVAL, fl_json_path(f, sizeof f, pg, "gpus_per_node"),
                       "%s.gpus_per_node: expected a whole number (1 to %d)", pg, FL_OWNED_MAX_GPN);
    *price = json_number_value(p);
    json_int_t g = json_integer_value(n);
    *gpn = g < 0 ? -1 : g > 1000 ? 1000 : (int)g;
    return FL_OK;
}

fl_status fl_availability_from_json(const fl_catalog *cat, const char *json, fl_availability **out, fl_error *err)
{
    if (!out)
        return fl_fail(err, FL_EMISUSE, "out", "out is NULL");
    *out = NULL;
    json_t *root;
    fl_status rc = fl_json_parse_object(json, "availability", &root, err);
    if (rc)
        return rc;
    fl_availability *av;
    if ((rc = fl_availability_new(cat, &av, err))) {
        json_decref(root);
        return rc;
    }
    json_t *zones = json_object_get(root, "zones");
    const char **seen = NULL;
    char *supplied = NULL;
    if (!json_is_object(zones)) {
        rc = fl_fail(err, FL_EINVAL, "zones", "availability.zones: missing or not an object of zone → {gpu: count}");
        goto done;
    }
    const char *zk;
    json_t *zv;
    make_limited(av);
    /* which zones and (zone, GPU) cells a name has set, and the name that set them, so that two
     * spellings of one zone or one GPU (case variants, alias and canonical name) are refused
     * instead of the last one silently winning */
    seen = calloc(av->n_zones * av->n_gpus + av->n_zones + 1, sizeof *seen);
    supplied = supplied_cells(cat, av->n_zones, av->n_gpus);
    if (!seen || !supplied) {
        rc = fl_fail(err, FL_ENOMEM, "zones", "out of memory");
        goto done;
    }
    json_object_foreach(zones, zk, zv) {
        char p[200];
        snprintf(p, sizeof p, "zones.%s", zk);
        if (!json_is_object(zv)) {
            rc = fl_fail(err, FL_EINVAL, p, "%s: expected an object of GPU name → count", p);
            goto done;
        }
        int z = fl_catalog_find_zone(cat, zk, p, err); /* also for an empty map: a misspelt zone is an error */
        if (z < 0) {
            rc = fl_err_code(err, FL_ENOTFOUND);
            goto done;
        }
        const char **zseen = &seen[av->n_zones * av->n_gpus + (size_t)z];
        if (*zseen) {
            rc = fl_fail(err, FL_EINVAL, p, "%s: the same zone as \"%s\" (zone names are case-insensitive)", p, *zseen);
            goto done;
        }
        *zseen = zk;
        const char *gk;
        json_t *gv;
        json_object_foreach(zv, gk, gv) {
            char pg[260];
            snprintf(pg, sizeof pg, "%s.%s", p, gk);
            int g = fl_catalog_find_gpu(cat, gk, pg, err);
            if (g < 0) {
                rc = fl_err_code(err, FL_ENOTFOUND);
                goto done;
            }
            const char **gseen = &seen[(size_t)z * av->n_gpus + (size_t)g];
            if (*gseen) {
                rc = fl_fail(err, FL_EINVAL, pg, "%s: the same GPU as \"%s\" (%s) is already given for this zone", pg,
                             *gseen, fl_catalog_gpu(cat, (size_t)g)->name);
                goto done;
            }
            *gseen = gk;
            double price = 0;
            int gpn = 0, owned = 0;
            char pc[300]; /* the count's field: the entry, or its "count" member */
            snprintf(pc, sizeof pc, "%s", pg);
            if (json_is_object(gv)) {
                if ((rc = owned_entry(gv, pg, &gv, &price, &gpn, &owned, err)))
                    goto done;
                fl_json_path(pc, sizeof pc, pg, "count");
            }
            if (json_is_real(gv) && json_real_value(gv) == floor(json_real_value(gv)) &&
                fabs(json_real_value(gv)) > 100000000) {
                rc = fl_fail(err, FL_EINVAL, pc, "%s: count must be between 0 and 1e8 (got %g)", pc, json_real_value(gv));
                goto done;
            }
            if (!json_is_integer(gv)) {
                rc = fl_fail(err, FL_EINVAL, pc, "%s: expected a whole number of GPUs", pc);
                goto done;
            }
            json_int_t c = json_integer_value(gv);
            if (c < 0 || c > 100000000) {
                rc = fl_fail(err, FL_EINVAL, pc, "%s: count must be between 0 and 1e8 (got %lld)", pc, (long long)c);
                goto done;
            }
            if (owned) {
                if ((rc = fl_availability_set_owned(av, zk, gk, (int)c, price, gpn, err)))
                    goto done;
                continue;
            }
            if (c > 0 && !supplied[(size_t)z * av->n_gpus + (size_t)g]) {
                rc = fl_fail(err, FL_EINVAL, pg,
                             "%s: zone %s does not sell %s (no catalog offering and no on-prem node); to plan it as "
                             "owned capacity give {\"count\": %lld, \"price_per_gpu_hour\": <$/h per GPU>, "
                             "\"gpus_per_node\": <1-16>}", pg, fl_catalog_zone(cat, (size_t)z)->name,
                             fl_catalog_gpu(cat, (size_t)g)->name, (long long)c);
                goto done;
            }
            if ((rc = fl_availability_set(av, zk, gk, (int)c, err)))
                goto done;
        }
    }
    if (json_object_size(zones) == 0)
        rc = fl_fail(err, FL_EINVAL, "zones", "availability.zones: empty — no GPUs available anywhere");
done:
    free(seen);
    free(supplied);
    json_decref(root);
    if (rc)
        fl_availability_free(av);
    else
        *out = av;
    return rc;
}

char *fl_availability_to_json(const fl_availability *av)
{
    if (!av)
        return NULL;
    json_t *root = json_object(), *zones = json_object();
    json_object_set_new(root, "zones", zones);
    for (size_t z = 0; z < av->n_zones; z++) {
        json_t *zo = NULL;
        for (size_t g = 0; g < av->n_gpus; g++) {
            int c = av->count[z * av->n_gpus + g];
            if (c <= 0)
                continue;
            if (!zo) {
                zo = json_object();
                json_object_set_new(zones, fl_catalog_zone(av->cat, z)->name, zo);
            }
            size_t cell = z * av->n_gpus + g;
            if (av->owned_gpn[cell] > 0)
                json_object_set_new(zo, fl_catalog_gpu(av->cat, g)->name,
                                    json_pack("{s:i,s:f,s:i}", "count", c, "price_per_gpu_hour",
                                              av->owned_price[cell], "gpus_per_node", av->owned_gpn[cell]));
            else
                json_object_set_new(zo, fl_catalog_gpu(av->cat, g)->name, json_integer(c));
        }
    }
    /* a limited availability with every count 0 is written as one explicit 0 (not as an empty map,
     * which fl_availability_from_json refuses), so that it parses back to the same thing */
    if (av->limited && json_object_size(zones) == 0 && av->n_zones && av->n_gpus)
        json_object_set_new(zones, fl_catalog_zone(av->cat, 0)->name,
                            json_pack("{s:i}", fl_catalog_gpu(av->cat, 0)->name, 0));
    char *s = fl_json_dump(root, 1);
    json_decref(root);
    return s;
}
