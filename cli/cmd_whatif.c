/* cli/cmd_whatif.c — `flotilla whatif JOB.json --trace AVAIL.csv | --scenarios SCEN.json`:
 * replay availability changes under three policies, or sweep named scenarios. */
#include "cli/cli.h"

#include <stdlib.h>
#include <string.h>

static const char *help =
    "usage: flotilla whatif JOB.json --trace AVAIL.csv [--availability START.json] [--end S]\n"
    "                       [--horizon-hours H] [--restart-s S] [--threads N] [--svg FILE] [--csv FILE]\n"
    "                       [--json]\n"
    "       flotilla whatif JOB.json --scenarios SCEN.json [--csv FILE] [--json]\n"
    "\n"
    "--trace: rows `time_s,zone,gpu,count` (header line, sorted by time) set the available count\n"
    "of a GPU type in a zone from that time on. At each change the job is replanned, placed against\n"
    "the running placement and three policies are compared: migration_aware (move only when it\n"
    "pays over the horizon), keep_first (keep the first plan while it fits) and replan_always.\n"
    "--scenarios: {\"base\": AVAIL?, \"scenarios\": [{\"name\", \"availability\" | \"scale\":\n"
    "{\"gpu\",\"factor\"} | \"remove_zones\": [...]}]} → best throughput and cost per scenario.\n"
    "--threads: planner threads of a replay (default 0: one per CPU; 1: no parallel prefetch).\n";

static void progress(void *user, size_t done, size_t total)
{
    (void)user;
    if (done == total || done % 50 == 0)
        fprintf(stderr, "\rwhatif: %zu/%zu", done, total);
    if (done == total)
        fputc('\n', stderr);
}

static void print_replay(json_t *d)
{
    const char *unit = json_string_value(json_object_get(d, "work_unit"));
    printf("events %lld (replanned %lld, skipped %lld), planner calls %lld, cache hits %lld\n",
           (long long)json_integer_value(json_object_get(d, "events")),
           (long long)(json_integer_value(json_object_get(d, "events")) -
                       json_integer_value(json_object_get(d, "skipped_events"))),
           (long long)json_integer_value(json_object_get(d, "skipped_events")),
           (long long)json_integer_value(json_object_get(d, "planner_calls")),
           (long long)json_integer_value(json_object_get(d, "cache_hits")));
    printf("%-16s %16s %12s %10s %12s %12s %14s\n", "policy", unit, "dollars", "migrations", "migration_s",
           "migration_$", "work/dollar");
    const char *names[] = {"migration_aware", "keep_first", "replan_always"};
    for (int k = 0; k < 3; k++) {
        json_t *t = json_object_get(json_object_get(d, "totals"), names[k]);
        double w = json_number_value(json_object_get(t, "work")), c = json_number_value(json_object_get(t, "dollars"));
        printf("%-16s %16.4g %12.2f %10lld %12.0f %12.2f %14.4g\n", names[k], w, c,
               (long long)json_integer_value(json_object_get(t, "migrations")),
               json_number_value(json_object_get(t, "migration_s")),
               json_number_value(json_object_get(t, "migration_cost")), c > 0 ? w / c : 0.0);
    }
}

static void print_scenarios(json_t *d)
{
    const char *unit = json_string_value(json_object_get(d, "work_unit"));
    printf("%-24s %9s %16s %12s %6s\n", "scenario", "feasible", unit && !strcmp(unit, "requests") ? "requests/s" : "tokens/s",
           "$/hour", "GPUs");
    size_t i;
    json_t *s;
    json_array_foreach(json_object_get(d, "scenarios"), i, s) {
        int ok = json_is_true(json_object_get(s, "feasible"));
        if (ok)
            printf("%-24s %9s %16.4g %12.2f %6lld\n", json_string_value(json_object_get(s, "name")), "yes",
                   json_number_value(json_object_get(s, "throughput")), json_number_value(json_object_get(s, "cost_per_hour")),
                   (long long)json_integer_value(json_object_get(s, "gpus")));
        else
            printf("%-24s %9s  %s\n", json_string_value(json_object_get(s, "name")), "no",
                   json_string_value(json_object_get(s, "reason")));
    }
}

