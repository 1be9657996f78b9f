/* export/export_int.h — shared pieces of the exporters: a growing text buffer, the file list,
 * name tables (SkyPilot accelerators, Kubernetes GPU product labels) and the training launch
 * (torchrun + Megatron-LM arguments) that every training format runs. */
#ifndef FL_EXPORT_INT_H
#define FL_EXPORT_INT_H

#include "flotilla/fl_export.h"
#include "common/error.h"

#include <stddef.h>

typedef struct sbuf { char *s; size_t len, cap; int oom; } sbuf;
void sb_printf(sbuf *b, const char *fmt, ...) FL_PRINTF(2, 3);
/* Append s as a double-quoted YAML/JSON string (escaping quotes, backslashes, controls). */
void sb_quoted(sbuf *b, const char *s);

typedef struct ex_files { fl_export_file *v; size_t n, cap; } ex_files;
/* Move b's text into a new file named name; FL_ENOMEM on failure (b is released either way). */
fl_status ex_add(ex_files *f, const char *name, sbuf *b, fl_error *err);

/* Name tables; NULL when the GPU is not in the table. */
const char *ex_sky_accelerator(const char *gpu);
const char *ex_k8s_product(const char *gpu);
/* Region of a zone from the catalog; NULL when unknown. The part after "cloud:" in *short_zone. */
const char *ex_region(const fl_catalog *cat, const char *zone, const char **short_zone);
/* A lower-case DNS-1123 label made of s ("gpt3-2.7b" -> "gpt3-2-7b"), at most 40 characters. */
void ex_dns_name(const char *s, char *out, size_t cap);

/* The training launch every training format runs: one node list in rank order. */
#define EX_MAX_SLOTS 64
typedef struct ex_slot {      /* consecutive nodes of one node group used by one pipeline stage */
    size_t group;             /* index of the node group */
    int nodes;                /* whole instances */
    int first_node;           /* node rank of the first one */
    size_t stage, last_stage; /* the stages it holds */
} ex_slot;
typedef struct ex_train {
    int nnodes, gpus_per_node, pp, tp, dp;
    ex_slot slot[EX_MAX_SLOTS];
    size_t n_slots;
    sbuf args;                /* the Megatron-LM arguments, one "  --flag value \\" per line */
} ex_train;
/* Build the launch; FL_EINVAL with the reason when Megatron-LM / torchrun cannot run the plan. */
fl_status ex_train_build(const fl_plan_model *m, const fl_catalog *cat, ex_train *t, fl_error *err);
/* Append the shell lines that start one node (NODE_RANK, MASTER_ADDR, MASTER_PORT set by the caller). */
void ex_train_node_script(const ex_train *t, const fl_plan_model *m, sbuf *b, const char *indent);

fl_status ex_skypilot(const fl_plan_model *m, const fl_catalog *cat, const fl_export_options *o, ex_files *f,
                      fl_error *err);
fl_status ex_slurm(const fl_plan_model *m, const fl_catalog *cat, const fl_export_options *o, ex_files *f,
                   fl_error *err);
fl_status ex_megatron(const fl_plan_model *m, const fl_catalog *cat, const fl_export_options *o, ex_files *f,
                      fl_error *err);
fl_status ex_kubernetes(const fl_plan_model *m, const fl_catalog *cat, const fl_export_options *o, ex_files *f,
                        fl_error *err);
fl_status ex_vllm(const fl_plan_model *m, const fl_catalog *cat, const fl_export_options *o, ex_files *f,
                  fl_error *err);
/* Serving: GPUs per node of a replica's node group and nodes per replica (tp*pp GPUs). */
fl_status ex_serve_shape(const fl_plan_model *m, size_t r, size_t *group, int *nodes, int *gpus_per_pod,
                         const char *format, fl_error *err);
/* The `vllm serve` command line of replica configuration r (no trailing newline). */
void ex_vllm_command(const fl_plan_model *m, size_t r, sbuf *b);

#endif
