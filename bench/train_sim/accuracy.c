/* bench/train_sim/accuracy.c — accuracy of the analytic training model.
 * 1. One decoder layer against measured points: every "layer" line of a calibration JSONL
 *    (forward s, forward+backward s, activation bytes per layer), predicted vs measured with the
 *    relative error, and the medians. The catalog used is the built-in one (no measured points),
 *    so the figures are those of the analytic model.
 * 2. Whole-model training iterations of published Megatron-LM runs (Narayanan et al. 2021,
 *    Table 1: A100-80GB on Selene, tensor/pipeline/data parallel, full recomputation, fp16,
 *    materialised attention, Megatron-LM's default hidden and attention dropout):
 *    each run is built with the simulator's API (fl_train_setup / fl_train_pipeline) and
 *    simulated; the achieved TFLOP/s per GPU follows the paper's count
 *    F = 96 B s l h^2 (1 + s/(6h) + V/(16 l h)) over the simulated iteration time.
 * Usage: train_sim_accuracy [FILE.jsonl [RUNS.csv]] (defaults: the H100 calibration file in
 * tests/data/calibration and tests/data/published/megatron_2021_table1.csv). */
#include "simulator/train_sim.h"
#include "simulator/train_measured.h"
#include "profiles/catalog.h"
#include "flotilla/flotilla.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    if (n == 0)
        return 0;
    qsort(v, (size_t)n, sizeof *v, cmp);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* Selene as the runs saw it: DGX A100 nodes of 8 A100-80GB on NVLink/NVSwitch, eight 200 Gb/s
 * HDR InfiniBand HCAs per node for the application (Narayanan et al. 2021, section 5), i.e.
 * 8 x 25 GB/s = 2.0e11 bytes/s per node pair; one-way latency of a NCCL step over InfiniBand
 * about 5 us. Added to the catalog as one on-prem zone. */
static int add_selene(fl_catalog *cat, int *zone)
{
    fl_error err;
    const char *sql =
        "INSERT INTO zones(zone, cloud, region, continent, source) VALUES('onprem:selene', 'onprem', 'selene', 'na',"
        " 'NVIDIA Selene (Narayanan et al. 2021 section 5)');"
        "INSERT INTO network_overrides(zone_a, zone_b, bandwidth_bytes_per_s, latency_s, egress_per_gb, source)"
        " VALUES('onprem:selene', 'onprem:selene', 2.0e11, 5.0e-6, 0,"
        " 'Selene node: 8 x 200 Gb/s HDR InfiniBand HCAs (Narayanan et al. 2021 section 5)');";
    if (fl_catalog_exec(cat, sql, &err) || fl_catalog_reload(cat, &err)) {
        fprintf(stderr, "%s\n", err.message);
        return -1;
    }
    *zone = fl_catalog_find_zone(cat, "onprem:selene", "zone", NULL);
    return *zone < 0 ? -1 : 0;
}

/* One run of the published table. */
typedef struct run {
    double params_b, tflops;
    int heads, hidden, layers, tp, pp, gpus, batch, micro_batch, chunks, ddp_local;
} run;

/* Parse the CSV of published runs (header line first; the source column last). */
static int read_runs(const char *path, run *r, int max)
{
    FILE *fp = fopen(path, "r");
    if (!fp)
        return -1;
    char line[1024], ddp[32];
    int n = 0;
    if (!fgets(line, sizeof line, fp)) {
        fclose(fp);
        return -1;
    }
    while (n < max && fgets(line, sizeof line, fp)) {
        run *x = &r[n];
        if (sscanf(line, "%lf,%d,%d,%d,%d,%d,%d,%d,%d,%d,%31[^,],%lf", &x->params_b, &x->heads, &x->hidden, &x->layers,
                   &x->tp, &x->pp, &x->gpus, &x->batch, &x->micro_batch, &x->chunks, ddp, &x->tflops) != 12)
            continue;
        x->ddp_local = strcmp(ddp, "local") == 0;
        n++;
    }
    fclose(fp);
    return n;
}

