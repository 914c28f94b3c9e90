/*
 * aether/npy.h - NumPy .npy reader/writer.
 *
 * Reads format versions 1.0, 2.0 (and 3.0 headers, which only differ in
 * encoding), C order, little-endian or byte-order-free dtypes:
 * <f4 <f2 <i4 <u2 |u1 |i1 (also "<u1"/"<i1"/"|b1" spellings where harmless).
 * Anything else - Fortran order, big-endian data, a malformed header, a size
 * mismatch, truncated data - is a distinct error status, never a crash.
 * Loaded data is converted to host byte order.
 */
#ifndef AETHER_NPY_H
#define AETHER_NPY_H

#include "aether/export.h"
#include "aether/core.h"
#include "aether/tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum aether_dtype {
    AETHER_DTYPE_F32 = 0, /* <f4 */
    AETHER_DTYPE_F16 = 1, /* <f2 (raw binary16 bits as uint16_t) */
    AETHER_DTYPE_I32 = 2, /* <i4 */
    AETHER_DTYPE_U16 = 3, /* <u2 */
    AETHER_DTYPE_U8 = 4,  /* |u1 */
    AETHER_DTYPE_I8 = 5   /* |i1 */
} aether_dtype;

#define AETHER_NPY_MAX_DIMS 8

typedef struct aether_npy {
    aether_dtype dtype;
    size_t ndim;
    size_t shape[AETHER_NPY_MAX_DIMS];
    size_t count; /* product of shape (1 for a 0-d array) */
    void *data;   /* count elements in host byte order (malloc'd) */
} aether_npy;

/* Element size in bytes (0 for an unknown dtype). */
AETHER_API size_t aether_dtype_size(aether_dtype dtype);
/* NumPy descr string, e.g. "<f4". */
AETHER_API const char *aether_dtype_descr(aether_dtype dtype);

/* Parse a complete .npy image in memory; out->data is a fresh malloc'd copy.
 * On error *out is left zeroed (nothing to free). */
AETHER_API aether_status aether_npy_parse(const void *buf, size_t len, aether_npy *out);
/* Read a file and parse it. AETHER_ERR_IO if the file cannot be read. */
AETHER_API aether_status aether_npy_load(const char *path, aether_npy *out);
AETHER_API void aether_npy_free(aether_npy *a);

/* Serialise to a malloc'd buffer (format 1.0, or 2.0 when the header needs
 * it); *out_len receives its length. */
AETHER_API aether_status aether_npy_encode(aether_dtype dtype, size_t ndim, const size_t *shape,
                                           const void *data, unsigned char **out,
                                           size_t *out_len);
AETHER_API aether_status aether_npy_save(const char *path, aether_dtype dtype, size_t ndim,
                                         const size_t *shape, const void *data);

/* Convenience: load a 3-D <f4 array as an owned [seq, heads, dim] tensor
 * (AETHER_ERR_SHAPE_MISMATCH if not 3-D f32). */
AETHER_API aether_status aether_npy_load_tensor(const char *path, aether_tensor *out);
AETHER_API aether_status aether_npy_save_tensor(const char *path, const aether_tensor *t);

#ifdef __cplusplus
}
#endif
#endif /* AETHER_NPY_H */
