/* simulator/train_sim.c — fl_train_simulate: one training iteration of a whole plan.
 * Validates the pipelines, derives per-stage forward/backward/p2p times from the layer model
 * (cached per GPU type and tp degree), runs every pipeline's schedule (train_schedule.c), adds
 * per micro-batch the gradient accumulation pass, the data-parallel gradient all-reduce per stage
 * across every replica holding the same layers (overlapped with the last backward when
 * dp_overlap, except the bucket of the gradients produced last), the optimizer step (HBM bytes
 * pass by pass), and memory per stage.
 * No allocation: per-stage scratch lives on the stack (FL_TRAIN_MAX_STAGES). */
#include "simulator/train_sim.h"
#include "common/error.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define MAX_PIPES 64
#define CACHE 32 /* (gpu, tp) entries; a plan with more evicts the last one */
/* HBM bytes touched per local parameter by the optimizer step, pass by pass as mixed-precision
 * frameworks run it (Megatron-LM's Float16Optimizer, PyTorch AMP + multi-tensor Adam):
 * - 16-bit gradients copied into fp32 main gradients when an fp32 master copy is kept (read
 *   grad, write 4);
 * - fp16 only: loss-scale unscale with the inf/NaN check (read and write the fp32 gradient);
 * - gradient-norm pass for clipping (read the fp32 gradient);
 * - the update: Adam reads weight, gradient, m, v and writes weight, m, v (7 x 4 bytes); SGD with
 *   momentum reads weight, gradient, momentum and writes weight, momentum (5 x 4);
 * - fp32 master weights copied back to the 16-bit model weights (read 4, write e). */
static double optimizer_bytes_per_param(const fl_train_setup *s, double e)
{
    double update = s->optimizer == FL_OPT_SGD ? 20 : 28;
    if (s->optimizer_impl != FL_OPT_FUSED) /* one pass per elementwise op (decay, lerp of m, v update,
                                              sqrt, eps, addcdiv): the state is re-read per op */
        update = s->optimizer == FL_OPT_SGD ? 36 : 72;
    if (s->framework == FL_FW_TORCH_AMP) /* fp32 parameters and .grad stepped in place */
        return update;
    int master = s->master_weights && !fl_dtype_is_fp32(s->compute_dtype);
    double g = fl_dtype_bytes(s->grad_dtype);
    double b = 0;
    if (master && g < 4)
        b += g + 4;
    if (s->compute_dtype == FL_DT_FP16)
        b += 8;
    b += 4;
    b += update;
    if (master)
        b += 4 + e;
    return b;
}

/* Host seconds to launch the optimizer step over `tensors` parameter tensors: a fused kernel per
 * ~100 tensors per op group, multi-tensor (foreach) kernels per elementwise op for each group, or
 * one kernel per op per tensor. */
static double optimizer_host_s(const fl_train_setup *s, const fl_train_fw_params *fw, double tensors)
{
    double ops = s->optimizer == FL_OPT_SGD ? 4 : 10, groups = ceil(tensors / 100);
    double kernels = s->optimizer_impl == FL_OPT_FUSED ? groups : s->optimizer_impl == FL_OPT_FOREACH
                                                                      ? ops * groups : ops * tensors;
    return kernels * fw->launch_fwd_s;
}

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
    s->optimizer_impl = job->optimizer_impl;
    s->framework = job->framework;
    s->zero_stage = job->zero_stage;
    s->recompute = job->recompute == FL_RC_AUTO ? FL_RC_NONE : job->recompute;
    s->flash = job->flash;
    s->interleave = 1;
    s->sequence_parallel = 0;
    s->dp_overlap = 1;
    s->dropout = job->dropout > 0;
}

/* Layer figures of one (gpu, tp) pair, computed once per simulate call. */
typedef struct layer_entry {
    int gpu, tp;
    int zkey;                          /* zone whose declared intra-node link applies, -1: the datasheet's */
    double fwd, bwd, tp_fwd, tp_bwd;   /* per layer, one micro-batch (fwd/bwd include tp comm) */
    double act, act_full;              /* activation bytes per layer (with / without recompute) */
    double peak, hbm_bw, link_bw, link_lat, capacity;
    int measured, node_gpus;
    int edge_done[2];                  /* edge times computed: [0] first stage, [1] last stage */
    double edge_f[2], edge_b[2];
    fl_train_gpu_perf perf;
    fl_train_mem_plan mem;             /* memory figures of this tp at the plan's dp */
    int k_nl;                          /* middle-stage layer count and DP link of the figures below */
    double k_bw, k_lat, k_ar, k_opt, k_states, k_inv_nl; /* k_inv_nl = 1 / k_nl: no division per stage */
    double acc_per_param, acc_layer;   /* gradient accumulation seconds per parameter / per layer, one micro-batch */
} layer_entry;

