/* planner/train_pool.c — the resource pool of the training planner: which (zone, GPU type)
 * cells a job may rent, how many GPUs each holds, and the instance offers (on-demand and, when
 * the job allows it, spot) that sell them. With unlimited availability the pool keeps only the
 * cells worth considering (the cheapest zone per GPU type and the zones offering most types). */
#include "planner/train_internal.h"
#include "common/error.h"

#include <stdlib.h>
#include <string.h>

#define FL_POOL_RICH_ZONES 2

static int find_cell(const fl_tp_pool *p, int zone, int gpu)
{
    for (int i = 0; i < p->n_cells; i++)
        if (p->cells[i].zone == zone && p->cells[i].gpu == gpu)
            return i;
    return -1;
}

/* Count of GPUs of `gpu` in `zone`: -1 unlimited. A NULL availability means unlimited. */
static int avail_of(const fl_availability *av, int zone, int gpu)
{
    if (!av || !fl_availability_is_limited(av))
        return -1;
    return fl_availability_get(av, zone, gpu);
}

/* Drop cells that cannot matter. A cell is "effectively unlimited" when it holds at least as many
 * GPUs as the job could ever rent of its type (max_gpus, or the budget at the type's cheapest
 * price). Such cells of one type are interchangeable but for price, so per GPU type only the
 * cheapest one is kept, together with every cell of the zones those kept cells are in (mixed
 * pipelines need several types in one zone) and, with no limits at all, of the
 * FL_POOL_RICH_ZONES zones offering most types. Cells with binding counts are always kept. */
static void prune_cells(const fl_catalog *cat, const fl_job *job, fl_tp_pool *p)
{
    size_t nz = fl_catalog_zone_count(cat), ng = fl_catalog_gpu_count(cat);
    char *keep = calloc((size_t)p->n_cells + 1, 1), *eff = calloc((size_t)p->n_cells + 1, 1);
    char *zkeep = calloc(nz + 1, 1);
    int *types = calloc(nz + 1, sizeof *types);
    double *zprice = calloc(nz + 1, sizeof *zprice);
    int *map = malloc(((size_t)p->n_cells + 1) * sizeof *map);
    if (!keep || !eff || !zkeep || !types || !zprice || !map)
        goto out; /* keep everything: slower, still correct */
    int all_unlimited = 1;
    for (size_t g = 0; g < ng; g++) {
        double cheapest = 1e300;
        for (int i = 0; i < p->n_cells; i++)
            if (p->cells[i].gpu == (int)g && p->cells[i].gpu_price < cheapest)
                cheapest = p->cells[i].gpu_price;
        double cap = 1e300;
        if (job->max_gpus > 0)
            cap = job->max_gpus;
        if (job->budget_per_hour > 0 && cheapest > 0 && job->budget_per_hour / cheapest < cap)
            cap = job->budget_per_hour / cheapest;
        int best = -1;
        for (int i = 0; i < p->n_cells; i++) {
            if (p->cells[i].gpu != (int)g)
                continue;
            eff[i] = p->cells[i].avail < 0 || p->cells[i].avail >= cap;
            all_unlimited &= p->cells[i].avail < 0;
            if (!eff[i])
                keep[i] = 1;
            else if (best < 0 || p->cells[i].gpu_price < p->cells[best].gpu_price)
                best = i;
        }
        if (best >= 0) {
            keep[best] = 1;
            zkeep[p->cells[best].zone] = 1;
        }
    }
    if (all_unlimited) {
        for (int i = 0; i < p->n_cells; i++) {
            types[p->cells[i].zone]++;
            zprice[p->cells[i].zone] += p->cells[i].gpu_price;
        }
        for (int r = 0; r < FL_POOL_RICH_ZONES; r++) {
            int bz = -1;
            for (size_t z = 0; z < nz; z++)
                if (types[z] > 1 && (bz < 0 || types[z] > types[bz] || (types[z] == types[bz] && zprice[z] < zprice[bz])))
                    bz = (int)z;
            if (bz < 0)
                break;
            zkeep[bz] = 1;
            types[bz] = 0;
        }
    }
    for (int i = 0; i < p->n_cells; i++)
        if (zkeep[p->cells[i].zone])
            keep[i] = 1;
    int n = 0;
    for (int i = 0; i < p->n_cells; i++) {
        map[i] = keep[i] ? n : -1;
        if (keep[i])
            p->cells[n++] = p->cells[i];
    }
    p->n_cells = n;
    int k = 0;
    for (int i = 0; i < p->n_offers; i++) {
        if (map[p->offers[i].cell] < 0)
            continue;
        p->offers[k] = p->offers[i];
        p->offers[k++].cell = map[p->offers[i].cell];
    }
    p->n_offers = k;
out:
    free(map);
    free(keep);
    free(eff);
    free(zkeep);
    free(types);
    free(zprice);
}

