/*
 * Counters started near their wrap point. The public API starts every
 * counter at 0, so these tests set them through the internal layouts:
 *   - a KV cache's token id (size_t; 2^32 frames is ~497 days at 100 Hz on
 *     a 32-bit target, which the armhf CI run covers): streaming right up to
 *     the last id must decode exactly like the same stream at small ids, the
 *     append after the last id must fail with AETHER_ERR_OVERFLOW and leave
 *     the cache byte-identical, and a reset must give a working cache;
 *   - the firmware context: a STREAMING push past the last token id gives
 *     ESP_ERR_INVALID_STATE and changes nothing, and frames_total (uint64_t)
 *     saturates instead of wrapping back to "no frames".
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aether/blob.h"
#include "aether/kvcache.h"
#include "check.h"
#include "edge/edge_internal.h"
#include "kvcache/kv_checks.h"
#include "kvcache/kvcache_internal.h"
#include "ruv_temporal.h"
#include "test_util.h"

#define KVH 2
#define QH 4
#define DIM 8
#define CAP 12
#define STEPS 40

static aether_kvcache *make_cache(const aether_attn_config *cfg, aether_kv_storage storage,
                                  aether_kv_landmarks lm, aether_kv_evict evict)
{
    aether_kvcache_params p;
    aether_kvcache *c = NULL;
    memset(&p, 0, sizeof p);
    p.capacity = CAP;
    p.kv_heads = KVH;
    p.head_dim = DIM;
    p.attn = cfg;
    p.storage = storage;
    p.landmarks = lm;
    p.evict = evict;
    CHECK_STATUS(aether_kvcache_create(&p, &c), AETHER_OK);
    return c;
}

/* One stream through two caches whose ids start at `hi_base` (ending at
 * SIZE_MAX - 1) and at a small base congruent to it modulo 2^16 (so blocks
 * line up): the outputs must agree bit for bit at every step. */
static void stream_near_wrap(aether_kv_storage storage, aether_kv_landmarks lm,
                             aether_kv_evict evict)
{
    static const size_t globals[] = {0};
    aether_attn_config cfg;
    aether_kvcache *hi, *lo;
    size_t hi_base = SIZE_MAX - STEPS, lo_base = (hi_base & 0xFFFFu) + 0x10000u, t;
    float kq[QH * DIM], kr[KVH * DIM], vr[KVH * DIM], out_hi[QH * DIM], out_lo[QH * DIM];
    aether_tensor q1, o_hi, o_lo;
    uint64_t seed = 0x5eedu + (uint64_t)storage * 7u + (uint64_t)lm * 3u + (uint64_t)evict;
    size_t bit_diffs = 0;
    unsigned char *before;

    test_make_config(&cfg, 4, 4, globals, 1, 1, 1, 1, 0);
    hi = make_cache(&cfg, storage, lm, evict);
    lo = make_cache(&cfg, storage, lm, evict);
    if (!hi || !lo) {
        aether_kvcache_destroy(hi);
        aether_kvcache_destroy(lo);
        return;
    }
    hi->next_token = hi_base;
    lo->next_token = lo_base;
    aether_tensor_view(&q1, kq, QH * DIM, 1, QH, DIM);
    aether_tensor_view(&o_hi, out_hi, QH * DIM, 1, QH, DIM);
    aether_tensor_view(&o_lo, out_lo, QH * DIM, 1, QH, DIM);
    for (t = 0; t < STEPS; ++t) {
        aether_tensor tk, tv;
        aether_tensor_view(&tk, kr, KVH * DIM, 1, KVH, DIM);
        aether_tensor_view(&tv, vr, KVH * DIM, 1, KVH, DIM);
        test_fill(&tk, &seed, 1.0f);
        test_fill(&tv, &seed, 1.0f);
        test_fill(&q1, &seed, 1.0f);
        CHECK_STATUS(aether_kvcache_append_rows(hi, kr, vr), AETHER_OK);
        CHECK_STATUS(aether_kvcache_append_rows(lo, kr, vr), AETHER_OK);
        CHECK_STATUS(aether_kvcache_decode_step(&cfg, &q1, hi, &o_hi), AETHER_OK);
        CHECK_STATUS(aether_kvcache_decode_step(&cfg, &q1, lo, &o_lo), AETHER_OK);
        bit_diffs += test_count_bit_diffs(&o_hi, &o_lo);
    }
    CHECK_EQ_INT(bit_diffs, 0);
    CHECK(aether_kvcache_tokens_seen(hi) == SIZE_MAX);
    CHECK(aether_kvcache_len(hi) == CAP);

    /* The id space is used up: the append fails and changes no byte. */
    before = (unsigned char *)malloc(aether_kvcache_bytes(hi));
    if (before) {
        memcpy(before, hi, aether_kvcache_bytes(hi));
        CHECK_STATUS(aether_kvcache_append_rows(hi, kr, vr), AETHER_ERR_OVERFLOW);
        CHECK(memcmp(before, hi, aether_kvcache_bytes(hi)) == 0);
        /* Decoding what is held still works and gives the same answer. */
        CHECK_STATUS(aether_kvcache_decode_step(&cfg, &q1, hi, &o_hi), AETHER_OK);
        if (evict != AETHER_KV_EVICT_SCORED) {
            CHECK_STATUS(aether_kvcache_decode_step(&cfg, &q1, lo, &o_lo), AETHER_OK);
            CHECK_EQ_INT(test_count_bit_diffs(&o_hi, &o_lo), 0);
        }
        free(before);
    }
    CHECK_STATUS(aether_kvcache_reset(hi), AETHER_OK);
    CHECK(aether_kvcache_tokens_seen(hi) == 0);
    CHECK_STATUS(aether_kvcache_append_rows(hi, kr, vr), AETHER_OK);
    CHECK_STATUS(aether_kvcache_decode_step(&cfg, &q1, hi, &o_hi), AETHER_OK);
    aether_kvcache_destroy(hi);
    aether_kvcache_destroy(lo);
}

