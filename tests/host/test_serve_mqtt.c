/*
 * `aether serve` outputs against real components on loopback: a mosquitto
 * broker started by this test (its own configuration file, a free port, no
 * system service) and a subscriber of the test (libmosquitto), and UDP
 * packets to a socket of the test.
 *
 * - MQTT decisions: the shipped excerpt replayed through serve gives on
 *   BASE/NODE/MODEL exactly the decision lines of serve's standard output
 *   (payload equal to the line), BASE/status "online" then "offline"
 *   (retained), each node's availability, one Home Assistant discovery
 *   config per node and model whose topics are the ones decisions use, and
 *   the final stats on BASE/stats with offered = published = acknowledged.
 * - The broker stopped mid-stream and started again: serve keeps serving
 *   standard output, reconnects, counts what it could not publish
 *   (offered = published + unpublished, unpublished > 0), and decisions
 *   arrive again after the restart.
 * - A flood of node ids (--max-nodes 1, two senders taking turns) leaves
 *   the broker's retained discovery set bounded: evicted nodes' configs are
 *   cleared. A node evicted while the broker is away (one that keeps its
 *   retained messages over a restart) is cleared once serve reconnects.
 * - A password-protected broker: no credentials -> exit 3 "refused"; a
 *   password file -> served; a missing password file -> exit 3.
 * - SIGTERM while serve waits for the broker's first answer: exit 0 at
 *   once with a final stats line.
 * - An unreachable broker at start -> exit 3; MQTT options that do not
 *   parse, a broker host name that does not resolve -> exit 2.
 * - TLS (certificates made by the test with the openssl command): decisions
 *   published through the broker's TLS listener with --mqtt-cafile; no CA,
 *   another CA, a certificate for another host -> exit 3 (--mqtt-insecure
 *   then connects); a broker that requires client certificates refuses
 *   serve without --mqtt-cert / --mqtt-key and accepts it with them; TLS
 *   options without a CA, a certificate without its key -> exit 2; a CA
 *   file that does not exist -> exit 3 naming it.
 * - --packets-to: one 40-byte 0xC5110007 packet per decision, decoded, with
 *   the class and top logit of the decision line and seq 1, 2, ... per node.
 *
 * Every wait is bounded in time.
 */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <mosquitto.h>
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
#include <time.h>
#include <unistd.h>

#include "aether/packet.h"
#include "check.h"

#include "cli_run.h"
#include "serve_run.h"

#define EXCERPT AETHER_SOURCE_DIR "/data/esp32-raw-2node-excerpt.csi.jsonl"
#define GESTURE AETHER_SOURCE_DIR "/models/gesture.rvne"
#define MOTION AETHER_SOURCE_DIR "/models/motion.rvne"
#ifndef MOSQUITTO_BROKER
#define MOSQUITTO_BROKER ""
#endif
#ifndef MOSQUITTO_PASSWD
#define MOSQUITTO_PASSWD ""
#endif
#define MAX_MSGS 8192

/* ---------------- the broker ---------------- */

static pid_t g_broker = -1;
static unsigned g_broker_port;

/* Start mosquitto on g_broker_port (a new one when 0) with extra
 * configuration lines; 1 when it accepts connections within 10 s. */
static int broker_start(const char *extra)
{
    char conf[512], text[1024];
    const char *args[] = {"-c", conf, NULL};
    if (!g_broker_port)
        g_broker_port = free_tcp_port();
    /* run as root, mosquitto would switch to its own user, who cannot read
     * this test's private directory */
    snprintf(text, sizeof text,
             "listener %u 127.0.0.1\npersistence false\nlog_dest stderr\n%s%s\n", g_broker_port,
             geteuid() == 0 ? "user root\n" : "", extra ? extra : "allow_anonymous true");
    if (!write_bytes("broker.conf", text, strlen(text)))
        return 0;
    path_of(conf, sizeof conf, "broker.conf");
    g_broker = start_listener(MOSQUITTO_BROKER, args, "broker.txt", "broker_err.txt",
                              g_broker_port);
    return g_broker > 0;
}

static void broker_stop(void)
{
    stop_child(&g_broker);
}

/* ---------------- the subscriber ---------------- */

typedef struct msg {
    char *topic, *payload;
    int retained;
} msg;

typedef struct subscriber {
    struct mosquitto *m;
    pthread_mutex_t lock;
    msg msgs[MAX_MSGS];
    size_t n;
    int subscribed;
} subscriber;

static void sub_on_message(struct mosquitto *m, void *obj, const struct mosquitto_message *mm)
{
    subscriber *s = (subscriber *)obj;
    (void)m;
    pthread_mutex_lock(&s->lock);
    if (s->n < MAX_MSGS) {
        msg *x = &s->msgs[s->n++];
        x->topic = strdup(mm->topic);
        x->payload = (char *)calloc((size_t)mm->payloadlen + 1, 1);
        if (x->payload && mm->payloadlen)
            memcpy(x->payload, mm->payload, (size_t)mm->payloadlen);
        x->retained = mm->retain;
    }
    pthread_mutex_unlock(&s->lock);
}

