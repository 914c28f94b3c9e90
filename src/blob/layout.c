/* RVNE blob: the model-level payload layout (docs/FORMATS.md sections 2.1-2.4)
 * and model-level validation (docs/FORMATS.md section 2.5). */
#include "blob_internal.h"

static aether_status mul_add(size_t a, size_t b, size_t *acc)
{
    size_t prod;
    if (aether_size_mul(a, b, &prod) != AETHER_OK)
        return AETHER_ERR_OVERFLOW;
    return aether_size_add(*acc, prod, acc);
}

aether_status aether_blob_layout_of(const aether_blob_header *h, aether_blob_layout *out)
{
    aether_blob_layout l;
    size_t in, per = 0, all = 0;

    if (!h || !out)
        return AETHER_ERR_NULL_ARG;
    in = h->input_dim;
    l.elem_size = aether_blob_elem_size(h);
    l.q_width = (size_t)h->n_q_heads * h->head_dim; /* u16*u16 fits 32 bits */
    l.kv_width = (size_t)h->n_kv_heads * h->head_dim;
    l.wq = 0;
    if (mul_add(in, l.q_width, &per) != AETHER_OK)
        return AETHER_ERR_OVERFLOW;
    l.wk = per;
    if (mul_add(in, l.kv_width, &per) != AETHER_OK)
        return AETHER_ERR_OVERFLOW;
    l.wv = per;
    if (mul_add(in, l.kv_width, &per) != AETHER_OK)
        return AETHER_ERR_OVERFLOW;
    l.wo = per;
    if (mul_add(l.q_width, in, &per) != AETHER_OK)
        return AETHER_ERR_OVERFLOW;
    l.layer_elems = per;
    if (mul_add(h->n_layers, per, &all) != AETHER_OK)
        return AETHER_ERR_OVERFLOW;
    l.classifier = all;
    if (mul_add(in, h->n_classes, &all) != AETHER_OK)
        return AETHER_ERR_OVERFLOW;
    l.v1_elems = all;
    l.norm_mean = 0;
    l.norm_inv_std = 0;
    if (h->flags & AETHER_BLOB_FLAG_INPUT_NORM) {
        l.norm_mean = all;
        l.norm_inv_std = all + in; /* cannot overflow: in < 2^16, checked below */
        if (mul_add(2, in, &all) != AETHER_OK)
            return AETHER_ERR_OVERFLOW;
    }
    l.total_elems = all;
    l.meta_bytes = 0;
    if (aether_size_mul(all, l.elem_size, &l.total_bytes) != AETHER_OK)
        return AETHER_ERR_OVERFLOW;
    *out = l;
    return AETHER_OK;
}

aether_status aether_blob_param_count(const aether_blob_header *h, size_t *count)
{
    aether_blob_layout l;
    aether_status st;
    if (!count)
        return AETHER_ERR_NULL_ARG;
    st = aether_blob_layout_of(h, &l);
    if (st == AETHER_OK)
        *count = l.total_elems;
    return st;
}

float aether_blob_weight(const aether_blob_view *v, size_t index)
{
    size_t es, n;
    if (!v || !v->weights)
        return aether_f32_from_bits(0x7FC00000u);
    es = aether_blob_elem_size(&v->header);
    n = v->header.weights_len / es;
    if (index >= n)
        return aether_f32_from_bits(0x7FC00000u);
    if (es == 2)
        return aether_f16_to_f32(aether_load_le16(v->weights + index * 2));
    return aether_load_lef32(v->weights + index * 4);
}

aether_status aether_blob_read_f32(const aether_blob_view *v, size_t first, size_t n, float *dst)
{
    size_t es, count, i;
    const unsigned char *p;
    if (!v || (!dst && n > 0))
        return AETHER_ERR_NULL_ARG;
    es = aether_blob_elem_size(&v->header);
    count = v->header.weights_len / es;
    if (first > count || n > count - first)
        return AETHER_ERR_INVALID_ARG;
    if (n == 0)
        return AETHER_OK;
    p = v->weights + first * es;
    if (es == 2) {
        for (i = 0; i < n; ++i)
            dst[i] = aether_f16_to_f32(aether_load_le16(p + i * 2));
    } else {
        for (i = 0; i < n; ++i)
            dst[i] = aether_load_lef32(p + i * 4);
    }
    return AETHER_OK;
}

aether_status aether_blob_validate_model(const aether_blob_view *v, aether_blob_layout *layout)
{
    aether_blob_layout l;
    size_t es, i;

    aether_status st;

    if (!v)
        return AETHER_ERR_NULL_ARG;
    /* A view not produced by the parser still gets the header semantics. */
    st = aether_blob_check_header(&v->header);
    if (st != AETHER_OK)
        return st;
    es = aether_blob_elem_size(&v->header);
    if (v->header.weights_len % es != 0)
        return AETHER_ERR_BLOB_ELEM_SIZE;
    if (v->header.flags & (uint8_t)~AETHER_BLOB_KNOWN_FLAGS)
        return AETHER_ERR_BLOB_EXTENSION;
    /* A layout too large for size_t cannot match a u32 payload length. */
    if (aether_blob_layout_of(&v->header, &l) != AETHER_OK)
        return AETHER_ERR_BLOB_LAYOUT;
    if (v->header.flags & AETHER_BLOB_FLAG_METADATA) {
        size_t text_len;
        if (!v->weights)
            return AETHER_ERR_BLOB_LAYOUT; /* no room for the record's trailer */
        st = aether_blob_meta_locate_(v->weights, v->header.weights_len, l.total_bytes, &text_len,
                                      &l.meta_bytes);
        if (st != AETHER_OK)
            return st;
        l.total_bytes += l.meta_bytes; /* the record fits the u32 payload */
    }
    if ((uint64_t)l.total_bytes != (uint64_t)v->header.weights_len)
        return AETHER_ERR_BLOB_LAYOUT;
    if (l.total_elems > 0 && !v->weights)
        return AETHER_ERR_NULL_ARG;
    /* Finiteness is a property of the stored bits: an f16 element is
     * non-finite iff its exponent is all ones, likewise for f32. */
    if (es == 2) {
        for (i = 0; i < l.total_elems; ++i)
            if ((aether_load_le16(v->weights + i * 2) & 0x7C00u) == 0x7C00u)
                return AETHER_ERR_BLOB_NONFINITE;
    } else {
        for (i = 0; i < l.total_elems; ++i)
            if ((aether_load_le32(v->weights + i * 4) & 0x7F800000u) == 0x7F800000u)
                return AETHER_ERR_BLOB_NONFINITE;
    }
    if (layout)
        *layout = l;
    return AETHER_OK;
}
