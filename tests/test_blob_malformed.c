/*
 * Malformed RVNE blobs: every truncation, single-bit flips (with the CRC left
 * stale and with it recomputed), boundary values of every length/count field,
 * and non-finite weights. Each case must give its specific status, never a
 * crash, and a failed parse must leave the output view untouched.
 *
 * Expected statuses are derived here from docs/FORMATS.md sections 1.1 and 2.5
 * (independently of the parser's code). The 41 KB golden blob gets every bit
 * of its header and trailer flipped and every bit of a stride of payload
 * bytes (each flip costs two CRCs over 41 KB); the small goldens get every
 * bit. Set AETHER_TEST_EXHAUSTIVE=1 to flip every bit of the large one too.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aether/blob.h"
#include "aether/model.h"
#include "check.h"
#include "test_util.h"

static void fix_crc(unsigned char *b, size_t len)
{
    aether_store_le32(b + len - 4, aether_crc32(b, len - 4));
}

/* Parse; on failure also check that the output view was not written. */
static aether_status parse_checked(const unsigned char *b, size_t len, aether_blob_view *v)
{
    aether_blob_view before;
    aether_status st;
    memset(v, 0xC3, sizeof *v);
    before = *v;
    st = aether_blob_parse(b, len, v);
    if (st != AETHER_OK)
        CHECK(memcmp(v, &before, sizeof *v) == 0);
    return st;
}

/* docs/FORMATS.md section 1.1 steps 6-8 from the header bytes. */
static aether_status expect_header(const unsigned char *b)
{
    unsigned in = aether_load_le16(b + 8), q = aether_load_le16(b + 10);
    unsigned kv = aether_load_le16(b + 12), d = aether_load_le16(b + 14);
    unsigned layers = aether_load_le16(b + 16), classes = aether_load_le16(b + 18);
    if (!in || !q || !kv || !d)
        return AETHER_ERR_BLOB_ZERO_DIM;
    if (q % kv)
        return AETHER_ERR_BLOB_GQA;
    if (!layers || classes < 2)
        return AETHER_ERR_BLOB_DEGENERATE;
    return AETHER_OK;
}

/* docs/FORMATS.md section 2.5 model level for a blob that parsed: element size, extension bits,
 * layout (computed in 128-bit-safe steps: any overflow is a layout error),
 * finiteness. */
static aether_status expect_model(const unsigned char *b, size_t len)
{
    unsigned flags = b[6];
    uint64_t in = aether_load_le16(b + 8), q = aether_load_le16(b + 10);
    uint64_t kv = aether_load_le16(b + 12), d = aether_load_le16(b + 14);
    uint64_t layers = aether_load_le16(b + 16), classes = aether_load_le16(b + 18);
    uint64_t wlen = aether_load_le32(b + 20), es = (flags & 1u) ? 2 : 4, per_layer, total, i;
    if (wlen % es)
        return AETHER_ERR_BLOB_ELEM_SIZE;
    if (flags & ~(unsigned)AETHER_BLOB_KNOWN_FLAGS)
        return AETHER_ERR_BLOB_EXTENSION;
    /* in, q, kv, d, layers < 2^16: products of four stay below 2^64 except
     * layers * per_layer, checked by division. */
    per_layer = 2 * in * q * d + 2 * in * kv * d;
    if (per_layer && layers > (UINT64_MAX / 4 - in * classes - 2 * in) / per_layer)
        return AETHER_ERR_BLOB_LAYOUT;
    total = layers * per_layer + in * classes + ((flags & 2u) ? 2 * in : 0);
    if (flags & 4u) {
        /* bit 2: text, zero padding to 4, u32 length, u32 "META" at the end */
        uint64_t arrays = total * es, L, pad;
        const unsigned char *end = b + 24 + wlen;
        if (wlen < arrays + 8)
            return AETHER_ERR_BLOB_LAYOUT;
        if (aether_load_le32(end - 4) != 0x4154454Du || aether_load_le32(end - 8) > 4096)
            return AETHER_ERR_BLOB_EXTENSION;
        L = aether_load_le32(end - 8);
        pad = (4 - L % 4) % 4;
        if (arrays + L + pad + 8 != wlen)
            return AETHER_ERR_BLOB_LAYOUT;
        for (i = 0; i < pad; ++i)
            if (b[24 + arrays + L + i])
                return AETHER_ERR_BLOB_EXTENSION;
        if (aether_blob_metadata_check_text((const char *)b + 24 + arrays, (size_t)L, NULL))
            return AETHER_ERR_BLOB_EXTENSION;
    } else if (total * es != wlen) {
        return AETHER_ERR_BLOB_LAYOUT;
    }
    for (i = 0; i < total; ++i) {
        const unsigned char *p = b + 24 + i * es;
        float x = es == 2 ? aether_f16_to_f32(aether_load_le16(p)) : aether_load_lef32(p);
        if (!aether_isfinite(x))
            return AETHER_ERR_BLOB_NONFINITE;
    }
    (void)len;
    return AETHER_OK;
}

