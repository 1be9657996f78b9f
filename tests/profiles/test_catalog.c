/* tests/profiles/test_catalog.c — the built-in catalog: loading, names, derived parameters,
 * network classes, export, file catalogs and corrupt files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "flotilla/flotilla.h"
#include "tests/common/testutil.h"

#include <math.h>
#include <stdio.h>
#include <sqlite3.h>
#include <string.h>
#include <unistd.h>

static fl_catalog *cat;

static int setup(void **state)
{
    (void)state;
    fl_error err;
    return fl_catalog_open(NULL, &cat, &err) == FL_OK ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    fl_catalog_free(cat);
    return 0;
}

static void test_builtin_has_required_rows(void **state)
{
    (void)state;
    static const char *gpus[] = {"V100-SXM2-16GB", "V100-SXM2-32GB", "T4-16GB", "A10G-24GB", "L4-24GB", "L40S-48GB",
                                 "A100-PCIE-40GB", "A100-SXM-40GB", "A100-SXM-80GB", "H100-PCIE-80GB",
                                 "H100-SXM-80GB", "H200-SXM-141GB", "GH200-96GB", "MI250X-128GB", "MI300X-192GB"};
    for (size_t i = 0; i < sizeof gpus / sizeof gpus[0]; i++)
        assert_true(fl_catalog_find_gpu(cat, gpus[i], "gpu", NULL) >= 0);
    static const char *models[] = {"opt-350m", "gpt3-1.3b", "gpt3-2.7b", "gpt3-6.7b", "gpt3-13b", "gpt3-175b",
                                   "gpt-neo-2.7b", "llama2-7b", "llama2-13b", "llama2-70b", "llama3-8b",
                                   "llama3-70b", "llama3-405b", "mixtral-8x7b"};
    for (size_t i = 0; i < sizeof models / sizeof models[0]; i++)
        assert_true(fl_catalog_find_model(cat, models[i], "model", NULL) >= 0);
    assert_true(fl_catalog_offering_count(cat) >= 150);
    assert_true(fl_catalog_zone_count(cat) >= 30);
    int clouds[4] = {0};
    static const char *cn[] = {"aws", "gcp", "azure", "lambda"};
    for (size_t i = 0; i < fl_catalog_offering_count(cat); i++) {
        const fl_offering *o = fl_catalog_offering(cat, i);
        assert_true(o->price_per_hour > 0);
        assert_true(o->gpus_per_instance >= 1 && o->gpus_per_instance <= 16);
        assert_true(o->gpu_index >= 0 && o->zone_index >= 0);
        assert_true(strlen(o->source) > 0);
        for (int c = 0; c < 4; c++)
            clouds[c] += strcmp(o->cloud, cn[c]) == 0;
    }
    for (int c = 0; c < 4; c++)
        assert_true(clouds[c] > 0);
}

static void test_aliases_case_insensitive(void **state)
{
    (void)state;
    int h = fl_catalog_find_gpu(cat, "H100-SXM-80GB", "gpu", NULL);
    assert_int_equal(fl_catalog_find_gpu(cat, "h100-sxm-80gb", "gpu", NULL), h);
    assert_int_equal(fl_catalog_find_gpu(cat, "NVIDIA H100 80GB HBM3", "gpu", NULL), h);
    assert_int_equal(fl_catalog_find_gpu(cat, "h100", "gpu", NULL), h);
    assert_int_equal(fl_catalog_find_model(cat, "LLAMA2-7B", "model", NULL),
                     fl_catalog_find_model(cat, "llama2-7b", "model", NULL));
    assert_true(fl_catalog_find_zone(cat, "gcp:us-central1-a", "zone", NULL) >= 0);
}

static void test_unknown_name_error_names_field(void **state)
{
    (void)state;
    fl_error err;
    fl_error_clear(&err);
    assert_int_equal(fl_catalog_find_gpu(cat, "H1000", "job.allow.gpus[0]", &err), -1);
    assert_int_equal(err.code, FL_ENOTFOUND);
    assert_string_equal(err.field, "job.allow.gpus[0]");
    assert_non_null(strstr(err.message, "H1000"));
    assert_non_null(strstr(err.message, "closest"));
    assert_int_equal(fl_catalog_find_zone(cat, "mars:olympus-1", "zone", &err), -1);
    assert_non_null(strstr(err.message, "mars:olympus-1"));
}

/* Parameter counts derived from the shape match the published sizes. */
static void test_derived_params(void **state)
{
    (void)state;
    static const struct { const char *m; double params; double tol; } want[] = {
        {"gpt3-175b", 175e9, 0.02}, {"gpt3-13b", 13e9, 0.04}, {"gpt3-6.7b", 6.7e9, 0.04},
        {"gpt3-1.3b", 1.3e9, 0.06}, {"llama2-7b", 6.74e9, 0.01}, {"llama2-13b", 13.0e9, 0.01},
        {"llama2-70b", 69.0e9, 0.01}, {"llama3-8b", 8.03e9, 0.01}, {"llama3-70b", 70.6e9, 0.01},
        {"llama3-405b", 405.8e9, 0.01}, {"mixtral-8x7b", 46.7e9, 0.01},
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        const fl_model *m = fl_catalog_model(cat, (size_t)fl_catalog_find_model(cat, want[i].m, "m", NULL));
        double rel = fabs(m->params - want[i].params) / want[i].params;
        if (rel > want[i].tol)
            fail_msg("%s: derived %.4g params, expected %.4g", want[i].m, m->params, want[i].params);
    }
    const fl_model *mx = fl_catalog_model(cat, (size_t)fl_catalog_find_model(cat, "mixtral-8x7b", "m", NULL));
    assert_true(fabs(mx->active_params - 12.9e9) / 12.9e9 < 0.02);
}

