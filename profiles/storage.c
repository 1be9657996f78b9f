/* profiles/storage.c — catalog (SQLite) failures told apart from bad rows and corrupt files. */
#include "profiles/storage.h"

#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>

fl_status fl_catalog_fail(const fl_catalog *cat, fl_error *err, fl_status code, const char *field, const char *fmt, ...)
{
    int e = cat && cat->db ? sqlite3_errcode(cat->db) & 0xff : SQLITE_OK;
    const char *path = cat && cat->path ? cat->path : "(catalog)";
    switch (e) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return fl_fail(err, FL_EBUSY, "catalog", "catalog %s is busy (another process is writing it); try again", path);
    case SQLITE_FULL:
    case SQLITE_IOERR:
    case SQLITE_READONLY:
    case SQLITE_CANTOPEN:
        return fl_fail(err, FL_ESTORAGE, "catalog", "catalog %s: storage error: %s (the catalog is unchanged)", path,
                       sqlite3_errmsg(cat->db));
    case SQLITE_NOMEM:
        return fl_fail(err, FL_ENOMEM, "catalog", "catalog %s: out of memory", path);
    default:
        break;
    }
    if (!err)
        return code;
    char msg[sizeof err->message];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return fl_fail(err, code, field, "%s", msg);
}
