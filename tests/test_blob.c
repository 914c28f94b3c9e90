/* RVNE weight blob: the original's weight_blob.rs and blob_e2e.rs tests,
 * the docs/FORMATS.md sections 1.2, 2.2 vectors, and every golden blob in rvne/. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aether/blob.h"
#include "check.h"
#include "test_util.h"

static aether_blob_header aether_header(uint8_t flags, uint32_t weights_len)
{
    aether_blob_header h;
    memset(&h, 0, sizeof h);
    h.version = 1;
    h.flags = flags;
    h.input_dim = 16;
    h.n_q_heads = 4;
    h.n_kv_heads = 1;
    h.head_dim = 32;
    h.n_layers = 2;
    h.n_classes = 4;
    h.weights_len = weights_len;
    return h;
}

/* deterministic_weights(len, seed) of the original tests: the demo generator's
 * f32 stream, truncated to len bytes. */
static void deterministic_weights(unsigned char *out, size_t len, uint64_t seed)
{
    uint64_t s = seed;
    size_t i = 0;
    while (i < len) {
        unsigned char b[4];
        float v;
        size_t k;
        aether_blob_demo_values(&s, &v, 1);
        aether_store_lef32(b, v);
        for (k = 0; k < 4 && i < len; ++k)
            out[i++] = b[k];
    }
}

/* Rewrite the trailing CRC after patching a blob. */
static void fix_crc(unsigned char *b, size_t len)
{
    aether_store_le32(b + len - 4, aether_crc32(b, len - 4));
}

static void roundtrip(uint8_t flags, size_t payload)
{
    aether_blob_header h = aether_header(flags, (uint32_t)payload);
    unsigned char *w = (unsigned char *)malloc(payload);
    unsigned char *buf = (unsigned char *)malloc(payload + 28);
    unsigned char *again = (unsigned char *)malloc(payload + 28);
    aether_blob_view v;
    size_t n = 0, n2 = 0;
    deterministic_weights(w, payload, 42);
    CHECK_STATUS(aether_blob_serialize(&h, w, buf, payload + 28, &n), AETHER_OK);
    CHECK_EQ_INT(n, payload + 28);
    CHECK_STATUS(aether_blob_parse(buf, n, &v), AETHER_OK);
    CHECK_EQ_INT(v.header.flags, flags);
    CHECK_EQ_INT(aether_blob_is_f16(&v.header), flags & 1);
    CHECK_EQ_INT(v.header.input_dim, 16);
    CHECK_EQ_INT(v.header.n_q_heads, 4);
    CHECK_EQ_INT(v.header.n_kv_heads, 1);
    CHECK_EQ_INT(v.header.head_dim, 32);
    CHECK_EQ_INT(v.header.n_layers, 2);
    CHECK_EQ_INT(v.header.n_classes, 4);
    CHECK_EQ_INT(v.header.weights_len, payload);
    CHECK(v.weights == buf + 24); /* zero-copy view */
    CHECK(memcmp(v.weights, w, payload) == 0);
    CHECK_STATUS(aether_blob_serialize(&v.header, v.weights, again, payload + 28, &n2),
                 AETHER_OK);
    CHECK(n2 == n && memcmp(again, buf, n) == 0);
    free(w);
    free(buf);
    free(again);
}

static void test_roundtrip_fp32(void)
{
    roundtrip(0x00, 1024);
}

static void test_roundtrip_fp16(void)
{
    roundtrip(0x01, 512);
}

/* A valid 1024-byte-payload blob to corrupt. */
static unsigned char *valid_blob(size_t *len)
{
    aether_blob_header h = aether_header(0, 1024);
    unsigned char w[1024];
    unsigned char *buf = (unsigned char *)malloc(1052);
    deterministic_weights(w, sizeof w, 7);
    aether_blob_serialize(&h, w, buf, 1052, len);
    return buf;
}

static void test_parse_rejects_bad_magic(void)
{
    size_t n;
    unsigned char *b = valid_blob(&n);
    aether_blob_view v;
    b[0] = 0xFF;
    CHECK_STATUS(aether_blob_parse(b, n, &v), AETHER_ERR_BLOB_MAGIC);
    CHECK(strstr(aether_blob_reference_message(AETHER_ERR_BLOB_MAGIC), "magic") != NULL);
    free(b);
}

