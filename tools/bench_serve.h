/*
 * The in-process load benchmark of `aether serve` (`aether bench --only
 * serve`): serve_core fed pre-built ADR-018 datagrams of N nodes in turn
 * (node i: its own node id and sender address), every shipped model per
 * node, each decision rendered as its JSON line into a buffer. It reports
 * the core's ceiling in frames per second of one core, the time per frame
 * split into parsing, features, model (with the node and track tables) and
 * JSON, and the decision latency (datagram handed to the core -> decision
 * line written) p50/p99/max.
 */
#ifndef AETHER_TOOLS_BENCH_SERVE_H
#define AETHER_TOOLS_BENCH_SERVE_H

#include <stdio.h>

/* quick: 100 nodes and fewer frames. fc/fj: CSV/JSON outputs or NULL
 * (*first: the JSON row separator state). 0, or an exit status after a
 * message on stderr (a model that cannot be found or loaded). */
int bench_serve_run(int quick, FILE *fc, FILE *fj, int *first);

#endif
