/* Portability digest: CRC-32 over byte-level results that must not depend on
 * the host's word size or byte order - the serialized demo blob, an encoded
 * classification packet, reference attention outputs, model logits through
 * the firmware ABI, and binary16 conversions. The expected constants were
 * recorded on x86_64; scripts/cross_test.sh runs this on armhf (32-bit) and
 * s390x (big-endian), where they must come out identical. Every float enters
 * the digest as its bit pattern stored little-endian. The scalar reference
 * kernels are forced (optimised host paths are not bit-exact by design). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aether/attention.h"
#include "aether/blob.h"
#include "aether/dispatch.h"
#include "aether/packet.h"
#include "check.h"
#include "test_util.h"
#include "test_ws.h"
#include "ruv_temporal.h"

/* Recorded on x86_64 (gcc and clang, -ffp-contract=off). */
#define EXPECT_BLOB 0xDC807956u
#define EXPECT_PACKET 0x836F9CC9u
#define EXPECT_ATTN 0x9DFD32EDu
#define EXPECT_LOGITS 0x01E5E9C9u
#define EXPECT_F16 0xABA2B4B2u
#define EXPECT_ALL 0x2675F4EDu

static uint32_t g_all; /* running CRC over every part, in order */

/* Add floats to a part CRC (and the overall digest) as LE bit patterns. */
static uint32_t crc_floats(uint32_t crc, const float *x, size_t n)
{
    unsigned char b[4];
    size_t i;
    for (i = 0; i < n; ++i) {
        aether_store_lef32(b, x[i]);
        crc = aether_crc32_update(crc, b, 4);
        g_all = aether_crc32_update(g_all, b, 4);
    }
    return crc;
}

static uint32_t crc_bytes(uint32_t crc, const void *p, size_t n)
{
    g_all = aether_crc32_update(g_all, p, n);
    return aether_crc32_update(crc, p, n);
}

static void report(const char *part, uint32_t got, uint32_t want)
{
    printf("digest %-7s 0x%08lX\n", part, (unsigned long)got);
    CHECK_MSG(got == want, "%s: 0x%08lX, expected 0x%08lX", part, (unsigned long)got,
              (unsigned long)want);
}

static void test_setup(void)
{
    CHECK_STATUS(aether_set_kernel_mode(AETHER_KERNELS_REFERENCE), AETHER_OK);
    g_all = 0;
}

static void test_blob(void)
{
    size_t len = 0;
    unsigned char *b = test_demo_blob(&len);
    uint32_t crc;
    CHECK(b != NULL);
    if (!b)
        return;
    CHECK_EQ_INT(len, 41244);
    CHECK_EQ_INT(aether_load_le32(b + len - 4), 0xDC807956u);
    /* A CRC over data plus its own CRC is a constant: hash the part without
     * the trailer (so it equals the stored CRC); the digest gets all. */
    crc = crc_bytes(0, b, len - 4);
    g_all = aether_crc32_update(g_all, b + len - 4, 4);
    CHECK_EQ_INT(crc, 0xDC807956u);
    report("blob", crc, EXPECT_BLOB);
    free(b);
}

static void test_packet(void)
{
    /* docs/FORMATS.md section 4.4 example. */
    static const unsigned char want[40] = {0x07, 0x00, 0x11, 0xc5, 0x01, 0x00, 0x04, 0x00,
                                           0x03, 0x00, 0x00, 0x00, 0x40, 0x42, 0x0f, 0x00,
                                           0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
                                           0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x40,
                                           0x00, 0x00, 0x80, 0x3f, 0xc9, 0x9c, 0x6f, 0x83};
    const float logits[4] = {0.5f, 2.0f, 1.0f, -1.0f};
    aether_class_packet pkt;
    unsigned char out[40];
    uint32_t crc;
    CHECK_STATUS(aether_packet_from_logits(&pkt, logits, 4, 3, 1000000u, 1), AETHER_OK);
    CHECK_STATUS(aether_packet_encode(&pkt, out, sizeof out), AETHER_OK);
    CHECK(memcmp(out, want, sizeof want) == 0);
    crc = crc_bytes(0, out, 36);
    g_all = aether_crc32_update(g_all, out + 36, 4);
    report("packet", crc, EXPECT_PACKET);
}

static void fill(float *x, size_t n, uint32_t seed)
{
    uint32_t s = seed;
    size_t i;
    for (i = 0; i < n; ++i) {
        s = s * 1664525u + 1013904223u;
        x[i] = (float)(s >> 8) / 8388608.0f - 1.0f;
    }
}

