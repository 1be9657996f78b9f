/* common/plan_model.c — the typed plan: a read-only C view of a plan document (docs/json.md)
 * and the writer back to JSON. Typed fields are read through small field tables; whatever the
 * view does not type stays in a per-object "rest" copy, so writing gives back an equal document. */
#include "flotilla/fl_plan.h"
#include "common/error.h"

#include <jansson.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum { F_STR, F_INT, F_NUM, F_BOOL } ftype;
typedef struct fdesc { const char *key; ftype t; size_t off; int required; } fdesc;

/* Which table fields were present, which numbers were JSON integers, and the untyped keys. */
typedef struct objmeta { unsigned present, num_int; json_t *rest; } objmeta;

typedef struct stage_i { fl_plan_stage s; objmeta meta; } stage_i;
typedef struct pipe_i { fl_plan_pipeline p; objmeta meta; stage_i *st; fl_plan_stage *flat; size_t ns_alloc; } pipe_i;
typedef struct group_i { fl_plan_node_group g; objmeta meta; } group_i;
typedef struct rep_i { fl_plan_serving_replica r; objmeta meta; double *shares; unsigned char *share_int; } rep_i;

struct fl_plan_model {
    json_t *doc;            /* the parsed input: typed strings point into it */
    objmeta root;           /* "kind" and a string "model" typed; the rest kept */
    fl_job_kind kind;
    const char *kind_str, *model_name;
    int has_shape; fl_plan_model_shape shape;
    group_i *groups; size_t n_groups;
    int has_par; objmeta par; fl_plan_training train;
    pipe_i *pipes; size_t n_pipes; fl_plan_pipeline *pipe_view;
    int has_reps; rep_i *reps; size_t n_reps;
};

#define OFF(T, f) offsetof(T, f)
static const fdesc group_fields[] = {
    {"cloud", F_STR, OFF(fl_plan_node_group, cloud), 0},
    {"zone", F_STR, OFF(fl_plan_node_group, zone), 1},
    {"instance_type", F_STR, OFF(fl_plan_node_group, instance_type), 0},
    {"gpu", F_STR, OFF(fl_plan_node_group, gpu), 1},
    {"gpus_per_instance", F_INT, OFF(fl_plan_node_group, gpus_per_instance), 1},
    {"instances", F_INT, OFF(fl_plan_node_group, instances), 1},
    {"price_per_hour", F_NUM, OFF(fl_plan_node_group, price_per_hour), 0},
    {"spot", F_BOOL, OFF(fl_plan_node_group, spot), 0},
};
static const fdesc par_fields[] = {
    {"micro_batch", F_INT, OFF(fl_plan_training, micro_batch), 1},
    {"schedule", F_STR, OFF(fl_plan_training, schedule), 0},
    {"recompute", F_STR, OFF(fl_plan_training, recompute), 0},
    {"zero_stage", F_INT, OFF(fl_plan_training, zero_stage), 0},
    {"chunks", F_INT, OFF(fl_plan_training, chunks), 0},
};
static const fdesc pipe_fields[] = {
    {"replicas", F_INT, OFF(fl_plan_pipeline, replicas), 1},
    {"micro_batches", F_INT, OFF(fl_plan_pipeline, micro_batches), 1},
};
static const fdesc stage_fields[] = {
    {"gpu", F_STR, OFF(fl_plan_stage, gpu), 1},
    {"zone", F_STR, OFF(fl_plan_stage, zone), 0},
    {"tp", F_INT, OFF(fl_plan_stage, tp), 1},
};
static const fdesc rep_fields[] = {
    {"model", F_STR, OFF(fl_plan_serving_replica, model), 0},
    {"gpu", F_STR, OFF(fl_plan_serving_replica, gpu), 1},
    {"zone", F_STR, OFF(fl_plan_serving_replica, zone), 0},
    {"tp", F_INT, OFF(fl_plan_serving_replica, tp), 1},
    {"pp", F_INT, OFF(fl_plan_serving_replica, pp), 0},
    {"count", F_INT, OFF(fl_plan_serving_replica, count), 1},
};
#define NF(a) (sizeof a / sizeof a[0])

