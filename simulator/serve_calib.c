/* simulator/serve_calib.c — refit serving-engine parameters from measured prefill/decode rows.
 *
 * For the rows of one engine (and GPU), a few named parameters are refit by Levenberg-damped
 * Gauss-Newton on the log of predicted / measured seconds, the parameters in log space (so they
 * stay positive; efficiencies are capped at 1) with a weak pull (weight PRIOR_W) towards the
 * built-in value, so that a direction the rows cannot see (e.g. GEMM efficiency when every row is
 * bandwidth-bound) stays at its published figure instead of wandering. Which parameters are refit
 * depends on the rows present:
 *   decode rows  -> eta_kv (KV-read bandwidth), kernels_per_layer (fixed cost per layer),
 *                   gemm_ramp_s (how small-batch GEMMs reach peak: the batch slope)
 *   prefill rows -> elementwise_passes (unfused traffic per token), eta_attn (attention over the
 *                   prompt), kernels_per_layer (host issue floor of short prompts)
 * All are efficiencies, counts or launch times: they carry over to other GPU types through the
 * datasheet peak FLOP/s and HBM bandwidth; no seconds of a row are stored in the engine. */
#include "simulator/serve_calib.h"
#include "common/error.h"
#include "profiles/catalog.h"

#include <math.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define PRIOR_W 1e-3   /* weight of the pull towards the built-in value (per log-unit, squared) */
#define MAX_P 6
#define GN_ITERS 40

typedef struct srow {
    const fl_measured *r;
    fl_model m;
    const fl_gpu *gpu;
    const fl_serve_engine *eng; /* built-in engine the row names */
    char kind;                  /* 'p' prefill, 'd' decode */
    int b, s, tp;
    fl_dtype dt;
    double sec;
    int oom;
} srow;

/* Fittable engine parameters: name, offset, upper bound (efficiencies <= 1). */
typedef struct pdef { const char *name; size_t off; double hi; } pdef;
static const pdef P_ETA_KV = {"eta_kv", offsetof(fl_serve_engine, eta_kv), 1.0};
static const pdef P_KPL = {"kernels_per_layer", offsetof(fl_serve_engine, kernels_per_layer), 1e4};
static const pdef P_RAMP = {"gemm_ramp_s", offsetof(fl_serve_engine, gemm_ramp_s), 1e-2};
static const pdef P_ELEM = {"elementwise_passes", offsetof(fl_serve_engine, elementwise_passes), 100};
static const pdef P_ATTN = {"eta_attn", offsetof(fl_serve_engine, eta_attn), 1.0};

static double *pref(fl_serve_engine *e, const pdef *p) { return (double *)((char *)e + p->off); }

/* Resolve the model of a row: a catalog model, or the shape the row carries (Llama-shaped). */
static int row_model(const fl_catalog *cat, const fl_measured *r, fl_model *m)
{
    int mi = r->model ? fl_catalog_find_model(cat, r->model, NULL, NULL) : -1;
    if (mi >= 0) {
        *m = *fl_catalog_model(cat, (size_t)mi);
        return 1;
    }
    if (r->layers <= 0 || r->h <= 0 || r->a <= 0 || r->ffn <= 0 || r->vocab <= 0)
        return 0;
    memset(m, 0, sizeof *m);
    m->name = r->model;
    m->layers = r->layers;
    m->hidden = r->h;
    m->heads = r->a;
    m->kv_heads = r->kv_heads > 0 ? r->kv_heads : r->a;
    m->ffn = r->ffn;
    m->vocab = r->vocab;
    m->activation = FL_ACT_SWIGLU;
    m->rope = 1;
    m->experts = 1;
    m->top_k = 1;
    fl_model_derive(m);
    return 1;
}

static double predict(const srow *s, const fl_serve_engine *e, int *fits);

/* Serving kind of a measured row: 'p' prefill, 'd' decode step (decode_step or the older decode),
 * 0 for any other row. */
