/* flotilla — what-if replay of GPU availability changes. */
#ifndef FLOTILLA_FL_WHATIF_H
#define FLOTILLA_FL_WHATIF_H

#include "fl_plan.h"

#ifdef __cplusplus
extern "C" {
#endif

#ifdef __cplusplus
}
#endif
#endif
