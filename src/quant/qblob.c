/* The RVNQ quantized blob: layout, strict parse, metadata
 * (docs/FORMATS.md section 9). */
#include <string.h>

#include "blob/blob_internal.h"
#include "quant/quant_internal.h"

int aether_qblob_is(const void *buf, size_t len)
{
    return buf && len >= 4 && aether_load_le32((const unsigned char *)buf) == AETHER_QBLOB_MAGIC;
}

aether_status aether_qblob_matrix_bytes(size_t rows, size_t cols, size_t *bytes)
{
    size_t w, s;
    if (!bytes)
        return AETHER_ERR_NULL_ARG;
    if (aether_size_mul(rows, cols, &w) != AETHER_OK || aether_size_add(w, 3, &w) != AETHER_OK ||
        aether_size_mul(cols, AETHER_QBLOB_SCALE_BYTES, &s) != AETHER_OK ||
        aether_size_add(s, w & ~(size_t)3, bytes) != AETHER_OK)
        return AETHER_ERR_OVERFLOW;
    return AETHER_OK;
}

static aether_status add_mat(size_t rows, size_t cols, size_t *at)
{
    size_t b;
    if (aether_qblob_matrix_bytes(rows, cols, &b) != AETHER_OK ||
        aether_size_add(*at, b, at) != AETHER_OK)
        return AETHER_ERR_OVERFLOW;
    return AETHER_OK;
}

aether_status aether_qblob_layout_of(const aether_blob_header *h, aether_qblob_layout *out)
{
    aether_qblob_layout l;
    size_t I, at = 0, n;
    aether_status st;
    if (!h || !out)
        return AETHER_ERR_NULL_ARG;
    if ((st = aether_blob_check_header(h)) != AETHER_OK)
        return st;
    memset(&l, 0, sizeof l);
    I = h->input_dim;
    l.q_width = (size_t)h->n_q_heads * h->head_dim;
    l.kv_width = (size_t)h->n_kv_heads * h->head_dim;
    if (I > AETHER_QBLOB_MAX_WIDTH || l.q_width > AETHER_QBLOB_MAX_WIDTH ||
        l.kv_width > AETHER_QBLOB_MAX_WIDTH || h->n_classes > AETHER_QBLOB_MAX_WIDTH ||
        h->head_dim > AETHER_QBLOB_MAX_HEAD_DIM)
        return AETHER_ERR_QBLOB_SHAPE;
    l.wq = at;
    if ((st = add_mat(I, l.q_width, &at)) != AETHER_OK)
        return st;
    l.wk = at;
    if ((st = add_mat(I, l.kv_width, &at)) != AETHER_OK)
        return st;
    l.wv = at;
    if ((st = add_mat(I, l.kv_width, &at)) != AETHER_OK)
        return st;
    l.wo = at;
    if ((st = add_mat(l.q_width, I, &at)) != AETHER_OK)
        return st;
    l.layer_bytes = at;
    if (aether_size_mul(at, h->n_layers, &at) != AETHER_OK)
        return AETHER_ERR_OVERFLOW;
    l.classifier = at;
    if ((st = add_mat(I, h->n_classes, &at)) != AETHER_OK)
        return st;
    if (h->flags & AETHER_BLOB_FLAG_INPUT_NORM) {
        l.norm_mean = at;
        l.norm_inv_std = at + 4 * I; /* I <= 512: no overflow */
        if (aether_size_mul(I, 8, &n) != AETHER_OK || aether_size_add(at, n, &at) != AETHER_OK)
            return AETHER_ERR_OVERFLOW;
    }
    l.arrays_bytes = at;
    l.total_bytes = at;
    *out = l;
    return AETHER_OK;
}

/* One scale record: QBLOB_SCALE, QBLOB_ZERO_POINT; *zero = scale 0. */
static aether_status check_scale(const unsigned char *p, int *zero)
{
    uint32_t m = aq_scale_m(p);
    *zero = 0;
    if (m == 0 && p[2] == 0)
        *zero = 1;
    else if (m < AETHER_QBLOB_SCALE_M_MIN || m > AETHER_QBLOB_SCALE_M_MAX ||
             p[2] > AETHER_QBLOB_SCALE_SH_MAX)
        return AETHER_ERR_QBLOB_SCALE;
    if (p[3] != 0)
        return AETHER_ERR_QBLOB_ZERO_POINT;
    return AETHER_OK;
}

static aether_status check_mat(const unsigned char *p, size_t rows, size_t cols)
{
    const unsigned char *w = p + cols * AETHER_QBLOB_SCALE_BYTES;
    size_t c, r, n = rows * cols, padded = (n + 3) & ~(size_t)3;
    aether_status st;
    for (c = 0; c < cols; ++c) {
        int zero;
        if ((st = check_scale(p + c * AETHER_QBLOB_SCALE_BYTES, &zero)) != AETHER_OK)
            return st;
        for (r = 0; r < rows; ++r) {
            unsigned char b = w[c * rows + r];
            if (b == 0x80u || (zero && b != 0))
                return AETHER_ERR_QBLOB_RANGE;
        }
    }
    for (r = n; r < padded; ++r)
        if (w[r] != 0)
            return AETHER_ERR_QBLOB_RANGE;
    return AETHER_OK;
}

