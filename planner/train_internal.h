/* planner/train_internal.h — internal types of the training planner (issue 4): the resource
 * pool (zone × GPU cells and their offerings), pipeline templates built from the simulator's
 * primitives, the fixed-iteration-time MILP over template replica counts, and the search over
 * iteration times that implements the objectives. Nothing here is public. */
#ifndef FL_PLANNER_TRAIN_INTERNAL_H
#define FL_PLANNER_TRAIN_INTERNAL_H

#include "common/job.h"
#include "simulator/train_sim.h"

#include <jansson.h>

#define FL_TP_LEVELS 4          /* tp 1, 2, 4, 8 */
#define FL_TPL_MAX_CELLS 4      /* distinct (zone, GPU) cells one template may use */
/* Tokens per dollar of a plan at no cost (owned capacity at price 0), per token/s: above any
 * priced plan, and among free plans the faster one wins. */
#define FL_TP_FREE_PER_DOLLAR 1e200

/* One rentable variant of an offering: on-demand or spot. */
typedef struct fl_tp_offer {
    int offering;               /* catalog offering index; -1 for owned capacity */
    const fl_offering *of;      /* the offering (catalog's, or the pool's owned list) */
    int cell;                   /* pool cell */
    int gpi;                    /* GPUs per instance */
    double price;               /* $/h per instance for this variant */
    int spot;
} fl_tp_offer;

/* A (zone, GPU type) the plan may use. */
typedef struct fl_tp_cell {
    int zone, gpu;
    int avail;                  /* GPUs; -1 unlimited */
    int node;                   /* largest instance (max tp inside a node) */
    double gpu_price;           /* cheapest $/h per GPU over its offers */
} fl_tp_cell;

/* Owned capacity as offerings (train_pool.c): availability entries with their own price and
 * node size, and the catalog's on-prem nodes, one offering per (zone, GPU type). */
typedef struct fl_tp_owned {
    fl_offering *offs; int n;
    int *avail;                 /* GPUs of each offering's cell the plan may use */
    char (*types)[64];          /* instance type names "owned-<gpu>-x<n>" */
    char *cells;                /* n_zones * n_gpus: 1 where owned capacity replaces the catalog's offerings */
} fl_tp_owned;

/* Which zone the pool kept for a GPU type when several unlimited zones sell it at the same
 * lowest price (prune_cells), and why: for the plan's placement reasons. */
typedef struct fl_tp_tie {
    int gpu, zone;              /* catalog indexes of the GPU type and the kept zone */
    int n_equal;                /* zones at that price (>= 2) */
    int preferred;              /* 1: kept because job.allow.prefer_regions names it */
} fl_tp_tie;

typedef struct fl_tp_pool {
    fl_tp_cell *cells; int n_cells;
    fl_tp_offer *offers; int n_offers;
    fl_tp_tie *ties; int n_ties;
    int limited;                /* availability is a closed list */
    fl_tp_owned owned;          /* the owned offerings the offers may point to */
} fl_tp_pool;

/* One pipeline stage of a template. */
typedef struct fl_tp_stage {
    int cell, tp, first, last;
} fl_tp_stage;

/* A pipeline template: a replica of it is one pipeline of stages. */
typedef struct fl_tp_template {
    int first_stage, n_stages;  /* into fl_tp_set.stages */
    int n_cells;
    int cells[FL_TPL_MAX_CELLS];
    int gpus[FL_TPL_MAX_CELLS][FL_TP_LEVELS]; /* GPUs of stages with tp >= 1,2,4,8 per cell */
    int total_gpus;
    double slope;               /* seconds per extra micro-batch (simulated) */
    double fixed;               /* iteration seconds with one micro-batch (simulated) */
    double egress_gb;           /* cross-zone activation GB per micro-batch */
    double egress_price;        /* $/GB of that traffic */
    double price;               /* $/h at the cheapest offers (for pruning/ordering only) */
    int disabled;               /* excluded by the caller (alternatives, failed simulation) */
    int zone;                   /* the one zone of all its stages, or -1 when it spans zones */
    /* exposed data-parallel all-reduce tail added to fixed (train_dp.c), for a DP group of
     * set->dp_n[k] replicas: [0] the group stays in the template's zone(s), [1] it spans the
     * zones of the template's region (worst link of the region) */
    double dp_tail[2];
} fl_tp_template;

