/* matching/shards.c — the tensor-parallel groups ("shards") of a plan document and the model
 * state each one holds; reading an existing "placement" array back onto them. */
#include "matching/place_internal.h"
#include "common/error.h"
#include "common/json_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void fl_shard_set_free(fl_shard_set *s)
{
    if (!s)
        return;
    free(s->model_name);
    free(s->v);
    memset(s, 0, sizeof *s);
}

/* Parameters of the embeddings, the LM head and one transformer layer of a model. */
static void model_split(const fl_model *m, double *emb, double *head, double *layer)
{
    double h = m->hidden;
    *emb = (double)m->vocab * h + (m->rope ? 0.0 : (double)m->max_positions * h);
    *head = m->tied_embeddings ? 0.0 : (double)m->vocab * h;
    double rest = m->params - *emb - *head;
    *layer = m->layers > 0 && rest > 0 ? rest / m->layers : 0.0;
}

static fl_status push(fl_shard_set *s, size_t *cap, const fl_shard *sh, fl_error *err)
{
    if (s->n == *cap) {
        size_t nc = *cap ? *cap * 2 : 64;
        fl_shard *nv = realloc(s->v, nc * sizeof *nv);
        if (!nv)
            return fl_fail(err, FL_ENOMEM, "plan", "out of memory");
        s->v = nv;
        *cap = nc;
    }
    s->v[s->n++] = *sh;
    return FL_OK;
}

/* Resolve the gpu/zone/tp of a stage or replica object. */
static fl_status read_target(const fl_catalog *cat, json_t *o, const char *path, fl_shard *sh, fl_error *err)
{
    const char *gpu = NULL, *zone = NULL;
    char f[200];
    fl_status rc;
    sh->tp = 1;
    if ((rc = fl_json_str(o, path, "gpu", &gpu, err)) || (rc = fl_json_str(o, path, "zone", &zone, err)) ||
        (rc = fl_json_int(o, path, "tp", 1, FL_NODE_MAX_GPUS, &sh->tp, err)))
        return rc;
    if (!gpu)
        return fl_fail(err, FL_EINVAL, fl_json_path(f, sizeof f, path, "gpu"), "%s: missing", f);
    if (!zone)
        return fl_fail(err, FL_EINVAL, fl_json_path(f, sizeof f, path, "zone"), "%s: missing", f);
    sh->gpu = fl_catalog_find_gpu(cat, gpu, fl_json_path(f, sizeof f, path, "gpu"), err);
    if (sh->gpu < 0)
        return fl_err_code(err, FL_ENOTFOUND);
    sh->zone = fl_catalog_find_zone(cat, zone, fl_json_path(f, sizeof f, path, "zone"), err);
    if (sh->zone < 0)
        return fl_err_code(err, FL_ENOTFOUND);
    return FL_OK;
}

static double shard_bytes(const fl_shard_set *s, const fl_shard *sh)
{
    return (sh->last - sh->first) * s->layer_bytes + (sh->embed ? s->embed_bytes : 0) + (sh->head ? s->head_bytes : 0);
}

