/* tests/e2e/test_output_cli.c — `-o PATH` done right: a regular file is replaced atomically
 * (same directory, mode kept, no temporary left behind, also when killed by a signal), a
 * non-regular target (FIFO, /dev/stdout, a device) is written to and never replaced, a symlink
 * is followed (its target replaced, the link kept), `-o -` is stdout, a full device is a storage
 * error (exit 4). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "tests/common/testutil.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char dir[700], plan[1024];

/* The file's bytes (NUL-terminated; NULL when unreadable). */
static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *b = calloc(1, 1 << 20);
    size_t n = fread(b, 1, (1 << 20) - 1, f);
    b[n] = '\0';
    fclose(f);
    return b;
}

/* Number of entries in the test directory (to see that no temporary file is left). */
static int entries(void)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        n += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    return n;
}

static const char *in_dir(char *buf, const char *name)
{
    snprintf(buf, 1024, "%s/%s", dir, name);
    return buf;
}

/* The simulate output is JSON with the plan's summary. */
static void assert_output(const char *text)
{
    assert_non_null(text);
    json_t *j = json_loads(text, 0, NULL);
    if (!j)
        fail_msg("not JSON: %.200s", text);
    json_decref(j);
}

static void test_regular_file_replaced_mode_kept(void **state)
{
    (void)state;
    char p[1024];
    in_dir(p, "plan.json");
    FILE *f = fopen(p, "w");
    fputs("OLD\n", f);
    fclose(f);
    chmod(p, 0600);
    struct stat before;
    stat(p, &before);
    cli_result r = run_cli(NULL, "simulate", plan, "--json", "-o", p, NULL);
    assert_int_equal(r.status, 0);
    assert_string_equal(r.out, "");
    cli_result_free(&r);
    struct stat after;
    assert_int_equal(stat(p, &after), 0);
    assert_int_equal(after.st_mode & 07777, 0600);
    assert_true(after.st_ino != before.st_ino); /* replaced by rename, not rewritten in place */
    char *t = slurp(p);
    assert_output(t);
    free(t);
    assert_int_equal(entries(), 1);
    unlink(p);
    /* a new file gets the usual mode (0666 less the umask) */
    mode_t mask = umask(022);
    r = run_cli(NULL, "simulate", plan, "--json", "-o", p, NULL);
    umask(mask);
    assert_int_equal(r.status, 0);
    cli_result_free(&r);
    assert_int_equal(stat(p, &after), 0);
    assert_int_equal(after.st_mode & 07777, 0644);
    assert_int_equal(entries(), 1);
    unlink(p);
}

static void test_symlink_followed(void **state)
{
    (void)state;
    char p[1024], l[1024];
    in_dir(p, "target.json");
    in_dir(l, "link.json");
    FILE *f = fopen(p, "w");
    fputs("OLD\n", f);
    fclose(f);
    assert_int_equal(symlink("target.json", l), 0);
    cli_result r = run_cli(NULL, "simulate", plan, "--json", "-o", l, NULL);
    assert_int_equal(r.status, 0);
    cli_result_free(&r);
    struct stat st;
    assert_int_equal(lstat(l, &st), 0);
    assert_true(S_ISLNK(st.st_mode)); /* the link stays a link */
    char *t = slurp(p);
    assert_output(t);
    free(t);
    assert_int_equal(entries(), 2);
    unlink(l);
    unlink(p);
}

static void test_fifo_written_not_replaced(void **state)
{
    (void)state;
    char p[1024], got[1024];
    in_dir(p, "fifo");
    in_dir(got, "got.json");
    assert_int_equal(mkfifo(p, 0600), 0);
    pid_t reader = fork();
    if (reader == 0) { /* copy the FIFO into a file */
        int in = open(p, O_RDONLY), out = open(got, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        char buf[4096];
        ssize_t n;
        while ((n = read(in, buf, sizeof buf)) > 0)
            if (write(out, buf, (size_t)n) != n)
                _exit(1);
        _exit(0);
    }
    cli_result r = run_cli(NULL, "simulate", plan, "--json", "-o", p, NULL);
    assert_int_equal(r.status, 0);
    cli_result_free(&r);
    int st = 0;
    waitpid(reader, &st, 0);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    struct stat sb;
    assert_int_equal(lstat(p, &sb), 0);
    assert_true(S_ISFIFO(sb.st_mode));
    char *t = slurp(got);
    assert_output(t);
    free(t);
    assert_int_equal(entries(), 2);
    unlink(got);
    unlink(p);
}

static void test_stdout_targets(void **state)
{
    (void)state;
    const char *targets[] = {"-", "/dev/stdout"};
    for (int i = 0; i < 2; i++) {
        cli_result r = run_cli(NULL, "simulate", plan, "--json", "-o", targets[i], NULL);
        assert_int_equal(r.status, 0);
        assert_output(r.out);
        cli_result_free(&r);
    }
    /* a device is written to, not replaced; a full one is a storage error (exit 4) */
    cli_result r = run_cli(NULL, "simulate", plan, "--json", "-o", "/dev/full", NULL);
    assert_int_equal(r.status, 4);
    assert_non_null(strstr(r.err, "cannot write /dev/full"));
    cli_result_free(&r);
    struct stat sb;
    assert_int_equal(stat("/dev/full", &sb), 0);
    assert_true(S_ISCHR(sb.st_mode));
    r = run_cli(NULL, "simulate", plan, "--json", "-o", "/dev/null", NULL);
    assert_int_equal(r.status, 0);
    cli_result_free(&r);
    assert_int_equal(stat("/dev/null", &sb), 0);
    assert_true(S_ISCHR(sb.st_mode));
}

/* Killed while writing (the file size limit raises SIGXFSZ in the middle of the write): the
 * old file is untouched and the temporary file is removed. */
static void test_killed_leaves_nothing(void **state)
{
    (void)state;
    char p[1024];
    in_dir(p, "plan.json");
    FILE *f = fopen(p, "w");
    fputs("OLD\n", f);
    fclose(f);
    const char *bin = getenv("FLOTILLA_BIN");
    pid_t pid = fork();
    if (pid == 0) {
        struct rlimit rl = {512, 512};
        setrlimit(RLIMIT_FSIZE, &rl);
        signal(SIGXFSZ, SIG_DFL);
        int dn = open("/dev/null", O_WRONLY);
        dup2(dn, 1);
        dup2(dn, 2);
        execl(bin, bin, "simulate", plan, "--json", "-o", p, (char *)NULL);
        _exit(127);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    assert_true(WIFSIGNALED(st));
    assert_int_equal(WTERMSIG(st), SIGXFSZ);
    char *t = slurp(p);
    assert_string_equal(t, "OLD\n");
    free(t);
    assert_int_equal(entries(), 1);
    unlink(p);
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "%s/out_XXXXXX", test_tmpdir());
    if (!mkdtemp(dir))
        return -1;
    snprintf(plan, sizeof plan, "%s", test_data("plans/train_small.json"));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    return rmdir(dir); /* every test removed its files: the directory must be empty */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_regular_file_replaced_mode_kept), cmocka_unit_test(test_symlink_followed),
        cmocka_unit_test(test_fifo_written_not_replaced),       cmocka_unit_test(test_stdout_targets),
        cmocka_unit_test(test_killed_leaves_nothing),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
