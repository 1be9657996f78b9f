/* flotilla — plans: planning a job, simulating a plan, estimates, JSON in/out. */
#ifndef FLOTILLA_FL_PLAN_H
#define FLOTILLA_FL_PLAN_H

#include "fl_job.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct fl_plan fl_plan;

/* Layout version of fl_plan_options (docs/api.md): fields are only appended, the version bumps when
 * they are, and the library keeps reading every older version. */
#define FL_PLAN_OPTIONS_VERSION 1u
/* Static initialiser carrying the version: `fl_plan_options o = FL_PLAN_OPTIONS_INIT;` then the
 * defaults are those of fl_plan_options_init (fields left 0 mean "default" where documented). */
#define FL_PLAN_OPTIONS_INIT {.version = FL_PLAN_OPTIONS_VERSION, .top_k = 1, .time_limit_s = 10.0}
typedef struct fl_plan_options {
    unsigned int version;   /* FL_PLAN_OPTIONS_VERSION (set by the init function/macro) */
    int top_k;              /* >= 1: also keep the next best alternatives (fl_plan_alternative) */
    int pareto;             /* 1: compute the cost/throughput frontier (in the plan JSON) */
    int marginal;           /* 1: marginal value of one more GPU per (zone, type) */
    double time_limit_s;    /* solver time limit; 0: default (10 s) */
    double horizon_hours;   /* replanning horizon with a current placement; 0: from the job */
    const char *current_placement_json; /* running plan+placement, or NULL */
} fl_plan_options;

/* Fill options with defaults. */
FL_API void fl_plan_options_init(fl_plan_options *opts);
/* sizeof(fl_plan_options) in this library build (for bindings that copy the layout). */
FL_API size_t fl_plan_options_size(void);

/* Plan a job (training or serving) under availability (NULL: catalog offerings, unlimited).
 * The returned plan has been re-simulated and is feasible. FL_EINFEASIBLE explains what binds. */
FL_API fl_status fl_plan_job(const fl_catalog *cat, const fl_job *job, const fl_availability *av,
                            const fl_plan_options *opts, fl_plan **out, fl_error *err);
FL_API void fl_plan_free(fl_plan *plan);
FL_API fl_job_kind fl_plan_get_kind(const fl_plan *plan);

/* Read a plan (planner output, or hand-written without "simulation"). Validates its structure
 * against the catalog (layer ranges, tp dividing heads, names) with errors naming the path. */
FL_API fl_status fl_plan_from_json(const fl_catalog *cat, const char *json, fl_plan **out, fl_error *err);
/* Serialise (pretty when `pretty`). Caller frees with fl_free. */
FL_API char *fl_plan_to_json(const fl_plan *plan, int pretty);

/* Serialise into a caller-provided buffer (for bindings that cannot free library memory).
 * *needed (when non-NULL) receives the size including the NUL. FL_ERANGE when cap is too small
 * (the buffer is then left empty). */
FL_API fl_status fl_plan_json_into(const fl_plan *plan, int pretty, char *buf, size_t cap, size_t *needed,
                                  fl_error *err);

/* (Re-)simulate the plan and store the result in its "simulation" object. */
FL_API fl_status fl_plan_simulate(const fl_catalog *cat, fl_plan *plan, fl_error *err);

/* Key figures of a simulated plan (0 where not applicable to the kind). */
typedef struct fl_plan_summary {
    fl_job_kind kind;
    int fits;                 /* training: every stage fits; serving: meets the SLO */
    double cost_per_hour;
    double tokens_per_s;      /* training */
    double iteration_s;       /* training */
    double throughput_rps;    /* serving */
    int gpus;                 /* GPUs rented */
} fl_plan_summary;
FL_API fl_status fl_plan_get_summary(const fl_plan *plan, fl_plan_summary *out, fl_error *err);

/* Number of alternatives kept with opts.top_k (excluding the plan itself), and access. */
FL_API size_t fl_plan_alternative_count(const fl_plan *plan);
FL_API const fl_plan *fl_plan_alternative(const fl_plan *plan, size_t i);

/* One-question estimates (`flotilla estimate`). */
typedef enum fl_phase { FL_PHASE_TRAIN = 0, FL_PHASE_PREFILL = 1, FL_PHASE_DECODE = 2 } fl_phase;
/* Layout version of fl_estimate_query (docs/api.md): fields are only appended, the version bumps when
 * they are, and the library keeps reading every older version. */
#define FL_ESTIMATE_QUERY_VERSION 1u
/* Static initialiser carrying the version: `fl_estimate_query o = FL_ESTIMATE_QUERY_INIT;` then the
 * defaults are those of fl_estimate_query_init (fields left 0 mean "default" where documented). */
#define FL_ESTIMATE_QUERY_INIT                                                                     \
    {.version = FL_ESTIMATE_QUERY_VERSION, .phase = FL_PHASE_TRAIN, .tp = 1, .pp = 1, .batch = 1,    \
     .context = 1024, .dtype = "bf16", .recompute = "none", .flash = 1}
typedef struct fl_estimate_query {
    unsigned int version; /* FL_ESTIMATE_QUERY_VERSION (set by the init function/macro) */
    const char *gpu, *model;
    fl_phase phase;
    int tp;          /* default 1 */
    int pp;          /* default 1 */
    int batch;       /* micro-batch (train) or sequences (prefill/decode); default 1 */
    int seq;         /* tokens per sequence (train/prefill); default 2048 / 512 */
    int context;     /* decode: tokens already in the KV cache per sequence; default 1024 */
    const char *dtype;     /* "bf16" (default), "fp16", "fp8", "int8" */
    const char *recompute; /* train: "none" (default), "selective", "full" */
    int flash;             /* train: 1 (default) memory-efficient attention, 0 standard */
    const char *framework; /* train: "megatron" (default) or "torch-amp" (added in 0.2; NULL = default) */
    const char *engine;    /* prefill/decode: serving engine (NULL: "vllm"; see docs/engines.md) */
} fl_estimate_query;
typedef struct fl_estimate_result {
    double seconds;            /* train: fwd+bwd of one micro-batch over all layers on one GPU
                                  group of tp GPUs; prefill: the prompt batch; decode: one step */
    double fwd_s, bwd_s;       /* train only */
    double flops;              /* useful FLOPs of the step */
    double achieved_flops;     /* flops / seconds / GPUs */
    double memory_bytes;       /* train: peak per GPU for one stage holding all layers;
                                  serving: weights per GPU */
    double kv_cache_tokens;    /* serving: tokens of KV cache that fit */
    int fits;
    char source[32];           /* "measured" (an imported row), "calibrated" (fitted to the catalog's
                                  measured rows; serving: the engine refit) or "analytic" */
    char bound[16];            /* "compute" or "memory" */
    char engine[48];           /* prefill/decode: the engine the estimate is for */
} fl_estimate_result;
FL_API void fl_estimate_query_init(fl_estimate_query *q);
FL_API fl_status fl_estimate(const fl_catalog *cat, const fl_estimate_query *q,
                            fl_estimate_result *out, fl_error *err);

#ifdef __cplusplus
}
#endif
#endif
