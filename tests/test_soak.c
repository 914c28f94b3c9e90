/*
 * Soak: stream many frames (default 2,000,000; AETHER_SOAK_FRAMES or argv[1]
 * overrides, scripts/soak.sh runs the long 8,640,000-frame version) through
 * the firmware ABI in STREAMING mode with a bounded cache, for each cache
 * policy that keeps streaming (sliding, scored), plus a WINDOW-mode context
 * and a bare KV cache alongside.
 *
 * Checks: no allocation at all after init (the allocator is wrapped, see
 * tests/CMakeLists.txt), the context's byte size constant, resident memory
 * flat after the first eviction (Linux), logits finite at every checkpoint,
 * frames_total exact (64-bit, no wrap), frames_held pinned at window_len,
 * the eviction flag set, and a reset giving back the very first logits.
 *
 * Counters started near their wrap point (token ids, frames_total) are
 * tested in test_counters.c, which sets them through the internal layouts.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "aether/blob.h"
#include "aether/kvcache.h"
#include "check.h"
#include "test_util.h"
#include "ruv_temporal.h"

/* ---- allocation counter (linked with --wrap where the linker can; else
 * the count stays 0 and only the other checks apply) ---- */
static unsigned long g_allocs;
#ifdef AETHER_ALLOC_WRAP
void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t m);
void *__real_realloc(void *p, size_t n);
void __real_free(void *p);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t m);
void *__wrap_realloc(void *p, size_t n);
void __wrap_free(void *p);

void *__wrap_malloc(size_t n)
{
    g_allocs++;
    return __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t m)
{
    g_allocs++;
    return __real_calloc(n, m);
}

void *__wrap_realloc(void *p, size_t n)
{
    g_allocs++;
    return __real_realloc(p, n);
}

void __wrap_free(void *p)
{
    __real_free(p);
}
#endif

#define IN_DIM 4
#define N_CLS 3
#define WINDOW_LEN 48

static unsigned long g_frames = 2000000ul;

/* AddressSanitizer's quarantine and shadow memory grow RSS on their own; the
 * allocation counter (zero while streaming) is the proof there
 * (UNDER_ASAN: check.h). */

/* Resident set size in KiB (0 where unknown). */
static long rss_kib(void)
{
#ifdef __linux__
    FILE *f = fopen("/proc/self/statm", "r");
    long pages = 0, resident = 0;
    if (!f)
        return 0;
    if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
        resident = 0;
    fclose(f);
    return resident * 4; /* 4 KiB pages on the hosts this runs on */
#else
    return 0;
#endif
}

static unsigned char *make_blob(size_t *len)
{
    aether_blob_demo_params p = aether_blob_demo_default();
    p.input_dim = IN_DIM;
    p.n_q_heads = 2;
    p.n_kv_heads = 1;
    p.head_dim = 4;
    p.n_layers = 2;
    p.n_classes = N_CLS;
    return test_demo_blob_of(&p, len);
}

/* A bounded, deterministic frame stream (slow drift + periodic bursts). */
static void frame_at(unsigned long t, float *f)
{
    uint32_t s = (uint32_t)(t * 2654435761u);
    int i;
    for (i = 0; i < IN_DIM; ++i) {
        s ^= s << 13;
        s ^= s >> 17;
        s ^= s << 5;
        f[i] = (float)(s & 0xFFFF) / 32768.0f - 1.0f + ((t / 5000u) % 2u ? 0.5f : -0.5f);
    }
}

