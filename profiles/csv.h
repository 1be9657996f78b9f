/* profiles/csv.h — a small RFC 4180 CSV reader (quoted fields, "" escapes, CRLF), in memory. */
#ifndef FL_PROFILES_CSV_H
#define FL_PROFILES_CSV_H

#include <stddef.h>

typedef struct fl_csv {
    const char *p, *end;
    int line;            /* 1-based line number of the row last read */
    char **fields;       /* the row last read (valid until the next call) */
    size_t n_fields, cap_fields;
    char *buf; size_t buf_len, buf_cap;
} fl_csv;

void fl_csv_init(fl_csv *c, const char *text, size_t len);
/* Read the next row. Returns 1 with c->fields set, 0 at end of input, -1 on a malformed row
 * (unterminated quote). Blank lines are skipped. */
int fl_csv_next(fl_csv *c);
void fl_csv_free(fl_csv *c);
/* Index of column `name` in a header row (case-insensitive), or -1. */
int fl_csv_col(const fl_csv *header, const char *name);

#endif