static char row_kind(const fl_measured *r)
{
    if (!r->kind)
        return 0;
    if (strcmp(r->kind, "prefill") == 0)
        return 'p';
    return strcmp(r->kind, "decode_step") == 0 || strcmp(r->kind, "decode") == 0 ? 'd' : 0;
}

/* Engine of a row: its own, else that of the previous row of the same kind (the out-of-memory
 * rows of a sweep carry only the shape), else NULL (the default engine). */
static const char *row_engine(const fl_measured *r, const char **last)
{
    if (r->engine && *r->engine)
        *last = r->engine;
    return *last;
}

/* Serving rows of the catalog matching gpu / engine (NULL: any); caller frees. */
static size_t collect(const fl_catalog *cat, int gpu, const fl_serve_engine *eng, srow **out)
{
    size_t n = fl_catalog_measured_count(cat), k = 0;
    srow *v = calloc(n ? n : 1, sizeof *v);
    if (!v) {
        *out = NULL;
        return 0;
    }
    const char *last_p = NULL, *last_d = NULL;
    for (size_t i = 0; i < n; i++) {
        const fl_measured *r = fl_catalog_measured(cat, i);
        char kind = row_kind(r);
        if (!kind || r->gpu_index < 0 || (size_t)r->gpu_index >= fl_catalog_gpu_count(cat))
            continue;
        const char *en = row_engine(r, kind == 'p' ? &last_p : &last_d);
        if (gpu >= 0 && r->gpu_index != gpu)
            continue;
        const fl_serve_engine *re = NULL;
        if (fl_serve_engine_find(en, "engine", &re, NULL))
            continue; /* an engine not built in: nothing to refit */
        if (eng && strcmp(re->name, eng->name))
            continue;
        srow *s = &v[k];
        if (!row_model(cat, r, &s->m))
            continue;
        s->r = r;
        s->gpu = fl_catalog_gpu(cat, (size_t)r->gpu_index);
        s->eng = re;
        s->kind = kind;
        s->b = r->b > 0 ? r->b : 1;
        s->s = r->s > 0 ? r->s : 1;
        s->tp = r->tp > 0 ? r->tp : 1;
        int dt = r->dtype ? fl_dtype_parse(r->dtype) : -1;
        s->dt = dt >= 0 ? (fl_dtype)dt : FL_DT_BF16;
        s->sec = r->seconds;
        s->oom = r->oom;
        if (!s->oom && !(s->sec > 0))
            continue;
        int fits;
        if (!isfinite(predict(s, re, &fits)))
            continue; /* a configuration the model cannot build (e.g. tp not dividing the heads) */
        k++;
    }
    *out = v;
    return k;
}

/* Predicted seconds of a row with engine e (NAN when the configuration cannot be built);
 * *fits (may be NULL) receives whether the batch's KV cache fits. */
static double predict(const srow *s, const fl_serve_engine *e, int *fits)
{
    fl_serve_cfg c;
    fl_dtype kv = s->dt == FL_DT_FP32 ? FL_DT_FP32 : s->dt == FL_DT_FP16 ? FL_DT_FP16 : FL_DT_BF16;
    fl_status rc = fl_serve_cfg_init_engine(&c, s->gpu, &s->m, s->tp, 1, s->dt, kv, e, "row", NULL);
    if (fits) {
        double need = s->kind == 'p' ? (double)s->b * s->s : (double)s->b * (s->s + 1.0);
        *fits = rc == FL_OK && c.fits && need <= c.kv_tokens;
    }
    if (c.peak_flops <= 0 || c.weights_per_gpu <= 0)
        return NAN;
    return s->kind == 'p' ? fl_serve_prefill_time(&c, s->b, s->s, NULL, NULL)
                          : fl_serve_decode_time(&c, s->b, s->s, NULL, NULL);
}