/* Read the table's fields of obj into the struct at base; the rest of obj is copied into meta. */
static fl_status read_fields(json_t *obj, const char *path, const fdesc *f, size_t n, void *base, objmeta *meta,
                             fl_error *err)
{
    if (!json_is_object(obj))
        return fl_fail(err, FL_EINVAL, path, "%s must be an object", path);
    memset(meta, 0, sizeof *meta);
    for (size_t i = 0; i < n; i++) {
        json_t *v = json_object_get(obj, f[i].key);
        if (!v) {
            if (f[i].required)
                return fl_fail(err, FL_EINVAL, path, "%s.%s is missing", path, f[i].key);
            continue;
        }
        char *p = (char *)base + f[i].off;
        switch (f[i].t) {
        case F_STR:
            if (!json_is_string(v))
                return fl_fail(err, FL_EINVAL, path, "%s.%s must be a string", path, f[i].key);
            *(const char **)p = json_string_value(v);
            break;
        case F_INT: {
            if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 1000000000)
                return fl_fail(err, FL_EINVAL, path, "%s.%s must be an integer in [0, 1e9]", path, f[i].key);
            *(int *)p = (int)json_integer_value(v);
            break;
        }
        case F_NUM:
            if (!json_is_number(v))
                return fl_fail(err, FL_EINVAL, path, "%s.%s must be a number", path, f[i].key);
            *(double *)p = json_number_value(v);
            if (json_is_integer(v))
                meta->num_int |= 1u << i;
            break;
        case F_BOOL:
            if (!json_is_boolean(v))
                return fl_fail(err, FL_EINVAL, path, "%s.%s must be true or false", path, f[i].key);
            *(int *)p = json_is_true(v);
            break;
        }
        meta->present |= 1u << i;
    }
    meta->rest = json_deep_copy(obj);
    if (!meta->rest)
        return fl_fail(err, FL_ENOMEM, path, "out of memory copying %s", path);
    for (size_t i = 0; i < n; i++)
        json_object_del(meta->rest, f[i].key);
    return FL_OK;
}

/* Build an object from the untyped rest plus the present typed fields. NULL on out of memory. */
static json_t *write_fields(const fdesc *f, size_t n, const void *base, const objmeta *meta)
{
    json_t *o = json_deep_copy(meta->rest);
    if (!o)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (!(meta->present & (1u << i)))
            continue;
        const char *p = (const char *)base + f[i].off;
        json_t *v = NULL;
        switch (f[i].t) {
        case F_STR: v = json_string(*(const char *const *)p); break;
        case F_INT: v = json_integer(*(const int *)p); break;
        case F_NUM:
            v = (meta->num_int & (1u << i)) ? json_integer((json_int_t) * (const double *)p)
                                            : json_real(*(const double *)p);
            break;
        case F_BOOL: v = json_boolean(*(const int *)p); break;
        }
        if (!v || json_object_set_new(o, f[i].key, v) != 0) {
            json_decref(o);
            return NULL;
        }
    }
    return o;
}

/* The job object of the model entry serving `model` (the job itself for one-model jobs). */
static json_t *job_entry_for(json_t *job, const char *model)
{
    json_t *models = json_object_get(job, "models");
    if (json_is_array(models) && model) {
        size_t i;
        json_t *e;
        json_array_foreach(models, i, e) {
            json_t *name = json_object_get(e, "model");
            if (json_is_string(name) && strcmp(json_string_value(name), model) == 0)
                return e;
        }
    }
    return job;
}

/* Serving: the engine, batch cap and longest request a replica's model was planned with. */
static void serving_derived(fl_plan_model *m, fl_plan_serving_replica *r)
{
    json_t *job = json_object_get(m->doc, "job");
    json_t *entry = job_entry_for(job, r->model);
    json_t *eng = json_object_get(entry, "engine");
    if (!json_is_string(eng))
        eng = json_object_get(job, "engine");
    r->engine = json_is_string(eng) ? json_string_value(eng) : "vllm";
    json_t *classes = json_object_get(json_object_get(entry, "workload"), "classes");
    size_t i;
    json_t *c;
    json_array_foreach(classes, i, c) {
        json_t *in = json_object_get(c, "input"), *out = json_object_get(c, "output");
        if (json_is_integer(in) && json_is_integer(out)) {
            json_int_t len = json_integer_value(in) + json_integer_value(out);
            if (len > r->max_model_len && len < 100000000)
                r->max_model_len = (int)len;
        }
    }
    json_t *mb = json_object_get(json_object_get(m->doc, "simulation"), "max_batch");
    if (json_is_integer(mb) && json_integer_value(mb) > 0 && json_integer_value(mb) < 1000000000)
        r->peak_batch = (int)json_integer_value(mb);
}

