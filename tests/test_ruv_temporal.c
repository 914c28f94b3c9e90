/* Firmware ABI (ruv_temporal.h): every esp_err_t path, ring order and
 * partial windows against the model's window forward, streaming against the
 * window forward, static contexts, packets and the kernel self test. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aether/blob.h"
#include "aether/dispatch.h"
#include "aether/model.h"
#include "aether/packet.h"
#include "check.h"
#include "test_util.h"
#include "test_ws.h"
#include "ruv_temporal.h"

#define IN 16u
#define NC 4u

/* ---------- fixtures ---------- */

/* Deterministic finite frames in [-1, 1). */
static void make_frames(float *dst, size_t n, uint32_t seed)
{
    uint32_t s = seed * 2654435761u + 12345u;
    size_t i;
    for (i = 0; i < n; ++i) {
        s = s * 1664525u + 1013904223u;
        dst[i] = (float)(s >> 8) / 8388608.0f - 1.0f;
    }
}

/* The command-line classify path: the model with the blob's default head
 * config (optionally window/block/backend overridden), window forward. */
static int reference_logits(const unsigned char *blob, size_t len, const float *frames, size_t n,
                            aether_pool pool, size_t window, size_t block,
                            aether_head_backend backend, float *logits)
{
    aether_blob_view v;
    aether_head_config hc;
    aether_model *m = NULL;
    aether_status st;
    if (aether_blob_parse(blob, len, &v) != AETHER_OK)
        return 0;
    aether_model_default_head_config(&v, &hc);
    if (window != (size_t)-1)
        hc.window = window;
    if (block != (size_t)-1)
        hc.block_size = block;
    hc.backend = backend;
    if (aether_model_create(&v, &hc, AETHER_MODEL_COPY, &m) != AETHER_OK)
        return 0;
    st = ws_model_forward(m, frames, n, pool, logits, NULL);
    aether_model_destroy(m);
    return st == AETHER_OK;
}

static int same_bits(const float *a, const float *b, size_t n)
{
    size_t i;
    for (i = 0; i < n; ++i)
        if (aether_f32_bits(a[i]) != aether_f32_bits(b[i]))
            return 0;
    return 1;
}

/* Push frames[0, n) into both contexts; 1 when every push and classify
 * succeeds and both give the same logit bits. */
static int same_after_pushes(ruv_temporal_ctx_t *a, ruv_temporal_ctx_t *b, const float *frames,
                             size_t n)
{
    float la[NC], lb[NC];
    size_t t;
    for (t = 0; t < n; ++t)
        if (ruv_temporal_push(a, frames + t * IN) != ESP_OK ||
            ruv_temporal_push(b, frames + t * IN) != ESP_OK)
            return 0;
    return ruv_temporal_classify(a, la, NC) == ESP_OK &&
           ruv_temporal_classify(b, lb, NC) == ESP_OK && same_bits(la, lb, NC);
}

/* ---------- codes and arguments ---------- */

static void test_esp_codes(void)
{
    CHECK_EQ_INT(ESP_OK, 0);
    CHECK_EQ_INT(ESP_FAIL, -1);
    CHECK_EQ_INT(ESP_ERR_NO_MEM, 0x101);
    CHECK_EQ_INT(ESP_ERR_INVALID_ARG, 0x102);
    CHECK_EQ_INT(ESP_ERR_INVALID_STATE, 0x103);
    CHECK_EQ_INT(ESP_ERR_INVALID_SIZE, 0x104);
    CHECK_EQ_INT(ESP_ERR_NOT_FOUND, 0x105);
    CHECK_EQ_INT(ESP_ERR_NOT_SUPPORTED, 0x106);
    CHECK_EQ_INT(ESP_ERR_TIMEOUT, 0x107);
    CHECK_EQ_INT(ESP_ERR_INVALID_RESPONSE, 0x108);
    CHECK_EQ_INT(ESP_ERR_INVALID_CRC, 0x109);
    CHECK_EQ_INT(ESP_ERR_INVALID_VERSION, 0x10A);
    CHECK_EQ_INT(ESP_ERR_NOT_FINISHED, 0x10C);
}

static void test_null_and_zero_args(void)
{
    size_t len = 0;
    unsigned char *b = test_demo_blob(&len);
    ruv_temporal_ctx_t *sentinel = (ruv_temporal_ctx_t *)&len, *ctx = sentinel;
    CHECK(b != NULL);
    CHECK_EQ_INT(ruv_temporal_init(b, len, IN, 256, NC, NULL), ESP_ERR_INVALID_ARG);
    CHECK_EQ_INT(ruv_temporal_init(NULL, len, IN, 256, NC, &ctx), ESP_ERR_INVALID_ARG);
    CHECK_EQ_INT(ruv_temporal_init(b, 0, IN, 256, NC, &ctx), ESP_ERR_INVALID_ARG);
    CHECK_EQ_INT(ruv_temporal_init(b, len, 0, 256, NC, &ctx), ESP_ERR_INVALID_ARG);
    CHECK_EQ_INT(ruv_temporal_init(b, len, IN, 0, NC, &ctx), ESP_ERR_INVALID_ARG);
    CHECK_EQ_INT(ruv_temporal_init(b, len, IN, 256, 0, &ctx), ESP_ERR_INVALID_ARG);
    CHECK(ctx == sentinel);
    CHECK_EQ_INT(ruv_temporal_push(NULL, NULL), ESP_ERR_INVALID_ARG);
    CHECK_EQ_INT(ruv_temporal_classify(NULL, NULL, NC), ESP_ERR_INVALID_ARG);
    CHECK_EQ_INT(ruv_temporal_reset(NULL), ESP_ERR_INVALID_ARG);
    CHECK_EQ_INT(ruv_temporal_get_info(NULL, NULL), ESP_ERR_INVALID_ARG);
    CHECK_EQ_INT(ruv_temporal_ctx_size(NULL, 0, IN, 256, NC), 0);
    CHECK_EQ_INT(ruv_temporal_ctx_size_ex(b, len, IN, 256, NC, NULL, NULL), ESP_ERR_INVALID_ARG);
    CHECK_EQ_INT(ruv_temporal_init_static(NULL, 100, b, len, IN, 256, NC, &ctx),
                 ESP_ERR_INVALID_ARG);
    ruv_temporal_destroy(NULL); /* no-op */
    CHECK(ctx == sentinel);
    free(b);
}

