/* flotilla — the catalog: GPU types, cloud offerings, zones, network classes, models, measured
 * profiles and on-prem inventory. Backed by an SQLite file with a versioned schema, or by an
 * in-memory copy of the built-in catalog (zero configuration).
 *
 * The records below are read-only views into the catalog: their strings and the records
 * themselves stay valid until the catalog is freed or changed by an import.
 */
#ifndef FLOTILLA_FL_CATALOG_H
#define FLOTILLA_FL_CATALOG_H

#include "fl_common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct fl_catalog fl_catalog;

/* A GPU type (vendor datasheet figures; FLOP/s are dense, without sparsity). */
typedef struct fl_gpu {
    const char *name;          /* canonical, e.g. "H100-SXM-80GB" */
    const char *vendor;        /* "NVIDIA", "AMD" */
    const char *architecture;  /* "Hopper", ... */
    double memory_bytes;       /* total device memory */
    double usable_memory_bytes;/* what a process can allocate (total minus driver reserve) */
    double hbm_bw;             /* memory bandwidth, bytes/s */
    double bf16_flops;         /* dense tensor-core peak; 0 when the GPU has no bf16 */
    double fp16_flops;
    double fp32_flops;
    double fp8_flops;          /* 0 when not supported */
    double int8_ops;           /* 0 when unknown */
    const char *link_type;     /* intra-node GPU-GPU link: "NVLink", "xGMI", "PCIe" */
    double link_bw;            /* per-GPU intra-node bandwidth, bytes/s */
    double pcie_bw;            /* host link bandwidth, bytes/s */
    double tdp_w;
    const char *aliases;       /* ';'-separated, matched case-insensitively */
    const char *source;
    /* added with `profiles import --gpus` (0 when unknown) */
    int sms;                   /* streaming multiprocessors (NVIDIA) / compute units (AMD) */
    double tf32_flops;         /* dense TF32 tensor-core peak; 0 when the GPU has no TF32 */
} fl_gpu;

typedef enum fl_activation { FL_ACT_GELU = 0, FL_ACT_SWIGLU = 1 } fl_activation;

/* A transformer model. `params` is derived from the shape, never typed in. */
typedef struct fl_model {
    const char *name;
    int layers, hidden, heads, kv_heads, ffn, vocab;
    fl_activation activation;
    int tied_embeddings;  /* 0/1 */
    int rope;             /* 1: rotary positions (no position table); 0: learned */
    int max_positions;
    int experts, top_k;   /* 1/1 for dense models */
    double params;        /* total parameters (all experts) */
    double active_params; /* parameters touched per token (top_k experts) */
    const char *aliases;
    const char *source;
} fl_model;

typedef struct fl_zone {
    const char *name;      /* "gcp:us-central1-a", "onprem:site1" */
    const char *cloud;     /* "gcp", "aws", "azure", "lambda", "onprem" */
    const char *region;    /* "us-central1" */
    const char *continent; /* "na", "eu", "asia", ... */
    const char *source;
} fl_zone;

/* One rentable instance type in one zone. */
typedef struct fl_offering {
    const char *cloud, *region, *zone, *instance_type;
    const char *gpu;             /* canonical GPU name */
    int zone_index, gpu_index;   /* indexes into the catalog's zone and GPU lists */
    int gpus_per_instance;
    double vcpus, memory_gib;
    double price_per_hour;       /* on-demand, whole instance */
    double spot_price_per_hour;  /* < 0 when not published */
    double network_bw;           /* instance NIC bytes/s; 0 when unknown */
    const char *source;
} fl_offering;

/* Network classes between two GPUs, from closest to farthest. */
typedef enum fl_net_class {
    FL_NET_SAME_NODE = 0, FL_NET_SAME_ZONE, FL_NET_SAME_REGION, FL_NET_SAME_CONTINENT,
    FL_NET_INTERCONTINENTAL
} fl_net_class;