/* Expected parse status of a (possibly corrupted) image. */
static aether_status expect_parse(const unsigned char *b, size_t len)
{
    if (len < 28)
        return AETHER_ERR_BLOB_TOO_SHORT;
    if (aether_load_le32(b) != AETHER_BLOB_MAGIC)
        return AETHER_ERR_BLOB_MAGIC;
    if (aether_load_le16(b + 4) != 1)
        return AETHER_ERR_BLOB_VERSION;
    if ((uint64_t)len - 28 != aether_load_le32(b + 20))
        return AETHER_ERR_BLOB_LENGTH;
    if (aether_load_le32(b + len - 4) != aether_crc32(b, len - 4))
        return AETHER_ERR_BLOB_CRC;
    return expect_header(b);
}

static int exhaustive(void)
{
    const char *e = getenv("AETHER_TEST_EXHAUSTIVE");
    return e && e[0] == '1';
}

static void check_truncations(const char *name)
{
    size_t len, cut, bad = 0;
    unsigned char *b = test_golden_blob(name, &len);
    aether_blob_view v;
    CHECK(b != NULL);
    if (!b)
        return;
    CHECK_STATUS(parse_checked(b, len, &v), AETHER_OK);
    for (cut = 0; cut < len; ++cut) {
        /* exact size: ASan sees overreads */
        unsigned char *t = (unsigned char *)malloc(cut ? cut : 1);
        aether_status want = cut < 28 ? AETHER_ERR_BLOB_TOO_SHORT : AETHER_ERR_BLOB_LENGTH;
        if (!t)
            break;
        memcpy(t, b, cut);
        if (parse_checked(t, cut, &v) != want)
            bad++;
        free(t);
    }
    CHECK_EQ_INT(bad, 0);
    /* One byte too many. */
    {
        unsigned char *t = (unsigned char *)malloc(len + 1);
        if (t) {
            memcpy(t, b, len);
            t[len] = 0;
            CHECK_STATUS(parse_checked(t, len + 1, &v), AETHER_ERR_BLOB_LENGTH);
            free(t);
        }
    }
    free(b);
}

/* Flip bit `bit` of every selected byte; compare with the expectation. */
static void check_flips(const char *name, size_t payload_stride)
{
    size_t len, i, bad_stale = 0, bad_fixed = 0, bad_model = 0, flips = 0;
    unsigned char *b = test_golden_blob(name, &len), *t;
    aether_blob_view v;
    CHECK(b != NULL);
    if (!b)
        return;
    t = (unsigned char *)malloc(len);
    CHECK(t != NULL);
    if (!t) {
        free(b);
        return;
    }
    memcpy(t, b, len);
    for (i = 0; i < len; ++i) {
        int bit;
        if (i >= 24 && i < len - 4 && (i - 24) % payload_stride != 0)
            continue;
        for (bit = 0; bit < 8; ++bit) {
            aether_status want, got;
            t[i] ^= (unsigned char)(1u << bit);
            flips++;
            /* CRC left stale. */
            want = expect_parse(t, len);
            got = parse_checked(t, len, &v);
            if (got != want) {
                if (bad_stale++ < 5)
                    fprintf(stderr, "%s stale flip byte %zu bit %d: got %s want %s\n", name, i,
                            bit, aether_status_name(got), aether_status_name(want));
            }
            /* CRC recomputed (not for flips inside the trailer: that just
             * restores the original). */
            if (i < len - 4) {
                fix_crc(t, len);
                want = expect_parse(t, len);
                got = parse_checked(t, len, &v);
                if (got != want) {
                    if (bad_fixed++ < 5)
                        fprintf(stderr, "%s fixed flip byte %zu bit %d: got %s want %s\n", name,
                                i, bit, aether_status_name(got), aether_status_name(want));
                }
                if (got == AETHER_OK) {
                    aether_status mw = expect_model(t, len);
                    aether_status mg = aether_blob_validate_model(&v, NULL);
                    if (mg != mw) {
                        if (bad_model++ < 5)
                            fprintf(stderr, "%s model flip byte %zu bit %d: got %s want %s\n",
                                    name, i, bit, aether_status_name(mg), aether_status_name(mw));
                    }
                }
                memcpy(t + len - 4, b + len - 4, 4);
            }
            t[i] ^= (unsigned char)(1u << bit);
        }
    }
    CHECK(memcmp(t, b, len) == 0);
    CHECK(flips >= 8 * 28);
    CHECK_EQ_INT(bad_stale, 0);
    CHECK_EQ_INT(bad_fixed, 0);
    CHECK_EQ_INT(bad_model, 0);
    free(t);
    free(b);
}

