/* tests/matching/test_place.c — placement by graph matching: constraints on random instances,
 * optimality against a brute force on small ones, migration figures, packing, bad input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "flotilla/flotilla.h"
#include "matching/place_internal.h"
#include "tests/common/testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static fl_catalog *cat;

static int setup(void **state)
{
    (void)state;
    fl_error err;
    return fl_catalog_open(NULL, &cat, &err) == FL_OK ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    fl_catalog_free(cat);
    return 0;
}

static char *slurp(const char *name)
{
    FILE *f = fopen(test_data(name), "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
    b[n] = 0;
    fclose(f);
    return b;
}

/* Deterministic generator (tests must be reproducible). */
static uint64_t rng = 0x9E3779B97F4A7C15ull;
static int rnd(int n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (int)(rng % (uint64_t)n);
}

/* Check every placement constraint of a placed document against its nodes. */
static void check_constraints(json_t *doc, const char *nodes_json)
{
    json_t *nd = json_loads(nodes_json, 0, NULL);
    assert_non_null(nd);
    fl_place_options o;
    fl_place_options_init(&o);
    fl_shard_set s;
    fl_error err;
    assert_int_equal(fl_shards_from_doc(cat, doc, "plan", &o, &s, &err), FL_OK);
    json_t *pl = json_object_get(doc, "placement");
    assert_int_equal(json_array_size(pl), s.n);
    size_t nn = json_array_size(json_object_get(nd, "nodes"));
    uint64_t *used = calloc(nn, sizeof *used);
    for (size_t i = 0; i < s.n; i++) {
        json_t *e = json_array_get(pl, i);
        const char *node = json_string_value(json_object_get(e, "node"));
        size_t k;
        json_t *n, *hit = NULL;
        size_t hi = 0;
        json_array_foreach(json_object_get(nd, "nodes"), k, n)
            if (strcmp(json_string_value(json_object_get(n, "id")), node) == 0) {
                hit = n;
                hi = k;
            }
        assert_non_null(hit);
        const fl_shard *sh = &s.v[i];
        assert_int_equal(json_integer_value(json_object_get(e, "pipeline")), sh->pipeline);
        assert_int_equal(json_integer_value(json_object_get(e, "stage")), sh->stage);
        assert_int_equal(fl_catalog_find_gpu(cat, json_string_value(json_object_get(hit, "gpu")), "g", NULL), sh->gpu);
        assert_int_equal(fl_catalog_find_zone(cat, json_string_value(json_object_get(hit, "zone")), "z", NULL), sh->zone);
        int gpus = (int)json_integer_value(json_object_get(hit, "gpus"));
        json_t *dv = json_object_get(hit, "nvlink_domain");
        int dom = dv ? (int)json_integer_value(dv) : gpus;
        json_t *g = json_object_get(e, "gpus");
        assert_int_equal(json_array_size(g), sh->tp);
        int d0 = -1;
        for (size_t j = 0; j < json_array_size(g); j++) {
            long x = (long)json_integer_value(json_array_get(g, j));
            assert_true(x >= 0 && x < gpus);
            assert_false((used[hi] >> x) & 1); /* never over-committed */
            used[hi] |= (uint64_t)1 << x;
            if (sh->tp <= dom) {
                if (d0 < 0)
                    d0 = (int)(x / dom);
                assert_int_equal(x / dom, d0); /* inside one NVLink domain */
            }
        }
    }
    free(used);
    fl_shard_set_free(&s);
    json_decref(nd);
}

