/* tests/profiles/test_job.c — job and availability parsing: defaults and every bad input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "flotilla/flotilla.h"
#include "common/job.h"

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

static void test_training_job_defaults(void **state)
{
    (void)state;
    fl_job *job = NULL;
    fl_error err;
    /* keys starting with '_' are comments, not unknown fields */
    assert_int_equal(fl_job_from_json(cat, "{\"kind\":\"training\",\"model\":\"gpt3-1.3b\",\"global_batch\":256,"
                                      "\"_note\":\"mine\",\"allow\":{\"_why\":1}}", &job, &err), FL_OK);
    assert_int_equal(fl_job_get_kind(job), FL_JOB_TRAINING);
    assert_int_equal(job->seq_len, 2048);
    assert_int_equal(job->compute_dtype, FL_DT_BF16);
    assert_int_equal(job->master_weights, 1);
    assert_int_equal(job->flash, 1);
    assert_int_equal(job->objective, FL_OBJ_MAX_THROUGHPUT);
    assert_int_equal(job->model.layers, 24);
    fl_job_free(job);
}

static void test_inline_model(void **state)
{
    (void)state;
    fl_job *job = NULL;
    fl_error err;
    const char *j = "{\"kind\":\"training\",\"global_batch\":64,\"model\":{\"name\":\"x\",\"layers\":24,"
                    "\"hidden\":2048,\"heads\":16,\"kv_heads\":16,\"ffn\":8192,\"vocab\":50304,"
                    "\"activation\":\"gelu\",\"positional\":\"learned\",\"max_positions\":4096}}";
    assert_int_equal(fl_job_from_json(cat, j, &job, &err), FL_OK);
    assert_string_equal(job->model.name, "x");
    assert_true(job->model.params > 1.2e9 && job->model.params < 1.5e9);
    char *s = fl_job_to_json(job);
    assert_non_null(strstr(s, "\"params\""));
    fl_free(s);
    fl_job_free(job);
}

static void expect_error(const char *json, fl_status code, const char *field)
{
    fl_job *job = (fl_job *)0x1;
    fl_error err;
    fl_error_clear(&err);
    fl_status st = fl_job_from_json(cat, json, &job, &err);
    if (st != code || strcmp(err.field, field) != 0)
        fail_msg("for %s: got status %d field '%s' message '%s', expected %d '%s'", json, st, err.field, err.message,
                 code, field);
    assert_null(job);
    assert_true(strlen(err.message) > 0);
}

