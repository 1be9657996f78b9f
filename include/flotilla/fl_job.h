/* flotilla — jobs (training or serving) and GPU availability, from JSON (shapes in docs/json.md). */
#ifndef FLOTILLA_FL_JOB_H
#define FLOTILLA_FL_JOB_H

#include "fl_catalog.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct fl_job fl_job;
typedef struct fl_availability fl_availability;

typedef enum fl_job_kind { FL_JOB_TRAINING = 0, FL_JOB_SERVING = 1 } fl_job_kind;

/* Parse and validate a job. Names (model, GPUs, zones) are resolved against `cat`, which must
 * outlive the job. Errors name the JSON path, e.g. "job.global_batch". */
FL_API fl_status fl_job_from_json(const fl_catalog *cat, const char *json, fl_job **out, fl_error *err);
FL_API void fl_job_free(fl_job *job);
FL_API fl_job_kind fl_job_get_kind(const fl_job *job);
/* The job as normalised JSON (defaults filled in, model expanded). Caller frees with fl_free. */
FL_API char *fl_job_to_json(const fl_job *job);

/* Build jobs in code (the same validation as fl_job_from_json applies). */
FL_API fl_status fl_job_new_training(const fl_catalog *cat, const char *model, int global_batch, int seq_len,
                                    fl_job **out, fl_error *err);
/* A serving job with one request class (input/output tokens) at rate_rps requests per second. */
FL_API fl_status fl_job_new_serving(const fl_catalog *cat, const char *model, double rate_rps, int input_tokens,
                                   int output_tokens, fl_job **out, fl_error *err);
/* Set one field by its dotted path in the job JSON ("budget_per_hour", "slo.ttft_p90_s",
 * "allow.gpus") to a JSON value given as text ("300", "\"min_cost\"", "[\"h100\"]").
 * The job is re-validated; on error it is left unchanged and err names the field. */
FL_API fl_status fl_job_set(fl_job *job, const char *path, const char *json_value, fl_error *err);

/* Availability: how many GPUs of each type can be had in each zone. A fresh object allows the
 * catalog's offerings with no count limit; setting any count switches to "only what is listed". */
FL_API fl_status fl_availability_new(const fl_catalog *cat, fl_availability **out, fl_error *err);
/* {"zones": {"gcp:us-central1-a": {"A100-SXM-40GB": 64}, ...}}; an entry may also be
 * {"count": 16, "price_per_gpu_hour": 3.2, "gpus_per_node": 1} (owned capacity). A GPU the zone's
 * offerings do not sell (and no on-prem node of it) must be owned capacity: refused otherwise. */
FL_API fl_status fl_availability_from_json(const fl_catalog *cat, const char *json,
                                          fl_availability **out, fl_error *err);
FL_API fl_availability *fl_availability_clone(const fl_availability *av);
FL_API void fl_availability_free(fl_availability *av);
/* Set the count of `gpu` in `zone` (names or aliases). count >= 0. */
FL_API fl_status fl_availability_set(fl_availability *av, const char *zone, const char *gpu,
                                    int count, fl_error *err);
/* Owned capacity: `count` GPUs of `gpu` in `zone` at the user's own price_per_gpu_hour (>= 0)
 * in nodes of gpus_per_node GPUs (1..16; count a whole number of nodes). The planner rents them
 * as instance type "owned-<gpu>-x<gpus_per_node>" instead of the catalog's offerings of that cell. */
FL_API fl_status fl_availability_set_owned(fl_availability *av, const char *zone, const char *gpu, int count,
                                          double price_per_gpu_hour, int gpus_per_node, fl_error *err);
/* Count of GPUs of type gpu_index in zone_index: -1 when unlimited (no counts given). */
FL_API int fl_availability_get(const fl_availability *av, int zone_index, int gpu_index);
/* 1 when counts were given (the availability is a closed list). */
FL_API int fl_availability_is_limited(const fl_availability *av);
FL_API char *fl_availability_to_json(const fl_availability *av);

#ifdef __cplusplus
}
#endif
#endif
