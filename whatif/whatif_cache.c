/* whatif/whatif_cache.c — the what-if replay's plans by availability (whatif_cache.h): one
 * table per cloud region for training jobs with a limited availability, one for the whole
 * availability; recombination of region plans exactly as fl_plan_job does it, with regions that
 * cannot win skipped by their objective bound; and a prefetch that plans every entry a trace
 * will need on several threads before the replay walks it. */
#include "whatif/whatif_cache.h"
#include "planner/train_regions.h"
#include "common/error.h"
#include "common/plan.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FL_WC_MAX_THREADS 64

void fl_wc_ent_free(fl_wc_ent *e)
{
    if (!e)
        return;
    fl_availability_free(e->pending);
    free(e->sig);
    json_decref(e->doc);
    free(e);
}

static void table_free(fl_wc_table *t)
{
    for (size_t i = 0; i < t->n; i++)
        fl_wc_ent_free(t->v[i]);
    free(t->v);
    free(t->pairs);
}

void fl_wc_free(fl_wc_cache *c)
{
    table_free(&c->full);
    for (size_t r = 0; r < c->n_regions; r++)
        table_free(&c->regions[r]);
    free(c->regions);
    free(c->relevant);
}

/* 1 when the pair (zone, gpu) matters to the job: allowed, and for training also offered by the
 * catalog or owned capacity (the base availability's owned entries, on-prem nodes): the
 * planner's pool never holds other cells. */
static int job_relevant(const fl_catalog *cat, const fl_job *job, const fl_availability *av, int zone, int gpu)
{
    if (job->kind == FL_JOB_TRAINING)
        return fl_train_cell_offered(cat, job, zone, gpu) ||
               (fl_job_allows_zone(job, zone) && fl_job_allows_gpu(job, gpu) &&
                (fl_availability_owned(av, zone, gpu, NULL, NULL) || fl_catalog_has_nodes(cat, zone, gpu)));
    return fl_job_allows_zone(job, zone) && fl_job_allows_gpu(job, gpu);
}

/* Region table of `region`, added when new; NULL when out of memory. */
static fl_wc_table *region_table(fl_wc_cache *c, const char *region, size_t max_cells)
{
    for (size_t r = 0; r < c->n_regions; r++)
        if (strcmp(c->regions[r].region, region) == 0)
            return &c->regions[r];
    fl_wc_table *t = &c->regions[c->n_regions];
    memset(t, 0, sizeof *t);
    t->region = region;
    t->pairs = malloc((max_cells + 1) * sizeof *t->pairs);
    if (!t->pairs)
        return NULL;
    c->n_regions++;
    return t;
}

fl_status fl_wc_init(fl_wc_cache *c, const fl_catalog *cat, const fl_job *job, const fl_availability *av,
                     fl_error *err)
{
    memset(c, 0, sizeof *c);
    size_t nz = fl_catalog_zone_count(cat), ng = fl_catalog_gpu_count(cat);
    c->full.pairs = malloc((nz * ng + 1) * sizeof *c->full.pairs);
    c->relevant = calloc(nz * ng + 1, 1);
    c->regions = calloc(nz + 1, sizeof *c->regions);
    if (!c->full.pairs || !c->relevant || !c->regions)
        return fl_fail(err, FL_ENOMEM, "whatif", "out of memory");
    for (size_t z = 0; z < nz; z++)
        for (size_t g = 0; g < ng; g++) {
            if (!job_relevant(cat, job, av, (int)z, (int)g))
                continue;
            int cell = (int)(z * ng + g);
            c->relevant[cell] = 1;
            c->full.pairs[c->full.sig_len++] = cell;
            if (job->kind != FL_JOB_TRAINING)
                continue;
            fl_wc_table *t = region_table(c, fl_catalog_zone(cat, z)->region, nz * ng);
            if (!t)
                return fl_fail(err, FL_ENOMEM, "whatif", "out of memory");
            t->pairs[t->sig_len++] = cell;
        }
    return FL_OK;
}

/* Plan for one table's cells: the region's plan (region tables) or fl_plan_job's. */
fl_status fl_wc_plan_into(const fl_catalog *cat, const fl_job *job, const fl_availability *av, const char *region,
                          const fl_whatif_options *wo, fl_wc_ent *e, fl_error *err)
{
    fl_plan_options po;
    fl_plan_options_init(&po);
    if (wo->time_limit_s > 0)
        po.time_limit_s = wo->time_limit_s;
    fl_error perr;
    fl_error_clear(&perr);
    fl_status rc;
    if (region) {
        rc = fl_train_plan_region(cat, job, av, region, &po, &e->doc, &e->score, &perr);
    } else {
        fl_plan *plan = NULL;
        rc = fl_plan_job(cat, job, av, &po, &plan, &perr);
        if (rc == FL_OK) {
            e->doc = json_incref(plan->doc);
            fl_plan_free(plan);
        }
    }
    if (rc == FL_EINFEASIBLE) {
        snprintf(e->reason, sizeof e->reason, "%s", perr.message);
        return FL_OK;
    }
    if (rc && err)
        *err = perr;
    return rc;
}

