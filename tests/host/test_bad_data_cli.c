/*
 * Bad data end to end through the CLI: NaN/Inf frames, frames of the wrong
 * size, truncated and garbage .npy / blobs / recordings, a blob for another
 * shape, missing files. Each run must end normally (never by a signal) with
 * the documented exit status (tools/commands.h: 2 usage, 3 I/O, 4 malformed
 * input, 5 valid input that does not fit, 6 non-finite data; inspect: 5
 * parses but is not a loadable model) and a
 * message naming the problem. `aether stream` must reject a bad frame and
 * carry on in a valid state: the frames after it get exactly the logits of
 * a stream over the same frames without the bad one.
 *
 * The CLI path comes from argv[1] or from AETHER_CLI_PATH (set by
 * tests/CMakeLists.txt); inputs are generated in a fresh temp directory.
 */
#define _POSIX_C_SOURCE 200809L
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "aether/blob.h"
#include "aether/npy.h"
#include "check.h"

#include "cli_run.h"

#define IN 16
#define NF 20

static float g_frames[NF * IN];

static int make_inputs(void)
{
    aether_blob_demo_params p = aether_blob_demo_default();
    size_t n = 0, len = 0, i, shape[2] = {NF, IN};
    unsigned char *b, *nb;
    float bad[NF * IN], wrong[NF * (IN - 1)], skip[(NF - 1) * IN];
    char path[512];
    int ok = 1;

    for (i = 0; i < NF * IN; ++i)
        g_frames[i] = (float)((int)((i * 7919u) % 23u) - 11) * 0.05f;
#define SAVE(name, nd, shp, data)                                                  \
    do {                                                                           \
        path_of(path, sizeof path, name);                                          \
        ok &= aether_npy_save(path, AETHER_DTYPE_F32, nd, shp, data) == AETHER_OK; \
    } while (0)
    SAVE("good.npy", 2, shape, g_frames);
    memcpy(bad, g_frames, sizeof bad);
    bad[5 * IN + 3] = aether_f32_from_bits(0x7FC00000u);
    SAVE("nan.npy", 2, shape, bad);
    bad[5 * IN + 3] = aether_f32_from_bits(0xFF800000u);
    SAVE("inf.npy", 2, shape, bad);
    memcpy(skip, g_frames, 5 * IN * sizeof(float));
    memcpy(skip + 5 * IN, g_frames + 6 * IN, (NF - 6) * IN * sizeof(float));
    {
        size_t s2[2] = {NF - 1, IN};
        SAVE("skip5.npy", 2, s2, skip);
    }
    for (i = 0; i < NF * (IN - 1); ++i)
        wrong[i] = 0.25f;
    {
        size_t s2[2] = {NF, IN - 1};
        SAVE("wrongdim.npy", 2, s2, wrong);
    }
    {
        size_t s0[2] = {0, IN};
        SAVE("empty.npy", 2, s0, g_frames);
    }
    {
        unsigned char *enc = NULL;
        size_t enc_len = 0;
        ok &= aether_npy_encode(AETHER_DTYPE_F32, 2, shape, g_frames, &enc, &enc_len) ==
              AETHER_OK;
        if (enc) {
            ok &= write_bytes("trunc.npy", enc, enc_len / 2);
            free(enc);
        }
    }
    {
        unsigned char g[300];
        for (i = 0; i < sizeof g; ++i)
            g[i] = (unsigned char)(i * 131u + 7u);
        ok &= write_bytes("garbage.npy", g, sizeof g);
        ok &= write_bytes("garbage.rvne", g, sizeof g);
        ok &= write_bytes("garbage.bin", g, sizeof g);
    }
    /* Blobs: the default shape (I = 16), another shape (I = 8), truncated,
     * CRC-corrupt, NaN weight with a valid CRC. */
    if (aether_blob_demo_size(&p, &n) != AETHER_OK)
        return 0;
    b = (unsigned char *)malloc(n);
    if (!b || aether_blob_demo_write(&p, b, n, &len) != AETHER_OK) {
        free(b);
        return 0;
    }
    ok &= write_bytes("good.rvne", b, len);
    ok &= write_bytes("trunc.rvne", b, len / 3);
    nb = (unsigned char *)malloc(len);
    if (nb) {
        memcpy(nb, b, len);
        nb[len / 2] ^= 0x10;
        ok &= write_bytes("crc.rvne", nb, len);
        memcpy(nb, b, len);
        aether_store_le32(nb + 24, 0x7FC00000u);
        aether_store_le32(nb + len - 4, aether_crc32(nb, len - 4));
        ok &= write_bytes("nanw.rvne", nb, len);
        free(nb);
    }
    free(b);
    p.input_dim = 8;
    if (aether_blob_demo_size(&p, &n) != AETHER_OK)
        return 0;
    b = (unsigned char *)malloc(n);
    if (!b || aether_blob_demo_write(&p, b, n, &len) != AETHER_OK) {
        free(b);
        return 0;
    }
    ok &= write_bytes("other.rvne", b, len);
    free(b);
    /* Recordings. */
    {
        static const char line[] = "{\"timestamp\":1772472969.092,\"subcarriers\":[0.0,3.0,4.1,8."
                                   "0,10.2,13.1,15.1,16.0]}";
        char buf[512];
        snprintf(buf, sizeof buf, "%s\n%.*s", line, (int)(sizeof line / 2), line);
        ok &= write_bytes("trunc.csi.jsonl", buf, strlen(buf));
        snprintf(buf, sizeof buf,
                 "%s\n{\"timestamp\": oops\n[1,2]\n{\"subcarriers\":[NaN,1]}\n%s\n", line, line);
        ok &= write_bytes("badlines.csi.jsonl", buf, strlen(buf));
        ok &= write_bytes("trunc.npz", "PK\x03\x04\x14\x00\x00\x00\x08\x00", 10);
        ok &= write_bytes("empty.csi.jsonl", "", 0);
    }
    return ok;
}

