/* cli/cmd_profiles.c — `flotilla profiles list|show|import|export`: catalog management. */
#include "cli/cli.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

static const char *help =
    "usage: flotilla profiles list gpus|offerings|zones|models|measured|nodes [--gpu G] [--zone Z] [--json]\n"
    "       flotilla profiles show NAME [--json]        (a GPU, model or zone, by name or alias)\n"
    "       flotilla profiles import --catalog PATH --nvidia-smi FILE.xml [--zone Z] [--node NAME]\n"
    "                [--nic-gbps GBIT_S] [--nic-latency-us US] [--link nvlink|xgmi|pcie] [--link-gbps GBIT_S]\n"
    "                [--price-per-gpu-hour USD]  (owned capacity: what the planner charges per GPU hour, default 0)\n"
    "       flotilla profiles import --catalog PATH --gpus FILE.csv      (columns of data/gpus.csv)\n"
    "       flotilla profiles import --catalog PATH --network FILE.csv   (columns of data/network_overrides.csv)\n"
    "       flotilla profiles import --catalog PATH --offerings FILE.csv [--cloud aws|gcp|azure|lambda]\n"
    "       flotilla profiles import --catalog PATH --measured FILE.jsonl\n"
    "       flotilla profiles export TABLE [--json] [-o FILE]\n"
    "       flotilla profiles calibrate [--gpu G] [--framework F] [--engine E] [--json] [-o FILE]\n"
    "\n"
    "Without --catalog the built-in catalog is used (read-only). `import` needs --catalog PATH:\n"
    "a PATH that does not exist yet is created from the built-in catalog first (and removed again\n"
    "when the import fails). -o FILE writes the JSON of list, show and export to FILE.\n"
    "`calibrate` prints what the catalog's measured rows imply: the fitted parameters, each row's\n"
    "residual under the fit and its leave-one-out residual (docs/calibration.md).\n";

static double gb(double b) { return b / 1e9; }

static void list_gpus(const fl_catalog *cat)
{
    printf("%-16s %-7s %-10s %8s %9s %9s %9s %-7s %9s %6s\n", "gpu", "vendor", "arch", "mem GB", "HBM GB/s",
           "bf16 TF", "fp16 TF", "link", "link GB/s", "TDP W");
    for (size_t i = 0; i < fl_catalog_gpu_count(cat); i++) {
        const fl_gpu *g = fl_catalog_gpu(cat, i);
        printf("%-16s %-7s %-10s %8.1f %9.0f %9.0f %9.0f %-7s %9.0f %6.0f\n", g->name, g->vendor, g->architecture,
               gb(g->memory_bytes), gb(g->hbm_bw), g->bf16_flops / 1e12, g->fp16_flops / 1e12, g->link_type,
               gb(g->link_bw), g->tdp_w);
    }
}

static void list_models(const fl_catalog *cat)
{
    printf("%-14s %7s %6s %6s %5s %3s %7s %7s %-7s %8s %s\n", "model", "params", "layers", "hidden", "heads", "kv",
           "ffn", "vocab", "act", "experts", "");
    for (size_t i = 0; i < fl_catalog_model_count(cat); i++) {
        const fl_model *m = fl_catalog_model(cat, i);
        printf("%-14s %6.1fB %6d %6d %5d %3d %7d %7d %-7s %5dx%d\n", m->name, m->params / 1e9, m->layers, m->hidden,
               m->heads, m->kv_heads, m->ffn, m->vocab, m->activation == FL_ACT_SWIGLU ? "swiglu" : "gelu",
               m->experts, m->top_k);
    }
}

static void list_zones(const fl_catalog *cat)
{
    printf("%-32s %-7s %-22s %-9s %s\n", "zone", "cloud", "region", "continent", "offerings");
    for (size_t i = 0; i < fl_catalog_zone_count(cat); i++) {
        const fl_zone *z = fl_catalog_zone(cat, i);
        int n = 0;
        for (size_t j = 0; j < fl_catalog_offering_count(cat); j++)
            n += fl_catalog_offering(cat, j)->zone_index == (int)i;
        printf("%-32s %-7s %-22s %-9s %d\n", z->name, z->cloud, z->region, z->continent, n);
    }
}

