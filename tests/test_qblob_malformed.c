/*
 * Malformed RVNQ blobs (aether/quant.h, docs/FORMATS.md section 9): every
 * truncation, every single-bit flip (CRC stale and recomputed), header
 * fields at their bounds, out-of-range scales and zero points, int8 values
 * and padding, shapes beyond the integer bounds. Each case gets its specific
 * status, never a crash; a failed parse leaves the output view untouched;
 * a blob that parses runs through the integer model.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aether/quant.h"
#include "check.h"

static void fix_crc(unsigned char *b, size_t len)
{
    aether_store_le32(b + len - 4, aether_crc32(b, len - 4));
}

static aether_status parse_checked(const unsigned char *b, size_t len, aether_qblob_view *v)
{
    aether_qblob_view before;
    aether_status st;
    memset(v, 0xC3, sizeof *v);
    before = *v;
    st = aether_qblob_parse(b, len, v);
    if (st != AETHER_OK)
        CHECK(memcmp(v, &before, sizeof *v) == 0);
    return st;
}

/* A small quantized model with input normalisation and metadata:
 * I 6, q 2, kv 1, d 3 (Q = 6 rows of 6: a padded record), 2 layers, 3
 * classes. */
static unsigned char *make_blob(size_t *len)
{
    static const char text[] = "labels=a,b,c\npool=mean\n";
    aether_blob_demo_params p = aether_blob_demo_default();
    aether_blob_view v, vm;
    unsigned char *f, *fm, *q;
    size_t n, nm, nq;
    p.input_dim = 6;
    p.n_q_heads = 2;
    p.n_kv_heads = 1;
    p.head_dim = 3;
    p.n_layers = 2;
    p.n_classes = 3;
    p.input_norm = 1;
    if (aether_blob_demo_size(&p, &n) != AETHER_OK || !(f = (unsigned char *)malloc(n)))
        return NULL;
    aether_blob_demo_write(&p, f, n, NULL);
    aether_blob_parse(f, n, &v);
    aether_blob_with_metadata_size(&v, sizeof text - 1, &nm);
    fm = (unsigned char *)malloc(nm);
    if (!fm || aether_blob_with_metadata(&v, text, sizeof text - 1, fm, nm, NULL) != AETHER_OK ||
        aether_blob_parse(fm, nm, &vm) != AETHER_OK ||
        aether_qblob_quantize_size(&vm, &nq) != AETHER_OK || !(q = (unsigned char *)malloc(nq)) ||
        aether_qblob_quantize(&vm, q, nq, len) != AETHER_OK) {
        free(f);
        free(fm);
        return NULL;
    }
    free(f);
    free(fm);
    return q;
}

/* A parsed blob must run: window forward and a few streaming steps. */
static void run_parsed(const aether_qblob_view *v)
{
    unsigned char mbuf[1024];
    aether_qmodel *m = NULL;
    size_t need = 0, I = v->header.input_dim;
    int32_t fr[3 * 6] = {65536, -3 * 65536, 5, 7, 2147483647, -2147483647, 1, 2, 3, 4, 5, 6, 0,
                         0, 0, 0, 0, 0};
    int32_t logits[16];
    void *ws;
    if (I > 6 || v->header.n_classes > 16 || aether_qmodel_size(v, NULL, &need) != AETHER_OK ||
        need > sizeof mbuf)
        return;
    CHECK_STATUS(aether_qmodel_init(mbuf, sizeof mbuf, v, NULL, &m), AETHER_OK);
    if (!m || aether_qmodel_forward_workspace_size(m, 3, &need) != AETHER_OK)
        return;
    ws = malloc(need);
    CHECK_STATUS(aether_qmodel_forward_q16(m, fr, 3, AETHER_POOL_MEAN, logits, NULL, ws, need),
                 AETHER_OK);
    free(ws);
}

static void test_valid_and_truncations(void)
{
    size_t len = 0, n, arrays = 0;
    unsigned char *b = make_blob(&len), *t;
    aether_qblob_view v;
    aether_qblob_layout l;
    if (!b) {
        CHECK_MSG(0, "fixture");
        return;
    }
    CHECK_STATUS(parse_checked(b, len, &v), AETHER_OK);
    CHECK_STATUS(aether_qblob_layout_of(&v.header, &l), AETHER_OK);
    arrays = l.arrays_bytes;
    CHECK(aether_qblob_is(b, len));
    run_parsed(&v);
    {
        aether_blob_model_meta mm;
        CHECK_STATUS(aether_qblob_model_meta_read(&v, &mm), AETHER_OK);
        CHECK_EQ_INT(mm.n_labels, 3);
        CHECK_EQ_INT(mm.pool, AETHER_META_POOL_MEAN);
    }
    t = (unsigned char *)malloc(len);
    for (n = 0; n < len && t; ++n) {
        memcpy(t, b, n);
        CHECK_STATUS(parse_checked(t, n, &v),
                     n < 28 ? AETHER_ERR_BLOB_TOO_SHORT : AETHER_ERR_BLOB_LENGTH);
        /* the same truncation made consistent: length field and CRC fixed.
         * The metadata trailer is looked for at the end: its tag is wrong
         * (BLOB_EXTENSION) unless the payload is too short to hold the
         * arrays and a trailer (BLOB_LAYOUT). */
        if (n >= 28) {
            memcpy(t, b, n);
            aether_store_le32(t + 20, (uint32_t)(n - 28));
            fix_crc(t, n);
            CHECK_STATUS(parse_checked(t, n, &v), n - 28 < arrays + 8 ? AETHER_ERR_BLOB_LAYOUT
                                                                      : AETHER_ERR_BLOB_EXTENSION);
        }
    }
    CHECK_STATUS(aether_qblob_parse(NULL, len, &v), AETHER_ERR_NULL_ARG);
    CHECK_STATUS(aether_qblob_parse(b, len, NULL), AETHER_ERR_NULL_ARG);
    free(t);
    free(b);
}

