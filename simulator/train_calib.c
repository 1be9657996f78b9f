/* simulator/train_calib.c — fitting the training simulator's named parameters to measured rows,
 * applying them, and the fit report with leave-one-out residuals (docs/calibration.md).
 *
 * Fits, in order (each step sees the earlier ones in force):
 * 1. per GPU: large-GEMM efficiency = table efficiency x geometric mean of modelled / measured
 *    time over its 16-bit gemm rows; HBM efficiency = geometric mean of (read + written bytes) /
 *    seconds / datasheet bandwidth over its memcpy rows (closed forms: least squares in log space);
 * 2. layer scales: geometric mean of measured / modelled forward and backward time over every
 *    16-bit layer row (the layer's own kernels, fl_train_layer_cost_plain), applied to 16-bit
 *    compute on every GPU;
 *    The same closed form gives the embedding and LM-head + loss scales (embedding / lm_head_loss
 *    rows against the edges' own kernels) and the optimizer step's fraction of the copy bandwidth
 *    (optimizer_step rows: parameters x bytes per parameter of the implementation / seconds);
 * 3. per framework, over its train_iter rows: loss bytes per logit by least squares on the
 *    relative error of the peak allocated bytes (linear in it), the allocator reserve fraction by
 *    least squares on measured reserved - allocated against the predicted transient bytes, then
 *    the host figures (seconds per kernel, checkpoint bookkeeping, fixed per iteration) and the
 *    bandwidth fraction of the framework's elementwise passes by
 *    coordinate descent with a golden-section search per figure in log space, minimising the sum
 *    of squared log errors of the iteration times (GLPK solves linear programs; this objective is
 *    not linear, and has three unknowns).
 * Out-of-memory rows are not fitted; the report says whether each is predicted. */
#include "simulator/train_calib.h"
#include "simulator/train_measured.h"
#include "profiles/catalog.h"
#include "common/error.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Host seconds of a backward kernel per host second of a forward one (the default figures:
 * autograd's C++ engine against Python module calls); the fit scales both together. */
#define BWD_PER_FWD_LAUNCH (8.0 / 15.0)

/* Smallest GEMM whose row fits the large-GEMM efficiency (2mnk FLOPs: 4096^3 is 1.4e11). */
#define LARGE_GEMM_FLOP 1e11

static _Thread_local const fl_train_calib *tl_override;

const fl_train_calib *fl_train_calib_use(const fl_train_calib *c)
{
    const fl_train_calib *prev = tl_override;
    tl_override = c;
    return prev;
}

void fl_train_calib_free(fl_train_calib *c)
{
    if (!c)
        return;
    free(c->gemm_eff);
    free(c->hbm_eff);
    free(c->n_gemm);
    free(c->n_copy);
    free(c);
}

static void calib_free_void(void *p)
{
    fl_train_calib_free(p);
}

/* A calibration that changes nothing (the defaults). */
static fl_train_calib *calib_identity(size_t n_gpus)
{
    fl_train_calib *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    c->n_gpus = n_gpus;
    c->gemm_eff = calloc(n_gpus + 1, sizeof *c->gemm_eff);
    c->hbm_eff = calloc(n_gpus + 1, sizeof *c->hbm_eff);
    c->n_gemm = calloc(n_gpus + 1, sizeof *c->n_gemm);
    c->n_copy = calloc(n_gpus + 1, sizeof *c->n_copy);
    if (!c->gemm_eff || !c->hbm_eff || !c->n_gemm || !c->n_copy) {
        fl_train_calib_free(c);
        return NULL;
    }
    c->layer_fwd_scale = c->layer_bwd_scale = 1;
    c->edge_fwd_scale[0] = c->edge_fwd_scale[1] = c->edge_bwd_scale[0] = c->edge_bwd_scale[1] = 1;
    c->opt_bw_frac = 1;
    fl_train_fw_defaults(FL_FW_MEGATRON, &c->fw[FL_FW_MEGATRON]);
    fl_train_fw_defaults(FL_FW_TORCH_AMP, &c->fw[FL_FW_TORCH_AMP]);
    return c;
}

