/*
 * serve_handle_datagrams (tools/serve_core.c) over read batches against
 * serve_handle_datagram (a batch of one) called datagram by datagram on a
 * twin core, which holds the batches' grouping to the ungrouped handling:
 * the same decision lines (the JSON with its logits), node events in the
 * same order, counters and node table, over read batches mixing known and
 * new nodes (a full table that evicts), a node's several frames in one
 * batch, sibling and malformed datagrams, and idle expiry between batches.
 * Models: the demo blob (streaming sessions, stepped through the tracks
 * batch entry) and the shipped gesture model (window tracks, one by one).
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
#include "test_util.h"
#include "textbuf.h"

#define FRAME_BYTES (AETHER_ADR018_HEADER_BYTES + 128u)
#define LOG_BYTES (1u << 22)

typedef struct logbuf {
    char *p;
    size_t len;
} logbuf;

static void log_text(logbuf *l, const char *s)
{
    size_t n = strlen(s);
    if (l->len + n < LOG_BYTES) {
        memcpy(l->p + l->len, s, n + 1);
        l->len += n;
    }
}

static void on_added(void *ctx, const serve_node *n)
{
    char line[160];
    snprintf(line, sizeof line, "added %u %s %llu\n", (unsigned)n->node_id, n->sender,
             (unsigned long long)n->track_id);
    log_text((logbuf *)ctx, line);
}

static void on_removed(void *ctx, const serve_node *n, const char *why)
{
    char line[160];
    snprintf(line, sizeof line, "removed %u %s %s\n", (unsigned)n->node_id, n->sender, why);
    log_text((logbuf *)ctx, line);
}

static void on_decision(void *ctx, const serve_decision *d)
{
    static char buf[16384];
    textbuf t;
    textbuf_init(&t, buf, sizeof buf);
    serve_decision_json(d, &t);
    log_text((logbuf *)ctx, t.p);
    log_text((logbuf *)ctx, "\n");
}

static void frame(unsigned char *b, unsigned node, uint32_t seq, unsigned salt)
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
            b[AETHER_ADR018_HEADER_BYTES + 2 * k] = (unsigned char)(10 + (k + seq + salt) % 7);
            b[AETHER_ADR018_HEADER_BYTES + 2 * k + 1] =
                (unsigned char)(20 - (k * 3 + seq * salt) % 5);
        }
}

static int open_core(serve_core *s, logbuf *log, int with_gesture)
{
    aether_blob_demo_params p = aether_blob_demo_default();
    serve_config cfg;
    serve_hooks hooks;
    unsigned char *blob;
    size_t len = 0;
    memset(&cfg, 0, sizeof cfg);
    cfg.max_nodes = 6;
    cfg.capacity = 24; /* the sessions evict */
    cfg.every = 3;
    cfg.idle = 0.5;
    memset(&hooks, 0, sizeof hooks);
    hooks.ctx = log;
    hooks.node_added = on_added;
    hooks.node_removed = on_removed;
    hooks.decision = on_decision;
    p.input_dim = 16;
    p.n_classes = 3;
    if (!(blob = test_demo_blob_of(&p, &len)))
        return 0;
    if (serve_core_init(s, &cfg, &hooks, 0.0) != 0 ||
        serve_model_open(s, "demo.rvne", blob, len) != 0)
        return 0;
    if (with_gesture) {
        unsigned char *g = test_shipped_model("gesture.rvne", &len);
        if (!g || serve_model_open(s, "gesture.rvne", g, len) != 0)
            return 0;
    }
    return 1;
}

static uint64_t g_rng = 0xD1B54A32D192ED03ull;
static uint32_t urand(void)
{
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return (uint32_t)(g_rng >> 32);
}

