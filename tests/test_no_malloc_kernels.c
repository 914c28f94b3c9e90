/* Hot paths never allocate: with the caller's workspace (sized by the
 * workspace queries after aether_set_num_threads), the sparse forward and
 * the dense attention make no heap call on any kernel path and any thread
 * count; a model session step makes none either, nor does a batched step
 * of sessions or of a tracks table. A NULL workspace costs
 * exactly one allocation, at the public entry. Results are bit-identical
 * whatever the thread count and whether the workspace was the caller's.
 *
 * Linked with -Wl,--wrap=malloc,... (tests/CMakeLists.txt) and built with
 * AETHER_WRAP_MALLOC, every heap call of the static library is counted;
 * without the wrap only the results are checked. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "aether/attention.h"
#include "aether/dispatch.h"
#include "aether/model.h"
#include "aether/tracks.h"
#include "check.h"
#include "test_util.h"
#include "test_ws.h"

static int g_counting;
static long g_allocs;

#if defined(AETHER_WRAP_MALLOC)
void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t m);
void *__real_realloc(void *p, size_t n);
void __real_free(void *p);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t m);
void *__wrap_realloc(void *p, size_t n);
void __wrap_free(void *p);

void *__wrap_malloc(size_t n)
{
    if (g_counting)
        g_allocs++;
    return __real_malloc(n);
}
void *__wrap_calloc(size_t n, size_t m)
{
    if (g_counting)
        g_allocs++;
    return __real_calloc(n, m);
}
void *__wrap_realloc(void *p, size_t n)
{
    if (g_counting)
        g_allocs++;
    return __real_realloc(p, n);
}
void __wrap_free(void *p)
{
    __real_free(p);
}
#define WRAPPED 1
#else
#define WRAPPED 0
#endif

#define SEQ 300u
#define QH 4u
#define KVH 2u
#define DIM 24u

static const aether_kernel_mode k_modes[] = {AETHER_KERNELS_REFERENCE, AETHER_KERNELS_AVX2,
                                             AETHER_KERNELS_AVX512, AETHER_KERNELS_NEON};

static uint32_t g_rng = 12345u;
static float frand(void)
{
    g_rng = g_rng * 1664525u + 1013904223u;
    return (float)((g_rng >> 8) & 0xFFFF) / 32768.0f - 1.0f;
}

static void fill(aether_tensor *t)
{
    size_t i, n = aether_tensor_size(t);
    for (i = 0; i < n; ++i)
        t->data[i] = frand();
}

static void start(void)
{
    g_allocs = 0;
    g_counting = 1;
}

static long stop(void)
{
    g_counting = 0;
    return g_allocs;
}

/* One mode: forward and dense at 1 and 3 threads, caller workspace and
 * NULL, a one-thread workspace at 3 threads; all outputs equal. */
