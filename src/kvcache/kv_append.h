/*
 * Internal to src/kvcache: storing one token (append.c).
 */
#ifndef AETHER_KVCACHE_KV_APPEND_H
#define AETHER_KVCACHE_KV_APPEND_H

#include "kvcache/kvcache_internal.h"

/* Store token rows into slot `slot` under position `pos` (the landmark
 * position) with the next token id; bookkeeping of len is the caller's. */
void aether_kv_store_(aether_kvcache *c, size_t slot, size_t pos, const float *k, const float *v);

/* Bytes of one stored row element of a storage (I8: the mantissa; the
 * exponent bytes are counted apart). */
size_t aether_kv_storage_bytes_(aether_kv_storage st);

/* Widen the stored K (which 0) or V (which 1) row of kv head h in slot
 * `slot` to head_dim floats (exact: the values the decode uses). */
void aether_kv_widen_(const aether_kvcache *c, int which, size_t slot, size_t h, float *dst);

/* The same for reduced storages only, from element offset off (slot *
 * row + h * head_dim) and exponent index ei (slot * kv_heads + h). */
void aether_kv_widen_at_(const aether_kvcache *c, int which, size_t off, size_t ei, float *dst);

/* Append with eviction per policy (rows already validated). */
void aether_kv_push_(aether_kvcache *c, const float *k, const float *v);

#endif /* AETHER_KVCACHE_KV_APPEND_H */
