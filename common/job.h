/* common/job.h — the parsed job (internal layout of fl_job) and the availability table.
 * Shared by the planner, the simulator and the CLI; created only by common/job.c. */
#ifndef FL_COMMON_JOB_H
#define FL_COMMON_JOB_H

#include "flotilla/fl_job.h"
#include "profiles/catalog.h"
#include <jansson.h>

/* FL_DT_TF32: fp32 storage, matmuls on TF32 tensor cores (what PyTorch does with
 * allow_tf32 = True); plain FL_DT_FP32 matmuls run at the FP32 peak. */
typedef enum fl_dtype { FL_DT_FP32 = 0, FL_DT_BF16, FL_DT_FP16, FL_DT_FP8, FL_DT_INT8, FL_DT_INT4, FL_DT_TF32 } fl_dtype;
typedef enum fl_recompute { FL_RC_NONE = 0, FL_RC_SELECTIVE, FL_RC_FULL, FL_RC_AUTO } fl_recompute;
typedef enum fl_objective {
    FL_OBJ_MAX_THROUGHPUT = 0, FL_OBJ_MIN_COST, FL_OBJ_MAX_THROUGHPUT_PER_DOLLAR,
    FL_OBJ_MIN_COST_PER_TOKEN      /* training: least $ per token, instances and egress */
} fl_objective;
/* Adam and AdamW keep the same state (m, v) and cost the same passes; they differ only in how
 * weight decay enters the update. */
typedef enum fl_optimizer { FL_OPT_ADAM = 0, FL_OPT_SGD, FL_OPT_ADAMW } fl_optimizer;
/* How the optimizer step is launched: one fused kernel per parameter group, multi-tensor
 * (foreach) kernels per elementwise op, or one kernel per op per parameter tensor. */
typedef enum fl_optimizer_impl { FL_OPT_FUSED = 0, FL_OPT_FOREACH, FL_OPT_UNFUSED } fl_optimizer_impl;
/* The training recipe (docs/frameworks.md): what sits around the layers' kernels.
 * MEGATRON: 16-bit parameters with an fp32 main copy in the optimizer, fused kernels, gradients
 * accumulated in fp32 main_grad buffers. TORCH_AMP: fp32 parameters, autocast to 16-bit at each
 * use, fp32 gradients accumulated in .grad, fp32 loss (Hugging Face Trainer / Accelerate). */
typedef enum fl_framework { FL_FW_MEGATRON = 0, FL_FW_TORCH_AMP } fl_framework;
/* job.target: the framework that must run the plan (docs/frameworks.md, "Planner targets").
 * FL_TARGET_FLOTILLA allows everything flotilla can plan; the others restrict the plan shape. */
typedef enum fl_target { FL_TARGET_FLOTILLA = 0, FL_TARGET_MEGATRON, FL_TARGET_DEEPSPEED, FL_TARGET_TORCHTITAN } fl_target;
const char *fl_target_name(fl_target t);
/* Data-parallel all-reduce algorithm (docs/communication.md): AUTO takes the fastest of the
 * others per stage, as NCCL's tuner picks between ring and tree. */
typedef enum fl_allreduce_algo { FL_AR_AUTO = 0, FL_AR_RING, FL_AR_TREE, FL_AR_HIERARCHICAL } fl_allreduce_algo;

/* Bytes per element of a dtype. */
double fl_dtype_bytes(fl_dtype d);
const char *fl_dtype_name(fl_dtype d);
/* Parse "bf16", "fp16", "fp32", "fp8", "int8", "int4", "tf32"; -1 when unknown. */
int fl_dtype_parse(const char *s);
/* 1 for dtypes stored in 32 bits (fp32, tf32). */
static inline int fl_dtype_is_fp32(fl_dtype d) { return d == FL_DT_FP32 || d == FL_DT_TF32; }
const char *fl_framework_name(fl_framework f);
/* "megatron", "torch-amp" (also "torch_amp", "hf", "accelerate"); -1 when unknown. */
int fl_framework_parse(const char *s);
const char *fl_optimizer_impl_name(fl_optimizer_impl i);
const char *fl_recompute_name(fl_recompute r);
int fl_recompute_parse(const char *s);
const char *fl_objective_name(fl_objective o);

#define FL_MAX_CLASSES 32
#define FL_MAX_SERVE_MODELS 8

typedef struct fl_request_class {
    int input, output;  /* tokens */
    double share;       /* fraction of requests, sums to 1 */
} fl_request_class;