typedef struct fl_link {
    fl_net_class cls;
    double bandwidth;      /* bytes/s per node pair */
    double latency;        /* seconds, one way */
    double egress_per_gb;  /* $ per GB leaving the source zone */
} fl_link;

/* A measured profile point (from `profiles import --measured`). */
typedef struct fl_measured {
    const char *gpu;  int gpu_index;
    const char *kind;       /* "layer", "gemm", "memcpy_d2d", "decode", "prefill", ... */
    const char *dtype;      /* "bf16" */
    int h, a, ffn, s, b;    /* layer shape (kind "layer"); 0 where not applicable */
    long m, n, k;           /* GEMM shape (kind "gemm") */
    double fwd_s, fwdbwd_s, act_bytes;  /* per layer */
    double seconds, bytes;  /* gemm / memcpy; whole-row seconds (iteration, prefill, decode step,
                               optimizer step, collective) */
    const char *source;
    /* schema v2 (catalogs of version 1 are migrated on open: these are then 0 / NULL) */
    const char *model;      /* model name as written (train_iter, prefill, decode_step, decode) */
    const char *framework;  /* training recipe ("megatron", "torch-amp"); NULL when not given */
    const char *engine;     /* serving engine the row was measured with; NULL when not given */
    const char *attention;  /* "flash" or "standard" (layer rows; NULL = flash) */
    const char *optimizer;  /* optimizer_step: "adam", "adamw", "sgd" */
    const char *impl;       /* optimizer_step: "fused", "foreach", "unfused" */
    int tp;                 /* tensor-parallel degree of the measured run (1 when not given) */
    int layers, vocab, kv_heads, positions, grad_accum; /* whole-model shape (train_iter, prefill, decode_step) */
    int tied_embeddings;    /* train_iter: 1 when the LM head shares the embedding */
    int recompute;          /* 1: full recomputation in the measured run */
    int oom;                /* 1: the measured run went out of memory (no times) */
    int gpus;               /* collective rows: group size */
    double peak_alloc_bytes, peak_reserved_bytes; /* train_iter */
    double params;          /* parameters (train_iter: of the model; optimizer_step: stepped) */
    double weight_bytes, kv_bytes; /* serving rows: bytes one step reads */
    const char *json;       /* the row as imported (compact JSON), for members not mapped above */
    const char *activation; /* whole-model and layer rows: "gelu" or "swiglu" (NULL: gelu) */
    const char *positional; /* "learned" or "rope" (NULL: learned) */
} fl_measured;

/* A concrete node of on-prem inventory (e.g. from `nvidia-smi -q -x`). */
typedef struct fl_node {
    const char *name, *zone, *gpu;
    int gpu_index, zone_index;
    int gpu_count;
    double memory_bytes;   /* per GPU, as reported */
    int nvlink;            /* 1 when the GPUs are NVLink-connected */
    const char *source;
    /* declared network (`profiles import --nvidia-smi ... --nic-gbps/--link`); 0 / NULL when not declared */
    double nic_bw;         /* node NIC bandwidth to other nodes, bytes/s */
    double nic_latency;    /* one-way latency between nodes, s; < 0 when not declared */
    const char *link_type; /* declared intra-node link: "NVLink", "xGMI", "PCIe"; NULL = the GPU type's */
    double link_bw;        /* declared intra-node bandwidth per GPU, bytes/s (same sense as fl_gpu.link_bw) */
    double price_per_gpu_hour; /* owned capacity: $/h per GPU the planner charges (0 = free) */
} fl_node;

/* The intra-node GPU-to-GPU link a GPU of one type sees in one zone. */
typedef struct fl_gpu_link {
    const char *type;      /* "NVLink", "xGMI", "PCIe" */
    double bandwidth;      /* per GPU, bytes/s (datasheet sense: total to peers for NVLink/xGMI) */
    int declared;          /* 1: declared for the zone's on-prem nodes; 0: the GPU type's datasheet link */
} fl_gpu_link;