static void test_place_small_end_to_end(void **state)
{
    (void)state;
    char *plan = slurp("plans/place_small.json"), *nodes_json = slurp("plans/place_nodes_small.json"), *out = NULL;
    fl_nodes *nodes;
    fl_error err;
    assert_int_equal(fl_nodes_from_json(cat, nodes_json, &nodes, &err), FL_OK);
    assert_int_equal(fl_nodes_count(nodes), 5);
    fl_place_report *rep;
    assert_int_equal(fl_place_json(cat, plan, nodes, NULL, NULL, &out, &rep, &err), FL_OK);
    json_t *doc = json_loads(out, 0, NULL);
    check_constraints(doc, nodes_json);
    fl_place_summary s;
    assert_int_equal(fl_place_report_get_summary(rep, &s, &err), FL_OK);
    assert_int_equal(s.shards, 5);
    assert_int_equal(s.gpus_used, 4 * 2 + 2 * 2 + 8);
    assert_int_equal(s.nodes_partial, 0); /* both A100 tp-4 shards share one node */
    json_decref(doc);
    fl_free(out);
    fl_place_report_free(rep);
    fl_nodes_free(nodes);
    free(plan);
    free(nodes_json);
}

static void test_serving_and_synthesized_nodes(void **state)
{
    (void)state;
    char *plan = slurp("plans/place_serving.json"), *out = NULL;
    fl_nodes *nodes;
    fl_error err;
    assert_int_equal(fl_nodes_from_plan_json(cat, plan, &nodes, &err), FL_OK);
    assert_int_equal(fl_nodes_count(nodes), 4);
    char *nj = fl_nodes_to_json(nodes);
    assert_int_equal(fl_place_json(cat, plan, nodes, NULL, NULL, &out, NULL, &err), FL_OK);
    json_t *doc = json_loads(out, 0, NULL);
    assert_int_equal(json_array_size(json_object_get(doc, "placement")), 3 + 2);
    check_constraints(doc, nj);
    json_decref(doc);
    fl_free(out);
    fl_free(nj);
    fl_nodes_free(nodes);
    free(plan);
}

/* A one-pipeline training plan of gpt3-1.3b in one zone/GPU type. */
static json_t *make_plan(int replicas, const int *cuts, int n_stages, int tp, int gpus_total, int per_node)
{
    json_t *stages = json_array();
    for (int s = 0; s < n_stages; s++)
        json_array_append_new(stages, json_pack("{s:[i,i], s:s, s:s, s:i}", "layers", cuts[s], cuts[s + 1], "gpu",
                                                "A100-SXM-40GB", "zone", "gcp:us-central1-a", "tp", tp));
    return json_pack("{s:s, s:s, s:[{s:s, s:s, s:s, s:i, s:i}], s:{s:[{s:i, s:o}]}}", "kind", "training", "model",
                     "gpt3-1.3b", "resources", "zone", "gcp:us-central1-a", "instance_type", "x", "gpu",
                     "A100-SXM-40GB", "gpus_per_instance", per_node, "instances", gpus_total / per_node,
                     "parallelism", "pipelines", "replicas", replicas, "stages", stages);
}

static void random_cuts(int n, int *cuts)
{
    cuts[0] = 0;
    cuts[n] = 24;
    for (int s = 1; s < n; s++)
        cuts[s] = cuts[s - 1] + 1 + rnd(24 - cuts[s - 1] - (n - s));
}

typedef struct bf {
    const fl_shard_set *ns, *old;
    int n_blocks;
    int blk_node[16];
    uint64_t blk_mask[16];
    int blk_old[16];
    int used[16];
    double best;
} bf;

static void brute(bf *b, size_t i, double kept)
{
    if (i == b->ns->n) {
        if (kept > b->best)
            b->best = kept;
        return;
    }
    for (int k = 0; k < b->n_blocks; k++) {
        if (b->used[k])
            continue;
        b->used[k] = 1;
        double add = b->blk_old[k] >= 0
                         ? fl_shard_overlap_bytes(b->ns, &b->ns->v[i], b->old, &b->old->v[b->blk_old[k]])
                         : 0.0;
        brute(b, i + 1, kept + add);
        b->used[k] = 0;
    }
}

