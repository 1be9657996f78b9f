/* bench/train_sim/speed.c — training-plan evaluations per second on one core: fl_train_simulate
 * on 64-stage plans of gpt3-175b (homogeneous A100-80GB, and heterogeneous A100/H100 stages
 * across two zones), each evaluation a full iteration (schedule events, DP all-reduce, memory).
 * Runs each case for about 2 s of wall time and prints evaluations/s. */
#include "simulator/train_sim.h"

#include <stdio.h>
#include <time.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void run(const fl_catalog *cat, const char *label, const fl_train_setup *s, const fl_train_pipeline *pl, int np)
{
    fl_train_stage_result st[256];
    fl_train_result r;
    fl_error err;
    long n = 0;
    double t0 = now(), t;
    double sink = 0;
    do {
        for (int i = 0; i < 1000; i++) {
            r.stages = st;
            r.n_stage_results = 256;
            if (fl_train_simulate(cat, s, pl, np, &r, &err)) {
                fprintf(stderr, "%s\n", err.message);
                return;
            }
            sink += r.iteration_s;
        }
        n += 1000;
        t = now() - t0;
    } while (t < 2.0);
    printf("%-58s %9.0f evaluations/s  (iteration %.3f s, bubble %.3f, fits %d)\n", label, n / t, r.iteration_s,
           r.bubble_fraction, r.fits);
    (void)sink;
}

int main(void)
{
    fl_catalog *cat;
    fl_error err;
    if (fl_catalog_open(NULL, &cat, &err)) {
        fprintf(stderr, "%s\n", err.message);
        return 1;
    }
    const fl_model *m = fl_catalog_model(cat, (size_t)fl_catalog_find_model(cat, "gpt3-175b", "model", NULL));
    int a100 = fl_catalog_find_gpu(cat, "A100-SXM-80GB", "gpu", NULL);
    int h100 = fl_catalog_find_gpu(cat, "H100-SXM-80GB", "gpu", NULL);
    int za = fl_catalog_find_zone(cat, "gcp:us-central1-a", "zone", NULL);
    int zb = fl_catalog_find_zone(cat, "gcp:us-central1-b", "zone", NULL);
    if (zb < 0)
        zb = za;
    fl_train_setup s = {0};
    s.model = m;
    s.seq_len = 2048;
    s.micro_batch = 1;
    s.compute_dtype = FL_DT_BF16;
    s.master_weights = 1;
    s.grad_dtype = FL_DT_FP32;
    s.recompute = FL_RC_FULL;
    s.flash = 1;
    s.interleave = 1;
    s.dp_overlap = 1;
    fl_train_stage homo[64], het[64];
    int layer = 0;
    for (int j = 0; j < 64; j++) {
        int nl = j < 32 ? 2 : 1; /* 96 layers over 64 stages */
        homo[j] = (fl_train_stage){layer, layer + nl, a100, za, 8};
        het[j] = (fl_train_stage){layer, layer + nl, j % 2 ? h100 : a100, j < 32 ? za : zb, 8};
        layer += nl;
    }
    printf("# fl_train_simulate, gpt3-175b, 64 pipeline stages of tp 8, one core\n");
    fl_train_pipeline p1 = {4, 64, 64, homo};
    run(cat, "64 stages A100-80GB, 4 replicas, 64 micro-batches", &s, &p1, 1);
    fl_train_pipeline p2 = {4, 256, 64, homo};
    run(cat, "64 stages A100-80GB, 4 replicas, 256 micro-batches", &s, &p2, 1);
    fl_train_pipeline p3[2] = {{2, 96, 64, het}, {2, 64, 64, homo}};
    run(cat, "2 pipelines x 64 stages A100/H100, 2 zones, 96+64 mb", &s, p3, 2);
    fl_train_setup si = s;
    si.interleave = 2;
    run(cat, "64 stages A100-80GB interleaved (2 chunks), 64 mb", &si, &p1, 1);
    fl_catalog_free(cat);
    return 0;
}
