/* simulator/train_sim.h — the training runtime and memory model (internal API).
 *
 * Owned by the simulator (issue 3). The planner (issue 4) builds candidates with the per-layer
 * primitives and judges whole plans with fl_train_simulate; `flotilla simulate` reads plan JSON
 * into these structures (simulator/train_plan.c).
 *
 * Units: seconds, bytes, FLOP. Layer ranges are half-open [first_layer, last_layer) over the
 * model's transformer layers; the first stage also holds the embeddings, the last the LM head
 * and loss. */
#ifndef FL_SIMULATOR_TRAIN_SIM_H
#define FL_SIMULATOR_TRAIN_SIM_H

#include "common/job.h"

/* Job-level settings shared by every stage of a plan. */
typedef struct fl_train_setup {
    const fl_model *model;
    int seq_len;
    int micro_batch;            /* sequences per micro-batch */
    fl_dtype compute_dtype;     /* bf16/fp16/fp32 (fp8 for compute-only estimates) */
    int master_weights;         /* fp32 master copy kept */
    fl_dtype grad_dtype;
    fl_optimizer optimizer;
    fl_optimizer_impl optimizer_impl;
    fl_framework framework;     /* the training recipe around the layers (docs/frameworks.md) */
    int zero_stage;             /* 0..3, sharded over the data-parallel group of the stage */
    fl_recompute recompute;     /* NONE, SELECTIVE or FULL (AUTO is resolved by the planner) */
    int flash;                  /* 1: memory-efficient attention (no s*s scores kept) */
    int interleave;             /* virtual pipeline chunks per stage (1 = plain 1F1B) */
    int sequence_parallel;      /* 1: reduce-scatter/all-gather instead of all-reduce under tp */
    int dp_overlap;             /* 1: gradient all-reduce overlaps the backward pass */
    int p2p_blocking;           /* 1: a stage waits for its pipeline sends (Megatron-LM 2021's schedules);
                                   0: transfers overlap the stage's next op */
    int dropout;                /* 1: dropout on the attention probabilities and on both residual
                                   branches (GPT-2/3-era recipes, Megatron-LM's default 0.1);
                                   0: none (usual in current LLM pre-training) */
} fl_train_setup;

/* Bytes of one activation element: the compute dtype's, 16-bit when computing in fp8 or below. */
static inline double fl_train_act_elem_bytes(const fl_train_setup *s)
{
    double e = fl_dtype_bytes(s->compute_dtype);
    return e < 2 ? 2 : e;
}

/* Fill a setup from a parsed job (micro_batch = 1, interleave = 1, overlap on). */
void fl_train_setup_from_job(fl_train_setup *s, const fl_job *job);

typedef struct fl_train_stage {
    int first_layer, last_layer;  /* [first, last) */
    int gpu;                      /* catalog GPU index */
    int zone;                     /* catalog zone index */
    int tp;                       /* tensor-parallel degree (GPUs of this stage in one node) */
} fl_train_stage;

typedef struct fl_train_pipeline {
    int replicas;                 /* data-parallel copies of this pipeline */
    int micro_batches;            /* per replica per iteration */
    int n_stages;
    const fl_train_stage *stages;
} fl_train_pipeline;

typedef struct fl_train_stage_result {
    double fwd_s, bwd_s;          /* one micro-batch through the stage (compute + tp comm) */
    double compute_s;             /* fwd+bwd compute of all micro-batches of the iteration */
    double p2p_s;                 /* activation/gradient transfer to the next stage, per micro-batch */
    double tp_comm_s;             /* tensor-parallel communication per iteration */
    double peak_memory_bytes;     /* per GPU: the allocator's reserve + context + communicator buffers */
    double allocated_bytes;       /* live tensors at the peak (torch.cuda.max_memory_allocated) */
    double reserved_bytes;        /* the caching allocator's reserve at the peak */
    double memory_capacity_bytes; /* per GPU */
    int fits;
} fl_train_stage_result;

