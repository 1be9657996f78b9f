/* tests/serving/test_engines.c — serving engines: the built-in table, unknown names, calibration of
 * engine parameters from the shared H100 prefill/decode rows (fit, leave-one-out, out-of-memory
 * rows as memory facts), exact measured points and `estimate --engine`. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "simulator/serve_calib.h"
#include "common/plan.h"
#include "common/job.h"
#include "tests/common/testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static fl_catalog *cat;      /* built-in catalog */
static fl_catalog *mcat;     /* with tests/data/calibration/h100-sxm-80gb.models.jsonl imported */

static int setup(void **state)
{
    (void)state;
    if (fl_catalog_open(NULL, &cat, NULL) != FL_OK || fl_catalog_open(NULL, &mcat, NULL) != FL_OK)
        return -1;
    fl_error err;
    fl_error_clear(&err);
    size_t n = 0;
    if (fl_catalog_import_measured(mcat, test_data("calibration/h100-sxm-80gb.models.jsonl"), &n, &err) != FL_OK) {
        fprintf(stderr, "import: %s\n", err.message);
        return -1;
    }
    return 0;
}
static int teardown(void **state)
{
    (void)state;
    fl_catalog_free(cat);
    fl_catalog_free(mcat);
    return 0;
}


static const fl_gpu *gpu_of(const fl_catalog *c, const char *name)
{
    int g = fl_catalog_find_gpu(c, name, NULL, NULL);
    assert_true(g >= 0);
    return fl_catalog_gpu(c, (size_t)g);
}
static const fl_model *model_of(const fl_catalog *c, const char *name)
{
    int m = fl_catalog_find_model(c, name, NULL, NULL);
    assert_true(m >= 0);
    return fl_catalog_model(c, (size_t)m);
}
static const fl_serve_engine *engine(const char *name)
{
    const fl_serve_engine *e = NULL;
    assert_int_equal(fl_serve_engine_find(name, "engine", &e, NULL), FL_OK);
    return e;
}

/* The built-in table: five engines, aliases, the default, and sane parameters. */
static void test_builtin_engines(void **state)
{
    (void)state;
    assert_true(fl_serve_engine_count() >= 6);
    static const char *const names[] = {"vllm", "sglang", "tensorrt-llm", "hf-transformers-eager-sdpa",
                                        "pytorch-static-kv-cudagraph", "splitwise-2023"};
    for (size_t i = 0; i < 6; i++)
        assert_string_equal(engine(names[i])->name, names[i]);
    assert_string_equal(engine(NULL)->name, "vllm");
    assert_string_equal(engine("TensorRT-LLM")->name, "tensorrt-llm");
    assert_string_equal(engine("trtllm")->name, "tensorrt-llm");
    assert_string_equal(engine("SGLang")->name, "sglang");
    for (size_t i = 0; i < fl_serve_engine_count(); i++) {
        const fl_serve_engine *e = fl_serve_engine_at(i);
        assert_true(e->eta_gemm > 0 && e->eta_gemm <= 1 && e->eta_bw > 0 && e->eta_bw <= 1);
        assert_true(e->eta_kv > 0 && e->eta_kv <= 1 && e->mem_util > 0 && e->mem_util <= 1);
        assert_string_equal(e->source, "builtin");
    }
    assert_null(fl_serve_engine_at(fl_serve_engine_count()));
    /* CUDA-graph engines add launch gaps; the eager reference overlaps host issue with GPU work */
    assert_int_equal(engine("hf-transformers-eager-sdpa")->host_overlap, 1);
    assert_int_equal(engine("pytorch-static-kv-cudagraph")->host_overlap, 0);
}

