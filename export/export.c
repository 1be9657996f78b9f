/* export/export.c — format dispatch, shared helpers, and the training launch (torchrun with
 * Megatron-LM arguments) used by the megatron, skypilot, slurm and kubernetes formats. */
#include "export/export_int.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void sb_printf(sbuf *b, const char *fmt, ...)
{
    if (b->oom)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->oom = 1;
        return;
    }
    if (b->len + (size_t)n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (b->len + (size_t)n + 1 > cap)
            cap *= 2;
        char *s = realloc(b->s, cap);
        if (!s) {
            b->oom = 1;
            return;
        }
        b->s = s;
        b->cap = cap;
    }
    va_start(ap, fmt);
    vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void sb_quoted(sbuf *b, const char *s)
{
    sb_printf(b, "\"");
    for (const unsigned char *p = (const unsigned char *)(s ? s : ""); *p; p++) {
        if (*p == '"' || *p == '\\')
            sb_printf(b, "\\%c", *p);
        else if (*p < 0x20)
            sb_printf(b, "\\u%04x", *p);
        else
            sb_printf(b, "%c", *p);
    }
    sb_printf(b, "\"");
}

fl_status ex_add(ex_files *f, const char *name, sbuf *b, fl_error *err)
{
    char *nm = NULL;
    if (b->oom || !b->s)
        goto oom;
    if (f->n == f->cap) {
        size_t cap = f->cap ? 2 * f->cap : 8;
        fl_export_file *v = realloc(f->v, cap * sizeof *v);
        if (!v)
            goto oom;
        f->v = v;
        f->cap = cap;
    }
    if (!(nm = strdup(name)))
        goto oom;
    f->v[f->n].name = nm;
    f->v[f->n].text = b->s;
    f->n++;
    memset(b, 0, sizeof *b);
    return FL_OK;
oom:
    free(b->s);
    memset(b, 0, sizeof *b);
    return fl_fail(err, FL_ENOMEM, "export", "out of memory writing %s", name);
}

/* Catalog GPU name -> SkyPilot accelerator name -> GPU feature discovery product label. The
 * SkyPilot names are those of its catalogs (catalogs/v8/<cloud>/vms.csv AcceleratorName); the
 * labels are what NVIDIA GPU feature discovery sets in nvidia.com/gpu.product. */
static const struct { const char *gpu, *sky, *k8s; } gpu_names[] = {
    {"V100-SXM2-16GB", "V100", "Tesla-V100-SXM2-16GB"},
    {"V100-SXM2-32GB", "V100-32GB", "Tesla-V100-SXM2-32GB"},
    {"T4-16GB", "T4", "Tesla-T4"},
    {"A10G-24GB", "A10G", "NVIDIA-A10G"},
    {"L4-24GB", "L4", "NVIDIA-L4"},
    {"L40S-48GB", "L40S", "NVIDIA-L40S"},
    {"A100-PCIE-40GB", "A100", "NVIDIA-A100-PCIE-40GB"},
    {"A100-SXM-40GB", "A100", "NVIDIA-A100-SXM4-40GB"},
    {"A100-SXM-80GB", "A100-80GB", "NVIDIA-A100-SXM4-80GB"},
    {"H100-PCIE-80GB", "H100", "NVIDIA-H100-PCIe"},
    {"H100-SXM-80GB", "H100", "NVIDIA-H100-80GB-HBM3"},
    {"H200-SXM-141GB", "H200", "NVIDIA-H200"},
    {"GH200-96GB", "GH200", "NVIDIA-GH200-480GB"},
    {"MI250X-128GB", "MI250X", NULL},
    {"MI300X-192GB", "MI300X", NULL},
};

const char *ex_sky_accelerator(const char *gpu)
{
    for (size_t i = 0; gpu && i < sizeof gpu_names / sizeof gpu_names[0]; i++)
        if (strcmp(gpu, gpu_names[i].gpu) == 0)
            return gpu_names[i].sky;
    return NULL;
}

const char *ex_k8s_product(const char *gpu)
{
    for (size_t i = 0; gpu && i < sizeof gpu_names / sizeof gpu_names[0]; i++)
        if (strcmp(gpu, gpu_names[i].gpu) == 0)
            return gpu_names[i].k8s;
    return NULL;
}

