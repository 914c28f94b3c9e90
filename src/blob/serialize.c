/* RVNE blob serialisation: the inverse of aether_blob_parse, byte for byte. */
#include "aether/blob.h"

#include <string.h>

aether_status aether_blob_serialized_size(const aether_blob_header *h, size_t *bytes)
{
    if (!h || !bytes)
        return AETHER_ERR_NULL_ARG;
    /* weights_len is a u32: on a 32-bit size_t 28 + weights_len can wrap. */
    return aether_size_add((size_t)h->weights_len, AETHER_BLOB_OVERHEAD, bytes);
}

aether_status aether_blob_serialize(const aether_blob_header *h, const void *weights, void *out,
                                    size_t cap, size_t *written)
{
    unsigned char *p = (unsigned char *)out;
    size_t total, body;
    aether_status st;

    if (!h || !out)
        return AETHER_ERR_NULL_ARG;
    if (!weights && h->weights_len > 0)
        return AETHER_ERR_NULL_ARG;
    st = aether_blob_check_header(h);
    if (st != AETHER_OK)
        return st;
    if (h->weights_len % aether_blob_elem_size(h) != 0)
        return AETHER_ERR_BLOB_ELEM_SIZE;
    st = aether_blob_serialized_size(h, &total);
    if (st != AETHER_OK)
        return st;
    if (cap < total)
        return AETHER_ERR_BUFFER_TOO_SMALL;

    aether_store_le32(p, AETHER_BLOB_MAGIC);
    aether_store_le16(p + 4, (uint16_t)AETHER_BLOB_VERSION);
    p[6] = h->flags;
    p[7] = 0;
    aether_store_le16(p + 8, h->input_dim);
    aether_store_le16(p + 10, h->n_q_heads);
    aether_store_le16(p + 12, h->n_kv_heads);
    aether_store_le16(p + 14, h->head_dim);
    aether_store_le16(p + 16, h->n_layers);
    aether_store_le16(p + 18, h->n_classes);
    aether_store_le32(p + 20, h->weights_len);
    body = total - 4u;
    /* memmove: the caller may serialise a view whose payload already sits at
     * out + 24 (in-place rewrite of a header). */
    if (h->weights_len)
        memmove(p + AETHER_BLOB_HEADER_LEN, weights, h->weights_len);
    aether_store_le32(p + body, aether_crc32(p, body));
    if (written)
        *written = total;
    return AETHER_OK;
}