/* An unknown engine: one error naming the field and the closest known name. */
static void test_unknown_engine(void **state)
{
    (void)state;
    const fl_serve_engine *e = (const fl_serve_engine *)1;
    fl_error err;
    fl_error_clear(&err);
    assert_int_equal(fl_serve_engine_find("vlm", "job.engine", &e, &err), FL_ENOTFOUND);
    assert_null(e);
    assert_string_equal(err.field, "job.engine");
    assert_non_null(strstr(err.message, "closest known: vllm"));
    fl_error_clear(&err);
    assert_int_equal(fl_serve_engine_find("sglan", "--engine", &e, &err), FL_ENOTFOUND);
    assert_non_null(strstr(err.message, "closest known: sglang"));
    assert_non_null(strstr(err.message, "--engine"));
    fl_error_clear(&err);
    assert_int_equal(fl_serve_engine_find("trtlm", "engine", &e, &err), FL_ENOTFOUND);
    assert_non_null(strstr(err.message, "closest known: tensorrt-llm"));
    /* through the estimate API */
    fl_estimate_query q;
    fl_estimate_query_init(&q);
    q.gpu = "h100";
    q.model = "llama2-7b";
    q.phase = FL_PHASE_DECODE;
    q.engine = "tensorrt";
    fl_estimate_result res;
    fl_error_clear(&err);
    assert_int_equal(fl_estimate(cat, &q, &res, &err), FL_ENOTFOUND);
    assert_string_equal(err.field, "engine");
    assert_non_null(strstr(err.message, "tensorrt-llm"));
}

/* The default engine reproduces the engine-less initialisation exactly. */
static void test_default_engine_is_legacy(void **state)
{
    (void)state;
    fl_serve_cfg a, b;
    const fl_gpu *g = gpu_of(cat, "A100-SXM-80GB");
    const fl_model *m = model_of(cat, "llama2-13b");
    assert_int_equal(fl_serve_cfg_init(&a, g, m, 2, 1, FL_DT_BF16, FL_DT_BF16, "cfg", NULL), FL_OK);
    assert_int_equal(fl_serve_cfg_init_engine(&b, g, m, 2, 1, FL_DT_BF16, FL_DT_BF16, engine("vllm"), "cfg", NULL), FL_OK);
    assert_true(a.kv_tokens == b.kv_tokens);
    assert_true(fl_serve_decode_time(&a, 16, 1000, NULL, NULL) == fl_serve_decode_time(&b, 16, 1000, NULL, NULL));
    assert_true(fl_serve_prefill_time(&a, 2, 900, NULL, NULL) == fl_serve_prefill_time(&b, 2, 900, NULL, NULL));
}

/* Contract with the event-driven simulator: the step is affine in kv_read for every engine. */
static void test_step_affine_in_kv(void **state)
{
    (void)state;
    const fl_gpu *g = gpu_of(cat, "H100-SXM-80GB");
    const fl_model *m = model_of(cat, "llama3-8b");
    for (size_t i = 0; i < fl_serve_engine_count(); i++) {
        for (int tp = 1; tp <= 2; tp++) {
            fl_serve_cfg c;
            assert_int_equal(fl_serve_cfg_init_engine(&c, g, m, tp, 1, FL_DT_BF16, FL_DT_BF16, fl_serve_engine_at(i),
                                                      "cfg", NULL), FL_OK);
            static const double shapes[][3] = {{1, 1, 0}, {64, 64, 0}, {600, 3, 90000}, {2048, 1, 2e6}};
            for (size_t k = 0; k < 4; k++) {
                double t1 = fl_serve_step_time(&c, shapes[k][0], shapes[k][1], shapes[k][2], 1e3, NULL, NULL);
                double t2 = fl_serve_step_time(&c, shapes[k][0], shapes[k][1], shapes[k][2], 5e4, NULL, NULL);
                double t3 = fl_serve_step_time(&c, shapes[k][0], shapes[k][1], shapes[k][2], 9.9e4, NULL, NULL);
                assert_true(t3 > t2 && t2 > t1);
                assert_true(fabs((t3 - t2) / 4.9e4 - (t2 - t1) / 4.9e4) <= 1e-9 * t3 / 4.9e4 + 1e-18);
            }
        }
    }
}

