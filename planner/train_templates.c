/* planner/train_templates.c — pipeline templates of the training planner.
 *
 * A template is one pipeline: a sequence of stages (cell = zone × GPU type, tensor-parallel
 * degree, layer range). Templates are enumerated outside the MILP:
 *   - homogeneous: one cell, tp in {1,2,4,8} within a node, a few pipeline depths from the
 *     smallest one whose stages fit in memory;
 *   - mixed: two GPU types of one zone, k1 stages of the first then k2 of the second;
 *   - zone-spanning: one GPU type over two zones, when neither zone alone holds a replica.
 * Layers are split non-uniformly so every stage has about the same time per micro-batch and
 * fits in memory (fl_tp_split_layers), using the simulator's per-layer primitives. Each kept
 * template is then simulated (fl_train_simulate) at two micro-batch counts: the simulator's
 * iteration time is affine in the micro-batch count for 1F1B, which gives `fixed` and `slope`
 * (one replica: the data-parallel all-reduce tail is added per plan, train_dp.c).
 * Dominated templates (same cells, no fewer GPUs, no faster, no longer DP tail) are dropped. */
#include "planner/train_internal.h"
#include "common/error.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const int depth_list[] = {1, 2, 3, 4, 5, 6, 8, 10, 12, 16, 20, 24, 32, 40, 48, 64, 80, 96, 128, 160, 192, 256};
#define N_DEPTHS ((int)(sizeof depth_list / sizeof depth_list[0]))
#define HOMO_DEPTHS 4     /* depths kept per (cell, tp) beyond the smallest that fits */
#define MAX_STAGES 512
#define LARGE_POOL 24        /* cells above which mixed pipelines are limited */
#define MIX_CELLS_PER_ZONE 3

static int tp_level(int tp) { return tp >= 8 ? 3 : tp >= 4 ? 2 : tp >= 2 ? 1 : 0; }

/* Activation bytes crossing a stage boundary per micro-batch in one direction. */
static double boundary_bytes(const fl_train_setup *s)
{
    return (double)s->micro_batch * s->seq_len * s->model->hidden * fl_dtype_bytes(s->compute_dtype);
}

/* Per-build memo of the simulator figures layer splitting asks for again and again: layer and
 * edge times per (GPU, tp), and the largest layer count a stage fits per (GPU, tp, first/last,
 * micro-batches in flight). One setup per build, so the setup is not part of the keys. */
#define MEMO_SLOTS 4096
typedef struct layer_memo {
    int key[MEMO_SLOTS];       /* 0: empty */
    double val[MEMO_SLOTS][4]; /* layer fwd+bwd, edge first, last, both | max layers */
} layer_memo;

static int memo_find(layer_memo *m, int key, int *slot)
{
    unsigned h = (unsigned)key * 2654435761u;
    for (int k = 0; k < MEMO_SLOTS; k++) {
        int i = (int)((h + (unsigned)k) % MEMO_SLOTS);
        if (m->key[i] == key) {
            *slot = i;
            return 1;
        }
        if (m->key[i] == 0) {
            *slot = i;
            return 0;
        }
    }
    *slot = -1; /* full: compute without memo */
    return 0;
}

/* Largest layer count (0..layers) a stage fits in memory; in_flight micro-batches kept. Memory
 * grows with the layer count, so the largest count under any cap is min(cap, uncapped). */
static int max_layers(layer_memo *m, const fl_catalog *cat, const fl_train_setup *s, int gpu, int tp, int has_first,
                      int has_last, int in_flight, int layers)
{
    int slot = -1, key = 0;
    if (m) {
        key = -(1 + (((gpu * 16 + tp) * 2 + has_first) * 2 + has_last) * 1024 - in_flight); /* < 0: max-layer keys */
        if (memo_find(m, key, &slot)) {
            int v = (int)m->val[slot][0];
            return v < layers ? v : layers;
        }
    }
    int cap_layers = m ? s->model->layers : layers;
    double cap = fl_train_memory_capacity(cat, gpu);
    int lo = 0;
    if (fl_train_stage_memory(cat, s, gpu, tp, 1, has_first, has_last, in_flight, 1) <= cap) {
        int hi = cap_layers;
        lo = 1;
        while (lo < hi) {
            int mid = lo + (hi - lo + 1) / 2;
            if (fl_train_stage_memory(cat, s, gpu, tp, mid, has_first, has_last, in_flight, 1) <= cap)
                lo = mid;
            else
                hi = mid - 1;
        }
    }
    if (slot >= 0) {
        m->key[slot] = key;
        m->val[slot][0] = lo;
    }
    return lo < layers ? lo : layers;
}

