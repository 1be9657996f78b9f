/* bench/whatif/bench_whatif.c — what-if replay speed: generates an availability trace of N events
 * (default 10 000) over 20 zones and 4 GPU types with a fixed seed and replays it for
 *   1. bench/whatif/job_all_zones.json: a training job that may use every zone and the trace's 4
 *      GPU types (the real case: every event about an offered (zone, GPU) matters), then
 *   2. tests/data/whatif/job_small.json: the same job limited to two zones (most events skipped).
 * Prints per job: events, skipped events, planner threads, planner calls, cache hits, regions
 * skipped by their bound, wall and CPU time, and the totals per policy. With --check it also
 * replays the trace with the slow reference (plan from scratch at every event, no cache) and
 * compares every event's plan, the timeline and the totals. --threads N sets the replay's planner
 * threads (default 0: one per online CPU; 1: everything on one thread). Run from the source root:
 *   bench_whatif [JOB.json|-] [EVENTS|-] [TRACE_OUT.csv|-] [--check] [--threads N]   (- = defaults) */
#include "flotilla/flotilla.h"
#include "whatif/whatif_internal.h"
#include "common/json_util.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double wall_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static double cpu_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The trace: every (zone, GPU) at 16 at time 0, then one random row per event (fixed seed). */
static char *make_trace(const fl_catalog *cat, int events, int *n_zones)
{
    /* 20 zones that offer GPUs, the two zones of job_small.json first */
    const char *zones[20];
    int nz = 0;
    zones[nz++] = "gcp:us-central1-a";
    zones[nz++] = "gcp:us-central1-b";
    for (size_t i = 0; i < fl_catalog_offering_count(cat) && nz < 20; i++) {
        const fl_offering *o = fl_catalog_offering(cat, i);
        int seen = 0;
        for (int k = 0; k < nz; k++)
            seen |= strcmp(zones[k], o->zone) == 0;
        if (!seen)
            zones[nz++] = o->zone;
    }
    static const char *gpus[] = {"A100-SXM-40GB", "V100-SXM2-16GB", "H100-SXM-80GB", "L4-24GB"};
    static const int levels[] = {0, 8, 16, 32};
    size_t cap = ((size_t)events + 4 * 20) * 64 + 64;
    char *csv = malloc(cap);
    if (!csv)
        return NULL;
    size_t len = (size_t)snprintf(csv, cap, "time_s,zone,gpu,count\n");
    uint64_t s = 42;
    for (int z = 0; z < nz; z++)
        for (int g = 0; g < 4; g++)
            len += (size_t)snprintf(csv + len, cap - len, "0,%s,%s,16\n", zones[z], gpus[g]);
    for (int e = 1; e < events; e++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        int z = (int)((s >> 33) % (uint64_t)nz), g = (int)((s >> 40) % 4), l = (int)((s >> 50) % 4);
        len += (size_t)snprintf(csv + len, cap - len, "%d,%s,%s,%d\n", e * 60, zones[z], gpus[g], levels[l]);
    }
    *n_zones = nz;
    return csv;
}

