/*
 * aether/tensor.h - [seq, heads, dim] row-major float32 tensors.
 *
 * Element (t, h, d) lives at flat index (t*heads + h)*dim + d; a "row" is the
 * dim contiguous floats of one (t, h) pair. A tensor is either a view of
 * caller memory (owned_ == NULL) or owns a malloc'd buffer released by
 * aether_tensor_free(). seq = 0 or heads = 0 are legal (empty data).
 */
#ifndef AETHER_TENSOR_H
#define AETHER_TENSOR_H

#include "aether/export.h"
#include "aether/core.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct aether_tensor {
    float *data;
    size_t seq;
    size_t heads;
    size_t dim;
    void *owned_; /* internal: buffer to free, NULL for views */
} aether_tensor;

/* seq*heads*dim, overflow-checked. */
AETHER_API aether_status aether_tensor_numel(size_t seq, size_t heads, size_t dim, size_t *out);

/* A view of `data_len` floats; data_len must equal seq*heads*dim
 * (AETHER_ERR_SHAPE_MISMATCH otherwise, AETHER_ERR_OVERFLOW on overflow).
 * data may be NULL only when the tensor is empty. */
AETHER_API aether_status aether_tensor_view(aether_tensor *t, float *data, size_t data_len,
                                            size_t seq, size_t heads, size_t dim);

/* An owned zero-filled tensor (malloc). Free with aether_tensor_free. */
AETHER_API aether_status aether_tensor_zeros(aether_tensor *t, size_t seq, size_t heads,
                                             size_t dim);

/* Release an owned tensor's buffer (no-op for views); leaves t empty. */
AETHER_API void aether_tensor_free(aether_tensor *t);

/* Number of floats (never overflows for a successfully created tensor). */
AETHER_API size_t aether_tensor_size(const aether_tensor *t);

/* Pointer to row (s, h); no bounds check beyond an assertion-free contract. */
AETHER_API float *aether_tensor_row(const aether_tensor *t, size_t s, size_t h);

/* 1 when the three dimensions are equal. */
AETHER_API int aether_tensor_same_shape(const aether_tensor *a, const aether_tensor *b);

#ifdef __cplusplus
}
#endif
#endif /* AETHER_TENSOR_H */