/* Templates built for one setting (micro-batch, recomputation). */
typedef struct fl_tp_set {
    fl_train_setup setup;
    fl_tp_template *tpl; int n_tpl, cap_tpl;
    fl_tp_stage *stages; int n_stages, cap_stages;
    int n_enumerated;           /* candidates looked at before pruning */
    int dp_n[2];                /* DP group sizes the tails assume: [0] one zone, [1] spanning zones
                                 * (the MILP caps the replica count at these) */
    double dp_span_egress;      /* $ per iteration of gradient egress when the DP group spans zones
                                 * (two zones, dp_n[1] replicas, cheapest cross-zone price; 0 = no
                                 * priced cross-zone pair in the pool) */
} fl_tp_set;

/* Constraints of one MILP solve (copied from the job, editable for diagnostics). */
typedef struct fl_tp_limits {
    double budget;              /* $/h; 0 = none */
    int max_gpus;               /* 0 = none */
    long total_mb;              /* global_batch / micro_batch */
    int equal_mb;               /* 1: every replica carries total_mb / replicas micro-batches (the
                                 * replica count divides total_mb), as framework targets need */
    double time_limit_s;
    const int *extra_avail;     /* per cell extra GPUs (marginal value), or NULL */
    const char *region;         /* only cells of zones in this region (NULL = all) */
    int no_availability;        /* 1: ignore availability counts (diagnostics) */
    int ignore_floor;           /* 1: ignore min_tokens_per_s / deadline (diagnostics) */
    double floor_scale;         /* tighten the iteration time the floor allows (0 = 1) */
    double max_cost_iter;       /* $ per iteration incl. egress (job caps combined); 0 = none:
                                 * at iteration time T it is a budget of max_cost_iter * 3600 / T */
} fl_tp_limits;

/* A MILP solution at a fixed iteration time. */
typedef struct fl_tp_solution {
    int feasible;
    double T;                   /* iteration time bound used */
    double cost;                /* $/h (instances + egress) */
    int *x;                     /* replicas per template */
    long *s;                    /* micro-batches per template */
    int *inst;                  /* instances per offer */
    int gpus;
    int status_optimal;         /* 1: proven optimal; 0: time limit with a feasible point */
    double mip_gap;
    double time_s;
    int nodes;                  /* branch-and-bound nodes used */
    int hit_time_limit;         /* 1: GLPK's wall-clock safety net stopped the solve */
    int span;                   /* 1: the replicas cover more than one zone (DP tail [1]) */
    double egress_dp;           /* $/h of the DP gradient egress included in cost */
} fl_tp_solution;

/* ---- pool (train_pool.c) ---- */
/* 1 when the training pool may rent offering o with `avail` GPUs in its (zone, GPU) cell (-1:
 * no limit): allowed zone and GPU type, a price, and at least one whole instance fits. */
int fl_tp_offering_usable(const fl_job *job, const fl_offering *o, int avail);
fl_status fl_tp_pool_build(const fl_catalog *cat, const fl_job *job, const fl_availability *av, fl_tp_pool *pool,
                           fl_error *err);
void fl_tp_pool_free(fl_tp_pool *pool);
/* Owned capacity of (cat, av) as offerings, whether the job allows them or not; free with
 * fl_tp_owned_free. */
fl_status fl_tp_owned_build(const fl_catalog *cat, const fl_availability *av, fl_tp_owned *out, fl_error *err);
void fl_tp_owned_free(fl_tp_owned *o);
/* 1 when the training pool may rent owned offering o with `avail` GPUs: allowed zone and GPU
 * type, a price >= 0 and at least one whole node. */
int fl_tp_owned_usable(const fl_job *job, const fl_offering *o, int avail);