static void test_network_classes(void **state)
{
    (void)state;
    int a = fl_catalog_find_zone(cat, "gcp:us-central1-a", "z", NULL);
    int b = fl_catalog_find_zone(cat, "gcp:us-central1-b", "z", NULL);
    int w = -1, eu = -1;
    for (size_t i = 0; i < fl_catalog_zone_count(cat); i++) {
        const fl_zone *z = fl_catalog_zone(cat, i);
        if (w < 0 && strcmp(z->cloud, "gcp") == 0 && strncmp(z->region, "us-west", 7) == 0) w = (int)i;
        if (eu < 0 && strcmp(z->cloud, "gcp") == 0 && strcmp(z->continent, "eu") == 0) eu = (int)i;
    }
    assert_true(a >= 0 && b >= 0 && w >= 0 && eu >= 0);
    fl_link same = fl_catalog_link(cat, a, a), region = fl_catalog_link(cat, a, b);
    fl_link cont = fl_catalog_link(cat, a, w), inter = fl_catalog_link(cat, a, eu);
    assert_int_equal(same.cls, FL_NET_SAME_ZONE);
    assert_int_equal(region.cls, FL_NET_SAME_REGION);
    assert_int_equal(cont.cls, FL_NET_SAME_CONTINENT);
    assert_int_equal(inter.cls, FL_NET_INTERCONTINENTAL);
    assert_true(same.bandwidth >= region.bandwidth);
    assert_true(region.bandwidth > cont.bandwidth);
    assert_true(inter.latency > region.latency);
    assert_true(inter.egress_per_gb > same.egress_per_gb);
}

static void test_export_roundtrip_csv(void **state)
{
    (void)state;
    char *csv = NULL;
    fl_error err;
    assert_int_equal(fl_catalog_export(cat, "gpus", 0, &csv, &err), FL_OK);
    assert_non_null(strstr(csv, "H100-SXM-80GB"));
    assert_true(strncmp(csv, "name,vendor,", 12) == 0);
    fl_free(csv);
    assert_int_equal(fl_catalog_export(cat, "bogus", 0, &csv, &err), FL_EINVAL);
    assert_null(csv);
}

