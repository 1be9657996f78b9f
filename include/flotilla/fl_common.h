/* flotilla — common vocabulary of the public API: status codes, errors, versions, memory.
 *
 * Conventions (every header of the API follows them):
 *  - Handles are opaque (`fl_catalog *`, `fl_job *`, `fl_plan *`, ...). Whoever receives a handle
 *    from a `*_new`, `*_open` or `*_from_json` call owns it and releases it with the matching
 *    `*_free`. `*_free(NULL)` is a no-op. Using a handle after freeing it is undefined behaviour.
 *  - Every fallible call returns an `fl_status`; `FL_OK` (0) is success. When the caller passes a
 *    non-NULL `fl_error *`, it is filled with the code, a message and the JSON path / field name
 *    of the offending input. On failure, output parameters are left NULL/untouched and nothing is
 *    written half-way.
 *  - Strings returned as `char *` are owned by the caller and released with `fl_free`.
 *    Strings returned as `const char *` belong to the handle they came from.
 *  - No global state: distinct handles may be used from different threads at the same time.
 *    A single handle must not be used from two threads at once unless its documentation says so
 *    (an `fl_catalog` is read-only after opening and may be shared by threads for planning and
 *    simulation; imports into it must not run concurrently with other use).
 *  - The library never prints and never exits the process.
 */
#ifndef FLOTILLA_FL_COMMON_H
#define FLOTILLA_FL_COMMON_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(FL_BUILDING_LIBRARY) && defined(__GNUC__)
#define FL_API __attribute__((visibility("default")))
#else
#define FL_API
#endif

#define FL_VERSION_MAJOR 0
#define FL_VERSION_MINOR 1
#define FL_VERSION_PATCH 0

/* Status codes. Stable: new codes are only ever appended. */
typedef enum fl_status {
    FL_OK = 0,
    FL_EINVAL = 1,       /* an argument or input field is invalid (the error names it) */
    FL_ENOTFOUND = 2,    /* an unknown GPU, model, zone, offering, node or shard */
    FL_EPARSE = 3,       /* malformed JSON, CSV, XML or JSONL (the error gives line/position) */
    FL_EIO = 4,          /* a file could not be read or written */
    FL_ENOMEM = 5,       /* out of memory */
    FL_EINFEASIBLE = 6,  /* no plan satisfies the constraints (the message says which binds) */
    FL_ESOLVER = 7,      /* the MILP solver failed */
    FL_ECATALOG = 8,     /* the catalog file is corrupt or of an unsupported schema version */
    FL_ERANGE = 9,       /* a caller-provided buffer is too small */
    FL_EMISUSE = 10,     /* API misuse: NULL handle, wrong kind of object */
    FL_EGRAPH = 11,      /* the graph library (igraph) failed */
    FL_EBUSY = 12,       /* the catalog is locked by another process: try again */
    FL_ESTORAGE = 13     /* storage error writing the catalog: disk full, I/O error, read-only file */
} fl_status;

/* Filled by fallible calls when non-NULL. Plain struct: allocate it on the stack. */
typedef struct fl_error {
    fl_status code;
    char field[128];   /* JSON path ("job.workload.classes[1].share"), CSV column or option */
    char message[512]; /* human-readable, names the field and the value */
} fl_error;

/* Short name of a status code ("invalid input", "not found", ...). Never NULL. */
FL_API const char *fl_status_str(fl_status s);

/* Reset an error to FL_OK with empty message and field. */
FL_API void fl_error_clear(fl_error *err);

/* Version of the library at run time, "MAJOR.MINOR.PATCH". */
FL_API const char *fl_version(void);
FL_API void fl_version_numbers(int *major, int *minor, int *patch);

/* Release per-thread resources of the solver library (GLPK keeps an environment per thread
 * that used it). Call it in a thread that planned, before the thread exits, when that thread
 * does not use GLPK itself; the main thread need not call it. Any later call re-creates them. */
FL_API void fl_thread_cleanup(void);

/* Release memory returned by the library as `char *` (JSON strings, messages). */
FL_API void fl_free(void *p);

#ifdef __cplusplus
}
#endif
#endif
