/* simulator/train_sim.c — fl_train_simulate: one training iteration of a whole plan.
 * Validates the pipelines, derives per-stage forward/backward/p2p times from the layer model
 * (cached per GPU type and tp degree), runs every pipeline's schedule (train_schedule.c), adds
 * the data-parallel gradient all-reduce per stage across every replica holding the same layers
 * (overlapped with the last backward when dp_overlap), the optimizer step, and memory per stage.
 * No allocation: per-stage scratch lives on the stack (FL_TRAIN_MAX_STAGES). */
#include "simulator/train_sim.h"
#include "common/error.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define MAX_PIPES 64
#define CACHE 32
/* Bytes touched per local parameter by a mixed-precision Adam step (fp32 master, m, v read and
 * written, gradient read, 16-bit weights written, gradient-norm pass). */
#define ADAM_BYTES_PER_PARAM 34.0
#define SGD_BYTES_PER_PARAM 22.0

void fl_train_setup_from_job(fl_train_setup *s, const fl_job *job)
{
    memset(s, 0, sizeof *s);
    s->model = &job->model;
    s->seq_len = job->seq_len;
    s->micro_batch = 1;
    s->compute_dtype = job->compute_dtype;
    s->master_weights = job->master_weights;
    s->grad_dtype = job->grad_dtype;
    s->optimizer = job->optimizer;
    s->zero_stage = job->zero_stage;
    s->recompute = job->recompute == FL_RC_AUTO ? FL_RC_NONE : job->recompute;
    s->flash = job->flash;
    s->interleave = 1;
    s->sequence_parallel = 0;
    s->dp_overlap = 1;
}

/* Layer figures of one (gpu, tp) pair, computed once per simulate call. */
typedef struct layer_entry {
    int gpu, tp;
    double fwd, bwd, tp_fwd, tp_bwd;   /* per layer, one micro-batch (fwd/bwd include tp comm) */
    double act, act_full;              /* activation bytes per layer (with / without recompute) */
    double peak, hbm_bw, link_bw;
    int measured, node_gpus;
    int edge_done[2];                  /* edge times computed: [0] first stage, [1] last stage */
    double edge_f[2], edge_b[2];
} layer_entry;

/* Largest instance of the entry's GPU type. */
static int entry_node_gpus(const fl_catalog *cat, layer_entry *e)
{
    (void)cat;
    return e->node_gpus;
}

/* Embedding (which = 0) or LM head + loss (which = 1) time of one micro-batch, memoised. */
static void entry_edge(const fl_catalog *cat, const fl_train_setup *s, layer_entry *e, int which, double *f, double *b)
{
    if (!e->edge_done[which]) {
        fl_train_edge_time(cat, s, e->gpu, e->tp, which == 0, which == 1, &e->edge_f[which], &e->edge_b[which]);
        e->edge_done[which] = 1;
    }
    *f += e->edge_f[which];
    *b += e->edge_b[which];
}

static inline double max2(double a, double b)
{
    return a > b ? a : b;
}

static layer_entry *lookup(layer_entry *cache, int *n, const fl_catalog *cat, const fl_train_setup *s,
                                 int gpu, int tp)
{
    for (int i = 0; i < *n; i++)
        if (cache[i].gpu == gpu && cache[i].tp == tp)
            return &cache[i];
    layer_entry *e = &cache[*n < CACHE ? (*n)++ : CACHE - 1];
    fl_train_layer_cost c;
    fl_train_layer_cost_get(cat, s, gpu, tp, &c);
    e->gpu = gpu;
    e->tp = tp;
    e->fwd = c.fwd_compute_s + c.fwd_comm_s;
    e->bwd = c.bwd_compute_s + c.bwd_comm_s;
    e->tp_fwd = c.fwd_comm_s;
    e->tp_bwd = c.bwd_comm_s;
    e->act = c.act_bytes;
    e->act_full = c.act_bytes;
    e->measured = c.measured;
    if (s->recompute == FL_RC_FULL) {
        fl_train_setup ns = *s;
        ns.recompute = FL_RC_NONE;
        fl_train_layer_cost cf;
        fl_train_layer_cost_get(cat, &ns, gpu, tp, &cf);
        e->act_full = cf.act_bytes;
    }
    fl_train_gpu_perf p;
    fl_train_gpu_perf_get(cat, gpu, s->compute_dtype, &p);
    e->peak = p.peak_flops;
    e->hbm_bw = p.hbm_bw;
    e->link_bw = p.link_bw;
    e->node_gpus = fl_train_node_gpus(cat, gpu);
    e->edge_done[0] = e->edge_done[1] = 0;
    return e;
}