/* Layer time (fwd+bwd) of (gpu, tp) and the edge time (embedding when has_first, LM head + loss
 * when has_last) of a stage. */
static void layer_figures(layer_memo *m, const fl_catalog *cat, const fl_train_setup *s, int gpu, int tp,
                          int has_first, int has_last, double *lt, double *edge)
{
    int slot = -1, key = 1 + gpu * 16 + tp;
    if (!m || !memo_find(m, key, &slot)) {
        double v[4], f, b;
        fl_train_layer_time(cat, s, gpu, tp, &f, &b);
        v[0] = f + b;
        for (int k = 1; k < 4; k++) {
            fl_train_edge_time(cat, s, gpu, tp, k & 1, k >> 1, &f, &b);
            v[k] = f + b;
        }
        if (slot < 0) {
            *lt = v[0];
            *edge = has_first || has_last ? v[has_first + 2 * has_last] : 0;
            return;
        }
        m->key[slot] = key;
        memcpy(m->val[slot], v, sizeof v);
    }
    *lt = m->val[slot][0];
    *edge = has_first || has_last ? m->val[slot][has_first + 2 * has_last] : 0;
}

static int split_layers(layer_memo *memo, const fl_catalog *cat, const fl_train_setup *s, int n, const int *gpu,
                        const int *tp, const int *zone, int layers, int *first, int *last, double *bottleneck_s);

int fl_tp_split_layers(const fl_catalog *cat, const fl_train_setup *s, int n, const int *gpu, const int *tp,
                       const int *zone, int layers, int *first, int *last, double *bottleneck_s)
{
    return split_layers(NULL, cat, s, n, gpu, tp, zone, layers, first, last, bottleneck_s);
}

static int split_layers(layer_memo *memo, const fl_catalog *cat, const fl_train_setup *s, int n, const int *gpu,
                        const int *tp, const int *zone, int layers, int *first, int *last, double *bottleneck_s)
{
    if (n < 1 || n > layers || n > MAX_STAGES)
        return 0;
    double lt[MAX_STAGES], base[MAX_STAGES];
    int cap[MAX_STAGES], cnt[MAX_STAGES];
    int total_cap = 0;
    double bytes = boundary_bytes(s);
    for (int i = 0; i < n; i++) {
        int hf = i == 0, hl = i == n - 1;
        layer_figures(memo, cat, s, gpu[i], tp[i], hf, hl, &lt[i], &base[i]);
        if (i < n - 1)
            base[i] += 2 * fl_train_p2p_time(cat, gpu[i], zone[i], zone[i + 1], 0, bytes);
        cap[i] = max_layers(memo, cat, s, gpu[i], tp[i], hf, hl, n - i, layers - (n - 1));
        if (cap[i] < 1 || !(lt[i] > 0))
            return 0;
        total_cap += cap[i];
    }
    if (total_cap < layers)
        return 0;
    /* Bisect the bottleneck time: at tau each stage takes as many layers as fit in tau. */
    double lo = 0, hi = 0;
    for (int i = 0; i < n; i++)
        if (base[i] + lt[i] * cap[i] > hi)
            hi = base[i] + lt[i] * cap[i];
    for (int it = 0; it < 64 && hi - lo > 1e-12 * hi; it++) {
        double mid = 0.5 * (lo + hi);
        long sum = 0;
        int ok = 1;
        for (int i = 0; i < n && ok; i++) {
            double k = floor((mid - base[i]) / lt[i] + 1e-9);
            int c = k < 0 ? 0 : k > cap[i] ? cap[i] : (int)k;
            ok = c >= 1;
            sum += c;
        }
        if (ok && sum >= layers)
            hi = mid;
        else
            lo = mid;
    }
    long sum = 0;
    for (int i = 0; i < n; i++) {
        double k = floor((hi - base[i]) / lt[i] + 1e-9);
        cnt[i] = k < 1 ? 1 : k > cap[i] ? cap[i] : (int)k;
        sum += cnt[i];
    }
    if (sum < layers)
        return 0;
    /* Give back the surplus from the slowest stages. */
    while (sum > layers) {
        int w = -1;
        for (int i = 0; i < n; i++)
            if (cnt[i] > 1 && (w < 0 || base[i] + lt[i] * cnt[i] > base[w] + lt[w] * cnt[w]))
                w = i;
        if (w < 0)
            return 0;
        cnt[w]--;
        sum--;
    }
    double bn = 0;
    int at = 0;
    for (int i = 0; i < n; i++) {
        first[i] = at;
        at += cnt[i];
        last[i] = at;
        double t = base[i] + lt[i] * cnt[i];
        if (t > bn)
            bn = t;
    }
    if (bottleneck_s)
        *bottleneck_s = bn;
    return 1;
}

