/* Core: status messages, checked sizes, arena, CRC-32, f16, little-endian. */
#include "aether/core.h"
#include "check.h"

#include <stdint.h>
#include <stdlib.h>

static void test_status_messages(void)
{
    int s;
    for (s = 0; s < AETHER_STATUS_COUNT; ++s) {
        const char *m = aether_strerror((aether_status)s);
        CHECK(m != NULL && m[0] != '\0');
    }
    CHECK(strcmp(aether_strerror(AETHER_OK), "ok") == 0);
    CHECK(strcmp(aether_strerror((aether_status)9999), "unknown status") == 0);
    CHECK(strcmp(aether_status_name(AETHER_ERR_CACHE_FULL), "AETHER_ERR_CACHE_FULL") == 0);
    CHECK(strstr(aether_strerror(AETHER_ERR_BLOB_CRC), "CRC") != NULL);
}

static void test_sizes(void)
{
    size_t out = 7;
    CHECK_STATUS(aether_size_add(1, 2, &out), AETHER_OK);
    CHECK_EQ_INT(out, 3);
    CHECK_STATUS(aether_size_add(SIZE_MAX, 1, &out), AETHER_ERR_OVERFLOW);
    CHECK_EQ_INT(out, 3);
    CHECK_STATUS(aether_size_mul(SIZE_MAX / 2 + 1, 2, &out), AETHER_ERR_OVERFLOW);
    CHECK_STATUS(aether_size_mul(0, SIZE_MAX, &out), AETHER_OK);
    CHECK_EQ_INT(out, 0);
    CHECK_STATUS(aether_size_mul3(1u << 16, 1u << 8, 3, &out), AETHER_OK);
    CHECK_EQ_INT(out, 3u << 24);
    CHECK_STATUS(aether_size_mul3(SIZE_MAX / 3, 2, 2, &out), AETHER_ERR_OVERFLOW);
    CHECK_EQ_INT(aether_ceil_div(0, 4), 0);
    CHECK_EQ_INT(aether_ceil_div(1, 4), 1);
    CHECK_EQ_INT(aether_ceil_div(8, 4), 2);
    CHECK_EQ_INT(aether_ceil_div(9, 4), 3);
    CHECK_EQ_INT(aether_ceil_div(SIZE_MAX, 1), SIZE_MAX);
}

static void test_arena(void)
{
    aether_arena a;
    unsigned char *buf;
    size_t need, i;
    void *p1, *p2;

    aether_arena_measure(&a);
    CHECK(aether_arena_alloc(&a, 10, sizeof(float), 64) == NULL);
    CHECK(aether_arena_alloc(&a, 3, 1, 8) == NULL);
    CHECK_STATUS(a.status, AETHER_OK);
    need = a.used;
    /* Any base misalignment must fit in the measured size. */
    buf = (unsigned char *)malloc(need + 64);
    for (i = 0; i < 64; ++i) {
        aether_arena_init(&a, buf + i, need);
        p1 = aether_arena_alloc(&a, 10, sizeof(float), 64);
        p2 = aether_arena_alloc(&a, 3, 1, 8);
        CHECK(p1 != NULL && p2 != NULL);
        CHECK(((uintptr_t)p1 & 63u) == 0);
        CHECK(((uintptr_t)p2 & 7u) == 0);
        CHECK(a.used <= need);
    }
    aether_arena_init(&a, buf, 16);
    CHECK(aether_arena_alloc(&a, 100, 1, 1) == NULL);
    CHECK_STATUS(a.status, AETHER_ERR_BUFFER_TOO_SMALL);
    CHECK(aether_arena_alloc(&a, 1, 1, 1) == NULL); /* sticky */
    aether_arena_measure(&a);
    CHECK(aether_arena_alloc(&a, SIZE_MAX / 2, 4, 4) == NULL);
    CHECK_STATUS(a.status, AETHER_ERR_OVERFLOW);
    free(buf);
}

static void test_crc32(void)
{
    static const unsigned char hdr[24] = {0x45, 0x4e, 0x56, 0x52, 0x01, 0x00, 0x00, 0x00,
                                          0x10, 0x00, 0x04, 0x00, 0x01, 0x00, 0x20, 0x00,
                                          0x02, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00};
    uint32_t c;
    CHECK_EQ_INT(aether_crc32("123456789", 9), 0xCBF43926u);
    CHECK_EQ_INT(aether_crc32("", 0), 0);
    /* docs/FORMATS.md section 1.2: empty-payload blob header has CRC 0x58AE0EF0. */
    CHECK_EQ_INT(aether_crc32(hdr, sizeof hdr), 0x58AE0EF0u);
    c = aether_crc32_update(0, "1234", 4);
    c = aether_crc32_update(c, "56789", 5);
    CHECK_EQ_INT(c, 0xCBF43926u);
}

static void test_f16_specials(void)
{
    CHECK_EQ_INT(aether_f32_to_f16(0.0f), 0x0000);
    CHECK_EQ_INT(aether_f32_to_f16(-0.0f), 0x8000);
    CHECK_EQ_INT(aether_f32_to_f16(1.0f), 0x3C00);
    CHECK_EQ_INT(aether_f32_to_f16(65504.0f), 0x7BFF);
    CHECK_EQ_INT(aether_f32_to_f16(65520.0f), 0x7C00); /* rounds up to inf */
    CHECK_EQ_INT(aether_f32_to_f16(aether_f32_from_bits(0x7F800001u)), 0x7E00);
    CHECK_EQ_INT(aether_f32_bits(aether_f16_to_f32(0x7C01)), 0x7FC02000u);
    CHECK_EQ_INT(aether_f32_to_f16(5.9604645e-8f), 0x0001); /* smallest subnormal */
    CHECK_EQ_INT(aether_f32_to_f16(2.9802322e-8f), 0x0000); /* exact half: ties to even */
    CHECK(aether_f16_to_f32(0x0001) == 5.9604645e-8f);
    CHECK(aether_f16_to_f32(0xFC00) == -INFINITY);
    CHECK(aether_isfinite(1.0f) && !aether_isfinite(INFINITY) && !aether_isfinite(NAN));
}

static void test_endian(void)
{
    unsigned char b[8];
    aether_store_le32(b, 0x52564E45u);
    CHECK(b[0] == 0x45 && b[1] == 0x4E && b[2] == 0x56 && b[3] == 0x52);
    CHECK_EQ_INT(aether_load_le32(b), 0x52564E45u);
    aether_store_le16(b, 0xBEEF);
    CHECK(b[0] == 0xEF && b[1] == 0xBE);
    CHECK_EQ_INT(aether_load_le16(b), 0xBEEF);
    aether_store_le64(b, 1000000u);
    CHECK(b[0] == 0x40 && b[1] == 0x42 && b[2] == 0x0f && b[7] == 0);
    CHECK(aether_load_le64(b) == 1000000u);
    aether_store_lef32(b, 2.0f);
    CHECK(b[3] == 0x40 && b[0] == 0);
    CHECK(aether_load_lef32(b) == 2.0f);
}

TEST_MAIN(test_status_messages, test_sizes, test_arena, test_crc32, test_f16_specials,
          test_endian)
