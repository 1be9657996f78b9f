/* matching/nodes.c — node inventories: from NODES.json, from the catalog's on-prem nodes and from
 * a plan's rented resources; JSON out. */
#include "matching/place_internal.h"
#include "common/error.h"
#include "common/json_util.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void fl_nodes_free(fl_nodes *nodes)
{
    if (!nodes)
        return;
    for (size_t i = 0; i < nodes->n; i++)
        free(nodes->v[i].id);
    free(nodes->v);
    free(nodes->slot);
    free(nodes);
}

size_t fl_nodes_count(const fl_nodes *nodes) { return nodes ? nodes->n : 0; }

/* FNV-1a of a node id (for the id index). */
static size_t id_hash(const char *id)
{
    uint64_t h = 1469598103934665603ull;
    for (const unsigned char *p = (const unsigned char *)id; *p; p++)
        h = (h ^ *p) * 1099511628211ull;
    return (size_t)(h ^ (h >> 29));
}

/* The index slot holding id, or the empty slot where it would go. */
static size_t id_slot(const fl_nodes *nodes, const char *id)
{
    size_t mask = nodes->n_slots - 1, h = id_hash(id) & mask;
    while (nodes->slot[h] && strcmp(nodes->v[nodes->slot[h] - 1].id, id) != 0)
        h = (h + 1) & mask;
    return h;
}

int fl_nodes_find(const fl_nodes *nodes, const char *id)
{
    if (!nodes || !id || !nodes->n_slots)
        return -1;
    size_t s = nodes->slot[id_slot(nodes, id)];
    return s ? (int)(s - 1) : -1;
}

/* An inventory with room for cap nodes (v never grows: callers count first). */
static fl_nodes *nodes_alloc(const fl_catalog *cat, size_t cap)
{
    fl_nodes *n = calloc(1, sizeof *n);
    if (!n)
        return NULL;
    n->cat = cat;
    n->n_slots = 16;
    while (n->n_slots < 2 * (cap ? cap : 1))
        n->n_slots *= 2;
    n->v = calloc(cap ? cap : 1, sizeof *n->v);
    n->slot = calloc(n->n_slots, sizeof *n->slot);
    if (!n->v || !n->slot) {
        free(n->v);
        free(n->slot);
        free(n);
        return NULL;
    }
    return n;
}

/* Append one node after validating it; `path` names it in errors. */
static fl_status nodes_add(fl_nodes *n, const char *path, const char *id, int zone, int gpu, int gpus, int domain,
                           fl_error *err)
{
    char f[160];
    if (!id || !*id)
        return fl_fail(err, FL_EINVAL, fl_json_path(f, sizeof f, path, "id"), "%s: missing node id", f);
    size_t slot = id_slot(n, id); /* hashed: a million nodes are checked in linear time */
    if (n->slot[slot]) {
        size_t first = n->slot[slot] - 1;
        return fl_fail(err, FL_EINVAL, fl_json_path(f, sizeof f, path, "id"),
                       "%s: duplicate node id '%s' (also node %zu)", f, id, first);
    }
    if (gpus < 1 || gpus > FL_NODE_MAX_GPUS)
        return fl_fail(err, FL_EINVAL, fl_json_path(f, sizeof f, path, "gpus"), "%s: %d GPUs (must be 1..%d)", f,
                       gpus, FL_NODE_MAX_GPUS);
    if (domain < 1 || domain > gpus)
        domain = gpus;
    fl_node_rec *r = &n->v[n->n];
    r->id = strdup(id);
    if (!r->id)
        return fl_fail(err, FL_ENOMEM, path, "out of memory");
    r->zone = zone;
    r->gpu = gpu;
    r->gpus = gpus;
    r->domain = domain;
    n->slot[slot] = ++n->n;
    return FL_OK;
}

