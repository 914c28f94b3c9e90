/*
 * The node table of `aether serve`'s core (tools/serve_core.c) driven
 * directly: a node is (node id, sender address and port), found through a
 * hash index; a full table evicts the least recently seen node (the head of
 * its list, whatever the table's size); idle nodes are forgotten oldest
 * first; an evicted or forgotten node's tracks are gone from every model and
 * its slot is reused. A flood of 20,000 spoofed (id, port) pairs leaves
 * exactly max_nodes nodes, evicted in the order they came, and the
 * accounting holds throughout.
 */
#define _POSIX_C_SOURCE 200809L
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "aether/blob.h"
#include "aether/csi.h"
#include "check.h"
#include "serve_core.h"

#define FRAME_BYTES (AETHER_ADR018_HEADER_BYTES + 128u)

typedef struct events {
    unsigned long added, removed_evicted, removed_idle;
    uint32_t last_removed_id;
    uint16_t last_removed_port;
    uint64_t last_removed_track;
    unsigned long decisions;
} events;

static uint16_t port_of(const struct sockaddr_storage *a)
{
    if (a->ss_family == AF_INET6)
        return ntohs(((const struct sockaddr_in6 *)(const void *)a)->sin6_port);
    return ntohs(((const struct sockaddr_in *)(const void *)a)->sin_port);
}

static void on_added(void *ctx, const serve_node *n)
{
    (void)n;
    ((events *)ctx)->added++;
}

static void on_removed(void *ctx, const serve_node *n, const char *why)
{
    events *e = (events *)ctx;
    if (!strcmp(why, "evicted"))
        e->removed_evicted++;
    else if (!strcmp(why, "idle"))
        e->removed_idle++;
    e->last_removed_id = n->node_id;
    e->last_removed_port = port_of(&n->addr);
    e->last_removed_track = n->track_id;
}

static void on_decision(void *ctx, const serve_decision *d)
{
    (void)d;
    ((events *)ctx)->decisions++;
}

static void v4(struct sockaddr_storage *a, socklen_t *al, uint32_t host, uint16_t port)
{
    struct sockaddr_in *x = (struct sockaddr_in *)(void *)a;
    memset(a, 0, sizeof *a);
    x->sin_family = AF_INET;
    x->sin_addr.s_addr = htonl(host);
    x->sin_port = htons(port);
    *al = (socklen_t)sizeof *x;
}

static void v6(struct sockaddr_storage *a, socklen_t *al, uint8_t last, uint16_t port)
{
    struct sockaddr_in6 *x = (struct sockaddr_in6 *)(void *)a;
    memset(a, 0, sizeof *a);
    x->sin6_family = AF_INET6;
    x->sin6_addr.s6_addr[15] = last;
    x->sin6_port = htons(port);
    *al = (socklen_t)sizeof *x;
}

static void frame(unsigned char *b, unsigned node, uint32_t seq)
{
    size_t k;
    memset(b, 0, FRAME_BYTES);
    b[0] = 0x01;
    b[2] = 0x11;
    b[3] = 0xC5;
    b[4] = (unsigned char)node;
    b[5] = 1;
    b[6] = 64;
    b[12] = (unsigned char)seq;
    b[13] = (unsigned char)(seq >> 8);
    for (k = 1; k < 64; ++k)
        if (k < 27 || k > 37) {
            b[AETHER_ADR018_HEADER_BYTES + 2 * k] = (unsigned char)(10 + (k + seq) % 7);
            b[AETHER_ADR018_HEADER_BYTES + 2 * k + 1] = (unsigned char)(20 - (k * 3 + seq) % 5);
        }
}

static int open_core(serve_core *s, size_t max_nodes, double idle, events *ev)
{
    aether_blob_demo_params p = aether_blob_demo_default();
    serve_config cfg;
    serve_hooks hooks;
    unsigned char *blob;
    size_t len = 0, n = 0;
    memset(&cfg, 0, sizeof cfg);
    cfg.max_nodes = max_nodes;
    cfg.capacity = 16;
    cfg.every = 4;
    cfg.idle = idle;
    memset(&hooks, 0, sizeof hooks);
    memset(ev, 0, sizeof *ev);
    hooks.ctx = ev;
    hooks.node_added = on_added;
    hooks.node_removed = on_removed;
    hooks.decision = on_decision;
    p.input_dim = 16;
    p.n_q_heads = 2;
    p.n_kv_heads = 1;
    p.head_dim = 4;
    p.n_layers = 1;
    p.n_classes = 3;
    if (aether_blob_demo_size(&p, &n) != AETHER_OK || !(blob = (unsigned char *)malloc(n)))
        return 0;
    if (aether_blob_demo_write(&p, blob, n, &len) != AETHER_OK) {
        free(blob);
        return 0;
    }
    if (serve_core_init(s, &cfg, &hooks, 0.0) != 0)
        return 0;
    return serve_model_open(s, "demo.rvne", blob, len) == 0;
}

