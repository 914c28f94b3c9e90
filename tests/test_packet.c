/* Classification packet 0xC5110007 (docs/FORMATS.md section 4). */
#include <string.h>

#include "aether/packet.h"
#include "check.h"

/* clang-format off */
static const unsigned char k_vector[40] = {
    0x07, 0x00, 0x11, 0xc5, 0x01, 0x00, 0x04, 0x00, 0x03, 0x00, 0x00, 0x00, 0x40, 0x42,
    0x0f, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
    0x00, 0x00, 0x00, 0x40, 0x00, 0x00, 0x80, 0x3f, 0xc9, 0x9c, 0x6f, 0x83};
/* clang-format on */

static void test_spec_vector_encode(void)
{
    const float logits[4] = {0.5f, 2.0f, 1.0f, -1.0f};
    aether_class_packet p;
    unsigned char out[40];
    CHECK_STATUS(aether_packet_from_logits(&p, logits, 4, 3, 1000000u, 1), AETHER_OK);
    CHECK_EQ_INT(p.argmax, 1);
    CHECK(p.top_logit == 2.0f);
    CHECK(p.margin == 1.0f);
    CHECK_STATUS(aether_packet_encode(&p, out, sizeof out), AETHER_OK);
    CHECK(memcmp(out, k_vector, 40) == 0);
    CHECK_EQ_INT(aether_load_le32(out + 36), 0x836F9CC9u);
    CHECK_STATUS(aether_packet_encode(&p, out, 39), AETHER_ERR_BUFFER_TOO_SMALL);
}

static void test_spec_vector_decode(void)
{
    aether_class_packet p;
    CHECK_STATUS(aether_packet_decode(k_vector, 40, &p), AETHER_OK);
    CHECK_EQ_INT(p.version, 1);
    CHECK_EQ_INT(p.n_classes, 4);
    CHECK_EQ_INT(p.node_id, 3);
    CHECK_EQ_INT(p.ts_us, 1000000);
    CHECK_EQ_INT(p.seq, 1);
    CHECK_EQ_INT(p.argmax, 1);
    CHECK(p.top_logit == 2.0f);
    CHECK(p.margin == 1.0f);
    CHECK_EQ_INT(p.crc, 0x836F9CC9u);
}

static void refresh_crc(unsigned char *b)
{
    aether_store_le32(b + 36, aether_crc32(b, 36));
}

static void test_decoder_rejections(void)
{
    unsigned char b[41];
    aether_class_packet p, keep;
    memset(&keep, 0x5A, sizeof keep);
    p = keep;
    memcpy(b, k_vector, 40);
    b[40] = 0;
    CHECK_STATUS(aether_packet_decode(b, 39, &p), AETHER_ERR_PACKET_SIZE);
    CHECK_STATUS(aether_packet_decode(b, 41, &p), AETHER_ERR_PACKET_SIZE);
    CHECK_STATUS(aether_packet_decode(NULL, 40, &p), AETHER_ERR_NULL_ARG);
    b[0] = 0x06; /* the feature-state magic's low byte */
    CHECK_STATUS(aether_packet_decode(b, 40, &p), AETHER_ERR_PACKET_MAGIC);
    memcpy(b, k_vector, 40);
    b[4] = 2;
    CHECK_STATUS(aether_packet_decode(b, 40, &p), AETHER_ERR_PACKET_VERSION);
    memcpy(b, k_vector, 40);
    b[30] ^= 1;
    CHECK_STATUS(aether_packet_decode(b, 40, &p), AETHER_ERR_PACKET_CRC);
    memcpy(b, k_vector, 40);
    b[6] = 0;
    CHECK_STATUS(aether_packet_decode(b, 40, &p), AETHER_ERR_PACKET_CRC);
    refresh_crc(b);
    CHECK_STATUS(aether_packet_decode(b, 40, &p), AETHER_ERR_PACKET_CLASSES);
    memcpy(b, k_vector, 40);
    b[24] = 4;
    refresh_crc(b);
    CHECK_STATUS(aether_packet_decode(b, 40, &p), AETHER_ERR_PACKET_ARGMAX);
    CHECK(memcmp(&p, &keep, sizeof p) == 0); /* untouched by every failure */
    /* reserved bytes are ignored on receipt */
    memcpy(b, k_vector, 40);
    b[9] = 0xAA;
    b[11] = 0x01;
    b[25] = 0xFF;
    b[27] = 0x7F;
    refresh_crc(b);
    CHECK_STATUS(aether_packet_decode(b, 40, &p), AETHER_OK);
    CHECK_EQ_INT(p.argmax, 1);
    CHECK_EQ_INT(p.node_id, 3);
}

