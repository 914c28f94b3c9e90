/* .npy reader/writer: round trips, golden re-encoding, every malformed-input
 * status, truncation and mutation robustness. */
#include "aether/npy.h"
#include "check.h"
#include "test_util.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* ---------- helpers ---------- */

/* A .npy image with the given raw header dictionary text (padded like the
 * writer, version `major`) followed by data_len bytes of data. */
static unsigned char *make_npy(const char *dict, int major, const void *data, size_t data_len,
                               size_t *len)
{
    size_t dlen = strlen(dict), pre = major == 1 ? 10 : 12;
    size_t pad = 64 - (pre + dlen + 1) % 64, hlen = dlen + pad + 1;
    unsigned char *b = (unsigned char *)malloc(pre + hlen + data_len + 1);
    if (!b)
        return NULL;
    memcpy(b, "\x93NUMPY", 6);
    b[6] = (unsigned char)major;
    b[7] = 0;
    if (major == 1)
        aether_store_le16(b + 8, (uint16_t)hlen);
    else
        aether_store_le32(b + 8, (uint32_t)hlen);
    memcpy(b + pre, dict, dlen);
    memset(b + pre + dlen, ' ', pad);
    b[pre + hlen - 1] = '\n';
    if (data_len)
        memcpy(b + pre + hlen, data, data_len);
    *len = pre + hlen + data_len;
    return b;
}

static int is_zeroed(const aether_npy *a)
{
    return a->data == NULL && a->ndim == 0 && a->count == 0;
}

/* Parse a dictionary with `data_len` zero bytes of data; returns the status. */
static aether_status parse_dict_status(const char *dict, size_t data_len)
{
    unsigned char zeros[64] = {0};
    size_t len;
    unsigned char *b = make_npy(dict, 1, zeros, data_len, &len);
    aether_npy a;
    aether_status s;
    if (!b)
        return AETHER_ERR_NO_MEM;
    s = aether_npy_parse(b, len, &a);
    if (s != AETHER_OK)
        CHECK(is_zeroed(&a));
    aether_npy_free(&a);
    free(b);
    return s;
}

/* ---------- tests ---------- */

static void test_dtype_table(void)
{
    CHECK_EQ_INT(aether_dtype_size(AETHER_DTYPE_F32), 4);
    CHECK_EQ_INT(aether_dtype_size(AETHER_DTYPE_F16), 2);
    CHECK_EQ_INT(aether_dtype_size(AETHER_DTYPE_I32), 4);
    CHECK_EQ_INT(aether_dtype_size(AETHER_DTYPE_U16), 2);
    CHECK_EQ_INT(aether_dtype_size(AETHER_DTYPE_U8), 1);
    CHECK_EQ_INT(aether_dtype_size(AETHER_DTYPE_I8), 1);
    CHECK_EQ_INT(aether_dtype_size((aether_dtype)99), 0);
    CHECK(strcmp(aether_dtype_descr(AETHER_DTYPE_F16), "<f2") == 0);
    CHECK(strcmp(aether_dtype_descr(AETHER_DTYPE_I8), "|i1") == 0);
    CHECK(strcmp(aether_dtype_descr((aether_dtype)99), "") == 0);
}

static void test_header_bytes(void)
{
    static const char want[] = "{'descr': '<f4', 'fortran_order': False, 'shape': (5, 2, 16), }";
    float data[160];
    size_t shape[3] = {5, 2, 16}, len, i;
    unsigned char *b = NULL;
    for (i = 0; i < 160; ++i)
        data[i] = (float)i * 0.25f - 3.0f;
    CHECK_STATUS(aether_npy_encode(AETHER_DTYPE_F32, 3, shape, data, &b, &len), AETHER_OK);
    if (!b)
        return;
    CHECK_EQ_INT(len, 128 + 640);
    CHECK(memcmp(b, "\x93NUMPY\x01\x00", 8) == 0);
    CHECK_EQ_INT(aether_load_le16(b + 8), 118);
    CHECK(memcmp(b + 10, want, sizeof want - 1) == 0);
    for (i = 10 + sizeof want - 1; i < 127; ++i)
        CHECK(b[i] == ' ');
    CHECK(b[127] == '\n');
    CHECK(aether_f32_bits(aether_load_lef32(b + 128 + 4 * 7)) == aether_f32_bits(data[7]));
    free(b);

    /* 0-d and 1-d tuple spellings. */
    CHECK_STATUS(aether_npy_encode(AETHER_DTYPE_U8, 0, NULL, "x", &b, &len), AETHER_OK);
    if (b) {
        CHECK(memcmp(b + 10, "{'descr': '|u1', 'fortran_order': False, 'shape': (), }", 55) == 0);
        CHECK_EQ_INT(len, 129);
        CHECK(b[127] == '\n' && b[128] == 'x');
        free(b);
    }
    shape[0] = 3;
    CHECK_STATUS(aether_npy_encode(AETHER_DTYPE_U8, 1, shape, "abc", &b, &len), AETHER_OK);
    if (b) {
        CHECK(memcmp(b + 10, "{'descr': '|u1', 'fortran_order': False, 'shape': (3,), }", 57) ==
              0);
        free(b);
    }
}