/* Parameters carry to another GPU type through the datasheet: decode scales with bandwidth. */
static void test_engine_through_datasheet(void **state)
{
    (void)state;
    const fl_model *m = model_of(cat, "llama2-7b");
    fl_serve_cfg h, a;
    const fl_serve_engine *e = engine("pytorch-static-kv-cudagraph");
    assert_int_equal(fl_serve_cfg_init_engine(&h, gpu_of(cat, "H100-SXM-80GB"), m, 1, 1, FL_DT_BF16, FL_DT_BF16, e,
                                              "cfg", NULL), FL_OK);
    assert_int_equal(fl_serve_cfg_init_engine(&a, gpu_of(cat, "A100-SXM-80GB"), m, 1, 1, FL_DT_BF16, FL_DT_BF16, e,
                                              "cfg", NULL), FL_OK);
    double r = fl_serve_decode_time(&a, 8, 1024, NULL, NULL) / fl_serve_decode_time(&h, 8, 1024, NULL, NULL);
    /* 3.35 / 2.039 TB/s = 1.64, less the per-layer launch gaps that do not scale */
    assert_true(r > 1.35 && r < 1.64);
    /* prefill scales with the tensor peak (989 / 312 TF = 3.2), less the bandwidth-bound parts */
    double p = fl_serve_prefill_time(&a, 8, 2048, NULL, NULL) / fl_serve_prefill_time(&h, 8, 2048, NULL, NULL);
    assert_true(p > 2.2 && p < 3.2);
}

/* Out-of-memory facts from the shared file, predicted by the KV-capacity model without import:
 * llama2-7b on H100 80GB, static KV cache: batch 128 x 2048 does not fit; 128 x 512 and 64 x 2048 do. */
static void test_kv_capacity_oom_facts(void **state)
{
    (void)state;
    static const struct { int b, ctx, fits; } pts[] = {{128, 2048, 0}, {128, 512, 1}, {64, 2048, 1}};
    for (size_t i = 0; i < 3; i++) {
        fl_estimate_query q;
        fl_estimate_query_init(&q);
        q.gpu = "H100-SXM-80GB";
        q.model = "llama2-7b";
        q.phase = FL_PHASE_DECODE;
        q.engine = "pytorch-static-kv-cudagraph";
        q.batch = pts[i].b;
        q.context = pts[i].ctx;
        fl_estimate_result res;
        assert_int_equal(fl_estimate(cat, &q, &res, NULL), FL_OK);
        assert_string_equal(res.source, "analytic");
        assert_int_equal(res.fits, pts[i].fits);
        assert_int_equal(fl_estimate(mcat, &q, &res, NULL), FL_OK);
        assert_string_equal(res.source, "measured");
        assert_int_equal(res.fits, pts[i].fits);
    }
}