fl_status fl_nodes_from_json(const fl_catalog *cat, const char *json, fl_nodes **out, fl_error *err)
{
    if (!out)
        return fl_fail(err, FL_EMISUSE, "out", "fl_nodes_from_json: out is NULL");
    *out = NULL;
    if (!cat || !json)
        return fl_fail(err, FL_EMISUSE, "nodes", "fl_nodes_from_json: NULL argument");
    json_t *doc;
    fl_status rc = fl_json_parse_object(json, "nodes", &doc, err);
    if (rc)
        return rc;
    json_t *arr = json_object_get(doc, "nodes");
    if (!json_is_array(arr)) {
        json_decref(doc);
        return fl_fail(err, FL_EINVAL, "nodes", "nodes: expected {\"nodes\": [...]} with an array");
    }
    fl_nodes *n = nodes_alloc(cat, json_array_size(arr));
    if (!n) {
        json_decref(doc);
        return fl_fail(err, FL_ENOMEM, "nodes", "out of memory");
    }
    size_t i;
    json_t *e;
    json_array_foreach(arr, i, e) {
        char path[64], f[160];
        snprintf(path, sizeof path, "nodes[%zu]", i);
        if (!json_is_object(e)) {
            rc = fl_fail(err, FL_EINVAL, path, "%s: expected an object", path);
            break;
        }
        const char *id = NULL, *zone = NULL, *gpu = NULL;
        int gpus = 0, domain = 0;
        if ((rc = fl_json_str(e, path, "id", &id, err)) || (rc = fl_json_str(e, path, "zone", &zone, err)) ||
            (rc = fl_json_str(e, path, "gpu", &gpu, err)) ||
            (rc = fl_json_req_int(e, path, "gpus", 1, FL_NODE_MAX_GPUS, &gpus, err)) ||
            (rc = fl_json_int(e, path, "nvlink_domain", 1, FL_NODE_MAX_GPUS, &domain, err)))
            break;
        if (!zone) {
            rc = fl_fail(err, FL_EINVAL, fl_json_path(f, sizeof f, path, "zone"), "%s: missing", f);
            break;
        }
        if (!gpu) {
            rc = fl_fail(err, FL_EINVAL, fl_json_path(f, sizeof f, path, "gpu"), "%s: missing", f);
            break;
        }
        int zi = fl_catalog_find_zone(cat, zone, fl_json_path(f, sizeof f, path, "zone"), err);
        if (zi < 0) {
            rc = err ? err->code : FL_ENOTFOUND;
            break;
        }
        int gi = fl_catalog_find_gpu(cat, gpu, fl_json_path(f, sizeof f, path, "gpu"), err);
        if (gi < 0) {
            rc = err ? err->code : FL_ENOTFOUND;
            break;
        }
        if ((rc = nodes_add(n, path, id, zi, gi, gpus, domain, err)))
            break;
    }
    json_decref(doc);
    if (rc) {
        fl_nodes_free(n);
        return rc ? rc : FL_ENOTFOUND;
    }
    *out = n;
    return FL_OK;
}

fl_status fl_nodes_from_catalog(const fl_catalog *cat, fl_nodes **out, fl_error *err)
{
    if (!out || !cat)
        return fl_fail(err, FL_EMISUSE, "nodes", "fl_nodes_from_catalog: NULL argument");
    *out = NULL;
    size_t cnt = fl_catalog_node_count(cat);
    if (cnt == 0)
        return fl_fail(err, FL_ENOTFOUND, "nodes",
                       "the catalog has no on-prem nodes (import them with `profiles import --nvidia-smi`)");
    fl_nodes *n = nodes_alloc(cat, cnt);
    if (!n)
        return fl_fail(err, FL_ENOMEM, "nodes", "out of memory");
    for (size_t i = 0; i < cnt; i++) {
        const fl_node *c = fl_catalog_node(cat, i);
        char path[64];
        snprintf(path, sizeof path, "catalog.nodes[%zu]", i);
        if (c->gpu_index < 0 || c->zone_index < 0) {
            fl_nodes_free(n);
            return fl_fail(err, FL_ENOTFOUND, path, "%s: node '%s' has an unknown GPU or zone", path, c->name);
        }
        fl_status rc = nodes_add(n, path, c->name, c->zone_index, c->gpu_index, c->gpu_count, c->gpu_count, err);
        if (rc) {
            fl_nodes_free(n);
            return rc;
        }
    }
    *out = n;
    return FL_OK;
}