/* Replay csv for the job at job_path; prints one summary; with check also the reference. */
static int bench_job(const fl_catalog *cat, const char *job_path, const char *csv, int check, int threads)
{
    char *jt = NULL;
    fl_job *job;
    fl_error err;
    if (fl_read_file(job_path, "job", &jt, NULL, &err) || fl_job_from_json(cat, jt, &job, &err)) {
        fprintf(stderr, "%s%s\n", err.message, jt ? "" : " (run from the source root)");
        free(jt);
        return 1;
    }
    fl_whatif_internal in = {.reference = 0, .keep_plans = check};
    fl_whatif_options wo;
    fl_whatif_options_init(&wo);
    wo.threads = threads;
    double w0 = wall_s(), c0 = cpu_s();
    fl_whatif_report *r;
    if (fl_whatif_replay_internal(cat, job, NULL, csv, &wo, &in, &r, &err)) {
        fprintf(stderr, "replay: %s\n", err.message);
        return 1;
    }
    double wall = wall_s() - w0, cpu = cpu_s() - c0;
    json_t *d = r->doc;
    printf("%s: events %lld, skipped (nothing the job may use changed) %lld, planner threads %d, planner calls %lld, "
           "cache hits %lld, regions skipped by bound %lld, wall time %.2f s (cpu %.2f s)\n",
           job_path, (long long)json_integer_value(json_object_get(d, "events")),
           (long long)json_integer_value(json_object_get(d, "skipped_events")), threads > 0 ? threads : (int)sysconf(_SC_NPROCESSORS_ONLN),
           (long long)json_integer_value(json_object_get(d, "planner_calls")),
           (long long)json_integer_value(json_object_get(d, "cache_hits")),
           (long long)json_integer_value(json_object_get(d, "regions_skipped_by_bound")), wall, cpu);
    const char *pol[] = {"migration_aware", "keep_first", "replan_always"};
    for (int k = 0; k < 3; k++) {
        fl_whatif_totals t;
        fl_whatif_report_totals(r, pol[k], &t, &err);
        printf("  %-16s work (tokens or requests) %.6g, dollars %.2f, migrations %d\n", pol[k], t.work, t.dollars,
               t.migrations);
    }
    int rc = 0;
    if (check) {
        fl_whatif_internal ref_in = {.reference = 1, .keep_plans = 1};
        fl_whatif_report *ref;
        w0 = wall_s();
        if (fl_whatif_replay_internal(cat, job, NULL, csv, NULL, &ref_in, &ref, &err)) {
            fprintf(stderr, "reference replay: %s\n", err.message);
            return 1;
        }
        size_t bad = 0, n = json_array_size(json_object_get(d, "plans"));
        for (size_t e = 0; e < n; e++)
            bad += !json_equal(json_array_get(json_object_get(d, "plans"), e),
                               json_array_get(json_object_get(ref->doc, "plans"), e)) ||
                   !json_equal(json_array_get(json_object_get(d, "timeline"), e),
                               json_array_get(json_object_get(ref->doc, "timeline"), e));
        int same_totals = json_equal(json_object_get(d, "totals"), json_object_get(ref->doc, "totals"));
        printf("  reference (plan from scratch at every event): %.2f s; events that differ %zu of %zu, totals %s\n",
               wall_s() - w0, bad, n, same_totals ? "equal" : "DIFFER");
        rc = bad || !same_totals;
        fl_whatif_report_free(ref);
    }
    fl_whatif_report_free(r);
    fl_job_free(job);
    free(jt);
    return rc;
}

int main(int argc, char **argv)
{
    const char *job_arg = argc > 1 && strcmp(argv[1], "-") != 0 ? argv[1] : NULL;
    int events = argc > 2 && strcmp(argv[2], "-") != 0 ? atoi(argv[2]) : 10000;
    const char *trace_out = argc > 3 && strcmp(argv[3], "-") != 0 ? argv[3] : NULL;
    int check = 0, threads = 0;
    for (int i = 4; i < argc; i++) {
        if (strcmp(argv[i], "--check") == 0)
            check = 1;
        else if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc)
            threads = atoi(argv[++i]);
    }
    if (threads < 0)
        threads = 0;
    if (events < 1)
        events = 1;
    fl_catalog *cat;
    fl_error err;
    if (fl_catalog_open(NULL, &cat, &err)) {
        fprintf(stderr, "%s\n", err.message);
        return 1;
    }
    int nz = 0;
    char *csv = make_trace(cat, events, &nz);
    if (!csv) {
        fprintf(stderr, "out of memory\n");
        return 1;
    }
    if (trace_out) {
        FILE *f = fopen(trace_out, "w");
        if (f) {
            fputs(csv, f);
            fclose(f);
        }
    }
    printf("whatif replay: %d trace events over %d zones x 4 GPU types\n", events, nz);
    int rc = 0;
    if (job_arg) {
        rc = bench_job(cat, job_arg, csv, check, threads);
    } else {
        rc = bench_job(cat, "bench/whatif/job_all_zones.json", csv, check, threads);
        rc |= bench_job(cat, "tests/data/whatif/job_small.json", csv, check, threads);
    }
    free(csv);
    fl_catalog_free(cat);
    return rc;
}
