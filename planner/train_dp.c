/* planner/train_dp.c — the data-parallel gradient all-reduce in the training planner's model.
 *
 * The simulator charges, per stage, a ring all-reduce of the stage's gradients across every
 * replica of every pipeline holding those layers, over the slowest link the group spans, and
 * overlaps it with the stage's last backward: only the part that outlasts the backward and the
 * drain of the earlier stages shows up in the iteration time. Templates are timed without data
 * parallelism (train_templates.c); this file adds, per template, that exposed tail for a group
 * of set->dp_n[k] replicas in two situations: [0] the plan stays in one zone (the template's own
 * link), [1] the plan spans zones of the template's region (the region's slowest link among the
 * pool's zones). The MILP picks one situation per plan (train_milp.c) and caps the replica count
 * at the size the tail assumed, so the model stays conservative in both. */
#include "planner/train_internal.h"

#include <math.h>
#include <string.h>

#define DP_LAT_BUDGET_S 0.05   /* latency share (2 (n-1) lat) allowed to a zone-spanning DP group */
#define DP_CACHE 64

/* Per (GPU, tp) layer and edge times, memoised within one call. */
typedef struct dp_entry {
    int gpu, tp;
    double lf, lb;              /* per layer forward / backward */
    double link_bw;             /* intra-node collective bytes/s per GPU */
    double eb[2];               /* extra backward of the first / last stage */
    int edge_done[2];
} dp_entry;

typedef struct dp_cache {
    dp_entry e[DP_CACHE];
    int n;
} dp_cache;

static dp_entry *entry(dp_cache *c, const fl_catalog *cat, const fl_train_setup *s, int gpu, int tp)
{
    for (int i = 0; i < c->n; i++)
        if (c->e[i].gpu == gpu && c->e[i].tp == tp)
            return &c->e[i];
    dp_entry *e = &c->e[c->n < DP_CACHE ? c->n++ : DP_CACHE - 1];
    memset(e, 0, sizeof *e);
    e->gpu = gpu;
    e->tp = tp;
    fl_train_layer_time(cat, s, gpu, tp, &e->lf, &e->lb);
    fl_train_gpu_perf p;
    fl_train_gpu_perf_get(cat, gpu, s->compute_dtype, &p);
    e->link_bw = p.link_bw;
    return e;
}

static double edge_bwd(dp_entry *e, const fl_catalog *cat, const fl_train_setup *s, int which)
{
    if (!e->edge_done[which]) {
        double f = 0, b = 0;
        fl_train_edge_time(cat, s, e->gpu, e->tp, which == 0, which == 1, &f, &b);
        e->eb[which] = b;
        e->edge_done[which] = 1;
    }
    return e->eb[which];
}

