/* The training network: weights in RVNE payload order, blob round trip and
 * seeded initialisation. */
#include "train/train_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static aether_status make_header(const aether_train_shape *s, aether_blob_header *h)
{
    const size_t dims[6] = {s->input_dim, s->n_q_heads, s->n_kv_heads,
                            s->head_dim,  s->n_layers,  s->n_classes};
    size_t i;
    for (i = 0; i < 6; ++i)
        if (dims[i] > 0xFFFFu)
            return AETHER_ERR_INVALID_ARG;
    memset(h, 0, sizeof *h);
    h->version = AETHER_BLOB_VERSION;
    h->flags = s->input_norm ? AETHER_BLOB_FLAG_INPUT_NORM : 0;
    h->input_dim = (uint16_t)s->input_dim;
    h->n_q_heads = (uint16_t)s->n_q_heads;
    h->n_kv_heads = (uint16_t)s->n_kv_heads;
    h->head_dim = (uint16_t)s->head_dim;
    h->n_layers = (uint16_t)s->n_layers;
    h->n_classes = (uint16_t)s->n_classes;
    return aether_blob_check_header(h);
}

/* Shared by create and from_blob: header -> layout, head, zeroed weights. */
static aether_status build(const aether_blob_header *h, const aether_head_config *head,
                           aether_train_net **out)
{
    aether_head_config c;
    aether_train_net *n;
    aether_blob_layout lay;
    aether_status st;
    size_t bytes, i;

    st = aether_blob_layout_of(h, &lay);
    if (st != AETHER_OK)
        return st;
    if (lay.total_elems > 0xFFFFFFFFu / 4u)
        return AETHER_ERR_OVERFLOW;
    if (head) {
        c = *head;
    } else {
        c = aether_head_config_default_aether();
        c.q_heads = h->n_q_heads;
        c.kv_heads = h->n_kv_heads;
        c.head_dim = h->head_dim;
    }
    st = aether_head_config_validate(&c, NULL);
    if (st != AETHER_OK)
        return st;
    if (c.q_heads != h->n_q_heads || c.kv_heads != h->n_kv_heads || c.head_dim != h->head_dim)
        return AETHER_ERR_BLOB_SHAPE;
    if (aether_size_mul(lay.total_elems, sizeof(float), &bytes) != AETHER_OK)
        return AETHER_ERR_OVERFLOW;
    n = (aether_train_net *)calloc(1, sizeof *n);
    if (!n)
        return AETHER_ERR_NO_MEM;
    n->w = (float *)calloc(lay.total_elems ? lay.total_elems : 1, sizeof(float));
    if (!n->w) {
        free(n);
        return AETHER_ERR_NO_MEM;
    }
    st = aether_head_init(&n->head, &c);
    if (st != AETHER_OK) {
        free(n->w);
        free(n);
        return st;
    }
    n->header = *h;
    n->header.weights_len = (uint32_t)(lay.total_elems * 4u);
    n->layout = lay;
    if (h->flags & AETHER_BLOB_FLAG_INPUT_NORM)
        for (i = 0; i < h->input_dim; ++i)
            n->w[lay.norm_inv_std + i] = 1.0f;
    *out = n;
    return AETHER_OK;
}

aether_status aether_train_net_create(const aether_train_shape *shape,
                                      const aether_head_config *head, aether_train_net **out)
{
    aether_blob_header h;
    aether_status st;
    if (!shape || !out)
        return AETHER_ERR_NULL_ARG;
    st = make_header(shape, &h);
    if (st != AETHER_OK)
        return st;
    return build(&h, head, out);
}

aether_status aether_train_net_from_blob(const aether_blob_view *blob,
                                         const aether_head_config *head, aether_train_net **out)
{
    aether_blob_layout lay;
    aether_blob_header h;
    aether_train_net *n = NULL;
    aether_status st;
    if (!blob || !out)
        return AETHER_ERR_NULL_ARG;
    st = aether_blob_validate_model(blob, &lay);
    if (st != AETHER_OK)
        return st;
    h = blob->header;
    h.flags = (uint8_t)(h.flags & AETHER_BLOB_FLAG_INPUT_NORM); /* weights are kept as f32 */
    st = build(&h, head, &n);
    if (st != AETHER_OK)
        return st;
    st = aether_blob_read_f32(blob, 0, lay.total_elems, n->w);
    if (st != AETHER_OK) {
        aether_train_net_destroy(n);
        return st;
    }
    *out = n;
    return AETHER_OK;
}

