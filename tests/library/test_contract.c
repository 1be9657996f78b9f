/* tests/library/test_contract.c — the C API contract on the reproducers of issue 14: every
 * failing call returns the code it stores in err, range checks on fl_estimate and
 * fl_catalog_open, availability round trips, and error messages never cut inside a character. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "flotilla/flotilla.h"
#include "common/utf8.h"
#include "common/error.h"
#include "tests/common/testutil.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static fl_catalog *cat;

/* The contents of tests/data/<name> (the test fails when it cannot be read). */
static char *data(const char *name)
{
    FILE *f = fopen(test_data(name), "rb");
    assert_non_null(f);
    char *b = calloc(1, 1 << 16);
    size_t n = fread(b, 1, (1 << 16) - 1, f);
    b[n] = '\0';
    fclose(f);
    return b;
}

/* A failing call: status as expected, equal to err.code, and a message that is valid UTF-8. */
static void check_fail(fl_status got, const fl_error *err, fl_status want, const char *needle)
{
    if (got != want || err->code != got || !strstr(err->message, needle))
        fail_msg("status %d, err.code %d (expected %d), message '%s' (expected '%s')", got, err->code, want,
                 err->message, needle);
    assert_true(fl_utf8_invalid(err->message, strlen(err->message)) < 0);
}

static void test_empty_names_status(void **state)
{
    (void)state;
    fl_error err;
    fl_job *job = NULL;
    char *text = data("bad/job-allow-gpus-empty-name.json");
    fl_error_clear(&err);
    check_fail(fl_job_from_json(cat, text, &job, &err), &err, FL_ENOTFOUND, "job.allow.gpus[0]: empty gpu name");
    assert_null(job);
    free(text);
    fl_availability *av = NULL;
    fl_error_clear(&err);
    check_fail(fl_availability_from_json(cat, "{\"zones\":{\"\":{\"A100-SXM-40GB\":8}}}", &av, &err), &err,
               FL_ENOTFOUND, "empty zone name");
    fl_error_clear(&err);
    check_fail(fl_availability_from_json(cat, "{\"zones\":{\"gcp:us-central1-a\":{\"\":8}}}", &av, &err), &err,
               FL_ENOTFOUND, "empty gpu name");
    fl_error_clear(&err);
    check_fail(fl_job_from_json(cat, "{\"kind\":\"training\",\"model\":\"\",\"global_batch\":64}", &job, &err), &err,
               FL_ENOTFOUND, "empty model name");
    assert_null(av);
    /* a scenario's scale.gpu empty: the status of the whole sweep equals err.code */
    fl_error_clear(&err);
    assert_int_equal(fl_job_new_training(cat, "gpt3-1.3b", 64, 2048, &job, &err), FL_OK);
    fl_whatif_report *r = NULL;
    fl_error_clear(&err);
    check_fail(fl_whatif_scenarios(cat, job, "{\"scenarios\":[{\"name\":\"x\",\"scale\":{\"gpu\":\"\",\"factor\":1}}]}",
                                   NULL, &r, &err), &err, FL_ENOTFOUND, "empty gpu name");
    assert_null(r);
    fl_job_free(job);
}

static void test_availability_round_trip(void **state)
{
    (void)state;
    const char *inputs[] = {
        NULL, /* the reproducer: every count 0 */
        "{\"zones\":{\"gcp:us-central1-a\":{\"A100-SXM-40GB\":16},\"gcp:us-central1-b\":{\"a100\":0,\"V100-SXM2-16GB\":8}}}",
    };
    char *repro = data("bad/avail-all-zero-roundtrip.json");
    inputs[0] = repro;
    for (size_t i = 0; i < 2; i++) {
        fl_error err;
        fl_error_clear(&err);
        fl_availability *a = NULL, *b = NULL;
        if (fl_availability_from_json(cat, inputs[i], &a, &err))
            fail_msg("input %zu: %s", i, err.message);
        char *js = fl_availability_to_json(a);
        assert_non_null(js);
        if (fl_availability_from_json(cat, js, &b, &err))
            fail_msg("input %zu: its own output does not parse back: %s\n%s", i, err.message, js);
        char *js2 = fl_availability_to_json(b);
        assert_string_equal(js, js2); /* a fixed point */
        for (int z = 0; z < (int)fl_catalog_zone_count(cat); z++)
            for (int g = 0; g < (int)fl_catalog_gpu_count(cat); g++)
                assert_int_equal(fl_availability_get(a, z, g), fl_availability_get(b, z, g));
        fl_free(js);
        fl_free(js2);
        fl_availability_free(a);
        fl_availability_free(b);
    }
    free(repro);
}

static void test_same_name_twice(void **state)
{
    (void)state;
    fl_error err;
    fl_availability *av = NULL;
    fl_error_clear(&err);
    check_fail(fl_availability_from_json(cat, "{\"zones\":{\"gcp:us-central1-a\":{\"A100-SXM-40GB\":8,\"a100\":16}}}",
                                         &av, &err), &err, FL_EINVAL, "the same GPU");
    assert_string_equal(err.field, "zones.gcp:us-central1-a.a100");
    fl_error_clear(&err);
    check_fail(fl_availability_from_json(cat, "{\"zones\":{\"gcp:us-central1-a\":{\"a100\":8},"
                                         "\"gcp:US-CENTRAL1-A\":{\"a100\":8}}}", &av, &err), &err, FL_EINVAL,
               "the same zone");
    assert_null(av);
}

