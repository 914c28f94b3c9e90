/*
 * A long stream through a small bounded cache: 1,000,000 frames per policy.
 * The cache lives in a fixed caller buffer (with a guard tail); the test
 * checks that the length never exceeds the capacity, every output is
 * finite, the object's size never changes, nothing past the buffer is
 * written and (on glibc) that no heap memory is taken during the stream.
 */
#include <stdint.h>
#include <stdlib.h>

#include "aether/kvcache.h"
#include "check.h"

#if defined(__GLIBC__) && (__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33))
#include <malloc.h>
#define HEAP_IN_USE() (mallinfo2().uordblks)
#else
#define HEAP_IN_USE() ((size_t)0)
#endif

/* 1,000,000 natively; under emulation (AETHER_EMULATED, set by
 * scripts/cross_test.sh) 20,000, still hundreds of evictions per policy. */
static size_t g_frames = 1000000u;
#define FRAMES g_frames
#define CAP 64u
#define QH 2u
#define KVH 1u
#define DIM 4u
#define GUARD 256u

static uint64_t g_rng = 99;

static float rnd(void)
{
    uint64_t z = (g_rng += UINT64_C(0x9E3779B97F4A7C15));
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    z ^= z >> 31;
    return (float)(z >> 40) * (1.0f / 16777216.0f) * 2.0f - 1.0f;
}

static void stream(aether_kv_evict ev, aether_kv_storage st)
{
    aether_attn_config cfg;
    aether_attn_params ap = aether_attn_params_default();
    aether_kvcache_params p;
    aether_kvcache *kc = NULL;
    size_t g = 0, bytes = 0, t, x, slot, over = 0, nonfinite = 0, bad_status = 0, resets = 0;
    size_t heap0, heap1, evictions = 0;
    unsigned char *buf;
    float q[QH * DIM], k[KVH * DIM], v[KVH * DIM], o[QH * DIM], scores[CAP];
    aether_tensor q1, k1, v1, o1;
    int guard_ok = 1;

    ap.window = 8;
    ap.block_size = 4;
    ap.globals = &g;
    ap.n_globals = 1;
    CHECK_STATUS(aether_attn_config_init(&cfg, &ap), AETHER_OK);
    p = aether_kvcache_params_default(&cfg, CAP, KVH, DIM);
    p.evict = ev;
    p.storage = st;
    CHECK_STATUS(aether_kvcache_size(&p, &bytes), AETHER_OK);
    buf = (unsigned char *)malloc(bytes + GUARD);
    if (!buf)
        return;
    memset(buf + bytes, 0xA5, GUARD);
    CHECK_STATUS(aether_kvcache_init(buf, bytes, &p, &kc), AETHER_OK);
    (void)aether_tensor_view(&q1, q, QH * DIM, 1, QH, DIM);
    (void)aether_tensor_view(&k1, k, KVH * DIM, 1, KVH, DIM);
    (void)aether_tensor_view(&v1, v, KVH * DIM, 1, KVH, DIM);
    (void)aether_tensor_view(&o1, o, QH * DIM, 1, QH, DIM);

    heap0 = HEAP_IN_USE();
    for (t = 0; t < FRAMES; ++t) {
        aether_status s;
        for (x = 0; x < KVH * DIM; ++x) {
            k[x] = rnd();
            v[x] = rnd();
        }
        for (x = 0; x < QH * DIM; ++x)
            q[x] = rnd();
        if (ev == AETHER_KV_EVICT_H2O_COMPAT) {
            size_t n = aether_kvcache_len(kc);
            for (x = 0; x < n; ++x)
                scores[x] = rnd();
            s = aether_kvcache_evict_and_append(kc, &k1, &v1, scores, n, &g, 1, 8, &slot);
            evictions += slot != AETHER_KVCACHE_NO_SLOT;
        } else {
            s = aether_kvcache_append(kc, &k1, &v1);
            if (s == AETHER_ERR_CACHE_FULL && ev == AETHER_KV_EVICT_NONE) {
                /* an unbounded policy can only start over */
                ++resets;
                (void)aether_kvcache_reset(kc);
                s = aether_kvcache_append(kc, &k1, &v1);
            }
        }
        bad_status += s != AETHER_OK;
        s = aether_kvcache_decode_step(&cfg, &q1, kc, &o1);
        bad_status += s != AETHER_OK;
        over += aether_kvcache_len(kc) > CAP;
        for (x = 0; x < QH * DIM; ++x)
            nonfinite += !aether_isfinite(o[x]);
    }
    heap1 = HEAP_IN_USE();
    for (x = 0; x < GUARD; ++x)
        if (buf[bytes + x] != 0xA5)
            guard_ok = 0;
    CHECK_EQ_INT(bad_status, 0);
    CHECK_EQ_INT(over, 0);
    CHECK_EQ_INT(nonfinite, 0);
    CHECK(guard_ok);
    CHECK_EQ_INT(aether_kvcache_bytes(kc), bytes);
    CHECK_EQ_INT(heap1, heap0);
    CHECK_EQ_INT(aether_kvcache_len(kc),
                 ev == AETHER_KV_EVICT_NONE ? FRAMES % CAP ? FRAMES % CAP : CAP : CAP);
    if (ev == AETHER_KV_EVICT_NONE)
        CHECK_EQ_INT(resets, (FRAMES - 1) / CAP);
    else
        CHECK_EQ_INT(aether_kvcache_tokens_seen(kc), FRAMES);
    if (ev == AETHER_KV_EVICT_H2O_COMPAT)
        CHECK_EQ_INT(evictions, FRAMES - CAP);
    if (ev == AETHER_KV_EVICT_SLIDING) {
        /* the global and the 63 newest tokens */
        size_t tok, s2, n_new = 0, has0 = 0;
        for (s2 = 0; s2 < CAP; ++s2) {
            CHECK_STATUS(aether_kvcache_slot_token(kc, s2, &tok), AETHER_OK);
            has0 += tok == 0;
            n_new += tok >= FRAMES - (CAP - 1);
        }
        CHECK_EQ_INT(has0, 1);
        CHECK_EQ_INT(n_new, CAP - 1);
    }
    free(buf);
}

static void test_long_none(void)
{
    const char *emu = getenv("AETHER_EMULATED");
    if (emu && *emu && *emu != '0')
        g_frames = 20000u;
    stream(AETHER_KV_EVICT_NONE, AETHER_KV_F32);
}
static void test_long_sliding(void)
{
    stream(AETHER_KV_EVICT_SLIDING, AETHER_KV_F32);
}
static void test_long_sliding_f16(void)
{
    stream(AETHER_KV_EVICT_SLIDING, AETHER_KV_F16);
}
static void test_long_scored(void)
{
    stream(AETHER_KV_EVICT_SCORED, AETHER_KV_F32);
}
static void test_long_h2o(void)
{
    stream(AETHER_KV_EVICT_H2O_COMPAT, AETHER_KV_F32);
}

TEST_MAIN(test_long_none, test_long_sliding, test_long_sliding_f16, test_long_scored,
          test_long_h2o)
