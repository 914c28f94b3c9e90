/* The firmware ABI on the integer path: an RVNQ blob given to
 * ruv_temporal_init* runs aether/quant.h (docs/FORMATS.md section 9).
 * Streaming logits equal an integer session's, window classify equals the
 * integer window forward over the ring, both bit for bit; COPY frees the
 * caller's blob; bad blobs and unsupported options get their codes. */
#include <stdlib.h>
#include <string.h>

#include "aether/quant.h"
#include "check.h"
#include "ruv_temporal.h"

enum { IN = 16, NC = 4, W = 24, TOTAL = 40 };

static unsigned char *quantized_demo(size_t *len, int input_norm)
{
    aether_blob_demo_params p = aether_blob_demo_default();
    aether_blob_view v;
    size_t n = 0;
    unsigned char *f, *q = NULL;
    p.input_norm = input_norm;
    if (aether_blob_demo_size(&p, &n) != AETHER_OK || !(f = (unsigned char *)malloc(n)))
        return NULL;
    if (aether_blob_demo_write(&p, f, n, NULL) == AETHER_OK &&
        aether_blob_parse(f, n, &v) == AETHER_OK &&
        aether_qblob_quantize_size(&v, len) == AETHER_OK &&
        (q = (unsigned char *)malloc(*len)) != NULL &&
        aether_qblob_quantize(&v, q, *len, NULL) != AETHER_OK) {
        free(q);
        q = NULL;
    }
    free(f);
    return q;
}

static void frames_of(float *fr, size_t n)
{
    uint32_t s = 12345u;
    size_t i;
    for (i = 0; i < n; ++i) {
        s = s * 1664525u + 1013904223u;
        fr[i] = ((float)(s >> 8) / 8388608.0f - 1.0f) * 2.5f;
    }
}

static void test_streaming_matches_session(void)
{
    size_t len = 0, mn = 0, sn = 0, t;
    unsigned char *q = quantized_demo(&len, 1);
    static float fr[TOTAL * IN];
    ruv_temporal_config_t c = ruv_temporal_config_default();
    ruv_temporal_ctx_t *ctx = NULL;
    ruv_temporal_info_t info;
    aether_qblob_view v;
    aether_qmodel *m = NULL;
    aether_qsession *s = NULL;
    void *mb = NULL, *sb = NULL;
    uint8_t pkt[RUV_TEMPORAL_PACKET_LEN];
    if (!q) {
        CHECK_MSG(0, "fixture");
        return;
    }
    frames_of(fr, TOTAL * IN);
    c.mode = RUV_TEMPORAL_MODE_STREAMING;
    CHECK_EQ_INT(ruv_temporal_init_ex(q, len, IN, W, NC, &c, &ctx), ESP_OK);
    CHECK_STATUS(aether_qblob_parse(q, len, &v), AETHER_OK);
    CHECK_STATUS(aether_qmodel_size(&v, NULL, &mn), AETHER_OK);
    mb = malloc(mn);
    CHECK_STATUS(aether_qmodel_init(mb, mn, &v, NULL, &m), AETHER_OK);
    CHECK_STATUS(aether_qsession_size(m, W, AETHER_KV_EVICT_SLIDING, &sn), AETHER_OK);
    sb = malloc(sn);
    CHECK_STATUS(aether_qsession_init(sb, sn, m, W, AETHER_KV_EVICT_SLIDING, &s), AETHER_OK);
    if (!ctx || !s)
        goto out;
    {
        float l[NC];
        CHECK_EQ_INT(ruv_temporal_classify(ctx, l, NC), ESP_ERR_INVALID_STATE);
    }
    for (t = 0; t < TOTAL; ++t) {
        float a[NC], b[NC];
        CHECK_EQ_INT(ruv_temporal_push(ctx, fr + t * IN), ESP_OK);
        CHECK_STATUS(aether_qsession_step(s, fr + t * IN, b), AETHER_OK);
        CHECK_EQ_INT(ruv_temporal_classify(ctx, a, NC), ESP_OK);
        CHECK(memcmp(a, b, sizeof a) == 0);
    }
    CHECK_EQ_INT(ruv_temporal_get_info(ctx, &info), ESP_OK);
    CHECK_EQ_INT(info.frames_total, TOTAL);
    CHECK_EQ_INT(info.frames_held, W);
    CHECK_EQ_INT(info.evicted, 1);
    CHECK_EQ_INT(info.weights_borrowed, 1);
    CHECK_EQ_INT(info.head_dim, 32);
    CHECK_EQ_INT(ruv_temporal_make_packet(ctx, 3, 1000, 7, pkt), ESP_OK);
    {
        float nan_frame[IN];
        memcpy(nan_frame, fr, sizeof nan_frame);
        nan_frame[5] = NAN;
        CHECK_EQ_INT(ruv_temporal_push(ctx, nan_frame), ESP_ERR_INVALID_ARG);
    }
    CHECK_EQ_INT(ruv_temporal_reset(ctx), ESP_OK);
    CHECK_EQ_INT(ruv_temporal_get_info(ctx, &info), ESP_OK);
    CHECK_EQ_INT(info.frames_total, 0);
    CHECK_EQ_INT(info.evicted, 0);
out:
    ruv_temporal_destroy(ctx);
    free(sb);
    free(mb);
    free(q);
}

