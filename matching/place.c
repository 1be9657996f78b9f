/* matching/place.c — the placement algorithm: shards (tensor-parallel groups) onto GPU blocks of
 * concrete nodes, maximising the model state that stays in place (weighted bipartite matching
 * with igraph) and, secondarily, filling nodes that are already in use (packing).
 *
 * Shards are placed by tp size, largest first. For a size T each compatible node (same zone and
 * GPU type) is cut into disjoint blocks of T free GPUs inside one NVLink domain: first the exact
 * GPU sets of current shards of size T (so they can stay), then the remaining free GPUs, GPUs not
 * held by current shards first. Edge weight = base + 64 * (bytes kept, scaled 0..1000) + generic
 * block weight (free of current state: +32; node fill and order: 0..30). Shards without any
 * state in place have identical rows, so they are dealt greedily to the best remaining blocks
 * after the matching (same optimum, far smaller graph). */
#include "matching/place_internal.h"
#include "common/error.h"

#include <igraph.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define BASE_W 65536.0

typedef struct block {
    int node;
    uint64_t mask;
    int old;       /* current shard occupying exactly these GPUs, or -1 */
    int group;     /* zone * n_gpus + gpu */
    int gw;        /* generic weight */
    int bonus;     /* 1 when it is a migration candidate of some shard */
    int taken;
} block;

typedef struct cand { int blk; double kept; int key; } cand;

static int cmp_cand(const void *a, const void *b)
{
    const cand *x = a, *y = b;
    if (x->kept != y->kept)
        return x->kept > y->kept ? -1 : 1;
    return x->key - y->key;
}

typedef struct bidx { int i; int group, bonus, gw; } bidx;
static int cmp_bidx(const void *a, const void *b)
{
    const bidx *x = a, *y = b;
    if (x->group != y->group)
        return x->group - y->group;
    if (x->bonus != y->bonus)
        return x->bonus - y->bonus;
    if (x->gw != y->gw)
        return y->gw - x->gw;
    return x->i - y->i;
}

static int popcount64(uint64_t m)
{
    int c = 0;
    while (m) {
        m &= m - 1;
        c++;
    }
    return c;
}

/* Cut node n into blocks of size T for the current pass. */
static fl_status cut_node(const fl_place_state *st, int n, int T, const fl_shard_set *old, const int *old_start,
                          const int *old_list, block **blocks, size_t *nb, size_t *cap, fl_error *err)
{
    const fl_node_rec *nd = &st->nodes->v[n];
    uint64_t full = nd->gpus == 64 ? ~(uint64_t)0 : (((uint64_t)1 << nd->gpus) - 1);
    uint64_t freem = full & ~st->used[n], cover = 0;
    int dom = T <= nd->domain ? nd->domain : nd->gpus;
    int group = nd->zone * (int)fl_catalog_gpu_count(st->cat) + nd->gpu;
    for (int k = old ? old_start[n] : 0; old && k < old_start[n + 1]; k++) {
        const fl_shard *o = &old->v[old_list[k]];
        cover |= o->mask;
        if (o->tp != T || (o->mask & ~freem) || o->gpu != nd->gpu)
            continue;
        /* same domain for every GPU of the set */
        int d0 = -1, ok = 1;
        for (int g = 0; g < nd->gpus; g++)
            if ((o->mask >> g) & 1) {
                if (d0 < 0)
                    d0 = g / dom;
                else if (g / dom != d0)
                    ok = 0;
            }
        if (!ok)
            continue;
        if (*nb == *cap) {
            size_t nc = *cap ? *cap * 2 : 256;
            block *nbk = realloc(*blocks, nc * sizeof *nbk);
            if (!nbk)
                return fl_fail(err, FL_ENOMEM, "placement", "out of memory");
            *blocks = nbk;
            *cap = nc;
        }
        (*blocks)[(*nb)++] = (block){n, o->mask, old_list[k], group, 0, 0, 0};
        freem &= ~o->mask;
    }
    for (int d = 0; d * dom < nd->gpus; d++) {
        int lst[FL_NODE_MAX_GPUS], cnt = 0;
        for (int pass = 0; pass < 2; pass++)
            for (int g = d * dom; g < (d + 1) * dom && g < nd->gpus; g++)
                if (((freem >> g) & 1) && (int)((cover >> g) & 1) == pass)
                    lst[cnt++] = g;
        for (int s = 0; s + T <= cnt; s += T) {
            uint64_t m = 0;
            for (int j = s; j < s + T; j++)
                m |= (uint64_t)1 << lst[j];
            if (*nb == *cap) {
                size_t nc = *cap ? *cap * 2 : 256;
                block *nbk = realloc(*blocks, nc * sizeof *nbk);
                if (!nbk)
                    return fl_fail(err, FL_ENOMEM, "placement", "out of memory");
                *blocks = nbk;
                *cap = nc;
            }
            int evict = (m & cover) != 0;
            (*blocks)[(*nb)++] = (block){n, m, -1, group, evict ? 0 : 32, 0, 0};
        }
    }
    return FL_OK;
}