typedef struct fl_train_result {
    double iteration_s, tokens_per_s, mfu;
    double dp_allreduce_s, optimizer_s, bubble_fraction;
    double model_flops;           /* useful FLOPs per iteration (no recomputation) */
    int fits;
    char reason[256];             /* why it does not fit, or "" */
    char bottleneck[160];         /* "stage 1 compute (V100-SXM2-16GB)" */
    int n_stage_results;          /* capacity of `stages` in, number written out */
    fl_train_stage_result *stages;/* caller-provided, pipeline-major order; may be NULL */
} fl_train_result;

/* Simulate one iteration of a whole plan: every pipeline's 1F1B (or interleaved) schedule as
 * events over heterogeneous stage times, DP all-reduce per stage across the replicas of all
 * pipelines holding the same layers, optimizer step; memory per stage. Validates the input
 * (layer ranges cover [0, layers) without gaps/overlaps, tp divides heads, indexes valid). */
fl_status fl_train_simulate(const fl_catalog *cat, const fl_train_setup *s, const fl_train_pipeline *pipes,
                            int n_pipes, fl_train_result *res, fl_error *err);

/* --- primitives for fast candidate construction (planner) --- */

/* One transformer layer, one micro-batch, on a tp group of `gpu`: forward and backward seconds
 * (backward includes recomputation and tp communication). */
void fl_train_layer_time(const fl_catalog *cat, const fl_train_setup *s, int gpu, int tp, double *fwd_s,
                         double *bwd_s);
/* Extra time of the embeddings (has_first) and LM head + loss (has_last) for one micro-batch. */
void fl_train_edge_time(const fl_catalog *cat, const fl_train_setup *s, int gpu, int tp, int has_first,
                        int has_last, double *fwd_s, double *bwd_s);
/* Peak memory per GPU of a stage holding `layers` layers, with `in_flight` micro-batches of
 * activations kept (1F1B: p - stage_index), `dp` data-parallel copies (for ZeRO sharding). */
double fl_train_stage_memory(const fl_catalog *cat, const fl_train_setup *s, int gpu, int tp, int layers,
                             int has_first, int has_last, int in_flight, int dp);
/* Memory a training process can use on one GPU of this type. */
double fl_train_memory_capacity(const fl_catalog *cat, int gpu);
/* Seconds to send `bytes` over a catalog link (bandwidth <= 0: 1 GB/s, negative latency: 0). */
static inline double fl_train_link_transfer_time(double bytes, double bw, double lat)
{
    return bytes / (bw > 0 ? bw : 1e9) + (lat > 0 ? lat : 0);
}
/* Seconds to send `bytes` between two GPUs in zones za, zb (same node when same_node). */
double fl_train_p2p_time(const fl_catalog *cat, int gpu, int za, int zb, int same_node, double bytes);
/* Achievable ring bandwidth (bytes/s) and step latency (s) of an intra-node link given as a
 * datasheet figure of type link_type (train_comm.c). */
void fl_train_link_eff(const char *link_type, double link_bw, double *bw, double *lat);
/* Achievable intra-node link of GPU type `gpu` in zone `zone` (zone < 0: the datasheet link):
 * the link declared for the zone's on-prem nodes when there is one (fl_catalog_gpu_link). */
void fl_train_gpu_link(const fl_catalog *cat, int zone, int gpu, double *bw, double *lat);

/* --- internals shared by simulator/train_*.c (added by the simulator; not used by the planner) --- */

/* Largest pipeline depth fl_train_simulate accepts. */
#define FL_TRAIN_MAX_STAGES 512

/* The figures of a training recipe (framework) around the layers' kernels, all physical and
 * named (docs/frameworks.md); defaults per framework in train_framework.c, fitted to imported
 * whole-model rows by train_calib.c. Host figures are CPU seconds, so they carry from one GPU
 * type to another unchanged. */