/* Layer split a framework target can express (docs/frameworks.md, "Planner targets"), replacing
 * the balanced split: deepspeed partitions layers uniformly (counts differ by at most one, the
 * first stages take the extra ones: DeepSpeed's partition_uniform); megatron gives every middle
 * stage the same count and lets only the first and last stages differ
 * (--decoder-first/last-pipeline-num-layers), choosing the middle count with the fastest slowest
 * stage; torchtitan takes arbitrary split points, so the balanced split stays. Returns 0 when no
 * such split fits in memory. */
static int target_split(layer_memo *memo, const fl_catalog *cat, const fl_train_setup *s, fl_target target, int n,
                        const int *gpu, const int *tp, const int *zone, int layers, int *first, int *last)
{
    if (target == FL_TARGET_TORCHTITAN || target == FL_TARGET_FLOTILLA)
        return 1;
    double lt[MAX_STAGES], base[MAX_STAGES];
    int cap[MAX_STAGES], cnt[MAX_STAGES], best[MAX_STAGES];
    double bytes = boundary_bytes(s);
    for (int i = 0; i < n; i++) {
        int hf = i == 0, hl = i == n - 1;
        layer_figures(memo, cat, s, gpu[i], tp[i], hf, hl, &lt[i], &base[i]);
        if (i < n - 1)
            base[i] += 2 * fl_train_p2p_time(cat, gpu[i], zone[i], zone[i + 1], 0, bytes);
        cap[i] = max_layers(memo, cat, s, gpu[i], tp[i], hf, hl, n - i, layers);
    }
    double best_t = -1;
    int lo_m = 1, hi_m = layers;
    if (target == FL_TARGET_DEEPSPEED || n <= 2)
        lo_m = hi_m = layers / n; /* one candidate (for n <= 2 the middle count is unused) */
    for (int m = lo_m; m <= hi_m; m++) {
        if (target == FL_TARGET_DEEPSPEED) {
            for (int i = 0; i < n; i++)
                cnt[i] = layers / n + (i < layers % n);
        } else if (n == 1) {
            cnt[0] = layers;
        } else {
            int r = layers - m * (n - 2);
            if (r < 2)
                break;
            cnt[0] = r / 2;
            cnt[n - 1] = r - r / 2;
            for (int i = 1; i < n - 1; i++)
                cnt[i] = m;
        }
        double t = 0;
        int ok = 1;
        for (int i = 0; i < n && ok; i++) {
            ok = cnt[i] >= 1 && cnt[i] <= cap[i];
            if (base[i] + lt[i] * cnt[i] > t)
                t = base[i] + lt[i] * cnt[i];
        }
        if (ok && (best_t < 0 || t < best_t)) {
            best_t = t;
            memcpy(best, cnt, (size_t)n * sizeof *cnt);
        }
    }
    if (best_t < 0)
        return 0;
    int at = 0;
    for (int i = 0; i < n; i++) {
        first[i] = at;
        at += best[i];
        last[i] = at;
    }
    return 1;
}

double fl_tp_template_time(const fl_tp_template *t, long m)
{
    return t->fixed + (double)(m - 1) * t->slope;
}