/* The report of the shared H100 rows: fit and leave-one-out within a few percent, OOM row kept. */
static void test_calibration_report(void **state)
{
    (void)state;
    json_t *rep = NULL;
    fl_error err;
    fl_error_clear(&err);
    assert_int_equal(fl_serve_calibration(mcat, NULL, NULL, &rep, &err), FL_OK);
    char *s = json_dumps(rep, JSON_INDENT(1) | JSON_REAL_PRECISION(4));
    if (getenv("SHOW_CALIB"))
        puts(s);
    free(s);
    json_t *engines = json_object_get(rep, "engines");
    assert_true(json_array_size(engines) == 2);
    int seen = 0;
    size_t i;
    json_t *g;
    json_array_foreach(engines, i, g) {
        const char *en = json_string_value(json_object_get(g, "engine"));
        assert_string_equal(json_string_value(json_object_get(g, "gpu")), "H100-SXM-80GB");
        json_t *rows = json_object_get(g, "rows");
        double med = json_number_value(json_object_get(g, "median_abs_err"));
        double loo = json_number_value(json_object_get(g, "loo_median_abs_err"));
        assert_true(json_is_object(json_object_get(g, "params")));
        assert_true(json_array_size(json_object_get(g, "fitted")) >= 2);
        if (strcmp(en, "pytorch-static-kv-cudagraph") == 0) {
            seen |= 1;
            assert_int_equal(json_array_size(rows), 10);
            assert_true(med < 0.05 && loo < 0.05);
            json_t *last = json_array_get(rows, 9);
            assert_true(json_is_true(json_object_get(last, "oom")));
            assert_true(json_is_false(json_object_get(last, "predicted_fits")));
        } else {
            assert_string_equal(en, "hf-transformers-eager-sdpa");
            seen |= 2;
            assert_int_equal(json_array_size(rows), 6);
            assert_true(med < 0.07 && loo < 0.07);
        }
        size_t j;
        json_t *r;
        json_array_foreach(rows, j, r) {
            if (json_object_get(r, "oom"))
                continue;
            double ms = json_number_value(json_object_get(r, "measured_s"));
            double ps = json_number_value(json_object_get(r, "predicted_s"));
            double res = json_number_value(json_object_get(r, "residual"));
            assert_true(ms > 0 && ps > 0 && fabs(ps / ms - 1 - res) < 1e-9);
            assert_non_null(json_object_get(r, "loo_residual"));
            /* no row more than 15 % off after the fit (the host-bound short prompts are the worst) */
            assert_true(fabs(res) < 0.15);
        }
    }
    assert_int_equal(seen, 3);
    json_decref(rep);
    /* filters */
    assert_int_equal(fl_serve_calibration(mcat, "h100", "hf-transformers", &rep, &err), FL_OK);
    assert_int_equal(json_array_size(json_object_get(rep, "engines")), 1);
    json_decref(rep);
    assert_int_equal(fl_serve_calibration(mcat, "A100-SXM-80GB", NULL, &rep, &err), FL_OK);
    assert_int_equal(json_array_size(json_object_get(rep, "engines")), 0);
    json_decref(rep);
    fl_error_clear(&err);
    assert_int_equal(fl_serve_calibration(mcat, "H200-XYZ", NULL, &rep, &err), FL_ENOTFOUND);
    assert_null(rep);
    assert_string_equal(err.field, "gpu");
    fl_error_clear(&err);
    assert_int_equal(fl_serve_calibration(mcat, NULL, "vlm", &rep, &err), FL_ENOTFOUND);
    assert_string_equal(err.field, "engine");
    assert_int_equal(fl_serve_calibration(NULL, NULL, NULL, &rep, &err), FL_EMISUSE);
    assert_int_equal(fl_serve_calibration(mcat, NULL, NULL, NULL, &err), FL_EMISUSE);
}

/* A fit recovers known parameters: rows generated by the model with an engine whose parameters
 * were moved away from the built-in values are refit back to those values. */