/* Structural checks; errors name "pipelines[i].stages[j].field". */
static fl_status validate(const fl_catalog *cat, const fl_train_setup *s, const fl_train_pipeline *pipes, int n_pipes,
                          fl_error *err)
{
    const fl_model *m = s->model;
    if (!m || m->layers <= 0)
        return fl_fail(err, FL_EINVAL, "model", "model: missing or without layers");
    if (s->seq_len <= 0)
        return fl_fail(err, FL_EINVAL, "seq_len", "seq_len: must be positive (got %d)", s->seq_len);
    if (s->micro_batch <= 0)
        return fl_fail(err, FL_EINVAL, "micro_batch", "micro_batch: must be positive (got %d)", s->micro_batch);
    if (s->zero_stage < 0 || s->zero_stage > 3)
        return fl_fail(err, FL_EINVAL, "zero_stage", "zero_stage: must be 0..3 (got %d)", s->zero_stage);
    if (s->interleave < 1)
        return fl_fail(err, FL_EINVAL, "chunks", "chunks: must be >= 1 (got %d)", s->interleave);
    if (n_pipes <= 0 || n_pipes > MAX_PIPES)
        return fl_fail(err, FL_EINVAL, "pipelines", "pipelines: expected 1 to %d pipelines (got %d)", MAX_PIPES, n_pipes);
    int n_gpus = (int)fl_catalog_gpu_count(cat), n_zones = (int)fl_catalog_zone_count(cat);
    for (int i = 0; i < n_pipes; i++) {
        const fl_train_pipeline *pl = &pipes[i];
        char f[128];
        if (pl->replicas <= 0) {
            snprintf(f, sizeof f, "pipelines[%d].replicas", i);
            return fl_fail(err, FL_EINVAL, f, "%s: must be positive (got %d)", f, pl->replicas);
        }
        if (pl->micro_batches <= 0) {
            snprintf(f, sizeof f, "pipelines[%d].micro_batches", i);
            return fl_fail(err, FL_EINVAL, f, "%s: must be positive (got %d)", f, pl->micro_batches);
        }
        if (pl->n_stages <= 0 || pl->n_stages > FL_TRAIN_MAX_STAGES || !pl->stages) {
            snprintf(f, sizeof f, "pipelines[%d].stages", i);
            return fl_fail(err, FL_EINVAL, f, "%s: expected 1 to %d stages (got %d)", f, FL_TRAIN_MAX_STAGES, pl->n_stages);
        }
        int next = 0;
        for (int j = 0; j < pl->n_stages; j++) {
            const fl_train_stage *st = &pl->stages[j];
            /* field names are only formatted on failure (this runs on the planner's hot path) */
            if (st->first_layer != next || st->last_layer <= st->first_layer || st->last_layer > m->layers) {
                snprintf(f, sizeof f, "pipelines[%d].stages[%d].layers", i, j);
                if (st->first_layer != next)
                    return fl_fail(err, FL_EINVAL, f, "%s: starts at layer %d but the previous stage ends at %d (%s)", f,
                                   st->first_layer, next, st->first_layer > next ? "gap" : "overlap");
                if (st->last_layer <= st->first_layer)
                    return fl_fail(err, FL_EINVAL, f, "%s: [%d, %d) holds no layer", f, st->first_layer, st->last_layer);
                return fl_fail(err, FL_EINVAL, f, "%s: ends at %d beyond the model's %d layers", f, st->last_layer,
                               m->layers);
            }
            next = st->last_layer;
            if (st->tp < 1 || st->tp > 64 || m->heads % st->tp) {
                snprintf(f, sizeof f, "pipelines[%d].stages[%d].tp", i, j);
                if (st->tp < 1 || st->tp > 64)
                    return fl_fail(err, FL_EINVAL, f, "%s: must be between 1 and 64 (got %d)", f, st->tp);
                return fl_fail(err, FL_EINVAL, f, "%s: %d does not divide the model's %d heads", f, st->tp, m->heads);
            }
            if (st->gpu < 0 || st->gpu >= n_gpus) {
                snprintf(f, sizeof f, "pipelines[%d].stages[%d].gpu", i, j);
                return fl_fail(err, FL_EINVAL, f, "%s: GPU index %d out of range", f, st->gpu);
            }
            if (st->zone < 0 || st->zone >= n_zones) {
                snprintf(f, sizeof f, "pipelines[%d].stages[%d].zone", i, j);
                return fl_fail(err, FL_EINVAL, f, "%s: zone index %d out of range", f, st->zone);
            }
        }
        if (next != m->layers) {
            snprintf(f, sizeof f, "pipelines[%d].stages[%d].layers", i, pl->n_stages - 1);
            return fl_fail(err, FL_EINVAL, f, "%s: the stages end at layer %d, the model has %d layers (gap)", f, next,
                           m->layers);
        }
    }
    return FL_OK;
}

