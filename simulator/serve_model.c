/* simulator/serve_model.c — analytic serving latency and memory model of one replica.
 *
 * Every GEMM of an iteration is timed as max(compute, memory) where
 *   compute = flops / (peak * eta_c * W / (W + peak * T_RAMP))   (efficiency grows with the size
 *             W of the GEMM: the H100 points of /work/shared/calibration give 35 % of peak at 2048^3,
 *             61 % at 4096^3 and 76 % at 8192^3; T_RAMP is the fixed fill/drain time of a kernel)
 *   memory  = bytes / (bw * eta_bw)                              (device copies reach ~87 % of HBM
 *             bandwidth: 2.91 TB/s of 3.35 measured on H100)
 * so decode (few rows) is bandwidth-bound on the weights and the KV cache while prefill is
 * compute-bound, with the crossover emerging from the shapes, not from per-point constants.
 * Each layer adds the flash-attention work, element-wise traffic (norms, residuals, activation),
 * two tensor-parallel all-reduces (latency-dominated at decode) and a kernel-launch gap; each
 * pipeline boundary adds a hand-off. Low-power inference cards (L4, T4: <= 75 W) cannot hold their
 * tensor-core clocks under sustained load: their eta_c is lower (FACTS: prefill 2.1-2.7x roofline). */
#include "simulator/serve_model.h"
#include "common/error.h"

#include <math.h>
#include <string.h>

#define T_RAMP 21e-6          /* s: GEMM fill/drain, from the 2048^3 vs 8192^3 H100 points */
#define ETA_C_DC 0.78         /* large-GEMM fraction of tensor peak (753/989 TF measured on H100) */
#define ETA_C_LOWPOWER 0.42   /* <= 100 W cards (L4, T4) */
#define ETA_ATTN 0.55         /* flash attention reaches a lower fraction than plain GEMMs */
#define ETA_BW 0.87           /* 2.91 / 3.35 TB/s device copy on H100 */
/* Paged-attention KV reads (scattered blocks, per-head tiles) reach less of the bandwidth than
 * streaming weights: 0.70 matches TensorRT-LLM's published A100 FP16 LLaMA-7B static-batch
 * throughputs (docs/source/performance.md, release 0.5.0; see bench/serving/ACCURACY.md). */
#define ETA_KV 0.70
#define LAYER_GAP 10e-6       /* kernel launch gaps per layer (CUDA-graph replay) */
#define STEP_OVERHEAD 100e-6  /* scheduler + sampling per iteration */
#define AR_ALPHA_NVLINK 10e-6 /* one all-reduce latency over NVLink / xGMI */
#define AR_ALPHA_PCIE 20e-6
#define RUNTIME_BYTES 3.5e9   /* CUDA context, cuBLAS/NCCL workspaces, CUDA graphs per GPU */
#define PROFILE_TOKENS 8192.0 /* tokens of the activation-profiling forward pass (vLLM) */

static double dt_bytes(fl_dtype d) { return fl_dtype_bytes(d); }

/* Parameters of one transformer layer (all experts), and of its active part per token. */
static void layer_params(const fl_model *m, double *all, double *active, double *attn)
{
    double h = m->hidden, d = (double)m->hidden / m->heads, g = m->kv_heads;
    double a = 2.0 * h * h + 2.0 * h * g * d;
    double mlp = (m->activation == FL_ACT_SWIGLU ? 3.0 : 2.0) * h * m->ffn;
    int e = m->experts > 1 ? m->experts : 1, k = m->experts > 1 ? m->top_k : 1;
    double router = m->experts > 1 ? h * m->experts : 0;
    *attn = a;
    *all = a + e * mlp + router;
    *active = a + k * mlp + router;
}

