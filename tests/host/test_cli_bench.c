/*
 * The options of `aether bench`, `aether ab` and `aether conformance`
 * through the CLI: --opt=value, --help (exit 0), unknown options (exit 2);
 * bench --only selects whole names (exactly, or by a regular expression
 * matching a whole name), so "temporal ... seq 100" never runs "seq 1000",
 * and a TEXT that selects nothing is exit 2 with the names; --list prints
 * the names without running anything; --png without gnuplot on PATH fails
 * before running with a clear message (exit 1), --png with --only selecting
 * none of the plotted sections (the two curves, 'decode 8x64', 'model') is
 * exit 2, a gnuplot that fails or writes nothing is exit 1, --png with
 * --only one curve plots that curve, and --png with --only 'decode 8x64'
 * or --only model plots the cache precisions or the batched step alone,
 * from the numbers the run printed (the script gnuplot reads is kept and
 * its data compared with stdout); when the plotted sections measured
 * nothing (--only model in a small address space) --png is exit 1 with a
 * message, without running gnuplot. The bounds section counts the model
 * step's multiply-adds and states their floor at the measured peak.
 *
 * Only --list and single small rows or quick sections run, so the test is
 * fast. The CLI path comes from argv[1] or AETHER_CLI_PATH.
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"

#include "cli_run.h"

/* Runs args (the address space limited to as_bytes, 0: not); the exit
 * status, stdout and stderr (free them). */
static int run_limited(const char *const *args, size_t as_bytes, char **out, char **err)
{
    int rc = run_cli_limited(args, as_bytes, out, err);
    if (!*out)
        *out = calloc(1, 1);
    if (!*err)
        *err = calloc(1, 1);
    return rc;
}

static int run(const char *const *args, char **out, char **err)
{
    return run_limited(args, 0, out, err);
}

static size_t count_lines(const char *s)
{
    size_t n = 0;
    for (; s && *s; ++s)
        n += *s == '\n';
    return n;
}

static void test_help_and_unknown_options(void)
{
    static const char *const cmds[] = {"bench", "ab", "conformance"};
    size_t i;
    for (i = 0; i < 3; ++i) {
        const char *help[] = {cmds[i], "--help", NULL};
        const char *h[] = {cmds[i], "-h", NULL};
        const char *bad[] = {cmds[i], "--no-such-option", NULL};
        const char *badval[] = {cmds[i], "--help=yes", NULL};
        char want[64];
        snprintf(want, sizeof want, "usage: aether %s", cmds[i]);
        expect(help, 0, want);
        expect(h, 0, want);
        expect(help, 0, "exit status:");
        expect(bad, 2, "unknown option '--no-such-option'");
        expect(badval, 2, "takes no value");
    }
    {
        const char *a[] = {"bench", "extra", NULL};
        const char *b[] = {"conformance", NULL};
        const char *c[] = {"ab", "--window", NULL};
        expect(a, 2, "unexpected argument 'extra'");
        expect(b, 2, "missing argument");
        expect(c, 2, "needs a value");
    }
}

