/* cli/cmd_simulate.c — `flotilla simulate PLAN.json`: (re-)simulate a plan. */
#include "cli/cli.h"

#include <stdlib.h>
#include <string.h>

static const char *help =
    "usage: flotilla simulate PLAN.json [--json] [-o OUT.json] [--catalog PATH]\n"
    "\n"
    "Reads a training or serving plan (planner output, or hand-written without \"simulation\"),\n"
    "validates it and computes its \"simulation\" object. Prints a table; --json prints the plan\n"
    "with the simulation; -o writes it to a file.\n";

int cmd_simulate(int argc, char **argv)
{
    cli_set_command("simulate", help);
    cli_common c = {0};
    const char *plan_path = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(help, stdout);
            return 0;
        }
        int r = cli_common_opt(&c, argc, argv, &i);
        if (r < 0) return 2;
        if (r) continue;
        if (argv[i][0] == '-' && argv[i][1]) return cli_usage_error("simulate", "unknown option '%s'", argv[i]);
        if (plan_path) return cli_usage_error("simulate", "unexpected argument '%s'", argv[i]);
        plan_path = argv[i];
    }
    if (!plan_path)
        return cli_usage_error("simulate", "missing PLAN.json");
    fl_catalog *cat = NULL;
    fl_plan *plan = NULL;
    fl_error err;
    fl_error_clear(&err);
    int rc = cli_open_catalog(&c, &cat);
    char *text = NULL;
    if (rc)
        return rc;
    if (!(text = cli_read_file(plan_path, "plan"))) { rc = 1; goto done; }
    if (fl_plan_from_json(cat, text, &plan, &err) || fl_plan_simulate(cat, plan, &err)) {
        rc = cli_fail(&err);
        goto done;
    }
    char *s = fl_plan_to_json(plan, 1);
    if (c.json || c.out_path)
        rc = cli_write_output(c.out_path, s);
    if (!c.json && rc == 0) {
        json_t *doc = json_loads(s, 0, NULL);
        if (fl_plan_get_kind(plan) == FL_JOB_TRAINING)
            cli_print_training_plan(stdout, doc);
        else
            cli_print_serving_plan(stdout, doc);
        json_decref(doc);
    }
    fl_free(s);
done:
    fl_plan_free(plan);
    fl_catalog_free(cat);
    free(text);
    return rc;
}
