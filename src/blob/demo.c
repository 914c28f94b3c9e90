/* The deterministic demo blob of docs/FORMATS.md section 2.2 (the original's
 * init_random_blob example): a reproducible fixture, not a trained model. */
#include "aether/blob.h"

aether_blob_demo_params aether_blob_demo_default(void)
{
    aether_blob_demo_params p;
    p.seed = AETHER_BLOB_DEMO_SEED;
    p.f16 = 0;
    p.input_norm = 0;
    p.input_dim = 16;
    p.n_q_heads = 4;
    p.n_kv_heads = 1;
    p.head_dim = 32;
    p.n_layers = 2;
    p.n_classes = 4;
    return p;
}

static float next_value(uint64_t *state)
{
    uint64_t s = *state;
    uint64_t o;
    float unit;
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    *state = s;
    o = s * 2685821657736338717ull;
    /* The u32 -> float conversion rounds, so unit can reach 1.0 exactly. */
    unit = (float)(uint32_t)(o >> 32) / 4294967296.0f;
    return (unit - 0.5f) * 0.2f;
}

void aether_blob_demo_values(uint64_t *state, float *dst, size_t n)
{
    size_t i;
    if (!state || !dst)
        return;
    for (i = 0; i < n; ++i)
        dst[i] = next_value(state);
}

/* Through a u64 parameter so a 32-bit size_t does not make the test a
 * constant comparison. */
static int exceeds_u32(uint64_t v)
{
    return v > 0xFFFFFFFFull;
}

static aether_status demo_header(const aether_blob_demo_params *p, aether_blob_header *h,
                                 aether_blob_layout *l)
{
    aether_status st;
    if (!p)
        return AETHER_ERR_NULL_ARG;
    if (p->seed == 0)
        return AETHER_ERR_INVALID_ARG;
    h->version = AETHER_BLOB_VERSION;
    h->flags = (uint8_t)((p->f16 ? AETHER_BLOB_FLAG_F16 : 0u) |
                         (p->input_norm ? AETHER_BLOB_FLAG_INPUT_NORM : 0u));
    h->reserved = 0;
    h->input_dim = p->input_dim;
    h->n_q_heads = p->n_q_heads;
    h->n_kv_heads = p->n_kv_heads;
    h->head_dim = p->head_dim;
    h->n_layers = p->n_layers;
    h->n_classes = p->n_classes;
    h->weights_len = 0;
    st = aether_blob_check_header(h);
    if (st != AETHER_OK)
        return st;
    st = aether_blob_layout_of(h, l);
    if (st != AETHER_OK)
        return st;
    if (exceeds_u32(l->total_bytes))
        return AETHER_ERR_BLOB_LAYOUT; /* weights_len is a u32 on the wire */
    h->weights_len = (uint32_t)l->total_bytes;
    return AETHER_OK;
}

aether_status aether_blob_demo_size(const aether_blob_demo_params *p, size_t *bytes)
{
    aether_blob_header h;
    aether_blob_layout l;
    aether_status st;
    if (!bytes)
        return AETHER_ERR_NULL_ARG;
    st = demo_header(p, &h, &l);
    if (st != AETHER_OK)
        return st;
    return aether_blob_serialized_size(&h, bytes);
}

static void put(unsigned char *dst, size_t index, float v, int f16)
{
    if (f16)
        aether_store_le16(dst + index * 2, aether_f32_to_f16(v));
    else
        aether_store_lef32(dst + index * 4, v);
}

aether_status aether_blob_demo_write(const aether_blob_demo_params *p, void *out, size_t cap,
                                     size_t *written)
{
    aether_blob_header h;
    aether_blob_layout l;
    aether_status st;
    unsigned char *w;
    uint64_t state;
    size_t total, i;

    if (!out)
        return AETHER_ERR_NULL_ARG;
    st = demo_header(p, &h, &l);
    if (st != AETHER_OK)
        return st;
    st = aether_blob_serialized_size(&h, &total);
    if (st != AETHER_OK)
        return st;
    if (cap < total)
        return AETHER_ERR_BUFFER_TOO_SMALL;
    /* Generate straight into the payload slot, then let the serializer write
     * the header and CRC around it (its memmove is then a no-op copy). */
    w = (unsigned char *)out + AETHER_BLOB_HEADER_LEN;
    state = p->seed;
    for (i = 0; i < l.v1_elems; ++i)
        put(w, i, next_value(&state), p->f16);
    if (p->input_norm) {
        for (i = 0; i < h.input_dim; ++i)
            put(w, l.norm_mean + i, next_value(&state), p->f16);
        for (i = 0; i < h.input_dim; ++i)
            put(w, l.norm_inv_std + i, 1.0f + 5.0f * next_value(&state), p->f16);
    }
    return aether_blob_serialize(&h, w, out, cap, written);
}
