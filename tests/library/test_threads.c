/* tests/library/test_threads.c — the library is safe for distinct handles in several threads:
 * four threads share one catalog (read-only) and each plans and simulates its own jobs; every
 * thread must get exactly the single-threaded result. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "flotilla/flotilla.h"

#include <jansson.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define THREADS 4
#define ROUNDS 3

static fl_catalog *cat;

static const char *train_job =
    "{\"kind\":\"training\",\"model\":\"gpt3-1.3b\",\"global_batch\":128,\"seq_len\":2048,"
    "\"objective\":\"max_throughput\",\"budget_per_hour\":60,"
    "\"allow\":{\"gpus\":[\"A100-SXM-40GB\",\"V100-SXM2-16GB\"]}}";
static const char *train_av =
    "{\"zones\":{\"gcp:us-central1-a\":{\"A100-SXM-40GB\":16,\"V100-SXM2-16GB\":16}}}";

typedef struct work { char *json; int status; char msg[512]; } work;

/* Plan the job from scratch (own job, availability and plan handles) and serialise it. */
static char *plan_once(char *msg)
{
    fl_error err;
    fl_error_clear(&err);
    fl_job *job = NULL;
    fl_availability *av = NULL;
    fl_plan *plan = NULL;
    char *out = NULL;
    if (fl_job_from_json(cat, train_job, &job, &err) || fl_availability_from_json(cat, train_av, &av, &err) ||
        fl_plan_job(cat, job, av, NULL, &plan, &err)) {
        strcpy(msg, err.message);
    } else {
        /* the solver's timings are the only fields allowed to differ between runs */
        char *text = fl_plan_to_json(plan, 0);
        json_t *doc = text ? json_loads(text, 0, NULL) : NULL;
        if (doc) {
            json_object_del(doc, "solver");
            out = json_dumps(doc, JSON_COMPACT | JSON_SORT_KEYS);
        }
        json_decref(doc);
        fl_free(text);
    }
    fl_plan_free(plan);
    fl_availability_free(av);
    fl_job_free(job);
    return out;
}

static void *worker(void *arg)
{
    work *w = arg;
    for (int r = 0; r < ROUNDS; r++) {
        char *s = plan_once(w->msg);
        if (!s) { w->status = 1; return NULL; }
        if (!w->json) w->json = s;
        else { if (strcmp(w->json, s)) w->status = 2; free(s); }
    }
    fl_thread_cleanup(); /* GLPK's per-thread environment */
    return NULL;
}

static void test_concurrent_plans_match_serial(void **state)
{
    (void)state;
    char msg[512] = "";
    char *serial = plan_once(msg);
    if (!serial)
        fail_msg("serial plan failed: %s", msg);
    pthread_t th[THREADS];
    work w[THREADS];
    memset(w, 0, sizeof w);
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, worker, &w[i]), 0);
    for (int i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);
    for (int i = 0; i < THREADS; i++) {
        if (w[i].status == 1)
            fail_msg("thread %d: %s", i, w[i].msg);
        assert_int_equal(w[i].status, 0);
        assert_string_equal(w[i].json, serial);
        free(w[i].json);
    }
    free(serial);
}

static void *open_and_estimate(void *arg)
{
    int *ok = arg;
    fl_catalog *c = NULL;
    if (fl_catalog_open(NULL, &c, NULL)) return NULL;
    fl_estimate_query q;
    fl_estimate_query_init(&q);
    q.gpu = "A100-SXM-80GB";
    q.model = "llama3-8b";
    q.phase = FL_PHASE_DECODE;
    q.batch = 8;
    fl_estimate_result r;
    *ok = fl_estimate(c, &q, &r, NULL) == FL_OK && r.seconds > 0;
    fl_catalog_free(c);
    return NULL;
}

static void test_concurrent_catalogs(void **state)
{
    (void)state;
    pthread_t th[THREADS];
    int ok[THREADS] = {0};
    for (int i = 0; i < THREADS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, open_and_estimate, &ok[i]), 0);
    for (int i = 0; i < THREADS; i++) {
        pthread_join(th[i], NULL);
        assert_true(ok[i]);
    }
}

int main(void)
{
    if (fl_catalog_open(NULL, &cat, NULL))
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_concurrent_plans_match_serial),
        cmocka_unit_test(test_concurrent_catalogs),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    fl_catalog_free(cat);
    return rc;
}