static void list_offerings(const fl_catalog *cat, int gpu, int zone)
{
    printf("%-28s %-26s %-16s %4s %10s %10s %9s\n", "zone", "instance", "gpu", "gpus", "$/h", "spot $/h", "$/GPU-h");
    for (size_t i = 0; i < fl_catalog_offering_count(cat); i++) {
        const fl_offering *o = fl_catalog_offering(cat, i);
        if ((gpu >= 0 && o->gpu_index != gpu) || (zone >= 0 && o->zone_index != zone))
            continue;
        char spot[32] = "-";
        if (o->spot_price_per_hour > 0)
            snprintf(spot, sizeof spot, "%.3f", o->spot_price_per_hour);
        printf("%-28s %-26s %-16s %4d %10.3f %10s %9.3f\n", o->zone, o->instance_type, o->gpu, o->gpus_per_instance,
               o->price_per_hour, spot, o->price_per_hour / o->gpus_per_instance);
    }
}

static void list_measured(const fl_catalog *cat)
{
    printf("%-16s %-10s %-5s %6s %5s %6s %3s %12s %12s %12s\n", "gpu", "kind", "dtype", "h", "s", "b", "", "fwd s",
           "fwd+bwd s", "seconds");
    for (size_t i = 0; i < fl_catalog_measured_count(cat); i++) {
        const fl_measured *m = fl_catalog_measured(cat, i);
        printf("%-16s %-10s %-5s %6d %5d %6d %3s %12.6g %12.6g %12.6g\n", m->gpu, m->kind, m->dtype, m->h, m->s, m->b,
               "", m->fwd_s, m->fwdbwd_s, m->seconds);
    }
}

static void list_nodes(const fl_catalog *cat)
{
    printf("%-24s %-24s %-16s %5s %8s %6s\n", "node", "zone", "gpu", "gpus", "mem GB", "nvlink");
    for (size_t i = 0; i < fl_catalog_node_count(cat); i++) {
        const fl_node *n = fl_catalog_node(cat, i);
        printf("%-24s %-24s %-16s %5d %8.1f %6s\n", n->name, n->zone, n->gpu, n->gpu_count, gb(n->memory_bytes),
               n->nvlink ? "yes" : "no");
    }
}