typedef struct golden_case {
    const char *file;
    esp_err_t expect;
} golden_case;

static void test_golden_blob_errors(void)
{
    REQUIRE_GOLDEN();
    static const golden_case cases[] = {
        {"too_short.bin", ESP_ERR_INVALID_ARG},     {"bad_magic.bin", ESP_ERR_INVALID_ARG},
        {"size_mismatch.bin", ESP_ERR_INVALID_ARG}, {"bad_version.bin", ESP_ERR_INVALID_VERSION},
        {"crc_corrupt.bin", ESP_ERR_INVALID_CRC},   {"bad_gqa.bin", ESP_ERR_INVALID_SIZE},
        {"n_classes_1.bin", ESP_ERR_INVALID_SIZE},  {"fp32_small.bin", ESP_ERR_INVALID_SIZE},
        {"fp16_small.bin", ESP_ERR_INVALID_SIZE},   {"flags_0x03.bin", ESP_ERR_INVALID_SIZE},
        {"init_random_blob.rvne", ESP_OK},
    };
    size_t i;
    for (i = 0; i < sizeof cases / sizeof cases[0]; ++i) {
        size_t len = 0, bytes = 0;
        unsigned char *b = test_golden_blob(cases[i].file, &len);
        ruv_temporal_ctx_t *ctx = NULL;
        esp_err_t e;
        CHECK_MSG(b != NULL, "%s", cases[i].file);
        if (!b)
            continue;
        e = ruv_temporal_init(b, len, IN, 256, NC, &ctx);
        CHECK_MSG(e == cases[i].expect, "%s: 0x%x, expected 0x%x", cases[i].file, (unsigned)e,
                  (unsigned)cases[i].expect);
        CHECK_MSG((e == ESP_OK) == (ctx != NULL), "%s", cases[i].file);
        /* The size query validates identically. */
        e = ruv_temporal_ctx_size_ex(b, len, IN, 256, NC, NULL, &bytes);
        CHECK_MSG(e == cases[i].expect, "%s size: 0x%x", cases[i].file, (unsigned)e);
        ruv_temporal_destroy(ctx);
        free(b);
    }
}

/* Re-serialise the demo blob with a changed payload or flags. */
static unsigned char *tweaked_blob(size_t *len, uint8_t flags, size_t nan_index)
{
    size_t n = 0;
    unsigned char *b = test_demo_blob(len), *out;
    aether_blob_view v;
    unsigned char *payload;
    if (!b || aether_blob_parse(b, *len, &v) != AETHER_OK)
        return NULL;
    payload = (unsigned char *)malloc(v.header.weights_len);
    out = (unsigned char *)malloc(*len);
    memcpy(payload, v.weights, v.header.weights_len);
    if (nan_index != (size_t)-1)
        aether_store_lef32(payload + 4 * nan_index, aether_f32_from_bits(0x7FC00000u));
    v.header.flags = flags;
    if (aether_blob_serialize(&v.header, payload, out, *len, &n) != AETHER_OK) {
        free(out);
        out = NULL;
    }
    free(payload);
    free(b);
    return out;
}

static void test_model_level_errors(void)
{
    size_t len = 0;
    unsigned char *b = test_demo_blob(&len), *nanb, *extb;
    ruv_temporal_ctx_t *ctx = NULL;
    CHECK_EQ_INT(ruv_temporal_init(b, len, IN + 1, 256, NC, &ctx), ESP_ERR_INVALID_SIZE);
    CHECK_EQ_INT(ruv_temporal_init(b, len, IN, 256, NC - 1, &ctx), ESP_ERR_INVALID_SIZE);
    /* Truncated payload with a recomputed CRC is a layout error. */
    CHECK(ctx == NULL);
    nanb = tweaked_blob(&len, 0, 1234);
    CHECK(nanb != NULL);
    CHECK_EQ_INT(ruv_temporal_init(nanb, len, IN, 256, NC, &ctx), ESP_ERR_INVALID_ARG);
    extb = tweaked_blob(&len, 0x80, (size_t)-1); /* a bit no reader knows */
    CHECK(extb != NULL);
    CHECK_EQ_INT(ruv_temporal_init(extb, len, IN, 256, NC, &ctx), ESP_ERR_NOT_SUPPORTED);
    CHECK(ctx == NULL);
    free(nanb);
    free(extb);
    free(b);
}

static void test_config_errors(void)
{
    size_t len = 0;
    unsigned char *b = test_demo_blob(&len);
    ruv_temporal_ctx_t *ctx = NULL;
    ruv_temporal_config_t c = ruv_temporal_config_default();
    CHECK_EQ_INT(c.mode, RUV_TEMPORAL_MODE_WINDOW);
    CHECK_EQ_INT(c.pooling, RUV_TEMPORAL_POOL_FROM_MODEL);
    c.attn_block = 0;
    CHECK_EQ_INT(ruv_temporal_init_ex(b, len, IN, 64, NC, &c, &ctx), ESP_ERR_INVALID_ARG);
    c = ruv_temporal_config_default();
    c.mode = (ruv_temporal_mode_t)7;
    CHECK_EQ_INT(ruv_temporal_init_ex(b, len, IN, 64, NC, &c, &ctx), ESP_ERR_INVALID_ARG);
    c = ruv_temporal_config_default();
    c.mode = RUV_TEMPORAL_MODE_STREAMING;
    c.pooling = RUV_TEMPORAL_POOL_MEAN;
    CHECK_EQ_INT(ruv_temporal_init_ex(b, len, IN, 64, NC, &c, &ctx), ESP_ERR_NOT_SUPPORTED);
    /* Scored eviction must keep the local window plus the global. */
    c.pooling = RUV_TEMPORAL_POOL_LAST;
    c.cache_policy = RUV_TEMPORAL_CACHE_SCORED;
    CHECK_EQ_INT(ruv_temporal_init_ex(b, len, IN, 32, NC, &c, &ctx), ESP_ERR_INVALID_ARG);
    /* Sliding eviction keeps the global frame: one slot cannot slide. */
    c.cache_policy = RUV_TEMPORAL_CACHE_SLIDING;
    CHECK_EQ_INT(ruv_temporal_init_ex(b, len, IN, 1, NC, &c, &ctx), ESP_ERR_INVALID_ARG);
    CHECK_EQ_INT(ruv_temporal_init_ex(b, len, IN, 2, NC, &c, &ctx), ESP_OK);
    ruv_temporal_destroy(ctx);
    ctx = NULL;
    /* BORROW demanded on a misaligned payload */
    {
        unsigned char *odd = (unsigned char *)malloc(len + 1);
        memcpy(odd + 1, b, len);
        c = ruv_temporal_config_default();
        c.weights = RUV_TEMPORAL_WEIGHTS_BORROW;
        CHECK_EQ_INT(ruv_temporal_init_ex(odd + 1, len, IN, 8, NC, &c, &ctx),
                     ESP_ERR_NOT_SUPPORTED);
        free(odd);
    }
    CHECK(ctx == NULL);
    free(b);
}