static void test_fit_recovers_parameters(void **state)
{
    (void)state;
    fl_serve_engine truth = *engine("pytorch-static-kv-cudagraph");
    truth.eta_kv = 0.75;
    truth.kernels_per_layer = 22;
    const fl_gpu *g = gpu_of(cat, "A100-SXM-80GB");
    const fl_model *m = model_of(cat, "llama2-13b");
    fl_serve_cfg c;
    assert_int_equal(fl_serve_cfg_init_engine(&c, g, m, 1, 1, FL_DT_BF16, FL_DT_BF16, &truth, "cfg", NULL), FL_OK);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    static const int bs[] = {1, 4, 16, 32}, cs[] = {256, 1024, 2000};
    for (size_t i = 0; i < 4; i++)
        for (size_t j = 0; j < 3; j++)
            fprintf(f, "{\"kind\": \"decode_step\", \"model\": \"llama2-13b\", \"engine\": \"pytorch-static-kv-cudagraph\", "
                       "\"batch\": %d, \"context\": %d, \"seconds\": %.9g, \"gpu\": \"NVIDIA A100-SXM4-80GB\"}\n",
                    bs[i], cs[j], fl_serve_decode_time(&c, bs[i], cs[j], NULL, NULL));
    fclose(f);
    fl_catalog *sc = NULL;
    assert_int_equal(fl_catalog_open(NULL, &sc, NULL), FL_OK);
    size_t n = 0;
    fl_error err;
    fl_error_clear(&err);
    assert_int_equal(fl_catalog_import_measured(sc, temp_file(0, ".jsonl", text), &n, &err), FL_OK);
    free(text);
    assert_int_equal(n, 12);
    fl_serve_engine fit;
    int used = 0;
    assert_int_equal(fl_serve_engine_calibrated(sc, "pytorch-static-kv-cudagraph", "A100-SXM-80GB", "engine", &fit,
                                                &used, &err), FL_OK);
    assert_int_equal(used, 12);
    assert_string_equal(fit.source, "calibrated");
    assert_true(fabs(fit.eta_kv / 0.75 - 1) < 0.02);
    assert_true(fabs(fit.kernels_per_layer / 22 - 1) < 0.03);
    /* another engine is untouched by these rows */
    assert_int_equal(fl_serve_engine_calibrated(sc, "vllm", "A100-SXM-80GB", "engine", &fit, &used, &err), FL_OK);
    assert_int_equal(used, 0);
    assert_string_equal(fit.source, "builtin");
    fl_catalog_free(sc);
}

/* Rows of a model outside the catalog (shape in the row) are calibrated too; rows of an engine
 * that is not built in are left out of the report. */
static void test_inline_shape_and_foreign_engine(void **state)
{
    (void)state;
    const char *text =
        "{\"kind\": \"env\", \"gpu\": \"NVIDIA A100-SXM4-80GB\"}\n"
        "{\"kind\": \"prefill\", \"model\": \"tiny-llama\", \"layers\": 22, \"h\": 2048, \"a\": 32, "
        "\"kv_heads\": 4, \"ffn\": 5632, \"vocab\": 32000, \"engine\": \"hf-transformers-eager-sdpa\", "
        "\"b\": 4, \"prompt\": 1024, \"seconds\": 0.045}\n"
        "{\"kind\": \"prefill\", \"model\": \"tiny-llama\", \"layers\": 22, \"h\": 2048, \"a\": 32, "
        "\"kv_heads\": 4, \"ffn\": 5632, \"vocab\": 32000, \"engine\": \"hf-transformers-eager-sdpa\", "
        "\"b\": 8, \"prompt\": 1024, \"seconds\": 0.088}\n"
        "{\"kind\": \"decode_step\", \"model\": \"llama2-7b\", \"engine\": \"my-own-engine\", "
        "\"batch\": 4, \"context\": 100, \"seconds\": 0.01}\n";
    fl_catalog *sc = NULL;
    assert_int_equal(fl_catalog_open(NULL, &sc, NULL), FL_OK);
    size_t n = 0;
    fl_error err;
    fl_error_clear(&err);
    if (fl_catalog_import_measured(sc, temp_file(1, ".jsonl", text), &n, &err) != FL_OK)
        fail_msg("import: %s", err.message);
    json_t *rep = NULL;
    assert_int_equal(fl_serve_calibration(sc, NULL, NULL, &rep, &err), FL_OK);
    json_t *engines = json_object_get(rep, "engines");
    assert_int_equal(json_array_size(engines), 1);
    json_t *g = json_array_get(engines, 0);
    assert_string_equal(json_string_value(json_object_get(g, "engine")), "hf-transformers-eager-sdpa");
    assert_string_equal(json_string_value(json_object_get(g, "gpu")), "A100-SXM-80GB");
    json_t *rows = json_object_get(g, "rows");
    assert_int_equal(json_array_size(rows), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(rows, 0), "model")), "tiny-llama");
    /* two rows, three refit parameters: the fit passes through both within a few percent */
    assert_true(json_number_value(json_object_get(g, "median_abs_err")) < 0.05);
    json_decref(rep);
    fl_catalog_free(sc);
}