static void forward_and_dense(aether_kernel_mode mode)
{
    aether_attn_params ap = aether_attn_params_default();
    aether_attn_config cfg;
    aether_tensor q, k, v, o1, o2, d1, d2;
    size_t bytes1 = 0, bytes3 = 0, dbytes1 = 0, dbytes3 = 0;
    void *ws3 = NULL, *ws1 = NULL, *dws3 = NULL, *dws1 = NULL;
    const char *name;
    long n;
    ap.window = 16;
    ap.block_size = 8;
    CHECK_STATUS(aether_attn_config_init(&cfg, &ap), AETHER_OK);
    CHECK_STATUS(aether_tensor_zeros(&q, SEQ, QH, DIM), AETHER_OK);
    CHECK_STATUS(aether_tensor_zeros(&k, SEQ, KVH, DIM), AETHER_OK);
    CHECK_STATUS(aether_tensor_zeros(&v, SEQ, KVH, DIM), AETHER_OK);
    CHECK_STATUS(aether_tensor_zeros(&o1, SEQ, QH, DIM), AETHER_OK);
    CHECK_STATUS(aether_tensor_zeros(&o2, SEQ, QH, DIM), AETHER_OK);
    CHECK_STATUS(aether_tensor_zeros(&d1, SEQ, QH, DIM), AETHER_OK);
    CHECK_STATUS(aether_tensor_zeros(&d2, SEQ, QH, DIM), AETHER_OK);
    fill(&q);
    fill(&k);
    fill(&v);
    name = aether_kernel_name();

    CHECK_STATUS(aether_set_num_threads(1), AETHER_OK);
    CHECK_STATUS(aether_attn_forward_workspace_size(&cfg, SEQ, QH, KVH, DIM, &bytes1), AETHER_OK);
    CHECK_STATUS(aether_attn_dense_workspace_size(QH, KVH, DIM, &dbytes1), AETHER_OK);
    CHECK_STATUS(aether_set_num_threads(3), AETHER_OK);
    CHECK_STATUS(aether_attn_forward_workspace_size(&cfg, SEQ, QH, KVH, DIM, &bytes3), AETHER_OK);
    CHECK_STATUS(aether_attn_dense_workspace_size(QH, KVH, DIM, &dbytes3), AETHER_OK);
    /* Every further thread adds its own scratch block. */
    CHECK(bytes3 > bytes1 && dbytes3 == 3 * dbytes1);
    ws1 = malloc(bytes1);
    ws3 = malloc(bytes3);
    dws1 = malloc(dbytes1);
    dws3 = malloc(dbytes3);
    CHECK(ws1 && ws3 && dws1 && dws3);
    if (!ws1 || !ws3 || !dws1 || !dws3)
        goto out;

    /* Reference outputs of this mode: one thread, one-thread workspace. */
    CHECK_STATUS(aether_set_num_threads(1), AETHER_OK);
    start();
    CHECK_STATUS(aether_attn_forward_gqa(&cfg, &q, &k, &v, &o1, ws1, bytes1), AETHER_OK);
    n = stop();
    CHECK_MSG(n == 0, "%s forward, 1 thread, caller workspace: %ld heap calls", name, n);
    /* A NULL workspace is an error, never an allocation; nothing written. */
    memset(o2.data, 0, aether_tensor_size(&o2) * sizeof(float));
    memset(d2.data, 0, aether_tensor_size(&d2) * sizeof(float));
    start();
    CHECK_STATUS(aether_attn_forward_gqa(&cfg, &q, &k, &v, &o2, NULL, 0), AETHER_ERR_NULL_ARG);
    CHECK_STATUS(aether_attn_forward_gqa(&cfg, &q, &k, &v, &o2, NULL, bytes1),
                 AETHER_ERR_NULL_ARG);
    CHECK_STATUS(aether_attn_dense_ws(&q, &k, &v, 1, &d2, NULL, 0), AETHER_ERR_NULL_ARG);
    n = stop();
    CHECK_MSG(n == 0, "%s, ws NULL: %ld heap calls", name, n);
    CHECK(test_all_equal(o2.data, aether_tensor_size(&o2), 0.0f) &&
          test_all_equal(d2.data, aether_tensor_size(&d2), 0.0f));
    start();
    CHECK_STATUS(aether_attn_dense(&q, &k, &v, 1, &d1), AETHER_OK);
    n = stop();
    if (WRAPPED)
        CHECK_MSG(n == (mode == AETHER_KERNELS_REFERENCE ? 0 : 1), "%s dense: %ld heap calls",
                  name, n);

    /* Three threads on the caller's workspace: no heap call, same bits. */
    CHECK_STATUS(aether_set_num_threads(3), AETHER_OK);
    memset(o2.data, 0, aether_tensor_size(&o2) * sizeof(float));
    start();
    CHECK_STATUS(aether_attn_forward_gqa(&cfg, &q, &k, &v, &o2, ws3, bytes3), AETHER_OK);
    n = stop();
    CHECK_MSG(n == 0, "%s forward, 3 threads, caller workspace: %ld heap calls", name, n);
    CHECK(memcmp(o1.data, o2.data, aether_tensor_size(&o1) * sizeof(float)) == 0);
    start();
    CHECK_STATUS(aether_attn_dense_ws(&q, &k, &v, 1, &d2, dws3, dbytes3), AETHER_OK);
    n = stop();
    CHECK_MSG(n == 0, "%s dense, 3 threads, caller workspace: %ld heap calls", name, n);
    CHECK(memcmp(d1.data, d2.data, aether_tensor_size(&d1) * sizeof(float)) == 0);

    /* A one-thread workspace at three threads: fewer workers, no heap. */
    memset(o2.data, 0, aether_tensor_size(&o2) * sizeof(float));
    memset(d2.data, 0, aether_tensor_size(&d2) * sizeof(float));
    start();
    CHECK_STATUS(aether_attn_forward_gqa(&cfg, &q, &k, &v, &o2, ws1, bytes1), AETHER_OK);
    CHECK_STATUS(aether_attn_dense_ws(&q, &k, &v, 1, &d2, dws1, dbytes1), AETHER_OK);
    n = stop();
    CHECK_MSG(n == 0, "%s, one-thread workspaces at 3 threads: %ld heap calls", name, n);
    CHECK(memcmp(o1.data, o2.data, aether_tensor_size(&o1) * sizeof(float)) == 0);
    CHECK(memcmp(d1.data, d2.data, aether_tensor_size(&d1) * sizeof(float)) == 0);

    /* Below one thread's share: a clear error, nothing written (the scalar
     * reference forward needs its layout alone, no driver scratch). */
    if (mode != AETHER_KERNELS_REFERENCE)
        CHECK_STATUS(aether_attn_forward_gqa(&cfg, &q, &k, &v, &o2, ws1, bytes1 - 1),
                     AETHER_ERR_BUFFER_TOO_SMALL);
    CHECK_STATUS(aether_attn_dense_ws(&q, &k, &v, 1, &d2, dws1, dbytes1 - 1),
                 AETHER_ERR_BUFFER_TOO_SMALL);
    printf("%s: forward and dense with caller workspaces, 1 and 3 threads: no heap call\n", name);
out:
    CHECK_STATUS(aether_set_num_threads(1), AETHER_OK);
    free(ws1);
    free(ws3);
    free(dws1);
    free(dws3);
    aether_tensor_free(&q);
    aether_tensor_free(&k);
    aether_tensor_free(&v);
    aether_tensor_free(&o1);
    aether_tensor_free(&o2);
    aether_tensor_free(&d1);
    aether_tensor_free(&d2);
}