/* Bandwidth and latency of the slowest link spanned by the data-parallel group of stage (pi, si):
 * every replica of every pipeline holding one of its layers. 0 bandwidth = intra-node. */
static void dp_link(const fl_catalog *cat, const fl_train_pipeline *pipes, int n_pipes, int pi, int si, int n_dp,
                    layer_entry *le, int uniform, double *bw, double *lat)
{
    const fl_train_stage *st = &pipes[pi].stages[si];
    if (uniform) { /* every stage of every pipeline in one zone on one GPU type */
        if (n_dp * st->tp <= entry_node_gpus(cat, le)) {
            *bw = 0;
            *lat = 0;
            return;
        }
        fl_link l = fl_catalog_link(cat, st->zone, st->zone);
        *bw = l.bandwidth > 0 ? l.bandwidth : 1e9;
        *lat = l.latency;
        return;
    }
    int same = 1;
    double minbw = 1e300, maxlat = 0;
    for (int q = 0; q < n_pipes; q++) {
        const fl_train_pipeline *pl = &pipes[q];
        /* stages are contiguous and sorted: find the first one ending after our first layer */
        int lo = 0, hi = pl->n_stages - 1;
        while (lo < hi) {
            int mid = (lo + hi) / 2;
            if (pl->stages[mid].last_layer <= st->first_layer)
                lo = mid + 1;
            else
                hi = mid;
        }
        for (int j = lo; j < pl->n_stages && pl->stages[j].first_layer < st->last_layer; j++) {
            const fl_train_stage *o = &pl->stages[j];
            if (o->zone != st->zone || o->gpu != st->gpu)
                same = 0;
            fl_link l = fl_catalog_link(cat, st->zone, o->zone);
            if (l.bandwidth < minbw)
                minbw = l.bandwidth;
            if (l.latency > maxlat)
                maxlat = l.latency;
        }
    }
    if (same && n_dp * st->tp <= entry_node_gpus(cat, le)) {
        *bw = 0;
        *lat = 0;
        return;
    }
    *bw = minbw > 0 && minbw < 1e300 ? minbw : 1e9;
    *lat = maxlat;
}

