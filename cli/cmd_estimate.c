/* cli/cmd_estimate.c — `flotilla estimate`: one GPU / model / phase question. */
#include "cli/cli.h"

#include <string.h>

static const char *help =
    "usage: flotilla estimate --gpu G --model M --phase train|prefill|decode\n"
    "                         [--tp N] [--pp N] [--batch B] [--seq S] [--context C]\n"
    "                         [--dtype bf16|fp16|fp8|int8|fp32|tf32] [--recompute none|selective|full]\n"
    "                         [--framework megatron|torch-amp] [--engine NAME]\n"
    "                         [--attention flash|standard] [--json] [-o FILE] [--catalog PATH]\n"
    "\n"
    "Prints the estimate; --json prints it as JSON; -o FILE writes the JSON to FILE.\n"
    "\n"
    "train:   forward+backward time of one micro-batch of B sequences of S tokens through all\n"
    "         layers on one tensor-parallel group of N GPUs, and its peak memory per GPU.\n"
    "prefill: time to prefill B prompts of S tokens.\n"
    "decode:  time of one decode step for B sequences with C tokens of context each.\n"
    "\n"
    "--engine (prefill/decode): vllm, sglang, tensorrt-llm, splitwise-2023, hf-transformers-eager-sdpa,\n"
    "         pytorch-static-kv-cudagraph (docs/engines.md). Default: the engine of the catalog's\n"
    "         imported rows of that phase, else vllm. Measured prefill/decode rows imported with\n"
    "         `profiles import --measured` refit the engine (source \"calibrated\"); an imported point\n"
    "         itself is answered as measured (source \"measured\").\n";

