/* cli/table_train.c — human-readable table of a training plan and its simulation: resources,
 * pipelines and stages (layers, GPU, zone, tp, time, p2p, memory against capacity), iteration
 * time, throughput, cost, MFU, bubble, bottleneck, whether it fits (and why not), solver info. */
#include "cli/cli.h"

#include <math.h>
#include <string.h>

static double num(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return json_is_number(v) ? json_number_value(v) : 0.0;
}

static const char *str(json_t *o, const char *k, const char *dflt)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : dflt;
}

/* "1.23 h", "4.5 d" style duration. */
static void fmt_duration(char *buf, size_t n, double s)
{
    if (s < 120) snprintf(buf, n, "%.1f s", s);
    else if (s < 7200) snprintf(buf, n, "%.1f min", s / 60);
    else if (s < 172800) snprintf(buf, n, "%.1f h", s / 3600);
    else snprintf(buf, n, "%.1f days", s / 86400);
}

/* Display width of a UTF-8 string (code points; names are not East Asian wide text). */
static int text_width(const char *s)
{
    int w = 0;
    for (; *s; s++)
        w += ((unsigned char)*s & 0xC0) != 0x80;
    return w;
}

/* Print s left-aligned in a column of `width` display columns (multi-byte safe). */
static void cell(FILE *f, const char *s, int width)
{
    fputs(s, f);
    for (int w = text_width(s); w < width; w++)
        fputc(' ', f);
}

/* Widest value of key over the objects of arr (at least `min`, the header's width). */
static int col_width(json_t *arr, const char *key, const char *dflt, int min)
{
    size_t i;
    json_t *o;
    json_array_foreach(arr, i, o) {
        int w = text_width(str(o, key, dflt));
        if (w > min)
            min = w;
    }
    return min;
}

static void print_resources(FILE *f, json_t *doc)
{
    json_t *res = json_object_get(doc, "resources"), *r;
    size_t i;
    if (!json_is_array(res) || json_array_size(res) == 0)
        return;
    int wz = col_width(res, "zone", "?", 22), wg = col_width(res, "gpu", "?", 16), wi = col_width(res, "instance_type", "-", 20);
    fputs("Resources\n  ", f);
    cell(f, "zone", wz + 1);
    cell(f, "gpu", wg + 1);
    cell(f, "instance", wi);
    fprintf(f, " %5s %5s %10s\n", "gpus", "inst", "$/h each");
    json_array_foreach(res, i, r) {
        fputs("  ", f);
        cell(f, str(r, "zone", "?"), wz + 1);
        cell(f, str(r, "gpu", "?"), wg + 1);
        cell(f, str(r, "instance_type", "-"), wi);
        fprintf(f, " %5d %5d %10.2f%s\n", (int)num(r, "gpus_per_instance"), (int)num(r, "instances"),
                num(r, "price_per_hour"), json_is_true(json_object_get(r, "spot")) ? " spot" : "");
    }
}