/* Embedding (which = 0) or LM head + loss (which = 1) time of one micro-batch, memoised. */
static void entry_edge(const fl_train_setup *s, layer_entry *e, int which, double *f, double *b)
{
    if (!e->edge_done[which]) {
        fl_train_edge_time_with(&e->perf, s, e->tp, which == 0, which == 1, &e->edge_f[which], &e->edge_b[which]);
        e->edge_done[which] = 1;
    }
    *f += e->edge_f[which];
    *b += e->edge_b[which];
}

static inline double max2(double a, double b)
{
    return a > b ? a : b;
}

/* The entry of (gpu, tp), computing it on first use: layer cost (performance figures looked up
 * once), activation bytes without recomputation, memory plan at n_dp replicas. */
static layer_entry *lookup(layer_entry *cache, int *n, const fl_catalog *cat, const fl_train_setup *s, int gpu, int tp,
                           int zkey, int n_dp)
{
    for (int i = 0; i < *n; i++)
        if (cache[i].gpu == gpu && cache[i].tp == tp && cache[i].zkey == zkey)
            return &cache[i];
    layer_entry *e = &cache[*n < CACHE ? (*n)++ : CACHE - 1];
    fl_train_gpu_perf_get(cat, gpu, s->compute_dtype, &e->perf);
    e->zkey = zkey;
    if (zkey >= 0) /* the intra-node link declared for this zone's on-prem nodes, if any */
        fl_train_gpu_link(cat, zkey, gpu, &e->perf.link_bw, &e->perf.link_lat);
    fl_train_layer_cost c;
    fl_train_layer_cost_with(cat, &e->perf, s, gpu, tp, &c);
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
        e->act_full = fl_train_layer_act_bytes(cat, &ns, gpu, tp);
    }
    e->peak = e->perf.peak_flops;
    e->hbm_bw = e->perf.hbm_bw;
    e->link_bw = e->perf.link_bw;
    e->link_lat = e->perf.link_lat;
    e->capacity = fl_train_memory_capacity(cat, gpu);
    /* every micro-batch adds its weight gradients into the accumulated gradient, a memory-bound
     * pass outside the GEMMs (PyTorch autograd's AccumulateGrad, Megatron-LM's DDP main_grad.add_):
     * read the new 16-bit gradient, read and write the accumulator in the gradient dtype */
    e->acc_per_param = (fl_train_act_elem_bytes(s) + 2 * fl_dtype_bytes(s->grad_dtype)) / (tp * e->perf.hbm_bw);
    e->acc_layer = e->acc_per_param * fl_train_layer_params(s->model);
    if (s->framework == FL_FW_TORCH_AMP) {
        /* fp32 .grad += fp32 gradient (12 bytes per parameter) from the second micro-batch on: the
         * first one's gradient is taken over without a pass; scaled by (m - 1) / m per pipeline */
        e->acc_per_param = 12.0 / (tp * e->perf.hbm_bw * e->perf.fw[FL_FW_TORCH_AMP].eltwise_bw_frac);
        e->acc_layer = c.acc_gpu_s > c.acc_host_s ? c.acc_gpu_s : c.acc_host_s;
    }
    e->node_gpus = fl_train_node_gpus(cat, gpu);
    e->edge_done[0] = e->edge_done[1] = 0;
    fl_train_mem_plan_init(&e->mem, s, tp, n_dp, &e->perf.fw[s->framework == FL_FW_TORCH_AMP]);
    e->k_nl = -1;
    return e;
}

/* What validation learns about the plan's shape on the way. */
typedef struct plan_shape {
    int uniform;                /* one GPU type in one zone throughout */
    int aligned;                /* every pipeline splits the layers at the same boundaries */
    int same_gz[MAX_PIPES];     /* the pipeline's stages share the GPU type and zone of its stage 0 */
    int sum_tp[MAX_PIPES];      /* GPUs of one replica of the pipeline */
} plan_shape;