fl_status fl_serve_cfg_init(fl_serve_cfg *c, const fl_gpu *gpu, const fl_model *m, int tp, int pp,
                            fl_dtype wdt, fl_dtype kvdt, const char *field, fl_error *err)
{
    memset(c, 0, sizeof *c);
    c->gpu = gpu;
    c->model = *m;
    c->tp = tp;
    c->pp = pp;
    c->wdt = wdt;
    c->kvdt = kvdt;
    if (tp < 1 || pp < 1)
        return fl_fail(err, FL_EINVAL, field, "%s: tp and pp must be >= 1 (got tp %d, pp %d)", field, tp, pp);
    if (m->heads % tp != 0)
        return fl_fail(err, FL_EINVAL, field, "%s: tp %d does not divide the %d attention heads of %s", field, tp,
                       m->heads, m->name ? m->name : "the model");
    if (pp > m->layers)
        return fl_fail(err, FL_EINVAL, field, "%s: pp %d exceeds the %d layers of %s", field, pp, m->layers,
                       m->name ? m->name : "the model");
    double p16 = gpu->bf16_flops > 0 ? gpu->bf16_flops : gpu->fp16_flops;
    switch (wdt) {
    case FL_DT_FP32: c->peak_flops = gpu->fp32_flops; break;
    case FL_DT_FP16: c->peak_flops = gpu->fp16_flops > 0 ? gpu->fp16_flops : p16; break;
    case FL_DT_FP8: c->peak_flops = gpu->fp8_flops > 0 ? gpu->fp8_flops : p16; break;   /* weight-only */
    case FL_DT_INT8: c->peak_flops = gpu->int8_ops > 0 ? gpu->int8_ops : p16; break;
    default: c->peak_flops = p16; break;                                                /* bf16, int4 */
    }
    if (c->peak_flops <= 0)
        return fl_fail(err, FL_EINVAL, field, "%s: %s has no figure for %s compute", field, gpu->name, fl_dtype_name(wdt));
    c->eta_c = gpu->tdp_w > 0 && gpu->tdp_w <= 100 ? ETA_C_LOWPOWER : ETA_C_DC;
    c->eta_bw = ETA_BW;

    double all, active, attn;
    layer_params(m, &all, &active, &attn);
    (void)active;
    (void)attn;
    double emb = (double)m->vocab * m->hidden, head = m->tied_embeddings ? 0 : emb;
    int lps = (m->layers + pp - 1) / pp;
    double first = lps * all + emb + (pp == 1 ? head : 0), last = lps * all + head;
    double wb = dt_bytes(wdt);
    c->weights_per_gpu = (first > last ? first : last) * wb / tp;
    double d = (double)m->hidden / m->heads;
    int kvh = (m->kv_heads + tp - 1) / tp;
    c->kv_bytes_per_token = 2.0 * lps * kvh * d * dt_bytes(kvdt);
    double act = PROFILE_TOKENS * (4.0 * m->hidden + 3.0 * m->ffn / tp) * 2.0 +
                 FL_SERVE_MAX_BATCH * (double)m->vocab / tp * 4.0;
    c->overhead_bytes = RUNTIME_BYTES + act + (tp > 1 || pp > 1 ? 0.5e9 : 0);
    double avail = gpu->usable_memory_bytes * FL_SERVE_MEM_UTIL;
    double free_b = avail - c->weights_per_gpu - c->overhead_bytes;
    c->kv_tokens = free_b > 0 ? floor(free_b / c->kv_bytes_per_token / 16.0) * 16.0 : 0;
    c->fits = c->kv_tokens >= 16;
    c->max_batch = FL_SERVE_MAX_BATCH;
    if (!c->fits)
        return fl_fail(err, FL_EINVAL, field,
                       "%s: %s weights need %.1f GB per GPU on %s with tp %d pp %d, but only %.1f GB are usable "
                       "(%.0f%% of %.1f GB minus %.1f GB runtime/activations): no room for the KV cache",
                       field, m->name ? m->name : "model", c->weights_per_gpu / 1e9, gpu->name, tp, pp,
                       (avail - c->overhead_bytes) / 1e9, FL_SERVE_MEM_UTIL * 100, gpu->usable_memory_bytes / 1e9,
                       c->overhead_bytes / 1e9);
    return FL_OK;
}

/* Time of one GEMM [m,k]x[k,n] (per GPU) with the size-dependent efficiency; *fl accumulates flops. */
static double gemm(const fl_serve_cfg *c, double m, double n, double k, double wbytes, double eta, double *fl,
                   int *cb)
{
    if (m <= 0)
        return 0;
    double w = 2.0 * m * n * k;
    double eff = eta * w / (w + c->peak_flops * T_RAMP);
    double tc = w / (c->peak_flops * eff);
    double bytes = n * k * wbytes + (m * k + m * n) * 2.0;
    double tm = bytes / (c->gpu->hbm_bw * c->eta_bw);
    *fl += w;
    if (tc > tm) {
        (*cb)++;
        return tc;
    }
    (*cb)--;
    return tm;
}

