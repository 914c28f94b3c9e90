/*
 * Fixtures shared by several test programs: reading whole files and golden
 * blobs, loading golden tensors, the demo blob, attention configs from a
 * case table and bitwise comparison. Everything is static inline so a test
 * that uses only part of it still compiles warning-free. Include after
 * check.h (the loaders count a failed load as a failed CHECK).
 */
#ifndef AETHER_TESTS_TEST_UTIL_H
#define AETHER_TESTS_TEST_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "aether/attention.h"
#include "aether/blob.h"
#include "aether/npy.h"
#include "check.h"

/* The whole file in a malloc'd buffer with a NUL byte after its *len
 * bytes (so text can be read as a string), or NULL (*len 0) when it cannot
 * be opened or read. */
static inline unsigned char *test_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    unsigned char *buf = NULL;
    long n;
    *len = 0;
    if (!f)
        return NULL;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
        buf = (unsigned char *)malloc((size_t)n + 1);
        if (buf && fread(buf, 1, (size_t)n, f) == (size_t)n) {
            buf[n] = 0;
            *len = (size_t)n;
        } else {
            free(buf);
            buf = NULL;
        }
    }
    fclose(f);
    return buf;
}

/* A shipped model of models/ by file name (a missing file is a failed CHECK). */
static inline unsigned char *test_shipped_model(const char *name, size_t *len)
{
    char path[1024];
    unsigned char *buf;
    snprintf(path, sizeof path, "%s/models/%s", AETHER_SOURCE_DIR, name);
    buf = test_read_file(path, len);
    CHECK_MSG(buf != NULL, "%s missing", path);
    return buf;
}

/* A golden blob of rvne/ by file name. */
static inline unsigned char *test_golden_blob(const char *name, size_t *len)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/rvne/%s", AETHER_GOLDEN_DIR, name);
    return test_read_file(path, len);
}

/* The golden tensor dir/file; on failure a failed CHECK and -1. */
static inline int test_load_golden(const char *dir, const char *file, aether_tensor *t)
{
    char path[512];
    snprintf(path, sizeof path, "%s/%s/%s", AETHER_GOLDEN_DIR, dir, file);
    if (aether_npy_load_tensor(path, t) != AETHER_OK) {
        CHECK_MSG(0, "cannot load %s", path);
        return -1;
    }
    return 0;
}

/* The default demo blob in a malloc'd buffer, or NULL. malloc'd memory is
 * suitably aligned: the f32 payload at offset 24 can be borrowed. */
static inline unsigned char *test_demo_blob(size_t *len)
{
    aether_blob_demo_params p = aether_blob_demo_default();
    unsigned char *b;
    size_t n = 0;
    if (aether_blob_demo_size(&p, len) != AETHER_OK)
        return NULL;
    b = (unsigned char *)malloc(*len);
    if (b && aether_blob_demo_write(&p, b, *len, &n) != AETHER_OK) {
        free(b);
        return NULL;
    }
    return b;
}

/* The demo blob of parameters p in a malloc'd buffer, or NULL; *len the
 * bytes written. */
static inline unsigned char *test_demo_blob_of(const aether_blob_demo_params *p, size_t *len)
{
    unsigned char *b;
    size_t n = 0;
    if (aether_blob_demo_size(p, &n) != AETHER_OK)
        return NULL;
    b = (unsigned char *)malloc(n);
    if (b && aether_blob_demo_write(p, b, n, len) != AETHER_OK) {
        free(b);
        return NULL;
    }
    return b;
}

/* A demo blob and its parsed view (free(bytes) when done; bytes may be
 * NULL after a failure). */
typedef struct test_demo_buf {
    unsigned char *bytes;
    size_t len;
    aether_blob_view view;
} test_demo_buf;

/* The demo blob of parameters p, written and parsed into b; 1 on success. */
static inline int test_demo_view(test_demo_buf *b, const aether_blob_demo_params *p)
{
    b->len = 0;
    b->bytes = test_demo_blob_of(p, &b->len);
    return b->bytes && aether_blob_parse(b->bytes, b->len, &b->view) == AETHER_OK;
}

/* A validated attention config from one row of a golden case table. */
static inline void test_make_config(aether_attn_config *cfg, size_t window, size_t block,
                                    const size_t *globals, size_t n_globals, int causal, int log,
                                    int lm, int sort)
{
    aether_attn_params p = aether_attn_params_default();
    p.window = window;
    p.block_size = block;
    p.globals = globals;
    p.n_globals = n_globals;
    p.causal = causal;
    p.use_log_stride = log;
    p.use_landmarks = lm;
    p.sort_candidates = sort;
    CHECK_STATUS(aether_attn_config_init(cfg, &p), AETHER_OK);
}

/* Elements of a and b whose bits differ; (size_t)-1 for different shapes. */
static inline size_t test_count_bit_diffs(const aether_tensor *a, const aether_tensor *b)
{
    size_t i, n = aether_tensor_size(a), diffs = 0;
    if (!aether_tensor_same_shape(a, b))
        return (size_t)-1;
    for (i = 0; i < n; ++i)
        if (aether_f32_bits(a->data[i]) != aether_f32_bits(b->data[i]))
            diffs++;
    return diffs;
}

/* SplitMix64: the deterministic generator of the randomised tests. */
static inline uint64_t test_splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* t filled with uniform values in [-scale, scale) from the generator s. */
static inline void test_fill(aether_tensor *t, uint64_t *s, float scale)
{
    size_t i, n = aether_tensor_size(t);
    for (i = 0; i < n; ++i)
        t->data[i] = ((float)(test_splitmix(s) >> 40) * (1.0f / 16777216.0f) * 2.0f - 1.0f) *
                     scale;
}

#endif