static void sub_on_subscribe(struct mosquitto *m, void *obj, int mid, int n, const int *q)
{
    subscriber *s = (subscriber *)obj;
    (void)m;
    (void)mid;
    (void)n;
    (void)q;
    pthread_mutex_lock(&s->lock);
    s->subscribed = 1;
    pthread_mutex_unlock(&s->lock);
}

/* Subscribe to every topic; 1 when the broker confirmed within 10 s. */
static int sub_start(subscriber *s)
{
    double end = now_s() + 10.0;
    int ok = 0;
    memset(s, 0, sizeof *s);
    pthread_mutex_init(&s->lock, NULL);
    s->m = mosquitto_new(NULL, true, s);
    if (!s->m)
        return 0;
    mosquitto_message_callback_set(s->m, sub_on_message);
    mosquitto_subscribe_callback_set(s->m, sub_on_subscribe);
    if (mosquitto_connect(s->m, "127.0.0.1", (int)g_broker_port, 30) != MOSQ_ERR_SUCCESS ||
        mosquitto_subscribe(s->m, NULL, "#", 1) != MOSQ_ERR_SUCCESS ||
        mosquitto_loop_start(s->m) != MOSQ_ERR_SUCCESS)
        return 0;
    while (now_s() < end && !ok) {
        pthread_mutex_lock(&s->lock);
        ok = s->subscribed;
        pthread_mutex_unlock(&s->lock);
        if (!ok)
            nap_ms(10);
    }
    return ok;
}

static void sub_stop(subscriber *s)
{
    size_t i;
    if (s->m) {
        mosquitto_disconnect(s->m);
        mosquitto_loop_stop(s->m, true);
        mosquitto_destroy(s->m);
    }
    for (i = 0; i < s->n; ++i) {
        free(s->msgs[i].topic);
        free(s->msgs[i].payload);
    }
    pthread_mutex_destroy(&s->lock);
    s->m = NULL;
    s->n = 0;
}

/* Messages on topics starting with prefix (and, if payload_prefix, whose
 * payload starts with it). */
static size_t sub_count(subscriber *s, const char *prefix, const char *payload_prefix)
{
    size_t i, n = 0;
    pthread_mutex_lock(&s->lock);
    for (i = 0; i < s->n; ++i)
        if (!strncmp(s->msgs[i].topic, prefix, strlen(prefix)) &&
            (!payload_prefix ||
             !strncmp(s->msgs[i].payload, payload_prefix, strlen(payload_prefix))))
            n++;
    pthread_mutex_unlock(&s->lock);
    return n;
}

/* Wait until sub_count(prefix, payload_prefix) >= want, at most timeout s. */
static size_t sub_wait(subscriber *s, const char *prefix, const char *payload_prefix, size_t want,
                       double timeout)
{
    double end = now_s() + timeout;
    size_t n;
    while ((n = sub_count(s, prefix, payload_prefix)) < want && now_s() < end)
        nap_ms(10);
    return n;
}

/* The payload of the last message on exactly this topic (a copy), or NULL. */
static char *sub_last(subscriber *s, const char *topic)
{
    size_t i;
    char *p = NULL;
    pthread_mutex_lock(&s->lock);
    for (i = s->n; i-- > 0;)
        if (!strcmp(s->msgs[i].topic, topic)) {
            p = strdup(s->msgs[i].payload);
            break;
        }
    pthread_mutex_unlock(&s->lock);
    return p;
}

/* ---------------- running serve ---------------- */

static char g_port_arg[32];

static const char *broker_arg(void)
{
    snprintf(g_port_arg, sizeof g_port_arg, "127.0.0.1:%u", g_broker_port);
    return g_port_arg;
}

/* Replay the excerpt to port (at max rate); its exit status. */
static int replay_to(unsigned port, const char *rate, const char *extra1, const char *extra2)
{
    char to[64];
    const char *args[] = {"replay", EXCERPT, "--to", to, "--rate", rate, extra1, extra2, NULL};
    snprintf(to, sizeof to, "127.0.0.1:%u", port);
    return wait_child(spawn_program(g_cli, args, -1, "replay.txt", "replay_err.txt"), 60.0);
}

/* serve with args, fed the excerpt by replay at max rate until its --count;
 * its standard output (free() it), NULL if it did not start. */
static char *serve_replayed(const char *const *args)
{
    pid_t pid = spawn(args, "serve.txt", "serve_err.txt");
    unsigned port = wait_port("serve.txt", pid);
    CHECK(port > 0);
    if (!port) {
        wait_child(pid, 5.0);
        return NULL;
    }
    CHECK_EQ_INT(replay_to(port, "max", NULL, NULL), 0);
    CHECK_EQ_INT(wait_child(pid, 60.0), 0);
    return read_named("serve.txt");
}

