/* Shared by the objects of src/features: the size query, init-on-buffer and
 * malloc'd create built around one arena layout function, so the feature
 * extractor and the normaliser validate and size themselves the same way.
 * Callers check their config first; these only check the remaining
 * arguments. */
#ifndef AETHER_FEATURES_INTERNAL_H
#define AETHER_FEATURES_INTERNAL_H

#include "aether/core.h"

/* Lays out one object for cfg on the arena (measure mode or a real buffer);
 * NULL when the arena ran out. */
typedef void *(*aether_feat_layout_fn)(aether_arena *a, const void *cfg);

/* Bytes the object needs. */
aether_status aether_feat_layout_size_(aether_feat_layout_fn layout, const void *cfg,
                                       size_t *bytes);

/* The object laid out on buf[0..len) in *obj. */
aether_status aether_feat_layout_init_(aether_feat_layout_fn layout, void *buf, size_t len,
                                       const void *cfg, void **obj);

/* The object laid out on a fresh malloc block: *obj the object, *block what
 * to free() (the caller records it as the object's owned memory). */
aether_status aether_feat_layout_create_(aether_feat_layout_fn layout, const void *cfg,
                                         void **obj, void **block);

#endif
