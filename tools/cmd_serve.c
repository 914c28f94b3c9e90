/*
 * `aether serve`: the live service. ADR-018 CSI frames arrive as UDP
 * datagrams (from ESP32 nodes, or `aether replay`) on one or more sockets;
 * serve_core.h turns them into per-node decisions of every loaded model; this
 * file owns the options, the sockets, the poll(2) loop and the outputs: JSON
 * lines on standard output, 0xC5110007 packets (serve_packets.h) and MQTT
 * with Home Assistant discovery (serve_mqtt.h). With NATS (serve_nats.h) it
 * is either a gateway that forwards the datagrams to partitioned subjects,
 * or a worker that takes its partitions' frames from there.
 *
 * One process, one thread, one loop. Memory is fixed at start: a pool of
 * receive buffers, a node table of --max-nodes entries, per model one
 * feature extractor and one track table of that many tracks, and one text
 * buffer for the JSON of a decision.
 */
#define _POSIX_C_SOURCE 200809L
#if defined(__linux__)
#define _GNU_SOURCE 1 /* recvmmsg */
#endif

#include <errno.h>
#include <getopt.h>
#include <math.h>
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

#include "aether/model.h"
#include "cli_util.h"
#include "commands.h"
#include "net_addr.h"
#include "serve_core.h"
#include "serve_mqtt.h"
#include "serve_nats.h"
#include "serve_packets.h"
#include "textbuf.h"

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
#define BATCH 32u
#define BUF_BYTES 4096u /* > AETHER_ADR018_MAX_BYTES: a longer datagram is malformed */
#define LINE_BYTES (64u * 1024u)

typedef struct serve_opts {
    const char *udp[MAX_SOCKS];
    size_t n_udp;
    const char *models[SERVE_MAX_MODELS];
    size_t n_models;
    const char *packets_to[SERVE_MAX_PACKET_DESTS];
    size_t n_packets_to;
    serve_config cfg;
    serve_mqtt_opts mqtt;
    serve_nats_opts nats;
    int json; /* decision lines on standard output */
    double stats_every, duration;
    unsigned long long count; /* 0: no limit */
} serve_opts;

