/* 0xC5110007 packets out of `aether serve` (serve_packets.h). */
#define _POSIX_C_SOURCE 200809L
#include "serve_packets.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "aether/packet.h"
#include "commands.h"
#include "net_addr.h"

typedef struct packet_dest {
    struct sockaddr_storage addr;
    socklen_t addr_len;
    int fd;
    int model; /* -1: every model */
    char spec[128];
} packet_dest;

struct serve_packets {
    packet_dest dests[SERVE_MAX_PACKET_DESTS];
    size_t n;
    /* seq per destination, node slot and model */
    uint32_t *seq;
    size_t max_nodes;
    uint64_t sent, node_id_too_large, encode_failed, send_failed;
};

static int model_index(const serve_core *core, const char *name, size_t len)
{
    size_t k;
    for (k = 0; k < core->n_models; ++k)
        if (strlen(core->models[k].name) == len && !memcmp(core->models[k].name, name, len))
            return (int)k;
    return -1;
}

int serve_packets_open(const char *const *specs, size_t n, const serve_core *core,
                       serve_packets **out)
{
    serve_packets *p;
    size_t i, cells;
    *out = NULL;
    if (n > SERVE_MAX_PACKET_DESTS) {
        fprintf(stderr, "aether serve: at most %u --packets-to destinations\n",
                SERVE_MAX_PACKET_DESTS);
        return CLI_EXIT_USAGE;
    }
    p = (serve_packets *)calloc(1, sizeof *p);
    cells = n * core->cfg.max_nodes * SERVE_MAX_MODELS;
    if (p)
        p->seq = (uint32_t *)calloc(cells ? cells : 1, sizeof *p->seq);
    if (!p || !p->seq) {
        free(p);
        fprintf(stderr, "aether serve: out of memory\n");
        return CLI_EXIT_FAILED;
    }
    p->max_nodes = core->cfg.max_nodes;
    for (i = 0; i < n; ++i) {
        packet_dest *d = &p->dests[i];
        const char *spec = specs[i], *eq = strchr(spec, '='), *addr = spec;
        char err[320];
        d->fd = -1;
        d->model = -1;
        snprintf(d->spec, sizeof d->spec, "%s", spec);
        if (eq) {
            d->model = model_index(core, spec, (size_t)(eq - spec));
            if (d->model < 0) {
                fprintf(stderr,
                        "aether serve: --packets-to %s: no model of that name is loaded\n", spec);
                serve_packets_close(p);
                return CLI_EXIT_USAGE;
            }
            addr = eq + 1;
        }
        if (net_addr_parse(addr, 0, &d->addr, &d->addr_len, err, sizeof err) != NET_ADDR_OK) {
            fprintf(stderr, "aether serve: --packets-to %s\n", err);
            serve_packets_close(p);
            return CLI_EXIT_USAGE;
        }
        d->fd = socket(d->addr.ss_family, SOCK_DGRAM, 0);
        if (d->fd < 0) {
            fprintf(stderr, "aether serve: --packets-to %s: cannot open a UDP socket: %s\n", spec,
                    strerror(errno));
            serve_packets_close(p);
            return CLI_EXIT_IO;
        }
        p->n = i + 1;
    }
    *out = p;
    return 0;
}

void serve_packets_decision(serve_packets *p, const serve_core *core, const serve_decision *d,
                            double mono_now)
{
    unsigned char buf[AETHER_PACKET_LEN];
    aether_class_packet pkt;
    size_t i, slot = (size_t)(d->node - core->nodes);
    double us = (mono_now - core->t_start) * 1e6;
    for (i = 0; i < p->n; ++i) {
        packet_dest *dst = &p->dests[i];
        uint32_t *seq;
        if (dst->model >= 0 && (size_t)dst->model != d->model_index)
            continue;
        if (d->node->node_id > 255u) {
            p->node_id_too_large++;
            continue;
        }
        seq = &p->seq[(i * p->max_nodes + slot) * SERVE_MAX_MODELS + d->model_index];
        if (d->frame <= d->model->every)
            *seq = 0; /* the node's first decision: a new run (also after it was forgotten) */
        if (aether_packet_from_logits(&pkt, d->logits, d->n_classes, (uint8_t)d->node->node_id,
                                      us > 0.0 ? (uint64_t)us : 0u, *seq + 1u) != AETHER_OK ||
            aether_packet_encode(&pkt, buf, sizeof buf) != AETHER_OK) {
            p->encode_failed++;
            continue;
        }
        if (sendto(dst->fd, buf, sizeof buf, 0, (const struct sockaddr *)&dst->addr,
                   dst->addr_len) != (ssize_t)sizeof buf) {
            p->send_failed++;
            continue;
        }
        ++*seq;
        p->sent++;
    }
}

void serve_packets_stats_json(const serve_packets *p, textbuf *t)
{
    textbuf_printf(t,
                   ",\"packets\":{\"sent\":%llu,\"not_sent_by_reason\":{\"node_id_over_255\":"
                   "%llu,\"encode\":%llu,\"send\":%llu}}",
                   (unsigned long long)p->sent, (unsigned long long)p->node_id_too_large,
                   (unsigned long long)p->encode_failed, (unsigned long long)p->send_failed);
}

void serve_packets_close(serve_packets *p)
{
    size_t i;
    if (!p)
        return;
    for (i = 0; i < SERVE_MAX_PACKET_DESTS; ++i)
        if (p->dests[i].fd >= 0 && i < p->n)
            close(p->dests[i].fd);
    free(p->seq);
    free(p);
}
