/* tests/e2e/test_bad_input_cli.c — every kind of bad input, end to end through the CLI, table
 * driven: each case gives the arguments (with inline input files), the exit code (1 bad input,
 * 2 usage, 3 infeasible) and words the one-line message must contain (the offending field, the
 * line number, the closest name). Every failing run must print nothing on stdout, exactly one
 * "flotilla: ..." line on stderr (usage errors: the message and the usage text), leave an
 * existing -o target untouched and not create a new one, and leave catalog files unchanged. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/common/testutil.h"
#include "common/json_util.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_ARGS 16

/* One bad invocation. In args: "@F" and "@G" are temporary files holding `file` and `file2`,
 * "$name" is tests/data/name, "@CAT" the test's catalog file, "@CUR" a valid placed plan,
 * "@JOB" a small training job, "@WJOB" the what-if job. */
typedef struct bad_case {
    int code;                  /* expected exit code */
    const char *needle;        /* stderr must contain it */
    const char *needle2;       /* and this (NULL: nothing more) */
    const char *file, *file2;  /* contents of @F and @G */
    const char *args[MAX_ARGS];
} bad_case;

static char cat_path[256], cur_path[256], job_path[256];

static const char *JOB = "{\"kind\":\"training\",\"model\":\"gpt3-1.3b\",\"global_batch\":64,\"seq_len\":2048,"
                         "\"allow\":{\"gpus\":[\"A100-SXM-40GB\"]}}";

/* The bytes of a file, NUL-terminated (NULL when it cannot be read); binary-safe (catalogs). */
static char *slurp(const char *path, size_t *len)
{
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 65536, n = 0, r;
    char *b = malloc(cap);
    while (b && (r = fread(b + n, 1, cap - n - 1, f)) > 0) {
        n += r;
        if (n + 1 == cap)
            b = realloc(b, cap *= 2);
    }
    fclose(f);
    if (b) {
        b[n] = '\0';
        *len = n;
    }
    return b;
}

static int exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

/* The catalog's tables as the CLI lists them (to compare before/after a failing import). */
static char *listing(const char *cat)
{
    static const char *tables[] = {"offerings", "zones", "measured", "nodes"};
    size_t cap = 1, n = 0;
    char *all = calloc(1, 1);
    for (size_t i = 0; i < sizeof tables / sizeof tables[0]; i++) {
        cli_result r = run_cli(NULL, "profiles", "export", tables[i], "--catalog", cat, NULL);
        assert_int_equal(r.status, 0);
        size_t m = strlen(r.out);
        cap = n + m + 1;
        all = realloc(all, cap);
        memcpy(all + n, r.out, m + 1);
        n += m;
        cli_result_free(&r);
    }
    return all;
}

static void run_case(const bad_case *c, int index)
{
    char f1[256] = "", f2[256] = "", out[256];
    const char *argv[MAX_ARGS + 3];
    int argc = 0, uses_cat = 0, is_import = 0;
    if (c->file)
        snprintf(f1, sizeof f1, "%s", temp_file(1, ".in", c->file));
    if (c->file2)
        snprintf(f2, sizeof f2, "%s", temp_file(2, ".in", c->file2));
    char data[MAX_ARGS][1024];
    for (int i = 0; i < MAX_ARGS && c->args[i]; i++) {
        const char *a = c->args[i];
        if (strcmp(a, "@F") == 0) a = f1;
        else if (strcmp(a, "@G") == 0) a = f2;
        else if (strcmp(a, "@CAT") == 0) { a = cat_path; uses_cat = 1; }
        else if (strcmp(a, "@CUR") == 0) a = cur_path;
        else if (strcmp(a, "@JOB") == 0) a = job_path;
        else if (strcmp(a, "@WJOB") == 0) { snprintf(data[i], sizeof data[i], "%s", test_data("whatif/job_small.json")); a = data[i]; }
        else if (a[0] == '$') { snprintf(data[i], sizeof data[i], "%s", test_data(a + 1)); a = data[i]; }
        argv[argc++] = a;
    }
    is_import = argc >= 2 && strcmp(argv[0], "profiles") == 0 && strcmp(argv[1], "import") == 0;
    /* -o: every other case targets an existing file (must stay untouched), the others a new path
     * (must not be created); usage cases and imports take no -o */
    int with_out = c->code != 2 && !is_import, keep = index % 2 == 0;
    if (with_out) {
        snprintf(out, sizeof out, "%s", keep ? temp_file(3, ".out", "KEEP ME\n") : temp_path(3, ".out"));
        argv[argc++] = "-o";
        argv[argc++] = out;
    }
    while (argc < MAX_ARGS + 2)
        argv[argc++] = NULL;
    size_t before_len = 0, after_len = 0;
    char *before = uses_cat ? slurp(cat_path, &before_len) : NULL;

    cli_result r = run_cli(NULL, argv[0], argv[1], argv[2], argv[3], argv[4], argv[5], argv[6], argv[7], argv[8],
                           argv[9], argv[10], argv[11], argv[12], argv[13], argv[14], argv[15], argv[16], argv[17]);
    char label[512];
    snprintf(label, sizeof label, "case %d (%s %s %s)", index, argv[0] ? argv[0] : "", argv[0] && argv[1] ? argv[1] : "",
             argv[0] && argv[1] && argv[2] ? argv[2] : "");
    if (r.status != c->code || !strstr(r.err, c->needle) || (c->needle2 && !strstr(r.err, c->needle2)))
        fail_msg("%s: exit %d (expected %d), stderr:\n%s(expected '%s'%s%s)", label, r.status, c->code, r.err,
                 c->needle, c->needle2 ? " and " : "", c->needle2 ? c->needle2 : "");
    if (r.out[0])
        fail_msg("%s: printed on stdout: %.200s", label, r.out);
    if (c->code == 2) {
        if (!strstr(r.err, "usage:"))
            fail_msg("%s: usage error without the usage text: %s", label, r.err);
    } else {
        const char *nl = strchr(r.err, '\n');
        if (strncmp(r.err, "flotilla: ", 10) != 0 || !nl || nl[1] != '\0')
            fail_msg("%s: expected exactly one 'flotilla: ...' line on stderr, got:\n%s", label, r.err);
    }
    if (with_out) {
        if (keep) {
            size_t n;
            char *t = slurp(out, &n);
            if (!t || strcmp(t, "KEEP ME\n") != 0)
                fail_msg("%s: -o target changed on a failing run", label);
            free(t);
        } else if (exists(out)) {
            fail_msg("%s: -o target created on a failing run", label);
        }
        unlink(out);
    }
    if (uses_cat) {
        char *after = slurp(cat_path, &after_len);
        if (!before || !after || before_len != after_len || memcmp(before, after, before_len) != 0)
            fail_msg("%s: the catalog file changed", label);
        free(after);
    }
    free(before);
    cli_result_free(&r);
    if (f1[0]) unlink(f1);
    if (f2[0]) unlink(f2);
}

static void run_table(const bad_case *cases, size_t n)
{
    for (size_t i = 0; i < n; i++)
        run_case(&cases[i], (int)i);
}

#define RUN(t) run_table(t, sizeof t / sizeof t[0])

