/*
 * Edge cases of the CLI's inputs, each once a defect: a number given with a
 * sign after blanks, a recording without one CSI frame given to `aether
 * run`, `aether replay --loop` over a recording it cannot send anything of
 * (it must stop, not spin), a pace so slow that the wait overflows, a blob
 * whose metadata no loader accepts shown as a valid model by `aether
 * inspect`, the exit status of an attention configuration that does not
 * validate (2 when the command line gave it, 4 when the blob's metadata
 * did), and outputs that cannot be written completely (no truncated file
 * left behind, and a message naming the reason).
 *
 * The CLI path comes from argv[1] or AETHER_CLI_PATH (tests/CMakeLists.txt);
 * every child runs with a time limit.
 */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "aether/blob.h"
#include "aether/core.h"
#include "aether/npy.h"
#include "aether/packet.h"
#include "check.h"

#include "cli_run.h"

#define GESTURE AETHER_SOURCE_DIR "/models/gesture.rvne"
#define MOTION AETHER_SOURCE_DIR "/models/motion.rvne"
#define EXCERPT AETHER_SOURCE_DIR "/data/esp32-raw-2node-excerpt.csi.jsonl"
#define CHILD_TIMEOUT_S 60.0

/* An amplitude-only line (ADR-018 cannot carry it) and a raw I/Q line. */
static const char k_amp_line[] =
    "{\"timestamp\":1772472969.092,\"subcarriers\":[0.0,3.0,4.1,8.0,10.2,13.1,15.1,16.0]}\n";

static int file_exists(const char *name)
{
    char p[512];
    struct stat sb;
    path_of(p, sizeof p, name);
    return stat(p, &sb) == 0;
}

/* The first n lines of the shipped excerpt into g_dir/name. */
static int excerpt_retimed(const char *name, const double *ts, size_t n);
static int excerpt_lines(const char *name, size_t n)
{
    return excerpt_retimed(name, NULL, n);
}

/* ---------------- numbers ---------------- */

static void test_numbers_with_blanks_and_signs(void)
{
    /* strtoull skips blanks and negates after them: " -1" was SIZE_MAX */
    {
        const char *a[] = {"run",     "--model", GESTURE, "--input", EXCERPT,
                           "--every", " -1",     NULL};
        expect(a, 2, "--every");
    }
    {
        const char *a[] = {"csi", EXCERPT, "--count", " 2", NULL};
        expect(a, 2, "--count");
    }
    {
        const char *a[] = {"init-blob", "--classes", "\t3", "x.rvne", NULL};
        expect(a, 2, "--classes");
    }
    CHECK(!file_exists("x.rvne"));
    {
        const char *a[] = {"attn", "--op", "dense", "--q", "q.npy", "--k", "k.npy", "--v",
                           "v.npy", "--out", "o.npy", "--window", " -5", NULL};
        expect(a, 2, "--window");
    }
    {
        const char *a[] = {"init-blob", "--classes", "3", "x.rvne", NULL};
        expect(a, 0, "wrote x.rvne");
    }
    {
        /* --max-line 0 is refused by run as by csi, features and replay (run
         * took it as the default) */
        const char *a[] = {"run", "--model", GESTURE, "--input", EXCERPT, "--max-line", "0",
                           NULL};
        expect(a, 2, "--max-line");
    }
    {
        const char *a[] = {"csi", EXCERPT, "--max-line", "0", NULL};
        expect(a, 2, "--max-line");
    }
}

/* ---------------- run: a recording without one CSI frame ---------------- */

static void test_run_without_frames(void)
{
    CHECK(write_bytes("empty.csi.jsonl", "", 0));
    {
        static const char line[] = "{\"timestamp\": 1.0, \"node_id\": 2}\n";
        CHECK(write_bytes("noframe.csi.jsonl", line, strlen(line)));
    }
    {
        const char *a[] = {"run", "--model", GESTURE, "--input", "empty.csi.jsonl", NULL};
        expect(a, 4, "holds no CSI frame");
    }
    {
        const char *a[] = {"run",    "--model", GESTURE, "--input", "noframe.csi.jsonl",
                           "--json", NULL};
        expect(a, 4, "holds no CSI frame");
    }
    {
        /* frames of another node only are filtered, not missing: exit 0 */
        const char *a[] = {"run",    "--model", GESTURE, "--input", EXCERPT,
                           "--node", "7",       NULL};
        expect(a, 0, "filtered");
    }
}

/* The first n lines of the excerpt into g_dir/name, with timestamps
 * ts[0..n-1] (ts NULL: as they are). */
static int excerpt_retimed(const char *name, const double *ts, size_t n)
{
    FILE *in = fopen(EXCERPT, "rb");
    char p[512], line[8192];
    FILE *out;
    size_t i;
    int ok = 1;
    if (!in)
        return 0;
    path_of(p, sizeof p, name);
    out = fopen(p, "wb");
    if (!out) {
        fclose(in);
        return 0;
    }
    for (i = 0; i < n && ok; ++i) {
        const char *rest;
        if (!ts)
            ok = fgets(line, sizeof line, in) != NULL && fputs(line, out) >= 0;
        else
            ok = fgets(line, sizeof line, in) != NULL && (rest = strchr(line, ',')) != NULL &&
                 fprintf(out, "{\"timestamp\": %.6f%s", ts[i], rest) > 0;
    }
    fclose(in);
    return fclose(out) == 0 && ok;
}

