/* planner/train_regions.c — the training planner's entry point, fl_train_plan_job: one plan per
 * cloud region when a limited availability spans several regions, the best of them returned
 * (train_regions.h). Without limits, or with a single usable region, it is the planner on the
 * whole pool (fl_train_plan_pool). */
#include "planner/train_regions.h"
#include "planner/train_internal.h"
#include "common/error.h"
#include "common/plan.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int fl_train_cell_offered(const fl_catalog *cat, const fl_job *job, int zone, int gpu)
{
    for (size_t i = 0; i < fl_catalog_offering_count(cat); i++) {
        const fl_offering *o = fl_catalog_offering(cat, i);
        if (o->zone_index == zone && o->gpu_index == gpu && fl_tp_offering_usable(job, o, -1))
            return 1;
    }
    return 0;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int fl_train_usable_regions(const fl_catalog *cat, const fl_job *job, const fl_availability *av, const char **names,
                            int cap)
{
    size_t no = fl_catalog_offering_count(cat), ng = fl_catalog_gpu_count(cat);
    fl_tp_owned own;
    if (fl_tp_owned_build(cat, av, &own, NULL))
        return 0;
    const char **seen = malloc((no + (size_t)own.n + 1) * sizeof *seen);
    int n = 0;
    if (!seen) {
        fl_tp_owned_free(&own);
        return 0;
    }
    for (size_t i = 0; i < no + (size_t)own.n; i++) {
        const fl_offering *o;
        if (i >= no) { /* owned capacity */
            o = &own.offs[i - no];
            if (!fl_tp_owned_usable(job, o, own.avail[i - no]))
                continue;
        } else {
            o = fl_catalog_offering(cat, i);
            int a = fl_availability_get(av, o->zone_index, o->gpu_index);
            if (own.cells[(size_t)o->zone_index * ng + (size_t)o->gpu_index] ||
                !fl_tp_offering_usable(job, o, a < 0 ? 0 : a))
                continue;
        }
        const char *r = fl_catalog_zone(cat, (size_t)o->zone_index)->region;
        int k = 0;
        while (k < n && strcmp(seen[k], r) != 0)
            k++;
        if (k == n)
            seen[n++] = r;
    }
    qsort(seen, (size_t)n, sizeof *seen, cmp_names);
    for (int k = 0; k < n && k < cap && names; k++)
        names[k] = seen[k];
    free(seen);
    fl_tp_owned_free(&own);
    return n;
}

int fl_train_better(double score, const char *region, int have_best, double best, const char *best_region)
{
    return !have_best || score > best || (score == best && strcmp(region, best_region) < 0);
}

/* A copy of av with every zone outside `region` at 0 (NULL when out of memory). */
static fl_availability *restrict_to_region(const fl_catalog *cat, const fl_availability *av, const char *region)
{
    fl_availability *r = fl_availability_clone(av);
    if (!r)
        return NULL;
    for (size_t z = 0; z < r->n_zones; z++)
        if (strcmp(fl_catalog_zone(cat, z)->region, region) != 0)
            for (size_t g = 0; g < r->n_gpus; g++)
                r->count[z * r->n_gpus + g] = 0;
    return r;
}

double fl_train_region_bound(const fl_catalog *cat, const fl_job *job, const fl_availability *av, const char *region)
{
    fl_availability *ra = restrict_to_region(cat, av, region);
    fl_tp_pool pool;
    double b = HUGE_VAL;
    if (ra && fl_tp_pool_build(cat, job, ra, &pool, NULL) == FL_OK) {
        b = fl_tp_pool_bound(cat, job, &pool);
        fl_tp_pool_free(&pool);
    }
    fl_availability_free(ra);
    return b;
}

/* Plan one region with alternatives (the pool of av restricted to the region). */
static fl_status plan_region_alts(const fl_catalog *cat, const fl_job *job, const fl_availability *av,
                                  const char *region, const fl_plan_options *opts, json_t **doc_out,
                                  json_t ***alts_out, size_t *n_alts_out, double *score_out, fl_error *err)
{
    fl_availability *ra = restrict_to_region(cat, av, region);
    *doc_out = NULL;
    *alts_out = NULL;
    *n_alts_out = 0;
    if (!ra)
        return fl_fail(err, FL_ENOMEM, "planner", "out of memory");
    fl_status rc = fl_train_plan_pool(cat, job, ra, opts, doc_out, alts_out, n_alts_out, score_out, err);
    fl_availability_free(ra);
    return rc;
}

fl_status fl_train_plan_region(const fl_catalog *cat, const fl_job *job, const fl_availability *av,
                               const char *region, const fl_plan_options *opts, json_t **doc_out,
                               double *score_out, fl_error *err)
{
    json_t **alts;
    size_t n_alts;
    fl_status rc = plan_region_alts(cat, job, av, region, opts, doc_out, &alts, &n_alts, score_out, err);
    for (size_t i = 0; i < n_alts; i++)
        json_decref(alts[i]);
    free(alts);
    return rc;
}

/* 1 when two plans rent the same resources with the same parallelism. */
static int same_plan(json_t *a, json_t *b)
{
    return json_equal(json_object_get(a, "parallelism"), json_object_get(b, "parallelism")) &&
           json_equal(json_object_get(a, "resources"), json_object_get(b, "resources"));
}

/* Alternatives over regions: the winning region's alternatives and the other regions' best
 * plans, by objective (stable), without duplicates of the winner or of each other; takes
 * ownership of every document in cand. */
static fl_status merge_alternatives(const fl_job *job, json_t *win, json_t **cand, size_t nc, size_t k,
                                    json_t ***alts_out, size_t *n_out, fl_error *err)
{
    double *score = calloc(nc + 1, sizeof *score);
    json_t **out = calloc(k + 1, sizeof *out);
    if (!score || !out) {
        free(score);
        free(out);
        for (size_t i = 0; i < nc; i++)
            json_decref(cand[i]);
        return fl_fail(err, FL_ENOMEM, "planner", "out of memory");
    }
    for (size_t i = 0; i < nc; i++)
        score[i] = fl_tp_doc_score(job, cand[i]);
    for (size_t i = 1; i < nc; i++) /* insertion sort: stable, few candidates */
        for (size_t j = i; j > 0 && score[j] > score[j - 1]; j--) {
            json_t *d = cand[j]; cand[j] = cand[j - 1]; cand[j - 1] = d;
            double s = score[j]; score[j] = score[j - 1]; score[j - 1] = s;
        }
    size_t n = 0;
    for (size_t i = 0; i < nc; i++) {
        int dup = same_plan(cand[i], win);
        for (size_t j = 0; j < n && !dup; j++)
            dup = same_plan(cand[i], out[j]);
        if (dup || n >= k) {
            json_decref(cand[i]);
            continue;
        }
        out[n++] = cand[i];
    }
    free(score);
    *alts_out = out;
    *n_out = n;
    return FL_OK;
}

static fl_status plan_job(const fl_catalog *cat, const fl_job *job, const fl_availability *av,
                          const fl_plan_options *opts, json_t **doc_out, json_t ***alts_out, size_t *n_alts_out,
                          fl_error *err);

/* Simulated tokens/s of a plan document (0 when absent). */
static double doc_tps(json_t *doc)
{
    return json_number_value(json_object_get(json_object_get(doc, "simulation"), "tokens_per_s"));
}

/* Plan the job; with a framework target (job.target) also plan it unconstrained and record in
 * the plan's "target" object what the target cost in throughput (docs/json.md). */
fl_status fl_train_plan_job(const fl_catalog *cat, const fl_job *job, const fl_availability *av,
                            const fl_plan_options *opts, json_t **doc_out, json_t ***alts_out,
                            size_t *n_alts_out, fl_error *err)
{
    fl_status rc = plan_job(cat, job, av, opts, doc_out, alts_out, n_alts_out, err);
    if (rc == FL_EINFEASIBLE && err && job->kind == FL_JOB_TRAINING && job->target != FL_TARGET_FLOTILLA) {
        /* say that the target narrowed the plans (docs/frameworks.md lists what it allows) */
        size_t n = strlen(err->message);
        snprintf(err->message + n, sizeof err->message - n, " (with job.target %s: one pipeline shape, %s)",
                 fl_target_name(job->target), "equal micro-batches per replica; \"flotilla\" allows more");
    }
    if (rc || job->kind != FL_JOB_TRAINING || job->target == FL_TARGET_FLOTILLA)
        return rc;
    fl_job free_job = *job;
    free_job.target = FL_TARGET_FLOTILLA;
    fl_plan_options o;
    fl_plan_options_init(&o);
    if (opts)
        o = *opts;
    o.top_k = 1;
    o.pareto = 0;
    o.marginal = 0;
    json_t *udoc = NULL, **ualts = NULL;
    size_t nu = 0;
    fl_error uerr;
    fl_error_clear(&uerr);
    fl_status r = plan_job(cat, &free_job, av, &o, &udoc, &ualts, &nu, &uerr);
    json_t *tg = json_pack("{s:s}", "name", fl_target_name(job->target));
    if (!tg) {
        json_decref(udoc);
        return fl_fail(err, FL_ENOMEM, "planner", "out of memory");
    }
    if (r == FL_OK && udoc)
        json_object_set_new(tg, "unconstrained_tokens_per_s", json_real(doc_tps(udoc)));
    json_object_set_new(tg, "tokens_per_s", json_real(doc_tps(*doc_out)));
    json_object_set_new(*doc_out, "target", tg);
    for (size_t i = 0; i < *n_alts_out; i++)
        json_object_set_new((*alts_out)[i], "target", json_pack("{s:s}", "name", fl_target_name(job->target)));
    json_decref(udoc);
    for (size_t i = 0; i < nu; i++)
        json_decref(ualts[i]);
    free(ualts);
    return FL_OK;
}

static fl_status plan_job(const fl_catalog *cat, const fl_job *job, const fl_availability *av,
                          const fl_plan_options *opts, json_t **doc_out, json_t ***alts_out, size_t *n_alts_out,
                          fl_error *err)
{
    *doc_out = NULL;
    *alts_out = NULL;
    *n_alts_out = 0;
    if (!av || !fl_availability_is_limited(av) || job->kind != FL_JOB_TRAINING)
        return fl_train_plan_pool(cat, job, av, opts, doc_out, alts_out, n_alts_out, NULL, err);
    int nr = fl_train_usable_regions(cat, job, av, NULL, 0);
    if (nr <= 1)
        return fl_train_plan_pool(cat, job, av, opts, doc_out, alts_out, n_alts_out, NULL, err);
    const char **names = calloc((size_t)nr, sizeof *names);
    json_t **docs = calloc((size_t)nr, sizeof *docs), ***alts = calloc((size_t)nr, sizeof *alts);
    size_t *n_alts = calloc((size_t)nr, sizeof *n_alts);
    fl_status rc = FL_OK;
    int win = -1;
    double best = 0;
    if (!names || !docs || !alts || !n_alts) {
        rc = fl_fail(err, FL_ENOMEM, "planner", "out of memory");
        goto out;
    }
    fl_train_usable_regions(cat, job, av, names, nr);
    /* Regions by decreasing objective bound: once the best plan found beats a region's bound,
     * that region cannot win (nor tie) and is not planned. Alternatives need every region. */
    int prune = !opts || opts->top_k <= 1;
    double *bound = calloc((size_t)nr, sizeof *bound);
    int *order = calloc((size_t)nr, sizeof *order);
    if (!bound || !order) {
        free(bound);
        free(order);
        rc = fl_fail(err, FL_ENOMEM, "planner", "out of memory");
        goto out;
    }
    for (int i = 0; i < nr; i++) {
        order[i] = i;
        bound[i] = prune ? fl_train_region_bound(cat, job, av, names[i]) : HUGE_VAL;
    }
    for (int i = 1; i < nr; i++) /* insertion sort, stable: equal bounds stay in name order */
        for (int j = i; j > 0 && bound[order[j]] > bound[order[j - 1]]; j--) {
            int o = order[j]; order[j] = order[j - 1]; order[j - 1] = o;
        }
    for (int k = 0; k < nr && !rc; k++) {
        int i = order[k];
        if (win >= 0 && bound[i] < best)
            continue;
        double score = 0;
        fl_error rerr;
        fl_error_clear(&rerr);
        fl_status r = plan_region_alts(cat, job, av, names[i], opts, &docs[i], &alts[i], &n_alts[i], &score, &rerr);
        if (r == FL_EINFEASIBLE)
            continue;
        if (r) {
            if (err)
                *err = rerr;
            rc = r;
        } else if (fl_train_better(score, names[i], win >= 0, best, win >= 0 ? names[win] : NULL)) {
            win = i;
            best = score;
        }
    }
    free(bound);
    free(order);
    if (rc)
        goto out;
    if (win < 0) {
        /* no region alone gives a plan: the whole pool explains why (or finds one) */
        rc = fl_train_plan_pool(cat, job, av, opts, doc_out, alts_out, n_alts_out, NULL, err);
        goto out;
    }
    *doc_out = docs[win];
    docs[win] = NULL;
    if (opts && opts->top_k > 1) {
        size_t nc = 0, cap = 0;
        for (int i = 0; i < nr; i++)
            cap += n_alts[i] + 1;
        json_t **cand = calloc(cap + 1, sizeof *cand);
        if (!cand) {
            rc = fl_fail(err, FL_ENOMEM, "planner", "out of memory");
            goto out;
        }
        for (size_t j = 0; j < n_alts[win]; j++) {
            cand[nc++] = alts[win][j];
            alts[win][j] = NULL;
        }
        for (int i = 0; i < nr; i++)
            if (i != win && docs[i]) {
                cand[nc++] = docs[i];
                docs[i] = NULL;
            }
        rc = merge_alternatives(job, *doc_out, cand, nc, (size_t)opts->top_k - 1, alts_out, n_alts_out, err);
        free(cand);
    }
out:
    if (rc && *doc_out) {
        json_decref(*doc_out);
        *doc_out = NULL;
    }
    for (int i = 0; names && docs && alts && n_alts && i < nr; i++) {
        json_decref(docs[i]);
        for (size_t j = 0; alts[i] && j < n_alts[i]; j++)
            json_decref(alts[i][j]);
        free(alts[i]);
    }
    free(names);
    free(docs);
    free(alts);
    free(n_alts);
    return rc;
}
