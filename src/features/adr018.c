/* ADR-018 raw CSI frame (docs/FORMATS.md section 5): header validation, parse
 * into a zero-copy frame view, and serialisation. */
#include "aether/csi.h"

#include <string.h>

const char *aether_csi_kind_name(aether_csi_kind kind)
{
    switch (kind) {
    case AETHER_CSI_RAW_IQ:
        return "raw_iq";
    case AETHER_CSI_AMPLITUDE:
        return "amplitude";
    default:
        return "unknown";
    }
}

/* Validates magic and length fields; needs the first 8 bytes only. */
static aether_status header_length(const unsigned char *p, size_t len, size_t *frame_len)
{
    unsigned n_ant;
    unsigned n_sc;
    if (len >= 4 && aether_load_le32(p) != AETHER_ADR018_MAGIC)
        return AETHER_ERR_FRAME_MAGIC;
    if (len < 8)
        return AETHER_ERR_FRAME_LENGTH;
    n_ant = p[5];
    n_sc = aether_load_le16(p + 6);
    if (n_ant < 1 || n_ant > AETHER_ADR018_MAX_ANTENNAS)
        return AETHER_ERR_FRAME_LENGTH;
    if (n_sc < 1 || n_sc > AETHER_ADR018_MAX_SUBCARRIERS)
        return AETHER_ERR_FRAME_LENGTH;
    /* At most 20 + 2*4*256: no overflow possible. */
    *frame_len = AETHER_ADR018_HEADER_BYTES + 2u * (size_t)n_ant * (size_t)n_sc;
    return AETHER_OK;
}

aether_status aether_adr018_frame_length(const void *buf, size_t len, size_t *frame_len)
{
    size_t n = 0;
    aether_status s;
    if (!buf || !frame_len)
        return AETHER_ERR_NULL_ARG;
    s = header_length((const unsigned char *)buf, len, &n);
    if (s == AETHER_OK)
        *frame_len = n;
    return s;
}

aether_status aether_adr018_parse(const void *buf, size_t len, aether_csi_frame *out)
{
    const unsigned char *p = (const unsigned char *)buf;
    size_t total = 0;
    aether_status s;
    aether_csi_frame f;
    if (!buf || !out)
        return AETHER_ERR_NULL_ARG;
    s = header_length(p, len, &total);
    if (s != AETHER_OK)
        return s;
    if (len < AETHER_ADR018_HEADER_BYTES || len != total)
        return AETHER_ERR_FRAME_LENGTH;
    memset(&f, 0, sizeof f);
    f.kind = AETHER_CSI_RAW_IQ;
    f.node_id = p[4];
    f.n_antennas = p[5];
    f.n_pairs = (total - AETHER_ADR018_HEADER_BYTES) / 2u;
    f.freq_mhz = aether_load_le32(p + 8);
    f.sequence = aether_load_le32(p + 12);
    /* int8 fields: two's complement by definition of the format. */
    f.rssi = (int8_t)(p[16] >= 128u ? (int)p[16] - 256 : (int)p[16]);
    f.noise_floor = (int8_t)(p[17] >= 128u ? (int)p[17] - 256 : (int)p[17]);
    f.iq = (const int8_t *)(const void *)(p + AETHER_ADR018_HEADER_BYTES);
    f.flags = AETHER_CSI_HAS_NODE | AETHER_CSI_HAS_HEADER;
    *out = f;
    return AETHER_OK;
}

aether_status aether_adr018_encode(const aether_csi_frame *frame, void *buf, size_t cap,
                                   size_t *out_len)
{
    unsigned char *p = (unsigned char *)buf;
    unsigned n_ant = 1;
    size_t n_sc, total, i;
    if (!frame || !out_len || (!buf && cap > 0))
        return AETHER_ERR_NULL_ARG;
    if (frame->kind != AETHER_CSI_RAW_IQ || !frame->iq || frame->node_id > 255u)
        return AETHER_ERR_INVALID_ARG;
    if (frame->flags & AETHER_CSI_HAS_HEADER)
        n_ant = frame->n_antennas;
    if (n_ant < 1 || n_ant > AETHER_ADR018_MAX_ANTENNAS || frame->n_pairs == 0 ||
        frame->n_pairs % n_ant != 0)
        return AETHER_ERR_INVALID_ARG;
    n_sc = frame->n_pairs / n_ant;
    if (n_sc > AETHER_ADR018_MAX_SUBCARRIERS)
        return AETHER_ERR_INVALID_ARG;
    total = AETHER_ADR018_HEADER_BYTES + 2u * frame->n_pairs;
    *out_len = total;
    if (cap < total)
        return AETHER_ERR_BUFFER_TOO_SMALL;
    aether_store_le32(p, AETHER_ADR018_MAGIC);
    p[4] = (unsigned char)frame->node_id;
    p[5] = (unsigned char)n_ant;
    aether_store_le16(p + 6, (uint16_t)n_sc);
    if (frame->flags & AETHER_CSI_HAS_HEADER) {
        aether_store_le32(p + 8, frame->freq_mhz);
        aether_store_le32(p + 12, frame->sequence);
        p[16] = (unsigned char)(frame->rssi < 0 ? frame->rssi + 256 : frame->rssi);
        p[17] = (unsigned char)(frame->noise_floor < 0 ? frame->noise_floor + 256
                                                       : frame->noise_floor);
    } else {
        memset(p + 8, 0, 10);
    }
    p[18] = 0;
    p[19] = 0;
    for (i = 0; i < 2u * frame->n_pairs; ++i) {
        int v = frame->iq[i];
        p[AETHER_ADR018_HEADER_BYTES + i] = (unsigned char)(v < 0 ? v + 256 : v);
    }
    return AETHER_OK;
}