/* ---------- behaviour ---------- */

static void test_classify_state_and_nan(void)
{
    int mode;
    size_t len = 0;
    unsigned char *b = test_demo_blob(&len);
    /* Streaming results are compared with the reference prefill. */
    CHECK_STATUS(aether_set_kernel_mode(AETHER_KERNELS_REFERENCE), AETHER_OK);
    for (mode = 0; mode < 2; ++mode) {
        ruv_temporal_config_t c = ruv_temporal_config_default();
        ruv_temporal_ctx_t *ctx = NULL;
        ruv_temporal_info_t info;
        float frames[6 * IN], bad[IN], l1[NC], l2[NC], junk[NC];
        size_t t;
        c.mode = mode ? RUV_TEMPORAL_MODE_STREAMING : RUV_TEMPORAL_MODE_WINDOW;
        CHECK_EQ_INT(ruv_temporal_init_ex(b, len, IN, 8, NC, &c, &ctx), ESP_OK);
        if (!ctx)
            continue;
        CHECK_EQ_INT(ruv_temporal_classify(ctx, l1, NC), ESP_ERR_INVALID_STATE);
        make_frames(frames, 6 * IN, 7u);
        for (t = 0; t < 5; ++t)
            CHECK_EQ_INT(ruv_temporal_push(ctx, frames + t * IN), ESP_OK);
        CHECK_EQ_INT(ruv_temporal_classify(ctx, l1, NC), ESP_OK);
        CHECK_EQ_INT(ruv_temporal_classify(ctx, l1, NC + 1), ESP_ERR_INVALID_SIZE);
        CHECK_EQ_INT(ruv_temporal_classify(ctx, NULL, NC), ESP_ERR_INVALID_ARG);
        CHECK_EQ_INT(ruv_temporal_push(ctx, NULL), ESP_ERR_INVALID_ARG);
        memcpy(bad, frames + 5 * IN, sizeof bad);
        bad[3] = aether_f32_from_bits(0x7FC00000u);
        CHECK_EQ_INT(ruv_temporal_push(ctx, bad), ESP_ERR_INVALID_ARG);
        bad[3] = aether_f32_from_bits(0xFF800000u);
        CHECK_EQ_INT(ruv_temporal_push(ctx, bad), ESP_ERR_INVALID_ARG);
        CHECK_EQ_INT(ruv_temporal_get_info(ctx, &info), ESP_OK);
        CHECK_EQ_INT(info.frames_total, 5);
        CHECK_EQ_INT(info.frames_held, 5);
        CHECK_EQ_INT(ruv_temporal_classify(ctx, l2, NC), ESP_OK);
        CHECK(same_bits(l1, l2, NC));
        /* The next good frame behaves as if the bad ones never came. */
        CHECK_EQ_INT(ruv_temporal_push(ctx, frames + 5 * IN), ESP_OK);
        CHECK_EQ_INT(ruv_temporal_classify(ctx, l2, NC), ESP_OK);
        CHECK(reference_logits(b, len, frames, 6, AETHER_POOL_LAST, (size_t)-1, (size_t)-1,
                               AETHER_HEAD_SPARSE_GQA, l1));
        CHECK_MSG(same_bits(l1, l2, NC), "mode %d", mode);
        /* reset forgets everything */
        CHECK_EQ_INT(ruv_temporal_reset(ctx), ESP_OK);
        CHECK_EQ_INT(ruv_temporal_classify(ctx, junk, NC), ESP_ERR_INVALID_STATE);
        CHECK_EQ_INT(ruv_temporal_push(ctx, frames), ESP_OK);
        CHECK_EQ_INT(ruv_temporal_classify(ctx, l2, NC), ESP_OK);
        CHECK(reference_logits(b, len, frames, 1, AETHER_POOL_LAST, (size_t)-1, (size_t)-1,
                               AETHER_HEAD_SPARSE_GQA, l1));
        CHECK(same_bits(l1, l2, NC));
        ruv_temporal_destroy(ctx);
    }
    CHECK_STATUS(aether_set_kernel_mode(AETHER_KERNELS_AUTO), AETHER_OK);
    free(b);
}