static void test_padding_alignment(void)
{
    /* Every header ends on a 64-byte boundary with 1..64 spaces before the
     * newline, whatever the shape digits. */
    size_t shape[AETHER_NPY_MAX_DIMS], nd, len, hlen, k;
    unsigned char *b;
    for (nd = 0; nd <= AETHER_NPY_MAX_DIMS; ++nd) {
        for (k = 0; k < nd; ++k)
            shape[k] = k == 0 ? 0 : (size_t)1 << (3 * nd + k);
        CHECK_STATUS(aether_npy_encode(AETHER_DTYPE_I32, nd, shape, NULL, &b, &len),
                     nd == 0 ? AETHER_ERR_NULL_ARG : AETHER_OK);
        if (nd == 0)
            continue;
        hlen = aether_load_le16(b + 8);
        CHECK_EQ_INT((10 + hlen) % 64, 0);
        CHECK_EQ_INT(len, 10 + hlen);
        CHECK(b[10 + hlen - 1] == '\n' && b[10 + hlen - 2] == ' ');
        free(b);
    }
}

static void roundtrip_one(aether_dtype dt, size_t ndim, const size_t *shape)
{
    size_t count = 1, i, es = aether_dtype_size(dt), len;
    unsigned char *src, *b = NULL, *b2 = NULL;
    size_t len2;
    aether_npy a;
    for (i = 0; i < ndim; ++i)
        count *= shape[i];
    src = (unsigned char *)malloc(count * es + 1);
    if (!src)
        return;
    /* Arbitrary bit patterns, including NaNs and negative integers. */
    for (i = 0; i < count * es; ++i)
        src[i] = (unsigned char)(i * 37u + 11u + (unsigned)dt * 5u);
    CHECK_STATUS(aether_npy_encode(dt, ndim, shape, src, &b, &len), AETHER_OK);
    CHECK_STATUS(aether_npy_parse(b, len, &a), AETHER_OK);
    CHECK(a.dtype == dt);
    CHECK_EQ_INT(a.ndim, ndim);
    CHECK_EQ_INT(a.count, count);
    for (i = 0; i < ndim && i < a.ndim; ++i)
        CHECK_EQ_INT(a.shape[i], shape[i]);
    CHECK(a.data != NULL);
    if (a.data && count)
        CHECK(memcmp(a.data, src, count * es) == 0);
    /* Re-encoding the parsed array reproduces the bytes. */
    CHECK_STATUS(aether_npy_encode(a.dtype, a.ndim, a.shape, a.data, &b2, &len2), AETHER_OK);
    CHECK(len2 == len && b2 && memcmp(b, b2, len) == 0);
    aether_npy_free(&a);
    CHECK(is_zeroed(&a));
    free(b);
    free(b2);
    free(src);
}

static void test_roundtrip_all_dtypes(void)
{
    static const aether_dtype dts[] = {AETHER_DTYPE_F32, AETHER_DTYPE_F16, AETHER_DTYPE_I32,
                                       AETHER_DTYPE_U16, AETHER_DTYPE_U8,  AETHER_DTYPE_I8};
    static const size_t s1[1] = {17};
    static const size_t s3[3] = {3, 2, 5};
    static const size_t s3e[3] = {4, 0, 2};
    static const size_t s8[8] = {1, 2, 1, 3, 1, 2, 1, 2};
    size_t i;
    for (i = 0; i < sizeof dts / sizeof dts[0]; ++i) {
        roundtrip_one(dts[i], 0, NULL);
        roundtrip_one(dts[i], 1, s1);
        roundtrip_one(dts[i], 3, s3);
        roundtrip_one(dts[i], 3, s3e);
        roundtrip_one(dts[i], 8, s8);
    }
}

