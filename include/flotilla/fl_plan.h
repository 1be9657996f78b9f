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


/* ---- Typed plan (read-only view of a plan document; common/plan_model.c) ----
 * Built from a plan's JSON without a catalog; every string and array belongs to the model and
 * lives until fl_plan_model_free. Fields the view does not type are kept as JSON, so
 * fl_plan_model_to_json gives back a document equal to the input. */
typedef struct fl_plan_model fl_plan_model;

/* One rented group of identical instances (a plan "resources" entry). */
typedef struct fl_plan_node_group {
    const char *cloud, *zone, *instance_type, *gpu;   /* cloud may be NULL when not given */
    int gpus_per_instance, instances;
    double price_per_hour;  /* per instance */
    int spot;               /* 0/1 */
} fl_plan_node_group;

/* One pipeline stage: layers [first_layer, last_layer) on tp GPUs of one type in one zone. */
typedef struct fl_plan_stage {
    int first_layer, last_layer;
    const char *gpu, *zone;
    int tp;
} fl_plan_stage;

/* A pipeline template run by `replicas` data-parallel replicas, each taking `micro_batches`
 * micro-batches per iteration. */
typedef struct fl_plan_pipeline {
    int replicas, micro_batches;
    size_t n_stages;
    const fl_plan_stage *stages;
} fl_plan_pipeline;

/* Training settings of the plan (its "parallelism" and the job's batch shape). */
typedef struct fl_plan_training {
    int micro_batch;            /* sequences per micro-batch */
    const char *schedule;       /* "1f1b" or "interleaved" */
    const char *recompute;      /* "none", "selective", "full" */
    int zero_stage;
    int chunks;                 /* interleaved: virtual stages per GPU; 0 when not given */
    int global_batch, seq_len;  /* from the plan's job; 0 when not given */
    const char *compute_dtype;  /* the job's precision.compute ("bf16" when not given) */
} fl_plan_training;

/* One serving replica configuration run `count` times. */
typedef struct fl_plan_serving_replica {
    const char *model;          /* the replica's model (the plan's model for one-model jobs) */
    const char *gpu, *zone;
    int tp, pp, count;
    size_t n_class_shares;
    const double *class_shares; /* share of each request class sent to this configuration */
    const char *engine;         /* serving engine the plan was simulated with ("vllm" default) */
    int peak_batch;             /* the simulation's largest running batch (simulation.max_batch); 0 unknown */
    int max_model_len;          /* longest request (input + output) of the model's workload; 0 unknown */
} fl_plan_serving_replica;

/* The model's shape when the plan carries it inline ("model": {"name", "layers", ...}). */
typedef struct fl_plan_model_shape {
    const char *name;
    int layers, hidden, heads, kv_heads, ffn, vocab, max_positions;
    int swiglu, tied_embeddings, rope;   /* 0/1 */
} fl_plan_model_shape;

/* Parse a plan document into a typed view. FL_EPARSE on malformed JSON, FL_EINVAL naming the
 * field on a wrong shape (e.g. "parallelism.pipelines[0].stages[1].tp"). */
FL_API fl_status fl_plan_model_from_json(const char *json, fl_plan_model **out, fl_error *err);
FL_API void fl_plan_model_free(fl_plan_model *m);
/* Write the view back as JSON (pretty when `pretty`). Caller frees with fl_free. */
FL_API char *fl_plan_model_to_json(const fl_plan_model *m, int pretty);
FL_API fl_job_kind fl_plan_model_kind(const fl_plan_model *m);
/* The plan's model name (NULL for several models). */
FL_API const char *fl_plan_model_name(const fl_plan_model *m);
/* The inline model shape, or NULL when the plan names its model only. */
FL_API const fl_plan_model_shape *fl_plan_model_shape_of(const fl_plan_model *m);
FL_API size_t fl_plan_node_group_count(const fl_plan_model *m);
FL_API const fl_plan_node_group *fl_plan_node_group_at(const fl_plan_model *m, size_t i);
/* Training only (NULL / 0 for serving plans). */
FL_API const fl_plan_training *fl_plan_model_training(const fl_plan_model *m);
FL_API size_t fl_plan_pipeline_count(const fl_plan_model *m);
FL_API const fl_plan_pipeline *fl_plan_pipeline_at(const fl_plan_model *m, size_t i);
/* Serving only (0 / NULL for training plans). */
FL_API size_t fl_plan_serving_replica_count(const fl_plan_model *m);
FL_API const fl_plan_serving_replica *fl_plan_serving_replica_at(const fl_plan_model *m, size_t i);

#ifdef __cplusplus
}
#endif
#endif