/* The lines of text starting with {"type":"decision" as they are. */
static size_t decision_lines(const char *text, char **lines, size_t max)
{
    size_t n = 0;
    const char *p = text;
    while (p && *p && n < max) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        if (!strncmp(p, "{\"type\":\"decision\"", 18)) {
            lines[n] = (char *)malloc(len + 1);
            memcpy(lines[n], p, len);
            lines[n][len] = '\0';
            n++;
        }
        p += len + (nl ? 1 : 0);
    }
    return n;
}

static void test_mqtt_decisions(void)
{
    subscriber sub;
    unsigned long frames = count_frames(EXCERPT);
    char count[32], *out, *stats, *lines[512], *status;
    size_t n_lines, i, found = 0, n_cfg, n_avail;
    REQUIRE_PATH(EXCERPT);
    CHECK(frames > 0);
    CHECK(broker_start(NULL));
    CHECK(sub_start(&sub));
    snprintf(count, sizeof count, "%lu", frames);
    {
        const char *args[] = {"serve",      "--udp",       "127.0.0.1:0", "--model",
                              GESTURE,      "--model",     MOTION,        "--count",
                              count,        "--mqtt",      broker_arg(),  "--mqtt-id",
                              "test-serve", "--mqtt-base", "site/a",      NULL};
        out = serve_replayed(args);
    }
    stats = final_stats(out);
    n_lines = decision_lines(out, lines, 512);
    CHECK(n_lines > 0);
    /* every decision line arrived, unchanged, on its node's model topic */
    sub_wait(&sub, "site/a/stats", NULL, 1, 10.0);
    for (i = 0; i < n_lines; ++i) {
        char node[16], sender[64], model[64], topic[256], *c;
        size_t k;
        int hit = 0;
        CHECK(field(lines[i], "node", node, sizeof node));
        CHECK(field(lines[i], "sender", sender, sizeof sender));
        CHECK(field(lines[i], "model", model, sizeof model));
        /* without the quotes; NODE = id_sender with the non-word characters as '_' */
        sender[strlen(sender) - 1] = '\0';
        model[strlen(model) - 1] = '\0';
        for (c = sender + 1; *c; ++c)
            if (!((*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'z')))
                *c = '_';
        snprintf(topic, sizeof topic, "site/a/%s_%s/%s", node, sender + 1, model + 1);
        pthread_mutex_lock(&sub.lock);
        for (k = 0; k < sub.n && !hit; ++k)
            hit = !strcmp(sub.msgs[k].topic, topic) && !strcmp(sub.msgs[k].payload, lines[i]);
        pthread_mutex_unlock(&sub.lock);
        if (!hit)
            fprintf(stderr, "  not on %s: %.120s\n", topic, lines[i]);
        found += hit != 0;
    }
    CHECK_EQ_INT((int)found, (int)n_lines);
    printf("  %lu decision lines, %lu of them on MQTT with the same payload\n",
           (unsigned long)n_lines, (unsigned long)found);
    /* status: online then offline (retained) */
    CHECK(sub_count(&sub, "site/a/status", "online") >= 1);
    CHECK(sub_wait(&sub, "site/a/status", "offline", 1, 5.0) == 1);
    status = sub_last(&sub, "site/a/status");
    CHECK(status && !strcmp(status, "offline"));
    free(status);
    /* two nodes in the excerpt: two availabilities, 2 x 2 discovery configs */
    n_avail = sub_count(&sub, "site/a/", "online") - sub_count(&sub, "site/a/status", "online");
    n_cfg = sub_count(&sub, "homeassistant/sensor/aether_", "{\"name\":");
    CHECK_EQ_INT((int)n_avail, 2);
    CHECK_EQ_INT((int)n_cfg, 4);
    {
        size_t k;
        pthread_mutex_lock(&sub.lock);
        for (k = 0; k < sub.n; ++k)
            if (!strncmp(sub.msgs[k].topic, "homeassistant/sensor/aether_", 28)) {
                char st[256], uid[128], av[512];
                CHECK(field(sub.msgs[k].payload, "state_topic", st, sizeof st));
                CHECK(field(sub.msgs[k].payload, "unique_id", uid, sizeof uid));
                CHECK(field(sub.msgs[k].payload, "availability", av, sizeof av));
                CHECK(strstr(av, "\"site/a/status\"") != NULL);
                CHECK(strstr(sub.msgs[k].payload,
                             "\"value_template\":\"{{ value_json.decision }}\""));
                CHECK(strstr(sub.msgs[k].payload, "\"json_attributes_topic\":") != NULL);
                /* decisions go to the state topic */
                st[strlen(st) - 1] = '\0';
                {
                    size_t j;
                    int used = 0;
                    for (j = 0; j < sub.n && !used; ++j)
                        used = !strcmp(sub.msgs[j].topic, st + 1);
                    CHECK_MSG(used, "no decision on the state topic %s", st + 1);
                }
                CHECK(sub.msgs[k].topic[strlen(sub.msgs[k].topic) - 7] == '/');
            }
        pthread_mutex_unlock(&sub.lock);
    }
    /* final stats, also on MQTT: everything offered was acknowledged */
    CHECK(stats != NULL);
    {
        char mq[1024];
        CHECK(field(stats, "mqtt", mq, sizeof mq) || strstr(stats, "\"mqtt\":{"));
        CHECK_EQ_INT((int)counter(strstr(stats, "\"mqtt\""), "offered"), (int)n_lines);
        CHECK_EQ_INT((int)counter(strstr(stats, "\"mqtt\""), "published"), (int)n_lines);
        CHECK_EQ_INT((int)counter(strstr(stats, "\"mqtt\""), "acknowledged"), (int)n_lines);
        CHECK_EQ_INT((int)counter(strstr(stats, "\"mqtt\""), "unpublished"), 0);
    }
    {
        char *ms = sub_last(&sub, "site/a/stats");
        CHECK(ms && strstr(ms, "\"final\":true"));
        free(ms);
    }
    for (i = 0; i < n_lines; ++i)
        free(lines[i]);
    free(stats);
    free(out);
    sub_stop(&sub);
    broker_stop();
}

