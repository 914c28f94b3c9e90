/*
 * `aether serve`: the live service. ADR-018 CSI frames arrive as UDP
 * datagrams (from ESP32 nodes, or `aether replay`) on one or more sockets;
 * each frame goes through per-node features and, for every loaded model,
 * the node's streaming session or window classifier (aether/tracks.h, the
 * same way `aether run` uses the model); decisions come out as JSON lines on
 * standard output.
 *
 * One process, one thread, one poll(2) loop. Memory is fixed at start: a
 * pool of receive buffers, a node table of --max-nodes entries, and per
 * model one feature extractor and one track table of that many tracks.
 *
 * A node is a (node id, sender address and port) pair: the same id from two
 * senders is two nodes. Each node holds a slot of the node table; the slot
 * index is the node's key in the feature extractors, and a 64-bit id that is
 * never reused is its key in the track tables. A node unseen for --idle
 * seconds is forgotten (its feature state and tracks erased), and a new node
 * arriving at a full table replaces the least recently seen one.
 *
 * Accounting: every datagram received is exactly one of used, ignored (a
 * sibling packet, by magic), malformed (by reason) or dropped (by reason).
 */
#define _POSIX_C_SOURCE 200809L
#if defined(__linux__)
#define _GNU_SOURCE 1 /* recvmmsg */
#endif

#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "aether/csi.h"
#include "aether/features.h"
#include "aether/model.h"
#include "aether/packet.h"
#include "aether/tracks.h"
#include "cli_util.h"
#include "commands.h"
#include "model_meta.h"

/* recvmmsg batches where the system has it (Linux); one recvmsg a datagram
 * elsewhere (or with -DSERVE_RECVMMSG=0). */
#ifndef SERVE_RECVMMSG
#if defined(__linux__) && defined(MSG_WAITFORONE)
#define SERVE_RECVMMSG 1
#else
#define SERVE_RECVMMSG 0
#endif
#endif

#define MAX_SOCKS 8u
#define MAX_MODELS 8u
#define MAX_LABELS 256u
#define MAX_NODES_CAP 256u /* the feature extractor's node bound */
#define BATCH 32u
#define BUF_BYTES 4096u /* > AETHER_ADR018_MAX_BYTES: a longer datagram is malformed */

/* Why a datagram was not used. */
enum {
    MAL_EMPTY = 0,  /* 0 bytes */
    MAL_TOO_SHORT,  /* shorter than a header */
    MAL_BAD_MAGIC,  /* not 0xC5110001..07 */
    MAL_BAD_HEADER, /* antenna or subcarrier count out of range */
    MAL_TRUNCATED,  /* fewer bytes than the header's lengths say */
    MAL_TOO_LONG,   /* more bytes than the header's lengths say */
    MAL_COUNT
};
static const char *const k_mal_names[MAL_COUNT] = {"empty",      "too_short", "bad_magic",
                                                   "bad_header", "truncated", "too_long"};
enum { DROP_FEATURES = 0, DROP_MODEL, DROP_COUNT };
static const char *const k_drop_names[DROP_COUNT] = {"features", "model"};
/* Sibling magics 0xC5110002..07 */
static const char *const k_sibling_names[6] = {"vitals",     "feature",       "fused_vitals",
                                               "compressed", "feature_state", "classification"};

typedef struct serve_model {
    const char *path;
    char name[64];
    unsigned char *blob_bytes;
    aether_blob_view blob;
    aether_model *model;
    aether_model_info info;
    aether_head_config hc;
    model_meta meta;
    aether_features *fx;
    aether_tracks *tracks;
    float *logits;
    int window_mode;
    size_t window_frames, every;
    unsigned recipe;
    char *labels[MAX_LABELS];
    size_t n_labels;
    char labels_buf[4096];
    uint64_t decisions;
} serve_model;

typedef struct serve_node {
    int used;
    uint32_t node_id;
    struct sockaddr_storage addr;
    socklen_t addr_len;
    char sender[64];
    uint64_t track_id;
    double last_seen;
    uint32_t last_seq;
    int have_seq;
    uint64_t stepped[MAX_MODELS];
} serve_node;

typedef struct serve_opts {
    const char *udp[MAX_SOCKS];
    size_t n_udp;
    const char *models[MAX_MODELS];
    size_t n_models;
    size_t every; /* 0: the model's window_stride, else 50 */
    size_t max_nodes, capacity;
    double idle, stats_every, duration;
    unsigned long long count; /* 0: no limit */
} serve_opts;

typedef struct serve_state {
    int socks[MAX_SOCKS];
    size_t n_socks;
    serve_model models[MAX_MODELS];
    size_t n_models;
    serve_node *nodes;
    size_t max_nodes;
    uint64_t next_track_id;
    unsigned char *bufs; /* BATCH x BUF_BYTES */
    uint64_t received, used, ignored[6], malformed[MAL_COUNT], dropped[DROP_COUNT];
    uint64_t seq_gaps, seq_backwards, nodes_created, nodes_evicted, nodes_idle;
    double t_start;
    double wall_now; /* Unix time of the batch being handled */
} serve_state;

