/*
 * `aether replay` and streaming recording inputs, end to end.
 *
 * Replay: the shipped two-node excerpt is sent at --rate max to UDP sockets
 * this test binds on 127.0.0.1 (and ::1 when the host has IPv6); every
 * datagram is received (receive timeouts), decoded with the library's
 * ADR-018 parser and compared with the frames read from the file directly:
 * count, node ids, pair counts, I/Q bytes, sequence numbers. --nodes 3 gives
 * 3 node ids from 3 source ports; a paced --rate takes at least about the
 * recorded span divided by the rate (lower bound only); bad destinations,
 * unknown options, missing files and amplitude-only recordings give their
 * documented exit statuses.
 *
 * Streams: the recording reader on standard input and on a pipe still being
 * written returns frames as their bytes arrive (JSONL and ADR-018); `aether
 * run --input -` (fed through a pipe) and `--input FIFO` give exactly the
 * decision lines of `--input FILE`; an .npz on standard input fails with
 * exit 3 and a message naming the format and why.
 *
 * Only loopback addresses; every loop is bounded in count and in time.
 * The CLI path comes from argv[1] or AETHER_CLI_PATH (tests/CMakeLists.txt).
 */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "aether/csi.h"
#include "aether/recording.h"
#include "check.h"

#include "cli_run.h"

#define EXCERPT AETHER_SOURCE_DIR "/data/esp32-raw-2node-excerpt.csi.jsonl"
#define MODEL AETHER_SOURCE_DIR "/models/gesture.rvne"
#define NPZ AETHER_DATA_DIR "/espectre/movement/movement_c5_64sc_20260310_233928.npz"
/* Exit statuses of the CLI (tools/commands.h). */
#define CLI_EXIT_OK 0
#define CLI_EXIT_USAGE 2
#define CLI_EXIT_IO 3
#define CLI_EXIT_MALFORMED 4
#define CLI_EXIT_MISFIT 5
#define MAX_FRAMES 4096
#define MAX_DGRAMS 16384
#define CHILD_TIMEOUT_S 60.0

/* ---------------- helpers ---------------- */

/* The raw frames of a recording, read directly. */
typedef struct ref_frame {
    uint32_t node;
    size_t n_pairs;
    int8_t iq[2 * AETHER_CSI_MAX_PAIRS];
    double t;
} ref_frame;

static ref_frame *g_ref;
static size_t g_n_ref;

static int load_reference(const char *path)
{
    aether_recording *r = NULL;
    aether_csi_frame f;
    if (aether_recording_open(path, NULL, &r) != AETHER_OK)
        return 0;
    g_n_ref = 0;
    while (g_n_ref < MAX_FRAMES && aether_recording_next(r, &f) == AETHER_OK) {
        ref_frame *e = &g_ref[g_n_ref++];
        e->node = f.node_id;
        e->n_pairs = f.n_pairs;
        e->t = f.timestamp;
        memcpy(e->iq, f.iq, 2 * f.n_pairs);
    }
    aether_recording_close(r);
    return g_n_ref > 0;
}

/* A pipe whose write end the spawned CLI does not inherit (else it would
 * never see the end of its input). */
static int make_pipe(int p[2])
{
    if (pipe(p) != 0)
        return -1;
    fcntl(p[1], F_SETFD, FD_CLOEXEC);
    return 0;
}

/* The CLI with args; stdin from in_fd (or /dev/null when -1). */
static pid_t spawn_cli(const char *const *args, int in_fd, const char *out_name)
{
    return spawn_program(g_cli, args, in_fd, out_name, "stderr.txt");
}

/* UDP socket bound to the loopback address of family, port chosen by the
 * system; -1 when the family is not available. */
static int bind_loopback(int family, unsigned *port)
{
    struct sockaddr_storage a;
    socklen_t len;
    int fd = socket(family, SOCK_DGRAM, 0), big = 4 << 20;
    if (fd < 0)
        return -1;
    fcntl(fd, F_SETFD, FD_CLOEXEC);
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
    memset(&a, 0, sizeof a);
    if (family == AF_INET) {
        struct sockaddr_in *v4 = (struct sockaddr_in *)(void *)&a;
        v4->sin_family = AF_INET;
        v4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        len = sizeof *v4;
    } else {
        struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)(void *)&a;
        v6->sin6_family = AF_INET6;
        v6->sin6_addr = in6addr_loopback;
        len = sizeof *v6;
    }
    if (bind(fd, (struct sockaddr *)&a, len) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
        close(fd);
        return -1;
    }
    *port = ntohs(family == AF_INET ? ((struct sockaddr_in *)(void *)&a)->sin_port
                                    : ((struct sockaddr_in6 *)(void *)&a)->sin6_port);
    return fd;
}