/* Malformed or truncated JSON, unknown names (with the closest name), absurd numbers. */
static void test_foundation(void **state)
{
    (void)state;
    static const bad_case t[] = {
        {1, "job: malformed JSON at line 1", NULL, "{\"kind\":\"training\",\"model\":\"gpt3-1.3b\",\"global_b", NULL,
         {"plan", "@F"}},
        {1, "job: malformed JSON", NULL, "{\"kind\":\"training\",,}", NULL, {"plan", "@F"}},
        {1, "job: malformed JSON", NULL, "", NULL, {"plan", "@F"}},
        {1, "job: expected a JSON object", NULL, "[1, 2]", NULL, {"plan", "@F"}},
        {1, "cannot read job", "/nonexistent/job.json", NULL, NULL, {"plan", "/nonexistent/job.json"}},
        {1, "availability: malformed JSON", NULL, "{\"zones\": {\"gcp:us-central1-a\": {\"A100-SXM-40GB\": 16", NULL,
         {"plan", "@JOB", "--availability", "@F"}},
        {1, "plan: malformed JSON at line", NULL, "{\"kind\": \"training\", \"model\": \"gpt3-1.3b\", \"paral", NULL,
         {"simulate", "@F"}},
        {1, "nodes: malformed JSON", NULL, "{\"nodes\": [{\"id\": \"a\", \"zone\": \"gcp:us-central1-a\"", NULL,
         {"place", "$plans/place_small.json", "--nodes", "@F"}},
        {1, "job.model: unknown model 'gpt3-13x'", "closest: gpt3-13b",
         "{\"kind\":\"training\",\"model\":\"gpt3-13x\",\"global_batch\":64}", NULL, {"plan", "@F"}},
        {1, "job.allow.gpus[0]: unknown gpu 'H1OO'", "closest: H100-SXM-80GB",
         "{\"kind\":\"training\",\"model\":\"gpt3-1.3b\",\"global_batch\":64,\"allow\":{\"gpus\":[\"H1OO\"]}}", NULL,
         {"plan", "@F"}},
        {1, "job.allow.zones[0]: unknown zone", "closest: gcp:us-central1-a",
         "{\"kind\":\"training\",\"model\":\"gpt3-1.3b\",\"global_batch\":64,\"allow\":{\"zones\":[\"gcp:us-centrl1-a\"]}}",
         NULL, {"plan", "@F"}},
        {1, "job.allow.prefer_regions[0]: \"mars-1\" names no zone", NULL,
         "{\"kind\":\"training\",\"model\":\"gpt3-1.3b\",\"global_batch\":64,\"allow\":{\"prefer_regions\":[\"mars-1\"]}}",
         NULL, {"plan", "@F"}},
        {1, "job.allow.prefer_regions: expected a non-empty array", NULL,
         "{\"kind\":\"training\",\"model\":\"gpt3-1.3b\",\"global_batch\":64,\"allow\":{\"prefer_regions\":[]}}",
         NULL, {"plan", "@F"}},
        {1, "job.allow.prefer_regions[1]: expected a name", NULL,
         "{\"kind\":\"training\",\"model\":\"gpt3-1.3b\",\"global_batch\":64,\"allow\":{\"prefer_regions\":[\"na\",3]}}",
         NULL, {"plan", "@F"}},
        {1, "zones.gcp:us-centrl1-a: unknown zone", "closest: gcp:us-central1-a",
         "{\"zones\": {\"gcp:us-centrl1-a\": {\"A100-SXM-40GB\": 16}}}", NULL, {"plan", "@JOB", "--availability", "@F"}},
        {1, "zones.gcp:us-central1-a.A100-SXM-4GB: unknown gpu", "closest: A100-SXM-40GB",
         "{\"zones\": {\"gcp:us-central1-a\": {\"A100-SXM-4GB\": 16}}}", NULL, {"plan", "@JOB", "--availability", "@F"}},
        {1, "zones.gcp:us-central1-a.A100-SXM-40GB", "-16", "{\"zones\": {\"gcp:us-central1-a\": {\"A100-SXM-40GB\": -16}}}",
         NULL, {"plan", "@JOB", "--availability", "@F"}},
        {1, "zones.gcp:us-central1-a.A100-SXM-40GB", "1e+12",
         "{\"zones\": {\"gcp:us-central1-a\": {\"A100-SXM-40GB\": 1e12}}}", NULL, {"plan", "@JOB", "--availability", "@F"}},
        /* owned capacity (a GPU the zone does not sell): refused without price and node size */
        {1, "zones.gcp:us-central1-a.GH200: zone gcp:us-central1-a does not sell GH200-96GB", "\"price_per_gpu_hour\"",
         "{\"zones\": {\"gcp:us-central1-a\": {\"GH200\": 16}}}", NULL, {"plan", "@JOB", "--availability", "@F"}},
        {1, "zones.gcp:us-central1-a.GH200.price_per_gpu_hour: missing", NULL,
         "{\"zones\": {\"gcp:us-central1-a\": {\"GH200\": {\"count\": 16, \"gpus_per_node\": 1}}}}", NULL, {"plan", "@JOB", "--availability", "@F"}},
        {1, "zones.gcp:us-central1-a.GH200.gpus_per_node: missing", NULL,
         "{\"zones\": {\"gcp:us-central1-a\": {\"GH200\": {\"count\": 16, \"price_per_gpu_hour\": 2}}}}", NULL, {"plan", "@JOB", "--availability", "@F"}},
        {1, "zones.gcp:us-central1-a.GH200.price_per_gpu_hour", "got -1",
         "{\"zones\": {\"gcp:us-central1-a\": {\"GH200\": {\"count\": 16, \"price_per_gpu_hour\": -1, \"gpus_per_node\": 1}}}}", NULL, {"plan", "@JOB", "--availability", "@F"}},
        {1, "zones.gcp:us-central1-a.GH200.price_per_gpu_hour: expected a number", NULL,
         "{\"zones\": {\"gcp:us-central1-a\": {\"GH200\": {\"count\": 16, \"price_per_gpu_hour\": \"3\", \"gpus_per_node\": 1}}}}", NULL, {"plan", "@JOB", "--availability", "@F"}},
        {1, "zones.gcp:us-central1-a.GH200.gpus_per_node", "got 0",
         "{\"zones\": {\"gcp:us-central1-a\": {\"GH200\": {\"count\": 16, \"price_per_gpu_hour\": 1, \"gpus_per_node\": 0}}}}", NULL, {"plan", "@JOB", "--availability", "@F"}},
        {1, "zones.gcp:us-central1-a.GH200.gpus_per_node", "got 17",
         "{\"zones\": {\"gcp:us-central1-a\": {\"GH200\": {\"count\": 16, \"price_per_gpu_hour\": 1, \"gpus_per_node\": 17}}}}", NULL, {"plan", "@JOB", "--availability", "@F"}},
        {1, "zones.gcp:us-central1-a.GH200.count: 12 GPUs is not a whole number of 8-GPU nodes", NULL,
         "{\"zones\": {\"gcp:us-central1-a\": {\"GH200\": {\"count\": 12, \"price_per_gpu_hour\": 1, \"gpus_per_node\": 8}}}}", NULL, {"plan", "@JOB", "--availability", "@F"}},
        {1, "zones.gcp:us-central1-a.GH200.count: missing", NULL,
         "{\"zones\": {\"gcp:us-central1-a\": {\"GH200\": {\"price_per_gpu_hour\": 1, \"gpus_per_node\": 8}}}}", NULL, {"plan", "@JOB", "--availability", "@F"}},
        {1, "zones.gcp:us-central1-a.GH200.count: count must be between 0 and 1e8", "got -8",
         "{\"zones\": {\"gcp:us-central1-a\": {\"GH200\": {\"count\": -8, \"price_per_gpu_hour\": 1, \"gpus_per_node\": 8}}}}", NULL, {"plan", "@JOB", "--availability", "@F"}},
        {1, "zones.gcp:us-central1-a.GH200.price: unknown field", NULL,
         "{\"zones\": {\"gcp:us-central1-a\": {\"GH200\": {\"count\": 8, \"price\": 1, \"gpus_per_node\": 8}}}}", NULL, {"plan", "@JOB", "--availability", "@F"}},
        {2, "--price-per-gpu-hour '-2': give a non-negative number", NULL, NULL, NULL,
         {"profiles", "import", "--catalog", "@CAT", "--nvidia-smi", "$nvidia-smi-q-x.h100-sxm-80gb.xml",
          "--price-per-gpu-hour", "-2"}},
        {2, "--price-per-gpu-hour go with --nvidia-smi", NULL, NULL, NULL,
         {"profiles", "import", "--catalog", "@CAT", "--gpus", "$nvidia-smi-q-x.h100-sxm-80gb.xml",
          "--price-per-gpu-hour", "1"}},
        {1, "job.global_batch", "0", "{\"kind\":\"training\",\"model\":\"gpt3-1.3b\",\"global_batch\":0}", NULL,
         {"plan", "@F"}},
        {1, "job.global_batch", "-64", "{\"kind\":\"training\",\"model\":\"gpt3-1.3b\",\"global_batch\":-64}", NULL,
         {"plan", "@F"}},
        {1, "job.global_batch", "integer", "{\"kind\":\"training\",\"model\":\"gpt3-1.3b\",\"global_batch\":\"64\"}", NULL,
         {"plan", "@F"}},
        {1, "job.seq_len", NULL, "{\"kind\":\"training\",\"model\":\"gpt3-1.3b\",\"global_batch\":64,\"seq_len\":0}", NULL,
         {"plan", "@F"}},
        {1, "job.seq_len", "99999999999",
         "{\"kind\":\"training\",\"model\":\"gpt3-1.3b\",\"global_batch\":64,\"seq_len\":99999999999}", NULL,
         {"plan", "@F"}},
        {1, "job.budget_per_hour", NULL,
         "{\"kind\":\"training\",\"model\":\"gpt3-1.3b\",\"global_batch\":64,\"budget_per_hour\":-1}", NULL,
         {"plan", "@F"}},
        {1, "job.budget_per_hour", "positive",
         "{\"kind\":\"training\",\"model\":\"gpt3-1.3b\",\"global_batch\":64,\"budget_per_hour\":0}", NULL,
         {"plan", "@F"}},
        {1, "job.max_gpus", NULL, "{\"kind\":\"training\",\"model\":\"gpt3-1.3b\",\"global_batch\":64,\"max_gpus\":-3}",
         NULL, {"plan", "@F"}},
        /* cost caps and communication options (issue 13) */
        {1, "job.max_cost_per_iteration", "positive",
         "{\"kind\":\"training\",\"model\":\"gpt3-1.3b\",\"global_batch\":64,\"max_cost_per_iteration\":0}", NULL,
         {"plan", "@F"}},
        {1, "job.max_cost_per_iteration", "positive",
         "{\"kind\":\"training\",\"model\":\"gpt3-1.3b\",\"global_batch\":64,\"max_cost_per_iteration\":-0.5}", NULL,
         {"plan", "@F"}},
        {1, "job.max_cost_per_million_tokens", "positive",
         "{\"kind\":\"training\",\"model\":\"gpt3-1.3b\",\"global_batch\":64,\"max_cost_per_million_tokens\":0}",
         NULL, {"plan", "@F"}},
        {1, "job.max_cost_per_million_tokens", "positive",
         "{\"kind\":\"training\",\"model\":\"gpt3-1.3b\",\"global_batch\":64,\"max_cost_per_million_tokens\":-1}",
         NULL, {"plan", "@F"}},
        {1, "job.overlap_grad_reduce", NULL,
         "{\"kind\":\"training\",\"model\":\"gpt3-1.3b\",\"global_batch\":64,\"overlap_grad_reduce\":\"yes\"}", NULL,
         {"plan", "@F"}},
        {1, "job.allreduce_algorithm", "fastest",
         "{\"kind\":\"training\",\"model\":\"gpt3-1.3b\",\"global_batch\":64,\"allreduce_algorithm\":\"fastest\"}",
         NULL, {"plan", "@F"}},
        {1, "job.objective", "min_cost_per_token",
         "{\"kind\":\"serving\",\"model\":\"llama3-8b\",\"objective\":\"min_cost_per_token\","
         "\"workload\":{\"rate_rps\":1}}", NULL, {"plan", "@F"}},
        {1, "job.dropout: 1.5 is out of range [0, 0.99]", NULL,
         "{\"kind\":\"training\",\"model\":\"gpt3-1.3b\",\"global_batch\":64,\"dropout\":1.5}", NULL, {"plan", "@F"}},
        {1, "job.kind", "training, serving", "{\"kind\":\"trainin\",\"model\":\"gpt3-1.3b\",\"global_batch\":64}", NULL,
         {"plan", "@F"}},
        {1, "job.model.heads", NULL,
         "{\"kind\":\"training\",\"model\":{\"name\":\"x\",\"layers\":24,\"hidden\":2048,\"heads\":-16,\"vocab\":50304},"
         "\"global_batch\":8}", NULL, {"plan", "@F"}},
        {1, "pp: 64 exceeds the 32 layers of llama3-8b", NULL, NULL, NULL,
         {"estimate", "--gpu", "H100-SXM-80GB", "--model", "llama3-8b", "--phase", "decode", "--pp", "64"}},
        {1, "unknown gpu 'h1000'", "closest: H100-SXM-80GB", NULL, NULL,
         {"estimate", "--gpu", "h1000", "--model", "gpt3-1.3b", "--phase", "train"}},
        {1, "unknown model 'llama3-8x'", "closest: llama3-8b", NULL, NULL,
         {"estimate", "--gpu", "H100-SXM-80GB", "--model", "llama3-8x", "--phase", "decode"}},
        {1, "'lama3-8b' is not a GPU, model or zone", "llama3-8b", NULL, NULL, {"profiles", "show", "lama3-8b"}},
    };
    RUN(t);
}