static void soak_policy(ruv_temporal_cache_policy_t policy, const char *name)
{
    size_t blob_len = 0;
    unsigned char *blob = make_blob(&blob_len);
    ruv_temporal_config_t cfg = ruv_temporal_config_default();
    ruv_temporal_ctx_t *cs = NULL, *cw = NULL;
    ruv_temporal_info_t info;
    aether_attn_params ap = aether_attn_params_default();
    aether_attn_config ac;
    aether_kvcache_params kp;
    aether_kvcache *kc = NULL;
    float frame[IN_DIM], logits[N_CLS], first[N_CLS], kout[2 * 4];
    unsigned long t, allocs0, nonfinite = 0, bad_status = 0;
    long rss_evict = 0, rss_end;
    size_t bytes0, kbytes0;
    clock_t c0 = clock();
    int i;

    CHECK(blob != NULL);
    if (!blob)
        return;
    cfg.mode = RUV_TEMPORAL_MODE_STREAMING;
    cfg.cache_policy = policy;
    cfg.attn_window = 8;
    cfg.attn_block = 8;
    CHECK_EQ_INT(ruv_temporal_init_ex(blob, blob_len, IN_DIM, WINDOW_LEN, N_CLS, &cfg, &cs),
                 ESP_OK);
    CHECK_EQ_INT(ruv_temporal_init(blob, blob_len, IN_DIM, WINDOW_LEN, N_CLS, &cw), ESP_OK);
    ap.window = 8;
    ap.block_size = 8;
    aether_attn_config_init(&ac, &ap);
    kp = aether_kvcache_params_default(&ac, 64, 1, 4);
    kp.evict = policy == RUV_TEMPORAL_CACHE_SCORED ? AETHER_KV_EVICT_SCORED
                                                   : AETHER_KV_EVICT_SLIDING;
    CHECK_STATUS(aether_kvcache_create(&kp, &kc), AETHER_OK);
    if (!cs || !cw || !kc)
        goto done;
    CHECK_EQ_INT(ruv_temporal_get_info(cs, &info), ESP_OK);
    bytes0 = info.ctx_bytes;
    kbytes0 = aether_kvcache_bytes(kc);

    allocs0 = g_allocs;
    for (t = 0; t < g_frames; ++t) {
        frame_at(t, frame);
        if (ruv_temporal_push(cs, frame) != ESP_OK)
            bad_status++;
        if ((t & 63u) == 0) {
            /* The window context and the bare cache ride along at a lower
             * rate (the window forward costs O(window_len)). */
            aether_tensor q1, o1;
            float q[2 * 4];
            if (ruv_temporal_push(cw, frame) != ESP_OK)
                bad_status++;
            if (aether_kvcache_append_rows(kc, frame, frame) != AETHER_OK)
                bad_status++;
            for (i = 0; i < 2 * 4; ++i)
                q[i] = frame[i % IN_DIM];
            aether_tensor_view(&q1, q, 2 * 4, 1, 2, 4);
            aether_tensor_view(&o1, kout, 2 * 4, 1, 2, 4);
            if (aether_kvcache_decode_step(&ac, &q1, kc, &o1) != AETHER_OK)
                bad_status++;
            for (i = 0; i < 8; ++i)
                if (!aether_isfinite(kout[i]))
                    nonfinite++;
        }
        if (t == 0) {
            if (ruv_temporal_classify(cs, first, N_CLS) != ESP_OK)
                bad_status++;
        }
        /* Baseline after the first eviction (frame WINDOW_LEN) and the first
         * checkpoint, so every code path has run (first-touch page faults
         * on code are not memory growth). */
        if (t == 4096)
            rss_evict = rss_kib();
        if ((t & 4095u) == 4095u || t + 1 == g_frames) {
            if (ruv_temporal_classify(cs, logits, N_CLS) != ESP_OK)
                bad_status++;
            for (i = 0; i < N_CLS; ++i)
                if (!aether_isfinite(logits[i]))
                    nonfinite++;
            if (ruv_temporal_classify(cw, logits, N_CLS) != ESP_OK)
                bad_status++;
            for (i = 0; i < N_CLS; ++i)
                if (!aether_isfinite(logits[i]))
                    nonfinite++;
        }
    }
    rss_end = rss_kib();
    CHECK_EQ_INT(g_allocs - allocs0, 0); /* nothing allocated while streaming */
    CHECK_EQ_INT(bad_status, 0);
    CHECK_EQ_INT(nonfinite, 0);
    CHECK_EQ_INT(ruv_temporal_get_info(cs, &info), ESP_OK);
    CHECK_EQ_INT(info.frames_total, g_frames);
    CHECK_EQ_INT(info.frames_held, WINDOW_LEN);
    CHECK_EQ_INT(info.evicted, 1);
    CHECK_EQ_INT(info.ctx_bytes, bytes0);
    CHECK_EQ_INT(aether_kvcache_bytes(kc), kbytes0);
    CHECK_EQ_INT(aether_kvcache_len(kc), 64);
    CHECK_EQ_INT(aether_kvcache_tokens_seen(kc), (g_frames + 63) / 64);
    /* RSS flat after the first eviction: allocated memory is constant (no
     * allocation, fixed sizes); 256 KiB of slack covers pages of the C
     * library and of untouched-until-used buffers faulted in late. */
    if (rss_evict > 0 && !UNDER_ASAN)
        CHECK_MSG(rss_end - rss_evict <= 256, "rss grew %ld KiB", rss_end - rss_evict);

    /* Reset: the first frame's logits come back bit for bit. */
    CHECK_EQ_INT(ruv_temporal_reset(cs), ESP_OK);
    frame_at(0, frame);
    CHECK_EQ_INT(ruv_temporal_push(cs, frame), ESP_OK);
    CHECK_EQ_INT(ruv_temporal_classify(cs, logits, N_CLS), ESP_OK);
    CHECK(memcmp(logits, first, sizeof first) == 0);

    printf("  %-8s %lu frames in %.1f s CPU, ctx %zu bytes, cache %zu bytes, "
           "allocs while streaming %lu, rss %ld -> %ld KiB\n",
           name, g_frames, (double)(clock() - c0) / CLOCKS_PER_SEC, bytes0, kbytes0,
           g_allocs - allocs0, rss_evict, rss_end);
done:
    ruv_temporal_destroy(cs);
    ruv_temporal_destroy(cw);
    aether_kvcache_destroy(kc);
    free(blob);
}

