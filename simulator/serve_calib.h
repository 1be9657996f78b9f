/* simulator/serve_calib.h — serving engines calibrated by measured rows: imported `prefill`,
 * `decode_step` and `decode` rows of a GPU and engine refit a few named parameters of that engine
 * (few-parameter Gauss-Newton on log-error with a weak pull towards the built-in value), which then
 * apply to every GPU type through the datasheet. Also: exact measured points for `estimate`. */
#ifndef FL_SIMULATOR_SERVE_CALIB_H
#define FL_SIMULATOR_SERVE_CALIB_H

#include "simulator/serve_model.h"

#include <jansson.h>

/* Engine `engine` (NULL: default) refit from the catalog's measured rows of that engine: the rows
 * of GPU `gpu` (catalog name; NULL: any) when there are some, else the rows of every GPU.
 * *n_rows (may be NULL) receives the number of rows used (0: the built-in engine, unchanged);
 * out->source is "calibrated" when rows were used. Fails on an unknown engine naming `field`. */
fl_status fl_serve_engine_calibrated(const fl_catalog *cat, const char *engine, const char *gpu, const char *field,
                                     fl_serve_engine *out, int *n_rows, fl_error *err);

/* The engine of served model sm (job.engine) on catalog GPU `gpu`, refit from the catalog's rows
 * (as fl_serve_engine_calibrated); the built-in engine when anything fails. */
void fl_serve_engine_for_job(const fl_catalog *cat, const fl_serve_model *sm, size_t gpu, fl_serve_engine *out);

/* The fit of every (engine, GPU) pair with measured serving rows (filtered by gpu / engine when not
 * NULL) as a JSON report:
 * {"engines":[{"engine","gpu","params":{..},"fitted":[..],"rows":[{"kind","model","b","s","tp",
 *   "measured_s","predicted_s","residual","loo_residual"} | {..,"oom":true,"predicted_fits":b}],
 *   "median_abs_err","loo_median_abs_err"}]}. Residuals are predicted / measured - 1. */
fl_status fl_serve_calibration(const fl_catalog *cat, const char *gpu, const char *engine, json_t **report,
                               fl_error *err);

/* The built-in engine most of the catalog's timed rows of kind 'p' (prefill) or 'd' (decode) were
 * measured with, preferring rows of GPU `gpu` (catalog index; -1: any); NULL when there are none.
 * `estimate` uses it when no engine is named. */
const char *fl_serve_measured_engine(const fl_catalog *cat, char kind, int gpu);

/* A measured serving point: kind 'p' prefill (s = prompt) or 'd' decode (s = context), GPU index,
 * model index, engine, tp, batch. Returns 1 and the seconds (median of duplicates) when the catalog
 * holds it (*oom = 1 for an out-of-memory row), else 0. */
int fl_serve_measured_point(const fl_catalog *cat, char kind, int gpu, int model, const char *engine, int tp, int b,
                            int s, double *seconds, int *oom);

#endif