static void test_opt_equals_value(void)
{
    char *out, *err;
    const char *only_eq[] = {"bench", "--list", "--only=model", NULL};
    const char *only_sp[] = {"bench", "--list", "--only", "model", NULL};
    const char *threads0[] = {"bench", "--threads=0", NULL};
    const char *threads_x[] = {"bench", "--threads=2x", NULL};
    const char *window[] = {"ab", "--window=1", NULL};
    const char *rho[] = {"ab", "--min-rho=2", NULL};
    const char *rho_x[] = {"ab", "--min-rho=0.9x", NULL};
    const char *stride[] = {"ab", "--stride=0", NULL};
    const char *data[] = {"ab", "--data=no_such_dir", NULL};
    int rc = run(only_eq, &out, &err);
    CHECK_EQ_INT(rc, 0);
    CHECK_MSG(!strcmp(out, "model\n"), "stdout: %s", out);
    free(out);
    free(err);
    rc = run(only_sp, &out, &err);
    CHECK_EQ_INT(rc, 0);
    CHECK(!strcmp(out, "model\n"));
    free(out);
    free(err);
    expect(threads0, 2, "--threads is 1..256");
    expect(threads_x, 2, "--threads is 1..256");
    expect(window, 2, "--window is 2..");
    expect(rho, 2, "--min-rho is a number in -1..1");
    expect(rho_x, 2, "--min-rho is a number in -1..1");
    expect(stride, 2, "--stride");
    /* the value reached the command: the missing directory is named */
    expect(data, 3, "no_such_dir/esp32-raw-2node.csi.jsonl: cannot read");
#ifdef AETHER_GOLDEN_DIR
    {
        char dir[1024], idx[1100];
        struct stat sb;
        snprintf(dir, sizeof dir, "%s", AETHER_GOLDEN_DIR);
        snprintf(idx, sizeof idx, "%s/index.json", dir);
        if (dir[0] == '/' && stat(idx, &sb) == 0) {
            const char *filt[] = {"conformance", "--filter=dense_c_", dir, NULL};
            const char *ref[] = {"conformance", "--reference", "--filter=forward_gqa", dir, NULL};
            rc = run(filt, &out, &err);
            CHECK_EQ_INT(rc, 0);
            CHECK_MSG(strstr(out, "\ndense_c_") && strstr(out, " dense_attention ") &&
                          !strstr(out, " forward "),
                      "stdout: %.300s", out);
            CHECK(strstr(out, " passed, 0 failed") != NULL && !strstr(out, "\n0 passed"));
            free(out);
            free(err);
            rc = run(ref, &out, &err);
            CHECK_EQ_INT(rc, 0);
            CHECK(strstr(out, "kernels: reference (bit-exact comparisons)") != NULL);
            CHECK(strstr(out, "\nforward_gqa_") != NULL &&
                  strstr(out, " passed, 0 failed") != NULL);
            free(out);
            free(err);
        } else {
            printf("  (no golden vectors: conformance --filter= not run)\n");
        }
    }
#endif
}

static void test_list(void)
{
    char *out, *err;
    const char *list[] = {"bench", "--list", NULL};
    int rc = run(list, &out, &err);
    CHECK_EQ_INT(rc, 0);
    /* 10 table rows and 6 sections, one per line */
    CHECK_EQ_INT(count_lines(out), 16);
    CHECK(strstr(out, "temporal q4kv1x32 W32 seq 100\n") != NULL);
    CHECK(strstr(out, "temporal q4kv1x32 W32 seq 1000\n") != NULL);
    CHECK(strstr(out, "\ncurve forward\ncurve stream\nbounds\n") != NULL);
    CHECK(strstr(out, "kernels:") == NULL); /* nothing ran */
    free(out);
    free(err);
}