int fl_tp_offering_usable(const fl_job *job, const fl_offering *o, int avail)
{
    if (o->gpus_per_instance < 1 || o->price_per_hour <= 0)
        return 0;
    if (!fl_job_allows_gpu(job, o->gpu_index) || !fl_job_allows_zone(job, o->zone_index))
        return 0;
    return avail < 0 || avail >= o->gpus_per_instance;
}

fl_status fl_tp_pool_build(const fl_catalog *cat, const fl_job *job, const fl_availability *av, fl_tp_pool *pool,
                           fl_error *err)
{
    memset(pool, 0, sizeof *pool);
    size_t no = fl_catalog_offering_count(cat);
    pool->cells = calloc(no + 1, sizeof *pool->cells);
    pool->offers = calloc(2 * no + 1, sizeof *pool->offers);
    if (!pool->cells || !pool->offers) {
        fl_tp_pool_free(pool);
        return fl_fail(err, FL_ENOMEM, "availability", "out of memory");
    }
    pool->limited = av && fl_availability_is_limited(av);
    for (size_t i = 0; i < no; i++) {
        const fl_offering *o = fl_catalog_offering(cat, i);
        int a = avail_of(av, o->zone_index, o->gpu_index);
        if (!fl_tp_offering_usable(job, o, a))
            continue;
        int c = find_cell(pool, o->zone_index, o->gpu_index);
        if (c < 0) {
            c = pool->n_cells++;
            fl_tp_cell *cl = &pool->cells[c];
            cl->zone = o->zone_index;
            cl->gpu = o->gpu_index;
            cl->avail = a;
            cl->node = 0;
            cl->gpu_price = 1e300;
        }
        fl_tp_cell *cl = &pool->cells[c];
        for (int spot = 0; spot < 2; spot++) {
            double price = spot ? o->spot_price_per_hour : o->price_per_hour;
            if (spot && (!job->allow_spot || price <= 0))
                continue;
            fl_tp_offer *f = &pool->offers[pool->n_offers++];
            f->offering = (int)i;
            f->cell = c;
            f->gpi = o->gpus_per_instance;
            f->price = price;
            f->spot = spot;
            if (price / f->gpi < cl->gpu_price)
                cl->gpu_price = price / f->gpi;
        }
        if (o->gpus_per_instance > cl->node)
            cl->node = o->gpus_per_instance;
    }
    if (pool->n_cells > 1)
        prune_cells(cat, job, pool);
    if (pool->n_cells == 0) {
        fl_status rc;
        if (pool->limited)
            rc = fl_fail(err, FL_EINFEASIBLE, "availability",
                         "no allowed GPU is available: the availability lists no whole instance of an allowed GPU type "
                         "in an allowed zone that the catalog offers%s",
                         job->n_allowed_gpus ? " (check job.allow.gpus and job.allow.zones)" : "");
        else
            rc = fl_fail(err, FL_EINFEASIBLE, "job.allow",
                         "no catalog offering matches job.allow (GPU types and zones)");
        fl_tp_pool_free(pool);
        return rc;
    }
    return FL_OK;
}

void fl_tp_pool_free(fl_tp_pool *pool)
{
    if (!pool)
        return;
    free(pool->cells);
    free(pool->offers);
    memset(pool, 0, sizeof *pool);
}