static void test_file_catalog_created_and_reopened(void **state)
{
    (void)state;
    const char *path = temp_path(0, ".sqlite");
    fl_catalog *c1 = NULL, *c2 = NULL;
    fl_error err;
    assert_int_equal(fl_catalog_open(path, &c1, &err), FL_OK);
    assert_int_equal(access(path, F_OK), 0);
    size_t n = fl_catalog_offering_count(c1);
    fl_catalog_free(c1);
    assert_int_equal(fl_catalog_open(path, &c2, &err), FL_OK);
    assert_int_equal(fl_catalog_offering_count(c2), n);
    assert_int_equal(fl_catalog_schema_version(c2), 2);
    fl_catalog_free(c2);
    unlink(path);
}

/* A catalog written by schema version 1 (no model/tp/oom/row columns on measured rows, no declared
 * network on nodes) is migrated when opened, keeps its rows and takes v2 rows afterwards. */
static void test_schema_v1_migrated(void **state)
{
    (void)state;
    const char *path = temp_path(2, ".sqlite");
    fl_catalog *c = NULL;
    fl_error err;
    fl_error_clear(&err);
    assert_int_equal(fl_catalog_open(path, &c, &err), FL_OK);
    fl_catalog_free(c);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "ALTER TABLE measured DROP COLUMN model; ALTER TABLE measured DROP COLUMN tp;"
                                  "ALTER TABLE measured DROP COLUMN oom; ALTER TABLE measured DROP COLUMN row;"
                                  "ALTER TABLE nodes DROP COLUMN nic_bw_bytes_per_s;"
                                  "ALTER TABLE nodes DROP COLUMN nic_latency_s; ALTER TABLE nodes DROP COLUMN link_type;"
                                  "ALTER TABLE nodes DROP COLUMN link_bw_bytes_per_s;"
                                  "INSERT INTO measured(gpu, kind, m, n, k, seconds, source)"
                                  " VALUES('H100-SXM-80GB', 'gemm', 64, 64, 64, 0.001, 'old.jsonl:1');"
                                  "PRAGMA user_version=1;", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    if (fl_catalog_open(path, &c, &err))
        fail_msg("%s", err.message);
    assert_int_equal(fl_catalog_measured_count(c), 1);
    const fl_measured *m = fl_catalog_measured(c, 0);
    assert_int_equal(m->tp, 1);
    assert_int_equal(m->oom, 0);
    assert_null(m->json);
    assert_int_equal(m->m, 64);
    fl_catalog_free(c);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(st, 0), 2);
    sqlite3_finalize(st);
    sqlite3_close(db);
    unlink(path);
}

static void test_corrupt_catalog_rejected(void **state)
{
    (void)state;
    const char *path = temp_file(1, ".sqlite", "this is not an sqlite database, just text\n");
    fl_catalog *c = NULL;
    fl_error err;
    fl_error_clear(&err);
    assert_int_equal(fl_catalog_open(path, &c, &err), FL_ECATALOG);
    assert_null(c);
    assert_non_null(strstr(err.message, "not a flotilla catalog"));
    unlink(path);
}

static void test_misuse(void **state)
{
    (void)state;
    fl_error err;
    assert_int_equal(fl_catalog_open(NULL, NULL, &err), FL_EMISUSE);
    assert_null(fl_catalog_gpu(cat, 100000));
    assert_int_equal(fl_catalog_gpu_count(NULL), 0);
    fl_catalog_free(NULL);
    assert_int_equal(fl_catalog_find_gpu(NULL, "h100", "gpu", &err), -1);
    assert_int_equal(err.code, FL_EMISUSE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_builtin_has_required_rows),
        cmocka_unit_test(test_aliases_case_insensitive),
        cmocka_unit_test(test_unknown_name_error_names_field),
        cmocka_unit_test(test_derived_params),
        cmocka_unit_test(test_network_classes),
        cmocka_unit_test(test_export_roundtrip_csv),
        cmocka_unit_test(test_file_catalog_created_and_reopened),
        cmocka_unit_test(test_schema_v1_migrated),
        cmocka_unit_test(test_corrupt_catalog_rejected),
        cmocka_unit_test(test_misuse),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