/* On small instances the matching keeps as many bytes in place as the best of all placements. */
static void test_matching_equals_brute_force(void **state)
{
    (void)state;
    fl_place_options o;
    fl_place_options_init(&o);
    int checked = 0;
    for (int iter = 0; iter < 40; iter++) {
        int tp = 1 + rnd(2), per_node = 4, n_nodes = 2, total = per_node * n_nodes;
        int blocks = total / tp;
        int so = 1 + rnd(3), sn = 1 + rnd(3);
        int ro = 1 + rnd(blocks / so > 0 ? blocks / so : 1), rn = 1 + rnd(blocks / sn > 0 ? blocks / sn : 1);
        if (so * ro > blocks || sn * rn > blocks || sn * rn > 6)
            continue;
        int co[4], cn[4];
        random_cuts(so, co);
        random_cuts(sn, cn);
        json_t *old_doc = make_plan(ro, co, so, tp, total, per_node), *new_doc = make_plan(rn, cn, sn, tp, total, per_node);
        /* current placement: old shards on random distinct aligned blocks */
        int perm[16];
        for (int k = 0; k < blocks; k++)
            perm[k] = k;
        for (int k = blocks - 1; k > 0; k--) {
            int j = rnd(k + 1), t = perm[k];
            perm[k] = perm[j];
            perm[j] = t;
        }
        json_t *pl = json_array();
        int q = 0;
        for (int r = 0; r < ro; r++)
            for (int s = 0; s < so; s++, q++) {
                int blk = perm[q], node = blk / (per_node / tp), off = (blk % (per_node / tp)) * tp;
                char id[64];
                snprintf(id, sizeof id, "gcp:us-central1-a/x/%d", node);
                json_t *g = json_array();
                for (int t = 0; t < tp; t++)
                    json_array_append_new(g, json_integer(off + t));
                json_array_append_new(pl, json_pack("{s:s, s:o, s:i, s:i, s:i}", "node", id, "gpus", g, "pipeline", 0,
                                                    "replica", r, "stage", s));
            }
        json_object_set_new(old_doc, "placement", pl);
        fl_error err;
        fl_nodes *nodes;
        assert_int_equal(fl_nodes_from_doc(cat, new_doc, &nodes, &err), FL_OK);
        fl_shard_set ns, old;
        assert_int_equal(fl_shards_from_doc(cat, new_doc, "plan", &o, &ns, &err), FL_OK);
        assert_int_equal(fl_shards_from_doc(cat, old_doc, "current", &o, &old, &err), FL_OK);
        assert_int_equal(fl_shards_read_placement(old_doc, "current", nodes, 1, &old, &err), FL_OK);
        bf b;
        memset(&b, 0, sizeof b);
        b.ns = &ns;
        b.old = &old;
        b.best = -1;
        for (int n = 0; n < n_nodes; n++)
            for (int off = 0; off + tp <= per_node; off += tp) {
                uint64_t m = ((((uint64_t)1 << tp) - 1) << off);
                b.blk_node[b.n_blocks] = n;
                b.blk_mask[b.n_blocks] = m;
                b.blk_old[b.n_blocks] = -1;
                for (size_t j = 0; j < old.n; j++)
                    if (old.v[j].node == n && old.v[j].mask == m)
                        b.blk_old[b.n_blocks] = (int)j;
                b.n_blocks++;
            }
        brute(&b, 0, 0.0);
        char *cur = json_dumps(old_doc, 0), *pj = json_dumps(new_doc, 0), *out = NULL;
        fl_place_report *rep;
        assert_int_equal(fl_place_json(cat, pj, nodes, cur, &o, &out, &rep, &err), FL_OK);
        fl_place_summary sum;
        fl_place_report_get_summary(rep, &sum, &err);
        double total_bytes = 0;
        for (size_t i = 0; i < ns.n; i++)
            total_bytes += ns.v[i].bytes;
        double best_moved = total_bytes - b.best;
        assert_true(fabs(sum.bytes_moved - best_moved) <= 2e-3 * total_bytes);
        checked++;
        free(cur);
        free(pj);
        fl_free(out);
        fl_place_report_free(rep);
        fl_shard_set_free(&ns);
        fl_shard_set_free(&old);
        fl_nodes_free(nodes);
        json_decref(old_doc);
        json_decref(new_doc);
    }
    assert_true(checked >= 10);
}