static void test_kvcache_token_ids_near_wrap(void)
{
    static const aether_kv_storage st[] = {AETHER_KV_F32, AETHER_KV_F16, AETHER_KV_BF16,
                                           AETHER_KV_I8};
    static const aether_kv_landmarks lm[] = {AETHER_KV_LM_SUM, AETHER_KV_LM_WELFORD};
    static const aether_kv_evict ev[] = {AETHER_KV_EVICT_SLIDING, AETHER_KV_EVICT_SCORED};
    size_t a, b, c;
    for (a = 0; a < 4; ++a)
        for (b = 0; b < 2; ++b)
            for (c = 0; c < 2; ++c)
                stream_near_wrap(st[a], lm[b], ev[c]);
}

/* A batch that would need more ids than are left is refused whole. */
static void test_kvcache_batch_past_last_id(void)
{
    static const size_t globals[] = {0};
    aether_attn_config cfg;
    aether_kvcache *c;
    float q[3 * QH * DIM], k[3 * KVH * DIM], v[3 * KVH * DIM], o[3 * QH * DIM];
    aether_tensor tq, tk, tv, to;
    uint64_t seed = 99;
    unsigned char *before;
    test_make_config(&cfg, 4, 4, globals, 1, 1, 1, 1, 0);
    c = make_cache(&cfg, AETHER_KV_F32, AETHER_KV_LM_SUM, AETHER_KV_EVICT_SLIDING);
    if (!c)
        return;
    aether_tensor_view(&tq, q, 3 * QH * DIM, 3, QH, DIM);
    aether_tensor_view(&tk, k, 3 * KVH * DIM, 3, KVH, DIM);
    aether_tensor_view(&tv, v, 3 * KVH * DIM, 3, KVH, DIM);
    aether_tensor_view(&to, o, 3 * QH * DIM, 3, QH, DIM);
    test_fill(&tq, &seed, 1.0f);
    test_fill(&tk, &seed, 1.0f);
    test_fill(&tv, &seed, 1.0f);
    c->next_token = SIZE_MAX - 2; /* two ids left */
    before = (unsigned char *)malloc(aether_kvcache_bytes(c));
    if (before) {
        memcpy(before, c, aether_kvcache_bytes(c));
        CHECK_STATUS(aether_kvcache_decode_batch(&cfg, &tq, &tk, &tv, c, &to),
                     AETHER_ERR_OVERFLOW);
        CHECK(memcmp(before, c, aether_kvcache_bytes(c)) == 0);
        free(before);
    }
    /* Exactly the ids left: accepted, by decode_batch and by a prefill. */
    tq.seq = tk.seq = tv.seq = to.seq = 2;
    CHECK_STATUS(aether_kvcache_decode_batch(&cfg, &tq, &tk, &tv, c, &to), AETHER_OK);
    CHECK(aether_kvcache_tokens_seen(c) == SIZE_MAX);
    CHECK_STATUS(aether_kvcache_reset(c), AETHER_OK);
    c->next_token = SIZE_MAX - 2;
    tk.seq = tv.seq = 3;
    CHECK_STATUS(aether_kvcache_append_all(c, &tk, &tv), AETHER_ERR_OVERFLOW);
    CHECK(aether_kvcache_len(c) == 0 && aether_kvcache_tokens_seen(c) == SIZE_MAX - 2);
    tk.seq = tv.seq = 2;
    CHECK_STATUS(aether_kvcache_append_all(c, &tk, &tv), AETHER_OK);
    CHECK(aether_kvcache_len(c) == 2 && aether_kvcache_tokens_seen(c) == SIZE_MAX);
    aether_kvcache_destroy(c);
}

