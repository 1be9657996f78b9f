/* planner/train_regions.h — region decomposition of the training planner (train_regions.c).
 *
 * A plan stays in one cloud region (README "Limits"). With a limited availability whose usable
 * cells lie in several regions, fl_train_plan_job plans every such region alone — the
 * availability restricted to that region's zones — and keeps the plan with the best objective
 * (ties: the region whose name sorts first). A region's plan therefore depends only on the counts
 * of its own zones, which lets the what-if replay cache plans per region and recombine them
 * with fl_train_better exactly as fl_train_plan_job does. Nothing here is public. */
#ifndef FL_PLANNER_TRAIN_REGIONS_H
#define FL_PLANNER_TRAIN_REGIONS_H

#include "common/job.h"
#include "flotilla/fl_plan.h"

#include <jansson.h>

/* The planner on one pool built from exactly `av` (train_planner.c): best plan document and up to
 * opts->top_k - 1 alternatives; *score_out (may be NULL) gets the plan's objective value
 * (larger is better). */
fl_status fl_train_plan_pool(const fl_catalog *cat, const fl_job *job, const fl_availability *av,
                             const fl_plan_options *opts, json_t **doc_out, json_t ***alts_out,
                             size_t *n_alts_out, double *score_out, fl_error *err);

/* 1 when some offering of (zone, gpu) may enter the job's pool for some count (allowed zone and
 * GPU type, a priced whole instance): counts of other cells never change a plan. */
int fl_train_cell_offered(const fl_catalog *cat, const fl_job *job, int zone, int gpu);

/* Regions with at least one usable cell under av (a whole instance of an allowed offering fits
 * in the count), sorted by name; writes up to cap names (catalog strings) and returns how many
 * there are. av must be limited. */
int fl_train_usable_regions(const fl_catalog *cat, const fl_job *job, const fl_availability *av, const char **names,
                            int cap);

/* Plan the job inside one region: the pool is built from av with every zone of another region
 * at 0. *doc_out is the plan (NULL on error); *score_out its objective value. */
fl_status fl_train_plan_region(const fl_catalog *cat, const fl_job *job, const fl_availability *av,
                               const char *region, const fl_plan_options *opts, json_t **doc_out,
                               double *score_out, fl_error *err);

/* The recombination rule: 1 when region `region`'s plan with objective `score` replaces the best
 * one so far (`best` of `best_region`, or none when have_best is 0): a higher objective, or the
 * same objective and a region name that sorts first. The result does not depend on the order in
 * which regions are visited. */
int fl_train_better(double score, const char *region, int have_best, double best, const char *best_region);

/* An upper bound on the objective of any plan inside `region` under av (planner/train_bound.c):
 * a region whose bound is below a plan found elsewhere cannot win and need not be planned.
 * HUGE_VAL when there is no finite bound (min_cost objective, nothing limits the GPUs). */
double fl_train_region_bound(const fl_catalog *cat, const fl_job *job, const fl_availability *av, const char *region);

/* Frees the calling thread's solver state (GLPK keeps one environment per thread); call it
 * before a thread that planned ends. */
void fl_train_thread_done(void);

#endif
