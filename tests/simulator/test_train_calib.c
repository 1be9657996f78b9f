/* tests/simulator/test_train_calib.c — the training simulator's frameworks and calibration:
 * fitting the named parameters to the shared H100 rows (values in physical ranges, deterministic,
 * leave-one-model-out error, out-of-memory both ways), the fit applied by itself to a catalog with
 * rows and carried to another GPU type, TF32 and split-K, torch-amp memory, and the lazy fit from
 * several threads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "simulator/train_calib.h"
#include "simulator/train_measured.h"
#include "profiles/catalog.h"
#include "flotilla/flotilla.h"
#include "tests/common/testutil.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A fresh in-memory catalog with the two shared H100 calibration files imported. */
static fl_catalog *calibrated_catalog(void)
{
    fl_catalog *cat = NULL;
    fl_error err;
    assert_int_equal(fl_catalog_open(NULL, &cat, &err), FL_OK);
    if (fl_catalog_import_measured(cat, test_data("calibration/h100-sxm-80gb.models.jsonl"), NULL, &err) ||
        fl_catalog_import_measured(cat, test_data("calibration/h100-sxm-80gb.layers.jsonl"), NULL, &err))
        fail_msg("%s", err.message);
    return cat;
}

static const fl_measured *find_train_row(const fl_catalog *cat, int h, int b, int recompute)
{
    for (size_t i = 0; i < fl_catalog_measured_count(cat); i++) {
        const fl_measured *r = fl_catalog_measured(cat, i);
        if (strcmp(r->kind, "train_iter") == 0 && r->h == h && r->b == b && r->recompute == recompute)
            return r;
    }
    fail_msg("no train_iter row h %d b %d", h, b);
    return NULL;
}

static void test_fit_values(void **state)
{
    (void)state;
    fl_catalog *cat = calibrated_catalog();
    fl_train_calib *c = NULL, *c2 = NULL;
    fl_error err;
    assert_int_equal(fl_train_calib_fit(cat, NULL, &c, &err), FL_OK);
    int h100 = fl_catalog_find_gpu(cat, "H100-SXM-80GB", "gpu", NULL);
    /* 8192^3 bf16 reaches 754 of 989 TFLOP/s: large-GEMM efficiency near 0.76 */
    assert_true(c->gemm_eff[h100] > 0.65 && c->gemm_eff[h100] < 0.85);
    assert_int_equal(c->n_gemm[h100], 5); /* the five rows of >= 1e11 FLOP */
    assert_true(fabs(c->hbm_eff[h100] - 0.87) < 0.01);
    assert_int_equal(c->n_layer_rows, 30);
    assert_true(c->layer_fwd_scale > 0.85 && c->layer_fwd_scale < 1.15);
    assert_true(c->layer_bwd_scale > 0.85 && c->layer_bwd_scale < 1.15);
    const fl_train_fw_params *f = &c->fw[FL_FW_TORCH_AMP];
    assert_int_equal(c->n_fw_time[FL_FW_TORCH_AMP], 15);
    assert_int_equal(c->n_fw_time[FL_FW_MEGATRON], 0);
    assert_true(f->launch_fwd_s > 5e-6 && f->launch_fwd_s < 2e-4);
    assert_true(f->ckpt_layer_s > 1e-5 && f->ckpt_layer_s < 1e-2);
    assert_true(f->loss_bytes_per_logit > 6 && f->loss_bytes_per_logit < 16);
    assert_true(f->reserve_frac >= 0 && f->reserve_frac < 0.5);
    assert_true(f->eltwise_bw_frac > 0.3 && f->eltwise_bw_frac <= 1);
    /* deterministic */
    assert_int_equal(fl_train_calib_fit(cat, NULL, &c2, &err), FL_OK);
    assert_memory_equal(&c->fw[FL_FW_TORCH_AMP], &c2->fw[FL_FW_TORCH_AMP], sizeof c->fw[0]);
    fl_train_calib_free(c2);
    /* leaving a model out changes the framework fit, kernels only leaves frameworks alone */
    fl_train_calib_opts o = {-1, "gpt-350m", 0};
    assert_int_equal(fl_train_calib_fit(cat, &o, &c2, &err), FL_OK);
    assert_int_equal(c2->n_fw_time[FL_FW_TORCH_AMP], 7);
    assert_true(c2->fw[FL_FW_TORCH_AMP].launch_fwd_s != f->launch_fwd_s);
    fl_train_calib_free(c2);
    fl_train_calib_opts k = {-1, NULL, 1};
    assert_int_equal(fl_train_calib_fit(cat, &k, &c2, &err), FL_OK);
    assert_int_equal(c2->n_fw_time[FL_FW_TORCH_AMP], 0);
    fl_train_fw_params def;
    fl_train_fw_defaults(FL_FW_TORCH_AMP, &def);
    assert_memory_equal(&c2->fw[FL_FW_TORCH_AMP], &def, sizeof def);
    fl_train_calib_free(c2);
    fl_train_calib_free(c);
    fl_catalog_free(cat);
}

