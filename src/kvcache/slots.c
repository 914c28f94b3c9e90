/*
 * Bounded caches (SLIDING / SCORED): where a logical position lives, and
 * which slot a full cache gives up. Slots are replaced in place, so no row
 * ever moves; a small open-addressing table maps token ids to slots.
 */
#include <math.h>
#include <string.h>

#include "kvcache/kv_checks.h"
#include "kvcache/kv_slots.h"

static size_t home(const aether_kvcache *c, size_t pos)
{
    uint64_t z = (uint64_t)pos * UINT64_C(0x9E3779B97F4A7C15);
    z ^= z >> 29;
    return (size_t)z & c->hash_mask;
}

int aether_kv_lookup_(const aether_kvcache *c, size_t pos, size_t *slot)
{
    size_t i, e;
    if (!aether_kv_logical_(c)) {
        if (pos >= c->len)
            return 0;
        *slot = pos;
        return 1;
    }
    for (i = home(c, pos);; i = (i + 1) & c->hash_mask) {
        e = c->hash[i];
        if (e == 0)
            return 0;
        if (c->slot_token[e - 1] == pos) {
            *slot = e - 1;
            return 1;
        }
    }
}

void aether_kv_hash_insert_(aether_kvcache *c, size_t slot)
{
    size_t i = home(c, c->slot_token[slot]);
    while (c->hash[i] != 0)
        i = (i + 1) & c->hash_mask;
    c->hash[i] = slot + 1;
}

/* Backward-shift deletion keeps every probe chain unbroken without
 * tombstones, so the table never degrades over a long stream. */
void aether_kv_hash_remove_(aether_kvcache *c, size_t slot)
{
    size_t i = home(c, c->slot_token[slot]), j, k;
    while (c->hash[i] != slot + 1) {
        if (c->hash[i] == 0)
            return;
        i = (i + 1) & c->hash_mask;
    }
    j = i;
    for (;;) {
        j = (j + 1) & c->hash_mask;
        if (c->hash[j] == 0)
            break;
        k = home(c, c->slot_token[c->hash[j] - 1]);
        /* The entry at j may stay if its home lies cyclically in (i, j]. */
        if (i <= j ? (i < k && k <= j) : (i < k || k <= j))
            continue;
        c->hash[i] = c->hash[j];
        i = j;
    }
    c->hash[i] = 0;
}

void aether_kv_hash_clear_(aether_kvcache *c)
{
    memset(c->hash, 0, (c->hash_mask + 1) * sizeof(size_t));
}

int aether_kv_is_protected_token_(const aether_kvcache *c, size_t t)
{
    size_t g;
    for (g = 0; g < c->n_protect; ++g)
        if (c->protect[g] == t)
            return 1;
    return 0;
}

/* Total order for scores: NaN is the smallest value (docs/KERNELS.md section 11.8). */
static int score_less(float a, float b)
{
    if (isnan(a))
        return !isnan(b);
    if (isnan(b))
        return 0;
    return a < b;
}

int aether_kv_evictable_(const aether_kvcache *c, size_t slot)
{
    return slot < c->len && !c->slot_protected[slot] &&
           c->next_token - c->slot_token[slot] > c->protect_recent;
}

/* The weaker of two tree entries (slot + 1, 0 = none): lower score, NaN
 * lowest, ties to the older token. */
static size_t weaker(const aether_kvcache *c, size_t a, size_t b)
{
    float sa, sb;
    if (!a || !b)
        return a ? a : b;
    sa = c->score[a - 1];
    sb = c->score[b - 1];
    if (score_less(sa, sb))
        return a;
    if (score_less(sb, sa))
        return b;
    return c->slot_token[a - 1] < c->slot_token[b - 1] ? a : b;
}

void aether_kv_tree_update_(aether_kvcache *c, size_t slot)
{
    size_t i = c->tree_base + slot;
    c->tree[i] = aether_kv_evictable_(c, slot) ? slot + 1 : 0;
    for (i >>= 1; i >= 1; i >>= 1)
        c->tree[i] = weaker(c, c->tree[2 * i], c->tree[2 * i + 1]);
}

size_t aether_kv_victim_(const aether_kvcache *c)
{
    size_t s;
    if (c->evict == AETHER_KV_EVICT_SLIDING) {
        /* Non-protected slots were filled in token order from the cursor on,
         * so the first one from the cursor holds the oldest token. At most
         * n_protect slots are skipped. */
        s = c->cursor;
        while (c->slot_protected[s])
            s = s + 1 == c->capacity ? 0 : s + 1;
        return s;
    }
    /* The creation constraint (capacity > protected + recent) guarantees an
     * evictable slot, so the root is never empty. */
    return c->tree[1] ? c->tree[1] - 1 : 0;
}
