/* simulator/train_measured.h — measured whole-model rows (kind "train_iter") as simulator
 * inputs: the model and setup a row describes, and the simulator's prediction of it. Used by the
 * calibration (train_calib.c), the accuracy bench and `flotilla profiles calibrate`. */
#ifndef FL_SIMULATOR_TRAIN_MEASURED_H
#define FL_SIMULATOR_TRAIN_MEASURED_H

#include "simulator/train_sim.h"

/* What the simulator predicts for one measured iteration. */
typedef struct fl_train_row_pred {
    double iteration_s;
    double peak_alloc_bytes;    /* live tensors at the peak (torch.cuda.max_memory_allocated) */
    double peak_reserved_bytes; /* the caching allocator's reserve at the peak */
    int fits;                   /* 0: predicted out of memory */
} fl_train_row_pred;

/* The model and setup every measured row shares: GPT layout (GELU, learned positions, the row's
 * h, a, kv heads, ffn (4h), vocab (50304 when absent), positions), `layers` layers, and the row's
 * micro-batch, sequence, dtype, attention and recomputation; one GPU, overlap on. */
void fl_train_row_shape(const fl_measured *r, int layers, fl_model *m, fl_train_setup *s);

/* The model (GPT layout: learned positions unless the row says otherwise, GELU, ffn from the
 * row) and the single-GPU setup (micro-batch b, grad_accum micro-batches, recomputation,
 * framework, bf16 autocast compute) of a train_iter row. m->name points into the row. */
fl_status fl_train_row_setup(const fl_measured *r, fl_model *m, fl_train_setup *s, fl_error *err);

/* Simulate the row on its GPU as a one-stage, one-replica plan of grad_accum micro-batches. */
fl_status fl_train_row_predict(const fl_catalog *cat, const fl_measured *r, fl_train_row_pred *out, fl_error *err);

#endif
