/* Versioned option structs (docs/api.md): the INIT macros equal the init functions, and every
 * function taking a struct rejects version 0 (uninitialised) and a version newer than the
 * library with FL_EINVAL naming `<struct>.version`. */
#include <flotilla/flotilla.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>

#include <cmocka.h>

static fl_catalog *cat;
static fl_job *job;

/* The status is FL_EINVAL and err.field names the struct's version field. */
static void expect_version_error(fl_status st, const fl_error *err, const char *field)
{
    assert_int_equal(st, FL_EINVAL);
    assert_string_equal(err->field, field);
    assert_non_null(strstr(err->message, field));
}

static void test_init_macros_match_functions(void **state)
{
    (void)state;
    fl_plan_options p1 = FL_PLAN_OPTIONS_INIT, p2;
    fl_plan_options_init(&p2);
    assert_int_equal(p1.version, FL_PLAN_OPTIONS_VERSION);
    assert_int_equal(p2.version, FL_PLAN_OPTIONS_VERSION);
    assert_int_equal(p1.top_k, p2.top_k);
    assert_true(p1.time_limit_s == p2.time_limit_s);
    assert_int_equal(fl_plan_options_size(), sizeof(fl_plan_options));

    fl_estimate_query q1 = FL_ESTIMATE_QUERY_INIT, q2;
    fl_estimate_query_init(&q2);
    assert_int_equal(q1.version, FL_ESTIMATE_QUERY_VERSION);
    assert_int_equal(q2.version, FL_ESTIMATE_QUERY_VERSION);
    assert_int_equal(q1.phase, q2.phase);
    assert_int_equal(q1.tp, q2.tp);
    assert_int_equal(q1.pp, q2.pp);
    assert_int_equal(q1.batch, q2.batch);
    assert_int_equal(q1.seq, q2.seq);
    assert_int_equal(q1.context, q2.context);
    assert_string_equal(q1.dtype, q2.dtype);
    assert_string_equal(q1.recompute, q2.recompute);
    assert_int_equal(q1.flash, q2.flash);

    fl_place_options o1 = FL_PLACE_OPTIONS_INIT, o2;
    fl_place_options_init(&o2);
    assert_int_equal(o1.version, FL_PLACE_OPTIONS_VERSION);
    assert_int_equal(o2.version, FL_PLACE_OPTIONS_VERSION);
    assert_true(o1.restart_s == o2.restart_s);
    assert_true(o1.train_bytes_per_param == o2.train_bytes_per_param);
    assert_int_equal(o1.max_candidates, o2.max_candidates);
    assert_int_equal(o1.strict_nodes, o2.strict_nodes);

    fl_whatif_options w1 = FL_WHATIF_OPTIONS_INIT, w2;
    fl_whatif_options_init(&w2);
    assert_int_equal(w1.version, FL_WHATIF_OPTIONS_VERSION);
    assert_int_equal(w2.version, FL_WHATIF_OPTIONS_VERSION);
    assert_true(w1.restart_s == w2.restart_s);
    assert_true(w1.horizon_hours == w2.horizon_hours);
    assert_int_equal(w1.threads, w2.threads);
}

static void test_plan_options_version(void **state)
{
    (void)state;
    unsigned int bad[] = {0, FL_PLAN_OPTIONS_VERSION + 1};
    for (size_t i = 0; i < 2; i++) {
        fl_plan_options o = FL_PLAN_OPTIONS_INIT;
        o.version = bad[i];
        fl_plan *plan = NULL;
        fl_error err;
        expect_version_error(fl_plan_job(cat, job, NULL, &o, &plan, &err), &err, "fl_plan_options.version");
        assert_null(plan);
    }
}

static void test_estimate_query_version(void **state)
{
    (void)state;
    unsigned int bad[] = {0, FL_ESTIMATE_QUERY_VERSION + 1};
    for (size_t i = 0; i < 2; i++) {
        fl_estimate_query q = FL_ESTIMATE_QUERY_INIT;
        q.gpu = "H100-SXM-80GB";
        q.model = "gpt3-1.3b";
        q.version = bad[i];
        fl_estimate_result res;
        fl_error err;
        expect_version_error(fl_estimate(cat, &q, &res, &err), &err, "fl_estimate_query.version");
    }
    /* the macro-filled query is accepted */
    fl_estimate_query q = FL_ESTIMATE_QUERY_INIT;
    q.gpu = "H100-SXM-80GB";
    q.model = "gpt3-1.3b";
    fl_estimate_result res;
    fl_error err;
    assert_int_equal(fl_estimate(cat, &q, &res, &err), FL_OK);
    assert_true(res.seconds > 0);
}

static void test_place_options_version(void **state)
{
    (void)state;
    fl_nodes *nodes = NULL;
    fl_error err;
    const char *nodes_json =
        "{\"nodes\":[{\"id\":\"n1\",\"zone\":\"gcp:us-central1-a\",\"gpu\":\"A100-SXM-40GB\",\"gpus\":8}]}";
    assert_int_equal(fl_nodes_from_json(cat, nodes_json, &nodes, &err), FL_OK);
    unsigned int bad[] = {0, FL_PLACE_OPTIONS_VERSION + 1};
    const char *plans[] = {"{}"};
    for (size_t i = 0; i < 2; i++) {
        fl_place_options o = FL_PLACE_OPTIONS_INIT;
        o.version = bad[i];
        char **placed = NULL;
        expect_version_error(fl_place_pack_json(cat, plans, 1, nodes, &o, &placed, NULL, &err), &err,
                             "fl_place_options.version");
        assert_null(placed);
    }
    fl_nodes_free(nodes);
}

static void test_whatif_options_version(void **state)
{
    (void)state;
    unsigned int bad[] = {0, FL_WHATIF_OPTIONS_VERSION + 1};
    for (size_t i = 0; i < 2; i++) {
        fl_whatif_options o = FL_WHATIF_OPTIONS_INIT;
        o.version = bad[i];
        fl_whatif_report *rep = NULL;
        fl_error err;
        expect_version_error(fl_whatif_replay(cat, job, NULL, "time_s,zone,gpu,count\n", &o, &rep, &err), &err,
                             "fl_whatif_options.version");
        assert_null(rep);
        expect_version_error(fl_whatif_scenarios(cat, job, "{\"scenarios\":[]}", &o, &rep, &err), &err,
                             "fl_whatif_options.version");
        assert_null(rep);
    }
}

int main(void)
{
    fl_error err;
    if (fl_catalog_open(NULL, &cat, &err) ||
        fl_job_from_json(cat, "{\"kind\":\"training\",\"model\":\"gpt3-1.3b\",\"global_batch\":64}", &job, &err))
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_init_macros_match_functions),
        cmocka_unit_test(test_plan_options_version),
        cmocka_unit_test(test_estimate_query_version),
        cmocka_unit_test(test_place_options_version),
        cmocka_unit_test(test_whatif_options_version),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    fl_job_free(job);
    fl_catalog_free(cat);
    fl_thread_cleanup();
    return rc;
}