static void test_truncations(void)
{
    REQUIRE_GOLDEN();
    check_truncations("fp32_small.bin");
    check_truncations("fp16_small.bin");
    check_truncations("init_random_blob.rvne");
}

static void test_bit_flips_small(void)
{
    REQUIRE_GOLDEN();
    check_flips("fp32_small.bin", 1);
    check_flips("fp16_small.bin", 1);
}

static void test_bit_flips_large(void)
{
    REQUIRE_GOLDEN();
    check_flips("init_random_blob.rvne", exhaustive() ? 1 : 97);
}

/* A minimal valid blob image of the given shape (demo values). */
static unsigned char *make_blob(uint16_t in, uint16_t q, uint16_t kv, uint16_t d, uint16_t layers,
                                uint16_t classes, int f16, int norm, size_t *len)
{
    aether_blob_demo_params p = aether_blob_demo_default();
    p.input_dim = in;
    p.n_q_heads = q;
    p.n_kv_heads = kv;
    p.head_dim = d;
    p.n_layers = layers;
    p.n_classes = classes;
    p.f16 = f16;
    p.input_norm = norm;
    return test_demo_blob_of(&p, len);
}

/* Set a u16 header field at `off`, fix the CRC, check parse + model level. */
static void check_u16_field(const unsigned char *base, size_t len, size_t off)
{
    static const uint16_t values[] = {0, 1, 2, 3, 0x7FFF, 0x8000, 0xFFFE, 0xFFFF};
    unsigned char *t = (unsigned char *)malloc(len);
    size_t i;
    aether_blob_view v;
    if (!t)
        return;
    for (i = 0; i < sizeof values / sizeof values[0]; ++i) {
        aether_status want, got;
        memcpy(t, base, len);
        aether_store_le16(t + off, values[i]);
        fix_crc(t, len);
        want = expect_parse(t, len);
        got = parse_checked(t, len, &v);
        CHECK_MSG(got == want, "field @%zu = %u: got %s want %s", off, values[i],
                  aether_status_name(got), aether_status_name(want));
        if (got == AETHER_OK) {
            aether_model *m = NULL;
            aether_status mw = expect_model(t, len);
            CHECK_STATUS(aether_blob_validate_model(&v, NULL), mw);
            if (mw != AETHER_OK) {
                CHECK_STATUS(aether_model_create(&v, NULL, AETHER_MODEL_COPY, &m), mw);
                CHECK(m == NULL);
            }
        }
    }
    free(t);
}

