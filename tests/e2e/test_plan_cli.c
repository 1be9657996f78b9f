/* tests/e2e/test_plan_cli.c — `flotilla plan` on the example training jobs (examples/jobs):
 * the JSON plan fits, honours the global batch exactly, stays within the availability and the
 * budget; alternatives, frontier and marginal values appear when asked; infeasible and bad
 * jobs exit non-zero with a message naming the binding limit. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/common/testutil.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *example(const char *name)
{
    static char buf[4][1024];
    static int slot;
    const char *root = getenv("FLOTILLA_SOURCE_ROOT");
    char *b = buf[slot++ % 4];
    snprintf(b, sizeof buf[0], "%s/examples/jobs/%s", root ? root : ".", name);
    return b;
}

/* Checks every plan must pass; avail may be NULL (unlimited). */
static void check_plan(json_t *doc, json_t *job, json_t *avail)
{
    assert_non_null(doc);
    assert_string_equal(json_string_value(json_object_get(doc, "kind")), "training");
    json_t *sim = json_object_get(doc, "simulation");
    assert_true(json_is_true(json_object_get(sim, "fits")));
    json_t *par = json_object_get(doc, "parallelism");
    long total = 0;
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(par, "pipelines"), i, p)
        total += (long)(json_integer_value(json_object_get(p, "replicas")) * json_integer_value(json_object_get(p, "micro_batches")));
    assert_int_equal(total * json_integer_value(json_object_get(par, "micro_batch")),
                     json_integer_value(json_object_get(job, "global_batch")));
    double cost = 0;
    json_t *r;
    json_array_foreach(json_object_get(doc, "resources"), i, r) {
        cost += json_number_value(json_object_get(r, "price_per_hour")) * (double)json_integer_value(json_object_get(r, "instances"));
        if (!avail)
            continue;
        const char *z = json_string_value(json_object_get(r, "zone")), *g = json_string_value(json_object_get(r, "gpu"));
        long used = 0;
        size_t k;
        json_t *q;
        json_array_foreach(json_object_get(doc, "resources"), k, q)
            if (!strcmp(json_string_value(json_object_get(q, "zone")), z) && !strcmp(json_string_value(json_object_get(q, "gpu")), g))
                used += (long)(json_integer_value(json_object_get(q, "instances")) * json_integer_value(json_object_get(q, "gpus_per_instance")));
        json_t *have = json_object_get(json_object_get(json_object_get(avail, "zones"), z), g);
        assert_non_null(have);
        assert_true(used <= json_integer_value(have));
    }
    json_t *budget = json_object_get(job, "budget_per_hour");
    if (json_is_number(budget))
        assert_true(cost <= json_number_value(budget) * (1 + 1e-9));
    if (json_is_number(json_object_get(job, "min_tokens_per_s")))
        assert_true(json_number_value(json_object_get(sim, "tokens_per_s")) >=
                    json_number_value(json_object_get(job, "min_tokens_per_s")));
    if (json_is_number(json_object_get(job, "train_tokens")))
        assert_true(json_number_value(json_object_get(sim, "time_to_train_s")) > 0);
    assert_string_equal(json_string_value(json_object_get(json_object_get(doc, "solver"), "name")), "glpk");
}

static void run_example(const char *job_name, const char *avail_name)
{
    json_t *job = json_load_file(example(job_name), 0, NULL);
    json_t *avail = avail_name ? json_load_file(example(avail_name), 0, NULL) : NULL;
    assert_non_null(job);
    cli_result r = avail_name ? run_cli(NULL, "plan", example(job_name), "--availability", example(avail_name), "--json", NULL)
                              : run_cli(NULL, "plan", example(job_name), "--json", NULL);
    if (r.status != 0)
        fail_msg("exit %d: %s", r.status, r.err);
    json_t *doc = cli_json(&r);
    check_plan(doc, job, avail);
    json_decref(doc);
    json_decref(job);
    json_decref(avail);
    cli_result_free(&r);
}

static void test_gpt3_13b_mixed(void **state)
{
    (void)state;
    run_example("train_gpt3_13b.json", "avail_mixed.json");
}

