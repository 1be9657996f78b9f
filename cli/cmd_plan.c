/* cli/cmd_plan.c — `flotilla plan JOB.json`: plan a training or serving job. */
#include "cli/cli.h"

#include <stdlib.h>
#include <string.h>

static const char *help =
    "usage: flotilla plan JOB.json [--availability AVAIL.json] [--current PLACEMENT.json]\n"
    "                     [--horizon-hours H] [--top K] [--pareto] [--marginal] [--time-limit S]\n"
    "                     [-o PLAN.json] [--json] [--catalog PATH]\n"
    "\n"
    "Plans the job (kind training or serving) on the catalog's offerings, limited by the\n"
    "availability when given. Prints a summary table; --json prints the deployment JSON;\n"
    "-o writes the deployment JSON to a file (atomically) and still prints the table.\n"
    "--time-limit S bounds each MILP and, for serving, the whole run (capacities, MILP,\n"
    "simulation): exit 3 when no plan was verified in time.\n";

/* The --pareto frontier and the --marginal values of a plan document as tables (when present). */
static void print_pareto_and_marginal(FILE *f, json_t *doc)
{
    json_t *pareto = json_object_get(doc, "pareto"), *e;
    size_t i;
    if (json_array_size(pareto) > 0) {
        fprintf(f, "\nCost / throughput frontier (--pareto)\n  %10s  %14s  %6s\n", "$/h", "tokens/s", "gpus");
        json_array_foreach(pareto, i, e)
            fprintf(f, "  %10.2f  %14.4g  %6d\n", json_number_value(json_object_get(e, "cost_per_hour")),
                    json_number_value(json_object_get(e, "tokens_per_s")),
                    (int)json_integer_value(json_object_get(e, "gpus")));
    }
    json_t *marg = json_object_get(doc, "marginal_value");
    if (json_array_size(marg) > 0) {
        const char *obj = json_string_value(json_object_get(doc, "marginal_objective"));
        fprintf(f, "\nMarginal value of one more instance (--marginal, objective %s)\n  %-24s %-16s %6s  %12s  %s\n",
                obj ? obj : "?", "zone", "gpu", "+gpus", "gain", "note");
        json_array_foreach(marg, i, e) {
            const char *note = json_string_value(json_object_get(e, "note"));
            fprintf(f, "  %-24s %-16s %6d  %12.4g  %s\n", json_string_value(json_object_get(e, "zone")),
                    json_string_value(json_object_get(e, "gpu")),
                    (int)json_integer_value(json_object_get(e, "extra_gpus")),
                    json_number_value(json_object_get(e, "gain")), note ? note : "");
        }
    }
}

/* The plan's JSON; with --top K the alternatives ride along in an "alternatives" array. */
static char *plan_json_with_alternatives(const fl_plan *plan)
{
    size_t n = fl_plan_alternative_count(plan);
    if (n == 0)
        return fl_plan_to_json(plan, 1);
    char *main_text = fl_plan_to_json(plan, 0);
    json_t *doc = main_text ? json_loads(main_text, 0, NULL) : NULL;
    fl_free(main_text);
    if (!doc)
        return NULL;
    json_t *alts = json_array();
    for (size_t i = 0; i < n; i++) {
        char *t = fl_plan_to_json(fl_plan_alternative(plan, i), 0);
        json_t *a = t ? json_loads(t, 0, NULL) : NULL;
        fl_free(t);
        if (a)
            json_array_append_new(alts, a);
    }
    json_object_set_new(doc, "alternatives", alts);
    char *s = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6));
    json_decref(doc);
    return s;
}

