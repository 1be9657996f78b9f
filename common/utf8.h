/* common/utf8.h — UTF-8 validation of imported text and character-safe truncation. */
#ifndef FL_COMMON_UTF8_H
#define FL_COMMON_UTF8_H

#include "flotilla/fl_common.h"
#include <stddef.h>

/* Offset of the first byte of s[0, n) that does not start a valid UTF-8 sequence (overlong
 * forms, UTF-16 surrogates and code points above U+10FFFF are invalid), or -1 when all is valid. */
long fl_utf8_invalid(const char *s, size_t n);

/* 1-based line and column (in characters) of byte offset off in s, counting from line `first_line`. */
void fl_text_position(const char *s, size_t off, int first_line, int *line, int *col);

/* FL_EPARSE "<what> line L column C: not valid UTF-8 (byte 0xNN)" naming the first bad byte of
 * s[0, n) (lines counted from first_line), or FL_OK when the text is valid UTF-8. */
fl_status fl_utf8_check(const char *s, size_t n, const char *what, int first_line, fl_error *err);

/* Cut the NUL-terminated s so that it does not end inside a multi-byte character (used after a
 * snprintf that may have truncated). */
void fl_utf8_trim(char *s);

/* Replace every byte of the NUL-terminated s that is not part of valid UTF-8 with '?' (messages
 * that quote input bytes stay printable and valid). */
void fl_utf8_sanitize(char *s);

#endif