/* Slot of the node (id, sender) or max_nodes. */
static size_t slot_of(const serve_core *s, uint32_t id, uint16_t port)
{
    size_t i;
    for (i = 0; i < s->cfg.max_nodes; ++i)
        if (s->nodes[i].used && s->nodes[i].node_id == id && port_of(&s->nodes[i].addr) == port)
            return i;
    return s->cfg.max_nodes;
}

static void test_nodes_and_lru(void)
{
    static unsigned char b[FRAME_BYTES];
    struct sockaddr_storage a;
    socklen_t al;
    serve_core s;
    events ev;
    size_t i, slot;
    uint64_t track;
    CHECK(open_core(&s, 4, 0.0, &ev));
    /* node 7 from two ports and from IPv6: three nodes */
    frame(b, 7, 1);
    v4(&a, &al, 0x7F000001u, 40000);
    serve_handle_datagram(&s, b, FRAME_BYTES, 0, &a, al, 1.0);
    v4(&a, &al, 0x7F000001u, 40001);
    serve_handle_datagram(&s, b, FRAME_BYTES, 0, &a, al, 2.0);
    v6(&a, &al, 1, 40000);
    serve_handle_datagram(&s, b, FRAME_BYTES, 0, &a, al, 3.0);
    CHECK_EQ_INT(serve_active_nodes(&s), 3);
    CHECK_EQ_INT(ev.added, 3);
    /* the first again: found, not created; now the most recently seen */
    v4(&a, &al, 0x7F000001u, 40000);
    serve_handle_datagram(&s, b, FRAME_BYTES, 0, &a, al, 4.0);
    CHECK_EQ_INT(ev.added, 3);
    /* a fourth fills the table, a fifth evicts the least recently seen:
     * port 40001 (seen at 2.0), not 40000 (seen again at 4.0) */
    frame(b, 9, 1);
    serve_handle_datagram(&s, b, FRAME_BYTES, 0, &a, al, 5.0);
    CHECK_EQ_INT(serve_active_nodes(&s), 4);
    slot = slot_of(&s, 7, 40001);
    CHECK(slot < 4);
    track = slot < 4 ? s.nodes[slot].track_id : 0;
    CHECK(aether_tracks_contains(s.models[0].tracks, track));
    frame(b, 10, 1);
    serve_handle_datagram(&s, b, FRAME_BYTES, 0, &a, al, 6.0);
    CHECK_EQ_INT(serve_active_nodes(&s), 4);
    CHECK_EQ_INT(ev.removed_evicted, 1);
    CHECK_EQ_INT(ev.last_removed_id, 7);
    CHECK_EQ_INT(ev.last_removed_port, 40001);
    CHECK(!aether_tracks_contains(s.models[0].tracks, track));
    CHECK(slot_of(&s, 7, 40001) == 4);
    CHECK(slot_of(&s, 7, 40000) < 4);
    CHECK(slot_of(&s, 10, 40000) == slot); /* the evicted node's slot, reused */
    CHECK_EQ_INT(s.nodes_evicted, 1);
    /* many frames of the four: none created, decisions every 4 frames */
    for (i = 2; i < 42; ++i) {
        frame(b, 9, (uint32_t)i);
        serve_handle_datagram(&s, b, FRAME_BYTES, 0, &a, al, 6.0 + 0.01 * (double)i);
    }
    CHECK_EQ_INT(ev.added, 5);
    CHECK(ev.decisions >= 10);
    CHECK(serve_accounting_ok(&s));
    CHECK_EQ_INT(s.used, s.received);
    serve_core_free(&s);
}