/* An inline model object: its name and shape (read-only; the object itself stays in the rest). */
static void read_shape(fl_plan_model *m, json_t *o)
{
    static const struct { const char *key; size_t off; } ints[] = {
        {"layers", offsetof(fl_plan_model_shape, layers)}, {"hidden", offsetof(fl_plan_model_shape, hidden)},
        {"heads", offsetof(fl_plan_model_shape, heads)}, {"kv_heads", offsetof(fl_plan_model_shape, kv_heads)},
        {"ffn", offsetof(fl_plan_model_shape, ffn)}, {"vocab", offsetof(fl_plan_model_shape, vocab)},
        {"max_positions", offsetof(fl_plan_model_shape, max_positions)},
    };
    json_t *name = json_object_get(o, "name");
    if (!json_is_string(name))
        return;
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
        json_t *v = json_object_get(o, ints[i].key);
        if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 1000000000)
            return;  /* not a complete shape: the view keeps the name only */
        *(int *)((char *)&m->shape + ints[i].off) = (int)json_integer_value(v);
    }
    m->shape.name = json_string_value(name);
    json_t *act = json_object_get(o, "activation"), *pos = json_object_get(o, "positional");
    m->shape.swiglu = json_is_string(act) && strcmp(json_string_value(act), "swiglu") == 0;
    m->shape.tied_embeddings = json_is_true(json_object_get(o, "tied_embeddings"));
    m->shape.rope = json_is_string(pos) && strcmp(json_string_value(pos), "rope") == 0;
    m->has_shape = 1;
}

static fl_status parse_pipelines(fl_plan_model *m, json_t *arr, fl_error *err)
{
    if (!json_is_array(arr) || json_array_size(arr) == 0)
        return fl_fail(err, FL_EINVAL, "parallelism.pipelines", "parallelism.pipelines must be a non-empty array");
    m->n_pipes = json_array_size(arr);
    m->pipes = calloc(m->n_pipes, sizeof *m->pipes);
    m->pipe_view = calloc(m->n_pipes, sizeof *m->pipe_view);
    if (!m->pipes || !m->pipe_view)
        return fl_fail(err, FL_ENOMEM, "parallelism.pipelines", "out of memory");
    for (size_t i = 0; i < m->n_pipes; i++) {
        char path[96];
        snprintf(path, sizeof path, "parallelism.pipelines[%zu]", i);
        pipe_i *p = &m->pipes[i];
        json_t *po = json_array_get(arr, i);
        fl_status st = read_fields(po, path, pipe_fields, NF(pipe_fields), &p->p, &p->meta, err);
        if (st != FL_OK)
            return st;
        json_object_del(p->meta.rest, "stages");
        json_t *stages = json_object_get(po, "stages");
        if (!json_is_array(stages) || json_array_size(stages) == 0)
            return fl_fail(err, FL_EINVAL, path, "%s.stages must be a non-empty array", path);
        size_t ns = json_array_size(stages);
        p->st = calloc(ns, sizeof *p->st);
        p->flat = calloc(ns, sizeof *p->flat);
        if (!p->st || !p->flat)
            return fl_fail(err, FL_ENOMEM, path, "out of memory");
        p->ns_alloc = ns;
        for (size_t s = 0; s < ns; s++) {
            char sp[128];
            snprintf(sp, sizeof sp, "%s.stages[%zu]", path, s);
            json_t *so = json_array_get(stages, s);
            st = read_fields(so, sp, stage_fields, NF(stage_fields), &p->st[s].s, &p->st[s].meta, err);
            if (st != FL_OK)
                return st;
            json_t *l = json_object_get(so, "layers");
            if (!json_is_array(l) || json_array_size(l) != 2 || !json_is_integer(json_array_get(l, 0)) ||
                !json_is_integer(json_array_get(l, 1)) || json_integer_value(json_array_get(l, 0)) < 0 ||
                json_integer_value(json_array_get(l, 1)) <= json_integer_value(json_array_get(l, 0)) ||
                json_integer_value(json_array_get(l, 1)) > 1000000)
                return fl_fail(err, FL_EINVAL, sp, "%s.layers must be [first, last) with 0 <= first < last", sp);
            p->st[s].s.first_layer = (int)json_integer_value(json_array_get(l, 0));
            p->st[s].s.last_layer = (int)json_integer_value(json_array_get(l, 1));
            json_object_del(p->st[s].meta.rest, "layers");
            p->flat[s] = p->st[s].s;
        }
        p->p.n_stages = ns;
        p->p.stages = p->flat;
        m->pipe_view[i] = p->p;
    }
    return FL_OK;
}

