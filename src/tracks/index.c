/* The track table's index: id -> slot hash, least-recently-stepped list,
 * free-slot stack and the age heap (tracks_internal.h). Every operation is
 * O(1) on average except the heap's, O(log max_tracks). */
#include "tracks/tracks_internal.h"

#include <string.h>

static size_t bucket_of(const aether_tracks *t, uint64_t id)
{
    /* splitmix64's finaliser: consecutive ids spread over the buckets */
    id ^= id >> 30;
    id *= 0xBF58476D1CE4E5B9u;
    id ^= id >> 27;
    id *= 0x94D049BB133111EBu;
    id ^= id >> 31;
    return (size_t)id & t->index_mask;
}

size_t aether_tracks_find_(const aether_tracks *t, uint64_t id)
{
    size_t h = bucket_of(t, id);
    for (;;) {
        uint32_t v = t->index[h];
        if (v == 0)
            return AETHER_TRACKS_NONE;
        if (t->slots[v - 1].id == id)
            return v - 1;
        h = (h + 1) & t->index_mask;
    }
}

static void index_insert(aether_tracks *t, size_t i)
{
    size_t h = bucket_of(t, t->slots[i].id);
    while (t->index[h])
        h = (h + 1) & t->index_mask;
    t->index[h] = (uint32_t)(i + 1);
}

/* Backward-shift deletion: the entries after the hole that could not sit
 * in it move up, so probes never need tombstones. */
static void index_remove(aether_tracks *t, size_t i)
{
    size_t h = bucket_of(t, t->slots[i].id), j;
    while (t->index[h] != (uint32_t)(i + 1))
        h = (h + 1) & t->index_mask;
    j = h;
    for (;;) {
        size_t home;
        j = (j + 1) & t->index_mask;
        if (!t->index[j])
            break;
        home = bucket_of(t, t->slots[t->index[j] - 1].id);
        /* entry j may fill hole h unless its home lies cyclically in (h, j] */
        if (h <= j ? (h < home && home <= j) : (h < home || home <= j))
            continue;
        t->index[h] = t->index[j];
        h = j;
    }
    t->index[h] = 0;
}

static void lru_unlink(aether_tracks *t, uint32_t i)
{
    uint32_t p = t->lru_prev[i], n = t->lru_next[i];
    if (p == AETHER_TRACKS_NIL)
        t->lru_head = n;
    else
        t->lru_next[p] = n;
    if (n == AETHER_TRACKS_NIL)
        t->lru_tail = p;
    else
        t->lru_prev[n] = p;
}

static void lru_append(aether_tracks *t, uint32_t i)
{
    t->lru_prev[i] = t->lru_tail;
    t->lru_next[i] = AETHER_TRACKS_NIL;
    if (t->lru_tail == AETHER_TRACKS_NIL)
        t->lru_head = i;
    else
        t->lru_next[t->lru_tail] = i;
    t->lru_tail = i;
}

/* ---- age heap (max_age > 0 only) ---- */

static int heap_less(const aether_tracks *t, size_t a, size_t b)
{
    return t->slots[t->heap[a]].last_seen < t->slots[t->heap[b]].last_seen;
}

static void heap_swap(aether_tracks *t, size_t a, size_t b)
{
    uint32_t x = t->heap[a];
    t->heap[a] = t->heap[b];
    t->heap[b] = x;
    t->heap_pos[t->heap[a]] = (uint32_t)a;
    t->heap_pos[t->heap[b]] = (uint32_t)b;
}

static void heap_up(aether_tracks *t, size_t k)
{
    while (k > 0 && heap_less(t, k, (k - 1) / 2)) {
        heap_swap(t, k, (k - 1) / 2);
        k = (k - 1) / 2;
    }
}

static void heap_down(aether_tracks *t, size_t k)
{
    for (;;) {
        size_t l = 2 * k + 1, r = l + 1, m = k;
        if (l < t->heap_n && heap_less(t, l, m))
            m = l;
        if (r < t->heap_n && heap_less(t, r, m))
            m = r;
        if (m == k)
            return;
        heap_swap(t, k, m);
        k = m;
    }
}

static void heap_remove(aether_tracks *t, size_t i)
{
    size_t k = t->heap_pos[i];
    t->heap_n--;
    if (k != t->heap_n) {
        uint32_t moved = t->heap[t->heap_n];
        t->heap[k] = moved;
        t->heap_pos[moved] = (uint32_t)k;
        heap_up(t, k);
        heap_down(t, t->heap_pos[moved]);
    }
}

/* ---- the internal interface ---- */

void aether_tracks_index_clear_(aether_tracks *t)
{
    size_t i;
    memset(t->index, 0, (t->index_mask + 1) * sizeof *t->index);
    t->lru_head = t->lru_tail = AETHER_TRACKS_NIL;
    /* popped from the top: the lowest slot first */
    for (i = 0; i < t->n_slots; ++i)
        t->free_slots[i] = (uint32_t)(t->n_slots - 1 - i);
    t->n_free = t->n_slots;
    t->heap_n = 0;
}

size_t aether_tracks_free_take_(aether_tracks *t)
{
    return t->n_free ? t->free_slots[--t->n_free] : AETHER_TRACKS_NONE;
}

void aether_tracks_free_put_(aether_tracks *t, size_t i)
{
    t->free_slots[t->n_free++] = (uint32_t)i;
}

void aether_tracks_link_(aether_tracks *t, size_t i)
{
    index_insert(t, i);
    lru_append(t, (uint32_t)i);
    if (t->params.max_age > 0.0) {
        t->heap[t->heap_n] = (uint32_t)i;
        t->heap_pos[i] = (uint32_t)t->heap_n;
        heap_up(t, t->heap_n++);
    }
}

void aether_tracks_touched_(aether_tracks *t, size_t i)
{
    if (t->lru_tail != (uint32_t)i) {
        lru_unlink(t, (uint32_t)i);
        lru_append(t, (uint32_t)i);
    }
    if (t->params.max_age > 0.0)
        heap_down(t, t->heap_pos[i]); /* last_seen only grows */
}

void aether_tracks_release_(aether_tracks *t, size_t i)
{
    index_remove(t, i);
    lru_unlink(t, (uint32_t)i);
    if (t->params.max_age > 0.0)
        heap_remove(t, i);
    aether_tracks_wipe_(t, i);
    aether_tracks_free_put_(t, i);
}

/* Visit the heap below position k while its slots are due at `now`: the
 * count of due tracks, in O(that count). */
static size_t count_due_below(const aether_tracks *t, size_t k, double now)
{
    if (k >= t->heap_n || !(now - t->slots[t->heap[k]].last_seen > t->params.max_age))
        return 0;
    return 1 + count_due_below(t, 2 * k + 1, now) + count_due_below(t, 2 * k + 2, now);
}

size_t aether_tracks_count_due_(const aether_tracks *t, double now)
{
    return t->params.max_age > 0.0 ? count_due_below(t, 0, now) : 0;
}

size_t aether_tracks_oldest_due_(const aether_tracks *t, double now)
{
    if (t->params.max_age > 0.0 && t->heap_n &&
        now - t->slots[t->heap[0]].last_seen > t->params.max_age)
        return t->heap[0];
    return AETHER_TRACKS_NONE;
}