typedef struct serve_state {
    const serve_opts *o;
    serve_core core;
    int socks[MAX_SOCKS];
    size_t n_socks;
    unsigned char *bufs; /* BATCH x BUF_BYTES */
    serve_packets *packets;
    serve_mqtt *mqtt;
    serve_nats *nats;
    double mono_now;
    char *line_mem;
    textbuf line;
    uint64_t lines_too_long;
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
            "                    [--count N] [--duration S] [--capacity N] [--no-json]\n"
            "                    [--packets-to [MODEL=]HOST:PORT ...]\n"
            "                    [--mqtt HOST[:PORT] [MQTT options]]\n"
            "       aether serve --nats URL --partitions LIST [--lease S [--takeover]]\n"
            "                    [--udp ...] --model M.rvne [...] [outputs as above]\n"
            "       aether serve --udp HOST:PORT [--udp ...] --nats URL --forward [--site S]\n"
            "  Receives ADR-018 CSI frames as UDP datagrams (ESP32 nodes, `aether replay`)\n"
            "  and makes, for every model, a decision per node every N frames, the way\n"
            "  `aether run --json` does (the model's pooling, window, recipe and labels come\n"
            "  from its metadata). A node is a node id together with its sender's address\n"
            "  and port. Decisions go to standard output as JSON lines, and to packets and\n"
            "  MQTT as asked.\n"
            "  --udp HOST:PORT  listen here (0.0.0.0:5005, 127.0.0.1:0, [::1]:5005); up to %u\n"
            "  --model M.rvne   a model (up to %u); its name in decisions is the file name\n"
            "                   without .rvne\n"
            "  --every N        a decision every N frames of a node (default: the model's\n"
            "                   window_stride metadata, else 50)\n"
            "  --max-nodes N    nodes kept at once, 1..%u (64); a new node beyond replaces\n"
            "                   the least recently seen\n"
            "  --idle S         forget a node unseen for S seconds (60; 0: never)\n"
            "  --stats S        a stats line every S seconds (SIGUSR1: at once)\n"
            "  --count N        stop after N datagrams\n"
            "  --duration S     stop after S seconds\n"
            "  --capacity N     frames per layer cache of a node's streaming session (1024;\n"
            "                   the oldest slide out); memory is fixed at start: see the\n"
            "                   \"model\" lines\n"
            "  --no-json        no decision lines on standard output\n"
            "  --packets-to [MODEL=]HOST:PORT\n"
            "                   a 0xC5110007 classification packet per decision (of MODEL\n"
            "                   only, if named) to this UDP destination; up to %u\n"
            "  --mqtt HOST[:PORT]  publish to this MQTT broker (port 1883); topics:\n"
            "                   BASE/status (online/offline, retained, last will),\n"
            "                   BASE/NODE/availability, BASE/NODE/MODEL (decisions),\n"
            "                   BASE/stats, and Home Assistant discovery under\n"
            "                   HA/sensor/aether_NODE_MODEL/config (README: MQTT)\n"
            "  --mqtt-base T    topic base BASE (aether)\n"
            "  --mqtt-id ID     client id (aether-serve-HOSTNAME)\n"
            "  --mqtt-user U    user name (or $AETHER_MQTT_USERNAME)\n"
            "  --mqtt-password-file F  password: the file's first line (or\n"
            "                   $AETHER_MQTT_PASSWORD)\n"
            "  --mqtt-qos Q     QoS of decisions, 0..2 (1)\n"
            "  --mqtt-keepalive S  keepalive seconds, 5..3600 (30)\n"
            "  --mqtt-max-pending N  unacknowledged decisions before new ones are counted\n"
            "                   as unpublished (10000)\n"
            "  --mqtt-cafile F, --mqtt-capath D, --mqtt-cert F, --mqtt-key F,\n"
            "  --mqtt-tls-version V, --mqtt-insecure   TLS, passed to libmosquitto\n"
            "  --ha-prefix P    Home Assistant discovery prefix HA (homeassistant)\n"
            "  --no-ha          no Home Assistant discovery messages\n"
            "  --nats URL       a NATS server (nats://HOST:PORT, tls://HOST:PORT), as a\n"
            "                   gateway or a worker (README: Beyond one machine):\n"
            "  --nats-cafile F  TLS, verifying the server against the CA certificates in F\n"
            "  --nats-cert F --nats-key F  TLS client certificate and its key\n"
            "  --nats-insecure  TLS without verifying the server (testing only)\n"
            "  --nats-user U, --nats-password-file F (first line)  user and password\n"
            "                   ($AETHER_NATS_USERNAME, $AETHER_NATS_PASSWORD)\n"
            "  --nats-token-file F  an authorisation token (first line; $AETHER_NATS_TOKEN)\n"
            "  --forward        gateway: publish every datagram unchanged to\n"
            "                   aether.csi.SITE.NODE (NODE: the node's key) instead of\n"
            "                   deciding; no --model\n"
            "  --site S         gateway: the SITE token ([A-Za-z0-9_-], local)\n"
            "  --partitions LIST  worker: take the frames of these partitions (0-7,12;\n"
            "                   subjects aether.part.N.*.*, the server's mapping of\n"
            "                   aether.csi.*.*; deploy/nats/), --udp optional; decisions\n"
            "                   also go to aether.decision.SITE.NODE.MODEL\n"
            "  --lease S        worker: own partitions through leases of S seconds in the\n"
            "                   JetStream key-value bucket aether_leases: claim LIST, renew\n"
            "                   every S/3 s; {\"type\":\"lease\",...} lines say what moves\n"
            "  --takeover       with --lease: also take over any partition whose lease\n"
            "                   lapsed (a dead worker's), below --partition-count N (16)\n"
            "  Output lines: {\"type\":\"model\",...} once a model, {\"type\":\"listening\",\n"
            "  ...} once a socket, then \"decision\" lines (timestamp: the Unix time the\n"
            "  frame arrived) and \"stats\" lines (received = used + ignored + malformed +\n"
            "  dropped; MQTT: offered = published + unpublished; NATS: a \"nats\" object,\n"
            "  a gateway's received = published + failed, a worker's received, dropped,\n"
            "  leases).\n"
            "  SIGINT/SIGTERM stop it: \"offline\" on MQTT, a final stats line, exit 0.\n"
            "  Exit: 2 also for an address that does not parse or resolve, 3 for an address\n"
            "  that cannot be bound (in use, not available), a broker that cannot be\n"
            "  reached or refuses, a password file that cannot be read, and for standard\n"
            "  output that cannot be written (a closed pipe), 4 for a model that does not\n"
            "  load, 5 for a model not made for CSI features.\n",
            MAX_SOCKS, SERVE_MAX_MODELS, SERVE_MAX_NODES, SERVE_MAX_PACKET_DESTS);
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
    OPT_CAPACITY,
    OPT_NO_JSON,
    OPT_PACKETS_TO,
    OPT_MQTT,
    OPT_MQTT_BASE,
    OPT_MQTT_ID,
    OPT_MQTT_USER,
    OPT_MQTT_PASSWORD_FILE,
    OPT_MQTT_QOS,
    OPT_MQTT_KEEPALIVE,
    OPT_MQTT_MAX_PENDING,
    OPT_MQTT_CAFILE,
    OPT_MQTT_CAPATH,
    OPT_MQTT_CERT,
    OPT_MQTT_KEY,
    OPT_MQTT_TLS_VERSION,
    OPT_MQTT_INSECURE,
    OPT_HA_PREFIX,
    OPT_NO_HA,
    OPT_NATS,
    OPT_FORWARD,
    OPT_SITE,
    OPT_PARTITIONS,
    OPT_LEASE,
    OPT_TAKEOVER,
    OPT_PARTITION_COUNT,
    OPT_NATS_CAFILE,
    OPT_NATS_CERT,
    OPT_NATS_KEY,
    OPT_NATS_INSECURE,
    OPT_NATS_USER,
    OPT_NATS_PASSWORD_FILE,
    OPT_NATS_TOKEN_FILE
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
    {"no-json", no_argument, NULL, OPT_NO_JSON},
    {"packets-to", required_argument, NULL, OPT_PACKETS_TO},
    {"mqtt", required_argument, NULL, OPT_MQTT},
    {"mqtt-base", required_argument, NULL, OPT_MQTT_BASE},
    {"mqtt-id", required_argument, NULL, OPT_MQTT_ID},
    {"mqtt-user", required_argument, NULL, OPT_MQTT_USER},
    {"mqtt-password-file", required_argument, NULL, OPT_MQTT_PASSWORD_FILE},
    {"mqtt-qos", required_argument, NULL, OPT_MQTT_QOS},
    {"mqtt-keepalive", required_argument, NULL, OPT_MQTT_KEEPALIVE},
    {"mqtt-max-pending", required_argument, NULL, OPT_MQTT_MAX_PENDING},
    {"mqtt-cafile", required_argument, NULL, OPT_MQTT_CAFILE},
    {"mqtt-capath", required_argument, NULL, OPT_MQTT_CAPATH},
    {"mqtt-cert", required_argument, NULL, OPT_MQTT_CERT},
    {"mqtt-key", required_argument, NULL, OPT_MQTT_KEY},
    {"mqtt-tls-version", required_argument, NULL, OPT_MQTT_TLS_VERSION},
    {"mqtt-insecure", no_argument, NULL, OPT_MQTT_INSECURE},
    {"ha-prefix", required_argument, NULL, OPT_HA_PREFIX},
    {"no-ha", no_argument, NULL, OPT_NO_HA},
    {"nats", required_argument, NULL, OPT_NATS},
    {"forward", no_argument, NULL, OPT_FORWARD},
    {"site", required_argument, NULL, OPT_SITE},
    {"partitions", required_argument, NULL, OPT_PARTITIONS},
    {"lease", required_argument, NULL, OPT_LEASE},
    {"takeover", no_argument, NULL, OPT_TAKEOVER},
    {"partition-count", required_argument, NULL, OPT_PARTITION_COUNT},
    {"nats-cafile", required_argument, NULL, OPT_NATS_CAFILE},
    {"nats-cert", required_argument, NULL, OPT_NATS_CERT},
    {"nats-key", required_argument, NULL, OPT_NATS_KEY},
    {"nats-insecure", no_argument, NULL, OPT_NATS_INSECURE},
    {"nats-user", required_argument, NULL, OPT_NATS_USER},
    {"nats-password-file", required_argument, NULL, OPT_NATS_PASSWORD_FILE},
    {"nats-token-file", required_argument, NULL, OPT_NATS_TOKEN_FILE},
    {NULL, 0, NULL, 0},
};