static void test_ring_order_and_partial(void)
{
    enum { W = 8, TOTAL = 29 };
    size_t len = 0, t;
    unsigned char *b = test_demo_blob(&len);
    ruv_temporal_ctx_t *ctx = NULL;
    float frames[TOTAL * IN], got[NC], want[NC];
    make_frames(frames, TOTAL * IN, 3u);
    /* As `aether classify` runs it. */
    CHECK_STATUS(aether_set_kernel_mode(AETHER_KERNELS_REFERENCE), AETHER_OK);
    CHECK_EQ_INT(ruv_temporal_init(b, len, IN, W, NC, &ctx), ESP_OK);
    if (!ctx) {
        free(b);
        return;
    }
    for (t = 0; t < TOTAL; ++t) {
        size_t n = t + 1 < W ? t + 1 : W, first = t + 1 - n;
        CHECK_EQ_INT(ruv_temporal_push(ctx, frames + t * IN), ESP_OK);
        /* Classify at several ring phases, including partial rings; the
         * in-place rotation must not disturb later pushes. */
        if (t % 3 != 0 && t != TOTAL - 1)
            continue;
        CHECK_EQ_INT(ruv_temporal_classify(ctx, got, NC), ESP_OK);
        CHECK(reference_logits(b, len, frames + first * IN, n, AETHER_POOL_LAST, (size_t)-1,
                               (size_t)-1, AETHER_HEAD_SPARSE_GQA, want));
        CHECK_MSG(same_bits(got, want, NC), "after %u frames", (unsigned)(t + 1));
    }
    /* Twice in a row gives the same numbers. */
    CHECK_EQ_INT(ruv_temporal_classify(ctx, want, NC), ESP_OK);
    CHECK(same_bits(got, want, NC));
    CHECK_STATUS(aether_set_kernel_mode(AETHER_KERNELS_AUTO), AETHER_OK);
    ruv_temporal_destroy(ctx);
    free(b);
}

static void test_window_options(void)
{
    enum { W = 12, TOTAL = 19 };
    size_t len = 0, t;
    unsigned char *b = test_demo_blob(&len);
    float frames[TOTAL * IN], got[NC], want[NC];
    int k;
    make_frames(frames, TOTAL * IN, 11u);
    for (k = 0; k < 3; ++k) {
        ruv_temporal_config_t c = ruv_temporal_config_default();
        ruv_temporal_ctx_t *ctx = NULL;
        aether_pool pool = AETHER_POOL_LAST;
        aether_head_backend be = AETHER_HEAD_SPARSE_GQA;
        size_t win = (size_t)-1, blk = (size_t)-1;
        if (k == 0) {
            c.pooling = RUV_TEMPORAL_POOL_MEAN;
            pool = AETHER_POOL_MEAN;
        } else if (k == 1) {
            c.attn_window = 2;
            c.attn_block = 3;
            win = 2;
            blk = 3;
        } else {
            c.backend = RUV_TEMPORAL_BACKEND_DENSE;
            be = AETHER_HEAD_DENSE;
        }
        CHECK_EQ_INT(ruv_temporal_init_ex(b, len, IN, W, NC, &c, &ctx), ESP_OK);
        if (!ctx)
            continue;
        for (t = 0; t < TOTAL; ++t)
            CHECK_EQ_INT(ruv_temporal_push(ctx, frames + t * IN), ESP_OK);
        CHECK_EQ_INT(ruv_temporal_classify(ctx, got, NC), ESP_OK);
        CHECK(reference_logits(b, len, frames + (TOTAL - W) * IN, W, pool, win, blk, be, want));
        CHECK_MSG(same_bits(got, want, NC), "option %d", k);
        ruv_temporal_destroy(ctx);
    }
    free(b);
}

static void test_streaming_equals_window(void)
{
    enum { W = 16, TOTAL = 24 };
    size_t len = 0, t;
    unsigned char *b = test_demo_blob(&len);
    float frames[TOTAL * IN], got[NC], want[NC];
    int dense;
    make_frames(frames, TOTAL * IN, 5u);
    for (dense = 0; dense < 2; ++dense) {
        ruv_temporal_config_t c = ruv_temporal_config_default();
        ruv_temporal_ctx_t *ctx = NULL;
        ruv_temporal_info_t info;
        c.mode = RUV_TEMPORAL_MODE_STREAMING;
        c.backend = dense ? RUV_TEMPORAL_BACKEND_DENSE : RUV_TEMPORAL_BACKEND_SPARSE;
        c.attn_window = 4;
        c.attn_block = 4;
        CHECK_EQ_INT(ruv_temporal_init_ex(b, len, IN, W, NC, &c, &ctx), ESP_OK);
        if (!ctx)
            continue;
        /* The streaming decode is scalar: compare with the reference
         * prefill (the only path on the firmware targets). */
        CHECK_STATUS(aether_set_kernel_mode(AETHER_KERNELS_REFERENCE), AETHER_OK);
        for (t = 0; t < TOTAL; ++t) {
            CHECK_EQ_INT(ruv_temporal_push(ctx, frames + t * IN), ESP_OK);
            CHECK_EQ_INT(ruv_temporal_classify(ctx, got, NC), ESP_OK);
            CHECK_EQ_INT(ruv_temporal_get_info(ctx, &info), ESP_OK);
            CHECK_EQ_INT(info.evicted, t >= W);
            CHECK_EQ_INT(info.frames_held, t + 1 < W ? t + 1 : W);
            if (t >= W)
                continue; /* positions keep counting past the window */
            CHECK(reference_logits(b, len, frames, t + 1, AETHER_POOL_LAST, 4, 4,
                                   dense ? AETHER_HEAD_DENSE : AETHER_HEAD_SPARSE_GQA, want));
            CHECK_MSG(same_bits(got, want, NC), "dense %d frame %u", dense, (unsigned)t);
        }
        CHECK_STATUS(aether_set_kernel_mode(AETHER_KERNELS_AUTO), AETHER_OK);
        ruv_temporal_destroy(ctx);
    }
    free(b);
}

/* Every cache storage code: the context's logits are bit for bit those of
 * a model session with the same storage, eviction policy and head, through
 * eviction; a reduced storage needs less context memory; a value the
 * storage cannot hold is refused like NaN and changes nothing; an unknown
 * code is INVALID_ARG. */
