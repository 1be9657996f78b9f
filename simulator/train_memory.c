/* simulator/train_memory.c — peak memory per GPU of a training stage: weights, gradients and
 * optimizer states by dtype with ZeRO sharding, activations of the micro-batches in flight,
 * last-stage logits and loss buffers, embedding gradients, communication buffers, the CUDA
 * context / framework overhead and allocator fragmentation; and the usable capacity. */
#include "simulator/train_sim.h"

#include <math.h>

/* The context, communicator-buffer and fragmentation figures are in train_sim.h
 * (fl_train_mem_plan_total, inlined in the simulator's per-stage loop). */

double fl_train_memory_capacity(const fl_catalog *cat, int gpu)
{
    const fl_gpu *g = fl_catalog_gpu(cat, (size_t)gpu);
    return g->usable_memory_bytes > 0 ? g->usable_memory_bytes : g->memory_bytes;
}

/* Bytes per parameter of (weights, grads, optimizer states). Megatron: 16-bit weights, gradients
 * in the job's dtype, an fp32 main copy in the optimizer. torch-amp: fp32 parameters and fp32
 * .grad (autocast makes 16-bit copies per use, counted apart), no main copy. */
static void param_bytes(const fl_train_setup *s, double *w, double *g, double *o)
{
    double e = fl_dtype_bytes(s->compute_dtype);
    double states = s->optimizer == FL_OPT_SGD ? 4 : 8; /* Adam(W) m+v fp32; SGD momentum */
    if (s->framework == FL_FW_TORCH_AMP) {
        *w = 4;
        *g = 4;
        *o = states;
        return;
    }
    *w = e;
    *g = fl_dtype_bytes(s->grad_dtype);
    double master = s->master_weights && !fl_dtype_is_fp32(s->compute_dtype) ? 4 : 0;
    *o = master + states;
}

/* Parameters of one layer that go through a matmul (weights and biases of the linears): what
 * autocast copies to 16 bits at each use. */
static double matmul_params(const fl_model *m)
{
    double h = m->hidden, f = m->ffn;
    double kvd = (double)m->hidden / m->heads * m->kv_heads;
    int gelu = m->activation == FL_ACT_GELU;
    double nmat = gelu ? 2 : 3;
    double attn = h * (h + 2 * kvd) + h * h + (gelu ? 2 * h + 2 * kvd : 0);
    double mlp = nmat * h * f + (gelu ? f + h : 0);
    return attn + mlp * m->experts;
}

double fl_train_in_flight(int p, int stage, int m, int chunks)
{
    if (chunks <= 1)
        return p - stage < m ? p - stage : m;
    double warm = (double)(p - stage - 1) * 2 + (double)(chunks - 1) * p + 1;
    double total = (double)m * chunks;
    return (warm < total ? warm : total) / chunks;
}