static void test_gpt3_13b_small(void **state)
{
    (void)state;
    run_example("train_gpt3_13b.json", "avail_small.json");
}

static void test_gpt3_175b_min_cost(void **state)
{
    (void)state;
    run_example("train_gpt3_175b_min_cost.json", NULL);
}

static void test_llama3_8b_per_dollar(void **state)
{
    (void)state;
    run_example("train_llama3_8b_per_dollar.json", NULL);
}

static void test_extras_and_output_file(void **state)
{
    (void)state;
    const char *out = temp_path(0, ".json");
    cli_result r = run_cli(NULL, "plan", example("train_gpt3_13b.json"), "--availability", example("avail_small.json"),
                           "--top", "2", "--pareto", "--marginal", "-o", out, NULL);
    if (r.status != 0)
        fail_msg("exit %d: %s", r.status, r.err);
    assert_non_null(strstr(r.out, "plan written to"));
    json_t *doc = json_load_file(out, 0, NULL);
    assert_non_null(doc);
    assert_true(json_array_size(json_object_get(doc, "pareto")) >= 1);
    assert_true(json_array_size(json_object_get(doc, "marginal_value")) >= 1);
    assert_true(json_array_size(json_object_get(doc, "summary")) >= 2);
    /* --top 2: one alternative travels with the plan, itself a complete, simulated plan */
    json_t *alts = json_object_get(doc, "alternatives");
    assert_int_equal(json_array_size(alts), 1);
    json_t *alt_sim = json_object_get(json_array_get(alts, 0), "simulation");
    assert_true(json_is_true(json_object_get(alt_sim, "fits")));
    assert_non_null(strstr(r.out, "alternative 1:"));
    /* the table shows the frontier and the marginal values too, one row per entry */
    assert_non_null(strstr(r.out, "Cost / throughput frontier"));
    assert_non_null(strstr(r.out, "Marginal value of one more instance"));
    json_t *m0 = json_array_get(json_object_get(doc, "marginal_value"), 0);
    char row[128];
    snprintf(row, sizeof row, "%-24s %-16s", json_string_value(json_object_get(m0, "zone")),
             json_string_value(json_object_get(m0, "gpu")));
    assert_non_null(strstr(r.out, row));
    json_decref(doc);
    cli_result_free(&r);
}

/* --opt=value works like --opt value (issue 17); an empty value is still a usage error */
static void test_equals_options(void **state)
{
    (void)state;
    const char *out = temp_path(3, ".json");
    char av[4200], top[16], o[4200];
    snprintf(av, sizeof av, "--availability=%s", example("avail_small.json"));
    snprintf(top, sizeof top, "--top=%d", 2);
    snprintf(o, sizeof o, "--output=%s", out);
    cli_result r = run_cli(NULL, "plan", example("train_gpt3_13b.json"), av, top, o, "--json", NULL);
    if (r.status != 0)
        fail_msg("exit %d: %s", r.status, r.err);
    json_t *doc = json_load_file(out, 0, NULL);
    assert_non_null(doc);
    assert_int_equal(json_array_size(json_object_get(doc, "alternatives")), 1);
    json_decref(doc);
    cli_result_free(&r);
    r = run_cli(NULL, "plan", example("train_gpt3_13b.json"), "--top=", "--json", NULL);
    assert_int_equal(r.status, 2);
    assert_non_null(strstr(r.err, "--top"));
    cli_result_free(&r);
}

/* Column of `needle` in the first line of `block` starting with `prefix` (-1: none). */
static int col_of(const char *block, const char *prefix, const char *needle)
{
    for (const char *l = block; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL) {
        if (strncmp(l, prefix, strlen(prefix)))
            continue;
        const char *e = strchr(l, '\n'), *h = strstr(l, needle);
        return h && (!e || h < e) ? (int)(h - l) : -1;
    }
    return -1;
}

/* Table columns follow the longest name (lambda:asia-northeast-1 is longer than the old fixed
 * zone column): headers and values start at the same column in both tables. */