/* `list --json` filtered by GPU/zone is rare; JSON lists come straight from the export. */
static int do_list(const fl_catalog *cat, const cli_common *c, const char *what, const char *gpu, const char *zone)
{
    static const char *tables[] = {"gpus", "offerings", "zones", "models", "measured", "nodes", NULL};
    int t = -1;
    for (int i = 0; tables[i]; i++)
        if (strcmp(what, tables[i]) == 0 || (strncmp(what, tables[i], strlen(what)) == 0 && strlen(what) >= 3))
            t = i;
    if (t < 0)
        return cli_usage_error("profiles", "unknown list '%s' (gpus, offerings, zones, models, measured, nodes)", what);
    fl_error err;
    fl_error_clear(&err);
    int gi = -1, zi = -1;
    if (gpu && (gi = fl_catalog_find_gpu(cat, gpu, "--gpu", &err)) < 0)
        return cli_fail(&err);
    if (zone && (zi = fl_catalog_find_zone(cat, zone, "--zone", &err)) < 0)
        return cli_fail(&err);
    if (c->json && gi < 0 && zi < 0) {
        char *s = NULL;
        if (fl_catalog_export(cat, tables[t], 1, &s, &err))
            return cli_fail(&err);
        int rc = cli_write_output(c->out_path, s);
        fl_free(s);
        return rc;
    }
    if (c->json) {
        json_t *arr = json_array();
        for (size_t i = 0; i < fl_catalog_offering_count(cat); i++) {
            const fl_offering *o = fl_catalog_offering(cat, i);
            if ((gi >= 0 && o->gpu_index != gi) || (zi >= 0 && o->zone_index != zi))
                continue;
            json_t *r = json_pack("{s:s,s:s,s:s,s:s,s:s,s:i,s:f,s:o,s:s}", "cloud", o->cloud, "region", o->region,
                                  "zone", o->zone, "instance_type", o->instance_type, "gpu", o->gpu,
                                  "gpus_per_instance", o->gpus_per_instance, "price_per_hour", o->price_per_hour,
                                  "spot_price_per_hour",
                                  o->spot_price_per_hour > 0 ? json_real(o->spot_price_per_hour) : json_null(),
                                  "source", o->source);
            json_array_append_new(arr, r);
        }
        char *s = json_dumps(arr, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
        json_decref(arr);
        int rc = cli_write_output(c->out_path, s);
        free(s);
        return rc;
    }
    switch (t) {
    case 0: list_gpus(cat); break;
    case 1: list_offerings(cat, gi, zi); break;
    case 2: list_zones(cat); break;
    case 3: list_models(cat); break;
    case 4: list_measured(cat); break;
    case 5: list_nodes(cat); break;
    }
    return 0;
}

static int do_show(const fl_catalog *cat, const cli_common *c, const char *name)
{
    fl_error err;
    fl_error_clear(&err);
    json_t *o = NULL;
    int i;
    if ((i = fl_catalog_find_gpu(cat, name, "NAME", NULL)) >= 0) {
        const fl_gpu *g = fl_catalog_gpu(cat, (size_t)i);
        o = json_pack("{s:s,s:s,s:s,s:s,s:f,s:f,s:f,s:f,s:f,s:f,s:f,s:f,s:s,s:f,s:f,s:f,s:s,s:s}", "type", "gpu",
                      "name", g->name, "vendor", g->vendor, "architecture", g->architecture, "memory_bytes",
                      g->memory_bytes, "usable_memory_bytes", g->usable_memory_bytes, "hbm_bw_bytes_per_s", g->hbm_bw,
                      "bf16_flops", g->bf16_flops, "fp16_flops", g->fp16_flops, "fp32_flops", g->fp32_flops,
                      "fp8_flops", g->fp8_flops, "int8_ops", g->int8_ops, "link_type", g->link_type,
                      "link_bw_bytes_per_s", g->link_bw, "pcie_bw_bytes_per_s", g->pcie_bw, "tdp_w", g->tdp_w,
                      "aliases", g->aliases, "source", g->source);
        json_t *offs = json_array();
        for (size_t j = 0; j < fl_catalog_offering_count(cat); j++) {
            const fl_offering *of = fl_catalog_offering(cat, j);
            if (of->gpu_index == i)
                json_array_append_new(offs, json_pack("{s:s,s:s,s:i,s:f}", "zone", of->zone, "instance_type",
                                                      of->instance_type, "gpus", of->gpus_per_instance,
                                                      "price_per_hour", of->price_per_hour));
        }
        json_object_set_new(o, "offerings", offs);
    } else if ((i = fl_catalog_find_model(cat, name, "NAME", NULL)) >= 0) {
        const fl_model *m = fl_catalog_model(cat, (size_t)i);
        o = json_pack("{s:s,s:s,s:i,s:i,s:i,s:i,s:i,s:i,s:s,s:b,s:s,s:i,s:i,s:i,s:f,s:f,s:s,s:s}", "type", "model",
                      "name", m->name, "layers", m->layers, "hidden", m->hidden, "heads", m->heads, "kv_heads",
                      m->kv_heads, "ffn", m->ffn, "vocab", m->vocab, "activation",
                      m->activation == FL_ACT_SWIGLU ? "swiglu" : "gelu", "tied_embeddings", m->tied_embeddings,
                      "positional", m->rope ? "rope" : "learned", "max_positions", m->max_positions, "experts",
                      m->experts, "top_k", m->top_k, "params", m->params, "active_params", m->active_params, "aliases",
                      m->aliases, "source", m->source);
    } else if ((i = fl_catalog_find_zone(cat, name, "NAME", NULL)) >= 0) {
        const fl_zone *z = fl_catalog_zone(cat, (size_t)i);
        o = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "type", "zone", "name", z->name, "cloud", z->cloud, "region",
                      z->region, "continent", z->continent, "source", z->source);
        json_t *offs = json_array();
        for (size_t j = 0; j < fl_catalog_offering_count(cat); j++) {
            const fl_offering *of = fl_catalog_offering(cat, j);
            if (of->zone_index == i)
                json_array_append_new(offs, json_pack("{s:s,s:s,s:i,s:f}", "instance_type", of->instance_type, "gpu",
                                                      of->gpu, "gpus", of->gpus_per_instance, "price_per_hour",
                                                      of->price_per_hour));
        }
        json_object_set_new(o, "offerings", offs);
    } else {
        /* suggest the closest names of each kind: "(closest: A, B, C; see ...)" of each lookup */
        char sugg[3][256];
        for (int k = 0; k < 3; k++) {
            fl_error_clear(&err);
            if (k == 0) fl_catalog_find_gpu(cat, name, "NAME", &err);
            else if (k == 1) fl_catalog_find_model(cat, name, "NAME", &err);
            else fl_catalog_find_zone(cat, name, "NAME", &err);
            const char *b = strstr(err.message, "(closest: ");
            snprintf(sugg[k], sizeof sugg[k], "%s", b ? b + 10 : "?");
            char *e = strchr(sugg[k], ';');
            if (e)
                *e = '\0';
        }
        fprintf(stderr, "flotilla: NAME: '%s' is not a GPU, model or zone of the catalog (closest GPUs: %s; models: %s; "
                "zones: %s)\n", name, sugg[0], sugg[1], sugg[2]);
        return 1;
    }
    if (c->json) {
        char *s = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10));
        int rc = cli_write_output(c->out_path, s);
        free(s);
        json_decref(o);
        return rc;
    }
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v) {
        if (json_is_array(v)) {
            printf("%-22s %zu\n", k, json_array_size(v));
            size_t j;
            json_t *e;
            json_array_foreach(v, j, e) {
                char *s = json_dumps(e, JSON_COMPACT | JSON_PRESERVE_ORDER);
                printf("    %s\n", s);
                free(s);
            }
        } else if (json_is_string(v))
            printf("%-22s %s\n", k, json_string_value(v));
        else if (json_is_integer(v))
            printf("%-22s %lld\n", k, (long long)json_integer_value(v));
        else if (json_is_real(v))
            printf("%-22s %.6g\n", k, json_real_value(v));
        else if (json_is_boolean(v))
            printf("%-22s %s\n", k, json_is_true(v) ? "true" : "false");
    }
    json_decref(o);
    return 0;
}

