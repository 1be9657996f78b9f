/* simulator/train_compute.c — compute-time model of training: per-GPU performance figures, a
 * GEMM time model (wave quantisation over the GPU's SMs, roofline on HBM bandwidth, kernel
 * overheads), the FLOPs and memory traffic of one transformer layer (GQA, flash or standard
 * attention, GELU or SwiGLU MLP, MoE), embeddings, LM head and loss, recomputation, and the
 * preference for measured catalog points when the shape is close.
 *
 * Calibration (bench/train_sim/ reproduces it): the large-GEMM efficiency, the wave model and the
 * copy bandwidth come from the H100 GEMM/memcpy points of tests/data/calibration; the flash
 * attention efficiencies, the backward GEMM factor and the kernel overheads were chosen once on
 * the H100 layer points (global constants, no per-shape terms). Whole-model A100 iterations are
 * checked against the published Megatron-LM runs (tests/data/published); what those add to the
 * H100 layers (materialised attention, dropout) is counted in HBM bytes kernel by kernel, with no
 * efficiency fitted to them. */
#include "simulator/train_sim.h"
#include "simulator/train_calib.h"
#include "profiles/catalog.h"

#include <ctype.h>
#include <math.h>
#include <string.h>
#include <strings.h>

/* Output tile of tensor-core GEMM kernels (cuBLAS/CUTLASS 128x256 on recent GPUs). */
#define TILE_M 128.0
#define TILE_N 256.0
/* Fixed GPU-side cost of a kernel (prologue/epilogue, launch gap), s. */
#define KERNEL_OVERHEAD_S 4e-6
/* No kernel completes faster than the host can issue it in an eager framework, s. */
#define KERNEL_FLOOR_S 10e-6
/* Backward GEMMs (transposed operands, wgrad reductions over tokens) run at this fraction of
 * the forward efficiency (fitted once on the H100 layer points). */
#define BWD_GEMM_FACTOR 0.85
/* Flash attention: time of the non-matmul work per score (exponential, max, rescale) relative to
 * the matmul work at head dim 128. 0.25 puts head dim 64 at 0.83x the head-dim-128 efficiency, as
 * the FlashAttention-2 paper's A100 benchmarks show (arXiv:2307.08691, figures 4-6). */
#define FLASH_NONMATMUL 0.25
/* Smallest slice of the reduction dimension a split-K GEMM gives one SM (cuBLAS/CUTLASS split-K
 * and stream-K kernels keep a few 64-deep main-loop iterations per CTA). */
#define SPLIT_K_MIN 256.0
/* Achievable fraction of the HBM datasheet bandwidth: H100 1 GiB device copy 2.91 TB/s of 3.35. */
#define HBM_EFF 0.87

/* Per-GPU figures that the catalog does not carry: SM count (datasheets) and the fraction of
 * dense peak that large GEMMs reach. Hopper 0.78 is measured here (8192^3 bf16 754 TFLOP/s of
 * 989). A100 0.82: the best-shape maximum achievable matmul (stas00/ml-engineering MAMF table:
 * 271.2 of 312 TFLOP/s) times the ratio of a plain 8192^3 GEMM to that maximum seen on H100
 * (754 / 794.5); checked against the whole-model Megatron-LM runs in bench/train_sim/. The others
 * are typical published cuBLAS/rocBLAS large-GEMM results. */
static const struct {
    const char *prefix;
    int sms;
    double gemm_eff;
} gpu_table[] = {
    {"V100", 80, 0.80},   {"T4", 40, 0.68},    {"A10G", 80, 0.75},   {"L4", 58, 0.70},
    {"L40S", 142, 0.72},  {"A100", 108, 0.82}, {"H100-PCIE", 114, 0.75}, {"H100", 132, 0.78},
    {"H200", 132, 0.80},  {"GH200", 132, 0.80}, {"MI250X", 220, 0.60}, {"MI300X", 304, 0.55},
};

/* Dense TF32 tensor-core peak: the catalog's figure, else half the dense BF16 peak on the GPUs
 * that have TF32 tensor cores
 * (NVIDIA Ampere and later: A100 156 of 312, H100 SXM 495 of 989, L4 60 of 121, L40S 183 of 362
 * TFLOP/s dense, per the datasheets; AMD CDNA3: MI300X 654 of 1307); the plain FP32 peak on the
 * others (Volta, Turing, CDNA2), where fp32 matmuls run on the FP32 units. */
/* TF32 tensor cores: the catalog's tf32_flops when given, else by architecture (NVIDIA Ampere and
 * later, AMD CDNA3). */
static int has_tf32(const fl_gpu *g)
{
    if (g->tf32_flops > 0)
        return 1;
    const char *arch = g->architecture ? g->architecture : "";
    return strcasecmp(arch, "Ampere") == 0 || strcasecmp(arch, "Hopper") == 0 || strncasecmp(arch, "Ada", 3) == 0 ||
           strcasecmp(arch, "Blackwell") == 0 || strcasecmp(arch, "CDNA3") == 0;
}

static double tf32_peak(const fl_gpu *g)
{
    if (g->tf32_flops > 0)
        return g->tf32_flops;
    double bf16 = g->bf16_flops > 0 ? g->bf16_flops : g->fp16_flops;
    return has_tf32(g) && bf16 > 0 ? bf16 / 2 : g->fp32_flops;
}