/* One model served by a serving job (a job may serve several models sharing the GPU pool). */
typedef struct fl_serve_model {
    fl_model model;          /* copy; name points into the job's strings */
    fl_dtype weights_dtype;  /* precision.compute (or precision.weights) */
    fl_dtype kv_dtype;       /* precision.kv_cache, default = compute dtype (>= 16-bit) */
    double rate_rps;
    int n_classes;
    fl_request_class classes[FL_MAX_CLASSES];
    double ttft_p90_s, tpot_p90_s;  /* SLO; 0 = none */
    char *trace_path;        /* workload.trace CSV, or NULL */
    char *name_owned;        /* model name storage for job.models[] entries (NULL otherwise) */
    const char *engine;      /* built-in engine name (job.engine / job.models[i].engine; default "vllm") */
} fl_serve_model;

struct fl_job {
    fl_job_kind kind;
    const fl_catalog *cat;
    json_t *raw;             /* the job as given (owned) */

    /* model (training: the model; serving: models[0] mirrors it) */
    fl_model model;          /* copy from the catalog or inline; strings owned by the job */
    int model_index;         /* catalog index, -1 when inline */
    char *model_name;        /* owned */

    /* training */
    int global_batch, seq_len;
    fl_dtype compute_dtype, master_dtype, grad_dtype;
    int master_weights;      /* 1 when fp32 master weights are kept */
    fl_optimizer optimizer;
    fl_optimizer_impl optimizer_impl;
    fl_framework framework;
    fl_target target;        /* training planner: which framework must run the plan */
    int zero_stage;          /* 0..3 */
    fl_recompute recompute;
    int flash;               /* attention: 1 flash, 0 standard */
    double dropout;          /* dropout probability (0: none; > 0 costs masks and kernels) */
    int max_gpus;            /* 0 = no limit */
    double min_tokens_per_s;
    double train_tokens;     /* 0 = not given */
    double max_cost_per_iteration;      /* $ per iteration incl. egress; 0 = no cap */
    double max_cost_per_million_tokens; /* $ per 1e6 tokens incl. egress; 0 = no cap */
    int overlap_grad_reduce; /* 1: DP gradient all-reduce overlaps backward (Megatron-LM default 0) */
    fl_allreduce_algo allreduce_algorithm;

    /* common */
    fl_objective objective;
    double budget_per_hour;  /* 0 = no budget */
    int allow_spot;
    int n_allowed_gpus;      /* 0 = all */
    int *allowed_gpus;       /* catalog GPU indexes */
    int n_allowed_zones;     /* 0 = all */
    int *allowed_zones;      /* catalog zone indexes */
    char *preferred_zones;   /* per catalog zone: 1 when job.allow.prefer_regions names it; NULL = none */
    double horizon_hours;    /* replanning horizon (default 24) */

    /* serving */
    int n_serve_models;
    fl_serve_model serve[FL_MAX_SERVE_MODELS];
};

/* 1 when GPU gpu_index / zone zone_index is allowed by job.allow. */
int fl_job_allows_gpu(const fl_job *job, int gpu_index);
int fl_job_allows_zone(const fl_job *job, int zone_index);
/* 1 when job.allow.prefer_regions names zone zone_index (its region, cloud:region, continent or
 * zone name): the planner's tie-break between zones of equal price. */
int fl_job_prefers_zone(const fl_job *job, int zone_index);

/* Parse an inline model object ("model": {...}) or resolve a catalog name into *out.
 * Strings are duplicated into *names_out (caller frees). `path` is the JSON path for errors. */
fl_status fl_model_from_json(const fl_catalog *cat, json_t *v, const char *path, fl_model *out,
                             char **name_out, int *index_out, fl_error *err);
/* The model as a JSON object (shape fields + params). */
json_t *fl_model_to_json_obj(const fl_model *m);

struct fl_availability {
    const fl_catalog *cat;
    int limited;             /* 0: unlimited on every offering */
    size_t n_zones, n_gpus;
    int *count;              /* n_zones * n_gpus, -1 = not listed (0 when limited) */
    /* owned capacity (docs/json.md "Owned capacity"): per (zone, GPU) cell, the entry's own
     * $/h per GPU and GPUs per node; owned_gpn 0 = the cell is rented from the catalog */
    double *owned_price;     /* n_zones * n_gpus */
    int *owned_gpn;          /* n_zones * n_gpus */
};

/* Owned capacity of cell (zone, gpu): 1 and *price_per_gpu_hour / *gpus_per_node set when the
 * availability entry states its own price and node size, else 0. */
int fl_availability_owned(const fl_availability *av, int zone_index, int gpu_index, double *price_per_gpu_hour,
                          int *gpus_per_node);
/* 1 when the catalog has an on-prem node (table nodes) of GPU type gpu in zone. */
int fl_catalog_has_nodes(const fl_catalog *cat, int zone_index, int gpu_index);

#endif
