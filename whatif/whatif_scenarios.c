/* whatif/whatif_scenarios.c — scenario sweeps: plan the job under named availability
 * variants (replace, scale one GPU type, remove zones) and tabulate the best throughput and cost. */
#include "whatif/whatif_internal.h"
#include "common/plan.h"
#include "common/error.h"
#include "common/json_util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Effectively unlimited count used when an unlimited base must become a closed list. */
#define FL_WHATIF_OPEN_COUNT 100000

/* Turn an unlimited availability into explicit counts over the catalog's offerings. */
static fl_status materialise(const fl_catalog *cat, fl_availability *av, fl_error *err)
{
    if (fl_availability_is_limited(av))
        return FL_OK;
    for (size_t i = 0; i < fl_catalog_offering_count(cat); i++) {
        const fl_offering *o = fl_catalog_offering(cat, i);
        fl_status rc = fl_availability_set(av, o->zone, o->gpu, FL_WHATIF_OPEN_COUNT, err);
        if (rc)
            return rc;
    }
    return FL_OK;
}

static fl_status scenario_av(const fl_catalog *cat, const fl_availability *base, json_t *sc, const char *path,
                             fl_availability **out, fl_error *err)
{
    char f[160];
    json_t *a = json_object_get(sc, "availability"), *s = json_object_get(sc, "scale"),
           *rz = json_object_get(sc, "remove_zones");
    int given = (a != NULL) + (s != NULL) + (rz != NULL);
    if (given != 1)
        return fl_fail(err, FL_EINVAL, path, "%s: give exactly one of \"availability\", \"scale\", \"remove_zones\"", path);
    fl_status rc;
    if (a) {
        if (!json_is_object(a))
            return fl_fail(err, FL_EINVAL, fl_json_path(f, sizeof f, path, "availability"),
                           "%s.availability: expected an object", path);
        char *txt = json_dumps(a, 0);
        if (!txt)
            return fl_fail(err, FL_ENOMEM, path, "out of memory");
        rc = fl_availability_from_json(cat, txt, out, err);
        free(txt);
        if (rc)
            fl_error_prefix_field(err, fl_json_path(f, sizeof f, path, "availability"));
        return rc;
    }
    fl_availability *av = base ? fl_availability_clone(base) : NULL;
    if (!av && (rc = fl_availability_new(cat, &av, err)))
        return rc;
    if (!av)
        return fl_fail(err, FL_ENOMEM, path, "out of memory");
    if ((rc = materialise(cat, av, err))) {
        fl_availability_free(av);
        return rc;
    }
    if (s) {
        const char *gpu = NULL;
        double factor = -1;
        fl_json_path(f, sizeof f, path, "scale");
        if ((rc = fl_json_str(s, f, "gpu", &gpu, err)) || (rc = fl_json_req_num(s, f, "factor", 0, 1e6, &factor, err))) {
            fl_availability_free(av);
            return rc;
        }
        char gf[200];
        snprintf(gf, sizeof gf, "%s.gpu", f);
        int g = fl_catalog_find_gpu(cat, gpu ? gpu : "", gf, err);
        if (g < 0) {
            fl_availability_free(av);
            return fl_err_code(err, FL_ENOTFOUND);
        }
        for (size_t z = 0; z < fl_catalog_zone_count(cat); z++) {
            int c = fl_availability_get(av, (int)z, g);
            if (c > 0 && c < FL_WHATIF_OPEN_COUNT &&
                (rc = fl_availability_set(av, fl_catalog_zone(cat, z)->name, fl_catalog_gpu(cat, (size_t)g)->name,
                                          (int)floor(c * factor), err))) {
                fl_availability_free(av);
                return rc;
            }
            if (c >= FL_WHATIF_OPEN_COUNT && factor == 0)
                fl_availability_set(av, fl_catalog_zone(cat, z)->name, fl_catalog_gpu(cat, (size_t)g)->name, 0, err);
        }
    } else {
        fl_json_path(f, sizeof f, path, "remove_zones");
        if (!json_is_array(rz)) {
            fl_availability_free(av);
            return fl_fail(err, FL_EINVAL, f, "%s: expected an array of zone names", f);
        }
        size_t i;
        json_t *zv;
        json_array_foreach(rz, i, zv) {
            char zf[200];
            snprintf(zf, sizeof zf, "%s[%zu]", f, i);
            int z = fl_catalog_find_zone(cat, json_is_string(zv) ? json_string_value(zv) : "", zf, err);
            if (z < 0) {
                fl_availability_free(av);
                return fl_err_code(err, FL_ENOTFOUND);
            }
            for (size_t g = 0; g < fl_catalog_gpu_count(cat); g++)
                fl_availability_set(av, fl_catalog_zone(cat, (size_t)z)->name, fl_catalog_gpu(cat, g)->name, 0, err);
        }
    }
    *out = av;
    return FL_OK;
}