long fl_tp_template_max_mb(const fl_tp_template *t, double T, long cap)
{
    if (T < t->fixed * (1 - 1e-12))
        return 0;
    if (t->slope <= 0)
        return cap;
    double k = floor((T - t->fixed) / t->slope + 1e-9) + 1;
    return k > (double)cap ? cap : (long)k;
}

typedef struct build_ctx {
    const fl_catalog *cat;
    const fl_job *job;
    const fl_tp_pool *pool;
    fl_tp_set *set;
    fl_train_stage *sim_stages;  /* scratch, MAX_STAGES */
    layer_memo *memo;            /* figures of this build's setup */
} build_ctx;

static fl_status grow(fl_tp_set *set, int stages_needed, fl_error *err)
{
    if (set->n_tpl == set->cap_tpl) {
        int nc = set->cap_tpl ? 2 * set->cap_tpl : 256;
        fl_tp_template *p = realloc(set->tpl, (size_t)nc * sizeof *p);
        if (!p)
            return fl_fail(err, FL_ENOMEM, "planner", "out of memory");
        set->tpl = p;
        set->cap_tpl = nc;
    }
    if (set->n_stages + stages_needed > set->cap_stages) {
        int nc = set->cap_stages ? 2 * set->cap_stages : 4096;
        while (nc < set->n_stages + stages_needed)
            nc *= 2;
        fl_tp_stage *p = realloc(set->stages, (size_t)nc * sizeof *p);
        if (!p)
            return fl_fail(err, FL_ENOMEM, "planner", "out of memory");
        set->stages = p;
        set->cap_stages = nc;
    }
    return FL_OK;
}

/* Simulate one pipeline of the template (replicas copies, m micro-batches). */
static int simulate(build_ctx *c, int n, int replicas, int m, double *iter_s)
{
    fl_train_pipeline pipe = {.replicas = replicas, .micro_batches = m, .n_stages = n, .stages = c->sim_stages};
    fl_train_result res;
    memset(&res, 0, sizeof res);
    if (fl_train_simulate(c->cat, &c->set->setup, &pipe, 1, &res, NULL) != FL_OK)
        return 0;
    *iter_s = res.iteration_s;
    return res.fits && res.iteration_s > 0;
}

/* Add a template from its stage list (cells and tp per stage); splits the layers, simulates.
 * Returns 1 when added, 0 when it does not fit; *tpl_index gets the index. */