static void test_broker_restart(void)
{
    subscriber sub;
    char *out, *stats, *mq;
    unsigned port;
    pid_t pid, rp;
    long long offered, published, unpublished, acked, pending, decisions;
    REQUIRE_PATH(EXCERPT);
    CHECK(broker_start(NULL));
    {
        const char *args[] = {"serve",   "--udp",  "127.0.0.1:0", "--model",   GESTURE,
                              "--every", "4",      "--duration",  "7",         "--stats",
                              "0.5",     "--mqtt", broker_arg(),  "--mqtt-id", "test-restart",
                              NULL};
        pid = spawn(args, "serve.txt", "serve_err.txt");
    }
    port = wait_port("serve.txt", pid);
    CHECK(port > 0);
    {
        /* about 6 s of frames at 4x the recorded pace, looped */
        char to[64];
        const char *args[] = {"replay", EXCERPT,  "--to",    to,       "--rate",
                              "4",      "--loop", "--count", "100000", NULL};
        snprintf(to, sizeof to, "127.0.0.1:%u", port);
        rp = spawn_program(g_cli, args, -1, "replay.txt", "replay_err.txt");
    }
    nap_ms(1500);
    broker_stop(); /* mid-stream */
    nap_ms(1500);
    CHECK(broker_start(NULL));
    CHECK(sub_start(&sub));
    /* decisions flow again after the reconnection (back-off: at most 4 s here) */
    CHECK(sub_wait(&sub, "site", NULL, 0, 0) == 0);
    CHECK(sub_wait(&sub, "aether/", "{\"type\":\"decision\"", 3, 8.0) >= 3);
    CHECK_EQ_INT(wait_child(pid, 30.0), 0);
    kill(rp, SIGTERM);
    wait_child(rp, 10.0);
    out = read_named("serve.txt");
    stats = final_stats(out);
    CHECK(stats != NULL);
    mq = stats ? strstr(stats, "\"mqtt\"") : NULL;
    CHECK(mq != NULL);
    offered = counter(mq, "offered");
    published = counter(mq, "published");
    unpublished = counter(mq, "unpublished");
    acked = counter(mq, "acknowledged");
    pending = counter(mq, "pending");
    decisions = counter(stats, "gesture");
    printf("  broker away ~1.5 s: offered %lld = published %lld + unpublished %lld; "
           "acknowledged %lld, pending %lld; connects %lld, disconnects %lld\n",
           offered, published, unpublished, acked, pending, counter(mq, "connects"),
           counter(mq, "disconnects"));
    CHECK(offered > 0);
    CHECK_EQ_INT((int)offered, (int)decisions);
    CHECK_EQ_INT((int)(published + unpublished), (int)offered);
    CHECK(unpublished > 0);
    CHECK_EQ_INT((int)(acked + pending), (int)published);
    CHECK(counter(mq, "connects") >= 2);
    CHECK(counter(mq, "disconnects") >= 1);
    CHECK_EQ_INT((int)counter(stats, "dropped"), 0);
    /* standard output kept every decision while the broker was away */
    {
        size_t n = 0;
        char *k = decision_keys(out, "gesture", &n);
        CHECK_EQ_INT((int)n, (int)decisions);
        free(k);
    }
    free(stats);
    free(out);
    sub_stop(&sub);
    broker_stop();
}

static void test_retained_bounded(void)
{
    subscriber sub;
    unsigned port;
    pid_t pid;
    int a, b, i;
    unsigned char frame[512];
    size_t len;
    CHECK(broker_start(NULL));
    {
        const char *args[] = {"serve",       "--udp",     "127.0.0.1:0", "--model", MOTION,
                              "--max-nodes", "1",         "--count",     "40",      "--mqtt",
                              broker_arg(),  "--mqtt-id", "test-flood",  NULL};
        pid = spawn(args, "serve.txt", "serve_err.txt");
    }
    port = wait_port("serve.txt", pid);
    CHECK(port > 0);
    a = test_socket(NULL);
    b = test_socket(NULL);
    for (i = 0; i < 40; ++i) {
        /* node 5 from two ports taking turns: every datagram evicts the other */
        len = make_frame(frame, sizeof frame, 5, (uint32_t)i, 0);
        CHECK(send_to(i % 2 ? b : a, port, frame, len));
        nap_ms(2);
    }
    CHECK_EQ_INT(wait_child(pid, 30.0), 0);
    close(a);
    close(b);
    /* a new subscriber sees the retained messages only */
    CHECK(sub_start(&sub));
    nap_ms(500);
    CHECK_EQ_INT((int)sub_count(&sub, "homeassistant/", NULL), 1);
    CHECK_EQ_INT((int)sub_count(&sub, "aether/", "online") +
                     (int)sub_count(&sub, "aether/", "offline"),
                 2); /* the last node's availability, the service status */
    printf("  40 evictions: %lu retained discovery config(s) left\n",
           (unsigned long)sub_count(&sub, "homeassistant/", NULL));
    sub_stop(&sub);
    broker_stop();
}