/* What table_get does on a miss: nothing (LOOKUP), plan (PLAN), or add an entry to be planned
 * by the prefetch (RESERVE: no lookup is counted as a use or a hit). */
enum { TG_LOOKUP, TG_PLAN, TG_RESERVE };

/* The table's entry for the counts of av (NULL after a LOOKUP miss). */
static fl_status table_get(fl_wc_cache *c, fl_wc_table *t, const fl_catalog *cat, const fl_job *job,
                           const fl_availability *av, const fl_whatif_options *wo, int mode, fl_wc_ent **out,
                           fl_error *err)
{
    *out = NULL;
    size_t ng = fl_catalog_gpu_count(cat);
    int *sig = malloc((t->sig_len + 1) * sizeof *sig);
    if (!sig)
        return fl_fail(err, FL_ENOMEM, "whatif", "out of memory");
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < t->sig_len; i++) {
        sig[i] = fl_availability_get(av, t->pairs[i] / (int)ng, t->pairs[i] % (int)ng);
        h = (h ^ (uint64_t)(uint32_t)sig[i]) * 1099511628211ull;
    }
    if (t->last && t->last->hash == h && memcmp(t->last->sig, sig, t->sig_len * sizeof *sig) == 0) {
        free(sig);
        *out = t->last;
        return FL_OK;
    }
    for (size_t i = 0; i < t->n; i++)
        if (t->v[i]->hash == h && memcmp(t->v[i]->sig, sig, t->sig_len * sizeof *sig) == 0) {
            free(sig);
            fl_wc_ent *e = t->v[i];
            if (mode != TG_RESERVE) {
                c->hits += e->used; /* a first use of a prefetched plan is its planner call */
                e->used = 1;
            }
            *out = t->last = e;
            return FL_OK;
        }
    if (mode == TG_LOOKUP) {
        free(sig);
        return FL_OK;
    }
    if (t->n == t->cap) {
        size_t nc = t->cap ? t->cap * 2 : 64;
        fl_wc_ent **nv = realloc(t->v, nc * sizeof *nv);
        if (!nv) {
            free(sig);
            return fl_fail(err, FL_ENOMEM, "whatif", "out of memory");
        }
        t->v = nv;
        t->cap = nc;
    }
    fl_wc_ent *e = calloc(1, sizeof *e);
    if (!e) {
        free(sig);
        return fl_fail(err, FL_ENOMEM, "whatif", "out of memory");
    }
    e->hash = h;
    e->sig = sig;
    fl_status rc = FL_OK;
    if (mode == TG_RESERVE) {
        if (!(e->pending = fl_availability_clone(av)))
            rc = fl_fail(err, FL_ENOMEM, "whatif", "out of memory");
    } else {
        e->used = 1;
        rc = fl_wc_plan_into(cat, job, av, t->region, wo, e, err);
    }
    if (rc) {
        fl_wc_ent_free(e);
        return rc;
    }
    c->planner_calls++;
    t->v[t->n++] = e;
    *out = t->last = e;
    return FL_OK;
}

/* The best plan for av, as fl_plan_job would give it: from the region tables when the job's
 * usable cells lie in regions (best region plan by fl_train_better); from fl_plan_job when no
 * region gives a plan, for serving jobs and without limits. Regions with a cached plan are
 * looked up first; the others are planned in order of decreasing objective bound, and those
 * whose bound is below the best plan so far are skipped (they cannot win, train_regions.h). */
