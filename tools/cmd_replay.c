/* aether replay: send a recording as ADR-018 UDP datagrams, one frame a
 * datagram, the bytes an ESP32 node sends, at the recorded pace, N times
 * faster or as fast as possible; optionally as K synthetic nodes, each from
 * its own socket (its own source port). */
#define _POSIX_C_SOURCE 200809L /* getaddrinfo, clock_gettime, nanosleep, sigaction */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "aether/csi.h"
#include "aether/recording.h"
#include "cli_util.h"
#include "commands.h"
#include "net_addr.h"

#define MAX_NODES 255u
#define MAX_RATE 1e6

static void replay_usage(FILE *f)
{
    fprintf(f, "usage: aether replay RECORDING --to HOST:PORT [--rate real|N|max] [--nodes K]\n"
               "                     [--count N] [--loop] [--max-line BYTES]\n"
               "  Sends the raw CSI frames of a recording (.csi.jsonl raw_csi lines, a file of\n"
               "  ADR-018 frames, an ESPectre .npz; \"-\" reads standard input) as ADR-018 UDP\n"
               "  datagrams, one frame a datagram, as the ESP32 nodes send them. Prints one\n"
               "  summary line and exits at the end of the recording (or after --count).\n"
               "  --to HOST:PORT   destination: 127.0.0.1:5005, [::1]:5005, localhost:5005\n"
               "  --rate R         real: the recorded pace (frame timestamps; default);\n"
               "                   N: N times faster (a number > 0, e.g. 10 or 0.5);\n"
               "                   max: as fast as the sockets take them\n"
               "  --nodes K        send every frame K times, as nodes 1..K (node ids replace\n"
               "                   the recorded ones), each node from its own socket and source\n"
               "                   port; K is 1..255. Without it: one socket, recorded node ids\n"
               "  --count N        stop after N datagrams\n"
               "  --loop           start the recording again at its end (until --count, or\n"
               "                   Ctrl-C); not with standard input\n"
               "  --max-line BYTES longest JSONL line accepted (default 1 MiB)\n"
               "  Frames ADR-018 cannot carry (amplitude-only lines, more than 256\n"
               "  subcarriers an antenna) are counted as skipped. Frames without an ADR-018\n"
               "  header go out as 1 antenna, frequency, RSSI and noise floor 0, sequence\n"
               "  numbers counting from 0 for each node id.\n"
               "  Exit: 2 also for a bad destination, 3 for a send that fails, 4 for a\n"
               "  recording without one CSI frame, 5 when no frame of the recording can be\n"
               "  sent (amplitude only; --loop then stops after one pass).\n");
    cli_print_exit_statuses(f);
}

enum { OPT_TO = 1, OPT_RATE, OPT_NODES, OPT_COUNT, OPT_LOOP, OPT_MAX_LINE };

static const struct option k_options[] = {
    {"to", required_argument, NULL, OPT_TO},
    {"rate", required_argument, NULL, OPT_RATE},
    {"nodes", required_argument, NULL, OPT_NODES},
    {"count", required_argument, NULL, OPT_COUNT},
    {"loop", no_argument, NULL, OPT_LOOP},
    {"max-line", required_argument, NULL, OPT_MAX_LINE},
    {NULL, 0, NULL, 0},
};

typedef struct replay_opts {
    const char *path, *to;
    double rate;              /* 0 = max */
    size_t nodes;             /* 0 = the recorded ids, one socket */
    unsigned long long count; /* 0 = no limit */
    int loop;
    size_t max_line;
    struct sockaddr_storage dest;
    socklen_t dest_len;
} replay_opts;

typedef struct replay_counts {
    unsigned long long sent, bytes, skipped, passes, records, not_frames, malformed;
    double t_first, t_last; /* recorded span of the frames sent */
    int have_t;
} replay_counts;

static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Sleep until the monotonic time t (or a signal). t may lie beyond what
 * time_t holds (a very slow --rate, a jump in the timestamps), or be +Inf:
 * the sleep goes in steps of at most a second. */
