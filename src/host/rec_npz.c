/* ESPectre .npz: a zip (APPNOTE) of .npy members. The central directory is
 * authoritative for sizes (NumPy writes 0xFFFFFFFF sizes plus a zip64 extra
 * in the local headers); every offset and size is checked against the file
 * before use. Members are stored or deflated (inflated with zlib) and
 * verified by CRC-32. */
#include "rec_internal.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include "aether/recording.h"

#define SIG_EOCD 0x06054b50u
#define SIG_CEN 0x02014b50u
#define SIG_LOC 0x04034b50u
#define EOCD_BYTES 22u
#define CEN_BYTES 46u
#define LOC_BYTES 30u
#define MAX_COMMENT 65535u
#define MAX_CD_BYTES (16u << 20)
#define MAX_MEMBER_BYTES (1u << 30)
#define MAX_SCALAR_BYTES 65536u
#define DEFLATE_MAX_RATIO 1032u /* deflate cannot expand data further */
#define MAX_NAME 64u

typedef struct zip_entry {
    char name[MAX_NAME + 1];
    uint16_t flags, method;
    uint32_t crc;
    uint64_t csize, usize, local_off;
} zip_entry;

typedef struct zip_dir {
    uint64_t cd_off, cd_size, eocd_off;
    unsigned entries;
} zip_dir;

static aether_status find_eocd(rec_source *src, zip_dir *z)
{
    uint64_t size = src->size, start;
    size_t win, i;
    unsigned char *buf;
    aether_status s = AETHER_ERR_ZIP;
    if (size < EOCD_BYTES)
        return AETHER_ERR_ZIP;
    win = size < EOCD_BYTES + MAX_COMMENT ? (size_t)size : EOCD_BYTES + MAX_COMMENT;
    start = size - win;
    buf = (unsigned char *)malloc(win);
    if (!buf)
        return AETHER_ERR_NO_MEM;
    if (aether_rec_src_read_at_(src, start, buf, win) != 0) {
        free(buf);
        return AETHER_ERR_IO;
    }
    for (i = win - EOCD_BYTES + 1; i-- > 0;) {
        const unsigned char *p = buf + i;
        unsigned disk, cd_disk, on_disk, total;
        if (aether_load_le32(p) != SIG_EOCD)
            continue;
        if (i + EOCD_BYTES + aether_load_le16(p + 20) > win)
            continue; /* comment overruns the file: not the real record */
        disk = aether_load_le16(p + 4);
        cd_disk = aether_load_le16(p + 6);
        on_disk = aether_load_le16(p + 8);
        total = aether_load_le16(p + 10);
        z->cd_size = aether_load_le32(p + 12);
        z->cd_off = aether_load_le32(p + 16);
        z->eocd_off = start + i;
        z->entries = total;
        if (total == 0xFFFFu || z->cd_size == 0xFFFFFFFFu || z->cd_off == 0xFFFFFFFFu)
            s = AETHER_ERR_UNSUPPORTED; /* zip64 end record */
        else if (disk != 0 || cd_disk != 0 || on_disk != total)
            s = AETHER_ERR_UNSUPPORTED; /* multi-volume */
        else if (z->cd_off > z->eocd_off || z->cd_size > z->eocd_off - z->cd_off ||
                 z->cd_size > MAX_CD_BYTES)
            s = AETHER_ERR_ZIP;
        else
            s = AETHER_OK;
        break;
    }
    free(buf);
    return s;
}

/* Zip64 extended information (tag 1): only fields whose 32-bit value is
 * 0xFFFFFFFF are present, in the order usize, csize, local offset. */
static aether_status apply_zip64(const unsigned char *ex, size_t len, zip_entry *e)
{
    size_t pos = 0;
    while (pos + 4 <= len) {
        unsigned tag = aether_load_le16(ex + pos);
        size_t sz = aether_load_le16(ex + pos + 2);
        const unsigned char *d = ex + pos + 4;
        size_t used = 0;
        if (sz > len - pos - 4)
            return AETHER_ERR_ZIP;
        if (tag == 1) {
            uint64_t *fields[3];
            size_t k;
            fields[0] = &e->usize;
            fields[1] = &e->csize;
            fields[2] = &e->local_off;
            for (k = 0; k < 3; ++k) {
                if (*fields[k] != 0xFFFFFFFFu)
                    continue;
                if (used + 8 > sz)
                    return AETHER_ERR_ZIP;
                *fields[k] = aether_load_le64(d + used);
                used += 8;
            }
        }
        pos += 4 + sz;
    }
    return AETHER_OK;
}

