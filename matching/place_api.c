/* matching/place_api.c — the public placement API (fl_place, fl_place_json, packing) and the
 * placement report; also fl_place_against, used by replanning and what-if. */
#include "matching/place_internal.h"
#include "common/error.h"
#include "common/json_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct fl_place_report {
    fl_place_summary sum;
    json_t *nodes;   /* [{"node","gpus","used","free"}] */
};

void fl_place_options_init(fl_place_options *opts)
{
    if (!opts)
        return;
    memset(opts, 0, sizeof *opts);
    opts->version = FL_PLACE_OPTIONS_VERSION;
    opts->restart_s = 120.0;
    opts->train_bytes_per_param = 16.0;
    opts->max_candidates = 16;
}

void fl_place_report_free(fl_place_report *r)
{
    if (!r)
        return;
    json_decref(r->nodes);
    free(r);
}

fl_status fl_place_report_get_summary(const fl_place_report *r, fl_place_summary *out, fl_error *err)
{
    if (!r || !out)
        return fl_fail(err, FL_EMISUSE, "report", "fl_place_report_get_summary: NULL argument");
    *out = r->sum;
    return FL_OK;
}

char *fl_place_report_to_json(const fl_place_report *r, int pretty)
{
    if (!r)
        return NULL;
    const fl_place_summary *s = &r->sum;
    json_t *o = json_pack("{s:i, s:i, s:i, s:i, s:f, s:f, s:f, s:i, s:i, s:i, s:i, s:O}", "plans", s->plans, "shards",
                          s->shards, "shards_kept", s->shards_kept, "shards_moved", s->shards_moved, "bytes_moved",
                          s->bytes_moved, "migration_s", s->migration_s, "migration_cost", s->migration_cost,
                          "gpus_used", s->gpus_used, "gpus_free", s->gpus_free, "nodes_used", s->nodes_used,
                          "nodes_partial", s->nodes_partial, "nodes", r->nodes);
    char *t = fl_json_dump(o, pretty);
    json_decref(o);
    return t;
}

static int bits(uint64_t m)
{
    int c = 0;
    for (; m; m &= m - 1)
        c++;
    return c;
}

static double doc_gpus(json_t *doc)
{
    json_t *res = json_object_get(doc, "resources"), *r;
    size_t i;
    double g = 0;
    json_array_foreach(res, i, r)
        g += json_number_value(json_object_get(r, "gpus_per_instance")) * json_number_value(json_object_get(r, "instances"));
    return g;
}

/* Place docs[0..n) in place (documents are modified only when everything succeeds: the caller
 * passes copies). cur_doc only with n == 1. */
