/* tests/planner/test_train_dp.c — the training planner's data-parallel all-reduce model and the
 * MILP's greedy rounding heuristic: fl_tp_heur_round on a small fixed instance (every row holds,
 * the batch is covered, an impossible batch is refused), and on two zones joined by a slow link
 * the planner's estimated iteration time stays within 15 % of the simulated one. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "flotilla/flotilla.h"
#include "planner/train_heur.h"
#include "planner/train_internal.h"
#include "profiles/catalog.h"
#include "tests/common/testutil.h"

#include <jansson.h>
#include <math.h>
#include <string.h>

/* Columns: 1 template A (tp 2, 4 GPUs, 5 slots), 2 template B (tp 1, 2 GPUs, 3 slots),
 * 3 offer of 8-GPU instances, 4 offer of 1-GPU instances, 5 region binary. */
enum { NROW = 8, NCOL = 5 };
/* rows: 1 slots >= need; 2 replicas <= 20; 3 GPUs of stages with tp >= 1 <= instance GPUs;
 * 4 GPUs with tp >= 2 <= GPUs of 8-GPU instances; 5 availability <= 24 GPUs; 6 x_A <= 10 u;
 * 7 x_B <= 10 u; 8 u <= 1 (one region) */
static const int ia[] = {0, 1, 1, 2, 2, 3, 3, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8};
static const int ja[] = {0, 1, 2, 1, 2, 1, 2, 3, 4, 1, 3, 3, 4, 1, 5, 2, 5, 5};
static const double ar[] = {0, 5, 3, 1, 1, 4, 2, -8, -1, 4, -8, 8, 1, 1, -10, 1, -10, 1};

static void build(fl_tp_heur *h, double need)
{
    int nnz = (int)(sizeof ia / sizeof ia[0]) - 1;
    assert_int_equal(fl_tp_heur_init(h, NROW, NCOL, nnz, ia, ja, ar), 0);
    static const double lb[] = {0, 0, -1e300, -1e300, -1e300, -1e300, -1e300, -1e300, -1e300};
    static const double ub[] = {0, 1e300, 20, 0, 0, 24, 0, 0, 1};
    for (int i = 1; i <= NROW; i++) {
        h->rlb[i] = lb[i];
        h->rub[i] = ub[i];
    }
    h->rlb[1] = need;
    static const int kind[] = {0, FL_TP_HCOL_TEMPLATE, FL_TP_HCOL_TEMPLATE, FL_TP_HCOL_OFFER, FL_TP_HCOL_OFFER,
                               FL_TP_HCOL_REGION};
    static const double slots[] = {0, 5, 3, 0, 0, 0}, price[] = {0, 8, 4, 10, 2, 0}, cub[] = {0, 10, 10, 3, 24, 1};
    for (int j = 1; j <= NCOL; j++) {
        h->kind[j] = kind[j];
        h->group[j] = kind[j] == FL_TP_HCOL_REGION ? 1 : 0;
        h->slots[j] = slots[j];
        h->price[j] = price[j];
        h->cub[j] = cub[j];
    }
    h->need = need;
    assert_int_equal(fl_tp_heur_index(h), 0);
}

/* Every row of h at point x within its bounds. */
static void check_rows(const fl_tp_heur *h, const double *x)
{
    for (int i = 1; i <= h->nrow; i++) {
        double a = 0;
        for (int p = h->rptr[i]; p < h->rptr[i + 1]; p++)
            a += h->rval[p] * x[h->rind[p]];
        if (a > h->rub[i] + 1e-9 || a < h->rlb[i] - 1e-9)
            fail_msg("row %d: %g outside [%g, %g]", i, a, h->rlb[i], h->rub[i]);
    }
}

