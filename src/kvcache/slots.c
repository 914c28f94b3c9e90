/*
 * Bounded caches (SLIDING / SCORED): where a logical position lives, and
 * which slot a full cache gives up. Slots are replaced in place, so no row
 * ever moves; a small open-addressing table maps token ids to slots.
 */
#include <math.h>
#include <string.h>

#include "kvcache/kvcache_internal.h"

static size_t home(const aether_kvcache *c, size_t pos)
{
    uint64_t z = (uint64_t)pos * UINT64_C(0x9E3779B97F4A7C15);
    z ^= z >> 29;
    return (size_t)z & c->hash_mask;
}

int aether_kv_lookup(const aether_kvcache *c, size_t pos, size_t *slot)
{
    size_t i, e;
    if (!aether_kv_logical(c)) {
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

void aether_kv_hash_insert(aether_kvcache *c, size_t slot)
{
    size_t i = home(c, c->slot_token[slot]);
    while (c->hash[i] != 0)
        i = (i + 1) & c->hash_mask;
    c->hash[i] = slot + 1;
}

/* Backward-shift deletion keeps every probe chain unbroken without
 * tombstones, so the table never degrades over a long stream. */
void aether_kv_hash_remove(aether_kvcache *c, size_t slot)
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

void aether_kv_hash_clear(aether_kvcache *c)
{
    memset(c->hash, 0, (c->hash_mask + 1) * sizeof(size_t));
}

int aether_kv_is_protected_token(const aether_kvcache *c, size_t t)
{
    size_t g;
    for (g = 0; g < c->n_protect; ++g)
        if (c->protect[g] == t)
            return 1;
    return 0;
}

/* Total order for scores: NaN is the smallest value (section 17.16). */
static int score_less(float a, float b)
{
    if (isnan(a))
        return !isnan(b);
    if (isnan(b))
        return 0;
    return a < b;
}

size_t aether_kv_victim(const aether_kvcache *c)
{
    size_t s, best = 0;
    int found = 0;
    if (c->evict == AETHER_KV_EVICT_SLIDING) {
        /* Non-protected slots were filled in token order from the cursor on,
         * so the first one from the cursor holds the oldest token. At most
         * n_protect slots are skipped. */
        s = c->cursor;
        while (c->slot_protected[s])
            s = s + 1 == c->capacity ? 0 : s + 1;
        return s;
    }
    for (s = 0; s < c->capacity; ++s) {
        size_t t = c->slot_token[s];
        if (c->slot_protected[s] || c->next_token - t <= c->protect_recent)
            continue;
        if (!found || score_less(c->score[s], c->score[best]) ||
            (!score_less(c->score[best], c->score[s]) && t < c->slot_token[best])) {
            best = s;
            found = 1;
        }
    }
    return best;
}