static fl_status add_template(build_ctx *c, int n, const int *cell, const int *tp, int *added, fl_error *err)
{
    *added = 0;
    fl_tp_set *set = c->set;
    const fl_tp_pool *pool = c->pool;
    int layers = set->setup.model->layers;
    if (n < 1 || n > layers || n > MAX_STAGES)
        return FL_OK;
    set->n_enumerated++;
    int gpu[MAX_STAGES], zone[MAX_STAGES], first[MAX_STAGES], last[MAX_STAGES];
    for (int i = 0; i < n; i++) {
        gpu[i] = pool->cells[cell[i]].gpu;
        zone[i] = pool->cells[cell[i]].zone;
    }
    double bn;
    if (!split_layers(c->memo, c->cat, &set->setup, n, gpu, tp, zone, layers, first, last, &bn))
        return FL_OK;
    /* DeepSpeed's pipeline engine runs ZeRO stage 0 or 1 only */
    if (c->job->target == FL_TARGET_DEEPSPEED && set->setup.zero_stage >= 2 && n > 1)
        return FL_OK;
    if (c->job->target != FL_TARGET_FLOTILLA &&
        !target_split(c->memo, c->cat, &set->setup, c->job->target, n, gpu, tp, zone, layers, first, last))
        return FL_OK;
    fl_tp_template t;
    memset(&t, 0, sizeof t);
    t.zone = zone[0];
    double bytes = boundary_bytes(&set->setup);
    for (int i = 0; i < n; i++) {
        fl_train_stage *st = &c->sim_stages[i];
        st->first_layer = first[i];
        st->last_layer = last[i];
        st->gpu = gpu[i];
        st->zone = zone[i];
        st->tp = tp[i];
        int k;
        for (k = 0; k < t.n_cells; k++)
            if (t.cells[k] == cell[i])
                break;
        if (k == t.n_cells) {
            if (t.n_cells == FL_TPL_MAX_CELLS)
                return FL_OK;
            t.cells[t.n_cells++] = cell[i];
        }
        for (int l = 0; l <= tp_level(tp[i]); l++)
            t.gpus[k][l] += tp[i];
        t.total_gpus += tp[i];
        t.price += tp[i] * pool->cells[cell[i]].gpu_price;
        if (zone[i] != t.zone)
            t.zone = -1;
        if (i < n - 1 && zone[i] != zone[i + 1]) {
            fl_link lk = fl_catalog_link(c->cat, zone[i], zone[i + 1]);
            t.egress_gb += 2 * bytes / 1e9;
            if (lk.egress_per_gb > t.egress_price)
                t.egress_price = lk.egress_per_gb;
        }
    }
    /* Timed without data parallelism: the all-reduce tail depends on the DP group the template
     * joins and is added per plan (train_dp.c). ZeRO-3 keeps two replicas so its per-micro-batch
     * weight all-gathers are in the pipeline time; with one replica ZeRO shards nothing, which
     * is also the memory check. */
    int m1 = n, m2 = 2 * n + 2, reps = set->setup.zero_stage >= 3 ? 2 : 1;
    double it1, it2, it0;
    if (reps > 1 && !simulate(c, n, 1, m1, &it0))
        return FL_OK;
    if (!simulate(c, n, reps, m1, &it1) || !simulate(c, n, reps, m2, &it2))
        return FL_OK;
    t.slope = (it2 - it1) / (m2 - m1);
    if (!(t.slope > 0))
        t.slope = it1 / m1;
    t.fixed = it1 - (m1 - 1) * t.slope;
    if (!(t.fixed > 0))
        t.fixed = t.slope;
    fl_status rc = grow(set, n, err);
    if (rc)
        return rc;
    t.first_stage = set->n_stages;
    t.n_stages = n;
    for (int i = 0; i < n; i++)
        set->stages[set->n_stages++] = (fl_tp_stage){.cell = cell[i], .tp = tp[i], .first = first[i], .last = last[i]};
    set->tpl[set->n_tpl++] = t;
    *added = 1;
    return FL_OK;
}

static int tp_valid(const fl_tp_cell *cl, const fl_model *m, int tp)
{
    return tp <= cl->node && cl->node % tp == 0 && m->heads % tp == 0;
}

/* Homogeneous templates of one cell; *best_tp gets the tp with the best throughput per GPU. */
static fl_status homogeneous(build_ctx *c, int ci, int *best_tp, int *best_depth, fl_error *err)
{
    const fl_tp_cell *cl = &c->pool->cells[ci];
    const fl_model *m = c->set->setup.model;
    int cells[MAX_STAGES], tps[MAX_STAGES];
    double best = -1;
    *best_tp = 0;
    *best_depth = 0;
    for (int tp = 1; tp <= 8; tp *= 2) {
        if (!tp_valid(cl, m, tp))
            continue;
        int found = -1;
        for (int d = 0; d < N_DEPTHS && depth_list[d] <= m->layers; d++) {
            int p = depth_list[d];
            if (found >= 0 && d > found + HOMO_DEPTHS)
                break;
            if (cl->avail >= 0 && p * tp > cl->avail && found >= 0)
                break;
            for (int i = 0; i < p; i++) {
                cells[i] = ci;
                tps[i] = tp;
            }
            int added;
            fl_status rc = add_template(c, p, cells, tps, &added, err);
            if (rc)
                return rc;
            if (!added)
                continue;
            if (found < 0)
                found = d;
            const fl_tp_template *t = &c->set->tpl[c->set->n_tpl - 1];
            double perf = 1.0 / (t->slope * t->total_gpus);
            if (perf > best) {
                best = perf;
                *best_tp = tp;
                *best_depth = p;
            }
        }
    }
    if (!*best_tp) { /* nothing fits alone: mixed pipelines use the largest tp */
        for (int tp = 8; tp >= 1 && !*best_tp; tp /= 2)
            if (tp_valid(cl, m, tp))
                *best_tp = tp;
    }
    return FL_OK;
}