/* Catalog files that are not flotilla's: a text file, another SQLite database, a truncated
 * catalog, a directory; none of them is changed. */
static void test_catalog_files(void **state)
{
    (void)state;
    /* another application's SQLite database */
    char other[256];
    snprintf(other, sizeof other, "%s", temp_path(5, ".db"));
    sqlite3 *db;
    assert_int_equal(sqlite3_open(other, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "CREATE TABLE songs(title TEXT); INSERT INTO songs VALUES('x');", NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    /* a flotilla catalog cut to its first 64 KiB */
    char trunc[256];
    snprintf(trunc, sizeof trunc, "%s", temp_path(6, ".sqlite"));
    size_t n;
    char *full = slurp(cat_path, &n);
    assert_true(n > 65536);
    FILE *f = fopen(trunc, "wb");
    assert_non_null(f);
    fwrite(full, 1, 65536, f);
    fclose(f);
    free(full);
    const char *text = temp_file(7, ".sqlite", "definitely not an SQLite catalog\n");
    const char *paths[] = {other, trunc, text};
    const char *words[] = {"an SQLite database of something else", "corrupt", "not SQLite"};
    for (int i = 0; i < 3; i++) {
        size_t l0 = 0, l1 = 0;
        char *b0 = slurp(paths[i], &l0);
        const bad_case t[] = {
            {1, paths[i], words[i], NULL, NULL, {"profiles", "list", "gpus", "--catalog", paths[i]}},
            {1, "not a flotilla catalog", NULL, JOB, NULL, {"plan", "@F", "--catalog", paths[i]}},
            {1, "not a flotilla catalog", NULL, NULL, NULL,
             {"profiles", "import", "--catalog", paths[i], "--measured", "$h100-sxm-80gb.layers.jsonl"}},
        };
        RUN(t);
        char *b1 = slurp(paths[i], &l1);
        if (l0 != l1 || memcmp(b0, b1, l0) != 0)
            fail_msg("%s changed", paths[i]);
        free(b0);
        free(b1);
        unlink(paths[i]);
    }
    const bad_case t[] = {
        {1, "not a regular file", NULL, NULL, NULL, {"profiles", "list", "gpus", "--catalog", "/tmp"}},
    };
    RUN(t);
}

/* Imports: truncated or invalid files reject the whole file (line number), the catalog is
 * unchanged (its bytes after each case, its listing after all); a failed or mistyped import does not create a new catalog. */
static void test_imports(void **state)
{
    (void)state;
    char *before = listing(cat_path);
    static const bad_case t[] = {
        {1, "offerings-truncated.csv line 5", "the header has 10", NULL, NULL,
         {"profiles", "import", "--catalog", "@CAT", "--offerings", "$bad/offerings-truncated.csv"}},
        {1, "offerings-negative-price.csv line 3 column Price", "negative", NULL, NULL,
         {"profiles", "import", "--catalog", "@CAT", "--offerings", "$bad/offerings-negative-price.csv"}},
        {1, "line 2 column AcceleratorCount", "-8",
         "InstanceType,AcceleratorName,AcceleratorCount,vCPUs,MemoryGiB,Price,SpotPrice,Region,AvailabilityZone\n"
         "p4d.24xlarge,A100,-8,96,1152,32.77,,us-east-1,use1-az1\n", NULL,
         {"profiles", "import", "--catalog", "@CAT", "--offerings", "@F", "--cloud", "aws"}},
        {1, "unterminated quoted field", NULL,
         "InstanceType,AcceleratorName,AcceleratorCount,vCPUs,MemoryGiB,Price,SpotPrice,Region,AvailabilityZone\n"
         "p4d.24xlarge,A100,8,96,1152,32.77,\"12.3", NULL,
         {"profiles", "import", "--catalog", "@CAT", "--offerings", "@F", "--cloud", "aws"}},
        {1, "nvidia-smi-truncated.xml line", "not a valid nvidia-smi", NULL, NULL,
         {"profiles", "import", "--catalog", "@CAT", "--nvidia-smi", "$bad/nvidia-smi-truncated.xml"}},
        {1, "not a valid nvidia-smi", NULL, "this is not XML\n", NULL,
         {"profiles", "import", "--catalog", "@CAT", "--nvidia-smi", "@F"}},
        {1, "'NVIDIA Q900 80GB HBM3' is not in the catalog", "closest: H100-SXM-80GB", NULL, NULL,
         {"profiles", "import", "--catalog", "@CAT", "--nvidia-smi", "$bad/nvidia-smi-unknown-product.xml"}},
        {1, "nvidia-smi-mixed.xml line 12", "one GPU type", NULL, NULL,
         {"profiles", "import", "--catalog", "@CAT", "--nvidia-smi", "$bad/nvidia-smi-mixed.xml"}},
        {1, "framework", "jax", NULL, NULL, {"profiles", "calibrate", "--framework", "jax"}},
        {1, "gpu", "tpu-v5", NULL, NULL, {"profiles", "calibrate", "--gpu", "tpu-v5"}},
        {2, "--framework needs a value", NULL, NULL, NULL, {"profiles", "calibrate", "--framework"}},
        {1, "engine", "nope", NULL, NULL, {"profiles", "calibrate", "--engine", "nope"}},
        {2, "unexpected argument 'extra'", NULL, NULL, NULL, {"profiles", "calibrate", "extra"}},
        {1, "framework", "jax", NULL, NULL,
         {"estimate", "--gpu", "h100", "--model", "gpt3-1.3b", "--phase", "train", "--framework", "jax"}},
        {1, "job.framework", "jax", "{\"kind\":\"training\",\"model\":\"gpt3-1.3b\",\"global_batch\":64,"
         "\"framework\":\"jax\"}", NULL, {"plan", "@F"}},
        {1, "job.optimizer_impl", "turbo", "{\"kind\":\"training\",\"model\":\"gpt3-1.3b\",\"global_batch\":64,"
         "\"optimizer_impl\":\"turbo\"}", NULL, {"plan", "@F"}},
        {1, "job.precision.compute", "tf32", "{\"kind\":\"serving\",\"model\":\"llama3-8b\",\"precision\":"
         "{\"compute\":\"tf32\"},\"workload\":{\"rate_rps\":1,\"classes\":[{\"input\":512,\"output\":128,"
         "\"share\":1}]}}", NULL, {"plan", "@F"}},
        {1, "line 1", "framework", "{\"kind\":\"train_iter\",\"gpu\":\"h100\",\"model\":\"g\",\"layers\":2,"
         "\"h\":64,\"a\":4,\"s\":128,\"b\":1,\"vocab\":100,\"grad_accum\":1,\"iter_s\":1,\"framework\":\"jax\"}\n",
         NULL, {"profiles", "import", "--catalog", "@CAT", "--measured", "@F"}},
        {1, "iter_s", "positive", "{\"kind\":\"train_iter\",\"gpu\":\"h100\",\"model\":\"g\",\"layers\":2,"
         "\"h\":64,\"a\":4,\"s\":128,\"b\":1,\"vocab\":100,\"grad_accum\":1,\"framework\":\"megatron\","
         "\"iter_s\":-0.5}\n",
         NULL, {"profiles", "import", "--catalog", "@CAT", "--measured", "@F"}},
        {1, "measured-truncated.jsonl line 3", "malformed JSON", NULL, NULL,
         {"profiles", "import", "--catalog", "@CAT", "--measured", "$bad/measured-truncated.jsonl"}},
        {1, "line 2: gpu: unknown gpu 'TPU v5e'", "closest:",
         "{\"kind\": \"env\", \"gpu\": \"h100\"}\n{\"kind\": \"gemm\", \"m\": 1, \"n\": 2, \"k\": 3, \"seconds\": 0.1, "
         "\"gpu\": \"TPU v5e\"}\n", NULL, {"profiles", "import", "--catalog", "@CAT", "--measured", "@F"}},
        {1, "onprem:bad site", NULL, NULL, NULL,
         {"profiles", "import", "--catalog", "@CAT", "--nvidia-smi", "$nvidia-smi-q-x.h100-sxm-80gb.xml", "--zone",
          "onprem:bad site"}},
        {2, "unknown import option '--bogus'", NULL, NULL, NULL,
         {"profiles", "import", "--catalog", "@CAT", "--bogus", "x"}},
        {2, "-o does not apply to import", NULL, NULL, NULL,
         {"profiles", "import", "--catalog", "@CAT", "--measured", "$h100-sxm-80gb.layers.jsonl", "-o", "/tmp/x"}},
    };
    RUN(t);
    char *after = listing(cat_path);
    assert_string_equal(before, after);
    free(before);
    free(after);
    /* a catalog path that does not exist yet is only created by a successful import */
    char fresh[256];
    snprintf(fresh, sizeof fresh, "%s", temp_path(5, ".sqlite"));
    const bad_case t2[] = {
        {2, "--measured needs a value", NULL, NULL, NULL, {"profiles", "import", "--catalog", fresh, "--measured"}},
        {1, "measured-truncated.jsonl line 3", NULL, NULL, NULL,
         {"profiles", "import", "--catalog", fresh, "--measured", "$bad/measured-truncated.jsonl"}},
        {1, "one GPU type", NULL, NULL, NULL,
         {"profiles", "import", "--catalog", fresh, "--nvidia-smi", "$bad/nvidia-smi-mixed.xml"}},
    };
    RUN(t2);
    assert_false(exists(fresh));
}

/* `flotilla simulate` on hand-written training plans (gaps, overlaps, tp not dividing the heads,
 * unknown GPU and zone are fixtures of test_sim_cli.c; these are the rest). */
#define PLAN_HEAD "{\"kind\":\"training\",\"model\":\"gpt3-1.3b\",\"job\":{\"global_batch\":64,\"seq_len\":2048},"
#define RES_A "\"resources\":[{\"zone\":\"gcp:us-central1-a\",\"gpu\":\"A100-SXM-40GB\",\"gpus_per_instance\":8," \
              "\"instances\":2,\"price_per_hour\":29.39}],"
#define STAGE(first, last, tp) "{\"layers\":[" #first "," #last "],\"gpu\":\"A100-SXM-40GB\",\"zone\":\"gcp:us-central1-a\",\"tp\":" #tp "}"

static void test_simulate(void **state)
{
    (void)state;
    static const bad_case t[] = {
        {1, "plan.job.dropout: 2 is out of range [0, 0.99]", NULL,
         "{\"kind\":\"training\",\"model\":\"gpt3-1.3b\",\"job\":{\"global_batch\":64,\"dropout\":2}," RES_A
         "\"parallelism\":{\"micro_batch\":2,\"pipelines\":[{\"replicas\":4,\"micro_batches\":8,"
         "\"stages\":[" STAGE(0, 24, 2) "]}]}}", NULL, {"simulate", "@F"}},
        {1, "plan.job.allreduce_algorithm", "butterfly",
         "{\"kind\":\"training\",\"model\":\"gpt3-1.3b\",\"job\":{\"global_batch\":64,\"allreduce_algorithm\":"
         "\"butterfly\"}," RES_A "\"parallelism\":{\"micro_batch\":2,\"pipelines\":[{\"replicas\":4,\"micro_batches\":8,"
         "\"stages\":[" STAGE(0, 24, 2) "]}]}}", NULL, {"simulate", "@F"}},
        {1, "plan.job.overlap_grad_reduce", NULL,
         "{\"kind\":\"training\",\"model\":\"gpt3-1.3b\",\"job\":{\"global_batch\":64,\"overlap_grad_reduce\":1},"
         RES_A "\"parallelism\":{\"micro_batch\":2,\"pipelines\":[{\"replicas\":4,\"micro_batches\":8,"
         "\"stages\":[" STAGE(0, 24, 2) "]}]}}", NULL, {"simulate", "@F"}},
        {1, "plan.parallelism.pipelines[0].micro_batches: must be positive", NULL,
         PLAN_HEAD RES_A "\"parallelism\":{\"micro_batch\":2,\"pipelines\":[{\"replicas\":4,\"micro_batches\":0,"
         "\"stages\":[" STAGE(0, 24, 2) "]}]}}", NULL, {"simulate", "@F"}},
        {1, "plan.parallelism.pipelines[0].replicas: must be positive", "-4",
         PLAN_HEAD RES_A "\"parallelism\":{\"micro_batch\":2,\"pipelines\":[{\"replicas\":-4,\"micro_batches\":8,"
         "\"stages\":[" STAGE(0, 24, 2) "]}]}}", NULL, {"simulate", "@F"}},
        {1, "plan.parallelism.micro_batch: must be positive", NULL,
         PLAN_HEAD RES_A "\"parallelism\":{\"micro_batch\":-2,\"pipelines\":[{\"replicas\":4,\"micro_batches\":8,"
         "\"stages\":[" STAGE(0, 24, 2) "]}]}}", NULL, {"simulate", "@F"}},
        {1, "plan.parallelism.pipelines[0].stages[0].tp: must be positive", NULL,
         PLAN_HEAD RES_A "\"parallelism\":{\"micro_batch\":2,\"pipelines\":[{\"replicas\":4,\"micro_batches\":8,"
         "\"stages\":[" STAGE(0, 24, 0) "]}]}}", NULL, {"simulate", "@F"}},
        {1, "plan.parallelism.pipelines[0].stages[0].tp", "1099511627776",
         PLAN_HEAD RES_A "\"parallelism\":{\"micro_batch\":2,\"pipelines\":[{\"replicas\":4,\"micro_batches\":8,"
         "\"stages\":[" STAGE(0, 24, 1099511627776) "]}]}}", NULL, {"simulate", "@F"}},
        {1, "plan.parallelism.pipelines[0].stages[1].layers", "overlapping",
         PLAN_HEAD RES_A "\"parallelism\":{\"micro_batch\":2,\"pipelines\":[{\"replicas\":4,\"micro_batches\":8,"
         "\"stages\":[" STAGE(0, 13, 2) "," STAGE(12, 24, 2) "]}]}}", NULL, {"simulate", "@F"}},
        {1, "plan.parallelism.pipelines[0].stages[1].layers", "gap",
         PLAN_HEAD RES_A "\"parallelism\":{\"micro_batch\":2,\"pipelines\":[{\"replicas\":4,\"micro_batches\":8,"
         "\"stages\":[" STAGE(0, 12, 2) "," STAGE(12, 20, 2) "]}]}}", NULL, {"simulate", "@F"}},
        {1, "plan.parallelism.pipelines[0].stages[0].layers", "inside [0, 24)",
         PLAN_HEAD RES_A "\"parallelism\":{\"micro_batch\":2,\"pipelines\":[{\"replicas\":4,\"micro_batches\":8,"
         "\"stages\":[" STAGE(0, 99, 2) "]}]}}", NULL, {"simulate", "@F"}},
        {1, "plan.parallelism.pipelines[0].stages[0].tp", "does not divide",
         PLAN_HEAD RES_A "\"parallelism\":{\"micro_batch\":2,\"pipelines\":[{\"replicas\":4,\"micro_batches\":8,"
         "\"stages\":[" STAGE(0, 24, 3) "]}]}}", NULL, {"simulate", "@F"}},
        {1, "plan.parallelism.chunks", "holds only 12 layers",
         PLAN_HEAD RES_A "\"parallelism\":{\"micro_batch\":2,\"schedule\":\"interleaved\",\"chunks\":16,"
         "\"pipelines\":[{\"replicas\":4,\"micro_batches\":8,\"stages\":[" STAGE(0, 12, 2) "," STAGE(12, 24, 2) "]}]}}",
         NULL, {"simulate", "@F"}},
        {1, "plan.resources", "the stages use 32 A100-SXM-40GB in gcp:us-central1-a",
         PLAN_HEAD RES_A "\"parallelism\":{\"micro_batch\":2,\"pipelines\":[{\"replicas\":4,\"micro_batches\":8,"
         "\"stages\":[" STAGE(0, 12, 4) "," STAGE(12, 24, 4) "]}]}}", NULL, {"simulate", "@F"}},
        {1, "plan.parallelism.pipelines[0].stages[0]", "rents no A100-SXM-40GB there", NULL, NULL,
         {"simulate", "$bad/train-resources-missing.json"}},
        {1, "plan.parallelism.pipelines[0].stages[0]", "rents no",
         PLAN_HEAD "\"resources\":[],\"parallelism\":{\"micro_batch\":2,\"pipelines\":[{\"replicas\":4,"
         "\"micro_batches\":8,\"stages\":[" STAGE(0, 24, 2) "]}]}}", NULL, {"simulate", "@F"}},
        {1, "plan.resources[0].instances: must be positive", NULL,
         PLAN_HEAD "\"resources\":[{\"zone\":\"gcp:us-central1-a\",\"gpu\":\"A100-SXM-40GB\",\"instances\":-1}],"
         "\"parallelism\":{\"micro_batch\":2,\"pipelines\":[{\"replicas\":4,\"micro_batches\":8,\"stages\":["
         STAGE(0, 24, 2) "]}]}}", NULL, {"simulate", "@F"}},
        {1, "plan.resources[0].price_per_hour", "-3",
         PLAN_HEAD "\"resources\":[{\"zone\":\"gcp:us-central1-a\",\"gpu\":\"A100-SXM-40GB\",\"price_per_hour\":-3}],"
         "\"parallelism\":{\"micro_batch\":2,\"pipelines\":[{\"replicas\":4,\"micro_batches\":8,\"stages\":["
         STAGE(0, 24, 2) "]}]}}", NULL, {"simulate", "@F"}},
        {1, "plan.parallelism: missing", NULL, PLAN_HEAD RES_A "\"x\":1}", NULL, {"simulate", "@F"}},
    };
    RUN(t);
}

/* `flotilla plan` when no plan is possible (exit 3, naming what binds) or the job is wrong. */
static void test_plan(void **state)
{
    (void)state;
    static const bad_case t[] = {
        {3, "job.budget_per_hour $0.50/h is below the cheapest feasible plan $", NULL,
         "{\"kind\":\"training\",\"model\":\"gpt3-1.3b\",\"global_batch\":64,\"budget_per_hour\":0.5,"
         "\"allow\":{\"gpus\":[\"A100-SXM-40GB\"]}}", NULL, {"plan", "@F"}},
        {3, "job.max_cost_per_iteration: $1e-06 per iteration", "below the cheapest feasible plan",
         "{\"kind\":\"training\",\"model\":\"gpt3-1.3b\",\"global_batch\":64,\"max_cost_per_iteration\":1e-6,"
         "\"allow\":{\"gpus\":[\"A100-SXM-40GB\"]}}", NULL, {"plan", "@F"}},
        {1, "job.budget_per_hr: unknown field (did you mean budget_per_hour?)", NULL,
         "{\"kind\":\"training\",\"model\":\"gpt3-1.3b\",\"global_batch\":64,\"budget_per_hr\":5}", NULL, {"plan", "@F"}},
        {1, "job.allow.gpu: unknown field (did you mean gpus?)", NULL,
         "{\"kind\":\"training\",\"model\":\"gpt3-1.3b\",\"global_batch\":64,\"allow\":{\"gpu\":[\"A100-SXM-40GB\"]}}",
         NULL, {"plan", "@F"}},
        {1, "zones.gcp:us-central1-a.GH200-96GB: owned capacity", "training jobs only",
         "{\"kind\":\"serving\",\"model\":\"llama3-8b\",\"workload\":{\"rate_rps\":1,\"classes\":[{\"input\":10,"
         "\"output\":10}]}}",
         "{\"zones\": {\"gcp:us-central1-a\": {\"GH200\": {\"count\": 8, \"price_per_gpu_hour\": 1, \"gpus_per_node\": 8}}}}",
         {"plan", "@F", "--availability", "@G"}},
        {1, "job.workload.classes[0].outptu: unknown field (did you mean output?)", NULL,
         "{\"kind\":\"serving\",\"model\":\"llama3-8b\",\"workload\":{\"rate_rps\":1,\"classes\":[{\"input\":10,"
         "\"outptu\":10}]}}", NULL, {"plan", "@F"}},
        {1, "job.models[0].slo.ttft_p99_s: unknown field (did you mean ttft_p90_s?)", NULL,
         "{\"kind\":\"serving\",\"models\":[{\"model\":\"llama3-8b\",\"workload\":{\"rate_rps\":1,\"classes\":[{\"input\":10,"
         "\"output\":10}]},\"slo\":{\"ttft_p99_s\":1}}]}", NULL, {"plan", "@F"}},
        {1, "availability.zones: empty", NULL, "{\"zones\": {}}", NULL, {"plan", "@JOB", "--availability", "@F"}},
        {3, "no allowed GPU is available", NULL, "{\"zones\": {\"gcp:us-central1-a\": {\"A100-SXM-40GB\": 0}}}", NULL,
         {"plan", "@JOB", "--availability", "@F"}},
        {1, "job.global_batch: 9 is not divisible by any micro-batch choice (2, 4)", NULL,
         "{\"kind\":\"training\",\"model\":\"gpt3-1.3b\",\"global_batch\":9,\"micro_batch\":[2,4]}", NULL,
         {"plan", "@F"}},
        {1, "job.micro_batch[0]", NULL, "{\"kind\":\"training\",\"model\":\"gpt3-1.3b\",\"global_batch\":8,\"micro_batch\":[0]}",
         NULL, {"plan", "@F"}},
        {3, "gpt3-175b needs >= 64 A100-SXM-80GB", "8 available",
         "{\"kind\":\"training\",\"model\":\"gpt3-175b\",\"global_batch\":64,\"allow\":{\"gpus\":[\"A100-SXM-80GB\"]}}",
         "{\"zones\": {\"gcp:us-central1-a\": {\"A100-SXM-80GB\": 8}}}", {"plan", "@F", "--availability", "@G"}},
        {3, "does not fit on any allowed GPU", "T4-16GB",
         "{\"kind\":\"training\",\"model\":\"gpt3-175b\",\"global_batch\":64,\"allow\":{\"gpus\":[\"T4-16GB\"]}}", NULL,
         {"plan", "@F"}},
        {1, "current: malformed JSON", NULL, "{\"kind\":", NULL, {"plan", "@JOB", "--current", "@F"}},
    };
    RUN(t);
}

/* Serving jobs: impossible SLOs, shares, rates and replayed traces (line numbers). */
#define SERVE(workload, rest) "{\"kind\":\"serving\",\"model\":\"llama3-8b\",\"workload\":" workload rest "}"
#define ONE_CLASS "\"classes\":[{\"input\":512,\"output\":64,\"share\":1}]"

static void test_serving(void **state)
{
    (void)state;
    char trace_job[3][1024];
    const char *traces[] = {"traces/out_of_order.csv", "traces/malformed.csv", "/nonexistent/trace.csv"};
    for (int i = 0; i < 3; i++)
        snprintf(trace_job[i], sizeof trace_job[i], SERVE("{\"trace\":\"%s\"}", ""),
                 i < 2 ? test_data(traces[i]) : traces[i]);
    const bad_case t[] = {
        {3, "job.slo: no available GPU serves llama3-8b", "in the catalog would",
         SERVE("{\"rate_rps\":1," ONE_CLASS "}", ",\"allow\":{\"gpus\":[\"T4-16GB\",\"L4-24GB\"]},"
               "\"slo\":{\"ttft_p90_s\":1.0,\"tpot_p90_s\":0.012}"), NULL, {"plan", "@F"}},
        {3, "no GPU in the catalog", NULL,
         SERVE("{\"rate_rps\":1," ONE_CLASS "}", ",\"slo\":{\"ttft_p90_s\":1.0,\"tpot_p90_s\":0.0005}"), NULL,
         {"plan", "@F"}},
        {1, "job.workload.classes: shares sum to 1.2", NULL,
         SERVE("{\"rate_rps\":1,\"classes\":[{\"input\":512,\"output\":64,\"share\":0.6},"
               "{\"input\":100,\"output\":10,\"share\":0.6}]}", ""), NULL, {"plan", "@F"}},
        {1, "job.workload.rate_rps", "-3", SERVE("{\"rate_rps\":-3," ONE_CLASS "}", ""), NULL, {"plan", "@F"}},
        {1, "job.workload.classes[0].input", NULL,
         SERVE("{\"rate_rps\":1,\"classes\":[{\"input\":-512,\"output\":64,\"share\":1}]}", ""), NULL, {"plan", "@F"}},
        {1, "job.slo.tpot_p90_s", NULL, SERVE("{\"rate_rps\":1," ONE_CLASS "}", ",\"slo\":{\"tpot_p90_s\":0}"), NULL,
         {"plan", "@F"}},
        {1, "job.workload.trace: line 4", NULL, trace_job[0], NULL, {"plan", "@F"}},
        {1, "job.workload.trace: line 3", NULL, trace_job[1], NULL, {"plan", "@F"}},
        {1, "job.workload.trace: cannot read /nonexistent/trace.csv", NULL, trace_job[2], NULL, {"plan", "@F"}},
        {1, "plan.replicas[0].count", NULL,
         "{\"kind\":\"serving\",\"job\":" SERVE("{\"rate_rps\":1," ONE_CLASS "}", "") ",\"replicas\":[{\"gpu\":"
         "\"H100-SXM-80GB\",\"tp\":1,\"count\":-1}]}", NULL, {"simulate", "@F"}},
    };
    RUN(t);
}

/* Placement inventories, running placements that do not match, what-if traces and scenarios. */
static void test_place_whatif(void **state)
{
    (void)state;
    /* running placements pointing at nodes, shards and GPUs that do not exist */
    char bad_cur[3][256];
    const char *keys[] = {"node", "stage", "gpus"};
    for (int i = 0; i < 3; i++) {
        json_t *d = json_load_file(cur_path, 0, NULL);
        assert_non_null(d);
        json_t *e = json_array_get(json_object_get(d, "placement"), 0);
        json_object_set_new(e, keys[i], i == 0 ? json_string("ghost-node")
                                        : i == 1 ? json_integer(7) : json_pack("[i,i,i,i]", 0, 1, 2, 99));
        snprintf(bad_cur[i], sizeof bad_cur[i], "%s", temp_path(4, ".json"));
        assert_int_equal(json_dump_file(d, bad_cur[i], 0), 0);
        json_decref(d);
    }
    const char *H = "time_s,zone,gpu,count\n";
    char tr[7][256];
    const char *rows[] = {"0,gcp:us-central1-a,A100-SXM-40GB,-16\n",
                          "10,gcp:us-central1-a,A100-SXM-40GB,16\n5,gcp:us-central1-a,A100-SXM-40GB,8\n",
                          "0,gcp:us-centrl1-a,A100-SXM-40GB,16\n",
                          "0,gcp:us-central1-a,A100-SXM-4GB,16\n",
                          "0,gcp:us-central1-a,A100-SXM-40GB\n",
                          "0,gcp:us-central1-a,A100-SXM-40GB,99999999999\n",
                          "0,gcp:us-central1-a,A100-SXM-40GB,1.5\n"};
    for (int i = 0; i < 7; i++)
        snprintf(tr[i], sizeof tr[i], "%s%s", H, rows[i]);
    const bad_case t[] = {
        {1, "nodes[0].gpu: unknown gpu 'A100-SXM-4GB'", "closest: A100-SXM-40GB",
         "{\"nodes\":[{\"id\":\"a\",\"zone\":\"gcp:us-central1-a\",\"gpu\":\"A100-SXM-4GB\",\"gpus\":8}]}", NULL,
         {"place", "$plans/place_small.json", "--nodes", "@F"}},
        {1, "nodes[0].zone: unknown zone", "closest: gcp:us-central1-a",
         "{\"nodes\":[{\"id\":\"a\",\"zone\":\"gcp:us-centrl1-a\",\"gpu\":\"A100-SXM-40GB\",\"gpus\":8}]}", NULL,
         {"place", "$plans/place_small.json", "--nodes", "@F"}},
        {1, "nodes[0].gpus", "-8", "{\"nodes\":[{\"id\":\"a\",\"zone\":\"gcp:us-central1-a\",\"gpu\":\"A100-SXM-40GB\","
         "\"gpus\":-8}]}", NULL, {"place", "$plans/place_small.json", "--nodes", "@F"}},
        {1, "nodes[1].id: duplicate node id 'a'", NULL,
         "{\"nodes\":[{\"id\":\"a\",\"zone\":\"gcp:us-central1-a\",\"gpu\":\"A100-SXM-40GB\",\"gpus\":8},"
         "{\"id\":\"a\",\"zone\":\"gcp:us-central1-a\",\"gpu\":\"A100-SXM-40GB\",\"gpus\":8}]}", NULL,
         {"place", "$plans/place_small.json", "--nodes", "@F"}},
        {1, "current.placement[0].node: unknown node 'ghost-node'", NULL, NULL, NULL,
         {"place", "$plans/place_small.json", "--nodes", "$plans/place_nodes_small.json", "--current", bad_cur[0]}},
        {1, "current.placement[0]: no shard pipeline 0 replica 0 stage 7", NULL, NULL, NULL,
         {"place", "$plans/place_small.json", "--nodes", "$plans/place_nodes_small.json", "--current", bad_cur[1]}},
        {1, "current.placement[0].gpus[3]: GPU index 99", NULL, NULL, NULL,
         {"place", "$plans/place_small.json", "--nodes", "$plans/place_nodes_small.json", "--current", bad_cur[2]}},
        {1, "current.placement: missing", NULL, NULL, NULL,
         {"place", "$plans/place_small.json", "--nodes", "$plans/place_nodes_small.json", "--current",
          "$plans/place_small.json"}},
        {1, "trace line 2: count -16", NULL, tr[0], NULL, {"whatif", "@WJOB", "--trace", "@F"}},
        {1, "trace line 3: time 5 is before", "sort", tr[1], NULL, {"whatif", "@WJOB", "--trace", "@F"}},
        {1, "trace line 2: zone: unknown zone 'gcp:us-centrl1-a'", "closest: gcp:us-central1-a", tr[2], NULL,
         {"whatif", "@WJOB", "--trace", "@F"}},
        {1, "trace line 2: gpu: unknown GPU 'A100-SXM-4GB'", "closest: A100-SXM-40GB", tr[3], NULL,
         {"whatif", "@WJOB", "--trace", "@F"}},
        {1, "trace line 2: expected 4 fields", NULL, tr[4], NULL, {"whatif", "@WJOB", "--trace", "@F"}},
        {1, "trace line 2: count 99999999999", NULL, tr[5], NULL, {"whatif", "@WJOB", "--trace", "@F"}},
        {1, "trace line 2: count '1.5'", NULL, tr[6], NULL, {"whatif", "@WJOB", "--trace", "@F"}},
        {1, "trace: no rows after the header", NULL, H, NULL, {"whatif", "@WJOB", "--trace", "@F"}},
        {1, "scenarios: malformed JSON", NULL, "{\"base\":", NULL, {"whatif", "@WJOB", "--scenarios", "@F"}},
        {1, "scenarios: expected a non-empty array", NULL, "{\"scenarios\": []}", NULL,
         {"whatif", "@WJOB", "--scenarios", "@F"}},
        {1, "scenarios[0].scale.gpu: unknown gpu", "closest: A100-SXM-40GB",
         "{\"scenarios\": [{\"name\":\"x\",\"scale\":{\"gpu\":\"A100-SXM-4GB\",\"factor\":2}}]}", NULL,
         {"whatif", "@WJOB", "--scenarios", "@F"}},
        {1, "scenarios[0].scale.factor", "-2",
         "{\"scenarios\": [{\"name\":\"x\",\"scale\":{\"gpu\":\"A100-SXM-40GB\",\"factor\":-2}}]}", NULL,
         {"whatif", "@WJOB", "--scenarios", "@F"}},
        {1, "scenarios[0]: give exactly one of", NULL, "{\"scenarios\": [{\"name\":\"x\"}]}", NULL,
         {"whatif", "@WJOB", "--scenarios", "@F"}},
        {1, "scenarios[0].availability.zones.gcp:nowhere: unknown zone", "closest",
         "{\"scenarios\": [{\"name\":\"x\",\"availability\":{\"zones\":{\"gcp:nowhere\":{\"A100-SXM-40GB\":3}}}}]}", NULL,
         {"whatif", "@WJOB", "--scenarios", "@F"}},
        {1, "base.zones.gcp:us-central1-a.A100-SXM-40GB: count must be between 0 and 1e8 (got -3)", NULL,
         "{\"base\":{\"zones\":{\"gcp:us-central1-a\":{\"A100-SXM-40GB\":-3}}},\"scenarios\":[{\"name\":\"x\",\"remove_zones\":[]}]}",
         NULL, {"whatif", "@WJOB", "--scenarios", "@F"}},
    };
    RUN(t);
    for (int i = 0; i < 3; i++)
        unlink(bad_cur[i]);
}

/* Usage errors: exit 2, the message and the command's usage text on stderr. */
static void test_usage(void **state)
{
    (void)state;
    static const bad_case t[] = {
        {2, "unknown command 'bogus'", NULL, NULL, NULL, {"bogus"}},
        {2, "usage: flotilla <command>", NULL, NULL, NULL, {NULL}},
        {2, "flotilla plan: unknown option '--bogus'", "usage: flotilla plan", NULL, NULL, {"plan", "@JOB", "--bogus"}},
        {2, "flotilla plan: missing JOB.json", NULL, NULL, NULL, {"plan"}},
        {2, "flotilla plan: -o needs a value", "usage: flotilla plan", NULL, NULL, {"plan", "@JOB", "-o"}},
        {2, "flotilla plan: --catalog needs a value", NULL, NULL, NULL, {"plan", "@JOB", "--catalog"}},
        {2, "flotilla plan: --availability needs a value", NULL, NULL, NULL, {"plan", "@JOB", "--availability"}},
        {2, "flotilla plan: --top expects a whole number", NULL, NULL, NULL, {"plan", "@JOB", "--top", "0"}},
        {2, "flotilla plan: unexpected argument", NULL, NULL, NULL, {"plan", "@JOB", "@JOB"}},
        {2, "flotilla simulate: unknown option '--bogus'", "usage: flotilla simulate", NULL, NULL,
         {"simulate", "--bogus", "x"}},
        {2, "flotilla simulate: missing PLAN.json", NULL, NULL, NULL, {"simulate"}},
        {2, "flotilla simulate: unknown option '--json=yes'", NULL, NULL, NULL, {"simulate", "--json=yes"}},
        {2, "flotilla estimate: unknown option '--bogus'", "usage: flotilla estimate", NULL, NULL,
         {"estimate", "--bogus", "1"}},
        {2, "flotilla estimate: --gpu needs a value", NULL, NULL, NULL, {"estimate", "--gpu"}},
        {2, "flotilla estimate: --phase is train, prefill or decode", NULL, NULL, NULL,
         {"estimate", "--gpu", "h100", "--model", "gpt3-1.3b", "--phase", "sleep"}},
        {2, "flotilla estimate: --tp expects a whole number", NULL, NULL, NULL,
         {"estimate", "--gpu", "h100", "--model", "gpt3-1.3b", "--phase", "train", "--tp", "-2"}},
        {2, "flotilla whatif: --trace needs a value", "usage: flotilla whatif", NULL, NULL,
         {"whatif", "@WJOB", "--trace"}},
        {2, "flotilla whatif: give exactly one of --trace or --scenarios", NULL, NULL, NULL, {"whatif", "@WJOB"}},
        {2, "flotilla whatif: unknown option '--bogus'", NULL, NULL, NULL, {"whatif", "@WJOB", "--bogus", "1"}},
        {2, "--threads expects a whole number in [0, 64], got '-1'", "usage: flotilla whatif", NULL, NULL,
         {"whatif", "@WJOB", "--trace", "x.csv", "--threads", "-1"}},
        {2, "flotilla whatif: --threads needs a value", NULL, NULL, NULL, {"whatif", "@WJOB", "--threads"}},
        {2, "flotilla place: --nodes needs a value", "usage: flotilla place", NULL, NULL,
         {"place", "$plans/place_small.json", "--nodes"}},
        {2, "flotilla place: unknown option '--bogus'", NULL, NULL, NULL, {"place", "--bogus"}},
        {2, "flotilla place: several plans need --pack", NULL, NULL, NULL,
         {"place", "$plans/place_small.json", "$plans/place_small.json"}},
        {2, "flotilla profiles: unknown subcommand 'bogus'", "usage: flotilla profiles", NULL, NULL,
         {"profiles", "bogus"}},
        {2, "flotilla profiles: unknown list 'bogus'", NULL, NULL, NULL, {"profiles", "list", "bogus"}},
        {2, "flotilla profiles: --gpu needs a value", NULL, NULL, NULL, {"profiles", "list", "offerings", "--gpu"}},
        {2, "flotilla profiles: import changes a catalog file", NULL, NULL, NULL,
         {"profiles", "import", "--measured", "x.jsonl"}},
        {2, "flotilla profiles: show takes one NAME", NULL, NULL, NULL, {"profiles", "show"}},
    };
    RUN(t);
}

/* --help on every command: exit 0, the usage on stdout, nothing on stderr. */
static void test_help(void **state)
{
    (void)state;
    const char *cmds[][2] = {{"--help", NULL}, {"help", NULL},        {"plan", "--help"},   {"simulate", "--help"},
                             {"estimate", "-h"}, {"whatif", "--help"}, {"place", "--help"}, {"profiles", "--help"},
                             {"profiles", "-h"}};
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        cli_result r = run_cli(NULL, cmds[i][0], cmds[i][1], NULL);
        if (r.status != 0 || !strstr(r.out, "usage: flotilla") || r.err[0])
            fail_msg("%s %s: exit %d, stdout %.80s, stderr %s", cmds[i][0], cmds[i][1] ? cmds[i][1] : "", r.status,
                     r.out, r.err);
        cli_result_free(&r);
    }
}

/* The reproducers of wrong outcomes (tests/data/bad/, from the reliability pass of issue 14) and
 * their neighbours: each now fails with exit 1 naming the field or the line (and column). */
#define AWS_HEAD "InstanceType,AcceleratorName,AcceleratorCount,vCPUs,MemoryGiB,Price,SpotPrice,Region,AvailabilityZone\n"
static void test_reproducers(void **state)
{
    (void)state;
    static const bad_case t[] = {
        /* non-object scenario availability / base: the field, not "out of memory" */
        {1, "base: expected an availability object", NULL, NULL, NULL,
         {"whatif", "@WJOB", "--scenarios", "$bad/whatif-scenarios-base-not-object.json"}},
        {1, "scenarios[0].availability: expected an object", NULL, NULL, NULL,
         {"whatif", "@WJOB", "--scenarios", "$bad/whatif-scenarios-availability-not-object.json"}},
        /* unknown zone with an empty GPU map */
        {1, "zones.gcp:us-centrl1-a: unknown zone", "closest: gcp:us-central1-a", NULL, NULL,
         {"plan", "@WJOB", "--availability", "$bad/avail-misspelt-zone-empty-map.json"}},
        /* the same GPU twice in a zone (alias + canonical), the same zone in two cases */
        {1, "zones.gcp:us-central1-a.a100: the same GPU as \"A100-SXM-40GB\"", NULL,
         "{\"zones\":{\"gcp:us-central1-a\":{\"A100-SXM-40GB\":8,\"a100\":16}}}", NULL,
         {"plan", "@WJOB", "--availability", "@F"}},
        {1, "zones.GCP:US-central1-a: the same zone as \"gcp:us-central1-a\"", NULL,
         "{\"zones\":{\"gcp:us-central1-a\":{\"A100-SXM-40GB\":8},\"GCP:US-central1-a\":{\"V100-SXM2-16GB\":8}}}", NULL,
         {"plan", "@WJOB", "--availability", "@F"}},
        /* NaN / Inf memory in nvidia-smi XML */
        {1, "nvsmi-nan-memory.xml line 4", "fb_memory_usage/total 'nan MiB'", NULL, NULL,
         {"profiles", "import", "--catalog", "@CAT", "--nvidia-smi", "$bad/nvsmi-nan-memory.xml"}},
        {1, "nvsmi-inf-memory.xml line 4", "fb_memory_usage/total 'inf MiB'", NULL, NULL,
         {"profiles", "import", "--catalog", "@CAT", "--nvidia-smi", "$bad/nvsmi-inf-memory.xml"}},
        /* a huge trace time: the line, not "out of memory" */
        {1, "trace line 3: time_s 1e308 is too large", NULL, NULL, NULL,
         {"whatif", "@WJOB", "--trace", "$bad/whatif-trace-time-1e308.csv"}},
        /* invalid UTF-8 in every imported text: file, line and column */
        {1, "offerings-invalid-utf8.csv line 2 column 5: not valid UTF-8", NULL, NULL, NULL,
         {"profiles", "import", "--catalog", "@CAT", "--offerings", "$bad/offerings-invalid-utf8.csv"}},
        {1, "line 2 column 67: not valid UTF-8", NULL,
         "{\"kind\": \"env\", \"gpu\": \"h100\"}\n{\"kind\": \"gemm\", \"m\": 1, \"n\": 2, \"k\": 3, \"seconds\": 0.1, "
         "\"note\": \"\xc3\x28\"}\n", NULL, {"profiles", "import", "--catalog", "@CAT", "--measured", "@F"}},
        {1, "line 3 column 6: not valid UTF-8", NULL,
         "<?xml version=\"1.0\" ?>\n<nvidia_smi_log>\n<gpu>\xe2\x82</gpu>\n</nvidia_smi_log>\n", NULL,
         {"profiles", "import", "--catalog", "@CAT", "--nvidia-smi", "@F"}},
        {1, "trace line 3 column 11: not valid UTF-8", NULL,
         "time_s,zone,gpu,count\n0,gcp:us-central1-a,A100-SXM-40GB,8\n1,gcp:us-c\xff" "entral1-a,A100-SXM-40GB,16\n", NULL,
         {"whatif", "@WJOB", "--trace", "@F"}},
        /* duplicate CSV columns and duplicate offering rows */
        {1, "line 1: column price appears twice (columns 6 and 10)", NULL,
         "InstanceType,AcceleratorName,AcceleratorCount,vCPUs,MemoryGiB,Price,SpotPrice,Region,AvailabilityZone,price\n"
         "p4d.24xlarge,A100,8,96,1152,32.77,,us-east-1,use1-az1,1.0\n", NULL,
         {"profiles", "import", "--catalog", "@CAT", "--offerings", "@F", "--cloud", "aws"}},
        {1, "line 3: duplicate offering: p4d.24xlarge in aws:use1-az1 is already on line 2", NULL,
         AWS_HEAD "p4d.24xlarge,A100,8,96,1152,32.77,,us-east-1,use1-az1\n"
         "p4d.24xlarge,A100,8,96,1152,30.00,,us-east-1,use1-az1\n", NULL,
         {"profiles", "import", "--catalog", "@CAT", "--offerings", "@F", "--cloud", "aws"}},
        /* empty names: the field, with the status the library stores */
        {1, "job.allow.gpus[0]: empty gpu name", NULL, NULL, NULL, {"plan", "$bad/job-allow-gpus-empty-name.json"}},
    };
    RUN(t);
}

/* Bounded input: a file over the 256 MiB limit (sparse, so it takes no disk) and /dev/zero fail
 * at once with a message, for every file the CLI or the library reads. */
static void test_bounded_input(void **state)
{
    (void)state;
    char big[256];
    snprintf(big, sizeof big, "%s", temp_path(4, ".json"));
    FILE *f = fopen(big, "wb");
    assert_non_null(f);
    assert_int_equal(ftruncate(fileno(f), (off_t)257 << 20), 0);
    fclose(f);
    const bad_case t[] = {
        {1, "is larger than the 256 MiB input limit", NULL, NULL, NULL, {"plan", big}},
        {1, "is larger than the 256 MiB input limit", NULL, NULL, NULL, {"simulate", big}},
        {1, "is larger than the 256 MiB input limit", NULL, NULL, NULL, {"plan", "@JOB", "--availability", big}},
        {1, "is larger than the 256 MiB input limit", NULL, NULL, NULL,
         {"place", "$plans/place_small.json", "--nodes", big}},
        {1, "is larger than the 256 MiB input limit", NULL, NULL, NULL, {"whatif", "@WJOB", "--trace", big}},
        {1, "is larger than the 256 MiB input limit", NULL, NULL, NULL,
         {"profiles", "import", "--catalog", "@CAT", "--offerings", big}},
        {1, "is larger than the 256 MiB input limit", NULL, NULL, NULL,
         {"profiles", "import", "--catalog", "@CAT", "--nvidia-smi", big}},
        {1, "job /dev/zero is not a text file", NULL, NULL, NULL, {"plan", "/dev/zero"}},
        {1, "not a text file", NULL, NULL, NULL, {"place", "$plans/place_small.json", "--nodes", "/dev/zero"}},
        {1, "not a text file", NULL, NULL, NULL, {"whatif", "@WJOB", "--scenarios", "/dev/zero"}},
        {1, "/dev/zero line 1 column 1: a NUL byte", NULL, NULL, NULL,
         {"profiles", "import", "--catalog", "@CAT", "--offerings", "/dev/zero"}},
        {1, "/dev/zero line 1: a NUL byte", NULL, NULL, NULL,
         {"profiles", "import", "--catalog", "@CAT", "--measured", "/dev/zero"}},
        {1, "/dev/zero line 1 column 1: a NUL byte", NULL, NULL, NULL,
         {"profiles", "import", "--catalog", "@CAT", "--nvidia-smi", "/dev/zero"}},
        {1, ".json line 1: a NUL byte", NULL, NULL, NULL,
         {"profiles", "import", "--catalog", "@CAT", "--measured", big}},
    };
    RUN(t);
    unlink(big);
}

/* Storage errors are told apart from bad rows: a catalog locked by another process is "busy, try
 * again" (exit 4, never "corrupt"), a write that runs out of space (the file size limit) is a
 * storage error (exit 4); the catalog is unchanged either way. */
/* A second process holding the catalog with `sql` (a write transaction) until release_lock();
 * a process, not a connection of this one: the test's own reads of the file would drop a POSIX lock. */
static int lock_pipe[2];
static pid_t lock_pid;
static void hold_lock(const char *sql)
{
    int ready[2];
    assert_int_equal(pipe(ready), 0);
    assert_int_equal(pipe(lock_pipe), 0);
    lock_pid = fork();
    if (lock_pid == 0) {
        close(ready[0]);
        close(lock_pipe[1]);
        sqlite3 *db;
        char c = sqlite3_open(cat_path, &db) == SQLITE_OK && sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK;
        if (write(ready[1], &c, 1) != 1)
            _exit(1);
        while (read(lock_pipe[0], &c, 1) > 0)
            ;
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
        sqlite3_close(db);
        _exit(0);
    }
    close(ready[1]);
    close(lock_pipe[0]);
    char ok = 0;
    assert_int_equal(read(ready[0], &ok, 1), 1);
    close(ready[0]);
    assert_true(ok);
}

static void release_lock(void)
{
    close(lock_pipe[1]);
    int st;
    waitpid(lock_pid, &st, 0);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static void test_storage_errors(void **state)
{
    (void)state;
    hold_lock("BEGIN IMMEDIATE; UPDATE measured SET kind = kind;");
    static const bad_case t[] = {
        {4, "is busy (another process is writing it); try again", NULL, NULL, NULL,
         {"profiles", "import", "--catalog", "@CAT", "--measured", "$h100-sxm-80gb.layers.jsonl"}},
        {4, "is busy", NULL, NULL, NULL,
         {"profiles", "import", "--catalog", "@CAT", "--offerings", "$catalogs/lambda-gpu-vms.csv"}},
    };
    RUN(t);
    release_lock();
    hold_lock("BEGIN EXCLUSIVE;");
    const bad_case t2[] = {
        {4, "is busy", NULL, NULL, NULL, {"profiles", "list", "gpus", "--catalog", "@CAT"}},
        {4, "is busy", NULL, JOB, NULL, {"plan", "@F", "--catalog", "@CAT"}},
    };
    RUN(t2);
    release_lock();

    /* the disk "fills up" (RLIMIT_FSIZE, SIGXFSZ ignored: writes fail) in the middle of an import */
    size_t before_len, after_len;
    char *before = slurp(cat_path, &before_len);
    char errp[256];
    snprintf(errp, sizeof errp, "%s", temp_path(4, ".err"));
    pid_t pid = fork();
    if (pid == 0) {
        struct rlimit rl = {16384, 16384}; /* the journal and any page past 16 KiB cannot be written */
        signal(SIGXFSZ, SIG_IGN);
        setrlimit(RLIMIT_FSIZE, &rl);
        int fd = open(errp, O_WRONLY | O_CREAT | O_TRUNC, 0600), dn = open("/dev/null", O_WRONLY);
        dup2(dn, 1);
        dup2(fd, 2);
        const char *bin = getenv("FLOTILLA_BIN");
        execl(bin, bin, "profiles", "import", "--catalog", cat_path, "--offerings",
              test_data("catalogs/gcp-gpu-vms.csv"), (char *)NULL);
        _exit(127);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    size_t n;
    char *msg = slurp(errp, &n);
    unlink(errp);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 4 || !strstr(msg, "storage error"))
        fail_msg("disk full during import: status %d, stderr: %s", st, msg);
    free(msg);
    char *after = slurp(cat_path, &after_len);
    assert_true(before_len == after_len && memcmp(before, after, before_len) == 0);
    free(before);
    free(after);
}

/* -o FILE on a run that fails after the whole computation (the target cannot be written):
 * exit 1 naming the file, no temporary file left next to it. */
static void test_output_unwritable(void **state)
{
    (void)state;
    char dir[256], out[300];
    snprintf(dir, sizeof dir, "%s", temp_path(5, ".d"));
    snprintf(out, sizeof out, "%s/missing/plan.json", dir);
    cli_result r = run_cli(NULL, "simulate", test_data("plans/train_small.json"), "-o", out, NULL);
    assert_int_equal(r.status, 1);
    assert_non_null(strstr(r.err, out));
    assert_string_equal(r.out, "");
    cli_result_free(&r);
    assert_false(exists(out));
}

static int setup(void **state)
{
    (void)state;
    unsetenv("FLOTILLA_CATALOG");
    /* a catalog file (created from the built-in one) for the import cases */
    snprintf(cat_path, sizeof cat_path, "%s", temp_path(0, ".sqlite"));
    cli_result r = run_cli(NULL, "profiles", "import", "--catalog", cat_path, "--measured",
                           test_data("h100-sxm-80gb.layers.jsonl"), NULL);
    int ok = r.status == 0;
    cli_result_free(&r);
    /* a running placement to corrupt */
    snprintf(cur_path, sizeof cur_path, "%s", temp_path(0, ".json"));
    char plan[1024], nodes[1024];
    snprintf(plan, sizeof plan, "%s", test_data("plans/place_small.json"));
    snprintf(nodes, sizeof nodes, "%s", test_data("plans/place_nodes_small.json"));
    r = run_cli(NULL, "place", plan, "--nodes", nodes, "--json", "-o", cur_path, NULL);
    ok = ok && r.status == 0;
    cli_result_free(&r);
    snprintf(job_path, sizeof job_path, "%s", temp_file(0, ".json", JOB));
    return ok ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    unlink(cat_path);
    unlink(cur_path);
    unlink(job_path);
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_foundation),  cmocka_unit_test(test_catalog_files), cmocka_unit_test(test_imports),
        cmocka_unit_test(test_simulate),    cmocka_unit_test(test_plan),          cmocka_unit_test(test_serving),
        cmocka_unit_test(test_place_whatif), cmocka_unit_test(test_usage),        cmocka_unit_test(test_help),
        cmocka_unit_test(test_output_unwritable), cmocka_unit_test(test_reproducers),
        cmocka_unit_test(test_bounded_input), cmocka_unit_test(test_storage_errors),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