/* A positive finite number from option `opt` (0 < v <= hi; v == 0 allowed when zero_ok). */
static int parse_positive(const char *opt, const char *text, double hi, int zero_ok, double *v)
{
    char *end;
    *v = strtod(text, &end);
    if (end == text || *end || !isfinite(*v) || (zero_ok ? *v < 0 : *v <= 0) || *v > hi)
        return cli_usage_error("profiles", "%s '%s': give a %s number up to %g", opt, text,
                               zero_ok ? "non-negative" : "positive", hi);
    return 0;
}

/* The options of `profiles import`, checked before the catalog is opened (or created). */
typedef struct import_args {
    const char *xml, *csv, *jsonl, *zone, *node, *cloud;
    const char *gpus, *network;        /* --gpus / --network CSV files */
    const char *nic_gbps, *nic_lat_us, *link, *link_gbps; /* declared node network (with --nvidia-smi) */
    const char *price;                 /* --price-per-gpu-hour (with --nvidia-smi): owned capacity */
    double price_per_gpu_hour;
    fl_node_network net;
} import_args;

static double num(json_t *o, const char *k)
{
    return json_number_value(json_object_get(o, k));
}

/* The calibration report as tables: fitted figures, then rows with residual and leave-one-out. */
static void print_calibration(json_t *doc)
{
    json_t *t = json_object_get(doc, "training"), *v;
    size_t i;
    printf("GPU figures fitted to their own rows:\n");
    json_array_foreach(json_object_get(t, "gpus"), i, v)
        printf("  %-16s GEMM efficiency %.3f (%d rows)   HBM efficiency %.3f (%d rows)\n",
               json_string_value(json_object_get(v, "gpu")), num(v, "gemm_efficiency"),
               (int)json_integer_value(json_object_get(v, "gemm_rows")), num(v, "hbm_efficiency"),
               (int)json_integer_value(json_object_get(v, "memcpy_rows")));
    json_t *ls = json_object_get(t, "layer_scales");
    printf("decoder-layer scales (measured / modelled, %d rows, carried to every GPU): forward %.3f, backward %.3f\n",
           (int)json_integer_value(json_object_get(ls, "rows")), num(ls, "fwd_scale"), num(ls, "bwd_scale"));
    json_t *eg = json_object_get(t, "edge_scales"), *opt = json_object_get(t, "optimizer_step");
    printf("edge scales: embedding %.3f / %.3f (%d rows), LM head + loss %.3f / %.3f (%d rows); optimizer step at "
           "%.0f%% of copy bandwidth (%d rows)\n",
           num(json_object_get(eg, "embedding"), "fwd_scale"), num(json_object_get(eg, "embedding"), "bwd_scale"),
           (int)json_integer_value(json_object_get(json_object_get(eg, "embedding"), "rows")),
           num(json_object_get(eg, "lm_head_loss"), "fwd_scale"), num(json_object_get(eg, "lm_head_loss"), "bwd_scale"),
           (int)json_integer_value(json_object_get(json_object_get(eg, "lm_head_loss"), "rows")),
           100 * num(opt, "bw_frac"), (int)json_integer_value(json_object_get(opt, "rows")));
    json_t *k = json_object_get(t, "kernels_and_layers");
    printf("kernel and layer rows: median |residual| %.1f%%, leave-one-out median %.1f%% (max %.1f%%)\n",
           100 * num(k, "median_abs_residual"), 100 * num(k, "loo_median_abs_residual"),
           100 * num(k, "loo_max_abs_residual"));
    json_array_foreach(json_object_get(t, "frameworks"), i, v) {
        json_t *p = json_object_get(v, "params");
        printf("\nframework %s (%s): launch %.1f us fwd / %.1f us bwd per kernel, checkpoint %.0f us per layer, "
               "%.2f ms per iteration, elementwise passes at %.0f%% of copy bandwidth, loss %.1f bytes per logit, "
               "allocator reserve %.0f%% of transient bytes\n",
               json_string_value(json_object_get(v, "framework")),
               json_is_true(json_object_get(v, "fitted")) ? "fitted" : "defaults", 1e6 * num(p, "launch_fwd_s"),
               1e6 * num(p, "launch_bwd_s"), 1e6 * num(p, "ckpt_layer_s"), 1e3 * num(p, "iter_fixed_s"),
               100 * num(p, "eltwise_bw_frac"), num(p, "loss_bytes_per_logit"), 100 * num(p, "reserve_frac"));
        printf("  %-12s %-14s %3s %2s %3s | %9s %9s %7s %7s | %8s %8s | %s\n", "model", "gpu", "b", "ga", "rc",
               "meas ms", "pred ms", "resid", "LOO", "alloc GB", "pred GB", "OOM meas/pred");
        size_t j;
        json_t *r;
        json_array_foreach(json_object_get(v, "rows"), j, r) {
            int oom = json_is_true(json_object_get(r, "oom"));
            printf("  %-12s %-14s %3d %2d %3s | ", json_string_value(json_object_get(r, "model")),
                   json_string_value(json_object_get(r, "gpu")), (int)json_integer_value(json_object_get(r, "b")),
                   (int)json_integer_value(json_object_get(r, "grad_accum")),
                   json_is_true(json_object_get(r, "recompute")) ? "yes" : "no");
            if (oom)
                printf("%9s %9s %7s %7s | %8s %8.1f | ", "-", "-", "", "", "-",
                       num(r, "predicted_alloc_bytes") / 1e9);
            else
                printf("%9.1f %9.1f %+6.1f%% %+6.1f%% | %8.2f %8.2f | ", 1e3 * num(r, "measured_s"),
                       1e3 * num(r, "predicted_s"), 100 * num(r, "residual"), 100 * num(r, "loo_residual"),
                       num(r, "measured_alloc_bytes") / 1e9, num(r, "predicted_alloc_bytes") / 1e9);
            printf("%s/%s\n", oom ? "OOM" : "fits", json_is_true(json_object_get(r, "loo_predicted_oom")) ? "OOM" : "fits");
        }
        printf("  iteration time: median |residual| %.1f%% (max %.1f%%); leave-one-model-out median %.1f%% (max "
               "%.1f%%); peak allocated leave-one-model-out median %.1f%%; out-of-memory right %d of %d\n",
               100 * num(v, "median_abs_residual"), 100 * num(v, "max_abs_residual"),
               100 * num(v, "loo_median_abs_residual"), 100 * num(v, "loo_max_abs_residual"),
               100 * num(v, "loo_alloc_median_abs_residual"), (int)json_integer_value(json_object_get(v, "loo_oom_right")),
               (int)json_integer_value(json_object_get(v, "oom_rows")));
    }
}