static void test_run_period_schedule(void)
{
    /* --period below the timestamps' resolution (1.7e9 s: 2.4e-7 s) never
     * moved the schedule: the run hung at its second frame. Now every
     * frame after a node's first is a decision. */
    static const double gap[6] = {1.0, 1.0, 2.0, 2.0, 1e9, 1e9};
    const char *a[] = {"run",      "--model", GESTURE, "--input", EXCERPT, "--period",
                       "1e-9",     NULL};
    const char *b[] = {"run",      "--model", GESTURE, "--input", "gap.csi.jsonl",
                       "--period", "0.001",   NULL};
    pid_t pid;
    char *out;
    pid = spawn_program(g_cli, a, -1, "period.out", "period.err");
    CHECK_EQ_INT(wait_child(pid, CHILD_TIMEOUT_S), 0);
    out = read_named("period.out");
    CHECK_MSG(out && strstr(out, "decisions:  668; node 1: 333; node 2: 335"), "stdout: %.600s",
              out ? out : "");
    free(out);
    /* a jump of 1e9 s at a period of 1 ms: 1e12 steps of the schedule */
    CHECK(excerpt_retimed("gap.csi.jsonl", gap, 6));
    pid = spawn_program(g_cli, b, -1, "period.out", "period.err");
    CHECK_EQ_INT(wait_child(pid, CHILD_TIMEOUT_S), 0);
    out = read_named("period.out");
    CHECK_MSG(out && strstr(out, "decisions:  4; node 1: 2; node 2: 2"), "stdout: %.600s",
              out ? out : "");
    free(out);
}

/* ---------------- replay ---------------- */

static void test_replay_loop_nothing_to_send(void)
{
    const char *a[] = {"replay", "amp.csi.jsonl", "--to", "127.0.0.1:9", "--rate",
                       "max",    "--loop",        NULL};
    const char *b[] = {"replay", "amp.csi.jsonl", "--to",    "127.0.0.1:9", "--rate",
                       "max",    "--loop",        "--count", "5",           NULL};
    pid_t pid;
    char *err;
    CHECK(write_bytes("amp.csi.jsonl", k_amp_line, strlen(k_amp_line)));
    /* every pass skips every frame: it must stop after one, as without --loop */
    pid = spawn_program(g_cli, a, -1, "loop.out", "loop.err");
    CHECK_EQ_INT(wait_child(pid, 10.0), 5);
    err = read_named("loop.err");
    CHECK_MSG(err && strstr(err, "no frame could be sent"), "stderr: %.200s", err ? err : "");
    free(err);
    pid = spawn_program(g_cli, b, -1, "loop.out", "loop.err");
    CHECK_EQ_INT(wait_child(pid, 10.0), 5);
    /* nothing at all to send: a recording without one CSI frame (4) */
    CHECK(write_bytes("empty.csi.jsonl", "", 0));
    {
        const char *c[] = {"replay", "empty.csi.jsonl", "--to", "127.0.0.1:9", "--rate",
                           "max",    "--loop",          NULL};
        pid = spawn_program(g_cli, c, -1, "loop.out", "loop.err");
        CHECK_EQ_INT(wait_child(pid, 10.0), 4);
        err = read_named("loop.err");
        CHECK_MSG(err && strstr(err, "holds no CSI frame"), "stderr: %.200s", err ? err : "");
        free(err);
    }
}

/* A loopback UDP socket; its port in *port. */
static int udp_socket(unsigned *port)
{
    struct sockaddr_in sa;
    socklen_t len = sizeof sa;
    struct timeval tv;
    int fd = socket(AF_INET, SOCK_DGRAM, 0);
    if (fd < 0)
        return -1;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    tv.tv_sec = 0;
    tv.tv_usec = 200000;
    if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &len) != 0 ||
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) != 0) {
        close(fd);
        return -1;
    }
    *port = ntohs(sa.sin_port);
    return fd;
}

static size_t drain(int fd)
{
    unsigned char buf[4096];
    size_t n = 0;
    while (recv(fd, buf, sizeof buf, 0) > 0)
        n++;
    return n;
}

static void test_replay_slow_pace(void)
{
    /* At 1e-300 times the recorded pace the second frame is due after
     * about 1e297 s: the wait overflowed time_t and every frame went out at
     * once. Now the first goes out, the rest wait, and SIGINT ends it. */
    unsigned port = 0;
    int fd = udp_socket(&port);
    char to[64], *out;
    pid_t pid;
    size_t got;
    const char *a[] = {"replay", "three.csi.jsonl", "--to", to, "--rate", "1e-300", NULL};
    CHECK(fd >= 0);
    if (fd < 0)
        return;
    CHECK(excerpt_lines("three.csi.jsonl", 3));
    snprintf(to, sizeof to, "127.0.0.1:%u", port);
    pid = spawn_program(g_cli, a, -1, "slow.out", "slow.err");
    nap_ms(800);
    CHECK_EQ_INT(kill(pid, SIGINT), 0);
    CHECK_EQ_INT(wait_child(pid, 10.0), 0);
    got = drain(fd);
    close(fd);
    CHECK_MSG(got == 1, "%lu datagrams arrived, expected 1", (unsigned long)got);
    out = read_named("slow.out");
    CHECK_MSG(out && strstr(out, "replay: 1 datagrams"), "stdout: %.200s", out ? out : "");
    free(out);
}