/* Every layer cache inside a firmware context: found by its magic and
 * shape (the caches live in the context's own buffer). */
static size_t find_caches(unsigned char *buf, size_t len, aether_kvcache **out, size_t cap)
{
    size_t off, n = 0;
    for (off = 0; off + sizeof(aether_kvcache) <= len && n < cap; off += sizeof(void *)) {
        aether_kvcache *c = (aether_kvcache *)(void *)(buf + off);
        if (c->magic == AETHER_KVCACHE_MAGIC && aether_kv_check_(c) == AETHER_OK &&
            c->bytes > 0 && c->bytes <= len - off)
            out[n++] = c;
    }
    return n;
}

static void test_firmware_push_past_last_id(void)
{
    aether_blob_demo_params dp = aether_blob_demo_default();
    ruv_temporal_config_t cfg = ruv_temporal_config_default();
    ruv_temporal_ctx_t *ctx = NULL;
    aether_kvcache *caches[8];
    unsigned char *blob, *buf, *before;
    size_t blob_len = 0, bytes = 0, n, i;
    float frame[64], logits[16], logits2[16];
    ruv_temporal_info_t info;
    const uint32_t window = 16;
    blob = test_demo_blob_of(&dp, &blob_len);
    CHECK(blob != NULL);
    if (!blob)
        return;
    cfg.mode = RUV_TEMPORAL_MODE_STREAMING;
    CHECK_STATUS(ruv_temporal_ctx_size_ex(blob, blob_len, dp.input_dim, window, dp.n_classes,
                                          &cfg, &bytes),
                 ESP_OK);
    buf = (unsigned char *)calloc(1, bytes);
    before = (unsigned char *)malloc(bytes);
    CHECK(buf && before);
    if (!buf || !before) {
        free(buf);
        free(before);
        free(blob);
        return;
    }
    CHECK_STATUS(ruv_temporal_init_static_ex(buf, bytes, blob, blob_len, dp.input_dim, window,
                                             dp.n_classes, &cfg, &ctx),
                 ESP_OK);
    n = find_caches(buf, bytes, caches, 8);
    CHECK_EQ_INT(n, dp.n_layers);
    for (i = 0; i < n; ++i)
        caches[i]->next_token = SIZE_MAX - 3;
    for (i = 0; i < dp.input_dim; ++i)
        frame[i] = 0.25f * (float)i - 1.0f;
    for (i = 0; i < 3; ++i)
        CHECK_STATUS(ruv_temporal_push(ctx, frame), ESP_OK);
    CHECK_STATUS(ruv_temporal_classify(ctx, logits, dp.n_classes), ESP_OK);
    for (i = 0; i < dp.n_classes; ++i)
        CHECK(aether_isfinite(logits[i]));

    /* The refused frame changes no cache byte (the projections' scratch
     * may hold the frame's rows: it is rewritten by every push). */
    for (i = 0; i < n; ++i)
        memcpy(before + ((unsigned char *)caches[i] - buf), caches[i], caches[i]->bytes);
    CHECK_STATUS(ruv_temporal_push(ctx, frame), ESP_ERR_INVALID_STATE);
    for (i = 0; i < n; ++i)
        CHECK(memcmp(before + ((unsigned char *)caches[i] - buf), caches[i], caches[i]->bytes) ==
              0);
    CHECK_STATUS(ruv_temporal_classify(ctx, logits2, dp.n_classes), ESP_OK);
    CHECK(memcmp(logits, logits2, dp.n_classes * sizeof(float)) == 0);
    CHECK_STATUS(ruv_temporal_get_info(ctx, &info), ESP_OK);
    CHECK(info.frames_total == 3);

    CHECK_STATUS(ruv_temporal_reset(ctx), ESP_OK);
    CHECK_STATUS(ruv_temporal_push(ctx, frame), ESP_OK);
    CHECK_STATUS(ruv_temporal_get_info(ctx, &info), ESP_OK);
    CHECK(info.frames_total == 1);
    ruv_temporal_destroy(ctx);
    free(before);
    free(buf);
    free(blob);
}