const char *ex_region(const fl_catalog *cat, const char *zone, const char **short_zone)
{
    const char *colon = zone ? strchr(zone, ':') : NULL;
    if (short_zone)
        *short_zone = colon ? colon + 1 : zone;
    for (size_t i = 0; cat && zone && i < fl_catalog_zone_count(cat); i++) {
        const fl_zone *z = fl_catalog_zone(cat, i);
        if (z && z->name && strcmp(z->name, zone) == 0)
            return z->region;
    }
    return NULL;
}

void ex_dns_name(const char *s, char *out, size_t cap)
{
    size_t n = 0;
    for (const char *p = s ? s : "plan"; *p && n + 1 < cap && n < 40; p++) {
        char c = (char)tolower((unsigned char)*p);
        if (!isalnum((unsigned char)c))
            c = '-';
        if (c == '-' && (n == 0 || out[n - 1] == '-'))
            continue;
        out[n++] = c;
    }
    while (n > 0 && out[n - 1] == '-')
        n--;
    if (n == 0 && cap > 4) {
        memcpy(out, "plan", 4);
        n = 4;
    }
    out[n] = '\0';
}

/* Same stage structure (layers, GPU, zone, tp) and micro-batch count. */
static int same_template(const fl_plan_pipeline *a, const fl_plan_pipeline *b)
{
    if (a->n_stages != b->n_stages || a->micro_batches != b->micro_batches)
        return 0;
    for (size_t s = 0; s < a->n_stages; s++) {
        const fl_plan_stage *x = &a->stages[s], *y = &b->stages[s];
        if (x->first_layer != y->first_layer || x->last_layer != y->last_layer || x->tp != y->tp ||
            strcmp(x->gpu, y->gpu) != 0 || (x->zone && y->zone && strcmp(x->zone, y->zone) != 0) ||
            (!x->zone != !y->zone))
            return 0;
    }
    return 1;
}

