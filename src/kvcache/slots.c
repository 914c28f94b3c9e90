/*
 * Bounded caches (SLIDING / SCORED): where a logical position lives, and
 * which slot a full cache gives up. Slots are replaced in place, so no row
 * ever moves; a small table maps token ids to slots (SLIDING: a direct
 * map, SCORED: open addressing).
 */
#include <math.h>
#include <string.h>

#include "kvcache/kv_checks.h"
#include "kvcache/kv_slots.h"

/* ---------- SLIDING: a direct map ----------
 * Besides its protected tokens, a sliding cache holds only its newest
 * tokens, whose ids lie within `capacity` of one another: with
 * hash_mask + 1 >= 2 * capacity, entry t & hash_mask belongs to at most one
 * of them. Protected tokens (any age) keep their slots in protect_slot.
 * An append then touches one entry for the token it stores and one for the
 * one it evicts, and consecutive tokens share cache lines: an open-
 * addressing table hashes them apart, so each append missed the cache
 * twice. */

static int direct_map(const aether_kvcache *c)
{
    return c->evict == AETHER_KV_EVICT_SLIDING;
}

static int direct_lookup(const aether_kvcache *c, size_t pos, size_t *slot)
{
    size_t e = c->hash[pos & c->hash_mask], g;
    if (e != 0 && c->slot_token[e - 1] == pos) {
        *slot = e - 1;
        return 1;
    }
    for (g = 0; g < c->n_protect; ++g)
        if (c->protect[g] == pos && c->protect_slot[g] != 0) {
            *slot = c->protect_slot[g] - 1;
            return 1;
        }
    return 0;
}

/* The protected token's entries of protect_slot are set (slot + 1) or
 * cleared (0) when they hold `was`. */
static void protect_slots_set(aether_kvcache *c, size_t pos, size_t was, size_t to)
{
    size_t g;
    for (g = 0; g < c->n_protect; ++g)
        if (c->protect[g] == pos && c->protect_slot[g] == was)
            c->protect_slot[g] = to;
}

static void direct_insert(aether_kvcache *c, size_t slot)
{
    size_t pos = c->slot_token[slot];
    if (c->slot_protected[slot])
        protect_slots_set(c, pos, 0, slot + 1);
    else
        c->hash[pos & c->hash_mask] = slot + 1;
}

static void direct_remove(aether_kvcache *c, size_t slot)
{
    size_t pos = c->slot_token[slot], *e = &c->hash[pos & c->hash_mask];
    if (c->slot_protected[slot])
        protect_slots_set(c, pos, slot + 1, 0);
    else if (*e == slot + 1)
        *e = 0;
}

/* ---------- SCORED: open addressing ---------- */

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
    if (direct_map(c))
        return direct_lookup(c, pos, slot);
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
    size_t i;
    if (direct_map(c)) {
        direct_insert(c, slot);
        return;
    }
    i = home(c, c->slot_token[slot]);
    while (c->hash[i] != 0)
        i = (i + 1) & c->hash_mask;
    c->hash[i] = slot + 1;
}

/* Backward-shift deletion keeps every probe chain unbroken without
 * tombstones, so the table never degrades over a long stream. */
void aether_kv_hash_remove_(aether_kvcache *c, size_t slot)
{
    size_t i, j, k;
    if (direct_map(c)) {
        direct_remove(c, slot);
        return;
    }
    i = home(c, c->slot_token[slot]);
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
    memset(c->protect_slot, 0, sizeof c->protect_slot);
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
