/* tests/fuzz/fuzz_common.h — shared pieces of the libFuzzer harnesses: the built-in catalog,
 * the API contract checks (a failing call returns the code it stores in err, with a message and
 * field that are valid UTF-8), inputs as NUL-terminated text or as a file (memfd). */
#ifndef FL_FUZZ_COMMON_H
#define FL_FUZZ_COMMON_H

#define _GNU_SOURCE 1
#include "flotilla/flotilla.h"
#include "common/utf8.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#ifndef FUZZ_DATA_DIR
#define FUZZ_DATA_DIR "tests/data"
#endif

/* Abort (a libFuzzer crash) with a message when cond is false. */
#define FUZZ_ASSERT(cond, ...)                                                                     \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "contract violated at %s:%d: ", __FILE__, __LINE__);                 \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* The contract of every fallible call: FL_OK, or a failure whose status equals err.code, with a
 * non-empty message; message and field are valid UTF-8 (never cut inside a character). */
static inline void fuzz_check(fl_status rc, const fl_error *err, const char *call)
{
    if (rc == FL_OK)
        return;
    FUZZ_ASSERT(rc == err->code, "%s returned %d but err.code is %d (%s)", call, rc, err->code, err->message);
    FUZZ_ASSERT(err->message[0], "%s failed (%d) without a message", call, rc);
    FUZZ_ASSERT(fl_utf8_invalid(err->message, strlen(err->message)) < 0, "%s: message is not UTF-8", call);
    FUZZ_ASSERT(fl_utf8_invalid(err->field, strlen(err->field)) < 0, "%s: field is not UTF-8", call);
    FUZZ_ASSERT(rc != FL_EMISUSE && rc != FL_ENOMEM, "%s: %d (%s) on a well-formed call", call, rc, err->message);
}

/* The built-in catalog, opened once per process. */
static inline fl_catalog *fuzz_catalog(void)
{
    static fl_catalog *cat;
    if (!cat && fl_catalog_open(NULL, &cat, NULL) != FL_OK)
        abort();
    return cat;
}

/* data as a NUL-terminated string (caller frees); NUL bytes inside stay (the text ends there). */
static inline char *fuzz_text(const uint8_t *data, size_t size)
{
    char *t = malloc(size + 1);
    if (!t)
        abort();
    memcpy(t, data, size);
    t[size] = '\0';
    return t;
}

/* data as a file: an in-memory file named /proc/self/fd/N in path (close *fd after use). */
static inline void fuzz_file(const uint8_t *data, size_t size, char *path, size_t cap, int *fd)
{
    *fd = memfd_create("fuzz", 0);
    if (*fd < 0)
        abort();
    if (size && write(*fd, data, size) != (ssize_t)size)
        abort();
    snprintf(path, cap, "/proc/self/fd/%d", *fd);
}

/* A whole file of tests/data (for fixed companions of the fuzzed input); aborts when missing. */
static inline char *fuzz_fixture(const char *name)
{
    char p[1024];
    snprintf(p, sizeof p, "%s/%s", FUZZ_DATA_DIR, name);
    FILE *f = fopen(p, "rb");
    if (!f) {
        fprintf(stderr, "fuzz fixture %s missing\n", p);
        abort();
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    if (!b || fread(b, 1, (size_t)n, f) != (size_t)n)
        abort();
    b[n] = '\0';
    fclose(f);
    return b;
}

/* A fingerprint of a catalog table (its CSV export), to check that a failed import changed nothing. */
static inline char *fuzz_table(const fl_catalog *cat, const char *table)
{
    char *out = NULL;
    fl_error err;
    fl_error_clear(&err);
    if (fl_catalog_export(cat, table, 0, &out, &err) != FL_OK) {
        fprintf(stderr, "export %s: %s\n", table, err.message);
        abort();
    }
    return out;
}

#endif