/* A topic base or prefix: not empty, no wildcard, no leading or trailing '/'. */
static int topic_ok(const char *t)
{
    size_t n = strlen(t);
    return n > 0 && n < 128 && !strpbrk(t, "+#") && t[0] != '/' && t[n - 1] != '/';
}

/* The value of an option that takes one; 0 when it is not one of them. */
static int parse_mqtt_opt(cli_command *c, int opt, const char *v, serve_mqtt_opts *m, int *rc)
{
    size_t n;
    *rc = 0;
    switch (opt) {
    case OPT_MQTT:
        m->address = v;
        break;
    case OPT_MQTT_BASE:
        if (!topic_ok(v))
            *rc = cli_usage_error(c, "--mqtt-base: a topic without +, # or a leading or "
                                     "trailing /");
        m->base = v;
        break;
    case OPT_MQTT_ID:
        if (!*v || strlen(v) > 100)
            *rc = cli_usage_error(c, "--mqtt-id: 1..100 characters");
        m->client_id = v;
        break;
    case OPT_MQTT_USER:
        m->username = v;
        break;
    case OPT_MQTT_PASSWORD_FILE:
        m->password_file = v;
        break;
    case OPT_MQTT_QOS:
        if (!cli_parse_size(v, &n) || n > 2)
            *rc = cli_usage_error(c, "--mqtt-qos is 0, 1 or 2");
        m->qos = (int)n;
        break;
    case OPT_MQTT_KEEPALIVE:
        if (!cli_parse_size(v, &n) || n < 5 || n > 3600)
            *rc = cli_usage_error(c, "--mqtt-keepalive is 5..3600 seconds");
        m->keepalive = (int)n;
        break;
    case OPT_MQTT_MAX_PENDING:
        if (!cli_parse_size(v, &n) || n == 0 || n > 60000)
            *rc = cli_usage_error(c, "--mqtt-max-pending is 1..60000");
        m->max_pending = n;
        break;
    case OPT_MQTT_CAFILE:
        m->cafile = v;
        break;
    case OPT_MQTT_CAPATH:
        m->capath = v;
        break;
    case OPT_MQTT_CERT:
        m->certfile = v;
        break;
    case OPT_MQTT_KEY:
        m->keyfile = v;
        break;
    case OPT_MQTT_TLS_VERSION:
        m->tls_version = v;
        break;
    case OPT_MQTT_INSECURE:
        m->tls_insecure = 1;
        break;
    case OPT_HA_PREFIX:
        if (!topic_ok(v))
            *rc = cli_usage_error(c, "--ha-prefix: a topic without +, # or a leading or "
                                     "trailing /");
        m->ha_prefix = v;
        break;
    case OPT_NO_HA:
        m->ha_prefix = NULL;
        break;
    default:
        return 0;
    }
    return 1;
}

