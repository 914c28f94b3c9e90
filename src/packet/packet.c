/* Classification packet 0xC5110007: argmax rule, encode, decode. */
#include "aether/packet.h"

#include <string.h>

static int is_nan(float x)
{
    return x != x;
}

aether_status aether_packet_argmax(const float *logits, size_t n, size_t *argmax, float *top,
                                   float *margin)
{
    size_t i, start = 0, best;
    float top1, top2 = -1e30f;

    if (!logits)
        return AETHER_ERR_NULL_ARG;
    if (n == 0)
        return AETHER_ERR_INVALID_ARG;
    /* The original's loop lets a NaN at index 0 win (nothing compares greater
     * than NaN); starting at the first number keeps "NaN never wins". */
    while (start < n && is_nan(logits[start]))
        start++;
    if (start == n)
        start = 0;
    best = start;
    top1 = logits[start];
    for (i = start + 1; i < n; ++i) {
        float v = logits[i];
        if (v > top1) {
            top2 = top1;
            top1 = v;
            best = i;
        } else if (v > top2) {
            top2 = v;
        }
    }
    if (argmax)
        *argmax = best;
    if (top)
        *top = top1;
    if (margin)
        *margin = top1 - top2;
    return AETHER_OK;
}

aether_status aether_packet_from_logits(aether_class_packet *pkt, const float *logits, size_t n,
                                        uint8_t node_id, uint64_t ts_us, uint32_t seq)
{
    size_t best;
    float top, margin;
    aether_status st;

    if (!pkt || !logits)
        return AETHER_ERR_NULL_ARG;
    if (n == 0)
        return AETHER_ERR_PACKET_CLASSES;
    if (n > 0xFFFFu)
        return AETHER_ERR_INVALID_ARG;
    st = aether_packet_argmax(logits, n, &best, &top, &margin);
    if (st != AETHER_OK)
        return st;
    if (best > 0xFFu)
        return AETHER_ERR_INVALID_ARG;
    pkt->version = AETHER_PACKET_VERSION;
    pkt->n_classes = (uint16_t)n;
    pkt->node_id = node_id;
    pkt->ts_us = ts_us;
    pkt->seq = seq;
    pkt->argmax = (uint8_t)best;
    pkt->top_logit = top;
    pkt->margin = margin;
    pkt->crc = 0;
    return AETHER_OK;
}

aether_status aether_packet_encode(const aether_class_packet *pkt, void *out, size_t cap)
{
    unsigned char *p = (unsigned char *)out;
    if (!pkt || !out)
        return AETHER_ERR_NULL_ARG;
    if (pkt->n_classes == 0)
        return AETHER_ERR_PACKET_CLASSES;
    if (pkt->argmax >= pkt->n_classes)
        return AETHER_ERR_PACKET_ARGMAX;
    if (cap < AETHER_PACKET_LEN)
        return AETHER_ERR_BUFFER_TOO_SMALL;
    memset(p, 0, AETHER_PACKET_LEN);
    aether_store_le32(p, AETHER_PACKET_MAGIC);
    aether_store_le16(p + 4, (uint16_t)AETHER_PACKET_VERSION);
    aether_store_le16(p + 6, pkt->n_classes);
    p[8] = pkt->node_id;
    aether_store_le64(p + 12, pkt->ts_us);
    aether_store_le32(p + 20, pkt->seq);
    p[24] = pkt->argmax;
    aether_store_lef32(p + 28, pkt->top_logit);
    aether_store_lef32(p + 32, pkt->margin);
    aether_store_le32(p + 36, aether_crc32(p, 36));
    return AETHER_OK;
}

aether_status aether_packet_decode(const void *buf, size_t len, aether_class_packet *out)
{
    const unsigned char *p = (const unsigned char *)buf;
    aether_class_packet k;

    if (!buf || !out)
        return AETHER_ERR_NULL_ARG;
    if (len != AETHER_PACKET_LEN)
        return AETHER_ERR_PACKET_SIZE;
    if (aether_load_le32(p) != AETHER_PACKET_MAGIC)
        return AETHER_ERR_PACKET_MAGIC;
    k.version = aether_load_le16(p + 4);
    if (k.version != AETHER_PACKET_VERSION)
        return AETHER_ERR_PACKET_VERSION;
    k.crc = aether_load_le32(p + 36);
    if (k.crc != aether_crc32(p, 36))
        return AETHER_ERR_PACKET_CRC;
    k.n_classes = aether_load_le16(p + 6);
    if (k.n_classes == 0)
        return AETHER_ERR_PACKET_CLASSES;
    k.argmax = p[24];
    if (k.argmax >= k.n_classes)
        return AETHER_ERR_PACKET_ARGMAX;
    k.node_id = p[8];
    k.ts_us = aether_load_le64(p + 12);
    k.seq = aether_load_le32(p + 20);
    k.top_logit = aether_load_lef32(p + 28);
    k.margin = aether_load_lef32(p + 32);
    *out = k;
    return AETHER_OK;
}