fl_status ex_train_build(const fl_plan_model *m, const fl_catalog *cat, ex_train *t, fl_error *err)
{
    memset(t, 0, sizeof *t);
    const fl_plan_training *tr = fl_plan_model_training(m);
    if (!tr || fl_plan_pipeline_count(m) == 0)
        return fl_fail(err, FL_EINVAL, "kind", "this format launches training plans; the plan is a serving plan");
    const fl_plan_pipeline *p0 = fl_plan_pipeline_at(m, 0);
    int dp = 0;
    for (size_t i = 0; i < fl_plan_pipeline_count(m); i++) {
        const fl_plan_pipeline *p = fl_plan_pipeline_at(m, i);
        if (!same_template(p0, p))
            return fl_fail(err, FL_EINVAL, "parallelism.pipelines",
                           "refused: parallelism.pipelines[%zu] differs from pipelines[0] (stages, tp or micro-batch "
                           "count); Megatron-LM runs every data-parallel replica with one layout and one micro-batch "
                           "count", i);
        dp += p->replicas;
    }
    int tp = p0->stages[0].tp;
    for (size_t s = 1; s < p0->n_stages; s++)
        if (p0->stages[s].tp != tp)
            return fl_fail(err, FL_EINVAL, "parallelism.pipelines[0].stages",
                           "refused: stage %zu has tp %d but stage 0 has tp %d; Megatron-LM uses one "
                           "--tensor-model-parallel-size for all stages", s, p0->stages[s].tp, tp);
    if (tp < 1 || dp < 1 || tr->micro_batch < 1 || p0->micro_batches < 1)
        return fl_fail(err, FL_EINVAL, "parallelism", "refused: tp, replicas, micro_batch and micro_batches must be >= 1");
    long long gb = (long long)tr->micro_batch * p0->micro_batches * dp;
    if (tr->global_batch > 0 && gb != tr->global_batch)
        return fl_fail(err, FL_EINVAL, "job.global_batch",
                       "refused: micro_batch %d x micro_batches %d x %d replicas = %lld sequences, not the job's "
                       "global_batch %d; Megatron-LM would run a different batch", tr->micro_batch,
                       p0->micro_batches, dp, gb, tr->global_batch);
    if (tr->zero_stage > 1)
        return fl_fail(err, FL_EINVAL, "parallelism.zero_stage",
                       "refused: zero_stage %d; Megatron-LM's distributed optimizer shards optimizer state only "
                       "(ZeRO-1)", tr->zero_stage);
    /* the model's shape: inline in the plan, else from the catalog */
    fl_plan_model_shape shape;
    const fl_plan_model_shape *md = fl_plan_model_shape_of(m);
    if (!md) {
        const char *mname = fl_plan_model_name(m);
        if (!mname)
            return fl_fail(err, FL_EINVAL, "model", "refused: the plan names no model");
        if (!cat)
            return fl_fail(err, FL_EMISUSE, "catalog", "the training launch needs the catalog (model shape)");
        int mi = fl_catalog_find_model(cat, mname, "model", err);
        if (mi < 0)
            return fl_err_code(err, FL_ENOTFOUND);
        const fl_model *cm = fl_catalog_model(cat, (size_t)mi);
        shape = (fl_plan_model_shape){.name = cm->name, .layers = cm->layers, .hidden = cm->hidden,
                                      .heads = cm->heads, .kv_heads = cm->kv_heads, .ffn = cm->ffn,
                                      .vocab = cm->vocab, .max_positions = cm->max_positions,
                                      .swiglu = cm->activation == FL_ACT_SWIGLU,
                                      .tied_embeddings = cm->tied_embeddings, .rope = cm->rope};
        md = &shape;
    }
    int expect = 0;
    for (size_t s = 0; s < p0->n_stages; s++) {
        if (p0->stages[s].first_layer != expect)
            return fl_fail(err, FL_EINVAL, "parallelism.pipelines[0].stages", "refused: stage %zu starts at layer %d, "
                           "not %d", s, p0->stages[s].first_layer, expect);
        expect = p0->stages[s].last_layer;
    }
    if (expect != md->layers)
        return fl_fail(err, FL_EINVAL, "parallelism.pipelines[0].stages", "refused: the stages cover %d layers, the "
                       "model has %d", expect, md->layers);
    int pp = (int)p0->n_stages;
    int uneven = 0;
    for (size_t s = 0; s < p0->n_stages; s++)
        if (p0->stages[s].last_layer - p0->stages[s].first_layer != md->layers / pp || md->layers % pp)
            uneven = 1;
    int chunks = tr->schedule && strcmp(tr->schedule, "interleaved") == 0 ? tr->chunks : 0;
    if (chunks > 1 && (uneven || (md->layers / pp) % chunks))
        return fl_fail(err, FL_EINVAL, "parallelism.chunks", "refused: the interleaved schedule with %d chunks needs "
                       "the same number of layers on every stage, divisible by the chunks", chunks);

    /* Nodes in rank order: Megatron-LM's default order puts pipeline stages outermost, so stage
     * s holds ranks [s*tp*dp, (s+1)*tp*dp). Consecutive stages on the same node group share its
     * nodes; each run of them must fill whole nodes (a node cannot hold two GPU types). */
    size_t ng = fl_plan_node_group_count(m);
    int used[256] = {0};
    if (ng > 256)
        return fl_fail(err, FL_EINVAL, "resources", "refused: more than 256 node groups");
    int node = 0;
    for (size_t s = 0; s < p0->n_stages;) {
        const fl_plan_stage *st = &p0->stages[s];
        size_t e = s + 1;
        while (e < p0->n_stages && strcmp(p0->stages[e].gpu, st->gpu) == 0 &&
               (!st->zone) == (!p0->stages[e].zone) && (!st->zone || strcmp(p0->stages[e].zone, st->zone) == 0))
            e++;
        size_t g = ng;
        for (size_t k = 0; k < ng; k++) {
            const fl_plan_node_group *G = fl_plan_node_group_at(m, k);
            if (strcmp(G->gpu, st->gpu) == 0 && (!st->zone || strcmp(G->zone, st->zone) == 0) &&
                G->instances > used[k]) {
                g = k;
                break;
            }
        }
        if (g == ng)
            return fl_fail(err, FL_EINVAL, "resources", "refused: no node group left for stage %zu (%s in %s)", s,
                           st->gpu, st->zone ? st->zone : "any zone");
        const fl_plan_node_group *G = fl_plan_node_group_at(m, g);
        if (t->gpus_per_node == 0)
            t->gpus_per_node = G->gpus_per_instance;
        if (G->gpus_per_instance != t->gpus_per_node || t->gpus_per_node < 1)
            return fl_fail(err, FL_EINVAL, "resources", "refused: node groups have %d and %d GPUs per instance; "
                           "torchrun starts the same number of processes on every node", t->gpus_per_node,
                           G->gpus_per_instance);
        long long gpus = (long long)tp * dp * (long long)(e - s);
        if (gpus % t->gpus_per_node)
            return fl_fail(err, FL_EINVAL, "parallelism.pipelines[0].stages", "refused: stages %zu-%zu (%s) need "
                           "%lld GPUs, not whole %d-GPU nodes; a node would hold two GPU types", s, e - 1, st->gpu,
                           gpus, t->gpus_per_node);
        int nodes = (int)(gpus / t->gpus_per_node);
        if (used[g] + nodes > G->instances)
            return fl_fail(err, FL_EINVAL, "resources", "refused: stages %zu-%zu need %d nodes of resources[%zu], "
                           "%d left", s, e - 1, nodes, g, G->instances - used[g]);
        if (t->n_slots == EX_MAX_SLOTS)
            return fl_fail(err, FL_EINVAL, "parallelism", "refused: more than %d stages", EX_MAX_SLOTS);
        t->slot[t->n_slots++] = (ex_slot){.group = g, .nodes = nodes, .first_node = node, .stage = s,
                                          .last_stage = e - 1};
        used[g] += nodes;
        node += nodes;
        s = e;
    }
    t->nnodes = node;
    t->pp = pp;
    t->tp = tp;
    t->dp = dp;

    sbuf *a = &t->args;
    sb_printf(a, "  --tensor-model-parallel-size %d \\\n  --pipeline-model-parallel-size %d \\\n", tp, pp);
    if (uneven) {
        sb_printf(a, "  --pipeline-model-parallel-layout \"");
        for (size_t s = 0; s < p0->n_stages; s++)
            sb_printf(a, "%s%st*%d%s", s ? "|" : "", s == 0 ? "E" : "",
                      p0->stages[s].last_layer - p0->stages[s].first_layer, s + 1 == p0->n_stages ? ",L" : "");
        sb_printf(a, "\" \\\n");
    }
    if (chunks > 1)
        sb_printf(a, "  --num-layers-per-virtual-pipeline-stage %d \\\n", md->layers / pp / chunks);
    sb_printf(a, "  --micro-batch-size %d \\\n  --global-batch-size %lld \\\n", tr->micro_batch, gb);
    sb_printf(a, "  --num-layers %d \\\n  --hidden-size %d \\\n  --num-attention-heads %d \\\n", md->layers,
              md->hidden, md->heads);
    if (md->kv_heads > 0 && md->kv_heads != md->heads)
        sb_printf(a, "  --group-query-attention \\\n  --num-query-groups %d \\\n", md->kv_heads);
    sb_printf(a, "  --ffn-hidden-size %d \\\n", md->ffn);
    if (tr->seq_len > 0)
        sb_printf(a, "  --seq-length %d \\\n", tr->seq_len);
    sb_printf(a, "  --max-position-embeddings %d \\\n", md->max_positions);
    if (md->rope)
        sb_printf(a, "  --position-embedding-type rope \\\n");
    if (md->swiglu)
        sb_printf(a, "  --swiglu \\\n");
    if (!md->tied_embeddings)
        sb_printf(a, "  --untie-embeddings-and-output-weights \\\n");
    const char *dt = tr->compute_dtype ? tr->compute_dtype : "bf16";
    if (strcmp(dt, "bf16") == 0)
        sb_printf(a, "  --bf16 \\\n");
    else if (strcmp(dt, "fp16") == 0)
        sb_printf(a, "  --fp16 \\\n");
    else if (strcmp(dt, "fp32") != 0) {
        free(a->s);
        memset(a, 0, sizeof *a);
        return fl_fail(err, FL_EINVAL, "job.precision.compute", "refused: compute precision %s has no Megatron-LM "
                       "flag this exporter knows", dt);
    }
    if (tr->zero_stage == 1)
        sb_printf(a, "  --use-distributed-optimizer \\\n");
    const char *rc = tr->recompute ? tr->recompute : "none";
    if (strcmp(rc, "selective") == 0)
        sb_printf(a, "  --recompute-granularity selective \\\n");
    else if (strcmp(rc, "full") == 0)
        sb_printf(a, "  --recompute-granularity full \\\n  --recompute-method uniform \\\n  --recompute-num-layers 1 \\\n");
    if (a->oom)
        return fl_fail(err, FL_ENOMEM, "export", "out of memory");
    return FL_OK;
}