static void test_values_host_order(void)
{
    /* Values, not just bytes: the data is little-endian on the wire and host
     * order in memory. */
    float f[3] = {1.5f, -0.0f, 3.0e-40f};
    int32_t i32[3] = {-1, INT32_MIN, 123456789};
    uint16_t u16[3] = {0x3C00u, 0xFFFFu, 0x0102u};
    size_t shape[1] = {3}, len;
    unsigned char *b;
    aether_npy a;

    CHECK_STATUS(aether_npy_encode(AETHER_DTYPE_F32, 1, shape, f, &b, &len), AETHER_OK);
    CHECK_EQ_INT(aether_load_le32(b + 128), 0x3FC00000u);
    CHECK_STATUS(aether_npy_parse(b, len, &a), AETHER_OK);
    CHECK(((float *)a.data)[0] == 1.5f);
    CHECK(aether_f32_bits(((float *)a.data)[1]) == 0x80000000u);
    CHECK(aether_f32_bits(((float *)a.data)[2]) == aether_f32_bits(f[2]));
    aether_npy_free(&a);
    free(b);

    CHECK_STATUS(aether_npy_encode(AETHER_DTYPE_I32, 1, shape, i32, &b, &len), AETHER_OK);
    CHECK(b[128 + 4] == 0 && b[128 + 7] == 0x80);
    CHECK_STATUS(aether_npy_parse(b, len, &a), AETHER_OK);
    CHECK(((int32_t *)a.data)[0] == -1);
    CHECK(((int32_t *)a.data)[1] == INT32_MIN);
    CHECK(((int32_t *)a.data)[2] == 123456789);
    aether_npy_free(&a);
    free(b);

    CHECK_STATUS(aether_npy_encode(AETHER_DTYPE_U16, 1, shape, u16, &b, &len), AETHER_OK);
    CHECK(b[128 + 4] == 0x02 && b[128 + 5] == 0x01);
    CHECK_STATUS(aether_npy_parse(b, len, &a), AETHER_OK);
    CHECK(((uint16_t *)a.data)[0] == 0x3C00u && ((uint16_t *)a.data)[2] == 0x0102u);
    aether_npy_free(&a);
    free(b);
}

static void test_golden_reencode(void)
{
    REQUIRE_GOLDEN();
    static const char *const files[] = {
        "f16_conversions/f32_in.npy",
        "f16_conversions/f16_bits.npy",
        "f16_conversions/all_f16_to_f32.npy",
        "dense_c_s5/q.npy",
        "dense_c_s5/out.npy",
        "candidates_c_aether_w32_b16_g0_log_lm_s300/blk_flat.npy",
        "decode_f16_gqa_c_w32_b16_g0_log_lm_q4kv1_s100/k_f16_bits.npy",
        "forward_gated_c_w4_b4_g03_log_nolm_sort_s257_rand30/keep_mask.npy",
        "forward_gated_fastgrnn_c_w32_b16_g01_s1000_h32_top8/gate_u_gate.npy",
        "h2o_cap10_win3_g02_n30_ties/cache_keys_steps.npy",
        "h2o_cap10_win3_g02_n30_ties/slot_token_ids_steps.npy",
        "rvne/small_weights_f32.npy",
    };
    static const aether_dtype want_dt[] = {
        AETHER_DTYPE_F32, AETHER_DTYPE_U16, AETHER_DTYPE_F32, AETHER_DTYPE_F32,
        AETHER_DTYPE_F32, AETHER_DTYPE_I32, AETHER_DTYPE_U16, AETHER_DTYPE_U8,
        AETHER_DTYPE_F32, AETHER_DTYPE_F32, AETHER_DTYPE_I32, AETHER_DTYPE_F32,
    };
    static const size_t want_ndim[] = {1, 1, 1, 3, 3, 1, 3, 1, 2, 4, 2, 1};
    size_t i;
    for (i = 0; i < sizeof files / sizeof files[0]; ++i) {
        char path[1024];
        unsigned char *raw, *enc = NULL;
        size_t raw_len = 0, enc_len = 0;
        aether_npy a, b;
        snprintf(path, sizeof path, "%s/%s", AETHER_GOLDEN_DIR, files[i]);
        raw = test_read_file(path, &raw_len);
        CHECK_MSG(raw != NULL, "%s", path);
        if (!raw)
            continue;
        CHECK_STATUS(aether_npy_parse(raw, raw_len, &a), AETHER_OK);
        CHECK_STATUS(aether_npy_load(path, &b), AETHER_OK);
        CHECK(a.dtype == want_dt[i]);
        CHECK_EQ_INT(a.ndim, want_ndim[i]);
        CHECK(b.count == a.count && b.dtype == a.dtype &&
              memcmp(a.data, b.data, a.count * aether_dtype_size(a.dtype)) == 0);
        CHECK_STATUS(aether_npy_encode(a.dtype, a.ndim, a.shape, a.data, &enc, &enc_len),
                     AETHER_OK);
        CHECK_MSG(enc_len == raw_len && enc && memcmp(enc, raw, raw_len) == 0,
                  "re-encoding %s is not byte-identical", files[i]);
        aether_npy_free(&a);
        aether_npy_free(&b);
        free(enc);
        free(raw);
    }
}

