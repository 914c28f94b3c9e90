/* [seq, heads, dim] tensors: views over caller memory and owned buffers. */
#include "aether/tensor.h"

#include <stdlib.h>

#include "core/bigmem.h"

aether_status aether_tensor_numel(size_t seq, size_t heads, size_t dim, size_t *out)
{
    return aether_size_mul3(seq, heads, dim, out);
}

aether_status aether_tensor_view(aether_tensor *t, float *data, size_t data_len, size_t seq,
                                 size_t heads, size_t dim)
{
    size_t n;
    if (!t)
        return AETHER_ERR_NULL_ARG;
    if (aether_tensor_numel(seq, heads, dim, &n) != AETHER_OK)
        return AETHER_ERR_OVERFLOW;
    if (n != data_len)
        return AETHER_ERR_SHAPE_MISMATCH;
    if (!data && n)
        return AETHER_ERR_NULL_ARG;
    t->data = data;
    t->seq = seq;
    t->heads = heads;
    t->dim = dim;
    t->owned_ = NULL;
    return AETHER_OK;
}

aether_status aether_tensor_zeros(aether_tensor *t, size_t seq, size_t heads, size_t dim)
{
    size_t n, bytes;
    float *p;
    void *base = NULL;
    if (!t)
        return AETHER_ERR_NULL_ARG;
    if (aether_tensor_numel(seq, heads, dim, &n) != AETHER_OK ||
        aether_size_mul(n, sizeof(float), &bytes) != AETHER_OK)
        return AETHER_ERR_OVERFLOW;
    p = (float *)aether_big_alloc_(bytes, 1, &base);
    if (!p)
        return AETHER_ERR_NO_MEM;
    t->data = p;
    t->seq = seq;
    t->heads = heads;
    t->dim = dim;
    t->owned_ = base;
    return AETHER_OK;
}

void aether_tensor_free(aether_tensor *t)
{
    if (!t)
        return;
    free(t->owned_);
    t->data = NULL;
    t->owned_ = NULL;
    t->seq = t->heads = t->dim = 0;
}

size_t aether_tensor_size(const aether_tensor *t)
{
    return t->seq * t->heads * t->dim;
}

float *aether_tensor_row(const aether_tensor *t, size_t s, size_t h)
{
    return t->data + (s * t->heads + h) * t->dim;
}

int aether_tensor_same_shape(const aether_tensor *a, const aether_tensor *b)
{
    return a->seq == b->seq && a->heads == b->heads && a->dim == b->dim;
}