fl_status fl_whatif_scenarios(const fl_catalog *cat, const fl_job *job, const char *scenarios_json,
                              const fl_whatif_options *opts, fl_whatif_report **out, fl_error *err)
{
    if (!out)
        return fl_fail(err, FL_EMISUSE, "out", "fl_whatif_scenarios: out is NULL");
    *out = NULL;
    if (!cat || !job || !scenarios_json)
        return fl_fail(err, FL_EMISUSE, "scenarios", "fl_whatif_scenarios: NULL argument");
    if (opts) {
        fl_status vrc = fl_check_version(opts->version, FL_WHATIF_OPTIONS_VERSION, "fl_whatif_options", err);
        if (vrc)
            return vrc;
    }
    json_t *doc;
    fl_status rc = fl_json_parse_object(scenarios_json, "scenarios", &doc, err);
    if (rc)
        return rc;
    json_t *list = json_object_get(doc, "scenarios"), *basej = json_object_get(doc, "base");
    fl_availability *base = NULL;
    if (!json_is_array(list) || json_array_size(list) == 0)
        rc = fl_fail(err, FL_EINVAL, "scenarios", "scenarios: expected a non-empty array \"scenarios\"");
    if (!rc && basej && !json_is_object(basej))
        rc = fl_fail(err, FL_EINVAL, "base", "base: expected an availability object");
    if (!rc && basej) {
        char *txt = json_dumps(basej, 0);
        rc = txt ? fl_availability_from_json(cat, txt, &base, err) : fl_fail(err, FL_ENOMEM, "base", "out of memory");
        if (rc && txt)
            fl_error_prefix_field(err, "base");
        free(txt);
    }
    json_t *rows = json_array();
    size_t i;
    json_t *sc;
    fl_plan_options po;
    fl_plan_options_init(&po);
    if (opts && opts->time_limit_s > 0)
        po.time_limit_s = opts->time_limit_s;
    json_array_foreach(list, i, sc) {
        if (rc)
            break;
        char path[64];
        snprintf(path, sizeof path, "scenarios[%zu]", i);
        const char *name = NULL;
        if (!json_is_object(sc)) {
            rc = fl_fail(err, FL_EINVAL, path, "%s: expected an object", path);
            break;
        }
        if ((rc = fl_json_str(sc, path, "name", &name, err)))
            break;
        fl_availability *av = NULL;
        if ((rc = scenario_av(cat, base, sc, path, &av, err)))
            break;
        fl_plan *plan = NULL;
        fl_error perr;
        fl_error_clear(&perr);
        fl_status prc = fl_plan_job(cat, job, av, &po, &plan, &perr);
        fl_availability_free(av);
        json_t *row = json_pack("{s:s}", "name", name ? name : path);
        if (prc == FL_OK) {
            fl_plan_summary s;
            fl_plan_get_summary(plan, &s, NULL);
            json_object_set_new(row, "feasible", json_true());
            json_object_set_new(row, "throughput",
                                json_real(job->kind == FL_JOB_TRAINING ? s.tokens_per_s : s.throughput_rps));
            json_object_set_new(row, "cost_per_hour", json_real(s.cost_per_hour));
            json_object_set_new(row, "gpus", json_integer(s.gpus));
            json_object_set_new(row, "plan", json_deep_copy(plan->doc));
            fl_plan_free(plan);
        } else if (prc == FL_EINFEASIBLE) {
            json_object_set_new(row, "feasible", json_false());
            json_object_set_new(row, "reason", json_string(perr.message));
        } else {
            json_decref(row);
            if (err)
                *err = perr;
            fl_error_prefix_field(err, path);
            rc = prc;
            break;
        }
        json_array_append_new(rows, row);
        if (opts && opts->progress)
            opts->progress(opts->progress_user, i + 1, json_array_size(list));
    }
    fl_availability_free(base);
    json_decref(doc);
    if (rc) {
        json_decref(rows);
        return rc;
    }
    fl_whatif_report *r = calloc(1, sizeof *r);
    if (!r) {
        json_decref(rows);
        return fl_fail(err, FL_ENOMEM, "scenarios", "out of memory");
    }
    r->doc = json_pack("{s:s, s:s, s:o}", "kind", "scenarios", "work_unit",
                       job->kind == FL_JOB_TRAINING ? "tokens" : "requests", "scenarios", rows);
    *out = r;
    return FL_OK;
}
