/* tests/e2e/test_onprem_cli.c — an on-prem cluster of a GPU type the built-in catalog does not
 * have, end to end: `profiles import --gpus` (examples/gpus/rtx3090.csv), nvidia-smi XML of that
 * product into an on-prem zone with a declared NIC, a training plan on it simulated with a
 * 10 Gb/s and a 400 Gb/s NIC (the data-parallel all-reduce must follow), the zone-pair network
 * CSV, and the bad inputs of the new options. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/common/testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static json_t *json_of(cli_result *r)
{
    if (r->status != 0)
        fail_msg("exit %d, stderr: %s", r->status, r->err);
    json_t *j = cli_json(r);
    if (!j)
        fail_msg("stdout is not JSON: %.200s", r->out);
    return j;
}

static const char *example(const char *rel)
{
    static char buf[1024];
    const char *root = getenv("FLOTILLA_SOURCE_ROOT");
    snprintf(buf, sizeof buf, "%s/%s", root ? root : ".", rel);
    return buf;
}

/* 8 data-parallel replicas of opt-350m on two 4-GPU nodes: the all-reduce crosses the NIC. */
static const char *plan_text =
    "{\"kind\": \"training\", \"model\": \"opt-350m\",\n"
    " \"job\": {\"global_batch\": 64, \"seq_len\": 2048, \"precision\": {\"compute\": \"bf16\", \"master_weights\": "
    "\"fp32\", \"grads\": \"fp32\"}, \"optimizer\": \"adam\", \"attention\": \"flash\"},\n"
    " \"parallelism\": {\"micro_batch\": 2, \"schedule\": \"1f1b\", \"recompute\": \"none\", \"zero_stage\": 0,\n"
    "  \"pipelines\": [{\"replicas\": 8, \"micro_batches\": 4, \"stages\": [{\"layers\": [0, 24], \"gpu\": "
    "\"rtx3090\", \"zone\": \"onprem:lab\", \"tp\": 1}]}]}}\n";

/* Import both nodes with a NIC of `gbps` and simulate the plan; returns iteration and all-reduce s. */
static void nodes_and_simulate(const char *cat, const char *plan, const char *gbps, double *iter, double *ar)
{
    char xml[1024];
    snprintf(xml, sizeof xml, "%s", test_data("nvidia-smi-q-x.rtx3090-4gpu.xml"));
    for (int i = 1; i <= 2; i++) {
        char node[8];
        snprintf(node, sizeof node, "n%d", i);
        cli_result r = run_cli(NULL, "profiles", "import", "--catalog", cat, "--nvidia-smi", xml, "--zone",
                               "onprem:lab", "--node", node, "--nic-gbps", gbps, "--nic-latency-us", "5", "--json", NULL);
        json_t *j = json_of(&r);
        assert_string_equal(json_string_value(json_object_get(j, "gpu")), "RTX-3090-24GB");
        assert_int_equal(json_integer_value(json_object_get(j, "gpus")), 4);
        json_decref(j);
        cli_result_free(&r);
    }
    cli_result r = run_cli(NULL, "simulate", plan, "--catalog", cat, "--json", NULL);
    json_t *j = json_of(&r);
    json_t *sim = json_object_get(j, "simulation");
    assert_true(json_is_true(json_object_get(sim, "fits")));
    *iter = json_number_value(json_object_get(sim, "iteration_s"));
    *ar = json_number_value(json_object_get(sim, "dp_allreduce_s"));
    json_decref(j);
    cli_result_free(&r);
}

static void test_rtx3090_cluster(void **state)
{
    (void)state;
    char cat[256], plan[256];
    snprintf(cat, sizeof cat, "%s", temp_path(0, ".sqlite"));
    snprintf(plan, sizeof plan, "%s", temp_file(1, ".json", plan_text));
    cli_result r = run_cli(NULL, "profiles", "import", "--catalog", cat, "--gpus", example("examples/gpus/rtx3090.csv"),
                           NULL);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "imported 2 GPU type rows"));
    cli_result_free(&r);
    r = run_cli(NULL, "profiles", "show", "NVIDIA GeForce RTX 3090", "--catalog", cat, "--json", NULL);
    json_t *j = json_of(&r);
    assert_string_equal(json_string_value(json_object_get(j, "name")), "RTX-3090-24GB");
    json_decref(j);
    cli_result_free(&r);
    /* the new type answers estimates like a built-in one */
    r = run_cli(NULL, "estimate", "--gpu", "rtx3090", "--model", "opt-350m", "--phase", "train", "--batch", "2",
                "--seq", "2048", "--catalog", cat, "--json", NULL);
    j = json_of(&r);
    json_decref(j);
    cli_result_free(&r);
    /* the same plan with a 10 Gb/s and a 400 Gb/s declared NIC */
    double it10, ar10, it400, ar400;
    nodes_and_simulate(cat, plan, "10", &it10, &ar10);
    nodes_and_simulate(cat, plan, "400", &it400, &ar400);
    print_message("opt-350m dp=8 on 2x4 RTX 3090: 10 Gb/s iteration %.3f s (all-reduce %.4f s); "
                  "400 Gb/s %.3f s (%.4f s)\n", it10, ar10, it400, ar400);
    assert_true(ar10 > 0 && ar400 > 0);
    assert_true(ar10 > 10 * ar400); /* 40x the bandwidth: bandwidth-bound ring */
    assert_true(it10 > it400);
    /* the exported gpus table is itself a valid --gpus file (the two new types included) */
    r = run_cli(NULL, "profiles", "export", "gpus", "--catalog", cat, NULL);
    assert_int_equal(r.status, 0);
    char exported[256], fresh[256];
    snprintf(exported, sizeof exported, "%s", temp_file(7, ".csv", r.out));
    cli_result_free(&r);
    snprintf(fresh, sizeof fresh, "%s", temp_path(6, ".sqlite"));
    r = run_cli(NULL, "profiles", "import", "--catalog", fresh, "--gpus", exported, NULL);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "imported 18 GPU type rows")); /* 16 built-in + 2 new */
    cli_result_free(&r);
    unlink(fresh);
    unlink(exported);
    /* the nodes listed with their declared NIC */
    r = run_cli(NULL, "profiles", "export", "nodes", "--catalog", cat, NULL);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "nic_bw_bytes_per_s"));
    assert_non_null(strstr(r.out, "50000000000"));
    cli_result_free(&r);
    unlink(cat);
}