/* The serving part of the report: each engine's refit parameters and rows. */
static void print_serving_calibration(json_t *doc)
{
    json_t *v;
    size_t i;
    json_array_foreach(json_object_get(json_object_get(doc, "serving"), "engines"), i, v) {
        printf("\nengine %s on %s:", json_string_value(json_object_get(v, "engine")),
               json_string_value(json_object_get(v, "gpu")));
        const char *k;
        json_t *x;
        json_object_foreach(json_object_get(v, "params"), k, x)
            if (json_is_number(x))
                printf(" %s %.4g", k, json_number_value(x));
        printf("\n  %-11s %-12s %4s %6s %3s | %9s %9s %7s %7s\n", "kind", "model", "b", "s", "tp", "meas ms", "pred ms",
               "resid", "LOO");
        size_t j;
        json_t *r;
        json_array_foreach(json_object_get(v, "rows"), j, r) {
            printf("  %-11s %-12s %4d %6d %3d | ", json_string_value(json_object_get(r, "kind")),
                   json_string_value(json_object_get(r, "model")), (int)json_integer_value(json_object_get(r, "b")),
                   (int)json_integer_value(json_object_get(r, "s")), (int)json_integer_value(json_object_get(r, "tp")));
            if (json_is_true(json_object_get(r, "oom")))
                printf("out of memory; predicted %s\n",
                       json_is_true(json_object_get(r, "predicted_fits")) ? "to fit (wrong)" : "not to fit");
            else
                printf("%9.3f %9.3f %+6.1f%% %+6.1f%%\n", 1e3 * num(r, "measured_s"), 1e3 * num(r, "predicted_s"),
                       100 * num(r, "residual"), 100 * num(r, "loo_residual"));
        }
        printf("  median |residual| %.1f%%, leave-one-out median %.1f%%\n", 100 * num(v, "median_abs_err"),
               100 * num(v, "loo_median_abs_err"));
    }
}

