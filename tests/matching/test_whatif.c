/* tests/matching/test_whatif.c — what-if replay and scenarios, trace errors (with line numbers),
 * and the keep/move rule of migration-aware replanning. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "flotilla/flotilla.h"
#include "whatif/replan.h"
#include "planner/train_regions.h"
#include "whatif/whatif_internal.h"
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

/* ---- region decomposition and the replay's caches against planning from scratch ---- */

/* Cells of four regions offering the job's GPU types (gcp us-central1, aws aps1, apne1, apne2). */
static const char *const region_cells[][2] = {
    {"gcp:us-central1-a", "A100-SXM-40GB"}, {"gcp:us-central1-a", "H100-SXM-80GB"},
    {"gcp:us-central1-a", "L4-24GB"},       {"gcp:us-central1-b", "A100-SXM-40GB"},
    {"gcp:us-central1-b", "V100-SXM2-16GB"}, {"aws:aps1-az1", "A100-SXM-40GB"},
    {"aws:aps1-az1", "H100-SXM-80GB"},      {"aws:aps1-az3", "L4-24GB"},
    {"aws:aps1-az3", "H100-SXM-80GB"},      {"aws:apne1-az1", "A100-SXM-40GB"},
    {"aws:apne1-az1", "H100-SXM-80GB"},     {"aws:apne2-az2", "A100-SXM-40GB"},
    {"aws:apne2-az1", "H100-SXM-80GB"},
};
#define N_REGION_CELLS ((int)(sizeof region_cells / sizeof region_cells[0]))
static const int region_levels[] = {0, 8, 16, 32};
static const char *const region_prefixes[] = {"gcp:", "aws:aps1", "aws:apne1", "aws:apne2"}; /* zones per region */

/* One setting (micro-batch 4, no recomputation) keeps each plan cheap. */
static fl_job *region_job(const char *objective)
{
    char text[512];
    snprintf(text, sizeof text,
             "{\"kind\":\"training\",\"model\":\"gpt3-1.3b\",\"global_batch\":256,\"seq_len\":2048,"
             "\"recompute\":\"none\",\"micro_batch\":4,\"objective\":\"%s\",\"budget_per_hour\":150,"
             "\"horizon_hours\":6,\"allow\":{\"gpus\":[\"A100-SXM-40GB\",\"V100-SXM2-16GB\",\"H100-SXM-80GB\","
             "\"L4-24GB\"],\"spot\":false}}",
             objective);
    fl_job *j = NULL;
    fl_error err;
    assert_int_equal(fl_job_from_json(cat, text, &j, &err), FL_OK);
    return j;
}

static uint64_t lcg(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return *s >> 33;
}

/* The plan without the solver's statistics (timings differ from run to run). */
static json_t *plan_part(json_t *doc)
{
    json_t *d = json_deep_copy(doc);
    json_object_del(d, "solver");
    return d;
}

/* The region of every resource of a plan (asserts there is exactly one). */
static const char *plan_region(json_t *doc)
{
    const char *region = NULL;
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(doc, "resources"), i, r) {
        int z = fl_catalog_find_zone(cat, json_string_value(json_object_get(r, "zone")), "zone", NULL);
        assert_true(z >= 0);
        const char *rz = fl_catalog_zone(cat, (size_t)z)->region;
        if (region)
            assert_string_equal(region, rz);
        region = rz;
    }
    assert_non_null(region);
    return region;
}

/* For random availabilities over four regions, the best of the per-region plans (recombined as
 * the replay does: every usable region planned, fl_train_better) equals fl_plan_job's plan (which
 * skips regions by their objective bound), every region's plan is within its bound, and
 * a plan never leaves its region. Covers a single usable region and no plan at all. */