/* estimate: an imported point is answered as measured; near points are calibrated; other GPUs and
 * models use the calibrated engine; without import the answer is analytic. */
static void test_estimate_sources(void **state)
{
    (void)state;
    fl_estimate_query q;
    fl_estimate_query_init(&q);
    q.gpu = "NVIDIA H100 80GB HBM3";
    q.model = "llama2-7b";
    q.phase = FL_PHASE_DECODE;
    q.engine = "pytorch-static-kv-cudagraph";
    q.batch = 32;
    q.context = 2048;
    fl_estimate_result res;
    assert_int_equal(fl_estimate(mcat, &q, &res, NULL), FL_OK);
    assert_string_equal(res.source, "measured");
    assert_string_equal(res.engine, "pytorch-static-kv-cudagraph");
    assert_true(fabs(res.seconds - 0.018601408004760744) < 1e-12);
    q.batch = 16;
    q.context = 1024;
    assert_int_equal(fl_estimate(mcat, &q, &res, NULL), FL_OK);
    assert_string_equal(res.source, "calibrated");
    double near = res.seconds;
    /* between the measured neighbours (b 8 x 512: 7.9 ms, b 32 x 2048: 18.6 ms) */
    assert_true(near > 0.0079 && near < 0.0186);
    assert_int_equal(fl_estimate(cat, &q, &res, NULL), FL_OK);
    assert_string_equal(res.source, "analytic");
    /* prefill, exact and calibrated; another GPU type and model are calibrated too */
    q.phase = FL_PHASE_PREFILL;
    q.engine = "hf-transformers-eager-sdpa";
    q.batch = 8;
    q.seq = 2048;
    assert_int_equal(fl_estimate(mcat, &q, &res, NULL), FL_OK);
    assert_string_equal(res.source, "measured");
    assert_true(fabs(res.seconds - 0.47864346313476563) < 1e-12);
    q.gpu = "A100-SXM-80GB";
    q.model = "llama2-13b";
    assert_int_equal(fl_estimate(mcat, &q, &res, NULL), FL_OK);
    assert_string_equal(res.source, "calibrated");
    double cal = res.seconds;
    assert_int_equal(fl_estimate(cat, &q, &res, NULL), FL_OK);
    assert_string_equal(res.source, "analytic");
    assert_true(fabs(cal / res.seconds - 1) > 0.02); /* the fit moved the engine */
    /* no engine named: the engine of the imported rows of that phase, else vllm */
    q.engine = NULL;
    assert_int_equal(fl_estimate(mcat, &q, &res, NULL), FL_OK);
    assert_string_equal(res.source, "calibrated");
    assert_string_equal(res.engine, "hf-transformers-eager-sdpa");
    assert_int_equal(fl_estimate(cat, &q, &res, NULL), FL_OK);
    assert_string_equal(res.source, "analytic");
    assert_string_equal(res.engine, "vllm");
    q.phase = FL_PHASE_DECODE;
    q.gpu = "h100";
    q.model = "llama2-7b";
    q.batch = 64;
    q.context = 2048;
    assert_int_equal(fl_estimate(mcat, &q, &res, NULL), FL_OK);
    assert_string_equal(res.source, "measured");
    assert_string_equal(res.engine, "pytorch-static-kv-cudagraph");
    assert_int_equal(res.fits, 1);
    q.batch = 128;
    assert_int_equal(fl_estimate(mcat, &q, &res, NULL), FL_OK);
    assert_string_equal(res.source, "measured");
    assert_int_equal(res.fits, 0);
    /* an engine named explicitly is kept even when the rows are of another */
    q.engine = "vllm";
    assert_int_equal(fl_estimate(mcat, &q, &res, NULL), FL_OK);
    assert_string_equal(res.engine, "vllm");
    assert_string_equal(res.source, "analytic");
}