static int same_counters(const serve_core *a, const serve_core *b)
{
    size_t i, k;
    int ok = a->received == b->received && a->used == b->used &&
             a->seq_gaps == b->seq_gaps && a->seq_backwards == b->seq_backwards &&
             a->nodes_created == b->nodes_created && a->nodes_evicted == b->nodes_evicted &&
             a->nodes_idle == b->nodes_idle && a->active == b->active;
    ok &= memcmp(a->ignored, b->ignored, sizeof a->ignored) == 0;
    ok &= memcmp(a->malformed, b->malformed, sizeof a->malformed) == 0;
    ok &= memcmp(a->dropped, b->dropped, sizeof a->dropped) == 0;
    for (k = 0; k < a->n_models; ++k)
        ok &= a->models[k].decisions == b->models[k].decisions;
    for (i = 0; i < a->cfg.max_nodes; ++i) {
        ok &= a->nodes[i].used == b->nodes[i].used && a->nodes[i].node_id == b->nodes[i].node_id &&
              a->nodes[i].track_id == b->nodes[i].track_id;
        ok &= memcmp(a->nodes[i].stepped, b->nodes[i].stepped, sizeof a->nodes[i].stepped) == 0;
    }
    return ok && serve_accounting_ok(a) && serve_accounting_ok(b);
}

static void run(int with_gesture)
{
    static unsigned char bufs[32][FRAME_BYTES];
    struct sockaddr_storage from[32];
    serve_datagram dg[32];
    serve_core a, b;
    logbuf la, lb;
    uint32_t seq[10] = {0};
    double now = 1.0;
    int round, ok = 1;
    size_t i;
    la.p = (char *)calloc(LOG_BYTES, 1);
    lb.p = (char *)calloc(LOG_BYTES, 1);
    la.len = lb.len = 0;
    CHECK(la.p && lb.p);
    CHECK(open_core(&a, &la, with_gesture));
    CHECK(open_core(&b, &lb, with_gesture));
    for (round = 0; round < 150 && ok; ++round) {
        size_t n = 1 + urand() % 32;
        /* mostly the same few nodes, sometimes others (a full table evicts) */
        for (i = 0; i < n; ++i) {
            uint32_t u = urand();
            unsigned node = u % 100 < 85 ? u % 5 : 5 + u % 5;
            struct sockaddr_in *x = (struct sockaddr_in *)(void *)&from[i];
            memset(&from[i], 0, sizeof from[i]);
            x->sin_family = AF_INET;
            x->sin_addr.s_addr = htonl(0x7F000001u);
            x->sin_port = htons((uint16_t)(40000u + node));
            frame(bufs[i], node, ++seq[node], (unsigned)round);
            dg[i].bytes = bufs[i];
            dg[i].len = FRAME_BYTES;
            dg[i].truncated = 0;
            dg[i].from = &from[i];
            dg[i].from_len = (socklen_t)sizeof(struct sockaddr_in);
            if (u % 97 == 0)
                bufs[i][0] = 0x02; /* a sibling packet */
            if (u % 89 == 0)
                dg[i].len = FRAME_BYTES - 5; /* truncated */
        }
        for (i = 0; i < n; ++i)
            serve_handle_datagram(&a, dg[i].bytes, dg[i].len, dg[i].truncated, dg[i].from,
                                  dg[i].from_len, now);
        serve_handle_datagrams(&b, dg, n, now);
        ok &= same_counters(&a, &b);
        ok &= la.len == lb.len && memcmp(la.p, lb.p, la.len) == 0;
        now += urand() % 10 == 0 ? 0.8 : 0.02;
        serve_expire_idle(&a, now);
        serve_expire_idle(&b, now);
    }
    CHECK_MSG(ok, "diverged at round %d (gesture %d)", round, with_gesture);
    CHECK(a.nodes_evicted > 0 && a.nodes_idle > 0);
    CHECK(a.models[0].decisions > 100);
    CHECK(la.len > 1000 && la.len < LOG_BYTES - 20000);
    serve_core_free(&a);
    serve_core_free(&b);
    free(la.p);
    free(lb.p);
}

/* The demo model's tracks again, with sessions that never evict and hold
 * `capacity` frames: a node's step past that fails (CACHE_FULL), the
 * failure after which serve starts the node's session over. */
static int small_sessions(serve_core *s, size_t capacity)
{
    aether_tracks_params tp = aether_tracks_params_default();
    serve_model *m = &s->models[0];
    tp.max_tracks = s->cfg.max_nodes;
    tp.max_age = 0.0;
    tp.session.capacity = capacity;
    tp.session.evict = AETHER_KV_EVICT_NONE;
    aether_tracks_destroy(m->tracks);
    m->tracks = NULL;
    return aether_tracks_create(m->model, &tp, &m->tracks) == AETHER_OK;
}

