/* tests/planner/test_train_planner.c — the training planner: balanced layer splits, the MILP
 * against exhaustive enumeration of the same templates, plans never worse than homogeneous
 * ones, objectives, alternatives / frontier / marginal values, and infeasible or bad jobs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "flotilla/flotilla.h"
#include "planner/train_internal.h"
#include "planner/train_search.h"
#include "tests/common/testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static fl_job *job_of(const char *text)
{
    fl_job *job = NULL;
    fl_error err;
    if (fl_job_from_json(cat, text, &job, &err) != FL_OK)
        fail_msg("job: %s", err.message);
    return job;
}

static fl_availability *avail_of(const char *text)
{
    fl_availability *av = NULL;
    fl_error err;
    if (fl_availability_from_json(cat, text, &av, &err) != FL_OK)
        fail_msg("availability: %s", err.message);
    return av;
}

/* Plan and return the document (caller decrefs); NULL with *rc set on failure. */
static json_t *plan_doc(const fl_job *job, const fl_availability *av, const fl_plan_options *o, fl_status *rc,
                        fl_error *err, fl_plan **plan_out)
{
    fl_plan_options d;
    fl_plan_options_init(&d);
    if (!o)
        o = &d;
    fl_plan *plan = NULL;
    *rc = fl_plan_job(cat, job, av, o, &plan, err);
    if (*rc)
        return NULL;
    char *s = fl_plan_to_json(plan, 0);
    json_t *doc = json_loads(s, 0, NULL);
    fl_free(s);
    if (plan_out)
        *plan_out = plan;
    else
        fl_plan_free(plan);
    return doc;
}

static double sim_num(json_t *doc, const char *k)
{
    return json_number_value(json_object_get(json_object_get(doc, "simulation"), k));
}

/* The invariants every emitted plan must satisfy. */
static void check_plan(json_t *doc, const fl_job *job, const fl_availability *av, int global_batch, double budget)
{
    assert_non_null(doc);
    json_t *sim = json_object_get(doc, "simulation");
    assert_true(json_is_true(json_object_get(sim, "fits")));
    json_t *par = json_object_get(doc, "parallelism");
    long mb = (long)json_integer_value(json_object_get(par, "micro_batch")), total = 0;
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(par, "pipelines"), i, p) {
        assert_true(json_integer_value(json_object_get(p, "replicas")) >= 1);
        assert_true(json_integer_value(json_object_get(p, "micro_batches")) >= 1);
        total += (long)(json_integer_value(json_object_get(p, "replicas")) * json_integer_value(json_object_get(p, "micro_batches")));
    }
    assert_int_equal(total * mb, global_batch);
    if (av) {
        /* resources within availability, per (zone, GPU) */
        json_t *r;
        json_array_foreach(json_object_get(doc, "resources"), i, r) {
            const char *z = json_string_value(json_object_get(r, "zone")), *g = json_string_value(json_object_get(r, "gpu"));
            long used = 0;
            size_t k;
            json_t *q;
            json_array_foreach(json_object_get(doc, "resources"), k, q)
                if (!strcmp(json_string_value(json_object_get(q, "zone")), z) && !strcmp(json_string_value(json_object_get(q, "gpu")), g))
                    used += (long)(json_integer_value(json_object_get(q, "instances")) * json_integer_value(json_object_get(q, "gpus_per_instance")));
            int zi = fl_catalog_find_zone(cat, z, "zone", NULL), gi = fl_catalog_find_gpu(cat, g, "gpu", NULL);
            assert_true(used <= fl_availability_get(av, zi, gi));
        }
    }
    if (budget > 0)
        assert_true(sim_num(doc, "cost_per_hour") <= budget * (1 + 1e-9));
    json_t *solver = json_object_get(doc, "solver");
    assert_string_equal(json_string_value(json_object_get(solver, "name")), "glpk");
    assert_true(json_integer_value(json_object_get(solver, "candidates")) > 0);
    (void)job;
}