static void test_attention(void)
{
    enum { SEQ = 48, QH = 4, KVH = 1, D = 8 };
    static float q[SEQ * QH * D], k[SEQ * KVH * D], v[SEQ * KVH * D], o[SEQ * QH * D];
    static float q2[SEQ * 2 * D], k2[SEQ * 2 * D], v2[SEQ * 2 * D], o2[SEQ * 2 * D];
    size_t globals[2] = {0, 5};
    aether_attn_params ap = aether_attn_params_default();
    aether_attn_config cfg;
    aether_tensor tq, tk, tv, to;
    uint32_t crc = 0;
    fill(q, sizeof q / sizeof q[0], 1u);
    fill(k, sizeof k / sizeof k[0], 2u);
    fill(v, sizeof v / sizeof v[0], 3u);
    fill(q2, sizeof q2 / sizeof q2[0], 4u);
    fill(k2, sizeof k2 / sizeof k2[0], 5u);
    fill(v2, sizeof v2 / sizeof v2[0], 6u);
    ap.window = 4;
    ap.block_size = 4;
    ap.globals = globals;
    ap.n_globals = 2;
    CHECK_STATUS(aether_attn_config_init(&cfg, &ap), AETHER_OK);
    /* GQA causal sparse prefill */
    aether_tensor_view(&tq, q, SEQ * QH * D, SEQ, QH, D);
    aether_tensor_view(&tk, k, SEQ * KVH * D, SEQ, KVH, D);
    aether_tensor_view(&tv, v, SEQ * KVH * D, SEQ, KVH, D);
    aether_tensor_view(&to, o, SEQ * QH * D, SEQ, QH, D);
    CHECK_STATUS(ws_attn_forward_gqa(&cfg, &tq, &tk, &tv, &to), AETHER_OK);
    crc = crc_floats(crc, o, SEQ * QH * D);
    /* MHA non-causal sparse prefill */
    ap.causal = 0;
    CHECK_STATUS(aether_attn_config_init(&cfg, &ap), AETHER_OK);
    aether_tensor_view(&tq, q2, SEQ * 2 * D, SEQ, 2, D);
    aether_tensor_view(&tk, k2, SEQ * 2 * D, SEQ, 2, D);
    aether_tensor_view(&tv, v2, SEQ * 2 * D, SEQ, 2, D);
    aether_tensor_view(&to, o2, SEQ * 2 * D, SEQ, 2, D);
    CHECK_STATUS(ws_attn_forward(&cfg, &tq, &tk, &tv, &to), AETHER_OK);
    crc = crc_floats(crc, o2, SEQ * 2 * D);
    /* dense causal */
    CHECK_STATUS(aether_attn_dense(&tq, &tk, &tv, 1, &to), AETHER_OK);
    crc = crc_floats(crc, o2, SEQ * 2 * D);
    report("attn", crc, EXPECT_ATTN);
}

static void test_logits(void)
{
    enum { W = 32, TOTAL = 40, IN = 16, NC = 4 };
    size_t len = 0, t;
    unsigned char *b = test_demo_blob(&len);
    float frames[TOTAL * IN], logits[NC];
    uint32_t crc = 0;
    int k;
    fill(frames, TOTAL * IN, 7u);
    for (k = 0; k < 3; ++k) {
        ruv_temporal_config_t c = ruv_temporal_config_default();
        ruv_temporal_ctx_t *ctx = NULL;
        if (k == 1)
            c.pooling = RUV_TEMPORAL_POOL_MEAN;
        if (k == 2)
            c.mode = RUV_TEMPORAL_MODE_STREAMING; /* evicts after 32 frames */
        CHECK_EQ_INT(ruv_temporal_init_ex(b, len, IN, W, NC, &c, &ctx), ESP_OK);
        if (!ctx)
            continue;
        for (t = 0; t < TOTAL; ++t) {
            CHECK_EQ_INT(ruv_temporal_push(ctx, frames + t * IN), ESP_OK);
            if (t == 5 || t == TOTAL - 1) {
                CHECK_EQ_INT(ruv_temporal_classify(ctx, logits, NC), ESP_OK);
                crc = crc_floats(crc, logits, NC);
            }
        }
        ruv_temporal_destroy(ctx);
    }
    report("logits", crc, EXPECT_LOGITS);
    free(b);
}

static void test_f16(void)
{
    uint32_t crc = 0, i;
    unsigned char b[2];
    /* every half to float */
    for (i = 0; i < 65536u; ++i) {
        float f = aether_f16_to_f32((uint16_t)i);
        crc = crc_floats(crc, &f, 1);
    }
    /* floats to half across the whole exponent range, ties and specials */
    for (i = 0; i < 65536u; ++i) {
        uint32_t bits = i * 0x00010001u + (i >> 3);
        uint16_t h = aether_f32_to_f16(aether_f32_from_bits(bits));
        aether_store_le16(b, h);
        crc = crc_bytes(crc, b, 2);
    }
    report("f16", crc, EXPECT_F16);
}

static void test_total(void)
{
    report("all", g_all, EXPECT_ALL);
    CHECK_STATUS(aether_set_kernel_mode(AETHER_KERNELS_AUTO), AETHER_OK);
}

TEST_MAIN(test_setup, test_blob, test_packet, test_attention, test_logits, test_f16, test_total)
