/* simulator/train_calib.h — the training simulator's calibration: named parameters fitted to the
 * measured rows of a catalog (docs/calibration.md).
 *
 * - per GPU type, from its own rows: the large-GEMM efficiency (kind gemm) and the achievable HBM
 *   bandwidth (kind memcpy_d2d);
 * - for every GPU type, from the layer rows of whichever GPUs have them: measured / modelled time
 *   of a decoder layer, forward and backward (how the kernels of a real layer fall short of the
 *   model), carried to GPUs without rows as a ratio; the same for the embeddings and for the LM
 *   head + loss (embedding / lm_head_loss rows), and the bandwidth fraction the optimizer step
 *   reaches (optimizer_step rows);
 * - per framework, from its whole-model rows (kind train_iter) on any GPU: the host seconds per
 *   kernel, the checkpoint bookkeeping per recomputed layer, the fixed cost per iteration, the
 *   loss's live bytes per logit and the allocator's reserve (fl_train_fw_params). They are counts
 *   times host seconds or bytes, so they carry to every GPU type through its datasheet.
 * The simulator looks the fit up once per catalog (fl_train_calib_of) and applies it in
 * fl_train_gpu_perf_get. */
#ifndef FL_SIMULATOR_TRAIN_CALIB_H
#define FL_SIMULATOR_TRAIN_CALIB_H

#include "simulator/train_sim.h"

#include <jansson.h>

typedef struct fl_train_calib {
    size_t n_gpus;
    double *gemm_eff;          /* per catalog GPU: fitted 16-bit large-GEMM efficiency, 0 = no rows */
    double *hbm_eff;           /* per catalog GPU: fitted fraction of the datasheet HBM bandwidth, 0 = none */
    int *n_gemm, *n_copy;      /* rows behind them */
    int n_layer_rows;
    double layer_fwd_scale, layer_bwd_scale; /* measured / modelled layer time (1 without rows) */
    double edge_fwd_scale[2], edge_bwd_scale[2]; /* the same for embeddings [0] and LM head + loss [1] */
    int n_edge_rows[2];
    double opt_bw_frac;        /* optimizer passes' fraction of the copy bandwidth (1 without rows) */
    int n_opt_rows;
    fl_train_fw_params fw[2];  /* by fl_framework: fitted where n_fw_time / n_fw_mem > 0, else defaults */
    int n_fw_time[2], n_fw_mem[2];
} fl_train_calib;

/* Rows a fit leaves out (leave-one-out): the row of index skip_row (-1: none) and every row of
 * model skip_model (NULL: none). */
typedef struct fl_train_calib_opts {
    long skip_row;
    const char *skip_model;
    int kernels_only;      /* 1: fit the GPU figures and layer scales only (frameworks keep defaults) */
} fl_train_calib_opts;

/* Fit every parameter above to the catalog's measured rows. *out is owned by the caller
 * (fl_train_calib_free); a catalog without usable rows gives a calibration equal to the defaults. */
fl_status fl_train_calib_fit(const fl_catalog *cat, const fl_train_calib_opts *opts, fl_train_calib **out,
                             fl_error *err);
void fl_train_calib_free(fl_train_calib *c);

/* The catalog's calibration, fitted on first use (thread-safe); NULL when the catalog has no
 * measured row (rows that fit nothing give a fit equal to the defaults). Inside
 * fl_train_calib_use(c) it is c. */
const fl_train_calib *fl_train_calib_of(const fl_catalog *cat);
/* Put `c` in force for this thread (NULL: back to the catalog's); returns the previous one. */
const fl_train_calib *fl_train_calib_use(const fl_train_calib *c);

/* Apply a calibration to the performance figures of GPU `gpu` for `dtype`. */
void fl_train_calib_apply(const fl_train_calib *c, int gpu, fl_dtype dtype, fl_train_gpu_perf *p);

/* Helpers shared with the report: a row in 16-bit; modelled seconds of a gemm row (and the
 * efficiency used); modelled plain forward and backward seconds of a layer row. */
int fl_train_calib_row_16bit(const fl_measured *r);
double fl_train_calib_gemm_model(const fl_catalog *cat, const fl_measured *r, double *eff);
void fl_train_calib_layer_model(const fl_catalog *cat, const fl_measured *r, double *fwd, double *bwd);

/* The fit, every row's residual and its leave-one-out residual, as JSON (what `flotilla profiles
 * calibrate` prints). gpu / framework (NULL: all) filter the rows reported. Leave-one-out leaves
 * out one model at a time for whole-model rows and one row at a time for kernel and layer rows. */
fl_status fl_train_calib_report(const fl_catalog *cat, const char *gpu, const char *framework, json_t **out,
                                fl_error *err);

#endif