typedef struct dgram {
    unsigned char b[AETHER_ADR018_MAX_BYTES + 64];
    size_t len;
    unsigned src_port;
} dgram;

static dgram *g_dg;

/* Run the CLI with args while receiving on fd until it has exited and the
 * socket stayed quiet for 300 ms (or want datagrams came, or the time ran
 * out). Returns the count received; *rc the exit status, *elapsed the run's
 * wall time. */
static size_t run_and_receive(const char *const *args, int fd, size_t want, int *rc,
                              double *elapsed)
{
    double t0 = now_s(), deadline = t0 + CHILD_TIMEOUT_S;
    pid_t pid = spawn_cli(args, -1, "stdout.txt");
    size_t n = 0;
    int exited = 0, status = 0;
    *rc = -1;
    *elapsed = 0.0;
    if (pid < 0)
        return 0;
    while (n < MAX_DGRAMS && now_s() < deadline) {
        struct pollfd p;
        int k;
        if (!exited && waitpid(pid, &status, WNOHANG) == pid) {
            exited = 1;
            *elapsed = now_s() - t0;
            *rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        }
        if (exited && n >= want)
            break;
        p.fd = fd;
        p.events = POLLIN;
        p.revents = 0;
        k = poll(&p, 1, exited ? 300 : 20);
        if (k > 0) {
            struct sockaddr_storage a;
            socklen_t al = sizeof a;
            ssize_t got = recvfrom(fd, g_dg[n].b, sizeof g_dg[n].b, 0, (struct sockaddr *)&a,
                                   &al);
            if (got < 0)
                continue;
            g_dg[n].len = (size_t)got;
            g_dg[n].src_port = ntohs(a.ss_family == AF_INET
                                         ? ((struct sockaddr_in *)(void *)&a)->sin_port
                                         : ((struct sockaddr_in6 *)(void *)&a)->sin6_port);
            n++;
        } else if (k == 0 && exited) {
            break; /* quiet after the sender exited */
        }
    }
    if (!exited) {
        *rc = wait_child(pid, 5.0);
        *elapsed = now_s() - t0;
    }
    return n;
}

/* ---------------- ADR-018 encoder ---------------- */

static void test_adr018_round_trip(void)
{
    int8_t iq[2 * 2 * 3];
    unsigned char buf[AETHER_ADR018_MAX_BYTES];
    aether_csi_frame f, g;
    size_t len = 0, i;
    memset(&f, 0, sizeof f);
    for (i = 0; i < sizeof iq; ++i)
        iq[i] = (int8_t)((int)(i * 37u % 256u) - 128);
    f.kind = AETHER_CSI_RAW_IQ;
    f.node_id = 201;
    f.n_pairs = 6;
    f.iq = iq;
    f.flags = AETHER_CSI_HAS_HEADER | AETHER_CSI_HAS_NODE;
    f.n_antennas = 2;
    f.rssi = -67;
    f.noise_floor = -95;
    f.freq_mhz = 2437;
    f.sequence = 0xA1B2C3D4u;
    CHECK_STATUS(aether_adr018_encode(&f, buf, sizeof buf, &len), AETHER_OK);
    CHECK_EQ_INT(len, 20 + 2 * 6);
    CHECK_EQ_INT(aether_load_le32(buf), AETHER_ADR018_MAGIC);
    CHECK_EQ_INT(buf[4], 201);
    CHECK_EQ_INT(buf[5], 2);
    CHECK_EQ_INT(aether_load_le16(buf + 6), 3);
    CHECK_STATUS(aether_adr018_parse(buf, len, &g), AETHER_OK);
    CHECK_EQ_INT(g.node_id, 201);
    CHECK_EQ_INT(g.n_antennas, 2);
    CHECK_EQ_INT(g.n_pairs, 6);
    CHECK_EQ_INT(g.rssi, -67);
    CHECK_EQ_INT(g.noise_floor, -95);
    CHECK_EQ_INT(g.freq_mhz, 2437);
    CHECK_EQ_INT(g.sequence, 0xA1B2C3D4u);
    CHECK(memcmp(g.iq, iq, sizeof iq) == 0);
    /* too small a buffer: the length is still reported */
    len = 0;
    CHECK_STATUS(aether_adr018_encode(&f, buf, 25, &len), AETHER_ERR_BUFFER_TOO_SMALL);
    CHECK_EQ_INT(len, 32);
    /* what ADR-018 cannot carry */
    f.kind = AETHER_CSI_AMPLITUDE;
    CHECK_STATUS(aether_adr018_encode(&f, buf, sizeof buf, &len), AETHER_ERR_INVALID_ARG);
    f.kind = AETHER_CSI_RAW_IQ;
    f.n_antennas = 4; /* 6 pairs are not 4 antennas x n */
    CHECK_STATUS(aether_adr018_encode(&f, buf, sizeof buf, &len), AETHER_ERR_INVALID_ARG);
}