typedef struct fl_train_fw_params {
    double launch_fwd_s;         /* host seconds to issue one forward kernel (module call, dispatch) */
    double launch_bwd_s;         /* host seconds to issue one backward kernel (autograd engine) */
    double ckpt_layer_s;         /* host seconds of checkpoint bookkeeping per recomputed layer */
    double iter_fixed_s;         /* host seconds per iteration outside the micro-batches */
    double loss_bytes_per_logit; /* live bytes per logit at the loss's memory peak */
    double reserve_frac;         /* caching-allocator reserve, fraction of the transient bytes */
    double context_bytes;        /* per GPU outside the allocator: CUDA context, framework state */
    double eltwise_bw_frac;      /* the framework's own elementwise passes (casts, fp32 norms and
                                    residuals, accumulation, loss) run at this fraction of the
                                    GPU's copy bandwidth */
    double opt_bw_frac;          /* the optimizer step's passes run at this fraction of it */
} fl_train_fw_params;

/* Defaults of a framework (no measurement). */
void fl_train_fw_defaults(fl_framework fw, fl_train_fw_params *out);

/* Performance figures of one GPU type for one compute dtype (train_compute.c). */
typedef struct fl_train_gpu_perf {
    double peak_flops;     /* dense tensor peak of the dtype */
    double gemm_eff;       /* large-GEMM fraction of peak */
    double attn_fwd_eff;   /* flash attention forward, fraction of peak */
    double attn_bwd_eff;   /* flash attention backward */
    int sms;               /* streaming multiprocessors / compute units (wave quantisation) */
    double hbm_bw;         /* achievable HBM bytes/s (copy kernels) */
    double hbm_peak;       /* datasheet HBM bytes/s */
    double link_bw;        /* achievable intra-node collective bandwidth per GPU, bytes/s */
    double link_lat;       /* intra-node collective step latency, s */
    double kernel_s;       /* GPU-side fixed cost of one kernel (prologue, epilogue, launch gap) */
    double layer_fwd_scale, layer_bwd_scale; /* measured / modelled decoder layer time (calibration; 1) */
    double edge_fwd_scale[2], edge_bwd_scale[2]; /* the same for [0] embeddings, [1] LM head + loss */
    fl_train_fw_params fw[2]; /* by fl_framework: calibrated or default figures */
    int calibrated;        /* 1 when measured rows of this catalog changed any figure above */
} fl_train_gpu_perf;

void fl_train_gpu_perf_get(const fl_catalog *cat, int gpu, fl_dtype dtype, fl_train_gpu_perf *p);

/* Analytic split of one layer's time (one micro-batch, tp group), used by the measured-profile
 * scaling and the accuracy tables. */
typedef struct fl_train_layer_cost {
    double fwd_compute_s, bwd_compute_s;  /* kernels only (bwd includes recomputation); with an eager
                                             framework, never less than the host issuing them */
    double fwd_comm_s, bwd_comm_s;        /* tensor-parallel collectives */
    double fwd_flops;                     /* useful forward FLOPs of the layer (per tp group) */
    double act_bytes;                     /* activations kept for backward per GPU */
    double acc_gpu_s, acc_host_s;         /* torch-amp: adding one micro-batch's fp32 weight
                                             gradients into .grad (GPU and host seconds) */
    int measured;                         /* 1 when scaled from a measured catalog point */
} fl_train_layer_cost;

/* The layer's own kernels on the GPU, without the framework's terms (what the measured layer rows
 * time: parameters and input in the compute dtype, no autocast). */
void fl_train_layer_cost_plain(const fl_train_gpu_perf *p, const fl_train_setup *s, int tp, fl_train_layer_cost *c);
/* Seconds of one GEMM [M,K] x [K,N] with e-byte operands (tiles, waves, split-K, roofline). */
double fl_train_gemm_time(const fl_train_gpu_perf *p, double M, double N, double K, double e);
/* Purely analytic layer cost (no catalog measured points). */
void fl_train_layer_cost_analytic(const fl_train_gpu_perf *p, const fl_train_setup *s, int tp,
                                  fl_train_layer_cost *c);
/* Layer cost preferring the catalog's measured "layer" points of this GPU when the shape is close. */
void fl_train_layer_cost_get(const fl_catalog *cat, const fl_train_setup *s, int gpu, int tp,
                             fl_train_layer_cost *c);
/* The same with the GPU's performance figures already looked up (fl_train_gpu_perf_get). */
void fl_train_layer_cost_with(const fl_catalog *cat, const fl_train_gpu_perf *p, const fl_train_setup *s, int gpu,
                              int tp, fl_train_layer_cost *c);