static void test_only_whole_names(void)
{
    char *out, *err;
    const char *exact[] = {"bench", "--list", "--only", "temporal q4kv1x32 W32 seq 100", NULL};
    const char *part[] = {"bench", "--list", "--only", "seq 100", NULL};
    const char *regex[] = {"bench", "--list", "--only", "temporal .* seq 100", NULL};
    const char *regex2[] = {"bench", "--list", "--only", "sparse.*", "--only", "decode .*", NULL};
    const char *alt[] = {"bench", "--list", "--only", "model|bounds", NULL};
    const char *badre[] = {"bench", "--list", "--only", "seq (100", NULL};
    const char *none[] = {"bench", "--only", "curve", NULL};
    int rc = run(exact, &out, &err);
    CHECK_EQ_INT(rc, 0);
    CHECK_MSG(!strcmp(out, "temporal q4kv1x32 W32 seq 100\n"), "stdout: %s", out);
    free(out);
    free(err);
    /* a part of a name is no name, and as an expression it matches no whole name */
    rc = run(part, &out, &err);
    CHECK_EQ_INT(rc, 2);
    CHECK(strstr(err, "--only 'seq 100' matches no row or section name") != NULL);
    CHECK(strstr(err, "aether bench --list") != NULL);
    CHECK(strstr(err, "  temporal q4kv1x32 W32 seq 1000\n") != NULL); /* the names */
    CHECK(out[0] == '\0');
    free(out);
    free(err);
    /* anchored: ".* seq 100" does not reach "seq 1000" */
    rc = run(regex, &out, &err);
    CHECK_EQ_INT(rc, 0);
    CHECK_MSG(!strcmp(out, "temporal q4kv1x32 W32 seq 100\n"), "stdout: %s", out);
    free(out);
    free(err);
    rc = run(regex2, &out, &err);
    CHECK_EQ_INT(rc, 0);
    CHECK_MSG(!strcmp(out, "sparse 8x64 W128 seq 512\nsparse 8x64 W128 seq 2048\n"
                           "sparse 8x64 W128 seq 8192\ndecode 8x64\ndecode temporal\n"),
              "stdout: %s", out);
    free(out);
    free(err);
    rc = run(alt, &out, &err);
    CHECK_EQ_INT(rc, 0);
    CHECK(!strcmp(out, "model\nbounds\n"));
    free(out);
    free(err);
    expect(badre, 2, "nor a valid regular expression");
    /* nothing selected: exit 2 before running */
    rc = run(none, &out, &err);
    CHECK_EQ_INT(rc, 2);
    CHECK(strstr(err, "--only 'curve' matches no row or section name") != NULL);
    CHECK(strstr(out, "kernels:") == NULL);
    free(out);
    free(err);
}

/* One small row really runs, and only that row. */
static void test_only_runs_one_row(void)
{
    char *out, *err;
    const char *a[] = {"bench", "--quick", "--only", "temporal q4kv1x32 W32 seq 100", NULL};
    int rc = run(a, &out, &err);
    CHECK_EQ_INT(rc, 0);
    CHECK(strstr(out, "\ntemporal q4kv1x32 W32 seq 100 ") != NULL);
    CHECK(strstr(out, "seq 1000") == NULL);
    CHECK(strstr(out, "seq 8192") == NULL);
    CHECK(strstr(out, "decode") == NULL && strstr(out, "curve") == NULL);
    CHECK_EQ_INT(count_lines(out), 3); /* header line, column titles, the row */
    free(out);
    free(err);
}

/* A directory in g_dir holding `gnuplot` with the given script body (NULL:
 * an empty directory); its path in dir. */
static int make_path_dir(const char *name, const char *script, char *dir, size_t cap)
{
    char rel[64], file[600], text[512];
    int n;
    snprintf(dir, cap, "%s/%s", g_dir, name);
    if (mkdir(dir, 0755) != 0)
        return 0;
    if (!script)
        return 1;
    snprintf(rel, sizeof rel, "%.20s/gnuplot", name);
    n = snprintf(text, sizeof text, "#!/bin/sh\n%s\n", script);
    if (n <= 0 || (size_t)n >= sizeof text || !write_bytes(rel, text, (size_t)n))
        return 0;
    snprintf(file, sizeof file, "%s/gnuplot", dir);
    return chmod(file, 0755) == 0;
}

static void remove_path_dir(const char *dir)
{
    char file[600];
    snprintf(file, sizeof file, "%s/gnuplot", dir);
    remove(file);
    rmdir(dir);
}

/* Runs args with PATH=path_dir (and the address space limited to
 * as_bytes, 0: not); exit status, stdout, stderr. */
static int run_with_path_limited(const char *path_dir, size_t as_bytes, const char *const *args,
                                 char **out, char **err)
{
    const char *old = getenv("PATH");
    char *saved = old ? strdup(old) : NULL;
    int rc;
    setenv("PATH", path_dir, 1);
    rc = run_limited(args, as_bytes, out, err);
    if (saved) {
        setenv("PATH", saved, 1);
        free(saved);
    } else {
        unsetenv("PATH");
    }
    return rc;
}

static int run_with_path(const char *path_dir, const char *const *args, char **out, char **err)
{
    return run_with_path_limited(path_dir, 0, args, out, err);
}