/* ---------------- replay ---------------- */

/* Datagrams [0, n) against the reference, in order; with nodes K every
 * frame comes K times (nodes 1..K). */
static void check_datagrams(size_t n, size_t nodes)
{
    size_t i, k = nodes ? nodes : 1, bad = 0, bad_seq = 0;
    unsigned ports[256] = {0};
    uint32_t next_seq[256] = {0};
    int ids_seen[256] = {0}, n_ids = 0, port_mismatch = 0;
    CHECK_EQ_INT(n, g_n_ref * k);
    for (i = 0; i < n && i / k < g_n_ref; ++i) {
        const ref_frame *e = &g_ref[i / k];
        aether_csi_frame f;
        uint32_t want_node = nodes ? (uint32_t)(i % k + 1) : e->node;
        if (aether_adr018_parse(g_dg[i].b, g_dg[i].len, &f) != AETHER_OK ||
            f.node_id != want_node || f.n_pairs != e->n_pairs || f.n_antennas != 1 ||
            memcmp(f.iq, e->iq, 2 * e->n_pairs) != 0) {
            if (bad++ < 3)
                fprintf(stderr, "datagram %lu: does not match frame %lu\n", (unsigned long)i,
                        (unsigned long)(i / k));
            continue;
        }
        if (f.sequence != next_seq[f.node_id]++)
            bad_seq++;
        if (!ids_seen[f.node_id]++) {
            n_ids++;
            ports[f.node_id] = g_dg[i].src_port;
        } else if (nodes && ports[f.node_id] != g_dg[i].src_port) {
            port_mismatch++;
        }
    }
    CHECK_EQ_INT(bad, 0);
    CHECK_EQ_INT(bad_seq, 0);
    if (nodes) {
        size_t a, b, distinct = 0;
        CHECK_EQ_INT(n_ids, (int)nodes);
        CHECK_EQ_INT(port_mismatch, 0);
        for (a = 1; a <= nodes; ++a) {
            int dup = 0;
            for (b = 1; b < a; ++b)
                dup |= ports[a] == ports[b];
            distinct += !dup && ports[a] != 0;
        }
        CHECK_EQ_INT(distinct, nodes);
    } else {
        /* the recorded node ids, from one source port */
        CHECK_EQ_INT(n_ids, 2);
        CHECK(ids_seen[1] > 0 && ids_seen[2] > 0);
        for (i = 1; i < n; ++i)
            port_mismatch += g_dg[i].src_port != g_dg[0].src_port;
        CHECK_EQ_INT(port_mismatch, 0);
    }
}

static void replay_to(int family, const char *host_fmt)
{
    char to[64], summary[64];
    unsigned port = 0;
    int fd = bind_loopback(family, &port), rc;
    double el;
    size_t n;
    char *out;
    if (fd < 0) {
        printf("  no %s loopback here: not tested\n", family == AF_INET ? "IPv4" : "IPv6");
        return;
    }
    snprintf(to, sizeof to, host_fmt, port);
    {
        const char *args[] = {"replay", EXCERPT, "--to", to, "--rate", "max", NULL};
        n = run_and_receive(args, fd, g_n_ref, &rc, &el);
        CHECK_EQ_INT(rc, CLI_EXIT_OK);
        check_datagrams(n, 0);
        out = read_named("stdout.txt");
        snprintf(summary, sizeof summary, "replay: %lu datagrams", (unsigned long)g_n_ref);
        CHECK_MSG(out && strstr(out, summary), "summary: %s", out ? out : "(none)");
        CHECK(out && strstr(out, "0 frames skipped"));
        free(out);
        printf("  %s: %lu datagrams received, %.3f s\n", to, (unsigned long)n, el);
    }
    {
        const char *args[] = {"replay", EXCERPT,   "--to", to,  "--rate",
                              "max",    "--nodes", "3",    NULL};
        n = run_and_receive(args, fd, 3 * g_n_ref, &rc, &el);
        CHECK_EQ_INT(rc, CLI_EXIT_OK);
        check_datagrams(n, 3);
        printf("  %s --nodes 3: %lu datagrams received\n", to, (unsigned long)n);
    }
    close(fd);
}

