/*
 * The conventions every CLI command keeps (tools/cli_util.h, commands.h),
 * one check per promise: --version and -h/--help everywhere (exit 0),
 * --opt=value, one-line usage errors (exit 2) naming the option or the
 * argument, one exit-status table (a full cache is 5, a wrong shape is 5 in
 * attn as in classify, a recording without one frame is 4), messages that
 * say whether a path is missing or a directory, classify/stream defaults
 * from the blob's metadata, and `aether features` writing the frames that
 * classify reads, with the logits `aether run` decides on.
 *
 * The CLI path comes from argv[1] or AETHER_CLI_PATH; the shipped models and
 * the shipped recording excerpt are read from the source tree.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aether/blob.h"
#include "aether/core.h"
#include "aether/npy.h"
#include "check.h"

#include "cli_run.h"

#ifndef AETHER_CLI_PATH
#define AETHER_CLI_PATH ""
#endif

#define GESTURE AETHER_SOURCE_DIR "/models/gesture.rvne"
#define EXCERPT AETHER_SOURCE_DIR "/data/esp32-raw-2node-excerpt.csi.jsonl"

static const char *const k_commands[] = {
    "version", "conformance", "attn",     "bench",  "ab",  "csi",   "features", "init-blob",
    "inspect", "packet",      "classify", "stream", "run", "train", "eval",     "baseline",
    "replay",  "serve",       "quantize"};
#define N_COMMANDS (sizeof k_commands / sizeof k_commands[0])

/* Output of one run, kept for the checks after it. */
static char *g_out, *g_err;

static int run(const char *const *args)
{
    free(g_out);
    free(g_err);
    g_out = g_err = NULL;
    return run_cli(args, &g_out, &g_err);
}

static int has(const char *text, const char *phrase)
{
    return text && strstr(text, phrase) != NULL;
}

static void test_version_everywhere(void)
{
    char want[64];
    size_t i;
    snprintf(want, sizeof want, "aether %s\n", aether_version());
    {
        const char *a[] = {"--version", NULL};
        CHECK_EQ_INT(run(a), 0);
        CHECK_MSG(g_out && !strcmp(g_out, want), "aether --version printed '%s'", g_out);
    }
    {
        const char *a[] = {"-V", NULL};
        CHECK_EQ_INT(run(a), 0);
        CHECK(g_out && !strcmp(g_out, want));
    }
    for (i = 0; i < N_COMMANDS; ++i) {
        const char *a[] = {k_commands[i], "--version", NULL};
        int rc = run(a);
        CHECK_MSG(rc == 0, "aether %s --version: exit %d (stderr %.200s)", k_commands[i], rc,
                  g_err ? g_err : "");
        CHECK_MSG(g_out && !strcmp(g_out, want), "aether %s --version printed '%.100s'",
                  k_commands[i], g_out ? g_out : "");
    }
}

static void test_help_everywhere(void)
{
    size_t i;
    for (i = 0; i < N_COMMANDS; ++i) {
        const char *a[] = {k_commands[i], "--help", NULL};
        const char *b[] = {k_commands[i], "-h", NULL};
        int rc = run(a);
        CHECK_MSG(rc == 0 && has(g_out, "usage: aether"), "aether %s --help: exit %d",
                  k_commands[i], rc);
        CHECK_MSG(has(g_out, "exit status"), "aether %s --help lists no exit statuses",
                  k_commands[i]);
        rc = run(b);
        CHECK_MSG(rc == 0 && has(g_out, "usage: aether"), "aether %s -h: exit %d", k_commands[i],
                  rc);
    }
    {
        const char *a[] = {"--help", NULL};
        CHECK_EQ_INT(run(a), 0);
        CHECK(has(g_out, "features"));
    }
}

static void test_usage_errors(void)
{
    size_t i;
    for (i = 0; i < N_COMMANDS; ++i) {
        const char *a[] = {k_commands[i], "--no-such-option", NULL};
        int rc = run(a);
        CHECK_MSG(rc == 2, "aether %s --no-such-option: exit %d", k_commands[i], rc);
        CHECK_MSG(has(g_err, "unknown option '--no-such-option'"), "aether %s: stderr '%.200s'",
                  k_commands[i], g_err ? g_err : "");
        CHECK_MSG(has(g_err, "--help"), "aether %s: no pointer to --help", k_commands[i]);
    }
    expect((const char *const[]){"classify", "extra", NULL}, 2, "unexpected argument 'extra'");
    expect((const char *const[]){"classify", "--json=1", NULL}, 2,
           "option '--json' takes no value");
    expect((const char *const[]){"classify", "--model", NULL}, 2,
           "option '--model' needs a value");
    expect((const char *const[]){"classify", "--frames", "x.npy", NULL}, 2,
           "--model and --frames are required");
    expect((const char *const[]){"init-blob", "--layers", "x", "o.rvne", NULL}, 2,
           "--layers must be an integer");
    expect((const char *const[]){"no-such-command", NULL}, 2, "unknown command");
}