static void test_golden_values(void)
{
    REQUIRE_GOLDEN();
    aether_npy a;
    CHECK_STATUS(aether_npy_load(AETHER_GOLDEN_DIR "/f16_conversions/all_f16_to_f32.npy", &a),
                 AETHER_OK);
    CHECK_EQ_INT(a.count, 65536);
    CHECK_EQ_INT(a.shape[0], 65536);
    if (a.data) {
        const float *f = (const float *)a.data;
        CHECK(f[0x3C00] == 1.0f);
        CHECK(f[0xC000] == -2.0f);
        CHECK(aether_f32_bits(f[0x7C00]) == 0x7F800000u);
        CHECK(f[0x0001] == 5.9604644775390625e-8f);
    }
    aether_npy_free(&a);
}

static void test_header_dialects(void)
{
    static const unsigned char two_f32[8] = {0, 0, 0x80, 0x3F, 0, 0, 0, 0xC0};
    unsigned char *b;
    size_t len;
    aether_npy a;

    /* Key order, quoting and whitespace are free; trailing commas optional. */
    CHECK_STATUS(parse_dict_status("{'shape': (2,), 'fortran_order': False, 'descr': '<f4'}", 8),
                 AETHER_OK);
    CHECK_STATUS(parse_dict_status("{\"descr\":\"<f4\",\"fortran_order\":False,\"shape\":(2,)}",
                                   8),
                 AETHER_OK);
    CHECK_STATUS(parse_dict_status("  {\n 'descr' : '<f4' ,\t'fortran_order':False,"
                                   "'shape':( 2 , ) , }  ",
                                   8),
                 AETHER_OK);
    CHECK_STATUS(parse_dict_status("{'descr': '<i4', 'fortran_order': False, 'shape': (1, 2), }",
                                   8),
                 AETHER_OK);
    CHECK_STATUS(parse_dict_status("{'descr': '<i4', 'fortran_order': False, 'shape': (1, 2,), }",
                                   8),
                 AETHER_OK);
    CHECK_STATUS(parse_dict_status("{'descr': '<f4', 'fortran_order': False, 'shape': (2L,), }",
                                   8),
                 AETHER_OK);
    /* 0-d holds one element; a zero dimension holds none. */
    CHECK_STATUS(parse_dict_status("{'descr': '<f4', 'fortran_order': False, 'shape': (), }", 4),
                 AETHER_OK);
    CHECK_STATUS(parse_dict_status("{'descr': '<f4', 'fortran_order': False, 'shape': (3, 0), }",
                                   0),
                 AETHER_OK);
    /* Harmless one-byte spellings. */
    CHECK_STATUS(parse_dict_status("{'descr': '<u1', 'fortran_order': False, 'shape': (2,), }",
                                   2),
                 AETHER_OK);
    CHECK_STATUS(parse_dict_status("{'descr': '<i1', 'fortran_order': False, 'shape': (2,), }",
                                   2),
                 AETHER_OK);
    CHECK_STATUS(parse_dict_status("{'descr': '|b1', 'fortran_order': False, 'shape': (2,), }",
                                   2),
                 AETHER_OK);

    /* Format 2.0 and 3.0 (u32 header length). */
    b = make_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", 2, two_f32, 8,
                 &len);
    CHECK_STATUS(aether_npy_parse(b, len, &a), AETHER_OK);
    CHECK(a.data && ((float *)a.data)[0] == 1.0f && ((float *)a.data)[1] == -2.0f);
    aether_npy_free(&a);
    free(b);
    b = make_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", 3, two_f32, 8,
                 &len);
    CHECK_STATUS(aether_npy_parse(b, len, &a), AETHER_OK);
    CHECK(a.dtype == AETHER_DTYPE_F32 && a.count == 2);
    aether_npy_free(&a);
    free(b);
}