static void test_network_csv_cli(void **state)
{
    (void)state;
    char cat[256];
    snprintf(cat, sizeof cat, "%s", temp_path(2, ".sqlite"));
    cli_result r = run_cli(NULL, "profiles", "import", "--catalog", cat, "--nvidia-smi",
                           test_data("nvidia-smi-q-x.h100-sxm-80gb.xml"), "--zone", "onprem:lab", "--node", "h1", NULL);
    assert_int_equal(r.status, 0);
    cli_result_free(&r);
    const char *csv = temp_file(3, ".csv", "zone_a,zone_b,bandwidth_bytes_per_s,latency_s,egress_per_gb,source\n"
                                           "onprem:lab,gcp:us-central1-a,1.25e9,0.002,0,leased line\n");
    r = run_cli(NULL, "profiles", "import", "--catalog", cat, "--network", csv, NULL);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "imported 1 zone-pair network rows"));
    cli_result_free(&r);
    const char *bad = temp_file(4, ".csv", "zone_a,zone_b,bandwidth_bytes_per_s,source\nonprem:lab,onprem:mars,1e9,x\n");
    r = run_cli(NULL, "profiles", "import", "--catalog", cat, "--network", bad, NULL);
    assert_int_equal(r.status, 1);
    assert_non_null(strstr(r.err, "line 2, column zone_b"));
    cli_result_free(&r);
    unlink(cat);
}

static void test_bad_options(void **state)
{
    (void)state;
    char cat[256], xml[1024];
    snprintf(cat, sizeof cat, "%s", temp_path(5, ".sqlite"));
    snprintf(xml, sizeof xml, "%s", test_data("nvidia-smi-q-x.h100-sxm-80gb.xml"));
    static const struct { const char *opt, *val, *needle; } bad[] = {
        {"--nic-gbps", "fast", "--nic-gbps 'fast'"},
        {"--nic-gbps", "0", "--nic-gbps '0'"},
        {"--nic-gbps", "-10", "positive"},
        {"--link", "infiniband", "--link 'infiniband'"},
        {"--link-gbps", "1e9", "--link-gbps"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        cli_result r = run_cli(NULL, "profiles", "import", "--catalog", cat, "--nvidia-smi", xml, bad[i].opt,
                               bad[i].val, NULL);
        assert_int_equal(r.status, 2);
        if (!strstr(r.err, bad[i].needle))
            fail_msg("case %zu: '%s' not in %s", i, bad[i].needle, r.err);
        assert_int_not_equal(access(cat, F_OK), 0); /* nothing created */
        cli_result_free(&r);
    }
    cli_result r = run_cli(NULL, "profiles", "import", "--catalog", cat, "--nvidia-smi", xml, "--nic-latency-us", "5",
                           NULL);
    assert_int_equal(r.status, 2);
    assert_non_null(strstr(r.err, "--nic-latency-us goes with --nic-gbps"));
    cli_result_free(&r);
    r = run_cli(NULL, "profiles", "import", "--catalog", cat, "--gpus", xml, "--nic-gbps", "10", NULL);
    assert_int_equal(r.status, 2);
    cli_result_free(&r);
    r = run_cli(NULL, "profiles", "import", "--catalog", cat, "--nvidia-smi", xml, "--link", "xgmi", NULL);
    assert_int_equal(r.status, 1); /* H100 has no xGMI figure to default to */
    assert_non_null(strstr(r.err, "give the xGMI bandwidth"));
    cli_result_free(&r);
    /* a GPU CSV with a unit slip: one error naming file, line and column; the new catalog removed */
    const char *csv = temp_file(6, ".csv", "name,vendor,memory_bytes,hbm_bw_bytes_per_s,fp16_flops,fp32_flops,link_type,"
                                           "link_bw_bytes_per_s,source\nX1,Acme,24,9e11,7e13,3.5e13,PCIe,3.2e10,d\n");
    r = run_cli(NULL, "profiles", "import", "--catalog", cat, "--gpus", csv, NULL);
    assert_int_equal(r.status, 1);
    assert_non_null(strstr(r.err, csv));
    assert_non_null(strstr(r.err, "line 2, column memory_bytes"));
    assert_int_not_equal(access(cat, F_OK), 0);
    cli_result_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rtx3090_cluster),
        cmocka_unit_test(test_network_csv_cli),
        cmocka_unit_test(test_bad_options),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
