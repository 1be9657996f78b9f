/* tests/e2e/test_place_cli.c — `flotilla place` and `flotilla whatif` end to end: JSON output,
 * --current migration, --pack, bad input messages and exit codes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/common/testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char plan_path[1024], nodes_path[1024], serve_path[1024];

static void test_place_json(void **state)
{
    (void)state;
    cli_result r = run_cli(NULL, "place", plan_path, "--nodes", nodes_path, "--json", NULL);
    assert_int_equal(r.status, 0);
    json_t *d = cli_json(&r);
    assert_non_null(d);
    json_t *pl = json_object_get(d, "placement");
    assert_int_equal(json_array_size(pl), 5);
    json_t *rep = json_object_get(d, "placement_report");
    assert_int_equal(json_integer_value(json_object_get(rep, "gpus_used")), 20);
    json_decref(d);
    cli_result_free(&r);
}

static void test_place_current_and_table(void **state)
{
    (void)state;
    const char *cur = temp_path(0, ".json");
    cli_result r = run_cli(NULL, "place", plan_path, "--nodes", nodes_path, "-o", cur, NULL);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "gcp-a100-0"));
    cli_result_free(&r);
    r = run_cli(NULL, "place", plan_path, "--nodes", nodes_path, "--current", cur, "--json", NULL);
    assert_int_equal(r.status, 0);
    json_t *d = cli_json(&r);
    json_t *m = json_object_get(d, "migration");
    assert_int_equal(json_integer_value(json_object_get(m, "shards_kept")), 5);
    assert_int_equal(json_integer_value(json_object_get(m, "shards_moved")), 0);
    json_decref(d);
    cli_result_free(&r);
    r = run_cli(NULL, "place", plan_path, "--current", cur, NULL); /* synthesized nodes: unknown ids */
    assert_int_equal(r.status, 1);
    assert_non_null(strstr(r.err, "current.placement[0].node"));
    cli_result_free(&r);
}

static void test_place_synthesized_serving(void **state)
{
    (void)state;
    cli_result r = run_cli(NULL, "place", serve_path, "--json", NULL);
    assert_int_equal(r.status, 0);
    json_t *d = cli_json(&r);
    assert_int_equal(json_array_size(json_object_get(d, "placement")), 5);
    assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(d, "placement"), 0), "node")),
                        "aws:use1-az1/g5.xlarge/0");
    json_decref(d);
    cli_result_free(&r);
}

static void test_place_pack(void **state)
{
    (void)state;
    cli_result r = run_cli(NULL, "place", plan_path, plan_path, "--nodes", nodes_path, "--json", NULL);
    assert_int_equal(r.status, 2); /* several plans need --pack */
    cli_result_free(&r);
    const char *nodes = temp_file(1, ".json",
        "{\"nodes\":[{\"id\":\"a\",\"zone\":\"gcp:us-central1-a\",\"gpu\":\"A100-SXM-40GB\",\"gpus\":8},"
        "{\"id\":\"b\",\"zone\":\"gcp:us-central1-a\",\"gpu\":\"A100-SXM-40GB\",\"gpus\":8},"
        "{\"id\":\"v\",\"zone\":\"gcp:us-central1-a\",\"gpu\":\"V100-SXM2-16GB\",\"gpus\":8},"
        "{\"id\":\"w\",\"zone\":\"aws:use1-az1\",\"gpu\":\"A100-SXM-40GB\",\"gpus\":8},"
        "{\"id\":\"x\",\"zone\":\"aws:use1-az1\",\"gpu\":\"A100-SXM-40GB\",\"gpus\":8}]}");
    r = run_cli(NULL, "place", plan_path, plan_path, "--nodes", nodes, "--pack", "--json", NULL);
    assert_int_equal(r.status, 0);
    json_t *d = cli_json(&r);
    assert_int_equal(json_array_size(json_object_get(d, "plans")), 2);
    json_t *rep = json_object_get(d, "placement_report");
    assert_int_equal(json_integer_value(json_object_get(rep, "gpus_used")), 40);
    assert_int_equal(json_integer_value(json_object_get(rep, "nodes_partial")), 0);
    json_decref(d);
    cli_result_free(&r);
}