static int file_size(const char *name, long *size)
{
    char p[600];
    struct stat sb;
    snprintf(p, sizeof p, "%s/%s", g_dir, name);
    if (stat(p, &sb) != 0)
        return 0;
    *size = (long)sb.st_size;
    return 1;
}

static void test_png_without_gnuplot(void)
{
    char dir[512], *out, *err;
    const char *a[] = {"bench", "--png", "pic.png", NULL};
    const char *b[] = {"bench", "--quick", "--png=pic.png", "--only", "curve forward", NULL};
    /* the cache precisions and the batched step are plotted too: past the
     * selection rule, to the gnuplot check */
    const char *c[] = {"bench", "--quick", "--png", "pic.png", "--only", "decode 8x64", NULL};
    const char *d[] = {"bench", "--quick", "--png", "pic.png", "--only", "model", NULL};
    const char *const *cd[2] = {c, d};
    long size;
    int rc, k;
    if (!make_path_dir("nogp", NULL, dir, sizeof dir)) {
        CHECK_MSG(0, "cannot make %s", dir);
        return;
    }
    rc = run_with_path(dir, a, &out, &err);
    CHECK_EQ_INT(rc, 1);
    CHECK_MSG(strstr(err, "--png needs gnuplot (Debian: gnuplot-nox)") != NULL, "stderr: %s",
              err);
    CHECK(strstr(err, "not found") == NULL); /* no shell's text */
    CHECK(strstr(out, "kernels:") == NULL);  /* failed before running */
    CHECK(!file_size("pic.png", &size));
    free(out);
    free(err);
    rc = run_with_path(dir, b, &out, &err);
    CHECK_EQ_INT(rc, 1);
    CHECK(strstr(err, "--png needs gnuplot") != NULL && out[0] == '\0');
    free(out);
    free(err);
    for (k = 0; k < 2; ++k) {
        rc = run_with_path(dir, cd[k], &out, &err);
        CHECK_EQ_INT(rc, 1);
        CHECK_MSG(strstr(err, "--png needs gnuplot") != NULL && out[0] == '\0', "stderr: %s",
                  err);
        free(out);
        free(err);
    }
    remove_path_dir(dir);
}

static void test_png_only_a_table_row(void)
{
    const char *a[] = {"bench", "--png", "pic.png", "--only", "temporal q4kv1x32 W32 seq 100",
                       NULL};
    const char *b[] = {"bench",  "--png",  "pic.png",         "--only",
                       "bounds", "--only", "decode temporal", NULL};
    const char *c[] = {"bench", "--png", "pic.png", "--only", "sparse.*|dense.*", NULL};
    long size;
    expect(a, 2,
           "--png plots the sections 'curve forward', 'curve stream', 'decode 8x64' and "
           "'model', and --only selects none of them");
    expect(b, 2, "selects none of them");
    expect(c, 2, "selects none of them");
    CHECK(!file_size("pic.png", &size));
}

static void test_png_gnuplot_fails(void)
{
    char dir[512], *out, *err;
    const char *a[] = {"bench", "--quick", "--only", "curve forward", "--png", "pic.png", NULL};
    long size;
    int rc;
    /* gnuplot reads its script, then fails */
    if (!make_path_dir("gp_fails", "/bin/cat >/dev/null\necho 'gnuplot: some error' >&2\nexit 3",
                       dir, sizeof dir)) {
        CHECK_MSG(0, "cannot make %s", dir);
        return;
    }
    rc = run_with_path(dir, a, &out, &err);
    CHECK_EQ_INT(rc, 1);
    CHECK_MSG(strstr(err, "gnuplot failed (exit status 3); pic.png not written") != NULL,
              "stderr: %s", err);
    CHECK(strstr(out, "curve forward") != NULL); /* the run itself happened */
    CHECK(strstr(out, "wrote pic.png") == NULL);
    CHECK(!file_size("pic.png", &size));
    free(out);
    free(err);
    remove_path_dir(dir);
    /* gnuplot succeeds without writing the picture */
    if (!make_path_dir("gp_silent", "exit 0", dir, sizeof dir)) {
        CHECK_MSG(0, "cannot make %s", dir);
        return;
    }
    rc = run_with_path(dir, a, &out, &err);
    CHECK_EQ_INT(rc, 1);
    CHECK_MSG(strstr(err, "gnuplot wrote no picture to pic.png") != NULL, "stderr: %s", err);
    CHECK(!file_size("pic.png", &size));
    free(out);
    free(err);
    remove_path_dir(dir);
}