static volatile sig_atomic_t g_stop, g_stats;

static void on_stop(int sig)
{
    (void)sig;
    g_stop = 1;
}

static void on_stats(int sig)
{
    (void)sig;
    g_stats = 1;
}

static void serve_usage(FILE *f)
{
    fprintf(f,
            "usage: aether serve --udp HOST:PORT [--udp ...] --model M.rvne [--model ...]\n"
            "                    [--every N] [--max-nodes N] [--idle S] [--stats S]\n"
            "                    [--count N] [--duration S] [--capacity N]\n"
            "  Receives ADR-018 CSI frames as UDP datagrams (ESP32 nodes, `aether replay`)\n"
            "  and prints, for every model, a decision per node every N frames as JSON\n"
            "  lines on standard output, the way `aether run --json` does (the model's\n"
            "  pooling, window, recipe and labels come from its metadata). A node is a node\n"
            "  id together with its sender's address and port.\n"
            "  --udp HOST:PORT  listen here (0.0.0.0:5005, 127.0.0.1:0, [::1]:5005); up to %u\n"
            "  --model M.rvne   a model (up to %u); its name in decisions is the file name\n"
            "                   without .rvne\n"
            "  --every N        a decision every N frames of a node (default: the model's\n"
            "                   window_stride metadata, else 50)\n"
            "  --max-nodes N    nodes kept at once, 1..256 (256); a new node beyond replaces\n"
            "                   the least recently seen\n"
            "  --idle S         forget a node unseen for S seconds (60; 0: never)\n"
            "  --stats S        print a stats line every S seconds (SIGUSR1: at once)\n"
            "  --count N        stop after N datagrams\n"
            "  --duration S     stop after S seconds\n"
            "  --capacity N     frames per layer cache of a node's streaming session (4096;\n"
            "                   the oldest slide out); memory is fixed at start: see the\n"
            "                   \"model\" lines\n"
            "  Output lines: {\"type\":\"model\",...} once a model, {\"type\":\"listening\",\n"
            "  ...} once a socket, then \"decision\" lines (timestamp: the Unix time the\n"
            "  frame arrived) and \"stats\" lines (received = used + ignored + malformed +\n"
            "  dropped).\n"
            "  SIGINT/SIGTERM stop it: a final stats line, exit 0.\n"
            "  Exit: 2 also for an address that does not parse or resolve, 3 for an address\n"
            "  that cannot be bound (in use, not available) and for standard output that\n"
            "  cannot be written (a closed pipe), 4 for a model that does not load, 5 for a\n"
            "  model not made for CSI features.\n",
            MAX_SOCKS, MAX_MODELS);
    cli_print_exit_statuses(f);
}

enum {
    OPT_UDP = 1,
    OPT_MODEL,
    OPT_EVERY,
    OPT_MAX_NODES,
    OPT_IDLE,
    OPT_STATS,
    OPT_COUNT,
    OPT_DURATION,
    OPT_CAPACITY
};

static const struct option k_options[] = {
    {"udp", required_argument, NULL, OPT_UDP},
    {"model", required_argument, NULL, OPT_MODEL},
    {"every", required_argument, NULL, OPT_EVERY},
    {"max-nodes", required_argument, NULL, OPT_MAX_NODES},
    {"idle", required_argument, NULL, OPT_IDLE},
    {"stats", required_argument, NULL, OPT_STATS},
    {"count", required_argument, NULL, OPT_COUNT},
    {"duration", required_argument, NULL, OPT_DURATION},
    {"capacity", required_argument, NULL, OPT_CAPACITY},
    {NULL, 0, NULL, 0},
};

static int parse_seconds(const char *s, double *out)
{
    char *end;
    double v;
    if (!s || !*s)
        return 0;
    errno = 0;
    v = strtod(s, &end);
    if (errno || *end || !(v >= 0.0) || v > 1e9)
        return 0;
    *out = v;
    return 1;
}

