/* simulator/serve_model.c — analytic serving latency and memory model of one replica.
 *
 * Every GEMM of an iteration is timed as max(compute, memory) where
 *   compute = flops / (peak * eta_gemm * W / (W + peak * gemm_ramp_s))  (efficiency grows with the
 *             size W of the GEMM: the H100 points of tests/data/calibration give 35 % of peak at
 *             2048^3, 61 % at 4096^3 and 76 % at 8192^3; the ramp is the fill/drain of a kernel)
 *   memory  = bytes / (bw * eta_bw)          (device copies reach ~87 % of HBM bandwidth on H100)
 * so decode (few rows) is bandwidth-bound on the weights and the KV cache while prefill is
 * compute-bound, with the crossover emerging from the shapes, not from per-point constants.
 * Each layer adds the attention work (prefill: FLOPs; decode: KV bytes at eta_kv, summed so the
 * step stays affine in the KV read), element-wise traffic (norms, residuals, rotary, activation;
 * `elementwise_passes` times a fused layer's), two tensor-parallel all-reduces (latency + bandwidth)
 * and kernels_per_layer * launch_s of launch cost (added under CUDA graphs, overlapped with GPU work
 * when the host issues eager ops); each step adds the engine's fixed cost (scheduler, sampling),
 * which does not shrink with tp; each pipeline boundary adds a hand-off. Every number of the
 * engine is a named parameter (data/engines.csv, docs/engines.md) that measured rows can refit
 * (simulator/serve_calib.c). Low-power inference cards (L4, T4: <= 100 W) cannot hold their
 * tensor-core clocks under sustained load: their GEMM efficiency is scaled by 0.42 / 0.78. */
#include "simulator/serve_model.h"
#include "common/error.h"

#include "profiles/catalog.h"
#include "profiles/csv.h"

#include <ctype.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define GEMM_TILE_M 16.0   /* rows of the smallest tensor-core MMA tile (below: GEMV kernels) */
#define LOWPOWER_SCALE (0.42 / 0.78) /* <= 100 W cards (L4, T4): FACTS prefill 2.1-2.7x roofline */


/* ---- built-in engines (data/engines.csv) ---- */
#define MAX_ENGINES 32
static fl_serve_engine g_engines[MAX_ENGINES];
static char g_aliases[MAX_ENGINES][160];
static size_t g_n_engines;
static pthread_once_t g_once = PTHREAD_ONCE_INIT;

/* Parse the embedded data/engines.csv once; a malformed row is skipped (tests check the count). */
static void load_engines(void)
{
    const fl_builtin_file *f = NULL;
    for (size_t i = 0; i < fl_builtin_file_count; i++)
        if (strcmp(fl_builtin_files[i].name, "engines.csv") == 0)
            f = &fl_builtin_files[i];
    if (!f)
        return;
    fl_csv csv;
    fl_csv_init(&csv, f->text, f->len);
    if (fl_csv_next(&csv) != 1) {
        fl_csv_free(&csv);
        return;
    }
    static const char *const cols[] = {"name", "eta_gemm", "gemm_ramp_s", "eta_bw", "eta_kv", "eta_attn",
                                       "elementwise_passes", "kernels_per_layer", "launch_s", "host_overlap",
                                       "step_s", "ar_latency_s", "ar_hop_s", "ar_pcie_factor", "ar_bw_eff",
                                       "mem_util", "runtime_bytes", "profile_tokens", "max_batch", "aliases"};
    enum { NC = sizeof cols / sizeof cols[0] };
    int ix[NC];
    for (int c = 0; c < NC; c++)
        if ((ix[c] = fl_csv_col(&csv, cols[c])) < 0) {
            fl_csv_free(&csv);
            return;
        }
    while (fl_csv_next(&csv) == 1 && g_n_engines < MAX_ENGINES) {
        if (csv.n_fields < NC)
            continue;
        double v[NC];
        int ok = 1;
        for (int c = 1; c < NC - 1; c++) {
            char *end;
            v[c] = strtod(csv.fields[ix[c]], &end);
            if (end == csv.fields[ix[c]] || !isfinite(v[c]) || v[c] < 0)
                ok = 0;
        }
        if (!ok || !csv.fields[ix[0]][0])
            continue;
        fl_serve_engine *e = &g_engines[g_n_engines];
        memset(e, 0, sizeof *e);
        snprintf(e->name, sizeof e->name, "%s", csv.fields[ix[0]]);
        snprintf(g_aliases[g_n_engines], sizeof g_aliases[0], "%s", csv.fields[ix[NC - 1]]);
        e->eta_gemm = v[1]; e->gemm_ramp_s = v[2]; e->eta_bw = v[3]; e->eta_kv = v[4]; e->eta_attn = v[5];
        e->elementwise_passes = v[6]; e->kernels_per_layer = v[7]; e->launch_s = v[8];
        e->host_overlap = v[9] > 0.5; e->step_s = v[10]; e->ar_latency_s = v[11]; e->ar_hop_s = v[12];
        e->ar_pcie_factor = v[13]; e->ar_bw_eff = v[14]; e->mem_util = v[15]; e->runtime_bytes = v[16];
        e->profile_tokens = v[17]; e->max_batch = (int)v[18];
        snprintf(e->source, sizeof e->source, "builtin");
        if (e->eta_gemm <= 0 || e->eta_bw <= 0 || e->eta_kv <= 0 || e->eta_attn <= 0 || e->ar_bw_eff <= 0 ||
            e->mem_util <= 0 || e->mem_util > 1 || e->max_batch < 1)
            continue;
        g_n_engines++;
    }
    fl_csv_free(&csv);
}

