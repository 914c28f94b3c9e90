/*
 * Internal to src/kvcache: the landmark ring (landmarks.c).
 */
#ifndef AETHER_KVCACHE_KV_LANDMARKS_H
#define AETHER_KVCACHE_KV_LANDMARKS_H

#include "kvcache/kvcache_internal.h"

/* Add one token's rows to the landmark of position `pos`. */
void aether_kv_landmark_add_(aether_kvcache *c, size_t pos, const float *k, const float *v);
/* Clear all landmark entries (tags = entry index, counts 0, means 0). */
void aether_kv_landmarks_clear_(aether_kvcache *c);
/* Mean rows of block b, or 0 when the block is retired / empty. */
int aether_kv_landmark_rows_(aether_kvcache *c, size_t b, const float **mk, const float **mv);

#endif /* AETHER_KVCACHE_KV_LANDMARKS_H */