void fl_train_calib_apply(const fl_train_calib *c, int gpu, fl_dtype dtype, fl_train_gpu_perf *p)
{
    if (!c)
        return;
    int sixteen = dtype == FL_DT_BF16 || dtype == FL_DT_FP16 || dtype == FL_DT_FP8;
    if (gpu >= 0 && (size_t)gpu < c->n_gpus) {
        if (sixteen && c->gemm_eff[gpu] > 0) {
            double r = c->gemm_eff[gpu] / p->gemm_eff; /* attention keeps its ratio to the GEMMs */
            p->gemm_eff = c->gemm_eff[gpu];
            p->attn_fwd_eff *= r;
            p->attn_bwd_eff *= r;
            p->calibrated = 1;
        }
        if (c->hbm_eff[gpu] > 0) {
            p->hbm_bw = p->hbm_peak * c->hbm_eff[gpu];
            p->calibrated = 1;
        }
    }
    if (c->n_layer_rows > 0 && sixteen) {
        p->layer_fwd_scale = c->layer_fwd_scale;
        p->layer_bwd_scale = c->layer_bwd_scale;
        p->calibrated = 1;
    }
    for (int w = 0; w < 2; w++)
        if (c->n_edge_rows[w] > 0) {
            p->edge_fwd_scale[w] = c->edge_fwd_scale[w];
            p->edge_bwd_scale[w] = c->edge_bwd_scale[w];
            p->calibrated = 1;
        }
    for (int f = 0; f < 2; f++) { /* the defaults where nothing was fitted (and while fitting) */
        p->fw[f] = c->fw[f];
        if (c->n_opt_rows > 0)
            p->fw[f].opt_bw_frac = c->opt_bw_frac;
        if (c->n_fw_time[f] > 0 || c->n_fw_mem[f] > 0 || c->n_opt_rows > 0)
            p->calibrated = 1;
    }
}

const fl_train_calib *fl_train_calib_of(const fl_catalog *cat)
{
    if (tl_override)
        return tl_override;
    if (!cat || cat->n_measured == 0)
        return NULL;
    fl_catalog *mc = (fl_catalog *)cat; /* the derived cache is the only state written, under its lock */
    pthread_mutex_lock(&mc->derived_mu);
    if (!mc->derived) { /* fitted once: a catalog whose rows fit nothing keeps an identity fit, so
                           that later calls do not scan the rows again */
        fl_train_calib *c = NULL;
        if (fl_train_calib_fit(cat, NULL, &c, NULL) == FL_OK) {
            mc->derived = c;
            mc->derived_free = calib_free_void;
        }
    }
    const fl_train_calib *out = mc->derived;
    pthread_mutex_unlock(&mc->derived_mu);
    return out;
}

/* 1 when row i takes part in a fit with these options. */
static int row_used(const fl_measured *r, long i, const fl_train_calib_opts *o)
{
    if (r->gpu_index < 0 || !r->kind)
        return 0;
    if (o && o->skip_row == i)
        return 0;
    if (o && o->skip_model && r->model && strcmp(o->skip_model, r->model) == 0)
        return 0;
    return 1;
}

int fl_train_calib_row_16bit(const fl_measured *r)
{
    return !r->dtype || !*r->dtype || strcmp(r->dtype, "bf16") == 0 || strcmp(r->dtype, "fp16") == 0;
}

void fl_train_calib_layer_model(const fl_catalog *cat, const fl_measured *r, double *fwd, double *bwd)
{
    fl_model m;
    fl_train_setup s;
    fl_train_row_shape(r, 1, &m, &s);
    fl_train_gpu_perf p;
    fl_train_gpu_perf_get(cat, r->gpu_index, s.compute_dtype, &p);
    fl_train_layer_cost c;
    fl_train_layer_cost_plain(&p, &s, r->tp > 0 ? r->tp : 1, &c);
    *fwd = c.fwd_compute_s + c.fwd_comm_s;
    *bwd = c.bwd_compute_s + c.bwd_comm_s;
}

double fl_train_calib_gemm_model(const fl_catalog *cat, const fl_measured *r, double *eff)
{
    fl_train_gpu_perf p;
    fl_train_gpu_perf_get(cat, r->gpu_index, FL_DT_BF16, &p);
    *eff = p.gemm_eff;
    return fl_train_gemm_time(&p, (double)r->m, (double)r->n, (double)r->k, 2);
}

