/* tests/export/test_plan_model.c — the typed plan (JSON -> typed -> JSON is exact for every plan
 * fixture and every example job's fresh plan; bad shapes name the field) and the exporters'
 * refusals through the library API. Run from the source root. */
#include "flotilla/flotilla.h"
#include "flotilla/fl_export.h"

#include <dirent.h>
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "tests/common/testutil.h"

/* The file's text; fails the test when it cannot be read. */
static char *slurp(const char *path)
{
    char *s = test_read_text(path);
    if (!s)
        fail_msg("cannot read %s", path);
    return s;
}

/* JSON -> typed -> JSON equals the input. */
static void assert_roundtrip(const char *text, const char *what)
{
    fl_plan_model *m = NULL;
    fl_error err;
    fl_error_clear(&err);
    if (fl_plan_model_from_json(text, &m, &err) != FL_OK)
        fail_msg("%s: %s (%s)", what, err.message, err.field);
    char *out = fl_plan_model_to_json(m, 1);
    assert_non_null(out);
    json_t *a = json_loads(text, 0, NULL), *b = json_loads(out, 0, NULL);
    assert_non_null(a);
    assert_non_null(b);
    if (!json_equal(a, b))
        fail_msg("%s: JSON -> typed -> JSON differs", what);
    json_decref(a);
    json_decref(b);
    fl_free(out);
    fl_plan_model_free(m);
}

static int roundtrip_dir(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    struct dirent *e;
    int n = 0;
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        /* place_nodes_*.json are node lists for `flotilla place`, not plans */
        if (l < 6 || strcmp(e->d_name + l - 5, ".json") != 0 || strncmp(e->d_name, "place_nodes", 11) == 0)
            continue;
        char path[512];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        char *text = slurp(path);
        fl_plan_model *m = NULL;
        fl_status st = fl_plan_model_from_json(text, &m, NULL);
        fl_plan_model_free(m);
        /* hand-broken fixtures may be refused (shape) or accepted (catalog errors); the rest must parse */
        if (strncmp(e->d_name, "train_bad", 9) != 0)
            assert_int_equal(st, FL_OK);
        if (st == FL_OK) {
            assert_roundtrip(text, path);
            n++;
        }
        free(text);
    }
    closedir(d);
    return n;
}

static void test_roundtrip_fixtures(void **state)
{
    (void)state;
    assert_true(roundtrip_dir("tests/data/plans") >= 8);
    assert_true(roundtrip_dir("tests/data/plans/export") >= 7);
}

/* Plan every example job with the built-in catalog; each fresh plan (and its alternatives'
 * documents, through the plan JSON) round-trips. */