/* Structural checks; errors name "pipelines[i].stages[j].field". Fills *shape when valid. */
static fl_status validate(const fl_catalog *cat, const fl_train_setup *s, const fl_train_pipeline *pipes, int n_pipes,
                          plan_shape *shape, fl_error *err)
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
    shape->aligned = 1;
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
        int next = 0, tp_ok = 0; /* last tp found to divide the heads */
        const fl_train_stage *s0 = &pl->stages[0];
        shape->same_gz[i] = 1;
        shape->sum_tp[i] = 0;
        if (i > 0 && pl->n_stages != pipes[0].n_stages)
            shape->aligned = 0;
        for (int j = 0; j < pl->n_stages; j++) {
            const fl_train_stage *st = &pl->stages[j];
            if (st->gpu != s0->gpu || st->zone != s0->zone)
                shape->same_gz[i] = 0;
            shape->sum_tp[i] += st->tp;
            if (i > 0 && shape->aligned && st->first_layer != pipes[0].stages[j].first_layer)
                shape->aligned = 0;
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
            if (st->tp < 1 || st->tp > 64 || (st->tp != tp_ok && m->heads % st->tp)) {
                snprintf(f, sizeof f, "pipelines[%d].stages[%d].tp", i, j);
                if (st->tp < 1 || st->tp > 64)
                    return fl_fail(err, FL_EINVAL, f, "%s: must be between 1 and 64 (got %d)", f, st->tp);
                return fl_fail(err, FL_EINVAL, f, "%s: %d does not divide the model's %d heads", f, st->tp, m->heads);
            }
            tp_ok = st->tp;
            if ((unsigned)st->gpu >= (unsigned)n_gpus) {
                snprintf(f, sizeof f, "pipelines[%d].stages[%d].gpu", i, j);
                return fl_fail(err, FL_EINVAL, f, "%s: GPU index %d out of range", f, st->gpu);
            }
            if ((unsigned)st->zone >= (unsigned)n_zones) {
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
    shape->uniform = 1;
    for (int i = 0; i < n_pipes; i++)
        if (!shape->same_gz[i] || pipes[i].stages[0].gpu != pipes[0].stages[0].gpu ||
            pipes[i].stages[0].zone != pipes[0].stages[0].zone)
            shape->uniform = 0;
    return FL_OK;
}

/* Zone-to-zone links looked up during one simulate call (a plan spans few zone pairs). */
#define LINK_MEMO 16
typedef struct link_memo {
    const fl_catalog *cat;
    int za[LINK_MEMO], zb[LINK_MEMO]; /* -1: empty */
    double bw[LINK_MEMO], lat[LINK_MEMO];
} link_memo;

/* Bandwidth and latency of the catalog link between zones za and zb (memo slot by zone pair). */
static inline void zone_link(link_memo *lm, int za, int zb, double *bw, double *lat)
{
    int i = (za * 5 + zb) & (LINK_MEMO - 1);
    if (lm->za[i] != za || lm->zb[i] != zb) {
        fl_link l = fl_catalog_link(lm->cat, za, zb);
        lm->za[i] = za, lm->zb[i] = zb, lm->bw[i] = l.bandwidth, lm->lat[i] = l.latency;
    }
    *bw = lm->bw[i];
    *lat = lm->lat[i];
}

/* Data-parallel group of stage j when every pipeline splits the layers alike: stage j of every
 * pipeline. same: all of them on one GPU type in one zone; zones: the distinct zones (nz = 0
 * when more than DP_ZONES, then the group is walked stage by stage). */
#define DP_ZONES 4
typedef struct dp_group {
    int same, nz;
    int zone[DP_ZONES];
} dp_group;

static void dp_groups(const fl_train_pipeline *pipes, int n_pipes, dp_group *g)
{
    for (int j = 0; j < pipes[0].n_stages; j++) {
        const fl_train_stage *s0 = &pipes[0].stages[j];
        g[j].same = 1;
        g[j].nz = 0;
        for (int q = 0; q < n_pipes && g[j].nz >= 0; q++) {
            const fl_train_stage *os = &pipes[q].stages[j];
            if (os->zone != s0->zone || os->gpu != s0->gpu)
                g[j].same = 0;
            int k = 0;
            while (k < g[j].nz && g[j].zone[k] != os->zone)
                k++;
            if (k == g[j].nz)
                g[j].nz = k < DP_ZONES ? k + 1 : -1;
            if (g[j].nz > k)
                g[j].zone[k] = os->zone;
        }
        if (g[j].nz < 0)
            g[j].nz = 0;
    }
}

/* Bandwidth and latency of the slowest link spanned by the data-parallel group of every stage
 * of pipeline pi: every replica of every pipeline holding one of its layers. 0 bandwidth =
 * intra-node. With groups (every pipeline splits the layers alike) stage j's group is stage j
 * of each; otherwise stages are contiguous and sorted, so each other pipeline is walked once. */
static void dp_links(const fl_catalog *cat, link_memo *lm, const fl_train_pipeline *pipes, int n_pipes, int pi,
                     int n_dp, int uniform, const dp_group *groups, layer_entry *const *ent, double *bw, double *lat)
{
    const fl_train_pipeline *pl = &pipes[pi];
    int first[MAX_PIPES] = {0}; /* per pipeline: first stage ending after the current stage's start */
    for (int j = 0; j < pl->n_stages; j++) {
        const fl_train_stage *st = &pl->stages[j];
        int intra = n_dp * st->tp <= (ent[j]->gpu == st->gpu ? ent[j]->node_gpus : fl_train_node_gpus(cat, st->gpu));
        double lbw, llat;
        if (uniform) { /* every stage of every pipeline in one zone on one GPU type */
            zone_link(lm, st->zone, st->zone, &lbw, &llat);
            bw[j] = intra ? 0 : (lbw > 0 ? lbw : 1e9);
            lat[j] = intra ? 0 : llat;
            continue;
        }
        int same = 1;
        double minbw = 1e300, maxlat = 0;
        if (groups && groups[j].nz == 1) { /* one zone: the stage's own */
            same = groups[j].same;
            zone_link(lm, st->zone, st->zone, &minbw, &maxlat);
        } else if (groups && groups[j].nz > 0) {
            same = groups[j].same; /* the stage is one of the group */
            for (int k = 0; k < groups[j].nz; k++) {
                zone_link(lm, st->zone, groups[j].zone[k], &lbw, &llat);
                minbw = lbw < minbw ? lbw : minbw;
                maxlat = llat > maxlat ? llat : maxlat;
            }
        } else {
            for (int q = 0; q < n_pipes; q++) {
                const fl_train_pipeline *o = &pipes[q];
                int k = groups ? j : first[q];
                while (k < o->n_stages - 1 && o->stages[k].last_layer <= st->first_layer)
                    k++;
                first[q] = k;
                for (; k < o->n_stages && o->stages[k].first_layer < st->last_layer; k++) {
                    const fl_train_stage *os = &o->stages[k];
                    if (os->zone != st->zone || os->gpu != st->gpu)
                        same = 0;
                    zone_link(lm, st->zone, os->zone, &lbw, &llat);
                    minbw = lbw < minbw ? lbw : minbw;
                    maxlat = llat > maxlat ? llat : maxlat;
                }
            }
        }
        if (same && intra) {
            bw[j] = 0;
            lat[j] = 0;
        } else {
            bw[j] = minbw > 0 && minbw < 1e300 ? minbw : 1e9;
            lat[j] = maxlat;
        }
    }
}

/* A bounded string being built: like snprintf into buf[size], it keeps at most size - 1 chars. */
typedef struct text {
    char *buf;
    size_t size, len;
} text;

static void put_str(text *t, const char *str)
{
    while (*str && t->len + 1 < t->size)
        t->buf[t->len++] = *str++;
    t->buf[t->len] = 0;
}

/* Decimal, as %d. */
static void put_int(text *t, int v)
{
    char d[16];
    int n = 0;
    unsigned u = v < 0 ? 0u - (unsigned)v : (unsigned)v;
    do
        d[n++] = (char)('0' + u % 10);
    while ((u /= 10) > 0);
    if (v < 0)
        d[n++] = '-';
    char out[16];
    for (int i = 0; i < n; i++)
        out[i] = d[n - 1 - i];
    out[n] = 0;
    put_str(t, out);
}

fl_status fl_train_simulate(const fl_catalog *cat, const fl_train_setup *s, const fl_train_pipeline *pipes,
                            int n_pipes, fl_train_result *res, fl_error *err)
{
    if (!cat || !s || !pipes || !res)
        return fl_fail(err, FL_EMISUSE, "simulate", "fl_train_simulate: NULL argument");
    plan_shape shape = {0};
    fl_status rc = validate(cat, s, pipes, n_pipes, &shape, err);
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
    double e = fl_train_act_elem_bytes(s);
    double T = (double)s->micro_batch * s->seq_len;
    double grad_b = fl_dtype_bytes(s->grad_dtype);
    double layer_params = fl_train_layer_params(m);
    int v = s->interleave > 1 ? s->interleave : 1;
    /* one zone and one GPU type throughout: the DP group of every stage spans that zone only */
    int uniform = shape.uniform, aligned = shape.aligned;

    link_memo lm;
    lm.cat = cat;
    for (int i = 0; i < LINK_MEMO; i++)
        lm.za[i] = lm.zb[i] = -1;
    dp_group groups[FL_TRAIN_MAX_STAGES];
    if (aligned && !uniform && n_dp > 1)
        dp_groups(pipes, n_pipes, groups);
    double embed_params = fl_train_embed_params(m);
    double head_params[2] = {fl_train_head_params(m, 0), fl_train_head_params(m, 1)};
    double opt_bytes = optimizer_bytes_per_param(s, e);
    int amp = s->framework == FL_FW_TORCH_AMP;
    /* entries are per zone only when the catalog has on-prem nodes, which may declare their link */
    int zkeyed = fl_catalog_node_count(cat) > 0;

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
        int one_node = shape.same_gz[pi] && shape.sum_tp[pi] <= fl_train_node_gpus(cat, pl->stages[0].gpu);
        layer_entry *ent[FL_TRAIN_MAX_STAGES];
        for (int j = 0; j < p; j++) { /* neighbours and alternating stages usually share the entry */
            const fl_train_stage *st = &pl->stages[j];
            int zk = zkeyed ? st->zone : -1;
            if (j > 0 && st->gpu == ent[j - 1]->gpu && st->tp == ent[j - 1]->tp && zk == ent[j - 1]->zkey)
                ent[j] = ent[j - 1];
            else if (j > 1 && st->gpu == ent[j - 2]->gpu && st->tp == ent[j - 2]->tp && zk == ent[j - 2]->zkey)
                ent[j] = ent[j - 2];
            else
                ent[j] = lookup(cache, &n_cache, cat, s, st->gpu, st->tp, zk, n_dp);
        }
        double dbw[FL_TRAIN_MAX_STAGES], dlat[FL_TRAIN_MAX_STAGES];
        if (n_dp > 1)
            dp_links(cat, &lm, pipes, n_pipes, pi, n_dp, uniform, aligned ? groups : NULL, ent, dbw, dlat);
        double tp_per_stage[FL_TRAIN_MAX_STAGES];
        double p2p_last = 0;
        int key_za = -1, key_zb = -1; /* zones of the transfer last computed (one_node: any) */
        for (int j = 0; j < p; j++) {
            const fl_train_stage *st = &pl->stages[j];
            layer_entry *le = ent[j];
            if (n_cache == CACHE && (le->gpu != st->gpu || le->tp != st->tp || le->zkey != (zkeyed ? st->zone : -1)))
                le = ent[j] = lookup(cache, &n_cache, cat, s, st->gpu, st->tp, zkeyed ? st->zone : -1, n_dp);
            int nl = st->last_layer - st->first_layer;
            int first = j == 0, last = j == p - 1;
            double ef = 0, eb = 0;
            if (first)
                entry_edge(s, le, 0, &ef, &eb);
            if (last)
                entry_edge(s, le, 1, &ef, &eb);
            fwd[j] = nl * le->fwd + ef;
            bwd[j] = nl * le->bwd + eb;
            /* gradient accumulation of the stage's parameters (tp-local) per micro-batch */
            double acc = nl * le->acc_layer;
            if (first || last)
                acc += le->acc_per_param * ((first ? embed_params : 0) + (last ? head_params[p > 1] : 0));
            bwd[j] += amp ? acc * (mb - 1) / mb : acc;
            tp_per_stage[j] = nl * (le->tp_fwd + le->tp_bwd);
            if (s->zero_stage >= 3 && n_dp > 1) {
                /* ZeRO-3 all-gathers the stage weights in forward and again in backward */
                double bw = dbw[j], lat = dlat[j];
                double wbytes = nl * layer_params * e; /* the whole tp group's share crosses the node link */
                double ag = bw > 0 ? (double)(n_dp - 1) / n_dp * wbytes / bw + (n_dp - 1) * lat
                                   : 0.5 * fl_train_allreduce_time(wbytes / st->tp, n_dp, le->link_bw, 8e-6);
                fwd[j] += ag;
                bwd[j] += ag;
            }
            if (!last) {
                const fl_train_stage *nx = &pl->stages[j + 1];
                double bytes = T * m->hidden * e;
                /* within one node the GPU link of the (single) GPU type, else the zones' link:
                 * reuse the last transfer time while they do not change */
                if (one_node ? key_za < 0 : st->zone != key_za || nx->zone != key_zb) {
                    key_za = st->zone, key_zb = nx->zone;
                    if (one_node) {
                        p2p_last = bytes / le->link_bw + le->link_lat;
                    } else { /* as fl_train_p2p_time across nodes, with the link memoised */
                        double bw, lat;
                        zone_link(&lm, st->zone, nx->zone, &bw, &lat);
                        p2p_last = fl_train_link_transfer_time(bytes, bw, lat);
                    }
                }
                p2p[j] = p2p_last;
            } else {
                p2p[j] = 0;
            }
        }
        fl_train_sched_out so;
        if (s->p2p_blocking) {
            /* a stage is busy until each send completes: a forward chunk sends its activations to the
             * next stage, a backward chunk its gradient to the previous one; the data is there when
             * the op ends */
            double bf[FL_TRAIN_MAX_STAGES], bb[FL_TRAIN_MAX_STAGES], none[FL_TRAIN_MAX_STAGES];
            for (int j = 0; j < p; j++) {
                bf[j] = fwd[j] + v * p2p[j];
                bb[j] = bwd[j] + (j > 0 ? v * p2p[j - 1] : 0);
                none[j] = 0;
            }
            fl_train_schedule(p, mb, v, bf, bb, none, last_end, &so);
        } else {
            fl_train_schedule(p, mb, v, fwd, bwd, p2p, last_end, &so);
        }
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
            layer_entry *le = ent[j];
            if (n_cache == CACHE && (le->gpu != st->gpu || le->tp != st->tp || le->zkey != (zkeyed ? st->zone : -1)))
                le = lookup(cache, &n_cache, cat, s, st->gpu, st->tp, zkeyed ? st->zone : -1, n_dp);
            int nl = st->last_layer - st->first_layer;
            int first = j == 0, last = j == p - 1;
            double bw = n_dp > 1 ? dbw[j] : 0, lat = n_dp > 1 ? dlat[j] : 0;
            /* gradient all-reduce and optimizer step; a middle stage reuses those of the last middle
             * stage of its entry with the same layer count and DP link (the usual case) */
            double ar, opt, states;
            if (first || last || nl != le->k_nl || bw != le->k_bw || lat != le->k_lat) {
                double stage_params = (nl * layer_params + (first ? embed_params : 0) + (last ? head_params[p > 1] : 0)) /
                                      st->tp;
                /* data-parallel gradient reduction (all-reduce; reduce-scatter + all-gather under ZeRO) */
                ar = 0;
                if (n_dp > 1) {
                    if (bw > 0) /* the tp GPUs of the stage share the node's link */
                        ar = fl_train_allreduce_time(stage_params * grad_b * st->tp, n_dp, bw, lat);
                    else
                        ar = fl_train_allreduce_time(stage_params * grad_b, n_dp, le->link_bw, 8e-6);
                }
                double local_params = stage_params / (s->zero_stage >= 1 ? n_dp : 1);
                opt = local_params * opt_bytes / (le->hbm_bw * le->perf.fw[amp].opt_bw_frac);
                double tensors = nl * (m->activation == FL_ACT_GELU ? 12 : 9) + (first ? 2 : 0) + (last ? 3 : 0);
                opt = max2(opt, optimizer_host_s(s, &le->perf.fw[amp], tensors));
                states = fl_train_mem_plan_states(&le->mem, nl, first, last);
                if (!first && !last)
                    le->k_nl = nl, le->k_bw = bw, le->k_lat = lat, le->k_ar = ar, le->k_opt = opt, le->k_states = states,
                    le->k_inv_nl = 1.0 / nl;
            } else {
                ar = le->k_ar, opt = le->k_opt, states = le->k_states;
            }
            /* overlapped with the last backward, except the gradients produced last: the stage's
             * first layer and, on the first stage, the embeddings are complete only when the
             * backward ends, so their bucket's all-reduce starts after it (PyTorch DDP buckets) */
            double exposed = ar;
            if (s->dp_overlap && ar > 0) {
                double tail = first ? ar * (layer_params + embed_params) /
                                          (nl * layer_params + embed_params + (last ? head_params[p > 1] : 0))
                                    : (last ? ar / nl : ar * le->k_inv_nl);
                exposed = max2(tail, ar - (v > 1 ? bwd[j] / v : bwd[j]));
            }
            double done = last_end[j] + exposed;
            if (done > iter_end)
                iter_end = done;
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
            double inflight = v > 1 ? fl_train_in_flight(p, j, mb, v) : (p - j < mb ? p - j : mb);
            double live, reserved;
            double mem = fl_train_mem_plan_parts(&le->mem, states, le->act, le->act_full, nl, first, last, inflight,
                                                 &live, &reserved);
            double capb = le->capacity;
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
                r->allocated_bytes = live;
                r->reserved_bytes = reserved;
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
    res->iteration_s = iter_end + optimizer + (amp ? cache[0].perf.fw[FL_FW_TORCH_AMP].iter_fixed_s : 0);
    res->n_stage_results = stage_out < cap_stages ? stage_out : cap_stages;
    if (!res->stages)
        res->n_stage_results = 0;
    res->tokens_per_s = sequences * s->seq_len / res->iteration_s;
    fl_train_setup one = *s;
    res->model_flops = 3.0 * fl_train_model_fwd_flops(&one) * (sequences / s->micro_batch);
    res->mfu = peak_gpu_flops > 0 ? res->model_flops / (res->iteration_s * peak_gpu_flops) : 0;

    /* the largest contributor on the critical path (formatted once, for the winner) */
    enum { BN_BUSY, BN_P2P, BN_BUBBLE, BN_DP, BN_OPT } bn = BN_BUSY;
    double best = worst_busy;
    if (worst_p2p > best)
        best = worst_p2p, bn = BN_P2P;
    if (worst_bubble > best)
        best = worst_bubble, bn = BN_BUBBLE;
    if (res->dp_allreduce_s > best)
        best = res->dp_allreduce_s, bn = BN_DP;
    if (optimizer > best)
        bn = BN_OPT;
    /* built piecewise: snprintf costs as much as a tenth of a small plan's evaluation */
    text t = {res->bottleneck, sizeof res->bottleneck, 0};
    t.buf[0] = 0;
    switch (bn) {
    case BN_BUSY: {
        const fl_train_stage *bs = &pipes[worst_busy_pipe].stages[worst_busy_stage];
        if (n_pipes > 1)
            put_str(&t, "pipeline "), put_int(&t, worst_busy_pipe), put_str(&t, " ");
        put_str(&t, "stage "), put_int(&t, worst_busy_stage);
        put_str(&t, worst_tp_bound ? " tensor-parallel communication (" : " compute (");
        put_str(&t, fl_catalog_gpu(cat, (size_t)bs->gpu)->name), put_str(&t, ")");
        break;
    }
    case BN_P2P:
        if (n_pipes > 1)
            put_str(&t, "pipeline "), put_int(&t, worst_p2p_pipe), put_str(&t, " ");
        put_str(&t, "p2p stage "), put_int(&t, worst_p2p_stage), put_str(&t, " -> "), put_int(&t, worst_p2p_stage + 1);
        break;
    case BN_BUBBLE:
        put_str(&t, "pipeline bubble (pipeline "), put_int(&t, worst_bubble_pipe), put_str(&t, ", ");
        put_int(&t, pipes[worst_bubble_pipe].n_stages), put_str(&t, " stages, ");
        put_int(&t, pipes[worst_bubble_pipe].micro_batches), put_str(&t, " micro-batches)");
        break;
    case BN_DP:
        put_str(&t, "data-parallel all-reduce (pipeline "), put_int(&t, worst_dp_pipe), put_str(&t, " stage ");
        put_int(&t, worst_dp_stage), put_str(&t, ", "), put_int(&t, n_dp), put_str(&t, " replicas)");
        break;
    case BN_OPT:
        put_str(&t, "optimizer step");
        break;
    }
    return FL_OK;
}