static void test_split_balanced(void **state)
{
    (void)state;
    fl_job *job = job_of("{\"kind\":\"training\",\"model\":\"gpt3-13b\",\"global_batch\":64}");
    fl_train_setup s;
    fl_train_setup_from_job(&s, job);
    int g = fl_catalog_find_gpu(cat, "A100-SXM-80GB", "gpu", NULL), z = fl_catalog_find_zone(cat, "gcp:us-central1-a", "z", NULL);
    int gpu[4] = {g, g, g, g}, tp[4] = {2, 2, 2, 2}, zone[4] = {z, z, z, z}, first[4], last[4];
    double bn;
    assert_int_equal(fl_tp_split_layers(cat, &s, 4, gpu, tp, zone, 40, first, last, &bn), 1);
    assert_int_equal(first[0], 0);
    assert_int_equal(last[3], 40);
    for (int i = 0; i < 4; i++) {
        assert_true(last[i] > first[i]);
        if (i)
            assert_int_equal(first[i], last[i - 1]);
        assert_true(abs((last[i] - first[i]) - 10) <= 2);
    }
    assert_true(bn > 0);
    /* mixed: an A100 stage takes more layers than a (slower) V100 stage of the same tp */
    int v = fl_catalog_find_gpu(cat, "V100-SXM2-32GB", "gpu", NULL);
    int gpu2[2] = {g, v}, tp2[2] = {4, 4}, zone2[2] = {z, z};
    assert_int_equal(fl_tp_split_layers(cat, &s, 2, gpu2, tp2, zone2, 40, first, last, &bn), 1);
    assert_true(last[0] - first[0] > last[1] - first[1]);
    assert_int_equal(last[1], 40);
    /* too many stages for the layers, and a model that cannot fit on one small GPU */
    assert_int_equal(fl_tp_split_layers(cat, &s, 41, gpu, tp, zone, 40, first, last, &bn), 0);
    int t4 = fl_catalog_find_gpu(cat, "T4-16GB", "gpu", NULL);
    int one_gpu[1] = {t4}, one_tp[1] = {1}, one_zone[1] = {z};
    assert_int_equal(fl_tp_split_layers(cat, &s, 1, one_gpu, one_tp, one_zone, 40, first, last, &bn), 0);
    fl_job_free(job);
}

/* Best replica counts by exhaustive enumeration: smallest T such that the chosen replicas can
 * carry the global batch, over all counts within availability. */
static double brute_force_T(const fl_tp_pool *pool, const fl_tp_set *set, const int *use, int n_use, long M)
{
    int x[8] = {0}, maxx[8];
    for (int k = 0; k < n_use; k++) {
        maxx[k] = 1 << 30;
        const fl_tp_template *t = &set->tpl[use[k]];
        for (int c = 0; c < t->n_cells; c++)
            if (t->gpus[c][0] > 0 && pool->cells[t->cells[c]].avail / t->gpus[c][0] < maxx[k])
                maxx[k] = pool->cells[t->cells[c]].avail / t->gpus[c][0];
    }
    double best = 1e300;
    for (;;) {
        int ok = 1;
        long reps = 0;
        for (int c = 0; c < pool->n_cells && ok; c++) {
            long need = 0;
            for (int k = 0; k < n_use; k++) {
                const fl_tp_template *t = &set->tpl[use[k]];
                for (int j = 0; j < t->n_cells; j++)
                    if (t->cells[j] == c)
                        need += (long)t->gpus[j][0] * x[k];
            }
            ok = need <= pool->cells[c].avail;
        }
        for (int k = 0; k < n_use; k++)
            reps += x[k];
        /* one zone: the model's DP tail [0] for a group of at most set->dp_n[0] replicas */
        if (ok && reps > 0 && reps <= M && reps <= set->dp_n[0]) {
            /* smallest T: bisection over the breakpoints of sum_k mmax_k(T - tail_k) x_k >= M */
            double lo = 0, hi = 0;
            for (int k = 0; k < n_use; k++)
                if (x[k] && fl_tp_template_time_dp(&set->tpl[use[k]], M, 0) > hi)
                    hi = fl_tp_template_time_dp(&set->tpl[use[k]], M, 0);
            for (int it = 0; it < 100; it++) {
                double mid = 0.5 * (lo + hi);
                long slots = 0;
                for (int k = 0; k < n_use; k++)
                    slots += x[k] * fl_tp_template_max_mb(&set->tpl[use[k]], mid - set->tpl[use[k]].dp_tail[0], M);
                if (slots >= M)
                    hi = mid;
                else
                    lo = mid;
            }
            if (hi < best)
                best = hi;
        }
        int k = 0;
        while (k < n_use && ++x[k] > maxx[k])
            x[k++] = 0;
        if (k == n_use)
            break;
    }
    return best;
}

