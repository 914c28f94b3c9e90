/*
 * The datagram handler of `aether serve` (tools/serve_core.c): a sequence
 * of datagrams from varying senders through a core with one to three models
 * (a small demo model built in memory, and the shipped gesture and motion
 * models when their files are there). After every datagram: the accounting
 * invariant (received = used + ignored + malformed + dropped), received
 * counts it exactly once, active nodes <= max_nodes and equal to the used
 * slots of the node table, and every decision renders as a JSON object.
 *
 * Input: byte 0 picks max_nodes (1..8), the decision stride (1..4) and the
 * models; byte 1 the idle time. Then records, each an op byte followed by
 * its operands:
 *   op % 8 == 0..2  raw datagram: u16 length, that many bytes (as given)
 *   3..4            synthesised datagram: magic choice, node id, antennas
 *                   (0..7), subcarriers (0..511), length adjustment, fill,
 *                   then the payload from the input (zeros when it runs out)
 *   5               special: empty, 65,507 bytes (valid header, too long),
 *                   or a datagram the receive buffer truncated
 *   6               a burst of 1..32 frames from distinct node ids (a flood)
 *   7               time moves on by 0..255 s, idle nodes expire
 * The sender of each datagram comes from one byte of the op: IPv4 or IPv6,
 * one of four hosts, one of eight ports.
 */
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "aether/blob.h"
#include "aether/csi.h"
#include "aether/packet.h"
#include "cli_util.h"
#include "fuzz_common.h"
#include "serve_core.h"
#include "textbuf.h"

#define MAX_DGRAM 65507u

static unsigned char g_dgram[MAX_DGRAM + 1];

typedef struct run {
    serve_core core;
    char json[16384];
    uint64_t decisions;
} run;

static void on_decision(void *ctx, const serve_decision *d)
{
    run *r = (run *)ctx;
    textbuf t;
    FUZZ_ASSERT(d->cls < d->n_classes);
    FUZZ_ASSERT(d->node && d->node->used);
    textbuf_init(&t, r->json, sizeof r->json);
    serve_decision_json(d, &t);
    FUZZ_ASSERT(!t.overflow && t.len > 2 && t.p[0] == '{' && t.p[t.len - 1] == '}');
    r->decisions++;
}

static void on_removed(void *ctx, const serve_node *n, const char *why)
{
    (void)ctx;
    FUZZ_ASSERT(n->used);
    FUZZ_ASSERT(!strcmp(why, "idle") || !strcmp(why, "evicted"));
}

static unsigned char *demo_blob(size_t *len)
{
    aether_blob_demo_params p = aether_blob_demo_default();
    unsigned char *b;
    size_t n = 0;
    p.input_dim = 16;
    p.n_q_heads = 2;
    p.n_kv_heads = 1;
    p.head_dim = 4;
    p.n_layers = 1;
    p.n_classes = 3;
    if (aether_blob_demo_size(&p, &n) != AETHER_OK)
        return NULL;
    b = (unsigned char *)malloc(n);
    if (b && aether_blob_demo_write(&p, b, n, len) != AETHER_OK) {
        free(b);
        return NULL;
    }
    return b;
}


static void sender(uint8_t sel, struct sockaddr_storage *a, socklen_t *al)
{
    memset(a, 0, sizeof *a);
    if (sel & 0x80) {
        struct sockaddr_in6 *x = (struct sockaddr_in6 *)(void *)a;
        x->sin6_family = AF_INET6;
        x->sin6_port = htons((uint16_t)(40000u + (sel & 7u)));
        x->sin6_addr.s6_addr[15] = (uint8_t)(1u + ((sel >> 3) & 3u));
        *al = (socklen_t)sizeof *x;
    } else {
        struct sockaddr_in *x = (struct sockaddr_in *)(void *)a;
        x->sin_family = AF_INET;
        x->sin_port = htons((uint16_t)(40000u + (sel & 7u)));
        x->sin_addr.s_addr = htonl(0x7F000001u + ((sel >> 3) & 3u));
        *al = (socklen_t)sizeof *x;
    }
}