void fl_train_gpu_perf_get(const fl_catalog *cat, int gpu, fl_dtype dtype, fl_train_gpu_perf *p)
{
    const fl_gpu *g = fl_catalog_gpu(cat, (size_t)gpu);
    memset(p, 0, sizeof *p);
    double peak;
    switch (dtype) {
    case FL_DT_FP32: peak = g->fp32_flops; break;
    case FL_DT_TF32: peak = tf32_peak(g); break;
    case FL_DT_FP8: peak = g->fp8_flops > 0 ? g->fp8_flops : (g->bf16_flops > 0 ? g->bf16_flops : g->fp16_flops); break;
    case FL_DT_FP16: peak = g->fp16_flops > 0 ? g->fp16_flops : g->bf16_flops; break;
    default: peak = g->bf16_flops > 0 ? g->bf16_flops : g->fp16_flops; break; /* bf16 falls back to fp16 AMP */
    }
    if (peak <= 0)
        peak = g->fp32_flops > 0 ? g->fp32_flops : 1e13;
    p->peak_flops = peak;
    p->gemm_eff = 0.75;
    p->sms = 0;
    size_t best = 0;
    for (size_t i = 0; i < sizeof gpu_table / sizeof gpu_table[0]; i++) {
        if (tolower((unsigned char)g->name[0]) != tolower((unsigned char)gpu_table[i].prefix[0]))
            continue; /* cheap first-letter test before the full prefix */
        size_t n = strlen(gpu_table[i].prefix);
        if (n > best && strncasecmp(g->name, gpu_table[i].prefix, n) == 0) {
            best = n;
            p->sms = gpu_table[i].sms;
            p->gemm_eff = gpu_table[i].gemm_eff;
        }
    }
    if (g->sms > 0) /* the catalog's datasheet figure */
        p->sms = g->sms;
    if (p->sms == 0) /* unknown GPU: about 7.5 dense TFLOP/s per SM as on Hopper/Ampere */
        p->sms = (int)fmax(16, round(peak / 7.5e12));
    if (dtype == FL_DT_FP32 || (dtype == FL_DT_TF32 && !has_tf32(g))) /* on the FP32 units */
        p->gemm_eff = 0.85;
    /* Flash attention reaches 0.55 (fwd) and 0.35 (bwd) of peak on the H100 points where GEMMs
     * reach 0.78: keep those ratios to the GEMM efficiency on other GPUs. */
    p->attn_fwd_eff = p->gemm_eff * (0.55 / 0.78);
    p->attn_bwd_eff = p->gemm_eff * (0.35 / 0.78);
    p->hbm_bw = g->hbm_bw * HBM_EFF;
    p->hbm_peak = g->hbm_bw;
    fl_train_link_eff(g->link_type, g->link_bw, &p->link_bw, &p->link_lat); /* train_comm.c */
    p->kernel_s = KERNEL_OVERHEAD_S;
    p->layer_fwd_scale = p->layer_bwd_scale = 1;
    p->edge_fwd_scale[0] = p->edge_fwd_scale[1] = p->edge_bwd_scale[0] = p->edge_bwd_scale[1] = 1;
    fl_train_fw_defaults(FL_FW_MEGATRON, &p->fw[FL_FW_MEGATRON]);
    fl_train_fw_defaults(FL_FW_TORCH_AMP, &p->fw[FL_FW_TORCH_AMP]);
    const fl_train_calib *cal = fl_train_calib_of(cat);
    if (cal)
        fl_train_calib_apply(cal, gpu, dtype, p);
}

/* max and ceil of the finite non-negative values below, inlined (the libm calls dominate the
 * layer model otherwise; same results: no NaN, no signed zero, values far below 2^52). */
static inline double max_d(double a, double b)
{
    return a > b ? a : b;
}

static inline double ceil_pos(double x)
{
    double t = (double)(long long)x;
    return t < x ? t + 1 : t;
}

/* Seconds of one kernel running `batch` independent GEMMs [M,K] x [K,N] at `eff_scale` of the
 * forward efficiency, on output tiles TILE_M x tn. Tensor cores work in waves of output tiles
 * over the SMs (all the products' tiles share them); the last partial wave costs a full one. */
static double tiled_gemm_time(const fl_train_gpu_perf *p, double batch, double M, double N, double K, double e,
                              double eff_scale, double tn)
{
    if (batch <= 0 || M <= 0 || N <= 0 || K <= 0)
        return 0;
    double tiles = batch * ceil_pos(M / TILE_M) * ceil_pos(N / tn);
    /* split-K / stream-K: with fewer output tiles than SMs, the reduction dimension is split over
     * the idle SMs (at least SPLIT_K_MIN of K each); the partial tiles are summed in fp32 */
    double split = 1;
    if (tiles < p->sms && K >= 2 * SPLIT_K_MIN) {
        split = (double)(long long)(p->sms / tiles);
        double kmax = (double)(long long)(K / SPLIT_K_MIN);
        split = split < kmax ? split : kmax;
    }
    double waves = ceil_pos(tiles * split / p->sms);
    double tile_t = 2.0 * TILE_M * tn * K / split / (p->gemm_eff * eff_scale * p->peak_flops / p->sms);
    if (split > 1) /* write and read back the fp32 partial tiles */
        tile_t += 2.0 * TILE_M * tn * 4 * tiles * split / p->hbm_bw / waves;
    /* never faster than the useful FLOPs at peak efficiency nor than moving the operands */
    double tf = batch * 2.0 * M * N * K / (p->gemm_eff * eff_scale * p->peak_flops);
    double tm = batch * (M * K + K * N + M * N) * e / p->hbm_bw;
    double t = max_d(max_d(waves * tile_t, tf), tm) + KERNEL_OVERHEAD_S;
    return max_d(t, KERNEL_FLOOR_S);
}

