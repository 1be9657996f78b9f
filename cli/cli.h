/* cli/cli.h — shared helpers of the `flotilla` program (argument handling, output, errors).
 * The program is a thin client of the library: every command calls the public API. */
#ifndef FL_CLI_H
#define FL_CLI_H

#include "flotilla/flotilla.h"
#include <jansson.h>
#include <stdio.h>

/* Options every command accepts. */
typedef struct cli_common {
    const char *catalog_path;  /* --catalog, or $FLOTILLA_CATALOG, or NULL (built-in) */
    int json;                  /* --json */
    const char *out_path;      /* -o / --output */
} cli_common;

/* Print "flotilla: <message>" to stderr for a failed call; returns the exit code (1 for bad
 * input, 2 for usage errors, 3 for infeasible, 4 for internal failures). */
int cli_fail(const fl_error *err);
/* Usage errors print the message, then the usage lines of the current command's help (set by
 * cli_set_command at the start of each command) on stderr; they return 2. */
int cli_usage_error(const char *cmd, const char *fmt, ...);
void cli_set_command(const char *cmd, const char *help);
/* Print "flotilla: internal error: out of memory (<what>)" and return 4. */
int cli_out_of_memory(const char *what);

/* Consume a common option at argv[*i] (advancing *i past its value). 1 when consumed, 0 when
 * not a common option, -1 on a missing value (usage error printed; exit with 2). */
int cli_common_opt(cli_common *c, int argc, char **argv, int *i);
/* Open the catalog named by the common options. */
int cli_open_catalog(const cli_common *c, fl_catalog **cat);
/* The largest input file a command reads (256 MiB, like the library's importers). */
#define CLI_INPUT_MAX ((size_t)256 << 20)
/* Read a whole text file ("-" = stdin) into a NUL-terminated buffer; prints the error. A file
 * larger than CLI_INPUT_MAX or holding a NUL byte is refused (so /dev/zero fails at once). */
char *cli_read_file(const char *path, const char *what);
/* Write text (+ newline) to path, or to stdout when path is NULL or "-". A regular file (or a new
 * one) is replaced atomically: a temporary file in the same directory, fsync, rename, the old
 * file's mode kept, the temporary removed on every failure and on SIGINT/SIGTERM/SIGHUP/SIGXFSZ.
 * A symlink is followed (its target replaced); a FIFO, device or /dev/stdout is written to
 * directly, never replaced. Returns 0, 1 (cannot write) or 4 (storage full or I/O error). */
int cli_write_output(const char *path, const char *text);
/* Parse a positive integer option value. */
int cli_parse_int(const char *opt, const char *v, int min, int max, int *out);
int cli_parse_double(const char *opt, const char *v, double min, double max, double *out);
/* 1 when stderr is a terminal (progress output allowed). */
int cli_stderr_tty(void);

/* Human-readable tables of plans (cli/table_train.c, cli/table_serve.c). */
void cli_print_training_plan(FILE *f, json_t *doc);
void cli_print_serving_plan(FILE *f, json_t *doc);

/* Commands. */
int cmd_profiles(int argc, char **argv);
int cmd_plan(int argc, char **argv);
int cmd_simulate(int argc, char **argv);
int cmd_estimate(int argc, char **argv);
int cmd_place(int argc, char **argv);
int cmd_whatif(int argc, char **argv);
int cmd_export(int argc, char **argv);

#endif
