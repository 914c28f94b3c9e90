/*
 * Internal, for the batched model step: start loading a cache's rows for
 * its next decode while other work runs, from the candidate lists another
 * cache in the same state just resolved.
 */
#ifndef AETHER_KVCACHE_KV_PREFETCH_H
#define AETHER_KVCACHE_KV_PREFETCH_H

#include "aether/kvcache.h"

/* If `like` holds final candidate lists for its token count (its last
 * decode was the optimised one), c has the same layout, policy and row
 * storage and is one token behind `like` (its next append brings it to
 * like's count: with the same history length and a deterministic policy,
 * the same slots and landmark entries), prefetch c's K/V rows and
 * landmark rows at those lists. A hint only: reads and writes nothing
 * observable; otherwise does nothing. */
void aether_kv_prefetch_as_(aether_kvcache *c, const aether_kvcache *like);

#endif /* AETHER_KVCACHE_KV_PREFETCH_H */