fl_status fl_train_simulate(const fl_catalog *cat, const fl_train_setup *s, const fl_train_pipeline *pipes,
                            int n_pipes, fl_train_result *res, fl_error *err)
{
    if (!cat || !s || !pipes || !res)
        return fl_fail(err, FL_EMISUSE, "simulate", "fl_train_simulate: NULL argument");
    fl_status rc = validate(cat, s, pipes, n_pipes, err);
    if (rc)
        return rc;
    const fl_model *m = s->model;
    int cap_stages = res->stages ? res->n_stage_results : 0;
    fl_train_stage_result *out_st = res->stages;
    memset(res, 0, sizeof *res);
    res->stages = out_st;
    res->fits = 1;

    layer_entry cache[CACHE];
    int n_cache = 0;
    double fwd[FL_TRAIN_MAX_STAGES], bwd[FL_TRAIN_MAX_STAGES], p2p[FL_TRAIN_MAX_STAGES];
    double last_end[FL_TRAIN_MAX_STAGES];
    int n_dp = 0;
    for (int i = 0; i < n_pipes; i++)
        n_dp += pipes[i].replicas;
    double e = fl_dtype_bytes(s->compute_dtype) < 2 && s->compute_dtype != FL_DT_FP32 ? 2 : fl_dtype_bytes(s->compute_dtype);
    double T = (double)s->micro_batch * s->seq_len;
    double grad_b = fl_dtype_bytes(s->grad_dtype);
    double layer_params = fl_train_layer_params(m);
    int v = s->interleave > 1 ? s->interleave : 1;
    /* one zone and one GPU type throughout: the DP group of every stage spans that zone only */
    int uniform = 1;
    for (int i = 0; i < n_pipes && uniform; i++)
        for (int j = 0; j < pipes[i].n_stages; j++)
            if (pipes[i].stages[j].zone != pipes[0].stages[0].zone || pipes[i].stages[j].gpu != pipes[0].stages[0].gpu) {
                uniform = 0;
                break;
            }

    double iter_end = 0, pipe_end_max = 0, optimizer = 0, peak_gpu_flops = 0, sequences = 0;
    double worst_busy = -1, worst_bubble = 0, worst_dp = 0;
    int worst_busy_stage = 0, worst_busy_pipe = 0, worst_dp_stage = 0, worst_dp_pipe = 0, worst_bubble_pipe = 0;
    int worst_tp_bound = 0, stage_out = 0;
    double worst_p2p = 0;
    int worst_p2p_stage = 0, worst_p2p_pipe = 0;

    for (int pi = 0; pi < n_pipes; pi++) {
        const fl_train_pipeline *pl = &pipes[pi];
        int p = pl->n_stages, mb = pl->micro_batches;
        sequences += (double)pl->replicas * mb * s->micro_batch;
        /* pipeline replica packed in one node when it fits (same GPU type and zone) */
        int one_node = 1, sum_tp = 0;
        for (int j = 0; j < p; j++) {
            sum_tp += pl->stages[j].tp;
            if (pl->stages[j].gpu != pl->stages[0].gpu || pl->stages[j].zone != pl->stages[0].zone)
                one_node = 0;
        }
        if (one_node && sum_tp > entry_node_gpus(cat, lookup(cache, &n_cache, cat, s, pl->stages[0].gpu, pl->stages[0].tp)))
            one_node = 0;
        double tp_per_stage[FL_TRAIN_MAX_STAGES];
        double p2p_last = 0;
        int key_gpu = -1, key_za = -1, key_zb = -1;
        for (int j = 0; j < p; j++) {
            const fl_train_stage *st = &pl->stages[j];
            layer_entry *le = lookup(cache, &n_cache, cat, s, st->gpu, st->tp);
            int nl = st->last_layer - st->first_layer;
            int first = j == 0, last = j == p - 1;
            double ef = 0, eb = 0;
            if (first)
                entry_edge(cat, s, le, 0, &ef, &eb);
            if (last)
                entry_edge(cat, s, le, 1, &ef, &eb);
            fwd[j] = nl * le->fwd + ef;
            bwd[j] = nl * le->bwd + eb;
            tp_per_stage[j] = nl * (le->tp_fwd + le->tp_bwd);
            if (s->zero_stage >= 3 && n_dp > 1) {
                /* ZeRO-3 all-gathers the stage weights in forward and again in backward */
                double bw, lat;
                dp_link(cat, pipes, n_pipes, pi, j, n_dp, le, uniform, &bw, &lat);
                double wbytes = nl * layer_params * e; /* the whole tp group's share crosses the node link */
                double ag = bw > 0 ? (double)(n_dp - 1) / n_dp * wbytes / bw + (n_dp - 1) * lat
                                   : 0.5 * fl_train_allreduce_time(wbytes / st->tp, n_dp, le->link_bw, 8e-6);
                fwd[j] += ag;
                bwd[j] += ag;
            }
            if (!last) {
                const fl_train_stage *nx = &pl->stages[j + 1];
                double bytes = T * m->hidden * e;
                /* consecutive stages usually share GPU type and zones: reuse the last transfer time */
                if (st->gpu != key_gpu || st->zone != key_za || nx->zone != key_zb) {
                    key_gpu = st->gpu, key_za = st->zone, key_zb = nx->zone;
                    p2p_last = fl_train_p2p_time(cat, st->gpu, st->zone, nx->zone, one_node, bytes);
                }
                p2p[j] = p2p_last;
            } else {
                p2p[j] = 0;
            }
        }
        fl_train_sched_out so;
        fl_train_schedule(p, mb, v, fwd, bwd, p2p, last_end, &so);
        if (so.end_s > pipe_end_max)
            pipe_end_max = so.end_s;
        double bubble_t = so.bubble_fraction * so.end_s;
        if (so.bubble_fraction > res->bubble_fraction)
            res->bubble_fraction = so.bubble_fraction;
        if (bubble_t > worst_bubble) {
            worst_bubble = bubble_t;
            worst_bubble_pipe = pi;
        }
        for (int j = 0; j < p; j++) {
            const fl_train_stage *st = &pl->stages[j];
            layer_entry *le = lookup(cache, &n_cache, cat, s, st->gpu, st->tp);
            int nl = st->last_layer - st->first_layer;
            int first = j == 0, last = j == p - 1;
            double stage_params = (nl * layer_params + (first ? fl_train_embed_params(m) : 0) +
                                   (last ? fl_train_head_params(m, p > 1) : 0)) / st->tp;
            /* data-parallel gradient reduction (all-reduce; reduce-scatter + all-gather under ZeRO) */
            double ar = 0;
            if (n_dp > 1) {
                double bw, lat;
                dp_link(cat, pipes, n_pipes, pi, j, n_dp, le, uniform, &bw, &lat);
                if (bw > 0) /* the tp GPUs of the stage share the node's link */
                    ar = fl_train_allreduce_time(stage_params * grad_b * st->tp, n_dp, bw, lat);
                else
                    ar = fl_train_allreduce_time(stage_params * grad_b, n_dp, le->link_bw, 8e-6);
            }
            double exposed = s->dp_overlap ? max2(0.0, ar - bwd[j] / v) : ar;
            double done = last_end[j] + exposed;
            if (done > iter_end)
                iter_end = done;
            double local_params = stage_params / (s->zero_stage >= 1 ? n_dp : 1);
            double opt = local_params * (s->optimizer == FL_OPT_ADAM ? ADAM_BYTES_PER_PARAM : SGD_BYTES_PER_PARAM) /
                         le->hbm_bw;
            if (opt > optimizer)
                optimizer = opt;
            double busy = mb * (fwd[j] + bwd[j]);
            if (busy > worst_busy) {
                worst_busy = busy;
                worst_busy_stage = j;
                worst_busy_pipe = pi;
                worst_tp_bound = tp_per_stage[j] * mb > 0.5 * busy;
            }
            if (2.0 * mb * v * p2p[j] > worst_p2p) {
                worst_p2p = 2.0 * mb * v * p2p[j];
                worst_p2p_stage = j;
                worst_p2p_pipe = pi;
            }
            double dp_tail = done - so.end_s;
            if (dp_tail > worst_dp) {
                worst_dp = dp_tail;
                worst_dp_stage = j;
                worst_dp_pipe = pi;
            }
            double inflight = fl_train_in_flight(p, j, mb, v);
            double mem = fl_train_stage_memory_from(s, &(fl_train_layer_cost){.act_bytes = le->act}, le->act_full,
                                                    st->tp, nl, first, last, inflight, n_dp);
            double capb = fl_train_memory_capacity(cat, st->gpu);
            int fits = mem <= capb;
            if (!fits && res->fits) {
                res->fits = 0;
                snprintf(res->reason, sizeof res->reason,
                         "pipeline %d stage %d needs %.1f GB per GPU, %s has %.1f GB usable", pi, j, mem / 1e9,
                         fl_catalog_gpu(cat, (size_t)st->gpu)->name, capb / 1e9);
            }
            peak_gpu_flops += le->peak * st->tp * pl->replicas;
            if (stage_out < cap_stages) {
                fl_train_stage_result *r = &out_st[stage_out];
                r->fwd_s = fwd[j];
                r->bwd_s = bwd[j];
                r->compute_s = busy - mb * tp_per_stage[j];
                r->p2p_s = p2p[j];
                r->tp_comm_s = mb * tp_per_stage[j];
                r->peak_memory_bytes = mem;
                r->memory_capacity_bytes = capb;
                r->fits = fits;
            }
            stage_out++;
        }
    }
    if (iter_end < pipe_end_max)
        iter_end = pipe_end_max;
    res->dp_allreduce_s = iter_end - pipe_end_max;
    res->optimizer_s = optimizer;
    res->iteration_s = iter_end + optimizer;
    res->n_stage_results = stage_out < cap_stages ? stage_out : cap_stages;
    if (!res->stages)
        res->n_stage_results = 0;
    res->tokens_per_s = sequences * s->seq_len / res->iteration_s;
    fl_train_setup one = *s;
    res->model_flops = 3.0 * fl_train_model_fwd_flops(&one) * (sequences / s->micro_batch);
    res->mfu = peak_gpu_flops > 0 ? res->model_flops / (res->iteration_s * peak_gpu_flops) : 0;

    /* the largest contributor on the critical path */
    const fl_train_stage *bs = &pipes[worst_busy_pipe].stages[worst_busy_stage];
    const char *gname = fl_catalog_gpu(cat, (size_t)bs->gpu)->name;
    char pre[32] = "";
    if (n_pipes > 1)
        snprintf(pre, sizeof pre, "pipeline %d ", worst_busy_pipe);
    double best = worst_busy;
    snprintf(res->bottleneck, sizeof res->bottleneck, "%sstage %d %s (%s)", pre, worst_busy_stage,
             worst_tp_bound ? "tensor-parallel communication" : "compute", gname);
    if (worst_p2p > best) {
        best = worst_p2p;
        if (n_pipes > 1)
            snprintf(res->bottleneck, sizeof res->bottleneck, "pipeline %d p2p stage %d -> %d", worst_p2p_pipe,
                     worst_p2p_stage, worst_p2p_stage + 1);
        else
            snprintf(res->bottleneck, sizeof res->bottleneck, "p2p stage %d -> %d", worst_p2p_stage,
                     worst_p2p_stage + 1);
    }
    if (worst_bubble > best) {
        best = worst_bubble;
        snprintf(res->bottleneck, sizeof res->bottleneck, "pipeline bubble (pipeline %d, %d stages, %d micro-batches)",
                 worst_bubble_pipe, pipes[worst_bubble_pipe].n_stages, pipes[worst_bubble_pipe].micro_batches);
    }
    if (res->dp_allreduce_s > best) {
        best = res->dp_allreduce_s;
        snprintf(res->bottleneck, sizeof res->bottleneck, "data-parallel all-reduce (pipeline %d stage %d, %d replicas)",
                 worst_dp_pipe, worst_dp_stage, n_dp);
    }
    if (optimizer > best)
        snprintf(res->bottleneck, sizeof res->bottleneck, "optimizer step");
    return FL_OK;
}
