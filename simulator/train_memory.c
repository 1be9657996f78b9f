/* simulator/train_memory.c — peak memory per GPU of a training stage: weights, gradients and
 * optimizer states by dtype with ZeRO sharding, activations of the micro-batches in flight,
 * last-stage logits and loss buffers, embedding gradients, communication buffers, the CUDA
 * context / framework overhead and allocator fragmentation; and the usable capacity. */
#include "simulator/train_sim.h"

#include <math.h>

/* CUDA context, cuBLAS/cuDNN workspaces and framework state per GPU: FACTS.md reports 2-5 GB
 * seen in practice (Sailor 5.06 GB on GH200); we take 2.0 GB without communicators. */
#define CONTEXT_BYTES 2.0e9
/* NCCL communicator buffers when the GPU talks to others (tp, pp or dp). */
#define COMM_BUFFER_BYTES 0.5e9
/* Caching-allocator fragmentation on top of the live tensors. */
#define FRAGMENTATION 0.05

double fl_train_memory_capacity(const fl_catalog *cat, int gpu)
{
    const fl_gpu *g = fl_catalog_gpu(cat, (size_t)gpu);
    return g->usable_memory_bytes > 0 ? g->usable_memory_bytes : g->memory_bytes;
}

/* Bytes per parameter of (weights, grads, optimizer states). */
static void param_bytes(const fl_train_setup *s, double *w, double *g, double *o)
{
    double e = fl_dtype_bytes(s->compute_dtype);
    *w = e;
    *g = fl_dtype_bytes(s->grad_dtype);
    double master = s->master_weights && s->compute_dtype != FL_DT_FP32 ? 4 : 0;
    double states = s->optimizer == FL_OPT_ADAM ? 8 : 4; /* Adam m+v fp32; SGD momentum */
    *o = master + states;
}

double fl_train_in_flight(int p, int stage, int m, int chunks)
{
    if (chunks <= 1)
        return p - stage < m ? p - stage : m;
    double warm = (double)(p - stage - 1) * 2 + (double)(chunks - 1) * p + 1;
    double total = (double)m * chunks;
    return (warm < total ? warm : total) / chunks;
}

double fl_train_stage_memory_from(const fl_train_setup *s, const fl_train_layer_cost *c, double act_full_bytes,
                                  int tp, int layers, int has_first, int has_last, double in_flight, int dp)
{
    const fl_model *m = s->model;
    double t = tp > 0 ? tp : 1;
    int n_dp = dp > 0 ? dp : 1;
    int split = !(has_first && has_last);
    double params = layers * fl_train_layer_params(m) + (has_first ? fl_train_embed_params(m) : 0) +
                    (has_last ? fl_train_head_params(m, split) : 0);
    params /= t;
    double w, g, o;
    param_bytes(s, &w, &g, &o);
    if (s->zero_stage >= 1) o /= n_dp;
    if (s->zero_stage >= 2) g /= n_dp;
    if (s->zero_stage >= 3) w /= n_dp;
    double states = params * (w + g + o);
    /* ZeRO-3 gathers one layer's full weights at a time (two with prefetch) */
    if (s->zero_stage >= 3 && n_dp > 1)
        states += 2 * fl_train_layer_params(m) / t * fl_dtype_bytes(s->compute_dtype);

    double e = fl_dtype_bytes(s->compute_dtype) < 2 && s->compute_dtype != FL_DT_FP32 ? 2 : fl_dtype_bytes(s->compute_dtype);
    double T = (double)s->micro_batch * s->seq_len, h = m->hidden;
    double keep = in_flight > 0 ? in_flight : 1;
    double acts = keep * layers * c->act_bytes;
    if (s->recompute == FL_RC_FULL && layers > 0)
        acts += act_full_bytes; /* one layer rebuilt during backward */
    if (!has_first) /* stage input received from the previous stage */
        acts += keep * T * h * e / (s->sequence_parallel ? t : 1);
    if (has_first) /* embedding output per micro-batch */
        acts += keep * T * h * e;
    /* backward working set of one layer: gradients of the largest activations */
    acts += T * (m->ffn * (m->activation == FL_ACT_GELU ? 1.0 : 2.0) / t + 2 * h) * e;
    double extra = 0;
    if (has_last) /* logits: 16-bit output, fp32 log-softmax kept, fp32 gradient at backward */
        extra += T * m->vocab / t * (e + 4 + 4) + T * h * e;
    double comm = (tp > 1 || dp > 1 || split) ? COMM_BUFFER_BYTES : 0;
    return (states + acts + extra) * (1 + FRAGMENTATION) + CONTEXT_BYTES + comm;
}

double fl_train_stage_memory(const fl_catalog *cat, const fl_train_setup *s, int gpu, int tp, int layers,
                             int has_first, int has_last, int in_flight, int dp)
{
    fl_train_layer_cost c, cf;
    fl_train_layer_cost_get(cat, s, gpu, tp, &c);
    cf = c;
    if (s->recompute == FL_RC_FULL) {
        fl_train_setup ns = *s;
        ns.recompute = FL_RC_NONE;
        fl_train_layer_cost_get(cat, &ns, gpu, tp, &cf);
    }
    return fl_train_stage_memory_from(s, &c, cf.act_bytes, tp, layers, has_first, has_last, in_flight, dp);
}