int cmd_whatif(int argc, char **argv)
{
    cli_set_command("whatif", help);
    cli_common c = {0};
    const char *job_path = NULL, *trace_path = NULL, *scen_path = NULL, *av_path = NULL, *svg_path = NULL,
               *csv_path = NULL;
    fl_whatif_options wo;
    fl_whatif_options_init(&wo);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(help, stdout);
            return 0;
        }
        int r = cli_common_opt(&c, argc, argv, &i);
        if (r < 0) return 2;
        if (r) continue;
        int need = !strcmp(a, "--trace") || !strcmp(a, "--scenarios") || !strcmp(a, "--availability") ||
                   !strcmp(a, "--svg") || !strcmp(a, "--csv") || !strcmp(a, "--end") || !strcmp(a, "--horizon-hours") ||
                   !strcmp(a, "--restart-s") || !strcmp(a, "--threads");
        if (need && i + 1 >= argc)
            return cli_usage_error("whatif", "%s needs a value", a);
        if (!strcmp(a, "--trace")) trace_path = argv[++i];
        else if (!strcmp(a, "--scenarios")) scen_path = argv[++i];
        else if (!strcmp(a, "--availability")) av_path = argv[++i];
        else if (!strcmp(a, "--svg")) svg_path = argv[++i];
        else if (!strcmp(a, "--csv")) csv_path = argv[++i];
        else if (!strcmp(a, "--end")) { if (cli_parse_double(a, argv[++i], 0, 1e12, &wo.end_s)) return 2; }
        else if (!strcmp(a, "--horizon-hours")) { if (cli_parse_double(a, argv[++i], 0, 1e6, &wo.horizon_hours)) return 2; }
        else if (!strcmp(a, "--restart-s")) { if (cli_parse_double(a, argv[++i], 0, 1e6, &wo.restart_s)) return 2; }
        else if (!strcmp(a, "--threads")) { if (cli_parse_int(a, argv[++i], 0, 64, &wo.threads)) return 2; }
        else if (a[0] == '-' && a[1]) return cli_usage_error("whatif", "unknown option '%s'", a);
        else if (!job_path) job_path = a;
        else return cli_usage_error("whatif", "unexpected argument '%s'", a);
    }
    if (!job_path)
        return cli_usage_error("whatif", "missing JOB.json");
    if (!trace_path == !scen_path)
        return cli_usage_error("whatif", "give exactly one of --trace or --scenarios");
    if (scen_path && (svg_path || av_path))
        return cli_usage_error("whatif", "--svg and --availability go with --trace");
    if (cli_stderr_tty())
        wo.progress = progress;
    int rc = 0;
    fl_catalog *cat = NULL;
    fl_job *job = NULL;
    fl_availability *av = NULL;
    fl_whatif_report *rep = NULL;
    char *job_text = NULL, *in_text = NULL, *av_text = NULL, *s = NULL, *csv = NULL, *svg = NULL;
    fl_error err;
    fl_error_clear(&err);
    if ((rc = cli_open_catalog(&c, &cat))) goto done;
    if (!(job_text = cli_read_file(job_path, "job"))) { rc = 1; goto done; }
    if (fl_job_from_json(cat, job_text, &job, &err)) { rc = cli_fail(&err); goto done; }
    if (av_path) {
        if (!(av_text = cli_read_file(av_path, "availability"))) { rc = 1; goto done; }
        if (fl_availability_from_json(cat, av_text, &av, &err)) { rc = cli_fail(&err); goto done; }
    }
    if (!(in_text = cli_read_file(trace_path ? trace_path : scen_path, trace_path ? "trace" : "scenarios"))) {
        rc = 1;
        goto done;
    }
    fl_status st = trace_path ? fl_whatif_replay(cat, job, av, in_text, &wo, &rep, &err)
                              : fl_whatif_scenarios(cat, job, in_text, &wo, &rep, &err);
    if (st) { rc = cli_fail(&err); goto done; }
    /* build every output first, then write them (each atomically), so that a failure to build
     * one leaves no file written */
    csv = csv_path ? fl_whatif_report_to_csv(rep) : NULL;
    svg = svg_path ? fl_whatif_report_to_svg(rep) : NULL;
    s = fl_whatif_report_to_json(rep, 1);
    if (!s || (csv_path && !csv) || (svg_path && !svg)) { rc = cli_out_of_memory("what-if output"); goto done; }
    if (csv_path && (rc = cli_write_output(csv_path, csv))) goto done;
    if (svg_path && (rc = cli_write_output(svg_path, svg))) goto done;
    if (c.out_path && (rc = cli_write_output(c.out_path, s))) goto done;
    if (c.json) {
        if (!c.out_path) rc = cli_write_output(NULL, s);
    } else {
        json_t *d = json_loads(s, 0, NULL);
        if (d && trace_path) print_replay(d);
        else if (d) print_scenarios(d);
        json_decref(d);
    }
done:
    fl_free(s);
    fl_free(csv);
    fl_free(svg);
    fl_whatif_report_free(rep);
    fl_availability_free(av);
    fl_job_free(job);
    fl_catalog_free(cat);
    free(job_text);
    free(in_text);
    free(av_text);
    return rc;
}