static void wait_until(double t)
{
    for (;;) {
        double d = t - now_s();
        struct timespec ts;
        if (!(d > 0.0) || g_stop)
            return;
        if (d > 1.0)
            d = 1.0;
        ts.tv_sec = (time_t)d;
        ts.tv_nsec = (long)((d - (double)ts.tv_sec) * 1e9);
        if (nanosleep(&ts, NULL) != 0 && errno != EINTR)
            return;
    }
}

/* --to HOST:PORT -> o->dest. 0 ok, else a usage error was printed and its
 * status is returned. */
static int parse_dest(const cli_command *c, replay_opts *o)
{
    char err[320];
    if (net_addr_parse(o->to, 0, &o->dest, &o->dest_len, err, sizeof err) != NET_ADDR_OK)
        return cli_usage_error(c, "--to %s", err);
    return 0;
}

static int parse_args(int argc, char **argv, replay_opts *o)
{
    cli_command c;
    int opt, rc = 0, n;
    char **pos;
    unsigned long long v;
    memset(o, 0, sizeof *o);
    o->rate = 1.0;
    cli_command_init(&c, "replay", k_options, replay_usage, argc, argv);
    while ((opt = cli_next_option(&c, &rc)) != CLI_DONE) {
        switch (opt) {
        case CLI_STOP:
            return rc; /* 0 after --help / --version: nothing to send */
        case OPT_TO:
            o->to = c.optarg;
            break;
        case OPT_RATE:
            if (!strcmp(c.optarg, "real")) {
                o->rate = 1.0;
            } else if (!strcmp(c.optarg, "max")) {
                o->rate = 0.0;
            } else {
                char *end = NULL;
                double r;
                errno = 0;
                r = strtod(c.optarg, &end);
                if (errno || end == c.optarg || *end || !(r > 0.0) || r > MAX_RATE)
                    return cli_usage_error(&c,
                                           "--rate is real, max or a number > 0 (at most "
                                           "1e6 times the recorded pace), not '%s'",
                                           c.optarg);
                o->rate = r;
            }
            break;
        case OPT_NODES:
            if (!cli_parse_ull(c.optarg, 10, MAX_NODES, &v) || v == 0)
                return cli_usage_error(&c, "--nodes is 1..%u, not '%s'", MAX_NODES, c.optarg);
            o->nodes = (size_t)v;
            break;
        case OPT_COUNT:
            if (!cli_parse_ull(c.optarg, 10, ~0ull, &v) || v == 0)
                return cli_usage_error(&c, "--count is a number of datagrams > 0, not '%s'",
                                       c.optarg);
            o->count = v;
            break;
        case OPT_LOOP:
            o->loop = 1;
            break;
        case OPT_MAX_LINE:
            if (!cli_parse_size(c.optarg, &o->max_line) || o->max_line == 0)
                return cli_usage_error(&c, "--max-line is a number of bytes > 0, not '%s'",
                                       c.optarg);
            break;
        default:
            return CLI_EXIT_USAGE;
        }
    }
    pos = cli_positionals(&c, 1, 1, &n, &rc);
    if (!pos)
        return rc;
    o->path = pos[0];
    if (!o->to)
        return cli_usage_error(&c, "--to HOST:PORT is required");
    if (o->loop && !strcmp(o->path, "-"))
        return cli_usage_error(&c, "--loop needs a file: standard input cannot be read again");
    rc = parse_dest(&c, o);
    return rc ? rc : -1;
}

static int open_recording(const replay_opts *o, aether_recording **rec)
{
    aether_recording_options ro;
    aether_status st;
    memset(&ro, 0, sizeof ro);
    ro.max_line = o->max_line;
    st = aether_recording_open(o->path, &ro, rec);
    if (st == AETHER_ERR_IO)
        return cli_read_error(o->path, errno);
    if (st != AETHER_OK) {
        fprintf(stderr, "aether replay: %s: %s\n", o->path, aether_strerror(st));
        return cli_exit_status(st);
    }
    return CLI_EXIT_OK;
}

