/* tests/planner/test_train_cost.c — what users pay for (issue 13): the data-parallel all-reduce
 * as NCCL runs it (against published nccl-tests figures), the instance NIC, cross-zone egress in
 * the simulation and in the planner's objective and budget, the caps per iteration and per
 * million tokens, the min_cost_per_token objective, overlap_grad_reduce, placement reasons and
 * the bad inputs of the new job fields. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "flotilla/flotilla.h"
#include "common/plan.h"
#include "planner/train_internal.h"
#include "profiles/catalog.h"
#include "tests/common/testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static fl_catalog *cat;

/* |a - b| <= eps, printing both when not */
#define assert_near(a, b, eps)                                                                   \
    do {                                                                                         \
        double a_ = (a), b_ = (b);                                                               \
        if (!(fabs(a_ - b_) <= (eps)))                                                           \
            fail_msg("%s = %.9g, expected %.9g (+- %g)", #a, a_, b_, (double)(eps));             \
    } while (0)

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

static fl_job *job_in(fl_catalog *c, const char *text)
{
    fl_job *job = NULL;
    fl_error err;
    if (fl_job_from_json(c, text, &job, &err) != FL_OK)
        fail_msg("job: %s", err.message);
    return job;
}

/* Plan a job on catalog c with availability text; the plan document (caller decrefs). */
static json_t *plan_in(fl_catalog *c, const char *job_text, const char *avail_text, fl_status *rc, fl_error *err)
{
    fl_job *job = job_in(c, job_text);
    fl_availability *av = NULL;
    if (fl_availability_from_json(c, avail_text, &av, err) != FL_OK)
        fail_msg("availability: %s", err->message);
    fl_plan_options o;
    fl_plan_options_init(&o);
    fl_plan *plan = NULL;
    *rc = fl_plan_job(c, job, av, &o, &plan, err);
    json_t *doc = NULL;
    if (!*rc) {
        char *s = fl_plan_to_json(plan, 0);
        doc = json_loads(s, 0, NULL);
        fl_free(s);
        fl_plan_free(plan);
    }
    fl_availability_free(av);
    fl_job_free(job);
    return doc;
}

static double sim_num(json_t *doc, const char *k)
{
    json_t *v = json_object_get(json_object_get(doc, "simulation"), k);
    if (!json_is_number(v))
        fail_msg("simulation.%s missing", k);
    return json_number_value(v);
}

/* Distinct zones the plan rents. */
static int n_zones(json_t *doc)
{
    json_t *res = json_object_get(doc, "resources");
    const char *z[16];
    int n = 0;
    for (size_t i = 0; i < json_array_size(res); i++) {
        const char *zi = json_string_value(json_object_get(json_array_get(res, i), "zone"));
        int k = 0;
        while (k < n && strcmp(z[k], zi))
            k++;
        if (k == n && n < 16)
            z[n++] = zi;
    }
    return n;
}

/* ---- the all-reduce model ---- */

/* Every row of tests/data/published/nccl_tests_allreduce.csv within 15 %: the model's ring
 * all-reduce of the row's message over its GPUs (the catalog's GPU link, the row's NIC at
 * FL_TRAIN_NIC_EFFICIENCY), read as nccl-tests' busbw = S / t x 2(n-1)/n. Sizes are
 * bandwidth-bound (>= 128 MB), so the latency terms are left at 0. */
static void test_published_allreduce(void **state)
{
    (void)state;
    FILE *fp = fopen(test_data("published/nccl_tests_allreduce.csv"), "r");
    assert_non_null(fp);
    char line[2048], sys[128], gname[64];
    int rows = 0;
    double worst = 0;
    assert_non_null(fgets(line, sizeof line, fp)); /* header */
    while (fgets(line, sizeof line, fp)) {
        int nodes, gpn;
        double nic, bytes, published;
        if (sscanf(line, "%127[^,],%63[^,],%d,%d,%lf,%lf,%lf", sys, gname, &nodes, &gpn, &nic, &bytes, &published) != 7)
            continue;
        int gpu = fl_catalog_find_gpu(cat, gname, "gpu", NULL);
        assert_true(gpu >= 0);
        fl_train_gpu_perf p;
        fl_train_gpu_perf_get(cat, gpu, FL_DT_BF16, &p);
        int n = nodes * gpn;
        fl_train_dp_comm dc = {.n = n, .per_node = gpn, .tp = 1, .bytes = bytes, .intra_bw = p.link_bw,
                               .inter_bw = nodes > 1 ? nic * FL_TRAIN_NIC_EFFICIENCY : 0};
        double t = fl_train_dp_allreduce_time(&dc, FL_AR_RING);
        double busbw = bytes / t * 2.0 * (n - 1) / n;
        double e = fabs(busbw / published - 1);
        print_message("nccl-tests %-40s model %.1f GB/s published %.1f GB/s (%+.1f %%)\n", sys, busbw / 1e9,
                      published / 1e9, 100 * (busbw / published - 1));
        assert_true(e < 0.15);
        worst = fmax(worst, e);
        rows++;
    }
    fclose(fp);
    assert_int_equal(rows, 5);
    assert_true(worst > 0); /* the figures are compared, not copied */
}

/* The algorithms' formulas and how they order. */
static void test_algorithms(void **state)
{
    (void)state;
    /* 2 nodes x 8 members of tp 1, 1 GB per GPU, NVLink 200 GB/s, NIC 50 GB/s, no latency */
    fl_train_dp_comm c = {.n = 16, .per_node = 8, .tp = 1, .bytes = 1e9, .intra_bw = 2e11, .inter_bw = 5e10};
    double ring = fl_train_dp_allreduce_time(&c, FL_AR_RING);
    double tree = fl_train_dp_allreduce_time(&c, FL_AR_TREE);
    double hier = fl_train_dp_allreduce_time(&c, FL_AR_HIERARCHICAL);
    double autov = fl_train_dp_allreduce_time(&c, FL_AR_AUTO);
    assert_near(ring, 2.0 * 15 / 16 * (1e9 / 5e10), 1e-12);
    assert_near(tree, fmax(2.0 * 7 / 8 * 1e9 / 2e11, 1.0 * 1e9 / 5e10), 1e-12);
    assert_near(hier, 2.0 * 7 / 8 * 1e9 / 2e11 + 1.0 * 1e9 / 5e10, 1e-12);
    assert_near(autov, fmin(ring, fmin(tree, hier)), 1e-15);
    assert_true(tree < ring); /* two nodes: the tree moves half of what the ring does through the NIC */
    /* tp GPUs share the NIC: tp 8 with 1/8 of the bytes each is the same NIC traffic */
    fl_train_dp_comm c8 = c;
    c8.n = 2, c8.per_node = 1, c8.tp = 8, c8.bytes = 1e9 / 8;
    assert_near(fl_train_dp_allreduce_time(&c8, FL_AR_RING), 1.0 * 1e9 / 5e10, 1e-12);
    /* latency-bound: few bytes over many nodes, hierarchical and tree beat the ring's 2(n-1) steps */
    fl_train_dp_comm l = {.n = 64, .per_node = 8, .tp = 1, .bytes = 1e3, .intra_bw = 2e11, .intra_lat = 8e-6,
                          .inter_bw = 5e10, .inter_lat = 5e-4};
    assert_true(fl_train_dp_allreduce_time(&l, FL_AR_HIERARCHICAL) < fl_train_dp_allreduce_time(&l, FL_AR_RING) / 5);
    assert_true(fl_train_dp_allreduce_time(&l, FL_AR_TREE) < fl_train_dp_allreduce_time(&l, FL_AR_HIERARCHICAL));
    /* one node: every algorithm is the ring over the GPU link; one member: nothing */
    fl_train_dp_comm one = {.n = 8, .per_node = 8, .tp = 1, .bytes = 1e9, .intra_bw = 2e11, .intra_lat = 8e-6};
    double r1 = 2.0 * 7 / 8 * 1e9 / 2e11 + 14 * 8e-6;
    assert_near(fl_train_dp_allreduce_time(&one, FL_AR_TREE), r1, 1e-12);
    assert_near(fl_train_dp_allreduce_time(&one, FL_AR_AUTO), r1, 1e-12);
    one.n = 1;
    assert_near(fl_train_dp_allreduce_time(&one, FL_AR_RING), 0, 0);
}

/* The NIC of the actual instance type: p4d.24xlarge's 400 Gbit/s in aws:use1-az1; none on-prem. */
static void test_nic(void **state)
{
    (void)state;
    int a100 = fl_catalog_find_gpu(cat, "A100-SXM-40GB", "gpu", NULL);
    int h100 = fl_catalog_find_gpu(cat, "H100-SXM-80GB", "gpu", NULL);
    int z = fl_catalog_find_zone(cat, "aws:use1-az1", "zone", NULL);
    assert_true(a100 >= 0 && h100 >= 0 && z >= 0);
    assert_near(fl_train_nic_bw(cat, a100, z), 5.0e10 * FL_TRAIN_NIC_EFFICIENCY, 1);
    /* p5.48xlarge (8 GPUs, 3200 Gbit/s), not p5.4xlarge (1 GPU) */
    assert_near(fl_train_nic_bw(cat, h100, z), 4.0e11 * FL_TRAIN_NIC_EFFICIENCY, 1);
    /* an on-prem zone (no offerings): no NIC figure, the catalog's zone link is used */
    fl_catalog *c2;
    fl_error err;
    assert_int_equal(fl_catalog_open(NULL, &c2, &err), FL_OK);
    assert_int_equal(fl_catalog_exec(c2,
                                     "INSERT INTO zones(zone, cloud, region, continent, source) VALUES('onprem:lab',"
                                     " 'onprem', 'lab', 'eu', 'test');",
                                     &err),
                     FL_OK);
    assert_int_equal(fl_catalog_reload(c2, &err), FL_OK);
    int lab = fl_catalog_find_zone(c2, "onprem:lab", "zone", NULL);
    assert_true(lab >= 0);
    assert_near(fl_train_nic_bw(c2, fl_catalog_find_gpu(c2, "A100-SXM-40GB", "gpu", NULL), lab), 0, 0);
    /* a re-read catalog with another NIC figure is looked up afresh */
    int z2 = fl_catalog_find_zone(c2, "aws:use1-az1", "zone", NULL);
    int g2 = fl_catalog_find_gpu(c2, "A100-SXM-40GB", "gpu", NULL);
    assert_near(fl_train_nic_bw(c2, g2, z2), 5.0e10 * FL_TRAIN_NIC_EFFICIENCY, 1);
    assert_int_equal(fl_catalog_exec(c2,
                                     "UPDATE offerings SET network_bw_bytes_per_s = 1.0e11 WHERE zone = 'aws:use1-az1'"
                                     " AND instance_type = 'p4d.24xlarge';",
                                     &err),
                     FL_OK);
    assert_int_equal(fl_catalog_reload(c2, &err), FL_OK);
    assert_near(fl_train_nic_bw(c2, g2, z2), 1.0e11 * FL_TRAIN_NIC_EFFICIENCY, 1);
    fl_catalog_free(c2);
}

/* A plan's DP all-reduce runs over the NIC of the instance type it rents: 16 H100 as p5.4xlarge
 * (1 GPU, 100 Gbit/s) reduce far slower than as two p5.48xlarge (8 GPUs, 3200 Gbit/s). */
static void test_rented_nic(void **state)
{
    (void)state;
    const char *head = "{\"kind\": \"training\", \"model\": \"gpt3-1.3b\", \"job\": {\"global_batch\": 64},"
                       " \"resources\": [{\"cloud\": \"aws\", \"zone\": \"aws:use1-az1\", \"gpu\": \"H100-SXM-80GB\",";
    const char *tail = "}], \"parallelism\": {\"micro_batch\": 2, \"pipelines\": [{\"replicas\": 16, \"micro_batches\": 2,"
                       " \"stages\": [{\"layers\": [0, 24], \"gpu\": \"H100-SXM-80GB\", \"zone\": \"aws:use1-az1\","
                       " \"tp\": 1}]}]}}";
    char text[2048];
    snprintf(text, sizeof text, "%s \"instance_type\": \"p5.4xlarge\", \"gpus_per_instance\": 1, \"instances\": 16,"
             " \"price_per_hour\": 6.88%s", head, tail);
    json_t *small = json_loads(text, 0, NULL);
    snprintf(text, sizeof text, "%s \"instance_type\": \"p5.48xlarge\", \"gpus_per_instance\": 8, \"instances\": 2,"
             " \"price_per_hour\": 55.04%s", head, tail);
    json_t *big = json_loads(text, 0, NULL);
    assert_non_null(small);
    assert_non_null(big);
    fl_error err;
    assert_int_equal(fl_train_plan_simulate(cat, small, &err), FL_OK);
    assert_int_equal(fl_train_plan_simulate(cat, big, &err), FL_OK);
    double ds = sim_num(small, "dp_allreduce_s"), db = sim_num(big, "dp_allreduce_s");
    print_message("DP all-reduce: 16 x p5.4xlarge %.3g s, 2 x p5.48xlarge %.3g s\n", ds, db);
    assert_true(ds > 5 * db);
    json_decref(small);
    json_decref(big);
}

/* ---- egress in the simulation ---- */

/* A gpt3-1.3b plan of `pipes` JSON on p4d.24xlarge instances in the given zones. */
static json_t *plan_doc(const char *resources, const char *pipes, const char *extra_job)
{
    char text[4096];
    snprintf(text, sizeof text,
             "{\"kind\": \"training\", \"model\": \"gpt3-1.3b\","
             " \"job\": {\"global_batch\": 64, \"seq_len\": 2048%s},"
             " \"resources\": [%s],"
             " \"parallelism\": {\"micro_batch\": 2, \"pipelines\": [%s]}}",
             extra_job ? extra_job : "", resources, pipes);
    json_t *doc = json_loads(text, 0, NULL);
    assert_non_null(doc);
    fl_error err;
    if (fl_train_plan_simulate(cat, doc, &err) != FL_OK)
        fail_msg("simulate: %s", err.message);
    return doc;
}

#define RES(zone, n) \
    "{\"cloud\": \"aws\", \"zone\": \"" zone "\", \"instance_type\": \"p4d.24xlarge\", \"gpu\": \"A100-SXM-40GB\"," \
    " \"gpus_per_instance\": 8, \"instances\": " #n ", \"price_per_hour\": 21.95764, \"spot\": false}"
#define PIPE1(zone, reps) \
    "{\"replicas\": " #reps ", \"micro_batches\": 4, \"stages\": [{\"layers\": [0, 24], \"gpu\": \"A100-SXM-40GB\"," \
    " \"zone\": \"" zone "\", \"tp\": 2}]}"

static void test_egress_simulation(void **state)
{
    (void)state;
    json_t *one = plan_doc(RES("aws:use1-az1", 2), PIPE1("aws:use1-az1", 8), NULL);
    json_t *two = plan_doc(RES("aws:use1-az1", 1) "," RES("aws:use1-az2", 1),
                           PIPE1("aws:use1-az1", 4) "," PIPE1("aws:use1-az2", 4), NULL);
    double it1 = sim_num(one, "iteration_s"), cph1 = sim_num(one, "cost_per_hour");
    assert_near(sim_num(one, "egress_per_iteration"), 0, 0);
    assert_near(sim_num(one, "egress_per_hour"), 0, 0);
    assert_near(sim_num(one, "cost_per_iteration"), cph1 * it1 / 3600, 1e-9);
    /* two zones: a ring ordered by zone crosses zones twice, each crossing carries 2 (n-1)/n of the
     * fp32 gradients; $0.01/GB between zones of us-east-1 (the catalog's same_region class) */
    int za = fl_catalog_find_zone(cat, "aws:use1-az1", "z", NULL), zb = fl_catalog_find_zone(cat, "aws:use1-az2", "z", NULL);
    double price = fl_catalog_link(cat, za, zb).egress_per_gb;
    assert_near(price, 0.01, 1e-12);
    int mi = fl_catalog_find_model(cat, "gpt3-1.3b", "m", NULL);
    const fl_model *m = fl_catalog_model(cat, (size_t)mi);
    double params = m->layers * fl_train_layer_params(m) + fl_train_embed_params(m) + fl_train_head_params(m, 0);
    double expect = 2 * (2.0 * 7 / 8) * params * 4 / 1e9 * price;
    double it2 = sim_num(two, "iteration_s"), cph2 = sim_num(two, "cost_per_hour");
    assert_near(sim_num(two, "egress_per_iteration"), expect, expect * 1e-6);
    assert_near(sim_num(two, "egress_dp_per_iteration"), expect, expect * 1e-6);
    assert_near(sim_num(two, "egress_p2p_per_iteration"), 0, 0);
    assert_near(sim_num(two, "egress_per_hour"), expect * 3600 / it2, expect * 3600 / it2 * 1e-6);
    assert_near(sim_num(two, "cost_per_iteration"), cph2 * it2 / 3600 + expect, 1e-6);
    double tps2 = sim_num(two, "tokens_per_s");
    assert_near(sim_num(two, "cost_per_million_tokens"),
                        (cph2 + expect * 3600 / it2) / (tps2 * 3600) * 1e6, 1e-6);
    /* the same plan spanning zones costs more per iteration than in one zone */
    assert_near(cph1, cph2, 1e-9);
    assert_true(sim_num(two, "cost_per_iteration") > sim_num(one, "cost_per_iteration") + 0.5 * expect);

    /* a pipeline across zones: activations forward and gradients back per micro-batch */
    json_t *pp = plan_doc(RES("aws:use1-az1", 1) "," RES("aws:use1-az2", 1),
                          "{\"replicas\": 4, \"micro_batches\": 8, \"stages\": ["
                          "{\"layers\": [0, 12], \"gpu\": \"A100-SXM-40GB\", \"zone\": \"aws:use1-az1\", \"tp\": 2},"
                          "{\"layers\": [12, 24], \"gpu\": \"A100-SXM-40GB\", \"zone\": \"aws:use1-az2\", \"tp\": 2}]}",
                          NULL);
    double act = 2.0 * 2048 * m->hidden * 2; /* micro-batch 2, bf16 */
    double p2p = 4 * 8 * act / 1e9 * (price + price);
    assert_near(sim_num(pp, "egress_p2p_per_iteration"), p2p, p2p * 1e-6);
    /* its DP groups (per stage, 4 replicas in one zone) do not cross zones */
    assert_near(sim_num(pp, "egress_dp_per_iteration"), 0, 0);
    json_decref(one);
    json_decref(two);
    json_decref(pp);
}

/* overlap_grad_reduce: off by default (Megatron-LM); on, the all-reduce hides behind backward. */
static void test_overlap(void **state)
{
    (void)state;
    json_t *off = plan_doc(RES("aws:use1-az1", 1) "," RES("aws:use1-az2", 1),
                           PIPE1("aws:use1-az1", 4) "," PIPE1("aws:use1-az2", 4), NULL);
    json_t *on = plan_doc(RES("aws:use1-az1", 1) "," RES("aws:use1-az2", 1),
                          PIPE1("aws:use1-az1", 4) "," PIPE1("aws:use1-az2", 4), ", \"overlap_grad_reduce\": true");
    json_t *off2 = plan_doc(RES("aws:use1-az1", 1) "," RES("aws:use1-az2", 1),
                            PIPE1("aws:use1-az1", 4) "," PIPE1("aws:use1-az2", 4), ", \"overlap_grad_reduce\": false");
    assert_true(sim_num(on, "dp_allreduce_s") < sim_num(off, "dp_allreduce_s"));
    assert_true(sim_num(on, "iteration_s") < sim_num(off, "iteration_s"));
    assert_near(sim_num(off2, "iteration_s"), sim_num(off, "iteration_s"), 0);
    /* the algorithm is the job's: a ring is never faster than auto */
    json_t *ring = plan_doc(RES("aws:use1-az1", 1) "," RES("aws:use1-az2", 1),
                            PIPE1("aws:use1-az1", 4) "," PIPE1("aws:use1-az2", 4), ", \"allreduce_algorithm\": \"ring\"");
    assert_true(sim_num(ring, "dp_allreduce_s") >= sim_num(off, "dp_allreduce_s"));
    fl_job *job = job_in(cat, "{\"kind\": \"training\", \"model\": \"gpt3-1.3b\", \"global_batch\": 64}");
    assert_int_equal(job->overlap_grad_reduce, 0);
    assert_int_equal(job->allreduce_algorithm, FL_AR_AUTO);
    fl_job_free(job);
    json_decref(off);
    json_decref(on);
    json_decref(off2);
    json_decref(ring);
}

/* Bucketing: with overlap on, at least one DP bucket (Megatron-LM's 40M parameters) is reduced
 * after backward; a model smaller than a bucket gains nothing from overlap_grad_reduce, one with
 * stages far above it does. */
static void test_buckets(void **state)
{
    (void)state;
    int gpu = fl_catalog_find_gpu(cat, "A100-SXM-40GB", "gpu", NULL);
    int za = fl_catalog_find_zone(cat, "aws:use1-az1", "z", NULL), zb = fl_catalog_find_zone(cat, "aws:use1-az2", "z", NULL);
    fl_model small = {.name = "tiny", .layers = 4, .hidden = 512, .heads = 8, .kv_heads = 8, .ffn = 2048,
                      .vocab = 32000, .activation = FL_ACT_GELU, .tied_embeddings = 1, .rope = 1, .experts = 1,
                      .top_k = 1};
    double all = small.layers * fl_train_layer_params(&small) + fl_train_embed_params(&small) +
                 fl_train_head_params(&small, 0);
    assert_true(all < FL_TRAIN_DDP_BUCKET_PARAMS);
    fl_train_setup s = {.model = &small, .seq_len = 1024, .micro_batch = 1, .compute_dtype = FL_DT_BF16,
                        .master_weights = 1, .grad_dtype = FL_DT_FP32, .flash = 1, .interleave = 1};
    fl_train_stage sa[1] = {{0, 4, gpu, za, 1}}, sb[1] = {{0, 4, gpu, zb, 1}};
    fl_train_pipeline pl[2] = {{8, 4, 1, sa}, {8, 4, 1, sb}};
    fl_train_result off = {0}, on = {0};
    fl_error err;
    assert_int_equal(fl_train_simulate(cat, &s, pl, 2, &off, &err), FL_OK);
    s.dp_overlap = 1;
    assert_int_equal(fl_train_simulate(cat, &s, pl, 2, &on, &err), FL_OK);
    assert_true(off.dp_allreduce_s > 0);
    assert_near(on.iteration_s, off.iteration_s, 1e-12);
    /* gpt3-1.3b (54M parameters per layer): overlap hides part of it */
    const fl_model *m = fl_catalog_model(cat, (size_t)fl_catalog_find_model(cat, "gpt3-1.3b", "m", NULL));
    s.model = m;
    s.dp_overlap = 0;
    fl_train_stage ta[1] = {{0, m->layers, gpu, za, 1}}, tb[1] = {{0, m->layers, gpu, zb, 1}};
    fl_train_pipeline ql[2] = {{8, 4, 1, ta}, {8, 4, 1, tb}};
    assert_int_equal(fl_train_simulate(cat, &s, ql, 2, &off, &err), FL_OK);
    s.dp_overlap = 1;
    assert_int_equal(fl_train_simulate(cat, &s, ql, 2, &on, &err), FL_OK);
    assert_true(on.iteration_s < off.iteration_s);
}

/* ---- the planner ---- */

#define JOB_BUDGET(b, extra)                                                                                  \
    "{\"kind\": \"training\", \"model\": \"gpt3-1.3b\", \"global_batch\": 256, \"seq_len\": 2048,"              \
    " \"objective\": \"max_throughput\", \"budget_per_hour\": " b ", \"allow\": {\"gpus\": [\"A100-SXM-40GB\"]," \
    " \"zones\": [\"aws:use1-az1\", \"aws:use1-az2\"]}" extra "}"
#define AVAIL_8_8 "{\"zones\": {\"aws:use1-az1\": {\"A100-SXM-40GB\": 8}, \"aws:use1-az2\": {\"A100-SXM-40GB\": 8}}}"

/* With egress counted, 16 GPUs over two zones ($43.9/h of instances) break a $60/h budget and the
 * planner keeps to one zone; with the zones' egress priced at 0 the same job spans both. */
static void test_egress_changes_choice(void **state)
{
    (void)state;
    fl_status rc;
    fl_error err;
    json_t *d60 = plan_in(cat, JOB_BUDGET("60", ""), AVAIL_8_8, &rc, &err);
    assert_int_equal(rc, FL_OK);
    assert_int_equal(n_zones(d60), 1);
    json_t *d400 = plan_in(cat, JOB_BUDGET("400", ""), AVAIL_8_8, &rc, &err);
    assert_int_equal(rc, FL_OK);
    assert_int_equal(n_zones(d400), 2);
    assert_true(sim_num(d400, "egress_per_hour") > 0);
    assert_true(sim_num(d400, "cost_per_hour") <= 60); /* instances alone would fit the $60 budget */
    assert_true(sim_num(d400, "cost_per_hour") + sim_num(d400, "egress_per_hour") > 60);
    assert_true(sim_num(d400, "cost_per_hour") + sim_num(d400, "egress_per_hour") <= 400 * (1 + 1e-9));
    assert_true(sim_num(d400, "tokens_per_s") > sim_num(d60, "tokens_per_s"));
    /* the planner says why: DP gradient egress of the spanning replicas */
    json_t *why = json_object_get(d400, "placement_reasons");
    assert_true(json_array_size(why) >= 2);
    int dp_note = 0;
    for (size_t i = 0; i < json_array_size(why); i++) {
        json_t *o = json_array_get(why, i);
        assert_true(json_is_string(json_object_get(o, "text")));
        if (strstr(json_string_value(json_object_get(o, "text")), "data-parallel"))
            dp_note = fabs(json_number_value(json_object_get(o, "egress_per_iteration")) -
                           sim_num(d400, "egress_dp_per_iteration")) < 1e-9;
    }
    assert_true(dp_note);
    /* the one-zone plan says what splitting a pipeline would cost */
    json_t *w60 = json_array_get(json_object_get(d60, "placement_reasons"), 0);
    assert_false(json_is_true(json_object_get(w60, "spans_zones")));
    assert_true(json_number_value(json_object_get(w60, "p2p_s_across_zones")) >
                json_number_value(json_object_get(w60, "p2p_s_per_micro_batch")));
    assert_true(json_number_value(json_object_get(w60, "egress_per_iteration_if_split")) > 0);

    /* same catalog with free egress between the two zones: now the $60 plan spans them */
    fl_catalog *c2;
    assert_int_equal(fl_catalog_open(NULL, &c2, &err), FL_OK);
    assert_int_equal(fl_catalog_exec(c2,
                                     "INSERT INTO network_overrides(zone_a, zone_b, bandwidth_bytes_per_s, latency_s,"
                                     " egress_per_gb, source) VALUES('aws:use1-az1', 'aws:use1-az2', 1.1e10, 5.0e-4, 0,"
                                     " 'test'), ('aws:use1-az2', 'aws:use1-az1', 1.1e10, 5.0e-4, 0, 'test');",
                                     &err),
                     FL_OK);
    assert_int_equal(fl_catalog_reload(c2, &err), FL_OK);
    json_t *free60 = plan_in(c2, JOB_BUDGET("60", ""), AVAIL_8_8, &rc, &err);
    assert_int_equal(rc, FL_OK);
    assert_int_equal(n_zones(free60), 2);
    assert_near(sim_num(free60, "egress_per_hour"), 0, 0);
    json_decref(free60);
    fl_catalog_free(c2);
    json_decref(d60);
    json_decref(d400);
}

/* A pipeline that has to span zones (gpt3-2.7b needs more A10G than one zone has) says so, with
 * the p2p time over the zone link and the egress it costs, which the simulation bills. */
static void test_pipeline_across_zones(void **state)
{
    (void)state;
    fl_status rc;
    fl_error err;
    json_t *d = plan_in(cat,
                        "{\"kind\": \"training\", \"model\": \"gpt3-2.7b\", \"global_batch\": 64, \"objective\":"
                        " \"max_throughput\", \"allow\": {\"gpus\": [\"A10G-24GB\"], \"zones\": [\"aws:use1-az1\","
                        " \"aws:use1-az2\"]}}",
                        "{\"zones\": {\"aws:use1-az1\": {\"A10G-24GB\": 2}, \"aws:use1-az2\": {\"A10G-24GB\": 2}}}",
                        &rc, &err);
    assert_int_equal(rc, FL_OK);
    assert_int_equal(n_zones(d), 2);
    json_t *why = json_object_get(d, "placement_reasons");
    assert_int_equal(json_array_size(why), 1);
    json_t *w = json_array_get(why, 0);
    assert_true(json_is_true(json_object_get(w, "spans_zones")));
    assert_true(json_number_value(json_object_get(w, "p2p_s_per_micro_batch")) >
                json_number_value(json_object_get(w, "p2p_s_in_zone")));
    double e = json_number_value(json_object_get(w, "egress_per_iteration"));
    assert_true(e > 0);
    assert_near(e, sim_num(d, "egress_p2p_per_iteration"), e * 1e-6);
    assert_non_null(strstr(json_string_value(json_object_get(w, "text")), "span zones aws:use1-az"));
    json_decref(d);
}

/* max_cost_per_iteration / max_cost_per_million_tokens bind and change the plan. */
static void test_caps(void **state)
{
    (void)state;
    fl_status rc;
    fl_error err;
    json_t *free_doc = plan_in(cat, JOB_BUDGET("400", ""), AVAIL_8_8, &rc, &err);
    assert_int_equal(rc, FL_OK);
    double cpi = sim_num(free_doc, "cost_per_iteration");
    assert_int_equal(n_zones(free_doc), 2);
    char job[1024];
    snprintf(job, sizeof job, JOB_BUDGET("400", ", \"max_cost_per_iteration\": %.6g"), cpi * 0.5);
    json_t *capped = plan_in(cat, job, AVAIL_8_8, &rc, &err);
    assert_int_equal(rc, FL_OK);
    assert_true(sim_num(capped, "cost_per_iteration") <= cpi * 0.5);
    assert_int_equal(n_zones(capped), 1);
    assert_true(sim_num(capped, "tokens_per_s") < sim_num(free_doc, "tokens_per_s"));
    assert_near(json_number_value(json_object_get(json_object_get(capped, "job"), "max_cost_per_iteration")),
                        cpi * 0.5, cpi * 1e-5);
    double cpmt = sim_num(free_doc, "cost_per_million_tokens");
    snprintf(job, sizeof job, JOB_BUDGET("400", ", \"max_cost_per_million_tokens\": %.6g"), cpmt * 0.5);
    json_t *capped2 = plan_in(cat, job, AVAIL_8_8, &rc, &err);
    assert_int_equal(rc, FL_OK);
    assert_true(sim_num(capped2, "cost_per_million_tokens") <= cpmt * 0.5);
    assert_int_equal(n_zones(capped2), 1);
    /* below every plan: an error naming the cap */
    json_t *none = plan_in(cat, JOB_BUDGET("400", ", \"max_cost_per_iteration\": 1e-6"), AVAIL_8_8, &rc, &err);
    assert_null(none);
    assert_int_equal(rc, FL_EINFEASIBLE);
    assert_string_equal(err.field, "job.max_cost_per_iteration");
    none = plan_in(cat, JOB_BUDGET("400", ", \"max_cost_per_million_tokens\": 1e-6"), AVAIL_8_8, &rc, &err);
    assert_null(none);
    assert_int_equal(rc, FL_EINFEASIBLE);
    assert_string_equal(err.field, "job.max_cost_per_million_tokens");
    json_decref(free_doc);
    json_decref(capped);
    json_decref(capped2);
}

/* min_cost_per_token: no plan of the other objectives is cheaper per token (instances + egress). */
static void test_min_cost_per_token(void **state)
{
    (void)state;
    fl_status rc;
    fl_error err;
    const char *objs[] = {"max_throughput", "min_cost", "max_throughput_per_dollar"};
    char job[1024];
    snprintf(job, sizeof job,
             "{\"kind\": \"training\", \"model\": \"gpt3-1.3b\", \"global_batch\": 256, \"objective\": "
             "\"min_cost_per_token\", \"allow\": {\"gpus\": [\"A100-SXM-40GB\"], \"zones\": [\"aws:use1-az1\", "
             "\"aws:use1-az2\"]}}");
    json_t *best = plan_in(cat, job, AVAIL_8_8, &rc, &err);
    assert_int_equal(rc, FL_OK);
    assert_string_equal(json_string_value(json_object_get(json_object_get(best, "job"), "objective")),
                        "min_cost_per_token");
    double v = sim_num(best, "cost_per_million_tokens");
    for (int i = 0; i < 3; i++) {
        snprintf(job, sizeof job,
                 "{\"kind\": \"training\", \"model\": \"gpt3-1.3b\", \"global_batch\": 256, \"objective\": \"%s\","
                 " \"allow\": {\"gpus\": [\"A100-SXM-40GB\"], \"zones\": [\"aws:use1-az1\", \"aws:use1-az2\"]}}",
                 objs[i]);
        json_t *o = plan_in(cat, job, AVAIL_8_8, &rc, &err);
        assert_int_equal(rc, FL_OK);
        assert_true(v <= sim_num(o, "cost_per_million_tokens") * (1 + 1e-9));
        json_decref(o);
    }
    json_decref(best);
}

/* The new job fields refuse bad values with an error naming the field. */
static void test_bad_fields(void **state)
{
    (void)state;
    static const struct {
        const char *extra, *field;
    } rows[] = {
        {"\"max_cost_per_iteration\": 0", "job.max_cost_per_iteration"},
        {"\"max_cost_per_iteration\": -1.5", "job.max_cost_per_iteration"},
        {"\"max_cost_per_iteration\": \"cheap\"", "job.max_cost_per_iteration"},
        {"\"max_cost_per_million_tokens\": 0", "job.max_cost_per_million_tokens"},
        {"\"max_cost_per_million_tokens\": -2", "job.max_cost_per_million_tokens"},
        {"\"overlap_grad_reduce\": \"yes\"", "job.overlap_grad_reduce"},
        {"\"allreduce_algorithm\": \"fastest\"", "job.allreduce_algorithm"},
        {"\"objective\": \"min_cost_per_tokens\"", "job.objective"},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        char text[512];
        snprintf(text, sizeof text, "{\"kind\": \"training\", \"model\": \"gpt3-1.3b\", \"global_batch\": 64, %s}",
                 rows[i].extra);
        fl_job *job = NULL;
        fl_error err;
        assert_int_equal(fl_job_from_json(cat, text, &job, &err), FL_EINVAL);
        assert_null(job);
        assert_string_equal(err.field, rows[i].field);
    }
    fl_job *job = NULL;
    fl_error err;
    assert_int_equal(fl_job_from_json(cat,
                                      "{\"kind\": \"serving\", \"model\": \"llama3-8b\", \"objective\": "
                                      "\"min_cost_per_token\", \"workload\": {\"rate_rps\": 1}}",
                                      &job, &err),
                     FL_EINVAL);
    assert_string_equal(err.field, "job.objective");
    /* a plan document's job is checked too */
    json_t *doc = json_loads("{\"kind\": \"training\", \"model\": \"gpt3-1.3b\", \"job\": {\"global_batch\": 64,"
                             " \"allreduce_algorithm\": \"x\"}, \"resources\": [" RES("aws:use1-az1", 1) "],"
                             " \"parallelism\": {\"pipelines\": [" PIPE1("aws:use1-az1", 4) "]}}",
                             0, NULL);
    assert_non_null(doc);
    assert_int_equal(fl_train_plan_simulate(cat, doc, &err), FL_EINVAL);
    assert_string_equal(err.field, "plan.job.allreduce_algorithm");
    json_decref(doc);
}

/* End to end: `flotilla plan` reports the egress of a zone-spanning plan and `flotilla simulate`
 * of that plan gives the same figures; the table names them. */
static void test_cli(void **state)
{
    (void)state;
    const char *job = temp_file(0, ".json", JOB_BUDGET("400", ""));
    const char *av = temp_file(1, ".json", AVAIL_8_8);
    cli_result r = run_cli(NULL, "plan", job, "--availability", av, "--json", NULL);
    assert_int_equal(r.status, 0);
    json_t *doc = cli_json(&r);
    assert_non_null(doc);
    double e = sim_num(doc, "egress_per_iteration");
    assert_true(e > 0);
    /* the CLI prints 6 significant digits */
    assert_near(sim_num(doc, "cost_per_iteration"),
                sim_num(doc, "cost_per_hour") * sim_num(doc, "iteration_s") / 3600 + e, 1e-5 * e);
    char *text = json_dumps(doc, 0);
    const char *plan = temp_file(2, ".json", text);
    free(text);
    cli_result s = run_cli(NULL, "simulate", plan, "--json", NULL);
    assert_int_equal(s.status, 0);
    json_t *sim = cli_json(&s);
    assert_non_null(sim);
    assert_near(sim_num(sim, "egress_per_iteration"), e, e * 1e-6);
    assert_near(sim_num(sim, "egress_per_hour"), sim_num(doc, "egress_per_hour"), 1e-3);
    /* the frontier counts egress: sorted by instances + egress, spanning points carry it */
    cli_result pf = run_cli(NULL, "plan", job, "--availability", av, "--pareto", "--json", NULL);
    assert_int_equal(pf.status, 0);
    json_t *pd = cli_json(&pf);
    json_t *front = json_object_get(pd, "pareto");
    assert_true(json_array_size(front) >= 2);
    double prev = 0, max_eg = 0;
    for (size_t i = 0; i < json_array_size(front); i++) {
        json_t *o = json_array_get(front, i);
        double tot = json_number_value(json_object_get(o, "cost_per_hour")) +
                     json_number_value(json_object_get(o, "egress_per_hour"));
        assert_true(tot >= prev);
        prev = tot;
        max_eg = fmax(max_eg, json_number_value(json_object_get(o, "egress_per_hour")));
    }
    assert_true(max_eg > 0);
    json_decref(pd);
    cli_result_free(&pf);
    cli_result t = run_cli(NULL, "plan", job, "--availability", av, NULL);
    assert_int_equal(t.status, 0);
    assert_non_null(strstr(t.out, "egress "));
    assert_non_null(strstr(t.out, "data-parallel replicas span zones"));
    json_decref(doc);
    json_decref(sim);
    cli_result_free(&r);
    cli_result_free(&s);
    cli_result_free(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_published_allreduce), cmocka_unit_test(test_algorithms),
        cmocka_unit_test(test_nic),                 cmocka_unit_test(test_rented_nic),
        cmocka_unit_test(test_egress_simulation),
        cmocka_unit_test(test_overlap),             cmocka_unit_test(test_buckets),
        cmocka_unit_test(test_egress_changes_choice), cmocka_unit_test(test_pipeline_across_zones),
        cmocka_unit_test(test_caps),                cmocka_unit_test(test_min_cost_per_token),
        cmocka_unit_test(test_bad_fields),          cmocka_unit_test(test_cli),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