void ex_train_node_script(const ex_train *t, const fl_plan_model *m, sbuf *b, const char *in)
{
    (void)m;
    sb_printf(b, "%storchrun --nnodes %d --nproc-per-node %d --node-rank \"$NODE_RANK\" \\\n", in, t->nnodes,
              t->gpus_per_node);
    sb_printf(b, "%s  --master-addr \"$MASTER_ADDR\" --master-port \"${MASTER_PORT:-29500}\" \\\n", in);
    sb_printf(b, "%s  \"${MEGATRON_DIR:-/workspace/Megatron-LM}/pretrain_gpt.py\" \\\n", in);
    const char *s = t->args.s ? t->args.s : "";
    while (*s) {
        const char *nl = strchr(s, '\n');
        size_t n = nl ? (size_t)(nl - s) : strlen(s);
        sb_printf(b, "%s%.*s\n", in, (int)n, s);
        s += n + (nl ? 1 : 0);
    }
    sb_printf(b, "%s  $MEGATRON_EXTRA_ARGS\n", in);
}

/* megatron: one script every node runs, with the node-rank table in its header. */
fl_status ex_megatron(const fl_plan_model *m, const fl_catalog *cat, const fl_export_options *o, ex_files *f,
                      fl_error *err)
{
    (void)o;
    ex_train t;
    fl_status st = ex_train_build(m, cat, &t, err);
    if (st != FL_OK) {
        free(t.args.s);
        return st;
    }
    sbuf b = {0};
    sb_printf(&b, "#!/bin/bash\n# flotilla export --to megatron: Megatron-LM launch of a %s plan\n",
              fl_plan_model_name(m));
    sb_printf(&b, "# %d nodes x %d GPUs: tp %d, pp %d, dp %d. Node ranks (set NODE_RANK and MASTER_ADDR, the "
              "address of node 0):\n", t.nnodes, t.gpus_per_node, t.tp, t.pp, t.dp);
    for (size_t k = 0; k < t.n_slots; k++) {
        const fl_plan_node_group *G = fl_plan_node_group_at(m, t.slot[k].group);
        sb_printf(&b, "#   nodes %d-%d: stages %zu-%zu on resources[%zu] (%s, %s, %s)\n", t.slot[k].first_node,
                  t.slot[k].first_node + t.slot[k].nodes - 1, t.slot[k].stage, t.slot[k].last_stage, t.slot[k].group,
                  G->instance_type ? G->instance_type : "-", G->gpu, G->zone);
    }
    sb_printf(&b, "# Data, tokenizer and checkpoint arguments go in MEGATRON_EXTRA_ARGS.\nset -euo pipefail\n"
              ": \"${NODE_RANK:?set NODE_RANK}\" \"${MASTER_ADDR:?set MASTER_ADDR}\"\n");
    ex_train_node_script(&t, m, &b, "");
    free(t.args.s);
    return ex_add(f, "megatron/train.sh", &b, err);
}