/* Run igraph's weighted bipartite matching; match[i] = block index of left vertex i or -1. */
static fl_status run_matching(size_t n_left, size_t n_right, const igraph_vector_int_t *edges,
                              const igraph_vector_t *weights, int *match, fl_error *err)
{
    /* igraph's handlers are process-wide: install non-aborting, silent ones for this call only */
    igraph_error_handler_t *prev = igraph_set_error_handler(igraph_error_handler_ignore);
    igraph_warning_handler_t *prevw = igraph_set_warning_handler(igraph_warning_handler_ignore);
    igraph_t g;
    igraph_vector_bool_t types;
    igraph_vector_int_t m;
    igraph_integer_t size = 0;
    igraph_real_t wsum = 0;
    fl_status rc = FL_OK;
    igraph_integer_t nv = (igraph_integer_t)(n_left + n_right);
    if (igraph_create(&g, edges, nv, IGRAPH_UNDIRECTED) != IGRAPH_SUCCESS) {
        igraph_set_error_handler(prev);
        igraph_set_warning_handler(prevw);
        return fl_fail(err, FL_EGRAPH, "placement", "igraph: cannot build the bipartite graph");
    }
    if (igraph_vector_bool_init(&types, nv) != IGRAPH_SUCCESS) {
        igraph_destroy(&g);
        igraph_set_error_handler(prev);
        igraph_set_warning_handler(prevw);
        return fl_fail(err, FL_EGRAPH, "placement", "igraph: out of memory");
    }
    for (size_t i = n_left; i < n_left + n_right; i++)
        VECTOR(types)[i] = 1;
    if (igraph_vector_int_init(&m, 0) != IGRAPH_SUCCESS) {
        igraph_vector_bool_destroy(&types);
        igraph_destroy(&g);
        igraph_set_error_handler(prev);
        igraph_set_warning_handler(prevw);
        return fl_fail(err, FL_EGRAPH, "placement", "igraph: out of memory");
    }
    igraph_error_t ie = igraph_maximum_bipartite_matching(&g, &types, &size, &wsum, &m, weights, 1e-3);
    if (ie != IGRAPH_SUCCESS)
        rc = fl_fail(err, FL_EGRAPH, "placement", "igraph_maximum_bipartite_matching failed: %s",
                     igraph_strerror(ie));
    else
        for (size_t i = 0; i < n_left; i++) {
            igraph_integer_t r = VECTOR(m)[i];
            match[i] = r >= (igraph_integer_t)n_left ? (int)(r - (igraph_integer_t)n_left) : -1;
        }
    igraph_vector_int_destroy(&m);
    igraph_vector_bool_destroy(&types);
    igraph_destroy(&g);
    igraph_set_error_handler(prev);
        igraph_set_warning_handler(prevw);
    return rc;
}

static int cmp_int_desc(const void *a, const void *b) { return *(const int *)b - *(const int *)a; }