/* The report: leave-one-model-out error and out-of-memory right both ways. */
static void test_report(void **state)
{
    (void)state;
    fl_catalog *cat = calibrated_catalog();
    char *s = NULL;
    fl_error err;
    assert_int_equal(fl_calibration_report(cat, NULL, NULL, &s, &err), FL_OK);
    json_t *doc = json_loads(s, 0, NULL);
    fl_free(s);
    assert_non_null(doc);
    json_t *t = json_object_get(doc, "training");
    json_t *fw = json_array_get(json_object_get(t, "frameworks"), 0);
    assert_string_equal(json_string_value(json_object_get(fw, "framework")), "torch-amp");
    assert_true(json_is_true(json_object_get(fw, "fitted")));
    double loo = json_number_value(json_object_get(fw, "loo_median_abs_residual"));
    double ins = json_number_value(json_object_get(fw, "median_abs_residual"));
    printf("torch-amp iteration: in-sample median %.1f%%, leave-one-model-out median %.1f%%\n", 100 * ins, 100 * loo);
    assert_true(ins < 0.08);
    assert_true(loo < 0.12);
    assert_true(json_number_value(json_object_get(fw, "loo_alloc_median_abs_residual")) < 0.08);
    assert_int_equal(json_integer_value(json_object_get(fw, "loo_oom_right")), 24);
    assert_int_equal(json_integer_value(json_object_get(fw, "oom_rows")), 24);
    json_t *k = json_object_get(t, "kernels_and_layers");
    assert_int_equal(json_array_size(json_object_get(k, "rows")), 38);
    assert_true(json_number_value(json_object_get(k, "loo_median_abs_residual")) < 0.06);
    json_decref(doc);
    /* filters, and the names they take */
    assert_int_equal(fl_calibration_report(cat, "h100", "torch-amp", &s, &err), FL_OK);
    fl_free(s);
    fl_error_clear(&err);
    assert_int_equal(fl_calibration_report(cat, NULL, "jax", &s, &err), FL_EINVAL);
    assert_non_null(strstr(err.message, "framework"));
    assert_null(s);
    fl_error_clear(&err);
    assert_int_equal(fl_calibration_report(cat, "tpu-v5", NULL, &s, &err), FL_ENOTFOUND);
    assert_non_null(strstr(err.message, "tpu-v5"));
    assert_int_equal(fl_calibration_report(NULL, NULL, NULL, &s, &err), FL_EMISUSE);
    fl_catalog_free(cat);
}

