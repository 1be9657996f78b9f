/* common/json_util.c — typed JSON member reads with path-naming errors, file loading. */
#include "common/json_util.h"
#include "common/error.h"
#include "common/utf8.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

const char *fl_json_path(char *buf, size_t n, const char *path, const char *key)
{
    if (path && *path)
        snprintf(buf, n, "%s.%s", path, key);
    else
        snprintf(buf, n, "%s", key);
    return buf;
}

fl_status fl_json_parse_object(const char *text, const char *what, json_t **out, fl_error *err)
{
    json_error_t je;
    *out = NULL;
    if (!text)
        return fl_fail(err, FL_EMISUSE, what, "%s: JSON text is NULL", what);
    json_t *v = json_loads(text, JSON_REJECT_DUPLICATES, &je);
    if (!v)
        return fl_fail(err, FL_EPARSE, what, "%s: malformed JSON at line %d column %d: %s", what, je.line,
                       je.column, je.text);
    if (!json_is_object(v)) {
        json_decref(v);
        return fl_fail(err, FL_EINVAL, what, "%s: expected a JSON object", what);
    }
    *out = v;
    return FL_OK;
}

fl_status fl_read_file(const char *path, const char *field, char **out, size_t *len, fl_error *err)
{
    *out = NULL;
    const char *pre = field && *field ? field : "", *sep = field && *field ? ": " : "";
    FILE *f = fopen(path, "rb");
    if (!f)
        return fl_fail(err, FL_EIO, field, "%s%scannot read %s: %s", pre, sep, path, strerror(errno));
    struct stat st; /* a regular file over the limit fails before reading a byte */
    if (fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode) && (uint64_t)st.st_size > FL_INPUT_MAX) {
        fclose(f);
        return fl_fail(err, FL_EINVAL, field, "%s%s%s is larger than the %d MiB input limit", pre, sep, path,
                       (int)(FL_INPUT_MAX >> 20));
    }
    size_t cap = 65536, n = 0;
    char *buf = malloc(cap);
    int too_big = 0;
    size_t nul_at = (size_t)-1;
    while (buf) {
        size_t r = fread(buf + n, 1, cap - n - 1, f);
        if (r && memchr(buf + n, '\0', r)) { /* text never holds NUL: a binary file or /dev/zero */
            nul_at = (size_t)((char *)memchr(buf + n, '\0', r) - buf);
            break;
        }
        n += r;
        if (r == 0)
            break;
        if (n > FL_INPUT_MAX) { /* /dev/zero, a runaway pipe: stop instead of filling memory */
            too_big = 1;
            break;
        }
        if (n + 1 >= cap) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) { free(buf); buf = NULL; break; }
            buf = nb;
            cap *= 2;
        }
    }
    int bad = ferror(f);
    fclose(f);
    if (!buf)
        return fl_fail(err, FL_ENOMEM, field, "out of memory reading %s", path);
    if (nul_at != (size_t)-1) {
        int line, col;
        fl_text_position(buf, nul_at, 1, &line, &col);
        free(buf);
        return fl_fail(err, FL_EPARSE, field, "%s line %d column %d: a NUL byte (not a text file)", path, line, col);
    }
    if (too_big) {
        free(buf);
        return fl_fail(err, FL_EINVAL, field, "%s%s%s is larger than the %d MiB input limit", pre, sep, path,
                       (int)(FL_INPUT_MAX >> 20));
    }
    if (bad) {
        free(buf);
        return fl_fail(err, FL_EIO, field, "%s%serror reading %s", pre, sep, path);
    }
    buf[n] = '\0';
    /* every file the library reads is text: reject bytes that are not UTF-8 with their position */
    fl_status rc = fl_utf8_check(buf, n, path, 1, err);
    if (rc) {
        free(buf);
        return rc;
    }
    *out = buf;
    if (len)
        *len = n;
    return FL_OK;
}

long fl_getline_max(char **line, size_t *cap, size_t *total, FILE *f)
{
    size_t n = 0;
    int ch;
    for (;;) {
        if (!*line || n + 2 > *cap) {
            size_t nc = *cap ? *cap * 2 : 256;
            char *nl = realloc(*line, nc);
            if (!nl)
                return -1;
            *line = nl;
            *cap = nc;
        }
        if (*total >= FL_INPUT_MAX)
            return -2;
        if ((ch = getc(f)) == EOF)
            break;
        (*total)++;
        if (ch == '\0') /* text never holds NUL: a binary file or /dev/zero fails at once */
            return -3;
        (*line)[n++] = (char)ch;
        if (ch == '\n')
            break;
    }
    (*line)[n] = '\0';
    return n ? (long)n : -1;
}

static json_t *member(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    return json_is_null(v) ? NULL : v;
}

fl_status fl_json_num(json_t *obj, const char *path, const char *key, double min, double max, double *out, fl_error *err)
{
    char p[128];
    json_t *v = member(obj, key);
    if (!v)
        return FL_OK;
    if (!json_is_number(v))
        return fl_fail(err, FL_EINVAL, fl_json_path(p, sizeof p, path, key), "%s: expected a number", p);
    double d = json_number_value(v);
    if (!isfinite(d) || d < min || d > max)
        return fl_fail(err, FL_EINVAL, fl_json_path(p, sizeof p, path, key), "%s: %g is out of range [%g, %g]", p, d,
                       min, max);
    *out = d;
    return FL_OK;
}