static void test_milp_matches_brute_force(void **state)
{
    (void)state;
    fl_job *job = job_of("{\"kind\":\"training\",\"model\":\"gpt3-1.3b\",\"global_batch\":64}");
    fl_availability *av = avail_of("{\"zones\":{\"gcp:us-central1-a\":{\"A100-SXM-40GB\":8,\"V100-SXM2-16GB\":8}}}");
    fl_tp_pool pool;
    fl_error err;
    assert_int_equal(fl_tp_pool_build(cat, job, av, &pool, &err), FL_OK);
    fl_tp_set set;
    memset(&set, 0, sizeof set);
    fl_train_setup_from_job(&set.setup, job);
    set.setup.micro_batch = 4;
    assert_int_equal(fl_tp_templates_build(cat, job, &pool, &set, &err), FL_OK);
    assert_true(set.n_tpl >= 4);
    /* keep a handful of templates, mixing both GPU types, so enumeration stays small */
    int use[5], n_use = 0;
    for (int t = 0; t < set.n_tpl; t++) {
        set.tpl[t].disabled = 1;
        if (n_use < 5 && set.tpl[t].total_gpus <= 4 && (t % 2 == 0 || set.tpl[t].n_cells > 1)) {
            use[n_use++] = t;
            set.tpl[t].disabled = 0;
        }
    }
    assert_true(n_use >= 3);
    long M = 64 / 4;
    double bf = brute_force_T(&pool, &set, use, n_use, M);
    assert_true(bf < 1e299);
    fl_tp_solution sol;
    assert_int_equal(fl_tp_solution_alloc(&sol, &set, &pool), FL_OK);
    fl_tp_limits lim = {.total_mb = M, .time_limit_s = 5};
    fl_tp_search_stats st;
    memset(&st, 0, sizeof st);
    assert_int_equal(fl_tp_search(cat, job, &pool, &set, &lim, 0, &sol, &st, &err), FL_OK);
    assert_true(sol.feasible);
    double T = fl_tp_solution_time(&set, &sol);
    /* the search stops within 1% of the smallest iteration time */
    assert_true(T >= bf * (1 - 1e-6));
    assert_true(T <= bf * 1.011);
    long total = 0;
    for (int t = 0; t < set.n_tpl; t++) {
        total += sol.s[t];
        if (sol.x[t])
            assert_false(set.tpl[t].disabled);
    }
    assert_int_equal(total, M);
    fl_tp_solution_free(&sol);
    fl_tp_set_free(&set);
    fl_tp_pool_free(&pool);
    fl_availability_free(av);
    fl_job_free(job);
}

static void test_mixed_never_worse_than_homogeneous(void **state)
{
    (void)state;
    const char *av_text = "{\"zones\":{\"gcp:us-central1-a\":{\"A100-SXM-40GB\":16,\"V100-SXM2-16GB\":16}}}";
    fl_availability *av = avail_of(av_text);
    const char *fmt = "{\"kind\":\"training\",\"model\":\"gpt3-2.7b\",\"global_batch\":128,\"recompute\":\"selective\","
                      "\"allow\":{\"gpus\":[%s]}}";
    const char *sets[3] = {"\"A100-SXM-40GB\",\"V100-SXM2-16GB\"", "\"A100-SXM-40GB\"", "\"V100-SXM2-16GB\""};
    double tps[3];
    for (int i = 0; i < 3; i++) {
        char text[512];
        snprintf(text, sizeof text, fmt, sets[i]);
        fl_job *job = job_of(text);
        fl_status rc;
        fl_error err;
        json_t *doc = plan_doc(job, av, NULL, &rc, &err, NULL);
        if (rc)
            fail_msg("plan %d: %s", i, err.message);
        check_plan(doc, job, av, 128, 0);
        tps[i] = sim_num(doc, "tokens_per_s");
        json_decref(doc);
        fl_job_free(job);
    }
    assert_true(tps[0] >= 0.98 * tps[1]);
    assert_true(tps[0] >= 0.98 * tps[2]);
    fl_availability_free(av);
}

