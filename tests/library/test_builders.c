/* tests/library/test_builders.c — jobs built in code: constructors, fl_job_set by dotted path,
 * validation errors leave the job unchanged, and a built job plans like its JSON twin. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "flotilla/flotilla.h"

#include <string.h>

static fl_catalog *cat;

static void test_training_builder(void **state)
{
    (void)state;
    fl_job *job = NULL;
    fl_error err;
    assert_int_equal(fl_job_new_training(cat, "gpt3-1.3b", 128, 2048, &job, &err), FL_OK);
    assert_int_equal(fl_job_get_kind(job), FL_JOB_TRAINING);
    assert_int_equal(fl_job_set(job, "budget_per_hour", "60", &err), FL_OK);
    assert_int_equal(fl_job_set(job, "allow.gpus", "[\"A100-SXM-40GB\"]", &err), FL_OK);
    char *s = fl_job_to_json(job);
    assert_non_null(strstr(s, "\"budget_per_hour\": 60"));
    assert_non_null(strstr(s, "A100-SXM-40GB"));
    fl_free(s);
    /* a bad value is rejected, names the field and leaves the job as it was */
    fl_error_clear(&err);
    assert_int_equal(fl_job_set(job, "zero_stage", "7", &err), FL_EINVAL);
    assert_string_equal(err.field, "job.zero_stage");
    assert_int_equal(fl_job_set(job, "allow.gpus", "[\"B9000\"]", &err), FL_ENOTFOUND);
    assert_int_equal(fl_job_set(job, "budget_per_hour", "not json", &err), FL_EPARSE);
    assert_int_equal(fl_job_set(job, "a..b", "1", &err), FL_EINVAL);
    s = fl_job_to_json(job);
    assert_null(strstr(s, "B9000"));
    assert_null(strstr(s, "zero_stage\": 7"));
    fl_free(s);
    /* it plans */
    fl_availability *av = NULL;
    assert_int_equal(fl_availability_new(cat, &av, &err), FL_OK);
    assert_int_equal(fl_availability_set(av, "gcp:us-central1-a", "A100-SXM-40GB", 16, &err), FL_OK);
    fl_plan *plan = NULL;
    if (fl_plan_job(cat, job, av, NULL, &plan, &err))
        fail_msg("plan: %s", err.message);
    fl_plan_summary sum;
    assert_int_equal(fl_plan_get_summary(plan, &sum, &err), FL_OK);
    assert_true(sum.fits && sum.gpus > 0 && sum.gpus <= 16 && sum.cost_per_hour <= 60.0);
    fl_plan_free(plan);
    fl_availability_free(av);
    fl_job_free(job);
    fl_thread_cleanup();
}

static void test_serving_builder(void **state)
{
    (void)state;
    fl_job *job = NULL;
    fl_error err;
    assert_int_equal(fl_job_new_serving(cat, "llama3-8b", 5.0, 512, 128, &job, &err), FL_OK);
    assert_int_equal(fl_job_get_kind(job), FL_JOB_SERVING);
    assert_int_equal(fl_job_set(job, "slo.tpot_p90_s", "0.05", &err), FL_OK);
    char *s = fl_job_to_json(job);
    assert_non_null(strstr(s, "\"tpot_p90_s\": 0.05"));
    fl_free(s);
    fl_job_free(job);
    assert_int_equal(fl_job_new_serving(cat, "llama3-8b", -1.0, 512, 128, &job, &err), FL_EINVAL);
    assert_null(job);
    assert_int_equal(fl_job_new_training(cat, "nope", 8, 2048, &job, &err), FL_ENOTFOUND);
    assert_int_equal(fl_job_new_training(cat, NULL, 8, 2048, &job, &err), FL_EMISUSE);
    assert_int_equal(fl_job_set(NULL, "x", "1", &err), FL_EMISUSE);
}

int main(void)
{
    if (fl_catalog_open(NULL, &cat, NULL))
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_training_builder),
        cmocka_unit_test(test_serving_builder),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    fl_catalog_free(cat);
    return rc;
}