/* ---------------- blobs whose metadata the loaders refuse ---------------- */

/* The shipped gesture model with this metadata text, into g_dir/name. */
static int gesture_with_metadata(const char *name, const char *text)
{
    size_t len = 0, need = 0, wrote = 0;
    unsigned char *bytes = test_read_file(GESTURE, &len), *out = NULL;
    aether_blob_view v;
    int ok = bytes && aether_blob_parse(bytes, len, &v) == AETHER_OK &&
             aether_blob_with_metadata_size(&v, strlen(text), &need) == AETHER_OK &&
             (out = (unsigned char *)malloc(need)) != NULL &&
             aether_blob_with_metadata(&v, text, strlen(text), out, need, &wrote) ==
                 AETHER_OK &&
             write_bytes(name, out, wrote);
    free(out);
    free(bytes);
    return ok;
}

#define GESTURE_META                                                                          \
    "pool=mean\nwindow_frames=64\nwindow_stride=16\nattn_window=32\nbackend=sparse_gqa\n" \
    "features=csi-v4\ninput_dim=39\n"

static void test_metadata_refused_everywhere(void)
{
    CHECK(gesture_with_metadata("lab2.rvne", "labels=a,b\n" GESTURE_META "attn_block=16\n"));
    CHECK(gesture_with_metadata("ab0.rvne", "labels=a,b,c\n" GESTURE_META "attn_block=0\n"));
    CHECK(gesture_with_metadata("ok.rvne", "labels=a,b,c\n" GESTURE_META "attn_block=16\n"));
    {
        const char *a[] = {"features", EXCERPT, "--model", GESTURE, "--node", "1",
                           "--out",    "g1.npy", NULL};
        expect(a, 0, "wrote g1.npy");
    }
    /* two labels for three classes: every loader refuses it (4), and inspect
     * called it a valid model (0) */
    {
        const char *a[] = {"classify", "--model", "lab2.rvne", "--frames", "g1.npy", NULL};
        expect(a, 4, "AETHER_ERR_BLOB_LABELS");
    }
    {
        const char *a[] = {"inspect", "lab2.rvne", NULL};
        expect(a, 4, "model       INVALID");
    }
    {
        const char *a[] = {"inspect", "--json", "lab2.rvne", NULL};
        expect(a, 4, "\"status\":\"AETHER_ERR_BLOB_LABELS\"");
    }
    {
        /* nor is it quantized into a blob that no loader takes */
        const char *a[] = {"quantize", "lab2.rvne", "lab2.q8", NULL};
        expect(a, 4, "AETHER_ERR_BLOB_LABELS");
    }
    CHECK(!file_exists("lab2.q8"));
    /* attn_block=0 in the metadata: the blob is at fault (4), not the
     * command line (2); an option that overrides it makes it usable */
    {
        const char *a[] = {"inspect", "ab0.rvne", NULL};
        expect(a, 4, "model       INVALID");
    }
    {
        const char *a[] = {"classify", "--model", "ab0.rvne", "--frames", "g1.npy", NULL};
        expect(a, 4, "its metadata's attention configuration");
    }
    {
        const char *a[] = {"stream", "--model", "ab0.rvne", "--frames", "g1.npy", NULL};
        expect(a, 4, "its metadata's attention configuration");
    }
    {
        const char *a[] = {"run", "--model", "ab0.rvne", "--input", EXCERPT, NULL};
        expect(a, 4, "its metadata's attention configuration");
    }
    {
        const char *a[] = {"eval", "--model", "ab0.rvne", "--data", ".", NULL};
        expect(a, 4, "its metadata's attention configuration");
    }
    {
        const char *a[] = {"classify", "--model",  "ab0.rvne", "--frames",
                           "g1.npy",   "--block", "16",       NULL};
        expect(a, 0, "argmax");
    }
    /* --block 0 on the command line is a usage error (2) in every command
     * (run answered 4) */
    {
        const char *a[] = {"run", "--model", "ok.rvne", "--input", EXCERPT, "--block", "0",
                           NULL};
        expect(a, 2, "block_size");
    }
    {
        const char *a[] = {"classify", "--model", "ok.rvne", "--frames", "g1.npy", "--block",
                           "0",        NULL};
        expect(a, 2, "block_size");
    }
    {
        const char *a[] = {"eval", "--model", "ok.rvne", "--data", ".", "--block", "0", NULL};
        expect(a, 2, "block_size");
    }
    {
        const char *a[] = {"inspect", "ok.rvne", NULL};
        expect(a, 0, "model       ok");
    }
    {
        const char *a[] = {"quantize", "ok.rvne", "ok.q8", NULL};
        expect(a, 0, "wrote ok.q8");
    }
    {
        const char *a[] = {"inspect", "ok.q8", NULL};
        expect(a, 0, "valid       yes");
    }
}

