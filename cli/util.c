/* cli/util.c — argument, file and error helpers of the flotilla program. */
#include "cli/cli.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <sys/stat.h>
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
    case FL_ENOMEM: case FL_ESOLVER: case FL_EGRAPH: case FL_EBUSY: case FL_ESTORAGE: return 4;
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
    struct stat st;
    if (fstat(fileno(f), &st) == 0 && S_ISREG(st.st_mode) && (size_t)st.st_size > CLI_INPUT_MAX) {
        fprintf(stderr, "flotilla: %s %s is larger than the %d MiB input limit\n", what, path,
                (int)(CLI_INPUT_MAX >> 20));
        if (f != stdin)
            fclose(f);
        return NULL;
    }
    size_t cap = 65536, n = 0;
    char *buf = malloc(cap);
    const char *problem = NULL;
    while (buf) {
        size_t r = fread(buf + n, 1, cap - n - 1, f);
        /* inputs are text: a NUL byte (/dev/zero, a binary file) stops the read at once */
        const char *nul = r ? memchr(buf + n, '\0', r) : NULL;
        if (nul) {
            fprintf(stderr, "flotilla: %s %s is not a text file (a NUL byte at offset %zu)\n", what, path,
                    (size_t)(nul - buf));
            problem = "";
            break;
        }
        n += r;
        if (r == 0)
            break;
        if (n > CLI_INPUT_MAX) { /* an endless stream: stop instead of filling memory */
            fprintf(stderr, "flotilla: %s %s is larger than the %d MiB input limit\n", what, path,
                    (int)(CLI_INPUT_MAX >> 20));
            problem = "";
            break;
        }
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
    if (problem) {
        free(buf);
        return NULL;
    }
    if (!buf || bad) {
        fprintf(stderr, "flotilla: error reading %s %s\n", what, path);
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    return buf;
}

/* The temporary file of an -o write in progress, removed by the signal handler when the
 * program is interrupted (SIGINT, SIGTERM, SIGHUP, SIGXFSZ) before the rename. */
static char out_tmp[4096];
static volatile sig_atomic_t out_tmp_live;
static const int out_signals[] = {SIGINT, SIGTERM, SIGHUP, SIGXFSZ};
static struct sigaction out_old[sizeof out_signals / sizeof out_signals[0]];

/* Remove the temporary file, then die of the same signal with its previous disposition. */
static void out_on_signal(int sig)
{
    if (out_tmp_live)
        unlink(out_tmp);
    out_tmp_live = 0;
    for (size_t i = 0; i < sizeof out_signals / sizeof out_signals[0]; i++)
        if (out_signals[i] == sig)
            sigaction(sig, &out_old[i], NULL);
    raise(sig);
}

static void out_guard(int on)
{
    for (size_t i = 0; i < sizeof out_signals / sizeof out_signals[0]; i++) {
        if (on) {
            struct sigaction sa;
            memset(&sa, 0, sizeof sa);
            sa.sa_handler = out_on_signal;
            sigemptyset(&sa.sa_mask);
            sigaction(out_signals[i], &sa, &out_old[i]);
        } else {
            sigaction(out_signals[i], &out_old[i], NULL);
        }
    }
}

/* Write all of buf to fd (retrying short writes and EINTR); 0 on success, -1 with errno. */
static int write_all(int fd, const char *buf, size_t n)
{
    while (n) {
        ssize_t w = write(fd, buf, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        buf += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Write text + newline straight into an existing non-regular file (a terminal, FIFO, device,
 * /dev/stdout): such a target is never replaced. */
static int write_direct(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_NOCTTY | O_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr, "flotilla: cannot write %s: %s\n", path, strerror(errno));
        return 1;
    }
    int ok = write_all(fd, text, strlen(text)) == 0 && write_all(fd, "\n", 1) == 0;
    int e = errno;
    if (close(fd) != 0 && ok) {
        ok = 0;
        e = errno;
    }
    if (!ok) {
        fprintf(stderr, "flotilla: cannot write %s: %s\n", path, strerror(e));
        return e == ENOSPC || e == EIO || e == EDQUOT || e == EFBIG ? 4 : 1;
    }
    return 0;
}

/* The descriptor (1 or 2) whose file is st, or 0: -o /dev/stdout with stdout redirected to a file
 * is written through that descriptor (its offset and append mode), never replaced. */
static int std_stream(const struct stat *st)
{
    for (int fd = 1; fd <= 2; fd++) {
        struct stat s;
        if (fstat(fd, &s) == 0 && s.st_dev == st->st_dev && s.st_ino == st->st_ino)
            return fd;
    }
    return 0;
}

int cli_write_output(const char *path, const char *text)
{
    if (!path || strcmp(path, "-") == 0) {
        fputs(text, stdout);
        fputc('\n', stdout);
        return fflush(stdout) == 0 ? 0 : 1;
    }
    /* a symlink is followed: its final target is what gets replaced */
    char *target = NULL;
    struct stat st;
    int exists = stat(path, &st) == 0;
    if (exists)
        target = realpath(path, NULL);
    else if (lstat(path, &st) == 0) /* a dangling symlink: create its target through it */
        return write_direct(path, text);
    const char *dest = target ? target : path;
    int sfd = exists ? std_stream(&st) : 0;
    if (sfd) {
        free(target);
        FILE *f = sfd == 1 ? stdout : stderr;
        fputs(text, f);
        fputc('\n', f);
        if (fflush(f) != 0) {
            fprintf(stderr, "flotilla: cannot write %s: %s\n", path, strerror(errno));
            return 1;
        }
        return 0;
    }
    if (exists && (!S_ISREG(st.st_mode) || strncmp(dest, "/dev/", 5) == 0 || strncmp(dest, "/proc/", 6) == 0)) {
        int rc = write_direct(path, text);
        free(target);
        return rc;
    }
    /* a regular file (or a new one): temporary file in the same directory, fsync, rename */
    const char *slash = strrchr(dest, '/');
    int n = slash ? snprintf(out_tmp, sizeof out_tmp, "%.*s/.%s.tmp.XXXXXX", (int)(slash - dest), dest, slash + 1)
                  : snprintf(out_tmp, sizeof out_tmp, ".%s.tmp.XXXXXX", dest);
    if (n < 0 || (size_t)n >= sizeof out_tmp) {
        fprintf(stderr, "flotilla: cannot write %s: path too long\n", path);
        free(target);
        return 1;
    }
    mode_t mask = umask(0);
    umask(mask);
    mode_t mode = exists ? (st.st_mode & 07777) : (0666 & ~mask);
    out_guard(1);
    int fd = mkstemp(out_tmp);
    if (fd < 0) {
        out_guard(0);
        fprintf(stderr, "flotilla: cannot write %s: %s\n", path, strerror(errno));
        free(target);
        return 1;
    }
    out_tmp_live = 1;
    int ok = write_all(fd, text, strlen(text)) == 0 && write_all(fd, "\n", 1) == 0 && fchmod(fd, mode) == 0 &&
             fsync(fd) == 0;
    int e = errno;
    if (close(fd) != 0 && ok) {
        ok = 0;
        e = errno;
    }
    if (ok && rename(out_tmp, dest) != 0) {
        ok = 0;
        e = errno;
    }
    if (!ok)
        unlink(out_tmp);
    out_tmp_live = 0;
    out_guard(0);
    if (ok && slash) { /* make the rename itself durable */
        char dir[4096];
        snprintf(dir, sizeof dir, "%.*s", slash == dest ? 1 : (int)(slash - dest), dest);
        int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) {
            fsync(dfd);
            close(dfd);
        }
    }
    free(target);
    if (!ok) {
        fprintf(stderr, "flotilla: cannot write %s: %s\n", path, strerror(e));
        return e == ENOSPC || e == EIO || e == EDQUOT || e == EFBIG ? 4 : 1;
    }
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
