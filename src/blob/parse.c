/* RVNE blob: header access and the format-level parse (docs/FORMATS.md section 1.1). */
#include "aether/blob.h"

int aether_blob_is_f16(const aether_blob_header *h)
{
    return h && (h->flags & AETHER_BLOB_FLAG_F16) ? 1 : 0;
}

size_t aether_blob_elem_size(const aether_blob_header *h)
{
    return aether_blob_is_f16(h) ? 2u : 4u;
}

aether_status aether_blob_peek_header(const void *buf, size_t len, aether_blob_header *out)
{
    const unsigned char *p = (const unsigned char *)buf;
    if (!buf || !out)
        return AETHER_ERR_NULL_ARG;
    if (len < AETHER_BLOB_HEADER_LEN)
        return AETHER_ERR_BLOB_TOO_SHORT;
    out->version = aether_load_le16(p + 4);
    out->flags = p[6];
    out->reserved = p[7];
    out->input_dim = aether_load_le16(p + 8);
    out->n_q_heads = aether_load_le16(p + 10);
    out->n_kv_heads = aether_load_le16(p + 12);
    out->head_dim = aether_load_le16(p + 14);
    out->n_layers = aether_load_le16(p + 16);
    out->n_classes = aether_load_le16(p + 18);
    out->weights_len = aether_load_le32(p + 20);
    return AETHER_OK;
}

aether_status aether_blob_check_header(const aether_blob_header *h)
{
    if (!h)
        return AETHER_ERR_NULL_ARG;
    if (h->input_dim == 0 || h->n_q_heads == 0 || h->n_kv_heads == 0 || h->head_dim == 0)
        return AETHER_ERR_BLOB_ZERO_DIM;
    if (h->n_q_heads % h->n_kv_heads != 0)
        return AETHER_ERR_BLOB_GQA;
    if (h->n_layers == 0 || h->n_classes < 2)
        return AETHER_ERR_BLOB_DEGENERATE;
    return AETHER_OK;
}

aether_status aether_blob_parse(const void *buf, size_t len, aether_blob_view *out)
{
    const unsigned char *p = (const unsigned char *)buf;
    aether_blob_header h;
    uint32_t stored, computed;
    size_t body;
    aether_status st;

    if (!buf || !out)
        return AETHER_ERR_NULL_ARG;
    if (len < AETHER_BLOB_OVERHEAD)
        return AETHER_ERR_BLOB_TOO_SHORT;
    if (aether_load_le32(p) != AETHER_BLOB_MAGIC)
        return AETHER_ERR_BLOB_MAGIC;
    if (aether_load_le16(p + 4) != AETHER_BLOB_VERSION)
        return AETHER_ERR_BLOB_VERSION;
    aether_blob_peek_header(buf, len, &h);
    /* len - 28 cannot wrap (len >= 28) and weights_len is compared in 64 bits,
     * so a 32-bit size_t never sees 28 + 0xFFFFFFFF. */
    if ((uint64_t)(len - AETHER_BLOB_OVERHEAD) != (uint64_t)h.weights_len)
        return AETHER_ERR_BLOB_LENGTH;
    body = len - 4u;
    stored = aether_load_le32(p + body);
    computed = aether_crc32(p, body);
    if (stored != computed)
        return AETHER_ERR_BLOB_CRC;
    st = aether_blob_check_header(&h);
    if (st != AETHER_OK)
        return st;
    out->header = h;
    out->weights = h.weights_len ? p + AETHER_BLOB_HEADER_LEN : NULL;
    out->crc = stored;
    return AETHER_OK;
}

const char *aether_blob_reference_message(aether_status status)
{
    switch (status) {
    case AETHER_ERR_BLOB_TOO_SHORT:
        return "blob too short";
    case AETHER_ERR_BLOB_MAGIC:
        return "bad magic";
    case AETHER_ERR_BLOB_VERSION:
        return "unsupported blob version";
    case AETHER_ERR_BLOB_LENGTH:
        return "blob length doesn't match weights_len in header";
    case AETHER_ERR_BLOB_CRC:
        return "blob CRC mismatch";
    case AETHER_ERR_BLOB_ZERO_DIM:
        return "header: zero-valued dimension(s)";
    case AETHER_ERR_BLOB_GQA:
        return "header: n_q_heads must be divisible by n_kv_heads (GQA)";
    case AETHER_ERR_BLOB_DEGENERATE:
        return "header: n_layers must be \xE2\x89\xA5 1 and n_classes \xE2\x89\xA5 2";
    default:
        return aether_strerror(status);
    }
}