/* Random mixed instances (several zones, GPU types, tp sizes, NVLink domains): every constraint
 * holds whenever a placement is returned, and a placement is found when capacity is ample. */
static void test_constraints_random_instances(void **state)
{
    (void)state;
    static const char *zones[] = {"gcp:us-central1-a", "aws:use1-az1"};
    static const char *gpus[] = {"A100-SXM-40GB", "H100-SXM-80GB"};
    for (int iter = 0; iter < 60; iter++) {
        json_t *nodes = json_array();
        int n_nodes = 2 + rnd(6);
        for (int n = 0; n < n_nodes; n++) {
            int g = 1 << rnd(4), z = rnd(2), t = rnd(2);
            char id[32];
            snprintf(id, sizeof id, "n%d", n);
            json_t *nd = json_pack("{s:s, s:s, s:s, s:i}", "id", id, "zone", zones[z], "gpu", gpus[t], "gpus", g);
            if (g >= 4 && rnd(2))
                json_object_set_new(nd, "nvlink_domain", json_integer(g / 2));
            json_array_append_new(nodes, nd);
        }
        json_t *pipes = json_array();
        int n_pipes = 1 + rnd(2);
        for (int p = 0; p < n_pipes; p++) {
            int ns = 1 + rnd(3), cuts[4];
            random_cuts(ns, cuts);
            json_t *stages = json_array();
            for (int s = 0; s < ns; s++)
                json_array_append_new(stages, json_pack("{s:[i,i], s:s, s:s, s:i}", "layers", cuts[s], cuts[s + 1],
                                                        "gpu", gpus[rnd(2)], "zone", zones[rnd(2)], "tp", 1 << rnd(3)));
            json_array_append_new(pipes, json_pack("{s:i, s:o}", "replicas", 1 + rnd(2), "stages", stages));
        }
        json_t *plan = json_pack("{s:s, s:s, s:[], s:{s:o}}", "kind", "training", "model", "gpt3-1.3b", "resources",
                                 "parallelism", "pipelines", pipes);
        json_t *nd = json_pack("{s:o}", "nodes", nodes);
        char *nj = json_dumps(nd, 0), *pj = json_dumps(plan, 0), *out = NULL;
        fl_nodes *inv;
        fl_error err;
        assert_int_equal(fl_nodes_from_json(cat, nj, &inv, &err), FL_OK);
        fl_status rc = fl_place_json(cat, pj, inv, NULL, NULL, &out, NULL, &err);
        assert_true(rc == FL_OK || rc == FL_EINFEASIBLE);
        if (rc == FL_OK) {
            json_t *doc = json_loads(out, 0, NULL);
            check_constraints(doc, nj);
            json_decref(doc);
        } else {
            assert_non_null(strstr(err.message, "no room"));
        }
        fl_free(out);
        free(nj);
        free(pj);
        fl_nodes_free(inv);
        json_decref(nd);
        json_decref(plan);
    }
}

/* Placing the same plan against itself moves nothing; a changed layer split moves exactly the
 * layers that changed hands, at the catalog's same-zone bandwidth plus the restart time. */
