/* tests/matching/test_whatif.c — what-if replay and scenarios, trace errors (with line numbers),
 * and the keep/move rule of migration-aware replanning. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "flotilla/flotilla.h"
#include "matching/replan.h"
#include "tests/common/testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static fl_catalog *cat;
static fl_job *job;

static char *slurp(const char *name)
{
    FILE *f = fopen(test_data(name), "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
    b[n] = 0;
    fclose(f);
    return b;
}

static int setup(void **state)
{
    (void)state;
    fl_error err;
    if (fl_catalog_open(NULL, &cat, &err) != FL_OK)
        return -1;
    char *j = slurp("whatif/job_small.json");
    fl_status rc = fl_job_from_json(cat, j, &job, &err);
    free(j);
    return rc == FL_OK ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    fl_job_free(job);
    fl_catalog_free(cat);
    return 0;
}

static void expect_trace_error(const char *csv, fl_status code, const char *field, const char *needle)
{
    fl_whatif_report *r = NULL;
    fl_error err;
    fl_error_clear(&err);
    assert_int_equal(fl_whatif_replay(cat, job, NULL, csv, NULL, &r, &err), code);
    assert_null(r);
    assert_string_equal(err.field, field);
    assert_non_null(strstr(err.message, needle));
}

static void test_trace_errors(void **state)
{
    (void)state;
    expect_trace_error("time_s,zone,gpu,count\n0,gcp:us-central1-a,A100-SXM-40GB,8\n5,gcp:us-central1-a,A100-SXM-40GB,-3\n",
                       FL_EINVAL, "trace line 3", "must be >= 0");
    expect_trace_error("time_s,zone,gpu,count\n10,gcp:us-central1-a,A100-SXM-40GB,8\n5,gcp:us-central1-a,A100-SXM-40GB,3\n",
                       FL_EINVAL, "trace line 3", "before the previous row");
    expect_trace_error("time_s,zone,gpu,count\n# comment\n0,moon:base-1,A100-SXM-40GB,8\n", FL_ENOTFOUND,
                       "trace line 3", "unknown zone 'moon:base-1'");
    expect_trace_error("time_s,zone,gpu,count\n0,gcp:us-central1-a,Z9000,8\n", FL_ENOTFOUND, "trace line 2",
                       "unknown GPU");
    expect_trace_error("time,zone,gpu\n0,gcp:us-central1-a,A100-SXM-40GB,8\n", FL_EPARSE, "trace line 1", "header");
    expect_trace_error("time_s,zone,gpu,count\n0,gcp:us-central1-a,A100-SXM-40GB\n", FL_EPARSE, "trace line 2",
                       "4 fields");
    expect_trace_error("time_s,zone,gpu,count\n", FL_EINVAL, "trace", "no rows");
}

static void test_replay_small(void **state)
{
    (void)state;
    char *csv = slurp("whatif/trace_small.csv");
    fl_whatif_report *r = NULL;
    fl_error err;
    assert_int_equal(fl_whatif_replay(cat, job, NULL, csv, NULL, &r, &err), FL_OK);
    fl_whatif_totals aware, keep, always;
    assert_int_equal(fl_whatif_report_totals(r, "migration_aware", &aware, &err), FL_OK);
    assert_int_equal(fl_whatif_report_totals(r, "keep_first", &keep, &err), FL_OK);
    assert_int_equal(fl_whatif_report_totals(r, "replan_always", &always, &err), FL_OK);
    assert_int_equal(fl_whatif_report_totals(r, "nope", &keep, &err), FL_ENOTFOUND);
    assert_true(aware.work > 0 && keep.work > 0 && always.work > 0);
    /* the migration-aware policy trains at least as much as keeping the first plan here (max_throughput job),
       and never migrates more often than always replanning */
    assert_true(aware.work >= keep.work);
    assert_true(aware.migrations <= always.migrations);
    assert_true(keep.migrations >= 1); /* at t=3600 the A100s drop below the first plan: forced */
    char *js = fl_whatif_report_to_json(r, 0);
    json_t *d = json_loads(js, 0, NULL);
    assert_int_equal(json_integer_value(json_object_get(d, "events")), 4);
    assert_int_equal(json_array_size(json_object_get(d, "timeline")), 4);
    json_decref(d);
    char *csvo = fl_whatif_report_to_csv(r), *svg = fl_whatif_report_to_svg(r);
    assert_non_null(strstr(csvo, "time_s,policy,throughput"));
    assert_non_null(strstr(svg, "<polyline"));
    assert_non_null(strstr(svg, "</svg>"));
    fl_free(js);
    fl_free(csvo);
    fl_free(svg);
    fl_whatif_report_free(r);
    free(csv);
}