static void test_objectives(void **state)
{
    (void)state;
    fl_availability *av = avail_of("{\"zones\":{\"gcp:us-central1-a\":{\"A100-SXM-40GB\":32,\"V100-SXM2-16GB\":32}}}");
    const char *objs[3] = {"max_throughput", "min_cost", "max_throughput_per_dollar"};
    double tps[3], cost[3];
    for (int i = 0; i < 3; i++) {
        char text[512];
        snprintf(text, sizeof text,
                 "{\"kind\":\"training\",\"model\":\"gpt3-1.3b\",\"global_batch\":256,\"objective\":\"%s\","
                 "\"budget_per_hour\":150,\"min_tokens_per_s\":%s,\"train_tokens\":1e10}",
                 objs[i], i == 1 ? "20000" : "0");
        fl_job *job = job_of(text);
        fl_status rc;
        fl_error err;
        json_t *doc = plan_doc(job, av, NULL, &rc, &err, NULL);
        if (rc)
            fail_msg("%s: %s", objs[i], err.message);
        check_plan(doc, job, av, 256, 150);
        tps[i] = sim_num(doc, "tokens_per_s");
        cost[i] = sim_num(doc, "cost_per_hour");
        assert_true(sim_num(doc, "time_to_train_s") > 0);
        assert_true(sim_num(doc, "total_cost") > 0);
        json_decref(doc);
        fl_job_free(job);
    }
    assert_true(tps[1] >= 20000);                       /* min_cost honours the throughput floor */
    assert_true(cost[1] <= cost[0] * (1 + 1e-9));       /* and is no dearer than max_throughput */
    assert_true(tps[0] >= 0.98 * tps[2]);
    assert_true(tps[2] / cost[2] >= 0.98 * tps[0] / cost[0]);
    fl_availability_free(av);
}

static void test_alternatives_pareto_marginal(void **state)
{
    (void)state;
    fl_availability *av = avail_of("{\"zones\":{\"gcp:us-central1-a\":{\"A100-SXM-40GB\":16,\"V100-SXM2-16GB\":16}}}");
    fl_job *job = job_of("{\"kind\":\"training\",\"model\":\"gpt3-1.3b\",\"global_batch\":64,\"recompute\":\"auto\"}");
    fl_plan_options o;
    fl_plan_options_init(&o);
    o.top_k = 3;
    o.pareto = 1;
    o.marginal = 1;
    fl_status rc;
    fl_error err;
    fl_plan *plan = NULL;
    json_t *doc = plan_doc(job, av, &o, &rc, &err, &plan);
    if (rc)
        fail_msg("plan: %s", err.message);
    check_plan(doc, job, av, 64, 0);
    size_t na = fl_plan_alternative_count(plan);
    assert_true(na >= 1 && na <= 2);
    for (size_t i = 0; i < na; i++) {
        char *s = fl_plan_to_json(fl_plan_alternative(plan, i), 0);
        json_t *alt = json_loads(s, 0, NULL);
        fl_free(s);
        check_plan(alt, job, av, 64, 0);
        assert_false(json_equal(json_object_get(alt, "parallelism"), json_object_get(doc, "parallelism")) &&
                     json_equal(json_object_get(alt, "resources"), json_object_get(doc, "resources")));
        json_decref(alt);
    }
    json_t *pareto = json_object_get(doc, "pareto");
    assert_true(json_array_size(pareto) >= 1);
    for (size_t i = 1; i < json_array_size(pareto); i++) {
        json_t *a = json_array_get(pareto, i - 1), *b = json_array_get(pareto, i);
        assert_true(json_number_value(json_object_get(a, "cost_per_hour")) <= json_number_value(json_object_get(b, "cost_per_hour")));
        assert_true(json_number_value(json_object_get(a, "tokens_per_s")) < json_number_value(json_object_get(b, "tokens_per_s")));
    }
    json_t *mv = json_object_get(doc, "marginal_value");
    assert_int_equal(json_array_size(mv), 2);
    for (size_t i = 0; i < 2; i++)
        assert_true(json_number_value(json_object_get(json_array_get(mv, i), "gain")) >= 0);
    json_decref(doc);
    fl_plan_free(plan);
    fl_job_free(job);
    fl_availability_free(av);
}

