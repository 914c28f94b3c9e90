/*
 * Running the aether CLI from a test: the binary's path in g_cli, a scratch
 * directory in g_dir (the child runs there), stdout and stderr captured into
 * files and read back. Included by the CLI test programs in this folder.
 */
#ifndef AETHER_TESTS_CLI_RUN_H
#define AETHER_TESTS_CLI_RUN_H

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "test_util.h"

#ifndef AETHER_CLI_PATH
#define AETHER_CLI_PATH ""

#endif

static const char *g_cli;
static char g_dir[256];

static inline void path_of(char *out, size_t cap, const char *name)
{
    snprintf(out, cap, "%s/%s", g_dir, name);
}

static inline int write_bytes(const char *name, const void *data, size_t len)
{
    char p[512];
    FILE *f;
    path_of(p, sizeof p, name);
    f = fopen(p, "wb");
    if (!f)
        return 0;
    if (len && fwrite(data, 1, len, f) != len) {
        fclose(f);
        return 0;
    }
    return fclose(f) == 0;
}

/* Run the CLI with args (NULL-terminated, not counting argv[0]) in g_dir;
 * stdout to a file read back into *out (out NULL: to /dev/null), stderr
 * into *err; returns the exit status, or -1 if killed by a signal (or could
 * not run). limit > 0 sets the child's `resource` to it: RLIMIT_AS, so that
 * its large allocations fail; RLIMIT_FSIZE with SIGXFSZ ignored, so that a
 * write past the limit fails with EFBIG as on a full disk (/dev/null is not
 * a regular file: stdout is not limited then). */
static inline int run_cli_rlimit(const char *const *args, int resource, rlim_t limit, char **out,
                                 char **err)
{
    char op[512], ep[512];
    const char *argv[32];
    size_t n = 0, len;
    pid_t pid;
    int status = 0;
    if (out)
        *out = NULL;
    *err = NULL;
    argv[n++] = g_cli;
    while (args[n - 1] && n < 31) {
        argv[n] = args[n - 1];
        n++;
    }
    argv[n] = NULL;
    path_of(op, sizeof op, "stdout.txt");
    path_of(ep, sizeof ep, "stderr.txt");
    fflush(stdout);
    fflush(stderr);
    pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        int fo = out ? open(op, O_WRONLY | O_CREAT | O_TRUNC, 0644) : open("/dev/null", O_WRONLY);
        int fe = open(ep, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fo < 0 || fe < 0 || chdir(g_dir) != 0)
            _exit(126);
        if (limit) {
            struct rlimit rl;
            rl.rlim_cur = rl.rlim_max = limit;
            if ((resource == RLIMIT_FSIZE && signal(SIGXFSZ, SIG_IGN) == SIG_ERR) ||
                setrlimit(resource, &rl) != 0)
                _exit(126);
        }
        dup2(fo, 1);
        dup2(fe, 2);
        execv(g_cli, (char *const *)argv);
        _exit(127);
    }
    if (waitpid(pid, &status, 0) != pid)
        return -1;
    if (out)
        *out = (char *)test_read_file(op, &len);
    *err = (char *)test_read_file(ep, &len);
    if (!WIFEXITED(status))
        return -1;
    return WEXITSTATUS(status);
}

/* run_cli_rlimit with as_bytes > 0 limiting the address space (RLIMIT_AS). */
static inline int run_cli_limited(const char *const *args, size_t as_bytes, char **out,
                                  char **err)
{
    return run_cli_rlimit(args, RLIMIT_AS, (rlim_t)as_bytes, out, err);
}

static inline int run_cli(const char *const *args, char **out, char **err)
{
    return run_cli_limited(args, 0, out, err);
}

/* ---- child processes that run side by side with the test (serve, replay):
 * sleeping, a monotonic clock, waiting for a child with a time limit ---- */

static inline void nap_ms(long ms)
{
    struct timespec ts;
    ts.tv_sec = ms / 1000;
    ts.tv_nsec = (ms % 1000) * 1000000L;
    nanosleep(&ts, NULL);
}

static inline double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Exit status of pid within timeout seconds (killed after): -1 when it was
 * killed by a signal or timed out. */
static inline int wait_child(pid_t pid, double timeout)
{
    double end = now_s() + timeout;
    int status = 0;
    if (pid <= 0)
        return -1;
    for (;;) {
        pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid)
            return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        if (w < 0)
            return -1;
        if (now_s() > end) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            fprintf(stderr, "child %ld timed out\n", (long)pid);
            return -1;
        }
        nap_ms(2);
    }
}

/* Start prog (argv[0] = prog) with args (NULL-terminated) in g_dir: stdin
 * from in_fd (or /dev/null when -1), stdout and stderr into files of g_dir
 * (removed first, so that a previous run's output is never read as this
 * one's). Returns the pid, -1 on failure. */
static inline pid_t spawn_program(const char *prog, const char *const *args, int in_fd,
                                  const char *out_name, const char *err_name)
{
    const char *argv[48];
    char op[512], ep[512];
    size_t n = 0;
    pid_t pid;
    argv[n++] = prog;
    while (args[n - 1] && n < 47) {
        argv[n] = args[n - 1];
        n++;
    }
    argv[n] = NULL;
    path_of(op, sizeof op, out_name);
    path_of(ep, sizeof ep, err_name);
    remove(op);
    remove(ep);
    fflush(stdout);
    fflush(stderr);
    pid = fork();
    if (pid != 0)
        return pid;
    {
        int fo = open(op, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int fe = open(ep, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int fi = in_fd >= 0 ? in_fd : open("/dev/null", O_RDONLY);
        if (fo < 0 || fe < 0 || fi < 0 || chdir(g_dir) != 0)
            _exit(126);
        dup2(fi, 0);
        dup2(fo, 1);
        dup2(fe, 2);
        execv(prog, (char *const *)argv);
        _exit(127);
    }
}

/* The whole file g_dir/name, NUL-terminated (free() it), or NULL. */
static inline char *read_named(const char *name)
{
    char p[512];
    size_t len;
    path_of(p, sizeof p, name);
    return (char *)test_read_file(p, &len);
}

#ifdef CHECK_MSG
/* One case: expected status, and a phrase that must appear in stdout or
 * stderr. */
static inline void expect(const char *const *args, int want, const char *phrase)
{
    char *out = NULL, *err = NULL;
    int rc = run_cli(args, &out, &err);
    char cmd[256] = "";
    size_t i;
    for (i = 0; args[i]; ++i) {
        strncat(cmd, args[i], sizeof cmd - strlen(cmd) - 2);
        strncat(cmd, " ", sizeof cmd - strlen(cmd) - 1);
    }
    CHECK_MSG(rc >= 0, "%s: killed by a signal or did not run", cmd);
    CHECK_MSG(rc == want, "%s: exit %d, expected %d (stderr: %.200s)", cmd, rc, want,
              err ? err : "");
    if (phrase)
        CHECK_MSG((out && strstr(out, phrase)) || (err && strstr(err, phrase)),
                  "%s: no \"%s\" in the output (stderr: %.200s)", cmd, phrase, err ? err : "");
    if (want != 0)
        CHECK_MSG((err && err[0]) || (out && out[0]), "%s: failed without a message", cmd);
    printf("  exit %d  %s\n", rc, cmd);
    free(out);
    free(err);
}

#endif

#endif
