/* Large heap blocks: huge-page friendly where the platform allows it. */
#if defined(__linux__)
#define _DEFAULT_SOURCE 1 /* madvise under -std=c11 */
#include <sys/mman.h>
#endif
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/bigmem.h"

#if defined(__linux__) && defined(MADV_HUGEPAGE)
#define HUGE_ALIGN ((size_t)2 << 20)
#endif

void *aether_big_alloc_(size_t bytes, int zero, void **base)
{
    unsigned char *p;
#ifdef HUGE_ALIGN
    if (bytes >= AETHER_BIG_MIN && bytes <= SIZE_MAX - HUGE_ALIGN) {
        uintptr_t u;
        size_t slack;
        p = (unsigned char *)malloc(bytes + HUGE_ALIGN);
        *base = p;
        if (!p)
            return NULL;
        u = (uintptr_t)p;
        slack = (HUGE_ALIGN - (size_t)(u % HUGE_ALIGN)) % HUGE_ALIGN;
        /* Advice only: a kernel without THP refuses it and nothing changes.
         * Advised before the first touch, so faults map whole huge pages. */
        (void)madvise(p + slack, bytes - bytes % HUGE_ALIGN, MADV_HUGEPAGE);
        if (zero)
            memset(p + slack, 0, bytes);
        return p + slack;
    }
#endif
    p = (unsigned char *)(zero ? calloc(bytes ? bytes : 1, 1) : malloc(bytes ? bytes : 1));
    *base = p;
    return p;
}
