/*
 * aether_head_step on a cache created for a narrower attention pattern
 * (same kv heads, head dim and block size, smaller window): the sparse
 * decode cannot run on it, and the step must say so before appending, so
 * the cache is unchanged and a later step on a matching cache gives what
 * it gives on a fresh one.
 */
#include <string.h>

#include "aether/head.h"
#include "check.h"

enum { QH = 4, D = 32, CAP = 64 };

static void rows(float *q, float *k, float *v, size_t t)
{
    size_t i;
    for (i = 0; i < QH * D; ++i)
        q[i] = 0.01f * (float)((i * 7 + t * 3) % 23) - 0.1f;
    for (i = 0; i < D; ++i) {
        k[i] = 0.02f * (float)((i * 5 + t) % 17) - 0.15f;
        v[i] = 0.03f * (float)((i * 3 + t * 11) % 13) - 0.2f;
    }
}

static void test_narrow_cache(void)
{
    aether_head h;
    aether_head_config c = aether_head_config_default_aether();
    aether_attn_config narrow;
    aether_kvcache_params p;
    aether_kvcache *bad = NULL, *good = NULL, *fresh = NULL;
    float q[QH * D], k[D], v[D], o[QH * D], o2[QH * D];
    aether_tensor tq, tk, tv, to, to2;
    size_t t;
    CHECK_STATUS(aether_head_init(&h, &c), AETHER_OK);
    CHECK(h.backend == AETHER_HEAD_SPARSE_GQA);
    narrow = h.attn;
    narrow.window = 2;
    p = aether_kvcache_params_default(&narrow, CAP, 1, D);
    CHECK_STATUS(aether_kvcache_create(&p, &bad), AETHER_OK);
    CHECK_STATUS(aether_head_make_cache(&h, CAP, &good), AETHER_OK);
    CHECK_STATUS(aether_head_make_cache(&h, CAP, &fresh), AETHER_OK);
    CHECK_STATUS(aether_tensor_view(&tq, q, QH * D, 1, QH, D), AETHER_OK);
    CHECK_STATUS(aether_tensor_view(&to, o, QH * D, 1, QH, D), AETHER_OK);
    CHECK_STATUS(aether_tensor_view(&to2, o2, QH * D, 1, QH, D), AETHER_OK);
    CHECK_STATUS(aether_tensor_view(&tk, k, D, 1, 1, D), AETHER_OK);
    CHECK_STATUS(aether_tensor_view(&tv, v, D, 1, 1, D), AETHER_OK);

    for (t = 0; t < 5; ++t) {
        rows(q, k, v, t);
        memset(o, 0x5A, sizeof o);
        memcpy(o2, o, sizeof o);
        CHECK_STATUS(aether_head_step(&h, &tq, &tk, &tv, bad, &to, NULL, 0),
                     AETHER_ERR_INVALID_CONFIG);
        /* Nothing was taken, nothing written. */
        CHECK_EQ_INT(aether_kvcache_len(bad), 0);
        CHECK_EQ_INT(aether_kvcache_tokens_seen(bad), 0);
        CHECK(memcmp(o, o2, sizeof o) == 0);
        /* The matching cache steps normally. */
        CHECK_STATUS(aether_head_step(&h, &tq, &tk, &tv, good, &to, NULL, 0), AETHER_OK);
        CHECK_EQ_INT(aether_kvcache_len(good), t + 1);
    }
    /* The same frames through a cache that never saw a failure: same bits. */
    for (t = 0; t < 5; ++t) {
        rows(q, k, v, t);
        CHECK_STATUS(aether_head_step(&h, &tq, &tk, &tv, fresh, &to2, NULL, 0), AETHER_OK);
    }
    CHECK(memcmp(o, o2, sizeof o) == 0);
    aether_kvcache_destroy(bad);
    aether_kvcache_destroy(good);
    aether_kvcache_destroy(fresh);
}

TEST_MAIN(test_narrow_cache)
