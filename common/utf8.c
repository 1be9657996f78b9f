/* common/utf8.c — UTF-8 validation of imported text and character-safe truncation. */
#include "common/utf8.h"
#include "common/error.h"

#include <string.h>

/* Length of the valid UTF-8 sequence at s[0, n), or 0 when it is not valid. */
static size_t seq_len(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    if (c < 0x80)
        return 1;
    size_t len;
    unsigned cp;
    if (c >= 0xC2 && c <= 0xDF) { len = 2; cp = c & 0x1F; }
    else if (c >= 0xE0 && c <= 0xEF) { len = 3; cp = c & 0x0F; }
    else if (c >= 0xF0 && c <= 0xF4) { len = 4; cp = c & 0x07; }
    else return 0; /* continuation byte, overlong lead 0xC0/0xC1, or 0xF5.. */
    if (n < len)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return len;
}

long fl_utf8_invalid(const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < n) {
        if (u[i] < 0x80) { /* ASCII fast path */
            i++;
            continue;
        }
        size_t l = seq_len(u + i, n - i);
        if (!l)
            return (long)i;
        i += l;
    }
    return -1;
}

void fl_text_position(const char *s, size_t off, int first_line, int *line, int *col)
{
    int l = first_line, c = 1;
    for (size_t i = 0; i < off; i++) {
        unsigned char b = (unsigned char)s[i];
        if (b == '\n') {
            l++;
            c = 1;
        } else if ((b & 0xC0) != 0x80) {
            c++; /* count characters, not continuation bytes */
        }
    }
    *line = l;
    *col = c;
}

fl_status fl_utf8_check(const char *s, size_t n, const char *what, int first_line, fl_error *err)
{
    long bad = fl_utf8_invalid(s, n);
    if (bad < 0)
        return FL_OK;
    int line, col;
    fl_text_position(s, (size_t)bad, first_line, &line, &col);
    return fl_fail(err, FL_EPARSE, what, "%s line %d column %d: not valid UTF-8 (byte 0x%02X)", what, line, col,
                   (unsigned)(unsigned char)s[bad]);
}

void fl_utf8_trim(char *s)
{
    size_t n = strlen(s);
    if (n == 0)
        return;
    /* find the start of the last character and check that it is complete */
    size_t i = n;
    int back = 0;
    while (i > 0 && back < 4 && ((unsigned char)s[i - 1] & 0xC0) == 0x80) {
        i--;
        back++;
    }
    if (i == 0)
        return;
    unsigned char lead = (unsigned char)s[i - 1];
    size_t want = lead < 0x80 ? 1 : lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
    if (lead >= 0x80 && (size_t)back + 1 < want)
        s[i - 1] = '\0';
}

void fl_utf8_sanitize(char *s)
{
    size_t n = strlen(s), i = 0;
    while (i < n) {
        long bad = fl_utf8_invalid(s + i, n - i);
        if (bad < 0)
            break;
        s[i + (size_t)bad] = '?';
        i += (size_t)bad + 1;
    }
}