/* --opt=value and --opt value give the same result. */
static void test_opt_equals_value(void)
{
    size_t la = 0, lb = 0;
    char pa[512], pb[512];
    unsigned char *a, *b;
    expect((const char *const[]){"init-blob", "--seed=7", "--classes=3", "a.rvne", NULL}, 0,
           "wrote");
    expect((const char *const[]){"init-blob", "--seed", "7", "--classes", "3", "b.rvne", NULL}, 0,
           "wrote");
    path_of(pa, sizeof pa, "a.rvne");
    path_of(pb, sizeof pb, "b.rvne");
    a = test_read_file(pa, &la);
    b = test_read_file(pb, &lb);
    CHECK(a && b && la == lb && la > 0 && !memcmp(a, b, la));
    /* and differs from the default seed, so the value was used */
    expect((const char *const[]){"init-blob", "--classes=3", "c.rvne", NULL}, 0, "wrote");
    free(b);
    path_of(pb, sizeof pb, "c.rvne");
    b = test_read_file(pb, &lb);
    CHECK(b && lb == la && memcmp(a, b, la) != 0);
    free(a);
    free(b);
    expect((const char *const[]){"inspect", "--json", "a.rvne", NULL}, 0, "\"n_classes\"");
}

/* Frames for the demo blob (16 inputs), and a wrong-width copy. */
static void write_frames(const char *name, size_t n, size_t dim)
{
    char p[512];
    float *x = (float *)malloc(n * dim * sizeof(float));
    size_t shape[2], i;
    shape[0] = n;
    shape[1] = dim;
    for (i = 0; i < n * dim; ++i)
        x[i] = (float)((i * 37u) % 17u) / 17.0f - 0.5f;
    path_of(p, sizeof p, name);
    CHECK_STATUS(aether_npy_save(p, AETHER_DTYPE_F32, 2, shape, x), AETHER_OK);
    free(x);
}

static void test_exit_table(void)
{
    expect((const char *const[]){"init-blob", "demo.rvne", NULL}, 0, "wrote");
    write_frames("f20.npy", 20, 16);
    write_frames("wide.npy", 5, 17);
    /* a cache that cannot evict fills up: valid input that does not fit */
    expect((const char *const[]){"stream", "--model", "demo.rvne", "--frames", "f20.npy",
                                 "--capacity", "8", "--evict", "none", NULL},
           5, "AETHER_ERR_CACHE_FULL");
    expect((const char *const[]){"stream", "--model", "demo.rvne", "--frames", "f20.npy",
                                 "--capacity", "8", "--evict", "sliding", NULL},
           0, "t 19 ");
    /* frames of another width: 5 in classify and stream */
    expect((const char *const[]){"classify", "--model", "demo.rvne", "--frames", "wide.npy",
                                 NULL},
           5, "expected float32 [N, 16]");
    expect((const char *const[]){"stream", "--model", "demo.rvne", "--frames", "wide.npy", NULL},
           5, "expected float32 [N, 16]");
    /* a 2-D array where attn wants [seq, heads, dim]: 5 as well */
    expect((const char *const[]){"attn", "--op", "dense", "--q", "wide.npy", "--k", "wide.npy",
                                 "--v", "wide.npy", "--out", "o.npy", NULL},
           5, "not a 3-D float32 array");
    {
        /* q and k of different head dims */
        char p[512];
        size_t sq[3] = {4, 1, 8}, sk[3] = {4, 1, 6};
        float z[32] = {0};
        path_of(p, sizeof p, "q.npy");
        CHECK_STATUS(aether_npy_save(p, AETHER_DTYPE_F32, 3, sq, z), AETHER_OK);
        path_of(p, sizeof p, "k.npy");
        CHECK_STATUS(aether_npy_save(p, AETHER_DTYPE_F32, 3, sk, z), AETHER_OK);
        expect((const char *const[]){"attn", "--op=dense", "--q=q.npy", "--k=k.npy", "--v=k.npy",
                                     "--out=o.npy", NULL},
               5, "AETHER_ERR_");
    }
    /* a recording of malformed lines only: 4 */
    CHECK(write_bytes("bad.csi.jsonl", "{\"type\":\"raw\",\"node\":\n{oops\nnot json\n", 38));
    expect((const char *const[]){"csi", "bad.csi.jsonl", NULL}, 4, "holds no CSI frame");
}

static void test_path_messages(void)
{
    expect((const char *const[]){"inspect", "missing.rvne", NULL}, 3,
           "missing.rvne: cannot read (No such file or directory)");
    expect((const char *const[]){"inspect", ".", NULL}, 3, ".: cannot read (is a directory)");
    expect((const char *const[]){"classify", "--model", ".", "--frames", "f20.npy", NULL}, 3,
           "is a directory");
    expect((const char *const[]){"classify", "--model", "demo.rvne", "--frames", "none.npy",
                                 NULL},
           3, "none.npy: cannot read (No such file or directory)");
    expect((const char *const[]){"csi", "missing.csi.jsonl", NULL}, 3,
           "No such file or directory");
    expect((const char *const[]){"packet", ".", NULL}, 3, "is a directory");
}