static void test_bad_jobs(void **state)
{
    (void)state;
    expect_error("{\"kind\":\"training\",", FL_EPARSE, "job");
    expect_error("[1,2]", FL_EINVAL, "job");
    expect_error("{\"model\":\"gpt3-1.3b\"}", FL_EINVAL, "job.kind");
    expect_error("{\"kind\":\"inference\",\"model\":\"gpt3-1.3b\"}", FL_EINVAL, "job.kind");
    expect_error("{\"kind\":\"training\",\"model\":\"gpt-9\",\"global_batch\":8}", FL_ENOTFOUND, "job.model");
    expect_error("{\"kind\":\"training\",\"global_batch\":8}", FL_EINVAL, "job.model");
    expect_error("{\"kind\":\"training\",\"model\":\"gpt3-1.3b\"}", FL_EINVAL, "job.global_batch");
    expect_error("{\"kind\":\"training\",\"model\":\"gpt3-1.3b\",\"global_batch\":-4}", FL_EINVAL, "job.global_batch");
    expect_error("{\"kind\":\"training\",\"model\":\"gpt3-1.3b\",\"global_batch\":8,\"seq_len\":\"long\"}", FL_EINVAL,
                 "job.seq_len");
    expect_error("{\"kind\":\"training\",\"model\":\"gpt3-1.3b\",\"global_batch\":8,\"zero_stage\":4}", FL_EINVAL,
                 "job.zero_stage");
    expect_error("{\"kind\":\"training\",\"model\":\"gpt3-1.3b\",\"global_batch\":8,\"recompute\":\"some\"}",
                 FL_EINVAL, "job.recompute");
    expect_error("{\"kind\":\"training\",\"model\":\"gpt3-1.3b\",\"global_batch\":8,\"budget_per_hour\":-1}",
                 FL_EINVAL, "job.budget_per_hour");
    expect_error("{\"kind\":\"training\",\"model\":\"gpt3-1.3b\",\"global_batch\":8,\"allow\":{\"gpus\":[\"Z9\"]}}",
                 FL_ENOTFOUND, "job.allow.gpus[0]");
    expect_error("{\"kind\":\"training\",\"model\":\"gpt3-1.3b\",\"global_batch\":8,\"allow\":{\"zones\":[\"x:y\"]}}",
                 FL_ENOTFOUND, "job.allow.zones[0]");
    expect_error("{\"kind\":\"training\",\"model\":\"gpt3-1.3b\",\"global_batch\":8,\"objective\":\"fastest\"}",
                 FL_EINVAL, "job.objective");
    expect_error("{\"kind\":\"training\",\"global_batch\":8,\"model\":{\"layers\":2,\"hidden\":100,\"heads\":3,"
                 "\"vocab\":10}}", FL_EINVAL, "job.model.heads");
    expect_error("{\"kind\":\"training\",\"global_batch\":8,\"model\":{\"layers\":2,\"hidden\":128,\"heads\":4,"
                 "\"kv_heads\":3,\"vocab\":10}}", FL_EINVAL, "job.model.kv_heads");
    expect_error("{\"kind\":\"training\",\"model\":\"gpt3-1.3b\",\"global_batch\":8,\"seq_len\":100000}", FL_EINVAL,
                 "job.seq_len");
}

static const char *serving_ok =
    "{\"kind\":\"serving\",\"model\":\"llama3-70b\",\"precision\":{\"compute\":\"bf16\"},"
    "\"workload\":{\"rate_rps\":20.0,\"classes\":[{\"input\":512,\"output\":256,\"share\":0.7},"
    "{\"input\":4096,\"output\":512,\"share\":0.3}]},\"slo\":{\"ttft_p90_s\":2.0,\"tpot_p90_s\":0.08},"
    "\"objective\":\"min_cost\",\"budget_per_hour\":200.0}";

static void test_serving_job(void **state)
{
    (void)state;
    fl_job *job = NULL;
    fl_error err;
    assert_int_equal(fl_job_from_json(cat, serving_ok, &job, &err), FL_OK);
    assert_int_equal(job->kind, FL_JOB_SERVING);
    assert_int_equal(job->n_serve_models, 1);
    assert_int_equal(job->serve[0].n_classes, 2);
    assert_true(job->serve[0].rate_rps == 20.0);
    assert_true(job->serve[0].tpot_p90_s == 0.08);
    assert_string_equal(job->serve[0].model.name, "llama3-70b");
    fl_job_free(job);
}

static void test_bad_serving_jobs(void **state)
{
    (void)state;
    expect_error("{\"kind\":\"serving\",\"model\":\"llama3-8b\",\"workload\":{\"rate_rps\":-2,\"classes\":"
                 "[{\"input\":5,\"output\":5}]}}", FL_EINVAL, "job.workload.rate_rps");
    expect_error("{\"kind\":\"serving\",\"model\":\"llama3-8b\",\"workload\":{\"rate_rps\":2,\"classes\":"
                 "[{\"input\":5,\"output\":5,\"share\":0.5},{\"input\":5,\"output\":5,\"share\":0.4}]}}", FL_EINVAL,
                 "job.workload.classes");
    expect_error("{\"kind\":\"serving\",\"model\":\"llama3-8b\"}", FL_EINVAL, "job.workload");
    expect_error("{\"kind\":\"serving\",\"model\":\"llama3-8b\",\"workload\":{\"rate_rps\":2,\"classes\":"
                 "[{\"input\":0,\"output\":5}]}}", FL_EINVAL, "job.workload.classes[0].input");
}