/* What `profiles import --nvidia-smi` may declare about a node's network. */
typedef struct fl_node_network {
    double nic_bw;         /* bytes/s; 0 = not declared */
    double nic_latency;    /* seconds; < 0 = not declared (the zone's class latency applies) */
    const char *link_type; /* "NVLink", "xGMI" or "PCIe" (any case); NULL = the GPU type's link */
    double link_bw;        /* bytes/s; 0 = the GPU type's link_bw (NVLink/xGMI) or pcie_bw (PCIe) */
} fl_node_network;

/* Open a catalog. path == NULL: an in-memory copy of the built-in catalog (read-only use).
 * path names an existing SQLite file: open it (schema version checked: FL_ECATALOG when corrupt
 * or newer). path names a file that does not exist: create it from the built-in catalog. */
FL_API fl_status fl_catalog_open(const char *path, fl_catalog **out, fl_error *err);
FL_API void fl_catalog_free(fl_catalog *cat);
/* Path of the backing file, or ":memory:" for the built-in catalog. */
FL_API const char *fl_catalog_path(const fl_catalog *cat);
/* Schema version of the catalog file. */
FL_API int fl_catalog_schema_version(const fl_catalog *cat);

FL_API size_t fl_catalog_gpu_count(const fl_catalog *cat);
FL_API const fl_gpu *fl_catalog_gpu(const fl_catalog *cat, size_t i);
FL_API size_t fl_catalog_model_count(const fl_catalog *cat);
FL_API const fl_model *fl_catalog_model(const fl_catalog *cat, size_t i);
FL_API size_t fl_catalog_zone_count(const fl_catalog *cat);
FL_API const fl_zone *fl_catalog_zone(const fl_catalog *cat, size_t i);
FL_API size_t fl_catalog_offering_count(const fl_catalog *cat);
FL_API const fl_offering *fl_catalog_offering(const fl_catalog *cat, size_t i);
FL_API size_t fl_catalog_measured_count(const fl_catalog *cat);
FL_API const fl_measured *fl_catalog_measured(const fl_catalog *cat, size_t i);
FL_API size_t fl_catalog_node_count(const fl_catalog *cat);
FL_API const fl_node *fl_catalog_node(const fl_catalog *cat, size_t i);

/* Name lookup: case-insensitive, accepts canonical names and aliases. Return the index, or -1
 * (and fill err with FL_ENOTFOUND naming `field` and the closest names) when unknown. */
FL_API int fl_catalog_find_gpu(const fl_catalog *cat, const char *name, const char *field, fl_error *err);
FL_API int fl_catalog_find_model(const fl_catalog *cat, const char *name, const char *field, fl_error *err);
FL_API int fl_catalog_find_zone(const fl_catalog *cat, const char *name, const char *field, fl_error *err);

/* Network link between two zones (indexes; the same index means the same zone, different nodes).
 * Per-zone-pair overrides take precedence over the class figures. */
FL_API fl_link fl_catalog_link(const fl_catalog *cat, int zone_a, int zone_b);
/* Intra-node link of GPU type `gpu` in zone `zone` (indexes): the link declared for the zone's
 * on-prem nodes of that type (the slowest when they differ), else the GPU type's datasheet link.
 * zone < 0: the GPU type's link. */
FL_API fl_gpu_link fl_catalog_gpu_link(const fl_catalog *cat, int zone, int gpu);

/* Imports. Each is one transaction: on any bad row the whole file is rejected (the error names
 * the line and column) and the catalog is unchanged. Only file-backed catalogs can be changed
 * durably; on the in-memory built-in catalog the import lasts until the catalog is freed. */

/* `nvidia-smi -q -x` XML: registers one node (GPU count, memory, NVLink) under `zone`
 * (default "onprem:local") and `node_name` (default: the XML's hostname or "node-<n>"). */
FL_API fl_status fl_catalog_import_nvidia_smi(fl_catalog *cat, const char *xml_path,
                                             const char *zone, const char *node_name,
                                             fl_error *err);