static fl_status place_docs(const fl_catalog *cat, json_t **docs, size_t n, const fl_nodes *nodes, json_t *cur_doc,
                            const fl_place_options *opts, fl_place_report **report, fl_error *err)
{
    fl_place_options dflt;
    if (!opts) {
        fl_place_options_init(&dflt);
        opts = &dflt;
    }
    fl_status vrc = fl_check_version(opts->version, FL_PLACE_OPTIONS_VERSION, "fl_place_options", err);
    if (vrc)
        return vrc;
    fl_place_state st = {cat, nodes, calloc(nodes->n + 1, sizeof(uint64_t)), *opts};
    size_t *ord = malloc((n ? n : 1) * sizeof *ord);
    fl_shard_set *sets = calloc(n ? n : 1, sizeof *sets);
    fl_shard_set old;
    memset(&old, 0, sizeof old);
    fl_migration mig;
    memset(&mig, 0, sizeof mig);
    fl_place_report *rep = calloc(1, sizeof *rep);
    fl_status rc = FL_OK;
    if (!st.used || !ord || !sets || !rep) {
        rc = fl_fail(err, FL_ENOMEM, "placement", "out of memory");
        goto done;
    }
    /* largest plan first (packing) */
    for (size_t i = 0; i < n; i++)
        ord[i] = i;
    for (size_t i = 1; i < n; i++)
        for (size_t j = i; j > 0 && doc_gpus(docs[ord[j]]) > doc_gpus(docs[ord[j - 1]]); j--) {
            size_t t = ord[j];
            ord[j] = ord[j - 1];
            ord[j - 1] = t;
        }
    if (cur_doc) {
        if ((rc = fl_shards_from_doc(cat, cur_doc, "current", opts, &old, err)) ||
            (rc = fl_shards_read_placement(cur_doc, "current", nodes, opts->strict_nodes, &old, err)))
            goto done;
    }
    for (size_t k = 0; k < n && !rc; k++) {
        size_t i = ord[k];
        char path[32];
        if (n == 1)
            snprintf(path, sizeof path, "plan");
        else
            snprintf(path, sizeof path, "plans[%zu]", i);
        if ((rc = fl_shards_from_doc(cat, docs[i], path, opts, &sets[i], err)))
            break;
        if ((rc = fl_place_shards(&st, &sets[i], cur_doc ? &old : NULL, err))) {
            if (n > 1)
                fl_error_prefix_field(err, path);
            break;
        }
    }
    if (rc)
        goto done;
    if (cur_doc)
        fl_migration_estimate(cat, nodes, &sets[0], &old, opts, &mig);
    for (size_t i = 0; i < n && !rc; i++)
        rc = fl_place_write_doc(docs[i], nodes, &sets[i], cur_doc ? &mig : NULL, err);
    if (rc)
        goto done;
    rep->sum.plans = (int)n;
    for (size_t i = 0; i < n; i++)
        rep->sum.shards += (int)sets[i].n;
    if (cur_doc) {
        rep->sum.shards_kept = mig.shards_kept;
        rep->sum.shards_moved = mig.shards_moved;
        rep->sum.bytes_moved = mig.bytes_moved;
        rep->sum.migration_s = mig.migration_s;
        rep->sum.migration_cost = mig.migration_cost;
    }
    rep->nodes = json_array();
    for (size_t i = 0; i < nodes->n; i++) {
        int u = bits(st.used[i]), g = nodes->v[i].gpus;
        rep->sum.gpus_used += u;
        rep->sum.gpus_free += g - u;
        rep->sum.nodes_used += u > 0;
        rep->sum.nodes_partial += u > 0 && u < g;
        json_array_append_new(rep->nodes, json_pack("{s:s, s:i, s:i, s:i}", "node", nodes->v[i].id, "gpus", g,
                                                    "used", u, "free", g - u));
    }
done:
    for (size_t i = 0; sets && i < n; i++)
        fl_shard_set_free(&sets[i]);
    fl_shard_set_free(&old);
    free(sets);
    free(ord);
    free(st.used);
    if (rc || !report)
        fl_place_report_free(rep);
    else
        *report = rep;
    return rc;
}

static fl_status check_args(const fl_catalog *cat, const void *plan, const fl_nodes *nodes, fl_error *err)
{
    if (!cat || !plan || !nodes)
        return fl_fail(err, FL_EMISUSE, !cat ? "catalog" : !plan ? "plan" : "nodes", "placement: NULL argument");
    if (nodes->cat != cat)
        return fl_fail(err, FL_EMISUSE, "nodes", "placement: the nodes were read against another catalog");
    return FL_OK;
}

static fl_status parse_current(const char *current_json, json_t **cur, fl_error *err)
{
    *cur = NULL;
    if (!current_json)
        return FL_OK;
    fl_status rc = fl_json_parse_object(current_json, "current", cur, err);
    return rc;
}

fl_status fl_place(const fl_catalog *cat, fl_plan *plan, const fl_nodes *nodes, const char *current_json,
                   const fl_place_options *opts, fl_place_report **report, fl_error *err)
{
    if (report)
        *report = NULL;
    fl_status rc = check_args(cat, plan, nodes, err);
    if (rc)
        return rc;
    json_t *cur, *copy = json_deep_copy(plan->doc);
    if (!copy)
        return fl_fail(err, FL_ENOMEM, "plan", "out of memory");
    if ((rc = parse_current(current_json, &cur, err))) {
        json_decref(copy);
        return rc;
    }
    rc = place_docs(cat, &copy, 1, nodes, cur, opts, report, err);
    json_decref(cur);
    if (rc) {
        json_decref(copy);
        return rc;
    }
    json_decref(plan->doc);
    plan->doc = copy;
    return FL_OK;
}