/* A catalog with rows calibrates itself: the same row predicted closer than the defaults. */
static void test_fit_applied(void **state)
{
    (void)state;
    fl_catalog *plain = NULL, *cal = calibrated_catalog();
    fl_error err;
    assert_int_equal(fl_catalog_open(NULL, &plain, &err), FL_OK);
    assert_null(fl_train_calib_of(plain));
    assert_non_null(fl_train_calib_of(cal));
    const fl_measured *r = find_train_row(cal, 1024, 16, 0);
    fl_measured copy = *r; /* the same row against the built-in catalog's GPU index */
    copy.gpu_index = fl_catalog_find_gpu(plain, "H100-SXM-80GB", "gpu", NULL);
    fl_train_row_pred a, b;
    assert_int_equal(fl_train_row_predict(plain, &copy, &a, &err), FL_OK);
    assert_int_equal(fl_train_row_predict(cal, r, &b, &err), FL_OK);
    assert_true(fabs(log(b.iteration_s / r->seconds)) < fabs(log(a.iteration_s / r->seconds)));
    assert_true(fabs(b.peak_alloc_bytes / r->peak_alloc_bytes - 1) < 0.08);
    fl_train_gpu_perf p;
    fl_train_gpu_perf_get(cal, copy.gpu_index, FL_DT_BF16, &p);
    assert_int_equal(p.calibrated, 1);
    fl_train_gpu_perf_get(plain, copy.gpu_index, FL_DT_BF16, &p);
    assert_int_equal(p.calibrated, 0);
    fl_catalog_free(plain);
    fl_catalog_free(cal);
}

/* A framework fitted on H100 carries to a GPU without rows through its datasheet. */
static void test_carried_to_other_gpu(void **state)
{
    (void)state;
    fl_catalog *cal = calibrated_catalog();
    const fl_measured *r = find_train_row(cal, 2048, 4, 0);
    fl_measured a100 = *r;
    a100.gpu_index = fl_catalog_find_gpu(cal, "A100-SXM-80GB", "gpu", NULL);
    fl_train_row_pred ph, pa;
    fl_error err;
    assert_int_equal(fl_train_row_predict(cal, r, &ph, &err), FL_OK);
    assert_int_equal(fl_train_row_predict(cal, &a100, &pa, &err), FL_OK);
    /* A100: 312 vs 989 TFLOP/s dense bf16, 2.0 vs 3.35 TB/s: between 1.6x and 3.5x slower */
    assert_true(pa.iteration_s > 1.6 * ph.iteration_s && pa.iteration_s < 3.5 * ph.iteration_s);
    fl_train_gpu_perf p;
    fl_train_gpu_perf_get(cal, a100.gpu_index, FL_DT_BF16, &p);
    assert_true(p.fw[FL_FW_TORCH_AMP].launch_fwd_s != 15e-6); /* the fitted host figure */
    assert_true(fabs(p.gemm_eff - 0.82) < 1e-12);            /* A100's own GEMM figure is not H100's */
    fl_catalog_free(cal);
}

/* fp32 matmuls: TF32 tensor cores where the GPU has them, the FP32 units otherwise. */
static void test_tf32(void **state)
{
    (void)state;
    fl_catalog *cat = NULL;
    fl_error err;
    assert_int_equal(fl_catalog_open(NULL, &cat, &err), FL_OK);
    fl_estimate_query q;
    fl_estimate_result r32, rtf;
    const char *gpus[] = {"A100-SXM-80GB", "V100-SXM2-32GB"};
    for (int i = 0; i < 2; i++) {
        fl_estimate_query_init(&q);
        q.gpu = gpus[i];
        q.model = "gpt3-1.3b";
        q.batch = 2;
        q.dtype = "fp32";
        assert_int_equal(fl_estimate(cat, &q, &r32, &err), FL_OK);
        q.dtype = "tf32";
        assert_int_equal(fl_estimate(cat, &q, &rtf, &err), FL_OK);
        if (i == 0) /* 156 vs 19.5 TFLOP/s */
            assert_true(r32.seconds > 4 * rtf.seconds);
        else
            assert_true(fabs(r32.seconds / rtf.seconds - 1) < 1e-9);
        assert_true(fabs(r32.memory_bytes - rtf.memory_bytes) < 1);
    }
    fl_catalog_free(cat);
}