/* Tensor parallel as engines scale: all-reduce latency per layer and per-step costs that do not
 * shrink with tp (published A100 Llama-2 decode flattens from tp 4 to 8). */
static void test_tp_scaling(void **state)
{
    (void)state;
    const fl_gpu *g = gpu_of(cat, "A100-SXM-80GB");
    const fl_model *m = model_of(cat, "llama2-70b");
    double t[4];
    for (int i = 0, tp = 2; tp <= 8; tp *= 2, i++) {
        fl_serve_cfg c;
        assert_int_equal(fl_serve_cfg_init_engine(&c, g, m, tp, 1, FL_DT_BF16, FL_DT_BF16, engine("tensorrt-llm"),
                                                  "cfg", NULL), FL_OK);
        t[i] = fl_serve_decode_time(&c, 1, 512, NULL, NULL);
    }
    assert_true(t[0] > t[1] && t[1] > t[2]);
    assert_true(t[2] > 0.5 * t[1]);            /* far from halving at tp 8 */
    assert_true(t[0] / t[2] < 3.0);            /* 4x the GPUs, well under 4x faster */
    /* the engine of the Splitwise profiles (A100 Llama-2-70B token time 54.9 / 45.0 / 44.9 ms at tp
     * 2 / 4 / 8, tests/data/published/serving_splitwise_perf_model.csv): within 25 % of each */
    static const double meas[3] = {0.05486, 0.04499, 0.04485};
    for (int i = 0, tp = 2; tp <= 8; tp *= 2, i++) {
        fl_serve_cfg c;
        assert_int_equal(fl_serve_cfg_init_engine(&c, g, m, tp, 1, FL_DT_FP16, FL_DT_FP16, engine("splitwise-2023"),
                                                  "cfg", NULL), FL_OK);
        double s = fl_serve_decode_time(&c, 1, 576, NULL, NULL);
        assert_true(fabs(s / meas[i] - 1) < 0.25);
    }
    /* PCIe all-reduces cost more than NVLink ones */
    fl_serve_cfg nv, pc;
    const fl_model *m7 = model_of(cat, "llama2-7b");
    assert_int_equal(fl_serve_cfg_init_engine(&nv, g, m7, 2, 1, FL_DT_BF16, FL_DT_BF16, engine("vllm"), "cfg", NULL), FL_OK);
    assert_int_equal(fl_serve_cfg_init_engine(&pc, gpu_of(cat, "A100-PCIE-40GB"), m7, 2, 1, FL_DT_BF16, FL_DT_BF16,
                                              engine("vllm"), "cfg", NULL), FL_OK);
    fl_serve_cfg pc1;
    assert_int_equal(fl_serve_cfg_init_engine(&pc1, gpu_of(cat, "A100-PCIE-40GB"), m7, 1, 1, FL_DT_BF16, FL_DT_BF16,
                                              engine("vllm"), "cfg", NULL), FL_OK);
    double gain_pcie = fl_serve_decode_time(&pc1, 1, 512, NULL, NULL) / fl_serve_decode_time(&pc, 1, 512, NULL, NULL);
    assert_true(gain_pcie < 2.0);
}

