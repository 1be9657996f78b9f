/* tests/e2e/test_sim_cli.c — `flotilla simulate` on training plan fixtures (tests/data/plans/
 * train_*.json) and `flotilla estimate --phase train`: JSON fields of the simulation, the table,
 * out-of-memory prediction, and every bad-input fixture's message naming the JSON path. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/common/testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static double num(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    assert_true(json_is_number(v));
    return json_number_value(v);
}

static json_t *simulate_json(const char *fixture)
{
    char path[1024];
    snprintf(path, sizeof path, "%s", test_data(fixture));
    cli_result r = run_cli(NULL, "simulate", path, "--json", NULL);
    if (r.status != 0)
        fprintf(stderr, "%s", r.err);
    assert_int_equal(r.status, 0);
    json_t *d = cli_json(&r);
    assert_non_null(d);
    cli_result_free(&r);
    return d;
}

static void test_simulate_small(void **state)
{
    (void)state;
    json_t *d = simulate_json("plans/train_small.json");
    json_t *s = json_object_get(d, "simulation");
    assert_true(json_is_object(s));
    double it = num(s, "iteration_s"), tps = num(s, "tokens_per_s");
    assert_true(it > 0.05 && it < 10);
    assert_true(fabs(tps * it - 64 * 2048) < 1e-4 * tps * it);
    assert_true(fabs(num(s, "cost_per_hour") - 2 * 29.39) < 1e-9);
    assert_true(fabs(num(s, "cost_per_million_tokens") / (num(s, "cost_per_hour") / (tps * 3600) * 1e6) - 1) < 1e-4);
    double mfu = num(s, "mfu");
    assert_true(mfu > 0.1 && mfu < 0.8);
    assert_true(json_is_true(json_object_get(s, "fits")));
    assert_null(json_object_get(s, "reason"));
    json_t *st = json_object_get(s, "stages");
    assert_int_equal(json_array_size(st), 2);
    for (size_t i = 0; i < 2; i++) {
        json_t *o = json_array_get(st, i);
        assert_true(num(o, "compute_s") > 0);
        assert_true(num(o, "tp_comm_s") > 0);
        assert_true(num(o, "peak_memory_bytes") < num(o, "memory_capacity_bytes"));
        assert_true(num(o, "fwd_s") > 0 && num(o, "bwd_s") > num(o, "fwd_s"));
        assert_string_equal(json_string_value(json_object_get(o, "source")), "analytic");
    }
    assert_true(num(json_array_get(st, 0), "p2p_s") > 0);
    assert_true(num(s, "dp_allreduce_s") >= 0 && num(s, "optimizer_s") > 0);
    double bub = num(s, "bubble_fraction");
    assert_true(bub > 0.02 && bub < 0.4);
    assert_non_null(strstr(json_string_value(json_object_get(s, "bottleneck")), "stage"));
    assert_string_equal(json_string_value(json_object_get(s, "time_source")), "analytic");
    assert_null(json_object_get(s, "time_to_train_s"));
    json_decref(d);
}

static void test_simulate_hetero_and_inline(void **state)
{
    (void)state;
    json_t *d = simulate_json("plans/train_hetero.json");
    json_t *s = json_object_get(d, "simulation");
    assert_int_equal(json_array_size(json_object_get(s, "stages")), 4);
    assert_true(num(s, "time_to_train_s") > 0);
    assert_true(fabs(num(s, "total_cost") - num(s, "time_to_train_s") / 3600 * num(s, "cost_per_hour")) <
                1e-4 * num(s, "total_cost"));
    json_decref(d);
    d = simulate_json("plans/train_inline_interleaved.json");
    s = json_object_get(d, "simulation");
    assert_true(fabs(num(s, "cost_per_hour") - 40.0) < 1e-9); /* spot price */
    assert_true(json_is_true(json_object_get(s, "fits")));
    json_decref(d);
}

static void test_simulate_oom(void **state)
{
    (void)state;
    json_t *d = simulate_json("plans/train_oom_175b_v100.json");
    json_t *s = json_object_get(d, "simulation");
    assert_true(json_is_false(json_object_get(s, "fits")));
    const char *why = json_string_value(json_object_get(s, "reason"));
    assert_non_null(why);
    assert_non_null(strstr(why, "V100-SXM2-16GB"));
    assert_true(json_is_false(json_object_get(json_array_get(json_object_get(s, "stages"), 0), "fits")));
    json_decref(d);
}

