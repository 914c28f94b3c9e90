/*
 * Classification packet decoder, on the raw bytes and on a copy whose CRC
 * is recomputed (so field checks after the CRC are reached). A decoded
 * packet re-encodes to the same bytes apart from the reserved ones.
 */
#include <string.h>

#include "aether/packet.h"
#include "fuzz_common.h"

static void check_one(const uint8_t *data, size_t size)
{
    aether_class_packet p, before;
    unsigned char out[AETHER_PACKET_LEN];
    aether_status st;

    memset(&p, 0x33, sizeof p);
    before = p;
    st = aether_packet_decode(data, size, &p);
    FUZZ_VALID_STATUS(st);
    if (st != AETHER_OK) {
        FUZZ_ASSERT(memcmp(&p, &before, sizeof p) == 0);
        FUZZ_ASSERT(st >= AETHER_ERR_PACKET_SIZE && st <= AETHER_ERR_PACKET_ARGMAX);
        return;
    }
    FUZZ_ASSERT(size == AETHER_PACKET_LEN);
    FUZZ_ASSERT(p.version == AETHER_PACKET_VERSION);
    FUZZ_ASSERT(p.n_classes > 0 && p.argmax < p.n_classes);
    FUZZ_ASSERT(aether_packet_encode(&p, out, sizeof out) == AETHER_OK);
    FUZZ_ASSERT(memcmp(out, data, 9) == 0);
    FUZZ_ASSERT(memcmp(out + 12, data + 12, 13) == 0);
    FUZZ_ASSERT(memcmp(out + 28, data + 28, 8) == 0);
    FUZZ_ASSERT(aether_packet_encode(&p, out, sizeof out - 1) == AETHER_ERR_BUFFER_TOO_SMALL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_one(data, size);
    if (size == AETHER_PACKET_LEN) {
        unsigned char buf[AETHER_PACKET_LEN];
        memcpy(buf, data, size);
        aether_store_le32(buf + 36, aether_crc32(buf, 36));
        check_one(buf, size);
        /* Also with the magic and version forced valid. */
        aether_store_le32(buf, AETHER_PACKET_MAGIC);
        aether_store_le16(buf + 4, AETHER_PACKET_VERSION);
        aether_store_le32(buf + 36, aether_crc32(buf, 36));
        check_one(buf, size);
    }
    /* The argmax rule on the input reinterpreted as logits. */
    if (size >= 4) {
        float logits[16];
        size_t n = size / 4 < 16 ? size / 4 : 16, i, am = 99;
        float top = 0.0f, margin = 0.0f;
        for (i = 0; i < n; ++i)
            logits[i] = aether_load_lef32(data + 4 * i);
        FUZZ_ASSERT(aether_packet_argmax(logits, n, &am, &top, &margin) == AETHER_OK);
        FUZZ_ASSERT(am < n);
        if (fuzz_all_finite(logits, n)) {
            int above_floor = 1; /* the rule's top2 starts at -1e30 */
            for (i = 0; i < n; ++i) {
                FUZZ_ASSERT(logits[i] <= top);
                if (!(logits[i] > -1e30f))
                    above_floor = 0;
            }
            FUZZ_ASSERT(top == logits[am]);
            if (above_floor)
                FUZZ_ASSERT(!(margin < 0.0f));
        }
    }
    return 0;
}
