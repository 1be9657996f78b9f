/* tests/serving/test_serving.c — serving latency model, KV capacity, trace reader and the
 * request-level simulator (determinism, saturation, preemption), through the internal API. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "simulator/serve_sim.h"
#include "planner/serve_planner.h"
#include "common/plan.h"
#include "tests/common/testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static fl_catalog *cat;

static int setup(void **state)
{
    (void)state;
    return fl_catalog_open(NULL, &cat, NULL) == FL_OK ? 0 : -1;
}
static int teardown(void **state)
{
    (void)state;
    fl_catalog_free(cat);
    return 0;
}

static fl_serve_cfg cfg(const char *gpu, const char *model, int tp)
{
    fl_serve_cfg c;
    int g = fl_catalog_find_gpu(cat, gpu, NULL, NULL), m = fl_catalog_find_model(cat, model, NULL, NULL);
    assert_true(g >= 0 && m >= 0);
    assert_int_equal(fl_serve_cfg_init(&c, fl_catalog_gpu(cat, (size_t)g), fl_catalog_model(cat, (size_t)m), tp, 1,
                                       FL_DT_BF16, FL_DT_BF16, "cfg", NULL), FL_OK);
    return c;
}

static void test_decode_public_reference(void **state)
{
    (void)state;
    /* vLLM-class batch-1 decode: Llama-2-7B on A100-80GB ~6-8.5 ms, Llama-3-8B on H100 ~5-7 ms */
    fl_serve_cfg a = cfg("A100-SXM-80GB", "llama2-7b", 1), h = cfg("H100-SXM-80GB", "llama3-8b", 1);
    int bound = 1;
    double ta = fl_serve_decode_time(&a, 1, 512, NULL, &bound);
    assert_false(bound);
    assert_true(ta > 0.006 && ta < 0.0095);
    double th = fl_serve_decode_time(&h, 1, 512, NULL, NULL);
    assert_true(th > 0.0045 && th < 0.0075);
    /* memory-bound: batch 32 costs far less than 32x batch 1 */
    assert_true(fl_serve_decode_time(&h, 32, 512, NULL, NULL) < 2.0 * th);
}

/* Published end-to-end runs (TensorRT-LLM release 0.5.0, docs/source/performance.md, A100 FP16,
 * LLaMA 7B, tp 1, static batches): prefill + every decode step must land within 10 %. */
static void test_published_a100_runs(void **state)
{
    (void)state;
    static const struct { int b, in, out; double tok_s; } pub[] = {
        {64, 128, 128, 3486}, {32, 128, 2048, 1459}, {32, 2048, 128, 529}, {16, 2048, 2048, 592},
    };
    fl_serve_cfg c;
    int g = fl_catalog_find_gpu(cat, "A100-SXM-80GB", NULL, NULL), m = fl_catalog_find_model(cat, "llama2-7b", NULL, NULL);
    assert_int_equal(fl_serve_cfg_init(&c, fl_catalog_gpu(cat, (size_t)g), fl_catalog_model(cat, (size_t)m), 1, 1,
                                       FL_DT_FP16, FL_DT_FP16, "cfg", NULL), FL_OK);
    for (size_t i = 0; i < sizeof pub / sizeof pub[0]; i++) {
        double t = fl_serve_prefill_time(&c, pub[i].b, pub[i].in, NULL, NULL);
        for (int k = 0; k < pub[i].out - 1; k++)
            t += fl_serve_decode_time(&c, pub[i].b, pub[i].in + k, NULL, NULL);
        double meas = (double)pub[i].b * pub[i].out / pub[i].tok_s;
        if (fabs(t - meas) / meas > 0.10)
            fail_msg("batch %d in %d out %d: predicted %.2f s, published %.2f s", pub[i].b, pub[i].in, pub[i].out, t, meas);
    }
}

static void test_prefill_compute_bound(void **state)
{
    (void)state;
    fl_serve_cfg h = cfg("H100-SXM-80GB", "llama3-8b", 1);
    int bound = 0;
    double fl = 0;
    double t = fl_serve_prefill_time(&h, 4, 512, &fl, &bound);
    assert_true(bound);
    double ach = fl / t;
    assert_true(ach > 0.4 * 989e12 && ach < 0.8 * 989e12);
    /* a low-power card reaches a smaller fraction of its peak */
    fl_serve_cfg l = cfg("L4-24GB", "llama3-8b", 1);
    double tl = fl_serve_prefill_time(&l, 4, 512, &fl, NULL);
    assert_true(fl / tl < 0.5 * 121e12);
}

