/*
 * The reference's caller-scored heavy-hitter eviction (docs/KERNELS.md 14.6),
 * kept bit-compatible: slot positions, left compaction and a landmark
 * rebuild from slot order. Unlike the reference, the incoming token is fully
 * validated before anything is evicted, so a failure changes nothing.
 */
#include <math.h>
#include <string.h>

#include "kvcache/kv_append.h"
#include "kvcache/kv_checks.h"
#include "kvcache/kv_landmarks.h"

static int in_slots(const size_t *g, size_t n, size_t j)
{
    size_t i;
    for (i = 0; i < n; ++i)
        if (g[i] == j)
            return 1;
    return 0;
}

/* Lowest score wins; NaN counts as lowest; ties keep the lower index. */
static int lower(float a, float b)
{
    if (isnan(a))
        return !isnan(b);
    if (isnan(b))
        return 0;
    return a < b;
}

static size_t pick_victim(const aether_kvcache *c, const float *scores, const size_t *globals,
                          size_t n_globals, size_t window)
{
    size_t lo = c->len > window ? c->len - window : 0, j, best = 0;
    int found = 0;
    for (j = 0; j < lo; ++j) {
        if (in_slots(globals, n_globals, j))
            continue;
        if (!found || lower(scores[j], scores[best])) {
            best = j;
            found = 1;
        }
    }
    /* Everything protected: the reference gives up slot 0, global or not. */
    return found ? best : 0;
}

static void remove_slot(aether_kvcache *c, size_t victim)
{
    size_t tail = c->len - 1 - victim, t;
    float *k = c->k32 + victim * c->row, *v = c->v32 + victim * c->row;
    memmove(k, k + c->row, tail * c->row * sizeof(float));
    memmove(v, v + c->row, tail * c->row * sizeof(float));
    memmove(c->slot_token + victim, c->slot_token + victim + 1, tail * sizeof(size_t));
    c->len -= 1;
    aether_kv_landmarks_clear_(c);
    for (t = 0; t < c->len; ++t)
        aether_kv_landmark_add_(c, t, c->k32 + t * c->row, c->v32 + t * c->row);
}

aether_status aether_kvcache_evict_and_append(aether_kvcache *cache, const aether_tensor *k1,
                                              const aether_tensor *v1, const float *scores,
                                              size_t n_scores, const size_t *globals,
                                              size_t n_globals, size_t window,
                                              size_t *evicted_slot)
{
    size_t victim;
    aether_status st = aether_kv_check_(cache);
    if (st != AETHER_OK)
        return st;
    if (cache->evict != AETHER_KV_EVICT_H2O_COMPAT)
        return AETHER_ERR_STATE;
    if (!evicted_slot || !k1 || !v1)
        return AETHER_ERR_NULL_ARG;
    st = aether_kv_check_token_tensor_(cache, k1);
    if (st == AETHER_OK)
        st = aether_kv_check_token_tensor_(cache, v1);
    if (st != AETHER_OK)
        return st;
    st = aether_kv_check_rows_(cache, k1->data, v1->data);
    if (st != AETHER_OK)
        return st;
    if (cache->next_token == SIZE_MAX)
        return AETHER_ERR_OVERFLOW;
    if (cache->len < cache->capacity) {
        aether_kv_push_(cache, k1->data, v1->data);
        *evicted_slot = AETHER_KVCACHE_NO_SLOT;
        return AETHER_OK;
    }
    if ((n_scores > 0 && !scores) || (n_globals > 0 && !globals))
        return AETHER_ERR_NULL_ARG;
    if (n_scores != cache->len)
        return AETHER_ERR_SCORES_LENGTH;
    if (cache->capacity == 0)
        return AETHER_ERR_CACHE_FULL;
    victim = pick_victim(cache, scores, globals, n_globals, window);
    remove_slot(cache, victim);
    aether_kv_push_(cache, k1->data, v1->data);
    *evicted_slot = victim;
    return AETHER_OK;
}