/* Infeasible / bad jobs: the status, the field and a phrase of the message. */
static void expect_fail(const char *job_text, const char *av_text, fl_status code, const char *field, const char *phrase)
{
    fl_job *job = job_of(job_text);
    fl_availability *av = av_text ? avail_of(av_text) : NULL;
    fl_status rc;
    fl_error err;
    fl_error_clear(&err);
    json_t *doc = plan_doc(job, av, NULL, &rc, &err, NULL);
    assert_null(doc);
    if (rc != code || strcmp(err.field, field) != 0 || !strstr(err.message, phrase))
        fail_msg("got %d field '%s' message '%s'", rc, err.field, err.message);
    fl_availability_free(av);
    fl_job_free(job);
}

static void test_bad_jobs(void **state)
{
    (void)state;
    /* the availability holds none of the allowed GPU types */
    expect_fail("{\"kind\":\"training\",\"model\":\"gpt3-1.3b\",\"global_batch\":64,\"allow\":{\"gpus\":[\"A100-SXM-80GB\"]}}",
                "{\"zones\":{\"gcp:us-central1-a\":{\"T4-16GB\":8}}}", FL_EINFEASIBLE, "availability",
                "no allowed GPU is available");
    /* budget below the cheapest plan */
    expect_fail("{\"kind\":\"training\",\"model\":\"gpt3-13b\",\"global_batch\":64,\"budget_per_hour\":1}",
                "{\"zones\":{\"gcp:us-central1-a\":{\"A100-SXM-40GB\":32}}}", FL_EINFEASIBLE, "job.budget_per_hour",
                "below the cheapest feasible plan");
    /* too few GPUs to hold the model's states */
    expect_fail("{\"kind\":\"training\",\"model\":\"gpt3-175b\",\"global_batch\":64,\"recompute\":\"full\"}",
                "{\"zones\":{\"gcp:us-central1-a\":{\"A100-SXM-80GB\":8}}}", FL_EINFEASIBLE, "availability",
                "to hold its states");
    /* max_gpus below the smallest plan */
    expect_fail("{\"kind\":\"training\",\"model\":\"gpt3-175b\",\"global_batch\":64,\"recompute\":\"full\",\"max_gpus\":8}",
                "{\"zones\":{\"gcp:us-central1-a\":{\"A100-SXM-80GB\":256}}}", FL_EINFEASIBLE, "job.max_gpus",
                "below the");
    /* throughput floor out of reach */
    expect_fail("{\"kind\":\"training\",\"model\":\"gpt3-1.3b\",\"global_batch\":64,\"objective\":\"min_cost\","
                "\"min_tokens_per_s\":1e12}",
                "{\"zones\":{\"gcp:us-central1-a\":{\"A100-SXM-40GB\":8}}}", FL_EINFEASIBLE, "job.min_tokens_per_s",
                "exceeds the fastest feasible plan");
    /* no micro-batch choice divides the global batch */
    expect_fail("{\"kind\":\"training\",\"model\":\"gpt3-1.3b\",\"global_batch\":63,\"micro_batch\":[2,4]}",
                "{\"zones\":{\"gcp:us-central1-a\":{\"A100-SXM-40GB\":8}}}", FL_EINVAL, "job.global_batch",
                "not divisible by any micro-batch choice");
    expect_fail("{\"kind\":\"training\",\"model\":\"gpt3-1.3b\",\"global_batch\":64,\"micro_batch\":\"big\"}", NULL,
                FL_EINVAL, "job.micro_batch", "expected a whole number");
}

