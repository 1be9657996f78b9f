/* bench/serving/bench_serving.c — serving figures: (1) request-level simulator speed on one
 * million requests, on one request of 1,000,000 output tokens and on a 1,000,000-request trace
 * with long outputs (event-driven, and the stepping reference), (2) accuracy of the latency model against the measured H100 layer forward
 * times (prefill regime) in tests/data/calibration, (3) published TensorRT-LLM A100 static-batch runs. */
#include "simulator/serve_sim.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* CPU seconds of this process: the shared 2-core machine's load inflates wall time, not this. */
static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
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
    fl_serve_stats st, ref;
    double t0 = now();
    if (fl_serve_simulate(&grp, 1, &wl, &st, NULL))
        return 1;
    double dt = now() - t0;
    t0 = now();
    if (fl_serve_simulate_stepping(&grp, 1, &wl, &ref, NULL))
        return 1;
    double dref = now() - t0;
    printf("## simulator speed\n%zu requests, %zu engine iterations on 8 replicas: %.2f s CPU (%.0f requests/s, %.0f "
           "iterations/s, %zu events); ttft p90 %.3f s, tpot p90 %.4f s, throughput %.1f req/s\n",
           st.completed, st.steps, dt, st.completed / dt, st.steps / dt, st.events, st.ttft_p90, st.tpot_p90,
           st.throughput_rps);
    printf("stepping every iteration (reference): %.2f s CPU; ttft p90 %.3f s, tpot p90 %.4f s\n\n", dref,
           ref.ttft_p90, ref.tpot_p90);

    /* (1b) one request of 1,000,000 output tokens (KV cache enlarged to hold it) */
    {
        fl_serve_group lg = grp;
        lg.count = 1;
        lg.cfg.kv_tokens = 1100000;
        fl_serve_request one = {0, 5, 1000000, 0, 0};
        fl_serve_workload w1;
        memset(&w1, 0, sizeof w1);
        w1.n_classes = 1;
        w1.classes[0] = (fl_request_class){5, 1000000, 1};
        w1.trace = &one;
        w1.n_trace = 1;
        fl_serve_stats a, b;
        t0 = now();
        if (fl_serve_simulate(&lg, 1, &w1, &a, NULL))
            return 1;
        double da = now() - t0;
        t0 = now();
        if (fl_serve_simulate_stepping(&lg, 1, &w1, &b, NULL))
            return 1;
        double db = now() - t0;
        printf("## one request of 1,000,000 output tokens\n%zu iterations in %zu events: %.4f s CPU (stepping: %.3f s); "
               "e2e %.1f s (stepping %.1f s)\n\n", a.steps, a.events, da, db, a.e2e_p50, b.e2e_p50);
    }

    /* (1c) a 1,000,000-request trace, 2 % of the requests with 8k-32k output tokens */
    {
        size_t nt = nreq;
        fl_serve_request *tr = malloc(nt * sizeof *tr);
        if (!tr)
            return 1;
        uint64_t x = 7;
        double t = 0;
        for (size_t i = 0; i < nt; i++) {
            x = x * 6364136223846793005ull + 1442695040888963407ull;
            double u1 = ((x >> 11) + 0.5) / 9007199254740992.0;
            x = x * 6364136223846793005ull + 1442695040888963407ull;
            double u2 = ((x >> 11) + 0.5) / 9007199254740992.0;
            t += -log(u1) / 12.0;
            tr[i] = (fl_serve_request){t, 128 + (int)(u2 * 2000), u2 < 0.02 ? 8000 + (int)(u2 * 1.2e6) : 20 + (int)(u2 * 400),
                                       0, (long)i + 2};
        }
        fl_serve_workload wt;
        memset(&wt, 0, sizeof wt);
        wt.n_classes = 1;
        wt.classes[0] = (fl_request_class){1000, 200, 1};
        wt.trace = tr;
        wt.n_trace = nt;
        wt.seed = 3;
        fl_serve_stats a, b;
        t0 = now();
        if (fl_serve_simulate(&grp, 1, &wt, &a, NULL))
            return 1;
        double da = now() - t0;
        t0 = now();
        if (fl_serve_simulate_stepping(&grp, 1, &wt, &b, NULL))
            return 1;
        double db = now() - t0;
        printf("## %zu-request trace (12 req/s, 2 %% with 8k-32k output tokens), 8 replicas\n%zu iterations in %zu events: %.2f s "
               "CPU (stepping: %.2f s); ttft p90 %.3f s (stepping %.3f), tpot p90 %.4f s (stepping %.4f), %zu preemptions\n\n",
               nt, a.steps, a.events, da, db, a.ttft_p90, b.ttft_p90, a.tpot_p90, b.tpot_p90, a.preemptions);
        free(tr);
    }

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

    /* (3) published end-to-end static-batch runs: TensorRT-LLM release 0.5.0,
     * docs/source/performance.md, "A100 GPUs (FP16)", LLaMA 7B, tp 1: out tokens/s for batch b,
     * input and output lengths. Predicted: prefill of the batch + every decode step at its context. */
    struct { int b, in, out; double tok_s; } pub[] = {
        {64, 128, 128, 3486}, {32, 128, 2048, 1459}, {32, 2048, 128, 529}, {16, 2048, 2048, 592},
    };
    printf("## published runs: TensorRT-LLM 0.5.0 performance.md, A100 FP16, LLaMA 7B, tp 1\n");
    printf("| batch | input | output | published s | predicted s | error |\n|---|---|---|---|---|---|\n");
    {
        fl_serve_cfg c;
        int gi = fl_catalog_find_gpu(cat, "A100-SXM-80GB", NULL, NULL), mi = fl_catalog_find_model(cat, "llama2-7b", NULL, NULL);
        fl_serve_cfg_init(&c, fl_catalog_gpu(cat, (size_t)gi), fl_catalog_model(cat, (size_t)mi), 1, 1, FL_DT_FP16,
                          FL_DT_FP16, "cfg", NULL);
        double errs3[8];
        int n3 = 0;
        for (size_t i = 0; i < sizeof pub / sizeof pub[0]; i++) {
            double t = fl_serve_prefill_time(&c, pub[i].b, pub[i].in, NULL, NULL);
            for (int k = 0; k < pub[i].out - 1; k++)
                t += fl_serve_decode_time(&c, pub[i].b, pub[i].in + k, NULL, NULL);
            double meas = (double)pub[i].b * pub[i].out / pub[i].tok_s;
            double e = (t - meas) / meas;
            errs3[n3++] = fabs(e);
            printf("| %d | %d | %d | %.2f | %.2f | %+.1f%% |\n", pub[i].b, pub[i].in, pub[i].out, meas, t, 100 * e);
        }
        qsort(errs3, (size_t)n3, sizeof *errs3, cmpd);
        printf("median |error| %.1f%%, max %.1f%% over %d runs\n", 100 * 0.5 * (errs3[(n3 - 1) / 2] + errs3[n3 / 2]),
               100 * errs3[n3 - 1], n3);
    }
    fl_catalog_free(cat);
    return 0;
}