/* An address-space limit cannot be combined with AddressSanitizer's shadow
 * memory (UNDER_ASAN: check.h). */

/* --png when the plotted sections ran but measured nothing: --only model
 * in a 48 MiB address space, where the model section's single session runs
 * but the batched step's 256 sessions (over 100 MiB) cannot be made. Exit
 * 1 with a message; gnuplot (a stand-in that writes the picture) is not
 * run, and an old picture does not pass for this run's. */
static void test_png_nothing_measured(void)
{
    char dir[512], *out, *err;
    const char *a[] = {"bench", "--quick", "--only", "model", "--png", "pic.png", NULL};
    long size;
    int rc;
    if (UNDER_ASAN) {
        printf("  (AddressSanitizer build: no address-space limit, not run)\n");
        return;
    }
    if (!make_path_dir("gp_writes", "/bin/cat >/dev/null\necho picture >pic.png", dir,
                       sizeof dir) ||
        !write_bytes("pic.png", "old picture", 11)) {
        CHECK_MSG(0, "cannot make %s", dir);
        return;
    }
    rc = run_with_path_limited(dir, (size_t)48 << 20, a, &out, &err);
    CHECK_MSG(strstr(out, "batched session step: model or memory unavailable") != NULL,
              "the batched step ran within the limit; stdout: %s", out);
    CHECK_EQ_INT(rc, 1);
    CHECK_MSG(strstr(err, "aether bench: no measurements to plot; pic.png not written\n") != NULL,
              "stderr: %s", err);
    CHECK(strstr(out, "wrote pic.png") == NULL);
    CHECK(!file_size("pic.png", &size));
    free(out);
    free(err);
    remove_path_dir(dir);
}

/* --only one curve with --png plots what ran (needs a real gnuplot). */
static void test_png_one_curve(void)
{
    char *out, *err, p[600];
    const char *a[] = {"bench", "--quick", "--only", "curve forward", "--png", "pic.png", NULL};
    unsigned char magic[8] = {0};
    long size = 0;
    FILE *f;
    int rc;
    if (system("command -v gnuplot >/dev/null 2>&1") != 0) {
        printf("  (no gnuplot on PATH: --png with one curve not run)\n");
        return;
    }
    rc = run(a, &out, &err);
    CHECK_MSG(rc == 0, "exit %d, stderr: %s", rc, err);
    CHECK(strstr(out, "wrote pic.png") != NULL);
    CHECK(strstr(out, "curve stream") == NULL);
    CHECK(file_size("pic.png", &size) && size > 1000);
    snprintf(p, sizeof p, "%s/pic.png", g_dir);
    f = fopen(p, "rb");
    CHECK(f && fread(magic, 1, 8, f) == 8 && !memcmp(magic, "\x89PNG\r\n\x1a\n", 8));
    if (f)
        fclose(f);
    remove(p);
    free(out);
    free(err);
}

/* A PATH directory whose `gnuplot` keeps its script in dir/gp.txt and then
 * runs the real gnuplot on it; 0 when there is no real gnuplot. */
static int make_capture_dir(char *dir, size_t cap)
{
    char real[512] = "", body[1600];
    FILE *p = popen("command -v gnuplot", "r");
    size_t n;
    if (!p)
        return 0;
    if (!fgets(real, sizeof real, p))
        real[0] = '\0';
    pclose(p);
    n = strcspn(real, "\n");
    real[n] = '\0';
    if (real[0] != '/')
        return 0;
    snprintf(dir, cap, "%s/gp_capture", g_dir);
    snprintf(body, sizeof body, "/bin/cat >'%s/gp.txt' && exec '%s' <'%s/gp.txt'", dir, real,
             dir);
    return make_path_dir("gp_capture", body, dir, cap);
}