/* 0 ok, -1 after --help / --version, else the exit status. */
static int parse_opts(int argc, char **argv, serve_opts *o)
{
    cli_command c;
    int opt, rc = 0, npos;
    memset(o, 0, sizeof *o);
    o->max_nodes = MAX_NODES_CAP;
    o->capacity = aether_model_session_params_default().capacity;
    o->idle = 60.0;
    cli_command_init(&c, "serve", k_options, serve_usage, argc, argv);
    while ((opt = cli_next_option(&c, &rc)) != CLI_DONE) {
        const char *v = c.optarg;
        switch (opt) {
        case CLI_STOP:
            return rc == 0 ? -1 : rc;
        case OPT_UDP:
            if (o->n_udp == MAX_SOCKS)
                return cli_usage_error(&c, "at most %u --udp addresses", MAX_SOCKS);
            o->udp[o->n_udp++] = v;
            break;
        case OPT_MODEL:
            if (o->n_models == MAX_MODELS)
                return cli_usage_error(&c, "at most %u --model files", MAX_MODELS);
            o->models[o->n_models++] = v;
            break;
        case OPT_EVERY:
            if (!cli_parse_size(v, &o->every) || o->every == 0)
                return cli_usage_error(&c, "--every needs a positive frame count");
            break;
        case OPT_MAX_NODES:
            if (!cli_parse_size(v, &o->max_nodes) || o->max_nodes == 0 ||
                o->max_nodes > MAX_NODES_CAP)
                return cli_usage_error(&c, "--max-nodes is 1..%u", MAX_NODES_CAP);
            break;
        case OPT_IDLE:
            if (!parse_seconds(v, &o->idle))
                return cli_usage_error(&c, "--idle needs a non-negative number of seconds");
            break;
        case OPT_STATS:
            if (!parse_seconds(v, &o->stats_every) || o->stats_every <= 0.0)
                return cli_usage_error(&c, "--stats needs a positive number of seconds");
            break;
        case OPT_COUNT:
            if (!cli_parse_ull(v, 10, ~0ull, &o->count) || o->count == 0)
                return cli_usage_error(&c, "--count needs a positive datagram count");
            break;
        case OPT_CAPACITY:
            if (!cli_parse_size(v, &o->capacity) || o->capacity < 2 || o->capacity > 1u << 20)
                return cli_usage_error(&c, "--capacity is 2..1048576 frames");
            break;
        case OPT_DURATION:
            if (!parse_seconds(v, &o->duration) || o->duration <= 0.0)
                return cli_usage_error(&c, "--duration needs a positive number of seconds");
            break;
        default:
            return cli_usage_error(&c, "unhandled option");
        }
    }
    if (!cli_positionals(&c, 0, 0, &npos, &rc))
        return rc;
    if (o->n_udp == 0 || o->n_models == 0)
        return cli_usage_error(&c, "--udp and --model are required");
    return 0;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---------------- sockets ---------------- */

static void format_addr(const struct sockaddr *a, char *out, size_t cap)
{
    char host[INET6_ADDRSTRLEN] = "?";
    unsigned port = 0;
    if (a->sa_family == AF_INET) {
        const struct sockaddr_in *v4 = (const struct sockaddr_in *)(const void *)a;
        inet_ntop(AF_INET, &v4->sin_addr, host, sizeof host);
        port = ntohs(v4->sin_port);
        snprintf(out, cap, "%s:%u", host, port);
    } else if (a->sa_family == AF_INET6) {
        const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)(const void *)a;
        inet_ntop(AF_INET6, &v6->sin6_addr, host, sizeof host);
        port = ntohs(v6->sin6_port);
        snprintf(out, cap, "[%s]:%u", host, port);
    } else {
        snprintf(out, cap, "?");
    }
}

/* HOST:PORT or [V6]:PORT -> a bound, non-blocking UDP socket; 0 or the exit
 * status (usage for an address that does not parse, I/O for a bind that
 * fails). */
static int open_udp(const char *spec, int *fd_out)
{
    char host[256], port[16];
    const char *colon;
    struct addrinfo hints, *res = NULL;
    size_t hl;
    int fd, e, big = 8 << 20;
    struct sockaddr_storage a;
    socklen_t al = sizeof a;
    char shown[96];
    if (spec[0] == '[') {
        const char *close = strchr(spec, ']');
        if (!close || close[1] != ':')
            goto bad;
        hl = (size_t)(close - spec - 1);
        if (hl == 0 || hl >= sizeof host)
            goto bad;
        memcpy(host, spec + 1, hl);
        host[hl] = '\0';
        colon = close + 1;
    } else {
        colon = strrchr(spec, ':');
        if (!colon || colon == spec || (size_t)(colon - spec) >= sizeof host)
            goto bad;
        hl = (size_t)(colon - spec);
        memcpy(host, spec, hl);
        host[hl] = '\0';
        if (strchr(host, ':'))
            goto bad; /* a bare IPv6 address needs brackets */
    }
    {
        size_t p = 0;
        unsigned long long pv;
        if (!cli_parse_ull(colon + 1, 10, 65535, &pv))
            goto bad;
        p = (size_t)pv;
        snprintf(port, sizeof port, "%lu", (unsigned long)p);
    }
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_DGRAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    e = getaddrinfo(host, port, &hints, &res);
    if (e != 0 || !res) {
        fprintf(stderr, "aether serve: --udp %s: cannot resolve %s: %s\n", spec, host,
                gai_strerror(e));
        return CLI_EXIT_USAGE;
    }
    fd = socket(res->ai_family, SOCK_DGRAM, 0);
    if (fd < 0) {
        fprintf(stderr, "aether serve: --udp %s: cannot open a UDP socket: %s\n", spec,
                strerror(errno));
        freeaddrinfo(res);
        return CLI_EXIT_IO;
    }
#ifdef SO_RCVBUFFORCE
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof big) != 0)
#endif
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
    {
        int got = 0;
        socklen_t gl = sizeof got;
        /* Linux reports twice the payload bytes it grants */
        if (getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &got, &gl) == 0 && got < (1 << 20))
            fprintf(stderr,
                    "aether serve: note: --udp %s: a receive buffer of %d bytes (the "
                    "system's limit: net.core.rmem_max); a burst beyond it is lost before "
                    "it can be counted\n",
                    spec, got);
    }
    if (res->ai_family == AF_INET6) {
        int one = 1;
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    }
    if (bind(fd, res->ai_addr, res->ai_addrlen) != 0) {
        int err = errno;
        fprintf(stderr, "aether serve: --udp %s: cannot bind: %s%s\n", spec, strerror(err),
                err == EADDRINUSE ? " (another program listens there)" : "");
        close(fd);
        freeaddrinfo(res);
        return CLI_EXIT_IO;
    }
    freeaddrinfo(res);
    if (getsockname(fd, (struct sockaddr *)&a, &al) == 0) {
        format_addr((struct sockaddr *)&a, shown, sizeof shown);
        printf("{\"type\":\"listening\",\"udp\":");
        cli_json_string(shown);
        printf("}\n");
        fflush(stdout);
    }
    *fd_out = fd;
    return 0;