static void test_place_bad_input(void **state)
{
    (void)state;
    const char *bad = temp_file(2, ".json",
        "{\"nodes\":[{\"id\":\"a\",\"zone\":\"gcp:us-central1-a\",\"gpu\":\"B200-XYZ\",\"gpus\":8}]}");
    cli_result r = run_cli(NULL, "place", plan_path, "--nodes", bad, NULL);
    assert_int_equal(r.status, 1);
    assert_non_null(strstr(r.err, "nodes[0].gpu"));
    cli_result_free(&r);
    const char *small = temp_file(3, ".json",
        "{\"nodes\":[{\"id\":\"a\",\"zone\":\"gcp:us-central1-a\",\"gpu\":\"A100-SXM-40GB\",\"gpus\":8}]}");
    r = run_cli(NULL, "place", plan_path, "--nodes", small, NULL);
    assert_int_equal(r.status, 3);
    assert_non_null(strstr(r.err, "no room"));
    cli_result_free(&r);
    r = run_cli(NULL, "place", "--nodes", nodes_path, NULL);
    assert_int_equal(r.status, 2);
    cli_result_free(&r);
}


static void test_whatif_cli(void **state)
{
    (void)state;
    char job[1024], trace[1024], scen[1024];
    snprintf(job, sizeof job, "%s", test_data("whatif/job_small.json"));
    snprintf(trace, sizeof trace, "%s", test_data("whatif/trace_small.csv"));
    snprintf(scen, sizeof scen, "%s", test_data("whatif/scenarios_small.json"));
    const char *svg = temp_path(4, ".svg"), *csv = temp_path(5, ".csv");
    cli_result r = run_cli(NULL, "whatif", job, "--trace", trace, "--svg", svg, "--csv", csv, "--json", NULL);
    assert_int_equal(r.status, 0);
    json_t *d = cli_json(&r);
    assert_non_null(json_object_get(json_object_get(d, "totals"), "migration_aware"));
    json_decref(d);
    cli_result_free(&r);
    FILE *f = fopen(svg, "r");
    assert_non_null(f);
    fclose(f);
    r = run_cli(NULL, "whatif", job, "--scenarios", scen, NULL);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "half A100"));
    cli_result_free(&r);
    const char *bad = temp_file(6, ".csv", "time_s,zone,gpu,count\n0,gcp:us-central1-a,A100-SXM-40GB,-1\n");
    r = run_cli(NULL, "whatif", job, "--trace", bad, NULL);
    assert_int_equal(r.status, 1);
    assert_non_null(strstr(r.err, "trace line 2"));
    cli_result_free(&r);
}

/* plan --current: the emitted document carries the keep/move decision. */
static void test_plan_current(void **state)
{
    (void)state;
    char job[1024];
    snprintf(job, sizeof job, "%s", test_data("whatif/job_small.json"));
    const char *av1 = temp_file(1, ".json", "{\"zones\":{\"gcp:us-central1-a\":{\"A100-SXM-40GB\":16}}}");
    const char *av2 = temp_file(2, ".json", "{\"zones\":{\"gcp:us-central1-a\":{\"A100-SXM-40GB\":16},"
                                            "\"gcp:us-central1-b\":{\"V100-SXM2-16GB\":16}}}");
    const char *run = temp_path(3, ".json"), *placed = temp_path(7, ".json");
    cli_result r = run_cli(NULL, "plan", job, "--availability", av1, "-o", run, NULL);
    assert_int_equal(r.status, 0);
    cli_result_free(&r);
    r = run_cli(NULL, "place", run, "-o", placed, NULL);
    assert_int_equal(r.status, 0);
    cli_result_free(&r);
    r = run_cli(NULL, "plan", job, "--availability", av2, "--current", placed, "--json", NULL);
    assert_int_equal(r.status, 0);
    json_t *d = cli_json(&r);
    json_t *rp = json_object_get(d, "replan");
    assert_non_null(rp);
    const char *dec = json_string_value(json_object_get(rp, "decision"));
    assert_true(strcmp(dec, "keep") == 0 || strcmp(dec, "move") == 0);
    assert_non_null(json_object_get(d, "placement"));
    json_decref(d);
    cli_result_free(&r);
    r = run_cli(NULL, "plan", job, "--availability", av2, "--current", placed, "--horizon-hours", "0.001", "--json", NULL);
    assert_int_equal(r.status, 0);
    d = cli_json(&r);
    assert_string_equal(json_string_value(json_object_get(json_object_get(d, "replan"), "decision")), "keep");
    json_decref(d);
    cli_result_free(&r);
}

int main(void)
{
    snprintf(plan_path, sizeof plan_path, "%s", test_data("plans/place_small.json"));
    snprintf(nodes_path, sizeof nodes_path, "%s", test_data("plans/place_nodes_small.json"));
    snprintf(serve_path, sizeof serve_path, "%s", test_data("plans/place_serving.json"));
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_place_json),
        cmocka_unit_test(test_place_current_and_table),
        cmocka_unit_test(test_place_synthesized_serving),
        cmocka_unit_test(test_place_pack),
        cmocka_unit_test(test_place_bad_input),
        cmocka_unit_test(test_whatif_cli),
        cmocka_unit_test(test_plan_current),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
