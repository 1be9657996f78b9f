/* tests/simulator/test_train_sim.c — the training simulator: the 1F1B event schedule against a
 * dependency-driven reference and the (p-1)/(m+p-1) bubble, steady-state extension, the layer
 * model against the H100 calibration points, memory (OOM, ZeRO, recomputation), structural
 * errors of fl_train_simulate, measured-profile preference, and fl_estimate for training. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "simulator/train_sim.h"
#include "profiles/catalog.h"
#include "flotilla/flotilla.h"
#include "tests/common/testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static fl_catalog *cat;

static int setup(void **state)
{
    (void)state;
    fl_error err;
    return fl_catalog_open(NULL, &cat, &err) == FL_OK ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    fl_catalog_free(cat);
    return 0;
}

/* Reference 1F1B: repeatedly run any op whose dependencies are done (no ordering trick). */
static double reference_1f1b(int p, int m, const double *f, const double *b, const double *c)
{
    double fe[16 * 32] = {0}, be[16 * 32] = {0}, clock[16] = {0};
    int pos[16] = {0};
    assert_true(p <= 16 && m <= 32);
    int remaining = 2 * p * m;
    while (remaining > 0) {
        int progressed = 0;
        for (int s = 0; s < p; s++) {
            int i = pos[s];
            if (i >= 2 * m)
                continue;
            int w = p - 1 - s < m ? p - 1 - s : m, isf, j;
            if (i < w) { isf = 1; j = i; }
            else if (i - w < 2 * (m - w)) { isf = ((i - w) % 2) == 0; j = isf ? w + (i - w) / 2 : (i - w) / 2; }
            else { isf = 0; j = i - m; }
            double ready;
            if (isf) {
                if (s > 0 && fe[(s - 1) * m + j] == 0) continue;
                ready = s > 0 ? fe[(s - 1) * m + j] + c[s - 1] : 0;
                clock[s] = fmax(clock[s], ready) + f[s];
                fe[s * m + j] = clock[s];
            } else {
                if (s < p - 1 && be[(s + 1) * m + j] == 0) continue;
                ready = s < p - 1 ? be[(s + 1) * m + j] + c[s] : 0;
                clock[s] = fmax(clock[s], ready) + b[s];
                be[s * m + j] = clock[s];
            }
            pos[s]++;
            remaining--;
            progressed = 1;
        }
        assert_true(progressed);
    }
    double end = 0;
    for (int s = 0; s < p; s++)
        end = fmax(end, clock[s]);
    return end;
}

static void test_schedule_matches_reference(void **state)
{
    (void)state;
    srand(7);
    for (int trial = 0; trial < 60; trial++) {
        int p = 1 + rand() % 12, m = 1 + rand() % 20;
        double f[16], b[16], c[16];
        for (int s = 0; s < p; s++) {
            f[s] = 0.5 + (rand() % 100) / 50.0;
            b[s] = f[s] * (1.5 + (rand() % 100) / 100.0);
            c[s] = (rand() % 20) / 100.0;
        }
        fl_train_sched_out o;
        fl_train_schedule_budget(p, m, 1, f, b, c, NULL, &o, 1L << 40);
        double ref = reference_1f1b(p, m, f, b, c);
        assert_true(fabs(o.end_s - ref) < 1e-9 * ref);
    }
}

static void test_homogeneous_bubble(void **state)
{
    (void)state;
    double f[8], b[8], c[8] = {0};
    for (int s = 0; s < 8; s++) { f[s] = 1; b[s] = 2; }
    fl_train_sched_out o;
    fl_train_schedule(8, 16, 1, f, b, c, NULL, &o);
    assert_true(fabs(o.end_s - (16 + 8 - 1) * 3.0) < 1e-9);
    assert_true(fabs(o.bubble_fraction - 7.0 / 23.0) < 1e-9);
    /* interleaving with 2 chunks halves the fill/drain: (p-1)/(v*m) of the ideal time */
    fl_train_schedule(8, 16, 2, f, b, c, NULL, &o);
    assert_true(fabs(o.end_s - (16 * 3.0 + 7 * 1.5)) < 1e-9);
}

