/* bench/whatif/bench_whatif.c — what-if replay speed: generates an availability trace of N events
 * (default 10 000) over 20 zones and 4 GPU types with a fixed seed, replays it for a training job
 * (tests/data/whatif/job_small.json or argv[1]) and prints events, planner calls, cache hits and
 * the wall time. Usage: bench_whatif [JOB.json] [EVENTS] [TRACE_OUT.csv] */
#include "flotilla/flotilla.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    if (b)
        b[n] = 0;
    fclose(f);
    return b;
}

int main(int argc, char **argv)
{
    const char *job_path = argc > 1 ? argv[1] : "tests/data/whatif/job_small.json";
    int events = argc > 2 ? atoi(argv[2]) : 10000;
    fl_catalog *cat;
    fl_error err;
    if (fl_catalog_open(NULL, &cat, &err)) {
        fprintf(stderr, "%s\n", err.message);
        return 1;
    }
    char *jt = slurp(job_path);
    fl_job *job;
    if (!jt || fl_job_from_json(cat, jt, &job, &err)) {
        fprintf(stderr, "job %s: %s\n", job_path, jt ? err.message : "cannot read");
        return 1;
    }
    /* 20 zones that offer A100-SXM-40GB or V100-SXM2-16GB, the job's two zones first */
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
    size_t cap = (size_t)events * 64 + 64;
    char *csv = malloc(cap);
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
    if (argc > 3) {
        FILE *f = fopen(argv[3], "w");
        if (f) {
            fputs(csv, f);
            fclose(f);
        }
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    fl_whatif_report *r;
    if (fl_whatif_replay(cat, job, NULL, csv, NULL, &r, &err)) {
        fprintf(stderr, "replay: %s\n", err.message);
        return 1;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    char *js = fl_whatif_report_to_json(r, 0);
    const char *p = strstr(js, "\"events\"");
    long ev = 0, sk = 0, pc = 0, ch = 0, ru = 0;
    if (p)
        sscanf(p, "\"events\": %ld, \"skipped_events\": %ld, \"planner_calls\": %ld, \"cache_hits\": %ld, "
               "\"reused_plans\": %ld", &ev, &sk, &pc, &ch, &ru);
    printf("whatif replay: %d trace events over %d zones x 4 GPU types\n", events, nz);
    printf("  events %ld, skipped (irrelevant to the job) %ld, planner calls %ld, cache hits %ld, reused "
           "(decrease, plan still fits) %ld\n", ev, sk, pc, ch, ru);
    const char *pol[] = {"migration_aware", "keep_first", "replan_always"};
    for (int k = 0; k < 3; k++) {
        fl_whatif_totals t;
        fl_whatif_report_totals(r, pol[k], &t, &err);
        printf("  %-16s work (tokens or requests) %.4g, dollars %.2f, migrations %d\n", pol[k], t.work, t.dollars, t.migrations);
    }
    printf("  wall time %.2f s\n", secs);
    fl_free(js);
    fl_whatif_report_free(r);
    fl_job_free(job);
    fl_catalog_free(cat);
    free(jt);
    free(csv);
    return 0;
}
