/* Portability digest: CRC-32 over byte-level results that must not depend on
 * the host's word size or byte order - the serialized demo blob, an encoded
 * classification packet, reference attention outputs, model logits through
 * the firmware ABI, and binary16 conversions; separately, the integer path
 * (aether/quant.h): quantized blobs and Q16 logits of window forwards and
 * streaming sessions, which must be identical on every target. The expected constants were
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
#include "aether/quant.h"
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
#define EXPECT_QUANT 0x657CDC26u /* the integer path; not part of EXPECT_ALL */

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

/* Q16 values as LE bytes (not part of g_all). */
static uint32_t crc_i32(uint32_t crc, const int32_t *x, size_t n)
{
    unsigned char b[4];
    size_t i;
    for (i = 0; i < n; ++i) {
        aether_store_le32(b, (uint32_t)x[i]);
        crc = aether_crc32_update(crc, b, 4);
    }
    return crc;
}

/* One quantized blob through the integer model: window forwards (LAST and
 * MEAN, several lengths) and a sliding session past its evictions. */
static uint32_t quant_run(uint32_t crc, const unsigned char *q, size_t qlen,
                          const aether_head_config *cfg)
{
    enum { TOTAL = 40 };
    aether_qblob_view v;
    aether_qmodel *m = NULL;
    aether_qsession *s = NULL;
    size_t mn = 0, need = 0, sn = 0, I, C, t, i;
    void *mb = NULL, *ws = NULL, *sb = NULL;
    int32_t *fr = NULL, logits[8];
    float ff[TOTAL];
    CHECK_STATUS(aether_qblob_parse(q, qlen, &v), AETHER_OK);
    CHECK_STATUS(aether_qmodel_size(&v, cfg, &mn), AETHER_OK);
    mb = malloc(mn);
    CHECK_STATUS(aether_qmodel_init(mb, mn, &v, cfg, &m), AETHER_OK);
    if (!m)
        goto out;
    I = v.header.input_dim;
    C = v.header.n_classes;
    fr = (int32_t *)malloc(TOTAL * I * sizeof(int32_t));
    for (t = 0; t < TOTAL * I && fr; t += TOTAL) {
        fill(ff, TOTAL, (uint32_t)(11u + t));
        for (i = 0; i < TOTAL && t + i < TOTAL * I; ++i)
            CHECK_STATUS(aether_q16_from_f32(3.0f * ff[i], &fr[t + i]), AETHER_OK);
    }
    CHECK_STATUS(aether_qmodel_forward_workspace_size(m, TOTAL, &need), AETHER_OK);
    ws = malloc(need);
    CHECK_STATUS(aether_qsession_size(m, 20, AETHER_KV_EVICT_SLIDING, &sn), AETHER_OK);
    sb = malloc(sn);
    CHECK_STATUS(aether_qsession_init(sb, sn, m, 20, AETHER_KV_EVICT_SLIDING, &s), AETHER_OK);
    if (!fr || !ws || !s || C > 8)
        goto out;
    for (t = 1; t <= TOTAL; t += 13) {
        CHECK_STATUS(aether_qmodel_forward_q16(m, fr, t, AETHER_POOL_LAST, logits, NULL, ws, need),
                     AETHER_OK);
        crc = crc_i32(crc, logits, C);
        CHECK_STATUS(aether_qmodel_forward_q16(m, fr, t, AETHER_POOL_MEAN, logits, NULL, ws, need),
                     AETHER_OK);
        crc = crc_i32(crc, logits, C);
    }
    for (t = 0; t < TOTAL; ++t) {
        CHECK_STATUS(aether_qsession_step_q16(s, fr + t * I, logits, NULL), AETHER_OK);
        crc = crc_i32(crc, logits, C);
    }
    CHECK_EQ_INT(aether_qsession_evicted(s), 1);
out:
    free(sb);
    free(ws);
    free(fr);
    free(mb);
    return crc;
}

static void test_quant(void)
{
    aether_blob_demo_params p = aether_blob_demo_default();
    aether_head_config dense = aether_head_config_default_aether();
    aether_blob_view v;
    size_t len = 0, qlen = 0, n = 0, k;
    unsigned char *b = NULL, *q = NULL;
    uint32_t crc = 0;
    dense.backend = AETHER_HEAD_DENSE;
    for (k = 0; k < 2; ++k) {
        p.input_norm = (int)k;
        p.f16 = (int)k;
        CHECK_STATUS(aether_blob_demo_size(&p, &len), AETHER_OK);
        b = (unsigned char *)malloc(len);
        CHECK_STATUS(aether_blob_demo_write(&p, b, len, NULL), AETHER_OK);
        CHECK_STATUS(aether_blob_parse(b, len, &v), AETHER_OK);
        CHECK_STATUS(aether_qblob_quantize_size(&v, &qlen), AETHER_OK);
        q = (unsigned char *)malloc(qlen);
        CHECK_STATUS(aether_qblob_quantize(&v, q, qlen, &n), AETHER_OK);
        crc = aether_crc32_update(crc, q, n);
        crc = quant_run(crc, q, n, NULL);
        crc = quant_run(crc, q, n, &dense);
        free(q);
        free(b);
    }
    /* the shipped quantized gesture model */
    {
        char path[1024];
        snprintf(path, sizeof path, "%s/models/gesture.q8", AETHER_SOURCE_DIR);
        q = test_read_file(path, &qlen);
        CHECK_MSG(q != NULL, "%s missing", path);
        if (q) {
            crc = aether_crc32_update(crc, q, qlen);
            crc = quant_run(crc, q, qlen, NULL);
            free(q);
        }
    }
    printf("digest %-7s 0x%08lX\n", "quant", (unsigned long)crc);
    CHECK_MSG(crc == EXPECT_QUANT, "quant: 0x%08lX, expected 0x%08lX", (unsigned long)crc,
              (unsigned long)EXPECT_QUANT);
}

static void test_total(void)
{
    report("all", g_all, EXPECT_ALL);
    CHECK_STATUS(aether_set_kernel_mode(AETHER_KERNELS_AUTO), AETHER_OK);
}

TEST_MAIN(test_setup, test_blob, test_packet, test_attention, test_logits, test_f16, test_quant,
          test_total)
