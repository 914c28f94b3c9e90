/*
 * Internal to src/kvcache: storing one token (append.c).
 */
#ifndef AETHER_KVCACHE_KV_APPEND_H
#define AETHER_KVCACHE_KV_APPEND_H

#include "kvcache/kvcache_internal.h"

/* Store token rows into slot `slot` under position `pos` (the landmark
 * position) with the next token id; bookkeeping of len is the caller's. */
void aether_kv_store_(aether_kvcache *c, size_t slot, size_t pos, const float *k, const float *v);

/* Append with eviction per policy (rows already validated). */
void aether_kv_push_(aether_kvcache *c, const float *k, const float *v);

#endif /* AETHER_KVCACHE_KV_APPEND_H */