/* Beyond the op budget the steady-state extension stays close to the exact schedule (the
 * transient needs a few p micro-batches to settle; the default budget allows 2p at p = 64). */
static void test_steady_state_extension(void **state)
{
    (void)state;
    srand(11);
    for (int trial = 0; trial < 20; trial++) {
        int p = 4 + rand() % 12, m = 3 * p + rand() % 40;
        double f[16], b[16], c[16];
        for (int s = 0; s < p; s++) {
            f[s] = 0.5 + (rand() % 100) / 50.0;
            b[s] = 2 * f[s];
            c[s] = (rand() % 10) / 100.0;
        }
        fl_train_sched_out ex, ap;
        fl_train_schedule_budget(p, m, 1, f, b, c, NULL, &ex, 1L << 40);
        fl_train_schedule_budget(p, m, 1, f, b, c, NULL, &ap, 2L * p * (4 * p));
        assert_true(fabs(ap.end_s / ex.end_s - 1) < 0.02);
    }
}

/* Dependency-driven reference of any size: per stage, run ops while their input is done. */
static void reference_1f1b_any(int p, int m, const double *f, const double *b, const double *c, double *last)
{
    double *fe = calloc((size_t)p * m, sizeof *fe), *be = calloc((size_t)p * m, sizeof *be);
    char *fd = calloc((size_t)p * m, 1), *bd = calloc((size_t)p * m, 1);
    double *clock = calloc((size_t)p, sizeof *clock);
    int *pos = calloc((size_t)p, sizeof *pos);
    assert_non_null(fe), assert_non_null(be), assert_non_null(fd), assert_non_null(bd);
    assert_non_null(clock), assert_non_null(pos);
    long remaining = 2L * p * m;
    while (remaining > 0) {
        int progressed = 0;
        for (int s = 0; s < p; s++)
            while (pos[s] < 2 * m) {
                int i = pos[s], w = p - 1 - s < m ? p - 1 - s : m, isf, j;
                if (i < w) { isf = 1; j = i; }
                else if (i - w < 2 * (m - w)) { isf = ((i - w) % 2) == 0; j = isf ? w + (i - w) / 2 : (i - w) / 2; }
                else { isf = 0; j = i - m; }
                if (isf) {
                    if (s > 0 && !fd[(s - 1) * m + j]) break;
                    double ready = s > 0 ? fe[(s - 1) * m + j] + c[s - 1] : 0;
                    clock[s] = fmax(clock[s], ready) + f[s];
                    fe[s * m + j] = clock[s], fd[s * m + j] = 1;
                } else {
                    if (s < p - 1 && !bd[(s + 1) * m + j]) break;
                    double ready = s < p - 1 ? be[(s + 1) * m + j] + c[s] : 0;
                    clock[s] = fmax(clock[s], ready) + b[s];
                    be[s * m + j] = clock[s], bd[s * m + j] = 1;
                }
                pos[s]++, remaining--, progressed = 1;
            }
        assert_true(progressed);
    }
    for (int s = 0; s < p; s++)
        last[s] = clock[s];
    free(fe), free(be), free(fd), free(bd), free(clock), free(pos);
}

/* Random heterogeneous pipelines up to 64 stages and 6p micro-batches (compute spread, A100/H100-
 * like alternation, p2p from nothing to twice a stage): with an unlimited budget the schedule is
 * exact; the default one (skipping near-periodic steady pairs) stays within its 0.1 % bound of
 * the end time and of every stage's last backward. */