static fl_status read_training(const fl_catalog *cat, json_t *doc, const char *path, int layers, fl_shard_set *s,
                               fl_error *err)
{
    char p0[128], f[200];
    snprintf(p0, sizeof p0, "%s.parallelism.pipelines", path);
    json_t *pipes = json_object_get(json_object_get(doc, "parallelism"), "pipelines");
    if (!json_is_array(pipes) || json_array_size(pipes) == 0)
        return fl_fail(err, FL_EINVAL, p0, "%s: missing or empty", p0);
    size_t cap = 0, p;
    json_t *pipe;
    json_array_foreach(pipes, p, pipe) {
        char pp[160];
        snprintf(pp, sizeof pp, "%s[%zu]", p0, p);
        int replicas = 1;
        fl_status rc = fl_json_int(pipe, pp, "replicas", 1, 1000000, &replicas, err);
        if (rc)
            return rc;
        json_t *stages = json_object_get(pipe, "stages");
        if (!json_is_array(stages) || json_array_size(stages) == 0)
            return fl_fail(err, FL_EINVAL, fl_json_path(f, sizeof f, pp, "stages"), "%s: missing or empty", f);
        size_t ns = json_array_size(stages);
        fl_shard proto[256];
        if (ns > 256)
            return fl_fail(err, FL_EINVAL, fl_json_path(f, sizeof f, pp, "stages"), "%s: more than 256 stages", f);
        int expect = 0;
        for (size_t si = 0; si < ns; si++) {
            json_t *st = json_array_get(stages, si);
            char sp[200];
            snprintf(sp, sizeof sp, "%s.stages[%zu]", pp, si);
            memset(&proto[si], 0, sizeof proto[si]);
            if (!json_is_object(st))
                return fl_fail(err, FL_EINVAL, sp, "%s: expected an object", sp);
            if ((rc = read_target(cat, st, sp, &proto[si], err)))
                return rc;
            json_t *lr = json_object_get(st, "layers");
            if (!json_is_array(lr) || json_array_size(lr) != 2 || !json_is_integer(json_array_get(lr, 0)) ||
                !json_is_integer(json_array_get(lr, 1)))
                return fl_fail(err, FL_EINVAL, fl_json_path(f, sizeof f, sp, "layers"),
                               "%s: expected [first, last) as two integers", f);
            long a = (long)json_integer_value(json_array_get(lr, 0)), b = (long)json_integer_value(json_array_get(lr, 1));
            if (a != expect || b <= a || b > layers)
                return fl_fail(err, FL_EINVAL, fl_json_path(f, sizeof f, sp, "layers"),
                               "%s: [%ld, %ld) does not continue the previous stage at layer %d within %d layers", f,
                               a, b, expect, layers);
            expect = (int)b;
            proto[si].first = (int)a;
            proto[si].last = (int)b;
            proto[si].embed = si == 0;
            proto[si].stage = (int)si;
        }
        if (expect != layers)
            return fl_fail(err, FL_EINVAL, fl_json_path(f, sizeof f, pp, "stages"),
                           "%s: the stages cover layers [0, %d) of %d", f, expect, layers);
        proto[ns - 1].head = 1;
        for (int r = 0; r < replicas; r++)
            for (size_t si = 0; si < ns; si++) {
                fl_shard sh = proto[si];
                sh.pipeline = (int)p;
                sh.replica = r;
                sh.node = -1;
                sh.bytes = shard_bytes(s, &sh);
                if ((rc = push(s, &cap, &sh, err)))
                    return rc;
            }
    }
    return FL_OK;
}

static fl_status read_serving(const fl_catalog *cat, json_t *doc, const char *path, int layers, fl_shard_set *s,
                              fl_error *err)
{
    char p0[128];
    snprintf(p0, sizeof p0, "%s.replicas", path);
    json_t *reps = json_object_get(doc, "replicas");
    if (!json_is_array(reps) || json_array_size(reps) == 0)
        return fl_fail(err, FL_EINVAL, p0, "%s: missing or empty", p0);
    size_t cap = 0, i;
    json_t *rep;
    json_array_foreach(reps, i, rep) {
        char rp[160];
        snprintf(rp, sizeof rp, "%s[%zu]", p0, i);
        if (!json_is_object(rep))
            return fl_fail(err, FL_EINVAL, rp, "%s: expected an object", rp);
        fl_shard proto;
        memset(&proto, 0, sizeof proto);
        int pp = 1, count = 1;
        fl_status rc;
        if ((rc = read_target(cat, rep, rp, &proto, err)) || (rc = fl_json_int(rep, rp, "pp", 1, layers, &pp, err)) ||
            (rc = fl_json_int(rep, rp, "count", 0, 1000000, &count, err)))
            return rc;
        for (int c = 0; c < count; c++)
            for (int st = 0; st < pp; st++) {
                fl_shard sh = proto;
                sh.pipeline = (int)i;
                sh.replica = c;
                sh.stage = st;
                sh.first = (int)((long)st * layers / pp);
                sh.last = (int)((long)(st + 1) * layers / pp);
                sh.embed = st == 0;
                sh.head = st == pp - 1;
                sh.node = -1;
                sh.bytes = shard_bytes(s, &sh);
                if ((rc = push(s, &cap, &sh, err)))
                    return rc;
            }
    }
    return FL_OK;
}

