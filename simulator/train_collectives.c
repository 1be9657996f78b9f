/* simulator/train_collectives.c — the data-parallel gradient all-reduce as NCCL runs it, the NIC
 * of the instance a stage rents, and the cross-zone bytes (egress) a plan moves per iteration.
 * Formulas and sources: docs/communication.md.
 *
 * A DP group has n members (replicas of a stage), each a tp group of GPUs holding S gradient
 * bytes per GPU; tp parallel rings (one per tensor-parallel rank) share each node's NIC, so a node
 * sends tp * S * (its algorithm's factor) bytes through the NIC while each GPU sends S * factor
 * over the node's GPU link:
 *   ring          2(n-1)/n * max(S / B_gpu, tp S / B_nic) + 2(n-1) lat
 *   tree          max(2(k-1)/k S / B_gpu, 2(m-1)/m tp S / B_nic) + 2 ceil(log2 m) lat_nic
 *                 + 2(k-1) lat_gpu (NCCL's double binary tree across the m nodes, a chain of the k
 *                 members inside each; one node: the ring)
 *   hierarchical  reduce-scatter among the k members of a node over the GPU link, an inter-node
 *                 ring over the nodes on S/k per GPU, all-gather inside the node:
 *                 2(k-1)/k * S / B_gpu + 2(m-1)/m * tp S / B_nic + 2(k-1) lat_gpu + 2(m-1) lat_nic
 *   auto          the fastest of the three (NCCL's tuner picks per size). */
#include "simulator/train_sim.h"

#include <math.h>
#include <string.h>

double fl_train_dp_allreduce_time(const fl_train_dp_comm *c, fl_allreduce_algo algo)
{
    int n = c->n;
    if (n <= 1 || c->bytes <= 0)
        return 0;
    double S = c->bytes, bg = c->intra_bw > 0 ? c->intra_bw : 1e10, lg = c->intra_lat > 0 ? c->intra_lat : 0;
    if (!(c->inter_bw > 0)) /* every member in one node: a ring over the GPU link */
        return 2.0 * (n - 1) / n * S / bg + 2.0 * (n - 1) * lg;
    int k = c->per_node < 1 ? 1 : c->per_node > n ? n : c->per_node;
    int nodes = (n + k - 1) / k;
    int tp = c->tp > 0 ? c->tp : 1;
    double bn = c->inter_bw, ln = c->inter_lat > 0 ? c->inter_lat : 0;
    double step = fmax(S / bg, tp * S / bn); /* one buffer's worth through the slower hop */
    double ring = 2.0 * (n - 1) / n * step + 2.0 * (n - 1) * ln;
    if (algo == FL_AR_RING || nodes <= 1)
        return ring;
    /* double binary tree: every node sends 2(m-1)/m of the buffer per direction through its NIC
     * (S on two nodes, where NCCL's tree beats the ring: nccl-tests issue #22), a chain inside */
    double tree = fmax(2.0 * (k - 1) / k * S / bg, 2.0 * (nodes - 1) / nodes * tp * S / bn) +
                  2.0 * ceil(log2((double)nodes)) * ln + 2.0 * (k - 1) * lg;
    double hier = 2.0 * (k - 1) / k * S / bg + 2.0 * (nodes - 1) / nodes * tp * S / bn + 2.0 * (k - 1) * lg +
                  2.0 * (nodes - 1) * ln;
    if (algo == FL_AR_TREE)
        return tree;
    if (algo == FL_AR_HIERARCHICAL)
        return hier;
    return fmin(ring, fmin(tree, hier));
}

/* Per-thread memo of NIC lookups: (catalog, its offerings array and count, gpu, zone) -> the
 * offering that gave the figure (-1: none) and bytes/s. A hit is checked against that offering,
 * so a catalog re-read after an import (new arrays) is looked up afresh. */
#define NIC_MEMO 64
static _Thread_local struct {
    const fl_catalog *cat;
    const fl_offering *arr;
    size_t n_off;
    int gpu, zone, idx;
    double bw;
} nic_memo[NIC_MEMO];

double fl_train_nic_bw(const fl_catalog *cat, int gpu, int zone)
{
    size_t n_off = cat->n_offerings;
    unsigned h = ((unsigned)gpu * 31u + (unsigned)zone) & (NIC_MEMO - 1);
    if (nic_memo[h].cat == cat && nic_memo[h].arr == cat->offerings && nic_memo[h].n_off == n_off &&
        nic_memo[h].gpu == gpu && nic_memo[h].zone == zone) {
        int i = nic_memo[h].idx;
        if (i < 0 || (cat->offerings[i].gpu_index == gpu && cat->offerings[i].zone_index == zone &&
                      cat->offerings[i].network_bw * FL_TRAIN_NIC_EFFICIENCY == nic_memo[h].bw))
            return nic_memo[h].bw;
    }
    /* the instance with the most GPUs of this type in the zone (the one multi-node plans rent);
     * among those the fastest NIC */
    int best_g = 0, idx = -1;
    double bw = 0;
    for (size_t i = 0; i < n_off; i++) {
        const fl_offering *o = &cat->offerings[i];
        if (o->gpu_index != gpu || o->zone_index != zone || !(o->network_bw > 0))
            continue;
        if (o->gpus_per_instance > best_g || (o->gpus_per_instance == best_g && o->network_bw > bw)) {
            best_g = o->gpus_per_instance;
            bw = o->network_bw;
            idx = (int)i;
        }
    }
    nic_memo[h].cat = cat;
    nic_memo[h].arr = cat->offerings;
    nic_memo[h].n_off = n_off;
    nic_memo[h].gpu = gpu;
    nic_memo[h].zone = zone;
    nic_memo[h].idx = idx;
    nic_memo[h].bw = bw * FL_TRAIN_NIC_EFFICIENCY;
    return nic_memo[h].bw;
}

