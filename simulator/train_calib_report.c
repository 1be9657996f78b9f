/* simulator/train_calib_report.c — the calibration report: fitted parameters, the residual of
 * every measured row under the fit, and its leave-one-out residual (the row's own model, or the
 * row itself for kernel and layer rows, left out of the fit). Residual = predicted / measured - 1. */
#include "simulator/train_calib.h"
#include "simulator/train_measured.h"
#include "profiles/catalog.h"
#include "common/error.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int cmp_abs(const void *a, const void *b)
{
    double x = fabs(*(const double *)a), y = fabs(*(const double *)b);
    return (x > y) - (x < y);
}

/* Median and maximum of |v| (n may be 0). */
static void med_max(double *v, int n, double *med, double *max)
{
    *med = *max = 0;
    if (n == 0)
        return;
    qsort(v, (size_t)n, sizeof *v, cmp_abs);
    *med = n % 2 ? fabs(v[n / 2]) : 0.5 * (fabs(v[n / 2 - 1]) + fabs(v[n / 2]));
    *max = fabs(v[n - 1]);
}

static json_t *real(double v)
{
    return json_real(isfinite(v) ? v : 0);
}

static int gpu_matches(const fl_measured *r, const char *gpu)
{
    return !gpu || (r->gpu && strcasecmp(r->gpu, gpu) == 0);
}

/* Kernel (gemm, memcpy) and layer rows with their residuals under the fit and left out. */
static fl_status kernel_rows(const fl_catalog *cat, const fl_train_calib *fit, const char *gpu, json_t *rep,
                             fl_error *err)
{
    json_t *rows = json_array();
    double res[1024], loo[1024];
    int n = 0;
    for (size_t i = 0; i < fl_catalog_measured_count(cat); i++) {
        const fl_measured *r = fl_catalog_measured(cat, i);
        if (r->gpu_index < 0 || !r->kind || !gpu_matches(r, gpu))
            continue;
        int gemm = strcmp(r->kind, "gemm") == 0 && fl_train_calib_row_16bit(r);
        int layer = strcmp(r->kind, "layer") == 0 && r->fwdbwd_s > r->fwd_s;
        if (!gemm && !layer)
            continue;
        fl_train_calib_opts o = {(long)i, NULL, 1};
        fl_train_calib *lo = NULL;
        fl_status rc = fl_train_calib_fit(cat, &o, &lo, err);
        if (rc) {
            json_decref(rows);
            return rc;
        }
        double pred = 0, pred_lo = 0, meas = 0, eff, f, b;
        const fl_train_calib *prev = fl_train_calib_use(fit);
        if (gemm) {
            meas = r->seconds;
            pred = fl_train_calib_gemm_model(cat, r, &eff);
            fl_train_calib_use(lo);
            pred_lo = fl_train_calib_gemm_model(cat, r, &eff);
        } else {
            meas = r->fwdbwd_s;
            fl_train_calib_layer_model(cat, r, &f, &b);
            pred = f + b;
            fl_train_calib_use(lo);
            fl_train_calib_layer_model(cat, r, &f, &b);
            pred_lo = f + b;
        }
        fl_train_calib_use(prev);
        fl_train_calib_free(lo);
        json_t *o2 = json_object();
        json_object_set_new(o2, "kind", json_string(r->kind));
        json_object_set_new(o2, "gpu", json_string(r->gpu));
        if (gemm) {
            json_object_set_new(o2, "m", json_integer(r->m));
            json_object_set_new(o2, "n", json_integer(r->n));
            json_object_set_new(o2, "k", json_integer(r->k));
        } else {
            json_object_set_new(o2, "h", json_integer(r->h));
            json_object_set_new(o2, "a", json_integer(r->a));
            json_object_set_new(o2, "s", json_integer(r->s));
            json_object_set_new(o2, "b", json_integer(r->b));
            json_object_set_new(o2, "tp", json_integer(r->tp));
        }
        json_object_set_new(o2, "measured_s", real(meas));
        json_object_set_new(o2, "predicted_s", real(pred));
        json_object_set_new(o2, "residual", real(pred / meas - 1));
        json_object_set_new(o2, "loo_residual", real(pred_lo / meas - 1));
        json_array_append_new(rows, o2);
        if (n < 1024) {
            res[n] = pred / meas - 1;
            loo[n] = pred_lo / meas - 1;
            n++;
        }
    }
    double m1, x1, m2, x2;
    med_max(res, n, &m1, &x1);
    med_max(loo, n, &m2, &x2);
    json_t *k = json_object();
    json_object_set_new(k, "rows", rows);
    json_object_set_new(k, "median_abs_residual", real(m1));
    json_object_set_new(k, "loo_median_abs_residual", real(m2));
    json_object_set_new(k, "loo_max_abs_residual", real(x2));
    json_object_set_new(rep, "kernels_and_layers", k);
    return FL_OK;
}