/* The last counter "key" of serve's stats lines in g_dir/serve.txt (the
 * mqtt object's, for MQTT keys); -1 if none yet. */
static long long last_counter(const char *key)
{
    char *s = read_named("serve.txt");
    const char *p, *last = NULL;
    long long v;
    for (p = s; p && (p = strstr(p, "{\"type\":\"stats\"")) != NULL; ++p)
        last = p;
    v = last ? counter(last, key) : -1;
    free(s);
    return v;
}

/* Wait (10 s at most) until last_counter(key) >= want. */
static int wait_counter(const char *key, long long want)
{
    double end = now_s() + 10.0;
    while (now_s() < end) {
        if (last_counter(key) >= want)
            return 1;
        nap_ms(20);
    }
    return 0;
}

/* Nodes removed while the broker is away: a broker that keeps its retained
 * messages (persistence) and comes back must not go on announcing them.
 * Node 5 from port A is announced (availability "online", discovery
 * config); the broker stops; node 5 from port B evicts it (--max-nodes 1);
 * the broker starts again with its saved retained set. Once serve has
 * reconnected, a new subscriber sees B's availability and config and
 * nothing of A's (its retained "online" and config were cleared on the
 * reconnection). */
static void test_removed_while_away(void)
{
    subscriber sub;
    char conf[700], topic_a[160], topic_b[160], *av;
    unsigned port, pa = 0, pb = 0;
    pid_t pid;
    int a = test_socket(&pa), b = test_socket(&pb);
    unsigned char frame[512];
    size_t len;
    snprintf(conf, sizeof conf,
             "allow_anonymous true\npersistence true\npersistence_location %s/", g_dir);
    CHECK(a >= 0 && b >= 0);
    CHECK(broker_start(conf));
    {
        const char *args[] = {"serve",      "--udp",       "127.0.0.1:0", "--model",
                              MOTION,       "--max-nodes", "1",           "--duration",
                              "12",         "--stats",     "0.1",         "--mqtt",
                              broker_arg(), "--mqtt-id",   "test-away",   NULL};
        pid = spawn(args, "serve.txt", "serve_err.txt");
    }
    port = wait_port("serve.txt", pid);
    CHECK(port > 0);
    len = make_frame(frame, sizeof frame, 5, 0, 0);
    CHECK(send_to(a, port, frame, len));
    /* status, A's availability and config: on the broker */
    CHECK(wait_counter("messages_sent", 3));
    CHECK(sub_start(&sub));
    CHECK(sub_wait(&sub, "homeassistant/", NULL, 1, 5.0) == 1);
    sub_stop(&sub);
    broker_stop(); /* saves the retained set */
    CHECK(wait_counter("disconnects", 1));
    len = make_frame(frame, sizeof frame, 5, 1, 0);
    CHECK(send_to(b, port, frame, len)); /* evicts A while the broker is away */
    CHECK(wait_counter("evicted", 1));
    CHECK(broker_start(conf));
    CHECK(wait_counter("connects", 2));
    nap_ms(500); /* what the reconnection sends */
    CHECK(sub_start(&sub));
    nap_ms(500);
    snprintf(topic_a, sizeof topic_a, "aether/5_127_0_0_1_%u/", pa);
    snprintf(topic_b, sizeof topic_b, "aether/5_127_0_0_1_%u/availability", pb);
    CHECK_MSG(sub_count(&sub, topic_a, NULL) == 0,
              "the node evicted while the broker was away is still retained (%lu messages)",
              (unsigned long)sub_count(&sub, topic_a, NULL));
    CHECK_EQ_INT((int)sub_count(&sub, "homeassistant/", NULL), 1);
    av = sub_last(&sub, topic_b);
    CHECK(av && !strcmp(av, "online"));
    printf("  evicted while the broker was away: %lu retained message(s) of it after the "
           "reconnection, %lu discovery config(s)\n",
           (unsigned long)sub_count(&sub, topic_a, NULL),
           (unsigned long)sub_count(&sub, "homeassistant/", NULL));
    free(av);
    sub_stop(&sub);
    kill(pid, SIGTERM);
    CHECK_EQ_INT(wait_child(pid, 20.0), 0);
    broker_stop();
    close(a);
    close(b);
}

