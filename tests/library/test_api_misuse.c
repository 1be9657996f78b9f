/* tests/library/test_api_misuse.c — defined errors for API misuse: NULL handles and outputs,
 * JSON of the wrong kind, buffers too small, freeing NULL. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "flotilla/flotilla.h"

#include <string.h>

static fl_catalog *cat;

static void test_null_handles(void **state)
{
    (void)state;
    fl_error err;
    fl_job *job = NULL;
    fl_plan *plan = NULL;
    fl_availability *av = NULL;
    assert_int_equal(fl_job_from_json(NULL, "{}", &job, &err), FL_EMISUSE);
    assert_int_equal(fl_job_from_json(cat, "{}", NULL, &err), FL_EMISUSE);
    assert_int_equal(fl_job_from_json(cat, NULL, &job, &err), FL_EMISUSE);
    assert_int_equal(fl_plan_job(cat, NULL, NULL, NULL, &plan, &err), FL_EMISUSE);
    assert_string_equal(err.field, "job");
    assert_int_equal(fl_plan_job(NULL, NULL, NULL, NULL, &plan, &err), FL_EMISUSE);
    assert_int_equal(fl_plan_job(cat, NULL, NULL, NULL, NULL, &err), FL_EMISUSE);
    assert_int_equal(fl_plan_simulate(cat, NULL, &err), FL_EMISUSE);
    assert_int_equal(fl_plan_from_json(NULL, "{}", &plan, &err), FL_EMISUSE);
    assert_int_equal(fl_availability_new(NULL, &av, &err), FL_EMISUSE);
    assert_int_equal(fl_availability_set(NULL, "z", "g", 1, &err), FL_EMISUSE);
    assert_int_equal(fl_plan_get_summary(NULL, NULL, &err), FL_EMISUSE);
    assert_int_equal(fl_estimate(cat, NULL, NULL, &err), FL_EMISUSE);
    assert_null(fl_plan_to_json(NULL, 1));
    assert_null(fl_job_to_json(NULL));
    assert_null(fl_availability_clone(NULL));
    assert_int_equal(fl_plan_alternative_count(NULL), 0);
    assert_null(fl_plan_alternative(NULL, 0));
    /* a NULL error pointer is allowed everywhere */
    assert_int_equal(fl_job_from_json(cat, "not json", &job, NULL), FL_EPARSE);
    /* freeing NULL is a no-op */
    fl_job_free(NULL);
    fl_plan_free(NULL);
    fl_availability_free(NULL);
    fl_catalog_free(NULL);
    fl_free(NULL);
}

static void test_wrong_kind_of_json(void **state)
{
    (void)state;
    fl_error err;
    fl_plan *plan = NULL;
    /* a job is not a plan */
    assert_int_equal(fl_plan_from_json(cat, "{\"kind\":\"training\",\"model\":\"gpt3-1.3b\",\"global_batch\":8}",
                                       &plan, &err), FL_EINVAL);
    assert_null(plan);
    assert_true(strlen(err.field) > 0);
    /* an availability is not a plan, a plan kind must be known */
    assert_int_equal(fl_plan_from_json(cat, "{\"zones\":{}}", &plan, &err), FL_EINVAL);
    assert_string_equal(err.field, "plan.kind");
    assert_int_equal(fl_plan_from_json(cat, "[]", &plan, &err), FL_EINVAL);
    /* a plan is not an availability */
    fl_availability *av = NULL;
    assert_int_equal(fl_availability_from_json(cat, "{\"kind\":\"training\"}", &av, &err), FL_EINVAL);
    assert_null(av);
}

static void test_error_strings(void **state)
{
    (void)state;
    for (int s = FL_OK; s <= FL_EGRAPH; s++)
        assert_true(strlen(fl_status_str((fl_status)s)) > 0);
    assert_string_equal(fl_status_str((fl_status)999), "unknown status");
    fl_error err;
    strcpy(err.message, "x");
    fl_error_clear(&err);
    assert_int_equal(err.code, FL_OK);
    assert_string_equal(err.message, "");
}

