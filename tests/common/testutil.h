/* tests/common/testutil.h — helpers shared by the test programs: run the CLI, read test data. */
#ifndef FL_TESTUTIL_H
#define FL_TESTUTIL_H

#include <jansson.h>
#include <stddef.h>

typedef struct cli_result {
    int status;      /* exit code */
    char *out;       /* stdout (owned) */
    char *err;       /* stderr (owned) */
} cli_result;

/* Run `$FLOTILLA_BIN args...` (NULL-terminated) with optional stdin text; capture everything. */
cli_result run_cli(const char *stdin_text, const char *arg0, ...);
void cli_result_free(cli_result *r);
/* Parse r->out as JSON (NULL when it is not). */
json_t *cli_json(const cli_result *r);
/* Path of a file in tests/data (static buffer, valid until the next call). */
const char *test_data(const char *name);
/* The whole file as a NUL-terminated string (caller frees), or NULL when it cannot be read. */
char *test_read_text(const char *path);
/* The test program's private temporary directory (under $TMPDIR), removed with its contents at
 * exit; every temporary file of the tests lives in it. */
const char *test_tmpdir(void);
/* Write text to a fresh temporary file; returns its path (static buffer per slot 0..7). */
const char *temp_file(int slot, const char *suffix, const char *text);
/* A fresh temporary path that does not exist yet (slot 0..7). */
const char *temp_path(int slot, const char *suffix);

#endif