/* A GEMM with fewer output tiles than SMs and a long reduction is split over the idle SMs. */
static void test_split_k(void **state)
{
    (void)state;
    fl_catalog *cat = NULL;
    fl_error err;
    assert_int_equal(fl_catalog_open(NULL, &cat, &err), FL_OK);
    fl_train_gpu_perf p;
    fl_train_gpu_perf_get(cat, fl_catalog_find_gpu(cat, "H100-SXM-80GB", "gpu", NULL), FL_DT_BF16, &p);
    /* weight gradient of a 1024 x 1024 linear over 64k tokens: 32 output tiles on 132 SMs */
    double M = 1024, N = 1024, K = 65536;
    double t = fl_train_gemm_time(&p, M, N, K, 2), flop_bound = 2 * M * N * K / (p.gemm_eff * p.peak_flops);
    double one_pass = 2 * 128.0 * 256 * K / (p.gemm_eff * p.peak_flops / p.sms); /* one tile per SM, whole K */
    assert_true(t < 1.6 * flop_bound);
    assert_true(t < 0.5 * one_pass);
    /* a square GEMM with enough tiles is unchanged: within 10 % of its FLOP bound */
    double big = fl_train_gemm_time(&p, 8192, 8192, 8192, 2);
    assert_true(big < 1.1 * 2 * 8192.0 * 8192 * 8192 / (p.gemm_eff * p.peak_flops));
    fl_catalog_free(cat);
}

/* torch-amp memory: fp32 states and casts; 6.7B does not fit one H100 even with recompute. */
static void test_amp_memory(void **state)
{
    (void)state;
    fl_catalog *cal = calibrated_catalog();
    int oom = 0, fit = 0;
    for (size_t i = 0; i < fl_catalog_measured_count(cal); i++) {
        const fl_measured *r = fl_catalog_measured(cal, i);
        if (strcmp(r->kind, "train_iter") != 0)
            continue;
        fl_train_row_pred p;
        fl_error err;
        assert_int_equal(fl_train_row_predict(cal, r, &p, &err), FL_OK);
        assert_int_equal(!p.fits, r->oom);
        assert_true(p.peak_reserved_bytes >= p.peak_alloc_bytes);
        if (r->oom)
            oom++;
        else
            fit++;
        if (r->h == 4096) /* 16 bytes per parameter of fp32 states alone exceed 80 GB */
            assert_true(p.peak_alloc_bytes > 16 * 6.8e9);
    }
    assert_int_equal(oom, 9);
    assert_int_equal(fit, 15);
    fl_catalog_free(cal);
}

/* A layer row of another framework's run (tp 4, TF32, standard attention) drives the layer cost
 * of exactly that setting: its own point is reproduced, other tp and attention kinds are not
 * taken from it. */
static void test_layer_row_tp(void **state)
{
    (void)state;
    fl_catalog *cat = NULL;
    fl_error err;
    assert_int_equal(fl_catalog_open(NULL, &cat, &err), FL_OK);
    const char *p = temp_file(3, ".jsonl",
                              "{\"kind\": \"layer\", \"gpu\": \"A100-SXM-80GB\", \"h\": 2048, \"a\": 32, "
                              "\"ffn\": 8192, \"s\": 2048, \"b\": 4, \"tp\": 4, \"dtype\": \"tf32\", "
                              "\"attention\": \"standard\", \"fwd_s\": 0.0061, \"fwdbwd_s\": 0.0190}\n");
    if (fl_catalog_import_measured(cat, p, NULL, &err))
        fail_msg("%s", err.message);
    fl_model m = {0};
    m.name = "m";
    m.layers = 24, m.hidden = 2048, m.heads = m.kv_heads = 32, m.ffn = 8192, m.vocab = 50304;
    m.activation = FL_ACT_GELU, m.max_positions = 2048, m.experts = m.top_k = 1;
    fl_train_setup s = {0};
    s.model = &m, s.seq_len = 2048, s.micro_batch = 4, s.compute_dtype = FL_DT_TF32, s.grad_dtype = FL_DT_FP32;
    s.flash = 0, s.interleave = 1;
    int a100 = fl_catalog_find_gpu(cat, "A100-SXM-80GB", "gpu", NULL);
    fl_train_layer_cost c;
    fl_train_layer_cost_get(cat, &s, a100, 4, &c);
    assert_int_equal(c.measured, 1);
    assert_true(fabs(c.fwd_compute_s / 0.0061 - 1) < 0.02);
    assert_true(fabs((c.fwd_compute_s + c.bwd_compute_s) / 0.0190 - 1) < 0.02);
    s.compute_dtype = FL_DT_FP32; /* a tf32 row times the same 4-byte layer as an fp32 one */
    fl_train_layer_cost_get(cat, &s, a100, 4, &c);
    assert_int_equal(c.measured, 1);
    s.compute_dtype = FL_DT_TF32;
    s.flash = 1; /* another attention kind: not this point */
    fl_train_layer_cost_get(cat, &s, a100, 4, &c);
    assert_int_equal(c.measured, 0);
    s.flash = 0;
    s.compute_dtype = FL_DT_BF16; /* another dtype: not this point */
    fl_train_layer_cost_get(cat, &s, a100, 4, &c);
    assert_int_equal(c.measured, 0);
    unlink(p);
    fl_catalog_free(cat);
}