/* The NATS TLS and credential options; 0 when opt is not one of them. */
static int parse_nats_secure_opt(int opt, const char *v, serve_nats_opts *n)
{
    const char **field = opt == OPT_NATS_CAFILE          ? &n->cafile
                         : opt == OPT_NATS_CERT          ? &n->certfile
                         : opt == OPT_NATS_KEY           ? &n->keyfile
                         : opt == OPT_NATS_USER          ? &n->user
                         : opt == OPT_NATS_PASSWORD_FILE ? &n->password_file
                         : opt == OPT_NATS_TOKEN_FILE    ? &n->token_file
                                                         : NULL;
    if (field)
        *field = v;
    else if (opt == OPT_NATS_INSECURE)
        n->insecure = 1;
    else
        return 0;
    return 1;
}

/* 0 ok, -1 after --help / --version, else the exit status. */
static int parse_opts(int argc, char **argv, serve_opts *o)
{
    cli_command c;
    int opt, rc = 0, npos, mqtt_set = 0, site_set = 0, pcount_set = 0, nats_set = 0;
    memset(o, 0, sizeof *o);
    o->cfg.max_nodes = 64;
    o->cfg.capacity = 1024;
    o->cfg.idle = 60.0;
    o->json = 1;
    o->mqtt.base = "aether";
    o->mqtt.ha_prefix = "homeassistant";
    o->mqtt.qos = 1;
    o->mqtt.keepalive = 30;
    o->mqtt.max_pending = 10000;
    o->nats.site = "local";
    o->nats.partition_count = 16;
    cli_command_init(&c, "serve", k_options, serve_usage, argc, argv);
    while ((opt = cli_next_option(&c, &rc)) != CLI_DONE) {
        const char *v = c.optarg;
        if (opt == CLI_STOP)
            return rc == 0 ? -1 : rc;
        if (parse_nats_secure_opt(opt, v, &o->nats)) {
            nats_set = 1;
            continue;
        }
        if (parse_mqtt_opt(&c, opt, v, &o->mqtt, &rc)) {
            if (rc)
                return rc;
            mqtt_set |= opt != OPT_MQTT;
            continue;
        }
        switch (opt) {
        case OPT_UDP:
            if (o->n_udp == MAX_SOCKS)
                return cli_usage_error(&c, "at most %u --udp addresses", MAX_SOCKS);
            o->udp[o->n_udp++] = v;
            break;
        case OPT_MODEL:
            if (o->n_models == SERVE_MAX_MODELS)
                return cli_usage_error(&c, "at most %u --model files", SERVE_MAX_MODELS);
            o->models[o->n_models++] = v;
            break;
        case OPT_PACKETS_TO:
            if (o->n_packets_to == SERVE_MAX_PACKET_DESTS)
                return cli_usage_error(&c, "at most %u --packets-to destinations",
                                       SERVE_MAX_PACKET_DESTS);
            o->packets_to[o->n_packets_to++] = v;
            break;
        case OPT_NO_JSON:
            o->json = 0;
            break;
        case OPT_NATS:
            o->nats.url = v;
            break;

        case OPT_FORWARD:
            o->nats.forward = 1;
            break;
        case OPT_SITE:
            if (!serve_nats_token_ok(v))
                return cli_usage_error(&c, "--site: 1..64 characters of A-Z a-z 0-9 _ -");
            o->nats.site = v;
            site_set = 1;
            break;
        case OPT_LEASE:
            if (!cli_parse_seconds(v, 1e9, &o->nats.lease_ttl) || o->nats.lease_ttl < 0.3 ||
                o->nats.lease_ttl > 3600.0)
                return cli_usage_error(&c, "--lease is 0.3..3600 seconds");
            break;
        case OPT_TAKEOVER:
            o->nats.takeover = 1;
            break;
        case OPT_PARTITION_COUNT:
            if (!cli_parse_size(v, &o->nats.partition_count) || o->nats.partition_count == 0 ||
                o->nats.partition_count > SERVE_NATS_MAX_PARTITIONS)
                return cli_usage_error(&c, "--partition-count is 1..%u",
                                       SERVE_NATS_MAX_PARTITIONS);
            pcount_set = 1;
            break;
        case OPT_PARTITIONS: {
            char err[160];
            if (!serve_nats_parse_partitions(v, &o->nats, err, sizeof err))
                return cli_usage_error(&c, "--partitions: %s", err);
            break;
        }
        case OPT_EVERY:
            if (!cli_parse_size(v, &o->cfg.every) || o->cfg.every == 0)
                return cli_usage_error(&c, "--every needs a positive frame count");
            break;
        case OPT_MAX_NODES:
            if (!cli_parse_size(v, &o->cfg.max_nodes) || o->cfg.max_nodes == 0 ||
                o->cfg.max_nodes > SERVE_MAX_NODES)
                return cli_usage_error(&c, "--max-nodes is 1..%u", SERVE_MAX_NODES);
            break;
        case OPT_IDLE:
            if (!cli_parse_seconds(v, 1e9, &o->cfg.idle))
                return cli_usage_error(&c, "--idle needs a non-negative number of seconds");
            break;
        case OPT_STATS:
            if (!cli_parse_seconds(v, 1e9, &o->stats_every) || o->stats_every <= 0.0)
                return cli_usage_error(&c, "--stats needs a positive number of seconds");
            break;
        case OPT_COUNT:
            if (!cli_parse_ull(v, 10, ~0ull, &o->count) || o->count == 0)
                return cli_usage_error(&c, "--count needs a positive datagram count");
            break;
        case OPT_CAPACITY:
            if (!cli_parse_size(v, &o->cfg.capacity) || o->cfg.capacity < 2 ||
                o->cfg.capacity > 1u << 20)
                return cli_usage_error(&c, "--capacity is 2..1048576 frames");
            break;
        case OPT_DURATION:
            if (!cli_parse_seconds(v, 1e9, &o->duration) || o->duration <= 0.0)
                return cli_usage_error(&c, "--duration needs a positive number of seconds");
            break;
        default:
            return cli_usage_error(&c, "unhandled option");
        }
    }
    if (!cli_positionals(&c, 0, 0, &npos, &rc))
        return rc;
    if (o->nats.url || o->nats.forward || o->nats.n_partitions || site_set || nats_set ||
        o->nats.lease_ttl > 0.0 || o->nats.takeover || pcount_set) {
        if (!o->nats.url)
            return cli_usage_error(&c, "--forward, --site, --partitions, --lease, --takeover, "
                                       "--partition-count and the --nats-* options need --nats "
                                       "URL");
        if (!o->nats.certfile != !o->nats.keyfile)
            return cli_usage_error(&c, "--nats-cert and --nats-key go together (a client "
                                       "certificate and its key)");
        if (o->nats.user && o->nats.token_file)
            return cli_usage_error(&c, "--nats-user and --nats-token-file: one way to "
                                       "authenticate");
        if (o->nats.password_file && !o->nats.user && !getenv("AETHER_NATS_USERNAME"))
            return cli_usage_error(&c, "--nats-password-file needs --nats-user (or "
                                       "$AETHER_NATS_USERNAME)");
        if (o->nats.forward == (o->nats.n_partitions > 0))
            return cli_usage_error(&c, "--nats needs either --forward (a gateway) or "
                                       "--partitions LIST (a worker)");
        if ((o->nats.takeover || pcount_set) && o->nats.lease_ttl <= 0.0)
            return cli_usage_error(&c, "--takeover and --partition-count need --lease S");
        if (o->nats.lease_ttl > 0.0 && o->nats.forward)
            return cli_usage_error(&c, "--lease is a worker's (--partitions)");
        if (site_set && !o->nats.forward)
            return cli_usage_error(&c, "--site is a gateway's (--forward)");
        if (o->nats.forward &&
            (o->n_udp == 0 || o->n_models || o->n_packets_to || mqtt_set || o->mqtt.address))
            return cli_usage_error(&c, "--forward needs --udp and makes no decisions (no "
                                       "--model, --packets-to or --mqtt)");
        if (!o->nats.forward && o->n_models == 0)
            return cli_usage_error(&c, "--model is required");
    } else if (o->n_udp == 0 || o->n_models == 0)
        return cli_usage_error(&c, "--udp and --model are required");
    if (mqtt_set && !o->mqtt.address)
        return cli_usage_error(&c, "the --mqtt-* and --ha-* options need --mqtt HOST[:PORT]");
    /* TLS options that would otherwise be ignored or fail inside the
     * library without naming what is missing */
    if (!o->mqtt.cafile && !o->mqtt.capath &&
        (o->mqtt.certfile || o->mqtt.keyfile || o->mqtt.tls_version || o->mqtt.tls_insecure))
        return cli_usage_error(&c, "--mqtt-cert, --mqtt-key, --mqtt-tls-version and "
                                   "--mqtt-insecure need --mqtt-cafile or --mqtt-capath (TLS)");
    if (!o->mqtt.certfile != !o->mqtt.keyfile)
        return cli_usage_error(&c, "--mqtt-cert and --mqtt-key go together (a client "
                                   "certificate and its key)");
    return 0;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double wall_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---------------- outputs ---------------- */

/* The line buffer's text and a newline on standard output. */
static void print_line(serve_state *s)
{
    if (s->line.overflow) {
        s->lines_too_long++;
        return;
    }
    fwrite(s->line.p, 1, s->line.len, stdout);
    putchar('\n');
}

static void on_decision(void *ctx, const serve_decision *d)
{
    serve_state *s = (serve_state *)ctx;
    textbuf_clear(&s->line);
    serve_decision_json(d, &s->line);
    if (s->o->json)
        print_line(s);
    if (s->packets)
        serve_packets_decision(s->packets, &s->core, d, s->mono_now);
    if (s->mqtt) {
        if (s->line.overflow)
            s->lines_too_long++;
        else
            serve_mqtt_decision(s->mqtt, d, s->line.p);
    }
    if (s->nats) {
        if (s->line.overflow)
            s->lines_too_long++;
        else
            serve_nats_decision(s->nats, d, s->line.p);
    }
}

static void on_node_added(void *ctx, const serve_node *n)
{
    serve_state *s = (serve_state *)ctx;
    if (s->mqtt)
        serve_mqtt_node_added(s->mqtt, &s->core, n);
}

static void on_node_removed(void *ctx, const serve_node *n, const char *why)
{
    serve_state *s = (serve_state *)ctx;
    if (s->mqtt)
        serve_mqtt_node_removed(s->mqtt, &s->core, n, why);
}

static void on_lease(void *ctx, unsigned partition, const char *event)
{
    serve_state *s = (serve_state *)ctx;
    textbuf_clear(&s->line);
    textbuf_printf(&s->line,
                   "{\"type\":\"lease\",\"timestamp\":%.6f,\"partition\":%u,\"event\":\"%s\"}",
                   wall_s(), partition, event);
    print_line(s);
    fflush(stdout);
}

/* 0, or the errno of a standard output that could not be written. */
static int emit_stats(serve_state *s, int final)
{
    int e = 0;
    textbuf_clear(&s->line);
    serve_stats_json(&s->core, final, now_s(), &s->line);
    if (s->packets)
        serve_packets_stats_json(s->packets, &s->line);
    if (s->mqtt)
        serve_mqtt_stats_json(s->mqtt, &s->line);
    if (s->nats)
        serve_nats_stats_json(s->nats, &s->line);
    textbuf_printf(&s->line, ",\"lines_too_long\":%llu}", (unsigned long long)s->lines_too_long);
    print_line(s);
    if (fflush(stdout) != 0 || ferror(stdout))
        e = errno ? errno : EIO;
    if (s->mqtt && !s->line.overflow)
        serve_mqtt_stats(s->mqtt, s->line.p);
    return e;
}

/* ---------------- sockets ---------------- */

/* HOST:PORT or [V6]:PORT -> a bound, non-blocking UDP socket; 0 or the exit
 * status (usage for an address that does not parse, I/O for a bind that
 * fails). */
static int open_udp(serve_state *s, const char *spec, int *fd_out)
{
    struct sockaddr_storage a;
    socklen_t al = sizeof a;
    char err[320];
    int fd, big = 8 << 20, got = 0;
    socklen_t gl = sizeof got;
    if (net_addr_parse(spec, 1, &a, &al, err, sizeof err) != NET_ADDR_OK) {
        fprintf(stderr, "aether serve: --udp %s\n", err);
        return CLI_EXIT_USAGE;
    }
    fd = socket(a.ss_family, SOCK_DGRAM, 0);
    if (fd < 0) {
        fprintf(stderr, "aether serve: --udp %s: cannot open a UDP socket: %s\n", spec,
                strerror(errno));
        return CLI_EXIT_IO;
    }
#ifdef SO_RCVBUFFORCE
    if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof big) != 0)
