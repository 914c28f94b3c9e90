/*
 * The integer path from the CLI: `aether quantize` (usage errors, missing
 * and malformed input, the shipped gesture.q8 reproduced byte for byte),
 * `aether classify` and `aether stream` on an RVNQ blob (stream's last frame
 * equals classify --pool last, bit for bit in the printed logits), and
 * `aether eval` accepting it.
 *
 * The CLI path comes from argv[1] or AETHER_CLI_PATH.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

#include "cli_run.h"

#define GESTURE AETHER_SOURCE_DIR "/models/gesture.rvne"
#define GESTURE_Q8 AETHER_SOURCE_DIR "/models/gesture.q8"
#define EXCERPT AETHER_SOURCE_DIR "/data/esp32-raw-2node-excerpt.csi.jsonl"

static void test_quantize(void)
{
    char out[512], bad[512];
    size_t a_len = 0, b_len = 0;
    unsigned char *a, *b;
    path_of(out, sizeof out, "g.q8");
    path_of(bad, sizeof bad, "bad.rvne");
    {
        const char *args[] = {"quantize", GESTURE, out, NULL};
        expect(args, 0, "wrote");
    }
    a = test_read_file(out, &a_len);
    b = test_read_file(GESTURE_Q8, &b_len);
    CHECK_MSG(a && b && a_len == b_len && memcmp(a, b, a_len) == 0,
              "aether quantize models/gesture.rvne differs from models/gesture.q8");
    free(a);
    free(b);
    {
        const char *args[] = {"quantize", GESTURE, NULL};
        expect(args, 2, "quantize");
    }
    {
        const char *args[] = {"quantize", "--bogus", GESTURE, out, NULL};
        expect(args, 2, "--bogus");
    }
    {
        const char *args[] = {"quantize", "no_such.rvne", out, NULL};
        expect(args, 3, "no_such.rvne");
    }
    CHECK(write_bytes("bad.rvne", "ENVR not a blob at all, just bytes", 34));
    {
        const char *args[] = {"quantize", bad, out, NULL};
        expect(args, 4, "AETHER_ERR_BLOB");
    }
    {
        /* an RVNQ blob is not an input of quantize */
        const char *args[] = {"quantize", GESTURE_Q8, out, NULL};
        expect(args, 4, "AETHER_ERR_BLOB_MAGIC");
    }
    {
        const char *args[] = {"quantize", GESTURE, "/no/such/dir/x.q8", NULL};
        expect(args, 3, "cannot write");
    }
}

/* The text after `key` up to the end of its line. */
static void line_after(const char *text, const char *key, char *dst, size_t cap)
{
    const char *p = text ? strstr(text, key) : NULL;
    size_t n = 0;
    dst[0] = '\0';
    if (!p)
        return;
    p += strlen(key);
    while (p[n] && p[n] != '\n' && n + 1 < cap)
        ++n;
    memcpy(dst, p, n);
    dst[n] = '\0';
}

static void test_classify_and_stream(void)
{
    char frames[512], cls[256], str[256], *out = NULL, *err = NULL, *last;
    path_of(frames, sizeof frames, "fr.npy");
    {
        const char *args[] = {"features", EXCERPT, "--out", frames, "--model", GESTURE,
                              "--node", "1", NULL};
        expect(args, 0, "wrote");
    }
    {
        const char *args[] = {"classify", "--model", GESTURE_Q8, "--frames", frames,
                              "--pool", "last", NULL};
        CHECK_EQ_INT(run_cli(args, &out, &err), 0);
        line_after(out, "logits ", cls, sizeof cls);
        free(out);
        free(err);
    }
    {
        const char *args[] = {"stream", "--model", GESTURE_Q8, "--frames", frames, NULL};
        CHECK_EQ_INT(run_cli(args, &out, &err), 0);
        last = out ? strstr(out, "t 333 ") : NULL;
        line_after(last, "logits ", str, sizeof str);
        free(out);
        free(err);
    }
    CHECK_MSG(cls[0] && !strcmp(cls, str), "classify '%s' vs stream '%s'", cls, str);
    {
        const char *args[] = {"stream", "--model", GESTURE_Q8, "--frames", frames, "--evict",
                              "scored", "--capacity", "64", NULL};
        expect(args, 2, "sliding or none");
    }
    {
        const char *args[] = {"classify", "--model", GESTURE_Q8, "--frames", frames, "--json",
                              NULL};
        expect(args, 0, "\"argmax\":0");
    }
}

static void test_inspect(void)
{
    char trunc[512];
    size_t len = 0;
    unsigned char *b = test_read_file(GESTURE_Q8, &len);
    path_of(trunc, sizeof trunc, "trunc.q8");
    {
        const char *args[] = {"inspect", GESTURE_Q8, NULL};
        expect(args, 0, "RVNQ quantized blob");
    }
    {
        const char *args[] = {"inspect", "--json", GESTURE_Q8, NULL};
        expect(args, 0, "\"valid\":true");
    }
    CHECK(b && write_bytes("trunc.q8", b, len / 2));
    {
        const char *args[] = {"inspect", trunc, NULL};
        expect(args, 4, "AETHER_ERR_BLOB_LENGTH");
    }
    free(b);
}

static void test_eval_accepts_rvnq(void)
{
    REQUIRE_PATH(AETHER_DATA_DIR "/espectre/dataset_info.json");
    {
        const char *args[] = {"eval", "--model", GESTURE_Q8, "--data",
                              AETHER_DATA_DIR "/espectre", "--json", NULL};
        expect(args, 0, "\"macro_f1\":0.895341");
    }
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
    static const check_test_fn tests[] = {test_quantize, test_classify_and_stream, test_inspect,
                                          test_eval_accepts_rvnq};
    static const char *const names[] = {"test_quantize", "test_classify_and_stream",
                                        "test_inspect", "test_eval_accepts_rvnq"};
    const char *tmp = getenv("TMPDIR");
    int rc;
    g_cli = argc > 1 ? argv[1] : AETHER_CLI_PATH;
    snprintf(g_dir, sizeof g_dir, "%s/aether_quant_XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(g_dir)) {
        fprintf(stderr, "cannot create a temp dir\n");
        return 1;
    }
    rc = check_run(__FILE__, tests, names, (int)(sizeof tests / sizeof tests[0]));
    cleanup();
    return rc;
}