static void test_replay_max(void)
{
    CHECK(load_reference(EXCERPT));
    CHECK(g_n_ref > 100);
    replay_to(AF_INET, "127.0.0.1:%u");
    replay_to(AF_INET6, "[::1]:%u");
}

static void test_replay_count_and_rate(void)
{
    unsigned port = 0;
    int fd = bind_loopback(AF_INET, &port), rc;
    char to[64];
    double el, span, want;
    size_t n, i;
    CHECK(fd >= 0);
    if (fd < 0 || g_n_ref < 100)
        return;
    snprintf(to, sizeof to, "127.0.0.1:%u", port);
    {
        const char *args[] = {"replay", EXCERPT,   "--to", to,  "--rate",
                              "max",    "--count", "7",    NULL};
        n = run_and_receive(args, fd, 7, &rc, &el);
        CHECK_EQ_INT(rc, CLI_EXIT_OK);
        CHECK_EQ_INT(n, 7);
    }
    {
        /* --loop bounded by --count: more datagrams than the file has */
        char cnt[32];
        const char *args[] = {"replay", EXCERPT,  "--to",    to,  "--rate",
                              "max",    "--loop", "--count", cnt, NULL};
        snprintf(cnt, sizeof cnt, "%lu", (unsigned long)(g_n_ref + 50));
        n = run_and_receive(args, fd, g_n_ref + 50, &rc, &el);
        CHECK_EQ_INT(rc, CLI_EXIT_OK);
        CHECK_EQ_INT(n, g_n_ref + 50);
        for (i = g_n_ref; i < n; ++i) { /* the second pass starts over */
            aether_csi_frame f;
            CHECK(aether_adr018_parse(g_dg[i].b, g_dg[i].len, &f) == AETHER_OK &&
                  memcmp(f.iq, g_ref[i - g_n_ref].iq, 2 * f.n_pairs) == 0);
        }
    }
    {
        /* 200 frames at 20x the recorded pace: at least about span / 20 */
        const char *args[] = {"replay", EXCERPT,   "--to", to,  "--rate",
                              "20",     "--count", "200",  NULL};
        span = g_ref[199].t - g_ref[0].t;
        want = span / 20.0;
        n = run_and_receive(args, fd, 200, &rc, &el);
        CHECK_EQ_INT(rc, CLI_EXIT_OK);
        CHECK_EQ_INT(n, 200);
        CHECK_MSG(el >= 0.9 * want, "--rate 20 took %.3f s, the recording's pace asks %.3f s", el,
                  want);
        printf("  --rate 20, 200 frames: %.3f s (recorded span %.3f s / 20 = %.3f s)\n", el, span,
               want);
    }
    close(fd);
}