/* ---- settings (train_planner.c) ---- */
/* Micro-batch sizes the planner tries: job "micro_batch" (a number or a list) or 8, 4, 2, 1;
 * only those dividing the global batch (at most 16). */
fl_status fl_tp_micro_batches(const fl_job *job, int *mb, int *n, fl_error *err);

/* 1 when templates a and b have the same pipeline shape (GPU type, tp, layers per stage). */
int fl_tp_same_shape(const fl_tp_pool *pool, const fl_tp_set *set, int a, int b);

/* ---- objective bound (train_bound.c) ---- */
/* An upper bound on the objective value (fl_tp_doc_score) of every plan the planner can emit on
 * `pool`; HUGE_VAL when there is none (min_cost, or neither a budget, max_gpus nor a count
 * limit). Used to skip regions that cannot win. */
double fl_tp_pool_bound(const fl_catalog *cat, const fl_job *job, const fl_tp_pool *pool);

/* ---- templates (train_templates.c) ---- */
/* Build and prune the templates for one setting; set->setup must be filled. */
fl_status fl_tp_templates_build(const fl_catalog *cat, const fl_job *job, const fl_tp_pool *pool, fl_tp_set *set,
                                fl_error *err);
void fl_tp_set_free(fl_tp_set *set);
/* Pipeline time of a template replica carrying m micro-batches (no DP all-reduce). */
double fl_tp_template_time(const fl_tp_template *t, long m);
/* Largest m with fl_tp_template_time(t, m) <= T (0 when even one does not). */
long fl_tp_template_max_mb(const fl_tp_template *t, double T, long cap);

/* ---- data-parallel all-reduce model (train_dp.c) ---- */
/* Fill set->dp_n and every template's dp_tail (after the templates are built and pruned). */
void fl_tp_dp_tails(const fl_catalog *cat, const fl_job *job, const fl_tp_pool *pool, fl_tp_set *set);
/* Exposed all-reduce tail of template t in a DP group of n replicas over a link (bw, lat):
 * max over stages of (all-reduce - last backward - drain of the earlier stages), >= 0. */
double fl_tp_dp_tail(const fl_catalog *cat, const fl_tp_pool *pool, const fl_tp_set *set, const fl_tp_template *t,
                     int n, double bw, double lat);
/* Iteration time of a replica of t with m micro-batches in a plan spanning zones (span) or not. */
double fl_tp_template_time_dp(const fl_tp_template *t, long m, int span);
/* Balanced split of `layers` over stages (gpu/tp given, zone per stage) minimising the slowest
 * stage under memory. Writes first/last; returns 0 when no split fits. Exposed for tests. */
int fl_tp_split_layers(const fl_catalog *cat, const fl_train_setup *s, int n, const int *gpu, const int *tp,
                       const int *zone, int layers, int *first, int *last, double *bottleneck_s);

/* ---- MILP (train_milp.c) ---- */
fl_status fl_tp_solution_alloc(fl_tp_solution *sol, const fl_tp_set *set, const fl_tp_pool *pool);
void fl_tp_solution_free(fl_tp_solution *sol);
/* Minimise $/h (feasibility only when cost_objective == 0) subject to every replica finishing
 * within T. sol->feasible tells the outcome; FL_ESOLVER only when GLPK fails. */
fl_status fl_tp_milp_solve(const fl_catalog *cat, const fl_tp_pool *pool, const fl_tp_set *set,
                           const fl_tp_limits *lim, double T, int cost_objective, fl_tp_solution *sol,
                           fl_error *err);

/* ---- documents (train_doc.c) ---- */
/* Build the plan document of a solution and simulate it. *doc_out NULL when it does not fit
 * (then *bad_template names a template to disable, or -1). */
fl_status fl_tp_solution_doc(const fl_catalog *cat, const fl_job *job, const fl_tp_pool *pool, const fl_tp_set *set,
                             const fl_tp_solution *sol, json_t **doc_out, int *bad_template, fl_error *err);
/* Objective value of a simulated document (larger is better). */
double fl_tp_doc_score(const fl_job *job, json_t *doc);

#endif