bad:
    fprintf(stderr, "aether serve: --udp %s: expected HOST:PORT or [IPV6]:PORT\n", spec);
    return CLI_EXIT_USAGE;
}

/* ---------------- models ---------------- */

/* What a model does here, once at start. */
static void print_model_line(const serve_model *m)
{
    size_t i;
    printf("{\"type\":\"model\",\"model\":");
    cli_json_string(m->name);
    printf(",\"path\":");
    cli_json_string(m->path);
    printf(",\"pool\":\"%s\",\"window_frames\":%lu,\"every\":%lu,\"features\":\"%s\","
           "\"input_dim\":%lu,\"classes\":%lu,\"labels\":[",
           m->window_mode ? "mean" : "last",
           (unsigned long)(m->window_mode ? m->window_frames : 0), (unsigned long)m->every,
           aether_features_recipe_name(m->recipe), (unsigned long)m->info.input_dim,
           (unsigned long)m->info.n_classes);
    for (i = 0; i < m->n_labels; ++i) {
        if (i)
            putchar(',');
        cli_json_string(m->labels[i]);
    }
    printf("],\"track_bytes\":%lu}\n", (unsigned long)aether_tracks_bytes(m->tracks));
    fflush(stdout);
}

static int load_model(const serve_opts *o, serve_model *m)
{
    char err[256];
    size_t len = 0;
    aether_status st;
    const char *base = strrchr(m->path, '/');
    aether_features_config fc;
    aether_tracks_params tp = aether_tracks_params_default();
    base = base ? base + 1 : m->path;
    snprintf(m->name, sizeof m->name, "%s", base);
    len = strlen(m->name);
    if (len > 5 && !strcmp(m->name + len - 5, ".rvne"))
        m->name[len - 5] = '\0';
    m->blob_bytes = cli_read_file(m->path, &len);
    if (!m->blob_bytes)
        return cli_read_error(m->path, errno);
    st = aether_blob_parse(m->blob_bytes, len, &m->blob);
    if (st != AETHER_OK) {
        fprintf(stderr, "aether serve: %s: invalid blob: %s (%s)\n", m->path,
                aether_blob_reference_message(st), aether_status_name(st));
        return CLI_EXIT_MALFORMED;
    }
    aether_model_default_head_config(&m->blob, &m->hc);
    memset(&m->meta, 0, sizeof m->meta);
    if (aether_blob_validate_model(&m->blob, NULL) == AETHER_OK &&
        model_meta_read(&m->blob, &m->meta, err, sizeof err) != 0) {
        fprintf(stderr, "aether serve: %s: %s\n", m->path, err);
        return CLI_EXIT_MALFORMED;
    }
    /* the same choices as `aether run` without options */
    if (m->meta.have_backend)
        m->hc.backend = m->meta.backend;
    else
        m->hc.backend = AETHER_HEAD_SPARSE_GQA;
    if (m->meta.have_attn_window)
        m->hc.window = m->meta.attn_window;
    if (m->meta.have_attn_block)
        m->hc.block_size = m->meta.attn_block;
    if (m->meta.have_labels &&
        !cli_split_labels(m->meta.labels, m->labels_buf, sizeof m->labels_buf, m->labels,
                          MAX_LABELS, &m->n_labels)) {
        fprintf(stderr, "aether serve: %s: the metadata labels are not a list of names\n",
                m->path);
        return CLI_EXIT_MALFORMED;
    }
    m->window_mode = m->meta.have_pool && m->meta.pool == AETHER_POOL_MEAN;
    m->window_frames = m->meta.have_window_frames ? m->meta.window_frames : 0;
    if (m->window_mode && m->window_frames == 0) {
        fprintf(stderr, "aether serve: %s: pooling mean without window_frames metadata\n",
                m->path);
        return CLI_EXIT_MALFORMED;
    }
    m->recipe = m->meta.have_recipe ? m->meta.recipe : AETHER_FEATURES_V1;
    m->every = o->every                                              ? o->every
               : m->meta.have_window_stride && m->meta.window_stride ? m->meta.window_stride
                                                                     : 50;
    st = aether_model_create(&m->blob, &m->hc, AETHER_MODEL_BORROW_IF_POSSIBLE, &m->model);
    if (st != AETHER_OK) {
        fprintf(stderr, "aether serve: %s: cannot load the model: %s (%s)\n", m->path,
                aether_strerror(st), aether_status_name(st));
        return st == AETHER_ERR_NO_MEM ? CLI_EXIT_FAILED : CLI_EXIT_MALFORMED;
    }
    aether_model_get_info(m->model, &m->info);
    if (aether_features_groups(m->info.input_dim) == 0) {
        fprintf(stderr,
                "aether serve: %s: the model takes %lu inputs per frame, but CSI feature "
                "vectors have %u..%u values: this model was not made for CSI features\n",
                m->path, (unsigned long)m->info.input_dim, AETHER_FEATURES_MIN_DIM,
                AETHER_FEATURES_MAX_DIM);
        return CLI_EXIT_MISFIT;
    }
    if (m->n_labels && m->n_labels != m->info.n_classes) {
        fprintf(stderr, "aether serve: %s has %lu classes but its labels metadata names %lu\n",
                m->path, (unsigned long)m->info.n_classes, (unsigned long)m->n_labels);
        return CLI_EXIT_MISFIT;
    }
    m->logits = (float *)malloc(m->info.n_classes * sizeof(float));
    if (!m->logits)
        goto nomem;
    fc.input_dim = m->info.input_dim;
    fc.max_nodes = o->max_nodes;
    fc.recipe = m->recipe;
    st = aether_features_create(&fc, &m->fx);
    if (st == AETHER_OK) {
        tp.max_tracks = o->max_nodes;
        tp.max_age = 0.0; /* idle nodes are forgotten by the node table */
        tp.session.capacity = o->capacity;
        if (m->window_mode) {
            tp.window.frames = m->window_frames;
            tp.window.pool = AETHER_POOL_MEAN;
        }
        st = aether_tracks_create(m->model, &tp, &m->tracks);
    }
    if (st != AETHER_OK) {
        fprintf(stderr, "aether serve: %s: cannot set up the sessions: %s (%s)\n", m->path,
                aether_strerror(st), aether_status_name(st));
        return st == AETHER_ERR_NO_MEM ? CLI_EXIT_FAILED : CLI_EXIT_MISFIT;
    }
    print_model_line(m);
    return 0;
nomem:
    fprintf(stderr, "aether serve: out of memory\n");
    return CLI_EXIT_FAILED;
}