double fl_train_stage_nic(const fl_catalog *cat, const fl_train_setup *s, int gpu, int zone)
{
    for (int i = 0; i < s->n_nics; i++)
        if (s->nics[i].gpu == gpu && s->nics[i].zone == zone)
            return s->nics[i].bw;
    return fl_train_nic_bw(cat, gpu, zone);
}

/* Zones of one DP group (distinct, in catalog order) with their counts. */
#define EG_ZONES 64
typedef struct zone_set {
    int n;
    int zone[EG_ZONES];
} zone_set;

static void zone_add(zone_set *z, int zone)
{
    int i = 0;
    while (i < z->n && z->zone[i] < zone)
        i++;
    if (i < z->n && z->zone[i] == zone)
        return;
    if (z->n == EG_ZONES)
        return;
    memmove(&z->zone[i + 1], &z->zone[i], (size_t)(z->n - i) * sizeof z->zone[0]);
    z->zone[i] = zone;
    z->n++;
}

/* Egress of a ring spanning the zones of zs carrying `bytes_per_edge` on every edge: members are
 * ordered by zone (NCCL orders ranks by locality), so exactly zs->n edges cross zones, each billed
 * at its source zone's egress price. */
static void ring_egress(const fl_catalog *cat, const zone_set *zs, double bytes_per_edge, fl_train_egress *e)
{
    if (zs->n < 2)
        return;
    for (int i = 0; i < zs->n; i++) {
        int za = zs->zone[i], zb = zs->zone[(i + 1) % zs->n];
        fl_link l = fl_catalog_link(cat, za, zb);
        e->dp_bytes += bytes_per_edge;
        e->dp_dollars += bytes_per_edge / 1e9 * l.egress_per_gb;
    }
}

void fl_train_plan_egress(const fl_catalog *cat, const fl_train_setup *s, const fl_train_pipeline *pipes, int n_pipes,
                          fl_train_egress *e)
{
    memset(e, 0, sizeof *e);
    const fl_model *m = s->model;
    double act = (double)s->micro_batch * s->seq_len * m->hidden * fl_train_act_elem_bytes(s);
    int v = s->interleave > 1 ? s->interleave : 1;
    int n_dp = 0;
    for (int i = 0; i < n_pipes; i++)
        n_dp += pipes[i].replicas;
    /* pipeline p2p: activations forward and their gradients backward across each zone boundary,
     * per micro-batch and model chunk; interleaving also wraps from the last stage to the first */
    for (int i = 0; i < n_pipes; i++) {
        const fl_train_pipeline *pl = &pipes[i];
        double per = (double)pl->replicas * pl->micro_batches * act;
        for (int j = 0; j + 1 < pl->n_stages; j++) {
            int za = pl->stages[j].zone, zb = pl->stages[j + 1].zone;
            if (za == zb)
                continue;
            double fwd = fl_catalog_link(cat, za, zb).egress_per_gb, bwd = fl_catalog_link(cat, zb, za).egress_per_gb;
            e->p2p_bytes += 2 * v * per;
            e->p2p_dollars += v * per / 1e9 * (fwd + bwd);
        }
        if (v > 1 && pl->n_stages > 1) {
            int za = pl->stages[pl->n_stages - 1].zone, zb = pl->stages[0].zone;
            if (za != zb) {
                double fwd = fl_catalog_link(cat, za, zb).egress_per_gb, bwd = fl_catalog_link(cat, zb, za).egress_per_gb;
                e->p2p_bytes += 2 * (v - 1) * per;
                e->p2p_dollars += (v - 1) * per / 1e9 * (fwd + bwd);
            }
        }
    }
    /* data-parallel gradients: per layer, the ring over every replica holding it; the embeddings
     * go with layer 0 and the head with the last layer */
    if (n_dp > 1) {
        double gb = fl_dtype_bytes(s->grad_dtype), lp = fl_train_layer_params(m);
        double ring = 2.0 * (n_dp - 1) / n_dp;
        for (int l = 0; l < m->layers; l++) {
            zone_set zs = {0};
            for (int i = 0; i < n_pipes; i++)
                for (int j = 0; j < pipes[i].n_stages; j++)
                    if (pipes[i].stages[j].first_layer <= l && l < pipes[i].stages[j].last_layer)
                        zone_add(&zs, pipes[i].stages[j].zone);
            if (zs.n < 2)
                continue;
            double params = lp + (l == 0 ? fl_train_embed_params(m) : 0) +
                            (l == m->layers - 1 ? fl_train_head_params(m, pipes[0].n_stages > 1) : 0);
            ring_egress(cat, &zs, ring * params * gb, e);
        }
    }
    e->bytes = e->p2p_bytes + e->dp_bytes;
    e->dollars = e->p2p_dollars + e->dp_dollars;
}
