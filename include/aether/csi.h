/*
 * aether/csi.h - CSI frames and the ADR-018 binary frame.
 *
 * Portable (library `aether`, no dependencies): the frame struct and the
 * ADR-018 raw CSI frame parser/encoder (docs/FORMATS.md section 5), usable on
 * firmware. The host-only readers of recordings that produce these frames
 * are in aether/recording.h.
 *
 * I/Q order: every raw pair is two signed bytes in Espressif order,
 * (imaginary, real). Amplitude is sqrt(imag^2 + real^2), phase is
 * atan2(imag, real).
 */
#ifndef AETHER_CSI_H
#define AETHER_CSI_H

#include "aether/export.h"
#include <stddef.h>
#include <stdint.h>

#include "aether/core.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ===================== portable: frames and ADR-018 ===================== */

#define AETHER_ADR018_MAGIC 0xC5110001u
#define AETHER_ADR018_HEADER_BYTES 20u
#define AETHER_ADR018_MAX_ANTENNAS 4u
#define AETHER_ADR018_MAX_SUBCARRIERS 256u
/* Largest pair count of any frame: 4 antennas x 256 subcarriers. */
#define AETHER_CSI_MAX_PAIRS 1024u
/* Largest ADR-018 frame: 20 + 2 * 1024 bytes. */
#define AETHER_ADR018_MAX_BYTES (AETHER_ADR018_HEADER_BYTES + 2u * AETHER_CSI_MAX_PAIRS)

/* Magics of the sibling packets sharing the ADR-018 port (docs/FORMATS.md section 6). */
#define AETHER_MAGIC_VITALS 0xC5110002u
#define AETHER_MAGIC_FEATURE 0xC5110003u
#define AETHER_MAGIC_FUSED_VITALS 0xC5110004u
#define AETHER_MAGIC_COMPRESSED 0xC5110005u
#define AETHER_MAGIC_FEATURE_STATE 0xC5110006u
#define AETHER_MAGIC_CLASSIFICATION 0xC5110007u

typedef enum aether_csi_kind {
    AETHER_CSI_RAW_IQ = 0,    /* n_pairs (imag, real) int8 pairs in `iq` */
    AETHER_CSI_AMPLITUDE = 1, /* n_pairs float amplitudes in `amp` */
    AETHER_CSI_KIND_COUNT
} aether_csi_kind;

/* Bits of aether_csi_frame.flags. */
#define AETHER_CSI_HAS_TIME 0x1u   /* timestamp came from the record */
#define AETHER_CSI_TIME_SYNTH 0x2u /* timestamp synthesised by the reader */
#define AETHER_CSI_HAS_NODE 0x4u   /* node_id came from the record */
#define AETHER_CSI_HAS_HEADER 0x8u /* n_antennas..sequence are the ADR-018 header's */

/*
 * One CSI frame (one received packet). The frame does not own its samples:
 * `iq` / `amp` point into the parsed buffer (aether_adr018_parse) or into
 * reader storage valid until the next aether_recording_next() call.
 */
typedef struct aether_csi_frame {
    double timestamp; /* seconds (Unix time when HAS_TIME; see flags) */
    uint32_t node_id; /* 0..255; 0 when the record names no node */
    aether_csi_kind kind;
    size_t n_pairs;   /* pairs (RAW_IQ) or amplitudes (AMPLITUDE), 1..1024 */
    const int8_t *iq; /* RAW_IQ: 2*n_pairs bytes, pair k = (iq[2k] imag, iq[2k+1] real) */
    const float *amp; /* AMPLITUDE: n_pairs finite, non-negative values */
    unsigned flags;   /* AETHER_CSI_* bits */
    /* ADR-018 header fields, meaningful only with AETHER_CSI_HAS_HEADER. */
    uint8_t n_antennas;
    int8_t rssi;
    int8_t noise_floor;
    uint32_t freq_mhz;
    uint32_t sequence;
    /* Where the frame came from: 1-based line (JSONL), record (ADR-018
     * stream) or row (npz) number; 0 when not from a reader. */
    uint64_t record;
} aether_csi_frame;

/* Name of a kind ("raw_iq", "amplitude"; "unknown" otherwise). */
AETHER_API const char *aether_csi_kind_name(aether_csi_kind kind);

/*
 * Total byte length of the ADR-018 frame starting at buf, from its header
 * alone (len >= 8 is enough). Validates magic (AETHER_ERR_FRAME_MAGIC) and the
 * length fields (AETHER_ERR_FRAME_LENGTH: len < 8, n_antennas outside 1..4,
 * n_subcarriers outside 1..256). Used to walk a stream of concatenated frames.
 */
AETHER_API aether_status aether_adr018_frame_length(const void *buf, size_t len,
                                                    size_t *frame_len);

/*
 * Parse one complete ADR-018 frame of exactly `len` bytes (a datagram).
 * Errors: AETHER_ERR_NULL_ARG; AETHER_ERR_FRAME_MAGIC (len >= 4 and wrong
 * magic); AETHER_ERR_FRAME_LENGTH (len < 20, n_antennas outside 1..4,
 * n_subcarriers outside 1..256, or len != 20 + 2*n_antennas*n_subcarriers).
 * On success `out` is a RAW_IQ frame whose `iq` points into buf (keep buf
 * alive), n_pairs = n_antennas*n_subcarriers, flags = HAS_NODE|HAS_HEADER,
 * timestamp 0, record 0. On error *out is unchanged.
 */
AETHER_API aether_status aether_adr018_parse(const void *buf, size_t len, aether_csi_frame *out);

/*
 * Serialise a RAW_IQ frame as ADR-018 (header fields from the frame when
 * HAS_HEADER, else n_antennas 1 and zeros). n_pairs must be a multiple of
 * n_antennas with n_pairs / n_antennas in 1..256; node_id <= 255.
 * AETHER_ERR_BUFFER_TOO_SMALL if cap < the frame length (*out_len still set).
 */
AETHER_API aether_status aether_adr018_encode(const aether_csi_frame *frame, void *buf,
                                              size_t cap, size_t *out_len);

#ifdef __cplusplus
}
#endif
#endif /* AETHER_CSI_H */