/* The lines of data block $name in script s (a pointer into s, after the
 * "$name << EOD" line), or NULL. */
static const char *gp_block_of(const char *s, const char *name)
{
    char head[64];
    const char *b;
    snprintf(head, sizeof head, "$%s << EOD\n", name);
    b = s ? strstr(s, head) : NULL;
    return b ? b + strlen(head) : NULL;
}

/* The number after " name " on the line of stdout that begins with
 * "  T=<T> " after the "cache precisions" heading; -1 when absent. */
static double printed_kv(const char *out, unsigned long T, const char *name)
{
    char head[32], key[16], line[1024];
    const char *p = out ? strstr(out, "cache precisions") : NULL, *k;
    double v = -1.0;
    size_t n;
    if (!p)
        return -1.0;
    snprintf(head, sizeof head, "\n  T=%lu ", T);
    if (!(p = strstr(p, head)))
        return -1.0;
    p += 1;
    n = strcspn(p, "\n");
    if (n >= sizeof line)
        n = sizeof line - 1;
    memcpy(line, p, n);
    line[n] = '\0';
    snprintf(key, sizeof key, " %s ", name);
    if (!(k = strstr(line, key)) || sscanf(k + strlen(key), "%lf", &v) != 1)
        return -1.0;
    return v;
}

static int png_ok(const char *name)
{
    char p[600];
    unsigned char magic[8] = {0};
    long size = 0;
    int ok;
    FILE *f;
    if (!file_size(name, &size) || size <= 1000)
        return 0;
    snprintf(p, sizeof p, "%s/%s", g_dir, name);
    f = fopen(p, "rb");
    ok = f && fread(magic, 1, 8, f) == 8 && !memcmp(magic, "\x89PNG\r\n\x1a\n", 8);
    if (f)
        fclose(f);
    return ok;
}

/* --only 'decode 8x64' with --png: the cache precisions' panel alone, its
 * data the numbers the run printed (needs a real gnuplot). */
static void test_png_cache_precisions(void)
{
    static const unsigned long Ts[3] = {1000, 15000, 262144};
    static const char *const st[4] = {"f32", "f16", "bf16", "int8"};
    char dir[512], gpp[600], *out, *err, *script = NULL;
    const char *a[] = {"bench", "--quick", "--only", "decode 8x64", "--png", "pic.png", NULL};
    const char *b;
    size_t len, t, k;
    int rc;
    if (!make_capture_dir(dir, sizeof dir)) {
        printf("  (no gnuplot on PATH: --png with the cache precisions not run)\n");
        return;
    }
    rc = run_with_path(dir, a, &out, &err);
    CHECK_MSG(rc == 0, "exit %d, stderr: %s", rc, err);
    CHECK(strstr(out, "wrote pic.png") != NULL);
    CHECK(strstr(out, "curve") == NULL && strstr(out, "batched") == NULL);
    CHECK(png_ok("pic.png"));
    snprintf(gpp, sizeof gpp, "%s/gp.txt", dir);
    script = (char *)test_read_file(gpp, &len);
    CHECK(script != NULL);
    /* one panel: the curves and the batched step are left out */
    CHECK(script && strstr(script, "layout 1,1 ") != NULL);
    CHECK(script && strstr(script, "$batch") == NULL);
    CHECK(script && strstr(script, "$fwd << EOD\nEOD\n") != NULL);
    CHECK(script && strstr(script, "decode step by K/V cache precision") != NULL);
    b = gp_block_of(script, "kv");
    CHECK(b != NULL);
    for (t = 0; b && t < 3; ++t) {
        unsigned long T = 0;
        double v[4] = {0, 0, 0, 0};
        int used = 0;
        CHECK(sscanf(b, "%lu %lf %lf %lf %lf%n", &T, &v[0], &v[1], &v[2], &v[3], &used) == 5);
        CHECK_EQ_INT((long)T, (long)Ts[t]);
        for (k = 0; k < 4; ++k) {
            double pr = printed_kv(out, Ts[t], st[k]);
            CHECK(v[k] > 0);
            /* stdout shows microseconds with two decimals */
            CHECK_MSG(pr > 0 && v[k] * 1e6 > pr - 0.0051 && v[k] * 1e6 < pr + 0.0051,
                      "T=%lu %s: picture %.4f us, printed %.2f us", Ts[t], st[k], v[k] * 1e6, pr);
        }
        b = strchr(b, '\n');
        b = b ? b + 1 : NULL;
    }
    CHECK(b && !strncmp(b, "EOD\n", 4));
    free(script);
    remove(gpp);
    free(out);
    free(err);
    path_of(gpp, sizeof gpp, "pic.png");
    remove(gpp);
    remove_path_dir(dir);
}