static void test_replay_errors(void)
{
    static const char amp[] = "{\"timestamp\": 1.0, \"subcarriers\": [1.0, 2.0, 3.0]}\n"
                              "{\"timestamp\": 1.1, \"subcarriers\": [1.5, 2.5, 3.5]}\n";
    CHECK(write_bytes("amp.csi.jsonl", amp, sizeof amp - 1));
    CHECK(write_bytes("garbage.bin", "\x01\x02garbage\n", 10));
    {
        const char *a[] = {"replay", EXCERPT, "--to", "127.0.0.1:0", NULL};
        expect(a, CLI_EXIT_USAGE, "port");
    }
    {
        const char *a[] = {"replay", EXCERPT, "--to", "127.0.0.1", NULL};
        expect(a, CLI_EXIT_USAGE, "HOST:PORT");
    }
    {
        const char *a[] = {"replay", EXCERPT, "--to", "::1:5005", NULL};
        expect(a, CLI_EXIT_USAGE, "[ADDRESS]:PORT");
    }
    {
        const char *a[] = {"replay", EXCERPT, NULL};
        expect(a, CLI_EXIT_USAGE, "--to");
    }
    {
        const char *a[] = {"replay", EXCERPT, "--to", "127.0.0.1:9", "--bogus", NULL};
        expect(a, CLI_EXIT_USAGE, "bogus");
    }
    {
        const char *a[] = {"replay", EXCERPT, "--to", "127.0.0.1:9", "--rate", "fast", NULL};
        expect(a, CLI_EXIT_USAGE, "--rate");
    }
    {
        const char *a[] = {"replay", EXCERPT, "--to", "127.0.0.1:9", "--nodes", "256", NULL};
        expect(a, CLI_EXIT_USAGE, "--nodes");
    }
    {
        const char *a[] = {"replay", "-", "--to", "127.0.0.1:9", "--loop", NULL};
        expect(a, CLI_EXIT_USAGE, "--loop");
    }
    {
        const char *a[] = {"replay", "no-such-file.csi.jsonl", "--to", "127.0.0.1:9", NULL};
        expect(a, CLI_EXIT_IO, "cannot read");
    }
    {
        const char *a[] = {"replay", "garbage.bin", "--to", "127.0.0.1:9", NULL};
        expect(a, CLI_EXIT_MALFORMED, "garbage.bin");
    }
    {
        /* amplitude-only: counted as skipped, nothing sent */
        const char *a[] = {"replay", "amp.csi.jsonl", "--to", "127.0.0.1:9",
                           "--rate", "max",           NULL};
        expect(a, CLI_EXIT_MISFIT, "2 frames skipped");
    }
}

/* ---------------- streaming inputs ---------------- */

static int g_saved_stdin = -1;

static void on_alarm(int sig)
{
    static const char msg[] = "test_replay: a stream read blocked (waited for the end of data)\n";
    (void)sig;
    if (write(2, msg, sizeof msg - 1) < 0) {
        /* nothing more to do */
    }
    _exit(1);
}

/* Feed bytes into a pipe that stays open, read frames through "-": each
 * must come back without the writer closing. */
static void stream_case(const unsigned char *bytes, size_t len, size_t frames, const char *what)
{
    int p[2];
    aether_recording *r = NULL;
    aether_csi_frame f;
    size_t i, ok = 0;
    aether_status st;
    if (pipe(p) != 0) {
        CHECK(0);
        return;
    }
    CHECK((size_t)write(p[1], bytes, len) == len); /* fits the pipe buffer */
    g_saved_stdin = dup(0);
    dup2(p[0], 0);
    close(p[0]);
    signal(SIGALRM, on_alarm);
    alarm(20);
    st = aether_recording_open("-", NULL, &r);
    CHECK_STATUS(st, AETHER_OK);
    for (i = 0; r && i < frames; ++i) {
        if (aether_recording_next(r, &f) != AETHER_OK)
            break;
        ok += f.node_id == g_ref[i].node && f.n_pairs == g_ref[i].n_pairs &&
              memcmp(f.iq, g_ref[i].iq, 2 * f.n_pairs) == 0;
    }
    alarm(0);
    CHECK_MSG(ok == frames, "%s: %lu of %lu frames while the pipe is open", what,
              (unsigned long)ok, (unsigned long)frames);
    /* the writer closes: end of the recording */
    close(p[1]);
    if (r) {
        while (aether_recording_next(r, &f) == AETHER_OK)
            ;
        CHECK_EQ_INT(aether_recording_get_stats(r)->frames[AETHER_CSI_RAW_IQ], frames);
        aether_recording_close(r);
    }
    dup2(g_saved_stdin, 0);
    close(g_saved_stdin);
    printf("  %s: %lu frames read from an open pipe\n", what, (unsigned long)ok);
}

