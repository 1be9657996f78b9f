/* flotilla — export a plan to launcher files (SkyPilot, Kubernetes, Slurm, Megatron-LM, vLLM).
 * Reads only the typed plan (fl_plan_model); the catalog (may be NULL for the built-in names)
 * gives zone regions and model shapes. A plan a format cannot express is refused with
 * FL_EINVAL and the reason: the exporters never emit a different job. See docs/export.md. */
#ifndef FLOTILLA_FL_EXPORT_H
#define FLOTILLA_FL_EXPORT_H

#include "fl_catalog.h"
#include "fl_plan.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct fl_export_options {
    const char *queue;   /* kubernetes: Kueue LocalQueue name (label kueue.x-k8s.io/queue-name), or NULL */
    const char *image;   /* kubernetes: container image; NULL: "nvcr.io/nvidia/pytorch:24.07-py3" for
                            training, "vllm/vllm-openai:latest" for serving */
} fl_export_options;

/* One generated file: a relative name ("skypilot/group-0.yaml") and its text. */
typedef struct fl_export_file {
    char *name;
    char *text;
} fl_export_file;

/* The names of the formats, NULL-terminated: skypilot, kubernetes, slurm, megatron, vllm. */
FL_API const char *const *fl_export_formats(void);
/* Export the plan to `format`. On success *files (free with fl_export_files_free) holds
 * *n_files >= 1 files. FL_EINVAL naming "format" for an unknown format; FL_EINVAL with the
 * reason when the format cannot express the plan; FL_ENOTFOUND for a model or zone the catalog
 * does not know. */
FL_API fl_status fl_export_plan(const fl_plan_model *plan, const fl_catalog *cat, const char *format,
                                const fl_export_options *opts, fl_export_file **files, size_t *n_files,
                                fl_error *err);
FL_API void fl_export_files_free(fl_export_file *files, size_t n_files);

#ifdef __cplusplus
}
#endif
#endif
