/* flotilla — heterogeneous GPU cluster planner and simulator. Umbrella header of the public API.
 * See docs/api.md for a tour. */
#ifndef FLOTILLA_H
#define FLOTILLA_H

#include "fl_common.h"
#include "fl_catalog.h"
#include "fl_job.h"
#include "fl_plan.h"
#include "fl_place.h"
#include "fl_whatif.h"

#endif