static void test_argmax_rule(void)
{
    size_t am = 99;
    float top = 0, margin = 0;
    const float ties[3] = {1.0f, 3.0f, 3.0f};
    const float one[1] = {0.25f};
    const float nan_first[3] = {NAN, -2.0f, -1.0f};
    const float nan_mid[4] = {1.0f, NAN, 0.5f, 2.0f};
    const float all_nan[2] = {NAN, NAN};
    const float neg[3] = {-5.0f, -7.0f, -6.0f};
    CHECK_STATUS(aether_packet_argmax(ties, 3, &am, &top, &margin), AETHER_OK);
    CHECK_EQ_INT(am, 1);
    CHECK(top == 3.0f && margin == 0.0f);
    CHECK_STATUS(aether_packet_argmax(one, 1, &am, &top, &margin), AETHER_OK);
    CHECK_EQ_INT(am, 0);
    CHECK(margin == 0.25f + 1e30f);
    CHECK_STATUS(aether_packet_argmax(nan_first, 3, &am, &top, &margin), AETHER_OK);
    CHECK_EQ_INT(am, 2);
    CHECK(top == -1.0f && margin == 1.0f);
    CHECK_STATUS(aether_packet_argmax(nan_mid, 4, &am, &top, &margin), AETHER_OK);
    CHECK_EQ_INT(am, 3);
    CHECK(top == 2.0f && margin == 1.0f);
    CHECK_STATUS(aether_packet_argmax(all_nan, 2, &am, &top, &margin), AETHER_OK);
    CHECK_EQ_INT(am, 0);
    CHECK(top != top && margin != margin);
    CHECK_STATUS(aether_packet_argmax(neg, 3, &am, &top, &margin), AETHER_OK);
    CHECK_EQ_INT(am, 0);
    CHECK(top == -5.0f && margin == 1.0f);
    CHECK_STATUS(aether_packet_argmax(neg, 0, &am, &top, &margin), AETHER_ERR_INVALID_ARG);
    CHECK_STATUS(aether_packet_argmax(NULL, 3, &am, &top, &margin), AETHER_ERR_NULL_ARG);
}

static void test_encode_validation_and_roundtrip(void)
{
    float logits[300];
    aether_class_packet p, q;
    unsigned char b[40];
    size_t i;
    for (i = 0; i < 300; ++i)
        logits[i] = (float)i * 0.001f;
    CHECK_STATUS(aether_packet_from_logits(&p, logits, 0, 0, 0, 1), AETHER_ERR_PACKET_CLASSES);
    CHECK_STATUS(aether_packet_from_logits(&p, logits, 300, 0, 0, 1), AETHER_ERR_INVALID_ARG);
    CHECK_STATUS(aether_packet_from_logits(&p, logits, 256, 200, 0xFFFFFFFFFFFFull, 77),
                 AETHER_OK);
    CHECK_EQ_INT(p.argmax, 255);
    CHECK_STATUS(aether_packet_encode(&p, b, 40), AETHER_OK);
    CHECK_STATUS(aether_packet_decode(b, 40, &q), AETHER_OK);
    CHECK_EQ_INT(q.n_classes, 256);
    CHECK_EQ_INT(q.node_id, 200);
    CHECK_EQ_INT(q.ts_us, 0xFFFFFFFFFFFFull);
    CHECK_EQ_INT(q.seq, 77);
    CHECK(q.top_logit == p.top_logit && q.margin == p.margin);
    p.argmax = 0;
    p.n_classes = 0;
    CHECK_STATUS(aether_packet_encode(&p, b, 40), AETHER_ERR_PACKET_CLASSES);
    p.n_classes = 2;
    p.argmax = 2;
    CHECK_STATUS(aether_packet_encode(&p, b, 40), AETHER_ERR_PACKET_ARGMAX);
}

TEST_MAIN(test_spec_vector_encode, test_spec_vector_decode, test_decoder_rejections,
          test_argmax_rule, test_encode_validation_and_roundtrip)