static void test_roundtrip_example_plans(void **state)
{
    (void)state;
    fl_catalog *cat = NULL;
    assert_int_equal(fl_catalog_open(NULL, &cat, NULL), FL_OK);
    DIR *d = opendir("examples/jobs");
    assert_non_null(d);
    struct dirent *e;
    int n = 0;
    while ((e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (l < 6 || strcmp(e->d_name + l - 5, ".json") != 0 || strncmp(e->d_name, "avail", 5) == 0)
            continue;
        char path[512];
        snprintf(path, sizeof path, "examples/jobs/%s", e->d_name);
        char *text = slurp(path);
        fl_job *job = NULL;
        fl_plan *plan = NULL;
        fl_error err;
        fl_error_clear(&err);
        fl_plan_options opts;
        fl_plan_options_init(&opts);
        opts.time_limit_s = 300; /* sanitizer builds are several times slower than the default limit allows */
        if (fl_job_from_json(cat, text, &job, &err) || fl_plan_job(cat, job, NULL, &opts, &plan, &err))
            fail_msg("%s: %s", path, err.message);
        char *pj = fl_plan_to_json(plan, 0);
        assert_non_null(pj);
        assert_roundtrip(pj, path);
        n++;
        fl_free(pj);
        fl_plan_free(plan);
        fl_job_free(job);
        free(text);
    }
    closedir(d);
    assert_true(n >= 7);
    fl_catalog_free(cat);
}

/* The typed values are the document's. */
static void test_typed_values(void **state)
{
    (void)state;
    char *text = slurp("tests/data/plans/train_small.json");
    fl_plan_model *m = NULL;
    assert_int_equal(fl_plan_model_from_json(text, &m, NULL), FL_OK);
    assert_int_equal(fl_plan_model_kind(m), FL_JOB_TRAINING);
    assert_string_equal(fl_plan_model_name(m), "gpt3-1.3b");
    assert_int_equal(fl_plan_node_group_count(m), 1);
    const fl_plan_node_group *g = fl_plan_node_group_at(m, 0);
    assert_string_equal(g->instance_type, "a2-highgpu-8g");
    assert_int_equal(g->gpus_per_instance, 8);
    assert_int_equal(g->instances, 2);
    assert_true(g->price_per_hour > 29.38 && g->price_per_hour < 29.40);
    assert_int_equal(g->spot, 0);
    assert_null(fl_plan_node_group_at(m, 1));
    const fl_plan_training *t = fl_plan_model_training(m);
    assert_non_null(t);
    assert_int_equal(t->micro_batch, 2);
    assert_int_equal(t->global_batch, 64);
    assert_string_equal(t->compute_dtype, "bf16");
    assert_int_equal(fl_plan_pipeline_count(m), 1);
    const fl_plan_pipeline *p = fl_plan_pipeline_at(m, 0);
    assert_int_equal(p->replicas, 4);
    assert_int_equal(p->micro_batches, 8);
    assert_int_equal(p->n_stages, 2);
    assert_int_equal(p->stages[1].first_layer, 12);
    assert_int_equal(p->stages[1].last_layer, 24);
    assert_int_equal(p->stages[1].tp, 2);
    assert_int_equal(fl_plan_serving_replica_count(m), 0);
    fl_plan_model_free(m);
    free(text);

    text = slurp("tests/data/plans/export/serve_llama3_70b.json");
    assert_int_equal(fl_plan_model_from_json(text, &m, NULL), FL_OK);
    assert_null(fl_plan_model_training(m));
    assert_int_equal(fl_plan_serving_replica_count(m), 1);
    const fl_plan_serving_replica *r = fl_plan_serving_replica_at(m, 0);
    assert_int_equal(r->tp, 4);
    assert_int_equal(r->count, 4);
    assert_string_equal(r->model, "llama3-70b");
    assert_string_equal(r->engine, "vllm");
    assert_int_equal(r->max_model_len, 4096 + 512);
    assert_int_equal(r->n_class_shares, 2);
    fl_plan_model_free(m);
    free(text);
}

/* A bad shape is refused naming the field. */
static void expect_bad(const char *json, fl_status code, const char *field_part)
{
    fl_plan_model *m = (fl_plan_model *)1;
    fl_error err;
    fl_error_clear(&err);
    assert_int_equal(fl_plan_model_from_json(json, &m, &err), code);
    assert_null(m);
    if (field_part && !strstr(err.field, field_part) && !strstr(err.message, field_part))
        fail_msg("error '%s' (field %s) does not name %s", err.message, err.field, field_part);
}

static void test_bad_shapes(void **state)
{
    (void)state;
    expect_bad("{\"kind\": ", FL_EPARSE, NULL);
    expect_bad("[]", FL_EINVAL, "plan");
    expect_bad("{\"kind\": \"x\", \"resources\": []}", FL_EINVAL, "kind");
    expect_bad("{\"kind\": \"training\"}", FL_EINVAL, "resources");
    expect_bad("{\"kind\": \"training\", \"resources\": [{\"zone\": \"z\", \"gpu\": \"g\", \"gpus_per_instance\": "
               "\"8\", \"instances\": 1}]}", FL_EINVAL, "resources[0].gpus_per_instance");
    const char *head = "{\"kind\": \"training\", \"resources\": [], \"parallelism\": {\"micro_batch\": 1, "
                       "\"pipelines\": [{\"replicas\": 1, \"micro_batches\": 1, \"stages\": [";
    char buf[512];
    snprintf(buf, sizeof buf, "%s{\"layers\": [0, 2], \"gpu\": \"g\", \"tp\": \"2\"}]}]}}", head);
    expect_bad(buf, FL_EINVAL, "stages[0].tp");
    snprintf(buf, sizeof buf, "%s{\"layers\": [5, 2], \"gpu\": \"g\", \"tp\": 2}]}]}}", head);
    expect_bad(buf, FL_EINVAL, "stages[0].layers");
    snprintf(buf, sizeof buf, "%s{\"layers\": [0, 2], \"gpu\": \"g\", \"tp\": 2}, 7]}]}}", head);
    expect_bad(buf, FL_EINVAL, "stages[1]");
    expect_bad("{\"kind\": \"training\", \"resources\": [], \"parallelism\": {\"micro_batch\": 1, \"pipelines\": []}}",
               FL_EINVAL, "pipelines");
    expect_bad("{\"kind\": \"serving\", \"resources\": []}", FL_EINVAL, "replicas");
    expect_bad("{\"kind\": \"serving\", \"resources\": [], \"replicas\": [{\"gpu\": \"g\", \"tp\": 1, \"count\": 1, "
               "\"class_shares\": [\"a\"]}]}", FL_EINVAL, "class_shares[0]");
    fl_plan_model *m = NULL;
    assert_int_equal(fl_plan_model_from_json(NULL, &m, NULL), FL_EMISUSE);
}

/* Export `text` (after applying edits with json) to fmt; returns the status, message in err. */
static fl_catalog *cat; /* the built-in catalog of the export tests (freed in main) */

static fl_status export_text(const char *text, const char *fmt, fl_error *err, size_t *n_files)
{
    if (!cat)
        assert_int_equal(fl_catalog_open(NULL, &cat, NULL), FL_OK);
    fl_plan_model *m = NULL;
    assert_int_equal(fl_plan_model_from_json(text, &m, NULL), FL_OK);
    fl_export_file *files = NULL;
    size_t n = 0;
    fl_error_clear(err);
    fl_status st = fl_export_plan(m, cat, fmt, NULL, &files, &n, err);
    if (st == FL_OK)
        assert_true(n >= 1 && files[0].text[0]);
    else
        assert_true(n == 0 && files == NULL);
    if (n_files)
        *n_files = n;
    fl_export_files_free(files, n);
    fl_plan_model_free(m);
    return st;
}

/* Edit the JSON of a fixture with jansson and export it. */
static fl_status export_edited(const char *path, const char *fmt, void (*edit)(json_t *), fl_error *err)
{
    char *text = slurp(path);
    json_t *doc = json_loads(text, 0, NULL);
    assert_non_null(doc);
    edit(doc);
    char *s = json_dumps(doc, 0);
    fl_status st = export_text(s, fmt, err, NULL);
    free(s);
    json_decref(doc);
    free(text);
    return st;
}

static json_t *stage(json_t *doc, size_t s)
{
    return json_array_get(json_object_get(json_array_get(json_object_get(json_object_get(doc, "parallelism"),
                                                                         "pipelines"), 0), "stages"), s);
}
static void edit_none(json_t *d) { (void)d; }
static void edit_tp(json_t *d) { json_object_set_new(stage(d, 1), "tp", json_integer(1)); }
static void edit_batch(json_t *d) { json_object_set_new(json_object_get(d, "job"), "global_batch", json_integer(100)); }
static void edit_zero3(json_t *d) { json_object_set_new(json_object_get(d, "parallelism"), "zero_stage", json_integer(3)); }
static void edit_two_zones(json_t *d)
{
    /* stage 1 moves to a second node group in another zone */
    json_t *res = json_object_get(d, "resources");
    json_t *g = json_deep_copy(json_array_get(res, 0));
    json_object_set_new(json_array_get(res, 0), "instances", json_integer(1));
    json_object_set_new(g, "instances", json_integer(1));
    json_object_set_new(g, "zone", json_string("gcp:us-central1-c"));
    json_array_append_new(res, g);
    json_object_set_new(stage(d, 1), "zone", json_string("gcp:us-central1-c"));
}
static void edit_engine(json_t *d) { json_object_set_new(json_object_get(d, "job"), "engine", json_string("sglang")); }

static void expect_refused(fl_status st, const fl_error *err, const char *why)
{
    assert_int_equal(st, FL_EINVAL);
    if (!strstr(err->message, why))
        fail_msg("refusal '%s' does not say '%s'", err->message, why);
}

static void test_export_refusals(void **state)
{
    (void)state;
    fl_error err;
    const char *small = "tests/data/plans/train_small.json";
    /* the unedited plan exports to every training format */
    const char *train_fmts[] = {"skypilot", "kubernetes", "slurm", "megatron"};
    for (size_t i = 0; i < 4; i++)
        assert_int_equal(export_edited(small, train_fmts[i], edit_none, &err), FL_OK);
    expect_refused(export_edited(small, "yaml", edit_none, &err), &err, "unknown export format");
    assert_string_equal(err.field, "format");
    expect_refused(export_edited(small, "vllm", edit_none, &err), &err, "training plan");
    expect_refused(export_edited(small, "megatron", edit_tp, &err), &err, "--tensor-model-parallel-size");
    expect_refused(export_edited(small, "megatron", edit_batch, &err), &err, "global_batch 100");
    expect_refused(export_edited(small, "kubernetes", edit_zero3, &err), &err, "zero_stage 3");
    /* two zones: Megatron and Kubernetes can run it, one Slurm job cannot */
    assert_int_equal(export_edited(small, "megatron", edit_two_zones, &err), FL_OK);
    assert_int_equal(export_edited(small, "kubernetes", edit_two_zones, &err), FL_OK);
    expect_refused(export_edited(small, "slurm", edit_two_zones, &err), &err, "spans zones");
    /* different pipeline templates (tp 4 and tp 8): one Megatron-LM layout cannot run both */
    expect_refused(export_edited("tests/data/plans/train_hetero.json", "megatron", edit_none, &err), &err,
                   "differs from pipelines[0]");
    const char *serve = "tests/data/plans/export/serve_llama3_70b.json";
    assert_int_equal(export_edited(serve, "vllm", edit_none, &err), FL_OK);
    assert_int_equal(export_edited(serve, "kubernetes", edit_none, &err), FL_OK);
    expect_refused(export_edited(serve, "skypilot", edit_none, &err), &err, "whole instance");
    expect_refused(export_edited(serve, "slurm", edit_none, &err), &err, "training jobs");
    expect_refused(export_edited(serve, "vllm", edit_engine, &err), &err, "engine sglang");
    fl_export_file *files = (fl_export_file *)1;
    size_t n = 5;
    assert_int_equal(fl_export_plan(NULL, NULL, "vllm", NULL, &files, &n, &err), FL_EMISUSE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_fixtures),
        cmocka_unit_test(test_roundtrip_example_plans),
        cmocka_unit_test(test_typed_values),
        cmocka_unit_test(test_bad_shapes),
        cmocka_unit_test(test_export_refusals),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    fl_catalog_free(cat);
    return failed;
}