double fl_serve_step_time(const fl_serve_cfg *c, double tokens, double seqs, double attn_pairs, double kv_read,
                          double *flops_out, int *bound_out)
{
    const fl_model *m = &c->model;
    double tp = c->tp, h = m->hidden, d = (double)m->hidden / m->heads, g = m->kv_heads;
    double wb = dt_bytes(c->wdt);
    double fl = 0;
    int cb = 0;
    double t = 0;
    if (tokens <= 0 && kv_read <= 0)
        return 0;
    /* attention projections */
    t += gemm(c, tokens, (h + 2.0 * g * d) / tp, h, wb, c->eta_c, &fl, &cb);
    t += gemm(c, tokens, h, h / tp, wb, c->eta_c, &fl, &cb);
    /* MLP: dense, or the experts the tokens are routed to */
    double up = (m->activation == FL_ACT_SWIGLU ? 2.0 : 1.0) * m->ffn / tp;
    if (m->experts > 1) {
        double e = m->experts, k = m->top_k;
        double touched = e * (1.0 - pow(1.0 - k / e, tokens));
        double per = tokens * k / touched;
        double fe = 0;
        double t1 = gemm(c, per, up, h, wb, c->eta_c, &fe, &cb) + gemm(c, per, h, m->ffn / tp, wb, c->eta_c, &fe, &cb);
        fl += fe * touched;
        t += t1 * touched + gemm(c, tokens, e, h, wb, c->eta_c, &fl, &cb);
    } else {
        t += gemm(c, tokens, up, h, wb, c->eta_c, &fl, &cb);
        t += gemm(c, tokens, h, m->ffn / tp, wb, c->eta_c, &fl, &cb);
    }
    /* attention core: prefill pairs (compute) and decode KV reads (bandwidth) */
    double heads_gpu = m->heads / tp, kvh = ceil(g / tp);
    if (attn_pairs > 0) {
        double w = 4.0 * attn_pairs * d * heads_gpu;
        double eff = ETA_ATTN * w / (w + c->peak_flops * T_RAMP);
        t += w / (c->peak_flops * eff);
        fl += w;
        cb++;
    }
    if (kv_read > 0) {
        t += kv_read * 2.0 * kvh * d * dt_bytes(c->kvdt) / (c->gpu->hbm_bw * c->eta_bw * (ETA_KV / ETA_BW));
        fl += 4.0 * kv_read * d * heads_gpu;
        cb--;
    }
    /* element-wise traffic: 2 norms, 2 residual adds, rotary, activation (read 2x, write 1x) */
    t += tokens * (10.0 * h + 3.0 * up / (m->activation == FL_ACT_SWIGLU ? 2.0 : 1.0)) * 2.0 /
         (c->gpu->hbm_bw * c->eta_bw);
    /* tensor-parallel all-reduces (2 per layer) */
    if (c->tp > 1) {
        double alpha = strcmp(c->gpu->link_type ? c->gpu->link_type : "", "PCIe") == 0 ? AR_ALPHA_PCIE : AR_ALPHA_NVLINK;
        double bytes = tokens * h * 2.0;
        t += 2.0 * (alpha + 2.0 * (tp - 1) / tp * bytes / (c->gpu->link_bw * 0.8));
    }
    t += LAYER_GAP;
    double per_layer = t;
    double total = per_layer * m->layers;
    fl *= m->layers;
    /* LM head on the sequences that produce a token, embedding lookups */
    if (seqs > 0)
        total += gemm(c, seqs, (double)m->vocab / tp, h, wb, c->eta_c, &fl, &cb);
    /* pipeline hand-offs */
    if (c->pp > 1)
        total += (c->pp - 1) * (15e-6 + tokens * h * 2.0 / (c->gpu->link_bw > 0 ? c->gpu->link_bw * 0.8 : 1e10));
    total += STEP_OVERHEAD;
    if (flops_out)
        *flops_out = fl * tp;
    if (bound_out)
        *bound_out = cb > 0;
    return total;
}

double fl_serve_prefill_time(const fl_serve_cfg *c, int b, int s, double *flops, int *bound)
{
    double pairs = (double)b * s * (s + 1.0) / 2.0;
    return fl_serve_step_time(c, (double)b * s, b, pairs, 0, flops, bound);
}

double fl_serve_decode_time(const fl_serve_cfg *c, int b, int ctx, double *flops, int *bound)
{
    return fl_serve_step_time(c, b, b, 0, (double)b * (ctx + 1.0), flops, bound);
}