/* Rows about GPUs/zones the job may not use do not trigger replanning; repeated availability
 * comes from the cache. */
static void test_skip_and_cache(void **state)
{
    (void)state;
    const char *csv = "time_s,zone,gpu,count\n"
                      "0,gcp:us-central1-a,A100-SXM-40GB,16\n"
                      "100,aws:use1-az1,H100-SXM-80GB,8\n"
                      "200,gcp:us-central1-a,A100-SXM-40GB,8\n"
                      "300,gcp:us-central1-a,A100-SXM-40GB,16\n"
                      "400,gcp:us-central1-a,T4-16GB,4\n";
    fl_whatif_report *r = NULL;
    fl_error err;
    assert_int_equal(fl_whatif_replay(cat, job, NULL, csv, NULL, &r, &err), FL_OK);
    char *js = fl_whatif_report_to_json(r, 0);
    json_t *d = json_loads(js, 0, NULL);
    assert_int_equal(json_integer_value(json_object_get(d, "events")), 5);
    assert_int_equal(json_integer_value(json_object_get(d, "skipped_events")), 2);
    assert_int_equal(json_integer_value(json_object_get(d, "planner_calls")), 2);
    assert_int_equal(json_integer_value(json_object_get(d, "cache_hits")), 1);
    json_decref(d);
    fl_free(js);
    fl_whatif_report_free(r);
}

static void test_scenarios(void **state)
{
    (void)state;
    char *sc = slurp("whatif/scenarios_small.json");
    fl_whatif_report *r = NULL;
    fl_error err;
    assert_int_equal(fl_whatif_scenarios(cat, job, sc, NULL, &r, &err), FL_OK);
    char *js = fl_whatif_report_to_json(r, 0);
    json_t *d = json_loads(js, 0, NULL), *rows = json_object_get(d, "scenarios");
    assert_int_equal(json_array_size(rows), 4);
    double base = json_number_value(json_object_get(json_array_get(rows, 0), "throughput"));
    double half = json_number_value(json_object_get(json_array_get(rows, 1), "throughput"));
    assert_true(base > 0 && half > 0 && half <= base);
    assert_true(json_is_false(json_object_get(json_array_get(rows, 3), "feasible")));
    json_decref(d);
    fl_free(js);
    fl_whatif_report_free(r);
    free(sc);
    r = NULL;
    assert_int_equal(fl_whatif_scenarios(cat, job, "{\"scenarios\":[{\"name\":\"x\",\"remove_zones\":[\"nowhere:1\"]}]}",
                                         NULL, &r, &err), FL_ENOTFOUND);
    assert_string_equal(err.field, "scenarios[0].remove_zones[0]");
    assert_int_equal(fl_whatif_scenarios(cat, job, "{\"scenarios\":[{\"name\":\"x\"}]}", NULL, &r, &err), FL_EINVAL);
    assert_string_equal(err.field, "scenarios[0]");
    assert_null(r);
}

/* The keep/move rule: a small gain does not pay for a long migration over a short horizon; a
 * forced move always happens; an unchanged deployment is kept. */
static void test_move_rule(void **state)
{
    (void)state;
    fl_move_eval ev = {1000.0, 1100.0, 10.0, 10.0, 1};
    fl_migration mig;
    memset(&mig, 0, sizeof mig);
    mig.changed = 1;
    mig.migration_s = 600;
    fl_move_decision d;
    fl_move_decide(job, &ev, &mig, 24.0, &d); /* gain 100 tok/s * 24 h >> 600 s of 1000 tok/s */
    assert_int_equal(d.move, 1);
    fl_move_decide(job, &ev, &mig, 1.0, &d); /* 100*3600 - 1100*600 < 0 */
    assert_int_equal(d.move, 0);
    assert_true(d.gain_work < 0);
    ev.old_fits = 0;
    fl_move_decide(job, &ev, &mig, 1.0, &d);
    assert_int_equal(d.move, 1);
    mig.changed = 0;
    ev.old_fits = 1;
    fl_move_decide(job, &ev, &mig, 24.0, &d);
    assert_int_equal(d.move, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_trace_errors),
        cmocka_unit_test(test_replay_small),
        cmocka_unit_test(test_skip_and_cache),
        cmocka_unit_test(test_scenarios),
        cmocka_unit_test(test_move_rule),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
