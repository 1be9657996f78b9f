/* tests/e2e/test_owned_cli.c — owned capacity end to end (issue 13): an availability entry for a
 * GPU the zone does not sell, with its own price and node size, is planned (and the plan
 * simulates and places); without them it is refused; owned capacity at price 0 wins a min-cost
 * plan over rented capacity; on-prem nodes from `profiles import --nvidia-smi` are plannable at
 * their --price-per-gpu-hour; the availability round trip keeps the owned fields. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/common/testutil.h"
#include "flotilla/flotilla.h"

#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *JOB = "{\"kind\":\"training\",\"model\":\"opt-350m\",\"global_batch\":64,\"seq_len\":2048}";

static json_t *json_of(cli_result *r)
{
    if (r->status != 0)
        fail_msg("exit %d, stderr: %s", r->status, r->err);
    json_t *j = cli_json(r);
    if (!j)
        fail_msg("stdout is not JSON: %.200s", r->out);
    return j;
}

/* GPUs the plan's resources rent of `gpu` with "owned": true at `price` $/h per GPU (-1: any
 * price), and GPUs rented otherwise (*rented). */
static long owned_gpus(json_t *plan, const char *gpu, double price, long *rented)
{
    long n = 0;
    *rented = 0;
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(plan, "resources"), i, r) {
        long g = (long)(json_integer_value(json_object_get(r, "instances")) *
                        json_integer_value(json_object_get(r, "gpus_per_instance")));
        if (!json_is_true(json_object_get(r, "owned"))) {
            *rented += g;
            continue;
        }
        assert_string_equal(json_string_value(json_object_get(r, "gpu")), gpu);
        assert_non_null(strstr(json_string_value(json_object_get(r, "instance_type")), "owned-"));
        double per_gpu = json_number_value(json_object_get(r, "price_per_hour")) /
                         (double)json_integer_value(json_object_get(r, "gpus_per_instance"));
        if (price >= 0)
            assert_true(fabs(per_gpu - price) < 1e-9);
        n += g;
    }
    return n;
}

/* 16 owned GH200 (1 per node, $3.20/GPU-h) in a GCP zone that sells no GH200: planned, at that
 * price, and the plan simulates and places. */
static void test_owned_gh200(void **state)
{
    (void)state;
    char job[256], av[256], plan[256];
    snprintf(job, sizeof job, "%s", temp_file(0, ".json", JOB));
    snprintf(av, sizeof av, "%s", temp_file(1, ".json", "{\"zones\": {\"gcp:us-central1-a\": {\"GH200\": "
                                                       "{\"count\": 16, \"price_per_gpu_hour\": 3.2, \"gpus_per_node\": 1}}}}"));
    snprintf(plan, sizeof plan, "%s", temp_path(2, ".json"));
    cli_result r = run_cli(NULL, "plan", job, "--availability", av, "--json", "-o", plan, NULL);
    assert_int_equal(r.status, 0);
    cli_result_free(&r);
    r = run_cli(NULL, "simulate", plan, "--json", NULL);
    json_t *j = json_of(&r);
    long rented, owned = owned_gpus(j, "GH200-96GB", 3.2, &rented);
    assert_true(owned > 0 && owned <= 16);
    assert_int_equal(rented, 0);
    json_t *sim = json_object_get(j, "simulation");
    assert_true(json_number_value(json_object_get(sim, "tokens_per_s")) > 0);
    /* the cost is the owned GPUs at their price */
    assert_true(fabs(json_number_value(json_object_get(sim, "cost_per_hour")) - 3.2 * (double)owned) < 1e-6);
    json_decref(j);
    cli_result_free(&r);
    r = run_cli(NULL, "place", plan, "--json", NULL);
    j = json_of(&r);
    json_decref(j);
    cli_result_free(&r);
    unlink(plan);
}