static void test_parse_rejects_wrong_version(void)
{
    size_t n;
    unsigned char *b = valid_blob(&n);
    aether_blob_view v;
    aether_store_le16(b + 4, 99);
    CHECK_STATUS(aether_blob_parse(b, n, &v), AETHER_ERR_BLOB_VERSION);
    CHECK(strstr(aether_blob_reference_message(AETHER_ERR_BLOB_VERSION), "version") != NULL);
    free(b);
}

static void test_parse_rejects_size_mismatch(void)
{
    size_t n;
    unsigned char *b = valid_blob(&n);
    aether_blob_view v;
    /* drop 4 payload bytes: the CRC moves up, the header still says 1024 */
    memmove(b + 24 + 1020, b + 24 + 1024, 4);
    CHECK_STATUS(aether_blob_parse(b, n - 4, &v), AETHER_ERR_BLOB_LENGTH);
    CHECK(strstr(aether_blob_reference_message(AETHER_ERR_BLOB_LENGTH), "length") != NULL);
    free(b);
}

static void test_parse_rejects_crc_corruption(void)
{
    size_t n;
    unsigned char *b = valid_blob(&n);
    aether_blob_view v;
    b[24 + 100] ^= 0x10;
    CHECK_STATUS(aether_blob_parse(b, n, &v), AETHER_ERR_BLOB_CRC);
    CHECK(strstr(aether_blob_reference_message(AETHER_ERR_BLOB_CRC), "CRC") != NULL);
    free(b);
}

static void test_parse_rejects_invalid_gqa_ratio_in_header(void)
{
    size_t n;
    unsigned char *b = valid_blob(&n);
    aether_blob_view v;
    aether_store_le16(b + 12, 3);
    fix_crc(b, n);
    CHECK_STATUS(aether_blob_parse(b, n, &v), AETHER_ERR_BLOB_GQA);
    CHECK(strstr(aether_blob_reference_message(AETHER_ERR_BLOB_GQA), "GQA") != NULL);
    free(b);
}

static void test_header_constants_match_wire_layout(void)
{
    CHECK_EQ_INT(AETHER_BLOB_MAGIC, 0x52564E45u);
    CHECK_EQ_INT(AETHER_BLOB_VERSION, 1);
    CHECK_EQ_INT(AETHER_BLOB_HEADER_LEN, 24);
    CHECK_EQ_INT(AETHER_BLOB_OVERHEAD, 28);
}

