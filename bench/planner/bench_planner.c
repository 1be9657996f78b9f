/* bench/planner/bench_planner.c — training planner speed on growing availabilities.
 *
 * Scenarios (issue 4): 128 A100 in one zone; 256 A100 + 256 V100 in one zone; 3 GPU types x
 * 256 GPUs x 5 zones; 10 GPU types x 4096 GPUs x 20 zones (the zones of the built-in catalog
 * offering the most GPU types). Prints wall time, candidates, templates, MILP solves, the
 * solver status, the plan's simulated throughput and cost, and the planner's estimated
 * iteration time next to the simulated one (est_s / sim_s: the model's accuracy). Usage:
 *   bench_planner [MODEL] [OBJECTIVE] [SCENARIO]   (defaults gpt3-13b, max_throughput, all;
 *   SCENARIO 1..4 runs only that one, e.g. for profiling; a 4th argument "dump" also prints
 *   each plan document to stderr; a 5th argument is job.target, e.g.
 *   `bench_planner gpt3-13b max_throughput 0 - megatron`: its wall time includes the second,
 *   unconstrained plan the target report needs) */
#include "flotilla/flotilla.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* 1 when `zone` has an offering of `gpu`. */
static int offers(const fl_catalog *cat, const char *zone, const char *gpu)
{
    for (size_t i = 0; i < fl_catalog_offering_count(cat); i++) {
        const fl_offering *o = fl_catalog_offering(cat, i);
        if (strcmp(o->zone, zone) == 0 && strcmp(o->gpu, gpu) == 0)
            return 1;
    }
    return 0;
}

/* Fill av with `count` GPUs of each of the first n_types of `types` in up to n_zones zones
 * that offer the most of them. Returns the number of (zone, type) cells set. */
static int fill(const fl_catalog *cat, fl_availability *av, const char *const *types, int n_types, int n_zones, int count)
{
    size_t nz = fl_catalog_zone_count(cat);
    int *score = calloc(nz, sizeof *score), cells = 0;
    for (size_t z = 0; z < nz; z++)
        for (int t = 0; t < n_types; t++)
            score[z] += offers(cat, fl_catalog_zone(cat, z)->name, types[t]);
    for (int k = 0; k < n_zones; k++) {
        size_t best = 0;
        for (size_t z = 1; z < nz; z++)
            if (score[z] > score[best])
                best = z;
        if (score[best] <= 0)
            break;
        const char *zn = fl_catalog_zone(cat, best)->name;
        for (int t = 0; t < n_types; t++)
            if (offers(cat, zn, types[t]) && fl_availability_set(av, zn, types[t], count, NULL) == FL_OK)
                cells++;
        score[best] = -1;
    }
    free(score);
    return cells;
}

int main(int argc, char **argv)
{
    const char *model = argc > 1 ? argv[1] : "gpt3-13b";
    const char *objective = argc > 2 ? argv[2] : "max_throughput";
    int only = argc > 3 ? atoi(argv[3]) : 0;
    int dump = argc > 4 && strcmp(argv[4], "dump") == 0;
    const char *target = argc > 5 ? argv[5] : "flotilla"; /* job.target */
    fl_catalog *cat;
    fl_error err;
    if (fl_catalog_open(NULL, &cat, &err)) {
        fprintf(stderr, "catalog: %s\n", err.message);
        return 1;
    }
    static const char *const ten[] = {"A100-SXM-40GB", "V100-SXM2-16GB", "L4-24GB", "A100-SXM-80GB", "H100-SXM-80GB",
                                      "T4-16GB", "A10G-24GB", "H200-SXM-141GB", "L40S-48GB", "A100-PCIE-40GB"};
    static const char *const a100[] = {"A100-SXM-40GB"};
    static const char *const a100_v100[] = {"A100-SXM-40GB", "V100-SXM2-16GB"};
    static const char *const three[] = {"A100-SXM-40GB", "V100-SXM2-16GB", "L4-24GB"};
    struct { const char *name; const char *const *types; int nt, nz, count; } sc[] = {
        {"128 A100, 1 zone", a100, 1, 1, 128},
        {"256 A100 + 256 V100, 1 zone", a100_v100, 2, 1, 256},
        {"3 types x 256 GPUs x 5 zones", three, 3, 5, 256},
        {"10 types x 4096 GPUs x 20 zones", ten, 10, 20, 4096},
    };
    char job_text[512];
    snprintf(job_text, sizeof job_text,
             "{\"kind\":\"training\",\"model\":\"%s\",\"global_batch\":1536,\"seq_len\":2048,"
             "\"recompute\":\"auto\",\"objective\":\"%s\",\"budget_per_hour\":2000,\"target\":\"%s\"}",
             model, objective, target);
    fl_job *job;
    if (fl_job_from_json(cat, job_text, &job, &err)) {
        fprintf(stderr, "job: %s\n", err.message);
        return 1;
    }
    printf("model %s, objective %s, global batch 1536, budget $2000/h, target %s\n", model, objective, target);
    printf("%-34s %6s %9s %8s %8s %11s %10s %7s %9s %12s %10s %6s %8s %8s\n", "scenario", "cells", "wall_s", "tpl_s", "milp_s",
           "candidates", "templates", "solves", "status", "tokens/s", "$/h", "gpus", "est_s", "sim_s");
    int rc = 0;
    for (size_t i = 0; i < sizeof sc / sizeof sc[0]; i++) {
        if (only > 0 && (size_t)only != i + 1)
            continue;
        fl_availability *av;
        fl_availability_new(cat, &av, NULL);
        int cells = fill(cat, av, sc[i].types, sc[i].nt, sc[i].nz, sc[i].count);
        fl_plan_options opts;
        fl_plan_options_init(&opts);
        opts.time_limit_s = 10;
        fl_plan *plan = NULL;
        double t0 = now_s();
        fl_status st = fl_plan_job(cat, job, av, &opts, &plan, &err);
        double dt = now_s() - t0;
        if (st) {
            printf("%-34s %6d %9.3f  failed: %s\n", sc[i].name, cells, dt, err.message);
            rc = 1;
        } else {
            char *s = fl_plan_to_json(plan, 0);
            json_t *doc = json_loads(s, 0, NULL);
            if (dump)
                fprintf(stderr, "%s\n", s);
            json_t *so = json_object_get(doc, "solver"), *sim = json_object_get(doc, "simulation");
            fl_plan_summary sum;
            fl_plan_get_summary(plan, &sum, NULL);
            printf("%-34s %6d %9.3f %8.3f %8.3f %11lld %10lld %7lld %9s %12.4g %10.2f %6d %8.3f %8.3f\n", sc[i].name, cells, dt,
                   json_number_value(json_object_get(so, "template_time_s")),
                   json_number_value(json_object_get(so, "milp_time_s")),
                   (long long)json_integer_value(json_object_get(so, "candidates")),
                   (long long)json_integer_value(json_object_get(so, "templates")),
                   (long long)json_integer_value(json_object_get(so, "milp_solves")),
                   json_string_value(json_object_get(so, "status")),
                   json_number_value(json_object_get(sim, "tokens_per_s")),
                   json_number_value(json_object_get(sim, "cost_per_hour")), sum.gpus,
                   json_number_value(json_object_get(so, "estimated_iteration_s")),
                   json_number_value(json_object_get(sim, "iteration_s")));
            json_decref(doc);
            fl_free(s);
        }
        fl_plan_free(plan);
        fl_availability_free(av);
    }
    fl_job_free(job);
    fl_catalog_free(cat);
    return rc;
}
