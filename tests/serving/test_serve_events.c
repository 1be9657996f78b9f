/* tests/serving/test_serve_events.c — the event-driven serving simulator (decode runs summed in
 * closed form) against the reference that steps every engine iteration: random workloads (rates,
 * class mixes, several replica groups, traces with long outputs, small KV caches that force
 * preemption) must agree within 0.1 % on every reported metric; a request of 1,000,000 output
 * tokens is handled in a handful of events. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "simulator/serve_sim.h"
#include "common/job.h"
#include "tests/common/testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
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

static fl_serve_cfg cfg(const char *gpu, const char *model, int tp)
{
    fl_serve_cfg c;
    int g = fl_catalog_find_gpu(cat, gpu, NULL, NULL), m = fl_catalog_find_model(cat, model, NULL, NULL);
    assert_true(g >= 0 && m >= 0);
    assert_int_equal(fl_serve_cfg_init(&c, fl_catalog_gpu(cat, (size_t)g), fl_catalog_model(cat, (size_t)m), tp, 1,
                                       FL_DT_BF16, FL_DT_BF16, "cfg", NULL), FL_OK);
    return c;
}

static uint64_t rs = 12345;
static double unif(void)
{
    rs = rs * 6364136223846793005ull + 1442695040888963407ull;
    return (double)(rs >> 11) / 9007199254740992.0;
}
static int irange(int lo, int hi) { return lo + (int)(unif() * (hi - lo + 1)); }

/* |a - b| within 0.1 % of the larger (values below 1e-12 count as equal). */
static int close_rel(double a, double b)
{
    double m = fmax(fabs(a), fabs(b));
    return m < 1e-12 || fabs(a - b) <= 1e-3 * m;
}

static void check_same(const fl_serve_stats *ev, const fl_serve_stats *st, const char *what)
{
    struct { const char *name; double a, b; } m[] = {
        {"ttft_p50", ev->ttft_p50, st->ttft_p50},       {"ttft_p90", ev->ttft_p90, st->ttft_p90},
        {"ttft_p99", ev->ttft_p99, st->ttft_p99},       {"tpot_p50", ev->tpot_p50, st->tpot_p50},
        {"tpot_p90", ev->tpot_p90, st->tpot_p90},       {"tpot_p99", ev->tpot_p99, st->tpot_p99},
        {"e2e_p50", ev->e2e_p50, st->e2e_p50},          {"e2e_p90", ev->e2e_p90, st->e2e_p90},
        {"throughput", ev->throughput_rps, st->throughput_rps}, {"tokens_per_s", ev->tokens_per_s, st->tokens_per_s},
        {"kv_util_max", ev->kv_util_max, st->kv_util_max}, {"kv_util_mean", ev->kv_util_mean, st->kv_util_mean},
        {"queue_mean", ev->queue_mean, st->queue_mean},
    };
    for (size_t i = 0; i < sizeof m / sizeof m[0]; i++)
        if (!close_rel(m[i].a, m[i].b)) {
            print_error("%s: %s events %.9g vs stepping %.9g\n", what, m[i].name, m[i].a, m[i].b);
            fail();
        }
    assert_int_equal(ev->completed, st->completed);
    assert_int_equal(ev->rejected, st->rejected);
    assert_int_equal(ev->preemptions, st->preemptions);
    assert_int_equal(ev->steps, st->steps);
    assert_int_equal(ev->max_batch, st->max_batch);
    assert_int_equal(ev->queue_max, st->queue_max);
}

static const char *gpus[] = {"H100-SXM-80GB", "A100-SXM-80GB", "L4"};

/* Random Poisson workloads over 1-2 replica groups of 1-3 replicas, some with small KV caches. */
static void test_poisson_random(void **state)
{
    (void)state;
    size_t preempted = 0, total_steps = 0, total_events = 0;
    for (int trial = 0; trial < 30; trial++) {
        int ng = irange(1, 2);
        fl_serve_group g[2];
        memset(g, 0, sizeof g);
        fl_serve_workload wl;
        memset(&wl, 0, sizeof wl);
        wl.n_classes = irange(1, 3);
        double share = 0;
        for (int c = 0; c < wl.n_classes; c++) {
            int longout = unif() < 0.3;
            wl.classes[c] = (fl_request_class){irange(8, 3000), longout ? irange(2000, 12000) : irange(1, 600),
                                               0.2 + unif()};
            share += wl.classes[c].share;
        }
        for (int c = 0; c < wl.n_classes; c++)
            wl.classes[c].share /= share;
        for (int k = 0; k < ng; k++) {
            g[k].cfg = cfg(gpus[irange(0, 2)], unif() < 0.5 ? "llama3-8b" : "llama2-7b", 1);
            if (unif() < 0.4)
                g[k].cfg.kv_tokens = 16.0 * irange(800, 2500); /* pressure: preemption, admission limits */
            g[k].count = irange(1, 3);
            for (int c = 0; c < wl.n_classes; c++)
                g[k].class_share[c] = unif() < 0.8 || k == 0 ? 0.1 + unif() : 0;
        }
        wl.rate_rps = exp(log(0.05) + unif() * (log(40.0) - log(0.05)));
        wl.n_requests = (size_t)irange(150, 500);
        wl.seed = (uint64_t)trial + 1;
        fl_serve_stats a, b;
        assert_int_equal(fl_serve_simulate(g, ng, &wl, &a, NULL), FL_OK);
        assert_int_equal(fl_serve_simulate_stepping(g, ng, &wl, &b, NULL), FL_OK);
        char what[64];
        snprintf(what, sizeof what, "poisson trial %d", trial);
        check_same(&a, &b, what);
        preempted += a.preemptions;
        total_steps += a.steps;
        total_events += a.events;
        assert_true(b.events >= b.steps); /* the reference handles every iteration */
    }
    assert_true(preempted > 0);                /* the set exercises preemption */
    assert_true(total_events * 4 < total_steps); /* and the event path skips most iterations */
}