#endif
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
    /* Linux reports twice the payload bytes it grants */
    if (getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &got, &gl) == 0 && got < (1 << 20))
        fprintf(stderr,
                "aether serve: note: --udp %s: a receive buffer of %d bytes (the system's "
                "limit: net.core.rmem_max); a burst beyond it is lost before it can be "
                "counted\n",
                spec, got);
    if (a.ss_family == AF_INET6) {
        int one = 1;
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    }
    if (bind(fd, (struct sockaddr *)&a, al) != 0) {
        int e = errno;
        fprintf(stderr, "aether serve: --udp %s: cannot bind: %s%s\n", spec, strerror(e),
                e == EADDRINUSE ? " (another program listens there)" : "");
        close(fd);
        return CLI_EXIT_IO;
    }
    al = sizeof a;
    if (getsockname(fd, (struct sockaddr *)&a, &al) == 0) {
        char shown[96];
        net_addr_format((struct sockaddr *)&a, shown, sizeof shown);
        textbuf_clear(&s->line);
        textbuf_printf(&s->line, "{\"type\":\"listening\",\"udp\":");
        textbuf_json_string(&s->line, shown);
        textbuf_putc(&s->line, '}');
        print_line(s);
        fflush(stdout);
    }
    *fd_out = fd;
    return 0;
}

