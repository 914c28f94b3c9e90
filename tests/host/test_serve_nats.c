/*
 * `aether serve` behind NATS with real processes on loopback: a nats-server
 * started by this test with the shipped configuration (deploy/nats/: the
 * mapping of aether.csi.*.* onto 16 partitions) on a free port, one gateway
 * (serve --forward), three workers (serve --partitions) with disjoint
 * partitions, `aether replay --nodes 12`, and a witness connection of the
 * test that subscribes to every partition and decision subject.
 *
 * - Partitioned: each worker receives exactly the messages of its
 *   partitions (its count equals the witness's for them), the gateway
 *   publishes every datagram it receives, the workers' received add up to
 *   what was published, every node's decisions come from exactly one worker,
 *   each decision is published on aether.decision.SITE.NODE.MODEL, and the
 *   workers' decisions together equal those of one single-host serve fed
 *   the same frames. Messages on the partition subjects that are not frames
 *   (published by the test) are counted malformed, and without the sender
 *   header as no_sender.
 * - A worker killed mid-stream: its nodes' decisions stop, the other
 *   workers' go on, the gateway keeps publishing; published = the survivors'
 *   received + what the killed worker's partitions were sent (counted by the
 *   witness; what came after the kill is lost: core NATS is at most once).
 * - Leases (--lease 1 --takeover): the three workers claim their lists (a
 *   fourth that wants a list they hold is refused, counted, owns nothing); one
 *   killed mid-stream, its partitions are taken over by the others within
 *   the lease time and a bit (once each, by one worker), its nodes'
 *   decisions resume there with cold sessions (the first decision after
 *   `every` frames again), and nothing is counted twice.
 * - The server stopped and started again mid-stream: the gateway and the
 *   workers reconnect, a lease worker makes the bucket again (the server
 *   kept it in memory) and owns its list again, decisions resume, and
 *   published >= the workers' received (what was lost is the difference).
 * - Usage errors, a server that cannot be reached, a server host name that
 *   does not resolve.
 * - A worker stopped while frames wait in its queue exits cleanly and
 *   counts them as queued.
 * - A worker's --packets-to packets carry ts_us, the time since it started
 *   at the frame's arrival.
 * - TLS and authorisation (certificates made by the test with openssl): a
 *   gateway and a worker with --nats-cafile, --nats-user and
 *   --nats-password-file carry the excerpt to decisions; no TLS, another
 *   CA, a wrong password or none are refused with the reason; a server that
 *   wants client certificates takes --nats-cert / --nats-key.
 *
 * Every wait is bounded in time; every process started is killed.
 */
#define _XOPEN_SOURCE 700 /* nftw */
#include <arpa/inet.h>
#include <ftw.h>
#include <dirent.h>
#include <nats/nats.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "aether/packet.h"
#include "check.h"

#include "cli_run.h"
#include "serve_run.h"

#define EXCERPT AETHER_SOURCE_DIR "/data/esp32-raw-2node-excerpt.csi.jsonl"
#define MOTION AETHER_SOURCE_DIR "/models/motion.rvne"
#define SHIPPED_CONF AETHER_SOURCE_DIR "/deploy/nats/nats-server.conf"
#ifndef NATS_SERVER
#define NATS_SERVER ""
#endif
#define PARTS 16
#define NODES 12
#define MAX_KEYS 64
#define MAX_DECISIONS 20000

static pid_t g_server = -1;
static char g_store[300]; /* JetStream's directory */
static unsigned g_server_port;
static char g_url[64];

/* ---------------- the server ---------------- */

/* The shipped configuration with its listen line on a free port and the
 * extra configuration text appended; 1 when the server accepts connections
 * within 10 s. */
static int server_start_with(const char *extra)
{
    size_t len;
    char *conf = (char *)test_read_file(SHIPPED_CONF, &len), *l, text[8192], path[512];
    const char *args[] = {"-c", path, NULL};
    if (!conf)
        return 0;
    l = strstr(conf, "listen: 127.0.0.1:4222");
    if (!l || len + 16 > sizeof text) {
        free(conf);
        return 0;
    }
    if (!g_server_port)
        g_server_port = free_tcp_port();
    *l = '\0';
    snprintf(text, sizeof text, "%slisten: 127.0.0.1:%u%s", conf, g_server_port,
             l + strlen("listen: 127.0.0.1:4222"));
    free(conf);
    /* JetStream's directory: a private one */
    l = strstr(text, "/var/lib/nats/aether");
    if (l) {
        char rest[4096];
        snprintf(rest, sizeof rest, "%s", l + strlen("/var/lib/nats/aether"));
        snprintf(g_store, sizeof g_store, "%s/js", g_dir);
        snprintf(l, sizeof text - (size_t)(l - text), "%s%s", g_store, rest);
    }
    if (extra && strlen(text) + strlen(extra) + 2 < sizeof text) {
        strcat(text, "\n");
        strcat(text, extra);
    }
    if (!write_bytes("nats.conf", text, strlen(text)))
        return 0;
    path_of(path, sizeof path, "nats.conf");
    snprintf(g_url, sizeof g_url, "nats://127.0.0.1:%u", g_server_port);
    g_server = start_listener(NATS_SERVER, args, "server.txt", "server_err.txt", g_server_port);
    return g_server > 0;
}

static int server_start(void)
{
    return server_start_with(NULL);
}

static void server_stop(void)
{
    stop_child(&g_server);
}

/* ---------------- the witness ---------------- */

typedef struct decision_seen {
    double t;
    char node[104];
} decision_seen;

typedef struct witness {
    natsConnection *nc;
    natsSubscription *parts, *decisions;
    pthread_mutex_t lock;
    uint64_t part_count[PARTS];
    char keys[MAX_KEYS][104]; /* node keys seen on partition subjects */
    int key_part[MAX_KEYS];
    size_t n_keys;
    decision_seen *seen;
    size_t n_seen;
    int bad_subject;
} witness;

static witness g_w;

static void on_part(natsConnection *nc, natsSubscription *sub, natsMsg *m, void *closure)
{
    witness *w = (witness *)closure;
    const char *s = natsMsg_GetSubject(m);
    unsigned p = 0;
    char site[72], node[104];
    (void)nc;
    (void)sub;
    pthread_mutex_lock(&w->lock);
    if (sscanf(s, "aether.part.%u.%71[^.].%103s", &p, site, node) == 3 && p < PARTS) {
        size_t i;
        w->part_count[p]++;
        for (i = 0; i < w->n_keys && strcmp(w->keys[i], node); ++i) {
        }
        if (i == w->n_keys && i < MAX_KEYS) {
            snprintf(w->keys[i], sizeof w->keys[i], "%s", node);
            w->key_part[i] = (int)p;
            w->n_keys++;
        } else if (i < w->n_keys && w->key_part[i] != (int)p) {
            w->bad_subject++; /* a node in two partitions */
        }
    } else {
        w->bad_subject++;
    }
    pthread_mutex_unlock(&w->lock);
    natsMsg_Destroy(m);
}