size_t fl_serve_engine_count(void)
{
    pthread_once(&g_once, load_engines);
    return g_n_engines;
}

const fl_serve_engine *fl_serve_engine_at(size_t i)
{
    pthread_once(&g_once, load_engines);
    return i < g_n_engines ? &g_engines[i] : NULL;
}

/* Levenshtein distance (case-insensitive) for the "did you mean" hint. */
static int edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > 63 || lb > 63)
        return 99;
    int d[64][64];
    for (size_t i = 0; i <= la; i++) d[i][0] = (int)i;
    for (size_t j = 0; j <= lb; j++) d[0][j] = (int)j;
    for (size_t i = 1; i <= la; i++)
        for (size_t j = 1; j <= lb; j++) {
            int c = tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]);
            int x = d[i - 1][j] + 1, y = d[i][j - 1] + 1, z = d[i - 1][j - 1] + c;
            d[i][j] = x < y ? (x < z ? x : z) : (y < z ? y : z);
        }
    return d[la][lb];
}

/* 1 when `name` is one of the ';'-separated aliases. */
static int alias_match(const char *aliases, const char *name)
{
    const char *p = aliases;
    size_t n = strlen(name);
    while (*p) {
        const char *q = strchr(p, ';');
        size_t l = q ? (size_t)(q - p) : strlen(p);
        if (l == n && strncasecmp(p, name, n) == 0)
            return 1;
        if (!q)
            break;
        p = q + 1;
    }
    return 0;
}

fl_status fl_serve_engine_find(const char *name, const char *field, const fl_serve_engine **out, fl_error *err)
{
    size_t n = fl_serve_engine_count();
    const char *want = name ? name : FL_SERVE_DEFAULT_ENGINE;
    for (size_t i = 0; i < n; i++)
        if (strcasecmp(g_engines[i].name, want) == 0 || alias_match(g_aliases[i], want)) {
            *out = &g_engines[i];
            return FL_OK;
        }
    const char *best = NULL;
    int bd = 1 << 30;
    for (size_t i = 0; i < n; i++) {
        int d = edit_distance(want, g_engines[i].name);
        /* aliases count too ("trtlm" is closest to tensorrt-llm through "trt-llm") */
        char al[160];
        snprintf(al, sizeof al, "%s", g_aliases[i]);
        for (char *save = NULL, *tok = strtok_r(al, ";", &save); tok; tok = strtok_r(NULL, ";", &save)) {
            int da = edit_distance(want, tok);
            if (da < d)
                d = da;
        }
        if (d < bd) {
            bd = d;
            best = g_engines[i].name;
        }
    }
    *out = NULL;
    char known[512] = "";
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(known);
        snprintf(known + l, sizeof known - l, "%s%s", i ? ", " : "", g_engines[i].name);
    }
    return fl_fail(err, FL_ENOTFOUND, field, "%s: unknown engine '%s' (closest known: %s; known: %s)", field, want,
                   best ? best : "none", known);
}

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
    return fl_serve_cfg_init_engine(c, gpu, m, tp, pp, wdt, kvdt, NULL, field, err);
}