/* Tail of template t for each of n_links (bw, lat) pairs at once (one pass over the stages). */
static void tails(dp_cache *c, const fl_catalog *cat, const fl_tp_pool *pool, const fl_tp_set *set,
                  const fl_tp_template *t, const int *n, const double *bw, const double *lat, int n_links, double *out)
{
    const fl_train_setup *s = &set->setup;
    const fl_model *m = s->model;
    double gb = fl_dtype_bytes(s->grad_dtype), lp = fl_train_layer_params(m);
    double act = (double)s->micro_batch * s->seq_len * m->hidden * fl_dtype_bytes(s->compute_dtype);
    int v = s->interleave > 1 ? s->interleave : 1, p = t->n_stages;
    double drain = 0;
    for (int k = 0; k < n_links; k++)
        out[k] = 0;
    for (int j = 0; j < p; j++) {
        const fl_tp_stage *st = &set->stages[t->first_stage + j];
        const fl_tp_cell *cl = &pool->cells[st->cell];
        dp_entry *e = entry(c, cat, s, cl->gpu, st->tp);
        int nl = st->last - st->first;
        double bwd = nl * e->lb;
        if (j == 0)
            bwd += edge_bwd(e, cat, s, 0);
        if (j == p - 1)
            bwd += edge_bwd(e, cat, s, 1);
        double params = nl * lp + (j == 0 ? fl_train_embed_params(m) : 0) +
                        (j == p - 1 ? fl_train_head_params(m, p > 1) : 0);
        for (int k = 0; k < n_links; k++) {
            /* as the simulator: NCCL's algorithms, the tp GPUs of the stage share the node's NIC,
             * DP peers packed per node; overlapped with the last backward only when the job says so */
            int per_node = cl->node / st->tp;
            fl_train_dp_comm dc = {.n = n[k], .per_node = per_node < 1 ? 1 : per_node, .tp = st->tp,
                                   .bytes = params * gb / st->tp, .intra_bw = e->link_bw, .intra_lat = 8e-6,
                                   .inter_bw = n[k] * st->tp <= cl->node ? 0 : bw[k] > 0 ? bw[k] : 1e9,
                                   .inter_lat = lat[k]};
            double ar = fl_train_dp_allreduce_time(&dc, s->allreduce_algo);
            double ex = ar - drain;
            if (s->dp_overlap) { /* as the simulator: hidden behind the last backward except the
                                  * bucket produced last (a layer or a DDP bucket) */
                double bucket = fmax(FL_TRAIN_DDP_BUCKET_PARAMS, 1e6 * n[k]) * st->tp;
                double last = fmax(lp + (j == 0 ? fl_train_embed_params(m) : 0), fmin(bucket, params));
                ex = fmax(ar * last / params, ar - bwd / v) - drain;
            }
            if (ex > out[k])
                out[k] = ex;
        }
        if (j < p - 1) {
            const fl_tp_cell *nx = &pool->cells[set->stages[t->first_stage + j + 1].cell];
            drain += bwd + fl_train_p2p_time(cat, cl->gpu, cl->zone, nx->zone, 0, act);
        } else {
            drain += bwd;
        }
    }
}

double fl_tp_dp_tail(const fl_catalog *cat, const fl_tp_pool *pool, const fl_tp_set *set, const fl_tp_template *t,
                     int n, double bw, double lat)
{
    dp_cache c;
    c.n = 0;
    double out;
    tails(&c, cat, pool, set, t, &n, &bw, &lat, 1, &out);
    return out;
}

double fl_tp_template_time_dp(const fl_tp_template *t, long m, int span)
{
    return fl_tp_template_time(t, m) + t->dp_tail[span ? 1 : 0];
}

static int same_region(const fl_catalog *cat, int za, int zb)
{
    return strcmp(fl_catalog_zone(cat, (size_t)za)->region, fl_catalog_zone(cat, (size_t)zb)->region) == 0;
}

/* Slowest link between zone z and any other pool zone of its region (none: infinite bandwidth
 * and z's own latency). */
static fl_link region_worst_x(const fl_catalog *cat, const fl_tp_pool *pool, int z)
{
    fl_link w = fl_catalog_link(cat, z, z);
    w.bandwidth = 1e300;
    for (int c = 0; c < pool->n_cells; c++) {
        int y = pool->cells[c].zone;
        if (y == z || !same_region(cat, z, y))
            continue;
        fl_link l = fl_catalog_link(cat, z, y);
        if (l.bandwidth < w.bandwidth)
            w.bandwidth = l.bandwidth;
        if (l.latency > w.latency)
            w.latency = l.latency;
    }
    return w;
}