static const int mix_counts[] = {1, 2, 3, 4, 6, 8, 12, 16};
#define N_MIX ((int)(sizeof mix_counts / sizeof mix_counts[0]))

/* Mixed-type templates of two cells (a first, then b), k1 and k2 stages. Stops growing k once
 * a fitting template is found (deeper ones rarely pay and the homogeneous depths cover it). */
static fl_status mixed(build_ctx *c, int a, int ta, int b, int tb, fl_error *err)
{
    int cells[MAX_STAGES], tps[MAX_STAGES];
    int layers = c->set->setup.model->layers;
    int found = 0;
    for (int i = 0; i < N_MIX && found < 6; i++)
        for (int j = 0; j < N_MIX && found < 6; j++) {
            int k1 = mix_counts[i], k2 = mix_counts[j];
            if (k1 + k2 > layers || k1 + k2 > 64)
                continue;
            const fl_tp_cell *ca = &c->pool->cells[a], *cb = &c->pool->cells[b];
            if ((ca->avail >= 0 && k1 * ta > ca->avail) || (cb->avail >= 0 && k2 * tb > cb->avail))
                continue;
            for (int s = 0; s < k1; s++) { cells[s] = a; tps[s] = ta; }
            for (int s = 0; s < k2; s++) { cells[k1 + s] = b; tps[k1 + s] = tb; }
            int added;
            fl_status rc = add_template(c, k1 + k2, cells, tps, &added, err);
            if (rc)
                return rc;
            found += added;
        }
    return FL_OK;
}

/* Two-zone pipelines of one GPU type for cells too small to hold a replica alone. */
static fl_status spanning(build_ctx *c, int a, int b, int tp, int depth, fl_error *err)
{
    int cells[MAX_STAGES], tps[MAX_STAGES];
    const fl_tp_cell *ca = &c->pool->cells[a], *cb = &c->pool->cells[b];
    for (int p = depth; p <= 2 * depth && p <= c->set->setup.model->layers; p += (depth + 1) / 2) {
        int k1 = ca->avail < 0 ? p / 2 : ca->avail / tp;
        if (k1 >= p)
            k1 = p - 1;
        if (k1 < 1 || (cb->avail >= 0 && (p - k1) * tp > cb->avail))
            continue;
        for (int s = 0; s < p; s++) {
            cells[s] = s < k1 ? a : b;
            tps[s] = tp;
        }
        int added;
        fl_status rc = add_template(c, p, cells, tps, &added, err);
        if (rc)
            return rc;
    }
    return FL_OK;
}

/* Compute a cell can contribute: GPUs available (unlimited counts as many) x peak FLOP/s. */
static double cell_power(const fl_catalog *cat, const fl_tp_cell *cl)
{
    const fl_gpu *g = fl_catalog_gpu(cat, (size_t)cl->gpu);
    double f = g->bf16_flops > 0 ? g->bf16_flops : g->fp16_flops;
    return (cl->avail < 0 ? 1e6 : cl->avail) * f;
}

/* 1 when template x is no better than y in every respect (same cells). */
static int dominated(const fl_tp_template *x, const fl_tp_template *y)
{
    if (x->n_cells != y->n_cells)
        return 0;
    for (int k = 0; k < x->n_cells; k++) {
        if (x->cells[k] != y->cells[k])
            return 0;
        for (int l = 0; l < FL_TP_LEVELS; l++)
            if (y->gpus[k][l] > x->gpus[k][l])
                return 0;
    }
    return y->slope <= x->slope && y->fixed <= x->fixed && y->egress_gb <= x->egress_gb &&
           y->dp_tail[0] <= x->dp_tail[0] && y->dp_tail[1] <= x->dp_tail[1];
}

static void prune_dominated(fl_tp_set *set)
{
    int n = set->n_tpl, k = 0;
    char *drop = calloc((size_t)n + 1, 1);
    if (!drop)
        return;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n && !drop[i]; j++)
            if (i != j && !drop[j] && dominated(&set->tpl[i], &set->tpl[j]) &&
                (!dominated(&set->tpl[j], &set->tpl[i]) || j < i))
                drop[i] = 1;
    for (int i = 0; i < n; i++)
        if (!drop[i])
            set->tpl[k++] = set->tpl[i];
    set->n_tpl = k;
    free(drop);
}

