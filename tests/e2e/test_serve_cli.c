/* tests/e2e/test_serve_cli.c — `flotilla plan|simulate|estimate` on serving jobs end to end:
 * the plan JSON contract, re-simulation of hand-written plans, and every bad input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/common/testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char path_buf[1024];
static const char *example(const char *name)
{
    snprintf(path_buf, sizeof path_buf, "%s/examples/jobs/%s", getenv("FLOTILLA_SOURCE_ROOT"), name);
    return path_buf;
}

static void test_plan_70b_json(void **state)
{
    (void)state;
    cli_result r = run_cli(NULL, "plan", example("serve_llama3_70b.json"), "--json", NULL);
    assert_int_equal(r.status, 0);
    json_t *d = cli_json(&r);
    assert_non_null(d);
    assert_string_equal(json_string_value(json_object_get(d, "kind")), "serving");
    json_t *sim = json_object_get(d, "simulation");
    assert_true(json_is_true(json_object_get(sim, "meets_slo")));
    assert_true(json_number_value(json_object_get(sim, "ttft_p90_s")) <= 2.0);
    assert_true(json_number_value(json_object_get(sim, "tpot_p90_s")) <= 0.08);
    assert_true(json_number_value(json_object_get(sim, "cost_per_hour")) <= 200.0);
    assert_true(json_array_size(json_object_get(d, "replicas")) >= 1);
    assert_string_equal(json_string_value(json_object_get(json_object_get(d, "solver"), "name")), "glpk");
    assert_non_null(json_object_get(json_object_get(d, "baseline"), "saving_fraction"));
    /* re-simulating the emitted plan agrees */
    char *txt = json_dumps(d, 0);
    const char *pf = temp_file(0, ".json", txt);
    free(txt);
    cli_result s = run_cli(NULL, "simulate", pf, "--json", NULL);
    assert_int_equal(s.status, 0);
    json_t *d2 = cli_json(&s);
    assert_true(json_is_true(json_object_get(json_object_get(d2, "simulation"), "meets_slo")));
    json_decref(d2);
    cli_result_free(&s);
    json_decref(d);
    cli_result_free(&r);
}

/* A rate far below one replica's capacity still gets one replica (GLPK's integrality tolerance
 * used to round the replica count to zero, leaving an empty plan). */
static void test_plan_tiny_rate(void **state)
{
    (void)state;
    const char *job = "{\"kind\":\"serving\",\"model\":\"llama3-8b\",\"workload\":{\"rate_rps\":1e-6,"
                      "\"classes\":[{\"input\":512,\"output\":256,\"share\":1.0}]},"
                      "\"slo\":{\"ttft_p90_s\":2.0,\"tpot_p90_s\":0.08}}";
    cli_result r = run_cli(NULL, "plan", temp_file(2, ".json", job), "--json", NULL);
    assert_int_equal(r.status, 0);
    json_t *d = cli_json(&r);
    assert_non_null(d);
    json_t *reps = json_object_get(d, "replicas");
    assert_int_equal(json_array_size(reps), 1);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(reps, 0), "count")), 1);
    assert_true(json_is_true(json_object_get(json_object_get(d, "simulation"), "meets_slo")));
    json_decref(d);
    cli_result_free(&r);
}

static const char *job70 =
    "{\"kind\":\"serving\",\"model\":\"llama3-70b\",\"workload\":{\"rate_rps\":2.0,\"classes\":"
    "[{\"input\":512,\"output\":128,\"share\":1.0}]},\"slo\":{\"ttft_p90_s\":2.0,\"tpot_p90_s\":0.1}}";

static void sim_expect_error(const char *replicas, const char *needle)
{
    char doc[2048];
    snprintf(doc, sizeof doc, "{\"kind\":\"serving\",\"job\":%s,\"replicas\":%s}", job70, replicas);
    cli_result r = run_cli(NULL, "simulate", temp_file(1, ".json", doc), "--json", NULL);
    assert_int_not_equal(r.status, 0);
    if (!strstr(r.err, needle))
        fail_msg("expected '%s' in: %s", needle, r.err);
    cli_result_free(&r);
}

