/*
 * Large-block allocation (core/bigmem.h) and the constructors built on it:
 * usable size, zeroing, the free-able base, and that tensors and caches big
 * enough to take the huge-page path behave exactly like small ones.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aether/kvcache.h"
#include "aether/tensor.h"
#include "check.h"
#include "core/bigmem.h"

static int all_zero(const unsigned char *p, size_t n)
{
    size_t i;
    for (i = 0; i < n; ++i)
        if (p[i])
            return 0;
    return 1;
}

static void test_small_is_plain(void)
{
    void *base = NULL;
    unsigned char *p = (unsigned char *)aether_big_alloc_(1000, 1, &base);
    CHECK(p != NULL);
    CHECK(p == base); /* below the threshold: the malloc block itself */
    CHECK(all_zero(p, 1000));
    free(base);
    p = (unsigned char *)aether_big_alloc_(0, 1, &base);
    CHECK(p != NULL && p == base);
    free(base);
}

static void test_large_zeroed_and_aligned(void)
{
    const size_t n = AETHER_BIG_MIN + 12345;
    void *base = NULL;
    unsigned char *p = (unsigned char *)aether_big_alloc_(n, 1, &base);
    CHECK(p != NULL && base != NULL);
    if (!p)
        return;
    CHECK(p >= (unsigned char *)base);
    CHECK(all_zero(p, n));
#if defined(__linux__)
    /* Placed at a 2 MiB boundary, within the block malloc returned. */
    CHECK((uintptr_t)p % ((uintptr_t)2 << 20) == 0);
    CHECK((size_t)(p - (unsigned char *)base) < ((size_t)2 << 20));
#endif
    p[0] = 1;
    p[n - 1] = 2; /* the whole requested size is writable */
    CHECK(p[0] == 1 && p[n - 1] == 2);
    free(base);

    /* Not zeroed on request: still n usable bytes. */
    p = (unsigned char *)aether_big_alloc_(n, 0, &base);
    CHECK(p != NULL);
    if (p) {
        memset(p, 0x5a, n);
        CHECK(p[n / 2] == 0x5a);
    }
    free(base);
}

static void test_large_tensor(void)
{
    aether_tensor t;
    size_t i, n;
    /* 2048 x 8 x 128 floats = 8 MiB: takes the large path. */
    CHECK_EQ_INT(aether_tensor_zeros(&t, 2048, 8, 128), AETHER_OK);
    n = aether_tensor_size(&t);
    CHECK(n == (size_t)2048 * 8 * 128);
    CHECK(all_zero((const unsigned char *)t.data, n * sizeof(float)));
    for (i = 0; i < n; ++i)
        t.data[i] = (float)i;
    CHECK(t.data[n - 1] == (float)(n - 1));
    aether_tensor_free(&t);
    CHECK(t.data == NULL && t.owned_ == NULL);
}

static void test_large_cache(void)
{
    aether_attn_params ap = aether_attn_params_default();
    aether_attn_config cfg;
    aether_kvcache_params p;
    aether_kvcache *c = NULL;
    aether_tensor k, v;
    size_t i, need = 0;
    CHECK_EQ_INT(aether_attn_config_init(&cfg, &ap), AETHER_OK);
    /* 8192 tokens x 4 heads x 64 floats, K and V: 16 MiB. */
    p = aether_kvcache_params_default(&cfg, 8192, 4, 64);
    CHECK_EQ_INT(aether_kvcache_size(&p, &need), AETHER_OK);
    CHECK(need >= AETHER_BIG_MIN);
    CHECK_EQ_INT(aether_kvcache_create(&p, &c), AETHER_OK);
    CHECK_EQ_INT(aether_tensor_zeros(&k, 3, 4, 64), AETHER_OK);
    CHECK_EQ_INT(aether_tensor_zeros(&v, 3, 4, 64), AETHER_OK);
    for (i = 0; i < 3 * 4 * 64; ++i) {
        k.data[i] = 0.001f * (float)i;
        v.data[i] = -0.002f * (float)i;
    }
    CHECK_EQ_INT(aether_kvcache_append_all(c, &k, &v), AETHER_OK);
    CHECK_EQ_INT(aether_kvcache_len(c), 3);
    aether_kvcache_destroy(c);
    aether_tensor_free(&k);
    aether_tensor_free(&v);
}

TEST_MAIN(test_small_is_plain, test_large_zeroed_and_aligned, test_large_tensor, test_large_cache)