static void test_tp_and_gqa_kv(void **state)
{
    (void)state;
    fl_serve_cfg a = cfg("H100-SXM-80GB", "llama3-70b", 4), b = cfg("H100-SXM-80GB", "llama3-70b", 8);
    assert_true(b.weights_per_gpu < a.weights_per_gpu);
    /* Llama-3-70B: 320 KiB per token in 16-bit over all GPUs */
    assert_true(fabs(a.kv_bytes_per_token * 4 - 327680) < 1);
    assert_true(fl_serve_decode_time(&b, 1, 512, NULL, NULL) < fl_serve_decode_time(&a, 1, 512, NULL, NULL));
}

static void test_weights_do_not_fit(void **state)
{
    (void)state;
    fl_serve_cfg c;
    fl_error err;
    int g = fl_catalog_find_gpu(cat, "A10G-24GB", NULL, NULL), m = fl_catalog_find_model(cat, "llama3-70b", NULL, NULL);
    assert_int_equal(fl_serve_cfg_init(&c, fl_catalog_gpu(cat, (size_t)g), fl_catalog_model(cat, (size_t)m), 1, 1,
                                       FL_DT_BF16, FL_DT_BF16, "plan.replicas[0]", &err), FL_EINVAL);
    assert_non_null(strstr(err.message, "GB"));
    assert_string_equal(err.field, "plan.replicas[0]");
    assert_int_equal(fl_serve_cfg_init(&c, fl_catalog_gpu(cat, (size_t)g), fl_catalog_model(cat, (size_t)m), 3, 1,
                                       FL_DT_BF16, FL_DT_BF16, "x", &err), FL_EINVAL);
    assert_non_null(strstr(err.message, "heads"));
}

static void test_moe_memory_vs_compute(void **state)
{
    (void)state;
    fl_serve_cfg mx = cfg("H100-SXM-80GB", "mixtral-8x7b", 2), l = cfg("H100-SXM-80GB", "llama3-8b", 2);
    assert_true(mx.weights_per_gpu > 4 * l.weights_per_gpu);            /* all experts in memory */
    double f1 = 0, f2 = 0;
    fl_serve_prefill_time(&mx, 1, 2048, &f1, NULL);
    fl_serve_prefill_time(&l, 1, 2048, &f2, NULL);
    assert_true(f1 < 3.0 * f2);                                          /* 2 of 8 experts in compute */
}

static void test_trace_parse(void **state)
{
    (void)state;
    fl_serve_request *r = NULL;
    size_t n = 0;
    fl_error err;
    assert_int_equal(fl_serve_trace_load(test_data("traces/seconds.csv"), "t", &r, &n, &err), FL_OK);
    assert_int_equal(n, 4);
    assert_true(fabs(r[2].arrival - 1.25) < 1e-12);
    free(r);
    assert_int_equal(fl_serve_trace_load(test_data("traces/azure_conv_sample.csv"), "t", &r, &n, &err), FL_OK);
    assert_int_equal(n, 600);
    assert_true(r[n - 1].arrival > 100 && r[n - 1].arrival < 200);
    int k = 0;
    fl_request_class cl[FL_MAX_CLASSES];
    double rate = 0;
    fl_serve_trace_classify(r, n, &k, cl, &rate);
    assert_int_equal(k, 3);
    assert_true(rate > 3 && rate < 5.5);
    free(r);
    assert_int_equal(fl_serve_trace_load(test_data("traces/out_of_order.csv"), "job.workload.trace", &r, &n, &err),
                     FL_EPARSE);
    assert_non_null(strstr(err.message, "line 4"));
    assert_int_equal(fl_serve_trace_load(test_data("traces/malformed.csv"), "t", &r, &n, &err), FL_EPARSE);
    assert_non_null(strstr(err.message, "line 3"));
    assert_int_equal(fl_serve_trace_parse("TIMESTAMP,ContextTokens,GeneratedTokens\n2023-13-01 00:00:00,5,5\n", "t",
                                          &r, &n, &err), FL_EPARSE);
    assert_non_null(strstr(err.message, "line 2"));
    assert_int_equal(fl_serve_trace_parse("0,5\n", "t", &r, &n, &err), FL_EPARSE);
    assert_int_equal(fl_serve_trace_parse("TIMESTAMP,ContextTokens,GeneratedTokens\n", "t", &r, &n, &err), FL_EPARSE);
}