static void test_simulate_handwritten(void **state)
{
    (void)state;
    char doc[2048];
    snprintf(doc, sizeof doc, "{\"kind\":\"serving\",\"job\":%s,\"replicas\":[{\"gpu\":\"H100-SXM-80GB\",\"tp\":4,"
             "\"count\":1}]}", job70);
    cli_result r = run_cli(NULL, "simulate", temp_file(1, ".json", doc), "--json", NULL);
    assert_int_equal(r.status, 0);
    json_t *d = cli_json(&r);
    json_t *sim = json_object_get(d, "simulation");
    assert_true(json_is_boolean(json_object_get(sim, "meets_slo")));
    assert_true(json_number_value(json_object_get(sim, "throughput_rps")) > 1.5);
    assert_true(json_number_value(json_object_get(sim, "cost_per_hour")) > 0);
    json_decref(d);
    cli_result_free(&r);
    cli_result t = run_cli(NULL, "simulate", temp_file(1, ".json", doc), NULL);
    assert_int_equal(t.status, 0);
    assert_non_null(strstr(t.out, "TTFT"));
    cli_result_free(&t);
}

static void test_simulate_bad_replicas(void **state)
{
    (void)state;
    sim_expect_error("[{\"gpu\":\"H900\",\"tp\":4,\"count\":1}]", "plan.replicas[0].gpu");
    sim_expect_error("[{\"gpu\":\"H100-SXM-80GB\",\"tp\":3,\"count\":1}]", "does not divide");
    sim_expect_error("[{\"gpu\":\"A10G-24GB\",\"tp\":1,\"count\":1}]", "no room for the KV cache");
    sim_expect_error("[{\"gpu\":\"H100-SXM-80GB\",\"tp\":4,\"count\":-1}]", "plan.replicas[0].count");
    sim_expect_error("[]", "plan.replicas");
}

static void plan_expect_error(const char *job, const char *needle)
{
    cli_result r = run_cli(NULL, "plan", temp_file(2, ".json", job), "--json", NULL);
    assert_int_not_equal(r.status, 0);
    if (!strstr(r.err, needle))
        fail_msg("expected '%s' in: %s", needle, r.err);
    cli_result_free(&r);
}

static void test_plan_bad_inputs(void **state)
{
    (void)state;
    /* SLO impossible on the allowed GPUs; a catalog GPU would meet it */
    plan_expect_error("{\"kind\":\"serving\",\"model\":\"llama3-8b\",\"allow\":{\"gpus\":[\"T4-16GB\",\"L4-24GB\"]},"
                      "\"workload\":{\"rate_rps\":1,\"classes\":[{\"input\":512,\"output\":64,\"share\":1}]},"
                      "\"slo\":{\"ttft_p90_s\":1.0,\"tpot_p90_s\":0.012}}", "in the catalog would");
    /* impossible anywhere */
    plan_expect_error("{\"kind\":\"serving\",\"model\":\"llama3-8b\",\"workload\":{\"rate_rps\":1,\"classes\":"
                      "[{\"input\":512,\"output\":64,\"share\":1}]},\"slo\":{\"ttft_p90_s\":1.0,\"tpot_p90_s\":0.0005}}",
                      "no GPU in the catalog");
    plan_expect_error("{\"kind\":\"serving\",\"model\":\"llama3-8b\",\"workload\":{\"rate_rps\":1,\"classes\":"
                      "[{\"input\":512,\"output\":64,\"share\":0.6},{\"input\":100,\"output\":10,\"share\":0.6}]}}",
                      "sum to");
    plan_expect_error("{\"kind\":\"serving\",\"model\":\"llama3-8b\",\"workload\":{\"rate_rps\":-3,\"classes\":"
                      "[{\"input\":512,\"output\":64,\"share\":1}]}}", "rate_rps");
    char job[1024];
    snprintf(job, sizeof job, "{\"kind\":\"serving\",\"model\":\"llama3-8b\",\"workload\":{\"trace\":\"%s\"}}",
             test_data("traces/out_of_order.csv"));
    plan_expect_error(job, "line 4");
    snprintf(job, sizeof job, "{\"kind\":\"serving\",\"model\":\"llama3-8b\",\"workload\":{\"trace\":\"%s\"}}",
             test_data("traces/malformed.csv"));
    plan_expect_error(job, "line 3");
    plan_expect_error("{\"kind\":\"serving\",\"model\":\"llama3-70b\",\"workload\":{\"rate_rps\":50,\"classes\":"
                      "[{\"input\":512,\"output\":256,\"share\":1}]},\"slo\":{\"ttft_p90_s\":2,\"tpot_p90_s\":0.1},"
                      "\"budget_per_hour\":5}", "budget_per_hour");
}