/* One socket a node, bound to an ephemeral port of the destination's family. */
static int open_sockets(const replay_opts *o, int *socks, size_t n)
{
    size_t i;
    for (i = 0; i < n; ++i) {
        struct sockaddr_storage any;
        socklen_t len;
        memset(&any, 0, sizeof any);
        any.ss_family = o->dest.ss_family;
        len = o->dest.ss_family == AF_INET6 ? (socklen_t)sizeof(struct sockaddr_in6)
                                            : (socklen_t)sizeof(struct sockaddr_in);
        socks[i] = socket(o->dest.ss_family, SOCK_DGRAM, 0);
        if (socks[i] < 0 || bind(socks[i], (struct sockaddr *)&any, len) != 0) {
            fprintf(stderr, "aether replay: cannot open a UDP socket for %s: %s\n", o->to,
                    strerror(errno));
            return CLI_EXIT_IO;
        }
    }
    return CLI_EXIT_OK;
}

static int send_datagram(const replay_opts *o, int sock, const void *buf, size_t len)
{
    for (;;) {
        ssize_t k = sendto(sock, buf, len, 0, (const struct sockaddr *)&o->dest, o->dest_len);
        if (k == (ssize_t)len)
            return CLI_EXIT_OK;
        if (k < 0 && errno == EINTR && !g_stop)
            continue;
        if (k < 0 && (errno == ENOBUFS || errno == EAGAIN)) {
            wait_until(now_s() + 1e-4); /* the queue is full: let it drain */
            if (!g_stop)
                continue;
        }
        if (g_stop)
            return CLI_EXIT_OK;
        fprintf(stderr, "aether replay: send to %s: %s\n", o->to,
                k < 0 ? strerror(errno) : "datagram cut short");
        return CLI_EXIT_IO;
    }
}

typedef struct replay_state {
    const replay_opts *o;
    replay_counts n;
    int *socks;
    uint32_t seq[256]; /* next sequence number of each outgoing node id */
    double wall0, t0;  /* pacing: wall time and recorded time of the pass's first frame */
    int have_t0;
    unsigned char buf[AETHER_ADR018_MAX_BYTES];
} replay_state;

static int limit_reached(const replay_state *s)
{
    return g_stop || (s->o->count && s->n.sent >= s->o->count);
}

/* Send one recorded frame (K times with --nodes). */
static int send_frame(replay_state *s, const aether_csi_frame *f)
{
    const replay_opts *o = s->o;
    aether_csi_frame g = *f;
    size_t k, nodes = o->nodes ? o->nodes : 1, len = 0;
    int recorded_header = (f->flags & AETHER_CSI_HAS_HEADER) != 0;
    if (f->kind != AETHER_CSI_RAW_IQ) {
        s->n.skipped++;
        return CLI_EXIT_OK;
    }
    if (!recorded_header) {
        g.flags |= AETHER_CSI_HAS_HEADER;
        g.n_antennas = 1;
        g.freq_mhz = 0;
        g.rssi = 0;
        g.noise_floor = 0;
    }
    if (o->rate > 0.0) {
        if (!s->have_t0) {
            s->t0 = f->timestamp;
            s->wall0 = now_s();
            s->have_t0 = 1;
        }
        /* timestamps that go back are sent at once */
        wait_until(s->wall0 + (f->timestamp - s->t0) / o->rate);
    }
    for (k = 0; k < nodes && !limit_reached(s); ++k) {
        aether_status st;
        int rc;
        if (o->nodes)
            g.node_id = (uint32_t)(k + 1);
        if (!recorded_header)
            g.sequence = s->seq[g.node_id & 0xFFu];
        st = aether_adr018_encode(&g, s->buf, sizeof s->buf, &len);
        if (st != AETHER_OK) {
            s->n.skipped++; /* the frame, once whatever the node count */
            return CLI_EXIT_OK;
        }
        rc = send_datagram(o, s->socks[o->nodes ? k : 0], s->buf, len);
        if (rc != CLI_EXIT_OK)
            return rc;
        if (g_stop)
            break;
        if (!recorded_header)
            s->seq[g.node_id & 0xFFu]++;
        s->n.sent++;
        s->n.bytes += len;
    }
    if (!s->n.have_t) {
        s->n.t_first = f->timestamp;
        s->n.have_t = 1;
    }
    s->n.t_last = f->timestamp;
    return CLI_EXIT_OK;
}

