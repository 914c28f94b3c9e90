/*
 * aether/csi.h - CSI frames, the ADR-018 binary frame, and recording readers.
 *
 * Two halves:
 *  - portable (library `aether`, no dependencies): the frame struct and the
 *    ADR-018 raw CSI frame parser/encoder (docs/FORMATS.md section 5), usable on
 *    firmware;
 *  - host-only (library `aether_host`, needs cJSON and zlib): streaming
 *    readers for `.csi.jsonl` recordings (docs/FORMATS.md section 7), ESPectre
 *    `.npz` archives and files of concatenated ADR-018 frames.
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
    double timestamp;      /* seconds (Unix time when HAS_TIME; see flags) */
    uint32_t node_id;      /* 0..255; 0 when the record names no node */
    aether_csi_kind kind;
    size_t n_pairs;        /* pairs (RAW_IQ) or amplitudes (AMPLITUDE), 1..1024 */
    const int8_t *iq;      /* RAW_IQ: 2*n_pairs bytes, pair k = (iq[2k] imag, iq[2k+1] real) */
    const float *amp;      /* AMPLITUDE: n_pairs finite, non-negative values */
    unsigned flags;        /* AETHER_CSI_* bits */
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
AETHER_API aether_status aether_adr018_frame_length(const void *buf, size_t len, size_t *frame_len);

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
AETHER_API aether_status aether_adr018_encode(const aether_csi_frame *frame, void *buf, size_t cap,
                                              size_t *out_len);

/* ===================== host-only: recording readers ===================== */
/* Defined in library aether_host (links cJSON and zlib). */

typedef enum aether_recording_format {
    AETHER_REC_JSONL = 0,  /* .csi.jsonl, raw_csi and/or amplitude lines */
    AETHER_REC_NPZ = 1,    /* ESPectre .npz (zip of .npy) */
    AETHER_REC_ADR018 = 2, /* concatenated ADR-018 frames (and siblings) */
    AETHER_REC_FORMAT_COUNT
} aether_recording_format;

/* Why a record was skipped without being an error (counted per type). */
typedef enum aether_csi_skip {
    AETHER_SKIP_VITALS = 0,       /* 0xC5110002 */
    AETHER_SKIP_FEATURE,          /* 0xC5110003 */
    AETHER_SKIP_FUSED_VITALS,     /* 0xC5110004 */
    AETHER_SKIP_COMPRESSED,       /* 0xC5110005 */
    AETHER_SKIP_FEATURE_STATE,    /* 0xC5110006 */
    AETHER_SKIP_CLASSIFICATION,   /* 0xC5110007 */
    AETHER_SKIP_OTHER,            /* JSON object of no known kind / other magic */
    AETHER_SKIP_BLANK,            /* empty or whitespace-only line */
    AETHER_SKIP_COUNT
} aether_csi_skip;

/* Name of a skip type ("vitals", "feature", ..., "blank"). */
AETHER_API const char *aether_csi_skip_name(aether_csi_skip skip);

/* One malformed record. */
typedef struct aether_csi_error {
    uint64_t record;       /* 1-based line (JSONL) or record (ADR-018 stream); 0 = file level */
    uint64_t offset;       /* byte offset of the record in the file */
    aether_status status;  /* AETHER_ERR_PARSE, _FRAME_MAGIC, _FRAME_LENGTH, ... */
    char reason[96];       /* short human explanation, NUL-terminated */
} aether_csi_error;

#define AETHER_CSI_KEEP_ERRORS 8u   /* first errors kept in the stats */
#define AETHER_CSI_PAIR_BINS 8u     /* distinct pair counts tallied */

/* Counters, updated as the stream is read; final once next() returns END. */
typedef struct aether_recording_stats {
    uint64_t records;                        /* lines / records / rows seen */
    uint64_t frames[AETHER_CSI_KIND_COUNT];  /* frames yielded, per kind */
    uint64_t frames_by_node[256];            /* frames yielded, per node_id */
    struct {
        uint32_t n_pairs;
        uint64_t count;
    } pairs[AETHER_CSI_PAIR_BINS];           /* frames per pair count (first 8 seen) */
    uint64_t pairs_other;                    /* frames whose pair count did not fit */
    uint64_t skipped[AETHER_SKIP_COUNT];     /* non-frame records, per type */
    uint64_t malformed;                      /* malformed records (skipped) */
    uint64_t too_long;                       /* of which: lines over max_line */
    aether_csi_error errors[AETHER_CSI_KEEP_ERRORS]; /* the first malformed ones */
    size_t n_errors;                         /* entries used in errors[] */
    double t_first, t_last;                  /* timestamps of first/last frame */
} aether_recording_stats;

