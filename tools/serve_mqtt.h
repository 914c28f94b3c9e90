/*
 * MQTT output of `aether serve` (libmosquitto), driven from the command's
 * poll loop: no thread of its own.
 *
 * Topics (BASE is --mqtt-base, "aether" by default; KEY a node's key, see
 * serve_node.key; MODEL a model's name):
 *   BASE/status                 "online" / "offline", retained; "offline" is
 *                               also the last will, so a crash shows too
 *   BASE/KEY/availability       "online" when the node appears, "offline"
 *                               when it is forgotten, retained
 *   BASE/KEY/MODEL              each decision, the JSON object of the
 *                               decision line, QoS --mqtt-qos (1), not retained
 *   BASE/stats                  the stats JSON object, QoS 0, every --stats S,
 *                               on SIGUSR1 and at exit
 *   HA/sensor/aether_KEY_MODEL/config
 *                               Home Assistant discovery (HA is
 *                               --ha-prefix, "homeassistant"), retained,
 *                               published when a node appears: one sensor per
 *                               node and model, state = the label, the decision
 *                               as attributes, available while both BASE/status
 *                               and BASE/KEY/availability say "online"
 * A node evicted to make room for another (a full table: a flood of node
 * ids) also has its retained discovery and availability cleared, so the
 * broker's retained set stays bounded; a node forgotten for idleness keeps
 * its sensor, shown unavailable. A node announced and then removed while the
 * broker is away has that clearing or "offline" sent at the next connection,
 * before the nodes then in the table are announced again.
 *
 * Delivery: a decision is handed to the client only while connected; then
 * QoS 1 delivers it at least once (after a reconnection the client resends
 * what was not acknowledged, the session being persistent). Decisions made
 * while the broker is away, or while more than --mqtt-max-pending are
 * unacknowledged, are not queued: they are counted as unpublished (by
 * reason) and lost to MQTT; the other outputs still get them. Counters:
 * offered = published + unpublished; acknowledged <= published; what is
 * published but not acknowledged at exit is reported as pending.
 */
#ifndef AETHER_TOOLS_SERVE_MQTT_H
#define AETHER_TOOLS_SERVE_MQTT_H

#include <signal.h>
#include <stddef.h>

#include "serve_core.h"
#include "textbuf.h"

typedef struct serve_mqtt_opts {
    const char *address;       /* HOST:PORT */
    const char *client_id;     /* NULL: "aether-serve-<hostname>" */
    const char *username;      /* NULL: $AETHER_MQTT_USERNAME, if set */
    const char *password_file; /* its first line; NULL: $AETHER_MQTT_PASSWORD, if set */
    const char *base;          /* topic base */
    const char *ha_prefix;     /* NULL: no Home Assistant discovery */
    int qos;                   /* decisions: 0, 1 or 2 */
    int keepalive;             /* seconds */
    size_t max_pending;        /* unacknowledged decisions before new ones are counted lost */
    const char *cafile, *capath, *certfile, *keyfile, *tls_version;
    int tls_insecure;
    /* optional: becomes non-zero when the command is asked to stop (a
     * signal); serve_mqtt_open then stops waiting for the broker's first
     * answer and returns 0 unconnected, so that the command ends as a stop
     * asked at any other time does */
    const volatile sig_atomic_t *stop;
} serve_mqtt_opts;

typedef struct serve_mqtt serve_mqtt;

/* 1 when this build has MQTT (libmosquitto). */
int serve_mqtt_available(void);

/* Connect (waiting up to 10 s for the broker's answer, or until *o->stop)
 * and publish "online". 0, or an exit status after a message: CLI_EXIT_USAGE for options that do
 * not parse or a broker host name that does not resolve, CLI_EXIT_IO for a
 * password file that cannot be read or a broker that cannot be reached or
 * refuses. */
int serve_mqtt_open(const serve_mqtt_opts *o, const serve_core *core, serve_mqtt **out);

void serve_mqtt_decision(serve_mqtt *q, const serve_decision *d, const char *json);
void serve_mqtt_node_added(serve_mqtt *q, const serve_core *core, const serve_node *n);
void serve_mqtt_node_removed(serve_mqtt *q, const serve_core *core, const serve_node *n,
                             const char *why);
void serve_mqtt_stats(serve_mqtt *q, const char *json);

/* The socket to poll and the events it waits for; -1 while disconnected. */
int serve_mqtt_poll_fd(serve_mqtt *q, short *events);
/* Network work after poll (revents of the socket, 0 if none) and timers:
 * keepalive, reconnection with back-off (0.5 s doubling to 30 s). */
void serve_mqtt_service(serve_mqtt *q, short revents, double now);

/* The counters as `,"mqtt":{...}`. */
void serve_mqtt_stats_json(const serve_mqtt *q, textbuf *t);

/* Wait up to timeout seconds for the broker to acknowledge what is pending
 * (before the final stats, so that they are final). */
void serve_mqtt_drain(serve_mqtt *q, double timeout);

/* Publish "offline", wait up to timeout seconds for it to be written, disconnect. */
void serve_mqtt_close(serve_mqtt *q, double timeout);

#endif