/* One pass: place every shard of size T. */
static fl_status place_pass(fl_place_state *st, fl_shard_set *ns, const fl_shard_set *old, int T,
                            const int *old_start, const int *old_list, const char *gmark, fl_error *err)
{
    const fl_nodes *nodes = st->nodes;
    size_t ngpu = fl_catalog_gpu_count(st->cat);
    block *blocks = NULL;
    size_t nb = 0, cap = 0;
    fl_status rc = FL_OK;
    size_t N = nodes->n;
    for (size_t n = 0; n < N && !rc; n++) {
        const fl_node_rec *nd = &nodes->v[n];
        if (!gmark[(size_t)nd->zone * ngpu + (size_t)nd->gpu] || nd->gpus < T)
            continue;
        rc = cut_node(st, (int)n, T, old, old_start, old_list, &blocks, &nb, &cap, err);
    }
    if (rc) {
        free(blocks);
        return rc;
    }
    for (size_t b = 0; b < nb; b++) {
        const fl_node_rec *nd = &nodes->v[blocks[b].node];
        int usedf = (int)lround(15.0 * popcount64(st->used[blocks[b].node]) / nd->gpus);
        int order = N > 1 ? (int)(15 * (N - 1 - (size_t)blocks[b].node) / (N - 1)) : 15;
        blocks[b].gw += usedf + order;
    }
    /* shards of this pass and their migration candidates */
    size_t ns_cnt = 0;
    for (size_t i = 0; i < ns->n; i++)
        ns_cnt += ns->v[i].tp == T;
    int *sidx = malloc((ns_cnt ? ns_cnt : 1) * sizeof *sidx);
    int *blk_of = malloc((ns_cnt ? ns_cnt : 1) * sizeof *blk_of);
    size_t M = st->opts.max_candidates > 0 ? (size_t)st->opts.max_candidates : 16;
    cand *cands = malloc((ns_cnt ? ns_cnt : 1) * M * sizeof *cands);
    int *ncand = calloc(ns_cnt ? ns_cnt : 1, sizeof *ncand);
    cand *tmp = malloc((nb ? nb : 1) * sizeof *tmp);
    bidx *order = malloc((nb ? nb : 1) * sizeof *order);
    if (!sidx || !blk_of || !cands || !ncand || !tmp || !order) {
        rc = fl_fail(err, FL_ENOMEM, "placement", "out of memory");
        goto done;
    }
    size_t k = 0;
    double maxb = 1.0;
    for (size_t i = 0; i < ns->n; i++)
        if (ns->v[i].tp == T) {
            blk_of[k] = -1;
            sidx[k++] = (int)i;
            if (ns->v[i].bytes > maxb)
                maxb = ns->v[i].bytes;
        }
    size_t n_bonus = 0;
    for (size_t s = 0; s < ns_cnt && old; s++) {
        const fl_shard *sh = &ns->v[sidx[s]];
        int grp = sh->zone * (int)ngpu + sh->gpu;
        size_t nt = 0;
        for (size_t b = 0; b < nb; b++) {
            if (blocks[b].old < 0 || blocks[b].group != grp)
                continue;
            const fl_shard *o = &old->v[blocks[b].old];
            double kept = fl_shard_overlap_bytes(ns, sh, old, o);
            if (kept <= 0)
                continue;
            int ident = o->pipeline == sh->pipeline && o->replica == sh->replica && o->stage == sh->stage;
            /* identity first, then rotate the order by shard so equal candidates spread out */
            int key = ident ? -1 : (int)((b + nb - (size_t)s % nb) % nb);
            tmp[nt++] = (cand){(int)b, kept, key};
        }
        if (!nt)
            continue;
        qsort(tmp, nt, sizeof *tmp, cmp_cand);
        if (nt > M)
            nt = M;
        memcpy(&cands[s * M], tmp, nt * sizeof *tmp);
        ncand[s] = (int)nt;
        for (size_t c = 0; c < nt; c++)
            blocks[tmp[c].blk].bonus = 1;
        n_bonus++;
    }
    /* blocks per group, best generic weight first (migration candidates last) */
    for (size_t b = 0; b < nb; b++)
        order[b] = (bidx){(int)b, blocks[b].group, blocks[b].bonus, blocks[b].gw};
    qsort(order, nb, sizeof *order, cmp_bidx);
    if (n_bonus) {
        /* left vertices: shards with candidates; right: all blocks */
        int *left = malloc(n_bonus * sizeof *left);
        igraph_vector_int_t edges;
        igraph_vector_t weights;
        int *match = malloc(n_bonus * sizeof *match);
        if (!left || !match || igraph_vector_int_init(&edges, 0) != IGRAPH_SUCCESS) {
            free(left);
            free(match);
            rc = fl_fail(err, FL_ENOMEM, "placement", "out of memory");
            goto done;
        }
        if (igraph_vector_init(&weights, 0) != IGRAPH_SUCCESS) {
            igraph_vector_int_destroy(&edges);
            free(left);
            free(match);
            rc = fl_fail(err, FL_ENOMEM, "placement", "out of memory");
            goto done;
        }
        size_t L = 0;
        for (size_t s = 0; s < ns_cnt; s++)
            if (ncand[s])
                left[L++] = (int)s;
        int ok = 1;
        for (size_t l = 0; l < L && ok; l++) {
            size_t s = (size_t)left[l];
            const fl_shard *sh = &ns->v[sidx[s]];
            int grp = sh->zone * (int)ngpu + sh->gpu;
            for (int c = 0; c < ncand[s] && ok; c++) {
                const cand *cd = &cands[s * M + (size_t)c];
                double kq = ceil(1000.0 * cd->kept / maxb);
                ok = igraph_vector_int_push_back(&edges, (igraph_integer_t)l) == IGRAPH_SUCCESS &&
                     igraph_vector_int_push_back(&edges, (igraph_integer_t)(L + (size_t)cd->blk)) == IGRAPH_SUCCESS &&
                     igraph_vector_push_back(&weights, BASE_W + 64.0 * kq + blocks[cd->blk].gw) == IGRAPH_SUCCESS;
            }
            /* generic edges: the best blocks of the group that are not already candidates */
            size_t want = n_bonus < M + 8 ? n_bonus : M + 8, got = 0;
            for (size_t o = 0; o < nb && got < want && ok; o++) {
                const block *bk = &blocks[order[o].i];
                if (bk->group != grp)
                    continue;
                int dup = 0;
                for (int c = 0; c < ncand[s]; c++)
                    dup |= cands[s * M + (size_t)c].blk == order[o].i;
                if (dup)
                    continue;
                ok = igraph_vector_int_push_back(&edges, (igraph_integer_t)l) == IGRAPH_SUCCESS &&
                     igraph_vector_int_push_back(&edges, (igraph_integer_t)(L + (size_t)order[o].i)) == IGRAPH_SUCCESS &&
                     igraph_vector_push_back(&weights, BASE_W + bk->gw) == IGRAPH_SUCCESS;
                got++;
            }
        }
        if (!ok)
            rc = fl_fail(err, FL_ENOMEM, "placement", "out of memory");
        else
            rc = run_matching(L, nb, &edges, &weights, match, err);
        if (!rc)
            for (size_t l = 0; l < L; l++)
                if (match[l] >= 0 && !blocks[match[l]].taken) {
                    blocks[match[l]].taken = 1;
                    blk_of[left[l]] = match[l];
                }
        igraph_vector_int_destroy(&edges);
        igraph_vector_destroy(&weights);
        free(left);
        free(match);
        if (rc)
            goto done;
    }
    /* everything not matched: best remaining block of its group, in order */
    for (size_t s = 0; s < ns_cnt; s++) {
        if (blk_of[s] >= 0)
            continue;
        const fl_shard *sh = &ns->v[sidx[s]];
        int grp = sh->zone * (int)ngpu + sh->gpu;
        for (size_t o = 0; o < nb; o++)
            if (order[o].group == grp && !blocks[order[o].i].taken) {
                blk_of[s] = order[o].i;
                blocks[order[o].i].taken = 1;
                break;
            }
        if (blk_of[s] < 0) {
            int free_g = 0, need = 0;
            for (size_t n = 0; n < N; n++)
                if (nodes->v[n].zone * (int)ngpu + nodes->v[n].gpu == grp)
                    free_g += nodes->v[n].gpus - popcount64(st->used[n]);
            for (size_t q = 0; q < ns_cnt; q++)
                need += ns->v[sidx[q]].zone == sh->zone && ns->v[sidx[q]].gpu == sh->gpu;
            rc = fl_fail(err, FL_EINFEASIBLE, "nodes",
                         "no room for shard pipeline %d replica %d stage %d (tp %d, %s in %s): the nodes there have "
                         "%d free GPUs, %d shards of tp %d need blocks of %d GPUs inside one node/NVLink domain",
                         sh->pipeline, sh->replica, sh->stage, T, fl_catalog_gpu(st->cat, (size_t)sh->gpu)->name,
                         fl_catalog_zone(st->cat, (size_t)sh->zone)->name, free_g, need, T, T);
            goto done;
        }
    }
    for (size_t s = 0; s < ns_cnt; s++) {
        fl_shard *sh = &ns->v[sidx[s]];
        const block *bk = &blocks[blk_of[s]];
        sh->node = bk->node;
        sh->mask = bk->mask;
        sh->kept = bk->old >= 0 ? fl_shard_overlap_bytes(ns, sh, old, &old->v[bk->old]) : 0.0;
        st->used[bk->node] |= bk->mask;
    }
done:
    free(blocks);
    free(sidx);
    free(blk_of);
    free(cands);
    free(ncand);
    free(tmp);
    free(order);
    return rc;
}