/* Simulated TFLOP/s per GPU of one published run (the paper's FLOP count), or -1. */
static double simulate_run(const fl_catalog *cat, int gpu, int zone, const run *x, double *iter_s)
{
    fl_model m = {0};
    m.name = "megatron";
    m.layers = x->layers;
    m.hidden = x->hidden;
    m.heads = m.kv_heads = x->heads;
    m.ffn = 4 * x->hidden;
    m.vocab = 51200;
    m.activation = FL_ACT_GELU;
    m.tied_embeddings = 1;
    m.max_positions = 2048;
    m.experts = m.top_k = 1;
    fl_train_setup s = {0};
    s.model = &m;
    s.seq_len = 2048;
    s.micro_batch = x->micro_batch;
    s.compute_dtype = FL_DT_FP16;
    s.master_weights = 1;
    s.grad_dtype = FL_DT_FP16; /* gradients all-reduced in fp16 (Megatron's default then) */
    s.optimizer = FL_OPT_ADAM;
    s.recompute = FL_RC_FULL;
    s.flash = 0; /* fused scale-mask-softmax on materialised scores */
    s.interleave = x->chunks;
    s.dp_overlap = !x->ddp_local; /* torch DDP overlaps the all-reduce; Megatron's local DDP does not */
    s.p2p_blocking = 1;           /* Megatron-LM's 2021 schedules wait for their sends and receives */
    s.dropout = 1;                /* Megatron-LM defaults: hidden and attention dropout 0.1 (not overridden) */
    int dp = x->gpus / (x->tp * x->pp);
    fl_train_stage st[128];
    if (x->pp > 128 || dp < 1 || x->layers % x->pp)
        return -1;
    for (int j = 0; j < x->pp; j++)
        st[j] = (fl_train_stage){j * x->layers / x->pp, (j + 1) * x->layers / x->pp, gpu, zone, x->tp};
    fl_train_pipeline pl = {dp, x->batch / (dp * x->micro_batch), x->pp, st};
    fl_train_result r = {0};
    fl_error err;
    if (fl_train_simulate(cat, &s, &pl, 1, &r, &err)) {
        fprintf(stderr, "%s\n", err.message);
        return -1;
    }
    double B = x->batch, sq = 2048, l = x->layers, h = x->hidden, V = 51200;
    double F = 96 * B * sq * l * h * h * (1 + sq / (6 * h) + V / (16 * l * h));
    *iter_s = r.iteration_s;
    return F / (r.iteration_s * x->gpus) / 1e12;
}

/* Section 2: the published runs, predicted vs published TFLOP/s per GPU. */
static int published(fl_catalog *cat, const char *path, const char *label)
{
    run runs[64];
    int n = read_runs(path, runs, 64), zone;
    if (n <= 0) {
        fprintf(stderr, "cannot read %s\n", path);
        return 1;
    }
    if (add_selene(cat, &zone))
        return 1;
    int gpu = fl_catalog_find_gpu(cat, "A100-SXM-80GB", "gpu", NULL);
    double err[64];
    printf("\n# whole-model training iterations vs published runs (%s)\n", label);
    printf("%7s %4s %6s %4s %2s %3s %5s %5s %3s %2s %5s | %7s %7s | %7s %7s %7s\n", "params", "a", "h", "l", "t", "p",
           "gpus", "batch", "mbs", "v", "ddp", "iter s", "publ.", "TFLOP/s", "publ.", "err");
    for (int i = 0; i < n; i++) {
        const run *x = &runs[i];
        double it, pred = simulate_run(cat, gpu, zone, x, &it);
        if (pred < 0)
            return 1;
        err[i] = fabs(pred / x->tflops - 1);
        double pub_it = it * pred / x->tflops; /* the published iteration time, from the same FLOP count */
        printf("%6.1fB %4d %6d %4d %2d %3d %5d %5d %3d %2d %5s | %7.2f %7.2f | %7.1f %7.0f %+6.1f%%\n", x->params_b,
               x->heads, x->hidden, x->layers, x->tp, x->pp, x->gpus, x->batch, x->micro_batch, x->chunks,
               x->ddp_local ? "local" : "torch", it, pub_it, pred, x->tflops, 100 * (pred / x->tflops - 1));
    }
    double med = median(err, n);
    printf("runs %d: median |error| %.1f%%, max |error| %.1f%% (TFLOP/s per GPU)\n", n, 100 * med, 100 * err[n - 1]);
    return 0;
}