/* ---------------- outputs that cannot be written whole ---------------- */

static void expect_no_partial(const char *const *args, rlim_t fsize, const char *out)
{
    char *err = NULL;
    int rc = run_cli_rlimit(args, RLIMIT_FSIZE, fsize, NULL, &err);
    CHECK_MSG(rc == 3, "%s %s: exit %d, expected 3 (stderr %.200s)", args[0], out, rc,
              err ? err : "");
    CHECK_MSG(err && strstr(err, out) && strstr(err, strerror(EFBIG)),
              "%s: the message names neither the file nor the reason: %.200s", args[0],
              err ? err : "");
    CHECK_MSG(!file_exists(out), "%s left a truncated %s behind", args[0], out);
    printf("  exit %d  %s -> %s (limit %lu bytes)\n", rc, args[0], out, (unsigned long)fsize);
    free(err);
}

static void test_outputs_not_left_half_written(void)
{
    {
        /* the demo blob is 41,244 bytes */
        const char *a[] = {"init-blob", "big.rvne", NULL};
        expect_no_partial(a, 16384, "big.rvne");
    }
    {
        /* 6,220 bytes */
        const char *a[] = {"quantize", GESTURE, "g.q8", NULL};
        expect_no_partial(a, 4096, "g.q8");
    }
    {
        /* 334 frames x 39 features: 52 KB */
        const char *a[] = {"features", EXCERPT, "--model", GESTURE, "--node", "1",
                           "--out",    "f.npy", NULL};
        expect_no_partial(a, 16384, "f.npy");
    }
    {
        static float x[64 * 4 * 32];
        size_t shape[3] = {64, 4, 32}, i;
        char p[512];
        const char *a[] = {"attn", "--op",  "dense", "--q",   "q.npy", "--k",
                           "q.npy", "--v",  "q.npy", "--out", "o.npy", NULL};
        for (i = 0; i < sizeof x / sizeof x[0]; ++i)
            x[i] = (float)((int)(i % 17u) - 8) * 0.125f;
        path_of(p, sizeof p, "q.npy");
        CHECK(aether_npy_save(p, AETHER_DTYPE_F32, 3, shape, x) == AETHER_OK);
        /* the output is 32 KB */
        expect_no_partial(a, 16384, "o.npy");
        {
            /* with room it is written whole */
            const char *b[] = {"attn", "--op", "dense", "--q",   "q.npy", "--k", "q.npy",
                               "--v",  "q.npy", "--out", "o.npy", NULL};
            expect(b, 0, "o.npy");
        }
        CHECK(file_exists("o.npy"));
    }
    {
        /* an output that cannot even be opened: the reason is named */
        const char *a[] = {"init-blob", "no/such/dir/x.rvne", NULL};
        expect(a, 3, "No such file or directory");
    }
}

/* ---------------- NaN / Inf given to `aether attn` ---------------- */

static void test_attn_nonfinite_input(void)
{
    /* NaN or Inf in q, k or v: exit 0 and a NaN output were written; the
     * exit table says 6, with the array and the first bad index named and
     * nothing written */
    static float x[8 * 2 * 4];
    static const char *const arrays[3] = {"q", "k", "v"};
    size_t shape[3] = {8, 2, 4}, i;
    char p[512];
    int j;
    for (i = 0; i < sizeof x / sizeof x[0]; ++i)
        x[i] = (float)((int)(i % 7u) - 3) * 0.25f;
    path_of(p, sizeof p, "good.npy");
    CHECK(aether_npy_save(p, AETHER_DTYPE_F32, 3, shape, x) == AETHER_OK);
    x[37] = (float)NAN;
    x[50] = (float)INFINITY;
    path_of(p, sizeof p, "nan.npy");
    CHECK(aether_npy_save(p, AETHER_DTYPE_F32, 3, shape, x) == AETHER_OK);
    x[37] = 0.5f;
    path_of(p, sizeof p, "inf.npy");
    CHECK(aether_npy_save(p, AETHER_DTYPE_F32, 3, shape, x) == AETHER_OK);
    for (j = 0; j < 3; ++j) {
        const char *in[3] = {"good.npy", "good.npy", "good.npy"};
        const char *bad = j == 1 ? "inf.npy" : "nan.npy";
        char want[32];
        char *out = NULL, *err = NULL;
        int rc;
        in[j] = bad;
        {
            const char *a[] = {"attn", "--op", j == 2 ? "forward" : "dense", "--q", in[0], "--k",
                               in[1],  "--v",  in[2], "--out", "nf.npy", NULL};
            path_of(p, sizeof p, "nf.npy");
            remove(p);
            rc = run_cli(a, &out, &err);
        }
        snprintf(want, sizeof want, "%s[%d]", arrays[j], j == 1 ? 50 : 37);
        CHECK_MSG(rc == 6 && err && strstr(err, want) && strstr(err, bad),
                  "attn with %s as %s: exit %d, stderr %.200s", bad, arrays[j], rc,
                  err ? err : "");
        CHECK_MSG(!file_exists("nf.npy"), "attn with %s as %s wrote an output", bad, arrays[j]);
        free(out);
        free(err);
    }
    {
        const char *a[] = {"attn", "--op", "dense", "--q", "good.npy", "--k", "good.npy",
                           "--v",  "good.npy", "--out", "nf.npy", NULL};
        expect(a, 0, "nf.npy");
        CHECK(file_exists("nf.npy"));
    }
}

