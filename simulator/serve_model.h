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
} fl_serve_cfg;

/* Build and validate a configuration. Fails with FL_EINVAL naming `field` when tp does not divide
 * the heads, the GPU lacks the dtype, or weights do not fit (message gives the numbers). */
fl_status fl_serve_cfg_init(fl_serve_cfg *c, const fl_gpu *gpu, const fl_model *m, int tp, int pp,
                            fl_dtype wdt, fl_dtype kvdt, const char *field, fl_error *err);

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