fl_status fl_serve_cfg_init_engine(fl_serve_cfg *c, const fl_gpu *gpu, const fl_model *m, int tp, int pp,
                                   fl_dtype wdt, fl_dtype kvdt, const fl_serve_engine *e, const char *field,
                                   fl_error *err)
{
    memset(c, 0, sizeof *c);
    if (!e) {
        fl_status rc = fl_serve_engine_find(NULL, field, &e, err);
        if (rc)
            return rc;
    }
    c->engine = *e;
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
    c->eta_c = e->eta_gemm * (gpu->tdp_w > 0 && gpu->tdp_w <= 100 ? LOWPOWER_SCALE : 1.0);
    c->eta_bw = e->eta_bw;

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
    double act = e->profile_tokens > 0 ? e->profile_tokens * (4.0 * m->hidden + 3.0 * m->ffn / tp) * 2.0 +
                                             e->max_batch * (double)m->vocab / tp * 4.0
                                       : 0;
    c->overhead_bytes = e->runtime_bytes + act + (tp > 1 || pp > 1 ? 0.5e9 : 0);
    double avail = gpu->usable_memory_bytes * e->mem_util;
    double free_b = avail - c->weights_per_gpu - c->overhead_bytes;
    c->kv_tokens = free_b > 0 ? floor(free_b / c->kv_bytes_per_token / 16.0) * 16.0 : 0;
    c->fits = c->kv_tokens >= 16;
    c->max_batch = e->max_batch;
    if (!c->fits)
        return fl_fail(err, FL_EINVAL, field,
                       "%s: %s weights need %.1f GB per GPU on %s with tp %d pp %d, but only %.1f GB are usable "
                       "(%.0f%% of %.1f GB minus %.1f GB runtime/activations): no room for the KV cache",
                       field, m->name ? m->name : "model", c->weights_per_gpu / 1e9, gpu->name, tp, pp,
                       (avail - c->overhead_bytes) / 1e9, e->mem_util * 100, gpu->usable_memory_bytes / 1e9,
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
    /* fewer rows than the smallest tensor-core MMA tile run as GEMV kernels without the tile
     * pipeline fill: no ~20 us floor per kernel at small batch (decode, tensor parallel) */
    double fill = c->peak_flops * c->engine.gemm_ramp_s * (m < GEMM_TILE_M ? m / GEMM_TILE_M : 1.0);
    double eff = eta * w / (w + fill);
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
    const fl_serve_engine *e = &c->engine;
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
        double ne = m->experts, k = m->top_k;
        double touched = ne * (1.0 - pow(1.0 - k / ne, tokens));
        double per = tokens * k / touched;
        double fe = 0;
        double t1 = gemm(c, per, up, h, wb, c->eta_c, &fe, &cb) + gemm(c, per, h, m->ffn / tp, wb, c->eta_c, &fe, &cb);
        fl += fe * touched;
        t += t1 * touched + gemm(c, tokens, ne, h, wb, c->eta_c, &fl, &cb);
    } else {
        t += gemm(c, tokens, up, h, wb, c->eta_c, &fl, &cb);
        t += gemm(c, tokens, h, m->ffn / tp, wb, c->eta_c, &fl, &cb);
    }
    /* attention core of prefill (compute) */
    double heads_gpu = m->heads / tp, kvh = ceil(g / tp);
    if (attn_pairs > 0) {
        double w = 4.0 * attn_pairs * d * heads_gpu;
        double eff = e->eta_attn * w / (w + c->peak_flops * e->gemm_ramp_s);
        t += w / (c->peak_flops * eff);
        fl += w;
        cb++;
    }
    /* element-wise traffic: 2 norms, 2 residual adds, rotary, activation (read 2x, write 1x) */
    t += e->elementwise_passes * tokens * (10.0 * h + 3.0 * up / (m->activation == FL_ACT_SWIGLU ? 2.0 : 1.0)) *
         2.0 / (c->gpu->hbm_bw * c->eta_bw);
    /* kernel launches: gaps under CUDA graphs add; eager host issue overlaps the GPU work */
    double issue = e->kernels_per_layer * e->launch_s;
    t = e->host_overlap ? (t > issue ? t : issue) : t + issue;
    /* decode attention reads the KV cache (summed: the step is affine in kv_read) */
    if (kv_read > 0) {
        t += kv_read * 2.0 * kvh * d * dt_bytes(c->kvdt) / (c->gpu->hbm_bw * e->eta_kv);
        fl += 4.0 * kv_read * d * heads_gpu;
        cb--;
    }
    /* tensor-parallel all-reduces (2 per layer): latency per call + ring bandwidth term */
    if (c->tp > 1) {
        int pcie = strcmp(c->gpu->link_type ? c->gpu->link_type : "", "PCIe") == 0;
        double alpha = (e->ar_latency_s + e->ar_hop_s * log2(tp / 2.0)) * (pcie ? e->ar_pcie_factor : 1.0);
        double bytes = tokens * h * 2.0;
        t += 2.0 * (alpha + 2.0 * (tp - 1) / tp * bytes / (c->gpu->link_bw * e->ar_bw_eff));
    }
    double per_layer = t;
    double total = per_layer * m->layers;
    fl *= m->layers;
    /* LM head on the sequences that produce a token, embedding lookups */
    if (seqs > 0)
        total += gemm(c, seqs, (double)m->vocab / tp, h, wb, c->eta_c, &fl, &cb);
    /* pipeline hand-offs */
    if (c->pp > 1)
        total += (c->pp - 1) * (15e-6 + tokens * h * 2.0 / (c->gpu->link_bw > 0 ? c->gpu->link_bw * 0.8 : 1e10));
    total += e->step_s;
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