static void test_streaming_cache_storage(void)
{
    enum { W = 12, TOTAL = 30 };
    static const aether_kv_storage lib[4] = {AETHER_KV_F32, AETHER_KV_F16, AETHER_KV_BF16,
                                             AETHER_KV_I8};
    size_t len = 0, t, bytes[4] = {0, 0, 0, 0};
    unsigned char *b = test_demo_blob(&len);
    float frames[TOTAL * IN], got[NC], want[NC], huge[IN];
    int code, scored;
    aether_blob_view v;
    aether_head_config hc;
    aether_model *m = NULL;
    make_frames(frames, TOTAL * IN, 21u);
    CHECK_STATUS(aether_blob_parse(b, len, &v), AETHER_OK);
    aether_model_default_head_config(&v, &hc);
    hc.window = 4;
    hc.block_size = 4;
    CHECK_STATUS(aether_model_create(&v, &hc, AETHER_MODEL_COPY, &m), AETHER_OK);
    for (scored = 0; scored < 2 && m; ++scored)
        for (code = RUV_TEMPORAL_CACHE_F32; code <= RUV_TEMPORAL_CACHE_INT8; ++code) {
            ruv_temporal_config_t c = ruv_temporal_config_default();
            ruv_temporal_ctx_t *ctx = NULL;
            aether_session_params sp = aether_model_session_params_default();
            aether_model_session *s = NULL;
            size_t n_bytes = 0;
            c.mode = RUV_TEMPORAL_MODE_STREAMING;
            c.attn_window = 4;
            c.attn_block = 4;
            c.cache_storage = code;
            c.cache_policy = scored ? RUV_TEMPORAL_CACHE_SCORED : RUV_TEMPORAL_CACHE_SLIDING;
            sp.capacity = W;
            sp.evict = scored ? AETHER_KV_EVICT_SCORED : AETHER_KV_EVICT_SLIDING;
            sp.storage = lib[code];
            sp.landmarks = AETHER_KV_LM_SUM;
            CHECK_EQ_INT(ruv_temporal_ctx_size_ex(b, len, IN, W, NC, &c, &n_bytes), ESP_OK);
            if (!scored)
                bytes[code] = n_bytes;
            CHECK_EQ_INT(ruv_temporal_init_ex(b, len, IN, W, NC, &c, &ctx), ESP_OK);
            CHECK_STATUS(aether_model_session_create(m, &sp, &s), AETHER_OK);
            if (!ctx || !s) {
                ruv_temporal_destroy(ctx);
                aether_model_session_destroy(s);
                continue;
            }
            for (t = 0; t < TOTAL; ++t) {
                CHECK_EQ_INT(ruv_temporal_push(ctx, frames + t * IN), ESP_OK);
                CHECK_EQ_INT(ruv_temporal_classify(ctx, got, NC), ESP_OK);
                CHECK_STATUS(aether_model_session_step(s, frames + t * IN, want, NULL),
                             AETHER_OK);
                CHECK_MSG(same_bits(got, want, NC), "code %d scored %d frame %u", code, scored,
                          (unsigned)t);
            }
            /* A frame far beyond binary16's range once projected: the
             * context does what the session does, refused with nothing
             * changed, or taken by a layer and then refused by the next
             * (the session is broken until a reset). */
            for (t = 0; t < IN; ++t)
                huge[t] = (t % 2 ? -1.0e30f : 1.0e30f);
            {
                esp_err_t e = ruv_temporal_push(ctx, huge);
                aether_status st = aether_model_session_step(s, huge, want, NULL);
                aether_status st2;
                CHECK_STATUS(st, AETHER_ERR_NONFINITE);
                st2 = aether_model_session_step(s, frames, want, NULL);
                if (st2 == AETHER_OK) {
                    CHECK_EQ_INT(e, ESP_ERR_INVALID_ARG);
                    CHECK_EQ_INT(ruv_temporal_push(ctx, frames), ESP_OK);
                    CHECK_EQ_INT(ruv_temporal_classify(ctx, got, NC), ESP_OK);
                    CHECK(same_bits(got, want, NC));
                } else {
                    CHECK_STATUS(st2, AETHER_ERR_STATE);
                    CHECK_EQ_INT(e, ESP_ERR_INVALID_STATE);
                    CHECK_EQ_INT(ruv_temporal_push(ctx, frames), ESP_ERR_INVALID_STATE);
                }
                /* a reduced storage refuses it at the first layer */
                if (code != RUV_TEMPORAL_CACHE_F32 && code != RUV_TEMPORAL_CACHE_BF16)
                    CHECK_EQ_INT(e, ESP_ERR_INVALID_ARG);
            }
            aether_model_session_destroy(s);
            ruv_temporal_destroy(ctx);
        }
    CHECK(bytes[RUV_TEMPORAL_CACHE_F16] < bytes[RUV_TEMPORAL_CACHE_F32]);
    CHECK(bytes[RUV_TEMPORAL_CACHE_BF16] == bytes[RUV_TEMPORAL_CACHE_F16]);
    CHECK(bytes[RUV_TEMPORAL_CACHE_INT8] < bytes[RUV_TEMPORAL_CACHE_F16]);
    {
        ruv_temporal_config_t c = ruv_temporal_config_default();
        ruv_temporal_ctx_t *ctx = NULL;
        c.mode = RUV_TEMPORAL_MODE_STREAMING;
        c.cache_storage = RUV_TEMPORAL_CACHE_INT8 + 1;
        CHECK_EQ_INT(ruv_temporal_init_ex(b, len, IN, W, NC, &c, &ctx), ESP_ERR_INVALID_ARG);
        c.cache_storage = -1;
        CHECK_EQ_INT(ruv_temporal_init_ex(b, len, IN, W, NC, &c, &ctx), ESP_ERR_INVALID_ARG);
        /* the original field name is the same int */
        c.cache_f16 = 1;
        CHECK_EQ_INT(c.cache_storage, RUV_TEMPORAL_CACHE_F16);
        CHECK(ctx == NULL);
    }
    aether_model_destroy(m);
    free(b);
}

static void test_streaming_fail_policy(void)
{
    enum { W = 6 };
    size_t len = 0, t;
    unsigned char *b = test_demo_blob(&len);
    ruv_temporal_config_t c = ruv_temporal_config_default();
    ruv_temporal_ctx_t *ctx = NULL;
    float frames[(W + 1) * IN], got[NC], want[NC];
    make_frames(frames, (W + 1) * IN, 9u);
    c.mode = RUV_TEMPORAL_MODE_STREAMING;
    c.cache_policy = RUV_TEMPORAL_CACHE_FAIL;
    CHECK_EQ_INT(ruv_temporal_init_ex(b, len, IN, W, NC, &c, &ctx), ESP_OK);
    if (ctx) {
        for (t = 0; t < W; ++t)
            CHECK_EQ_INT(ruv_temporal_push(ctx, frames + t * IN), ESP_OK);
        CHECK_EQ_INT(ruv_temporal_classify(ctx, want, NC), ESP_OK);
        CHECK_EQ_INT(ruv_temporal_push(ctx, frames + W * IN), ESP_ERR_INVALID_STATE);
        CHECK_EQ_INT(ruv_temporal_classify(ctx, got, NC), ESP_OK);
        CHECK(same_bits(got, want, NC));
        CHECK_EQ_INT(ruv_temporal_reset(ctx), ESP_OK);
        CHECK_EQ_INT(ruv_temporal_push(ctx, frames + W * IN), ESP_OK);
        ruv_temporal_destroy(ctx);
    }
    free(b);
}