/* Every bit flip. With a stale CRC only the fields checked before the CRC
 * can give another status; with the CRC recomputed every status must be
 * one of the documented ones, and a blob that still parses must run. */
static void test_bit_flips(void)
{
    size_t len = 0, i;
    unsigned char *b = make_blob(&len), *t;
    aether_qblob_view v;
    int bit;
    if (!b) {
        CHECK_MSG(0, "fixture");
        return;
    }
    t = (unsigned char *)malloc(len);
    for (i = 0; i < len && t; ++i) {
        for (bit = 0; bit < 8; ++bit) {
            aether_status want, st;
            memcpy(t, b, len);
            t[i] ^= (unsigned char)(1u << bit);
            want = i < 4 ? AETHER_ERR_BLOB_MAGIC
                   : i < 6 ? AETHER_ERR_BLOB_VERSION
                   : (i >= 20 && i < 24) ? AETHER_ERR_BLOB_LENGTH
                                         : AETHER_ERR_BLOB_CRC;
            CHECK_STATUS(parse_checked(t, len, &v), want);
            if (i < 6 || (i >= 20 && i < 24) || i >= len - 4)
                continue;
            fix_crc(t, len);
            st = parse_checked(t, len, &v);
            switch (st) {
            case AETHER_OK:
                run_parsed(&v);
                break;
            case AETHER_ERR_BLOB_ZERO_DIM:
            case AETHER_ERR_BLOB_GQA:
            case AETHER_ERR_BLOB_DEGENERATE:
            case AETHER_ERR_BLOB_EXTENSION:
            case AETHER_ERR_BLOB_LAYOUT:
            case AETHER_ERR_QBLOB_SHAPE:
            case AETHER_ERR_QBLOB_SCALE:
            case AETHER_ERR_QBLOB_ZERO_POINT:
            case AETHER_ERR_QBLOB_RANGE:
                break;
            default:
                CHECK_MSG(0, "byte %zu bit %d: %s", i, bit, aether_status_name(st));
            }
            if (i == 6 && (bit == 0 || bit >= 3))
                CHECK_STATUS(st, AETHER_ERR_BLOB_EXTENSION);
            if (i == 7)
                CHECK_STATUS(st, AETHER_ERR_BLOB_EXTENSION);
        }
    }
    free(t);
    free(b);
}