static void test_window_matches_forward(void)
{
    size_t len = 0, mn = 0, need = 0, t, k;
    unsigned char *q = quantized_demo(&len, 0), *copy;
    static float fr[TOTAL * IN];
    aether_qblob_view v;
    aether_qmodel *m = NULL;
    void *mb = NULL, *ws = NULL;
    if (!q) {
        CHECK_MSG(0, "fixture");
        return;
    }
    frames_of(fr, TOTAL * IN);
    CHECK_STATUS(aether_qblob_parse(q, len, &v), AETHER_OK);
    CHECK_STATUS(aether_qmodel_size(&v, NULL, &mn), AETHER_OK);
    mb = malloc(mn);
    CHECK_STATUS(aether_qmodel_init(mb, mn, &v, NULL, &m), AETHER_OK);
    CHECK_STATUS(aether_qmodel_forward_workspace_size(m, W, &need), AETHER_OK);
    ws = malloc(need);
    for (k = 0; k < 2 && m && ws; ++k) {
        ruv_temporal_config_t c = ruv_temporal_config_default();
        ruv_temporal_ctx_t *ctx = NULL;
        c.mode = RUV_TEMPORAL_MODE_WINDOW;
        c.pooling = k ? RUV_TEMPORAL_POOL_MEAN : RUV_TEMPORAL_POOL_LAST;
        c.weights = RUV_TEMPORAL_WEIGHTS_COPY;
        copy = (unsigned char *)malloc(len);
        memcpy(copy, q, len);
        CHECK_EQ_INT(ruv_temporal_init_ex(copy, len, IN, W, NC, &c, &ctx), ESP_OK);
        memset(copy, 0xAB, len); /* COPY: the context keeps its own */
        free(copy);
        if (!ctx)
            continue;
        for (t = 0; t < TOTAL; ++t) {
            float a[NC], b[NC];
            size_t n = t + 1 < W ? t + 1 : W;
            CHECK_EQ_INT(ruv_temporal_push(ctx, fr + t * IN), ESP_OK);
            CHECK_EQ_INT(ruv_temporal_classify(ctx, a, NC), ESP_OK);
            CHECK_STATUS(aether_qmodel_forward(m, fr + (t + 1 - n) * IN, n,
                                               k ? AETHER_POOL_MEAN : AETHER_POOL_LAST, b, ws,
                                               need),
                         AETHER_OK);
            CHECK_MSG(memcmp(a, b, sizeof a) == 0, "pool %zu frame %zu", k, t);
        }
        {
            ruv_temporal_info_t info;
            CHECK_EQ_INT(ruv_temporal_get_info(ctx, &info), ESP_OK);
            CHECK_EQ_INT(info.frames_held, W);
            CHECK_EQ_INT(info.weights_borrowed, 0);
        }
        ruv_temporal_destroy(ctx);
    }
    /* the original entry point (WINDOW, LAST, COPY) and static init */
    {
        ruv_temporal_ctx_t *ctx = NULL;
        size_t bytes = ruv_temporal_ctx_size(q, len, IN, W, NC);
        void *buf = malloc(bytes ? bytes : 1);
        float a[NC];
        CHECK(bytes > 0);
        CHECK_EQ_INT(ruv_temporal_init_static(buf, bytes - 1, q, len, IN, W, NC, &ctx),
                     ESP_ERR_NO_MEM);
        CHECK_EQ_INT(ruv_temporal_init_static(buf, bytes, q, len, IN, W, NC, &ctx), ESP_OK);
        CHECK_EQ_INT(ruv_temporal_push(ctx, fr), ESP_OK);
        CHECK_EQ_INT(ruv_temporal_classify(ctx, a, NC), ESP_OK);
        ruv_temporal_destroy(ctx);
        free(buf);
        ctx = NULL;
        CHECK_EQ_INT(ruv_temporal_init(q, len, IN, W, NC, &ctx), ESP_OK);
        CHECK_EQ_INT(ruv_temporal_push(ctx, fr), ESP_OK);
        ruv_temporal_destroy(ctx);
    }
    free(ws);
    free(mb);
    free(q);
}