fl_status fl_wc_best(fl_wc_cache *c, const fl_catalog *cat, const fl_job *job, const fl_availability *av,
                     const fl_whatif_options *wo, fl_wc_ent **out, fl_error *err)
{
    if (c->n_regions && fl_availability_is_limited(av)) {
        size_t nr = c->n_regions;
        const char **names = calloc(nr + 1, sizeof *names);
        fl_wc_table **tab = calloc(nr + 1, sizeof *tab);
        fl_wc_ent **ent = calloc(nr + 1, sizeof *ent);
        double *bound = calloc(nr + 1, sizeof *bound);
        int *order = calloc(nr + 1, sizeof *order);
        fl_status rc = FL_OK;
        int nu = 0, bi = -1, no = 0;
        if (!names || !tab || !ent || !bound || !order) {
            rc = fl_fail(err, FL_ENOMEM, "whatif", "out of memory");
            goto out;
        }
        nu = fl_train_usable_regions(cat, job, av, names, (int)nr);
        if (nu > (int)nr)
            nu = (int)nr;
        for (int i = 0; i < nu; i++) {
            for (size_t r = 0; r < nr && !tab[i]; r++)
                if (strcmp(c->regions[r].region, names[i]) == 0)
                    tab[i] = &c->regions[r];
            if (!tab[i]) {
                rc = fl_fail(err, FL_EINVAL, "whatif", "region %s has no table", names[i]);
                goto out;
            }
            if ((rc = table_get(c, tab[i], cat, job, av, wo, TG_LOOKUP, &ent[i], err)))
                goto out;
            if (ent[i]) {
                if (ent[i]->doc && fl_train_better(ent[i]->score, names[i], bi >= 0, bi >= 0 ? ent[bi]->score : 0,
                                                   bi >= 0 ? names[bi] : NULL))
                    bi = i;
            } else {
                bound[i] = fl_train_region_bound(cat, job, av, names[i]);
                int j = no++;
                for (; j > 0 && bound[i] > bound[order[j - 1]]; j--) /* stable: ties in name order */
                    order[j] = order[j - 1];
                order[j] = i;
            }
        }
        for (int k = 0; k < no; k++) {
            int i = order[k];
            if (bi >= 0 && bound[i] < ent[bi]->score) {
                c->bound_skips++;
                continue;
            }
            if ((rc = table_get(c, tab[i], cat, job, av, wo, TG_PLAN, &ent[i], err)))
                goto out;
            if (ent[i]->doc && fl_train_better(ent[i]->score, names[i], bi >= 0, bi >= 0 ? ent[bi]->score : 0,
                                               bi >= 0 ? names[bi] : NULL))
                bi = i;
        }
    out:
        free(names);
        free(tab);
        free(bound);
        free(order);
        fl_wc_ent *best = bi >= 0 ? ent[bi] : NULL, *only = nu == 1 && ent ? ent[0] : NULL;
        free(ent);
        if (rc)
            return rc;
        if (best || nu == 1) {
            /* one usable region: fl_plan_job plans the same pool, so also the same reason */
            *out = best ? best : only;
            return FL_OK;
        }
    }
    return table_get(c, &c->full, cat, job, av, wo, TG_PLAN, out, err);
}


/* Apply the rows of event e to av; *relevant = 1 when a count that matters to the job changed. */
fl_status fl_wc_apply_rows(fl_availability *av, const fl_catalog *cat, const fl_wc_cache *c, const fl_trace *t,
                           size_t e, int *relevant, fl_error *err)
{
    size_t ng = fl_catalog_gpu_count(cat);
    *relevant = 0;
    for (size_t i = t->event_start[e]; i < t->event_start[e + 1]; i++) {
        const fl_trace_row *r = &t->rows[i];
        int before = fl_availability_get(av, r->zone, r->gpu);
        if (before != r->count && c->relevant[(size_t)r->zone * ng + (size_t)r->gpu])
            *relevant = 1;
        fl_status rc = fl_availability_set(av, fl_catalog_zone(cat, (size_t)r->zone)->name,
                                           fl_catalog_gpu(cat, (size_t)r->gpu)->name, r->count, err);
        if (rc) {
            char f[64];
            snprintf(f, sizeof f, "trace line %d", r->line);
            fl_error_prefix_field(err, f);
            return rc;
        }
    }
    return FL_OK;
}


/* ---- prefetch on several threads ---- */

typedef struct pf_run {
    fl_wc_ent **task;      /* entries to plan, in event order */
    const char **region;   /* their table's region (NULL: whole availability) */
    size_t *event;         /* the first event that needs each */
    fl_status *rc;
    fl_error *err;
    size_t n, n_events;
    atomic_size_t next;    /* next task to take */
    const fl_catalog *cat;
    const fl_job *job;
    const fl_whatif_options *wo;
} pf_run;

/* Take tasks until none is left; the replaying thread also reports progress (by the event of
 * the task it takes: tasks are taken in event order). */