/* Random traces: bursts, idle gaps and a few very long outputs. */
static void test_trace_random(void **state)
{
    (void)state;
    size_t longest = 0;
    for (int trial = 0; trial < 20; trial++) {
        size_t n = (size_t)irange(20, 300);
        fl_serve_request *tr = calloc(n, sizeof *tr);
        assert_non_null(tr);
        double t = 0;
        for (size_t i = 0; i < n; i++) {
            t += unif() < 0.2 ? 0 : -log(1 - unif()) * (unif() < 0.1 ? 30.0 : 0.4);
            tr[i].arrival = t;
            tr[i].input = irange(1, 4000);
            tr[i].output = unif() < 0.05 ? irange(10000, 40000) : irange(1, 800);
            tr[i].cls = irange(0, 1);
            if ((size_t)tr[i].output > longest)
                longest = (size_t)tr[i].output;
        }
        fl_serve_group g[2];
        memset(g, 0, sizeof g);
        int ng = irange(1, 2);
        for (int k = 0; k < ng; k++) {
            g[k].cfg = cfg(gpus[irange(0, 1)], "llama3-8b", 1);
            if (unif() < 0.5)
                g[k].cfg.kv_tokens = 16.0 * irange(2700, 6000);
            g[k].count = irange(1, 2);
            g[k].class_share[0] = g[k].class_share[1] = 1;
        }
        fl_serve_workload wl;
        memset(&wl, 0, sizeof wl);
        wl.n_classes = 2;
        wl.classes[0] = (fl_request_class){512, 128, 0.5};
        wl.classes[1] = (fl_request_class){2048, 256, 0.5};
        wl.trace = tr;
        wl.n_trace = n;
        wl.seed = (uint64_t)trial + 100;
        fl_serve_stats a, b;
        assert_int_equal(fl_serve_simulate(g, ng, &wl, &a, NULL), FL_OK);
        assert_int_equal(fl_serve_simulate_stepping(g, ng, &wl, &b, NULL), FL_OK);
        char what[64];
        snprintf(what, sizeof what, "trace trial %d", trial);
        check_same(&a, &b, what);
        free(tr);
    }
    assert_true(longest >= 10000);
}

/* One request of 1,000,000 output tokens: a few events, the same result as stepping. */
static void test_million_token_request(void **state)
{
    (void)state;
    fl_serve_group g;
    memset(&g, 0, sizeof g);
    g.cfg = cfg("H100-SXM-80GB", "llama3-8b", 1);
    g.cfg.kv_tokens = 1100000; /* a cache that holds it (the model check is the planner's job) */
    g.count = 1;
    g.class_share[0] = 1;
    fl_serve_request r = {0, 5, 1000000, 0, 0};
    fl_serve_workload wl;
    memset(&wl, 0, sizeof wl);
    wl.n_classes = 1;
    wl.classes[0] = (fl_request_class){5, 1000000, 1};
    wl.trace = &r;
    wl.n_trace = 1;
    fl_serve_stats a, b;
    assert_int_equal(fl_serve_simulate(&g, 1, &wl, &a, NULL), FL_OK);
    assert_int_equal(a.completed, 1);
    assert_int_equal(a.steps, 1000000); /* one prefill iteration (first token) + 999,999 decodes */
    assert_true(a.events <= 4);
    /* the run's end equals the series summed term by term */
    double t = fl_serve_step_time(&g.cfg, 5, 1, 15, 0, NULL, NULL);
    for (int k = 1; k < 1000000; k++)
        t += fl_serve_step_time(&g.cfg, 1, 1, 0, 5.0 + k, NULL, NULL);
    assert_true(fabs(a.e2e_p50 - t) <= 1e-6 * t);
    assert_int_equal(fl_serve_simulate_stepping(&g, 1, &wl, &b, NULL), FL_OK);
    check_same(&a, &b, "1M tokens");
}