static void test_soak_sliding(void)
{
    soak_policy(RUV_TEMPORAL_CACHE_SLIDING, "sliding");
}

static void test_soak_scored(void)
{
    soak_policy(RUV_TEMPORAL_CACHE_SCORED, "scored");
}

/* Policy FAIL: a full context refuses frames cleanly, forever. */
static void test_fail_policy_stays_full(void)
{
    size_t blob_len = 0;
    unsigned char *blob = make_blob(&blob_len);
    ruv_temporal_config_t cfg = ruv_temporal_config_default();
    ruv_temporal_ctx_t *c = NULL;
    ruv_temporal_info_t info;
    float frame[IN_DIM], logits[N_CLS], before[N_CLS];
    unsigned long t, refused = 0;
    if (!blob)
        return;
    cfg.mode = RUV_TEMPORAL_MODE_STREAMING;
    cfg.cache_policy = RUV_TEMPORAL_CACHE_FAIL;
    CHECK_EQ_INT(ruv_temporal_init_ex(blob, blob_len, IN_DIM, WINDOW_LEN, N_CLS, &cfg, &c),
                 ESP_OK);
    if (!c) {
        free(blob);
        return;
    }
    for (t = 0; t < 10000; ++t) {
        frame_at(t, frame);
        if (ruv_temporal_push(c, frame) == ESP_ERR_INVALID_STATE)
            refused++;
        if (t == WINDOW_LEN - 1)
            CHECK_EQ_INT(ruv_temporal_classify(c, before, N_CLS), ESP_OK);
    }
    CHECK_EQ_INT(refused, 10000 - WINDOW_LEN);
    CHECK_EQ_INT(ruv_temporal_get_info(c, &info), ESP_OK);
    CHECK_EQ_INT(info.frames_total, WINDOW_LEN);
    CHECK_EQ_INT(ruv_temporal_classify(c, logits, N_CLS), ESP_OK);
    CHECK(memcmp(logits, before, sizeof before) == 0);
    ruv_temporal_destroy(c);
    free(blob);
}

int main(int argc, char **argv)
{
    static const check_test_fn tests[] = {test_soak_sliding, test_soak_scored,
                                          test_fail_policy_stays_full};
    static const char *const names[] = {"test_soak_sliding", "test_soak_scored",
                                        "test_fail_policy_stays_full"};
    const char *env = getenv("AETHER_SOAK_FRAMES");
    const char *emu = getenv("AETHER_EMULATED");
    if (argc > 1)
        g_frames = strtoul(argv[1], NULL, 10);
    else if (env && *env)
        g_frames = strtoul(env, NULL, 10);
    else if (emu && *emu && *emu != '0')
        g_frames = 100000ul; /* qemu: same checks, shorter stream */
    if (g_frames < 2 * WINDOW_LEN)
        g_frames = 2 * WINDOW_LEN;
    return check_run(__FILE__, tests, names, 3);
}