static fl_status parse_replicas(fl_plan_model *m, json_t *arr, fl_error *err)
{
    if (!json_is_array(arr))
        return fl_fail(err, FL_EINVAL, "replicas", "replicas must be an array");
    m->n_reps = json_array_size(arr);
    m->reps = calloc(m->n_reps ? m->n_reps : 1, sizeof *m->reps);
    if (!m->reps)
        return fl_fail(err, FL_ENOMEM, "replicas", "out of memory");
    for (size_t i = 0; i < m->n_reps; i++) {
        char path[64];
        snprintf(path, sizeof path, "replicas[%zu]", i);
        rep_i *r = &m->reps[i];
        json_t *ro = json_array_get(arr, i);
        r->r.pp = 1;
        fl_status st = read_fields(ro, path, rep_fields, NF(rep_fields), &r->r, &r->meta, err);
        if (st != FL_OK)
            return st;
        if (!(r->meta.present & (1u << 4)))
            r->r.pp = 1;  /* absent pp means 1 (not written back) */
        if (!r->r.model)
            r->r.model = fl_plan_model_name(m);
        json_t *cs = json_object_get(ro, "class_shares");
        if (cs) {
            if (!json_is_array(cs))
                return fl_fail(err, FL_EINVAL, path, "%s.class_shares must be an array of numbers", path);
            size_t n = json_array_size(cs);
            r->shares = calloc(n ? n : 1, sizeof *r->shares);
            r->share_int = calloc(n ? n : 1, 1);
            if (!r->shares || !r->share_int)
                return fl_fail(err, FL_ENOMEM, path, "out of memory");
            for (size_t c = 0; c < n; c++) {
                json_t *v = json_array_get(cs, c);
                if (!json_is_number(v))
                    return fl_fail(err, FL_EINVAL, path, "%s.class_shares[%zu] must be a number", path, c);
                r->shares[c] = json_number_value(v);
                r->share_int[c] = json_is_integer(v);
            }
            r->r.n_class_shares = n;
            r->r.class_shares = r->shares;
            json_object_del(r->meta.rest, "class_shares");
        }
        serving_derived(m, &r->r);
    }
    return FL_OK;
}