static void test_stream_reader(void)
{
    size_t len = 0, i, pos = 0, nl = 0, frames = 0;
    unsigned char *all = test_read_file(EXCERPT, &len);
    unsigned char *adr = (unsigned char *)malloc(40 * AETHER_ADR018_MAX_BYTES);
    aether_recording *r = NULL;
    aether_csi_frame f;
    CHECK(all != NULL && adr != NULL && g_n_ref >= 30);
    if (!all || !adr || g_n_ref < 30) {
        free(all);
        free(adr);
        return;
    }
    /* the first 24 lines of JSONL, and the raw frames among them */
    for (i = 0; i < len && nl < 24; ++i)
        nl += all[i] == '\n';
    CHECK(aether_recording_open_memory(all, i, NULL, &r) == AETHER_OK);
    while (r && aether_recording_next(r, &f) == AETHER_OK)
        frames++;
    aether_recording_close(r);
    CHECK(frames > 10);
    stream_case(all, i, frames, "JSONL");
    /* 30 frames as concatenated ADR-018 */
    for (i = 0; i < 30; ++i) {
        aether_csi_frame g;
        size_t n = 0;
        memset(&g, 0, sizeof g);
        g.kind = AETHER_CSI_RAW_IQ;
        g.node_id = g_ref[i].node;
        g.n_pairs = g_ref[i].n_pairs;
        g.iq = g_ref[i].iq;
        CHECK(aether_adr018_encode(&g, adr + pos, AETHER_ADR018_MAX_BYTES, &n) == AETHER_OK);
        pos += n;
    }
    stream_case(adr, pos, 30, "ADR-018");
    free(all);
    free(adr);
}

/* The decision lines of a run's --json output (the summary names the input
 * and carries timings). */
static char *decisions(const char *name)
{
    char *s = read_named(name), *o, *line;
    size_t k = 0;
    if (!s)
        return NULL;
    o = (char *)calloc(strlen(s) + 1, 1);
    for (line = s; o && *line;) {
        char *end = strchr(line, '\n');
        size_t n = end ? (size_t)(end - line + 1) : strlen(line);
        if (!strncmp(line, "{\"type\":\"decision\"", 18)) {
            memcpy(o + k, line, n);
            k += n;
        }
        line += n;
    }
    free(s);
    return o;
}

/* Write a whole file into fd (a pipe or FIFO), then close it. */
static int feed(int fd, const unsigned char *b, size_t len)
{
    size_t done = 0;
    double end = now_s() + CHILD_TIMEOUT_S;
    while (done < len && now_s() < end) {
        ssize_t k = write(fd, b + done, len - done > 4096 ? 4096 : len - done);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            break;
        done += (size_t)k;
    }
    close(fd);
    return done == len;
}

static void test_run_streams(void)
{
    const char *file_args[] = {"run", "--model", MODEL, "--input", EXCERPT, "--json", NULL};
    const char *pipe_args[] = {"run", "--model", MODEL, "--input", "-", "--json", NULL};
    char fifo[512];
    const char *fifo_args[] = {"run", "--model", MODEL, "--input", fifo, "--json", NULL};
    size_t len = 0;
    unsigned char *all = test_read_file(EXCERPT, &len);
    char *want, *got;
    int rc, p[2], fd = -1;
    pid_t pid;
    double end;
    CHECK(all != NULL);
    if (!all)
        return;
    pid = spawn_cli(file_args, -1, "file.txt");
    CHECK_EQ_INT(wait_child(pid, CHILD_TIMEOUT_S), CLI_EXIT_OK);
    want = decisions("file.txt");
    CHECK(want && strlen(want) > 0);
    /* cat FILE | aether run --input - */
    CHECK(make_pipe(p) == 0);
    pid = spawn_cli(pipe_args, p[0], "pipe.txt");
    close(p[0]);
    CHECK(feed(p[1], all, len));
    rc = wait_child(pid, CHILD_TIMEOUT_S);
    CHECK_EQ_INT(rc, CLI_EXIT_OK);
    got = decisions("pipe.txt");
    CHECK_MSG(want && got && !strcmp(want, got), "--input - differs from --input FILE");
    printf("  --input -: %lu bytes of decisions, same as --input FILE\n",
           (unsigned long)(got ? strlen(got) : 0));
    free(got);
    /* a FIFO */
    path_of(fifo, sizeof fifo, "in.fifo");
    remove(fifo);
    CHECK(mkfifo(fifo, 0600) == 0);
    pid = spawn_cli(fifo_args, -1, "fifo.txt");
    for (end = now_s() + CHILD_TIMEOUT_S; fd < 0 && now_s() < end;) {
        fd = open(fifo, O_WRONLY | O_NONBLOCK); /* ENXIO until the reader opens it */
        if (fd < 0)
            nap_ms(2);
    }
    CHECK(fd >= 0);
    if (fd >= 0) {
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
        CHECK(feed(fd, all, len));
    }
    rc = wait_child(pid, CHILD_TIMEOUT_S);
    CHECK_EQ_INT(rc, CLI_EXIT_OK);
    got = decisions("fifo.txt");
    CHECK_MSG(want && got && !strcmp(want, got), "--input FIFO differs from --input FILE");
    free(got);
    remove(fifo);
    free(want);
    free(all);
}