/* Every format-level failure in 1.1 order, one status each; earlier checks win. */
static void test_parse_order_and_statuses(void)
{
    size_t n;
    unsigned char *b = valid_blob(&n);
    unsigned char c[1052];
    aether_blob_view v, keep;
    memset(&keep, 0xA5, sizeof keep);
    v = keep;
    CHECK_STATUS(aether_blob_parse(b, 27, &v), AETHER_ERR_BLOB_TOO_SHORT);
    CHECK_STATUS(aether_blob_parse(b, 0, &v), AETHER_ERR_BLOB_TOO_SHORT);
    CHECK_STATUS(aether_blob_parse(NULL, n, &v), AETHER_ERR_NULL_ARG);
    CHECK_STATUS(aether_blob_parse(b, n, NULL), AETHER_ERR_NULL_ARG);
    /* bad magic beats a bad version */
    memcpy(c, b, n);
    c[3] = 0;
    aether_store_le16(c + 4, 2);
    CHECK_STATUS(aether_blob_parse(c, n, &v), AETHER_ERR_BLOB_MAGIC);
    /* version beats length */
    memcpy(c, b, n);
    aether_store_le16(c + 4, 0);
    CHECK_STATUS(aether_blob_parse(c, n - 1, &v), AETHER_ERR_BLOB_VERSION);
    /* length beats CRC; a huge weights_len never wraps */
    memcpy(c, b, n);
    aether_store_le32(c + 20, 0xFFFFFFFFu);
    CHECK_STATUS(aether_blob_parse(c, n, &v), AETHER_ERR_BLOB_LENGTH);
    aether_store_le32(c + 20, 0xFFFFFFE4u); /* 28 + this wraps to 0 in 32 bits */
    CHECK_STATUS(aether_blob_parse(c, 28, &v), AETHER_ERR_BLOB_LENGTH);
    /* CRC beats header semantics */
    memcpy(c, b, n);
    aether_store_le16(c + 8, 0);
    CHECK_STATUS(aether_blob_parse(c, n, &v), AETHER_ERR_BLOB_CRC);
    fix_crc(c, n);
    CHECK_STATUS(aether_blob_parse(c, n, &v), AETHER_ERR_BLOB_ZERO_DIM);
    /* zero dim beats GQA ratio beats degenerate */
    memcpy(c, b, n);
    aether_store_le16(c + 14, 0); /* head_dim 0 */
    aether_store_le16(c + 12, 3);
    aether_store_le16(c + 16, 0);
    fix_crc(c, n);
    CHECK_STATUS(aether_blob_parse(c, n, &v), AETHER_ERR_BLOB_ZERO_DIM);
    aether_store_le16(c + 14, 32);
    fix_crc(c, n);
    CHECK_STATUS(aether_blob_parse(c, n, &v), AETHER_ERR_BLOB_GQA);
    aether_store_le16(c + 12, 2);
    fix_crc(c, n);
    CHECK_STATUS(aether_blob_parse(c, n, &v), AETHER_ERR_BLOB_DEGENERATE);
    aether_store_le16(c + 16, 1);
    aether_store_le16(c + 18, 1);
    fix_crc(c, n);
    CHECK_STATUS(aether_blob_parse(c, n, &v), AETHER_ERR_BLOB_DEGENERATE);
    aether_store_le16(c + 18, 2);
    c[7] = 0x5A; /* reserved byte and unknown flag bits are not checked */
    c[6] = 0xFC;
    fix_crc(c, n);
    CHECK_STATUS(aether_blob_parse(c, n, &v), AETHER_OK);
    CHECK_EQ_INT(v.header.flags, 0xFC);
    CHECK_EQ_INT(v.header.reserved, 0x5A);
    /* the failed parses above never touched v before the last success */
    v = keep;
    CHECK_STATUS(aether_blob_parse(b, 27, &v), AETHER_ERR_BLOB_TOO_SHORT);
    CHECK(memcmp(&v, &keep, sizeof v) == 0);
    free(b);
}

static void test_serialize_validation(void)
{
    aether_blob_header h = aether_header(0, 6);
    unsigned char w[8] = {0}, out[64];
    size_t n = 0;
    CHECK_STATUS(aether_blob_serialize(&h, w, out, sizeof out, &n), AETHER_ERR_BLOB_ELEM_SIZE);
    h.weights_len = 8;
    CHECK_STATUS(aether_blob_serialize(&h, w, out, 35, &n), AETHER_ERR_BUFFER_TOO_SMALL);
    CHECK_STATUS(aether_blob_serialize(&h, NULL, out, sizeof out, &n), AETHER_ERR_NULL_ARG);
    h.n_classes = 1;
    CHECK_STATUS(aether_blob_serialize(&h, w, out, sizeof out, &n), AETHER_ERR_BLOB_DEGENERATE);
    h.n_classes = 4;
    h.flags = 1;
    h.weights_len = 6; /* 3 f16 elements */
    CHECK_STATUS(aether_blob_serialize(&h, w, out, sizeof out, &n), AETHER_OK);
    CHECK_EQ_INT(n, 34);
}

/* docs/FORMATS.md section 1.2: the 24-byte AETHER header and the complete 28-byte blob. */
static void test_format_vectors(void)
{
    static const unsigned char hdr[24] = {0x45, 0x4e, 0x56, 0x52, 0x01, 0x00, 0x00, 0x00,
                                          0x10, 0x00, 0x04, 0x00, 0x01, 0x00, 0x20, 0x00,
                                          0x02, 0x00, 0x04, 0x00, 0x00, 0xa1, 0x00, 0x00};
    aether_blob_header h = aether_header(0, 0);
    unsigned char out[28];
    aether_blob_view v;
    size_t n = 0, demo_len = 0;
    aether_blob_demo_params p = aether_blob_demo_default();
    unsigned char *demo;
    CHECK_STATUS(aether_blob_serialize(&h, NULL, out, sizeof out, &n), AETHER_OK);
    CHECK_EQ_INT(n, 28);
    CHECK(memcmp(out, hdr, 20) == 0);
    CHECK_EQ_INT(aether_load_le32(out + 20), 0);
    CHECK_EQ_INT(aether_load_le32(out + 24), 0x58AE0EF0u);
    CHECK_STATUS(aether_blob_parse(out, 28, &v), AETHER_OK);
    CHECK(v.weights == NULL);
    CHECK_EQ_INT(v.crc, 0x58AE0EF0u);
    CHECK_STATUS(aether_blob_validate_model(&v, NULL), AETHER_ERR_BLOB_LAYOUT);

    CHECK_STATUS(aether_blob_demo_size(&p, &demo_len), AETHER_OK);
    CHECK_EQ_INT(demo_len, 41244);
    demo = (unsigned char *)malloc(demo_len);
    CHECK_STATUS(aether_blob_demo_write(&p, demo, demo_len, &n), AETHER_OK);
    CHECK(memcmp(demo, hdr, 24) == 0);
    free(demo);
}