static fl_status parse_doc(fl_plan_model *m, fl_error *err)
{
    json_t *doc = m->doc;
    if (!json_is_object(doc))
        return fl_fail(err, FL_EINVAL, "plan", "a plan must be a JSON object");
    json_t *kind = json_object_get(doc, "kind");
    if (!json_is_string(kind))
        return fl_fail(err, FL_EINVAL, "kind", "kind must be \"training\" or \"serving\"");
    m->kind_str = json_string_value(kind);
    if (strcmp(m->kind_str, "training") == 0)
        m->kind = FL_JOB_TRAINING;
    else if (strcmp(m->kind_str, "serving") == 0)
        m->kind = FL_JOB_SERVING;
    else
        return fl_fail(err, FL_EINVAL, "kind", "kind must be \"training\" or \"serving\", not \"%s\"", m->kind_str);
    json_t *model = json_object_get(doc, "model");
    if (json_is_string(model))
        m->model_name = json_string_value(model);
    else if (json_is_object(model))
        read_shape(m, model);
    m->root.rest = json_deep_copy(doc);
    if (!m->root.rest)
        return fl_fail(err, FL_ENOMEM, "plan", "out of memory");
    json_object_del(m->root.rest, "kind");
    if (m->model_name)
        json_object_del(m->root.rest, "model");

    json_t *res = json_object_get(doc, "resources");
    if (!json_is_array(res))
        return fl_fail(err, FL_EINVAL, "resources", "resources must be an array");
    json_object_del(m->root.rest, "resources");
    m->n_groups = json_array_size(res);
    m->groups = calloc(m->n_groups ? m->n_groups : 1, sizeof *m->groups);
    if (!m->groups)
        return fl_fail(err, FL_ENOMEM, "resources", "out of memory");
    for (size_t i = 0; i < m->n_groups; i++) {
        char path[64];
        snprintf(path, sizeof path, "resources[%zu]", i);
        fl_status st = read_fields(json_array_get(res, i), path, group_fields, NF(group_fields), &m->groups[i].g,
                                   &m->groups[i].meta, err);
        if (st != FL_OK)
            return st;
    }

    if (m->kind == FL_JOB_TRAINING) {
        json_t *par = json_object_get(doc, "parallelism");
        fl_status st = read_fields(par, "parallelism", par_fields, NF(par_fields), &m->train, &m->par, err);
        if (st != FL_OK)
            return st;
        m->has_par = 1;
        json_object_del(m->root.rest, "parallelism");
        json_object_del(m->par.rest, "pipelines");
        json_t *job = json_object_get(doc, "job");
        json_t *gb = json_object_get(job, "global_batch"), *sl = json_object_get(job, "seq_len");
        if (json_is_integer(gb) && json_integer_value(gb) > 0 && json_integer_value(gb) < 1000000000)
            m->train.global_batch = (int)json_integer_value(gb);
        if (json_is_integer(sl) && json_integer_value(sl) > 0 && json_integer_value(sl) < 1000000000)
            m->train.seq_len = (int)json_integer_value(sl);
        json_t *dt = json_object_get(json_object_get(job, "precision"), "compute");
        m->train.compute_dtype = json_is_string(dt) ? json_string_value(dt) : "bf16";
        return parse_pipelines(m, json_object_get(par, "pipelines"), err);
    }
    json_t *reps = json_object_get(doc, "replicas");
    if (!reps)
        return fl_fail(err, FL_EINVAL, "replicas", "a serving plan needs replicas");
    m->has_reps = 1;
    json_object_del(m->root.rest, "replicas");
    return parse_replicas(m, reps, err);
}

fl_status fl_plan_model_from_json(const char *json, fl_plan_model **out, fl_error *err)
{
    if (!json || !out)
        return fl_fail(err, FL_EMISUSE, "plan", "NULL argument");
    *out = NULL;
    json_error_t je;
    json_t *doc = json_loads(json, JSON_REJECT_DUPLICATES, &je);
    if (!doc)
        return fl_fail(err, FL_EPARSE, "plan", "plan JSON line %d column %d: %s", je.line, je.column, je.text);
    fl_plan_model *m = calloc(1, sizeof *m);
    if (!m) {
        json_decref(doc);
        return fl_fail(err, FL_ENOMEM, "plan", "out of memory");
    }
    m->doc = doc;
    fl_status st = parse_doc(m, err);
    if (st != FL_OK) {
        fl_plan_model_free(m);
        return st;
    }
    *out = m;
    return FL_OK;
}

void fl_plan_model_free(fl_plan_model *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->n_groups; i++)
        json_decref(m->groups[i].meta.rest);
    free(m->groups);
    for (size_t i = 0; i < m->n_pipes; i++) {
        pipe_i *p = &m->pipes[i];
        for (size_t s = 0; s < p->ns_alloc; s++)
            json_decref(p->st[s].meta.rest);
        free(p->st);
        free(p->flat);
        json_decref(p->meta.rest);
    }
    free(m->pipes);
    free(m->pipe_view);
    for (size_t i = 0; i < m->n_reps; i++) {
        json_decref(m->reps[i].meta.rest);
        free(m->reps[i].shares);
        free(m->reps[i].share_int);
    }
    free(m->reps);
    json_decref(m->par.rest);
    json_decref(m->root.rest);
    json_decref(m->doc);
    free(m);
}

/* Append a new value to arr; 0 on success. */
static int push(json_t *arr, json_t *v)
{
    return v ? json_array_append_new(arr, v) : -1;
}