static void test_bad_blobs_and_options(void)
{
    size_t len = 0;
    unsigned char *q = quantized_demo(&len, 1), *t;
    ruv_temporal_config_t c = ruv_temporal_config_default();
    ruv_temporal_ctx_t *ctx = NULL;
    if (!q || !(t = (unsigned char *)malloc(len))) {
        CHECK_MSG(0, "fixture");
        free(q);
        return;
    }
    CHECK_EQ_INT(ruv_temporal_init_ex(q, len - 1, IN, W, NC, NULL, &ctx), ESP_ERR_INVALID_ARG);
    memcpy(t, q, len);
    t[100] ^= 1;
    CHECK_EQ_INT(ruv_temporal_init_ex(t, len, IN, W, NC, NULL, &ctx), ESP_ERR_INVALID_CRC);
    memcpy(t, q, len);
    aether_store_le16(t + 24, 100); /* Wq row 0 scale m below 16384 */
    aether_store_le32(t + len - 4, aether_crc32(t, len - 4));
    CHECK_EQ_INT(ruv_temporal_init_ex(t, len, IN, W, NC, NULL, &ctx), ESP_ERR_INVALID_ARG);
    memcpy(t, q, len);
    aether_store_le16(t + 14, 300); /* head_dim beyond the integer bound */
    aether_store_le32(t + len - 4, aether_crc32(t, len - 4));
    CHECK_EQ_INT(ruv_temporal_init_ex(t, len, IN, W, NC, NULL, &ctx), ESP_ERR_INVALID_SIZE);
    CHECK_EQ_INT(ruv_temporal_init_ex(q, len, IN + 1, W, NC, NULL, &ctx), ESP_ERR_INVALID_SIZE);
    c.mode = RUV_TEMPORAL_MODE_STREAMING;
    c.cache_storage = RUV_TEMPORAL_CACHE_F16;
    CHECK_EQ_INT(ruv_temporal_init_ex(q, len, IN, W, NC, &c, &ctx), ESP_ERR_NOT_SUPPORTED);
    c.cache_storage = RUV_TEMPORAL_CACHE_BF16;
    CHECK_EQ_INT(ruv_temporal_init_ex(q, len, IN, W, NC, &c, &ctx), ESP_ERR_NOT_SUPPORTED);
    /* INT8 is what the integer model stores anyway: the same context as F32 */
    c.cache_storage = RUV_TEMPORAL_CACHE_INT8;
    {
        size_t b8 = 0, b32 = 0;
        CHECK_EQ_INT(ruv_temporal_ctx_size_ex(q, len, IN, W, NC, &c, &b8), ESP_OK);
        c.cache_storage = RUV_TEMPORAL_CACHE_F32;
        CHECK_EQ_INT(ruv_temporal_ctx_size_ex(q, len, IN, W, NC, &c, &b32), ESP_OK);
        CHECK(b8 == b32 && b8 > 0);
    }
    c.cache_policy = RUV_TEMPORAL_CACHE_SCORED;
    CHECK_EQ_INT(ruv_temporal_init_ex(q, len, IN, W, NC, &c, &ctx), ESP_ERR_NOT_SUPPORTED);
    c.cache_policy = RUV_TEMPORAL_CACHE_FAIL;
    CHECK_EQ_INT(ruv_temporal_init_ex(q, len, IN, 3, NC, &c, &ctx), ESP_OK);
    if (ctx) {
        float fr[IN] = {0};
        CHECK_EQ_INT(ruv_temporal_push(ctx, fr), ESP_OK);
        CHECK_EQ_INT(ruv_temporal_push(ctx, fr), ESP_OK);
        CHECK_EQ_INT(ruv_temporal_push(ctx, fr), ESP_OK);
        CHECK_EQ_INT(ruv_temporal_push(ctx, fr), ESP_ERR_INVALID_STATE); /* full */
        CHECK_EQ_INT(ruv_temporal_reset(ctx), ESP_OK);
        CHECK_EQ_INT(ruv_temporal_push(ctx, fr), ESP_OK);
        ruv_temporal_destroy(ctx);
    }
    c.cache_policy = RUV_TEMPORAL_CACHE_SLIDING;
    ctx = NULL;
    CHECK_EQ_INT(ruv_temporal_init_ex(q, len, IN, 1, NC, &c, &ctx),
                 ESP_ERR_INVALID_ARG); /* sliding keeps token 0: window_len >= 2 */
    CHECK(ctx == NULL);
    CHECK_EQ_INT(ruv_temporal_init_ex(q, len, IN, 8, NC, &c, &ctx), ESP_OK); /* < block 16 */
    if (ctx) {
        float fr[IN] = {0};
        size_t k;
        for (k = 0; k < 40; ++k) {
            fr[k % IN] = (float)k * 0.25f;
            CHECK_EQ_INT(ruv_temporal_push(ctx, fr), ESP_OK);
        }
        ruv_temporal_destroy(ctx);
    }
    free(t);
    free(q);
}

TEST_MAIN(test_streaming_matches_session, test_window_matches_forward,
          test_bad_blobs_and_options)
