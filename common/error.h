/* common/error.h — internal helpers to fill fl_error (printf-style, with the field name). */
#ifndef FL_COMMON_ERROR_H
#define FL_COMMON_ERROR_H

#include "flotilla/fl_common.h"

#if defined(__GNUC__)
#define FL_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define FL_PRINTF(a, b)
#endif

/* Fill err (when non-NULL) and return code, so callers can `return fl_fail(...)`. */
fl_status fl_fail(fl_error *err, fl_status code, const char *field, const char *fmt, ...) FL_PRINTF(4, 5);

/* Prefix the field of an already-filled error with `prefix.` (used when a nested parser fails). */
void fl_error_prefix_field(fl_error *err, const char *prefix);

#endif
