/* tests/serving/test_serve_cli.c — `flotilla plan` on serving traces through the CLI: a request
 * longer than the model's context is refused with its line (the repro of
 * tests/data/bad/job-serve-trace-long-output.json), a request of 1,000,000 output tokens on a
 * model with that context plans (the event-driven simulator), and --time-limit bounds the run. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/common/testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* The trace path inside a job is relative to the working directory: run from its folder. */
static void in_dir(const char *sub)
{
    char path[4096];
    snprintf(path, sizeof path, "%s", test_data(sub));
    assert_int_equal(chdir(path), 0);
}

static void test_request_longer_than_context(void **state)
{
    (void)state;
    in_dir("bad");
    cli_result r = run_cli(NULL, "plan", "job-serve-trace-long-output.json", NULL);
    assert_int_equal(r.status, 1);
    assert_non_null(strstr(r.err, "job.workload.trace"));
    assert_non_null(strstr(r.err, "line 2"));
    assert_non_null(strstr(r.err, "GeneratedTokens"));
    assert_non_null(strstr(r.err, "8192"));
    assert_string_equal(r.out, "");
    cli_result_free(&r);
}

static void test_million_token_request_plans(void **state)
{
    (void)state;
    in_dir("traces");
    double t0 = now();
    cli_result r = run_cli(NULL, "plan", "job-long-output-1m.json", "--json", "--time-limit", "600", NULL);
    double dt = now() - t0;
    print_message("planned the 1,000,000-token trace in %.2f s\n", dt);
    assert_int_equal(r.status, 0);
    json_t *doc = cli_json(&r);
    assert_non_null(doc);
    json_t *sim = json_object_get(doc, "simulation");
    assert_true(json_is_true(json_object_get(sim, "meets_slo")));
    assert_int_equal(json_integer_value(json_object_get(sim, "requests")), 4);
    const char *st = json_string_value(json_object_get(json_object_get(doc, "solver"), "status"));
    assert_non_null(st);
    assert_true(strcmp(st, "optimal") == 0 || strcmp(st, "feasible") == 0);
    /* the 1M-token request's end-to-end time is the whole decode: at least 1e6 x the fastest step */
    assert_true(json_number_value(json_object_get(sim, "e2e_p99_s")) > 1e6 * 1e-3);
    json_decref(doc);
    cli_result_free(&r);
}

/* The repro's 28,112-token request on a model whose context holds it: a plan (any GPU allowed). */
static void test_repro_on_long_context_model_plans(void **state)
{
    (void)state;
    in_dir("traces");
    cli_result r = run_cli(NULL, "plan", "job-long-output-28k.json", "--json", "--time-limit", "600", NULL);
    assert_int_equal(r.status, 0);
    json_t *doc = cli_json(&r);
    assert_non_null(doc);
    assert_true(json_is_true(json_object_get(json_object_get(doc, "simulation"), "meets_slo")));
    json_decref(doc);
    cli_result_free(&r);
}

static void test_time_limit_bounds_run(void **state)
{
    (void)state;
    in_dir("traces");
    double t0 = now();
    cli_result r = run_cli(NULL, "plan", "job-long-output-1m.json", "--time-limit", "0.01", NULL);
    double dt = now() - t0;
    print_message("--time-limit 0.01 stopped after %.2f s\n", dt);
    assert_int_equal(r.status, 3);
    assert_non_null(strstr(r.err, "time_limit"));
    assert_non_null(strstr(r.err, "0.01 s time limit"));
    assert_string_equal(r.out, "");
    cli_result_free(&r);
    /* a generous limit changes nothing */
    r = run_cli(NULL, "plan", "job-long-output-1m.json", "--time-limit", "600", "--json", NULL);
    assert_int_equal(r.status, 0);
    json_t *doc = cli_json(&r);
    assert_non_null(doc);
    assert_string_not_equal(json_string_value(json_object_get(json_object_get(doc, "solver"), "status")), "time_limit");
    json_decref(doc);
    cli_result_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request_longer_than_context),
        cmocka_unit_test(test_million_token_request_plans),
        cmocka_unit_test(test_repro_on_long_context_model_plans),
        cmocka_unit_test(test_time_limit_bounds_run),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