/* Datagrams received: those of a gateway are forwarded (a truncated one as
 * far as it was read), the others decided on here. */
static int is_gateway(const serve_state *s)
{
    return s->o->nats.forward;
}

static void handle(serve_state *s, const unsigned char *b, size_t len, int truncated,
                   const struct sockaddr_storage *from, socklen_t from_len)
{
    if (is_gateway(s))
        serve_nats_forward(s->nats, b, len, from, from_len);
    else
        serve_handle_datagram(&s->core, b, len, truncated, from, from_len, s->mono_now);
}

/* Datagrams taken so far (for --count). */
static uint64_t taken(const serve_state *s)
{
    return is_gateway(s) ? serve_nats_count(s->nats) : s->core.received;
}

/* Read what one socket has, at most `room` datagrams; returns how many. */
static size_t drain_socket(serve_state *s, int fd, unsigned long long room)
{
    size_t got = 0;
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
    s->mono_now = now_s();
    s->core.wall_now = wall_s();
    if (is_gateway(s)) {
        for (i = 0; i < (size_t)k; ++i)
            handle(s, s->bufs + i * BUF_BYTES, msgs[i].msg_len,
                   (msgs[i].msg_hdr.msg_flags & MSG_TRUNC) != 0, &from[i],
                   msgs[i].msg_hdr.msg_namelen);
    } else {
        /* The read batch at once: the session models step its frames
         * through the tracks table's batch entry. */
        serve_datagram dg[BATCH];
        for (i = 0; i < (size_t)k; ++i) {
            dg[i].bytes = s->bufs + i * BUF_BYTES;
            dg[i].len = msgs[i].msg_len;
            dg[i].truncated = (msgs[i].msg_hdr.msg_flags & MSG_TRUNC) != 0;
            dg[i].from = &from[i];
            dg[i].from_len = msgs[i].msg_hdr.msg_namelen;
        }
        serve_handle_datagrams(&s->core, dg, (size_t)k, s->mono_now);
    }
    got = (size_t)k;
#else
    while (got < BATCH && got < room) {
        struct sockaddr_storage from;
        ssize_t k;
        struct msghdr mh;
        struct iovec iov;
        iov.iov_base = s->bufs;
        iov.iov_len = BUF_BYTES;
        memset(&mh, 0, sizeof mh);
        mh.msg_iov = &iov;
        mh.msg_iovlen = 1;
        mh.msg_name = &from;
        mh.msg_namelen = sizeof from;
        k = recvmsg(fd, &mh, MSG_DONTWAIT);
        if (k < 0)
            break;
        s->mono_now = now_s();
        s->core.wall_now = wall_s();
        handle(s, s->bufs, (size_t)k, (mh.msg_flags & MSG_TRUNC) != 0, &from, mh.msg_namelen);
        got++;
    }
#endif
    return got;
}

