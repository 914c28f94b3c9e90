/*
 * NATS of `aether serve` (libnats, the NATS C client), in two roles:
 *
 * Gateway (--nats URL --forward): every datagram received on the UDP
 * sockets is published unchanged to aether.csi.SITE.NODE, where SITE is
 * --site (default "local") and NODE the node's key as serve names it
 * (serve_node.key: "<id>_<sender>" with every character outside
 * [A-Za-z0-9_-] as '_'); the sender's address travels in the message header
 * Aether-Sender ("127.0.0.1:40000"). A datagram that is not an ADR-018 frame
 * is published too, as node "u_<sender>" (a worker counts it as serve
 * does: ignored by magic for another packet of the ADR-018 family, else
 * malformed by reason).
 * The gateway makes no decisions.
 *
 * Worker (--nats URL --partitions LIST): subscribes to
 * aether.part.N.*.* for each N of LIST (the server's mapping, deploy/nats/,
 * turns aether.csi.SITE.NODE into aether.part.P.SITE.NODE), and hands each
 * message to serve_core as a datagram from the Aether-Sender address (a
 * message without one: from [::]:0), so that a node has the same identity as
 * on a single-host serve. Decisions are published to
 * aether.decision.SITE.NODE.MODEL (the decision's JSON line), besides the
 * other outputs.
 *
 * Threads: the client library reads the socket and runs the subscription
 * callbacks in threads of its own. The callback only queues the message
 * (a bounded ring; a full ring drops and counts) and writes a byte to a pipe
 * whose read end is in the poll loop; serve_core is only ever called from
 * the loop's thread.
 *
 * Leases (--lease S): a worker owns a partition while it holds the key
 * partition.N of the JetStream key-value bucket aether_leases (memory
 * storage, entries expire S seconds after their last write). It claims its
 * --partitions at start (a create: refused while another worker holds the
 * key), renews what it owns every S/3 seconds (an update conditional on its
 * last revision: a refusal means another worker took the lapsed lease, and
 * the partition is dropped), retries what it was refused, and with
 * --takeover also claims any partition below --partition-count whose lease
 * has lapsed (after S seconds of its own, so that every worker claims its own
 * list first). Subscriptions follow what is owned. A worker that stops
 * deletes its keys, so that they move at once; one that dies loses them
 * within S seconds, and another takes them over within S + S/3. The
 * key-value calls are requests to the server made from the loop (at most
 * 0.5 s each; a turn stops at the first one without an answer). A restarted
 * server has lost the bucket (memory storage): it is made again and the
 * worker claims its partitions afresh.
 *
 * Delivery is core NATS: at most once. Messages published while the worker
 * is away, or beyond the server's or the ring's limits, are lost (counted by
 * the side that sees them: the gateway's failed, the worker's dropped).
 */
#ifndef AETHER_TOOLS_SERVE_NATS_H
#define AETHER_TOOLS_SERVE_NATS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "serve_core.h"
#include "textbuf.h"

#define SERVE_NATS_MAX_PARTITIONS 1024u

typedef struct serve_nats_opts {
    const char *url;  /* nats://HOST:PORT or tls://HOST:PORT */
    /* TLS (any of them, or a tls:// URL, turns it on) */
    const char *cafile, *certfile, *keyfile;
    int insecure; /* no server verification */
    /* authentication: user (NULL: $AETHER_NATS_USERNAME) and the first line
     * of password_file (NULL: $AETHER_NATS_PASSWORD), or the first line of
     * token_file (NULL: $AETHER_NATS_TOKEN) */
    const char *user, *password_file, *token_file;
    const char *site; /* gateway: the SITE token */
    int forward;      /* gateway */
    /* worker: partitions[p] != 0 for each partition taken */
    unsigned char partitions[SERVE_NATS_MAX_PARTITIONS];
    size_t n_partitions;
    double lease_ttl;       /* seconds; 0: no leases, the partitions are taken as given */
    int takeover;           /* leases: claim lapsed partitions below partition_count too */
    size_t partition_count; /* the server mapping's partition count (16) */
    /* a lease event ("claimed", "taken_over", "lost", "released") */
    void (*lease_event)(void *ctx, unsigned partition, const char *event);
    void *ctx;
} serve_nats_opts;

typedef struct serve_nats serve_nats;

/* 1 when this build has NATS (libnats). */
int serve_nats_available(void);

/* "0-7,12" -> o->partitions; 0 when it does not parse (a message in err). */
int serve_nats_parse_partitions(const char *spec, serve_nats_opts *o, char *err, size_t cap);

/* 1 for a subject token: 1..64 characters of [A-Za-z0-9_-]. */
int serve_nats_token_ok(const char *s);

/* Connect (waiting up to 5 s), subscribe (worker), and print nothing.
 * 0, or an exit status after a message: CLI_EXIT_USAGE without NATS in this
 * build, for a URL that does not parse or whose host names none resolves,
 * CLI_EXIT_IO for a server that cannot be reached. */
int serve_nats_open(const serve_nats_opts *o, serve_nats **out);

/* Leases: renew and claim when due (called every loop turn). */
void serve_nats_service(serve_nats *q, double now);

/* Gateway: publish one datagram from `from`. */
void serve_nats_forward(serve_nats *q, const unsigned char *b, size_t len,
                        const struct sockaddr_storage *from, socklen_t from_len);

/* Worker: the pipe to poll for POLLIN (-1: none). */
int serve_nats_poll_fd(const serve_nats *q);
/* Worker: hand up to max queued messages to the core; returns how many.
 * wall_now: Unix time, set as the core's wall_now. */
size_t serve_nats_take(serve_nats *q, serve_core *core, size_t max, double mono_now,
                       double wall_now);
/* Worker: publish a decision (called from the decision hook during take). */
void serve_nats_decision(serve_nats *q, const serve_decision *d, const char *json);

/* Messages the gateway forwarded or the worker took (for --count). */
uint64_t serve_nats_count(const serve_nats *q);

/* The counters as `,"nats":{...}`. */
void serve_nats_stats_json(const serve_nats *q, textbuf *t);
/* The start line {"type":"nats",...} (no newline). */
void serve_nats_ready_json(const serve_nats *q, textbuf *t);

/* Flush what is buffered (up to timeout seconds), disconnect, free. */
void serve_nats_close(serve_nats *q, double timeout);

#endif
