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
/* FL_EINVAL naming `<struct_name>.version` unless 1 <= version <= current (docs/api.md: a
 * version 0 is an uninitialised struct, a larger one a caller built against a newer header). */
fl_status fl_check_version(unsigned int version, unsigned int current, const char *struct_name, fl_error *err);

/* The code an earlier call stored in err (when err is non-NULL and holds one), else fallback: for
 * returning after a call that fills err but returns an index, so the status always equals err->code. */
static inline fl_status fl_err_code(const fl_error *err, fl_status fallback)
{
    return err && err->code != FL_OK ? err->code : fallback;
}

/* Prefix the field of an already-filled error with `prefix.` (used when a nested parser fails). */
void fl_error_prefix_field(fl_error *err, const char *prefix);

#endif