/* Build the whole document from the typed fields plus the kept rests. NULL on out of memory. */
static json_t *model_to_doc(const fl_plan_model *m)
{
    json_t *doc = json_deep_copy(m->root.rest);
    json_t *res = json_array();
    if (!doc || !res)
        goto fail;
    if (json_object_set_new(doc, "kind", json_string(m->kind_str)) != 0)
        goto fail;
    if (m->model_name && json_object_set_new(doc, "model", json_string(m->model_name)) != 0)
        goto fail;
    for (size_t i = 0; i < m->n_groups; i++)
        if (push(res, write_fields(group_fields, NF(group_fields), &m->groups[i].g, &m->groups[i].meta)) != 0)
            goto fail;
    if (json_object_set(doc, "resources", res) != 0)
        goto fail;
    if (m->has_par) {
        /* json_object_set_new releases the value itself when it fails (and ignores NULL) */
        json_t *par = write_fields(par_fields, NF(par_fields), &m->train, &m->par);
        if (json_object_set_new(doc, "parallelism", par) != 0)
            goto fail;
        json_t *pipes = json_array();
        if (json_object_set_new(par, "pipelines", pipes) != 0)
            goto fail;
        for (size_t i = 0; i < m->n_pipes; i++) {
            const pipe_i *p = &m->pipes[i];
            json_t *po = write_fields(pipe_fields, NF(pipe_fields), &p->p, &p->meta);
            if (push(pipes, po) != 0)
                goto fail;
            json_t *stages = json_array();
            if (!stages || json_object_set_new(po, "stages", stages) != 0)
                goto fail;
            for (size_t s = 0; s < p->p.n_stages; s++) {
                json_t *so = write_fields(stage_fields, NF(stage_fields), &p->st[s].s, &p->st[s].meta);
                if (push(stages, so) != 0 ||
                    json_object_set_new(so, "layers", json_pack("[ii]", p->st[s].s.first_layer,
                                                                p->st[s].s.last_layer)) != 0)
                    goto fail;
            }
        }
    }
    if (m->has_reps) {
        json_t *reps = json_array();
        if (!reps || json_object_set_new(doc, "replicas", reps) != 0)
            goto fail;
        for (size_t i = 0; i < m->n_reps; i++) {
            const rep_i *r = &m->reps[i];
            fl_plan_serving_replica tmp = r->r;
            json_t *ro = write_fields(rep_fields, NF(rep_fields), &tmp, &r->meta);
            if (push(reps, ro) != 0)
                goto fail;
            if (r->shares) {
                json_t *cs = json_array();
                if (!cs || json_object_set_new(ro, "class_shares", cs) != 0)
                    goto fail;
                for (size_t c = 0; c < r->r.n_class_shares; c++)
                    if (push(cs, r->share_int[c] ? json_integer((json_int_t)r->shares[c]) : json_real(r->shares[c])) != 0)
                        goto fail;
            }
        }
    }
    json_decref(res);
    return doc;
fail:
    json_decref(res);
    json_decref(doc);
    return NULL;
}

char *fl_plan_model_to_json(const fl_plan_model *m, int pretty)
{
    if (!m)
        return NULL;
    json_t *doc = model_to_doc(m);
    if (!doc)
        return NULL;
    char *s = json_dumps(doc, (pretty ? JSON_INDENT(2) : JSON_COMPACT) | JSON_REAL_PRECISION(17));
    json_decref(doc);
    return s;
}

fl_job_kind fl_plan_model_kind(const fl_plan_model *m) { return m ? m->kind : FL_JOB_TRAINING; }
const char *fl_plan_model_name(const fl_plan_model *m)
{
    return !m ? NULL : m->model_name ? m->model_name : m->has_shape ? m->shape.name : NULL;
}
const fl_plan_model_shape *fl_plan_model_shape_of(const fl_plan_model *m)
{
    return m && m->has_shape ? &m->shape : NULL;
}
size_t fl_plan_node_group_count(const fl_plan_model *m) { return m ? m->n_groups : 0; }
const fl_plan_node_group *fl_plan_node_group_at(const fl_plan_model *m, size_t i)
{
    return m && i < m->n_groups ? &m->groups[i].g : NULL;
}
const fl_plan_training *fl_plan_model_training(const fl_plan_model *m)
{
    return m && m->has_par ? &m->train : NULL;
}
size_t fl_plan_pipeline_count(const fl_plan_model *m) { return m ? m->n_pipes : 0; }
const fl_plan_pipeline *fl_plan_pipeline_at(const fl_plan_model *m, size_t i)
{
    return m && i < m->n_pipes ? &m->pipe_view[i] : NULL;
}
size_t fl_plan_serving_replica_count(const fl_plan_model *m) { return m ? m->n_reps : 0; }
const fl_plan_serving_replica *fl_plan_serving_replica_at(const fl_plan_model *m, size_t i)
{
    return m && i < m->n_reps ? &m->reps[i].r : NULL;
}