static void test_header_field_boundaries(void)
{
    size_t len = 0, off;
    unsigned char *b = make_blob(3, 2, 1, 2, 1, 2, 0, 0, &len);
    aether_blob_view v;
    CHECK(b != NULL);
    if (!b)
        return;
    CHECK_STATUS(parse_checked(b, len, &v), AETHER_OK);
    CHECK_STATUS(aether_blob_validate_model(&v, NULL), AETHER_OK);
    for (off = 8; off < 20; off += 2)
        check_u16_field(b, len, off);
    /* version 0, 2, max -> VERSION even with a good CRC */
    {
        static const uint16_t vers[] = {0, 2, 0xFFFF};
        size_t i;
        for (i = 0; i < 3; ++i) {
            aether_store_le16(b + 4, vers[i]);
            fix_crc(b, len);
            CHECK_STATUS(parse_checked(b, len, &v), AETHER_ERR_BLOB_VERSION);
        }
        aether_store_le16(b + 4, 1);
    }
    /* Bit 2 (metadata) without its record: the payload has no room for it. */
    b[6] = AETHER_BLOB_FLAG_METADATA;
    fix_crc(b, len);
    CHECK_STATUS(parse_checked(b, len, &v), AETHER_OK);
    CHECK_STATUS(aether_blob_validate_model(&v, NULL), AETHER_ERR_BLOB_LAYOUT);
    /* Every unknown flag bit is carried by the parser, rejected by the model. */
    {
        int bit;
        for (bit = 3; bit < 8; ++bit) {
            aether_model *m = NULL;
            b[6] = (unsigned char)(1u << bit);
            fix_crc(b, len);
            CHECK_STATUS(parse_checked(b, len, &v), AETHER_OK);
            CHECK_EQ_INT(v.header.flags, 1u << bit);
            CHECK_STATUS(aether_blob_validate_model(&v, NULL), AETHER_ERR_BLOB_EXTENSION);
            CHECK_STATUS(aether_model_create(&v, NULL, AETHER_MODEL_COPY, &m),
                         AETHER_ERR_BLOB_EXTENSION);
            CHECK(m == NULL);
        }
        b[6] = 0;
        fix_crc(b, len);
    }
    /* reserved byte: ignored at both levels */
    b[7] = 0xFF;
    fix_crc(b, len);
    CHECK_STATUS(parse_checked(b, len, &v), AETHER_OK);
    CHECK_STATUS(aether_blob_validate_model(&v, NULL), AETHER_OK);
    free(b);
}

/* weights_len values around the real one and near 2^32 (28 + len wraps a
 * 32-bit size_t for len >= 0xFFFFFFE4). */
static void test_weights_len_boundaries(void)
{
    static const uint32_t values[] = {0u,          1u,          3u,          0x7FFFFFFFu,
                                      0x80000000u, 0xFFFFFFE3u, 0xFFFFFFE4u, 0xFFFFFFE5u,
                                      0xFFFFFFFBu, 0xFFFFFFFCu, 0xFFFFFFFFu};
    size_t len = 0, i;
    unsigned char *b = make_blob(3, 2, 1, 2, 1, 2, 0, 0, &len);
    aether_blob_view v;
    aether_blob_header h;
    size_t bytes = 0;
    CHECK(b != NULL);
    if (!b)
        return;
    for (i = 0; i < sizeof values / sizeof values[0]; ++i) {
        aether_store_le32(b + 20, values[i]);
        fix_crc(b, len);
        CHECK_STATUS(parse_checked(b, len, &v), AETHER_ERR_BLOB_LENGTH);
    }
    aether_store_le32(b + 20, (uint32_t)(len - 28 + 1));
    fix_crc(b, len);
    CHECK_STATUS(parse_checked(b, len, &v), AETHER_ERR_BLOB_LENGTH);
    aether_store_le32(b + 20, (uint32_t)(len - 28 - 1));
    fix_crc(b, len);
    CHECK_STATUS(parse_checked(b, len, &v), AETHER_ERR_BLOB_LENGTH);
    aether_store_le32(b + 20, (uint32_t)(len - 28));
    fix_crc(b, len);
    CHECK_STATUS(parse_checked(b, len, &v), AETHER_OK);

    /* The size of a blob with weights_len 0xFFFFFFE4 is 2^32: representable
     * only with a 64-bit size_t. */
    CHECK_STATUS(aether_blob_peek_header(b, len, &h), AETHER_OK);
    h.weights_len = 0xFFFFFFE4u;
    if ((size_t)-1 > 0xFFFFFFFFu) {
        CHECK_STATUS(aether_blob_serialized_size(&h, &bytes), AETHER_OK);
        CHECK(bytes == (size_t)0xFFFFFFE4u + 28u);
    } else {
        CHECK_STATUS(aether_blob_serialized_size(&h, &bytes), AETHER_ERR_OVERFLOW);
    }
    h.weights_len = 0xFFFFFFFFu;
    bytes = 12345;
    if ((size_t)-1 <= 0xFFFFFFFFu) {
        CHECK_STATUS(aether_blob_serialized_size(&h, &bytes), AETHER_ERR_OVERFLOW);
        CHECK(bytes == 12345);
    }
    /* Serialising more than the buffer holds. */
    {
        unsigned char out[64];
        h.weights_len = (uint32_t)(len - 28);
        CHECK_STATUS(aether_blob_serialize(&h, b + 24, out,
                                           sizeof out < len ? sizeof out : len - 1, NULL),
                     AETHER_ERR_BUFFER_TOO_SMALL);
    }
    /* A header-only blob (weights_len 0) of a valid shape: parses, and
     * fails the layout. */
    {
        unsigned char z[28];
        memcpy(z, b, 24);
        aether_store_le32(z + 20, 0);
        fix_crc(z, 28);
        CHECK_STATUS(parse_checked(z, 28, &v), AETHER_OK);
        CHECK(v.weights == NULL);
        CHECK_STATUS(aether_blob_validate_model(&v, NULL), AETHER_ERR_BLOB_LAYOUT);
    }
    /* Payload not a multiple of the element size: 4k+2 bytes f32, odd f16. */
    {
        unsigned char *t = (unsigned char *)calloc(1, len + 2);
        if (t) {
            memcpy(t, b, len - 4);
            aether_store_le32(t + 20, (uint32_t)(len - 28 + 2));
            fix_crc(t, len + 2);
            CHECK_STATUS(parse_checked(t, len + 2, &v), AETHER_OK);
            CHECK_STATUS(aether_blob_validate_model(&v, NULL), AETHER_ERR_BLOB_ELEM_SIZE);
            t[6] = AETHER_BLOB_FLAG_F16;
            aether_store_le32(t + 20, (uint32_t)(len - 28 + 1));
            fix_crc(t, len + 1);
            CHECK_STATUS(parse_checked(t, len + 1, &v), AETHER_OK);
            CHECK_STATUS(aether_blob_validate_model(&v, NULL), AETHER_ERR_BLOB_ELEM_SIZE);
            free(t);
        }
    }
    free(b);
}

