/* Prefill landmarks: block means as sum-then-divide (docs/KERNELS.md section 6). Decode
 * caches keep running sums with the same order, so both agree bit for bit. */
#include "kernels/sparse_internal.h"

void aether_landmarks_prefill_(const float *x, size_t seq, size_t heads, size_t dim,
                               size_t block_size, float *means)
{
    size_t row = heads * dim; /* floats per token */
    size_t b, start;

    if (block_size == 0)
        return;
    for (b = 0, start = 0; start < seq; ++b, start += block_size) {
        size_t end = seq - start > block_size ? start + block_size : seq;
        float *m = means + b * row;
        float count = (float)(end - start);
        size_t t, e;
        for (e = 0; e < row; ++e)
            m[e] = 0.0f;
        /* Token-major traversal keeps the per-component order ascending in t. */
        for (t = start; t < end; ++t) {
            const float *xt = x + t * row;
            for (e = 0; e < row; ++e)
                m[e] = m[e] + xt[e];
        }
        for (e = 0; e < row; ++e)
            m[e] = m[e] / count;
        if (end == seq)
            break;
    }
}