/* A node that already waits in the batch is stepped before its next frame
 * is gathered: how its step went decides what the next one does. Node 0's
 * session holds 4 frames and every=3: frames 1-4 step (a decision at 3),
 * frame 5 fails and starts the session over, frames 6-8 step in the new
 * session (a decision at its frame 3). Node 1, known from the first batch,
 * sends three frames between them, so that no new node steps what waits.
 * Batched, the result must be the one-by-one result; frames 5-8 stepped
 * together would fail 6-8 too (the full session is only dropped after the
 * step). */
static void test_waiting_node_steps_first(void)
{
    /* (node, sequence) in arrival order; batches [0, 5) and [5, 11) */
    static const unsigned order[11][2] = {{0, 1}, {1, 1}, {0, 2}, {0, 3}, {0, 4}, {0, 5},
                                          {1, 2}, {0, 6}, {0, 7}, {1, 3}, {0, 8}};
    static unsigned char bufs[11][FRAME_BYTES];
    struct sockaddr_storage from[2];
    serve_datagram dg[11];
    serve_core a, b;
    logbuf la, lb;
    size_t i, k, slot0 = SERVE_NIL;
    la.p = (char *)calloc(LOG_BYTES, 1);
    lb.p = (char *)calloc(LOG_BYTES, 1);
    la.len = lb.len = 0;
    CHECK(la.p && lb.p);
    CHECK(open_core(&a, &la, 0) && open_core(&b, &lb, 0));
    CHECK(small_sessions(&a, 4) && small_sessions(&b, 4));
    for (k = 0; k < 2; ++k) {
        struct sockaddr_in *x = (struct sockaddr_in *)(void *)&from[k];
        memset(&from[k], 0, sizeof from[k]);
        x->sin_family = AF_INET;
        x->sin_addr.s_addr = htonl(0x7F000001u);
        x->sin_port = htons((uint16_t)(40000u + k));
    }
    for (i = 0; i < 11; ++i) {
        frame(bufs[i], order[i][0], order[i][1], 7);
        dg[i].bytes = bufs[i];
        dg[i].len = FRAME_BYTES;
        dg[i].truncated = 0;
        dg[i].from = &from[order[i][0]];
        dg[i].from_len = (socklen_t)sizeof(struct sockaddr_in);
        serve_handle_datagram(&a, dg[i].bytes, dg[i].len, 0, dg[i].from, dg[i].from_len, 1.0);
    }
    serve_handle_datagrams(&b, dg, 5, 1.0);
    serve_handle_datagrams(&b, dg + 5, 6, 1.0);
    for (i = 0; i < a.cfg.max_nodes; ++i)
        if (a.nodes[i].used && a.nodes[i].node_id == 0)
            slot0 = i;
    CHECK(slot0 != SERVE_NIL);
    if (slot0 != SERVE_NIL) {
        CHECK_EQ_INT((int)a.nodes[slot0].stepped[0], 3);
        CHECK_EQ_INT((int)b.nodes[slot0].stepped[0], 3);
    }
    CHECK_EQ_INT((int)a.dropped[SERVE_DROP_MODEL], 1);
    CHECK_EQ_INT((int)b.dropped[SERVE_DROP_MODEL], 1);
    CHECK_EQ_INT((int)a.used, 10);
    CHECK_EQ_INT((int)b.used, 10);
    CHECK_EQ_INT((int)a.models[0].decisions, 3);
    CHECK_EQ_INT((int)b.models[0].decisions, 3);
    CHECK(same_counters(&a, &b));
    CHECK_MSG(la.len == lb.len && memcmp(la.p, lb.p, la.len) == 0,
              "one by one:\n%s\nbatched:\n%s", la.p, lb.p);
    serve_core_free(&a);
    serve_core_free(&b);
    free(la.p);
    free(lb.p);
}

static void test_demo_sessions(void)
{
    run(0);
}

static void test_with_window_model(void)
{
    run(1);
}

TEST_MAIN(test_demo_sessions, test_with_window_model, test_waiting_node_steps_first)