static void test_simulate_table(void **state)
{
    (void)state;
    char path[1024];
    snprintf(path, sizeof path, "%s", test_data("plans/train_hetero.json"));
    cli_result r = run_cli(NULL, "simulate", path, NULL);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "V100-SXM2-16GB"));
    assert_non_null(strstr(r.out, "tokens/s"));
    assert_non_null(strstr(r.out, "bottleneck"));
    assert_non_null(strstr(r.out, "[20,32)"));
    cli_result_free(&r);
    snprintf(path, sizeof path, "%s", test_data("plans/train_oom_175b_v100.json"));
    r = run_cli(NULL, "simulate", path, NULL);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "NO:"));
    cli_result_free(&r);
}

static void expect_error(const char *fixture, const char *field, const char *word)
{
    char path[1024];
    snprintf(path, sizeof path, "%s", test_data(fixture));
    cli_result r = run_cli(NULL, "simulate", path, "--json", NULL);
    if (r.status == 0 || !strstr(r.err, field) || !strstr(r.err, word))
        fprintf(stderr, "%s: status %d, stderr: %s", fixture, r.status, r.err);
    assert_int_equal(r.status, 1);
    assert_non_null(strstr(r.err, field));
    assert_non_null(strstr(r.err, word));
    assert_string_equal(r.out, "");
    cli_result_free(&r);
}

static void test_bad_plans(void **state)
{
    (void)state;
    expect_error("plans/train_bad_gap.json", "plan.parallelism.pipelines[0].stages[1].layers", "gap");
    expect_error("plans/train_bad_short.json", "plan.parallelism.pipelines[0].stages[1].layers", "gap");
    expect_error("plans/train_bad_overlap.json", "plan.parallelism.pipelines[0].stages[1].layers", "overlap");
    expect_error("plans/train_bad_tp.json", "plan.parallelism.pipelines[0].stages[0].tp", "divide");
    expect_error("plans/train_bad_gpu.json", "plan.parallelism.pipelines[0].stages[1].gpu", "B300-XYZ");
    expect_error("plans/train_bad_zone.json", "plan.parallelism.pipelines[0].stages[0].zone", "mars");
    expect_error("plans/train_bad_replicas.json", "plan.parallelism.pipelines[0].replicas", "positive");
    expect_error("plans/train_bad_micro_batch.json", "plan.parallelism.micro_batch", "positive");
    expect_error("plans/train_bad_global_batch.json", "plan.parallelism.pipelines", "global_batch");
}

static void test_estimate_train_cli(void **state)
{
    (void)state;
    cli_result r = run_cli(NULL, "estimate", "--gpu", "H100-SXM-80GB", "--model", "gpt3-1.3b", "--phase", "train",
                           "--batch", "4", "--seq", "2048", "--json", NULL);
    assert_int_equal(r.status, 0);
    json_t *d = cli_json(&r);
    assert_non_null(d);
    double sec = num(d, "seconds");
    /* the CLI prints 6 significant digits: three roundings of at most half a unit in the 6th */
    assert_true(fabs(sec - num(d, "fwd_s") - num(d, "bwd_s")) < 2e-6 * sec);
    assert_true(num(d, "achieved_flops_per_gpu") > 300e12 && num(d, "achieved_flops_per_gpu") < 989e12);
    assert_true(json_is_true(json_object_get(d, "fits")));
    json_decref(d);
    cli_result_free(&r);
    r = run_cli(NULL, "estimate", "--gpu", "V100-SXM2-16GB", "--model", "gpt3-175b", "--phase", "train", "--json", NULL);
    assert_int_equal(r.status, 0);
    d = cli_json(&r);
    assert_true(json_is_false(json_object_get(d, "fits")));
    json_decref(d);
    cli_result_free(&r);
    r = run_cli(NULL, "estimate", "--gpu", "A100", "--model", "gpt3-1.3b", "--phase", "train", "--tp", "3", NULL);
    assert_int_equal(r.status, 1);
    assert_non_null(strstr(r.err, "tp"));
    cli_result_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_simulate_small),
        cmocka_unit_test(test_simulate_hetero_and_inline),
        cmocka_unit_test(test_simulate_oom),
        cmocka_unit_test(test_simulate_table),
        cmocka_unit_test(test_bad_plans),
        cmocka_unit_test(test_estimate_train_cli),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