/* Layout products that overflow 64 bits are a layout error, not a wrap. */
static void test_layout_overflow(void)
{
    aether_blob_header h;
    aether_blob_layout lay;
    unsigned char img[28 + 8];
    aether_blob_view v;
    memset(&h, 0, sizeof h);
    h.version = 1;
    h.input_dim = h.n_q_heads = h.n_kv_heads = h.head_dim = h.n_layers = h.n_classes = 0xFFFF;
    h.weights_len = 8;
    {
        aether_status st = aether_blob_layout_of(&h, &lay);
        CHECK(st == AETHER_ERR_OVERFLOW || (sizeof(size_t) > 8 && st == AETHER_OK));
    }
    memset(img, 0, sizeof img);
    CHECK_STATUS(aether_blob_serialize(&h, img + 24, img, sizeof img, NULL), AETHER_OK);
    CHECK_STATUS(parse_checked(img, sizeof img, &v), AETHER_OK);
    CHECK_STATUS(aether_blob_validate_model(&v, NULL), AETHER_ERR_BLOB_LAYOUT);
    {
        size_t count = 77;
        aether_status st = aether_blob_param_count(&h, &count);
        CHECK(st != AETHER_OK);
        CHECK(count == 77);
    }
}

/* NaN / +-Inf anywhere in the payload (first weight, last classifier
 * weight, extension arrays; f32 and f16) -> BLOB_NONFINITE at model level,
 * also from model_size/model_create. */
