/* bench/train_sim/accuracy.c — accuracy table of the analytic training model against measured
 * points: every "layer" line of a calibration JSONL (forward s, forward+backward s, activation
 * bytes per layer) and every "gemm" line, predicted vs measured with the relative error, and the
 * medians. The catalog used is the built-in one (no measured points), so the figures are those
 * of the analytic model. Usage: train_sim_accuracy [FILE.jsonl] (default: the H100 calibration
 * file in tests/data/calibration). */
#include "simulator/train_sim.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    if (n == 0)
        return 0;
    qsort(v, (size_t)n, sizeof *v, cmp);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

int main(int argc, char **argv)
{
    const char *path = argc > 1 ? argv[1] : SOURCE_ROOT "/tests/data/calibration/h100-sxm-80gb.layers.jsonl";
    FILE *fp = fopen(path, "r");
    if (!fp) {
        fprintf(stderr, "cannot open %s\n", path);
        return 1;
    }
    fl_catalog *cat;
    fl_error err;
    if (fl_catalog_open(NULL, &cat, &err)) {
        fprintf(stderr, "%s\n", err.message);
        fclose(fp);
        return 1;
    }
    int gpu = fl_catalog_find_gpu(cat, "H100-SXM-80GB", "gpu", NULL);
    char line[4096];
    double ef[256], eb[256], ea[256];
    int n = 0;
    printf("# training layer model vs measured (%s)\n", path);
    printf("%5s %3s %6s %5s %2s | %9s %9s %7s | %9s %9s %7s | %7s %7s %7s\n", "h", "a", "ffn", "s", "b", "fwd ms", "meas",
           "err", "fwdbwd ms", "meas", "err", "act MB", "meas", "err");
    while (fgets(line, sizeof line, fp)) {
        json_t *o = json_loads(line, 0, NULL);
        if (!o)
            continue;
        const char *kind = json_string_value(json_object_get(o, "kind"));
        if (!kind || strcmp(kind, "layer") != 0 || n >= 256) {
            json_decref(o);
            continue;
        }
        fl_model m = {0};
        m.name = "calib";
        m.hidden = (int)json_integer_value(json_object_get(o, "h"));
        m.heads = (int)json_integer_value(json_object_get(o, "a"));
        m.kv_heads = m.heads;
        m.ffn = (int)json_integer_value(json_object_get(o, "ffn"));
        m.layers = 1;
        m.vocab = 50304;
        m.activation = FL_ACT_GELU;
        m.max_positions = 1 << 20;
        m.experts = m.top_k = 1;
        fl_train_setup s = {0};
        s.model = &m;
        s.seq_len = (int)json_integer_value(json_object_get(o, "s"));
        s.micro_batch = (int)json_integer_value(json_object_get(o, "b"));
        s.compute_dtype = FL_DT_BF16;
        s.master_weights = 1;
        s.grad_dtype = FL_DT_FP32;
        s.flash = 1;
        s.interleave = 1;
        fl_train_layer_cost c;
        fl_train_layer_cost_get(cat, &s, gpu, 1, &c);
        double mf = json_number_value(json_object_get(o, "fwd_s_per_layer"));
        double mfb = json_number_value(json_object_get(o, "fwdbwd_s_per_layer"));
        double ma = json_number_value(json_object_get(o, "act_bytes_per_layer"));
        double pf = c.fwd_compute_s, pfb = c.fwd_compute_s + c.bwd_compute_s, pa = c.act_bytes;
        ef[n] = fabs(pf / mf - 1);
        eb[n] = fabs(pfb / mfb - 1);
        ea[n] = fabs(pa / ma - 1);
        printf("%5d %3d %6d %5d %2d | %9.3f %9.3f %+6.1f%% | %9.3f %9.3f %+6.1f%% | %7.1f %7.1f %+6.1f%%\n", m.hidden,
               m.heads, m.ffn, s.seq_len, s.micro_batch, pf * 1e3, mf * 1e3, 100 * (pf / mf - 1), pfb * 1e3, mfb * 1e3,
               100 * (pfb / mfb - 1), pa / 1e6, ma / 1e6, 100 * (pa / ma - 1));
        n++;
        json_decref(o);
    }
    fclose(fp);
    double mef = median(ef, n), meb = median(eb, n), mea = median(ea, n);
    printf("points %d: median |error| forward %.1f%%, forward+backward %.1f%%, activation memory %.1f%%\n", n, 100 * mef,
           100 * meb, 100 * mea);
    printf("max |error| forward %.1f%%, forward+backward %.1f%%, activation memory %.1f%%\n", 100 * ef[n - 1],
           100 * eb[n - 1], 100 * ea[n - 1]);
    fl_catalog_free(cat);
    return 0;
}