static void on_decision(natsConnection *nc, natsSubscription *sub, natsMsg *m, void *closure)
{
    witness *w = (witness *)closure;
    const char *s = natsMsg_GetSubject(m);
    char site[72], node[104], model[72];
    (void)nc;
    (void)sub;
    pthread_mutex_lock(&w->lock);
    if (sscanf(s, "aether.decision.%71[^.].%103[^.].%71s", site, node, model) == 3 &&
        !strcmp(site, "s1") && !strcmp(model, "motion") && w->n_seen < MAX_DECISIONS &&
        natsMsg_GetDataLength(m) > 0 &&
        !strncmp(natsMsg_GetData(m), "{\"type\":\"decision\"", 18)) {
        w->seen[w->n_seen].t = now_s();
        snprintf(w->seen[w->n_seen].node, sizeof w->seen[w->n_seen].node, "%s", node);
        w->n_seen++;
    } else {
        w->bad_subject++;
    }
    pthread_mutex_unlock(&w->lock);
    natsMsg_Destroy(m);
}

static int witness_start(witness *w)
{
    memset(w, 0, sizeof *w);
    pthread_mutex_init(&w->lock, NULL);
    w->seen = (decision_seen *)calloc(MAX_DECISIONS, sizeof *w->seen);
    return w->seen && natsConnection_ConnectTo(&w->nc, g_url) == NATS_OK &&
           natsConnection_Subscribe(&w->parts, w->nc, "aether.part.>", on_part, w) == NATS_OK &&
           natsSubscription_SetPendingLimits(w->parts, 1 << 20, 1 << 28) == NATS_OK &&
           natsConnection_Subscribe(&w->decisions, w->nc, "aether.decision.>", on_decision, w) ==
               NATS_OK &&
           natsConnection_FlushTimeout(w->nc, 5000) == NATS_OK;
}

static void witness_stop(witness *w)
{
    if (w->nc)
        natsConnection_Close(w->nc);
    natsSubscription_Destroy(w->parts);
    natsSubscription_Destroy(w->decisions);
    natsConnection_Destroy(w->nc);
    free(w->seen);
    pthread_mutex_destroy(&w->lock);
    memset(w, 0, sizeof *w);
}

static uint64_t witness_parts(witness *w, const char *mask)
{
    uint64_t n = 0;
    size_t p;
    pthread_mutex_lock(&w->lock);
    for (p = 0; p < PARTS; ++p)
        if (!mask || mask[p])
            n += w->part_count[p];
    pthread_mutex_unlock(&w->lock);
    return n;
}

/* ---------------- processes ---------------- */

typedef struct worker {
    const char *parts; /* "0-5" */
    char mask[PARTS];
    char out[32], err[32];
    pid_t pid;
} worker;

static void mask_of(worker *w)
{
    unsigned a, b, p;
    memset(w->mask, 0, sizeof w->mask);
    if (sscanf(w->parts, "%u-%u", &a, &b) == 2)
        for (p = a; p <= b && p < PARTS; ++p)
            w->mask[p] = 1;
}

/* Wait (10 s at most) for a line containing what in g_dir/name. */
static int wait_line(const char *name, const char *what, pid_t pid)
{
    double end = now_s() + 10.0;
    while (now_s() < end) {
        char *s = read_named(name);
        int ok = s && strstr(s, what) != NULL, status;
        free(s);
        if (ok)
            return 1;
        if (waitpid(pid, &status, WNOHANG) == pid)
            return 0;
        nap_ms(10);
    }
    return 0;
}

static int worker_start_with(worker *w, int i, const char *lease, int takeover)
{
    const char *args[] = {"serve",  "--nats",
                          g_url,    "--partitions",
                          w->parts, "--model",
                          MOTION,   lease ? "--lease" : NULL,
                          lease,    takeover ? "--takeover" : NULL,
                          NULL};
    mask_of(w);
    snprintf(w->out, sizeof w->out, "worker%d.txt", i);
    snprintf(w->err, sizeof w->err, "worker%d_err.txt", i);
    w->pid = spawn(args, w->out, w->err);
    return wait_line(w->out, "{\"type\":\"nats\",\"mode\":\"worker\"", w->pid);
}

static int worker_start(worker *w, int i)
{
    return worker_start_with(w, i, NULL, 0);
}

/* The last stats line of g_dir/name (a copy), NULL if none. */
static char *last_stats(const char *name)
{
    char *s = read_named(name), *p, *last = NULL, *o = NULL;
    size_t n;
    for (p = s; p && (p = strstr(p, "{\"type\":\"stats\"")) != NULL; ++p)
        last = p;
    if (last) {
        n = strcspn(last, "\n");
        o = (char *)malloc(n + 1);
        if (o) {
            memcpy(o, last, n);
            o[n] = '\0';
        }
    }
    free(s);
    return o;
}

/* A counter of the "nats" object of a stats line; -1 if absent. */
static long long nats_counter(const char *line, const char *key)
{
    const char *n = line ? strstr(line, "\"nats\":") : NULL;
    return n ? counter(n, key) : -1;
}

/* Ask the workers for stats until their received add up to want (10 s at
 * most); the sum reached. */
static long long workers_settle(worker *ws, size_t n, long long want)
{
    double end = now_s() + 10.0;
    long long sum = -1;
    while (now_s() < end) {
        size_t i;
        for (i = 0; i < n; ++i)
            if (ws[i].pid > 0)
                kill(ws[i].pid, SIGUSR1);
        nap_ms(150);
        sum = 0;
        for (i = 0; i < n; ++i)
            if (ws[i].pid > 0) {
                char *l = last_stats(ws[i].out);
                long long r = nats_counter(l, "received");
                free(l);
                sum += r > 0 ? r : 0;
            }
        if (sum >= want)
            break;
    }
    return sum;
}

/* SIGTERM, exit 0, the final stats line (a copy). */
static char *stop_final(pid_t pid, const char *out)
{
    char *s, *f, err[64];
    int rc;
    kill(pid, SIGTERM);
    rc = wait_child(pid, 15.0);
    CHECK_EQ_INT(rc, 0);
    if (rc != 0) {
        /* its standard error: g_dir/NAME_err.txt for NAME.txt */
        snprintf(err, sizeof err, "%.*s_err.txt", (int)(strlen(out) - 4), out);
        s = read_named(err);
        fprintf(stderr, "%s: exit %d: %.2000s\n", out, rc, s ? s : "");
        free(s);
    }
    s = read_named(out);
    f = final_stats(s);
    free(s);
    CHECK_MSG(f != NULL, "%s: no final stats", out);
    return f;
}

/* The "node" and "sender" of each decision line of text, "id|sender", one
 * a line, into keys (distinct); returns the count of decision lines. */