static aether_status parse_entry(const unsigned char *cd, size_t cd_len, size_t *pos,
                                 zip_entry *e)
{
    const unsigned char *p = cd + *pos;
    size_t n, x, c;
    aether_status s;
    if (cd_len - *pos < CEN_BYTES || aether_load_le32(p) != SIG_CEN)
        return AETHER_ERR_ZIP;
    n = aether_load_le16(p + 28);
    x = aether_load_le16(p + 30);
    c = aether_load_le16(p + 32);
    if (n + x + c > cd_len - *pos - CEN_BYTES)
        return AETHER_ERR_ZIP;
    memset(e, 0, sizeof *e);
    e->flags = aether_load_le16(p + 8);
    e->method = aether_load_le16(p + 10);
    e->crc = aether_load_le32(p + 16);
    e->csize = aether_load_le32(p + 20);
    e->usize = aether_load_le32(p + 24);
    e->local_off = aether_load_le32(p + 42);
    if (n <= MAX_NAME) {
        memcpy(e->name, p + CEN_BYTES, n);
        e->name[n] = '\0';
        if (strlen(e->name) != n)
            e->name[0] = '\0'; /* embedded NUL: matches no member we want */
    }
    s = apply_zip64(p + CEN_BYTES + n, x, e);
    if (s != AETHER_OK)
        return s;
    *pos += CEN_BYTES + n + x + c;
    return AETHER_OK;
}

static aether_status inflate_raw(const unsigned char *in, size_t in_len, unsigned char *out,
                                 size_t out_len)
{
    z_stream z;
    int ret;
    if (in_len > UINT_MAX || out_len > UINT_MAX)
        return AETHER_ERR_UNSUPPORTED;
    memset(&z, 0, sizeof z);
    if (inflateInit2(&z, -MAX_WBITS) != Z_OK)
        return AETHER_ERR_NO_MEM;
    z.next_in = (Bytef *)(uintptr_t)in; /* zlib does not write through next_in */
    z.avail_in = (uInt)in_len;
    z.next_out = out;
    z.avail_out = (uInt)out_len;
    ret = inflate(&z, Z_FINISH);
    inflateEnd(&z);
    if (ret != Z_STREAM_END || z.total_out != out_len)
        return AETHER_ERR_ZIP;
    return AETHER_OK;
}