static void test_migration_figures(void **state)
{
    (void)state;
    char *plan = slurp("plans/place_small.json"), *nodes_json = slurp("plans/place_nodes_small.json");
    fl_nodes *nodes;
    fl_error err;
    assert_int_equal(fl_nodes_from_json(cat, nodes_json, &nodes, &err), FL_OK);
    char *cur = NULL, *again = NULL;
    assert_int_equal(fl_place_json(cat, plan, nodes, NULL, NULL, &cur, NULL, &err), FL_OK);
    fl_place_report *rep;
    fl_place_summary s;
    assert_int_equal(fl_place_json(cat, plan, nodes, cur, NULL, &again, &rep, &err), FL_OK);
    fl_place_report_get_summary(rep, &s, &err);
    assert_int_equal(s.shards_kept, 5);
    assert_int_equal(s.shards_moved, 0);
    assert_true(s.migration_s == 0.0 && s.bytes_moved == 0.0);
    fl_place_report_free(rep);
    /* shift the stage boundary of pipeline 0 from 16 to 14: two layers move to the V100 stage */
    json_t *d = json_loads(plan, 0, NULL);
    json_t *st = json_object_get(json_array_get(json_object_get(json_object_get(d, "parallelism"), "pipelines"), 0), "stages");
    json_object_set_new(json_array_get(st, 0), "layers", json_pack("[i,i]", 0, 14));
    json_object_set_new(json_array_get(st, 1), "layers", json_pack("[i,i]", 14, 24));
    char *np = json_dumps(d, 0), *out = NULL;
    fl_place_options o;
    fl_place_options_init(&o);
    o.restart_s = 100;
    assert_int_equal(fl_place_json(cat, np, nodes, cur, &o, &out, &rep, &err), FL_OK);
    fl_place_report_get_summary(rep, &s, &err);
    assert_int_equal(s.shards_moved, 2);
    fl_shard_set ns;
    assert_int_equal(fl_shards_from_doc(cat, d, "plan", &o, &ns, &err), FL_OK);
    double two_layers = 2 * 2 * ns.layer_bytes; /* two replicas, two layers each */
    assert_true(fabs(s.bytes_moved - two_layers) < 1e-6 * two_layers);
    fl_link l = fl_catalog_link(cat, ns.v[0].zone, ns.v[0].zone);
    assert_true(s.migration_s >= 100 + ns.layer_bytes * 2 / l.bandwidth - 1e-9);
    assert_true(s.migration_s < 100 + two_layers / l.bandwidth + 1);
    assert_true(s.migration_cost == 0.0); /* same zone: no egress */
    fl_shard_set_free(&ns);
    fl_place_report_free(rep);
    fl_free(out);
    free(np);
    json_decref(d);
    fl_free(cur);
    fl_free(again);
    fl_nodes_free(nodes);
    free(plan);
    free(nodes_json);
}

/* Packing two plans fills nodes already in use: no partially used node remains when the GPU
 * counts allow it. */
static void test_packing_fills_nodes(void **state)
{
    (void)state;
    const char *nj = "{\"nodes\":[{\"id\":\"a\",\"zone\":\"gcp:us-central1-a\",\"gpu\":\"A100-SXM-40GB\",\"gpus\":8},"
                     "{\"id\":\"b\",\"zone\":\"gcp:us-central1-a\",\"gpu\":\"A100-SXM-40GB\",\"gpus\":8},"
                     "{\"id\":\"c\",\"zone\":\"gcp:us-central1-a\",\"gpu\":\"A100-SXM-40GB\",\"gpus\":8}]}";
    int cuts[2] = {0, 24};
    json_t *p1 = make_plan(3, cuts, 1, 2, 8, 8), *p2 = make_plan(5, cuts, 1, 2, 8, 8);
    char *t[2] = {json_dumps(p1, 0), json_dumps(p2, 0)};
    fl_nodes *nodes;
    fl_error err;
    assert_int_equal(fl_nodes_from_json(cat, nj, &nodes, &err), FL_OK);
    char **out = NULL;
    fl_place_report *rep;
    assert_int_equal(fl_place_pack_json(cat, (const char *const *)t, 2, nodes, NULL, &out, &rep, &err), FL_OK);
    fl_place_summary s;
    fl_place_report_get_summary(rep, &s, &err);
    assert_int_equal(s.gpus_used, 16);
    assert_int_equal(s.nodes_used, 2);
    assert_int_equal(s.nodes_partial, 0);
    for (int i = 0; i < 2; i++) {
        json_t *d = json_loads(out[i], 0, NULL);
        check_constraints(d, nj);
        json_decref(d);
        fl_free(out[i]);
        free(t[i]);
    }
    fl_free(out);
    fl_place_report_free(rep);
    fl_nodes_free(nodes);
    json_decref(p1);
    json_decref(p2);
}