static aether_status check_records(const aether_blob_header *h, const aether_qblob_layout *l,
                                   const unsigned char *p)
{
    size_t layer, i, I = h->input_dim;
    aether_status st;
    for (layer = 0; layer < h->n_layers; ++layer) {
        const unsigned char *b = p + layer * l->layer_bytes;
        if ((st = check_mat(b + l->wq, I, l->q_width)) != AETHER_OK ||
            (st = check_mat(b + l->wk, I, l->kv_width)) != AETHER_OK ||
            (st = check_mat(b + l->wv, I, l->kv_width)) != AETHER_OK ||
            (st = check_mat(b + l->wo, l->q_width, I)) != AETHER_OK)
            return st;
    }
    if ((st = check_mat(p + l->classifier, I, h->n_classes)) != AETHER_OK)
        return st;
    if (h->flags & AETHER_BLOB_FLAG_INPUT_NORM) {
        for (i = 0; i < I; ++i) {
            uint32_t mean = aether_load_le32(p + l->norm_mean + 4 * i);
            /* |mean| < 32768 in Q16: within (-2^31, 2^31). */
            if (mean == 0x80000000u)
                return AETHER_ERR_QBLOB_SCALE;
        }
        for (i = 0; i < I; ++i) {
            int zero;
            if ((st = check_scale(p + l->norm_inv_std + 4 * i, &zero)) != AETHER_OK)
                return st;
        }
    }
    return AETHER_OK;
}

aether_status aether_qblob_parse(const void *buf, size_t len, aether_qblob_view *out)
{
    const unsigned char *p = (const unsigned char *)buf, *payload;
    aether_blob_header h;
    aether_qblob_layout l;
    aether_status st;
    size_t body, text_len = 0, record = 0;

    if (!buf || !out)
        return AETHER_ERR_NULL_ARG;
    if (len < AETHER_BLOB_OVERHEAD)
        return AETHER_ERR_BLOB_TOO_SHORT;
    if (aether_load_le32(p) != AETHER_QBLOB_MAGIC)
        return AETHER_ERR_BLOB_MAGIC;
    if (aether_load_le16(p + 4) != AETHER_QBLOB_VERSION)
        return AETHER_ERR_BLOB_VERSION;
    (void)aether_blob_peek_header(buf, len, &h);
    if ((uint64_t)(len - AETHER_BLOB_OVERHEAD) != (uint64_t)h.weights_len)
        return AETHER_ERR_BLOB_LENGTH;
    body = len - 4u;
    if (aether_load_le32(p + body) != aether_crc32(p, body))
        return AETHER_ERR_BLOB_CRC;
    if ((st = aether_blob_check_header(&h)) != AETHER_OK)
        return st;
    if ((h.flags & ~AETHER_QBLOB_KNOWN_FLAGS) || h.reserved != 0)
        return AETHER_ERR_BLOB_EXTENSION;
    if ((st = aether_qblob_layout_of(&h, &l)) != AETHER_OK)
        return st == AETHER_ERR_OVERFLOW ? AETHER_ERR_BLOB_LAYOUT : st;
    payload = p + AETHER_BLOB_HEADER_LEN;
    if (h.flags & AETHER_BLOB_FLAG_METADATA) {
        st = aether_blob_meta_locate_(payload, h.weights_len, l.arrays_bytes, &text_len, &record);
        if (st != AETHER_OK)
            return st;
    } else if (h.weights_len != l.arrays_bytes) {
        return AETHER_ERR_BLOB_LAYOUT;
    }
    if ((st = check_records(&h, &l, payload)) != AETHER_OK)
        return st;
    out->header = h;
    out->payload = payload;
    out->crc = aether_load_le32(p + body);
    return AETHER_OK;
}

aether_status aether_qblob_metadata_get(const aether_qblob_view *v, aether_blob_metadata *out)
{
    aether_qblob_layout l;
    aether_blob_metadata m;
    aether_status st;
    if (!v || !out || !v->payload)
        return AETHER_ERR_NULL_ARG;
    if ((st = aether_qblob_layout_of(&v->header, &l)) != AETHER_OK)
        return st;
    memset(&m, 0, sizeof m);
    if (v->header.flags & AETHER_BLOB_FLAG_METADATA) {
        size_t record;
        st = aether_blob_meta_locate_(v->payload, v->header.weights_len, l.arrays_bytes,
                                      &m.text_len, &record);
        if (st != AETHER_OK)
            return st;
        m.present = 1;
        m.text = m.text_len ? (const char *)v->payload + l.arrays_bytes : NULL;
        (void)aether_blob_metadata_check_text(m.text, m.text_len, &m.n_entries);
    }
    *out = m;
    return AETHER_OK;
}

aether_status aether_qblob_model_meta_read(const aether_qblob_view *v, aether_blob_model_meta *out)
{
    aether_blob_metadata m;
    aether_status st;
    if (!v || !out)
        return AETHER_ERR_NULL_ARG;
    memset(out, 0, sizeof *out);
    if ((st = aether_qblob_metadata_get(v, &m)) != AETHER_OK)
        return st;
    return aether_blob_model_meta_parse_(&m, v->header.n_classes, v->header.input_dim, out);
}