static void test_regions_recombine(void **state)
{
    (void)state;
    const char *objectives[] = {"max_throughput", "min_cost", "max_throughput_per_dollar"};
    uint64_t seed = 7;
    int winners_differ = 0;
    for (int o = 0; o < 3; o++) {
        fl_job *j = region_job(objectives[o]);
        const char *first_winner = NULL;
        for (int sample = 0; sample < 6; sample++) {
            fl_availability *av;
            fl_error err;
            assert_int_equal(fl_availability_new(cat, &av, &err), FL_OK);
            for (int c = 0; c < N_REGION_CELLS; c++) {
                int n = region_levels[lcg(&seed) % 4];
                if (sample == 4 && c >= 5)
                    n = 0; /* only gcp us-central1 usable */
                if (sample == 5)
                    n = c == 2 ? 1 : 0; /* one L4: nothing fits anywhere */
                assert_int_equal(fl_availability_set(av, region_cells[c][0], region_cells[c][1], n, &err), FL_OK);
            }
            fl_plan *plan = NULL;
            fl_error perr;
            fl_status prc = fl_plan_job(cat, j, av, NULL, &plan, &perr);
            const char *names[16];
            int nu = fl_train_usable_regions(cat, j, av, names, 16);
            assert_true(nu <= 16);
            if (sample == 4)
                assert_int_equal(nu, 1);
            json_t *best = NULL;
            const char *best_name = NULL;
            double best_score = 0;
            fl_plan_options po;
            fl_plan_options_init(&po);
            for (int i = 0; i < nu; i++) {
                json_t *doc = NULL;
                double score = 0;
                fl_status rc = fl_train_plan_region(cat, j, av, names[i], &po, &doc, &score, &err);
                assert_true(rc == FL_OK || rc == FL_EINFEASIBLE);
                /* the bound that lets the planner and the replay skip regions really bounds */
                double bound = fl_train_region_bound(cat, j, av, names[i]);
                if (rc == FL_OK && !(score <= bound))
                    fail_msg("%s sample %d region %s: plan objective %.9g above its bound %.9g", objectives[o], sample,
                             names[i], score, bound);
                if (rc == FL_OK && fl_train_better(score, names[i], best != NULL, best_score, best_name)) {
                    json_decref(best);
                    best = doc;
                    best_name = names[i];
                    best_score = score;
                } else {
                    json_decref(doc);
                }
            }
            if (sample == 5) {
                assert_int_equal(prc, FL_EINFEASIBLE);
                assert_null(best);
            } else {
                assert_int_equal(prc, FL_OK);
                assert_non_null(best);
                json_t *a = plan_part(plan->doc), *b = plan_part(best);
                if (!json_equal(a, b))
                    fail_msg("%s sample %d: recombined region plans differ from fl_plan_job", objectives[o], sample);
                const char *w = plan_region(plan->doc);
                if (first_winner && strcmp(first_winner, w) != 0)
                    winners_differ = 1;
                first_winner = w;
                json_decref(a);
                json_decref(b);
            }
            json_decref(best);
            fl_plan_free(plan);
            fl_availability_free(av);
        }
        fl_job_free(j);
    }
    assert_true(winners_differ); /* the samples exercise the choice between regions */
}

/* A trace over four regions — each cell alone, then each region, dropping to 0 and coming back
 * (a cache keyed on too little would hit here), then random events
 * (rows the job cannot use, events touching two regions at once, a whole region going away,
 * returns to earlier availabilities) — the replay with its caches, on one thread and with the
 * two-thread prefetch, gives at every event exactly the plan, timeline row and totals of the
 * reference that plans from scratch and steps every policy at every event. Returns how many
 * region plans the one-thread replay skipped by their bound. */