/* Read, inflate and CRC-check one member into a fresh malloc'd buffer. */
static aether_status load_member(rec_source *src, const zip_dir *z, const zip_entry *e,
                                 size_t limit, unsigned char **out, size_t *out_len)
{
    unsigned char loc[LOC_BYTES];
    unsigned char *cbuf = NULL, *ubuf;
    uint64_t data_off;
    aether_status s = AETHER_OK;
    if (e->flags & 1u)
        return AETHER_ERR_UNSUPPORTED; /* encrypted */
    if (e->method != 0 && e->method != 8)
        return AETHER_ERR_UNSUPPORTED;
    /* Sizes must be plausible for the method before anything is allocated:
     * deflate expands at most ~1032:1 and stored blocks add ~5 bytes in 64 KiB. */
    if (e->usize > limit || e->csize > src->size || (e->method == 0 && e->csize != e->usize) ||
        (e->method == 8 && (e->usize > e->csize * DEFLATE_MAX_RATIO + 1024u ||
                            e->csize > e->usize + e->usize / 64u + 1024u)))
        return AETHER_ERR_ZIP;
    if (e->local_off > z->cd_off || z->cd_off - e->local_off < LOC_BYTES ||
        aether_rec_src_read_at_(src, e->local_off, loc, LOC_BYTES) != 0 ||
        aether_load_le32(loc) != SIG_LOC)
        return AETHER_ERR_ZIP;
    data_off = e->local_off + LOC_BYTES + aether_load_le16(loc + 26) + aether_load_le16(loc + 28);
    if (data_off > z->cd_off || e->csize > z->cd_off - data_off)
        return AETHER_ERR_ZIP;
    ubuf = (unsigned char *)malloc(e->usize ? (size_t)e->usize : 1u);
    if (!ubuf)
        return AETHER_ERR_NO_MEM;
    if (e->method == 0) {
        if (aether_rec_src_read_at_(src, data_off, ubuf, (size_t)e->usize) != 0)
            s = AETHER_ERR_IO;
    } else {
        cbuf = (unsigned char *)malloc(e->csize ? (size_t)e->csize : 1u);
        if (!cbuf)
            s = AETHER_ERR_NO_MEM;
        else if (aether_rec_src_read_at_(src, data_off, cbuf, (size_t)e->csize) != 0)
            s = AETHER_ERR_IO;
        else
            s = inflate_raw(cbuf, (size_t)e->csize, ubuf, (size_t)e->usize);
        free(cbuf);
    }
    if (s == AETHER_OK && aether_crc32(ubuf, (size_t)e->usize) != e->crc)
        s = AETHER_ERR_ZIP;
    if (s != AETHER_OK) {
        free(ubuf);
        return s;
    }
    *out = ubuf;
    *out_len = (size_t)e->usize;
    return AETHER_OK;
}

static void copy_text(char *dst, size_t cap, const char *src)
{
    size_t n = strlen(src);
    if (n >= cap)
        n = cap - 1;
    memcpy(dst, src, n);
    dst[n] = '\0';
}

static void member_error(aether_recording *r, const zip_entry *e, aether_status s,
                         const char *what)
{
    char msg[96];
    size_t n = strlen(e->name);
    if (n > 40)
        n = 40;
    memcpy(msg, e->name, n);
    msg[n] = '\0';
    strcat(msg, ": ");
    strncat(msg, what, sizeof msg - strlen(msg) - 1);
    aether_rec_error_(r, 0, e->local_off, s, msg);
}

/* A scalar member: a damaged one is reported and left absent. */
static void load_scalar(aether_recording *r, const zip_dir *z, const zip_entry *e)
{
    unsigned char *buf = NULL;
    size_t len = 0;
    npy_scalar v;
    aether_npz_info *in = &r->info;
    aether_status s = load_member(&r->src, z, e, MAX_SCALAR_BYTES, &buf, &len);
    if (s == AETHER_OK)
        s = aether_rec_npy_scalar_(buf, len, &v);
    free(buf);
    if (s != AETHER_OK) {
        member_error(r, e, s, aether_strerror(s));
        return;
    }
    if (!strcmp(e->name, "label.npy") || !strcmp(e->name, "chip.npy") ||
        !strcmp(e->name, "collected_at.npy") || !strcmp(e->name, "format_version.npy")) {
        if (v.kind != NPY_SCALAR_STRING) {
            member_error(r, e, AETHER_ERR_NPY_DTYPE, "expected a unicode string");
            return;
        }
        if (e->name[0] == 'l')
            copy_text(in->label, sizeof in->label, v.text);
        else if (e->name[1] == 'h')
            copy_text(in->chip, sizeof in->chip, v.text);
        else if (e->name[0] == 'c')
            copy_text(in->collected_at, sizeof in->collected_at, v.text);
        else
            copy_text(in->format_version, sizeof in->format_version, v.text);
    } else if (!strcmp(e->name, "num_subcarriers.npy")) {
        if (v.kind != NPY_SCALAR_INT)
            member_error(r, e, AETHER_ERR_NPY_DTYPE, "expected an integer");
        else
            in->num_subcarriers = v.i;
    } else if (!strcmp(e->name, "duration_ms.npy")) {
        if (v.kind == NPY_SCALAR_STRING || !isfinite(v.d) || v.d < 0.0)
            member_error(r, e, AETHER_ERR_NPY_DTYPE, "expected a finite non-negative number");
        else
            in->duration_ms = v.d;
    } else if (!strcmp(e->name, "gain_locked.npy")) {
        if (v.kind == NPY_SCALAR_STRING)
            member_error(r, e, AETHER_ERR_NPY_DTYPE, "expected a boolean");
        else
            in->gain_locked = v.d != 0.0;
    }
}