/* act_bytes of fl_train_layer_cost_get alone (no timing model). */
double fl_train_layer_act_bytes(const fl_catalog *cat, const fl_train_setup *s, int gpu, int tp);
/* fl_train_edge_time with the GPU's performance figures already looked up. */
void fl_train_edge_time_with(const fl_train_gpu_perf *p, const fl_train_setup *s, int tp, int has_first,
                             int has_last, double *fwd_s, double *bwd_s);
/* GPU seconds of one edge's own kernels (which 0: embeddings, 1: final norm + LM head + loss), one
 * micro-batch, without calibration scales, framework passes or host (what edge rows time). */
void fl_train_edge_plain(const fl_train_gpu_perf *p, const fl_train_setup *s, int tp, int which, double *fwd_s,
                         double *bwd_s);
/* Useful FLOPs of one micro-batch through the whole model forward (all layers, head). */
double fl_train_model_fwd_flops(const fl_train_setup *s);
/* Ring all-reduce of `bytes` per member over n members with bandwidth bw and step latency lat. */
double fl_train_allreduce_time(double bytes, int n, double bw, double lat);
/* Parameters of one transformer layer and of the edges (embeddings / final norm + head). */
double fl_train_layer_params(const fl_model *m);
double fl_train_embed_params(const fl_model *m);
double fl_train_head_params(const fl_model *m, int pipeline_split);
/* Largest number of GPUs per instance any offering of this GPU type has (8 when unknown). */
int fl_train_node_gpus(const fl_catalog *cat, int gpu);

/* Peak memory per GPU of a stage from a precomputed layer cost (act_bytes of one layer and
 * act_full_bytes of one layer without recomputation). */
double fl_train_stage_memory_from(const fl_train_setup *s, const fl_train_layer_cost *c, double act_full_bytes,
                                  int tp, int layers, int has_first, int has_last, double in_flight, int dp);
/* The figures of fl_train_stage_memory_from that depend only on the setup, tp and dp, so that
 * the stages of a plan evaluate their peak memory with a few operations (same arithmetic). */
typedef struct fl_train_mem_plan {
    const fl_train_setup *s;
    int tp, dp;
    double layer_params, embed_params, head_params[2]; /* head: [0] whole model, [1] pipeline split */
    double state_bytes;   /* weight + gradient + optimizer bytes per parameter after ZeRO sharding */
    double gather_bytes;  /* ZeRO-3 gathered layers */
    double e, T, input_div, work_bytes, logits_bytes;
    double cast_bytes_per_layer, cast_bytes_head; /* torch-amp: 16-bit weight copies kept by autocast */
    double reserve_frac;  /* allocator reserve on the transient bytes (torch-amp), else 0 */
    double context_bytes; /* outside the allocator */
} fl_train_mem_plan;
/* fw: the framework's figures (NULL: its defaults). */
void fl_train_mem_plan_init(fl_train_mem_plan *mp, const fl_train_setup *s, int tp, int dp,
                            const fl_train_fw_params *fw);
double fl_train_mem_plan_stage(const fl_train_mem_plan *mp, double act_bytes, double act_full_bytes, int layers,
                               int has_first, int has_last, double in_flight);
/* fl_train_mem_plan_stage in two steps: the weight/gradient/optimizer bytes of the stage, then
 * the total with the activations of in_flight micro-batches (below). */
double fl_train_mem_plan_states(const fl_train_mem_plan *mp, int layers, int has_first, int has_last);

/* CUDA context, cuBLAS/cuDNN workspaces and framework state per GPU outside the allocator's
 * reserve: FACTS.md reports 2-5 GB seen in practice (Sailor 5.06 GB on GH200); we take 2.0 GB
 * without communicators. Out of memory: reserve + context + buffers above the usable memory. */
#define FL_TRAIN_CONTEXT_BYTES 2.0e9
/* NCCL communicator buffers when the GPU talks to others (tp, pp or dp). */
#define FL_TRAIN_COMM_BUFFER_BYTES 0.5e9
/* Caching-allocator fragmentation on top of the live tensors. */
#define FL_TRAIN_FRAGMENTATION 0.05