/* The same GPU without price and node size: refused, naming zone, GPU and the missing fields. */
static void test_unsold_refused(void **state)
{
    (void)state;
    char job[256], av[256];
    snprintf(job, sizeof job, "%s", temp_file(0, ".json", JOB));
    snprintf(av, sizeof av, "%s", temp_file(1, ".json", "{\"zones\": {\"gcp:us-central1-a\": {\"GH200\": 16, "
                                                       "\"A100-SXM-40GB\": 16}}}"));
    cli_result r = run_cli(NULL, "plan", job, "--availability", av, "--json", NULL);
    assert_int_equal(r.status, 1);
    assert_string_equal(r.out, "");
    assert_non_null(strstr(r.err, "zones.gcp:us-central1-a.GH200"));
    assert_non_null(strstr(r.err, "does not sell GH200-96GB"));
    assert_non_null(strstr(r.err, "price_per_gpu_hour"));
    assert_non_null(strstr(r.err, "gpus_per_node"));
    cli_result_free(&r);
}

/* min_cost over a throughput floor: 8 owned GH200 at price 0 in one zone and 16 rented A100 in
 * another; the plan uses the free capacity only, and at a price above the rented one it does not. */
static void test_free_owned_preferred(void **state)
{
    (void)state;
    char job[256], av[256];
    snprintf(job, sizeof job, "%s", temp_file(0, ".json", "{\"kind\":\"training\",\"model\":\"opt-350m\","
                                                          "\"global_batch\":64,\"seq_len\":2048,\"objective\":"
                                                          "\"min_cost\",\"min_tokens_per_s\":100000}"));
    for (int expensive = 0; expensive < 2; expensive++) {
        char text[512];
        snprintf(text, sizeof text,
                 "{\"zones\": {\"gcp:us-central1-a\": {\"A100-SXM-40GB\": 16}, \"gcp:us-central1-b\": {\"GH200\": "
                 "{\"count\": 8, \"price_per_gpu_hour\": %s, \"gpus_per_node\": 1}}}}", expensive ? "500" : "0");
        snprintf(av, sizeof av, "%s", temp_file(1, ".json", text));
        cli_result r = run_cli(NULL, "plan", job, "--availability", av, "--json", NULL);
        json_t *j = json_of(&r);
        long rented, owned = owned_gpus(j, "GH200-96GB", expensive ? 500 : 0, &rented);
        double cph = json_number_value(json_object_get(json_object_get(j, "simulation"), "cost_per_hour"));
        assert_true(json_number_value(json_object_get(json_object_get(j, "simulation"), "tokens_per_s")) >= 100000);
        if (!expensive) {
            assert_true(owned > 0);
            assert_int_equal(rented, 0);
            assert_true(cph == 0);
        } else {
            assert_int_equal(owned, 0);
            assert_true(rented > 0 && cph > 0);
        }
        json_decref(j);
        cli_result_free(&r);
    }
}

/* Two on-prem H100 nodes from nvidia-smi XML, one priced: `flotilla plan` rents them as owned
 * capacity at the highest price of the zone's nodes. */
static void test_onprem_plan(void **state)
{
    (void)state;
    char cat[256], job[256];
    snprintf(cat, sizeof cat, "%s", temp_path(3, ".sqlite"));
    snprintf(job, sizeof job, "%s", temp_file(0, ".json", "{\"kind\":\"training\",\"model\":\"opt-350m\","
                                                          "\"global_batch\":64,\"seq_len\":2048,"
                                                          "\"allow\":{\"zones\":[\"onprem:lab\"]}}"));
    /* before any node: nothing to plan in that zone */
    const char *xml = test_data("nvidia-smi-q-x.h100-sxm-80gb.xml");
    char xmlp[1024];
    snprintf(xmlp, sizeof xmlp, "%s", xml);
    cli_result r = run_cli(NULL, "profiles", "import", "--catalog", cat, "--nvidia-smi", xmlp, "--zone", "onprem:lab",
                           "--node", "n1", "--price-per-gpu-hour", "1.5", NULL);
    assert_int_equal(r.status, 0);
    cli_result_free(&r);
    r = run_cli(NULL, "profiles", "import", "--catalog", cat, "--nvidia-smi", xmlp, "--zone", "onprem:lab", "--node",
                "n2", NULL);
    assert_int_equal(r.status, 0);
    cli_result_free(&r);
    r = run_cli(NULL, "plan", job, "--catalog", cat, "--json", NULL);
    json_t *j = json_of(&r);
    long rented, owned = owned_gpus(j, "H100-SXM-80GB", 1.5, &rented);
    assert_int_equal(rented, 0);
    assert_true(owned >= 1 && owned <= 2);
    json_t *res = json_array_get(json_object_get(j, "resources"), 0);
    assert_string_equal(json_string_value(json_object_get(res, "zone")), "onprem:lab");
    assert_string_equal(json_string_value(json_object_get(res, "instance_type")), "owned-H100-SXM-80GB-x1");
    json_decref(j);
    cli_result_free(&r);
    /* an availability naming the on-prem zone is no longer refused (its nodes supply it) */
    char av[256];
    snprintf(av, sizeof av, "%s", temp_file(1, ".json", "{\"zones\": {\"onprem:lab\": {\"H100-SXM-80GB\": 1}}}"));
    r = run_cli(NULL, "plan", job, "--catalog", cat, "--availability", av, "--json", NULL);
    j = json_of(&r);
    owned = owned_gpus(j, "H100-SXM-80GB", 1.5, &rented);
    assert_int_equal(owned, 1);
    json_decref(j);
    cli_result_free(&r);
    unlink(cat);
}