/* ---------------- recipes named by --help ---------------- */

static void test_help_lists_every_recipe(void)
{
    /* `aether csi --help` listed the recipes up to csi-v4 while csi-v5 was
     * accepted: every --help that lists recipes names the last one the
     * parser takes (found by trying csi-v1, csi-v2, ...) */
    static const char *const cmds[] = {"csi", "features", "run", "train", "eval", "baseline"};
    char name[16], want[8];
    int v, last = 0;
    size_t i;
    for (v = 1; v <= 9; ++v) {
        const char *a[] = {"csi", EXCERPT, "--features", "--count", "1", "--recipe", name, NULL};
        char *out = NULL, *err = NULL;
        int rc;
        snprintf(name, sizeof name, "csi-v%d", v);
        rc = run_cli(a, &out, &err);
        if (rc == 0)
            last = v;
        else
            CHECK_MSG(rc == 2 && err && strstr(err, "--recipe is"), "csi --recipe %s: exit %d",
                      name, rc);
        free(out);
        free(err);
        if (rc != 0)
            break;
    }
    CHECK(last >= 5);
    snprintf(want, sizeof want, "-v%d", last);
    for (i = 0; i < sizeof cmds / sizeof cmds[0]; ++i) {
        const char *a[] = {cmds[i], "--help", NULL};
        char *out = NULL, *err = NULL;
        int rc = run_cli(a, &out, &err);
        const char *line = out, *found = NULL;
        /* the line of the --recipe option that names the recipes */
        while (line && *line && !found) {
            const char *eol = strchr(line, '\n');
            size_t len = eol ? (size_t)(eol - line) : strlen(line);
            char buf[256];
            snprintf(buf, sizeof buf, "%.*s", (int)(len < 255 ? len : 255), line);
            if (strstr(buf, "--recipe") && strstr(buf, "csi-v1")) {
                found = line;
                CHECK_MSG(strstr(buf, want) != NULL, "%s --help does not list csi-v%d: %s",
                          cmds[i], last, buf);
            }
            line = eol ? eol + 1 : NULL;
        }
        CHECK_MSG(rc == 0 && found, "%s --help: exit %d, no --recipe line naming recipes",
                  cmds[i], rc);
        free(out);
        free(err);
    }
    printf("  recipes accepted: csi-v1..csi-v%d; %lu --help texts checked\n", last,
           (unsigned long)(sizeof cmds / sizeof cmds[0]));
}

/* ---------------- stream packet timestamps ---------------- */

/* Packet i (0-based) of g_dir/name decoded into *p; 0 if absent or bad. */
static int packet_at(const char *name, size_t i, aether_class_packet *p)
{
    char path[512];
    size_t len = 0;
    unsigned char *b;
    int ok;
    path_of(path, sizeof path, name);
    b = (unsigned char *)test_read_file(path, &len);
    ok = b && len >= (i + 1) * AETHER_PACKET_LEN &&
         aether_packet_decode(b + i * AETHER_PACKET_LEN, AETHER_PACKET_LEN, p) == AETHER_OK;
    free(b);
    return ok;
}

static void test_stream_period_overflow(void)
{
    /* frame t's packet timestamp is t * --period-us: with P = 2^63 and 3
     * frames the third packet's ts_us wrapped to 0 (exit 0); now a P whose
     * product does not fit the u64 is exit 2 and no packet file is made */
    static float fr[3 * 39];
    size_t shape[2] = {3, 39}, i;
    aether_class_packet pk;
    char p[512];
    for (i = 0; i < sizeof fr / sizeof fr[0]; ++i)
        fr[i] = (float)((int)(i % 11u) - 5) * 0.1f;
    path_of(p, sizeof p, "s3.npy");
    CHECK(aether_npy_save(p, AETHER_DTYPE_F32, 2, shape, fr) == AETHER_OK);
    {
        const char *a[] = {"stream", "--model", GESTURE, "--frames", "s3.npy", "--packet",
                           "wrap.pkt", "--period-us", "9223372036854775808", NULL};
        expect(a, 2, "--period-us 9223372036854775808");
        CHECK_MSG(!file_exists("wrap.pkt"), "a refused stream left wrap.pkt behind");
    }
    {
        /* the largest P that fits: frame 2 at 2^64 - 2 */
        const char *a[] = {"stream", "--model", GESTURE, "--frames", "s3.npy", "--packet",
                           "max.pkt", "--period-us", "9223372036854775807", NULL};
        expect(a, 0, "t 2 argmax");
        CHECK(packet_at("max.pkt", 2, &pk));
        CHECK(pk.ts_us == UINT64_MAX - 1u && pk.seq == 3u);
        CHECK(packet_at("max.pkt", 1, &pk) && pk.ts_us == 9223372036854775807ull);
    }
    {
        /* one frame: t = 0 whatever P */
        const char *a[] = {"stream", "--model", GESTURE, "--frames", "s3.npy", "--packet",
                           "one.pkt", "--period-us", "18446744073709551615", NULL};
        shape[0] = 1;
        path_of(p, sizeof p, "s1.npy");
        CHECK(aether_npy_save(p, AETHER_DTYPE_F32, 2, shape, fr) == AETHER_OK);
        a[4] = "s1.npy";
        expect(a, 0, "t 0 argmax");
        CHECK(packet_at("one.pkt", 0, &pk) && pk.ts_us == 0u);
    }
}