static void test_estimate_ranges(void **state)
{
    (void)state;
    fl_estimate_query q;
    fl_estimate_result res;
    fl_error err;
    fl_estimate_query_init(&q);
    q.gpu = "H100-SXM-80GB";
    q.model = "llama3-8b";
    q.phase = (fl_phase)77;
    fl_error_clear(&err);
    check_fail(fl_estimate(cat, &q, &res, &err), &err, FL_EINVAL, "phase");
    q.phase = FL_PHASE_DECODE;
    q.context = INT_MAX;
    fl_error_clear(&err);
    check_fail(fl_estimate(cat, &q, &res, &err), &err, FL_EINVAL, "context must be at most");
    q.context = 1024;
    q.phase = FL_PHASE_PREFILL;
    q.seq = INT_MAX;
    fl_error_clear(&err);
    check_fail(fl_estimate(cat, &q, &res, &err), &err, FL_EINVAL, "seq must be at most");
    q.seq = 512;
    q.batch = INT_MAX;
    fl_error_clear(&err);
    check_fail(fl_estimate(cat, &q, &res, &err), &err, FL_EINVAL, "batch is too large");
    q.batch = 1;
    fl_error_clear(&err);
    assert_int_equal(fl_estimate(cat, &q, &res, &err), FL_OK); /* the limits leave normal queries alone */
}

static void test_catalog_open_empty_path(void **state)
{
    (void)state;
    fl_catalog *c = NULL;
    fl_error err;
    fl_error_clear(&err);
    check_fail(fl_catalog_open("", &c, &err), &err, FL_EINVAL, "catalog path is empty");
    assert_null(c);
}

/* A message longer than fl_error holds, full of 2-, 3- and 4-byte characters, at every offset. */
static void test_messages_cut_on_characters(void **state)
{
    (void)state;
    const char *chars[] = {"é", "€", "𝄞"};
    for (int c = 0; c < 3; c++)
        for (int shift = 0; shift < 4; shift++) {
            char name[2048] = "";
            for (int i = 0; i < shift; i++)
                strcat(name, "x");
            while (strlen(name) < 1500)
                strcat(name, chars[c]);
            fl_error err;
            fl_error_clear(&err);
            fl_fail(&err, FL_EINVAL, name, "unknown model '%s'", name);
            assert_true(strlen(err.message) < sizeof err.message);
            assert_true(fl_utf8_invalid(err.message, strlen(err.message)) < 0);
            assert_true(fl_utf8_invalid(err.field, strlen(err.field)) < 0);
            fl_error_prefix_field(&err, "job");
            assert_true(fl_utf8_invalid(err.field, strlen(err.field)) < 0);
            /* through the public API too: a model name of 1500 bytes */
            char json[4096];
            snprintf(json, sizeof json, "{\"kind\":\"training\",\"model\":\"%s\",\"global_batch\":64}", name);
            fl_job *job = NULL;
            fl_error_clear(&err);
            assert_int_not_equal(fl_job_from_json(cat, json, &job, &err), FL_OK);
            assert_true(fl_utf8_invalid(err.message, strlen(err.message)) < 0);
        }
    /* a message quoting bytes that are not UTF-8 (found by fuzz_serve_trace) shows them as '?' */
    fl_error e2;
    fl_error_clear(&e2);
    fl_fail(&e2, FL_EPARSE, "trace\xff", "trace line 2: '%s' is not a number", "1\xc3\x28x");
    assert_string_equal(e2.message, "trace line 2: '1?(x' is not a number");
    assert_string_equal(e2.field, "trace"); /* a bad last byte reads as a cut character */
    /* the checker itself: overlongs, surrogates, out of range, truncated sequences */
    const char *bad[] = {"\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "\xe2\x82", "\x80", "\xff"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(fl_utf8_invalid(bad[i], strlen(bad[i])), 0);
    assert_int_equal(fl_utf8_invalid("a\xe2\x82\xac\xf0\x9d\x84\x9e", 8), -1);
}

/* 300,000 nodes: the duplicate-id check is hashed (the quadratic one took minutes here) and
 * names both nodes. */
static void test_many_nodes(void **state)
{
    (void)state;
    const size_t n = 300000;
    size_t cap = n * 100 + 256, off = 0;
    char *js = malloc(cap);
    off += (size_t)snprintf(js + off, cap - off, "{\"nodes\":[");
    for (size_t i = 0; i <= n; i++) /* node n repeats the id of node 5 */
        off += (size_t)snprintf(js + off, cap - off, "%s{\"id\":\"n%zu\",\"zone\":\"gcp:us-central1-a\","
                                "\"gpu\":\"A100-SXM-40GB\",\"gpus\":8}", i ? "," : "", i == n ? (size_t)5 : i);
    snprintf(js + off, cap - off, "]}");
    fl_nodes *nodes = NULL;
    fl_error err;
    fl_error_clear(&err);
    check_fail(fl_nodes_from_json(cat, js, &nodes, &err), &err, FL_EINVAL, "duplicate node id 'n5' (also node 5)");
    assert_string_equal(err.field, "nodes[300000].id");
    assert_null(nodes);
    /* without the repeat: all of them, each found by id */
    char *last = strrchr(js, '{');
    snprintf(last - 1, 4, "]}");
    fl_error_clear(&err);
    assert_int_equal(fl_nodes_from_json(cat, js, &nodes, &err), FL_OK);
    assert_int_equal(fl_nodes_count(nodes), n);
    fl_nodes_free(nodes);
    free(js);
}

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty_names_status),       cmocka_unit_test(test_availability_round_trip),
        cmocka_unit_test(test_same_name_twice),          cmocka_unit_test(test_estimate_ranges),
        cmocka_unit_test(test_catalog_open_empty_path), cmocka_unit_test(test_messages_cut_on_characters),
        cmocka_unit_test(test_many_nodes),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