/* The first bracketed array after key in text, as a string. */
static int array_after(const char *text, const char *key, char *out, size_t cap)
{
    const char *p = text ? strstr(text, key) : NULL, *e;
    if (!p || !(p = strchr(p, '[')) || !(e = strchr(p, ']')) || (size_t)(e - p + 1) >= cap)
        return 0;
    memcpy(out, p, (size_t)(e - p + 1));
    out[e - p + 1] = '\0';
    return 1;
}

static void test_metadata_defaults_and_features(void)
{
    char frames[512], window[512], run_logits[1024], cls_logits[1024];
    aether_npy all;
    size_t shape[2];
    /* gesture.rvne: labels wave,circle_cw,no_gesture, pool mean, window 64 */
    expect((const char *const[]){"features", EXCERPT, "--model=" GESTURE, "--out", "f.npy", NULL},
           2, "choose one with --node N");
    expect((const char *const[]){"features", EXCERPT, "--model", GESTURE, "--node", "1", "--out",
                                 "f.npy", NULL},
           0, "x 39 features (node 1, recipe csi-v4)");
    path_of(frames, sizeof frames, "f.npy");
    memset(&all, 0, sizeof all);
    CHECK_STATUS(aether_npy_load(frames, &all), AETHER_OK);
    CHECK_EQ_INT(all.ndim, 2);
    CHECK(all.shape[0] >= 64);
    CHECK_EQ_INT(all.shape[1], 39);
    if (all.ndim != 2 || all.shape[0] < 64) {
        aether_npy_free(&all);
        return;
    }
    /* the first 64 frames: the window of node 1's first decision */
    shape[0] = 64;
    shape[1] = 39;
    path_of(window, sizeof window, "w64.npy");
    CHECK_STATUS(aether_npy_save(window, AETHER_DTYPE_F32, 2, shape, all.data), AETHER_OK);
    aether_npy_free(&all);

    expect((const char *const[]){"classify", "--model", GESTURE, "--frames", "w64.npy", NULL}, 0,
           "(pool mean,");
    {
        const char *a[] = {"classify", "--model", GESTURE, "--frames", "w64.npy", NULL};
        CHECK_EQ_INT(run(a), 0);
        CHECK(has(g_out, " label wave ") || has(g_out, " label circle_cw ") ||
              has(g_out, " label no_gesture "));
    }
    {
        const char *a[] = {"classify", "--model",     GESTURE,  "--frames",
                           "w64.npy",  "--pool=last", "--json", NULL};
        CHECK_EQ_INT(run(a), 0);
        CHECK(has(g_out, "\"pool\":\"last\"") && has(g_out, "\"label\":"));
    }
    {
        const char *a[] = {"stream", "--model", GESTURE, "--frames", "w64.npy", "--json", NULL};
        CHECK_EQ_INT(run(a), 0);
        CHECK(has(g_out, "\"t\":63,") && has(g_out, "\"label\":"));
    }
    /* classify over the exported window = run's first decision for node 1
     * (window mode, --every 64), both on the reference kernels */
    setenv("AETHER_KERNELS", "reference", 1);
    {
        const char *a[] = {"run",      "--model",    GESTURE,  "--input",       EXCERPT,
                           "--node=1", "--every=64", "--json", "--no-progress", NULL};
        CHECK_EQ_INT(run(a), 0);
        CHECK(array_after(g_out, "\"logits\":", run_logits, sizeof run_logits));
    }
    {
        const char *a[] = {"classify", "--model", GESTURE, "--frames", "w64.npy", "--json", NULL};
        CHECK_EQ_INT(run(a), 0);
        CHECK(array_after(g_out, "\"logits\":", cls_logits, sizeof cls_logits));
    }
    unsetenv("AETHER_KERNELS");
    CHECK_MSG(!strcmp(run_logits, cls_logits), "run %s vs classify %s", run_logits, cls_logits);
}

static void cleanup(void)
{
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", g_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", g_dir);
}

int main(int argc, char **argv)
{
    static const check_test_fn tests[] = {test_version_everywhere,
                                          test_help_everywhere,
                                          test_usage_errors,
                                          test_opt_equals_value,
                                          test_exit_table,
                                          test_path_messages,
                                          test_metadata_defaults_and_features};
    static const char *const names[] = {"test_version_everywhere",
                                        "test_help_everywhere",
                                        "test_usage_errors",
                                        "test_opt_equals_value",
                                        "test_exit_table",
                                        "test_path_messages",
                                        "test_metadata_defaults_and_features"};
    const char *tmp = getenv("TMPDIR");
    int rc;
    g_cli = argc > 1 ? argv[1] : AETHER_CLI_PATH;
    snprintf(g_dir, sizeof g_dir, "%s/aether_conv_XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(g_dir)) {
        fprintf(stderr, "cannot create a temp dir\n");
        return 1;
    }
    rc = check_run(__FILE__, tests, names, (int)(sizeof tests / sizeof tests[0]));
    free(g_out);
    free(g_err);
    cleanup();
    return rc;
}