static void test_static_context(void)
{
    enum { W = 32, TOTAL = 40 };
    size_t len = 0, bytes;
    unsigned char *b = test_demo_blob(&len), *mem;
    ruv_temporal_ctx_t *sctx = NULL, *hctx = NULL;
    ruv_temporal_info_t info;
    float frames[TOTAL * IN], got[NC], want[NC];
    int mode;
    make_frames(frames, TOTAL * IN, 13u);
    for (mode = 0; mode < 2; ++mode) {
        ruv_temporal_config_t c = ruv_temporal_config_default();
        c.mode = mode ? RUV_TEMPORAL_MODE_STREAMING : RUV_TEMPORAL_MODE_WINDOW;
        CHECK_EQ_INT(ruv_temporal_ctx_size_ex(b, len, IN, W, NC, &c, &bytes), ESP_OK);
        CHECK(bytes > 0);
        mem = (unsigned char *)malloc(bytes + 1);
        sctx = NULL;
        /* The size counts worst-case alignment padding, so any start
         * works with `bytes`; half of it never does. */
        CHECK_EQ_INT(ruv_temporal_init_static_ex(mem + 1, bytes / 2, b, len, IN, W, NC, &c,
                                                 &sctx),
                     ESP_ERR_NO_MEM);
        CHECK_EQ_INT(ruv_temporal_init_static_ex(mem + 1, 0, b, len, IN, W, NC, &c, &sctx),
                     ESP_ERR_NO_MEM);
        CHECK(sctx == NULL);
        CHECK_EQ_INT(ruv_temporal_init_static_ex(mem + 1, bytes, b, len, IN, W, NC, &c, &sctx),
                     ESP_OK);
        CHECK_EQ_INT(ruv_temporal_init_ex(b, len, IN, W, NC, &c, &hctx), ESP_OK);
        if (sctx && hctx) {
            CHECK_EQ_INT(ruv_temporal_get_info(sctx, &info), ESP_OK);
            CHECK(info.ctx_bytes <= bytes);
            CHECK_EQ_INT(info.n_layers, 2);
            CHECK_EQ_INT(info.n_q_heads, 4);
            CHECK_EQ_INT(info.n_kv_heads, 1);
            CHECK_EQ_INT(info.head_dim, 32);
            CHECK(same_after_pushes(sctx, hctx, frames, TOTAL));
            ruv_temporal_destroy(sctx); /* marks it dead, frees nothing */
            CHECK_EQ_INT(ruv_temporal_push(sctx, frames), ESP_ERR_INVALID_ARG);
        }
        ruv_temporal_destroy(hctx);
        hctx = NULL;
        free(mem);
    }
    /* Plain init copies the weights: the blob may go away. */
    {
        unsigned char *copy = (unsigned char *)malloc(len);
        memcpy(copy, b, len);
        CHECK_EQ_INT(ruv_temporal_init(copy, len, IN, W, NC, &hctx), ESP_OK);
        memset(copy, 0xFF, len);
        free(copy);
        if (hctx) {
            CHECK_EQ_INT(ruv_temporal_get_info(hctx, &info), ESP_OK);
            CHECK_EQ_INT(info.weights_borrowed, 0);
            CHECK_EQ_INT(ruv_temporal_push(hctx, frames), ESP_OK);
            CHECK_EQ_INT(ruv_temporal_classify(hctx, got, NC), ESP_OK);
            CHECK(reference_logits(b, len, frames, 1, AETHER_POOL_LAST, (size_t)-1, (size_t)-1,
                                   AETHER_HEAD_SPARSE_GQA, want));
            CHECK(same_bits(got, want, NC));
            ruv_temporal_destroy(hctx);
        }
    }
    CHECK_EQ_INT(ruv_temporal_ctx_size(b, len, IN, W, NC) > 0, 1);
    free(b);
}

static void test_make_packet(void)
{
    size_t len = 0, t, am = 0;
    unsigned char *b = test_demo_blob(&len);
    ruv_temporal_ctx_t *ctx = NULL;
    uint8_t pkt[RUV_TEMPORAL_PACKET_LEN];
    aether_class_packet dec;
    float frames[10 * IN], logits[NC], top = 0.0f, margin = 0.0f;
    make_frames(frames, 10 * IN, 21u);
    CHECK_EQ_INT(ruv_temporal_init(b, len, IN, 64, NC, &ctx), ESP_OK);
    if (ctx) {
        CHECK_EQ_INT(ruv_temporal_make_packet(ctx, 3, 1000000u, 1, pkt), ESP_ERR_INVALID_STATE);
        CHECK_EQ_INT(ruv_temporal_make_packet(ctx, 3, 1000000u, 1, NULL), ESP_ERR_INVALID_ARG);
        for (t = 0; t < 10; ++t)
            CHECK_EQ_INT(ruv_temporal_push(ctx, frames + t * IN), ESP_OK);
        CHECK_EQ_INT(ruv_temporal_make_packet(ctx, 3, 1000000u, 7, pkt), ESP_OK);
        CHECK_EQ_INT(ruv_temporal_classify(ctx, logits, NC), ESP_OK);
        CHECK_EQ_INT(aether_packet_argmax(logits, NC, &am, &top, &margin), AETHER_OK);
        CHECK_STATUS(aether_packet_decode(pkt, sizeof pkt, &dec), AETHER_OK);
        CHECK_EQ_INT(aether_load_le32(pkt), 0xC5110007u);
        CHECK_EQ_INT(dec.n_classes, NC);
        CHECK_EQ_INT(dec.node_id, 3);
        CHECK_EQ_INT(dec.ts_us, 1000000u);
        CHECK_EQ_INT(dec.seq, 7);
        CHECK_EQ_INT(dec.argmax, am);
        CHECK_EQ_INT(aether_f32_bits(dec.top_logit), aether_f32_bits(top));
        CHECK_EQ_INT(aether_f32_bits(dec.margin), aether_f32_bits(margin));
        CHECK_EQ_INT(aether_load_le32(pkt + 36), aether_crc32(pkt, 36));
        ruv_temporal_destroy(ctx);
    }
    free(b);
}