static long replay_against_reference(const char *objective, uint64_t seed, int n_events)
{
    fl_job *j = region_job(objective);
    size_t cap = 64 * (size_t)(n_events + 1) * (N_REGION_CELLS + 2), len = 0;
    char *csv = malloc(cap);
    int cur[N_REGION_CELLS], saved[N_REGION_CELLS];
    int (*states)[N_REGION_CELLS] = malloc((size_t)n_events * sizeof *states); /* counts after each event */
    len += (size_t)snprintf(csv + len, cap - len, "time_s,zone,gpu,count\n");
    for (int c = 0; c < N_REGION_CELLS; c++) {
        cur[c] = saved[c] = 16;
        len += (size_t)snprintf(csv + len, cap - len, "0,%s,%s,16\n", region_cells[c][0], region_cells[c][1]);
    }
    memcpy(states[0], cur, sizeof cur);
    for (int e = 1; e < n_events; memcpy(states[e], cur, sizeof cur), e++) {
        int kind = (int)(lcg(&seed) % 10), t = 600 * e;
        if (e <= 2 * N_REGION_CELLS) { /* first each cell alone drops to 0 and comes back */
            int c = (e - 1) / 2;
            cur[c] = e % 2 ? 0 : 16;
            len += (size_t)snprintf(csv + len, cap - len, "%d,%s,%s,%d\n", t, region_cells[c][0], region_cells[c][1],
                                    cur[c]);
            continue;
        }
        if (e <= 2 * N_REGION_CELLS + 8) { /* then each region goes away and comes back */
            int k = e - 2 * N_REGION_CELLS - 1;
            const char *pre = region_prefixes[k / 2];
            for (int c = 0; c < N_REGION_CELLS; c++)
                if (strncmp(region_cells[c][0], pre, strlen(pre)) == 0) {
                    cur[c] = k % 2 ? 16 : 0;
                    len += (size_t)snprintf(csv + len, cap - len, "%d,%s,%s,%d\n", t, region_cells[c][0],
                                            region_cells[c][1], cur[c]);
                }
            continue;
        }
        if (kind == 0) { /* rows the job cannot use (a zone without these offerings, a GPU it does not
                          * allow), sometimes followed in the same event by one it can */
            len += (size_t)snprintf(csv + len, cap - len, "%d,aws:apne1-az2,A100-SXM-40GB,%d\n", t, (int)(lcg(&seed) % 32));
            len += (size_t)snprintf(csv + len, cap - len, "%d,gcp:us-central1-a,T4-16GB,%d\n", t, (int)(lcg(&seed) % 32));
            if (lcg(&seed) % 2) {
                int c = (int)(lcg(&seed) % N_REGION_CELLS);
                cur[c] = region_levels[lcg(&seed) % 4];
                len += (size_t)snprintf(csv + len, cap - len, "%d,%s,%s,%d\n", t, region_cells[c][0],
                                        region_cells[c][1], cur[c]);
            }
        } else if (kind == 1) { /* back to an earlier availability (cache hits) */
            for (int c = 0; c < N_REGION_CELLS; c++)
                if (cur[c] != saved[c]) {
                    cur[c] = saved[c];
                    len += (size_t)snprintf(csv + len, cap - len, "%d,%s,%s,%d\n", t, region_cells[c][0],
                                            region_cells[c][1], cur[c]);
                }
            len += (size_t)snprintf(csv + len, cap - len, "%d,aws:apne1-az2,A100-SXM-40GB,0\n", t);
        } else if (kind == 4) { /* a whole region goes away */
            const char *pre = region_prefixes[lcg(&seed) % 4];
            for (int c = 0; c < N_REGION_CELLS; c++)
                if (strncmp(region_cells[c][0], pre, strlen(pre)) == 0 && cur[c]) {
                    cur[c] = 0;
                    len += (size_t)snprintf(csv + len, cap - len, "%d,%s,%s,0\n", t, region_cells[c][0],
                                            region_cells[c][1]);
                }
            len += (size_t)snprintf(csv + len, cap - len, "%d,aws:apne1-az2,A100-SXM-40GB,0\n", t);
        } else {
            if (kind == 2)
                memcpy(saved, cur, sizeof saved);
            int rows = kind == 3 ? 2 : 1; /* kind 3: two cells in one event, often two regions */
            for (int k = 0; k < rows; k++) {
                int c = (int)(lcg(&seed) % N_REGION_CELLS);
                cur[c] = region_levels[lcg(&seed) % 4];
                len += (size_t)snprintf(csv + len, cap - len, "%d,%s,%s,%d\n", t, region_cells[c][0],
                                        region_cells[c][1], cur[c]);
            }
        }
    }
    /* r[0]: the replay on the calling thread (regions skipped by their bound), r[1]: the
     * reference, r[2]: the replay that prefetches every plan on two threads */
    fl_whatif_report *r[3] = {NULL, NULL, NULL};
    fl_error err;
    for (int m = 0; m < 3; m++) {
        fl_whatif_internal in = {.reference = m == 1, .keep_plans = 1};
        fl_whatif_options wo;
        fl_whatif_options_init(&wo);
        wo.threads = m == 2 ? 2 : 1;
        if (fl_whatif_replay_internal(cat, j, NULL, csv, &wo, &in, &r[m], &err) != FL_OK)
            fail_msg("%s replay %d: %s", objective, m, err.message);
    }
    json_t *ref = r[1]->doc;
    json_t *pr = json_object_get(ref, "plans"), *tr = json_object_get(ref, "timeline");
    assert_int_equal(json_array_size(pr), (size_t)n_events);
    long calls[3], skips = 0;
    for (int m = 0; m < 3; m += 2) {
        json_t *fast = r[m]->doc;
        json_t *pf = json_object_get(fast, "plans"), *tf = json_object_get(fast, "timeline");
        assert_int_equal(json_array_size(pf), (size_t)n_events);
        const char *winner = NULL;
        int regions_seen = 0;
        for (size_t e = 0; e < (size_t)n_events; e++) {
            if (!json_equal(json_array_get(pf, e), json_array_get(pr, e)))
                fail_msg("%s (%d threads): event %zu: the cached plan differs from planning from scratch", objective,
                         m ? 2 : 1, e);
            if (!json_equal(json_array_get(tf, e), json_array_get(tr, e))) {
                char *a = json_dumps(json_array_get(tf, e), JSON_SORT_KEYS),
                     *b = json_dumps(json_array_get(tr, e), JSON_SORT_KEYS);
                fail_msg("%s: event %zu: timeline %s != reference %s", objective, e, a, b);
            }
            json_t *p = json_array_get(pf, e);
            if (json_is_object(p)) {
                const char *w = plan_region(p);
                if (!winner || strcmp(winner, w) != 0)
                    regions_seen++;
                winner = w;
            }
        }
        assert_true(json_equal(json_object_get(fast, "totals"), json_object_get(ref, "totals")));
        /* the caches were really used, and the best region changed along the trace */
        calls[m] = (long)json_integer_value(json_object_get(fast, "planner_calls"));
        assert_true(calls[m] < (long)json_integer_value(json_object_get(ref, "planner_calls")));
        assert_true(json_integer_value(json_object_get(fast, "cache_hits")) > 0);
        assert_true(json_integer_value(json_object_get(fast, "skipped_events")) > 0);
        assert_true(regions_seen >= 2);
        if (m == 0)
            skips = (long)json_integer_value(json_object_get(fast, "regions_skipped_by_bound"));
    }
    /* each distinct availability of a usable region is planned exactly once by the prefetch (a
     * cache keyed on too little plans fewer), and the whole availability only when no region
     * gives a plan; on one thread, regions skipped by their bound are not planned */
    json_t *pf = json_object_get(r[0]->doc, "plans");
    json_t *seen = json_object();
    for (int e = 0; e < n_events; e++) {
        if (e > 0 && memcmp(states[e], states[e - 1], sizeof states[e]) == 0)
            continue; /* nothing the job may use changed: skipped */
        fl_availability *av;
        assert_int_equal(fl_availability_new(cat, &av, &err), FL_OK);
        for (int c = 0; c < N_REGION_CELLS; c++)
            assert_int_equal(fl_availability_set(av, region_cells[c][0], region_cells[c][1], states[e][c], &err), FL_OK);
        const char *names[16];
        int nu = fl_train_usable_regions(cat, j, av, names, 16);
        char key[512];
        for (int i = 0; i < nu; i++) {
            size_t k = (size_t)snprintf(key, sizeof key, "%s", names[i]);
            for (int c = 0; c < N_REGION_CELLS; c++) {
                int z = fl_catalog_find_zone(cat, region_cells[c][0], "zone", NULL);
                if (strcmp(fl_catalog_zone(cat, (size_t)z)->region, names[i]) == 0)
                    k += (size_t)snprintf(key + k, sizeof key - k, ",%d", states[e][c]);
            }
            json_object_set_new(seen, key, json_true());
        }
        if (!json_is_object(json_array_get(pf, (size_t)e)) && nu != 1) {
            size_t k = (size_t)snprintf(key, sizeof key, "whole");
            for (int c = 0; c < N_REGION_CELLS; c++)
                k += (size_t)snprintf(key + k, sizeof key - k, ",%d", states[e][c]);
            json_object_set_new(seen, key, json_true());
        }
        fl_availability_free(av);
    }
    long n_seen = (long)json_object_size(seen);
    assert_int_equal(calls[2], n_seen);
    assert_true(calls[0] <= n_seen && calls[0] + skips >= n_seen);
    json_decref(seen);
    free(states);
    for (int m = 0; m < 3; m++)
        fl_whatif_report_free(r[m]);
    free(csv);
    fl_job_free(j);
    return skips;
}

static void test_replay_matches_reference(void **state)
{
    (void)state;
    long skips = replay_against_reference("max_throughput", 11, 90);
    skips += replay_against_reference("max_throughput_per_dollar", 5, 50);
    assert_true(skips > 0); /* the bound really skipped regions */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_trace_errors),
        cmocka_unit_test(test_replay_small),
        cmocka_unit_test(test_skip_and_cache),
        cmocka_unit_test(test_scenarios),
        cmocka_unit_test(test_move_rule),
        cmocka_unit_test(test_regions_recombine),
        cmocka_unit_test(test_replay_matches_reference),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
