/* Overflow-checked size arithmetic and the caller-memory arena. */
#include "aether/core.h"

#include <string.h>

aether_status aether_size_add(size_t a, size_t b, size_t *out)
{
    if (a > (size_t)-1 - b)
        return AETHER_ERR_OVERFLOW;
    *out = a + b;
    return AETHER_OK;
}

aether_status aether_size_mul(size_t a, size_t b, size_t *out)
{
    if (a != 0 && b > (size_t)-1 / a)
        return AETHER_ERR_OVERFLOW;
    *out = a * b;
    return AETHER_OK;
}

aether_status aether_size_mul3(size_t a, size_t b, size_t c, size_t *out)
{
    size_t ab;
    if (aether_size_mul(a, b, &ab) != AETHER_OK)
        return AETHER_ERR_OVERFLOW;
    return aether_size_mul(ab, c, out);
}

size_t aether_ceil_div(size_t a, size_t b)
{
    if (b == 0 || a == 0)
        return 0;
    return 1 + (a - 1) / b;
}

void aether_arena_init(aether_arena *a, void *buf, size_t capacity)
{
    a->base = (unsigned char *)buf;
    a->capacity = buf ? capacity : 0;
    a->used = 0;
    a->status = AETHER_OK;
}

void aether_arena_measure(aether_arena *a)
{
    a->base = NULL;
    a->capacity = 0;
    a->used = 0;
    a->status = AETHER_OK;
}

void *aether_arena_alloc(aether_arena *a, size_t count, size_t elem, size_t align)
{
    size_t bytes, start, end, addr, pad;
    if (a->status != AETHER_OK)
        return NULL;
    if (align == 0 || (align & (align - 1)) != 0)
        align = AETHER_ALIGN;
    if (aether_size_mul(count, elem, &bytes) != AETHER_OK) {
        a->status = AETHER_ERR_OVERFLOW;
        return NULL;
    }
    /* Align the absolute address when a buffer exists. Measuring cannot know
     * the buffer's address, so it counts the worst-case padding for every
     * block: the measured size is then enough for any base alignment. */
    if (a->base) {
        addr = (size_t)(uintptr_t)(a->base + a->used);
        pad = (align - (addr & (align - 1))) & (align - 1);
    } else {
        pad = align - 1;
    }
    if (aether_size_add(a->used, pad, &start) != AETHER_OK ||
        aether_size_add(start, bytes, &end) != AETHER_OK) {
        a->status = AETHER_ERR_OVERFLOW;
        return NULL;
    }
    if (!a->base) {
        a->used = end;
        return NULL;
    }
    if (end > a->capacity) {
        a->status = AETHER_ERR_BUFFER_TOO_SMALL;
        return NULL;
    }
    a->used = end;
    if (bytes)
        memset(a->base + start, 0, bytes);
    return a->base + start;
}