static void put_u16(unsigned char *b, unsigned v)
{
    b[0] = (unsigned char)v;
    b[1] = (unsigned char)(v >> 8);
}

static void put_u32(unsigned char *b, uint32_t v)
{
    put_u16(b, v & 0xFFFFu);
    put_u16(b + 2, v >> 16);
}

/* An ADR-018 header (node, antennas, subcarriers) with this magic. */
static void header(unsigned char *b, uint32_t magic, unsigned node, unsigned ant, unsigned sub,
                   uint32_t seq)
{
    memset(b, 0, AETHER_ADR018_HEADER_BYTES);
    put_u32(b, magic);
    b[4] = (unsigned char)node;
    b[5] = (unsigned char)ant;
    put_u16(b + 6, sub);
    put_u32(b + 8, 2437);
    put_u32(b + 12, seq);
    b[16] = (unsigned char)(256 - 40);
    b[17] = (unsigned char)(256 - 95);
}

/* The checks after each datagram. */
static void check(const serve_core *s, uint64_t received_before)
{
    size_t i, used = 0;
    FUZZ_ASSERT(s->received == received_before + 1);
    FUZZ_ASSERT(serve_accounting_ok(s));
    FUZZ_ASSERT(serve_active_nodes(s) <= s->cfg.max_nodes);
    for (i = 0; i < s->cfg.max_nodes; ++i)
        used += s->nodes[i].used != 0;
    FUZZ_ASSERT(used == serve_active_nodes(s));
    FUZZ_ASSERT(s->nodes_created - s->nodes_evicted - s->nodes_idle == used);
}

static void deliver(run *r, const unsigned char *b, size_t len, int truncated, uint8_t from,
                    double now)
{
    struct sockaddr_storage a;
    socklen_t al;
    uint64_t before = r->core.received;
    sender(from, &a, &al);
    serve_handle_datagram(&r->core, b, len, truncated, &a, al, now);
    check(&r->core, before);
}

static const uint32_t magics[8] = {AETHER_ADR018_MAGIC, AETHER_ADR018_MAGIC, AETHER_ADR018_MAGIC,
                                   0xC5110002u,         0xC5110005u,         0xC5110007u,
                                   0xC5110008u,         0xC5110000u};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_input in = {data, size};
    serve_config cfg;
    serve_hooks hooks;
    run *r = (run *)calloc(1, sizeof *r);
    uint8_t b0 = fuzz_u8(&in), b1 = fuzz_u8(&in);
    double now = 1000.0;
    uint32_t seq = 0;
    unsigned char *blob;
    size_t len = 0, ops = 0;
    if (!r)
        return 0;
    memset(&cfg, 0, sizeof cfg);
    cfg.max_nodes = 1u + (b0 & 7u);
    cfg.every = 1u + ((b0 >> 3) & 3u);
    cfg.capacity = 32;
    cfg.idle = (double)(b1 & 0x3F);
    memset(&hooks, 0, sizeof hooks);
    hooks.ctx = r;
    hooks.decision = on_decision;
    hooks.node_removed = on_removed;
    FUZZ_ASSERT(serve_core_init(&r->core, &cfg, &hooks, now) == 0);
    blob = demo_blob(&len);
    FUZZ_ASSERT(blob != NULL);
    FUZZ_ASSERT(serve_model_open(&r->core, "demo.rvne", blob, len) == 0);
#ifdef AETHER_FUZZ_MODELS_DIR
    if (b0 & 0x20) {
        blob = cli_read_file(AETHER_FUZZ_MODELS_DIR "/gesture.rvne", &len);
        if (blob)
            FUZZ_ASSERT(serve_model_open(&r->core, "gesture.rvne", blob, len) == 0);
    }
    if (b0 & 0x40) {
        blob = cli_read_file(AETHER_FUZZ_MODELS_DIR "/motion.rvne", &len);
        if (blob)
            FUZZ_ASSERT(serve_model_open(&r->core, "motion.rvne", blob, len) == 0);
    }