/* ---------------- cross-validation folds ---------------- */

/* DIR/<label>/ with n recordings of 64-tone amplitude lines per label. */
static int write_dataset_labels(const char *dir, size_t n, const char *const labels[2])
{
    char p[512], name[128], *line;
    size_t l, r, t, k;
    int ok = 1;
    line = (char *)malloc(4096);
    if (!line)
        return 0;
    path_of(p, sizeof p, dir);
    ok &= mkdir(p, 0755) == 0;
    for (l = 0; l < 2 && ok; ++l) {
        snprintf(name, sizeof name, "%s/%s", dir, labels[l]);
        path_of(p, sizeof p, name);
        ok &= mkdir(p, 0755) == 0;
        for (r = 0; r < n && ok; ++r) {
            FILE *f;
            snprintf(name, sizeof name, "%s/%s/%s_c3_64sc_202601%02lu_1200%02lu.csi.jsonl", dir,
                     labels[l], labels[l], (unsigned long)(r + 1), (unsigned long)r);
            path_of(p, sizeof p, name);
            f = fopen(p, "wb");
            if (!f) {
                ok = 0;
                break;
            }
            for (t = 0; t < 48; ++t) {
                size_t len = (size_t)snprintf(line, 4096, "{\"timestamp\":%lu.%02lu,\"subcarriers\":[",
                                              (unsigned long)(1767225600 + r * 100 + t / 100),
                                              (unsigned long)(t % 100));
                for (k = 0; k < 64; ++k)
                    len += (size_t)snprintf(line + len, 4096 - len, "%s%.2f", k ? "," : "",
                                            10.0 + (double)((k * 7 + t * (l ? 5 : 0)) % 13));
                snprintf(line + len, 4096 - len, "]}\n");
                ok &= fputs(line, f) >= 0;
            }
            ok &= fclose(f) == 0;
        }
    }
    free(line);
    return ok;
}

static int write_dataset(const char *dir, size_t n)
{
    static const char *const labels[2] = {"still", "moving"};
    return write_dataset_labels(dir, n, labels);
}

static void test_cv_folds_that_would_be_empty(void)
{
    /* 4 recordings per class: 3 in the training split. --cv 4 or more left
     * folds without a recording, each still trained (a K of 1,000 took 1,000
     * trainings; 2^64 - 1 never ended) */
    pid_t pid;
    char *err;
    const char *big[] = {"train",        "--data=cv",   "--labels=still,moving",
                         "--window=8",   "--stride=4",  "--epochs=1",
                         "--cv",         "18446744073709551615", NULL};
    CHECK(write_dataset("cv", 4));
    pid = spawn_program(g_cli, big, -1, "cv.out", "cv.err");
    CHECK_EQ_INT(wait_child(pid, CHILD_TIMEOUT_S), 5);
    err = read_named("cv.err");
    CHECK_MSG(err && strstr(err, "folds would be empty"), "stderr: %.200s", err ? err : "");
    free(err);
    {
        const char *a[] = {"train",      "--data=cv",  "--labels=still,moving",
                           "--window=8", "--stride=4", "--epochs=1",
                           "--cv=4",     NULL};
        expect(a, 5, "the most any class has is 3");
    }
    {
        const char *a[] = {"baseline",   "--data=cv",  "--labels=still,moving",
                           "--window=8", "--stride=4", "--cv=4",
                           NULL};
        expect(a, 5, "folds would be empty");
    }
    {
        const char *a[] = {"baseline",   "--data=cv",  "--labels=still,moving",
                           "--window=8", "--stride=4", "--cv=3",
                           NULL};
        expect(a, 0, "fold 3:");
    }
}

/* DIR/still and DIR/moving with n recordings each, named
 * <label>_<f>_s<r % 2>_20260101_12MMSS.csi.jsonl: field 1 (f) is r for
 * still and 100 + r for moving, 2n distinct values; field 2 has 2. */