static fl_serve_stats run(const fl_serve_cfg *c, double rate, size_t n, uint64_t seed)
{
    fl_serve_group g;
    memset(&g, 0, sizeof g);
    g.cfg = *c;
    g.count = 1;
    g.class_share[0] = g.class_share[1] = 1;
    fl_serve_workload wl;
    memset(&wl, 0, sizeof wl);
    wl.rate_rps = rate;
    wl.n_classes = 2;
    wl.classes[0] = (fl_request_class){512, 128, 0.5};
    wl.classes[1] = (fl_request_class){2048, 256, 0.5};
    wl.n_requests = n;
    wl.seed = seed;
    fl_serve_stats st;
    assert_int_equal(fl_serve_simulate(&g, 1, &wl, &st, NULL), FL_OK);
    return st;
}

static void test_sim_deterministic_and_load(void **state)
{
    (void)state;
    fl_serve_cfg h = cfg("H100-SXM-80GB", "llama3-8b", 1);
    fl_serve_stats a = run(&h, 2, 2000, 1), b = run(&h, 2, 2000, 1);
    assert_memory_equal(&a, &b, sizeof a);
    assert_int_equal(a.completed, 2000);
    assert_true(fabs(a.throughput_rps - 2) < 0.3);
    assert_true(a.ttft_p50 <= a.ttft_p90 && a.ttft_p90 <= a.ttft_p99);
    /* heavier load: longer queues and TPOT */
    fl_serve_stats c = run(&h, 30, 2000, 1);
    assert_true(c.tpot_p90 > a.tpot_p90);
    assert_true(c.max_batch > a.max_batch);
}

static void test_sim_preemption_small_cache(void **state)
{
    (void)state;
    fl_serve_cfg c = cfg("H100-SXM-80GB", "llama3-8b", 1);
    c.kv_tokens = 6000; /* tiny cache: forces admission limits and preemption */
    fl_serve_stats st = run(&c, 20, 600, 3);
    assert_int_equal(st.completed, 600);
    assert_true(st.kv_util_max <= 1.0 + 1e-9);
    assert_true(st.preemptions > 0 || st.queue_max > 5);
}

static void test_capacity_monotone_in_slo(void **state)
{
    (void)state;
    fl_serve_cfg h = cfg("H100-SXM-80GB", "llama3-8b", 1);
    fl_request_class rc = {1024, 256, 1};
    double loose = fl_serve_capacity(&h, &rc, 2.0, 0.1), tight = fl_serve_capacity(&h, &rc, 2.0, 0.02);
    assert_true(loose > 0);
    assert_true(tight < loose);
    assert_true(fl_serve_capacity(&h, &rc, 2.0, 0.001) == 0); /* impossible TPOT */
}

static void test_estimate_api(void **state)
{
    (void)state;
    fl_estimate_query q;
    fl_estimate_query_init(&q);
    q.gpu = "H100-SXM-80GB";
    q.model = "llama3-8b";
    q.phase = FL_PHASE_DECODE;
    q.batch = 32;
    q.context = 2048;
    fl_estimate_result r;
    fl_error err;
    assert_int_equal(fl_estimate(cat, &q, &r, &err), FL_OK);
    assert_string_equal(r.source, "analytic");
    assert_string_equal(r.bound, "memory");
    assert_true(r.fits && r.kv_cache_tokens > 100000 && r.memory_bytes > 15e9);
    q.model = "llama3-70b";
    q.tp = 3;
    assert_int_equal(fl_estimate(cat, &q, &r, &err), FL_EINVAL);
    q.tp = 1;
    assert_int_equal(fl_estimate(cat, &q, &r, &err), FL_OK);
    assert_false(r.fits);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decode_public_reference), cmocka_unit_test(test_published_a100_runs), cmocka_unit_test(test_prefill_compute_bound),
        cmocka_unit_test(test_tp_and_gqa_kv),           cmocka_unit_test(test_weights_do_not_fit),
        cmocka_unit_test(test_moe_memory_vs_compute),   cmocka_unit_test(test_trace_parse),
        cmocka_unit_test(test_sim_deterministic_and_load), cmocka_unit_test(test_sim_preemption_small_cache),
        cmocka_unit_test(test_capacity_monotone_in_slo), cmocka_unit_test(test_estimate_api),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