/* Field by field with the CRC fixed: the specific status of each rule. */
static void test_records(void)
{
    size_t len = 0;
    unsigned char *b = make_blob(&len), *t;
    aether_qblob_view v;
    aether_qblob_layout l;
    const size_t H = 24; /* payload start */
    size_t I;
    if (!b || (t = (unsigned char *)malloc(len)) == NULL) {
        CHECK_MSG(0, "fixture");
        free(b);
        return;
    }
    CHECK_STATUS(aether_qblob_parse(b, len, &v), AETHER_OK);
    CHECK_STATUS(aether_qblob_layout_of(&v.header, &l), AETHER_OK);
    I = v.header.input_dim; /* v is overwritten by the failing parses below */
#define MUTATE(stmt, want)                             \
    do {                                               \
        memcpy(t, b, len);                             \
        stmt;                                          \
        fix_crc(t, len);                               \
        CHECK_STATUS(parse_checked(t, len, &v), want); \
    } while (0)
    /* scale m below / above its range, shift above 47, zero point */
    MUTATE(aether_store_le16(t + H + l.wq, 16383), AETHER_ERR_QBLOB_SCALE);
    MUTATE(aether_store_le16(t + H + l.wq, 32768), AETHER_ERR_QBLOB_SCALE);
    MUTATE(aether_store_le16(t + H + l.wq, 16384), AETHER_OK);
    MUTATE(t[H + l.wq + 2] = 48, AETHER_ERR_QBLOB_SCALE);
    MUTATE(t[H + l.wq + 2] = 47, AETHER_OK);
    MUTATE(t[H + l.wq + 3] = 1, AETHER_ERR_QBLOB_ZERO_POINT);
    MUTATE(t[H + l.layer_bytes + l.wo + 4 + 3] = 0xFF, AETHER_ERR_QBLOB_ZERO_POINT);
    MUTATE(t[H + l.classifier + 3] = 0x80, AETHER_ERR_QBLOB_ZERO_POINT);
    /* a zero scale needs an all-zero row */
    MUTATE((aether_store_le16(t + H + l.wk, 0), t[H + l.wk + 2] = 0), AETHER_ERR_QBLOB_RANGE);
    MUTATE((aether_store_le16(t + H + l.wk, 0), t[H + l.wk + 2] = 5), AETHER_ERR_QBLOB_SCALE);
    MUTATE((aether_store_le16(t + H + l.wk, 0), t[H + l.wk + 2] = 0,
            memset(t + H + l.wk + 4 * l.kv_width, 0, I)),
           AETHER_OK);
    /* int8 -128, padding (Wq: 6 x 6 = 36 bytes, no padding; Wk: 6 x 3 = 18,
     * two padding bytes) */
    MUTATE(t[H + l.wq + 4 * l.q_width + 5] = 0x80, AETHER_ERR_QBLOB_RANGE);
    MUTATE(t[H + l.wq + 4 * l.q_width + 5] = 0x81, AETHER_OK);
    MUTATE(t[H + l.wk + 4 * l.kv_width + 18] = 1, AETHER_ERR_QBLOB_RANGE);
    MUTATE(t[H + l.wv + 4 * l.kv_width + 19] = 0x80, AETHER_ERR_QBLOB_RANGE);
    /* input normalisation: mean INT32_MIN, inv_std scale rules, 0 allowed */
    MUTATE(aether_store_le32(t + H + l.norm_mean + 8, 0x80000000u), AETHER_ERR_QBLOB_SCALE);
    MUTATE(aether_store_le32(t + H + l.norm_mean + 8, 0x7FFFFFFFu), AETHER_OK);
    MUTATE(aether_store_le32(t + H + l.norm_inv_std + 4, 0), AETHER_OK);
    MUTATE(aether_store_le16(t + H + l.norm_inv_std + 4, 100), AETHER_ERR_QBLOB_SCALE);
    MUTATE(t[H + l.norm_inv_std + 7] = 2, AETHER_ERR_QBLOB_ZERO_POINT);
    /* header */
    MUTATE(t[6] |= 0x01, AETHER_ERR_BLOB_EXTENSION);
    MUTATE(t[6] |= 0x80, AETHER_ERR_BLOB_EXTENSION);
    MUTATE(t[7] = 1, AETHER_ERR_BLOB_EXTENSION);
    MUTATE(t[6] &= (unsigned char)~0x02u, AETHER_ERR_BLOB_LAYOUT);
    MUTATE(t[6] &= (unsigned char)~0x04u, AETHER_ERR_BLOB_LAYOUT);
    MUTATE(aether_store_le16(t + 8, 0), AETHER_ERR_BLOB_ZERO_DIM);
    MUTATE(aether_store_le16(t + 12, 0), AETHER_ERR_BLOB_ZERO_DIM);
    MUTATE(aether_store_le16(t + 12, 3), AETHER_ERR_BLOB_GQA);
    MUTATE(aether_store_le16(t + 16, 0), AETHER_ERR_BLOB_DEGENERATE);
    MUTATE(aether_store_le16(t + 18, 1), AETHER_ERR_BLOB_DEGENERATE);
    /* shapes beyond the int32 accumulator bounds */
    MUTATE(aether_store_le16(t + 8, 513), AETHER_ERR_QBLOB_SHAPE);
    MUTATE(aether_store_le16(t + 14, 257), AETHER_ERR_QBLOB_SHAPE);
    MUTATE((aether_store_le16(t + 10, 4), aether_store_le16(t + 14, 200)), AETHER_ERR_QBLOB_SHAPE);
    MUTATE(aether_store_le16(t + 18, 600), AETHER_ERR_QBLOB_SHAPE);
    MUTATE(aether_store_le16(t + 8, 512), AETHER_ERR_BLOB_LAYOUT);
    /* counts that would overflow a 32-bit layout sum: a layout error */
    MUTATE((aether_store_le16(t + 8, 512), aether_store_le16(t + 10, 2),
            aether_store_le16(t + 14, 256), aether_store_le16(t + 16, 65535)),
           AETHER_ERR_BLOB_LAYOUT);
    /* metadata record */
    MUTATE(t[len - 4 - 1] ^= 0x20, AETHER_ERR_BLOB_EXTENSION); /* tag */
    MUTATE(t[H + l.arrays_bytes] = 0x01, AETHER_ERR_BLOB_EXTENSION);
    MUTATE(t[4] = 2, AETHER_ERR_BLOB_VERSION);
    MUTATE(t[0] = 0x45, AETHER_ERR_BLOB_MAGIC); /* an RVNE magic */
#undef MUTATE
    free(t);
    free(b);
}

TEST_MAIN(test_valid_and_truncations, test_bit_flips, test_records)
