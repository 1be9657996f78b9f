/* profiles/storage.h — catalog (SQLite) failures told apart: a busy catalog, a storage error
 * (disk full, I/O error, read-only file), or a bad row / corrupt file. */
#ifndef FL_PROFILES_STORAGE_H
#define FL_PROFILES_STORAGE_H

#include "profiles/catalog.h"
#include "common/error.h"

/* Fill err after a failed SQLite call on cat: FL_EBUSY ("busy, try again") when another process
 * holds the catalog locked, FL_ESTORAGE when the disk is full, an I/O error happened or the file
 * is read-only, FL_ENOMEM when SQLite ran out of memory; otherwise `code` with the printf-style
 * message. Returns the code stored. */
fl_status fl_catalog_fail(const fl_catalog *cat, fl_error *err, fl_status code, const char *field, const char *fmt, ...)
    FL_PRINTF(5, 6);

#endif
