/*
 * aether/recording.h - host-only recording readers: `.csi.jsonl` (both line
 * formats), ESPectre `.npz` archives and streams of concatenated ADR-018
 * frames (docs/FORMATS.md section 7), from a file, standard input ("-"), a
 * pipe or a FIFO, or a memory buffer. Each gives aether_csi_frame values
 * (aether/csi.h) and counts what it skips and why.
 *
 * Defined in library aether_host (links cJSON and zlib); the portable
 * library and the firmware never need this header.
 */
#ifndef AETHER_RECORDING_H
#define AETHER_RECORDING_H

#include "aether/export.h"
#include <stddef.h>
#include <stdint.h>

#include "aether/core.h"
#include "aether/csi.h"

#ifdef __cplusplus
extern "C" {
#endif


typedef enum aether_recording_format {
    AETHER_REC_JSONL = 0,  /* .csi.jsonl, raw_csi and/or amplitude lines */
    AETHER_REC_NPZ = 1,    /* ESPectre .npz (zip of .npy) */
    AETHER_REC_ADR018 = 2, /* concatenated ADR-018 frames (and siblings) */
    AETHER_REC_FORMAT_COUNT
} aether_recording_format;

/* Why a record was skipped without being an error (counted per type). */
typedef enum aether_csi_skip {
    AETHER_SKIP_VITALS = 0,     /* 0xC5110002 */
    AETHER_SKIP_FEATURE,        /* 0xC5110003 */
    AETHER_SKIP_FUSED_VITALS,   /* 0xC5110004 */
    AETHER_SKIP_COMPRESSED,     /* 0xC5110005 */
    AETHER_SKIP_FEATURE_STATE,  /* 0xC5110006 */
    AETHER_SKIP_CLASSIFICATION, /* 0xC5110007 */
    AETHER_SKIP_OTHER,          /* JSON object of no known kind / other magic */
    AETHER_SKIP_BLANK,          /* empty or whitespace-only line */
    AETHER_SKIP_COUNT
} aether_csi_skip;

/* Name of a skip type ("vitals", "feature", ..., "blank"). */
AETHER_API const char *aether_csi_skip_name(aether_csi_skip skip);

/* One malformed record. */
typedef struct aether_csi_error {
    uint64_t record;      /* 1-based line (JSONL) or record (ADR-018 stream); 0 = file level */
    uint64_t offset;      /* byte offset of the record in the file */
    aether_status status; /* AETHER_ERR_PARSE, _FRAME_MAGIC, _FRAME_LENGTH, ... */
    char reason[96];      /* short human explanation, NUL-terminated */
} aether_csi_error;

#define AETHER_CSI_KEEP_ERRORS 8u /* first errors kept in the stats */
#define AETHER_CSI_PAIR_BINS 8u   /* distinct pair counts tallied */

/* Counters, updated as the stream is read; final once next() returns END. */
typedef struct aether_recording_stats {
    uint64_t records;                       /* lines / records / rows seen */
    uint64_t frames[AETHER_CSI_KIND_COUNT]; /* frames yielded, per kind */
    uint64_t frames_by_node[256];           /* frames yielded, per node_id */
    struct {
        uint32_t n_pairs;
        uint64_t count;
    } pairs[AETHER_CSI_PAIR_BINS];                   /* frames per pair count (first 8 seen) */
    uint64_t pairs_other;                            /* frames whose pair count did not fit */
    uint64_t skipped[AETHER_SKIP_COUNT];             /* non-frame records, per type */
    uint64_t malformed;                              /* malformed records (skipped) */
    uint64_t too_long;                               /* of which: lines over max_line */
    aether_csi_error errors[AETHER_CSI_KEEP_ERRORS]; /* the first malformed ones */
    size_t n_errors;                                 /* entries used in errors[] */
    double t_first, t_last;                          /* timestamps of first/last frame */
} aether_recording_stats;

/* Scalars of an ESPectre .npz (empty strings / 0 when absent). */
typedef struct aether_npz_info {
    char label[32];
    char chip[16];
    char collected_at[40];
    char format_version[16];
    int64_t num_subcarriers;
    double duration_ms;
    int gain_locked;  /* 1, 0, or -1 when absent */
    size_t rows;      /* csi_data rows */
    size_t row_bytes; /* csi_data columns (2 per pair) */
} aether_npz_info;

/* Called for every malformed record (after it was counted). */
typedef void (*aether_csi_error_fn)(void *user, const aether_csi_error *err);

typedef struct aether_recording_options {
    size_t max_line;              /* longest JSONL line accepted; 0 = 1 MiB */
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
AETHER_API aether_status aether_recording_open(const char *path,
                                               const aether_recording_options *opt,
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
#endif /* AETHER_RECORDING_H */