/* One pass over the recording. *sent_any tells whether it sent anything. */
static int replay_pass(replay_state *s, int *sent_any)
{
    aether_recording *rec = NULL;
    aether_csi_frame f;
    aether_status st = AETHER_OK;
    const aether_recording_stats *rs;
    unsigned long long before = s->n.sent;
    int rc = open_recording(s->o, &rec);
    size_t i;
    if (rc != CLI_EXIT_OK)
        return rc;
    s->have_t0 = 0;
    s->n.passes++;
    while (!limit_reached(s) && (st = aether_recording_next(rec, &f)) == AETHER_OK) {
        rc = send_frame(s, &f);
        if (rc != CLI_EXIT_OK)
            break;
    }
    rs = aether_recording_get_stats(rec);
    s->n.records += rs->records;
    s->n.malformed += rs->malformed;
    for (i = 0; i < AETHER_SKIP_COUNT; ++i)
        s->n.not_frames += rs->skipped[i];
    if (rc == CLI_EXIT_OK && st != AETHER_OK && st != AETHER_ERR_END) {
        fprintf(stderr, "aether replay: %s: %s\n", s->o->path, aether_strerror(st));
        rc = cli_exit_status(st);
    }
    aether_recording_close(rec);
    /* a pass that only skipped frames would skip them all again: --loop
     * stops (and the run exits 5 when nothing was ever sent) */
    *sent_any = s->n.sent > before;
    return rc;
}

static void print_summary(const replay_state *s, double elapsed)
{
    const replay_counts *n = &s->n;
    printf("replay: %llu datagrams, %llu bytes to %s", n->sent, n->bytes, s->o->to);
    if (s->o->nodes)
        printf(" as %lu nodes", (unsigned long)s->o->nodes);
    printf(", %llu frames skipped (not encodable as ADR-018), %llu records not frames, "
           "%llu malformed, %llu pass%s, %.3f s, %.1f datagrams/s",
           n->skipped, n->not_frames, n->malformed, n->passes, n->passes == 1 ? "" : "es",
           elapsed, elapsed > 0.0 ? (double)n->sent / elapsed : 0.0);
    if (n->passes == 1 && n->have_t && n->t_last > n->t_first && elapsed > 0.0)
        printf(" (%.2fx the recorded pace)", (n->t_last - n->t_first) / elapsed);
    printf("\n");
    fflush(stdout);
}

int cmd_replay(int argc, char **argv)
{
    replay_opts o;
    replay_state *s;
    int socks[MAX_NODES];
    size_t n_socks, i;
    int rc = parse_args(argc, argv, &o), sent_any = 1;
    double start;
    struct sigaction sa;
    if (rc >= 0)
        return rc;
    s = (replay_state *)calloc(1, sizeof *s);
    if (!s) {
        fprintf(stderr, "aether replay: out of memory\n");
        return CLI_EXIT_FAILED;
    }
    s->o = &o;
    s->socks = socks;
    n_socks = o.nodes ? o.nodes : 1;
    for (i = 0; i < n_socks; ++i)
        socks[i] = -1;
    rc = open_sockets(&o, socks, n_socks);
    g_stop = 0;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    start = now_s();
    while (rc == CLI_EXIT_OK && !limit_reached(s) && sent_any) {
        rc = replay_pass(s, &sent_any);
        if (!o.loop)
            break;
    }
    if (rc == CLI_EXIT_OK || s->n.passes > 0)
        print_summary(s, now_s() - start);
    if (rc == CLI_EXIT_OK && s->n.sent == 0 && s->n.skipped > 0) {
        fprintf(stderr,
                "aether replay: %s: no frame could be sent: its %llu frames are amplitude-only "
                "or too wide for ADR-018 (raw I/Q, at most 4 x 256 pairs)\n",
                o.path, s->n.skipped);
        rc = CLI_EXIT_MISFIT;
    } else if (rc == CLI_EXIT_OK && s->n.sent == 0 && s->n.skipped == 0 && !g_stop) {
        fprintf(stderr, "aether replay: %s holds no CSI frame (%llu records, %llu malformed)\n",
                o.path, s->n.records, s->n.malformed);
        rc = CLI_EXIT_MALFORMED;
    }
    for (i = 0; i < n_socks; ++i)
        if (socks[i] >= 0)
            close(socks[i]);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    free(s);
    return rc;
}
