/* Size query / init / create around an arena layout function (see
 * features_internal.h). */
#include "features_internal.h"

#include <stdlib.h>

aether_status aether_feat_layout_size_(aether_feat_layout_fn layout, const void *cfg,
                                       size_t *bytes)
{
    aether_arena a;
    if (!bytes)
        return AETHER_ERR_NULL_ARG;
    aether_arena_measure(&a);
    (void)layout(&a, cfg);
    if (a.status != AETHER_OK)
        return a.status;
    *bytes = a.used;
    return AETHER_OK;
}

aether_status aether_feat_layout_init_(aether_feat_layout_fn layout, void *buf, size_t len,
                                       const void *cfg, void **obj)
{
    aether_arena a;
    void *o;
    if (!buf || !obj)
        return AETHER_ERR_NULL_ARG;
    aether_arena_init(&a, buf, len);
    o = layout(&a, cfg);
    if (!o)
        return a.status != AETHER_OK ? a.status : AETHER_ERR_BUFFER_TOO_SMALL;
    *obj = o;
    return AETHER_OK;
}

aether_status aether_feat_layout_create_(aether_feat_layout_fn layout, const void *cfg,
                                         void **obj, void **block)
{
    size_t bytes = 0;
    void *buf;
    aether_status s = aether_feat_layout_size_(layout, cfg, &bytes);
    if (s != AETHER_OK)
        return s;
    buf = malloc(bytes);
    if (!buf)
        return AETHER_ERR_NO_MEM;
    s = aether_feat_layout_init_(layout, buf, bytes, cfg, obj);
    if (s != AETHER_OK) {
        free(buf);
        return s;
    }
    *block = buf;
    return AETHER_OK;
}