fl_status fl_place_shards(fl_place_state *st, fl_shard_set *ns, const fl_shard_set *old, fl_error *err)
{
    size_t N = st->nodes->n, ngpu = fl_catalog_gpu_count(st->cat), nz = fl_catalog_zone_count(st->cat);
    int *tps = malloc((ns->n ? ns->n : 1) * sizeof *tps);
    int *old_start = calloc(N + 2, sizeof *old_start);
    int *old_list = malloc(((old ? old->n : 0) + 1) * sizeof *old_list);
    char *gmark = calloc(nz * ngpu + 1, 1);
    fl_status rc = FL_OK;
    if (!tps || !old_start || !old_list || !gmark) {
        rc = fl_fail(err, FL_ENOMEM, "placement", "out of memory");
        goto done;
    }
    /* current shards grouped by node (counting sort) */
    for (size_t i = 0; old && i < old->n; i++)
        if (old->v[i].node >= 0)
            old_start[old->v[i].node + 1]++;
    for (size_t n = 0; n < N; n++)
        old_start[n + 1] += old_start[n];
    {
        int *fill = calloc(N + 1, sizeof *fill);
        if (!fill) {
            rc = fl_fail(err, FL_ENOMEM, "placement", "out of memory");
            goto done;
        }
        for (size_t i = 0; old && i < old->n; i++)
            if (old->v[i].node >= 0) {
                int n = old->v[i].node;
                old_list[old_start[n] + fill[n]++] = (int)i;
            }
        free(fill);
    }
    size_t nt = 0;
    for (size_t i = 0; i < ns->n; i++) {
        int seen = 0;
        for (size_t j = 0; j < nt; j++)
            seen |= tps[j] == ns->v[i].tp;
        if (!seen)
            tps[nt++] = ns->v[i].tp;
    }
    qsort(tps, nt, sizeof *tps, cmp_int_desc);
    for (size_t t = 0; t < nt && !rc; t++) {
        memset(gmark, 0, nz * ngpu);
        for (size_t i = 0; i < ns->n; i++)
            if (ns->v[i].tp == tps[t])
                gmark[(size_t)ns->v[i].zone * ngpu + (size_t)ns->v[i].gpu] = 1;
        rc = place_pass(st, ns, old, tps[t], old_start, old_list, gmark, err);
    }
done:
    free(tps);
    free(old_start);
    free(old_list);
    free(gmark);
    return rc;
}