/* A stop (SIGTERM) while serve waits for a broker's first answer: a TCP
 * listener of the test that never accepts, so that the connection is made
 * and no CONNACK comes. serve ends at once like any stopped serve (exit 0,
 * a final stats line with the broker not connected), not after the 10 s
 * wait with exit 3. */
static void test_stop_while_connecting(void)
{
    struct sockaddr_in a;
    socklen_t al = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM, 0), rc;
    char addr[32], *out, *stats;
    unsigned port;
    double t0, dt;
    pid_t pid;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK(fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 && listen(fd, 4) == 0 &&
          getsockname(fd, (struct sockaddr *)&a, &al) == 0);
    snprintf(addr, sizeof addr, "127.0.0.1:%u", (unsigned)ntohs(a.sin_port));
    {
        const char *args[] = {"serve",  "--udp", "127.0.0.1:0", "--model", MOTION,
                              "--mqtt", addr,    "--duration",  "30",      NULL};
        pid = spawn(args, "serve.txt", "serve_err.txt");
    }
    port = wait_port("serve.txt", pid); /* the sockets are open before the broker */
    CHECK(port > 0);
    nap_ms(300);
    t0 = now_s();
    kill(pid, SIGTERM);
    rc = wait_child(pid, 20.0);
    dt = now_s() - t0;
    CHECK_EQ_INT(rc, 0);
    CHECK_MSG(dt < 5.0, "%.1f s from SIGTERM to the exit", dt);
    out = read_named("serve.txt");
    stats = final_stats(out);
    CHECK_MSG(stats && strstr(stats, "\"mqtt\":{\"connected\":false"),
              "no final stats line with the broker unconnected");
    printf("  SIGTERM while waiting for the broker's answer: exit %d after %.2f s\n", rc, dt);
    free(stats);
    free(out);
    if (fd >= 0)
        close(fd);
}

/* serve for 0.3 s as user "sensor" with a password file: exit want, phrase. */
static void serve_with_password(const char *file, int want, const char *phrase)
{
    const char *a[] = {"serve",      "--udp",       "127.0.0.1:0", "--model",
                       MOTION,       "--duration",  "0.3",         "--mqtt",
                       broker_arg(), "--mqtt-user", "sensor",      "--mqtt-password-file",
                       file,         NULL};
    expect(a, want, phrase);
}

static void test_password(void)
{
    char pw[512], conf[1024];
    const char *pargs[] = {"-b", "-c", pw, "sensor", "s3cret", NULL};
    if (!MOSQUITTO_PASSWD[0]) {
        check_note_missing("mosquitto_passwd");
        return;
    }
    path_of(pw, sizeof pw, "passwd");
    CHECK_EQ_INT(wait_child(spawn_program(MOSQUITTO_PASSWD, pargs, -1, "pw.txt", "pw_err.txt"),
                            20.0),
                 0);
    CHECK(write_bytes("secret.txt", "s3cret\n", 7));
    CHECK(write_bytes("wrong.txt", "nope\n", 5));
    snprintf(conf, sizeof conf, "allow_anonymous false\npassword_file %s", pw);
    CHECK(broker_start(conf));
    {
        const char *a[] = {"serve",      "--udp", "127.0.0.1:0", "--model",    MOTION,
                           "--duration", "0.3",   "--mqtt",      broker_arg(), NULL};
        expect(a, 3, "refused");
    }
    serve_with_password("wrong.txt", 3, "refused");
    serve_with_password("secret.txt", 0, "\"connected\":true");
    serve_with_password("missing.txt", 3, "missing.txt");
    broker_stop();
}

static void test_mqtt_errors(void)
{
    char nobody[32];
    snprintf(nobody, sizeof nobody, "127.0.0.1:%u", free_tcp_port());
    {
        const char *a[] = {"serve", "--udp",  "127.0.0.1:0", "--model",
                           MOTION,  "--mqtt", nobody,        NULL};
        expect(a, 3, "cannot connect");
    }
    {
        const char *a[] = {"serve",  "--udp", "127.0.0.1:0", "--model", MOTION,
                           "--mqtt", nobody,  "--mqtt-qos",  "3",       NULL};
        expect(a, 2, "--mqtt-qos");
    }
    {
        const char *a[] = {"serve",  "--udp", "127.0.0.1:0", "--model", MOTION,
                           "--mqtt", nobody,  "--mqtt-base", "a/#",     NULL};
        expect(a, 2, "--mqtt-base");
    }
    {
        const char *a[] = {"serve", "--udp",       "127.0.0.1:0", "--model",
                           MOTION,  "--mqtt-base", "x",           NULL};
        expect(a, 2, "need --mqtt");
    }
    {
        const char *a[] = {"serve", "--udp",  "127.0.0.1:0",     "--model",
                           MOTION,  "--mqtt", "127.0.0.1:99999", NULL};
        expect(a, 2, "HOST[:PORT]");
    }
    {
        /* a host name that does not resolve (.invalid never does): exit 2
         * naming it, as --udp and --packets-to do, without the TLS hint of a
         * connection that fails */
        const char *a[] = {"serve", "--udp",  "127.0.0.1:0",         "--model",
                           MOTION,  "--mqtt", "nosuch.invalid:1883", NULL};
        char *out = NULL, *err = NULL;
        expect(a, 2, "cannot resolve nosuch.invalid");
        run_cli(a, &out, &err);
        CHECK_MSG(err && !strstr(err, "TLS"), "a TLS hint for a name that does not resolve: %s",
                  err ? err : "");
        free(out);
        free(err);
    }
}

