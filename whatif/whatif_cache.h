/* whatif/whatif_cache.h — the what-if replay's plans by availability (whatif_cache.c).
 *
 * A table maps the counts of a fixed list of (zone, GPU) cells (its signature) to the planner's
 * answer for them. Training jobs with a limited availability use one table per cloud region: a
 * region's plan depends only on its own cells (planner/train_regions.h), an event changes one
 * region, and the best plan is recombined from the region plans exactly as fl_plan_job does.
 * When no region gives a plan (or for serving jobs, or without limits) the whole availability
 * is planned with fl_plan_job, cached in its own table. Every answer equals planning from
 * scratch; the tests compare the two at every event. Nothing here is public. */
#ifndef FL_SIMULATOR_WHATIF_CACHE_H
#define FL_SIMULATOR_WHATIF_CACHE_H

#include "whatif/whatif_internal.h"
#include "common/job.h"

#include <jansson.h>
#include <stdint.h>

typedef struct fl_wc_ent {
    uint64_t hash;
    int *sig;
    json_t *doc;        /* best plan (unplaced), NULL when infeasible */
    double score;       /* its objective value (region tables) */
    char reason[256];   /* why there is no plan */
    int used;           /* looked up by the replay at least once */
    fl_availability *pending; /* prefetch: the availability still to plan (owned), else NULL */
} fl_wc_ent;

typedef struct fl_wc_table {
    fl_wc_ent **v;      /* entries, each allocated alone (pointers stay valid) */
    size_t n, cap;
    int *pairs;         /* signature cells: zone * n_gpus + gpu */
    size_t sig_len;
    const char *region; /* region tables: the catalog's region name; NULL: whole availability */
    fl_wc_ent *last;    /* entry of the previous lookup: unchanged counts are not a cache hit */
} fl_wc_table;

typedef struct fl_wc_cache {
    fl_wc_table full;
    fl_wc_table *regions;
    size_t n_regions;
    char *relevant;     /* per (zone, gpu): 1 when a count change may change the plan */
    size_t planner_calls; /* entries planned (one planner run each) */
    size_t hits;        /* lookups answered by an entry planned for an earlier event */
    size_t bound_skips; /* region plans skipped: their objective bound is below the best plan */
} fl_wc_cache;

fl_status fl_wc_init(fl_wc_cache *c, const fl_catalog *cat, const fl_job *job, const fl_availability *av,
                     fl_error *err);
void fl_wc_free(fl_wc_cache *c);
void fl_wc_ent_free(fl_wc_ent *e);

/* Apply the rows of event e to av; *relevant = 1 when a count that matters to the job changed.
 * Errors name the trace line. */
fl_status fl_wc_apply_rows(fl_availability *av, const fl_catalog *cat, const fl_wc_cache *c, const fl_trace *t,
                           size_t e, int *relevant, fl_error *err);

/* Plan for one table's cells into e: the region's plan (region != NULL) or fl_plan_job's; an
 * infeasible job leaves e->doc NULL with the reason. */
fl_status fl_wc_plan_into(const fl_catalog *cat, const fl_job *job, const fl_availability *av, const char *region,
                          const fl_whatif_options *wo, fl_wc_ent *e, fl_error *err);

/* The best plan for av, as fl_plan_job would give it; planned on a miss. The entry belongs to
 * the cache. */
fl_status fl_wc_best(fl_wc_cache *c, const fl_catalog *cat, const fl_job *job, const fl_availability *av,
                     const fl_whatif_options *wo, fl_wc_ent **out, fl_error *err);

/* Walk the trace from base (events the replay steps: the first and every relevant one) and plan,
 * on `threads` threads, every table entry the replay will look up (regions of limited training
 * availabilities, else the whole availability). The answers are those fl_wc_best would compute
 * one by one; the "no region gives a plan" fallback is left to fl_wc_best. */
fl_status fl_wc_prefetch(fl_wc_cache *c, const fl_catalog *cat, const fl_job *job, const fl_availability *base,
                         const fl_trace *t, const fl_whatif_options *wo, int threads, fl_error *err);

#endif