static void test_classify_bad_frames(void)
{
    {
        const char *a[] = {"classify", "--model", "good.rvne", "--frames", "good.npy", NULL};
        expect(a, 0, "argmax");
    }
    {
        const char *a[] = {"classify", "--model", "good.rvne", "--frames", "nan.npy", NULL};
        expect(a, 6, "NaN or Inf");
    }
    {
        const char *a[] = {"classify", "--model", "good.rvne", "--frames", "inf.npy", NULL};
        expect(a, 6, "NaN or Inf");
    }
    {
        const char *a[] = {"classify", "--model", "good.rvne", "--frames", "wrongdim.npy", NULL};
        expect(a, 5, "[N, 16]");
    }
    {
        const char *a[] = {"classify", "--model", "good.rvne", "--frames", "empty.npy", NULL};
        expect(a, 4, "no frames");
    }
    {
        const char *a[] = {"classify", "--model", "good.rvne", "--frames", "trunc.npy", NULL};
        expect(a, 4, "truncated");
    }
    {
        const char *a[] = {"classify", "--model", "good.rvne", "--frames", "garbage.npy", NULL};
        expect(a, 4, "not a .npy");
    }
    {
        const char *a[] = {"classify", "--model", "good.rvne", "--frames", "missing.npy", NULL};
        expect(a, 3, "missing.npy");
    }
    {
        const char *a[] = {"classify", "--model", "good.rvne", NULL};
        expect(a, 2, NULL);
    }
}

static void test_classify_bad_models(void)
{
    {
        const char *a[] = {"classify", "--model", "other.rvne", "--frames", "good.npy", NULL};
        expect(a, 5, "[N, 8]");
    }
    {
        const char *a[] = {"classify", "--model", "trunc.rvne", "--frames", "good.npy", NULL};
        expect(a, 4, "AETHER_ERR_BLOB_LENGTH");
    }
    {
        const char *a[] = {"classify", "--model", "crc.rvne", "--frames", "good.npy", NULL};
        expect(a, 4, "AETHER_ERR_BLOB_CRC");
    }
    {
        const char *a[] = {"classify", "--model", "garbage.rvne", "--frames", "good.npy", NULL};
        expect(a, 4, "AETHER_ERR_BLOB_MAGIC");
    }
    {
        const char *a[] = {"classify", "--model", "nanw.rvne", "--frames", "good.npy", NULL};
        expect(a, 4, "AETHER_ERR_BLOB_NONFINITE");
    }
    {
        const char *a[] = {"classify", "--model", "missing.rvne", "--frames", "good.npy", NULL};
        expect(a, 3, "missing.rvne");
    }
}

/* Logit text of line "t N ..." in a stream output (NULL if absent). */
static const char *stream_line(const char *out, int t, char *buf, size_t cap)
{
    char key[32];
    const char *p, *e;
    snprintf(key, sizeof key, "t %d ", t);
    for (p = out; p && *p; p = e ? e + 1 : NULL) {
        e = strchr(p, '\n');
        if (strncmp(p, key, strlen(key)) == 0) {
            size_t n = e ? (size_t)(e - p) : strlen(p);
            const char *rest = p + strlen(key);
            n -= (size_t)(rest - p);
            if (n >= cap)
                n = cap - 1;
            memcpy(buf, rest, n);
            buf[n] = 0;
            return buf;
        }
    }
    return NULL;
}