/* Step 1 and 2: per-GPU efficiencies and the layer scales, into w (in force while fitting). */
static void fit_kernels(const fl_catalog *cat, const fl_train_calib_opts *o, fl_train_calib *w)
{
    size_t n = fl_catalog_measured_count(cat);
    double *lg = calloc(w->n_gpus + 1, sizeof *lg), *lh = calloc(w->n_gpus + 1, sizeof *lh);
    if (!lg || !lh) {
        free(lg);
        free(lh);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        const fl_measured *r = fl_catalog_measured(cat, i);
        if (!row_used(r, (long)i, o) || (size_t)r->gpu_index >= w->n_gpus)
            continue;
        /* the large-GEMM efficiency is what large products reach: rows of at least LARGE_GEMM_FLOP
         * (smaller ones are dominated by launch and wave effects, which the model carries apart) */
        if (strcmp(r->kind, "gemm") == 0 && fl_train_calib_row_16bit(r) && r->seconds > 0 &&
            2.0 * r->m * r->n * r->k >= LARGE_GEMM_FLOP) {
            double eff, t0 = fl_train_calib_gemm_model(cat, r, &eff);
            lg[r->gpu_index] += log(eff * t0 / r->seconds); /* time ~ 1 / efficiency */
            w->n_gemm[r->gpu_index]++;
        } else if (strncmp(r->kind, "memcpy", 6) == 0 && r->seconds > 0 && r->bytes > 0) {
            fl_train_gpu_perf p;
            fl_train_gpu_perf_get(cat, r->gpu_index, FL_DT_BF16, &p);
            lh[r->gpu_index] += log(2 * r->bytes / r->seconds / p.hbm_peak);
            w->n_copy[r->gpu_index]++;
        }
    }
    for (size_t g = 0; g < w->n_gpus; g++) {
        if (w->n_gemm[g])
            w->gemm_eff[g] = fmin(0.98, exp(lg[g] / w->n_gemm[g]));
        if (w->n_copy[g])
            w->hbm_eff[g] = fmin(0.98, exp(lh[g] / w->n_copy[g]));
    }
    free(lg);
    free(lh);
    double sf = 0, sb = 0;
    int nl = 0;
    for (size_t i = 0; i < n; i++) {
        const fl_measured *r = fl_catalog_measured(cat, i);
        if (!row_used(r, (long)i, o) || strcmp(r->kind, "layer") != 0 || r->fwd_s <= 0 || r->fwdbwd_s <= r->fwd_s ||
            !fl_train_calib_row_16bit(r))
            continue;
        double f, b;
        fl_train_calib_layer_model(cat, r, &f, &b);
        sf += log(r->fwd_s / f);
        sb += log((r->fwdbwd_s - r->fwd_s) / b);
        nl++;
    }
    if (nl) {
        w->layer_fwd_scale = exp(sf / nl);
        w->layer_bwd_scale = exp(sb / nl);
        w->n_layer_rows = nl;
    }
}

/* Modelled plain forward and backward seconds of an embedding (which 0) or lm_head_loss (1) row. */
static void edge_row_model(const fl_catalog *cat, const fl_measured *r, int which, double *fwd, double *bwd)
{
    fl_model m;
    fl_train_setup s;
    fl_train_row_shape(r, 1, &m, &s);
    m.vocab = r->vocab;
    m.heads = m.kv_heads = r->h % 128 == 0 ? r->h / 128 : 1; /* no attention in an edge */
    m.max_positions = r->positions > 0 ? r->positions : r->s;
    fl_train_gpu_perf p;
    fl_train_gpu_perf_get(cat, r->gpu_index, s.compute_dtype, &p);
    fl_train_edge_plain(&p, &s, r->tp > 0 ? r->tp : 1, which, fwd, bwd);
}

/* Bytes per parameter an optimizer_step row's step moves (as train_sim.c counts them for fp32
 * parameters stepped in place). */
static double opt_row_bytes(const fl_measured *r)
{
    int sgd = r->optimizer && strcmp(r->optimizer, "sgd") == 0;
    int fused = !r->impl || strcmp(r->impl, "fused") == 0;
    return fused ? (sgd ? 20 : 28) : (sgd ? 36 : 72);
}