/* Seconds of one GEMM [M,K] x [K,N] on full TILE_M x TILE_N tiles. */
static double gemm_time(const fl_train_gpu_perf *p, double M, double N, double K, double e, double eff_scale)
{
    return tiled_gemm_time(p, 1, M, N, K, e, eff_scale, TILE_N);
}

double fl_train_gemm_time(const fl_train_gpu_perf *p, double M, double N, double K, double e)
{
    return gemm_time(p, M, N, K, e, 1);
}

/* Seconds of one batched GEMM (the attention's per-head products): a narrow N (the head
 * dimension) runs on a tile of N rounded up to 64 columns rather than the full 256. */
static double batched_gemm_time(const fl_train_gpu_perf *p, double batch, double M, double N, double K, double e,
                                double eff_scale)
{
    return tiled_gemm_time(p, batch, M, N, K, e, eff_scale, N < TILE_N ? ceil_pos(N / 64) * 64 : TILE_N);
}

/* Seconds of a memory-bound kernel moving `bytes` through HBM. */
static double mem_time(const fl_train_gpu_perf *p, double bytes)
{
    return max_d(bytes / p->hbm_bw + KERNEL_OVERHEAD_S, KERNEL_FLOOR_S);
}

double fl_train_allreduce_time(double bytes, int n, double bw, double lat)
{
    if (n <= 1 || bytes <= 0)
        return 0;
    return 2.0 * (n - 1) / n * bytes / bw + 2.0 * (n - 1) * lat;
}

double fl_train_layer_params(const fl_model *m)
{
    double h = m->hidden, f = m->ffn;
    double kvd = (double)m->hidden / m->heads * m->kv_heads;
    int gelu = m->activation == FL_ACT_GELU;
    double attn = 2 * h * h + 2 * h * kvd + (gelu ? 2 * h + 2 * kvd : 0);
    double mlp = gelu ? 2 * h * f + f + h : 3 * h * f;
    double router = m->experts > 1 ? h * m->experts : 0;
    return attn + mlp * m->experts + router + (gelu ? 4 * h : 2 * h);
}

double fl_train_embed_params(const fl_model *m)
{
    return (double)m->vocab * m->hidden + (m->rope ? 0 : (double)m->max_positions * m->hidden);
}

/* Final norm + LM head; with tied embeddings and a pipeline split, the last stage keeps its
 * own copy of the embedding matrix for the head (Megatron-LM). */
double fl_train_head_params(const fl_model *m, int pipeline_split)
{
    double fin = m->activation == FL_ACT_GELU ? 2.0 * m->hidden : m->hidden;
    double head = (!m->tied_embeddings || pipeline_split) ? (double)m->vocab * m->hidden : 0;
    return fin + head;
}

/* The sizes one transformer layer's cost and memory are computed from (one micro-batch). */
typedef struct layer_shape {
    double e;          /* activation bytes per element (fp8 compute keeps 16-bit activations) */
    double t;          /* tensor-parallel degree */
    double b, sq, h, a, f, T; /* micro-batch, sequence, hidden, heads, ffn, tokens b*sq */
    double kvd;        /* width of K (and V): head dim x kv heads */
    double sp;         /* norms/residuals split over tp with sequence parallelism, else 1 */
    double act_tokens; /* tokens through the MLP (x top-k for MoE) */
    int gelu, moe;
} layer_shape;

static void shape_of(const fl_train_setup *s, int tp, layer_shape *L)
{
    const fl_model *m = s->model;
    L->e = fl_train_act_elem_bytes(s);
    L->t = tp > 0 ? tp : 1;
    L->b = s->micro_batch, L->sq = s->seq_len, L->h = m->hidden, L->a = m->heads, L->f = m->ffn;
    L->T = L->b * L->sq;
    L->kvd = L->h / L->a * m->kv_heads;
    L->gelu = m->activation == FL_ACT_GELU;
    L->moe = m->experts > 1;
    L->sp = s->sequence_parallel ? L->t : 1;
    L->act_tokens = L->moe ? L->T * m->top_k : L->T;
}

/* Activation bytes one layer keeps for backward per GPU (one micro-batch), analytic. */
static double act_bytes_analytic(const fl_train_setup *s, int tp)
{
    const fl_model *m = s->model;
    layer_shape L;
    shape_of(s, tp, &L);
    double e = L.e, t = L.t, b = L.b, sq = L.sq, h = L.h, a = L.a, f = L.f, T = L.T, kvd = L.kvd, sp = L.sp;
    /* 16-bit: layer input and norm outputs (replicated over tp unless sequence parallel),
     * Q/K/V/O, MLP internals; fp32 norm statistics and attention log-sum-exp. The measured H100
     * layers (flash, GELU, no dropout) keep exactly 31*s*b*h + s*b*(16 + 4a) bytes (Korthikanti's
     * 34 less the two dropout masks and one shared tensor); the norm block is scaled to 3.5 of its
     * 4 tensors to match. With dropout the two 1-byte residual-branch masks are kept too. */
    double mlp_act = L.act_tokens * f * (L.gelu ? 2 * e : 4 * e) + (L.moe ? T * m->top_k * h * e : 0);
    double repl = T * h * 3.5 * e / sp;                      /* norm inputs/outputs (measured 3.5 of 4) */
    double split = T * (2 * e * h + 2 * kvd * e) + mlp_act;  /* Q, O, K, V, MLP internals */
    double stats = T * (16 / sp + 4 * a / t);
    if (s->framework == FL_FW_TORCH_AMP)
        repl += 2 * T * h * (4 - e) / sp; /* the norms' inputs: autocast keeps the residual stream fp32 */
    double full = repl + split / t + stats;
    if (s->dropout)
        full += 2 * T * h / sp;
    /* Korthikanti: scores and softmax output (2 bytes each), the 1-byte dropout mask with dropout */
    if (!s->flash && s->recompute != FL_RC_SELECTIVE)
        full += (2 * e + (s->dropout ? 1 : 0)) * a / t * sq * sq * b; /* scores and probabilities in the compute dtype */
    if (s->recompute == FL_RC_FULL)             /* only the layer input survives */
        full = T * h * (s->framework == FL_FW_TORCH_AMP ? 4 : e) / sp;
    return full;
}