static void test_table_widths(void **state)
{
    (void)state;
    char job[4200];
    snprintf(job, sizeof job, "%s/tests/data/jobs/train_gpt3_13b_megatron.json", getenv("FLOTILLA_SOURCE_ROOT"));
    cli_result r = run_cli(NULL, "plan", job, NULL);
    if (r.status != 0)
        fail_msg("exit %d: %s", r.status, r.err);
    const char *res = strstr(r.out, "Resources\n"), *pip = strstr(r.out, "Pipelines\n");
    assert_non_null(res);
    assert_non_null(pip);
    assert_int_equal(col_of(res, "  zone", "gpu "), col_of(res, "  lambda:", "A100"));
    assert_int_equal(col_of(res, "  zone", "instance"), col_of(res, "  lambda:", "gpu_8x"));
    assert_int_equal(col_of(pip, "  pipe", "zone"), col_of(pip, "  0    0", "lambda:"));
    /* tp is right-aligned in 3 columns: its last character sits under the header's "p" */
    assert_int_equal(col_of(pip, "  pipe", " tp ") + 2, col_of(pip, "  0    0", " 4 ") + 1);
    cli_result_free(&r);
}

/* Zones selling a GPU at the same price: the plan says which it kept and why, and
 * job.allow.prefer_regions moves it to the user's continent (not the first name, an Asian zone). */
static void test_prefer_regions(void **state)
{
    (void)state;
    cli_result r = run_cli(NULL, "plan", example("train_llama3_8b_per_dollar.json"), "--json", NULL);
    if (r.status != 0)
        fail_msg("exit %d: %s", r.status, r.err);
    assert_non_null(strstr(r.out, "the same lowest price"));
    assert_non_null(strstr(r.out, "first by name"));
    cli_result_free(&r);
    char job[4200];
    snprintf(job, sizeof job, "%s/tests/data/jobs/train_llama3_8b_prefer_na.json", getenv("FLOTILLA_SOURCE_ROOT"));
    r = run_cli(NULL, "plan", job, "--json", NULL);
    if (r.status != 0)
        fail_msg("exit %d: %s", r.status, r.err);
    assert_non_null(strstr(r.out, "is in job.allow.prefer_regions"));
    assert_non_null(strstr(r.out, "\"zone\": \"lambda:us-east-1\""));
    assert_null(strstr(r.out, "asia-"));
    cli_result_free(&r);
}

static void test_infeasible_budget(void **state)
{
    (void)state;
    const char *job = temp_file(1, ".json",
                                "{\"kind\":\"training\",\"model\":\"gpt3-13b\",\"global_batch\":64,\"budget_per_hour\":2}");
    cli_result r = run_cli(NULL, "plan", job, "--availability", example("avail_small.json"), "--json", NULL);
    assert_int_equal(r.status, 3);
    assert_non_null(strstr(r.err, "budget_per_hour"));
    assert_non_null(strstr(r.err, "below the cheapest feasible plan"));
    assert_string_equal(r.out, "");
    cli_result_free(&r);
}

static void test_bad_micro_batch(void **state)
{
    (void)state;
    const char *job = temp_file(2, ".json",
                                "{\"kind\":\"training\",\"model\":\"gpt3-1.3b\",\"global_batch\":9,\"micro_batch\":[2,4]}");
    cli_result r = run_cli(NULL, "plan", job, "--json", NULL);
    assert_int_equal(r.status, 1);
    assert_non_null(strstr(r.err, "global_batch"));
    cli_result_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gpt3_13b_mixed),
        cmocka_unit_test(test_prefer_regions),
        cmocka_unit_test(test_gpt3_13b_small),
        cmocka_unit_test(test_gpt3_175b_min_cost),
        cmocka_unit_test(test_llama3_8b_per_dollar),
        cmocka_unit_test(test_extras_and_output_file),
        cmocka_unit_test(test_equals_options),
        cmocka_unit_test(test_table_widths),
        cmocka_unit_test(test_infeasible_budget),
        cmocka_unit_test(test_bad_micro_batch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