static void test_availability(void **state)
{
    (void)state;
    fl_availability *av = NULL;
    fl_error err;
    assert_int_equal(fl_availability_from_json(cat, "{\"zones\":{\"gcp:us-central1-a\":{\"A100-SXM-40GB\":64,"
                                                    "\"v100\":128}}}", &av, &err), FL_OK);
    int z = fl_catalog_find_zone(cat, "gcp:us-central1-a", "z", NULL);
    assert_int_equal(fl_availability_get(av, z, fl_catalog_find_gpu(cat, "A100-SXM-40GB", "g", NULL)), 64);
    assert_int_equal(fl_availability_get(av, z, fl_catalog_find_gpu(cat, "V100-SXM2-16GB", "g", NULL)), 128);
    assert_int_equal(fl_availability_get(av, z, fl_catalog_find_gpu(cat, "H100-SXM-80GB", "g", NULL)), 0);
    assert_true(fl_availability_is_limited(av));
    fl_availability *c = fl_availability_clone(av);
    assert_int_equal(fl_availability_set(c, "gcp:us-central1-a", "A100-SXM-40GB", 8, &err), FL_OK);
    assert_int_equal(fl_availability_get(c, z, fl_catalog_find_gpu(cat, "A100-SXM-40GB", "g", NULL)), 8);
    assert_int_equal(fl_availability_get(av, z, fl_catalog_find_gpu(cat, "A100-SXM-40GB", "g", NULL)), 64);
    assert_int_equal(fl_availability_set(c, "gcp:us-central1-a", "A100-SXM-40GB", -1, &err), FL_EINVAL);
    char *s = fl_availability_to_json(c);
    assert_non_null(strstr(s, "\"A100-SXM-40GB\": 8"));
    fl_free(s);
    fl_availability_free(c);
    fl_availability_free(av);
    fl_availability *fresh = NULL;
    assert_int_equal(fl_availability_new(cat, &fresh, &err), FL_OK);
    assert_int_equal(fl_availability_get(fresh, z, 0), -1);
    assert_false(fl_availability_is_limited(fresh));
    fl_availability_free(fresh);
}

static void test_bad_availability(void **state)
{
    (void)state;
    static const struct { const char *json; fl_status code; const char *field; } bad[] = {
        {"{\"zones\":{\"gcp:us-central1-a\":{\"A100-SXM-40GB\":-3}}}", FL_EINVAL, "zones.gcp:us-central1-a.A100-SXM-40GB"},
        {"{\"zones\":{\"gcp:nowhere\":{\"A100-SXM-40GB\":3}}}", FL_ENOTFOUND, "zones.gcp:nowhere"},
        {"{\"zones\":{\"gcp:us-central1-a\":{\"B9000\":3}}}", FL_ENOTFOUND, "zones.gcp:us-central1-a.B9000"},
        {"{\"zones\":{\"gcp:us-central1-a\":{\"A100-SXM-40GB\":2.5}}}", FL_EINVAL, "zones.gcp:us-central1-a.A100-SXM-40GB"},
        {"{\"zones\":{}}", FL_EINVAL, "zones"},
        {"{}", FL_EINVAL, "zones"},
        {"{\"zones\":", FL_EPARSE, "availability"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        fl_availability *av = NULL;
        fl_error err;
        fl_error_clear(&err);
        fl_status st = fl_availability_from_json(cat, bad[i].json, &av, &err);
        if (st != bad[i].code || strcmp(err.field, bad[i].field))
            fail_msg("%s: got %d '%s' (%s)", bad[i].json, st, err.field, err.message);
        assert_null(av);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_training_job_defaults), cmocka_unit_test(test_inline_model),
        cmocka_unit_test(test_bad_jobs),              cmocka_unit_test(test_serving_job),
        cmocka_unit_test(test_bad_serving_jobs),      cmocka_unit_test(test_availability),
        cmocka_unit_test(test_bad_availability),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
