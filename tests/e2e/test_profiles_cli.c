/* tests/e2e/test_profiles_cli.c — `flotilla profiles` end to end: list/show on the built-in
 * catalog, the three importers into a catalog file, and the error exits. */
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

/* Run the CLI and parse stdout as JSON; fails the test on a non-zero exit or bad JSON. */
static json_t *json_of(cli_result *r)
{
    if (r->status != 0)
        fail_msg("exit %d, stderr: %s", r->status, r->err);
    json_t *j = cli_json(r);
    if (!j)
        fail_msg("stdout is not JSON: %.200s", r->out);
    return j;
}

static void test_list_gpus_json(void **state)
{
    (void)state;
    cli_result r = run_cli(NULL, "profiles", "list", "gpus", "--json", NULL);
    json_t *j = json_of(&r);
    assert_true(json_is_array(j));
    assert_int_equal(json_array_size(j), 16); /* 16 since A100-PCIE-80GB (issue 17) */
    int h100 = 0;
    size_t i;
    json_t *g;
    json_array_foreach(j, i, g) h100 += strcmp(json_string_value(json_object_get(g, "name")), "H100-SXM-80GB") == 0;
    assert_int_equal(h100, 1);
    json_decref(j);
    cli_result_free(&r);
}

static void test_show_alias(void **state)
{
    (void)state;
    cli_result r = run_cli(NULL, "profiles", "show", "h100", NULL);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "H100-SXM-80GB"));
    cli_result_free(&r);
    r = run_cli(NULL, "profiles", "show", "NVIDIA H100 80GB HBM3", "--json", NULL);
    json_t *j = json_of(&r);
    assert_string_equal(json_string_value(json_object_get(j, "name")), "H100-SXM-80GB");
    json_decref(j);
    cli_result_free(&r);
}

static void test_import_nvidia_smi(void **state)
{
    (void)state;
    char cat[256], xml[1024];
    snprintf(cat, sizeof cat, "%s", temp_path(0, ".sqlite"));
    snprintf(xml, sizeof xml, "%s", test_data("nvidia-smi-q-x.h100-sxm-80gb.xml"));
    cli_result r = run_cli(NULL, "profiles", "import", "--catalog", cat, "--nvidia-smi", xml, "--node", "lab-h100",
                           "--zone", "onprem:lab", NULL);
    if (r.status != 0)
        fail_msg("exit %d: %s", r.status, r.err);
    assert_non_null(strstr(r.out, "lab-h100"));
    cli_result_free(&r);
    r = run_cli(NULL, "profiles", "list", "nodes", "--catalog", cat, "--json", NULL);
    json_t *j = json_of(&r);
    assert_int_equal(json_array_size(j), 1);
    json_t *n = json_array_get(j, 0);
    assert_string_equal(json_string_value(json_object_get(n, "name")), "lab-h100");
    assert_string_equal(json_string_value(json_object_get(n, "gpu")), "H100-SXM-80GB");
    assert_string_equal(json_string_value(json_object_get(n, "zone")), "onprem:lab");
    assert_int_equal(json_integer_value(json_object_get(n, "gpu_count")), 1);
    json_decref(j);
    cli_result_free(&r);
    /* the new on-prem zone is listed */
    r = run_cli(NULL, "profiles", "show", "onprem:lab", "--catalog", cat, "--json", NULL);
    j = json_of(&r);
    assert_string_equal(json_string_value(json_object_get(j, "cloud")), "onprem");
    json_decref(j);
    cli_result_free(&r);
    unlink(cat);
}