fl_status fl_nodes_from_doc(const fl_catalog *cat, json_t *doc, fl_nodes **out, fl_error *err)
{
    *out = NULL;
    json_t *res = json_object_get(doc, "resources");
    if (!json_is_array(res))
        return fl_fail(err, FL_EINVAL, "plan.resources", "plan.resources: missing (needed to synthesize nodes)");
    size_t total = 0, i;
    json_t *r;
    json_array_foreach(res, i, r) {
        json_t *k = json_object_get(r, "instances");
        if (json_is_integer(k) && json_integer_value(k) > 0 && json_integer_value(k) < 100000)
            total += (size_t)json_integer_value(k);
    }
    fl_nodes *n = nodes_alloc(cat, total);
    if (!n)
        return fl_fail(err, FL_ENOMEM, "plan.resources", "out of memory");
    fl_status rc = FL_OK;
    json_array_foreach(res, i, r) {
        char path[64], f[160];
        snprintf(path, sizeof path, "plan.resources[%zu]", i);
        const char *zone = NULL, *gpu = NULL, *type = NULL;
        int per = 0, inst = 0;
        if ((rc = fl_json_str(r, path, "zone", &zone, err)) || (rc = fl_json_str(r, path, "gpu", &gpu, err)) ||
            (rc = fl_json_str(r, path, "instance_type", &type, err)) ||
            (rc = fl_json_req_int(r, path, "gpus_per_instance", 1, FL_NODE_MAX_GPUS, &per, err)) ||
            (rc = fl_json_req_int(r, path, "instances", 0, 99999, &inst, err)))
            break;
        if (!zone || !gpu) {
            rc = fl_fail(err, FL_EINVAL, fl_json_path(f, sizeof f, path, !zone ? "zone" : "gpu"), "%s: missing", f);
            break;
        }
        int zi = fl_catalog_find_zone(cat, zone, fl_json_path(f, sizeof f, path, "zone"), err);
        int gi = zi < 0 ? -1 : fl_catalog_find_gpu(cat, gpu, fl_json_path(f, sizeof f, path, "gpu"), err);
        if (zi < 0 || gi < 0) {
            rc = err ? err->code : FL_ENOTFOUND;
            break;
        }
        char prefix[200];
        snprintf(prefix, sizeof prefix, "%s/%s", fl_catalog_zone(cat, (size_t)zi)->name, type ? type : gpu);
        /* continue numbering when several rows share zone and instance type (spot + on-demand) */
        int base = 0;
        for (size_t j = 0; j < n->n; j++)
            if (strncmp(n->v[j].id, prefix, strlen(prefix)) == 0 && n->v[j].id[strlen(prefix)] == '/')
                base++;
        for (int k = 0; k < inst && !rc; k++) {
            char id[240];
            snprintf(id, sizeof id, "%s/%d", prefix, base + k);
            rc = nodes_add(n, path, id, zi, gi, per, per, err);
        }
        if (rc)
            break;
    }
    if (rc) {
        fl_nodes_free(n);
        return rc;
    }
    *out = n;
    return FL_OK;
}

fl_status fl_nodes_from_plan_json(const fl_catalog *cat, const char *plan_json, fl_nodes **out, fl_error *err)
{
    if (!out)
        return fl_fail(err, FL_EMISUSE, "out", "fl_nodes_from_plan_json: out is NULL");
    *out = NULL;
    if (!cat || !plan_json)
        return fl_fail(err, FL_EMISUSE, "plan", "fl_nodes_from_plan_json: NULL argument");
    json_t *doc;
    fl_status rc = fl_json_parse_object(plan_json, "plan", &doc, err);
    if (rc)
        return rc;
    rc = fl_nodes_from_doc(cat, doc, out, err);
    json_decref(doc);
    return rc;
}

char *fl_nodes_to_json(const fl_nodes *nodes)
{
    if (!nodes)
        return NULL;
    json_t *arr = json_array();
    for (size_t i = 0; i < nodes->n; i++) {
        const fl_node_rec *r = &nodes->v[i];
        json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:i, s:i}", "id", r->id, "zone",
                                             fl_catalog_zone(nodes->cat, (size_t)r->zone)->name, "gpu",
                                             fl_catalog_gpu(nodes->cat, (size_t)r->gpu)->name, "gpus", r->gpus,
                                             "nvlink_domain", r->domain));
    }
    json_t *doc = json_pack("{s:o}", "nodes", arr);
    char *s = fl_json_dump(doc, 1);
    json_decref(doc);
    return s;
}