/* Edge scales and the optimizer's bandwidth fraction, into w. */
static void fit_edges_optimizer(const fl_catalog *cat, const fl_train_calib_opts *o, fl_train_calib *w)
{
    double sf[2] = {0, 0}, sb[2] = {0, 0}, so = 0;
    int nb[2] = {0, 0};
    for (size_t i = 0; i < fl_catalog_measured_count(cat); i++) {
        const fl_measured *r = fl_catalog_measured(cat, i);
        if (!row_used(r, (long)i, o))
            continue;
        int which = strcmp(r->kind, "embedding") == 0 ? 0 : strcmp(r->kind, "lm_head_loss") == 0 ? 1 : -1;
        if (which >= 0 && r->fwd_s > 0 && r->vocab > 0) {
            double f, b;
            edge_row_model(cat, r, which, &f, &b);
            sf[which] += log(r->fwd_s / f);
            if (r->fwdbwd_s > r->fwd_s) {
                sb[which] += log((r->fwdbwd_s - r->fwd_s) / b);
                nb[which]++;
            }
            w->n_edge_rows[which]++;
        } else if (strcmp(r->kind, "optimizer_step") == 0 && r->params > 0 && r->seconds > 0) {
            fl_train_gpu_perf p;
            fl_train_gpu_perf_get(cat, r->gpu_index, FL_DT_FP32, &p);
            so += log(r->params * opt_row_bytes(r) / p.hbm_bw / r->seconds);
            w->n_opt_rows++;
        }
    }
    for (int k = 0; k < 2; k++) {
        if (w->n_edge_rows[k])
            w->edge_fwd_scale[k] = exp(sf[k] / w->n_edge_rows[k]);
        if (nb[k])
            w->edge_bwd_scale[k] = exp(sb[k] / nb[k]);
    }
    if (w->n_opt_rows)
        w->opt_bw_frac = fmin(1, exp(so / w->n_opt_rows));
}

/* The train_iter rows of framework fw a fit uses (indexes into the catalog's rows). */
static int train_rows(const fl_catalog *cat, const fl_train_calib_opts *o, int fw, long *idx, int cap)
{
    int k = 0;
    for (size_t i = 0; i < fl_catalog_measured_count(cat) && k < cap; i++) {
        const fl_measured *r = fl_catalog_measured(cat, i);
        if (!row_used(r, (long)i, o) || strcmp(r->kind, "train_iter") != 0 || r->oom)
            continue;
        int f = r->framework ? fl_framework_parse(r->framework) : FL_FW_TORCH_AMP;
        if (f == fw)
            idx[k++] = (long)i;
    }
    return k;
}

/* Sum of squared log errors of the iteration times of rows idx[] with w in force. */
static double time_objective(const fl_catalog *cat, const long *idx, int n)
{
    double sum = 0;
    for (int i = 0; i < n; i++) {
        const fl_measured *r = fl_catalog_measured(cat, (size_t)idx[i]);
        fl_train_row_pred p;
        if (fl_train_row_predict(cat, r, &p, NULL) || !(p.iteration_s > 0))
            return HUGE_VAL;
        double l = log(p.iteration_s / r->seconds);
        sum += l * l;
    }
    return sum;
}

/* Set one host figure of framework fw in w (the launch figure sets both directions). */
static void set_fig(fl_train_calib *w, int fw, int which, double v)
{
    fl_train_fw_params *f = &w->fw[fw];
    if (which == 0) {
        f->launch_fwd_s = v;
        f->launch_bwd_s = v * BWD_PER_FWD_LAUNCH;
    } else if (which == 1) {
        f->ckpt_layer_s = v;
    } else if (which == 2) {
        f->iter_fixed_s = v;
    } else {
        f->eltwise_bw_frac = v;
    }
}

/* Golden-section search of log10(figure) in [lo, hi] minimising the time objective. */
static double golden(const fl_catalog *cat, fl_train_calib *w, int fw, int which, const long *idx, int n, double lo,
                     double hi)
{
    const double g = 0.6180339887498949;
    double a = log10(lo), b = log10(hi);
    double x1 = b - g * (b - a), x2 = a + g * (b - a);
    set_fig(w, fw, which, pow(10, x1));
    double f1 = time_objective(cat, idx, n);
    set_fig(w, fw, which, pow(10, x2));
    double f2 = time_objective(cat, idx, n);
    for (int it = 0; it < 40 && b - a > 1e-3; it++) {
        if (f1 <= f2) {
            b = x2, x2 = x1, f2 = f1;
            x1 = b - g * (b - a);
            set_fig(w, fw, which, pow(10, x1));
            f1 = time_objective(cat, idx, n);
        } else {
            a = x1, x1 = x2, f1 = f2;
            x2 = a + g * (b - a);
            set_fig(w, fw, which, pow(10, x2));
            f2 = time_objective(cat, idx, n);
        }
    }
    double best = pow(10, f1 <= f2 ? x1 : x2);
    set_fig(w, fw, which, best);
    return best;
}