static void test_forward_dense(void)
{
    size_t i;
    for (i = 0; i < sizeof k_modes / sizeof k_modes[0]; ++i)
        if (aether_set_kernel_mode(k_modes[i]) == AETHER_OK)
            forward_and_dense(k_modes[i]);
    CHECK_STATUS(aether_set_kernel_mode(AETHER_KERNELS_AUTO), AETHER_OK);
}

/* A model session's steps (one path through the head in every mode): no
 * heap call after init. */
static void test_session_steps(void)
{
    size_t len = 0, i, f;
    unsigned char *blob = test_demo_blob(&len);
    aether_blob_view bv;
    aether_model *m = NULL;
    float frame[64], logits[64];
    CHECK(blob != NULL);
    if (!blob)
        return;
    CHECK_STATUS(aether_blob_parse(blob, len, &bv), AETHER_OK);
    CHECK_STATUS(aether_model_create(&bv, NULL, AETHER_MODEL_COPY, &m), AETHER_OK);
    /* every kernel mode with every cache storage */
    for (i = 0; i < 4 * (sizeof k_modes / sizeof k_modes[0]) && m; ++i) {
        aether_session_params sp = aether_model_session_params_default();
        aether_model_session *s = NULL;
        aether_model_info info;
        long n;
        if (aether_set_kernel_mode(k_modes[i / 4]) != AETHER_OK)
            continue;
        sp.storage = (aether_kv_storage)(i % 4);
        sp.capacity = 64; /* SLIDING: evicts during the run */
        CHECK_STATUS(aether_model_get_info(m, &info), AETHER_OK);
        CHECK(info.input_dim <= 64 && info.n_classes <= 64);
        CHECK_STATUS(aether_model_session_create(m, &sp, &s), AETHER_OK);
        if (!s || info.input_dim > 64 || info.n_classes > 64)
            continue;
        start();
        for (f = 0; f < 200; ++f) {
            size_t j;
            for (j = 0; j < info.input_dim; ++j)
                frame[j] = frand();
            CHECK_STATUS(aether_model_session_step(s, frame, logits, NULL), AETHER_OK);
        }
        n = stop();
        CHECK_MSG(n == 0, "%s session, storage %d: %ld heap calls in 200 steps",
                  aether_kernel_name(), (int)sp.storage, n);
        aether_model_session_destroy(s);
    }
    CHECK_STATUS(aether_set_kernel_mode(AETHER_KERNELS_AUTO), AETHER_OK);
    aether_model_destroy(m);
    free(blob);
}