static void check_nonfinite(int f16, int norm)
{
    static const uint32_t bits32[] = {0x7FC00000u, 0x7F800000u, 0xFF800000u, 0x7F800001u};
    static const uint16_t bits16[] = {0x7E00u, 0x7C00u, 0xFC00u, 0x7C01u};
    size_t len = 0, es = f16 ? 2 : 4, n, k, pos;
    unsigned char *b = make_blob(4, 2, 1, 2, 1, 3, f16, norm, &len);
    aether_blob_view v;
    CHECK(b != NULL);
    if (!b)
        return;
    n = (len - 28) / es;
    for (k = 0; k < 4; ++k) {
        size_t where[4];
        where[0] = 0;
        where[1] = n / 2;
        where[2] = n - 1;
        where[3] = norm ? n - 4 - 1 : n - 2; /* inside mean when normalised */
        for (pos = 0; pos < 4; ++pos) {
            unsigned char *t = (unsigned char *)malloc(len), save[4];
            aether_model *m = NULL;
            size_t bytes = 0;
            if (!t)
                continue;
            memcpy(t, b, len);
            memcpy(save, t + 24 + where[pos] * es, es);
            if (f16)
                aether_store_le16(t + 24 + where[pos] * es, bits16[k]);
            else
                aether_store_le32(t + 24 + where[pos] * es, bits32[k]);
            fix_crc(t, len);
            CHECK_STATUS(parse_checked(t, len, &v), AETHER_OK);
            CHECK_STATUS(aether_blob_validate_model(&v, NULL), AETHER_ERR_BLOB_NONFINITE);
            CHECK_STATUS(aether_model_size(&v, NULL, AETHER_MODEL_COPY, &bytes),
                         AETHER_ERR_BLOB_NONFINITE);
            CHECK_STATUS(aether_model_create(&v, NULL, AETHER_MODEL_COPY, &m),
                         AETHER_ERR_BLOB_NONFINITE);
            CHECK(m == NULL);
            CHECK_STATUS(aether_model_create(&v, NULL, AETHER_MODEL_BORROW_IF_POSSIBLE, &m),
                         AETHER_ERR_BLOB_NONFINITE);
            CHECK(m == NULL);
            /* Restored, it loads. */
            memcpy(t + 24 + where[pos] * es, save, es);
            fix_crc(t, len);
            CHECK_STATUS(parse_checked(t, len, &v), AETHER_OK);
            CHECK_STATUS(aether_model_create(&v, NULL, AETHER_MODEL_COPY, &m), AETHER_OK);
            aether_model_destroy(m);
            free(t);
        }
    }
    free(b);
}

static void test_nonfinite_weights(void)
{
    check_nonfinite(0, 0);
    check_nonfinite(1, 0);
    check_nonfinite(0, 1);
    check_nonfinite(1, 1);
}

/* The fixed golden malformed blobs give their documented statuses. */
static void test_golden_malformed(void)
{
    REQUIRE_GOLDEN();
    static const struct {
        const char *file;
        aether_status parse;
    } cases[] = {
        {"bad_magic.bin", AETHER_ERR_BLOB_MAGIC},
        {"bad_version.bin", AETHER_ERR_BLOB_VERSION},
        {"size_mismatch.bin", AETHER_ERR_BLOB_LENGTH},
        {"crc_corrupt.bin", AETHER_ERR_BLOB_CRC},
        {"bad_gqa.bin", AETHER_ERR_BLOB_GQA},
        {"n_classes_1.bin", AETHER_ERR_BLOB_DEGENERATE},
        {"too_short.bin", AETHER_ERR_BLOB_TOO_SHORT},
        {"flags_0x03.bin", AETHER_OK},
    };
    size_t i;
    for (i = 0; i < sizeof cases / sizeof cases[0]; ++i) {
        size_t len = 0;
        unsigned char *b = test_golden_blob(cases[i].file, &len);
        aether_blob_view v;
        CHECK(b != NULL);
        if (!b)
            continue;
        CHECK_MSG(parse_checked(b, len, &v) == cases[i].parse, "%s", cases[i].file);
        CHECK(expect_parse(b, len) == cases[i].parse);
        free(b);
    }
    /* NULL arguments */
    {
        aether_blob_view v;
        unsigned char x[28] = {0};
        CHECK_STATUS(aether_blob_parse(NULL, 28, &v), AETHER_ERR_NULL_ARG);
        CHECK_STATUS(aether_blob_parse(x, 28, NULL), AETHER_ERR_NULL_ARG);
        CHECK_STATUS(aether_blob_validate_model(NULL, NULL), AETHER_ERR_NULL_ARG);
    }
}

TEST_MAIN(test_truncations, test_bit_flips_small, test_bit_flips_large,
          test_header_field_boundaries, test_weights_len_boundaries, test_layout_overflow,
          test_nonfinite_weights, test_golden_malformed)