static void test_unlimited_availability(void **state)
{
    (void)state;
    fl_job *job = job_of("{\"kind\":\"training\",\"model\":\"gpt3-1.3b\",\"global_batch\":64,\"objective\":\"min_cost\","
                         "\"min_tokens_per_s\":5000,\"allow\":{\"gpus\":[\"A100-SXM-40GB\",\"L4-24GB\"],\"spot\":true}}");
    fl_status rc;
    fl_error err;
    json_t *doc = plan_doc(job, NULL, NULL, &rc, &err, NULL);
    if (rc)
        fail_msg("plan: %s", err.message);
    check_plan(doc, job, NULL, 64, 0);
    assert_true(sim_num(doc, "tokens_per_s") >= 5000);
    json_decref(doc);
    fl_job_free(job);
}

/* The plan document without its "solver" member (timings differ from run to run). */
static char *plan_text_without_solver(json_t *doc)
{
    json_object_del(doc, "solver");
    return json_dumps(doc, JSON_SORT_KEYS | JSON_COMPACT | JSON_REAL_PRECISION(17));
}

/* Branch-and-bound is cut off by node budgets, not by the clock: the same job planned twice,
 * and with a tiny vs the default time limit, gives byte-identical plans (solver timings aside),
 * unless the wall-clock safety net itself was hit (then solver.status says "time_limit"). */
static void test_deterministic_plans(void **state)
{
    (void)state;
    fl_availability *av = avail_of("{\"zones\":{\"gcp:us-central1-a\":{\"A100-SXM-40GB\":16,\"V100-SXM2-16GB\":16},"
                                   "\"gcp:us-central1-b\":{\"A100-SXM-40GB\":8,\"V100-SXM2-16GB\":32}}}");
    const char *objs[2] = {"max_throughput", "max_throughput_per_dollar"};
    for (int i = 0; i < 2; i++) {
        char text[512];
        snprintf(text, sizeof text,
                 "{\"kind\":\"training\",\"model\":\"gpt3-1.3b\",\"global_batch\":256,\"recompute\":\"auto\","
                 "\"objective\":\"%s\",\"budget_per_hour\":200}", objs[i]);
        fl_job *job = job_of(text);
        fl_plan_options tiny;
        fl_plan_options_init(&tiny);
        tiny.time_limit_s = 2;
        char *out[3];
        int safety_hit = 0;
        for (int k = 0; k < 3; k++) {
            fl_status rc;
            fl_error err;
            json_t *doc = plan_doc(job, av, k == 2 ? &tiny : NULL, &rc, &err, NULL);
            if (rc)
                fail_msg("%s run %d: %s", objs[i], k, err.message);
            const char *status = json_string_value(json_object_get(json_object_get(doc, "solver"), "status"));
            assert_non_null(status);
            safety_hit |= strcmp(status, "time_limit") == 0;
            out[k] = plan_text_without_solver(doc);
            json_decref(doc);
        }
        assert_string_equal(out[0], out[1]);
        if (!safety_hit)
            assert_string_equal(out[0], out[2]);
        for (int k = 0; k < 3; k++)
            free(out[k]);
        fl_job_free(job);
    }
    fl_availability_free(av);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_split_balanced),
        cmocka_unit_test(test_milp_matches_brute_force),
        cmocka_unit_test(test_mixed_never_worse_than_homogeneous),
        cmocka_unit_test(test_objectives),
        cmocka_unit_test(test_alternatives_pareto_marginal),
        cmocka_unit_test(test_bad_jobs),
        cmocka_unit_test(test_unlimited_availability),
        cmocka_unit_test(test_deterministic_plans),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
