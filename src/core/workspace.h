/*
 * Internal: the one workspace check of every public call that takes
 * (void *ws, size_t ws_len) - the rule stated in aether/core.h.
 */
#ifndef AETHER_CORE_WORKSPACE_H
#define AETHER_CORE_WORKSPACE_H

#include "aether/core.h"

/* need: the bytes this call uses. NULL is an error unless it needs none. */
static inline aether_status aether_ws_check_(const void *ws, size_t ws_len, size_t need)
{
    if (need == 0)
        return AETHER_OK;
    if (!ws)
        return AETHER_ERR_NULL_ARG;
    return ws_len < need ? AETHER_ERR_BUFFER_TOO_SMALL : AETHER_OK;
}

#endif /* AETHER_CORE_WORKSPACE_H */