static int do_calibrate(const fl_catalog *cat, const cli_common *c, const char *gpu, const char *framework,
                        const char *engine)
{
    fl_error err;
    fl_error_clear(&err);
    char *s = NULL;
    if (fl_calibration_report(cat, gpu, framework, engine, &s, &err))
        return cli_fail(&err);
    int rc = 0;
    if (c->json || c->out_path) {
        rc = cli_write_output(c->out_path, s);
    } else {
        json_t *doc = json_loads(s, 0, NULL);
        if (!doc)
            rc = cli_out_of_memory("calibration report");
        else {
            print_calibration(doc);
            print_serving_calibration(doc);
        }
        json_decref(doc);
    }
    fl_free(s);
    return rc;
}

static int parse_import(int argc, char **argv, import_args *o)
{
    memset(o, 0, sizeof *o);
    for (int i = 0; i < argc; i++) {
        const char **dst = NULL;
        if (strcmp(argv[i], "--nvidia-smi") == 0) dst = &o->xml;
        else if (strcmp(argv[i], "--offerings") == 0) dst = &o->csv;
        else if (strcmp(argv[i], "--measured") == 0) dst = &o->jsonl;
        else if (strcmp(argv[i], "--zone") == 0) dst = &o->zone;
        else if (strcmp(argv[i], "--node") == 0) dst = &o->node;
        else if (strcmp(argv[i], "--cloud") == 0) dst = &o->cloud;
        else if (strcmp(argv[i], "--gpus") == 0) dst = &o->gpus;
        else if (strcmp(argv[i], "--network") == 0) dst = &o->network;
        else if (strcmp(argv[i], "--nic-gbps") == 0) dst = &o->nic_gbps;
        else if (strcmp(argv[i], "--nic-latency-us") == 0) dst = &o->nic_lat_us;
        else if (strcmp(argv[i], "--link") == 0) dst = &o->link;
        else if (strcmp(argv[i], "--link-gbps") == 0) dst = &o->link_gbps;
        else if (strcmp(argv[i], "--price-per-gpu-hour") == 0) dst = &o->price;
        else return cli_usage_error("profiles", "unknown import option '%s'", argv[i]);
        if (i + 1 >= argc)
            return cli_usage_error("profiles", "%s needs a value", argv[i]);
        *dst = argv[++i];
    }
    if (!!o->xml + !!o->csv + !!o->jsonl + !!o->gpus + !!o->network != 1)
        return cli_usage_error("profiles", "import takes exactly one of --nvidia-smi, --offerings, --measured, --gpus, "
                                           "--network");
    if ((o->nic_gbps || o->nic_lat_us || o->link || o->link_gbps || o->price) && !o->xml)
        return cli_usage_error("profiles", "--nic-gbps, --nic-latency-us, --link, --link-gbps and --price-per-gpu-hour "
                                           "go with --nvidia-smi");
    o->net.nic_latency = -1;
    double v;
    if (o->nic_gbps) {
        if (parse_positive("--nic-gbps", o->nic_gbps, 1e5, 0, &v))
            return 2;
        o->net.nic_bw = v * 1e9 / 8; /* Gbit/s -> bytes/s */
    }
    if (o->nic_lat_us) {
        if (!o->nic_gbps)
            return cli_usage_error("profiles", "--nic-latency-us goes with --nic-gbps");
        if (parse_positive("--nic-latency-us", o->nic_lat_us, 1e6, 1, &v))
            return 2;
        o->net.nic_latency = v * 1e-6;
    }
    if (o->link) {
        if (strcasecmp(o->link, "nvlink") && strcasecmp(o->link, "xgmi") && strcasecmp(o->link, "pcie"))
            return cli_usage_error("profiles", "--link '%s': nvlink, xgmi or pcie", o->link);
        o->net.link_type = o->link;
    }
    if (o->link_gbps) {
        if (parse_positive("--link-gbps", o->link_gbps, 8e5, 0, &v))
            return 2;
        o->net.link_bw = v * 1e9 / 8;
    }
    if (o->price) {
        if (parse_positive("--price-per-gpu-hour", o->price, 1e4, 1, &v))
            return 2;
        o->price_per_gpu_hour = v;
    }
    if ((o->zone || o->node) && !o->xml)
        return cli_usage_error("profiles", "--zone and --node go with --nvidia-smi");
    if (o->cloud && !o->csv)
        return cli_usage_error("profiles", "--cloud goes with --offerings");
    return 0;
}