static void test_heur_round_feasible(void **state)
{
    (void)state;
    fl_tp_heur h;
    memset(&h, 0, sizeof h);
    build(&h, 20);
    const double xf[NCOL + 1] = {0, 2.6, 2.3, 1.9, 0.4, 0.7};
    double out[NCOL + 1] = {0};
    assert_int_equal(fl_tp_heur_round(&h, xf, out), 1);
    double slots = 0;
    for (int j = 1; j <= NCOL; j++) {
        assert_true(out[j] == floor(out[j]));         /* integer */
        assert_true(out[j] >= 0 && out[j] <= h.cub[j]); /* within the column bounds */
        slots += h.slots[j] * out[j];
    }
    assert_true(slots >= 20);
    check_rows(&h, out);
    assert_true(out[5] == 1); /* replicas need their region switched on */
    fl_tp_heur_free(&h);
}

static void test_heur_round_refuses_impossible(void **state)
{
    (void)state;
    fl_tp_heur h;
    memset(&h, 0, sizeof h);
    /* 24 GPUs hold at most 6 replicas of A (30 slots) or 12 of B (36): 100 slots cannot fit */
    build(&h, 100);
    const double xf[NCOL + 1] = {0, 6, 0, 3, 0, 1};
    double out[NCOL + 1] = {0};
    assert_int_equal(fl_tp_heur_round(&h, xf, out), 0);
    fl_tp_heur_free(&h);
}

/* Two zones of one region joined by a slow link; 64 A100 in each: the estimated iteration time
 * of the plan agrees with the simulated one within 15 %. */
static void test_two_zone_estimate(void **state)
{
    (void)state;
    fl_catalog *cat;
    fl_error err;
    assert_int_equal(fl_catalog_open(NULL, &cat, &err), FL_OK);
    const char *za = "aws:euw2-az2", *zb = "aws:euw2-az3";
    int ia_ = -1, ib_ = -1;
    for (size_t z = 0; z < cat->n_zones; z++) {
        if (strcmp(cat->zones[z].name, za) == 0)
            ia_ = (int)z;
        if (strcmp(cat->zones[z].name, zb) == 0)
            ib_ = (int)z;
    }
    assert_true(ia_ >= 0 && ib_ >= 0);
    /* a slow inter-zone link: 1 GB/s, 2 ms one way (the built-in one is 11 GB/s) */
    fl_link slow = cat->links[(size_t)ia_ * cat->n_zones + (size_t)ib_];
    slow.bandwidth = 1e9;
    slow.latency = 2e-3;
    cat->links[(size_t)ia_ * cat->n_zones + (size_t)ib_] = slow;
    cat->links[(size_t)ib_ * cat->n_zones + (size_t)ia_] = slow;
    fl_job *job;
    assert_int_equal(fl_job_from_json(cat,
                                      "{\"kind\":\"training\",\"model\":\"gpt3-13b\",\"global_batch\":512,"
                                      "\"seq_len\":2048,\"objective\":\"max_throughput\"}",
                                      &job, &err),
                     FL_OK);
    fl_availability *av;
    assert_int_equal(fl_availability_new(cat, &av, &err), FL_OK);
    assert_int_equal(fl_availability_set(av, za, "A100-SXM-40GB", 64, &err), FL_OK);
    assert_int_equal(fl_availability_set(av, zb, "A100-SXM-40GB", 64, &err), FL_OK);
    fl_plan_options o;
    fl_plan_options_init(&o);
    fl_plan *plan = NULL;
    fl_status rc = fl_plan_job(cat, job, av, &o, &plan, &err);
    if (rc)
        fail_msg("plan: %s", err.message);
    char *s = fl_plan_to_json(plan, 0);
    json_t *doc = json_loads(s, 0, NULL);
    assert_non_null(doc);
    double est = json_number_value(json_object_get(json_object_get(doc, "solver"), "estimated_iteration_s"));
    double sim = json_number_value(json_object_get(json_object_get(doc, "simulation"), "iteration_s"));
    assert_true(est > 0 && sim > 0);
    if (fabs(est / sim - 1) > 0.15)
        fail_msg("estimated %.3f s vs simulated %.3f s", est, sim);
    json_decref(doc);
    fl_free(s);
    fl_plan_free(plan);
    fl_availability_free(av);
    fl_job_free(job);
    fl_catalog_free(cat);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_heur_round_feasible),
        cmocka_unit_test(test_heur_round_refuses_impossible),
        cmocka_unit_test(test_two_zone_estimate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
