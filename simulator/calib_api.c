/* simulator/calib_api.c — fl_calibration_report: the public face of the simulators' calibration
 * (training: train_calib_report.c). */
#include "simulator/train_calib.h"
#include "common/error.h"

#include <stdlib.h>
#include <string.h>

fl_status fl_calibration_report(const fl_catalog *cat, const char *gpu, const char *framework, char **json_out,
                                fl_error *err)
{
    if (!cat || !json_out)
        return fl_fail(err, FL_EMISUSE, "calibrate", "fl_calibration_report: catalog or json_out is NULL");
    *json_out = NULL;
    json_t *train = NULL;
    fl_status rc = fl_train_calib_report(cat, gpu, framework, &train, err);
    if (rc)
        return rc;
    json_t *doc = json_object();
    json_object_set_new(doc, "training", train);
    char *s = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6));
    json_decref(doc);
    if (!s)
        return fl_fail(err, FL_ENOMEM, "calibrate", "out of memory");
    *json_out = s;
    return FL_OK;
}