void fl_train_layer_cost_plain(const fl_train_gpu_perf *p, const fl_train_setup *s, int tp, fl_train_layer_cost *c)
{
    const fl_model *m = s->model;
    layer_shape L;
    shape_of(s, tp, &L);
    double e = L.e, t = L.t, b = L.b, sq = L.sq, h = L.h, a = L.a, f = L.f, T = L.T, kvd = L.kvd, sp = L.sp;
    int gelu = L.gelu, moe = L.moe;
    memset(c, 0, sizeof *c);

    /* --- forward --- */
    double qkv = gemm_time(p, T, (h + 2 * kvd) / t, h, e, 1);
    double outp = gemm_time(p, T, h, h / t, e, 1);
    double mlp_f = 0, mlp_b = 0, mlp_flops;
    double nmat = gelu ? 2 : 3;
    if (moe) {
        double E = m->experts, k = m->top_k;
        double Te = T * k / E; /* tokens per expert (balanced routing) */
        double up = gemm_time(p, Te, (nmat - 1) * f / t, h, e, 1), dn = gemm_time(p, Te, h, f / t, e, 1);
        double upb = gemm_time(p, Te, h, (nmat - 1) * f / t, e, BWD_GEMM_FACTOR) +
                     gemm_time(p, h, (nmat - 1) * f / t, Te, e, BWD_GEMM_FACTOR);
        double dnb = gemm_time(p, Te, f / t, h, e, BWD_GEMM_FACTOR) + gemm_time(p, f / t, h, Te, e, BWD_GEMM_FACTOR);
        double router = gemm_time(p, T, E, h, e, 1) + mem_time(p, T * E * 4 * 3);
        double perm = mem_time(p, 2 * T * k * h * e * 2); /* dispatch + combine copies */
        mlp_f = E * (up + dn) + router + perm;
        mlp_b = E * (upb + dnb) + 2 * router + perm;
        mlp_flops = 2 * T * k * nmat * h * f / t + 2 * T * E * h;
    } else {
        double up = gemm_time(p, T, (nmat - 1) * f / t, h, e, 1), dn = gemm_time(p, T, h, f / t, e, 1);
        mlp_f = up + dn;
        mlp_b = gemm_time(p, T, h, (nmat - 1) * f / t, e, BWD_GEMM_FACTOR) +
                gemm_time(p, h, (nmat - 1) * f / t, T, e, BWD_GEMM_FACTOR) +
                gemm_time(p, T, f / t, h, e, BWD_GEMM_FACTOR) + gemm_time(p, f / t, h, T, e, BWD_GEMM_FACTOR);
        mlp_flops = 2 * T * nmat * h * f / t;
    }
    double act_tokens = L.act_tokens;
    double act_f = mem_time(p, act_tokens * f / t * e * (gelu ? 2 : 3));
    double act_b = mem_time(p, act_tokens * f / t * e * (gelu ? 3 : 5));
    /* two norms and two residual adds on [T, h] (split by tp under sequence parallelism); with
     * dropout on both residual branches the fused bias-dropout-add also writes a 1-byte mask and
     * backward has a dropout kernel of its own (read gradient and mask, write gradient) */
    double drop = s->dropout ? 1 : 0;
    double elem_f = 2 * mem_time(p, 2 * T * h * e / sp) + 2 * mem_time(p, (3 * e + drop) * T * h / sp);
    double elem_b = 2 * mem_time(p, 4 * T * h * e / sp) + 2 * mem_time(p, 3 * T * h * e / sp);
    if (s->dropout)
        elem_b += 2 * mem_time(p, T * h * (2 * e + 1) / sp);
    if (m->rope) {
        elem_f += mem_time(p, 2 * T * (h + kvd) / t * e);
        elem_b += mem_time(p, 2 * T * (h + kvd) / t * e);
    }
    /* attention core: causal, so half of the 4*b*s^2*h score/value FLOPs are computed */
    double heads_t = a / t;
    double hd = h / a;
    double attn_flops_full = 4.0 * b * sq * sq * hd * heads_t; /* non-causal count */
    double attn_f, attn_b;
    if (s->flash) {
        /* the softmax and rescaling work per score is fixed while the matmul work per score is
         * 4 x head_dim FLOPs: below head dim 128 (where the efficiencies were measured) the
         * non-matmul share grows and the kernel's efficiency falls with it */
        double hd_eff = hd >= 128 ? 1 : (1 + FLASH_NONMATMUL) / (1 + FLASH_NONMATMUL * 128 / hd);
        attn_f = max_d(0.5 * attn_flops_full / (hd_eff * p->attn_fwd_eff * p->peak_flops), KERNEL_FLOOR_S);
        attn_b = max_d(2.5 * 0.5 * attn_flops_full / (hd_eff * p->attn_bwd_eff * p->peak_flops), KERNEL_FLOOR_S);
    } else {
        /* materialised scores: batched GEMMs over b*heads writing / reading [b, a, s, s], a fused
         * scale-mask-softmax (read, write), with dropout a dropout kernel (read, write, 1-byte
         * mask); backward: dropout (read gradient and mask, write), softmax (read gradient and
         * output, write). The context [b, a, s, d] is then permuted to [s, b, h] (one copy each way),
         * and backward gathers the Q, K, V gradients (strided views of the fused QKV output) into
         * one [T, h + 2 kv] gradient (one copy). */
        double bh = b * heads_t;
        double qk = batched_gemm_time(p, bh, sq, sq, hd, e, 1);
        double sv = batched_gemm_time(p, bh, sq, hd, sq, e, 1);
        double n_sc = bh * sq * sq, scores = n_sc * e;
        double ctx = mem_time(p, 2 * T * h / t * e);
        attn_f = qk + sv + mem_time(p, 2 * scores) + ctx;
        attn_b = 2 * (qk + sv) / BWD_GEMM_FACTOR + mem_time(p, 3 * scores) + ctx +
                 mem_time(p, 2 * T * (h + 2 * kvd) / t * e);
        if (s->dropout) {
            attn_f += mem_time(p, 2 * scores + n_sc);
            attn_b += mem_time(p, 2 * scores + n_sc);
        }
    }
    c->fwd_compute_s = qkv + attn_f + outp + mlp_f + act_f + elem_f;
    double bwd_gemm = gemm_time(p, T, h, (h + 2 * kvd) / t, e, BWD_GEMM_FACTOR) +
                      gemm_time(p, h, (h + 2 * kvd) / t, T, e, BWD_GEMM_FACTOR) +
                      gemm_time(p, T, h / t, h, e, BWD_GEMM_FACTOR) + gemm_time(p, h / t, h, T, e, BWD_GEMM_FACTOR);
    c->bwd_compute_s = bwd_gemm + attn_b + mlp_b + act_b + elem_b;
    c->fwd_flops = 2 * T * (h + 2 * kvd) * h / t + 2 * T * h * h / t + mlp_flops + attn_flops_full;

    /* tensor parallelism: Megatron-style 2 all-reduces of [T, h] forward and 2 backward
     * (reduce-scatter + all-gather of the same volume under sequence parallelism) */
    if (tp > 1) {
        double ar = fl_train_allreduce_time(T * h * e, tp, p->link_bw, p->link_lat);
        c->fwd_comm_s = 2 * ar;
        c->bwd_comm_s = 2 * ar;
    }
    /* recomputation: selective redoes the attention core, full the whole forward */
    if (s->recompute == FL_RC_SELECTIVE)
        c->bwd_compute_s += attn_f;
    else if (s->recompute == FL_RC_FULL) {
        c->bwd_compute_s += c->fwd_compute_s;
        c->bwd_comm_s += c->fwd_comm_s;
    }

    c->act_bytes = act_bytes_analytic(s, tp);
    c->fwd_compute_s *= p->layer_fwd_scale;
    c->bwd_compute_s *= p->layer_bwd_scale;
}

