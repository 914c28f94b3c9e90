/*
 * Internal to src/kvcache: the slot map (position -> slot: a direct map by
 * id for SLIDING, a hash for SCORED) and the
 * eviction order (SCORED tournament tree, SLIDING cursor) in slots.c.
 */
#ifndef AETHER_KVCACHE_KV_SLOTS_H
#define AETHER_KVCACHE_KV_SLOTS_H

#include "kvcache/kvcache_internal.h"

/* Position -> slot; returns 0 when the position is not cached. */
int aether_kv_lookup_(const aether_kvcache *c, size_t pos, size_t *slot);
void aether_kv_hash_insert_(aether_kvcache *c, size_t slot);
void aether_kv_hash_remove_(aether_kvcache *c, size_t slot);
void aether_kv_hash_clear_(aether_kvcache *c);

/* SCORED: re-rank a slot after its score or evictability changed. */
void aether_kv_tree_update_(aether_kvcache *c, size_t slot);
/* SCORED: 1 when the slot may be evicted now. */
int aether_kv_evictable_(const aether_kvcache *c, size_t slot);

/* Victim slot of a full SLIDING / SCORED cache. */
size_t aether_kv_victim_(const aether_kvcache *c);

/* 1 when token id t is in the protect list. */
int aether_kv_is_protected_token_(const aether_kvcache *c, size_t t);

#endif /* AETHER_KVCACHE_KV_SLOTS_H */
