/* tests/fuzz/fuzz_plan.c — plan JSON: load, re-serialise and load back, simulate, place on the
 * plan's own rented nodes. */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fl_catalog *cat = fuzz_catalog();
    char *text = fuzz_text(data, size);
    fl_plan *plan = NULL;
    fl_error err;
    fl_error_clear(&err);
    fl_status rc = fl_plan_from_json(cat, text, &plan, &err);
    fuzz_check(rc, &err, "fl_plan_from_json");
    if (plan) {
        char *js = fl_plan_to_json(plan, 0);
        FUZZ_ASSERT(js, "fl_plan_to_json returned NULL");
        fl_plan *again = NULL;
        fl_error_clear(&err);
        rc = fl_plan_from_json(cat, js, &again, &err);
        FUZZ_ASSERT(rc == FL_OK, "a plan's own JSON does not load back: %s", err.message);
        fl_plan_free(again);
        fl_error_clear(&err);
        rc = fl_plan_simulate(cat, plan, &err);
        fuzz_check(rc, &err, "fl_plan_simulate");
        fl_nodes *nodes = NULL;
        fl_error_clear(&err);
        rc = fl_nodes_from_plan_json(cat, js, &nodes, &err);
        fuzz_check(rc, &err, "fl_nodes_from_plan_json");
        if (nodes && fl_nodes_count(nodes) <= 4096) {
            fl_place_options po;
            fl_place_options_init(&po);
            char *placed = NULL;
            fl_place_report *rep = NULL;
            fl_error_clear(&err);
            rc = fl_place_json(cat, js, nodes, NULL, &po, &placed, &rep, &err);
            fuzz_check(rc, &err, "fl_place_json");
            fl_free(placed);
            fl_place_report_free(rep);
        }
        fl_nodes_free(nodes);
        fl_free(js);
        fl_plan_free(plan);
    }
    free(text);
    return 0;
}