/* Kernels one layer issues per micro-batch, forward and backward (without recomputation), by
 * framework: Megatron-LM fuses bias+GELU and bias+dropout+add and uses fused norms; torch-amp
 * (autocast) adds a weight cast per linear weight and bias, an input cast per linear fed by a
 * norm, and runs every op on its own; accumulation kernels add each parameter's gradient into
 * .grad. */
typedef struct layer_kernels {
    double fwd, bwd, acc, cast; /* cast: the forward casts among fwd (torch-amp) */
} layer_kernels;

static layer_kernels kernels_of(const fl_train_setup *s, const layer_shape *L, int rope)
{
    double lin = L->gelu ? 4 : 7;             /* fused QKV (GPT) or q, k, v, o, gate, up, down (Llama) */
    double bias = L->gelu ? 4 : 0;
    double attn_f = s->flash ? 1 : 3, attn_b = s->flash ? 3 : 4;
    double drop = s->dropout ? 3 : 0;         /* attention-probability and two residual masks */
    double act = L->gelu ? 1 : 2, ropek = rope ? 2 : 0, tpk = L->t > 1 ? 2 : 0;
    layer_kernels k;
    if (s->framework == FL_FW_TORCH_AMP) {
        k.fwd = 2 /* norms */ + 2 /* input casts */ + lin + bias /* weight casts */ + lin + attn_f + 1 /* context copy */ +
                act + 2 /* residual adds */ + ropek + drop + tpk;
        k.bwd = 2 * lin + bias /* bias grads */ + lin + bias /* cast grads */ + act + attn_b + 1 + 4 /* norms */ +
                2 /* input-cast grads */ + 2 /* residual grads */ + ropek + drop + tpk;
        k.acc = lin + bias + 4;
        k.cast = lin + bias + 2;
    } else {
        k.fwd = 2 + lin + attn_f + (L->gelu ? 1 : 2) + 2 + ropek + (s->dropout ? 1 : 0) + tpk;
        k.bwd = 2 * lin + 4 + attn_b + act + 2 + ropek + (s->dropout ? 1 : 0) + tpk;
        k.acc = 0; /* accumulated in the wgrad GEMM or one fused pass (train_sim.c) */
        k.cast = 0;
    }
    return k;
}