/* frames_total saturates in both modes and frames_held stays right. */
static void test_frames_total_saturates(void)
{
    static const ruv_temporal_mode_t modes[] = {RUV_TEMPORAL_MODE_WINDOW,
                                                RUV_TEMPORAL_MODE_STREAMING};
    aether_blob_demo_params dp = aether_blob_demo_default();
    unsigned char *blob;
    size_t blob_len = 0, m, i;
    float frame[64], logits[16];
    blob = test_demo_blob_of(&dp, &blob_len);
    CHECK(blob != NULL);
    if (!blob)
        return;
    for (i = 0; i < dp.input_dim; ++i)
        frame[i] = 0.1f * (float)i;
    for (m = 0; m < 2; ++m) {
        ruv_temporal_config_t cfg = ruv_temporal_config_default();
        ruv_temporal_ctx_t *ctx = NULL;
        ruv_temporal_info_t info;
        cfg.mode = modes[m];
        CHECK_STATUS(ruv_temporal_init_ex(blob, blob_len, dp.input_dim, 8, dp.n_classes, &cfg,
                                          &ctx),
                     ESP_OK);
        if (!ctx)
            continue;
        CHECK_STATUS(ruv_temporal_push(ctx, frame), ESP_OK);
        ctx->frames_total = UINT64_MAX - 2;
        for (i = 0; i < 5; ++i)
            CHECK_STATUS(ruv_temporal_push(ctx, frame), ESP_OK);
        CHECK_STATUS(ruv_temporal_get_info(ctx, &info), ESP_OK);
        CHECK(info.frames_total == UINT64_MAX);
        /* WINDOW counts its ring; STREAMING derives the count from
         * frames_total, which says the window is long full. */
        CHECK_EQ_INT(info.frames_held, modes[m] == RUV_TEMPORAL_MODE_WINDOW ? 6 : 8);
        CHECK_STATUS(ruv_temporal_classify(ctx, logits, dp.n_classes), ESP_OK);
        for (i = 0; i < dp.n_classes; ++i)
            CHECK(aether_isfinite(logits[i]));
        ruv_temporal_destroy(ctx);
    }
    free(blob);
}

TEST_MAIN(test_kvcache_token_ids_near_wrap, test_kvcache_batch_past_last_id,
          test_firmware_push_past_last_id, test_frames_total_saturates)