/* docs/FORMATS.md section 2.2 first values, and the golden init_random_blob.rvne. */
static void test_demo_blob_golden(void)
{
    REQUIRE_GOLDEN();
    aether_blob_demo_params p = aether_blob_demo_default();
    uint64_t s = AETHER_BLOB_DEMO_SEED;
    float first[4];
    size_t glen = 0, n = 0, params = 0;
    unsigned char *g = test_golden_blob("init_random_blob.rvne", &glen);
    unsigned char *mine = (unsigned char *)malloc(41244);
    aether_blob_view v;
    aether_blob_layout l;
    aether_blob_demo_values(&s, first, 4);
    CHECK_NEAR(first[0], -0.054492723, 5e-9);
    CHECK_NEAR(first[1], 0.09938158, 5e-9);
    CHECK_NEAR(first[2], -0.0881851, 5e-9);
    CHECK_NEAR(first[3], 0.020757342, 5e-9);
    CHECK(g != NULL);
    CHECK_EQ_INT(glen, 41244);
    CHECK_STATUS(aether_blob_demo_write(&p, mine, 41244, &n), AETHER_OK);
    CHECK_EQ_INT(n, 41244);
    CHECK(g && glen == n && memcmp(g, mine, n) == 0);
    CHECK_EQ_INT(aether_crc32(mine, 41240), 0xDC807956u);
    CHECK_STATUS(aether_blob_parse(mine, n, &v), AETHER_OK);
    CHECK_EQ_INT(v.crc, 0xDC807956u);
    CHECK_STATUS(aether_blob_validate_model(&v, &l), AETHER_OK);
    CHECK_EQ_INT(l.layer_elems, 5120);
    CHECK_EQ_INT(l.total_elems, 10304);
    CHECK_EQ_INT(l.wk, 2048);
    CHECK_EQ_INT(l.wv, 2560);
    CHECK_EQ_INT(l.wo, 3072);
    CHECK_EQ_INT(l.classifier, 10240);
    CHECK_STATUS(aether_blob_param_count(&v.header, &params), AETHER_OK);
    CHECK_EQ_INT(params, 10304);
    CHECK_NEAR(aether_blob_weight(&v, 0), -0.054492723, 1e-9);
    CHECK(aether_blob_weight(&v, 10304) != aether_blob_weight(&v, 10304)); /* NaN */
    CHECK_STATUS(aether_blob_demo_write(&p, mine, 41243, &n), AETHER_ERR_BUFFER_TOO_SMALL);
    p.seed = 0;
    CHECK_STATUS(aether_blob_demo_size(&p, &n), AETHER_ERR_INVALID_ARG);
    free(g);
    free(mine);
}

/* f16 and input-normalisation demo variants pass model validation. */
static void test_demo_variants(void)
{
    aether_blob_demo_params p = aether_blob_demo_default();
    size_t len = 0, n = 0, i;
    unsigned char *b;
    aether_blob_view v;
    aether_blob_layout l;
    uint64_t s = p.seed;
    float vals[8];
    p.f16 = 1;
    p.input_norm = 1;
    p.n_layers = 1;
    p.n_kv_heads = 2;
    CHECK_STATUS(aether_blob_demo_size(&p, &len), AETHER_OK);
    /* per layer 16*128 + 2*16*64 + 128*16 = 6144, + 64 + 32 = 6240 elements */
    CHECK_EQ_INT(len, 28 + 6240 * 2);
    b = (unsigned char *)malloc(len);
    CHECK_STATUS(aether_blob_demo_write(&p, b, len, &n), AETHER_OK);
    CHECK_STATUS(aether_blob_parse(b, n, &v), AETHER_OK);
    CHECK_EQ_INT(v.header.flags, 3);
    CHECK_STATUS(aether_blob_validate_model(&v, &l), AETHER_OK);
    CHECK_EQ_INT(l.norm_mean, 6144 + 64);
    CHECK_EQ_INT(l.norm_inv_std, 6144 + 64 + 16);
    aether_blob_demo_values(&s, vals, 8);
    for (i = 0; i < 8; ++i)
        CHECK(aether_blob_weight(&v, i) == aether_f16_to_f32(aether_f32_to_f16(vals[i])));
    for (i = 0; i < 16; ++i) {
        float inv = aether_blob_weight(&v, l.norm_inv_std + i);
        CHECK(inv >= 0.5f && inv <= 1.5f);
    }
    free(b);
}

