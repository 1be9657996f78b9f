/* flotilla — placement of plans onto concrete nodes by graph matching (igraph). */
#ifndef FLOTILLA_FL_PLACE_H
#define FLOTILLA_FL_PLACE_H

#include "fl_plan.h"

#ifdef __cplusplus
extern "C" {
#endif

#ifdef __cplusplus
}
#endif
#endif