/* Peak memory per GPU of a stage from its states bytes (fl_train_mem_plan_states): activations
 * of the micro-batches in flight, stage input or embedding output, backward working set,
 * logits on the last stage, then fragmentation, context and communicator buffers. Inline: it
 * runs once per stage of every simulated plan. */
static inline double fl_train_mem_plan_parts(const fl_train_mem_plan *mp, double states, double act_bytes,
                                             double act_full_bytes, int layers, int has_first, int has_last,
                                             double in_flight, double *live_out, double *reserved_out)
{
    const fl_train_setup *s = mp->s;
    int split = !(has_first && has_last);
    double e = mp->e, T = mp->T, h = s->model->hidden;
    double keep = in_flight > 0 ? in_flight : 1;
    double acts = keep * layers * act_bytes;
    if (s->recompute == FL_RC_FULL && layers > 0)
        acts += act_full_bytes; /* one layer rebuilt during backward */
    if (!has_first) /* stage input received from the previous stage; no division when x / 1 (the
                     * usual case): this runs for every stage of every simulated plan */
        acts += mp->input_div != 1 ? keep * T * h * e / mp->input_div : keep * T * h * e;
    if (has_first) /* embedding output per micro-batch */
        acts += keep * T * h * e;
    acts += mp->work_bytes;
    double extra = 0;
    if (has_last)
        extra += mp->logits_bytes + mp->cast_bytes_head;
    extra += layers * mp->cast_bytes_per_layer;
    double comm = (mp->tp > 1 || mp->dp > 1 || split) ? FL_TRAIN_COMM_BUFFER_BYTES : 0;
    double live = states + acts + extra;
    /* the caching allocator's reserve: a fraction of the transient (per micro-batch) bytes when the
     * framework's figure is known, else a flat fragmentation on everything */
    double reserved = mp->reserve_frac > 0 ? live + mp->reserve_frac * (acts + extra)
                                           : live * (1 + FL_TRAIN_FRAGMENTATION);
    if (live_out)
        *live_out = live;
    if (reserved_out)
        *reserved_out = reserved;
    return reserved + mp->context_bytes + comm;
}

static inline double fl_train_mem_plan_total(const fl_train_mem_plan *mp, double states, double act_bytes,
                                             double act_full_bytes, int layers, int has_first, int has_last,
                                             double in_flight)
{
    return fl_train_mem_plan_parts(mp, states, act_bytes, act_full_bytes, layers, has_first, has_last, in_flight,
                                   NULL, NULL);
}
/* Micro-batches of activations a stage keeps at its peak: 1F1B min(p - stage, m); interleaved
 * Megatron warm-up ((p - stage - 1) * 2 + (v - 1) * p + 1 chunks of 1/v of the stage). */
double fl_train_in_flight(int p, int stage, int m, int chunks);

/* Pipeline schedule (train_schedule.c). Per stage: forward and backward seconds of one
 * micro-batch (fwd[], bwd[]) and the transfer time to the next stage (p2p[], last unused).
 * Writes the pipeline's end time, per-stage time of its last backward (last_bwd_end[]) and
 * the bubble fraction. chunks > 1 simulates the interleaved schedule. fl_train_schedule may
 * skip steady periods once the schedule is (near-)periodic, with a proven error bound of 0.1 %. */
typedef struct fl_train_sched_out {
    double end_s;
    double bubble_fraction;
} fl_train_sched_out;
void fl_train_schedule(int p, int m, int chunks, const double *fwd, const double *bwd, const double *p2p,
                       double *last_bwd_end, fl_train_sched_out *out);
/* The same with an explicit budget of simulated ops: a budget >= 2*p*m*chunks gives the exact
 * schedule; a smaller one allows the skips, and beyond it the steady-state extension. */
void fl_train_schedule_budget(int p, int m, int chunks, const double *fwd, const double *bwd, const double *p2p,
                              double *last_bwd_end, fl_train_sched_out *out, long max_ops);

#endif