/* ---------------- TLS ---------------- */

static unsigned g_tls_port;
static char g_tls_arg[32];

/* The broker with its plain listener (the test's subscriber) and a TLS
 * listener on g_tls_port presenting server cert `server`, requiring client
 * certificates when require_client. */
static int tls_broker_start(const char *server, int require_client)
{
    char conf[2048], ca[512], pem[512], key[512];
    path_of(ca, sizeof ca, "ca.pem");
    path_of(pem, sizeof pem, server);
    strcat(pem, ".pem");
    path_of(key, sizeof key, server);
    strcat(key, ".key");
    if (!g_tls_port)
        g_tls_port = free_tcp_port();
    snprintf(g_tls_arg, sizeof g_tls_arg, "127.0.0.1:%u", g_tls_port);
    snprintf(conf, sizeof conf,
             "allow_anonymous true\nlistener %u 127.0.0.1\ncafile %s\ncertfile %s\nkeyfile %s\n"
             "require_certificate %s",
             g_tls_port, ca, pem, key, require_client ? "true" : "false");
    if (!broker_start(conf))
        return 0;
    {
        double end = now_s() + 10.0;
        while (!tcp_accepts(g_tls_port) && now_s() < end)
            nap_ms(20);
    }
    return tcp_accepts(g_tls_port);
}

/* serve for 0.3 s against the TLS listener with up to four extra args. */
static void serve_tls(const char *e1, const char *e2, const char *e3, const char *e4, int want,
                      const char *phrase)
{
    const char *a[] = {"serve",  "--udp",    "127.0.0.1:0", "--model", MOTION, "--duration",
                       "0.3",    "--mqtt",   g_tls_arg,     e1,        e2,     e3,
                       e4,       NULL};
    expect(a, want, phrase);
}

static void test_mqtt_tls(void)
{
    char missing[512], count[32];
    test_pki k;
    unsigned long frames = count_frames(EXCERPT);
    subscriber sub;
    if (!have_openssl()) {
        check_note_missing("openssl");
        return;
    }
    REQUIRE_PATH(EXCERPT);
    CHECK(make_test_pki(&k));
    path_of(missing, sizeof missing, "no-such-ca.pem");

    /* decisions through TLS reach a subscriber of the plain listener */
    CHECK(tls_broker_start("server", 0));
    CHECK(sub_start(&sub));
    snprintf(count, sizeof count, "%lu", frames);
    {
        const char *args[] = {"serve",   "--udp",  "127.0.0.1:0", "--model",       MOTION,
                              "--count", count,    "--mqtt",      g_tls_arg,       "--mqtt-base",
                              "tls",     "--mqtt-cafile", k.ca,     NULL};
        char *out = serve_replayed(args), *lines[512];
        size_t n_lines = decision_lines(out, lines, 512);
        CHECK(n_lines > 0);
        CHECK_EQ_INT((int)sub_wait(&sub, "tls/", "{\"type\":\"decision\"", n_lines, 10.0),
                     (int)n_lines);
        {
            char *stats = final_stats(out);
            CHECK(stats && strstr(stats, "\"connected\":true"));
            CHECK_EQ_INT((int)counter(stats, "unpublished"), 0);
            free(stats);
        }
        printf("  %lu decisions through TLS\n", (unsigned long)n_lines);
        while (n_lines)
            free(lines[--n_lines]);
        free(out);
    }
    sub_stop(&sub);
    serve_tls(NULL, NULL, NULL, NULL, 3, "give --mqtt-cafile"); /* plain MQTT to TLS */
    serve_tls("--mqtt-cafile", k.other, NULL, NULL, 3, "signed by --mqtt-cafile");
    serve_tls("--mqtt-cafile", missing, NULL, NULL, 3, "no-such-ca.pem");
    serve_tls("--mqtt-insecure", NULL, NULL, NULL, 2, "need --mqtt-cafile");
    serve_tls("--mqtt-cafile", k.ca, "--mqtt-cert", k.client, 2, "--mqtt-key");
    broker_stop();

    /* a certificate for another host: refused unless --mqtt-insecure */
    CHECK(tls_broker_start("elsewhere", 0));
    serve_tls("--mqtt-cafile", k.ca, NULL, NULL, 3, "issued for this host");
    serve_tls("--mqtt-cafile", k.ca, "--mqtt-insecure", NULL, 0, "\"connected\":true");
    broker_stop();

    /* client certificates required */
    CHECK(tls_broker_start("server", 1));
    serve_tls("--mqtt-cafile", k.ca, NULL, NULL, 3, "want --mqtt-cert?");
    {
        const char *a[] = {"serve",       "--udp",  "127.0.0.1:0", "--model",    MOTION,
                           "--duration",  "0.3",    "--mqtt",      g_tls_arg,    "--mqtt-cafile",
                           k.ca,            "--mqtt-cert", k.client,   "--mqtt-key", k.client_key,
                           NULL};
        expect(a, 0, "\"connected\":true");
    }
    broker_stop();
}