/* Model-level validation: each failure its own status. */
static void test_validate_model(void)
{
    aether_blob_demo_params p = aether_blob_demo_default();
    size_t len = 0, n = 0;
    unsigned char *b, *c;
    aether_blob_view v;
    p.n_layers = 1;
    p.input_dim = 4;
    p.head_dim = 2;
    aether_blob_demo_size(&p, &len);
    b = (unsigned char *)malloc(len);
    c = (unsigned char *)malloc(len + 8);
    aether_blob_demo_write(&p, b, len, &n);
    CHECK_STATUS(aether_blob_parse(b, n, &v), AETHER_OK);
    CHECK_STATUS(aether_blob_validate_model(&v, NULL), AETHER_OK);
    /* unknown extension bit */
    memcpy(c, b, n);
    c[6] = 0x08;
    fix_crc(c, n);
    CHECK_STATUS(aether_blob_parse(c, n, &v), AETHER_OK);
    CHECK_STATUS(aether_blob_validate_model(&v, NULL), AETHER_ERR_BLOB_EXTENSION);
    /* input-norm bit set without its arrays */
    c[6] = 0x02;
    fix_crc(c, n);
    CHECK_STATUS(aether_blob_parse(c, n, &v), AETHER_OK);
    CHECK_STATUS(aether_blob_validate_model(&v, NULL), AETHER_ERR_BLOB_LAYOUT);
    /* NaN / Inf weights */
    memcpy(c, b, n);
    aether_store_le32(c + 24 + 4 * 5, 0x7FC00000u);
    fix_crc(c, n);
    CHECK_STATUS(aether_blob_parse(c, n, &v), AETHER_OK);
    CHECK_STATUS(aether_blob_validate_model(&v, NULL), AETHER_ERR_BLOB_NONFINITE);
    aether_store_le32(c + 24 + 4 * 5, 0xFF800000u);
    fix_crc(c, n);
    CHECK_STATUS(aether_blob_parse(c, n, &v), AETHER_OK);
    CHECK_STATUS(aether_blob_validate_model(&v, NULL), AETHER_ERR_BLOB_NONFINITE);
    /* payload not a multiple of the element size (parse accepts it) */
    memcpy(c, b, n - 4);
    c[n - 4] = 0x11;
    c[n - 3] = 0x22;
    aether_store_le32(c + 20, (uint32_t)(n - 28 + 2));
    fix_crc(c, n + 2);
    CHECK_STATUS(aether_blob_parse(c, n + 2, &v), AETHER_OK);
    CHECK_STATUS(aether_blob_validate_model(&v, NULL), AETHER_ERR_BLOB_ELEM_SIZE);
    /* one element too many */
    aether_store_le32(c + 20, (uint32_t)(n - 28 + 4));
    c[n - 2] = 0;
    c[n - 1] = 0;
    fix_crc(c, n + 4);
    CHECK_STATUS(aether_blob_parse(c, n + 4, &v), AETHER_OK);
    CHECK_STATUS(aether_blob_validate_model(&v, NULL), AETHER_ERR_BLOB_LAYOUT);
    free(b);
    free(c);
}

typedef struct golden_blob {
    const char *file;
    aether_status parse;
    aether_status model;
    uint8_t flags;
    uint32_t weights_len;
    uint32_t crc;
} golden_blob;

