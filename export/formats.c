/* export/formats.c — the skypilot, slurm, kubernetes and vllm exporters (docs/export.md). */
#include "export/export_int.h"
#include "simulator/serve_model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Append text with every line prefixed by `in` (for YAML block scalars). */
static void sb_indented(sbuf *b, const char *text, const char *in)
{
    const char *s = text ? text : "";
    while (*s) {
        const char *nl = strchr(s, '\n');
        size_t n = nl ? (size_t)(nl - s) : strlen(s);
        sb_printf(b, "%s%.*s\n", in, (int)n, s);
        s += n + (nl ? 1 : 0);
    }
}

fl_status ex_serve_shape(const fl_plan_model *m, size_t r, size_t *group, int *nodes, int *gpus_per_pod,
                         const char *format, fl_error *err)
{
    const fl_plan_serving_replica *R = fl_plan_serving_replica_at(m, r);
    size_t ng = fl_plan_node_group_count(m);
    for (size_t k = 0; k < ng; k++) {
        const fl_plan_node_group *G = fl_plan_node_group_at(m, k);
        if (strcmp(G->gpu, R->gpu) != 0 || (R->zone && strcmp(G->zone, R->zone) != 0))
            continue;
        int gpus = R->tp * R->pp, gpn = G->gpus_per_instance;
        if (gpus < 1 || gpn < 1)
            break;
        *group = k;
        if (gpus <= gpn) {
            *nodes = 1;
            *gpus_per_pod = gpus;
        } else if (gpus % gpn == 0) {
            *nodes = gpus / gpn;
            *gpus_per_pod = gpn;
        } else {
            return fl_fail(err, FL_EINVAL, "replicas", "refused (%s): replicas[%zu] needs tp %d x pp %d = %d GPUs, "
                           "not whole %d-GPU instances", format, r, R->tp, R->pp, gpus, gpn);
        }
        return FL_OK;
    }
    return fl_fail(err, FL_EINVAL, "replicas", "refused (%s): no node group in resources has replicas[%zu]'s %s "
                   "in %s", format, r, R->gpu, R->zone ? R->zone : "any zone");
}

/* Every serving exporter runs `vllm serve`: a plan simulated with another engine is refused. */
static fl_status need_vllm(const fl_plan_model *m, const char *format, fl_error *err)
{
    if (fl_plan_model_kind(m) != FL_JOB_SERVING)
        return FL_OK;
    for (size_t r = 0; r < fl_plan_serving_replica_count(m); r++) {
        const fl_plan_serving_replica *R = fl_plan_serving_replica_at(m, r);
        const fl_serve_engine *e = NULL;
        if (fl_serve_engine_find(R->engine, "job.engine", &e, NULL) != FL_OK || !e || strcmp(e->name, "vllm") != 0)
            return fl_fail(err, FL_EINVAL, "job.engine", "refused (%s): replicas[%zu] was planned for engine %s; "
                           "the export runs vLLM, whose batch and memory figures differ", format, r, R->engine);
        if (!R->model)
            return fl_fail(err, FL_EINVAL, "model", "refused (%s): replicas[%zu] names no model", format, r);
    }
    return FL_OK;
}

void ex_vllm_command(const fl_plan_model *m, size_t r, sbuf *b)
{
    const fl_plan_serving_replica *R = fl_plan_serving_replica_at(m, r);
    sb_printf(b, "vllm serve \"${MODEL:-%s}\" --served-model-name %s --tensor-parallel-size %d "
              "--pipeline-parallel-size %d", R->model, R->model, R->tp, R->pp);
    /* the engine settings the simulation assumed (data/engines.csv; need_vllm checked the name) */
    const fl_serve_engine *e = NULL;
    if (fl_serve_engine_find(R->engine, "job.engine", &e, NULL) == FL_OK && e) {
        sb_printf(b, " --max-num-seqs %d --gpu-memory-utilization %.2f", e->max_batch, e->mem_util);
        if (e->profile_tokens > 0)
            sb_printf(b, " --max-num-batched-tokens %.0f", e->profile_tokens);
    }
    if (R->max_model_len > 0)
        sb_printf(b, " --max-model-len %d", R->max_model_len);
    sb_printf(b, " --port \"${PORT:-8000}\"");
}

