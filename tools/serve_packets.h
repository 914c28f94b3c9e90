/*
 * The 0xC5110007 classification packet output of `aether serve`
 * (aether/packet.h; docs/FORMATS.md section 4): one 40-byte UDP datagram per
 * decision to each destination that takes the decision's model.
 *
 * Fields: node_id = the node's id (the packet has 8 bits: a decision of a
 * node id above 255 is not sent, and counted), ts_us = microseconds since
 * `serve` started at the frame's arrival, seq = 1, 2, ... per node, model and
 * destination, argmax / top / margin as in aether/packet.h. A packet carries
 * no model name: give each model its own destination (MODEL=HOST:PORT) when
 * several are loaded.
 */
#ifndef AETHER_TOOLS_SERVE_PACKETS_H
#define AETHER_TOOLS_SERVE_PACKETS_H

#include <stdint.h>

#include "serve_core.h"
#include "textbuf.h"

#define SERVE_MAX_PACKET_DESTS 8u

typedef struct serve_packets serve_packets;

/* specs: "HOST:PORT" (every model) or "MODEL=HOST:PORT" (that model only).
 * 0, or an exit status after a message: CLI_EXIT_USAGE for a spec that does
 * not parse or names no loaded model, CLI_EXIT_IO for a socket that cannot
 * be opened. */
int serve_packets_open(const char *const *specs, size_t n, const serve_core *core,
                       serve_packets **out);
void serve_packets_decision(serve_packets *p, const serve_core *core, const serve_decision *d,
                            double mono_now);
/* `,"packets":{...}`: sent, and not sent by reason. */
void serve_packets_stats_json(const serve_packets *p, textbuf *t);
void serve_packets_close(serve_packets *p);

#endif