/* Tokens/s and $/h of `flotilla plan JOB --availability (text)`. */
static void plan_figures(const char *job, const char *avail, double *tps, double *cph)
{
    char av[256];
    snprintf(av, sizeof av, "%s", temp_file(5, ".json", avail));
    cli_result r = run_cli(NULL, "plan", job, "--availability", av, "--json", NULL);
    json_t *j = json_of(&r);
    json_t *sim = json_object_get(j, "simulation");
    *tps = json_number_value(json_object_get(sim, "tokens_per_s"));
    *cph = json_number_value(json_object_get(sim, "cost_per_hour"));
    json_decref(j);
    cli_result_free(&r);
}

/* An owned entry with the catalog's own price and node size (lambda sells GH200 as 1-GPU
 * instances at $2.29/h) plans exactly as the catalog offering it replaces. */
static void test_owned_equals_catalog(void **state)
{
    (void)state;
    char job[256];
    snprintf(job, sizeof job, "%s", temp_file(0, ".json", JOB));
    double t1, c1, t2, c2;
    plan_figures(job, "{\"zones\": {\"lambda:asia-northeast-1\": {\"GH200\": 8, \"A100-PCIE-40GB\": 16}}}", &t1, &c1);
    plan_figures(job, "{\"zones\": {\"lambda:asia-northeast-1\": {\"GH200\": {\"count\": 8, \"price_per_gpu_hour\": 2.29, "
                      "\"gpus_per_node\": 1}, \"A100-PCIE-40GB\": 16}}}", &t2, &c2);
    print_message("catalog GH200: %.0f tokens/s $%.2f/h; owned at the same price: %.0f tokens/s $%.2f/h\n", t1, c1, t2, c2);
    assert_true(t1 > 0 && c1 > 0);
    assert_true(fabs(t1 - t2) <= 1e-9 * t1 && fabs(c1 - c2) <= 1e-9 * c1);
}

/* A what-if replay over a trace that changes the owned count: every event is planned. */
static void test_owned_whatif(void **state)
{
    (void)state;
    char job[256], av[256], trace[256];
    snprintf(job, sizeof job, "%s", temp_file(0, ".json", JOB));
    snprintf(av, sizeof av, "%s", temp_file(1, ".json", "{\"zones\": {\"gcp:us-central1-a\": {\"GH200\": "
                                                       "{\"count\": 16, \"price_per_gpu_hour\": 3.2, \"gpus_per_node\": 1}, "
                                                       "\"A100-SXM-40GB\": 16}}}"));
    snprintf(trace, sizeof trace, "%s", temp_file(2, ".csv", "time_s,zone,gpu,count\n3600,gcp:us-central1-a,GH200,8\n"
                                                             "7200,gcp:us-central1-a,GH200,0\n"));
    cli_result r = run_cli(NULL, "whatif", job, "--trace", trace, "--availability", av, "--threads", "1", "--json", NULL);
    json_t *j = json_of(&r);
    assert_int_equal(json_integer_value(json_object_get(j, "events")), 2);
    assert_int_equal(json_integer_value(json_object_get(j, "infeasible_events")), 0);
    assert_int_equal(json_integer_value(json_object_get(j, "planner_calls")), 2);
    json_decref(j);
    cli_result_free(&r);
}

/* A catalog from before owned capacity (no nodes.price_per_gpu_hour column): its nodes plan at
 * price 0, and the next priced import adds the column. */