fl_status fl_shards_from_doc(const fl_catalog *cat, json_t *doc, const char *path, const fl_place_options *opts,
                             fl_shard_set *out, fl_error *err)
{
    memset(out, 0, sizeof *out);
    char f[160];
    const char *kind = json_string_value(json_object_get(doc, "kind"));
    if (kind && strcasecmp(kind, "training") == 0)
        out->kind = FL_JOB_TRAINING;
    else if (kind && strcasecmp(kind, "serving") == 0)
        out->kind = FL_JOB_SERVING;
    else
        return fl_fail(err, FL_EINVAL, fl_json_path(f, sizeof f, path, "kind"),
                       "%s: missing or not \"training\"/\"serving\"", f);
    json_t *job = json_object_get(doc, "job");
    json_t *mv = json_object_get(doc, "model");
    const char *mpath = fl_json_path(f, sizeof f, path, "model");
    char jp[160];
    if (!mv && json_is_object(job)) {
        mv = json_object_get(job, "model");
        mpath = fl_json_path(jp, sizeof jp, path, "job.model");
    }
    fl_model m;
    int idx;
    fl_status rc = fl_model_from_json(cat, mv, mpath, &m, &out->model_name, &idx, err);
    if (rc) {
        free(out->model_name);
        out->model_name = NULL;
        return rc;
    }
    double bpp = opts->train_bytes_per_param;
    if (out->kind == FL_JOB_SERVING) {
        const char *dt = json_string_value(json_object_get(json_object_get(job, "precision"), "compute"));
        int d = dt ? fl_dtype_parse(dt) : -1;
        bpp = d >= 0 ? fl_dtype_bytes((fl_dtype)d) : 2.0;
    }
    double emb, head, layer;
    model_split(&m, &emb, &head, &layer);
    out->layer_bytes = layer * bpp;
    out->embed_bytes = emb * bpp;
    out->head_bytes = head * bpp;
    rc = out->kind == FL_JOB_TRAINING ? read_training(cat, doc, path, m.layers, out, err)
                                      : read_serving(cat, doc, path, m.layers, out, err);
    if (rc)
        fl_shard_set_free(out);
    return rc;
}

double fl_shard_overlap_bytes(const fl_shard_set *ns, const fl_shard *a, const fl_shard_set *os, const fl_shard *b)
{
    if (a->gpu != b->gpu || a->tp != b->tp || strcasecmp(ns->model_name, os->model_name) != 0 ||
        ns->kind != os->kind)
        return 0.0;
    int lo = a->first > b->first ? a->first : b->first;
    int hi = a->last < b->last ? a->last : b->last;
    double k = hi > lo ? (hi - lo) * ns->layer_bytes : 0.0;
    if (a->embed && b->embed)
        k += ns->embed_bytes;
    if (a->head && b->head)
        k += ns->head_bytes;
    return k;
}

/* Shard with identity (p, r, s), searching from `hint`; -1 when absent. */
static long find_shard(const fl_shard_set *s, long p, long r, long st, size_t hint)
{
    for (size_t k = 0; k < s->n; k++) {
        size_t i = (hint + k) % s->n;
        if (s->v[i].pipeline == p && s->v[i].replica == r && s->v[i].stage == st)
            return (long)i;
    }
    return -1;
}