/* Scalars of an ESPectre .npz (empty strings / 0 when absent). */
typedef struct aether_npz_info {
    char label[32];
    char chip[16];
    char collected_at[40];
    char format_version[16];
    int64_t num_subcarriers;
    double duration_ms;
    int gain_locked;   /* 1, 0, or -1 when absent */
    size_t rows;       /* csi_data rows */
    size_t row_bytes;  /* csi_data columns (2 per pair) */
} aether_npz_info;

/* Called for every malformed record (after it was counted). */
typedef void (*aether_csi_error_fn)(void *user, const aether_csi_error *err);

typedef struct aether_recording_options {
    size_t max_line;            /* longest JSONL line accepted; 0 = 1 MiB */
    aether_csi_error_fn on_error; /* may be NULL */
    void *user;
} aether_recording_options;

typedef struct aether_recording aether_recording; /* opaque */

/*
 * Open a recording and detect its format: zip magic "PK\3\4" -> NPZ; first
 * four bytes 0xC511000x little-endian -> ADR018; a '{' opening the first
 * non-blank line (UTF-8 BOM allowed) -> JSONL; anything else
 * AETHER_ERR_FORMAT. An empty file is an empty JSONL recording. opt may be
 * NULL. Memory stays constant while reading (one line buffer up to max_line,
 * one ADR-018 frame), except NPZ: csi_data is inflated once (N x 128 bytes).
 * Errors: AETHER_ERR_NULL_ARG, _IO, _FORMAT, _NO_MEM, and for NPZ
 * AETHER_ERR_ZIP (container), _UNSUPPORTED (zip64, encryption, other
 * compression), AETHER_ERR_NPY_* (members), _FORMAT (no usable csi_data).
 *
 * Streams: path "-" reads standard input; standard input, a pipe, a FIFO or
 * a character device is read as a stream, as bytes arrive: the format is
 * detected on the first bytes without rewinding, JSONL is parsed a line at a
 * time and ADR-018 a frame at a time (aether_recording_next() returns each
 * frame as soon as its bytes are in, never waiting for the end of the data).
 * An .npz cannot be streamed (a zip is read from its end): on a stream it
 * fails with AETHER_ERR_IO and errno ESPIPE.
 */
AETHER_API aether_status aether_recording_open(const char *path, const aether_recording_options *opt,
                                               aether_recording **out);
/* Same, over a caller buffer that must outlive the recording (fuzzing). */
AETHER_API aether_status aether_recording_open_memory(const void *buf, size_t len,
                                                      const aether_recording_options *opt,
                                                      aether_recording **out);

/*
 * Next frame. AETHER_OK: *frame is valid until the next call. AETHER_ERR_END:
 * no more frames (and on every later call). Malformed records are counted,
 * reported to on_error and skipped - they never stop the stream; only an I/O
 * error does (AETHER_ERR_IO).
 *
 * Per format: JSONL raw_csi lines give RAW_IQ frames (timestamp, node_id
 * from the line; record = line number); amplitude lines give AMPLITUDE frames
 * (node 0 unless the line has node_id). NPZ rows give RAW_IQ frames of
 * row_bytes/2 pairs, node 0, timestamp = row * duration_ms / 1000 / rows
 * (0.01 s a row if duration_ms is missing), flag TIME_SYNTH. ADR-018 streams
 * give RAW_IQ frames with the header fields, timestamp = index * 0.02 s
 * (the firmware's 50 Hz ceiling; the frame has no time), flag TIME_SYNTH.
 */
AETHER_API aether_status aether_recording_next(aether_recording *rec, aether_csi_frame *frame);

/* Counters so far (never NULL for a valid rec; NULL for NULL). */
AETHER_API const aether_recording_stats *aether_recording_get_stats(const aether_recording *rec);
/* Detected format; AETHER_REC_FORMAT_COUNT for NULL. */
AETHER_API aether_recording_format aether_recording_get_format(const aether_recording *rec);
/* NPZ scalars, or NULL for other formats. */
AETHER_API const aether_npz_info *aether_recording_npz_info(const aether_recording *rec);
/* "jsonl", "npz", "adr018". */
AETHER_API const char *aether_recording_format_name(aether_recording_format format);
AETHER_API void aether_recording_close(aether_recording *rec);

#ifdef __cplusplus
}
#endif
#endif /* AETHER_CSI_H */
