/* cli/cmd_place.c — `flotilla place PLAN.json [...]`: map plans onto concrete nodes (igraph
 * matching), with migration minimisation against a running placement and multi-plan packing. */
#include "cli/cli.h"

#include <stdlib.h>
#include <string.h>

static const char *help =
    "usage: flotilla place PLAN.json [PLAN2.json ... --pack] [--nodes NODES.json | --catalog-nodes]\n"
    "                      [--current PLACEMENT.json] [--restart-s S] [-o OUT.json] [--json] [--catalog PATH]\n"
    "\n"
    "Assigns every tensor-parallel group of the plan (pipeline, replica, stage) to one node and a\n"
    "set of its GPUs, in the plan's zone and GPU type, never over-committing a node.\n"
    "  --nodes FILE      inventory {\"nodes\":[{\"id\",\"zone\",\"gpu\",\"gpus\",\"nvlink_domain\"?}]}\n"
    "  --catalog-nodes   the catalog's on-prem nodes (imported from nvidia-smi)\n"
    "                    (neither: nodes \"<zone>/<instance_type>/<i>\" from the plan's resources)\n"
    "  --current FILE    the running placed plan: keep as much model state in place as possible\n"
    "                    and report the migration (shards and bytes moved, time, egress cost)\n"
    "  --allow-missing-nodes  treat nodes of --current absent from the inventory as gone (their\n"
    "                    shards move) instead of an error\n"
    "  --pack            place several plans on one inventory with the fewest partially used nodes\n"
    "  --restart-s S     fixed stop + restart time of a migration (default 120)\n"
    "Prints a table; --json prints the placed plan (with \"placement\", \"migration\" and\n"
    "\"placement_report\"); -o writes it to a file.\n";

static void print_table(json_t *doc, json_t *rep)
{
    json_t *pl = json_object_get(doc, "placement"), *e;
    size_t i;
    printf("%-40s %-12s %8s %8s %6s\n", "node", "gpus", "pipeline", "replica", "stage");
    json_array_foreach(pl, i, e) {
        char g[64] = "";
        size_t j, len = 0;
        json_t *x;
        json_array_foreach(json_object_get(e, "gpus"), j, x)
            len += (size_t)snprintf(g + len, len < sizeof g ? sizeof g - len : 0, "%s%lld", j ? "," : "",
                                    (long long)json_integer_value(x));
        printf("%-40s %-12s %8lld %8lld %6lld\n", json_string_value(json_object_get(e, "node")), g,
               (long long)json_integer_value(json_object_get(e, "pipeline")),
               (long long)json_integer_value(json_object_get(e, "replica")),
               (long long)json_integer_value(json_object_get(e, "stage")));
    }
    (void)rep;
}

static void print_report(json_t *rep)
{
    printf("\nshards %lld, GPUs used %lld, free %lld, nodes used %lld, partially used %lld\n",
           (long long)json_integer_value(json_object_get(rep, "shards")),
           (long long)json_integer_value(json_object_get(rep, "gpus_used")),
           (long long)json_integer_value(json_object_get(rep, "gpus_free")),
           (long long)json_integer_value(json_object_get(rep, "nodes_used")),
           (long long)json_integer_value(json_object_get(rep, "nodes_partial")));
    size_t i;
    json_t *n;
    json_array_foreach(json_object_get(rep, "nodes"), i, n) {
        long long f = json_integer_value(json_object_get(n, "free"));
        long long u = json_integer_value(json_object_get(n, "used"));
        if (f > 0 && u > 0)
            printf("  %s: %lld of %lld GPUs free\n", json_string_value(json_object_get(n, "node")), f,
                   (long long)json_integer_value(json_object_get(n, "gpus")));
    }
}

static void print_migration(json_t *doc)
{
    json_t *m = json_object_get(doc, "migration");
    if (!m)
        return;
    printf("migration: %lld of %lld shards kept, %lld moved, %.3g GB moved, ~%.0f s, egress $%.2f\n",
           (long long)json_integer_value(json_object_get(m, "shards_kept")),
           (long long)json_integer_value(json_object_get(m, "shards")),
           (long long)json_integer_value(json_object_get(m, "shards_moved")),
           json_number_value(json_object_get(m, "bytes_moved")) / 1e9,
           json_number_value(json_object_get(m, "migration_s")),
           json_number_value(json_object_get(m, "migration_cost")));
}

