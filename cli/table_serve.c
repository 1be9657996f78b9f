/* cli/table_serve.c — human-readable table of a serving plan: rented resources, replica groups
 * with their class shares, the request-level simulation, solver and baseline. */
#include "cli/cli.h"

static double num(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    return json_is_number(v) ? json_number_value(v) : 0.0;
}

static const char *str(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "-";
}

void cli_print_serving_plan(FILE *f, json_t *doc)
{
    size_t i;
    json_t *e;
    json_t *model = json_object_get(doc, "model");
    fprintf(f, "serving plan for %s\n\n", json_is_string(model) ? json_string_value(model) : "several models");
    fprintf(f, "%-26s %-22s %-15s %5s %9s %10s %5s\n", "zone", "instance", "gpu", "gpus", "instances", "$/h each", "spot");
    json_array_foreach(json_object_get(doc, "resources"), i, e)
        fprintf(f, "%-26s %-22s %-15s %5.0f %9.0f %10.2f %5s\n", str(e, "zone"), str(e, "instance_type"), str(e, "gpu"),
                num(e, "gpus_per_instance"), num(e, "instances"), num(e, "price_per_hour"),
                json_is_true(json_object_get(e, "spot")) ? "yes" : "no");
    fprintf(f, "\n%-14s %-15s %-26s %3s %3s %6s  %s\n", "model", "gpu", "zone", "tp", "pp", "count", "class shares");
    json_array_foreach(json_object_get(doc, "replicas"), i, e) {
        json_t *m = json_object_get(e, "model");
        fprintf(f, "%-14s %-15s %-26s %3.0f %3.0f %6.0f ",
                json_is_string(m) ? json_string_value(m) : (json_is_string(model) ? json_string_value(model) : "-"),
                str(e, "gpu"), str(e, "zone"), num(e, "tp") > 0 ? num(e, "tp") : 1, num(e, "pp") > 0 ? num(e, "pp") : 1,
                num(e, "count"));
        size_t c;
        json_t *s;
        json_array_foreach(json_object_get(e, "class_shares"), c, s)
            fprintf(f, " %.2f", json_number_value(s));
        fputc('\n', f);
    }
    json_t *sim = json_object_get(doc, "simulation");
    if (json_is_object(sim)) {
        fprintf(f, "\nsimulation: %s, %.2f $/h\n", json_is_true(json_object_get(sim, "meets_slo")) ? "meets the SLO" : "MISSES the SLO",
                num(sim, "cost_per_hour"));
        fprintf(f, "  %-6s %10s %10s %10s\n", "", "p50", "p90", "p99");
        fprintf(f, "  %-6s %10.4f %10.4f %10.4f s\n", "TTFT", num(sim, "ttft_p50_s"), num(sim, "ttft_p90_s"), num(sim, "ttft_p99_s"));
        fprintf(f, "  %-6s %10.4f %10.4f %10.4f s\n", "TPOT", num(sim, "tpot_p50_s"), num(sim, "tpot_p90_s"), num(sim, "tpot_p99_s"));
        fprintf(f, "  %-6s %10.3f %10.3f %10.3f s\n", "e2e", num(sim, "e2e_p50_s"), num(sim, "e2e_p90_s"), num(sim, "e2e_p99_s"));
        fprintf(f, "  throughput %.2f req/s, %.0f tokens/s; max batch %.0f; KV cache %.0f tokens (util mean %.0f%%, max %.0f%%); "
                   "queue mean %.2f, max %.0f\n",
                num(sim, "throughput_rps"), num(sim, "tokens_per_s"), num(sim, "max_batch"), num(sim, "kv_cache_tokens"),
                100 * num(sim, "kv_util_mean"), 100 * num(sim, "kv_util_max"), num(sim, "queue_mean"), num(sim, "queue_max"));
    }
    json_t *sol = json_object_get(doc, "solver");
    if (json_is_object(sol))
        fprintf(f, "solver: %s %s, gap %.4f, %.3f s, %.0f candidates\n", str(sol, "name"), str(sol, "status"),
                num(sol, "mip_gap"), num(sol, "time_s"), num(sol, "candidates"));
    json_t *b = json_object_get(doc, "baseline");
    if (json_is_object(b))
        fprintf(f, "best single-GPU-type plan: %s at %.2f $/h (this plan saves %.1f%%)\n", str(b, "gpu"),
                num(b, "cost_per_hour"), 100 * num(b, "saving_fraction"));
}