void aether_train_net_destroy(aether_train_net *net)
{
    if (!net)
        return;
    free(net->w);
    free(net);
}

static void fill_uniform(aether_train_rng *r, float *w, size_t n, double var)
{
    /* uniform on [-a, a] has variance a^2 / 3 */
    double a = sqrt(3.0 * var);
    size_t i;
    for (i = 0; i < n; ++i)
        w[i] = (float)((2.0 * aether_train_rng_unit_(r) - 1.0) * a);
}

aether_status aether_train_net_randomize(aether_train_net *net, uint64_t seed)
{
    aether_train_rng r;
    const aether_blob_layout *L;
    size_t I, l;
    if (!net)
        return AETHER_ERR_NULL_ARG;
    if (seed == 0)
        return AETHER_ERR_INVALID_ARG;
    aether_train_rng_seed_(&r, seed);
    L = &net->layout;
    I = net->header.input_dim;
    for (l = 0; l < net->header.n_layers; ++l) {
        float *base = net->w + l * L->layer_elems;
        fill_uniform(&r, base + L->wq, I * L->q_width, 1.0 / (double)I);
        fill_uniform(&r, base + L->wk, I * L->kv_width, 1.0 / (double)I);
        fill_uniform(&r, base + L->wv, I * L->kv_width, 1.0 / (double)I);
        fill_uniform(&r, base + L->wo, L->q_width * I, 0.25 / (double)L->q_width);
    }
    fill_uniform(&r, net->w + L->classifier, I * net->header.n_classes, 0.25 / (double)I);
    return AETHER_OK;
}

const aether_blob_header *aether_train_net_header(const aether_train_net *net)
{
    return net ? &net->header : NULL;
}

const aether_blob_layout *aether_train_net_layout(const aether_train_net *net)
{
    return net ? &net->layout : NULL;
}

const aether_head *aether_train_net_head(const aether_train_net *net)
{
    return net ? &net->head : NULL;
}

float *aether_train_net_params(aether_train_net *net)
{
    return net ? net->w : NULL;
}

const float *aether_train_net_params_const(const aether_train_net *net)
{
    return net ? net->w : NULL;
}

aether_status aether_train_net_set_norm(aether_train_net *net, const float *mean,
                                        const float *inv_std)
{
    size_t i, n;
    if (!net || !mean || !inv_std)
        return AETHER_ERR_NULL_ARG;
    if (!(net->header.flags & AETHER_BLOB_FLAG_INPUT_NORM))
        return AETHER_ERR_INVALID_ARG;
    n = net->header.input_dim;
    for (i = 0; i < n; ++i)
        if (!aether_isfinite(mean[i]) || !aether_isfinite(inv_std[i]))
            return AETHER_ERR_NONFINITE;
    for (i = 0; i < n; ++i) {
        net->w[net->layout.norm_mean + i] = mean[i];
        net->w[net->layout.norm_inv_std + i] = inv_std[i];
    }
    return AETHER_OK;
}

aether_status aether_train_net_blob_size(const aether_train_net *net, size_t *bytes)
{
    if (!net || !bytes)
        return AETHER_ERR_NULL_ARG;
    return aether_blob_serialized_size(&net->header, bytes);
}

aether_status aether_train_net_serialize(const aether_train_net *net, void *out, size_t cap,
                                         size_t *written)
{
    size_t need, i, n;
    unsigned char *payload;
    aether_status st;
    if (!net || !out)
        return AETHER_ERR_NULL_ARG;
    st = aether_blob_serialized_size(&net->header, &need);
    if (st != AETHER_OK)
        return st;
    if (cap < need)
        return AETHER_ERR_BUFFER_TOO_SMALL;
    n = net->layout.total_elems;
    /* the payload is little-endian whatever the host */
    payload = (unsigned char *)malloc(n ? n * 4u : 1u);
    if (!payload)
        return AETHER_ERR_NO_MEM;
    for (i = 0; i < n; ++i) {
        uint32_t u;
        memcpy(&u, &net->w[i], 4);
        aether_store_le32(payload + 4u * i, u);
    }
    st = aether_blob_serialize(&net->header, payload, out, cap, written);
    free(payload);
    return st;
}
