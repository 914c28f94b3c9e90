/* Recording front end: format detection, dispatch, counters. */
#include "rec_internal.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "aether/recording.h"

#define DEFAULT_MAX_LINE (1u << 20)
#define SNIFF_BYTES 4096u

const char *aether_csi_skip_name(aether_csi_skip skip)
{
    static const char *const names[AETHER_SKIP_COUNT] = {"vitals",        "feature",
                                                         "fused_vitals",  "compressed",
                                                         "feature_state", "classification",
                                                         "other",         "blank"};
    return (unsigned)skip < AETHER_SKIP_COUNT ? names[skip] : "unknown";
}

const char *aether_recording_format_name(aether_recording_format format)
{
    switch (format) {
    case AETHER_REC_JSONL:
        return "jsonl";
    case AETHER_REC_NPZ:
        return "npz";
    case AETHER_REC_ADR018:
        return "adr018";
    default:
        return "unknown";
    }
}

void aether_rec_error_(aether_recording *r, uint64_t record, uint64_t offset,
                       aether_status status, const char *reason)
{
    aether_csi_error e;
    size_t n = strlen(reason);
    if (n >= sizeof e.reason)
        n = sizeof e.reason - 1;
    e.record = record;
    e.offset = offset;
    e.status = status;
    memcpy(e.reason, reason, n);
    e.reason[n] = '\0';
    r->stats.malformed++;
    if (r->stats.n_errors < AETHER_CSI_KEEP_ERRORS)
        r->stats.errors[r->stats.n_errors++] = e;
    if (r->opt.on_error)
        r->opt.on_error(r->opt.user, &e);
}

void aether_rec_count_frame_(aether_recording *r, const aether_csi_frame *f)
{
    aether_recording_stats *st = &r->stats;
    size_t i;
    st->frames[f->kind]++;
    st->frames_by_node[f->node_id & 0xFFu]++;
    for (i = 0; i < AETHER_CSI_PAIR_BINS; ++i) {
        if (st->pairs[i].count == 0)
            st->pairs[i].n_pairs = (uint32_t)f->n_pairs;
        if (st->pairs[i].n_pairs == f->n_pairs) {
            st->pairs[i].count++;
            break;
        }
    }
    if (i == AETHER_CSI_PAIR_BINS)
        st->pairs_other++;
    if (!r->have_frame_time) {
        st->t_first = f->timestamp;
        r->have_frame_time = 1;
    }
    st->t_last = f->timestamp;
}

#ifndef ESPIPE
#define ESPIPE EINVAL
#endif

#define DETECT_MORE ((aether_status)-1) /* undecided: peek at more bytes */

/* Decide the format from the first n bytes; `final` when no more bytes will
 * be looked at (end of data, or SNIFF_BYTES of them). A stream is detected on
 * a growing prefix: every decision taken early is the one the whole head
 * gives, so a file and the same bytes through a pipe get the same format. */
static aether_status detect(const unsigned char *h, size_t n, int final,
                            aether_recording_format *fmt)
{
    size_t i = 0;
    if (n < 4 && !final)
        return DETECT_MORE;
    if (n >= 4 && h[0] == 'P' && h[1] == 'K' &&
        ((h[2] == 3 && h[3] == 4) || (h[2] == 5 && h[3] == 6))) {
        *fmt = AETHER_REC_NPZ;
        return AETHER_OK;
    }
    if (n >= 4 && aether_load_le32(h) >= AETHER_ADR018_MAGIC &&
        aether_load_le32(h) <= AETHER_MAGIC_CLASSIFICATION) {
        *fmt = AETHER_REC_ADR018;
        return AETHER_OK;
    }
    if (n >= 3 && h[0] == 0xEF && h[1] == 0xBB && h[2] == 0xBF)
        i = 3;
    while (i < n && (h[i] == ' ' || h[i] == '\t' || h[i] == '\r' || h[i] == '\n'))
        i++;
    if (i == n && !final)
        return DETECT_MORE;
    if (i == n || h[i] == '{') {
        *fmt = AETHER_REC_JSONL;
        return AETHER_OK;
    }
    /* A damaged first line must not hide a JSONL body. */
    for (; i + 1 < n; ++i)
        if (h[i] == '\n' && h[i + 1] == '{') {
            *fmt = AETHER_REC_JSONL;
            return AETHER_OK;
        }
    return final ? AETHER_ERR_FORMAT : DETECT_MORE;
}