void cli_print_training_plan(FILE *f, json_t *doc)
{
    json_t *model = json_object_get(doc, "model");
    const char *mname = json_is_string(model) ? json_string_value(model) : str(model, "name", "custom");
    json_t *par = json_object_get(doc, "parallelism");
    json_t *sim = json_object_get(doc, "simulation");
    fprintf(f, "Training plan: %s", mname);
    if (json_is_object(par))
        fprintf(f, ", micro-batch %d, schedule %s, recompute %s, ZeRO %d", (int)fmax(1, num(par, "micro_batch")),
                str(par, "schedule", "1f1b"), str(par, "recompute", "(job)"), (int)num(par, "zero_stage"));
    fprintf(f, "\n\n");
    print_resources(f, doc);

    json_t *pipes = json_object_get(par, "pipelines"), *pl;
    json_t *sst = json_is_object(sim) ? json_object_get(sim, "stages") : NULL;
    size_t pi, k = 0;
    int wg = 16, wz = 22;
    json_array_foreach(pipes, pi, pl) {
        wg = col_width(json_object_get(pl, "stages"), "gpu", "?", wg);
        wz = col_width(json_object_get(pl, "stages"), "zone", "?", wz);
    }
    fprintf(f, "\nPipelines\n");
    fprintf(f, "  %-4s %-5s %-10s ", "pipe", "stage", "layers");
    cell(f, "gpu", wg + 1);
    cell(f, "zone", wz);
    fprintf(f, " %3s %9s %9s %9s %9s %17s\n", "tp", "fwd ms", "bwd ms", "p2p ms", "tp-comm s", "memory GB (cap)");
    json_array_foreach(pipes, pi, pl) {
        json_t *stages = json_object_get(pl, "stages"), *st;
        size_t j;
        fprintf(f, "  pipeline %zu: %d replica(s) x %d micro-batches\n", pi, (int)num(pl, "replicas"),
                (int)num(pl, "micro_batches"));
        json_array_foreach(stages, j, st) {
            json_t *ly = json_object_get(st, "layers");
            char layers[32];
            snprintf(layers, sizeof layers, "[%d,%d)", (int)json_integer_value(json_array_get(ly, 0)),
                     (int)json_integer_value(json_array_get(ly, 1)));
            json_t *r = json_is_array(sst) ? json_array_get(sst, k++) : NULL;
            fprintf(f, "  %-4zu %-5zu %-10s ", pi, j, layers);
            cell(f, str(st, "gpu", "?"), wg + 1);
            cell(f, str(st, "zone", "?"), wz);
            if (r)
                fprintf(f, " %3d %9.2f %9.2f %9.3f %9.3f %7.1f (%6.1f) %s%s\n", (int)fmax(1, num(st, "tp")), num(r, "fwd_s") * 1e3,
                        num(r, "bwd_s") * 1e3, num(r, "p2p_s") * 1e3, num(r, "tp_comm_s"),
                        num(r, "peak_memory_bytes") / 1e9, num(r, "memory_capacity_bytes") / 1e9,
                        json_is_false(json_object_get(r, "fits")) ? "OOM " : "",
                        strcmp(str(r, "source", "analytic"), "measured") == 0 ? "measured" : "");
            else
                fprintf(f, " %3d\n", (int)fmax(1, num(st, "tp")));
        }
    }
    if (json_is_object(sim)) {
        char d[32];
        fprintf(f, "\nSimulation (%s times)\n", str(sim, "time_source", "analytic"));
        fprintf(f, "  iteration        %.4g s (bubble %.1f %%, DP all-reduce exposed %.3g s, optimizer %.3g s)\n",
                num(sim, "iteration_s"), 100 * num(sim, "bubble_fraction"), num(sim, "dp_allreduce_s"),
                num(sim, "optimizer_s"));
        fprintf(f, "  throughput       %.4g tokens/s, MFU %.1f %%\n", num(sim, "tokens_per_s"), 100 * num(sim, "mfu"));
        fprintf(f, "  cost             $%.2f/h, $%.4g per million tokens\n", num(sim, "cost_per_hour"),
                num(sim, "cost_per_million_tokens"));
        if (num(sim, "egress_per_iteration") > 0) /* cross-zone traffic (issue 13) */
            fprintf(f, "  egress           $%.4g per iteration ($%.2f/h, %.3g GB); $%.4g per iteration in all\n",
                    num(sim, "egress_per_iteration"), num(sim, "egress_per_hour"), num(sim, "egress_gb_per_iteration"),
                    num(sim, "cost_per_iteration"));
        if (json_object_get(sim, "time_to_train_s")) {
            fmt_duration(d, sizeof d, num(sim, "time_to_train_s"));
            fprintf(f, "  time to train    %s, total cost $%.0f\n", d, num(sim, "total_cost"));
        }
        fprintf(f, "  bottleneck       %s\n", str(sim, "bottleneck", "-"));
        if (json_is_true(json_object_get(sim, "fits")))
            fprintf(f, "  fits in memory   yes\n");
        else
            fprintf(f, "  fits in memory   NO: %s\n", str(sim, "reason", "a stage exceeds its GPU memory"));
    }
    json_t *why = json_object_get(doc, "placement_reasons");
    if (json_array_size(why) > 0) {
        fprintf(f, "\nPlacement\n");
        for (size_t i = 0; i < json_array_size(why); i++)
            fprintf(f, "  %s\n", str(json_array_get(why, i), "text", ""));
    }
    json_t *tg = json_object_get(doc, "target");
    if (json_is_object(tg)) {
        fprintf(f, "\nTarget: %s, %.4g tokens/s", str(tg, "name", "?"), num(tg, "tokens_per_s"));
        if (json_is_number(json_object_get(tg, "unconstrained_tokens_per_s")))
            fprintf(f, " (unconstrained plan %.4g tokens/s)", num(tg, "unconstrained_tokens_per_s"));
        fputc('\n', f);
    }
    json_t *sol = json_object_get(doc, "solver");
    if (json_is_object(sol))
        fprintf(f, "\nSolver: %s, %s, MIP gap %.3g, %.3g s, %d candidates\n", str(sol, "name", "?"), str(sol, "status", "?"),
                num(sol, "mip_gap"), num(sol, "time_s"), (int)num(sol, "candidates"));
}