/* The batched step of 8 sessions and a tracks table's batch entry: no
 * heap call after init, in every mode. */
static void test_batch_steps(void)
{
    size_t len = 0, i, f, k, ws_len = 0;
    unsigned char *blob = test_demo_blob(&len);
    aether_blob_view bv;
    aether_model *m = NULL;
    aether_model_info info;
    float frames[8 * 64], logits[8 * 64], pooled[8 * 64];
    aether_status st[8];
    CHECK(blob != NULL);
    if (!blob)
        return;
    CHECK_STATUS(aether_blob_parse(blob, len, &bv), AETHER_OK);
    CHECK_STATUS(aether_model_create(&bv, NULL, AETHER_MODEL_COPY, &m), AETHER_OK);
    CHECK_STATUS(aether_model_get_info(m, &info), AETHER_OK);
    CHECK(info.input_dim <= 64 && info.n_classes <= 64);
    CHECK_STATUS(aether_model_step_batch_workspace_size(m, 8, &ws_len), AETHER_OK);
    for (i = 0; i < sizeof k_modes / sizeof k_modes[0] && m && info.input_dim <= 64; ++i) {
        aether_session_params sp = aether_model_session_params_default();
        aether_tracks_params tp = aether_tracks_params_default();
        aether_model_session *s[8] = {NULL};
        aether_tracks *t = NULL;
        uint64_t ids[8];
        double ts[8];
        void *ws = malloc(ws_len);
        long n;
        int ok = ws != NULL;
        if (aether_set_kernel_mode(k_modes[i]) != AETHER_OK) {
            free(ws);
            continue;
        }
        sp.capacity = 32; /* SLIDING: evicts during the run */
        tp.session = sp;
        tp.max_tracks = 6; /* 8 ids: creations and LRU evictions too */
        for (k = 0; k < 8; ++k)
            ok &= aether_model_session_create(m, &sp, &s[k]) == AETHER_OK;
        ok &= aether_tracks_create(m, &tp, &t) == AETHER_OK;
        CHECK(ok);
        if (!ok)
            break;
        start();
        for (f = 0; f < 100; ++f) {
            for (k = 0; k < 8 * info.input_dim; ++k)
                frames[k] = frand();
            for (k = 0; k < 8; ++k) {
                ids[k] = (f * 3 + k * 5) % 8;
                ts[k] = 0.01 * (double)f;
            }
            CHECK_STATUS(aether_model_step_batch(m, s, 8, frames, logits, pooled, st, ws,
                                                 ws_len),
                         AETHER_OK);
            CHECK(st[0] == AETHER_OK && st[7] == AETHER_OK);
            CHECK_STATUS(aether_tracks_step_batch(t, ids, ts, frames, 8, logits, pooled, st,
                                                  NULL),
                         AETHER_OK);
        }
        n = stop();
        CHECK_MSG(n == 0, "%s batch: %ld heap calls in 100 batches", aether_kernel_name(), n);
        for (k = 0; k < 8; ++k)
            aether_model_session_destroy(s[k]);
        aether_tracks_destroy(t);
        free(ws);
    }
    CHECK_STATUS(aether_set_kernel_mode(AETHER_KERNELS_AUTO), AETHER_OK);
    aether_model_destroy(m);
    free(blob);
}

TEST_MAIN(test_forward_dense, test_session_steps, test_batch_steps)