/* As fl_catalog_import_nvidia_smi, also declaring the node's network (net may be NULL). A
 * declared NIC makes node-to-node links in that zone use its bandwidth (the slowest declared NIC
 * of the zone) and latency; a declared link replaces the GPU type's intra-node link for the GPUs
 * of that zone's nodes (fl_catalog_gpu_link). */
FL_API fl_status fl_catalog_import_nvidia_smi_network(fl_catalog *cat, const char *xml_path, const char *zone,
                                                     const char *node_name, const fl_node_network *net,
                                                     fl_error *err);
/* The same, with the node's price for planning it as owned capacity: price_per_gpu_hour $/h per
 * GPU, 0 (fully owned) to 1e4 (fl_catalog_import_nvidia_smi_network records 0). */
FL_API fl_status fl_catalog_import_nvidia_smi_priced(fl_catalog *cat, const char *xml_path, const char *zone,
                                                    const char *node_name, const fl_node_network *net,
                                                    double price_per_gpu_hour, fl_error *err);
/* GPU types, CSV with the columns of data/gpus.csv (header-matched, any order; see
 * data/SOURCES.md). A new name adds a type; an existing name replaces its specs (columns absent
 * from the file keep their values) and keeps the offerings, nodes and measured rows that refer to
 * it. On success *rows_out (if non-NULL) gets the row count. */
FL_API fl_status fl_catalog_import_gpus(fl_catalog *cat, const char *csv_path, size_t *rows_out, fl_error *err);
/* Zone-pair network figures, CSV with the columns of data/network_overrides.csv (zone_a, zone_b,
 * bandwidth_bytes_per_s, latency_s, egress_per_gb, source). Both zones must exist; a pair given
 * again replaces its figures (either order). */
FL_API fl_status fl_catalog_import_network(fl_catalog *cat, const char *csv_path, size_t *rows_out, fl_error *err);
/* Cloud offerings in the SkyPilot catalog CSV layout (columns found by header name). `cloud`
 * is "aws", "gcp", "azure" or "lambda"; NULL infers it from the columns and instance names.
 * Replaces the offerings of that cloud. On success *rows_out (if non-NULL) gets the row count. */
FL_API fl_status fl_catalog_import_offerings(fl_catalog *cat, const char *csv_path,
                                            const char *cloud, size_t *rows_out, fl_error *err);
/* Measured per-layer / per-step timings, JSONL (one object per line, see docs). */
FL_API fl_status fl_catalog_import_measured(fl_catalog *cat, const char *jsonl_path,
                                           size_t *rows_out, fl_error *err);

/* What the catalog's measured rows imply (docs/calibration.md, docs/engines.md): the fitted
 * parameters (training, per GPU: GEMM efficiency and HBM bandwidth; decoder-layer and edge scales;
 * per framework: host seconds per kernel, checkpoint bookkeeping, fixed cost per iteration,
 * elementwise bandwidth, loss bytes per logit, allocator reserve; serving: each engine's refit
 * parameters per GPU), every row's residual under the fit and its leave-one-out residual, as a
 * JSON document {"training": {...}, "serving": {"engines": [...]}}. gpu, framework and engine
 * (NULL: all) filter what is reported; an unknown one is an error naming the field. The simulators
 * apply the same fits by themselves whenever a catalog holds measured rows. Caller frees
 * *json_out with fl_free. */
FL_API fl_status fl_calibration_report(const fl_catalog *cat, const char *gpu, const char *framework,
                                      const char *engine, char **json_out, fl_error *err);

/* Export one table as CSV ("gpus", "offerings", "zones", "models", "measured", "nodes") or JSON.
 * Returns a caller-owned string. */
FL_API fl_status fl_catalog_export(const fl_catalog *cat, const char *table, int as_json,
                                  char **out, fl_error *err);

#ifdef __cplusplus
}
#endif
#endif
