/* common/error.c — status strings, error filling, version, fl_free. */
#include "common/error.h"
#include "common/utf8.h"
#include "fl_version_gen.h" /* FL_VERSION_STRING from meson */

#include <glpk.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

_Static_assert(FL_VERSION_MAJOR == FL_GEN_VERSION_MAJOR && FL_VERSION_MINOR == FL_GEN_VERSION_MINOR &&
               FL_VERSION_PATCH == FL_GEN_VERSION_PATCH,
               "include/flotilla/fl_common.h version differs from meson project version");

const char *fl_status_str(fl_status s)
{
    switch (s) {
    case FL_OK: return "ok";
    case FL_EINVAL: return "invalid input";
    case FL_ENOTFOUND: return "not found";
    case FL_EPARSE: return "parse error";
    case FL_EIO: return "i/o error";
    case FL_ENOMEM: return "out of memory";
    case FL_EINFEASIBLE: return "infeasible";
    case FL_ESOLVER: return "solver failure";
    case FL_ECATALOG: return "catalog error";
    case FL_ERANGE: return "buffer too small";
    case FL_EMISUSE: return "API misuse";
    case FL_EGRAPH: return "graph library failure";
    case FL_EBUSY: return "catalog busy, try again";
    case FL_ESTORAGE: return "storage error";
    }
    return "unknown status";
}

void fl_error_clear(fl_error *err)
{
    if (!err)
        return;
    err->code = FL_OK;
    err->field[0] = '\0';
    err->message[0] = '\0';
}

fl_status fl_fail(fl_error *err, fl_status code, const char *field, const char *fmt, ...)
{
    if (!err)
        return code;
    err->code = code;
    snprintf(err->field, sizeof err->field, "%s", field ? field : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    /* a long message or field cut by the buffer size never ends inside a character */
    fl_utf8_trim(err->field);
    fl_utf8_trim(err->message);
    /* a message quoting input bytes that are not UTF-8 shows them as '?' */
    fl_utf8_sanitize(err->field);
    fl_utf8_sanitize(err->message);
    return code;
}

void fl_error_prefix_field(fl_error *err, const char *prefix)
{
    if (!err || !prefix || !*prefix)
        return;
    /* a message that starts with the field's path ("zones.x: ...") gets the same prefix, so the
     * user reads the full path ("scenarios[0].availability.zones.x: ...") */
    size_t fl = strlen(err->field);
    if (fl && strncmp(err->message, err->field, fl) == 0 && err->message[fl] == ':') {
        char mbuf[sizeof err->message];
        snprintf(mbuf, sizeof mbuf, "%s.%s", prefix, err->message);
        memcpy(err->message, mbuf, sizeof mbuf);
        fl_utf8_trim(err->message);
    }
    char buf[sizeof err->field];
    if (err->field[0])
        snprintf(buf, sizeof buf, "%s.%s", prefix, err->field);
    else
        snprintf(buf, sizeof buf, "%s", prefix);
    memcpy(err->field, buf, sizeof buf);
    fl_utf8_trim(err->field);
}

const char *fl_version(void)
{
    return FL_VERSION_STRING;
}

void fl_version_numbers(int *major, int *minor, int *patch)
{
    if (major) *major = FL_VERSION_MAJOR;
    if (minor) *minor = FL_VERSION_MINOR;
    if (patch) *patch = FL_VERSION_PATCH;
}

void fl_free(void *p)
{
    free(p);
}

void fl_thread_cleanup(void)
{
    glp_free_env();
}

fl_status fl_check_version(unsigned int version, unsigned int current, const char *struct_name, fl_error *err)
{
    if (version >= 1 && version <= current)
        return FL_OK;
    char field[96];
    snprintf(field, sizeof field, "%s.version", struct_name);
    return fl_fail(err, FL_EINVAL, field,
                   "%s.version is %u: %s (this library reads versions 1 to %u; fill the struct with its "
                   "_init function or FL_..._INIT macro)",
                   struct_name, version, version == 0 ? "not initialised" : "newer than this library", current);
}