static void test_malformed_statuses(void)
{
    static const char good[] = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }";
    unsigned char data[8] = {0};
    unsigned char *b;
    size_t len;
    aether_npy a;
    char dict[256];

    /* magic */
    b = make_npy(good, 1, data, 8, &len);
    CHECK_STATUS(aether_npy_parse(b, len, &a), AETHER_OK);
    aether_npy_free(&a);
    b[0] = 0x92;
    CHECK_STATUS(aether_npy_parse(b, len, &a), AETHER_ERR_NPY_MAGIC);
    CHECK(is_zeroed(&a));
    b[0] = 0x93;
    b[5] = 'y';
    CHECK_STATUS(aether_npy_parse(b, len, &a), AETHER_ERR_NPY_MAGIC);
    CHECK_STATUS(aether_npy_parse(b, 3, &a), AETHER_ERR_NPY_TRUNCATED);
    CHECK_STATUS(aether_npy_parse("PK\x03\x04", 4, &a), AETHER_ERR_NPY_MAGIC);
    CHECK_STATUS(aether_npy_parse(b, 0, &a), AETHER_ERR_NPY_MAGIC);
    b[5] = 'Y';
    /* version */
    b[6] = 0;
    CHECK_STATUS(aether_npy_parse(b, len, &a), AETHER_ERR_NPY_VERSION);
    b[6] = 4;
    CHECK_STATUS(aether_npy_parse(b, len, &a), AETHER_ERR_NPY_VERSION);
    b[6] = 1;
    b[7] = 1;
    CHECK_STATUS(aether_npy_parse(b, len, &a), AETHER_ERR_NPY_VERSION);
    b[7] = 0;
    /* size: one extra byte; truncated: one byte short; header beyond end */
    CHECK_STATUS(aether_npy_parse(b, len - 1, &a), AETHER_ERR_NPY_TRUNCATED);
    free(b);
    b = make_npy(good, 1, "123456789", 9, &len);
    CHECK_STATUS(aether_npy_parse(b, len, &a), AETHER_ERR_NPY_SIZE);
    CHECK(is_zeroed(&a));
    aether_store_le16(b + 8, 0xFFFF);
    CHECK_STATUS(aether_npy_parse(b, len, &a), AETHER_ERR_NPY_TRUNCATED);
    free(b);
    b = make_npy(good, 2, data, 8, &len);
    aether_store_le32(b + 8, 0xFFFFFFFFu);
    CHECK_STATUS(aether_npy_parse(b, len, &a), AETHER_ERR_NPY_TRUNCATED);
    free(b);

    /* header syntax */
    CHECK_STATUS(parse_dict_status("{'descr': '<f4', 'shape': (2,), }", 8),
                 AETHER_ERR_NPY_HEADER);
    CHECK_STATUS(parse_dict_status("{'descr': '<f4', 'fortran_order': False}", 8),
                 AETHER_ERR_NPY_HEADER);
    CHECK_STATUS(parse_dict_status("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), "
                                   "'extra': 1}",
                                   8),
                 AETHER_ERR_NPY_HEADER);
    CHECK_STATUS(parse_dict_status("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, "
                                   "'shape': (2,)}",
                                   8),
                 AETHER_ERR_NPY_HEADER);
    CHECK_STATUS(parse_dict_status("{'descr': '<f4', 'fortran_order': False, 'shape': (2)}", 8),
                 AETHER_ERR_NPY_HEADER);
    CHECK_STATUS(parse_dict_status("{'descr': '<f4', 'fortran_order': False, 'shape': 2}", 8),
                 AETHER_ERR_NPY_HEADER);
    CHECK_STATUS(parse_dict_status("{'descr': '<f4', 'fortran_order': False, 'shape': (-2,)}", 8),
                 AETHER_ERR_NPY_HEADER);
    CHECK_STATUS(parse_dict_status("{'descr': '<f4', 'fortran_order': False, 'shape': (2,,)}", 8),
                 AETHER_ERR_NPY_HEADER);
    CHECK_STATUS(parse_dict_status("{'descr': '<f4', 'fortran_order': False, 'shape': (,)}", 8),
                 AETHER_ERR_NPY_HEADER);
    CHECK_STATUS(parse_dict_status("{'descr': '<f4', 'fortran_order': False, 'shape': (2,)", 8),
                 AETHER_ERR_NPY_HEADER);
    CHECK_STATUS(parse_dict_status("'descr': '<f4', 'fortran_order': False, 'shape': (2,)}", 8),
                 AETHER_ERR_NPY_HEADER);
    CHECK_STATUS(parse_dict_status("{'descr': '<f4', 'fortran_order': False, 'shape': (2,)} x",
                                   8),
                 AETHER_ERR_NPY_HEADER);
    CHECK_STATUS(parse_dict_status("{'descr': '<f4, 'fortran_order': False, 'shape': (2,)}", 8),
                 AETHER_ERR_NPY_HEADER);
    CHECK_STATUS(parse_dict_status("{'descr': '<f4' 'fortran_order': False, 'shape': (2,)}", 8),
                 AETHER_ERR_NPY_HEADER);
    CHECK_STATUS(parse_dict_status("{'descr': '<f4', 'fortran_order': 0, 'shape': (2,)}", 8),
                 AETHER_ERR_NPY_HEADER);
    CHECK_STATUS(parse_dict_status("{'descr': '<f4', 'fortran_order': false, 'shape': (2,)}", 8),
                 AETHER_ERR_NPY_HEADER);
    CHECK_STATUS(parse_dict_status("{'descr': '\\x3cf4', 'fortran_order': False, 'shape': (2,)}",
                                   8),
                 AETHER_ERR_NPY_HEADER);
    CHECK_STATUS(parse_dict_status("{'descr': '<f4', 'fortran_order': False, "
                                   "'shape': (1, 1, 1, 1, 1, 1, 1, 1, 2)}",
                                   8),
                 AETHER_ERR_NPY_HEADER);
    CHECK_STATUS(parse_dict_status("{'descr': [('a', '<f4'], 'fortran_order': False, "
                                   "'shape': (2,)}",
                                   8),
                 AETHER_ERR_NPY_HEADER);
    CHECK_STATUS(parse_dict_status("", 8), AETHER_ERR_NPY_HEADER);
    CHECK_STATUS(parse_dict_status("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), "
                                   "}\xe9",
                                   8),
                 AETHER_ERR_NPY_HEADER);
    b = make_npy(good, 1, data, 8, &len);
    b[20] = 0;
    CHECK_STATUS(aether_npy_parse(b, len, &a), AETHER_ERR_NPY_HEADER);
    free(b);

    /* dtype */
    CHECK_STATUS(parse_dict_status("{'descr': '<f8', 'fortran_order': False, 'shape': (1,)}", 8),
                 AETHER_ERR_NPY_DTYPE);
    CHECK_STATUS(parse_dict_status("{'descr': '<i8', 'fortran_order': False, 'shape': (1,)}", 8),
                 AETHER_ERR_NPY_DTYPE);
    CHECK_STATUS(parse_dict_status("{'descr': '|f4', 'fortran_order': False, 'shape': (2,)}", 8),
                 AETHER_ERR_NPY_DTYPE);
    CHECK_STATUS(parse_dict_status("{'descr': '=f4', 'fortran_order': False, 'shape': (2,)}", 8),
                 AETHER_ERR_NPY_DTYPE);
    CHECK_STATUS(parse_dict_status("{'descr': 'f4', 'fortran_order': False, 'shape': (2,)}", 8),
                 AETHER_ERR_NPY_DTYPE);
    CHECK_STATUS(parse_dict_status("{'descr': '|S8', 'fortran_order': False, 'shape': (1,)}", 8),
                 AETHER_ERR_NPY_DTYPE);
    CHECK_STATUS(parse_dict_status("{'descr': '<f4 ', 'fortran_order': False, 'shape': (2,)}", 8),
                 AETHER_ERR_NPY_DTYPE);
    CHECK_STATUS(parse_dict_status("{'descr': [('a', '<f4')], 'fortran_order': False, "
                                   "'shape': (2,)}",
                                   8),
                 AETHER_ERR_NPY_DTYPE);
    /* endianness */
    CHECK_STATUS(parse_dict_status("{'descr': '>f4', 'fortran_order': False, 'shape': (2,)}", 8),
                 AETHER_ERR_NPY_ENDIAN);
    CHECK_STATUS(parse_dict_status("{'descr': '>u2', 'fortran_order': False, 'shape': (4,)}", 8),
                 AETHER_ERR_NPY_ENDIAN);
    CHECK_STATUS(parse_dict_status("{'descr': '>i4', 'fortran_order': False, 'shape': (2,)}", 8),
                 AETHER_ERR_NPY_ENDIAN);
    /* Fortran order (even where it would be harmless) */
    CHECK_STATUS(parse_dict_status("{'descr': '<f4', 'fortran_order': True, 'shape': (2,)}", 8),
                 AETHER_ERR_NPY_FORTRAN);
    CHECK_STATUS(parse_dict_status("{'fortran_order': True, 'descr': '<u2', 'shape': (2, 2)}", 8),
                 AETHER_ERR_NPY_FORTRAN);

    /* overflow: one dimension beyond size_t, and products beyond size_t */
    CHECK_STATUS(parse_dict_status("{'descr': '<f4', 'fortran_order': False, "
                                   "'shape': (123456789012345678901234567890,)}",
                                   8),
                 AETHER_ERR_OVERFLOW);
    CHECK_STATUS(parse_dict_status("{'descr': '<f4', 'fortran_order': False, "
                                   "'shape': (4294967296, 4294967296, 4294967296)}",
                                   8),
                 AETHER_ERR_OVERFLOW);
    {
        /* count fits size_t, count * 4 bytes does not */
        char digits[32];
        size_t v = SIZE_MAX / 2 + 1, n = 0, k;
        do {
            digits[n++] = (char)('0' + v % 10);
            v /= 10;
        } while (v);
        strcpy(dict, "{'descr': '<f4', 'fortran_order': False, 'shape': (");
        k = strlen(dict);
        while (n)
            dict[k++] = digits[--n];
        strcpy(dict + k, ",)}");
        CHECK_STATUS(parse_dict_status(dict, 8), AETHER_ERR_OVERFLOW);
    }
    /* A huge but representable declaration is a truncation, not a crash. */
    CHECK_STATUS(parse_dict_status("{'descr': '|u1', 'fortran_order': False, "
                                   "'shape': (65536, 65535)}",
                                   8),
                 AETHER_ERR_NPY_TRUNCATED);
}

