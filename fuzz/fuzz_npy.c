/*
 * .npy reader: any byte string parses or gives an NPY/shape status. A parsed
 * array re-encodes, and the encoding parses back to the same dtype, shape and
 * bytes.
 */
#include <stdlib.h>
#include <string.h>

#include "aether/npy.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    aether_npy a, b;
    unsigned char *enc = NULL;
    size_t enc_len = 0, bytes, i;
    aether_status st;

    memset(&a, 0x5A, sizeof a);
    st = aether_npy_parse(data, size, &a);
    FUZZ_VALID_STATUS(st);
    if (st != AETHER_OK) {
        /* "On error *out is left zeroed (nothing to free)". */
        FUZZ_ASSERT(a.data == NULL);
        aether_npy_free(&a);
        return 0;
    }
    FUZZ_ASSERT(a.ndim <= AETHER_NPY_MAX_DIMS);
    {
        size_t prod = 1;
        for (i = 0; i < a.ndim; ++i)
            FUZZ_ASSERT(aether_size_mul(prod, a.shape[i], &prod) == AETHER_OK);
        FUZZ_ASSERT(prod == a.count);
    }
    bytes = a.count * aether_dtype_size(a.dtype);
    FUZZ_ASSERT(bytes <= size); /* the data came from the input */

    st = aether_npy_encode(a.dtype, a.ndim, a.shape, a.data, &enc, &enc_len);
    FUZZ_VALID_STATUS(st);
    if (st == AETHER_OK) {
        st = aether_npy_parse(enc, enc_len, &b);
        FUZZ_ASSERT(st == AETHER_OK);
        FUZZ_ASSERT(b.dtype == a.dtype && b.ndim == a.ndim && b.count == a.count);
        for (i = 0; i < a.ndim; ++i)
            FUZZ_ASSERT(a.shape[i] == b.shape[i]);
        if (bytes)
            FUZZ_ASSERT(memcmp(a.data, b.data, bytes) == 0);
        aether_npy_free(&b);
        free(enc);
    }
    aether_npy_free(&a);
    return 0;
}