/* Embedding, LM head + loss and optimizer rows fit their scales and the optimizer's bandwidth. */
static void test_edge_and_optimizer_rows(void **state)
{
    (void)state;
    fl_catalog *cat = NULL;
    fl_error err;
    assert_int_equal(fl_catalog_open(NULL, &cat, &err), FL_OK);
    int a100 = fl_catalog_find_gpu(cat, "A100-SXM-80GB", "gpu", NULL);
    /* the model's own figures for these rows, then rows measured 1.5x slower */
    fl_model m = {0};
    m.name = "m", m.layers = 1, m.hidden = 2048, m.heads = m.kv_heads = 16, m.ffn = 8192, m.vocab = 50304;
    m.activation = FL_ACT_GELU, m.max_positions = 2048, m.experts = m.top_k = 1;
    fl_train_setup s = {0};
    s.model = &m, s.seq_len = 2048, s.micro_batch = 4, s.compute_dtype = FL_DT_BF16, s.grad_dtype = FL_DT_FP32;
    s.flash = 1, s.interleave = 1;
    fl_train_gpu_perf p;
    fl_train_gpu_perf_get(cat, a100, FL_DT_BF16, &p);
    double f, b;
    fl_train_edge_plain(&p, &s, 1, 1, &f, &b);
    double opt_model = 1.3e9 * 28 / p.hbm_bw;
    char text[1024];
    snprintf(text, sizeof text,
             "{\"kind\": \"lm_head_loss\", \"gpu\": \"a100-sxm-80gb\", \"vocab\": 50304, \"h\": 2048, \"s\": 2048, "
             "\"b\": 4, \"fwd_s\": %.9g, \"fwdbwd_s\": %.9g}\n"
             "{\"kind\": \"optimizer_step\", \"gpu\": \"a100-sxm-80gb\", \"params\": 1.3e9, \"optimizer\": \"adamw\", "
             "\"impl\": \"fused\", \"seconds\": %.9g}\n",
             1.5 * f, 1.5 * (f + b), 1.25 * opt_model);
    const char *path = temp_file(4, ".jsonl", text);
    if (fl_catalog_import_measured(cat, path, NULL, &err))
        fail_msg("%s", err.message);
    unlink(path);
    const fl_train_calib *c = fl_train_calib_of(cat);
    assert_non_null(c);
    assert_int_equal(c->n_edge_rows[1], 1);
    assert_true(fabs(c->edge_fwd_scale[1] - 1.5) < 1e-6 && fabs(c->edge_bwd_scale[1] - 1.5) < 1e-6);
    assert_int_equal(c->n_edge_rows[0], 0);
    assert_true(fabs(c->opt_bw_frac - 0.8) < 1e-6);
    /* applied: the head's time grows by the scale (GPU-bound at this size), the embeddings' not */
    double f1, b1, f0, b0;
    fl_train_edge_time(cat, &s, a100, 1, 0, 1, &f1, &b1);
    fl_train_gpu_perf_get(cat, a100, FL_DT_BF16, &p);
    assert_true(fabs(p.edge_fwd_scale[1] - 1.5) < 1e-6 && p.edge_fwd_scale[0] == 1);
    assert_true(fabs(p.fw[FL_FW_TORCH_AMP].opt_bw_frac - 0.8) < 1e-6);
    fl_train_edge_time(cat, &s, a100, 1, 1, 0, &f0, &b0);
    assert_true(f1 > 1.4 * f);
    fl_catalog_free(cat);
}