/* Serving jobs name their engine at the top level or per model; bad names are one clear error. */
static void test_job_engine(void **state)
{
    (void)state;
    static const char *base = "{\"kind\": \"serving\", %s \"model\": \"llama2-7b\", \"workload\": {\"rate_rps\": 1, "
                              "\"classes\": [{\"input\": 100, \"output\": 50, \"share\": 1}]}}";
    char buf[512];
    fl_job *job = NULL;
    fl_error err;
    snprintf(buf, sizeof buf, base, "\"engine\": \"SGLang\",");
    assert_int_equal(fl_job_from_json(cat, buf, &job, NULL), FL_OK);
    assert_string_equal(job->serve[0].engine, "sglang");
    fl_job_free(job);
    snprintf(buf, sizeof buf, base, "");
    assert_int_equal(fl_job_from_json(cat, buf, &job, NULL), FL_OK);
    assert_string_equal(job->serve[0].engine, "vllm");
    fl_job_free(job);
    snprintf(buf, sizeof buf, base, "\"engine\": \"vlm\",");
    fl_error_clear(&err);
    assert_int_equal(fl_job_from_json(cat, buf, &job, &err), FL_ENOTFOUND);
    assert_string_equal(err.field, "job.engine");
    assert_non_null(strstr(err.message, "closest known: vllm"));
    snprintf(buf, sizeof buf, base, "\"engine\": 3,");
    fl_error_clear(&err);
    assert_int_equal(fl_job_from_json(cat, buf, &job, &err), FL_EINVAL);
    assert_string_equal(err.field, "job.engine");
    /* per model, with the job's engine as the default of the other entries */
    const char *multi = "{\"kind\": \"serving\", \"engine\": \"tensorrt-llm\", \"models\": ["
                        "{\"model\": \"llama2-7b\", \"engine\": \"hf-transformers\", \"workload\": {\"rate_rps\": 1, "
                        "\"classes\": [{\"input\": 100, \"output\": 50, \"share\": 1}]}},"
                        "{\"model\": \"llama2-13b\", \"workload\": {\"rate_rps\": 1, "
                        "\"classes\": [{\"input\": 100, \"output\": 50, \"share\": 1}]}}]}";
    assert_int_equal(fl_job_from_json(cat, multi, &job, NULL), FL_OK);
    assert_string_equal(job->serve[0].engine, "hf-transformers-eager-sdpa");
    assert_string_equal(job->serve[1].engine, "tensorrt-llm");
    fl_job_free(job);
    const char *bad = "{\"kind\": \"serving\", \"models\": [{\"model\": \"llama2-7b\", \"engine\": \"trt\", "
                      "\"workload\": {\"rate_rps\": 1, \"classes\": [{\"input\": 100, \"output\": 50, \"share\": 1}]}}]}";
    fl_error_clear(&err);
    assert_int_equal(fl_job_from_json(cat, bad, &job, &err), FL_ENOTFOUND);
    assert_string_equal(err.field, "job.models[0].engine");
}

/* The CLI: --engine, the engine in the JSON, one error for an unknown name. */
static void test_cli_engine(void **state)
{
    (void)state;
    cli_result r = run_cli(NULL, "estimate", "--gpu", "h100", "--model", "llama2-7b", "--phase", "decode", "--engine",
                           "tensorrt-llm", "--tp", "2", "--json", NULL);
    assert_int_equal(r.status, 0);
    json_t *o = cli_json(&r);
    assert_non_null(o);
    assert_string_equal(json_string_value(json_object_get(o, "engine")), "tensorrt-llm");
    assert_string_equal(json_string_value(json_object_get(o, "source")), "analytic");
    json_decref(o);
    cli_result_free(&r);
    r = run_cli(NULL, "estimate", "--gpu", "h100", "--model", "llama2-7b", "--phase", "decode", "--engine", "vlm", NULL);
    assert_int_not_equal(r.status, 0);
    assert_non_null(strstr(r.err, "--engine: unknown engine 'vlm'"));
    assert_non_null(strstr(r.err, "vllm"));
    cli_result_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_builtin_engines),          cmocka_unit_test(test_unknown_engine),
        cmocka_unit_test(test_default_engine_is_legacy), cmocka_unit_test(test_step_affine_in_kv),
        cmocka_unit_test(test_engine_through_datasheet), cmocka_unit_test(test_kv_capacity_oom_facts),
        cmocka_unit_test(test_calibration_report),       cmocka_unit_test(test_fit_recovers_parameters),
        cmocka_unit_test(test_estimate_sources),         cmocka_unit_test(test_tp_scaling),
        cmocka_unit_test(test_job_engine),               cmocka_unit_test(test_cli_engine),
        cmocka_unit_test(test_inline_shape_and_foreign_engine),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