/* RUV_TEMPORAL_DEFAULT for input_dim / window_len / n_classes: the blob's
 * values, its metadata window_frames, else the fallback window; the header
 * defaults (no Kconfig) accept the shipped models. */
/* The demo blob with metadata `text`; NULL when it cannot be written. */
static unsigned char *demo_with_meta(const char *text, size_t *len)
{
    size_t dlen = 0, cap = 0;
    unsigned char *d = test_demo_blob(&dlen), *out = NULL;
    aether_blob_view v;
    if (d && aether_blob_parse(d, dlen, &v) == AETHER_OK &&
        aether_blob_with_metadata_size(&v, strlen(text), &cap) == AETHER_OK &&
        (out = (unsigned char *)malloc(cap)) != NULL &&
        aether_blob_with_metadata(&v, text, strlen(text), out, cap, len) != AETHER_OK) {
        free(out);
        out = NULL;
    }
    free(d);
    return out;
}

/* RUV_TEMPORAL_POOL_FROM_MODEL (the default) follows the blob's `pool`
 * key in WINDOW mode: the same logits as the pooling forced; STREAMING is
 * LAST; an unknown value is INVALID_ARG only when it is needed. */
static void test_pooling_from_model(void)
{
    static const char *const texts[2] = {"pool=mean\n", "pool=last\n"};
    enum { W = 8, TOTAL = 11 };
    float frames[TOTAL * IN];
    size_t k;
    make_frames(frames, TOTAL * IN, 33u);
    for (k = 0; k < 2; ++k) {
        size_t len = 0;
        unsigned char *b = demo_with_meta(texts[k], &len);
        ruv_temporal_config_t c = ruv_temporal_config_default();
        ruv_temporal_config_t f = ruv_temporal_config_default();
        ruv_temporal_ctx_t *ctx = NULL, *forced = NULL;
        ruv_temporal_info_t info;
        CHECK_MSG(b != NULL, "demo blob with %s", texts[k]);
        if (!b)
            continue;
        CHECK_EQ_INT(c.pooling, RUV_TEMPORAL_POOL_FROM_MODEL);
        f.pooling = k == 0 ? RUV_TEMPORAL_POOL_MEAN : RUV_TEMPORAL_POOL_LAST;
        CHECK_EQ_INT(ruv_temporal_init_ex(b, len, IN, W, NC, &c, &ctx), ESP_OK);
        CHECK_EQ_INT(ruv_temporal_init_ex(b, len, IN, W, NC, &f, &forced), ESP_OK);
        if (ctx && forced) {
            CHECK_EQ_INT(ruv_temporal_get_info(ctx, &info), ESP_OK);
            CHECK_EQ_INT(info.pooling, f.pooling);
            CHECK(same_after_pushes(ctx, forced, frames, TOTAL));
        }
        ruv_temporal_destroy(ctx);
        ruv_temporal_destroy(forced);
        ctx = NULL;
        c.mode = RUV_TEMPORAL_MODE_STREAMING;
        CHECK_EQ_INT(ruv_temporal_init_ex(b, len, IN, W, NC, &c, &ctx), ESP_OK);
        if (ctx) {
            CHECK_EQ_INT(ruv_temporal_get_info(ctx, &info), ESP_OK);
            CHECK_EQ_INT(info.pooling, RUV_TEMPORAL_POOL_LAST);
            ruv_temporal_destroy(ctx);
        }
        free(b);
    }
    {
        size_t len = 0, n = 0;
        unsigned char *b = demo_with_meta("pool=max\n", &len);
        ruv_temporal_config_t c = ruv_temporal_config_default();
        ruv_temporal_ctx_t *ctx = NULL;
        CHECK(b != NULL);
        if (b) {
            CHECK_EQ_INT(ruv_temporal_init(b, len, IN, W, NC, &ctx), ESP_ERR_INVALID_ARG);
            CHECK_EQ_INT(ruv_temporal_ctx_size_ex(b, len, IN, W, NC, NULL, &n),
                         ESP_ERR_INVALID_ARG);
            CHECK(ctx == NULL);
            c.pooling = RUV_TEMPORAL_POOL_LAST; /* not read when forced */
            CHECK_EQ_INT(ruv_temporal_init_ex(b, len, IN, W, NC, &c, &ctx), ESP_OK);
            ruv_temporal_destroy(ctx);
            ctx = NULL;
            c.pooling = (ruv_temporal_pooling_t)3;
            CHECK_EQ_INT(ruv_temporal_init_ex(b, len, IN, W, NC, &c, &ctx), ESP_ERR_INVALID_ARG);
        }
        free(b);
    }
}