/* Section 3: whole-model single-GPU iterations (train_iter rows of `cal`) predicted against the
 * built-in catalog `cat` (analytic: no measured row, default framework figures): iteration
 * time, peak allocated / reserved memory and out-of-memory, predicted vs measured. */
static int whole_models_analytic(const fl_catalog *cat, const fl_catalog *cal, const char *label)
{
    printf("\n# whole-model training iterations vs measured, analytic (no row imported): %s\n", label);
    printf("%-10s %2s %2s %3s | %8s %8s %7s | %7s %7s %7s | %7s %7s %7s | %s\n", "model", "b", "ga", "rc", "iter ms",
           "meas", "err", "alloc GB", "meas", "err", "resv GB", "meas", "err", "oom pred/meas");
    double et[64], em[64], er[64];
    int n = 0, nm = 0, oom_ok = 0, oom_n = 0;
    for (size_t i = 0; i < fl_catalog_measured_count(cal) && n < 64; i++) {
        const fl_measured *r0 = fl_catalog_measured(cal, i);
        if (!r0->kind || strcmp(r0->kind, "train_iter") != 0)
            continue;
        fl_measured r = *r0; /* the row against the built-in catalog's GPU */
        r.gpu_index = fl_catalog_find_gpu(cat, r0->gpu, "gpu", NULL);
        fl_train_row_pred p;
        fl_error err;
        if (fl_train_row_predict(cat, &r, &p, &err)) {
            fprintf(stderr, "%s\n", err.message);
            return 1;
        }
        oom_n++;
        oom_ok += (!p.fits) == (r.oom != 0);
        if (r.oom) {
            printf("%-10s %2d %2d %3s | %8s %8s %7s | %7.1f %7s %7s | %7.1f %7s %7s | %s/%s\n", r.model, r.b,
                   r.grad_accum, r.recompute ? "yes" : "no", "-", "-", "", p.peak_alloc_bytes / 1e9, "-", "",
                   p.peak_reserved_bytes / 1e9, "-", "", p.fits ? "fits" : "OOM", "OOM");
            continue;
        }
        et[n] = fabs(p.iteration_s / r.seconds - 1);
        em[nm] = fabs(p.peak_alloc_bytes / r.peak_alloc_bytes - 1);
        er[nm] = fabs(p.peak_reserved_bytes / r.peak_reserved_bytes - 1);
        nm++;
        printf("%-10s %2d %2d %3s | %8.1f %8.1f %+6.1f%% | %7.2f %7.2f %+6.1f%% | %7.2f %7.2f %+6.1f%% | %s/%s\n",
               r.model, r.b, r.grad_accum, r.recompute ? "yes" : "no", p.iteration_s * 1e3, r.seconds * 1e3,
               100 * (p.iteration_s / r.seconds - 1), p.peak_alloc_bytes / 1e9, r.peak_alloc_bytes / 1e9,
               100 * (p.peak_alloc_bytes / r.peak_alloc_bytes - 1), p.peak_reserved_bytes / 1e9,
               r.peak_reserved_bytes / 1e9, 100 * (p.peak_reserved_bytes / r.peak_reserved_bytes - 1),
               p.fits ? "fits" : "OOM", "fits");
        n++;
    }
    double mt = median(et, n), mm = median(em, nm), mr = median(er, nm);
    printf("runs %d: median |error| iteration %.1f%% (max %.1f%%), peak allocated %.1f%% (max %.1f%%), peak reserved "
           "%.1f%% (max %.1f%%); out-of-memory predicted right %d of %d\n", n, 100 * mt, n ? 100 * et[n - 1] : 0,
           100 * mm, nm ? 100 * em[nm - 1] : 0, 100 * mr, nm ? 100 * er[nm - 1] : 0, oom_ok, oom_n);
    return 0;
}