static void test_stream_recovers(void)
{
    const char *a_bad[] = {"stream", "--model", "good.rvne", "--frames", "nan.npy", NULL};
    const char *a_ref[] = {"stream", "--model", "good.rvne", "--frames", "skip5.npy", NULL};
    char *out_bad = NULL, *err_bad = NULL, *out_ref = NULL, *err_ref = NULL;
    int rc_bad = run_cli(a_bad, &out_bad, &err_bad);
    int rc_ref = run_cli(a_ref, &out_ref, &err_ref);
    int t, same = 0;
    CHECK_EQ_INT(rc_bad, 6);
    CHECK_EQ_INT(rc_ref, 0);
    CHECK(out_bad && strstr(out_bad, "t 5 REJECTED") && strstr(out_bad, "NaN or Inf"));
    /* Frames after the rejected one: bad-file frame t (t > 5) is frame t-1
     * of the stream without it. */
    for (t = 6; t < NF && out_bad && out_ref; ++t) {
        char b1[512], b2[512];
        const char *l1 = stream_line(out_bad, t, b1, sizeof b1);
        const char *l2 = stream_line(out_ref, t - 1, b2, sizeof b2);
        if (l1 && l2 && strcmp(l1, l2) == 0)
            same++;
    }
    CHECK_EQ_INT(same, NF - 6);
    free(out_bad);
    free(err_bad);
    free(out_ref);
    free(err_ref);
    {
        const char *a[] = {"stream", "--model", "other.rvne", "--frames", "good.npy", NULL};
        expect(a, 5, "[N, 8]");
    }
    {
        const char *a[] = {"stream", "--model", "good.rvne", "--frames", "wrongdim.npy", NULL};
        expect(a, 5, "[N, 16]");
    }
    {
        const char *a[] = {"stream", "--model", "crc.rvne", "--frames", "good.npy", NULL};
        expect(a, 4, "AETHER_ERR_BLOB_CRC");
    }
}

static void test_csi_bad_recordings(void)
{
    {
        /* A malformed last line is counted and reported; the rest is read. */
        const char *a[] = {"csi", "trunc.csi.jsonl", NULL};
        expect(a, 0, "malformed: 1");
    }
    {
        const char *a[] = {"csi", "badlines.csi.jsonl", NULL};
        expect(a, 0, "malformed: 3");
    }
    {
        const char *a[] = {"csi", "garbage.bin", NULL};
        expect(a, 4, "unrecognised file format");
    }
    {
        const char *a[] = {"csi", "trunc.npz", NULL};
        expect(a, 4, "zip");
    }
    {
        /* the summary is printed, but a file without one CSI frame is an
         * error (4) */
        const char *a[] = {"csi", "empty.csi.jsonl", NULL};
        expect(a, 4, "frames:    0");
    }
    {
        const char *a[] = {"csi", "empty.csi.jsonl", NULL};
        expect(a, 4, "holds no CSI frame");
    }
    {
        const char *a[] = {"csi", "missing.csi.jsonl", NULL};
        expect(a, 3, "missing.csi.jsonl");
    }
}

static void test_inspect_bad_blobs(void)
{
    {
        const char *a[] = {"inspect", "good.rvne", NULL};
        expect(a, 0, NULL);
    }
    {
        const char *a[] = {"inspect", "trunc.rvne", NULL};
        expect(a, 4, "AETHER_ERR_BLOB_LENGTH");
    }
    {
        const char *a[] = {"inspect", "garbage.rvne", NULL};
        expect(a, 4, "AETHER_ERR_BLOB_MAGIC");
    }
    {
        /* a blob that parses but is not a loadable model is malformed (4),
         * as in every other command */
        const char *a[] = {"inspect", "nanw.rvne", NULL};
        expect(a, 4, "AETHER_ERR_BLOB_NONFINITE");
    }
    {
        const char *a[] = {"inspect", "missing.rvne", NULL};
        expect(a, 3, NULL);
    }
}

static void cleanup(void)
{
    static const char *const names[] =
        {"good.npy",           "nan.npy",     "inf.npy",         "skip5.npy",
         "wrongdim.npy",       "empty.npy",   "trunc.npy",       "garbage.npy",
         "garbage.rvne",       "garbage.bin", "good.rvne",       "trunc.rvne",
         "crc.rvne",           "nanw.rvne",   "other.rvne",      "trunc.csi.jsonl",
         "badlines.csi.jsonl", "trunc.npz",   "empty.csi.jsonl", "stdout.txt",
         "stderr.txt"};
    size_t i;
    char p[512];
    for (i = 0; i < sizeof names / sizeof names[0]; ++i) {
        path_of(p, sizeof p, names[i]);
        remove(p);
    }
    rmdir(g_dir);
}

int main(int argc, char **argv)
{
    static const check_test_fn tests[] = {test_classify_bad_frames, test_classify_bad_models,
                                          test_stream_recovers, test_csi_bad_recordings,
                                          test_inspect_bad_blobs};
    static const char *const names[] = {"test_classify_bad_frames", "test_classify_bad_models",
                                        "test_stream_recovers", "test_csi_bad_recordings",
                                        "test_inspect_bad_blobs"};
    const char *tmp = getenv("TMPDIR");
    int rc;
    g_cli = argc > 1 ? argv[1] : AETHER_CLI_PATH;
    if (!g_cli || !g_cli[0] || access(g_cli, X_OK) != 0) {
        printf("test_bad_data_cli: no CLI (pass its path as argv[1]); skipped\n");
        return 0;
    }
    snprintf(g_dir, sizeof g_dir, "%s/aether_bad_XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(g_dir)) {
        fprintf(stderr, "cannot create a temp dir\n");
        return 1;
    }
    if (!make_inputs()) {
        fprintf(stderr, "cannot write the inputs\n");
        cleanup();
        return 1;
    }
    rc = check_run(__FILE__, tests, names, 5);
    cleanup();
    return rc;
}