static void test_packets(void)
{
    unsigned long frames = count_frames(EXCERPT);
    char count[32], dest[64], *out, *lines[512];
    unsigned rport = 0;
    int rfd;
    size_t n_lines, got = 0, i;
    uint32_t next_seq[256];
    unsigned char b[64];
    REQUIRE_PATH(EXCERPT);
    rfd = test_socket(&rport);
    CHECK(rfd >= 0);
    fcntl(rfd, F_SETFL, O_NONBLOCK);
    snprintf(count, sizeof count, "%lu", frames);
    snprintf(dest, sizeof dest, "gesture=127.0.0.1:%u", rport);
    {
        const char *args[] = {"serve", "--udp",        "127.0.0.1:0", "--model",
                              GESTURE, "--model",      MOTION,        "--count",
                              count,   "--packets-to", dest,          NULL};
        out = serve_replayed(args);
    }
    n_lines = decision_lines(out, lines, 512);
    memset(next_seq, 0, sizeof next_seq);
    for (i = 0; i < n_lines; ++i) {
        char model[64], node[16], cls[16];
        aether_class_packet pk;
        ssize_t k;
        CHECK(field(lines[i], "model", model, sizeof model));
        if (strcmp(model, "\"gesture\""))
            continue; /* only gesture goes to this destination */
        k = recv(rfd, b, sizeof b, 0);
        CHECK_EQ_INT((int)k, (int)AETHER_PACKET_LEN);
        if (k != (ssize_t)AETHER_PACKET_LEN)
            break;
        CHECK_EQ_INT((int)aether_packet_decode(b, (size_t)k, &pk), AETHER_OK);
        CHECK(field(lines[i], "node", node, sizeof node));
        CHECK(field(lines[i], "class", cls, sizeof cls));
        CHECK_EQ_INT(pk.node_id, atoi(node));
        CHECK_EQ_INT(pk.argmax, atoi(cls));
        CHECK_EQ_INT(pk.n_classes, 3);
        CHECK_EQ_INT((int)pk.seq, (int)++next_seq[pk.node_id]);
        got++;
    }
    CHECK(recv(rfd, b, sizeof b, 0) < 0); /* nothing more: motion's went nowhere */
    CHECK(got > 0);
    printf("  %lu gesture packets, one per gesture decision, seq 1.. per node\n",
           (unsigned long)got);
    {
        char *stats = final_stats(out);
        CHECK_EQ_INT((int)counter(strstr(stats ? stats : "", "\"packets\""), "sent"), (int)got);
        free(stats);
    }
    {
        const char *a[] = {"serve", "--udp",        "127.0.0.1:0",        "--model",
                           MOTION,  "--packets-to", "nosuch=127.0.0.1:9", NULL};
        expect(a, 2, "no model of that name");
    }
    for (i = 0; i < n_lines; ++i)
        free(lines[i]);
    free(out);
    close(rfd);
}

int main(int argc, char **argv)
{
    static const check_test_fn tests[] = {test_mqtt_decisions,
                                          test_broker_restart,
                                          test_retained_bounded,
                                          test_removed_while_away,
                                          test_stop_while_connecting,
                                          test_password,
                                          test_mqtt_errors,
                                          test_packets,
                                          test_mqtt_tls};
    static const char *const names[] = {"test_mqtt_decisions",
                                        "test_broker_restart",
                                        "test_retained_bounded",
                                        "test_removed_while_away",
                                        "test_stop_while_connecting",
                                        "test_password",
                                        "test_mqtt_errors",
                                        "test_packets",
                                        "test_mqtt_tls"};
    const char *tmp = getenv("TMPDIR");
    int rc;
    g_cli = argc > 1 ? argv[1] : AETHER_CLI_PATH;
    if (!g_cli || !g_cli[0] || access(g_cli, X_OK) != 0) {
        printf("test_serve_mqtt: no CLI (pass its path as argv[1])\n");
        return 1;
    }
    if (!MOSQUITTO_BROKER[0] || access(MOSQUITTO_BROKER, X_OK) != 0) {
        printf("test_serve_mqtt: no mosquitto broker (Debian package mosquitto); skipped\n");
        return CHECK_SKIP_STATUS;
    }
    signal(SIGPIPE, SIG_IGN);
    mosquitto_lib_init();
    snprintf(g_dir, sizeof g_dir, "%s/aether_serve_mqtt_XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
    if (!mkdtemp(g_dir)) {
        perror("mkdtemp");
        return 1;
    }
    rc = check_run(__FILE__, tests, names, (int)(sizeof tests / sizeof tests[0]));
    broker_stop();
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
    mosquitto_lib_cleanup();
    return rc;
}