/* The YAML lines of a SkyPilot `resources:` block for node group g. */
static fl_status sky_resources(const fl_plan_model *m, const fl_catalog *cat, size_t g, int accel, sbuf *b,
                               fl_error *err)
{
    const fl_plan_node_group *G = fl_plan_node_group_at(m, g);
    const char *acc = ex_sky_accelerator(G->gpu);
    if (!acc)
        return fl_fail(err, FL_EINVAL, "resources", "refused (skypilot): no SkyPilot accelerator name for %s", G->gpu);
    const char *cloud = G->cloud;
    if (!cloud || !(strcmp(cloud, "aws") == 0 || strcmp(cloud, "gcp") == 0 || strcmp(cloud, "azure") == 0 ||
                    strcmp(cloud, "lambda") == 0))
        return fl_fail(err, FL_EINVAL, "resources", "refused (skypilot): resources[%zu] is in cloud %s, which this "
                       "exporter does not map to SkyPilot", g, cloud ? cloud : "(none)");
    const char *zshort;
    const char *region = ex_region(cat, G->zone, &zshort);
    if (!region)
        return fl_fail(err, FL_ENOTFOUND, "resources", "zone %s of resources[%zu] is not in the catalog", G->zone, g);
    sb_printf(b, "resources:\n  cloud: %s\n  region: ", cloud);
    sb_quoted(b, region);
    sb_printf(b, "\n");
    if (strcmp(cloud, "gcp") == 0 || strcmp(cloud, "azure") == 0) {
        sb_printf(b, "  zone: ");
        sb_quoted(b, zshort);
        sb_printf(b, "\n");
    } else if (strcmp(cloud, "aws") == 0) {
        sb_printf(b, "  # the plan's zone is AWS zone ID %s; SkyPilot takes zone names, which map to IDs per "
                  "account:\n  # add `zone: <name>` (aws ec2 describe-availability-zones) to pin it\n", zshort);
    }
    if (G->instance_type) {
        sb_printf(b, "  instance_type: ");
        sb_quoted(b, G->instance_type);
        sb_printf(b, "\n");
    }
    sb_printf(b, "  accelerators: \"%s:%d\"\n  use_spot: %s\n", acc, accel, G->spot ? "true" : "false");
    return FL_OK;
}