/* Solve the n x n system a x = y in place (Gaussian elimination, partial pivoting); 0 on success. */
static int solve(double a[MAX_P][MAX_P], double *y, int n)
{
    for (int i = 0; i < n; i++) {
        int p = i;
        for (int r = i + 1; r < n; r++)
            if (fabs(a[r][i]) > fabs(a[p][i]))
                p = r;
        if (fabs(a[p][i]) < 1e-300)
            return -1;
        if (p != i) {
            for (int c = 0; c < n; c++) {
                double t = a[i][c];
                a[i][c] = a[p][c];
                a[p][c] = t;
            }
            double t = y[i];
            y[i] = y[p];
            y[p] = t;
        }
        for (int r = i + 1; r < n; r++) {
            double f = a[r][i] / a[i][i];
            for (int c = i; c < n; c++)
                a[r][c] -= f * a[i][c];
            y[r] -= f * y[i];
        }
    }
    for (int i = n - 1; i >= 0; i--) {
        double t = y[i];
        for (int c = i + 1; c < n; c++)
            t -= a[i][c] * y[c];
        y[i] = t / a[i][i];
    }
    return 0;
}

/* Residual vector (log-errors of the timed rows except `skip`, then the prior terms); returns the
 * number of entries, or -1 when a prediction fails. */
static int residuals(const srow *rows, size_t n, size_t skip, const fl_serve_engine *e, int np,
                     const double *th0, const double *th, double *res)
{
    int k = 0;
    for (size_t i = 0; i < n; i++) {
        if (i == skip || rows[i].oom)
            continue;
        double p = predict(&rows[i], e, NULL);
        if (!(p > 0) || !isfinite(p))
            return -1;
        res[k++] = log(p / rows[i].sec);
    }
    for (int j = 0; j < np; j++)
        res[k++] = sqrt(PRIOR_W) * (th[j] - th0[j]);
    return k;
}

/* Which parameters the rows can inform. */
static int choose_params(const srow *rows, size_t n, const pdef **ps)
{
    int hp = 0, hd = 0, np = 0;
    for (size_t i = 0; i < n; i++)
        if (!rows[i].oom) {
            hp |= rows[i].kind == 'p';
            hd |= rows[i].kind == 'd';
        }
    if (hd) {
        ps[np++] = &P_ETA_KV;
        ps[np++] = &P_RAMP;
    }
    if (hp) {
        ps[np++] = &P_ELEM;
        ps[np++] = &P_ATTN;
    }
    if (hp || hd)
        ps[np++] = &P_KPL;
    return np;
}

static void set_params(fl_serve_engine *e, const pdef *const *ps, int np, const double *th)
{
    for (int j = 0; j < np; j++) {
        double v = exp(th[j]);
        *pref(e, ps[j]) = v > ps[j]->hi ? ps[j]->hi : v;
    }
}

/* Fit the parameters ps of engine *e (in place) to rows except `skip`. Returns the number of timed
 * rows used. */