static void free_model(serve_model *m)
{
    aether_tracks_destroy(m->tracks);
    aether_features_destroy(m->fx);
    aether_model_destroy(m->model);
    free(m->blob_bytes);
    free(m->logits);
}

/* ---------------- nodes ---------------- */

static int same_sender(const serve_node *n, const struct sockaddr_storage *a, socklen_t al)
{
    if (n->addr_len != al || n->addr.ss_family != a->ss_family)
        return 0;
    if (a->ss_family == AF_INET) {
        const struct sockaddr_in *x = (const struct sockaddr_in *)(const void *)&n->addr;
        const struct sockaddr_in *y = (const struct sockaddr_in *)(const void *)a;
        return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
    }
    if (a->ss_family == AF_INET6) {
        const struct sockaddr_in6 *x = (const struct sockaddr_in6 *)(const void *)&n->addr;
        const struct sockaddr_in6 *y = (const struct sockaddr_in6 *)(const void *)a;
        return x->sin6_port == y->sin6_port &&
               !memcmp(&x->sin6_addr, &y->sin6_addr, sizeof x->sin6_addr);
    }
    return !memcmp(&n->addr, a, al);
}

/* Erase a node: its feature state and its tracks in every model. */
static void forget_node(serve_state *s, size_t slot)
{
    size_t k;
    for (k = 0; k < s->n_models; ++k) {
        (void)aether_features_forget(s->models[k].fx, (uint32_t)slot);
        (void)aether_tracks_forget(s->models[k].tracks, s->nodes[slot].track_id);
    }
    memset(&s->nodes[slot], 0, sizeof s->nodes[slot]);
}

static void expire_idle(serve_state *s, double idle, double now)
{
    size_t i;
    if (idle <= 0.0)
        return;
    for (i = 0; i < s->max_nodes; ++i)
        if (s->nodes[i].used && now - s->nodes[i].last_seen > idle) {
            forget_node(s, i);
            s->nodes_idle++;
        }
}

/* The slot of (node id, sender), created (replacing the least recently seen
 * node when the table is full) if new. */
static size_t find_node(serve_state *s, uint32_t id, const struct sockaddr_storage *a,
                        socklen_t al, double now)
{
    size_t i, free_slot = s->max_nodes, oldest = 0;
    serve_node *n;
    for (i = 0; i < s->max_nodes; ++i) {
        n = &s->nodes[i];
        if (!n->used) {
            if (free_slot == s->max_nodes)
                free_slot = i;
            continue;
        }
        if (n->node_id == id && same_sender(n, a, al))
            return i;
        if (n->last_seen < s->nodes[oldest].last_seen || !s->nodes[oldest].used)
            oldest = i;
    }
    if (free_slot == s->max_nodes) {
        forget_node(s, oldest);
        s->nodes_evicted++;
        free_slot = oldest;
    }
    n = &s->nodes[free_slot];
    n->used = 1;
    n->node_id = id;
    memcpy(&n->addr, a, al);
    n->addr_len = al;
    format_addr((const struct sockaddr *)a, n->sender, sizeof n->sender);
    n->track_id = ++s->next_track_id;
    n->last_seen = now;
    s->nodes_created++;
    return free_slot;
}