static json_t *fw_params_json(const fl_train_fw_params *f)
{
    json_t *o = json_object();
    json_object_set_new(o, "launch_fwd_s", real(f->launch_fwd_s));
    json_object_set_new(o, "launch_bwd_s", real(f->launch_bwd_s));
    json_object_set_new(o, "ckpt_layer_s", real(f->ckpt_layer_s));
    json_object_set_new(o, "iter_fixed_s", real(f->iter_fixed_s));
    json_object_set_new(o, "loss_bytes_per_logit", real(f->loss_bytes_per_logit));
    json_object_set_new(o, "reserve_frac", real(f->reserve_frac));
    json_object_set_new(o, "context_bytes", real(f->context_bytes));
    json_object_set_new(o, "eltwise_bw_frac", real(f->eltwise_bw_frac));
    return o;
}

/* Whole-model rows of framework fw: residuals under the fit and leaving their model out. */
static fl_status framework_rows(const fl_catalog *cat, const fl_train_calib *fit, int fw, const char *gpu,
                                json_t *arr, fl_error *err)
{
    json_t *rows = json_array();
    double res[512], loo[512], mem[512];
    int n = 0, nm = 0, oom_ok = 0, oom_n = 0;
    const char *done_models[512];
    fl_train_calib *lo_fit[512];
    int n_done = 0;
    fl_status rc = FL_OK;
    for (size_t i = 0; i < fl_catalog_measured_count(cat) && rc == FL_OK; i++) {
        const fl_measured *r = fl_catalog_measured(cat, i);
        if (r->gpu_index < 0 || !r->kind || strcmp(r->kind, "train_iter") != 0 || !gpu_matches(r, gpu))
            continue;
        int f = r->framework ? fl_framework_parse(r->framework) : FL_FW_TORCH_AMP;
        if (f != fw)
            continue;
        /* the fit without this row's model (one per model) */
        fl_train_calib *lo = NULL;
        for (int k = 0; k < n_done; k++)
            if (r->model && done_models[k] && strcmp(done_models[k], r->model) == 0)
                lo = lo_fit[k];
        if (!lo && n_done < 512) {
            fl_train_calib_opts o = {-1, r->model, 0};
            if ((rc = fl_train_calib_fit(cat, &o, &lo, err)))
                break;
            done_models[n_done] = r->model;
            lo_fit[n_done++] = lo;
        }
        fl_train_row_pred p, pl;
        const fl_train_calib *prev = fl_train_calib_use(fit);
        rc = fl_train_row_predict(cat, r, &p, err);
        fl_train_calib_use(lo);
        if (rc == FL_OK)
            rc = fl_train_row_predict(cat, r, &pl, err);
        fl_train_calib_use(prev);
        if (rc)
            break;
        json_t *o = json_object();
        json_object_set_new(o, "model", json_string(r->model ? r->model : ""));
        json_object_set_new(o, "gpu", json_string(r->gpu));
        json_object_set_new(o, "b", json_integer(r->b));
        json_object_set_new(o, "s", json_integer(r->s));
        json_object_set_new(o, "grad_accum", json_integer(r->grad_accum));
        json_object_set_new(o, "recompute", json_boolean(r->recompute));
        json_object_set_new(o, "oom", json_boolean(r->oom));
        json_object_set_new(o, "predicted_oom", json_boolean(!p.fits));
        json_object_set_new(o, "loo_predicted_oom", json_boolean(!pl.fits));
        oom_n++;
        oom_ok += (!pl.fits) == (r->oom != 0);
        json_object_set_new(o, "predicted_alloc_bytes", real(p.peak_alloc_bytes));
        json_object_set_new(o, "predicted_reserved_bytes", real(p.peak_reserved_bytes));
        if (!r->oom) {
            json_object_set_new(o, "measured_s", real(r->seconds));
            json_object_set_new(o, "predicted_s", real(p.iteration_s));
            json_object_set_new(o, "residual", real(p.iteration_s / r->seconds - 1));
            json_object_set_new(o, "loo_predicted_s", real(pl.iteration_s));
            json_object_set_new(o, "loo_residual", real(pl.iteration_s / r->seconds - 1));
            if (n < 512) {
                res[n] = p.iteration_s / r->seconds - 1;
                loo[n] = pl.iteration_s / r->seconds - 1;
                n++;
            }
            if (r->peak_alloc_bytes > 0) {
                json_object_set_new(o, "measured_alloc_bytes", real(r->peak_alloc_bytes));
                json_object_set_new(o, "loo_alloc_residual", real(pl.peak_alloc_bytes / r->peak_alloc_bytes - 1));
                if (nm < 512)
                    mem[nm++] = pl.peak_alloc_bytes / r->peak_alloc_bytes - 1;
            }
            if (r->peak_reserved_bytes > 0)
                json_object_set_new(o, "measured_reserved_bytes", real(r->peak_reserved_bytes));
        }
        json_array_append_new(rows, o);
    }
    for (int k = 0; k < n_done; k++)
        fl_train_calib_free(lo_fit[k]);
    if (rc) {
        json_decref(rows);
        return rc;
    }
    if (oom_n == 0) {
        json_decref(rows);
        return FL_OK;
    }
    double m1, x1, m2, x2, mm, xm;
    med_max(res, n, &m1, &x1);
    med_max(loo, n, &m2, &x2);
    med_max(mem, nm, &mm, &xm);
    json_t *o = json_object();
    json_object_set_new(o, "framework", json_string(fl_framework_name((fl_framework)fw)));
    json_object_set_new(o, "fitted", json_boolean(fit->n_fw_time[fw] > 0));
    json_object_set_new(o, "params", fw_params_json(&fit->fw[fw]));
    json_object_set_new(o, "median_abs_residual", real(m1));
    json_object_set_new(o, "max_abs_residual", real(x1));
    json_object_set_new(o, "loo", json_string("leave-one-model-out"));
    json_object_set_new(o, "loo_median_abs_residual", real(m2));
    json_object_set_new(o, "loo_max_abs_residual", real(x2));
    json_object_set_new(o, "loo_alloc_median_abs_residual", real(mm));
    json_object_set_new(o, "loo_oom_right", json_integer(oom_ok));
    json_object_set_new(o, "oom_rows", json_integer(oom_n));
    json_object_set_new(o, "rows", rows);
    json_array_append_new(arr, o);
    return FL_OK;
}