static void test_import_offerings_and_measured(void **state)
{
    (void)state;
    char cat[256], csv[1024], jsonl[1024];
    snprintf(cat, sizeof cat, "%s", temp_path(1, ".sqlite"));
    snprintf(csv, sizeof csv, "%s", test_data("catalogs/azure-gpu-vms.csv"));
    snprintf(jsonl, sizeof jsonl, "%s", test_data("h100-sxm-80gb.layers.jsonl"));
    cli_result r = run_cli(NULL, "profiles", "import", "--catalog", cat, "--offerings", csv, "--json", NULL);
    json_t *j = json_of(&r);
    assert_int_equal(json_integer_value(json_object_get(j, "rows")), 101); /* data/offerings.csv azure rows */
    json_decref(j);
    cli_result_free(&r);
    r = run_cli(NULL, "profiles", "list", "offerings", "--catalog", cat, "--json", NULL);
    j = json_of(&r);
    size_t azure = 0, i;
    json_t *o;
    json_array_foreach(j, i, o) azure += strcmp(json_string_value(json_object_get(o, "cloud")), "azure") == 0;
    assert_int_equal(azure, 101);
    assert_int_equal(json_array_size(j), 1189);
    json_decref(j);
    cli_result_free(&r);
    r = run_cli(NULL, "profiles", "import", "--catalog", cat, "--measured", jsonl, NULL);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "39"));
    cli_result_free(&r);
    r = run_cli(NULL, "profiles", "list", "measured", "--catalog", cat, NULL);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "H100-SXM-80GB"));
    assert_non_null(strstr(r.out, "layer"));
    cli_result_free(&r);
    r = run_cli(NULL, "profiles", "list", "measured", "--catalog", cat, "--json", NULL);
    j = json_of(&r);
    assert_int_equal(json_array_size(j), 39);
    json_decref(j);
    cli_result_free(&r);
    /* our own export layout is not SkyPilot's: re-importing it is refused with a clear message */
    char exp[256];
    snprintf(exp, sizeof exp, "%s", temp_path(2, ".csv"));
    r = run_cli(NULL, "profiles", "export", "offerings", "--catalog", cat, "-o", exp, NULL);
    assert_int_equal(r.status, 0);
    cli_result_free(&r);
    r = run_cli(NULL, "profiles", "import", "--catalog", cat, "--offerings", exp, NULL);
    assert_int_not_equal(r.status, 0);
    assert_non_null(strstr(r.err, "missing required column"));
    cli_result_free(&r);
    unlink(exp);
    unlink(cat);
}

static void test_import_errors(void **state)
{
    (void)state;
    char xml[1024];
    snprintf(xml, sizeof xml, "%s", test_data("nvidia-smi-q-x.h100-sxm-80gb.xml"));
    unsetenv("FLOTILLA_CATALOG");
    cli_result r = run_cli(NULL, "profiles", "import", "--nvidia-smi", xml, NULL);
    assert_int_equal(r.status, 2);
    assert_non_null(strstr(r.err, "--catalog"));
    cli_result_free(&r);
    /* unknown GPU in the XML: non-zero exit naming the product, catalog unchanged */
    FILE *f = fopen(xml, "rb");
    assert_non_null(f);
    char *text = calloc(1, 1 << 16);
    size_t n = fread(text, 1, (1 << 16) - 1, f);
    fclose(f);
    assert_true(n > 1000);
    char *p = strstr(text, "NVIDIA H100 80GB HBM3");
    assert_non_null(p);
    memcpy(p, "NVIDIA Q900 80GB HBM3", 21);
    const char *bad = temp_file(3, ".xml", text);
    free(text);
    char cat[256];
    snprintf(cat, sizeof cat, "%s", temp_path(4, ".sqlite"));
    r = run_cli(NULL, "profiles", "import", "--catalog", cat, "--nvidia-smi", bad, NULL);
    assert_int_not_equal(r.status, 0);
    assert_non_null(strstr(r.err, "NVIDIA Q900 80GB HBM3"));
    cli_result_free(&r);
    r = run_cli(NULL, "profiles", "list", "nodes", "--catalog", cat, "--json", NULL);
    json_t *j = json_of(&r);
    assert_int_equal(json_array_size(j), 0);
    json_decref(j);
    cli_result_free(&r);
    /* malformed measured line: exit non-zero with the line number */
    const char *m = temp_file(5, ".jsonl", "{\"kind\": \"env\", \"gpu\": \"h100\"}\n{\"kind\": \"gemm\",\n");
    r = run_cli(NULL, "profiles", "import", "--catalog", cat, "--measured", m, NULL);
    assert_int_not_equal(r.status, 0);
    assert_non_null(strstr(r.err, "line 2"));
    cli_result_free(&r);
    unlink(bad);
    unlink(m);
    unlink(cat);
}

static void test_corrupt_catalog(void **state)
{
    (void)state;
    const char *cat = temp_file(6, ".sqlite", "definitely not an SQLite catalog\n");
    cli_result r = run_cli(NULL, "profiles", "list", "gpus", "--catalog", cat, NULL);
    assert_int_not_equal(r.status, 0);
    assert_non_null(strstr(r.err, cat));
    assert_non_null(strstr(r.err, "not a flotilla catalog"));
    cli_result_free(&r);
    r = run_cli(NULL, "profiles", "import", "--catalog", cat, "--measured", test_data("h100-sxm-80gb.layers.jsonl"),
                NULL);
    assert_int_not_equal(r.status, 0);
    assert_non_null(strstr(r.err, "not a flotilla catalog"));
    cli_result_free(&r);
    unlink(cat);
}

/* Import the shared H100 files, then `profiles calibrate`: the table and the JSON report, with the
 * fitted torch-amp figures and every row's leave-one-out residual; a plan simulated against that
 * catalog says its figures are calibrated. */