/* ---------------- datagrams ---------------- */

static void print_float(float x)
{
    if (!aether_isfinite(x))
        printf("null");
    else
        printf("%.9g", (double)x);
}

static double wall_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void emit_decision(serve_model *m, const serve_node *n, uint64_t frame, double wall)
{
    size_t am = 0, i, nc = m->info.n_classes;
    float top = 0, margin = 0;
    aether_packet_argmax(m->logits, nc, &am, &top, &margin);
    m->decisions++;
    printf("{\"type\":\"decision\",\"timestamp\":%.6f,\"node\":%u,\"sender\":", wall,
           (unsigned)n->node_id);
    cli_json_string(n->sender);
    printf(",\"model\":");
    cli_json_string(m->name);
    printf(",\"frame\":%llu,\"class\":%lu,", (unsigned long long)frame, (unsigned long)am);
    if (m->n_labels) {
        printf("\"label\":");
        cli_json_string(m->labels[am]);
        putchar(',');
    }
    printf("\"margin\":");
    print_float(margin);
    printf(",\"logits\":[");
    for (i = 0; i < nc; ++i) {
        if (i)
            putchar(',');
        print_float(m->logits[i]);
    }
    printf("]}\n");
}

static int sibling_index(uint32_t magic)
{
    if (magic > AETHER_ADR018_MAGIC && magic <= AETHER_MAGIC_CLASSIFICATION)
        return (int)(magic - AETHER_MAGIC_VITALS);
    return -1;
}

/* Frame of a node through one model; 0, or a drop reason + 1. */
static int step_model(serve_state *s, size_t k, size_t slot, aether_csi_frame *f, double now)
{
    serve_model *m = &s->models[k];
    serve_node *n = &s->nodes[slot];
    float x[AETHER_FEATURES_MAX_DIM];
    aether_status st;
    int due = 0;
    uint32_t real_id = f->node_id;
    f->node_id = (uint32_t)slot; /* the extractor's key: the node table slot */
    st = aether_features_compute(m->fx, f, x, m->info.input_dim);
    f->node_id = real_id;
    if (st != AETHER_OK)
        return DROP_FEATURES + 1;
    if (m->window_mode) {
        due = (n->stepped[k] + 1) % m->every == 0;
        st = aether_tracks_step(m->tracks, n->track_id, now, x, due ? m->logits : NULL, NULL,
                                NULL);
        if (st == AETHER_OK)
            n->stepped[k]++;
    } else {
        st = aether_tracks_step(m->tracks, n->track_id, now, x, m->logits, NULL, NULL);
        if (st == AETHER_OK) {
            n->stepped[k]++;
            due = n->stepped[k] % m->every == 0;
        }
    }
    if (st != AETHER_OK) {
        /* never stall a node: a session that cannot go on starts over */
        if (st != AETHER_ERR_NONFINITE) {
            (void)aether_tracks_forget(m->tracks, n->track_id);
            n->stepped[k] = 0;
        }
        return DROP_MODEL + 1;
    }
    if (due)
        emit_decision(m, n, n->stepped[k], s->wall_now);
    return 0;
}

static void handle_datagram(serve_state *s, const unsigned char *b, size_t len, int truncated,
                            const struct sockaddr_storage *from, socklen_t from_len, double now)
{
    aether_csi_frame f;
    aether_status st;
    size_t flen = 0, slot, k;
    uint32_t magic;
    int drop = 0;
    s->received++;
    if (len == 0) {
        s->malformed[MAL_EMPTY]++;
        return;
    }
    if (len < 4) {
        s->malformed[MAL_TOO_SHORT]++;
        return;
    }
    magic = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
    if (magic != AETHER_ADR018_MAGIC) {
        int i = sibling_index(magic);
        if (i >= 0)
            s->ignored[i]++;
        else
            s->malformed[MAL_BAD_MAGIC]++;
        return;
    }
    if (truncated) {
        s->malformed[MAL_TOO_LONG]++;
        return;
    }
    if (len < AETHER_ADR018_HEADER_BYTES) {
        s->malformed[MAL_TOO_SHORT]++;
        return;
    }
    st = aether_adr018_frame_length(b, len, &flen);
    if (st != AETHER_OK) {
        s->malformed[MAL_BAD_HEADER]++;
        return;
    }
    if (flen != len) {
        s->malformed[len < flen ? MAL_TRUNCATED : MAL_TOO_LONG]++;
        return;
    }
    if (aether_adr018_parse(b, len, &f) != AETHER_OK) {
        s->malformed[MAL_BAD_HEADER]++;
        return;
    }
    f.timestamp = now;
    slot = find_node(s, f.node_id, from, from_len, now);
    {
        serve_node *n = &s->nodes[slot];
        if (n->have_seq && f.sequence != n->last_seq + 1u) {
            uint32_t d = f.sequence - n->last_seq;
            if (d != 0 && d < 0x80000000u)
                s->seq_gaps += d - 1u;
            else
                s->seq_backwards++;
        }
        n->last_seq = f.sequence;
        n->have_seq = 1;
        n->last_seen = now;
    }
    for (k = 0; k < s->n_models; ++k) {
        int d = step_model(s, k, slot, &f, now);
        if (d && !drop)
            drop = d;
    }
    if (drop)
        s->dropped[drop - 1]++;
    else
        s->used++;
}