/* A declared intra-node link (on-prem nodes imported with --link) replaces the GPU type's link for
 * the tensor-parallel collectives of stages in that zone, and only there. */
static void test_declared_link(void **state)
{
    (void)state;
    fl_catalog *cat = NULL;
    fl_error err;
    assert_int_equal(fl_catalog_open(NULL, &cat, &err), FL_OK);
    const char *xml = test_data("nvidia-smi-q-x.h100-sxm-80gb.xml");
    fl_node_network pcie = {0, -1, "PCIe", 0}, none = {0, -1, NULL, 0};
    if (fl_catalog_import_nvidia_smi_network(cat, xml, "onprem:pcie", "p1", &pcie, &err) ||
        fl_catalog_import_nvidia_smi_network(cat, xml, "onprem:nvl", "n1", &none, &err))
        fail_msg("%s", err.message);
    int gpu = fl_catalog_find_gpu(cat, "H100-SXM-80GB", "gpu", NULL);
    int zp = fl_catalog_find_zone(cat, "onprem:pcie", "zone", NULL), zn = fl_catalog_find_zone(cat, "onprem:nvl", "zone", NULL);
    const fl_model *m = fl_catalog_model(cat, (size_t)fl_catalog_find_model(cat, "gpt3-13b", "model", NULL));
    fl_train_setup s = {0};
    s.model = m, s.seq_len = 2048, s.micro_batch = 1, s.compute_dtype = FL_DT_BF16, s.grad_dtype = FL_DT_FP32;
    s.master_weights = 1, s.flash = 1, s.interleave = 1, s.dp_overlap = 1;
    double tp_comm[2];
    int zones[2] = {zp, zn};
    for (int i = 0; i < 2; i++) {
        fl_train_stage st = {0, m->layers, gpu, zones[i], 8};
        fl_train_pipeline pl = {1, 4, 1, &st};
        fl_train_stage_result sr;
        fl_train_result r = {0};
        r.stages = &sr;
        r.n_stage_results = 1;
        assert_int_equal(fl_train_simulate(cat, &s, &pl, 1, &r, &err), FL_OK);
        tp_comm[i] = sr.tp_comm_s;
    }
    assert_true(tp_comm[0] > 3 * tp_comm[1]); /* PCIe ~45 GB/s one way vs NVLink 369 GB/s */
    fl_catalog_free(cat);
}

typedef struct thread_arg {
    fl_catalog *cat;
    double out;
} thread_arg;

static void *predict_thread(void *p)
{
    thread_arg *a = p;
    const fl_measured *r = find_train_row(a->cat, 2048, 8, 1);
    fl_train_row_pred pr;
    a->out = fl_train_row_predict(a->cat, r, &pr, NULL) == FL_OK ? pr.iteration_s : -1;
    return NULL;
}

/* The lazy fit happens once, whichever thread asks first, and all see the same figures. */
static void test_lazy_fit_threads(void **state)
{
    (void)state;
    fl_catalog *cal = calibrated_catalog();
    pthread_t th[4];
    thread_arg args[4];
    for (int i = 0; i < 4; i++) {
        args[i].cat = cal;
        assert_int_equal(pthread_create(&th[i], NULL, predict_thread, &args[i]), 0);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(th[i], NULL);
    for (int i = 1; i < 4; i++)
        assert_true(args[i].out == args[0].out && args[0].out > 0);
    fl_catalog_free(cal);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fit_values),       cmocka_unit_test(test_report),
        cmocka_unit_test(test_fit_applied),      cmocka_unit_test(test_carried_to_other_gpu),
        cmocka_unit_test(test_tf32),             cmocka_unit_test(test_split_k),
        cmocka_unit_test(test_amp_memory),       cmocka_unit_test(test_lazy_fit_threads),
        cmocka_unit_test(test_layer_row_tp),     cmocka_unit_test(test_edge_and_optimizer_rows),
        cmocka_unit_test(test_declared_link),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