static void test_old_catalog(void **state)
{
    (void)state;
    char cat[256], job[256], xmlp[1024];
    snprintf(cat, sizeof cat, "%s", temp_path(4, ".sqlite"));
    snprintf(job, sizeof job, "%s", temp_file(0, ".json", "{\"kind\":\"training\",\"model\":\"opt-350m\","
                                                          "\"global_batch\":64,\"seq_len\":2048,"
                                                          "\"allow\":{\"zones\":[\"onprem:lab\"]}}"));
    snprintf(xmlp, sizeof xmlp, "%s", test_data("nvidia-smi-q-x.h100-sxm-80gb.xml"));
    cli_result r = run_cli(NULL, "profiles", "import", "--catalog", cat, "--nvidia-smi", xmlp, "--zone", "onprem:lab",
                           "--node", "n1", "--price-per-gpu-hour", "7", NULL);
    assert_int_equal(r.status, 0);
    cli_result_free(&r);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(cat, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "ALTER TABLE nodes DROP COLUMN price_per_gpu_hour", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    r = run_cli(NULL, "plan", job, "--catalog", cat, "--json", NULL);
    json_t *j = json_of(&r);
    long rented, owned = owned_gpus(j, "H100-SXM-80GB", 0, &rented);
    assert_int_equal(owned, 1);
    json_decref(j);
    cli_result_free(&r);
    r = run_cli(NULL, "profiles", "import", "--catalog", cat, "--nvidia-smi", xmlp, "--zone", "onprem:lab", "--node",
                "n2", "--price-per-gpu-hour", "2", NULL);
    assert_int_equal(r.status, 0);
    cli_result_free(&r);
    r = run_cli(NULL, "plan", job, "--catalog", cat, "--json", NULL);
    j = json_of(&r);
    owned = owned_gpus(j, "H100-SXM-80GB", 2, &rented);
    assert_int_equal(owned, 2);
    json_decref(j);
    cli_result_free(&r);
    unlink(cat);
}

/* The library round trip keeps the owned fields; fl_availability_set_owned checks them. */
static void test_round_trip(void **state)
{
    (void)state;
    fl_catalog *cat = NULL;
    fl_error err;
    assert_int_equal(fl_catalog_open(NULL, &cat, &err), FL_OK);
    fl_availability *av = NULL, *back = NULL;
    const char *in = "{\"zones\": {\"gcp:us-central1-a\": {\"GH200\": {\"count\": 16, \"price_per_gpu_hour\": 0.1, "
                     "\"gpus_per_node\": 4}, \"A100-SXM-40GB\": 8}}}";
    assert_int_equal(fl_availability_from_json(cat, in, &av, &err), FL_OK);
    char *js = fl_availability_to_json(av);
    assert_non_null(strstr(js, "price_per_gpu_hour"));
    assert_int_equal(fl_availability_from_json(cat, js, &back, &err), FL_OK);
    char *js2 = fl_availability_to_json(back);
    assert_string_equal(js, js2);
    int z = fl_catalog_find_zone(cat, "gcp:us-central1-a", NULL, NULL), g = fl_catalog_find_gpu(cat, "GH200", NULL, NULL);
    assert_int_equal(fl_availability_get(back, z, g), 16);
    assert_int_equal(fl_availability_set_owned(back, "gcp:us-central1-a", "GH200", 8, NAN, 1, &err), FL_EINVAL);
    assert_non_null(strstr(err.field, "price_per_gpu_hour"));
    assert_int_equal(fl_availability_set_owned(back, "gcp:us-central1-a", "GH200", 8, 1, 0, &err), FL_EINVAL);
    assert_non_null(strstr(err.field, "gpus_per_node"));
    fl_free(js);
    fl_free(js2);
    fl_availability_free(av);
    fl_availability_free(back);
    fl_catalog_free(cat);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_owned_gh200),         cmocka_unit_test(test_unsold_refused),
        cmocka_unit_test(test_free_owned_preferred), cmocka_unit_test(test_onprem_plan),
        cmocka_unit_test(test_round_trip),          cmocka_unit_test(test_owned_equals_catalog),
        cmocka_unit_test(test_owned_whatif),        cmocka_unit_test(test_old_catalog),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
