/* examples/scheduler/scheduler.c — a miniature cluster scheduler embedding libflotilla.
 *
 * It owns a list of GPU nodes, reads node up/down events, and at each change:
 *   1. tells flotilla which GPUs are available (the nodes that are up),
 *   2. re-plans the job with the running plan as the current placement, so flotilla decides
 *      whether moving to the new best plan pays for the migration over the horizon,
 *   3. places the chosen plan onto the nodes that are up, keeping shards where they run,
 *   4. prints the decision.
 *
 * usage: scheduler JOB.json NODES.csv EVENTS.csv [HORIZON_HOURS]
 *   NODES.csv:  id,zone,gpu,gpus          (one node per line, header first)
 *   EVENTS.csv: time_s,node,up|down       (sorted by time, header first)
 *
 * Build against an installed flotilla:
 *   cc scheduler.c $(pkg-config --cflags --libs flotilla jansson) -o scheduler
 */
#include <flotilla/flotilla.h>
#include <jansson.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_NODES 256

typedef struct node { char id[64], zone[64], gpu[64]; int gpus, up; } node;

static node nodes[MAX_NODES];
static int n_nodes;

static char *read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    if (s && fread(s, 1, (size_t)n, f) != (size_t)n) { free(s); s = NULL; }
    if (s) s[n] = '\0';
    fclose(f);
    return s;
}

static int load_nodes(const char *path)
{
    FILE *f = fopen(path, "r");
    char line[512];
    if (!f) return -1;
    if (!fgets(line, sizeof line, f)) { fclose(f); return -1; } /* header */
    while (fgets(line, sizeof line, f) && n_nodes < MAX_NODES) {
        node *n = &nodes[n_nodes];
        if (sscanf(line, "%63[^,],%63[^,],%63[^,],%d", n->id, n->zone, n->gpu, &n->gpus) == 4) {
            n->up = 1;
            n_nodes++;
        }
    }
    fclose(f);
    return n_nodes > 0 ? 0 : -1;
}

/* The nodes that are up, as flotilla's NODES JSON; and their GPUs as an availability. */
static int current_inventory(const fl_catalog *cat, fl_nodes **inv, fl_availability **av, fl_error *err)
{
    json_t *arr = json_array();
    for (int i = 0; i < n_nodes; i++)
        if (nodes[i].up)
            json_array_append_new(arr, json_pack("{s:s,s:s,s:s,s:i}", "id", nodes[i].id, "zone", nodes[i].zone,
                                                 "gpu", nodes[i].gpu, "gpus", nodes[i].gpus));
    json_t *doc = json_pack("{s:o}", "nodes", arr);
    char *text = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    fl_status st = fl_nodes_from_json(cat, text, inv, err);
    free(text);
    if (st) return -1;
    if (fl_availability_new(cat, av, err)) return -1;
    for (int i = 0; i < n_nodes; i++) {
        if (!nodes[i].up) continue;
        int z = fl_catalog_find_zone(cat, nodes[i].zone, "zone", err);
        int g = fl_catalog_find_gpu(cat, nodes[i].gpu, "gpu", err);
        if (z < 0 || g < 0) return -1;
        int have = fl_availability_is_limited(*av) ? fl_availability_get(*av, z, g) : 0;
        if (fl_availability_set(*av, nodes[i].zone, nodes[i].gpu, have + nodes[i].gpus, err)) return -1;
    }
    return 0;
}

/* One scheduling round. *running (a placed plan document) is replaced by the new one. */
static int schedule(const fl_catalog *cat, const fl_job *job, double now, double horizon, char **running)
{
    fl_error err;
    fl_nodes *inv = NULL;
    fl_availability *av = NULL;
    fl_plan *plan = NULL;
    fl_place_report *rep = NULL;
    int rc = -1;
    if (current_inventory(cat, &inv, &av, &err)) goto out;

    fl_plan_options opts = FL_PLAN_OPTIONS_INIT; /* versioned: see docs/api.md */
    opts.current_placement_json = *running;   /* NULL on the first round */
    opts.horizon_hours = horizon;
    if (fl_plan_job(cat, job, av, &opts, &plan, &err)) goto out;
    if (fl_place(cat, plan, inv, *running, NULL, &rep, &err)) goto out;

    fl_plan_summary s;
    fl_place_summary ps;
    fl_plan_get_summary(plan, &s, &err);
    fl_place_report_get_summary(rep, &ps, &err);
    char *doc_text = fl_plan_to_json(plan, 0);
    json_t *doc = json_loads(doc_text, 0, NULL);
    const char *decision = json_string_value(json_object_get(json_object_get(doc, "replan"), "decision"));
    const char *why = json_string_value(json_object_get(json_object_get(doc, "replan"), "reason"));
    printf("t=%7.0fs  %-5s  %3d GPUs  %10.4g %s  $%7.2f/h  shards moved %d/%d (%.1f GB, %.0f s, $%.2f)\n", now,
           decision ? decision : "start", s.gpus, s.kind == FL_JOB_TRAINING ? s.tokens_per_s : s.throughput_rps,
           s.kind == FL_JOB_TRAINING ? "tok/s" : "req/s", s.cost_per_hour, ps.shards_moved, ps.shards,
           ps.bytes_moved / 1e9, ps.migration_s, ps.migration_cost);
    if (why) printf("           %s\n", why);
    json_decref(doc);
    free(*running);
    *running = strdup(doc_text);
    fl_free(doc_text);
    rc = 0;
out:
    if (rc) printf("t=%7.0fs  cannot schedule: %s\n", now, err.message);
    fl_place_report_free(rep);
    fl_plan_free(plan);
    fl_availability_free(av);
    fl_nodes_free(inv);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: %s JOB.json NODES.csv EVENTS.csv [HORIZON_HOURS]\n", argv[0]);
        return 2;
    }
    double horizon = argc > 4 ? atof(argv[4]) : 24.0;
    fl_catalog *cat = NULL;
    fl_job *job = NULL;
    fl_error err;
    char *job_text = read_text(argv[1]);
    if (!job_text || load_nodes(argv[2])) {
        fprintf(stderr, "cannot read %s or %s\n", argv[1], argv[2]);
        return 1;
    }
    if (fl_catalog_open(NULL, &cat, &err) || fl_job_from_json(cat, job_text, &job, &err)) {
        fprintf(stderr, "flotilla: %s\n", err.message);
        return 1;
    }
    printf("flotilla %s: %d nodes, job %s\n", fl_version(), n_nodes, argv[1]);
    char *running = NULL;
    int failures = schedule(cat, job, 0, horizon, &running) ? 1 : 0;

    FILE *ev = fopen(argv[3], "r");
    char line[256], node_id[64], state[16];
    double t, last = 0;
    int pending = 0;
    if (ev && fgets(line, sizeof line, ev)) { /* header */
        while (fgets(line, sizeof line, ev)) {
            if (sscanf(line, "%lf,%63[^,],%15s", &t, node_id, state) != 3) continue;
            if (pending && t != last) { failures += schedule(cat, job, last, horizon, &running) ? 1 : 0; pending = 0; }
            for (int i = 0; i < n_nodes; i++)
                if (strcmp(nodes[i].id, node_id) == 0)
                    nodes[i].up = strcmp(state, "up") == 0;
            last = t;
            pending = 1;
        }
        if (pending) failures += schedule(cat, job, last, horizon, &running) ? 1 : 0;
    }
    if (ev) fclose(ev);
    free(running);
    free(job_text);
    fl_job_free(job);
    fl_catalog_free(cat);
    return failures ? 1 : 0;
}