fl_status ex_skypilot(const fl_plan_model *m, const fl_catalog *cat, const fl_export_options *o, ex_files *f,
                      fl_error *err)
{
    (void)o;
    char base[48], name[96];
    ex_dns_name(fl_plan_model_name(m), base, sizeof base);
    fl_status st;
    if (fl_plan_model_kind(m) == FL_JOB_TRAINING) {
        ex_train t;
        if ((st = ex_train_build(m, cat, &t, err)) != FL_OK) {
            free(t.args.s);
            return st;
        }
        for (size_t k = 0; k < t.n_slots && st == FL_OK; k++) {
            sbuf b = {0};
            const ex_slot *s = &t.slot[k];
            sb_printf(&b, "# flotilla export --to skypilot: part %zu of %zu of a %s training plan (stages %zu-%zu, "
                      "node ranks %d-%d of %d)\n", k, t.n_slots, fl_plan_model_name(m), s->stage, s->last_stage, s->first_node,
                      s->first_node + s->nodes - 1, t.nnodes);
            if (t.n_slots > 1)
                sb_printf(&b, "# Launch part 0 first; start the others with --env MASTER_ADDR=<IP of part 0's head "
                          "node>.\n# The clusters must reach each other on MASTER_PORT and the NCCL ports.\n");
            sb_printf(&b, "name: %s-part%zu\nnum_nodes: %d\n", base, k, s->nodes);
            if ((st = sky_resources(m, cat, s->group, t.gpus_per_node, &b, err)) != FL_OK) {
                free(b.s);
                break;
            }
            sb_printf(&b, "envs:\n  NODE_RANK_OFFSET: \"%d\"\n  MASTER_ADDR: \"\"\n  MASTER_PORT: \"29500\"\n"
                      "  MEGATRON_EXTRA_ARGS: \"\"\nrun: |\n  set -euo pipefail\n"
                      "  export NODE_RANK=$((NODE_RANK_OFFSET + SKYPILOT_NODE_RANK))\n", s->first_node);
            if (k == 0)
                sb_printf(&b, "  export MASTER_ADDR=\"${MASTER_ADDR:-$(echo \"$SKYPILOT_NODE_IPS\" | head -n1)}\"\n");
            else
                sb_printf(&b, "  : \"${MASTER_ADDR:?pass --env MASTER_ADDR=<IP of part 0's head node>}\"\n");
            ex_train_node_script(&t, m, &b, "  ");
            snprintf(name, sizeof name, "skypilot/part-%zu.yaml", k);
            st = ex_add(f, name, &b, err);
        }
        free(t.args.s);
        return st;
    }
    if ((st = need_vllm(m, "skypilot", err)) != FL_OK)
        return st;
    for (size_t r = 0; r < fl_plan_serving_replica_count(m); r++) {
        const fl_plan_serving_replica *R = fl_plan_serving_replica_at(m, r);
        size_t g;
        int nodes, gpp;
        if ((st = ex_serve_shape(m, r, &g, &nodes, &gpp, "skypilot", err)) != FL_OK)
            return st;
        const fl_plan_node_group *G = fl_plan_node_group_at(m, g);
        if (nodes > 1)
            return fl_fail(err, FL_EINVAL, "replicas", "refused (skypilot): replicas[%zu] spans %d instances; a "
                           "SkyServe replica is one instance", r, nodes);
        if (gpp != G->gpus_per_instance)
            return fl_fail(err, FL_EINVAL, "replicas", "refused (skypilot): replicas[%zu] uses %d of the %d GPUs of "
                           "%s; a SkyServe replica takes a whole instance, so the plan's packing (and cost) would "
                           "change", r, gpp, G->gpus_per_instance, G->instance_type ? G->instance_type : G->gpu);
        sbuf b = {0};
        sb_printf(&b, "# flotilla export --to skypilot: SkyServe service for replicas[%zu] of a serving plan "
                  "(`sky serve up`)\nname: %s-r%zu\nservice:\n  readiness_probe: /health\n  replicas: %d\n", r, base,
                  r, R->count);
        if ((st = sky_resources(m, cat, g, G->gpus_per_instance, &b, err)) != FL_OK) {
            free(b.s);
            return st;
        }
        sb_printf(&b, "  ports: 8000\nenvs:\n  MODEL: ");
        sb_quoted(&b, R->model);
        sb_printf(&b, "\nrun: |\n  ");
        ex_vllm_command(m, r, &b);
        sb_printf(&b, "\n");
        snprintf(name, sizeof name, "skypilot/replicas-%zu.yaml", r);
        if ((st = ex_add(f, name, &b, err)) != FL_OK)
            return st;
    }
    return FL_OK;
}