/* rvne/rvne.json, with the model-level verdict this library adds. */
static const golden_blob k_golden[] = {
    {"fp32_small.bin", AETHER_OK, AETHER_ERR_BLOB_LAYOUT, 0x00, 256, 0x6C707CCBu},
    {"fp16_small.bin", AETHER_OK, AETHER_ERR_BLOB_LAYOUT, 0x01, 128, 0xBA884771u},
    {"init_random_blob.rvne", AETHER_OK, AETHER_OK, 0x00, 41216, 0xDC807956u},
    {"flags_0x03.bin", AETHER_OK, AETHER_ERR_BLOB_LAYOUT, 0x03, 256, 0x7B04FCADu},
    {"bad_magic.bin", AETHER_ERR_BLOB_MAGIC, AETHER_OK, 0, 0, 0},
    {"bad_version.bin", AETHER_ERR_BLOB_VERSION, AETHER_OK, 0, 0, 0},
    {"size_mismatch.bin", AETHER_ERR_BLOB_LENGTH, AETHER_OK, 0, 0, 0},
    {"crc_corrupt.bin", AETHER_ERR_BLOB_CRC, AETHER_OK, 0, 0, 0},
    {"bad_gqa.bin", AETHER_ERR_BLOB_GQA, AETHER_OK, 0, 0, 0},
    {"n_classes_1.bin", AETHER_ERR_BLOB_DEGENERATE, AETHER_OK, 0, 0, 0},
    {"too_short.bin", AETHER_ERR_BLOB_TOO_SHORT, AETHER_OK, 0, 0, 0},
};

static void test_golden_blobs(void)
{
    REQUIRE_GOLDEN();
    size_t i;
    for (i = 0; i < sizeof k_golden / sizeof k_golden[0]; ++i) {
        const golden_blob *gb = &k_golden[i];
        size_t len = 0, n = 0;
        unsigned char *b = test_golden_blob(gb->file, &len);
        aether_blob_view v;
        CHECK_MSG(b != NULL, "%s", gb->file);
        if (!b)
            continue;
        CHECK_STATUS(aether_blob_parse(b, len, &v), gb->parse);
        if (gb->parse == AETHER_OK) {
            unsigned char *again = (unsigned char *)malloc(len);
            CHECK_EQ_INT(v.header.flags, gb->flags);
            CHECK_EQ_INT(aether_blob_is_f16(&v.header), gb->flags & 1);
            CHECK_EQ_INT(v.header.input_dim, 16);
            CHECK_EQ_INT(v.header.n_q_heads, 4);
            CHECK_EQ_INT(v.header.n_kv_heads, 1);
            CHECK_EQ_INT(v.header.head_dim, 32);
            CHECK_EQ_INT(v.header.n_layers, 2);
            CHECK_EQ_INT(v.header.n_classes, 4);
            CHECK_EQ_INT(v.header.weights_len, gb->weights_len);
            CHECK_EQ_INT(v.crc, gb->crc);
            CHECK_STATUS(aether_blob_validate_model(&v, NULL), gb->model);
            /* serialise byte-identical */
            CHECK_STATUS(aether_blob_serialize(&v.header, v.weights, again, len, &n), AETHER_OK);
            CHECK_MSG(n == len && memcmp(again, b, len) == 0, "%s re-serialised", gb->file);
            free(again);
        }
        free(b);
    }
}

/* fp16_small holds the f16 rounding of small_weights_f32's values. */
static void test_golden_f16_payload(void)
{
    REQUIRE_GOLDEN();
    size_t l32 = 0, l16 = 0, i;
    unsigned char *b32 = test_golden_blob("fp32_small.bin", &l32);
    unsigned char *b16 = test_golden_blob("fp16_small.bin", &l16);
    aether_blob_view v32, v16;
    float a[64], h[64];
    CHECK(b32 && b16);
    if (!b32 || !b16)
        goto done;
    CHECK_STATUS(aether_blob_parse(b32, l32, &v32), AETHER_OK);
    CHECK_STATUS(aether_blob_parse(b16, l16, &v16), AETHER_OK);
    CHECK_STATUS(aether_blob_read_f32(&v32, 0, 64, a), AETHER_OK);
    CHECK_STATUS(aether_blob_read_f32(&v16, 0, 64, h), AETHER_OK);
    CHECK_STATUS(aether_blob_read_f32(&v16, 1, 64, h), AETHER_ERR_INVALID_ARG);
    for (i = 0; i < 64; ++i)
        CHECK(h[i] == aether_f16_to_f32(aether_f32_to_f16(a[i])));
done:
    free(b32);
    free(b16);
}

