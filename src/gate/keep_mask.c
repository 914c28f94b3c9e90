/*
 * Reference keep masks (docs/KERNELS.md sections 11.5-11.6) under a total
 * order: NaN below every number, ties to the lower index (docs/KERNELS.md 11.8). The
 * reference's comparator is inconsistent with NaN; this one is not, so the
 * selection is well defined for every input.
 */
#include "core/workspace.h"
#include "gate/gate_internal.h"

#include <math.h>
#include <stdlib.h>

int aether_salience_above_(float a, float b)
{
    if (isnan(a))
        return 0;
    if (isnan(b))
        return 1;
    return a > b;
}

/* Position i ranks above position j: higher salience, or equal and earlier. */
static int ranks_above(const float *s, size_t i, size_t j)
{
    if (aether_salience_above_(s[i], s[j]))
        return 1;
    if (aether_salience_above_(s[j], s[i]))
        return 0;
    return i < j;
}

/* Min-heap of indices by rank: the root is the weakest of the kept. */
static void idx_sift_down(const float *s, size_t *h, size_t n, size_t r)
{
    for (;;) {
        size_t c = 2 * r + 1, t;
        if (c >= n)
            return;
        if (c + 1 < n && ranks_above(s, h[c], h[c + 1]))
            ++c;
        if (!ranks_above(s, h[r], h[c]))
            return;
        t = h[r];
        h[r] = h[c];
        h[c] = t;
        r = c;
    }
}

static void idx_sift_up(const float *s, size_t *h, size_t r)
{
    while (r > 0) {
        size_t p = (r - 1) / 2, t;
        if (!ranks_above(s, h[p], h[r]))
            return;
        t = h[p];
        h[p] = h[r];
        h[r] = t;
        r = p;
    }
}

/* Carves `count` elements of `elem` bytes from ws (aligned, whatever ws's
 * own alignment), or measures when ws is NULL. */
static void *carve(void *ws, size_t ws_len, size_t count, size_t elem, size_t *need,
                   aether_status *st)
{
    aether_arena a;
    void *p;
    if (ws)
        aether_arena_init(&a, ws, ws_len);
    else
        aether_arena_measure(&a);
    p = aether_arena_alloc(&a, count ? count : 1, elem, elem);
    *need = a.used;
    *st = a.status;
    return p;
}

aether_status aether_keep_mask_top_k_workspace_size(size_t n, size_t k, size_t *bytes)
{
    size_t m = k < n ? k : 0; /* k >= n needs no ranking at all */
    aether_status st;
    if (!bytes)
        return AETHER_ERR_NULL_ARG;
    (void)carve(NULL, 0, m, sizeof(size_t), bytes, &st);
    return st;
}

aether_status aether_keep_mask_top_k(const float *s, size_t n, size_t k, uint8_t *mask, void *ws,
                                     size_t ws_len)
{
    size_t need, i, used = 0;
    size_t *h;
    aether_status st;
    if (n == 0)
        return AETHER_OK;
    if (!s || !mask)
        return AETHER_ERR_NULL_ARG;
    if (k == 0 || k >= n) {
        for (i = 0; i < n; ++i)
            mask[i] = k ? 1 : 0;
        return AETHER_OK;
    }
    if ((st = aether_keep_mask_top_k_workspace_size(n, k, &need)) != AETHER_OK)
        return st;
    if ((st = aether_ws_check_(ws, ws_len, need)) != AETHER_OK)
        return st;
    h = (size_t *)carve(ws, ws_len, k, sizeof(size_t), &need, &st);
    /* Later indices lose ties, so a newcomer displaces the weakest kept
     * position only if its salience is strictly higher. */
    for (i = 0; i < n; ++i) {
        if (used < k) {
            h[used] = i;
            idx_sift_up(s, h, used++);
        } else if (ranks_above(s, i, h[0])) {
            h[0] = i;
            idx_sift_down(s, h, k, 0);
        }
    }
    for (i = 0; i < n; ++i)
        mask[i] = 0;
    for (i = 0; i < k; ++i)
        mask[h[i]] = 1;
    return AETHER_OK;
}

aether_status aether_keep_mask_quantile_workspace_size(size_t n, size_t *bytes)
{
    aether_status st;
    if (!bytes)
        return AETHER_ERR_NULL_ARG;
    (void)carve(NULL, 0, n, sizeof(float), bytes, &st);
    return st;
}

/* Ascending heapsort in the total order (NaN first). */
static void float_sift_down(float *a, size_t n, size_t r)
{
    for (;;) {
        size_t c = 2 * r + 1;
        float t;
        if (c >= n)
            return;
        if (c + 1 < n && aether_salience_above_(a[c + 1], a[c]))
            ++c;
        if (!aether_salience_above_(a[c], a[r]))
            return;
        t = a[r];
        a[r] = a[c];
        a[c] = t;
        r = c;
    }
}

static void float_sort(float *a, size_t n)
{
    size_t i;
    for (i = n / 2; i-- > 0;)
        float_sift_down(a, n, i);
    for (i = n; i-- > 1;) {
        float t = a[0];
        a[0] = a[i];
        a[i] = t;
        float_sift_down(a, i, 0);
    }
}

aether_status aether_keep_mask_quantile(const float *s, size_t n, float q, uint8_t *mask,
                                        void *ws, size_t ws_len)
{
    size_t need, i, idx;
    float *sorted, threshold, fidx;
    aether_status st;
    if (isnan(q))
        return AETHER_ERR_INVALID_ARG;
    if (n == 0)
        return AETHER_OK;
    if (!s || !mask)
        return AETHER_ERR_NULL_ARG;
    if ((st = aether_keep_mask_quantile_workspace_size(n, &need)) != AETHER_OK)
        return st;
    if ((st = aether_ws_check_(ws, ws_len, need)) != AETHER_OK)
        return st;
    sorted = (float *)carve(ws, ws_len, n, sizeof(float), &need, &st);
    for (i = 0; i < n; ++i)
        sorted[i] = s[i];
    float_sort(sorted, n);
    if (q < 0.0f)
        q = 0.0f;
    if (q > 1.0f)
        q = 1.0f;
    /* (float)n may round up past SIZE_MAX: convert only values below it */
    fidx = (float)n * q;
    idx = fidx < (float)n ? (size_t)fidx : n - 1;
    threshold = sorted[idx < n - 1 ? idx : n - 1];
    for (i = 0; i < n; ++i)
        mask[i] = aether_salience_above_(threshold, s[i]) ? 0 : 1;
    return AETHER_OK;
}