/* Section 4: the same rows with both calibration files imported, each predicted by a fit that
 * left its own model out (fl_calibration_report): the honest figure for shapes not measured. */
static int whole_models_calibrated(const fl_catalog *cal)
{
    char *s = NULL;
    fl_error err;
    if (fl_calibration_report(cal, NULL, "torch-amp", &s, &err)) {
        fprintf(stderr, "%s\n", err.message);
        return 1;
    }
    json_t *doc = json_loads(s, 0, NULL);
    fl_free(s);
    json_t *t = json_object_get(doc, "training");
    json_t *fw = json_array_get(json_object_get(t, "frameworks"), 0), *p = json_object_get(fw, "params");
    printf("\n# whole-model training iterations, both calibration files imported, leave-one-model-out\n");
    printf("# fit: GEMM efficiency %.3f, layer scales fwd %.3f bwd %.3f; torch-amp: launch %.1f/%.1f us, checkpoint "
           "%.0f us/layer, eltwise %.0f%% of copy bw, loss %.1f B/logit, reserve %.0f%%\n",
           json_number_value(json_object_get(json_array_get(json_object_get(t, "gpus"), 0), "gemm_efficiency")),
           json_number_value(json_object_get(json_object_get(t, "layer_scales"), "fwd_scale")),
           json_number_value(json_object_get(json_object_get(t, "layer_scales"), "bwd_scale")),
           1e6 * json_number_value(json_object_get(p, "launch_fwd_s")),
           1e6 * json_number_value(json_object_get(p, "launch_bwd_s")),
           1e6 * json_number_value(json_object_get(p, "ckpt_layer_s")),
           100 * json_number_value(json_object_get(p, "eltwise_bw_frac")),
           json_number_value(json_object_get(p, "loss_bytes_per_logit")),
           100 * json_number_value(json_object_get(p, "reserve_frac")));
    printf("%-10s %2s %2s %3s | %8s %8s %7s %7s | %7s %7s %7s | %s\n", "model", "b", "ga", "rc", "meas ms", "fit ms",
           "resid", "LOO", "alloc GB", "LOO GB", "err", "oom meas/LOO");
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(fw, "rows"), i, r) {
        int oom = json_is_true(json_object_get(r, "oom"));
        printf("%-10s %2d %2d %3s | ", json_string_value(json_object_get(r, "model")),
               (int)json_integer_value(json_object_get(r, "b")), (int)json_integer_value(json_object_get(r, "grad_accum")),
               json_is_true(json_object_get(r, "recompute")) ? "yes" : "no");
        if (oom) {
            printf("%8s %8s %7s %7s | %7s %7s %7s | ", "-", "-", "", "", "-", "-", "");
        } else {
            double ma = json_number_value(json_object_get(r, "measured_alloc_bytes"));
            double la = ma * (1 + json_number_value(json_object_get(r, "loo_alloc_residual")));
            printf("%8.1f %8.1f %+6.1f%% %+6.1f%% | %7.2f %7.2f %+6.1f%% | ",
                   1e3 * json_number_value(json_object_get(r, "measured_s")),
                   1e3 * json_number_value(json_object_get(r, "predicted_s")),
                   100 * json_number_value(json_object_get(r, "residual")),
                   100 * json_number_value(json_object_get(r, "loo_residual")), ma / 1e9, la / 1e9,
                   100 * json_number_value(json_object_get(r, "loo_alloc_residual")));
        }
        printf("%s/%s\n", oom ? "OOM" : "fits", json_is_true(json_object_get(r, "loo_predicted_oom")) ? "OOM" : "fits");
    }
    printf("runs %d: iteration median |residual| %.1f%%, leave-one-model-out median %.1f%% (max %.1f%%); peak "
           "allocated leave-one-model-out median %.1f%%; out-of-memory right %d of %d\n",
           (int)json_array_size(json_object_get(fw, "rows")),
           100 * json_number_value(json_object_get(fw, "median_abs_residual")),
           100 * json_number_value(json_object_get(fw, "loo_median_abs_residual")),
           100 * json_number_value(json_object_get(fw, "loo_max_abs_residual")),
           100 * json_number_value(json_object_get(fw, "loo_alloc_median_abs_residual")),
           (int)json_integer_value(json_object_get(fw, "loo_oom_right")),
           (int)json_integer_value(json_object_get(fw, "oom_rows")));
    json_t *k = json_object_get(t, "kernels_and_layers");
    printf("kernel and layer rows (%d): median |residual| %.1f%%, leave-one-out median %.1f%% (max %.1f%%)\n",
           (int)json_array_size(json_object_get(k, "rows")), 100 * json_number_value(json_object_get(k, "median_abs_residual")),
           100 * json_number_value(json_object_get(k, "loo_median_abs_residual")),
           100 * json_number_value(json_object_get(k, "loo_max_abs_residual")));
    json_decref(doc);
    return 0;
}