static void test_schedule_random_heterogeneous(void **state)
{
    (void)state;
    srand(23);
    const double cscale[] = {0, 0.01, 0.1, 0.5, 2.0};
    double worst = 0;
    for (int trial = 0; trial < 60; trial++) {
        int p = 2 + rand() % 63, m = 1 + rand() % (6 * p);
        double f[64], b[64], c[64], cs = cscale[trial % 5];
        for (int s = 0; s < p; s++) {
            double base = rand() % 3 == 0 ? 1.0 : 0.5 + rand() / (RAND_MAX + 1.0);
            if (trial % 4 == 0)
                base = (s & 1) ? 1.0 : 0.7;
            f[s] = base;
            b[s] = base * (1.8 + 0.4 * rand() / (RAND_MAX + 1.0));
            c[s] = rand() % 3 == 0 ? cs : cs * rand() / (RAND_MAX + 1.0);
        }
        double ref[64], ex[64], fast[64], ref_end = 0;
        reference_1f1b_any(p, m, f, b, c, ref);
        for (int s = 0; s < p; s++)
            ref_end = fmax(ref_end, ref[s]);
        fl_train_sched_out o;
        fl_train_schedule_budget(p, m, 1, f, b, c, ex, &o, 1L << 40);
        assert_true(fabs(o.end_s - ref_end) <= 1e-9 * ref_end);
        fl_train_schedule(p, m, 1, f, b, c, fast, &o);
        assert_true(fabs(o.end_s / ref_end - 1) <= 1e-3);
        for (int s = 0; s < p; s++) {
            assert_true(fabs(ex[s] - ref[s]) <= 1e-9 * ref_end);
            assert_true(fabs(fast[s] / ref[s] - 1) <= 1e-3);
            worst = fmax(worst, fabs(fast[s] / ref[s] - 1));
        }
    }
    assert_true(worst < 1e-3);
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The analytic layer model holds the H100 calibration points (tests/data/calibration). */
static void test_layer_model_calibration(void **state)
{
    (void)state;
    FILE *fp = fopen(test_data("calibration/h100-sxm-80gb.layers.jsonl"), "r");
    assert_non_null(fp);
    int gpu = fl_catalog_find_gpu(cat, "H100-SXM-80GB", "gpu", NULL);
    char line[4096];
    double ef[64], eb[64];
    int n = 0;
    while (fgets(line, sizeof line, fp) && n < 64) {
        json_t *o = json_loads(line, 0, NULL);
        if (!o) continue;
        if (strcmp(json_string_value(json_object_get(o, "kind")), "layer") == 0) {
            fl_model m = {.name = "c", .layers = 1, .vocab = 50304, .experts = 1, .top_k = 1, .max_positions = 1 << 20};
            m.hidden = (int)json_integer_value(json_object_get(o, "h"));
            m.heads = m.kv_heads = (int)json_integer_value(json_object_get(o, "a"));
            m.ffn = (int)json_integer_value(json_object_get(o, "ffn"));
            fl_train_setup s = {.model = &m, .compute_dtype = FL_DT_BF16, .grad_dtype = FL_DT_FP32, .flash = 1,
                                .interleave = 1, .master_weights = 1};
            s.seq_len = (int)json_integer_value(json_object_get(o, "s"));
            s.micro_batch = (int)json_integer_value(json_object_get(o, "b"));
            fl_train_layer_cost c;
            fl_train_layer_cost_get(cat, &s, gpu, 1, &c);
            ef[n] = fabs(c.fwd_compute_s / json_number_value(json_object_get(o, "fwd_s_per_layer")) - 1);
            eb[n] = fabs((c.fwd_compute_s + c.bwd_compute_s) / json_number_value(json_object_get(o, "fwdbwd_s_per_layer")) - 1);
            double act = json_number_value(json_object_get(o, "act_bytes_per_layer"));
            assert_true(fabs(c.act_bytes / act - 1) < 0.02);
            n++;
        }
        json_decref(o);
    }
    fclose(fp);
    assert_true(n >= 20);
    qsort(ef, (size_t)n, sizeof *ef, cmp);
    qsort(eb, (size_t)n, sizeof *eb, cmp);
    assert_true(ef[n / 2] < 0.05);
    assert_true(eb[n / 2] < 0.05);
}

static fl_train_setup setup_for(const char *model, int mb)
{
    fl_train_setup s = {0};
    s.model = fl_catalog_model(cat, (size_t)fl_catalog_find_model(cat, model, "model", NULL));
    s.seq_len = 2048;
    s.micro_batch = mb;
    s.compute_dtype = FL_DT_BF16;
    s.master_weights = 1;
    s.grad_dtype = FL_DT_FP32;
    s.flash = 1;
    s.interleave = 1;
    s.dp_overlap = 1;
    return s;
}

static void test_memory_model(void **state)
{
    (void)state;
    int v100 = fl_catalog_find_gpu(cat, "V100-SXM2-16GB", "gpu", NULL);
    int h100 = fl_catalog_find_gpu(cat, "H100-SXM-80GB", "gpu", NULL);
    fl_train_setup s = setup_for("gpt3-175b", 1);
    assert_true(fl_train_stage_memory(cat, &s, v100, 1, 96, 1, 1, 1, 1) > fl_train_memory_capacity(cat, v100));
    fl_train_setup g = setup_for("gpt3-1.3b", 1);
    double m0 = fl_train_stage_memory(cat, &g, h100, 1, 24, 1, 1, 1, 8);
    assert_true(m0 < fl_train_memory_capacity(cat, h100));
    /* weights + fp32 grads + Adam states = 18 B/param at least */
    assert_true(m0 > 18.0 * g.model->params);
    g.zero_stage = 1;
    double m1 = fl_train_stage_memory(cat, &g, h100, 1, 24, 1, 1, 1, 8);
    g.zero_stage = 3;
    double m3 = fl_train_stage_memory(cat, &g, h100, 1, 24, 1, 1, 1, 8);
    assert_true(m1 < m0 && m3 < m1);
    /* activations: more in flight costs more, full recomputation keeps less */
    fl_train_setup a = setup_for("gpt3-6.7b", 4);
    double one = fl_train_stage_memory(cat, &a, h100, 1, 8, 0, 0, 1, 1);
    double four = fl_train_stage_memory(cat, &a, h100, 1, 8, 0, 0, 4, 1);
    a.recompute = FL_RC_FULL;
    double four_full = fl_train_stage_memory(cat, &a, h100, 1, 8, 0, 0, 4, 1);
    assert_true(four > one && four_full < four);
    /* standard attention keeps the s x s scores */
    fl_train_setup st = setup_for("gpt3-6.7b", 4);
    st.flash = 0;
    assert_true(fl_train_stage_memory(cat, &st, h100, 1, 8, 0, 0, 4, 1) > four);
}

/* Dropout costs its masks and kernels (residual branches; with materialised attention also the
 * score-tensor pass), and every micro-batch pays the gradient accumulation pass, more of it for
 * more micro-batches at the same batch. */
static void test_dropout_and_accumulation(void **state)
{
    (void)state;
    int a100 = fl_catalog_find_gpu(cat, "A100-SXM-80GB", "gpu", NULL);
    for (int flash = 0; flash < 2; flash++) {
        fl_train_setup s = setup_for("gpt3-6.7b", 4);
        s.flash = flash;
        double f0, b0, f1, b1;
        fl_train_layer_time(cat, &s, a100, 2, &f0, &b0);
        s.dropout = 1;
        fl_train_layer_time(cat, &s, a100, 2, &f1, &b1);
        assert_true(f1 > f0 && b1 > b0);
        if (!flash) /* the dropout pass over the [b, a, s, s] probabilities */
            assert_true(f1 > 1.03 * f0);
        /* the masks are kept for backward: 2 bytes per token x hidden (residual branches), and
         * 1 per score with materialised attention (Korthikanti's 34 s b h + 5 a s^2 b) */
        s.dropout = 0;
        double m0 = fl_train_layer_act_bytes(cat, &s, a100, 1);
        s.dropout = 1;
        double m1 = fl_train_layer_act_bytes(cat, &s, a100, 1);
        double sbh = 4.0 * 2048 * s.model->hidden, as2b = 4.0 * s.model->heads * 2048.0 * 2048.0;
        assert_true(fabs(m1 - m0 - 2 * sbh - (flash ? 0 : as2b)) < 1e-6 * m0);
    }
    /* One stage, the same 32 sequences as 32 micro-batches of 1 or 16 of 2: the time beyond the
     * micro-batches' layer time grows by at least the 16 extra accumulation passes over the
     * stage's weight gradients (read the 16-bit gradient, read and write the accumulator, at the
     * datasheet bandwidth: a lower bound; without the pass the difference is ~0.09 s). */
    fl_train_stage st = {.first_layer = 0, .last_layer = 32, .gpu = a100, .zone = 0, .tp = 1};
    double over[2];
    for (int k = 0; k < 2; k++) {
        int mbs = k ? 2 : 1, m = 32 / mbs;
        fl_train_setup s = setup_for("gpt3-6.7b", mbs);
        fl_train_pipeline pl = {.replicas = 1, .micro_batches = m, .n_stages = 1, .stages = &st};
        fl_train_result r;
        memset(&r, 0, sizeof r);
        assert_int_equal(fl_train_simulate(cat, &s, &pl, 1, &r, NULL), FL_OK);
        double lf, lb;
        fl_train_layer_time(cat, &s, a100, 1, &lf, &lb);
        over[k] = r.iteration_s - m * 32 * (lf + lb);
    }
    fl_train_setup s1 = setup_for("gpt3-6.7b", 1);
    double pass = 32 * fl_train_layer_params(s1.model) * (2 + 2 * fl_dtype_bytes(s1.grad_dtype)) /
                  fl_catalog_gpu(cat, (size_t)a100)->hbm_bw;
    assert_true(over[0] - over[1] > 16 * pass);
}

static void test_simulate_plan_and_errors(void **state)
{
    (void)state;
    int a100 = fl_catalog_find_gpu(cat, "A100-SXM-80GB", "gpu", NULL);
    int z = fl_catalog_find_zone(cat, "gcp:us-central1-a", "zone", NULL);
    fl_train_setup s = setup_for("gpt3-6.7b", 1);
    fl_train_stage st[2] = {{0, 16, a100, z, 4}, {16, 32, a100, z, 4}};
    fl_train_pipeline pl = {2, 16, 2, st};
    fl_train_stage_result sr[2];
    fl_train_result r = {.stages = sr, .n_stage_results = 2};
    fl_error err;
    assert_int_equal(fl_train_simulate(cat, &s, &pl, 1, &r, &err), FL_OK);
    assert_int_equal(r.n_stage_results, 2);
    assert_true(r.fits);
    assert_true(r.iteration_s > 0 && r.tokens_per_s > 0);
    assert_true(r.mfu > 0.1 && r.mfu < 0.8);
    assert_true(r.bubble_fraction > 0 && r.bubble_fraction < 0.2);
    assert_true(sr[0].tp_comm_s > 0 && sr[0].p2p_s > 0 && sr[1].p2p_s == 0);
    assert_true(strstr(r.bottleneck, "stage") != NULL);
    /* more micro-batches amortise the bubble */
    fl_train_pipeline pl2 = {2, 64, 2, st};
    fl_train_result r2 = {0};
    assert_int_equal(fl_train_simulate(cat, &s, &pl2, 1, &r2, &err), FL_OK);
    assert_true(r2.bubble_fraction < r.bubble_fraction);
    assert_true(r2.tokens_per_s > r.tokens_per_s);

    fl_train_stage gap[2] = {{0, 16, a100, z, 4}, {17, 32, a100, z, 4}};
    fl_train_pipeline pg = {1, 4, 2, gap};
    assert_int_equal(fl_train_simulate(cat, &s, &pg, 1, &r2, &err), FL_EINVAL);
    assert_string_equal(err.field, "pipelines[0].stages[1].layers");
    fl_train_stage ov[2] = {{0, 16, a100, z, 4}, {15, 32, a100, z, 4}};
    fl_train_pipeline po = {1, 4, 2, ov};
    assert_int_equal(fl_train_simulate(cat, &s, &po, 1, &r2, &err), FL_EINVAL);
    assert_non_null(strstr(err.message, "overlap"));
    fl_train_stage tp[1] = {{0, 32, a100, z, 3}};
    fl_train_pipeline pt = {1, 4, 1, tp};
    assert_int_equal(fl_train_simulate(cat, &s, &pt, 1, &r2, &err), FL_EINVAL);
    assert_string_equal(err.field, "pipelines[0].stages[0].tp");
    fl_train_stage bad[1] = {{0, 32, 9999, z, 1}};
    fl_train_pipeline pb = {1, 4, 1, bad};
    assert_int_equal(fl_train_simulate(cat, &s, &pb, 1, &r2, &err), FL_EINVAL);
    assert_string_equal(err.field, "pipelines[0].stages[0].gpu");
    fl_train_pipeline pz = {0, 4, 2, st};
    assert_int_equal(fl_train_simulate(cat, &s, &pz, 1, &r2, &err), FL_EINVAL);
    assert_string_equal(err.field, "pipelines[0].replicas");
}

/* Heterogeneous replicas: the iteration waits for the slowest pipeline. */
static void test_heterogeneous_pipelines(void **state)
{
    (void)state;
    int a100 = fl_catalog_find_gpu(cat, "A100-SXM-80GB", "gpu", NULL);
    int v100 = fl_catalog_find_gpu(cat, "V100-SXM2-32GB", "gpu", NULL);
    int z = fl_catalog_find_zone(cat, "gcp:us-central1-a", "zone", NULL);
    fl_train_setup s = setup_for("gpt3-1.3b", 1);
    fl_train_stage fa[1] = {{0, 24, a100, z, 1}}, fv[1] = {{0, 24, v100, z, 1}};
    fl_train_pipeline both[2] = {{1, 8, 1, fa}, {1, 8, 1, fv}};
    fl_train_result ra = {0}, rb = {0}, rv = {0};
    fl_error err;
    assert_int_equal(fl_train_simulate(cat, &s, &both[0], 1, &ra, &err), FL_OK);
    assert_int_equal(fl_train_simulate(cat, &s, &both[1], 1, &rv, &err), FL_OK);
    assert_int_equal(fl_train_simulate(cat, &s, both, 2, &rb, &err), FL_OK);
    assert_true(rv.iteration_s > ra.iteration_s);
    assert_true(rb.iteration_s >= rv.iteration_s);
    assert_true(rb.dp_allreduce_s >= 0);
}

/* Measured catalog points are preferred (and scaled) when the shape is close. */
static void test_measured_profile_preferred(void **state)
{
    (void)state;
    fl_catalog *c2;
    fl_error err;
    assert_int_equal(fl_catalog_open(NULL, &c2, &err), FL_OK);
    /* gpt3-1.3b layer shape; a measured point 20 % slower than the analytic model */
    int h100 = fl_catalog_find_gpu(c2, "H100-SXM-80GB", "gpu", NULL);
    fl_train_setup s = setup_for("gpt3-1.3b", 2);
    s.model = fl_catalog_model(c2, (size_t)fl_catalog_find_model(c2, "gpt3-1.3b", "model", NULL));
    fl_train_layer_cost a;
    fl_train_layer_cost_get(c2, &s, h100, 1, &a);
    assert_int_equal(a.measured, 0);
    char sql[512];
    snprintf(sql, sizeof sql,
             "INSERT INTO measured(gpu, kind, dtype, h, a, ffn, s, b, fwd_s, fwdbwd_s, act_bytes, source) VALUES"
             "('H100-SXM-80GB', 'layer', 'bf16', 2048, 16, 8192, 2048, 2, %.9g, %.9g, %.9g, 'test')",
             a.fwd_compute_s * 1.2, (a.fwd_compute_s + a.bwd_compute_s) * 1.2, a.act_bytes);
    assert_int_equal(fl_catalog_exec(c2, sql, &err), FL_OK);
    assert_int_equal(fl_catalog_reload(c2, &err), FL_OK);
    assert_int_equal(fl_catalog_measured_count(c2), 1);
    /* the reload rebuilt the catalog arrays: fetch the model again */
    s.model = fl_catalog_model(c2, (size_t)fl_catalog_find_model(c2, "gpt3-1.3b", "model", NULL));
    fl_train_layer_cost m;
    fl_train_layer_cost_get(c2, &s, h100, 1, &m);
    assert_int_equal(m.measured, 1);
    assert_true(fabs(m.fwd_compute_s / (a.fwd_compute_s * 1.2) - 1) < 1e-6);
    /* nearby shape: scaled, still measured */
    s.micro_batch = 4;
    fl_train_layer_cost_get(c2, &s, h100, 1, &m);
    assert_int_equal(m.measured, 1);
    /* far shape (16x the tokens): analytic */
    s.micro_batch = 32;
    fl_train_layer_cost_get(c2, &s, h100, 1, &m);
    assert_int_equal(m.measured, 0);
    fl_estimate_query q;
    fl_estimate_query_init(&q);
    q.gpu = "H100-SXM-80GB";
    q.model = "gpt3-1.3b";
    q.batch = 2;
    q.seq = 2048;
    fl_estimate_result er;
    assert_int_equal(fl_estimate(c2, &q, &er, &err), FL_OK);
    assert_string_equal(er.source, "measured");
    fl_catalog_free(c2);
}

static void test_estimate_train(void **state)
{
    (void)state;
    fl_estimate_query q;
    fl_estimate_query_init(&q);
    q.gpu = "A100-SXM-80GB";
    q.model = "llama2-7b";
    q.batch = 1;
    q.seq = 4096;
    fl_estimate_result r, r2;
    fl_error err;
    assert_int_equal(fl_estimate(cat, &q, &r, &err), FL_OK);
    assert_true(r.bwd_s > 1.5 * r.fwd_s && r.bwd_s < 3.5 * r.fwd_s);
    assert_true(fabs(r.seconds - r.fwd_s - r.bwd_s) < 1e-12);
    assert_true(r.achieved_flops > 0.3 * 312e12 && r.achieved_flops < 312e12);
    assert_string_equal(r.source, "analytic");
    q.recompute = "full";
    assert_int_equal(fl_estimate(cat, &q, &r2, &err), FL_OK);
    assert_true(r2.bwd_s > r.bwd_s && r2.memory_bytes < r.memory_bytes);
    q.recompute = "none";
    q.tp = 3;
    assert_int_equal(fl_estimate(cat, &q, &r2, &err), FL_EINVAL);
    assert_string_equal(err.field, "tp");
    q.tp = 1;
    q.gpu = "V100";
    q.model = "gpt3-175b";
    q.seq = 2048;
    assert_int_equal(fl_estimate(cat, &q, &r2, &err), FL_OK);
    assert_false(r2.fits);
}

/* Whole-model iterations of the published Megatron-LM runs (Narayanan et al. 2021, Table 1,
 * tests/data/published): A100-80GB on Selene (8 x 200 Gb/s InfiniBand per node), full
 * recomputation, fp16, the paper's FLOP count over the simulated iteration. The model predicts
 * within a median 8.9 % and at most 14.7 % of the published TFLOP/s per GPU (ACCURACY.md); the
 * bounds below (median 12 %, every run 20 %) leave room for small physical refinements and fail
 * on a drift of the GEMM, communication or schedule models. */
static void test_published_megatron_runs(void **state)
{
    (void)state;
    fl_catalog *c2;
    fl_error err;
    assert_int_equal(fl_catalog_open(NULL, &c2, &err), FL_OK);
    assert_int_equal(fl_catalog_exec(c2,
                                     "INSERT INTO zones(zone, cloud, region, continent, source) VALUES('onprem:selene',"
                                     " 'onprem', 'selene', 'na', 'test');"
                                     "INSERT INTO network_overrides(zone_a, zone_b, bandwidth_bytes_per_s, latency_s,"
                                     " egress_per_gb, source) VALUES('onprem:selene', 'onprem:selene', 2.0e11, 5.0e-6, 0,"
                                     " 'test');",
                                     &err),
                     FL_OK);
    assert_int_equal(fl_catalog_reload(c2, &err), FL_OK);
    int gpu = fl_catalog_find_gpu(c2, "A100-SXM-80GB", "gpu", NULL), zone = fl_catalog_find_zone(c2, "onprem:selene", "z", NULL);
    assert_true(gpu >= 0 && zone >= 0);
    FILE *fp = fopen(test_data("published/megatron_2021_table1.csv"), "r");
    assert_non_null(fp);
    char line[1024], ddp[32];
    double e[32];
    int n = 0;
    assert_non_null(fgets(line, sizeof line, fp)); /* header */
    while (n < 32 && fgets(line, sizeof line, fp)) {
        double pb, published;
        int a, h, l, t, p, gpus, batch, mbs, v;
        if (sscanf(line, "%lf,%d,%d,%d,%d,%d,%d,%d,%d,%d,%31[^,],%lf", &pb, &a, &h, &l, &t, &p, &gpus, &batch, &mbs, &v,
                   ddp, &published) != 12)
            continue;
        fl_model m = {.name = "megatron", .layers = l, .hidden = h, .heads = a, .kv_heads = a, .ffn = 4 * h,
                      .vocab = 51200, .activation = FL_ACT_GELU, .tied_embeddings = 1, .max_positions = 2048,
                      .experts = 1, .top_k = 1};
        fl_train_setup s = {.model = &m, .seq_len = 2048, .micro_batch = mbs, .compute_dtype = FL_DT_FP16,
                            .master_weights = 1, .grad_dtype = FL_DT_FP16, .optimizer = FL_OPT_ADAM,
                            .recompute = FL_RC_FULL, .flash = 0, .interleave = v,
                            .dp_overlap = strcmp(ddp, "local") != 0, .p2p_blocking = 1,
                            .dropout = 1};
        fl_train_stage st[64];
        assert_true(p <= 64 && l % p == 0);
        for (int j = 0; j < p; j++)
            st[j] = (fl_train_stage){j * l / p, (j + 1) * l / p, gpu, zone, t};
        int dp = gpus / (t * p);
        fl_train_pipeline pl = {dp, batch / (dp * mbs), p, st};
        fl_train_result r = {0};
        assert_int_equal(fl_train_simulate(c2, &s, &pl, 1, &r, &err), FL_OK);
        double F = 96.0 * batch * 2048 * l * (double)h * h * (1 + 2048.0 / (6.0 * h) + 51200.0 / (16.0 * l * h));
        double tflops = F / (r.iteration_s * gpus) / 1e12;
        e[n] = fabs(tflops / published - 1);
        assert_true(e[n] < 0.14); /* worst run measured at 11.5 % (1.7B) */
        n++;
    }
    fclose(fp);
    assert_int_equal(n, 10);
    qsort(e, (size_t)n, sizeof *e, cmp);
    assert_true(0.5 * (e[n / 2 - 1] + e[n / 2]) < 0.055); /* measured median 4.9 % */
    fl_catalog_free(c2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_schedule_matches_reference),
        cmocka_unit_test(test_homogeneous_bubble),
        cmocka_unit_test(test_steady_state_extension),
        cmocka_unit_test(test_schedule_random_heterogeneous),
        cmocka_unit_test(test_layer_model_calibration),
        cmocka_unit_test(test_published_megatron_runs),
        cmocka_unit_test(test_memory_model),
        cmocka_unit_test(test_simulate_plan_and_errors),
        cmocka_unit_test(test_heterogeneous_pipelines),
        cmocka_unit_test(test_dropout_and_accumulation),
        cmocka_unit_test(test_measured_profile_preferred),
        cmocka_unit_test(test_estimate_train),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