static aether_status open_common(aether_recording *r, const aether_recording_options *opt,
                                 aether_recording **out)
{
    aether_status s;
    if (opt)
        r->opt = *opt;
    if (r->opt.max_line == 0)
        r->opt.max_line = DEFAULT_MAX_LINE;
    /* Peek, never rewind: the head stays buffered for the format reader. */
    do {
        const unsigned char *head;
        int at_end;
        size_t n = aether_rec_src_peek_(&r->src, SNIFF_BYTES, &head, &at_end);
        if (r->src.io_error)
            return AETHER_ERR_IO;
        if (n > SNIFF_BYTES)
            n = SNIFF_BYTES;
        s = detect(head, n, at_end || n == SNIFF_BYTES, &r->format);
    } while (s == DETECT_MORE);
    if (s != AETHER_OK)
        return s;
    if (r->format == AETHER_REC_NPZ) {
        if (!r->src.seekable) {
            /* A zip is read from its end (the central directory): a stream
             * cannot be. */
            errno = ESPIPE;
            return AETHER_ERR_IO;
        }
        s = aether_rec_npz_open_(r);
        if (s != AETHER_OK)
            return s;
    }
    *out = r;
    return AETHER_OK;
}

aether_status aether_recording_open(const char *path, const aether_recording_options *opt,
                                    aether_recording **out)
{
    aether_recording *r;
    aether_status s;
    if (!path || !out)
        return AETHER_ERR_NULL_ARG;
    r = (aether_recording *)calloc(1, sizeof *r);
    if (!r)
        return AETHER_ERR_NO_MEM;
    s = aether_rec_src_open_file_(&r->src, path);
    if (s == AETHER_OK)
        s = open_common(r, opt, out);
    if (s != AETHER_OK) {
        int err = errno; /* why: for the caller's message */
        aether_recording_close(r);
        errno = err;
    }
    return s;
}

aether_status aether_recording_open_memory(const void *buf, size_t len,
                                           const aether_recording_options *opt,
                                           aether_recording **out)
{
    aether_recording *r;
    aether_status s;
    if ((!buf && len > 0) || !out)
        return AETHER_ERR_NULL_ARG;
    r = (aether_recording *)calloc(1, sizeof *r);
    if (!r)
        return AETHER_ERR_NO_MEM;
    aether_rec_src_open_memory_(&r->src, buf ? buf : (const void *)"", len);
    s = open_common(r, opt, out);
    if (s != AETHER_OK)
        aether_recording_close(r);
    return s;
}

aether_status aether_recording_next(aether_recording *rec, aether_csi_frame *frame)
{
    aether_status s;
    if (!rec || !frame)
        return AETHER_ERR_NULL_ARG;
    if (rec->ended)
        return AETHER_ERR_END;
    switch (rec->format) {
    case AETHER_REC_JSONL:
        s = aether_rec_jsonl_next_(rec, frame);
        break;
    case AETHER_REC_ADR018:
        s = aether_rec_adr018_next_(rec, frame);
        break;
    default:
        s = aether_rec_npz_next_(rec, frame);
        break;
    }
    if (s == AETHER_OK)
        aether_rec_count_frame_(rec, frame);
    else
        rec->ended = 1;
    return s;
}

const aether_recording_stats *aether_recording_get_stats(const aether_recording *rec)
{
    return rec ? &rec->stats : NULL;
}

aether_recording_format aether_recording_get_format(const aether_recording *rec)
{
    return rec ? rec->format : AETHER_REC_FORMAT_COUNT;
}

const aether_npz_info *aether_recording_npz_info(const aether_recording *rec)
{
    return rec && rec->format == AETHER_REC_NPZ ? &rec->info : NULL;
}

void aether_recording_close(aether_recording *rec)
{
    if (!rec)
        return;
    aether_rec_src_close_(&rec->src);
    free(rec->line);
    aether_npy_free(&rec->csi);
    free(rec);
}
