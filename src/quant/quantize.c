/* RVNE (f32 / f16) -> RVNQ (docs/FORMATS.md section 9.3). Host-side: this
 * file uses double arithmetic (exact scalings and one IEEE division per
 * weight), never the integer path's code. */
#include <math.h>
#include <string.h>

#include "quant/quant_internal.h"

aether_status aether_qblob_quantize_size(const aether_blob_view *f, size_t *bytes)
{
    aether_blob_layout fl;
    aether_qblob_layout ql;
    aether_blob_header h;
    aether_status st;
    size_t total;
    if (!f || !bytes)
        return AETHER_ERR_NULL_ARG;
    if ((st = aether_blob_validate_model(f, &fl)) != AETHER_OK)
        return st;
    h = f->header;
    h.flags &= (uint8_t)AETHER_QBLOB_KNOWN_FLAGS;
    if ((st = aether_qblob_layout_of(&h, &ql)) != AETHER_OK)
        return st;
    total = ql.arrays_bytes;
    if (aether_size_add(total, fl.meta_bytes, &total) != AETHER_OK)
        return AETHER_ERR_OVERFLOW;
    if (total > 0xFFFFFFFFu)
        return AETHER_ERR_BLOB_LAYOUT;
    if (aether_size_add(total, AETHER_BLOB_OVERHEAD, bytes) != AETHER_OK)
        return AETHER_ERR_OVERFLOW;
    return AETHER_OK;
}

/* round half away from zero */
static double round_away(double x)
{
    return x < 0 ? -floor(-x + 0.5) : floor(x + 0.5);
}

/* s >= 0 as m * 2^-sh; 0 when s is 0 or below 2^-33 (*zero then 1);
 * QBLOB_SCALE when s >= 2^15. */
static aether_status to_scale(double s, unsigned char *rec, int *zero)
{
    int e;
    double f, m;
    memset(rec, 0, AETHER_QBLOB_SCALE_BYTES);
    *zero = 1;
    if (!(s > 0))
        return AETHER_OK;
    f = frexp(s, &e); /* s = f * 2^e, f in [0.5, 1) */
    m = floor(ldexp(f, 15) + 0.5);
    if (m >= 32768.0) {
        m = 16384.0;
        ++e;
    }
    if (15 - e < 0)
        return AETHER_ERR_QBLOB_SCALE;
    if (15 - e > (int)AETHER_QBLOB_SCALE_SH_MAX)
        return AETHER_OK;
    aether_store_le16(rec, (uint16_t)m);
    rec[2] = (unsigned char)(15 - e);
    *zero = 0;
    return AETHER_OK;
}

static double scale_value(const unsigned char *rec)
{
    return ldexp((double)aq_scale_m(rec), -(int)rec[2]);
}

/* Matrix W [rows x cols] at element `first` of f, row-major, into the record
 * at out. */
static aether_status put_mat(const aether_blob_view *f, size_t first, size_t rows, size_t cols,
                             unsigned char *out)
{
    unsigned char *w = out + cols * AETHER_QBLOB_SCALE_BYTES;
    size_t r, c;
    aether_status st;
    for (c = 0; c < cols; ++c) {
        unsigned char *rec = out + c * AETHER_QBLOB_SCALE_BYTES;
        double amax = 0, sc;
        int zero;
        for (r = 0; r < rows; ++r) {
            double a = fabs((double)aether_blob_weight(f, first + r * cols + c));
            if (a > amax)
                amax = a;
        }
        if ((st = to_scale(amax / 127.0, rec, &zero)) != AETHER_OK)
            return st;
        sc = zero ? 0 : scale_value(rec);
        for (r = 0; r < rows; ++r) {
            double q = zero ? 0 : round_away((double)aether_blob_weight(f, first + r * cols + c) / sc);
            if (q > 127)
                q = 127;
            if (q < -127)
                q = -127;
            w[c * rows + r] = (unsigned char)(int8_t)q;
        }
    }
    for (r = rows * cols; r % 4; ++r)
        w[r] = 0;
    return AETHER_OK;
}

aether_status aether_qblob_quantize(const aether_blob_view *f, void *out, size_t cap,
                                    size_t *written)
{
    aether_blob_layout fl;
    aether_qblob_layout ql;
    aether_blob_header h;
    unsigned char *o = (unsigned char *)out, *p;
    size_t need, l, i, I;
    aether_status st;

    if (!f || !out)
        return AETHER_ERR_NULL_ARG;
    if ((st = aether_qblob_quantize_size(f, &need)) != AETHER_OK)
        return st;
    if (cap < need)
        return AETHER_ERR_BUFFER_TOO_SMALL;
    (void)aether_blob_validate_model(f, &fl);
    h = f->header;
    h.flags &= (uint8_t)AETHER_QBLOB_KNOWN_FLAGS;
    h.reserved = 0;
    h.version = AETHER_QBLOB_VERSION;
    (void)aether_qblob_layout_of(&h, &ql);
    h.weights_len = (uint32_t)(need - AETHER_BLOB_OVERHEAD);
    I = h.input_dim;
    p = o + AETHER_BLOB_HEADER_LEN;
    for (l = 0; l < h.n_layers; ++l) {
        unsigned char *b = p + l * ql.layer_bytes;
        size_t base = l * fl.layer_elems;
        if ((st = put_mat(f, base + fl.wq, I, ql.q_width, b + ql.wq)) != AETHER_OK ||
            (st = put_mat(f, base + fl.wk, I, ql.kv_width, b + ql.wk)) != AETHER_OK ||
            (st = put_mat(f, base + fl.wv, I, ql.kv_width, b + ql.wv)) != AETHER_OK ||
            (st = put_mat(f, base + fl.wo, ql.q_width, I, b + ql.wo)) != AETHER_OK)
            return st;
    }
    if ((st = put_mat(f, fl.classifier, I, h.n_classes, p + ql.classifier)) != AETHER_OK)
        return st;
    if (h.flags & AETHER_BLOB_FLAG_INPUT_NORM) {
        for (i = 0; i < I; ++i) {
            double mean = round_away(ldexp((double)aether_blob_weight(f, fl.norm_mean + i), 16));
            double inv = (double)aether_blob_weight(f, fl.norm_inv_std + i);
            int zero;
            if (!(fabs(mean) <= 2147483647.0) || inv < 0)
                return AETHER_ERR_QBLOB_SCALE;
            aether_store_le32(p + ql.norm_mean + 4 * i, (uint32_t)(int32_t)mean);
            if ((st = to_scale(inv, p + ql.norm_inv_std + 4 * i, &zero)) != AETHER_OK)
                return st;
        }
    }
    if (fl.meta_bytes)
        memcpy(p + ql.arrays_bytes, f->weights + (fl.total_bytes - fl.meta_bytes), fl.meta_bytes);
    aether_store_le32(o, AETHER_QBLOB_MAGIC);
    aether_store_le16(o + 4, (uint16_t)AETHER_QBLOB_VERSION);
    o[6] = h.flags;
    o[7] = 0;
    aether_store_le16(o + 8, h.input_dim);
    aether_store_le16(o + 10, h.n_q_heads);
    aether_store_le16(o + 12, h.n_kv_heads);
    aether_store_le16(o + 14, h.head_dim);
    aether_store_le16(o + 16, h.n_layers);
    aether_store_le16(o + 18, h.n_classes);
    aether_store_le32(o + 20, h.weights_len);
    aether_store_le32(o + need - 4, aether_crc32(o, need - 4));
    if (written)
        *written = need;
    return AETHER_OK;
}
