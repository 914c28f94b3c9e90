/* Stream of concatenated ADR-018 frames. Fixed-size sibling packets are
 * stepped over and counted; a bad magic or length field is reported and the
 * reader resynchronises on the next 0xC511000x magic. */
#include "rec_internal.h"

#include <string.h>

#define FRAME_PERIOD_S 0.02 /* the firmware's 50 Hz ceiling (docs/FORMATS.md section 7.5) */

/* Sizes of the fixed-length siblings (docs/FORMATS.md section 6); 0 = variable. */
static size_t sibling_size(uint32_t magic)
{
    switch (magic) {
    case AETHER_MAGIC_VITALS:
        return 32;
    case AETHER_MAGIC_FEATURE:
    case AETHER_MAGIC_FUSED_VITALS:
        return 48;
    case AETHER_MAGIC_FEATURE_STATE:
        return 60;
    default:
        return 0;
    }
}

static int is_known_magic(uint32_t m)
{
    return m >= AETHER_ADR018_MAGIC && m <= AETHER_MAGIC_CLASSIFICATION;
}

/* Slide a 4-byte window forward to the next known magic (consumed). */
static void resync(aether_recording *r)
{
    uint32_t w = 0;
    size_t seen = 0;
    int c;
    while ((c = aether_rec_src_getc_(&r->src)) != -1) {
        w = (w >> 8) | ((uint32_t)c << 24);
        if (++seen >= 4 && is_known_magic(w)) {
            r->have_magic = 1;
            r->pending_magic = w;
            return;
        }
    }
}

static aether_status at_end(aether_recording *r)
{
    return r->src.io_error ? AETHER_ERR_IO : AETHER_ERR_END;
}

static size_t skip_bytes(aether_recording *r, size_t n)
{
    size_t done = 0;
    while (done < n && aether_rec_src_getc_(&r->src) != -1)
        done++;
    return done;
}

aether_status aether_rec_adr018_next_(aether_recording *r, aether_csi_frame *f)
{
    unsigned char *b = r->frame_buf;
    for (;;) {
        uint64_t off, rec;
        uint32_t magic;
        size_t total = 0, sib;
        aether_status s;
        if (r->have_magic) {
            aether_store_le32(b, r->pending_magic);
            r->have_magic = 0;
            off = r->src.pos - 4;
        } else {
            size_t got;
            off = r->src.pos;
            got = aether_rec_src_read_(&r->src, b, 4);
            if (got == 0)
                return at_end(r);
            if (got < 4) {
                aether_rec_error_(r, ++r->stats.records, off, AETHER_ERR_FRAME_LENGTH,
                                  "truncated record at end of stream");
                return at_end(r);
            }
        }
        rec = ++r->stats.records;
        magic = aether_load_le32(b);
        if (magic == AETHER_ADR018_MAGIC) {
            if (aether_rec_src_read_(&r->src, b + 4, 4) < 4) {
                aether_rec_error_(r, rec, off, AETHER_ERR_FRAME_LENGTH,
                                  "truncated ADR-018 header");
                return at_end(r);
            }
            s = aether_adr018_frame_length(b, 8, &total);
            if (s != AETHER_OK) {
                aether_rec_error_(r, rec, off, s,
                                  "ADR-018 n_antennas not 1..4 or n_subcarriers not 1..256");
                resync(r);
                continue;
            }
            if (aether_rec_src_read_(&r->src, b + 8, total - 8) < total - 8) {
                aether_rec_error_(r, rec, off, AETHER_ERR_FRAME_LENGTH,
                                  "truncated ADR-018 frame");
                return at_end(r);
            }
            s = aether_adr018_parse(b, total, f);
            if (s != AETHER_OK) {
                aether_rec_error_(r, rec, off, s, "invalid ADR-018 frame");
                continue;
            }
            f->timestamp = (double)r->frames_out * FRAME_PERIOD_S;
            f->flags |= AETHER_CSI_TIME_SYNTH;
            f->record = rec;
            r->frames_out++;
            return AETHER_OK;
        }
        if (!is_known_magic(magic)) {
            aether_rec_error_(r, rec, off, AETHER_ERR_FRAME_MAGIC, "unknown magic");
            resync(r);
            continue;
        }
        sib = sibling_size(magic);
        if (sib != 0 && skip_bytes(r, sib - 4) < sib - 4) {
            aether_rec_error_(r, rec, off, AETHER_ERR_FRAME_LENGTH, "truncated sibling packet");
            return at_end(r);
        }
        r->stats.skipped[AETHER_SKIP_VITALS + (magic - AETHER_MAGIC_VITALS)]++;
        if (sib == 0)
            resync(r); /* variable length: walk to the next magic */
    }
}