/* ---------------- stats ---------------- */

static void print_stats(const serve_state *s, int final)
{
    size_t i, active = 0;
    uint64_t ign = 0, mal = 0, drp = 0;
    for (i = 0; i < s->max_nodes; ++i)
        active += s->nodes[i].used != 0;
    for (i = 0; i < 6; ++i)
        ign += s->ignored[i];
    for (i = 0; i < MAL_COUNT; ++i)
        mal += s->malformed[i];
    for (i = 0; i < DROP_COUNT; ++i)
        drp += s->dropped[i];
    printf("{\"type\":\"stats\",\"final\":%s,\"seconds\":%.3f,\"received\":%llu,\"used\":%llu,"
           "\"ignored\":%llu,\"malformed\":%llu,\"dropped\":%llu,\"ignored_by_magic\":{",
           final ? "true" : "false", now_s() - s->t_start, (unsigned long long)s->received,
           (unsigned long long)s->used, (unsigned long long)ign, (unsigned long long)mal,
           (unsigned long long)drp);
    for (i = 0; i < 6; ++i)
        printf("%s\"%s\":%llu", i ? "," : "", k_sibling_names[i],
               (unsigned long long)s->ignored[i]);
    printf("},\"malformed_by_reason\":{");
    for (i = 0; i < MAL_COUNT; ++i)
        printf("%s\"%s\":%llu", i ? "," : "", k_mal_names[i],
               (unsigned long long)s->malformed[i]);
    printf("},\"dropped_by_reason\":{");
    for (i = 0; i < DROP_COUNT; ++i)
        printf("%s\"%s\":%llu", i ? "," : "", k_drop_names[i], (unsigned long long)s->dropped[i]);
    printf("},\"seq_gaps\":%llu,\"seq_backwards\":%llu,\"nodes\":{\"active\":%lu,\"max\":%lu,"
           "\"created\":%llu,\"evicted\":%llu,\"idle\":%llu},\"decisions\":{",
           (unsigned long long)s->seq_gaps, (unsigned long long)s->seq_backwards,
           (unsigned long)active, (unsigned long)s->max_nodes,
           (unsigned long long)s->nodes_created, (unsigned long long)s->nodes_evicted,
           (unsigned long long)s->nodes_idle);
    for (i = 0; i < s->n_models; ++i) {
        printf("%s", i ? "," : "");
        cli_json_string(s->models[i].name);
        printf(":%llu", (unsigned long long)s->models[i].decisions);
    }
    printf("}}\n");
    fflush(stdout);
}

/* ---------------- the loop ---------------- */

/* Read what one socket has, at most `room` datagrams; returns how many. */
static size_t drain_socket(serve_state *s, int fd, unsigned long long room)
{
    size_t got = 0;
    double now;
#if SERVE_RECVMMSG
    struct mmsghdr msgs[BATCH];
    struct iovec iov[BATCH];
    struct sockaddr_storage from[BATCH];
    size_t i, want = room < BATCH ? (size_t)room : BATCH;
    int k;
    memset(msgs, 0, sizeof msgs);
    for (i = 0; i < want; ++i) {
        iov[i].iov_base = s->bufs + i * BUF_BYTES;
        iov[i].iov_len = BUF_BYTES;
        msgs[i].msg_hdr.msg_iov = &iov[i];
        msgs[i].msg_hdr.msg_iovlen = 1;
        msgs[i].msg_hdr.msg_name = &from[i];
        msgs[i].msg_hdr.msg_namelen = sizeof from[i];
    }
    k = recvmmsg(fd, msgs, (unsigned)want, MSG_DONTWAIT, NULL);
    if (k <= 0)
        return 0;
    now = now_s();
    s->wall_now = wall_s();
    for (i = 0; i < (size_t)k; ++i)
        handle_datagram(s, s->bufs + i * BUF_BYTES, msgs[i].msg_len,
                        (msgs[i].msg_hdr.msg_flags & MSG_TRUNC) != 0, &from[i],
                        msgs[i].msg_hdr.msg_namelen, now);
    got = (size_t)k;
#else
    while (got < BATCH && got < room) {
        struct sockaddr_storage from;
        socklen_t fl = sizeof from;
        ssize_t k;
        struct msghdr mh;
        struct iovec iov;
        iov.iov_base = s->bufs;
        iov.iov_len = BUF_BYTES;
        memset(&mh, 0, sizeof mh);
        mh.msg_iov = &iov;
        mh.msg_iovlen = 1;
        mh.msg_name = &from;
        mh.msg_namelen = fl;
        k = recvmsg(fd, &mh, MSG_DONTWAIT);
        if (k < 0)
            break;
        now = now_s();
        s->wall_now = wall_s();
        handle_datagram(s, s->bufs, (size_t)k, (mh.msg_flags & MSG_TRUNC) != 0, &from,
                        mh.msg_namelen, now);
        got++;
    }
#endif
    return got;
}