static void test_truncation_every_offset(void)
{
    int16_t v[6] = {1, -2, 3, -4, 5, -6};
    size_t shape[2] = {2, 3}, len, cut;
    unsigned char *b, *copy;
    aether_npy a;
    CHECK_STATUS(aether_npy_encode(AETHER_DTYPE_U16, 2, shape, v, &b, &len), AETHER_OK);
    for (cut = 0; cut < len; ++cut) {
        aether_status s;
        /* A fresh allocation of exactly `cut` bytes so any overread is a
         * real out-of-bounds access under a sanitizer. */
        copy = (unsigned char *)malloc(cut ? cut : 1);
        memcpy(copy, b, cut);
        s = aether_npy_parse(copy, cut, &a);
        CHECK_MSG(s == (cut == 0 ? AETHER_ERR_NPY_MAGIC : AETHER_ERR_NPY_TRUNCATED),
                  "cut %lu gave %s", (unsigned long)cut, aether_status_name(s));
        CHECK(is_zeroed(&a));
        free(copy);
    }
    CHECK_STATUS(aether_npy_parse(b, len, &a), AETHER_OK);
    aether_npy_free(&a);
    free(b);
}

static void test_mutation_robustness(void)
{
    /* Deterministic byte mutations of a valid file: never a crash, and any
     * success is self-consistent. */
    float v[12];
    size_t shape[3] = {2, 3, 2}, len, it, k, ok = 0;
    unsigned char *b, *m;
    uint32_t rng = 12345u;
    aether_npy a;
    for (k = 0; k < 12; ++k)
        v[k] = (float)k;
    CHECK_STATUS(aether_npy_encode(AETHER_DTYPE_F32, 3, shape, v, &b, &len), AETHER_OK);
    m = (unsigned char *)malloc(len);
    for (it = 0; it < 20000; ++it) {
        size_t nmut, mlen = len;
        aether_status s;
        memcpy(m, b, len);
        rng = rng * 1664525u + 1013904223u;
        nmut = 1 + (rng >> 28) % 4;
        for (k = 0; k < nmut; ++k) {
            rng = rng * 1664525u + 1013904223u;
            m[(rng >> 8) % 80] = (unsigned char)(rng >> 24);
        }
        rng = rng * 1664525u + 1013904223u;
        if ((rng >> 30) == 0)
            mlen = (rng >> 8) % len;
        s = aether_npy_parse(m, mlen, &a);
        if (s == AETHER_OK) {
            ok++;
            CHECK(a.data != NULL && a.count * aether_dtype_size(a.dtype) <= mlen);
        } else {
            CHECK(is_zeroed(&a));
        }
        aether_npy_free(&a);
    }
    CHECK(ok > 0);
    free(m);
    free(b);
}