fl_status fl_place_write_doc(json_t *doc, const fl_nodes *nodes, const fl_shard_set *ns, const fl_migration *mig,
                             fl_error *err)
{
    json_t *arr = json_array();
    if (!arr)
        return fl_fail(err, FL_ENOMEM, "placement", "out of memory");
    for (size_t i = 0; i < ns->n; i++) {
        const fl_shard *sh = &ns->v[i];
        json_t *g = json_array();
        for (int b = 0; b < FL_NODE_MAX_GPUS; b++)
            if ((sh->mask >> b) & 1)
                json_array_append_new(g, json_integer(b));
        json_array_append_new(arr, json_pack("{s:s, s:o, s:i, s:i, s:i}", "node", nodes->v[sh->node].id, "gpus", g,
                                             "pipeline", sh->pipeline, "replica", sh->replica, "stage", sh->stage));
    }
    json_object_set_new(doc, "placement", arr);
    if (mig)
        json_object_set_new(doc, "migration",
                            json_pack("{s:i, s:i, s:i, s:f, s:f, s:f}", "shards", mig->shards, "shards_kept",
                                      mig->shards_kept, "shards_moved", mig->shards_moved, "bytes_moved",
                                      mig->bytes_moved, "migration_s", mig->migration_s, "migration_cost",
                                      mig->migration_cost));
    return FL_OK;
}