static void pf_work(pf_run *r, int replaying_thread)
{
    for (;;) {
        size_t i = atomic_fetch_add(&r->next, 1);
        if (i >= r->n)
            break;
        if (replaying_thread && r->wo->progress)
            r->wo->progress(r->wo->progress_user, r->event[i], r->n_events);
        fl_wc_ent *e = r->task[i];
        fl_error_clear(&r->err[i]);
        r->rc[i] = fl_wc_plan_into(r->cat, r->job, e->pending, r->region[i], r->wo, e, &r->err[i]);
        fl_availability_free(e->pending);
        e->pending = NULL;
    }
}

static void *pf_thread(void *arg)
{
    pf_work(arg, 0);
    fl_train_thread_done(); /* the solver keeps per-thread state */
    return NULL;
}

fl_status fl_wc_prefetch(fl_wc_cache *c, const fl_catalog *cat, const fl_job *job, const fl_availability *base,
                         const fl_trace *t, const fl_whatif_options *wo, int threads, fl_error *err)
{
    fl_availability *av = NULL;
    fl_status rc = base ? FL_OK : fl_availability_new(cat, &av, err);
    if (!rc && base && !(av = fl_availability_clone(base)))
        rc = fl_fail(err, FL_ENOMEM, "availability", "out of memory");
    pf_run r;
    memset(&r, 0, sizeof r);
    size_t cap = 0;
    const char **names = calloc(c->n_regions + 1, sizeof *names);
    if (!rc && !names)
        rc = fl_fail(err, FL_ENOMEM, "whatif", "out of memory");
    /* the entries the replay will look up, each once, in event order */
    for (size_t e = 0; e < t->n_events && !rc; e++) {
        int relevant;
        if ((rc = fl_wc_apply_rows(av, cat, c, t, e, &relevant, err)))
            break;
        if (e > 0 && !relevant)
            continue;
        int regions = c->n_regions && fl_availability_is_limited(av);
        int nu = regions ? fl_train_usable_regions(cat, job, av, names, (int)c->n_regions) : 1;
        for (int i = 0; i < nu && i < (int)c->n_regions + 1 && !rc; i++) {
            fl_wc_table *tab = &c->full;
            for (size_t k = 0; regions && k < c->n_regions; k++)
                if (strcmp(c->regions[k].region, names[i]) == 0)
                    tab = &c->regions[k];
            size_t before = c->planner_calls;
            fl_wc_ent *ent;
            if ((rc = table_get(c, tab, cat, job, av, wo, TG_RESERVE, &ent, err)) || c->planner_calls == before)
                continue;
            if (r.n == cap) {
                cap = cap ? 2 * cap : 256;
                fl_wc_ent **nt = realloc(r.task, cap * sizeof *nt);
                if (nt)
                    r.task = nt;
                const char **nr = realloc(r.region, cap * sizeof *nr);
                if (nr)
                    r.region = nr;
                size_t *ne = realloc(r.event, cap * sizeof *ne);
                if (ne)
                    r.event = ne;
                if (!nt || !nr || !ne) {
                    rc = fl_fail(err, FL_ENOMEM, "whatif", "out of memory");
                    break;
                }
            }
            r.task[r.n] = ent;
            r.region[r.n] = tab->region;
            r.event[r.n] = e;
            r.n++;
        }
    }
    c->full.last = NULL;
    for (size_t k = 0; k < c->n_regions; k++)
        c->regions[k].last = NULL;
    if (!rc && r.n) {
        r.rc = calloc(r.n, sizeof *r.rc);
        r.err = calloc(r.n, sizeof *r.err);
        if (!r.rc || !r.err)
            rc = fl_fail(err, FL_ENOMEM, "whatif", "out of memory");
    }
    if (!rc && r.n) {
        r.n_events = t->n_events;
        r.cat = cat;
        r.job = job;
        r.wo = wo;
        atomic_init(&r.next, 0);
        pthread_t tid[FL_WC_MAX_THREADS];
        int started = 0;
        for (int k = 1; k < threads && k < FL_WC_MAX_THREADS && (size_t)k < r.n; k++)
            if (pthread_create(&tid[started], NULL, pf_thread, &r) == 0)
                started++;
        pf_work(&r, 1);
        for (int k = 0; k < started; k++)
            pthread_join(tid[k], NULL);
        /* the first failure in event order, as planning one by one would meet it */
        for (size_t i = 0; i < r.n && !rc; i++)
            if (r.rc[i]) {
                rc = r.rc[i];
                if (err)
                    *err = r.err[i];
            }
    }
    free(r.task);
    free(r.region);
    free(r.event);
    free(r.rc);
    free(r.err);
    free(names);
    fl_availability_free(av);
    return rc;
}