static int do_import(fl_catalog *cat, const cli_common *c, const import_args *o)
{
    const char *xml = o->xml, *csv = o->csv, *jsonl = o->jsonl, *zone = o->zone, *node = o->node, *cloud = o->cloud;
    int declared = o->nic_gbps || o->link || o->link_gbps;
    fl_error err;
    fl_error_clear(&err);
    size_t rows = 0;
    fl_status st;
    /* remember the node names before, to report the node an import added */
    size_t n_before = fl_catalog_node_count(cat);
    char **before = calloc(n_before + 1, sizeof *before);
    for (size_t i = 0; before && i < n_before; i++)
        before[i] = strdup(fl_catalog_node(cat, i)->name);
    if (xml)
        st = fl_catalog_import_nvidia_smi_priced(cat, xml, zone, node, declared ? &o->net : NULL, o->price_per_gpu_hour,
                                                 &err);
    else if (o->gpus)
        st = fl_catalog_import_gpus(cat, o->gpus, &rows, &err);
    else if (o->network)
        st = fl_catalog_import_network(cat, o->network, &rows, &err);
    else if (csv)
        st = fl_catalog_import_offerings(cat, csv, cloud, &rows, &err);
    else
        st = fl_catalog_import_measured(cat, jsonl, &rows, &err);
    const fl_node *n = NULL;
    for (size_t i = 0; !st && xml && i < fl_catalog_node_count(cat); i++) {
        const fl_node *c = fl_catalog_node(cat, i);
        int known = 0;
        for (size_t j = 0; before && j < n_before; j++)
            known |= before[j] && strcmp(before[j], c->name) == 0;
        if ((node && strcmp(c->name, node) == 0) || (!node && !known))
            n = c;
    }
    for (size_t i = 0; before && i < n_before; i++)
        free(before[i]);
    free(before);
    if (st)
        return cli_fail(&err);
    if (xml) {
        if (c->json && n)
            printf("{\"node\": \"%s\", \"zone\": \"%s\", \"gpu\": \"%s\", \"gpus\": %d}\n", n->name, n->zone, n->gpu,
                   n->gpu_count);
        else if (n)
            printf("imported node %s: %d x %s in %s into %s\n", n->name, n->gpu_count, n->gpu, n->zone,
                   fl_catalog_path(cat));
        else
            printf("re-imported node into %s (name unchanged)\n", fl_catalog_path(cat));
    } else if (c->json) {
        printf("{\"rows\": %zu}\n", rows);
    } else {
        printf("imported %zu %s rows into %s\n", rows,
               csv ? "offering" : o->gpus ? "GPU type" : o->network ? "zone-pair network" : "measured",
               fl_catalog_path(cat));
    }
    return 0;
}