static int is_scalar_member(const char *name)
{
    static const char *const k[] = {"label.npy",         "chip.npy",        "num_subcarriers.npy",
                                    "collected_at.npy",  "duration_ms.npy", "gain_locked.npy",
                                    "format_version.npy"};
    size_t i;
    for (i = 0; i < sizeof k / sizeof k[0]; ++i)
        if (!strcmp(name, k[i]))
            return 1;
    return 0;
}

static aether_status load_csi(aether_recording *r, const zip_dir *z, const zip_entry *e)
{
    unsigned char *buf = NULL;
    size_t len = 0;
    aether_npy a;
    aether_status s = load_member(&r->src, z, e, MAX_MEMBER_BYTES, &buf, &len);
    if (s != AETHER_OK)
        return s;
    memset(&a, 0, sizeof a);
    s = aether_npy_parse(buf, len, &a);
    free(buf);
    if (s != AETHER_OK)
        return s;
    if (a.dtype != AETHER_DTYPE_I8 || a.ndim != 2 || a.shape[1] < 2 || a.shape[1] % 2 != 0 ||
        a.shape[1] > 2u * AETHER_CSI_MAX_PAIRS) {
        aether_npy_free(&a);
        return AETHER_ERR_FORMAT;
    }
    r->csi = a;
    r->info.rows = a.shape[0];
    r->info.row_bytes = a.shape[1];
    return AETHER_OK;
}

aether_status aether_rec_npz_open_(aether_recording *r)
{
    zip_dir z;
    unsigned char *cd;
    size_t pos = 0;
    unsigned i;
    int have_csi = 0;
    aether_status s = find_eocd(&r->src, &z);
    if (s != AETHER_OK)
        return s;
    r->info.gain_locked = -1;
    cd = (unsigned char *)malloc(z.cd_size ? (size_t)z.cd_size : 1u);
    if (!cd)
        return AETHER_ERR_NO_MEM;
    if (aether_rec_src_read_at_(&r->src, z.cd_off, cd, (size_t)z.cd_size) != 0) {
        free(cd);
        return AETHER_ERR_IO;
    }
    for (i = 0; i < z.entries; ++i) {
        zip_entry e;
        s = parse_entry(cd, (size_t)z.cd_size, &pos, &e);
        if (s != AETHER_OK)
            break;
        if (!strcmp(e.name, "csi_data.npy") && !have_csi) {
            s = load_csi(r, &z, &e);
            if (s != AETHER_OK)
                break;
            have_csi = 1;
        } else if (is_scalar_member(e.name)) {
            load_scalar(r, &z, &e);
        }
    }
    free(cd);
    if (s == AETHER_OK && !have_csi)
        s = AETHER_ERR_FORMAT;
    if (s != AETHER_OK) {
        aether_npy_free(&r->csi);
        return s;
    }
    r->row_dt = (r->info.duration_ms > 0.0 && r->info.rows > 0)
                    ? r->info.duration_ms / 1000.0 / (double)r->info.rows
                    : 0.01;
    return AETHER_OK;
}

aether_status aether_rec_npz_next_(aether_recording *r, aether_csi_frame *f)
{
    size_t rb = r->info.row_bytes;
    if (r->row >= r->info.rows)
        return AETHER_ERR_END;
    memset(f, 0, sizeof *f);
    f->kind = AETHER_CSI_RAW_IQ;
    f->n_pairs = rb / 2u;
    f->iq = (const int8_t *)r->csi.data + r->row * rb;
    f->timestamp = (double)r->row * r->row_dt;
    f->flags = AETHER_CSI_TIME_SYNTH;
    f->record = (uint64_t)r->row + 1u;
    r->row++;
    r->stats.records++;
    return AETHER_OK;
}