static void test_plan_trace_and_multi(void **state)
{
    (void)state;
    char job[1024];
    snprintf(job, sizeof job, "{\"kind\":\"serving\",\"model\":\"llama3-8b\",\"workload\":{\"trace\":\"%s\"},"
             "\"slo\":{\"ttft_p90_s\":1.5,\"tpot_p90_s\":0.05}}", test_data("traces/azure_conv_sample.csv"));
    cli_result r = run_cli(NULL, "plan", temp_file(3, ".json", job), "--json", NULL);
    assert_int_equal(r.status, 0);
    json_t *d = cli_json(&r);
    json_t *sim = json_object_get(d, "simulation");
    assert_true(json_is_true(json_object_get(sim, "meets_slo")));
    assert_int_equal(json_integer_value(json_object_get(sim, "requests")), 600);
    json_decref(d);
    cli_result_free(&r);
    cli_result m = run_cli(NULL, "plan", example("serve_multi.json"), "--json", NULL);
    assert_int_equal(m.status, 0);
    d = cli_json(&m);
    sim = json_object_get(d, "simulation");
    assert_int_equal(json_array_size(json_object_get(sim, "models")), 2);
    assert_true(json_is_true(json_object_get(sim, "meets_slo")));
    json_t *rep = json_array_get(json_object_get(d, "replicas"), 0);
    assert_non_null(json_string_value(json_object_get(rep, "model")));
    json_decref(d);
    cli_result_free(&m);
}

static void test_estimate_cli(void **state)
{
    (void)state;
    cli_result r = run_cli(NULL, "estimate", "--gpu", "H100-SXM-80GB", "--model", "llama3-8b", "--phase", "decode",
                           "--batch", "32", "--context", "2048", "--tp", "2", "--json", NULL);
    assert_int_equal(r.status, 0);
    json_t *d = cli_json(&r);
    assert_string_equal(json_string_value(json_object_get(d, "bound")), "memory");
    assert_true(json_number_value(json_object_get(d, "seconds")) > 0.002 &&
                json_number_value(json_object_get(d, "seconds")) < 0.02);
    json_decref(d);
    cli_result_free(&r);
    cli_result p = run_cli(NULL, "estimate", "--gpu", "H100-SXM-80GB", "--model", "llama3-8b", "--phase", "prefill",
                           "--batch", "4", "--seq", "512", "--json", NULL);
    assert_int_equal(p.status, 0);
    d = cli_json(&p);
    assert_string_equal(json_string_value(json_object_get(d, "bound")), "compute");
    json_decref(d);
    cli_result_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plan_70b_json), cmocka_unit_test(test_plan_tiny_rate),       cmocka_unit_test(test_simulate_handwritten),
        cmocka_unit_test(test_simulate_bad_replicas), cmocka_unit_test(test_plan_bad_inputs),
        cmocka_unit_test(test_plan_trace_and_multi), cmocka_unit_test(test_estimate_cli),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