int cmd_plan(int argc, char **argv)
{
    cli_set_command("plan", help);
    cli_common c = {0};
    const char *job_path = NULL, *av_path = NULL, *cur_path = NULL;
    fl_plan_options opts;
    fl_plan_options_init(&opts);
    opts.time_limit_s = 0; /* without --time-limit: each solve's default, no bound on the whole run */
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(help, stdout);
            return 0;
        }
        int r = cli_common_opt(&c, argc, argv, &i);
        if (r < 0) return 2;
        if (r) continue;
        int need = strcmp(a, "--availability") == 0 || strcmp(a, "--current") == 0 ||
                   strcmp(a, "--horizon-hours") == 0 || strcmp(a, "--top") == 0 || strcmp(a, "--time-limit") == 0;
        if (need && i + 1 >= argc)
            return cli_usage_error("plan", "%s needs a value", a);
        if (strcmp(a, "--availability") == 0) av_path = argv[++i];
        else if (strcmp(a, "--current") == 0) cur_path = argv[++i];
        else if (strcmp(a, "--horizon-hours") == 0) {
            if (cli_parse_double(a, argv[++i], 0, 1e6, &opts.horizon_hours)) return 2;
        } else if (strcmp(a, "--top") == 0) {
            if (cli_parse_int(a, argv[++i], 1, 100, &opts.top_k)) return 2;
        } else if (strcmp(a, "--time-limit") == 0) {
            if (cli_parse_double(a, argv[++i], 0.01, 3600, &opts.time_limit_s)) return 2;
        } else if (strcmp(a, "--pareto") == 0) opts.pareto = 1;
        else if (strcmp(a, "--marginal") == 0) opts.marginal = 1;
        else if (a[0] == '-' && a[1]) return cli_usage_error("plan", "unknown option '%s'", a);
        else if (!job_path) job_path = a;
        else return cli_usage_error("plan", "unexpected argument '%s'", a);
    }
    if (!job_path)
        return cli_usage_error("plan", "missing JOB.json");
    int rc = 0;
    fl_catalog *cat = NULL;
    fl_job *job = NULL;
    fl_availability *av = NULL;
    fl_plan *plan = NULL;
    char *job_text = NULL, *av_text = NULL, *cur_text = NULL;
    fl_error err;
    fl_error_clear(&err);
    if ((rc = cli_open_catalog(&c, &cat)))
        goto done;
    if (!(job_text = cli_read_file(job_path, "job"))) { rc = 1; goto done; }
    if (fl_job_from_json(cat, job_text, &job, &err)) { rc = cli_fail(&err); goto done; }
    if (av_path) {
        if (!(av_text = cli_read_file(av_path, "availability"))) { rc = 1; goto done; }
        if (fl_availability_from_json(cat, av_text, &av, &err)) {
            rc = cli_fail(&err);
            goto done;
        }
    }
    if (cur_path) {
        if (!(cur_text = cli_read_file(cur_path, "current placement"))) { rc = 1; goto done; }
        opts.current_placement_json = cur_text;
    }
    if (fl_plan_job(cat, job, av, &opts, &plan, &err)) { rc = cli_fail(&err); goto done; }
    char *s = plan_json_with_alternatives(plan);
    if (!s) { rc = cli_out_of_memory("plan JSON"); goto done; }
    if (c.json && !c.out_path) {
        rc = cli_write_output(NULL, s);
    } else {
        if (c.out_path)
            rc = cli_write_output(c.out_path, s);
        if (rc == 0) {
            char *t = fl_plan_to_json(plan, 0);
            json_t *doc = t ? json_loads(t, 0, NULL) : NULL;
            if (doc) {
                if (fl_plan_get_kind(plan) == FL_JOB_TRAINING)
                    cli_print_training_plan(stdout, doc);
                else
                    cli_print_serving_plan(stdout, doc);
                for (size_t i = 0; i < fl_plan_alternative_count(plan); i++) {
                    fl_plan_summary as;
                    if (fl_plan_get_summary(fl_plan_alternative(plan, i), &as, NULL) == FL_OK)
                        printf("alternative %zu: %d GPUs, $%.2f/h, %s %.4g\n", i + 1, as.gpus, as.cost_per_hour,
                               as.kind == FL_JOB_TRAINING ? "tokens/s" : "req/s",
                               as.kind == FL_JOB_TRAINING ? as.tokens_per_s : as.throughput_rps);
                }
                print_pareto_and_marginal(stdout, doc);
                if (c.out_path)
                    printf("plan written to %s\n", c.out_path);
            }
            json_decref(doc);
            fl_free(t);
        }
    }
    fl_free(s);
done:
    fl_plan_free(plan);
    fl_availability_free(av);
    fl_job_free(job);
    fl_catalog_free(cat);
    free(job_text);
    free(av_text);
    free(cur_text);
    return rc;
}