int cmd_profiles(int argc, char **argv)
{
    cli_set_command("profiles", help);
    cli_common c = {0};
    const char *sub = NULL, *gpu = NULL, *zone = NULL;
    char **rest = calloc((size_t)argc + 1, sizeof *rest);
    int nrest = 0, rc = 0;
    if (!rest)
        return cli_out_of_memory("arguments");
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            fputs(help, stdout);
            free(rest);
            return 0;
        }
        int r = cli_common_opt(&c, argc, argv, &i);
        if (r < 0) { free(rest); return 2; }
        if (r)
            continue;
        if (!sub) { sub = argv[i]; continue; }
        rest[nrest++] = argv[i];
    }
    if (!sub) {
        fputs(help, stderr);
        free(rest);
        return 2;
    }
    /* usage errors first: nothing is opened (or created) for a command line that is wrong */
    enum { LIST, SHOW, IMPORT, EXPORT, CALIBRATE } what_sub = LIST;
    const char *framework = NULL, *engine = NULL;
    const char *what = NULL;
    import_args imp = {0};
    fl_catalog *cat = NULL;
    if (strcmp(sub, "list") == 0) {
        what_sub = LIST;
        for (int i = 0; i < nrest && !rc; i++) {
            int opt = strcmp(rest[i], "--gpu") == 0 || strcmp(rest[i], "--zone") == 0;
            if (opt && i + 1 >= nrest) rc = cli_usage_error("profiles", "%s needs a value", rest[i]);
            else if (strcmp(rest[i], "--gpu") == 0) gpu = rest[++i];
            else if (strcmp(rest[i], "--zone") == 0) zone = rest[++i];
            else if (rest[i][0] == '-' && rest[i][1]) rc = cli_usage_error("profiles", "unknown option '%s'", rest[i]);
            else if (!what) what = rest[i];
            else rc = cli_usage_error("profiles", "unexpected argument '%s'", rest[i]);
        }
        if (!rc && !what)
            rc = cli_usage_error("profiles", "list what? gpus, offerings, zones, models, measured, nodes");
    } else if (strcmp(sub, "show") == 0) {
        what_sub = SHOW;
        if (nrest != 1)
            rc = cli_usage_error("profiles", "show takes one NAME");
    } else if (strcmp(sub, "import") == 0) {
        what_sub = IMPORT;
        if (!c.catalog_path && !getenv("FLOTILLA_CATALOG"))
            rc = cli_usage_error("profiles", "import changes a catalog file: give --catalog PATH "
                                             "(created from the built-in catalog when it does not exist)");
        else if (c.out_path)
            rc = cli_usage_error("profiles", "-o does not apply to import (it changes the --catalog file)");
        else
            rc = parse_import(nrest, rest, &imp);
    } else if (strcmp(sub, "export") == 0) {
        what_sub = EXPORT;
        if (nrest != 1)
            rc = cli_usage_error("profiles", "export takes one TABLE");
    } else if (strcmp(sub, "calibrate") == 0) {
        what_sub = CALIBRATE;
        for (int i = 0; i < nrest && !rc; i++) {
            int opt = strcmp(rest[i], "--gpu") == 0 || strcmp(rest[i], "--framework") == 0 ||
                      strcmp(rest[i], "--engine") == 0;
            if (opt && i + 1 >= nrest) rc = cli_usage_error("profiles", "%s needs a value", rest[i]);
            else if (strcmp(rest[i], "--gpu") == 0) gpu = rest[++i];
            else if (strcmp(rest[i], "--framework") == 0) framework = rest[++i];
            else if (strcmp(rest[i], "--engine") == 0) engine = rest[++i];
            else rc = cli_usage_error("profiles", "unexpected argument '%s' for calibrate", rest[i]);
        }
    } else {
        rc = cli_usage_error("profiles", "unknown subcommand '%s' (list, show, import, export, calibrate)", sub);
    }
    if (rc)
        goto done;
    /* -o FILE writes the machine output (JSON) of list and show, as with --json */
    if (c.out_path && (what_sub == LIST || what_sub == SHOW))
        c.json = 1;
    /* an import into a catalog file that does not exist yet creates it; a failed import removes it
     * again, so that a failed command leaves nothing behind */
    const char *cat_path = c.catalog_path ? c.catalog_path : getenv("FLOTILLA_CATALOG");
    int created = what_sub == IMPORT && cat_path && access(cat_path, F_OK) != 0;
    if ((rc = cli_open_catalog(&c, &cat)))
        goto done;
    switch (what_sub) {
    case LIST: rc = do_list(cat, &c, what, gpu, zone); break;
    case SHOW: rc = do_show(cat, &c, rest[0]); break;
    case CALIBRATE: rc = do_calibrate(cat, &c, gpu, framework, engine); break;
    case IMPORT:
        rc = do_import(cat, &c, &imp);
        if (rc && created) {
            fl_catalog_free(cat);
            cat = NULL;
            remove(cat_path);
        }
        break;
    case EXPORT: {
        fl_error err;
        fl_error_clear(&err);
        char *s = NULL;
        if (fl_catalog_export(cat, rest[0], c.json, &s, &err))
            rc = cli_fail(&err);
        else {
            size_t n = strlen(s);
            if (n && s[n - 1] == '\n')
                s[n - 1] = '\0';
            rc = cli_write_output(c.out_path, s);
        }
        fl_free(s);
        break;
    }
    }
done:
    fl_catalog_free(cat);
    free(rest);
    return rc;
}
