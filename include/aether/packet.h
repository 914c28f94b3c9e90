/*
 * aether/packet.h - the 40-byte classification packet 0xC5110007
 * (docs/FORMATS.md section 4). Little-endian on the wire whatever the host.
 *
 *   [0,4) u32 magic 0xC5110007   [4,6) u16 version 1   [6,8) u16 n_classes
 *   [8] u8 node_id  [9,12) reserved 0   [12,20) u64 ts_us (unaligned)
 *   [20,24) u32 seq  [24] u8 argmax  [25,28) reserved 0
 *   [28,32) f32 top_logit  [32,36) f32 top1_minus_top2  [36,40) u32 CRC-32 of [0,36)
 */
#ifndef AETHER_PACKET_H
#define AETHER_PACKET_H

#include "aether/export.h"
#include "aether/core.h"

#ifdef __cplusplus
extern "C" {
#endif

#define AETHER_PACKET_MAGIC 0xC5110007u
#define AETHER_PACKET_VERSION 1u
#define AETHER_PACKET_LEN 40u

/* Decoded (or to-be-encoded) packet fields. */
typedef struct aether_class_packet {
    uint16_t version;   /* decode: as received (always 1); encode: ignored, 1 written */
    uint16_t n_classes; /* > 0 */
    uint8_t node_id;
    uint64_t ts_us;  /* microseconds since boot at emit */
    uint32_t seq;    /* 1 for the first packet of a run */
    uint8_t argmax;  /* < n_classes */
    float top_logit; /* logits[argmax] */
    float margin;    /* top1 - top2 */
    uint32_t crc;    /* decode: the verified CRC; encode: ignored (computed) */
} aether_class_packet;

/* The argmax/margin rule of docs/FORMATS.md section 4.2: top1 = logits[0], argmax 0,
 * top2 = -1e30; for i = 1..n-1: v > top1 -> (top2, top1, argmax) =
 * (top1, v, i); else v > top2 -> top2 = v. Ties keep the lower index and give
 * margin 0; n = 1 gives margin top1 + 1e30. NaN never wins: the scan starts
 * at the first non-NaN logit (identical to the rule whenever logits[0] is a
 * number); all-NaN input gives argmax 0, top NaN, margin NaN.
 * Errors: NULL_ARG, INVALID_ARG (n == 0). Outputs optional. */
AETHER_API aether_status aether_packet_argmax(const float *logits, size_t n, size_t *argmax,
                                              float *top, float *margin);

/* Fill *pkt from logits (argmax/top/margin as above; version 1). Errors:
 * NULL_ARG; PACKET_CLASSES (n == 0); INVALID_ARG (n > 65535 or the winning
 * index does not fit the u8 argmax field). */
AETHER_API aether_status aether_packet_from_logits(aether_class_packet *pkt, const float *logits,
                                                   size_t n, uint8_t node_id, uint64_t ts_us,
                                                   uint32_t seq);

/* Serialise into out[0,40) with the CRC. Rejects what a decoder would reject:
 * PACKET_CLASSES (n_classes 0), PACKET_ARGMAX (argmax >= n_classes);
 * BUFFER_TOO_SMALL when cap < 40. Reserved bytes are written 0. */
AETHER_API aether_status aether_packet_encode(const aether_class_packet *pkt, void *out,
                                              size_t cap);

/* Decode one packet. Rejections, in this order, each with its own status:
 * PACKET_SIZE (len != 40), PACKET_MAGIC, PACKET_VERSION (!= 1), PACKET_CRC,
 * PACKET_CLASSES (n_classes 0), PACKET_ARGMAX (argmax >= n_classes).
 * Reserved bytes are ignored. *out is written only on success. */
AETHER_API aether_status aether_packet_decode(const void *buf, size_t len,
                                              aether_class_packet *out);

#ifdef __cplusplus
}
#endif
#endif /* AETHER_PACKET_H */