/* Step 3 for one framework. */
static void fit_framework(const fl_catalog *cat, const fl_train_calib_opts *o, fl_train_calib *w, int fw)
{
    long idx[512];
    int n = train_rows(cat, o, fw, idx, 512);
    if (n == 0)
        return;
    fl_train_fw_params *f = &w->fw[fw];
    /* memory: allocated = base + x * (logits), linear in x; then the reserve on the transient bytes */
    double num = 0, den = 0, rn = 0, rd = 0;
    int nm = 0;
    for (int i = 0; i < n; i++) {
        const fl_measured *r = fl_catalog_measured(cat, (size_t)idx[i]);
        if (!(r->peak_alloc_bytes > 0))
            continue;
        fl_train_row_pred p0, p1;
        double x0 = f->loss_bytes_per_logit, rf0 = f->reserve_frac;
        f->reserve_frac = 1;
        if (fl_train_row_predict(cat, r, &p0, NULL))
            continue;
        f->loss_bytes_per_logit = x0 + 1;
        int bad = fl_train_row_predict(cat, r, &p1, NULL) != FL_OK;
        f->loss_bytes_per_logit = x0;
        f->reserve_frac = rf0;
        if (bad)
            continue;
        double slope = p1.peak_alloc_bytes - p0.peak_alloc_bytes, base = p0.peak_alloc_bytes - x0 * slope;
        double m2 = r->peak_alloc_bytes * r->peak_alloc_bytes;
        num += slope * (r->peak_alloc_bytes - base) / m2;
        den += slope * slope / m2;
        if (r->peak_reserved_bytes >= r->peak_alloc_bytes) {
            double tr = p0.peak_reserved_bytes - p0.peak_alloc_bytes; /* transient bytes (reserve 1) */
            double gap = r->peak_reserved_bytes - r->peak_alloc_bytes, r2 = r->peak_reserved_bytes * r->peak_reserved_bytes;
            rn += tr * gap / r2;
            rd += tr * tr / r2;
        }
        nm++;
    }
    if (nm > 0 && den > 0) {
        f->loss_bytes_per_logit = fmin(40, fmax(2, num / den));
        if (rd > 0)
            f->reserve_frac = fmin(1, fmax(0, rn / rd));
        w->n_fw_mem[fw] = nm;
    }
    /* time: host figures by coordinate descent; the checkpoint figure only with recomputed rows */
    int has_rc = 0;
    for (int i = 0; i < n; i++)
        has_rc |= fl_catalog_measured(cat, (size_t)idx[i])->recompute;
    for (int sweep = 0; sweep < 3; sweep++) {
        golden(cat, w, fw, 0, idx, n, 1e-7, 1e-3);
        if (has_rc)
            golden(cat, w, fw, 1, idx, n, 1e-6, 5e-2);
        golden(cat, w, fw, 2, idx, n, 1e-6, 0.2);
        golden(cat, w, fw, 3, idx, n, 0.1, 1.0);
    }
    w->n_fw_time[fw] = n;
}

fl_status fl_train_calib_fit(const fl_catalog *cat, const fl_train_calib_opts *opts, fl_train_calib **out,
                             fl_error *err)
{
    if (!cat || !out)
        return fl_fail(err, FL_EMISUSE, "calibrate", "fl_train_calib_fit: NULL argument");
    *out = NULL;
    fl_train_calib *w = calib_identity(fl_catalog_gpu_count(cat));
    if (!w)
        return fl_fail(err, FL_ENOMEM, "calibrate", "out of memory");
    const fl_train_calib *prev = fl_train_calib_use(w);
    fit_kernels(cat, opts, w);
    fit_edges_optimizer(cat, opts, w);
    if (!opts || !opts->kernels_only) {
        fit_framework(cat, opts, w, FL_FW_TORCH_AMP);
        fit_framework(cat, opts, w, FL_FW_MEGATRON);
    }
    fl_train_calib_use(prev);
    *out = w;
    return FL_OK;
}
