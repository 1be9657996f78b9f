/* cli/util.c — argument, file and error helpers of the flotilla program. */
#include "cli/cli.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int cli_fail(const fl_error *err)
{
    fprintf(stderr, "flotilla: %s\n", err->message[0] ? err->message : fl_status_str(err->code));
    switch (err->code) {
    case FL_EINFEASIBLE: return 3;
    case FL_ENOMEM: case FL_ESOLVER: case FL_EGRAPH: return 4;
    default: return 1;
    }
}

/* The command being run and its help text, for usage errors (the program runs one command). */
static const char *cur_cmd;
static const char *cur_help;

void cli_set_command(const char *cmd, const char *help)
{
    cur_cmd = cmd;
    cur_help = help;
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "flotilla %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    if (cur_help && cur_cmd && strcmp(cmd, cur_cmd) == 0) {
        /* the usage lines: the help text up to its first blank line */
        const char *end = strstr(cur_help, "\n\n");
        fwrite(cur_help, 1, end ? (size_t)(end - cur_help) + 1 : strlen(cur_help), stderr);
    }
    fprintf(stderr, "(see `flotilla %s --help`)\n", cmd);
    return 2;
}

int cli_out_of_memory(const char *what)
{
    fprintf(stderr, "flotilla: internal error: out of memory (%s)\n", what);
    return 4;
}

int cli_common_opt(cli_common *c, int argc, char **argv, int *i)
{
    const char *a = argv[*i];
    if (strcmp(a, "--json") == 0) {
        c->json = 1;
        return 1;
    }
    if (strcmp(a, "--catalog") == 0 || strcmp(a, "-o") == 0 || strcmp(a, "--output") == 0) {
        if (*i + 1 >= argc) {
            cli_usage_error(cur_cmd ? cur_cmd : "", "%s needs a value", a);
            return -1;
        }
        if (strcmp(a, "--catalog") == 0)
            c->catalog_path = argv[++*i];
        else
            c->out_path = argv[++*i];
        return 1;
    }
    return 0;
}

int cli_open_catalog(const cli_common *c, fl_catalog **cat)
{
    const char *path = c->catalog_path;
    if (!path) {
        const char *env = getenv("FLOTILLA_CATALOG");
        if (env && *env)
            path = env;
    }
    fl_error err;
    fl_error_clear(&err);
    if (fl_catalog_open(path, cat, &err) != FL_OK)
        return cli_fail(&err);
    return 0;
}

char *cli_read_file(const char *path, const char *what)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "flotilla: cannot read %s %s: %s\n", what, path, strerror(errno));
        return NULL;
    }
    size_t cap = 65536, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        size_t r = fread(buf + n, 1, cap - n - 1, f);
        n += r;
        if (r == 0)
            break;
        if (n + 1 >= cap) {
            char *nb = realloc(buf, cap * 2);
            if (!nb) { free(buf); buf = NULL; break; }
            buf = nb;
            cap *= 2;
        }
    }
    int bad = ferror(f);
    if (f != stdin)
        fclose(f);
    if (!buf || bad) {
        fprintf(stderr, "flotilla: error reading %s %s\n", what, path);
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    return buf;
}

int cli_write_output(const char *path, const char *text)
{
    if (!path || strcmp(path, "-") == 0) {
        fputs(text, stdout);
        fputc('\n', stdout);
        return fflush(stdout) == 0 ? 0 : 1;
    }
    size_t n = strlen(path) + 32;
    char *tmp = malloc(n);
    if (!tmp)
        return cli_out_of_memory("writing the output");
    snprintf(tmp, n, "%s.tmp.%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "wb");
    if (!f) {
        fprintf(stderr, "flotilla: cannot write %s: %s\n", path, strerror(errno));
        free(tmp);
        return 1;
    }
    int ok = fputs(text, f) >= 0 && fputc('\n', f) != EOF;
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp, path) != 0) {
        fprintf(stderr, "flotilla: cannot write %s: %s\n", path, strerror(errno));
        remove(tmp);
        free(tmp);
        return 1;
    }
    free(tmp);
    return 0;
}

int cli_parse_int(const char *opt, const char *v, int min, int max, int *out)
{
    char *end;
    errno = 0;
    long x = v ? strtol(v, &end, 10) : 0;
    if (!v || !*v || *end || errno || x < min || x > max) {
        cli_usage_error(cur_cmd ? cur_cmd : "", "%s expects a whole number in [%d, %d], got '%s'", opt, min, max,
                        v ? v : "");
        return -1;
    }
    *out = (int)x;
    return 0;
}

int cli_parse_double(const char *opt, const char *v, double min, double max, double *out)
{
    char *end;
    double x = v ? strtod(v, &end) : 0;
    if (!v || !*v || *end || !isfinite(x) || x < min || x > max) {
        cli_usage_error(cur_cmd ? cur_cmd : "", "%s expects a number in [%g, %g], got '%s'", opt, min, max,
                        v ? v : "");
        return -1;
    }
    *out = x;
    return 0;
}

int cli_stderr_tty(void)
{
    return isatty(2);
}