fl_status ex_slurm(const fl_plan_model *m, const fl_catalog *cat, const fl_export_options *o, ex_files *f,
                   fl_error *err)
{
    (void)o;
    if (fl_plan_model_kind(m) != FL_JOB_TRAINING)
        return fl_fail(err, FL_EINVAL, "kind", "refused (slurm): the slurm export writes training jobs; use "
                       "kubernetes, skypilot or vllm for a serving plan");
    ex_train t;
    fl_status st = ex_train_build(m, cat, &t, err);
    if (st != FL_OK) {
        free(t.args.s);
        return st;
    }
    const char *zone0 = fl_plan_node_group_at(m, t.slot[0].group)->zone;
    for (size_t k = 1; k < t.n_slots; k++)
        if (strcmp(fl_plan_node_group_at(m, t.slot[k].group)->zone, zone0) != 0) {
            free(t.args.s);
            return fl_fail(err, FL_EINVAL, "resources", "refused (slurm): the plan spans zones %s and %s; one Slurm "
                           "job runs in one cluster", zone0, fl_plan_node_group_at(m, t.slot[k].group)->zone);
        }
    char base[48];
    ex_dns_name(fl_plan_model_name(m), base, sizeof base);
    sbuf b = {0};
    sb_printf(&b, "#!/bin/bash\n# flotilla export --to slurm: %s training plan in zone %s, one heterogeneous job "
              "component per stage.\n# --constraint names a node feature per GPU type: adjust to your cluster's "
              "feature names.\n", fl_plan_model_name(m), zone0);
    for (size_t k = 0; k < t.n_slots; k++) {
        const fl_plan_node_group *G = fl_plan_node_group_at(m, t.slot[k].group);
        if (k)
            sb_printf(&b, "#SBATCH hetjob\n");
        else
            sb_printf(&b, "#SBATCH --job-name=%s\n", base);
        sb_printf(&b, "#SBATCH --nodes=%d\n#SBATCH --ntasks-per-node=1\n#SBATCH --gpus-per-node=%d\n"
                  "#SBATCH --constraint=%s\n", t.slot[k].nodes, t.gpus_per_node, G->gpu);
    }
    sb_printf(&b, "set -euo pipefail\nexport MASTER_ADDR=$(scontrol show hostnames \"%s\" | head -n1)\n"
              "export MASTER_PORT=${MASTER_PORT:-29500}\n", t.n_slots > 1 ? "$SLURM_JOB_NODELIST_HET_GROUP_0"
                                                                          : "$SLURM_JOB_NODELIST");
    sb_printf(&b, "# one task per node; SLURM_PROCID numbers the nodes across the components in order\n");
    if (t.n_slots > 1)
        sb_printf(&b, "srun --het-group=0-%zu bash -c '\n", t.n_slots - 1);
    else
        sb_printf(&b, "srun bash -c '\n");
    sb_printf(&b, "export NODE_RANK=$SLURM_PROCID\n");
    ex_train_node_script(&t, m, &b, "");
    sb_printf(&b, "'\n");
    free(t.args.s);
    return ex_add(f, "slurm/train.sbatch", &b, err);
}

/* Pod-spec lines shared by the Kubernetes objects: node selector, one container. */
static fl_status k8s_pod(const fl_plan_model *m, size_t g, int gpus, const char *image, const char *script,
                         sbuf *b, const char *in, fl_error *err)
{
    const fl_plan_node_group *G = fl_plan_node_group_at(m, g);
    const char *prod = ex_k8s_product(G->gpu);
    if (!prod)
        return fl_fail(err, FL_EINVAL, "resources", "refused (kubernetes): no nvidia.com/gpu.product label for %s",
                       G->gpu);
    const char *zshort;
    ex_region(NULL, G->zone, &zshort);
    sb_printf(b, "%snodeSelector:\n%s  nvidia.com/gpu.product: ", in, in);
    sb_quoted(b, prod);
    /* EKS labels nodes with the zone ID, which the plan names; elsewhere the zone name */
    sb_printf(b, "\n%s  %s: ", in, G->cloud && strcmp(G->cloud, "aws") == 0 ? "topology.k8s.aws/zone-id"
                                                                              : "topology.kubernetes.io/zone");
    sb_quoted(b, zshort);
    sb_printf(b, "\n%scontainers:\n%s- name: main\n%s  image: ", in, in, in);
    sb_quoted(b, image);
    sb_printf(b, "\n%s  command: [\"/bin/bash\", \"-c\"]\n%s  args:\n%s  - |\n", in, in, in);
    char deeper[64];
    snprintf(deeper, sizeof deeper, "%s    ", in);
    sb_indented(b, script, deeper);
    sb_printf(b, "%s  resources:\n%s    limits:\n%s      nvidia.com/gpu: %d\n", in, in, in, gpus);
    return FL_OK;
}

