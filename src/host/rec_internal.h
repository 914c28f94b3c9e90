/* Internals shared by the recording readers (not installed). */
#ifndef AETHER_HOST_REC_INTERNAL_H
#define AETHER_HOST_REC_INTERNAL_H

#include <stdio.h>

#include "aether/csi.h"
#include "aether/npy.h"
#include "aether/recording.h"

/* Byte source: a file read through a buffer, or caller memory. A regular
 * file is seekable (size known, random access for .npz); standard input
 * ("-"), a pipe, a FIFO or a character device is a stream: bytes are read as
 * they arrive (one read(2) a refill, never waiting for a full buffer), the
 * size is unknown and nothing can be re-read. Format detection peeks at the
 * buffered head, so neither kind is ever rewound for it. */
typedef struct rec_source {
    FILE *f;
    int owns_file; /* fclose at close (not for stdin) */
    int fd;        /* stream: read(2) on it; -1 otherwise */
    int seekable;  /* memory or a regular file */
    const unsigned char *mem;
    uint64_t size; /* total bytes; UINT64_MAX for a stream */
    uint64_t pos;  /* offset of the next byte returned */
    unsigned char *buf;
    size_t buf_len, buf_pos;
    int io_error;
    int eof; /* a read found no more bytes (cleared by a seek) */
} rec_source;

/* path "-" is standard input. */
aether_status aether_rec_src_open_file_(rec_source *s, const char *path);
void aether_rec_src_open_memory_(rec_source *s, const void *buf, size_t len);
void aether_rec_src_close_(rec_source *s);
/* Next byte, or -1 at end of data / on I/O error (io_error set). */
int aether_rec_src_getc_(rec_source *s);
/* Up to n sequential bytes; returns the count read. */
size_t aether_rec_src_read_(rec_source *s, void *dst, size_t n);
/* The next bytes without consuming them: at least min(want, what the
 * source still holds) when *at_end is set, otherwise what is buffered after
 * at most one more read (call again while it is short and !*at_end).
 * want <= 4096. Returns the count visible at *p. */
size_t aether_rec_src_peek_(rec_source *s, size_t want, const unsigned char **p, int *at_end);
/* Reposition the sequential reader. 0 ok, -1 out of range / I/O error /
 * not seekable. */
int aether_rec_src_seek_(rec_source *s, uint64_t off);
/* Exactly n bytes at off (random access). 0 ok, -1 out of range / I/O error
 * / not seekable. */
int aether_rec_src_read_at_(rec_source *s, uint64_t off, void *dst, size_t n);

struct aether_recording {
    aether_recording_format format;
    aether_recording_options opt;
    aether_recording_stats stats;
    rec_source src;
    int ended;
    int have_frame_time; /* stats.t_first set */
    /* sample storage the yielded frame points into */
    int8_t iq[2 * AETHER_CSI_MAX_PAIRS];
    float amp[AETHER_CSI_MAX_PAIRS];
    /* JSONL */
    char *line;
    size_t line_cap;
    /* ADR-018 stream */
    unsigned char frame_buf[AETHER_ADR018_MAX_BYTES];
    uint64_t frames_out;
    int have_magic; /* magic of the next record already consumed */
    uint32_t pending_magic;
    /* NPZ */
    aether_npz_info info;
    aether_npy csi;
    size_t row;
    double row_dt;
};

/* Count a malformed record, keep it if among the first, tell the callback. */
void aether_rec_error_(aether_recording *r, uint64_t record, uint64_t offset,
                       aether_status status, const char *reason);
/* Account for a frame about to be yielded. */
void aether_rec_count_frame_(aether_recording *r, const aether_csi_frame *f);

/* Per-format parts: open after detection, then one frame per call. */
aether_status aether_rec_jsonl_next_(aether_recording *r, aether_csi_frame *f);
aether_status aether_rec_adr018_next_(aether_recording *r, aether_csi_frame *f);
aether_status aether_rec_npz_open_(aether_recording *r);
aether_status aether_rec_npz_next_(aether_recording *r, aether_csi_frame *f);

/* Scalars of a 0-d .npy member (dtypes aether_npy does not hold). */
typedef enum npy_scalar_kind {
    NPY_SCALAR_STRING, /* <U (UTF-32LE) decoded to ASCII, '?' for others */
    NPY_SCALAR_INT,    /* <i8 <i4 */
    NPY_SCALAR_FLOAT,  /* <f8 <f4 */
    NPY_SCALAR_BOOL    /* |b1 */
} npy_scalar_kind;

typedef struct npy_scalar {
    npy_scalar_kind kind;
    char text[64];
    int64_t i;
    double d;
} npy_scalar;

/* Decode a complete 0-d .npy image. AETHER_ERR_NPY_* on malformed input,
 * AETHER_ERR_UNSUPPORTED for another dtype or a non-scalar shape. */
aether_status aether_rec_npy_scalar_(const unsigned char *buf, size_t len, npy_scalar *out);

#endif