static void expect_nodes_error(const char *json, fl_status code, const char *field)
{
    fl_nodes *n = NULL;
    fl_error err;
    fl_error_clear(&err);
    assert_int_equal(fl_nodes_from_json(cat, json, &n, &err), code);
    assert_null(n);
    assert_string_equal(err.field, field);
}

static void test_bad_nodes(void **state)
{
    (void)state;
    expect_nodes_error("{\"nodes\":[{\"id\":\"a\",\"zone\":\"gcp:us-central1-a\",\"gpu\":\"A1000\",\"gpus\":8}]}",
                       FL_ENOTFOUND, "nodes[0].gpu");
    expect_nodes_error("{\"nodes\":[{\"id\":\"a\",\"zone\":\"mars:1\",\"gpu\":\"A100-SXM-40GB\",\"gpus\":8}]}",
                       FL_ENOTFOUND, "nodes[0].zone");
    expect_nodes_error("{\"nodes\":[{\"id\":\"a\",\"zone\":\"gcp:us-central1-a\",\"gpu\":\"A100-SXM-40GB\",\"gpus\":8},"
                       "{\"id\":\"a\",\"zone\":\"gcp:us-central1-a\",\"gpu\":\"A100-SXM-40GB\",\"gpus\":8}]}",
                       FL_EINVAL, "nodes[1].id");
    expect_nodes_error("{\"nodes\":[{\"id\":\"a\",\"zone\":\"gcp:us-central1-a\",\"gpu\":\"A100-SXM-40GB\",\"gpus\":-2}]}",
                       FL_EINVAL, "nodes[0].gpus");
    expect_nodes_error("{\"nodes\": 3}", FL_EINVAL, "nodes");
}

static void expect_current_error(const char *mutate_key, json_t *value, int entry, fl_status code, const char *field)
{
    char *plan = slurp("plans/place_small.json"), *nodes_json = slurp("plans/place_nodes_small.json");
    fl_nodes *nodes;
    fl_error err;
    assert_int_equal(fl_nodes_from_json(cat, nodes_json, &nodes, &err), FL_OK);
    char *cur = NULL, *out = NULL;
    assert_int_equal(fl_place_json(cat, plan, nodes, NULL, NULL, &cur, NULL, &err), FL_OK);
    json_t *d = json_loads(cur, 0, NULL);
    json_object_set_new(json_array_get(json_object_get(d, "placement"), (size_t)entry), mutate_key, value);
    char *bad = json_dumps(d, 0);
    fl_error_clear(&err);
    fl_place_options o;
    fl_place_options_init(&o);
    o.strict_nodes = 1;
    assert_int_equal(fl_place_json(cat, plan, nodes, bad, &o, &out, NULL, &err), code);
    assert_null(out);
    assert_string_equal(err.field, field);
    free(bad);
    json_decref(d);
    fl_free(cur);
    fl_nodes_free(nodes);
    free(plan);
    free(nodes_json);
}

static void test_bad_current_placement(void **state)
{
    (void)state;
    expect_current_error("stage", json_integer(7), 1, FL_ENOTFOUND, "current.placement[1]");
    expect_current_error("node", json_string("nowhere-3"), 2, FL_ENOTFOUND, "current.placement[2].node");
    expect_current_error("gpus", json_pack("[i,i,i,i]", 0, 1, 2, 9), 0, FL_EINVAL, "current.placement[0].gpus");
    expect_current_error("node", json_string("aws-p4d-0"), 1, FL_EINVAL, "current.placement[1].node");
}