static void k8s_meta(sbuf *b, const char *name, const fl_export_options *o)
{
    sb_printf(b, "metadata:\n  name: %s\n", name);
    if (o->queue) {
        sb_printf(b, "  labels:\n    kueue.x-k8s.io/queue-name: ");
        sb_quoted(b, o->queue);
        sb_printf(b, "\n");
    }
}

fl_status ex_kubernetes(const fl_plan_model *m, const fl_catalog *cat, const fl_export_options *o, ex_files *f,
                        fl_error *err)
{
    char base[48], name[96];
    ex_dns_name(fl_plan_model_name(m), base, sizeof base);
    fl_status st = FL_OK;
    sbuf b = {0}, script = {0};
    if (fl_plan_model_kind(m) == FL_JOB_TRAINING) {
        ex_train t;
        if ((st = ex_train_build(m, cat, &t, err)) != FL_OK) {
            free(t.args.s);
            return st;
        }
        const char *image = o->image ? o->image : "nvcr.io/nvidia/pytorch:24.07-py3";
        sb_printf(&b, "# flotilla export --to kubernetes: JobSet for a %s training plan (%d nodes x %d GPUs)\n"
                  "apiVersion: jobset.x-k8s.io/v1alpha2\nkind: JobSet\n", fl_plan_model_name(m), t.nnodes,
                  t.gpus_per_node);
        k8s_meta(&b, base, o);
        sb_printf(&b, "spec:\n  network:\n    enableDNSHostnames: true\n  replicatedJobs:\n");
        for (size_t k = 0; k < t.n_slots && st == FL_OK; k++) {
            free(script.s);
            memset(&script, 0, sizeof script);
            sb_printf(&script, "set -euo pipefail\nexport NODE_RANK=$((%d + JOB_COMPLETION_INDEX))\n"
                      "export MASTER_ADDR=%s-part0-0-0.%s\n", t.slot[k].first_node, base, base);
            ex_train_node_script(&t, m, &script, "");
            sb_printf(&b, "  - name: part%zu\n    replicas: 1\n    template:\n      spec:\n        parallelism: %d\n"
                      "        completions: %d\n        completionMode: Indexed\n        backoffLimit: 0\n"
                      "        template:\n          spec:\n            restartPolicy: Never\n", k, t.slot[k].nodes,
                      t.slot[k].nodes);
            st = k8s_pod(m, t.slot[k].group, t.gpus_per_node, image, script.s, &b, "            ", err);
        }
        free(t.args.s);
        free(script.s);
        if (st != FL_OK) {
            free(b.s);
            return st;
        }
        return ex_add(f, "kubernetes/jobset.yaml", &b, err);
    }
    if ((st = need_vllm(m, "kubernetes", err)) != FL_OK)
        return st;
    const char *image = o->image ? o->image : "vllm/vllm-openai:latest";
    for (size_t r = 0; r < fl_plan_serving_replica_count(m) && st == FL_OK; r++) {
        const fl_plan_serving_replica *R = fl_plan_serving_replica_at(m, r);
        size_t g;
        int nodes, gpp;
        if ((st = ex_serve_shape(m, r, &g, &nodes, &gpp, "kubernetes", err)) != FL_OK)
            break;
        char obj[64];
        snprintf(obj, sizeof obj, "%s-r%zu", base, r);
        free(script.s);
        memset(&script, 0, sizeof script);
        sb_printf(&b, "# replicas[%zu]: %d x (%s, tp %d, pp %d) in %s\n", r, R->count, R->gpu, R->tp, R->pp,
                  R->zone ? R->zone : "any zone");
        if (nodes == 1) {
            ex_vllm_command(m, r, &script);
            sb_printf(&script, "\n");
            sb_printf(&b, "apiVersion: apps/v1\nkind: Deployment\n");
            k8s_meta(&b, obj, o);
            sb_printf(&b, "spec:\n  replicas: %d\n  selector:\n    matchLabels:\n      app: %s\n  template:\n"
                      "    metadata:\n      labels:\n        app: %s\n    spec:\n", R->count, obj, obj);
            st = k8s_pod(m, g, gpp, image, script.s, &b, "      ", err);
        } else {
            sb_printf(&script, "ray start --head --port=6379\n");
            ex_vllm_command(m, r, &script);
            sb_printf(&script, " --distributed-executor-backend ray\n");
            sb_printf(&b, "apiVersion: leaderworkerset.x-k8s.io/v1\nkind: LeaderWorkerSet\n");
            k8s_meta(&b, obj, o);
            sb_printf(&b, "spec:\n  replicas: %d\n  leaderWorkerTemplate:\n    size: %d\n    leaderTemplate:\n"
                      "      spec:\n", R->count, nodes);
            st = k8s_pod(m, g, gpp, image, script.s, &b, "        ", err);
            if (st == FL_OK) {
                sb_printf(&b, "    workerTemplate:\n      spec:\n");
                st = k8s_pod(m, g, gpp, image, "ray start --address=$LWS_LEADER_ADDRESS:6379 --block\n", &b,
                             "        ", err);
            }
        }
        sb_printf(&b, "---\n");
    }
    free(script.s);
    if (st != FL_OK) {
        free(b.s);
        return st;
    }
    snprintf(name, sizeof name, "kubernetes/serving.yaml");
    return ex_add(f, name, &b, err);
}

