/* flotilla — placement of plans onto concrete nodes by graph matching (igraph).
 *
 * A plan says how many GPUs of which type run in which zone and how the model is split; placement
 * maps every tensor-parallel group ("shard": pipeline p, replica r, stage s, with tp GPUs; for a
 * serving plan one shard per replica copy per pipeline stage) onto one concrete node and a set of
 * its GPU indexes. Constraints, always enforced: a shard stays inside one node (and one NVLink
 * domain of it when the node declares domains), in the zone the plan gives, on the GPU type the
 * plan gives; no GPU of a node is used twice.
 *
 * With a current placement (a previously placed plan document: the output of `flotilla place` or
 * `flotilla plan`), the matching maximises the bytes of model state that stay where they already
 * are (weighted bipartite matching, igraph_maximum_bipartite_matching) and reports what has to
 * move: shards, bytes, estimated migration time over the catalog's network links and egress cost.
 *
 * Everything is JSON in and out so a scheduler in any language can drive it:
 *   nodes:  {"nodes": [{"id": "n0", "zone": "gcp:us-central1-a", "gpu": "A100-SXM-40GB",
 *                       "gpus": 8, "nvlink_domain": 8}]}       (nvlink_domain optional)
 *   output: the plan document with "placement": [{"node","gpus":[...],"pipeline","replica","stage"}]
 *           and, with a current placement, "migration": {...} (same fields as the report).
 */
#ifndef FLOTILLA_FL_PLACE_H
#define FLOTILLA_FL_PLACE_H

#include "fl_plan.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A node inventory (opaque). */
typedef struct fl_nodes fl_nodes;

/* Parse {"nodes":[...]}. GPU and zone names are resolved against the catalog (aliases accepted);
 * errors name the path ("nodes[2].gpu") and the closest catalog names. Node ids are unique. */
FL_API fl_status fl_nodes_from_json(const fl_catalog *cat, const char *json, fl_nodes **out, fl_error *err);
/* The catalog's on-prem nodes (imported from `nvidia-smi -q -x`). FL_ENOTFOUND when there is none. */
FL_API fl_status fl_nodes_from_catalog(const fl_catalog *cat, fl_nodes **out, fl_error *err);
/* Nodes a plan rents: one node "<zone>/<instance_type>/<i>" per instance of each "resources" row. */
FL_API fl_status fl_nodes_from_plan_json(const fl_catalog *cat, const char *plan_json, fl_nodes **out,
                                        fl_error *err);
FL_API size_t fl_nodes_count(const fl_nodes *nodes);
/* The inventory as {"nodes":[...]} JSON. Caller frees with fl_free. */
FL_API char *fl_nodes_to_json(const fl_nodes *nodes);
FL_API void fl_nodes_free(fl_nodes *nodes);

/* Layout version of fl_place_options (docs/api.md): fields are only appended, the version bumps when
 * they are, and the library keeps reading every older version. */
#define FL_PLACE_OPTIONS_VERSION 1u
/* Static initialiser carrying the version: `fl_place_options o = FL_PLACE_OPTIONS_INIT;` then the
 * defaults are those of fl_place_options_init (fields left 0 mean "default" where documented). */
#define FL_PLACE_OPTIONS_INIT                                                                      \
    {.version = FL_PLACE_OPTIONS_VERSION, .restart_s = 120.0, .train_bytes_per_param = 16.0, .max_candidates = 16}
typedef struct fl_place_options {
    unsigned int version;        /* FL_PLACE_OPTIONS_VERSION (set by the init function/macro) */
    double restart_s;            /* fixed stop + restart time of a migration (default 120 s) */
    double train_bytes_per_param;/* model state moved per parameter for training (default 16:
                                    bf16 weights + grads, fp32 master + Adam m, v) */
    int max_candidates;          /* migration edges kept per shard (default 16; bounds graph size) */
    int strict_nodes;            /* 1: a current placement naming a node absent from the inventory is an
                                    error (FL_ENOTFOUND); 0 (default): that node is gone (failed or
                                    released) and its shards are moved, their state counted as transferred */
} fl_place_options;
FL_API void fl_place_options_init(fl_place_options *opts);

/* Result of a placement (opaque): totals, migration figures and per-node usage. */
typedef struct fl_place_report fl_place_report;

typedef struct fl_place_summary {
    int plans;              /* plans placed (several with packing) */
    int shards;             /* tensor-parallel groups placed */
    int shards_kept;        /* already in place on the same node and GPUs (with a current placement) */
    int shards_moved;       /* shards whose state has to be (partly) transferred */
    double bytes_moved;     /* model-state bytes transferred between nodes */
    double migration_s;     /* estimated stop + transfer + restart time; 0 without a move */
    double migration_cost;  /* egress dollars of the transfer */
    int gpus_used, gpus_free;
    int nodes_used;         /* nodes with at least one GPU in use */
    int nodes_partial;      /* nodes in use with GPUs left free (fragmentation) */
} fl_place_summary;

/* Place `plan` (a fl_plan handle; its JSON gets the "placement" array, and "migration" when
 * current_json is given) onto `nodes`. current_json: a previously placed plan document, or NULL.
 * FL_EINFEASIBLE when the nodes cannot hold the plan (the message names zone, GPU type and tp);
 * FL_ENOTFOUND when the current placement names shards that its plan does not have, or (with
 * opts->strict_nodes) nodes that are not in the inventory. */
FL_API fl_status fl_place(const fl_catalog *cat, fl_plan *plan, const fl_nodes *nodes, const char *current_json,
                         const fl_place_options *opts, fl_place_report **report, fl_error *err);
/* The same on a plan document given as JSON text (only its structure is read: "kind", "model",
 * "job", "parallelism"/"replicas", "resources"); *placed_json gets the placed document (caller
 * frees with fl_free). report may be NULL. */
FL_API fl_status fl_place_json(const fl_catalog *cat, const char *plan_json, const fl_nodes *nodes,
                              const char *current_json, const fl_place_options *opts, char **placed_json,
                              fl_place_report **report, fl_error *err);
/* Packing: place several plans onto one inventory, largest first, preferring nodes already in use
 * so that as few nodes as possible stay partially used. placed_json[i] (caller frees each with
 * fl_free and the array with fl_free) are the placed documents, in input order. */
FL_API fl_status fl_place_pack_json(const fl_catalog *cat, const char *const *plan_jsons, size_t n_plans,
                                   const fl_nodes *nodes, const fl_place_options *opts, char ***placed_json,
                                   fl_place_report **report, fl_error *err);

FL_API fl_status fl_place_report_get_summary(const fl_place_report *report, fl_place_summary *out, fl_error *err);
/* {"shards","shards_kept","shards_moved","bytes_moved","migration_s","migration_cost",
 *  "gpus_used","gpus_free","nodes_used","nodes_partial","nodes":[{"node","gpus","used","free"}]}.
 * Caller frees with fl_free. */
FL_API char *fl_place_report_to_json(const fl_place_report *report, int pretty);
FL_API void fl_place_report_free(fl_place_report *report);

#ifdef __cplusplus
}
#endif
#endif
