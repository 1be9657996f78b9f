/* common/json_util.h — typed reads of jansson values with errors naming the JSON path. */
#ifndef FL_COMMON_JSON_UTIL_H
#define FL_COMMON_JSON_UTIL_H

#include "flotilla/fl_common.h"
#include <jansson.h>
#include <stdio.h>

/* Parse text as a JSON object; `what` names the input in errors ("job", "plan"). */
fl_status fl_json_parse_object(const char *text, const char *what, json_t **out, fl_error *err);
/* The largest input file read (256 MiB): larger files and endless streams fail with FL_EINVAL. */
#define FL_INPUT_MAX ((size_t)256 << 20)
/* Load a whole file into a NUL-terminated buffer (caller frees); the file must be valid UTF-8
 * (FL_EPARSE with line and column otherwise) and at most FL_INPUT_MAX bytes. */
fl_status fl_read_file(const char *path, const char *field, char **out, size_t *len, fl_error *err);

/* getline() that stops a stream once *total (bytes read so far, updated) would pass
 * FL_INPUT_MAX: returns the line length, -1 at end of input or on a read error (check ferror),
 * -2 when the input is too large, -3 at a NUL byte (not a text file). */
long fl_getline_max(char **line, size_t *cap, size_t *total, FILE *f);

/* Optional members: absent or null leaves *out unchanged and returns FL_OK; a member of the
 * wrong type or out of range returns FL_EINVAL naming `path.key`. */
fl_status fl_json_int(json_t *obj, const char *path, const char *key, long min, long max, int *out, fl_error *err);
fl_status fl_json_num(json_t *obj, const char *path, const char *key, double min, double max, double *out, fl_error *err);
fl_status fl_json_bool(json_t *obj, const char *path, const char *key, int *out, fl_error *err);
/* *out points into obj (valid while obj lives). */
fl_status fl_json_str(json_t *obj, const char *path, const char *key, const char **out, fl_error *err);
/* Required variants fail with FL_EINVAL "missing" when absent. */
fl_status fl_json_req_int(json_t *obj, const char *path, const char *key, long min, long max, int *out, fl_error *err);
fl_status fl_json_req_num(json_t *obj, const char *path, const char *key, double min, double max, double *out, fl_error *err);
/* Pick one of `choices` (NULL-terminated); *out = index. */
fl_status fl_json_enum(json_t *obj, const char *path, const char *key, const char *const *choices, int *out, fl_error *err);
/* Levenshtein distance, case-insensitive, inputs capped at 63 characters (for suggestions). */
int fl_edit_distance(const char *a, const char *b);
/* FL_EINVAL naming `path.key` when `obj` has a key not in the NULL-terminated `known` list
 * (suggesting the closest known key); keys starting with '_' are left for the user. */
fl_status fl_json_check_keys(json_t *obj, const char *path, const char *const *known, fl_error *err);
/* Join path and key into buf ("job.allow" + "gpus" → "job.allow.gpus"). */
const char *fl_json_path(char *buf, size_t n, const char *path, const char *key);
/* Dump a JSON value to a caller-owned string (indent 2 when pretty, keys in insertion order). */
char *fl_json_dump(json_t *v, int pretty);

#endif