/* Without strict_nodes a node missing from the inventory has gone away: its shards move to free
 * nodes and their whole state counts as transferred. */
static void test_lost_node_moves_shards(void **state)
{
    (void)state;
    char *plan = slurp("plans/place_small.json"), *nodes_json = slurp("plans/place_nodes_small.json");
    fl_nodes *nodes;
    fl_error err;
    assert_int_equal(fl_nodes_from_json(cat, nodes_json, &nodes, &err), FL_OK);
    char *cur = NULL, *out = NULL;
    assert_int_equal(fl_place_json(cat, plan, nodes, NULL, NULL, &cur, NULL, &err), FL_OK);
    json_t *d = json_loads(cur, 0, NULL);
    json_t *pl = json_object_get(d, "placement");
    for (size_t i = 0; i < json_array_size(pl); i++)   /* the V100 stages ran on a node that failed */
        if (strcmp(json_string_value(json_object_get(json_array_get(pl, i), "node")), "gcp-v100-0") == 0)
            json_object_set_new(json_array_get(pl, i), "node", json_string("gcp-v100-failed"));
    char *c2 = json_dumps(d, 0);
    fl_place_report *rep;
    assert_int_equal(fl_place_json(cat, plan, nodes, c2, NULL, &out, &rep, &err), FL_OK);
    fl_place_summary s;
    fl_place_report_get_summary(rep, &s, &err);
    assert_int_equal(s.shards_moved, 2);
    assert_int_equal(s.shards_kept, 3);
    json_t *o = json_loads(out, 0, NULL);
    check_constraints(o, nodes_json);
    json_decref(o);
    json_decref(d);
    free(c2);
    fl_free(cur);
    fl_free(out);
    fl_place_report_free(rep);
    fl_nodes_free(nodes);
    free(plan);
    free(nodes_json);
}

static void test_infeasible_and_bad_plan(void **state)
{
    (void)state;
    char *plan = slurp("plans/place_small.json"), *out = NULL;
    const char *few = "{\"nodes\":[{\"id\":\"a\",\"zone\":\"gcp:us-central1-a\",\"gpu\":\"A100-SXM-40GB\",\"gpus\":8}]}";
    fl_nodes *nodes;
    fl_error err;
    assert_int_equal(fl_nodes_from_json(cat, few, &nodes, &err), FL_OK);
    assert_int_equal(fl_place_json(cat, plan, nodes, NULL, NULL, &out, NULL, &err), FL_EINFEASIBLE);
    assert_non_null(strstr(err.message, "aws:use1-az1"));
    assert_null(out);
    const char *bad = "{\"kind\":\"training\",\"model\":\"gpt3-1.3b\",\"parallelism\":{\"pipelines\":[{\"stages\":"
                      "[{\"layers\":[0,30],\"gpu\":\"A100-SXM-40GB\",\"zone\":\"gcp:us-central1-a\",\"tp\":2}]}]}}";
    assert_int_equal(fl_place_json(cat, bad, nodes, NULL, NULL, &out, NULL, &err), FL_EINVAL);
    assert_string_equal(err.field, "plan.parallelism.pipelines[0].stages[0].layers");
    fl_nodes_free(nodes);
    free(plan);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_place_small_end_to_end),
        cmocka_unit_test(test_serving_and_synthesized_nodes),
        cmocka_unit_test(test_matching_equals_brute_force),
        cmocka_unit_test(test_constraints_random_instances),
        cmocka_unit_test(test_migration_figures),
        cmocka_unit_test(test_packing_fills_nodes),
        cmocka_unit_test(test_bad_nodes),
        cmocka_unit_test(test_bad_current_placement),
        cmocka_unit_test(test_lost_node_moves_shards),
        cmocka_unit_test(test_infeasible_and_bad_plan),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