fl_status fl_place_json(const fl_catalog *cat, const char *plan_json, const fl_nodes *nodes, const char *current_json,
                        const fl_place_options *opts, char **placed_json, fl_place_report **report, fl_error *err)
{
    if (report)
        *report = NULL;
    if (!placed_json)
        return fl_fail(err, FL_EMISUSE, "placed_json", "fl_place_json: placed_json is NULL");
    *placed_json = NULL;
    fl_status rc = check_args(cat, plan_json, nodes, err);
    if (rc)
        return rc;
    json_t *doc, *cur;
    if ((rc = fl_json_parse_object(plan_json, "plan", &doc, err)))
        return rc;
    if ((rc = parse_current(current_json, &cur, err))) {
        json_decref(doc);
        return rc;
    }
    rc = place_docs(cat, &doc, 1, nodes, cur, opts, report, err);
    json_decref(cur);
    if (!rc) {
        *placed_json = fl_json_dump(doc, 1);
        if (!*placed_json) {
            rc = fl_fail(err, FL_ENOMEM, "plan", "out of memory");
            if (report) {
                fl_place_report_free(*report);
                *report = NULL;
            }
        }
    }
    json_decref(doc);
    return rc;
}

fl_status fl_place_pack_json(const fl_catalog *cat, const char *const *plan_jsons, size_t n_plans,
                             const fl_nodes *nodes, const fl_place_options *opts, char ***placed_json,
                             fl_place_report **report, fl_error *err)
{
    if (report)
        *report = NULL;
    if (!placed_json)
        return fl_fail(err, FL_EMISUSE, "placed_json", "fl_place_pack_json: placed_json is NULL");
    *placed_json = NULL;
    fl_status rc = check_args(cat, plan_jsons, nodes, err);
    if (rc)
        return rc;
    if (n_plans == 0)
        return fl_fail(err, FL_EINVAL, "plans", "packing needs at least one plan");
    json_t **docs = calloc(n_plans, sizeof *docs);
    char **outs = calloc(n_plans, sizeof *outs);
    if (!docs || !outs) {
        free(docs);
        free(outs);
        return fl_fail(err, FL_ENOMEM, "plans", "out of memory");
    }
    for (size_t i = 0; i < n_plans && !rc; i++) {
        char what[32];
        snprintf(what, sizeof what, "plans[%zu]", i);
        rc = plan_jsons[i] ? fl_json_parse_object(plan_jsons[i], what, &docs[i], err)
                           : fl_fail(err, FL_EMISUSE, what, "%s is NULL", what);
    }
    if (!rc)
        rc = place_docs(cat, docs, n_plans, nodes, NULL, opts, report, err);
    for (size_t i = 0; i < n_plans && !rc; i++)
        if (!(outs[i] = fl_json_dump(docs[i], 1)))
            rc = fl_fail(err, FL_ENOMEM, "plans", "out of memory");
    for (size_t i = 0; i < n_plans; i++) {
        json_decref(docs[i]);
        if (rc)
            free(outs[i]);
    }
    free(docs);
    if (rc) {
        free(outs);
        if (report) {
            fl_place_report_free(*report);
            *report = NULL;
        }
        return rc;
    }
    *placed_json = outs;
    return FL_OK;
}

fl_status fl_place_against(const fl_catalog *cat, json_t *new_doc, json_t *current_doc, const fl_place_options *opts,
                           fl_migration *mig, fl_error *err)
{
    fl_place_options dflt;
    if (!opts) {
        fl_place_options_init(&dflt);
        opts = &dflt;
    }
    memset(mig, 0, sizeof *mig);
    fl_nodes *nodes = NULL;
    fl_status rc = fl_nodes_from_doc(cat, new_doc, &nodes, err);
    if (rc)
        return rc;
    fl_place_state st = {cat, nodes, calloc(nodes->n + 1, sizeof(uint64_t)), *opts};
    fl_shard_set ns, old;
    memset(&ns, 0, sizeof ns);
    memset(&old, 0, sizeof old);
    if (!st.used)
        rc = fl_fail(err, FL_ENOMEM, "placement", "out of memory");
    if (!rc && current_doc) {
        if (!(rc = fl_shards_from_doc(cat, current_doc, "current", opts, &old, err)))
            rc = fl_shards_read_placement(current_doc, "current", nodes, 0, &old, err);
    }
    if (!rc)
        rc = fl_shards_from_doc(cat, new_doc, "plan", opts, &ns, err);
    if (!rc)
        rc = fl_place_shards(&st, &ns, current_doc ? &old : NULL, err);
    if (!rc) {
        fl_migration_estimate(cat, nodes, &ns, current_doc ? &old : NULL, opts, mig);
        rc = fl_place_write_doc(new_doc, nodes, &ns, current_doc ? mig : NULL, err);
    }
    fl_shard_set_free(&ns);
    fl_shard_set_free(&old);
    free(st.used);
    fl_nodes_free(nodes);
    return rc;
}