/* An .npz through a pipe: exit 3, a message naming the format and why. */
static void npz_on_stdin(const unsigned char *b, size_t len, const char *what)
{
    const char *args[] = {"run", "--model", MODEL, "--input", "-", "--json", NULL};
    const char *csi_args[] = {"csi", "-", NULL};
    int p[2], rc, pass;
    pid_t pid;
    char *err;
    for (pass = 0; pass < 2; ++pass) {
        CHECK(make_pipe(p) == 0);
        pid = spawn_cli(pass ? csi_args : args, p[0], "npz.txt");
        close(p[0]);
        feed(p[1], b, len); /* may stop early: the reader gives up */
        rc = wait_child(pid, CHILD_TIMEOUT_S);
        CHECK_EQ_INT(rc, CLI_EXIT_IO);
        err = read_named("stderr.txt");
        CHECK_MSG(err && strstr(err, ".npz") && strstr(err, "not seekable") &&
                      strstr(err, "standard input"),
                  "%s: stderr: %s", what, err ? err : "(none)");
        printf("  %s on stdin (%s): exit %d\n", what, pass ? "csi" : "run", rc);
        free(err);
    }
}

static void test_npz_stream_error(void)
{
    /* the head of a zip: detected as .npz before any parsing */
    static const unsigned char head[] = {'P', 'K', 3, 4, 20, 0, 0, 0, 0, 0, 0, 0};
    npz_on_stdin(head, sizeof head, "zip head");
}

static void test_npz_stream_error_real(void)
{
    size_t len = 0;
    unsigned char *b;
    REQUIRE_PATH(NPZ);
    b = test_read_file(NPZ, &len);
    CHECK(b != NULL);
    if (b)
        npz_on_stdin(b, len, "ESPectre .npz");
    free(b);
}

int main(int argc, char **argv)
{
    static const check_test_fn tests[] = {test_adr018_round_trip,     test_replay_max,
                                          test_replay_count_and_rate, test_replay_errors,
                                          test_stream_reader,         test_run_streams,
                                          test_npz_stream_error,      test_npz_stream_error_real};
    static const char *const names[] =
        {"test_adr018_round_trip", "test_replay_max",           "test_replay_count_and_rate",
         "test_replay_errors",     "test_stream_reader",        "test_run_streams",
         "test_npz_stream_error",  "test_npz_stream_error_real"};
    const char *tmp = getenv("TMPDIR");
    static const char *const files[] = {"stdout.txt",    "stderr.txt", "file.txt",
                                        "pipe.txt",      "fifo.txt",   "npz.txt",
                                        "amp.csi.jsonl", "garbage.bin"};
    char p[512];
    size_t i;
    int rc;
    g_cli = argc > 1 ? argv[1] : AETHER_CLI_PATH;
    if (!g_cli || !g_cli[0] || access(g_cli, X_OK) != 0) {
        printf("test_replay: no CLI (pass its path as argv[1]); skipped\n");
        return 0;
    }
    signal(SIGPIPE, SIG_IGN);
    snprintf(g_dir, sizeof g_dir, "%s/aether_replay_XXXXXX", tmp && *tmp ? tmp : "/tmp");
    g_ref = (ref_frame *)malloc(MAX_FRAMES * sizeof *g_ref);
    g_dg = (dgram *)malloc(MAX_DGRAMS * sizeof *g_dg);
    if (!g_ref || !g_dg || !mkdtemp(g_dir)) {
        fprintf(stderr, "cannot set up\n");
        return 1;
    }
    rc = check_run(__FILE__, tests, names, (int)(sizeof tests / sizeof tests[0]));
    for (i = 0; i < sizeof files / sizeof files[0]; ++i) {
        path_of(p, sizeof p, files[i]);
        remove(p);
    }
    rmdir(g_dir);
    free(g_ref);
    free(g_dg);
    return rc;
}