fl_status fl_train_calib_report(const fl_catalog *cat, const char *gpu, const char *framework, json_t **out,
                                fl_error *err)
{
    if (!cat || !out)
        return fl_fail(err, FL_EMISUSE, "calibrate", "fl_train_calib_report: NULL argument");
    *out = NULL;
    int only_fw = -1;
    if (framework && (only_fw = fl_framework_parse(framework)) < 0)
        return fl_fail(err, FL_EINVAL, "framework", "framework: unknown '%s' (known: megatron, torch-amp)", framework);
    if (gpu && fl_catalog_find_gpu(cat, gpu, "gpu", err) < 0)
        return FL_ENOTFOUND;
    if (gpu) /* canonical name, for the row filter */
        gpu = fl_catalog_gpu(cat, (size_t)fl_catalog_find_gpu(cat, gpu, "gpu", NULL))->name;
    fl_train_calib *fit = NULL;
    fl_status rc = fl_train_calib_fit(cat, NULL, &fit, err);
    if (rc)
        return rc;
    json_t *rep = json_object();
    json_t *gpus = json_array();
    for (size_t g = 0; g < fit->n_gpus; g++) {
        if (!fit->n_gemm[g] && !fit->n_copy[g])
            continue;
        const fl_gpu *gg = fl_catalog_gpu(cat, g);
        if (gpu && strcasecmp(gg->name, gpu) != 0)
            continue;
        json_t *o = json_object();
        json_object_set_new(o, "gpu", json_string(gg->name));
        if (fit->n_gemm[g])
            json_object_set_new(o, "gemm_efficiency", real(fit->gemm_eff[g]));
        json_object_set_new(o, "gemm_rows", json_integer(fit->n_gemm[g]));
        if (fit->n_copy[g])
            json_object_set_new(o, "hbm_efficiency", real(fit->hbm_eff[g]));
        json_object_set_new(o, "memcpy_rows", json_integer(fit->n_copy[g]));
        json_array_append_new(gpus, o);
    }
    json_object_set_new(rep, "gpus", gpus);
    json_t *layer = json_object();
    json_object_set_new(layer, "rows", json_integer(fit->n_layer_rows));
    json_object_set_new(layer, "fwd_scale", real(fit->layer_fwd_scale));
    json_object_set_new(layer, "bwd_scale", real(fit->layer_bwd_scale));
    json_object_set_new(rep, "layer_scales", layer);
    json_t *edges = json_object();
    static const char *const edge_names[2] = {"embedding", "lm_head_loss"};
    for (int w = 0; w < 2; w++) {
        json_t *e = json_object();
        json_object_set_new(e, "rows", json_integer(fit->n_edge_rows[w]));
        json_object_set_new(e, "fwd_scale", real(fit->edge_fwd_scale[w]));
        json_object_set_new(e, "bwd_scale", real(fit->edge_bwd_scale[w]));
        json_object_set_new(edges, edge_names[w], e);
    }
    json_object_set_new(rep, "edge_scales", edges);
    json_t *opt = json_object();
    json_object_set_new(opt, "rows", json_integer(fit->n_opt_rows));
    json_object_set_new(opt, "bw_frac", real(fit->opt_bw_frac));
    json_object_set_new(rep, "optimizer_step", opt);
    rc = kernel_rows(cat, fit, gpu, rep, err);
    json_t *fws = json_array();
    for (int f = 0; f < 2 && rc == FL_OK; f++)
        if (only_fw < 0 || only_fw == f)
            rc = framework_rows(cat, fit, f, gpu, fws, err);
    json_object_set_new(rep, "frameworks", fws);
    fl_train_calib_free(fit);
    if (rc) {
        json_decref(rep);
        return rc;
    }
    *out = rep;
    return FL_OK;
}