fl_status fl_tp_templates_build(const fl_catalog *cat, const fl_job *job, const fl_tp_pool *pool, fl_tp_set *set,
                                fl_error *err)
{
    build_ctx c = {.cat = cat, .job = job, .pool = pool, .set = set};
    c.sim_stages = calloc(MAX_STAGES, sizeof *c.sim_stages);
    c.memo = calloc(1, sizeof *c.memo);
    int *btp = calloc((size_t)pool->n_cells + 1, sizeof *btp);
    int *bdepth = calloc((size_t)pool->n_cells + 1, sizeof *bdepth);
    fl_status rc = FL_OK;
    if (!c.sim_stages || !c.memo || !btp || !bdepth) {
        rc = fl_fail(err, FL_ENOMEM, "planner", "out of memory");
        goto done;
    }
    for (int i = 0; i < pool->n_cells && !rc; i++)
        rc = homogeneous(&c, i, &btp[i], &bdepth[i], err);
    /* Mixed GPU types inside one zone, both orders; in large pools only between the
     * MIX_CELLS_PER_ZONE most powerful cells of each zone. */
    char *mixable = calloc((size_t)pool->n_cells + 1, 1);
    if (!mixable) {
        rc = fl_fail(err, FL_ENOMEM, "planner", "out of memory");
        goto done;
    }
    for (int a = 0; a < pool->n_cells; a++) {
        int rank = 0;
        for (int b = 0; b < pool->n_cells; b++)
            if (b != a && pool->cells[b].zone == pool->cells[a].zone &&
                (cell_power(cat, &pool->cells[b]) > cell_power(cat, &pool->cells[a]) ||
                 (cell_power(cat, &pool->cells[b]) == cell_power(cat, &pool->cells[a]) && b < a)))
                rank++;
        mixable[a] = pool->n_cells <= LARGE_POOL || rank < MIX_CELLS_PER_ZONE;
    }
    /* (framework targets: one GPU type per pipeline stage across replicas, so no mixed pipelines) */
    for (int a = 0; a < pool->n_cells && !rc && job->target == FL_TARGET_FLOTILLA; a++)
        for (int b = 0; b < pool->n_cells && !rc; b++)
            if (a != b && mixable[a] && mixable[b] && pool->cells[a].zone == pool->cells[b].zone &&
                pool->cells[a].gpu != pool->cells[b].gpu && btp[a] && btp[b])
                rc = mixed(&c, a, btp[a], b, btp[b], err);
    free(mixable);
    /* One GPU type over two zones when a zone alone is too small for a replica. */
    for (int a = 0; a < pool->n_cells && !rc; a++) {
        const fl_tp_cell *ca = &pool->cells[a];
        if (ca->avail < 0 || !bdepth[a] || ca->avail >= bdepth[a] * btp[a])
            continue;
        int spans = 0;
        for (int pass = 0; pass < 2 && spans < 3 && !rc; pass++)
            for (int b = 0; b < pool->n_cells && spans < 3 && !rc; b++) {
                const fl_tp_cell *cb = &pool->cells[b];
                if (b == a || cb->gpu != ca->gpu || cb->zone == ca->zone)
                    continue;
                int same_region = strcmp(fl_catalog_zone(cat, (size_t)ca->zone)->region,
                                         fl_catalog_zone(cat, (size_t)cb->zone)->region) == 0;
                if (same_region != (pass == 0))
                    continue;
                rc = spanning(&c, a, b, btp[a], bdepth[a], err);
                spans++;
            }
    }
    if (!rc) {
        fl_tp_dp_tails(cat, job, pool, set);
        prune_dominated(set);
    }
done:
    free(c.sim_stages);
    free(c.memo);
    free(btp);
    free(bdepth);
    return rc;
}

void fl_tp_set_free(fl_tp_set *set)
{
    if (!set)
        return;
    free(set->tpl);
    free(set->stages);
    memset(set, 0, sizeof *set);
}