fl_status fl_json_int(json_t *obj, const char *path, const char *key, long min, long max, int *out, fl_error *err)
{
    char p[128];
    json_t *v = member(obj, key);
    if (!v)
        return FL_OK;
    double d;
    if (json_is_integer(v))
        d = (double)json_integer_value(v);
    else if (json_is_real(v) && json_real_value(v) == floor(json_real_value(v)))
        d = json_real_value(v);
    else
        return fl_fail(err, FL_EINVAL, fl_json_path(p, sizeof p, path, key), "%s: expected an integer", p);
    if (d < (double)min || d > (double)max)
        return fl_fail(err, FL_EINVAL, fl_json_path(p, sizeof p, path, key), "%s: %.0f is out of range [%ld, %ld]", p,
                       d, min, max);
    *out = (int)d;
    return FL_OK;
}

fl_status fl_json_bool(json_t *obj, const char *path, const char *key, int *out, fl_error *err)
{
    char p[128];
    json_t *v = member(obj, key);
    if (!v)
        return FL_OK;
    if (!json_is_boolean(v))
        return fl_fail(err, FL_EINVAL, fl_json_path(p, sizeof p, path, key), "%s: expected true or false", p);
    *out = json_is_true(v);
    return FL_OK;
}

fl_status fl_json_str(json_t *obj, const char *path, const char *key, const char **out, fl_error *err)
{
    char p[128];
    json_t *v = member(obj, key);
    if (!v)
        return FL_OK;
    if (!json_is_string(v))
        return fl_fail(err, FL_EINVAL, fl_json_path(p, sizeof p, path, key), "%s: expected a string", p);
    *out = json_string_value(v);
    return FL_OK;
}

fl_status fl_json_req_int(json_t *obj, const char *path, const char *key, long min, long max, int *out, fl_error *err)
{
    char p[128];
    if (!member(obj, key))
        return fl_fail(err, FL_EINVAL, fl_json_path(p, sizeof p, path, key), "%s: missing (required)", p);
    return fl_json_int(obj, path, key, min, max, out, err);
}

fl_status fl_json_req_num(json_t *obj, const char *path, const char *key, double min, double max, double *out, fl_error *err)
{
    char p[128];
    if (!member(obj, key))
        return fl_fail(err, FL_EINVAL, fl_json_path(p, sizeof p, path, key), "%s: missing (required)", p);
    return fl_json_num(obj, path, key, min, max, out, err);
}

fl_status fl_json_enum(json_t *obj, const char *path, const char *key, const char *const *choices, int *out, fl_error *err)
{
    const char *s = NULL;
    fl_status rc = fl_json_str(obj, path, key, &s, err);
    if (rc || !s)
        return rc;
    for (int i = 0; choices[i]; i++)
        if (strcasecmp(choices[i], s) == 0) {
            *out = i;
            return FL_OK;
        }
    char p[128], list[256] = "";
    size_t off = 0;
    for (int i = 0; choices[i] && off < sizeof list; i++)
        off += (size_t)snprintf(list + off, sizeof list - off, "%s%s", i ? ", " : "", choices[i]);
    return fl_fail(err, FL_EINVAL, fl_json_path(p, sizeof p, path, key), "%s: '%s' is not one of: %s", p, s, list);
}

char *fl_json_dump(json_t *v, int pretty)
{
    return json_dumps(v, (pretty ? JSON_INDENT(2) : JSON_COMPACT) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(6));
}

int fl_edit_distance(const char *a, const char *b)
{
    int la = (int)strlen(a), lb = (int)strlen(b);
    if (la > 63) la = 63;
    if (lb > 63) lb = 63;
    int d[64][64];
    for (int i = 0; i <= la; i++) d[i][0] = i;
    for (int j = 0; j <= lb; j++) d[0][j] = j;
    for (int i = 1; i <= la; i++)
        for (int j = 1; j <= lb; j++) {
            int c = tolower((unsigned char)a[i - 1]) != tolower((unsigned char)b[j - 1]);
            int v = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < v) v = d[i][j - 1] + 1;
            if (d[i - 1][j - 1] + c < v) v = d[i - 1][j - 1] + c;
            d[i][j] = v;
        }
    return d[la][lb];
}

fl_status fl_json_check_keys(json_t *obj, const char *path, const char *const *known, fl_error *err)
{
    if (!json_is_object(obj))
        return FL_OK;
    const char *key;
    json_t *v;
    json_object_foreach(obj, key, v) {
        if (key[0] == '_')
            continue;
        const char *best = NULL;
        int best_d = 1 << 30;
        int found = 0;
        for (int i = 0; known[i]; i++) {
            if (strcmp(known[i], key) == 0) {
                found = 1;
                break;
            }
            int d = fl_edit_distance(known[i], key);
            if (d < best_d) {
                best_d = d;
                best = known[i];
            }
        }
        if (found)
            continue;
        char f[256];
        fl_json_path(f, sizeof f, path, key);
        if (best && best_d <= 3 + (int)strlen(key) / 4)
            return fl_fail(err, FL_EINVAL, f, "%s: unknown field (did you mean %s?)", f, best);
        return fl_fail(err, FL_EINVAL, f, "%s: unknown field (prefix it with '_' to keep a comment)", f);
    }
    return FL_OK;
}
