/* matching/place_internal.h — internal layout of node inventories, shards (tensor-parallel groups
 * of a plan), placement state and the entry points shared by placement, replanning and what-if. */
#ifndef FL_MATCHING_PLACE_INTERNAL_H
#define FL_MATCHING_PLACE_INTERNAL_H

#include "flotilla/fl_place.h"
#include "common/plan.h"
#include <jansson.h>
#include <stdint.h>

#define FL_NODE_MAX_GPUS 64

typedef struct fl_node_rec {
    char *id;
    int zone;      /* catalog zone index */
    int gpu;       /* catalog GPU index */
    int gpus;      /* 1..64 */
    int domain;    /* NVLink domain size (a tp group <= domain never spans two domains) */
} fl_node_rec;

struct fl_nodes {
    const fl_catalog *cat;
    fl_node_rec *v;
    size_t n;
    size_t *slot;   /* open-addressing id index: slot[h] = node index + 1 (0 = empty) */
    size_t n_slots; /* a power of two, at least twice the capacity of v */
};

/* One tensor-parallel group of a plan. */
typedef struct fl_shard {
    int pipeline, replica, stage;
    int zone, gpu, tp;
    int first, last;          /* layer range [first, last) */
    int embed, head;          /* holds the embeddings / the LM head */
    double bytes;             /* model state of the shard (all its tp GPUs) */
    /* placement (output for new shards, input for current ones) */
    int node;                 /* index into the inventory, -1 when none */
    uint64_t mask;            /* GPU indexes on the node */
    double kept;              /* bytes already in place (new shards) */
} fl_shard;

typedef struct fl_shard_set {
    fl_job_kind kind;
    char *model_name;         /* owned */
    double layer_bytes;       /* state bytes of one transformer layer (whole, before tp) */
    double embed_bytes, head_bytes;
    fl_shard *v;
    size_t n;
} fl_shard_set;

/* Read the shards of a plan document (training "parallelism" or serving "replicas"). `path`
 * prefixes field names in errors ("plan", "current"). */
fl_status fl_shards_from_doc(const fl_catalog *cat, json_t *doc, const char *path, const fl_place_options *opts,
                             fl_shard_set *out, fl_error *err);
void fl_shard_set_free(fl_shard_set *s);
/* Read a document's "placement" array into the shards of `s` (node indexes into `nodes`).
 * strict: a node missing from the inventory is an error; otherwise that shard gets node -1. */
fl_status fl_shards_read_placement(json_t *doc, const char *path, const fl_nodes *nodes, int strict,
                                   fl_shard_set *s, fl_error *err);
/* Bytes of state shared by a new shard and an old one (same model, gpu and tp); 0 otherwise. */
double fl_shard_overlap_bytes(const fl_shard_set *ns, const fl_shard *a, const fl_shard_set *os,
                              const fl_shard *b);

/* Build an inventory from a plan document's "resources". */
fl_status fl_nodes_from_doc(const fl_catalog *cat, json_t *doc, fl_nodes **out, fl_error *err);
/* Index of a node id, or -1. */
int fl_nodes_find(const fl_nodes *nodes, const char *id);

/* Migration estimate of a placement against an old one. */
typedef struct fl_migration {
    int shards, shards_kept, shards_moved;
    double bytes_moved, migration_s, migration_cost;
    int changed;              /* 1 when the deployment changes at all (restart needed) */
} fl_migration;

/* Placement state across one or several plans (packing). */
typedef struct fl_place_state {
    const fl_catalog *cat;
    const fl_nodes *nodes;
    uint64_t *used;           /* per node: GPUs taken */
    fl_place_options opts;
} fl_place_state;

/* Place the shards of `ns` (old: current placement or NULL) and fill ns->v[i].node/mask/kept. */
fl_status fl_place_shards(fl_place_state *st, fl_shard_set *ns, const fl_shard_set *old, fl_error *err);
/* Write "placement" (and "migration" when mig != NULL) into doc. */
fl_status fl_place_write_doc(json_t *doc, const fl_nodes *nodes, const fl_shard_set *ns, const fl_migration *mig,
                             fl_error *err);
/* Estimate the migration from old to the placed ns (matching/migrate.c). */
void fl_migration_estimate(const fl_catalog *cat, const fl_nodes *nodes, const fl_shard_set *ns,
                           const fl_shard_set *old, const fl_place_options *opts, fl_migration *out);

/* Place a plan document against a current document (either may come from any source) on the
 * nodes the new plan rents; fills mig and writes "placement" + "migration" into new_doc. Used by
 * replanning and what-if. */
fl_status fl_place_against(const fl_catalog *cat, json_t *new_doc, json_t *current_doc,
                           const fl_place_options *opts, fl_migration *mig, fl_error *err);

/* Move-or-keep rule shared by `plan --current` and what-if (whatif/replan.c). */
typedef struct fl_move_eval {
    double old_rate, new_rate;      /* tokens/s (training) or requests/s (serving) */
    double old_cost_h, new_cost_h;  /* $/hour */
    int old_fits;                   /* 0: the current plan no longer fits (forced move) */
} fl_move_eval;
typedef struct fl_move_decision {
    int move;
    double gain_work;               /* work(move) - work(keep) over the horizon */
    double gain_dollars;            /* dollars(keep) - dollars(move) over the horizon */
    char reason[200];
} fl_move_decision;
void fl_move_decide(const fl_job *job, const fl_move_eval *ev, const fl_migration *mig, double horizon_hours,
                    fl_move_decision *out);

#endif