/* Framework terms of one layer on top of its own kernels: torch-amp's extra passes (weight casts
 * and their gradient casts, casts of the norm outputs, fp32 residual stream and norms, the
 * accumulation into fp32 .grad), then the host: an eager framework cannot finish a phase before it
 * has issued its kernels, so each phase takes at least kernels x host seconds per kernel. */
static void layer_framework(const fl_train_gpu_perf *p, const fl_train_setup *s, int tp, fl_train_layer_cost *c)
{
    const fl_model *m = s->model;
    layer_shape L;
    shape_of(s, tp, &L);
    const fl_train_fw_params *fw = &p->fw[s->framework == FL_FW_TORCH_AMP ? FL_FW_TORCH_AMP : FL_FW_MEGATRON];
    layer_kernels k = kernels_of(s, &L, m->rope);
    double fwd_gpu = c->fwd_compute_s, bwd_gpu = c->bwd_compute_s;
    double recompute_f = 0; /* the forward redone in backward (full recomputation) */
    if (s->recompute == FL_RC_FULL && fwd_gpu > 0)
        recompute_f = 1;
    if (s->framework == FL_FW_TORCH_AMP) {
        double wp = fl_train_layer_params(m) / L.t;                  /* tp-local parameters */
        double mm = wp - (L.gelu ? 4 * L.h : 2 * L.h) / L.t;          /* those of the linears */
        double ce = fl_dtype_is_fp32(s->compute_dtype) ? 0 : L.e;     /* no casts when computing in fp32 */
        double Th = L.T * L.h / L.sp, ncast = 0, bw = p->hbm_bw * fw->eltwise_bw_frac;
        double extra_f = 0, extra_b = 0;
        if (ce > 0) {
            ncast = k.cast;
            extra_f = (mm * (4 + ce) + 2 * Th * (4 + ce)) / bw;  /* weight and input casts */
            extra_b = (mm * (4 + ce) + 2 * Th * (4 + ce)) / bw;  /* their gradients back to fp32 */
        }
        /* fp32 residual stream: norms read/write 4-byte tensors and the adds mix 4- and e-byte ones */
        extra_f += 16 * Th * (4 - L.e > 0 ? 1 : 0) / bw + ncast * p->kernel_s;
        extra_b += 16 * Th * (4 - L.e > 0 ? 1 : 0) / bw + ncast * p->kernel_s;
        fwd_gpu += extra_f;
        bwd_gpu += extra_b + recompute_f * extra_f;
        /* accumulation of this micro-batch's gradients into fp32 .grad: read both, write one */
        c->acc_gpu_s = 12 * wp / bw + k.acc * p->kernel_s;
        c->acc_host_s = k.acc * fw->launch_bwd_s;
    }
    double host_f = k.fwd * fw->launch_fwd_s;
    double host_b = k.bwd * fw->launch_bwd_s + recompute_f * (host_f + fw->ckpt_layer_s);
    c->fwd_compute_s = max_d(fwd_gpu, host_f);
    c->bwd_compute_s = max_d(bwd_gpu, host_b);
}

void fl_train_layer_cost_analytic(const fl_train_gpu_perf *p, const fl_train_setup *s, int tp,
                                  fl_train_layer_cost *c)
{
    fl_train_layer_cost_plain(p, s, tp, c);
    layer_framework(p, s, tp, c);
}

/* Closest measured "layer" point of this GPU with the model's h/a/ffn (GELU, MHA, the measured
 * layer's structure), the query's dtype and attention kind; NULL when none is within a factor 4
 * in tokens, 2 in sequence and 4 in tp. Points at the query's tp are preferred. */
static const fl_measured *closest_measured(const fl_catalog *cat, const fl_train_setup *s, int gpu, int tp)
{
    const fl_model *m = s->model;
    if (m->activation != FL_ACT_GELU || m->kv_heads != m->heads || m->experts > 1)
        return NULL;
    size_t n = fl_catalog_measured_count(cat);
    const fl_measured *best = NULL;
    double bestd = 1e300;
    double lt = log((double)s->micro_batch * s->seq_len), ls = log((double)s->seq_len), ltp = log(tp > 0 ? tp : 1);
    for (size_t i = 0; i < n; i++) {
        const fl_measured *r = fl_catalog_measured(cat, i);
        if (r->gpu_index != gpu || !r->kind || strcmp(r->kind, "layer") != 0)
            continue;
        if (r->h != m->hidden || r->a != m->heads || r->ffn != m->ffn || r->s <= 0 || r->b <= 0 || r->fwd_s <= 0 ||
            r->fwdbwd_s <= r->fwd_s)
            continue;
        /* a row without dtype is a 16-bit one; fp32 and tf32 rows both time 4-byte layers (whatever
         * the matmul mode was) */
        int rdt = r->dtype && *r->dtype ? fl_dtype_parse(r->dtype) : -1;
        int q32 = fl_dtype_is_fp32(s->compute_dtype);
        if (rdt < 0 ? q32 : rdt != (int)s->compute_dtype && !(fl_dtype_is_fp32((fl_dtype)rdt) && q32))
            continue;
        int row_flash = !r->attention || strcmp(r->attention, "standard") != 0;
        if (row_flash != (s->flash != 0))
            continue;
        double dt = fabs(log((double)r->s * r->b) - lt), ds = fabs(log((double)r->s) - ls);
        double dtp = fabs(log(r->tp > 0 ? r->tp : 1) - ltp);
        if (dt > log(4.0) + 1e-9 || ds > log(2.0) + 1e-9 || dtp > log(4.0) + 1e-9)
            continue;
        double d = dt + 2 * ds + 4 * dtp;
        if (d < bestd) {
            bestd = d;
            best = r;
        }
    }
    return best;
}