int cmd_place(int argc, char **argv)
{
    cli_set_command("place", help);
    cli_common c = {0};
    const char *nodes_path = NULL, *cur_path = NULL;
    const char **plans = calloc((size_t)argc + 1, sizeof *plans);
    size_t n_plans = 0;
    int pack = 0, catalog_nodes = 0;
    fl_place_options opts;
    fl_place_options_init(&opts);
    opts.strict_nodes = 1; /* on the command line a node missing from the inventory is an error */
    if (!plans)
        return cli_out_of_memory("arguments");
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(help, stdout);
            free(plans);
            return 0;
        }
        int r = cli_common_opt(&c, argc, argv, &i);
        if (r < 0) { free(plans); return 2; }
        if (r) continue;
        int need = strcmp(a, "--nodes") == 0 || strcmp(a, "--current") == 0 || strcmp(a, "--restart-s") == 0;
        if (need && i + 1 >= argc) { free(plans); return cli_usage_error("place", "%s needs a value", a); }
        if (strcmp(a, "--nodes") == 0) nodes_path = argv[++i];
        else if (strcmp(a, "--current") == 0) cur_path = argv[++i];
        else if (strcmp(a, "--restart-s") == 0) {
            if (cli_parse_double(a, argv[++i], 0, 1e6, &opts.restart_s)) { free(plans); return 2; }
        } else if (strcmp(a, "--pack") == 0) pack = 1;
        else if (strcmp(a, "--allow-missing-nodes") == 0) opts.strict_nodes = 0;
        else if (strcmp(a, "--catalog-nodes") == 0) catalog_nodes = 1;
        else if (a[0] == '-' && a[1]) { free(plans); return cli_usage_error("place", "unknown option '%s'", a); }
        else plans[n_plans++] = a;
    }
    int rc = 0;
    if (n_plans == 0) rc = cli_usage_error("place", "missing PLAN.json");
    else if (n_plans > 1 && !pack) rc = cli_usage_error("place", "several plans need --pack");
    else if (pack && cur_path) rc = cli_usage_error("place", "--current and --pack cannot be combined");
    else if (nodes_path && catalog_nodes) rc = cli_usage_error("place", "--nodes and --catalog-nodes exclude each other");
    else if (pack && !nodes_path && !catalog_nodes) rc = cli_usage_error("place", "--pack needs --nodes or --catalog-nodes");
    if (rc) { free(plans); return rc; }

    fl_catalog *cat = NULL;
    fl_nodes *nodes = NULL;
    fl_place_report *rep = NULL;
    char **texts = calloc(n_plans, sizeof *texts), *nodes_text = NULL, *cur_text = NULL, **placed = NULL;
    char *rep_text = NULL;
    fl_error err;
    fl_error_clear(&err);
    if (!texts) { rc = cli_out_of_memory("plans"); goto done; }
    if ((rc = cli_open_catalog(&c, &cat))) goto done;
    for (size_t i = 0; i < n_plans; i++)
        if (!(texts[i] = cli_read_file(plans[i], "plan"))) { rc = 1; goto done; }
    if (cur_path && !(cur_text = cli_read_file(cur_path, "current placement"))) { rc = 1; goto done; }
    if (nodes_path) {
        if (!(nodes_text = cli_read_file(nodes_path, "nodes"))) { rc = 1; goto done; }
        if (fl_nodes_from_json(cat, nodes_text, &nodes, &err)) { rc = cli_fail(&err); goto done; }
    } else if (catalog_nodes) {
        if (fl_nodes_from_catalog(cat, &nodes, &err)) { rc = cli_fail(&err); goto done; }
    } else if (fl_nodes_from_plan_json(cat, texts[0], &nodes, &err)) { rc = cli_fail(&err); goto done; }

    if (pack) {
        if (fl_place_pack_json(cat, (const char *const *)texts, n_plans, nodes, &opts, &placed, &rep, &err)) {
            rc = cli_fail(&err);
            goto done;
        }
    } else {
        placed = calloc(1, sizeof *placed);
        if (!placed) { rc = cli_out_of_memory("placement"); goto done; }
        if (fl_place_json(cat, texts[0], nodes, cur_text, &opts, &placed[0], &rep, &err)) {
            rc = cli_fail(&err);
            goto done;
        }
    }
    rep_text = fl_place_report_to_json(rep, 0);
    json_t *repj = rep_text ? json_loads(rep_text, 0, NULL) : NULL;
    json_t *outj = NULL;
    if (pack) {
        json_t *arr = json_array();
        for (size_t i = 0; i < n_plans; i++)
            json_array_append_new(arr, json_loads(placed[i], 0, NULL));
        outj = json_pack("{s:o, s:O}", "plans", arr, "placement_report", repj);
    } else {
        outj = json_loads(placed[0], 0, NULL);
        if (outj)
            json_object_set(outj, "placement_report", repj);
    }
    char *s = outj ? json_dumps(outj, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
    if (!s || !repj) rc = cli_out_of_memory("placement JSON");
    else if (c.json && !c.out_path) rc = cli_write_output(NULL, s);
    else {
        if (c.out_path)
            rc = cli_write_output(c.out_path, s);
        if (!rc) {
            for (size_t i = 0; i < n_plans; i++) {
                json_t *d = pack ? json_array_get(json_object_get(outj, "plans"), i) : outj;
                if (n_plans > 1)
                    printf("%s%s\n", i ? "\n" : "", plans[i]);
                print_table(d, repj);
                print_migration(d);
            }
            print_report(repj);
            if (c.out_path)
                printf("placement written to %s\n", c.out_path);
        }
    }
    free(s);
    json_decref(outj);
    json_decref(repj);
done:
    for (size_t i = 0; placed && i < n_plans; i++)
        fl_free(placed[i]);
    fl_free(placed);
    for (size_t i = 0; texts && i < n_plans; i++)
        free(texts[i]);
    free(texts);
    free(nodes_text);
    free(cur_text);
    free(rep_text);
    fl_place_report_free(rep);
    fl_nodes_free(nodes);
    fl_catalog_free(cat);
    free(plans);
    return rc;
}