static void test_idle_oldest_first(void)
{
    static unsigned char b[FRAME_BYTES];
    struct sockaddr_storage a;
    socklen_t al;
    serve_core s;
    events ev;
    size_t i;
    CHECK(open_core(&s, 8, 10.0, &ev));
    /* node i seen last at time i (i = 0..7); node 0 again at 20 */
    for (i = 0; i < 8; ++i) {
        frame(b, (unsigned)i, 1);
        v4(&a, &al, 0x0A000001u, (uint16_t)(50000 + i));
        serve_handle_datagram(&s, b, FRAME_BYTES, 0, &a, al, (double)i);
    }
    frame(b, 0, 2);
    v4(&a, &al, 0x0A000001u, 50000);
    serve_handle_datagram(&s, b, FRAME_BYTES, 0, &a, al, 20.0);
    /* at 24.5: nodes seen before 14.5 go (1..7), node 0 stays */
    serve_expire_idle(&s, 24.5);
    CHECK_EQ_INT(serve_active_nodes(&s), 1);
    CHECK_EQ_INT(ev.removed_idle, 7);
    CHECK_EQ_INT(ev.last_removed_id, 7); /* oldest first: 7 was the newest of them */
    CHECK(slot_of(&s, 0, 50000) < 8);
    {
        aether_tracks_stats st;
        CHECK_STATUS(aether_tracks_get_stats(s.models[0].tracks, &st), AETHER_OK);
        CHECK_EQ_INT(st.active, 1);
    }
    /* the freed slots take new nodes without evicting */
    for (i = 0; i < 7; ++i) {
        frame(b, (unsigned)(100 + i), 1);
        v6(&a, &al, (uint8_t)i, 60000);
        serve_handle_datagram(&s, b, FRAME_BYTES, 0, &a, al, 25.0);
    }
    CHECK_EQ_INT(serve_active_nodes(&s), 8);
    CHECK_EQ_INT(s.nodes_evicted, 0);
    serve_expire_idle(&s, 100.0);
    CHECK_EQ_INT(serve_active_nodes(&s), 0);
    CHECK(serve_accounting_ok(&s));
    serve_core_free(&s);
}

/* 20,000 distinct (id, port) senders into 64 slots: evicted in the order
 * they came, the table and every model's tracks hold exactly 64. */
static void test_flood(void)
{
    static unsigned char b[FRAME_BYTES];
    struct sockaddr_storage a;
    socklen_t al;
    serve_core s;
    events ev;
    size_t i, out_of_order = 0;
    CHECK(open_core(&s, 64, 0.0, &ev));
    for (i = 0; i < 20000; ++i) {
        frame(b, (unsigned)(i % 256), (uint32_t)i);
        v4(&a, &al, 0x7F000001u, (uint16_t)(1024 + i / 256));
        serve_handle_datagram(&s, b, FRAME_BYTES, 0, &a, al, 1.0 + 1e-3 * (double)i);
        if (i >= 64) {
            size_t gone = i - 64; /* the sender that must have been evicted now */
            out_of_order += ev.last_removed_id != (uint32_t)(gone % 256) ||
                            ev.last_removed_port != (uint16_t)(1024 + gone / 256);
        }
    }
    CHECK_EQ_INT(out_of_order, 0);
    CHECK_EQ_INT(serve_active_nodes(&s), 64);
    CHECK_EQ_INT(s.nodes_created, 20000);
    CHECK_EQ_INT(s.nodes_evicted, 20000 - 64);
    {
        aether_tracks_stats st;
        CHECK_STATUS(aether_tracks_get_stats(s.models[0].tracks, &st), AETHER_OK);
        CHECK_EQ_INT(st.active, 64);
    }
    /* the last 64 are all still found (no new node when they send again) */
    for (i = 20000 - 64; i < 20000; ++i) {
        frame(b, (unsigned)(i % 256), (uint32_t)i + 1u);
        v4(&a, &al, 0x7F000001u, (uint16_t)(1024 + i / 256));
        serve_handle_datagram(&s, b, FRAME_BYTES, 0, &a, al, 30.0);
    }
    CHECK_EQ_INT(s.nodes_created, 20000);
    CHECK(serve_accounting_ok(&s));
    CHECK_EQ_INT(s.used, s.received);
    serve_core_free(&s);
}

TEST_MAIN(test_nodes_and_lru, test_idle_oldest_first, test_flood)