static void test_calibrate(void **state)
{
    (void)state;
    char cat[256];
    snprintf(cat, sizeof cat, "%s", temp_path(5, ".sqlite"));
    char models[512], layers[512];
    snprintf(models, sizeof models, "%s", test_data("calibration/h100-sxm-80gb.models.jsonl"));
    snprintf(layers, sizeof layers, "%s", test_data("calibration/h100-sxm-80gb.layers.jsonl"));
    cli_result r = run_cli(NULL, "profiles", "import", "--catalog", cat, "--measured", models, NULL);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "imported 40 measured rows"));
    cli_result_free(&r);
    r = run_cli(NULL, "profiles", "import", "--catalog", cat, "--measured", layers, NULL);
    assert_int_equal(r.status, 0);
    cli_result_free(&r);
    r = run_cli(NULL, "profiles", "calibrate", "--catalog", cat, NULL);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "framework torch-amp (fitted)"));
    assert_non_null(strstr(r.out, "leave-one-model-out median"));
    assert_non_null(strstr(r.out, "out-of-memory right 24 of 24"));
    cli_result_free(&r);
    r = run_cli(NULL, "profiles", "calibrate", "--catalog", cat, "--framework", "torch-amp", "--gpu",
                "NVIDIA H100 80GB HBM3", "--json", NULL);
    json_t *j = json_of(&r);
    json_t *fw = json_array_get(json_object_get(json_object_get(j, "training"), "frameworks"), 0);
    assert_string_equal(json_string_value(json_object_get(fw, "framework")), "torch-amp");
    assert_int_equal(json_array_size(json_object_get(fw, "rows")), 24);
    json_t *row = json_array_get(json_object_get(fw, "rows"), 0);
    assert_non_null(json_object_get(row, "loo_residual"));
    assert_true(json_number_value(json_object_get(json_object_get(fw, "params"), "launch_fwd_s")) > 0);
    /* the serving engines the prefill and decode rows were measured with, refit */
    json_t *eng = json_object_get(json_object_get(j, "serving"), "engines");
    assert_int_equal(json_array_size(eng), 2);
    json_decref(j);
    cli_result_free(&r);
    /* the built-in catalog has no rows: defaults, nothing fitted */
    r = run_cli(NULL, "profiles", "calibrate", NULL);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "0 rows"));
    cli_result_free(&r);
    /* a one-GPU torch-amp plan of a model shape that is not in the files: calibrated figures */
    const char *plan = "{\"kind\":\"training\",\"model\":{\"name\":\"gpt-760m\",\"layers\":24,\"hidden\":1536,"
                       "\"heads\":16,\"kv_heads\":16,\"ffn\":6144,\"vocab\":50304,\"activation\":\"gelu\","
                       "\"tied_embeddings\":false,\"positional\":\"learned\",\"max_positions\":4096},"
                       "\"job\":{\"seq_len\":2048,\"global_batch\":8,\"framework\":\"torch-amp\",\"optimizer\":\"adamw\"},"
                       "\"parallelism\":{\"micro_batch\":4,\"pipelines\":[{\"replicas\":1,\"micro_batches\":2,"
                       "\"stages\":[{\"layers\":[0,24],\"gpu\":\"H100-SXM-80GB\",\"zone\":\"gcp:us-central1-a\",\"tp\":1}]}]}}";
    const char *pf = temp_file(6, ".json", plan);
    r = run_cli(NULL, "simulate", pf, "--catalog", cat, "--json", NULL);
    j = json_of(&r);
    json_t *sim = json_object_get(j, "simulation");
    assert_string_equal(json_string_value(json_object_get(sim, "time_source")), "calibrated");
    json_t *st = json_array_get(json_object_get(sim, "stages"), 0);
    double alloc = json_number_value(json_object_get(st, "allocated_bytes"));
    double resv = json_number_value(json_object_get(st, "reserved_bytes"));
    assert_true(alloc > 16 * 0.7e9 && resv >= alloc && json_number_value(json_object_get(st, "peak_memory_bytes")) > resv);
    double it = json_number_value(json_object_get(sim, "iteration_s"));
    assert_true(it > 0.1 && it < 1.0);
    json_decref(j);
    cli_result_free(&r);
    r = run_cli(NULL, "simulate", pf, "--json", NULL); /* built-in catalog: analytic */
    j = json_of(&r);
    assert_string_equal(json_string_value(json_object_get(json_object_get(j, "simulation"), "time_source")),
                        "analytic");
    json_decref(j);
    cli_result_free(&r);
    unlink(pf);
    unlink(cat);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_calibrate),
        cmocka_unit_test(test_list_gpus_json),
        cmocka_unit_test(test_show_alias),
        cmocka_unit_test(test_import_nvidia_smi),
        cmocka_unit_test(test_import_offerings_and_measured),
        cmocka_unit_test(test_import_errors),
        cmocka_unit_test(test_corrupt_catalog),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
