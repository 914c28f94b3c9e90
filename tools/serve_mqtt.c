/* MQTT output of `aether serve` (serve_mqtt.h). */
#define _POSIX_C_SOURCE 200809L /* gethostname, poll */
#include "serve_mqtt.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands.h"

#if defined(AETHER_HAVE_MOSQUITTO)

#include <mosquitto.h>
#include <poll.h>
#include <time.h>
#include <unistd.h>

#include "aether/core.h"
#include "cli_util.h"

enum { UNPUB_DISCONNECTED = 0, UNPUB_BACKLOG, UNPUB_ERROR, UNPUB_COUNT };
static const char *const k_unpub_names[UNPUB_COUNT] = {"disconnected", "backlog", "error"};

#define BACKOFF_FIRST 0.5
#define BACKOFF_MAX 30.0

struct serve_mqtt {
    struct mosquitto *m;
    serve_mqtt_opts o;
    const serve_core *core;
    char host[256];
    int port;
    char client_id[128];
    char password[256];
    char status_topic[256], stats_topic[256];
    int connected, got_connack, connack_rc, announce;
    double next_try, backoff;
    uint64_t offered, published, acked, unpublished[UNPUB_COUNT];
    uint64_t messages_sent, messages_failed, connects, disconnects;
    uint64_t out_total, out_done; /* every message handed over / reported done by the client */
    unsigned char decision_mid[65536 / 8]; /* in-flight message ids that are decisions */
    /* Nodes removed while the broker was away, whose retained availability
     * ("online") and discovery the broker may still hold: their keys, and
     * whether each was evicted (cleared) or forgotten for idleness
     * ("offline"), sent at the next connection before the nodes there are
     * announced. announced[slot]: that node's "online" was handed to the
     * client. At most one entry per announced node: max_nodes. */
    unsigned char *announced;
    char (*gone)[sizeof(((serve_node *)0)->key)];
    unsigned char *gone_evicted;
    size_t n_gone;
    char topic[512];
    char payload[4096];
};

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int serve_mqtt_available(void)
{
    return 1;
}

static void mid_set(serve_mqtt *q, int mid, int on)
{
    unsigned i = (unsigned)mid & 0xFFFFu;
    if (on)
        q->decision_mid[i >> 3] |= (unsigned char)(1u << (i & 7u));
    else
        q->decision_mid[i >> 3] &= (unsigned char)~(1u << (i & 7u));
}

static int mid_is_decision(const serve_mqtt *q, int mid)
{
    unsigned i = (unsigned)mid & 0xFFFFu;
    return (q->decision_mid[i >> 3] >> (i & 7u)) & 1u;
}

static void on_connect(struct mosquitto *m, void *obj, int rc)
{
    serve_mqtt *q = (serve_mqtt *)obj;
    (void)m;
    q->got_connack = 1;
    q->connack_rc = rc;
    if (rc == 0) {
        q->connected = 1;
        q->connects++;
        q->backoff = BACKOFF_FIRST;
        q->announce = 1; /* status, availability and discovery again: the broker may
                            have restarted without its retained messages */
    }
}

static void on_disconnect(struct mosquitto *m, void *obj, int rc)
{
    serve_mqtt *q = (serve_mqtt *)obj;
    (void)m;
    (void)rc;
    if (q->connected)
        q->disconnects++;
    q->connected = 0;
}

static void on_publish(struct mosquitto *m, void *obj, int mid)
{
    serve_mqtt *q = (serve_mqtt *)obj;
    (void)m;
    q->out_done++;
    if (mid_is_decision(q, mid)) {
        mid_set(q, mid, 0);
        q->acked++;
    }
}

/* Lost connection: schedule the next attempt with back-off. */
static void went_down(serve_mqtt *q, double now)
{
    if (q->connected)
        q->disconnects++;
    q->connected = 0;
    if (q->next_try <= now) {
        q->next_try = now + q->backoff;
        q->backoff = q->backoff * 2.0 > BACKOFF_MAX ? BACKOFF_MAX : q->backoff * 2.0;
    }
}