static void test_encode_errors(void)
{
    size_t shape[3] = {2, 2, 2}, big[2] = {SIZE_MAX / 2, 3}, len;
    unsigned char *b = NULL;
    float f[8] = {0};
    CHECK_STATUS(aether_npy_encode(AETHER_DTYPE_F32, 3, shape, f, NULL, &len),
                 AETHER_ERR_NULL_ARG);
    CHECK_STATUS(aether_npy_encode(AETHER_DTYPE_F32, 3, shape, f, &b, NULL), AETHER_ERR_NULL_ARG);
    CHECK_STATUS(aether_npy_encode((aether_dtype)42, 3, shape, f, &b, &len),
                 AETHER_ERR_INVALID_ARG);
    CHECK_STATUS(aether_npy_encode(AETHER_DTYPE_F32, AETHER_NPY_MAX_DIMS + 1, shape, f, &b, &len),
                 AETHER_ERR_INVALID_ARG);
    CHECK_STATUS(aether_npy_encode(AETHER_DTYPE_F32, 3, NULL, f, &b, &len), AETHER_ERR_NULL_ARG);
    CHECK_STATUS(aether_npy_encode(AETHER_DTYPE_F32, 3, shape, NULL, &b, &len),
                 AETHER_ERR_NULL_ARG);
    CHECK_STATUS(aether_npy_encode(AETHER_DTYPE_F32, 2, big, f, &b, &len), AETHER_ERR_OVERFLOW);
    CHECK(b == NULL);
    CHECK_STATUS(aether_npy_parse(NULL, 10, (aether_npy *)NULL), AETHER_ERR_NULL_ARG);
    {
        aether_npy a;
        CHECK_STATUS(aether_npy_parse(NULL, 10, &a), AETHER_ERR_NULL_ARG);
        CHECK_STATUS(aether_npy_load(NULL, &a), AETHER_ERR_NULL_ARG);
    }
    aether_npy_free(NULL);
}