static void test_defaults_from_blob(void)
{
    static const struct {
        const char *file;
        uint32_t input_dim, n_classes, window;
    } shipped[] = {{"gesture.rvne", 39, 3, 64}, {"motion.rvne", 17, 2, 256}};
    size_t i;
    aether_blob_demo_params dp = aether_blob_demo_default();
    size_t demo_len = 0;
    unsigned char *demo;
    CHECK(RUV_TEMPORAL_DEFAULT_INPUT_DIM == RUV_TEMPORAL_DEFAULT);
    CHECK(RUV_TEMPORAL_DEFAULT_N_CLASSES == RUV_TEMPORAL_DEFAULT);
    CHECK(RUV_TEMPORAL_DEFAULT_WINDOW_LEN == RUV_TEMPORAL_DEFAULT);
    for (i = 0; i < sizeof shipped / sizeof shipped[0]; ++i) {
        size_t len = 0;
        unsigned char *b = test_shipped_model(shipped[i].file, &len);
        ruv_temporal_ctx_t *ctx = NULL;
        ruv_temporal_info_t info;
        float frame[39] = {0}, logits[3]; /* the widest shipped input */
        int mode;
        CHECK_MSG(b != NULL, "cannot read models/%s", shipped[i].file);
        if (!b)
            continue;
        for (mode = 0; mode < 2; ++mode) {
            ruv_temporal_config_t c = ruv_temporal_config_default();
            c.mode = mode ? RUV_TEMPORAL_MODE_STREAMING : RUV_TEMPORAL_MODE_WINDOW;
            CHECK_EQ_INT(ruv_temporal_init_ex(b, len, RUV_TEMPORAL_DEFAULT_INPUT_DIM,
                                              RUV_TEMPORAL_DEFAULT_WINDOW_LEN,
                                              RUV_TEMPORAL_DEFAULT_N_CLASSES, &c, &ctx),
                         ESP_OK);
            if (!ctx)
                continue;
            CHECK_EQ_INT(ruv_temporal_get_info(ctx, &info), ESP_OK);
            CHECK_EQ_INT(info.input_dim, shipped[i].input_dim);
            CHECK_EQ_INT(info.n_classes, shipped[i].n_classes);
            CHECK_EQ_INT(info.window_len, shipped[i].window);
            /* both shipped models are mean-pooled window classifiers */
            CHECK_EQ_INT(info.pooling, mode ? RUV_TEMPORAL_POOL_LAST : RUV_TEMPORAL_POOL_MEAN);
            CHECK_EQ_INT(ruv_temporal_push(ctx, frame), ESP_OK);
            CHECK_EQ_INT(ruv_temporal_classify(ctx, logits, info.n_classes), ESP_OK);
            ruv_temporal_destroy(ctx);
            ctx = NULL;
        }
        /* plain init: the model's pooling too */
        CHECK_EQ_INT(ruv_temporal_init(b, len, RUV_TEMPORAL_DEFAULT, RUV_TEMPORAL_DEFAULT,
                                       RUV_TEMPORAL_DEFAULT, &ctx),
                     ESP_OK);
        if (ctx) {
            CHECK_EQ_INT(ruv_temporal_get_info(ctx, &info), ESP_OK);
            CHECK_EQ_INT(info.pooling, RUV_TEMPORAL_POOL_MEAN);
            ruv_temporal_destroy(ctx);
            ctx = NULL;
        }
        /* explicit values must still match the blob */
        CHECK_EQ_INT(ruv_temporal_init(b, len, 16, 64, RUV_TEMPORAL_DEFAULT, &ctx),
                     ESP_ERR_INVALID_SIZE);
        CHECK_EQ_INT(ruv_temporal_init(b, len, RUV_TEMPORAL_DEFAULT, 64, 4, &ctx),
                     ESP_ERR_INVALID_SIZE);
        CHECK_EQ_INT(ruv_temporal_init(b, len, 0, 64, RUV_TEMPORAL_DEFAULT, &ctx),
                     ESP_ERR_INVALID_ARG);
        CHECK_EQ_INT(ruv_temporal_init(b, len, RUV_TEMPORAL_DEFAULT, 0, RUV_TEMPORAL_DEFAULT, &ctx),
                     ESP_ERR_INVALID_ARG);
        CHECK(ctx == NULL);
        /* the size query resolves the same way */
        CHECK(ruv_temporal_ctx_size(b, len, RUV_TEMPORAL_DEFAULT, RUV_TEMPORAL_DEFAULT,
                                    RUV_TEMPORAL_DEFAULT) ==
              ruv_temporal_ctx_size(b, len, shipped[i].input_dim, shipped[i].window,
                                    shipped[i].n_classes));
        free(b);
    }
    /* no metadata: the fallback window */
    CHECK_STATUS(aether_blob_demo_size(&dp, &demo_len), AETHER_OK);
    demo = (unsigned char *)malloc(demo_len);
    CHECK(demo != NULL);
    if (demo && aether_blob_demo_write(&dp, demo, demo_len, NULL) == AETHER_OK) {
        ruv_temporal_ctx_t *ctx = NULL;
        ruv_temporal_info_t info;
        CHECK_EQ_INT(ruv_temporal_init(demo, demo_len, RUV_TEMPORAL_DEFAULT_INPUT_DIM,
                                       RUV_TEMPORAL_DEFAULT_WINDOW_LEN,
                                       RUV_TEMPORAL_DEFAULT_N_CLASSES, &ctx),
                     ESP_OK);
        if (ctx) {
            CHECK_EQ_INT(ruv_temporal_get_info(ctx, &info), ESP_OK);
            CHECK_EQ_INT(info.window_len, RUV_TEMPORAL_FALLBACK_WINDOW_LEN);
            CHECK_EQ_INT(info.pooling, RUV_TEMPORAL_POOL_LAST); /* no pool key */
            CHECK_EQ_INT(info.input_dim, 16);
            CHECK_EQ_INT(info.n_classes, 4);
            ruv_temporal_destroy(ctx);
        }
    } else {
        CHECK_MSG(0, "demo blob not written");
    }
    free(demo);
}

static void test_self_test(void)
{
    /* Bit-exact on the reference path, within contract on the host's
     * optimised one (if any). */
    CHECK_STATUS(aether_set_kernel_mode(AETHER_KERNELS_REFERENCE), AETHER_OK);
    CHECK_EQ_INT(ruv_temporal_kernel_self_test(), ESP_OK);
    CHECK_STATUS(aether_set_kernel_mode(AETHER_KERNELS_AUTO), AETHER_OK);
    CHECK_EQ_INT(ruv_temporal_kernel_self_test(), ESP_OK);
}

TEST_MAIN(test_esp_codes, test_null_and_zero_args, test_golden_blob_errors,
          test_model_level_errors, test_config_errors, test_classify_state_and_nan,
          test_ring_order_and_partial, test_window_options, test_streaming_equals_window,
          test_streaming_fail_policy, test_streaming_cache_storage, test_static_context,
          test_make_packet, test_self_test,
          test_defaults_from_blob, test_pooling_from_model)