static int fit(const srow *rows, size_t n, size_t skip, fl_serve_engine *e, const pdef *const *ps, int np)
{
    int nt = 0;
    for (size_t i = 0; i < n; i++)
        nt += i != skip && !rows[i].oom;
    if (nt == 0 || np == 0)
        return nt;
    double th0[MAX_P], th[MAX_P];
    for (int j = 0; j < np; j++) {
        double v = *pref(e, ps[j]);
        th0[j] = th[j] = log(v > 0 ? v : 1e-9);
    }
    size_t m = (size_t)nt + (size_t)np;
    double *r = malloc(m * sizeof *r), *r2 = malloc(m * sizeof *r2), *jac = malloc(m * (size_t)np * sizeof *jac);
    if (!r || !r2 || !jac) {
        free(r);
        free(r2);
        free(jac);
        return nt;
    }
    fl_serve_engine w = *e;
    double mu = 1e-3;
    if (residuals(rows, n, skip, &w, np, th0, th, r) < 0)
        goto done;
    double cost = 0;
    for (size_t i = 0; i < m; i++)
        cost += r[i] * r[i];
    for (int it = 0; it < GN_ITERS; it++) {
        for (int j = 0; j < np; j++) {
            double tj[MAX_P];
            memcpy(tj, th, sizeof tj);
            tj[j] += 1e-5;
            set_params(&w, ps, np, tj);
            if (residuals(rows, n, skip, &w, np, th0, tj, r2) < 0)
                goto done;
            for (size_t i = 0; i < m; i++)
                jac[i * (size_t)np + (size_t)j] = (r2[i] - r[i]) / 1e-5;
        }
        int improved = 0;
        for (int tries = 0; tries < 8 && !improved; tries++) {
            double a[MAX_P][MAX_P], g[MAX_P];
            for (int p = 0; p < np; p++) {
                g[p] = 0;
                for (size_t i = 0; i < m; i++)
                    g[p] -= jac[i * (size_t)np + (size_t)p] * r[i];
                for (int q = 0; q < np; q++) {
                    double s = 0;
                    for (size_t i = 0; i < m; i++)
                        s += jac[i * (size_t)np + (size_t)p] * jac[i * (size_t)np + (size_t)q];
                    a[p][q] = s;
                }
                a[p][p] += mu * (a[p][p] + 1e-9);
            }
            if (solve(a, g, np))
                break;
            double tn[MAX_P];
            for (int j = 0; j < np; j++) {
                double st = g[j] > 2 ? 2 : g[j] < -2 ? -2 : g[j];
                tn[j] = th[j] + st;
                if (tn[j] > log(ps[j]->hi))
                    tn[j] = log(ps[j]->hi);
            }
            set_params(&w, ps, np, tn);
            if (residuals(rows, n, skip, &w, np, th0, tn, r2) >= 0) {
                double c2 = 0;
                for (size_t i = 0; i < m; i++)
                    c2 += r2[i] * r2[i];
                if (c2 < cost) {
                    improved = 1;
                    double drop = cost - c2;
                    cost = c2;
                    memcpy(th, tn, sizeof(double) * (size_t)np);
                    memcpy(r, r2, m * sizeof *r);
                    mu = mu > 1e-7 ? mu * 0.3 : mu;
                    if (drop < 1e-12)
                        it = GN_ITERS;
                    break;
                }
            }
            mu *= 10;
        }
        set_params(&w, ps, np, th);
        if (!improved)
            break;
    }
done:
    set_params(e, ps, np, th);
    free(r);
    free(r2);
    free(jac);
    return nt;
}

fl_status fl_serve_engine_calibrated(const fl_catalog *cat, const char *engine, const char *gpu, const char *field,
                                     fl_serve_engine *out, int *n_rows, fl_error *err)
{
    const fl_serve_engine *base = NULL;
    fl_status rc = fl_serve_engine_find(engine, field, &base, err);
    if (rc)
        return rc;
    *out = *base;
    if (n_rows)
        *n_rows = 0;
    if (!cat)
        return FL_OK;
    int gi = gpu ? fl_catalog_find_gpu(cat, gpu, NULL, NULL) : -1;
    srow *rows = NULL;
    size_t n = gi >= 0 ? collect(cat, gi, base, &rows) : 0;
    size_t timed = 0;
    for (size_t i = 0; i < n; i++)
        timed += !rows[i].oom;
    if (timed == 0) {
        free(rows);
        n = collect(cat, -1, base, &rows);
    }
    const pdef *ps[MAX_P];
    int np = choose_params(rows, n, ps);
    int used = fit(rows, n, (size_t)-1, out, ps, np);
    free(rows);
    if (used > 0)
        snprintf(out->source, sizeof out->source, "calibrated");
    if (n_rows)
        *n_rows = used;
    return FL_OK;
}