/* ---------------- the loop ---------------- */

/* Milliseconds from now until t, 1..cap: poll's timeout for a deadline. */
static int ms_until(double now, double t, int cap)
{
    double ms = ceil((t - now) * 1000.0);
    return ms < 1.0 ? 1 : ms < (double)cap ? (int)ms : cap;
}

static int serve_loop(serve_state *s)
{
    const serve_opts *o = s->o;
    struct pollfd p[MAX_SOCKS + 2];
    double start = s->core.t_start;
    double next_stats = o->stats_every > 0.0 ? start + o->stats_every : 0.0;
    double end = o->duration > 0.0 ? start + o->duration : 0.0;
    /* idle nodes are looked for a few times per --idle period, at most once a second */
    double idle_step = o->cfg.idle > 0.0 && o->cfg.idle < 4.0 ? o->cfg.idle / 4.0 : 1.0;
    double next_idle = start + idle_step;
    size_t i, n_fds, mfd_slot = 0;
    while (!g_stop) {
        double now = now_s();
        int timeout = idle_step < 0.2 ? (int)(idle_step * 1000.0) + 1 : 200, k, mfd = -1;
        int nfd = serve_nats_poll_fd(s->nats), nslot = -1;
        short mev = 0;
        if (o->count && taken(s) >= o->count)
            break;
        if (end > 0.0 && now >= end)
            break;
        if (g_stats || (next_stats > 0.0 && now >= next_stats)) {
            g_stats = 0;
            (void)emit_stats(s, 0); /* a write error: found at the end of the turn */
            if (next_stats > 0.0 && next_stats <= now) {
                /* the next point of the S-second grid after now, in one step:
                 * a period below the clock's resolution here (--stats 1e-12)
                 * would not move a sum, and a loop adding it would never end */
                double next = next_stats +
                              (floor((now - next_stats) / o->stats_every) + 1.0) * o->stats_every;
                next_stats = isfinite(next) && next > now ? next : now + o->stats_every;
            }
        }
        if (now >= next_idle) {
            serve_expire_idle(&s->core, now);
            next_idle = now + idle_step;
        }
        for (i = 0; i < s->n_socks; ++i) {
            p[i].fd = s->socks[i];
            p[i].events = POLLIN;
            p[i].revents = 0;
        }
        n_fds = s->n_socks;
        if (s->mqtt && (mfd = serve_mqtt_poll_fd(s->mqtt, &mev)) >= 0) {
            mfd_slot = n_fds;
            p[n_fds].fd = mfd;
            p[n_fds].events = mev;
            p[n_fds].revents = 0;
            n_fds++;
        }
        if (nfd >= 0) {
            nslot = (int)n_fds;
            p[n_fds].fd = nfd;
            p[n_fds].events = POLLIN;
            p[n_fds].revents = 0;
            n_fds++;
        }
        /* woken for the next stats line and the end of --duration too, not
         * only every 200 ms: --stats 0.05 is a line every 50 ms */
        if (next_stats > 0.0)
            timeout = ms_until(now, next_stats, timeout);
        if (end > 0.0)
            timeout = ms_until(now, end, timeout);
        k = poll(p, (nfds_t)n_fds, timeout);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            fprintf(stderr, "aether serve: poll: %s\n", strerror(errno));
            return CLI_EXIT_IO;
        }
        for (i = 0; i < s->n_socks && k > 0; ++i) {
            unsigned batches = 0;
            if (!(p[i].revents & POLLIN))
                continue;
            /* at most 4 batches a turn: a socket that never empties must not
             * keep the stats, --duration, idle expiry and MQTT from running,
             * and decisions reach stdout (flushed each turn) within about
             * 128 frames of work */
            for (;;) {
                unsigned long long room = o->count ? o->count - taken(s) : ~0ull;
                if (room == 0 || g_stop || ++batches > 4u ||
                    drain_socket(s, s->socks[i], room) < BATCH)
                    break;
            }
        }
        if (nslot >= 0 && (p[nslot].revents & POLLIN)) {
            /* at most 4 batches a turn, as for a socket; more left wakes the
             * next turn at once */
            unsigned long long room = o->count ? o->count - taken(s) : ~0ull;
            size_t want = room < 4u * BATCH ? (size_t)room : 4u * BATCH;
            if (want) {
                /* the arrival time of these frames, as drain_socket sets it
                 * for datagrams: the packets' ts_us is taken from it */
                s->mono_now = now_s();
                serve_nats_take(s->nats, &s->core, want, s->mono_now, wall_s());
            }
        }
        if (s->mqtt)
            serve_mqtt_service(s->mqtt, mfd >= 0 ? p[mfd_slot].revents : 0, now_s());
        serve_nats_service(s->nats, now_s());
        if (fflush(stdout) != 0 || ferror(stdout)) {
            /* nobody reads the decisions any more (a closed pipe, a full disk) */
            fprintf(stderr, "aether serve: cannot write standard output: %s\n", strerror(errno));
            return CLI_EXIT_IO;
        }
    }
    return CLI_EXIT_OK;
}

