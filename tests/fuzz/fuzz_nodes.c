/* tests/fuzz/fuzz_nodes.c — node inventories and current placements. The first byte picks the
 * input: even → nodes JSON (parse, to_json → from_json round trip, place a small plan on them);
 * odd → a current placement of tests/data/plans/place_small.json on place_nodes_small.json. */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static char *plan_small, *nodes_small;
    if (!plan_small) {
        plan_small = fuzz_fixture("plans/place_small.json");
        nodes_small = fuzz_fixture("plans/place_nodes_small.json");
    }
    if (size < 1)
        return 0;
    fl_catalog *cat = fuzz_catalog();
    int current = data[0] & 1;
    char *text = fuzz_text(data + 1, size - 1);
    fl_error err;
    fl_nodes *nodes = NULL;
    fl_error_clear(&err);
    fl_status rc = fl_nodes_from_json(cat, current ? nodes_small : text, &nodes, &err);
    if (current)
        FUZZ_ASSERT(rc == FL_OK, "fixture nodes: %s", err.message);
    fuzz_check(rc, &err, "fl_nodes_from_json");
    if (nodes && !current) {
        char *js = fl_nodes_to_json(nodes);
        fl_nodes *back = NULL;
        fl_error_clear(&err);
        rc = fl_nodes_from_json(cat, js, &back, &err);
        FUZZ_ASSERT(rc == FL_OK, "nodes' own JSON does not parse back: %s", err.message);
        FUZZ_ASSERT(fl_nodes_count(back) == fl_nodes_count(nodes), "node count changed on the round trip");
        char *js2 = fl_nodes_to_json(back);
        FUZZ_ASSERT(strcmp(js, js2) == 0, "nodes JSON is not a fixed point");
        fl_free(js);
        fl_free(js2);
        fl_nodes_free(back);
    }
    if (nodes) {
        fl_place_options po;
        fl_place_options_init(&po);
        po.strict_nodes = size > 1 && (data[1] & 1);
        char *placed = NULL;
        fl_place_report *rep = NULL;
        fl_error_clear(&err);
        rc = fl_place_json(cat, plan_small, nodes, current ? text : NULL, &po, &placed, &rep, &err);
        fuzz_check(rc, &err, "fl_place_json");
        FUZZ_ASSERT((rc == FL_OK) == (placed != NULL), "placed document %p with status %d", (void *)placed, rc);
        if (placed) { /* a placed document is a valid current placement for the same plan */
            char *again = NULL;
            fl_place_report *rep2 = NULL;
            fl_error_clear(&err);
            rc = fl_place_json(cat, plan_small, nodes, placed, &po, &again, &rep2, &err);
            FUZZ_ASSERT(rc == FL_OK, "a placed document is refused as the current placement: %s", err.message);
            fl_free(again);
            fl_place_report_free(rep2);
        }
        fl_free(placed);
        fl_place_report_free(rep);
        fl_nodes_free(nodes);
    }
    free(text);
    return 0;
}
