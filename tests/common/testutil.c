/* tests/common/testutil.c — run the flotilla CLI as a child process and capture its output. */
#include "testutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char *slurp_fd(int fd)
{
    size_t cap = 4096, n = 0;
    char *b = malloc(cap);
    for (;;) {
        if (n + 1 >= cap) {
            cap *= 2;
            b = realloc(b, cap);
        }
        ssize_t r = read(fd, b + n, cap - n - 1);
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    b[n] = '\0';
    return b;
}

/* This process's private temporary directory, $TMPDIR/fltest_<pid>_XXXXXX (TMPDIR is the build's
 * test-tmp folder under `meson test`), created on first use and removed with whatever is left in
 * it when the test program exits normally. */
static char tmp_dir[512];
static pid_t tmp_owner;

static void remove_tmp_dir(void)
{
    if (!tmp_dir[0] || getpid() != tmp_owner)
        return;
    DIR *d = opendir(tmp_dir);
    struct dirent *e;
    char p[1024];
    while (d && (e = readdir(d))) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(p, sizeof p, "%s/%s", tmp_dir, e->d_name);
        if (unlink(p) != 0 && errno == EISDIR)
            rmdir(p);
    }
    if (d)
        closedir(d);
    rmdir(tmp_dir);
}

const char *test_tmpdir(void)
{
    if (tmp_dir[0])
        return tmp_dir;
    const char *base = getenv("TMPDIR");
    if (!base || !*base)
        base = "/tmp";
    mkdir(base, 0700); /* the build's test-tmp folder may not exist yet */
    snprintf(tmp_dir, sizeof tmp_dir, "%s/fltest_%ld_XXXXXX", base, (long)getpid());
    if (!mkdtemp(tmp_dir)) {
        fprintf(stderr, "cannot create a temporary directory under %s: %s\n", base, strerror(errno));
        abort();
    }
    tmp_owner = getpid();
    atexit(remove_tmp_dir);
    return tmp_dir;
}

cli_result run_cli(const char *stdin_text, const char *arg0, ...)
{
    const char *argv[64];
    int argc = 0;
    const char *bin = getenv("FLOTILLA_BIN");
    argv[argc++] = bin ? bin : "flotilla";
    va_list ap;
    va_start(ap, arg0);
    for (const char *a = arg0; a && argc < 63; a = va_arg(ap, const char *))
        argv[argc++] = a;
    va_end(ap);
    argv[argc] = NULL;

    char outp[600], errp[600], inp[600];
    snprintf(outp, sizeof outp, "%s/out_XXXXXX", test_tmpdir());
    snprintf(errp, sizeof errp, "%s/err_XXXXXX", test_tmpdir());
    snprintf(inp, sizeof inp, "%s/in_XXXXXX", test_tmpdir());
    int fo = mkstemp(outp), fe = mkstemp(errp), fi = mkstemp(inp);
    if (stdin_text) {
        ssize_t w = write(fi, stdin_text, strlen(stdin_text));
        (void)w;
        lseek(fi, 0, SEEK_SET);
    }
    pid_t pid = fork();
    if (pid == 0) {
        dup2(fi, 0);
        dup2(fo, 1);
        dup2(fe, 2);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    cli_result r;
    r.status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    lseek(fo, 0, SEEK_SET);
    lseek(fe, 0, SEEK_SET);
    r.out = slurp_fd(fo);
    r.err = slurp_fd(fe);
    close(fo); close(fe); close(fi);
    unlink(outp); unlink(errp); unlink(inp);
    return r;
}

void cli_result_free(cli_result *r)
{
    free(r->out);
    free(r->err);
    r->out = r->err = NULL;
}

json_t *cli_json(const cli_result *r)
{
    return json_loads(r->out, 0, NULL);
}

const char *test_data(const char *name)
{
    static char buf[1024];
    const char *d = getenv("FLOTILLA_TEST_DATA");
    snprintf(buf, sizeof buf, "%s/%s", d ? d : "tests/data", name);
    return buf;
}

static char paths[8][640];

const char *temp_path(int slot, const char *suffix)
{
    static int counter;
    snprintf(paths[slot & 7], sizeof paths[0], "%s/t_%d_%d%s", test_tmpdir(), slot, counter++, suffix ? suffix : "");
    unlink(paths[slot & 7]);
    return paths[slot & 7];
}

const char *temp_file(int slot, const char *suffix, const char *text)
{
    const char *p = temp_path(slot, suffix);
    FILE *f = fopen(p, "wb");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
    return p;
}

char *test_read_text(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *s = NULL;
    long n = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
    if (n >= 0 && fseek(f, 0, SEEK_SET) == 0 && (s = malloc((size_t)n + 1)) != NULL) {
        if (fread(s, 1, (size_t)n, f) == (size_t)n) {
            s[n] = '\0';
        } else {
            free(s);
            s = NULL;
        }
    }
    fclose(f);
    return s;
}
