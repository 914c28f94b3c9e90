/*
 * Workspaces for tests: test_ws(bytes), a malloc'd buffer of at least one
 * byte, and the ws_* one-call wrappers of tools/ws_call.h (size query,
 * buffer, call, free). Tests of the workspace rule itself call the API
 * directly. Include after check.h.
 */
#ifndef AETHER_TESTS_TEST_WS_H
#define AETHER_TESTS_TEST_WS_H

#include <stdlib.h>
#include <string.h>

#include "ws_call.h"

/* A workspace of `bytes` (at least 1, so a 0-byte query still gives a
 * pointer), or NULL when out of memory. */
static inline void *test_ws(size_t bytes)
{
    return malloc(bytes ? bytes : 1);
}

/* 1 when all n floats equal v bit for bit (an output a failed call must
 * leave untouched). */
static inline int test_all_equal(const float *p, size_t n, float v)
{
    size_t i;
    for (i = 0; i < n; ++i)
        if (memcmp(&p[i], &v, sizeof v) != 0)
            return 0;
    return 1;
}

#endif /* AETHER_TESTS_TEST_WS_H */