/* blob_e2e.rs: realistic_blob_roundtrips_through_filesystem */
static void test_realistic_blob_roundtrips_through_filesystem(void)
{
    aether_blob_demo_params p = aether_blob_demo_default();
    size_t len = 0, n = 0, got;
    unsigned char *b, *r;
    aether_blob_view v;
    FILE *f = tmpfile();
    aether_blob_demo_size(&p, &len);
    CHECK(len - 28 > 25000);
    CHECK_EQ_INT(len - 28, 41216);
    b = (unsigned char *)malloc(len);
    r = (unsigned char *)malloc(len);
    CHECK_STATUS(aether_blob_demo_write(&p, b, len, &n), AETHER_OK);
    CHECK(f != NULL);
    if (f) {
        CHECK_EQ_INT(fwrite(b, 1, n, f), n);
        rewind(f);
        got = fread(r, 1, len, f);
        CHECK_EQ_INT(got, n);
        CHECK(memcmp(r, b, n) == 0);
        CHECK_STATUS(aether_blob_parse(r, got, &v), AETHER_OK);
        CHECK_EQ_INT(v.header.input_dim, 16);
        CHECK_EQ_INT(v.header.n_q_heads, 4);
        CHECK_EQ_INT(v.header.n_kv_heads, 1);
        CHECK_EQ_INT(v.header.head_dim, 32);
        CHECK_EQ_INT(v.header.n_layers, 2);
        CHECK_EQ_INT(v.header.n_classes, 4);
        CHECK_EQ_INT(v.header.weights_len, 41216);
        fclose(f);
    }
    free(b);
    free(r);
}

/* blob_e2e.rs: deterministic_seed_produces_byte_identical_blobs */
static void test_deterministic_seed_produces_byte_identical_blobs(void)
{
    aether_blob_demo_params p = aether_blob_demo_default();
    unsigned char *a = (unsigned char *)malloc(41244), *b = (unsigned char *)malloc(41244);
    unsigned char wa[4096], wb[4096];
    size_t na = 0, nb = 0;
    deterministic_weights(wa, sizeof wa, 12345);
    deterministic_weights(wb, sizeof wb, 12345);
    CHECK(memcmp(wa, wb, sizeof wa) == 0);
    deterministic_weights(wb, sizeof wb, 12346);
    CHECK(memcmp(wa, wb, sizeof wa) != 0);
    p.seed = 12345;
    CHECK_STATUS(aether_blob_demo_write(&p, a, 41244, &na), AETHER_OK);
    CHECK_STATUS(aether_blob_demo_write(&p, b, 41244, &nb), AETHER_OK);
    CHECK(na == nb && memcmp(a, b, na) == 0);
    p.seed = 12346;
    CHECK_STATUS(aether_blob_demo_write(&p, b, 41244, &nb), AETHER_OK);
    CHECK(memcmp(a, b, na) != 0);
    free(a);
    free(b);
}

static void test_peek_header(void)
{
    REQUIRE_GOLDEN();
    size_t len = 0;
    unsigned char *b = test_golden_blob("bad_version.bin", &len);
    aether_blob_header h;
    CHECK(b != NULL);
    if (!b)
        return;
    CHECK_STATUS(aether_blob_peek_header(b, len, &h), AETHER_OK);
    CHECK_EQ_INT(h.version, 99);
    CHECK_EQ_INT(h.weights_len, 256);
    CHECK_STATUS(aether_blob_peek_header(b, 23, &h), AETHER_ERR_BLOB_TOO_SHORT);
    free(b);
}

TEST_MAIN(test_roundtrip_fp32, test_roundtrip_fp16, test_parse_rejects_bad_magic,
          test_parse_rejects_wrong_version, test_parse_rejects_size_mismatch,
          test_parse_rejects_crc_corruption, test_parse_rejects_invalid_gqa_ratio_in_header,
          test_header_constants_match_wire_layout, test_parse_order_and_statuses,
          test_serialize_validation, test_format_vectors, test_demo_blob_golden,
          test_demo_variants, test_validate_model, test_golden_blobs, test_golden_f16_payload,
          test_realistic_blob_roundtrips_through_filesystem,
          test_deterministic_seed_produces_byte_identical_blobs, test_peek_header)