fl_status ex_vllm(const fl_plan_model *m, const fl_catalog *cat, const fl_export_options *o, ex_files *f,
                  fl_error *err)
{
    (void)cat;
    (void)o;
    if (fl_plan_model_kind(m) != FL_JOB_SERVING)
        return fl_fail(err, FL_EINVAL, "kind", "refused (vllm): a training plan has no vLLM servers; use megatron, "
                       "slurm, skypilot or kubernetes");
    fl_status st = need_vllm(m, "vllm", err);
    if (st != FL_OK)
        return st;
    char name[96];
    sbuf router = {0};
    sb_printf(&router, "{\n  \"routing\": \"weighted per request class\",\n  \"endpoints\": [");
    int first = 1;
    for (size_t r = 0; r < fl_plan_serving_replica_count(m); r++) {
        const fl_plan_serving_replica *R = fl_plan_serving_replica_at(m, r);
        size_t g;
        int nodes, gpp;
        if ((st = ex_serve_shape(m, r, &g, &nodes, &gpp, "vllm", err)) != FL_OK) {
            free(router.s);
            return st;
        }
        sbuf b = {0};
        sb_printf(&b, "#!/bin/bash\n# flotilla export --to vllm: replicas[%zu], run on each of its %d servers "
                  "(%s, %d GPUs%s, %s)\n", r, R->count, R->gpu, R->tp * R->pp,
                  nodes > 1 ? " over a Ray cluster of several nodes" : "", R->zone ? R->zone : "any zone");
        sb_printf(&b, "# MODEL: the Hugging Face repository or local path of %s\nset -euo pipefail\n", R->model);
        ex_vllm_command(m, r, &b);
        if (nodes > 1)
            sb_printf(&b, " --distributed-executor-backend ray");
        sb_printf(&b, "\n");
        snprintf(name, sizeof name, "vllm/replicas-%zu.sh", r);
        if ((st = ex_add(f, name, &b, err)) != FL_OK) {
            free(router.s);
            return st;
        }
        for (int i = 0; i < R->count; i++) {
            sb_printf(&router, "%s\n    {\"name\": \"replicas-%zu-%d\", \"model\": ", first ? "" : ",", r, i);
            sb_quoted(&router, R->model);
            sb_printf(&router, ", \"gpu\": ");
            sb_quoted(&router, R->gpu);
            sb_printf(&router, ", \"zone\": ");
            sb_quoted(&router, R->zone ? R->zone : "");
            sb_printf(&router, ", \"class_weights\": [");
            for (size_t c = 0; c < R->n_class_shares; c++)
                sb_printf(&router, "%s%.6g", c ? ", " : "", R->class_shares[c] / R->count);
            sb_printf(&router, "]}");
            first = 0;
        }
    }
    sb_printf(&router, "\n  ]\n}\n");
    return ex_add(f, "vllm/router.json", &router, err);
}