/* --only model with --png: the batched step's panel alone, tracks per core
 * as printed (needs a real gnuplot). */
static void test_png_batched_step(void)
{
    static const char *const lab[4] = {"one by one", "batch 16", "batch 64", "batch 256"};
    char dir[512], gpp[600], *out, *err, *script = NULL;
    const char *a[] = {"bench", "--quick", "--only", "model", "--png", "pic.png", NULL};
    const char *b;
    double tracks0 = 0;
    size_t len, w;
    int rc;
    if (!make_capture_dir(dir, sizeof dir)) {
        printf("  (no gnuplot on PATH: --png with the batched step not run)\n");
        return;
    }
    rc = run_with_path(dir, a, &out, &err);
    CHECK_MSG(rc == 0, "exit %d, stderr: %s", rc, err);
    CHECK(strstr(out, "wrote pic.png") != NULL);
    CHECK(png_ok("pic.png"));
    snprintf(gpp, sizeof gpp, "%s/gp.txt", dir);
    script = (char *)test_read_file(gpp, &len);
    CHECK(script != NULL);
    CHECK(script && strstr(script, "layout 1,1 ") != NULL);
    CHECK(script && strstr(script, "$kv") == NULL);
    CHECK(script && strstr(script, "batched session step: 256 sessions") != NULL);
    b = gp_block_of(script, "batch");
    CHECK(b != NULL);
    for (w = 0; b && w < 4; ++w) {
        char label[32] = "", want[48];
        const char *line;
        int pos = -1, colour = 0;
        double tracks = 0, speedup = 0, printed = -1;
        CHECK(sscanf(b, "%d \"%31[^\"]\" %lf %lf %d", &pos, label, &tracks, &speedup, &colour) ==
              5);
        CHECK_EQ_INT(pos, (int)w);
        CHECK_MSG(!strcmp(label, lab[w]), "label %s", label);
        CHECK(tracks > 0);
        if (w == 0)
            tracks0 = tracks;
        /* the speedup is the ratio of the steps, so of the tracks */
        CHECK_MSG(tracks0 > 0 && fabs(speedup - tracks / tracks0) < 1e-3 * speedup + 1e-3,
                  "speedup %.4f, tracks %.1f / %.1f", speedup, tracks, tracks0);
        /* stdout: "  one by one   12.34  -> 8104 tracks", "  batch 16 ..." */
        snprintf(want, sizeof want, "\n  %s ", lab[w]);
        line = strstr(out, want);
        line = line ? strstr(line, "-> ") : NULL;
        CHECK(line && sscanf(line + 3, "%lf", &printed) == 1);
        CHECK_MSG(fabs(printed - tracks) <= 0.51, "%s: picture %.1f, printed %.0f", lab[w],
                  tracks, printed);
        b = strchr(b, '\n');
        b = b ? b + 1 : NULL;
    }
    CHECK(b && !strncmp(b, "EOD\n", 4));
    free(script);
    remove(gpp);
    free(out);
    free(err);
    path_of(gpp, sizeof gpp, "pic.png");
    remove(gpp);
    remove_path_dir(dir);
}