static void test_buffer_too_small(void **state)
{
    (void)state;
    fl_error err;
    fl_plan *plan = NULL;
    /* a hand-written serving or training plan is needed; use the smallest valid training plan */
    const char *doc =
        "{\"kind\":\"training\",\"model\":\"gpt3-1.3b\",\"job\":{\"global_batch\":8,\"seq_len\":2048},"
        "\"resources\":[{\"cloud\":\"gcp\",\"zone\":\"gcp:us-central1-a\",\"instance_type\":\"a2-highgpu-1g\","
        "\"gpu\":\"A100-SXM-40GB\",\"gpus_per_instance\":1,\"instances\":1,\"price_per_hour\":3.0,\"spot\":false}],"
        "\"parallelism\":{\"micro_batch\":1,\"schedule\":\"1f1b\",\"recompute\":\"full\",\"zero_stage\":0,"
        "\"pipelines\":[{\"replicas\":1,\"micro_batches\":8,\"stages\":[{\"layers\":[0,24],"
        "\"gpu\":\"A100-SXM-40GB\",\"zone\":\"gcp:us-central1-a\",\"tp\":1}]}]}}";
    if (fl_plan_from_json(cat, doc, &plan, &err) != FL_OK)
        fail_msg("valid plan rejected: %s", err.message);
    char small[8];
    size_t need = 0;
    assert_int_equal(fl_plan_json_into(plan, 0, small, sizeof small, &need, &err), FL_ERANGE);
    assert_true(need > sizeof small);
    assert_string_equal(small, "");
    char *big = test_malloc(need);
    assert_int_equal(fl_plan_json_into(plan, 0, big, need, NULL, &err), FL_OK);
    assert_non_null(strstr(big, "\"training\""));
    test_free(big);
    assert_int_equal(fl_plan_json_into(NULL, 0, small, sizeof small, NULL, &err), FL_EMISUSE);
    fl_plan_free(plan);
}

/* The error names the field as a JSON path a scheduler can act on, and nothing is returned. */
static void test_error_fields(void **state)
{
    (void)state;
    static const struct { const char *doc; fl_status code; const char *field; } bad[] = {
        /* a stage on a GPU type the resources do not rent */
        {"{\"kind\":\"training\",\"model\":\"gpt3-1.3b\",\"job\":{\"global_batch\":8},\"resources\":[{\"zone\":"
         "\"gcp:us-central1-a\",\"gpu\":\"V100-SXM2-16GB\",\"gpus_per_instance\":8,\"instances\":1}],"
         "\"parallelism\":{\"micro_batch\":1,\"pipelines\":[{\"replicas\":1,\"micro_batches\":8,\"stages\":[{"
         "\"layers\":[0,24],\"gpu\":\"A100-SXM-40GB\",\"zone\":\"gcp:us-central1-a\",\"tp\":1}]}]}}",
         FL_EINVAL, "plan.parallelism.pipelines[0].stages[0]"},
        /* more interleaved chunks than layers in a stage */
        {"{\"kind\":\"training\",\"model\":\"gpt3-1.3b\",\"job\":{\"global_batch\":8},\"parallelism\":{"
         "\"micro_batch\":1,\"schedule\":\"interleaved\",\"chunks\":30,\"pipelines\":[{\"replicas\":1,"
         "\"micro_batches\":8,\"stages\":[{\"layers\":[0,24],\"gpu\":\"A100-SXM-40GB\",\"zone\":"
         "\"gcp:us-central1-a\",\"tp\":1}]}]}}",
         FL_EINVAL, "plan.parallelism.chunks"},
        /* an absurd count is out of range, not wrapped around */
        {"{\"kind\":\"training\",\"model\":\"gpt3-1.3b\",\"parallelism\":{\"micro_batch\":1,\"pipelines\":[{"
         "\"replicas\":1,\"micro_batches\":8,\"stages\":[{\"layers\":[0,24],\"gpu\":\"A100-SXM-40GB\",\"zone\":"
         "\"gcp:us-central1-a\",\"tp\":4294967297}]}]}}",
         FL_EINVAL, "plan.parallelism.pipelines[0].stages[0].tp"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        fl_plan *plan = NULL;
        fl_error err;
        fl_error_clear(&err);
        fl_status st = fl_plan_from_json(cat, bad[i].doc, &plan, &err);
        if (st != bad[i].code || strcmp(err.field, bad[i].field) != 0)
            fail_msg("case %zu: got %d field '%s' (%s)", i, st, err.field, err.message);
        assert_null(plan);
    }
    /* unknown names suggest the closest one, aliases included ("h1000" is near alias "h100") */
    fl_error err;
    fl_error_clear(&err);
    fl_estimate_query q;
    fl_estimate_query_init(&q);
    q.gpu = "h1000";
    q.model = "gpt3-1.3b";
    q.phase = FL_PHASE_TRAIN;
    fl_estimate_result res;
    assert_int_equal(fl_estimate(cat, &q, &res, &err), FL_ENOTFOUND);
    assert_non_null(strstr(err.message, "closest: H100-SXM-80GB"));
}

int main(void)
{
    if (fl_catalog_open(NULL, &cat, NULL))
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_null_handles),
        cmocka_unit_test(test_wrong_kind_of_json),
        cmocka_unit_test(test_error_strings),
        cmocka_unit_test(test_buffer_too_small),
        cmocka_unit_test(test_error_fields),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    fl_catalog_free(cat);
    return rc;
}