int main(int argc, char **argv)
{
    /* the default files are named relative to the source root in the output (ACCURACY.md) */
    const char *layers = "tests/data/calibration/h100-sxm-80gb.layers.jsonl";
    const char *runs = "tests/data/published/megatron_2021_table1.csv";
    const char *path = argc > 1 ? argv[1] : SOURCE_ROOT "/tests/data/calibration/h100-sxm-80gb.layers.jsonl";
    FILE *fp = fopen(path, "r");
    if (!fp) {
        fprintf(stderr, "cannot open %s\n", path);
        return 1;
    }
    fl_catalog *cat;
    fl_error err;
    if (fl_catalog_open(NULL, &cat, &err)) {
        fprintf(stderr, "%s\n", err.message);
        fclose(fp);
        return 1;
    }
    int gpu = fl_catalog_find_gpu(cat, "H100-SXM-80GB", "gpu", NULL);
    char line[4096];
    double ef[256], eb[256], ea[256];
    int n = 0;
    printf("# Training simulator accuracy\n\n"
           "Output of `./build/bench/train_sim/train_sim_accuracy > bench/train_sim/ACCURACY.md` run from the source\n"
           "root (docs/calibration.md explains the fit):\n\n"
           "1. one GPT decoder layer on H100-SXM-80GB (bf16, flash attention), analytic model vs the layer rows;\n"
           "2. the published Megatron-LM runs (Narayanan et al. 2021, Table 1: A100-80GB, fp16, full recomputation,\n"
           "   materialised attention, dropout 0.1), achieved TFLOP/s per GPU predicted vs published;\n"
           "3. whole-model single-GPU iterations of the PyTorch AMP recipe (framework torch-amp) on H100, analytic:\n"
           "   the built-in catalog without any measured row;\n"
           "4. the same rows with both H100 files imported, each row predicted by a fit that left its model out.\n\n"
           "```\n");
    printf("# training layer model vs measured (%s)\n", argc > 1 ? argv[1] : layers);
    printf("%5s %3s %6s %5s %2s | %9s %9s %7s | %9s %9s %7s | %7s %7s %7s\n", "h", "a", "ffn", "s", "b", "fwd ms", "meas",
           "err", "fwdbwd ms", "meas", "err", "act MB", "meas", "err");
    while (fgets(line, sizeof line, fp)) {
        json_t *o = json_loads(line, 0, NULL);
        if (!o)
            continue;
        const char *kind = json_string_value(json_object_get(o, "kind"));
        if (!kind || strcmp(kind, "layer") != 0 || n >= 256) {
            json_decref(o);
            continue;
        }
        fl_model m = {0};
        m.name = "calib";
        m.hidden = (int)json_integer_value(json_object_get(o, "h"));
        m.heads = (int)json_integer_value(json_object_get(o, "a"));
        m.kv_heads = m.heads;
        m.ffn = (int)json_integer_value(json_object_get(o, "ffn"));
        m.layers = 1;
        m.vocab = 50304;
        m.activation = FL_ACT_GELU;
        m.max_positions = 1 << 20;
        m.experts = m.top_k = 1;
        fl_train_setup s = {0};
        s.model = &m;
        s.seq_len = (int)json_integer_value(json_object_get(o, "s"));
        s.micro_batch = (int)json_integer_value(json_object_get(o, "b"));
        s.compute_dtype = FL_DT_BF16;
        s.master_weights = 1;
        s.grad_dtype = FL_DT_FP32;
        s.flash = 1;
        s.interleave = 1;
        fl_train_layer_cost c;
        fl_train_layer_cost_get(cat, &s, gpu, 1, &c);
        double mf = json_number_value(json_object_get(o, "fwd_s_per_layer"));
        double mfb = json_number_value(json_object_get(o, "fwdbwd_s_per_layer"));
        double ma = json_number_value(json_object_get(o, "act_bytes_per_layer"));
        double pf = c.fwd_compute_s, pfb = c.fwd_compute_s + c.bwd_compute_s, pa = c.act_bytes;
        ef[n] = fabs(pf / mf - 1);
        eb[n] = fabs(pfb / mfb - 1);
        ea[n] = fabs(pa / ma - 1);
        printf("%5d %3d %6d %5d %2d | %9.3f %9.3f %+6.1f%% | %9.3f %9.3f %+6.1f%% | %7.1f %7.1f %+6.1f%%\n", m.hidden,
               m.heads, m.ffn, s.seq_len, s.micro_batch, pf * 1e3, mf * 1e3, 100 * (pf / mf - 1), pfb * 1e3, mfb * 1e3,
               100 * (pfb / mfb - 1), pa / 1e6, ma / 1e6, 100 * (pa / ma - 1));
        n++;
        json_decref(o);
    }
    fclose(fp);
    double mef = median(ef, n), meb = median(eb, n), mea = median(ea, n);
    printf("points %d: median |error| forward %.1f%%, forward+backward %.1f%%, activation memory %.1f%%\n", n, 100 * mef,
           100 * meb, 100 * mea);
    printf("max |error| forward %.1f%%, forward+backward %.1f%%, activation memory %.1f%%\n", 100 * ef[n - 1],
           100 * eb[n - 1], 100 * ea[n - 1]);
    int rc = published(cat, argc > 2 ? argv[2] : SOURCE_ROOT "/tests/data/published/megatron_2021_table1.csv",
                       argc > 2 ? argv[2] : runs);
    const char *models = argc > 3 ? argv[3] : SOURCE_ROOT "/tests/data/calibration/h100-sxm-80gb.models.jsonl";
    fl_catalog *cal = NULL;
    if (rc == 0 && ((rc = fl_catalog_open(NULL, &cal, &err)) || (rc = fl_catalog_import_measured(cal, models, NULL, &err)) ||
                    (rc = fl_catalog_import_measured(cal, path, NULL, &err))))
        fprintf(stderr, "%s\n", err.message);
    if (rc == 0)
        rc = whole_models_analytic(cat, cal, argc > 3 ? argv[3] : "tests/data/calibration/h100-sxm-80gb.models.jsonl");
    if (rc == 0)
        rc = whole_models_calibrated(cal);
    fl_catalog_free(cal);
    printf("```\n");
    fl_catalog_free(cat);
    return rc;
}