static void test_files(void)
{
    REQUIRE_GOLDEN();
    static const char *tmp = "test_npy_tmp.npy";
    float d[24];
    aether_tensor t, u;
    aether_npy a;
    size_t i, shape[1] = {24};
    for (i = 0; i < 24; ++i)
        d[i] = (float)i - 11.5f;

    CHECK_STATUS(aether_npy_load("/nonexistent/dir/x.npy", &a), AETHER_ERR_IO);
    CHECK(is_zeroed(&a));
    CHECK_STATUS(aether_npy_save("/nonexistent/dir/x.npy", AETHER_DTYPE_F32, 1, shape, d),
                 AETHER_ERR_IO);

    CHECK_STATUS(aether_tensor_view(&t, d, 24, 2, 3, 4), AETHER_OK);
    CHECK_STATUS(aether_npy_save_tensor(tmp, &t), AETHER_OK);
    CHECK_STATUS(aether_npy_load_tensor(tmp, &u), AETHER_OK);
    CHECK(u.seq == 2 && u.heads == 3 && u.dim == 4 && u.owned_ != NULL);
    CHECK(u.data && memcmp(u.data, d, sizeof d) == 0);
    aether_tensor_free(&u);

    CHECK_STATUS(aether_npy_save(tmp, AETHER_DTYPE_F32, 1, shape, d), AETHER_OK);
    CHECK_STATUS(aether_npy_load(tmp, &a), AETHER_OK);
    CHECK(a.count == 24 && a.ndim == 1 && memcmp(a.data, d, sizeof d) == 0);
    aether_npy_free(&a);
    CHECK_STATUS(aether_npy_load_tensor(tmp, &u), AETHER_ERR_SHAPE_MISMATCH);
    remove(tmp);

    /* Empty tensor: a NULL view saves and reloads as [0, 3, 4]. */
    CHECK_STATUS(aether_tensor_view(&t, NULL, 0, 0, 3, 4), AETHER_OK);
    CHECK_STATUS(aether_npy_save_tensor(tmp, &t), AETHER_OK);
    CHECK_STATUS(aether_npy_load_tensor(tmp, &u), AETHER_OK);
    CHECK(u.seq == 0 && u.heads == 3 && u.dim == 4);
    aether_tensor_free(&u);
    remove(tmp);

    CHECK_STATUS(aether_npy_load_tensor(AETHER_GOLDEN_DIR "/dense_c_s5/q.npy", &u), AETHER_OK);
    CHECK(u.seq == 5 && u.heads == 2 && u.dim == 16);
    aether_tensor_free(&u);
    CHECK_STATUS(aether_npy_load_tensor(AETHER_GOLDEN_DIR "/f16_conversions/f16_bits.npy", &u),
                 AETHER_ERR_SHAPE_MISMATCH);
    CHECK_STATUS(aether_npy_load_tensor(NULL, &u), AETHER_ERR_NULL_ARG);
    CHECK_STATUS(aether_npy_save_tensor(tmp, NULL), AETHER_ERR_NULL_ARG);
}

TEST_MAIN(test_dtype_table, test_header_bytes, test_padding_alignment, test_roundtrip_all_dtypes,
          test_values_host_order, test_golden_reencode, test_golden_values, test_header_dialects,
          test_malformed_statuses, test_truncation_every_offset, test_mutation_robustness,
          test_encode_errors, test_files)