const char *const *fl_export_formats(void)
{
    static const char *const names[] = {"skypilot", "kubernetes", "slurm", "megatron", "vllm", NULL};
    return names;
}

fl_status fl_export_plan(const fl_plan_model *plan, const fl_catalog *cat, const char *format,
                         const fl_export_options *opts, fl_export_file **files, size_t *n_files, fl_error *err)
{
    if (!plan || !format || !files || !n_files)
        return fl_fail(err, FL_EMISUSE, "export", "NULL argument");
    *files = NULL;
    *n_files = 0;
    fl_export_options none = {0};
    if (!opts)
        opts = &none;
    static const struct { const char *name; fl_status (*fn)(const fl_plan_model *, const fl_catalog *,
                                                             const fl_export_options *, ex_files *, fl_error *); } fmts[] = {
        {"skypilot", ex_skypilot}, {"kubernetes", ex_kubernetes}, {"slurm", ex_slurm},
        {"megatron", ex_megatron}, {"vllm", ex_vllm},
    };
    for (size_t i = 0; i < sizeof fmts / sizeof fmts[0]; i++) {
        if (strcmp(format, fmts[i].name) != 0)
            continue;
        ex_files f = {0};
        fl_status st = fmts[i].fn(plan, cat, opts, &f, err);
        if (st == FL_OK && f.n == 0)
            st = fl_fail(err, FL_EINVAL, "format", "%s: nothing to export", format);
        if (st != FL_OK) {
            fl_export_files_free(f.v, f.n);
            return st;
        }
        *files = f.v;
        *n_files = f.n;
        return FL_OK;
    }
    return fl_fail(err, FL_EINVAL, "format", "unknown export format \"%s\" (skypilot, kubernetes, slurm, megatron, "
                   "vllm)", format);
}

void fl_export_files_free(fl_export_file *files, size_t n_files)
{
    for (size_t i = 0; files && i < n_files; i++) {
        free(files[i].name);
        free(files[i].text);
    }
    free(files);
}