static int write_field_dataset(const char *dir, size_t n)
{
    static const char *const labels[2] = {"still", "moving"};
    char p[512], name[160], line[1024];
    size_t l, r, t, k;
    int ok = 1;
    path_of(p, sizeof p, dir);
    ok &= mkdir(p, 0755) == 0;
    for (l = 0; l < 2 && ok; ++l) {
        snprintf(name, sizeof name, "%s/%s", dir, labels[l]);
        path_of(p, sizeof p, name);
        ok &= mkdir(p, 0755) == 0;
        for (r = 0; r < n && ok; ++r) {
            FILE *f;
            snprintf(name, sizeof name, "%s/%s/%s_%lu_s%lu_20260101_12%02lu%02lu.csi.jsonl",
                     dir, labels[l], labels[l], (unsigned long)(l * 100 + r), (unsigned long)(r % 2),
                     (unsigned long)(r / 60), (unsigned long)(r % 60));
            path_of(p, sizeof p, name);
            f = fopen(p, "wb");
            if (!f)
                return 0;
            for (t = 0; t < 12; ++t) {
                size_t len = (size_t)snprintf(line, sizeof line,
                                              "{\"timestamp\":%lu.%02lu,\"subcarriers\":[",
                                              (unsigned long)(1767268800 + r * 10),
                                              (unsigned long)(t * 5));
                for (k = 0; k < 64; ++k)
                    len += (size_t)snprintf(line + len, sizeof line - len, "%s%lu", k ? "," : "",
                                            (unsigned long)(10 + (k * 7 + t * (l ? 5 : 0)) % 13));
                snprintf(line + len, sizeof line - len, "]}\n");
                ok &= fputs(line, f) >= 0;
            }
            ok &= fclose(f) == 0;
        }
    }
    return ok;
}

static void test_cv_field_limits(void)
{
    /* --cv-field above 16 was taken as 16 without a word; a field with more
     * than 64 distinct values in the training split had the rest folded
     * into fold 1 (here 90 values: 64 folds trained, the last one holding
     * 27 recordings of other values) */
    CHECK(write_field_dataset("fd", 60));
    {
        const char *a[] = {"train", "--data=fd", "--labels=still,moving", "--window=8",
                           "--stride=4", "--epochs=1", "--cv-field=17", NULL};
        expect(a, 2, "--cv-field is 0..16");
    }
    {
        const char *a[] = {"train", "--help", NULL};
        expect(a, 0, "N is 0..16, at most 64");
    }
    {
        pid_t pid;
        char *err;
        const char *a[] = {"train",      "--data=fd",  "--labels=still,moving",
                           "--window=8", "--stride=4", "--epochs=1",
                           "--cv-field=1", NULL};
        pid = spawn_program(g_cli, a, -1, "fd.out", "fd.err");
        CHECK_EQ_INT(wait_child(pid, CHILD_TIMEOUT_S), 5);
        err = read_named("fd.err");
        CHECK_MSG(err && strstr(err, "more than 64 distinct values of field 1"),
                  "stderr: %.300s", err ? err : "");
        free(err);
    }
    {
        /* field 2 (s0, s1) makes 2 folds */
        const char *a[] = {"train",      "--data=fd",  "--labels=still,moving",
                           "--window=8", "--stride=4", "--epochs=1",
                           "--cv-field=2", NULL};
        expect(a, 0, "fold 2: s1");
    }
}

static void test_json_labels_escaped(void)
{
    /* labels are folder names: a quote or a backslash in one made eval's and
     * baseline's --json output invalid JSON */
    static const char *const labels[2] = {"qu\"ote", "back\\slash"};
    const char *a[] = {"baseline", "--data=odd", "--labels=qu\"ote,back\\slash", "--window=8",
                       "--stride=4", "--json", NULL};
    char *out = NULL, *err = NULL;
    CHECK(write_dataset_labels("odd", 4, labels));
    CHECK_EQ_INT(run_cli(a, &out, &err), 0);
    CHECK_MSG(out && strstr(out, "\"labels\":[\"qu\\\"ote\",\"back\\\\slash\"]") &&
                  strstr(out, "\"recall\":{\"qu\\\"ote\":") &&
                  strstr(out, "\"f1\":{\"qu\\\"ote\":"),
              "stdout: %.400s (stderr %.200s)", out ? out : "", err ? err : "");
    free(out);
    free(err);
}

static size_t count_of(const char *s, const char *what)
{
    size_t n = 0, len = strlen(what);
    for (; s && (s = strstr(s, what)) != NULL; s += len)
        ++n;
    return n;
}