fl_status fl_shards_read_placement(json_t *doc, const char *path, const fl_nodes *nodes, int strict,
                                   fl_shard_set *s, fl_error *err)
{
    char p0[128], f[200];
    snprintf(p0, sizeof p0, "%s.placement", path);
    json_t *pl = json_object_get(doc, "placement");
    if (!json_is_array(pl))
        return fl_fail(err, FL_EINVAL, p0, "%s: %s", p0,
                       pl ? "expected an array of {node, gpus, pipeline, replica, stage}"
                          : "missing (the current plan has not been placed)");
    size_t k;
    json_t *e;
    json_array_foreach(pl, k, e) {
        char ep[160];
        snprintf(ep, sizeof ep, "%s[%zu]", p0, k);
        int p = -1, r = -1, st = -1;
        const char *node = NULL;
        fl_status rc;
        if (!json_is_object(e))
            return fl_fail(err, FL_EINVAL, ep, "%s: expected an object", ep);
        if ((rc = fl_json_req_int(e, ep, "pipeline", 0, 1000000, &p, err)) ||
            (rc = fl_json_req_int(e, ep, "replica", 0, 1000000, &r, err)) ||
            (rc = fl_json_req_int(e, ep, "stage", 0, 1000000, &st, err)) || (rc = fl_json_str(e, ep, "node", &node, err)))
            return rc;
        long i = find_shard(s, p, r, st, k);
        if (i < 0)
            return fl_fail(err, FL_ENOTFOUND, ep, "%s: no shard pipeline %d replica %d stage %d in that plan", ep, p,
                           r, st);
        fl_shard *sh = &s->v[i];
        if (sh->node >= 0 || sh->mask)
            return fl_fail(err, FL_EINVAL, ep, "%s: shard pipeline %d replica %d stage %d placed twice", ep, p, r, st);
        int ni = fl_nodes_find(nodes, node);
        if (!node || (ni < 0 && strict))
            return fl_fail(err, FL_ENOTFOUND, fl_json_path(f, sizeof f, ep, "node"), "%s: unknown node '%s'", f,
                           node ? node : "(missing)");
        json_t *g = json_object_get(e, "gpus");
        if (!json_is_array(g) || (int)json_array_size(g) != sh->tp)
            return fl_fail(err, FL_EINVAL, fl_json_path(f, sizeof f, ep, "gpus"),
                           "%s: expected %d GPU indexes (the shard's tp)", f, sh->tp);
        uint64_t mask = 0;
        int limit = ni >= 0 ? nodes->v[ni].gpus : FL_NODE_MAX_GPUS;
        for (size_t j = 0; j < json_array_size(g); j++) {
            json_t *x = json_array_get(g, j);
            long gi = json_is_integer(x) ? (long)json_integer_value(x) : -1;
            if (!json_is_integer(x) || gi < 0 || gi >= limit || (mask >> gi) & 1) {
                fl_json_path(f, sizeof f, ep, "gpus");
                if (json_is_integer(x) && gi >= 0 && gi < limit)
                    return fl_fail(err, FL_EINVAL, f, "%s[%zu]: GPU %ld is listed twice", f, j, gi);
                if (!json_is_integer(x))
                    return fl_fail(err, FL_EINVAL, f, "%s[%zu]: expected a GPU index (a whole number)", f, j);
                return fl_fail(err, FL_EINVAL, f, "%s[%zu]: GPU index %lld is outside the node's GPUs [0, %d)", f, j,
                               (long long)json_integer_value(x), limit);
            }
            mask |= (uint64_t)1 << gi;
        }
        if (ni >= 0) {
            if (nodes->v[ni].gpu != sh->gpu || nodes->v[ni].zone != sh->zone)
                return fl_fail(err, FL_EINVAL, fl_json_path(f, sizeof f, ep, "node"),
                               "%s: node '%s' does not have the shard's GPU type and zone", f, node);
            for (size_t o = 0; o < s->n; o++)
                if (s->v[o].node == ni && (s->v[o].mask & mask))
                    return fl_fail(err, FL_EINVAL, fl_json_path(f, sizeof f, ep, "gpus"),
                                   "%s: GPUs of node '%s' already used by another shard", f, node);
        }
        sh->node = ni;
        sh->mask = mask;
    }
    return FL_OK;
}