int cmd_estimate(int argc, char **argv)
{
    cli_set_command("estimate", help);
    cli_common c = {0};
    fl_estimate_query q;
    fl_estimate_query_init(&q);
    const char *phase = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            fputs(help, stdout);
            return 0;
        }
        int r = cli_common_opt(&c, argc, argv, &i);
        if (r < 0) return 2;
        if (r) continue;
        if (a[0] != '-')
            return cli_usage_error("estimate", "unexpected argument '%s'", a);
        if (i + 1 >= argc)
            return cli_usage_error("estimate", "%s needs a value", a);
        const char *v = argv[++i];
        if (strcmp(a, "--gpu") == 0) q.gpu = v;
        else if (strcmp(a, "--model") == 0) q.model = v;
        else if (strcmp(a, "--phase") == 0) phase = v;
        else if (strcmp(a, "--dtype") == 0) q.dtype = v;
        else if (strcmp(a, "--recompute") == 0) q.recompute = v;
        else if (strcmp(a, "--framework") == 0) q.framework = v;
        else if (strcmp(a, "--engine") == 0) q.engine = v;
        else if (strcmp(a, "--attention") == 0) {
            if (strcmp(v, "flash") && strcmp(v, "standard"))
                return cli_usage_error("estimate", "--attention is flash or standard, got '%s'", v);
            q.flash = strcmp(v, "flash") == 0;
        } else if (strcmp(a, "--tp") == 0) { if (cli_parse_int(a, v, 1, 64, &q.tp)) return 2; }
        else if (strcmp(a, "--pp") == 0) { if (cli_parse_int(a, v, 1, 1024, &q.pp)) return 2; }
        else if (strcmp(a, "--batch") == 0) { if (cli_parse_int(a, v, 1, 1 << 20, &q.batch)) return 2; }
        else if (strcmp(a, "--seq") == 0) { if (cli_parse_int(a, v, 1, 1 << 24, &q.seq)) return 2; }
        else if (strcmp(a, "--context") == 0) { if (cli_parse_int(a, v, 0, 1 << 24, &q.context)) return 2; }
        else return cli_usage_error("estimate", "unknown option '%s'", a);
    }
    if (!q.gpu || !q.model || !phase)
        return cli_usage_error("estimate", "--gpu, --model and --phase are required");
    if (strcmp(phase, "train") == 0) q.phase = FL_PHASE_TRAIN;
    else if (strcmp(phase, "prefill") == 0) q.phase = FL_PHASE_PREFILL;
    else if (strcmp(phase, "decode") == 0) q.phase = FL_PHASE_DECODE;
    else return cli_usage_error("estimate", "--phase is train, prefill or decode, got '%s'", phase);
    if (q.seq == 0)
        q.seq = q.phase == FL_PHASE_TRAIN ? 2048 : 512;
    fl_catalog *cat = NULL;
    int rc = cli_open_catalog(&c, &cat);
    if (rc)
        return rc;
    fl_error err;
    fl_error_clear(&err);
    fl_estimate_result res;
    if (fl_estimate(cat, &q, &res, &err)) {
        if (strcmp(err.field, "engine") == 0 && strncmp(err.message, "engine:", 7) == 0) {
            /* the library names its query member; on the command line it is the option */
            char m[sizeof err.message];
            snprintf(m, sizeof m, "--engine:%s", err.message + 7);
            snprintf(err.message, sizeof err.message, "%s", m);
            snprintf(err.field, sizeof err.field, "--engine");
        }
        rc = cli_fail(&err);
    } else if (c.json || c.out_path) {
        json_t *o = json_pack("{s:s,s:s,s:s,s:i,s:i,s:i,s:f,s:f,s:f,s:f,s:b,s:s,s:s}", "gpu", q.gpu, "model", q.model,
                              "phase", phase, "tp", q.tp, "pp", q.pp, "batch", q.batch, "seconds", res.seconds, "flops",
                              res.flops, "achieved_flops_per_gpu", res.achieved_flops, "memory_bytes", res.memory_bytes,
                              "fits", res.fits, "source", res.source, "bound", res.bound);
        if (q.phase == FL_PHASE_TRAIN) {
            json_object_set_new(o, "seq", json_integer(q.seq));
            json_object_set_new(o, "fwd_s", json_real(res.fwd_s));
            json_object_set_new(o, "bwd_s", json_real(res.bwd_s));
        } else {
            json_object_set_new(o, q.phase == FL_PHASE_PREFILL ? "seq" : "context",
                                json_integer(q.phase == FL_PHASE_PREFILL ? q.seq : q.context));
            json_object_set_new(o, "kv_cache_tokens", json_real(res.kv_cache_tokens));
            json_object_set_new(o, "engine", json_string(res.engine));
        }
        char *s = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6));
        rc = s ? cli_write_output(c.out_path, s) : cli_out_of_memory("estimate JSON");
        free(s);
        json_decref(o);
    }
    if (rc == 0 && !c.json) {
        printf("%s %s on %s (tp %d, pp %d, batch %d%s%s): %.6g s  [%s, %s-bound]\n", phase, q.model, q.gpu, q.tp,
               q.pp, q.batch, q.phase == FL_PHASE_TRAIN ? "" : ", engine ", q.phase == FL_PHASE_TRAIN ? "" : res.engine,
               res.seconds, res.source, res.bound);
        if (q.phase == FL_PHASE_TRAIN)
            printf("  forward %.6g s, backward %.6g s, %.1f TFLOP/s per GPU, peak memory %.2f GB per GPU%s\n",
                   res.fwd_s, res.bwd_s, res.achieved_flops / 1e12, res.memory_bytes / 1e9,
                   res.fits ? "" : " (DOES NOT FIT)");
        else
            printf("  %.1f TFLOP/s per GPU, weights %.2f GB per GPU, KV cache %.0f tokens%s\n",
                   res.achieved_flops / 1e12, res.memory_bytes / 1e9, res.kv_cache_tokens,
                   res.fits ? "" : " (DOES NOT FIT)");
    }
    fl_catalog_free(cat);
    return rc;
}