static int start(serve_state *s)
{
    const serve_opts *o = s->o;
    serve_hooks hooks;
    size_t i;
    int rc;
    memset(&hooks, 0, sizeof hooks);
    hooks.ctx = s;
    hooks.decision = on_decision;
    hooks.node_added = on_node_added;
    hooks.node_removed = on_node_removed;
    s->bufs = (unsigned char *)malloc((size_t)BATCH * BUF_BYTES);
    s->line_mem = (char *)malloc(LINE_BYTES);
    if (!s->bufs || !s->line_mem) {
        fprintf(stderr, "aether serve: out of memory\n");
        return CLI_EXIT_FAILED;
    }
    textbuf_init(&s->line, s->line_mem, LINE_BYTES);
    rc = serve_core_init(&s->core, &o->cfg, &hooks, now_s());
    for (i = 0; rc == 0 && i < o->n_models; ++i) {
        rc = serve_model_load(&s->core, o->models[i]);
        if (rc == 0) {
            textbuf_clear(&s->line);
            serve_model_json(&s->core.models[i], &s->line);
            print_line(s);
            fflush(stdout);
        }
    }
    if (rc == 0 && o->n_packets_to)
        rc = serve_packets_open(o->packets_to, o->n_packets_to, &s->core, &s->packets);
    if (rc == 0 && o->nats.url) {
        serve_nats_opts no = o->nats;
        no.lease_event = on_lease;
        no.ctx = s;
        rc = serve_nats_open(&no, &s->nats);
        if (rc == 0) {
            textbuf_clear(&s->line);
            serve_nats_ready_json(s->nats, &s->line);
            print_line(s);
            fflush(stdout);
        }
    }
    for (i = 0; rc == 0 && i < o->n_udp; ++i) {
        int fd = -1;
        rc = open_udp(s, o->udp[i], &fd);
        if (rc == 0)
            s->socks[s->n_socks++] = fd;
    }
    if (rc == 0 && o->mqtt.address)
        rc = serve_mqtt_open(&o->mqtt, &s->core, &s->mqtt);
    return rc;
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
    s->o = &o;
    /* before start: a stop asked while starting (after the "listening"
     * line a supervisor may already send one) ends the loop at once with
     * the final stats, instead of killing the process */
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = on_stop;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sa.sa_handler = on_stats;
    sigaction(SIGUSR1, &sa, NULL);
    o.mqtt.stop = &g_stop; /* a stop while waiting for the broker's first answer */
    rc = start(s);
    if (rc == 0) {
        rc = serve_loop(s);
        serve_mqtt_drain(s->mqtt, 3.0);
        if (rc == CLI_EXIT_OK) {
            /* the last line may be the first that finds nobody reading:
             * a reader gone after the last decision */
            int e = emit_stats(s, 1);
            if (e) {
                fprintf(stderr, "aether serve: cannot write standard output: %s\n", strerror(e));
                rc = CLI_EXIT_IO;
            }
        }
    }
    serve_mqtt_close(s->mqtt, 1.0);
    serve_nats_close(s->nats, 2.0);
    serve_packets_close(s->packets);
    for (i = 0; i < s->n_socks; ++i)
        close(s->socks[i]);
    serve_core_free(&s->core);
    free(s->bufs);
    free(s->line_mem);
    free(s);
    fflush(stdout);
    return rc;
}