static size_t decision_nodes(const char *text, char keys[][96], size_t *n_keys, size_t cap)
{
    const char *line = text;
    size_t count = 0;
    while (line && *line) {
        const char *nl = strchr(line, '\n');
        size_t n = nl ? (size_t)(nl - line) : strlen(line), i;
        char buf[4096], id[32], sender[64], k[96];
        if (n < sizeof buf && !strncmp(line, "{\"type\":\"decision\"", 18)) {
            memcpy(buf, line, n);
            buf[n] = '\0';
            if (field(buf, "node", id, sizeof id) &&
                field(buf, "sender", sender, sizeof sender)) {
                snprintf(k, sizeof k, "%s|%s", id, sender);
                for (i = 0; i < *n_keys && strcmp(keys[i], k); ++i) {
                }
                if (i == *n_keys && i < cap)
                    snprintf(keys[(*n_keys)++], 96, "%s", k);
            }
            count++;
        }
        line += n + (nl ? 1 : 0);
    }
    return count;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The lines of text sorted, joined (free() it). */
static char *sorted_lines(char *text)
{
    size_t n = 0, i, len = text ? strlen(text) : 0, k = 0;
    char **v, *p, *o;
    for (i = 0; i < len; ++i)
        n += text[i] == '\n';
    v = (char **)calloc(n + 1, sizeof *v);
    o = (char *)calloc(len + 1, 1);
    if (!v || !o) {
        free(v);
        return o;
    }
    n = 0;
    for (p = text; p && *p;) {
        char *nl = strchr(p, '\n');
        if (!nl)
            break;
        *nl = '\0';
        v[n++] = p;
        p = nl + 1;
    }
    qsort(v, n, sizeof *v, cmp_str);
    for (i = 0; i < n; ++i)
        k += (size_t)snprintf(o + k, len + 1 - k, "%s\n", v[i]);
    free(v);
    return o;
}

static pid_t gateway_start(unsigned *port)
{
    const char *args[] = {"serve",     "--udp",  "127.0.0.1:0", "--nats", g_url,
                          "--forward", "--site", "s1",          NULL};
    pid_t pid = spawn(args, "gateway.txt", "gateway_err.txt");
    *port = wait_port("gateway.txt", pid);
    return pid;
}

/* The datagram count of replay's summary line (g_dir/replay.txt); -1. */
static long long replay_sent(void)
{
    char *s = read_named("replay.txt");
    long long n = -1;
    if (s && !strncmp(s, "replay: ", 8))
        n = strtoll(s + 8, NULL, 10);
    free(s);
    return n;
}

/* ---------------- tests ---------------- */

static void test_partitioned(void)
{
    worker ws[3] = {{"0-5", {0}, "", "", -1},
                    {"6-10", {0}, "", "", -1},
                    {"11-15", {0}, "", "", -1}};
    char nodes_of[3][NODES + 4][96];
    size_t n_nodes[3] = {0, 0, 0}, i, j, total_decisions = 0;
    char *finals[3], *gfinal, *joined, *single_keys, *workers_keys;
    char to[64], nodes_arg[8], count_arg[32];
    unsigned port = 0;
    pid_t gw;
    long long sent, published, sum;
    size_t all_len = 0;
    CHECK(witness_start(&g_w));
    for (i = 0; i < 3; ++i)
        CHECK_MSG(worker_start(&ws[i], (int)i), "worker %zu did not start", i);
    gw = gateway_start(&port);
    CHECK(port > 0);
    /* three messages that are not frames, without the sender header, straight
     * onto a gateway subject */
    for (i = 0; i < 3; ++i)
        CHECK(natsConnection_PublishString(g_w.nc, "aether.csi.s1.not_a_node", "hello") ==
              NATS_OK);
    CHECK(natsConnection_FlushTimeout(g_w.nc, 5000) == NATS_OK);
    snprintf(to, sizeof to, "127.0.0.1:%u", port);
    snprintf(nodes_arg, sizeof nodes_arg, "%d", NODES);
    {
        const char *args[] = {"replay", EXCERPT,   "--to",    to,  "--rate",
                              "max",    "--nodes", nodes_arg, NULL};
        CHECK_EQ_INT(wait_child(spawn_program(g_cli, args, -1, "replay.txt", "replay_err.txt"),
                                60.0),
                     0);
    }
    sent = replay_sent();
    CHECK(sent > 1000);
    nap_ms(200);
    gfinal = stop_final(gw, "gateway.txt");
    published = nats_counter(gfinal, "published");
    CHECK_EQ_INT(nats_counter(gfinal, "received"), sent);
    CHECK_EQ_INT(published, sent);
    CHECK_EQ_INT(nats_counter(gfinal, "failed"), 0);
    CHECK_EQ_INT(nats_counter(gfinal, "unparsed"), 0);
    sum = workers_settle(ws, 3, published + 3);
    CHECK_EQ_INT(sum, published + 3);
    CHECK_EQ_INT(witness_parts(&g_w, NULL), (uint64_t)(published + 3));
    for (i = 0; i < 3; ++i) {
        char *out;
        finals[i] = stop_final(ws[i].pid, ws[i].out);
        ws[i].pid = -1;
        /* exactly its partitions' messages */
        CHECK_EQ_INT(nats_counter(finals[i], "received"), witness_parts(&g_w, ws[i].mask));
        CHECK_EQ_INT(counter(finals[i], "received"), nats_counter(finals[i], "received"));
        CHECK_EQ_INT(counter(finals[i], "used") + counter(finals[i], "malformed"),
                     counter(finals[i], "received"));
        CHECK_EQ_INT(nats_counter(finals[i], "dropped"), 0);
        CHECK_EQ_INT(counter(finals[i], "malformed"), nats_counter(finals[i], "no_sender"));
        out = read_named(ws[i].out);
        j = decision_nodes(out, nodes_of[i], &n_nodes[i], NODES + 4);
        CHECK_EQ_INT(nats_counter(finals[i], "decisions_published"), j);
        total_decisions += j;
        all_len += out ? strlen(out) : 0;
        free(out);
        printf("  worker %s: received %lld, malformed %lld, %zu nodes, %zu decisions\n",
               ws[i].parts, nats_counter(finals[i], "received"), counter(finals[i], "malformed"),
               n_nodes[i], j);
    }
    /* the three non-frames are malformed at exactly one worker */
    CHECK_EQ_INT(counter(finals[0], "malformed") + counter(finals[1], "malformed") +
                     counter(finals[2], "malformed"),
                 3);
    /* every node at exactly one worker */
    CHECK_EQ_INT(n_nodes[0] + n_nodes[1] + n_nodes[2], NODES);
    for (i = 0; i < 3; ++i)
        for (j = 0; j < n_nodes[i]; ++j) {
            size_t a, b;
            for (a = 0; a < 3; ++a)
                for (b = 0; a != i && b < n_nodes[a]; ++b)
                    CHECK_MSG(strcmp(nodes_of[i][j], nodes_of[a][b]) != 0,
                              "node %s at two workers", nodes_of[i][j]);
        }
    /* each decision on its subject, seen by the witness */
    {
        double end = now_s() + 5.0;
        size_t seen = 0;
        while (now_s() < end) {
            pthread_mutex_lock(&g_w.lock);
            seen = g_w.n_seen;
            pthread_mutex_unlock(&g_w.lock);
            if (seen >= total_decisions)
                break;
            nap_ms(20);
        }
        CHECK_EQ_INT(seen, total_decisions);
        CHECK_EQ_INT(g_w.bad_subject, 0);
        CHECK_EQ_INT(g_w.n_keys, NODES + 1); /* the 12 nodes and not_a_node */
    }
    CHECK(total_decisions >= NODES);
    /* the same decisions as one serve fed the same frames */
    joined = (char *)calloc(all_len + 1, 1);
    for (i = 0; joined && i < 3; ++i) {
        char *out = read_named(ws[i].out);
        if (out)
            strcat(joined, out);
        free(out);
    }
    {
        size_t c1 = 0, c2 = 0;
        char *k = decision_keys(joined, "motion", &c1), *single;
        const char *args[] = {"serve", "--udp",   "127.0.0.1:0", "--model",
                              MOTION,  "--count", count_arg,     NULL};
        pid_t pid;
        unsigned sport;
        snprintf(count_arg, sizeof count_arg, "%lld", sent);
        pid = spawn(args, "single.txt", "single_err.txt");
        sport = wait_port("single.txt", pid);
        CHECK(sport > 0);
        snprintf(to, sizeof to, "127.0.0.1:%u", sport);
        {
            const char *rargs[] = {"replay", EXCERPT,   "--to",    to,  "--rate",
                                   "max",    "--nodes", nodes_arg, NULL};
            CHECK_EQ_INT(wait_child(spawn_program(g_cli, rargs, -1, "replay.txt",
                                                  "replay_err.txt"),
                                    60.0),
                         0);
        }
        CHECK_EQ_INT(wait_child(pid, 30.0), 0);
        single = read_named("single.txt");
        single_keys = decision_keys(single, "motion", &c2);
        CHECK_EQ_INT(c1, c2);
        workers_keys = sorted_lines(k);
        {
            char *s2 = sorted_lines(single_keys);
            CHECK_MSG(workers_keys && s2 && !strcmp(workers_keys, s2),
                      "the workers' decisions differ from one serve's");
            free(s2);
        }
        free(k);
        free(single);
        free(single_keys);
        free(workers_keys);
    }
    free(joined);
    for (i = 0; i < 3; ++i)
        free(finals[i]);
    free(gfinal);
    witness_stop(&g_w);
}

static void test_worker_killed(void)
{
    worker ws[3] = {{"0-5", {0}, "", "", -1},
                    {"6-10", {0}, "", "", -1},
                    {"11-15", {0}, "", "", -1}};
    char to[64], count_arg[32], nodes_arg[8];
    unsigned port = 0;
    pid_t gw, rp;
    size_t i, victim = 0, owned[3] = {0, 0, 0};
    uint64_t at_kill_victim, after_victim, survivors_expected = 0;
    long long published, survivors = 0;
    double t_kill;
    size_t dec_victim_after = 0, dec_others_after = 0;
    char *gfinal;
    CHECK(witness_start(&g_w));
    for (i = 0; i < 3; ++i)
        CHECK_MSG(worker_start(&ws[i], (int)i + 3), "worker %zu did not start", i);
    gw = gateway_start(&port);
    CHECK(port > 0);
    snprintf(to, sizeof to, "127.0.0.1:%u", port);
    snprintf(nodes_arg, sizeof nodes_arg, "%d", NODES);
    /* about 3 s: the excerpt's 670 frames a node at 10x its pace, twice */
    snprintf(count_arg, sizeof count_arg, "%d", NODES * 670 * 2);
    {
        const char *args[] = {"replay",  EXCERPT,   "--to",   to,        "--rate",  "10",
                              "--nodes", nodes_arg, "--loop", "--count", count_arg, NULL};
        rp = spawn_program(g_cli, args, -1, "replay.txt", "replay_err.txt");
    }
    nap_ms(1200);
    /* the victim: the worker that owns the most nodes */
    pthread_mutex_lock(&g_w.lock);
    for (i = 0; i < g_w.n_keys; ++i) {
        size_t k;
        for (k = 0; k < 3; ++k)
            if (ws[k].mask[g_w.key_part[i]])
                owned[k]++;
    }
    pthread_mutex_unlock(&g_w.lock);
    for (i = 1; i < 3; ++i)
        if (owned[i] > owned[victim])
            victim = i;
    CHECK(owned[victim] > 0);
    kill(ws[victim].pid, SIGKILL);
    wait_child(ws[victim].pid, 5.0);
    ws[victim].pid = -1;
    t_kill = now_s();
    at_kill_victim = witness_parts(&g_w, ws[victim].mask);
    CHECK_EQ_INT(wait_child(rp, 60.0), 0);
    nap_ms(200);
    gfinal = stop_final(gw, "gateway.txt");
    published = nats_counter(gfinal, "published");
    CHECK_EQ_INT(nats_counter(gfinal, "received"), replay_sent());
    CHECK_EQ_INT(published, nats_counter(gfinal, "received"));
    CHECK_EQ_INT(nats_counter(gfinal, "failed"), 0);
    CHECK(gfinal && strstr(gfinal, "\"connected\":true,\"disconnects\":0") != NULL);
    {
        double end = now_s() + 10.0;
        while (witness_parts(&g_w, NULL) < (uint64_t)published && now_s() < end)
            nap_ms(20);
    }
    CHECK_EQ_INT(witness_parts(&g_w, NULL), published);
    after_victim = witness_parts(&g_w, ws[victim].mask) - at_kill_victim;
    CHECK_MSG(after_victim > 0, "the gateway kept publishing the victim's partitions");
    for (i = 0; i < 3; ++i)
        if ((int)i != (int)victim)
            survivors_expected += witness_parts(&g_w, ws[i].mask);
    CHECK_EQ_INT(workers_settle(ws, 3, (long long)survivors_expected), survivors_expected);
    for (i = 0; i < 3; ++i) {
        char *f;
        if (ws[i].pid <= 0)
            continue;
        f = stop_final(ws[i].pid, ws[i].out);
        ws[i].pid = -1;
        CHECK_EQ_INT(nats_counter(f, "received"), witness_parts(&g_w, ws[i].mask));
        CHECK_EQ_INT(nats_counter(f, "dropped"), 0);
        survivors += nats_counter(f, "received");
        free(f);
    }
    /* published = the survivors' received + the victim's partitions' messages */
    CHECK_EQ_INT(published, survivors + (long long)witness_parts(&g_w, ws[victim].mask));
    /* decisions: the victim's nodes stop (after what was in flight), the others go on */
    pthread_mutex_lock(&g_w.lock);
    for (i = 0; i < g_w.n_seen; ++i) {
        size_t k;
        int mine = 0;
        if (g_w.seen[i].t < t_kill + 0.3)
            continue;
        for (k = 0; k < g_w.n_keys; ++k)
            if (!strcmp(g_w.keys[k], g_w.seen[i].node))
                mine = ws[victim].mask[g_w.key_part[k]];
        if (mine)
            dec_victim_after++;
        else
            dec_others_after++;
    }
    pthread_mutex_unlock(&g_w.lock);
    CHECK_EQ_INT(dec_victim_after, 0);
    CHECK(dec_others_after > 0);
    printf("  killed worker %s (%zu nodes): published %lld, survivors received %lld, the "
           "victim's partitions %llu of which %llu after the kill (lost); decisions after the "
           "kill: %zu of the others, %zu of the victim's nodes\n",
           ws[victim].parts, owned[victim], published, survivors,
           (unsigned long long)witness_parts(&g_w, ws[victim].mask),
           (unsigned long long)after_victim, dec_others_after, dec_victim_after);
    free(gfinal);
    witness_stop(&g_w);
}

/* Lease lines of g_dir/name with this event: per partition, how many. */
static size_t lease_events(const char *name, const char *event, int per_part[PARTS])
{
    char *s = read_named(name), *p, want[64];
    size_t n = 0;
    snprintf(want, sizeof want, "\"event\":\"%s\"", event);
    for (p = s; p && (p = strstr(p, "{\"type\":\"lease\"")) != NULL; ++p) {
        char line[256];
        size_t len = strcspn(p, "\n");
        long long part;
        if (len >= sizeof line)
            continue;
        memcpy(line, p, len);
        line[len] = '\0';
        part = counter(line, "partition");
        if (strstr(line, want) && part >= 0 && part < PARTS) {
            per_part[part]++;
            n++;
        }
    }
    free(s);
    return n;
}

static void test_leases(void)
{
    worker ws[3] = {{"0-5", {0}, "", "", -1},
                    {"6-10", {0}, "", "", -1},
                    {"11-15", {0}, "", "", -1}};
    char to[64], count_arg[32], nodes_arg[8];
    unsigned port = 0;
    pid_t gw, rp;
    size_t i, k, victim = 0, owned[3] = {0, 0, 0}, moved_nodes = 0, cold = 0;
    uint64_t victim_at_kill;
    long long published, survivors = 0;
    double t_kill, t_moved = 0.0;
    char *gfinal;
    int claimed[PARTS] = {0};
    CHECK(witness_start(&g_w));
    for (i = 0; i < 3; ++i)
        CHECK_MSG(worker_start_with(&ws[i], (int)i + 6, "1", 1), "worker %zu did not start", i);
    for (i = 0; i < 3; ++i)
        lease_events(ws[i].out, "claimed", claimed);
    for (i = 0; i < PARTS; ++i)
        CHECK_MSG(claimed[i] == 1, "partition %zu claimed %d times", i, claimed[i]);
    /* a worker configured with partitions another holds: refused, counted, serving nothing */
    {
        const char *args[] = {"serve", "--nats",  g_url,  "--partitions",
                              "0-5",   "--model", MOTION, "--lease",
                              "1",     NULL};
        pid_t extra = spawn(args, "extra.txt", "extra_err.txt");
        char *f;
        CHECK(wait_line("extra.txt", "\"owned\":[]}", extra));
        nap_ms(500);
        f = stop_final(extra, "extra.txt");
        CHECK_MSG(f && strstr(f, "\"owned\":[],\"wanted_not_owned\":6,\"claimed\":0,"), "%s",
                  f ? strstr(f, "\"nats\"") : "");
        CHECK(nats_counter(f, "refused") >= 6);
        free(f);
    }
    gw = gateway_start(&port);
    CHECK(port > 0);
    snprintf(to, sizeof to, "127.0.0.1:%u", port);
    snprintf(nodes_arg, sizeof nodes_arg, "%d", NODES);
    snprintf(count_arg, sizeof count_arg, "%d", NODES * 670 * 3); /* about 4.5 s */
    {
        const char *args[] = {"replay",  EXCERPT,   "--to",   to,        "--rate",  "10",
                              "--nodes", nodes_arg, "--loop", "--count", count_arg, NULL};
        rp = spawn_program(g_cli, args, -1, "replay.txt", "replay_err.txt");
    }
    nap_ms(1200);
    pthread_mutex_lock(&g_w.lock);
    for (i = 0; i < g_w.n_keys; ++i)
        for (k = 0; k < 3; ++k)
            if (ws[k].mask[g_w.key_part[i]])
                owned[k]++;
    pthread_mutex_unlock(&g_w.lock);
    for (i = 1; i < 3; ++i)
        if (owned[i] > owned[victim])
            victim = i;
    kill(ws[victim].pid, SIGKILL);
    wait_child(ws[victim].pid, 5.0);
    ws[victim].pid = -1;
    t_kill = now_s();
    victim_at_kill = witness_parts(&g_w, ws[victim].mask);
    /* its partitions move: each taken over once, by a survivor */
    {
        double end = t_kill + 6.0;
        while (now_s() < end) {
            int taken[PARTS] = {0}, all = 1;
            for (i = 0; i < 3; ++i)
                if (i != victim)
                    lease_events(ws[i].out, "taken_over", taken);
            for (i = 0; i < PARTS; ++i)
                if ((ws[victim].mask[i] && taken[i] != 1) || (!ws[victim].mask[i] && taken[i]))
                    all = 0;
            if (all) {
                t_moved = now_s();
                break;
            }
            nap_ms(20);
        }
    }
    CHECK_MSG(t_moved > 0.0, "the killed worker's partitions did not move within 6 s");
    /* a lease of 1 s lapses within 1 s of the kill, a survivor looks every
     * 1/3 s; the server's expiry, the polling and a busy machine add some */
    CHECK_MSG(t_moved - t_kill < 3.0, "moved after %.2f s", t_moved - t_kill);
    CHECK_EQ_INT(wait_child(rp, 60.0), 0);
    nap_ms(200);
    gfinal = stop_final(gw, "gateway.txt");
    published = nats_counter(gfinal, "published");
    CHECK_EQ_INT(published, nats_counter(gfinal, "received"));
    CHECK_EQ_INT(nats_counter(gfinal, "failed"), 0);
    {
        double end = now_s() + 10.0;
        while (witness_parts(&g_w, NULL) < (uint64_t)published && now_s() < end)
            nap_ms(20);
    }
    CHECK_EQ_INT(witness_parts(&g_w, NULL), published);
    /* the survivors take everything but the victim's share before the hand-over */
    /* until the survivors' counts stand still (10 s at most) */
    {
        long long prev = -1, cur = workers_settle(ws, 3, 0);
        double end = now_s() + 10.0;
        while (cur != prev && now_s() < end) {
            nap_ms(250);
            prev = cur;
            cur = workers_settle(ws, 3, 0);
        }
    }
    for (i = 0; i < 3; ++i) {
        char *f, *out;
        char nodes[NODES + 4][96];
        static char seen_by[3][NODES + 4][96];
        static size_t n_seen_by[3];
        size_t n_nodes = 0, j;
        if (ws[i].pid <= 0)
            continue;
        f = stop_final(ws[i].pid, ws[i].out);
        ws[i].pid = -1;
        survivors += nats_counter(f, "received");
        CHECK_EQ_INT(nats_counter(f, "dropped"), 0);
        CHECK_MSG(f && strstr(f, "\"wanted_not_owned\":0,") && strstr(f, "\"lost\":0,"), "%s",
                  f ? strstr(f, "\"nats\"") : "");
        CHECK(nats_counter(f, "received") > (long long)witness_parts(&g_w, ws[i].mask) - 1);
        out = read_named(ws[i].out);
        decision_nodes(out, nodes, &n_nodes, NODES + 4);
        /* no node decided by two survivors */
        for (j = 0; j < n_nodes; ++j) {
            size_t a, b;
            for (a = 0; a < i; ++a)
                for (b = 0; b < n_seen_by[a]; ++b)
                    CHECK_MSG(strcmp(nodes[j], seen_by[a][b]) != 0,
                              "node %s decided by two workers", nodes[j]);
            memcpy(seen_by[i][j], nodes[j], sizeof seen_by[i][j]);
        }
        n_seen_by[i] = n_nodes;
        /* the victim's nodes decided here start cold: their first decision
         * here is at frame `every` (64 for motion) */
        for (j = 0; out && j < n_nodes; ++j) {
            char pat[128], *p;
            const char *bar = strchr(nodes[j], '|');
            long long first = -1;
            if (!bar)
                continue;
            snprintf(pat, sizeof pat, "\"sender\":%s", bar + 1); /* quoted */
            p = strstr(out, pat);
            if (p) {
                char *fr = strstr(p, "\"frame\":");
                if (fr)
                    first = strtoll(fr + 8, NULL, 10);
            }
            CHECK_EQ_INT(first, 64);
            cold++;
        }
        free(out);
        free(f);
    }
    CHECK(cold >= NODES - owned[victim]);
    /* nothing counted twice: survivors + what the victim could have had <= published;
     * and the survivors got some of the victim's partitions after the hand-over */
    CHECK(survivors + (long long)victim_at_kill <= published);
    {
        uint64_t static_share = 0;
        for (i = 0; i < 3; ++i)
            if (i != victim)
                static_share += witness_parts(&g_w, ws[i].mask);
        CHECK(survivors > (long long)static_share);
        moved_nodes = owned[victim];
        printf("  leases of 1 s: killed worker %s (%zu nodes); its partitions moved after %.2f "
               "s; "
               "published %lld, survivors received %lld (%llu of their own partitions, %llu "
               "taken over), the victim's share before the kill %llu, lost in the hand-over "
               "about %lld\n",
               ws[victim].parts, moved_nodes, t_moved - t_kill, published, survivors,
               (unsigned long long)static_share,
               (unsigned long long)(survivors - (long long)static_share),
               (unsigned long long)victim_at_kill,
               published - survivors - (long long)victim_at_kill);
    }
    /* the victim's nodes decided again after the hand-over */
    {
        size_t after = 0;
        pthread_mutex_lock(&g_w.lock);
        for (i = 0; i < g_w.n_seen; ++i) {
            int mine = 0;
            if (g_w.seen[i].t < t_moved)
                continue;
            for (k = 0; k < g_w.n_keys; ++k)
                if (!strcmp(g_w.keys[k], g_w.seen[i].node))
                    mine = ws[victim].mask[g_w.key_part[k]];
            after += mine != 0;
        }
        pthread_mutex_unlock(&g_w.lock);
        CHECK_MSG(after > 0, "no decisions of the killed worker's nodes after the hand-over");
    }
    free(gfinal);
    witness_stop(&g_w);
}

/* The decision count of the last stats line of g_dir/name ("decisions_published"). */
/* A worker's decisions published and frames received so far (its stats
 * line on SIGUSR1). */
static long long decisions_now(pid_t pid, const char *name, long long *received)
{
    char *l;
    long long n;
    kill(pid, SIGUSR1);
    nap_ms(200);
    l = last_stats(name);
    n = nats_counter(l, "decisions_published");
    *received = nats_counter(l, "received");
    free(l);
    return n;
}

static void test_server_restart(void)
{
    worker ws[2] = {{"0-7", {0}, "", "", -1}, {"8-15", {0}, "", "", -1}};
    char to[64], count_arg[32];
    unsigned port = 0;
    pid_t gw, rp;
    long long published, received = 0, before[2], rec_before[2], grew = 0;
    size_t i;
    char *gfinal;
    CHECK(worker_start_with(&ws[0], 10, "1", 0));
    CHECK(worker_start(&ws[1], 11));
    gw = gateway_start(&port);
    CHECK(port > 0);
    snprintf(to, sizeof to, "127.0.0.1:%u", port);
    snprintf(count_arg, sizeof count_arg, "%d", 4 * 670 * 3); /* about 4 s at 5x */
    {
        const char *args[] = {"replay",  EXCERPT, "--to",   to,        "--rate",  "5",
                              "--nodes", "4",     "--loop", "--count", count_arg, NULL};
        rp = spawn_program(g_cli, args, -1, "replay.txt", "replay_err.txt");
    }
    nap_ms(1000);
    server_stop();
    nap_ms(800);
    CHECK_MSG(server_start(), "the server did not start again on port %u", g_server_port);
    nap_ms(1500); /* reconnection: every 0.5 s */
    for (i = 0; i < 2; ++i)
        before[i] = decisions_now(ws[i].pid, ws[i].out, &rec_before[i]);
    CHECK_EQ_INT(wait_child(rp, 60.0), 0);
    nap_ms(300);
    gfinal = stop_final(gw, "gateway.txt");
    published = nats_counter(gfinal, "published");
    CHECK(gfinal && strstr(gfinal, "\"connected\":true,\"disconnects\":1,\"reconnects\":1"));
    CHECK_EQ_INT(published, nats_counter(gfinal, "received"));
    nap_ms(300);
    for (i = 0; i < 2; ++i) {
        char *f = stop_final(ws[i].pid, ws[i].out);
        long long after = nats_counter(f, "decisions_published");
        long long rec_after = nats_counter(f, "received");
        ws[i].pid = -1;
        CHECK_MSG(f && strstr(f, "\"connected\":true,\"disconnects\":1,\"reconnects\":1"), "%s",
                  f ? strstr(f, "\"nats\"") : "");
        /* the 4 nodes' partitions follow their source ports, so a worker
         * may own none of them; one that gets a node's frames after the
         * restart (at least a decision interval of them) decides again */
        if (rec_after - rec_before[i] >= 4 * 64)
            CHECK_MSG(after > before[i],
                      "worker %s: decisions %lld after the restart, %lld at it (%lld frames "
                      "received since)",
                      ws[i].parts, after, before[i], rec_after - rec_before[i]);
        grew += after - before[i];
        received += nats_counter(f, "received");
        if (i == 0)
            CHECK_MSG(f && strstr(f, "\"owned\":[0,1,2,3,4,5,6,7],\"wanted_not_owned\":0,") &&
                          strstr(f, "\"lost\":0,") && strstr(f, "\"bucket_remade\":1}"),
                      "%s", f ? strstr(f, "\"nats\"") : "");
        free(f);
    }
    CHECK(received > 0);
    CHECK(received <= published);
    CHECK_MSG(grew > 0, "no decision after the server came back");
    printf("  server restarted mid-stream: gateway published %lld, workers received %lld (%lld "
           "lost while it was away)\n",
           published, received, published - received);
    free(gfinal);
}

/* A worker stopped while frames still wait in its queue: exit 0, its final
 * stats count them as queued, and received + queued + dropped never exceed
 * what the gateway published. Each round stops the worker as soon as the
 * replay ends. Such a stop once crashed freeing the queued messages after
 * the client library had closed (most rounds), and once by destroying
 * subscriptions the library was still delivering to (about 1 stop in 40:
 * scripts/nats_stop_soak.sh runs hundreds). */
#define BUSY_ROUNDS 5
static void test_worker_stopped_busy(void)
{
    int round;
    long long queued_seen = 0;
    for (round = 0; round < BUSY_ROUNDS; ++round) {
        worker w = {"0-15", {0}, "", "", -1};
        char to[64], *wf, *gf;
        unsigned port = 0;
        pid_t gw;
        CHECK(worker_start(&w, 20 + round));
        gw = gateway_start(&port);
        CHECK(port > 0);
        snprintf(to, sizeof to, "127.0.0.1:%u", port);
        {
            const char *args[] = {"replay", EXCERPT, "--to", to, "--rate", "max",
                                  "--nodes", "12",   NULL};
            CHECK_EQ_INT(
                wait_child(spawn_program(g_cli, args, -1, "replay.txt", "replay_err.txt"), 60.0),
                0);
        }
        wf = stop_final(w.pid, w.out); /* at once: its queue may be full */
        gf = stop_final(gw, "gateway.txt");
        CHECK(wf && gf);
        if (wf && gf) {
            long long rec = nats_counter(wf, "received"), q = nats_counter(wf, "queued");
            long long dropped = nats_counter(wf, "dropped");
            CHECK(rec >= 0 && q >= 0 && dropped >= 0);
            CHECK(rec + q + dropped <= nats_counter(gf, "published"));
            queued_seen += q;
        }
        free(wf);
        free(gf);
    }
    printf("  workers stopped busy: %d stops, %lld frames still queued at them in all\n",
           BUSY_ROUNDS, queued_seen);
}

/* A worker's 0xC5110007 packets (--packets-to): ts_us is the time since the
 * worker started at the frame's arrival, as for a single-host serve's
 * datagrams (it was 0 for every frame taken from NATS). Frames published by
 * the test on a partition subject with the sender header; the worker waited
 * for 0.3 s before, so ts_us >= 300,000, and it is at most the time since
 * the worker was spawned. */
static void test_worker_packet_times(void)
{
    worker w = {"0-15", {0}, "", "", -1};
    unsigned pport = 0;
    int fd = test_socket(&pport), n_pkt = 0, i;
    char to[64], *wf;
    natsConnection *nc = NULL;
    double t_spawn = now_s(), end;
    uint64_t last_ts = 0;
    CHECK(fd >= 0);
    snprintf(to, sizeof to, "127.0.0.1:%u", pport);
    {
        const char *args[] = {"serve", "--nats",    g_url,          "--partitions",
                              "0-15",  "--model",   MOTION,         "--every",
                              "4",     "--no-json", "--packets-to", to,
                              NULL};
        snprintf(w.out, sizeof w.out, "pworker.txt");
        snprintf(w.err, sizeof w.err, "pworker_err.txt");
        w.pid = spawn(args, w.out, w.err);
    }
    CHECK(wait_line(w.out, "{\"type\":\"nats\",\"mode\":\"worker\"", w.pid));
    CHECK(natsConnection_ConnectTo(&nc, g_url) == NATS_OK);
    nap_ms(300);
    for (i = 0; nc && i < 12; ++i) {
        unsigned char b[512];
        size_t len = make_frame(b, sizeof b, 5, (uint32_t)i, 0);
        natsMsg *m = NULL;
        CHECK(len > 0);
        CHECK(natsMsg_Create(&m, "aether.part.3.s1.5_127_0_0_1_40000", NULL, (const char *)b,
                             (int)len) == NATS_OK &&
              natsMsgHeader_Set(m, "Aether-Sender", "127.0.0.1:40000") == NATS_OK &&
              natsConnection_PublishMsg(nc, m) == NATS_OK);
        natsMsg_Destroy(m);
    }
    if (nc)
        CHECK(natsConnection_FlushTimeout(nc, 5000) == NATS_OK);
    /* decisions at frames 4, 8 and 12: three packets (5 s at most) */
    for (end = now_s() + 5.0; fd >= 0 && n_pkt < 3 && now_s() < end;) {
        unsigned char b[64];
        aether_class_packet pk;
        ssize_t k = recv(fd, b, sizeof b, MSG_DONTWAIT);
        if (k < 0) {
            nap_ms(5);
            continue;
        }
        CHECK_STATUS(aether_packet_decode(b, (size_t)k, &pk), AETHER_OK);
        n_pkt++;
        CHECK_EQ_INT(pk.node_id, 5);
        CHECK_EQ_INT(pk.seq, n_pkt);
        CHECK_MSG(pk.ts_us >= 300000, "packet %d: ts_us %llu, expected >= 300000", n_pkt,
                  (unsigned long long)pk.ts_us);
        CHECK_MSG((double)pk.ts_us <= (now_s() - t_spawn) * 1e6,
                  "packet %d: ts_us %llu, later than the time since the worker started", n_pkt,
                  (unsigned long long)pk.ts_us);
        CHECK(pk.ts_us >= last_ts);
        last_ts = pk.ts_us;
    }
    CHECK_EQ_INT(n_pkt, 3);
    wf = stop_final(w.pid, w.out);
    CHECK_EQ_INT((int)counter(wf, "used"), 12);
    CHECK(wf && strstr(wf, "\"packets\":{\"sent\":3,"));
    printf("  worker packets: %d, the last ts_us %llu\n", n_pkt, (unsigned long long)last_ts);
    free(wf);
    if (nc) {
        natsConnection_Close(nc);
        natsConnection_Destroy(nc);
    }
    if (fd >= 0)
        close(fd);
}

static void test_nats_errors(void)
{
    char url[64];
    {
        const char *a[] = {"serve", "--nats", g_url, "--model", MOTION, NULL};
        expect(a, 2, "--forward");
    }
    {
        const char *a[] = {"serve", "--nats", g_url, "--forward", NULL};
        expect(a, 2, "--udp");
    }
    {
        const char *a[] = {"serve",     "--udp",   "127.0.0.1:0", "--nats", g_url,
                           "--forward", "--model", MOTION,        NULL};
        expect(a, 2, "no decisions");
    }
    {
        const char *a[] = {"serve", "--nats",  g_url,  "--partitions",
                           "3-1",   "--model", MOTION, NULL};
        expect(a, 2, "--partitions");
    }
    {
        const char *a[] = {"serve", "--nats",  g_url,  "--partitions",
                           "1,x",   "--model", MOTION, NULL};
        expect(a, 2, "--partitions");
    }
    {
        const char *a[] = {"serve", "--partitions", "1", "--model", MOTION, NULL};
        expect(a, 2, "--nats");
    }
    {
        const char *a[] = {"serve",     "--udp",  "127.0.0.1:0", "--nats", g_url,
                           "--forward", "--site", "a.b",         NULL};
        expect(a, 2, "--site");
    }
    {
        const char *a[] = {"serve", "--nats",  "127.0.0.1:4222", "--partitions",
                           "1",     "--model", MOTION,           NULL};
        expect(a, 2, "nats://");
    }
    snprintf(url, sizeof url, "nats://127.0.0.1:%u", free_tcp_port());
    {
        const char *a[] = {"serve", "--nats", url, "--partitions", "1", "--model", MOTION, NULL};
        expect(a, 3, "cannot connect");
    }
    {
        /* a host name that does not resolve (.invalid never does): exit 2
         * naming it, as for --udp, --packets-to and --mqtt; with user
         * information in the URL too */
        const char *a[] = {"serve",        "--nats", "nats://u:p@nosuch.invalid:4222",
                           "--partitions", "1",      "--model",
                           MOTION,         NULL};
        const char *g[] = {"serve",     "--udp", "127.0.0.1:0", "--nats", "nats://nosuch.invalid",
                           "--forward", NULL};
        expect(a, 2, "cannot resolve nosuch.invalid");
        expect(g, 2, "cannot resolve nosuch.invalid");
    }
}

/* serve as a worker for 0.5 s against the TLS server with up to six extra
 * args: exit want and phrase. */
static void worker_tls(const char *const *extra, int want, const char *phrase)
{
    const char *a[16] = {"serve",    "--nats", g_url, "--partitions", "0-15",
                         "--model",  MOTION,   "--duration", "0.5"};
    size_t n = 9, i;
    for (i = 0; extra[i] && n < 15; ++i)
        a[n++] = extra[i];
    a[n] = NULL;
    expect(a, want, phrase);
}

/* The shipped configuration with a tls block (the test PKI's "server"
 * certificate, CA ca; client certificates required when verify) and the
 * extra text after it. */
static int tls_server_start(const char *ca, int verify, const char *extra)
{
    char conf[2048], pem[512], key[512];
    path_of(pem, sizeof pem, "server.pem");
    path_of(key, sizeof key, "server.key");
    snprintf(conf, sizeof conf,
             "tls {\n  cert_file: \"%s\"\n  key_file: \"%s\"\n  ca_file: \"%s\"\n"
             "  verify: %s\n  timeout: 2\n}\n%s",
             pem, key, ca, verify ? "true" : "false", extra);
    return server_start_with(conf);
}

/* TLS and authorisation: the shipped configuration plus a tls block (the
 * test's certificates) and a user with a password. A gateway and a worker
 * with --nats-cafile and the credentials carry the excerpt to decisions;
 * no CA, another CA, a wrong password, no credentials are refused (exit 3,
 * with the library's reason); a server that wants client certificates
 * takes --nats-cert / --nats-key. */
static void test_nats_tls(void)
{
    char pw[512], bad[512], to[64];
    test_pki k;
    unsigned port = 0;
    pid_t wpid, gw;
    if (!have_openssl()) {
        check_note_missing("openssl");
        return;
    }
    REQUIRE_PATH(EXCERPT);
    CHECK(make_test_pki(&k));
    CHECK(write_bytes("nats_pw.txt", "s3cret\n", 7));
    CHECK(write_bytes("nats_bad.txt", "nope\n", 5));
    path_of(pw, sizeof pw, "nats_pw.txt");
    path_of(bad, sizeof bad, "nats_bad.txt");
    server_stop();
    CHECK(tls_server_start(k.ca, 0, "authorization {\n  user: aether\n  password: s3cret\n}\n"));

    /* decisions through TLS with a user and password */
    {
        const char *wa[] = {"serve",         "--nats",      g_url, "--partitions",
                            "0-15",          "--model",     MOTION, "--nats-cafile",
                            k.ca,              "--nats-user", "aether", "--nats-password-file",
                            pw,              NULL};
        const char *ga[] = {"serve",         "--udp",       "127.0.0.1:0", "--nats",
                            g_url,           "--forward",   "--site",      "s1",
                            "--nats-cafile", k.ca,            "--nats-user", "aether",
                            "--nats-password-file", pw,     NULL};
        wpid = spawn(wa, "tls_worker.txt", "tls_worker_err.txt");
        CHECK(wait_line("tls_worker.txt", "{\"type\":\"nats\",\"mode\":\"worker\"", wpid));
        gw = spawn(ga, "tls_gateway.txt", "tls_gateway_err.txt");
        port = wait_port("tls_gateway.txt", gw);
        CHECK(port > 0);
        snprintf(to, sizeof to, "127.0.0.1:%u", port);
        {
            const char *args[] = {"replay", EXCERPT, "--to", to, "--rate", "max", NULL};
            CHECK_EQ_INT(
                wait_child(spawn_program(g_cli, args, -1, "replay.txt", "replay_err.txt"), 60.0),
                0);
        }
        CHECK(replay_sent() > 0);
        CHECK(wait_line("tls_worker.txt", "{\"type\":\"decision\"", wpid));
        {
            char *gf = stop_final(gw, "tls_gateway.txt");
            char *wf = stop_final(wpid, "tls_worker.txt");
            char *text = read_named("tls_worker.txt");
            size_t n = 0;
            const char *p;
            for (p = text; p && (p = strstr(p, "{\"type\":\"decision\"")) != NULL; ++p)
                n++;
            CHECK(n > 0);
            /* every datagram the gateway took went out over TLS (at the
             * replay's maximum rate the kernel may drop some before it) */
            CHECK(nats_counter(gf, "received") > replay_sent() / 2);
            CHECK_EQ_INT(nats_counter(gf, "published"), nats_counter(gf, "received"));
            CHECK(nats_counter(wf, "received") > 0 &&
                  nats_counter(wf, "received") <= nats_counter(gf, "published"));
            printf("  %lld datagrams sent, %lld forwarded, %lld received by the worker and %lu "
                   "decisions made through TLS\n",
                   replay_sent(), nats_counter(gf, "published"), nats_counter(wf, "received"),
                   (unsigned long)n);
            free(gf);
            free(wf);
            free(text);
        }
    }
    {
        const char *e[] = {"--nats-cafile", k.ca, "--nats-user", "aether", "--nats-password-file",
                           pw, NULL};
        worker_tls(e, 0, "\"type\":\"nats\"");
    }
    {
        const char *e[] = {"--nats-user", "aether", "--nats-password-file", pw, NULL};
        worker_tls(e, 3, "cannot connect"); /* no TLS to a server that demands it */
    }
    {
        const char *e[] = {"--nats-cafile", k.other, "--nats-user", "aether",
                           "--nats-password-file", pw, NULL};
        worker_tls(e, 3, "SSL");
    }
    {
        const char *e[] = {"--nats-cafile", k.ca, "--nats-user", "aether",
                           "--nats-password-file", bad, NULL};
        worker_tls(e, 3, "Authorization");
    }
    {
        const char *e[] = {"--nats-cafile", k.ca, NULL};
        worker_tls(e, 3, "Authorization");
    }
    {
        const char *e[] = {"--nats-insecure", "--nats-user", "aether", "--nats-password-file",
                           pw, NULL};
        worker_tls(e, 0, "\"type\":\"nats\"");
    }
    {
        const char *e[] = {"--nats-cafile", k.ca, "--nats-cert", k.client, NULL};
        worker_tls(e, 2, "--nats-key");
    }
    {
        const char *e[] = {"--nats-cafile", k.ca, "--nats-password-file", pw, NULL};
        worker_tls(e, 2, "--nats-user");
    }
    server_stop();

    /* client certificates required */
    CHECK(tls_server_start(k.ca, 1, ""));
    {
        const char *e[] = {"--nats-cafile", k.ca, NULL};
        worker_tls(e, 3, "cannot connect");
    }
    {
        const char *e[] = {"--nats-cafile", k.ca,         "--nats-cert", k.client,
                           "--nats-key",    k.client_key, NULL};
        worker_tls(e, 0, "\"type\":\"nats\"");
    }
    server_stop();
    CHECK(server_start()); /* as the other tests expect it */
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *f)
{
    (void)st;
    (void)flag;
    (void)f;
    return remove(path) == 0 ? 0 : 0;
}

int main(int argc, char **argv)
{
    static const check_test_fn tests[] =
        {test_partitioned,         test_worker_killed, test_leases,
         test_server_restart,      test_nats_errors,   test_worker_stopped_busy,
         test_worker_packet_times, test_nats_tls};
    static const char *const names[] =
        {"test_partitioned",         "test_worker_killed", "test_leases",
         "test_server_restart",      "test_nats_errors",   "test_worker_stopped_busy",
         "test_worker_packet_times", "test_nats_tls"};
    const char *tmp = getenv("TMPDIR");
    int rc;
    g_cli = argc > 1 ? argv[1] : AETHER_CLI_PATH;
    if (!g_cli || !g_cli[0] || access(g_cli, X_OK) != 0) {
        printf("test_serve_nats: no CLI (pass its path as argv[1])\n");
        return 1;
    }
    if (!NATS_SERVER[0] || access(NATS_SERVER, X_OK) != 0) {
        printf("test_serve_nats: no nats-server (Debian package nats-server); skipped\n");
        return CHECK_SKIP_STATUS;
    }
    signal(SIGPIPE, SIG_IGN);
    snprintf(g_dir, sizeof g_dir, "%s/aether_serve_nats_XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
    if (!mkdtemp(g_dir)) {
        perror("mkdtemp");
        return 1;
    }
    if (!server_start()) {
        printf("test_serve_nats: nats-server did not start\n");
        server_stop();
        return 1;
    }
    rc = check_run(__FILE__, tests, names, (int)(sizeof tests / sizeof tests[0]));
    server_stop();
    nats_CloseAndWait(2000);
    if (g_store[0])
        nftw(g_store, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    {
        DIR *d = opendir(g_dir);
        struct dirent *e;
        char p[512];
        while (d && (e = readdir(d)) != NULL)
            if (e->d_name[0] != '.') {
                path_of(p, sizeof p, e->d_name);
                remove(p);
            }
        if (d)
            closedir(d);
        rmdir(g_dir);
    }
    return rc;
}
