/* bench/serving/bench_serving.c — serving figures: (1) request-level simulator speed on one
 * million requests, (2) accuracy of the latency model against the measured H100 layer forward
 * times (prefill regime) in tests/data/calibration, (3) public decode reference points. */
#include "simulator/serve_sim.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int cmpd(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    const char *calib = argc > 1 ? argv[1] : "tests/data/calibration/h100-sxm-80gb.layers.jsonl";
    size_t nreq = argc > 2 ? (size_t)atol(argv[2]) : 1000000;
    fl_catalog *cat;
    if (fl_catalog_open(NULL, &cat, NULL))
        return 1;
    int h100 = fl_catalog_find_gpu(cat, "H100-SXM-80GB", NULL, NULL);
    const fl_gpu *g = fl_catalog_gpu(cat, (size_t)h100);

    /* (1) simulator speed: 8 replicas of Llama-3-8B on H100, two classes, near saturation */
    fl_serve_group grp;
    memset(&grp, 0, sizeof grp);
    fl_serve_cfg_init(&grp.cfg, g, fl_catalog_model(cat, (size_t)fl_catalog_find_model(cat, "llama3-8b", NULL, NULL)), 1,
                      1, FL_DT_BF16, FL_DT_BF16, "cfg", NULL);
    grp.count = 8;
    grp.class_share[0] = grp.class_share[1] = 1;
    fl_serve_workload wl;
    memset(&wl, 0, sizeof wl);
    wl.rate_rps = 160;
    wl.n_classes = 2;
    wl.classes[0] = (fl_request_class){512, 128, 0.7};
    wl.classes[1] = (fl_request_class){2048, 256, 0.3};
    wl.n_requests = nreq;
    wl.seed = 42;
    fl_serve_stats st;
    double t0 = now();
    if (fl_serve_simulate(&grp, 1, &wl, &st, NULL))
        return 1;
    double dt = now() - t0;
    printf("## simulator speed\n%zu requests, %zu engine iterations on 8 replicas: %.2f s wall (%.0f requests/s, %.0f "
           "iterations/s); ttft p90 %.3f s, tpot p90 %.4f s, throughput %.1f req/s\n\n",
           st.completed, st.steps, dt, st.completed / dt, st.steps / dt, st.ttft_p90, st.tpot_p90, st.throughput_rps);

    /* (2) layer forward (prefill regime) against the measured H100 points */
    FILE *f = fopen(calib, "r");
    if (!f) {
        fprintf(stderr, "cannot open %s\n", calib);
        return 1;
    }
    char line[4096];
    double errs[64];
    int ne = 0;
    printf("## H100 layer forward, GPT layer (gelu, ffn 4h), measured vs model\n| h | s | b | measured ms | model ms | error |\n|---|---|---|---|---|---|\n");
    while (fgets(line, sizeof line, f)) {
        json_t *o = json_loads(line, 0, NULL);
        if (!o)
            continue;
        const char *kind = json_string_value(json_object_get(o, "kind"));
        if (kind && !strcmp(kind, "layer")) {
            int h = (int)json_integer_value(json_object_get(o, "h")), a = (int)json_integer_value(json_object_get(o, "a"));
            int s = (int)json_integer_value(json_object_get(o, "s")), b = (int)json_integer_value(json_object_get(o, "b"));
            double meas = json_number_value(json_object_get(o, "fwd_s_per_layer"));
            fl_model m = {0};
            m.name = "gpt-layer"; m.hidden = h; m.heads = a; m.kv_heads = a; m.ffn = 4 * h; m.vocab = 1;
            m.activation = FL_ACT_GELU; m.experts = 1; m.top_k = 1;
            double tl[2];
            for (int L = 1; L <= 2; L++) {
                m.layers = L;
                fl_serve_cfg c;
                fl_serve_cfg_init(&c, g, &m, 1, 1, FL_DT_BF16, FL_DT_BF16, "cfg", NULL);
                tl[L - 1] = fl_serve_step_time(&c, (double)b * s, 0, (double)b * s * (s + 1.0) / 2.0, 0, NULL, NULL);
            }
            double model = tl[1] - tl[0];
            double e = (model - meas) / meas;
            errs[ne++] = fabs(e);
            printf("| %d | %d | %d | %.3f | %.3f | %+.1f%% |\n", h, s, b, meas * 1e3, model * 1e3, 100 * e);
        }
        json_decref(o);
    }
    fclose(f);
    qsort(errs, (size_t)ne, sizeof *errs, cmpd);
    if (ne)
        printf("median |error| %.1f%%, max %.1f%% over %d points\n\n", 100 * errs[ne / 2], 100 * errs[ne - 1], ne);

    /* (3) public decode reference points (batch 1, 16-bit weights) */
    struct { const char *gpu, *model; int tp; double lo, hi; const char *src; } refs[] = {
        {"A100-SXM-80GB", "llama2-7b", 1, 6e-3, 8e-3, "vLLM / TensorRT-LLM batch-1 decode, ~6-8 ms/token (issue 5 brief; weights 13.5 GB / 2.0 TB/s = 6.6 ms floor)"},
        {"H100-SXM-80GB", "llama3-8b", 1, 4e-3, 6.5e-3, "vLLM batch-1 decode on H100 ~4-6 ms/token (16 GB / 3.35 TB/s = 4.8 ms floor)"},
        {"H100-SXM-80GB", "llama3-70b", 4, 10e-3, 16e-3, "TensorRT-LLM/vLLM Llama-3-70B tp4 batch 1, ~10-15 ms/token (141 GB / 4 / 3.35 TB/s = 10.5 ms floor)"},
    };
    printf("## public reference points (decode, batch 1, context 512)\n| gpu | model | tp | model ms | public range ms | source |\n|---|---|---|---|---|---|\n");
    for (size_t i = 0; i < sizeof refs / sizeof refs[0]; i++) {
        fl_serve_cfg c;
        int gi = fl_catalog_find_gpu(cat, refs[i].gpu, NULL, NULL), mi = fl_catalog_find_model(cat, refs[i].model, NULL, NULL);
        fl_serve_cfg_init(&c, fl_catalog_gpu(cat, (size_t)gi), fl_catalog_model(cat, (size_t)mi), refs[i].tp, 1, FL_DT_BF16,
                          FL_DT_BF16, "cfg", NULL);
        double t = fl_serve_decode_time(&c, 1, 512, NULL, NULL);
        printf("| %s | %s | %d | %.2f | %.1f-%.1f | %s |\n", refs[i].gpu, refs[i].model, refs[i].tp, t * 1e3,
               refs[i].lo * 1e3, refs[i].hi * 1e3, refs[i].src);
    }
    fl_catalog_free(cat);
    return 0;
}