/* bounds: the model step's floor is counted from the demo model and its
 * candidate lists (2 layers x (16 x (128 + 2 x 32) + 128 x 16 + 2 x 4 x 45
 * x 32) + 16 x 4 = 33,344 multiply-adds a frame), and the JSON floor is
 * those multiply-adds at the measured peak. */
static void test_bounds_model_floor(void)
{
    char p[600], *out = NULL, *err = NULL, *json;
    const char *a[] = {"bench", "--quick", "--only", "bounds", "--json", NULL, NULL};
    const char *k;
    double peak = 0, fl = 0;
    int rc;
    path_of(p, sizeof p, "bounds.json");
    a[5] = p;
    rc = run(a, &out, &err);
    if (strstr(out, "bounds: need the vector kernels")) {
        printf("  (no vector kernels: the bounds section does not measure)\n");
        CHECK_EQ_INT(rc, 0);
        free(out);
        free(err);
        remove(p);
        return;
    }
    CHECK_MSG(rc == 0, "exit %d, stderr: %s", rc, err);
    CHECK_MSG(strstr(out, "model session step (demo blob, cache 1000): 33344 multiply-adds a "
                          "frame (45 candidates per query) -> >= ") != NULL,
              "stdout: %s", out);
    CHECK(strstr(out, "10000 tracks per core (1 us a frame) need ") != NULL);
    json = read_named("bounds.json");
    CHECK(json != NULL);
    k = json ? strstr(json, "\"fma_gflops\":") : NULL;
    CHECK(k && sscanf(k + strlen("\"fma_gflops\":"), "%lf", &peak) == 1);
    k = json ? strstr(json, "\"model_step_floor_s\":") : NULL;
    CHECK(k && sscanf(k + strlen("\"model_step_floor_s\":"), "%lf", &fl) == 1);
    CHECK(peak > 0);
    CHECK_MSG(peak > 0 && fabs(fl - 2.0 * 33344.0 / (peak * 1e9)) <= 1e-5 * fl,
              "floor %g s at %g GFLOP/s", fl, peak);
    free(json);
    free(out);
    free(err);
    remove(p);
}

int main(int argc, char **argv)
{
    static const check_test_fn tests[] =
        {test_help_and_unknown_options, test_opt_equals_value,  test_list,
         test_only_whole_names,         test_only_runs_one_row, test_png_without_gnuplot,
         test_png_only_a_table_row,     test_png_gnuplot_fails, test_png_one_curve,
         test_png_cache_precisions,     test_png_batched_step,  test_png_nothing_measured,
         test_bounds_model_floor};
    static const char *const names[] =
        {"test_help_and_unknown_options", "test_opt_equals_value",  "test_list",
         "test_only_whole_names",         "test_only_runs_one_row", "test_png_without_gnuplot",
         "test_png_only_a_table_row",     "test_png_gnuplot_fails", "test_png_one_curve",
         "test_png_cache_precisions",     "test_png_batched_step",  "test_png_nothing_measured",
         "test_bounds_model_floor"};
    const char *tmp = getenv("TMPDIR");
    char p[600];
    int rc;
    g_cli = argc > 1 ? argv[1] : AETHER_CLI_PATH;
    if (!g_cli || !g_cli[0] || access(g_cli, X_OK) != 0) {
        printf("test_cli_bench: no CLI (pass its path as argv[1]); skipped\n");
        return 0;
    }
    snprintf(g_dir, sizeof g_dir, "%s/aether_cli_bench_XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(g_dir)) {
        fprintf(stderr, "cannot create a temp dir\n");
        return 1;
    }
    rc = check_run(__FILE__, tests, names, (int)(sizeof tests / sizeof tests[0]));
    path_of(p, sizeof p, "stdout.txt");
    remove(p);
    path_of(p, sizeof p, "stderr.txt");
    remove(p);
    path_of(p, sizeof p, "pic.png");
    remove(p);
    rmdir(g_dir);
    return rc;
}