#endif
    while (in.n > 0 && ops++ < 4096) {
        uint8_t op = fuzz_u8(&in), from = fuzz_u8(&in);
        now += 0.001;
        switch (op % 8) {
        case 0:
        case 1:
        case 2: { /* raw bytes */
            size_t n = fuzz_u8(&in);
            n |= (size_t)fuzz_u8(&in) << 8;
            if (n > in.n)
                n = in.n;
            memcpy(g_dgram, in.p, n);
            in.p += n;
            in.n -= n;
            deliver(r, g_dgram, n, 0, from, now);
            break;
        }
        case 3:
        case 4: { /* a synthesised frame, a sibling or a wrong magic */
            uint8_t m = fuzz_u8(&in), node = fuzz_u8(&in), ant = fuzz_u8(&in);
            unsigned sub = fuzz_u8(&in) | (unsigned)(fuzz_u8(&in) & 1u) << 8;
            int adjust = (int)(fuzz_u8(&in) % 5u) - 2;
            uint8_t fill = fuzz_u8(&in);
            size_t n, i, body;
            ant &= 7u;
            body = 2u * ant * sub;
            header(g_dgram, magics[m % 8u], node, ant, sub, seq += 1u + (m >> 6));
            n = AETHER_ADR018_HEADER_BYTES + body;
            if (adjust < 0 && (size_t)-adjust > n)
                n = 0;
            else
                n = (size_t)((long)n + adjust);
            if (n > MAX_DGRAM)
                n = MAX_DGRAM;
            for (i = AETHER_ADR018_HEADER_BYTES; i < n; ++i)
                g_dgram[i] = fill == 0x80 ? (uint8_t)0x80 : (uint8_t)(fill ^ fuzz_u8(&in));
            deliver(r, g_dgram, n, 0, from, now);
            break;
        }
        case 5: { /* special sizes */
            uint8_t which = fuzz_u8(&in) % 3u;
            if (which == 0) {
                deliver(r, g_dgram, 0, 0, from, now);
            } else if (which == 1) {
                header(g_dgram, AETHER_ADR018_MAGIC, from, 4, 256, ++seq);
                memset(g_dgram + AETHER_ADR018_HEADER_BYTES, 0x11,
                       MAX_DGRAM - AETHER_ADR018_HEADER_BYTES);
                deliver(r, g_dgram, MAX_DGRAM, 0, from, now);
            } else {
                header(g_dgram, AETHER_ADR018_MAGIC, from, 1, 64, ++seq);
                deliver(r, g_dgram, 148, 1, from, now);
            }
            break;
        }
        case 6: { /* a flood of node ids */
            uint8_t k, count = (uint8_t)(1u + fuzz_u8(&in) % 32u), base = fuzz_u8(&in);
            for (k = 0; k < count; ++k) {
                size_t i;
                header(g_dgram, AETHER_ADR018_MAGIC, (uint8_t)(base + k), 1, 64, ++seq);
                for (i = 0; i < 128; ++i)
                    g_dgram[AETHER_ADR018_HEADER_BYTES + i] = (uint8_t)(i * 37u + k);
                deliver(r, g_dgram, AETHER_ADR018_HEADER_BYTES + 128, 0, (uint8_t)(from + k),
                        now);
            }
            break;
        }
        default: /* time */
            now += (double)fuzz_u8(&in);
            serve_expire_idle(&r->core, now);
            FUZZ_ASSERT(serve_active_nodes(&r->core) <= r->core.cfg.max_nodes);
            break;
        }
    }
    {
        textbuf t;
        textbuf_init(&t, r->json, sizeof r->json);
        serve_stats_json(&r->core, 1, now, &t);
        FUZZ_ASSERT(!t.overflow && t.p[0] == '{');
    }
    serve_core_free(&r->core);
    free(r);
    return 0;
}