void fl_train_layer_cost_get(const fl_catalog *cat, const fl_train_setup *s, int gpu, int tp,
                             fl_train_layer_cost *c)
{
    fl_train_gpu_perf p;
    fl_train_gpu_perf_get(cat, gpu, s->compute_dtype, &p);
    fl_train_layer_cost_with(cat, &p, s, gpu, tp, c);
}

/* The query's setup at the measured point's shape (no recomputation, no sequence parallelism; the
 * point's own tp): what the measurement is compared with. */
static fl_train_setup measured_shape(const fl_train_setup *s, const fl_measured *r)
{
    fl_train_setup ms = *s;
    ms.micro_batch = r->b;
    ms.seq_len = r->s;
    ms.recompute = FL_RC_NONE;
    ms.sequence_parallel = 0;
    return ms;
}

static int row_tp(const fl_measured *r)
{
    return r->tp > 0 ? r->tp : 1;
}

/* 1 when a measured point's activation bytes can correct the query's (same layout kept). */
static int measured_act_applies(const fl_train_setup *s, int tp, const fl_measured *r)
{
    return s->recompute != FL_RC_FULL && tp == row_tp(r) && !s->sequence_parallel;
}

/* Factor from the analytic to the measured activation bytes at the measured shape (1 when the
 * point carries none or does not apply). */
static double measured_act_scale(const fl_train_setup *s, int tp, const fl_measured *r)
{
    if (r->act_bytes <= 0 || !measured_act_applies(s, tp, r))
        return 1;
    fl_train_setup ms = measured_shape(s, r);
    return r->act_bytes / act_bytes_analytic(&ms, row_tp(r));
}

void fl_train_layer_cost_with(const fl_catalog *cat, const fl_train_gpu_perf *pp, const fl_train_setup *s, int gpu,
                              int tp, fl_train_layer_cost *c)
{
    fl_train_gpu_perf p = *pp;
    fl_train_layer_cost_plain(&p, s, tp, c);
    const fl_measured *r = fl_catalog_measured_count(cat) ? closest_measured(cat, s, gpu, tp) : NULL;
    if (!r) {
        layer_framework(&p, s, tp, c);
        return;
    }
    /* scale the analytic times of the query by measured/analytic at the measured shape (its tp, no
     * recomputation; a tp row times the tp-local shard's kernels): the measured point corrects the
     * level, the model carries the shape */
    fl_train_setup ms = measured_shape(s, r);
    fl_train_layer_cost ref;
    fl_train_layer_cost_plain(&p, &ms, row_tp(r), &ref);
    double kf = r->fwd_s / ref.fwd_compute_s;
    double kb = (r->fwdbwd_s - r->fwd_s) / ref.bwd_compute_s;
    fl_train_layer_cost q0;
    fl_train_setup qs = *s;
    qs.recompute = FL_RC_NONE;
    fl_train_layer_cost_plain(&p, &qs, tp, &q0);
    double extra = c->bwd_compute_s - q0.bwd_compute_s; /* recomputation, scaled like forward */
    c->fwd_compute_s = q0.fwd_compute_s * kf;
    c->bwd_compute_s = q0.bwd_compute_s * kb + extra * kf;
    c->act_bytes *= measured_act_scale(s, tp, r);
    c->measured = 1;
    layer_framework(&p, s, tp, c);
}

double fl_train_layer_act_bytes(const fl_catalog *cat, const fl_train_setup *s, int gpu, int tp)
{
    /* the act_bytes of fl_train_layer_cost_get without the timing model */
    double act = act_bytes_analytic(s, tp);
    if (fl_catalog_measured_count(cat) == 0)
        return act;
    const fl_measured *r = closest_measured(cat, s, gpu, tp);
    return r ? act * measured_act_scale(s, tp, r) : act;
}

void fl_train_layer_time(const fl_catalog *cat, const fl_train_setup *s, int gpu, int tp, double *fwd_s,
                         double *bwd_s)
{
    fl_train_layer_cost c;
    fl_train_layer_cost_get(cat, s, gpu, tp, &c);
    *fwd_s = c.fwd_compute_s + c.fwd_comm_s;
    *bwd_s = c.bwd_compute_s + c.bwd_comm_s;
}

void fl_train_edge_time(const fl_catalog *cat, const fl_train_setup *s, int gpu, int tp, int has_first,
                        int has_last, double *fwd_s, double *bwd_s)
{
    fl_train_gpu_perf p;
    fl_train_gpu_perf_get(cat, gpu, s->compute_dtype, &p);
    fl_train_edge_time_with(&p, s, tp, has_first, has_last, fwd_s, bwd_s);
}

/* GPU seconds of one edge of one micro-batch (which 0: embeddings, 1: final norm + LM head +
 * loss): its own kernels, without the framework's extra passes and host. */
