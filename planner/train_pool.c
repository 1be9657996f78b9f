/* planner/train_pool.c — the resource pool of the training planner: which (zone, GPU type)
 * cells a job may rent, how many GPUs each holds, and the instance offers (on-demand and, when
 * the job allows it, spot) that sell them. With unlimited availability the pool keeps only the
 * cells worth considering (the cheapest zone per GPU type and the zones offering most types).
 * Owned capacity (availability entries with their own price and node size, on-prem nodes of the
 * catalog) becomes one offering per (zone, GPU type) that replaces the catalog's offerings there. */
#include "planner/train_internal.h"
#include "common/error.h"

#include <math.h>
#include <stdio.h>
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
    free(p->ties);
    p->n_ties = 0;
    p->ties = calloc(ng + 1, sizeof *p->ties); /* NULL: no tie notes, planning unchanged */
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
        int best = -1, n_equal = 0;
        for (int i = 0; i < p->n_cells; i++) {
            if (p->cells[i].gpu != (int)g)
                continue;
            eff[i] = p->cells[i].avail < 0 || p->cells[i].avail >= cap;
            all_unlimited &= p->cells[i].avail < 0;
            if (!eff[i]) {
                keep[i] = 1;
                continue;
            }
            /* cheapest; among equal prices the job's preferred regions, then catalog order */
            double bp = best < 0 ? 0 : p->cells[best].gpu_price, cp = p->cells[i].gpu_price;
            int equal = best >= 0 && fabs(cp - bp) <= 1e-9 * fmax(1.0, bp);
            if (best < 0 || (!equal && cp < bp)) {
                best = i;
                n_equal = 1;
            } else if (equal) {
                n_equal++;
                if (fl_job_prefers_zone(job, p->cells[i].zone) && !fl_job_prefers_zone(job, p->cells[best].zone))
                    best = i;
            }
        }
        if (best >= 0) {
            keep[best] = 1;
            zkeep[p->cells[best].zone] = 1;
            if (n_equal > 1 && p->ties) {
                fl_tp_tie *t = &p->ties[p->n_ties++];
                t->gpu = (int)g;
                t->zone = p->cells[best].zone;
                t->n_equal = n_equal;
                t->preferred = fl_job_prefers_zone(job, t->zone);
            }
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
                if (types[z] > 1 && (bz < 0 || types[z] > types[bz] ||
                                     (types[z] == types[bz] && zprice[z] < zprice[bz]) ||
                                     (types[z] == types[bz] && zprice[z] == zprice[bz] &&
                                      fl_job_prefers_zone(job, (int)z) && !fl_job_prefers_zone(job, bz))))
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

void fl_tp_owned_free(fl_tp_owned *o)
{
    if (!o)
        return;
    free(o->offs);
    free(o->avail);
    free(o->types);
    free(o->cells);
    memset(o, 0, sizeof *o);
}

fl_status fl_tp_owned_build(const fl_catalog *cat, const fl_availability *av, fl_tp_owned *out, fl_error *err)
{
    memset(out, 0, sizeof *out);
    size_t nz = fl_catalog_zone_count(cat), ng = fl_catalog_gpu_count(cat), nc = nz * ng;
    int limited = av && fl_availability_is_limited(av);
    /* on-prem inventory per cell: the smallest node, the GPUs in whole nodes of that size, the
     * highest price and the slowest declared NIC of its nodes */
    int *node_gpn = NULL, *node_gpus = NULL;
    double *node_price = NULL, *node_nic = NULL;
    if (fl_catalog_node_count(cat)) {
        node_gpn = calloc(nc + 1, sizeof *node_gpn);
        node_gpus = calloc(nc + 1, sizeof *node_gpus);
        node_price = calloc(nc + 1, sizeof *node_price);
        node_nic = calloc(nc + 1, sizeof *node_nic);
        if (!node_gpn || !node_gpus || !node_price || !node_nic)
            goto oom;
        for (size_t i = 0; i < fl_catalog_node_count(cat); i++) {
            const fl_node *n = fl_catalog_node(cat, i);
            if (n->zone_index < 0 || n->gpu_index < 0 || n->gpu_count < 1)
                continue;
            size_t c = (size_t)n->zone_index * ng + (size_t)n->gpu_index;
            if (!node_gpn[c] || n->gpu_count < node_gpn[c])
                node_gpn[c] = n->gpu_count;
            node_price[c] = fmax(node_price[c], n->price_per_gpu_hour);
            if (n->nic_bw > 0 && (node_nic[c] <= 0 || n->nic_bw < node_nic[c]))
                node_nic[c] = n->nic_bw;
        }
        for (size_t i = 0; i < fl_catalog_node_count(cat); i++) {
            const fl_node *n = fl_catalog_node(cat, i);
            if (n->zone_index < 0 || n->gpu_index < 0 || n->gpu_count < 1)
                continue;
            size_t c = (size_t)n->zone_index * ng + (size_t)n->gpu_index;
            node_gpus[c] += n->gpu_count / node_gpn[c] * node_gpn[c];
        }
    }
    out->cells = calloc(nc + 1, 1);
    if (!out->cells)
        goto oom;
    int n = 0;
    for (size_t c = 0; c < nc; c++) {
        out->cells[c] = fl_availability_owned(av, (int)(c / ng), (int)(c % ng), NULL, NULL) || (node_gpn && node_gpn[c]);
        n += out->cells[c];
    }
    out->offs = calloc((size_t)n + 1, sizeof *out->offs);
    out->avail = calloc((size_t)n + 1, sizeof *out->avail);
    out->types = calloc((size_t)n + 1, sizeof *out->types);
    if (!out->offs || !out->avail || !out->types)
        goto oom;
    for (size_t c = 0; c < nc; c++) {
        if (!out->cells[c])
            continue;
        int z = (int)(c / ng), g = (int)(c % ng), gpn, k = out->n;
        double price;
        const fl_zone *zr = fl_catalog_zone(cat, (size_t)z);
        fl_offering *o = &out->offs[k];
        const char *src;
        if (fl_availability_owned(av, z, g, &price, &gpn)) { /* the availability's own entry wins */
            out->avail[k] = fl_availability_get(av, z, g);
            src = "availability entry (owned capacity)";
        } else {
            gpn = node_gpn[c];
            price = node_price[c];
            out->avail[k] = node_gpus[c];
            if (limited && fl_availability_get(av, z, g) < out->avail[k])
                out->avail[k] = fl_availability_get(av, z, g);
            o->network_bw = node_nic[c];
            src = "on-prem nodes (profiles import --nvidia-smi)";
        }
        snprintf(out->types[k], sizeof out->types[k], "owned-%s-x%d", fl_catalog_gpu(cat, (size_t)g)->name, gpn);
        o->cloud = zr->cloud;
        o->region = zr->region;
        o->zone = zr->name;
        o->instance_type = out->types[k];
        o->gpu = fl_catalog_gpu(cat, (size_t)g)->name;
        o->zone_index = z;
        o->gpu_index = g;
        o->gpus_per_instance = gpn;
        o->price_per_hour = price * gpn;
        o->spot_price_per_hour = -1;
        o->source = src;
        out->n++;
    }
    free(node_gpn);
    free(node_gpus);
    free(node_price);
    free(node_nic);
    return FL_OK;
oom:
    free(node_gpn);
    free(node_gpus);
    free(node_price);
    free(node_nic);
    fl_tp_owned_free(out);
    return fl_fail(err, FL_ENOMEM, "availability", "out of memory");
}

int fl_tp_owned_usable(const fl_job *job, const fl_offering *o, int avail)
{
    if (o->gpus_per_instance < 1 || !(o->price_per_hour >= 0))
        return 0;
    if (!fl_job_allows_gpu(job, o->gpu_index) || !fl_job_allows_zone(job, o->zone_index))
        return 0;
    return avail >= o->gpus_per_instance;
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
    fl_status orc = fl_tp_owned_build(cat, av, &pool->owned, err);
    if (orc)
        return orc;
    size_t no = fl_catalog_offering_count(cat), ng = fl_catalog_gpu_count(cat);
    size_t nall = no + (size_t)pool->owned.n;
    pool->cells = calloc(nall + 1, sizeof *pool->cells);
    pool->offers = calloc(2 * nall + 1, sizeof *pool->offers);
    if (!pool->cells || !pool->offers) {
        fl_tp_pool_free(pool);
        return fl_fail(err, FL_ENOMEM, "availability", "out of memory");
    }
    pool->limited = av && fl_availability_is_limited(av);
    for (size_t i = 0; i < nall; i++) {
        int owned = i >= no;
        const fl_offering *o = owned ? &pool->owned.offs[i - no] : fl_catalog_offering(cat, i);
        int a;
        if (owned) {
            a = pool->owned.avail[i - no];
            if (!fl_tp_owned_usable(job, o, a))
                continue;
        } else {
            if (pool->owned.cells[(size_t)o->zone_index * ng + (size_t)o->gpu_index])
                continue; /* owned capacity replaces the catalog's offerings of its cell */
            a = avail_of(av, o->zone_index, o->gpu_index);
            if (!fl_tp_offering_usable(job, o, a))
                continue;
        }
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
            f->offering = owned ? -1 : (int)i;
            f->of = o;
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
    free(pool->ties);
    fl_tp_owned_free(&pool->owned);
    memset(pool, 0, sizeof *pool);
}