void fl_serve_engine_for_job(const fl_catalog *cat, const fl_serve_model *sm, size_t gpu, fl_serve_engine *out)
{
    const fl_gpu *g = cat && gpu < fl_catalog_gpu_count(cat) ? fl_catalog_gpu(cat, gpu) : NULL;
    if (fl_serve_engine_calibrated(cat, sm ? sm->engine : NULL, g ? g->name : NULL, "engine", out, NULL, NULL)) {
        const fl_serve_engine *e = NULL;
        if (fl_serve_engine_find(NULL, "engine", &e, NULL) == FL_OK)
            *out = *e;
    }
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Median of v[0..n) (sorted in place); 0 when empty. */
static double median(double *v, size_t n)
{
    if (!n)
        return 0;
    qsort(v, n, sizeof *v, cmp_d);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* Report of one (engine, GPU) group of rows. */
static json_t *report_group(const srow *rows, size_t n)
{
    const fl_serve_engine *base = rows[0].eng;
    fl_serve_engine e = *base;
    const pdef *ps[MAX_P];
    int np = choose_params(rows, n, ps);
    fit(rows, n, (size_t)-1, &e, ps, np);
    json_t *o = json_object(), *params = json_object(), *fitted = json_array(), *jr = json_array();
    json_object_set_new(o, "engine", json_string(base->name));
    json_object_set_new(o, "gpu", json_string(rows[0].gpu->name));
    static const pdef *const all[] = {&P_ETA_KV, &P_RAMP, &P_ELEM, &P_ATTN, &P_KPL};
    json_object_set_new(params, "eta_gemm", json_real(e.eta_gemm));
    json_object_set_new(params, "eta_bw", json_real(e.eta_bw));
    for (size_t j = 0; j < sizeof all / sizeof all[0]; j++)
        json_object_set_new(params, all[j]->name, json_real(*pref(&e, all[j])));
    json_object_set_new(params, "launch_s", json_real(e.launch_s));
    json_object_set_new(params, "step_s", json_real(e.step_s));
    for (int j = 0; j < np; j++)
        json_array_append_new(fitted, json_string(ps[j]->name));
    double *ae = malloc((n ? n : 1) * sizeof *ae), *le = malloc((n ? n : 1) * sizeof *le);
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const srow *s = &rows[i];
        json_t *r = json_pack("{s:s,s:s,s:i,s:i,s:i}", "kind", s->r->kind, "model", s->m.name ? s->m.name : "",
                              "b", s->b, "s", s->s, "tp", s->tp);
        if (s->oom) {
            int fits = 0;
            predict(s, &e, &fits);
            json_object_set_new(r, "oom", json_true());
            json_object_set_new(r, "predicted_fits", json_boolean(fits));
        } else {
            double p = predict(s, &e, NULL);
            fl_serve_engine l = *base;
            fit(rows, n, i, &l, ps, np);
            double pl = predict(s, &l, NULL);
            double res = p / s->sec - 1, lres = pl / s->sec - 1;
            json_object_set_new(r, "measured_s", json_real(s->sec));
            json_object_set_new(r, "predicted_s", json_real(p));
            json_object_set_new(r, "residual", json_real(res));
            json_object_set_new(r, "loo_residual", json_real(lres));
            if (ae && le) {
                ae[k] = fabs(res);
                le[k] = fabs(lres);
                k++;
            }
        }
        json_array_append_new(jr, r);
    }
    json_object_set_new(o, "params", params);
    json_object_set_new(o, "fitted", fitted);
    json_object_set_new(o, "rows", jr);
    json_object_set_new(o, "median_abs_err", json_real(ae && le ? median(ae, k) : 0));
    json_object_set_new(o, "loo_median_abs_err", json_real(ae && le ? median(le, k) : 0));
    free(ae);
    free(le);
    return o;
}

fl_status fl_serve_calibration(const fl_catalog *cat, const char *gpu, const char *engine, json_t **report,
                               fl_error *err)
{
    if (!cat || !report)
        return fl_fail(err, FL_EMISUSE, "calibration", "fl_serve_calibration: NULL argument");
    *report = NULL;
    int gi = -1;
    if (gpu && (gi = fl_catalog_find_gpu(cat, gpu, "gpu", err)) < 0)
        return FL_ENOTFOUND;
    const fl_serve_engine *eng = NULL;
    if (engine) {
        fl_status rc = fl_serve_engine_find(engine, "engine", &eng, err);
        if (rc)
            return rc;
    }
    srow *rows = NULL;
    size_t n = collect(cat, gi, eng, &rows);
    json_t *arr = json_array();
    char *done = calloc(n ? n : 1, 1);
    srow *grp = malloc((n ? n : 1) * sizeof *grp);
    if (!arr || !done || !grp) {
        free(rows);
        free(done);
        free(grp);
        json_decref(arr);
        return fl_fail(err, FL_ENOMEM, "calibration", "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        if (done[i])
            continue;
        size_t k = 0;
        for (size_t j = i; j < n; j++)
            if (!done[j] && rows[j].eng == rows[i].eng && rows[j].gpu == rows[i].gpu) {
                grp[k++] = rows[j];
                done[j] = 1;
            }
        json_array_append_new(arr, report_group(grp, k));
    }
    free(rows);
    free(done);
    free(grp);
    *report = json_pack("{s:o}", "engines", arr);
    return *report ? FL_OK : fl_fail(err, FL_ENOMEM, "calibration", "out of memory");
}

const char *fl_serve_measured_engine(const fl_catalog *cat, char kind, int gpu)
{
    size_t ne = fl_serve_engine_count();
    int cnt[2][64] = {{0}};
    if (!cat || ne > 64)
        return NULL;
    const char *last_p = NULL, *last_d = NULL;
    size_t n = fl_catalog_measured_count(cat);
    for (size_t i = 0; i < n; i++) {
        const fl_measured *r = fl_catalog_measured(cat, i);
        char rk = row_kind(r);
        if (!rk)
            continue;
        const char *en = row_engine(r, rk == 'p' ? &last_p : &last_d);
        const fl_serve_engine *re = NULL;
        if (rk != kind || r->oom || fl_serve_engine_find(en, "engine", &re, NULL))
            continue;
        for (size_t k = 0; k < ne; k++)
            if (fl_serve_engine_at(k) == re) {
                cnt[0][k]++;
                if (r->gpu_index == gpu)
                    cnt[1][k]++;
            }
    }
    for (int pass = 1; pass >= 0; pass--) {
        int best = -1;
        for (size_t k = 0; k < ne; k++)
            if (cnt[pass][k] > 0 && (best < 0 || cnt[pass][k] > cnt[pass][best]))
                best = (int)k;
        if (best >= 0)
            return fl_serve_engine_at((size_t)best)->name;
    }
    return NULL;
}

int fl_serve_measured_point(const fl_catalog *cat, char kind, int gpu, int model, const char *engine, int tp, int b,
                            int s, double *seconds, int *oom)
{
    const fl_serve_engine *eng = NULL;
    if (!cat || fl_serve_engine_find(engine, "engine", &eng, NULL))
        return 0;
    double v[64];
    int k = 0, anyoom = 0;
    size_t n = fl_catalog_measured_count(cat);
    const char *last_p = NULL, *last_d = NULL;
    for (size_t i = 0; i < n; i++) {
        const fl_measured *r = fl_catalog_measured(cat, i);
        char rk = row_kind(r);
        if (!rk)
            continue;
        const char *en = row_engine(r, rk == 'p' ? &last_p : &last_d);
        if (rk != kind || r->gpu_index != gpu || !r->model || (r->tp > 0 ? r->tp : 1) != tp || r->b != b || r->s != s)
            continue;
        const fl_serve_engine *re = NULL;
        if (fl_serve_engine_find(en, "engine", &re, NULL) || re != eng)
            continue;
        if (fl_catalog_find_model(cat, r->model, NULL, NULL) != model)
            continue;
        if (r->oom)
            anyoom = 1;
        else if (r->seconds > 0 && k < 64)
            v[k++] = r->seconds;
    }
    if (!k && !anyoom)
        return 0;
    *oom = k == 0;
    *seconds = k ? median(v, (size_t)k) : 0;
    return 1;
}