void fl_tp_dp_tails(const fl_catalog *cat, const fl_job *job, const fl_tp_pool *pool, fl_tp_set *set)
{
    long M = job->global_batch / set->setup.micro_batch;
    /* replicas the pool can hold at most: available GPUs over the smallest template */
    double gpus = 0;
    int min_gpus = 0;
    for (int c = 0; c < pool->n_cells && gpus < 1e18; c++)
        gpus = pool->cells[c].avail < 0 ? 1e18 : gpus + pool->cells[c].avail;
    for (int t = 0; t < set->n_tpl; t++)
        if (!min_gpus || set->tpl[t].total_gpus < min_gpus)
            min_gpus = set->tpl[t].total_gpus;
    double n0 = fmin((double)M, min_gpus > 0 ? floor(gpus / min_gpus) : (double)M);
    /* a zone-spanning group also keeps its latency share 2 (n-1) lat within DP_LAT_BUDGET_S */
    double lat_x = 0;
    for (int c = 0; c < pool->n_cells; c++)
        for (int d = 0; d < pool->n_cells; d++) {
            int za = pool->cells[c].zone, zb = pool->cells[d].zone;
            if (za != zb && same_region(cat, za, zb))
                lat_x = fmax(lat_x, fl_catalog_link(cat, za, zb).latency);
        }
    double n1 = lat_x > 0 ? fmin(n0, 1 + floor(DP_LAT_BUDGET_S / (2 * lat_x))) : n0;
    set->dp_n[0] = n0 < 1 ? 1 : (int)n0;
    set->dp_n[1] = n1 < 1 ? 1 : (int)n1;
    /* gradient egress of a DP group spanning zones: a ring ordered by zone crosses zones at least
     * twice (two zones), each crossing carrying 2 (n-1)/n of the model's gradients; at the
     * cheapest priced cross-zone pair of a region in the pool (a lower bound the simulator's
     * egress then checks) */
    double price = 0;
    for (int c = 0; c < pool->n_cells; c++)
        for (int d = 0; d < pool->n_cells; d++) {
            int za = pool->cells[c].zone, zb = pool->cells[d].zone;
            if (za == zb || !same_region(cat, za, zb))
                continue;
            double p = fl_catalog_link(cat, za, zb).egress_per_gb;
            if (p > 0 && (price <= 0 || p < price))
                price = p;
        }
    const fl_model *mdl = set->setup.model;
    double grads = (mdl->layers * fl_train_layer_params(mdl) + fl_train_embed_params(mdl) +
                    fl_train_head_params(mdl, 0)) * fl_dtype_bytes(set->setup.grad_dtype);
    int nx = set->dp_n[1] < 2 ? 2 : set->dp_n[1];
    set->dp_span_egress = price > 0 ? 2 * 2.0 * (nx - 1) / nx * grads / 1e9 * price : 0;
    dp_cache c;
    c.n = 0;
    for (int i = 0; i < set->n_tpl; i++) {
        fl_tp_template *t = &set->tpl[i];
        /* [0]: the template's own zones; [1]: the worst link of the region around them */
        fl_link own = {0}, reg = {0};
        own.bandwidth = reg.bandwidth = 1e300;
        double nic = 1e300; /* slowest NIC of the template's instances (same-zone hops) */
        for (int a = 0; a < t->n_cells; a++) {
            int za = pool->cells[t->cells[a]].zone;
            double na = fl_train_nic_bw(cat, pool->cells[t->cells[a]].gpu, za);
            fl_link r = region_worst_x(cat, pool, za);
            reg.bandwidth = fmin(reg.bandwidth, r.bandwidth);
            reg.latency = fmax(reg.latency, r.latency);
            for (int b = 0; b < t->n_cells; b++) {
                int zb = pool->cells[t->cells[b]].zone;
                fl_link l = fl_catalog_link(cat, za, zb);
                if (za == zb && na > 0)
                    l.bandwidth = na;
                own.bandwidth = fmin(own.bandwidth, l.bandwidth);
                own.latency = fmax(own.latency, l.latency);
            }
            if (na > 0)
                nic = fmin(nic, na);
            else
                nic = fmin(nic, fl_catalog_link(cat, za, za).bandwidth);
        }
        reg.bandwidth = fmin(reg.bandwidth, nic);
        int n[2] = {set->dp_n[0], set->dp_n[1]};
        double bw[2] = {own.bandwidth, reg.bandwidth}, lat[2] = {own.latency, reg.latency};
        tails(&c, cat, pool, set, t, n, bw, lat, 2, t->dp_tail);
        if (t->dp_tail[1] < t->dp_tail[0])
            t->dp_tail[1] = t->dp_tail[0];
    }
}