/* A message that is not a decision (status, availability, discovery,
 * stats); 1 when it was handed to the client. */
static int send_message(serve_mqtt *q, const char *topic, const char *payload, int qos,
                        int retain)
{
    int rc;
    if (!q->connected) {
        q->messages_failed++;
        return 0;
    }
    rc = mosquitto_publish(q->m, NULL, topic, (int)strlen(payload), payload, qos, retain != 0);
    if (rc == MOSQ_ERR_SUCCESS) {
        q->messages_sent++;
        q->out_total++;
        return 1;
    }
    q->messages_failed++;
    return 0;
}

/* Topic level from a name: characters outside [A-Za-z0-9_-] become '_'. */
static void level(char *out, size_t cap, const char *name)
{
    size_t i;
    for (i = 0; name[i] && i + 1 < cap; ++i) {
        char c = name[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '_' || c == '-';
        out[i] = ok ? c : '_';
    }
    out[i] = '\0';
}

static void decision_topic(serve_mqtt *q, const serve_node *n, const serve_model *m)
{
    char mk[64];
    level(mk, sizeof mk, m->name);
    snprintf(q->topic, sizeof q->topic, "%s/%s/%s", q->o.base, n->key, mk);
}

static void publish_discovery(serve_mqtt *q, const serve_node *n, const serve_model *m, int clear)
{
    char mk[64], state[512];
    textbuf t;
    level(mk, sizeof mk, m->name);
    snprintf(state, sizeof state, "%s/%s/%s", q->o.base, n->key, mk);
    snprintf(q->topic, sizeof q->topic, "%s/sensor/aether_%s_%s/config", q->o.ha_prefix, n->key,
             mk);
    textbuf_init(&t, q->payload, sizeof q->payload);
    if (!clear) {
        textbuf_printf(&t, "{\"name\":");
        textbuf_json_string(&t, m->name);
        textbuf_printf(&t, ",\"unique_id\":\"aether_%s_%s\",\"state_topic\":", n->key, mk);
        textbuf_json_string(&t, state);
        textbuf_printf(&t, ",\"value_template\":\"{{ value_json.decision }}\","
                           "\"json_attributes_topic\":");
        textbuf_json_string(&t, state);
        textbuf_printf(&t, ",\"availability_mode\":\"all\",\"availability\":[{\"topic\":");
        textbuf_json_string(&t, q->status_topic);
        textbuf_printf(&t,
                       "},{\"topic\":\"%s/%s/availability\"}],\"icon\":\"mdi:motion-sensor\","
                       "\"device\":{\"identifiers\":[\"aether_%s\"],\"name\":",
                       q->o.base, n->key, n->key);
        {
            char name[128];
            snprintf(name, sizeof name, "CSI node %u (%s)", (unsigned)n->node_id, n->sender);
            textbuf_json_string(&t, name);
        }
        textbuf_printf(&t,
                       ",\"manufacturer\":\"aether\",\"model\":\"WiFi CSI sensing node\"},"
                       "\"origin\":{\"name\":\"aether\",\"sw\":\"%s\"}}",
                       aether_version());
        if (t.overflow) {
            q->messages_failed++;
            return;
        }
    }
    send_message(q, q->topic, q->payload, 1, 1);
}

/* 1 when the availability message was handed to the client. */
static int publish_node(serve_mqtt *q, const serve_node *n, const char *state, int clear)
{
    char topic[512];
    size_t k;
    int sent;
    snprintf(topic, sizeof topic, "%s/%s/availability", q->o.base, n->key);
    sent = send_message(q, topic, clear ? "" : state, 1, 1);
    if (q->o.ha_prefix)
        for (k = 0; k < q->core->n_models; ++k)
            if (clear || !strcmp(state, "online"))
                publish_discovery(q, n, &q->core->models[k], clear);
    return sent;
}

static size_t slot_of(const serve_mqtt *q, const serve_node *n)
{
    return (size_t)(n - q->core->nodes);
}

/* The removals the broker missed, oldest first; those that could not be
 * handed over stay for the next connection. */
static void send_gone(serve_mqtt *q)
{
    size_t i, kept = 0;
    serve_node n;
    memset(&n, 0, sizeof n);
    for (i = 0; i < q->n_gone; ++i) {
        memcpy(n.key, q->gone[i], sizeof n.key);
        if (!q->connected ||
            !publish_node(q, &n, q->gone_evicted[i] ? "" : "offline", q->gone_evicted[i])) {
            memmove(q->gone[kept], q->gone[i], sizeof q->gone[i]);
            q->gone_evicted[kept++] = q->gone_evicted[i];
        }
    }
    q->n_gone = kept;
}

static void announce_all(serve_mqtt *q)
{
    size_t i;
    q->announce = 0;
    send_message(q, q->status_topic, "online", 1, 1);
    send_gone(q); /* before the nodes: a key that came back ends "online" */
    for (i = 0; i < q->core->cfg.max_nodes; ++i)
        if (q->core->nodes[i].used)
            q->announced[i] = (unsigned char)publish_node(q, &q->core->nodes[i], "online", 0);
}

void serve_mqtt_decision(serve_mqtt *q, const serve_decision *d, const char *json)
{
    int mid = 0, rc;
    q->offered++;
    if (!q->connected) {
        q->unpublished[UNPUB_DISCONNECTED]++;
        return;
    }
    if (q->published - q->acked >= q->o.max_pending) {
        q->unpublished[UNPUB_BACKLOG]++;
        return;
    }
    decision_topic(q, d->node, d->model);
    rc = mosquitto_publish(q->m, &mid, q->topic, (int)strlen(json), json, q->o.qos, false);
    if (rc != MOSQ_ERR_SUCCESS) {
        q->unpublished[rc == MOSQ_ERR_NO_CONN || rc == MOSQ_ERR_CONN_LOST ? UNPUB_DISCONNECTED
                                                                          : UNPUB_ERROR]++;
        if (rc == MOSQ_ERR_NO_CONN || rc == MOSQ_ERR_CONN_LOST)
            went_down(q, mono_s());
        return;
    }
    q->published++;
    q->out_total++;
    if (q->o.qos == 0)
        q->acked++; /* nothing comes back for QoS 0: sent is all there is */
    else
        mid_set(q, mid, 1);
}

void serve_mqtt_node_added(serve_mqtt *q, const serve_core *core, const serve_node *n)
{
    (void)core;
    q->announced[slot_of(q, n)] = (unsigned char)publish_node(q, n, "online", 0);
}

void serve_mqtt_node_removed(serve_mqtt *q, const serve_core *core, const serve_node *n,
                             const char *why)
{
    size_t slot = slot_of(q, n);
    int evicted = !strcmp(why, "evicted");
    (void)core;
    /* evicted: availability and discovery cleared; idle: "offline" */
    if (!(q->connected && publish_node(q, n, evicted ? "" : "offline", evicted)) &&
        q->announced[slot]) {
        /* the broker still holds its "online": tell it at the next connection */
        if (q->n_gone < q->core->cfg.max_nodes) {
            memcpy(q->gone[q->n_gone], n->key, sizeof q->gone[0]);
            q->gone_evicted[q->n_gone++] = (unsigned char)evicted;
        } else {
            q->messages_failed++;
        }
    }
    q->announced[slot] = 0;
}

void serve_mqtt_stats(serve_mqtt *q, const char *json)
{
    send_message(q, q->stats_topic, json, 0, 0);
}

int serve_mqtt_poll_fd(serve_mqtt *q, short *events)
{
    int fd = mosquitto_socket(q->m);
    *events = 0;
    if (fd < 0)
        return -1;
    *events = POLLIN;
    if (mosquitto_want_write(q->m))
        *events |= POLLOUT;
    return fd;
}

void serve_mqtt_service(serve_mqtt *q, short revents, double now)
{
    int rc = MOSQ_ERR_SUCCESS;
    if (mosquitto_socket(q->m) >= 0) {
        if (revents & (POLLIN | POLLERR | POLLHUP))
            rc = mosquitto_loop_read(q->m, 64);
        if (rc == MOSQ_ERR_SUCCESS && ((revents & POLLOUT) || mosquitto_want_write(q->m)))
            rc = mosquitto_loop_write(q->m, 64);
        if (rc == MOSQ_ERR_SUCCESS)
            rc = mosquitto_loop_misc(q->m);
        if (rc != MOSQ_ERR_SUCCESS) {
            went_down(q, now);
            /* make sure the socket is closed so that the next attempt starts over */
            (void)mosquitto_disconnect(q->m);
        }
    } else if (q->connected) {
        went_down(q, now);
    }
    if (q->announce && q->connected)
        announce_all(q);
    if (!q->connected && mosquitto_socket(q->m) < 0 && now >= q->next_try) {
        q->next_try = now + q->backoff;
        q->backoff = q->backoff * 2.0 > BACKOFF_MAX ? BACKOFF_MAX : q->backoff * 2.0;
        (void)mosquitto_reconnect_async(q->m);
    }
}

void serve_mqtt_stats_json(const serve_mqtt *q, textbuf *t)
{
    size_t i;
    uint64_t unpub = 0;
    for (i = 0; i < UNPUB_COUNT; ++i)
        unpub += q->unpublished[i];
    textbuf_printf(t,
                   ",\"mqtt\":{\"connected\":%s,\"connects\":%llu,\"disconnects\":%llu,"
                   "\"offered\":%llu,\"published\":%llu,\"acknowledged\":%llu,\"pending\":%llu,"
                   "\"unpublished\":%llu,\"unpublished_by_reason\":{",
                   q->connected ? "true" : "false", (unsigned long long)q->connects,
                   (unsigned long long)q->disconnects, (unsigned long long)q->offered,
                   (unsigned long long)q->published, (unsigned long long)q->acked,
                   (unsigned long long)(q->published - q->acked), (unsigned long long)unpub);
    for (i = 0; i < UNPUB_COUNT; ++i)
        textbuf_printf(t, "%s\"%s\":%llu", i ? "," : "", k_unpub_names[i],
                       (unsigned long long)q->unpublished[i]);
    textbuf_printf(t, "},\"messages_sent\":%llu,\"messages_failed\":%llu}",
                   (unsigned long long)q->messages_sent, (unsigned long long)q->messages_failed);
}

static int parse_address(serve_mqtt *q)
{
    const char *a = q->o.address, *colon;
    unsigned long long port = 1883;
    size_t hl;
    if (a[0] == '[') {
        const char *close = strchr(a, ']');
        if (!close || (close[1] && close[1] != ':'))
            return 0;
        hl = (size_t)(close - a - 1);
        a++;
        colon = close[1] ? close + 1 : NULL;
    } else {
        colon = strrchr(a, ':');
        hl = colon ? (size_t)(colon - a) : strlen(a);
        if (memchr(a, ':', hl))
            return 0;
    }
    if (hl == 0 || hl >= sizeof q->host)
        return 0;
    memcpy(q->host, a, hl);
    q->host[hl] = '\0';
    if (colon && (!cli_parse_ull(colon + 1, 10, 65535, &port) || port == 0))
        return 0;
    q->port = (int)port;
    return 1;
}

static int configure(serve_mqtt *q)
{
    const char *user = q->o.username ? q->o.username : getenv("AETHER_MQTT_USERNAME");
    int have_pw = cli_read_secret("--mqtt-password-file", q->o.password_file,
                                  "AETHER_MQTT_PASSWORD", q->password, sizeof q->password),
        rc;
    if (have_pw < 0)
        return CLI_EXIT_IO;
    if (user || have_pw) {
        rc = mosquitto_username_pw_set(q->m, user ? user : "", have_pw ? q->password : NULL);
        if (rc != MOSQ_ERR_SUCCESS)
            goto bad;
    }
    if (q->o.cafile || q->o.capath || q->o.certfile) {
        /* the library answers "invalid arguments" for a file it cannot
         * read: name the file instead */
        const char *const files[3] = {q->o.cafile, q->o.certfile, q->o.keyfile};
        static const char *const opts[3] = {"--mqtt-cafile", "--mqtt-cert", "--mqtt-key"};
        if (!cli_files_readable(opts, files, 3))
            return CLI_EXIT_IO;
        rc = mosquitto_tls_set(q->m, q->o.cafile, q->o.capath, q->o.certfile, q->o.keyfile, NULL);
        if (rc != MOSQ_ERR_SUCCESS)
            goto bad;
        if (q->o.tls_version &&
            (rc = mosquitto_tls_opts_set(q->m, 1, q->o.tls_version, NULL)) != MOSQ_ERR_SUCCESS)
            goto bad;
        if (q->o.tls_insecure &&
            (rc = mosquitto_tls_insecure_set(q->m, true)) != MOSQ_ERR_SUCCESS)
            goto bad;
    }
    rc = mosquitto_will_set(q->m, q->status_topic, 7, "offline", 1, true);
    if (rc != MOSQ_ERR_SUCCESS)
        goto bad;
    return 0;
bad:
    fprintf(stderr, "aether serve: MQTT options: %s\n", mosquitto_strerror(rc));
    return CLI_EXIT_USAGE;
}

/* What to check when the connection fails before the broker answers: with
 * TLS the handshake may fail in connect or in the first reads (a
 * certificate the CA does not vouch for, another host name, a client
 * certificate the broker wants); without it, the port may be a TLS
 * listener. */
static const char *tls_hint(const serve_mqtt *q)
{
    return q->o.cafile || q->o.capath
               ? " (TLS: is the broker's certificate signed by --mqtt-cafile and issued for "
                 "this host, or does the broker want --mqtt-cert?)"
               : " (a TLS listener? then give --mqtt-cafile)";
}

static int stopping(const serve_mqtt *q)
{
    return q->o.stop && *q->o.stop;
}

/* Blocking connect, then wait for CONNACK (0 without it when asked to stop). */
static int first_connect(serve_mqtt *q)
{
    double end;
    int lrc = MOSQ_ERR_SUCCESS, rc = mosquitto_connect(q->m, q->host, q->port, q->o.keepalive);
    if (rc == MOSQ_ERR_EAI) {
        /* a host name that does not resolve is an address that does not
         * parse or resolve (exit 2, as for --udp and --packets-to), not a
         * broker that cannot be reached, and nothing to do with TLS */
        fprintf(stderr, "aether serve: --mqtt %s: cannot resolve %s\n", q->o.address, q->host);
        return CLI_EXIT_USAGE;
    }
    if (rc != MOSQ_ERR_SUCCESS) {
        fprintf(stderr, "aether serve: --mqtt %s: cannot connect: %s%s\n", q->o.address,
                rc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(rc),
                rc == MOSQ_ERR_ERRNO && errno == ECONNREFUSED ? "" : tls_hint(q));
        return CLI_EXIT_IO;
    }
    end = mono_s() + 10.0;
    while (!q->got_connack && mono_s() < end && !stopping(q)) {
        struct pollfd p;
        p.fd = mosquitto_socket(q->m);
        p.events = POLLIN | (mosquitto_want_write(q->m) ? POLLOUT : 0);
        p.revents = 0;
        if (p.fd < 0)
            break;
        if (poll(&p, 1, 100) < 0 && errno != EINTR)
            break;
        if ((p.revents & POLLOUT) && (lrc = mosquitto_loop_write(q->m, 1)) != MOSQ_ERR_SUCCESS)
            break;
        if ((p.revents & (POLLIN | POLLERR | POLLHUP)) &&
            (lrc = mosquitto_loop_read(q->m, 1)) != MOSQ_ERR_SUCCESS)
            break;
    }
    if (!q->got_connack && lrc == MOSQ_ERR_SUCCESS && stopping(q))
        return 0; /* unconnected: the command stops before it publishes anything */
    if (!q->got_connack && lrc != MOSQ_ERR_SUCCESS) {
        fprintf(stderr,
                "aether serve: --mqtt %s: the connection failed before the broker answered: "
                "%s%s\n",
                q->o.address, lrc == MOSQ_ERR_ERRNO ? strerror(errno) : mosquitto_strerror(lrc),
                tls_hint(q));
        return CLI_EXIT_IO;
    }
    if (!q->got_connack) {
        fprintf(stderr, "aether serve: --mqtt %s: no answer from the broker\n", q->o.address);
        return CLI_EXIT_IO;
    }
    if (q->connack_rc != 0) {
        fprintf(stderr, "aether serve: --mqtt %s: the broker refused the connection: %s\n",
                q->o.address, mosquitto_connack_string(q->connack_rc));
        return CLI_EXIT_IO;
    }
    announce_all(q);
    return 0;
}

/* q and its node tables. */
static void free_tables(serve_mqtt *q)
{
    free(q->announced);
    free(q->gone);
    free(q->gone_evicted);
    free(q);
}

int serve_mqtt_open(const serve_mqtt_opts *o, const serve_core *core, serve_mqtt **out)
{
    serve_mqtt *q;
    int rc;
    *out = NULL;
    q = (serve_mqtt *)calloc(1, sizeof *q);
    if (!q) {
        fprintf(stderr, "aether serve: out of memory\n");
        return CLI_EXIT_FAILED;
    }
    q->o = *o;
    q->core = core;
    q->backoff = BACKOFF_FIRST;
    if (!parse_address(q)) {
        fprintf(stderr, "aether serve: --mqtt %s: expected HOST[:PORT] or [IPV6][:PORT]\n",
                o->address);
        free(q);
        return CLI_EXIT_USAGE;
    }
    q->announced = (unsigned char *)calloc(core->cfg.max_nodes, 1);
    q->gone = (char(*)[sizeof q->gone[0]])calloc(core->cfg.max_nodes, sizeof q->gone[0]);
    q->gone_evicted = (unsigned char *)calloc(core->cfg.max_nodes, 1);
    if (!q->announced || !q->gone || !q->gone_evicted) {
        free_tables(q);
        fprintf(stderr, "aether serve: out of memory\n");
        return CLI_EXIT_FAILED;
    }
    if (o->client_id) {
        snprintf(q->client_id, sizeof q->client_id, "%s", o->client_id);
    } else {
        char host[64] = "host";
        (void)gethostname(host, sizeof host);
        host[sizeof host - 1] = '\0';
        snprintf(q->client_id, sizeof q->client_id, "aether-serve-%s", host);
    }
    snprintf(q->status_topic, sizeof q->status_topic, "%s/status", o->base);
    snprintf(q->stats_topic, sizeof q->stats_topic, "%s/stats", o->base);
    mosquitto_lib_init();
    q->m = mosquitto_new(q->client_id, false, q);
    if (!q->m) {
        fprintf(stderr, "aether serve: cannot create the MQTT client: %s\n", strerror(errno));
        mosquitto_lib_cleanup();
        free_tables(q);
        return CLI_EXIT_FAILED;
    }
    mosquitto_connect_callback_set(q->m, on_connect);
    mosquitto_disconnect_callback_set(q->m, on_disconnect);
    mosquitto_publish_callback_set(q->m, on_publish);
    /* the default window of 20 unacknowledged messages would hold a burst of
     * decisions (many nodes deciding in the same tick) in the client's queue */
    mosquitto_max_inflight_messages_set(q->m, 1000);
    rc = configure(q);
    if (rc == 0)
        rc = first_connect(q);
    if (rc != 0) {
        mosquitto_destroy(q->m);
        mosquitto_lib_cleanup();
        free_tables(q);
        return rc;
    }
    *out = q;
    return 0;
}

/* Service the connection until cond(q) is false or timeout seconds passed. */
static void service_while(serve_mqtt *q, double timeout, int (*cond)(const serve_mqtt *q))
{
    double end = mono_s() + timeout;
    while (q->connected && mono_s() < end && cond(q)) {
        struct pollfd p;
        short ev;
        p.fd = serve_mqtt_poll_fd(q, &ev);
        p.events = ev;
        p.revents = 0;
        if (p.fd < 0 || (poll(&p, 1, 20) < 0 && errno != EINTR))
            break;
        serve_mqtt_service(q, p.revents, mono_s());
    }
}

static int unacknowledged(const serve_mqtt *q)
{
    return q->out_total != q->out_done || mosquitto_want_write(q->m);
}

static int unwritten(const serve_mqtt *q)
{
    return mosquitto_want_write(q->m);
}

void serve_mqtt_drain(serve_mqtt *q, double timeout)
{
    if (q)
        service_while(q, timeout, unacknowledged);
}

void serve_mqtt_close(serve_mqtt *q, double timeout)
{
    if (!q)
        return;
    if (q->connected) {
        send_message(q, q->status_topic, "offline", 1, 1);
        service_while(q, timeout, unwritten);
        mosquitto_disconnect(q->m);
        (void)mosquitto_loop_write(q->m, 8);
    }
    mosquitto_destroy(q->m);
    mosquitto_lib_cleanup();
    free_tables(q);
}

#else /* no libmosquitto */

int serve_mqtt_available(void)
{
    return 0;
}

int serve_mqtt_open(const serve_mqtt_opts *o, const serve_core *core, serve_mqtt **out)
{
    (void)o;
    (void)core;
    *out = NULL;
    fprintf(stderr, "aether serve: --mqtt: this aether was built without MQTT (install "
                    "libmosquitto-dev and build again)\n");
    return CLI_EXIT_USAGE;
}

void serve_mqtt_decision(serve_mqtt *q, const serve_decision *d, const char *json)
{
    (void)q;
    (void)d;
    (void)json;
}

void serve_mqtt_node_added(serve_mqtt *q, const serve_core *core, const serve_node *n)
{
    (void)q;
    (void)core;
    (void)n;
}

void serve_mqtt_node_removed(serve_mqtt *q, const serve_core *core, const serve_node *n,
                             const char *why)
{
    (void)q;
    (void)core;
    (void)n;
    (void)why;
}

void serve_mqtt_stats(serve_mqtt *q, const char *json)
{
    (void)q;
    (void)json;
}

int serve_mqtt_poll_fd(serve_mqtt *q, short *events)
{
    (void)q;
    *events = 0;
    return -1;
}

void serve_mqtt_service(serve_mqtt *q, short revents, double now)
{
    (void)q;
    (void)revents;
    (void)now;
}

void serve_mqtt_stats_json(const serve_mqtt *q, textbuf *t)
{
    (void)q;
    (void)t;
}

void serve_mqtt_drain(serve_mqtt *q, double timeout)
{
    (void)q;
    (void)timeout;
}

void serve_mqtt_close(serve_mqtt *q, double timeout)
{
    (void)q;
    (void)timeout;
}

#endif