static int serve_loop(const serve_opts *o, serve_state *s)
{
    struct pollfd p[MAX_SOCKS];
    double next_stats = o->stats_every > 0.0 ? s->t_start + o->stats_every : 0.0;
    double end = o->duration > 0.0 ? s->t_start + o->duration : 0.0;
    /* idle nodes are looked for a few times per --idle period, at most once a second */
    double idle_step = o->idle > 0.0 && o->idle < 4.0 ? o->idle / 4.0 : 1.0;
    double next_idle = s->t_start + idle_step;
    size_t i;
    while (!g_stop) {
        double now = now_s();
        int timeout = idle_step < 0.2 ? (int)(idle_step * 1000.0) + 1 : 200, k;
        if (o->count && s->received >= o->count)
            break;
        if (end > 0.0 && now >= end)
            break;
        if (g_stats || (next_stats > 0.0 && now >= next_stats)) {
            g_stats = 0;
            print_stats(s, 0);
            if (next_stats > 0.0)
                while (next_stats <= now)
                    next_stats += o->stats_every;
        }
        if (now >= next_idle) {
            expire_idle(s, o->idle, now);
            next_idle = now + idle_step;
        }
        for (i = 0; i < s->n_socks; ++i) {
            p[i].fd = s->socks[i];
            p[i].events = POLLIN;
            p[i].revents = 0;
        }
        k = poll(p, (nfds_t)s->n_socks, timeout);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            fprintf(stderr, "aether serve: poll: %s\n", strerror(errno));
            return CLI_EXIT_IO;
        }
        for (i = 0; i < s->n_socks && k > 0; ++i) {
            if (!(p[i].revents & POLLIN))
                continue;
            for (;;) {
                unsigned long long room = o->count ? o->count - s->received : ~0ull;
                size_t got;
                if (room == 0 || g_stop)
                    break;
                got = drain_socket(s, s->socks[i], room);
                if (got < BATCH)
                    break;
            }
        }
        if (fflush(stdout) != 0 || ferror(stdout)) {
            /* nobody reads the decisions any more (a closed pipe, a full disk) */
            fprintf(stderr, "aether serve: cannot write standard output: %s\n", strerror(errno));
            return CLI_EXIT_IO;
        }
    }
    return CLI_EXIT_OK;
}

int cmd_serve(int argc, char **argv)
{
    serve_opts o;
    serve_state *s;
    struct sigaction sa;
    size_t i;
    int rc = parse_opts(argc, argv, &o);
    if (rc)
        return rc < 0 ? 0 : rc;
    /* a reader that goes away is a write error (exit 3), not a signal */
    signal(SIGPIPE, SIG_IGN);
    s = (serve_state *)calloc(1, sizeof *s);
    if (!s) {
        fprintf(stderr, "aether serve: out of memory\n");
        return CLI_EXIT_FAILED;
    }
    s->max_nodes = o.max_nodes;
    s->nodes = (serve_node *)calloc(o.max_nodes, sizeof *s->nodes);
    s->bufs = (unsigned char *)malloc((size_t)BATCH * BUF_BYTES);
    if (!s->nodes || !s->bufs) {
        fprintf(stderr, "aether serve: out of memory\n");
        rc = CLI_EXIT_FAILED;
    }
    for (i = 0; rc == 0 && i < o.n_models; ++i) {
        size_t j;
        s->models[i].path = o.models[i];
        s->n_models = i + 1;
        rc = load_model(&o, &s->models[i]);
        for (j = 0; rc == 0 && j < i; ++j)
            if (!strcmp(s->models[j].name, s->models[i].name)) {
                fprintf(stderr,
                        "aether serve: %s and %s have the same name in decisions (\"%s\"); "
                        "give one a file of another name\n",
                        s->models[j].path, s->models[i].path, s->models[i].name);
                rc = CLI_EXIT_USAGE;
            }
    }
    for (i = 0; rc == 0 && i < o.n_udp; ++i) {
        int fd = -1;
        rc = open_udp(o.udp[i], &fd);
        if (rc == 0)
            s->socks[s->n_socks++] = fd;
    }
    if (rc == 0) {
        memset(&sa, 0, sizeof sa);
        sigemptyset(&sa.sa_mask);
        sa.sa_handler = on_stop;
        sigaction(SIGINT, &sa, NULL);
        sigaction(SIGTERM, &sa, NULL);
        sa.sa_handler = on_stats;
        sigaction(SIGUSR1, &sa, NULL);
        s->t_start = now_s();
        rc = serve_loop(&o, s);
        if (rc == CLI_EXIT_OK)
            print_stats(s, 1);
    }
    for (i = 0; i < s->n_socks; ++i)
        close(s->socks[i]);
    for (i = 0; i < s->n_models; ++i)
        free_model(&s->models[i]);
    free(s->nodes);
    free(s->bufs);
    free(s);
    fflush(stdout);
    return rc;
}
