/* simulator/serve_model.h — the serving latency and memory model of one replica (one GPU type,
 * one model, tensor parallel tp, pipeline parallel pp, weight/KV dtypes): step time of a mixed
 * prefill+decode iteration, KV-cache capacity, and the reasons a configuration is rejected.
 * Shared by the request-level simulator, the serving planner and `flotilla estimate`. */
#ifndef FL_SIMULATOR_SERVE_MODEL_H
#define FL_SIMULATOR_SERVE_MODEL_H

#include "common/job.h"

/* Constants of the physical model (documented in serve_model.c). */
#define FL_SERVE_MEM_UTIL 0.9          /* vLLM gpu_memory_utilization default */
#define FL_SERVE_MAX_BATCH 256         /* vLLM max_num_seqs default */
#define FL_SERVE_MAX_STEP_TOKENS 2048  /* chunked-prefill token budget per iteration */

/* A serving engine: named physical parameters of how it runs a transformer step (data/engines.csv,
 * docs/engines.md). Efficiencies and counts are dimensionless and carry over between GPU types
 * through the datasheet (peak FLOP/s, HBM and link bandwidth); times are host/launch costs. */
typedef struct fl_serve_engine {
    char name[48];
    double eta_gemm;        /* large-GEMM fraction of dense tensor peak */
    double gemm_ramp_s;     /* GEMM of w flops reaches eta_gemm * w / (w + peak * gemm_ramp_s) */
    double eta_bw;          /* fraction of HBM bandwidth when streaming weights */
    double eta_kv;          /* fraction of HBM bandwidth when decode attention reads the KV cache */
    double eta_attn;        /* prefill attention fraction of peak (with the same ramp) */
    double elementwise_passes; /* element-wise traffic relative to a fused layer (norms, rotary, act) */
    double kernels_per_layer;  /* kernels (or host-issued ops) per decoder layer */
    double launch_s;        /* seconds per kernel: GPU gap under CUDA graphs, host issue in eager mode */
    int host_overlap;       /* 1: host issue overlaps GPU work (eager): layer = max(gpu, issue) */
    double step_s;          /* per-iteration fixed cost (scheduler, sampling, host), not shrinking with tp */
    double ar_latency_s;    /* one tensor-parallel all-reduce call over NVLink, tp 2 */
    double ar_hop_s;        /* extra latency per doubling of the group past 2 (stragglers, tree depth) */
    double ar_pcie_factor;  /* latency multiplier over PCIe */
    double ar_bw_eff;       /* fraction of link bandwidth the all-reduce reaches */
    double mem_util;        /* fraction of usable memory the engine takes */
    double runtime_bytes;   /* CUDA context, workspaces, graphs per GPU */
    double profile_tokens;  /* tokens of the activation-profiling pass (vLLM); 0: none */
    int max_batch;          /* concurrent sequences */
    char source[16];        /* "builtin" or "calibrated" */
} fl_serve_engine;

#define FL_SERVE_DEFAULT_ENGINE "vllm"

/* Built-in engines (data/engines.csv, parsed once). */
size_t fl_serve_engine_count(void);
const fl_serve_engine *fl_serve_engine_at(size_t i);
/* Find an engine by name or alias (case-insensitive); NULL name = the default engine. On an unknown
 * name fails with FL_ENOTFOUND naming `field` and the closest known name. */
fl_status fl_serve_engine_find(const char *name, const char *field, const fl_serve_engine **out, fl_error *err);

typedef struct fl_serve_cfg {
    const fl_gpu *gpu;
    fl_model model;            /* copy */
    int tp, pp;
    fl_dtype wdt, kvdt;
    /* derived (fl_serve_cfg_init) */
    double peak_flops;         /* dense tensor peak for the weight dtype */
    double eta_c;              /* best achievable fraction of peak for large GEMMs */
    double eta_bw;             /* achievable fraction of HBM bandwidth */
    double weights_per_gpu;    /* bytes, worst stage */
    double kv_bytes_per_token; /* per GPU (all layers of one stage / tp) */
    double kv_tokens;          /* KV-cache capacity in tokens (per replica) */
    double overhead_bytes;     /* activations + runtime overhead per GPU */
    int max_batch;             /* concurrent sequences */
    int fits;                  /* 0: weights (or a minimum KV) do not fit */
    fl_serve_engine engine;    /* copy of the engine the replica runs */
} fl_serve_cfg;

/* Build and validate a configuration. Fails with FL_EINVAL naming `field` when tp does not divide
 * the heads, the GPU lacks the dtype, or weights do not fit (message gives the numbers). */
fl_status fl_serve_cfg_init(fl_serve_cfg *c, const fl_gpu *gpu, const fl_model *m, int tp, int pp,
                            fl_dtype wdt, fl_dtype kvdt, const char *field, fl_error *err);

/* As fl_serve_cfg_init with an explicit engine (NULL: the default engine). */
fl_status fl_serve_cfg_init_engine(fl_serve_cfg *c, const fl_gpu *gpu, const fl_model *m, int tp, int pp,
                                   fl_dtype wdt, fl_dtype kvdt, const fl_serve_engine *e, const char *field,
                                   fl_error *err);

/* Seconds of one engine iteration processing `tokens` new tokens (prefill chunks plus one per
 * decoding sequence) for `seqs` sequences that produce a token, where `attn_pairs` is the number of
 * (query, key) pairs of prefill attention and `kv_read` the KV tokens read by decode sequences.
 * flops_out (may be NULL) receives the useful FLOPs of the step; bound_out 1 when compute-bound. */
double fl_serve_step_time(const fl_serve_cfg *c, double tokens, double seqs, double attn_pairs,
                          double kv_read, double *flops_out, int *bound_out);

/* Convenience: prefill of b prompts of s tokens; decode step of b sequences with ctx tokens each. */
double fl_serve_prefill_time(const fl_serve_cfg *c, int b, int s, double *flops, int *bound);
double fl_serve_decode_time(const fl_serve_cfg *c, int b, int ctx, double *flops, int *bound);

#endif