static void test_json_long_labels_keep_decision(void)
{
    /* `aether run --json` built the calibrated fields in a 4,200-byte
     * buffer: a label of 2,000 control characters (12,000 bytes escaped)
     * cost every decision line its "decision" and "probability" (the
     * motion model decides "baseline", class 0, on the excerpt) */
    static char labels[2 * 2001];
    size_t i, j, lines, with_decision, with_p;
    char *out = NULL, *err = NULL;
    int rc;
    for (j = 0; j < 2; ++j) {
        for (i = 0; i < 2000; ++i)
            labels[j * 2001 + i] = (char)(1 + j);
        labels[j * 2001 + 2000] = j < 1 ? ',' : '\0';
    }
    {
        const char *a[] = {"run", "--model", MOTION, "--input", EXCERPT, "--json",
                           "--labels", labels, NULL};
        rc = run_cli(a, &out, &err);
    }
    lines = count_of(out, "{\"type\":\"decision\"");
    with_decision = count_of(out, "\"decision\":\"\\u0001\\u0001") +
                    count_of(out, "\"decision\":\"\\u0002\\u0002");
    with_p = count_of(out, "\"probability\":");
    CHECK_MSG(rc == 0 && lines > 0, "run --json: exit %d, %lu decision lines, stderr %.200s", rc,
              (unsigned long)lines, err ? err : "");
    CHECK_MSG(with_decision == lines && with_p == lines,
              "%lu decision lines, %lu with their label as decision, %lu with a probability",
              (unsigned long)lines, (unsigned long)with_decision, (unsigned long)with_p);
    printf("  run --json, 2 labels of 2,000 control characters: %lu decision lines, %lu with "
           "their decision, %lu with a probability\n",
           (unsigned long)lines, (unsigned long)with_decision, (unsigned long)with_p);
    free(out);
    free(err);
}

/* ---------------- model files that never end ---------------- */

static void test_endless_model_files(void)
{
    /* /dev/zero as a model was read until memory ran out (here: a 256 MiB
     * address space, exit 1); now its header is read, then the length it
     * declares and one byte more: bad magic (4). AddressSanitizer's shadow
     * memory cannot start in such a limit (UNDER_ASAN: check.h): there the
     * CLI runs without one, which the bounded read makes safe. */
    const size_t limit = UNDER_ASAN ? 0 : (size_t)256 << 20;
    {
        const char *a[] = {"inspect", "/dev/zero", NULL};
        char *out = NULL, *err = NULL;
        int rc = run_cli_limited(a, limit, &out, &err);
        CHECK_MSG(rc == 4 && out && strstr(out, "AETHER_ERR_BLOB_MAGIC"),
                  "inspect /dev/zero: exit %d, stdout %.200s, stderr %.200s", rc,
                  out ? out : "", err ? err : "");
        free(out);
        free(err);
    }
    {
        const char *a[] = {"classify", "--model", "/dev/zero", "--frames", "g1.npy", NULL};
        char *out = NULL, *err = NULL;
        int rc = run_cli_limited(a, limit, &out, &err);
        CHECK_MSG(rc == 4 && err && strstr(err, "bad magic"), "classify: exit %d, stderr %.200s",
                  rc, err ? err : "");
        free(out);
        free(err);
    }
    {
        /* a regular file longer than any blob (sparse: no disk used) */
        char p[512];
        int fd;
        path_of(p, sizeof p, "huge.rvne");
        fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0 && ftruncate(fd, (off_t)5 << 30) == 0) {
            const char *a[] = {"inspect", "huge.rvne", NULL};
            char *out = NULL, *err = NULL;
            int rc;
            close(fd);
            rc = run_cli_limited(a, limit, &out, &err);
            CHECK_MSG(rc == 3 && err && strstr(err, strerror(EFBIG)),
                      "inspect of a 5 GiB file: exit %d, stderr %.200s", rc, err ? err : "");
            free(out);
            free(err);
            remove(p);
        } else {
            if (fd >= 0)
                close(fd);
            printf("  no sparse 5 GiB file here: not tested\n");
        }
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
    static const check_test_fn tests[] = {test_numbers_with_blanks_and_signs,
                                          test_run_without_frames,
                                          test_run_period_schedule,
                                          test_replay_loop_nothing_to_send,
                                          test_replay_slow_pace,
                                          test_metadata_refused_everywhere,
                                          test_outputs_not_left_half_written,
                                          test_attn_nonfinite_input,
                                          test_help_lists_every_recipe,
                                          test_stream_period_overflow,
                                          test_cv_folds_that_would_be_empty,
                                          test_cv_field_limits,
                                          test_json_labels_escaped,
                                          test_json_long_labels_keep_decision,
                                          test_endless_model_files};
    static const char *const names[] = {"test_numbers_with_blanks_and_signs",
                                        "test_run_without_frames",
                                        "test_run_period_schedule",
                                        "test_replay_loop_nothing_to_send",
                                        "test_replay_slow_pace",
                                        "test_metadata_refused_everywhere",
                                        "test_outputs_not_left_half_written",
                                        "test_attn_nonfinite_input",
                                        "test_help_lists_every_recipe",
                                        "test_stream_period_overflow",
                                        "test_cv_folds_that_would_be_empty",
                                        "test_cv_field_limits",
                                        "test_json_labels_escaped",
                                        "test_json_long_labels_keep_decision",
                                        "test_endless_model_files"};
    const char *tmp = getenv("TMPDIR");
    int rc;
    g_cli = argc > 1 ? argv[1] : AETHER_CLI_PATH;
    snprintf(g_dir, sizeof g_dir, "%s/aether_edges_XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(g_dir)) {
        fprintf(stderr, "cannot create a temp dir\n");
        return 1;
    }
    rc = check_run(__FILE__, tests, names, (int)(sizeof tests / sizeof tests[0]));
    cleanup();
    return rc;
}