static void edge_plain(const fl_train_gpu_perf *p, const fl_train_setup *s, int tp, int which, double *fwd_s,
                       double *bwd_s)
{
    const fl_model *m = s->model;
    double e = fl_train_act_elem_bytes(s);
    double T = (double)s->micro_batch * s->seq_len, h = m->hidden, V = m->vocab, t = tp > 0 ? tp : 1;
    double f = 0, b = 0;
    if (which == 0) {
        /* token (+ position) gather; backward scatter-adds into an fp32 gradient */
        f += mem_time(p, 2 * T * h * e * (m->rope ? 1 : 2));
        b += mem_time(p, T * h * (e + 8)) + mem_time(p, V / t * h * 4);
    } else {
        double logits = T * V / t;
        f += mem_time(p, 2 * T * h * e);                         /* final norm */
        f += gemm_time(p, T, V / t, h, e, 1);                    /* LM head */
        f += mem_time(p, logits * (e + 4)) + mem_time(p, logits * 8); /* fp32 cast, log-softmax */
        b += mem_time(p, logits * 12) + mem_time(p, logits * (4 + e));
        b += gemm_time(p, T, h, V / t, e, BWD_GEMM_FACTOR) + gemm_time(p, h, V / t, T, e, BWD_GEMM_FACTOR);
        b += mem_time(p, 4 * T * h * e);
        if (tp > 1) { /* vocab-parallel loss: max, sum-exp, target logit all-reduced */
            double ar = fl_train_allreduce_time(T * 4 * 3, tp, p->link_bw, p->link_lat);
            f += ar + fl_train_allreduce_time(T * h * e, tp, p->link_bw, p->link_lat);
            b += fl_train_allreduce_time(T * h * e, tp, p->link_bw, p->link_lat);
        }
        if (s->recompute == FL_RC_FULL)
            b += mem_time(p, 2 * T * h * e);
    }
    *fwd_s = f * p->edge_fwd_scale[which];
    *bwd_s = b * p->edge_bwd_scale[which];
}

void fl_train_edge_plain(const fl_train_gpu_perf *p, const fl_train_setup *s, int tp, int which, double *fwd_s,
                         double *bwd_s)
{
    fl_train_gpu_perf q = *p;
    q.edge_fwd_scale[which] = q.edge_bwd_scale[which] = 1;
    edge_plain(&q, s, tp, which, fwd_s, bwd_s);
}

/* One edge with the framework's terms: torch-amp keeps the embedding output, the final norm and
 * the logits' input in fp32 and casts the head weight per micro-batch (and its gradient back);
 * the host issues each kernel (embedding: gathers + add, backward: dense embedding gradients;
 * head: norm, casts, GEMM, fp32 cast, log-softmax, NLL, backward the same in reverse). */
static void edge_part(const fl_train_gpu_perf *pp, const fl_train_setup *s, int tp, int which, double *fwd_s,
                      double *bwd_s)
{
    fl_train_gpu_perf p = *pp;
    const fl_model *m = s->model;
    int amp = s->framework == FL_FW_TORCH_AMP;
    const fl_train_fw_params *fw = &p.fw[amp ? FL_FW_TORCH_AMP : FL_FW_MEGATRON];
    if (amp) /* eager elementwise and loss kernels of the framework */
        p.hbm_bw *= fw->eltwise_bw_frac;
    double f, b;
    edge_plain(&p, s, tp, which, &f, &b);
    double e = fl_train_act_elem_bytes(s);
    double T = (double)s->micro_batch * s->seq_len, h = m->hidden, V = m->vocab, t = tp > 0 ? tp : 1;
    double ce = amp && !fl_dtype_is_fp32(s->compute_dtype) ? e : 0;
    double kf, kb;
    if (which == 0) {
        kf = amp ? 3 : 2;
        kb = amp ? 8 : 4;
        if (amp) {
            f += mem_time(&p, T * h * (4 + 4 + 12) - 2 * T * h * e * (m->rope ? 1 : 2));
            b += mem_time(&p, T * h * 4);
        }
    } else {
        kf = amp ? 8 : 5;
        kb = amp ? 11 : 8;
        if (amp) {
            double Vh = V / t * h;
            f += mem_time(&p, Vh * (4 + ce) + T * h * (4 + ce) + 4 * T * h);
            b += mem_time(&p, Vh * (4 + ce) + T * h * (4 + ce) + 4 * T * h);
        }
    }
    *fwd_s = max_d(f, kf * fw->launch_fwd_s);
    *bwd_s = max_d(b, kb * fw->launch_bwd_s);
}

void fl_train_edge_time_with(const fl_train_gpu_perf *pp, const fl_train_setup *s, int tp, int has_first,
                             int has_last, double *fwd_s, double *bwd_s)
{
    double f = 0, b = 0, pf, pb;
    if (has_first) {
        edge_part(pp, s, tp, 0, &pf, &pb);
        f += pf, b += pb;
    }
    if (has_last) {
        edge_part(pp, s, tp, 1, &pf, &pb);
        f += pf, b += pb;
    }
    *fwd_s = f;
    *bwd_s = b;
}

double fl_train_model_fwd_flops(const fl_train_setup *s)
{
    const fl_model *m = s->model;
    double T = (double)s->micro_batch * s->seq_len, h = m->hidden, f = m->ffn, a = m->heads;
    double kvd = h / a * m->kv_heads;
    double nmat = m->activation == FL_ACT_GELU ? 2 : 3;
    double k = m->experts > 1 ? m->top_k : 1;
    double layer = 2 * T * (h + 2 * kvd) * h + 2 * T * h * h + 2 * T * k * nmat * h * f +
                   (m->experts > 1 ? 2 * T * m->experts * h : 0) + 4.0 * T * s->seq_len * h;
    return m->layers * layer + 2 * T * h * m->vocab;
}

int fl_train_node_gpus(const fl_catalog *cat, int gpu)
{
    /* largest instance (or on-prem node) of this GPU type, precomputed when the catalog loads */
    int best = gpu >= 0 && (size_t)gpu < cat->n_gpus ? cat->gpu_node_gpus[gpu] : 0;
    return best > 0 ? best : 8;
}