void fl_train_mem_plan_init(fl_train_mem_plan *mp, const fl_train_setup *s, int tp, int dp,
                            const fl_train_fw_params *fw)
{
    fl_train_fw_params def;
    if (!fw) {
        fl_train_fw_defaults(s->framework, &def);
        fw = &def;
    }
    const fl_model *m = s->model;
    double t = tp > 0 ? tp : 1;
    int n_dp = dp > 0 ? dp : 1;
    mp->s = s;
    mp->tp = tp;
    mp->dp = dp;
    mp->layer_params = fl_train_layer_params(m);
    mp->embed_params = fl_train_embed_params(m);
    mp->head_params[0] = fl_train_head_params(m, 0);
    mp->head_params[1] = fl_train_head_params(m, 1);
    double w, g, o;
    param_bytes(s, &w, &g, &o);
    if (s->zero_stage >= 1) o /= n_dp;
    if (s->zero_stage >= 2) g /= n_dp;
    if (s->zero_stage >= 3) w /= n_dp;
    mp->state_bytes = w + g + o;
    /* ZeRO-3 gathers one layer's full weights at a time (two with prefetch) */
    mp->gather_bytes = s->zero_stage >= 3 && n_dp > 1 ? 2 * mp->layer_params / t * fl_dtype_bytes(s->compute_dtype) : 0;
    double e = fl_train_act_elem_bytes(s);
    double T = (double)s->micro_batch * s->seq_len, h = m->hidden;
    mp->e = e;
    mp->T = T;
    mp->input_div = s->sequence_parallel ? t : 1;
    /* backward working set of one layer: gradients of the largest activations */
    mp->work_bytes = T * (m->ffn * (m->activation == FL_ACT_GELU ? 1.0 : 2.0) / t + 2 * h) * e;
    /* logits: the framework's live bytes per logit at the loss peak (Megatron: 16-bit output, fp32
     * log-softmax kept, fp32 gradient at backward) */
    mp->logits_bytes = T * m->vocab / t * fw->loss_bytes_per_logit + T * h * e;
    mp->context_bytes = fw->context_bytes;
    mp->cast_bytes_per_layer = mp->cast_bytes_head = mp->reserve_frac = 0;
    if (s->framework == FL_FW_TORCH_AMP) {
        /* autocast's cast cache: a 16-bit copy of every matmul weight, alive from its first use in
         * the forward until the backward has used it */
        double ce = fl_dtype_is_fp32(s->compute_dtype) ? 0 : e;
        mp->cast_bytes_per_layer = matmul_params(m) / t * ce;
        mp->cast_bytes_head = (double)m->vocab * h / t * ce;
        mp->reserve_frac = fw->reserve_frac;
    }
}

double fl_train_mem_plan_states(const fl_train_mem_plan *mp, int layers, int has_first, int has_last)
{
    double t = mp->tp > 0 ? mp->tp : 1;
    int split = !(has_first && has_last);
    double params = layers * mp->layer_params + (has_first ? mp->embed_params : 0) +
                    (has_last ? mp->head_params[split] : 0);
    params /= t;
    return params * mp->state_bytes + mp->gather_bytes;
}

double fl_train_mem_plan_stage(const fl_train_mem_plan *mp, double act_bytes, double act_full_bytes, int layers,
                               int has_first, int has_last, double in_flight)
{
    return fl_train_mem_plan_total(mp, fl_train_mem_plan_states(mp, layers, has_first, has_last), act_bytes,
                                   act_full_bytes, layers, has_first, has_last, in_flight);
}

double fl_train_stage_memory_from(const fl_train_setup *s, const fl_train_layer_cost *c, double act_full_bytes,
                                  int tp, int layers, int has_first, int has_last, double in_flight, int dp)
{
    fl_train_mem_plan mp;
    fl_train_mem_plan_init(&mp, s, tp, dp, NULL);
    return fl_train_mem_plan_stage(&mp, c->act_bytes, act_full_bytes, layers, has_first, has_last, in_flight);
}

double fl_train_stage_memory(const fl_catalog *cat, const fl_train_setup *s, int gpu, int tp, int layers,
                             int has_first, int has_last, int in_flight, int dp)
{
    fl_train_gpu_perf p;
    fl_train_gpu_perf_get(cat, gpu, s->compute_dtype, &p);
    fl_train_layer_cost c, cf;
    fl_train_layer_cost_with(cat, &p, s, gpu, tp, &c);
    cf = c;
    if (s->recompute == FL_RC_FULL) {
        fl_train_setup ns = *s;
        ns.recompute = FL_RC_NONE;
        fl_train_layer_cost_with(cat, &p, &ns, gpu, tp, &cf);
    }
    fl_train_mem_plan mp;
    fl_train_mem_plan_init(&mp, s, tp, dp, &p.fw[s->framework == FL_FW_TORCH_AMP]);
    return fl_train_mem_plan_stage(&mp, c.act_bytes, cf.act_bytes, layers, has_first, has_last, in_flight);
}