/* A deadline in the past stops a long simulation with a time_limit error. */
static void test_deadline(void **state)
{
    (void)state;
    fl_serve_group g;
    memset(&g, 0, sizeof g);
    g.cfg = cfg("H100-SXM-80GB", "llama3-8b", 1);
    g.count = 1;
    g.class_share[0] = 1;
    fl_serve_workload wl;
    memset(&wl, 0, sizeof wl);
    wl.n_classes = 1;
    wl.classes[0] = (fl_request_class){512, 64, 1};
    wl.rate_rps = 5;
    wl.n_requests = 20000;
    fl_serve_stats st;
    fl_error err;
    fl_serve_set_deadline(fl_serve_now() - 1);
    fl_status rc = fl_serve_simulate(&g, 1, &wl, &st, &err);
    fl_serve_set_deadline(0);
    assert_int_equal(rc, FL_EINFEASIBLE);
    assert_int_equal(err.code, FL_EINFEASIBLE);
    assert_non_null(strstr(err.message, "time_limit"));
    assert_int_equal(fl_serve_simulate(&g, 1, &wl, &st, &err), FL_OK);
    assert_int_equal(st.completed, 20000);
}

/* The early stop (capacity search): it fires only when the p90 is sure to exceed the bound, and
 * a run that meets the bound is unchanged by it. */
static void test_early_stop(void **state)
{
    (void)state;
    fl_serve_group g;
    memset(&g, 0, sizeof g);
    g.cfg = cfg("A100-SXM-80GB", "llama3-8b", 1);
    g.count = 1;
    g.class_share[0] = 1;
    fl_serve_workload wl;
    memset(&wl, 0, sizeof wl);
    wl.n_classes = 1;
    wl.classes[0] = (fl_request_class){1024, 300, 1};
    wl.n_requests = 400;
    wl.seed = 5;
    int met = 0, stopped = 0;
    for (int k = 0; k < 6; k++) {
        wl.rate_rps = 2.0 + 4.0 * k; /* from easy to overloaded */
        wl.stop_ttft = wl.stop_tpot = 0;
        fl_serve_stats full, st;
        assert_int_equal(fl_serve_simulate(&g, 1, &wl, &full, NULL), FL_OK);
        double bt = 0.5, bp = 0.04;
        wl.stop_ttft = bt;
        wl.stop_tpot = bp;
        fl_error err;
        fl_status rc = fl_serve_simulate(&g, 1, &wl, &st, &err);
        int meets = full.ttft_p90 <= bt && full.tpot_p90 <= bp;
        if (meets) {
            met++;
            assert_int_equal(rc, FL_OK);
            assert_true(full.ttft_p90 == st.ttft_p90 && full.tpot_p90 == st.tpot_p90 && full.steps == st.steps);
        } else if (rc == FL_OK) {
            /* not stopped: then the outcome itself shows the miss */
            assert_false(st.ttft_p90 <= bt && st.tpot_p90 <= bp);
        } else {
            stopped++;
            assert_int_equal(rc, FL_EINFEASIBLE);
            assert_string_equal(err.field, "slo");
        }
    }
    assert_true(met > 0 && stopped > 0);
}

/* A serving job replaying a trace keeps its SLO (it used to be dropped when classes were absent). */
static void test_trace_job_keeps_slo(void **state)
{
    (void)state;
    fl_job *job = NULL;
    fl_error err;
    const char *js = "{\"kind\":\"serving\",\"model\":\"llama3-8b\",\"workload\":{\"trace\":\"t.csv\"},"
                     "\"slo\":{\"ttft_p90_s\":2,\"tpot_p90_s\":0.1}}";
    assert_int_equal(fl_job_from_json(cat, js, &job, &err), FL_OK);
    assert_true(job->serve[0].ttft_p90_s == 2 && job->serve[0].tpot_p90_s == 0.1);
    fl_job_free(job);
    const char *bad = "{\"kind\":\"serving\",\"model\":\"llama3-8b\",\"workload\":{\"trace\":\"t.csv\"},"
                      "\"slo\":{\"ttft_p90_s\":-2}}";
    assert_int_equal(fl_job_from_json(cat, bad, &job, &err), FL_EINVAL);
    assert_non_null(strstr(err.message, "ttft_p90_s"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_poisson_random),
        cmocka_unit_test(test_trace_random),
        cmocka_unit_test(test_million_token_request),
        cmocka_unit_test(test_deadline),
        cmocka_unit_test(test_early_stop),
        cmocka_unit_test(test_trace_job_keeps_slo),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
